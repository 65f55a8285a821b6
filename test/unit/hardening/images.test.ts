// Hardening: every kind of bad or unusual image a user can drop in. Each bad one must be an
// EngineError('bad-image' | 'io') with a message naming the file; each unusual-but-valid
// one must decode to 8-bit sRGB RGB at the size a viewer shows.

import sharp from 'sharp';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodeImage, IMAGENET_MEAN, IMAGENET_STD, MAX_PIXELS, preprocess } from '../../../engine/image';
import { engineError, expectUserError, png16Rgb, randomBytes, solidBlackPng } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'attnscope-img-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const W = 64;
const H = 48;
/** A gradient RGB image with structure, so truncation really cuts data. */
function gradient(w = W, h = H): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    b[i] = (x * 255) / w; b[i + 1] = (y * 255) / h; b[i + 2] = ((x ^ y) * 7) & 255;
  }
  return b;
}
const raw = (w = W, h = H, channels: 1 | 2 | 3 | 4 = 3) => ({ raw: { width: w, height: h, channels } });

describe('bad images are refused with a message naming the file', () => {
  test('zero bytes', async () => {
    const err = await engineError(decodeImage(new Uint8Array(0), 'empty.jpg'));
    expectUserError(err, 'bad-image', /empty\.jpg" is empty \(0 bytes\)/);
  });

  test('random bytes (seeded, several lengths)', async () => {
    for (const [i, n] of [1, 7, 100, 4096].entries()) {
      const err = await engineError(decodeImage(randomBytes(n, 100 + i), `noise${i}.png`));
      expectUserError(err, 'bad-image', new RegExp(`noise${i}\\.png`));
    }
  });

  test('truncated JPEG', async () => {
    const jpeg = await sharp(gradient(), raw()).jpeg({ quality: 90 }).toBuffer();
    for (const keep of [2, 20, Math.floor(jpeg.length / 2)]) {
      const err = await engineError(decodeImage(jpeg.subarray(0, keep), 'cut.jpg'));
      expectUserError(err, 'bad-image', /cut\.jpg/);
    }
    // Cut inside the image data: said to be truncated, not an unsupported format.
    const half = await engineError(decodeImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'half.jpg'));
    expectUserError(half, 'bad-image', /half\.jpg.*(truncated|could not be decoded)/);
  });

  test('truncated PNG', async () => {
    const png = await sharp(gradient(), raw()).png({ compressionLevel: 0 }).toBuffer();
    // (Cutting only the IEND chunk leaves every pixel intact; libpng accepts that, and so do we.)
    for (const keep of [8, 30, Math.floor(png.length / 2), Math.floor(png.length * 0.9)]) {
      const err = await engineError(decodeImage(png.subarray(0, keep), 'cut.png'));
      expectUserError(err, 'bad-image', /cut\.png/);
    }
  });

  test('a text file named .png is refused; a PNG named .jpg decodes (content decides, not the name)', async () => {
    const err = await engineError(decodeImage(Buffer.from('hello, this is not an image\n'), 'notes.png'));
    expectUserError(err, 'bad-image', /notes\.png.*not an image/);
    const png = await sharp(gradient(), raw()).png().toBuffer();
    const img = await decodeImage(png, 'really-a-png.jpg');
    expect(img.format).toBe('png');
    expect([img.width, img.height]).toEqual([W, H]);
  });

  test('a missing file is an io error naming the path', async () => {
    const err = await engineError(decodeImage(join(dir, 'nope.jpg')));
    expectUserError(err, 'io', /nope\.jpg/);
  });

  test('a 30000 x 30000 PNG (decompression bomb, 2.6 MB on disk) is refused by the pixel limit without decoding', async () => {
    const bomb = solidBlackPng(30000, 30000);
    expect(bomb.length).toBeLessThan(4_000_000);
    // Sanity: the same construction at a small size is a real, decodable image.
    const small = await decodeImage(solidBlackPng(300, 200), 'small-bomb.png');
    expect([small.width, small.height, small.rgb[0]]).toEqual([300, 200, 0]);
    global.gc?.();
    const before = process.memoryUsage().rss;
    const err = await engineError(decodeImage(bomb, 'bomb.png'));
    const grew = process.memoryUsage().rss - before;
    expectUserError(err, 'bad-image', /bomb\.png.*30000 x 30000.*900 MP.*limit/);
    expect(err.hint).toMatch(/Downscale/);
    // Decoding would need 2.7 GB; refusing must not allocate anything like it.
    expect(grew).toBeLessThan(200 * 2 ** 20);
    expect(30000 * 30000).toBeGreaterThan(MAX_PIXELS);
  });
});

