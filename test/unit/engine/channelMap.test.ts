// Session.channelMap: one channel of a module's input features (an aux output of the graph,
// fetched on demand), against PyTorch (test/fixtures/bypass/channelMaps.safetensors,
// tools/make_channel_maps.py), on both runtimes, for the last run and an older kept run;
// errors; no tensor leaks on tfjs.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import type { RuntimeName } from '../../../engine/runtimes';
import { KEPT_RUNS, Session } from '../../../engine/session';
import { FIXTURES, maxAbsDiff, nchwToNhwc, readCase, readSafetensors } from './fixtureData';

const CASE = 'bypass';
const MAPS = join(FIXTURES, CASE, 'channelMaps.safetensors');

function fixtureInput(): { kind: 'input'; name: string; input: Float32Array; size: number } {
  const x = nchwToNhwc(readSafetensors(join(FIXTURES, CASE, 'expected.safetensors')).get('input')!);
  return { kind: 'input', name: CASE, input: x.data, size: x.shape[1] };
}

async function load(runtime: RuntimeName = 'ort'): Promise<Session> {
  return Session.load({ kind: 'path', path: join(FIXTURES, CASE, 'model.safetensors') }, { arch: readCase(CASE).spec, runtime });
}

async function withSession(body: (s: Session) => Promise<void>, runtime: RuntimeName = 'ort'): Promise<void> {
  const s = await load(runtime);
  try {
    await body(s);
  } finally {
    s.dispose();
  }
}

/** Worst difference over every channel of every module against PyTorch's module inputs [C, H, W]. */
async function worstAgainstTorch(s: Session, runId: string): Promise<number> {
  const expected = readSafetensors(MAPS);
  let worst = 0;
  for (const m of s.info.modules) {
    const rec = expected.get(m.name)!;
    const [c, h, w] = rec.shape as [number, number, number];
    expect(c).toBe(m.channels);
    for (let ch = 0; ch < c; ch++) {
      const r = await s.channelMap(runId, m.name, ch);
      expect(r.shape).toEqual([h, w]);
      expect(r.shape).toEqual(m.mapSize);
      worst = Math.max(worst, maxAbsDiff(r.data, rec.data.subarray(ch * h * w, (ch + 1) * h * w)));
    }
  }
  return worst;
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe.skipIf(!existsSync(MAPS))('Session.channelMap', () => {
  test.each(['ort', 'tfjs'] as const)('%s: matches PyTorch\'s module inputs, channel by channel, bypassed modules included; last run and an older kept run', (runtime) => withSession(async (s) => {
    const bypass = readCase(CASE).bypass;
    const first = await s.run({ image: fixtureInput(), options: { bypass } });
    expect(await worstAgainstTorch(s, first.runId)).toBeLessThanOrEqual(1e-4);
    // A later run without bypass: the first run's maps are recomputed with its own bypass set.
    const second = await s.run({ image: fixtureInput() });
    expect(await worstAgainstTorch(s, first.runId)).toBeLessThanOrEqual(1e-4);
    // Downstream of a module that is active in the second run, the maps differ.
    const a = await s.channelMap(first.runId, 'layer3.0.cbam', 0);
    const b = await s.channelMap(second.runId, 'layer3.0.cbam', 0);
    expect(maxAbsDiff(a.data, b.data)).toBeGreaterThan(1e-4);
  }, runtime));

  test('the channel maps are what the activation tap averages: mean_c(gate_c * map_c)', () => withSession(async (s) => {
    const res = await s.run({ image: fixtureInput() });
    const m = s.info.modules.find((x) => x.name === 'layer2.0.cbam')!;
    const gate = res.taps.find((t) => t.module === m.name && t.tap === 'channel')!.data;
    const activation = res.taps.find((t) => t.module === m.name && t.tap === 'activation')!.data;
    const sum = new Float32Array(activation.length);
    for (let c = 0; c < m.channels; c++) {
      const r = await s.channelMap(res.runId, m.name, c);
      for (let i = 0; i < sum.length; i++) sum[i]! += (gate[c] as number) * (r.data[i] as number) / m.channels;
    }
    expect(maxAbsDiff(sum, activation)).toBeLessThanOrEqual(1e-5);
  }));

  test('unknown run, unknown module and a channel out of range are not-found', () => withSession(async (s) => {
    const first = await s.run({ image: fixtureInput() });
    await expect(s.channelMap('run-nope', 'nl3', 0)).rejects.toMatchObject({ code: 'not-found' });
    await expect(s.channelMap(first.runId, 'layer9.0.cbam', 0)).rejects.toMatchObject({ code: 'not-found' });
    await expect(s.channelMap(first.runId, 'layer1.0.cbam', 4)).rejects.toMatchObject({ code: 'not-found', message: expect.stringMatching(/4 channels/) });
    await expect(s.channelMap(first.runId, 'layer1.0.cbam', -1)).rejects.toMatchObject({ code: 'not-found' });
    for (let i = 0; i < KEPT_RUNS; i++) await s.run({ image: fixtureInput() });
    await expect(s.channelMap(first.runId, 'nl3', 0)).rejects.toMatchObject({ code: 'not-found' });
  }));

  test('tfjs: 200 channelMap calls leave tf.memory().numTensors unchanged; dispose() frees the weights', async () => {
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const s = await load('tfjs');
    const loaded = tf.memory().numTensors;
    try {
      const old = await s.run({ image: fixtureInput() });
      const last = await s.run({ image: fixtureInput(), options: { bypass: ['nl3'] } });
      const after = tf.memory().numTensors;
      expect(after).toBe(loaded); // module inputs are fetched on demand, never kept as tensors
      const modules = s.info.modules;
      for (let i = 0; i < 200; i++) {
        const m = modules[i % modules.length]!;
        // Every 10th call on the older run: the recompute path.
        await s.channelMap(i % 10 === 0 ? old.runId : last.runId, m.name, i % m.channels);
      }
      await expect(s.channelMap(last.runId, 'nl3', 99)).rejects.toMatchObject({ code: 'not-found' });
      expect(tf.memory().numTensors).toBe(after);
    } finally {
      s.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
