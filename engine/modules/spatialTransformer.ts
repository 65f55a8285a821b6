// Spatial transformer (STN): a small localisation network predicts an affine transform, and
// the map is resampled on the grid it maps the output positions to.
// Paper: Jaderberg, Simonyan, Zisserman, Kavukcuoglu, "Spatial Transformer Networks", NeurIPS
//   2015, https://arxiv.org/abs/1506.02025
// Reference code (layout and key names followed): the PyTorch tutorial "Spatial Transformer
//   Networks Tutorial" (pytorch/tutorials, intermediate_source/spatial_transformer_tutorial.py):
//   `localization` = conv, max-pool 2, ReLU, conv, max-pool 2, ReLU; `fc_loc` = Linear, ReLU,
//   Linear(.., 6); theta = fc_loc(..).view(-1, 2, 3); F.affine_grid + F.grid_sample.
//   As tools/torchref/stn.py inserts it between ResNet stages: localization.0 / .3 are 3x3
//   convs (C -> C/2 -> C/2, padding 1, bias), a global average pool replaces the tutorial's
//   flatten of a fixed-size map (so any input size runs), fc_loc.0 (C/2 -> hidden), fc_loc.2
//   (hidden -> 6); bilinear sampling, zero padding, align_corners = False.
// The grid is theta applied to each output pixel's centre in normalised coordinates,
// x_n = (2 j + 1) / W - 1, y_n = (2 i + 1) / H - 1, built in the graph from the map's own size
// (affine_grid's formula; ONNX's AffineGrid needs opset 20), then ONNX GridSample (opset 16).
// Taps: affine = theta [N, 2, 3]; grid = the sampling grid [N, H, W, 2] ((x, y) in [-1, 1] of the
//   map, which spans the image: the renderer draws it over the photo and warps the photo with
//   it); warped = the channel mean of the resampled map [N, H, W]; activation = the channel
//   mean of the input.

import type { ModuleGraph } from './base';
import { channelMean, conv, type Emit, globalAvg, linear } from './layers';
import { mapSize, rangeTo } from './positions';

export interface SpatialTransformerConfig {
  channels: number;
}

export function emitSpatialTransformer(e: Emit, x: string, cfg: SpatialTransformerConfig): ModuleGraph {
  const c = cfg.channels;
  const g = e.g;
  const s = e.scope;
  const pool = (t: string): string => g.node('MaxPool', [t], `${s}/localization/MaxPool`, { kernel_shape: [2, 2], strides: [2, 2] });
  const l0 = conv(e, 'localization.0', x, { pad: 1, bias: true, shape: [-1, c, 3, 3] });
  const l3 = conv(e, 'localization.3', g.node('Relu', [pool(l0.y)], `${s}/localization/Relu`), { pad: 1, bias: true, shape: [-1, l0.out, 3, 3] });
  const features = globalAvg(e, g.node('Relu', [pool(l3.y)], `${s}/localization/Relu`));
  const hidden = linear(e, 'fc_loc.0', features, { bias: true, shape: [-1, l3.out], relu: true });
  const theta = g.node('Reshape', [linear(e, 'fc_loc.2', hidden.y, { bias: true, shape: [6, hidden.out] }).y, g.ints([-1, 2, 3])], `${s}/Reshape`);

  // Output pixel centres [1, H W, 3] = (x_n, y_n, 1), row-major; grid = base theta^T [N, H W, 2].
  const grid: Emit = { ...e, scope: `${s}/grid` };
  const { h, w } = mapSize(grid, x);
  const centres = (n: string): string => {
    const size = g.node('Cast', [n], `${s}/grid/Cast`, { to: 1 });
    const index = g.node('Cast', [rangeTo(grid, n)], `${s}/grid/Cast`, { to: 1 });
    return g.node('Sub', [g.node('Div', [g.node('Add', [g.node('Mul', [index, g.scalar(2)], `${s}/grid/Mul`), g.scalar(1)], `${s}/grid/Add`), size], `${s}/grid/Div`), g.scalar(1)], `${s}/grid/Sub`);
  };
  const size = g.node('Concat', [h, w, g.ints([1])], `${s}/grid/Concat`, { axis: 0 });
  const spread = (v: string, axis: number): string => g.node('Expand', [g.node('Unsqueeze', [v, g.ints(axis === 0 ? [1, 2] : [0, 2])], `${s}/grid/Unsqueeze`), size], `${s}/grid/Expand`);
  const ones = g.node('Expand', [g.floats(`${s}/grid/one`, Float32Array.of(1), [1, 1, 1]), size], `${s}/grid/Expand`);
  const base = g.node('Reshape', [g.node('Concat', [spread(centres(w), 1), spread(centres(h), 0), ones], `${s}/grid/Concat`, { axis: 2 }), g.ints([1, -1, 3])], `${s}/grid/Reshape`);
  const points = g.node('MatMul', [base, g.node('Transpose', [theta], `${s}/grid/Transpose`, { perm: [0, 2, 1] })], `${s}/grid/MatMul`); // [N, HW, 2]
  const gridShape = g.node('Concat', [g.ints([-1]), h, w, g.ints([2])], `${s}/grid/Concat`, { axis: 0 });
  const sampling = g.node('Reshape', [points, gridShape], `${s}/grid/Reshape`);
  const out = g.node('GridSample', [x, sampling], `${s}/GridSample`, { mode: 'bilinear', padding_mode: 'zeros', align_corners: 0 });
  return {
    out,
    taps: [
      { tap: 'affine', value: theta },
      { tap: 'grid', value: sampling },
      { tap: 'warped', value: channelMean({ ...e, scope: `${s}/warped` }, out) },
      { tap: 'activation', value: channelMean(e, x) },
    ],
  };
}
