// A 2 GB torch checkpoint made in milliseconds: the fixture's zip plus a 2 GiB stored
// entry (an optimizer buffer the reader must skip), written sparse with ftruncate.

import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 as zcrc32 } from 'node:zlib';
import { BufferSource } from '../../../engine/checkpoints';
import { readEntry, readZipDirectory } from '../../../engine/checkpoints/zip';

const CASE = join(__dirname, '..', '..', 'fixtures', 'cbam-official-basic');
export const BIG = 2 * 2 ** 30; // 2 GiB of zeros

/** The fixture's torch zip plus a 2 GiB stored entry, written sparse. */
export async function writeBigZip(path: string): Promise<number> {
  const src = readFileSync(join(CASE, 'model.pth'));
  const source = new BufferSource(src, 'model.pth');
  const entries = [...(await readZipDirectory(source)).values()];
  const prefix = (entries.find((e) => e.name.endsWith('data.pkl'))?.name ?? 'archive/data.pkl').replace(/data\.pkl$/, '');
  const small = await Promise.all(entries.map(async (e) => ({ name: e.name, data: await readEntry(source, e) })));
  // CRC of 2 GiB of zeros, computed natively in a few hundred ms.
  const zeros = Buffer.alloc(64 * 2 ** 20);
  let bigCrc = 0;
  for (let i = 0; i < BIG / zeros.length; i++) bigCrc = zcrc32(zeros, bigCrc);

  const fd = openSync(path, 'w');
  const central: Buffer[] = [];
  let at = 0;
  const put = (b: Uint8Array): void => {
    writeSync(fd, b, 0, b.length, at);
    at += b.length;
  };
  const add = (name: string, size: number, crc: number, data: Uint8Array | null): void => {
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(size, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt32LE(at, 42);
    central.push(c, nameBytes);
    put(local);
    put(nameBytes);
    if (data) put(data);
    else at += size; // the hole: ftruncate below makes it real (zeros) without writing
  };
  for (const e of small) add(e.name, e.data.length, zcrc32(e.data), e.data);
  add(`${prefix}data/optimizer_momentum`, BIG, bigCrc, null);
  ftruncateSync(fd, at);
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(small.length + 1, 8);
  eocd.writeUInt16LE(small.length + 1, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(at, 16);
  put(cd);
  put(eocd);
  closeSync(fd);
  return at;
}
