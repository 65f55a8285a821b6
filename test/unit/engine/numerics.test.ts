// The engine's forward pass against PyTorch (tools/torchref via tools/make_fixtures.py):
// every tap of every case and the logits within 1e-4 max abs (DESIGN.md "Numerics").
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import type { AffinityRecord } from '../../../engine/nets/resnet';
import { ResNet } from '../../../engine/nets/resnet';
import { FIXTURES, fixtureCases, maxAbsDiff, nchwToNhwc, readCase, readSafetensors } from './fixtureData';

const TOLERANCE = 1e-4;
const cases = fixtureCases();

async function runCase(name: string): Promise<{ errors: Record<string, number>; affinity: AffinityRecord | null; expected: Map<string, { data: Float32Array }> }> {
  const fc = readCase(name);
  const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
  const weights = readSafetensors(join(FIXTURES, name, 'model.safetensors'));
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

describe.each(['wasm', 'cpu'] as const)('numerics on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  test.each(cases)('%s matches PyTorch', async (name) => {
    const { errors, affinity, expected } = await runCase(name);
    const worst = Math.max(...Object.values(errors));
    if (worst > TOLERANCE) console.log(name, backend, errors);
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
  await initBackend('wasm');
});
