// A small HTTP(S) GET for the hub: node:http/https (not the global fetch, which ignores
// proxy variables), redirects followed by hand (the hub answers a 302 to its CDN for
// weight files, and that first answer carries the file's hash headers), proxies from the
// environment (engine/hub/proxy.ts: absolute-form requests for http URLs, a CONNECT tunnel
// for https), an idle timeout, AbortSignal. Failures to connect become HubNetworkError,
// whose message says which host could not be reached and why.

import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import tls from 'node:tls';
import { EngineError } from '../errors';
import { authority, type Env, proxyAuthorization, proxyFor } from './proxy';

export interface GetOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** No bytes for this long (connect, answer or body) fails the request. Default 30 s. */
  timeoutMs?: number;
  /** Where proxy variables are read (default process.env). */
  env?: Env;
  maxRedirects?: number;
  /** Extra trusted certificates (PEM), e.g. a TLS-inspecting proxy's, or a test server's. */
  ca?: string | Buffer;
}

/** One redirect answer on the way to the final one. */
export interface Hop { url: string; status: number; headers: IncomingHttpHeaders }

export interface GetResponse {
  url: URL;
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, not yet read: read it or call body.destroy(). */
  body: IncomingMessage;
  hops: Hop[];
}

/** A host that could not be reached (DNS, refused, timeout, reset, TLS). */
export class HubNetworkError extends EngineError {
  constructor(
    readonly host: string,
    readonly reason: string,
    readonly viaProxy: boolean,
    /** A reset or a timeout, worth another try; not a name that does not resolve or a refusal. */
    readonly transient: boolean,
    hint?: string,
  ) {
    super('network', `cannot reach ${viaProxy ? 'the proxy ' : ''}${host}: ${reason}`, hint);
  }
}

const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TIMEOUT_MS = 30_000;

function reasonOf(err: NodeJS.ErrnoException, timeoutMs: number): string {
  switch (err.code) {
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_NONAME': case 'EAI_FAIL': return 'its name could not be resolved (no DNS answer; offline?)';
    case 'ECONNREFUSED': return 'the connection was refused';
    case 'ETIMEDOUT': return `no answer for ${Math.round(timeoutMs / 1000)} s`;
    case 'ECONNRESET': case 'EPIPE': return 'the connection was reset';
    case 'EHOSTUNREACH': return 'no route to the host';
    case 'ENETUNREACH': case 'ENETDOWN': return 'the network is unreachable (offline?)';
    default:
      if (err.code && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(err.code)) return `its TLS certificate was not accepted (${err.code}: ${err.message})`;
      return err.code ? `${err.code}: ${err.message}` : err.message;
  }
}

function networkError(err: unknown, url: URL, proxy: URL | null, timeoutMs: number): unknown {
  if (!(err instanceof Error) || err.name === 'AbortError' || err instanceof EngineError) return err;
  const reason = reasonOf(err as NodeJS.ErrnoException, timeoutMs);
  const tlsHint = /TLS certificate/.test(reason)
    ? 'A proxy that inspects TLS needs its certificate trusted: start with NODE_EXTRA_CA_CERTS=/path/to/ca.pem.' : undefined;
  const code = (err as NodeJS.ErrnoException).code;
  return new HubNetworkError(proxy ? proxy.host : url.host, reason, proxy !== null, code !== undefined && TRANSIENT.has(code), tlsHint);
}

function timeoutError(): Error {
  return Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
}

/** Opens a CONNECT tunnel through `proxy` to `target`'s host and port. */
function tunnel(target: URL, proxy: URL, o: GetOptions, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const mod = proxy.protocol === 'https:' ? https : http;
    const auth = proxyAuthorization(proxy);
    const req = mod.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT', path: authority(target), agent: false,
      headers: { host: authority(target), ...(auth ? { 'proxy-authorization': auth } : {}) },
      ...(o.ca ? { ca: o.ca } : {}), ...(o.signal ? { signal: o.signal } : {}),
    });
    req.setTimeout(timeoutMs, () => req.destroy(timeoutError()));
    req.once('connect', (res, socket) => {
      req.setTimeout(0);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new EngineError('network', `the proxy ${proxy.host} refused to connect to ${authority(target)} (HTTP ${res.statusCode} ${res.statusMessage ?? ''})`.trim(),
          res.statusCode === 407 ? 'The proxy wants credentials: put them in the proxy URL (http://user:password@proxy:port).' : 'Check HTTPS_PROXY and NO_PROXY.'));
        return;
      }
      resolve(socket);
    });
    req.once('error', (err) => reject(networkError(err, target, proxy, timeoutMs)));
    req.end();
  });
}

