// A restricted unpickler that executes nothing. It implements the opcodes that a
// PyTorch state dict (and the epoch/optimizer dict around it) needs, protocols 0-5.
// GLOBAL / STACK_GLOBAL resolve only through the allow-list the caller passes; each
// allowed name maps to a small JS constructor of plain data, so a hostile pickle can
// at most build data, never run code. Everything else is refused with the global's name.
import { EngineError } from '../errors';

export class PyTuple {
  constructor(readonly items: unknown[]) {}
}
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  /** State set by BUILD (OrderedDict `_metadata`), kept but never interpreted as code. */
  state: unknown = undefined;
}
export class PySet {
  constructor(readonly items: unknown[]) {}
}
/** A resolved, allow-listed global: the only thing REDUCE / NEWOBJ may call. */
export class PyGlobal {
  constructor(readonly qualname: string, readonly handler: GlobalHandler) {}
}

export interface GlobalHandler {
  /** Builds plain data from the arguments; never runs pickle-provided code. */
  call(args: unknown[], qualname: string): unknown;
}

export interface UnpickleOptions {
  globals: ReadonlyMap<string, GlobalHandler>;
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the pickle in messages ("data.pkl", "the legacy checkpoint's main pickle"). */
  what: string;
}

/** Thrown when the buffer ended before STOP and the caller may supply more bytes. */
export class NeedMoreData extends Error {}

const decoder = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

export function refuseGlobal(qualname: string): never {
  const model = /^torch\.nn\.modules\.|^torchvision\.models\.|^timm\.models\./.test(qualname) || /^__main__\./.test(qualname);
  throw new EngineError(
    'unsafe-pickle',
    `refused: the pickle names the global ${qualname}, which a state dict never needs; AttnScope does not execute pickle code`,
    model
      ? 'This file holds a whole pickled model object. Save its weights instead: torch.save(model.state_dict(), "weights.pth").'
      : 'Save the weights as a plain state dict (torch.save(model.state_dict(), ...)) or as .safetensors.',
  );
}

/**
 * Runs the pickle at bytes[start...] to its STOP. `complete` says whether `bytes` holds
 * everything there is; if not, running out of bytes throws NeedMoreData.
 */
