"""Spatial transformer, as a block inserted between ResNet stages.

Paper: Max Jaderberg, Karen Simonyan, Andrew Zisserman, Koray Kavukcuoglu, "Spatial Transformer
Networks", NeurIPS 2015, arXiv 1506.02025: a localisation network regresses the parameters
theta of a transformation T_theta from the feature map itself; a grid generator maps each
output position to a source position, (x_s, y_s) = theta (x_t, y_t, 1) for the affine T_theta
(their eq. 1, normalised coordinates in [-1, 1]); a bilinear sampler reads the input there.
Layout and key names: the PyTorch tutorial "Spatial Transformer Networks Tutorial" by Ghassen
Hamrouni (pytorch/tutorials, intermediate_source/spatial_transformer_tutorial.py):
`localization` = Sequential(Conv2d, MaxPool2d(2, stride=2), ReLU, Conv2d, MaxPool2d(2, stride=2),
ReLU), `fc_loc` = Sequential(Linear, ReLU, Linear(.., 6)) with the last Linear initialised to the
identity transform (weight 0, bias [1, 0, 0, 0, 1, 0]), theta = fc_loc(..).view(-1, 2, 3),
grid = F.affine_grid(theta, x.size()), out = F.grid_sample(x, grid). Semantics and key names
followed, no code copied.

Our variant (`stn<k>`, after a ResNet stage, C channels in and out, C' = C // 2):
  localization.0  Conv2d(C, C', 3, padding 1, bias)    localization.1  MaxPool2d(2, 2) (floor)
  localization.2  ReLU                                  localization.3  Conv2d(C', C', 3, padding 1, bias)
  localization.4  MaxPool2d(2, 2) (floor)               localization.5  ReLU
  global average pool over the remaining floor(floor(H / 2) / 2) x floor(floor(W / 2) / 2)
    positions -> [B, C'] (ours: the tutorial flattens a fixed-size map into its Linear, which
    ties the network to one input size; the mean runs on any map of at least 4 x 4)
  fc_loc.0  Linear(C', hidden) (spec `hidden`, default 32)   fc_loc.1  ReLU
  fc_loc.2  Linear(hidden, 6), initialised to the identity as the tutorial does
  theta = fc_loc(..) as [B, 2, 3] (rows: x_s, y_s; columns: x_t, y_t, 1)
Keys: localization.0.{weight [C', C, 3, 3], bias [C']}, localization.3.{weight [C', C', 3, 3],
bias [C']}, fc_loc.0.{weight [hidden, C'], bias [hidden]}, fc_loc.2.{weight [6, hidden], bias [6]}.

Grid (align_corners=False, as F.affine_grid(theta, x.size(), align_corners=False)): output
pixel (i, j) of the H x W map has normalised centre x_t = (2 j + 1) / W - 1, y_t = (2 i + 1) / H - 1;
grid[b, i, j] = theta[b] @ (x_t, y_t, 1), last dimension ordered (x, y). It is computed here
from that formula (x_t and y_t from Ranges, times theta's columns, summed with broadcasting to
[B, H, W, 2]), not by F.affine_grid: torch 1.13 cannot export aten::affine_grid_generator to
ONNX (and AffineGrid is an opset 20 op), so the export holds these elementwise ops and one
GridSample (opset 16). `check_grid` asserts the two grids agree to 1e-6.
Sampling: F.grid_sample(x, grid, mode 'bilinear', padding_mode 'zeros', align_corners=False):
grid value -1 / +1 is the outer edge of the first / last pixel, source pixel coordinate
((x + 1) W - 1) / 2; taps outside the map read 0.

Taps: `affine` [B, 2, 3] (theta), `grid` [B, H, W, 2] (the sampling grid, normalised (x, y)),
`warped` [B, H, W] (channel mean of the module's output, the sampled map), `activation`
[B, H, W] (plain channel mean of the module input). Bypass: the input passes unchanged (the
identity transform), taps computed as usual.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention, gated_activation

IDENTITY_THETA = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def affine_grid(theta, h, w):
    """theta [B, 2, 3] -> grid [B, h, w, 2]: F.affine_grid(theta, (B, C, h, w), align_corners=False)
    written out: theta @ (x_t, y_t, 1) at each output pixel centre."""
    xs = (torch.arange(w, dtype=theta.dtype, device=theta.device) * 2 + 1) / w - 1   # [W]
    ys = (torch.arange(h, dtype=theta.dtype, device=theta.device) * 2 + 1) / h - 1   # [H]
    # theta[:, :, k] [B, 2] is column k (the (x, y) weights of x_t, y_t and 1), as [B, 1, 1, 2];
    # broadcasting [1, 1, W, 1], [1, H, 1, 1] against it gives [B, H, W, 2] without an Expand.
    col = theta[:, None, None, :, :]
    return xs[None, None, :, None] * col[..., 0] + ys[None, :, None, None] * col[..., 1] + col[..., 2]


def check_grid(theta, sizes=((32, 32), (7, 5), (1, 4)), tol=1e-6):
    """Assert affine_grid equals F.affine_grid(align_corners=False) for theta at the given sizes."""
    for h, w in sizes:
        want = F.affine_grid(theta, (theta.shape[0], 1, h, w), align_corners=False)
        err = (affine_grid(theta, h, w) - want).abs().max().item()
        assert err <= tol, f'explicit grid differs from F.affine_grid by {err} at {h}x{w}'


class SpatialTransformer(Attention):
    def __init__(self, channels, hidden=32):
        super().__init__()
        mid = channels // 2
        if mid < 1 or hidden < 1:
            raise ValueError(f'SpatialTransformer needs channels >= 2 (got {channels}) and hidden >= 1 (got {hidden})')
        self.localization = nn.Sequential(
            nn.Conv2d(channels, mid, 3, padding=1, bias=True), nn.MaxPool2d(2, stride=2), nn.ReLU(),
            nn.Conv2d(mid, mid, 3, padding=1, bias=True), nn.MaxPool2d(2, stride=2), nn.ReLU())
        self.fc_loc = nn.Sequential(nn.Linear(mid, hidden), nn.ReLU(), nn.Linear(hidden, 6))
        with torch.no_grad():
            self.fc_loc[2].weight.zero_()
            self.fc_loc[2].bias.copy_(torch.tensor(IDENTITY_THETA))

    def theta(self, x):
        """The localisation network's affine transform [B, 2, 3]."""
        feats = self.localization(x).mean(dim=(2, 3))    # global average pool: [B, C']
        return self.fc_loc(feats).view(-1, 2, 3)

    def compute(self, x, want_taps):
        theta = self.theta(x)
        grid = affine_grid(theta, x.shape[2], x.shape[3])
        out = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
        taps = {}
        if want_taps:
            taps = {'affine': theta, 'grid': grid, 'warped': out.mean(dim=1),
                    'activation': gated_activation(x, None)}
        return out, taps


if __name__ == '__main__':
    # Self-check from tools/:  /usr/bin/python3 -m torchref.stn
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        check_grid(torch.randn((3, 2, 3), generator=g).to(dtype))
    m = SpatialTransformer(8).eval()
    x = torch.randn((2, 8, 9, 6), generator=g)
    y, taps = m.compute(x, True)
    assert torch.allclose(y, x, atol=1e-5), 'identity initialisation should reproduce the input'
    print('stn self-check ok:', {k: list(v.shape) for k, v in taps.items()})
