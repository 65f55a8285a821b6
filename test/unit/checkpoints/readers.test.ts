import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferSource, openCheckpoint, openCheckpointFile } from '../../../engine/checkpoints/index';
import type { CheckpointContents } from '../../../engine/checkpoints/types';
import { FIXTURES, FORMATS, buildSafetensors, buildZip, fixtureBytes, fixtureCases } from './helpers';

const cases = fixtureCases();

describe('fixtures open in all three formats with identical tensors', () => {
  it('has the fixture cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(17);
  });

  for (const info of cases) {
    it(info.name, async () => {
      const opened: CheckpointContents[] = [];
      for (const file of FORMATS) opened.push(await openCheckpointFile(join(FIXTURES, info.name, file)));
      expect(opened.map((c) => c.format)).toEqual(['safetensors', 'torch-zip', 'torch-legacy']);
      const [ref, ...others] = opened;
      expect(ref!.tensors.size).toBe(info.numTensors);
      for (const c of others) {
        expect([...c.tensors.keys()].sort()).toEqual([...ref!.tensors.keys()].sort());
        for (const [key, t] of ref!.tensors) {
          const o = c.tensors.get(key)!;
          expect(o.shape, key).toEqual(t.shape);
          expect(o.dtype, key).toBe(t.dtype);
          expect(o.data, key).toEqual(t.data);
        }
        expect(c.warnings).toEqual([]);
      }
      // The legacy file wraps the state dict like the official CBAM checkpoint.
      expect(opened[2]!.meta).toMatchObject({ epoch: 3, arch: 'resnet', best_prec1: 71.2 });
      expect(ref!.tensors.get('layer1.0.bn1.num_batches_tracked')?.dtype).toBe('int64');
    });
  }

  it('skips the optimizer state of a wrapped legacy checkpoint but reports it in meta', async () => {
    const c = await openCheckpointFile(join(FIXTURES, 'cbam-official-basic', 'model.pth.tar'));
    expect(Object.keys(c.meta)).toContain('optimizer');
    expect([...c.tensors.keys()].every((k) => !k.startsWith('module.'))).toBe(true);
  });

  it('reports progress up to the total', async () => {
    const seen: [number, number][] = [];
    await openCheckpointFile(join(FIXTURES, 'se-timm', 'model.pth.tar'), (done, total) => seen.push([done, total]));
    expect(seen.length).toBeGreaterThan(10);
    const [done, total] = seen[seen.length - 1]!;
    expect(done).toBe(total);
  });
});

describe('expected outputs', () => {
  for (const info of cases) {
    it(`${info.name}: input, logits and every tap listed in case.json`, async () => {
      const expected = await openCheckpointFile(join(FIXTURES, info.name, 'expected.safetensors'));
      // The fixture's own size (case.json), 32 px for the CIFAR-stem cases but AFNB's (64: two stages of maps), 64 for the ImageNet stem.
      expect(expected.tensors.get('input')?.shape).toEqual([1, 3, ...info.inputSize]);
      expect(info.inputSize[0]).toBe(info.spec.stem === 'imagenet' || info.name === 'afnb' ? 64 : 32);
      expect(expected.tensors.get('logits')?.shape).toEqual([info.spec.numClasses]);
      const taps = (JSON.parse(readFileSync(join(FIXTURES, info.name, 'case.json'), 'utf8')) as { taps: Record<string, number[]> }).taps;
      for (const [key, shape] of Object.entries(taps)) expect(expected.tensors.get(key)?.shape, key).toEqual(shape);
      expect(expected.tensors.size).toBe(Object.keys(taps).length + 2);
      if (info.affinityModule) expect(taps[`${info.affinityModule}.affinity`]).toHaveLength(2);
    });
  }
});

