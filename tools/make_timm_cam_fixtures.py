"""Writes test/fixtures/cam/timm-<arch>.safetensors: class evidence of timm's networks
(test/fixtures/timm/<arch>/, built by timm's own code as tools/make_timm_fixtures.py does),
computed in PyTorch (float64) by the same definitions as tools/make_cam_fixtures.py, at the
four stages engine/nets/timm names for class evidence (FamilyGraph.stages):

  ResNet families   layer1 .. layer4            RegNet   s1 .. s4
  ByobNet           stages.0 .. stages.3        EfficientNet blocks.1, blocks.2, blocks.4, then
                                                bn2 (conv_head + BN + act; MobileNetV3: blocks.6)

Stored per stage k (1-4) and class (the top one and the last one):
  'stage<k>.<method>.<class>' [h, w] for gradcam, layercam and eigencam,
  and 'stage4.cam.<class>' where the classifier reads the pooled stage-4 features directly.
Stage outputs are captured by forward hooks; gradients d logits[c] / d A by autograd.
Grad-CAM++ is left out: it is checked on the ResNet fixtures (make_cam_fixtures.py), and here
its alpha = G^2 / (2 G^2 + sum(A) G^3 + 1e-7) turns the float32 noise of EfficientNet's tiny
stage-1 gradients into 1e-3 of the map's scale, which says nothing about the engine.

timm is not vendored: PYTHONPATH=/path/to/pytorch-image-models /usr/bin/python3 tools/make_timm_cam_fixtures.py [arch ...]
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_cam_fixtures import eigen, gradient_maps, read_safetensors  # noqa: E402
from make_fixtures import write_safetensors  # noqa: E402
from make_timm_fixtures import CASES  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
ARCHS = ['skresnet18', 'resnest14d', 'efficientnet_b0', 'mobilenetv3_large_100', 'regnety_002', 'botnet26t_256', 'gcresnet50t']


def stage_modules(arch, net):
    if arch.startswith('efficientnet'):
        return [net.blocks[1], net.blocks[2], net.blocks[4], net.bn2], net.classifier
    if arch.startswith('mobilenetv3'):
        return [net.blocks[1], net.blocks[2], net.blocks[4], net.blocks[6]], None
    if arch.startswith('regnet'):
        return [net.s1, net.s2, net.s3, net.s4], net.head.fc
    if hasattr(net, 'stages'):
        return [net.stages[0], net.stages[1], net.stages[2], net.final_conv if not isinstance(net.final_conv, torch.nn.Identity) else net.stages[3]], net.head.fc
    return [net.layer1, net.layer2, net.layer3, net.layer4], net.fc


def make(arch):
    d = os.path.join(FIXTURES, 'timm', arch)
    state = read_safetensors(os.path.join(d, 'model.safetensors'))
    x = read_safetensors(os.path.join(d, 'expected.safetensors'))['input'].double()
    net = CASES[arch]['build']()
    net.load_state_dict(state, strict=True)
    net = net.double().eval()
    mods, fc = stage_modules(arch, net)
    acts = [None] * 4
    for k, m in enumerate(mods):
        def keep(_m, _i, o, k=k):
            if o.requires_grad:
                o.retain_grad()
            acts[k] = o
        m.register_forward_hook(keep)
    with torch.no_grad():
        logits = net(x)
    top = int(logits[0].argmax())
    n = logits.shape[1]
    classes = [top, n - 1 if top != n - 1 else 0]
    out = {}
    for cls in classes:
        net.zero_grad()
        y = net(x)[0, cls]
        y.backward()
        for k in range(4):
            a = acts[k][0].detach()
            g = acts[k].grad[0]
            name = f'stage{k + 1}'
            for method, m in gradient_maps(a, g).items():
                if method != 'gradcam++':  # see the header
                    out[f'{name}.{method}.{cls}'] = m
            out[f'{name}.eigencam.{cls}'] = eigen(a)
            if k == 3 and fc is not None:
                out[f'{name}.cam.{cls}'] = (fc.weight[cls][:, None, None].double() * a).sum(0)
    write_safetensors(os.path.join(FIXTURES, 'cam', f'timm-{arch}.safetensors'),
                      {k: v.float().contiguous() for k, v in out.items()}, {'case': arch, 'classes': json.dumps(classes)})
    print(f'timm-{arch}: classes {classes}, {len(out)} maps, stage shapes {[list(a.shape[2:]) for a in acts]}')


if __name__ == '__main__':
    torch.set_num_threads(1)
    for arch in sys.argv[1:] or ARCHS:
        make(arch)
