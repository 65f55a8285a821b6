"""Expectation-maximization attention (EMANet's EMAU) as a block inserted between ResNet stages.

Paper: Xia Li, Zhisheng Zhong, Jianlong Wu, Yibo Yang, Zhouchen Lin, Hong Liu,
"Expectation-Maximization Attention Networks for Semantic Segmentation", ICCV 2019,
arXiv 1907.13426.
Authors' code: XiaLiPKU/EMANet, network.py (`EMAU`; the repository root's network.py, which
the brief's `models/network.py` refers to). Semantics, key names, epsilons and norms follow
that code; no code copied. Inference only: the moving average the authors apply to the stored
bases during training (their train.py) is not here; the buffer `mu` is used as stored.

Keys (the authors' EMAU, inserted as `ema<k>`):
  mu              [1, C, K]  buffer: the stored bases, each column l2-normalised over C
                             (the authors draw N(0, 2 / K) and normalise: x / (1e-6 + ||x||))
  conv1.weight    [C, C, 1, 1], conv1.bias [C]   1x1 conv with bias
  conv2.0.weight  [C, C, 1, 1]                   1x1 conv, no bias
  conv2.1.*       BatchNorm2d(C) (the authors' SynchronizedBatchNorm2d; same keys, eps 1e-5)

Forward, x [B, C, H, W], N = H * W, positions row-major (index = row * W + column):
  idn = x
  x = conv1(x) as [B, C, N]
  mu = the buffer, repeated over the batch            [B, C, K]
  repeat `stages` times (3 in the authors' settings):
    z   = softmax over K of (x^T mu)                  [B, N, K]
    z_  = z / (1e-6 + sum over the N positions of z)  (each base's responsibilities sum to ~1)
    mu  = x z_                                        [B, C, K]
    mu  = mu / (1e-6 + ||mu||_2 over C)               (each base l2-normalised)
  (the authors run these iterations under torch.no_grad(); forward values are unaffected)
  y = relu(mu z^T) as [B, C, H, W]   (the last iteration's z and the mu it produced)
  out = relu(conv2(y) + idn)         (conv2 = 1x1 conv then BN)

Taps:
  maps       [B, K, H, W]  the last iteration's responsibilities z laid out per base: maps[k]
                           is base k's z over the positions; at each position the K values sum to 1
  activation [B, H, W]     plain channel mean of the module input
Bypass: out = x; the taps are computed as usual from the input received.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation

EM_EPS = 1e-6  # the authors' epsilon, both in z / (eps + sum z) and in x / (eps + ||x||)


def l2_normalise(t, dim):
    """t / (1e-6 + ||t||_2 over dim): the authors' _l2norm."""
    return t / (EM_EPS + t.norm(dim=dim, keepdim=True))


class EMAttention(Attention):
    def __init__(self, channels, bases=64, stages=3):
        super().__init__()
        if stages < 1:
            raise ValueError(f'EM attention needs at least one stage, got {stages}')
        if bases < 1:
            raise ValueError(f'EM attention needs at least one base, got {bases}')
        self.stages = stages
        mu = torch.randn(1, channels, bases) * math.sqrt(2.0 / bases)
        self.register_buffer('mu', l2_normalise(mu, 1))
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.conv2 = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def em(self, x):
        """The EM iterations on x [B, C, N]: (z [B, N, K] of the last iteration, mu [B, C, K] after it)."""
        mu = self.mu.repeat(x.shape[0], 1, 1)
        with torch.no_grad():
            for _ in range(self.stages):
                z = torch.softmax(torch.bmm(x.permute(0, 2, 1), mu), dim=2)
                z_ = z / (EM_EPS + z.sum(dim=1, keepdim=True))
                mu = l2_normalise(torch.bmm(x, z_), 1)
        return z, mu

    def compute(self, x, want_taps):
        b, c, h, w = x.shape
        feats = self.conv1(x).view(b, c, h * w)
        z, mu = self.em(feats)
        y = F.relu(torch.matmul(mu, z.permute(0, 2, 1)).view(b, c, h, w))
        out = F.relu(self.conv2(y) + x)
        taps = {}
        if want_taps:
            taps = {'maps': z.permute(0, 2, 1).reshape(b, -1, h, w), 'activation': gated_activation(x, None)}
        return out, taps
