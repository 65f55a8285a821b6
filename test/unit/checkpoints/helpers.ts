// Shared by the checkpoint tests: the fixture list and small writers for crafted files.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import type { NetSpec } from '../../../engine/nets/spec';

export const FIXTURES = fileURLToPath(new URL('../../fixtures', import.meta.url));
export const FORMATS = ['model.safetensors', 'model.pth', 'model.pth.tar'] as const;

export interface CaseInfo {
  name: string;
  spec: NetSpec;
  numTensors: number;
  bypass: string[];
  affinityModule: string | null;
  inputSize: [number, number];
}

export function fixtureCases(): CaseInfo[] {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(FIXTURES, d.name, 'case.json')))
    .map((d) => JSON.parse(readFileSync(join(FIXTURES, d.name, 'case.json'), 'utf8')) as CaseInfo);
}

export function fixtureBytes(name: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name, file)));
}

const u16 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff];
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const u64 = (n: number): number[] => [...u32(n % 4294967296), ...u32(Math.floor(n / 4294967296))];

/**
 * A ZIP writer for crafted test files: stored or deflated entries, optionally with zip64
 * extra fields and end records (as a >4 GB checkpoint would have) even though it is small.
 */
export function buildZip(entries: { name: string; data: Uint8Array }[], opts: { zip64?: boolean; deflate?: boolean } = {}): Uint8Array {
  const parts: number[] = [];
  const central: number[] = [];
  const enc = new TextEncoder();
  for (const e of entries) {
    const name = enc.encode(e.name);
    const body = opts.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const crc = crc32(e.data);
    const offset = parts.length;
    const method = opts.deflate ? 8 : 0;
    const big = opts.zip64 ? 0xffffffff : -1;
    const extra = opts.zip64 ? [...u16(1), ...u16(24), ...u64(e.data.length), ...u64(body.length), ...u64(offset)] : [];
    parts.push(...u32(0x04034b50), ...u16(45), ...u16(0), ...u16(method), ...u16(0), ...u16(0), ...u32(crc),
      ...u32(big >= 0 ? big : body.length), ...u32(big >= 0 ? big : e.data.length), ...u16(name.length), ...u16(0), ...name, ...body);
    central.push(...u32(0x02014b50), ...u16(45), ...u16(45), ...u16(0), ...u16(method), ...u16(0), ...u16(0), ...u32(crc),
      ...u32(big >= 0 ? big : body.length), ...u32(big >= 0 ? big : e.data.length), ...u16(name.length), ...u16(extra.length),
      ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(big >= 0 ? big : offset), ...name, ...extra);
  }
  const cdOffset = parts.length;
  parts.push(...central);
  if (opts.zip64) {
    const eocd64 = parts.length;
    parts.push(...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0), ...u64(entries.length),
      ...u64(entries.length), ...u64(central.length), ...u64(cdOffset));
    parts.push(...u32(0x07064b50), ...u32(0), ...u64(eocd64), ...u32(1));
    parts.push(...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(0xffff), ...u16(0xffff), ...u32(0xffffffff), ...u32(0xffffffff), ...u16(0));
  } else {
    parts.push(...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(entries.length), ...u16(entries.length), ...u32(central.length),
      ...u32(cdOffset), ...u16(0));
  }
  return Uint8Array.from(parts);
}

/** safetensors bytes from raw little-endian payloads. */
export function buildSafetensors(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>, headerOverride?: object): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(headerOverride ?? header));
  json = Uint8Array.from([...json, ...new Array<number>((8 - (json.length % 8)) % 8).fill(0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/** Latin-1 text to bytes: pickles are easiest to write as escaped strings. */
export function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
