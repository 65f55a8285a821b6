// The messages between bench/forward.ts (orchestrator) and bench/forwardEngine.ts (one
// runtime per child process): shared types only, so neither imports the other.

import type { ModelJob } from './models';
import type { Timing } from './lib';

export interface EngineModel {
  name: string;
  total: Timing;
  loadMs: number;
  /** The first forward pass after loading (operator creation and weight packing). */
  coldMs: number;
  /** Paired runs: PyTorch (forward_with_taps) and the engine alternated one pass at a time. */
  paired?: { torchMs: number[]; engineMs: number[]; ratios: number[] };
  taps: number;
  tapBytes: number;
  skipped?: string;
}

export interface EngineOut {
  /** `ort`, `tfjs-wasm`, `tfjs-cpu`. */
  engine: string;
  detail: string;
  threads: number;
  peak: { n: number; gflops: number };
  models: EngineModel[];
}

export interface Job {
  threads: number;
  warmup: number;
  runs: number;
  outDir: string;
  models: Array<ModelJob & { weights?: string }>;
  peak: { n: number; runs: number };
  /** Largest FLOP count an engine is run on (the plain-JS cpu backend takes ~10 s per GFLOP). */
  maxGflops?: number;
  /** Alternate single PyTorch and engine passes (bench/torch_forward.py --serve). */
  paired?: boolean;
}
