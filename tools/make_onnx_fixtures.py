"""Writes test/fixtures/onnx/<case>/: a small seeded attention network exported by Debian
PyTorch's torch.onnx.export, and every attention map PyTorch computes for one real photo,
to check the ONNX importer's discovery (engine/import/) against.

Run from the repository root:  /usr/bin/python3 tools/make_onnx_fixtures.py [case ...]

Per case:
  model.onnx            torch.onnx.export(net, x, opset_version=case's opset), input "image"
                        with dynamic height and width unless the case says dynamic=False (the
                        engine renames it); 32 px unless the case gives a size (ann-afnb: 64)
  expected.safetensors  'input' [1,3,H,W], 'logits' [classes], and per attention module
                        '<module>.<map>' without the batch dim (the engine's .npy names)
  case.json             {opset, inputSize, modules: [{name, kind, map, shape}]}: what the
                        importer must list, and nothing else (isanet's entries add `what`: what
                        the importer takes them for); `unlisted` (ccnet, emanet, a2net, isanet,
                        lightnl-resnet, ann-afnb, ann-apnb):
                        maps stored in expected.safetensors that no importer pattern finds

The maps are what the modules compute, read from the PyTorch forward pass: the torchref
ResNets' own taps (tools/torchref, forward_with_taps), forward hooks on the submodules
that output a gate, and, for the blocks written here, the values their forward records.

The blocks written here follow the papers (semantics only; code not copied):
  ECA   Wang et al., "ECA-Net", CVPR 2020: GAP, 1-D conv over channels (k 3), sigmoid.
  SK    Li et al., "Selective Kernel Networks", CVPR 2019: two branches (3x3, 3x3 dilated
        2), fuse by sum, GAP, fc, one fc per branch, softmax over branches per channel.
  DANet Fu et al., "Dual Attention Network", CVPR 2019: PAM (softmax(Q^T K) over positions,
        gamma) and CAM (softmax(max(E) - E), E = X X^T over channels, gamma).
        (The danet-resnet case uses torchref's PAM/CAM instead: tools/torchref/selfattention.py.)
  MobileNetV3 (Howard et al., ICCV 2019) block: 1x1 expand, hard-swish, depthwise 3x3,
        SE with hard-sigmoid (F.hardsigmoid), and one with relu6(x + 3) / 6 written out.
  MBConv (EfficientNet, Tan & Le, ICML 2019): SiLU activations, SE with SiLU inside and a
        sigmoid gate.
  ViT   Dosovitskiy et al., ICLR 2021, tiny: patch 4, dim 32, 2 blocks of 2 heads, CLS token;
        attention softmax(q k^T / sqrt(d)) shaped [B, heads, T, T] as timm writes it.
The vit case also stores 'rollout.attention' [8, 8]: attention rollout (Abnar & Zuidema, ACL
2020) over its two layers, the CLS row over the patches.
Negative controls the importer must not list: SiLU (x * sigmoid(x)) and hard-swish
activations, and a sigmoid "multi-label head" output (eca case's second output).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import cifar, nl, randomise, sample_image, write_safetensors  # noqa: E402
from torchref import build_resnet  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'onnx')


# --- blocks written here ----------------------------------------------------------------

class ECA(nn.Module):
    def __init__(self, k=3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)
        self.gate = None

    def forward(self, x):
        y = F.adaptive_avg_pool2d(x, 1)                     # [B, C, 1, 1]
        y = self.conv(y.squeeze(-1).transpose(-1, -2))      # [B, 1, C]
        y = torch.sigmoid(y.transpose(-1, -2).unsqueeze(-1))  # [B, C, 1, 1]
        self.gate = y
        return x * y.expand_as(x)


class SK(nn.Module):
    def __init__(self, c, r=2):
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()),
            nn.Sequential(nn.Conv2d(c, c, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(c), nn.ReLU())])
        d = max(c // r, 4)
        self.fc = nn.Sequential(nn.Conv2d(c, d, 1, bias=False), nn.BatchNorm2d(d), nn.ReLU())
        self.fcs = nn.Conv2d(d, c * 2, 1)
        self.weights = None

    def forward(self, x):
        feats = torch.stack([b(x) for b in self.branches], dim=1)   # [B, 2, C, H, W]
        s = self.fc(F.adaptive_avg_pool2d(feats.sum(1), 1))
        b, m, c = feats.shape[:3]
        a = torch.softmax(self.fcs(s).view(b, m, c, 1, 1), dim=1)   # [B, 2, C, 1, 1]
        self.weights = a
        return (feats * a).sum(1)


class PAM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.query_conv = nn.Conv2d(c, c // 4, 1)
        self.key_conv = nn.Conv2d(c, c // 4, 1)
        self.value_conv = nn.Conv2d(c, c, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.attention = None

    def forward(self, x):
        b, c, h, w = x.shape
        q = self.query_conv(x).view(b, -1, h * w).permute(0, 2, 1)
        k = self.key_conv(x).view(b, -1, h * w)
        att = torch.softmax(torch.bmm(q, k), dim=-1)                # [B, HW, HW]
        self.attention = att
        v = self.value_conv(x).view(b, -1, h * w)
        out = torch.bmm(v, att.permute(0, 2, 1)).view(b, c, h, w)
        return self.gamma * out + x


class CAM(nn.Module):
    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.attention = None

    def forward(self, x):
        b, c, h, w = x.shape
        q = x.view(b, c, -1)
        energy = torch.bmm(q, q.permute(0, 2, 1))                    # [B, C, C]
        energy = torch.max(energy, -1, keepdim=True)[0].expand_as(energy) - energy
        att = torch.softmax(energy, dim=-1)
        self.attention = att
        out = torch.bmm(att, q).view(b, c, h, w)
        return self.gamma * out + x


def conv_bn(cin, cout, stride=1, groups=1, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout))


class SEGate(nn.Module):
    """Squeeze-excite with a chosen inner activation and gate: returns x * gate."""

    def __init__(self, c, hidden, act, gate):
        super().__init__()
        self.conv_reduce = nn.Conv2d(c, hidden, 1)
        self.conv_expand = nn.Conv2d(hidden, c, 1)
        self.act, self.gate_fn = act, gate
        self.gate = None

    def forward(self, x):
        s = self.conv_expand(self.act(self.conv_reduce(F.adaptive_avg_pool2d(x, 1))))
        g = self.gate_fn(s)
        self.gate = g
        return x * g


class InvertedResidual(nn.Module):
    def __init__(self, c, expand, act, se):
        super().__init__()
        e = c * expand
        self.conv_pw = conv_bn(c, e, k=1)
        self.conv_dw = conv_bn(e, e, groups=e)
        self.act = act
        self.se = se(e)
        self.conv_pwl = conv_bn(e, c, k=1)

    def forward(self, x):
        y = self.act(self.conv_pw(x))
        y = self.act(self.conv_dw(y))
        y = self.se(y)
        return x + self.conv_pwl(y)


class SmallNet(nn.Module):
    """stem conv (stride 2) -> blocks -> GAP -> fc; `extra_sigmoid_head` adds a second output."""

    def __init__(self, width, blocks, classes=10, extra_sigmoid_head=False, stem_act=nn.ReLU()):
        super().__init__()
        self.stem = conv_bn(3, width, stride=2)
        self.stem_act = stem_act
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(width, classes)
        self.extra = extra_sigmoid_head

    def forward(self, x):
        x = self.blocks(self.stem_act(self.stem(x)))
        logits = self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        if self.extra:
            return logits, torch.sigmoid(logits)
        return logits


class ResidualWrap(nn.Module):
    """conv-bn-relu then an attention block (named `att`)."""

    def __init__(self, c, att):
        super().__init__()
        self.conv = conv_bn(c, c)
        self.att = att

    def forward(self, x):
        return self.att(F.relu(self.conv(x)))


class ViTAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.attn = None

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)                                  # [B, heads, T, T]
        self.attn = attn
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class ViTBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ViTAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    def __init__(self, size=32, patch=4, dim=32, heads=2, depth=2, classes=10):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (size // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[ViTBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def hsig_written(x):
    return F.relu6(x + 3) / 6


def hswish(x):
    return F.hardswish(x)


# --- cases ------------------------------------------------------------------------------

CBAM_OFF = {'kind': 'cbam', 'layout': 'official', 'reduction': 4, 'attr': 'cbam'}


def resnet_case(spec):
    return {'build': lambda: build_resnet(spec), 'torchref': True}


def danet():
    return SmallNet(16, [ResidualWrap(16, PAM(16)), ResidualWrap(16, CAM())])


CASES = {
    'cbam-resnet': dict(resnet_case(cifar(CBAM_OFF, width=8)), opset=13),
    'se-resnet': dict(resnet_case(cifar({'kind': 'se', 'layout': 'timm', 'reduction': 4, 'attr': 'se'}, width=8)), opset=14),
    'gc-resnet': dict(resnet_case(cifar({'kind': 'gc', 'reduction': 2, 'attr': 'gc'}, width=8)), opset=15),
    'bam-resnet': dict(resnet_case(cifar(inserts=[{'kind': 'bam', 'name': f'bam{k}', 'after': k, 'reduction': 2, 'dilation': 4}
                                                  for k in (1, 2)], width=8)), opset=17),
    'eca': dict(build=lambda: SmallNet(16, [ResidualWrap(16, ECA()), ResidualWrap(16, ECA())], extra_sigmoid_head=True), opset=13),
    'sk': dict(build=lambda: SmallNet(16, [SK(16), SK(16)]), opset=14),
    'danet': dict(build=danet, opset=16, gamma=True),
    'mobilenetv3': dict(build=lambda: SmallNet(8, [
        InvertedResidual(8, 3, hswish, lambda e: SEGate(e, 8, F.relu, F.hardsigmoid)),
        InvertedResidual(8, 3, hswish, lambda e: SEGate(e, 8, F.relu, hsig_written))], stem_act=nn.Hardswish()), opset=14),
    'mbconv': dict(build=lambda: SmallNet(8, [
        InvertedResidual(8, 4, F.silu, lambda e: SEGate(e, 4, F.silu, torch.sigmoid)),
        InvertedResidual(8, 4, F.silu, lambda e: SEGate(e, 4, F.silu, torch.sigmoid))], stem_act=nn.SiLU()), opset=17),
    'vit': dict(build=TinyViT, opset=17, dynamic=False),
}
for i, mode in enumerate(('embedded', 'gaussian', 'dot', 'concat')):
    CASES[f'nl-{mode}'] = dict(resnet_case(cifar(inserts=[nl('nl3', 3, mode, mode in ('embedded', 'concat'))], width=8)),
                               opset=13 + i)
# Issue 16 (appended: a case's seed is 2000 + its position). The torchref networks of
# make_fixtures' selfattn and danet cases (SAGAN self-attention; DANet PAM then CAM after
# layer3), and two of the CBAM paper's orders (a NetSpec has one block attention, so one order
# per network): the gates in the other order, and both gates from the block input.
CASES['sagan'] = dict(resnet_case(cifar(inserts=[{'kind': 'selfattn', 'name': 'sa3', 'after': 3, 'reduction': 8}],
                                        width=8)), opset=13)
DANET_INSERTS = [{'kind': 'pam', 'name': 'pam3', 'after': 3, 'reduction': 8}, {'kind': 'cam', 'name': 'cam3', 'after': 3}]
CASES['danet-resnet'] = dict(resnet_case(cifar(inserts=DANET_INSERTS, width=8)), opset=14)
CASES['cbam-spatial-channel'] = dict(resnet_case(cifar(dict(CBAM_OFF, order='spatial-channel'), width=8)), opset=15)
CASES['cbam-parallel'] = dict(resnet_case(cifar(dict(CBAM_OFF, order='parallel'), width=8)), opset=16)
# Issue 16, second slice: the torchref networks of make_fixtures' psa-sequential and cca cases.
# PSA (the authors' PSA_s; opset 17, so conv_up's LayerNorm is one LayerNormalization) in every
# block; CCNet's criss-cross attention after layer3, R = 2. The importer lists PSA's two gates
# and the channel branch's softmax over positions; CCNet's softmax over each position's H + W
# column-and-row keys is found as a criss-cross attention, one module per pass (see expected_maps).
CASES['psa-resnet'] = dict(resnet_case(cifar({'kind': 'psa', 'variant': 'sequential', 'attr': 'psa'}, width=8)),
                          opset=17)
CCNET_UNLISTED = [
    ('attention', [8, 8], 'mean over queries of the pass-1 attention each position receives'),
    ('reach', [64, 64], 'two-pass reach A2 A1 (row = query, row-major positions): a product of the two passes, no one tensor of the graph')]
CASES['ccnet'] = dict(resnet_case(cifar(inserts=[{'kind': 'cca', 'name': 'cca3', 'after': 3, 'reduction': 8,
                                                  'recurrence': 2}], width=8)), opset=14,
                      unlisted=[{'name': 'cca3', 'map': m, 'shape': s, 'what': w} for m, s, w in CCNET_UNLISTED])
# Issue 16, third slice: the torchref networks of make_fixtures' ema, a2 and isa cases (EMANet's
# EM attention unit, A^2-Nets' double attention, ISANet's interlaced sparse self-attention, all
# after layer3 at 8x8). `unlisted`: the maps stored for each that the importer does not list.
ISANET_UNLISTED = [
    ('attention', [8, 8], 'mean over queries of the dense long-range attention L each position receives'),
    ('affinity', [64, 64], 'two-step reach S L (row = query, row-major positions)'),
    ('affinity2', [64, 64], "S: the short-range [8 blocks, 8, 8] softmax laid out densely "
                            '(/isa3/stages.0/short_range_sa/Softmax; listed too, as stages.0.short_range_sa)')]
CASES['emanet'] = dict(resnet_case(cifar(inserts=[{'kind': 'ema', 'name': 'ema3', 'after': 3, 'bases': 8, 'stages': 3}],
                                         width=8)), opset=14)
CASES['a2net'] = dict(resnet_case(cifar(inserts=[{'kind': 'a2', 'name': 'a23', 'after': 3, 'cm': 16, 'cn': 8}], width=8)),
                      opset=13)
CASES['isanet'] = dict(resnet_case(cifar(inserts=[{'kind': 'isa', 'name': 'isa3', 'after': 3, 'downFactor': [2, 4],
                                                   'keyChannels': 16, 'valueChannels': 32}], width=8)), opset=16,
                       # The authors' ISA_Block computes its grid with math.ceil on Python ints, so the
                       # traced Reshapes hold the 32 px sizes: a fixed-size export, like any export of theirs.
                       dynamic=False,
                       unlisted=[{'name': 'isa3', 'map': m, 'shape': s, 'what': w} for m, s, w in ISANET_UNLISTED])
# Issue 16, fourth slice: the torchref networks of make_fixtures' lightnl and spatial-gate cases.
# LightNL (tools/torchref/lightnl.py) has no softmax: f = theta^T phi / HW. After layer3 (ratio 1,
# stride 2) the authors' cost rule forms f, a Div of a MatMul of two computed values by the
# shape-derived HW, read by a MatMul: the importer lists it as an affinity [64 queries, 16 keys]
# (key grid: the strided Slice [1, 32, 4, 4]). After layer2 (ratio 0.25) the rule computes
# theta^T (phi g^T) / HW instead, so no [HW, K] value exists in the graph: unlisted.
# The simple spatial gate (sSE) is a Mul by a [1, 1, H, W] Sigmoid: a spatial gate per block.
LIGHTNL_UNLISTED = [
    ('attention', [8, 8], 'mean over the 256 queries of f = theta^T phi / HW, what each key of the 8 x 8 strided grid '
                          'receives; never formed in the graph (the authors\' cost rule multiplies phi g^T first)'),
    ('affinity', [256, 64], 'f = theta^T phi / HW (first 4 of 16 channels; rows = queries, row-major; not row-normalised), '
                            'likewise never formed')]
CASES['lightnl-resnet'] = dict(resnet_case(cifar(inserts=[
    {'kind': 'lightnl', 'name': 'lnl2', 'after': 2, 'ratio': 0.25, 'stride': 2},
    {'kind': 'lightnl', 'name': 'lnl3', 'after': 3, 'ratio': 1.0, 'stride': 2}], width=8)), opset=14,
    unlisted=[{'name': 'lnl2', 'map': m, 'shape': s, 'what': w} for m, s, w in LIGHTNL_UNLISTED])
CASES['spatial-gate-resnet'] = dict(resnet_case(cifar({'kind': 'spatial', 'attr': 'sa'}, width=8)), opset=15)
# Issue 16: ANN's asymmetric fusion non-local block (tools/torchref/afnb.py), the network of
# make_fixtures' afnb case (afnb4: queries from layer4's 8x8 output, keys and values from layer3's
# 16x16) with pyramid sizes [1, 2, 4, 8], which divide 16, so the adaptive pooling exports (as
# GlobalAveragePool and AveragePools of kernel = stride 8, 4, 2); 64 px, fixed-size (a dynamic
# export is "Unsupported: ONNX export of operator adaptive_avg_pool2d, input size not accessible").
# The softmax over the S = 85 pooled keys, /afnb4/stages.0/Softmax [1, 64, 85], is read by one
# MatMul (with the pooled values [1, 85, 16]): no map upstream has 85 positions, the 64 queries are
# the 8x8 high map, and the values are the four pools of one 16x16 map flattened and concatenated,
# so the importer replays the pools on a one-hot per position and lists the dense D = A P over the
# 16x16 low map (make_fixtures' affinity tap: rows = the 8x8 high-map queries, columns = 16x16
# low-level positions, row-major; never formed in the export's graph) in scope `afnb4.stages.0`.
AFNB_UNLISTED = [
    ('attention', [16, 16], 'mean over the 64 queries of D = A P, what each position of the 16x16 low-level map receives')]
CASES['ann-afnb'] = dict(resnet_case(cifar(inserts=[{'kind': 'afnb', 'name': 'afnb4', 'after': 4, 'low': 3,
                                                     'keyChannels': 16, 'valueChannels': 16, 'sizes': [1, 2, 4, 8]}],
                                           width=8)), opset=15, size=64, dynamic=False,
                         unlisted=[{'name': 'afnb4', 'map': m, 'shape': s, 'what': w} for m, s, w in AFNB_UNLISTED])
# Issue 16: the torchref network of make_fixtures' stn case, a spatial transformer after layer1
# (32x32, 8 channels; tools/torchref/stn.py). Opset 16, GridSample's first (bilinear, zeros,
# align_corners 0). torch 1.13 cannot export F.affine_grid ("Exporting the operator
# 'aten::affine_grid_generator' to ONNX opset version 16 is not supported"), so torchref writes
# the grid out: x_t, y_t from Range / Mul / Add / Div / Sub on the map's Shape, times theta's
# columns (Gathers of the [B, 2, 3] Reshape), summed: Mul / Add with broadcasting -> GridSample.
# theta (fc_loc's Gemm reshaped to [B, 2, 3], /stn1/Reshape) is listed too: the nearest [B, 2, 3]
# value upstream of the grid.
CASES['stn-resnet'] = dict(resnet_case(cifar(inserts=[{'kind': 'stn', 'name': 'stn1', 'after': 1, 'hidden': 32}],
                                             width=8)), opset=16, bypass=['stn1'])
# Issue 16: the torchref network of make_fixtures' rnl case, the region-based non-local block `rnl3`
# after layer3 (8x8, 32 channels, C' = 16, a 3x3 region conv; tools/torchref/rnl.py, the authors'
# op order). penta's weight * mask folds into one Conv initialiser (group 1 here), W's BN into W.0.
# The authors normalise over the KEYS on axis 1: /rnl3/Softmax (axis=1) of MatMul(p^T, p) is
# [1, 64 keys, 64 queries], read as the SECOND input of /rnl3/MatMul_1 (values theta [1, 16, 64]
# times f). Listed as an `affinity` [64, 64] in the tap layout, rows = queries (the transpose of the
# graph value: p^T p is symmetric, so the Softmax output is exactly A^T); the graph value itself is
# stored as `softmax` (RNL_UNLISTED).
RNL_UNLISTED = [('softmax', [64, 64], "/rnl3/Softmax as the graph holds it: f [keys, queries], normalised over axis 1 "
                                      '(the keys; each column sums to 1), the transpose of the listed affinity')]
CASES['rnl-resnet'] = dict(resnet_case(cifar(inserts=[{'kind': 'rnl', 'name': 'rnl3', 'after': 3, 'kernel': 3}], width=8)),
                           opset=17, unlisted=[{'name': 'rnl3', 'map': m, 'shape': sh, 'what': w} for m, sh, w in RNL_UNLISTED])
# Issue 16: the torchref network of make_fixtures' nlsa case, non-local sparse attention `nlsa2` after
# layer2 (16x16, 16 channels, C' = 4, 4 hash rounds of 8 buckets, chunks of 32; tools/torchref/nlsa.py),
# exported in the authors' sorted / chunked form (NonLocalSparseAttention.dense False): ArgMax codes,
# TopK sorts (argsort), GatherElements, Mod, chunked MatMuls, ReduceLogSumExp, a Softmax over the rounds.
# The [L, L] affinity is never formed (only the [B, 4, 8, 32, 96] chunk scores, exp(raw - lse)): unlisted
# at the default size. Opened at 32 px the importer lays the chunks out on the image (the sorting
# and chunking replayed on position ids, the rounds weighted by their Softmax) and lists it as nlsa2
# (test/unit/engine/onnxImport.test.ts checks it against this `affinity`).
# The tfjs runtime has none of ArgMax, TopK, GatherElements, Mod, ReduceL2, ReduceLogSumExp; `dense=True`
# on the case exports the dense form instead (ReduceMax / Less / ReduceMin codes, comparison-counted
# ranks, Cast for floor, Where-masked [1, 4, 256, 256] scores, exp / log for logsumexp, ReduceSum over
# the rounds into A [1, 256, 256]: ops both runtimes have), the same values.
NLSA_UNLISTED = [
    ('attention', [16, 16], 'mean over the 256 queries of the dense A, what each position receives; never formed'),
    ('affinity', [256, 256], 'dense A = sum over rounds of softmax_r(lse) A_r (rows = queries, row-major; 96 keys '
                             'a round, rows sum to 1); never formed in the graph. Listed by the importer (module nlsa2) '
                             'when the model is opened at 32 px (--input-size 32); at the default 224 px (probed at 128) '
                             'its layout is too large and refused with that reason'),
    ('maps', [8, 16, 16], "round 0's bucket membership, one-hot of the ArgMax codes (/nlsa2/ArgMax, [1, 256, 4])")]
CASES['nlsa-resnet'] = dict(resnet_case(cifar(inserts=[{'kind': 'nlsa', 'name': 'nlsa2', 'after': 2, 'reduction': 4,
                                                        'hashes': 4, 'buckets': 8, 'chunk': 32, 'kSize': 3,
                                                        'resScale': 1.0}], width=8)), opset=17,
                            unlisted=[{'name': 'nlsa2', 'map': m, 'shape': sh, 'what': w} for m, sh, w in NLSA_UNLISTED])
# Issue 16: the torchref network of make_fixtures' san case, SAN's pairwise self-attention block `san3`
# after layer3 (8x8, 32 channels: rel 2, mid 8, sharePlanes 4 -> 2 weight channels, kernel 3;
# tools/torchref/san.py, the authors' Bottleneck around SAM). The footprints are reflection Pads and
# 9 Slices stacked (Unsqueeze / Concat, axis 2), the coordinate grid Range / Div / Mul / Add (torch's
# linspace) on the map's Shape. /san3/sam/Softmax is [1, 2 weight channels, 9 offsets, 64 queries],
# axis 2, read only by an Unsqueeze to [1, 1, 2, 9, 64] and a Mul with the footprint values
# [1, 4, 2, 9, 64] (channel c = 2 q + g uses weight channel g), then ReduceSum over the offsets:
# no MatMul, no [HW, HW] value; the importer lists nothing. conv_w.3 (BN) is folded into conv_w.2.
SAN_UNLISTED = [
    ('attention', [8, 8], 'mean over the 64 queries of the dense footprint attention, what each position receives '
                          '(the importer computes it as the module\'s attention tap; stored for reference)'),
    ('softmax', [2, 9, 64], '/san3/sam/Softmax as the graph holds it: [weight channels, offsets, queries], axis 2')]
CASES['san-resnet'] = dict(resnet_case(cifar(inserts=[{'kind': 'san', 'name': 'san3', 'after': 3, 'kernel': 3,
                                                       'sharePlanes': 4}], width=8)), opset=17,
                           unlisted=[{'name': 'san3', 'map': m, 'shape': sh, 'what': w} for m, sh, w in SAN_UNLISTED])

# Issue 16: ANN's asymmetric pyramid non-local block (tools/torchref/apnb.py), apnb3 after layer3
# (8x8, 32 channels). Not make_fixtures' apnb network: Debian torch 1.13's exporter refuses its
# pyramid sizes [1, 3, 6, 8] (adaptive_avg_pool2d to 3 or 6 bins of an 8x8 map is "output size that
# are not factor of input size", and any adaptive pooling other than to 1 with dynamic height and
# width is "input size not accessible"), so this one pools to [1, 2, 4, 8], which divide 8, in a
# fixed-size export. Its [1, 64, 85] softmax over the pooled keys is read by a MatMul with the
# values pooled the same way: listed as the dense D = A P over the 8x8 positions, in `apnb3.stages.0`.
APNB_UNLISTED = [('attention', [8, 8], 'mean over the 64 queries of D = A P, what each position receives')]
CASES['ann-apnb'] = dict(resnet_case(cifar(inserts=[{'kind': 'apnb', 'name': 'apnb3', 'after': 3, 'keyChannels': 8,
                                                     'valueChannels': 16, 'sizes': [1, 2, 4, 8]}], width=8)),
                         opset=15, dynamic=False,
                         unlisted=[{'name': 'apnb3', 'map': m, 'shape': s, 'what': w} for m, s, w in APNB_UNLISTED])


def expected_maps(name, net, x):
    """(logits, {map key: tensor without batch}, [module descriptions]) from the PyTorch pass."""
    maps, modules = {}, []

    def add(module, kind, key, value):
        maps[f'{module}.{key}'] = value[0]
        modules.append({'name': module, 'kind': kind, 'map': key, 'shape': list(value.shape[1:])})

    if hasattr(net, 'forward_with_taps'):
        captured = {}
        hooks = []
        for mname, m in net.named_modules():
            if type(m).__name__ == 'BAM':
                def hook(mod, inp, out, mname=mname):
                    mc = mod.channel_att(inp[0])
                    ms = mod.spatial_att(inp[0])
                    captured[mname] = torch.sigmoid(mc[:, :, None, None] * ms[:, None])
                hooks.append(m.register_forward_hook(hook))
            if type(m).__name__ == 'PolarizedSelfAttention':
                # The channel branch's query softmax over positions (GC's context mask, in effect).
                def q_hook(mod, inp, out, mname=mname):
                    b, _, h, w = out.shape
                    captured[mname] = torch.softmax(out.reshape(b, h * w), dim=1).reshape(b, h, w)
                hooks.append(m.conv_q_right.register_forward_hook(q_hook))
                if m.variant == 'sequential':
                    # The spatial branch's softmax over positions of each of conv_v_left's C / 2
                    # channels, read by a MatMul: components, one map each.
                    def v_hook(mod, inp, out, mname=mname):
                        b, k, h, w = out.shape
                        captured[f'{mname}.theta'] = torch.softmax(out.reshape(b, k, h * w), dim=2).reshape(b, k, h, w)
                    hooks.append(m.conv_v_left.register_forward_hook(v_hook))
            if type(m).__name__ == 'InterlacedSparseAttention':
                # The dense long-range (L) and short-range (S) attention (the taps have L's column
                # means and the reach S L).
                def isa_hook(mod, inp, out, mname=mname):
                    _, sim_long, sim_short = mod.stages[0](inp[0])
                    captured[mname] = mod.dense(sim_long, sim_short, *inp[0].shape[2:]) + (sim_long, sim_short)
                hooks.append(m.register_forward_hook(isa_hook))
            if type(m).__name__ == 'AFNB':
                # The softmax over the pooled keys, A [B, HW, S] (the taps have D = A P).
                def afnb_hook(mod, inp, out, mname=mname):
                    captured[mname] = out[1]
                hooks.append(m.stages[0].register_forward_hook(afnb_hook))
            if type(m).__name__ == 'PairwiseSelfAttention':
                # The footprint softmax as SAM computes it, w [B, G, k^2, HW] (the taps have its dense mean).
                def san_hook(mod, inp, out, mname=mname):
                    captured[mname] = out[1]
                hooks.append(m.sam.register_forward_hook(san_hook))
            if type(m).__name__ == 'CrissCrossAttention':
                # Pass 2's attention alone, A_2 [B, HW, HW] (the taps have A_1 and the reach A_2 A_1).
                def cc_hook(mod, inp, out, mname=mname):
                    y1 = mod.attend(inp[0])[0]
                    captured[mname] = mod.dense(*mod.attend(y1)[1:])
                hooks.append(m.register_forward_hook(cc_hook))
        logits, taps = net.forward_with_taps(x)
        for h in hooks:
            h.remove()
        for mname, m in net.attention_modules().items():
            kind = type(m).__name__
            if kind == 'CBAMOfficial':
                # Named by the scope of the Muls that apply the gates: the CBAM module, in every order.
                if f'{mname}.channel' in taps:
                    add(mname, 'channel-gate', 'channel', taps[f'{mname}.channel'])
                if f'{mname}.spatial' in taps:
                    add(mname, 'spatial-gate', 'spatial', taps[f'{mname}.spatial'])
            elif kind == 'SETimm':
                add(mname, 'channel-gate', 'channel', taps[f'{mname}.channel'])
            elif kind == 'GCBlock':
                add(mname, 'spatial-softmax', 'spatial', taps[f'{mname}.spatial'])
            elif kind == 'BAM':
                add(mname, 'gate', 'gate', captured[mname])
            elif kind == 'NonLocal':
                add(mname, 'affinity', 'affinity', taps[f'{mname}.affinity'])
            elif kind == 'SelfAttention':  # SAGAN / DANet PAM: the Softmax's own scope is the module
                add(mname, 'affinity', 'affinity', taps[f'{mname}.affinity'])
            elif kind == 'ChannelSelfAttention':  # DANet CAM
                add(mname, 'channel-affinity', 'affinity', taps[f'{mname}.matrix'])
            elif kind == 'PolarizedSelfAttention':
                # Both gates are applied by Muls in the PSA module's own scope.
                add(mname, 'channel-gate', 'channel', taps[f'{mname}.channel'])
                add(mname, 'spatial-gate', 'spatial', taps[f'{mname}.spatial'])
                # The channel branch's softmax over positions, read by a MatMul: a [B, 1, HW]
                # spatial softmax, in the same scope, whose 'spatial' name the gate already holds.
                add(f'{mname}#2', 'spatial-softmax', 'spatial', captured[mname])
                if f'{mname}.theta' in captured:
                    add(mname, 'components', 'maps', captured[f'{mname}.theta'])
            elif kind == 'CrissCrossAttention':
                # Each pass's softmax is [B, H, W, H + W] over a position's column then row keys (only
                # Slices read it): the importer lays each out densely [HW, HW], one module per pass in
                # the block's scope (the second numbered). Not listed: the reach A_2 A_1 and its summary.
                add(mname, 'criss-cross', 'affinity', taps[f'{mname}.affinity1'])
                add(f'{mname}#2', 'criss-cross', 'affinity', captured[mname])
                maps[f'{mname}.attention'] = taps[f'{mname}.attention'][0]
                maps[f'{mname}.reach'] = taps[f'{mname}.affinity'][0]
            elif kind == 'EMAttention':
                # The last iteration's [B, HW, K] softmax over the bases, read by a MatMul: components.
                add(mname, 'components', 'maps', taps[f'{mname}.maps'])
            elif kind == 'DoubleAttention':
                # The gather maps (softmax over positions) and distribute weights (over the descriptors).
                add(mname, 'components', 'maps', taps[f'{mname}.maps'])
                add(mname, 'components', 'weights', taps[f'{mname}.weights'])
            elif kind == 'InterlacedSparseAttention':
                # Each SelfAttentionBlock2D's Softmax is [groups, N', N'], the groups folded into the
                # batch. The long-range groups come from the block's input by Reshape / Transpose only:
                # the importer traces where each group position lies and lists L laid out densely. The
                # short-range groups are regrouped from the long-range block's output, which holds its
                # positions where the long-range groups held them: S laid out densely too.
                big_l, big_s, sim_long, sim_short = captured[mname]
                add(f'{mname}.stages.0.long_range_sa', 'affinity', 'affinity', big_l)
                add(f'{mname}.stages.0.short_range_sa', 'affinity', 'affinity', big_s)
                for tap in ('attention', 'affinity'):
                    maps[f'{mname}.{tap}'] = taps[f'{mname}.{tap}'][0]
                maps[f'{mname}.affinity2'] = big_s[0]
            elif kind == 'SpatialSE':
                # A Mul by sigmoid(conv1x1(x)) [B, 1, H, W] in the module's scope.
                add(mname, 'spatial-gate', 'spatial', taps[f'{mname}.spatial'])
            elif kind == 'LightNL':
                h, w = taps[f'{mname}.activation'].shape[1:]
                if m.affinity_first(m.non_local_bn.num_features, h, w):
                    # f / HW (a Div by a shape-derived scalar) read by a MatMul: a positional affinity.
                    add(mname, 'affinity', 'affinity', taps[f'{mname}.affinity'])
                else:
                    # Not listed: see LIGHTNL_UNLISTED (theta^T (phi g^T) never forms f).
                    for tap in ('attention', 'affinity'):
                        maps[f'{mname}.{tap}'] = taps[f'{mname}.{tap}'][0]
            elif kind == 'APNB':
                # As AFNB's, with queries, keys and values from one map: D = A P [B, HW, HW].
                add(f'{mname}.stages.0', 'affinity', 'affinity', taps[f'{mname}.affinity'])
                maps[f'{mname}.attention'] = taps[f'{mname}.attention'][0]
            elif kind == 'AFNB':
                # The [B, HW, S] softmax over the pooled keys, read by a MatMul, in the stage's scope:
                # spread over the low map's positions each pooled key averages, D = A P [B, HW, HW'].
                add(f'{mname}.stages.0', 'affinity', 'affinity', taps[f'{mname}.affinity'])
                # Not listed: see AFNB_UNLISTED.
                maps[f'{mname}.attention'] = taps[f'{mname}.attention'][0]
            elif kind == 'SpatialTransformer':
                # The GridSample's grid input [B, H, W, 2] (normalised (x, y), align_corners 0) and the
                # channel mean of its output, both in the module's scope, and theta [B, 2, 3].
                add(mname, 'spatial-transform', 'grid', taps[f'{mname}.grid'])
                add(mname, 'spatial-transform', 'warped', taps[f'{mname}.warped'])
                add(mname, 'spatial-transform', 'affine', taps[f'{mname}.affine'])
            elif kind == 'RegionNonLocal':
                # The Softmax over the keys (axis 1), read by a MatMul: a positional affinity, stored
                # with rows = queries (the tap); the graph's own [keys, queries] value as `softmax`.
                add(mname, 'affinity', 'affinity', taps[f'{mname}.affinity'])
                maps[f'{mname}.softmax'] = taps[f'{mname}.affinity'][0].transpose(0, 1)
            elif kind == 'PairwiseSelfAttention':
                # The footprint softmax weights the unfolded values (Mul, ReduceSum over the offsets):
                # the importer replays the unfold (reflection Pad, Slices, Concat) on position ids and
                # lists the attention laid out densely, in the softmax's scope (`sam`).
                add(f'{mname}.sam', 'affinity', 'affinity', taps[f'{mname}.affinity'])
                maps[f'{mname}.attention'] = taps[f'{mname}.attention'][0]
                maps[f'{mname}.softmax'] = captured[mname][0]
            elif kind == 'NonLocalSparseAttention':
                # Not listed: see NLSA_UNLISTED (the chunked form never forms an [L, L] value).
                for tap in ('attention', 'affinity', 'maps'):
                    maps[f'{mname}.{tap}'] = taps[f'{mname}.{tap}'][0]
        return logits, maps, modules
    out = net(x)
    logits = out[0] if isinstance(out, tuple) else out
    for mname, m in net.named_modules():
        if isinstance(m, (ECA, SEGate)):
            g = m.gate
            add(mname, 'channel-gate', 'channel', g.reshape(g.shape[0], -1))
        elif isinstance(m, SK):
            add(mname, 'channel-gate', 'channel', m.weights.reshape(*m.weights.shape[:3]))
        elif isinstance(m, PAM):
            add(mname, 'affinity', 'affinity', m.attention)
        elif isinstance(m, CAM):
            add(mname, 'channel-affinity', 'affinity', m.attention)
        elif isinstance(m, ViTAttention):
            add(mname, 'heads', 'heads', m.attn)
    return logits, maps, modules


def make(name, cfg, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = cfg['build']()
    size = cfg.get('size', 32)
    x = sample_image(size)
    if cfg.get('torchref'):
        randomise(net, x, gen, False)
    else:
        with torch.no_grad():
            for pname, p in net.named_parameters():
                if 'gamma' in pname:
                    p.fill_(0.7)  # DANet initialises gamma to 0: the attention would not matter
                elif p.dim() == 1 and 'bn' not in pname:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
                elif p.dim() > 1 or 'cls' in pname or 'pos' in pname:
                    p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / max(1, p[0].numel()) ** 0.5))
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
    net.eval()
    for m in net.modules():
        if type(m).__name__ == 'NonLocalSparseAttention':
            m.dense = cfg.get('dense', False)  # True: export NLSA's dense form (runs on the tfjs runtime)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    dynamic = cfg.get('dynamic', True)
    with torch.no_grad():
        torch.onnx.export(net, x, os.path.join(d, 'model.onnx'), opset_version=cfg['opset'], input_names=['image'],
                          output_names=['logits', 'multilabel'] if name == 'eca' else ['logits'],
                          dynamic_axes={'image': {2: 'height', 3: 'width'}} if dynamic else None,
                          do_constant_folding=True)
        net64 = net.double()
        logits, maps, modules = expected_maps(name, net64, x.double())
    tensors = {'input': x, 'logits': logits[0].float()}
    heads = [m.attn for m in net64.modules() if isinstance(m, ViTAttention)]
    if heads:
        # Attention rollout (Abnar & Zuidema, ACL 2020): per layer 0.5 * mean over heads + 0.5 * I,
        # rows renormalised, multiplied from the first layer up; the CLS row over the patches.
        t = heads[0].shape[-1]
        r = torch.eye(t, dtype=torch.float64)
        for a in heads:
            a = 0.5 * a[0].mean(0) + 0.5 * torch.eye(t, dtype=torch.float64)
            a = a / a.sum(-1, keepdim=True)
            r = a @ r
        g = int(round((t - 1) ** 0.5))
        tensors['rollout.attention'] = r[0, 1:].reshape(g, g).float()
    tensors.update({k: v.float().contiguous() for k, v in maps.items()})
    for m in cfg.get('bypass', []):
        # The logits with module m bypassed (torchref semantics: it returns its input), for the
        # importer's bypass switch.
        with torch.no_grad():
            tensors[f'logits.bypass.{m}'] = net64.forward_with_taps(x.double(), bypass=[m])[0][0].float()
    write_safetensors(os.path.join(d, 'expected.safetensors'), tensors)
    with open(os.path.join(d, 'case.json'), 'w') as f:
        info = {'opset': cfg['opset'], 'inputSize': size, 'dynamic': dynamic, 'modules': modules}
        for m in modules:
            if m['name'] in cfg.get('listed', {}):
                m['what'] = cfg['listed'][m['name']]
        if cfg.get('unlisted'):
            # Maps in expected.safetensors that the importer has no pattern for (yet): not listed.
            info['unlisted'] = cfg['unlisted']
        json.dump(info, f, indent=1)
        f.write('\n')
    print(f'{name}: opset {cfg["opset"]}, {len(modules)} maps: ' + ', '.join(f"{m['name']}:{m['kind']}" for m in modules))


def main(argv):
    names = argv or list(CASES)
    for i, name in enumerate(CASES):
        if name in names:
            make(name, CASES[name], 2000 + i)


if __name__ == '__main__':
    main(sys.argv[1:])
