// Architecture names for `--arch` (and manifests that prefer a name over a full NetSpec):
//   resnet<depth>[-cifar][-cbam[-<order>][-avg|-max]|-cbam-timm|-se|-se-linear|-gc|-psa[-sequential]|-sse][-bam][-nl<k>[-<mode>][-sub]][-gc<k>][-sa<k>][-pam<k>][-cam<k>][-cca<k>]...
// e.g. `resnet50-cbam`, `resnet18-cifar-cbam-timm`, `resnet50-bam`, `resnet50-nl3-embedded-sub`,
// `resnet18-cbam-spatial-channel-max` (the CBAM paper's ablations), `resnet50-pam4-cam4` (DANet).
// Sizes the name cannot carry (base width, number of classes) come from the weights.

import type { StateDict } from '../checkpoints/types';
import { EngineError } from '../errors';
import type { BlockAttention, CbamOrder, CbamPool, InsertedBlock, NetSpec, NonLocalMode } from './spec';

const DEPTHS: Record<number, { block: NetSpec['block']; layers: NetSpec['layers'] }> = {
  // ResNet-10: one basic block a stage (small models, and every test fixture).
  10: { block: 'basic', layers: [1, 1, 1, 1] },
  18: { block: 'basic', layers: [2, 2, 2, 2] },
  34: { block: 'basic', layers: [3, 4, 6, 3] },
  50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
  152: { block: 'bottleneck', layers: [3, 8, 36, 3] },
};

const NL_MODES: NonLocalMode[] = ['embedded', 'gaussian', 'dot', 'concat'];

export const ARCH_SYNTAX = 'resnet<10|18|34|50|101|152>[-cifar][-cbam[-channel|-spatial|-spatial-channel|-parallel][-avg|-max]|-cbam-timm|-se|-se-linear|-gc|-psa[-sequential]|-sse][-bam][-nl<k>[-embedded|-gaussian|-dot|-concat][-sub]][-gc<k>][-sa<k>][-pam<k>][-cam<k>][-cca<k>][-ema<k>][-a2<k>][-isa<k>[-<dh>x<dw>]][-lnl<k>[-r<ratio>][-s<stride>]][-apnb<k>][-afnb<k>[-low<j>]][-rnl<k>[-k<size>][-sub]][-nlsa<k>[-c<chunk>]][-san<k>[-k<size>]][-stn<k>]';

const CBAM_ORDERS: CbamOrder[] = ['spatial-channel', 'parallel', 'channel', 'spatial'];

