// What the ONNX importer's own layouts cost a run: attention the model never forms whole (ISANet's
// groups, SAN's footprints, ANN's pooled keys, NLSA's sorted chunks, CCNet's criss-cross) is
// laid out on the image inside the rewritten graph, every run. Per ONNX fixture, same process,
// ONNX Runtime on the CPU: (a) the exported model as it is (logits only), (b) the importer's
// graph fetching logits only, (c) the importer's graph fetching every map it lists (what the app
// runs). Interleaved, median over rounds; at the fixture's size and, where the input is dynamic,
// at twice and four times it (the layouts grow with the 4th power of the size).
//
//   node dist/bench/importLayouts.js [--rounds 15] [--threads 1]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LOGITS } from '../engine/graph/names';
import { importOnnx } from '../engine/import';
import { createRunner, probeShapes } from '../engine/runtimes';
import { args, describeMachine, machine, median, table, writeResult } from './lib';

const DIR = join(process.cwd(), 'test', 'fixtures', 'onnx');
/** Fixture -> the size it is opened at (NLSA's layout is listed from 32 px up to 64). */
const CASES: Record<string, number> = { isanet: 32, 'san-resnet': 32, 'ann-afnb': 64, 'ann-apnb': 32, 'nlsa-resnet': 32, ccnet: 32, 'cbam-resnet': 32 };

async function main(): Promise<void> {
  const a = args();
  const rounds = Number(a.get('rounds') ?? 15);
  const threads = Number(a.get('threads') ?? 1);
  const rows: Array<Array<string | number>> = [];
  for (const [name, size] of Object.entries(CASES)) {
    const bytes = new Uint8Array(readFileSync(join(DIR, name, 'model.onnx')));
    const imported = await importOnnx(bytes, name, join(DIR, name, 'model.onnx'), probeShapes, { inputSize: size });
    const runner = await createRunner(imported.model, imported.modules.map((m) => m.name), { runtime: 'ort', threads });
    const plain = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const inputName = plain.inputNames[0] as string;
    const maps = imported.maps.map((m) => m.output);
    const sizes = imported.dynamic ? [size, size * 2, size * 4].filter((s) => !imported.denseLimit || s <= imported.denseLimit.size) : [size];
    for (const s of sizes) {
      const dims = imported.layout === 'nhwc' ? [1, s, s, 3] : [1, 3, s, s];
      const data = Float32Array.from({ length: 3 * s * s }, (_, i) => Math.sin(i * 0.37));
      const variants: Record<string, () => Promise<unknown>> = {
        'exported model': () => plain.run({ [inputName]: new ort.Tensor('float32', data, dims) }),
        'importer graph, logits': () => runner.run({ input: { data, dims: [1, 3, s, s] }, bypass: new Set(), fetch: [LOGITS] }),
        'importer graph, every map': () => runner.run({ input: { data, dims: [1, 3, s, s] }, bypass: new Set(), fetch: [LOGITS, ...maps] }),
      };
      const times = new Map<string, number[]>();
      for (let r = -2; r < rounds; r++) {
        for (const [k, run] of Object.entries(variants)) {
          const t0 = performance.now();
          await run();
          if (r >= 0) times.set(k, [...(times.get(k) ?? []), performance.now() - t0]);
        }
      }
      const base = median(times.get('exported model') as number[]);
      const mapped = median(times.get('importer graph, every map') as number[]);
      rows.push([name, s, imported.maps.length, base, median(times.get('importer graph, logits') as number[]), mapped, mapped / base]);
    }
    await runner.dispose();
    await plain.release();
  }
  console.log(`importLayouts: ort ${threads} thread(s), ${rounds} interleaved rounds; ${describeMachine(machine())}`);
  console.log(table(['fixture', 'px', 'maps', 'exported ms', 'importer, logits ms', 'importer, every map ms', 'x exported'], rows));
  writeResult('importLayouts', { threads, rounds, machine: machine(), rows });
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
