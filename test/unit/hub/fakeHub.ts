// A Hugging Face hub on 127.0.0.1 for the hub tests, with the real hub's URL layout:
//   /<owner>/<name>/resolve/main/config.json        200, JSON
//   /<owner>/<name>/resolve/main/model.safetensors  302 to the "CDN" (a second server on
//                                                   another port), X-Linked-Etag/-Size
//   /<owner>/<name>/raw/main/model.safetensors      the Git LFS pointer text
//   CDN /files/<owner>--<name>/<sha256>              the bytes, with Range support
// Each repo can drop the connection half-way once (`cutAt`), lie about its hash, have no
// pointer, or ignore Range. Every request is recorded.

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeRepo {
  config: unknown;
  weights: Buffer;
  /** The sha256 the pointer (and headers) claim; default the true one. */
  claimedSha?: string;
  /** /raw/ answers 404 (only the resolve headers name the hash). */
  noPointer?: boolean;
  /** No X-Linked-Etag / ETag / X-Linked-Size on the resolve answer. */
  noHashHeaders?: boolean;
  /** The CDN drops the connection after this many body bytes, once. */
  cutAt?: number;
  /** The CDN ignores Range (answers 200 with everything). */
  noRanges?: boolean;
  /** The CDN sends the body `chunkBytes` at a time, `delayMs` apart (a slow link, so progress shows). */
  throttle?: { chunkBytes: number; delayMs: number };
}

export interface Seen { server: 'hub' | 'cdn'; path: string; range: string | undefined; status: number }

export interface FakeHub {
  url: string;
  repos: Map<string, FakeRepo>;
  seen: Seen[];
  close(): Promise<void>;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Deterministic pseudo-random bytes. */
export function syntheticBytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export interface Tls { key: Buffer; cert: Buffer }

/** A self-signed certificate for 127.0.0.1 made with openssl, or null when there is no openssl. */
export function makeCert(): Tls | null {
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Writes `body` in chunks with a pause after each; stops when the client goes away (a cancel). */
async function trickle(res: ServerResponse, body: Buffer, { chunkBytes, delayMs }: { chunkBytes: number; delayMs: number }): Promise<void> {
  for (let at = 0; at < body.length; at += chunkBytes) {
    if (res.destroyed) return;
    res.write(body.subarray(at, at + chunkBytes));
    await new Promise((r) => setTimeout(r, delayMs));
  }
  if (!res.destroyed) res.end();
}

function serve(handler: Handler, tls?: Tls): Promise<{ server: http.Server; origin: string }> {
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}` });
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startFakeHub(repos: Record<string, FakeRepo>, tls?: Tls): Promise<FakeHub> {
  const map = new Map(Object.entries(repos));
  const seen: Seen[] = [];
  const cut = new Set<string>();

  const cdn = await serve((req, res) => {
    const m = /^\/files\/([^/]+)--([^/]+)\/([0-9a-f]{64})$/.exec(req.url ?? '');
    const repoId = m ? `${m[1]}/${m[2]}` : '';
    const repo = map.get(repoId);
    const range = req.headers.range;
    const record = (status: number): void => { seen.push({ server: 'cdn', path: req.url ?? '', range, status }); };
    if (!repo) { record(404); res.writeHead(404).end(); return; }
    const body = repo.weights;
    let start = 0;
    const r = /^bytes=(\d+)-$/.exec(range ?? '');
    if (r && !repo.noRanges) {
      start = Number(r[1]);
      if (start >= body.length) {
        record(416);
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      record(206);
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'accept-ranges': 'bytes' });
    } else {
      record(200);
      res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
    }
    const part = body.subarray(start);
    if (repo.cutAt !== undefined && !cut.has(repoId) && repo.cutAt > start) {
      cut.add(repoId);
      res.write(part.subarray(0, repo.cutAt - start), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    if (repo.throttle) { void trickle(res, part, repo.throttle); return; }
    res.end(part);
  }, tls);

  const hub = await serve((req, res) => {
    const m = /^\/([^/]+)\/([^/]+)\/(resolve|raw)\/main\/([^/?]+)$/.exec(req.url ?? '');
    const repoId = m ? `${m[1]}/${m[2]}` : '';
    const repo = map.get(repoId);
    const record = (status: number): void => { seen.push({ server: 'hub', path: req.url ?? '', range: req.headers.range, status }); };
    if (!m || !repo) { record(404); res.writeHead(404, { 'content-type': 'text/plain' }).end('Repository not found'); return; }
    const [, , , kind, file] = m;
    const trueSha = sha256(repo.weights);
    const claimed = repo.claimedSha ?? trueSha;
    if (file === 'config.json') {
      record(200);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(repo.config));
      return;
    }
    if (file !== 'model.safetensors') { record(404); res.writeHead(404).end(); return; }
    if (kind === 'raw') {
      if (repo.noPointer) { record(404); res.writeHead(404).end(); return; }
      record(200);
      res.writeHead(200, { 'content-type': 'text/plain' })
        .end(`version https://git-lfs.github.com/spec/v1\noid sha256:${claimed}\nsize ${repo.weights.length}\n`);
      return;
    }
    record(302);
    res.writeHead(302, {
      location: `${cdn.origin}/files/${repoId.replace('/', '--')}/${trueSha}`,
      ...(repo.noHashHeaders ? {} : { 'x-linked-etag': `"${claimed}"`, etag: `"${claimed}"`, 'x-linked-size': String(repo.weights.length) }),
    }).end();
  }, tls);

  return {
    url: hub.origin,
    repos: map,
    seen,
    close: async () => { await Promise.all([closeServer(hub.server), closeServer(cdn.server)]); },
  };
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface FakeProxy { url: string; seen: Array<{ method: string; target: string; auth: string | undefined }>; close(): Promise<void> }

/** A forward proxy: absolute-form requests for http URLs, CONNECT tunnels for https. */
export async function startProxy(): Promise<FakeProxy> {
  const seen: FakeProxy['seen'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', target: req.url ?? '', auth: req.headers['proxy-authorization'] });
    const target = new URL(req.url ?? '');
    const upstream = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host }, agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, client: net.Socket, head: Buffer) => {
    seen.push({ method: 'CONNECT', target: req.url ?? '', auth: req.headers['proxy-authorization'] });
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(client); sockets.add(upstream);
    const end = (): void => { client.destroy(); upstream.destroy(); };
    upstream.on('error', end); client.on('error', end); upstream.on('close', end); client.on('close', end);
  });
  const { origin } = await new Promise<{ origin: string }>((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
  return {
    url: origin,
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      return closeServer(server);
    },
  };
}
