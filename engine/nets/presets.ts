// Architecture names for `--arch` (and manifests that prefer a name over a full NetSpec):
//   resnet<depth>[-cifar][-cbam|-cbam-timm|-se|-se-linear|-gc][-bam][-nl<k>[-<mode>][-sub]][-gc<k>]...
// e.g. `resnet50-cbam`, `resnet18-cifar-cbam-timm`, `resnet50-bam`, `resnet50-nl3-embedded-sub`.
// Sizes the name cannot carry (base width, number of classes) come from the weights.

import type { StateDict } from '../checkpoints/types';
import { EngineError } from '../errors';
import type { BlockAttention, InsertedBlock, NetSpec, NonLocalMode } from './spec';

const DEPTHS: Record<number, { block: NetSpec['block']; layers: NetSpec['layers'] }> = {
  18: { block: 'basic', layers: [2, 2, 2, 2] },
  34: { block: 'basic', layers: [3, 4, 6, 3] },
  50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
  152: { block: 'bottleneck', layers: [3, 8, 36, 3] },
};

const NL_MODES: NonLocalMode[] = ['embedded', 'gaussian', 'dot', 'concat'];

export const ARCH_SYNTAX = 'resnet<18|34|50|101|152>[-cifar][-cbam|-cbam-timm|-se|-se-linear|-gc][-bam][-nl<k>[-embedded|-gaussian|-dot|-concat][-sub]][-gc<k>]';

export function specFromArchName(name: string, dict: StateDict): NetSpec {
  const bad = (why: string): EngineError =>
    new EngineError('unknown-arch', `Unknown architecture "${name}": ${why}.`, `Use ${ARCH_SYNTAX}, e.g. resnet50-cbam.`);
  const parts = name.toLowerCase().split('-');
  const m = /^resnet(\d+)$/.exec(parts.shift() ?? '');
  const depth = m ? Number(m[1]) : NaN;
  const preset = DEPTHS[depth];
  if (!preset) throw bad('it must start with resnet18, resnet34, resnet50, resnet101 or resnet152');
  let stem: NetSpec['stem'] = 'imagenet';
  let attention: BlockAttention = { kind: 'none' };
  const inserts: InsertedBlock[] = [];
  while (parts.length) {
    const p = parts.shift() as string;
    const nl = /^nl([1-4])$/.exec(p);
    const gc = /^gc([1-4])$/.exec(p);
    if (p === 'cifar') stem = 'cifar';
    else if (p === 'cbam') {
      const timm = parts[0] === 'timm';
      if (timm) parts.shift();
      attention = { kind: 'cbam', layout: timm ? 'timm' : 'official', reduction: 16, attr: timm ? 'se' : 'cbam' };
    } else if (p === 'se') {
      const linear = parts[0] === 'linear';
      if (linear) parts.shift();
      attention = { kind: 'se', layout: linear ? 'linear' : 'timm', reduction: 16, attr: 'se' };
    } else if (p === 'gc') attention = { kind: 'gc', reduction: 16, attr: 'gc' };
    else if (p === 'bam') {
      for (const after of [1, 2, 3]) inserts.push({ kind: 'bam', name: `bam${after}`, after, reduction: 16, dilation: 4 });
    } else if (nl) {
      let mode: NonLocalMode = 'embedded';
      if (NL_MODES.includes(parts[0] as NonLocalMode)) mode = parts.shift() as NonLocalMode;
      const subSample = parts[0] === 'sub';
      if (subSample) parts.shift();
      const after = Number(nl[1]);
      const nlName = `nl${after}`;
      inserts.push({ kind: 'nonlocal', name: nlName, after, mode, subSample, bn: dict.has(`${nlName}.W.1.weight`) });
    } else if (gc) {
      const after = Number(gc[1]);
      inserts.push({ kind: 'gc', name: `gc${after}`, after, reduction: 16 });
    } else throw bad(`"${p}" is not a known part`);
  }
  const conv1 = dict.get('conv1.weight');
  const fc = dict.get('fc.weight');
  if (!conv1 || !fc) throw new EngineError('unknown-arch', 'The weights have no conv1.weight / fc.weight, so they are not a ResNet.');
  return {
    family: 'resnet',
    depth,
    block: preset.block,
    layers: [...preset.layers],
    baseWidth: conv1.shape[0] as number,
    stem,
    attention,
    inserts: inserts.sort((a, b) => a.after - b.after),
    numClasses: fc.shape[0] as number,
  };
}
