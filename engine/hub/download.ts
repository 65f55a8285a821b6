// pull(): a hub model into the cache, once (DESIGN.md layout: engine/hub/).
//   <base>/<repo>/raw/main/model.safetensors      the LFS pointer: sha256 and size
//   <base>/<repo>/resolve/main/config.json        small, plain JSON
//   <base>/<repo>/resolve/main/model.safetensors  302 to the CDN; X-Linked-Etag/-Size
// - A cached model (both files in place) answers without any network request.
// - Bytes go to `<file>.part`; a cut connection keeps them and the next try (in this
//   pull, `retries`, or a later one) asks for the rest with `Range: bytes=N-` (206:
//   append; 200: start over).
// - model.safetensors must match the pointer's sha256 (the resolve headers' when there is
//   no pointer) or it is deleted; only then are the files renamed into place.
// - Nothing downloaded is executed: config.json is JSON.parse'd, the weights are read
//   later by engine/checkpoints' safetensors reader.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../errors';
import { defaultCacheDir, HUB_FILES, repoDir, repoIdOf, resolveHubModel } from './cache';
import { type GetOptions, httpGet, HubNetworkError, readBody } from './http';
import { type Expected, expectedFromHeaders, parseLfsPointer } from './lfs';
import { lockFolder } from './lock';
import type { Env } from './proxy';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
const WEIGHTS = 'model.safetensors';
const CONFIG_LIMIT = 1 << 20;

export interface PullProgress {
  file: string;
  bytes: number;
  /** 0 while unknown. */
  total: number;
}

export interface PullOptions {
  /** Hub base URL (default: ATTNSCOPE_HUB_URL, else https://huggingface.co). */
  baseUrl?: string;
  /** Cache root (default: defaultCacheDir(), which honours ATTNSCOPE_CACHE). */
  cacheDir?: string;
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
  /** Further tries after a cut connection, each resuming (default 3). */
  retries?: number;
  /** Wait before try n is n times this (default 1000 ms). */
  retryDelayMs?: number;
  /** Idle timeout of a request (default 30 s). */
  timeoutMs?: number;
  /** Environment for proxies and defaults (default process.env). */
  env?: Env;
  /** Extra trusted certificates (PEM). */
  ca?: string | Buffer;
}

export interface PullResult {
  repo: string;
  /** The cached folder: config.json + model.safetensors. */
  dir: string;
  /** True when nothing was downloaded. */
  fromCache: boolean;
  /** sha256 of model.safetensors (null for a cache entry without source.json). */
  sha256: string | null;
  bytes: number;
}

/** The hub base URL: the option, else ATTNSCOPE_HUB_URL, else huggingface.co; no trailing slash. */
export function hubBaseUrl(option?: string, env: Env = process.env): string {
  const raw = option ?? env.ATTNSCOPE_HUB_URL?.trim() ?? DEFAULT_HUB_URL;
  let url: URL;
  try {
    url = new URL(raw || DEFAULT_HUB_URL);
  } catch {
    throw new EngineError('bad-request', `The hub URL "${raw}" is not a URL.`, 'Give it like https://huggingface.co.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new EngineError('bad-request', `The hub URL must be http(s), not ${url.protocol}`);
  return url.href.replace(/\/+$/, '');
}

/** A failure that another try can get past (the .part file keeps what arrived). */
class Retryable extends EngineError {}

const inflight = new Map<string, Promise<PullResult>>();

/** Downloads a hub model into the cache unless it is there; returns its folder. */
export async function pull(nameOrRepo: string, o: PullOptions = {}): Promise<PullResult> {
  const env = o.env ?? process.env;
  const repo = repoIdOf(nameOrRepo);
  const cacheDir = o.cacheDir ?? defaultCacheDir(env);
  const dir = repoDir(repo, cacheDir);
  for (;;) {
    const hit = await cached(repo, cacheDir);
    if (hit) return hit;
    const running = inflight.get(dir);
    if (!running) break;
    await running.catch(() => undefined); // then the cache has it, or this caller tries itself
  }
  const job = pullLocked(repo, dir, { ...o, env });
  inflight.set(dir, job);
  try {
    return await job;
  } finally {
    inflight.delete(dir);
  }
}

async function cached(repo: string, cacheDir: string): Promise<PullResult | null> {
  const dir = resolveHubModel(repo, { cacheDir });
  if (!dir) return null;
  const bytes = (await stat(join(dir, WEIGHTS))).size;
  let sha256: string | null = null;
  try {
    const src = JSON.parse(await readFile(join(dir, 'source.json'), 'utf8')) as { sha256?: unknown };
    if (typeof src.sha256 === 'string') sha256 = src.sha256;
  } catch { /* an entry put there by hand */ }
  return { repo, dir, fromCache: true, sha256, bytes };
}

async function pullLocked(repo: string, dir: string, o: PullOptions & { env: Env }): Promise<PullResult> {
  await mkdir(dir, { recursive: true });
  const unlock = await lockFolder(dir, repo);
  try {
    const base = hubBaseUrl(o.baseUrl, o.env);
    const retries = o.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        return await pullOnce(repo, dir, base, o);
      } catch (err) {
        if (o.signal?.aborted) {
          throw err instanceof EngineError && err.code === 'cancelled' ? err : new EngineError('cancelled', `The download of ${repo} was cancelled; the next pull resumes it.`);
        }
        if (!(err instanceof Retryable || (err instanceof HubNetworkError && err.transient)) || attempt >= retries) throw offlineMessage(err, repo);
        await sleep((o.retryDelayMs ?? 1000) * (attempt + 1), o.signal);
      }
    }
  } finally {
    await unlock();
    await rmdir(dir).catch(() => undefined); // only when nothing is in it (a pull that failed before any byte)
  }
}

