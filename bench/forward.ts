// Forward-pass benchmark: the attention graph on each runtime (ort, tfjs-wasm, tfjs-cpu) vs
// PyTorch on CPU with the same thread count, same weights, batch 1; plus the physical floor
// (FLOPs / that runtime's measured matmul peak).
//
//   node dist/bench/forward.js [--runs 15] [--warmup 3] [--engines ort,tfjs-wasm,tfjs-cpu]
//                              [--threads 1] [--quick] [--models NAME,...]
//
// The orchestrator runs bench/torch_forward.py (which also writes the random weights as
// safetensors into a temp dir), then one child process per runtime (tfjs keeps one global
// backend per process), each timing a pass with every tap read back: the work a real run
// does. PyTorch is timed both plain and with taps (forward_with_taps). --threads sets
// PyTorch's and ONNX Runtime's threads (tfjs-wasm is single-threaded in Node whatever it says).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetSpec } from '../engine/nets/spec';
import { countFlops } from './flops.mjs';
import { args, describeMachine, machine, median, ROOT, table, type Timing, writeResult } from './lib';
import { findBuiltinModel, type ModelJob } from './models';
import { BENCH_MODELS } from './weights';
import type { EngineOut, Job } from './forwardTypes';
import { torchEnv } from './torchEnv';

function standardModels(): ModelJob[] {
  const builtin = findBuiltinModel();
  return [...Object.values(BENCH_MODELS), ...(builtin ? [builtin] : [])];
}

interface TorchModel {
  name: string;
  size: number;
  weights: string;
  spec: NetSpec;
  plain: Timing;
  withTaps: Timing;
  hookFlops: number;
  params: number;
}

interface TorchOut {
  torch: string;
  threads: number;
  models: TorchModel[];
  peak: { n: number; gflops: number; gflopsMedian: number };
}


async function main(): Promise<void> {
  const a = args();
  const worker = a.get('worker');
  if (worker) {
    const { runEngine } = await import('./forwardEngine');
    const out = await runEngine(worker, JSON.parse(readFileSync(a.get('job') as string, 'utf8')) as Job, a.get('job') as string);
    process.stdout.write(`@@RESULT ${JSON.stringify(out)}\n`);
    return;
  }
  await orchestrate(a);
}


