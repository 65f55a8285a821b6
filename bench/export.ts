// Batch export benchmark: `attnscope export` (the real CLI, engines in worker threads) on
// a folder of photos, for --jobs 1..cores. Reports images/second and the speed-up over
// --jobs 1 measured in the same run.
//
//   node dist/bench/export.js [--images 12] [--model builtin|cbam-resnet18] [--kinds heatmap,overlay]

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { args, describeMachine, machine, ROOT, table, writeResult } from './lib';
import { benchWeights, defaultBenchModel } from './weights';

function main(): void {
  const a = args();
  const count = Number(a.get('images') ?? (a.has('quick') ? 6 : 12));
  const kinds = a.get('kinds') ?? 'heatmap,overlay';
  const modelName = a.get('model') ?? defaultBenchModel();
  const weights = benchWeights(modelName);
  const maxJobs = Number(a.get('max-jobs') ?? availableParallelism());
  const mach = machine();
  const cli = join(ROOT, 'dist', 'engine', 'cli.js');
  if (!existsSync(cli)) {
    const b = spawnSync(process.execPath, [join(ROOT, 'tools', 'build.mjs'), 'engine'], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('could not build the engine');
  }
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-export-bench-'));
  try {
    const inDir = join(dir, 'in');
    mkdirSync(inDir);
    const samples = readdirSync(join(ROOT, 'assets', 'samples')).filter((n) => /\.(png|jpe?g)$/i.test(n)).sort();
    for (let i = 0; i < count; i++) {
      const s = samples[i % samples.length] as string;
      copyFileSync(join(ROOT, 'assets', 'samples', s), join(inDir, `${String(i).padStart(3, '0')}-${s}`));
    }
    console.log(`export: ${describeMachine(mach)}; model ${weights.label}; ${count} images (assets/samples), kinds ${kinds}; wall time includes starting the engines`);
    const rows: Array<{ jobs: number; seconds: number; imagesPerSecond: number; speedup: number; files: number }> = [];
    for (let jobs = 1; jobs <= maxJobs; jobs++) {
      const out = join(dir, `out-${jobs}`);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'attnscope.mjs'), 'export', inDir, '--weights', weights.path, '--out', out, '--kinds', kinds, '--jobs', String(jobs), '--force', '--quiet'],
        { encoding: 'utf8', maxBuffer: 1 << 26 });
      const seconds = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`attnscope export --jobs ${jobs} failed (${r.status}): ${r.stderr || r.stdout}`);
      const files = countFiles(out);
      const ips = count / seconds;
      rows.push({ jobs, seconds, imagesPerSecond: ips, speedup: ips / ((rows[0]?.imagesPerSecond) ?? ips), files });
    }
    console.log(table(['--jobs', 'seconds', 'images/s', 'x jobs 1', 'files'], rows.map((r) => [r.jobs, r.seconds, r.imagesPerSecond, r.speedup, r.files])));
    const path = writeResult('export', { machine: mach, model: weights.label, images: count, kinds, rows });
    console.log(`  -> ${path}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function countFiles(d: string): number {
  let n = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(d, e.name)) : 1;
  return n;
}

try {
  main();
} catch (err) {
  console.error(err);
  process.exit(1);
}
