import { describe, expect, it } from 'vitest';
import {
  arange,
  cast,
  clone,
  contiguous,
  expand,
  flatten,
  permute,
  reshape,
  slice,
  squeeze,
  transpose,
  unsqueeze,
  ValueError,
} from '@hyperconn/tensor';

// The function forms against hand-written expected values (not against the methods they call).
describe('function forms of the view methods', () => {
  const t = arange(0, 6).reshape([2, 3]);

  it('give the expected values and shapes', () => {
    expect(reshape(t, [3, -1]).toArray()).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(transpose(t).toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(permute(t.reshape([1, 2, 3]), [2, 0, 1]).shape).toEqual([3, 1, 2]);
    expect(slice(t, null, [1, 3]).toArray()).toEqual([
      [1, 2],
      [4, 5],
    ]);
    expect(expand(arange(0, 3), [2, 3]).toArray()).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect(squeeze(t.reshape([1, 2, 1, 3])).shape).toEqual([2, 3]);
    expect(unsqueeze(t, 1).shape).toEqual([2, 1, 3]);
    expect(flatten(transpose(t)).toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    expect(cast(t, 'float32').dtype).toBe('float32');
    expect(cast(t, 'float32').toArray()).toEqual(t.toArray());
  });

  it('share storage where the method does, and copy where it copies', () => {
    expect(reshape(t, [3, 2]).data).toBe(t.data);
    expect(transpose(t).data).toBe(t.data);
    expect(contiguous(t)).toBe(t);
    const copy = contiguous(transpose(t));
    expect(copy.data).not.toBe(t.data);
    expect(copy.toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    const c = clone(t);
    c.set([0, 0], 42);
    expect(t.get(0, 0)).toBe(0);
  });

  it('refuse a non-tensor with a typed error naming the op', () => {
    expect(() => reshape([1, 2] as never, [2])).toThrow(ValueError);
    expect(() => reshape([1, 2] as never, [2])).toThrow(/^reshape: expected a Tensor, got object/);
    expect(() => cast(null as never, 'float64')).toThrow(/^cast: expected a Tensor, got null/);
  });
});
