// The inverse of detection: every key a NetSpec's network reads, with its shape. Used
// to check a checkpoint before building (shape-mismatch names the first bad key), and
// by detection to confirm that a guessed spec explains every key in the file.
import type { NetSpec } from '../nets/spec';

export interface ExpectedKey {
  shape: number[];
  /** num_batches_tracked: written by torch >= 0.4.1, absent from older checkpoints, never read. */
  optional?: boolean;
}

export type ExpectedKeys = Map<string, ExpectedKey>;

export const EXPANSION = { basic: 1, bottleneck: 4 } as const;

/** Output channels of each stage (after expansion). */
export function stageChannels(spec: NetSpec): number[] {
  return [0, 1, 2, 3].map((k) => spec.baseWidth * 2 ** k * EXPANSION[spec.block]);
}

export function expectedKeys(spec: NetSpec): ExpectedKeys {
  const keys: ExpectedKeys = new Map();
  const put = (name: string, ...shape: number[]): void => void keys.set(name, { shape });
  const bn = (prefix: string, c: number): void => {
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) put(`${prefix}.${p}`, c);
    keys.set(`${prefix}.num_batches_tracked`, { shape: [], optional: true });
  };
  const base = spec.baseWidth;
  const stemKernel = spec.stem === 'imagenet' ? 7 : 3;
  put('conv1.weight', base, 3, stemKernel, stemKernel);
  bn('bn1', base);
  let inplanes = base;
  spec.layers.forEach((count, k) => {
    const planes = base * 2 ** k;
    const out = planes * EXPANSION[spec.block];
    for (let i = 0; i < count; i++) {
      const p = `layer${k + 1}.${i}`;
      const stride = i === 0 && k > 0 ? 2 : 1;
      if (spec.block === 'basic') {
        put(`${p}.conv1.weight`, planes, inplanes, 3, 3);
        bn(`${p}.bn1`, planes);
        put(`${p}.conv2.weight`, planes, planes, 3, 3);
        bn(`${p}.bn2`, planes);
      } else {
        put(`${p}.conv1.weight`, planes, inplanes, 1, 1);
        bn(`${p}.bn1`, planes);
        put(`${p}.conv2.weight`, planes, planes, 3, 3);
        bn(`${p}.bn2`, planes);
        put(`${p}.conv3.weight`, out, planes, 1, 1);
        bn(`${p}.bn3`, out);
      }
      if (stride !== 1 || inplanes !== out) {
        put(`${p}.downsample.0.weight`, out, inplanes, 1, 1);
        bn(`${p}.downsample.1`, out);
      }
      blockAttentionKeys(spec, `${p}`, out, put, bn);
      inplanes = out;
    }
  });
  const channels = stageChannels(spec);
  for (const ins of spec.inserts) {
    const c = channels[ins.after - 1] ?? 0;
    const n = ins.name;
    if (ins.kind === 'bam') {
      const h = Math.floor(c / ins.reduction);
      put(`${n}.channel_att.gate_c.gate_c_fc_0.weight`, h, c);
      put(`${n}.channel_att.gate_c.gate_c_fc_0.bias`, h);
      bn(`${n}.channel_att.gate_c.gate_c_bn_1`, h);
      put(`${n}.channel_att.gate_c.gate_c_fc_final.weight`, c, h);
      put(`${n}.channel_att.gate_c.gate_c_fc_final.bias`, c);
      const s = `${n}.spatial_att.gate_s`;
      put(`${s}.gate_s_conv_reduce0.weight`, h, c, 1, 1);
      put(`${s}.gate_s_conv_reduce0.bias`, h);
      bn(`${s}.gate_s_bn_reduce0`, h);
      for (const i of [0, 1]) {
        put(`${s}.gate_s_conv_di_${i}.weight`, h, h, 3, 3);
        put(`${s}.gate_s_conv_di_${i}.bias`, h);
        bn(`${s}.gate_s_bn_di_${i}`, h);
      }
      put(`${s}.gate_s_conv_final.weight`, 1, h, 1, 1);
      put(`${s}.gate_s_conv_final.bias`, 1);
    } else if (ins.kind === 'nonlocal') {
      const inter = Math.max(Math.floor(c / 2), 1);
      const sub = ins.subSample ? '.0' : '';
      put(`${n}.g${sub}.weight`, inter, c, 1, 1);
      put(`${n}.g${sub}.bias`, inter);
      if (ins.mode !== 'gaussian') {
        put(`${n}.theta.weight`, inter, c, 1, 1);
        put(`${n}.theta.bias`, inter);
        put(`${n}.phi${sub}.weight`, inter, c, 1, 1);
        put(`${n}.phi${sub}.bias`, inter);
      }
      if (ins.mode === 'concat') put(`${n}.concat_project.0.weight`, 1, 2 * inter, 1, 1);
      const w = ins.bn ? `${n}.W.0` : `${n}.W`;
      put(`${w}.weight`, c, inter, 1, 1);
      put(`${w}.bias`, c);
      if (ins.bn) bn(`${n}.W.1`, c);
    } else if (ins.kind === 'selfattn' || ins.kind === 'pam' || ins.kind === 'cca') {
      const inner = Math.floor(c / ins.reduction);
      for (const [conv, out] of [['query_conv', inner], ['key_conv', inner], ['value_conv', c]] as const) {
        put(`${n}.${conv}.weight`, out, c, 1, 1);
        put(`${n}.${conv}.bias`, out);
      }
      put(`${n}.gamma`, 1);
    } else if (ins.kind === 'cam') {
      put(`${n}.gamma`, 1);
    } else if (ins.kind === 'ema') {
      put(`${n}.mu`, 1, c, ins.bases);
      put(`${n}.conv1.weight`, c, c, 1, 1);
      put(`${n}.conv1.bias`, c);
      put(`${n}.conv2.0.weight`, c, c, 1, 1);
      bn(`${n}.conv2.1`, c);
    } else if (ins.kind === 'afnb') {
      const p = `${n}.stages.0`;
      const low = channels[ins.low - 1] as number;
      for (const [f, cin] of [['f_key', low], ['f_query', c]] as const) {
        put(`${p}.${f}.0.weight`, ins.keyChannels, cin, 1, 1);
        put(`${p}.${f}.0.bias`, ins.keyChannels);
        bn(`${p}.${f}.1.0`, ins.keyChannels);
      }
      put(`${p}.f_value.weight`, ins.valueChannels, low, 1, 1);
      put(`${p}.f_value.bias`, ins.valueChannels);
      put(`${p}.W.weight`, c, ins.valueChannels, 1, 1);
      put(`${p}.W.bias`, c);
      put(`${n}.conv_bn_dropout.0.weight`, c, 2 * c, 1, 1);
      put(`${n}.conv_bn_dropout.0.bias`, c);
      bn(`${n}.conv_bn_dropout.1`, c);
    } else if (ins.kind === 'san') {
      // The authors' Bottleneck arithmetic: rel = C / 16, mid = C / 4, G = mid / share weight channels.
      const rel = Math.max(Math.floor(c / 16), 1);
      const mid = Math.floor(c / 4);
      const groups = Math.floor(mid / ins.sharePlanes);
      bn(`${n}.bn1`, c);
      for (const k of ['conv1', 'conv2']) { put(`${n}.sam.${k}.weight`, rel, c, 1, 1); put(`${n}.sam.${k}.bias`, rel); }
      put(`${n}.sam.conv3.weight`, mid, c, 1, 1);
      put(`${n}.sam.conv3.bias`, mid);
      bn(`${n}.sam.conv_w.0`, rel + 2);
      put(`${n}.sam.conv_w.2.weight`, rel, rel + 2, 1, 1);
      bn(`${n}.sam.conv_w.3`, rel);
      put(`${n}.sam.conv_w.5.weight`, groups, rel, 1, 1);
      put(`${n}.sam.conv_w.5.bias`, groups);
      put(`${n}.sam.conv_p.weight`, 2, 2, 1, 1);
      put(`${n}.sam.conv_p.bias`, 2);
      bn(`${n}.bn2`, mid);
      put(`${n}.conv.weight`, c, mid, 1, 1);
      put(`${n}.conv.bias`, c);
    } else if (ins.kind === 'nlsa') {
      const inner = Math.floor(c / ins.reduction);
      put(`${n}.conv_match.0.weight`, inner, c, ins.kSize, ins.kSize);
      put(`${n}.conv_match.0.bias`, inner);
      put(`${n}.conv_assembly.0.weight`, c, c, 1, 1);
      put(`${n}.conv_assembly.0.bias`, c);
      put(`${n}.rotations`, inner, ins.hashes, ins.buckets / 2);
    } else if (ins.kind === 'rnl') {
      const inner = Math.floor(c / 2);
      put(`${n}.theta.weight`, inner, c, 1, 1);
      put(`${n}.theta.bias`, inner);
      if (ins.kernel > 1) {
        const per = inner / Math.max(Math.floor(inner / 32), 1);
        put(`${n}.penta.weight`, inner, per, ins.kernel, ins.kernel);
        put(`${n}.penta.mask`, inner, per, ins.kernel, ins.kernel);
      }
      put(`${n}.W.0.weight`, c, inner, 1, 1);
      put(`${n}.W.0.bias`, c);
      bn(`${n}.W.1`, c);
    } else if (ins.kind === 'stn') {
      const half = Math.floor(c / 2);
      put(`${n}.localization.0.weight`, half, c, 3, 3);
      put(`${n}.localization.0.bias`, half);
      put(`${n}.localization.3.weight`, half, half, 3, 3);
      put(`${n}.localization.3.bias`, half);
      put(`${n}.fc_loc.0.weight`, ins.hidden, half);
      put(`${n}.fc_loc.0.bias`, ins.hidden);
      put(`${n}.fc_loc.2.weight`, 6, ins.hidden);
      put(`${n}.fc_loc.2.bias`, 6);
    } else if (ins.kind === 'apnb') {
      const p = `${n}.stages.0`;
      for (const f of ['f_key', 'f_query']) {
        put(`${p}.${f}.0.weight`, ins.keyChannels, c, 1, 1);
        put(`${p}.${f}.0.bias`, ins.keyChannels);
        bn(`${p}.${f}.1.0`, ins.keyChannels);
      }
      put(`${p}.f_value.weight`, ins.valueChannels, c, 1, 1);
      put(`${p}.f_value.bias`, ins.valueChannels);
      put(`${p}.W.weight`, c, ins.valueChannels, 1, 1);
      put(`${p}.W.bias`, c);
      put(`${n}.conv_bn_dropout.0.weight`, c, 2 * c, 1, 1);
      put(`${n}.conv_bn_dropout.0.bias`, c);
      bn(`${n}.conv_bn_dropout.1.0`, c);
    } else if (ins.kind === 'lightnl') {
      put(`${n}.non_local_conv.weight`, c, 1, 3, 3);
      bn(`${n}.non_local_bn`, c);
    } else if (ins.kind === 'isa') {
      for (const [part, cin] of [['long_range_sa', c], ['short_range_sa', c]] as const) {
        const p = `${n}.stages.0.${part}`;
        for (const f of ['f_key', 'f_query']) {
          put(`${p}.${f}.0.weight`, ins.keyChannels, cin, 1, 1);
          bn(`${p}.${f}.1.0`, ins.keyChannels);
          put(`${p}.${f}.2.weight`, ins.keyChannels, ins.keyChannels, 1, 1);
          bn(`${p}.${f}.3.0`, ins.keyChannels);
        }
        put(`${p}.f_value.weight`, ins.valueChannels, cin, 1, 1);
        put(`${p}.W.0.weight`, c, ins.valueChannels, 1, 1);
        bn(`${p}.W.1.0`, c);
      }
      put(`${n}.conv_bn.0.weight`, c, 2 * c, 1, 1);
      bn(`${n}.conv_bn.1.0`, c);
    } else if (ins.kind === 'a2') {
      for (const [conv, out, inp] of [['convA', ins.cm, c], ['convB', ins.cn, c], ['convV', ins.cn, c], ['conv_reconstruct', c, ins.cm]] as const) {
        put(`${n}.${conv}.weight`, out, inp, 1, 1);
        put(`${n}.${conv}.bias`, out);
      }
    } else {
      gcKeys(`${n}`, c, ins.reduction, put);
    }
  }
  put('fc.weight', spec.numClasses, inplanes);
  put('fc.bias', spec.numClasses);
  return keys;
}

