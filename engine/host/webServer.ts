// Web mode's server: the built renderer (static files) and the engine WebSocket on one
// port, behind a random token (DESIGN.md "Web mode").
//
// Access rules, each answered with 403 when broken:
// - the token: `?token=` on the page URL (a cookie scoped to this port then covers the
//   page's own assets) and `?token=` on the WebSocket URL, compared in constant time;
// - Origin: when a request carries one, it must be this server's own origin;
// - Host: when bound to loopback, the Host header must name a loopback address (DNS
//   rebinding).
// Binding to a non-loopback address needs `allowRemote`.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import { EngineError } from '../errors';
import { CONTENT_SECURITY_POLICY } from '../../common/csp';
import { MIME_TYPES } from '../../common/mime';
import type { EngineSupervisor } from './supervisor';
import { attachWebSocket, MAX_FRAME_BYTES } from './websocket';

export interface WebServerOptions {
  /** dist/renderer. */
  staticDir: string;
  /** dist/engine/host/worker.js. */
  workerUrl: URL;
  host?: string;
  /** 0 (default): a random free port. */
  port?: number;
  allowRemote?: boolean;
  /** Fixed token (tests); default 32 random bytes, hex. */
  token?: string;
  /** Passed to each engine worker (e.g. a model to preload is the client's business, not this). */
  workerData?: unknown;
}

export interface WebServer {
  url: string;
  token: string;
  port: number;
  host: string;
  /** The engine of each open connection (tests kill them to check recovery). */
  engines: Set<EngineSupervisor>;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  'Cache-Control': 'no-store',
};

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.allowRemote) {
    throw new EngineError('forbidden', `Refusing to listen on ${host}: anyone who can reach it and learns the URL can use this engine.`,
      'Use --allow-remote to bind to a non-loopback address on purpose, or an SSH tunnel to 127.0.0.1.');
  }
  const token = options.token ?? randomBytes(32).toString('hex');
  const staticDir = resolve(options.staticDir);
  const engines = new Set<EngineSupervisor>();
  let port = 0;
  const cookieName = () => `attnscope_token_${port}`;

  const tokenOk = (candidate: string | null | undefined): boolean => {
    if (!candidate) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const requestUrl = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://server.invalid');
  const cookieToken = (req: IncomingMessage): string | undefined => {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, v] = part.trim().split('=');
      if (k === cookieName()) return v;
    }
    return undefined;
  };
  /** Why this request is refused, or null. */
  const refusal = (req: IncomingMessage, viaCookie: boolean): string | null => {
    const hostHeader = req.headers.host ?? '';
    const hostName = hostHeader.replace(/:\d+$/, '');
    if (!options.allowRemote && !isLoopback(hostName)) return 'unexpected Host';
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${hostHeader}`) return 'foreign Origin';
    const q = requestUrl(req).searchParams.get('token');
    if (tokenOk(q)) return null;
    if (viaCookie && tokenOk(cookieToken(req))) return null;
    return 'missing or wrong token';
  };

  const server: Server = createServer((req, res) => serveStatic(req, res));

  function deny(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`${text}\n`);
  }

  function serveStatic(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') { deny(res, 405, 'Method not allowed'); return; }
    const why = refusal(req, true);
    if (why) { deny(res, 403, `Forbidden: ${why}. Open the URL that \`attnscope serve\` printed.`); return; }
    let pathname: string;
    try {
      pathname = decodeURIComponent(requestUrl(req).pathname);
    } catch {
      deny(res, 400, 'Bad path'); return;
    }
    if (pathname.includes('\0')) { deny(res, 400, 'Bad path'); return; }
    const rel = normalize(pathname === '/' ? '/index.html' : pathname).replace(/^([/\\])+/, '');
    const file = resolve(join(staticDir, rel));
    if (file !== staticDir && !file.startsWith(staticDir + sep)) { deny(res, 404, 'Not found'); return; }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) { deny(res, 404, 'Not found'); return; }
      size = st.size;
    } catch {
      deny(res, 404, 'Not found'); return;
    }
    const headers: Record<string, string | string[]> = {
      ...SECURITY_HEADERS,
      'Content-Type': MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(size),
    };
    const q = requestUrl(req).searchParams.get('token');
    if (tokenOk(q)) headers['Set-Cookie'] = `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(file).pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const why = refusal(req, false) ?? (requestUrl(req).pathname === '/engine' ? null : 'unknown endpoint');
    if (why) {
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nForbidden: ${why}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const engine = attachWebSocket(ws, { workerUrl: options.workerUrl, workerData: options.workerData });
      engines.add(engine);
      ws.on('close', () => engines.delete(engine));
    });
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, () => { server.off('error', fail); ok(); });
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/?token=${token}`,
    token, port, host, engines,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await Promise.all([...engines].map((e) => e.close()));
      wss.close();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
