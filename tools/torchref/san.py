"""Pairwise self-attention (SAN), the authors' residual bottleneck as a block inserted between ResNet stages.

Paper: Hengshuang Zhao, Jiaya Jia, Vladlen Koltun, "Exploring Self-attention for Image Recognition",
CVPR 2020 (arXiv 2004.13621).
Authors' code: hszhao/SAN (commit d88b022), model/san.py (`position`, `SAM` with sa_type 0 =
pairwise, `Bottleneck`, `SAN._make_layer`) and lib/sa/functions/{subtraction,subtraction2,
aggregation}_refpad.py (their CuPy CUDA kernels; SAM builds all three with pad_mode=1, the
reflection-padded "refpad" variants). Semantics, op order and key names follow that code; no code
copied (their ops are CUDA-only; here they are written with F.pad(mode='reflect') and slices).
Not run against the authors' code (it needs CuPy and a GPU); the self-check below compares this module
with a loop over their kernels' index math, and their own kernel tests (test_subtraction_refpad,
test_subtraction2_refpad, test_aggregation_refpad) assert the ops equal nn.ReflectionPad2d + nn.Unfold,
the form used here.

Block (the authors' Bottleneck, stride 1), on x [B, C, H, W]:
  u   = relu(bn1(x))
  s   = sam(u)                              [B, mid, H, W]
  out = conv(relu(bn2(s))) + x              conv: 1x1 mid -> C with bias
Channel arithmetic (SAN._make_layer: block(planes, planes // 16, planes // 4, planes, 8, k)):
  rel = max(C // 16, 1), mid = C // 4, out = C, share = `sharePlanes` (theirs 8), G = mid // share
  weight channels (G must be >= 1 and share must divide mid). The fixture (C = 32) uses share 4: rel 2,
  mid 8, G 2, the same 2 weight channels as the authors' first stage (C = 64, share 8).

SAM, pairwise (sa_type 0), kernel k (spec `kernel`, theirs 3 in layer0 and 7 after), stride 1,
dilation 1, padding P = (k - 1 + 1) // 2 = k // 2 (odd k):
  x1 = conv1(u), x2 = conv2(u)              1x1 C -> rel, with bias
  x3 = conv3(u)                             1x1 C -> mid, with bias
  position grid (their `position(H, W)`): loc [1, 2, H, W], channel 0 = linspace(-1, 1, W) along
    the columns (x), channel 1 = linspace(-1, 1, H) along the rows (y); both ends exact, step
    2 / (W - 1) and 2 / (H - 1) (the grid depends on the map size, so the encoding does too).
  p  = conv_p(loc)                          1x1 2 -> 2, with bias (the bias cancels below)
  For a query position i = (r, c) and footprint offset o = (a, b), a, b in -P .. P, o in row-major
  order o = (a + P) k + (b + P) (the kernels' kh * k + kw), the position read is
    j(i, o) = (refl_H(r + a), refl_W(c + b)),  refl_N(t) = -t if t < 0, 2 (N - 1) - t if t >= N
  (the CUDA index math: reflection WITHOUT repeating the edge row, PyTorch's ReflectionPad2d; one
  reflection only, so P < H and P < W are required: a ValueError otherwise).
  rel_ij = x1_i - x2_j                      [B, rel, k^2, HW]  (their Subtraction2: query minus key)
  pos_ij = p_i - p_j                        [1, 2, k^2, HW]    (their Subtraction on p; repeated over B)
  logits = conv_w(cat([rel_ij, pos_ij], 1)) [B, G, k^2, HW]    (a 4-D "image" of k^2 x HW pixels)
    conv_w = Sequential(0 BN(rel + 2), 1 ReLU, 2 conv 1x1 rel + 2 -> rel (no bias),
                        3 BN(rel), 4 ReLU, 5 conv 1x1 rel -> G (with bias))
  w = softmax over the k^2 offsets (nn.Softmax(dim=-2))
  sam(u)[c, i] = sum_o w[c mod G, o, i] x3[c, j(i, o)]
    (their Aggregation: output channel c uses weight channel c % G, INTERLEAVED: channels
    g, g + G, g + 2G, ... share weight channel g; not contiguous blocks)

Borders. A border position's footprint keeps k^2 entries, all inside the image: an offset that falls
outside reads the mirrored position (row -1 reads row 1, row H reads row H - 2). The mirrored offset
and its twin then read the same j, and as rel_ij and pos_ij depend only on (i, j), they get the same
logit, so the same weight: at a border the footprint reads fewer distinct positions, some of them
twice with equal weights. k = 3 at a corner (0, 0): 9 offsets read (1, 1) four times, (1, 0) and
(0, 1) twice each, (0, 0) once; at an edge (0, c): 6 distinct positions, row 1's three read twice.
No zero padding: the weights always sum to 1 over positions inside the image.

Dense form (the taps, for the engine's graph): for each query i, the weights averaged over the G
weight channels, wbar[o, i] = mean_g w[g, o, i], laid out over the HW positions (row-major):
  D[i, j] = sum over the offsets o with j(i, o) = j of wbar[o, i]     [HW, HW]
so the twins of a border footprint are SUMMED into the one position they read; D has at most k^2
nonzeros a row and each row sums to 1. Per weight channel, D_g (the same with w[g] instead of
wbar) gives sam(u)[c] = D_{c mod G} x3[c] exactly; D is their mean (the output is not D x3 unless
G = 1).

Keys (prefix = the insert's name; rel, mid, G as above, k the kernel):
  bn1.{weight, bias, running_mean, running_var} [C], bn1.num_batches_tracked []
  sam.conv1.weight [rel, C, 1, 1], sam.conv1.bias [rel]; sam.conv2.* likewise
  sam.conv3.weight [mid, C, 1, 1], sam.conv3.bias [mid]
  sam.conv_w.0.* BN [rel + 2]; sam.conv_w.2.weight [rel, rel + 2, 1, 1];
  sam.conv_w.3.* BN [rel]; sam.conv_w.5.weight [G, rel, 1, 1], sam.conv_w.5.bias [G]
  sam.conv_p.weight [2, 2, 1, 1], sam.conv_p.bias [2]
  bn2.* BN [mid]; conv.weight [C, mid, 1, 1], conv.bias [C]
The kernel k shows in no weight (spec only); rel, mid and G show in the shapes, share = mid / G.
The patchwise SAM (sa_type 1), the authors' SAN backbone (its conv / pool transitions) and stride 2
are not modelled.

Taps:
  affinity   [B, HW, HW]  D (row = query, row-major positions; each row sums to 1)
  attention  [B, H, W]    mean over the HW queries of D: what each position receives
  activation [B, H, W]    plain channel mean of the block input x (before bn1)
Bypass: y = x (the whole residual block adds zero); the taps as usual, from the input it received.
Self-check (the output against a loop over the CUDA kernels' index math, the dense form, borders):
  cd tools && /usr/bin/python3 -m torchref.san
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation


def position(h, w, like):
    """The authors' coordinate grid [1, 2, H, W]: channel 0 = x (linspace over W), channel 1 = y."""
    loc_w = torch.linspace(-1.0, 1.0, w, dtype=like.dtype, device=like.device).unsqueeze(0).repeat(h, 1)
    loc_h = torch.linspace(-1.0, 1.0, h, dtype=like.dtype, device=like.device).unsqueeze(1).repeat(1, w)
    return torch.cat([loc_w.unsqueeze(0), loc_h.unsqueeze(0)], 0).unsqueeze(0)


