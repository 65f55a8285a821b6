// Architecture detection: read a NetSpec off a state dict's keys and shapes, so an
// official CBAM ResNet-50 checkpoint opens with no other input. The guess is then
// confirmed by regenerating every expected key (specKeys.ts) and comparing.
import { EngineError } from '../errors';
import { type BlockAttention, customStrides, type InsertedBlock, type NetSpec } from '../nets/spec';
import { expectedKeys, stageChannels } from './specKeys';

type Shapes = ReadonlyMap<string, { shape: number[] }>;

export interface Detection {
  spec: NetSpec;
  description: string;
  /** Choices the weights cannot settle (non-local embedded vs dot, BAM dilation). */
  assumptions: string[];
}

const STANDARD: Record<string, number> = {
  'basic:2,2,2,2': 18, 'basic:3,4,6,3': 34, 'bottleneck:3,4,6,3': 50, 'bottleneck:3,4,23,3': 101, 'bottleneck:3,8,36,3': 152,
};
const TRUNK_PARTS = new Set(['conv1', 'conv2', 'conv3', 'bn1', 'bn2', 'bn3', 'downsample']);

export function detectArchitecture(tensors: Shapes): Detection {
  const shape = (k: string): number[] | undefined => tensors.get(k)?.shape;
  const conv1 = shape('conv1.weight');
  if (!conv1 || conv1.length !== 4 || conv1[1] !== 3) {
    throw unknown(tensors, 'no ResNet stem (conv1.weight with 3 input channels)');
  }
  const stem = conv1[2] === 7 ? 'imagenet' : conv1[2] === 3 ? 'cifar' : undefined;
  if (!stem) throw unknown(tensors, `the stem conv is ${conv1[2]}x${conv1[3]}, neither 7x7 (ImageNet) nor 3x3 (CIFAR)`);
  const layers = [1, 2, 3, 4].map((k) => {
    let n = 0;
    while (tensors.has(`layer${k}.${n}.conv1.weight`)) n++;
    return n;
  }) as [number, number, number, number];
  if (layers.some((n) => n === 0)) throw unknown(tensors, `not a four-stage ResNet (blocks per stage: ${layers.join(', ')})`);
  const block = tensors.has('layer1.0.conv3.weight') ? 'bottleneck' : 'basic';
  const baseWidth = shape('layer1.0.conv1.weight')?.[0] ?? 0;
  const fc = shape('fc.weight');
  if (!fc || fc.length !== 2) throw unknown(tensors, 'no classifier (fc.weight)');
  const assumptions: string[] = [];
  const partial = { block, baseWidth } as NetSpec;
  const spec: NetSpec = {
    family: 'resnet',
    depth: layers.reduce((a, b) => a + b, 0) * (block === 'bottleneck' ? 3 : 2) + 2,
    block,
    layers,
    baseWidth,
    stem,
    attention: detectBlockAttention(tensors, stageChannels(partial), 4),
    inserts: detectInserts(tensors, stageChannels(partial), assumptions),
    numClasses: fc[0]!,
  };
  return { spec: confirm(spec, tensors), description: describeSpec(spec), assumptions };
}

/**
 * Checks the guess; for timm-style gates whose hidden width is rounded (make_divisible)
 * rather than floored, retries with timm's divisors before reporting a mismatch.
 */
function confirm(spec: NetSpec, tensors: Shapes): NetSpec {
  const att = spec.attention;
  const retry = (att.kind === 'se' || att.kind === 'cbam') && att.layout === 'timm' ? [8, 1] : [];
  try {
    checkStateDict(spec, tensors);
    return spec;
  } catch (err) {
    for (const divisor of retry) {
      const candidate = { ...spec, attention: { ...att, divisor } as NetSpec['attention'] };
      try {
        checkStateDict(candidate, tensors);
        Object.assign(spec, candidate);
        return spec;
      } catch {
        // try the next divisor; the first error is the one worth reporting
      }
    }
    throw err;
  }
}

function ratio(c: number, hidden: number | undefined): number {
  return hidden ? Math.round(c / hidden) : 0;
}

