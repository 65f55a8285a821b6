// Any model as ONNX (issue 14): read the file (onnxFile.ts), find its attention
// (discover.ts) with one probe pass on ONNX Runtime, and rewrite the graph into the
// engine's conventions (graph/names.ts): input `input` NCHW, `logits`, taps
// `<module>.<tap>`, bypass inputs `<module>.bypass`, the full maps `<module>.map.<map>`.
// The Session then runs it like a built-in model.

import { groupedIds, groupSource, replayIds, shapeOnlySource } from './groups';
import { EngineError } from '../errors';
import { encodeModel } from '../graph/builder';
import { affinityOutput, bypassInput, INPUT, LOGITS, moduleInputOutput, tapOutput } from '../graph/names';
import { DataType, type OnnxTypes, toInt } from '../graph/onnx';
import type { GraphModule } from '../nets/resnet';
import type { ModuleInfo, TapName } from '../types';
import { classify, findCandidates, type NamedPart, nameParts, type PartKind, type Rejected } from './discover';
import { GraphIndex, GraphWriter, topoOrder } from './graphEdit';
import { parseOnnx } from './onnxFile';

export { looksLikeOnnx } from './onnxFile';
export type { PartKind } from './discover';

/** A full map the model computed, as written to `<module>.<map>.npy`. */
export interface ImportedMap {
  module: string;
  map: NamedPart['map'];
  kind: PartKind;
  /** Graph output holding it, batch first. */
  output: string;
  /** The ONNX node that computes it. */
  node: string;
}

export interface ImportedModel {
  name: string;
  model: OnnxTypes.ModelProto;
  modules: GraphModule[];
  infos: ModuleInfo[];
  maps: ImportedMap[];
  rejected: Rejected[];
  externalDir: string | null;
  inputSize: number;
  layout: 'nchw' | 'nhwc';
  dynamic: boolean;
  numClasses: number;
  classes: string[] | null;
  mean: [number, number, number] | null;
  std: [number, number, number] | null;
  description: string;
  warnings: string[];
  /** A transformer with a class token: attention rollout over its heads layers (derived module ROLLOUT), in forward order. */
  rollout: { layers: ImportedMap[]; prefix: number } | null;
  /**
   * A dynamic model whose attention the importer lays out densely (FoundPart.denseValues): the
   * largest input size at which that layout stays within DENSE_LAYOUT_BYTES, and its module.
   */
  denseLimit: { size: number; module: string } | null;
}

/** The most one dense layout the importer adds may hold: 256 MB of float32. */
export const DENSE_LAYOUT_BYTES = 256 * 1024 * 1024;

/** The derived module of attention rollout (engine/import/rollout.ts). */
export const ROLLOUT = 'rollout';

/**
 * The shape maps.json gives a map: `dims` (batch first) without the batch, channel gates
 * without their size-1 dims ([C], [paths, C]), spatial gates [H, W], a spatial softmax on its
 * tap's grid (`tapShape`); the rest as computed.
 */
export function mapShape(kind: PartKind, dims: number[], tapShape?: number[]): number[] {
  const own = dims.slice(1);
  if (kind === 'channel-gate') {
    const kept = own.filter((d) => d !== 1);
    return kept.length ? kept : [1];
  }
  if (kind === 'spatial-gate') return own.slice(-2);
  if (kind === 'spatial-softmax' && tapShape) return tapShape;
  if (kind === 'components') return own; // laid out [K, H, W] in the graph already
  return own;
}

/** Runs the probe pass: value name -> dims, on ONNX Runtime (CPU). */
export type ShapeProbe = (model: Uint8Array, input: { name: string; dims: number[] }, outputs: string[], externalDir: string | null) => Promise<Map<string, number[]>>;

const INT_MAX = 2 ** 31 - 1;
const DEFAULT_SIZE = 224;
const PROBE_SIZE = 128;

export interface ImportOptions {
  /** The input size to run at when the model's is dynamic. */
  inputSize?: number;
  /** Overrides what the model's metadata says (a checkpoint family's config.json). */
  description?: string;
  /** Values of the model kept as outputs under their own names (a family's stage outputs, for class evidence). */
  keepOutputs?: string[];
  /** The output holding the class scores (default: the model's first output). */
  logitsOutput?: string;
}

export async function importOnnx(bytes: Uint8Array, name: string, path: string | null, probe: ShapeProbe, opts: ImportOptions = {}): Promise<ImportedModel> {
  const file = parseOnnx(bytes, name, path);
  return importGraph(file.model, name, file.externalDir, probe, opts);
}

/**
 * Finds the attention in a model already in memory and rewrites it into the engine's
 * conventions: an .onnx file's (importOnnx), or the plain network a checkpoint family emits
 * (engine/nets/timm), so both get every map, bypass and query the same way.
 */
