// `attnscope export` over folders: bad files are reported and the batch goes on; a rerun
// keeps finished files (resume), also after the process was killed mid-batch.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, removeCliBuild, listFiles, mtimeOf, runCli, testImage, WEIGHTS } from './harness';

const tmp = mkdtempSync(join(tmpdir(), 'attnscope-batch-'));
let runner = '';
const ARGS = ['--weights', WEIGHTS, '--modules', 'layer1.*,layer3.0.cbam', '--kinds', 'heatmap,overlay,raw', '--jobs', '1'];

beforeAll(async () => {
  runner = await buildCli();
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeCliBuild();
});

async function photoFolder(dir: string, count: number): Promise<void> {
  mkdirSync(join(dir, 'nested'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const sub = i % 2 ? 'nested/' : '';
    writeFileSync(join(dir, `${sub}img${i}.${i % 3 ? 'jpg' : 'png'}`), await testImage(40 + 4 * i, 30 + 2 * i, i % 3 ? 'jpeg' : 'png'));
  }
}

describe('a folder with a corrupt and an empty file', () => {
  it('exports every good image, reports the two bad ones, and exits 1', async () => {
    const input = join(tmp, 'mixed');
    await photoFolder(input, 3);
    writeFileSync(join(input, 'empty.jpg'), Buffer.alloc(0));
    writeFileSync(join(input, 'nested', 'corrupt.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(100, 7)]));
    writeFileSync(join(input, 'README.txt'), 'not an image');
    const out = join(tmp, 'mixed-out');
    const r = await runCli(runner, ['export', input, ...ARGS, '--jobs', '2', '--out', out]);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/3 of 5 image\(s\) exported .*2 failed, 1 non-image file\(s\) ignored/);
    expect(r.stdout).toMatch(/empty\.jpg: .*(empty|decode)/i);
    expect(r.stdout).toMatch(/nested\/corrupt\.png: .*decode/);
    expect(r.stderr).toMatch(/FAILED empty\.jpg/);
    const files = listFiles(out);
    for (const stem of ['img0', 'nested/img1', 'img2']) {
      expect(files).toContain(`${stem}/layer1.0.cbam.spatial.overlay.png`);
      expect(files).toContain(`${stem}/layer3.0.cbam.channel.csv`);
    }
    expect(files.some((f) => f.startsWith('empty') || f.includes('corrupt/'))).toBe(false);
    expect(files.some((f) => f.includes('.partial'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8')) as { files: Array<{ path: string }>; failed: Array<{ input: string }> };
    expect(manifest.failed.map((f) => f.input)).toEqual(['empty.jpg', 'nested/corrupt.png']);
    expect(manifest.files.map((f) => f.path)).toEqual(files.filter((f) => f !== 'export.json'));
  });
});

describe('resume', () => {
  const input = join(tmp, 'photos');
  const reference = join(tmp, 'reference');

  beforeAll(async () => {
    await photoFolder(input, 6);
    const r = await runCli(runner, ['export', input, ...ARGS, '--out', reference]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  });

  it('keeps existing files (same mtime), writes only missing ones, and --force rewrites all', async () => {
    const out = join(tmp, 'rerun');
    const first = await runCli(runner, ['export', input, ...ARGS, '--out', out]);
    expect(first.code).toBe(0);
    const files = listFiles(out).filter((f) => f !== 'export.json');
    const before = new Map(files.map((f) => [f, mtimeOf(join(out, f))]));
    unlinkSync(join(out, 'img0/layer1.0.cbam.spatial.heatmap.png'));
    rmSync(join(out, 'nested/img3'), { recursive: true });
    await new Promise((r) => setTimeout(r, 20));
    const second = await runCli(runner, ['export', input, ...ARGS, '--out', out]);
    expect(second.code, second.stderr + second.stdout).toBe(0);
    expect(listFiles(out).filter((f) => f !== 'export.json')).toEqual(files);
    const perImage = files.filter((f) => f.startsWith('img2/')).length;
    expect(second.stdout).toContain(`(${perImage + 1} file(s) written, ${files.length - perImage - 1} kept)`);
    for (const f of files) {
      const rewritten = f === 'img0/layer1.0.cbam.spatial.heatmap.png' || f.startsWith('nested/img3/');
      expect(mtimeOf(join(out, f)) === before.get(f), f).toBe(!rewritten);
      expect(readFileSync(join(out, f)).equals(readFileSync(join(reference, f))), f).toBe(true);
    }
    const forced = await runCli(runner, ['export', input, ...ARGS, '--out', out, '--force']);
    expect(forced.stdout).toContain(`(${files.length} file(s) written, 0 kept)`);
  });

  it('an interrupted batch resumes without redoing finished files and ends byte-identical', async () => {
    const out = join(tmp, 'killed');
    let killed = false;
    const r = await runCli(runner, ['export', input, ...ARGS, '--out', out], {
      onSpawn(kill) {
        const poll = setInterval(() => {
          // Kill once the first image's folder has some files: mid-batch.
          try {
            if (statSync(join(out, 'img0')).isDirectory()) { clearInterval(poll); killed = true; kill(); }
          } catch { /* not yet */ }
        }, 5);
      },
    });
    expect(killed).toBe(true);
    expect(r.code).not.toBe(0);
    const done = listFiles(out).filter((f) => !f.includes('.partial'));
    const all = listFiles(reference).filter((f) => f !== 'export.json');
    expect(done.length).toBeLessThan(all.length);
    const before = new Map(done.map((f) => [f, mtimeOf(join(out, f))]));
    await new Promise((res) => setTimeout(res, 20));
    const resumed = await runCli(runner, ['export', input, ...ARGS, '--out', out]);
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(resumed.stdout).toContain(`${all.length - done.length} file(s) written, ${done.length} kept`);
    for (const [f, m] of before) expect(mtimeOf(join(out, f)), f).toBe(m);
    const after = listFiles(out).filter((f) => f !== 'export.json');
    expect(after).toEqual(all); // no temp files left behind either
    for (const f of all) expect(readFileSync(join(out, f)).equals(readFileSync(join(reference, f))), f).toBe(true);
  });
});
