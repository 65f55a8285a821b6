// Reading an .onnx file someone else wrote (issue 14): the official onnx.proto through
// protobufjs (graph/onnx.ts), then every check a hostile file needs before anything runs:
// lengths (protobufjs refuses a length past the end), element counts, external-data paths
// that would leave the model's folder, cycles. ONNX Runtime reads external data itself
// (session.model_external_initializers_file_folder_path), only after these checks.

import { closeSync, fstatSync, lstatSync, openSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { EngineError } from '../errors';
import { onnx, type OnnxTypes, toInt } from '../graph/onnx';
import { topoOrder } from './graphEdit';

/** A protobuf ModelProto cannot exceed 2 GiB; larger models keep their weights in external data. */
export const MAX_PROTO_BYTES = 2 ** 31 - 1;
/** No tensor, declared input or initializer may hold more elements than this (16 G floats: 64 GB). */
export const MAX_ELEMENTS = 2 ** 34;
/** Nodes in one graph, subgraphs included. */
export const MAX_NODES = 1_000_000;

export interface OnnxFile {
  model: OnnxTypes.ModelProto;
  /** The folder external data is read from (the model's own), or null when the model has none. */
  externalDir: string | null;
  /** External data files and bytes they supply. */
  externalFiles: string[];
}

/** Whether bytes (a file's first bytes) look like an ONNX ModelProto: field 1 (ir_version, varint) first. */
export function looksLikeOnnx(head: Uint8Array, name: string): boolean {
  if (/\.onnx$/i.test(name)) return true;
  // ModelProto as exporters write it starts with ir_version (tag 0x08) then a small version.
  return head.length > 4 && head[0] === 0x08 && (head[1] as number) >= 3 && (head[1] as number) <= 12 && head[2] === 0x12;
}

/** Decodes and checks a model. `path` is where it was read from (for external data), or null for bytes. */
export function parseOnnx(bytes: Uint8Array, name: string, path: string | null): OnnxFile {
  if (bytes.length === 0) throw new EngineError('bad-model', `${name}: the file is empty (0 bytes).`);
  if (bytes.length > MAX_PROTO_BYTES) throw new EngineError('bad-model', `${name}: ${bytes.length} bytes is larger than a protobuf can be (2 GiB).`, 'Save the model with external data (onnx.save(..., save_as_external_data=True)).');
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new EngineError('bad-model', `${name}: not a valid ONNX file: ${(err as Error).message}.`, 'Expected a model saved by torch.onnx.export or onnx.save.');
  }
  const graph = model.graph;
  if (!graph || !graph.node?.length) throw new EngineError('bad-model', `${name}: not an ONNX model: it has no graph${graph ? ' nodes' : ''}.`, 'Expected a model saved by torch.onnx.export or onnx.save.');
  const ai = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!ai) throw new EngineError('bad-model', `${name}: the model imports no standard ONNX opset.`);
  const opset = toInt(ai.version);
  if (opset < 7 || opset > 23) throw new EngineError('bad-model', `${name}: opset ${opset} is outside what ONNX Runtime reads (7 to 23).`);

  let nodes = 0;
  const external = new Map<string, number>();
  const visit = (g: OnnxTypes.IGraphProto, where: string): void => {
    nodes += g.node?.length ?? 0;
    if (nodes > MAX_NODES) throw new EngineError('bad-model', `${name}: more than ${MAX_NODES} nodes.`);
    for (const t of [...(g.initializer ?? []), ...(g.sparseInitializer ?? []).map((s) => s.values).filter((v): v is OnnxTypes.ITensorProto => !!v)]) {
      checkTensor(t, name, external);
    }
    for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) {
      const dims = v.type?.tensorType?.shape?.dim ?? [];
      let count = 1;
      for (const d of dims) {
        const n = d.dimValue === null || d.dimValue === undefined ? 1 : toInt(d.dimValue as number);
        if (n < 0) throw new EngineError('bad-model', `${name}: "${v.name}" declares a negative dimension (${n}).`);
        count *= Math.max(n, 1);
      }
      if (count > MAX_ELEMENTS) throw new EngineError('bad-model', `${name}: "${v.name}" declares ${count.toExponential(1)} elements, more than any machine holds (limit ${MAX_ELEMENTS.toExponential(1)}).`);
    }
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        if (a.t) checkTensor(a.t, name, external);
        for (const t of a.tensors ?? []) checkTensor(t, name, external);
        if (a.g) visit(a.g, `${where}/${n.name}`);
        for (const sg of a.graphs ?? []) visit(sg, `${where}/${n.name}`);
      }
    }
  };
  visit(graph, '');
  checkAcyclic(graph, name);

  let externalDir: string | null = null;
  const externalFiles: string[] = [];
  if (external.size) {
    if (!path) throw new EngineError('bad-model', `${name}: the model keeps its weights in external data files (${[...external.keys()].slice(0, 3).join(', ')}), which come only with a file on disk.`, 'Open the .onnx file from its folder, with its data files beside it.');
    externalDir = realpathSync(dirname(path));
    for (const [location, end] of external) {
      const file = checkExternalPath(location, externalDir, name);
      const fd = openSync(file, 'r');
      try {
        const size = fstatSync(fd).size;
        if (end > size) throw new EngineError('bad-model', `${name}: external data "${location}" is ${size} bytes, but the model reads up to byte ${end}.`, 'The data file is truncated or belongs to another model.');
      } finally {
        closeSync(fd);
      }
      externalFiles.push(file);
    }
  }
  return { model, externalDir, externalFiles };
}