type Put = (name: string, ...shape: number[]) => void;

function blockAttentionKeys(spec: NetSpec, block: string, c: number, put: Put, bn: (p: string, c: number) => void): void {
  const att = spec.attention;
  if (att.kind === 'none') return;
  const a = `${block}.${att.attr}`;
  if (att.kind === 'psa') return psaKeys(a, c, att.variant, put);
  if (att.kind === 'spatial') {
    put(`${a}.conv.weight`, 1, c, 1, 1);
    put(`${a}.conv.bias`, 1);
    return;
  }
  const h = att.kind !== 'gc' && att.divisor ? makeDivisible(c / att.reduction, att.divisor) : Math.floor(c / att.reduction);
  if (att.kind === 'gc') return gcKeys(a, c, att.reduction, put);
  if (att.kind === 'cbam' && att.layout === 'official') {
    // The ablation variants without a gate have none of its keys.
    if (att.order !== 'spatial') {
      put(`${a}.ChannelGate.mlp.1.weight`, h, c);
      put(`${a}.ChannelGate.mlp.1.bias`, h);
      put(`${a}.ChannelGate.mlp.3.weight`, c, h);
      put(`${a}.ChannelGate.mlp.3.bias`, c);
    }
    if (att.order !== 'channel') {
      put(`${a}.SpatialGate.spatial.conv.weight`, 1, 2, 7, 7);
      bn(`${a}.SpatialGate.spatial.bn`, 1);
    }
  } else if (att.kind === 'cbam') {
    put(`${a}.channel.fc1.weight`, h, c, 1, 1);
    put(`${a}.channel.fc2.weight`, c, h, 1, 1);
    put(`${a}.spatial.conv.conv.weight`, 1, 2, 7, 7);
    bn(`${a}.spatial.conv.bn`, 1);
  } else if (att.layout === 'timm') {
    put(`${a}.fc1.weight`, h, c, 1, 1);
    put(`${a}.fc1.bias`, h);
    put(`${a}.fc2.weight`, c, h, 1, 1);
    put(`${a}.fc2.bias`, c);
  } else {
    put(`${a}.fc.0.weight`, h, c);
    put(`${a}.fc.2.weight`, c, h);
  }
}

