// The attention graph against PyTorch (tools/torchref via tools/make_fixtures.py), on both
// runtimes: every tap of every case, the logits and non-local affinities within 1e-4 max
// abs (DESIGN.md "Numerics").
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { affinityOutput, affinityStepOutput, LOGITS, tapOutput } from '../../../engine/graph/names';
import { emitResNet } from '../../../engine/nets/resnet';
import { createRunner } from '../../../engine/runtimes';
import type { RuntimeName } from '../../../engine/runtimes/types';
import type { BackendChoice } from '../../../engine/backend';
import { FIXTURES, fixtureCases, maxAbsDiff, readCase, readSafetensors } from './fixtureData';

const TOLERANCE = 1e-4;
const cases = fixtureCases();
const FORMATS = ['model.safetensors', 'model.pth', 'model.pth.tar'] as const;

async function runCase(name: string, file: string, runtime: RuntimeName, backend?: BackendChoice): Promise<Record<string, number>> {
  const fc = readCase(name);
  const expected = readSafetensors(join(FIXTURES, name, 'expected.safetensors'));
  // Through the engine's own readers, so each checkpoint format is covered end to end.
  const weights = (await openCheckpointFile(join(FIXTURES, name, file))).tensors;
  const graph = emitResNet(fc.spec, weights);
  const runner = await createRunner(graph.model, graph.modules.map((m) => m.name), { runtime, ...(backend ? { backend } : {}) });
  const input = expected.get('input')!;
  const fetch = [LOGITS, ...graph.modules.flatMap((m) => [
    ...m.taps.map((t) => tapOutput(m.name, t)),
    ...(m.affinity ? [affinityOutput(m.name)] : []),
    ...(m.affinitySteps?.steps ?? []).map((_, i) => affinityStepOutput(m.name, i + 1)),
  ])];
  const errors: Record<string, number> = {};
  try {
    const out = await runner.run({ input: { data: input.data, dims: input.shape }, bypass: new Set(fc.bypass), fetch });
    for (const key of fetch) {
      const got = out.get(key)!;
      const exp = expected.get(key);
      if (!exp && key.endsWith('.affinity')) continue; // fixtures hold the affinity of one module (case.json affinityModule)
      // Graph outputs carry the batch dimension; fixtures do not (logits: [numClasses]).
      const ok = exp && JSON.stringify([1, ...exp.shape]) === JSON.stringify(got.dims);
      errors[key] = ok ? maxAbsDiff(got.data, exp.data) : Infinity;
    }
    // Every tap the fixture has is produced.
    for (const key of Object.keys(fc.taps)) if (!(key in errors)) errors[key] = Infinity;
  } finally {
    await runner.dispose();
  }
  return errors;
}

// ort and tfjs-wasm: every case in every checkpoint format; tfjs-cpu: every case from safetensors.
const matrix = [
  ...cases.flatMap((c) => FORMATS.map((f) => ['ort', c, f] as const)),
  ...cases.flatMap((c) => FORMATS.map((f) => ['tfjs-wasm', c, f] as const)),
  ...cases.map((c) => ['tfjs-cpu', c, FORMATS[0]] as const),
];
const worstSeen = new Map<string, number>();

describe('numerics', () => {
  test('there are fixtures', () => expect(cases.length).toBeGreaterThanOrEqual(17));
  test.each(matrix)('%s: %s (%s) matches PyTorch', async (where, name, file) => {
    const [runtime, backend] = where.split('-') as [RuntimeName, BackendChoice | undefined];
    const errors = await runCase(name, file, runtime, backend);
    const worst = Math.max(...Object.values(errors));
    if (worst > TOLERANCE) console.log(name, where, file, errors);
    worstSeen.set(where, Math.max(worstSeen.get(where) ?? 0, worst));
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
});

afterAll(async () => {
  if (process.env.ATTNSCOPE_REPORT_NUMERICS) console.log('worst max abs error per runtime', Object.fromEntries(worstSeen));
  await initBackend('wasm');
});
