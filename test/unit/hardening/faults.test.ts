// Hardening: the engine process killed mid-model-load, mid-run and mid-export. The host
// restarts it, the next requests work, and the export folder never holds a half-written
// file under an output name (exports write `.<hex>.partial` and rename; a stale partial
// is removed by the next export into that folder).

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EngineSupervisor } from '../../../engine/host/supervisor';
import type { EngineMessage } from '../../../engine/protocol';
import { buildWorker, fixtureBytes } from '../protocol/harness';
import { writeBigZip } from './bigCheckpoint';

const dir = mkdtempSync(join(tmpdir(), 'attnscope-faults-'));
let sup: EngineSupervisor;
const log: EngineMessage[] = [];
let nextId = 1;

beforeAll(async () => {
  sup = new EngineSupervisor({ workerUrl: await buildWorker(), workerData: { paths: 'all' }, maxRestarts: 10 });
  sup.onMessage((m) => log.push(m as EngineMessage));
});
afterAll(async () => {
  await sup?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(pred: () => T | undefined | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for the engine');
    await new Promise((ok) => setTimeout(ok, 10));
  }
}
const final = (id: number) => until(() => log.find((m) => m.id === id && !['loadProgress', 'runStarted', 'tap', 'prediction', 'exportProgress'].includes(m.type)));

async function request(msg: Record<string, unknown>): Promise<EngineMessage> {
  const id = nextId++;
  sup.postMessage({ ...msg, id });
  return final(id);
}

async function killAndWaitForRestart(): Promise<void> {
  const generation = sup.generation;
  const seen = log.length;
  await sup.crash();
  await until(() => sup.generation > generation && log.slice(seen).some((m) => m.type === 'engineStatus' && m.state === 'ready'));
}

async function loadFixture(): Promise<void> {
  expect(await request({ type: 'loadModel', source: { kind: 'bytes', name: 'model.safetensors', bytes: fixtureBytes() } })).toMatchObject({ type: 'modelInfo' });
}

async function bigPhoto(w = 1600, h = 1200): Promise<ArrayBuffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 2654435761) >>> 24;
  const jpeg = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  return jpeg.buffer.slice(jpeg.byteOffset, jpeg.byteOffset + jpeg.byteLength) as ArrayBuffer;
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

/** Every output-named file is complete: PNGs decode fully, .npy headers match their size, JSON parses. */
async function expectNoHalfFiles(root: string): Promise<void> {
  for (const rel of listFiles(root)) {
    const base = rel.split('/').pop() as string;
    if (/^\.[0-9a-f]{12}\.partial$/.test(base)) continue; // hidden temp, never an output
    const bytes = readFileSync(join(root, rel));
    if (rel.endsWith('.png')) await expect(sharp(bytes, { failOn: 'truncated' }).raw().toBuffer(), rel).resolves.toBeTruthy();
    else if (rel.endsWith('.npy')) {
      const headerLen = bytes.readUInt16LE(8);
      const header = bytes.subarray(10, 10 + headerLen).toString('latin1');
      const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
      expect(bytes.length - 10 - headerLen, rel).toBe(shape.reduce((a, b) => a * b, 1) * 4);
    } else if (rel.endsWith('.json')) expect(() => JSON.parse(bytes.toString('utf8')), rel).not.toThrow();
  }
}

describe('the engine killed at the worst moments', () => {
  test('mid-model-load (a 2 GB checkpoint being read and hashed): restarted, the next load and run work', async () => {
    const path = join(dir, 'huge.pth');
    await writeBigZip(path);
    const id = nextId++;
    sup.postMessage({ type: 'loadModel', id, source: { kind: 'path', path } });
    await until(() => log.some((m) => m.id === id && m.type === 'loadProgress'));
    await killAndWaitForRestart();
    expect(log.some((m) => m.id === id && m.type === 'modelInfo')).toBe(false);
    rmSync(path);
    await loadFixture();
    const photo = await bigPhoto();
    expect(await request({ type: 'run', image: { kind: 'bytes', name: 'p.jpg', bytes: photo }, options: {} })).toMatchObject({ type: 'runDone' });
  }, 90_000);

  test('mid-run: restarted; the model is gone (no-model), reloading and re-running works', async () => {
    await loadFixture();
    const id = nextId++;
    sup.postMessage({ type: 'run', id, image: { kind: 'bytes', name: 'p.jpg', bytes: await bigPhoto() }, options: {} });
    await until(() => log.some((m) => m.id === id));
    await killAndWaitForRestart();
    expect(await request({ type: 'run', image: { kind: 'bytes', name: 'p.jpg', bytes: await bigPhoto() }, options: {} }))
      .toMatchObject({ type: 'error', code: 'no-model' });
    await loadFixture();
    expect(await request({ type: 'run', image: { kind: 'bytes', name: 'p.jpg', bytes: await bigPhoto() }, options: {} })).toMatchObject({ type: 'runDone' });
  }, 90_000);

  test('mid-export: no half-written output, and the export redone in the same folder completes and leaves no temp file', async () => {
    const out = join(dir, 'export');
    await loadFixture();
    const exportMsg = {
      type: 'export', image: { kind: 'bytes', name: 'photo.jpg', bytes: await bigPhoto(640, 480) },
      kinds: ['heatmap', 'overlay', 'raw'],
      settings: { colormap: 'viridis', opacity: 0.5, normalise: 'minmax', interpolation: 'bilinear' },
      destination: { kind: 'dir', path: out },
    };
    const id = nextId++;
    sup.postMessage({ ...exportMsg, id });
    const firstFiles = await until(() => log.filter((m) => m.id === id && m.type === 'exportProgress').length >= 2 || log.find((m) => m.id === id && m.type !== 'exportProgress'), 60_000);
    expect(firstFiles).toBe(true); // still exporting when killed
    await killAndWaitForRestart();
    expect(log.some((m) => m.id === id && m.type === 'exportDone')).toBe(false);
    await expectNoHalfFiles(out);

    await loadFixture();
    const done = await request({ ...exportMsg, image: { kind: 'bytes', name: 'photo.jpg', bytes: await bigPhoto(640, 480) } });
    expect(done).toMatchObject({ type: 'exportDone' });
    const files = listFiles(out);
    expect(files.filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(files.length).toBeGreaterThanOrEqual((done as { files: string[] }).files.length);
    await expectNoHalfFiles(out);
  }, 120_000);
});
