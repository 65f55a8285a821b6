// ByteSources: random access to checkpoint bytes, so a 2 GB file is read tensor by
// tensor instead of being loaded whole.
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { EngineError } from '../errors';
import type { ByteSource } from './types';

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array, readonly name = 'buffer') {
    this.size = bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }

  async close(): Promise<void> {}
}

export class FileSource implements ByteSource {
  private constructor(private readonly handle: FileHandle, readonly size: number, readonly name: string) {}

  static async open(path: string): Promise<FileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw new EngineError('io', `cannot open ${path}: ${(err as Error).message}`);
    }
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new EngineError('io', `${path} is not a regular file`);
    }
    return new FileSource(handle, stat.size, basename(path));
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new EngineError('bad-checkpoint', `${this.name}: file ended early (it changed while being read?)`);
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function checkRange(source: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new EngineError(
      'bad-checkpoint',
      `${source.name}: the file is truncated or corrupt (needs bytes ${offset}..${offset + length}, but it has ${source.size})`,
    );
  }
}
