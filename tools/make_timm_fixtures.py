"""Writes test/fixtures/timm/<arch>/: twelve timm ImageNet attention architectures, built by
timm's own code (timm.create_model or timm's own generator functions) with small widths,
pretrained=False, seeded random weights, in the Hugging Face hub's timm layout.

timm is not vendored: fetch its source (github huggingface/pytorch-image-models) and run
  PYTHONPATH=/path/to/pytorch-image-models /usr/bin/python3 tools/make_timm_fixtures.py [arch ...]
  PYTHONPATH=... /usr/bin/python3 tools/make_timm_fixtures.py --check [arch ...]
(--check reloads each model.safetensors into a freshly built timm model and compares logits.)
The timm commit recorded in case.json is TIMM_COMMIT if set, else `git rev-parse HEAD` of the
checkout timm was imported from, else of /work/.mirror/huggingface+pytorch-image-models/repo.

Per arch:
  model.safetensors     model.state_dict() in timm's key layout (F32; num_batches_tracked I64)
  config.json           the hub's timm config.json layout (architecture, num_classes, num_features,
                        pretrained_cfg, label_names); pretrained_cfg values from timm's own default
                        cfg for the arch, input_size = the fixture's size, tag 'fixture'
  expected.safetensors  'input' [1,3,S,S] (normalised NCHW, the skimage cat photo), 'logits' [10]
                        (float64 forward, stored float32) and every attention map
                        '<module>.<map>' without the batch dim, from forward hooks on the float64
                        forward (hooks() of tools/make_timm_onnx_fixtures.py)
  case.json             arch, inputSize, numClasses, timm, timmCommit, seed, construction,
                        modules [{name, kind, map, shape}], keys, selfAttn (BoT / Halo geometry)
Weights: randomise() of make_timm_onnx_fixtures (every parameter random, fan-in scaled), then
calibrate_bn() (BN statistics measured on a small batch, then perturbed; see its docstring).
BottleneckAttn / HaloAttn have no submodule that sees their softmax: the hooks swap
torch.Tensor.softmax for a recording wrapper during that module's forward (capture_softmax), so
'heads' / 'halo' maps are the tensors timm's forward used, not recomputations.
"""
import json
import os
import subprocess
import sys
from dataclasses import replace
from unittest import mock

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import sample_image, write_safetensors  # noqa: E402
from make_timm_onnx_fixtures import hooks, randomise  # noqa: E402
from make_cam_fixtures import read_safetensors  # noqa: E402

import timm  # noqa: E402
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD  # noqa: E402
from timm.models import efficientnet, mobilenetv3  # noqa: E402
from timm.models._efficientnet_builder import round_channels  # noqa: E402
from timm.models.byoanet import model_cfgs as BYOA_CFGS  # noqa: E402
from timm.models.byobnet import model_cfgs as BYOB_CFGS  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'timm')
MIRROR = '/work/.mirror/huggingface+pytorch-image-models/repo'
NUM_CLASSES = 10