def footprint(t, k):
    """[B, C, H, W] -> [B, C, k^2, HW]: entry o = (a + P) k + (b + P) of position (r, c) holds
    t[refl(r + a), refl(c + b)] (reflection padding P = k // 2, the authors' refpad kernels)."""
    b, c, h, w = t.shape
    pad = k // 2
    if pad >= h or pad >= w:
        raise ValueError(f'SAN: reflection padding {pad} (kernel {k}) needs H and W above {pad}, got {h} x {w}')
    padded = F.pad(t, (pad, pad, pad, pad), mode='reflect') if pad else t
    parts = [padded[:, :, a:a + h, bb:bb + w] for a in range(k) for bb in range(k)]
    return torch.stack(parts, dim=2).reshape(b, c, k * k, h * w)


def reflected_index(h, w, k, device=None):
    """[k^2, HW] int64: the position j(i, o) (row-major) that offset o of query i reads."""
    pad = k // 2

    def refl(t, n):
        t = torch.where(t < 0, -t, t)
        return torch.where(t >= n, 2 * (n - 1) - t, t)

    r = torch.arange(h, device=device)[:, None].expand(h, w).reshape(-1)
    c = torch.arange(w, device=device)[None, :].expand(h, w).reshape(-1)
    offs = torch.arange(-pad, pad + 1, device=device)
    a = offs[:, None].expand(k, k).reshape(-1)
    bb = offs[None, :].expand(k, k).reshape(-1)
    rr = refl(r[None, :] + a[:, None], h)
    cc = refl(c[None, :] + bb[:, None], w)
    return rr * w + cc


