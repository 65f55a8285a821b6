// The CLI's pieces that need no model: input collection and naming, module globs,
// progress output on a terminal and in logs.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { matchModules } from '../../../engine/cli/export';
import { collectInputs } from '../../../engine/cli/exportInputs';
import { formatDuration, Progress } from '../../../engine/cli/exportProgress';
import { insideDir, sanitiseRelative, sanitiseSegment, stemOf } from '../../../engine/exportJob';
import type { ModelInfo } from '../../../engine/types';

const tmp = mkdtempSync(join(tmpdir(), 'attnscope-cli-parts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('names', () => {
  it('sanitises path segments so they cannot climb, hide or break on Windows', () => {
    expect(sanitiseSegment('..')).toBe('_');
    expect(sanitiseSegment('.hidden')).toBe('hidden');
    expect(sanitiseSegment('a/b\\c:d*e?f"g<h>i|j')).toBe('a_b_c_d_e_f_g_h_i_j');
    expect(sanitiseSegment('CON')).toBe('_CON');
    expect(sanitiseSegment('name. ')).toBe('name');
    expect(sanitiseSegment('café ☕')).toBe('café ☕');
    expect(sanitiseRelative('../../x/./y')).toBe('_/_/x/y');
    expect(stemOf('../../x.jpg')).toBe('x');
    expect(stemOf('C:\\photos\\IMG_1.JPG')).toBe('IMG_1');
    expect(stemOf('.jpg')).toBe('jpg');
  });

  it('refuses joins that leave the root', () => {
    expect(insideDir('/out', 'a/b.png')).toBe('/out/a/b.png');
    expect(() => insideDir('/out', '../x.png')).toThrow(/outside the export folder/);
    expect(() => insideDir('/out', 'a/../../x.png')).toThrow(/outside/);
  });
});

describe('collectInputs', () => {
  it('recurses folders in order, keeps relative folders, skips hidden files and --out, separates clashing names', async () => {
    const root = join(tmp, 'in');
    mkdirSync(join(root, 'b', 'deep'), { recursive: true });
    mkdirSync(join(root, '.git'), { recursive: true });
    mkdirSync(join(root, 'out'), { recursive: true });
    for (const f of ['a.jpg', 'a.png', 'A.webp', 'b/deep/c.JPEG', 'notes.txt', '.hidden.jpg', '.git/x.png', 'out/old.png']) writeFileSync(join(root, f), 'x');
    const got = await collectInputs([root, join(root, 'a.jpg'), join(tmp, 'missing.jpg')], join(root, 'out'));
    expect(got.items.map((i) => [i.display, i.folder])).toEqual([
      ['A.webp', 'A'], ['a.jpg', 'a_jpg'], ['a.png', 'a_png'], ['b/deep/c.JPEG', 'b/deep/c'],
    ]);
    expect(got.ignored).toBe(1);
    expect(got.missing).toEqual([{ input: join(tmp, 'missing.jpg'), reason: 'no such file or folder' }]);
  });
});

describe('module globs', () => {
  const info = { modules: ['layer1.0.cbam', 'layer1.1.cbam', 'layer2.0.cbam', 'nl3'].map((name) => ({ name })) } as unknown as ModelInfo;
  it('matches * and ? and lists the modules when nothing matches', () => {
    expect(matchModules(info, 'layer1.*')).toEqual(['layer1.0.cbam', 'layer1.1.cbam']);
    expect(matchModules(info, 'layer?.0.cbam,nl3')).toEqual(['layer1.0.cbam', 'layer2.0.cbam', 'nl3']);
    expect(() => matchModules(info, 'layer9*')).toThrow(/matches no module\. The model has: layer1\.0\.cbam/);
  });
});

describe('progress', () => {
  const sink = (isTTY: boolean) => {
    const out = { text: '', isTTY, columns: 100, write(s: string) { out.text += s; return true; } };
    return out;
  };

  it('prints one plain line per image when not a terminal', () => {
    const out = sink(false);
    const p = new Progress(out, 2, false);
    p.begin('model', 2);
    p.done('a.jpg', 4, 0);
    p.failed('b.jpg', 'not an image');
    p.end();
    const lines = out.text.trim().split('\n');
    expect(lines[0]).toBe('Exporting 2 image(s) with model on 2 engines.');
    expect(lines[1]).toMatch(/^\[1\/2\] ok a\.jpg \(4 written\) [\d.]+ img\/s, ETA /);
    expect(lines[2]).toBe('[2/2] FAILED b.jpg: not an image');
    expect(out.text).not.toContain('\r');
  });

  it('redraws a bar with rate and ETA on a terminal, failures above it', () => {
    const out = sink(true);
    const p = new Progress(out, 4, false);
    p.begin('model', 1);
    p.failed('x.png', 'corrupt');
    p.done('y.png', 1, 0);
    p.end();
    expect(out.text).toContain('\r\x1b[2K[');
    expect(out.text).toMatch(/\] 2\/4, 1 failed {2}[\d.]+ img\/s, ETA \d+:\d\d/);
    expect(out.text).toContain('[1/4] FAILED x.png: corrupt\n');
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('0:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Infinity)).toBe('--:--');
  });
});

describe('usage errors', () => {
  it('exit 2 with a message naming the valid choices, before any model is loaded', async () => {
    const { main } = await import('../../../engine/cli');
    const errors: string[] = [];
    const original = console.error;
    console.error = (...a: unknown[]) => { errors.push(a.join(' ')); };
    try {
      expect(await main(['export', 'x.jpg', '--colormap', 'rainbow'])).toBe(2);
      expect(await main(['export', 'x.jpg', '--kinds', 'heatmap,pdf'])).toBe(2);
      expect(await main(['export', 'x.jpg', '--opacity', '2'])).toBe(2);
      expect(await main(['export', 'x.jpg', '--jobs', '0'])).toBe(2);
      expect(await main(['export'])).toBe(2);
      expect(await main(['export', 'x.jpg', '--bogus'])).toBe(2);
    } finally {
      console.error = original;
    }
    expect(errors[0]).toMatch(/--colormap must be one of viridis, turbo, inferno, magma, jet, gray/);
    expect(errors[1]).toMatch(/--kinds takes heatmap, overlay, grid, raw/);
    expect(errors[2]).toMatch(/--opacity must be a number from 0 to 1/);
    expect(errors[4]).toMatch(/Give at least one image or folder/);
  });
});
