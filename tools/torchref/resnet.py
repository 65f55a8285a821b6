"""Configurable ResNet (He et al., CVPR 2016) with attention slots, torchvision / official
CBAM repository key names. Built from a dict with the field names of engine/nets/spec.ts
NetSpec, so a spec detected from a checkpoint builds the same network here and in the engine.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .afnb import AFNB
from .apnb import APNB
from .attention import Attention, CBAMOfficial, CBAMTimm, GCBlock, SELinear, SETimm, SpatialSE
from .crisscross import CrissCrossAttention
from .doubleattention import DoubleAttention
from .emattention import EMAttention
from .inserted import BAM, NonLocal
from .interlaced import InterlacedSparseAttention
from .lightnl import LightNL
from .nlsa import NonLocalSparseAttention
from .polarized import PolarizedSelfAttention
from .rnl import RegionNonLocal
from .san import PairwiseSelfAttention
from .selfattention import ChannelSelfAttention, SelfAttention
from .stn import SpatialTransformer

STANDARD_LAYERS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}
DEFAULT_ATTR = {('cbam', 'official'): 'cbam', ('cbam', 'timm'): 'se', ('se', 'timm'): 'se',
                ('se', 'linear'): 'se', ('gc', None): 'gc', ('spatial', None): 'sa'}


def make_block_attention(att, channels):
    kind = att.get('kind', 'none')
    r = att.get('reduction', 16)
    d = att.get('divisor')  # timm make_divisible rounding of the hidden width (NetSpec `divisor`)
    if kind == 'none':
        return None
    if kind == 'cbam':
        if att.get('layout', 'official') == 'official':
            return CBAMOfficial(channels, r, att.get('order', 'channel-spatial'), att.get('pool', 'avg+max'))
        if att.get('order', 'channel-spatial') != 'channel-spatial' or att.get('pool', 'avg+max') != 'avg+max':
            raise ValueError("CBAM 'order' and 'pool' variants are defined for the official layout only")
        return CBAMTimm(channels, r, d)
    if kind == 'se':
        return SETimm(channels, r, d) if att.get('layout', 'timm') == 'timm' else SELinear(channels, r, d)
    if kind == 'gc':
        return GCBlock(channels, r)
    if kind == 'psa':
        return PolarizedSelfAttention(channels, att.get('variant', 'parallel'))
    if kind == 'spatial':
        return SpatialSE(channels)
    raise ValueError(f'unknown block attention {kind!r}')


def attention_attr(att):
    kind = att.get('kind', 'none')
    layout = att.get('layout') if kind not in ('gc', 'psa', 'spatial') else None
    return att.get('attr') or DEFAULT_ATTR.get((kind, layout), kind)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, att):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(inplanes, planes, stride, self.expansion)
        self._attach(att, planes)

    def _attach(self, att, channels):
        module = make_block_attention(att, channels)
        self.att_attr = attention_attr(att) if module is not None else None
        if module is not None:
            setattr(self, self.att_attr, module)

    def residual(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    def forward(self, x):
        out = self.residual(x)
        if self.att_attr is not None:
            out = getattr(self, self.att_attr)(out)
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class Bottleneck(BasicBlock):
    expansion = 4

    def __init__(self, inplanes, planes, stride, att):
        nn.Module.__init__(self)
        width = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        # Stride on the 3x3 conv, as torchvision (ResNet v1.5) and the official CBAM code.
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.downsample = _downsample(inplanes, planes, stride, self.expansion)
        self._attach(att, width)

    def residual(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


def _downsample(inplanes, planes, stride, expansion):
    if stride == 1 and inplanes == planes * expansion:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, planes * expansion, 1, stride, bias=False),
                         nn.BatchNorm2d(planes * expansion))


def normalise_spec(spec):
    """Fill defaults so a partial spec (just depth, say) is complete; returns a new dict."""
    s = dict(spec)
    s.setdefault('family', 'resnet')
    depth = s.get('depth', 18)
    s.setdefault('block', 'bottleneck' if depth >= 50 else 'basic')
    s['layers'] = list(s.get('layers') or STANDARD_LAYERS[depth])
    s['depth'] = sum(s['layers']) * (3 if s['block'] == 'bottleneck' else 2) + 2
    s.setdefault('baseWidth', 64)
    s.setdefault('stem', 'imagenet')
    att = dict(s.get('attention') or {'kind': 'none'})
    if att['kind'] == 'psa':
        # PSA has no reduction or layout: its widths are fixed (C / 2; sequential C / 8 inside conv_up).
        att['attr'] = attention_attr(att)
        att.setdefault('variant', 'parallel')
    elif att['kind'] == 'spatial':
        # The simple spatial gate (sSE) has no reduction or layout: one 1x1 conv C -> 1.
        att['attr'] = attention_attr(att)
    elif att['kind'] != 'none':
        att['attr'] = attention_attr(att)
        att.setdefault('reduction', 16)
        if att['kind'] != 'gc':
            att.setdefault('layout', 'official' if att['kind'] == 'cbam' else 'timm')
    s['attention'] = att
    s['inserts'] = [dict(i) for i in s.get('inserts', [])]
    s.setdefault('numClasses', 1000)
    if 'strides' in s:
        s['strides'] = [int(v) for v in s['strides']]
        if len(s['strides']) != 4 or any(v not in (1, 2) for v in s['strides']):
            raise ValueError(f"strides must be four values of 1 or 2, got {s['strides']!r}")
    return s


class ResNet(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec = normalise_spec(spec)
        block = Bottleneck if spec['block'] == 'bottleneck' else BasicBlock
        base = spec['baseWidth']
        if spec['stem'] == 'imagenet':
            self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, base, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        inplanes = base
        self.stage_channels = []
        # First-block stride of each stage: torchvision's 1, 2, 2, 2 unless the spec says otherwise
        # (the built-in model keeps layer3 at stride 1 for finer maps; see tools/model_def.py).
        strides = spec.get('strides', [1, 2, 2, 2])
        for k, count in enumerate(spec['layers']):
            planes = base * 2 ** k
            blocks = []
            for i in range(count):
                blocks.append(block(inplanes, planes, strides[k] if i == 0 else 1, spec['attention']))
                inplanes = planes * block.expansion
            setattr(self, f'layer{k + 1}', nn.Sequential(*blocks))
            self.stage_channels.append(inplanes)
        self.inserted = {}
        self.fusion_low = {}  # AFNB inserts: name -> the stage whose output is their low-level input
        for ins in spec['inserts']:
            channels = self.stage_channels[ins['after'] - 1]
            if ins['kind'] == 'bam':
                m = BAM(channels, ins.get('reduction', 16), ins.get('dilation', 4))
            elif ins['kind'] == 'nonlocal':
                m = NonLocal(channels, ins.get('mode', 'embedded'), ins.get('subSample', True), ins.get('bn', True))
            elif ins['kind'] == 'gc':
                m = GCBlock(channels, ins.get('reduction', 16))
            elif ins['kind'] in ('selfattn', 'pam'):
                m = SelfAttention(channels, ins.get('reduction', 8))
            elif ins['kind'] == 'cam':
                m = ChannelSelfAttention()
            elif ins['kind'] == 'cca':
                m = CrissCrossAttention(channels, ins.get('reduction', 8), ins.get('recurrence', 2))
            elif ins['kind'] == 'ema':
                m = EMAttention(channels, ins.get('bases', 64), ins.get('stages', 3))
            elif ins['kind'] == 'a2':
                m = DoubleAttention(channels, ins['cm'], ins['cn'])
            elif ins['kind'] == 'isa':
                m = InterlacedSparseAttention(channels, ins.get('downFactor', (8, 8)), ins.get('keyChannels'),
                                              ins.get('valueChannels'))
            elif ins['kind'] == 'lightnl':
                m = LightNL(channels, ins.get('ratio', 1.0), ins.get('stride', 1))
            elif ins['kind'] == 'apnb':
                m = APNB(channels, ins.get('keyChannels'), ins.get('valueChannels'), ins.get('sizes', (1, 3, 6, 8)))
            elif ins['kind'] == 'afnb':
                low = ins.get('low', ins['after'] - 1)
                if not 1 <= low < ins['after']:
                    raise ValueError(f"afnb 'low' must be a stage before 'after' ({ins['after']}), got {low!r}")
                m = AFNB(self.stage_channels[low - 1], channels, ins.get('keyChannels'), ins.get('valueChannels'),
                         ins.get('sizes', (1, 3, 6, 8)))
                self.fusion_low[ins['name']] = low
            elif ins['kind'] == 'stn':
                m = SpatialTransformer(channels, ins.get('hidden', 32))
            elif ins['kind'] == 'rnl':
                m = RegionNonLocal(channels, ins.get('kernel', 3), ins.get('subSample', False))
            elif ins['kind'] == 'nlsa':
                m = NonLocalSparseAttention(channels, ins.get('reduction', 4), ins.get('hashes', 4),
                                            ins.get('buckets', 8), ins.get('chunk', 32), ins.get('kSize', 3),
                                            ins.get('resScale', 1.0))
            elif ins['kind'] == 'san':
                m = PairwiseSelfAttention(channels, ins.get('kernel', 7), ins.get('sharePlanes', 8))
            else:
                raise ValueError(f"unknown inserted block {ins['kind']!r}")
            setattr(self, ins['name'], m)
            self.inserted.setdefault(ins['after'], []).append(ins['name'])
        self.fc = nn.Linear(inplanes, spec['numClasses'])
        for name, m in self.named_modules():
            if isinstance(m, Attention):
                m.tap_name = name

    def attention_modules(self):
        return {name: m for name, m in self.named_modules() if isinstance(m, Attention)}

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.spec['stem'] == 'imagenet':
            x = F.max_pool2d(x, 3, 2, 1)
        stages = {}  # each stage's output after its inserts: AFNB's low-level input
        for k in range(1, 5):
            x = getattr(self, f'layer{k}')(x)
            for name in self.inserted.get(k, []):
                low = self.fusion_low.get(name)
                x = getattr(self, name)(x) if low is None else getattr(self, name)(x, stages[low])
            stages[k] = x
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def forward_with_taps(self, x, bypass=()):
        """(logits, taps): taps maps "module.tap" to a tensor with a leading batch dim."""
        modules = self.attention_modules()
        unknown = set(bypass) - set(modules)
        if unknown:
            raise ValueError(f'bypass names unknown modules: {sorted(unknown)}; modules: {sorted(modules)}')
        taps = {}
        try:
            for name, m in modules.items():
                m.ctx = (taps, name in bypass)
            logits = self.forward(x)
        finally:
            for m in modules.values():
                m.ctx = None
        return logits, taps


def build_resnet(spec):
    return ResNet(spec)
