// The one typed client the UI uses to talk to the engine (DESIGN.md "Processes"). The UI
// cannot tell whether it sits on Electron's MessagePort or on web mode's WebSocket.
//
// Runs: a newer run() supersedes the older one: the older promise rejects with a
// ClientError whose code is 'cancelled', and none of its late events reach its handlers.
//
// Crash recovery: when the engine process dies, onStatus reports 'restarting'; once a new
// engine is up the client re-sends the last model load (same source, same runtime) and
// then the last run (finished or not) with the same handlers, then reports 'ready' with
// a message saying what happened. So after a restart a run's handlers may be called again, starting with
// onStarted carrying a NEW runId: treat onStarted as "reset this image's maps". A run
// promise still pending across the restart resolves with the re-sent run's runDone.
// Other requests in flight when the engine died reject with code 'engine-restarted'.
// While 'restarting', loadModel() and run() wait and go to the new engine; other requests
// reject with 'engine-restarted'. In web mode a dropped socket is handled the same way:
// the client reconnects (0.5 to 8 s back-off) and reports 'ready' with "Reconnected...",
// or 'disconnected' when it gives up. In Electron a page reload gets a fresh engine
// connection (no model loaded).
//
// Paths: in Electron, { kind: 'path' } sources work only for paths from the bridge's
// dialogs / recent list; in web mode hello().capabilities.sources has no 'path', send bytes.
// hello().model is set when the host preloaded a model (`attnscope serve --model`).

import type {
  EngineMessage, ErrorCode, HelloReply, ImageSource, ModelInfo, ModelSource, PredictionEvent,
  DeviceChoice, QueryReply, RunDoneEvent, RunOptions, RunProgressEvent, RunStartedEvent, RuntimeInfo, RuntimeName, TapEvent,
} from '../../engine/protocol';

export type {
  EngineMessage, ErrorCode, HelloReply, ImageSource, ModelInfo, ModelSource, PredictionEvent,
  QueryReply, RunDoneEvent, RunOptions, RunProgressEvent, RunStartedEvent, RuntimeInfo, RuntimeName, TapEvent,
} from '../../engine/protocol';

export type ConnectionState = 'connecting' | 'ready' | 'restarting' | 'disconnected';

export interface EngineStatus {
  state: ConnectionState;
  /** What happened, for the status bar ("Engine restarted after a crash; model reloaded"). */
  message?: string;
  /** The engine's backend once known (hello), e.g. "ort cpu". */
  backend?: string;
  /** The engine's runtime once known (hello): the loaded model's, else the engine's default. */
  runtime?: RuntimeInfo;
}

export interface LoadOptions {
  /** The runtime to run the model on (hello's capabilities.runtimes); omitted: the engine's default. */
  runtime?: RuntimeName;
  /** ort: cpu, gpu or auto; omitted: the engine's default. */
  device?: DeviceChoice;
  /** An architecture name instead of what the engine detects from the keys. */
  arch?: string;
  /** An .onnx model with a dynamic input: the size to open it at (what its attention is found at). */
  inputSize?: number;
}

export interface RunHandlers {
  onStarted?(e: RunStartedEvent): void;
  /** Tiled runs: after each tile. */
  onProgress?(e: RunProgressEvent): void;
  onTap?(e: TapEvent): void;
  onPrediction?(e: PredictionEvent): void;
}

/** A request type the client does not know (export ...): `type` plus its fields; the client adds `id`. */
export interface ExtraRequest {
  type: string;
  [field: string]: unknown;
}

export interface RequestOptions {
  /** Stream events for this request (progress ...), in order. */
  onEvent?(e: EngineMessage): void;
  /** ArrayBuffers in the request to transfer instead of copy. */
  transfer?: ArrayBuffer[];
  /**
   * Cancels the request when aborted: the engine is sent a `cancel` for it, and the promise
   * rejects at once with code 'cancelled' (a hub download stops; the next pull resumes it).
   */
  signal?: AbortSignal;
}

export interface EngineClient {
  /** How the client is connected: Electron MessagePort or web-mode WebSocket. */
  readonly transport: 'electron' | 'websocket';
  hello(): Promise<HelloReply>;
  /** After an engine restart the model is loaded again from the same source on the same runtime. */
  loadModel(source: ModelSource, onProgress?: (read: number, total: number) => void, options?: LoadOptions): Promise<ModelInfo>;
  run(image: ImageSource, options: RunOptions, handlers?: RunHandlers): Promise<RunDoneEvent>;
  query(runId: string, module: string, point: { x: number; y: number }): Promise<QueryReply>;
  /** Cancels the run in flight, if any (its promise rejects with code 'cancelled'). */
  cancelRun(): void;
  /** Called at once with the current status, then on every change. Returns an unsubscribe function. */
  onStatus(listener: (s: EngineStatus) => void): () => void;
  /**
   * Sends any request and resolves with its final message (the first message for its id
   * that is not a stream event: not `runStarted`/`tap`/`prediction`/`*Progress`), or
   * rejects with a ClientError when that message is an `error`.
   */
  request<T extends { type: string } = EngineMessage>(msg: ExtraRequest, options?: RequestOptions): Promise<T>;
  close(): void;
}

/** Every rejection from the client: the engine's ErrorReply, or the connection's own. */
export class ClientError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly hint?: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

export function isClientError(e: unknown): e is ClientError {
  return e instanceof ClientError;
}
