// Slow hardening: Session.load of a 2 GB checkpoint end to end (streamed read, progress,
// and the SHA-256 of all 2 GB), with the process RSS far below the file size.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { Session } from '../../../engine/session';
import { writeBigZip } from '../../unit/hardening/bigCheckpoint';

const dir = mkdtempSync(join(tmpdir(), 'attnscope-big-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('Session.load of a 2 GB checkpoint: progress to 100%, RSS growth < 256 MB, model usable', async () => {
  const path = join(dir, 'huge.pth');
  await writeBigZip(path);
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  let last: [number, number] = [0, 1];
  const session = await Session.load({ kind: 'path', path }, {
    onProgress: (done, total) => {
      last = [done, total];
      peak = Math.max(peak, process.memoryUsage().rss);
    },
  });
  try {
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(last[0]).toBe(last[1]);
    expect(peak - before).toBeLessThan(256 * 2 ** 20);
    expect(session.info.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    const r = await session.run({ image: { kind: 'input', name: 'x', input: new Float32Array(32 * 32 * 3), size: 32 } });
    expect(r.logits.length).toBe(10);
  } finally {
    session.dispose();
  }
});
