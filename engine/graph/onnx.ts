// The official ONNX schema (onnx.proto, ONNX v1.10) as generated protobufjs code from the
// npm package `onnx-proto`: the engine never encodes protobuf by hand. This file is the one
// place that imports it, so the CommonJS interop lives here.

import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

/** ONNX TensorProto.DataType values the engine reads and writes. */
export const DataType = {
  FLOAT: 1,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;

/** An int64 field as protobufjs decodes it (a number, or a Long when long.js is present) as a number. */
export function toInt(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * A TensorProto's values as numbers, from raw_data or the typed fields, for the data types
 * the engine reads (float, double, int64, int32, bool as 0/1); null for any other.
 */
export function tensorNumbers(t: OnnxTypes.ITensorProto): Float32Array | Float64Array | Int32Array | number[] | null {
  const raw = t.rawData && t.rawData.length ? t.rawData.slice().buffer : null; // aligned copy
  switch (t.dataType) {
    case DataType.FLOAT: return raw ? new Float32Array(raw) : Float32Array.from(t.floatData ?? []);
    case DataType.DOUBLE: return raw ? new Float64Array(raw) : Float64Array.from(t.doubleData ?? []);
    case DataType.INT64: return raw ? Array.from(new BigInt64Array(raw), Number) : (t.int64Data ?? []).map(toInt);
    case DataType.INT32: return raw ? new Int32Array(raw) : Int32Array.from(t.int32Data ?? []);
    case DataType.BOOL: return Array.from(raw ? new Uint8Array(raw) : t.int32Data ?? [], (v) => (v ? 1 : 0));
    default: return null;
  }
}

/** Opset the engine emits: 17 has LayerNormalization (GC) and axes-as-input reductions' predecessors we use. */
export const OPSET = 17;
/** IR version 8 (ONNX 1.10+), the newest onnx-proto knows; ONNX Runtime reads it with opset 17. */
export const IR_VERSION = 8;
