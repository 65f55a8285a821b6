"""Interlaced sparse self-attention (ISANet) as a block inserted between ResNet stages.

Paper: Lang Huang, Yuhui Yuan, Jianyuan Guo, Chao Zhang, Xilin Chen, Jingdong Wang,
"Interlaced Sparse Self-Attention for Semantic Segmentation", arXiv 1907.12273.
Authors' code: openseg-group/openseg.pytorch, lib/models/modules/isa_block.py
(`SelfAttentionBlock2D`, `ISA_Block`, `ISA_Module`) with ModuleHelper.BNReLU as
Sequential(BatchNorm2d, ReLU) (bn_type 'torchbn' / 'torchsyncbn'), as lib/models/nets/isanet.py
uses it (in_channels 512, key_channels 256, value_channels 512, out_channels 512, one down
factor). Semantics, key names, permutations and the padding follow that code; no code copied.
Only ISA_Module with one down factor is here (several add an `up_conv`; not supported).

Keys (inserted as `isa<k>`; C channels in and out, key = spec `keyChannels` (default C / 2),
value = spec `valueChannels` (default C); every conv 1x1 without bias; `.1.0.*` / `.3.0.*` are
BatchNorm2d keys inside BNReLU's Sequential):
  stages.0.long_range_sa.f_key.0.weight [key, C]  .f_key.1.0.*  .f_key.2.weight [key, key]  .f_key.3.0.*
  stages.0.long_range_sa.f_query.*      (as f_key)
  stages.0.long_range_sa.f_value.weight [value, C]
  stages.0.long_range_sa.W.0.weight     [C, value]  .W.1.0.*
  stages.0.short_range_sa.*             (the same, its input being the long-range output, C channels)
  conv_bn.0.weight [C, 2C]  conv_bn.1.0.*          (conv_bn.2 is Dropout2d: no keys, identity at inference)

One SelfAttentionBlock2D on f [n, C, h', w'] (N' = h' w' positions, row-major):
  q = f_query(f), k = f_key(f) (conv-BN-ReLU-conv-BN-ReLU), v = f_value(f)
  sim = softmax over keys j of (key^-0.5 * q_i . k_j)       [n, N', N']
  out = W(v sim^T) (W = conv-BN-ReLU)

ISA_Block on x [B, C, H, W], down factor [dh, dw] (spec `downFactor`):
  Padding: if dh or dw does not divide H or W, x is zero-padded to Hp = ceil(H / dh) dh,
  Wp = ceil(W / dw) dw, split evenly with the extra row / column at the bottom / right
  (top = (Hp - H) // 2, left = (Wp - W) // 2); the result is cropped back at the end.
  gh = Hp / dh, gw = Wp / dw.
  Padded position (r, c) is r = a dh + p, c = b dw + q with a < gh, p < dh, b < gw, q < dw
  (the code's view(n, C, gh, dh, gw, dw)).
  Long range: one group per (p, q) = (r mod dh, c mod dw): dh dw groups of gh x gw positions,
  each an interlaced grid with strides dh, dw; inside a group the positions are ordered
  (a, b) row-major. Self-attention within each group (batch index b_img dh dw + p dw + q).
  Short range, on the long-range output: one block per (a, b) = (r div dh, c div dw): gh gw
  contiguous dh x dw blocks, positions ordered (p, q) row-major. Self-attention within each
  block (batch index b_img gh gw + a gw + b). The blocks are put back in place.
ISA_Module: out = conv_bn(cat([x, ISA_Block(x)], channels)) (conv-BN-ReLU; no other residual).

Dense layouts over the image positions (row = query, column = key, row-major H then W,
HW x HW; computed on the padded grid, then the padded rows and columns dropped):
  L[i, j] = long-range attention of query i on key j if i and j share (r mod dh, c mod dw), else 0
  S[i, j] = short-range attention if i and j share (r div dh, c div dw), else 0
Taps:
  attention  [B, H, W]    mean over all HW query rows of L: the long-range attention each
                          position receives (L.mean(dim=query) as the H x W grid)
  affinity   [B, HW, HW]  the two-step reach S L: how much of key position j reaches query i
                          through a long-range then a short-range step (values, W and the
                          fusion conv left out); rows sum to 1
  activation [B, H, W]    plain channel mean of the module input
Bypass: out = x; the taps are computed as usual.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation


def _bn_relu(channels):
    """ModuleHelper.BNReLU(bn_type='torchbn'): Sequential(BatchNorm2d, ReLU): keys .0.*"""
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())


def _conv(cin, cout):
    return nn.Conv2d(cin, cout, 1, bias=False)


class _SelfAttentionBlock(nn.Module):
    """The authors' SelfAttentionBlock2D: (W(context), sim [n, N', N'])."""

    def __init__(self, cin, key_channels, value_channels, cout):
        super().__init__()
        self.key_channels, self.value_channels = key_channels, value_channels
        self.f_key = nn.Sequential(_conv(cin, key_channels), _bn_relu(key_channels),
                                   _conv(key_channels, key_channels), _bn_relu(key_channels))
        self.f_query = nn.Sequential(_conv(cin, key_channels), _bn_relu(key_channels),
                                     _conv(key_channels, key_channels), _bn_relu(key_channels))
        self.f_value = _conv(cin, value_channels)
        self.W = nn.Sequential(_conv(value_channels, cout), _bn_relu(cout))

    def forward(self, x):
        n, _, h, w = x.shape
        value = self.f_value(x).view(n, self.value_channels, -1).permute(0, 2, 1)
        query = self.f_query(x).view(n, self.key_channels, -1).permute(0, 2, 1)
        key = self.f_key(x).view(n, self.key_channels, -1)
        sim = torch.softmax(self.key_channels ** -0.5 * torch.matmul(query, key), dim=-1)
        context = torch.matmul(sim, value).permute(0, 2, 1).contiguous().view(n, self.value_channels, h, w)
        return self.W(context), sim


