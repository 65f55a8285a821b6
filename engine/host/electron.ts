// Electron utilityProcess entry (main/engineHost.ts forks dist/engine/host/electron.js).
// No `electron` import: the utility process has `process.parentPort`, and main sends on it
//   { type: 'port' } with a MessagePortMain in ports[0]   (first message, and again after a page reload)
//   { type: 'allow', seq, read?: string[], writeFile?: string[], writeDir?: string[] }   (paths the user chose)
// and gets { type: 'allowed', seq } back, so main hands a path to the page only once the
// engine will accept it (the page's request comes on another channel, in no fixed order).
// MessagePortMain can transfer only ports, so arrays are copied here, not transferred.

import type { EngineCore } from '../core';
import { AllowListPolicy } from './pathPolicy';
import { startEngine } from './start';

interface MessagePortMainLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  on(event: 'close', listener: () => void): void;
  postMessage(message: unknown): void;
  start(): void;
  close(): void;
}
interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown; ports: MessagePortMainLike[] }) => void): void;
  postMessage(message: unknown): void;
}

const maybeParent = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (!maybeParent) throw new Error('engine/host/electron.js must run in an Electron utility process');
const parentPort: ParentPortLike = maybeParent;

const paths = new AllowListPolicy();
let current: { core: EngineCore; port: MessagePortMainLike } | null = null;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

parentPort.on('message', (e) => {
  const data = e.data as { type?: unknown; seq?: unknown; read?: unknown; writeFile?: unknown; writeDir?: unknown } | null;
  if (data?.type === 'allow') {
    strings(data.read).forEach((p) => paths.allowRead(p));
    strings(data.writeFile).forEach((p) => paths.allowWriteFile(p));
    strings(data.writeDir).forEach((p) => paths.allowWriteDir(p));
    if (typeof data.seq === 'number') parentPort.postMessage({ type: 'allowed', seq: data.seq });
    return;
  }
  const port = e.ports[0];
  if (data?.type !== 'port' || !port) return;
  if (current) { current.core.dispose(); current.port.close(); }
  const listeners: Array<(msg: unknown) => void> = [];
  port.on('message', (m) => listeners.forEach((l) => l(m.data)));
  const core = startEngine(
    { postMessage: (msg) => port.postMessage(msg), onMessage: (l) => { listeners.push(l); } },
    { sources: ['builtin', 'bytes', 'path'], paths },
  );
  current = { core, port };
  port.start();
});
