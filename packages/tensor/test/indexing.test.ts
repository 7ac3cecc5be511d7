import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IndexError,
  ShapeError,
  type Tensor,
  ValueError,
  concat,
  diagEmbed,
  diagonal,
  flip,
  gather,
  indexAdd,
  indexSelect,
  scatterAdd,
  split,
  stack,
  tensor,
  tril,
  triu,
  zeros,
  type DType,
  type NestedArray,
} from '@hyperconn/tensor';
import { asStridedView, dtypeArb, shapeArb, tensorArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';
import { coords } from '../../../test/support/coords';

// ---------------------------------------------------------------------------------------------
// Naive references: every expected value is computed coordinate by coordinate.

/** Element of nested arrays at a coordinate. */
function at(nested: NestedArray, c: readonly number[]): number {
  let v = nested;
  for (const k of c) v = (v as NestedArray[])[k]!;
  return v as number;
}

function withAxis(c: readonly number[], axis: number, k: number): number[] {
  const out = [...c];
  out[axis] = k;
  return out;
}

function expectExact(actual: Tensor, shape: readonly number[], dtype: DType, expected: number[]): void {
  expect([...actual.shape]).toEqual([...shape]);
  expect(actual.dtype).toBe(dtype);
  expect(Array.from(actual.toTypedArray())).toEqual(expected);
}

/** A tensor of the shape and dtype, sometimes given as a non-contiguous view. */
function inputArb(shape: readonly number[], dtype: DType = 'float64'): fc.Arbitrary<Tensor> {
  return fc.tuple(tensorArb(shape, dtype), fc.boolean()).map(([t, strided]) => (strided ? asStridedView(t) : t));
}

function promote(a: DType, b: DType): DType {
  return a === 'float64' || b === 'float64' ? 'float64' : 'float32';
}

function dot(a: Tensor, b: Tensor): number {
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

// ---------------------------------------------------------------------------------------------

describe('concat', () => {
  it('matches a naive coordinate-wise join, for views, size-0 pieces and mixed dtypes', () => {
    const caseArb = shapeArb({ minRank: 1, maxRank: 4, maxDim: 3 }).chain((shape) =>
      fc
        .record({
          axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
          pieces: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), dtypeArb), { minLength: 1, maxLength: 4 }),
          shape: fc.constant(shape),
        })
        .chain(({ axis, pieces, shape }) => {
          const ax = axis < 0 ? axis + shape.length : axis;
          return fc.record({
            axis: fc.constant(axis),
            ax: fc.constant(ax),
            tensors: fc.tuple(...pieces.map(([len, dt]) => inputArb(withAxis(shape, ax, len), dt))),
          });
        }),
    );
    fc.assert(
      fc.property(caseArb, ({ axis, ax, tensors }) => {
        const out = concat(tensors, axis);
        const outShape = withAxis(
          tensors[0]!.shape,
          ax,
          tensors.reduce((s, t) => s + t.shape[ax]!, 0),
        );
        const dtype = tensors.map((t) => t.dtype).reduce(promote);
        const nested = tensors.map((t) => t.toArray());
        const expected = coords(outShape).map((c) => {
          let k = c[ax]!;
          let i = 0;
          while (k >= tensors[i]!.shape[ax]!) k -= tensors[i++]!.shape[ax]!;
          return at(nested[i]!, withAxis(c, ax, k));
        });
        expectExact(out, outShape, dtype, expected);
        expect(out.isContiguous()).toBe(true);
      }),
    );
  });

  it('copies: writing to the result leaves the inputs untouched', () => {
    const a = tensor([1, 2]);
    const out = concat([a]);
    out.set([0], 9);
    expect(a.get(0)).toBe(1);
  });

  it('rejects bad inputs with typed errors naming op, shapes and axis', () => {
    expect(() => concat([])).toThrow(ValueError);
    expect(() => concat([tensor(1)])).toThrow(/^concat: .*0-d/);
    expect(() => concat([zeros([2, 3]), zeros([2, 4])])).toThrow(ShapeError);
    expect(() => concat([zeros([2, 3]), zeros([2, 4])])).toThrow(
      /^concat: tensor 1 has shape \[2,4\], incompatible with \[2,3\] \(all axes but 0/,
    );
    expect(() => concat([zeros([2, 3]), zeros([3])], 1)).toThrow(ShapeError);
    expect(() => concat([zeros([2, 3])], 2)).toThrow(IndexError);
    expect(() => concat([zeros([2, 3])], 2)).toThrow(/^concat: axis 2/);
  });
});

