// Completes a partial NetSpec the way tools/torchref's normalise_spec does, so bench jobs
// and manifests can name just the essentials.

import type { NetSpec } from '../engine/nets/spec';

const STANDARD: Record<number, [number, number, number, number]> = {
  18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3],
};

export function normaliseSpec(s: Partial<NetSpec> & Record<string, unknown>): NetSpec {
  const depth = s.depth ?? 18;
  const block = s.block ?? (depth >= 50 ? 'bottleneck' : 'basic');
  const layers = (s.layers ?? STANDARD[depth]) as [number, number, number, number];
  const att = (s.attention ?? { kind: 'none' }) as NetSpec['attention'] & Record<string, unknown>;
  const attention = att.kind === 'none'
    ? att
    : { ...att, reduction: (att.reduction as number | undefined) ?? 16, attr: (att.attr as string | undefined) ?? (att.kind === 'cbam' && att.layout !== 'timm' ? 'cbam' : att.kind === 'gc' ? 'gc' : 'se') } as NetSpec['attention'];
  return {
    family: 'resnet',
    depth: layers.reduce((a, b) => a + b, 0) * (block === 'bottleneck' ? 3 : 2) + 2,
    block,
    layers,
    baseWidth: s.baseWidth ?? 64,
    stem: s.stem ?? 'imagenet',
    attention,
    inserts: s.inserts ?? [],
    numClasses: s.numClasses ?? 1000,
    ...(s.strides ? { strides: s.strides } : {}),
  };
}