export async function importGraph(model: OnnxTypes.ModelProto, name: string, externalDir: string | null, probe: ShapeProbe, opts: ImportOptions = {}): Promise<ImportedModel> {
  const graph = reserveNames(model.graph as OnnxTypes.GraphProto);
  const opset = toInt(model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version as number);
  const warnings: string[] = [];

  // The image input: the one graph input that is not an initializer.
  const ix = new GraphIndex(graph);
  const inputs = graph.input.filter((v) => ix.inputs.has(v.name as string));
  if (inputs.length !== 1) {
    throw new EngineError('bad-model', `${name}: the model has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ')}); AttnScope runs models with one image input.`);
  }
  const image = inputs[0] as OnnxTypes.ValueInfoProto;
  const tt = image.type?.tensorType;
  if (tt?.elemType !== DataType.FLOAT) throw new EngineError('bad-model', `${name}: its input "${image.name}" is not float32 (ONNX type ${tt?.elemType ?? 'unknown'}).`);
  const dims = (tt.shape?.dim ?? []).map((d) => (d.dimValue !== null && d.dimValue !== undefined && toInt(d.dimValue as number) > 0 ? toInt(d.dimValue as number) : null));
  if (dims.length !== 4) throw new EngineError('bad-model', `${name}: its input "${image.name}" has ${dims.length} dimensions; an image input has 4 (N, C, H, W).`);
  const layout: 'nchw' | 'nhwc' = dims[3] === 3 && dims[1] !== 3 ? 'nhwc' : 'nchw';
  const [hDim, wDim] = layout === 'nchw' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  const channels = layout === 'nchw' ? dims[1] : dims[3];
  if (channels !== null && channels !== 3) throw new EngineError('bad-model', `${name}: its input has ${channels} channels; AttnScope feeds RGB images (3).`);
  const meta = new Map<string, string>(model.metadataProps.map((p) => [(p.key ?? '').toLowerCase(), p.value ?? '']));
  const metaSize = Number(meta.get('input_size') ?? meta.get('inputsize') ?? meta.get('image_size') ?? NaN);
  const dynamic = hDim === null || wDim === null;
  if (hDim !== null && wDim !== null && hDim !== wDim) warnings.push(`The model's input is ${hDim}x${wDim}; AttnScope feeds square inputs, so it runs at ${hDim}x${hDim} only if the model allows it.`);
  const inputSize = opts.inputSize ?? hDim ?? (Number.isInteger(metaSize) && metaSize >= 8 ? metaSize : DEFAULT_SIZE);

  // Probe: every candidate's values as extra outputs, one pass at the input size.
  const candidates = findCandidates(ix);
  const firstOutput = opts.logitsOutput ?? graph.output[0]?.name;
  if (!firstOutput) throw new EngineError('bad-model', `${name}: the model has no outputs.`);
  const wanted = new Set<string>([firstOutput]);
  for (const c of candidates) {
    wanted.add(c.value);
    if (c.type === 'gate') { wanted.add(c.feature); wanted.add(c.operand); } else if (c.type === 'sampler') { wanted.add(c.feature); for (const a of c.ancestors) wanted.add(a); }
    else if (c.type === 'footprint') { wanted.add(c.values); wanted.add(c.source); }
    else if (c.type === 'chunked') { for (const v of [c.queries, c.values, c.querySource, c.valueSource, c.weights]) if (v) wanted.add(v); }
    else {
      for (const a of c.ancestors) { wanted.add(a); const up = shapeOnlySource(ix, a); if (up) wanted.add(up); }
      if (c.type === 'affinity' && c.pooled) for (const v of [c.pooled.map, ...c.pooled.pools]) wanted.add(v);
    }
  }
  const probeModel = { ...model, graph: { ...graph, output: [...graph.output, ...[...wanted].filter((v) => v !== firstOutput && !ix.constants.has(v)).map((v) => ({ name: v }))] } };
  // A dynamic model is probed at no more than PROBE_SIZE: the shapes' relations are what
  // matters, and an affinity over 224 px positions can take gigabytes (DANet's PAM at
  // stride 2: 2.5 GB). Large enough that a stride-32 stage still has a 4x4 grid.
  const probeSize = dynamic ? Math.min(inputSize, PROBE_SIZE) : inputSize;
  const probeDims = layout === 'nchw' ? [1, 3, probeSize, probeSize] : [1, probeSize, probeSize, 3];
  let shapes: Map<string, number[]>;
  try {
    shapes = await probe(encodeModel(probeModel), { name: image.name, dims: probeDims }, [...wanted], externalDir);
  } catch (err) {
    throw err instanceof EngineError && err.code !== 'internal' ? err
      : new EngineError('bad-model', `${name}: ONNX Runtime could not run the model at ${probeSize}x${probeSize}: ${(err as Error).message}`, dynamic ? undefined : 'The model has a fixed input size; open it without --input-size.');
  }
  const outDims = shapes.get(firstOutput) ?? [];
  const numClasses = outDims.slice(1).reduce((a, b) => a * b, 1);
  if (outDims.length > 2) warnings.push(`The first output is [${outDims.join(', ')}], not class scores [N, classes]; the predictions show its ${numClasses} values flattened.`);

  const { parts: found, rejected } = classify(candidates, shapes, (grouped, earlier) => groupSource(ix, grouped, shapes, earlier));
  const parts = nameParts(found);
  for (const p of parts) if (p.note) warnings.push(`${p.module}: ${p.note}.`);
  for (const r of rejected) warnings.push(`Not listed as attention: ${r.node} (${r.reason}).`);
  // Layouts the model never forms grow with the 4th power of the input size: the largest size they fit at.
  const densest = parts.reduce<NamedPart | null>((a, p) => ((p.denseValues ?? 0) > (a?.denseValues ?? 0) ? p : a), null);
  const denseLimit = dynamic && densest?.denseValues
    ? { size: Math.floor(probeSize * (DENSE_LAYOUT_BYTES / 4 / densest.denseValues) ** 0.25), module: densest.module } : null;
  if (!parts.length) warnings.push('No attention found: no gate multiplies a feature map and no softmax weights positions or tokens.');

  // The rewritten graph.
  const w = new GraphWriter(opset);
  const outputs: OnnxTypes.IValueInfoProto[] = [];
  const output = (value: string, outName: string): void => {
    w.node('Identity', [value], {}, outName);
    outputs.push({ name: outName, type: { tensorType: { elemType: DataType.FLOAT } } });
  };
  const newInputs: OnnxTypes.IValueInfoProto[] = [{
    name: INPUT, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }, { dimParam: 'H' }, { dimParam: 'W' }] } } },
  }];
  if (layout === 'nhwc') w.node('Transpose', [INPUT], { perm: [0, 2, 3, 1] }, image.name);
  else if (image.name !== INPUT) w.node('Identity', [INPUT], {}, image.name);
  output(w.node('Flatten', [firstOutput], { axis: 1 }), LOGITS);
  for (const k of opts.keepOutputs ?? []) outputs.push({ name: k, type: { tensorType: { elemType: DataType.FLOAT } } });

  const rewire = new Map<string, string>();
  const byModule = new Map<string, NamedPart[]>();
  for (const p of parts) byModule.set(p.module, [...(byModule.get(p.module) ?? []), p]);
  const modules: GraphModule[] = [];
  const infos: ModuleInfo[] = [];
  const maps: ImportedMap[] = [];
  for (const [module, list] of byModule) {
    const bypass = bypassInput(module);
    newInputs.push({ name: bypass, type: { tensorType: { elemType: DataType.BOOL, shape: { dim: [] } } } });
    const taps = new Map<TapName, string>();
    let affinity: string | null = null;
    let featureOut: string | null = null;
    for (const p of list) {
      const c = p.candidate;
      const v = c.value;
      maps.push({ module, map: p.map, kind: p.kind, output: `${module}.map.${p.map}`, node: c.op.name || (c.op.opType as string) });
      // A layout the importer made, [N, queries, keys] over the image: listed, shown and bypassed
      // like any affinity (bypass evens out the model's own weights over their key axis).
      const laidOut = (dense: string, keyAxis: number, keyGrid: string, activationOf: string): void => {
        output(dense, `${module}.map.${p.map}`);
        rewire.set(v, w.node('Where', [bypass, w.mean(v, [keyAxis], 1), v]));
        taps.set('attention', w.reshapeBatchTail(w.mean(dense, [1], 0), keyGrid, w.shapeSlice(keyGrid, 2, 4)));
        taps.set('activation', w.mean(activationOf, [1], 0));
        affinity = dense;
      };
      if (c.type === 'sampler') {
        // An STN's GridSample: its grid, the channel mean of what it samples out, and of its input.
        // Bypass samples on the identity grid of the same size instead (the map itself, resized
        // when the grid's size differs), so the taps stay what the model computed.
        const sampled = c.op.output?.[0] as string;
        const warped = w.mean(sampled, [1], 0);
        maps.push({ module, map: 'warped', kind: p.kind, output: `${module}.map.warped`, node: c.op.name || 'GridSample' });
        output(v, `${module}.map.grid`);
        output(warped, `${module}.map.warped`);
        taps.set('grid', v);
        taps.set('warped', warped);
        if (p.theta) {
          maps.push({ module, map: 'affine', kind: p.kind, output: `${module}.map.affine`, node: ix.producer.get(p.theta)?.name || p.theta });
          output(p.theta, `${module}.map.affine`);
          taps.set('affine', p.theta);
        }
        taps.set('activation', w.mean(c.feature, [1], 0));
        rewire.set(v, w.node('Where', [bypass, identityGrid(w, v, ix.attrInt(c.op, 'align_corners', 0) === 1), v]));
        if (!featureOut) featureOut = c.feature;
        continue;
      }
      if (p.kind === 'components') {
        // [N, K, H, W], components first whatever the model's layout: the map and the tap are one value.
        const dims = shapes.get(v) ?? [];
        const k = (p.positionsFirst ? dims[2] : dims[1]) as number;
        const perComponent = p.positionsFirst ? w.node('Transpose', [v], { perm: [0, 2, 1] }) : v;
        const laid = w.reshapeBatchTail(perComponent, v, w.node('Concat', [w.ints([k]), w.shapeSlice(p.keyGrid as string, 2, 4)], { axis: 0 }));
        output(laid, `${module}.map.${p.map}`);
        taps.set(p.map as TapName, laid);
        if (!taps.has('activation')) taps.set('activation', w.mean(p.keyGrid as string, [1], 0));
        const axis = softmaxAxis(ix, c.op, opset, dims.length || 3);
        rewire.set(v, w.node('Where', [bypass, w.mean(v, [axis], 1), v]));
        continue;
      }
      if (p.footprint && c.type === 'footprint') {
        // [1, G, k^2, HW]: offset o of query i reads the position the unfold put there, found by
        // replaying the unfold on position ids; mean over the weight channels, laid out [1, HW, HW].
        const k = p.footprint.offsets;
        // The first [k^2, HW] block of the replayed ids (every channel and weight group reads alike).
        const flat = w.node('Reshape', [replayIds(ix, w, c.source, c.values), w.ints([-1])]);
        const end = w.node('Mul', [w.shapeSlice(c.values, -1, INT_MAX), w.ints([k])]);
        const table = w.node('Reshape', [w.node('Slice', [flat, w.ints([0]), end, w.ints([0])]), w.ints([k, -1])]); // [k^2, HW]
        const count = w.node('Shape', [table]);
        const every = w.indices(w.node('Slice', [count, w.ints([1]), w.ints([2]), w.ints([0])]));
        const mean = w.node('Reshape', [w.mean(v, [1], 0), w.ints([k, -1])]); // [k^2, HW]
        let dense = '';
        for (let o = 0; o < k; o++) {
          const row = (t: string): string => w.node('Reshape', [w.node('Gather', [t, w.ints([o])], { axis: 0 }), w.ints([-1, 1])]); // [HW, 1]
          const part = w.node('Mul', [w.oneHot(w.node('Reshape', [row(table), w.ints([-1])]), every), row(mean)]); // [HW, HW]
          dense = dense ? w.node('Add', [dense, part]) : part;
        }
        laidOut(w.node('Unsqueeze', [dense, w.ints([0])]), 2, c.source, c.source); // [1, HW, HW]
        continue;
      }
      if (p.groups) {
        // [G, n, n] per group, laid out on the image [1, HW, HW]: the grouping replayed on position
        // ids says where each group position lies; a one-hot of it spreads the groups' rows and columns.
        const { grouped, via } = p.groups;
        const source = p.queryGrid as string;
        const hw = w.positionCount(source);
        const ids = w.node('Reshape', [w.node('Gather', [groupedIds(ix, w, source, grouped, via), w.ints([0])], { axis: 1 }), w.ints([-1])]); // [G n]
        const place = w.oneHot(ids, w.indices(hw)); // [G n, HW]
        const perGroup = w.node('Reshape', [place, w.node('Concat', [w.shapeSlice(v, 0, 2), hw], { axis: 0 })]); // [G, n, HW]
        const spread = w.node('Reshape', [w.node('MatMul', [v, perGroup]), w.node('Concat', [w.ints([-1]), hw], { axis: 0 })]); // [G n, HW]
        laidOut(w.node('Unsqueeze', [w.node('MatMul', [w.node('Transpose', [place], { perm: [1, 0] }), spread]), w.ints([0])]), 2, source, source); // [1, HW, HW]
        continue;
      }
      if (p.kind === 'criss-cross') {
        // [N, H, W, H + W] laid out densely [N, HW, HW]: a positional affinity like any other.
        laidOut(crissCrossDense(w, v, p.queryGrid as string), 3, p.keyGrid as string, p.queryGrid as string);
        continue;
      }
      if (p.chunked) {
        // [1, R, n, cs, k] per round and chunk, laid out on the image [1, HW, HW], round by round:
        // the sorting and chunking replayed on position ids say which position each query and key
        // slot holds; a one-hot of the key slots spreads each query slot's weights over positions,
        // the query slots' positions put the rows in image order (a Gather, not a product), and the
        // rounds' weights sum them.
        const { queries, values, weights, rounds } = p.chunked;
        const hw = w.positionCount(p.queryGrid as string);
        const every = w.indices(hw); // [HW]
        const ids = (source: string, target: string): string => w.node('Squeeze', [w.node('Gather', [replayIds(ix, w, source, target), w.ints([0])], { axis: -1 }), w.ints([0, -1])]);
        const querySlots = ids(p.queryGrid as string, queries); // [R, n, cs]: the position each query slot holds
        const keySlots = ids(p.keyGrid as string, values); // [R, n, k]
        const round = (x: string, r: number): string => w.node('Squeeze', [w.node('Gather', [x, w.ints([r])], { axis: 0 }), w.ints([0])]);
        const scores = w.node('Squeeze', [v, w.ints([0])]); // [R, n, cs, k]
        const roundWeights = w.node('Squeeze', [weights, w.ints([0])]); // [R, HW, 1]
        let sum = '';
        for (let r = 0; r < rounds; r++) {
          const rows = w.node('Reshape', [w.node('MatMul', [round(scores, r), w.oneHot(round(keySlots, r), every)]), w.node('Concat', [w.ints([-1]), hw], { axis: 0 })]); // [n cs, HW]
          const slotOf = w.node('ArgMax', [w.oneHot(w.node('Reshape', [round(querySlots, r), w.ints([-1])]), every)], { axis: 0, keepdims: 0 }); // [HW]: the slot holding each position
          const weighted = w.node('Mul', [w.node('Gather', [rows, slotOf], { axis: 0 }), round(roundWeights, r)]);
          sum = sum ? w.node('Add', [sum, weighted]) : weighted;
        }
        laidOut(w.node('Unsqueeze', [sum, w.ints([0])]), 4, p.keyGrid as string, p.keyGrid as string); // [1, HW, HW]
        continue;
      }
      if (p.pooled) {
        // [N, Q, K] over pooled keys, spread over the positions of the map they pool: [N, Q, HW].
        laidOut(spreadPooled(ix, w, v, p.keyGrid as string, p.pooled.pools), 2, p.keyGrid as string, p.queryGrid as string);
        continue;
      }
      // Rows are queries in every map the engine shows (RNL's code normalises over axis 1: keys first).
      const shown = p.keysFirst ? w.node('Transpose', [v], { perm: [0, 2, 1] }) : v;
      output(shown, `${module}.map.${p.map}`);
      if (c.type === 'gate') {
        const mulOut = c.mul.output?.[0] as string;
        const feat = shapes.get(c.feature) ?? [];
        if (c.softmax) {
          const axis = softmaxAxis(ix, c.op, opset, shapes.get(v)?.length ?? 0);
          rewire.set(v, w.node('Where', [bypass, w.mean(v, [axis], 1), v]));
        } else {
          rewire.set(mulOut, w.node('Where', [bypass, c.feature, mulOut]));
        }
        if (p.kind === 'channel-gate') {
          taps.set('channel', w.node('Flatten', [v], { axis: 1 }));
          if (feat.length === 4 && !taps.has('activation')) taps.set('activation', w.mean(mulOut, [1], 0));
        } else if (p.kind === 'spatial-gate') {
          taps.set('spatial', w.reshapeBatchTail(v, v, w.shapeSlice(v, -2, INT_MAX)));
        } else if ((shapes.get(v)?.length ?? 0) === 4) {
          taps.set('channel', w.mean(v, [2, 3], 0));
          taps.set('spatial', w.mean(v, [1], 0));
        }
        if (feat.length === 4 && !featureOut) featureOut = c.feature;
        continue;
      }
      const rank = shapes.get(v)?.length ?? 3;
      const axis = c.op.opType === 'Softmax' ? softmaxAxis(ix, c.op, opset, rank) : rank - 1;
      rewire.set(v, w.node('Where', [bypass, w.mean(v, [axis], 1), v]));
      if (p.kind === 'spatial-softmax') {
        taps.set('spatial', w.reshapeBatchTail(v, v, w.shapeSlice(p.keyGrid as string, 2, 4)));
      } else if (p.kind === 'affinity') {
        // [N, queries, keys]: classify() takes positional affinities from 3-D values only.
        taps.set('attention', w.reshapeBatchTail(w.mean(shown, [1], 0), v, w.shapeSlice(p.keyGrid as string, 2, 4)));
        taps.set('activation', w.mean(p.queryGrid as string, [1], 0));
        affinity = shown;
      } else if (p.kind === 'channel-affinity') {
        taps.set('channel', w.mean(v, [1], 0));
        taps.set('activation', w.mean(p.queryGrid as string, [1], 0));
      } else if (p.kind === 'heads' && p.queryGrid) {
        // Queries and keys on different grids: no class token; keys of a zero-padded map are cropped to the image.
        let rows = w.mean(v, [1], 0); // [N, Q, K], mean over heads
        let keyGrid = p.keyGrid as string;
        const pad = zeroPadding(ix, keyGrid);
        if (pad) {
          const full = w.node('Reshape', [rows, w.node('Concat', [w.shapeSlice(rows, 0, 2), w.shapeSlice(keyGrid, 2, 4)], { axis: 0 })]);
          const cropped = w.node('Slice', [full, w.ints([pad.top, pad.left]), w.ints([-pad.bottom || INT_MAX, -pad.right || INT_MAX]), w.ints([2, 3])]);
          rows = w.node('Reshape', [cropped, w.ints([0, 0, -1])]);
          keyGrid = pad.input;
        }
        taps.set('attention', w.reshapeBatchTail(w.mean(rows, [1], 0), v, w.shapeSlice(keyGrid, 2, 4)));
        taps.set('activation', w.mean(p.queryGrid, [1], 0));
        affinity = rows;
      } else if (p.kind === 'heads') {
        const m = w.mean(v, [1], 0); // [N, T, T], mean over heads
        const grid = w.shapeSlice(p.keyGrid as string, 2, 4);
        const pre = p.prefix ?? 0;
        const rows = pre ? w.node('Slice', [m, w.ints([pre, pre]), w.ints([INT_MAX, INT_MAX]), w.ints([1, 2])]) : m;
        const cls = pre ? w.node('Gather', [m, w.ints([0])], { axis: 1 }) : w.mean(rows, [1], 1);
        const clsKeys = w.node('Slice', [cls, w.ints([pre]), w.ints([INT_MAX]), w.ints([2])]);
        taps.set('attention', w.reshapeBatchTail(clsKeys, v, grid));
        taps.set('activation', w.mean(p.keyGrid as string, [1], 0));
        affinity = rows;
      }
    }
    const order: TapName[] = ['channel', 'spatial', 'attention', 'maps', 'weights', 'affine', 'grid', 'warped', 'activation'];
    const tapNames = order.filter((t) => taps.has(t));
    for (const t of tapNames) output(taps.get(t) as string, tapOutput(module, t));
    if (featureOut) output(featureOut, moduleInputOutput(module));
    if (affinity) output(affinity, affinityOutput(module));
    const first = list[0] as NamedPart;
    const stage = module.split('.')[0] as string;
    const kind = list.some((p) => p.kind === 'spatial-transform') ? 'stn' : list.some((p) => p.kind === 'heads') ? 'heads' : list.some((p) => p.kind === 'affinity' || p.kind === 'criss-cross' || p.kind === 'channel-affinity' || p.kind === 'spatial-softmax' || p.kind === 'components') ? 'affinity' : 'gate';
    modules.push({ name: module, kind, taps: tapNames, channels: first.channels, affinity: affinity !== null, stage });
    const scale = inputSize / probeSize;
    infos.push({ name: module, kind, stage, taps: tapNames, channels: first.channels, mapSize: [Math.round(first.mapSize[0] * scale), Math.round(first.mapSize[1] * scale)], parts: list.map((p) => p.kind), ...(featureOut ? {} : { noChannelMaps: true }) });
  }

  // Original consumers read the bypass switch's output; the new nodes read the originals.
  const original = graph.node.map((n) => ({ ...n, input: (n.input ?? []).map((i) => rewire.get(i) ?? i) }));
  const nodes = topoOrder([...original, ...w.added], () => new EngineError('internal', `${name}: rewriting the graph made a cycle.`));
  const rewritten: OnnxTypes.IModelProto = {
    ...model,
    graph: {
      ...graph,
      node: nodes,
      input: [...newInputs, ...graph.input.filter((v) => v.name !== image.name && !(layout === 'nchw' && image.name === INPUT && v.name === INPUT))],
      output: outputs,
      initializer: [...graph.initializer, ...w.initializers],
    },
  };
  const kinds = countKinds(parts);
  const headParts = parts.filter((p) => p.kind === 'heads');
  const prefix = headParts[0]?.prefix ?? 0;
  const rollout = headParts.length && prefix >= 1 && headParts.every((p) => p.prefix === prefix && shapes.get(p.candidate.value)?.[3] === shapes.get(headParts[0]?.candidate.value as string)?.[3])
    ? { layers: maps.filter((m) => m.kind === 'heads'), prefix } : null;
  if (rollout) {
    const last = infos.find((i) => i.name === headParts[headParts.length - 1]?.module) as ModuleInfo;
    infos.push({ name: ROLLOUT, kind: 'heads', stage: ROLLOUT, taps: ['spatial'], channels: last.channels, mapSize: last.mapSize, derived: true });
  }
  return {
    name,
    model: rewritten as OnnxTypes.ModelProto,
    modules,
    infos,
    maps,
    rejected,
    denseLimit,
    externalDir,
    inputSize,
    layout,
    dynamic,
    numClasses,
    classes: parseClasses(meta, numClasses, warnings),
    mean: parseTriple(meta.get('mean')),
    std: parseTriple(meta.get('std')),
    description: opts.description ? `${opts.description}: ${kinds || 'no attention found'}` : `ONNX model (opset ${opset}${model.producerName ? `, from ${model.producerName} ${model.producerVersion}` : ''}, input ${layout.toUpperCase()}${dynamic ? ', any size' : ` ${inputSize}x${inputSize}`}): ${kinds || 'no attention found'}`,
    warnings,
    rollout,
  };
}

