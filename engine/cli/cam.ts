// `attnscope cam IMG --method gradcam --class N --layer layer4 --out DIR`: class evidence
// (engine/cam.ts) for one image, as .npy maps beside the attention maps' format, a heatmap
// overlay PNG per map, and cam.json with the predictions and how each map was made.

import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CAM_LABELS, CAM_METHODS, type CamMethod, isCamMethod } from '../cam';
import { EngineError } from '../errors';
import { decodeImage } from '../image';
import { encodeNpy } from '../npy';
import { blendIndices, encodePng, finiteRange, resampleIndices } from '../render';
import { defaultModelsDir, Session } from '../session';
import { modelSource } from './commonOptions';
import { type ImageTransform, topK } from '../types';
import { parseRuntimeOptions, RUNTIME_OPTIONS, runtimeUsage } from './runtimeOptions';

export const CAM_USAGE = `attnscope cam <image> --out DIR [options]

Class evidence for one image: where the network finds its class, by the methods of the
class-activation family, at a stage's output. Writes per method:
  <layer>.<method>.npy   float32 [h, w] on the stage's grid (as attnscope maps)
  <layer>.<method>.png   the map min-max normalised, over the image (viridis, 50%)
  cam.json               predictions, class, layer, method, shape, passes and time per map

Options:
  --out DIR              output directory (created if missing)
  --method M[,M2..]      ${CAM_METHODS.join(', ')}, or all (default: gradcam)
  --class N              class index (default: the top prediction); see cam.json's top5
  --layer L[,L2..]       layer1..layer4 (stages 1-4; a timm model's own stage names too), or all
                         (default: layer4; cam: the last stage only)
  --weights FILE         checkpoint or model directory (default: the first built-in model)
  --model NAME           a built-in model by name
  --arch NAME            architecture instead of detecting it from the keys
  --input-size N         square network input (default: the model's)
  --bypass M1,M2         switch these modules off first (their effect on the evidence)
${runtimeUsage()}
Gradient methods (gradcam, gradcam++, layercam, dcn) differentiate the graph on the tfjs runtime
whatever --runtime runs it; scorecam runs one masked forward pass per channel.`;

