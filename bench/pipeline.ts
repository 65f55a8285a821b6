// Pipeline benchmark: one 12-megapixel JPEG through every stage, timed per stage.
//   in-process: read file, decode (sharp, EXIF, full-size RGB), preprocess (resize +
//     normalise), forward, tap read-back (Session timings)
//   protocol:   the same run sent to the engine in a worker thread as image bytes; the
//     time from postMessage to runDone beyond the engine's own total is delivery (image
//     bytes in, every tap and the prediction out); tap latency is receipt - computedAt.
//
//   node dist/bench/pipeline.js [--model builtin|cbam-resnet18|cbam-resnet50] [--runs 5]

import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, decodeToInput, preprocess } from '../engine/image';
import { Session } from '../engine/session';
import { BenchEngine } from './engineWorker';
import { args, describeMachine, machine, median, ROOT, table, writeResult } from './lib';
import { benchWeights, defaultBenchModel } from './weights';
import { exactArrayBuffer } from '../common/bytes';

async function make12MpJpeg(dir: string): Promise<{ path: string; bytes: Buffer }> {
  // A real photo (scikit-image's chelsea, CC0) upscaled to 4000 x 3000: real JPEG statistics.
  // Sensor-like noise (+-12 levels) so the file has a real photo's entropy (~4-5 MB, not 0.8).
  const { data, info } = await sharp(join(ROOT, 'assets', 'samples', 'chelsea.png')).removeAlpha().resize(4000, 3000, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = Math.max(0, Math.min(255, (data[i] as number) + ((s >>> 24) % 25) - 12));
  }
  const bytes = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
  const path = join(dir, 'photo-12mp.jpg');
  writeFileSync(path, bytes);
  return { path, bytes };
}

async function main(): Promise<void> {
  const a = args();
  const runs = Number(a.get('runs') ?? (a.has('quick') ? 3 : 7));
  const modelName = a.get('model') ?? defaultBenchModel();
  const mach = machine();
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-pipe-'));
  try {
    const { path: imgPath, bytes } = await make12MpJpeg(dir);
    const weights = benchWeights(modelName);
    console.log(`pipeline: ${describeMachine(mach)}; model ${weights.label}; 12 MP JPEG (${(bytes.length / 1e6).toFixed(1)} MB); median of ${runs} after 1 warm-up`);

    // In-process, stage by stage.
    const session = await Session.load({ kind: 'path', path: weights.path });
    const stage: Record<string, number[]> = { read: [], decode: [], preprocess: [], fused: [], forward: [], readback: [] };
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      const file = readFileSync(imgPath);
      const t1 = performance.now();
      // The two-step path (full-size decode, then resize): what runs did before decodeToInput,
      // and what export still does (it needs the full image for overlays).
      const img = await decodeImage(file, 'photo-12mp.jpg');
      const t2 = performance.now();
      const prep = { inputSize: session.info.inputSize, resize: 'stretch' as const, mean: session.info.mean, std: session.info.std };
      await preprocess(img, prep);
      const t3 = performance.now();
      const fused = await decodeToInput(file, 'photo-12mp.jpg', prep);
      const t4 = performance.now();
      const size = fused.pre.transform.inputWidth;
      const r = await session.run({ image: { kind: 'input', name: 'photo-12mp.jpg', input: fused.pre.input, size } });
      if (i === 0) continue;
      stage.read?.push(t1 - t0);
      stage.decode?.push(t2 - t1);
      stage.preprocess?.push(t3 - t2);
      stage.fused?.push(t4 - t3);
      stage.forward?.push(r.timings.forwardMs);
      stage.readback?.push(r.timings.readbackMs);
    }
    const info = session.info;
    session.dispose();

    // Through the protocol, engine in a worker.
    const engine = new BenchEngine();
    await engine.ok({ type: 'loadModel', source: { kind: 'path', path: weights.path } });
    const wall: number[] = [];
    const engineTotal: number[] = [];
    const tapLatency: number[] = [];
    let tapBytes = 0;
    let taps = 0;
    for (let i = 0; i <= runs; i++) {
      const buf = exactArrayBuffer(bytes);
      const t0 = performance.now();
      const { final, events } = await engine.ok({ type: 'run', image: { kind: 'bytes', name: 'photo-12mp.jpg', bytes: buf }, options: {} }, [buf]);
      const t1 = performance.now();
      if (i === 0) continue;
      wall.push(t1 - t0);
      engineTotal.push((final.timings as { totalMs: number }).totalMs);
      const tapEvents = events.filter((e) => e.msg.type === 'tap');
      taps = tapEvents.length;
      tapBytes = tapEvents.reduce((s, e) => s + (e.msg.data as Float32Array).byteLength, 0);
      for (const e of tapEvents) tapLatency.push(e.at - (e.msg.computedAt as number));
    }
    await engine.close();

    const m = (xs: number[] | undefined) => median(xs ?? []);
    const twoStep = m(stage.decode) + m(stage.preprocess);
    const rows: Array<[string, number]> = [
      ['read file', m(stage.read)],
      [`decode + preprocess to ${info.inputSize} (decodeToInput, what runs use)`, m(stage.fused)],
      ['forward', m(stage.forward)],
      [`tap read-back (${taps} taps, ${(tapBytes / 1024).toFixed(0)} KiB)`, m(stage.readback)],
    ];
    const inProcess = rows.reduce((s, [, v]) => s + v, 0);
    const delivery = median(wall.map((w, i) => w - (engineTotal[i] as number)));
    const total = m(wall);
    console.log(table(['stage', 'median ms', '% of protocol run'], [
      ...rows.map(([k, v]) => [k, v, (100 * v) / total]),
      ['protocol delivery (bytes in, taps + prediction out)', delivery, (100 * delivery) / total],
      ['= run through the protocol (worker), wall', total, 100],
    ]));
    console.log(`  before decodeToInput: decode (full 12 MP RGB) ${m(stage.decode).toFixed(1)} ms + preprocess ${m(stage.preprocess).toFixed(1)} ms = ${twoStep.toFixed(1)} ms; `
      + `fused ${m(stage.fused).toFixed(1)} ms (${(twoStep / m(stage.fused)).toFixed(2)}x faster, same run)`);
    console.log(`  tap latency (engine has it -> client has it): median ${median(tapLatency).toFixed(2)} ms, max ${Math.max(...tapLatency).toFixed(2)} ms over ${tapLatency.length} taps`);
    const path = writeResult('pipeline', {
      machine: mach, model: weights.label, inputSize: info.inputSize, imageBytes: bytes.length, imagePixels: 12e6, runs,
      stagesMs: Object.fromEntries(rows), twoStepDecodeMs: m(stage.decode), twoStepPreprocessMs: m(stage.preprocess), fusedMs: m(stage.fused), inProcessSumMs: inProcess, protocolWallMs: total, deliveryMs: delivery,
      tapLatencyMs: { median: median(tapLatency), max: Math.max(...tapLatency) }, taps, tapBytes,
    });
    console.log(`  -> ${path}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