/**
 * When `v` is a Pad of zeros on H and W only (constant mode, static pads), what it pads and by
 * how much: keys on the border are padding, not positions of the image.
 */
function zeroPadding(ix: GraphIndex, v: string): { input: string; top: number; left: number; bottom: number; right: number } | null {
  const n = ix.producer.get(v);
  if (n?.opType !== 'Pad' || !n.input?.[0] || !n.input[1]) return null;
  const mode = n.attribute?.find((a) => a.name === 'mode')?.s;
  if (mode && new TextDecoder().decode(mode as Uint8Array) !== 'constant') return null;
  if (n.input[2] && ix.scalarValue(n.input[2]) !== 0) return null;
  const pads = ix.numbers(n.input[1]);
  if (!pads || pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) return null;
  return { input: n.input[0], top: pads[2] as number, left: pads[3] as number, bottom: pads[6] as number, right: pads[7] as number };
}

/**
 * The graph with its own values renamed away from the names the engine gives its inputs and
 * outputs (`logits`, and `input` unless that is the image input itself), so the rewrite can
 * use them (a PyTorch export often names its output "logits").
 */
function reserveNames(graph: OnnxTypes.GraphProto): OnnxTypes.GraphProto {
  const imageIsInput = graph.input.some((v) => v.name === INPUT);
  const reserved = new Set([LOGITS, ...(imageIsInput ? [] : [INPUT])]);
  const used = new Set<string>();
  for (const n of graph.node) for (const o of n.output ?? []) used.add(o);
  if (![...reserved].some((r) => used.has(r))) return graph;
  const rename = (v: string): string => (reserved.has(v) ? `${v}:model` : v);
  return {
    ...graph,
    node: graph.node.map((n) => ({ ...n, input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) })),
    output: graph.output.map((o) => ({ ...o, name: rename(o.name as string) })),
  } as OnnxTypes.GraphProto;
}

