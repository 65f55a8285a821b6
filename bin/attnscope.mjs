#!/usr/bin/env node
// The `attnscope` command: a launcher for the bundled CLI (build it with `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/engine/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('attnscope: the engine is not built (dist/engine/cli.js is missing). Run `npm run build` first.');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
