"""Double attention (A^2-Nets) as a block inserted between ResNet stages.

Paper: Yunpeng Chen, Yannis Kalantidis, Jianshu Li, Shuicheng Yan, Jiashi Feng,
"A^2-Nets: Double Attention Networks", NeurIPS 2018, arXiv 1810.11579.
The authors' code is MXNet; there is no PyTorch release by them. Key names follow the widely
copied PyTorch layout `DoubleAttention(in_channels, c_m, c_n, reconstruct=True)` of
xmu-xiaoma666/External-Attention-pytorch (model/attention/A2Atttention.py): convA, convB,
convV and conv_reconstruct, all 1x1 convs with bias. Its softmaxes are not followed: that
file normalises the attention maps over the c_n descriptors (other copies normalise the
attention vectors over positions), and the paper's definitions are used instead (gather: each
descriptor's map is a softmax over positions; distribute: at each position a softmax over the
c_n descriptors). That layout returns conv_reconstruct(Z) alone; the block here adds the
input (a residual block, as the paper inserts it and as the non-local block does).
Written from the paper and that layout's key names; no code copied.

Keys (inserted as `a2<k>`, C channels in and out, c_m = spec `cm`, c_n = spec `cn`):
  convA.weight [c_m, C, 1, 1], convA.bias [c_m]
  convB.weight [c_n, C, 1, 1], convB.bias [c_n]
  convV.weight [c_n, C, 1, 1], convV.bias [c_n]
  conv_reconstruct.weight [C, c_m, 1, 1], conv_reconstruct.bias [C]

Forward, x [B, C, H, W], N = H * W, positions row-major:
  A = convA(x) as [B, c_m, N]; B = convB(x) as [B, c_n, N]; V = convV(x) as [B, c_n, N]
  gather:     maps    = softmax over the N positions of B (each row, one descriptor's map)
              G       = A maps^T                              [B, c_m, c_n]
  distribute: weights = softmax over the c_n descriptors of V (each column, one position)
              Z       = G weights                             [B, c_m, N]
  out = conv_reconstruct(Z as [B, c_m, H, W]) + x

Taps:
  maps       [B, c_n, H, W]  the gather attention maps (each sums to 1 over positions)
  weights    [B, c_n, H, W]  the distribute weights (at each position they sum to 1 over c_n)
  activation [B, H, W]       plain channel mean of the module input
Bypass: out = x; the taps are computed as usual.
"""
import torch
import torch.nn as nn

from .attention import Attention, gated_activation


class DoubleAttention(Attention):
    def __init__(self, channels, cm, cn):
        super().__init__()
        if cm < 1 or cn < 1:
            raise ValueError(f'double attention needs c_m, c_n >= 1, got {cm}, {cn}')
        self.cm, self.cn = cm, cn
        self.convA = nn.Conv2d(channels, cm, 1)
        self.convB = nn.Conv2d(channels, cn, 1)
        self.convV = nn.Conv2d(channels, cn, 1)
        self.conv_reconstruct = nn.Conv2d(cm, channels, 1)

    def compute(self, x, want_taps):
        b, _, h, w = x.shape
        a = self.convA(x).view(b, self.cm, h * w)
        maps = torch.softmax(self.convB(x).view(b, self.cn, h * w), dim=2)
        weights = torch.softmax(self.convV(x).view(b, self.cn, h * w), dim=1)
        g = torch.bmm(a, maps.permute(0, 2, 1))                     # [B, c_m, c_n]
        z = torch.bmm(g, weights).view(b, self.cm, h, w)            # [B, c_m, H, W]
        out = self.conv_reconstruct(z) + x
        taps = {}
        if want_taps:
            taps = {'maps': maps.view(b, self.cn, h, w), 'weights': weights.view(b, self.cn, h, w),
                    'activation': gated_activation(x, None)}
        return out, taps
