// What the hub says a large file should be: its Git LFS pointer (the source of truth:
// `<base>/<repo>/raw/main/<file>` answers the pointer text, not the bytes), else the
// headers of its resolve answer (X-Linked-Etag / ETag: the sha256, X-Linked-Size).
//   version https://git-lfs.github.com/spec/v1
//   oid sha256:<64 hex>
//   size <bytes>

import type { IncomingHttpHeaders } from 'node:http';

export interface Expected {
  sha256: string;
  size: number | null;
  /** Where it came from, for messages. */
  source: 'lfs-pointer' | 'headers';
}

/** The sha256 and size of a Git LFS pointer, or null if `text` is not one. */
export function parseLfsPointer(text: string): Expected | null {
  if (text.length > 1024 || !text.startsWith('version https://git-lfs.github.com/spec/')) return null;
  const oid = /^oid sha256:([0-9a-f]{64})$/m.exec(text);
  const size = /^size (\d{1,16})$/m.exec(text);
  if (!oid || !size) return null;
  return { sha256: oid[1] as string, size: Number(size[1]), source: 'lfs-pointer' };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The sha256 (and size) the hub's headers name for an LFS file, or null. */
export function expectedFromHeaders(headers: IncomingHttpHeaders): Expected | null {
  for (const name of ['x-linked-etag', 'etag']) {
    const raw = header(headers, name);
    const sha = raw?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
    if (sha && /^[0-9a-f]{64}$/.test(sha)) {
      const size = Number(header(headers, 'x-linked-size'));
      return { sha256: sha, size: Number.isSafeInteger(size) && size > 0 ? size : null, source: 'headers' };
    }
  }
  return null;
}
