// GUI export (the protocol's `export` request) and CLI export (`attnscope export`, both
// in-process and on engine worker threads) write byte-identical files; PNGs have the
// image's size after EXIF orientation and carry correct metadata; hostile names stay
// inside the destination.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPngInfo } from '../../../engine/pngText';
import type { EngineMessage, ExportDoneReply } from '../../../engine/protocol';
import { unzipStore } from '../../../engine/zip';
import { buildCli, removeCliBuild, engineCore, listFiles, runCli, sha256, testImage, WEIGHTS } from './harness';

const tmp = mkdtempSync(join(tmpdir(), 'attnscope-export-'));
const MODULES = ['layer1.0.cbam', 'layer1.1.cbam', 'layer4.1.cbam'];
const SETTINGS = {
  colormap: 'turbo', opacity: 0.7, normalise: 'stage', interpolation: 'nearest', resize: 'pad', bypass: ['layer2.0.cbam'], rawUpsampled: true,
} as const;
const CLI_SETTINGS = [
  '--kinds', 'heatmap,overlay,grid,raw', '--modules', 'layer1.*,layer4.1.cbam', '--colormap', 'turbo', '--opacity', '0.7',
  '--normalise', 'stage', '--interpolation', 'nearest', '--resize', 'pad', '--bypass', 'layer2.0.cbam', '--raw-full',
];

let runner = '';
let photo = '';
let photoBytes: Buffer;
const core = engineCore();

beforeAll(async () => {
  runner = await buildCli();
  // 64 x 48 pixels stored, EXIF orientation 6 (rotate 90° clockwise): shown as 48 x 64.
  photoBytes = await testImage(64, 48, 'jpeg', 6);
  photo = join(tmp, 'photo.jpg');
  writeFileSync(photo, photoBytes);
  const loaded = await core.request({ type: 'loadModel', source: { kind: 'path', path: WEIGHTS } });
  expect(loaded.at(-1)?.type).toBe('modelInfo');
});

afterAll(() => {
  core.dispose();
  rmSync(tmp, { recursive: true, force: true });
  removeCliBuild();
});

async function guiExport(dir: string | null, extra: Record<string, unknown> = {}, name = 'photo.jpg'): Promise<ExportDoneReply> {
  const bytes = photoBytes.buffer.slice(photoBytes.byteOffset, photoBytes.byteOffset + photoBytes.byteLength);
  const msgs = await core.request({
    type: 'export', image: { kind: 'bytes', name, bytes }, modules: MODULES, kinds: ['heatmap', 'overlay', 'grid', 'raw'],
    settings: SETTINGS, destination: dir ? { kind: 'dir', path: dir } : { kind: 'download' }, ...extra,
  });
  const last = msgs.at(-1) as EngineMessage;
  if (last.type === 'error') throw new Error(`${last.code}: ${last.message}`);
  expect(last.type).toBe('exportDone');
  expect(msgs.some((m) => m.type === 'exportProgress')).toBe(true);
  return last as ExportDoneReply;
}