describe('stack', () => {
  it('matches a naive reference along every new axis, including 0-d inputs', () => {
    const caseArb = fc
      .record({ shape: shapeArb({ maxRank: 3, maxDim: 3 }), count: fc.integer({ min: 1, max: 3 }), dtype: dtypeArb })
      .chain(({ shape, count, dtype }) =>
        fc.record({
          axis: fc.integer({ min: -shape.length - 1, max: shape.length }),
          tensors: fc.array(inputArb(shape, dtype), { minLength: count, maxLength: count }),
          shape: fc.constant(shape),
        }),
      );
    fc.assert(
      fc.property(caseArb, ({ axis, tensors, shape }) => {
        const ax = axis < 0 ? axis + shape.length + 1 : axis;
        const out = stack(tensors, axis);
        const outShape = [...shape];
        outShape.splice(ax, 0, tensors.length);
        const nested = tensors.map((t) => t.toArray());
        const expected = coords(outShape).map((c) => {
          const rest = [...c];
          const [k] = rest.splice(ax, 1);
          return at(nested[k!]!, rest);
        });
        expectExact(out, outShape, tensors[0]!.dtype, expected);
      }),
    );
  });

  it('rejects mismatched shapes and bad axes', () => {
    expect(() => stack([])).toThrow(ValueError);
    expect(() => stack([zeros([2]), zeros([3])])).toThrow(/^stack: tensor 1 has shape \[3\], expected \[2\]/);
    expect(() => stack([zeros([2]), zeros([2, 1])])).toThrow(ShapeError);
    expect(() => stack([zeros([2])], 2)).toThrow(IndexError);
    expect(() => stack([zeros([2])], -3)).toThrow(/^stack: axis -3/);
  });
});

describe('split', () => {
  const caseArb = shapeArb({ minRank: 1, maxRank: 3, maxDim: 4 }).chain((shape) =>
    fc.integer({ min: 0, max: shape.length - 1 }).chain((ax) =>
      fc.record({
        x: inputArb(shape),
        ax: fc.constant(ax),
        // random cut points give sizes summing to the axis length (size-0 pieces included)
        cuts: fc.array(fc.integer({ min: 0, max: shape[ax]! }), { maxLength: 3 }),
      }),
    ),
  );

  it('returns views whose sizes are as asked and whose elements are the naive pieces', () => {
    fc.assert(
      fc.property(caseArb, ({ x, ax, cuts }) => {
        const n = x.shape[ax]!;
        const bounds = [0, ...[...cuts].sort((a, b) => a - b), n];
        const sizes = bounds.slice(1).map((b, i) => b - bounds[i]!);
        const pieces = split(x, sizes, ax - x.ndim);
        expect(pieces.length).toBe(sizes.length);
        const nested = x.toArray();
        pieces.forEach((p, i) => {
          const shape = withAxis(x.shape, ax, sizes[i]!);
          const expected = coords(shape).map((c) => at(nested, withAxis(c, ax, c[ax]! + bounds[i]!)));
          expectExact(p, shape, x.dtype, expected);
          expect(p.data).toBe(x.data);
        });
        expectExact(concat(pieces, ax), x.shape, x.dtype, Array.from(x.toTypedArray()));
      }),
    );
  });

  it('splits into equal sections when given a count', () => {
    const x = tensor([
      [0, 1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10, 11],
    ]);
    const parts = split(x, 3, 1);
    expect(parts.map((p) => p.toArray())).toEqual([
      [
        [0, 1],
        [6, 7],
      ],
      [
        [2, 3],
        [8, 9],
      ],
      [
        [4, 5],
        [10, 11],
      ],
    ]);
    expect(split(zeros([0, 2]), 4).map((p) => [...p.shape])).toEqual([
      [0, 2],
      [0, 2],
      [0, 2],
      [0, 2],
    ]);
  });

  it('pieces alias the input: a write through a piece is seen in x', () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const [, second] = split(x, [1, 2], 1);
    second!.set([1, 1], 60);
    expect(x.get(1, 2)).toBe(60);
  });

  it('rejects sections that do not divide and sizes that do not sum', () => {
    expect(() => split(zeros([5]), 2)).toThrow(/^split: axis 0 of length 5 .* 2 equal sections/);
    expect(() => split(zeros([5]), 0)).toThrow(ValueError);
    expect(() => split(zeros([5]), 1.5)).toThrow(ValueError);
    expect(() => split(zeros([5]), [2, 2])).toThrow(/^split: sizes \[2,2\] sum to 4, not to the length 5 of axis 0/);
    expect(() => split(zeros([5]), [6, -1])).toThrow(ValueError);
    expect(() => split(zeros([5]), [5], 1)).toThrow(IndexError);
    expect(() => split(tensor(1), 1)).toThrow(IndexError);
  });
});