/**
 * CCNet's attention [N, H, W, H + W] (each position's H column keys, then its W row keys) as a
 * dense [N, HW, HW] (row = query, column = key, row-major): A[(i, j), (g, u)] = col[i, j, g] where
 * u = j, plus row[i, j, u] where g = i (the column part's own position is the model's business:
 * CCNet masks it, so the self weight is the row part's). `grid` is the [N, C, H, W] map.
 */
function crissCrossDense(w: GraphWriter, v: string, grid: string): string {
  const h = w.shapeSlice(grid, 2, 3);
  const wd = w.shapeSlice(grid, 3, 4);
  const eye = (n: string): string => {
    const r = w.indices(n);
    return w.oneHot(r, r);
  };
  const col = w.node('Slice', [v, w.ints([0]), h, w.ints([3])]); // [N, H, W, H]
  const row = w.node('Slice', [v, h, w.ints([2 ** 31 - 1]), w.ints([3])]); // [N, H, W, W]
  const colEye = w.node('Unsqueeze', [eye(wd), w.ints([0, 1, 3])]); // [1, 1, W, 1, W]: u = j
  const rowEye = w.node('Unsqueeze', [eye(h), w.ints([0, 2, 4])]); // [1, H, 1, H, 1]: g = i
  const full = w.node('Add', [
    w.node('Mul', [w.node('Unsqueeze', [col, w.ints([4])]), colEye]),
    w.node('Mul', [w.node('Unsqueeze', [row, w.ints([3])]), rowEye]),
  ]); // [N, H, W, H, W]
  const hw = w.node('Mul', [h, wd]);
  return w.node('Reshape', [full, w.node('Concat', [w.ints([0]), hw, hw], { axis: 0 })]);
}

