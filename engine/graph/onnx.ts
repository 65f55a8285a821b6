// The official ONNX schema (onnx.proto, ONNX v1.10) as generated protobufjs code from the
// npm package `onnx-proto`: the engine never encodes protobuf by hand. This file is the one
// place that imports it, so the CommonJS interop lives here.

import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';

/** ONNX TensorProto.DataType values the engine reads and writes. */
export const DataType = {
  FLOAT: 1,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
} as const;

/** An int64 field as protobufjs decodes it (a number, or a Long when long.js is present) as a number. */
export function toInt(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Opset the engine emits: 17 has LayerNormalization (GC) and axes-as-input reductions' predecessors we use. */
export const OPSET = 17;
/** IR version 8 (ONNX 1.10+), the newest onnx-proto knows; ONNX Runtime reads it with opset 17. */
export const IR_VERSION = 8;
