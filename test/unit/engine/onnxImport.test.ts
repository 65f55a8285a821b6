// Issue 14: ONNX models exported by Debian PyTorch (tools/make_onnx_fixtures.py) open, their
// attention is found by itself, and every map equals what PyTorch computed, within 1e-4.
// Nothing else is listed as attention (SiLU, hard-swish and a sigmoid output head are in the
// fixtures as negative controls).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Session } from '../../../engine/session';
import { FIXTURES, maxAbsDiff, nchwToNhwc, readSafetensors } from './fixtureData';

const DIR = join(FIXTURES, 'onnx');
const CASES = readdirSync(DIR).filter((d) => !d.startsWith('.') && !d.includes('.')).sort();

interface OnnxCase {
  opset: number;
  inputSize: number;
  dynamic: boolean;
  modules: Array<{ name: string; kind: string; map: string; shape: number[] }>;
}

const sessions: Session[] = [];
afterAll(() => { for (const s of sessions) s.dispose(); });

async function open(name: string, runtime: 'ort' | 'tfjs' = 'ort'): Promise<{ session: Session; c: OnnxCase; expected: ReturnType<typeof readSafetensors> }> {
  const session = await Session.load({ kind: 'path', path: join(DIR, name, 'model.onnx') }, { threads: 1, runtime });
  sessions.push(session);
  const c = JSON.parse(readFileSync(join(DIR, name, 'case.json'), 'utf8')) as OnnxCase;
  return { session, c, expected: readSafetensors(join(DIR, name, 'expected.safetensors')) };
}

