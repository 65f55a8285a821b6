// The Electron engine entry (engine/host/electron.ts) without Electron: it runs in a
// worker thread whose `process.parentPort` is a faithful stand-in for the utility
// process's (messages as {data, ports}, ports as MessagePortMain-like objects). Checks the
// port handoff, the path allow-list main sends, and a new port after a page reload.

import { join } from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineMessage } from '../../../engine/protocol';
import { Client, type Transport } from '../../../renderer/client/client';
import { ClientError } from '../../../renderer/client/types';
import { buildElectronShim, FIXTURE, root, testImage } from './harness';


function portTransport(port: MessagePort): Transport {
  const t: Transport = { kind: 'electron', send: (m, tr) => port.postMessage(m, tr), onMessage: () => {}, onClose: () => {}, close: () => port.close() };
  port.on('message', (m: EngineMessage) => t.onMessage(m));
  return t;
}

describe('Electron engine entry (utility process stand-in)', () => {
  let worker: Worker;
  const modelPath = join(root, 'test/fixtures', FIXTURE, 'model.safetensors');
  const connect = () => {
    const { port1, port2 } = new MessageChannel();
    worker.postMessage({ data: { type: 'port' }, ports: [port1] }, [port1]);
    return new Client(portTransport(port2));
  };

  beforeAll(async () => {
    worker = new Worker(await buildElectronShim());
  });
  afterAll(async () => { await worker?.terminate(); });

  it('serves the page port; reads only the paths main allowed', async () => {
    const client = connect();
    const hello = await client.hello();
    expect(hello.capabilities.sources).toEqual(['builtin', 'bytes', 'path']);
    const refused = await client.loadModel({ kind: 'path', path: modelPath }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ClientError);
    expect((refused as ClientError).code).toBe('forbidden');
    // As main does: the path goes to the page only after the engine acknowledged it.
    const ack = new Promise((resolve) => worker.once('message', resolve));
    worker.postMessage({ data: { type: 'allow', seq: 1, read: [modelPath] }, ports: [] });
    expect(await ack).toEqual({ type: 'allowed', seq: 1 });
    const info = await client.loadModel({ kind: 'path', path: modelPath });
    expect(info.modules.length).toBeGreaterThan(0);
    const done = await client.run({ kind: 'bytes', name: 'x.png', bytes: await testImage() }, { inputSize: 32 });
    expect(done.tapCount).toBe(24);
    client.close();
  });

  it('a page reload gets a fresh engine connection on a new port', async () => {
    const client = connect();
    const err = await client.run({ kind: 'bytes', name: 'x.png', bytes: await testImage() }, {}).catch((e: unknown) => e);
    // A new connection starts without a model: the old page's model went with it.
    expect((err as ClientError).code).toBe('no-model');
    expect((await client.hello()).type).toBe('hello');
    client.close();
  });
});
