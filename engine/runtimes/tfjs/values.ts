// Values inside the TensorFlow.js graph interpreter.
//
// ONNX graphs are NCHW; TensorFlow.js convolutions and pools are NHWC on every backend
// that matters here (wasm, cpu, tensorflow). So a 4-D value may be held "nhwc": the
// tensor's data is the NHWC transpose of the ONNX value (whose shape stays [N, C, H, W]).
// Convolutions, pools, elementwise ops and channel reductions keep values NHWC; any op
// that needs ONNX's own layout asks for `canonical()` and pays one transpose, which is
// free (a reshape) when C == 1 or H == W == 1 (gates and pooled vectors).
//
// Shape arithmetic (Shape, Gather, Cast, Concat of shapes...) runs on the host as plain
// numbers ("host" values), so Reshape never reads a tensor back.

import * as tf from '@tensorflow/tfjs-core';

export type HostType = 'int' | 'float' | 'bool';

export interface HostValue {
  kind: 'host';
  data: number[];
  dims: number[];
  type: HostType;
}

export interface TensorValue {
  kind: 'tensor';
  t: tf.Tensor;
  /** The tensor is the NHWC transpose of a rank-4 ONNX value. */
  nhwc: boolean;
}

export type Value = HostValue | TensorValue;

export const host = (data: number[], dims: number[], type: HostType): HostValue => ({ kind: 'host', data, dims, type });
export const tensor = (t: tf.Tensor, nhwc = false): TensorValue => ({ kind: 'tensor', t, nhwc });

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

/** The value's ONNX shape. */
export function shapeOf(v: Value): number[] {
  if (v.kind === 'host') return v.dims;
  const s = v.t.shape;
  return v.nhwc ? [s[0], s[3], s[1], s[2]] as number[] : [...s];
}

function tfDtype(type: HostType): 'int32' | 'float32' | 'bool' {
  return type === 'int' ? 'int32' : type === 'bool' ? 'bool' : 'float32';
}

/** The value as a tensor in ONNX layout (a new tensor the op's tidy scope owns, or the held one). */
export function canonical(v: Value): tf.Tensor {
  if (v.kind === 'host') return tf.tensor(v.data, v.dims, tfDtype(v.type));
  if (!v.nhwc) return v.t;
  const [n, h, w, c] = v.t.shape as [number, number, number, number];
  if (c === 1 || (h === 1 && w === 1)) return tf.reshape(v.t, [n, c, h, w]);
  return tf.transpose(v.t, TO_NCHW);
}

/** A rank-4 value as an NHWC tensor. */
export function asNhwc(v: Value): tf.Tensor4D {
  if (v.kind === 'tensor' && v.nhwc) return v.t as tf.Tensor4D;
  const t = canonical(v);
  if (t.rank !== 4) throw new Error(`expected a 4-D tensor, got shape [${t.shape.join(', ')}]`);
  const [n, c, h, w] = t.shape as [number, number, number, number];
  if (c === 1 || (h === 1 && w === 1)) return tf.reshape(t, [n, h, w, c]);
  return tf.transpose(t, TO_NHWC) as tf.Tensor4D;
}

/**
 * Any value broadcast against a rank-4 NHWC tensor: ONNX aligns shapes on the right, so
 * a rank < 4 value is first given leading 1s, then moved to NHWC like the others.
 */
export function broadcastNhwc(v: Value): tf.Tensor {
  if (v.kind === 'tensor' && v.nhwc) return v.t;
  const t = canonical(v);
  if (t.size === 1) return tf.reshape(t, []);
  const dims = [...t.shape];
  while (dims.length < 4) dims.unshift(1);
  if (dims.length > 4) throw new Error(`cannot broadcast shape [${t.shape.join(', ')}] against a 4-D feature map`);
  return asNhwc(tensor(tf.reshape(t, dims)));
}

/** Host numbers of a value (ints for shapes, axes, indices); reads a tensor back if it has to. */
export function hostData(v: Value): number[] {
  if (v.kind === 'host') return v.data;
  return Array.from(canonical(v).dataSync() as ArrayLike<number>);
}

/** Disposes the tensor(s) of a value. */
export function disposeValue(v: Value | undefined): void {
  if (v?.kind === 'tensor') v.t.dispose();
}
