// --device on a machine without a GPU driver Dawn can use: `gpu` says so and stops, `auto`
// falls back to the CPU and says why (maps.json, --verbose); flags that do not fit are usage
// errors. (The GPU path itself: test/e2e/gpu/webgpu.test.ts, on SwiftShader.)
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { main } from '../../../engine/cli';
import { defaultProvider } from '../../../engine/provider';
import { captureConsole, FIXTURES } from './fixtureData';

// No Vulkan driver at all for this process (read by Dawn when a WebGPU session first starts).
process.env.VK_ICD_FILENAMES = '/nonexistent/attnscope-no-gpu.json';

const SAMPLE = join(FIXTURES, '../../assets/samples/chelsea.png');
const WEIGHTS = join(FIXTURES, 'cbam-official-basic/model.safetensors');
const tmp = mkdtempSync(join(tmpdir(), 'attnscope-device-'));
const stderr = captureConsole();

describe('--device without a GPU', () => {
  test('gpu stops with what failed; auto runs on the CPU and records why', async () => {
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--device', 'gpu', '--out', join(tmp, 'gpu')])).toBe(1);
    expect(stderr.text()).toMatch(/No GPU for ONNX Runtime's WebGPU execution provider[\s\S]*--device cpu/);
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--device', 'auto', '--out', join(tmp, 'auto')])).toBe(0);
    const index = JSON.parse(readFileSync(join(tmp, 'auto', 'maps.json'), 'utf8'));
    expect([index.runtime, index.device, index.backend]).toEqual(['ort', 'cpu', 'cpu']);
    expect(index.runtimeDetail).toMatch(/no GPU/);
    // Every GPU provider this build lists was tried, each with its reason (--verbose, the app's Runtime section).
    expect(index.runtimeDetail).toMatch(/CUDA: not installed \(npm install --onnxruntime-node-install=cuda12\)/);
    expect(index.runtimeDetail).toMatch(/WebGPU: /);
  });

  test('a loadModel request\'s device reaches the session (the app\'s Device setting)', async () => {
    const session = await defaultProvider().open({ type: 'loadModel', id: 1, source: { kind: 'path', path: WEIGHTS }, runtime: 'ort', device: 'auto' }, () => {}, new AbortController().signal);
    try {
      expect(session.info.runtime).toMatchObject({ runtime: 'ort', device: 'cpu' });
      expect(session.info.runtime?.detail).toMatch(/no GPU/);
    } finally {
      session.dispose();
    }
  });

  test('usage errors', async () => {
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--device', 'tpu', '--out', tmp])).toBe(2);
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--device', 'gpu', '--backend', 'wasm', '--out', tmp])).toBe(2);
    expect(stderr.text()).toMatch(/--device must be one of cpu, gpu, auto[\s\S]*Give --device or --backend, not both/);
  });

  test('tfjs: --device gpu is WebGPU on Dawn, which says why it cannot run here; auto falls back to the CPU backends', async () => {
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--runtime', 'tfjs', '--device', 'gpu', '--out', join(tmp, 'tfjs-gpu')])).toBe(1);
    expect(stderr.text()).toMatch(/The webgpu backend could not be loaded: no WebGPU adapter/);
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--runtime', 'tfjs', '--device', 'auto', '--out', join(tmp, 'tfjs-auto')])).toBe(0);
    const index = JSON.parse(readFileSync(join(tmp, 'tfjs-auto', 'maps.json'), 'utf8'));
    expect([index.runtime, index.device]).toEqual(['tfjs', 'cpu']);
  });
});