describe('unusual but valid images decode to 8-bit sRGB RGB', () => {
  test('1 x 1 image decodes and preprocesses to the full input size', async () => {
    const png = await sharp(Buffer.from([10, 200, 30]), raw(1, 1)).png().toBuffer();
    const img = await decodeImage(png, 'dot.png');
    expect([img.width, img.height, ...img.rgb]).toEqual([1, 1, 10, 200, 30]);
    for (const resize of ['stretch', 'pad', 'center-crop'] as const) {
      const p = await preprocess(img, { inputSize: 32, resize, mean: IMAGENET_MEAN, std: IMAGENET_STD });
      expect(p.input.length).toBe(32 * 32 * 3);
      expect(p.input.every(Number.isFinite)).toBe(true);
    }
  });

  test('16-bit RGB PNG', async () => {
    // Orange (65535, 32896, 0) on the left half, a 16-bit-only ramp on the right.
    const png = png16Rgb(W, H, (x) => (x < W / 2 ? [65535, 32896, 0] : [x * 1000, 0, 65535 - x * 1000]));
    const meta = await sharp(png).metadata();
    expect([meta.depth, meta.space]).toEqual(['ushort', 'rgb16']);
    const img = await decodeImage(png, 'deep.png');
    expect([img.width, img.height, img.rgb.length]).toEqual([W, H, W * H * 3]);
    expect(Array.from(img.rgb.subarray(0, 3))).toEqual([255, 128, 0]);
    const x = W - 1;
    const want = [(x * 1000) / 257, 0, (65535 - x * 1000) / 257];
    img.rgb.subarray(x * 3, x * 3 + 3).forEach((v, c) => expect(Math.abs(v - (want[c] as number))).toBeLessThanOrEqual(1));
  });

  test('CMYK JPEG is converted to RGB with the right colours', async () => {
    const red = Buffer.alloc(W * H * 3);
    for (let i = 0; i < red.length; i += 3) red[i] = 220;
    const cmyk = await sharp(red, raw()).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const img = await decodeImage(cmyk, 'print.jpg');
    expect([img.width, img.height, img.rgb.length]).toEqual([W, H, W * H * 3]);
    const [r, g, b] = img.rgb;
    expect(r).toBeGreaterThan(150);
    expect(g).toBeLessThan(90);
    expect(b).toBeLessThan(90);
  });

  test('grayscale JPEG and PNG become three equal channels', async () => {
    const gray = Buffer.alloc(W * H);
    for (let i = 0; i < gray.length; i++) gray[i] = i % 256;
    for (const bytes of [await sharp(gray, raw(W, H, 1)).jpeg().toBuffer(), await sharp(gray, raw(W, H, 1)).png().toBuffer()]) {
      const img = await decodeImage(bytes, 'gray');
      expect(img.rgb.length).toBe(W * H * 3);
      for (let i = 0; i < img.rgb.length; i += 3) {
        expect(img.rgb[i]).toBe(img.rgb[i + 1]);
        expect(img.rgb[i]).toBe(img.rgb[i + 2]);
      }
    }
  });

  test('palette PNG with alpha: transparent pixels come out white, opaque ones keep their colour', async () => {
    const rgba = Buffer.alloc(W * H * 4);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      rgba.set(x < W / 2 ? [0, 0, 255, 255] : [0, 0, 0, 0], i); // left blue, right transparent
    }
    const png = await sharp(rgba, raw(W, H, 4)).png({ palette: true, colours: 4 }).toBuffer();
    expect((await sharp(png).metadata()).isPalette).toBe(true);
    const img = await decodeImage(png, 'indexed.png');
    const at = (x: number, y: number) => Array.from(img.rgb.subarray((y * W + x) * 3, (y * W + x) * 3 + 3));
    expect(at(2, 2)).toEqual([0, 0, 255]);
    expect(at(W - 2, 2)).toEqual([255, 255, 255]);
  });

  test('animated GIF: the first frame, at one frame\'s height', async () => {
    const frames = await Promise.all([[255, 0, 0], [0, 255, 0], [0, 0, 255]].map((c) => {
      const b = Buffer.alloc(W * H * 3);
      for (let i = 0; i < b.length; i += 3) b.set(c, i);
      return sharp(b, raw()).png().toBuffer();
    }));
    const gif = await sharp(frames, { join: { animated: true } }).gif({ loop: 0, delay: 100 }).toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(3);
    const img = await decodeImage(gif, 'anim.gif');
    expect([img.width, img.height]).toEqual([W, H]);
    const [r, g, b] = img.rgb;
    expect(r).toBeGreaterThan(200);
    expect(g).toBeLessThan(50);
    expect(b).toBeLessThan(50);
  });
});

