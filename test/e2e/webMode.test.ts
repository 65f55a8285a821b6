// Web mode in Debian Chromium: the served page loads with its token and the engine says
// hello over the WebSocket (under the server's CSP); without the token, or from a foreign
// page, neither the page nor the socket is served; an engine killed mid-session is
// restarted and the page says so. Also measures tap streaming latency in the browser.

import { build as viteBuild } from 'vite';
import { join } from 'node:path';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from '../../engine/host/webServer';
import { buildWorker, root } from '../unit/protocol/harness';

let server: WebServer;
let browser: Browser;

beforeAll(async () => {
  // Private builds: other sessions rebuild dist/ while this runs.
  const staticDir = join(root, 'dist', 'test-renderer', String(process.pid));
  await viteBuild({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn', build: { outDir: staticDir, emptyOutDir: true } });
  server = await startWebServer({
    staticDir, workerUrl: await buildWorker(),
    workerData: { sources: ['builtin', 'bytes'], paths: 'none', preload: { kind: 'path', path: join(root, 'test/fixtures/cbam-official-basic/model.safetensors') } },
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

type EngineSlice = {
  state: string; message: string | null; backend?: string;
  runtime?: { runtime: string; device: string; backend: string; threads: number; detail: string } | null;
};
type StoreWindow = { __attnscope?: { store: { getState(): { engine: EngineSlice } } } };
// Function predicates, not strings: the page's CSP (no 'unsafe-eval') refuses string evaluation.
const readEngine = () => (window as unknown as StoreWindow).__attnscope?.store.getState().engine ?? null;
const engineReady = () => {
  const e = (window as unknown as StoreWindow).__attnscope?.store.getState().engine;
  return e?.state === 'ready' && !!e.backend;
};
const engineRestarted = () => {
  const e = (window as unknown as StoreWindow).__attnscope?.store.getState().engine;
  return e?.state === 'ready' && /restarted/.test(e.message ?? '');
};

describe('web mode in Chromium', () => {
  it('loads the page with the token; the engine says hello over the socket', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const res = await page.goto(server.url);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("connect-src 'self'");
    await page.waitForFunction(engineReady, undefined, { timeout: 60_000 });
    const engine = (await page.evaluate(readEngine))!;
    // The default runtime, ONNX Runtime, says what it runs on: "ort cpu".
    const rt = engine.runtime!;
    expect(rt).toMatchObject({ runtime: 'ort', device: 'cpu', backend: 'cpu' });
    expect(rt.threads).toBeGreaterThanOrEqual(1);
    expect(rt.detail).toMatch(/onnxruntime/);
    expect(engine.backend).toBe(`${rt.runtime} ${rt.backend}`);
    expect(errors.filter((e) => /Content Security Policy|WebSocket/i.test(e))).toEqual([]);
    await page.close();
  });

  it('refuses the page and the socket without the token, and the socket from a foreign page', async () => {
    const page = await browser.newPage();
    const bare = `http://127.0.0.1:${server.port}/`;
    expect((await page.goto(bare))?.status()).toBe(403);
    expect((await page.goto(`${bare}?token=0123`))?.status()).toBe(403);
    // A page the server did not serve (about:blank, opaque origin) trying the socket, with and without the token.
    await page.goto('about:blank');
    const outcomes = await page.evaluate(async ([noToken, withToken]) => {
      const attempt = (url: string) => new Promise<string>((resolve) => {
        const ws = new WebSocket(url);
        ws.onopen = () => { ws.close(); resolve('open'); };
        ws.onerror = () => resolve('refused');
      });
      return [await attempt(noToken!), await attempt(withToken!)];
    }, [`ws://127.0.0.1:${server.port}/engine`, `ws://127.0.0.1:${server.port}/engine?token=${server.token}`]);
    expect(outcomes).toEqual(['refused', 'refused']);
    await page.close();
  });

  it('an engine killed mid-session is restarted and the page says what happened', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(engineReady, undefined, { timeout: 60_000 });
    for (const e of server.engines) await e.crash();
    await page.waitForFunction(engineRestarted, undefined, { timeout: 60_000 });
    const engine = (await page.evaluate(readEngine))!;
    expect(engine.message).toMatch(/Engine restarted after it stopped/);
    await page.close();
  });

  it('streams taps to the page: latency from engine to page against forward time', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(engineReady, undefined, { timeout: 60_000 });
    const png = await sharp({ create: { width: 256, height: 192, channels: 3, background: { r: 40, g: 90, b: 160 } } }).png().toBuffer();
    // A second client on the page's own origin and token: same code path as the UI's.
    const result = await page.evaluate(async ({ url, b64, sizes }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      await new Promise((r) => { ws.onopen = r; });
      const decode = (d: ArrayBuffer | string) => {
        if (typeof d === 'string') return JSON.parse(d);
        const n = new DataView(d).getUint32(0, true);
        return JSON.parse(new TextDecoder().decode(new Uint8Array(d, 4, n))).m;
      };
      const out: Array<{ size: number; latency: number[]; forwardMs: number; taps: number }> = [];
      let id = 1;
      const send = (m: object, buf?: ArrayBuffer) => {
        if (!buf) { ws.send(JSON.stringify(m)); return; }
        const header = new TextEncoder().encode(JSON.stringify({ m, b: [[0, 0]] }));
        const off = Math.ceil((4 + header.length + 64) / 8) * 8;
        const json = new TextEncoder().encode(JSON.stringify({ m, b: [[off, buf.byteLength]] }));
        const frame = new Uint8Array(off + buf.byteLength);
        new DataView(frame.buffer).setUint32(0, off - 4, true);
        frame.fill(32, 4, off);
        frame.set(json, 4);
        frame.set(new Uint8Array(buf), off);
        ws.send(frame);
      };
      for (const size of sizes) {
        for (let rep = 0; rep < 3; rep++) {
          const latency: number[] = [];
          const done = new Promise<{ forwardMs: number; taps: number }>((resolve) => {
            ws.onmessage = (e) => {
              const m = decode(e.data as ArrayBuffer | string);
              if (m.type === 'tap') latency.push(performance.timeOrigin + performance.now() - m.computedAt);
              if (m.type === 'runDone') resolve({ forwardMs: m.timings.forwardMs, taps: m.tapCount });
            };
          });
          send({ type: 'run', id: id++, image: { kind: 'bytes', name: 'x.png', bytes: { $bin: 0, t: 'ab' } }, options: { inputSize: size } }, bytes);
          const r = await done;
          if (rep > 0) out.push({ size, latency, ...r });
        }
      }
      ws.close();
      return out;
    }, { url: `ws://127.0.0.1:${server.port}/engine?token=${server.token}`, b64: png.toString('base64'), sizes: [32, 224] });
    // The page's clock (performance.timeOrigin + now) is not Node's: estimate the offset
    // from a few round trips and take it out of the latencies.
    const offsets: Array<{ rtt: number; offset: number }> = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.timeOrigin + performance.now();
      const pageNow = await page.evaluate(() => performance.timeOrigin + performance.now());
      const t1 = performance.timeOrigin + performance.now();
      offsets.push({ rtt: t1 - t0, offset: pageNow - (t0 + t1) / 2 });
    }
    const best = offsets.sort((a, b) => a.rtt - b.rtt)[0]!;
    console.log(`[chromium websocket] page clock - node clock = ${best.offset.toFixed(2)} ms (+- ${(best.rtt / 2).toFixed(2)} ms)`);
    for (const r of result) {
      const s = r.latency.map((x) => x - best.offset).sort((a, b) => a - b);
      console.log(`[chromium websocket] input ${r.size}: ${r.taps} taps, tap latency median ${s[Math.floor(s.length / 2)]!.toFixed(2)} ms, max ${s.at(-1)!.toFixed(2)} ms; forward ${r.forwardMs.toFixed(1)} ms`);
      expect(r.taps).toBe(24);
    }
    await page.close();
  });
});
