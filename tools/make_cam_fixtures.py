"""Writes test/fixtures/cam/<case>.safetensors: class-activation maps of fixture networks,
computed in PyTorch (float64) from each method's paper, for engine/cam.ts to match.

Run from the repository root:  /usr/bin/python3 tools/make_cam_fixtures.py

For each case (an existing test/fixtures/<case>/ network and its input), each stage 1-4 and
two classes (the top one and the last one), it stores
  'layer<k>.<method>.<class>'  [h, w] for gradcam, gradcam++, layercam, scorecam, eigencam,
                               dcn (the same map under both classes: it has none), and cam
                               (layer4 only)
The stage output is the value after the stage's inserted blocks (what the next stage, or the
classifier, reads); gradients are d logits[c] / d A by autograd.

Methods (written from the papers; see engine/cam.ts for the same definitions):
  CAM        Zhou et al., CVPR 2016             sum_k w_ck A_k
  Grad-CAM   Selvaraju et al., ICCV 2017         ReLU(sum_k mean(G_k) A_k)
  Grad-CAM++ Chattopadhay et al., WACV 2018      alpha = G^2 / (2G^2 + sum(A_k) G^3), 0 where G = 0;
                                                 w_k = sum alpha ReLU(G); ReLU(sum_k w_k A_k)
  Score-CAM  Wang et al., CVPR-W 2020            masks: A_k upsampled (bilinear, align_corners=False),
                                                 min-max to [0, 1] (constant: 0); w = softmax_k(y_c(x * mask_k))
  Eigen-CAM  Muhammad and Yeasin, IJCNN 2020     centred [hw, C] on its first right singular vector,
                                                 signed to correlate with the channel sum of A
  Layer-CAM  Jiang et al., TIP 2021              ReLU(sum_k ReLU(G_k) A_k)
  DCN        Almahairi et al., ICML 2016         saliency of Dynamic Capacity Networks: per position
                                                 the L2 norm over channels of d H / d A, H the entropy
                                                 of softmax(logits) (no class)
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchref import build_resnet  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
CASES = ['bypass', 'strides-cbam-nl']


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for key, info in header.items():
            if key == '__metadata__':
                continue
            start, end = info['data_offsets']
            f.seek(base + start)
            dtype = {'F32': np.float32, 'I64': np.int64}[info['dtype']]
            out[key] = torch.from_numpy(np.frombuffer(f.read(end - start), dtype=dtype).reshape(info['shape']).copy())
        return out


def stages(net, x):
    """Stage outputs (after inserted blocks) and logits, as the network's forward computes them."""
    x = F.relu(net.bn1(net.conv1(x)))
    if net.spec['stem'] == 'imagenet':
        x = F.max_pool2d(x, 3, 2, 1)
    acts = []
    for k in range(1, 5):
        x = getattr(net, f'layer{k}')(x)
        for name in net.inserted.get(k, []):
            x = getattr(net, name)(x)
        acts.append(x)
    return acts, net.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def from_stage(net, k, a):
    """Logits from stage k's output onwards."""
    x = a
    for j in range(k + 1, 5):
        x = getattr(net, f'layer{j}')(x)
        for name in net.inserted.get(j, []):
            x = getattr(net, name)(x)
    return net.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def eigen(a):
    c = a.shape[0]
    m = a.reshape(c, -1).T
    m = m - m.mean(0)
    _, _, vt = torch.linalg.svd(m, full_matrices=False)
    proj = m @ vt[0]
    if (proj * a.sum(0).reshape(-1)).sum() < 0:
        proj = -proj
    return proj.reshape(a.shape[1:])


def gradient_maps(a, g):
    """Grad-CAM, Grad-CAM++ and Layer-CAM of activations a [C, h, w] with gradients g of the class score."""
    g2, g3 = g ** 2, g ** 3
    alpha = g2 / (2 * g2 + a.sum((1, 2))[:, None, None] * g3 + 1e-7)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    w = (alpha * F.relu(g)).sum((1, 2))
    return {
        'gradcam': F.relu((g.mean((1, 2))[:, None, None] * a).sum(0)),
        'gradcam++': F.relu((w[:, None, None] * a).sum(0)),
        'layercam': F.relu((F.relu(g) * a).sum(0)),
    }


def score_cam(net, x, a, cls):
    up = F.interpolate(a[None], size=x.shape[-2:], mode='bilinear', align_corners=False)[0]
    lo = up.flatten(1).min(1).values[:, None, None]
    hi = up.flatten(1).max(1).values[:, None, None]
    span = hi - lo
    masks = torch.where(span > 0, (up - lo) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(up))
    scores = net(x * masks[:, None])[:, cls]
    w = torch.softmax(scores, 0)
    return F.relu((w[:, None, None] * a).sum(0))


def make(case):
    info = json.load(open(os.path.join(FIXTURES, case, 'case.json')))
    state = read_safetensors(os.path.join(FIXTURES, case, 'model.safetensors'))
    x = read_safetensors(os.path.join(FIXTURES, case, 'expected.safetensors'))['input'].double()
    net = build_resnet(info['spec']).double().eval()
    net.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()})
    with torch.no_grad():
        acts, logits = stages(net, x)
    top = int(logits[0].argmax())
    classes = [top, info['spec']['numClasses'] - 1 if top != info['spec']['numClasses'] - 1 else 0]
    out = {}
    for k in range(1, 5):
        a0 = acts[k - 1][0].detach()
        for cls in classes:
            a = acts[k - 1].detach().clone().requires_grad_(True)
            y = from_stage(net, k, a)[0, cls]
            (g,) = torch.autograd.grad(y, a)
            g = g[0]
            name = f'layer{k}'
            for method, m in gradient_maps(a0, g).items():
                out[f'{name}.{method}.{cls}'] = m
            a = acts[k - 1].detach().clone().requires_grad_(True)
            logp = torch.log_softmax(from_stage(net, k, a)[0], dim=0)
            (gh,) = torch.autograd.grad(-(logp.exp() * logp).sum(), a)
            out[f'{name}.dcn.{cls}'] = gh[0].norm(dim=0)
            with torch.no_grad():
                out[f'{name}.scorecam.{cls}'] = score_cam(net, x, a0, cls)
                out[f'{name}.eigencam.{cls}'] = eigen(a0)
                if k == 4:
                    out[f'{name}.cam.{cls}'] = (net.fc.weight[cls][:, None, None] * a0).sum(0)
    os.makedirs(os.path.join(FIXTURES, 'cam'), exist_ok=True)
    write_safetensors(os.path.join(FIXTURES, 'cam', f'{case}.safetensors'),
                      {k: v.float().contiguous() for k, v in out.items()}, {'case': case, 'classes': json.dumps(classes)})
    print(f'{case}: classes {classes}, {len(out)} maps')


if __name__ == '__main__':
    torch.set_num_threads(1)
    for case in sys.argv[1:] or CASES:
        make(case)