function offlineMessage(err: unknown, repo: string): unknown {
  if (!(err instanceof HubNetworkError)) return err;
  // No folder in the message: it reaches the app's page, which is never told engine paths
  // (`attnscope models list` prints the cache folder).
  return new EngineError('network', `${err.message}; ${repo} is not downloaded yet`,
    err.hint ?? 'Check the connection or the proxy (HTTPS_PROXY, NO_PROXY), or set ATTNSCOPE_HUB_URL to a mirror. Once pulled, a model needs no network.');
}

async function pullOnce(repo: string, dir: string, base: string, o: PullOptions & { env: Env }): Promise<PullResult> {
  const http: GetOptions = { env: o.env, ...(o.signal ? { signal: o.signal } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.ca ? { ca: o.ca } : {}) };
  const url = (kind: 'raw' | 'resolve', file: string): string => `${base}/${repo}/${kind}/main/${file}`;

  const pointer = await fetchPointer(url('raw', WEIGHTS), http);
  const configPart = join(dir, 'config.json.part');
  await writeFile(configPart, await fetchConfig(url('resolve', 'config.json'), repo, http));
  const weights = await fetchWeights(url('resolve', WEIGHTS), join(dir, `${WEIGHTS}.part`), repo, pointer, http, o.onProgress);

  await rename(weights.part, join(dir, WEIGHTS));
  await rename(configPart, join(dir, 'config.json'));
  await rm(`${weights.part}.sha256`, { force: true });
  const source = { repo, url: url('resolve', WEIGHTS), sha256: weights.sha256, bytes: weights.bytes, checkedAgainst: weights.source, pulledAt: new Date().toISOString() };
  await writeFile(join(dir, 'source.json'), `${JSON.stringify(source, null, 2)}\n`);
  for (const f of HUB_FILES) await stat(join(dir, f));
  return { repo, dir, fromCache: false, sha256: weights.sha256, bytes: weights.bytes };
}

/** The LFS pointer of the weights, or null when the hub has none to show (then the headers count). */
async function fetchPointer(url: string, http: GetOptions): Promise<Expected | null> {
  const res = await httpGet(url, http);
  if (res.status !== 200) { res.body.resume(); return null; }
  try {
    return parseLfsPointer((await readBody(res.body, 4096)).toString('utf8'));
  } catch (err) {
    if (err instanceof HubNetworkError) throw err;
    return null; // a mirror that answers the file itself at /raw/: not a pointer
  }
}

function statusError(status: number, url: string, repo: string, file: string): EngineError {
  const host = new URL(url).host;
  if (status === 404 || status === 401 || status === 403) {
    return new EngineError('not-found', `${repo} has no ${file} on ${host} (HTTP ${status}).`, 'Check the name: `attnscope models list` shows the models AttnScope knows.');
  }
  const msg = `${host} answered HTTP ${status} for ${repo}/${file}.`;
  return status >= 500 || status === 429 ? new Retryable('network', msg, 'The hub may be busy; try again later.') : new EngineError('network', msg);
}