describe('ONNX import: PyTorch fixtures', () => {
  it('has the fixtures the issue names', () => {
    expect(CASES).toEqual(expect.arrayContaining(['cbam-resnet', 'se-resnet', 'eca', 'sk', 'gc-resnet', 'bam-resnet', 'nl-embedded', 'nl-gaussian', 'nl-dot', 'nl-concat', 'danet', 'mobilenetv3', 'mbconv', 'vit']));
    // The same mechanisms as timm writes them (tools/make_timm_onnx_fixtures.py).
    expect(CASES.filter((c) => c.startsWith('timm-'))).toHaveLength(8);
  });

  for (const [name, runtime] of CASES.flatMap((c) => [[c, 'ort'], [c, 'tfjs']] as const)) {
    it(`${name} on ${runtime}: finds exactly the attention PyTorch has, and every map matches`, async () => {
      if (name === 'gc-resnet' && runtime === 'tfjs') {
        // GC's context is an Einsum, which tfjs has no wasm kernel for: refused by name.
        await expect(open(name, runtime).then(async ({ session }) => session.run({ image: { kind: 'input', name, input: new Float32Array(32 * 32 * 3), size: 32 } })))
          .rejects.toThrow(/Einsum "bcn,bn->bc" .* beyond what the tfjs runtime's einsum supports/);
        return;
      }
      const { session, c, expected } = await open(name, runtime);
      const found = session.imported?.maps.map((m) => `${m.module}:${m.kind}`).sort();
      expect(found).toEqual(c.modules.map((m) => `${m.name}:${m.kind}`).sort());
      const input = nchwToNhwc(expected.get('input') as never);
      const r = await session.run({ image: { kind: 'input', name, input: input.data, size: c.inputSize } });
      expect(maxAbsDiff(r.logits, expected.get('logits')?.data as Float32Array)).toBeLessThan(1e-4);
      for (const m of c.modules) {
        const got = r.maps?.find((x) => x.module === m.name && x.map === m.map);
        expect(got, `${m.name}.${m.map}`).toBeDefined();
        expect(got?.shape, `${m.name}.${m.map} shape`).toEqual(m.shape);
        const want = expected.get(`${m.name}.${m.map}`)?.data as Float32Array;
        expect(maxAbsDiff(got?.data as Float32Array, want), `${m.name}.${m.map}`).toBeLessThan(1e-4);
      }
      // Where the fixture has them: the logits with one module bypassed (PyTorch: it returns its input).
      for (const [key, want] of expected) {
        const module = /^logits\.bypass\.(.+)$/.exec(key)?.[1];
        if (!module) continue;
        const b = await session.run({ image: { kind: 'input', name, input: input.data, size: c.inputSize }, options: { bypass: [module] } });
        expect(maxAbsDiff(b.logits, want.data), `logits with ${module} bypassed`).toBeLessThan(1e-4);
        expect(maxAbsDiff(b.logits, r.logits), `bypassing ${module} changes the logits`).toBeGreaterThan(1e-3);
      }
    });
  }

  it('ISANet: the long-range groups are traced back to the image, the short-range ones through the long-range block, which answers each grouped position in place', async () => {
    const { session, expected } = await open('isanet');
    const warnings = session.info.warnings.join('\n');
    expect(warnings).toMatch(/isa3\.stages\.0\.long_range_sa: attention in 8 groups of 8 positions, laid out on the image/);
    expect(warnings).toMatch(/isa3\.stages\.0\.short_range_sa: attention in 8 groups of 8 positions, regrouped from an earlier grouped block's output, laid out on the image/);
    // The two layouts differ (long range: every 2nd row and every 4th column; short range: blocks of 2 rows x 4 columns),
    // and each position's row holds 8 keys: a wrong replay would put them elsewhere.
    const r = await session.run({ image: { kind: 'input', name: 'isanet', input: nchwToNhwc(expected.get('input') as never).data, size: 32 } });
    const keys = (m: string, q: number): number[] => {
      const a = r.maps?.find((x) => x.module === m)?.data as Float32Array;
      return [...a.subarray(q * 64, q * 64 + 64)].flatMap((v, k) => (v > 0 ? [k] : []));
    };
    expect(keys('isa3.stages.0.short_range_sa', 0)).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);
    expect(keys('isa3.stages.0.long_range_sa', 0)).toEqual([0, 4, 16, 20, 32, 36, 48, 52]);
  });

  it('NLSA\'s sorted chunks (the authors\' export): too large to lay out at the default size, laid out as PyTorch\'s dense A when opened at 32 px, and runs past the layout\'s size limit refused', async () => {
    const { session } = await open('nlsa-resnet');
    expect(session.info.warnings.join('\n')).toMatch(/sorted-chunk attention over 4096 positions in 4 rounds is too large to lay out densely; open the model at a smaller input size/);
    const expected = readSafetensors(join(DIR, 'nlsa-resnet', 'expected.safetensors'));
    const input = nchwToNhwc(expected.get('input') as never).data;
    for (const runtime of ['ort', 'tfjs'] as const) {
      const small = await Session.load({ kind: 'path', path: join(DIR, 'nlsa-resnet', 'model.onnx') }, { threads: 1, runtime, inputSize: 32 });
      sessions.push(small);
      expect(small.info.warnings.join('\n')).toMatch(/nlsa2: attention in 4 rounds of 8 sorted chunks of 32 queries over 96 keys, laid out on the image/);
      const r = await small.run({ image: { kind: 'input', name: 'nlsa', input, size: 32 } });
      const a = r.maps?.find((m) => m.module === 'nlsa2' && m.map === 'affinity');
      expect(a?.shape).toEqual([256, 256]);
      expect(maxAbsDiff(a?.data as Float32Array, expected.get('nlsa2.affinity')?.data as Float32Array), runtime).toBeLessThan(1e-4);
      expect(maxAbsDiff(r.logits, expected.get('logits')?.data as Float32Array)).toBeLessThan(1e-4);
      // Laid out a round at a time: the key slots' one-hot (3 x 256^2 at 32 px), the rows and the sum,
      // 5 x 256^2 floats; 256 MB is reached at 121 px (the 4th power of the size).
      expect(small.imported?.denseLimit).toEqual({ size: 121, module: 'nlsa2' });
      await expect(small.run({ image: { kind: 'input', name: 'nlsa', input, size: 32 }, options: { inputSize: 160 } }))
        .rejects.toThrow(/nlsa2's attention, laid out on the image by AttnScope .* above 121 px/);
    }
  });

  it('layouts the importer adds carry the largest input size they fit 256 MB at (probed at 128 px: 1024 positions)', async () => {
    // SAN: the footprints' dense [HW, HW]; CCNet: two [HW, HW] terms and their sum.
    expect((await open('san-resnet')).session.imported?.denseLimit).toEqual({ size: 362, module: 'san3.sam' });
    expect((await open('ccnet')).session.imported?.denseLimit).toEqual({ size: 275, module: 'cca3' });
    // Fixed-size exports run at their own size only: no limit to state.
    expect((await open('isanet')).session.imported?.denseLimit).toBeNull();
    // Gates only: nothing laid out.
    expect((await open('cbam-resnet')).session.imported?.denseLimit).toBeNull();
  });

  for (const runtime of ['ort', 'tfjs'] as const) {
    it(`timm's average-pool downsampling with windows past the input (ceil_mode, 40 px) matches PyTorch on ${runtime}`, async () => {
      const { session, expected } = await open('timm-ecaresnet-d', runtime);
      const input = nchwToNhwc(expected.get('input40') as never);
      const r = await session.run({ image: { kind: 'input', name: 'x', input: input.data, size: 40 } });
      expect(maxAbsDiff(r.logits, expected.get('logits40')?.data as Float32Array)).toBeLessThan(1e-4);
    });
  }
});
