// Time and peak memory against input size (issue: big inputs), for the built-in model and a
// non-local ResNet-50, on both runtimes, with the largest affinity and the engine's own
// estimate beside them. One child process per cell, so each peak RSS is that run's alone.
//
//   node dist/bench/bigInputs.js [--sizes 128,256,512,768,1024,1536,2048] [--runtimes ort,tfjs] [--models builtin,nl-resnet50]

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetSpec } from '../engine/nets/spec';
import { estimateRun, formatBytes } from '../engine/memory';
import { isRuntimeName } from '../engine/runtimes';
import { Session } from '../engine/session';
import { args, describeMachine, machine, ROOT, table, writeResult } from './lib';
import { normaliseSpec } from './spec';
import { BENCH_MODELS, benchWeights } from './weights';

interface Cell {
  model: string; runtime: string; size: number; coldMs?: number; warmMs?: number; queryMs?: number;
  /** RSS after loading (before any run) and the process's peak, MiB. */
  baseMiB?: number; peakMiB?: number;
  estimate: number; activations: number; affinity: number; whole: boolean; refused?: string;
}

async function worker(model: string, runtime: string, size: number): Promise<Cell> {
  if (!isRuntimeName(runtime)) throw new Error(`unknown runtime ${runtime}`);
  const w = benchWeights(model);
  const job = BENCH_MODELS[model];
  const session = await Session.load({ kind: 'path', path: w.path }, { runtime, ...(job ? { arch: normaliseSpec(job.spec) } : {}) });
  const est = estimateRun(session.spec as NetSpec, size);
  const largest = [...est.affinities].sort((x, y) => y.bytes - x.bytes)[0];
  const cell: Cell = {
    model: w.label, runtime, size, estimate: est.total, activations: est.activations,
    affinity: largest?.bytes ?? 0, whole: largest?.whole ?? true, baseMiB: process.memoryUsage().rss / 2 ** 20,
  };
  const image = { kind: 'path' as const, path: join(ROOT, 'assets', 'samples', 'chelsea.png') };
  try {
    let t = performance.now();
    await session.run({ image, options: { inputSize: size } });
    cell.coldMs = performance.now() - t;
    t = performance.now();
    const r = await session.run({ image, options: { inputSize: size } });
    cell.warmMs = performance.now() - t;
    // A click on the middle of the image: the kept row, or the row computed alone.
    if (largest) {
      t = performance.now();
      await session.query(r.runId, largest.module, { x: r.transform.origWidth / 2, y: r.transform.origHeight / 2 });
      cell.queryMs = performance.now() - t;
    }
  } catch (err) {
    cell.refused = err instanceof Error ? err.message : String(err);
  } finally {
    session.dispose();
  }
  cell.peakMiB = process.resourceUsage().maxRSS / 1024;
  return cell;
}

async function main(): Promise<void> {
  const a = args();
  if (a.has('worker')) {
    const [model, runtime, size] = (a.get('worker') as string).split(':');
    process.stdout.write(`@@RESULT ${JSON.stringify(await worker(model as string, runtime as string, Number(size)))}\n`);
    return;
  }
  const sizes = (a.get('sizes') ?? '128,256,512,768,1024,1536,2048').split(',').map(Number);
  const runtimes = (a.get('runtimes') ?? 'ort,tfjs').split(',');
  const models = (a.get('models') ?? 'builtin,nl-resnet50').split(',');
  const mach = machine();
  console.log(`bigInputs: ${describeMachine(mach)}; cold = first run at that size after loading, warm = the second; default memory limit`);
  const cells: Cell[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const model of models) {
    for (const runtime of runtimes) {
      for (const size of sizes) {
        const child = spawnSync(process.execPath, [self, '--worker', `${model}:${runtime}:${size}`], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 600_000 });
        const line = child.stdout?.split('\n').find((l) => l.startsWith('@@RESULT '));
        if (!line) {
          console.log(`  ${model} ${runtime} ${size}: failed (${child.signal ?? child.status}): ${(child.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`);
          continue;
        }
        cells.push(JSON.parse(line.slice('@@RESULT '.length)) as Cell);
      }
    }
  }
  // The bound: the run's own memory (peak minus the loaded process) <= activations + 2 x the largest affinity.
  const bound = (c: Cell): number => c.activations + 2 * c.affinity;
  console.log(table(['model', 'runtime', 'input', 'largest affinity', 'computed', 'estimate', 'loaded MiB', 'peak MiB', 'run MiB', 'activations + 2x affinity', 'cold ms', 'warm ms', 'query ms', 'result'],
    cells.map((c) => [c.model, c.runtime, c.size, formatBytes(c.affinity), c.affinity ? (c.whole ? 'whole' : 'row blocks') : '-', formatBytes(c.estimate),
      c.baseMiB ?? '-', c.peakMiB ?? '-', c.refused || c.peakMiB === undefined || c.baseMiB === undefined ? '-' : c.peakMiB - c.baseMiB, formatBytes(bound(c)),
      c.coldMs ?? '-', c.warmMs ?? '-', c.queryMs ?? '-', c.refused ? `refused: ${c.refused.replace(/^At \d+ px /, '').slice(0, 70)}` : 'ok'])));
  writeResult('bigInputs', { machine: mach, cells });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
