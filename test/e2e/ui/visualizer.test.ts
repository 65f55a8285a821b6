// The visualizer in Debian Chromium against the real engine in web mode (issue 6).
// Screenshots of each state go to test-results/screenshots/ (kept out of git).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropFiles, launch, root, screenshots, serve, state, waitState, type Served } from './harness';

let served: Served;
let browser: Browser;
let page: Page;
const timings: number[] = [];
/** The runtime the drop -> heatmap timings ran on (the default, ort), and the status bar's first-map figure. */
let timedRuntime: string | null = null;
let firstHeatmapText: string | null = null;
/** Runtime switch -> heatmap painted again, per runtime switched to. */
const switches: Array<{ runtime: string; ms: number; forwardMs: number; maxTapDiff: number }> = [];
/** Uncaught errors and console errors of the page (CSP violations land here too). */
const pageErrors: string[] = [];
const shot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`) });
const sample = (name: string) => ({ name, type: 'image/png', bytes: readFileSync(join(root, 'assets/samples', name)) });

/** Drops files; ms from the drop to the first heatmap painted for the new image (page clock). */
async function dropAndTime(files: Array<{ name: string; type: string; bytes: Buffer }>): Promise<number> {
  const before = await state(page, (s) => s.images.list.length);
  const t0 = await page.evaluate(() => performance.now());
  await dropFiles(page, files);
  // The store stamps openedAt when the image arrives and firstHeatmapMs when the overlay
  // canvas has painted it (both performance.now()).
  const m = await waitState(page, (s, n: number) => (s.images.list.length > n && s.metrics.firstHeatmapMs !== null ? s.metrics : null), 120_000, before);
  expect(await state(page, (s) => s.images.list.length)).toBe(before + files.length);
  return m!.openedAt! + m!.firstHeatmapMs! - t0;
}

interface Alignment {
  /** Nearest: cells checked, cells whose centre pixel is not the cell's own grey level, edges probed, edges wrong. */
  cells: number;
  wrongCells: string[];
  edges: number;
  wrongEdges: string[];
  /** Bilinear: grey at the peak cell centre, the brightest grey between the visible cell centres, and how far (in cells) that brightest pixel is from the nearest cell of (almost) that level. */
  atPeak: number;
  regionMax: number;
  maxOffCells: number;
  boxes: number[];
}

/**
 * Checks the overlay (gray colormap, min-max: grey level = round((v - min) * 255 / (max - min)))
 * against the engine's map of `module`, cell by cell, mapping cells to original image
 * pixels with the engine's ImageTransform formulas (engine/types.ts) written out here,
 * independently of renderer/lib/heatmap.ts. Only cells whose box lies inside the image
 * count (with pad or center-crop some cells cover the letterbox or fall outside).
 */
function measureAlignment(module: string): Promise<Alignment> {
  return page.evaluate(`(() => {
    const s = window.__attnscope.store.getState();
    const map = s.run.taps[${JSON.stringify(module)}].spatial;
    const t = s.run.transform;
    const [h, w] = map.shape;
    let lo = Infinity, hi = -Infinity;
    for (const v of map.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const level = (i) => Math.min(255, Math.max(0, Math.round((map.data[i] - lo) * 255 / (hi - lo))));
    const ox = (ix) => (ix - t.offsetX) / t.scaleX, oy = (iy) => (iy - t.offsetY) / t.scaleY;
    const box = (r, c) => [ox(c * t.inputWidth / w), oy(r * t.inputHeight / h), ox((c + 1) * t.inputWidth / w), oy((r + 1) * t.inputHeight / h)];
    const cv = document.querySelector('[data-testid=overlay]');
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    const sx = t.origWidth / cv.width, sy = t.origHeight / cv.height;
    const m = 1.5; // raster pixels kept clear of edges
    const inImage = (x, y) => x >= m * sx && y >= m * sy && x <= t.origWidth - m * sx && y <= t.origHeight - m * sy;
    const at = (x, y) => { const px = Math.floor(x / sx), py = Math.floor(y / sy); const o = (py * cv.width + px) * 4; return d[o + 3] === 255 ? d[o] : -1; };
    const interior = (r, c) => { const b = box(r, c); return inImage(b[0], b[1]) && inImage(b[2], b[3]); };
    const wrongCells = [], wrongEdges = [];
    let cells = 0, edges = 0;
    let peak = -1, cx0 = Infinity, cy0 = Infinity, cx1 = -Infinity, cy1 = -Infinity;
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
      if (!interior(r, c)) continue;
      const b = box(r, c), i = r * w + c, x = (b[0] + b[2]) / 2, y = (b[1] + b[3]) / 2;
      cx0 = Math.min(cx0, x); cy0 = Math.min(cy0, y); cx1 = Math.max(cx1, x); cy1 = Math.max(cy1, y);
      if (peak < 0 || map.data[i] > map.data[peak]) peak = i;
      cells++;
      if (at(x, y) !== level(i)) wrongCells.push(r + ',' + c + ': ' + at(x, y) + ' != ' + level(i));
      // Right and bottom edges: 1.5 raster px each side must show this cell, then its neighbour.
      for (const [nr, nc, ex, ey, dx, dy] of [[r, c + 1, b[2], y, 1, 0], [r + 1, c, x, b[3], 0, 1]]) {
        if (nr >= h || nc >= w || !interior(nr, nc)) continue;
        edges++;
        const vin = at(ex - dx * m * sx, ey - dy * m * sy), vout = at(ex + dx * m * sx, ey + dy * m * sy);
        if (vin !== level(i) || vout !== level(nr * w + nc)) wrongEdges.push(r + ',' + c + (dx ? ' right' : ' bottom') + ': ' + vin + '|' + vout + ' != ' + level(i) + '|' + level(nr * w + nc));
      }
    }
    // Bilinear: between the interior cell centres the surface peaks at a cell centre.
    let regionMax = -1, mx = 0, my = 0;
    for (let py = 0; py < cv.height; py++) for (let px = 0; px < cv.width; px++) {
      const x = (px + 0.5) * sx, y = (py + 0.5) * sy;
      if (x < cx0 || x > cx1 || y < cy0 || y > cy1) continue;
      const o = (py * cv.width + px) * 4;
      if (d[o + 3] === 255 && d[o] > regionMax) { regionMax = d[o]; mx = x; my = y; }
    }
    let maxOffCells = Infinity;
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
      if (!interior(r, c) || level(r * w + c) < regionMax - 6) continue;
      const b = box(r, c);
      maxOffCells = Math.min(maxOffCells, Math.max(Math.abs(mx - (b[0] + b[2]) / 2) / (b[2] - b[0]), Math.abs(my - (b[1] + b[3]) / 2) / (b[3] - b[1])));
    }
    const pb = box(Math.floor(peak / w), peak % w);
    const img = document.querySelector('[data-testid=image]').getBoundingClientRect();
    const cr = cv.getBoundingClientRect();
    return { cells, wrongCells: wrongCells.slice(0, 5), edges, wrongEdges: wrongEdges.slice(0, 5),
      atPeak: at((pb[0] + pb[2]) / 2, (pb[1] + pb[3]) / 2), regionMax, maxOffCells,
      boxes: [img.left - cr.left, img.top - cr.top, img.width - cr.width, img.height - cr.height] };
  })()`) as Promise<Alignment>;
}

async function runDone(): Promise<void> {
  await waitState(page, (s) => s.run.status === 'done' && s.run.received === s.run.total);
}

/** A hash of the overlay canvas pixels. */
function overlayHash(): Promise<number> {
  return page.evaluate(() => {
    const c = document.querySelector('[data-testid=overlay]') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]!) >>> 0;
    return h;
  });
}

async function focusModule(name: string, tap?: string): Promise<void> {
  await page.click(`.mod[data-module="${name}"] .mod-name`);
  if (tap) await page.click(`.mod[data-module="${name}"] .tapchip:text-is("${tap}")`);
}

beforeAll(async () => {
  served = await serve();
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark', acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  await page.goto(served.url);
  await waitState(page, (s) => s.model.status === 'ready', 120_000);
  await page.waitForSelector('button.sample');
  await shot('01-first-screen');
});

afterAll(async () => {
  await browser?.close();
  await served?.stop();
  if (timings.length) {
    const sorted = [...timings].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`drop -> first heatmap painted (${served?.model}, runtime ${timedRuntime}): first ${timings[0]!.toFixed(0)} ms, median of ${timings.length} ${median.toFixed(0)} ms, all ${timings.map((t) => t.toFixed(0)).join(', ')}; status bar after the first drop: "${firstHeatmapText}"`);
    for (const w of switches) console.log(`runtime switch -> ${w.runtime}: heatmap painted again after ${w.ms.toFixed(0)} ms (model reload + run; forward ${w.forwardMs.toFixed(1)} ms; max tap difference to ort ${w.maxTapDiff.toExponential(2)})`);
    writeFileSync(join(screenshots, '..', 'ui-drop-to-heatmap.json'), JSON.stringify({ model: served?.model, runtime: timedRuntime, firstMs: timings[0], medianMs: median, allMs: timings, firstHeatmapText, runtimeSwitches: switches }, null, 2));
  }
});

describe('AttnScope UI in web mode (real engine)', () => {
  it('drops a real photo and paints its heatmap, with predictions and run time', async () => {
    timings.push(await dropAndTime([sample('chelsea.png')]));
    await runDone();
    // Timed on the default runtime, which the status bar names.
    timedRuntime = await state(page, (s) => s.model.info?.runtime?.runtime ?? null);
    expect(timedRuntime).toBe('ort');
    expect(await page.textContent('[data-testid=runtime]')).toBe('ort');
    firstHeatmapText = await page.textContent('[data-testid=first-heatmap]');
    expect(firstHeatmapText).toMatch(/^first map \d+ ms$/);
    const firstMs = await state(page, (s) => s.metrics.firstHeatmapMs);
    console.log(`[ort] first heatmap: metrics.firstHeatmapMs ${firstMs!.toFixed(1)} ms, status bar "${firstHeatmapText}"`);
    expect(await page.locator('[data-testid=overlay]').count()).toBe(1);
    expect(await page.locator('[data-testid=predictions] li').count()).toBeGreaterThan(0);
    await page.waitForSelector('[data-testid=run-time]');
    const size = await page.textContent('[data-testid=image-size]');
    expect(size).toBe('451×300');
    await shot('02-heatmap');
    // More drops for a steadier drop -> heatmap figure.
    for (const name of ['scene-cat-coffee.png', 'coffee.png', 'scene-car-rocket.png', 'scene-elephant-forest.png']) {
      timings.push(await dropAndTime([sample(name)]));
      await runDone();
    }
    expect(await state(page, (s) => s.images.list.length)).toBe(5);
    expect(await page.locator('[data-testid=filmstrip] .film').count()).toBe(5);
    await page.keyboard.press('ArrowLeft');
    await waitState(page, (s) => s.images.currentId === s.images.list[3]!.id && s.run.status === 'done');
    await page.keyboard.press('ArrowRight');
    await runDone();
  });

  it('switches the runtime to TensorFlow.js and back: the model reloads on it and the heatmap is painted again', async () => {
    const choice = (r: string) => `[data-testid=runtime-choice] button[data-runtime=${r}]`;
    expect(await page.getAttribute(choice('ort'), 'aria-pressed')).toBe('true');
    expect(await page.getAttribute(choice('tfjs'), 'title')).toBe('TensorFlow.js: has gradients (Grad-CAM)');
    const focused = await state(page, (s) => s.modules.focused!);
    const taps = () => state(page, (s) => Object.fromEntries(Object.entries(s.run.taps).flatMap(([m, t]) =>
      Object.entries(t).map(([k, v]) => [`${m}.${k}`, Array.from((v as { data: Float32Array }).data)]))));
    const ortTaps = await taps();
    for (const runtime of ['tfjs', 'ort'] as const) {
      const seq = await state(page, (s) => s.run.seq);
      const t0 = await page.evaluate(() => performance.now());
      await page.click(choice(runtime));
      // Loaded again on that runtime, then the image re-ran on it, every tap in.
      await waitState(page, (s, a: { runtime: string; seq: number }) => s.model.status === 'ready' && s.model.info?.runtime?.runtime === a.runtime
        && s.run.seq > a.seq && s.run.status === 'done' && s.run.received === s.run.total, 120_000, { runtime, seq });
      await page.waitForSelector('[data-testid=overlay]');
      // The overlay has been painted: some pixels of it are opaque.
      const painted = await page.evaluate(() => new Promise<number>((resolve) => requestAnimationFrame(() => {
        const c = document.querySelector('[data-testid=overlay]') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
        resolve(n);
      })));
      const ms = (await page.evaluate(() => performance.now())) - t0;
      expect(painted).toBeGreaterThan(0);
      expect(await page.textContent('[data-testid=runtime]')).toBe(runtime);
      expect(await page.getAttribute(choice(runtime), 'aria-pressed')).toBe('true');
      expect(await state(page, (s) => s.settings.runtime)).toBe(runtime);
      // The same model: what the user focused stays focused.
      expect(await state(page, (s) => s.modules.focused)).toEqual(focused);
      // Both runtimes run the same graph and agree (DESIGN.md: with PyTorch to 1e-4).
      const now = await taps();
      let maxTapDiff = 0;
      expect(Object.keys(now).sort()).toEqual(Object.keys(ortTaps).sort());
      for (const [k, v] of Object.entries(now)) {
        const ref = ortTaps[k]!;
        expect(v.length, k).toBe(ref.length);
        for (let i = 0; i < v.length; i++) maxTapDiff = Math.max(maxTapDiff, Math.abs(v[i]! - ref[i]!));
      }
      expect(maxTapDiff).toBeLessThan(1e-3);
      const forwardMs = await state(page, (s) => s.run.timings!.forwardMs);
      switches.push({ runtime, ms, forwardMs, maxTapDiff });
      if (runtime === 'tfjs') {
        const backend = await page.textContent('[data-testid=backend]');
        expect(['wasm', 'cpu', 'tensorflow', 'webgpu']).toContain(backend);
        expect(await page.getAttribute('[data-testid=runtime-item]', 'title')).toMatch(/TensorFlow\.js/);
        await page.hover('[data-testid=stage]');
        await shot('17-runtime-tfjs');
      }
    }
    expect(await page.textContent('[data-testid=backend]')).toBe('cpu');
  });

  it('toggles a module overlay off and on', async () => {
    const module = await state(page, (s) => s.modules.focused!.module);
    await page.click(`[aria-label="Hide ${module} overlay"]`);
    expect(await page.locator('[data-testid=overlay]').count()).toBe(0);
    await shot('03-module-hidden');
    await page.click(`[aria-label="Show ${module} overlay"]`);
    await page.waitForSelector('[data-testid=overlay]');
    expect(await state(page, (s) => s.modules.hidden.length)).toBe(0);
  });

  it('bypasses a module: the network re-runs without it and the top-5 changes', async () => {
    const before = await state(page, (s) => s.run.predictions.map((p) => [p.index, p.probability]));
    const target = await state(page, (s) => s.model.info!.modules.filter((m) => m.kind !== 'nonlocal').at(-1)!.name);
    await page.click(`[aria-label="Bypass ${target}"]`);
    await waitState(page, (s) => s.run.bypass.length === 1 && s.run.status === 'done');
    const after = await state(page, (s) => s.run.predictions.map((p) => [p.index, p.probability]));
    expect(after).not.toEqual(before);
    const maxChange = Math.max(...after.map(([i, p]) => Math.abs(p! - (before.find(([j]) => j === i)?.[1] ?? 0))));
    expect(maxChange).toBeGreaterThan(1e-4);
    await page.waitForSelector('[data-testid=bypass-bar]');
    expect(await page.locator('.pred .delta').count()).toBeGreaterThan(0);
    await shot('04-bypass');
    await page.click('text=Restore all');
    await waitState(page, (s) => s.run.bypass.length === 0 && s.run.status === 'done');
    const restored = await state(page, (s) => s.run.predictions.map((p) => [p.index, p.probability]));
    expect(restored.map(([i]) => i)).toEqual(before.map(([i]) => i));
  });

  it('clicking a channel bar shows that channel on the image', async () => {
    const cbam = await state(page, (s) => s.model.info!.modules.find((m) => m.taps.includes('channel'))!.name);
    await focusModule(cbam);
    await page.waitForTimeout(100);
    const before = await overlayHash();
    const chart = page.locator('[data-testid=channel-chart]');
    const box = (await chart.boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.05, box.y + box.height * 0.5);
    const pick = await waitState(page, (s) => s.analysis.channel && s.analysis.channel.status !== 'pending' ? s.analysis.channel : null);
    const weights = await state(page, (s) => { const f = s.modules.focused!; return Array.from(s.run.taps[f.module]!.channel!.data); });
    // The first bar is the strongest channel.
    expect(weights[pick!.channel]).toBe(Math.max(...weights));
    // The engine answered: the channel's own map, no fallback to the activation tap.
    expect(pick!.status).toBe('done');
    const caption = await page.textContent('[data-testid=caption]');
    expect(caption).toContain(`channel ${pick!.channel} activation`);
    expect(caption).not.toContain('not available');
    expect(await page.textContent('[data-testid=channel-note]')).toContain(`Showing channel ${pick!.channel}'s activation`);
    expect(await page.locator('[data-testid=overlay]').count()).toBe(1);
    // The map shown is the engine's channelMap reply for that channel (asked again here
    // through the page's client), on the module's grid, and not the activation tap.
    const check = (await page.evaluate(`(async () => {
      const s = window.__attnscope.store.getState();
      const m = s.model.info.modules.find((x) => x.name === ${JSON.stringify(cbam)});
      const c = s.analysis.channel;
      const ask = (channel) => s.engine.client.request({ type: 'channelMap', runId: s.run.runId, module: m.name, channel });
      const reply = await ask(c.channel);
      const shown = Array.from(c.map.data);
      const act = s.run.taps[m.name].activation, gate = s.run.taps[m.name].channel.data;
      // The activation tap is mean_c(gate_c * map_c): rebuilt from every channel's map.
      const sum = new Float64Array(act.data.length);
      for (let k = 0; k < m.channels; k++) {
        const r = await ask(k);
        for (let i = 0; i < sum.length; i++) sum[i] += gate[k] * r.data[i] / m.channels;
      }
      let rebuilt = 0, fromAct = 0;
      for (let i = 0; i < sum.length; i++) {
        rebuilt = Math.max(rebuilt, Math.abs(sum[i] - act.data[i]));
        fromAct = Math.max(fromAct, Math.abs(shown[i] - act.data[i]));
      }
      return { type: reply.type, channel: reply.channel, shape: reply.shape, mapSize: m.mapSize, shownShape: c.map.shape,
        same: shown.length === reply.data.length && shown.every((v, i) => v === reply.data[i]), rebuilt, fromAct };
    })()`)) as { type: string; channel: number; shape: number[]; mapSize: number[]; shownShape: number[]; same: boolean; rebuilt: number; fromAct: number };
    expect(check).toMatchObject({ type: 'channelMapResult', channel: pick!.channel, same: true });
    expect(check.shape).toEqual(check.mapSize);
    expect(check.shownShape).toEqual(check.mapSize);
    expect(check.rebuilt).toBeLessThan(1e-4);
    expect(check.fromAct).toBeGreaterThan(1e-3);
    // And the overlay repainted with it.
    await page.waitForTimeout(100);
    expect(await overlayHash()).not.toBe(before);
    await page.hover('[data-testid=stage]');
    await shot('05-channel');
    await page.keyboard.press('Escape');
  });

  it('non-local: clicking a point queries its attention row and marks the point', async () => {
    const nl = await state(page, (s) => s.model.info!.modules.find((m) => m.kind === 'nonlocal')?.name ?? null);
    expect(nl).not.toBeNull();
    await focusModule(nl!, 'attention');
    const box = (await page.locator('[data-testid=stage]').boundingBox())!;
    const img = await state(page, (s) => s.run.transform!);
    await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.6);
    const q = await waitState(page, (s) => (s.analysis.query?.status === 'done' ? s.analysis.query : null));
    expect(q!.module).toBe(nl);
    expect(Math.abs(q!.point.x - 0.3 * img.origWidth)).toBeLessThan(1.5);
    expect(Math.abs(q!.point.y - 0.6 * img.origHeight)).toBeLessThan(1.5);
    expect(q!.map!.shape.length).toBe(2);
    await page.waitForSelector('[data-testid=query-marker]');
    expect(await page.textContent('[data-testid=caption]')).toContain('attention from');
    await shot('06-nonlocal-query');
    await page.keyboard.press('Escape');
    expect(await page.textContent('[data-testid=caption]')).toContain('mean over queries');
  });

  it('switches colormap (picker and C) and the overlay repaints with it', async () => {
    const pixels = () => page.evaluate(() => {
      const c = document.querySelector('[data-testid=overlay]') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]!) >>> 0;
      return h;
    });
    const a = await pixels();
    await page.selectOption('select[aria-label=Colormap]', 'turbo');
    await waitState(page, (s) => s.settings.colormap === 'turbo');
    await page.waitForTimeout(100);
    const b = await pixels();
    expect(b).not.toBe(a);
    await shot('07-colormap-turbo');
    await page.keyboard.press('c');
    expect(await state(page, (s) => s.settings.colormap)).not.toBe('turbo');
    await page.keyboard.press('g');
    await page.waitForSelector('[data-testid=grid] .thumb canvas');
    await shot('08-grid');
    await page.keyboard.press('g');
    await page.selectOption('select[aria-label=Colormap]', 'viridis');
  });

  it('the overlay peak lies where the engine map peaks, on a non-square EXIF-rotated photo, in every resize mode', async () => {
    // Displayed 420x260; stored rotated 90° counter-clockwise with EXIF orientation 6.
    const upright = await sharp(join(root, 'assets/samples/chelsea.png')).extract({ left: 10, top: 20, width: 420, height: 260 }).toBuffer();
    const rotated = await sharp(upright).rotate(-90).jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(rotated).metadata()).width).toBe(260);
    await dropFiles(page, [{ name: 'rotated-exif6.jpg', type: 'image/jpeg', bytes: rotated }]);
    await waitState(page, (s) => s.run.image?.name === 'rotated-exif6.jpg' && s.run.status === 'done');
    expect(await state(page, (s) => [s.run.image!.width, s.run.image!.height])).toEqual([420, 260]);
    // The browser applies EXIF orientation as the engine does.
    expect(await page.evaluate(() => { const i = document.querySelector('[data-testid=image]') as HTMLImageElement; return [i.naturalWidth, i.naturalHeight]; })).toEqual([420, 260]);

    await page.selectOption('select[aria-label=Colormap]', 'gray');
    await page.click('[aria-label=Normalisation] button:text-is("Min–max")');
    const spatial = await state(page, (s) => s.model.info!.modules.filter((m) => m.taps.includes('spatial')).map((m) => m.name));
    for (const mode of ['stretch', 'pad', 'center-crop'] as const) {
      await page.click(`[aria-label="Resize mode"] button:text-is("${{ stretch: 'Stretch', pad: 'Pad', 'center-crop': 'Crop' }[mode]}")`);
      await waitState(page, (s) => s.run.transform?.resize === s.settings.resize && s.run.status === 'done');
      for (const module of [spatial[0]!, spatial.at(-1)!]) {
        await focusModule(module, 'spatial');
        for (const interp of ['Smooth', 'Cells'] as const) {
          await page.click(`[aria-label=Interpolation] button:text-is("${interp}")`);
          await page.waitForTimeout(120);
          const r = await measureAlignment(module);
          const label = `${mode} ${module} ${interp}`;
          expect(r.cells, `${label}: cells inside the image`).toBeGreaterThan(0);
          if (interp === 'Cells') {
            // Nearest: every visible cell shows its own value at its centre, and its edges
            // (1.5 raster px either side) fall where the transform puts them.
            expect(r.wrongCells, label).toEqual([]);
            expect(r.wrongEdges, label).toEqual([]);
          } else {
            // Bilinear: the overlay peaks at the engine's peak cell centre (up to the half
            // raster pixel between that centre and the nearest pixel centre).
            expect(Math.abs(r.atPeak - r.regionMax), label).toBeLessThanOrEqual(6);
            expect(r.maxOffCells, label).toBeLessThanOrEqual(0.1);
          }
          // And the overlay covers the image exactly on screen.
          for (const v of r.boxes) expect(Math.abs(v), `${label} screen box`).toBeLessThan(0.5);
        }
      }
      await shot(`09-align-${mode}`);
    }
    await page.click('[aria-label="Resize mode"] button:text-is("Stretch")');
    await page.click('[aria-label=Interpolation] button:text-is("Smooth")');
    await page.selectOption('select[aria-label=Colormap]', 'viridis');
    await runDone();
  });

  it('tiles: a large photo runs in tiles at its own resolution, the stitched map is aligned on it', async () => {
    // A large photo: the sample cat at 3x (1353 x 900).
    const big = await sharp(join(root, 'assets/samples/chelsea.png')).resize(1353, 900, { kernel: 'lanczos3' }).jpeg({ quality: 92 }).toBuffer();
    await dropFiles(page, [{ name: 'chelsea-large.jpg', type: 'image/jpeg', bytes: big }]);
    await waitState(page, (s) => s.run.image?.name === 'chelsea-large.jpg' && s.run.status === 'done');
    await page.click('[data-testid=tile-512]');
    await waitState(page, (s) => s.run.transform?.tiles !== undefined && s.run.status === 'done' && s.run.received === s.run.total, 120_000);
    const run = await state(page, (s) => ({ t: s.run.transform!, tiles: s.run.tiles, shape: s.run.taps['layer1.0.cbam']!.spatial!.shape }));
    // Output stride 16: tile 512, default overlap 128, steps of 384: 4 x 3 tiles, padded to 1664 x 1280.
    expect(run.t.tiles).toEqual({ size: 512, overlap: 128, columns: 4, rows: 3 });
    expect(run.tiles).toEqual({ done: 12, total: 12 });
    expect([run.t.origWidth, run.t.origHeight, run.t.inputWidth, run.t.inputHeight, run.t.scaleX]).toEqual([1353, 900, 1664, 1280, 1]);
    expect(run.shape).toEqual([1280 / 4, 1664 / 4]); // layer1's map, 4 px a cell, over the whole padded image
    expect(await page.locator('[data-testid=input-note]').textContent()).toMatch(/1353×900 in 4×3 tiles of 512 px \(overlap 128 px\)/);
    await page.selectOption('select[aria-label=Colormap]', 'gray');
    await page.click('[aria-label=Normalisation] button:text-is("Min–max")');
    const spatial = await state(page, (s) => s.model.info!.modules.filter((m) => m.taps.includes('spatial')).map((m) => m.name));
    for (const module of [spatial[0]!, spatial.at(-1)!]) {
      await focusModule(module, 'spatial');
      await page.click('[aria-label=Interpolation] button:text-is("Cells")');
      await page.waitForTimeout(150);
      const r = await measureAlignment(module);
      expect(r.cells, `${module}: cells inside the image`).toBeGreaterThan(0);
      expect(r.wrongCells, module).toEqual([]);
      expect(r.wrongEdges, module).toEqual([]);
      for (const v of r.boxes) expect(Math.abs(v), `${module} screen box`).toBeLessThan(0.5);
    }
    await page.click('[aria-label=Interpolation] button:text-is("Smooth")');
    await page.selectOption('select[aria-label=Colormap]', 'viridis');
    await focusModule(spatial.at(-1)!, 'spatial');
    await page.waitForTimeout(150);
    await shot('09-tiles-large-photo');
    // T cycles the tile size (512 -> 1024); "No tiles" goes back to the model's input.
    await page.keyboard.press('t');
    expect(await state(page, (s) => s.settings.tile)).toBe(1024);
    await page.click('[data-testid=tile-0]');
    await waitState(page, (s) => s.run.transform?.tiles === undefined && s.run.status === 'done');
  });

  it('compare: attention beside class evidence (Grad-CAM family), their difference and agreement; a clicked prediction changes the class', async () => {
    await dropFiles(page, [sample('scene-cat-coffee.png')]);
    await waitState(page, (s) => s.run.image?.name === 'scene-cat-coffee.png' && s.run.status === 'done');
    await focusModule('layer3.0.cbam', 'spatial');
    await page.keyboard.press('x');
    await waitState(page, (s) => s.settings.layout === 'compare' && s.analysis.cam?.status === 'done', 120_000);
    const first = await state(page, (s) => ({ cam: { ...s.analysis.cam!, map: { shape: s.analysis.cam!.map!.shape } }, top: s.run.predictions[0]!.index }));
    expect(first.cam).toMatchObject({ method: 'gradcam', stage: 4, classIndex: first.top, map: { shape: [8, 8] } });
    await page.waitForSelector('[data-testid=compare-cam-canvas]');
    await page.waitForSelector('[data-testid=compare-diff-canvas]');
    const figures = await page.locator('[data-testid=agreement]').textContent();
    expect(figures).toMatch(/Pearson-?\d\.\d\d.*Spearman-?\d\.\d\d.*IoU top 20%\d\.\d\d.*(hit|miss).*(hit|miss)/);
    // The figures are the ones common/agreement.ts gives for these two maps (checked here independently: Pearson).
    const maps = await state(page, (s) => ({
      a: { shape: s.run.taps['layer3.0.cbam']!.spatial!.shape, data: Array.from(s.run.taps['layer3.0.cbam']!.spatial!.data) },
      b: { shape: s.analysis.cam!.map!.shape, data: Array.from(s.analysis.cam!.map!.data) },
    }));
    // b (8x8) onto a's 16x16 grid, bilinear with half-pixel centres, then Pearson.
    const [h, w] = maps.a.shape as [number, number];
    const [bh, bw] = maps.b.shape as [number, number];
    const d = maps.b.data;
    const up = Array.from({ length: h * w }, (_, i) => {
      const y = Math.floor(i / w), x = i % w;
      const sy = Math.max(0, (y + 0.5) * bh / h - 0.5), sx = Math.max(0, (x + 0.5) * bw / w - 0.5);
      const y0 = Math.min(Math.floor(sy), bh - 1), x0 = Math.min(Math.floor(sx), bw - 1), y1 = Math.min(y0 + 1, bh - 1), x1 = Math.min(x0 + 1, bw - 1);
      const ty = sy - y0, tx = sx - x0;
      return (d[y0 * bw + x0]! * (1 - tx) + d[y0 * bw + x1]! * tx) * (1 - ty) + (d[y1 * bw + x0]! * (1 - tx) + d[y1 * bw + x1]! * tx) * ty;
    });
    const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
    const [ma, mb] = [mean(maps.a.data), mean(up)];
    const cov = maps.a.data.reduce((acc, v, i) => acc + (v - ma) * (up[i]! - mb), 0);
    const va = maps.a.data.reduce((acc, v) => acc + (v - ma) ** 2, 0);
    const vb = up.reduce((acc, v) => acc + (v - mb) ** 2, 0);
    const pearson = cov / Math.sqrt(va * vb);
    expect(figures).toContain(`Pearson${pearson.toFixed(2)}`);
    await shot('17-compare-gradcam');
    // Another method and stage; then another class by clicking its prediction.
    await page.selectOption('select[aria-label="Class evidence method"]', 'scorecam');
    await page.click('[aria-label="Class evidence stage"] button:text-is("layer3")');
    await waitState(page, (s) => s.analysis.cam?.method === 'scorecam' && s.analysis.cam.stage === 3 && s.analysis.cam.status === 'done', 120_000);
    expect(await state(page, (s) => s.analysis.cam!.map!.shape)).toEqual([16, 16]);
    const second = await state(page, (s) => s.run.predictions[1]!);
    await page.click(`[data-testid=predictions] li[data-class="${second.index}"]`);
    await waitState(page, (s, c: number) => s.analysis.cam?.classIndex === c && s.analysis.cam.status === 'done', 120_000, second.index);
    expect(await page.locator('[data-testid=cam-class]').textContent()).toBe(second.label);
    await shot('18-compare-scorecam-second-class');
    await page.selectOption('select[aria-label="Class evidence method"]', 'gradcam');
    await page.click('[aria-label="Class evidence stage"] button:text-is("layer4")');
    await page.click('[data-testid=cam-class] ~ button:text-is("top class")');
    // The grid: a class-evidence cell closes each stage's row.
    await page.keyboard.press('g');
    await waitState(page, (s) => [1, 2, 3, 4].every((k) => s.analysis.stageCams[k]?.status === 'done'), 120_000);
    const shapes = await state(page, (s) => [1, 2, 3, 4].map((k) => s.analysis.stageCams[k]!.map!.shape));
    expect(shapes).toEqual([[32, 32], [16, 16], [16, 16], [8, 8]]);
    for (const k of [1, 2, 3, 4]) await page.waitForSelector(`[data-testid=stage-cam-${k}] canvas`);
    await shot('19-grid-class-evidence');
    await page.keyboard.press('g');
    expect(await state(page, (s) => s.settings.layout)).toBe('single');
  });

  it('an image the engine cannot decode gets a banner saying so, and can be removed from the filmstrip', async () => {
    const count = await state(page, (s) => s.images.list.length);
    await dropFiles(page, [{ name: 'corrupt.jpg', type: 'image/jpeg', bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8]) }]);
    await waitState(page, (s) => s.run.status === 'error');
    const banner = await page.textContent('.banner.error');
    expect(banner).toContain('corrupt.jpg');
    await shot('15-bad-image');
    await page.hover('.film[aria-current=true]');
    await page.click('.film[aria-current=true] .x');
    await waitState(page, (s, n: number) => s.images.list.length === n && s.run.status === 'done', 60_000, count);
    expect(await page.locator('.banner.error').count()).toBe(0);
  });

  it('a file that is not a checkpoint says so, and the loaded model stays in use', async () => {
    const before = await state(page, (s) => s.model.info!.weightsSha256);
    await dropFiles(page, [{ name: 'broken.pth', type: 'application/octet-stream', bytes: Buffer.from('this is not a checkpoint at all') }]);
    await page.waitForSelector('[data-testid=model-load-error]', { timeout: 60_000 });
    const text = await page.textContent('[data-testid=model-load-error]');
    expect(text!.length).toBeGreaterThan(20);
    await shot('13-model-error');
    expect(await state(page, (s) => [s.model.status, s.model.info!.weightsSha256])).toEqual(['ready', before]);
    await page.click('[data-testid=model-load-error] button:text-is("Dismiss")');
  });

  it('zooms about the cursor and pans, with the overlay still on the image', async () => {
    const box = (await page.locator('[data-testid=viewport]').boundingBox())!;
    const cx = box.x + box.width * 0.4, cy = box.y + box.height * 0.5;
    const probe = () => page.evaluate(([x, y]) => {
      const r = document.querySelector('[data-testid=stage]')!.getBoundingClientRect();
      return { u: (x! - r.left) / r.width, v: (y! - r.top) / r.height, w: r.width };
    }, [cx, cy]);
    const a = await probe();
    await page.mouse.move(cx, cy);
    await page.mouse.wheel(0, -400);
    await page.waitForTimeout(150);
    const b = await probe();
    expect(b.w).toBeGreaterThan(a.w * 1.5);
    // The image point under the cursor stays under the cursor.
    expect(Math.abs(b.u - a.u)).toBeLessThan(0.01);
    expect(Math.abs(b.v - a.v)).toBeLessThan(0.01);
    await page.mouse.down();
    await page.mouse.move(cx - 120, cy - 40, { steps: 4 });
    await page.mouse.up();
    const boxes = await page.evaluate(() => {
      const i = document.querySelector('[data-testid=image]')!.getBoundingClientRect();
      const c = document.querySelector('[data-testid=overlay]')!.getBoundingClientRect();
      return [i.left - c.left, i.top - c.top, i.width - c.width, i.height - c.height];
    });
    for (const v of boxes) expect(Math.abs(v)).toBeLessThan(0.5);
    await page.mouse.move(cx - 60, cy - 20);
    await shot('14-zoomed');
    await page.keyboard.press('f');
    expect(await state(page, (s) => s.ui.zoom)).toBe(1);
  });

  it('light theme, shortcut sheet and export (web mode: a zip download)', async () => {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForTimeout(400); // let the 0.12 s colour transitions finish
    await shot('10-light');
    await page.keyboard.press('?');
    await page.waitForSelector('[data-testid=shortcuts]');
    await shot('11-shortcuts');
    await page.keyboard.press('Escape');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.keyboard.press('e');
    await page.waitForSelector('[data-testid=export-dialog]');
    await shot('12-export');
    const download = page.waitForEvent('download', { timeout: 120_000 });
    await page.click('[data-testid=export-dialog] footer button:text-is("Export")');
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.zip$/);
    await waitState(page, (s) => s.exporting.status === 'done', 120_000);
    expect(await state(page, (s) => s.exporting.result!.files.length)).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
  });

  it('a new window keeps the view settings and opens a sample from the first screen', async () => {
    await page.selectOption('select[aria-label=Colormap]', 'magma');
    await page.click('[aria-label=Normalisation] button:text-is("Stage")');
    // Same browser profile (localStorage), as a relaunched app would have.
    const second = await page.context().newPage();
    await second.goto(served.url);
    await waitState(second, (s) => s.model.status === 'ready', 120_000);
    expect(await state(second, (s) => [s.settings.colormap, s.settings.normalisation])).toEqual(['magma', 'stage']);
    await second.click('button.sample[data-sample="scene-cat-coffee.png"]');
    await waitState(second, (s) => s.run.status === 'done' && s.metrics.firstHeatmapMs !== null);
    expect(await second.locator('[data-testid=overlay]').count()).toBe(1);
    await second.screenshot({ path: join(screenshots, '16-sample-magma-stage.png') });
    await second.close();
    await page.selectOption('select[aria-label=Colormap]', 'viridis');
    await page.click('[aria-label=Normalisation] button:text-is("Min–max")');
  });

  it('hero screenshot (README): a scene sample with its saliency-like CBAM map', async () => {
    await dropFiles(page, [sample('scene-giraffe-boats.png')]);
    await waitState(page, (s) => s.run.image?.name === 'scene-giraffe-boats.png' && s.run.status === 'done');
    const module = await state(page, (s) => s.model.info!.defaultVisible?.[0] ?? s.modules.focused!.module);
    await focusModule(module, 'spatial');
    await page.mouse.move(10, 10);
    await page.waitForTimeout(150);
    await shot('00-hero');
  });

  it('an ONNX model dropped in: its attention is found, shown like built-in modules, and a ViT head map answers a clicked query', async () => {
    const onnxFile = (c: string) => ({ name: `${c}.onnx`, type: 'application/octet-stream', bytes: readFileSync(join(root, 'test/fixtures/onnx', c, 'model.onnx')) });
    await dropFiles(page, [onnxFile('cbam-resnet')]);
    await waitState(page, (s) => s.model.status === 'ready' && s.model.info?.arch === 'onnx' && s.model.info.name === 'cbam-resnet.onnx');
    await waitState(page, (s) => s.run.status === 'done' && Object.keys(s.run.taps).length === 4);
    expect(await page.textContent('.mod[data-module="layer2.0.cbam"] .badge')).toBe('Ch+Sp');
    await focusModule('layer2.0.cbam', 'spatial');
    await page.mouse.move(10, 10);
    await shot('20-onnx-cbam');
    // Preprocessing in the Input panel: a dynamic-size model runs at the size typed.
    expect(await page.getAttribute('[aria-label="Input size"]', 'placeholder')).toBe('224');
    await page.fill('[aria-label="Input size"]', '96');
    await page.press('[aria-label="Input size"]', 'Enter');
    await waitState(page, (s) => s.run.status === 'done' && s.run.transform?.inputWidth === 96);
    const runs = await state(page, (s) => s.run.seq);
    await page.fill('[aria-label="Input std"]', '0.2, 0, 0.2');
    await page.press('[aria-label="Input std"]', 'Enter');
    expect(await page.textContent('[data-testid=preprocess-error]')).toBe('Std values must be positive.');
    expect(await state(page, (s) => [s.run.seq, s.model.preprocess.std])).toEqual([runs, null]);
    await page.fill('[aria-label="Input std"]', '0.2, 0.2, 0.2');
    await page.press('[aria-label="Input std"]', 'Enter');
    await waitState(page, (s, n: number) => s.run.status === 'done' && s.run.seq > n && s.model.preprocess.std?.[0] === 0.2, 60_000, runs);
    expect(await page.locator('[data-testid=preprocess-error]').count()).toBe(0);
    await shot('20b-onnx-preprocess');

    await dropFiles(page, [onnxFile('vit')]);
    await waitState(page, (s) => s.model.status === 'ready' && s.model.info?.name === 'vit.onnx');
    await waitState(page, (s) => s.run.status === 'done' && s.run.taps['blocks.1.attn']?.attention !== undefined);
    expect(await page.textContent('.mod[data-module="blocks.1.attn"] .badge')).toBe('Heads');
    // A fixed-size ONNX input: the size cannot be changed; another model resets the preprocessing.
    expect(await page.isDisabled('[aria-label="Input size"]')).toBe(true);
    expect(await state(page, (s) => s.model.preprocess)).toEqual({ inputSize: null, mean: null, std: null });
    await focusModule('blocks.1.attn', 'attention');
    const box = (await page.locator('[data-testid=stage]').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.7, box.y + box.height * 0.3);
    const q = await waitState(page, (s) => (s.analysis.query?.status === 'done' ? s.analysis.query : null));
    expect(q!.module).toBe('blocks.1.attn');
    expect(q!.map!.shape).toEqual([8, 8]);
    await page.waitForSelector('[data-testid=query-marker]');
    await shot('21-onnx-vit-query');
    await page.keyboard.press('Escape');
    // Attention rollout: a derived map, no bypass switch.
    expect(await page.locator('.mod[data-module="rollout"] [role=switch]').count()).toBe(0);
    await focusModule('rollout', 'spatial');
    await waitState(page, (s) => s.run.taps.rollout?.spatial !== undefined);
    expect(await page.textContent('[data-testid=caption]')).toContain('attention rollout (class token)');
    await page.mouse.move(10, 10);
    await shot('22-onnx-vit-rollout');
  });

  it('raised no page errors and no console errors (CSP included)', () => {
    expect(pageErrors).toEqual([]);
  });
});
