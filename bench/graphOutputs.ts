// What the attention graph's extra outputs cost ONNX Runtime: the same CBAM ResNet-50 graph
// (a) as the engine builds it (taps, module inputs, features as outputs), (b) with only
// the taps and logits as outputs, each fetched (1) with every tap, (2) logits only.
// Runs interleaved, one pass of each variant in turn, median over rounds.
//
//   node dist/bench/graphOutputs.js [--model cbam-resnet50] [--rounds 15] [--threads 1]

import { openCheckpointFile } from '../engine/checkpoints';
import { LOGITS, tapOutput } from '../engine/graph/names';
import type { OnnxTypes } from '../engine/graph/onnx';
import { emitResNet } from '../engine/nets/resnet';
import { createRunner } from '../engine/runtimes';
import { normaliseSpec } from './spec';
import { args, describeMachine, machine, median, table, writeResult } from './lib';
import { BENCH_MODELS, benchWeights } from './weights';

/** The model with its aux outputs (module inputs, affinities, features) no longer graph outputs. */
function tapsOnly(model: OnnxTypes.ModelProto, keep: Set<string>): OnnxTypes.ModelProto {
  const graph = model.graph as OnnxTypes.IGraphProto;
  const output = (graph.output ?? []).filter((o) => keep.has(o.name as string));
  const produced = new Set(output.map((o) => o.name as string));
  const used = new Set((graph.node ?? []).flatMap((n) => n.input ?? []));
  // Identity nodes that only fed a dropped output go too.
  const node = (graph.node ?? []).filter((n) => !(n.opType === 'Identity' && !produced.has((n.output ?? [])[0] as string) && !used.has((n.output ?? [])[0] as string)));
  return { ...model, graph: { ...graph, output, node } } as OnnxTypes.ModelProto;
}

async function main(): Promise<void> {
  const a = args();
  const name = a.get('model') ?? 'cbam-resnet50';
  const rounds = Number(a.get('rounds') ?? 15);
  const threads = Number(a.get('threads') ?? 1);
  const job = BENCH_MODELS[name];
  if (!job) throw new Error(`unknown model ${name}`);
  const weights = benchWeights(name);
  const graph = emitResNet(normaliseSpec(job.spec), (await openCheckpointFile(weights.path)).tensors);
  const taps = graph.modules.flatMap((m) => m.taps.map((t) => tapOutput(m.name, t)));
  const keep = new Set([LOGITS, ...taps]);
  const bypass = graph.modules.map((m) => m.name);
  const variants = {
    'engine graph': await createRunner(graph.model, bypass, { runtime: 'ort', threads }),
    'taps-only graph': await createRunner(tapsOnly(graph.model, keep), bypass, { runtime: 'ort', threads }),
  };
  const input = { data: Float32Array.from({ length: 3 * job.size * job.size }, (_, i) => Math.sin(i)), dims: [1, 3, job.size, job.size] };
  const fetches = { 'every tap': [LOGITS, ...taps], 'logits only': [LOGITS] };
  const times = new Map<string, number[]>();
  for (let r = -2; r < rounds; r++) {
    for (const [vn, runner] of Object.entries(variants)) {
      for (const [fn, fetch] of Object.entries(fetches)) {
        const t0 = performance.now();
        await runner.run({ input, bypass: new Set(), fetch });
        const dt = performance.now() - t0;
        if (r >= 0) times.set(`${vn}|${fn}`, [...(times.get(`${vn}|${fn}`) ?? []), dt]);
      }
    }
  }
  for (const r of Object.values(variants)) await r.dispose();
  const base = median(times.get('taps-only graph|every tap') as number[]);
  const rows = [...times].map(([k, v]) => [...k.split('|'), median(v), Math.min(...v), median(v) / base]);
  console.log(`graphOutputs: ${name} at ${job.size} px, ort ${threads} thread(s), ${rounds} interleaved rounds; ${describeMachine(machine())}`);
  console.log(table(['graph', 'fetch', 'median ms', 'min ms', 'x taps-only/every tap'], rows as Array<Array<string | number>>));
  writeResult('graphOutputs', { model: name, threads, rounds, machine: machine(), rows });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
