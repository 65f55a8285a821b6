// safetensors (huggingface/safetensors format): u64 little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}, then the
// data section. Offsets are relative to the data section; every one is checked.
import { EngineError } from '../errors';
import { ELEMENT_SIZE, nonFiniteWarning, toFloat32 } from './dtypes';
import { stripPrefixes } from './keyMap';
import type { ByteSource, CheckpointContents, CheckpointReader, LoadProgress, SourceDType, StateDict } from './types';

const DTYPES: Record<string, SourceDType> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
/** Headers beyond this are not weights files (the reference implementation caps at 100 MB). */
const MAX_HEADER = 100_000_000;

interface HeaderEntry {
  name: string;
  dtype: SourceDType;
  shape: number[];
  begin: number;
  end: number;
}

function bad(source: ByteSource, why: string): never {
  throw new EngineError('bad-checkpoint', `${source.name}: not a valid safetensors file: ${why}`);
}

function headerLength(head: Uint8Array): number {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return view.getUint32(4, true) * 4294967296 + view.getUint32(0, true);
}

export const safetensorsReader: CheckpointReader = {
  format: 'safetensors',

  match(head: Uint8Array): boolean {
    if (head.length < 10) return false;
    const n = headerLength(head);
    return n >= 2 && n <= MAX_HEADER && head[8] === 0x7b; // '{'
  },

  async open(source: ByteSource, onProgress?: LoadProgress): Promise<CheckpointContents> {
    if (source.size < 8) bad(source, `the file has ${source.size} bytes, fewer than the 8-byte header length`);
    const n = headerLength(await source.read(0, 8));
    if (n > MAX_HEADER) bad(source, `header length ${n} is implausible`);
    if (8 + n > source.size) bad(source, `header claims ${n} bytes but the file has only ${source.size - 8} after the length (truncated)`);
    const entries = parseHeader(source, await source.read(8, n));
    const dataStart = 8 + n;
    const dataSize = source.size - dataStart;
    for (const e of entries) {
      if (e.end > dataSize) {
        bad(source, `header claims more data than the file has: ${e.name} ends at byte ${e.end} of the data section, which has ${dataSize} bytes (truncated?)`);
      }
    }
    const tensors: StateDict = new Map();
    const total = entries.reduce((s, e) => s + (e.end - e.begin), 0);
    let done = 0;
    for (const e of entries) {
      const count = e.shape.reduce((a, b) => a * b, 1);
      const bytes = await source.read(dataStart + e.begin, e.end - e.begin);
      tensors.set(e.name, { shape: e.shape, dtype: e.dtype, data: toFloat32(bytes, e.dtype, count) });
      done += e.end - e.begin;
      onProgress?.(done, total);
    }
    const stripped = stripPrefixes(tensors);
    return { format: 'safetensors', tensors: stripped, meta: {}, warnings: nonFiniteWarning(stripped) };
  },
};

function parseHeader(source: ByteSource, raw: Uint8Array): HeaderEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    bad(source, 'the header is not valid JSON (truncated or not safetensors)');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad(source, 'the header is not a JSON object');
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof v?.dtype === 'string' ? DTYPES[v.dtype] : undefined;
    if (!dtype) bad(source, `tensor ${name} has unsupported dtype ${JSON.stringify(v?.dtype)}`);
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(source, `tensor ${name} has a bad shape`);
    const offsets = v.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      bad(source, `tensor ${name} has bad data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * ELEMENT_SIZE[dtype];
    if (end < begin || end - begin !== expected) {
      bad(source, `tensor ${name}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} ${JSON.stringify(shape)} needs ${expected}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  return entries.sort((a, b) => a.begin - b.begin);
}
