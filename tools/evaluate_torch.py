"""Localisation figures for the built-in model, computed in PyTorch.

    /usr/bin/python3 tools/evaluate_torch.py [--out tools/eval_torch.json]

The same measures as bench/localisation.ts (which runs the shipped weights through the
TypeScript engine); this one exists so the model card has figures straight after
training and so the two implementations can be checked against each other.

Definitions (shared with the bench):
- The 256x256 test scene is stretched to 128x128 (Lanczos). A map of h x w cells over
  the input is mapped back to the scene by scaling: cell (i, j) has its centre at
  ((j + 0.5) * 256 / w, (i + 0.5) * 256 / h). Bilinear upsampling peaks at a cell centre,
  so the peak of the raw map is the peak of the upsampled map.
- Pointing game: hit when the map's peak lies inside the target box (no tolerance).
  Also reported with the 15-pixel tolerance of Zhang et al. (ECCV 2016), whose
  pointing game counts a peak within 15 px of the object as a hit.
- Grad-CAM (Selvaraju et al. 2017) on layer4's output for the true class.
- Centre baseline: the image centre. Random baseline: the expected hit rate of a
  uniformly random point, i.e. the box's share of the image.
- Non-local: the query is the nl3 grid cell containing the box centre; the score is the
  attention mass of that row falling inside the box (cells weighted by their overlap
  with the box), against the box's share of the image.

It also breaks each map's result down (the model card's "What the maps show"): hits on
small and large boxes, where the misses land (on a clutter emoji, on the border cells),
hits by the number of clutter objects, and the grid's own ceiling (the share of boxes
that contain a cell centre at all).
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import model_def
from train import normalise


def load_test(data, limit=None):
    meta = json.load(open(os.path.join(data, 'test.json')))
    meta['scenes'] = meta['scenes'][:limit]
    side = meta['side']
    xs = []
    for s in meta['scenes']:
        im = Image.open(os.path.join(data, 'test', s['file'])).convert('RGB')
        im = im.resize((model_def.INPUT_SIZE, model_def.INPUT_SIZE), Image.LANCZOS)
        xs.append(np.asarray(im))
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255.0
    return meta, side, normalise(x)


def peak_point(m, side):
    h, w = m.shape
    k = int(torch.argmax(m))
    i, j = divmod(k, w)
    return (j + 0.5) * side / w, (i + 0.5) * side / h


TOLERANCE_PX = 15
SMALL_BOX_PX = 64  # a quarter of the 256 px scene side


def box_side(box):
    return max(box[2] - box[0], box[3] - box[1])


def grid_ceiling(h, w, side, box):
    """1 when some cell centre of an h x w grid lies inside the box (a perfect map can hit)."""
    xs = (np.arange(w) + 0.5) * side / w
    ys = (np.arange(h) + 0.5) * side / h
    return int(((xs >= box[0]) & (xs <= box[2])).any() and ((ys >= box[1]) & (ys <= box[3])).any())


def on_border(m):
    h, w = m.shape
    i, j = divmod(int(torch.argmax(m)), w)
    return int(i in (0, h - 1) or j in (0, w - 1))


def breakdown(records):
    """Summary of one map's per-scene records (see evaluate)."""
    small = [r for r in records if r['small']]
    large = [r for r in records if not r['small']]
    misses = [r for r in records if not r['hit']]
    rate = lambda rs: sum(r['hit'] for r in rs) / len(rs) if rs else None  # noqa: E731
    return {
        'hit_small_boxes': rate(small), 'small_boxes': len(small),
        'hit_large_boxes': rate(large), 'large_boxes': len(large),
        'misses': len(misses),
        'misses_on_clutter': sum(r['on_clutter'] for r in misses),
        'misses_within_15px': sum(r['hit_tol'] for r in misses),
        'peaks_on_border': sum(r['border'] for r in records),
        'hit_by_clutter_count': {str(k): rate([r for r in records if r['clutter'] == k]) for k in range(4)},
        'grid_ceiling': sum(r['ceiling'] for r in records) / len(records),
    }


def inside(pt, box, tol=0):
    return box[0] - tol <= pt[0] <= box[2] + tol and box[1] - tol <= pt[1] <= box[3] + tol


def cell_overlap(h, w, side, box):
    """[h, w] share of each cell's area lying inside the box."""
    edges_x = np.arange(w + 1) * side / w
    edges_y = np.arange(h + 1) * side / h
    ox = np.clip(np.minimum(edges_x[1:], box[2]) - np.maximum(edges_x[:-1], box[0]), 0, None) / (side / w)
    oy = np.clip(np.minimum(edges_y[1:], box[3]) - np.maximum(edges_y[:-1], box[1]), 0, None) / (side / h)
    return np.outer(oy, ox)


def gradcam_layer4(net, x, labels):
    """Grad-CAM maps [B, h, w] from layer4's output (after its last CBAM block)."""
    feats = {}
    hook = net.layer4.register_forward_hook(lambda m, i, o: feats.__setitem__('a', o))
    try:
        out = net(x)
    finally:
        hook.remove()
    a = feats['a']
    score = out.gather(1, labels[:, None]).sum()
    grad, = torch.autograd.grad(score, a)
    weights = grad.mean((2, 3), keepdim=True)
    return F.relu((weights * a).sum(1)).detach(), out.detach()


