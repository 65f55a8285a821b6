#!/usr/bin/env node
// Writes assets/imagenet/classes.json: the 1000 ImageNet-1k class names in class-index
// order, each the first WordNet 3.0 lemma of the class's synset, from timm's
// timm/data/_info/imagenet_synsets.txt (index order) and imagenet_synset_to_lemma.txt.
//
//   node tools/make_imagenet_classes.mjs --timm PATH      a pytorch-image-models checkout
//   node tools/make_imagenet_classes.mjs --git-dir PATH   its bare repository (files at HEAD)
//   [--out FILE]  default assets/imagenet/classes.json
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { timm: { type: 'string' }, 'git-dir': { type: 'string' }, out: { type: 'string' } } });
if (!values.timm && !values['git-dir']) {
  console.error('usage: node tools/make_imagenet_classes.mjs (--timm CHECKOUT | --git-dir BARE_REPO) [--out FILE]');
  process.exit(2);
}
const read = (file) => {
  const path = `timm/data/_info/${file}`;
  return values.timm
    ? readFileSync(join(values.timm, path), 'utf8')
    : execFileSync('git', ['--git-dir', values['git-dir'], 'show', `HEAD:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
};

const synsets = read('imagenet_synsets.txt').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
if (synsets.length !== 1000 || new Set(synsets).size !== 1000) throw new Error(`expected 1000 distinct synsets, got ${synsets.length}`);
const lemmas = new Map();
for (const line of read('imagenet_synset_to_lemma.txt').split(/\r?\n/)) {
  const tab = line.indexOf('\t');
  if (tab > 0) lemmas.set(line.slice(0, tab).trim(), line.slice(tab + 1).trim());
}
const classes = synsets.map((id) => {
  const all = lemmas.get(id);
  if (!all) throw new Error(`no lemma for synset ${id}`);
  return all.split(',')[0].trim();
});

const out = values.out ?? join(root, 'assets/imagenet/classes.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `[\n${classes.map((c) => `  ${JSON.stringify(c)}`).join(',\n')}\n]\n`);
console.log(`wrote ${classes.length} class names to ${out}`);
