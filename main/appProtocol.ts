// Serves the built renderer on app://attnscope/ instead of file://: a real, secure origin
// (so the page's CSP 'self' and ES modules behave as on the web), files only from
// dist/renderer (no traversal), each response with the CSP. Electron's `protocol.handle`
// calls the handler; tests call it directly.

import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../common/csp';
import { MIME_TYPES } from '../common/mime';

export const APP_SCHEME = 'app';
const APP_ORIGIN = 'app://attnscope';
export const APP_URL = `${APP_ORIGIN}/index.html`;

/** For protocol.registerSchemesAsPrivileged, before app ready. */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true, stream: true } as const;

/** True for URLs of the app's own pages and files. */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === 'attnscope';
  } catch {
    return false;
  }
}

export function appProtocolHandler(rendererDir: string, read: (path: string) => Promise<Uint8Array> = readFile) {
  const root = resolve(rendererDir);
  const headers = (type: string) => ({ 'Content-Type': type, 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' });
  const fail = (status: number) => new Response(null, { status, headers: headers('text/plain') });
  return async (request: { url: string; method?: string }): Promise<Response> => {
    if (!isAppUrl(request.url) || (request.method && request.method !== 'GET')) return fail(403);
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(request.url).pathname);
    } catch {
      return fail(400);
    }
    if (pathname.includes('\0')) return fail(400);
    const file = resolve(join(root, normalize(pathname === '/' ? '/index.html' : pathname).replace(/^([/\\])+/, '')));
    if (!file.startsWith(root + sep)) return fail(404);
    try {
      const body = await read(file);
      return new Response(body as BodyInit, { status: 200, headers: headers(MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream') });
    } catch {
      return fail(404);
    }
  };
}
