// PNG text metadata (PNG 1.2 / ISO 15948 sections 11.3.4): sharp writes no text chunks,
// so exported PNGs get theirs here, inserted right after IHDR. ASCII values go in tEXt;
// anything else in uncompressed iTXt (UTF-8). Deterministic: same entries, same bytes.

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as PNG uses it) of the concatenated buffers. */
export function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const buf of parts) {
    for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(head.subarray(4), data), 0);
  return Buffer.concat([head, data, crc]);
}

/** PNG keywords: 1-79 printable Latin-1 characters, no leading/trailing/double spaces. */
function checkKeyword(key: string): void {
  const printable = /^[\x20-\x7e]+$/.test(key);
  if (!printable || key.length > 79 || key.startsWith(' ') || key.endsWith(' ') || key.includes('  ')) {
    throw new RangeError(`invalid PNG text keyword ${JSON.stringify(key)}`);
  }
}

function textChunk(key: string, value: string): Buffer {
  checkKeyword(key);
  if (/^[\x20-\x7e\n]*$/.test(value)) {
    return chunk('tEXt', Buffer.concat([Buffer.from(key, 'latin1'), Buffer.from([0]), Buffer.from(value, 'latin1')]));
  }
  // iTXt: keyword, NUL, compression flag 0, method 0, language tag "", NUL, translated keyword "", NUL, UTF-8 text.
  return chunk('iTXt', Buffer.concat([
    Buffer.from(key, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(value.replace(/\0/g, ''), 'utf8'),
  ]));
}

/** Returns a new PNG with one text chunk per entry (in the given order) after IHDR. */
export function insertTextChunks(png: Uint8Array, entries: ReadonlyArray<readonly [string, string]>): Buffer {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(SIGNATURE) || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error('not a PNG stream (no signature and IHDR)');
  }
  const ihdrEnd = 8 + 12 + buf.readUInt32BE(8);
  return Buffer.concat([buf.subarray(0, ihdrEnd), ...entries.map(([k, v]) => textChunk(k, v)), buf.subarray(ihdrEnd)]);
}

export interface PngInfo {
  width: number;
  height: number;
  /** Text chunks in file order (tEXt, iTXt; zTXt is not read). */
  text: Array<[string, string]>;
  /** Chunk types in order, CRCs checked. */
  chunks: string[];
}

/** Reads dimensions and text chunks back; throws on a bad signature or CRC. */
export function readPngInfo(png: Uint8Array): PngInfo {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG stream');
  const info: PngInfo = { width: 0, height: 0, text: [], chunks: [] };
  let at = 8;
  while (at + 12 <= buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + len);
    if (crc32(buf.subarray(at + 4, at + 8), data) !== buf.readUInt32BE(at + 8 + len)) throw new Error(`bad CRC in ${type} chunk`);
    info.chunks.push(type);
    if (type === 'IHDR') { info.width = data.readUInt32BE(0); info.height = data.readUInt32BE(4); }
    if (type === 'tEXt') {
      const nul = data.indexOf(0);
      info.text.push([data.toString('latin1', 0, nul), data.toString('latin1', nul + 1)]);
    }
    if (type === 'iTXt') {
      const nul = data.indexOf(0);
      let p = nul + 3;
      p = data.indexOf(0, p) + 1; // language tag
      p = data.indexOf(0, p) + 1; // translated keyword
      info.text.push([data.toString('latin1', 0, nul), data.toString('utf8', p)]);
    }
    at += 12 + len;
    if (type === 'IEND') break;
  }
  return info;
}