describe('GUI and CLI export', () => {
  const gui = join(tmp, 'gui');
  const cliWorkers = join(tmp, 'cli-workers');
  const cliInProcess = join(tmp, 'cli-inprocess');

  beforeAll(async () => {
    await guiExport(gui);
    const a = await runCli(runner, ['export', photo, '--weights', WEIGHTS, ...CLI_SETTINGS, '--jobs', '2', '--out', cliWorkers]);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    expect(a.stderr).toContain('engine workers');
    const b = await runCli(runner, ['export', photo, '--weights', WEIGHTS, ...CLI_SETTINGS, '--jobs', '1', '--out', cliInProcess]);
    expect(b.code, b.stderr + b.stdout).toBe(0);
  });

  it('write the same files with identical bytes', () => {
    const files = listFiles(gui).filter((f) => f !== 'export.json');
    // 3 modules x (spatial, activation) x (heatmap, overlay, npy, full.npy) + 3 x channel (npy, csv) + grid
    expect(files).toHaveLength(3 * 2 * 4 + 3 * 2 + 1);
    expect(files).toContain('photo/grid.png');
    for (const out of [cliWorkers, cliInProcess]) {
      expect(listFiles(out).filter((f) => f !== 'export.json')).toEqual(files);
      for (const f of files) expect(readFileSync(join(out, f)).equals(readFileSync(join(gui, f))), `${out}: ${f}`).toBe(true);
    }
  });

  it('list the same files with the same metadata in export.json', () => {
    const strip = (dir: string) => JSON.parse(readFileSync(join(dir, 'export.json'), 'utf8')) as { files: unknown[] };
    expect(strip(cliWorkers).files).toEqual(strip(gui).files);
    expect(strip(cliInProcess).files).toEqual(strip(gui).files);
  });

  it('downloads the same bytes as a store-only zip in web mode', async () => {
    const reply = await guiExport(null);
    expect(reply.dir).toBeNull();
    expect(reply.archive?.name).toBe('photo-attnscope.zip');
    const entries = unzipStore(new Uint8Array(reply.archive!.bytes));
    expect(entries.map((e) => e.name).sort()).toEqual(listFiles(gui));
    for (const e of entries) {
      if (e.name !== 'export.json') expect(Buffer.from(e.bytes).equals(readFileSync(join(gui, e.name))), e.name).toBe(true);
    }
  });

  it('size every PNG like the image after EXIF orientation (48 x 64, not 64 x 48)', async () => {
    for (const f of listFiles(gui).filter((p) => p.endsWith('.heatmap.png') || p.endsWith('.overlay.png'))) {
      const info = readPngInfo(readFileSync(join(gui, f)));
      expect([info.width, info.height], f).toEqual([48, 64]);
    }
    const meta = await sharp(readFileSync(join(gui, 'photo/layer1.0.cbam.spatial.heatmap.png'))).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([48, 64, 4]);
    const npy = readFileSync(join(gui, 'photo/layer1.0.cbam.spatial.full.npy'));
    expect(npy.toString('latin1', 10, 10 + npy.readUInt16LE(8))).toContain("'shape': (64, 48)");
  });

  it('write the metadata into the PNG text chunks', () => {
    const text = new Map(readPngInfo(readFileSync(join(gui, 'photo/layer4.1.cbam.spatial.overlay.png'))).text);
    expect(text.get('Software')).toMatch(/^AttnScope \d+\.\d+\.\d+/);
    expect(text.get('AttnScope:model')).toBe('model.safetensors');
    expect(text.get('AttnScope:weights-sha256')).toBe(sha256(WEIGHTS));
    expect(text.get('AttnScope:source')).toBe('photo.jpg');
    expect(text.get('AttnScope:kind')).toBe('overlay');
    expect(text.get('AttnScope:module')).toBe('layer4.1.cbam');
    expect(text.get('AttnScope:tap')).toBe('spatial');
    expect(text.get('AttnScope:colormap')).toBe('turbo');
    expect(text.get('AttnScope:normalise')).toBe('stage');
    expect(text.get('AttnScope:interpolation')).toBe('nearest');
    expect(text.get('AttnScope:opacity')).toBe('0.7');
    expect(text.get('AttnScope:input-size')).toBe('32x32');
    expect(text.get('AttnScope:resize')).toBe('pad');
    expect(text.get('AttnScope:bypass')).toBe('layer2.0.cbam');
    const range = text.get('AttnScope:range')!.split(' ').map(Number);
    expect(range).toHaveLength(2);
    expect(range[0]!).toBeLessThan(range[1]!);
    const grid = new Map(readPngInfo(readFileSync(join(gui, 'photo/grid.png'))).text);
    expect(grid.get('AttnScope:kind')).toBe('grid');
    expect(grid.has('AttnScope:module')).toBe(false);
  });

  it('normalisation set over the model\'s (the app\'s Mean and Std) runs the export with it and says so in the PNG', async () => {
    const dir = join(tmp, 'gui-norm');
    await guiExport(dir, { settings: { ...SETTINGS, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } });
    const text = new Map(readPngInfo(readFileSync(join(dir, 'photo/layer4.1.cbam.spatial.overlay.png'))).text);
    expect(text.get('AttnScope:mean')).toBe('0.5 0.5 0.5');
    expect(text.get('AttnScope:std')).toBe('0.25 0.25 0.25');
    expect(new Map(readPngInfo(readFileSync(join(gui, 'photo/layer4.1.cbam.spatial.overlay.png'))).text).has('AttnScope:mean')).toBe(false);
    // Another normalisation, other maps.
    expect(readFileSync(join(dir, 'photo/layer4.1.cbam.spatial.npy')).equals(readFileSync(join(gui, 'photo/layer4.1.cbam.spatial.npy')))).toBe(false);
    await expect(guiExport(join(tmp, 'gui-bad-std'), { settings: { ...SETTINGS, std: [0.2, 0, 0.2] } })).rejects.toThrow(/std must be positive/);
  });

  it('refuses a destination the host did not allow, and unknown modules, with clear errors', async () => {
    const chosen = join(tmp, 'chosen');
    const strict = engineCore({ canRead: (p) => p === WEIGHTS, canWrite: (p) => p.startsWith(chosen + '/') });
    try {
      await strict.request({ type: 'loadModel', source: { kind: 'path', path: WEIGHTS } });
      const bytes = photoBytes.buffer.slice(photoBytes.byteOffset, photoBytes.byteOffset + photoBytes.byteLength);
      const ask = (path: string) => strict.request({
        type: 'export', image: { kind: 'bytes', name: 'p.jpg', bytes }, kinds: ['heatmap'], settings: SETTINGS, destination: { kind: 'dir', path },
      });
      const refused = (await ask(join(tmp, 'elsewhere'))).at(-1) as EngineMessage;
      expect(refused).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(listFiles(tmp).some((f) => f.startsWith('elsewhere'))).toBe(false);
      expect((await ask(chosen)).at(-1)?.type).toBe('exportDone');
    } finally {
      strict.dispose();
    }
    await expect(guiExport(join(tmp, 'gui2'), { modules: ['nope'] })).rejects.toThrow(/not-found: The model has no module "nope"/);
    await expect(guiExport(join(tmp, 'gui3'), { settings: { ...SETTINGS, colormap: 'rainbow' } })).rejects.toThrow(/Unknown colormap "rainbow"/);
  });
});

