"""Region-based non-local block (RNL), as a block inserted between ResNet stages.

Paper: Guoxi Huang, Adrian G. Bors, "Region-based Non-local Operation for Video
Classification", ICPR 2020, arXiv 2007.09033.
Authors' code: guoxih/region-based-non-local-network (commit 8134988), ops/rnl.py
`_NonLocalBlockND` (built as `NONLocalBlock3D(in_channels, ratio=2, ks, sub_sample=False)` by
`NL3DWrapper` in `make_non_local`) and ops/depthwise_conv.py `DiagonalwiseRefactorization` (its `penta`).
Semantics, op order and attribute names follow that code; no code copied. The paper's full
text was not available here: only its abstract and a secondary summary of its equation,
y_i = 1 / C(x_i) sum_j f(theta(N_i), theta(N_j)) x_j (N_i the region around position i),
which the code instantiates as below. The code is spatio-temporal (Conv3d, kernels [t, h, w]
over [B, C, T, H, W]); this is its 2-D (image) form, kernels [k, k] over [B, C, H, W].
Checked against the authors' module run at T = 1 with kernels [1, k, k] (k 1, 3, 7, with and
without sub-sampling, C' 16 and 128): the same outputs and f, float64, to the last bit.

  x [B, C, H, W]; C' = C // 2 (the code's ratio 2, the only one it builds)
  t = theta(x)                  1x1 conv C -> C', with bias        [B, C', H, W]
  p = penta(t)                  region aggregation: a k x k depthwise conv, no bias, padding
                                (k - 1) // 2, stride 1 (none when k = 1: p = t, no penta keys)
  sub-sampling (spec `subSample`, default False, the code's sub_sample, never on in
  make_non_local): keys ps = maxpool2x2(p), values ts = maxpool2x2(t); else ps = p, ts = t
  f = softmax over dim 1 of ps^T p    [B, N_key, N_query]: keys first, each COLUMN (query i)
                                normalised over the keys j: f[j, i] = softmax_j(ps_j . p_i)
                                (the same aggregated embedding on both sides; no phi)
  y = ts f                      [B, C', N_key] x [B, N_key, HW] -> [B, C', H, W]: the values
                                are theta's output itself (no g conv), not aggregated
  out = W(y) + x                W = Sequential(1x1 conv C' -> C with bias, BN)

  `penta` is the authors' "diagonalwise refactorization" of a depthwise conv: a grouped conv,
  groups g = max(C' // 32, 1), whose weight [C', C' / g, k, k] is multiplied by a fixed 0 / 1
  mask of the same shape (mask[o, o mod (C' / g)] = 1) before the conv, so output channel o
  reads only input channel o: a depthwise conv with kernel weight[o, o mod (C' / g)]. The mask
  is an nn.Parameter (requires_grad False) in their code, so it is in their state dicts.

Keys (k > 1): theta.weight [C', C, 1, 1], theta.bias [C'], penta.mask [C', C'/g, k, k],
penta.weight [C', C'/g, k, k], W.0.weight [C, C', 1, 1], W.0.bias [C], W.1.{weight, bias,
running_mean, running_var, num_batches_tracked} [C]. The authors zero-initialise W.1 (the BN)
so a new block is an identity; their penta weight is xavier-uniform times the mask.

Not modelled: the code's unused options (activation 'relu': relu(ps^T p) / N_key instead of the
softmax; use_norm: l2-normalising p over channels), both off in every block the code builds;
and the channel gate (`ChannelGate`, `cg`: a GCNet-style context block, softmax-pooled context,
Linear - BatchNorm1d - ReLU - Linear, added to x) that the authors chain before RNL in layer2.0
only (their README: it replaces the paper's SE module): a separate module, not part of RNL. In the code RNL sits inside a ResNet-50
bottleneck wrapper after the block (layer2.0, layer2.2 with k = 7; layer3.0, .2, .4 with k = 3;
the temporal extent 3 of those kernels has no 2-D counterpart); here it is a block inserted after
a stage (`rnl<k>`), input and output C channels, default kernel 3.

Taps: `affinity` [B, HW, N_key] = f transposed (rows = queries, row-major, each row sums to 1),
`attention` [B, H', W'] = mean over the HW queries of what each key receives (key grid H x W,
or H // 2 x W // 2 with sub-sampling: MaxPool2d floors), `activation` = plain channel mean of the input.
Bypass: taps as usual, output = the input (y = x, the block adds zero).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation


class DiagonalwiseConv(nn.Module):
    """The authors' DiagonalwiseRefactorization, 2-D: conv(x, weight * mask, groups=g), no bias."""

    def __init__(self, channels, kernel):
        super().__init__()
        groups = max(channels // 32, 1)
        if channels % groups:
            raise ValueError(f'RNL region conv: {channels} channels do not split into {groups} groups')
        per = channels // groups
        self.groups = groups
        self.padding = (kernel - 1) // 2
        mask = torch.zeros(channels, per, kernel, kernel)
        mask[torch.arange(channels), torch.arange(channels) % per] = 1.0
        self.mask = nn.Parameter(mask, requires_grad=False)
        self.weight = nn.Parameter(torch.empty(channels, per, kernel, kernel))
        nn.init.xavier_uniform_(self.weight)
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, None, 1, self.padding, 1, self.groups)


class RegionNonLocal(Attention):
    def __init__(self, channels, kernel=3, sub_sample=False):
        super().__init__()
        kernel = int(kernel)
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f'RNL kernel must be odd and >= 1, got {kernel}')
        self.inter = max(channels // 2, 1)
        self.kernel = kernel
        self.sub_sample = bool(sub_sample)
        self.theta = nn.Conv2d(channels, self.inter, 1)
        if kernel > 1:
            self.penta = DiagonalwiseConv(self.inter, kernel)
        self.W = nn.Sequential(nn.Conv2d(self.inter, channels, 1), nn.BatchNorm2d(channels))
        nn.init.constant_(self.W[1].weight, 0)
        nn.init.constant_(self.W[1].bias, 0)
        if self.sub_sample:
            self.pooling = nn.MaxPool2d(2)

    def compute(self, x, want_taps):
        b, c, h, w = x.shape
        t = self.theta(x)
        p = self.penta(t) if self.kernel > 1 else t
        if self.sub_sample:
            ps = self.pooling(p)
            t = self.pooling(t)
        else:
            ps = p
        grid = ps.shape[2:]
        t = t.reshape(b, self.inter, -1)                   # values  [B, C', N_key]
        p = p.reshape(b, self.inter, -1)                   # queries [B, C', HW]
        ps = ps.reshape(b, self.inter, -1)                 # keys    [B, C', N_key]
        f = torch.softmax(torch.matmul(ps.transpose(1, 2), p), dim=1)  # [B, N_key, HW]
        y = torch.matmul(t, f).reshape(b, self.inter, h, w)
        out = self.W(y) + x
        taps = {}
        if want_taps:
            taps = {'attention': f.mean(dim=2).reshape(b, *grid), 'affinity': f.transpose(1, 2),
                    'activation': gated_activation(x, None)}
        return out, taps
