"""Polarized self-attention (PSA), parallel and sequential, as a block attention.

Paper: Huajun Liu, Fuqiang Liu, Xinyi Fan, Dong Huang, "Polarized Self-Attention: Towards
High-quality Pixel-wise Regression", 2021, arXiv 2107.00782.
Authors' code: DeLightCMU/PSA, semantic-segmentation/network/PSA.py (`PSA_p` parallel,
`PSA_s` sequential; commit 588b370). Semantics, key names and bias choices follow that code;
no code copied. Where the code and the paper's equations differ, the code is followed (its
checkpoints are the ones that exist), as listed below.

Both variants hold (keys of the authors' code; 1x1 convs, stride 1; inter = C // 2):
  conv_q_right  C -> 1      no bias    channel-only branch, query (their `spatial_pool`)
  conv_v_right  C -> inter  no bias    channel-only branch, value
  conv_up       parallel:   one conv inter -> C, no bias (keys conv_up.weight)
                sequential: Sequential(conv inter -> inter // 4 with bias, LayerNorm([inter // 4,
                1, 1]), ReLU, conv inter // 4 -> C with bias) (keys conv_up.0.*, conv_up.1.*,
                conv_up.3.*; the authors' ratio 4 is fixed in their code)
  conv_q_left   C -> inter  no bias    spatial-only branch, query (their `channel_pool`)
  conv_v_left   C -> inter  no bias    spatial-only branch, value

Channel gate (the authors' `spatial_pool`, the paper's channel-only branch), both variants:
  v = conv_v_right(x) as [inter, HW]; q = softmax over HW of conv_q_right(x) as [1, HW];
  gate_c = sigmoid(conv_up(v q^T)) [C].
  (Parallel: no LayerNorm, although the paper's channel-only branch has one; sequential: the
  LayerNorm sits inside conv_up's bottleneck.)
Spatial gate (the authors' `channel_pool`, the paper's spatial-only branch):
  g = global average of conv_q_left(x) [1, inter] (no softmax over the channels, unlike the
  paper's equation); theta = conv_v_left(x) as [inter, HW];
  parallel:   gate_s = sigmoid(softmax over HW of (g theta))        [H, W]
  sequential: gate_s = sigmoid(g (softmax over HW of each row of theta)) [H, W]
  (Both softmaxes act over positions, so gate_s stays close to 0.5: sigmoid of values that
  are ~1/HW. That is what the authors' code computes.)
Output: parallel   out = x * gate_c + x * gate_s (both gates from the input x);
        sequential y = x * gate_c(x); out = y * gate_s(y) (channel first, then spatial: the
        authors' PSA_s.forward; the paper's sequential layout is the same order).

Placement: the authors put PSA_s inside HRNet's BasicBlock as `deattn`, after bn1 + ReLU and
before conv2. Here, like CBAM and SE, it sits in every residual block after the last BN,
before the add (attribute `psa` by default; a spec's `attr` can say `deattn`).

Taps: `channel` [B, C] (gate_c), `spatial` [B, H, W] (gate_s; sequential: computed from the
channel-gated y), `activation` [B, H, W] = mean_c(gate_c * x_c) of the module input.
Bypass: taps as usual, output = the input.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation

PSA_VARIANTS = ('parallel', 'sequential')
PSA_S_RATIO = 4  # PSA_s: conv_up's bottleneck is inter // 4 channels


class PolarizedSelfAttention(Attention):
    def __init__(self, channels, variant='parallel'):
        super().__init__()
        if variant not in PSA_VARIANTS:
            raise ValueError(f'PSA variant {variant!r} not in {PSA_VARIANTS}')
        inter = channels // 2
        if inter < 1:
            raise ValueError(f'PSA needs at least 2 channels, got {channels}')
        self.variant = variant
        self.inter = inter
        self.conv_q_right = nn.Conv2d(channels, 1, 1, bias=False)
        self.conv_v_right = nn.Conv2d(channels, inter, 1, bias=False)
        if variant == 'parallel':
            self.conv_up = nn.Conv2d(inter, channels, 1, bias=False)
        else:
            hidden = inter // PSA_S_RATIO
            if hidden < 1:
                raise ValueError(f'sequential PSA needs C // 2 // {PSA_S_RATIO} >= 1, got C = {channels}')
            self.conv_up = nn.Sequential(nn.Conv2d(inter, hidden, 1), nn.LayerNorm([hidden, 1, 1]),
                                         nn.ReLU(), nn.Conv2d(hidden, channels, 1))
        self.conv_q_left = nn.Conv2d(channels, inter, 1, bias=False)
        self.conv_v_left = nn.Conv2d(channels, inter, 1, bias=False)

    # Op order as in the authors' code (it shapes an ONNX export): each gate is a sigmoid of a
    # broadcastable [B, C, 1, 1] or [B, 1, H, W] value that a Mul applies to the features.

    def channel_gate(self, x):
        """sigmoid(conv_up(V softmax_HW(q)^T)): [B, C, 1, 1]."""
        b, _, h, w = x.shape
        v = self.conv_v_right(x).reshape(b, self.inter, h * w)
        q = torch.softmax(self.conv_q_right(x).reshape(b, 1, h * w), dim=2)
        context = torch.matmul(v, q.transpose(1, 2))[:, :, :, None]      # [B, inter, 1, 1]
        return torch.sigmoid(self.conv_up(context))

    def spatial_gate(self, x):
        """[B, 1, H, W]; see the module docstring for where each variant puts its softmax."""
        b, _, h, w = x.shape
        g = F.adaptive_avg_pool2d(self.conv_q_left(x), 1).reshape(b, 1, self.inter)  # [B, 1, inter]
        theta = self.conv_v_left(x).reshape(b, self.inter, h * w)        # [B, inter, HW]
        if self.variant == 'parallel':
            context = torch.softmax(torch.matmul(g, theta), dim=2)
        else:
            context = torch.matmul(g, torch.softmax(theta, dim=2))
        return torch.sigmoid(context.reshape(b, 1, h, w))

    def compute(self, x, want_taps):
        gate_c = self.channel_gate(x)
        if self.variant == 'parallel':
            gate_s = self.spatial_gate(x)
            out = x * gate_c + x * gate_s
        else:
            y = x * gate_c
            gate_s = self.spatial_gate(y)
            out = y * gate_s
        taps = {}
        if want_taps:
            channel = gate_c[:, :, 0, 0]
            taps = {'channel': channel, 'spatial': gate_s[:, 0], 'activation': gated_activation(x, channel)}
        return out, taps
