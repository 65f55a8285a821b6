"""Blocks inserted between ResNet stages: BAM and non-local.

BAM: Park et al., "BAM: Bottleneck Attention Module", BMVC 2018, semantics of the
official bam.py (Jongchan/attention-module). Non-local: Wang et al., "Non-local Neural
Networks", CVPR 2018, semantics of AlexHex7/Non-local_pytorch (_NonLocalBlockND, 2D).
"""
from collections import OrderedDict

import torch
import torch.nn as nn

from .attention import Attention, gated_activation


class _BAMChannel(nn.Module):
    def __init__(self, channels, reduction):
        super().__init__()
        hidden = channels // reduction
        # Official naming: fc_0, then bn/relu indexed 1, then fc_final.
        self.gate_c = nn.Sequential(OrderedDict([
            ('flatten', nn.Flatten()),
            ('gate_c_fc_0', nn.Linear(channels, hidden)),
            ('gate_c_bn_1', nn.BatchNorm1d(hidden)),
            ('gate_c_relu_1', nn.ReLU()),
            ('gate_c_fc_final', nn.Linear(hidden, channels)),
        ]))

    def forward(self, x):
        return self.gate_c(x.mean(dim=(2, 3)))  # [B, C], before the sigmoid


class _BAMSpatial(nn.Module):
    def __init__(self, channels, reduction, dilation, dilated_convs=2):
        super().__init__()
        hidden = channels // reduction
        layers = [('gate_s_conv_reduce0', nn.Conv2d(channels, hidden, 1)),
                  ('gate_s_bn_reduce0', nn.BatchNorm2d(hidden)),
                  ('gate_s_relu_reduce0', nn.ReLU())]
        for i in range(dilated_convs):
            layers += [(f'gate_s_conv_di_{i}', nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation)),
                       (f'gate_s_bn_di_{i}', nn.BatchNorm2d(hidden)),
                       (f'gate_s_relu_di_{i}', nn.ReLU())]
        layers.append(('gate_s_conv_final', nn.Conv2d(hidden, 1, 1)))
        self.gate_s = nn.Sequential(OrderedDict(layers))

    def forward(self, x):
        return self.gate_s(x)[:, 0]  # [B, H, W], before the sigmoid


class BAM(Attention):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__()
        self.channel_att = _BAMChannel(channels, reduction)
        self.spatial_att = _BAMSpatial(channels, reduction, dilation)

    def compute(self, x, want_taps):
        mc = self.channel_att(x)
        ms = self.spatial_att(x)
        att = 1 + torch.sigmoid(mc[:, :, None, None] * ms[:, None])
        taps = {}
        if want_taps:
            gate = torch.sigmoid(mc)
            taps = {'channel': gate, 'spatial': torch.sigmoid(ms), 'activation': gated_activation(x, gate)}
        return x * att, taps


NONLOCAL_MODES = ('embedded', 'gaussian', 'dot', 'concat')


class NonLocal(Attention):
    """2D non-local block; inter = C/2; W = 1x1 conv + BN (bn=True) or a bare 1x1 conv."""

    def __init__(self, channels, mode='embedded', sub_sample=True, bn=True):
        super().__init__()
        if mode not in NONLOCAL_MODES:
            raise ValueError(f'non-local mode {mode!r} not in {NONLOCAL_MODES}')
        self.mode = mode
        self.inter = max(channels // 2, 1)
        inter = self.inter
        pool = nn.MaxPool2d(2)
        g = nn.Conv2d(channels, inter, 1)
        self.g = nn.Sequential(g, pool) if sub_sample else g
        if bn:
            self.W = nn.Sequential(nn.Conv2d(inter, channels, 1), nn.BatchNorm2d(channels))
        else:
            self.W = nn.Conv2d(inter, channels, 1)
        if mode == 'gaussian':
            # No theta/phi convs: keys are the (sub-sampled) input features themselves.
            self.phi = nn.MaxPool2d(2) if sub_sample else None
        else:
            self.theta = nn.Conv2d(channels, inter, 1)
            phi = nn.Conv2d(channels, inter, 1)
            self.phi = nn.Sequential(phi, nn.MaxPool2d(2)) if sub_sample else phi
        if mode == 'concat':
            self.concat_project = nn.Sequential(nn.Conv2d(inter * 2, 1, 1, bias=False), nn.ReLU())

    def affinity(self, x):
        """f normalised as the mode defines it: [B, N_query, N_key], plus the key grid (H', W')."""
        b, c = x.shape[:2]
        if self.mode == 'gaussian':
            theta = x.view(b, c, -1).permute(0, 2, 1)
            keys = self.phi(x) if self.phi is not None else x
            grid = keys.shape[2:]
            f = torch.matmul(theta, keys.reshape(b, c, -1))
            return torch.softmax(f, dim=-1), grid
        theta = self.theta(x).view(b, self.inter, -1)
        phi_map = self.phi(x)
        grid = phi_map.shape[2:]
        phi = phi_map.reshape(b, self.inter, -1)
        if self.mode == 'embedded':
            return torch.softmax(torch.matmul(theta.permute(0, 2, 1), phi), dim=-1), grid
        if self.mode == 'dot':
            f = torch.matmul(theta.permute(0, 2, 1), phi)
            return f / f.shape[-1], grid
        nq, nk = theta.shape[2], phi.shape[2]
        pair = torch.cat([theta[:, :, :, None].expand(-1, -1, nq, nk),
                          phi[:, :, None, :].expand(-1, -1, nq, nk)], dim=1)
        f = self.concat_project(pair)[:, 0]
        return f / nk, grid

    def compute(self, x, want_taps):
        b, c, h, w = x.shape
        f, grid = self.affinity(x)
        g = self.g(x).reshape(b, self.inter, -1).permute(0, 2, 1)
        y = torch.matmul(f, g).permute(0, 2, 1).reshape(b, self.inter, h, w)
        out = self.W(y) + x
        taps = {}
        if want_taps:
            taps = {'attention': f.mean(dim=1).view(b, *grid), 'activation': gated_activation(x, None),
                    # Full [N_query, N_key] matrix: what a query point reads a row of.
                    'affinity': f}
        return out, taps
