// The page side of Electron mode: connectEngine() finds window.attnscope, asks for the
// engine port, accepts it only from its own window, talks to the real engine through it
// (engine/host/electron.ts behind a utility-process stand-in), and after an engine
// restart takes the new port and reloads the model by itself.

import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttnScopeBridge } from '../../../engine/protocol';
import { connectEngine } from '../../../renderer/client';
import type { EngineStatus } from '../../../renderer/client/types';
import { buildElectronShim, fixtureBytes } from './harness';

// The page's window, as far as the client uses it: an EventTarget holding window.attnscope.
const win = new EventTarget() as EventTarget & { attnscope?: AttnScopeBridge };
(globalThis as unknown as { window: typeof win }).window = win;

/** What the preload does: window.postMessage(data, '*', [port]), seen by the page as a message event. */
function relay(data: unknown, source: unknown, ports: MessagePort[] = []): void {
  const event = new Event('message');
  Object.defineProperties(event, { data: { value: data }, source: { value: source }, ports: { value: ports } });
  win.dispatchEvent(event);
}

describe('Electron mode, page side (real engine behind the port)', () => {
  let shim: string;
  const workers: Worker[] = [];
  const engineWithPort = (): MessagePort => {
    const worker = new Worker(shim);
    workers.push(worker);
    const { port1, port2 } = new MessageChannel();
    worker.postMessage({ data: { type: 'port' }, ports: [port1] }, [port1]);
    return port2;
  };

  beforeAll(async () => { shim = await buildElectronShim(); });
  afterAll(async () => { await Promise.all(workers.map((w) => w.terminate())); });

  it('connects through the relayed port, ignoring ports from anything but its own window', async () => {
    let requests = 0;
    const bridge = {
      platform: 'linux',
      requestEnginePort() {
        requests += 1;
        // A frame or another window posting a port first: must be ignored.
        relay({ type: 'attnscope:engine-port', generation: 0 }, {}, [new MessageChannel().port1]);
        relay({ type: 'attnscope:engine-port', generation: 0 }, win, [engineWithPort()]);
      },
    } as unknown as AttnScopeBridge;
    win.attnscope = bridge;
    const client = await connectEngine();
    expect(client.transport).toBe('electron');
    expect(requests).toBe(1);
    const statuses: EngineStatus[] = [];
    client.onStatus((s) => statuses.push(s));
    expect(statuses[0]).toMatchObject({ state: 'ready' });
    expect(statuses[0]?.backend).toBeTruthy();
    const info = await client.loadModel({ kind: 'bytes', name: 'model.safetensors', bytes: fixtureBytes() });
    expect(info.modules.length).toBe(8);

    // main: the engine died; a new one is up and its port arrives (generation 1).
    relay({ type: 'attnscope:engine-status', state: 'restarting', message: 'The engine stopped (exit code 139); restarting it.' }, win);
    expect(statuses.at(-1)).toMatchObject({ state: 'restarting' });
    relay({ type: 'attnscope:engine-port', generation: 1 }, win, [engineWithPort()]);
    expect(statuses.at(-1)).toMatchObject({ state: 'ready', message: expect.stringMatching(/restarted.*model reloaded/) });
    // A stale port (older generation) is refused.
    relay({ type: 'attnscope:engine-port', generation: 0 }, win, [new MessageChannel().port1]);
    // The new engine has the model again: a query for an unknown run says not-found, not no-model.
    const err = (await client.query('run-x', 'layer1.0.cbam', { x: 1, y: 1 }).catch((e: unknown) => e)) as { code: string };
    expect(err.code).toBe('not-found');
    client.close();
  });
});
