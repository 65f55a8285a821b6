"""Attention modules written from the papers and the official code's semantics.

Every module derives from Attention: `compute(x)` returns (output, taps) where taps
maps tap names to tensors with a leading batch dimension. Taps are only computed when
the network asks for them (forward_with_taps), so training pays nothing for them.

Bypass: a bypassed module still computes its taps (what it would look at, from the
input it received) but returns its input unchanged: gates act as 1, non-local and GC
add zero.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    """Base: holds the per-run recording context set by the network."""

    def __init__(self):
        super().__init__()
        self.tap_name = ''
        # (taps dict, bypassed flag) during forward_with_taps; None otherwise.
        self.ctx = None

    def forward(self, x, *inputs):
        # x: the module's input, what a bypass returns; `inputs`: further maps a module reads
        # (AFNB's low-level map), passed to compute after want_taps. Most modules take none.
        want_taps = self.ctx is not None
        out, taps = self.compute(x, want_taps, *inputs)
        if want_taps:
            record, bypassed = self.ctx
            for tap, value in taps.items():
                record[f'{self.tap_name}.{tap}'] = value
            if bypassed:
                return x
        return out

    def compute(self, x, want_taps):
        raise NotImplementedError


def hidden_width(channels, reduction, divisor=None):
    """floor(C / r), or timm's make_divisible(C / r, divisor) (round_limit 0) when divisor is set."""
    if not divisor:
        return channels // reduction
    v = channels / reduction
    return max(divisor, int(v + divisor / 2) // divisor * divisor)


def gated_activation(x, gate):
    """mean_c(gate_c * x_c) -> [B, H, W]; gate [B, C] or None for a plain channel mean."""
    if gate is None:
        return x.mean(dim=1)
    return (x * gate[:, :, None, None]).mean(dim=1)


# --- CBAM (Woo et al., ECCV 2018), official layout of Jongchan/attention-module ---

CBAM_ORDERS = ('channel-spatial', 'spatial-channel', 'parallel', 'channel', 'spatial')
CBAM_POOLS = ('avg+max', 'avg', 'max')


class _OfficialChannelGate(nn.Module):
    def __init__(self, channels, reduction, pool='avg+max'):
        super().__init__()
        # Sequential(Flatten, Linear, ReLU, Linear): keys mlp.1.* and mlp.3.*
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, channels // reduction),
                                 nn.ReLU(), nn.Linear(channels // reduction, channels))
        # The official ChannelGate's pool_types: the shared MLP's outputs summed over them.
        self.pool = pool

    def forward(self, x):
        if self.pool == 'avg':
            return torch.sigmoid(self.mlp(F.adaptive_avg_pool2d(x, 1)))
        if self.pool == 'max':
            return torch.sigmoid(self.mlp(F.adaptive_max_pool2d(x, 1)))
        avg = self.mlp(F.adaptive_avg_pool2d(x, 1))
        mx = self.mlp(F.adaptive_max_pool2d(x, 1))
        return torch.sigmoid(avg + mx)


class _BasicConvBN(nn.Module):
    """Conv (no bias) + BatchNorm, no activation: the official BasicConv(relu=False)."""

    def __init__(self, cin, cout, kernel, bn_attr='bn', conv_attr='conv'):
        super().__init__()
        self.conv_attr, self.bn_attr = conv_attr, bn_attr
        setattr(self, conv_attr, nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False))
        setattr(self, bn_attr, nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x):
        return getattr(self, self.bn_attr)(getattr(self, self.conv_attr)(x))


class _OfficialSpatialGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.spatial = _BasicConvBN(2, 1, 7)

    def forward(self, x):
        # Official ChannelPool order: max first, then mean.
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.spatial(pooled))[:, 0]


class CBAMOfficial(Attention):
    """CBAM, official layout, with the paper's ablations (Woo et al., ECCV 2018, Tables 1 and 3).

    order: 'channel-spatial' (the paper's CBAM: x' = x * Mc(x); out = x' * Ms(x')),
      'spatial-channel' (x' = x * Ms(x); out = x' * Mc(x')), 'parallel' (out = x * Mc(x) * Ms(x):
      both gates from the module input, applied one after the other), 'channel' (channel gate
      only, the official code's no_spatial: no SpatialGate keys), 'spatial' (spatial gate only:
      no ChannelGate keys).
    pool: the channel gate's pooling (the official pool_types): 'avg+max' (mlp(avg) + mlp(max)),
      'avg' (mlp(avg), SE-like), 'max' (mlp(max)); the keys are the same for all three.
    """

    def __init__(self, channels, reduction=16, order='channel-spatial', pool='avg+max'):
        super().__init__()
        if order not in CBAM_ORDERS:
            raise ValueError(f'CBAM order {order!r} not in {CBAM_ORDERS}')
        if pool not in CBAM_POOLS:
            raise ValueError(f'CBAM pool {pool!r} not in {CBAM_POOLS}')
        self.order = order
        if order != 'spatial':
            self.ChannelGate = _OfficialChannelGate(channels, reduction, pool)
        if order != 'channel':
            self.SpatialGate = _OfficialSpatialGate()

    def compute(self, x, want_taps):
        order = self.order
        gate = smap = None
        if order == 'channel-spatial':
            gate = self.ChannelGate(x)
            y = x * gate[:, :, None, None]
            smap = self.SpatialGate(y)
            out = y * smap[:, None]
        elif order == 'spatial-channel':
            smap = self.SpatialGate(x)
            y = x * smap[:, None]
            gate = self.ChannelGate(y)
            out = y * gate[:, :, None, None]
        elif order == 'parallel':
            gate = self.ChannelGate(x)
            smap = self.SpatialGate(x)
            out = x * gate[:, :, None, None] * smap[:, None]
        elif order == 'channel':
            gate = self.ChannelGate(x)
            out = x * gate[:, :, None, None]
        else:
            smap = self.SpatialGate(x)
            out = x * smap[:, None]
        taps = {}
        if want_taps:
            if gate is not None:
                taps['channel'] = gate
            if smap is not None:
                taps['spatial'] = smap
            # Over the module input x in every order (spatial-channel's gate is computed from x').
            taps['activation'] = gated_activation(x, gate)
        return out, taps


