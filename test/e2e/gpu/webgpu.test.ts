// In the slow suite (npm run test:e2e): SwiftShader compiles every shader on the CPU, about 6 s a session.
// --device gpu on the ort runtime: ONNX Runtime's WebGPU execution provider (Dawn), here on
// SwiftShader, the CPU Vulkan driver inside Debian's chromium package (exact, slow: the
// fixtures' small inputs). Every PyTorch fixture within 1e-4, the row-block path included.
// Skipped where chromium's SwiftShader is not installed.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { affinityOutput, LOGITS, tapOutput } from '../../../engine/graph/names';
import { emitResNet } from '../../../engine/nets/resnet';
import { createRunner } from '../../../engine/runtimes';
import { expectOutputsMatch, FIXTURES, fixtureCases, readCase, readSafetensors } from '../../unit/engine/fixtureData';

const ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const cases = fixtureCases();

describe.skipIf(!existsSync(ICD))('ort on the GPU (WebGPU on SwiftShader)', () => {
  beforeAll(() => {
    // Read by Dawn when the first WebGPU session starts.
    process.env.VK_ICD_FILENAMES = ICD;
    process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'attnscope-xdg-'));
  });

  test.each(cases.flatMap((c) => [[c, 'whole'], ...(readCase(c).affinityModule ? [[c, 'row blocks']] : [])] as Array<[string, string]>))(
    '%s (%s) matches PyTorch', async (name, path) => {
      const fc = readCase(name);
      const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
      const weights = (await openCheckpointFile(join(FIXTURES, name, 'model.safetensors'))).tensors;
      const graph = emitResNet(fc.spec, weights, name, path === 'row blocks' ? { keepAffinityBytes: 0, chunkBytes: 4096 } : {});
      const runner = await createRunner(graph.model, graph.modules.map((m) => m.name), { runtime: 'ort', device: 'gpu' });
      try {
        expect([runner.info.device, runner.info.backend]).toEqual(['gpu', 'webgpu']);
        const input = expected.get('input')!;
        const fetch = [LOGITS, ...graph.modules.flatMap((m) => [...m.taps.map((t) => tapOutput(m.name, t)), ...(m.affinity && path === 'whole' ? [affinityOutput(m.name)] : [])])];
        const out = await runner.run({ input: { data: input.data, dims: input.shape }, bypass: new Set(fc.bypass), fetch });
        expect(expectOutputsMatch(out, expected, fetch)).toBeGreaterThan(1);
      } finally {
        await runner.dispose();
      }
    }, 120_000);
});
