// Built-in model manifests: read strictly, and a manifest's stage strides reach the network
// (weights cannot reveal them, so a wrong or ignored value would silently change every map).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { readManifest } from '../../../engine/models';
import { stageSizes } from '../../../engine/nets/resnet';
import type { NetSpec } from '../../../engine/nets/spec';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SPEC: NetSpec = {
  family: 'resnet', depth: 18, block: 'basic', layers: [2, 2, 2, 2], baseWidth: 16, stem: 'imagenet',
  attention: { kind: 'cbam', layout: 'official', reduction: 8, attr: 'cbam' }, inserts: [], numClasses: 3,
};

function modelDir(manifest: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-manifest-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'model.safetensors'), '');
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ name: 'm', weights: 'model.safetensors', classes: ['a', 'b', 'c'], ...manifest }));
  return dir;
}

describe('model manifest', () => {
  test('stage strides pass through and set the map sizes', () => {
    const m = readManifest(modelDir({ spec: { ...SPEC, strides: [1, 2, 1, 2] }, inputSize: 128 }));
    expect(m.spec.strides).toEqual([1, 2, 1, 2]);
    expect(stageSizes(m.spec, 128)).toEqual([32, 16, 16, 8]);
    expect(stageSizes(SPEC, 128)).toEqual([32, 16, 8, 4]);
  });

  test.each([
    [[1, 2, 3, 2]],
    [[1, 2, 2]],
    ['1,2,1,2'],
  ])('strides %j are refused with the field named', (strides) => {
    expect(() => readManifest(modelDir({ spec: { ...SPEC, strides } }))).toThrow(/"spec.strides" must be four strides of 1 or 2/);
  });

  test('a classes list that does not match the spec is refused', () => {
    expect(() => readManifest(modelDir({ spec: { ...SPEC, numClasses: 4 } }))).toThrow(/"classes" has 3 names but the spec has 4 classes/);
  });
});