/** Polarized self-attention's keys (DeLightCMU/PSA's names; modules/polarized.ts). */
function psaKeys(a: string, c: number, variant: 'parallel' | 'sequential', put: Put): void {
  const inter = Math.floor(c / 2);
  put(`${a}.conv_q_right.weight`, 1, c, 1, 1);
  put(`${a}.conv_v_right.weight`, inter, c, 1, 1);
  put(`${a}.conv_q_left.weight`, inter, c, 1, 1);
  put(`${a}.conv_v_left.weight`, inter, c, 1, 1);
  if (variant === 'parallel') {
    put(`${a}.conv_up.weight`, c, inter, 1, 1);
    return;
  }
  const hidden = Math.floor(inter / 4);
  put(`${a}.conv_up.0.weight`, hidden, inter, 1, 1);
  put(`${a}.conv_up.0.bias`, hidden);
  put(`${a}.conv_up.1.weight`, hidden, 1, 1);
  put(`${a}.conv_up.1.bias`, hidden, 1, 1);
  put(`${a}.conv_up.3.weight`, c, hidden, 1, 1);
  put(`${a}.conv_up.3.bias`, c);
}

/** timm's make_divisible with round_limit 0 (what its SE and CBAM channel gates use). */
export function makeDivisible(v: number, divisor: number): number {
  return Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
}

function gcKeys(prefix: string, c: number, reduction: number, put: Put): void {
  const p = Math.floor(c / reduction);
  put(`${prefix}.conv_mask.weight`, 1, c, 1, 1);
  put(`${prefix}.conv_mask.bias`, 1);
  put(`${prefix}.channel_add_conv.0.weight`, p, c, 1, 1);
  put(`${prefix}.channel_add_conv.0.bias`, p);
  put(`${prefix}.channel_add_conv.1.weight`, p, 1, 1);
  put(`${prefix}.channel_add_conv.1.bias`, p, 1, 1);
  put(`${prefix}.channel_add_conv.3.weight`, c, p, 1, 1);
  put(`${prefix}.channel_add_conv.3.bias`, c);
}
