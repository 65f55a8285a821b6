// Element decoding shared by all formats: every stored dtype becomes float32, since the
// engine computes in float32 (int64 counters such as num_batches_tracked included).
import { EngineError } from '../errors';
import type { SourceDType } from './types';

export const ELEMENT_SIZE: Record<SourceDType, number> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** Decode `count` little-endian elements starting at bytes[0]. */
export function toFloat32(bytes: Uint8Array, dtype: SourceDType, count: number): Float32Array {
  const need = count * ELEMENT_SIZE[dtype];
  if (bytes.length < need) {
    throw new EngineError('bad-checkpoint', `tensor data is short: ${bytes.length} bytes for ${count} ${dtype} values`);
  }
  // Typed-array views need aligned offsets; copy when the data is not aligned.
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice(0, need);
  const { buffer, byteOffset } = aligned;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer.slice(byteOffset, byteOffset + need));
    case 'float64':
      return Float32Array.from(new Float64Array(buffer, byteOffset, count));
    case 'int32':
      return Float32Array.from(new Int32Array(buffer, byteOffset, count));
    case 'int16':
      return Float32Array.from(new Int16Array(buffer, byteOffset, count));
    case 'int8':
      return Float32Array.from(new Int8Array(buffer, byteOffset, count));
    case 'uint8':
    case 'bool':
      return Float32Array.from(new Uint8Array(buffer, byteOffset, count));
    case 'int64': {
      const words = new Int32Array(buffer, byteOffset, count * 2);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = words[2 * i + 1]! * 4294967296 + (words[2 * i]! >>> 0);
      return out;
    }
    case 'bfloat16': {
      // bfloat16 is the top half of a float32.
      const halves = new Uint16Array(buffer, byteOffset, count);
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'float16': {
      const halves = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(halves[i]!);
      return out;
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Gather a strided view (PyTorch storage offset + strides) into a dense row-major array. */
export function gatherStrided(storage: Float32Array, offset: number, shape: number[], stride: number[]): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  let contiguous = true;
  for (let d = shape.length - 1, expect = 1; d >= 0; d--) {
    if (shape[d]! > 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d]!;
  }
  if (contiguous) {
    if (offset + count > storage.length) throw new EngineError('bad-checkpoint', 'a tensor view reaches past the end of its storage');
    return offset === 0 && count === storage.length ? storage : storage.slice(offset, offset + count);
  }
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let src = offset;
    for (let d = 0; d < shape.length; d++) src += index[d]! * stride[d]!;
    if (src >= storage.length) throw new EngineError('bad-checkpoint', 'a tensor view reaches past the end of its storage');
    out[i] = storage[src]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Names of tensors holding NaN or Inf: they load, with a warning. */
export function nonFiniteWarning(tensors: Map<string, { data: Float32Array }>): string[] {
  const bad: string[] = [];
  for (const [key, t] of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) {
        bad.push(key);
        break;
      }
    }
  }
  if (bad.length === 0) return [];
  const shown = bad.slice(0, 5).join(', ') + (bad.length > 5 ? `, and ${bad.length - 5} more` : '');
  return [`${bad.length} tensor(s) contain NaN or Inf values: ${shown}. Maps and logits from them may be meaningless.`];
}
