import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BufferSource, openCheckpoint, openCheckpointFile } from '../../../engine/checkpoints/index';
import { EngineError } from '../../../engine/errors';
import { buildSafetensors, buildZip, bytes, fixtureBytes } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'attnscope-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(file: Uint8Array, name: string): Promise<EngineError> {
  try {
    await openCheckpoint(new BufferSource(file, name));
  } catch (err) {
    expect(err).toBeInstanceOf(EngineError);
    return err as EngineError;
  }
  throw new Error(`${name} opened`);
}

const cut = (b: Uint8Array, fraction: number): Uint8Array => b.slice(0, Math.floor(b.length * fraction));
const NOT_A_CHECKPOINT = /not a PyTorch checkpoint or safetensors file: no data\.pkl, no pickle header, no safetensors header \(starts with bytes/;

describe('files that are not checkpoints', () => {
  it('zero-byte file', async () => {
    const path = join(dir, 'empty.pth');
    writeFileSync(path, '');
    await expect(openCheckpointFile(path)).rejects.toMatchObject({ code: 'bad-checkpoint', message: 'empty.pth: the file is empty (0 bytes)' });
  });

  it('plain text file', async () => {
    const path = join(dir, 'notes.pth');
    writeFileSync(path, 'hello, these are my notes about CBAM\n');
    const err = (await openCheckpointFile(path).then(
      () => null,
      (e: unknown) => e,
    )) as EngineError;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(NOT_A_CHECKPOINT);
    expect(err.message).toContain('68 65 6c 6c 6f 2c 20 74 "hello, t"');
  });

  it('random bytes', async () => {
    let seed = 12345;
    const random = Uint8Array.from({ length: 4096 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
    const err = await failure(random, 'random.bin');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(NOT_A_CHECKPOINT);
  });

  it('a plain pickle that torch.save did not write', async () => {
    const err = await failure(bytes('\x80\x02}q\x00.'), 'plain.pkl');
    expect(err.message).toMatch(NOT_A_CHECKPOINT);
    expect(err.hint).toMatch(/pickle, but not one written by torch\.save/);
  });

  it('a zip without data.pkl', async () => {
    const err = await failure(buildZip([{ name: 'photos/cat.jpg', data: bytes('jpeg') }]), 'photos.zip');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/a zip file but not a PyTorch checkpoint: no data\.pkl inside \(entries: photos\/cat\.jpg\)/);
  });
});

describe('truncated and corrupt torch files', () => {
  it('truncated zip: the central directory is gone', async () => {
    const err = await failure(cut(fixtureBytes('se-timm', 'model.pth'), 0.6), 'cut.pth');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/no end-of-central-directory record \(the file is truncated\)/);
  });

  it('zip whose directory points past the end of the file', async () => {
    const whole = fixtureBytes('se-timm', 'model.pth');
    // Drop 4 KB from the middle: the directory survives, but its offsets now overshoot.
    const spliced = Uint8Array.from([...whole.subarray(0, 2000), ...whole.subarray(6096)]);
    const err = await failure(spliced, 'spliced.pth');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/past the end of the file|no local header|truncated/);
  });

  it('truncated legacy file: storages missing', async () => {
    const err = await failure(cut(fixtureBytes('se-timm', 'model.pth.tar'), 0.6), 'cut.pth.tar');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/the file is truncated/);
  });

  it('truncated legacy file: the pickle itself is cut', async () => {
    const err = await failure(cut(fixtureBytes('se-timm', 'model.pth.tar'), 0.02), 'cut.pth.tar');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/ends before its STOP opcode: the file is truncated/);
  });
});

describe('truncated and corrupt safetensors files', () => {
  const f32 = (n: number): { dtype: string; shape: number[]; bytes: Uint8Array } => ({ dtype: 'F32', shape: [n], bytes: new Uint8Array(4 * n) });

  it('truncated in the data: the header claims more data than the file has', async () => {
    const err = await failure(cut(fixtureBytes('se-timm', 'model.safetensors'), 0.6), 'cut.safetensors');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/header claims more data than the file has: .* ends at byte \d+ of the data section, which has \d+ bytes/);
  });

  it('truncated in the header', async () => {
    const err = await failure(fixtureBytes('se-timm', 'model.safetensors').slice(0, 200), 'cut.safetensors');
    expect(err.code).toBe('bad-checkpoint');
    expect(err.message).toMatch(/header claims \d+ bytes but the file has only 192 after the length \(truncated\)/);
  });

  it('a header whose offsets lie beyond the file', async () => {
    const file = buildSafetensors({ w: f32(4) }, { w: { dtype: 'F32', shape: [1000], data_offsets: [0, 4000] } });
    const err = await failure(file, 'short.safetensors');
    expect(err.message).toMatch(/header claims more data than the file has: w ends at byte 4000 of the data section, which has 16 bytes/);
  });

  it('offsets inconsistent with dtype and shape', async () => {
    const file = buildSafetensors({ w: f32(3) }, { w: { dtype: 'F32', shape: [2], data_offsets: [0, 12] } });
    const err = await failure(file, 'odd.safetensors');
    expect(err.message).toMatch(/tensor w: data_offsets \[0, 12\] hold 12 bytes, but float32 \[2\] needs 8/);
  });

  it('unsupported dtype and broken JSON', async () => {
    const fp8 = buildSafetensors({ w: f32(1) }, { w: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } });
    expect((await failure(fp8, 'fp8.safetensors')).message).toMatch(/tensor w has unsupported dtype "F8_E4M3"/);
    const broken = buildSafetensors({ w: f32(1) });
    broken[12] = 0x7d; // '}' early: the JSON no longer parses
    expect((await failure(broken, 'broken.safetensors')).message).toMatch(/header is not valid JSON/);
  });
});

describe('non-finite weights', () => {
  it('load with a warning naming the keys', async () => {
    const file = buildSafetensors({
      'conv1.weight': { dtype: 'F32', shape: [2], bytes: new Uint8Array(Float32Array.from([NaN, 1]).buffer) },
      'fc.bias': { dtype: 'F32', shape: [1], bytes: new Uint8Array(Float32Array.from([-Infinity]).buffer) },
      'fc.weight': { dtype: 'F32', shape: [1], bytes: new Uint8Array(Float32Array.from([0.5]).buffer) },
    });
    const c = await openCheckpoint(new BufferSource(file, 'nan.safetensors'));
    expect(c.tensors.size).toBe(3);
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(/^2 tensor\(s\) contain NaN or Inf values: conv1\.weight, fc\.bias\./);
  });
});
