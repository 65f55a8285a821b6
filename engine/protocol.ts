// Every message between the engine and its clients (DESIGN.md "Processes").
// A discriminated union on `type`. Requests carry a client-chosen `id`; every reply and
// stream event carries the `id` of the request it answers. Bulk arrays travel as
// Float32Array / ArrayBuffer so that hosts can transfer them instead of copying.
//
// This file must stay free of Node and DOM APIs: main/ and renderer/ import its types.

import type { ErrorCode } from './errors';
import type { ImageTransform, ModelInfo, Prediction, RunOptions, RunTimings, TapName } from './types';

export type { ErrorCode } from './errors';
export type { ImageTransform, ModelInfo, ModuleInfo, Prediction, RunOptions, RunTimings, TapName, ResizeMode } from './types';

export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------- client -> engine

/** Where a model comes from. `path` is only ever a path the user chose (dialog or drop). */
export type ModelSource =
  | { kind: 'builtin'; name: string }
  | { kind: 'bytes'; name: string; bytes: ArrayBuffer }
  | { kind: 'path'; path: string };

export type ImageSource =
  | { kind: 'bytes'; name: string; bytes: ArrayBuffer }
  | { kind: 'path'; path: string };

export interface HelloRequest { type: 'hello'; id: number }
export interface LoadModelRequest { type: 'loadModel'; id: number; source: ModelSource }
export interface RunRequest { type: 'run'; id: number; image: ImageSource; options: RunOptions }
/** A point in original image coordinates (pixels, after EXIF orientation). */
export interface QueryRequest { type: 'query'; id: number; runId: string; module: string; point: { x: number; y: number } }
export interface CancelRequest { type: 'cancel'; id: number; target: number }

export type ClientMessage = HelloRequest | LoadModelRequest | RunRequest | QueryRequest | CancelRequest;

// ---------------------------------------------------------------- engine -> client

export interface HelloReply {
  type: 'hello';
  id: number;
  protocol: number;
  version: string;
  backend: string;
  /** What this engine can do: checkpoint formats, module kinds, built-in model names. */
  capabilities: { formats: string[]; modules: string[]; builtinModels: string[]; imageFormats: string[] };
}
export interface LoadProgressEvent { type: 'loadProgress'; id: number; bytesRead: number; totalBytes: number }
export interface ModelInfoReply { type: 'modelInfo'; id: number; info: ModelInfo }
export interface RunStartedEvent {
  type: 'runStarted';
  id: number;
  runId: string;
  image: { name: string; width: number; height: number };
  transform: ImageTransform;
}
/** One tap, sent as soon as the engine has it, in forward order. */
export interface TapEvent {
  type: 'tap';
  id: number;
  runId: string;
  module: string;
  tap: TapName;
  shape: number[];
  data: Float32Array;
  /** Position in this run's tap sequence, 0-based, and how many taps the run will send. */
  index: number;
  total: number;
}
export interface PredictionEvent { type: 'prediction'; id: number; runId: string; logits: Float32Array; top: Prediction[] }
export interface RunDoneEvent { type: 'runDone'; id: number; runId: string; timings: RunTimings; backend: string }
export interface QueryReply {
  type: 'queryResult';
  id: number;
  runId: string;
  module: string;
  point: { x: number; y: number };
  /** The query point in the module's map grid (row, col). */
  cell: { row: number; col: number };
  /** The attention row of that query as [H', W'] over key positions. */
  shape: number[];
  data: Float32Array;
}
export interface CancelledEvent { type: 'cancelled'; id: number }
export interface ErrorReply {
  type: 'error';
  /** The request this answers; null when the message had no usable id. */
  id: number | null;
  code: ErrorCode;
  message: string;
  /** What the user can do about it. */
  hint?: string;
}

export type EngineMessage =
  | HelloReply
  | LoadProgressEvent
  | ModelInfoReply
  | RunStartedEvent
  | TapEvent
  | PredictionEvent
  | RunDoneEvent
  | QueryReply
  | CancelledEvent
  | ErrorReply;

export type ClientMessageType = ClientMessage['type'];
export type EngineMessageType = EngineMessage['type'];
