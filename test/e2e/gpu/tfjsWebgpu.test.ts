// In the slow suite (npm run test:e2e). --device gpu on the tfjs runtime: TensorFlow.js's
// WebGPU backend on Dawn (the optional `webgpu` package), here on SwiftShader, the CPU Vulkan
// driver inside Debian's chromium package (exact, slow: the fixtures' small inputs). Every
// PyTorch fixture within 1e-4, as on the other runtimes. Skipped where chromium's SwiftShader
// or the webgpu package is not installed.
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { LOGITS, tapOutput } from '../../../engine/graph/names';
import { emitResNet } from '../../../engine/nets/resnet';
import { createRunner } from '../../../engine/runtimes';
import { Session } from '../../../engine/session';
import { expectOutputsMatch, FIXTURES, fixtureCases, maxAbsDiff, nchwToNhwc, readCase, readSafetensors } from '../../unit/engine/fixtureData';
import { readdirSync, readFileSync } from 'node:fs';

const ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const hasDawn = (() => { try { createRequire(import.meta.url).resolve('webgpu'); return true; } catch { return false; } })();

describe.skipIf(!existsSync(ICD) || !hasDawn)('tfjs on the GPU (WebGPU on Dawn, SwiftShader)', () => {
  beforeAll(() => {
    process.env.VK_ICD_FILENAMES = ICD;
    process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'attnscope-xdg-'));
  });

  test.each(fixtureCases())('%s matches PyTorch', async (name) => {
    const fc = readCase(name);
    const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
    const weights = (await openCheckpointFile(join(FIXTURES, name, 'model.safetensors'))).tensors;
    const graph = emitResNet(fc.spec, weights, name);
    const runner = await createRunner(graph.model, graph.modules.map((m) => m.name), { runtime: 'tfjs', device: 'gpu' });
    try {
      expect([runner.info.runtime, runner.info.device, runner.info.backend]).toEqual(['tfjs', 'gpu', 'webgpu']);
      const input = expected.get('input')!;
      const fetch = [LOGITS, ...graph.modules.flatMap((m) => m.taps.map((t) => tapOutput(m.name, t)))];
      const out = await runner.run({ input: { data: input.data, dims: input.shape }, bypass: new Set(fc.bypass), fetch });
      expect(expectOutputsMatch(out, expected, fetch)).toBeGreaterThan(1);
    } finally {
      await runner.dispose();
    }
  }, 120_000);

  const onnxDir = join(FIXTURES, 'onnx');
  test.each(readdirSync(onnxDir).filter((d) => existsSync(join(onnxDir, d, 'case.json'))))('imported ONNX %s: every found map matches PyTorch', async (name) => {
    const c = JSON.parse(readFileSync(join(onnxDir, name, 'case.json'), 'utf8')) as { inputSize: number; modules: Array<{ name: string; map: string }> };
    const expected = readSafetensors(join(onnxDir, name, 'expected.safetensors'));
    if (name === 'nlsa-resnet') {
      // NLSA's sort and hash (TopK, ArgMax, GatherElements, Mod on int32): refused on WebGPU by name, before anything runs there.
      await expect(Session.load({ kind: 'path', path: join(onnxDir, name, 'model.onnx') }, { runtime: 'tfjs', device: 'gpu' }))
        .rejects.toMatchObject({ code: 'unsupported-op', message: expect.stringMatching(/WebGPU backend cannot run "(ArgMax|TopK|GatherElements|Mod)"/) });
      return;
    }
    const session = await Session.load({ kind: 'path', path: join(onnxDir, name, 'model.onnx') }, { runtime: 'tfjs', device: 'gpu' });
    try {
      expect(session.runtime.backend).toBe('webgpu');
      // (gc-resnet's Einsum, which tfjs has no wasm kernel for, runs on WebGPU.)
      const r = await session.run({ image: { kind: 'input', name, input: nchwToNhwc(expected.get('input') as never).data, size: c.inputSize } });
      expect(maxAbsDiff(r.logits, expected.get('logits')!.data)).toBeLessThan(1e-4);
      for (const m of c.modules) {
        const got = r.maps!.find((x) => x.module === m.name && x.map === m.map)!;
        expect(maxAbsDiff(got.data, expected.get(`${m.name}.${m.map}`)!.data), `${m.name}.${m.map}`).toBeLessThan(1e-4);
      }
    } finally {
      session.dispose();
    }
  }, 120_000);
});
