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

const fw = load('forward');
if (fw) {
  const m = fw.machine;
  out.push(`### Forward pass, batch 1 (${m.cpu}, ${m.cores} cores, Node ${m.node}, load ${f(m.load1)} at start)`, '');
  out.push(head(['model', 'GFLOP', 'PyTorch 1 thread, taps: median / min ms', 'PyTorch plain ms', 'engine wasm: median / min ms', 'engine / PyTorch (median of paired ratios; min/min)', 'wasm floor ms', 'engine cpu ms']));
  for (const x of fw.models) {
    const w = x.wasm ?? {};
    const c = x.cpu ?? {};
    out.push(row([x.model, f(x.gflop, 2), `${f((x.torch.paired ?? x.torch.withTaps).medianMs)} / ${f((x.torch.paired ?? x.torch.withTaps).minMs)}`, f(x.torch.plain.medianMs),
      w.total ? `${f(w.total.medianMs)} / ${f(w.total.minMs)}` : '-', w.total ? `${f(w.ratioVsTorch, 2)}, ${f(w.ratioVsTorchMin, 2)}` : '-',
      w.floorMs ? f(w.floorMs) : '-', c.total ? f(c.total.medianMs) : 'skipped']));
  }
  const peaks = [`PyTorch ${f(fw.torch.peak.gflops)}`, ...fw.engines.map((e) => `${e.backend} ${f(e.peak.gflops)}`)];
  out.push('', `Measured single-thread matmul peak (GFLOP/s): ${peaks.join(', ')}.`, '');
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
const sk = load('soak');
if (sk) {
  const a = sk.samples[0];
  const mid = sk.samples[Math.floor(sk.samples.length / 2)];
  const z = sk.samples[sk.samples.length - 1];
  out.push(`### Soak: ${sk.runs} runs through the protocol (${sk.model} at ${sk.inputSize} px, engine in a worker)`, '');
  out.push(head(['', 'start', `after ${mid.run}`, `after ${z.run}`]));
  out.push(row(['tf numTensors', a.numTensors, mid.numTensors, z.numTensors]));
  out.push(row(['tensor MiB', f(a.tensorMiB), f(mid.tensorMiB), f(z.tensorMiB)]));
  out.push(row(['process RSS MiB', f(a.rssMiB), f(mid.rssMiB), f(z.rssMiB)]));
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
