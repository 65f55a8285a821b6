// common/bytes: what crosses a boundary is exactly the view's bytes, copied only when the
// view does not span its whole buffer.
import { describe, expect, it } from 'vitest';
import { exactArrayBuffer } from '../../../common/bytes';

describe('exactArrayBuffer', () => {
  it('passes an exact view\'s buffer on without copying', () => {
    const view = Uint8Array.from([1, 2, 3]);
    expect(exactArrayBuffer(view)).toBe(view.buffer);
  });

  it('copies just the bytes of a view into a larger buffer', () => {
    const whole = Uint8Array.from([9, 1, 2, 3, 9]);
    const out = exactArrayBuffer(whole.subarray(1, 4));
    expect(out).not.toBe(whole.buffer);
    expect(Array.from(new Uint8Array(out))).toEqual([1, 2, 3]);
  });
});
