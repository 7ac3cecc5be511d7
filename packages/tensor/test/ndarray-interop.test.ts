/**
 * ndarray interop both ways: ndarray-ops (the ecosystem's element-wise library) applied to
 * `t.nd` views and to tensors made by `fromNdarray`, checked against literal expected values.
 */
import { describe, expect, it } from 'vitest';
import ndarray from 'ndarray';
import ops from 'ndarray-ops';
import { DTypeError, ShapeError, ValueError, arange, fromNdarray, tensor } from '@hyperconn/tensor';

describe('t.nd: ndarray-ops on views of a tensor', () => {
  it('writes through the view into the tensor, for contiguous, transposed and sliced tensors', () => {
    const t = arange(0, 6).reshape([2, 3]);
    ops.addseq(t.nd, 10);
    expect(t.toArray()).toEqual([
      [10, 11, 12],
      [13, 14, 15],
    ]);
    const tt = t.transpose(); // [3, 2] view, strides [1, 3]
    ops.mulseq(tt.nd, 2);
    expect(t.toArray()).toEqual([
      [20, 22, 24],
      [26, 28, 30],
    ]);
    const col = t.slice(null, 1); // column 1: a strided [2] view
    ops.assigns(col.nd, -1);
    expect(t.toArray()).toEqual([
      [20, -1, 24],
      [26, -1, 30],
    ]);
  });

  it('reads views: ndarray-ops reductions agree with the tensor values', () => {
    const t = tensor([
      [1, -2, 3],
      [4, 5, -6],
    ]);
    expect(ops.sum(t.nd)).toBe(5);
    expect(ops.sup(t.transpose().nd)).toBe(5);
    expect(ops.inf(t.slice(null, [1, 3]).nd)).toBe(-6);
    expect(ops.norm2squared(t.nd)).toBe(91);
  });
});

describe('fromNdarray', () => {
  it('shares Float64Array storage with any strides (zero-copy), negative ones included', () => {
    const data = new Float64Array([0, 1, 2, 3, 4, 5]);
    const a = ndarray(data, [2, 3]);
    const t = fromNdarray(a);
    expect(t.data).toBe(data);
    expect(t.toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    const reversed = fromNdarray(a.step(-1, -1)); // both axes reversed: negative strides
    expect(reversed.toArray()).toEqual([
      [5, 4, 3],
      [2, 1, 0],
    ]);
    const transposed = fromNdarray(a.transpose(1, 0));
    expect(transposed.toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    ops.addseq(a, 100); // the ecosystem writes; the tensor sees it
    expect(transposed.get(2, 1)).toBe(105);
    expect(fromNdarray(a.hi(2, 2).lo(1, 1)).toArray()).toEqual([[104]]);
  });

  it('keeps float32 storage as float32, and copies when asked', () => {
    const data = new Float32Array([1.5, 2.5, 3.5, 4.5]);
    const shared = fromNdarray(ndarray(data, [2, 2]));
    expect(shared.dtype).toBe('float32');
    expect(shared.data).toBe(data);
    const copied = fromNdarray(ndarray(data, [2, 2]).transpose(1, 0), { copy: true });
    expect(copied.dtype).toBe('float32');
    expect(copied.data).not.toBe(data);
    expect(copied.toArray()).toEqual([
      [1.5, 3.5],
      [2.5, 4.5],
    ]);
    expect(copied.strides).toEqual([2, 1]);
  });

  it('copies other storage into float64: plain arrays and integer typed arrays', () => {
    expect(fromNdarray(ndarray([1, 2, 3, 4, 5, 6], [3, 2]).transpose(1, 0)).toArray()).toEqual([
      [1, 3, 5],
      [2, 4, 6],
    ]);
    const ints = fromNdarray(ndarray(new Int32Array([-1, 2, -3]), [3]));
    expect(ints.dtype).toBe('float64');
    expect(ints.toArray()).toEqual([-1, 2, -3]);
    expect(fromNdarray(ndarray(new Float64Array(0), [0, 3])).shape).toEqual([0, 3]);
    expect(fromNdarray(ndarray(new Float64Array([7]), [])).item()).toBe(7);
  });

  it('round-trips: fromNdarray(t.nd) views the same storage as t', () => {
    const t = arange(0, 12).reshape([3, 4]).slice([0, 3, 2], [1, 4]);
    const back = fromNdarray(t.nd);
    expect(back.data).toBe(t.data);
    expect(back.toArray()).toEqual(t.toArray());
  });

  it('refuses malformed arrays with typed errors naming fromNdarray', () => {
    expect(() => fromNdarray(null as never)).toThrow(ValueError);
    const bad = (o: object) => () => fromNdarray(o as never);
    expect(bad({ data: new Float64Array(4), shape: [2, 3], stride: [3, 1], offset: 0 })).toThrow(ShapeError);
    expect(bad({ data: new Float64Array(4), shape: [2, 3], stride: [3, 1], offset: 0 })).toThrow(
      /^fromNdarray: .*outside the storage of length 4/,
    );
    expect(bad({ data: new Float64Array(4), shape: [2], stride: [-1], offset: 0 })).toThrow(/indices -1…0 outside/);
    expect(bad({ data: new Float64Array(4), shape: [2.5], stride: [1], offset: 0 })).toThrow(ShapeError);
    expect(bad({ data: new Float64Array(4), shape: [2], stride: [1, 1], offset: 0 })).toThrow(ShapeError);
    expect(bad({ data: new BigInt64Array(2), shape: [2], stride: [1], offset: 0 })).toThrow(DTypeError);
    expect(bad({ data: ['a', 'b'], shape: [2], stride: [1], offset: 0 })).toThrow(
      /^fromNdarray: element \[0\] is string/,
    );
    expect(bad({ data: 5, shape: [], stride: [], offset: 0 })).toThrow(DTypeError);
  });
});
