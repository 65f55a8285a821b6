// Localisation of the built-in model, measured through the TypeScript engine (issue 4):
// the held-out scenes go through Session.run exactly as the app runs them (decode,
// stretch to the input size, forward), and every map is mapped back to the scene's
// pixels with the run's ImageTransform before it is scored.
//
//   node dist/bench/localisation.js [--scenes tools/data/scenes] [--model emoji-cbam-nl]
//                                   [--runtime ort|tfjs] [--backend wasm|cpu|tensorflow] [--limit N]
//
// The maps come from the chosen runtime (default ort); Grad-CAM always runs on the tfjs
// runtime's interpreter of the same graph, which has gradients.
//
// Figures: classification accuracy; pointing game (peak inside the target box) for every
// CBAM spatial map, for Grad-CAM on the last stage, for the image centre and for a
// uniformly random point (its expected hit rate is the box's share of the image); for the
// non-local block, the attention mass that a query on the box centre puts inside the box,
// against the box's share of the image. tools/evaluate_torch.py computes the same in PyTorch.

import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients; the union package's does (Grad-CAM needs
// them), and its own ESM gradient files cannot be loaded by Node directly.
import '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isBackendChoice } from '../engine/backend';
import { FEATURES, LOGITS } from '../engine/graph/names';
import { decodeImage, preprocess } from '../engine/image';
import { isRuntimeName } from '../engine/runtimes';
import { createTfjsRunner, type TfjsRunner } from '../engine/runtimes/tfjs';
import { Session } from '../engine/session';
import { args, describeMachine, machine, ROOT, table, writeResult } from './lib';
import { argmax, type Box, boxShare, boxShareGrown, inside, massInBox, peakPoint, TOLERANCE_PX } from './localisationMetrics';

interface Scene { file: string; label: number; cls: string; box: Box; background: string }
interface TestSet { side: number; classes: string[]; scenes: Scene[] }

/**
 * Grad-CAM (Selvaraju et al., ICCV 2017): ReLU(sum_k mean(d y_c / d A_k) * A_k) for class c,
 * on the last stage's features A [1, C, h, w]. The gradient flows through the graph's head
 * as the tfjs interpreter runs it (the `features` output fed back in as an input).
 */
function gradCam(cam: TfjsRunner, input: Float32Array, size: number, cls: number): { data: Float32Array; h: number; w: number } {
  const feeds = cam.feeds({ input: { data: input, dims: [1, 3, size, size], layout: 'nhwc' }, bypass: new Set() });
  const features = cam.interpreter.run(feeds, [FEATURES]).get(FEATURES) as tf.Tensor4D;
  const [, , h, w] = features.shape;
  const map = tf.tidy(() => {
    const score = (a: tf.Tensor): tf.Scalar => {
      const logits = cam.interpreter.run(new Map([[FEATURES, { tensor: a }]]), [LOGITS]).get(LOGITS) as tf.Tensor2D;
      return tf.squeeze(tf.slice(logits, [0, cls], [1, 1])) as tf.Scalar;
    };
    const grads = tf.grad(score)(features);
    const alpha = tf.mean(grads, [2, 3], true);
    return tf.relu(tf.sum(tf.mul(alpha, features), 1));
  });
  const data = map.dataSync() as Float32Array;
  map.dispose();
  features.dispose();
  return { data, h: h as number, w: w as number };
}

