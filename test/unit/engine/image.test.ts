// Decoding, orientation and the resize transform (DESIGN.md "Image alignment"): a bright
// square at a known spot of a non-square image must land where the transform says.
import sharp from 'sharp';
import { crc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { decodeImage, IMAGENET_MEAN, IMAGENET_STD, pointToCell, preprocess } from '../../../engine/image';
import type { ImageTransform, ResizeMode } from '../../../engine/types';

const W = 240;
const H = 120;
/** The bright square, in original pixels: [x0, x1) x [y0, y1). Inside the centre crop. */
const SQ = { x0: 130, x1: 150, y0: 30, y1: 50 };

function squareImage(): Buffer {
  const rgb = Buffer.alloc(W * H * 3, 20);
  for (let y = SQ.y0; y < SQ.y1; y++) for (let x = SQ.x0; x < SQ.x1; x++) rgb.fill(250, (y * W + x) * 3, (y * W + x) * 3 + 3);
  return rgb;
}

async function png(rgb: Buffer, width: number, height: number, channels: 1 | 3 | 4 = 3): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels } }).png().toBuffer();
}

/** Centroid of the bright pixels of a normalised NHWC input. */
function brightCentroid(input: Float32Array, size: number): { x: number; y: number } {
  let sx = 0, sy = 0, n = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = (input[(y * size + x) * 3] as number) * IMAGENET_STD[0] + IMAGENET_MEAN[0];
      if (r > 0.5) { sx += x + 0.5; sy += y + 0.5; n++; }
    }
  }
  return { x: sx / n, y: sy / n };
}

function toOriginal(t: ImageTransform, p: { x: number; y: number }): { x: number; y: number } {
  return { x: (p.x - t.offsetX) / t.scaleX, y: (p.y - t.offsetY) / t.scaleY };
}

describe('preprocess transform', () => {
  test.each<ResizeMode>(['stretch', 'pad', 'center-crop'])('%s maps the square back to its original place', async (resize) => {
    const img = await decodeImage(await png(squareImage(), W, H), 'square.png');
    expect([img.width, img.height]).toEqual([W, H]);
    const size = 96;
    const { input, transform } = await preprocess(img, { inputSize: size, resize, mean: IMAGENET_MEAN, std: IMAGENET_STD });
    expect(input.length).toBe(size * size * 3);
    const back = toOriginal(transform, brightCentroid(input, size));
    expect(Math.abs(back.x - (SQ.x0 + SQ.x1) / 2)).toBeLessThan(1.5);
    expect(Math.abs(back.y - (SQ.y0 + SQ.y1) / 2)).toBeLessThan(1.5);
    if (resize === 'pad') {
      expect(transform.offsetY).toBeGreaterThan(0);
      // Letterbox rows are exactly the mean colour: zero after normalisation.
      expect(Array.from(input.subarray(0, size * 3)).every((v) => v === 0)).toBe(true);
    }
    if (resize === 'center-crop') expect(transform.offsetX).toBeLessThan(0);
    // The tap cell that covers the square's centre, on a 12x12 map.
    const cell = pointToCell(transform, { x: 140, y: 40 }, [12, 12]);
    const expectCol = Math.floor(((140 * transform.scaleX + transform.offsetX) / size) * 12);
    expect(cell?.col).toBe(expectCol);
  });

  test('an image already at the input size is not resampled', async () => {
    const rgb = Buffer.alloc(32 * 32 * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37) % 256;
    const img = await decodeImage(await png(rgb, 32, 32));
    for (const resize of ['stretch', 'pad', 'center-crop'] as const) {
      const { input, transform } = await preprocess(img, { inputSize: 32, resize, mean: IMAGENET_MEAN, std: IMAGENET_STD });
      expect(transform).toMatchObject({ scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 });
      for (let i = 0; i < rgb.length; i++) {
        const c = i % 3;
        expect(input[i]).toBeCloseTo(((rgb[i] as number) / 255 - (IMAGENET_MEAN[c] as number)) / (IMAGENET_STD[c] as number), 5);
      }
    }
  });
});

describe('decodeImage', () => {
  test('applies EXIF orientation', async () => {
    // Orientation 6: the stored image is shown rotated 90 degrees clockwise.
    const jpeg = await sharp(squareImage(), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const img = await decodeImage(jpeg, 'rotated.jpg');
    expect([img.width, img.height]).toEqual([H, W]);
    // Stored (x, y) -> shown (H - 1 - y, x): the square's centre (140, 40) shows at (80, 140).
    const at = (x: number, y: number): number => img.rgb[(y * img.width + x) * 3] as number;
    expect(at(H - 1 - 40, 140)).toBeGreaterThan(200);
    expect(at(140 % H, 40)).toBeLessThan(60);
  });

  test('flattens alpha onto white and expands grayscale and 16-bit to 8-bit RGB', async () => {
    const rgba = Buffer.from([255, 0, 0, 0, 0, 0, 255, 255]);
    const a = await decodeImage(await png(rgba, 2, 1, 4));
    expect(Array.from(a.rgb)).toEqual([255, 255, 255, 0, 0, 255]);
    const gray = await decodeImage(await png(Buffer.from([0, 128, 255]), 3, 1, 1));
    expect(Array.from(gray.rgb)).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
    const sixteen = await sharp(Buffer.from([0, 128, 255]), { raw: { width: 3, height: 1, channels: 1 } })
      .toColourspace('grey16').png().toBuffer();
    const s = await decodeImage(sixteen);
    expect(s.rgb.length).toBe(9);
    expect(s.rgb[3]).toBeGreaterThan(120);
    expect(s.rgb[3]).toBeLessThan(136);
  });

  test('refuses images above the pixel limit before decoding them', async () => {
    // A PNG claiming 20000 x 20000 pixels (400 MP) with an empty image stream.
    const chunk = (type: string, data: Buffer): Buffer => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const body = Buffer.concat([Buffer.from(type), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body) >>> 0);
      return Buffer.concat([len, body, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(20000, 0);
    ihdr.writeUInt32BE(20000, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const file = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    await expect(decodeImage(file, 'huge.png')).rejects.toMatchObject({ code: 'bad-image', message: expect.stringMatching(/20000 x 20000.*limit/) });
  });

  test('garbage is a bad-image error naming the file', async () => {
    await expect(decodeImage(new Uint8Array(100).fill(7), 'noise.bin')).rejects.toMatchObject({ code: 'bad-image', message: expect.stringContaining('noise.bin') });
  });
});