export async function cam(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' }, method: { type: 'string' }, class: { type: 'string' }, layer: { type: 'string' },
      weights: { type: 'string', short: 'w' }, model: { type: 'string' }, arch: { type: 'string' },
      'input-size': { type: 'string' }, bypass: { type: 'string' }, ...RUNTIME_OPTIONS, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(CAM_USAGE); return 0; }
  const usage = (msg: string): EngineError => new EngineError('bad-request', msg, 'See `attnscope cam --help`.');
  if (positionals.length !== 1) throw usage(positionals.length ? `Give one image, not ${positionals.length}.` : 'Give an image.');
  if (!values.out) throw usage('--out DIR is required.');
  if (values.weights && values.model) throw usage('Give --weights or --model, not both.');
  const runtime = parseRuntimeOptions(values, 'cam');
  const methodList = (values.method ?? 'gradcam') === 'all' ? [...CAM_METHODS] : (values.method ?? 'gradcam').split(',').map((m) => m.trim());
  for (const m of methodList) if (!isCamMethod(m)) throw usage(`--method must be one of ${CAM_METHODS.join(', ')} (or all), not "${m}".`);
  const methods = methodList as CamMethod[];
  const layerList = (values.layer ?? 'layer4') === 'all' ? ['layer1', 'layer2', 'layer3', 'layer4'] : (values.layer ?? 'layer4').split(',').map((l) => l.trim());
  let classIndex: number | undefined;
  if (values.class !== undefined) {
    classIndex = Number(values.class);
    if (!Number.isInteger(classIndex) || classIndex < 0) throw usage(`--class must be a class index (0, 1, ...), not "${values.class}".`);
  }
  let inputSize: number | undefined;
  if (values['input-size'] !== undefined) {
    inputSize = Number(values['input-size']);
    if (!Number.isInteger(inputSize) || inputSize < 8 || inputSize > 4096) throw usage(`--input-size must be an integer from 8 to 4096, not "${values['input-size']}".`);
  }
  const bypass = values.bypass ? values.bypass.split(',').map((s) => s.trim()).filter(Boolean) : [];

  const modelsDir = defaultModelsDir();
  const source = modelSource(values, modelsDir);
  const session = await Session.load(source, { modelsDir, ...(values.arch ? { arch: values.arch } : {}), ...runtime });
  try {
    const info = session.info;
    // layer1..layer4 are stages 1-4 of any model; a timm model's own stage names work too (s2, blocks.4 ...).
    const stages = layerList.map((l) => {
      const m = /^layer([1-4])$/.exec(l);
      const own = info.stages?.indexOf(l) ?? -1;
      if (!m && own < 0) throw usage(`--layer must be layer1 to layer4${info.stages ? ` or ${info.stages.join(', ')}` : ''} (or all), not "${l}".`);
      return m ? Number(m[1]) : own + 1;
    });
    const imagePath = resolve(positionals[0] as string);
    const image = await decodeImage(imagePath);
    const run = await session.run({ image: { kind: 'decoded', image }, options: { ...(inputSize ? { inputSize } : {}), bypass } });
    const top5 = topK(run.logits, info.classes, 5);
    const cls = classIndex ?? (top5[0]?.index as number);
    if (cls >= info.numClasses) throw usage(`--class ${cls} is out of range: the model has classes 0 to ${info.numClasses - 1}.`);
    const outDir = resolve(values.out);
    await mkdir(outDir, { recursive: true });
    const written = [];
    for (const stage of stages) {
      for (const method of methods) {
        if (method === 'cam' && stage !== 4) continue; // defined on the last stage only
        const r = await session.cam(run.runId, { method, stage, classIndex: cls });
        const base = `${r.layer}.${method}`;
        await writeFile(join(outDir, `${base}.npy`), encodeNpy(r.data, r.shape));
        const indices = resampleIndices(r.data, r.shape[0], r.shape[1], run.transform, image.width, image.height, 'bilinear', finiteRange(r.data));
        const png = await encodePng(blendIndices(image.rgb, indices, 'viridis', 0.5), image.width, image.height, 3,
          [['Software', 'AttnScope'], ['AttnScope:kind', 'cam'], ['AttnScope:method', method], ['AttnScope:layer', r.layer], ['AttnScope:class', String(cls)]], 'photo');
        await writeFile(join(outDir, `${base}.png`), png);
        // DCN: the selected regions as boxes in image pixels (each cell's extent through the run's transform).
        const regions = r.regions?.map((g) => ({ ...g, box: cellBox(run.transform, r.shape, g.row, g.col) }));
        written.push({ method, label: CAM_LABELS[method], layer: r.layer, shape: r.shape, file: `${base}.npy`, png: `${base}.png`, passes: r.passes, ms: Math.round(r.ms * 10) / 10, ...(regions ? { regions } : {}) });
        console.log(`${CAM_LABELS[method]} at ${r.layer}: ${r.shape.join('x')} in ${r.ms.toFixed(0)} ms${regions ? `, ${regions.length} regions selected` : ''}`);
      }
    }
    const index = {
      image: imagePath,
      model: { name: info.name, arch: info.arch, weightsSha256: info.weightsSha256 },
      runtime: session.runtime.runtime,
      class: { index: cls, label: info.classes?.[cls] ?? null },
      top5,
      transform: run.transform,
      bypass,
      maps: written,
    };
    await writeFile(join(outDir, 'cam.json'), `${JSON.stringify(index, null, 2)}\n`);
    console.log(`Wrote ${written.length} map(s) for class ${cls}${info.classes?.[cls] ? ` (${info.classes[cls]})` : ''} to ${outDir}`);
    return 0;
  } finally {
    session.dispose();
  }
}

/** Cell (row, col) of an [h, w] map as [x0, y0, x1, y1] in original image pixels, clipped to the image. */
function cellBox(t: ImageTransform, [h, w]: [number, number], row: number, col: number): [number, number, number, number] {
  const x = (ix: number) => Math.min(t.origWidth, Math.max(0, (ix - t.offsetX) / t.scaleX));
  const y = (iy: number) => Math.min(t.origHeight, Math.max(0, (iy - t.offsetY) / t.scaleY));
  const round = (v: number) => Math.round(v * 10) / 10;
  return [round(x((col * t.inputWidth) / w)), round(y((row * t.inputHeight) / h)), round(x(((col + 1) * t.inputWidth) / w)), round(y(((row + 1) * t.inputHeight) / h))];
}
