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
import { engineError, expectUserError } from './helpers';

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
