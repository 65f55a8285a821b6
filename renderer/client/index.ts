// connectEngine(): the one way the UI reaches the engine. Electron when the preload's
// bridge exists (window.attnscope), web mode's WebSocket otherwise.

import type { AttnScopeBridge } from '../../engine/protocol';
import { Client, type Transport } from './client';
import { listenForRelay, portTransport } from './electron';
import type { EngineClient } from './types';
import { engineUrlFromLocation, openWebSocket, type WebSocketConstructor } from './websocket';

export type { EngineClient } from './types';
export { ClientError, isClientError } from './types';

declare global {
  interface Window { attnscope?: AttnScopeBridge }
}

export interface ConnectOptions {
  /** Web mode: the engine URL (default: from the page location and its ?token=). */
  url?: string;
  /** Web mode: a WebSocket implementation (Node tests pass the `ws` package). */
  WebSocket?: WebSocketConstructor;
}

/** Connects, says hello, and resolves once the engine is ready. */
export async function connectEngine(options: ConnectOptions = {}): Promise<EngineClient> {
  const bridge = typeof window !== 'undefined' ? window.attnscope : undefined;
  const client = bridge && !options.url ? await connectElectron(bridge) : await connectWebSocket(options);
  await client.hello();
  client.ready();
  return client;
}

async function connectWebSocket(options: ConnectOptions): Promise<Client> {
  const url = options.url ?? engineUrlFromLocation(window.location);
  return new Client(await openWebSocket(url, options.WebSocket), () => openWebSocket(url, options.WebSocket));
}

function connectElectron(bridge: AttnScopeBridge): Promise<Client> {
  return new Promise((resolve) => {
    let client: Client | null = null;
    let generation = -1;
    listenForRelay(window, {
      onPort(port, gen) {
        if (gen <= generation) { port.close(); return; }
        generation = gen;
        const transport: Transport = portTransport(port);
        if (!client) { client = new Client(transport); resolve(client); return; }
        client.replaceTransport(transport, 'The engine was restarted after it stopped.');
      },
      onStatus(state, message) {
        client?.hostStatus(state, message);
      },
    });
    bridge.requestEnginePort();
  });
}