export function unpickle(bytes: Uint8Array, start: number, complete: boolean, opts: UnpickleOptions): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();

  const corrupt = (why: string): never => {
    throw new EngineError('bad-checkpoint', `${opts.what}: corrupt pickle (${why} at byte ${pos})`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) {
      if (!complete && n >= 0) throw new NeedMoreData();
      corrupt('the pickle ends before its STOP opcode: the file is truncated');
    }
  };
  const take = (n: number): Uint8Array => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const u8 = (): number => take(1)[0]!;
  const u16 = (): number => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = (): number => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = (): number => {
    const lo = u32();
    const hi = u32();
    const n = hi * 4294967296 + lo;
    if (!Number.isSafeInteger(n)) corrupt('a length is too large');
    return n;
  };
  const line = (): string => {
    const nl = bytes.indexOf(10, pos);
    if (nl < 0) {
      need(bytes.length - pos + 1);
      return corrupt('unterminated line');
    }
    const s = latin1.decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const pop = (): unknown => (stack.length === 0 ? corrupt('stack underflow') : stack.pop());
  const top = (): unknown => (stack.length === 0 ? corrupt('stack underflow') : stack[stack.length - 1]);
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) return corrupt('no MARK');
    const items = stack.splice(m);
    return items;
  };
  const resolve = (module: string, name: string): PyGlobal => {
    const qualname = `${module === '__builtin__' ? 'builtins' : module}.${name}`;
    const handler = opts.globals.get(qualname);
    if (!handler) refuseGlobal(qualname);
    return new PyGlobal(qualname, handler);
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (!(callable instanceof PyGlobal)) {
      throw new EngineError(
        'unsafe-pickle',
        `refused: the pickle calls a ${describe(callable)}, which is not an allow-listed constructor; AttnScope does not execute pickle code`,
      );
    }
    if (!(args instanceof PyTuple)) return corrupt(`${callable.qualname} called without an argument tuple`);
    return callable.handler.call(args.items, callable.qualname);
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof PyDict)) return corrupt('SETITEM on a non-dict');
    if (items.length % 2) corrupt('odd number of dict items');
    for (let i = 0; i < items.length; i += 2) dict.map.set(dictKey(items[i]), items[i + 1]);
  };
  const int = (s: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[-+]?\d+$/.test(t)) return corrupt(`bad integer ${JSON.stringify(s)}`);
    const b = BigInt(t);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  };
  const longLE = (raw: Uint8Array): number | bigint => {
    let b = 0n;
    for (let i = raw.length - 1; i >= 0; i--) b = (b << 8n) | BigInt(raw[i]!);
    if (raw.length > 0 && raw[raw.length - 1]! & 0x80) b -= 1n << BigInt(raw.length * 8);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: return { value: pop(), end: pos }; // STOP
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x49: { // INT (text; I01/I00 are bools)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : int(s));
        break;
      }
      case 0x4a: need(4); pos += 4; stack.push(view.getInt32(pos - 4, true)); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4c: stack.push(int(line())); break; // LONG (text)
      case 0x8a: stack.push(longLE(take(u8()))); break; // LONG1
      case 0x8b: stack.push(longLE(take(u32()))); break; // LONG4
      case 0x46: { // FLOAT (text)
        const v = Number(line());
        stack.push(v);
        break;
      }
      case 0x47: need(8); pos += 8; stack.push(view.getFloat64(pos - 8, false)); break; // BINFLOAT (big-endian)
      case 0x53: stack.push(pyStringLiteral(line(), corrupt)); break; // STRING
      case 0x54: stack.push(latin1.decode(take(u32()))); break; // BINSTRING
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x56: stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))); break; // UNICODE
      case 0x58: stack.push(decoder.decode(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(decoder.decode(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(decoder.decode(take(u64()))); break; // BINUNICODE8
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: case 0x96: stack.push(take(u64()).slice()); break; // BINBYTES8, BYTEARRAY8
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) return corrupt('APPEND to a non-list');
        list.push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) return corrupt('APPENDS to a non-list');
        list.push(...items);
        break;
      }
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { const d = new PyDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x8f: stack.push(new PySet([])); break; // EMPTY_SET
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof PySet)) return corrupt('ADDITEMS to a non-set');
        set.items.push(...items);
        break;
      }
      case 0x91: stack.push(new PySet(popMark())); break; // FROZENSET
      case 0x67: stack.push(memoGet(memo, Number(line()), corrupt)); break; // GET
      case 0x68: stack.push(memoGet(memo, u8(), corrupt)); break; // BINGET
      case 0x6a: stack.push(memoGet(memo, u32(), corrupt)); break; // LONG_BINGET
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x63: { const module = line(); stack.push(resolve(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') return corrupt('STACK_GLOBAL needs two strings');
        stack.push(resolve(module, name));
        break;
      }
      case 0x52: { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(call(pop(), args)); break; } // NEWOBJ: cls.__new__(cls, *args)
      case 0x92: { pop(); const args = pop(); stack.push(call(pop(), args)); break; } // NEWOBJ_EX (kwargs ignored)
      case 0x62: { // BUILD: record the state as data; nothing like __setstate__ runs
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.state = state;
        else if (obj instanceof PyObject) obj.state = state;
        break;
      }
      case 0x50: stack.push(persistent(opts, line())); break; // PERSID
      case 0x51: stack.push(persistent(opts, pop())); break; // BINPERSID
      case 0x69: { // INST: protocol 0 call of module.name with the marked arguments
        const module = line();
        const cls = resolve(module, line());
        stack.push(call(cls, new PyTuple(popMark())));
        break;
      }
      case 0x6f: { // OBJ: protocol 1 call, class first among the marked items
        const [cls, ...args] = popMark();
        stack.push(call(cls, new PyTuple(args)));
        break;
      }
      case 0x82: case 0x83: case 0x84: // EXT1, EXT2, EXT4
      case 0x97: case 0x98: // NEXT_BUFFER, READONLY_BUFFER
        throw new EngineError(
          'unsafe-pickle',
          `refused: the pickle uses opcode 0x${op.toString(16)}, which a state dict never needs; AttnScope does not execute pickle code`,
        );
      default:
        pos -= 1;
        return corrupt(`unknown opcode 0x${op.toString(16)}`);
    }
    if (marks.length > 0 && marks[marks.length - 1]! > stack.length) corrupt('stack underflow below MARK');
  }
}

/** Plain data made by an allow-listed constructor (argparse.Namespace, numpy dtype...). */
export class PyObject {
  state: unknown = undefined;
  constructor(readonly type: string, readonly args: unknown[]) {}
}

function persistent(opts: UnpickleOptions, pid: unknown): unknown {
  if (!opts.persistentLoad) throw new EngineError('bad-checkpoint', `${opts.what}: unexpected persistent reference in the pickle`);
  return opts.persistentLoad(pid);
}

function memoGet(memo: Map<number, unknown>, key: number, corrupt: (why: string) => never): unknown {
  if (!memo.has(key)) return corrupt(`memo key ${key} missing`);
  return memo.get(key);
}

/** Dict keys: primitives as themselves, tuples by their printed form (never used to call anything). */
function dictKey(k: unknown): unknown {
  if (k instanceof PyTuple) return `(${k.items.map((i) => String(dictKey(i))).join(', ')})`;
  return k;
}

function pyStringLiteral(s: string, corrupt: (why: string) => never): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) return corrupt('bad STRING literal');
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
    e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[e] ?? e);
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyObject) return `${v.type} object`;
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return `str ${JSON.stringify(v.slice(0, 40))}`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
