// The memory guard (engine/memory.ts): a run whose estimate exceeds the limit is refused
// before anything starts, with a message that names the module, the size and the limit; a
// run at the limit goes through; the estimate bounds what ONNX Runtime really uses.
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { main } from '../../../engine/cli';
import { estimateRun, largestFitting, parseMemory } from '../../../engine/memory';
import { CHUNK_BYTES } from '../../../engine/modules/nonLocal';
import { Session } from '../../../engine/session';
import { FIXTURES, readCase } from './fixtureData';

const SAMPLE = join(FIXTURES, '../../assets/samples/chelsea.png');
const CASE = 'bypass'; // CBAM in every block and a non-local block nl3 after layer3

/** With every affinity kept whole (affinityReadbackBytes Infinity), as before row blocks: it grows fastest. */
async function load(maxMemory: number, affinityReadbackBytes = Infinity): Promise<Session> {
  return Session.load({ kind: 'path', path: join(FIXTURES, CASE, 'model.safetensors') }, { arch: readCase(CASE).spec, maxMemory, affinityReadbackBytes });
}

describe('memory estimate', () => {
  test('counts each non-local affinity at its stage size', () => {
    const spec = readCase(CASE).spec;
    const est = estimateRun(spec, 256);
    const nl = est.affinities.find((a) => a.module === 'nl3')!;
    // bypass's nl3 sits after layer3 (stride 4 in this CIFAR-stem network): 64 x 64 queries, sub-sampled keys.
    const side = 256 / 4;
    expect(nl.queries).toBe(side * side);
    expect(nl.keys).toBe((side / 2) ** 2);
    expect(nl.bytes).toBe(nl.queries * nl.keys * 4);
    expect(nl.whole).toBe(true);
    expect(est.total).toBeGreaterThan(nl.bytes * 3);
    // At 512 px the 268 MB affinity is over the keep size: only a block of rows is held at once.
    const big = estimateRun(spec, 512).affinities.find((a) => a.module === 'nl3')!;
    expect(big.bytes).toBe(nl.bytes * 16);
    expect(big.whole).toBe(false);
    expect(big.heldBytes).toBeLessThanOrEqual(CHUNK_BYTES);
    expect(estimateRun(spec, 512, Infinity).total).toBeGreaterThan(big.bytes * 3);
    // Row blocks need less than the whole affinity would.
    expect(estimateRun(spec, 512).total).toBeLessThan(estimateRun(spec, 512, Infinity).total / 4);
    // Grows with the size, and the largest size that fits a limit fits it.
    expect(estimateRun(spec, 512, Infinity).total).toBeGreaterThan(est.total * 8);
    const fits = largestFitting(spec, 4096, est.total, Infinity)!;
    expect(fits).toBeGreaterThanOrEqual(256);
    expect(estimateRun(spec, fits, Infinity).total).toBeLessThanOrEqual(est.total);
    expect(estimateRun(spec, fits + 1, Infinity).total).toBeGreaterThan(est.total);
  });

  test('parses sizes', () => {
    expect(parseMemory('4G')).toBe(4 * 2 ** 30);
    expect(parseMemory('512MB')).toBe(512 * 2 ** 20);
    expect(parseMemory('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseMemory('1000')).toBe(1000);
    expect(parseMemory('lots')).toBeNull();
    expect(parseMemory('0')).toBeNull();
  });
});

describe('memory guard', () => {
  test('a size over the limit is refused before anything starts, naming the module, the size and the limit', async () => {
    const spec = readCase(CASE).spec;
    const limit = estimateRun(spec, 256, Infinity).total;
    const s = await load(limit);
    try {
      const onStarted = vi.fn();
      const err = await s.run({ image: { kind: 'path', path: SAMPLE }, options: { inputSize: 320 } }, { onStarted }).catch((e: unknown) => e) as { code: string; message: string; hint: string };
      expect(err.code).toBe('too-large');
      expect(err.message).toMatch(/^At 320 px nl3's attention is 6,400 x 1,600 positions .*more than the .* limit\.$/);
      expect(err.hint).toMatch(/input size of \d+ px or less/);
      expect(onStarted).not.toHaveBeenCalled();
      // At the limit it runs, and answers a query on the full-size affinity.
      const fits = Number(/of (\d+) px/.exec(err.hint)![1]);
      const ok = await s.run({ image: { kind: 'path', path: SAMPLE }, options: { inputSize: fits } });
      expect(ok.transform.inputWidth).toBe(fits);
      const q = await s.query(ok.runId, 'nl3', { x: 100, y: 100 });
      expect(q.data.length).toBe(q.shape[0]! * q.shape[1]!);
    } finally {
      s.dispose();
    }
  });

  test('attnscope maps --max-memory: refused with exit 1 and the message; a bad size is a usage error', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { errors.push(a.join(' ')); });
    vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const weights = join(FIXTURES, CASE, 'model.safetensors');
      // At 1024 px the affinity runs in row blocks: it is the features that do not fit 64 MB.
      expect(await main(['maps', SAMPLE, '--weights', weights, '--input-size', '1024', '--max-memory', '64M', '--out', join(FIXTURES, '..', '..', 'test-results', 'never')])).toBe(1);
      expect(errors.join('\n')).toMatch(/At 1024 px the network's features take about .* more than the 64 MB limit\.\n.*--max-memory/);
      expect(await main(['maps', SAMPLE, '--max-memory', 'lots', '--out', '/tmp/x'])).toBe(2);
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describe('affinities too large to keep', () => {
  test('a clicked query row recomputed on demand equals the kept row', async () => {
    const arch = readCase(CASE).spec;
    const path = join(FIXTURES, CASE, 'model.safetensors');
    const kept = await Session.load({ kind: 'path', path }, { arch });
    const recomputed = await Session.load({ kind: 'path', path }, { arch, affinityReadbackBytes: 0 });
    try {
      const image = { kind: 'path' as const, path: SAMPLE };
      const a = await kept.run({ image, options: { inputSize: 96, bypass: ['layer2.0.cbam'] } });
      const b = await recomputed.run({ image, options: { inputSize: 96, bypass: ['layer2.0.cbam'] } });
      for (const point of [{ x: 10, y: 10 }, { x: 225, y: 150 }, { x: 440, y: 290 }]) {
        const qa = await kept.query(a.runId, 'nl3', point);
        const qb = await recomputed.query(b.runId, 'nl3', point);
        expect(qb.cell).toEqual(qa.cell);
        expect(qb.shape).toEqual(qa.shape);
        let worst = 0;
        for (let i = 0; i < qa.data.length; i++) worst = Math.max(worst, Math.abs(qa.data[i]! - qb.data[i]!));
        expect(worst).toBeLessThanOrEqual(1e-6);
      }
    } finally {
      kept.dispose();
      recomputed.dispose();
    }
  });
});
