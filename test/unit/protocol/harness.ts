// Shared by the protocol tests: a private build of the engine worker (other sessions
// rebuild dist/ while tests run), a test image, the fixture checkpoint, and a client
// Transport over an EngineSupervisor.

import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { EngineSupervisor } from '../../../engine/host/supervisor';
import type { EngineMessage } from '../../../engine/protocol';
import type { Transport } from '../../../renderer/client/client';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const FIXTURE = 'cbam-official-basic';

/** Bundles engine/host/worker.ts into dist/test-engine/<pid>/ and returns its URL. */
export async function buildWorker(): Promise<URL> {
  const outdir = join(root, 'dist', 'test-engine', String(process.pid));
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [join(root, 'engine/host/worker.ts')],
    outdir, bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', logLevel: 'warning',
  });
  return pathToFileURL(join(outdir, 'worker.js'));
}

export function fixtureBytes(name = FIXTURE): ArrayBuffer {
  const b = readFileSync(join(root, 'test/fixtures', name, 'model.safetensors'));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** The fixture's taps in forward order with their shapes, from case.json. */
export function fixtureTaps(name = FIXTURE): Array<{ key: string; shape: number[] }> {
  const c = JSON.parse(readFileSync(join(root, 'test/fixtures', name, 'case.json'), 'utf8')) as { taps: Record<string, number[]> };
  return Object.entries(c.taps).filter(([k]) => !/\.affinity\d*$/.test(k)).map(([key, shape]) => ({ key, shape }));
}

/** A 48x40 PNG with a bright square, as bytes. */
export async function testImage(): Promise<ArrayBuffer> {
  const w = 48, h = 40;
  const px = Buffer.alloc(w * h * 3, 30);
  for (let y = 10; y < 20; y++) for (let x = 25; x < 35; x++) px.fill(230, (y * w + x) * 3, (y * w + x) * 3 + 3);
  const png = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  return png.buffer.slice(png.byteOffset, png.byteOffset + png.byteLength) as ArrayBuffer;
}

export function supervisorTransport(sup: EngineSupervisor): Transport {
  const t: Transport = {
    kind: 'electron',
    send: (msg, transfer) => sup.postMessage(msg, transfer),
    onMessage: () => {},
    onClose: () => {},
    close: () => { void sup.close(); },
  };
  sup.onMessage((m) => t.onMessage(m as EngineMessage));
  return t;
}

export const clock = (): number => performance.timeOrigin + performance.now();

export function stats(xs: number[]): { n: number; median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, median: at(0.5), p95: at(0.95), max: s[s.length - 1] ?? NaN };
}

/** A stand-in for dist/renderer: an index.html and one script. */
export function staticFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-static-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>AttnScope</title><script type="module" src="./app.js"></script>');
  writeFileSync(join(dir, 'app.js'), 'console.log("hi")');
  return dir;
}

/**
 * engine/host/electron.ts run in a worker thread whose process.parentPort stands in for
 * the utility process's: messages {data, ports} with MessagePortMain-like ports. Post it
 * { data: { type: 'port' }, ports: [port] } with the port transferred. Returns the shim's path.
 */
export async function buildElectronShim(): Promise<string> {
  const dir = join(root, 'dist', 'test-engine', `electron-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(root, 'engine/host/electron.ts')], outdir: dir, bundle: true, platform: 'node', target: 'node20',
    format: 'esm', packages: 'external', logLevel: 'warning',
  });
  writeFileSync(join(dir, 'shim.mjs'), SHIM);
  return join(dir, 'shim.mjs');
}

const SHIM = `
import { parentPort } from 'node:worker_threads';
const wrapPort = (port) => ({
  on(event, l) { if (event === 'message') port.on('message', (data) => l({ data })); else port.on(event, l); },
  postMessage(m) { port.postMessage(m); },
  start() { port.start(); },
  close() { port.close(); },
});
// Like Electron, messages sent before the engine listens wait for it.
const listeners = [];
const early = [];
const deliver = (e) => listeners.forEach((l) => l(e));
parentPort.on('message', (m) => {
  const e = { data: m.data, ports: (m.ports ?? []).map(wrapPort) };
  if (listeners.length) deliver(e); else early.push(e);
});
process.parentPort = {
  on(event, l) { if (event === 'message') { listeners.push(l); early.splice(0).forEach(deliver); } },
  postMessage(m) { parentPort.postMessage(m); },
};
await import('./electron.js');
`;
