// WebSocket framing of protocol messages (format: the header of engine/protocol.ts).
// Lives in common/ because both ends need the same code: the engine's WebSocket host and
// the page's client. common/ is pure (no Node, DOM-free apart from TextEncoder/Decoder,
// no imports from engine/, main/ or renderer/), which lint enforces.

const ALIGN = 8;
const MAX_DEPTH = 32;

type Bin = Float32Array | Uint8Array | ArrayBuffer;
type Tag = 'f32' | 'u8' | 'ab';

function tagOf(v: unknown): Tag | null {
  if (v instanceof Float32Array) return 'f32';
  if (v instanceof Uint8Array) return 'u8';
  if (v instanceof ArrayBuffer) return 'ab';
  return null;
}

function bytesOf(v: Bin): Uint8Array {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** A text frame (no arrays) or a binary frame. */
export function encodeFrame(msg: unknown): string | Uint8Array {
  const bins: Bin[] = [];
  const header = JSON.stringify(msg, function replacer(this: unknown, _key, value: unknown) {
    const tag = tagOf(value);
    if (!tag) return value;
    bins.push(value as Bin);
    return { $bin: bins.length - 1, t: tag };
  });
  if (bins.length === 0) return header;
  // The header's byte length depends on the offsets it lists: lay out with a fixed-width
  // guess, then pad the header with spaces (valid JSON) to the guessed length.
  const pad = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
  const enc = new TextEncoder();
  let reserve = enc.encode(header).length + 32 + bins.length * 24;
  for (;;) {
    const table: Array<[number, number]> = [];
    let offset = pad(4 + reserve);
    for (const b of bins) {
      table.push([offset, b.byteLength]);
      offset = pad(offset + b.byteLength);
    }
    const full = enc.encode(`{"m":${header},"b":${JSON.stringify(table)}}`);
    if (full.length > reserve) { reserve = full.length + 16; continue; }
    const frame = new Uint8Array(offset);
    new DataView(frame.buffer).setUint32(0, reserve, true);
    frame.fill(0x20, 4, 4 + reserve);
    frame.set(full, 4);
    bins.forEach((b, i) => frame.set(bytesOf(b), table[i]![0]));
    return frame;
  }
}

/** Parses a text or binary frame; throws an Error saying what is wrong. Arrays are fresh copies. */
export function decodeFrame(data: string | ArrayBuffer | Uint8Array): unknown {
  if (typeof data === 'string') return JSON.parse(data);
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < 4) throw new Error('frame shorter than its header length');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + headerLength > bytes.length) throw new Error('frame header runs past the frame');
  const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)));
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { b?: unknown }).b)) {
    throw new Error('frame header lacks its array table');
  }
  const { m, b: table } = parsed as { m: unknown; b: unknown[] };
  const revive = (v: unknown, depth: number): unknown => {
    if (depth > MAX_DEPTH) throw new Error('frame nests too deeply');
    if (Array.isArray(v)) return v.map((x) => revive(x, depth + 1));
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    if (typeof o.$bin === 'number') return binary(o.$bin, o.t);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) if (k !== '__proto__') out[k] = revive(x, depth + 1);
    return out;
  };
  const binary = (index: number, tag: unknown): Bin => {
    const entry = table[index];
    if (!Array.isArray(entry) || entry.length !== 2) throw new Error(`frame has no array ${index}`);
    const [offset, length] = entry as [unknown, unknown];
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || (offset as number) < 4 + headerLength
      || (length as number) < 0 || (offset as number) + (length as number) > bytes.length) {
      throw new Error(`frame array ${index} lies outside the frame`);
    }
    // A real copy (Node's Buffer#slice would share memory with the socket's buffers).
    const copy = new Uint8Array(length as number);
    copy.set(bytes.subarray(offset as number, (offset as number) + (length as number)));
    switch (tag) {
      case 'f32':
        if ((length as number) % 4 !== 0) throw new Error(`frame array ${index} is not whole float32s`);
        return new Float32Array(copy.buffer);
      case 'u8': return copy;
      case 'ab': return copy.buffer;
      default: throw new Error(`frame array ${index} has unknown type ${String(tag)}`);
    }
  };
  return revive(m, 0);
}
