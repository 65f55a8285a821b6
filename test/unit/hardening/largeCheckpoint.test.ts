// Hardening: a 2 GB checkpoint. Real ones are mostly optimizer state (momentum buffers
// beside the weights, as in the official CBAM .pth.tar); the reader must stream what the
// state dict needs, report progress, and never hold the file (or a second copy) in memory.
// The file is sparse (ftruncate): 2 GB on paper, a few hundred KB on disk. The full
// Session.load of it (which also SHA-256s all 2 GB) is in test/e2e/hardening.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { BIG, writeBigZip } from './bigCheckpoint';

const dir = mkdtempSync(join(tmpdir(), 'attnscope-big-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a 2 GB checkpoint is streamed: progress events, RSS far below the file size', async () => {
  const path = join(dir, 'huge.pth');
  const size = await writeBigZip(path);
  expect(size).toBeGreaterThan(BIG);
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const events: Array<[number, number]> = [];
  const contents = await openCheckpointFile(path, (done, total) => {
    events.push([done, total]);
    peak = Math.max(peak, process.memoryUsage().rss);
  });
  peak = Math.max(peak, process.memoryUsage().rss);
  expect(contents.format).toBe('torch-zip');
  expect(contents.tensors.get('fc.weight')?.shape).toEqual([10, 32]);
  expect(events.length).toBeGreaterThan(3);
  for (let i = 1; i < events.length; i++) expect((events[i] as [number, number])[0]).toBeGreaterThanOrEqual((events[i - 1] as [number, number])[0]);
  const [lastDone, total] = events[events.length - 1] as [number, number];
  expect(lastDone).toBe(total);
  expect(peak - before).toBeLessThan(256 * 2 ** 20);
}, 60_000);
