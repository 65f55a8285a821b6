// Session: loading through the checkpoint readers, query() against PyTorch's affinity
// rows, bypass, cancellation, and no tensor leaks over 200 runs.
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import { BufferSource } from '../../../engine/checkpoints';
import type { RuntimeName } from '../../../engine/runtimes';
import { KEPT_RUNS, Session } from '../../../engine/session';
import { FIXTURES, fixtureCases, maxAbsDiff, nchwToNhwc, readCase, readSafetensors } from './fixtureData';

const SAMPLE = join(FIXTURES, '../../assets/samples/chelsea.png');
const cases = fixtureCases();

async function loadCase(name: string, file = 'model.safetensors', runtime: RuntimeName = 'ort'): Promise<Session> {
  return Session.load({ kind: 'path', path: join(FIXTURES, name, file) }, { arch: readCase(name).spec, runtime });
}

function fixtureInput(name: string): { kind: 'input'; name: string; input: Float32Array; size: number } {
  const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
  const x = nchwToNhwc(expected.get('input')!);
  return { kind: 'input', name, input: x.data, size: x.shape[1] };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe.skipIf(cases.length === 0)('Session', () => {
  test('describes the modules in forward order with their taps and map sizes', async () => {
    const s = await loadCase('bypass');
    try {
      const fc = readCase('bypass');
      // Forward order: nl3 (after layer3) comes before layer4's CBAM.
      expect(s.info.modules.map((m) => m.name)).toEqual(['layer1.0.cbam', 'layer2.0.cbam', 'layer3.0.cbam', 'nl3', 'layer4.0.cbam']);
      expect([...fc.modules].sort()).toEqual(s.info.modules.map((m) => m.name).sort());
      const nl = s.info.modules.find((m) => m.name === 'nl3')!;
      expect(nl).toMatchObject({ kind: 'nonlocal', stage: 'layer3', taps: ['attention', 'activation'], mapSize: [8, 8] });
      expect(s.info.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      s.dispose();
    }
  });

  test('loads from a path, bytes or a ByteSource with the same weights hash', async () => {
    const file = join(FIXTURES, 'se-timm', 'model.pth');
    const bytes = readFileSync(file);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const arch = readCase('se-timm').spec;
    const fromBytes = await Session.load({ kind: 'bytes', name: 'se.pth', bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }, { arch });
    const source = new BufferSource(bytes, 'se.pth');
    const fromSource = await Session.load({ kind: 'source', source }, { arch });
    const fromPath = await Session.load({ kind: 'path', path: file }, { arch });
    for (const s of [fromBytes, fromSource, fromPath]) {
      expect(s.info.weightsSha256).toBe(sha);
      s.dispose();
    }
    await expect(Session.load({ kind: 'builtin', name: '../fixtures' })).rejects.toMatchObject({ code: 'not-found' });
  });

  test.each(cases.filter((c) => readCase(c).affinityModule).flatMap((c) => [[c, 'ort'], [c, 'tfjs']] as const))('%s (%s): query() answers PyTorch\'s affinity row for every cell', async (name, runtime) => {
    const fc = readCase(name);
    const module = fc.affinityModule!;
    const all = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
    const expected = all.get(`${module}.affinity`)!;
    const steps = [1, 2, 3].map((k) => all.get(`${module}.affinity${k}`)).filter((t) => t !== undefined);
    const s = await loadCase(name, 'model.safetensors', runtime);
    try {
      const res = await s.run({ image: fixtureInput(name), options: { bypass: fc.bypass } });
      const [queries, keys] = expected.shape as [number, number];
      const grid = Math.round(Math.sqrt(queries));
      const size = res.transform.inputWidth;
      let worst = 0;
      for (let q = 0; q < queries; q++) {
        const row = Math.floor(q / grid);
        const col = q % grid;
        const r = await s.query(res.runId, module, { x: (col + 0.5) * (size / grid), y: (row + 0.5) * (size / grid) });
        expect(r.cell).toEqual({ row, col });
        expect(r.shape[0]! * r.shape[1]!).toBe(keys);
        worst = Math.max(worst, maxAbsDiff(r.data, expected.data.subarray(q * keys, (q + 1) * keys)));
        // A multi-pass attention (CCNet) also answers the row at each earlier pass.
        expect(r.steps?.length ?? 0).toBe(steps.length);
        steps.forEach((st, k) => { worst = Math.max(worst, maxAbsDiff(r.steps![k]!.data, st.data.subarray(q * keys, (q + 1) * keys))); });
      }
      expect(worst).toBeLessThanOrEqual(1e-4);
    } finally {
      s.dispose();
    }
  });

  test('every checkpoint format gives the same logits as PyTorch', async () => {
    for (const name of ['cbam-official-bottleneck', 'nl-concat-sub']) {
      const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors')).get('logits')!;
      for (const file of ['model.safetensors', 'model.pth', 'model.pth.tar']) {
        const s = await loadCase(name, file);
        try {
          const res = await s.run({ image: fixtureInput(name) });
          expect(maxAbsDiff(res.logits, expected.data), `${name}/${file}`).toBeLessThanOrEqual(1e-4);
        } finally {
          s.dispose();
        }
      }
    }
  });

  test.each(['ort', 'tfjs'] as const)('%s: bypass passes the input through but still reports the module\'s taps, without rebuilding the session', async (runtime) => {
    const s = await loadCase('bypass', 'model.safetensors', runtime);
    const builds = Session.runnerBuilds;
    try {
      const input = fixtureInput('bypass');
      const on = await s.run({ image: input });
      const off = await s.run({ image: input, options: { bypass: ['nl3', 'layer2.0.cbam'] } });
      const again = await s.run({ image: input });
      expect(Session.runnerBuilds).toBe(builds); // a toggle is one pass, never a new runtime session
      expect(maxAbsDiff(again.logits, on.logits)).toBe(0);
      expect(off.taps.map((t) => `${t.module}.${t.tap}`)).toEqual(on.taps.map((t) => `${t.module}.${t.tap}`));
      expect(maxAbsDiff(on.logits, off.logits)).toBeGreaterThan(1e-3);
      // Taps before the first bypassed module are unchanged.
      expect(maxAbsDiff(on.taps[0]!.data, off.taps[0]!.data)).toBe(0);
      await expect(s.run({ image: input, options: { bypass: ['layer9.0.cbam'] } })).rejects.toMatchObject({ code: 'not-found' });
    } finally {
      s.dispose();
    }
  });

  test('query() errors: non-local only, and only the last few runs are kept', async () => {
    const s = await loadCase('bypass');
    try {
      const input = fixtureInput('bypass');
      const first = await s.run({ image: input });
      await expect(s.query(first.runId, 'layer1.0.cbam', { x: 1, y: 1 })).rejects.toMatchObject({ code: 'bad-request' });
      await expect(s.query(first.runId, 'nl3', { x: -5, y: 1 })).rejects.toMatchObject({ code: 'bad-request' });
      for (let i = 0; i < KEPT_RUNS; i++) await s.run({ image: input });
      await expect(s.query(first.runId, 'nl3', { x: 1, y: 1 })).rejects.toMatchObject({ code: 'not-found' });
    } finally {
      s.dispose();
    }
  });

  test('tfjs: a cancelled run stops at the next tap and frees its tensors', async () => {
    const s = await loadCase('bypass', 'model.safetensors', 'tfjs');
    try {
      await s.run({ image: { kind: 'path', path: SAMPLE } });
      const before = tf.memory().numTensors;
      const ac = new AbortController();
      let taps = 0;
      const run = s.run({ image: { kind: 'path', path: SAMPLE } }, { signal: ac.signal, onTap: () => { taps++; ac.abort(); } });
      await expect(run).rejects.toMatchObject({ code: 'cancelled' });
      expect(taps).toBeLessThanOrEqual(3); // the first module's taps, then it stops
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      s.dispose();
    }
  });

  test('tfjs: 200 runs of the same image leave tf.memory().numTensors unchanged', async () => {
    const s = await loadCase('bypass', 'model.safetensors', 'tfjs');
    try {
      const image = { kind: 'path' as const, path: SAMPLE };
      await s.run({ image, options: { inputSize: 48 } });
      const before = tf.memory().numTensors;
      for (let i = 0; i < 200; i++) {
        await s.run({ image, options: { inputSize: 48, bypass: i % 2 ? ['nl3'] : [] } });
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      s.dispose();
    }
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });

  test('tfjs: dispose() frees the model\'s weights', async () => {
    const before = tf.memory().numTensors;
    const s = await Session.load({ kind: 'path', path: join(FIXTURES, 'cbam-official-basic', 'model.safetensors') }, { arch: readCase('cbam-official-basic').spec, runtime: 'tfjs' });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    const loaded = tf.memory().numTensors;
    expect(await s.warmup()).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(loaded);
    s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