def _geometry(h, w, down):
    dh, dw = down
    gh, gw = math.ceil(h / dh), math.ceil(w / dw)
    pad_h, pad_w = gh * dh - h, gw * dw - w
    return gh, gw, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)


def group_indices(h, w, down):
    """(long [dh dw, gh gw], short [gh gw, dh dw]): padded-grid positions (row-major, Hp x Wp)
    of each long-range group and short-range block, in the order their attention uses."""
    dh, dw = down
    gh, gw, _ = _geometry(h, w, down)
    a = torch.arange(gh)[:, None, None, None]
    p = torch.arange(dh)[None, :, None, None]
    b = torch.arange(gw)[None, None, :, None]
    q = torch.arange(dw)[None, None, None, :]
    pos = (a * dh + p) * (gw * dw) + (b * dw + q)           # [gh, dh, gw, dw]
    long = pos.permute(1, 3, 0, 2).reshape(dh * dw, gh * gw)
    short = pos.permute(0, 2, 1, 3).reshape(gh * gw, dh * dw)
    return long, short


def _dense(sim, index, n, positions):
    """Scatter per-group attention [n * G, m, m] into [n, positions, positions]."""
    g, m = index.shape
    out = sim.new_zeros(n, positions, positions)
    out[:, index[:, :, None], index[:, None, :]] = sim.reshape(n, g, m, m)
    return out


class _ISABlock(nn.Module):
    def __init__(self, cin, key_channels, value_channels, cout, down):
        super().__init__()
        self.down_factor = tuple(int(v) for v in down)
        self.out_channels = cout
        self.long_range_sa = _SelfAttentionBlock(cin, key_channels, value_channels, cout)
        self.short_range_sa = _SelfAttentionBlock(cout, key_channels, value_channels, cout)

    def forward(self, x):
        """(context [B, C_out, H, W], long-range sim [B dh dw, gh gw, gh gw], short-range sim [B gh gw, dh dw, dh dw])."""
        n, c, h, w = x.shape
        dh, dw = self.down_factor
        gh, gw, pads = _geometry(h, w, self.down_factor)
        feats = F.pad(x, pads) if any(pads) else x
        feats = feats.view(n, c, gh, dh, gw, dw).permute(0, 3, 5, 1, 2, 4).contiguous().view(-1, c, gh, gw)
        feats, sim_long = self.long_range_sa(feats)
        c = self.out_channels
        feats = feats.view(n, dh, dw, c, gh, gw).permute(0, 4, 5, 3, 1, 2).contiguous().view(-1, c, dh, dw)
        feats, sim_short = self.short_range_sa(feats)
        feats = feats.view(n, gh, gw, c, dh, dw).permute(0, 3, 1, 4, 2, 5).contiguous().view(n, c, gh * dh, gw * dw)
        if any(pads):
            feats = feats[:, :, pads[2]:pads[2] + h, pads[0]:pads[0] + w]
        return feats, sim_long, sim_short


class InterlacedSparseAttention(Attention):
    """The authors' ISA_Module with one down factor, C channels in and out."""

    def __init__(self, channels, down_factor=(8, 8), key_channels=None, value_channels=None, dropout=0.0):
        super().__init__()
        if len(down_factor) != 2 or min(down_factor) < 1:
            raise ValueError(f'ISA down factor must be two values >= 1, got {down_factor!r}')
        key_channels = key_channels or max(channels // 2, 1)
        value_channels = value_channels or channels
        self.down_factor = tuple(int(v) for v in down_factor)
        self.stages = nn.ModuleList([_ISABlock(channels, key_channels, value_channels, channels, self.down_factor)])
        self.conv_bn = nn.Sequential(_conv(2 * channels, channels), _bn_relu(channels), nn.Dropout2d(dropout))

    def dense(self, sim_long, sim_short, h, w):
        """(L, S) [B, HW, HW] over the image positions (see the module docstring)."""
        gh, gw, pads = _geometry(h, w, self.down_factor)
        hp, wp = gh * self.down_factor[0], gw * self.down_factor[1]
        long, short = group_indices(h, w, self.down_factor)
        n = sim_long.shape[0] // long.shape[0]
        big_l = _dense(sim_long, long.to(sim_long.device), n, hp * wp)
        big_s = _dense(sim_short, short.to(sim_short.device), n, hp * wp)
        if any(pads):
            rows = torch.arange(h, device=sim_long.device) + pads[2]
            cols = torch.arange(w, device=sim_long.device) + pads[0]
            keep = (rows[:, None] * wp + cols[None, :]).reshape(-1)
            big_l = big_l[:, keep][:, :, keep]
            big_s = big_s[:, keep][:, :, keep]
        return big_l, big_s

    def compute(self, x, want_taps):
        b, _, h, w = x.shape
        context, sim_long, sim_short = self.stages[0](x)
        out = self.conv_bn(torch.cat([x, context], dim=1))
        taps = {}
        if want_taps:
            big_l, big_s = self.dense(sim_long, sim_short, h, w)
            taps = {'attention': big_l.mean(dim=1).view(b, h, w), 'affinity': torch.matmul(big_s, big_l),
                    'activation': gated_activation(x, None)}
        return out, taps
