// Tiled runs (engine/tiles.ts, Session.run with options.tile): planning and its errors, the
// blend weights, and the quadrant check: an image made of four known 256 px photos, run in
// 256 px tiles without overlap, gives in each quadrant exactly the maps of that photo run
// alone (within 1e-5), on both runtimes.
import type { NetSpec } from '../../../engine/nets/spec';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import type { DecodedImage } from '../../../engine/image';
import { Session } from '../../../engine/session';
import { planTiles, tileAlignment, TileStitcher } from '../../../engine/tiles';
import type { Tap } from '../../../engine/types';
import { FIXTURES } from './fixtureData';

const SAMPLES = join(FIXTURES, '../../assets/samples');
const QUADRANTS = ['scene-car-rocket.png', 'scene-cat-coffee.png', 'scene-elephant-forest.png', 'scene-giraffe-boats.png'];

async function rgb(path: string): Promise<DecodedImage> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { name: path, format: 'png', width: info.width, height: info.height, rgb: new Uint8Array(data) };
}

describe('tile planning', () => {
  test('the alignment is the coarsest map cell', async () => {
    const s = await Session.load({ kind: 'builtin', name: 'emoji-cbam-nl' });
    try {
      // Output stride 16, and nl3's sub-sampled keys after layer3 (stride 8): 16.
      expect(tileAlignment(s.spec as NetSpec)).toBe(16);
    } finally {
      s.dispose();
    }
  });

  test('tiles cover the image on a grid of steps, padded to whole tiles', () => {
    const p = planTiles(600, 400, { size: 256, overlap: 32 }, 16);
    expect(p.step).toBe(224);
    expect(p.xs).toEqual([0, 224, 448]);
    expect(p.ys).toEqual([0, 224]);
    expect([p.paddedWidth, p.paddedHeight]).toEqual([704, 480]);
    const small = planTiles(100, 50, { size: 256, overlap: 0 }, 32);
    expect([small.xs, small.ys, small.paddedWidth]).toEqual([[0], [0], 256]);
  });

  test('sizes that do not fit the network are refused with the nearest that do', () => {
    expect(() => planTiles(600, 400, { size: 250, overlap: 0 }, 16)).toThrow(/multiple of 16 px/);
    try { planTiles(600, 400, { size: 250, overlap: 0 }, 16); } catch (e) { expect((e as { hint: string }).hint).toBe('Use --tile 240 or 256.'); }
    expect(() => planTiles(600, 400, { size: 256, overlap: 256 }, 16)).toThrow(/less than the tile size/);
    expect(() => planTiles(600, 400, { size: 256, overlap: 20 }, 16)).toThrow(/multiple of 16 px/);
  });

  test('overlap weights cross-fade: a map that agrees across tiles comes out unchanged', () => {
    const plan = planTiles(96, 32, { size: 64, overlap: 32 }, 8);
    expect(plan.xs).toEqual([0, 32]);
    const st = new TileStitcher(plan);
    // Map of 8 px cells: 8 x 8 per tile. Left tile all 1, right tile all 3; a constant map 5 in both.
    const tap = (v: number, tapName: 'spatial' | 'activation'): Tap => ({ module: 'm', tap: tapName, shape: [8, 8], data: new Float32Array(64).fill(v) });
    st.add(0, 0, [tap(1, 'spatial'), tap(5, 'activation'), { module: 'm', tap: 'channel', shape: [2], data: Float32Array.of(1, 2) }], Float32Array.of(0, 2));
    st.add(1, 0, [tap(3, 'spatial'), tap(5, 'activation'), { module: 'm', tap: 'channel', shape: [2], data: Float32Array.of(3, 4) }], Float32Array.of(2, 4));
    const { taps, logits } = st.result([{ module: 'm', tap: 'spatial' }, { module: 'm', tap: 'activation' }, { module: 'm', tap: 'channel' }]);
    const [spatial, activation, channel] = taps as [Tap, Tap, Tap];
    expect(spatial.shape).toEqual([8, 12]); // one row of tiles, 64 px high
    const row = Array.from(spatial.data.subarray(0, 12));
    // Cells 0-3 only in the left tile, 8-11 only in the right, 4-7 the overlap: 1 -> 3 linearly.
    expect(row.slice(0, 4)).toEqual([1, 1, 1, 1]);
    expect(row.slice(8)).toEqual([3, 3, 3, 3]);
    expect(row.slice(4, 8).map((v) => Number(v.toFixed(5)))).toEqual([1.25, 1.75, 2.25, 2.75]);
    expect(Array.from(activation.data).every((v) => Math.abs(v - 5) < 1e-6)).toBe(true);
    expect(Array.from(channel.data)).toEqual([2, 3]);
    expect(Array.from(logits)).toEqual([1, 3]);
  });
});

