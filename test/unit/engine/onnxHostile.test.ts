// Issue 14: ONNX files that lie, and what an imported model does beyond its maps: external
// data (read by ONNX Runtime from the model's folder only), bypass, query rows, errors.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnx, type OnnxTypes } from '../../../engine/graph/onnx';
import { parseOnnx } from '../../../engine/import/onnxFile';
import { Session } from '../../../engine/session';
import { FIXTURES, maxAbsDiff, nchwToNhwc, readSafetensors } from './fixtureData';

const DIR = join(FIXTURES, 'onnx');
const tmp = mkdtempSync(join(tmpdir(), 'attnscope-onnx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Model = OnnxTypes.ModelProto & { graph: OnnxTypes.GraphProto };
const fixture = (name: string): Model => onnx.ModelProto.decode(readFileSync(join(DIR, name, 'model.onnx'))) as Model;
const encode = (m: OnnxTypes.IModelProto): Uint8Array => onnx.ModelProto.encode(m).finish();

/** Writes `m` to a fresh folder, its initializers moved to `data` (external data) when given. */
function writeModel(m: Model, folder: string, location?: string): string {
  const dir = join(tmp, folder);
  mkdirSync(dir, { recursive: true });
  if (location) {
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const t of m.graph.initializer) {
      if (!t.rawData?.length || t.rawData.length < 64) continue;
      const raw = t.rawData;
      t.externalData = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) }];
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.rawData = new Uint8Array(0);
      chunks.push(raw);
      offset += raw.length;
    }
    if (!location.startsWith('/') && !location.includes('..')) writeFileSync(join(dir, location), Buffer.concat(chunks));
  }
  const path = join(dir, 'model.onnx');
  writeFileSync(path, encode(m));
  return path;
}

const load = (path: string) => Session.load({ kind: 'path', path }, { threads: 1 });

/** Loads the model at `path`, runs `use` on it, and disposes of it whatever happens. */
async function withSession(path: string, use: (s: Session) => Promise<void>): Promise<void> {
  const s = await load(path);
  try {
    await use(s);
  } finally {
    s.dispose();
  }
}

describe('ONNX import: hostile files are refused with a reason', () => {
  it('a protobuf whose lengths run past the end', () => {
    const bytes = readFileSync(join(DIR, 'eca', 'model.onnx'));
    expect(() => parseOnnx(bytes.subarray(0, Math.floor(bytes.length / 2)), 'half.onnx', null)).toThrow(/half\.onnx: not a valid ONNX file/);
    // ir_version 7, then graph (field 7, length-delimited) claiming 2^32 bytes.
    const lying = Uint8Array.from([0x08, 0x07, 0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);
    expect(() => parseOnnx(lying, 'lying.onnx', null)).toThrow(/not a valid ONNX file/);
  });

  it('a tensor of 10^12 elements', () => {
    const m = fixture('eca');
    const t = m.graph.initializer.find((i) => (i.rawData?.length ?? 0) > 0) as OnnxTypes.TensorProto;
    t.dims = [1_000_000, 1_000_000];
    expect(() => parseOnnx(encode(m), 'huge.onnx', null)).toThrow(/declares 1\.0e\+12 elements/);
    const m2 = fixture('eca');
    (m2.graph.input[0] as OnnxTypes.ValueInfoProto).type = { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, { dimValue: 1_000_000 }, { dimValue: 1_000_000 }] } } } as never;
    expect(() => parseOnnx(encode(m2), 'huge-input.onnx', null)).toThrow(/declares 3\.0e\+12 elements/);
  });

  it('external data that leaves the model folder: .., absolute paths, symlinks', async () => {
    await expect(load(writeModel(fixture('se-resnet'), 'dotdot', '../../etc/passwd'))).rejects.toThrow(/refused external data "\.\.\/\.\.\/etc\/passwd": it leaves the model's folder/);
    await expect(load(writeModel(fixture('se-resnet'), 'absolute', '/etc/passwd'))).rejects.toThrow(/refused external data "\/etc\/passwd": it is an absolute path/);
    const path = writeModel(fixture('se-resnet'), 'symlink', 'weights.bin');
    rmSync(join(tmp, 'symlink', 'weights.bin'));
    symlinkSync('/etc/passwd', join(tmp, 'symlink', 'weights.bin'));
    await expect(load(path)).rejects.toThrow(/refused external data "weights\.bin": it is a symbolic link/);
  });

  it('external data that is missing or too short', async () => {
    const path = writeModel(fixture('se-resnet'), 'short', 'weights.bin');
    writeFileSync(join(tmp, 'short', 'weights.bin'), new Uint8Array(10));
    await expect(load(path)).rejects.toThrow(/external data "weights\.bin" is 10 bytes, but the model reads up to byte/);
    rmSync(join(tmp, 'short', 'weights.bin'));
    await expect(load(path)).rejects.toThrow(/its external data file "weights\.bin" is missing/);
    // Given as bytes (a drag-drop), there is no folder to read it from.
    await expect(Session.load({ kind: 'bytes', name: 'model.onnx', bytes: readFileSync(path).buffer as ArrayBuffer })).rejects.toThrow(/external data files .* come only with a file on disk/);
  });

  it('a graph with a cycle', () => {
    const m = fixture('eca');
    const nodes = m.graph.node;
    const last = nodes[nodes.length - 1] as OnnxTypes.NodeProto;
    const conv = nodes.find((n) => n.opType === 'Conv') as OnnxTypes.NodeProto;
    // The first conv now reads the last node's output, which depends on the conv.
    const producerOfLastInput = nodes.find((n) => (n.output ?? []).includes(last.input[0] as string));
    expect(producerOfLastInput).toBeDefined();
    conv.input[0] = last.output[0] as string;
    expect(() => parseOnnx(encode(m), 'cycle.onnx', null)).toThrow(/the graph has a cycle/);
  });

  it('an op ONNX Runtime does not know', async () => {
    const m = fixture('eca');
    const relu = m.graph.node.find((n) => n.opType === 'Relu') as OnnxTypes.NodeProto;
    relu.opType = 'FancyRelu';
    await expect(load(writeModel(m, 'unknown-op'))).rejects.toThrow(/FancyRelu/);
  });

  it('not ONNX at all, or empty', async () => {
    writeFileSync(join(tmp, 'text.onnx'), 'hello, this is text');
    await expect(load(join(tmp, 'text.onnx'))).rejects.toThrow(/text\.onnx: not (a valid ONNX file|an ONNX model)/);
    writeFileSync(join(tmp, 'empty.onnx'), '');
    await expect(load(join(tmp, 'empty.onnx'))).rejects.toThrow(/empty/);
  });
});

