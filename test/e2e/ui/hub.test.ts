// The Models dialog in Debian Chromium against the real engine in web mode (issue 15): a
// loopback hub (test/unit/hub/fakeHub.ts, throttled so progress shows) serves two of the
// tiny random-weight timm fixtures under their catalogue repo ids; the engine downloads
// them into a temporary cache (ATTNSCOPE_HUB_URL, ATTNSCOPE_CACHE), loads them, runs a
// sample photo, and says "offline" once the hub is gone. Screenshots: test-results/screenshots/hub-*.png.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub, type FakeRepo } from '../../unit/hub/fakeHub';
import { dropFiles, launch, openApp, root, screenshots, serve, state, waitState, type Served } from './harness';

let hub: FakeHub;
let cache: string;
let served: Served;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];
const shot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`) });
const sample = (name: string) => ({ name, type: 'image/png', bytes: readFileSync(join(root, 'assets/samples', name)) });
const row = (name: string) => `[data-testid=model-catalogue] tr[data-model="${name}"]`;

/** A timm fixture (config.json with label_names class0..class9, and its weights), sent 8 KB every 40 ms. */
function fixtureRepo(dir: string): FakeRepo {
  const at = join(root, 'test/fixtures/timm', dir);
  return {
    config: JSON.parse(readFileSync(join(at, 'config.json'), 'utf8')) as unknown,
    weights: readFileSync(join(at, 'model.safetensors')),
    throttle: { chunkBytes: 8192, delayMs: 40 },
  };
}

async function openCatalogueFromPicker(): Promise<void> {
  await page.click('[data-testid=model-picker]');
  await page.click('[data-testid=open-catalogue]');
  await page.waitForSelector(row('seresnet50'));
}

async function runDone(): Promise<void> {
  await waitState(page, (s) => s.run.status === 'done' && s.run.received === s.run.total && s.run.total > 0, 120_000);
}

beforeAll(async () => {
  hub = await startFakeHub({
    'timm/seresnet50.a1_in1k': fixtureRepo('seresnet50'),
    'timm/botnet26t_256.c1_in1k': fixtureRepo('botnet26t_256'),
  });
  cache = mkdtempSync(join(tmpdir(), 'attnscope-hub-e2e-'));
  served = await serve({ env: { ATTNSCOPE_HUB_URL: hub.url, ATTNSCOPE_CACHE: cache } });
  browser = await launch();
  ({ page, errors: pageErrors } = await openApp(browser, served));
});

afterAll(async () => {
  await browser?.close();
  await served?.stop();
  await hub?.close();
  if (cache) rmSync(cache, { recursive: true, force: true });
});

describe('ImageNet models from the hub (real engine, web mode)', () => {
  it('lists the twelve catalogue models with their facts and cites timm’s table', async () => {
    await openCatalogueFromPicker();
    const names = await page.$$eval('[data-testid=model-catalogue] tbody tr[data-model]', (rows) => rows.map((r) => r.getAttribute('data-model')));
    expect(names).toHaveLength(12);
    expect(names).toContain('botnet26t_256');
    const se = await page.textContent(row('seresnet50'));
    expect(se).toContain('SE-ResNet');
    expect(se).toContain('28.1 M');
    expect(se).toContain('80.0% @224');
    expect(se).toContain('apache-2.0');
    expect(await page.textContent(row('regnety_002'))).toContain('mit');
    expect(await page.textContent('[data-testid=model-catalogue] .hub-foot')).toContain('ImageNet-1k top-1 from timm’s results table');
    // Focus went into the dialog.
    expect(await page.evaluate(() => !!document.activeElement?.closest('[data-testid=model-catalogue]'))).toBe(true);
    await shot('hub-01-catalogue');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForTimeout(400); // the 0.12 s colour transitions
    await shot('hub-01b-catalogue-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    // Escape closes the dialog; the shortcut sheet lists the key that opens it.
    await page.keyboard.press('Escape');
    await page.keyboard.press('?');
    await page.waitForSelector('[data-testid=shortcuts]');
    expect(await page.textContent('[data-testid=shortcuts]')).toContain('ImageNet models');
    await shot('hub-01c-shortcuts');
    await page.keyboard.press('Escape');
    await openCatalogueFromPicker();
  });

  it('downloads seresnet50 with progress, stops and resumes it, then loads it: SE gates and the config’s class names', async () => {
    await page.click(`${row('seresnet50')} button[aria-label="Download seresnet50"]`);
    const mid = await waitState(page, (s) => {
      const p = s.hub.pulls.seresnet50;
      return p && p.bytes > 0 && p.total > 0 && p.bytes < p.total ? p : null;
    }, 30_000);
    expect(mid!.total).toBe(readFileSync(join(root, 'test/fixtures/timm/seresnet50/model.safetensors')).length);
    expect(await page.textContent(`${row('seresnet50')} [data-testid=hub-progress-text]`)).toMatch(/^[\d.]+ KB of 345\.2 KB · \d+%$/);
    await shot('hub-02-progress');

    await page.click(`${row('seresnet50')} button:text-is("Cancel")`);
    const stopped = await waitState(page, (s) => (s.hub.pulls.seresnet50?.status === 'cancelled' ? s.hub.pulls.seresnet50 : null), 10_000);
    expect(await page.textContent(row('seresnet50'))).toContain('Stopped at');
    await shot('hub-03-stopped');
    await page.click(`${row('seresnet50')} button:text-is("Resume")`);
    // The engine asks the CDN only for the rest.
    await waitState(page, (s) => s.model.status === 'ready' && s.model.info?.name === 'seresnet50', 60_000);
    const ranges = hub.seen.filter((x) => x.server === 'cdn' && x.status === 206).map((x) => Number(/bytes=(\d+)-/.exec(x.range ?? '')?.[1]));
    expect(ranges).toHaveLength(1);
    expect(ranges[0]).toBeGreaterThanOrEqual(stopped!.bytes);
    // The dialog gave way to the picker, which names the model.
    expect(await page.locator('[data-testid=model-catalogue]').count()).toBe(0);
    expect(await page.textContent('[data-testid=model-picker]')).toContain('seresnet50');

    await dropFiles(page, [sample('chelsea.png')]);
    await runDone();
    const info = await state(page, (s) => ({ classes: s.model.info!.classes, modules: s.model.info!.modules.map((m) => m.name) }));
    expect(info.classes).toEqual(Array.from({ length: 10 }, (_, i) => `class${i}`));
    expect(info.modules.slice(0, 3)).toEqual(['layer1.0.se', 'layer1.1.se', 'layer1.2.se']);
    expect(await page.locator('.mod[data-module="layer1.0.se"]').count()).toBe(1);
    expect(await page.locator('.mod[data-module="layer4.2.se"]').count()).toBe(1);
    const labels = await page.$$eval('[data-testid=predictions] li .lbl', (els) => els.map((e) => e.textContent));
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels) expect(l).toMatch(/^class\d$/);
    await page.click('.mod[data-module="layer1.0.se"] .mod-name');
    await page.mouse.move(10, 10);
    await shot('hub-04-seresnet50');
  });

  it('botnet26t_256 from the I key: its self-attention heads answer a clicked query with an attention row', async () => {
    await page.keyboard.press('i');
    await page.waitForSelector(row('botnet26t_256'));
    expect(await page.textContent(row('seresnet50'))).toContain('in use');
    expect(await page.textContent(row('seresnet50'))).toContain('cached');
    await page.click(`${row('botnet26t_256')} button[aria-label="Download botnet26t_256"]`);
    await waitState(page, (s) => s.model.status === 'ready' && s.model.info?.name === 'botnet26t_256', 60_000);
    await runDone();
    const heads = await state(page, (s) => s.model.info!.modules.filter((m) => m.kind === 'heads').map((m) => m.name));
    expect(heads).toEqual(['stages.2.1.self_attn', 'stages.3.0.self_attn', 'stages.3.1.self_attn']);
    const labels = await page.$$eval('[data-testid=predictions] li .lbl', (els) => els.map((e) => e.textContent));
    for (const l of labels) expect(l).toMatch(/^class\d$/);
    await page.click('.mod[data-module="stages.2.1.self_attn"] .mod-name');
    const box = (await page.locator('[data-testid=stage]').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.6);
    const q = await waitState(page, (s) => (s.analysis.query?.status === 'done' ? s.analysis.query : null), 30_000);
    expect(q!.module).toBe('stages.2.1.self_attn');
    expect(q!.map!.shape.length).toBe(2);
    await page.waitForSelector('[data-testid=query-marker]');
    expect(await page.textContent('[data-testid=caption]')).toContain('attention from');
    await shot('hub-05-botnet-query');
    await page.keyboard.press('Escape');
  });

  it('both are in Recent; one click reloads seresnet50 from the cache, without the network', async () => {
    const requests = hub.seen.length;
    await page.click('[data-testid=model-picker]');
    const recent = await page.$$eval('.menu [data-recent=hub]', (els) => els.map((e) => e.textContent));
    expect(recent.some((t) => t?.includes('botnet26t_256'))).toBe(true);
    expect(recent.some((t) => t?.includes('seresnet50'))).toBe(true);
    await shot('hub-06-recent');
    await page.click('.menu [data-recent=hub]:has-text("seresnet50")');
    await waitState(page, (s) => s.model.status === 'ready' && s.model.info?.name === 'seresnet50', 60_000);
    await runDone();
    expect(hub.seen.length).toBe(requests);
  });

  it('with the hub gone, a download says the engine cannot reach it, with the engine’s hint', async () => {
    await hub.close();
    await page.keyboard.press('i');
    await page.waitForSelector(row('ecaresnet26t'));
    await page.click(`${row('ecaresnet26t')} button[aria-label="Download ecaresnet26t"]`);
    await page.waitForSelector('[data-testid=hub-error]', { timeout: 30_000 });
    const text = await page.textContent('[data-testid=hub-error]');
    expect(text).toContain('connection was refused');
    expect(text).toContain('ATTNSCOPE_HUB_URL');
    expect(await state(page, (s) => s.hub.pulls.ecaresnet26t?.error?.code)).toBe('network');
    expect(await page.locator(`${row('ecaresnet26t')} button:text-is("Retry")`).count()).toBe(1);
    // The cached models still open.
    expect(await page.locator(`${row('botnet26t_256')} button:text-is("Open")`).count()).toBe(1);
    await shot('hub-07-offline');
    await page.keyboard.press('Escape');
    expect(await page.locator('[data-testid=model-catalogue]').count()).toBe(0);
    expect(await state(page, (s) => s.model.info?.name)).toBe('seresnet50');
  });

  it('raised no page errors and no console errors (CSP included)', () => {
    expect(pageErrors).toEqual([]);
  });
});
