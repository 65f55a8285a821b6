// Streaming benchmark: how long a tap takes from the moment the engine has its values
// (TapEvent.computedAt) to the moment a client holds it, over the two hosts that carry
// taps across a process/thread boundary: a worker thread (structured clone, buffers
// transferred; Electron's MessagePort is the same kind of hop) and web mode's WebSocket
// (binary frames). Set against the forward time of the same run.
//
//   node dist/bench/streaming.js [--weights FILE --size N] [--runs 7]
// Model: --weights, else the built-in model, else the random-weight CBAM ResNet-18 that
// `npm run bench forward` caches in bench/results/weights/, else the small test fixture.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { WebSocket } from 'ws';
import { workerEntryUrl } from '../engine/host/paths';
import { EngineSupervisor } from '../engine/host/supervisor';
import { startWebServer } from '../engine/host/webServer';
import type { EngineMessage, ModelSource } from '../engine/protocol';
import { Client, type Transport } from '../renderer/client/client';
import { openWebSocket, type WebSocketConstructor } from '../renderer/client/websocket';
import { args, describeMachine, machine, median, ROOT, table, writeResult } from './lib';
import { findBuiltinModel } from './models';
import { exactArrayBuffer } from '../common/bytes';

const now = () => performance.timeOrigin + performance.now();

interface Row { transport: string; runs: number; taps: number; tapMedianMs: number; tapP95Ms: number; tapMaxMs: number; forwardMs: number; deliveryMs: number; kib: number }

async function measure(label: string, client: Client, source: ModelSource, image: ArrayBuffer, size: number, runs: number): Promise<Row> {
  await client.loadModel(source);
  const lat: number[] = [];
  const forward: number[] = [];
  const delivery: number[] = [];
  let taps = 0;
  let bytes = 0;
  for (let i = 0; i < runs + 1; i++) {
    const runLat: number[] = [];
    let runBytes = 0;
    const t0 = now();
    const done = await client.run({ kind: 'bytes', name: 'bench.jpg', bytes: image }, { inputSize: size }, {
      onTap: (e) => { runLat.push(now() - (e.computedAt ?? Number.NaN)); runBytes += e.data.byteLength; },
    });
    const t1 = now();
    if (i === 0) continue; // warm-up
    lat.push(...runLat);
    forward.push(done.timings.forwardMs);
    delivery.push(t1 - t0 - done.timings.totalMs);
    taps = done.tapCount ?? runLat.length;
    bytes = runBytes;
  }
  const s = [...lat].sort((a, b) => a - b);
  return {
    transport: label, runs, taps,
    tapMedianMs: median(lat), tapP95Ms: s[Math.floor(0.95 * (s.length - 1))] ?? Number.NaN, tapMaxMs: s.at(-1) ?? Number.NaN,
    forwardMs: median(forward), deliveryMs: median(delivery), kib: bytes / 1024,
  };
}

function bytesOf(path: string): ModelSource {
  const buf = readFileSync(path);
  return { kind: 'bytes', name: path.split('/').at(-1)!, bytes: exactArrayBuffer(buf) };
}

/** The built-in model goes by name, so the engine reads its manifest (strides, classes) as the app does. */
function pickModel(weights?: string, size?: string): { source: ModelSource; size: number; label: string } {
  if (weights) return { source: bytesOf(weights), size: Number(size ?? 224), label: weights.split('/').at(-1)! };
  const builtin = findBuiltinModel();
  if (builtin) {
    const name = builtin.name.replace(/^builtin:/, '');
    return { source: { kind: 'builtin', name }, size: builtin.size, label: `built-in ${name}` };
  }
  const r18 = join(ROOT, 'bench', 'results', 'weights', 'cbam-resnet18.safetensors');
  if (existsSync(r18)) return { source: bytesOf(r18), size: 224, label: 'cbam-resnet18 (random weights)' };
  return { source: bytesOf(join(ROOT, 'test', 'fixtures', 'cbam-official-basic', 'model.safetensors')), size: 32, label: 'fixture cbam-official-basic' };
}

function supervisorTransport(sup: EngineSupervisor): Transport {
  const t: Transport = {
    kind: 'electron', send: (m, tr) => sup.postMessage(m, tr), onMessage: () => {}, onClose: () => {}, close: () => { void sup.close(); },
  };
  sup.onMessage((m) => t.onMessage(m as EngineMessage));
  return t;
}

async function main(): Promise<void> {
  const a = args();
  const runs = Number(a.get('runs') ?? (a.has('quick') ? 3 : 7));
  const model = pickModel(a.get('weights'), a.get('size'));
  const source = model.source;
  const jpg = await sharp(join(ROOT, 'assets', 'samples', 'chelsea.png')).jpeg({ quality: 90 }).toBuffer().catch(() =>
    sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 120, b: 60 } } }).jpeg().toBuffer());
  const image = exactArrayBuffer(jpg);
  const rows: Row[] = [];

  const sup = new EngineSupervisor({ workerUrl: workerEntryUrl(), workerData: { paths: 'none' } });
  const wc = new Client(supervisorTransport(sup));
  rows.push(await measure('worker thread', wc, source, image, model.size, runs));
  await sup.close();

  const server = await startWebServer({ staticDir: mkdtempSync(join(tmpdir(), 'attnscope-bench-')), workerUrl: workerEntryUrl(), workerData: { sources: ['builtin', 'bytes'], paths: 'none' } });
  const ws = new Client(await openWebSocket(`ws://127.0.0.1:${server.port}/engine?token=${server.token}`, WebSocket as unknown as WebSocketConstructor));
  rows.push(await measure('WebSocket', ws, source, image, model.size, runs));
  ws.close();
  await server.close();

  console.log(`streaming: ${model.label} at ${model.size}px, ${runs} runs after a warm-up; ${describeMachine(machine())}`);
  console.log(table(
    ['transport', 'taps/run', 'KiB/run', 'tap latency median ms', 'p95 ms', 'max ms', 'forward ms', 'latency / forward', 'delivery ms/run'],
    rows.map((r) => [r.transport, r.taps, r.kib, r.tapMedianMs, r.tapP95Ms, r.tapMaxMs, r.forwardMs, `${((100 * r.tapMedianMs) / r.forwardMs).toFixed(1)}%`, r.deliveryMs]),
  ));
  console.log('tap latency = client receipt - TapEvent.computedAt; delivery = (runDone receipt - send) - engine total (image in, every tap and prediction out, hops).');
  console.log(`results: ${writeResult('streaming', { model: model.label, size: model.size, machine: machine(), rows })}`);
}

await main();