describe('every EXIF orientation', () => {
  // Stored image W x H: a red marker in the stored top-left corner, a green one in the
  // stored top-right. Where a viewer shows them (EXIF 2.3, "Orientation"):
  type Corner = 'TL' | 'TR' | 'BL' | 'BR';
  const expected: Record<number, { red: Corner; green: Corner; swap: boolean }> = {
    1: { red: 'TL', green: 'TR', swap: false }, // as stored
    2: { red: 'TR', green: 'TL', swap: false }, // mirrored left-right
    3: { red: 'BR', green: 'BL', swap: false }, // rotated 180
    4: { red: 'BL', green: 'BR', swap: false }, // mirrored top-bottom
    5: { red: 'TL', green: 'BL', swap: true }, // transposed
    6: { red: 'TR', green: 'BR', swap: true }, // rotated 90 clockwise
    7: { red: 'BR', green: 'TR', swap: true }, // transversed
    8: { red: 'BL', green: 'TL', swap: true }, // rotated 90 counter-clockwise
  };
  const M = 8;
  function stored(): Buffer {
    const b = Buffer.alloc(W * H * 3, 40);
    for (let y = 0; y < M; y++) for (let x = 0; x < M; x++) {
      b.set([255, 0, 0], (y * W + x) * 3);
      b.set([0, 255, 0], (y * W + (W - 1 - x)) * 3);
    }
    return b;
  }
  function cornerOf(rgb: Uint8Array, w: number, h: number, channel: 0 | 1): Corner {
    const probe = { TL: [2, 2], TR: [w - 3, 2], BL: [2, h - 3], BR: [w - 3, h - 3] } as const;
    const hits = (Object.keys(probe) as Corner[]).filter((c) => {
      const [x, y] = probe[c];
      const i = (y * w + x) * 3;
      return (rgb[i + channel] as number) > 180 && (rgb[i + (1 - channel)] as number) < 90;
    });
    if (hits.length !== 1) throw new Error(`marker found in ${hits.length} corners`);
    return hits[0] as Corner;
  }

  for (let o = 1; o <= 8; o++) {
    test(`orientation ${o}`, async () => {
      const jpeg = await sharp(stored(), raw()).jpeg({ quality: 98 }).withMetadata({ orientation: o }).toBuffer();
      expect((await sharp(jpeg).metadata()).orientation).toBe(o);
      const img = await decodeImage(jpeg, `o${o}.jpg`);
      const e = expected[o] as (typeof expected)[number];
      expect([img.width, img.height]).toEqual(e.swap ? [H, W] : [W, H]);
      expect(cornerOf(img.rgb, img.width, img.height, 0)).toBe(e.red);
      expect(cornerOf(img.rgb, img.width, img.height, 1)).toBe(e.green);
      // The transform maps the shown (oriented) image onto the input.
      const p = await preprocess(img, { inputSize: 32, resize: 'stretch', mean: IMAGENET_MEAN, std: IMAGENET_STD });
      expect([p.transform.origWidth, p.transform.origHeight]).toEqual([img.width, img.height]);
    });
  }
});

