// What every checkpoint reader produces: a flat state dict of float tensors keyed by
// PyTorch names (after `module.` stripping), plus what the file turned out to be.

export type SourceDType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export interface TensorRecord {
  shape: number[];
  /** dtype as stored in the file. */
  dtype: SourceDType;
  /** Values converted to float32 (int64 counters such as num_batches_tracked included). */
  data: Float32Array;
}

export type StateDict = Map<string, TensorRecord>;

export interface CheckpointContents {
  format: 'safetensors' | 'torch-zip' | 'torch-legacy';
  tensors: StateDict;
  /** Non-tensor entries found beside the state dict (epoch, arch, best_prec1...), as plain JSON values. */
  meta: Record<string, unknown>;
  warnings: string[];
}

/** Random access to the checkpoint bytes: a file on disk or bytes in memory. */
export interface ByteSource {
  readonly size: number;
  readonly name: string;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export type LoadProgress = (bytesRead: number, totalBytes: number) => void;

export interface CheckpointReader {
  readonly format: CheckpointContents['format'];
  /** Cheap test on the first bytes of the file (at least 64 bytes, fewer if the file is shorter). */
  match(head: Uint8Array, name: string): boolean;
  open(source: ByteSource, onProgress?: LoadProgress): Promise<CheckpointContents>;
}