/** One GET without following redirects. */
async function getOnce(url: URL, o: GetOptions): Promise<IncomingMessage> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const proxy = proxyFor(url, o.env ?? process.env);
  const headers: Record<string, string> = { 'user-agent': 'attnscope', 'accept-encoding': 'identity', ...o.headers };
  const common = { method: 'GET', ...(o.ca ? { ca: o.ca } : {}), ...(o.signal ? { signal: o.signal } : {}) };
  const isHttps = url.protocol === 'https:';
  let req: ClientRequest;
  if (!proxy) {
    // agent: false: a fresh connection per request, none left open in a pool afterwards.
    req = (isHttps ? https : http).request(url, { ...common, headers, agent: false });
  } else if (!isHttps) {
    // An http URL through a proxy: the absolute URL as the request target.
    const auth = proxyAuthorization(proxy);
    req = (proxy.protocol === 'https:' ? https : http).request({
      ...common, agent: false, host: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80), path: url.href,
      headers: { ...headers, host: url.host, ...(auth ? { 'proxy-authorization': auth } : {}) },
    });
  } else {
    const socket = await tunnel(url, proxy, o, timeoutMs);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // SNI names a host, never an IP address (RFC 6066); the certificate is checked against `host` either way.
    req = https.request(url, {
      ...common, headers,
      createConnection: () => tls.connect({ socket, host, ...(isIP(host) ? {} : { servername: host }), ...(o.ca ? { ca: o.ca } : {}) }),
    });
  }
  return new Promise((resolve, reject) => {
    req.setTimeout(timeoutMs, () => req.destroy(timeoutError()));
    req.once('error', (err) => reject(networkError(err, url, proxy, timeoutMs)));
    req.once('response', (res) => {
      // The body has its own idle timeout: a stalled transfer fails instead of hanging.
      const socket = res.socket;
      const onIdle = (): void => { res.destroy(timeoutError()); };
      socket.setTimeout(timeoutMs);
      socket.once('timeout', onIdle);
      res.once('close', () => { socket.off('timeout', onIdle); socket.setTimeout(0); });
      resolve(res);
    });
    req.end();
  });
}

/**
 * GET `url`, following redirects (at most `maxRedirects`, default 10; never from https
 * down to http, never to another scheme). Resolves with the first non-redirect answer,
 * whatever its status; rejects with HubNetworkError when a host cannot be reached.
 */
export async function httpGet(url: string | URL, o: GetOptions = {}): Promise<GetResponse> {
  let current = new URL(url);
  const hops: Hop[] = [];
  const max = o.maxRedirects ?? 10;
  for (;;) {
    const res = await getOnce(current, o);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (!REDIRECTS.has(status) || !location) return { url: current, status, headers: res.headers, body: res, hops };
    res.resume();
    hops.push({ url: current.href, status, headers: res.headers });
    if (hops.length > max) throw new EngineError('network', `${new URL(url).href} redirected more than ${max} times.`);
    const next = new URL(location, current);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new EngineError('network', `${current.host} redirected to a ${next.protocol} URL; only http and https are followed.`);
    }
    if (current.protocol === 'https:' && next.protocol === 'http:') {
      throw new EngineError('network', `${current.host} redirected from https to plain http (${next.host}); refused.`);
    }
    current = next;
  }
}

/** Reads a small body whole (at most `limit` bytes). */
export async function readBody(body: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new EngineError('network', `an answer of more than ${limit} bytes where a small file was expected`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
