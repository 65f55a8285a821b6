// Fake-but-faithful stand-ins for the Electron objects main/ uses: they record what main
// does and emit what Electron would, with the same method shapes (checked by tsc against
// main's interfaces, which the real Electron objects satisfy).

import { EventEmitter } from 'node:events';
import type { EngineProcess } from '../../../main/engineHost';

export class FakePort { constructor(readonly name: string) {} }

export class FakeProcess extends EventEmitter implements EngineProcess {
  readonly messages: Array<{ message: unknown; transfer: unknown[] }> = [];
  killed = false;
  constructor(readonly modulePath: string, readonly options: unknown) { super(); }
  /** Acknowledge `allow` as engine/host/electron.ts does (off: to test the timeout). */
  autoAck = true;
  postMessage(message: unknown, transfer: unknown[] = []): void {
    this.messages.push({ message, transfer });
    const m = message as { type?: string; seq?: number };
    if (this.autoAck && m.type === 'allow' && typeof m.seq === 'number') queueMicrotask(() => this.emit('message', { type: 'allowed', seq: m.seq }));
  }
  override on(event: 'exit', listener: (code: number) => void): this;
  override on(event: 'message', listener: (message: unknown) => void): this;
  override on(event: string, listener: (...args: never[]) => void): this { return super.on(event, listener as (...args: unknown[]) => void); }
  kill(): boolean {
    this.killed = true;
    // Electron emits 'exit' after kill as well.
    queueMicrotask(() => this.emit('exit', 0));
    return true;
  }
}

export class FakeWebContents extends EventEmitter {
  readonly sent: Array<{ channel: string; message: unknown }> = [];
  readonly posted: Array<{ channel: string; message: unknown; transfer: unknown[] }> = [];
  openHandler: ((d: { url: string }) => { action: 'deny' } | { action: 'allow' }) | null = null;
  destroyed = false;
  url = '';
  setWindowOpenHandler(h: (d: { url: string }) => { action: 'deny' } | { action: 'allow' }): void { this.openHandler = h; }
  getURL(): string { return this.url; }
  send(channel: string, message: unknown): void { this.sent.push({ channel, message }); }
  postMessage(channel: string, message: unknown, transfer: unknown[]): void { this.posted.push({ channel, message, transfer }); }
  isDestroyed(): boolean { return this.destroyed; }
  /** Emits a navigation event the way Electron does; returns whether it was prevented. */
  navigate(event: 'will-navigate' | 'will-redirect', url: string): boolean {
    let prevented = false;
    this.emit(event, { preventDefault: () => { prevented = true; }, url }, url);
    return prevented;
  }
}