def shrink(blocks, f):
    """A ByoModelCfg's block cfgs with every width c // f (types, depths, strides, gs, br and
    self-attn kept; interleave_blocks tuples kept as tuples)."""
    return tuple(shrink(b, f) if isinstance(b, tuple) else replace(b, c=b.c // f) for b in blocks)


def create(arch, **kw):
    return lambda: timm.create_model(arch, pretrained=False, num_classes=NUM_CLASSES, **kw)


def overriding(module, create_fn, **overrides):
    """Context: timm's generator calls module.<create_fn>(variant, pretrained, **model_kwargs); these
    overrides replace entries of its model_kwargs (which the generator builds itself and so cannot
    take as arguments). Everything else, arch_def included, is timm's own."""
    orig = getattr(module, create_fn)
    return mock.patch.object(module, create_fn, lambda variant, pretrained=False, **kwargs: orig(
        variant, pretrained, **{**kwargs, **overrides}))


def efficientnet_b0():
    # stem 16, not round(32 * 0.1) = 8: with an 8-wide stem blocks.0.0 (DS, 16 * 0.1 -> 8 out) would
    # get a residual (timm: has_skip = stride 1 and in == out) that b0's 32 -> 16 block lacks
    with overriding(efficientnet, '_create_effnet', stem_size=16, fix_stem=True):
        return efficientnet._gen_efficientnet('efficientnet_b0', channel_multiplier=0.1, pretrained=False,
                                              num_classes=NUM_CLASSES)


def mobilenetv3_large():
    # num_features: _gen_mobilenet_v3 fixes the head conv at 1280 whatever the multiplier (96 -> 1280
    # would be 123k weights): scaled by the multiplier as _gen_efficientnet does for its head.
    # fix_stem False: timm keeps the stem at 16 below multiplier 0.75, so blocks.0.0 (DS, 16 * 0.1
    # -> 8 out) would lose the residual it has in mobilenetv3_large_100 (16 -> 16); an 8-wide stem
    # keeps it.
    with overriding(mobilenetv3, '_create_mnv3', num_features=round_channels(1280, 0.1), fix_stem=False):
        return mobilenetv3._gen_mobilenet_v3('mobilenetv3_large_100', 0.1, pretrained=False, num_classes=NUM_CLASSES)


# name -> build (returns the timm model), construction (how, for case.json), size (input px).
# ResNet widths: channels = stage planes (timm default (64, 128, 256, 512)); stem_width for the
# deep stems (timm: 32). The 7x7 stem is always 64 wide in timm's ResNet (inplanes = 64). The deep
# stems end 2 * stem_width wide, kept != 4 * channels[0] so layer1.0 keeps its downsample
# projection (timm adds one only where stride != 1 or inplanes != planes * 4).
CASES = {
    'seresnet50': dict(
        build=create('seresnet50', channels=(4, 8, 16, 16)),
        construction="timm.create_model('seresnet50', num_classes=10, channels=(4, 8, 16, 16))"),
    'seresnext26d_32x4d': dict(
        # cardinality 32, base_width 4 kept: width = floor(planes * 4 / 64) * 32 needs planes >= 16;
        # layer4 planes 32 -> 64-wide grouped conv, 2 channels per group
        build=create('seresnext26d_32x4d', channels=(16, 16, 16, 32), stem_width=8),
        construction="timm.create_model('seresnext26d_32x4d', num_classes=10, channels=(16, 16, 16, 32), stem_width=8)"),
    'ecaresnet50d': dict(
        build=create('ecaresnet50d', channels=(4, 8, 16, 16), stem_width=4),
        construction="timm.create_model('ecaresnet50d', num_classes=10, channels=(4, 8, 16, 16), stem_width=4)"),
    'ecaresnet26t': dict(
        # layer4 has 128 channels: ECA kernel 5 there, 3 elsewhere (full width: 5, 5, 5, 7)
        build=create('ecaresnet26t', channels=(4, 8, 16, 32), stem_width=4),
        construction="timm.create_model('ecaresnet26t', num_classes=10, channels=(4, 8, 16, 32), stem_width=4)"),
    'gcresnet50t': dict(
        # GC's rd_ratio 1/8 of these narrow blocks would leave its mlp_add LayerNorm2d 1 or 2
        # channels (output = its bias, or +-1: float32 rounding amplified 1000x by eps 1e-6):
        # rd_ratio 1/2 gives it 4, 4, 8, 16 channels (timm: 8, 16, 32, 64)
        build=create('gcresnet50t', blocks=shrink(BYOB_CFGS['gcresnet50t'].blocks, 16), stem_chs=8,
                     attn_kwargs=dict(rd_ratio=1 / 2)),
        construction="timm.create_model('gcresnet50t', num_classes=10, blocks=<byobnet model_cfgs['gcresnet50t']"
                     ".blocks with c // 16>, stem_chs=8, attn_kwargs=dict(rd_ratio=1/2))  "
                     "# ByobNet overlays kwargs on its ByoModelCfg"),
    'skresnet18': dict(
        # layer1 stays 64 wide: timm's 7x7 stem is 64 wide, so anything narrower would give
        # layer1.0 a downsample projection that skresnet18 does not have
        build=create('skresnet18', channels=(64, 8, 8, 8)),
        construction="timm.create_model('skresnet18', num_classes=10, channels=(64, 8, 8, 8))"),
    'resnest14d': dict(
        build=create('resnest14d', channels=(4, 8, 16, 32), stem_width=4),
        construction="timm.create_model('resnest14d', num_classes=10, channels=(4, 8, 16, 32), stem_width=4)"),
    'efficientnet_b0': dict(
        build=efficientnet_b0,
        construction="timm.models.efficientnet._gen_efficientnet('efficientnet_b0', channel_multiplier=0.1, "
                     "num_classes=10) with stem_size=16, fix_stem=True (timm: round(32 * multiplier))"),
    'mobilenetv3_large_100': dict(
        build=mobilenetv3_large,
        construction="timm.models.mobilenetv3._gen_mobilenet_v3('mobilenetv3_large_100', 0.1, num_classes=10) with "
                     "num_features (head conv width, fixed 1280 in timm) = round_channels(1280, 0.1) = 128 and "
                     "fix_stem=False (stem round(16 * 0.1) = 8; timm fixes it at 16 below multiplier 0.75)"),
    'regnety_002': dict(
        # The smallest widths timm's generate_regnet gives with regnety_002's depth 13 split into
        # stages of 1, 1, 4, 7 blocks (w0 must be a multiple of 8): widths 8, 16, 32, 72
        build=create('regnety_002', w0=8, wa=8.2, wm=2.1, stem_width=8),
        construction="timm.create_model('regnety_002', num_classes=10, w0=8, wa=8.2, wm=2.1, stem_width=8)  "
                     "# RegNet overlays kwargs on its RegNetCfg (timm: w0=24, wa=36.44, wm=2.49, stem_width=32)"),
    'botnet26t_256': dict(
        build=create('botnet26t_256', blocks=shrink(BYOA_CFGS['botnet26t'].blocks, 16), stem_chs=8, img_size=64),
        construction="timm.create_model('botnet26t_256', num_classes=10, img_size=64, blocks=<byoanet "
                     "model_cfgs['botnet26t'].blocks with c // 16>, stem_chs=8)"),
    'halonet26t': dict(
        build=create('halonet26t', blocks=shrink(BYOA_CFGS['halonet26t'].blocks, 16), stem_chs=8),
        construction="timm.create_model('halonet26t', num_classes=10, blocks=<byoanet model_cfgs['halonet26t']"
                     ".blocks with c // 16>, stem_chs=8)",
        size=256),  # feature maps divisible by the block size 8 in stages 3 and 4 (stride 16, 32)
}

HALO_LAYOUT = (
    "'<module>.halo' is HaloAttn's softmax in timm's own blocked shape [heads, blocks, query, key]: "
    "heads = num_heads (query/key/value channels are head-major: q channel = head * dimHeadQk + d; "
    "the kv conv's channels are (head, [k dimHeadQk | v dimHeadV]) head-major, k before v within a head); "
    "blocks = numBlocksH * numBlocksW, block index = hb * numBlocksW + wb; "
    "query = qy * queryBlock + qx with queryBlock = blockSize // blockStride, the query at output position "
    "(hb * queryBlock + qy, wb * queryBlock + qx) (q is a 1x1 conv with stride blockStride); "
    "key = ky * winSize + kx with winSize = blockSize + 2 * haloSize, the key at input position "
    "(hb * blockSize - haloSize + ky, wb * blockSize - haloSize + kx); positions outside the input are the kv "
    "conv's output zero-padded by haloSize on every side (F.pad after the conv: k = v = 0 there, NOT masked: "
    "their logit is the relative-position term alone and they take softmax weight). Rows sum to 1 over key.")


def timm_commit():
    if os.environ.get('TIMM_COMMIT'):
        return os.environ['TIMM_COMMIT']
    def git(*args):
        try:
            return subprocess.check_output(['git', *args], stderr=subprocess.DEVNULL).decode().strip()
        except (subprocess.CalledProcessError, OSError):
            return None
    src = os.path.dirname(os.path.dirname(os.path.abspath(timm.__file__)))
    if git('-C', src, 'rev-parse', '--show-toplevel') == src:  # timm imported from a checkout
        return git('-C', src, 'rev-parse', 'HEAD')
    return git('--git-dir', MIRROR, 'rev-parse', 'HEAD') or 'unknown'


def fixture_input(size, mean, std):
    """sample_image normalises with ImageNet's mean/std; renormalise if the arch's cfg differs."""
    x = sample_image(size)
    m0, s0 = torch.tensor(IMAGENET_DEFAULT_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_DEFAULT_STD).view(1, 3, 1, 1)
    if tuple(mean) != tuple(IMAGENET_DEFAULT_MEAN) or tuple(std) != tuple(IMAGENET_DEFAULT_STD):
        m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        x = ((x * s0 + m0) - m) / s
    return x.float().contiguous()


def hub_config(arch, net, size):
    """config.json as timm's push_to_hub (save_config_for_hf) writes it, pretrained_cfg reduced to the
    fields the fixture means: timm's default-tag values, the fixture's input size."""
    cfg = net.pretrained_cfg
    pretrained_cfg = {
        'tag': 'fixture',
        'input_size': [3, size, size],
        'fixed_input_size': bool(cfg.get('fixed_input_size', False)),
        'interpolation': cfg['interpolation'],
        'crop_pct': cfg['crop_pct'],
        'crop_mode': cfg.get('crop_mode') or 'center',
        'mean': list(cfg['mean']),
        'std': list(cfg['std']),
        'num_classes': NUM_CLASSES,
        'first_conv': cfg['first_conv'],
        'classifier': cfg['classifier'],
    }
    return {'architecture': arch, 'num_classes': NUM_CLASSES, 'num_features': int(net.num_features),
            'pretrained_cfg': pretrained_cfg, 'label_names': [f'class{i}' for i in range(NUM_CLASSES)]}


def self_attn_geometry(net, x):
    """Input feature size and parameters of every BottleneckAttn / HaloAttn (for case.json)."""
    info, handles = {}, []
    for name, m in net.named_modules():
        cls = type(m).__name__
        if cls not in ('BottleneckAttn', 'HaloAttn'):
            continue

        def pre(mod, inputs, name=name, cls=cls):
            _, c, h, w = inputs[0].shape
            d = {'type': cls, 'inChannels': c, 'featureSize': [h, w], 'heads': mod.num_heads,
                 'dimHeadQk': mod.dim_head_qk, 'dimHeadV': mod.dim_head_v, 'scale': mod.scale,
                 'scalePosEmbed': mod.scale_pos_embed, 'avgPoolAfter': type(mod.pool).__name__ == 'AvgPool2d'}
            if cls == 'HaloAttn':
                d.update(blockSize=mod.block_size, haloSize=mod.halo_size, winSize=mod.win_size,
                         blockStride=mod.block_stride, queryBlock=mod.block_size_ds,
                         numBlocksH=h // mod.block_size, numBlocksW=w // mod.block_size)
            info[name] = d
        handles.append(m.register_forward_pre_hook(pre))
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return info


def calibrate_bn(net, x, gen):
    """After randomise() (every weight random, fan-in scaled, so no zero-init residual branch or GC
    add branch survives; running stats random but unrelated to the activations): BN affine redrawn,
    running stats measured on a small batch (the input, its flips, noisy copies, noise) (train-mode forward, so each BN sees
    the distribution the calibrated BNs before it produce), then perturbed a little so no BN is an
    exact normaliser. Without this the image's spatial signal fades with depth (fan-in scaled convs
    and ReLUs halve it per layer) and every softmax map is nearly uniform; make_fixtures' randomise
    redraws the affine after calibrating, which compounds over timm's 50-plus BNs (logits ~1e3)."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
            m.reset_running_stats()
            m.momentum = None  # cumulative average: the batch's statistics
        net.train()
        # Noise images too: the BNs inside SK / split attention see one pooled vector per image,
        # and four near-identical images would give them a vanishing variance (saturated gates).
        net(torch.cat([x, x.flip(3), x.flip(2), x + 0.3 * torch.randn(x.shape, generator=gen),
                       torch.randn((4,) + x.shape[1:], generator=gen)]))
        net.eval()
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(torch.randn(m.running_mean.shape, generator=gen) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.exp(torch.randn(m.running_var.shape, generator=gen) * 0.1))
            m.num_batches_tracked.fill_(int(torch.randint(1, 5000, (1,), generator=gen)))


def make(arch, seed):
    case = CASES[arch]
    size = case.get('size', 64)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = case['build']()
    config = hub_config(arch, net, size)
    x = fixture_input(size, config['pretrained_cfg']['mean'], config['pretrained_cfg']['std'])
    randomise(net, gen)
    calibrate_bn(net, x, gen)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    geometry = self_attn_geometry(net, x)

    with torch.no_grad():
        logits32 = net(x)[0]
        net64 = net.double()
        rec, handles = hooks(net64)
        logits = net64(x.double())[0]
        for h in handles:
            h.remove()
    assert (logits32.double() - logits).abs().max() < 1e-3 * max(1.0, logits.abs().max().item())

    tensors = {'input': x, 'logits': logits.float()}
    modules = []
    for module, kind, key, value in rec:
        name = f'{module}.{key}'
        assert name not in tensors, name
        tensors[name] = value[0].float().contiguous()
        modules.append({'name': module, 'kind': kind, 'map': key, 'shape': list(value.shape[1:])})

    d = os.path.join(OUT, arch)
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, 'model.safetensors'), state, {'format': 'pt'})
    write_safetensors(os.path.join(d, 'expected.safetensors'), tensors)
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    info = {'arch': arch, 'inputSize': size, 'numClasses': NUM_CLASSES, 'timm': timm.__version__,
            'timmCommit': timm_commit(), 'torch': torch.__version__, 'seed': seed,
            'construction': case['construction'], 'modules': modules, 'keys': len(state)}
    if geometry:
        info['selfAttn'] = geometry
    if any(m['kind'] == 'halo' for m in modules):
        info['haloLayout'] = HALO_LAYOUT
    with open(os.path.join(d, 'case.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    kinds = sorted({m['kind'] for m in modules})
    size_kb = os.path.getsize(os.path.join(d, 'model.safetensors')) // 1024
    print(f'{arch}: {size}px, {len(state)} keys, {size_kb} KB, {len(modules)} maps {kinds}, '
          f'logits {[round(v, 4) for v in logits[:3].tolist()]}')


def check(arch):
    """Reload model.safetensors into a fresh timm model (other random init) and rerun the input."""
    d = os.path.join(OUT, arch)
    state = read_safetensors(os.path.join(d, 'model.safetensors'))
    expected = read_safetensors(os.path.join(d, 'expected.safetensors'))
    torch.manual_seed(12345)
    net = CASES[arch]['build']()
    net.load_state_dict(state, strict=True)
    net.eval()
    with torch.no_grad():
        l32 = net(expected['input'])[0]
        net64 = net.double()
        rec, handles = hooks(net64)
        l64 = net64(expected['input'].double())[0]
        for h in handles:
            h.remove()
    ref = expected['logits'].double()
    maps = {f'{m}.{k}': v[0] for m, _, k, v in rec}
    assert sorted(maps) == sorted(k for k in expected if k not in ('input', 'logits')), arch
    map_err = max((maps[k] - expected[k].double()).abs().max().item() for k in maps) if maps else 0.0
    err64, err32 = (l64 - ref).abs().max().item(), (l32.double() - ref).abs().max().item()
    ok = err64 < 1e-5 and map_err < 1e-5 and err32 < 1e-3
    print(f'{arch}: {"ok" if ok else "MISMATCH"} keys {len(state)}, maps {len(maps)}; |logits64 - expected| '
          f'{err64:.1e}, |logits32 - expected| {err32:.1e}, maps {map_err:.1e}')
    return ok


def main(argv):
    torch.set_num_threads(1)
    do_check = '--check' in argv
    names = [a for a in argv if a != '--check']
    unknown = set(names) - set(CASES)
    assert not unknown, f'unknown arch {sorted(unknown)}'
    ok = True
    for i, arch in enumerate(CASES):
        if not names or arch in names:
            if do_check:
                ok = check(arch) and ok
            else:
                make(arch, 4000 + i)
    if not ok:
        sys.exit(1)


if __name__ == '__main__':
    main(sys.argv[1:])
