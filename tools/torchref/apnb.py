"""Asymmetric pyramid non-local block (ANN's APNB) as a block inserted between ResNet stages.

Paper: Zhen Zhu, Mengde Xu, Song Bai, Tengteng Huang, Xiang Bai, "Asymmetric Non-local Neural
Networks for Semantic Segmentation", ICCV 2019, arXiv 1908.07678.
Authors' code: MendelXu/ANN, models/seg/utils/apnb.py (`PSPModule`, `_SelfAttentionBlock`,
`SelfAttentionBlock2D`, `APNB`), as models/seg/nets/annn.py uses it (APNB(in 512, out 512,
key 256, value 256, dropout 0.05, sizes [1], psp_size (1, 3, 6, 8))), with the torchcv
ModuleHelper.BNReLU = Sequential(BatchNorm2d, ReLU). Semantics and key names follow that code;
no code copied. Only one stage (the authors' `sizes` = [1]: scale 1, no query max-pooling) and
in = out channels are here; the spec's `sizes` is the authors' `psp_size`.

Keys (inserted as `apnb<k>`; C channels in and out, key = spec `keyChannels` (default C / 2),
value = spec `valueChannels` (default C / 2, the authors' 256 of 512); every conv 1x1 WITH bias):
  stages.0.f_key.0.weight [key, C, 1, 1]  stages.0.f_key.0.bias [key]  stages.0.f_key.1.0.*  (BN)
  stages.0.f_query.*      the same module as f_key (the authors' `self.f_query = self.f_key`):
                          a state dict holds both prefixes, with equal values
  stages.0.f_value.weight [value, C, 1, 1]  stages.0.f_value.bias [value]
  stages.0.W.weight       [C, value, 1, 1]  stages.0.W.bias [C]   (a bare conv: no BN, no ReLU)
  conv_bn_dropout.0.weight [C, 2C, 1, 1]  conv_bn_dropout.0.bias [C]  conv_bn_dropout.1.0.*  (BN)
                          (conv_bn_dropout.1.1 is the ReLU, conv_bn_dropout.2 Dropout2d(0.05):
                          no keys, identity at inference)
The authors zero-initialise W (weight and bias); that is initialisation, not semantics: not kept.

Pyramid pooling (their PSPModule; F.adaptive_avg_pool2d semantics) of a map [n, c, H, W] to
sizes b_1..b_L (spec `sizes`, default [1, 3, 6, 8]): level b has b x b bins; bin (i, j) covers
rows floor(i H / b) <= r < ceil((i + 1) H / b) and columns floor(j W / b) <= c < ceil((j + 1) W / b)
and holds their plain mean. When b does not divide H (or W) neighbouring bins OVERLAP (at H = 8,
b = 3: rows 0-2, 2-5, 5-7; b = 6: 0-1, 1-2, 2-3, 4-5, 5-6, 6-7). Each level is flattened
row-major (bin (i, j) -> i b + j) and the levels are concatenated in `sizes` order:
S = sum b^2 pooled positions (110 for [1, 3, 6, 8]); pooled index s = sum_{l' < l} b_l'^2 + i b_l + j.
P [S, HW] is that pooling as a matrix: P[s, p] = 1 / area(s) if image position p (row-major,
p = r W + c) lies in bin s, else 0 (rows sum to 1).

Forward on x [B, C, H, W] (N = HW query positions, row-major):
  q = f_query(x) [key, N],  k = pool(f_key(x)) [key, S],  v = pool(f_value(x)) [value, S]
  (f_key = f_query = conv-BN-ReLU, applied at full resolution, then pooled)
  A = softmax over the S pooled keys of (key^-0.5 q_i . k_s)        [B, N, S]
  context = W(v A^T) [B, C, H, W]
  out = conv_bn_dropout(cat([context, x], channels))  (context FIRST; conv-BN-ReLU(-dropout);
  no other residual)
Dense affinity over image positions: D = A P [B, N, HW]: D[i, p] = sum_s A[i, s] P[s, p], the
weight query i's context gives position p through the pooled keys (values are pooled with the
same P, so v A^T = f_value(x) D^T exactly); rows sum to 1.
Taps:
  attention  [B, H, W]    mean over the N query rows of D: what each image position receives
  affinity   [B, HW, HW]  D (row = query, column = image position, both row-major)
  activation [B, H, W]    plain channel mean of the module input
Bypass: out = x; the taps are computed as usual.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation

DEFAULT_SIZES = (1, 3, 6, 8)


def _bn_relu(channels):
    """ModuleHelper.BNReLU(norm_type='batchnorm'): Sequential(BatchNorm2d, ReLU): keys .0.*"""
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())


def bin_ranges(length, size):
    """[(start, end)] of the `size` adaptive-average-pooling bins over `length` (end exclusive)."""
    return [((i * length) // size, -((-(i + 1) * length) // size)) for i in range(size)]


def pyramid_pool(x, sizes):
    """[n, c, S]: each level adaptive-average-pooled, flattened row-major, concatenated in order."""
    n, c = x.shape[:2]
    return torch.cat([F.adaptive_avg_pool2d(x, (s, s)).reshape(n, c, -1) for s in sizes], dim=-1)


def pooling_matrix(h, w, sizes, dtype=torch.float32, device=None):
    """P [S, HW] (see the module docstring): pyramid_pool(x) == x.view(n, c, HW) @ P^T."""
    rows = []
    for s in sizes:
        for r0, r1 in bin_ranges(h, s):
            for c0, c1 in bin_ranges(w, s):
                m = torch.zeros(h, w, dtype=dtype, device=device)
                m[r0:r1, c0:c1] = 1.0 / ((r1 - r0) * (c1 - c0))
                rows.append(m.reshape(-1))
    return torch.stack(rows)


class _SelfAttentionBlock(nn.Module):
    """The authors' SelfAttentionBlock2D at scale 1: (W(context), A [n, N, S])."""

    def __init__(self, cin, key_channels, value_channels, cout, sizes):
        super().__init__()
        self.key_channels, self.value_channels = key_channels, value_channels
        self.sizes = tuple(int(s) for s in sizes)
        self.f_key = nn.Sequential(nn.Conv2d(cin, key_channels, 1), _bn_relu(key_channels))
        self.f_query = self.f_key  # shared, as the authors' code: both key prefixes in the state dict
        self.f_value = nn.Conv2d(cin, value_channels, 1)
        self.W = nn.Conv2d(value_channels, cout, 1)

    def forward(self, x):
        n, _, h, w = x.shape
        value = pyramid_pool(self.f_value(x), self.sizes).permute(0, 2, 1)      # [n, S, value]
        query = self.f_query(x).view(n, self.key_channels, -1).permute(0, 2, 1)  # [n, N, key]
        key = pyramid_pool(self.f_key(x), self.sizes)                            # [n, key, S]
        sim = torch.softmax(self.key_channels ** -0.5 * torch.matmul(query, key), dim=-1)
        context = torch.matmul(sim, value).permute(0, 2, 1).contiguous().view(n, self.value_channels, h, w)
        return self.W(context), sim


