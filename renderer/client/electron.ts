// Electron transport: the MessagePort that main creates and the preload relays with
// window.postMessage (engine/bridge.ts). Accepted only from this window itself.

import type { EngineMessage, PortRelayMessage, StatusRelayMessage } from '../../engine/protocol';
import type { Transport } from './client';

export function portTransport(port: MessagePort): Transport {
  const transport: Transport = {
    kind: 'electron',
    send(msg, transfer) { port.postMessage(msg, transfer); },
    onMessage: () => {},
    onClose: () => {},
    close() { port.close(); },
  };
  port.onmessage = (e: MessageEvent) => transport.onMessage(e.data as EngineMessage);
  port.start();
  return transport;
}

export interface RelayListener {
  onPort(port: MessagePort, generation: number): void;
  onStatus(state: StatusRelayMessage['state'], message: string): void;
}

/** Listens for the preload's relayed messages; returns the unsubscribe function. */
export function listenForRelay(win: Window, listener: RelayListener): () => void {
  const handler = (event: MessageEvent) => {
    // Only the preload (same window) may hand us a port: never a frame or another window.
    if (event.source !== win) return;
    const data = event.data as Partial<PortRelayMessage | StatusRelayMessage> | null;
    if (data?.type === 'attnscope:engine-port') {
      const port = event.ports[0];
      if (port && typeof (data as PortRelayMessage).generation === 'number') listener.onPort(port, (data as PortRelayMessage).generation);
    } else if (data?.type === 'attnscope:engine-status') {
      const s = data as StatusRelayMessage;
      if (s.state === 'restarting' || s.state === 'failed') listener.onStatus(s.state, String(s.message ?? ''));
    }
  };
  win.addEventListener('message', handler);
  return () => win.removeEventListener('message', handler);
}
