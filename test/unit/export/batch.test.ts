// Issue 13: batches. Session.runBatch gives each image what run() gives it; the RunBatcher
// gathers concurrent runs into passes of N; `export --batch N` writes the same files as one
// image per pass. The engine is the real one (ort, CPU here; the same graph runs on a GPU).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCommand } from '../../../engine/cli/export';
import { decodeImage } from '../../../engine/image';
import { estimateRun } from '../../../engine/memory';
import type { NetSpec } from '../../../engine/nets/spec';
import { RunBatcher } from '../../../engine/runBatcher';
import { defaultModelsDir, Session } from '../../../engine/session';
import { maxAbsDiff } from '../engine/fixtureData';
import { listFiles, testImage, WEIGHTS } from './harness';

const tmp = mkdtempSync(join(tmpdir(), 'attnscope-batch-'));
const images = join(tmp, 'images');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  mkdirSync(images);
  for (let i = 0; i < 10; i++) writeFileSync(join(images, `b${i}.png`), i === 6 ? Buffer.from('broken') : await testImage(30 + 3 * i, 24 + i, 'png'));
});

describe('batches', () => {
  it('runBatch: each image gets the taps and logits run() gives it (the built-in model, non-local block included)', async () => {
    const session = await Session.load({ kind: 'builtin', name: 'emoji-cbam-nl' }, { modelsDir: defaultModelsDir(), threads: 1 });
    try {
      const decoded = await Promise.all([0, 1, 2].map(async (i) => decodeImage(await testImage(40 + 10 * i, 30 + 5 * i, 'png'), `x${i}.png`)));
      const batched = await session.runBatch(decoded.map((image) => ({ image, options: { bypass: ['nl3'] } })));
      expect(batched).toHaveLength(3);
      // Kept: class evidence of a batched run works.
      const cam = await session.cam(batched[1]!.runId, { method: 'eigencam', stage: 4, classIndex: 0 });
      expect(cam.data.length).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) {
        const one = await session.run({ image: { kind: 'decoded', image: decoded[i]! }, options: { bypass: ['nl3'] } });
        expect(batched[i]!.transform).toEqual(one.transform);
        expect(maxAbsDiff(batched[i]!.logits, one.logits)).toBeLessThan(1e-5);
        expect(batched[i]!.taps.map((t) => `${t.module}.${t.tap}`)).toEqual(one.taps.map((t) => `${t.module}.${t.tap}`));
        for (let k = 0; k < one.taps.length; k++) expect(maxAbsDiff(batched[i]!.taps[k]!.data, one.taps[k]!.data)).toBeLessThan(1e-5);
      }
    } finally {
      session.dispose();
    }
  });

  it('RunBatcher: 5 concurrent runs with batch 4 are 2 passes', async () => {
    const session = await Session.load({ kind: 'path', path: WEIGHTS }, { threads: 1 });
    try {
      const batcher = new RunBatcher(session, 4);
      const decoded = await Promise.all([0, 1, 2, 3, 4].map(async (i) => decodeImage(await testImage(32, 32 + i, 'png'), `y${i}.png`)));
      const results = await Promise.all(decoded.map((image) => batcher.asSession().run({ image: { kind: 'decoded', image } })));
      expect(new Set(results.map((r) => r.runId)).size).toBe(5);
      expect([batcher.passes, batcher.images]).toEqual([2, 5]);
    } finally {
      session.dispose();
    }
  });

  it('RunBatcher: a batch the memory limit refuses runs image by image instead, each image still answered', async () => {
    const probe = await Session.load({ kind: 'path', path: WEIGHTS }, { threads: 1 });
    const one = estimateRun(probe.spec as NetSpec, probe.info.inputSize).total;
    probe.dispose();
    // Room for two images at a time, not four.
    const session = await Session.load({ kind: 'path', path: WEIGHTS }, { threads: 1, maxMemory: one * 2.5 });
    try {
      const batcher = new RunBatcher(session, 4);
      const decoded = await Promise.all([0, 1, 2, 3].map(async (i) => decodeImage(await testImage(32, 30 + i, 'png'), `z${i}.png`)));
      await expect(session.runBatch(decoded.map((image) => ({ image })))).rejects.toThrow(/A batch of 4 images does not fit/);
      const results = await Promise.all(decoded.map((image) => batcher.asSession().run({ image: { kind: 'decoded', image } })));
      expect(results).toHaveLength(4);
      expect([batcher.passes, batcher.images]).toEqual([4, 4]);
    } finally {
      session.dispose();
    }
  });

  it('export --batch 4 writes the same files as one image per pass, the same maps to 1e-5; a broken image fails alone', async () => {
    const args = [images, '--weights', WEIGHTS, '--kinds', 'heatmap,overlay,raw,grid', '--quiet'];
    expect(await exportCommand([...args, '--out', join(tmp, 'one'), '--jobs', '1'], { workerUrl: null })).toBe(1);
    expect(await exportCommand([...args, '--out', join(tmp, 'four'), '--batch', '4'], { workerUrl: null })).toBe(1);
    const files = listFiles(join(tmp, 'one'));
    expect(files.length).toBeGreaterThan(9 * 4);
    expect(listFiles(join(tmp, 'four'))).toEqual(files);
    // A pass of 4 is not bit-identical to 4 passes of 1 (ONNX Runtime blocks the convolutions
    // differently), so PNG bytes may differ in the last colour step; the maps agree to 1e-5.
    const npy = (path: string): Float32Array => {
      const b = readFileSync(path);
      const start = 10 + b.readUInt16LE(8);
      return new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
    };
    const maps = files.filter((f) => f.endsWith('.npy'));
    expect(maps.length).toBeGreaterThan(9 * 10);
    for (const f of maps) expect(maxAbsDiff(npy(join(tmp, 'four', f)), npy(join(tmp, 'one', f))), f).toBeLessThan(1e-5);
    const failed = JSON.parse(readFileSync(join(tmp, 'four', 'export.json'), 'utf8')).failed;
    expect(failed.map((f: { input: string }) => f.input)).toEqual(['b6.png']);
  });
});

describe('--batch auto', () => {
  it('1 on the CPU; on a GPU as many images as the memory limit holds, at most 32', async () => {
    const { autoBatch } = await import('../../../engine/runBatcher');
    expect(autoBatch('cpu', 64 * 2 ** 30, 2 ** 20)).toBe(1);
    expect(autoBatch('gpu', 10 * 2 ** 20, 3 * 2 ** 20)).toBe(3);
    expect(autoBatch('gpu', 64 * 2 ** 30, 2 ** 20)).toBe(32);
    expect(autoBatch('gpu', 2 ** 20, 3 * 2 ** 20)).toBe(1);
    expect(autoBatch('gpu', 2 ** 30, null)).toBe(8); // an imported model: no estimate
  });

  it('--device auto without a GPU: the CPU, one image per pass, every image exported', async () => {
    process.env.VK_ICD_FILENAMES = '/nonexistent/attnscope-no-gpu.json';
    const out = join(tmp, 'auto');
    expect(await exportCommand([images, '--weights', WEIGHTS, '--kinds', 'raw', '--quiet', '--device', 'auto', '--out', out], { workerUrl: null })).toBe(1);
    expect(listFiles(out).filter((f) => f.endsWith('.npy')).length).toBeGreaterThan(9 * 5);
  });
});
