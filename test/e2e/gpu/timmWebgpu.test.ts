// In the slow suite: timm's families (issue 15, test/fixtures/timm) with --device gpu on both
// runtimes, WebGPU on SwiftShader (the CPU Vulkan driver in Debian's chromium): logits and every
// map the fixture holds within 1e-4 of timm's PyTorch forward (HaloNet's blocked maps are
// compared on the CPU runtimes, test/unit/engine/timmFamilies.test.ts).
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Session } from '../../../engine/session';
import { FIXTURES, maxAbsDiff, nchwToNhwc, readSafetensors } from '../../unit/engine/fixtureData';

const ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const hasDawn = (() => { try { createRequire(import.meta.url).resolve('webgpu'); return true; } catch { return false; } })();
const DIR = join(FIXTURES, 'timm');
const CASES = readdirSync(DIR).filter((d) => !d.includes('.')).sort();

describe.skipIf(!existsSync(ICD) || !hasDawn)('timm families on the GPU (WebGPU on SwiftShader)', () => {
  beforeAll(() => {
    process.env.VK_ICD_FILENAMES = ICD;
    process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'attnscope-xdg-'));
  });

  test.each(CASES.flatMap((c) => [[c, 'ort'], [c, 'tfjs']] as Array<[string, 'ort' | 'tfjs']>))('%s on %s matches timm', async (name, runtime) => {
    const c = JSON.parse(readFileSync(join(DIR, name, 'case.json'), 'utf8')) as { inputSize: number; modules: Array<{ name: string; map: string; kind: string }> };
    const expected = readSafetensors(join(DIR, name, 'expected.safetensors'));
    const session = await Session.load({ kind: 'path', path: join(DIR, name) }, { runtime, device: 'gpu' });
    try {
      expect([session.runtime.device, session.runtime.backend]).toEqual(['gpu', 'webgpu']);
      const r = await session.run({ image: { kind: 'input', name, input: nchwToNhwc(expected.get('input') as never).data, size: c.inputSize } });
      expect(maxAbsDiff(r.logits, expected.get('logits')!.data)).toBeLessThan(1e-4);
      for (const m of c.modules.filter((x) => x.kind !== 'halo')) {
        const got = r.maps!.find((x) => x.module === m.name && x.map === m.map)!;
        expect(maxAbsDiff(got.data, expected.get(`${m.name}.${m.map}`)!.data), `${m.name}.${m.map}`).toBeLessThan(1e-4);
      }
    } finally {
      session.dispose();
    }
  }, 180_000);
});
