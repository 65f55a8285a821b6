// Soak benchmark: 1,000 runs through the protocol, the engine in a worker thread.
// Records tfjs numTensors / tensor bytes and the process RSS (the worker shares it) at the
// start, every 100 runs and at the end. A leak shows as numTensors or RSS climbing.
//
//   node dist/bench/soak.js [--runs 1000] [--model builtin|cbam-resnet18] [--input-size N] [--runtimes ort,tfjs]
// Each runtime gets its own engine worker; on ort numTensors stays 0 (no tfjs tensors) and
// RSS is the figure that shows a leak.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchEngine } from './engineWorker';
import { args, describeMachine, machine, median, mib, ROOT, table, writeResult } from './lib';
import { benchWeights, defaultBenchModel } from './weights';

async function main(): Promise<void> {
  const a = args();
  for (const runtime of (a.get('runtimes') ?? 'ort,tfjs').split(',')) await soak(a, runtime);
}

async function soak(a: Map<string, string>, runtime: string): Promise<void> {
  const runs = Number(a.get('runs') ?? (a.has('quick') ? 200 : 1000));
  const modelName = a.get('model') ?? defaultBenchModel();
  const weights = benchWeights(modelName);
  // The random-weight ResNets run at 128 px here so 1,000 runs fit in a few minutes; the
  // leak check does not depend on the input size.
  const inputSize = Number(a.get('input-size') ?? (modelName === 'builtin' ? weights.size : 128));
  const mach = machine();
  console.log(`soak (${runtime}): ${describeMachine(mach)}; model ${weights.label} at ${inputSize} px; ${runs} runs through the protocol (engine in a worker)`);
  const images = ['chelsea.png', 'coffee.png'].map((n) => readFileSync(join(ROOT, 'assets', 'samples', n)));
  const engine = new BenchEngine();
  await engine.ok({ type: 'loadModel', source: { kind: 'path', path: weights.path }, runtime });
  // One warm-up run: backend kernels, sharp's thread pool and the wasm heap reach their working size.
  const send = (i: number) => {
    const b = images[i % images.length] as Buffer;
    // A fresh copy per run: the buffer is transferred (detached) to the worker.
    const bytes = new Uint8Array(b).buffer;
    return engine.ok({ type: 'run', image: { kind: 'bytes', name: `img${i % 2}.png`, bytes }, options: { inputSize } }, [bytes]);
  };
  await send(0);
  const samples: Array<{ run: number; numTensors: number; tensorMiB: number; rssMiB: number; heapMiB: number; externalMiB: number; msPerRun: number }> = [];
  const sample = async (run: number, msPerRun: number) => {
    const s = await engine.stats();
    samples.push({ run, numTensors: s.numTensors as number, tensorMiB: mib(s.numBytes as number), rssMiB: mib(s.rss as number), heapMiB: mib(s.heapUsed as number), externalMiB: mib(s.external as number), msPerRun });
  };
  await sample(0, 0);
  let t0 = performance.now();
  const perRun: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const t = performance.now();
    await send(i);
    perRun.push(performance.now() - t);
    if (i % Math.max(1, Math.floor(runs / 10)) === 0 || i === runs) {
      await sample(i, (performance.now() - t0) / Math.max(1, Math.floor(runs / 10)));
      t0 = performance.now();
    }
  }
  await engine.close();
  console.log(table(['after run', 'numTensors', 'tensor MiB', 'RSS MiB', 'JS heap MiB', 'external MiB', 'ms/run'],
    samples.map((s) => [s.run, s.numTensors, s.tensorMiB, s.rssMiB, s.heapMiB, s.externalMiB, s.msPerRun || '-'])));
  const first = samples[0] as (typeof samples)[number];
  const last = samples[samples.length - 1] as (typeof samples)[number];
  const mid = samples[Math.floor(samples.length / 2)] as (typeof samples)[number];
  console.log(`  numTensors ${first.numTensors} -> ${last.numTensors}; RSS ${first.rssMiB.toFixed(0)} -> ${last.rssMiB.toFixed(0)} MiB `
    + `(second half: ${(last.rssMiB - mid.rssMiB >= 0 ? '+' : '')}${(last.rssMiB - mid.rssMiB).toFixed(1)} MiB); median ${median(perRun).toFixed(1)} ms/run`);
  const path = writeResult(`soak-${runtime}`, { machine: mach, runtime, model: weights.label, inputSize, runs, samples, medianMsPerRun: median(perRun) });
  console.log(`  -> ${path}`);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