# --- CBAM, timm layout (timm/layers/cbam.py: CbamModule) ---

class _TimmChannelAttn(nn.Module):
    def __init__(self, channels, reduction, divisor=None):
        super().__init__()
        hidden = hidden_width(channels, reduction, divisor)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x):
        avg = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        mx = self.fc2(F.relu(self.fc1(x.amax(dim=(2, 3), keepdim=True))))
        return torch.sigmoid(avg + mx)[:, :, 0, 0]


class _TimmSpatialAttn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = _BasicConvBN(2, 1, 7)  # timm ConvNormAct: keys conv.conv.*, conv.bn.*

    def forward(self, x):
        # timm order: mean first, then max.
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))[:, 0]


class CBAMTimm(Attention):
    def __init__(self, channels, reduction=16, divisor=None):
        super().__init__()
        self.channel = _TimmChannelAttn(channels, reduction, divisor)
        self.spatial = _TimmSpatialAttn()

    def compute(self, x, want_taps):
        gate = self.channel(x)
        y = x * gate[:, :, None, None]
        smap = self.spatial(y)
        out = y * smap[:, None]
        taps = {'channel': gate, 'spatial': smap, 'activation': gated_activation(x, gate)} if want_taps else {}
        return out, taps


# --- SE (Hu et al., CVPR 2018) ---

class SETimm(Attention):
    """timm SEModule: 1x1 convs with bias."""

    def __init__(self, channels, reduction=16, divisor=None):
        super().__init__()
        hidden = hidden_width(channels, reduction, divisor)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=True)

    def compute(self, x, want_taps):
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))[:, :, 0, 0]
        taps = {'channel': gate, 'activation': gated_activation(x, gate)} if want_taps else {}
        return x * gate[:, :, None, None], taps


class SELinear(Attention):
    """The common SELayer: Linear(C, C/r, bias=False) -> ReLU -> Linear(C/r, C, bias=False) -> sigmoid."""

    def __init__(self, channels, reduction=16, divisor=None):
        super().__init__()
        hidden = hidden_width(channels, reduction, divisor)
        self.fc = nn.Sequential(nn.Linear(channels, hidden, bias=False), nn.ReLU(),
                                nn.Linear(hidden, channels, bias=False))

    def compute(self, x, want_taps):
        gate = torch.sigmoid(self.fc(x.mean(dim=(2, 3))))
        taps = {'channel': gate, 'activation': gated_activation(x, gate)} if want_taps else {}
        return x * gate[:, :, None, None], taps


# --- GC (Cao et al., GCNet 2019): ContextBlock, pooling 'att', fusion 'channel_add' ---

class GCBlock(Attention):
    def __init__(self, channels, reduction=16):
        super().__init__()
        planes = channels // reduction
        self.conv_mask = nn.Conv2d(channels, 1, 1, bias=True)
        self.channel_add_conv = nn.Sequential(
            nn.Conv2d(channels, planes, 1), nn.LayerNorm([planes, 1, 1], eps=1e-5), nn.ReLU(),
            nn.Conv2d(planes, channels, 1))

    def compute(self, x, want_taps):
        b, c, h, w = x.shape
        mask = torch.softmax(self.conv_mask(x).view(b, h * w), dim=1)
        context = torch.einsum('bcn,bn->bc', x.view(b, c, h * w), mask)[:, :, None, None]
        out = x + self.channel_add_conv(context)
        taps = {'spatial': mask.view(b, h, w), 'activation': gated_activation(x, None)} if want_taps else {}
        return out, taps


# --- Simple spatial attention: spatial squeeze & excitation (sSE) ---
# Roy, Navab, Wachinger, "Concurrent Spatial and Channel 'Squeeze & Excitation' in Fully
# Convolutional Networks", MICCAI 2018 (arXiv 1803.02579), as Guo et al., "Attention Mechanisms
# in Computer Vision: A Survey", Computational Visual Media 2022, state it in their channel &
# spatial attention section (scSE): s_s = sigma(Conv1x1(X)), X_spa = s_s X. Layout of the
# authors' SpatialSELayer (ai-med/squeeze_and_excitation): one 1x1 conv C -> 1 with bias, a
# sigmoid, the input multiplied by it; semantics and key names followed, no code copied.

class SpatialSE(Attention):
    """Keys `conv.weight` [1, C, 1, 1], `conv.bias` [1]; out = x * sigmoid(conv(x)); no reduction."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 1, bias=True)

    def compute(self, x, want_taps):
        gate = torch.sigmoid(self.conv(x))  # [B, 1, H, W]
        taps = {'spatial': gate[:, 0], 'activation': gated_activation(x, None)} if want_taps else {}
        return x * gate, taps
