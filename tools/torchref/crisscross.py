"""Criss-cross attention (CCNet), recurrent, as a block inserted between ResNet stages.

Paper: Huang, Wang, Huang, Huang, Wei, Liu, "CCNet: Criss-Cross Attention for Semantic
Segmentation", ICCV 2019, arXiv 1811.11721.
Authors' code: speedinghzl/CCNet, cc_attention/functions.py (`CrissCrossAttention`, the pure
PyTorch version on master) and networks/ccnet.py (`RCCAModule`: `for i in range(recurrence):
output = self.cca(output)`, the same module, so shared weights). Semantics and key names
follow that code; no code copied. Only the criss-cross attention is here, not RCCAModule's
conva / convb / bottleneck convs of the segmentation head.

Keys: query_conv, key_conv (1x1, C -> C // reduction, reduction 8 in the authors' code, with
bias), value_conv (1x1, C -> C, with bias), gamma [1] (0 at init in the authors' code).

One pass, on an input x [B, C, H, W], with q, k, v the three convs of x: for each query
position (i, j)
  column energies e_col[g] = q(i, j) . k(g, j), g = 0..H-1, with e_col[i] = -inf (the self
    position is masked in the column part: the authors' INF diagonal)
  row energies    e_row[u] = q(i, j) . k(i, u), u = 0..W-1 (self included)
  [a_col, a_row] = softmax over the H + W values of [e_col, e_row]
  out(i, j) = sum_g a_col[g] v(g, j) + sum_u a_row[u] v(i, u)
  y = gamma * out + x
The block applies the pass `recurrence` times (2: the paper's R = 2), each pass on the
previous pass's y, with the same weights.

Dense layout of pass p's attention, A_p [HW, HW]: row = query position, column = key
position, both row-major (index = row * W + column); A_p[(i, j), (g, j)] = a_col[g] for
g != i, A_p[(i, j), (i, u)] = a_row[u] (so the self position's weight is its row-part
weight), zeros off the query's row and column; each row sums to 1.

Taps:
  attention  [B, H, W]    mean over query positions of A_1: the pass-1 attention each
                          position receives (A_1.mean(dim=query) as the H x W grid)
  affinity   [B, HW, HW]  the reach after all passes, A_R ... A_2 A_1 (R = 2: A_2 A_1): row i
                          says how much of position k's value reaches query i through the
                          two passes (values, gamma and the residual left out)
  affinity1  [B, HW, HW]  A_1, pass 1 alone (what one criss-cross path looks like)
  activation [B, H, W]    plain channel mean of the module input
Bypass: y = x (every pass skipped); the taps are computed as usual (pass 2 from pass 1's
output, as the unbypassed module would), from the input the module received.
"""
import torch
import torch.nn as nn

from .attention import Attention, gated_activation


class CrissCrossAttention(Attention):
    def __init__(self, channels, reduction=8, recurrence=2):
        super().__init__()
        if recurrence < 1:
            raise ValueError(f'criss-cross recurrence must be >= 1, got {recurrence}')
        inner = max(channels // reduction, 1)
        self.query_conv = nn.Conv2d(channels, inner, 1)
        self.key_conv = nn.Conv2d(channels, inner, 1)
        self.value_conv = nn.Conv2d(channels, channels, 1)
        # CCNet starts gamma at 0 (the block begins as an identity); fixtures randomise it.
        self.gamma = nn.Parameter(torch.zeros(1))
        self.recurrence = recurrence

    def attend(self, x):
        """One pass: (y, a_col [B, H, W, H], a_row [B, H, W, W]); a_* indexed [query i, j, key]."""
        h = x.shape[2]
        q, k, v = self.query_conv(x), self.key_conv(x), self.value_conv(x)
        # Column: for each image column j, queries (i, j) against keys (g, j).
        e_col = torch.matmul(q.permute(0, 3, 2, 1), k.permute(0, 3, 1, 2)).permute(0, 2, 1, 3)  # [B, H, W, H]
        rows = torch.arange(h, device=x.device)
        self_pos = (rows[:, None] == rows[None, :])[:, None, :]                                  # [H, 1, H]
        e_col = e_col.masked_fill(self_pos, float('-inf'))
        # Row: for each image row i, queries (i, j) against keys (i, u).
        e_row = torch.matmul(q.permute(0, 2, 3, 1), k.permute(0, 2, 1, 3))                      # [B, H, W, W]
        att = torch.softmax(torch.cat([e_col, e_row], dim=3), dim=3)
        a_col, a_row = att[:, :, :, :h], att[:, :, :, h:]
        # out_col[b, c, i, j] = sum_g a_col[b, i, j, g] v[b, c, g, j]
        out_col = torch.matmul(a_col.permute(0, 2, 1, 3), v.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        # out_row[b, c, i, j] = sum_u a_row[b, i, j, u] v[b, c, i, u]
        out_row = torch.matmul(a_row, v.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.gamma * (out_col + out_row) + x, a_col, a_row

    @staticmethod
    def dense(a_col, a_row):
        """A [B, HW, HW] (row = query, column = key, row-major) from one pass's two parts."""
        b, h, w = a_col.shape[:3]
        eye_h = torch.eye(h, dtype=a_col.dtype, device=a_col.device)
        eye_w = torch.eye(w, dtype=a_col.dtype, device=a_col.device)
        # [B, i, j, g, u]: column part at u == j, row part at g == i.
        full = torch.einsum('bijg,ju->bijgu', a_col, eye_w) + torch.einsum('biju,ig->bijgu', a_row, eye_h)
        return full.reshape(b, h * w, h * w)

    def compute(self, x, want_taps):
        y = x
        passes = []
        for _ in range(self.recurrence):
            y, a_col, a_row = self.attend(y)
            passes.append((a_col, a_row))
        taps = {}
        if want_taps:
            b, _, h, w = x.shape
            dense = [self.dense(a_col, a_row) for a_col, a_row in passes]
            reach = dense[0]
            for a in dense[1:]:
                reach = torch.matmul(a, reach)
            taps = {'attention': dense[0].mean(dim=1).view(b, h, w), 'affinity': reach, 'affinity1': dense[0],
                    'activation': gated_activation(x, None)}
        return y, taps
