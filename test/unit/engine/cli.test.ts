// `attnscope maps` on a real photo: the .npy files, logits and maps.json it promises;
// usage errors exit 2, failures exit 1, each with a message.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { main } from '../../../engine/cli';
import { encodeNpy } from '../../../engine/npy';
import { captureConsole, FIXTURES, readCase } from './fixtureData';

const SAMPLE = join(FIXTURES, '../../assets/samples/chelsea.png');
const WEIGHTS = join(FIXTURES, 'cbam-official-bottleneck/model.pth.tar');
const tmp = mkdtempSync(join(tmpdir(), 'attnscope-cli-'));
const stderr = captureConsole();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readNpy(path: string): { shape: number[]; data: Float32Array } {
  const buf = readFileSync(path);
  expect([...buf.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const len = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + len).toString('latin1');
  expect((10 + len) % 64).toBe(0);
  expect(header).toContain("'descr': '<f4', 'fortran_order': False");
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = buf.subarray(10 + len);
  const data = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  return { shape, data };
}

describe('attnscope maps', () => {
  test('an .onnx model whose attention is not found says why without --verbose, and what to try', async () => {
    const onnx = join(FIXTURES, 'onnx', 'nlsa-resnet', 'model.onnx');
    expect(await main(['maps', SAMPLE, '--weights', onnx, '--out', join(tmp, 'nlsa-default')])).toBe(0);
    expect(stderr.text()).toMatch(/warning: Not listed as attention: \/nlsa2\/Exp \(sorted-chunk attention .* too large to lay out densely; open the model at a smaller input size \(--input-size, or the model menu's Input size field\)/);
    stderr.lines.length = 0;
    // What it says to try: at 32 px the sorted chunks are laid out, and nothing is printed.
    expect(await main(['maps', SAMPLE, '--weights', onnx, '--input-size', '32', '--out', join(tmp, 'nlsa-32')])).toBe(0);
    expect(stderr.text()).toBe('');
    expect(readNpy(join(tmp, 'nlsa-32', 'nlsa2.map.affinity.npy')).shape).toEqual([256, 256]);
  });

  test('writes one .npy per tap, logits.npy and maps.json for a real photo', async () => {
    const out = join(tmp, 'maps');
    const code = await main(['maps', SAMPLE, '--weights', WEIGHTS, '--input-size', '96', '--resize', 'pad', '--backend', 'wasm', '--out', out]);
    expect(stderr.text()).toBe('');
    expect(code).toBe(0);
    const index = JSON.parse(readFileSync(join(out, 'maps.json'), 'utf8'));
    expect(index).toMatchObject({ runtime: 'tfjs', device: 'cpu', backend: 'wasm' });
    expect(index.transform).toMatchObject({ origWidth: 451, origHeight: 300, inputWidth: 96, resize: 'pad' });
    expect(index.top5).toHaveLength(5);
    expect(index.timing.totalMs).toBeGreaterThan(0);
    const names = index.maps.map((m: { file: string }) => m.file);
    expect(names).toContain('layer1.0.cbam.channel.npy');
    expect(names).toContain('layer4.0.cbam.spatial.npy');
    for (const m of index.maps as Array<{ module: string; tap: string; shape: number[]; file: string }>) {
      expect(m.file).toBe(`${m.module}.${m.tap}.npy`);
      const npy = readNpy(join(out, m.file));
      expect(npy.shape).toEqual(m.shape);
      expect(npy.shape.length).toBe(m.tap === 'channel' ? 1 : 2);
      expect(npy.data.every(Number.isFinite)).toBe(true);
    }
    const logits = readNpy(join(out, 'logits.npy'));
    expect(logits.shape).toEqual([12]);
  });

  test('the default runtime is ort; both runtimes write the same maps; --repeat prints one timing line', async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { logged.push(a.join(' ')); });
    const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'maps.json'), 'utf8'));
    const ort = join(tmp, 'ort');
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--input-size', '64', '--out', ort, '--repeat', '3'])).toBe(0);
    expect(read(ort)).toMatchObject({ runtime: 'ort', device: 'cpu', backend: 'cpu' });
    const timing = JSON.parse(logged.at(-1)!);
    expect(timing).toMatchObject({ runtime: 'ort', device: 'cpu', backend: 'cpu', runs: 3, input: 64 });
    expect(timing.forward_ms.min).toBeGreaterThan(0);
    expect(timing.forward_ms.median).toBeGreaterThanOrEqual(timing.forward_ms.min);
    const tfjs = join(tmp, 'tfjs');
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--input-size', '64', '--out', tfjs, '--runtime', 'tfjs'])).toBe(0);
    expect(read(tfjs).runtime).toBe('tfjs');
    for (const m of read(ort).maps as Array<{ file: string }>) {
      const a = readNpy(join(ort, m.file)).data;
      const b = readNpy(join(tfjs, m.file)).data;
      expect(a.length).toBe(b.length);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4);
    }
    expect(await main(['maps', SAMPLE, '--out', tmp, '--runtime', 'onnx'])).toBe(2);
    expect(stderr.text()).toMatch(/--runtime must be one of ort, tfjs/);
    expect(await main(['maps', SAMPLE, '--out', tmp, '--runtime', 'ort', '--backend', 'wasm'])).toBe(2);
    expect(stderr.text()).toMatch(/needs --runtime tfjs/);
    expect(await main(['maps', SAMPLE, '--out', tmp, '--repeat', '0'])).toBe(2);
  });

  test('the .npy writer round-trips values and shapes', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 0, 1e-7, 42]);
    const path = join(tmp, 'x.npy');
    writeFileSync(path, encodeNpy(data, [2, 3]));
    const back = readNpy(path);
    expect(back.shape).toEqual([2, 3]);
    expect([...back.data]).toEqual([...data]);
  });

  test('usage errors exit 2 with a message', async () => {
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS])).toBe(2);
    expect(stderr.text()).toMatch(/--out DIR is required/);
    expect(await main(['maps', SAMPLE, '--out', tmp, '--resize', 'squash'])).toBe(2);
    expect(await main(['maps', SAMPLE, '--out', tmp, '--frobnicate'])).toBe(2);
    expect(await main(['nosuch'])).toBe(2);
    expect(stderr.text()).toMatch(/unknown command "nosuch"/);
    expect(await main(['--help'])).toBe(0);
  });

  test('failures exit 1 with an actionable message', async () => {
    const notImage = join(tmp, 'not-an-image.jpg');
    writeFileSync(notImage, 'hello');
    expect(await main(['maps', notImage, '--weights', WEIGHTS, '--out', join(tmp, 'bad')])).toBe(1);
    expect(stderr.text()).toMatch(/not-an-image\.jpg.*not an image/);
    expect(existsSync(join(tmp, 'bad', 'maps.json'))).toBe(false);
    stderr.lines.length = 0;
    expect(await main(['maps', SAMPLE, '--weights', join(tmp, 'missing.pth'), '--out', join(tmp, 'bad')])).toBe(1);
    expect(stderr.text()).toMatch(/missing\.pth/);
  });

  test('--tile runs the photo in tiles at its own resolution; bad tile options are usage errors or say what fits', async () => {
    const out = join(tmp, 'tiles');
    // The ImageNet-stem fixture network: coarsest map cell 32 px. Chelsea is 451 x 300.
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--tile', '128', '--overlap', '32', '--out', out])).toBe(0);
    const index = JSON.parse(readFileSync(join(out, 'maps.json'), 'utf8'));
    // Steps of 96 px: 5 x 3 tiles, the image padded to 512 x 320.
    expect(index.transform).toMatchObject({ origWidth: 451, origHeight: 300, inputWidth: 512, inputHeight: 320, scaleX: 1, tiles: { size: 128, overlap: 32, columns: 5, rows: 3 } });
    const spatial = index.maps.find((m: { tap: string }) => m.tap === 'spatial');
    const last = index.maps.filter((m: { tap: string }) => m.tap === 'spatial').at(-1);
    expect(spatial.shape).toEqual([320 / 4, 512 / 4]); // layer1: 4 px a cell
    expect(last.shape).toEqual([320 / 32, 512 / 32]); // layer4: 32 px a cell
    expect(readNpy(join(out, last.file)).shape).toEqual(last.shape);

    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--tile', '128', '--input-size', '96', '--out', out])).toBe(2);
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--overlap', '32', '--out', out])).toBe(2);
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--tile', 'big', '--out', out])).toBe(2);
    expect(stderr.text()).toMatch(/--tile or --input-size[\s\S]*--overlap goes with --tile[\s\S]*--tile must be a whole number/);
    stderr.lines.length = 0;
    expect(await main(['maps', SAMPLE, '--weights', WEIGHTS, '--tile', '100', '--out', out])).toBe(2);
    expect(stderr.text()).toMatch(/tile size of 100 px[\s\S]*multiple of 32 px[\s\S]*--tile 96 or 128/);
  });

  test('without --weights it runs the first built-in model, with its class names', async () => {
    const models = join(tmp, 'models');
    const dir = join(models, 'tiny-cbam');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(FIXTURES, 'cbam-official-basic/model.safetensors'), join(dir, 'model.safetensors'));
    const spec = readCase('cbam-official-basic').spec;
    const classes = Array.from({ length: spec.numClasses }, (_, i) => `thing ${i}`);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
      name: 'tiny-cbam', weights: 'model.safetensors', spec, classes, inputSize: 32,
      mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], defaultVisible: ['layer4.1.cbam'],
    }));
    vi.stubEnv('ATTNSCOPE_MODELS', models);
    try {
      const out = join(tmp, 'builtin');
      expect(await main(['maps', SAMPLE, '--out', out])).toBe(0);
      const index = JSON.parse(readFileSync(join(out, 'maps.json'), 'utf8'));
      expect(index.model.name).toBe('tiny-cbam');
      expect(index.transform).toMatchObject({ inputWidth: 32 });
      expect(index.top5[0].label).toMatch(/^thing \d$/);

      vi.stubEnv('ATTNSCOPE_MODELS', join(tmp, 'no-models-here'));
      expect(await main(['maps', SAMPLE, '--out', out])).toBe(1);
      expect(stderr.text()).toMatch(/no built-in model found.*\n.*--weights/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('attnscope cam', () => {
  test('writes each method\'s map (.npy on the stage grid, overlay PNG) and cam.json for a real photo', async () => {
    const out = join(tmp, 'cam');
    // The ImageNet-stem fixture network at 64 px: layer3 4x4, layer4 2x2.
    expect(await main(['cam', SAMPLE, '--weights', WEIGHTS, '--input-size', '64', '--method', 'gradcam,scorecam,cam', '--layer', 'layer3,layer4', '--class', '3', '--out', out])).toBe(0);
    const index = JSON.parse(readFileSync(join(out, 'cam.json'), 'utf8'));
    expect(index.class.index).toBe(3);
    expect(index.top5).toHaveLength(5);
    // CAM is defined on the last stage only: 2 methods at layer3, 3 at layer4.
    expect(index.maps.map((m: { layer: string; method: string }) => `${m.layer}.${m.method}`)).toEqual(['layer3.gradcam', 'layer3.scorecam', 'layer4.gradcam', 'layer4.scorecam', 'layer4.cam']);
    const g = readNpy(join(out, 'layer4.gradcam.npy'));
    expect(g.shape).toEqual([2, 2]);
    expect(index.maps.find((m: { file: string }) => m.file === 'layer3.scorecam.npy').passes).toBeGreaterThan(1);
    const png = readFileSync(join(out, 'layer4.gradcam.png'));
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');

    expect(await main(['cam', SAMPLE, '--weights', WEIGHTS, '--method', 'magic', '--out', out])).toBe(2);
    expect(await main(['cam', SAMPLE, '--weights', WEIGHTS, '--layer', 'layer9', '--out', out])).toBe(2);
    expect(stderr.text()).toMatch(/--method must be one of[\s\S]*--layer must be layer1 to layer4/);
  });
});

describe('attnscope graph', () => {
  test('writes the attention graph as an ONNX file that ONNX Runtime runs, taps as outputs', async () => {
    const file = join(tmp, 'model.onnx');
    expect(await main(['graph', '--weights', WEIGHTS, '--out', file])).toBe(0);
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(file);
    try {
      expect(session.inputNames[0]).toBe('input');
      expect(session.inputNames).toContain('layer1.0.cbam.bypass');
      expect(session.outputNames).toContain('logits');
      expect(session.outputNames).toContain('layer4.0.cbam.spatial');
    } finally {
      await session.release();
    }
    expect(await main(['graph', '--weights', WEIGHTS])).toBe(2);
  });
});
