// The protocol checks every transport must pass, against the real engine (a worker
// thread running engine/host/worker.ts with the fixture checkpoint).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineMessage, TapEvent } from '../../../engine/protocol';
import type { Client } from '../../../renderer/client/client';
import { ClientError, type EngineStatus } from '../../../renderer/client/types';
import { clock, fixtureBytes, fixtureTaps, stats, testImage } from './harness';

export interface Rig {
  client: Client;
  /** Every message the engine sent, in order, before the client saw it. */
  log: EngineMessage[];
  sendRaw(msg: unknown): void;
  /** Kills the engine worker as a crash would. */
  crash(): Promise<void>;
  close(): Promise<void>;
}

export const latencies: Record<string, { tapMs: number[]; forwardMs: number[]; taps: number }> = {};

export function describeProtocol(label: string, setup: () => Promise<Rig>): void {
  describe(`protocol over ${label} (real engine)`, () => {
    let rig: Rig;
    let image: ArrayBuffer;
    const statuses: EngineStatus[] = [];
    const expected = fixtureTaps();

    beforeAll(async () => {
      image = await testImage();
      rig = await setup();
      rig.client.onStatus((s) => statuses.push(s));
    });
    afterAll(async () => { await rig?.close(); });

    it('says hello with runtime, backend, version and the engine colormaps', async () => {
      const hello = await rig.client.hello();
      expect(hello.protocol).toBe(1);
      expect(hello.version).toMatch(/^\d+\.\d+\.\d+/);
      // The default runtime is ONNX Runtime on the CPU, one thread per core.
      expect(hello.backend).toBe('ort cpu');
      expect(hello.runtime).toMatchObject({ runtime: 'ort', device: 'cpu', backend: 'cpu' });
      expect(hello.runtime!.threads).toBeGreaterThanOrEqual(1);
      expect(hello.capabilities.runtimes).toEqual(['ort', 'tfjs']);
      expect(hello.capabilities.formats).toContain('safetensors');
      expect(hello.capabilities.colormaps.map((c) => c.name)).toContain('viridis');
      for (const c of hello.capabilities.colormaps) expect(c.lut).toHaveLength(768);
    });

    it('loads the fixture from bytes, with progress', async () => {
      const progress: number[] = [];
      const info = await rig.client.loadModel({ kind: 'bytes', name: 'model.safetensors', bytes: fixtureBytes() }, (read, total) => {
        expect(read).toBeLessThanOrEqual(total);
        progress.push(read);
      });
      expect(info.modules.map((m) => m.name)).toEqual([...new Set(expected.map((t) => t.key.split('.').slice(0, -1).join('.')))]);
      expect(progress.length).toBeGreaterThan(0);
    });

    it('streams every tap in forward order with correct shapes, then prediction and runDone', async () => {
      const order: string[] = [];
      const taps: TapEvent[] = [];
      const tapLatency: number[] = [];
      const forward: number[] = [];
      for (let i = 0; i < 5; i++) {
        taps.length = 0;
        order.length = 0;
        const done = await rig.client.run({ kind: 'bytes', name: 'square.png', bytes: image }, { inputSize: 32 }, {
          onStarted: (e) => { order.push('runStarted'); expect(e.image).toMatchObject({ width: 48, height: 40 }); },
          onTap: (e) => {
            tapLatency.push(clock() - (e.computedAt ?? NaN));
            order.push('tap');
            taps.push(e);
          },
          onPrediction: (e) => { order.push('prediction'); expect(e.logits).toBeInstanceOf(Float32Array); expect(e.top.length).toBeGreaterThan(0); },
        });
        forward.push(done.timings.forwardMs);
        expect(order[0]).toBe('runStarted');
        expect(order.at(-1)).toBe('prediction');
        expect(done.tapCount).toBe(expected.length);
        expect(taps.map((t) => `${t.module}.${t.tap}`)).toEqual(expected.map((t) => t.key));
        taps.forEach((t, i) => {
          expect(t.index).toBe(i);
          expect(t.total).toBe(expected.length);
          expect(t.shape).toEqual(expected[i]!.shape);
          expect(t.data).toBeInstanceOf(Float32Array);
          expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
          expect(t.runId).toBe(done.runId);
        });
      }
      latencies[label] = { tapMs: tapLatency, forwardMs: forward, taps: expected.length };
      console.log(`[${label}] tap latency (computed -> received) ms`, stats(tapLatency), 'forward ms', stats(forward));
    });

    it('a second run supersedes the first: the first rejects as cancelled and its late events are dropped', async () => {
      const firstEvents: string[] = [];
      let firstRejectedAt = -1;
      const first = rig.client.run({ kind: 'bytes', name: 'a.png', bytes: image }, { inputSize: 256 }, {
        onStarted: () => firstEvents.push('started'),
        onTap: () => firstEvents.push('tap'),
      });
      const firstResult = first.then(() => 'resolved', (e: unknown) => {
        firstRejectedAt = firstEvents.length;
        return e instanceof ClientError ? e.code : 'other';
      });
      const second = await rig.client.run({ kind: 'bytes', name: 'b.png', bytes: image }, { inputSize: 32 });
      expect(await firstResult).toBe('cancelled');
      expect(firstEvents.length).toBe(firstRejectedAt);
      expect(second.tapCount).toBe(expected.length);
      // The engine said 'cancelled' for the first run's id.
      expect(rig.log.some((m) => m.type === 'cancelled')).toBe(true);
    });

    it('answers malformed messages with bad-request and keeps serving', async () => {
      const before = rig.log.length;
      rig.sendRaw({ type: 'nope', id: 900 });
      rig.sendRaw({ type: 'run', id: 901 });
      rig.sendRaw({ type: 'query', id: 902, runId: 'x', module: 'm', point: { x: 'a', y: 1 } });
      rig.sendRaw('not even an object');
      rig.sendRaw({ type: 'loadModel', id: 903, source: { kind: 'bytes', name: 'x' } });
      const hello = await rig.client.hello();
      expect(hello.type).toBe('hello');
      await new Promise((r) => setTimeout(r, 50));
      const errors = rig.log.slice(before).filter((m) => m.type === 'error');
      expect(errors.map((e) => e.type === 'error' && e.code)).toEqual(['bad-request', 'bad-request', 'bad-request', 'bad-request', 'bad-request']);
      expect(errors.map((e) => e.id)).toEqual([900, 901, 902, null, 903]);
      const again = await rig.client.run({ kind: 'bytes', name: 'c.png', bytes: image }, { inputSize: 32 });
      expect(again.tapCount).toBe(expected.length);
    });

    it('reports engine errors with code, message and hint', async () => {
      const err = await rig.client.run({ kind: 'bytes', name: 'junk.png', bytes: new Uint8Array([1, 2, 3, 4]).buffer }, {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).code).toBe('bad-image');
      const q = await rig.client.query('run-does-not-exist', 'layer1.0.cbam', { x: 1, y: 1 }).catch((e: unknown) => e);
      expect((q as ClientError).code).toBe('not-found');
    });

    it('recovers when the engine dies mid-run: the client reloads the model and repeats the run', async () => {
      statuses.length = 0;
      let tapsSeen = 0;
      let crashed = false;
      const runIds = new Set<string>();
      // The crash comes as soon as the run has started, before its forward pass: ort runs a
      // pass and sends every tap faster than a worker or socket takes to die.
      const done = rig.client.run({ kind: 'bytes', name: 'd.png', bytes: image }, { inputSize: 1024 }, {
        onStarted: (e) => {
          runIds.add(e.runId);
          if (!crashed) { crashed = true; void rig.crash(); }
        },
        onTap: () => { tapsSeen += 1; },
      });
      const result = await done;
      expect(crashed).toBe(true);
      expect(result.tapCount).toBe(expected.length);
      expect(statuses.map((s) => s.state)).toEqual(expect.arrayContaining(['restarting', 'ready']));
      expect(statuses.at(-1)?.message).toMatch(/restarted.*model reloaded.*last run repeated/);
      expect(tapsSeen).toBeGreaterThanOrEqual(expected.length);
      // The repeated run is a new run in the new engine.
      expect(runIds.size).toBe(2);
      // And the engine serves normally afterwards.
      const after = await rig.client.run({ kind: 'bytes', name: 'e.png', bytes: image }, { inputSize: 32 });
      expect(after.tapCount).toBe(expected.length);
    });
  });
}
