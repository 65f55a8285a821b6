// A minimal ZIP reader over a ByteSource: central directory (zip64 included) and
// stored or deflated entries. PyTorch's writer stores entries uncompressed, 64-byte aligned.
import { inflateRawSync } from 'node:zlib';
import { EngineError } from '../errors';
import type { ByteSource } from './types';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

function bad(source: ByteSource, why: string): never {
  throw new EngineError('bad-checkpoint', `${source.name}: not a readable PyTorch zip checkpoint: ${why}`);
}

function u64(view: DataView, at: number): number {
  const n = view.getUint32(at + 4, true) * 4294967296 + view.getUint32(at, true);
  if (!Number.isSafeInteger(n)) throw new EngineError('bad-checkpoint', 'zip: a 64-bit size is too large');
  return n;
}

export async function readZipDirectory(source: ByteSource): Promise<Map<string, ZipEntry>> {
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  const tailLen = Math.min(source.size, 22 + 65535 + 20);
  const tailStart = source.size - tailLen;
  const tail = await source.read(tailStart, tailLen);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad(source, 'no end-of-central-directory record (the file is truncated)');
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  const loc = eocd - 20;
  if (loc >= 0 && tv.getUint32(loc, true) === EOCD64_LOCATOR_SIG) {
    const at = u64(tv, loc + 8);
    if (at + 56 > source.size) bad(source, 'the zip64 end record lies past the end of the file (truncated)');
    const rec = await source.read(at, 56);
    const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
    if (rv.getUint32(0, true) !== EOCD64_SIG) bad(source, 'broken zip64 end record');
    count = u64(rv, 32);
    cdSize = u64(rv, 40);
    cdOffset = u64(rv, 48);
  }
  if (cdOffset + cdSize > source.size) bad(source, `the central directory (at ${cdOffset}, ${cdSize} bytes) lies past the end of the file (truncated)`);
  const cd = await source.read(cdOffset, cdSize);
  const cv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cv.getUint32(p, true) !== CENTRAL_SIG) bad(source, `central directory entry ${i} is corrupt`);
    const method = cv.getUint16(p + 10, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen > cd.length) bad(source, `central directory entry ${i} is cut short`);
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extra field: the 64-bit values, in order, for those fields saturated at 0xffffffff.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) { size = u64(cv, q); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = u64(cv, q); q += 8; }
        if (localHeaderOffset === 0xffffffff) { localHeaderOffset = u64(cv, q); q += 8; }
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Where an entry's data starts: the local header's own name/extra lengths decide. */
export async function entryDataOffset(source: ByteSource, entry: ZipEntry): Promise<number> {
  if (entry.localHeaderOffset + 30 > source.size) bad(source, `entry ${entry.name} lies past the end of the file (truncated)`);
  const head = await source.read(entry.localHeaderOffset, 30);
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (hv.getUint32(0, true) !== LOCAL_SIG) bad(source, `entry ${entry.name} has no local header`);
  const start = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
  if (start + entry.compressedSize > source.size) {
    bad(source, `entry ${entry.name} needs ${entry.compressedSize} bytes at ${start}, past the end of the ${source.size}-byte file (truncated)`);
  }
  return start;
}

export async function readEntry(source: ByteSource, entry: ZipEntry): Promise<Uint8Array> {
  const start = await entryDataOffset(source, entry);
  const raw = await source.read(start, entry.compressedSize);
  if (entry.method === 0) return raw;
  if (entry.method === 8) {
    try {
      return new Uint8Array(inflateRawSync(raw));
    } catch {
      bad(source, `entry ${entry.name} does not inflate`);
    }
  }
  return bad(source, `entry ${entry.name} uses compression method ${entry.method}, which is not supported`);
}
