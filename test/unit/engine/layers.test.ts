// The layers under every module: PyTorch NCHW conv semantics (symmetric padding, stride,
// dilation, folded BatchNorm) and Linear computed by hand, against the emitted graph nodes
// run on both runtimes.
import { describe, expect, test } from 'vitest';
import type { TensorRecord } from '../../../engine/checkpoints/types';
import { GraphBuilder } from '../../../engine/graph/builder';
import { DataType } from '../../../engine/graph/onnx';
import { BN_EPS, conv, linear, WeightReader } from '../../../engine/modules/layers';
import { createRunner } from '../../../engine/runtimes';
import type { RuntimeName } from '../../../engine/runtimes/types';

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}
const rec = (shape: number[], data: Float32Array): TensorRecord => ({ shape, dtype: 'float32', data });

/** PyTorch Conv2d + BatchNorm2d (eval) on NCHW data, in float64. */
function torchConvBn(x: Float32Array, [c, h, w]: number[], wt: Float32Array, [o, , k]: number[], stride: number, pad: number, dil: number,
  bn: { g: Float32Array; b: Float32Array; m: Float32Array; v: Float32Array }): { out: number[]; oh: number; ow: number } {
  const oh = Math.floor((h! + 2 * pad - dil * (k! - 1) - 1) / stride) + 1;
  const ow = Math.floor((w! + 2 * pad - dil * (k! - 1) - 1) / stride) + 1;
  const out: number[] = [];
  for (let oc = 0; oc < o!; oc++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        let acc = 0;
        for (let ic = 0; ic < c!; ic++) {
          for (let ky = 0; ky < k!; ky++) {
            for (let kx = 0; kx < k!; kx++) {
              const iy = y * stride - pad + ky * dil;
              const ix = xx * stride - pad + kx * dil;
              if (iy < 0 || ix < 0 || iy >= h! || ix >= w!) continue;
              acc += x[(ic * h! + iy) * w! + ix]! * wt[((oc * c! + ic) * k! + ky) * k! + kx]!;
            }
          }
        }
        out.push((acc - bn.m[oc]!) / Math.sqrt(bn.v[oc]! + BN_EPS) * bn.g[oc]! + bn.b[oc]!);
      }
    }
  }
  return { out, oh, ow };
}

const RUNTIMES: RuntimeName[] = ['ort', 'tfjs'];

/** Builds a one-layer graph with `emit` and runs it on `runtime`. */
async function runLayer(runtime: RuntimeName, dims: number[], data: Float32Array,
  emit: (g: GraphBuilder, x: string) => string): Promise<{ data: Float32Array; dims: number[] }> {
  const g = new GraphBuilder('layer');
  const x = g.input({ name: 'input', elemType: DataType.FLOAT, shape: dims });
  g.output(emit(g, x), 'y');
  const runner = await createRunner(g.build(), [], { runtime });
  try {
    return (await runner.run({ input: { data, dims }, bypass: new Set(), fetch: ['y'] })).get('y')!;
  } finally {
    await runner.dispose();
  }
}

describe.each(RUNTIMES)('conv on %s', (runtime) => {
  test.each([
    [3, 2, 1, 1], [3, 1, 1, 1], [7, 2, 3, 1], [3, 1, 4, 4], [1, 2, 0, 1],
  ])('k=%i stride=%i pad=%i dilation=%i matches PyTorch conv+BN', async (k, stride, pad, dil) => {
    const [c, h, w, o] = [3, 11, 9, 4];
    const x = rand(c * h * w, 1);
    const wt = rand(o * c * k * k, 2);
    const bn = { g: rand(o, 3).map((v) => v + 1), b: rand(o, 4), m: rand(o, 5), v: rand(o, 6).map((v) => v + 1) };
    const dict = new Map<string, TensorRecord>([
      ['conv.weight', rec([o, c, k, k], wt)],
      ['bn.weight', rec([o], bn.g)], ['bn.bias', rec([o], bn.b)], ['bn.running_mean', rec([o], bn.m)], ['bn.running_var', rec([o], bn.v)],
    ]);
    const ref = torchConvBn(x, [c, h, w], wt, [o, c, k], stride, pad, dil, bn);
    const y = await runLayer(runtime, [1, c, h, w], x, (g, input) =>
      conv({ g, w: new WeightReader(dict), scope: '' }, 'conv', input, { stride, pad, dilation: dil, bn: 'bn' }).y);
    expect(y.dims).toEqual([1, o, ref.oh, ref.ow]);
    let worst = 0;
    for (let i = 0; i < ref.out.length; i++) worst = Math.max(worst, Math.abs(y.data[i]! - ref.out[i]!));
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('weights', () => {
  test('a checkpoint shape that does not fit names the key', () => {
    const dict = new Map([['conv.weight', rec([4, 3, 3, 3], new Float32Array(108))]]);
    const e = { g: new GraphBuilder('t'), w: new WeightReader(dict), scope: '' };
    expect(() => conv(e, 'conv', 'x', { shape: [8, 3, 3, 3] })).toThrow(/"conv.weight" has shape \[4, 3, 3, 3\], expected \[8, 3, 3, 3\]/);
    expect(() => conv(e, 'other', 'x')).toThrow(/no "other.weight"/);
  });
});

describe.each(RUNTIMES)('linear on %s', (runtime) => {
  test('[out, in] weights and 1x1 conv weights act as PyTorch Linear', async () => {
    const w = rand(6, 7);
    const b = rand(2, 8);
    const x = rand(3, 9);
    for (const [shape, pointwise] of [[[2, 3], false], [[2, 3, 1, 1], true]] as const) {
      const dict = new Map([['fc.weight', rec([...shape], w)], ['fc.bias', rec([2], b)]]);
      const y = await runLayer(runtime, [1, 3], x, (g, input) => linear({ g, w: new WeightReader(dict), scope: '' }, 'fc', input, { bias: true, pointwise }).y);
      for (let o = 0; o < 2; o++) expect(y.data[o]).toBeCloseTo(w[o * 3]! * x[0]! + w[o * 3 + 1]! * x[1]! + w[o * 3 + 2]! * x[2]! + b[o]!, 6);
    }
  });
});