async function orchestrate(a: Map<string, string>): Promise<void> {
  const quick = a.has('quick');
  const runs = Number(a.get('runs') ?? (quick ? 5 : 15));
  const warmup = Number(a.get('warmup') ?? (quick ? 1 : 3));
  const engineNames = (a.get('engines') ?? 'ort,tfjs-wasm,tfjs-cpu').split(',');
  const threads = Number(a.get('threads') ?? 1);
  const mach = machine();
  const tmp = mkdtempSync(join(tmpdir(), 'attnscope-bench-'));
  try {
    const models = standardModels().filter((m) => !a.has('models') || (a.get('models') as string).split(',').includes(m.name));
    const job: Job = { threads, warmup, runs, outDir: tmp, models, peak: { n: 1024, runs: 7 } };
    const jobPath = join(tmp, 'job.json');
    writeFileSync(jobPath, JSON.stringify(job));
    console.log(`forward: ${describeMachine(mach)}; ${runs} runs after ${warmup} warm-up; batch 1; PyTorch and ort at ${threads} thread(s); ort and tfjs-wasm runs paired with PyTorch runs`);
    const py = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'torch_forward.py'), jobPath], { encoding: 'utf8', maxBuffer: 1 << 26, env: torchEnv(threads) });
    if (py.error || py.status !== 0) {
      // The reference side needs Debian's python3-torch and a real BLAS (apt install python3-torch libopenblas0-pthread).
      throw new Error(`the PyTorch reference could not run (/usr/bin/python3 bench/torch_forward.py): ${py.error?.message ?? py.stderr.trim().split('\n').slice(-2).join(' ')}`);
    }
    const torch = JSON.parse(py.stdout) as TorchOut;
    // The engine (and the paired PyTorch server) load exactly the files PyTorch wrote.
    const engineJob: Job = { ...job, models: torch.models.map((m, i) => ({ ...(models[i] as ModelJob), weights: m.weights, spec: m.spec })) };
    const self = fileURLToPath(import.meta.url);
    const engines: EngineOut[] = [];
    for (const backend of engineNames) {
      // On a shared machine, load from other processes varies from second to second: each
      // runtime alternates one PyTorch pass and one engine pass, and the ratio is the
      // median of the per-pair ratios. The plain-JS cpu backend (~1 GFLOP/s) runs only the
      // small models, a few times, unpaired.
      // With more than one thread, pairing is unfair: ONNX Runtime's and PyTorch's thread pools
      // spin for a while after each pass and steal the cores the other runtime's next pass
      // needs (measured: PyTorch's built-in-model pass went from 14 to 92 ms). Then each
      // side is timed alone, PyTorch first (its own process), the engine after.
      const settings = backend === 'tfjs-cpu'
        ? { maxGflops: Number(a.get('cpu-max-gflops') ?? 1), runs: Math.min(runs, 3), warmup: 1 }
        : { paired: !a.has('unpaired') && threads === 1 };
      writeFileSync(jobPath, JSON.stringify({ ...engineJob, ...settings }));
      const child = spawnSync(process.execPath, [self, '--worker', backend, '--job', jobPath], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (child.stderr.trim()) process.stderr.write(child.stderr.split('\n').filter((l) => !/^\s*$/.test(l)).slice(-3).join('\n') + '\n');
      const line = child.stdout.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (child.status !== 0 || !line) {
        console.log(`  ${backend}: did not run (${(child.stderr || child.stdout).trim().split('\n').slice(-3).join(' | ')})`);
        continue;
      }
      engines.push(JSON.parse(line.slice('@@RESULT '.length)) as EngineOut);
    }
    report(mach, torch, engines);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function report(mach: ReturnType<typeof machine>, torch: TorchOut, engines: EngineOut[]): void {
  const rows: Array<Array<string | number>> = [];
  const summary = [];
  for (const t of torch.models) {
    const flops = countFlops(t.spec, t.size);
    const gflop = flops.total / 1e9;
    const pairs = engines.map((e) => e.models.find((x) => x.name === t.name)?.paired).find((p) => p);
    // PyTorch's figures: its paired runs when there are some (same moments as the engine's).
    const tt = pairs ? { medianMs: median(pairs.torchMs), minMs: Math.min(...pairs.torchMs) } : t.withTaps;
    const torchFloor = 1000 * gflop / torch.peak.gflops;
    rows.push([t.name, `torch ${torch.torch} (${torch.threads} thr)`, gflop, tt.medianMs, tt.minMs, t.plain.medianMs, 1, 1, torchFloor, 100 * torchFloor / tt.minMs]);
    const entry: Record<string, unknown> = { model: t.name, size: t.size, gflop, hookGflop: t.hookFlops / 1e9, params: t.params, torch: { withTaps: t.withTaps, plain: t.plain, paired: tt } };
    for (const e of engines) {
      const m = e.models.find((x) => x.name === t.name);
      if (!m) continue;
      if (m.skipped) {
        rows.push([t.name, e.engine, gflop, '-', '-', '-', '-', '-', '-', '-']);
        entry[e.engine] = { skipped: m.skipped };
        continue;
      }
      const floor = 1000 * gflop / e.peak.gflops;
      const ratio = m.paired ? median(m.paired.ratios) : m.total.medianMs / tt.medianMs;
      const ratioMin = m.total.minMs / tt.minMs;
      rows.push([t.name, `${e.engine} (${e.threads} thr)`, gflop, m.total.medianMs, m.total.minMs, '-', ratio, ratioMin, floor, 100 * floor / m.total.minMs]);
      entry[e.engine] = { ...m, paired: undefined, pairedRatios: m.paired?.ratios, ratioVsTorch: ratio, ratioVsTorchMin: ratioMin, ratioVsTorchPlain: m.total.medianMs / t.plain.medianMs, floorMs: floor };
    }
    if (Math.abs(flops.conv - t.hookFlops) > 1) console.log(`  note: analytic conv FLOPs ${flops.conv} != torch hook count ${t.hookFlops} for ${t.name}`);
    summary.push(entry);
  }
  console.log(table(['model', 'runtime', 'GFLOP', 'median ms', 'min ms', 'plain ms', 'x torch', 'x torch (min)', 'floor ms', '% of peak (min)'], rows));
  const peaks = [[`torch matmul ${torch.peak.n}^2 (${torch.threads} thr)`, torch.peak.gflops], ...engines.map((e) => [`${e.engine} matmul ${e.peak.n}^2 (${e.threads} thr)`, e.peak.gflops])];
  console.log(table(['peak', 'GFLOP/s'], peaks as Array<Array<string | number>>));
  for (const e of engines) {
    const cold = e.models.filter((m) => !m.skipped).map((m) => `${m.name} load ${m.loadMs.toFixed(0)} ms, first pass ${m.coldMs.toFixed(0)} ms (${(m.coldMs / m.total.medianMs).toFixed(1)}x a warm one)`);
    console.log(`  ${e.engine}: ${e.detail}; ${cold.join('; ')}`);
  }
  const ortPeak = engines.find((e) => e.engine === 'ort')?.peak.gflops;
  if (ortPeak && torch.peak.gflops < ortPeak / 4) {
    console.log(`  WARNING: PyTorch's matmul peak (${torch.peak.gflops.toFixed(1)} GFLOP/s) is far below ONNX Runtime's: Debian's python3-torch`);
    console.log('  is then on the reference BLAS (libblas3). apt install libopenblas0-pthread, or the ratios flatter the engine.');
  }
  console.log('  x torch = median over pairs of (engine pass, every tap read back) / (PyTorch forward_with_taps pass), one of each in');
  console.log('  turn; (min) = fastest engine run / fastest PyTorch run; plain = PyTorch without taps (separate, unpaired);');
  console.log('  floor = FLOPs / that runtime\'s measured matmul peak at its thread count; % of peak uses the fastest run.');
  const path = writeResult(torch.threads === 1 ? 'forward' : `forward-${torch.threads}threads`, { machine: mach, torch: { version: torch.torch, threads: torch.threads, peak: torch.peak }, engines: engines.map((e) => ({ engine: e.engine, threads: e.threads, detail: e.detail, peak: e.peak })), models: summary });
  console.log(`  -> ${path}`);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