function detectBlockAttention(tensors: Shapes, channels: number[], lastStage: number): BlockAttention {
  for (const key of tensors.keys()) {
    const m = /^layer1\.0\.([^.]+)\.(.+)$/.exec(key);
    if (!m || TRUNK_PARTS.has(m[1]!)) continue;
    const attr = m[1]!;
    const rest = m[2]!;
    // The ratio is read in the widest stage, where timm's rounding of C / r cannot hide it.
    const c = channels[lastStage - 1]!;
    const r = (k: string): number => ratio(c, tensors.get(`layer${lastStage}.0.${attr}.${k}`)?.shape[0]);
    if (rest === 'ChannelGate.mlp.1.weight' || rest === 'SpatialGate.spatial.conv.weight') {
      // The CBAM paper's channel-only and spatial-only ablations lack the other gate; its other
      // variants (order, pooling) have the same keys as CBAM: a name (--arch) says which.
      const has = (gate: string): boolean => tensors.has(`layer1.0.${attr}.${gate}`);
      const order = !has('SpatialGate.spatial.conv.weight') ? 'channel' : !has('ChannelGate.mlp.1.weight') ? 'spatial' : undefined;
      return { kind: 'cbam', layout: 'official', reduction: order === 'spatial' ? 16 : r('ChannelGate.mlp.1.weight'), attr, ...(order ? { order } : {}) };
    }
    if (rest === 'channel.fc1.weight') return { kind: 'cbam', layout: 'timm', reduction: r(rest), attr };
    if (rest === 'fc1.weight') return { kind: 'se', layout: 'timm', reduction: r(rest), attr };
    if (rest === 'fc.0.weight') return { kind: 'se', layout: 'linear', reduction: r(rest), attr };
    if (rest === 'conv_mask.weight') return { kind: 'gc', reduction: r('channel_add_conv.0.weight'), attr };
    if (rest === 'conv.weight' && tensors.get(key)?.shape.length === 4 && tensors.get(key)?.shape[0] === 1) return { kind: 'spatial', attr };
    if (rest === 'conv_q_right.weight') return { kind: 'psa', variant: tensors.has(`layer1.0.${attr}.conv_up.0.weight`) ? 'sequential' : 'parallel', attr };
  }
  return { kind: 'none' };
}

