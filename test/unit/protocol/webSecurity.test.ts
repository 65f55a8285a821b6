// Web mode's access rules (engine/host/webServer.ts): token, Origin, Host, static files.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startWebServer, type WebServer } from '../../../engine/host/webServer';
import { CONTENT_SECURITY_POLICY } from '../../../common/csp';
import { buildWorker, staticFixture } from './harness';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function upgrade(url: string, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, origin ? { origin } : {});
    ws.on('open', () => { ws.close(); resolve(101); });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
}

describe('web mode access rules', () => {
  let server: WebServer;
  beforeAll(async () => {
    server = await startWebServer({ staticDir: staticFixture(), workerUrl: await buildWorker(), workerData: { paths: 'none' } });
  });
  afterAll(async () => { await server?.close(); });

  it('prints a loopback URL on a random port with a long random token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('serves the page only with the token, with security headers and the CSP', async () => {
    expect((await get(server.port, '/')).status).toBe(403);
    expect((await get(server.port, '/?token=wrong')).status).toBe(403);
    expect((await get(server.port, `/?token=${server.token.slice(0, -1)}${server.token.endsWith('0') ? '1' : '0'}`)).status).toBe(403);
    const ok = await get(server.port, `/?token=${server.token}`);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(ok.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect(ok.headers['x-frame-options']).toBe('DENY');
    expect(ok.body).toContain('<title>AttnScope</title>');
  });

  it('lets the page load its assets with the cookie it set, and nothing without it', async () => {
    const page = await get(server.port, `/?token=${server.token}`);
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(new RegExp(`^attnscope_token_${server.port}=`));
    expect(String(page.headers['set-cookie'])).toMatch(/HttpOnly/);
    expect((await get(server.port, '/app.js')).status).toBe(403);
    const js = await get(server.port, '/app.js', { cookie });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it('refuses directory traversal and missing files', async () => {
    const t = `?token=${server.token}`;
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2f..%2fetc%2fpasswd', '/%00', '/nope.js']) {
      const r = await get(server.port, `${path}${t}`);
      expect([400, 404]).toContain(r.status);
      expect(r.body).not.toContain('attnscope');
    }
  });

  it('refuses a foreign Origin and a foreign Host even with the token', async () => {
    const t = `/?token=${server.token}`;
    expect((await get(server.port, t, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(server.port, t, { host: `evil.example:${server.port}` })).status).toBe(403);
    expect((await get(server.port, t, { origin: `http://127.0.0.1:${server.port}` })).status).toBe(200);
  });

  it('refuses WebSocket upgrades without the token, with a wrong one, or from a foreign Origin', async () => {
    const base = `ws://127.0.0.1:${server.port}/engine`;
    expect(await upgrade(base)).toBe(403);
    expect(await upgrade(`${base}?token=nope`)).toBe(403);
    expect(await upgrade(`${base}?token=${server.token}`, 'http://evil.example')).toBe(403);
    expect(await upgrade(`ws://127.0.0.1:${server.port}/other?token=${server.token}`)).toBe(403);
    expect(await upgrade(`${base}?token=${server.token}`, `http://127.0.0.1:${server.port}`)).toBe(101);
  });

  it('refuses to bind a non-loopback address unless allowRemote', async () => {
    const workerUrl = await buildWorker();
    await expect(startWebServer({ staticDir: staticFixture(), workerUrl, host: '0.0.0.0' })).rejects.toMatchObject({ code: 'forbidden' });
    const remote = await startWebServer({ staticDir: staticFixture(), workerUrl, host: '0.0.0.0', allowRemote: true });
    try {
      expect(remote.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/\?token=/);
      expect((await get(remote.port, '/')).status).toBe(403);
    } finally {
      await remote.close();
    }
  });
});
