"""Asymmetric fusion non-local block (ANN's AFNB) fusing two ResNet stages.

Paper: Zhen Zhu, Mengde Xu, Song Bai, Tengteng Huang, Xiang Bai, "Asymmetric Non-local Neural
Networks for Semantic Segmentation", ICCV 2019, arXiv 1908.07678.
Authors' code: MendelXu/ANN, models/seg/utils/afnb.py (`PSPModule`, `_SelfAttentionBlock` with
low and high inputs, `SelfAttentionBlock2D`, `AFNB`), as models/seg/nets/annn.py uses it
(AFNB(low 1024, high 2048, out 2048, key 256, value 256, dropout 0.05, sizes [1]): low = the
backbone's stage-4 output, high = stage 5's), with the torchcv ModuleHelper.BNReLU =
Sequential(BatchNorm2d, ReLU) and ModuleHelper.BatchNorm2d = BatchNorm2d. Semantics and key names
follow that code; no code copied. Only one stage (the authors' `sizes` = [1]; their `scale`
max-pooling is commented out in their forward) and out = high channels are here; the spec's
`sizes` is the authors' `psp_size`. The pyramid pooling, P and D are APNB's (tools/torchref/apnb.py).

Inputs: high = the output of stage `after` (after its earlier inserts), C_h channels, H x W;
low = the output of stage `low` (default after - 1; after that stage's own inserts: the map that
enters stage low + 1), C_l channels, H_l x W_l (in a plain ResNet 2H x 2W; the pooled keys make
the size irrelevant).

Keys (inserted as `afnb<k>`; key = spec `keyChannels` (default C_h / 2), value = spec
`valueChannels` (default C_h / 2); every conv 1x1 WITH bias):
  stages.0.f_key.0.weight   [key, C_l, 1, 1]  stages.0.f_key.0.bias [key]    stages.0.f_key.1.0.*  (BN)
  stages.0.f_query.0.weight [key, C_h, 1, 1]  stages.0.f_query.0.bias [key]  stages.0.f_query.1.0.* (BN)
                            (two modules here, unlike APNB's shared one: their inputs differ)
  stages.0.f_value.weight   [value, C_l, 1, 1]  stages.0.f_value.bias [value]
  stages.0.W.weight         [C_h, value, 1, 1]  stages.0.W.bias [C_h]   (a bare conv: no BN, no ReLU)
  conv_bn_dropout.0.weight  [C_h, 2 C_h, 1, 1]  conv_bn_dropout.0.bias [C_h]
  conv_bn_dropout.1.*       (a plain BN: NO ReLU, unlike APNB's conv_bn_dropout.1.0.* BN + ReLU)
                            (conv_bn_dropout.2 is Dropout2d(0.05): no keys, identity at inference)
The authors zero-initialise W (weight and bias); that is initialisation, not semantics: not kept.

Forward (N = HW query positions of the high map, row-major; S = sum b^2 pooled positions of the
low map, APNB's order; P [S, H_l W_l] APNB's pooling matrix over the low map):
  q = f_query(high) [key, N],  k = pool(f_key(low)) [key, S],  v = pool(f_value(low)) [value, S]
  (f_key, f_query = conv-BN-ReLU, at full resolution, then k pooled)
  A = softmax over the S pooled keys of (key^-0.5 q_i . k_s)        [B, N, S]
  context = W(v A^T) [B, C_h, H, W]
  out = conv_bn_dropout(cat([context, high], channels))  (context FIRST; conv-BN(-dropout), no
  activation and no other residual)
Dense affinity over the low map's positions: D = A P [B, N, H_l W_l], rows sum to 1, and
v A^T = f_value(low) D^T.
Taps:
  attention  [B, H_l, W_l]      mean over the N query rows of D: what each low-map position receives
  affinity   [B, HW, H_l W_l]   D (row = high-map query, column = low-map position, both row-major)
  activation [B, H, W]          plain channel mean of the high input
Bypass: out = high; the taps are computed as usual.
"""
import torch
import torch.nn as nn

from .apnb import DEFAULT_SIZES, _bn_relu, pooling_matrix, pyramid_pool
from .attention import Attention, gated_activation


class _FusionAttentionBlock(nn.Module):
    """The authors' SelfAttentionBlock2D of afnb.py at scale 1: (W(context), A [n, N, S])."""

    def __init__(self, low_channels, high_channels, key_channels, value_channels, cout, sizes):
        super().__init__()
        self.key_channels, self.value_channels = key_channels, value_channels
        self.sizes = tuple(int(s) for s in sizes)
        self.f_key = nn.Sequential(nn.Conv2d(low_channels, key_channels, 1), _bn_relu(key_channels))
        self.f_query = nn.Sequential(nn.Conv2d(high_channels, key_channels, 1), _bn_relu(key_channels))
        self.f_value = nn.Conv2d(low_channels, value_channels, 1)
        self.W = nn.Conv2d(value_channels, cout, 1)

    def forward(self, low, high):
        n, _, h, w = high.shape
        value = pyramid_pool(self.f_value(low), self.sizes).permute(0, 2, 1)        # [n, S, value]
        query = self.f_query(high).view(n, self.key_channels, -1).permute(0, 2, 1)  # [n, N, key]
        key = pyramid_pool(self.f_key(low), self.sizes)                             # [n, key, S]
        sim = torch.softmax(self.key_channels ** -0.5 * torch.matmul(query, key), dim=-1)
        context = torch.matmul(sim, value).permute(0, 2, 1).contiguous().view(n, self.value_channels, h, w)
        return self.W(context), sim


class AFNB(Attention):
    """The authors' AFNB with one stage (scale 1); out channels = the high map's. Call as
    module(high, low): the Attention input x is the high map (what bypass returns)."""

    def __init__(self, low_channels, high_channels, key_channels=None, value_channels=None, sizes=DEFAULT_SIZES,
                 dropout=0.05):
        super().__init__()
        sizes = tuple(int(s) for s in sizes)
        if not sizes or min(sizes) < 1:
            raise ValueError(f'AFNB pyramid sizes must be values >= 1, got {sizes!r}')
        key_channels = key_channels or max(high_channels // 2, 1)
        value_channels = value_channels or max(high_channels // 2, 1)
        self.sizes = sizes
        self.stages = nn.ModuleList([_FusionAttentionBlock(low_channels, high_channels, key_channels, value_channels,
                                                           high_channels, sizes)])
        self.conv_bn_dropout = nn.Sequential(nn.Conv2d(2 * high_channels, high_channels, 1),
                                             nn.BatchNorm2d(high_channels), nn.Dropout2d(dropout))

    def dense(self, sim, h_low, w_low):
        """D = A P [B, HW, H_l W_l] over the low map's positions."""
        return torch.matmul(sim, pooling_matrix(h_low, w_low, self.sizes, sim.dtype, sim.device))

    def compute(self, x, want_taps, low):
        b = x.shape[0]
        h_low, w_low = low.shape[2:]
        context, sim = self.stages[0](low, x)
        out = self.conv_bn_dropout(torch.cat([context, x], dim=1))
        taps = {}
        if want_taps:
            d = self.dense(sim, h_low, w_low)
            taps = {'attention': d.mean(dim=1).view(b, h_low, w_low), 'affinity': d,
                    'activation': gated_activation(x, None)}
        return out, taps
