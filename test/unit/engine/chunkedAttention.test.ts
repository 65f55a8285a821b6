// Non-local blocks above the keep size run in blocks of query rows (modules/nonLocal.ts, the
// If node's chunked branch): the same taps and logits as PyTorch, no whole affinity, and any
// query's row from the block's rows graph (fed the block's input) equal to the whole
// affinity's row. Forced here on
// the fixtures' small inputs by a keep size of 0 and blocks of a few rows (the last block
// padded), on both runtimes.
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { affinityOutput, affinityRowsOutput, LOGITS, moduleInputOutput, tapOutput } from '../../../engine/graph/names';
import { emitResNet, type GraphOptions } from '../../../engine/nets/resnet';
import { createRunner } from '../../../engine/runtimes';
import type { OutputTensor, RuntimeName } from '../../../engine/runtimes/types';
import type { BackendChoice } from '../../../engine/backend';
import { FIXTURES, fixtureCases, maxAbsDiff, readCase, readSafetensors } from './fixtureData';

const nlCases = fixtureCases().filter((c) => readCase(c).spec.inserts.some((i) => i.kind === 'nonlocal'));

async function run(name: string, runtime: RuntimeName, backend: BackendChoice | undefined, opts: GraphOptions, rows: number[]) {
  const fc = readCase(name);
  const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
  const weights = (await openCheckpointFile(join(FIXTURES, name, 'model.safetensors'))).tensors;
  const graph = emitResNet(fc.spec, weights, name, opts);
  const runner = await createRunner(graph.model, graph.modules.map((m) => m.name), { runtime, ...(backend ? { backend } : {}) });
  const nl = graph.modules.filter((m) => m.affinity).map((m) => m.name);
  const fetch = [LOGITS, ...graph.modules.flatMap((m) => m.taps.map((t) => tapOutput(m.name, t))),
    ...nl.flatMap((m) => [affinityOutput(m), moduleInputOutput(m)])];
  const input = expected.get('input')!;
  try {
    const out = await runner.run({ input: { data: input.data, dims: input.shape }, bypass: new Set(fc.bypass), fetch });
    // Each block's rows graph, fed the input the block received in this run.
    for (const m of graph.modules.filter((x) => x.rowsModel)) {
      const rowsRunner = await createRunner(m.rowsModel!, [], { runtime, ...(backend ? { backend } : {}) });
      try {
        const x = out.get(moduleInputOutput(m.name))!;
        const r = await rowsRunner.run({ input: { data: x.data, dims: x.dims }, bypass: new Set(), fetch: [affinityRowsOutput(m.name)], queryRows: new Map([[m.name, rows]]) });
        out.set(affinityRowsOutput(m.name), r.get(affinityRowsOutput(m.name))!);
      } finally {
        await rowsRunner.dispose();
      }
    }
    return { fc, expected, out, nl };
  } finally {
    await runner.dispose();
  }
}

const rowsOf = (a: OutputTensor, rows: number[]): Float32Array => {
  const k = a.dims[2] as number;
  return Float32Array.from(rows.flatMap((r) => Array.from(a.data.subarray(r * k, (r + 1) * k))));
};

const matrix = nlCases.flatMap((c) => [['ort', c], ['tfjs-wasm', c]] as const);

describe('non-local blocks in row blocks', () => {
  test('there are non-local fixtures', () => expect(nlCases.length).toBeGreaterThanOrEqual(8));

  test.each(matrix)('%s: %s chunked matches PyTorch and the whole affinity', async (where, name) => {
    const [runtime, backend] = where.split('-') as [RuntimeName, BackendChoice | undefined];
    const fc = readCase(name);
    const aff = readSafetensors(join(FIXTURES, name, 'expected.safetensors')).get(affinityOutput(fc.affinityModule!))!;
    const [queries, keys] = aff.shape as [number, number];
    const rows = [0, queries - 1, Math.floor(queries / 2) + 1];
    // 3 rows a block of the fixture's module: Q is no multiple of 3 in these cases, so the last block is padded.
    const chunked = await run(name, runtime, backend, { keepAffinityBytes: 0, chunkBytes: 3 * keys * 4 }, rows);
    const whole = await run(name, runtime, backend, {}, rows);
    for (const [key, exp] of chunked.expected) {
      if (key === 'input' || key.endsWith('.affinity') || key.endsWith('.input')) continue;
      const got = chunked.out.get(key);
      expect(got, key).toBeDefined();
      expect(maxAbsDiff(got!.data, exp.data), key).toBeLessThanOrEqual(1e-4);
    }
    for (const m of chunked.nl) {
      // No whole affinity on the chunked path...
      expect(chunked.out.get(affinityOutput(m))!.data.length).toBe(0);
      // ...and the rows path gives the whole affinity's rows.
      const wholeA = whole.out.get(affinityOutput(m))!;
      const got = chunked.out.get(affinityRowsOutput(m))!;
      expect(got.dims).toEqual([1, rows.length, wholeA.dims[2]]);
      expect(maxAbsDiff(got.data, rowsOf(wholeA, rows))).toBeLessThanOrEqual(1e-6);
      if (m === fc.affinityModule) expect(maxAbsDiff(got.data, rowsOf({ data: aff.data, dims: [1, queries, keys] }, rows))).toBeLessThanOrEqual(1e-4);
    }
    expect(queries % 3, 'the last block is padded').not.toBe(0);
  });
});

afterAll(async () => {
  await initBackend('wasm');
});
