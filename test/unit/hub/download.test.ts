// engine/hub: pull() against a hub on 127.0.0.1 with the real hub's URL layout
// (test/unit/hub/fakeHub.ts): progress, resume after a cut connection (Range), the
// SHA-256 check against the LFS pointer (and the headers without one), the offline
// message, cache hits without any request, cancel, names that could escape the cache.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { EngineError } from '../../../engine/errors';
import { defaultCacheDir, listHubModels, repoDir, repoIdOf, resolveHubModel } from '../../../engine/hub/cache';
import { findHubModel, HUB_MODELS } from '../../../engine/hub/catalogue';
import { hubBaseUrl, pull, type PullProgress } from '../../../engine/hub/download';
import { expectedFromHeaders, parseLfsPointer } from '../../../engine/hub/lfs';
import { closedPort, type FakeHub, sha256, startFakeHub, syntheticBytes } from './fakeHub';

const root = join(import.meta.dirname, '../../..');
const FIXTURE = readFileSync(join(root, 'test/fixtures/se-timm/model.safetensors'));
const BIG = syntheticBytes(400_000, 7);
const CONFIG = { architecture: 'seresnet50', num_classes: 1000, pretrained_cfg: { input_size: [3, 224, 224] } };
const NO_PROXY_ENV = {}; // pulls here must not pick up a proxy from the machine's environment

let hub: FakeHub;
const tmp = mkdtempSync(join(tmpdir(), 'attnscope-hub-'));
let n = 0;
const freshCache = (): string => join(tmp, `cache${n++}`);

