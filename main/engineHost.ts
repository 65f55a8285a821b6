// Runs the engine in an Electron utility process and wires it to the page (DESIGN.md
// "Processes"; ente's pattern): a MessageChannelMain per page connection, one port to
// the engine, one to the renderer, so maps and image bytes never pass through main.
// Restarts the engine when it dies and tells the page; kills it when the window closes.
//
// The Electron API comes in as an argument (tests pass fakes); only types from 'electron'.

import type { MessagePortMain } from 'electron';
import { resolve, sep } from 'node:path';

export interface EngineProcess {
  postMessage(message: unknown, transfer?: MessagePortMain[]): void;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  kill(): boolean;
}

export interface EngineHostDeps {
  fork(modulePath: string, args: string[], options: { serviceName: string; stdio: 'inherit' | 'pipe' }): EngineProcess;
  createChannel(): { port1: MessagePortMain; port2: MessagePortMain };
}

/** Where the page gets its port and status (webContents.postMessage / send). */
export interface PageLink {
  postMessage(channel: 'engine-port', message: { generation: number }, transfer: MessagePortMain[]): void;
  send(channel: 'engine-status', message: { state: 'restarting' | 'failed'; message: string }): void;
  isDestroyed(): boolean;
}

export interface EngineHostOptions {
  /** dist/engine/host/electron.js */
  enginePath: string;
  /** Give up after this many crashes within windowMs (default 3 in 60 s). */
  maxRestarts?: number;
  windowMs?: number;
  now?: () => number;
}

export interface AllowMessage { type: 'allow'; seq?: number; read?: string[]; writeFile?: string[]; writeDir?: string[] }

/** How long allow() waits for the engine's acknowledgement before going on regardless. */
const ALLOW_ACK_TIMEOUT_MS = 2000;

export class EngineHost {
  private child: EngineProcess | null = null;
  private page: PageLink | null = null;
  private generation = -1;
  private stopped = false;
  private readonly crashes: number[] = [];
  private seq = 0;
  private readonly acks = new Map<number, () => void>();
  /** Every path allowance so far, replayed to a restarted engine. */
  private readonly allowed: { read: Set<string>; writeFile: Set<string>; writeDir: Set<string> } = {
    read: new Set(), writeFile: new Set(), writeDir: new Set(),
  };

  constructor(private readonly deps: EngineHostDeps, private readonly options: EngineHostOptions) {}

  /** Starts the engine (if not running) and sends the page a fresh port to it. */
  connect(page: PageLink): void {
    this.page = page;
    if (this.stopped) return;
    if (!this.child) this.start();
    this.handOff();
  }

  /**
   * Lets the engine read / write paths the user chose (dialogs, recent list). Resolves once
   * the engine has them, so the page (whose request travels on another channel) never
   * asks before the engine would accept.
   */
  allow(paths: Omit<AllowMessage, 'type' | 'seq'>): Promise<void> {
    paths.read?.forEach((p) => this.allowed.read.add(p));
    paths.writeFile?.forEach((p) => this.allowed.writeFile.add(p));
    paths.writeDir?.forEach((p) => this.allowed.writeDir.add(p));
    const child = this.child;
    // Not running: start() replays every allowance before the engine gets a port.
    if (!child) return Promise.resolve();
    const seq = ++this.seq;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.acks.delete(seq); resolve(); }, ALLOW_ACK_TIMEOUT_MS);
      this.acks.set(seq, () => { clearTimeout(timer); resolve(); });
      child.postMessage({ type: 'allow', seq, ...paths } satisfies AllowMessage);
    });
  }

  /** True when `path` is one the user chose, or lies in a chosen export folder. */
  isChosen(path: string): boolean {
    const p = resolve(path);
    const all = [...this.allowed.read, ...this.allowed.writeFile, ...this.allowed.writeDir].map((x) => resolve(x));
    if (all.includes(p)) return true;
    return [...this.allowed.writeDir].some((d) => p.startsWith(resolve(d) + sep));
  }

  /** Window closed / app quitting: kill the engine for good. */
  stop(): void {
    this.stopped = true;
    this.releaseAcks();
    const child = this.child;
    this.child = null;
    child?.kill();
  }

  get running(): boolean { return this.child !== null; }

  private start(): void {
    const child = this.deps.fork(this.options.enginePath, [], { serviceName: 'AttnScope engine', stdio: 'inherit' });
    this.child = child;
    child.on('exit', (code) => { if (this.child === child) this.exited(code); });
    child.on('message', (m) => {
      const seq = (m as { type?: unknown; seq?: unknown } | null)?.type === 'allowed' ? (m as { seq: unknown }).seq : undefined;
      if (typeof seq !== 'number') return;
      this.acks.get(seq)?.();
      this.acks.delete(seq);
    });
    const { read, writeFile, writeDir } = this.allowed;
    if (read.size || writeFile.size || writeDir.size) {
      child.postMessage({ type: 'allow', read: [...read], writeFile: [...writeFile], writeDir: [...writeDir] } satisfies AllowMessage);
    }
  }

  /** Resolves every allowance still waiting for the engine's acknowledgement. */
  private releaseAcks(): void {
    for (const ack of this.acks.values()) ack();
    this.acks.clear();
  }

  private handOff(): void {
    if (!this.child || !this.page || this.page.isDestroyed()) return;
    const { port1, port2 } = this.deps.createChannel();
    this.generation += 1;
    this.child.postMessage({ type: 'port' }, [port1]);
    this.page.postMessage('engine-port', { generation: this.generation }, [port2]);
  }

  private exited(code: number): void {
    this.child = null;
    // A restarted engine gets every allowance replayed before its port: nothing to wait for.
    this.releaseAcks();
    if (this.stopped) return;
    const t = (this.options.now ?? Date.now)();
    const windowMs = this.options.windowMs ?? 60_000;
    this.crashes.push(t);
    while (this.crashes.length && this.crashes[0]! < t - windowMs) this.crashes.shift();
    const live = this.page && !this.page.isDestroyed() ? this.page : null;
    if (this.crashes.length > (this.options.maxRestarts ?? 3)) {
      live?.send('engine-status', { state: 'failed', message: `The engine stopped (exit code ${code}) and kept crashing; it was not restarted. Restart AttnScope.` });
      return;
    }
    live?.send('engine-status', { state: 'restarting', message: `The engine stopped (exit code ${code}); restarting it.` });
    this.start();
    this.handOff();
  }
}