// ---------------------------------------------------------------------------------------------

/** x of random shape, an axis with length ≥ 1 or not, and indices into it (negative ones too). */
const selectCaseArb = fc
  .record({ shape: shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }), dtype: dtypeArb })
  .chain(({ shape, dtype }) =>
    fc.integer({ min: 0, max: shape.length - 1 }).chain((ax) => {
      const n = shape[ax]!;
      return fc.record({
        x: inputArb(shape, dtype),
        ax: fc.constant(ax),
        indices: n === 0 ? fc.constant<number[]>([]) : fc.array(fc.integer({ min: -n, max: n - 1 }), { maxLength: 5 }),
        asTensor: fc.boolean(),
      });
    }),
  );

describe('indexSelect', () => {
  it('matches a naive reference (repeats, negative indices, Tensor indices, views)', () => {
    fc.assert(
      fc.property(selectCaseArb, ({ x, ax, indices, asTensor }) => {
        const out = indexSelect(x, ax, asTensor ? tensor(indices) : indices);
        const n = x.shape[ax]!;
        const shape = withAxis(x.shape, ax, indices.length);
        const nested = x.toArray();
        const expected = coords(shape).map((c) => at(nested, withAxis(c, ax, (indices[c[ax]!]! + n) % n)));
        expectExact(out, shape, x.dtype, expected);
      }),
    );
  });

  it('rejects out-of-range, non-integer and non-1-d indices', () => {
    const x = zeros([2, 3]);
    expect(() => indexSelect(x, 1, [0, 3])).toThrow(IndexError);
    expect(() => indexSelect(x, 1, [0, 3])).toThrow(/^indexSelect: index 3 is out of range for axis 1 of size 3/);
    expect(() => indexSelect(x, 0, [-3])).toThrow(/index -3 .* axis 0 of size 2/);
    expect(() => indexSelect(x, 0, [0.5])).toThrow(IndexError);
    expect(() => indexSelect(x, 0, tensor([[0]]))).toThrow(/^indexSelect: indices must be 1-d, got shape \[1,1\]/);
    expect(() => indexSelect(x, 2, [0])).toThrow(IndexError);
  });
});

