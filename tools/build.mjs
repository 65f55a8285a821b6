#!/usr/bin/env node
// Builds the three Node-side bundles (engine, main, preload) with esbuild and the
// renderer with Vite. Packages stay external: tfjs and sharp carry native/wasm files
// that must be loaded from node_modules, not inlined.
import { build } from 'esbuild';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const only = process.argv.slice(2);
const want = (part) => only.length === 0 || only.includes(part);

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};

async function buildEngine() {
  const entries = ['engine/cli.ts', 'engine/host/worker.ts', 'engine/host/electron.ts']
    .filter((e) => existsSync(join(root, e)));
  if (entries.length === 0) return;
  await build({
    ...common,
    entryPoints: entries.map((e) => join(root, e)),
    outdir: join(dist, 'engine'),
    outbase: join(root, 'engine'),
    format: 'esm',
    packages: 'external',
    outExtension: { '.js': '.js' },
  });
}

async function buildMain() {
  const targets = [
    ['main/index.ts', 'main/index.cjs'],
    ['main/preload.ts', 'main/preload.cjs'],
  ].filter(([src]) => existsSync(join(root, src)));
  for (const [src, out] of targets) {
    await build({
      ...common,
      entryPoints: [join(root, src)],
      outfile: join(dist, out),
      format: 'cjs',
      external: ['electron'],
      packages: 'external',
    });
  }
}

async function buildRenderer() {
  if (!existsSync(join(root, 'renderer/index.html'))) return;
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
}

mkdirSync(dist, { recursive: true });
if (want('engine')) { rmSync(join(dist, 'engine'), { recursive: true, force: true }); await buildEngine(); }
if (want('main')) { rmSync(join(dist, 'main'), { recursive: true, force: true }); await buildMain(); }
if (want('renderer')) await buildRenderer();
