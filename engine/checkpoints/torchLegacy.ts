// PyTorch legacy checkpoints (torch < 1.6, or _use_new_zipfile_serialization=False; the
// official CBAM .pth.tar): a run of pickles (magic number, protocol version, sys_info,
// the object), then a pickled list of storage keys, then each storage as an int64
// element count followed by its raw little-endian bytes, in that list's order.
import { EngineError } from '../errors';
import { ELEMENT_SIZE, nonFiniteWarning } from './dtypes';
import { findStateDict } from './keyMap';
import { NeedMoreData, PyDict, unpickle, type UnpickleOptions } from './pickle';
import { StorageTable, TORCH_GLOBALS, materialise, type StorageRef } from './torchPickle';
import type { ByteSource, CheckpointContents, CheckpointReader, LoadProgress } from './types';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

/** Reads pickles one after another; grows its window when one does not fit. */
class PickleStream {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  constructor(private readonly source: ByteSource, public pos: number) {}

  async next(opts: UnpickleOptions): Promise<unknown> {
    let size = Math.max(1 << 16, this.window.length);
    for (;;) {
      const end = Math.min(this.source.size, this.pos + size);
      if (this.windowStart > this.pos || this.windowStart + this.window.length < end) {
        this.windowStart = this.pos;
        this.window = await this.source.read(this.pos, end - this.pos);
      }
      const complete = end === this.source.size;
      try {
        const { value, end: stop } = unpickle(this.window, this.pos - this.windowStart, complete, opts);
        this.pos = this.windowStart + stop;
        return value;
      } catch (err) {
        if (!(err instanceof NeedMoreData)) throw err;
        size *= 4;
      }
    }
  }
}

export const torchLegacyReader: CheckpointReader = {
  format: 'torch-legacy',

  match(head: Uint8Array): boolean {
    // The first pickle is the magic number alone, whatever pickle protocol wrote it.
    if (head[0] !== 0x80) return false;
    try {
      return unpickle(head, 0, false, { globals: new Map(), what: 'header' }).value === MAGIC;
    } catch {
      return false;
    }
  },

  async open(source: ByteSource, onProgress?: LoadProgress): Promise<CheckpointContents> {
    const stream = new PickleStream(source, 0);
    const plain: UnpickleOptions = { globals: new Map(), what: `${source.name} (header)` };
    const magic = await stream.next(plain);
    if (magic !== MAGIC) {
      throw new EngineError('bad-checkpoint', `${source.name}: not a legacy PyTorch checkpoint (wrong magic number)`);
    }
    const protocol = await stream.next(plain);
    if (protocol !== PROTOCOL_VERSION) {
      throw new EngineError('bad-checkpoint', `${source.name}: unsupported legacy checkpoint protocol ${String(protocol)} (expected 1001)`);
    }
    const sysInfo = await stream.next(plain);
    if (sysInfo instanceof PyDict && sysInfo.map.get('little_endian') === false) {
      throw new EngineError('bad-checkpoint', `${source.name}: written on a big-endian machine, which is not supported`);
    }
    const what = `${source.name} (main pickle)`;
    const table = new StorageTable(what);
    const root = await stream.next({ globals: TORCH_GLOBALS, persistentLoad: table.load, what });
    const found = findStateDict(root, what);
    const keys = await stream.next({ globals: new Map(), what: `${source.name} (storage list)` });
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      throw new EngineError('bad-checkpoint', `${source.name}: the storage key list after the main pickle is corrupt`);
    }

    // Only the state dict's storages are read; the rest (optimizer state) is skipped by
    // seeking past it, so its size costs nothing but a few 8-byte reads.
    const wanted = new Map<string, StorageRef>();
    for (const t of found.tensors.values()) wanted.set(t.storage.key, t.storage);
    const located = new Map<string, number>();
    let at = stream.pos;
    for (const key of keys as string[]) {
      const header = await source.read(at, 8).catch(() => {
        throw new EngineError('bad-checkpoint', `${source.name}: the file is truncated: it ends before storage ${key}`);
      });
      const view = new DataView(header.buffer, header.byteOffset, 8);
      const numel = view.getUint32(4, true) * 4294967296 + view.getUint32(0, true);
      located.set(key, at + 8);
      const ref = table.storages.get(key);
      if (!ref) throw new EngineError('bad-checkpoint', `${source.name}: storage ${key} is listed but the pickle never names it`);
      if (wanted.has(key) && numel !== ref.numel) {
        throw new EngineError('bad-checkpoint', `${source.name}: storage ${key} holds ${numel} elements, but the pickle says ${ref.numel}`);
      }
      const elem = ELEMENT_SIZE[ref.dtype];
      at += 8 + numel * elem;
      if (at > source.size) {
        throw new EngineError('bad-checkpoint', `${source.name}: the file is truncated: storage ${key} needs ${numel * elem} bytes, past the end of the file`);
      }
    }
    let done = 0;
    const total = [...wanted.values()].reduce((n, s) => n + s.numel * ELEMENT_SIZE[s.dtype], 0);
    const tensors = await materialise(found.tensors, async (ref) => {
      const start = located.get(ref.key);
      if (start === undefined) throw new EngineError('bad-checkpoint', `${source.name}: storage ${ref.key} is missing after the pickle`);
      const length = ref.numel * ELEMENT_SIZE[ref.dtype];
      const bytes = await source.read(start, length);
      done += length;
      onProgress?.(done, total);
      return bytes;
    });
    return { format: 'torch-legacy', tensors, meta: found.meta, warnings: nonFiniteWarning(tensors) };
  },
};