describe('names from the input never escape the destination', () => {
  it('CLI: ../../x.jpg lands in --out/x/', async () => {
    const base = join(tmp, 'escape');
    const cwd = join(base, 'a', 'b');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(base, 'x.jpg'), await testImage(40, 30, 'jpeg'));
    const r = await runCli(runner, ['export', '../../x.jpg', '--weights', WEIGHTS, '--modules', 'layer1.0.cbam', '--jobs', '1', '--out', 'out'], { cwd });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(listFiles(base)).toEqual([
      'a/b/out/export.json',
      'a/b/out/x/layer1.0.cbam.activation.heatmap.png', 'a/b/out/x/layer1.0.cbam.activation.overlay.png',
      'a/b/out/x/layer1.0.cbam.spatial.heatmap.png', 'a/b/out/x/layer1.0.cbam.spatial.overlay.png',
      'x.jpg',
    ]);
  });

  it('protocol: an image called ../../x.jpg and a folder of ../.. stay inside the chosen folder', async () => {
    const dir = join(tmp, 'escape-gui', 'chosen');
    await guiExport(dir, {}, '../../x.jpg');
    await guiExport(dir, { folder: '../../../evil/..' }, 'y.jpg');
    const files = listFiles(join(tmp, 'escape-gui'));
    expect(files.every((f) => f.startsWith('chosen/'))).toBe(true);
    expect(files).toContain('chosen/x/grid.png');
    expect(files).toContain('chosen/_/_/_/evil/_/grid.png');
  });
});

