// timm's ImageNet attention families from their checkpoints (issue 15): which family a
// state dict is (by its keys, or by timm's architecture name from --arch or the hub's
// config.json), and the family's emitter. Each emitter writes the plain network with timm's
// module paths as node scopes; engine/import then finds its gates, softmaxes and heads the
// same way as in any .onnx file, so every family gets every map, bypass and query.

import type { StateDict } from '../../checkpoints/types';
import { EngineError } from '../../errors';
import { emitByobNet, isByobNet } from './byobnet';
import { emitEfficientNet, isEfficientNet } from './efficientnet';
import { emitRegNet, isRegNet } from './regnet';
import { emitTimmResNet, hasTimmOnlyParts, isTimmResNet } from './resnet';
import type { FamilyGraph } from './types';

export { FAMILY_LOGITS, type FamilyGraph } from './types';

interface Family {
  name: string;
  /** timm architecture names this family builds. */
  archs: RegExp;
  matches(dict: StateDict): boolean;
  /** Whether the keys alone claim the family (default: matches). */
  distinctive?(dict: StateDict): boolean;
  emit(dict: StateDict, name: string, arch: string | null, inputSize: number | null): FamilyGraph;
}

const FAMILIES: Family[] = [
  {
    name: 'resnet',
    archs: /^(se|eca|cbam|sk)?res(net|next|nest)\d+[a-z]*(_\d+x\d+d?)?$|^(se|eca)?resnext\d+[a-z]*_\d+x\d+d?$/,
    matches: isTimmResNet,
    distinctive: (dict) => isTimmResNet(dict) && hasTimmOnlyParts(dict),
    emit: (dict, name) => emitTimmResNet(dict, name),
  },
  { name: 'efficientnet', archs: /^(efficientnet_b\d|mobilenetv3_(large|small)_\d+)$/, matches: isEfficientNet, emit: emitEfficientNet },
  { name: 'byobnet', archs: /^(gcresnet\d+t|gcresnext\d+ts|botnet\d+t(_\d+)?|halonet\d+t|halonet_h1)$/, matches: isByobNet, emit: emitByobNet },
  { name: 'regnet', archs: /^regnet[xy]_\d+$/, matches: isRegNet, emit: (dict, name) => emitRegNet(dict, name) },
];

/** The timm architectures AttnScope builds, for messages. */
export const TIMM_FAMILIES = 'timm ResNet/ResNeXt/SK/ResNeSt (+SE, ECA, CBAM, GC), EfficientNet, MobileNetV3-Large, RegNetX/Y, ByobNet (GC-ResNet-T, BoTNet, HaloNet)';

/** The family of a timm architecture name, or null when the name is not one of them. */
export function familyOfArch(arch: string): string | null {
  return FAMILIES.find((f) => f.archs.test(arch))?.name ?? null;
}

/** Whether the keys are in the layout of a timm family this engine builds. */
export function isTimmCheckpoint(dict: StateDict): boolean {
  return FAMILIES.some((f) => (f.distinctive ?? f.matches)(dict));
}

/**
 * Emits the network of a timm checkpoint. `arch` (timm's name, from --arch or config.json)
 * picks the family; without one, the keys do.
 */
export function emitTimm(dict: StateDict, name: string, arch: string | null, inputSize: number | null = null): FamilyGraph {
  const family = arch ? FAMILIES.find((f) => f.archs.test(arch)) : FAMILIES.find((f) => (f.distinctive ?? f.matches)(dict));
  if (!family) {
    throw new EngineError('unknown-arch', arch
      ? `"${arch}" is not a timm architecture AttnScope builds (${TIMM_FAMILIES}).`
      : `The checkpoint's keys are not a timm architecture AttnScope builds (${TIMM_FAMILIES}).`);
  }
  if (!family.matches(dict)) {
    throw new EngineError('shape-mismatch', `The checkpoint's keys are not those of a timm ${family.name}${arch ? ` (${arch})` : ''}.`, 'Check --arch, or the config.json beside the checkpoint.');
  }
  return family.emit(dict, name, arch, inputSize);
}
