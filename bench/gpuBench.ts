// GPU check and bench (issue 13), for a machine with a GPU: bench/gpu.sh bundles this with
// the engine (onnxruntime-node stays external) and runs it there.
//   1. Every PyTorch fixture (test/fixtures) on ort --device gpu (WebGPU execution provider):
//      the worst max abs error against PyTorch per case, the row-block path of the
//      non-local cases included.
//   2. Forward pass + every tap read back, ort on the CPU (all cores) and on the GPU, same
//      process: CBAM ResNet-50 (seeded random weights in the official checkpoint's layout,
//      test/fixtures/keysets) at 224 and 896 px, and the built-in model at 1024 px (non-local
//      affinity of 1 GB, in row blocks). Median of 20 passes after 3 warm-up passes.
//
//   node gpu-bench.mjs [--root REPO] [--out results.json] [--cases a,b] [--no-speed]

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { openCheckpointFile } from '../engine/checkpoints';
import type { StateDict } from '../engine/checkpoints/types';
import { affinityOutput, LOGITS, tapOutput } from '../engine/graph/names';
import { encodeModel } from '../engine/graph/builder';
import { readManifest } from '../engine/models';
import { emitResNet, type GraphOptions } from '../engine/nets/resnet';
import type { NetSpec } from '../engine/nets/spec';
import { createOrtRunner, type DeviceChoice } from '../engine/runtimes/ort';
import type { GraphRunner } from '../engine/runtimes/types';

const arg = (name: string, d: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : d;
};
const ROOT = arg('root', process.cwd());
const FIXTURES = join(ROOT, 'test', 'fixtures');

function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__' || v.dtype !== 'F32') continue;
    const bytes = new Uint8Array(buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]));
    out.set(k, { shape: v.shape, data: new Float32Array(bytes.buffer) });
  }
  return out;
}

const maxAbs = (a: Float32Array, b: Float32Array): number => {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

async function runner(model: ReturnType<typeof emitResNet>, device: DeviceChoice): Promise<GraphRunner> {
  return createOrtRunner(encodeModel(model.model), model.modules.map((m) => m.name), { device, threads: availableParallelism() });
}

async function fixtures(): Promise<Array<{ case: string; path: string; worst: number }>> {
  const only = arg('cases', '');
  const cases = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'case.json')) && (!only || only.split(',').includes(d))).sort();
  const rows: Array<{ case: string; path: string; worst: number }> = [];
  for (const name of cases) {
    const fc = JSON.parse(readFileSync(join(FIXTURES, name, 'case.json'), 'utf8')) as { spec: NetSpec; bypass: string[]; affinityModule: string | null };
    const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
    const weights = (await openCheckpointFile(join(FIXTURES, name, 'model.safetensors'))).tensors;
    for (const path of fc.affinityModule ? ['whole', 'row blocks'] : ['whole']) {
      const opts: GraphOptions = path === 'row blocks' ? { keepAffinityBytes: 0, chunkBytes: 4096 } : {};
      const graph = emitResNet(fc.spec, weights, name, opts);
      const r = await runner(graph, 'gpu');
      const input = expected.get('input')!;
      const fetch = [LOGITS, ...graph.modules.flatMap((m) => [...m.taps.map((t) => tapOutput(m.name, t)), ...(m.affinity && path === 'whole' ? [affinityOutput(m.name)] : [])])];
      const out = await r.run({ input: { data: input.data, dims: input.shape }, bypass: new Set(fc.bypass), fetch });
      let worst = 0;
      for (const k of fetch) { const e = expected.get(k); if (e) worst = Math.max(worst, maxAbs(out.get(k)!.data, e.data)); }
      await r.dispose();
      rows.push({ case: name, path, worst });
      console.log(`fixture ${name} (${path}): worst ${worst.toExponential(2)} on ${r.info.backend}`);
    }
  }
  return rows;
}

