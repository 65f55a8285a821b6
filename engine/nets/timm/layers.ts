// The pieces timm's ImageNet families share (engine/nets/timm/*): block counting from the
// keys, the residual add, the classifier head.

import type { GraphBuilder } from '../../graph/builder';
import { stageOutput } from '../../graph/names';
import { type Emit, globalAvg, linear, type WeightReader } from '../../modules/layers';
import { type Act, activate, type Feature } from '../../modules/convBn';

/** Block counts of `prefix<i>.<j>.` stages: how many `j` under each `i` the keys have. */
export function countBlocks(keys: Iterable<string>, pattern: RegExp): Map<number, number> {
  const counts = new Map<number, number>();
  for (const k of keys) {
    const m = pattern.exec(k);
    if (!m) continue;
    const stage = Number(m[1]);
    counts.set(stage, Math.max(counts.get(stage) ?? 0, Number(m[2]) + 1));
  }
  return counts;
}

/** Names stage `k`'s (1-4) output for class evidence (stage 4's is `features`, which the head reads). */
export function markStage(g: GraphBuilder, x: Feature, k: number): Feature {
  return { ...x, y: g.output(x.y, stageOutput(k)) };
}

/** The classifier's weight as CAM reads it. */
export function headWeight(w: WeightReader, name: string): Float32Array {
  return Float32Array.from(w.get(`${name}.weight`).data);
}

export function residual(e: Emit, y: string, shortcut: string, act: Act = 'relu'): string {
  const sum = e.g.node('Add', [y, shortcut], `${e.scope}/Add`);
  return activate(e, sum, act);
}

/** Global average pool then `<name>` as a linear layer: the classifier head. */
export function classifier(e: Emit, name: string, x: Feature): string {
  return linearHead(e, name, globalAvg(e, x.y), x.c);
}

/** `<name>.weight` [classes, features] (+ bias when the checkpoint has one) on [N, features]. */
export function linearHead(e: Emit, name: string, x: string, features: number): string {
  return linear(e, name, x, { bias: e.w.has(`${name}.bias`), shape: [-1, features] }).y;
}
