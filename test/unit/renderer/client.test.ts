// The client's loadModel over a scripted transport: the runtime goes into the request, and
// an engine that restarts loads the model again on the same runtime.
import { describe, expect, it } from 'vitest';
import type { EngineMessage } from '../../../engine/protocol';
import { Client, type Transport } from '../../../renderer/client/client';
import { MODEL, RUNTIMES } from './fakeClient';

/** Answers hello and loadModel like an engine; keeps what it was sent. */
function scriptedTransport() {
  const sent: Array<Record<string, unknown>> = [];
  const t: Transport = {
    kind: 'websocket',
    onMessage: () => {},
    onClose: () => {},
    close() {},
    send(msg) {
      const m = msg as Record<string, unknown> & { id: number };
      sent.push(m);
      const reply: EngineMessage | null = m.type === 'hello'
        ? { type: 'hello', id: m.id, protocol: 1, version: 't', backend: 'ort cpu', runtime: RUNTIMES.ort,
          capabilities: { formats: [], modules: [], builtinModels: ['tiny-cbam'], imageFormats: [], colormaps: [], runtimes: ['ort', 'tfjs'], sources: ['builtin'] } }
        : m.type === 'loadModel'
          ? { type: 'modelInfo', id: m.id, info: { ...MODEL, runtime: RUNTIMES[(m.runtime as 'ort' | 'tfjs' | undefined) ?? 'ort'] } }
          : null;
      if (reply) queueMicrotask(() => t.onMessage(reply));
    },
  };
  return { t, sent };
}

describe('client: runtimes', () => {
  it('sends the runtime asked for, and none when none was asked for', async () => {
    const { t, sent } = scriptedTransport();
    const client = new Client(t);
    const info = await client.loadModel({ kind: 'builtin', name: 'tiny-cbam' }, undefined, { runtime: 'tfjs' });
    expect(sent.at(-1)).toMatchObject({ type: 'loadModel', source: { kind: 'builtin', name: 'tiny-cbam' }, runtime: 'tfjs' });
    expect(info.runtime?.runtime).toBe('tfjs');
    await client.loadModel({ kind: 'builtin', name: 'tiny-cbam' });
    expect(sent.at(-1)).not.toHaveProperty('runtime');
  });

  it('hello reports the runtime through onStatus', async () => {
    const { t } = scriptedTransport();
    const client = new Client(t);
    const seen: unknown[] = [];
    client.onStatus((s) => seen.push(s.runtime));
    await client.hello();
    expect(seen.at(-1)).toEqual(RUNTIMES.ort);
  });

  it('a restarted engine loads the last model again on the same runtime', async () => {
    const first = scriptedTransport();
    const client = new Client(first.t);
    await client.loadModel({ kind: 'builtin', name: 'tiny-cbam' }, undefined, { runtime: 'tfjs' });
    const second = scriptedTransport();
    client.replaceTransport(second.t, 'The engine was restarted after it stopped.');
    await new Promise((r) => setTimeout(r, 0));
    expect(second.sent[0]).toMatchObject({ type: 'loadModel', source: { kind: 'builtin', name: 'tiny-cbam' }, runtime: 'tfjs' });
    // A later restart after a load on ort reloads on ort.
    await client.loadModel({ kind: 'builtin', name: 'tiny-cbam' }, undefined, { runtime: 'ort' });
    const third = scriptedTransport();
    client.replaceTransport(third.t, 'The engine was restarted after it stopped.');
    expect(third.sent[0]).toMatchObject({ type: 'loadModel', runtime: 'ort' });
  });
});