describe('indexAdd', () => {
  it('matches a naive accumulation (repeated indices add up) and promotes dtypes', () => {
    const caseArb = selectCaseArb.chain((c) =>
      fc.record({
        c: fc.constant(c),
        src: fc
          .tuple(dtypeArb, fc.boolean())
          .chain(([dt, strided]) =>
            tensorArb(withAxis(c.x.shape, c.ax, c.indices.length), dt).map((t) => (strided ? asStridedView(t) : t)),
          ),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ c: { x, ax, indices, asTensor }, src }) => {
        const out = indexAdd(x, ax, asTensor ? tensor(indices) : indices, src);
        const n = x.shape[ax]!;
        const dtype = promote(x.dtype, src.dtype);
        const before = coords(x.shape).map((c) => at(x.toArray(), c));
        const expected = [...before];
        const flatIndex = (c: readonly number[]): number => c.reduce((f, k, d) => f * x.shape[d]! + k, 0);
        const srcNested = src.toArray();
        for (const c of coords(src.shape)) {
          const target = withAxis(c, ax, (indices[c[ax]!]! + n) % n);
          expected[flatIndex(target)]! += at(srcNested, c);
        }
        expect([...out.shape]).toEqual([...x.shape]);
        expect(out.dtype).toBe(dtype);
        // float32 accumulates in float32, so the order of additions matters at rounding level
        expectClose(out, expected, dtype === 'float64' ? { rtol: 1e-15, atol: 1e-15 } : { rtol: 1e-6, atol: 1e-5 });
        expect(Array.from(x.toTypedArray()), 'base untouched').toEqual(before);
      }),
    );
  });

  it('is the adjoint of indexSelect: <indexSelect(x, i), g> = <x, indexAdd(0, i, g)>', () => {
    const caseArb = selectCaseArb.chain((c) =>
      fc.record({ c: fc.constant(c), g: tensorArb(withAxis(c.x.shape, c.ax, c.indices.length)) }),
    );
    fc.assert(
      fc.property(caseArb, ({ c: { x, ax, indices }, g }) => {
        const x64 = x.astype('float64');
        const lhs = dot(indexSelect(x64, ax, indices), g);
        const rhs = dot(x64, indexAdd(zeros(x.shape), ax, indices, g));
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(lhs)));
      }),
    );
  });

  it('rejects a src of the wrong shape and bad indices', () => {
    expect(() => indexAdd(zeros([3, 2]), 0, [0, 1], zeros([3, 2]))).toThrow(
      /^indexAdd: src has shape \[3,2\], expected \[2,2\]/,
    );
    expect(() => indexAdd(zeros([3, 2]), 0, [0, 3], zeros([2, 2]))).toThrow(
      /^indexAdd: index 3 is out of range for axis 0 of size 3/,
    );
    expect(() => indexAdd(zeros([3, 2]), 2, [0], zeros([1, 2]))).toThrow(IndexError);
  });
});

// ---------------------------------------------------------------------------------------------

/** x, an axis, and an index tensor of x's rank no longer than x off the axis (any length on it). */
const gatherCaseArb = fc
  .record({ shape: shapeArb({ minRank: 1, maxRank: 3, maxDim: 3 }), dtype: dtypeArb })
  .chain(({ shape, dtype }) =>
    fc.integer({ min: 0, max: shape.length - 1 }).chain((ax) => {
      const n = shape[ax]!;
      const indexShapeArb = fc.tuple(
        ...shape.map((d, k) =>
          k === ax ? fc.integer({ min: 0, max: n === 0 ? 0 : 4 }) : fc.integer({ min: 0, max: d }),
        ),
      ) as fc.Arbitrary<number[]>;
      return indexShapeArb.chain((ishape) => {
        const size = ishape.reduce((a, b) => a * b, 1);
        return fc.record({
          x: inputArb(shape, dtype),
          ax: fc.constant(ax),
          index: fc
            .tuple(
              fc.array(fc.integer({ min: -n, max: Math.max(n - 1, 0) }), { minLength: size, maxLength: size }),
              fc.boolean(),
            )
            .map(([v, strided]) => {
              const t = tensor(Float64Array.from(v), { shape: ishape });
              return strided ? asStridedView(t) : t;
            }),
        });
      });
    }),
  );

describe('gather', () => {
  it('matches out[c] = x[c with axis ← index[c]] (index shape smaller than x, views, negatives)', () => {
    fc.assert(
      fc.property(gatherCaseArb, ({ x, ax, index }) => {
        const out = gather(x, ax - x.ndim, index);
        const n = x.shape[ax]!;
        const nested = x.toArray();
        const idx = index.toArray();
        const expected = coords(index.shape).map((c) => at(nested, withAxis(c, ax, (at(idx, c) + n) % n)));
        expectExact(out, index.shape, x.dtype, expected);
      }),
    );
  });

  it('rejects mismatched ranks, oversized index axes and out-of-range entries', () => {
    const x = zeros([2, 3]);
    expect(() => gather(x, 0, zeros([2]))).toThrow(ShapeError);
    expect(() => gather(x, 0, zeros([2, 4]))).toThrow(
      /^gather: index of shape \[2,4\] does not fit x of shape \[2,3\]/,
    );
    expect(() => gather(x, 0, zeros([5, 3]))).not.toThrow();
    expect(() => gather(x, 1, tensor([[3]]))).toThrow(/^gather: index 3 is out of range for axis 1 of size 3/);
    expect(() => gather(x, 1, tensor([[0.5]]))).toThrow(IndexError);
    expect(() => gather(x, 2, zeros([1, 1]))).toThrow(IndexError);
  });
});

