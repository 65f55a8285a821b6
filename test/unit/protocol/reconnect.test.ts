// Web mode: when the socket drops (server restarted), the page's client reconnects with
// the same URL and token, reloads the model and repeats the last run by itself.

import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { startWebServer } from '../../../engine/host/webServer';
import { connectEngine } from '../../../renderer/client';
import type { EngineStatus } from '../../../renderer/client/types';
import type { WebSocketConstructor } from '../../../renderer/client/websocket';
import { buildWorker, fixtureBytes, staticFixture, testImage } from './harness';

describe('web mode reconnect', () => {
  it('survives a server restart on the same port and token', async () => {
    const workerUrl = await buildWorker();
    const opts = { staticDir: staticFixture(), workerUrl, token: 'a'.repeat(64), workerData: { sources: ['builtin', 'bytes'], paths: 'none' } };
    let server = await startWebServer(opts);
    const port = server.port;
    const client = await connectEngine({ url: `ws://127.0.0.1:${port}/engine?token=${opts.token}`, WebSocket: WebSocket as unknown as WebSocketConstructor });
    const statuses: EngineStatus[] = [];
    client.onStatus((s) => statuses.push(s));
    await client.loadModel({ kind: 'bytes', name: 'model.safetensors', bytes: fixtureBytes() });
    const image = await testImage();
    const runIds: string[] = [];
    await client.run({ kind: 'bytes', name: 'x.png', bytes: image }, { inputSize: 32 }, { onStarted: (e) => runIds.push(e.runId) });

    await server.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(statuses.at(-1)).toMatchObject({ state: 'restarting' });
    // A request that is not a load or run is refused while reconnecting.
    await expect(client.hello()).rejects.toMatchObject({ code: 'engine-restarted' });
    server = await startWebServer({ ...opts, port });
    try {
      for (let i = 0; i < 100 && statuses.at(-1)?.state !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
      expect(statuses.at(-1)).toMatchObject({ state: 'ready', message: expect.stringMatching(/Reconnected.*model reloaded.*last run repeated/) });
      for (let i = 0; i < 100 && runIds.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(runIds).toHaveLength(2);
      const again = await client.run({ kind: 'bytes', name: 'x.png', bytes: image }, { inputSize: 32 });
      expect(again.tapCount).toBe(24);
    } finally {
      client.close();
      await server.close();
    }
  });
});