async function fetchConfig(url: string, repo: string, http: GetOptions): Promise<Buffer> {
  const res = await httpGet(url, http);
  if (res.status !== 200) { res.body.resume(); throw statusError(res.status, url, repo, 'config.json'); }
  const bytes = await readBody(res.body, CONFIG_LIMIT).catch((err: unknown) => {
    throw err instanceof HubNetworkError || (err as Error).name === 'AbortError' ? err : new Retryable('network', `config.json of ${repo}: ${(err as Error).message}`);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new EngineError('bad-checkpoint', `config.json of ${repo} is not JSON.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new EngineError('bad-checkpoint', `config.json of ${repo} is not a JSON object.`);
  return bytes;
}

async function sizeOf(path: string): Promise<number> {
  try { return (await stat(path)).size; } catch { return 0; }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

async function fetchWeights(
  url: string, part: string, repo: string, pointer: Expected | null, http: GetOptions, onProgress?: (p: PullProgress) => void,
): Promise<{ part: string; sha256: string; bytes: number; source: Expected['source'] }> {
  let have = await sizeOf(part);
  // A part of another version of the file (the pointer changed since) starts over.
  const partSha = await readFile(`${part}.sha256`, 'utf8').catch(() => null);
  if (have > 0 && pointer && (partSha?.trim() !== pointer.sha256 || have > (pointer.size ?? Infinity))) {
    await rm(part, { force: true });
    have = 0;
  }
  if (pointer) await writeFile(`${part}.sha256`, pointer.sha256);
  const hash = createHash('sha256');
  let source: Expected['source'];
  let expected: Expected;
  if (pointer && have > 0 && have === pointer.size) {
    expected = pointer; // everything arrived last time; only the check is left
    source = pointer.source;
    await hashFile(part, hash);
  } else {
    const res = await httpGet(url, { ...http, headers: { ...http.headers, ...(have > 0 ? { range: `bytes=${have}-` } : {}) } });
    // The hub's own answer (before the CDN redirect) names the hash.
    const fromHeaders = expectedFromHeaders(res.hops[0]?.headers ?? res.headers) ?? expectedFromHeaders(res.headers);
    const exp = pointer ?? fromHeaders;
    if (res.status === 416 && exp && have > 0 && have === exp.size) {
      res.body.resume();
      await hashFile(part, hash); // it had all arrived
    } else if (res.status !== 200 && res.status !== 206) {
      res.body.resume();
      if (res.status === 416) { await rm(part, { force: true }); throw new Retryable('network', `${new URL(url).host} refused to resume ${repo}/${WEIGHTS}; starting over.`); }
      throw statusError(res.status, url, repo, WEIGHTS);
    }
    if (!exp) {
      res.body.destroy();
      throw new EngineError('network', `The hub gave no SHA-256 for ${repo}/${WEIGHTS} (no LFS pointer, no X-Linked-Etag): a file that cannot be checked is not used.`,
        'A mirror (ATTNSCOPE_HUB_URL) must serve /raw/main/<file> pointers or X-Linked-Etag headers as huggingface.co does.');
    }
    expected = exp;
    source = exp.source;
    if (res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== have) {
        res.body.destroy();
        await rm(part, { force: true });
        throw new Retryable('network', `${new URL(url).host} answered the wrong range for ${repo}/${WEIGHTS}; starting over.`);
      }
      await hashFile(part, hash);
    } else if (res.status === 200) {
      have = 0; // the server sent everything: start over
    }
    if (res.status !== 416) {
      const length = Number(res.headers['content-length']);
      const total = exp.size ?? (Number.isSafeInteger(length) ? have + length : 0);
      const report = (): void => onProgress?.({ file: WEIGHTS, bytes: have, total });
      report();
      // Each chunk is on disk before it counts: after a progress report, those bytes survive a cancel.
      const file = await open(part, res.status === 206 ? 'a' : 'w');
      try {
        for await (const chunk of res.body) {
          if (exp.size !== null && have + (chunk as Buffer).length > exp.size) break; // more than the file: the check below fails it
          await file.write(chunk as Buffer);
          hash.update(chunk as Buffer);
          have += (chunk as Buffer).length;
          report();
        }
      } catch (err) {
        res.body.destroy();
        if (http.signal?.aborted) {
          throw new EngineError('cancelled', `The download of ${repo} was cancelled at ${mb(have)} of ${mb(total)}; the next pull resumes from there.`);
        }
        const why = err instanceof HubNetworkError ? err.reason : (err as Error).message;
        throw new Retryable('network', `The download of ${repo}/${WEIGHTS} was cut off at ${mb(have)} of ${mb(total)} (${why}); ${mb(have)} are kept in ${part} and the next pull resumes.`,
          'Pull again: it asks only for the rest.');
      } finally {
        await file.close();
      }
      if (exp.size !== null && have < exp.size) {
        throw new Retryable('network', `The download of ${repo}/${WEIGHTS} ended early at ${mb(have)} of ${mb(exp.size)}; the next pull resumes.`, 'Pull again: it asks only for the rest.');
      }
    }
  }
  const sha256 = hash.digest('hex');
  const size = await sizeOf(part);
  if (sha256 !== expected.sha256 || (expected.size !== null && size !== expected.size)) {
    await rm(part, { force: true });
    await rm(`${part}.sha256`, { force: true });
    throw new EngineError('network',
      `${WEIGHTS} of ${repo} does not match the hub's ${expected.source === 'lfs-pointer' ? 'LFS pointer' : 'X-Linked-Etag'}: expected sha256 ${expected.sha256}`
      + `${expected.size !== null ? ` (${expected.size} bytes)` : ''}, got ${sha256} (${size} bytes). The download was corrupted or changed on the way and was deleted.`,
      'Pull again. If it fails the same way, a proxy or mirror is changing the file.');
  }
  return { part, sha256, bytes: size, source };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(new EngineError('cancelled', 'The download was cancelled.')); return; }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(timer); reject(new EngineError('cancelled', 'The download was cancelled.')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