describe('ONNX import: an imported model behaves like a built-in one', () => {
  it('external data beside the model loads, and the maps still match PyTorch', async () => {
    await withSession(writeModel(fixture('se-resnet'), 'external', 'weights.bin'), async (s) => {
      const expected = readSafetensors(join(DIR, 'se-resnet', 'expected.safetensors'));
      const input = nchwToNhwc(expected.get('input') as never);
      const r = await s.run({ image: { kind: 'input', name: 'x', input: input.data, size: 32 } });
      expect(maxAbsDiff(r.logits, expected.get('logits')?.data as Float32Array)).toBeLessThan(1e-4);
      const gate = r.maps?.find((m) => m.module === 'layer2.0.se');
      expect(maxAbsDiff(gate?.data as Float32Array, expected.get('layer2.0.se.channel')?.data as Float32Array)).toBeLessThan(1e-4);
    });
  });

  it('bypass: a gate switched off passes its input on (gate = 1), an affinity becomes uniform', async () => {
    await withSession(join(DIR, 'cbam-resnet', 'model.onnx'), async (s) => {
      const expected = readSafetensors(join(DIR, 'cbam-resnet', 'expected.safetensors'));
      const input = nchwToNhwc(expected.get('input') as never).data;
      const run = (bypass: string[]) => s.run({ image: { kind: 'input', name: 'x', input, size: 32 }, options: { bypass } });
      const on = await run([]);
      const off = await run(['layer2.0.cbam']);
      // The module still reports its own gates; what comes after it changes.
      expect(maxAbsDiff(on.taps.find((t) => t.module === 'layer2.0.cbam' && t.tap === 'channel')?.data as Float32Array,
        off.taps.find((t) => t.module === 'layer2.0.cbam' && t.tap === 'channel')?.data as Float32Array)).toBe(0);
      expect(maxAbsDiff(on.logits, off.logits)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(on.taps.find((t) => t.module === 'layer3.0.cbam' && t.tap === 'channel')?.data as Float32Array,
        off.taps.find((t) => t.module === 'layer3.0.cbam' && t.tap === 'channel')?.data as Float32Array)).toBeGreaterThan(1e-4);
      const back = await run([]);
      expect(maxAbsDiff(on.logits, back.logits)).toBe(0);
    });
    await withSession(join(DIR, 'nl-embedded', 'model.onnx'), async (nl) => {
      const input = nchwToNhwc(readSafetensors(join(DIR, 'nl-embedded', 'expected.safetensors')).get('input') as never).data;
      const off = await nl.run({ image: { kind: 'input', name: 'x', input, size: 32 }, options: { bypass: ['nl3'] } });
      const on = await nl.run({ image: { kind: 'input', name: 'x', input, size: 32 } });
      expect(maxAbsDiff(on.logits, off.logits)).toBeGreaterThan(1e-4);
    });
  });

  it('click a query point: the affinity row of a non-local block, and of a ViT layer (CLS removed)', async () => {
    for (const [name, module, grid] of [['nl-embedded', 'nl3', [8, 8]], ['vit', 'blocks.1.attn', [8, 8]]] as const) {
      await withSession(join(DIR, name, 'model.onnx'), async (s) => {
        const expected = readSafetensors(join(DIR, name, 'expected.safetensors'));
        const input = nchwToNhwc(expected.get('input') as never).data;
        const r = await s.run({ image: { kind: 'input', name: 'x', input, size: 32 } });
        const q = await s.query(r.runId, module, { x: 31, y: 0.5 }); // top-right cell
        expect(q.cell).toEqual({ row: 0, col: grid[1] - 1 });
        const full = expected.get(`${module}.${name === 'vit' ? 'heads' : 'affinity'}`);
        let want: Float32Array;
        if (name === 'vit') {
          // Mean over heads of row (1 + cell), keys after the CLS token.
          const [heads, t] = full?.shape as [number, number, number];
          const row = 1 + grid[1] - 1;
          want = new Float32Array(t - 1);
          for (let h = 0; h < heads; h++) for (let k = 1; k < t; k++) (want[k - 1] as number) += (full?.data[(h * t + row) * t + k] as number) / heads;
        } else {
          const keys = full?.shape[1] as number;
          want = (full?.data as Float32Array).slice((grid[1] - 1) * keys, grid[1] * keys);
        }
        expect(maxAbsDiff(q.data, want)).toBeLessThan(1e-5);
      });
    }
  });

  it('a ViT with a class token gets attention rollout as a derived map, equal to PyTorch\'s', async () => {
    await withSession(join(DIR, 'vit', 'model.onnx'), async (s) => {
      const expected = readSafetensors(join(DIR, 'vit', 'expected.safetensors'));
      expect(s.info.modules.find((m) => m.name === 'rollout')).toMatchObject({ derived: true, taps: ['spatial'] });
      const input = nchwToNhwc(expected.get('input') as never).data;
      const r = await s.run({ image: { kind: 'input', name: 'x', input, size: 32 } });
      const tap = r.taps.find((t) => t.module === 'rollout');
      expect(tap?.shape).toEqual([8, 8]);
      expect(maxAbsDiff(tap?.data as Float32Array, expected.get('rollout.attention')?.data as Float32Array)).toBeLessThan(1e-5);
      await expect(s.run({ image: { kind: 'input', name: 'x', input, size: 32 }, options: { bypass: ['rollout'] } })).rejects.toThrow(/nothing to switch off/);
    });
  });

  it('class names from the model metadata, and a model with no attention loads with a warning', async () => {
    const m = fixture('eca');
    m.metadataProps = [{ key: 'classes', value: JSON.stringify(Array.from({ length: 10 }, (_, i) => `thing ${i}`)) }];
    const s = await load(writeModel(m, 'labelled'));
    expect(s.info.classes?.[3]).toBe('thing 3');
    s.dispose();
    // eca without its gates: the Muls now multiply by the feature itself (x * x).
    const plain = fixture('eca');
    for (const n of plain.graph.node) if (n.opType === 'Sigmoid') n.opType = 'Relu';
    const p = await load(writeModel(plain, 'plain'));
    expect(p.info.modules).toEqual([]);
    expect(p.info.warnings.join(' ')).toMatch(/No attention found/);
    p.dispose();
  });

  it('a fixed-size model refuses another input size, and tiles and class evidence say why they do not apply', async () => {
    await withSession(join(DIR, 'vit', 'model.onnx'), async (s) => {
      const input = new Float32Array(64 * 64 * 3);
      await expect(s.run({ image: { kind: 'input', name: 'x', input, size: 64 } , options: { inputSize: 64 } })).rejects.toThrow(/takes 32x32 inputs only/);
      await expect(s.run({ image: { kind: 'path', path: join(FIXTURES, '..', '..', 'assets', 'samples', 'chelsea.png') }, options: { tile: { size: 32 } } })).rejects.toThrow(/Tiles are for the built-in ResNet families/);
      const r = await s.run({ image: { kind: 'input', name: 'x', input: new Float32Array(32 * 32 * 3), size: 32 } });
      await expect(s.cam(r.runId, { method: 'gradcam', stage: 4, classIndex: 0 })).rejects.toThrow(/Class evidence .* needs known stages: the ResNet and timm families have them, an imported ONNX model does not/);
    });
  });
});
