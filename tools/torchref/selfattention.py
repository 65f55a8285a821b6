"""Self-attention blocks inserted between ResNet stages: SAGAN's self-attention, DANet's
position attention (PAM) and channel attention (CAM).

Self-attention: Zhang, Goodfellow, Metaxas, Odena, "Self-Attention Generative Adversarial
Networks", ICML 2019 (arXiv 1805.08318), layout and key names of the common PyTorch
implementation heykeetae/Self-Attention-GAN (sagan_models.py, `Self_Attn`; the authors' own
TensorFlow code, brain-research/self-attention-gan, also max-pools keys and values and
projects values to C / 2, which this layout does not).
Position and channel attention: Fu, Liu, Tian, Li, Bao, Fang, Lu, "Dual Attention Network
for Scene Segmentation", CVPR 2019 (arXiv 1809.02983), layout and key names of the authors'
code junfu1115/DANet (`PAM_Module`, `CAM_Module`).
Written from the papers and those codes' semantics and key names; no code copied.

SAGAN's Self_Attn and DANet's PAM_Module compute the same thing with the same parameters:
1x1 query and key convs to C // 8 channels (with bias), a 1x1 value conv C -> C, a scalar
gamma; energy[b, i, j] = q_i . k_j over positions (row-major, H then W), softmax over the
keys j, out[:, :, i] = sum_j v[:, :, j] * attention[i, j], y = gamma * out + x. One class,
two inserted kinds ('selfattn', 'pam').

CAM has no convs: X = x as [B, C, HW], energy = X X^T [B, C, C], attention =
softmax(max_j energy[i, j] - energy[i, j]) over j, y = gamma * (attention X) + x.
"""
import torch
import torch.nn as nn

from .attention import Attention, gated_activation


class SelfAttention(Attention):
    """SAGAN Self_Attn / DANet PAM_Module. Keys: query_conv, key_conv, value_conv (.weight,
    .bias), gamma [1]."""

    def __init__(self, channels, reduction=8):
        super().__init__()
        inner = max(channels // reduction, 1)
        self.query_conv = nn.Conv2d(channels, inner, 1)
        self.key_conv = nn.Conv2d(channels, inner, 1)
        self.value_conv = nn.Conv2d(channels, channels, 1)
        # Both papers start gamma at 0 (the block begins as an identity); fixtures randomise it.
        self.gamma = nn.Parameter(torch.zeros(1))

    def affinity(self, x):
        """softmax_j(q_i . k_j): [B, N_query, N_key], N = H * W."""
        b, _, h, w = x.shape
        q = self.query_conv(x).view(b, -1, h * w).permute(0, 2, 1)   # [B, N, C']
        k = self.key_conv(x).view(b, -1, h * w)                      # [B, C', N]
        return torch.softmax(torch.bmm(q, k), dim=-1)

    def compute(self, x, want_taps):
        b, c, h, w = x.shape
        att = self.affinity(x)
        v = self.value_conv(x).view(b, c, h * w)
        out = torch.bmm(v, att.permute(0, 2, 1)).view(b, c, h, w)
        y = self.gamma * out + x
        taps = {}
        if want_taps:
            taps = {'attention': att.mean(dim=1).view(b, h, w), 'activation': gated_activation(x, None),
                    'affinity': att}
        return y, taps


class ChannelSelfAttention(Attention):
    """DANet CAM_Module. Keys: gamma [1]."""

    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def affinity(self, x):
        """softmax over j of (max_j' E[i, j'] - E[i, j]), E = X X^T: [B, C, C]."""
        b, c = x.shape[:2]
        flat = x.reshape(b, c, -1)
        energy = torch.bmm(flat, flat.permute(0, 2, 1))
        energy_new = energy.max(dim=-1, keepdim=True)[0].expand_as(energy) - energy
        return torch.softmax(energy_new, dim=-1)

    def compute(self, x, want_taps):
        b, c, h, w = x.shape
        att = self.affinity(x)
        out = torch.bmm(att, x.reshape(b, c, h * w)).view(b, c, h, w)
        y = self.gamma * out + x
        taps = {}
        if want_taps:
            # channel: the attention each channel receives, averaged over the channels reading it.
            taps = {'channel': att.mean(dim=1), 'matrix': att, 'activation': gated_activation(x, None)}
        return y, taps
