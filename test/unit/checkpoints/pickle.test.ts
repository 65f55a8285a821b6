import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BufferSource, openCheckpoint } from '../../../engine/checkpoints/index';
import { PyDict, PySet, PyTuple, unpickle } from '../../../engine/checkpoints/pickle';
import { TORCH_GLOBALS } from '../../../engine/checkpoints/torchPickle';
import { EngineError } from '../../../engine/errors';
import { buildZip, bytes, fixtureBytes } from './helpers';

// Each hostile pickle would create this file if anything in it ran.
const MARKER = join(tmpdir(), `attnscope-pickle-ran-${process.pid}`);
const CMD = `touch ${MARKER}`;
const u32 = (n: number): string => String.fromCharCode(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
const binunicode = (s: string): string => `X${u32(s.length)}${s}`;

/** Protocol 2: GLOBAL module.name, one string argument, REDUCE. */
function callPickle(module: string, name: string, arg = CMD): Uint8Array {
  return bytes(`\x80\x02c${module}\n${name}\nq\x00${binunicode(arg)}\x85R.`);
}

function run(p: Uint8Array): unknown {
  return unpickle(p, 0, true, { globals: TORCH_GLOBALS, what: 'test.pkl' }).value;
}

function refusal(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EngineError);
    return err as EngineError;
  }
  throw new Error('the pickle was not refused');
}

afterAll(() => {
  expect(existsSync(MARKER)).toBe(false);
});

describe('the unpickler refuses everything outside the allow-list and runs nothing', () => {
  it('refuses os.system, naming the global', () => {
    const err = refusal(() => run(callPickle('os', 'system')));
    expect(err.code).toBe('unsafe-pickle');
    expect(err.message).toBe(
      'refused: the pickle names the global os.system, which a state dict never needs; AttnScope does not execute pickle code',
    );
  });

  it.each([
    ['posix', 'system', 'posix.system'],
    ['builtins', 'eval', 'builtins.eval'],
    ['__builtin__', 'eval', 'builtins.eval'],
    ['subprocess', 'Popen', 'subprocess.Popen'],
    ['torch', 'load', 'torch.load'],
  ])('refuses %s.%s', (module, name, shown) => {
    const err = refusal(() => run(callPickle(module, name)));
    expect(err.code).toBe('unsafe-pickle');
    expect(err.message).toContain(`names the global ${shown}`);
  });

  it('refuses os.system named through STACK_GLOBAL in a protocol 4 frame', () => {
    const body = `\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c${String.fromCharCode(CMD.length)}${CMD}\x94\x85\x94R\x94.`;
    const p = bytes(`\x80\x04\x95${u32(body.length)}\x00\x00\x00\x00${body}`);
    expect(refusal(() => run(p)).message).toContain('global os.system');
  });

  it('refuses a REDUCE whose callable is not an allow-listed global', () => {
    // A string, then an empty tuple, then REDUCE: "call" a plain value.
    const err = refusal(() => run(bytes(`\x80\x02${binunicode('os.system')})R.`)));
    expect(err.code).toBe('unsafe-pickle');
    expect(err.message).toMatch(/calls a str "os\.system", which is not an allow-listed constructor/);
  });

  it('refuses calling a storage type directly', () => {
    const err = refusal(() => run(callPickle('torch', 'FloatStorage', 'x')));
    expect(err.code).toBe('unsafe-pickle');
  });

  it('refuses INST and OBJ calls (protocols 0 and 1) of globals outside the allow-list', () => {
    expect(refusal(() => run(bytes(`(S'${CMD}'\nios\nsystem\n.`))).message).toContain('global os.system');
    expect(refusal(() => run(bytes('(c__builtin__\nexec\nS\'1\'\no.'))).message).toContain('global builtins.exec');
    // An allowed constructor through INST still only builds data.
    expect(run(bytes('(icollections\nOrderedDict\n.'))).toBeInstanceOf(PyDict);
  });

  it('tells a user with a whole pickled model to save the state dict', () => {
    const err = refusal(() => run(bytes('\x80\x02ctorch.nn.modules.conv\nConv2d\n)\x81.')));
    expect(err.message).toContain('global torch.nn.modules.conv.Conv2d');
    expect(err.hint).toMatch(/state_dict/);
  });

  it('refuses a hostile data.pkl inside a torch zip', async () => {
    const zip = buildZip([
      { name: 'archive/data.pkl', data: callPickle('os', 'system') },
      { name: 'archive/version', data: bytes('3\n') },
    ]);
    await expect(openCheckpoint(new BufferSource(zip, 'evil.pth'))).rejects.toMatchObject({
      code: 'unsafe-pickle',
      message: expect.stringContaining('os.system'),
    });
  });

  it('refuses a hostile main pickle in a legacy checkpoint', async () => {
    // Magic number, protocol version and sys_info pickles from a real legacy file, then the payload.
    const head = fixtureBytes('se-timm', 'model.pth.tar').subarray(0, 137);
    const file = Uint8Array.from([...head, ...callPickle('posix', 'system')]);
    await expect(openCheckpoint(new BufferSource(file, 'evil.pth.tar'))).rejects.toMatchObject({
      code: 'unsafe-pickle',
      message: expect.stringContaining('posix.system'),
    });
  });
});

