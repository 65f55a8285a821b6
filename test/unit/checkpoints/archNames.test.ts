// --arch names carry what the weights cannot say (issue 16): the CBAM paper's gate orders and
// poolings, and which attention blocks follow a stage. Every fixture's spec survives the trip
// spec -> archName -> specFromArchName.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpointFile } from '../../../engine/checkpoints/index';
import { specFromArchName } from '../../../engine/nets/presets';
import { archName } from '../../../engine/session';
import { FIXTURES, fixtureCases } from './helpers';

describe('architecture names', () => {
  for (const info of fixtureCases().filter((c) => /^(cbam-|selfattn|danet|psa-|cca|ema|a2|isa|lightnl|spatial-gate|apnb|afnb|stn|rnl|nlsa|san)/.test(c.name))) {
    // The fixtures are 10-layer ResNets, which have no name of their own: the same parts on resnet18.
    const name = archName(info.spec).replace(/^resnet\d+/, 'resnet18');
    it(`${info.name}: ${name} names its attention`, async () => {
      const { tensors } = await openCheckpointFile(join(FIXTURES, info.name, 'model.safetensors'));
      const spec = specFromArchName(name, tensors);
      // The reduction is read off the weights by detection; a name gives the default.
      expect(spec.attention).toEqual({ ...info.spec.attention, ...('reduction' in info.spec.attention ? { reduction: 16 } : {}) });
      expect(spec.inserts.map((i) => [i.kind, i.name, i.after])).toEqual(info.spec.inserts.map((i) => [i.kind, i.name, i.after]));
    });
  }

  it('parses the CBAM variants and DANet blocks', () => {
    const dict = new Map([['conv1.weight', { shape: [8, 3, 3, 3], data: new Float32Array(0) }], ['fc.weight', { shape: [10, 64], data: new Float32Array(0) }]]) as never;
    expect(specFromArchName('resnet18-cifar-cbam-spatial-channel-max', dict).attention).toMatchObject({ kind: 'cbam', order: 'spatial-channel', pool: 'max' });
    expect(specFromArchName('resnet18-cbam-parallel', dict).attention).toMatchObject({ order: 'parallel' });
    expect(specFromArchName('resnet18-psa-sequential-cca3', dict)).toMatchObject({ attention: { kind: 'psa', variant: 'sequential' }, inserts: [{ kind: 'cca', name: 'cca3', recurrence: 2 }] });
    expect(specFromArchName('resnet18-afnb4-low2-stn1', dict).inserts).toMatchObject([
      { kind: 'stn', name: 'stn1', after: 1, hidden: 32 }, { kind: 'afnb', name: 'afnb4', after: 4, low: 2, sizes: [1, 3, 6, 8] }]);
    expect(specFromArchName('resnet18-afnb4', dict).inserts).toMatchObject([{ kind: 'afnb', low: 3 }]);
    expect(specFromArchName('resnet18-pam4-cam4', dict).inserts).toEqual([
      { kind: 'pam', name: 'pam4', after: 4, reduction: 8 }, { kind: 'cam', name: 'cam4', after: 4 }]);
    expect(() => specFromArchName('resnet18-cbam-timm-parallel', dict)).toThrow(/official layout/);
  });
});
