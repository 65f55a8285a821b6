#!/usr/bin/env node
// Launches the desktop app. Electron >= 45 fetches its binary on first use rather than
// at `npm install`; fetch it here, and if that is impossible (offline machines) say what
// still works instead of failing with a stack trace.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const electronDir = dirname(require.resolve('electron/package.json'));

function binaryPath() {
  try {
    const p = require('electron');
    return typeof p === 'string' && existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

if (!binaryPath()) {
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD === '1') {
    console.error('attnscope: ELECTRON_SKIP_BINARY_DOWNLOAD=1 and no Electron binary is installed.');
    process.exit(1);
  }
  console.error('attnscope: fetching the Electron binary (first launch only)...');
  const r = spawnSync(process.execPath, [join(electronDir, 'install.js')], { stdio: 'inherit', cwd: electronDir });
  if (r.status !== 0 || !binaryPath()) {
    console.error('attnscope: could not fetch Electron (no internet?). Without it, use the web UI: `npm run serve`, or the CLI: `npx attnscope --help`.');
    process.exit(1);
  }
}
if (process.argv.includes('--install-only')) process.exit(0);

const child = spawn(binaryPath(), [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
