// Proxies from the environment, the way curl and most tools read them: Node 20's global
// fetch ignores them, so the hub's downloads pick them here.
//   https URLs: https_proxy, HTTPS_PROXY, then all_proxy, ALL_PROXY
//   http URLs:  http_proxy, HTTP_PROXY, then all_proxy, ALL_PROXY
//   no_proxy / NO_PROXY: '*' or a comma/space list of hosts, '.domain' / '*.domain'
//   suffixes, optional ':port'; a lower-case variable wins over its upper-case twin.
// Only http:// and https:// proxies (a proxy URL without a scheme is http://).

import { EngineError } from '../errors';

export type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}

/** True when `url`'s host is listed in NO_PROXY (or NO_PROXY is '*'). */
export function bypassesProxy(url: URL, env: Env): boolean {
  const list = read(env, 'no_proxy');
  if (!list) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || defaultPort(url.protocol);
  for (const raw of list.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | null = null;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) { entry = m[1] as string; entryPort = m[2] as string; }
    entry = entry.replace(/^\[|\]$/g, '');
    if (entryPort !== null && entryPort !== port) continue;
    const suffix = entry.replace(/^\*?\./, '');
    if (host === suffix || host.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

/** The proxy to use for `url`, or null for a direct connection. */
export function proxyFor(url: URL, env: Env): URL | null {
  const raw = (url.protocol === 'https:' ? read(env, 'https_proxy') : read(env, 'http_proxy')) ?? read(env, 'all_proxy');
  if (!raw || bypassesProxy(url, env)) return null;
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new EngineError('network', `The proxy setting "${raw}" is not a URL.`, 'Set HTTPS_PROXY like http://proxy.example:3128, or unset it.');
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new EngineError('network', `The proxy ${proxy.protocol}//${proxy.host} is not supported: only http:// and https:// proxies are.`,
      'Point HTTPS_PROXY at an HTTP proxy, or unset it.');
  }
  return proxy;
}

/** The Proxy-Authorization header for a proxy URL with user:password, if any. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** host:port of a URL, as a CONNECT request names it. */
export function authority(url: URL): string {
  return `${url.hostname}:${url.port || defaultPort(url.protocol)}`;
}
