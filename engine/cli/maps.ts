// `attnscope maps <image> --out DIR`: one forward pass, every tap written as .npy
// (float32, C order) plus logits.npy and a maps.json index. Scriptable ground truth for
// papers and for checking the engine against PyTorch.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EngineError } from '../errors';
import { encodeNpy } from '../npy';
import { ARCH_SYNTAX } from '../nets/presets';
import { defaultModelsDir, Session } from '../session';
import { modelSource, tileOption } from './commonOptions';
import { parseRuntimeOptions, RUNTIME_OPTIONS, runtimeUsage } from './runtimeOptions';
import { topK, type ResizeMode } from '../types';

export const MAPS_USAGE = `attnscope maps <image> --out DIR [options]

Runs the model on one image and writes every attention map:
  <module>.<tap>.npy   float32, C order: [C] for channel, [H,W] for spatial and
                       activation, [H',W'] summary for non-local attention
  logits.npy           [numClasses]
  maps.json            index: module, tap, shape, file, runtime, device, backend, timing,
                       transform, top-5
An .onnx model's attention is found by itself (gates, affinities, transformer heads); per
found module it also writes the full tensor the model computed, batch removed:
  <module>.map.<map>.npy  channel gates [C] ([paths, C] for SK), spatial gates [H,W], full
                       gates [C,H,W], affinities [queries, keys], heads [heads, T, T]
and maps.json lists them under "attention" (module, kind, ONNX node, shape, file).

Options:
  --out DIR            output directory (created if missing)
  --weights FILE       checkpoint (.pth, .pth.tar, .safetensors), an ONNX model (.onnx, with
                       its external data files beside it) or a model directory with
                       manifest.json; default: the first built-in model
  --labels FILE        class names, one per line (over the model's own)
  --model NAME         a built-in model by name (assets/models/NAME)
  --arch NAME          architecture instead of detecting it from the keys:
                       ${ARCH_SYNTAX}
  --input-size N       square network input (default: the model's, 224 for ImageNet stems)
  --resize MODE        stretch | pad | center-crop (default: the model's, else stretch)
  --tile N             run an image larger than the input in N x N px tiles at its own
                       resolution and stitch the maps (N: a multiple of the network's
                       coarsest map cell, e.g. 32 for ImageNet ResNets; not with --input-size)
  --overlap K          pixels shared by neighbouring tiles, blended (default: about N/4)
  --bypass M1,M2       switch these modules off for the run (ablation)
  --mean a,b,c         normalisation mean (default: the model's, else ImageNet)
  --std a,b,c          normalisation std
${runtimeUsage()}
  --repeat N           time the forward pass: N passes after one warm-up, then print one
                       JSON line {"runtime","device","backend","forward_ms":{"median","min"}}
  --verbose            print runtime, model, warnings and timings to stderr`;

/** A labels file: one class name per line (blank lines at the end ignored). */
async function readLabels(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EngineError('not-found', `The labels file ${path} could not be read: ${(err as Error).message}`);
  }
  return text.replace(/\s+$/, '').split(/\r?\n/).map((l) => l.trim());
}

const RESIZE_MODES: ResizeMode[] = ['stretch', 'pad', 'center-crop'];