class SAM(nn.Module):
    """The authors' SAM, pairwise (sa_type 0), stride 1, dilation 1: keys conv1, conv2, conv3, conv_w, conv_p."""

    def __init__(self, in_planes, rel_planes, out_planes, share_planes, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight_channels = out_planes // share_planes
        self.conv1 = nn.Conv2d(in_planes, rel_planes, kernel_size=1)
        self.conv2 = nn.Conv2d(in_planes, rel_planes, kernel_size=1)
        self.conv3 = nn.Conv2d(in_planes, out_planes, kernel_size=1)
        self.conv_w = nn.Sequential(nn.BatchNorm2d(rel_planes + 2), nn.ReLU(),
                                    nn.Conv2d(rel_planes + 2, rel_planes, kernel_size=1, bias=False),
                                    nn.BatchNorm2d(rel_planes), nn.ReLU(),
                                    nn.Conv2d(rel_planes, self.weight_channels, kernel_size=1))
        self.conv_p = nn.Conv2d(2, 2, kernel_size=1)

    def weights(self, u):
        """(w [B, G, k^2, HW]: the softmax over the footprint, x3 [B, mid, H, W])."""
        b, _, h, w = u.shape
        k = self.kernel_size
        x1, x2, x3 = self.conv1(u), self.conv2(u), self.conv3(u)
        p = self.conv_p(position(h, w, u))
        rel = x1.reshape(b, -1, 1, h * w) - footprint(x2, k)
        pos = p.reshape(1, 2, 1, h * w) - footprint(p, k)
        logits = self.conv_w(torch.cat([rel, pos.repeat(b, 1, 1, 1)], 1))
        return torch.softmax(logits, dim=2), x3

    def aggregate(self, x3, wts):
        """Output channel c = sum_o w[c mod G, o] x3[c, j(o)] (the authors' Aggregation)."""
        b, mid, h, w = x3.shape
        g, kk = self.weight_channels, self.kernel_size ** 2
        vals = footprint(x3, self.kernel_size).reshape(b, mid // g, g, kk, h * w)
        return (vals * wts.unsqueeze(1)).sum(dim=3).reshape(b, mid, h, w)

    def forward(self, u, with_weights=False):
        """sam(u) (the authors' SAM.forward); with_weights: (sam(u), w [B, G, k^2, HW])."""
        wts, x3 = self.weights(u)
        out = self.aggregate(x3, wts)
        return (out, wts) if with_weights else out


class PairwiseSelfAttention(Attention):
    def __init__(self, channels, kernel=7, share_planes=8):
        super().__init__()
        kernel, share_planes = int(kernel), int(share_planes)
        rel, mid = max(channels // 16, 1), channels // 4
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f'SAN kernel must be odd and >= 1, got {kernel}')
        if mid < 1 or share_planes < 1 or mid % share_planes:
            raise ValueError(f'SAN: sharePlanes {share_planes} must divide mid = C // 4 = {mid} (C {channels})')
        self.kernel = kernel
        self.bn1 = nn.BatchNorm2d(channels)
        self.sam = SAM(channels, rel, mid, share_planes, kernel)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv = nn.Conv2d(mid, channels, kernel_size=1)

    def dense(self, wts, h, w):
        """[B, G, k^2, HW] weights -> [B, G, HW, HW]: row i holds query i's weights at the positions read."""
        b, g, kk, n = wts.shape
        index = reflected_index(h, w, self.kernel, wts.device).t()               # [HW, k^2]
        out = torch.zeros(b, g, n, n, dtype=wts.dtype, device=wts.device)
        return out.scatter_add_(3, index.expand(b, g, n, kk), wts.transpose(2, 3))

    def compute(self, x, want_taps):
        b, _, h, w = x.shape
        s, wts = self.sam(F.relu(self.bn1(x)), True)
        out = self.conv(F.relu(self.bn2(s))) + x
        taps = {}
        if want_taps:
            aff = self.dense(wts.mean(dim=1, keepdim=True), h, w)[:, 0]
            taps = {'affinity': aff, 'attention': aff.mean(dim=1).reshape(b, h, w),
                    'activation': gated_activation(x, None)}
        return out, taps


# --- self-check -------------------------------------------------------------------------

def _loop_sam(m, u):
    """SAM by loops over the CUDA kernels' index math (subtraction2 / subtraction / aggregation
    refpad, stride 1, dilation 1): an independent computation of sam(u) and of w [B, G, k^2, HW]."""
    sam = m.sam
    b, _, h, w = u.shape
    k, pad = sam.kernel_size, sam.kernel_size // 2
    x1, x2, x3 = sam.conv1(u), sam.conv2(u), sam.conv3(u)
    ys = torch.linspace(-1.0, 1.0, h, dtype=u.dtype)
    xs = torch.linspace(-1.0, 1.0, w, dtype=u.dtype)
    wp, bp = sam.conv_p.weight[:, :, 0, 0], sam.conv_p.bias

    def refl(t, n):
        if t < 0:
            t = -t
        if t >= n:
            t = 2 * (n - 1) - t
        return t

    feats = torch.zeros(b, x1.shape[1] + 2, k * k, h * w, dtype=u.dtype)
    for r in range(h):
        for c in range(w):
            pi = wp @ torch.stack([xs[c], ys[r]]) + bp
            for kh in range(k):
                for kw in range(k):
                    hr, wr = refl(r - pad + kh, h), refl(c - pad + kw, w)
                    pj = wp @ torch.stack([xs[wr], ys[hr]]) + bp
                    feats[:, :x1.shape[1], kh * k + kw, r * w + c] = x1[:, :, r, c] - x2[:, :, hr, wr]
                    feats[:, x1.shape[1]:, kh * k + kw, r * w + c] = (pi - pj)[None]
    wts = torch.softmax(sam.conv_w(feats), dim=2)
    g = wts.shape[1]
    out = torch.zeros_like(x3)
    for ch in range(x3.shape[1]):
        for r in range(h):
            for c in range(w):
                v = 0
                for kh in range(k):
                    for kw in range(k):
                        hr, wr = refl(r - pad + kh, h), refl(c - pad + kw, w)
                        v = v + wts[:, ch % g, kh * k + kw, r * w + c] * x3[:, ch, hr, wr]
                out[:, ch, r, c] = v
    return out, wts


def _self_check():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    configs = ((32, 3, 4, (6, 7)), (32, 7, 2, (5, 8)), (16, 5, 4, (4, 4)), (64, 3, 8, (8, 8)))
    for channels, kernel, share, size in configs:
        m = PairwiseSelfAttention(channels, kernel, share).double()
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, dtype=p.dtype) * 0.7)
            for mod in m.modules():
                if isinstance(mod, nn.BatchNorm2d):
                    mod.running_mean.normal_()
                    mod.running_var.uniform_(0.5, 2.0)
        m.eval()
        h, w = size
        x = torch.randn(2, channels, h, w, dtype=torch.float64)
        with torch.no_grad():
            out, taps = m.compute(x, True)
            u = F.relu(m.bn1(x))
            s_loop, w_loop = _loop_sam(m, u)
            wts, x3 = m.sam.weights(u)
            assert torch.allclose(wts, w_loop, atol=1e-12), 'softmax weights differ from the loop'
            assert torch.allclose(m.sam(u), s_loop, atol=1e-12), 'SAM differs from the loop'
            assert torch.allclose(out, m.conv(F.relu(m.bn2(s_loop))) + x, atol=1e-12), 'block output differs'
            # The dense per-channel matrices reproduce the aggregation: sam[c] = D_{c mod G} x3[c].
            dg = m.dense(wts, h, w)                                            # [B, G, HW, HW]
            g = dg.shape[1]
            x3f = x3.reshape(2, x3.shape[1], h * w)
            agg = torch.stack([torch.matmul(dg[:, c % g], x3f[:, c, :, None])[..., 0] for c in range(x3.shape[1])], 1)
            assert torch.allclose(agg.reshape(s_loop.shape), s_loop, atol=1e-12), 'dense aggregation differs'
            aff = taps['affinity']
            assert aff.shape == (2, h * w, h * w)
            assert torch.allclose(aff, dg.mean(dim=1), atol=1e-14)
            assert torch.allclose(aff.sum(dim=2), torch.ones((), dtype=aff.dtype), atol=1e-12), 'rows do not sum to 1'
            assert torch.allclose(taps['attention'], aff.mean(dim=1).reshape(2, h, w))
            nnz = (aff[0] > 0).sum(dim=1)
            assert int(nnz.max()) <= kernel * kernel
            # Corner (0, 0), k = 3: (1, 1) read 4 times with one weight, (0, 1) / (1, 0) twice.
            if kernel == 3:
                wq = wts[0, :, :, 0]                                           # [G, 9] query (0, 0)
                assert torch.allclose(wq[:, 0], wq[:, 8]) and torch.allclose(wq[:, 0], wq[:, 2])
                assert torch.allclose(wq[:, 0], wq[:, 6]) and torch.allclose(wq[:, 1], wq[:, 7])
                assert torch.allclose(wq[:, 3], wq[:, 5])
                assert torch.allclose(aff[0, 0, w + 1], 4 * wq[:, 0].mean())
                assert int(nnz[0]) == 4
        print(f'C {channels}, kernel {kernel}, share {share}, {h}x{w}: output, weights and dense form match the loop; '
              f'nonzeros a row {int(nnz.min())}-{int(nnz.max())}')
    try:
        PairwiseSelfAttention(32, 7, 4).compute(torch.randn(1, 32, 3, 3), False)
    except ValueError as e:
        print('ValueError as expected:', e)
    else:
        raise AssertionError('kernel 7 on 3x3 accepted')


if __name__ == '__main__':
    _self_check()
