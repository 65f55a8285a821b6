"""Non-Local Sparse Attention (NLSA), as a block inserted between ResNet stages.

Paper: Yiqun Mei, Yuchen Fan, Yuqian Zhou, "Image Super-Resolution with Non-Local Sparse
Attention", CVPR 2021.
Authors' code: HarukiYqM/Non-Local-Sparse-Attention, src/model/attention.py
(`NonLocalSparseAttention`: `LSH`, `add_adjacent_buckets`, `forward`) and src/model/common.py
(`BasicBlock`, `default_conv`, `batched_index_select`). Semantics and key names follow that code;
no code copied. There it sits in the body of an EDSR-like super-resolution network (NLSN); here
it is a block inserted after a ResNet stage (`nlsa<k>`), input and output C channels.

Keys (C' = C // reduction; BasicBlock(conv, ..., bn=False, act=None) is a Sequential holding
only the conv, hence the `.0`):
  conv_match.0.weight    [C', C, k, k]  k = kSize (3: the authors' k_size default), padding k // 2
  conv_match.0.bias      [C']
  conv_assembly.0.weight [C, C, 1, 1]
  conv_assembly.0.bias   [C]
  rotations              [C', n_hashes, K / 2]  buffer: the LSH rotations (ours; see below)

The authors' forward, on x [B, C, H, W], L = H W:
  x_e = conv_match(x) as [L, C'] (no activation), y_e = conv_assembly(x) as [L, C]
  LSH, per hash round r = 0 .. n_hashes - 1: rotated = x_e R_r [L, K / 2];
    code_r(p) = argmax over the K values of cat([rotated, -rotated]) (a bucket in 0 .. K - 1),
    offset by r K so the rounds' codes do not overlap
  sort the n_hashes L offset codes (all rounds in one sort, so round 0's positions come first),
  gather x_e and y_e in that order, cut each round into chunks of chunk_size positions; each
  chunk attends to itself and to the previous and the next chunk (circular: add_adjacent_buckets
  concatenates the chunk axis rolled by +1 and -1), 3 chunk_size keys per query:
    raw(q, k) = x_e(q) . x_e(k) / max(||x_e(k)||, 5e-5)  (keys L2-normalised, F.normalize eps
                                                        5e-5; queries not; a query sees itself)
    lse_r(q) = logsumexp over its keys of raw, score = exp(raw - lse_r), ret_r(q) = score y_e
  undo the sort; combine the rounds: ret(q) = sum_r softmax_r(lse_r(q)) ret_r(q)
  out = ret * res_scale + x
Authors' defaults: reduction 4, n_hashes 4, chunk_size 144, k_size 3, res_scale 1; the number
of buckets K = min(L // chunk_size + (L // chunk_size) % 2, 128), from the input size.

Our variant (the differences, each deliberate):
  1. Fixed rotations. The authors draw R = torch.randn([1, C', n_hashes, K / 2]) in EVERY forward,
     so two passes over the same image attend differently. Here R is the buffer `rotations`
     [C', n_hashes, K / 2] in the state dict (drawn N(0, 1) at construction, so seeded by the
     fixture's torch.manual_seed): the maps are reproducible and a checkpoint carries them. K is
     then the buffer's (2 x its last dimension, spec `buckets`), not derived from L (for the
     fixture, L = 256 and chunk 32, the authors' rule gives the same K = 8).
  2. Stable sort. The authors sort the codes with torch.sort, unstable with ties (positions of
     one bucket come out in any order). Here positions are ordered by (round, code, position):
     the sort key (code + r K) L + p is unique, so any sort gives one order and the chunks are
     deterministic.
  3. L = H W must be a multiple of chunk_size, with at least 3 chunks (a ValueError otherwise).
     Then nothing is padded (the authors pad a round's last chunk with copies of its last
     positions, which then attend twice) and the previous, own and next chunks are 3 different
     chunks (with 1 or 2 chunks the authors' code sees a chunk twice).
  4. Spec defaults sized for small maps: chunk 32 and buckets 8 (`hashes` 4, `reduction` 4,
     `kSize` 3, `resScale` 1.0 as the authors').
  5. The authors' NLSN places it in a super-resolution body; here it is a ResNet insert.
  6. Values keep C channels for any C (the authors reshape them to C' reduction channels, which
     is C only when reduction divides C).
Checked against the authors' code (their attention.py and common.py run with torch.randn patched
to return `rotations` and Tensor.sort made stable): sorted_forward gives their output exactly
(float64, max difference 0 on 16x16 inputs). With their unstable torch.sort (torch 1.13, CPU) the
outputs differed by up to 1.3 on the same input: ties are the rule (every position of a bucket
shares its code), so which positions share a chunk depends on the sort's implementation.

Under 2 and 3 the block equals a dense form (both are implemented: `sorted_forward`, the
authors' chunked computation, and `dense_forward`; `check_forms` asserts they agree):
  x = conv_match(input) [L, C'], v = conv_assembly(input) [C, L], n = L / chunk_size
  code_r(p) as above: the first index of the maximum of cat([x_p R_r, -x_p R_r]), ArgMax's value
    (written min_j (j + K [v_j < max v]), ties included); rank_r(p) = #{p' : code_r(p') < code_r(p)}
    + #{p' < p : code_r(p') = code_r(p)} (p's place in the stable order; counted, no sort),
  chunk_r(p) = floor(rank_r(p) / chunk_size) (a Cast to int32 of the non-negative quotient)
  query q may attend key k in round r iff d = chunk_r(k) - chunk_r(q) has d mod n in {0, 1, n - 1}
    (written d = 0 or |d| = 1 or |d| = n - 1, the same for n >= 3)
  s(q, k) = x_q . x_k / max(||x_k||, 5e-5)
  A_r[q, k] = softmax over the allowed k of s(q, k), 0 elsewhere; lse_r(q) = logsumexp of s(q, .)
    over the allowed k
  w_r(q) = softmax over the rounds of lse_r(q); A[q, k] = sum_r w_r(q) A_r[q, k] (rows sum to 1)
  y = v A^T; out = y * res_scale + input
`dense` (the attribute, False by default) makes forward use the dense form (for an ONNX export
with no ArgMax, TopK, GatherElements, Mod, ReduceL2 or ReduceLogSumExp: ops the engine's tfjs
runtime has). The sorted form exports too (opset 17), with those ops.
Self-check (both forms, ties, the size check): cd tools && /usr/bin/python3 -m torchref.nlsa

Taps:
  affinity   [B, HW, HW]  A (row = query, column = key, row-major positions); 3 chunk_size allowed
                          keys per round, up to 3 n_hashes chunk_size nonzeros a row
  attention  [B, H, W]    mean over the queries of A: what each position receives
  maps       [B, K, H, W] the first round's (r = 0) bucket membership: one-hot of code_0(p), the
                          K maps partition the image (a bucket may be empty)
  activation [B, H, W]    plain channel mean of the input
Bypass: y = x; the taps are computed as usual, from the input the module received.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation

NORM_EPS = 5e-5  # the authors' F.normalize eps on the keys


class NonLocalSparseAttention(Attention):
    def __init__(self, channels, reduction=4, hashes=4, buckets=8, chunk=32, k_size=3, res_scale=1.0):
        super().__init__()
        inner = channels // reduction
        if inner < 1 or hashes < 1 or chunk < 1 or buckets < 2 or buckets % 2 or k_size < 1 or k_size % 2 == 0:
            raise ValueError(f'NLSA needs C // reduction >= 1 (C {channels}, reduction {reduction}), hashes >= 1 '
                             f'({hashes}), chunk >= 1 ({chunk}), an even buckets >= 2 ({buckets}) and an odd '
                             f'kSize ({k_size})')
        self.hashes, self.buckets, self.chunk = int(hashes), int(buckets), int(chunk)
        self.res_scale = float(res_scale)
        # The authors' BasicBlock(conv, ..., bn=False, act=None): Sequential(conv) -> keys `.0.*`.
        self.conv_match = nn.Sequential(nn.Conv2d(channels, inner, k_size, padding=k_size // 2))
        self.conv_assembly = nn.Sequential(nn.Conv2d(channels, channels, 1))
        self.register_buffer('rotations', torch.randn(inner, self.hashes, self.buckets // 2))
        self.dense = False  # forward through dense_forward (ONNX export) instead of sorted_forward

    def check_size(self, h, w):
        n = h * w // self.chunk
        if (h * w) % self.chunk or n < 3:
            raise ValueError(f'NLSA needs H * W ({h} x {w} = {h * w}) to be a multiple of chunk {self.chunk} '
                             f'with at least 3 chunks')
        return n

    def embed(self, x):
        """x_e [B, L, C'], y_e [B, L, C] and the LSH values cat([x_e R_r, -x_e R_r]) [B, L, n_hashes, K]."""
        b, c, h, w = x.shape
        x_e = self.conv_match(x).reshape(b, -1, h * w).transpose(1, 2)
        y_e = self.conv_assembly(x).reshape(b, c, h * w).transpose(1, 2)
        # One MatMul with the rotations as [C', n_hashes K/2] (no Einsum in an ONNX export).
        rotations = self.rotations.to(x_e.dtype)
        rotated = torch.matmul(x_e, rotations.reshape(rotations.shape[0], -1))
        rotated = rotated.reshape(b, h * w, self.hashes, -1)                      # [B, L, n_hashes, K/2]
        return x_e, y_e, torch.cat([rotated, -rotated], dim=3)

    def codes(self, x):
        """The LSH codes [B, n_hashes, L] (0 .. K - 1, not offset), the authors' ArgMax."""
        return torch.argmax(self.embed(x)[2], dim=3).transpose(1, 2)

    def sorted_forward(self, x):
        """The authors' chunked computation (stable order, fixed rotations): (out, codes)."""
        b, c, h, w = x.shape
        n = self.check_size(h, w)
        length, nh, cs = h * w, self.hashes, self.chunk
        x_e, y_e, lsh = self.embed(x)
        codes = torch.argmax(lsh, dim=3).transpose(1, 2)                          # [B, n_hashes, L]
        offsets = torch.arange(nh, device=x.device)[None, :, None] * self.buckets
        positions = torch.arange(length, device=x.device)
        key = ((codes + offsets) * length + positions).reshape(b, nh * length)  # unique: a stable order
        order = torch.argsort(key, dim=1)
        undo = torch.argsort(order, dim=1)
        src = order % length
        xs = torch.gather(x_e, 1, src[:, :, None].expand(-1, -1, x_e.shape[2])).reshape(b, nh, n, cs, -1)
        ys = torch.gather(y_e, 1, src[:, :, None].expand(-1, -1, c)).reshape(b, nh, n, cs, c)
        keys = F.normalize(xs, p=2, dim=-1, eps=NORM_EPS)

        def adjacent(t):  # own chunk, then the previous, then the next (circular over the chunks)
            return torch.cat([t, torch.roll(t, 1, dims=2), torch.roll(t, -1, dims=2)], dim=3)

        raw = torch.matmul(xs, adjacent(keys).transpose(3, 4))  # [B, nh, n, cs, 3 cs]
        lse = torch.logsumexp(raw, dim=-1, keepdim=True)
        ret = torch.matmul(torch.exp(raw - lse), adjacent(ys))   # [B, nh, n, cs, C]
        ret = torch.gather(ret.reshape(b, nh * length, c), 1, undo[:, :, None].expand(-1, -1, c))
        lse = torch.gather(lse.reshape(b, nh * length), 1, undo)
        probs = torch.softmax(lse.reshape(b, nh, length, 1), dim=1)
        y = (ret.reshape(b, nh, length, c) * probs).sum(dim=1)
        return y.transpose(1, 2).reshape(b, c, h, w) * self.res_scale + x, codes

    def dense_affinity(self, x_e, lsh, n):
        """(A [B, L, L] (row = query), codes [B, n_hashes, L]) from x_e [B, L, C'] and the LSH values.

        Written with ops the engine's tfjs runtime has (an ONNX export of the dense form): the codes
        as the first index of the maximum (ReduceMax / Less / ReduceMin: ArgMax's value, ties
        included), masks as 0 / 1 floats (no And / Or / Not), floor as a Cast to int32 of the
        non-negative rank / chunk_size (no Floor), logsumexp as max + log(sum(exp(s - max)))
        (no ReduceLogSumExp) and A_r = exp(s - lse_r), the authors' exp(raw - bucket_score)."""
        length, dtype = x_e.shape[1], x_e.dtype
        k = lsh.shape[3]
        index = torch.arange(k, device=x_e.device).to(dtype)
        later = (lsh < lsh.amax(dim=3, keepdim=True)).to(dtype)                 # 1 where not the max
        codes = (index + k * later).amin(dim=3).transpose(1, 2)                 # [B, n_hashes, L], float
        keys = x_e / x_e.norm(dim=2, keepdim=True).clamp_min(NORM_EPS)
        s = torch.matmul(x_e, keys.transpose(1, 2))[:, None]                   # [B, 1, L, L]
        # rank_r(p): codes below p's, plus equal codes at earlier positions (the stable order).
        cq, ck = codes[:, :, :, None], codes[:, :, None, :]                    # p on rows, p' on columns
        positions = torch.arange(length, device=x_e.device).to(dtype)
        earlier = (positions[None, :] < positions[:, None]).to(dtype)          # [p, p']: 1 where p' < p
        before = (ck < cq).to(dtype) + (ck == cq).to(dtype) * earlier
        rank = before.sum(dim=3)                                               # [B, nh, L]
        chunk = (rank / self.chunk).to(torch.int32).to(dtype)                  # floor (rank >= 0)
        d = (chunk[:, :, None, :] - chunk[:, :, :, None]).abs()               # [B, nh, q, k]
        allowed = (d < 1.5).to(dtype) + (d == n - 1).to(dtype)                 # d in {0, 1, n - 1}: 1, else 0
        masked = torch.where(allowed > 0.5, s, torch.full((), float('-inf'), dtype=dtype))  # [B, nh, L, L]
        top = masked.amax(dim=3, keepdim=True)
        lse = torch.log(torch.exp(masked - top).sum(dim=3, keepdim=True)) + top  # [B, nh, L, 1]
        a_r = torch.exp(masked - lse)
        w = torch.softmax(lse, dim=1)                                          # over the rounds
        return (a_r * w).sum(dim=1), codes.to(torch.int64)

    def dense_forward(self, x):
        """The dense form: (out, A [B, L, L], codes [B, n_hashes, L])."""
        b, c, h, w = x.shape
        n = self.check_size(h, w)
        x_e, y_e, lsh = self.embed(x)
        a, codes = self.dense_affinity(x_e, lsh, n)
        y = torch.matmul(a, y_e)                                                # [B, L, C]
        return y.transpose(1, 2).reshape(b, c, h, w) * self.res_scale + x, a, codes

    def check_forms(self, x, tol=1e-6):
        """Asserts the sorted (authors') and dense forms give the same output; returns the max diff."""
        out_s, codes_s = self.sorted_forward(x)
        out_d, _, codes_d = self.dense_forward(x)
        diff = float((out_s - out_d).abs().max())
        if not torch.equal(codes_s, codes_d):
            raise AssertionError('NLSA ArgMax codes and the dense form\'s first-maximum codes differ')
        if not diff <= tol:
            raise AssertionError(f'NLSA sorted and dense forms differ by {diff:.3g} (> {tol:g})')
        return diff

    def compute(self, x, want_taps):
        if not want_taps:
            out = self.dense_forward(x)[0] if self.dense else self.sorted_forward(x)[0]
            return out, {}
        b, _, h, w = x.shape
        out, a, codes = self.dense_forward(x)
        if not self.dense:
            out = self.sorted_forward(x)[0]
        maps = F.one_hot(codes[:, 0], self.buckets).to(x.dtype).transpose(1, 2).reshape(b, self.buckets, h, w)
        taps = {'affinity': a, 'attention': a.mean(dim=1).view(b, h, w), 'maps': maps,
                'activation': gated_activation(x, None)}
        return out, taps


def _self_check():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = NonLocalSparseAttention(16, reduction=4, hashes=4, buckets=8, chunk=32).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype) * 0.5)
        for shape in ((2, 16, 16, 16), (1, 16, 8, 12), (1, 16, 12, 8)):  # 8, 3 and 3 chunks
            x = torch.randn(shape, dtype=torch.float64)
            diff = m.check_forms(x)
            _, a, codes = m.dense_forward(x)
            assert torch.allclose(a.sum(dim=2), torch.ones((), dtype=a.dtype))
            # Stable rank = argsort of argsort of the unique key; the allowed count is 3 chunks a round.
            length = x.shape[2] * x.shape[3]
            key = codes * length + torch.arange(length)
            rank = torch.argsort(torch.argsort(key, dim=2), dim=2)
            chunk = rank // m.chunk
            n = length // m.chunk
            dd = (chunk[:, :, None, :] - chunk[:, :, :, None]) % n
            allowed = (dd == 0) | (dd == 1) | (dd == n - 1)
            assert bool((allowed.sum(dim=3) == 3 * m.chunk).all())
            assert bool(((a > 0) <= allowed.any(dim=1)).all())  # nonzeros only where some round allows
            # The authors' normalisation is F.normalize(eps=5e-5).
            print(f'{tuple(shape)}: sorted vs dense max diff {diff:.2e}')
        # Ties: a zero embedding ties every LSH value (ArgMax takes bucket 0; so does the dense form),
        # and its keys are 0 / eps = 0: every score 0, uniform attention over the 96 allowed keys.
        m.conv_match[0].weight.zero_()
        m.conv_match[0].bias.zero_()
        x = torch.randn(1, 16, 16, 16, dtype=torch.float64)
        diff = m.check_forms(x)
        _, a, codes = m.dense_forward(x)
        assert not codes.any() and torch.allclose(a.max(dim=2).values, torch.full((), 1 / 96, dtype=a.dtype))
        print(f'zero embedding (all ties): sorted vs dense max diff {diff:.2e}')
        try:
            m.sorted_forward(torch.randn(1, 16, 8, 8, dtype=torch.float64))  # 64: 2 chunks
        except ValueError as e:
            print('ValueError as expected:', e)
        else:
            raise AssertionError('2 chunks accepted')


if __name__ == '__main__':
    _self_check()