function detectInserts(tensors: Shapes, channels: number[], assumptions: string[]): InsertedBlock[] {
  const names = new Set<string>();
  for (const key of tensors.keys()) {
    const head = key.split('.')[0]!;
    if (!/^(conv1|bn1|fc|layer[1-4])$/.test(head)) names.add(head);
  }
  const inserts: InsertedBlock[] = [];
  for (const name of names) {
    const s = (k: string): number[] | undefined => tensors.get(`${name}.${k}`)?.shape;
    const after = (c: number | undefined): number => {
      const fromName = Number(/(\d)$/.exec(name)?.[1]);
      if (fromName >= 1 && fromName <= 4 && channels[fromName - 1] === c) return fromName;
      const byWidth = channels.indexOf(c ?? -1);
      return byWidth >= 0 ? byWidth + 1 : fromName || 0;
    };
    const bamFc = s('channel_att.gate_c.gate_c_fc_0.weight');
    if (bamFc) {
      assumptions.push(`${name}: BAM dilation 4 assumed (the official value; dilation is not stored in the weights)`);
      inserts.push({ kind: 'bam', name, after: after(bamFc[1]), reduction: ratio(bamFc[1]!, bamFc[0]), dilation: 4 });
      continue;
    }
    const gcMask = s('conv_mask.weight');
    if (gcMask) {
      inserts.push({ kind: 'gc', name, after: after(gcMask[1]), reduction: ratio(gcMask[1]!, s('channel_add_conv.0.weight')?.[0]) });
      continue;
    }
    const query = s('query_conv.weight');
    if (query) {
      const reduction = ratio(query[1]!, query[0]);
      if (name.startsWith('cca')) {
        assumptions.push(`${name}: criss-cross attention applied twice (CCNet's recurrence R = 2; the weights do not store it)`);
        inserts.push({ kind: 'cca', name, after: after(query[1]), reduction, recurrence: 2 });
      } else inserts.push({ kind: name.startsWith('pam') ? 'pam' : 'selfattn', name, after: after(query[1]), reduction });
      continue;
    }
    const mu = s('mu');
    if (mu && mu.length === 3) {
      assumptions.push(`${name}: 3 EM iterations assumed (EMANet's setting; the weights do not store it)`);
      inserts.push({ kind: 'ema', name, after: after(mu[1]), bases: mu[2]!, stages: 3 });
      continue;
    }
    const apnbKey = s('stages.0.f_key.0.weight');
    // AFNB: a plain BN after the fusion conv (APNB's is BN + ReLU, `.1.0`), queries from another stage.
    if (apnbKey && tensors.has(`${name}.conv_bn_dropout.1.weight`)) {
      const high = s('stages.0.f_query.0.weight')?.[1];
      const at = after(high);
      const low = channels.indexOf(apnbKey[1] ?? -1) + 1;
      assumptions.push(`${name}: pyramid pooling sizes 1, 3, 6, 8 assumed (ANN's; the weights do not store them)`);
      inserts.push({ kind: 'afnb', name, after: at, low: low >= 1 && low < at ? low : at - 1, keyChannels: apnbKey[0]!, valueChannels: s('stages.0.f_value.weight')?.[0] ?? 0, sizes: [1, 3, 6, 8] });
      continue;
    }
    if (apnbKey && tensors.has(`${name}.conv_bn_dropout.0.weight`)) {
      assumptions.push(`${name}: pyramid pooling sizes 1, 3, 6, 8 assumed (ANN's; the weights do not store them)`);
      inserts.push({ kind: 'apnb', name, after: after(apnbKey[1]), keyChannels: apnbKey[0]!, valueChannels: s('stages.0.f_value.weight')?.[0] ?? 0, sizes: [1, 3, 6, 8] });
      continue;
    }
    const sanW = s('sam.conv_w.5.weight');
    const sanV = s('sam.conv3.weight');
    if (sanW && sanV) {
      assumptions.push(`${name}: SAN footprint 7 x 7 assumed (the authors'; the weights do not store it): add -k<size> to the architecture name (--arch, or the app's Architecture field) to set it`);
      inserts.push({ kind: 'san', name, after: after(sanV[1]), kernel: 7, sharePlanes: Math.round(sanV[0]! / sanW[0]!) });
      continue;
    }
    const rotations = s('rotations');
    const match = s('conv_match.0.weight');
    if (rotations && match && rotations.length === 3) {
      assumptions.push(`${name}: non-local sparse attention with chunks of 144 sorted positions and res_scale 1 assumed (NLSA's; the weights do not store them): add -c<size> to the architecture name (--arch, or the app's Architecture field) to set the chunk`);
      inserts.push({ kind: 'nlsa', name, after: after(match[1]), reduction: ratio(match[1]!, match[0]), hashes: rotations[1]!, buckets: 2 * rotations[2]!, chunk: 144, kSize: match[2]!, resScale: 1 });
      continue;
    }
    const rnlTheta = s('theta.weight');
    if (rnlTheta && !s('g.weight') && !s('g.0.weight') && (tensors.has(`${name}.penta.mask`) || name.startsWith('rnl'))) {
      assumptions.push(`${name}: region non-local without sub-sampling assumed (the weights do not store it): add -sub after ${name}-k${s('penta.weight')?.[2] ?? 1} in the architecture name (--arch, or the app's Architecture field) to set it`);
      inserts.push({ kind: 'rnl', name, after: after(rnlTheta[1]), kernel: s('penta.weight')?.[2] ?? 1, subSample: false });
      continue;
    }
    const loc = s('fc_loc.0.weight');
    if (loc && tensors.has(`${name}.localization.0.weight`)) {
      inserts.push({ kind: 'stn', name, after: after(s('localization.0.weight')?.[1]), hidden: loc[0]! });
      continue;
    }
    const lightConv = s('non_local_conv.weight');
    if (lightConv) {
      assumptions.push(`${name}: LightNL with all channels as embeddings and keys every 2nd position assumed (the weights do not store its ratio and stride): the architecture name (--arch, or the app's Architecture field) sets others, e.g. ${name}-r0.25-s2`);
      inserts.push({ kind: 'lightnl', name, after: after(lightConv[0]), ratio: 1, stride: 2 });
      continue;
    }
    const isaKey = s('stages.0.long_range_sa.f_key.0.weight');
    if (isaKey) {
      assumptions.push(`${name}: interlaced down factor [8, 8] assumed (ISANet's; the weights do not store it): the architecture name (--arch, the app's Architecture field) or a manifest sets another, e.g. ${name}-4x4`);
      inserts.push({ kind: 'isa', name, after: after(isaKey[1]), downFactor: [8, 8], keyChannels: isaKey[0]!, valueChannels: s('stages.0.long_range_sa.f_value.weight')?.[0] ?? 0 });
      continue;
    }
    const convA = s('convA.weight');
    if (convA) {
      inserts.push({ kind: 'a2', name, after: after(convA[1]), cm: convA[0]!, cn: s('convB.weight')?.[0] ?? 0 });
      continue;
    }
    if (tensors.has(`${name}.gamma`) && [...tensors.keys()].every((k) => !k.startsWith(`${name}.`) || k === `${name}.gamma`)) {
      inserts.push({ kind: 'cam', name, after: after(undefined) });
      continue;
    }
    const g = s('g.0.weight') ?? s('g.weight');
    if (g) {
      const subSample = tensors.has(`${name}.g.0.weight`);
      const bn = tensors.has(`${name}.W.1.weight`);
      const c = (s('W.0.weight') ?? s('W.weight'))?.[0];
      let mode: 'embedded' | 'gaussian' | 'concat' = 'gaussian';
      if (tensors.has(`${name}.concat_project.0.weight`)) mode = 'concat';
      else if (tensors.has(`${name}.theta.weight`)) {
        mode = 'embedded';
        assumptions.push(`${name}: non-local pairwise function embedded Gaussian assumed; a dot-product block has the same weights`);
      }
      inserts.push({ kind: 'nonlocal', name, after: after(c), mode, subSample, bn });
    }
    // Anything else stays unexplained and is reported by checkStateDict.
  }
  // Blocks after the same stage run in an order the weights do not record (safetensors files
  // list keys sorted): DANet's order (position, then channel attention), else by name.
  const rank = (i: InsertedBlock): number => INSERT_ORDER.indexOf(i.kind);
  inserts.sort((a, b) => a.after - b.after || rank(a) - rank(b) || a.name.localeCompare(b.name));
  for (let stage = 1; stage <= 4; stage++) {
    const same = inserts.filter((i) => i.after === stage);
    if (same.length > 1) assumptions.push(`${same.map((i) => i.name).join(', then ')} after layer${stage}: the weights do not record their order; the architecture name (--arch, or the app's Architecture field) sets another`);
  }
  return inserts;
}

