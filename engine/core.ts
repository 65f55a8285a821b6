// The transport-independent engine: one Port in, protocol messages served (DESIGN.md
// "Processes"). Hosts (engine/host/*) only adapt a transport to Port.
//
// - Work that touches the model (load, run, query, export ...) is serialised: one forward
//   at a time, in arrival order.
// - A new `run` supersedes the run in flight and any queued one: their AbortSignal fires
//   (the session stops at its next module and frees its tensors), `cancelled` goes out at
//   once for their ids, and anything they would still send is dropped here.
// - Every failure becomes an ErrorReply (code, message, hint); a malformed message gets
//   'bad-request' and the engine keeps serving.
//
// Extra request types (export ...) register with `core.handle(...)`; see engine/handlers.ts.

import { EngineError } from './errors';
import {
  type ClientMessage, type EngineMessage, type ErrorReply, type HelloReply, type LoadModelRequest, type ModelSource, parseClientMessage,
} from './protocol';
import type { Session } from './session';
import type { RuntimeInfo } from './types';

/** What a host hands the core: one duplex message channel. */
export interface Port {
  /** Sends one message; `transfer` lists ArrayBuffers to move instead of copy. */
  postMessage(msg: EngineMessage | OutgoingMessage, transfer: ArrayBuffer[]): void;
  /** Registers the one listener for incoming messages (already structured-cloned / decoded). */
  onMessage(listener: (msg: unknown) => void): void;
}

/** A message from an extra handler (export ...): any `type`, with the request's id. */
export interface OutgoingMessage { type: string; id: number | null; [field: string]: unknown }

/** Which files the engine may touch. Hosts decide: the Electron host allows what main says the user chose. */
export interface PathPolicy {
  canRead(path: string): boolean;
  canWrite(path: string): boolean;
}

export const ALLOW_ALL_PATHS: PathPolicy = { canRead: () => true, canWrite: () => true };
export const NO_PATHS: PathPolicy = { canRead: () => false, canWrite: () => false };

/** A loaded model (engine/session.ts). */
export type SessionLike = Session;

export interface SessionProvider {
  /** Loads a model; reports bytes read; honours the signal between steps. */
  open(request: LoadModelRequest, onProgress: (read: number, total: number) => void, signal: AbortSignal): Promise<SessionLike>;
  /** The default runtime: what it runs on, with how many threads (loads it on first call). */
  runtime(): Promise<RuntimeInfo>;
  /** The `capabilities` of the hello reply, less what the host decides (`sources`). */
  capabilities(): Promise<Omit<HelloReply['capabilities'], 'sources'>>;
  version: string;
}

export interface CoreOptions {
  provider: SessionProvider;
  /** Source kinds this host accepts; web mode leaves out 'path'. */
  sources?: Array<'builtin' | 'bytes' | 'path'>;
  paths?: PathPolicy;
}

/** Handed to a request handler. */
export interface RequestContext<M> {
  msg: M;
  /** Fires when the request is cancelled or superseded; send() is a no-op afterwards. */
  signal: AbortSignal;
  send(msg: EngineMessage | OutgoingMessage, transfer?: ArrayBuffer[]): void;
  /** The loaded model, or EngineError('no-model'). */
  session(): SessionLike;
  paths: PathPolicy;
  core: EngineCore;
}

export interface HandlerSpec<M = ClientMessage> {
  /** Runs in the serial queue (anything that touches the model). */
  serial: boolean;
  /** Request types whose queued or running requests this one cancels (run supersedes run). */
  supersedes?: string[];
  /** Returns the final message (or sends it itself and returns undefined). */
  handle(ctx: RequestContext<M>): Promise<EngineMessage | OutgoingMessage | void>;
}

interface Job { id: number; type: string; abort: AbortController; finished: boolean }

export const now = (): number => performance.timeOrigin + performance.now();

export class EngineCore {
  private readonly handlers = new Map<string, HandlerSpec<never>>();
  private readonly jobs = new Map<number, Job>();
  private queue: Promise<void> = Promise.resolve();
  private current: SessionLike | null = null;
  readonly sources: Array<'builtin' | 'bytes' | 'path'>;
  readonly paths: PathPolicy;

  constructor(private readonly port: Port, readonly options: CoreOptions) {
    this.sources = options.sources ?? ['builtin', 'bytes', 'path'];
    this.paths = options.paths ?? ALLOW_ALL_PATHS;
    port.onMessage((raw) => this.receive(raw));
  }

  get provider(): SessionProvider { return this.options.provider; }

  handle<M>(type: string, spec: HandlerSpec<M>): void {
    this.handlers.set(type, spec as HandlerSpec<never>);
  }

  /** The loaded model, if any. */
  get session(): SessionLike | null { return this.current; }