async function main(): Promise<void> {
  const a = args();
  const scenesDir = resolve(ROOT, a.get('scenes') ?? 'tools/data/scenes');
  const modelName = a.get('model') ?? 'emoji-cbam-nl';
  const backend = a.get('backend');
  if (backend !== undefined && !isBackendChoice(backend)) throw new Error(`unknown backend ${backend}`);
  const runtime = a.get('runtime') ?? 'ort';
  if (!isRuntimeName(runtime)) throw new Error(`unknown runtime ${runtime}`);
  if (!existsSync(join(scenesDir, 'test.json'))) {
    throw new Error(`no held-out scenes in ${scenesDir}: generate them with\n  /usr/bin/python3 tools/dataset/generate.py --out tools/data/scenes`);
  }
  const test = JSON.parse(readFileSync(join(scenesDir, 'test.json'), 'utf8')) as TestSet;
  const scenes = test.scenes.slice(0, Number(a.get('limit') ?? test.scenes.length));

  const session = await Session.load({ kind: 'builtin', name: modelName }, { runtime, ...(backend && runtime === 'tfjs' ? { backend } : {}) });
  const info = session.info;
  const cbam = info.modules.filter((m) => m.kind === 'cbam').map((m) => m.name);
  const nonLocal = info.modules.filter((m) => m.kind === 'nonlocal').map((m) => m.name);

  // Grad-CAM: the same graph on the tfjs runtime (gradients).
  const cam = await createTfjsRunner(session.graph.model, session.graph.modules.map((m) => m.name), backend);

  const hits = new Map<string, number>([...cbam, 'gradcam', 'centre'].map((k) => [k, 0]));
  const tolHits = new Map<string, number>([...hits.keys()].map((k) => [k, 0]));
  const score = (key: string, p: { x: number; y: number }, box: Box): void => {
    if (inside(p, box)) hits.set(key, (hits.get(key) as number) + 1);
    if (inside(p, box, TOLERANCE_PX)) tolHits.set(key, (tolHits.get(key) as number) + 1);
  };
  let randomExpectedTol = 0;
  let gradcamSeen = 0;
  let correct = 0;
  let randomExpected = 0;
  const nl = new Map<string, { mass: number; share: number }>(nonLocal.map((n) => [n, { mass: 0, share: 0 }]));
  const started = performance.now();
  for (const s of scenes) {
    const path = join(scenesDir, 'test', s.file);
    const r = await session.run({ image: { kind: 'path', path } });
    const t = r.transform;
    if (argmax(r.logits) === s.label) correct++;
    for (const tap of r.taps) {
      if (tap.tap !== 'spatial' || !hits.has(tap.module)) continue;
      const [h, w] = tap.shape as [number, number];
      score(tap.module, peakPoint(t, tap.data, h, w), s.box);
    }
    score('centre', { x: t.origWidth / 2, y: t.origHeight / 2 }, s.box);
    const share = boxShare(s.box, t.origWidth, t.origHeight);
    randomExpected += share;
    randomExpectedTol += boxShareGrown(s.box, t.origWidth, t.origHeight, TOLERANCE_PX);
    const centre = { x: (s.box[0] + s.box[2]) / 2, y: (s.box[1] + s.box[3]) / 2 };
    for (const name of nonLocal) {
      const q = await session.query(r.runId, name, centre);
      const acc = nl.get(name) as { mass: number; share: number };
      acc.mass += massInBox(t, q.data, q.shape[0] as number, q.shape[1] as number, s.box);
      acc.share += share;
    }

    const pre = await preprocess(await decodeImage(path), { inputSize: info.inputSize, resize: t.resize, mean: info.mean, std: info.std });
    const got = gradCam(cam, pre.input, info.inputSize, s.label);
    gradcamSeen++;
    score('gradcam', peakPoint(pre.transform, got.data, got.h, got.w), s.box);
  }
  const seconds = (performance.now() - started) / 1000;
  const rt = session.runtime;
  const backendName = `${rt.runtime} ${rt.backend} (Grad-CAM: tfjs ${cam.info.backend})`;
  await cam.dispose();
  session.dispose();

  const n = scenes.length;
  const pct = (x: number): number => Math.round(x * 1000) / 10;
  const rate = (m: Map<string, number>): Record<string, number | null> => {
    const out: Record<string, number | null> = {};
    for (const [k, v] of m) out[k] = k === 'gradcam' && gradcamSeen === 0 ? null : v / n;
    return out;
  };
  const pointing = rate(hits);
  const pointingTol = rate(tolHits);
  const cell = (x: number | null | undefined): string | number => (x == null ? '-' : pct(x));
  const rows: Array<Array<string | number>> = [
    ...cbam.map((m) => [`CBAM spatial ${m}`, cell(pointing[m]), cell(pointingTol[m])]),
    ['Grad-CAM layer4 (true class)', cell(pointing.gradcam), cell(pointingTol.gradcam)],
    ['centre point', cell(pointing.centre), cell(pointingTol.centre)],
    ['random point (expected)', pct(randomExpected / n), pct(randomExpectedTol / n)],
  ];
  const best = Math.max(...cbam.map((m) => pointing[m] as number));
  console.log(`localisation: ${modelName} on ${n} held-out scenes; backend ${backendName}; ${describeMachine(machine())}`);
  console.log(`accuracy ${pct(correct / n)}%  (${correct}/${n}), ${seconds.toFixed(0)} s`);
  console.log(table(['map', 'pointing game %', `within ${TOLERANCE_PX} px %`], rows));
  const nlOut: Record<string, { massInBox: number; boxShare: number }> = {};
  for (const [name, v] of nl) {
    nlOut[name] = { massInBox: v.mass / n, boxShare: v.share / n };
    console.log(`${name}: attention mass inside the box from a query at its centre ${pct(v.mass / n)}% vs the box's share of the image ${pct(v.share / n)}%`);
  }
  const path = writeResult(runtime === 'ort' ? 'localisation' : `localisation-${runtime}`, {
    model: modelName, runtime, backend: backendName, weightsSha256: info.weightsSha256, scenes: n, machine: machine(), seconds,
    accuracy: correct / n, pointing, pointingTolerance15px: pointingTol, bestCbam: best,
    randomPointExpected: randomExpected / n, randomPointExpectedTolerance15px: randomExpectedTol / n, nonLocal: nlOut,
  });
  console.log(`wrote ${path}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
