import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkStateDict, detectArchitecture } from '../../../engine/checkpoints/detect';
import { expectedKeys } from '../../../engine/checkpoints/specKeys';
import { openCheckpointFile } from '../../../engine/checkpoints/index';
import { EngineError } from '../../../engine/errors';
import type { NetSpec } from '../../../engine/nets/spec';
import { FIXTURES, fixtureCases } from './helpers';

type Shapes = Map<string, { shape: number[] }>;

function keyset(file: string): { spec: NetSpec; keys: Shapes } {
  const json = JSON.parse(readFileSync(join(FIXTURES, 'keysets', file), 'utf8')) as { spec: NetSpec; keys: Record<string, number[]> };
  return { spec: json.spec, keys: new Map(Object.entries(json.keys).map(([k, shape]) => [k, { shape }])) };
}

function engineError(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EngineError);
    return err as EngineError;
  }
  throw new Error('expected an EngineError');
}

describe('detection reproduces every fixture NetSpec', () => {
  for (const info of fixtureCases()) {
    it(info.name, async () => {
      const { tensors } = await openCheckpointFile(join(FIXTURES, info.name, 'model.safetensors'));
      const { spec, description, assumptions } = detectArchitecture(tensors);
      const expected = structuredClone(info.spec);
      // Dot-product and embedded-Gaussian non-local blocks have identical weights:
      // detection says embedded and records the assumption; manifests or --arch decide.
      for (const ins of expected.inserts) {
        if (ins.kind === 'nonlocal' && ins.mode === 'dot') ins.mode = 'embedded';
      }
      // Stage strides leave no trace in the weights: detection gives torchvision's (no field).
      delete expected.strides;
      // Nor do the CBAM paper's gate orders and poolings, except channel-only and spatial-only
      // (the missing gate's keys); spatial-only has no channel MLP, so no reduction to read.
      const att = expected.attention;
      if (att.kind === 'cbam') {
        if (att.order !== 'channel' && att.order !== 'spatial') delete att.order;
        if (att.order === 'spatial') att.reduction = 16;
        delete att.pool;
      }
      // Nor ISANet's down factor (detection says ISANet's [8, 8]) or the order of blocks after one stage.
      for (const ins of expected.inserts) if (ins.kind === 'isa') ins.downFactor = [8, 8];
      for (const ins of expected.inserts) if (ins.kind === 'lightnl') Object.assign(ins, { ratio: 1, stride: 2 });
      for (const ins of expected.inserts) if (ins.kind === 'nlsa') ins.chunk = 144;
      for (const ins of expected.inserts) if (ins.kind === 'san') ins.kernel = 7;
      expect(spec).toEqual(expected);
      expect(description).toMatch(/^ResNet-\d+/);
      if (expected.inserts.some((i) => i.kind === 'nonlocal' && i.mode === 'embedded')) {
        expect(assumptions.join(' ')).toMatch(/dot-product/);
      }
    });
  }
});

describe('the pre-build check accepts every fixture against its own spec', () => {
  for (const info of fixtureCases()) {
    it(info.name, async () => {
      const { tensors } = await openCheckpointFile(join(FIXTURES, info.name, 'model.pth'));
      expect(() => checkStateDict(info.spec, tensors)).not.toThrow();
    });
  }
});

describe('full-size key sets', () => {
  it('detects the official CBAM ResNet-50 as ResNet-50, bottleneck, ImageNet stem, CBAM official, 1000 classes', () => {
    const { keys } = keyset('cbam-resnet50-official.json');
    const { spec, description } = detectArchitecture(keys);
    expect(spec).toMatchObject({
      depth: 50, block: 'bottleneck', layers: [3, 4, 6, 3], baseWidth: 64, stem: 'imagenet', numClasses: 1000,
      attention: { kind: 'cbam', layout: 'official', reduction: 16, attr: 'cbam' }, inserts: [],
    });
    expect(description).toBe('ResNet-50 (bottleneck, ImageNet stem, width 64), CBAM (official layout, r=16) in every block, 1000 classes');
  });

  it('accepts checkpoints without num_batches_tracked (written before torch 0.4.1)', () => {
    const { keys } = keyset('cbam-resnet50-official.json');
    for (const k of [...keys.keys()]) if (k.endsWith('num_batches_tracked')) keys.delete(k);
    expect(detectArchitecture(keys).spec.depth).toBe(50);
  });

  it('names unexpected and missing keys, with counts', () => {
    const { keys } = keyset('cbam-resnet50-official.json');
    keys.delete('layer2.1.cbam.ChannelGate.mlp.3.bias');
    keys.set('layer2.1.extra.weight', { shape: [3] });
    keys.set('aux_head.weight', { shape: [3] });
    const err = engineError(() => detectArchitecture(keys));
    expect(err.code).toBe('unknown-arch');
    expect(err.message).toMatch(/2 unexpected keys \(.*layer2\.1\.extra\.weight/);
    expect(err.message).toMatch(/aux_head\.weight/);
    expect(err.message).toMatch(/1 missing keys \(layer2\.1\.cbam\.ChannelGate\.mlp\.3\.bias\)/);
  });

  it("detects timm's rounded SE width (a 64-channel block has 8 hidden, not 64/16)", () => {
    const timmSe18: NetSpec = {
      family: 'resnet', depth: 18, block: 'basic', layers: [2, 2, 2, 2], baseWidth: 64, stem: 'imagenet',
      attention: { kind: 'se', layout: 'timm', reduction: 16, attr: 'se', divisor: 8 }, inserts: [], numClasses: 1000,
    };
    const keys: Shapes = new Map([...expectedKeys(timmSe18)].map(([k, e]) => [k, { shape: e.shape }]));
    expect(keys.get('layer1.0.se.fc1.weight')?.shape).toEqual([8, 64, 1, 1]);
    expect(keys.get('layer4.0.se.fc1.weight')?.shape).toEqual([32, 512, 1, 1]);
    expect(detectArchitecture(keys).spec).toEqual(timmSe18);
  });

  it('refuses key sets that are no ResNet', () => {
    const err = engineError(() => detectArchitecture(new Map([['features.0.weight', { shape: [64, 3, 3, 3] }]])));
    expect(err.code).toBe('unknown-arch');
    expect(err.message).toMatch(/no ResNet stem.*features\.0\.weight/);
  });

  it('reports a wrong shape as shape-mismatch naming the key, expected and found shapes', () => {
    const { spec, keys } = keyset('cbam-resnet50-official.json');
    keys.set('layer3.2.conv2.weight', { shape: [256, 256, 1, 1] });
    const err = engineError(() => checkStateDict(spec, keys));
    expect(err.code).toBe('shape-mismatch');
    expect(err.message).toContain('layer3.2.conv2.weight has shape [256, 256, 1, 1]');
    expect(err.message).toContain('expects [256, 256, 3, 3]');
  });

  it('checks a spec against a checkpoint of another network', () => {
    const { spec, keys } = keyset('cbam-resnet50-official.json');
    const err = engineError(() => checkStateDict({ ...spec, numClasses: 10 }, keys));
    expect(err.code).toBe('shape-mismatch');
    expect(err.message).toMatch(/^fc\.weight has shape \[1000, 2048\].*expects \[10, 2048\]/);
  });
});
