#!/usr/bin/env node
// Prints the figures of bench/results/*.json as Markdown tables (for bench/RESULTS.md).
//   node bench/report.mjs
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
const load = (n) => (existsSync(join(dir, `${n}.json`)) ? JSON.parse(readFileSync(join(dir, `${n}.json`), 'utf8')) : null);
const f = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');
const row = (cells) => `| ${cells.join(' | ')} |`;
const head = (cells) => `${row(cells)}\n${row(cells.map(() => '---'))}`;
const out = [];

for (const name of ['forward', 'forward-2threads']) {
  const fw = load(name);
  if (!fw) continue;
  const m = fw.machine;
  const engines = fw.engines.map((e) => e.engine);
  out.push(`### Forward pass, batch 1, PyTorch and ort at ${fw.torch.threads} thread(s) (${m.cpu}, ${m.cores} cores, Node ${m.node}, load ${f(m.load1)} at start)`, '');
  out.push(head(['model', 'GFLOP', 'PyTorch, taps: median / min ms', ...engines.flatMap((e) => [`${e}: median / min ms`, `${e} / PyTorch`])]));
  for (const x of fw.models) {
    const t = x.torch.paired ?? x.torch.withTaps;
    out.push(row([x.model, f(x.gflop, 2), `${f(t.medianMs)} / ${f(t.minMs)}`, ...engines.flatMap((e) => {
      const r = x[e] ?? {};
      return r.total ? [`${f(r.total.medianMs)} / ${f(r.total.minMs)}`, `**${f(r.ratioVsTorch, 2)}x**`] : ['skipped', '-'];
    })]));
  }
  const peaks = [`PyTorch ${f(fw.torch.peak.gflops)}`, ...fw.engines.map((e) => `${e.engine} (${e.threads} thr) ${f(e.peak.gflops)}`)];
  out.push('', `Measured matmul peak (GFLOP/s, 1024^2): ${peaks.join(', ')}.`, '');
}
const pl = load('pipeline');
if (pl) {
  out.push(`### Pipeline, ${pl.model}, 12 MP JPEG (${f(pl.imageBytes / 1e6)} MB), median of ${pl.runs}`, '');
  out.push(head(['stage', 'ms']));
  for (const [k, v] of Object.entries(pl.stagesMs)) out.push(row([k, f(v)]));
  out.push(row(['protocol delivery (image in, taps + prediction out, worker)', f(pl.deliveryMs)]));
  out.push(row(['**run through the protocol, wall**', `**${f(pl.protocolWallMs)}**`]));
  out.push('', `Decode + preprocess before/after decodeToInput (same run): ${f(pl.twoStepDecodeMs + pl.twoStepPreprocessMs)} -> ${f(pl.fusedMs)} ms. Tap latency engine -> client: median ${f(pl.tapLatencyMs.median, 2)} ms.`, '');
}
for (const runtime of ['ort', 'tfjs']) {
  const sk = load(`soak-${runtime}`);
  if (!sk) continue;
  const a = sk.samples[0];
  const mid = sk.samples[Math.floor(sk.samples.length / 2)];
  const z = sk.samples[sk.samples.length - 1];
  out.push(`### Soak (${runtime}): ${sk.runs} runs through the protocol (${sk.model} at ${sk.inputSize} px, engine in a worker)`, '');
  out.push(head(['', 'start', `after ${mid.run}`, `after ${z.run}`]));
  out.push(row(['tf numTensors', a.numTensors, mid.numTensors, z.numTensors]));
  out.push(row(['tensor MiB', f(a.tensorMiB), f(mid.tensorMiB), f(z.tensorMiB)]));
  out.push(row(['process RSS MiB', f(a.rssMiB), f(mid.rssMiB), f(z.rssMiB)]));
  out.push(row(['ms / run (median)', '', '', f(sk.medianMsPerRun)]));
  out.push('');
}
const ex = load('export');
if (ex) {
  out.push(`### Batch export: ${ex.images} images, ${ex.kinds}, ${ex.model}`, '');
  out.push(head(['--jobs', 'seconds', 'images/s', 'x --jobs 1']));
  for (const r of ex.rows) out.push(row([r.jobs, f(r.seconds, 2), f(r.imagesPerSecond, 2), f(r.speedup, 2)]));
  out.push('');
}
console.log(out.join('\n'));
