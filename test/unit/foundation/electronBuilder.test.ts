import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import yaml from 'js-yaml';
import Ajv from 'ajv';

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
});
