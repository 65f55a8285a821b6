// Issue 13: `export --shard i/n` on 40 images as 4 shards, then `--merge`, gives the same files
// (byte for byte) and the same export.json as one run. The engine is the real one, in process.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCommand } from '../../../engine/cli/export';
import { parseShard, shardOf } from '../../../engine/cli/exportShards';
import { listFiles, testImage, WEIGHTS } from './harness';

const tmp = mkdtempSync(join(tmpdir(), 'attnscope-shards-'));
const images = join(tmp, 'images');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (args: string[]) => exportCommand([images, '--weights', WEIGHTS, '--kinds', 'heatmap,raw', '--taps', 'spatial', '--modules', 'layer4.*', '--jobs', '1', '--quiet', ...args], { workerUrl: null });

beforeAll(async () => {
  // 40 images in two folders, one of them unreadable (it must fail in exactly one shard).
  for (let i = 0; i < 40; i++) {
    const dir = join(images, i % 2 ? 'odd' : 'even');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `img${String(i).padStart(2, '0')}.png`), i === 17 ? Buffer.from('not a png') : await testImage(24 + (i % 5), 20, 'png'));
  }
});

describe('export shards', () => {
  it('parses i/n (0-based) and slices every n-th input', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['4/4', '1', '-1/4', '1/0', 'a/b']) expect(() => parseShard(bad)).toThrow(/--shard takes i\/n/);
    const items = Array.from({ length: 10 }, (_, i) => i);
    const slices = [0, 1, 2].map((index) => shardOf(items, { index, count: 3 }));
    expect(slices).toEqual([[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
  });

  it('40 images as 4 shards, merged, equal one run: the same files, byte for byte, and the same export.json', async () => {
    const one = join(tmp, 'one');
    expect(await run(['--out', one])).toBe(1); // the unreadable image fails
    const sharded = join(tmp, 'sharded');
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push(await run(['--out', sharded, '--shard', `${i}/4`]));
    // The unreadable image (the 18th of the sorted list: even/img.. first) fails in one shard only.
    expect(codes.filter((c) => c === 1)).toHaveLength(1);
    expect(listFiles(sharded).filter((f) => f.startsWith('export.shard-'))).toEqual(['export.shard-0-of-4.json', 'export.shard-1-of-4.json', 'export.shard-2-of-4.json', 'export.shard-3-of-4.json']);
    const shard0 = JSON.parse(readFileSync(join(sharded, 'export.shard-0-of-4.json'), 'utf8'));
    expect(shard0.shard).toEqual({ index: 0, count: 4, inputs: 40 });

    expect(await exportCommand(['--merge', sharded, '--out', sharded], { workerUrl: null })).toBe(1); // still one failed input
    expect(JSON.parse(readFileSync(join(sharded, 'export.json'), 'utf8')).failed).toEqual([{ input: 'odd/img17.png', reason: expect.any(String) }]);
    const files = listFiles(one);
    expect(files.length).toBeGreaterThan(39 * 2);
    expect(listFiles(sharded)).toEqual(files);
    for (const f of files) expect(readFileSync(join(sharded, f)).equals(readFileSync(join(one, f))), f).toBe(true);
  });

  it('shards in separate folders merge into a new one (files copied); a missing shard is named', async () => {
    const parts = [0, 1].map((i) => join(tmp, `part${i}`));
    for (let i = 0; i < 2; i++) await run(['--out', parts[i] as string, '--shard', `${i}/2`]);
    const merged = join(tmp, 'merged');
    await exportCommand(['--merge', ...parts, '--out', merged], { workerUrl: null });
    const manifest = JSON.parse(readFileSync(join(merged, 'export.json'), 'utf8'));
    expect(manifest.files.length).toBeGreaterThan(39 * 2);
    expect(listFiles(merged).filter((f) => f !== 'export.json')).toEqual(manifest.files.map((f: { path: string }) => f.path));
    await expect(exportCommand(['--merge', parts[0] as string, '--out', join(tmp, 'half')], { workerUrl: null })).rejects.toThrow(/1 of 2 shards missing: 1\./);
    const other = join(tmp, 'other');
    await run(['--out', other, '--shard', '1/3']);
    await expect(exportCommand(['--merge', parts[0] as string, other, '--out', join(tmp, 'mixed')], { workerUrl: null })).rejects.toThrow(/belongs to another export \(3 shards of 40 inputs, not 2 of 40\)/);
  });
});
