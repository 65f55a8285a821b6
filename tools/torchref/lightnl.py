"""LightNL, the lightweight non-local block, as a block inserted between ResNet stages.

Paper: Yingwei Li, Xiaojie Jin, Jieru Mei, Xiaochen Lian, Linjie Yang, Cihang Xie, Qihang Yu,
Yuyin Zhou, Song Bai, Alan Yuille, "Neural Architecture Search for Lightweight Non-Local
Networks", CVPR 2020, arXiv 2004.01961.
Authors' code: LiYingwei/AutoNL (TensorFlow 1.14), model_def.py: `MnasBlock._call_non_local`
and `non_local_op(l, embed=False, softmax=False, nl_ratio, nl_stride, reduce_func)`, the only
path the code runs (embed=True and softmax=True raise NotImplementedError). Semantics and
attribute names follow that code (channels-last there, NCHW here); no code copied. There it
sits inside an MBConv block after the projection BN, before the skip add; here it is a block
inserted after a ResNet stage (`lnl<k>`), input and output C channels.

No theta / phi / g 1x1 convs: the embeddings are the input itself.
  x [B, C, H, W]; c' = int(ratio * C) (spec `ratio`, the authors' nl_ratio)
  keys / values on the down-sampled grid: xs = x[:, :, ::s, ::s] (spec `stride`, the authors'
    nl_stride: strided sub-sampling, the top-left position of each s x s cell, no pooling;
    H' = ceil(H / s), W' = ceil(W / s))
  theta = x[:, :c'] as [c', HW] (queries), phi = xs[:, :c'] as [c', H'W'] (keys),
  g = xs as [C, H'W'] (values, all channels)
  f = theta^T phi / (H W)            [HW, H'W']: dot product, no softmax, divided by the
                                     number of QUERY positions H W (the code's f / (H * W))
  y = f g^T                          [HW, C] -> [C, H, W]
  out = x + non_local_bn(non_local_conv(y))
    non_local_conv: depthwise 3x3, stride 1, padding 1, no bias (the code's `_non_local_conv`,
    DepthwiseConv2D); non_local_bn: BatchNorm2d (`_non_local_bn`; the code's eps is 1e-3,
    the torch default 1e-5 is used here: eps is not in a state dict).
Keys: non_local_conv.weight [C, 1, 3, 3], non_local_bn.{weight, bias, running_mean,
running_var, num_batches_tracked} [C].

Product order: the code picks, from the static sizes, the cheaper association: f g^T when
HW K C (1 + r) < HW C^2 r + K C^2 r (K = (H // s)(W // s), r = ratio), else theta^T (phi g^T)
/ HW, which never forms f. The same rule is used here (it decides only which MatMuls an ONNX
export holds; the values agree to rounding). Every detail above is from the code (the paper's
text was not available here to compare against).

Taps: `attention` [B, H', W'] = mean over the HW queries of f (what each key receives),
`affinity` [B, HW, H'W'] = f (rows = queries, row-major; not row-normalised: rows do not sum
to 1), `activation` = plain channel mean of the input.
"""
import torch
import torch.nn as nn

from .attention import Attention, gated_activation


class LightNL(Attention):
    def __init__(self, channels, ratio=1.0, stride=1):
        super().__init__()
        self.ratio = float(ratio)
        self.stride = int(stride)
        self.keep = int(self.ratio * channels)
        if not 1 <= self.keep <= channels or self.stride < 1:
            raise ValueError(f'LightNL needs 0 < ratio <= 1 (got {ratio}) and stride >= 1 (got {stride})')
        self.non_local_conv = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False)
        self.non_local_bn = nn.BatchNorm2d(channels)

    def parts(self, x):
        """theta [B, HW, c'], phi [B, c', K], g [B, K, C] and the key grid (H', W')."""
        b, c, h, w = x.shape
        s, k = self.stride, self.keep
        xs = x[:, :, ::s, ::s] if s > 1 else x
        theta = x[:, :k].reshape(b, k, h * w).transpose(1, 2)
        phi = xs[:, :k].reshape(b, k, -1)
        g = xs.reshape(b, c, -1).transpose(1, 2)
        return theta, phi, g, tuple(xs.shape[2:])

    def affinity_first(self, c, h, w):
        """The authors' cost rule: True when f = theta^T phi is formed (their first branch)."""
        hw, kk, r = h * w, (h // self.stride) * (w // self.stride), self.ratio
        return hw * kk * c * (1 + r) < hw * c * c * r + kk * c * c * r

    def compute(self, x, want_taps):
        b, c, h, w = x.shape
        theta, phi, g, grid = self.parts(x)
        f = None
        if self.affinity_first(c, h, w):
            scores = torch.matmul(theta, phi)       # [B, HW, K]
            f = scores / scores.shape[1]            # / (H W): the query count
            y = torch.matmul(f, g)                  # [B, HW, C]
        else:
            y = torch.matmul(theta, torch.matmul(phi, g))
            y = y / y.shape[1]
        y = y.transpose(1, 2).reshape(b, c, h, w)
        out = x + self.non_local_bn(self.non_local_conv(y))
        taps = {}
        if want_taps:
            if f is None:
                f = torch.matmul(theta, phi) / (h * w)
            taps = {'attention': f.mean(dim=1).view(b, *grid), 'affinity': f,
                    'activation': gated_activation(x, None)}
        return out, taps