def evaluate(net, data, batch=100, limit=None):
    meta, side, x = load_test(data, limit)
    scenes = meta['scenes']
    labels = torch.tensor([s['label'] for s in scenes])
    cbam = model_def.cbam_modules(net)
    hits = {name: 0 for name in cbam}
    hits.update({'gradcam_layer4': 0, 'centre': 0})
    tol_hits = dict.fromkeys(hits, 0)
    random_expect, random_expect_tol, nl_mass, nl_share, correct = 0.0, 0.0, [], [], 0
    records = {name: [] for name in hits if name != 'centre'}
    net.eval()
    for b0 in range(0, len(scenes), batch):
        xb, yb = x[b0:b0 + batch], labels[b0:b0 + batch]
        with torch.no_grad():
            logits, taps = net.forward_with_taps(xb)
        cams, _ = gradcam_layer4(net, xb, yb)
        correct += (logits.argmax(1) == yb).sum().item()
        for k, s in enumerate(scenes[b0:b0 + batch]):
            box = s['box']
            maps = {name: taps[name + '.spatial'][k] for name in cbam}
            maps['gradcam_layer4'] = cams[k]
            points = {name: peak_point(m, side) for name, m in maps.items()}
            points['centre'] = (side / 2, side / 2)
            for name, pt in points.items():
                hit, hit_tol = inside(pt, box), inside(pt, box, TOLERANCE_PX)
                hits[name] += hit
                tol_hits[name] += hit_tol
                if name in maps:
                    h, w = maps[name].shape
                    records[name].append({
                        'hit': hit, 'hit_tol': hit_tol,
                        'small': box_side(box) < SMALL_BOX_PX, 'clutter': len(s['distractors']),
                        'on_clutter': any(inside(pt, d) for d in s['distractors']),
                        'border': on_border(maps[name]), 'ceiling': grid_ceiling(h, w, side, box)})
            share = (box[2] - box[0]) * (box[3] - box[1]) / side ** 2
            random_expect += share
            grown = [max(0, box[0] - TOLERANCE_PX), max(0, box[1] - TOLERANCE_PX),
                     min(side, box[2] + TOLERANCE_PX), min(side, box[3] + TOLERANCE_PX)]
            random_expect_tol += (grown[2] - grown[0]) * (grown[3] - grown[1]) / side ** 2
            aff = taps['nl3.affinity'][k]  # [N_query, N_key]
            qh = qw = int(round(aff.shape[0] ** 0.5))
            kh = kw = int(round(aff.shape[1] ** 0.5))
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            q = min(int(cy * qh / side), qh - 1) * qw + min(int(cx * qw / side), qw - 1)
            row = aff[q].view(kh, kw).numpy()
            nl_mass.append(float((row * cell_overlap(kh, kw, side, box)).sum() / row.sum()))
            nl_share.append(share)
    n = len(scenes)
    stages = {}
    for name in cbam:
        stage = name.split('.')[0]
        stages[stage] = max(stages.get(stage, 0), hits[name] / n)
    return {
        'scenes': n,
        'accuracy': correct / n,
        'pointing': {name: v / n for name, v in hits.items()},
        'pointing_tolerance_15px': {name: v / n for name, v in tol_hits.items()},
        'pointing_best_per_stage': stages,
        'map_sizes': {name: list(taps[name + '.spatial'].shape[1:]) for name in cbam},
        'breakdown': {name: breakdown(rs) for name, rs in records.items()},
        'random_point_expected': random_expect / n,
        'random_point_expected_tolerance_15px': random_expect_tol / n,
        'nonlocal': {'module': 'nl3', 'mass_in_box': float(np.mean(nl_mass)),
                     'box_share': float(np.mean(nl_share))},
    }


def print_table(r):
    print(f"scenes {r['scenes']}  accuracy {r['accuracy'] * 100:.1f}%")
    print(f"{'map':<18} pointing game   (15 px tolerance)")
    for name, v in r['pointing'].items():
        print(f"{name:<18} {v * 100:6.1f}%          {r['pointing_tolerance_15px'][name] * 100:6.1f}%")
    print(f"{'random point':<18} {r['random_point_expected'] * 100:6.1f}%          "
          f"{r['random_point_expected_tolerance_15px'] * 100:6.1f}%")
    nl = r['nonlocal']
    best = max((n for n in r['pointing'] if n.endswith('.cbam')), key=lambda n: r['pointing'][n])
    b = r['breakdown'][best]
    print(f"best CBAM map {best} {r['map_sizes'][best]}: small boxes (<{SMALL_BOX_PX} px) {b['hit_small_boxes'] * 100:.1f}% "
          f"of {b['small_boxes']}, large {b['hit_large_boxes'] * 100:.1f}% of {b['large_boxes']}; {b['misses']} misses, "
          f"{b['misses_on_clutter']} on clutter, {b['misses_within_15px']} within 15 px; grid ceiling {b['grid_ceiling'] * 100:.1f}%")
    print(f"nl3: attention mass inside the box from a query on the target {nl['mass_in_box'] * 100:.1f}% "
          f"vs box share of image {nl['box_share'] * 100:.1f}%")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.join(model_def.TOOLS, 'data', 'scenes'))
    ap.add_argument('--checkpoint', default=os.path.join(model_def.TOOLS, 'data', 'checkpoint.pt'))
    ap.add_argument('--out', default=os.path.join(model_def.TOOLS, 'eval_torch.json'))
    ap.add_argument('--limit', type=int, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    net = model_def.build()
    net.load_state_dict(torch.load(args.checkpoint)['model'])
    r = evaluate(net, args.data, limit=args.limit)
    print_table(r)
    with open(args.out, 'w') as f:
        json.dump(r, f, indent=1)


if __name__ == '__main__':
    main()