class APNB(Attention):
    """The authors' APNB with one stage (scale 1), C channels in and out."""

    def __init__(self, channels, key_channels=None, value_channels=None, sizes=DEFAULT_SIZES, dropout=0.05):
        super().__init__()
        sizes = tuple(int(s) for s in sizes)
        if not sizes or min(sizes) < 1:
            raise ValueError(f'APNB pyramid sizes must be values >= 1, got {sizes!r}')
        key_channels = key_channels or max(channels // 2, 1)
        value_channels = value_channels or max(channels // 2, 1)
        self.sizes = sizes
        self.stages = nn.ModuleList([_SelfAttentionBlock(channels, key_channels, value_channels, channels, sizes)])
        self.conv_bn_dropout = nn.Sequential(nn.Conv2d(2 * channels, channels, 1), _bn_relu(channels),
                                             nn.Dropout2d(dropout))

    def dense(self, sim, h, w):
        """D = A P [B, HW, HW] over the image positions."""
        return torch.matmul(sim, pooling_matrix(h, w, self.sizes, sim.dtype, sim.device))

    def compute(self, x, want_taps):
        b, _, h, w = x.shape
        context, sim = self.stages[0](x)
        out = self.conv_bn_dropout(torch.cat([context, x], dim=1))
        taps = {}
        if want_taps:
            d = self.dense(sim, h, w)
            taps = {'attention': d.mean(dim=1).view(b, h, w), 'affinity': d, 'activation': gated_activation(x, None)}
        return out, taps