export async function maps(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' },
      weights: { type: 'string', short: 'w' },
      model: { type: 'string' },
      arch: { type: 'string' },
      'input-size': { type: 'string' },
      resize: { type: 'string' },
      tile: { type: 'string' },
      overlap: { type: 'string' },
      bypass: { type: 'string' },
      mean: { type: 'string' },
      std: { type: 'string' },
      labels: { type: 'string' },
      ...RUNTIME_OPTIONS,
      repeat: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(MAPS_USAGE);
    return 0;
  }
  const usage = (msg: string): EngineError => new EngineError('bad-request', msg, 'See `attnscope maps --help`.');
  if (positionals.length !== 1) throw usage(positionals.length ? `Give one image, not ${positionals.length}.` : 'Give an image to run.');
  if (!values.out) throw usage('--out DIR is required.');
  if (values.weights && values.model) throw usage('Give --weights or --model, not both.');
  const runtime = parseRuntimeOptions(values, 'maps');
  let repeat = 0;
  if (values.repeat !== undefined) {
    repeat = Number(values.repeat);
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100_000) throw usage(`--repeat must be a whole number from 1 to 100000, not "${values.repeat}".`);
  }
  if (values.resize !== undefined && !RESIZE_MODES.includes(values.resize as ResizeMode)) {
    throw usage(`--resize must be one of ${RESIZE_MODES.join(', ')}, not "${values.resize}".`);
  }
  let inputSize: number | undefined;
  if (values['input-size'] !== undefined) {
    inputSize = Number(values['input-size']);
    if (!Number.isInteger(inputSize) || inputSize < 8 || inputSize > 4096) throw usage(`--input-size must be an integer from 8 to 4096, not "${values['input-size']}".`);
  }
  const tile = tileOption(values, usage);
  if (tile && repeat) throw usage('--repeat times one forward pass; it does not go with --tile.');
  const triple = (flag: string, text: string | undefined): [number, number, number] | undefined => {
    if (text === undefined) return undefined;
    const v = text.split(',').map(Number);
    if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw usage(`${flag} takes three numbers like 0.485,0.456,0.406, not "${text}".`);
    if (flag === '--std' && v.some((x) => x <= 0)) throw usage('--std values must be positive.');
    return v as [number, number, number];
  };
  const mean = triple('--mean', values.mean);
  const std = triple('--std', values.std);
  const bypass = values.bypass ? values.bypass.split(',').map((s) => s.trim()).filter(Boolean) : [];

  const modelsDir = defaultModelsDir();
  const source = modelSource(values, modelsDir);

  const verbose = values.verbose ? (msg: string) => process.stderr.write(`${msg}\n`) : () => {};
  const labels = values.labels ? await readLabels(values.labels) : undefined;
  const session = await Session.load(source, {
    modelsDir,
    ...(values.arch ? { arch: values.arch } : {}),
    ...(inputSize ? { inputSize } : {}),
    ...(labels ? { labels } : {}),
    ...runtime,
  });
  try {
    const info = session.info;
    const rt = session.runtime;
    verbose(`runtime: ${rt.runtime} on ${rt.device} (${rt.detail})`);
    verbose(`model: ${info.name}: ${info.description}`);
    // A model with no attention found says why without --verbose (what was refused, and what to try).
    const warn = info.modules.length ? verbose : (msg: string) => console.error(msg);
    for (const w of info.warnings) warn(`warning: ${w}`);

    const imagePath = resolve(positionals[0] as string);
    const result = await session.run({
      image: { kind: 'path', path: imagePath },
      options: {
        ...(tile ? { tile } : {}),
        ...(inputSize ? { inputSize } : {}),
        ...(values.resize ? { resize: values.resize as ResizeMode } : {}),
        ...(mean ? { mean } : {}),
        ...(std ? { std } : {}),
        bypass,
      },
    });

    const outDir = resolve(values.out);
    await mkdir(outDir, { recursive: true });
    const written = [];
    for (const tap of result.taps) {
      const file = `${tap.module}.${tap.tap}.npy`;
      await writeFile(join(outDir, file), encodeNpy(tap.data, tap.shape));
      written.push({ module: tap.module, tap: tap.tap, shape: tap.shape, file });
    }
    const attention = [];
    for (const m of result.maps ?? []) {
      const file = `${m.module}.map.${m.map}.npy`;
      await writeFile(join(outDir, file), encodeNpy(m.data, m.shape));
      attention.push({ module: m.module, map: m.map, kind: m.kind, node: m.node, shape: m.shape, file });
    }
    await writeFile(join(outDir, 'logits.npy'), encodeNpy(result.logits, [result.logits.length]));
    const index = {
      image: imagePath,
      model: { name: info.name, arch: info.arch, description: info.description, weightsSha256: info.weightsSha256 },
      runtime: rt.runtime,
      device: rt.device,
      backend: rt.backend,
      threads: rt.threads,
      runtimeDetail: rt.detail,
      timing: result.timings,
      transform: result.transform,
      bypass,
      top5: topK(result.logits, info.classes, 5),
      logits: { file: 'logits.npy', shape: [result.logits.length] },
      maps: written,
      ...(result.maps ? { attention } : {}),
    };
    await writeFile(join(outDir, 'maps.json'), `${JSON.stringify(index, null, 2)}\n`);
    const t = result.timings;
    verbose(`timing: decode ${t.decodeMs.toFixed(1)} ms, preprocess ${t.preprocessMs.toFixed(1)} ms, forward ${t.forwardMs.toFixed(1)} ms, readback ${t.readbackMs.toFixed(1)} ms, total ${t.totalMs.toFixed(1)} ms`);
    console.log(`Wrote ${written.length} maps${attention.length ? `, ${attention.length} full attention tensors` : ''} and logits.npy to ${outDir}`);
    if (repeat > 0) {
      const size = result.transform.inputWidth;
      const times = (await session.time(result.runId, repeat)).sort((a, b) => a - b);
      const round = (v: number): number => Math.round(v * 1000) / 1000;
      const median = times.length % 2 ? times[(times.length - 1) / 2] as number : ((times[times.length / 2 - 1] as number) + (times[times.length / 2] as number)) / 2;
      console.log(JSON.stringify({
        runtime: rt.runtime, device: rt.device, backend: rt.backend, threads: rt.threads, input: size, runs: repeat,
        forward_ms: { median: round(median), min: round(times[0] as number) },
      }));
    }
    return 0;
  } finally {
    session.dispose();
  }
}
