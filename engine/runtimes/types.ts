// What a runtime offers the session: a runner for one attention graph (DESIGN.md "One
// graph, two runtimes"). Both runtimes take the same feeds and return the same outputs.

export { isRuntimeName, RUNTIME_NAMES, type RuntimeInfo, type RuntimeName } from '../types';
import type { RuntimeInfo } from '../types';

/** Float data in ONNX layout [N, C, H, W] ... or, for a 4-D input, NHWC data of that NCHW value. */
export interface FloatFeed {
  data: Float32Array;
  dims: number[];
  layout?: 'nchw' | 'nhwc';
}

export interface OutputTensor {
  data: Float32Array;
  dims: number[];
}

export interface RunRequest {
  input: FloatFeed;
  /** Modules switched off (their `<module>.bypass` inputs fed true; the rest false). */
  bypass: ReadonlySet<string>;
  /** Output names to fetch. */
  fetch: string[];
  /** Non-local modules' query indices for their `<module>.affinity_rows` outputs (default [0]). */
  queryRows?: ReadonlyMap<string, number[]>;
}

export interface GraphRunner {
  readonly info: RuntimeInfo;
  /** The most memory a run can use on this runtime, whatever the machine has (tfjs-wasm: its heap). */
  readonly memoryCap?: number;
  run(request: RunRequest): Promise<Map<string, OutputTensor>>;
  dispose(): Promise<void>;
  /** Something the user should know about the runs so far (a GPU lost, the CPU took over), once; then null. */
  takeNotice?(): string | null;
}

/** NHWC data of a [n, c, h, w] value -> NCHW data. */
export function nhwcToNchw(data: Float32Array, [n, c, h, w]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  const hw = (h as number) * (w as number);
  const C = c as number;
  for (let b = 0; b < (n as number); b++) {
    const base = b * hw * C;
    for (let p = 0; p < hw; p++) {
      for (let k = 0; k < C; k++) out[base + k * hw + p] = data[base + p * C + k] as number;
    }
  }
  return out;
}
