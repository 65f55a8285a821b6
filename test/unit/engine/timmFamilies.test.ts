// Issue 15: timm's ImageNet attention families open from their checkpoints in timm's key
// layout (the hub's folder: config.json + model.safetensors), with the network built by
// engine/nets/timm and the attention found by engine/import. Fixtures: timm's own code with
// small widths and seeded weights (tools/make_timm_fixtures.py); logits and every map
// within 1e-4 of PyTorch on both runtimes.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpointFile } from '../../../engine/checkpoints';
import { emitTimm, familyOfArch } from '../../../engine/nets/timm';
import { Session } from '../../../engine/session';
import { FIXTURES, maxAbsDiff, nchwToNhwc, readSafetensors } from './fixtureData';

const DIR = join(FIXTURES, 'timm');
const CASES = readdirSync(DIR).filter((d) => !d.includes('.')).sort();

interface HaloInfo { heads: number; blockSize: number; haloSize: number; winSize: number; queryBlock: number; numBlocksH: number; numBlocksW: number }

interface TimmCase {
  arch: string;
  inputSize: number;
  numClasses: number;
  modules: Array<{ name: string; kind: string; map: string; shape: number[] }>;
  selfAttn?: Record<string, HaloInfo>;
}

/**
 * HaloNet's attention as timm computes it, block by block ([heads, blocks, query in block, key
 * in window], case.json's haloLayout), laid out as the engine shows it: every query of the
 * (strided) map against every key of the zero-padded map, zero outside the query's window.
 */
function haloDense(blocked: Float32Array, h: HaloInfo): Float32Array {
  const { heads, blockSize: bs, haloSize: halo, winSize: win, queryBlock: qb, numBlocksH: nbh, numBlocksW: nbw } = h;
  const [wq, wp] = [nbw * qb, nbw * bs + 2 * halo];
  const [nq, nk] = [nbh * qb * wq, (nbh * bs + 2 * halo) * wp];
  const dense = new Float32Array(heads * nq * nk);
  let i = 0;
  for (let hd = 0; hd < heads; hd++) {
    for (let b = 0; b < nbh * nbw; b++) {
      const [hb, wb] = [Math.floor(b / nbw), b % nbw];
      for (let q = 0; q < qb * qb; q++) {
        const query = (hb * qb + Math.floor(q / qb)) * wq + wb * qb + (q % qb);
        for (let k = 0; k < win * win; k++) {
          const key = (hb * bs + Math.floor(k / win)) * wp + wb * bs + (k % win); // padded-map coordinates
          dense[(hd * nq + query) * nk + key] = blocked[i++] as number;
        }
      }
    }
  }
  return dense;
}

const ISSUE_ARCHS = ['seresnet50', 'seresnext26d_32x4d', 'ecaresnet50d', 'ecaresnet26t', 'gcresnet50t', 'skresnet18', 'resnest14d',
  'efficientnet_b0', 'mobilenetv3_large_100', 'regnety_002', 'botnet26t_256', 'halonet26t'];

const sessions: Session[] = [];
afterAll(() => { for (const s of sessions) s.dispose(); });

function readCase(name: string): TimmCase {
  return JSON.parse(readFileSync(join(DIR, name, 'case.json'), 'utf8')) as TimmCase;
}

