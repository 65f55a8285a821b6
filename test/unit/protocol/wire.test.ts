// The WebSocket frame format: the engine and the page share common/wire.ts; it round-trips both ways.

import { describe, expect, it } from 'vitest';
// Both ends import the one codec in common/wire.ts; the aliases keep each direction readable.
import * as engineWire from '../../../common/wire';
import * as pageWire from '../../../common/wire';

const tap = {
  type: 'tap', id: 3, runId: 'run-1', module: 'layer1.0.cbam', tap: 'spatial', shape: [2, 3],
  data: new Float32Array([0, 0.5, 1, -1, 1e-30, 3.25]), index: 0, total: 1,
};

describe('WebSocket frames', () => {
  it('sends messages without arrays as text', () => {
    expect(engineWire.encodeFrame({ type: 'hello', id: 1 })).toBe('{"type":"hello","id":1}');
  });

  it('round-trips typed arrays and ArrayBuffers, engine -> page and page -> engine', () => {
    const frame = engineWire.encodeFrame(tap);
    expect(frame).toBeInstanceOf(Uint8Array);
    const back = pageWire.decodeFrame((frame as Uint8Array).buffer as ArrayBuffer) as typeof tap;
    expect(back.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.data)).toEqual(Array.from(tap.data));
    expect({ ...back, data: null }).toEqual({ ...tap, data: null });

    const bytes = new Uint8Array([1, 2, 3, 4, 5]).buffer;
    const req = { type: 'loadModel', id: 2, source: { kind: 'bytes', name: 'm.pth', bytes }, extra: [new Uint8Array([9, 8])] };
    const out = engineWire.decodeFrame(pageWire.encodeFrame(req) as Uint8Array) as typeof req;
    expect(out.source.bytes).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Uint8Array(out.source.bytes))).toEqual([1, 2, 3, 4, 5]);
    expect(out.extra[0]).toBeInstanceOf(Uint8Array);
  });

  it('aligns every array to 8 bytes and takes views with offsets into account', () => {
    const big = new Float32Array(10).map((_, i) => i);
    const msg = { a: new Uint8Array([1, 2, 3]), b: big.subarray(3, 7) };
    const frame = engineWire.encodeFrame(msg) as Uint8Array;
    const headerLength = new DataView(frame.buffer).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + headerLength))) as { b: [number, number][] };
    for (const [offset] of header.b) expect(offset % 8).toBe(0);
    const back = pageWire.decodeFrame(frame) as { b: Float32Array };
    expect(Array.from(back.b)).toEqual([3, 4, 5, 6]);
  });

  it('decodes from an unaligned Node Buffer view without sharing its memory', () => {
    const frame = engineWire.encodeFrame(tap) as Uint8Array;
    const pool = Buffer.alloc(frame.length + 3);
    pool.set(frame, 3);
    const back = engineWire.decodeFrame(pool.subarray(3)) as typeof tap;
    expect(Array.from(back.data)).toEqual(Array.from(tap.data));
    expect(back.data.buffer).not.toBe(pool.buffer);
  });

  it('rejects malformed frames with an error, not a crash', () => {
    const bad: Array<Uint8Array | string> = [
      new Uint8Array([1, 2]),
      new Uint8Array([255, 0, 0, 0, 1]),
      (() => { const f = new Uint8Array(16); new DataView(f.buffer).setUint32(0, 2, true); f.set(new TextEncoder().encode('{}'), 4); return f; })(),
      '{"type": ',
    ];
    const lying = engineWire.encodeFrame({ d: new Float32Array(4) }) as Uint8Array;
    bad.push(lying.subarray(0, lying.length - 8));
    for (const f of bad) {
      expect(() => pageWire.decodeFrame(f)).toThrow();
      expect(() => engineWire.decodeFrame(f)).toThrow();
    }
  });
});
