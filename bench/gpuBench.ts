// GPU check and bench (issue 13), for a machine with a GPU: bench/gpu.sh bundles this with
// the engine (onnxruntime-node stays external) and runs it there.
//   1. Every PyTorch fixture (test/fixtures) on every GPU path: ort --device gpu (the first GPU
//      execution provider that loads) and tfjs --device gpu (WebGPU on Dawn): the worst max
//      abs error against PyTorch per case, the row-block path of the non-local cases included.
//   2. Forward pass + every tap read back, on the CPU (ort, all cores) and every GPU path, same
//      process: CBAM ResNet-50 (seeded random weights in the official checkpoint's layout,
//      test/fixtures/keysets) at 224 and 896 px batch 1 and 224 px batch 32, and the built-in
//      model at 1024 px (non-local affinity of 1 GB, in row blocks). Median of 20 passes after
//      3 warm-up passes (3 passes for the CPU at batch 32). Beside it, PyTorch eager on the same
//      network (bench/torchRef.py, CUDA where torch sees the GPU), from whatever python3 has
//      torch: each path's time as a ratio of PyTorch's (issue 13's goals: batch 1 <= 1.5x,
//      batch 32 images/s >= 0.7x PyTorch's, i.e. time <= 1.43x).
//
//   3. Every ONNX importer fixture (test/fixtures/onnx) on every GPU path, through Session as the
//      app opens an .onnx file: the logits and every map the importer finds against PyTorch.
//   The timings run first, then the fixtures; with --deadline S no fixture starts after S seconds
//   (the rest are listed as not run), and the JSON is rewritten after every phase, so a lease
//   that ends early still brings back what ran. A fixture that fails is a row with its error.
//
//   node gpu-bench.mjs [--root REPO] [--out results.json] [--cases a,b] [--no-speed] [--quick] [--deadline S]
//   (--quick: 64 px, batches 1 and 4, 3 passes: a smoke run, e.g. on SwiftShader)

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { openCheckpointFile } from '../engine/checkpoints';
import type { StateDict } from '../engine/checkpoints/types';
import { affinityOutput, LOGITS, tapOutput } from '../engine/graph/names';
import { readManifest } from '../engine/models';
import { emitResNet, type GraphOptions } from '../engine/nets/resnet';
import type { NetSpec } from '../engine/nets/spec';
import { spawnSync } from 'node:child_process';
import { createRunner, probeShapes } from '../engine/runtimes';
import { importOnnx } from '../engine/import';
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

/** The paths timed: ort on the CPU, and each GPU path that loads here. */
type Path = 'ort-cpu' | 'ort-gpu' | 'tfjs-gpu';
async function runner(model: ReturnType<typeof emitResNet>, path: Path): Promise<GraphRunner> {
  const names = model.modules.map((m) => m.name);
  if (path === 'tfjs-gpu') return createRunner(model.model, names, { runtime: 'tfjs', device: 'gpu' });
  return createRunner(model.model, names, { runtime: 'ort', device: path === 'ort-gpu' ? 'gpu' : 'cpu', threads: availableParallelism() });
}

/** GPU paths that load on this machine (a tiny graph each), and why the others do not. */
async function gpuPaths(): Promise<Path[]> {
  const fc = JSON.parse(readFileSync(join(FIXTURES, 'cbam-timm', 'case.json'), 'utf8')) as { spec: NetSpec };
  const graph = emitResNet(fc.spec, (await openCheckpointFile(join(FIXTURES, 'cbam-timm', 'model.safetensors'))).tensors, 'probe');
  const ok: Path[] = [];
  for (const p of ['ort-gpu', 'tfjs-gpu'] as const) {
    try {
      const r = await runner(graph, p);
      console.log(`${p}: ${r.info.detail}`);
      if (r.info.device === 'gpu') ok.push(p);
      await r.dispose();
    } catch (err) {
      console.log(`${p}: not available (${(err as Error).message.split('\n')[0]})`);
    }
  }
  return ok;
}