describe('the cam kind: class evidence of the top class', () => {
  it('writes its overlay and .npy (the stage grid) and adds a grid cell; the method and stage come from settings', async () => {
    const dir = join(tmp, 'cam-kind');
    const msgs = await core.request({
      type: 'export', image: { kind: 'bytes', name: 'photo.jpg', bytes: photoBytes.buffer.slice(photoBytes.byteOffset, photoBytes.byteOffset + photoBytes.byteLength) },
      modules: ['layer4.1.cbam'], kinds: ['grid', 'cam'],
      settings: { colormap: 'viridis', opacity: 0.5, normalise: 'minmax', interpolation: 'bilinear', cam: { method: 'layercam', stage: 3 } },
      destination: { kind: 'dir', path: dir },
    });
    const last = msgs.at(-1) as EngineMessage;
    expect(last.type, JSON.stringify(last)).toBe('exportDone');
    expect(listFiles(dir).filter((f) => f !== 'export.json')).toEqual(['photo/cam.layercam.layer3.npy', 'photo/cam.layercam.layer3.overlay.png', 'photo/grid.png']);
    // layer3 of the CIFAR-stem fixture network at its 32 px input: 8 x 8 (stride 4).
    const npy = readFileSync(join(dir, 'photo/cam.layercam.layer3.npy'));
    expect(npy.subarray(10, 10 + npy.readUInt16LE(8)).toString('latin1')).toContain("'shape': (8, 8)");
    const overlay = await sharp(join(dir, 'photo/cam.layercam.layer3.overlay.png')).metadata();
    expect([overlay.width, overlay.height]).toEqual([48, 64]);
    const bad = await core.request({
      type: 'export', image: { kind: 'bytes', name: 'p.jpg', bytes: photoBytes.buffer.slice(photoBytes.byteOffset, photoBytes.byteOffset + photoBytes.byteLength) },
      kinds: ['cam'], settings: { colormap: 'viridis', opacity: 0.5, normalise: 'minmax', interpolation: 'bilinear', cam: { method: 'magic' } },
      destination: { kind: 'dir', path: dir },
    });
    expect(bad.at(-1)).toMatchObject({ type: 'error', code: 'bad-request' });
  });
});

describe('taps that are not one map over the image', () => {
  // DANet's [C, C] channel affinity, EMANet's K bases, an STN's theta and sampling grid: written
  // as the arrays they are, with heatmaps and the grid only for the [H, W] maps beside them.
  it.each([
    ['danet', 'cam3.matrix', [32, 32]], ['ema', 'ema3.maps', [8, 8, 8]], ['stn', 'stn1.grid', [32, 32, 2]], ['stn', 'stn1.affine', [2, 3]],
  ] as const)('%s: %s is written as .npy %j, and the export does not fail', async (fixture, stem, shape) => {
    const dir = mkdtempSync(join(tmp, `${fixture}-`));
    const loaded = await core.request({ type: 'loadModel', source: { kind: 'path', path: join(WEIGHTS, '../..', fixture, 'model.safetensors') } });
    expect(loaded.at(-1)?.type).toBe('modelInfo');
    const msgs = await core.request({
      type: 'export', image: { kind: 'path', path: photo }, kinds: ['heatmap', 'overlay', 'raw', 'grid'],
      settings: { colormap: 'viridis', opacity: 0.5, normalise: 'minmax', interpolation: 'bilinear' }, destination: { kind: 'dir', path: dir },
    });
    expect(msgs.at(-1)?.type, JSON.stringify(msgs.at(-1))).toBe('exportDone');
    const files = listFiles(dir);
    expect(files).toContain(`photo/${stem}.npy`);
    expect(files.filter((f) => f.startsWith(`photo/${stem}.`))).toEqual([`photo/${stem}.npy`]);
    expect(files).toContain('photo/grid.png');
    const npy = readFileSync(join(dir, `photo/${stem}.npy`));
    expect(npy.subarray(10, 10 + npy.readUInt16LE(8)).toString('latin1')).toContain(`'shape': (${shape.join(', ')})`);
    await core.request({ type: 'loadModel', source: { kind: 'path', path: WEIGHTS } });
  });
});