const INSERT_ORDER: InsertedBlock['kind'][] = ['bam', 'nonlocal', 'selfattn', 'pam', 'cam', 'cca', 'ema', 'a2', 'isa', 'lightnl', 'apnb', 'afnb', 'rnl', 'nlsa', 'san', 'stn', 'gc'];

/**
 * Every key the spec's network reads must be present with its shape, and (strict) every
 * key in the file must be read by it. Missing / unexpected keys: unknown-arch; wrong
 * shapes: shape-mismatch naming the key.
 */
export function checkStateDict(spec: NetSpec, tensors: Shapes, strict = true): void {
  const expected = expectedKeys(spec);
  const missing: string[] = [];
  for (const [key, e] of expected) if (!e.optional && !tensors.has(key)) missing.push(key);
  const unexpected = strict ? [...tensors.keys()].filter((k) => !expected.has(k)) : [];
  if (missing.length || unexpected.length) {
    const list = (what: string, keys: string[]): string =>
      keys.length ? `${keys.length} ${what} (${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', ...' : ''})` : '';
    throw new EngineError(
      'unknown-arch',
      `the checkpoint's keys fit no known network: as ${describeSpec(spec)}, ${[list('unexpected keys', unexpected), list('missing keys', missing)].filter(Boolean).join(' and ')}`,
      'Supported: ResNet 18/34/50/101 (any depth) with CBAM (official or timm layout, and the CBAM paper\'s variants), SE, GC in blocks, and BAM, non-local, GC, self-attention (SAGAN) or DANet position/channel attention blocks between stages; timm\'s ImageNet families by their own layout.',
    );
  }
  for (const [key, e] of expected) {
    const found = tensors.get(key)?.shape;
    if (found && !sameShape(found, e.shape)) {
      throw new EngineError(
        'shape-mismatch',
        `${key} has shape [${found.join(', ')}], but ${describeSpec(spec)} expects [${e.shape.join(', ')}]`,
      );
    }
  }
}