const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

function checkTensor(t: OnnxTypes.ITensorProto, name: string, external: Map<string, number>): void {
  let count = 1;
  for (const d of t.dims ?? []) {
    const n = toInt(d as number);
    if (n < 0) throw new EngineError('bad-model', `${name}: tensor "${t.name}" has a negative dimension (${n}).`);
    count *= n;
  }
  if (count > MAX_ELEMENTS) throw new EngineError('bad-model', `${name}: tensor "${t.name}" declares ${count.toExponential(1)} elements (limit ${MAX_ELEMENTS.toExponential(1)}).`);
  const width = ELEMENT_BYTES[t.dataType ?? 0];
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const entry = new Map((t.externalData ?? []).map((e) => [e.key, e.value]));
    const location = entry.get('location');
    if (!location) throw new EngineError('bad-model', `${name}: tensor "${t.name}" is external but names no file.`);
    const offset = Number(entry.get('offset') ?? 0);
    const length = entry.get('length') !== undefined ? Number(entry.get('length')) : width ? count * width : 0;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new EngineError('bad-model', `${name}: tensor "${t.name}" has a bad external offset or length.`);
    }
    if (width && length !== count * width) throw new EngineError('bad-model', `${name}: tensor "${t.name}" needs ${count * width} bytes but its external data says ${length}.`);
    external.set(location, Math.max(external.get(location) ?? 0, offset + length));
    return;
  }
  if (t.rawData && t.rawData.length && width && t.rawData.length !== count * width) {
    throw new EngineError('bad-model', `${name}: tensor "${t.name}" has ${t.rawData.length} bytes of data for ${count} elements of ${width} bytes.`);
  }
}

/**
 * The file an external-data location names, if it stays inside the model's folder: no
 * absolute path, no `..`, and no symbolic link anywhere on the way out of the folder.
 */
export function checkExternalPath(location: string, dir: string, name: string): string {
  const refuse = (why: string): never => {
    throw new EngineError('bad-model', `${name}: refused external data "${location}": ${why}.`, 'External data files must sit in the model\'s own folder (or below it).');
  };
  if (location.includes('\0')) refuse('the path contains a NUL byte');
  if (isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith('\\')) refuse('it is an absolute path');
  const norm = normalize(location);
  if (norm.split(/[\\/]/).includes('..')) refuse('it leaves the model\'s folder (..)');
  const file = join(dir, norm);
  let real: string;
  try {
    if (lstatSync(file).isSymbolicLink()) refuse('it is a symbolic link');
    real = realpathSync(file);
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw new EngineError('bad-model', `${name}: its external data file "${location}" is missing beside the model (${basename(dir)}${sep}).`, 'Copy the .onnx file together with its data files.');
  }
  if (!real.startsWith(dir + sep)) refuse('it resolves outside the model\'s folder');
  return real;
}

/** Refuses a graph whose nodes depend on each other in a cycle (ONNX graphs are DAGs). */
function checkAcyclic(graph: OnnxTypes.IGraphProto, name: string): void {
  topoOrder(graph.node ?? [], (n) => new EngineError('bad-model', `${name}: the graph has a cycle through node "${n.name || n.opType}".`, 'ONNX graphs must be acyclic; the file is corrupt or hand-edited.'));
}
