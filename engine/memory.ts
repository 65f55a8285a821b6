// How much memory a run needs at a given input size, estimated before it starts, so that a
// size the machine cannot hold is refused with a message instead of ending in an internal
// error or the OOM killer (issue: big inputs). The estimate is an upper bound calibrated on
// ONNX Runtime (no memory arena):
//   activations: ACTIVATION_COPIES x every block's output (both runtimes free a value after
//     its last consumer; measured on a non-local ResNet-50 at 2048 px: 1.5 GB above the
//     process's baseline against 3.6 GB estimated);
//   affinities: a non-local block whose Q x K affinity fits the keep size holds it about
//     three times at its peak (the MatMul output, the softmax output, the copy handed to
//     JavaScript), and a run keeps one copy for query(); a larger one is computed in blocks
//     of query rows (modules/nonLocal.ts), and only a block is held, about three times.
// Measured (bench/bigInputs): built-in model at 1024 px (nl3 16384 x 16384, 1.07 GB), 3.2 GB
// above the baseline; the estimate is compared with the memory available when the model was
// loaded, so the baseline (Node, the runtime, the weights) is already counted out.

import { freemem } from 'node:os';
import { EngineError } from './errors';
import { EXPANSION, stageSizes } from './nets/resnet';
import type { NetSpec } from './nets/spec';
import { CHUNK_BYTES, KEEP_AFFINITY_BYTES } from './modules/nonLocal';

const FLOAT = 4;
const ACTIVATION_COPIES = 2;
const AFFINITY_PEAK_COPIES = 2.5;

export interface AffinitySize {
  module: string;
  queries: number;
  keys: number;
  /** The whole affinity's size. */
  bytes: number;
  /** Whether it is computed whole (and kept), or in blocks of rows. */
  whole: boolean;
  /** What the run holds of it at once: the whole affinity, or one block of rows. */
  heldBytes: number;
}

export interface MemoryEstimate {
  inputSize: number;
  activations: number;
  affinities: AffinitySize[];
  /** The whole run's estimated peak, bytes. */
  total: number;
}

/** The estimate for a square input of `inputSize` px; affinities above `keepBytes` run in row blocks. */
export function estimateRun(spec: NetSpec, inputSize: number, keepBytes = KEEP_AFFINITY_BYTES): MemoryEstimate {
  const sizes = stageSizes(spec, inputSize);
  const stem = spec.stem === 'imagenet' ? Math.floor((inputSize + 1) / 2) : inputSize;
  let activations = 3 * inputSize * inputSize * FLOAT + spec.baseWidth * stem * stem * FLOAT * 2;
  const affinities: AffinitySize[] = [];
  for (let stage = 1; stage <= 4; stage++) {
    const s = sizes[stage - 1] as number;
    const channels = spec.baseWidth * 2 ** (stage - 1) * EXPANSION[spec.block];
    activations += (spec.layers[stage - 1] as number) * ACTIVATION_COPIES * channels * s * s * FLOAT;
    for (const ins of spec.inserts.filter((b) => b.after === stage && (b.kind === 'nonlocal' || b.kind === 'selfattn' || b.kind === 'pam' || b.kind === 'cca'))) {
      const queries = s * s;
      const keys = ins.kind === 'nonlocal' && ins.subSample ? Math.floor(s / 2) ** 2 : queries;
      const bytes = queries * keys * FLOAT;
      // Self-attention (SAGAN, DANet) computes its affinity whole, at any size.
      const whole = bytes <= keepBytes || ins.kind !== 'nonlocal';
      const rowsPerBlock = Math.max(1, Math.floor(CHUNK_BYTES / FLOAT / keys));
      affinities.push({ module: ins.name, queries, keys, bytes, whole, heldBytes: whole ? bytes : Math.min(queries, rowsPerBlock) * keys * FLOAT });
    }
  }
  const largest = Math.max(0, ...affinities.map((a) => a.heldBytes));
  const kept = affinities.reduce((n, a) => n + (a.whole ? a.bytes : 0), 0);
  return { inputSize, activations, affinities, total: activations + AFFINITY_PEAK_COPIES * largest + kept };
}

/** The default limit: 90% of the memory the system has available now (taken once, when a model loads). */
export function defaultMemoryLimit(): number {
  return Math.floor(freemem() * 0.9);
}

/** "8G", "512M", "1.5GB", or plain bytes -> bytes. */
export function parseMemory(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * unit);
  return bytes > 0 ? bytes : null;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(0)} MB`;
  return `${(n / 2 ** 10).toFixed(0)} KB`;
}

/** The largest square input size from 8 to `below` whose estimate fits `limit`, or null. */
export function largestFitting(spec: NetSpec, below: number, limit: number, keepBytes = KEEP_AFFINITY_BYTES): number | null {
  let lo = 8;
  let hi = below;
  if (estimateRun(spec, lo, keepBytes).total > limit) return null;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (estimateRun(spec, mid, keepBytes).total <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Throws EngineError('too-large') naming what does not fit, before any work starts. */
export function checkMemory(spec: NetSpec, inputSize: number, limit: number, keepBytes = KEEP_AFFINITY_BYTES): MemoryEstimate {
  const est = estimateRun(spec, inputSize, keepBytes);
  if (est.total <= limit) return est;
  const biggest = [...est.affinities].sort((a, b) => b.heldBytes - a.heldBytes)[0];
  const what = biggest && biggest.heldBytes * 3 > est.activations
    ? `${biggest.module}'s attention is ${biggest.queries.toLocaleString('en')} x ${biggest.keys.toLocaleString('en')} positions (${formatBytes(biggest.heldBytes)} ${biggest.whole ? 'a copy' : 'a block of rows'})`
    : `the network's features take about ${formatBytes(est.activations)}`;
  const fits = largestFitting(spec, inputSize - 1, limit, keepBytes);
  throw new EngineError('too-large',
    `At ${inputSize} px ${what}: the run would need about ${formatBytes(est.total)}, more than the ${formatBytes(limit)} limit.`,
    `${fits ? `Use an input size of ${fits} px or less` : 'Free some memory'}, or raise the limit (--max-memory).`);
}
