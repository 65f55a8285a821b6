import { GraphBuilder } from '../engine/graph/builder';
import { DataType } from '../engine/graph/onnx';
import { createRunner } from '../engine/runtimes';
const Q = 4096, K = 4096, I = 32;
async function time(name: string, build: (g: GraphBuilder, x: string) => string, dims: number[]) {
  const g = new GraphBuilder('t');
  const x = g.input({ name: 'input', elemType: DataType.FLOAT, shape: dims });
  g.output(build(g, x), 'y', 'tap');
  const r = await createRunner(g.build(), [], { runtime: 'ort', threads: 2 });
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i));
  let best = Infinity; let out: Float32Array | null = null;
  for (let i = 0; i < 3; i++) { const t = performance.now(); out = (await r.run({ input: { data, dims }, bypass: new Set(), fetch: ['y'] })).get('y')!.data; best = Math.min(best, performance.now() - t); }
  await r.dispose();
  console.log(name.padEnd(40), best.toFixed(1), 'ms', out![0], out![out!.length - 1]);
}
await time('ReduceMean axis1', (g, x) => g.node('ReduceMean', [x], 'rm', { axes: [1], keepdims: 0 }), [1, Q, K]);
await time('ReduceSum axis1 (input axes)', (g, x) => g.node('Div', [g.node('ReduceSum', [x, g.ints([1])], 'rs', { keepdims: 0 }), g.scalar(Q)], 'd'), [1, Q, K]);
await time('MatMul ones/Q', (g, x) => {
  const shape = g.node('Shape', [x], 's');
  const q = g.node('Gather', [shape, g.ints([1])], 'gq', { axis: 0 });
  const onesShape = g.node('Concat', [g.ints([1, 1]), q], 'c', { axis: 0 });
  const ones = g.node('ConstantOfShape', [onesShape], 'cos', {});
  const sum = g.node('MatMul', [ones, x], 'mm');
  return g.node('Div', [sum, g.node('Cast', [q], 'cq', { to: 1 })], 'd');
}, [1, Q, K]);
await time('Transpose+ReduceMean last', (g, x) => g.node('ReduceMean', [g.node('Transpose', [x], 't', { perm: [0, 2, 1] })], 'rm', { axes: [2], keepdims: 0 }), [1, Q, K]);
// theta rows [1,Q,I] @ phi [1,I,K]
await time('MatMul theta(T) x phi', (g, x) => {
  const th = g.node('Transpose', [x], 't', { perm: [0, 2, 1] });
  return g.node('ReduceMax', [g.node('MatMul', [th, g.floats('phi', new Float32Array(I * K).map((_, i) => Math.cos(i)), [1, I, K])], 'mm')], 'r', { axes: [1, 2], keepdims: 0 });
}, [1, I, Q]);
await time('MatMul theta x phi (rows given)', (g, x) => g.node('ReduceMax', [g.node('MatMul', [x, g.floats('phi', new Float32Array(I * K).map((_, i) => Math.cos(i)), [1, I, K])], 'mm')], 'r', { axes: [1, 2], keepdims: 0 }), [1, Q, I]);
await time('Softmax last', (g, x) => g.node('ReduceMax', [g.node('Softmax', [x], 'sm', { axis: -1 })], 'r', { axes: [1, 2], keepdims: 0 }), [1, Q, K]);
