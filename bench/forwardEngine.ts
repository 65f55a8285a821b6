// The engine side of bench/forward.ts: one runtime per process (`ort`, `tfjs-wasm`,
// `tfjs-cpu`), each running the model's attention graph with every tap read back.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendChoice } from '../engine/backend';
import { openCheckpointFile } from '../engine/checkpoints';
import { GraphBuilder } from '../engine/graph/builder';
import { LOGITS, tapOutput } from '../engine/graph/names';
import { DataType } from '../engine/graph/onnx';
import { emitResNet } from '../engine/nets/resnet';
import { createRunner, type GraphRunner } from '../engine/runtimes';
import { normaliseSpec } from './spec';
import { countFlops } from './flops.mjs';
import type { EngineModel, EngineOut, Job } from './forwardTypes';
import { torchEnv } from './torchEnv';
import { median, ROOT, timeIt, type Timing } from './lib';

/** `ort` or `tfjs-<backend>` -> runner options. */
function engineOptions(engine: string, threads: number): { runtime: 'ort'; threads: number } | { runtime: 'tfjs'; backend: BackendChoice } {
  if (engine === 'ort') return { runtime: 'ort', threads };
  const m = /^tfjs-(wasm|cpu|tensorflow|tensorflow-gpu)$/.exec(engine);
  if (!m) throw new Error(`unknown engine ${engine} (ort, tfjs-wasm, tfjs-cpu)`);
  return { runtime: 'tfjs', backend: m[1] as BackendChoice };
}

/** Seeded normal-ish input [n] (Box-Muller on an LCG), the same on every runtime. */
function seededInput(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const uniform = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 1) / 4294967297; };
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

export async function runEngine(engine: string, job: Job, jobPath: string): Promise<EngineOut> {
  const opts = engineOptions(engine, job.threads);
  const models: EngineModel[] = [];
  const torch = job.paired ? await TorchServer.start(jobPath) : null;
  let detail = '';
  let threads = 1;
  try {
    for (const m of job.models) {
      const spec = normaliseSpec(m.spec);
      const gflop = countFlops(spec, m.size).total / 1e9;
      if (job.maxGflops !== undefined && gflop > job.maxGflops) {
        models.push({ name: m.name, total: { medianMs: 0, minMs: 0, maxMs: 0, runs: 0 }, loadMs: 0, coldMs: 0, taps: 0, tapBytes: 0, skipped: `${gflop.toFixed(1)} GFLOP > ${job.maxGflops} cap for this engine` });
        continue;
      }
      const t0 = performance.now();
      const graph = emitResNet(spec, (await openCheckpointFile(m.weights as string)).tensors);
      const runner = await createRunner(graph.model, graph.modules.map((x) => x.name), opts);
      const loadMs = performance.now() - t0;
      detail = runner.info.detail;
      threads = runner.info.threads;
      const fetch = [LOGITS, ...graph.modules.flatMap((x) => x.taps.map((t) => tapOutput(x.name, t)))];
      const req = { input: { data: seededInput(3 * m.size * m.size, m.seed), dims: [1, 3, m.size, m.size] }, bypass: new Set<string>(), fetch };
      const c0 = performance.now();
      await runner.run(req);
      const coldMs = performance.now() - c0;
      let taps = 0;
      let tapBytes = 0;
      const once = async (): Promise<void> => {
        const out = await runner.run(req);
        taps = out.size - 1;
        tapBytes = [...out.values()].reduce((s, t) => s + t.data.byteLength, 0);
      };
      let paired: EngineModel['paired'];
      let total: Timing;
      if (torch) {
        // Paired: one PyTorch pass, then one engine pass, repeated; both see the same load.
        for (let i = 0; i < job.warmup; i++) {
          await torch.time(m.name);
          await once();
        }
        const tt: number[] = [];
        const te: number[] = [];
        for (let i = 0; i < job.runs; i++) {
          tt.push(await torch.time(m.name));
          const t = performance.now();
          await once();
          te.push(performance.now() - t);
        }
        total = { medianMs: median(te), minMs: Math.min(...te), maxMs: Math.max(...te), runs: te.length, times: te };
        paired = { torchMs: tt, engineMs: te, ratios: te.map((e, i) => e / (tt[i] as number)) };
      } else {
        total = await timeIt(once, job.warmup, job.runs);
      }
      await runner.dispose();
      models.push({ name: m.name, total, loadMs, coldMs, taps, tapBytes, ...(paired ? { paired } : {}) });
    }
  } finally {
    torch?.close();
  }
  const peak = await matmulPeak(opts, engine === 'tfjs-cpu' ? 256 : job.peak.n, job.peak.runs);
  return { engine, detail, threads, peak, models };
}

/** The runtime's own matmul peak: an n x n MatMul graph on the same runner kind. */
async function matmulPeak(opts: Parameters<typeof createRunner>[2], n: number, runs: number): Promise<{ n: number; gflops: number }> {
  const g = new GraphBuilder('matmul');
  const a = g.input({ name: 'input', elemType: DataType.FLOAT, shape: [n, n] });
  g.output(g.node('MatMul', [a, g.floats('b', seededInput(n * n, 7), [n, n])], 'MatMul'), 'y');
  const runner: GraphRunner = await createRunner(g.build(), [], opts);
  const req = { input: { data: seededInput(n * n, 3), dims: [n, n] }, bypass: new Set<string>(), fetch: ['y'] };
  let best = Infinity;
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    await runner.run(req);
    const dt = performance.now() - t0;
    if (i > 0) best = Math.min(best, dt);
  }
  await runner.dispose();
  return { n, gflops: (2 * n ** 3) / (best / 1000) / 1e9 };
}

/** bench/torch_forward.py --serve: one PyTorch forward (with taps) per request. */
class TorchServer {
  private buffer = '';
  private waiting: Array<(line: string) => void> = [];
  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
  }

  static async start(jobPath: string): Promise<TorchServer> {
    const job = JSON.parse(readFileSync(jobPath, 'utf8')) as Job;
    const proc = spawn('/usr/bin/python3', [join(ROOT, 'bench', 'torch_forward.py'), '--serve', jobPath], { env: torchEnv(job.threads) });
    let err = '';
    proc.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const server = new TorchServer(proc);
    const ready = await Promise.race([
      server.next(),
      new Promise<string>((_, fail) => proc.on('exit', (code) => fail(new Error(`torch_forward.py --serve exited ${code}: ${err}`)))),
    ]);
    if (!ready.includes('"ready"')) throw new Error(`torch_forward.py --serve: ${ready}`);
    return server;
  }

  private next(): Promise<string> {
    return new Promise((ok) => this.waiting.push(ok));
  }

  async time(model: string): Promise<number> {
    const reply = this.next();
    this.proc.stdin.write(`${model} taps\n`);
    return Number(await reply);
  }

  close(): void {
    this.proc.stdin.end('quit\n');
  }
}
