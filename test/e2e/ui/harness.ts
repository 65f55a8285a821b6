// Web mode for the UI e2e suite: the real engine behind the web-mode server, and
// Debian's Chromium through playwright-core. The model is the built-in one when assets/models has
// one, else the CBAM + non-local test fixture (same module layout, random weights).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build as viteBuild } from 'vite';
import { startWebServer } from '../../../engine/host/webServer';
import { buildWorker } from '../../unit/protocol/harness';
import type { AppState } from '../../../renderer/store/types';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const screenshots = join(root, 'test-results/screenshots');

export function builtinModel(): string | null {
  const dir = join(root, 'assets/models');
  if (!existsSync(dir)) return null;
  return readdirSync(dir).find((d) => existsSync(join(dir, d, 'manifest.json'))) ?? null;
}

export const FIXTURE_MODEL = join(root, 'test/fixtures/bypass/model.safetensors');

export interface Served { url: string; model: string; stop(): Promise<void> }

export interface ServeOptions {
  /**
   * Environment of the engine (ATTNSCOPE_HUB_URL, ATTNSCOPE_CACHE ...). The CLI gets it as
   * its own; in-process, it is set on process.env until stop(), which each connection's
   * engine worker copies when it starts (one served instance with env at a time).
   */
  env?: Record<string, string>;
}

/**
 * The real engine in web mode. By default a private build of the page and the worker
 * (other sessions may rebuild dist/ meanwhile) behind engine/host/webServer.ts, which
 * is what `attnscope serve` runs; ATTNSCOPE_E2E_CLI=1 runs the built CLI itself.
 */
export async function serve(options: ServeOptions = {}): Promise<Served> {
  const builtin = builtinModel();
  const model = builtin ?? 'fixture:bypass';
  const env = options.env ?? {};
  if (process.env.ATTNSCOPE_E2E_CLI === '1') return serveCli(builtin, model, env);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const restoreEnv = () => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  };
  const staticDir = join(root, 'dist', 'test-renderer', `ui-${process.pid}`);
  // Vitest sets NODE_ENV=test, which would give React's development build: time the real one.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await viteBuild({ configFile: join(root, 'vite.config.ts'), mode: 'production', logLevel: 'warn', build: { outDir: staticDir, emptyOutDir: true, sourcemap: false } });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  Object.assign(process.env, env);
  const server = await startWebServer({
    staticDir,
    workerUrl: await buildWorker(),
    workerData: {
      sources: ['builtin', 'bytes'], paths: 'none',
      preload: builtin ? { kind: 'builtin', name: builtin } : { kind: 'path', path: FIXTURE_MODEL },
    },
  });
  return {
    url: server.url,
    model,
    stop: async () => {
      await server.close();
      restoreEnv();
      rmSync(staticDir, { recursive: true, force: true });
    },
  };
}

async function serveCli(builtin: string | null, model: string, env: Record<string, string>): Promise<Served> {
  const args = [join(root, 'bin/attnscope.mjs'), 'serve', ...(builtin ? ['--model', builtin] : ['--weights', FIXTURE_MODEL])];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`attnscope serve did not print its URL:\n${log}`)), 60_000);
    const onData = (b: Buffer) => {
      log += b.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`attnscope serve exited (${code}):\n${log}`)); });
  });
  return {
    url,
    model,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }),
  };
}

export async function launch(): Promise<Browser> {
  mkdirSync(screenshots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}

/**
 * A 1440 x 900 dark page on the served app, its page errors and console errors collected in
 * `errors`, once the app has loaded its first model.
 */
export async function openApp(browser: Browser, served: Served): Promise<{ page: Page; errors: string[] }> {
  const errors: string[] = [];
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(served.url);
  await waitState(page, (s) => s.model.status === 'ready', 120_000);
  return { page, errors };
}

/** Drops files on the page the way a file manager does (dragenter, dragover, drop). */
export async function dropFiles(page: Page, files: Array<{ name: string; type: string; bytes: Buffer }>): Promise<void> {
  await page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    const target = document.querySelector('main') ?? document.body;
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }
  }, files.map((f) => ({ name: f.name, type: f.type, b64: f.bytes.toString('base64') })));
}

/** Reads the app store (exposed on window.__attnscope for tests and devtools). `pick` must be self-contained. */
export function state<T>(page: Page, pick: (s: AppState) => T): Promise<T> {
  return page.evaluate(`(${pick.toString()})(window.__attnscope.store.getState())`) as Promise<T>;
}

/**
 * Waits until `pick` is truthy in the app store; `arg` (JSON) is its second argument.
 * Polls with page.evaluate (DevTools evaluation): waitForFunction would eval inside the
 * page, which the app's CSP (no 'unsafe-eval') rightly refuses.
 */
export async function waitState<T, A = undefined>(page: Page, pick: (s: AppState, arg: A) => T, timeout = 60_000, arg?: A): Promise<T> {
  const expr = `(${pick.toString()})(window.__attnscope.store.getState(), ${JSON.stringify(arg ?? null)})`;
  const end = Date.now() + timeout;
  for (;;) {
    const v = (await page.evaluate(expr)) as T;
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${pick.toString()}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}