type FixtureRow = { case: string; path: string; worst: number | null; backend?: string; error?: string };
const T0 = performance.now();
const DEADLINE_S = Number(arg('deadline', '0'));
const pastDeadline = (): boolean => DEADLINE_S > 0 && (performance.now() - T0) / 1000 > DEADLINE_S;
const only = arg('cases', '');
const wanted = (name: string): boolean => !only || only.split(',').includes(name);

/** One fixture run on one path: the worst max abs error, or the error it failed with (or "not run" past the deadline). */
async function fixtureRow(name: string, path: string, body: () => Promise<{ worst: number; backend: string }>): Promise<FixtureRow> {
  if (pastDeadline()) return { case: name, path, worst: null, error: 'not run (deadline)' };
  try {
    const { worst, backend } = await body();
    console.log(`fixture ${name} (${path}): worst ${worst.toExponential(2)} on ${backend}`);
    return { case: name, path, worst, backend };
  } catch (err) {
    const error = (err as Error).message.split('\n')[0] as string;
    console.log(`fixture ${name} (${path}): FAILED ${error}`);
    return { case: name, path, worst: null, error };
  }
}

async function fixtures(paths: Path[]): Promise<FixtureRow[]> {
  const cases = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'case.json')) && wanted(d)).sort();
  const rows: FixtureRow[] = [];
  for (const name of cases) {
    const fc = JSON.parse(readFileSync(join(FIXTURES, name, 'case.json'), 'utf8')) as { spec: NetSpec; bypass: string[]; affinityModule: string | null };
    for (const [gpu, path] of paths.flatMap((g) => (fc.affinityModule ? ['whole', 'row blocks'] : ['whole']).map((p) => [g, p] as const))) {
      rows.push(await fixtureRow(name, `${gpu} ${path}`, async () => {
        const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
        const weights = (await openCheckpointFile(join(FIXTURES, name, 'model.safetensors'))).tensors;
        const opts: GraphOptions = path === 'row blocks' ? { keepAffinityBytes: 0, chunkBytes: 4096 } : {};
        const graph = emitResNet(fc.spec, weights, name, opts);
        const r = await runner(graph, gpu);
        try {
          const input = expected.get('input')!;
          const fetch = [LOGITS, ...graph.modules.flatMap((m) => [...m.taps.map((t) => tapOutput(m.name, t)), ...(m.affinity && path === 'whole' ? [affinityOutput(m.name)] : [])])];
          const out = await r.run({ input: { data: input.data, dims: input.shape }, bypass: new Set(fc.bypass), fetch });
          let worst = 0;
          for (const k of fetch) { const e = expected.get(k); if (e) worst = Math.max(worst, maxAbs(out.get(k)!.data, e.data)); }
          return { worst, backend: r.info.backend };
        } finally {
          await r.dispose();
        }
      }));
    }
  }
  return rows;
}

