// `attnscope models list|pull`, the protocol's hubList/hubPull through the engine core,
// and the ImageNet class names shipped with the app.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { main } from '../../../engine/cli';
import { EngineCore } from '../../../engine/core';
import { defaultProvider } from '../../../engine/provider';
import { registerHandlers } from '../../../engine/handlers';
import { imagenetClasses } from '../../../engine/hub/imagenet';
import { type EngineMessage, isFinalMessage, parseClientMessage } from '../../../engine/protocol';
import { type FakeHub, sha256, startFakeHub, syntheticBytes } from './fakeHub';

// A real timm-layout checkpoint and its hub config (tools/make_timm_fixtures.py), so a pulled model also loads.
const FIXTURE = join(__dirname, '..', '..', 'fixtures', 'timm', 'seresnet50');
const WEIGHTS = readFileSync(join(FIXTURE, 'model.safetensors'));
const CONFIG = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as unknown;
const tmp = mkdtempSync(join(tmpdir(), 'attnscope-models-'));
let hub: FakeHub;

beforeAll(async () => {
  hub = await startFakeHub({
    'timm/seresnet50.a1_in1k': { config: CONFIG, weights: WEIGHTS },
    'timm/halonet26t.a1h_in1k': { config: { num_classes: 1000 }, weights: syntheticBytes(250_000, 5), claimedSha: '0'.repeat(64) },
  });
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => { vi.restoreAllMocks(); vi.unstubAllEnvs(); });

function capture(): { out: string[]; err: string[] } {
  const box = { out: [] as string[], err: [] as string[] };
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { box.out.push(a.join(' ')); });
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { box.err.push(a.join(' ')); });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { box.err.push(String(chunk)); return true; });
  return box;
}