/**
 * Scores [N, Q, K] over the cells of pools of `map` [N, C, H, W] (in `pools`' order), spread
 * over map's positions [N, Q, HW]: each pool is replayed on a one-hot image per position
 * ([HW, 1, H, W]), which gives the weight of every position in every cell ([HW, K]).
 */
function spreadPooled(ix: GraphIndex, w: GraphWriter, v: string, map: string, pools: string[]): string {
  const hw = w.positionCount(map);
  const ids = w.indices(hw);
  const basis = w.node('Reshape', [w.oneHot(ids, ids), w.node('Concat', [hw, w.ints([1]), w.shapeSlice(map, 2, 4)], { axis: 0 })]); // [HW, 1, H, W]
  const cells = pools.map((o) => {
    const pool = ix.producer.get(o) as OnnxTypes.INodeProto;
    return w.node('Reshape', [w.raw(pool.opType as string, [basis], pool.attribute ?? []), w.node('Concat', [hw, w.ints([-1])], { axis: 0 })]);
  });
  const weights = cells.length > 1 ? w.node('Concat', cells, { axis: 1 }) : cells[0] as string; // [HW, K]
  return w.node('MatMul', [v, w.node('Transpose', [weights], { perm: [1, 0] })]);
}

/**
 * [1, H, W, 2]: the grid GridSample reads each output pixel's own position with (no transform),
 * H and W those of `grid` [N, H, W, 2]: x = (2 j + 1) / W - 1, or 2 j / (W - 1) - 1 with
 * align_corners.
 */
