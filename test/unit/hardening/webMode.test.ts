// Hardening: web mode's access rules. No token, a wrong token, a foreign Origin, a
// foreign Host (DNS rebinding) and a non-loopback bind without --allow-remote are all
// refused, for the page and for the engine WebSocket alike; the right token works.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { startWebServer, type WebServer } from '../../../engine/host/webServer';
import { buildWorker } from '../protocol/harness';
import { engineError, expectUserError, randomBytes, rng } from './helpers';

const staticDir = mkdtempSync(join(tmpdir(), 'attnscope-web-'));
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>AttnScope</title>');
let server: WebServer;
let workerUrl: URL;

beforeAll(async () => {
  workerUrl = await buildWorker();
  server = await startWebServer({ staticDir, workerUrl, workerData: { paths: 'none', sources: ['builtin', 'bytes'] } });
});
afterAll(async () => {
  await server?.close();
  rmSync(staticDir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** Opens the engine socket; resolves with the HTTP status of a refused upgrade, or 101 and a hello reply. */
function connect(query: string, headers: Record<string, string> = {}): Promise<{ status: number; hello?: unknown }> {
  return new Promise((ok) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine${query}`, { headers });
    ws.on('unexpected-response', (_req, res) => { ok({ status: res.statusCode ?? 0 }); ws.terminate(); });
    ws.on('error', () => ok({ status: -1 }));
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', id: 1 })));
    ws.on('message', (data) => {
      let hello: unknown = data;
      try { hello = JSON.parse(String(data)); } catch { /* binary frame */ }
      ok({ status: 101, hello });
      ws.close();
    });
  });
}

describe('web mode refuses what it must', () => {
  test('the page: no token, wrong token, foreign Origin, foreign Host are 403; the right token is 200', async () => {
    expect(await get('/')).toMatchObject({ status: 403, body: expect.stringMatching(/Forbidden: missing or wrong token/) });
    expect(await get('/?token=0000')).toMatchObject({ status: 403, body: expect.stringMatching(/wrong token/) });
    expect(await get(`/?token=${server.token.slice(0, -1)}x`)).toMatchObject({ status: 403 });
    expect(await get(`/?token=${server.token}`, { Origin: 'http://evil.example' })).toMatchObject({ status: 403, body: expect.stringMatching(/foreign Origin/) });
    expect(await get(`/?token=${server.token}`, { Host: `evil.example:${server.port}` })).toMatchObject({ status: 403, body: expect.stringMatching(/unexpected Host/) });
    expect(await get(`/index.html?token=${server.token}`)).toMatchObject({ status: 200, body: expect.stringContaining('AttnScope') });
    // A cookie from another port, or a forged one, is no token.
    expect(await get('/index.html', { Cookie: `attnscope_token_${server.port}=nope` })).toMatchObject({ status: 403 });
    // Path traversal out of the static folder.
    expect((await get(`/../../etc/passwd?token=${server.token}`)).status).not.toBe(200);
    expect((await get(`/%2e%2e/%2e%2e/etc/passwd?token=${server.token}`)).status).not.toBe(200);
  });

  test('the engine socket: no token, wrong token, foreign Origin, foreign Host, wrong path are refused; the right token gets hello', async () => {
    expect((await connect('')).status).toBe(403);
    expect((await connect('?token=wrong')).status).toBe(403);
    expect((await connect(`?token=${server.token}`, { Origin: 'http://evil.example' })).status).toBe(403);
    expect((await connect(`?token=${server.token}`, { Origin: 'null' })).status).toBe(403);
    expect((await connect(`?token=${server.token}`, { Host: 'attacker.example' })).status).toBe(403);
    const ok = await connect(`?token=${server.token}`, { Origin: `http://127.0.0.1:${server.port}` });
    expect(ok.status).toBe(101);
    expect(ok.hello).toMatchObject({ type: 'hello', id: 1 });
    const other = await new Promise<number>((done) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/other?token=${server.token}`);
      ws.on('unexpected-response', (_q, res) => { done(res.statusCode ?? 0); ws.terminate(); });
      ws.on('open', () => { done(101); ws.close(); });
      ws.on('error', () => done(-1));
    });
    expect(other).toBe(403);
  });

  test('binding to a non-loopback address without allowRemote is refused with advice', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
      const err = await engineError(startWebServer({ staticDir, workerUrl, host }));
      expectUserError(err, 'forbidden', new RegExp(`Refusing to listen on ${host.replace(/\./g, '\\.')}`));
      expect(err.hint).toMatch(/--allow-remote/);
    }
  });
});

describe('the engine socket survives garbage frames', () => {
  test('seeded: non-JSON text, random binary, lying binary headers, deep JSON; every bad frame gets an error, the same socket still works', async () => {
    const r = rng(4242);
    const frame = (header: string, body: Uint8Array = new Uint8Array(0), lengthField?: number): Buffer => {
      const h = Buffer.from(header);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(lengthField ?? h.length);
      return Buffer.concat([len, h, Buffer.from(body)]);
    };
    const frames: Array<{ data: string | Buffer; bad: boolean }> = [];
    for (let i = 0; i < 120; i++) {
      switch (Math.floor(r() * 8)) {
        case 0: frames.push({ data: `{"type":"hello","id":${i}`, bad: true }); break; // cut JSON
        case 1: frames.push({ data: Buffer.from(randomBytes(1 + Math.floor(r() * 300), i)), bad: true }); break;
        case 2: frames.push({ data: frame('{"m":{"type":"hello","id":1},"b":[]}', new Uint8Array(0), 0xffffffff), bad: true }); break; // header longer than the frame
        case 3: frames.push({ data: frame('{"m":{"type":"run","id":2,"image":{"$bin":5,"t":"u8"}},"b":[[0,10]]}'), bad: true }); break; // $bin index out of range
        case 4: frames.push({ data: frame('{"m":{"type":"run","id":3,"image":{"$bin":0,"t":"f32"}},"b":[[999999,16]]}'), bad: true }); break; // offset past the end
        case 5: frames.push({ data: frame('not json at all'), bad: true }); break;
        case 6: frames.push({ data: '['.repeat(5000) + ']'.repeat(5000), bad: false }); break; // deep but valid JSON: the engine says bad-request
        default: frames.push({ data: JSON.stringify({ type: 'hello', id: 10_000 + i }), bad: false }); break;
      }
    }
    const replies: Array<Record<string, unknown>> = [];
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine?token=${server.token}`);
    ws.on('message', (data, isBinary) => { if (!isBinary) replies.push(JSON.parse(String(data)) as Record<string, unknown>); });
    await new Promise<void>((ok, fail) => { ws.on('open', () => ok()); ws.on('error', fail); });
    for (const f of frames) ws.send(f.data, { binary: typeof f.data !== 'string' });
    ws.send(JSON.stringify({ type: 'hello', id: 99_999 }));
    const deadline = Date.now() + 30_000;
    while (!replies.some((m) => m.id === 99_999) && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
    expect(replies.some((m) => m.type === 'hello' && m.id === 99_999)).toBe(true);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const errors = replies.filter((m) => m.type === 'error');
    expect(errors.length).toBeGreaterThanOrEqual(frames.filter((f) => f.bad).length);
    for (const e of errors) expect(String(e.message)).toMatch(/Malformed request/);
    // No engine restart along the way.
    expect(replies.some((m) => m.type === 'engineStatus')).toBe(false);
    ws.close();
  }, 60_000);
});