/** NCHW [1, C, H, W] to NHWC, for models imported with that layout. */
function toNhwc(t: { shape: number[]; data: Float32Array }): { data: Float32Array; dims: number[] } {
  const [, c, h, w] = t.shape as [number, number, number, number];
  const out = new Float32Array(c * h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = t.data[(k * h + y) * w + x] as number;
  return { data: out, dims: [1, h, w, c] };
}

/**
 * The ONNX importer's fixtures (test/fixtures/onnx) on each GPU path: the importer's graph with
 * the maps it finds as outputs (what Session runs for an .onnx file; Session itself is not
 * bundled, it brings the image decoder's native library), logits and every found map that
 * PyTorch wrote, raw, against PyTorch.
 */
async function onnxFixtures(paths: Path[]): Promise<FixtureRow[]> {
  const dir = join(FIXTURES, 'onnx');
  if (!existsSync(dir)) return [];
  const cases = readdirSync(dir).filter((d) => existsSync(join(dir, d, 'case.json')) && wanted(`onnx/${d}`)).sort();
  const rows: FixtureRow[] = [];
  for (const name of cases) {
    for (const gpu of paths) {
      rows.push(await fixtureRow(`onnx/${name}`, `${gpu} import`, async () => {
        const expected = readSafetensors(join(dir, name, 'expected.safetensors'));
        const imported = await importOnnx(new Uint8Array(readFileSync(join(dir, name, 'model.onnx'))), name, join(dir, name, 'model.onnx'), probeShapes, {});
        const r = await createRunner(imported.model, imported.modules.map((m) => m.name),
          { runtime: gpu === 'tfjs-gpu' ? 'tfjs' : 'ort', device: 'gpu', threads: availableParallelism(), externalDataDir: imported.externalDir });
        try {
          const x = expected.get('input')!;
          const input = imported.layout === 'nhwc' ? toNhwc(x) : { data: x.data, dims: x.shape };
          const out = await r.run({ input, bypass: new Set(), fetch: [LOGITS, ...imported.maps.map((m) => m.output)] });
          let worst = maxAbs(out.get(LOGITS)!.data, expected.get('logits')!.data);
          let compared = 0;
          for (const m of imported.maps) {
            const want = expected.get(`${m.module}.${m.map}`);
            if (!want) continue;
            worst = Math.max(worst, maxAbs(out.get(m.output)!.data, want.data));
            compared++;
          }
          return { worst, backend: `${r.info.backend}, ${compared} of ${imported.maps.length} maps compared` };
        } finally {
          await r.dispose();
        }
      }));
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

const QUICK = process.argv.includes('--quick');
/** [size, batch] of the ResNet-50 rows. */
const CASES: Array<[number, number]> = QUICK ? [[64, 1], [64, 4]] : [[224, 1], [896, 1], [224, 32]];

async function time(r: GraphRunner, fetch: string[], size: number, batch: number, passes: number): Promise<number> {
  const input = new Float32Array(batch * 3 * size * size).map((_, i) => Math.sin(i * 0.01));
  const req = { input: { data: input, dims: [batch, 3, size, size] }, bypass: new Set<string>(), fetch };
  for (let i = 0; i < Math.min(3, passes); i++) await r.run(req);
  const t: number[] = [];
  for (let i = 0; i < passes; i++) { const t0 = performance.now(); await r.run(req); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)] as number;
}

/** PyTorch eager's ms per [size, batch] from bench/torchRef.py, or why there is none. */
function torchReference(): { rows: Map<string, number>; device: string } | { missing: string } {
  const sizes = [...new Set(CASES.map((c) => c[0]))].join(',');
  const batches = [...new Set(CASES.map((c) => c[1]))].join(',');
  // $PYTHON, else the first python3 on the way that imports torch (Debian's is /usr/bin/python3).
  const pythons = [...new Set([process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p))];
  let why = 'no python3';
  for (const py of pythons) {
    const r = spawnSync(py, [join(ROOT, 'bench', 'torchRef.py'), '--sizes', sizes, '--batches', batches, '--passes', QUICK ? '3' : '20'], { encoding: 'utf8', timeout: 30 * 60_000 });
    const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      const j = JSON.parse(last) as { device: string; rows: Array<{ input: number; batch: number; ms: number }> };
      return { device: `${j.device} (${py})`, rows: new Map(j.rows.map((x) => [`${x.input}x${x.batch}`, x.ms])) };
    } catch {
      why = `${py}: ${(r.error?.message ?? r.stderr ?? 'no output').split('\n').filter(Boolean).slice(-1)[0] ?? 'no output'}`;
    }
  }
  return { missing: why };
}

async function speed(gpus: Path[]): Promise<{ rows: Array<Record<string, unknown>>; torch: string }> {
  const keyset = JSON.parse(readFileSync(join(FIXTURES, 'keysets', 'cbam-resnet50-official.json'), 'utf8')) as { spec: NetSpec; keys: Record<string, number[]> };
  const r50 = emitResNet(keyset.spec, randomWeights(keyset.keys), 'cbam-resnet50');
  const dir = join(ROOT, 'assets', 'models', 'emoji-cbam-nl');
  const manifest = readManifest(dir);
  const builtin = emitResNet(manifest.spec as NetSpec, (await openCheckpointFile(join(dir, manifest.weights))).tensors, 'emoji-cbam-nl');
  const torch = torchReference();
  console.log('missing' in torch ? `PyTorch reference: none (${torch.missing})` : `PyTorch reference: ${torch.device}`);
  const rows: Array<Record<string, unknown>> = [];
  const runs: Array<[string, ReturnType<typeof emitResNet>, Array<[number, number]>]> = [['CBAM ResNet-50', r50, CASES], ...(QUICK ? [] : [['built-in emoji-cbam-nl', builtin, [[1024, 1]]] as [string, ReturnType<typeof emitResNet>, Array<[number, number]>]])];
  for (const [label, graph, cases] of runs) {
    const fetch = [LOGITS, ...graph.modules.flatMap((m) => m.taps.map((t) => tapOutput(m.name, t)))];
    const byPath: Partial<Record<Path, GraphRunner>> = {};
    for (const p of ['ort-cpu', ...gpus] as Path[]) byPath[p] = await runner(graph, p);
    for (const [size, batch] of cases) {
      const row: Record<string, unknown> = { model: label, input: size, batch, taps: fetch.length - 1 };
      const ref = 'rows' in torch && label === 'CBAM ResNet-50' ? torch.rows.get(`${size}x${batch}`) : undefined;
      if (ref !== undefined) row.torch_ms = ref;
      const outs: Partial<Record<Path, Float32Array>> = {};
      for (const [p, r] of Object.entries(byPath) as Array<[Path, GraphRunner]>) {
        const passes = QUICK ? 3 : p === 'ort-cpu' && batch > 1 ? 3 : 20;
        const ms = await time(r, fetch, size, batch, passes);
        row[`${p}_ms`] = Math.round(ms * 10) / 10;
        row[`${p}_backend`] = r.info.backend;
        if (ref !== undefined) row[`${p}_vs_torch`] = Math.round((ms / ref) * 100) / 100;
        const input = new Float32Array(3 * size * size).map((_, i) => Math.sin(i * 0.01));
        outs[p] = (await r.run({ input: { data: input, dims: [1, 3, size, size] }, bypass: new Set(), fetch: [LOGITS] })).get(LOGITS)!.data;
      }
      for (const g of gpus) row[`logits_max_abs_diff_${g}_vs_cpu`] = maxAbs(outs['ort-cpu']!, outs[g]!);
      console.log(JSON.stringify(row));
      rows.push(row);
    }
    for (const r of Object.values(byPath)) await r.dispose();
  }
  return { rows, torch: 'missing' in torch ? `none: ${torch.missing}` : torch.device };
}

const out = arg('out', 'gpu-bench.json');
const result: Record<string, unknown> = { cores: availableParallelism(), deadline: DEADLINE_S || null };
const save = (): void => { result.seconds = (performance.now() - T0) / 1000; writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`); };
const gpus = await gpuPaths();
result.gpuPaths = gpus;
// Timings first (a lease may end during the fixtures), then the fixtures, saved after each phase.
const sp = process.argv.includes('--no-speed') ? { rows: [], torch: 'not run' } : await speed(gpus);
Object.assign(result, { speed: sp.rows, torch: sp.torch });
save();
const fix = await fixtures(gpus);
result.fixtures = fix;
save();
const onnx = await onnxFixtures(gpus);
result.onnxFixtures = onnx;
const all = [...fix, ...onnx];
const ran = all.filter((f) => f.worst !== null);
result.worstFixture = ran.length ? Math.max(...ran.map((f) => f.worst as number)) : null;
save();
const failed = all.filter((f) => f.error && f.error !== 'not run (deadline)');
const notRun = all.filter((f) => f.error === 'not run (deadline)');
console.log(ran.length
  ? `fixtures on the GPU: ${ran.length} runs, worst ${(result.worstFixture as number).toExponential(2)} (${ran.every((f) => (f.worst as number) <= 1e-4) ? 'all within 1e-4' : 'SOME OVER 1e-4'}); ${failed.length} failed, ${notRun.length} not run (deadline)`
  : 'fixtures on the GPU: none run (no GPU path loaded)');