/** The name parts of a CBAM ablation variant (none for the paper's default). */
export function cbamVariantParts(att: { order?: CbamOrder; pool?: CbamPool }): string[] {
  return [...(att.order && att.order !== 'channel-spatial' ? [att.order] : []), ...(att.pool && att.pool !== 'avg+max' ? [att.pool] : [])];
}

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
    const pairwise = /^(sa|pam|cam|cca)([1-4])$/.exec(p);
    const sized = /^(ema|a2)([1-4])$/.exec(p);
    const isa = /^isa([1-4])$/.exec(p);
    const lnl = /^lnl([1-4])$/.exec(p);
    const apnb = /^apnb([1-4])$/.exec(p);
    const stn = /^stn([1-4])$/.exec(p);
    const rnl = /^rnl([1-4])$/.exec(p);
    const nlsa = /^nlsa([1-4])$/.exec(p);
    const san = /^san([1-4])$/.exec(p);
    const afnb = /^afnb([2-4])$/.exec(p);
    if (p === 'cifar') stem = 'cifar';
    else if (p === 'cbam') {
      const timm = parts[0] === 'timm';
      if (timm) parts.shift();
      // spatial-channel is two parts of the name.
      const two = `${parts[0]}-${parts[1]}`;
      const order = two === 'spatial-channel' ? (parts.splice(0, 2), 'spatial-channel' as const)
        : CBAM_ORDERS.includes(parts[0] as CbamOrder) ? parts.shift() as CbamOrder : undefined;
      const pool = parts[0] === 'avg' || parts[0] === 'max' ? parts.shift() as CbamPool : undefined;
      if ((order || pool) && timm) throw bad('the CBAM ablation variants are for the official layout');
      attention = { kind: 'cbam', layout: timm ? 'timm' : 'official', reduction: 16, attr: timm ? 'se' : 'cbam', ...(order ? { order } : {}), ...(pool ? { pool } : {}) };
    } else if (p === 'se') {
      const linear = parts[0] === 'linear';
      if (linear) parts.shift();
      attention = { kind: 'se', layout: linear ? 'linear' : 'timm', reduction: 16, attr: 'se' };
    } else if (p === 'gc') attention = { kind: 'gc', reduction: 16, attr: 'gc' };
    else if (p === 'sse') attention = { kind: 'spatial', attr: 'sa' };
    else if (p === 'psa') {
      const sequential = parts[0] === 'sequential' || parts[0] === 'parallel' ? parts.shift() === 'sequential' : false;
      attention = { kind: 'psa', variant: sequential ? 'sequential' : 'parallel', attr: 'psa' };
    }
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
    } else if (pairwise) {
      const [, kind, k] = pairwise as unknown as [string, 'sa' | 'pam' | 'cam' | 'cca', string];
      const after = Number(k);
      inserts.push(kind === 'cam' ? { kind: 'cam', name: `cam${after}`, after }
        : kind === 'cca' ? { kind: 'cca', name: `cca${after}`, after, reduction: 8, recurrence: 2 }
          : { kind: kind === 'sa' ? 'selfattn' : 'pam', name: `${kind}${after}`, after, reduction: 8 });
    } else if (afnb) {
      // afnb4 (low = layer3) or afnb4-low2; channel widths from the weights.
      const after = Number(afnb[1]);
      const low = /^low([1-3])$/.exec(parts[0] ?? '');
      if (low) parts.shift();
      const name = `afnb${after}`;
      const shape = (k: string): number[] | undefined => dict.get(`${name}.stages.0.${k}`)?.shape;
      inserts.push({ kind: 'afnb', name, after, low: low ? Number(low[1]) : after - 1, keyChannels: shape('f_key.0.weight')?.[0] ?? 0, valueChannels: shape('f_value.weight')?.[0] ?? 0, sizes: [1, 3, 6, 8] });
    } else if (san) {
      // san3 or san3-k3: the footprint (the authors' 7 by default); the channel sharing from the weights.
      const after = Number(san[1]);
      const size = /^k(\d+)$/.exec(parts[0] ?? '');
      if (size) parts.shift();
      const v = dict.get(`san${after}.sam.conv3.weight`)?.shape;
      const w = dict.get(`san${after}.sam.conv_w.5.weight`)?.shape;
      inserts.push({ kind: 'san', name: `san${after}`, after, kernel: size ? Number(size[1]) : 7, sharePlanes: v && w ? Math.round(v[0]! / w[0]!) : 8 });
    } else if (nlsa) {
      // nlsa2 or nlsa2-c32: the chunk size (the authors' 144 by default); the rest from the weights.
      const after = Number(nlsa[1]);
      const chunk = /^c(\d+)$/.exec(parts[0] ?? '');
      if (chunk) parts.shift();
      const name = `nlsa${after}`;
      const match = dict.get(`${name}.conv_match.0.weight`)?.shape;
      const rot = dict.get(`${name}.rotations`)?.shape;
      inserts.push({
        kind: 'nlsa', name, after, reduction: match ? Math.round(match[1]! / match[0]!) : 4, hashes: rot?.[1] ?? 4, buckets: 2 * (rot?.[2] ?? 4),
        chunk: chunk ? Number(chunk[1]) : 144, kSize: match?.[2] ?? 3, resScale: 1,
      });
    } else if (rnl) {
      // rnl3, rnl3-k7, rnl3-k3-sub: the region size (else from the weights) and key sub-sampling.
      const after = Number(rnl[1]);
      const size = /^k(\d+)$/.exec(parts[0] ?? '');
      if (size) parts.shift();
      const sub = parts[0] === 'sub';
      if (sub) parts.shift();
      inserts.push({ kind: 'rnl', name: `rnl${after}`, after, kernel: size ? Number(size[1]) : dict.get(`rnl${after}.penta.weight`)?.shape[2] ?? 1, subSample: sub });
    } else if (stn) {
      const after = Number(stn[1]);
      inserts.push({ kind: 'stn', name: `stn${after}`, after, hidden: dict.get(`stn${after}.fc_loc.0.weight`)?.shape[0] ?? 32 });
    } else if (apnb) {
      const after = Number(apnb[1]);
      const name = `apnb${after}`;
      const shape = (k: string): number[] | undefined => dict.get(`${name}.stages.0.${k}`)?.shape;
      inserts.push({ kind: 'apnb', name, after, keyChannels: shape('f_key.0.weight')?.[0] ?? 0, valueChannels: shape('f_value.weight')?.[0] ?? 0, sizes: [1, 3, 6, 8] });
    } else if (lnl) {
      // lnl3 or lnl3-r0.25-s2: the channel ratio and the key stride.
      const after = Number(lnl[1]);
      const ratio = /^r(\d+(?:\.\d+)?)$/.exec(parts[0] ?? '');
      if (ratio) parts.shift();
      const stride = /^s(\d+)$/.exec(parts[0] ?? '');
      if (stride) parts.shift();
      inserts.push({ kind: 'lightnl', name: `lnl${after}`, after, ratio: ratio ? Number(ratio[1]) : 1, stride: stride ? Number(stride[1]) : 2 });
    } else if (isa) {
      // isa3 or isa3-8x8: the down factor; channel widths from the weights.
      const after = Number(isa[1]);
      const name = `isa${after}`;
      const factor = /^(\d+)x(\d+)$/.exec(parts[0] ?? '');
      if (factor) parts.shift();
      const shape = (k: string): number[] | undefined => dict.get(`${name}.stages.0.long_range_sa.${k}`)?.shape;
      inserts.push({ kind: 'isa', name, after, downFactor: factor ? [Number(factor[1]), Number(factor[2])] : [8, 8], keyChannels: shape('f_key.0.weight')?.[0] ?? 0, valueChannels: shape('f_value.weight')?.[0] ?? 0 });
    } else if (sized) {
      // Widths come from the weights (the mu buffer's bases, A2's convs).
      const after = Number(sized[2]);
      const name = `${sized[1]}${after}`;
      const shape = (k: string): number[] | undefined => dict.get(`${name}.${k}`)?.shape;
      if (sized[1] === 'ema') inserts.push({ kind: 'ema', name, after, bases: shape('mu')?.[2] ?? 64, stages: 3 });
      else inserts.push({ kind: 'a2', name, after, cm: shape('convA.weight')?.[0] ?? 0, cn: shape('convB.weight')?.[0] ?? 0 });
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
