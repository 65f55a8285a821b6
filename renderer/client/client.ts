// The engine client over any Transport (MessagePort or WebSocket): request ids, stream
// routing, supersede, and the client's half of crash recovery (renderer/client/types.ts).

import type {
  EngineMessage, HelloReply, ImageSource, ModelInfo, ModelSource, QueryReply, RunDoneEvent, RunOptions,
} from '../../engine/protocol';
import {
  ClientError, type EngineClient, type EngineStatus, type ExtraRequest, type LoadOptions, type RequestOptions, type RunHandlers,
} from './types';

export interface Transport {
  readonly kind: 'electron' | 'websocket';
  send(msg: object, transfer: ArrayBuffer[]): void;
  /** Set once by the client. */
  onMessage: (msg: EngineMessage) => void;
  /** The connection is gone for good (the client reports 'disconnected'). */
  onClose: (reason: string) => void;
  close(): void;
}

interface Pending {
  kind: 'load' | 'run' | 'other';
  resolve(msg: EngineMessage): void;
  reject(err: ClientError): void;
  onEvent?(msg: EngineMessage): void;
}

const isStreamEvent = (t: string) => t === 'runStarted' || t === 'tap' || t === 'prediction' || t.endsWith('Progress');

/** After this many restarts without a request completing, stop repeating the last load/run (it may be what kills the engine). */
const MAX_REPEATS = 2;

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

