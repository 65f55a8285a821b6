// The fused decode-to-input path (engine/image.ts decodeToInput, used by runs) must agree
// with decodeImage + preprocess: the same transform exactly, the same pixels up to
// resampling rounding, and the same errors for bad images.

import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { decodeImage, decodeToInput, IMAGENET_MEAN, IMAGENET_STD, preprocess, type PreprocessOptions } from '../../../engine/image';
import type { ResizeMode } from '../../../engine/types';
import { engineError, expectUserError, png16Rgb, randomBytes, solidBlackPng } from './helpers';

const W = 600;
const H = 400;
function photo(): Buffer {
  const b = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = (y * W + x) * 3;
    b[i] = 128 + 100 * Math.sin(x / 37); b[i + 1] = 128 + 100 * Math.cos(y / 23); b[i + 2] = (x + y) & 255;
  }
  // A bright block whose position tells alignment.
  for (let y = 60; y < 100; y++) for (let x = 420; x < 480; x++) b.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
  return b;
}

async function compare(bytes: Buffer, opts: PreprocessOptions): Promise<{ meanAbs: number; p99: number }> {
  const ref = await preprocess(await decodeImage(bytes, 'x'), opts);
  const fast = await decodeToInput(bytes, 'x', opts);
  expect(fast.pre.transform).toEqual(ref.transform);
  expect([fast.image.width, fast.image.height]).toEqual([ref.transform.origWidth, ref.transform.origHeight]);
  const d = ref.input.map((v, i) => Math.abs(v - (fast.pre.input[i] as number))).sort();
  return { meanAbs: d.reduce((a, b) => a + b, 0) / d.length, p99: d[Math.floor(d.length * 0.99)] as number };
}

describe('decodeToInput agrees with decodeImage + preprocess', () => {
  const modes: ResizeMode[] = ['stretch', 'pad', 'center-crop'];
  for (const resize of modes) {
    test(`JPEG, every EXIF orientation, ${resize}`, async () => {
      for (let o = 1; o <= 8; o++) {
        const jpeg = await sharp(photo(), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: o }).toBuffer();
        const { meanAbs, p99 } = await compare(jpeg, { inputSize: 64, resize, mean: IMAGENET_MEAN, std: IMAGENET_STD });
        // Normalised units: 1 grey level is ~0.017. Measured: mean 0.004-0.011, p99 0.035-0.05.
        expect(meanAbs, `orientation ${o}`).toBeLessThan(0.025);
        expect(p99, `orientation ${o}`).toBeLessThan(0.15);
      }
    });
  }

  test('PNG with alpha, 16-bit PNG, grayscale JPEG, CMYK JPEG, animated GIF, 1x1', async () => {
    const opts: PreprocessOptions = { inputSize: 48, resize: 'pad', mean: IMAGENET_MEAN, std: IMAGENET_STD };
    const rgba = Buffer.alloc(W * H * 4);
    for (let i = 0; i < W * H; i++) rgba.set([i % 255, 80, 200, i % 3 === 0 ? 0 : 255], i * 4);
    const gray = Buffer.alloc(W * H);
    for (let i = 0; i < gray.length; i++) gray[i] = (i * 7) % 256;
    const frame = (c: number) => sharp(Buffer.alloc(W * H * 3, c), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
    const inputs = [
      await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toBuffer(),
      png16Rgb(120, 80, (x, y) => [x * 500, y * 800, 30000]),
      await sharp(gray, { raw: { width: W, height: H, channels: 1 } }).jpeg().toBuffer(),
      await sharp(photo(), { raw: { width: W, height: H, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer(),
      await sharp(await Promise.all([frame(20), frame(220)]), { join: { animated: true } }).gif().toBuffer(),
      await sharp(Buffer.from([9, 99, 199]), { raw: { width: 1, height: 1, channels: 3 } }).png().toBuffer(),
    ];
    for (const [i, bytes] of inputs.entries()) {
      const { meanAbs } = await compare(bytes, opts);
      expect(meanAbs, `input ${i}`).toBeLessThan(0.08);
    }
  });

  test('the bright block lands in the same input cells', async () => {
    const jpeg = await sharp(photo(), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    const opts: PreprocessOptions = { inputSize: 96, resize: 'stretch', mean: [0, 0, 0], std: [1, 1, 1] };
    const fast = await decodeToInput(jpeg, 'x', opts);
    let sx = 0, sy = 0, n = 0;
    for (let y = 0; y < 96; y++) for (let x = 0; x < 96; x++) {
      const i = (y * 96 + x) * 3;
      if ((fast.pre.input[i] as number) > 0.97 && (fast.pre.input[i + 1] as number) > 0.97 && (fast.pre.input[i + 2] as number) > 0.97) { sx += x + 0.5; sy += y + 0.5; n++; }
    }
    // Block centre (450, 80) in the original -> (450 * 96/600, 80 * 96/400) = (72, 19.2).
    expect(n).toBeGreaterThan(10);
    expect(Math.abs(sx / n - 72)).toBeLessThan(0.75);
    expect(Math.abs(sy / n - 19.2)).toBeLessThan(0.75);
  });

  test('bad images: the same errors as decodeImage', async () => {
    const opts: PreprocessOptions = { inputSize: 32, resize: 'stretch', mean: IMAGENET_MEAN, std: IMAGENET_STD };
    expectUserError(await engineError(decodeToInput(new Uint8Array(0), 'empty.jpg', opts)), 'bad-image', /empty\.jpg/);
    expectUserError(await engineError(decodeToInput(randomBytes(300, 9), 'noise.png', opts)), 'bad-image', /noise\.png/);
    const jpeg = await sharp(photo(), { raw: { width: W, height: H, channels: 3 } }).jpeg().toBuffer();
    expectUserError(await engineError(decodeToInput(jpeg.subarray(0, jpeg.length >> 1), 'cut.jpg', opts)), 'bad-image', /cut\.jpg/);
    expectUserError(await engineError(decodeToInput(solidBlackPng(30000, 30000), 'bomb.png', opts)), 'bad-image', /30000 x 30000.*limit/);
    expectUserError(await engineError(decodeToInput('/nonexistent/x.jpg', undefined, opts)), 'io', /x\.jpg/);
    expectUserError(await engineError(decodeToInput(jpeg, 'x.jpg', { ...opts, inputSize: 5 })), 'bad-request', /out of range/);
  });
});
