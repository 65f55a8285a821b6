// Proxies from the environment (Node's fetch ignores them; engine/hub/http.ts does not):
// a loopback forward proxy sees the hub's requests, absolute-form for http and a CONNECT
// tunnel for https (a hub with a self-signed certificate made by openssl); NO_PROXY
// bypasses it; credentials in the proxy URL become Proxy-Authorization.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { EngineError } from '../../../engine/errors';
import { pull } from '../../../engine/hub/download';
import { bypassesProxy, proxyFor } from '../../../engine/hub/proxy';
import { closedPort, type FakeHub, type FakeProxy, makeCert, sha256, startFakeHub, startProxy, syntheticBytes, type Tls } from './fakeHub';

const WEIGHTS = syntheticBytes(300_000, 11);
const REPOS = { 'timm/proxied.a_in1k': { config: { num_classes: 1000 }, weights: WEIGHTS } };
const tmp = mkdtempSync(join(tmpdir(), 'attnscope-proxy-'));
let n = 0;
const freshCache = (): string => join(tmp, `cache${n++}`);

let hub: FakeHub;
let proxy: FakeProxy;
const cert: Tls | null = makeCert();
let tlsHub: FakeHub | null = null;

beforeAll(async () => {
  hub = await startFakeHub(REPOS);
  proxy = await startProxy();
  if (cert) tlsHub = await startFakeHub(REPOS, cert);
});
afterAll(async () => {
  await Promise.all([hub.close(), proxy.close(), tlsHub?.close()]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('proxy settings', () => {
  test('https_proxy/HTTPS_PROXY for https, http_proxy/HTTP_PROXY for http, ALL_PROXY after; lower case first', () => {
    const https = new URL('https://huggingface.co/x');
    const http = new URL('http://mirror.local/x');
    expect(proxyFor(https, { HTTPS_PROXY: 'http://p:1' })?.href).toBe('http://p:1/');
    expect(proxyFor(https, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:1' })?.host).toBe('lower:1');
    expect(proxyFor(https, { HTTP_PROXY: 'http://p:1' })).toBeNull();
    expect(proxyFor(http, { HTTP_PROXY: 'p:3128' })?.href).toBe('http://p:3128/');
    expect(proxyFor(https, { ALL_PROXY: 'http://all:1' })?.host).toBe('all:1');
    expect(proxyFor(https, {})).toBeNull();
    expect(() => proxyFor(https, { HTTPS_PROXY: 'socks5://p:1080' })).toThrow(/not supported/);
  });

  test('NO_PROXY: hosts, .domain and *.domain suffixes, ports, *', () => {
    const u = (s: string) => new URL(s);
    expect(bypassesProxy(u('https://huggingface.co'), { NO_PROXY: 'huggingface.co' })).toBe(true);
    expect(bypassesProxy(u('https://cdn-lfs.huggingface.co'), { no_proxy: '.huggingface.co' })).toBe(true);
    expect(bypassesProxy(u('https://cdn-lfs.huggingface.co'), { no_proxy: '*.huggingface.co' })).toBe(true);
    expect(bypassesProxy(u('https://nothuggingface.co'), { no_proxy: 'huggingface.co' })).toBe(false);
    expect(bypassesProxy(u('http://127.0.0.1:8080'), { NO_PROXY: 'localhost, 127.0.0.1:8080' })).toBe(true);
    expect(bypassesProxy(u('http://127.0.0.1:9090'), { NO_PROXY: '127.0.0.1:8080' })).toBe(false);
    expect(bypassesProxy(u('https://anything'), { NO_PROXY: '*' })).toBe(true);
    expect(bypassesProxy(u('https://anything'), { NO_PROXY: '' })).toBe(false);
  });
});

describe('pull through a proxy', () => {
  test('HTTP_PROXY from the process environment carries every request (the hub, its redirect, the CDN)', async () => {
    vi.stubEnv('HTTP_PROXY', proxy.url);
    vi.stubEnv('http_proxy', undefined);
    vi.stubEnv('NO_PROXY', undefined);
    vi.stubEnv('no_proxy', undefined);
    try {
      proxy.seen.length = 0;
      const r = await pull('timm/proxied.a_in1k', { baseUrl: hub.url, cacheDir: freshCache() });
      expect(readFileSync(join(r.dir, 'model.safetensors')).equals(WEIGHTS)).toBe(true);
      // Absolute-form requests, one per request the hub and its CDN answered.
      const targets = proxy.seen.map((s) => `${s.method} ${new URL(s.target).pathname}`);
      expect(targets).toEqual([
        'GET /timm/proxied.a_in1k/raw/main/model.safetensors',
        'GET /timm/proxied.a_in1k/resolve/main/config.json',
        'GET /timm/proxied.a_in1k/resolve/main/model.safetensors',
        `GET /files/timm--proxied.a_in1k/${sha256(WEIGHTS)}`,
      ]);
      expect(proxy.seen.every((s) => s.target.startsWith('http://127.0.0.1:'))).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test('NO_PROXY bypasses it; credentials in the proxy URL are sent as Proxy-Authorization', async () => {
    proxy.seen.length = 0;
    await pull('timm/proxied.a_in1k', { baseUrl: hub.url, cacheDir: freshCache(), env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
    expect(proxy.seen).toEqual([]);
    const withAuth = proxy.url.replace('http://', 'http://user:p%40ss@');
    await pull('timm/proxied.a_in1k', { baseUrl: hub.url, cacheDir: freshCache(), env: { http_proxy: withAuth } });
    expect(proxy.seen.length).toBeGreaterThan(0);
    expect(proxy.seen.every((s) => s.auth === `Basic ${Buffer.from('user:p@ss').toString('base64')}`)).toBe(true);
  });

  test.skipIf(!cert)('https through HTTPS_PROXY: a CONNECT tunnel, TLS to the hub inside it', async () => {
    proxy.seen.length = 0;
    const r = await pull('timm/proxied.a_in1k', { baseUrl: tlsHub!.url, cacheDir: freshCache(), env: { HTTPS_PROXY: proxy.url }, ca: cert!.cert });
    expect(r.sha256).toBe(sha256(WEIGHTS));
    expect(proxy.seen.length).toBeGreaterThanOrEqual(4);
    expect(proxy.seen.every((s) => s.method === 'CONNECT' && /^127\.0\.0\.1:\d+$/.test(s.target))).toBe(true);
    // Without the certificate trusted, TLS fails with a message that says so.
    const err = await pull('timm/proxied.a_in1k', { baseUrl: tlsHub!.url, cacheDir: freshCache(), env: { HTTPS_PROXY: proxy.url }, retries: 0 }).catch((e: unknown) => e) as EngineError;
    expect(err.message).toMatch(/TLS certificate was not accepted/);
    expect(err.hint).toMatch(/NODE_EXTRA_CA_CERTS/);
  });

  test('a proxy that cannot be reached is named as the proxy', async () => {
    const port = await closedPort();
    const err = await pull('timm/proxied.a_in1k', { baseUrl: hub.url, cacheDir: freshCache(), env: { HTTP_PROXY: `http://127.0.0.1:${port}` } })
      .catch((e: unknown) => e) as EngineError;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toMatch(new RegExp(`^cannot reach the proxy 127\\.0\\.0\\.1:${port}: the connection was refused; timm/proxied\\.a_in1k is not downloaded yet`));
  });
});
