// The shipped model (assets/models/emoji-cbam-nl) loads by name through its manifest and
// behaves as its model card says on the held-out sample scenes: right label, and the
// layer3.0 spatial gate (16x16: the manifest's stage strides keep layer3 at stride 1)
// peaking inside the target box recorded in assets/samples/LICENSE.md, as it does for
// about 95 % of the held-out set.
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import { Session } from '../../../engine/session';
import { argmax, type Box, inside, peakPoint } from '../../../bench/localisationMetrics';

const ROOT = join(__dirname, '../../..');
const SAMPLES: Array<{ file: string; label: string; box: Box }> = [
  { file: 'scene-cat-coffee.png', label: 'cat', box: [140, 137, 212, 218] },
  { file: 'scene-elephant-forest.png', label: 'elephant', box: [92, 169, 188, 247] },
  { file: 'scene-giraffe-boats.png', label: 'giraffe', box: [33, 95, 103, 194] },
  { file: 'scene-car-rocket.png', label: 'car', box: [163, 146, 254, 212] },
];

beforeAll(async () => {
  await initBackend('wasm');
});

describe('built-in model emoji-cbam-nl', () => {
  test('loads from its manifest with the modules and defaults the app shows first', async () => {
    const s = await Session.load({ kind: 'builtin', name: 'emoji-cbam-nl' }, { modelsDir: join(ROOT, 'assets/models') });
    try {
      expect(s.info.inputSize).toBe(128);
      expect(s.info.arch).toBe('resnet18-os16-cbam-nl3-embedded');
      expect(s.info.classes).toHaveLength(20);
      expect(s.info.warnings).toEqual([]);
      expect(s.info.modules.map((m) => m.name)).toContain('nl3');
      expect(s.info.modules.filter((m) => m.kind === 'cbam')).toHaveLength(8);
      for (const name of s.info.defaultVisible ?? []) expect(s.info.modules.map((m) => m.name)).toContain(name);
      const size = (name: string): number[] | undefined => s.info.modules.find((m) => m.name === name)?.mapSize;
      expect([size('layer1.0.cbam'), size('layer2.0.cbam'), size('layer3.0.cbam'), size('nl3'), size('layer4.0.cbam')])
        .toEqual([[32, 32], [16, 16], [16, 16], [16, 16], [8, 8]]);

      const missed: string[] = [];
      for (const sample of SAMPLES) {
        const r = await s.run({ image: { kind: 'path', path: join(ROOT, 'assets/samples', sample.file) } });
        expect(s.info.classes?.[argmax(r.logits)], sample.file).toBe(sample.label);
        const tap = r.taps.find((t) => t.module === 'layer3.0.cbam' && t.tap === 'spatial')!;
        const [h, w] = tap.shape as [number, number];
        if (!inside(peakPoint(r.transform, tap.data, h, w), sample.box)) missed.push(sample.file);
      }
      expect(missed, 'layer3.0 peaks outside these boxes').toEqual([]);
    } finally {
      s.dispose();
    }
  });
});