function identityGrid(w: GraphWriter, grid: string, align: boolean): string {
  const float = (v: string): string => w.node('Cast', [v], { to: DataType.FLOAT });
  const axis = (i: number): string => {
    const n = w.shapeSlice(grid, i, i + 1);
    const index = w.indices(n);
    const two = float(w.ints([2]));
    const one = float(w.ints([1]));
    const scaled = align
      ? w.node('Div', [w.node('Mul', [index, two]), w.node('Sub', [float(n), one])])
      : w.node('Div', [w.node('Add', [w.node('Mul', [index, two]), one]), float(n)]);
    return w.node('Sub', [scaled, one]);
  };
  const size = w.node('Concat', [w.shapeSlice(grid, 1, 3), w.ints([1])], { axis: 0 });
  const xs = w.node('Expand', [w.node('Unsqueeze', [axis(2), w.ints([0, 2])]), size]);
  const ys = w.node('Expand', [w.node('Unsqueeze', [axis(1), w.ints([1, 2])]), size]);
  return w.node('Unsqueeze', [w.node('Concat', [xs, ys], { axis: 2 }), w.ints([0])]);
}

function softmaxAxis(ix: GraphIndex, n: OnnxTypes.INodeProto, opset: number, rank: number): number {
  const axis = ix.attrInt(n, 'axis', opset >= 13 ? -1 : 1);
  return axis < 0 ? axis + rank : axis;
}

