#!/usr/bin/env node
// `npm run bench`: bundles the TypeScript benchmarks to dist/bench/ (engine code included,
// packages external, as tools/build.mjs does for the engine) and runs each in its own
// process, in order. Each prints its table and writes bench/results/<name>.json.
//
//   node bench/run.mjs [forward pipeline soak export ...] [--quick] [--any bench flags]
// With no names, runs the four issue-8 benches; any other bench/<name>.ts (localisation,
// streaming...) runs when named.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ALL = ['forward', 'pipeline', 'soak', 'export'];
const argv = process.argv.slice(2);
const isBench = (a) => !a.startsWith('--') && /^[A-Za-z]\w*$/.test(a) && existsSync(join(root, 'bench', `${a}.ts`));
// Flag values (`--runs 3`) are never bench names: only words not right after a --flag count.
const words = argv.filter((a, i) => !a.startsWith('--') && !(argv[i - 1] ?? '').startsWith('--'));
const unknown = words.filter((a) => !isBench(a));
if (unknown.length) {
  console.error(`bench: no bench/${unknown[0]}.ts (have: ${ALL.join(', ')} and any other bench/<name>.ts)`);
  process.exit(2);
}
const picked = words;
const pass = argv.filter((a) => !picked.includes(a));
const benches = picked.length ? picked : ALL;

const entries = [...benches, 'soakWorker'].map((b) => join(root, 'bench', `${b}.ts`)).filter((p) => existsSync(p));
await build({
  entryPoints: entries,
  outdir: join(root, 'dist', 'bench'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

let failed = 0;
for (const b of benches) {
  const js = join(root, 'dist', 'bench', `${b}.js`);
  if (!existsSync(js)) {
    console.log(`\n== ${b}: not built (bench/${b}.ts missing)`);
    continue;
  }
  console.log(`\n== ${b}`);
  const r = spawnSync(process.execPath, ['--expose-gc', js, ...pass], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    failed++;
    console.log(`== ${b} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);