describe('timm families from checkpoints', () => {
  it('has a fixture for each architecture the issue names, and knows each name', () => {
    expect(CASES).toEqual([...ISSUE_ARCHS].sort());
    for (const a of ISSUE_ARCHS) expect(familyOfArch(a), a).not.toBeNull();
  });

  for (const [name, runtime] of CASES.flatMap((c) => [[c, 'ort'], [c, 'tfjs']] as const)) {
    it(`${name} on ${runtime}: opens from its hub folder, logits and every map match timm`, async () => {
      const c = readCase(name);
      const session = await Session.load({ kind: 'path', path: join(DIR, name) }, { threads: 1, runtime });
      sessions.push(session);
      const expected = readSafetensors(join(DIR, name, 'expected.safetensors'));
      expect(session.info.arch).toBe(name);
      expect(session.info.inputSize).toBe(c.inputSize);
      expect(session.info.classes?.[0]).toBe('class0'); // config.json's label_names
      const found = (session.imported?.maps ?? []).map((m) => `${m.module}:${m.kind}`).sort();
      // HaloNet's blocked attention is listed as heads (engine/modules/haloAttention.ts).
      const wanted = c.modules.map((m) => (m.kind === 'halo' ? { ...m, kind: 'heads', map: 'heads', halo: m } : m));
      expect(found).toEqual(wanted.map((m) => `${m.name}:${m.kind}`).sort());
      const input = nchwToNhwc(expected.get('input') as never);
      const r = await session.run({ image: { kind: 'input', name, input: input.data, size: c.inputSize } });
      expect(maxAbsDiff(r.logits, expected.get('logits')?.data as Float32Array)).toBeLessThan(1e-4);
      for (const m of wanted) {
        const got = r.maps?.find((x) => x.module === m.name && x.map === m.map);
        expect(got, `${m.name}.${m.map}`).toBeDefined();
        if ('halo' in m) {
          const info = c.selfAttn?.[m.name] as HaloInfo;
          const dense = haloDense(expected.get(`${m.name}.halo`)?.data as Float32Array, info);
          expect(got?.data.length, `${m.name} dense size`).toBe(dense.length);
          expect(maxAbsDiff(got?.data as Float32Array, dense), `${m.name}.heads`).toBeLessThan(1e-4);
          continue;
        }
        expect(got?.shape, `${m.name}.${m.map} shape`).toEqual(m.shape);
        expect(maxAbsDiff(got?.data as Float32Array, expected.get(`${m.name}.${m.map}`)?.data as Float32Array), `${m.name}.${m.map}`).toBeLessThan(1e-4);
      }
    });
  }

  it('finds the family from the keys alone (no config.json), and says what it assumed', async () => {
    for (const name of ['ecaresnet26t', 'efficientnet_b0', 'regnety_002', 'skresnet18', 'resnest14d']) {
      const dict = (await openCheckpointFile(join(DIR, name, 'model.safetensors'))).tensors;
      const f = emitTimm(dict, name, null);
      expect(f.unusedKeys, name).toEqual([]);
      expect(f.family, name).toBe(familyOfArch(name));
    }
    const effnet = emitTimm((await openCheckpointFile(join(DIR, 'efficientnet_b0', 'model.safetensors'))).tensors, 'x', null);
    expect(effnet.assumptions.join(' ')).toMatch(/EfficientNet \(SiLU/);
  });

  it('refuses a timm name whose family does not fit the keys, naming both', async () => {
    const dict = (await openCheckpointFile(join(DIR, 'regnety_002', 'model.safetensors'))).tensors;
    expect(() => emitTimm(dict, 'x', 'efficientnet_b0')).toThrow(/not those of a timm efficientnet \(efficientnet_b0\)/);
    expect(() => emitTimm(dict, 'x', 'convnext_tiny')).toThrow(/"convnext_tiny" is not a timm architecture AttnScope builds/);
  });

  it('without config.json, --arch names the model and timm\'s defaults for it apply (size, resampling)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnscope-timm-'));
    copyFileSync(join(DIR, 'ecaresnet26t', 'model.safetensors'), join(dir, 'weights.safetensors'));
    const s = await Session.load({ kind: 'path', path: join(dir, 'weights.safetensors') }, { threads: 1, arch: 'ecaresnet26t' });
    sessions.push(s);
    expect(s.info.arch).toBe('ecaresnet26t');
    expect(s.info.inputSize).toBe(256); // timm's pretrained size for ecaresnet26t
    expect(s.info.mean).toEqual([0.485, 0.456, 0.406]);
  });

  it('the config\'s interpolation is the resampling used on photos', async () => {
    const photo = { kind: 'path' as const, path: join(FIXTURES, '..', '..', 'assets', 'samples', 'chelsea.png') };
    const logits: Float32Array[] = [];
    for (const interpolation of ['bicubic', 'bilinear']) {
      const dir = mkdtempSync(join(tmpdir(), 'attnscope-timm-'));
      copyFileSync(join(DIR, 'seresnet50', 'model.safetensors'), join(dir, 'model.safetensors'));
      const config = JSON.parse(readFileSync(join(DIR, 'seresnet50', 'config.json'), 'utf8')) as { pretrained_cfg: Record<string, unknown> };
      config.pretrained_cfg.interpolation = interpolation;
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const s = await Session.load({ kind: 'path', path: dir }, { threads: 1 });
      sessions.push(s);
      logits.push((await s.run({ image: photo })).logits);
    }
    expect(maxAbsDiff(logits[0] as Float32Array, logits[1] as Float32Array)).toBeGreaterThan(1e-4);
  });

  it('HaloNet is laid out for the size asked, and refuses one its blocks do not tile', async () => {
    const s = await Session.load({ kind: 'path', path: join(DIR, 'halonet26t') }, { threads: 1, inputSize: 512 });
    sessions.push(s);
    expect(s.info.inputSize).toBe(512);
    expect(s.info.modules.find((m) => m.name === 'stages.2.1.self_attn')?.mapSize).toEqual([32, 32]);
    await expect(Session.load({ kind: 'path', path: join(DIR, 'halonet26t') }, { threads: 1, inputSize: 320 }))
      .rejects.toThrow(/runs on a 20x20 map, which blocks of 8 do not tile/);
  });

  // Class evidence at the four stages the family names (tools/make_timm_cam_fixtures.py, autograd in PyTorch).
  const CAM_CASES = readdirSync(join(FIXTURES, 'cam')).filter((f) => f.startsWith('timm-')).map((f) => f.slice(5, -'.safetensors'.length)).sort();
  for (const runtime of ['ort', 'tfjs'] as const) {
    it(`class evidence (Grad-CAM, Layer-CAM, Eigen-CAM, CAM) of ${CAM_CASES.length} families matches PyTorch on ${runtime}`, async () => {
      expect(CAM_CASES.length).toBeGreaterThanOrEqual(7);
      for (const name of CAM_CASES) {
        const c = readCase(name);
        const session = await Session.load({ kind: 'path', path: join(DIR, name) }, { threads: 1, runtime });
        sessions.push(session);
        const expected = readSafetensors(join(FIXTURES, 'cam', `timm-${name}.safetensors`));
        const input = nchwToNhwc(readSafetensors(join(DIR, name, 'expected.safetensors')).get('input') as never);
        const r = await session.run({ image: { kind: 'input', name, input: input.data, size: c.inputSize } });
        expect(session.info.stages, name).toHaveLength(4);
        expect(session.info.cam, name).toBe(expected.has('stage4.cam.9') || [...expected.keys()].some((k) => k.startsWith('stage4.cam.')));
        for (const [key, exp] of expected) {
          const [stage, method, cls] = key.split('.') as [string, string, string];
          const got = await session.cam(r.runId, { method: method as 'gradcam', stage: Number(stage.slice(5)), classIndex: Number(cls) });
          expect(got.shape, key).toEqual(exp.shape);
          expect(got.layer).toBe(session.info.stages?.[Number(stage.slice(5)) - 1]);
          const scale = Math.max(1, ...Array.from(exp.data, Math.abs));
          expect(maxAbsDiff(got.data, exp.data) / scale, `${name} ${key}`).toBeLessThanOrEqual(1e-4);
        }
      }
    });
  }
});
