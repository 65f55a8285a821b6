// Hardening: bad checkpoints. Each must be an EngineError with a code and a message the
// user can act on; a hostile pickle must be refused without running anything; odd but
// loadable files (NaN weights) load with a warning.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { BufferSource, openCheckpoint, openCheckpointFile } from '../../../engine/checkpoints';
import { Session } from '../../../engine/session';
import { callPickle, engineError, expectUserError, pickle, randomBytes, type RawTensor, safetensorsBytes, zipStored } from './helpers';

const FIXTURES = join(__dirname, '..', '..', 'fixtures');
const CASE = join(FIXTURES, 'cbam-official-basic');
const dir = mkdtempSync(join(tmpdir(), 'attnscope-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open = (bytes: Uint8Array, name: string) => openCheckpoint(new BufferSource(bytes, name));
const file = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
async function fixtureTensors(): Promise<Array<[string, RawTensor]>> {
  const c = await openCheckpointFile(join(CASE, 'model.safetensors'));
  return [...c.tensors].map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]);
}

describe('not a checkpoint, or a broken one', () => {
  test('random bytes (seeded, several lengths) and an empty file', async () => {
    for (const [i, n] of [1, 9, 64, 5000].entries()) {
      const err = await engineError(open(randomBytes(n, 200 + i), `junk${i}.pth`));
      expectUserError(err, 'bad-checkpoint', new RegExp(`junk${i}\\.pth.*not a PyTorch checkpoint`));
    }
    expectUserError(await engineError(open(new Uint8Array(0), 'empty.pth')), 'bad-checkpoint', /empty\.pth.*empty \(0 bytes\)/);
  });

  test('an image or a text file given as a checkpoint', async () => {
    expectUserError(await engineError(open(Buffer.from('{"not": "weights"}\n'), 'config.json')), 'bad-checkpoint', /config\.json.*not a PyTorch checkpoint/);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...randomBytes(100, 1)]);
    expectUserError(await engineError(open(png, 'cat.png')), 'bad-checkpoint', /cat\.png.*not a PyTorch checkpoint/);
  });

  test('truncated torch zip (.pth), at several points', async () => {
    const pth = readFileSync(join(CASE, 'model.pth'));
    for (const keep of [10, Math.floor(pth.length / 3), pth.length - 30]) {
      const err = await engineError(open(pth.subarray(0, keep), 'cut.pth'));
      expectUserError(err, 'bad-checkpoint', /cut\.pth.*(truncated|end-of-central-directory|past the end)/);
    }
  });

  test('truncated legacy checkpoint (.pth.tar)', async () => {
    const tar = readFileSync(join(CASE, 'model.pth.tar'));
    for (const keep of [20, Math.floor(tar.length / 2), tar.length - 7]) {
      const err = await engineError(open(tar.subarray(0, keep), 'cut.pth.tar'));
      expectUserError(err, 'bad-checkpoint', /cut\.pth\.tar/);
    }
  });

  test('truncated safetensors: inside the header and inside the data', async () => {
    const st = readFileSync(join(CASE, 'model.safetensors'));
    const n = Number(st.readBigUInt64LE(0));
    expectUserError(await engineError(open(st.subarray(0, 8 + Math.floor(n / 2)), 'cut.safetensors')), 'bad-checkpoint', /cut\.safetensors.*truncated/);
    expectUserError(await engineError(open(st.subarray(0, 8 + n + 100), 'cut.safetensors')), 'bad-checkpoint', /cut\.safetensors.*more data than the file has/);
  });

  test('a safetensors header claiming more data than the file has', async () => {
    let header = JSON.stringify({ w: { dtype: 'F32', shape: [1000000], data_offsets: [0, 4000000] } });
    header += ' '.repeat((8 - (header.length % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const lying = Buffer.concat([len, Buffer.from(header), Buffer.alloc(16)]);
    const good = safetensorsBytes([['w', { shape: [4], data: new Float32Array(4) }]]);
    const err = await engineError(open(lying, 'lying.safetensors'));
    expectUserError(err, 'bad-checkpoint', /lying\.safetensors.*more data than the file has.*4000000.*16 bytes/);
    // A header length field far beyond the file.
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(50_000_000n, 0);
    expectUserError(await engineError(open(huge, 'long.safetensors')), 'bad-checkpoint', /long\.safetensors/);
  });

  test('a wrong extension does not matter: the format is read from the bytes', async () => {
    const st = await open(readFileSync(join(CASE, 'model.safetensors')), 'weights.pth');
    expect(st.format).toBe('safetensors');
    const zip = await open(readFileSync(join(CASE, 'model.pth')), 'weights.safetensors');
    expect(zip.format).toBe('torch-zip');
    const legacy = await open(readFileSync(join(CASE, 'model.pth.tar')), 'weights.bin');
    expect(legacy.format).toBe('torch-legacy');
    expect([...zip.tensors.keys()].sort()).toEqual([...st.tensors.keys()].sort());
  });

  test('a zip that is not a torch checkpoint', async () => {
    const zip = zipStored([{ name: 'readme.txt', data: Buffer.from('hello') }]);
    expectUserError(await engineError(open(zip, 'docs.zip')), 'bad-checkpoint', /docs\.zip.*no data\.pkl/);
  });
});

describe('hostile pickles are refused and nothing is executed', () => {
  const target = join(dir, 'pwned');
  const cases: Array<[string, Buffer]> = [
    ['posix.system', callPickle('posix', 'system', `touch ${target}`)],
    ['os.system', callPickle('os', 'system', `touch ${target}`)],
    ['builtins.exec', callPickle('builtins', 'exec', `open(${JSON.stringify(target)}, "w").close()`)],
    ['builtins.eval (as __builtin__)', callPickle('__builtin__', 'eval', `open(${JSON.stringify(target)}, "w")`)],
    ['subprocess.Popen', callPickle('subprocess', 'Popen', `touch ${target}`)],
  ];
  for (const [label, pkl] of cases) {
    test(`torch zip whose data.pkl calls ${label}`, async () => {
      const zip = zipStored([{ name: 'archive/data.pkl', data: pkl }, { name: 'archive/version', data: Buffer.from('3\n') }]);
      const err = await engineError(openCheckpointFile(file('evil.pth', zip)));
      expectUserError(err, 'unsafe-pickle', /refused.*names the global .*(system|exec|eval|Popen).*does not execute/);
      expect(existsSync(target)).toBe(false);
    });
  }

  test('legacy checkpoint whose main pickle calls os.system', async () => {
    const magic = Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    const protocol = Buffer.from([0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]); // BININT2 1001
    const sysInfo = Buffer.from([0x80, 0x02, 0x7d, 0x2e]); // {}
    const evil = Buffer.concat([magic, protocol, sysInfo, callPickle('os', 'system', `touch ${target}`)]);
    const err = await engineError(Session.load({ kind: 'path', path: file('evil.pth.tar', evil) }));
    expectUserError(err, 'unsafe-pickle', /refused.*os\.system/);
    expect(existsSync(target)).toBe(false);
  });

  test('a whole pickled nn.Module gets the "save the state dict" hint', async () => {
    const pkl = Buffer.concat([pickle.proto(), pickle.global('torch.nn.modules.conv', 'Conv2d'), pickle.stop()]);
    const err = await engineError(open(zipStored([{ name: 'archive/data.pkl', data: pkl }]), 'model.pth'));
    expectUserError(err, 'unsafe-pickle', /torch\.nn\.modules\.conv\.Conv2d/);
    expect(err.hint).toMatch(/state_dict/);
  });
});

describe('loadable but suspicious, or the wrong network', () => {
  test('NaN and Inf weights load, with a warning naming the tensors', async () => {
    const tensors = await fixtureTensors();
    const pick = (k: string) => (tensors.find(([n]) => n === k) as [string, RawTensor])[1];
    pick('layer1.0.conv1.weight').data[3] = Number.NaN;
    pick('fc.weight').data[0] = Number.POSITIVE_INFINITY;
    const session = await Session.load({ kind: 'path', path: file('nan.safetensors', safetensorsBytes(tensors)) });
    try {
      const w = session.info.warnings.join('\n');
      expect(w).toMatch(/NaN or Inf/);
      expect(w).toContain('layer1.0.conv1.weight');
      expect(w).toContain('fc.weight');
      // The model still runs; the warning is the user's signal.
      const r = await session.run({ image: { kind: 'input', name: 'x', input: new Float32Array(32 * 32 * 3).fill(0.1), size: 32 } });
      expect(r.logits.length).toBe(10);
    } finally {
      session.dispose();
    }
  });

  test('a tensor with the wrong shape for the detected architecture', async () => {
    const tensors = await fixtureTensors();
    const i = tensors.findIndex(([n]) => n === 'layer2.1.conv2.weight');
    const [name, t] = tensors[i] as [string, RawTensor];
    // Same number of values, wrong layout: [8, 8, 3, 3] -> [8, 4, 3, 6].
    tensors[i] = [name, { shape: [t.shape[0] as number, (t.shape[1] as number) / 2, 3, 6], data: t.data }];
    const err = await engineError(Session.load({ kind: 'path', path: file('wrong.safetensors', safetensorsBytes(tensors)) }));
    expect(['shape-mismatch', 'unknown-arch']).toContain(err.code);
    expect(err.message).toContain('layer2.1.conv2.weight');
  });

  test('a checkpoint with a missing key', async () => {
    const tensors = (await fixtureTensors()).filter(([n]) => n !== 'layer3.0.cbam.SpatialGate.spatial.conv.weight');
    const err = await engineError(Session.load({ kind: 'path', path: file('missing.safetensors', safetensorsBytes(tensors)) }));
    expect(['shape-mismatch', 'unknown-arch']).toContain(err.code);
    expect(err.message).toMatch(/layer3\.0\.cbam/);
  });

  test('forcing an architecture that does not fit the weights names the first mismatch', async () => {
    const err = await engineError(Session.load({ kind: 'path', path: join(CASE, 'model.safetensors') }, { arch: 'resnet50-cbam' }));
    expect(['shape-mismatch', 'unknown-arch']).toContain(err.code);
    expect(err.message).toMatch(/conv1|layer1|expected|fit/);
  });

  test('a state dict of unrelated tensors is unknown-arch', async () => {
    const err = await engineError(Session.load({ kind: 'path', path: file('bert.safetensors', safetensorsBytes([
      ['encoder.layer.0.attention.self.query.weight', { shape: [4, 4], data: new Float32Array(16) }],
    ])) }));
    expectUserError(err, 'unknown-arch', /.+/);
  });
});