beforeAll(async () => {
  hub = await startFakeHub({
    'timm/seresnet50.a1_in1k': { config: CONFIG, weights: FIXTURE },
    'timm/big.cut_in1k': { config: CONFIG, weights: BIG, cutAt: 150_000 },
    'timm/big.cutagain_in1k': { config: CONFIG, weights: BIG, cutAt: 123_457 },
    'timm/big.norange_in1k': { config: CONFIG, weights: BIG, cutAt: 100_000, noRanges: true },
    'timm/big.liar_in1k': { config: CONFIG, weights: BIG, claimedSha: sha256(Buffer.from('something else')) },
    'timm/big.headers_in1k': { config: CONFIG, weights: BIG, noPointer: true },
    'timm/big.unchecked_in1k': { config: CONFIG, weights: BIG, noPointer: true, noHashHeaders: true },
    'timm/big.cancel_in1k': { config: CONFIG, weights: syntheticBytes(3_000_000, 3) },
    'timm/big.twice_in1k': { config: CONFIG, weights: BIG },
  });
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => { hub.seen.length = 0; });

const opts = (cacheDir: string, extra: Record<string, unknown> = {}) => ({ baseUrl: hub.url, cacheDir, env: NO_PROXY_ENV, retryDelayMs: 10, ...extra });

describe('pull', () => {
  test('downloads config.json and model.safetensors through the CDN redirect, reports progress, checks the pointer hash', async () => {
    const cacheDir = freshCache();
    const progress: PullProgress[] = [];
    const r = await pull('seresnet50', opts(cacheDir, { onProgress: (p: PullProgress) => progress.push({ ...p }) }));
    expect(r).toMatchObject({ repo: 'timm/seresnet50.a1_in1k', fromCache: false, sha256: sha256(FIXTURE), bytes: FIXTURE.length });
    expect(r.dir).toBe(join(cacheDir, 'hub', 'timm--seresnet50.a1_in1k'));
    expect(readFileSync(join(r.dir, 'model.safetensors')).equals(FIXTURE)).toBe(true);
    expect(JSON.parse(readFileSync(join(r.dir, 'config.json'), 'utf8'))).toEqual(CONFIG);
    expect(JSON.parse(readFileSync(join(r.dir, 'source.json'), 'utf8'))).toMatchObject({ sha256: sha256(FIXTURE), checkedAgainst: 'lfs-pointer' });
    // No leftovers: no .part, no lock.
    expect(existsSync(join(r.dir, 'model.safetensors.part'))).toBe(false);
    expect(existsSync(join(r.dir, '.lock'))).toBe(false);
    // Progress rises to the total, which is known from the start.
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((p) => p.file === 'model.safetensors' && p.total === FIXTURE.length)).toBe(true);
    expect(progress.at(-1)!.bytes).toBe(FIXTURE.length);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytes).toBeGreaterThanOrEqual(progress[i - 1]!.bytes);
    // The hub's layout: pointer, config, the 302, then the CDN.
    expect(hub.seen.map((s) => `${s.server} ${s.status} ${s.path}`)).toEqual([
      'hub 200 /timm/seresnet50.a1_in1k/raw/main/model.safetensors',
      'hub 200 /timm/seresnet50.a1_in1k/resolve/main/config.json',
      'hub 302 /timm/seresnet50.a1_in1k/resolve/main/model.safetensors',
      `cdn 200 /files/timm--seresnet50.a1_in1k/${sha256(FIXTURE)}`,
    ]);
    expect(resolveHubModel('seresnet50', { cacheDir })).toBe(r.dir);
  });

  test('a cache hit makes no request: the hub closed, the pull still answers at once', async () => {
    const cacheDir = freshCache();
    await pull('timm/big.twice_in1k', opts(cacheDir));
    const closed = `http://127.0.0.1:${await closedPort()}`;
    hub.seen.length = 0;
    const t0 = performance.now();
    const again = await pull('timm/big.twice_in1k', { ...opts(cacheDir), baseUrl: closed });
    const ms = performance.now() - t0;
    expect(again).toMatchObject({ fromCache: true, sha256: sha256(BIG), bytes: BIG.length });
    expect(hub.seen).toEqual([]);
    expect(ms).toBeLessThan(200);
  });

  test('a cut connection keeps the part; the next pull asks for the rest with Range and the bytes are the original', async () => {
    const cacheDir = freshCache();
    const dir = repoDir('timm/big.cut_in1k', cacheDir);
    const first = await pull('timm/big.cut_in1k', opts(cacheDir, { retries: 0 })).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(EngineError);
    expect((first as EngineError).code).toBe('network');
    expect((first as Error).message).toMatch(/cut off at .* of 0\.4 MB .*the next pull resumes/);
    const kept = statSync(join(dir, 'model.safetensors.part')).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(150_000);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    expect(resolveHubModel('timm/big.cut_in1k', { cacheDir })).toBeNull();

    hub.seen.length = 0;
    const progress: PullProgress[] = [];
    const second = await pull('timm/big.cut_in1k', opts(cacheDir, { onProgress: (p: PullProgress) => progress.push({ ...p }) }));
    const cdn = hub.seen.filter((s) => s.server === 'cdn');
    expect(cdn).toEqual([expect.objectContaining({ range: `bytes=${kept}-`, status: 206 })]);
    expect(progress[0]!.bytes).toBe(kept); // a resumed download starts where it stopped
    expect(readFileSync(join(second.dir, 'model.safetensors')).equals(BIG)).toBe(true);
    expect(second.sha256).toBe(sha256(BIG));
  });

  test('one pull gets past a cut connection by itself (retries), resuming', async () => {
    const cacheDir = freshCache();
    const r = await pull('timm/big.cutagain_in1k', opts(cacheDir));
    expect(readFileSync(join(r.dir, 'model.safetensors')).equals(BIG)).toBe(true);
    const cdn = hub.seen.filter((s) => s.server === 'cdn');
    expect(cdn.map((s) => s.status)).toEqual([200, 206]);
    expect(cdn[1]!.range).toMatch(/^bytes=\d+-$/);
  });

  test('a server that ignores Range (200) makes the download start over, correctly', async () => {
    const cacheDir = freshCache();
    const r = await pull('timm/big.norange_in1k', opts(cacheDir));
    const cdn = hub.seen.filter((s) => s.server === 'cdn');
    expect(cdn.map((s) => s.status)).toEqual([200, 200]);
    expect(cdn[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(readFileSync(join(r.dir, 'model.safetensors')).equals(BIG)).toBe(true);
  });

  test('bytes that do not match the LFS pointer are deleted and the pull fails saying so', async () => {
    const cacheDir = freshCache();
    const dir = repoDir('timm/big.liar_in1k', cacheDir);
    const err = await pull('timm/big.liar_in1k', opts(cacheDir)).catch((e: unknown) => e) as EngineError;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toContain("does not match the hub's LFS pointer");
    expect(err.message).toContain(sha256(BIG));
    expect(err.message).toContain('deleted');
    expect(existsSync(join(dir, 'model.safetensors.part'))).toBe(false);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
    expect(resolveHubModel('timm/big.liar_in1k', { cacheDir })).toBeNull();
  });

  test('without a pointer the X-Linked-Etag of the hub\'s redirect is the hash; without either nothing is kept', async () => {
    const cacheDir = freshCache();
    const r = await pull('timm/big.headers_in1k', opts(cacheDir));
    expect(JSON.parse(readFileSync(join(r.dir, 'source.json'), 'utf8'))).toMatchObject({ sha256: sha256(BIG), checkedAgainst: 'headers' });
    const err = await pull('timm/big.unchecked_in1k', opts(cacheDir)).catch((e: unknown) => e) as EngineError;
    expect(err.message).toMatch(/no SHA-256 .* cannot be checked/);
    expect(resolveHubModel('timm/big.unchecked_in1k', { cacheDir })).toBeNull();
  });

  test('offline: a closed port and an unknown host say which host, why, and where the cache is', async () => {
    const cacheDir = freshCache();
    const port = await closedPort();
    const refused = await pull('seresnet50', opts(cacheDir, { baseUrl: `http://127.0.0.1:${port}` })).catch((e: unknown) => e) as EngineError;
    expect(refused).toBeInstanceOf(EngineError);
    expect(refused.code).toBe('network');
    expect(refused.message).toBe(`cannot reach 127.0.0.1:${port}: the connection was refused; timm/seresnet50.a1_in1k is not downloaded yet`);
    expect(refused.message).not.toContain(cacheDir); // the app's page is never told engine paths
    expect(refused.hint).toMatch(/HTTPS_PROXY.*ATTNSCOPE_HUB_URL/);
    const dns = await pull('seresnet50', opts(cacheDir, { baseUrl: 'http://no-such-hub.invalid' })).catch((e: unknown) => e) as EngineError;
    expect(dns.message).toMatch(/^cannot reach no-such-hub\.invalid: .*(resolved|DNS|EAI)/);
    expect(dns.message).toContain('is not downloaded yet');
  }, 30_000);

  test('an unknown repo is not-found, with the host and status', async () => {
    const err = await pull('timm/nothing.here', opts(freshCache())).catch((e: unknown) => e) as EngineError;
    expect(err.code).toBe('not-found');
    expect(err.message).toBe(`timm/nothing.here has no config.json on ${new URL(hub.url).host} (HTTP 404).`);
  });

  test('cancel keeps what arrived; the next pull resumes from it', async () => {
    const cacheDir = freshCache();
    const abort = new AbortController();
    const err = await pull('timm/big.cancel_in1k', opts(cacheDir, {
      signal: abort.signal,
      onProgress: (p: PullProgress) => { if (p.bytes > 0) abort.abort(); },
    })).catch((e: unknown) => e) as EngineError;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe('cancelled');
    const part = join(repoDir('timm/big.cancel_in1k', cacheDir), 'model.safetensors.part');
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    hub.seen.length = 0;
    const r = await pull('timm/big.cancel_in1k', opts(cacheDir));
    expect(hub.seen.find((s) => s.server === 'cdn')).toMatchObject({ range: `bytes=${kept}-`, status: 206 });
    expect(sha256(readFileSync(join(r.dir, 'model.safetensors')))).toBe(sha256(hub.repos.get('timm/big.cancel_in1k')!.weights));
  });

  test('two pulls of one model at once download it once', async () => {
    const cacheDir = freshCache();
    const [a, b] = await Promise.all([pull('seresnet50', opts(cacheDir)), pull('timm/seresnet50.a1_in1k', opts(cacheDir))]);
    expect(a.dir).toBe(b.dir);
    expect([a.fromCache, b.fromCache].sort()).toEqual([false, true]);
    expect(hub.seen.filter((s) => s.server === 'cdn')).toHaveLength(1);
  });
});

describe('names, folders, settings', () => {
  test('catalogue names, name.tag and repo ids map to one repo; anything that could leave the cache is refused', () => {
    expect(repoIdOf('seresnet50')).toBe('timm/seresnet50.a1_in1k');
    expect(repoIdOf('SEResNet50.a1_in1k')).toBe('timm/seresnet50.a1_in1k');
    expect(repoIdOf('timm/halonet26t.a1h_in1k')).toBe('timm/halonet26t.a1h_in1k');
    expect(repoIdOf('owner/some-model_v2.x')).toBe('owner/some-model_v2.x');
    for (const bad of ['../x', 'timm/..', 'timm/../../etc', 'a/b/c', '/etc/passwd', 'timm\\x', 'timm/x y', 'a--b/c', 'timm/.hidden', 'unknown', '', 'timm/', 'C:/x']) {
      expect(() => repoIdOf(bad), bad).toThrow(EngineError);
    }
    expect(repoDir('timm/x.y', '/c')).toBe(join('/c', 'hub', 'timm--x.y'));
  });

  test('the cache folder follows each platform and ATTNSCOPE_CACHE wins', () => {
    expect(defaultCacheDir({}, 'linux', '/home/u')).toBe('/home/u/.cache/attnscope');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }, 'linux', '/home/u')).toBe('/x/cache/attnscope');
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative' }, 'linux', '/home/u')).toBe('/home/u/.cache/attnscope');
    expect(defaultCacheDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Caches/AttnScope');
    expect(defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Local\\AttnScope\\Cache');
    expect(defaultCacheDir({}, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Local\\AttnScope\\Cache');
    expect(defaultCacheDir({ ATTNSCOPE_CACHE: '/mine' }, 'darwin', '/Users/u')).toBe('/mine');
  });

  test('the hub URL: option, then ATTNSCOPE_HUB_URL, then huggingface.co', () => {
    expect(hubBaseUrl(undefined, {})).toBe('https://huggingface.co');
    expect(hubBaseUrl(undefined, { ATTNSCOPE_HUB_URL: 'https://mirror.example/hf/' })).toBe('https://mirror.example/hf');
    expect(hubBaseUrl('http://127.0.0.1:9', { ATTNSCOPE_HUB_URL: 'https://mirror.example' })).toBe('http://127.0.0.1:9');
    expect(() => hubBaseUrl('file:///etc', {})).toThrow(/http/);
  });

  test('LFS pointers and hash headers', () => {
    const sha = 'a'.repeat(64);
    expect(parseLfsPointer(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize 123\n`)).toEqual({ sha256: sha, size: 123, source: 'lfs-pointer' });
    expect(parseLfsPointer('{"not": "a pointer"}')).toBeNull();
    expect(parseLfsPointer(`version https://git-lfs.github.com/spec/v1\noid sha1:${sha}\nsize 1\n`)).toBeNull();
    expect(expectedFromHeaders({ 'x-linked-etag': `"${sha}"`, 'x-linked-size': '9' })).toEqual({ sha256: sha, size: 9, source: 'headers' });
    expect(expectedFromHeaders({ etag: `W/"${sha}"` })).toEqual({ sha256: sha, size: null, source: 'headers' });
    expect(expectedFromHeaders({ etag: '"0123abcd"' })).toBeNull(); // a git blob id, not a sha256
  });

  test('the catalogue: twelve timm models with in1k tags, facts in range, cache state listed', () => {
    expect(HUB_MODELS.map((m) => m.name)).toEqual(['seresnet50', 'seresnext26d_32x4d', 'ecaresnet50d', 'ecaresnet26t', 'gcresnet50t', 'skresnet18',
      'resnest14d', 'efficientnet_b0', 'mobilenetv3_large_100', 'regnety_002', 'botnet26t_256', 'halonet26t']);
    for (const m of HUB_MODELS) {
      expect(m.repo).toBe(`timm/${m.name}.${m.tag}`);
      expect(m.tag).toMatch(/_in1k$/);
      expect(m.top1).toBeGreaterThan(60);
      expect(m.top1).toBeLessThan(m.top5);
      expect([224, 256]).toContain(m.imageSize);
      expect(m.paper.url).toMatch(/^https:\/\/arxiv\.org\/abs\//);
      expect(findHubModel(m.repo)).toBe(m);
    }
    expect(findHubModel('regnety_002')!.license).toBe('mit');
    const list = listHubModels(freshCache());
    expect(list.every((m) => !m.cached && m.bytesEstimated && m.bytes > 1e6)).toBe(true);
  });
});
