// Class evidence (engine/cam.ts, Session.cam) against PyTorch: every method at every stage
// for two classes of two fixture networks (tools/make_cam_fixtures.py, float64 autograd),
// within 1e-4 of the map's scale, on both runtimes (gradients always through the tfjs
// interpreter's autodiff).
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import { resizeBilinear } from '../../../common/agreement';
import { CAM_METHODS, eigenCam, type CamMethod } from '../../../engine/cam';
import { Session } from '../../../engine/session';
import { FIXTURES, maxAbsDiff, nchwToNhwc, readCase, readSafetensors } from './fixtureData';

const CASES = ['bypass', 'strides-cbam-nl'];

describe.each(['ort', 'tfjs'] as const)('class-activation maps against PyTorch (%s)', (runtime) => {
  test.each(CASES)('%s: every method, stage and class', async (name) => {
    const fc = readCase(name);
    const expected = readSafetensors(join(FIXTURES, 'cam', `${name}.safetensors`));
    const input = nchwToNhwc(readSafetensors(join(FIXTURES, name, 'expected.safetensors')).get('input')!);
    const s = await Session.load({ kind: 'path', path: join(FIXTURES, name, 'model.safetensors') }, { arch: fc.spec, runtime });
    try {
      const run = await s.run({ image: { kind: 'input', name, input: input.data, size: input.shape[1] } });
      const methods = new Set<string>();
      let worst = 0;
      for (const [key, exp] of expected) {
        const [layer, method, cls] = key.split('.') as [string, CamMethod, string];
        const got = await s.cam(run.runId, { method, stage: Number(layer.slice(5)), classIndex: Number(cls) });
        expect(got.shape, key).toEqual(exp.shape);
        const scale = Math.max(1, ...Array.from(exp.data, Math.abs));
        const err = maxAbsDiff(got.data, exp.data) / scale;
        worst = Math.max(worst, err);
        expect(err, key).toBeLessThanOrEqual(1e-4);
        // A map that tests something: not all zeros.
        if (method !== 'eigencam') expect(Math.max(...Array.from(exp.data, Math.abs)), key).toBeGreaterThan(0);
        methods.add(method);
      }
      expect([...methods].sort()).toEqual([...CAM_METHODS].sort());
      console.log(`${runtime} ${name}: ${expected.size} maps, worst error ${worst.toExponential(2)} of the map's scale`);
    } finally {
      s.dispose();
    }
  });
});

describe('DCN saliency', () => {
  test('selects the most salient cells of the stage (at most 8, a quarter of a small grid), whatever the class', async () => {
    const fc = readCase('bypass');
    const s = await Session.load({ kind: 'path', path: join(FIXTURES, 'bypass', 'model.safetensors') }, { arch: fc.spec });
    try {
      const input = nchwToNhwc(readSafetensors(join(FIXTURES, 'bypass', 'expected.safetensors')).get('input')!);
      const run = await s.run({ image: { kind: 'input', name: 'bypass', input: input.data, size: input.shape[1] } });
      for (const stage of [1, 4]) {
        const a = await s.cam(run.runId, { method: 'dcn', stage, classIndex: 0 });
        const b = await s.cam(run.runId, { method: 'dcn', stage, classIndex: 3 });
        expect(Array.from(b.data)).toEqual(Array.from(a.data));
        const cells = a.shape[0] * a.shape[1];
        const regions = a.regions!;
        expect(regions).toHaveLength(Math.min(8, Math.floor(cells / 4)));
        const sorted = Array.from(a.data).sort((x, y) => y - x);
        regions.forEach((r, i) => {
          expect(r.value).toBe(a.data[r.row * a.shape[1] + r.col]);
          expect(r.value).toBe(sorted[i]);
        });
      }
      expect((await s.cam(run.runId, { method: 'gradcam', stage: 4, classIndex: 0 })).regions).toBeUndefined();
    } finally {
      s.dispose();
    }
  });
});

describe('cam requests that cannot be answered say why', () => {
  test('CAM before the last stage, a class out of range, an unknown method, a run not kept', async () => {
    const fc = readCase('bypass');
    const s = await Session.load({ kind: 'path', path: join(FIXTURES, 'bypass', 'model.safetensors') }, { arch: fc.spec });
    try {
      const input = nchwToNhwc(readSafetensors(join(FIXTURES, 'bypass', 'expected.safetensors')).get('input')!);
      const run = await s.run({ image: { kind: 'input', name: 'x', input: input.data, size: 32 } });
      await expect(s.cam(run.runId, { method: 'cam', stage: 3, classIndex: 0 })).rejects.toThrow(/last stage/);
      await expect(s.cam(run.runId, { method: 'gradcam', stage: 4, classIndex: 10 })).rejects.toThrow(/classes 0 to 9/);
      await expect(s.cam(run.runId, { method: 'magic' as CamMethod, stage: 4, classIndex: 0 })).rejects.toThrow(/Unknown method/);
      await expect(s.cam('run-none', { method: 'gradcam', stage: 4, classIndex: 0 })).rejects.toThrow(/not kept/);
      // Score-CAM stops between batches of masked passes when its request is superseded.
      let passes = 0;
      const abort = new AbortController();
      const stopped = s.cam(run.runId, { method: 'scorecam', stage: 4, classIndex: 0 }, (done) => { passes = done; abort.abort(); }, abort.signal);
      await expect(stopped).rejects.toMatchObject({ code: 'cancelled' });
      expect(passes).toBe(16); // layer4 has 32 channels here, in batches of 16: stopped after the first

    } finally {
      s.dispose();
    }
  });
});

describe('cam maths', () => {
  test('bilinear upsampling matches half-pixel centres with clamped edges', () => {
    // [0, 1] upsampled to 4: centres at -0.25, 0.25, 0.75, 1.25 -> 0, 0.25, 0.75, 1.
    expect(Array.from(resizeBilinear([0, 1], 1, 2, 1, 4))).toEqual([0, 0.25, 0.75, 1]);
  });

  test('eigen-CAM finds the dominant direction and signs it with the activations', () => {
    // Two channels that both follow pattern p, plus small noise in a third.
    const p = [0, 1, 2, 3, 4, 5];
    const a = Float32Array.from([...p.map((v) => 2 * v), ...p.map((v) => v), ...p.map((_, i) => (i % 2 ? 0.01 : -0.01))]);
    const m = eigenCam(a, 3, 6);
    for (let i = 1; i < 6; i++) expect(m[i]!).toBeGreaterThan(m[i - 1]!); // increasing like p, not flipped
  });
});

afterAll(async () => {
  await initBackend('wasm');
});
