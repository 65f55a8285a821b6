// The ONNX importer on spatial transformers written two other ways than the stn-resnet fixture's
// (tools/make_onnx_fixtures.py): an affine grid made by a MatMul of a constant base grid with
// theta (how many STN implementations write affine_grid), whose theta must be found and equal
// the Gemm's output; and a flow field (a conv's output through Tanh), which has no theta: its
// grid and warped map are listed, no `affine`. Both run on ort and tfjs; the grid the engine
// reports is checked against the same arithmetic done here.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel, GraphBuilder } from '../../../engine/graph/builder';
import { DataType } from '../../../engine/graph/onnx';
import { Session } from '../../../engine/session';
import { maxAbsDiff } from './fixtureData';

const S = 8; // input size
const dir = mkdtempSync(join(tmpdir(), 'attnscope-sampler-'));
const sessions: Session[] = [];
afterAll(() => { for (const s of sessions) s.dispose(); });

let seed = 7;
const rand = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return (seed / 2147483648 - 0.5) * 2 * scale;
});

/** input [1, 3, S, S] -> conv 3->4 -> sampler -> GAP -> Gemm 4->3. */
function model(sampler: (g: GraphBuilder, fmap: string) => string): string {
  const g = new GraphBuilder('sampler');
  const x = g.input({ name: 'image', elemType: DataType.FLOAT, shape: [1, 3, S, S] });
  const fmap = g.node('Conv', [x, g.floats('conv.weight', rand(4 * 3 * 9, 0.4), [4, 3, 3, 3])], '/body/conv/Conv', { pads: [1, 1, 1, 1] });
  const warped = sampler(g, fmap);
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [warped], '/head/GlobalAveragePool')], '/head/Flatten');
  g.output(g.node('Gemm', [pooled, g.floats('fc.weight', rand(12, 0.5), [3, 4]), g.floats('fc.bias', rand(3, 0.1), [3])], '/head/fc/Gemm', { transB: 1 }), 'logits');
  return g.build() as never;
}

async function open(name: string, built: unknown, runtime: 'ort' | 'tfjs'): Promise<Session> {
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, encodeModel(built as never));
  const s = await Session.load({ kind: 'path', path }, { threads: 1, runtime });
  sessions.push(s);
  return s;
}

// theta = Gemm(GAP(fmap)) reshaped [1, 2, 3]; grid = base [1, S*S, 3] @ theta^T -> [1, S, S, 2].
const thetaW = rand(6 * 4, 0.3);
const thetaB = Float32Array.from([0.8, -0.2, 0.1, 0.25, 0.9, -0.1]);
const base = Float32Array.from({ length: S * S * 3 }, (_, i) => {
  const [p, c] = [Math.floor(i / 3), i % 3];
  const [row, col] = [Math.floor(p / S), p % S];
  return c === 0 ? (2 * col + 1) / S - 1 : c === 1 ? (2 * row + 1) / S - 1 : 1;
});
const affine = model((g, fmap) => {
  const feat = g.node('Flatten', [g.node('GlobalAveragePool', [fmap], '/stn/loc/GlobalAveragePool')], '/stn/loc/Flatten');
  const theta = g.node('Reshape', [g.node('Gemm', [feat, g.floats('stn.fc.weight', thetaW, [6, 4]), g.floats('stn.fc.bias', thetaB, [6])], '/stn/fc/Gemm', { transB: 1 }), g.ints([-1, 2, 3])], '/stn/Reshape');
  const points = g.node('MatMul', [g.floats('stn.base', base, [1, S * S, 3]), g.node('Transpose', [theta], '/stn/Transpose', { perm: [0, 2, 1] })], '/stn/MatMul');
  const grid = g.node('Reshape', [points, g.ints([-1, S, S, 2])], '/stn/Reshape_1');
  return g.node('GridSample', [fmap, grid], '/stn/GridSample', { align_corners: 0 });
});
const flow = model((g, fmap) => {
  const f = g.node('Conv', [fmap, g.floats('warp.weight', rand(2 * 4 * 9, 0.3), [2, 4, 3, 3])], '/warp/flow/Conv', { pads: [1, 1, 1, 1] });
  const grid = g.node('Transpose', [g.node('Tanh', [f], '/warp/Tanh')], '/warp/Transpose', { perm: [0, 2, 3, 1] });
  return g.node('GridSample', [fmap, grid], '/warp/GridSample', { align_corners: 0 });
});

describe('ONNX import: spatial transformers', () => {
  for (const runtime of ['ort', 'tfjs'] as const) {
    it(`an affine grid made by a MatMul with theta: theta is found and listed (${runtime})`, async () => {
      const s = await open('affine', affine, runtime);
      expect(s.imported?.maps.map((m) => `${m.module}:${m.map}`).sort()).toEqual(['stn:affine', 'stn:grid', 'stn:warped']);
      const input = rand(S * S * 3, 1);
      const r = await s.run({ image: { kind: 'input', name: 'x', input, size: S } });
      const theta = r.maps?.find((m) => m.map === 'affine');
      const grid = r.maps?.find((m) => m.map === 'grid');
      expect(theta?.shape).toEqual([2, 3]);
      expect(grid?.shape).toEqual([S, S, 2]);
      // The grid is base @ theta^T: what theta says, position by position.
      const t = theta?.data as Float32Array;
      const want = new Float32Array(S * S * 2);
      for (let p = 0; p < S * S; p++) {
        for (let k = 0; k < 2; k++) want[p * 2 + k] = (t[k * 3] as number) * (base[p * 3] as number) + (t[k * 3 + 1] as number) * (base[p * 3 + 1] as number) + (t[k * 3 + 2] as number);
      }
      expect(maxAbsDiff(grid?.data as Float32Array, want)).toBeLessThan(1e-5);
      // And theta is the Gemm's output, not some other [1, 2, 3]-shaped value: its bias dominates here.
      expect(maxAbsDiff(t, thetaB)).toBeLessThan(0.5);
      expect(r.taps.find((x) => x.tap === 'affine')?.shape).toEqual([2, 3]);
    });

    it(`a flow field (a conv through Tanh) has no theta: grid and warped only (${runtime})`, async () => {
      const s = await open('flow', flow, runtime);
      expect(s.imported?.maps.map((m) => `${m.module}:${m.map}`).sort()).toEqual(['warp:grid', 'warp:warped']);
      const r = await s.run({ image: { kind: 'input', name: 'x', input: rand(S * S * 3, 1), size: S } });
      const grid = r.maps?.find((m) => m.map === 'grid')?.data as Float32Array;
      expect(Math.max(...grid.map(Math.abs))).toBeLessThan(1); // tanh
      expect(r.taps.some((x) => x.tap === 'affine')).toBe(false);
      expect(r.taps.find((x) => x.tap === 'grid')?.shape).toEqual([S, S, 2]);
    });
  }
});
