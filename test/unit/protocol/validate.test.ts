// parseClientMessage: every malformed or unknown message becomes a bad-request reply.

import { describe, expect, it } from 'vitest';
import { parseClientMessage } from '../../../engine/protocol';

const bytes = new ArrayBuffer(4);

describe('parseClientMessage', () => {
  it('accepts every well-formed request', () => {
    const good = [
      { type: 'hello', id: 1 },
      { type: 'loadModel', id: 2, source: { kind: 'builtin', name: 'resnet18-cbam' } },
      { type: 'loadModel', id: 3, source: { kind: 'bytes', name: 'm.pth', bytes } },
      { type: 'loadModel', id: 4, source: { kind: 'path', path: '/home/u/m.pth' } },
      { type: 'run', id: 5, image: { kind: 'bytes', name: 'a.png', bytes }, options: { inputSize: 224, resize: 'pad', bypass: ['nl3'], mean: [0, 0, 0], std: [1, 1, 1] } },
      { type: 'run', id: 6, image: { kind: 'path', path: '/a.png' }, options: {} },
      { type: 'query', id: 7, runId: 'run-1', module: 'nl3', point: { x: 1.5, y: 2 } },
      { type: 'cancel', id: 8, target: 5 },
      { type: 'channelMap', id: 10, runId: 'run-1', module: 'layer1.0.cbam', channel: 0 },
      { type: 'run', id: 11, image: { kind: 'path', path: '/big.jpg' }, options: { tile: { size: 512 } } },
      { type: 'loadModel', id: 13, source: { kind: 'builtin', name: 'x' }, runtime: 'ort', device: 'auto' },
      { type: 'loadModel', id: 14, source: { kind: 'path', path: '/m.pth' }, arch: 'resnet10-cifar-nlsa2-c32' },
      { type: 'loadModel', id: 15, source: { kind: 'path', path: '/m.onnx' }, inputSize: 32 },
      { type: 'run', id: 12, image: { kind: 'path', path: '/big.jpg' }, options: { tile: { size: 512, overlap: 64 } } },
    ];
    for (const m of good) expect(parseClientMessage(m)).toEqual(m);
    expect(parseClientMessage({ type: 'run', id: 9, image: { kind: 'path', path: '/a.png' } })).toMatchObject({ options: {} });
  });

  it('answers everything else with bad-request, keeping a usable id', () => {
    const cases: Array<[unknown, number | null]> = [
      [null, null], [42, null], ['hello', null], [[], null], [{}, null],
      [{ type: 'hello' }, null], [{ type: 'hello', id: -1 }, null], [{ type: 'hello', id: 1.5 }, null], [{ type: 'hello', id: '1' }, null],
      [{ type: 'explode', id: 1 }, 1], [{ type: '__proto__', id: 2 }, 2], [{ type: 'toString', id: 3 }, 3],
      [{ type: 'loadModel', id: 4 }, 4], [{ type: 'loadModel', id: 5, source: { kind: 'url', url: 'http://x' } }, 5],
      [{ type: 'loadModel', id: 6, source: { kind: 'bytes', name: 'x', bytes: [1, 2] } }, 6],
      [{ type: 'loadModel', id: 7, source: { kind: 'path', path: '' } }, 7],
      [{ type: 'loadModel', id: 8, source: { kind: 'path', path: 'a\0b' } }, 8],
      [{ type: 'run', id: 9, image: { kind: 'builtin', name: 'x' }, options: {} }, 9],
      [{ type: 'run', id: 10, image: { kind: 'path', path: '/a' }, options: { inputSize: 3 } }, 10],
      [{ type: 'run', id: 11, image: { kind: 'path', path: '/a' }, options: { resize: 'zoom' } }, 11],
      [{ type: 'run', id: 12, image: { kind: 'path', path: '/a' }, options: { bypass: 'nl3' } }, 12],
      [{ type: 'run', id: 13, image: { kind: 'path', path: '/a' }, options: { mean: [0, 0] } }, 13],
      [{ type: 'run', id: 14, image: { kind: 'path', path: '/a' }, options: { std: [1, 1, Number.NaN] } }, 14],
      [{ type: 'run', id: 15, image: { kind: 'path', path: '/a' }, options: 'fast' }, 15],
      [{ type: 'query', id: 16, runId: 'r', module: 'm', point: { x: Infinity, y: 0 } }, 16],
      [{ type: 'query', id: 17, runId: 5, module: 'm', point: { x: 0, y: 0 } }, 17],
      [{ type: 'cancel', id: 18 }, 18],
      [{ type: 'channelMap', id: 19, runId: 'r', module: 'm', channel: -1 }, 19],
      [{ type: 'channelMap', id: 20, runId: 'r', module: 'm', channel: 1.5 }, 20],
      [{ type: 'channelMap', id: 21, runId: 'r', module: 'm' }, 21],
      [{ type: 'channelMap', id: 22, runId: 'r', module: '', channel: 0 }, 22],
      [{ type: 'run', id: 23, image: { kind: 'path', path: '/a' }, options: { tile: 512 } }, 23],
      [{ type: 'run', id: 24, image: { kind: 'path', path: '/a' }, options: { tile: { size: 5000 } } }, 24],
      [{ type: 'run', id: 25, image: { kind: 'path', path: '/a' }, options: { tile: { size: 512, overlap: 512 } } }, 25],
      [{ type: 'run', id: 26, image: { kind: 'path', path: '/a' }, options: { tile: { size: 512, overlap: -1 } } }, 26],
      [{ type: 'loadModel', id: 27, source: { kind: 'builtin', name: 'x' }, device: 'tpu' }, 27],
      [{ type: 'loadModel', id: 28, source: { kind: 'path', path: '/m.pth' }, arch: '../../etc' }, 28],
      [{ type: 'loadModel', id: 29, source: { kind: 'path', path: '/m.pth' }, arch: 18 }, 29],
      [{ type: 'loadModel', id: 30, source: { kind: 'path', path: '/m.pth' }, arch: 'x'.repeat(300) }, 30],
      [{ type: 'loadModel', id: 31, source: { kind: 'path', path: '/m.onnx' }, inputSize: 4 }, 31],
      [{ type: 'loadModel', id: 32, source: { kind: 'path', path: '/m.onnx' }, inputSize: 32.5 }, 32],
      [{ type: 'loadModel', id: 33, source: { kind: 'path', path: '/m.onnx' }, inputSize: '32' }, 33],
    ];
    for (const [msg, id] of cases) {
      const r = parseClientMessage(msg);
      expect(r, JSON.stringify(msg)).toMatchObject({ type: 'error', code: 'bad-request', id });
      if (r.type === 'error') {
        expect(r.message).toMatch(/^Malformed request: /);
        expect(r.hint).toBeTruthy();
      }
    }
  });

  it('never throws, whatever it gets', () => {
    const weird: unknown[] = [
      Object.create(null), { get type() { return 'hello'; }, id: 1 }, { type: 'run', id: 1, image: { kind: 'bytes', name: 'a', bytes }, options: { bypass: new Array(20000).fill('x') } },
      { type: 'x'.repeat(1e6), id: 1 }, new Proxy({}, {}), Symbol('s'), () => 1,
    ];
    for (const w of weird) expect(() => parseClientMessage(w)).not.toThrow();
  });
});
