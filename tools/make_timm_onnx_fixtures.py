"""Writes test/fixtures/onnx/timm-<case>/: timm's own attention networks, small widths, seeded
weights (pretrained=False), exported by torch.onnx.export, and every map their attention
modules compute as forward hooks see it: the same files as tools/make_onnx_fixtures.py.

timm is not vendored: fetch its source (github huggingface/pytorch-image-models) and run
  PYTHONPATH=/path/to/pytorch-image-models /usr/bin/python3 tools/make_timm_onnx_fixtures.py [case ...]
Made with timm 1.0.29.dev0 (commit aa4b5850) on Debian's PyTorch 1.13.

timm-ecaresnet-d also stores 'input40' and 'logits40': at 40 px its average-pool
downsampling (ceil_mode) has windows that run past the input.
Cases: timm's ResNet with ECA (deep stem, average-pool downsampling: the 'd'/'t' variants),
CBAM (timm's CbamModule), GC (GlobalContext: softmax context and sigmoid scale) and SK
(SelectiveKernelBasic), ResNeSt split attention (radix 2), EfficientNet and MobileNetV3 built
from timm's block strings (SiLU + sigmoid SE; hard-swish + hard-sigmoid SE), and a
VisionTransformer (timm's Attention, manual path: this torch has no fused attention).
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import sample_image, write_safetensors  # noqa: E402

import timm  # noqa: E402
from timm.layers import get_attn  # noqa: E402
from timm.models._efficientnet_builder import decode_arch_def, round_channels  # noqa: E402
from timm.models.efficientnet import EfficientNet  # noqa: E402
from timm.models.mobilenetv3 import MobileNetV3  # noqa: E402
from timm.models.resnest import ResNestBottleneck  # noqa: E402
from timm.models.resnet import BasicBlock, ResNet  # noqa: E402
from timm.models.sknet import SelectiveKernelBasic  # noqa: E402
from timm.layers.squeeze_excite import SEModule  # noqa: E402, F401
from timm.models._efficientnet_blocks import SqueezeExcite  # noqa: E402
from functools import partial  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'onnx')
SMALL = dict(channels=(8, 16, 16, 16), stem_width=8, num_classes=10)


def resnet(attn, **kw):
    return ResNet(block=BasicBlock, layers=[1, 1, 1, 1], block_args=dict(attn_layer=get_attn(attn)), **{**SMALL, **kw})


def effnet():
    arch = decode_arch_def([['ds_r1_k3_s1_e1_c8_se0.25'], ['ir_r1_k3_s2_e4_c16_se0.25']])
    return EfficientNet(arch, num_classes=10, stem_size=8, num_features=32, act_layer=nn.SiLU)


def mobilenetv3():
    arch = decode_arch_def([['ds_r1_k3_s2_e1_c8_se0.25_nre'], ['ir_r1_k3_s2_e4_c16_se0.25']])
    se = partial(SqueezeExcite, gate_layer='hard_sigmoid', force_act_layer=nn.ReLU, rd_round_fn=round_channels)
    return MobileNetV3(arch, num_classes=10, stem_size=8, num_features=32, head_bias=False, act_layer=nn.Hardswish, se_layer=se)


CASES = {
    'timm-ecaresnet-d': dict(build=lambda: resnet('eca', stem_type='deep', avg_down=True)),
    'timm-cbam-resnet': dict(build=lambda: resnet('cbam')),
    'timm-gc-resnet': dict(build=lambda: resnet('gc')),
    'timm-skresnet': dict(build=lambda: ResNet(block=SelectiveKernelBasic, layers=[1, 1, 1, 1],
                                               block_args=dict(sk_kwargs=dict(rd_ratio=0.5, rd_divisor=4)), **SMALL)),
    'timm-resnest': dict(build=lambda: ResNet(block=ResNestBottleneck, layers=[1, 1, 1, 1], stem_type='deep', avg_down=True,
                                              base_width=64, cardinality=1, block_args=dict(radix=2, avd=True, avd_first=False),
                                              **SMALL)),
    'timm-efficientnet': dict(build=effnet),
    'timm-mobilenetv3': dict(build=mobilenetv3),
    'timm-vit': dict(build=lambda: timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=4,
                                                     embed_dim=32, depth=2, num_heads=2, num_classes=10)),
}


def hooks(net):
    """Forward hooks on the modules that output a gate or attention; returns (records, handles)."""
    rec, handles = [], []

    def add(name, kind, key, module, fn=lambda out, inp: out):
        handles.append(module.register_forward_hook(lambda m, i, o: rec.append((name, kind, key, fn(o, i)))))

    for name, m in net.named_modules():
        cls = type(m).__name__
        if cls == 'EcaModule':
            add(name, 'channel-gate', 'channel', m.gate, lambda o, i: o.reshape(o.shape[0], -1))
        elif cls == 'ChannelAttn':  # CBAM's, named after the CbamModule
            add(name.rsplit('.', 1)[0], 'channel-gate', 'channel', m.gate, lambda o, i: o.reshape(o.shape[0], -1))
        elif cls == 'SpatialAttn':
            add(name.rsplit('.', 1)[0], 'spatial-gate', 'spatial', m.gate, lambda o, i: o[:, 0])
        elif cls == 'GlobalContext':
            add(name, 'spatial-softmax', 'spatial', m.conv_attn,
                lambda o, i: torch.softmax(o.reshape(o.shape[0], -1), -1).reshape(o.shape[0], *o.shape[2:]))
            add(name, 'channel-gate', 'channel', m.gate, lambda o, i: o.reshape(o.shape[0], -1))
        elif cls == 'SelectiveKernelAttn':  # [B, paths, C, 1, 1], applied in its SelectiveKernel
            add(name.rsplit('.', 1)[0], 'channel-gate', 'channel', m, lambda o, i: o.reshape(*o.shape[:3]))
        elif cls == 'RadixSoftmax':  # [B, radix * C]; applied as [B, radix, C, 1, 1] in its SplitAttn
            add(name.rsplit('.', 1)[0], 'channel-gate', 'channel', m, lambda o, i: o.reshape(o.shape[0], 2, -1))
        elif cls in ('SqueezeExcite', 'SEModule', 'EffectiveSEModule'):  # efficientnet / mobilenetv3 blocks; timm.layers'
            add(name, 'channel-gate', 'channel', m.gate, lambda o, i: o.reshape(o.shape[0], -1))
        elif cls == 'Attention' and hasattr(m, 'attn_drop'):  # ViT: attn_drop sees the softmax
            add(name, 'heads', 'heads', m.attn_drop)
        elif cls == 'BottleneckAttn':  # [B * heads, HW, HW] -> [B, heads, HW, HW]
            handles.extend(capture_softmax(m, lambda o, name=name, m=m: rec.append(
                (name, 'heads', 'heads', o.reshape(-1, m.num_heads, *o.shape[1:])))))
        elif cls == 'HaloAttn':  # [B * heads, blocks, query in block, key in window], kept blocked
            handles.extend(capture_softmax(m, lambda o, name=name, m=m: rec.append(
                (name, 'halo', 'halo', o.reshape(-1, m.num_heads, *o.shape[1:])))))
    return rec, handles


def capture_softmax(module, record):
    """timm's BottleneckAttn / HaloAttn call attn.softmax(dim=-1) inside forward, with no submodule
    to hook: a forward pre-hook swaps torch.Tensor.softmax for a recording wrapper and the forward
    hook puts it back, so the map is the very tensor that forward went on with (not a recomputation)."""
    state = {}

    def pre(m, inputs):
        orig, seen = torch.Tensor.softmax, []

        def wrapper(t, *args, **kwargs):
            out = orig(t, *args, **kwargs)
            seen.append(out)
            return out
        state.update(orig=orig, seen=seen)
        torch.Tensor.softmax = wrapper

    def post(m, inputs, output):
        torch.Tensor.softmax = state.pop('orig')
        seen = state.pop('seen')
        assert len(seen) == 1, f'{type(m).__name__}: {len(seen)} softmax calls'
        record(seen[0])
    return [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]


def randomise(net, gen):
    with torch.no_grad():
        for pname, p in net.named_parameters():
            if p.dim() > 1 or 'cls' in pname or 'pos' in pname:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / max(1, p[0].numel()) ** 0.5))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1 + (1.0 if pname.endswith('weight') else 0.0))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def make(name, cfg, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = cfg['build']()
    randomise(net, gen)
    net.eval()
    x = sample_image(32)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    dynamic = 'vit' not in name
    with torch.no_grad():
        torch.onnx.export(net, x, os.path.join(d, 'model.onnx'), opset_version=17, input_names=['image'], output_names=['logits'],
                          dynamic_axes={'image': {2: 'height', 3: 'width'}} if dynamic else None, do_constant_folding=True)
        net64 = net.double()
        rec, handles = hooks(net64)
        logits = net64(x.double())
        for h in handles:
            h.remove()
    tensors = {'input': x, 'logits': logits[0].float()}
    if name == 'timm-ecaresnet-d':
        # At 40 px the average-pool downsampling (ceil_mode) has partial windows: logits there too.
        x40 = sample_image(40)
        with torch.no_grad():
            tensors.update({'input40': x40, 'logits40': net64(x40.double())[0].float()})
    modules = []
    for module, kind, key, value in rec:
        tensors[f'{module}.{key}'] = value[0].float().contiguous()
        modules.append({'name': module, 'kind': kind, 'map': key, 'shape': list(value.shape[1:])})
    write_safetensors(os.path.join(d, 'expected.safetensors'), tensors)
    with open(os.path.join(d, 'case.json'), 'w') as f:
        json.dump({'opset': 17, 'inputSize': 32, 'dynamic': dynamic, 'timm': timm.__version__, 'modules': modules}, f, indent=1)
        f.write('\n')
    size = os.path.getsize(os.path.join(d, 'model.onnx'))
    print(f'{name}: {size // 1024} KB, {len(modules)} maps: ' + ', '.join(f"{m['name']}:{m['kind']}" for m in modules))


def main(argv):
    for i, name in enumerate(CASES):
        if not argv or name in argv:
            make(name, CASES[name], 3000 + i)


if __name__ == '__main__':
    main(sys.argv[1:])