function countKinds(parts: NamedPart[]): string {
  const names: Record<PartKind, string> = {
    'channel-gate': 'channel gate', 'spatial-gate': 'spatial gate', gate: 'full gate', affinity: 'affinity',
    'channel-affinity': 'channel affinity', heads: 'attention heads layer', 'spatial-softmax': 'spatial softmax',
    components: 'set of component maps', 'spatial-transform': 'spatial transformer', 'criss-cross': 'criss-cross attention',
  };
  const counts = new Map<PartKind, number>();
  for (const p of parts) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${names[k]}${n === 1 ? '' : 's'}`).join(', ');
}

/** Class names from metadata_props: a JSON list, a JSON/Python dict {index: name}, or one name per line. */
export function parseClasses(meta: Map<string, string>, numClasses: number, warnings: string[]): string[] | null {
  const raw = meta.get('classes') ?? meta.get('labels') ?? meta.get('class_names') ?? meta.get('names');
  if (!raw) return null;
  let names: string[] | null = null;
  const text = raw.trim();
  try {
    const v = JSON.parse(text.startsWith('{') ? text.replace(/'/g, '"').replace(/([{,]\s*)(\d+)\s*:/g, '$1"$2":') : text) as unknown;
    if (Array.isArray(v)) names = v.map(String);
    else if (v && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      names = [];
      for (const [k, n] of entries) names[Number(k)] = String(n);
    }
  } catch {
    names = text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  }
  if (!names || names.length !== numClasses || names.some((n) => n === undefined)) {
    warnings.push(`The model's class names (${names?.length ?? 0}) do not match its ${numClasses} outputs; showing indices.`);
    return null;
  }
  return names;
}

function parseTriple(raw: string | undefined): [number, number, number] | null {
  if (!raw) return null;
  const v = raw.replace(/[[\]()]/g, '').split(/[,\s]+/).filter(Boolean).map(Number);
  return v.length === 3 && v.every((x) => Number.isFinite(x)) ? (v as [number, number, number]) : null;
}
