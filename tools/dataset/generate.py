"""Generate the built-in model's scenes: one emoji target on a real photo, plus clutter.

    /usr/bin/python3 tools/dataset/generate.py --out tools/data/scenes

Writes, under --out:
  train.npz, val.npz   images uint8 [N,128,128,3], labels int [N], boxes float [N,4]
                       (x0, y0, x1, y1 as fractions of the side), backgrounds int [N]
  test/NNNN.png        256x256 scenes on held-out photos, plus test.json with class and
                       box in pixels; the evaluation feeds these PNGs through the engine
                       so its resize and coordinate mapping are part of what is measured.
  classes.json

Every scene draws from its own generator seeded by (seed, split, index), so any scene
can be regenerated alone and the output does not depend on the number of workers.
"""
import argparse
import json
import os
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sources  # noqa: E402

RENDER_SIDE = 256
TRAIN_SIDE = 128
TARGET_SCALE = (0.10, 0.40)     # longest side of the upright glyph, fraction of the image side
DISTRACTOR_SCALE = (0.08, 0.22)
MAX_DISTRACTORS = 3
MAX_ROTATION = 30.0
SPLIT_IDS = {'train': 0, 'val': 1, 'test': 2}

_state = {}


def _init(split):
    """Per-worker caches: decoding photos and rasterising glyphs once, not per scene."""
    entries = sources.TEST_BACKGROUNDS if split == 'test' else sources.TRAIN_BACKGROUNDS
    _state['backgrounds'] = [sources.load_background(e) for e in entries]
    _state['classes'] = [sources.render_emoji(c) for _, c in sources.CLASSES]
    _state['distractors'] = [sources.render_emoji(c) for _, c in sources.DISTRACTORS]


def _background(rng, photo, side):
    h, w = photo.shape[:2]
    crop = int(rng.uniform(0.35, 1.0) * min(h, w))
    y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    im = Image.fromarray(photo[y:y + crop, x:x + crop]).resize((side, side), Image.BILINEAR)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.6, 1.4))
    if rng.random() < 0.15:  # shallow depth of field, as in many of the photos
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    return im.convert('RGBA')


def _object(rng, glyph, size):
    """The glyph scaled so its longest side is `size` px, flipped, rotated, relit."""
    scale = size / max(glyph.size)
    im = glyph.resize((max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))),
                      Image.LANCZOS)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    im = im.rotate(rng.uniform(-MAX_ROTATION, MAX_ROTATION), Image.BICUBIC, expand=True)
    rgb = ImageEnhance.Brightness(im.convert('RGB')).enhance(rng.uniform(0.8, 1.2))
    rgb.putalpha(im.getchannel('A'))
    box = rgb.getchannel('A').point(lambda a: 255 if a > 32 else 0).getbbox()
    return rgb.crop(box)


def _overlaps(a, b, margin):
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or
                a[3] + margin <= b[1] or b[3] + margin <= a[1])


def compose(split, index, seed):
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    side = RENDER_SIDE
    photos = _state['backgrounds']
    bg_index = int(rng.integers(len(photos)))
    scene = _background(rng, photos[bg_index], side)

    label = int(rng.integers(len(sources.CLASSES)))
    target = _object(rng, _state['classes'][label], rng.uniform(*TARGET_SCALE) * side)
    tx = int(rng.integers(0, side - target.width + 1))
    ty = int(rng.integers(0, side - target.height + 1))
    box = (tx, ty, tx + target.width, ty + target.height)

    # Clutter never touches the target box, so the box is exactly the labelled object.
    placed = []
    for _ in range(int(rng.integers(0, MAX_DISTRACTORS + 1))):
        glyph = _state['distractors'][int(rng.integers(len(_state['distractors'])))]
        obj = _object(rng, glyph, rng.uniform(*DISTRACTOR_SCALE) * side)
        for _try in range(20):
            dx = int(rng.integers(0, side - obj.width + 1))
            dy = int(rng.integers(0, side - obj.height + 1))
            dbox = (dx, dy, dx + obj.width, dy + obj.height)
            if not _overlaps(dbox, box, margin=4):
                scene.alpha_composite(obj, (dx, dy))
                placed.append(dbox)
                break
    scene.alpha_composite(target, (tx, ty))
    rgb = scene.convert('RGB')
    return dict(image=rgb, label=label, box=box, distractors=placed, background=bg_index)


def _train_item(args):
    split, index, seed = args
    s = compose(split, index, seed)
    small = np.asarray(s['image'].resize((TRAIN_SIDE, TRAIN_SIDE), Image.LANCZOS))
    return small, s['label'], np.array(s['box'], np.float32) / RENDER_SIDE, s['background']


def _test_item(args):
    split, index, seed, out_dir = args
    s = compose(split, index, seed)
    name = f'{index:04d}.png'
    s['image'].save(os.path.join(out_dir, name), optimize=False, compress_level=6)
    return dict(file=name, label=s['label'], cls=sources.CLASSES[s['label']][0],
                box=list(s['box']), distractors=[list(d) for d in s['distractors']],
                background=sources.TEST_BACKGROUNDS[s['background']]['id'])


def write_array_split(out, split, count, seed, workers):
    with Pool(workers, initializer=_init, initargs=(split,)) as pool:
        items = pool.map(_train_item, [(split, i, seed) for i in range(count)], chunksize=64)
    np.savez(os.path.join(out, split + '.npz'),
             images=np.stack([it[0] for it in items]),
             labels=np.array([it[1] for it in items], np.int64),
             boxes=np.stack([it[2] for it in items]),
             backgrounds=np.array([it[3] for it in items], np.int64))


def write_test_split(out, count, seed, workers):
    test_dir = os.path.join(out, 'test')
    os.makedirs(test_dir, exist_ok=True)
    with Pool(workers, initializer=_init, initargs=('test',)) as pool:
        scenes = pool.map(_test_item, [('test', i, seed, test_dir) for i in range(count)], chunksize=16)
    meta = dict(side=RENDER_SIDE, classes=[n for n, _ in sources.CLASSES],
                backgrounds=[b['id'] for b in sources.TEST_BACKGROUNDS], scenes=scenes)
    with open(os.path.join(out, 'test.json'), 'w') as f:
        json.dump(meta, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='tools/data/scenes')
    ap.add_argument('--train', type=int, default=40000)
    ap.add_argument('--val', type=int, default=2000)
    ap.add_argument('--test', type=int, default=500)
    ap.add_argument('--seed', type=int, default=20240601)
    ap.add_argument('--workers', type=int, default=2)
    args = ap.parse_args()
    sources.check_sources()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'classes.json'), 'w') as f:
        json.dump([n for n, _ in sources.CLASSES], f)
    write_test_split(args.out, args.test, args.seed, args.workers)
    # --train 0 --val 0: only the held-out test scenes (what npm run bench:localisation reads).
    for split, count in (('val', args.val), ('train', args.train)):
        if count > 0:
            write_array_split(args.out, split, count, args.seed, args.workers)
    print(f'wrote {args.train} train, {args.val} val, {args.test} test scenes to {args.out}')


if __name__ == '__main__':
    main()
