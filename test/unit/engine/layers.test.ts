// The weight conversions under every module: PyTorch NCHW conv semantics (symmetric
// padding, stride, dilation, folded BatchNorm) computed by hand, against loadConv in NHWC.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../../engine/backend';
import type { TensorRecord } from '../../../engine/checkpoints/types';
import { BN_EPS, loadConv, loadLinear, WeightReader, zeroPad } from '../../../engine/modules/layers';

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}
const rec = (shape: number[], data: Float32Array): TensorRecord => ({ shape, dtype: 'float32', data });

/** PyTorch Conv2d + BatchNorm2d (eval) on NCHW data, in float64. */
function torchConvBn(x: Float32Array, [c, h, w]: number[], wt: Float32Array, [o, , k]: number[], stride: number, pad: number, dil: number,
  bn: { g: Float32Array; b: Float32Array; m: Float32Array; v: Float32Array }): { out: number[]; oh: number; ow: number } {
  const oh = Math.floor((h! + 2 * pad - dil * (k! - 1) - 1) / stride) + 1;
  const ow = Math.floor((w! + 2 * pad - dil * (k! - 1) - 1) / stride) + 1;
  const out: number[] = [];
  for (let oc = 0; oc < o!; oc++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        let acc = 0;
        for (let ic = 0; ic < c!; ic++) {
          for (let ky = 0; ky < k!; ky++) {
            for (let kx = 0; kx < k!; kx++) {
              const iy = y * stride - pad + ky * dil;
              const ix = xx * stride - pad + kx * dil;
              if (iy < 0 || ix < 0 || iy >= h! || ix >= w!) continue;
              acc += x[(ic * h! + iy) * w! + ix]! * wt[((oc * c! + ic) * k! + ky) * k! + kx]!;
            }
          }
        }
        out.push((acc - bn.m[oc]!) / Math.sqrt(bn.v[oc]! + BN_EPS) * bn.g[oc]! + bn.b[oc]!);
      }
    }
  }
  return { out, oh, ow };
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('loadConv', () => {
  test.each([
    [3, 2, 1, 1], [3, 1, 1, 1], [7, 2, 3, 1], [3, 1, 4, 4], [1, 2, 0, 1],
  ])('k=%i stride=%i pad=%i dilation=%i matches PyTorch conv+BN', (k, stride, pad, dil) => {
    const [c, h, w, o] = [3, 11, 9, 4];
    const x = rand(c * h * w, 1);
    const wt = rand(o * c * k * k, 2);
    const bn = { g: rand(o, 3).map((v) => v + 1), b: rand(o, 4), m: rand(o, 5), v: rand(o, 6).map((v) => v + 1) };
    const dict = new Map<string, TensorRecord>([
      ['conv.weight', rec([o, c, k, k], wt)],
      ['bn.weight', rec([o], bn.g)], ['bn.bias', rec([o], bn.b)], ['bn.running_mean', rec([o], bn.m)], ['bn.running_var', rec([o], bn.v)],
    ]);
    const conv = loadConv(new WeightReader(dict), 'conv', { stride, pad, dilation: dil, bn: 'bn' });
    const ref = torchConvBn(x, [c, h, w], wt, [o, c, k], stride, pad, dil, bn);
    // NCHW -> NHWC input.
    const nhwc = new Float32Array(x.length);
    for (let ic = 0; ic < c; ic++) for (let i = 0; i < h * w; i++) nhwc[i * c + ic] = x[ic * h * w + i]!;
    const input = tf.tensor4d(nhwc, [1, h, w, c]);
    for (const explicit of [false, true]) {
      const y = tf.tidy(() => (explicit && pad > 0
        ? tf.add(tf.conv2d(zeroPad(input, pad), conv.filter, stride, 'valid', 'NHWC', dil), conv.bias!)
        : conv.apply(input)));
      expect(y.shape).toEqual([1, ref.oh, ref.ow, o]);
      const got = y.dataSync();
      let worst = 0;
      for (let oc = 0; oc < o; oc++) for (let i = 0; i < ref.oh * ref.ow; i++) worst = Math.max(worst, Math.abs(got[i * o + oc]! - ref.out[oc * ref.oh * ref.ow + i]!));
      expect(worst).toBeLessThan(1e-5);
      y.dispose();
    }
    input.dispose();
    conv.dispose();
  });

  test('a checkpoint shape that does not fit names the key', () => {
    const dict = new Map([['conv.weight', rec([4, 3, 3, 3], new Float32Array(108))]]);
    expect(() => loadConv(new WeightReader(dict), 'conv', { shape: [8, 3, 3, 3] })).toThrow(/"conv.weight" has shape \[4, 3, 3, 3\], expected \[8, 3, 3, 3\]/);
    expect(() => loadConv(new WeightReader(dict), 'other')).toThrow(/no "other.weight"/);
  });
});

describe('loadLinear', () => {
  test('[out, in] weights and 1x1 conv weights act as PyTorch Linear', () => {
    const w = rand(6, 7);
    const b = rand(2, 8);
    const x = rand(3, 9);
    for (const [shape, pointwise] of [[[2, 3], false], [[2, 3, 1, 1], true]] as const) {
      const lin = loadLinear(new WeightReader(new Map([['fc.weight', rec([...shape], w)], ['fc.bias', rec([2], b)]])), 'fc', { bias: true, pointwise });
      const y = tf.tidy(() => lin.apply(tf.tensor2d(x, [1, 3])).dataSync());
      for (let o = 0; o < 2; o++) expect(y[o]).toBeCloseTo(w[o * 3]! * x[0]! + w[o * 3 + 1]! * x[1]! + w[o * 3 + 2]! * x[2]! + b[o]!, 6);
      lin.dispose();
    }
  });
});
