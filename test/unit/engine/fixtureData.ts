// Test helpers for the PyTorch reference fixtures (test/fixtures/<case>/, made by
// tools/make_fixtures.py): case.json and the expected outputs in expected.safetensors.
// A minimal safetensors reader for the expected outputs only; checkpoints go through the
// engine's own readers.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import type { TensorRecord } from '../../../engine/checkpoints/types';
import type { NetSpec } from '../../../engine/nets/spec';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures');

export interface FixtureCase {
  name: string;
  spec: NetSpec;
  inputSize: [number, number];
  bypass: string[];
  affinityModule: string | null;
  modules: string[];
  taps: Record<string, number[]>;
}

/** Case directories that hold a case.json and expected outputs. */
export function fixtureCases(): string[] {
  if (!existsSync(FIXTURES)) return [];
  return readdirSync(FIXTURES)
    .filter((d) => existsSync(join(FIXTURES, d, 'case.json')) && existsSync(join(FIXTURES, d, 'expected.safetensors')))
    .sort();
}

export function readCase(name: string): FixtureCase {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'case.json'), 'utf8')) as FixtureCase;
}

/** Reads F32 / I64 tensors of a safetensors file into float32 records. */
export function readSafetensors(path: string): Map<string, TensorRecord> {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLen;
  const out = new Map<string, TensorRecord>();
  for (const [key, info] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    const bytes = buf.subarray(base + start, base + end);
    const copy = new Uint8Array(bytes); // aligned copy
    let data: Float32Array;
    if (info.dtype === 'F32') data = new Float32Array(copy.buffer);
    else if (info.dtype === 'I64') data = Float32Array.from(new BigInt64Array(copy.buffer), (v) => Number(v));
    else throw new Error(`fixture tensor ${key}: dtype ${info.dtype} not handled by the test reader`);
    out.set(key, { shape: info.shape, dtype: info.dtype === 'F32' ? 'float32' : 'int64', data });
  }
  return out;
}

/** NCHW [1, C, H, W] -> NHWC data. */
export function nchwToNhwc(rec: TensorRecord): { data: Float32Array; shape: [number, number, number, number] } {
  const [n, c, h, w] = rec.shape as [number, number, number, number];
  const data = new Float32Array(rec.data.length);
  for (let ci = 0; ci < c; ci++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) data[(y * w + x) * c + ci] = rec.data[(ci * h + y) * w + x] as number;
    }
  }
  return { data, shape: [n, h, w, c] };
}

/**
 * Every fetched output that the fixture has an expected value for is within `tol` of it;
 * returns how many were compared (the caller checks that some were).
 */
export function expectOutputsMatch(out: Map<string, { data: Float32Array }>, expected: Map<string, TensorRecord>, fetch: string[], tol = 1e-4): number {
  let compared = 0;
  for (const key of fetch) {
    const exp = expected.get(key);
    if (!exp) continue;
    expect(maxAbsDiff((out.get(key) as { data: Float32Array }).data, exp.data), key).toBeLessThanOrEqual(tol);
    compared++;
  }
  return compared;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/**
 * For CLI tests: console.error lines of the running test in `lines` (emptied before each
 * test, or by the test itself), console.log silenced.
 */
export function captureConsole(): { lines: string[]; text(): string } {
  const box = { lines: [] as string[], text: () => box.lines.join('\n') };
  beforeEach(() => {
    box.lines.length = 0;
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { box.lines.push(a.join(' ')); });
    vi.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());
  return box;
}
