/** A user-facing error with a stable code and a message that says what to do. */
export class EngineError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly hint?: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export type ErrorCode =
  | 'bad-image'          // cannot decode, unsupported, too many pixels
  | 'bad-checkpoint'     // not a checkpoint, truncated, corrupt
  | 'unsafe-pickle'      // pickle names a global outside the allow-list
  | 'unknown-arch'       // keys fit no known network
  | 'shape-mismatch'     // keys fit, shapes do not
  | 'no-model'           // run before loadModel
  | 'bad-request'        // malformed or invalid protocol message
  | 'not-found'          // unknown run, module, file
  | 'cancelled'          // superseded or cancelled run
  | 'backend'            // no backend or runtime could be loaded
  | 'bad-model'          // an ONNX graph that is malformed
  | 'unsupported-op'     // an operator the chosen runtime does not implement
  | 'too-large'          // a run that would need more memory than the limit
  | 'io'                 // file system errors
  | 'network'            // a download failed: host unreachable, cut off, checksum mismatch (engine/hub)
  | 'forbidden'          // a path the user did not choose, a source this host refuses
  | 'engine-restarted'   // the engine process died; the request was lost with it
  | 'disconnected'       // the connection to the engine is gone
  | 'internal';