function sameShape(a: number[], b: number[]): boolean {
  // A 0-d counter and a [1] one are the same thing (old checkpoints differ here).
  if (a.reduce((x, y) => x * y, 1) === 1 && b.reduce((x, y) => x * y, 1) === 1 && a.length <= 1 && b.length <= 1) return true;
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function unknown(tensors: Shapes, why: string): EngineError {
  const sample = [...tensors.keys()].slice(0, 4).join(', ');
  return new EngineError('unknown-arch', `the checkpoint's keys fit no known network: ${why} (${tensors.size} keys, e.g. ${sample || 'none'})`);
}

export function describeSpec(spec: NetSpec): string {
  const standard = STANDARD[`${spec.block}:${spec.layers.join(',')}`];
  const name = standard ? `ResNet-${standard}` : `ResNet-${spec.depth} (blocks ${spec.layers.join('-')})`;
  const custom = customStrides(spec);
  const strides = custom ? `, stage strides ${custom.join('-')}` : '';
  const parts = [`${name} (${spec.block}, ${spec.stem === 'imagenet' ? 'ImageNet' : 'CIFAR'} stem, width ${spec.baseWidth}${strides})`];
  const a = spec.attention;
  if (a.kind === 'cbam') {
    const variant = [a.order && a.order !== 'channel-spatial' ? `${a.order} ${a.order === 'channel' || a.order === 'spatial' ? 'gate only' : 'order'}` : '', a.pool && a.pool !== 'avg+max' ? `${a.pool}-pooled channel gate` : ''].filter(Boolean).join(', ');
    parts.push(`CBAM (${a.layout} layout${a.order === 'spatial' ? '' : `, r=${a.reduction}`}${variant ? `; ${variant}` : ''}) in every block`);
  }
  if (a.kind === 'se') parts.push(`SE (${a.layout} layout, r=${a.reduction}) in every block`);
  if (a.kind === 'gc') parts.push(`GC (r=${a.reduction}) in every block`);
  if (a.kind === 'spatial') parts.push('spatial SE in every block');
  if (a.kind === 'psa') parts.push(`polarized self-attention (${a.variant}) in every block`);
  for (const i of spec.inserts) {
    if (i.kind === 'bam') parts.push(`BAM ${i.name} after layer${i.after}`);
    if (i.kind === 'gc') parts.push(`GC ${i.name} after layer${i.after}`);
    if (i.kind === 'nonlocal') parts.push(`non-local ${i.name} (${i.mode}${i.subSample ? ', sub-sampled' : ''}) after layer${i.after}`);
    if (i.kind === 'selfattn') parts.push(`self-attention ${i.name} (SAGAN) after layer${i.after}`);
    if (i.kind === 'pam') parts.push(`position attention ${i.name} (DANet) after layer${i.after}`);
    if (i.kind === 'cam') parts.push(`channel attention ${i.name} (DANet) after layer${i.after}`);
    if (i.kind === 'ema') parts.push(`EM attention ${i.name} (EMANet, ${i.bases} bases, ${i.stages} iterations) after layer${i.after}`);
    if (i.kind === 'afnb') parts.push(`fusion non-local ${i.name} (ANN AFNB, layer${i.low} pooled to ${i.sizes.join(', ')}) after layer${i.after}`);
    if (i.kind === 'san') parts.push(`pairwise self-attention ${i.name} (SAN, ${i.kernel}x${i.kernel} footprints) after layer${i.after}`);
    if (i.kind === 'nlsa') parts.push(`non-local sparse attention ${i.name} (NLSA, ${i.hashes} rounds of ${i.buckets} buckets, chunks of ${i.chunk}) after layer${i.after}`);
    if (i.kind === 'rnl') parts.push(`region non-local ${i.name} (RNL, ${i.kernel}x${i.kernel} regions${i.subSample ? ', keys sub-sampled' : ''}) after layer${i.after}`);
    if (i.kind === 'stn') parts.push(`spatial transformer ${i.name} (affine, hidden ${i.hidden}) after layer${i.after}`);
    if (i.kind === 'apnb') parts.push(`pyramid non-local ${i.name} (ANN APNB, pooled to ${i.sizes.join(', ')}) after layer${i.after}`);
    if (i.kind === 'lightnl') parts.push(`LightNL ${i.name} (ratio ${i.ratio}, stride ${i.stride}) after layer${i.after}`);
    if (i.kind === 'isa') parts.push(`interlaced self-attention ${i.name} (ISANet, down factor ${i.downFactor.join('x')}) after layer${i.after}`);
    if (i.kind === 'a2') parts.push(`double attention ${i.name} (A2-Net, ${i.cn} descriptors) after layer${i.after}`);
    if (i.kind === 'cca') parts.push(`criss-cross attention ${i.name} (CCNet, ${i.recurrence} passes) after layer${i.after}`);
  }
  parts.push(`${spec.numClasses} classes`);
  return parts.join(', ');
}
