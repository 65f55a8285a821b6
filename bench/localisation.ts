// Localisation of the built-in model, measured through the TypeScript engine (issue 4):
// the held-out scenes go through Session.run exactly as the app runs them (decode,
// stretch to the input size, forward), and every map is mapped back to the scene's
// pixels with the run's ImageTransform before it is scored.
//
//   node dist/bench/localisation.js [--scenes tools/data/scenes] [--model emoji-cbam-nl]
//                                   [--runtime ort|tfjs] [--backend wasm|cpu|tensorflow] [--limit N]
//
// The maps come from the chosen runtime (default ort); class evidence comes from
// Session.cam (engine/cam.ts), whose gradient methods run on the tfjs interpreter of the
// same graph, which has gradients.
//
// Figures: classification accuracy; pointing game (peak inside the target box) for every
// CBAM spatial map, for every class-evidence method (true class) at layer3 and layer4, for
// the agreement (Pearson, IoU of the top 20%, attention peak inside the evidence's top
// 20%) of every attention map with every class-evidence map; for the image centre and for a
// uniformly random point (its expected hit rate is the box's share of the image); for the
// non-local block, the attention mass that a query on the box centre puts inside the box,
// against the box's share of the image. tools/evaluate_torch.py computes the same in PyTorch.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isBackendChoice } from '../engine/backend';
import { isRuntimeName } from '../engine/runtimes';
import { agreement } from '../common/agreement';
import { CAM_LABELS, CAM_METHODS, type CamMethod } from '../engine/cam';
import { Session } from '../engine/session';
import { args, describeMachine, machine, ROOT, table, writeResult } from './lib';
import { argmax, type Box, boxShare, boxShareGrown, inside, massInBox, peakPoint, TOLERANCE_PX } from './localisationMetrics';

interface Scene { file: string; label: number; cls: string; box: Box; background: string }
interface TestSet { side: number; classes: string[]; scenes: Scene[] }

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

  // Class evidence (engine/cam.ts through Session.cam, true class): every method at layer3
  // and layer4 (CAM: layer4 only), scored like the maps, and compared with each attention
  // map (common/agreement.ts).
  const camKeys = CAM_METHODS.flatMap((m) => (m === 'cam' ? [[m, 4]] : [[m, 3], [m, 4]]) as Array<[CamMethod, number]>);
  const camKey = (m: CamMethod, stage: number): string => (m === 'gradcam' && stage === 4 ? 'gradcam' : `${m}@layer${stage}`);
  const attentionKeys = [...cbam.map((m) => `${m}.spatial`), ...nonLocal.map((m) => `${m}.attention`)];
  const agree = new Map<string, { pearson: number; iou: number; pointing: number }>();
  const camMs = new Map<string, number>();

  const hits = new Map<string, number>([...cbam, ...camKeys.map(([m, k]) => camKey(m, k)), 'centre'].map((k) => [k, 0]));
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

    for (const [method, stage] of camKeys) {
      const c = await session.cam(r.runId, { method, stage, classIndex: s.label });
      const key = camKey(method, stage);
      camMs.set(key, (camMs.get(key) ?? 0) + c.ms);
      score(key, peakPoint(t, c.data, c.shape[0], c.shape[1]), s.box);
      for (const att of attentionKeys) {
        const [module, tapName] = [att.slice(0, att.lastIndexOf('.')), att.slice(att.lastIndexOf('.') + 1)];
        const tap = r.taps.find((x) => x.module === module && x.tap === tapName);
        if (!tap) continue;
        const g = agreement({ shape: tap.shape, data: tap.data }, { shape: c.shape, data: c.data });
        const acc = agree.get(`${att}|${key}`) ?? { pearson: 0, iou: 0, pointing: 0 };
        acc.pearson += g.pearson;
        acc.iou += g.iou;
        acc.pointing += g.aPeakInB ? 1 : 0;
        agree.set(`${att}|${key}`, acc);
      }
    }
    gradcamSeen++;
  }
  const seconds = (performance.now() - started) / 1000;
  const rt = session.runtime;
  const backendName = `${rt.runtime} ${rt.backend} (gradients: tfjs cpu)`;
  session.dispose();

  const n = scenes.length;
  const pct = (x: number): number => Math.round(x * 1000) / 10;
  const rate = (m: Map<string, number>): Record<string, number | null> => {
    const out: Record<string, number | null> = {};
    for (const [k, v] of m) out[k] = camKeys.some(([mm, st]) => camKey(mm, st) === k) && gradcamSeen === 0 ? null : v / n;
    return out;
  };
  const pointing = rate(hits);
  const pointingTol = rate(tolHits);
  const cell = (x: number | null | undefined): string | number => (x == null ? '-' : pct(x));
  const rows: Array<Array<string | number>> = [
    ...cbam.map((m) => [`CBAM spatial ${m}`, cell(pointing[m]), cell(pointingTol[m])]),
    ...camKeys.map(([m, k]) => [`${CAM_LABELS[m]} layer${k} (true class)`, cell(pointing[camKey(m, k)]), cell(pointingTol[camKey(m, k)])]),
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
  // Agreement of each attention map with each class-evidence map, mean over scenes.
  const classEvidence = camKeys.map(([m, k]) => ({
    method: m, label: CAM_LABELS[m], layer: `layer${k}`, key: camKey(m, k),
    pointing: pointing[camKey(m, k)] ?? null, msPerImage: (camMs.get(camKey(m, k)) ?? 0) / n,
    agreement: Object.fromEntries(attentionKeys.map((att) => {
      const v = agree.get(`${att}|${camKey(m, k)}`);
      return [att, v ? { pearson: v.pearson / n, iouTop20: v.iou / n, attentionPeakInEvidence: v.pointing / n } : null];
    })),
  }));
  console.log(table(['class evidence', 'pointing %', 'ms / image', ...attentionKeys.map((k) => `r / IoU vs ${k}`)],
    classEvidence.map((c) => [`${c.label} ${c.layer}`, cell(c.pointing), Math.round(c.msPerImage),
      ...attentionKeys.map((att) => { const v = c.agreement[att]; return v ? `${v.pearson.toFixed(2)} / ${v.iouTop20.toFixed(2)}` : '-'; })])));
  const path = writeResult(runtime === 'ort' ? 'localisation' : `localisation-${runtime}`, {
    model: modelName, runtime, backend: backendName, weightsSha256: info.weightsSha256, scenes: n, machine: machine(), seconds,
    accuracy: correct / n, pointing, pointingTolerance15px: pointingTol, bestCbam: best,
    randomPointExpected: randomExpected / n, randomPointExpectedTolerance15px: randomExpectedTol / n, nonLocal: nlOut,
    classEvidence,
  });
  console.log(`wrote ${path}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
