// Shared helpers for the hardening tests: seeded randomness, tiny file writers (PNG chunks,
// stored ZIP, pickles) and EngineError matchers.

import { deflateRawSync, deflateSync, constants as zc } from 'node:zlib';
import { EngineError, type ErrorCode } from '../../../engine/errors';

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** Awaits `p` and returns the EngineError it rejects with (fails if it resolves or throws something else). */
export async function engineError(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof EngineError) return err;
    throw new Error(`expected an EngineError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected an EngineError, but the call succeeded');
}

/** An EngineError of `code` whose message matches `message` and reads like a sentence (no "undefined"/"[object"). */
export function expectUserError(err: EngineError, code: ErrorCode, message: RegExp): void {
  if (err.code !== code) throw new Error(`expected code ${code}, got ${err.code}: ${err.message}`);
  if (!message.test(err.message)) throw new Error(`message ${JSON.stringify(err.message)} does not match ${message}`);
  if (/undefined|\[object |NaN/.test(err.message)) throw new Error(`message is not user-facing: ${err.message}`);
}

// --- CRC32 (PNG, ZIP) ---
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

export function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A valid, fully decodable width x height 8-bit RGB PNG of one solid black colour, built
 * without ever holding the pixels: the zlib stream repeats one deflate block that encodes
 * `rowsPerBlock` all-zero rows (filter 0, black pixels), and the Adler-32 of n zero bytes
 * is known in closed form. A 30000 x 30000 PNG (2.7 GB of pixels) comes out ~2.6 MB.
 */
export function solidBlackPng(width: number, height: number, rowsPerBlock = 100): Buffer {
  const rowBytes = 1 + width * 3;
  if (height % rowsPerBlock !== 0) throw new Error('height must be a multiple of rowsPerBlock');
  const block = deflateRawSync(Buffer.alloc(rowBytes * rowsPerBlock), { level: 9, finishFlush: zc.Z_SYNC_FLUSH });
  const last = deflateRawSync(Buffer.alloc(0)); // final empty block
  const total = rowBytes * height;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((total % 65521) << 16) | 1) >>> 0);
  const blocks: Buffer[] = [Buffer.from([0x78, 0xda])];
  for (let i = 0; i < height / rowsPerBlock; i++) blocks.push(block);
  blocks.push(last, adler);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', Buffer.concat(blocks)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A 16-bit-per-sample RGB PNG written by hand (big-endian samples, filter 0): the real thing, not a converted 8-bit image. */
export function png16Rgb(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 6);
    for (let x = 0; x < width; x++) pixel(x, y).forEach((v, c) => row.writeUInt16BE(v, 1 + x * 6 + c * 2));
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([16, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.concat(rows))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

// --- ZIP (stored entries), enough for torch.save-shaped archives ---
export interface ZipInput {
  name: string;
  data: Uint8Array;
}

export function zipStored(entries: ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, Buffer.from(e.data));
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

// --- Pickle opcodes (protocol 2), for hostile pickles ---
export const pickle = {
  proto: (): Buffer => Buffer.from([0x80, 0x02]),
  global: (module: string, name: string): Buffer => Buffer.from(`c${module}\n${name}\n`, 'latin1'),
  str: (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return Buffer.concat([Buffer.from([0x58]), len, b]);
  },
  tuple1: (): Buffer => Buffer.from([0x85]),
  reduce: (): Buffer => Buffer.from([0x52]),
  stop: (): Buffer => Buffer.from([0x2e]),
};

/** A pickle that, run by Python's pickle.load, would call module.name(arg). */
export function callPickle(module: string, name: string, arg: string): Buffer {
  return Buffer.concat([pickle.proto(), pickle.global(module, name), pickle.str(arg), pickle.tuple1(), pickle.reduce(), pickle.stop()]);
}

// --- safetensors ---
export interface RawTensor {
  shape: number[];
  data: Float32Array;
}

/** F32 safetensors bytes for a name -> tensor map (8-byte aligned data section). */
export function safetensorsBytes(tensors: Map<string, RawTensor> | Array<[string, RawTensor]>): Buffer {
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let head = JSON.stringify(header);
  head += ' '.repeat((8 - (head.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  return Buffer.concat([len, Buffer.from(head), ...chunks]);
}