export class Client implements EngineClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(s: EngineStatus) => void>();
  private status: EngineStatus = { state: 'connecting' };
  private lastLoad: { source: ModelSource; onProgress?: (read: number, total: number) => void; options: LoadOptions } | null = null;
  private lastRun: { image: ImageSource; options: RunOptions; handlers: RunHandlers } | null = null;
  private currentRun: number | null = null;
  private repeats = 0;
  private closed = false;

  /**
   * `reconnect` (web mode): opens a new connection when the socket drops; the client then
   * recovers as after an engine restart. Without it a drop is final.
   */
  constructor(private link: Transport, private readonly reconnect?: () => Promise<Transport>) {
    this.attach(link);
  }

  get transport(): 'electron' | 'websocket' { return this.link.kind; }

  private attach(t: Transport): void {
    t.onMessage = (m) => this.receive(m);
    t.onClose = (reason) => this.disconnected(reason);
  }

  // ------------------------------------------------------------ requests

  async hello(): Promise<HelloReply> {
    const reply = await this.request<HelloReply>({ type: 'hello' });
    this.setStatus({ ...this.status, backend: reply.backend, ...(reply.runtime ? { runtime: reply.runtime } : {}) });
    return reply;
  }

  async loadModel(source: ModelSource, onProgress?: (read: number, total: number) => void, options: LoadOptions = {}): Promise<ModelInfo> {
    // Kept for recover(): a restarted engine loads the same model on the same runtime.
    this.lastLoad = { source, ...(onProgress ? { onProgress } : {}), options: { ...options } };
    // A new model makes the last run meaningless (and the engine cancels it).
    this.lastRun = null;
    this.supersedeRun();
    const reply = await this.send<{ type: 'modelInfo'; info: ModelInfo }>(loadRequest(source, options), 'load', progressHandler(onProgress));
    return reply.info;
  }

  run(image: ImageSource, options: RunOptions, handlers: RunHandlers = {}): Promise<RunDoneEvent> {
    this.supersedeRun();
    this.lastRun = { image, options, handlers };
    return this.send<RunDoneEvent>({ type: 'run', image, options }, 'run', runHandler(handlers));
  }

  query(runId: string, module: string, point: { x: number; y: number }): Promise<QueryReply> {
    return this.request<QueryReply>({ type: 'query', runId, module, point });
  }

  cancelRun(): void {
    const id = this.currentRun;
    if (id === null) return;
    this.supersedeRun();
    this.post({ type: 'cancel', id: this.nextId++, target: id });
  }

  request<T extends { type: string } = EngineMessage>(msg: ExtraRequest, options: RequestOptions = {}): Promise<T> {
    if (!options.signal) return this.send<T>(msg, 'other', options.onEvent, options.transfer);
    const { signal } = options;
    if (signal.aborted) return Promise.reject(new ClientError('cancelled', 'Cancelled.'));
    const id = this.nextId; // send() takes this id synchronously
    const onAbort = () => {
      const entry = this.pending.get(id);
      if (!entry) return;
      this.pending.delete(id);
      try { this.post({ type: 'cancel', id: this.nextId++, target: id }); } catch { /* the connection is gone: so is the request */ }
      entry.reject(new ClientError('cancelled', 'Cancelled.'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return this.send<T>(msg, 'other', options.onEvent, options.transfer)
      .finally(() => signal.removeEventListener('abort', onAbort));
  }

  onStatus(listener: (s: EngineStatus) => void): () => void {
    this.listeners.add(listener);
    listener(this.status);
    return () => { this.listeners.delete(listener); };
  }

  close(): void {
    this.closed = true;
    this.link.close();
    this.failAll(new ClientError('disconnected', 'The engine connection was closed.'));
    this.setStatus({ state: 'disconnected', message: 'Closed.' });
  }

  // ------------------------------------------------------------ plumbing

  /** Marks the client connected (after the first hello). */
  ready(message?: string): void {
    this.setStatus({ ...this.status, state: 'ready', ...(message ? { message } : {}) });
  }

  private send<T>(msg: ExtraRequest, kind: Pending['kind'], onEvent?: (m: EngineMessage) => void, transfer: ArrayBuffer[] = [], reuse?: Pending): Promise<T> {
    if (this.closed || this.status.state === 'disconnected') {
      return Promise.reject(new ClientError('disconnected', 'The engine is not connected.', 'Reload the page or restart the app.'));
    }
    if (!reuse && kind === 'other' && this.status.state === 'restarting') {
      return Promise.reject(new ClientError('engine-restarted', 'The engine is restarting; try again in a moment.'));
    }
    const id = this.nextId++;
    if (kind === 'run') this.currentRun = id;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = reuse ?? { kind, resolve: resolve as (m: EngineMessage) => void, reject, ...(onEvent ? { onEvent } : {}) };
      this.pending.set(id, entry);
      // While the engine restarts, a model load or run waits: recover() sends it to the new engine.
      if (!reuse && this.status.state === 'restarting') return;
      try {
        this.post({ ...msg, id }, transfer);
      } catch (err) {
        this.pending.delete(id);
        entry.reject(new ClientError('bad-request', `Could not send ${msg.type}: ${err instanceof Error ? err.message : String(err)}`));
      }
    });
  }

  private post(msg: object, transfer: ArrayBuffer[] = []): void {
    this.link.send(msg, transfer);
  }

  private supersedeRun(): void {
    const id = this.currentRun;
    this.currentRun = null;
    if (id === null) return;
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    entry.reject(new ClientError('cancelled', 'Superseded by a newer run.'));
  }

  private receive(msg: EngineMessage): void {
    if (msg.type === 'engineStatus') { this.engineStatus(msg.state, msg.message); return; }
    if (msg.id === null) {
      if (msg.type === 'error') console.warn(`engine: ${msg.message}`);
      return;
    }
    const entry = this.pending.get(msg.id);
    if (!entry) return; // late events of a superseded run, or of a request lost in a restart
    if (isStreamEvent(msg.type)) { entry.onEvent?.(msg); return; }
    this.pending.delete(msg.id);
    if (this.currentRun === msg.id) this.currentRun = null;
    if (msg.type === 'error') {
      entry.reject(new ClientError(msg.code, msg.message, msg.hint));
    } else if (msg.type === 'cancelled') {
      entry.reject(new ClientError('cancelled', 'Cancelled.'));
    } else {
      if (entry.kind !== 'other') this.repeats = 0;
      entry.resolve(msg);
    }
  }

  private engineStatus(state: 'restarting' | 'ready' | 'failed', message: string): void {
    if (state === 'restarting') {
      this.setStatus({ ...this.status, state: 'restarting', message });
      // Requests other than the model load and the run died with the engine.
      for (const [id, entry] of this.pending) {
        if (entry.kind === 'other') { this.pending.delete(id); entry.reject(new ClientError('engine-restarted', `${message} The request was lost; try again.`)); }
      }
    } else if (state === 'ready') {
      this.recover(message);
    } else {
      this.failAll(new ClientError('engine-restarted', message, 'Reload the page or restart the app.'));
      this.setStatus({ ...this.status, state: 'disconnected', message });
    }
  }

  /** A new engine is up (or the same one again, after a reconnect): load the last model again, then repeat the last run. */
  private recover(why: string, reconnected = false): void {
    const inFlight = [...this.pending.entries()];
    this.pending.clear();
    const runId = this.currentRun;
    this.currentRun = null;
    this.repeats += 1;
    if (this.repeats > MAX_REPEATS) {
      for (const [, e] of inFlight) e.reject(new ClientError('engine-restarted', 'The engine kept stopping while repeating the last model load or run; it was not repeated again.', 'Try another model or image.'));
      this.setStatus({ ...this.status, state: 'ready', message: `${why} The last model load and run were not repeated (they seem to crash the engine).` });
      return;
    }
    const loadEntry = inFlight.find(([, e]) => e.kind === 'load')?.[1];
    const runEntry = inFlight.find(([id, e]) => e.kind === 'run' && id === runId)?.[1];
    const done: string[] = [];
    const silent = (): Pending => ({ kind: 'load', resolve: () => {}, reject: () => {} });
    if (this.lastLoad) {
      const { source, onProgress, options } = this.lastLoad;
      void this.send(loadRequest(source, options), 'load', undefined, [], withEvents(loadEntry ?? silent(), progressHandler(onProgress))).catch(() => {});
      done.push('model reloaded');
    }
    if (this.lastRun) {
      const { image, options, handlers } = this.lastRun;
      const entry = withEvents(runEntry ?? { kind: 'run', resolve: () => {}, reject: () => {} }, runHandler(handlers));
      void this.send({ type: 'run', image, options }, 'run', undefined, [], entry).catch(() => {});
      done.push('last run repeated');
    }
    const what = reconnected ? 'Reconnected to the engine' : 'Engine restarted after it stopped';
    for (const [, e] of inFlight) {
      if (e !== loadEntry && e !== runEntry) e.reject(new ClientError('engine-restarted', 'The engine restarted before answering; try again.'));
    }
    this.setStatus({ ...this.status, state: 'ready', message: `${what}${done.length ? `; ${done.join(', ')}` : ''}.` });
    void this.hello().catch(() => {});
  }

  /** A new link to the engine: Electron's port after a restart, or web mode's socket after a reconnect. */
  replaceTransport(t: Transport, why: string, reconnected = false): void {
    const old = this.link;
    this.link = t;
    this.attach(t);
    old.onMessage = () => {};
    old.onClose = () => {};
    old.close();
    this.recover(why, reconnected);
  }

  /** Electron: main relayed that the engine is restarting, or gave up. */
  hostStatus(state: 'restarting' | 'failed', message: string): void {
    this.engineStatus(state, message);
  }

  private disconnected(reason: string): void {
    if (this.closed) return;
    if (this.reconnect) { void this.reconnectLoop(reason); return; }
    this.failAll(new ClientError('disconnected', `Lost the connection to the engine: ${reason}`, 'Reload the page, or restart `attnscope serve`.'));
    this.setStatus({ ...this.status, state: 'disconnected', message: `Lost the connection to the engine: ${reason}` });
  }

  /** Tries again after 0.5, 1, 2, 4 and 8 s; the model load and run in flight wait for it. */
  private async reconnectLoop(reason: string): Promise<void> {
    this.engineStatus('restarting', `Lost the connection to the engine (${reason}); reconnecting.`);
    for (const delay of RECONNECT_DELAYS_MS) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.closed) return;
      try {
        const t = await this.reconnect!();
        if (this.closed) { t.close(); return; }
        this.replaceTransport(t, 'Reconnected to the engine.', true);
        return;
      } catch {
        // the server is not back yet
      }
    }
    this.engineStatus('failed', `Lost the connection to the engine (${reason}) and could not reconnect. Reload the page, or open the URL that \`attnscope serve\` printed.`);
  }

  private failAll(err: ClientError): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.currentRun = null;
    for (const e of entries) e.reject(err);
  }

  private setStatus(s: EngineStatus): void {
    this.status = s;
    for (const l of this.listeners) l(s);
  }
}

/** A loadModel request; `runtime` only when one was asked for (older engines take the default). */
function loadRequest(source: ModelSource, options: LoadOptions): ExtraRequest {
  return { type: 'loadModel', source, ...(options.runtime ? { runtime: options.runtime } : {}), ...(options.device ? { device: options.device } : {}), ...(options.arch ? { arch: options.arch } : {}), ...(options.inputSize ? { inputSize: options.inputSize } : {}) };
}

function progressHandler(onProgress?: (read: number, total: number) => void): ((m: EngineMessage) => void) | undefined {
  return onProgress ? (m) => { if (m.type === 'loadProgress') onProgress(m.bytesRead, m.totalBytes); } : undefined;
}

function runHandler(h: RunHandlers): (m: EngineMessage) => void {
  return (m) => {
    if (m.type === 'runStarted') h.onStarted?.(m);
    else if (m.type === 'tap') h.onTap?.(m);
    else if (m.type === 'runProgress') h.onProgress?.(m);
    else if (m.type === 'prediction') h.onPrediction?.(m);
  };
}

function withEvents(entry: Pending, onEvent?: (m: EngineMessage) => void): Pending {
  return { ...entry, ...(onEvent ? { onEvent } : {}) };
}