/** Seeded random weights for a key -> shape list (He-scaled convs, BN near identity). */
function randomWeights(keys: Record<string, number[]>): StateDict {
  let s = 12345;
  const rand = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  const normal = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const dict: StateDict = new Map();
  for (const [k, shape] of Object.entries(keys)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1) || 1;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      data[i] = k.endsWith('running_var') ? 1 + rand() : k.endsWith('num_batches_tracked') ? 1
        : k.endsWith('bn1.weight') || /bn\d\.weight$/.test(k) ? 0.5 + rand() * 0.5
          : shape.length === 1 ? normal() * 0.05 : normal() * Math.sqrt(2 / fanIn);
    }
    dict.set(k, { shape, dtype: 'float32', data });
  }
  return dict;
}

async function time(r: GraphRunner, fetch: string[], size: number): Promise<number> {
  const input = new Float32Array(3 * size * size).map((_, i) => Math.sin(i * 0.01));
  const req = { input: { data: input, dims: [1, 3, size, size] }, bypass: new Set<string>(), fetch };
  for (let i = 0; i < 3; i++) await r.run(req);
  const t: number[] = [];
  for (let i = 0; i < 20; i++) { const t0 = performance.now(); await r.run(req); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  return t[10] as number;
}

async function speed(): Promise<Array<Record<string, unknown>>> {
  const keyset = JSON.parse(readFileSync(join(FIXTURES, 'keysets', 'cbam-resnet50-official.json'), 'utf8')) as { spec: NetSpec; keys: Record<string, number[]> };
  const r50 = emitResNet(keyset.spec, randomWeights(keyset.keys), 'cbam-resnet50');
  const dir = join(ROOT, 'assets', 'models', 'emoji-cbam-nl');
  const manifest = readManifest(dir);
  const builtin = emitResNet(manifest.spec as NetSpec, (await openCheckpointFile(join(dir, manifest.weights))).tensors, 'emoji-cbam-nl');
  const rows: Array<Record<string, unknown>> = [];
  for (const [label, graph, sizes] of [['CBAM ResNet-50', r50, [224, 896]], ['built-in emoji-cbam-nl', builtin, [1024]]] as const) {
    const fetch = [LOGITS, ...graph.modules.flatMap((m) => m.taps.map((t) => tapOutput(m.name, t)))];
    const byDevice: Record<string, GraphRunner> = { cpu: await runner(graph, 'cpu'), gpu: await runner(graph, 'gpu') };
    for (const size of sizes) {
      const row: Record<string, unknown> = { model: label, input: size, taps: fetch.length - 1 };
      const outs: Record<string, Float32Array> = {};
      for (const [d, r] of Object.entries(byDevice)) {
        row[`${d}_ms`] = Math.round((await time(r, fetch, size)) * 10) / 10;
        row[`${d}_backend`] = r.info.backend;
        const input = new Float32Array(3 * size * size).map((_, i) => Math.sin(i * 0.01));
        outs[d] = (await r.run({ input: { data: input, dims: [1, 3, size, size] }, bypass: new Set(), fetch: [LOGITS] })).get(LOGITS)!.data;
      }
      row.logits_max_abs_diff_gpu_vs_cpu = maxAbs(outs.cpu!, outs.gpu!);
      console.log(JSON.stringify(row));
      rows.push(row);
    }
    for (const r of Object.values(byDevice)) await r.dispose();
  }
  return rows;
}

const t0 = performance.now();
const fix = await fixtures();
const sp = process.argv.includes('--no-speed') ? [] : await speed();
const result = { cores: availableParallelism(), fixtures: fix, worstFixture: Math.max(...fix.map((f) => f.worst)), speed: sp, seconds: (performance.now() - t0) / 1000 };
console.log(`fixtures on the GPU: ${fix.length} runs, worst ${result.worstFixture.toExponential(2)} (${fix.every((f) => f.worst <= 1e-4) ? 'all within 1e-4' : 'SOME OVER 1e-4'})`);
writeFileSync(arg('out', 'gpu-bench.json'), `${JSON.stringify(result, null, 2)}\n`);