describe('the unpickler reads the data a checkpoint holds, protocols 0 to 5', () => {
  const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
  // pickle.dumps(OrderedDict([('a', 1.5), ('b', [1, 2**70, -5, -2**40]), ('c', (True, None, 'ü')),
  //   ('d', b'\x00\x01'), ('e', {3: frozenset([7])})]), protocol=4); protocol 5 gives the same bytes but the header.
  const od4 =
    '80049577000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c016194473ff80000000000008c0162945d94284b018a090000000000000000404afbffffff8a060000000000ff658c016394884e8c02c3bc9487948c01649443020001948c0165947d944b03284b07919473752e';
  for (const proto of ['04', '05']) {
    it(`protocol ${proto[1]}: OrderedDict, floats, big ints, tuples, bytes, frozenset`, () => {
      const v = run(hex(`80${proto}${od4.slice(4)}`));
      expect(v).toBeInstanceOf(PyDict);
      const m = (v as PyDict).map;
      expect(m.get('a')).toBe(1.5);
      expect(m.get('b')).toEqual([1, 2n ** 70n, -5, -(2 ** 40)]);
      expect(m.get('c')).toEqual(new PyTuple([true, null, 'ü']));
      expect(m.get('d')).toEqual(Uint8Array.from([0, 1]));
      const e = m.get('e') as PyDict;
      expect(e.map.get(3)).toEqual(new PySet([7]));
    });
  }

  it('protocol 0 (text opcodes)', () => {
    // pickle.dumps({'a': [1, 2.5, 'xé'], 'b': True, 'c': 10**20, 'd': (1,)}, protocol=0)
    const v = run(hex(
      '286470300a56610a70310a286c70320a49310a6146322e350a615678e90a70330a617356620a70340a4930310a7356630a70350a4c3130303030303030303030303030303030303030304c0a7356640a70360a2849310a7470370a732e',
    )) as PyDict;
    expect(v.map.get('a')).toEqual([1, 2.5, 'xé']);
    expect(v.map.get('b')).toBe(true);
    expect(v.map.get('c')).toBe(10n ** 20n);
    expect(v.map.get('d')).toEqual(new PyTuple([1]));
  });

  it('protocol 2 bytes through _codecs.encode, negative and 16/32-bit ints', () => {
    // pickle.dumps({'a': b'\x00\xffz', 'n': -1, 'big': 300, 'm': 70000}, protocol=2)
    const v = run(hex(
      '80027d7100285801000000617101635f636f646563730a656e636f64650a7102580400000000c3bf7a710358060000006c6174696e31710486710552710658010000006e71074affffffff580300000062696771084d2c0158010000006d71094a70110100752e',
    )) as PyDict;
    expect(v.map.get('a')).toEqual(Uint8Array.from([0, 255, 122]));
    expect(v.map.get('n')).toBe(-1);
    expect(v.map.get('big')).toBe(300);
    expect(v.map.get('m')).toBe(70000);
  });

  it('reports a pickle cut before STOP as a truncated file', () => {
    const err = refusal(() => run(bytes(`\x80\x02}q\x00(${binunicode('a')}K\x01`)));
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/ends before its STOP opcode: the file is truncated/);
  });

  it('reports an unknown opcode as corrupt', () => {
    const err = refusal(() => run(bytes('\x80\x02\xff.')));
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/unknown opcode 0xff/);
  });
});