  /** Replaces the loaded model (the old one is disposed). */
  setSession(next: SessionLike | null): void {
    if (this.current && this.current !== next) this.current.dispose();
    this.current = next;
  }

  /** Set by preload(): hello waits for it, so a client sees the preloaded model. */
  startup: Promise<void> = Promise.resolve();

  /**
   * Loads a model the host chose (serve --model / --weights) before serving requests;
   * hello then reports it. The host's choice, so the path policy does not apply.
   */
  preload(source: ModelSource): void {
    const job = this.queue.then(async () => {
      try {
        this.setSession(await this.provider.open({ type: 'loadModel', id: 0, source }, () => {}, new AbortController().signal));
      } catch (err) {
        console.error(`engine: could not preload the model: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    this.queue = job;
    this.startup = job;
  }

  /** Frees the model and aborts everything in flight. */
  dispose(): void {
    for (const job of this.jobs.values()) job.abort.abort();
    this.setSession(null);
  }

  private post(msg: EngineMessage | OutgoingMessage, transfer: ArrayBuffer[] = []): void {
    try {
      this.port.postMessage(msg, transfer);
    } catch (err) {
      // A closed port (client gone) must not take the engine down.
      console.error(`engine: could not send ${msg.type}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private receive(raw: unknown): void {
    const parsed = parseClientMessage(raw);
    if (parsed.type === 'error') { this.post(parsed); return; }
    if (parsed.type === 'cancel') { this.cancel(parsed.target); return; }
    const spec = this.handlers.get(parsed.type);
    if (!spec) {
      this.post(errorReply(parsed.id, new EngineError('bad-request', `This engine does not handle "${parsed.type}" requests.`,
        'Update the app: its page and its engine come from different versions.')));
      return;
    }
    if (this.jobs.has(parsed.id)) {
      this.post(errorReply(parsed.id, new EngineError('bad-request', `Request id ${parsed.id} is already in use.`)));
      return;
    }
    for (const type of spec.supersedes ?? []) {
      for (const job of this.jobs.values()) if (job.type === type) this.cancel(job.id);
    }
    const job: Job = { id: parsed.id, type: parsed.type, abort: new AbortController(), finished: false };
    this.jobs.set(job.id, job);
    const run = () => this.execute(job, spec, parsed);
    if (spec.serial) this.queue = this.queue.then(run);
    else void run();
  }

  /** Cancels a queued or running request: `cancelled` goes out now, the rest of it is dropped. */
  cancel(id: number): void {
    const job = this.jobs.get(id);
    if (!job || job.finished) return;
    job.finished = true;
    job.abort.abort(new EngineError('cancelled', 'Superseded by a newer request.'));
    this.jobs.delete(id);
    this.post({ type: 'cancelled', id });
  }

  private async execute(job: Job, spec: HandlerSpec<never>, msg: ClientMessage): Promise<void> {
    if (job.finished) return;
    const ctx: RequestContext<ClientMessage> = {
      msg,
      signal: job.abort.signal,
      send: (m, transfer) => { if (!job.finished) this.post(m, transfer); },
      session: () => {
        if (!this.current) throw new EngineError('no-model', 'No model is loaded.', 'Open a model first (File > Open Model, or a built-in one).');
        return this.current;
      },
      paths: this.paths,
      core: this,
    };
    let final: EngineMessage | OutgoingMessage | void;
    try {
      final = await (spec as HandlerSpec<ClientMessage>).handle(ctx);
    } catch (err) {
      final = job.abort.signal.aborted ? undefined : errorReply(job.id, err);
    }
    if (!job.finished) {
      job.finished = true;
      this.jobs.delete(job.id);
      if (final) this.post(final, final.type === 'error' ? [] : transferablesOf(final));
    }
  }
}

/** Any thrown value as an ErrorReply a user can act on. */
export function errorReply(id: number | null, err: unknown): ErrorReply {
  if (err instanceof EngineError) return { type: 'error', id, code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  if (err instanceof Error && err.name === 'AbortError') return { type: 'error', id, code: 'cancelled', message: 'Cancelled.' };
  const message = err instanceof Error ? err.message : String(err);
  return {
    type: 'error', id, code: 'internal', message: `The engine failed: ${message}`,
    hint: 'This is a bug in AttnScope; please report it with the model and image that caused it.',
  };
}

/** The ArrayBuffers of the typed arrays at the top level of a message (tap data, logits...). */
export function transferablesOf(msg: object): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of Object.values(msg)) {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) {
      if (!out.includes(v.buffer)) out.push(v.buffer);
    }
  }
  return out;
}

/** A Float32Array that owns its whole buffer, so transferring it detaches nothing else. */
export function ownBuffer(data: Float32Array): Float32Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer ? data : data.slice();
}
