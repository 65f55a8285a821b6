// The engine core in-process (real engine, both runtimes): cancel and supersede free every
// tensor of the runs they stop (counted on tfjs), and requests on one engine run one at a time.

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { EngineMessage } from '../../../engine/protocol';
import { startEngine } from '../../../engine/host/start';
import { defaultProvider } from '../../../engine/provider';
import type { RuntimeName } from '../../../engine/runtimes';
import { fixtureBytes, testImage } from './harness';

function inProcess(runtime: RuntimeName) {
  const out: EngineMessage[] = [];
  let deliver: (m: unknown) => void = () => {};
  const waiters: Array<{ id: number; resolve: (m: EngineMessage) => void }> = [];
  startEngine({
    postMessage: (m) => {
      const msg = m as EngineMessage;
      out.push(msg);
      const final = !['loadProgress', 'runStarted', 'tap', 'prediction'].includes(msg.type);
      if (final) for (const w of waiters.filter((x) => x.id === msg.id)) w.resolve(msg);
    },
    onMessage: (l) => { deliver = l; },
  }, { paths: { canRead: () => false, canWrite: () => false }, provider: defaultProvider({ runtime }) });
  let id = 1;
  const send = (m: Record<string, unknown>) => {
    const req = { ...m, id: id++ };
    const done = new Promise<EngineMessage>((resolve) => waiters.push({ id: req.id, resolve }));
    deliver(req);
    return { id: req.id, done };
  };
  return { out, send };
}

describe.each(['ort', 'tfjs'] as const)('engine core (in-process, %s)', (runtime) => {
  /** Live tfjs tensors (the ort runtime allocates none). */
  const liveTensors = (): number => (runtime === 'tfjs' ? tf.memory().numTensors : 0);

  it('supersede and cancel leave no tensors behind and answer every request once', async () => {
    const { out, send } = inProcess(runtime);
    expect((await send({ type: 'loadModel', source: { kind: 'bytes', name: 'm.safetensors', bytes: fixtureBytes() } }).done).type).toBe('modelInfo');
    const image = await testImage();
    const run = (size: number) => send({ type: 'run', image: { kind: 'bytes', name: 'x.png', bytes: image.slice(0) }, options: { inputSize: size } });
    expect((await run(64).done).type).toBe('runDone');
    const before = liveTensors();

    const runs = Array.from({ length: 8 }, () => run(128));
    const last = await runs.at(-1)!.done;
    expect(last.type).toBe('runDone');
    const finals = await Promise.all(runs.map((r) => r.done));
    expect(finals.slice(0, -1).every((m) => m.type === 'cancelled')).toBe(true);
    // Nothing from a superseded run after its `cancelled`.
    for (const r of runs.slice(0, -1)) {
      const i = out.findIndex((m) => m.id === r.id && m.type === 'cancelled');
      expect(out.slice(i + 1).some((m) => m.id === r.id)).toBe(false);
    }

    // Superseded mid-forward: after its first tap is out.
    const midway = run(384);
    while (!out.some((m) => m.id === midway.id && m.type === 'tap')) await new Promise((r) => setTimeout(r, 1));
    const next = run(64);
    expect((await midway.done).type).toBe('cancelled');
    expect((await next.done).type).toBe('runDone');
    expect(out.filter((m) => m.id === midway.id && m.type === 'tap').length).toBeLessThan(24);

    const victim = run(256);
    send({ type: 'cancel', target: victim.id });
    expect((await victim.done).type).toBe('cancelled');
    expect((await run(64).done).type).toBe('runDone');
    expect(liveTensors()).toBe(before);
    // Exactly one final message per request id.
    const finalsById = new Map<number, number>();
    for (const m of out) if (m.id !== null && !['loadProgress', 'runStarted', 'tap', 'prediction'].includes(m.type)) finalsById.set(m.id, (finalsById.get(m.id) ?? 0) + 1);
    expect([...finalsById.values()].every((n) => n === 1)).toBe(true);
  });

  it('runs one forward at a time: taps of two runs never interleave', async () => {
    const { out, send } = inProcess(runtime);
    await send({ type: 'loadModel', source: { kind: 'bytes', name: 'm.safetensors', bytes: fixtureBytes() } }).done;
    const image = await testImage();
    const a = send({ type: 'query', runId: 'nope', module: 'layer1.0.cbam', point: { x: 1, y: 1 } });
    const b = send({ type: 'run', image: { kind: 'bytes', name: 'x.png', bytes: image }, options: { inputSize: 64 } });
    const c = send({ type: 'query', runId: 'nope', module: 'layer1.0.cbam', point: { x: 1, y: 1 } });
    await Promise.all([a.done, b.done, c.done]);
    const order = out.filter((m) => m.id === a.id || m.id === b.id || m.id === c.id).map((m) => `${m.id}:${m.type}`);
    expect(order[0]).toBe(`${a.id}:error`);
    expect(order.at(-1)).toBe(`${c.id}:error`);
    expect(order.at(-2)).toBe(`${b.id}:runDone`);
    // A path the host did not allow is refused.
    const p = await send({ type: 'run', image: { kind: 'path', path: '/etc/passwd' }, options: {} }).done;
    expect(p).toMatchObject({ type: 'error', code: 'forbidden' });
  });

  it('channelMap answers one channel of a module\'s input for the last run, not-found otherwise', async () => {
    const { send } = inProcess(runtime);
    const info = await send({ type: 'loadModel', source: { kind: 'bytes', name: 'm.safetensors', bytes: fixtureBytes() } }).done;
    if (info.type !== 'modelInfo') throw new Error(info.type);
    const module = info.info.modules[0]!;
    const image = await testImage();
    const done = await send({ type: 'run', image: { kind: 'bytes', name: 'x.png', bytes: image }, options: { inputSize: 64 } }).done;
    if (done.type !== 'runDone') throw new Error(done.type);
    const before = liveTensors();
    const r = await send({ type: 'channelMap', runId: done.runId, module: module.name, channel: 1 }).done;
    expect(r).toMatchObject({ type: 'channelMapResult', runId: done.runId, module: module.name, channel: 1 });
    if (r.type !== 'channelMapResult') throw new Error(r.type);
    expect(r.data).toBeInstanceOf(Float32Array);
    expect(r.data.length).toBe(r.shape[0] * r.shape[1]);
    expect(r.shape[0]).toBeGreaterThan(1);
    const far = await send({ type: 'channelMap', runId: done.runId, module: module.name, channel: module.channels }).done;
    expect(far).toMatchObject({ type: 'error', code: 'not-found' });
    expect(await send({ type: 'channelMap', runId: 'run-0', module: module.name, channel: 0 }).done).toMatchObject({ type: 'error', code: 'not-found' });
    expect(await send({ type: 'channelMap', runId: done.runId, module: 'nope', channel: 0 }).done).toMatchObject({ type: 'error', code: 'not-found' });
    expect(liveTensors()).toBe(before);
  });
});
