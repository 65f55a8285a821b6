// Web mode transport: the engine WebSocket of `attnscope serve` (frames: common/wire.ts).

import type { EngineMessage } from '../../engine/protocol';
import type { Transport } from './client';
import { ClientError } from './types';
import { decodeFrame, encodeFrame } from '../../common/wire';

/** The browser's WebSocket, or a compatible one (the `ws` package in Node tests). */
export type WebSocketLike = {
  binaryType: string;
  readyState: number;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((e: unknown) => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  onclose: ((e: { code: number; reason: string }) => void) | null;
  onerror: ((e: unknown) => void) | null;
};
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The engine URL for this page: same host, path /engine, the page's token. */
export function engineUrlFromLocation(location: { protocol: string; host: string; search: string }): string {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) {
    throw new ClientError('forbidden', 'This page was opened without its access token.', 'Open the exact URL that `attnscope serve` printed (it ends with ?token=...).');
  }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/engine?token=${encodeURIComponent(token)}`;
}

export function openWebSocket(url: string, Ctor: WebSocketConstructor = globalThis.WebSocket as unknown as WebSocketConstructor): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const ws = new Ctor(url);
    ws.binaryType = 'arraybuffer';
    let open = false;
    const transport: Transport = {
      kind: 'websocket',
      send(msg) {
        const frame = encodeFrame(msg);
        ws.send(frame);
      },
      onMessage: () => {},
      onClose: () => {},
      close() { ws.close(1000, 'client closed'); },
    };
    ws.onopen = () => { open = true; resolve(transport); };
    ws.onmessage = (e) => {
      let msg: unknown;
      try {
        msg = decodeFrame(e.data as string | ArrayBuffer);
      } catch (err) {
        console.warn(`engine sent an undecodable frame: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      transport.onMessage(msg as EngineMessage);
    };
    ws.onerror = () => {};
    ws.onclose = (e) => {
      if (!open) {
        reject(new ClientError('disconnected', `Could not connect to the engine (WebSocket closed, code ${e.code}).`,
          'The token may be wrong or the server stopped: open the URL that `attnscope serve` printed.'));
        return;
      }
      transport.onClose(e.reason || `code ${e.code}`);
    };
  });
}