describe('scatterAdd', () => {
  const scatterCaseArb = gatherCaseArb.chain((c) =>
    fc
      .record({
        c: fc.constant(c),
        extra: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: c.x.ndim, maxLength: c.x.ndim }),
        srcDtype: dtypeArb,
      })
      .chain(({ c, extra, srcDtype }) =>
        fc.record({
          c: fc.constant(c),
          src: inputArb(
            c.index.shape.map((d, k) => d + extra[k]!),
            srcDtype,
          ),
        }),
      ),
  );

  it('matches a naive accumulation and uses only the index-shaped corner of src', () => {
    fc.assert(
      fc.property(scatterCaseArb, ({ c: { x, ax, index }, src }) => {
        const out = scatterAdd(x, ax, index, src);
        const n = x.shape[ax]!;
        const dtype = promote(x.dtype, src.dtype);
        const xNested = x.toArray();
        const expected = coords(x.shape).map((c) => at(xNested, c));
        const flatIndex = (c: readonly number[]): number => c.reduce((f, k, d) => f * x.shape[d]! + k, 0);
        const idx = index.toArray();
        const srcNested = src.toArray();
        for (const c of coords(index.shape))
          expected[flatIndex(withAxis(c, ax, (at(idx, c) + n) % n))]! += at(srcNested, c);
        expect([...out.shape]).toEqual([...x.shape]);
        expect(out.dtype).toBe(dtype);
        expectClose(out, expected, dtype === 'float64' ? { rtol: 1e-15, atol: 1e-15 } : { rtol: 1e-6, atol: 1e-5 });
      }),
    );
  });

  it('is the adjoint of gather: <gather(x, i), g> = <x, scatterAdd(0, i, g)>', () => {
    const caseArb = gatherCaseArb.chain((c) => fc.record({ c: fc.constant(c), g: tensorArb(c.index.shape) }));
    fc.assert(
      fc.property(caseArb, ({ c: { x, ax, index }, g }) => {
        const x64 = x.astype('float64');
        const lhs = dot(gather(x64, ax, index), g);
        const rhs = dot(x64, scatterAdd(zeros(x.shape), ax, index, g));
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-10 * (1 + Math.abs(lhs)));
      }),
    );
  });

  it('leaves base untouched and rejects bad shapes', () => {
    const base = zeros([2, 2]);
    const out = scatterAdd(
      base,
      1,
      tensor([
        [1, 1],
        [0, 0],
      ]),
      tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    expect(out.toArray()).toEqual([
      [0, 3],
      [7, 0],
    ]);
    expect(base.toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(() => scatterAdd(base, 1, zeros([2, 2]), zeros([2, 1]))).toThrow(
      /^scatterAdd: index of shape \[2,2\] does not fit src of shape \[2,1\]/,
    );
    expect(() => scatterAdd(base, 1, zeros([3, 1]), zeros([3, 1]))).toThrow(
      /^scatterAdd: index of shape \[3,1\] does not fit base of shape \[2,2\]/,
    );
    expect(() => scatterAdd(base, 0, tensor([[2, 0]]), zeros([1, 2]))).toThrow(
      /^scatterAdd: index 2 is out of range for axis 0 of size 2/,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('diagonal and diagEmbed', () => {
  const matArb = shapeArb({ minRank: 2, maxRank: 4, maxDim: 4 }).chain((s) =>
    fc.tuple(inputArb(s), dtypeArb).map(([t, dt]) => t.astype(dt)),
  );

  it('diagonal takes x[..., i, i] and is a view with stride = sum of the last two strides', () => {
    fc.assert(
      fc.property(matArb, (x) => {
        const d = diagonal(x);
        const r = x.ndim;
        const k = Math.min(x.shape[r - 2]!, x.shape[r - 1]!);
        const shape = [...x.shape.slice(0, -2), k];
        const nested = x.toArray();
        const expected = coords(shape).map((c) => at(nested, [...c, c[c.length - 1]!]));
        expectExact(d, shape, x.dtype, expected);
        expect(d.data).toBe(x.data);
        expect(d.strides[r - 2]).toBe(x.strides[r - 2]! + x.strides[r - 1]!);
      }),
    );
  });

  it('diagonal writes through to its base', () => {
    const x = zeros([2, 3]);
    diagonal(x.mT).set([1], 5);
    expect(x.toArray()).toEqual([
      [0, 0, 0],
      [0, 5, 0],
    ]);
  });

  it('diagEmbed puts v on the diagonal of zero matrices; diagonal(diagEmbed(v)) = v', () => {
    const vArb = shapeArb({ minRank: 1, maxRank: 3, maxDim: 4 }).chain((s) =>
      fc.tuple(inputArb(s), dtypeArb).map(([t, dt]) => t.astype(dt)),
    );
    fc.assert(
      fc.property(vArb, (v) => {
        const m = diagEmbed(v);
        const shape = [...v.shape, v.shape[v.ndim - 1]!];
        const nested = v.toArray();
        const expected = coords(shape).map((c) => {
          const [i, j] = c.slice(-2) as [number, number];
          return i === j ? at(nested, c.slice(0, -1)) : 0;
        });
        expectExact(m, shape, v.dtype, expected);
        expectExact(diagonal(m), v.shape, v.dtype, Array.from(v.toTypedArray()));
      }),
    );
  });

  it('reject inputs of too low rank', () => {
    expect(() => diagonal(zeros([3]))).toThrow(/^diagonal: needs at least 2 axes, got shape \[3\]/);
    expect(() => diagEmbed(tensor(1))).toThrow(ShapeError);
  });
});

describe('tril and triu', () => {
  const caseArb = fc.record({
    x: shapeArb({ minRank: 2, maxRank: 4, maxDim: 4 }).chain((s) =>
      fc.tuple(inputArb(s), dtypeArb).map(([t, dt]) => t.astype(dt)),
    ),
    k: fc.integer({ min: -5, max: 5 }),
  });

  it('zero the entries outside the band j ≤ i + k (tril) or j ≥ i + k (triu)', () => {
    fc.assert(
      fc.property(caseArb, ({ x, k }) => {
        const nested = x.toArray();
        const ref = (keep: (i: number, j: number) => boolean): number[] =>
          coords(x.shape).map((c) => {
            const [i, j] = c.slice(-2) as [number, number];
            return keep(i, j) ? at(nested, c) : 0;
          });
        expectExact(
          tril(x, k),
          x.shape,
          x.dtype,
          ref((i, j) => j <= i + k),
        );
        expectExact(
          triu(x, k),
          x.shape,
          x.dtype,
          ref((i, j) => j >= i + k),
        );
      }),
    );
  });

  it('copy their input and reject bad arguments', () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    tril(x).set([0, 0], 9);
    expect(x.get(0, 0)).toBe(1);
    expect(() => tril(zeros([3]))).toThrow(/^tril: needs at least 2 axes/);
    expect(() => triu(x, 0.5)).toThrow(/^triu: diagonal offset k must be an integer/);
  });
});

describe('flip', () => {
  it('reverses the listed axes (default all) as a view', () => {
    const caseArb = shapeArb({ maxRank: 4, maxDim: 3 }).chain((s) =>
      fc.record({
        x: inputArb(s),
        axes: fc.option(fc.subarray(s.map((_, i) => i)), { nil: undefined }),
        negate: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ x, axes, negate }) => {
        const given = axes === undefined ? undefined : negate ? axes.map((a) => a - x.ndim) : axes;
        const out = flip(x, given);
        const flipped = axes ?? x.shape.map((_, i) => i);
        const nested = x.toArray();
        const expected = coords(x.shape).map((c) =>
          at(
            nested,
            c.map((k, d) => (flipped.includes(d) ? x.shape[d]! - 1 - k : k)),
          ),
        );
        expectExact(out, x.shape, x.dtype, expected);
        expect(out.data).toBe(x.data);
        expectExact(flip(out, given), x.shape, x.dtype, Array.from(x.toTypedArray()));
      }),
    );
  });

  it('writes through to its base and rejects repeated or bad axes', () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    flip(x, 1).set([0, 0], 30);
    expect(x.get(0, 2)).toBe(30);
    expect(() => flip(x, [1, -1])).toThrow(/^flip: axis 1 repeated/);
    expect(() => flip(x, 2)).toThrow(IndexError);
  });
});