describe('reader edge cases (test/fixtures/misc)', () => {
  const misc = JSON.parse(readFileSync(join(FIXTURES, 'misc', 'misc.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
  for (const file of ['views.pth', 'views.pth.tar']) {
    it(`${file}: strided views, shared storage, half/bf16/double/int64, scalars, parameters`, async () => {
      const c = await openCheckpointFile(join(FIXTURES, 'misc', file));
      expect([...c.tensors.keys()]).toEqual(Object.keys(misc));
      for (const [key, want] of Object.entries(misc)) {
        const t = c.tensors.get(key)!;
        expect(t.shape, key).toEqual(want.shape);
        expect([...t.data], key).toEqual(want.values.map((v) => Math.fround(v)));
      }
      expect(c.tensors.get('half')!.dtype).toBe('float16');
      expect(c.tensors.get('bf16')!.dtype).toBe('bfloat16');
    });
  }

  it('a legacy dict wrapped under "model" keeps its other entries as meta', async () => {
    const c = await openCheckpointFile(join(FIXTURES, 'misc', 'views.pth.tar'));
    expect(c.meta).toEqual({ args: 'not a namespace' });
  });

  it('a TorchScript archive is refused with advice', async () => {
    await expect(openCheckpointFile(join(FIXTURES, 'misc', 'script.pt'))).rejects.toMatchObject({
      code: 'bad-checkpoint',
      message: expect.stringContaining('a TorchScript archive (torch.jit.save), not a state dict'),
    });
  });
});

describe('zip variants', () => {
  async function rezip(opts: { zip64?: boolean; deflate?: boolean }): Promise<void> {
    const { readZipDirectory, readEntry } = await import('../../../engine/checkpoints/zip');
    const original = new BufferSource(fixtureBytes('gc-inserted', 'model.pth'), 'model.pth');
    const dir = await readZipDirectory(original);
    const entries = [];
    for (const e of dir.values()) entries.push({ name: e.name.replace(/^model\//, 'archive/'), data: await readEntry(original, e) });
    const rebuilt = await openCheckpoint(new BufferSource(buildZip(entries, opts), 'rebuilt.pth'));
    const reference = await openCheckpoint(original);
    expect([...rebuilt.tensors.keys()]).toEqual([...reference.tensors.keys()]);
    for (const [k, t] of reference.tensors) expect(rebuilt.tensors.get(k)!.data).toEqual(t.data);
  }
  it('reads zip64 records and another archive prefix', () => rezip({ zip64: true }));
  it('reads deflated entries', () => rezip({ deflate: true }));
});

describe('safetensors dtypes', () => {
  it('converts F16, BF16, F64, I64, I32, U8 and BOOL to float32', async () => {
    const le = (arr: ArrayBufferView): Uint8Array => new Uint8Array(arr.buffer.slice(0));
    const file = buildSafetensors({
      'module.half': { dtype: 'F16', shape: [4], bytes: le(Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x7c00])) },
      'module.bf': { dtype: 'BF16', shape: [2], bytes: le(Uint16Array.from([0x3f80, 0xc0a0])) },
      'module.f64': { dtype: 'F64', shape: [2], bytes: le(Float64Array.from([0.1, -2.5])) },
      'module.i64': { dtype: 'I64', shape: [2], bytes: le(BigInt64Array.from([5n, -3n])) },
      'module.i32': { dtype: 'I32', shape: [1], bytes: le(Int32Array.from([-7])) },
      'module.u8': { dtype: 'U8', shape: [2], bytes: Uint8Array.from([0, 255]) },
      'module.b': { dtype: 'BOOL', shape: [2], bytes: Uint8Array.from([1, 0]) },
    });
    const c = await openCheckpoint(new BufferSource(file, 'dtypes.safetensors'));
    const get = (k: string): number[] => [...c.tensors.get(k)!.data];
    expect(get('half')[0]).toBe(1);
    expect(get('half')[1]).toBe(-2);
    expect(get('half')[2]).toBeCloseTo(1 / 3, 3);
    expect(get('half')[3]).toBe(Infinity);
    expect(get('bf')).toEqual([1, -5]);
    expect(get('f64')[0]).toBeCloseTo(0.1, 7);
    expect(get('i64')).toEqual([5, -3]);
    expect(get('i32')).toEqual([-7]);
    expect(get('u8')).toEqual([0, 255]);
    expect(get('b')).toEqual([1, 0]);
    expect(c.tensors.get('half')!.dtype).toBe('float16');
    // Inf loads, with a warning naming the key.
    expect(c.warnings.join(' ')).toMatch(/NaN or Inf.*half/);
  });
});
