// The engine side of bench/forward.ts: one backend per process.

import * as tf from '@tensorflow/tfjs-core';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, isBackendChoice } from '../engine/backend';
import { toFloat32 } from '../engine/checkpoints/dtypes';
import type { SourceDType, StateDict } from '../engine/checkpoints/types';
import { ResNet } from '../engine/nets/resnet';
import { normaliseSpec } from './spec';
import { countFlops } from './flops.mjs';
import type { EngineModel, EngineOut, Job } from './forward';
import { median, ROOT, timeIt, type Timing } from './lib';

const DTYPES: Record<string, SourceDType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64', I32: 'int32' };

/** Reads a whole safetensors file (bench weights are at most ~100 MB). */
export function readSafetensors(path: string): StateDict {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const dict: StateDict = new Map();
  for (const [key, info] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const dtype = DTYPES[info.dtype];
    if (!dtype) throw new Error(`bench: unsupported dtype ${info.dtype}`);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + 8 + n + info.data_offsets[0], info.data_offsets[1] - info.data_offsets[0]);
    const count = info.shape.reduce((a, b) => a * b, 1);
    dict.set(key, { shape: info.shape, dtype, data: toFloat32(bytes, dtype, count) });
  }
  return dict;
}

export async function runEngine(backend: string, job: Job, jobPath: string): Promise<EngineOut> {
  if (!isBackendChoice(backend)) throw new Error(`unknown backend ${backend}`);
  const info = await initBackend(backend);
  const models: EngineModel[] = [];
  const torch = job.paired ? await TorchServer.start(jobPath) : null;
  try {
  for (const m of job.models) {
    const spec = normaliseSpec(m.spec);
    const gflop = countFlops(spec, m.size).total / 1e9;
    if (job.maxGflops !== undefined && gflop > job.maxGflops) {
      models.push({ name: m.name, total: { medianMs: 0, minMs: 0, maxMs: 0, runs: 0 }, forwardMedianMs: 0, readbackMedianMs: 0, loadMs: 0, coldMs: 0, taps: 0, tapBytes: 0, skipped: `${gflop.toFixed(1)} GFLOP > ${job.maxGflops} cap for this backend` });
      continue;
    }
    const t0 = performance.now();
    const net = ResNet.load(spec, readSafetensors(m.weights as string));
    const loadMs = performance.now() - t0;
    const input = tf.randomNormal([1, m.size, m.size, 3], 0, 1, 'float32', m.seed) as tf.Tensor4D;
    // The first pass builds and packs every conv operator: what a user's first image pays
    // unless the host warms the model up after loading it.
    const c0 = performance.now();
    await net.forward(input);
    const coldMs = performance.now() - c0;
    const fw: number[] = [];
    const rb: number[] = [];
    let taps = 0;
    let tapBytes = 0;
    const once = async (): Promise<void> => {
      const r = await net.forward(input);
      fw.push(r.forwardMs);
      rb.push(r.readbackMs);
      taps = r.taps.length;
      tapBytes = r.taps.reduce((s, t) => s + t.data.byteLength, 0);
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
    input.dispose();
    net.dispose();
    models.push({ name: m.name, total, forwardMedianMs: median(fw.slice(job.warmup)), readbackMedianMs: median(rb.slice(job.warmup)), loadMs, coldMs, taps, tapBytes, ...(paired ? { paired } : {}) });
  }
  } finally {
    torch?.close();
  }
  return { backend: info.name, detail: info.detail, peak: matmulPeak(info.name === 'cpu' ? 256 : job.peak.n, job.peak.runs), models };
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
    const proc = spawn('/usr/bin/python3', [join(ROOT, 'bench', 'torch_forward.py'), '--serve', jobPath]);
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

export function matmulPeak(n: number, runs: number): { n: number; gflops: number } {
  const a = tf.randomNormal([n, n]) as tf.Tensor2D;
  const b = tf.randomNormal([n, n]) as tf.Tensor2D;
  let best = Infinity;
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const dt = performance.now() - t0;
    c.dispose();
    if (i > 0) best = Math.min(best, dt);
  }
  a.dispose();
  b.dispose();
  return { n, gflops: (2 * n ** 3) / (best / 1000) / 1e9 };
}