describe.each(['ort', 'tfjs'] as const)('four quadrants (%s)', (runtime) => {
  let session: Session;
  let mosaic: { kind: 'path'; path: string };
  let parts: DecodedImage[];
  beforeAll(async () => {
    session = await Session.load({ kind: 'builtin', name: 'emoji-cbam-nl' }, { runtime });
    parts = await Promise.all(QUADRANTS.map((q) => rgb(join(SAMPLES, q))));
    // The fixture image: the four photos as the quadrants of one 512 x 512 PNG.
    const rgbData = new Uint8Array(512 * 512 * 3);
    parts.forEach((p, i) => {
      for (let y = 0; y < 256; y++) rgbData.set(p.rgb.subarray(y * 768, (y + 1) * 768), ((Math.floor(i / 2) * 256 + y) * 512 + (i % 2) * 256) * 3);
    });
    const dir = mkdtempSync(join(tmpdir(), 'attnscope-tiles-'));
    mosaic = { kind: 'path', path: join(dir, 'quadrants.png') };
    await sharp(rgbData, { raw: { width: 512, height: 512, channels: 3 } }).png().toFile(mosaic.path);
  });
  afterAll(async () => {
    session.dispose();
    await initBackend('wasm');
  });

  test('each quadrant of the tiled maps equals that photo run alone', async () => {
    const tiled = await session.run({ image: mosaic, options: { tile: { size: 256, overlap: 0 } } });
    expect(tiled.transform.tiles).toEqual({ size: 256, overlap: 0, columns: 2, rows: 2 });
    expect([tiled.transform.inputWidth, tiled.transform.inputHeight, tiled.transform.scaleX]).toEqual([512, 512, 1]);
    let worst = 0;
    let compared = 0;
    for (let i = 0; i < 4; i++) {
      const alone = await session.run({ image: { kind: 'decoded', image: parts[i]! }, options: { inputSize: 256 } });
      for (const a of alone.taps) {
        if (a.shape.length !== 2) continue;
        const t = tiled.taps.find((x) => x.module === a.module && x.tap === a.tap)!;
        const [h, w] = a.shape as [number, number];
        expect(t.shape).toEqual([2 * h, 2 * w]);
        const [oy, ox] = [Math.floor(i / 2) * h, (i % 2) * w];
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) worst = Math.max(worst, Math.abs(t.data[(oy + y) * 2 * w + ox + x]! - a.data[y * w + x]!));
        }
        compared++;
      }
    }
    expect(compared).toBe(4 * 18); // 8 CBAM blocks x (spatial, activation) + nl3's attention and activation
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  test('a tiled run has no query point or channel map, and says why', async () => {
    const tiled = await session.run({ image: mosaic, options: { tile: { size: 256, overlap: 32 } } });
    expect(tiled.transform.tiles).toEqual({ size: 256, overlap: 32, columns: 3, rows: 3 });
    await expect(session.query(tiled.runId, 'nl3', { x: 10, y: 10 })).rejects.toThrow(/tiled/);
    await expect(session.channelMap(tiled.runId, 'nl3', 0)).rejects.toThrow(/tiled/);
  });
});
