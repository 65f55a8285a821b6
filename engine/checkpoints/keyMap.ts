// From "whatever torch.save was given" to a flat state dict with bare PyTorch names:
// unwrap {'state_dict': ...} / {'model': ...} style checkpoints, and strip the
// `module.` prefix DataParallel adds (and similar whole-dict prefixes).
import { EngineError } from '../errors';
import { PyDict, PyObject, PySet, PyTuple, describe } from './pickle';
import { TensorRef } from './torchPickle';

/** Wrapper keys tried in order when the top level is not itself the state dict. */
const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model_state', 'model', 'net', 'network', 'module', 'weights', 'params'];
const PREFIXES = ['module.', 'model.', 'net.', '_orig_mod.'];

export interface FoundStateDict {
  tensors: Map<string, TensorRef>;
  meta: Record<string, unknown>;
}

function tensorEntries(d: PyDict): [string, TensorRef][] {
  return [...d.map].filter((e): e is [string, TensorRef] => typeof e[0] === 'string' && e[1] instanceof TensorRef);
}

/** A dict is the state dict when its values are (almost all) tensors. */
function looksLikeStateDict(d: PyDict): boolean {
  const n = tensorEntries(d).length;
  return n > 0 && n >= d.map.size * 0.5;
}

export function findStateDict(root: unknown, what: string): FoundStateDict {
  if (!(root instanceof PyDict)) {
    throw new EngineError('bad-checkpoint', `${what}: holds a ${describe(root)}, not a state dict (expected a dict of tensors)`);
  }
  let dict: PyDict | undefined = looksLikeStateDict(root) ? root : undefined;
  let wrapperKey: string | undefined;
  for (const key of WRAPPER_KEYS) {
    if (dict) break;
    const inner = root.map.get(key);
    if (inner instanceof PyDict && looksLikeStateDict(inner)) {
      dict = inner;
      wrapperKey = key;
    }
  }
  if (!dict) {
    const keys = [...root.map.keys()].slice(0, 8).map(String).join(', ');
    throw new EngineError('bad-checkpoint', `${what}: no state dict found (top-level keys: ${keys || 'none'}); expected tensors or a 'state_dict' entry`);
  }
  const meta: Record<string, unknown> = {};
  if (wrapperKey) {
    for (const [k, v] of root.map) if (typeof k === 'string' && k !== wrapperKey) meta[k] = toJson(v, 0);
  }
  return { tensors: stripPrefixes(new Map(tensorEntries(dict))), meta };
}

/** Strips a prefix that every key carries (`module.` from DataParallel), repeatedly. */
export function stripPrefixes<T>(tensors: Map<string, T>): Map<string, T> {
  let current = tensors;
  for (;;) {
    const keys = [...current.keys()];
    const prefix = PREFIXES.find((p) => keys.length > 0 && keys.every((k) => k.startsWith(p)));
    if (!prefix) return current;
    current = new Map([...current].map(([k, v]) => [k.slice(prefix.length), v]));
  }
}

/** Non-tensor entries as small JSON values for display; big things are summarised. */
function toJson(v: unknown, depth: number): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof TensorRef) return `tensor ${JSON.stringify(v.shape)}`;
  if (depth >= 2) return `<${describe(v)}>`;
  if (v instanceof PyTuple || Array.isArray(v) || v instanceof PySet) {
    const items = v instanceof PyTuple || v instanceof PySet ? v.items : v;
    return items.length > 16 ? `<${items.length} items>` : items.map((i) => toJson(i, depth + 1));
  }
  if (v instanceof PyDict) {
    if (v.map.size > 32) return `<dict of ${v.map.size} entries>`;
    return Object.fromEntries([...v.map].map(([k, x]) => [String(k), toJson(x, depth + 1)]));
  }
  if (v instanceof PyObject) return `<${v.type}>`;
  return `<${describe(v)}>`;
}
