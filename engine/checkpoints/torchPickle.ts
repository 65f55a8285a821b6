// What a PyTorch checkpoint pickle may name (the allow-list), and the tensor / storage
// references it builds. Shared by the zip and legacy formats, which differ only in where
// the storage bytes live.
import { EngineError } from '../errors';
import { gatherStrided, toFloat32 } from './dtypes';
import { PyDict, PyGlobal, PyObject, PySet, PyTuple, describe, type GlobalHandler } from './pickle';
import type { SourceDType, StateDict } from './types';

export interface StorageRef {
  key: string;
  dtype: SourceDType;
  /** Elements in the storage, as the pickle records it. */
  numel: number;
  /** Legacy view storages (torch < 0.4): element offset into the root storage. */
  viewOffset: number;
}

export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const STORAGE_DTYPES: Record<string, SourceDType> = {
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', UntypedStorage: 'uint8',
};

const storageType: GlobalHandler = {
  call: (_args, qualname) => {
    throw new EngineError('unsafe-pickle', `refused: the pickle calls ${qualname} directly; a state dict only names storage types`);
  },
};

function ints(v: unknown, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((i) => typeof i === 'number' && Number.isSafeInteger(i) && i >= 0)) {
    throw new EngineError('bad-checkpoint', `corrupt tensor record: ${what} is ${describe(v)}, not a tuple of sizes`);
  }
  return items as number[];
}

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!isStorageRef(storage) || typeof offset !== 'number') {
    throw new EngineError('bad-checkpoint', `corrupt tensor record: expected (storage, offset, size, stride), got ${describe(storage)}`);
  }
  const shape = ints(size, 'size');
  const strides = ints(stride, 'stride');
  if (strides.length !== shape.length) throw new EngineError('bad-checkpoint', 'corrupt tensor record: size and stride differ in length');
  return new TensorRef(storage, offset + storage.viewOffset, shape, strides);
}

function isStorageRef(v: unknown): v is StorageRef {
  return typeof v === 'object' && v !== null && 'key' in v && 'dtype' in v && 'numel' in v;
}

const opaque = (type: string): GlobalHandler => ({ call: (args) => new PyObject(type, args) });

function orderedDict(args: unknown[]): PyDict {
  const d = new PyDict();
  const pairs = args[0];
  if (Array.isArray(pairs)) {
    for (const p of pairs) if (p instanceof PyTuple && p.items.length === 2) d.map.set(p.items[0], p.items[1]);
  }
  return d;
}

/** The whole allow-list. Each entry builds plain data; none runs anything from the file. */
export const TORCH_GLOBALS: ReadonlyMap<string, GlobalHandler> = new Map<string, GlobalHandler>([
  ['collections.OrderedDict', { call: orderedDict }],
  ['builtins.dict', { call: orderedDict }],
  ['builtins.set', { call: (args) => new PySet(Array.isArray(args[0]) ? args[0] : []) }],
  ['builtins.frozenset', { call: (args) => new PySet(Array.isArray(args[0]) ? args[0] : []) }],
  ['torch._utils._rebuild_tensor_v2', { call: rebuildTensor }],
  ['torch._utils._rebuild_tensor', { call: rebuildTensor }],
  ['torch._utils._rebuild_parameter', { call: (args) => args[0] }],
  ['torch._utils._rebuild_parameter_with_state', { call: (args) => args[0] }],
  ['torch.Size', { call: (args) => (args[0] instanceof PyTuple ? args[0] : new PyTuple([])) }],
  ['torch.device', { call: (args) => args.map(String).join(':') }],
  ['argparse.Namespace', opaque('argparse.Namespace')],
  ['numpy.dtype', opaque('numpy.dtype')],
  ['numpy.ndarray', opaque('numpy.ndarray')],
  ['numpy.core.multiarray._reconstruct', opaque('numpy.ndarray')],
  ['numpy.core.multiarray.scalar', { call: numpyScalar }],
  ['numpy._core.multiarray.scalar', { call: numpyScalar }],
  // Python 3 writes bytes in protocol 2 as _codecs.encode(text, 'latin1').
  ['_codecs.encode', { call: (args) => Uint8Array.from(String(args[0]), (c) => c.charCodeAt(0) & 0xff) }],
  ...Object.keys(STORAGE_DTYPES).flatMap((name): [string, GlobalHandler][] => [
    [`torch.${name}`, storageType],
    [`torch.cuda.${name}`, storageType],
  ]),
]);

/** numpy scalars (best_prec1 is often one): decoded from their dtype and raw bytes. */
function numpyScalar(args: unknown[]): unknown {
  const [dtype, raw] = args;
  const code = dtype instanceof PyObject ? String(dtype.args[0]) : '';
  if (!(raw instanceof Uint8Array)) return new PyObject('numpy.scalar', args);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const readers: Record<string, () => number> = {
    f8: () => view.getFloat64(0, true), f4: () => view.getFloat32(0, true),
    i8: () => Number(view.getBigInt64(0, true)), i4: () => view.getInt32(0, true), b1: () => raw[0] ?? 0,
  };
  const reader = readers[code];
  return reader && raw.length >= 1 ? reader() : new PyObject('numpy.scalar', args);
}

/**
 * persistent_load for both formats: ('storage', StorageType, key, location, numel[, view]).
 * Remembers every storage the pickle names, so the legacy reader can skip unused ones.
 */
export class StorageTable {
  readonly storages = new Map<string, StorageRef>();
  constructor(private readonly what: string) {}

  readonly load = (pid: unknown): StorageRef => {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [tag, type, key, , numel, view] = items;
    if (tag !== 'storage' || !(type instanceof PyGlobal) || typeof key !== 'string' || typeof numel !== 'number') {
      throw new EngineError('bad-checkpoint', `${this.what}: unexpected persistent reference ${describe(pid)} (not a tensor storage)`);
    }
    const dtype = STORAGE_DTYPES[type.qualname.split('.').pop() ?? ''];
    if (!dtype) throw new EngineError('bad-checkpoint', `${this.what}: unsupported storage type ${type.qualname}`);
    let root = this.storages.get(key);
    if (!root) {
      root = { key, dtype, numel, viewOffset: 0 };
      this.storages.set(key, root);
    }
    // Legacy view storages: (view_key, offset, view_size) into the root storage.
    if (view instanceof PyTuple && typeof view.items[1] === 'number') {
      return { ...root, viewOffset: view.items[1] };
    }
    return root;
  };
}

/** Turns tensor references into float32 tensors, loading each storage once. */
export async function materialise(
  refs: Map<string, TensorRef>,
  loadStorage: (ref: StorageRef) => Promise<Uint8Array>,
): Promise<StateDict> {
  const out: StateDict = new Map();
  const cache = new Map<string, Float32Array>();
  for (const [name, t] of refs) {
    let storage = cache.get(t.storage.key);
    if (!storage) {
      const bytes = await loadStorage(t.storage);
      storage = toFloat32(bytes, t.storage.dtype, t.storage.numel);
      cache.set(t.storage.key, storage);
    }
    const data = t.shape.length === 0 ? storage.slice(t.offset, t.offset + 1) : gatherStrided(storage, t.offset, t.shape, t.stride);
    out.set(name, { shape: t.shape, dtype: t.storage.dtype, data });
  }
  return out;
}
