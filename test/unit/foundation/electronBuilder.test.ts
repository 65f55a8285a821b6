import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import yaml from 'js-yaml';
import Ajv from 'ajv';
import { minimatch } from 'minimatch';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const require = createRequire(import.meta.url);
const schemaPath = require.resolve('app-builder-lib/scheme.json', { paths: [root] });

function validator() {
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

describe('electron-builder.yml', () => {
  const config = yaml.load(readFileSync(`${root}/electron-builder.yml`, 'utf8')) as Record<string, unknown>;

  it('matches electron-builder\'s schema', () => {
    const validate = validator();
    const ok = validate(config);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema check would catch an unknown key', () => {
    const validate = validator();
    expect(validate({ ...config, notAnOption: true })).toBe(false);
  });

  it('targets AppImage, deb, dmg and nsis and unpacks native modules', () => {
    const linux = config.linux as { target: string[] };
    expect(linux.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect((config.mac as { target: string[] }).target).toContain('dmg');
    expect((config.win as { target: string[] }).target).toContain('nsis');
    const unpack = (config.asarUnpack as string[]).join(' ');
    expect(unpack).toContain('sharp');
    expect(unpack).toContain('tfjs-node');
    expect(unpack).toContain('onnxruntime-node/bin');
  });

  it('unpacks every native file ONNX Runtime loads (CPU, WebGPU and DirectML builds), Dawn for tfjs WebGPU and every .node addon, so the engine process can load them', () => {
    const patterns = config.asarUnpack as string[];
    const unpacked = (rel: string) => patterns.some((p) => minimatch(rel, p, { dot: true }));
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
    const natives = walk(join(root, 'node_modules/onnxruntime-node/bin')).map((f) => relative(root, f));
    // Every platform's binding and runtime library: .node, .so, .dylib, .dll (DirectML and the shader compiler on Windows).
    expect(natives.some((f) => f.endsWith('.dll')) && natives.some((f) => f.endsWith('.dylib')) && natives.some((f) => /\.so(\.|$)/.test(f))).toBe(true);
    expect(natives.filter((f) => !unpacked(f))).toEqual([]);
    // Dawn for tfjs's WebGPU backend (optional: checked where it installed).
    const dawn = (() => { try { return walk(join(root, 'node_modules/webgpu/dist')); } catch { return []; } })().map((f) => relative(root, f));
    expect(dawn.filter((f) => f.endsWith('dawn.node') && !unpacked(f))).toEqual([]);
    // Any native addon among the runtime dependencies (sharp's libvips, tfjs-node's libtensorflow).
    const addons = ['@img', 'sharp'].flatMap((d) => { try { return walk(join(root, 'node_modules', d)); } catch { return []; } })
      .map((f) => relative(root, f)).filter((f) => /\.(node|so(\.\d+)*|dylib|dll)$/.test(f));
    expect(addons.length).toBeGreaterThan(0);
    expect(addons.filter((f) => !unpacked(f))).toEqual([]);
    // A pattern is matched against paths in the app; an unrelated file stays in the asar.
    expect(unpacked('node_modules/react/index.js')).toBe(false);
  });
});
