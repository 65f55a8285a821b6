// The protocol over a real WebSocket: web mode's server, its token/Origin checks and an
// engine worker per connection; the client is renderer/client on the `ws` package.

import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { EngineMessage } from '../../../engine/protocol';
import { startWebServer, type WebServer } from '../../../engine/host/webServer';
import { Client, type Transport } from '../../../renderer/client/client';
import { openWebSocket, type WebSocketConstructor } from '../../../renderer/client/websocket';
import { encodeFrame } from '../../../common/wire';
import { buildWorker, staticFixture } from './harness';
import { describeProtocol } from './suite';

describeProtocol('WebSocket', async () => {
  const server: WebServer = await startWebServer({
    staticDir: staticFixture(), workerUrl: await buildWorker(), workerData: { sources: ['builtin', 'bytes'], paths: 'none' },
  });
  const url = `ws://127.0.0.1:${server.port}/engine?token=${server.token}`;
  const transport: Transport = await openWebSocket(url, WebSocket as unknown as WebSocketConstructor);
  const log: EngineMessage[] = [];
  const client = new Client(transport);
  const clientReceive = transport.onMessage;
  transport.onMessage = (m) => { log.push(m); clientReceive(m); };
  await client.hello();
  client.ready();
  // The raw socket behind the transport is private; a second connection would get a
  // second engine, so raw frames go through the transport's own encoder.
  return {
    client, log,
    sendRaw: (m) => transport.send(m as object, []),
    crash: async () => { for (const e of server.engines) await e.crash(); },
    close: async () => { client.close(); await server.close(); },
  };
});

// Frames that do not decode are answered without reaching the engine.
describe('WebSocket framing errors', () => {
  it('answers an undecodable binary frame with bad-request and keeps the connection', async () => {
    const server = await startWebServer({ staticDir: staticFixture(), workerUrl: await buildWorker(), workerData: { paths: 'none' } });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine?token=${server.token}`);
      await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
      const replies: unknown[] = [];
      ws.on('message', (d, isBinary) => replies.push(isBinary ? 'binary' : JSON.parse(d.toString())));
      ws.send(new Uint8Array([255, 255, 255, 255, 1, 2]));
      ws.send('{"type": "hello", "id": 7');
      const hello = encodeFrame({ type: 'hello', id: 8 });
      ws.send(hello);
      for (let i = 0; i < 100 && replies.length < 3; i++) await new Promise((r) => setTimeout(r, 100));
      expect(replies.slice(0, 2)).toEqual([
        expect.objectContaining({ type: 'error', code: 'bad-request', id: null }),
        expect.objectContaining({ type: 'error', code: 'bad-request', id: null }),
      ]);
      expect(replies[2]).toMatchObject({ type: 'hello', id: 8 });
      ws.close();
    } finally {
      await server.close();
    }
  });
});
