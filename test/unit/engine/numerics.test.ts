// The engine's forward pass against PyTorch (tools/torchref via tools/make_fixtures.py):
// every tap of every case and the logits within 1e-4 max abs (DESIGN.md "Numerics").
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import type { AffinityRecord } from '../../../engine/nets/resnet';
import { ResNet } from '../../../engine/nets/resnet';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { FIXTURES, fixtureCases, maxAbsDiff, nchwToNhwc, readCase, readSafetensors } from './fixtureData';

const TOLERANCE = 1e-4;
const cases = fixtureCases();

const FORMATS = ['model.safetensors', 'model.pth', 'model.pth.tar'] as const;

async function runCase(name: string, file: string = FORMATS[0]): Promise<{ errors: Record<string, number>; affinity: AffinityRecord | null; expected: Map<string, { data: Float32Array }> }> {
  const fc = readCase(name);
  const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
  // Through the engine's own readers, so each checkpoint format is covered end to end.
  const weights = (await openCheckpointFile(join(FIXTURES, name, file))).tensors;
  const net = ResNet.load(fc.spec, weights);
  const input = nchwToNhwc(expected.get('input')!);
  const x = tf.tensor4d(input.data, input.shape);
  const errors: Record<string, number> = {};
  let affinity: AffinityRecord | null = null;
  try {
    const res = await net.forward(x, {
      bypass: new Set(fc.bypass),
      onAffinity: (r) => { if (r.module === fc.affinityModule) affinity = r; },
    });
    errors.logits = maxAbsDiff(res.logits, expected.get('logits')!.data);
    const seen = new Set<string>();
    for (const tap of res.taps) {
      const key = `${tap.module}.${tap.tap}`;
      seen.add(key);
      const exp = expected.get(key);
      errors[key] = exp && JSON.stringify(exp.shape) === JSON.stringify(tap.shape) ? maxAbsDiff(tap.data, exp.data) : Infinity;
    }
    // The full affinity is not a tap (never streamed); it is checked through onAffinity below.
    for (const key of Object.keys(fc.taps)) if (!seen.has(key) && !key.endsWith('.affinity')) errors[key] = Infinity;
  } finally {
    x.dispose();
    net.dispose();
  }
  return { errors, affinity, expected };
}

// wasm: every case in every checkpoint format; cpu: every case from safetensors.
const matrix = [
  ...cases.flatMap((c) => FORMATS.map((f) => ['wasm', c, f] as const)),
  ...cases.map((c) => ['cpu', c, FORMATS[0]] as const),
];
const worstSeen = new Map<string, number>();

describe('numerics', () => {
  test.each(matrix)('%s: %s (%s) matches PyTorch', async (backend, name, file) => {
    await initBackend(backend);
    const { errors, affinity, expected } = await runCase(name, file);
    const worst = Math.max(...Object.values(errors));
    if (worst > TOLERANCE) console.log(name, backend, file, errors);
    worstSeen.set(backend, Math.max(worstSeen.get(backend) ?? 0, worst));
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
    const fc = readCase(name);
    if (fc.affinityModule) {
      const exp = expected.get(`${fc.affinityModule}.affinity`)!;
      expect(affinity).not.toBeNull();
      expect(maxAbsDiff(affinity!.data, exp.data)).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

afterAll(async () => {
  if (process.env.ATTNSCOPE_REPORT_NUMERICS) console.log('worst max abs error per backend', Object.fromEntries(worstSeen));
  await initBackend('wasm');
});
