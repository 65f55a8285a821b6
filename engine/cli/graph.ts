// `attnscope graph --out model.onnx`: writes a model's attention graph (DESIGN.md "One
// graph, two runtimes") as a standard ONNX file: the network with every tap as a named
// output and a bypass input per module. Netron shows it; onnxruntime or any ONNX tool runs it.

import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EngineError } from '../errors';
import { encodeModel } from '../graph/builder';
import { defaultModelsDir, Session } from '../session';
import { modelSource } from './commonOptions';

export const GRAPH_USAGE = `attnscope graph --out FILE.onnx [--weights FILE | --model NAME] [--arch NAME]

Writes the model's attention graph as an ONNX file (opset 17):
  input            float32 [batch, 3, height, width], normalised, NCHW
  <module>.bypass  bool scalar per attention module (true: the module passes its input on)
  logits           [batch, classes]
  <module>.<tap>   every tap, batch first ([N, C] channel, [N, H, W] maps)
  <module>.input, <module>.affinity, features   module inputs, non-local affinities, last stage
A non-local affinity over 16 MB is computed in blocks of query rows (an If node chooses by
size) and <module>.affinity is then empty; the engine computes a clicked query's row from
<module>.input in a small graph of its own.`;

export async function graph(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' }, weights: { type: 'string', short: 'w' }, model: { type: 'string' },
      arch: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(GRAPH_USAGE); return 0; }
  const usage = (msg: string): EngineError => new EngineError('bad-request', msg, 'See `attnscope graph --help`.');
  if (!values.out) throw usage('--out FILE.onnx is required.');
  if (values.weights && values.model) throw usage('Give --weights or --model, not both.');
  const modelsDir = defaultModelsDir();
  const source = modelSource(values, modelsDir);
  const session = await Session.load(source, { modelsDir, ...(values.arch ? { arch: values.arch } : {}) });
  try {
    const bytes = encodeModel(session.graph.model);
    const out = resolve(values.out);
    await writeFile(out, bytes);
    const taps = session.graph.modules.reduce((n, m) => n + m.taps.length, 0);
    console.log(`Wrote ${out}: ${session.info.arch}, ${session.graph.modules.length} attention modules, ${taps} taps, ${(bytes.length / 1e6).toFixed(1)} MB`);
    return 0;
  } finally {
    session.dispose();
  }
}
