// The Input panel's preprocessing fields: what a typed value means, and what is refused.
import { describe, expect, it } from 'vitest';
import { parseInputSize, parseTriple } from '../../../renderer/store/logic';

describe('preprocessing fields', () => {
  it('input size: empty is the model\'s own; whole pixels from 8 to 4096', () => {
    expect(parseInputSize('')).toEqual({ value: null });
    expect(parseInputSize(' 320 ')).toEqual({ value: 320 });
    for (const bad of ['7', '4097', '224.5', 'big', '-32']) expect(parseInputSize(bad)).toHaveProperty('error');
  });

  it('mean and std: three numbers, commas or spaces; std positive', () => {
    expect(parseTriple('', 'Mean')).toEqual({ value: null });
    expect(parseTriple('0.5, 0.4,0.3', 'Mean')).toEqual({ value: [0.5, 0.4, 0.3] });
    expect(parseTriple('0.5 0.4 0.3', 'Std')).toEqual({ value: [0.5, 0.4, 0.3] });
    expect(parseTriple('-0.1, 0, 1', 'Mean')).toEqual({ value: [-0.1, 0, 1] });
    expect(parseTriple('0.5, 0.4', 'Mean')).toMatchObject({ error: expect.stringContaining('three numbers') });
    expect(parseTriple('0.5, x, 0.3', 'Std')).toMatchObject({ error: expect.stringContaining('three numbers') });
    expect(parseTriple('0.5, 0, 0.3', 'Std')).toEqual({ error: 'Std values must be positive.' });
  });
});
