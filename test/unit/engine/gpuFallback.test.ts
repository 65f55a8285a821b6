// Issue 13: a GPU lost in the middle of a session ends in a CPU result and a notice, not an
// error (runtimes/index.ts withCpuFallback). The GPU is stood in for by a runner that answers
// until its device is "lost" and then throws what ONNX Runtime's WebGPU provider throws then;
// the CPU runner is the real one.
import { describe, expect, test } from 'vitest';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { LOGITS } from '../../../engine/graph/names';
import { emitResNet } from '../../../engine/nets/resnet';
import { createRunner, withCpuFallback } from '../../../engine/runtimes';
import type { GraphRunner, OutputTensor, RunRequest } from '../../../engine/runtimes/types';
import { FIXTURES, maxAbsDiff, nchwToNhwc, readCase, readSafetensors } from './fixtureData';
import { join } from 'node:path';

const CASE = 'cbam-official-basic';

async function cpuRunner(): Promise<GraphRunner> {
  const fc = readCase(CASE);
  const weights = (await openCheckpointFile(join(FIXTURES, CASE, 'model.safetensors'))).tensors;
  const graph = emitResNet(fc.spec, weights, CASE);
  return createRunner(graph.model, graph.modules.map((m) => m.name), { runtime: 'ort', threads: 1, device: 'cpu' });
}

/** The GPU: answers like the CPU (it is one) until `lost`, then fails as a lost device does. */
function gpuStandIn(inner: GraphRunner): GraphRunner & { lost: boolean; disposed: boolean } {
  return {
    lost: false,
    disposed: false,
    info: { ...inner.info, device: 'gpu', backend: 'webgpu', detail: 'WebGPU execution provider' },
    async run(req: RunRequest) {
      if (this.lost) throw new Error('ONNX Runtime failed: [WebGPU EP] Device was lost: VK_ERROR_DEVICE_LOST\n at ...');
      return inner.run(req);
    },
    async dispose() { this.disposed = true; await inner.dispose(); },
  };
}

describe('a GPU lost mid-session', () => {
  test('the run is repeated on the CPU: same result, one notice, later runs on the CPU', async () => {
    const expected = readSafetensors(join(FIXTURES, CASE, 'expected.safetensors'));
    const input = nchwToNhwc(expected.get('input') as never);
    const req: RunRequest = { input: { data: input.data, dims: [1, 3, input.shape[1], input.shape[2]], layout: 'nhwc' }, bypass: new Set(), fetch: [LOGITS] };
    const gpu = gpuStandIn(await cpuRunner());
    let cpuBuilds = 0;
    const runner = withCpuFallback(gpu, async () => { cpuBuilds++; return cpuRunner(); });
    const before = await runner.run(req);
    expect(runner.info.device).toBe('gpu');
    expect(runner.takeNotice?.()).toBeNull();

    gpu.lost = true;
    const after = await runner.run(req);
    const logits = (after.get(LOGITS) as OutputTensor).data;
    expect(maxAbsDiff(logits, expected.get('logits')?.data as Float32Array)).toBeLessThan(1e-4);
    expect(maxAbsDiff(logits, (before.get(LOGITS) as OutputTensor).data)).toBeLessThan(1e-6);
    expect(runner.info.device).toBe('cpu');
    expect(runner.takeNotice?.()).toMatch(/The GPU failed during a run \(ONNX Runtime failed: \[WebGPU EP\] Device was lost: VK_ERROR_DEVICE_LOST\); AttnScope switched to the CPU/);
    expect(runner.takeNotice?.()).toBeNull(); // said once
    expect(gpu.disposed).toBe(true);

    await runner.run(req);
    expect(cpuBuilds).toBe(1);
    await runner.dispose();
  });

  test('a run that fails on the CPU too was not the GPU: its error is thrown', async () => {
    const gpu = gpuStandIn(await cpuRunner());
    const runner = withCpuFallback(gpu, cpuRunner);
    const bad: RunRequest = { input: { data: new Float32Array(5), dims: [1, 3, 1, 1] }, bypass: new Set(), fetch: ['no-such-output'] };
    await expect(runner.run(bad)).rejects.toThrow(/size\(3\) does not match data/);
    expect(runner.info.device).toBe('gpu');
    expect(runner.takeNotice?.()).toBeNull();
    await runner.dispose();
  });
});