describe('attnscope models', () => {
  test('list: a table of the twelve models with family, params, top-1, size, license and cache state; pull caches one', async () => {
    const cache = join(tmp, 'cli');
    let io = capture();
    expect(await main(['models', 'list', '--cache', cache])).toBe(0);
    const lines = io.out.join('\n').split('\n');
    expect(lines[0]).toMatch(/^NAME\s+FAMILY\s+PARAMS\s+TOP-1\s+SIZE\s+LICENSE\s+CACHED$/);
    const row = lines.find((l) => l.startsWith('seresnet50 '))!;
    expect(row).toMatch(/^seresnet50\s+SE-ResNet\s+28\.1M\s+80\.0% @224\s+~112 MB\s+apache-2\.0\s+no$/);
    expect(lines.find((l) => l.startsWith('regnety_002 '))).toMatch(/RegNetY\s+3\.2M\s+70\.3% @224\s+~13 MB\s+mit\s+no$/);
    expect(lines.filter((l) => /\s(yes|no)$/.test(l))).toHaveLength(12);
    expect(io.out.join('\n')).toContain(`Cache: ${cache}`);

    io = capture();
    expect(await main(['models', 'pull', 'seresnet50', '--hub-url', hub.url, '--cache', cache])).toBe(0);
    const dir = join(cache, 'hub', 'timm--seresnet50.a1_in1k');
    expect(io.out).toEqual([dir]);
    const progress = io.err.join('');
    expect(progress).toMatch(new RegExp(`seresnet50: model\\.safetensors .* of ${(WEIGHTS.length / 1e6).toFixed(1)} MB \\(100%\\)`));
    expect(progress).toContain(`sha256 ${sha256(WEIGHTS)} checked`);

    io = capture();
    expect(await main(['models', 'list', '--cache', cache, '--json'])).toBe(0);
    const list = JSON.parse(io.out.join('\n')) as Array<{ name: string; cached: boolean; bytes: number; dir?: string; repo: string }>;
    expect(list).toHaveLength(12);
    expect(list[0]).toMatchObject({ name: 'seresnet50', repo: 'timm/seresnet50.a1_in1k', cached: true, bytes: WEIGHTS.length, dir });
    expect(list.slice(1).every((m) => !m.cached && m.dir === undefined)).toBe(true);

    // A second pull: from the cache, no request.
    hub.seen.length = 0;
    io = capture();
    expect(await main(['models', 'pull', 'seresnet50', '--hub-url', 'http://127.0.0.1:9', '--cache', cache, '--quiet'])).toBe(0);
    expect(io.out).toEqual([dir]);
    expect(hub.seen).toEqual([]);
  });

  test('errors: usage exits 2, a failed pull exits 1 with the message and hint; ATTNSCOPE_CACHE and ATTNSCOPE_HUB_URL are read', async () => {
    let io = capture();
    expect(await main(['models'])).toBe(2);
    expect(io.err.join('\n')).toContain('Give an action: list or pull.');
    io = capture();
    expect(await main(['models', 'pull'])).toBe(2);
    io = capture();
    expect(await main(['models', 'pull', '../../etc/passwd'])).toBe(2);
    expect(io.err.join('\n')).toContain('neither a model of the catalogue nor a hub repo id');

    vi.stubEnv('ATTNSCOPE_CACHE', join(tmp, 'env-cache'));
    vi.stubEnv('ATTNSCOPE_HUB_URL', hub.url);
    io = capture();
    expect(await main(['models', 'pull', 'halonet26t', '--quiet'])).toBe(1);
    expect(io.err.join('\n')).toMatch(/attnscope: model\.safetensors of timm\/halonet26t\.a1h_in1k does not match the hub's LFS pointer.*\n {2}Pull again/);
  });
});

describe('protocol: hubList and hubPull', () => {
  const provider = defaultProvider();
  function engine() {
    const out: EngineMessage[] = [];
    let deliver: (m: unknown) => void = () => {};
    const core = new EngineCore({ postMessage: (m) => { out.push(m as EngineMessage); }, onMessage: (l) => { deliver = l; } }, { provider });
    registerHandlers(core);
    const request = async (msg: Record<string, unknown>): Promise<EngineMessage[]> => {
      deliver(msg);
      for (;;) {
        const final = out.find((m) => m.id === msg.id && isFinalMessage(m));
        if (final) return out.filter((m) => m.id === msg.id);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    return { request };
  }

  test('validation: hubPull needs a catalogue name', () => {
    expect(parseClientMessage({ type: 'hubList', id: 1 })).toEqual({ type: 'hubList', id: 1 });
    expect(parseClientMessage({ type: 'hubPull', id: 2, name: 'ecaresnet50d' })).toMatchObject({ type: 'hubPull' });
    expect(parseClientMessage({ type: 'hubPull', id: 3, name: 'evil/../../x' })).toMatchObject({ type: 'error', id: 3, code: 'bad-request' });
    expect(parseClientMessage({ type: 'hubPull', id: 4 })).toMatchObject({ type: 'error', code: 'bad-request' });
  });

  test('hubList answers the catalogue with cache flags; hubPull streams progress; the pulled model loads as a hub source', async () => {
    const cache = join(tmp, 'protocol');
    vi.stubEnv('ATTNSCOPE_CACHE', cache);
    vi.stubEnv('ATTNSCOPE_HUB_URL', hub.url);
    const { request } = engine();
    const [list] = await request({ type: 'hubList', id: 1 });
    expect(list).toMatchObject({ type: 'hubModels', id: 1 });
    const models = (list as Extract<EngineMessage, { type: 'hubModels' }>).models;
    expect(models).toHaveLength(12);
    expect(models.every((m) => m.cached === false)).toBe(true);

    const msgs = await request({ type: 'hubPull', id: 2, name: 'seresnet50' });
    const progress = msgs.filter((m) => m.type === 'hubPullProgress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ file: 'model.safetensors', bytes: WEIGHTS.length, total: WEIGHTS.length });
    const dir = join(cache, 'hub', 'timm--seresnet50.a1_in1k');
    // No path in the reply: the client loads it by name (the renderer never sees engine paths).
    expect(msgs.at(-1)).toEqual({
      type: 'hubPulled', id: 2, name: 'seresnet50', repo: 'timm/seresnet50.a1_in1k', fromCache: false, sha256: sha256(WEIGHTS), bytes: WEIGHTS.length,
    });
    expect(readFileSync(join(dir, 'model.safetensors')).equals(WEIGHTS)).toBe(true);
    const [again] = await request({ type: 'hubList', id: 3 });
    expect((again as Extract<EngineMessage, { type: 'hubModels' }>).models.find((m) => m.name === 'seresnet50')).toMatchObject({ cached: true, bytes: WEIGHTS.length });

    const failed = await request({ type: 'hubPull', id: 4, name: 'halonet26t' });
    expect(failed.at(-1)).toMatchObject({ type: 'error', id: 4, code: 'network' });

    const loaded = await request({ type: 'loadModel', id: 5, source: { kind: 'hub', name: 'seresnet50' } });
    expect(loaded.at(-1)).toMatchObject({ type: 'modelInfo', id: 5, info: { name: 'seresnet50', arch: 'seresnet50', inputSize: 64 } });
    const missing = await request({ type: 'loadModel', id: 6, source: { kind: 'hub', name: 'halonet26t' } });
    expect(missing.at(-1)).toMatchObject({ type: 'error', id: 6, code: 'not-found', message: 'halonet26t is not downloaded yet.' });
  });
});

describe('ImageNet class names', () => {
  test('1000 names in class-index order, from WordNet lemmas', () => {
    const classes = imagenetClasses();
    expect(classes).toHaveLength(1000);
    expect(classes[0]).toBe('tench');
    expect(classes[1]).toBe('goldfish');
    expect(classes[281]).toBe('tabby');
    expect(classes[999]).toBe('toilet tissue');
    expect(classes.every((c) => c.length > 0 && c === c.trim())).toBe(true);
    classes[0] = 'changed';
    expect(imagenetClasses()[0]).toBe('tench'); // callers get their own copy
  });
});
