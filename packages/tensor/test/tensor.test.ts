import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DTypeError,
  IndexError,
  ShapeError,
  Tensor,
  ValueError,
  arange,
  eye,
  full,
  linspace,
  ones,
  scalar,
  tensor,
  zeros,
  type DType,
  type NestedArray,
  type SliceSpec,
} from '@hyperconn/tensor';
import { asStridedView, dtypeArb, shapeArb, valuesArb } from '../../../test/support/arbitraries';
import { coords } from '../../../test/support/coords';

// ---------------------------------------------------------------------------------------------
// Naive references

/** Flat C-order position of a coordinate. */
function ravel(c: readonly number[], shape: readonly number[]): number {
  return c.reduce((f, k, d) => f * shape[d]! + k, 0);
}

/** Nested arrays of a shape filled in C order from `values`. */
function nest(shape: readonly number[], values: readonly number[]): NestedArray {
  if (shape.length === 0) return values[0]!;
  let pos = 0;
  const build = (axis: number): NestedArray[] =>
    Array.from({ length: shape[axis]! }, () => (axis === shape.length - 1 ? values[pos++]! : build(axis + 1)));
  return build(0);
}

const round = (dtype: DType) => (dtype === 'float32' ? Math.fround : (x: number) => x);

/** A tensor with known C-order values `v`, as a contiguous tensor or as a strided view. */
const knownArb = fc
  .record({ shape: shapeArb({ maxRank: 4, maxDim: 4 }), dtype: dtypeArb, strided: fc.boolean() })
  .chain(({ shape, dtype, strided }) =>
    valuesArb(shape.reduce((a, b) => a * b, 1)).map((raw) => {
      const v = raw.map(round(dtype));
      const base = tensor(dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), { shape });
      return { x: strided ? asStridedView(base) : base, v, shape, dtype };
    }),
  );

function cOrder(t: Tensor): number[] {
  return Array.from(t.toTypedArray());
}

/** CPython's slice.indices(): the indices a[start:stop:step] picks from a sequence of length n. */
function pySliceIndices(
  n: number,
  start: number | null | undefined,
  stop: number | null | undefined,
  step: number | undefined,
): number[] {
  const st = step ?? 1;
  const BIG = Number.MAX_SAFE_INTEGER;
  let a = start ?? (st < 0 ? BIG : 0);
  let b = stop ?? (st < 0 ? -BIG : BIG);
  const adjust = (v: number): number => {
    if (v < 0) {
      v += n;
      if (v < 0) v = st < 0 ? -1 : 0;
    } else if (v >= n) v = st < 0 ? n - 1 : n;
    return v;
  };
  a = adjust(a);
  b = adjust(b);
  const len = st < 0 ? (b < a ? Math.floor((a - b - 1) / -st) + 1 : 0) : a < b ? Math.floor((b - a - 1) / st) + 1 : 0;
  return Array.from({ length: len }, (_, i) => a + i * st);
}

// ---------------------------------------------------------------------------------------------

describe('construction and toArray', () => {
  it('round-trips nested arrays of any shape (size-0 axes and 0-d included), in both dtypes', () => {
    const caseArb = fc
      .record({ shape: shapeArb({ maxRank: 4, maxDim: 3 }), dtype: dtypeArb })
      .chain(({ shape, dtype }) => valuesArb(shape.reduce((a, b) => a * b, 1)).map((v) => ({ shape, dtype, v })));
    fc.assert(
      fc.property(caseArb, ({ shape, dtype, v }) => {
        const t = tensor(nest(shape, v), { dtype });
        // an empty nested array cannot say how long its missing inner axes are
        const inferred = shape.indexOf(0) === -1 ? shape : shape.slice(0, shape.indexOf(0) + 1);
        expect([...t.shape]).toEqual(inferred);
        expect(t.dtype).toBe(dtype);
        expect(t.toArray()).toEqual(nest(inferred, v.map(round(dtype))));
        expect(t.size).toBe(v.length);
        expect(t.ndim).toBe(inferred.length);
      }),
    );
  });

  it('wraps a typed array of the requested dtype without copying, converts otherwise', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(data, { shape: [2, 3] });
    expect(t.data).toBe(data);
    expect(t.dtype).toBe('float32');
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const u = tensor(new Float64Array([0.1, 0.2]), { dtype: 'float32' });
    expect(u.dtype).toBe('float32');
    expect(Array.from(u.data)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { shape: [4] },
      ).toArray(),
    ).toEqual([1, 2, 3, 4]);
    expect(tensor(7).toArray()).toBe(7);
    expect(scalar(-2.5, { dtype: 'float32' }).shape).toEqual([]);
  });

  it('rejects ragged arrays, foreign typed arrays, non-numbers and bad shapes with typed errors', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([[1, 2], [3]])).toThrow(/^tensor: nested arrays are ragged/);
    expect(() => tensor([1, [2]])).toThrow(/^tensor: nested arrays are ragged/);
    expect(() => tensor([[1], 2])).toThrow(ShapeError);
    expect(() => tensor([[], [1]])).toThrow(ShapeError);
    expect(() => tensor(['a'] as unknown as NestedArray)).toThrow(ValueError);
    expect(() => tensor([1, 'a'] as unknown as NestedArray)).toThrow(/^tensor: elements must be numbers/);
    expect(() => tensor(new Int32Array(2) as unknown as Float64Array)).toThrow(DTypeError);
    expect(() => tensor(new Float64Array(5), { shape: [2, 3] })).toThrow(/^tensor: 5 values do not fill shape \[2,3\]/);
    expect(() => tensor(new Float64Array(2), { shape: [-1, -2] })).toThrow(ValueError);
    expect(() => tensor([1, 2, 3], { shape: [2] })).toThrow(/^reshape: /);
  });
});

describe('constructors against closed forms', () => {
  it('zeros, ones and full fill every element, in both dtypes', () => {
    fc.assert(
      fc.property(shapeArb(), dtypeArb, fc.double({ noNaN: false }), (shape, dtype, value) => {
        const size = shape.reduce((a, b) => a * b, 1);
        for (const [t, x] of [
          [zeros(shape, { dtype }), 0],
          [ones(shape, { dtype }), 1],
          [full(shape, value, { dtype }), round(dtype)(value)],
        ] as const) {
          expect([...t.shape]).toEqual(shape);
          expect(t.dtype).toBe(dtype);
          expect(t.isContiguous()).toBe(true);
          expect(cOrder(t)).toEqual(new Array<number>(size).fill(x));
        }
      }),
    );
    expect(Object.is(full([1], -0).get(0), -0)).toBe(true);
    expect(zeros([2]).dtype).toBe('float64');
  });

  it('eye(n, m) is 1 on the diagonal and 0 elsewhere', () => {
    for (let n = 0; n <= 4; n++) {
      for (let m = 0; m <= 4; m++) {
        const t = eye(n, m, { dtype: 'float32' });
        expect([...t.shape]).toEqual([n, m]);
        expect(t.dtype).toBe('float32');
        expect(cOrder(t)).toEqual(coords([n, m]).map(([i, j]) => (i === j ? 1 : 0)));
      }
    }
    expect(cOrder(eye(3))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('arange: length max(0, ⌈(stop − start)/step⌉) and values start + i·step', () => {
    const argsArb = fc.tuple(
      fc.integer({ min: -20, max: 20 }),
      fc.integer({ min: -20, max: 20 }),
      fc.constantFrom(1, 2, 3, -1, -2, 0.5, -0.25, 0.1),
      dtypeArb,
    );
    fc.assert(
      fc.property(argsArb, ([start, stop, step, dtype]) => {
        const t = arange(start, stop, step, { dtype });
        const n = Math.max(0, Math.ceil((stop - start) / step));
        expect([...t.shape]).toEqual([n]);
        expect(t.dtype).toBe(dtype);
        expect(cOrder(t)).toEqual(Array.from({ length: n }, (_, i) => round(dtype)(start + i * step)));
      }),
    );
    expect(cOrder(arange(5))).toEqual([0, 1, 2, 3, 4]);
    expect(cOrder(arange(0))).toEqual([]);
    expect(cOrder(arange(-3))).toEqual([]);
    expect(cOrder(arange(2, 5))).toEqual([2, 3, 4]);
    expect(cOrder(arange(5, 1, -2))).toEqual([5, 3]);
  });

  it('linspace: exact endpoints, evenly spaced values, num 0 and 1', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.integer({ min: 2, max: 50 }),
        (a, b, num) => {
          const v = cOrder(linspace(a, b, num));
          expect(v.length).toBe(num);
          expect(v[0]).toBe(a);
          expect(v[num - 1]).toBe(b);
          const step = (b - a) / (num - 1);
          // relative rounding of the step, plus an absolute floor for subnormal endpoints
          v.forEach((x, i) => {
            expect(Math.abs(x - (a + i * step))).toBeLessThanOrEqual(
              4 * Number.EPSILON * (Math.abs(a) + Math.abs(b)) + 4 * Number.MIN_VALUE,
            );
          });
        },
      ),
    );
    expect(cOrder(linspace(0, 1, 5))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(cOrder(linspace(3, 7, 1))).toEqual([3]);
    expect(cOrder(linspace(3, 7, 0))).toEqual([]);
    expect(linspace(0, 1, 3, { dtype: 'float32' }).dtype).toBe('float32');
  });

  it('reject bad arguments with typed errors naming the op', () => {
    expect(() => zeros([2, -1])).toThrow(ValueError);
    expect(() => zeros([2, -1])).toThrow(/^zeros: shape entries must be non-negative integers, got \[2,-1\]/);
    expect(() => ones([1.5])).toThrow(/^ones: /);
    expect(() => full([NaN], 1)).toThrow(/^full: /);
    expect(() => eye(-1)).toThrow(/^eye: /);
    expect(() => eye(2, 0.5)).toThrow(ValueError);
    expect(() => arange(0, 5, 0)).toThrow(/^arange: /);
    expect(() => arange(0, Infinity)).toThrow(ValueError);
    expect(() => arange(NaN)).toThrow(ValueError);
    expect(() => linspace(0, 1, -1)).toThrow(/^linspace: num must be a non-negative integer/);
    expect(() => linspace(0, 1, 2.5)).toThrow(ValueError);
    expect(() => linspace(0, NaN, 3)).toThrow(/^linspace: start and stop must be finite/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('element access', () => {
  it('get, set and item follow the C-order layout, with negative indices', () => {
    fc.assert(
      fc.property(knownArb, ({ x, v, shape }) => {
        for (const c of coords(shape)) {
          expect(x.get(...c)).toBe(v[ravel(c, shape)]);
          expect(x.get(...c.map((k, d) => k - shape[d]!))).toBe(v[ravel(c, shape)]);
        }
      }),
    );
    const t = zeros([2, 3]);
    t.set([1, -1], 4);
    expect(cOrder(t)).toEqual([0, 0, 0, 0, 0, 4]);
    expect(scalar(3).item()).toBe(3);
    expect(tensor([[5]]).item()).toBe(5);
    expect(zeros([3, 2]).slice(2, [1]).item()).toBe(0);
  });

  it('reject wrong index counts, out-of-range and non-integer indices', () => {
    const t = zeros([2, 3]);
    expect(() => t.get(0)).toThrow(/^get: expected 2 indices for shape \[2,3\], got 1/);
    expect(() => t.get(0, 3)).toThrow(/^get: index 3 is out of range for axis 1 of size 3/);
    expect(() => t.get(-3, 0)).toThrow(IndexError);
    expect(() => t.get(0.5, 0)).toThrow(IndexError);
    expect(() => t.set([2, 0], 1)).toThrow(/^set: index 2 is out of range for axis 0 of size 2/);
    expect(() => t.item()).toThrow(/^item: tensor of shape \[2,3\] has 6 elements, not 1/);
    expect(() => zeros([0]).item()).toThrow(ShapeError);
  });
});

describe('layout: isContiguous, contiguous, clone, astype', () => {
  it('isContiguous recognises C order (size-1 axes with any stride, empty tensors)', () => {
    expect(zeros([2, 3]).isContiguous()).toBe(true);
    expect(zeros([2, 3]).transpose().isContiguous()).toBe(false);
    expect(zeros([4, 3]).slice([1, 3]).isContiguous()).toBe(true);
    expect(zeros([4, 3]).slice(null, [0, 3, 2]).isContiguous()).toBe(false);
    expect(zeros([3, 1]).transpose().isContiguous()).toBe(true);
    expect(zeros([0, 3]).transpose().isContiguous()).toBe(true);
    expect(zeros([3]).expand([2, 3]).isContiguous()).toBe(false);
    expect(new Tensor(new Float64Array(10), [2, 1, 2], [2, 99, 1], 5).isContiguous()).toBe(true);
  });

  it('contiguous returns the tensor itself or a copy; clone always copies', () => {
    fc.assert(
      fc.property(knownArb, ({ x, v, dtype }) => {
        const c = x.contiguous();
        expect(c.isContiguous()).toBe(true);
        expect(cOrder(c)).toEqual(v);
        if (x.isContiguous()) expect(c).toBe(x);
        else expect(c.data).not.toBe(x.data);
        const k = x.clone();
        expect(k.data).not.toBe(x.data);
        expect(k.dtype).toBe(dtype);
        expect(cOrder(k)).toEqual(v);
        if (v.length > 0) {
          k.set(new Array<number>(x.ndim).fill(0), 1234.5);
          expect(cOrder(x)).toEqual(v);
        }
      }),
    );
  });

  it('astype rounds to float32 and widens exactly, returning the tensor when the dtype is unchanged', () => {
    fc.assert(
      fc.property(knownArb, ({ x, v, dtype }) => {
        const other: DType = dtype === 'float64' ? 'float32' : 'float64';
        const y = x.astype(other);
        expect(y.dtype).toBe(other);
        expect([...y.shape]).toEqual([...x.shape]);
        expect(cOrder(y)).toEqual(v.map(round(other)));
        expect(x.astype(dtype)).toBe(x);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('reshape', () => {
  /** Target shapes with the same number of elements, one of them with a -1. */
  function targets(size: number, shape: readonly number[]): number[][] {
    const out = [[size], [-1], [...shape].reverse(), [1, size, 1], [size, -1]];
    for (let a = 1; a <= size; a++) if (size % a === 0) out.push([a, size / a], [a, -1, 1]);
    return out.filter((t) => !(size === 0 && t.includes(-1)));
  }

  it('keeps the C-order element sequence; a view when contiguous, a copy otherwise', () => {
    const caseArb = knownArb.chain((k) =>
      fc.record({ k: fc.constant(k), target: fc.constantFrom(...targets(k.v.length, k.shape)) }),
    );
    fc.assert(
      fc.property(caseArb, ({ k: { x, v }, target }) => {
        const r = x.reshape(target);
        const free = target.indexOf(-1);
        const expectedShape =
          free === -1
            ? target
            : target.map((d) => (d === -1 ? v.length / target.filter((e) => e !== -1).reduce((p, q) => p * q, 1) : d));
        expect([...r.shape]).toEqual(expectedShape);
        expect(cOrder(r)).toEqual(v);
        if (v.length === 0) return;
        const last = r.shape.map((d) => d - 1);
        r.set(last, 4321);
        const seen = x.get(...x.shape.map((d) => d - 1));
        if (x.isContiguous()) {
          expect(r.data).toBe(x.data);
          expect(seen).toBe(4321);
        } else {
          expect(r.data).not.toBe(x.data);
          expect(seen).toBe(v[v.length - 1]);
        }
      }),
    );
  });

  it('flatten is reshape([-1])', () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]).transpose();
    expect(x.flatten().toArray()).toEqual([1, 3, 2, 4]);
    expect(scalar(2).flatten().toArray()).toEqual([2]);
  });

  it('rejects impossible shapes with typed errors', () => {
    const x = zeros([2, 3]);
    expect(() => x.reshape([4])).toThrow(/^reshape: cannot reshape \[2,3\] \(6 elements\) into \[4\]/);
    expect(() => x.reshape([-1, -1])).toThrow(/^reshape: at most one -1/);
    expect(() => x.reshape([4, -1])).toThrow(/^reshape: cannot infer -1 in \[4,-1\] for 6 elements/);
    expect(() => zeros([0, 3]).reshape([0, -1])).toThrow(ShapeError);
    expect(() => x.reshape([-2, -3])).toThrow(ValueError);
    expect(() => x.reshape([1.5, 4])).toThrow(ValueError);
  });
});

// ---------------------------------------------------------------------------------------------

/** A slice spec for an axis of length n: an index, null, or a tuple with bounds beyond ±n. */
function specArb(n: number): fc.Arbitrary<SliceSpec> {
  const bound = fc.option(fc.integer({ min: -2 * n - 2, max: 2 * n + 2 }), { nil: null });
  const step = fc.option(fc.constantFrom(1, 2, 3, -1, -2, -3), { nil: undefined });
  const tuple = fc
    .tuple(bound, bound, step, fc.integer({ min: 0, max: 3 }))
    .map(([a, b, s, len]) => [a, b, s].slice(0, len) as unknown as SliceSpec);
  const options: fc.Arbitrary<SliceSpec>[] = [fc.constant(null), tuple, tuple];
  if (n > 0) options.push(fc.integer({ min: -n, max: n - 1 }));
  return fc.oneof(...options);
}

describe('slice', () => {
  it('matches Python slicing semantics (negative indices and steps, clamped bounds, empty results) as a view', () => {
    const caseArb = knownArb.chain((k) =>
      fc.integer({ min: 0, max: k.shape.length }).chain((count) =>
        fc.record({
          k: fc.constant(k),
          specs: fc.tuple(...k.shape.slice(0, count).map(specArb)) as fc.Arbitrary<SliceSpec[]>,
        }),
      ),
    );
    fc.assert(
      fc.property(caseArb, ({ k: { x, v, shape }, specs }) => {
        const s = x.slice(...specs);
        // per input axis: a fixed index (axis dropped) or the list of picked indices
        const picks = shape.map((n, d) => {
          const spec = d < specs.length ? specs[d] : null;
          if (typeof spec === 'number') return spec < 0 ? spec + n : spec;
          if (spec === null || spec === undefined) return pySliceIndices(n, null, null, 1);
          const [a, b, st] = spec;
          return pySliceIndices(n, a, b, st);
        });
        const outShape = picks.filter((p): p is number[] => Array.isArray(p)).map((p) => p.length);
        expect([...s.shape]).toEqual(outShape);
        const toInput = (c: readonly number[]): number[] => {
          let j = 0;
          return picks.map((p) => (Array.isArray(p) ? p[c[j++]!]! : p));
        };
        const outCoords = coords(outShape);
        expect(cOrder(s)).toEqual(outCoords.map((c) => v[ravel(toInput(c), shape)]));
        // a view: writing through it is seen by x
        expect(s.data).toBe(x.data);
        if (outCoords.length > 0) {
          const c = outCoords[outCoords.length - 1]!;
          s.set(c, -777);
          expect(x.get(...toInput(c))).toBe(-777);
        }
      }),
    );
  });

  it('gives the Python results on hand-checked cases', () => {
    const a = arange(10);
    expect(cOrder(a.slice([null, null, -3]))).toEqual([9, 6, 3, 0]);
    expect(cOrder(a.slice([-100, 100, 4]))).toEqual([0, 4, 8]);
    expect(cOrder(a.slice([3, -100, -1]))).toEqual([3, 2, 1, 0]);
    expect(cOrder(a.slice([100, 5, -2]))).toEqual([9, 7]);
    expect(cOrder(a.slice([-11, null, -1]))).toEqual([]);
    expect(cOrder(a.slice([null, -11, -1]))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(cOrder(a.slice([2, 2]))).toEqual([]);
    expect(cOrder(a.slice([7]))).toEqual([7, 8, 9]);
    expect(a.slice(-1).shape).toEqual([]);
    expect(a.slice(-1).item()).toBe(9);
    expect(
      cOrder(
        tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]).slice(null, 1),
      ),
    ).toEqual([2, 5]);
  });

  it('rejects bad specs with typed errors naming the axis', () => {
    const x = zeros([2, 3]);
    expect(() => x.slice(null, null, null)).toThrow(/^slice: 3 specs for a tensor of rank 2/);
    expect(() => x.slice(null, 3)).toThrow(/^slice: index 3 is out of range for axis 1 of size 3/);
    expect(() => x.slice(-3)).toThrow(IndexError);
    expect(() => x.slice([0, 2, 0])).toThrow(/^slice: step must be a non-zero integer, got 0 on axis 0/);
    expect(() => x.slice(null, [0.5, 2])).toThrow(/^slice: bound 0.5 on axis 1/);
    expect(() => zeros([0]).slice(0)).toThrow(IndexError);
  });
});

// ---------------------------------------------------------------------------------------------

describe('axis views: permute, transpose, expand, squeeze, unsqueeze', () => {
  it('permute maps output coordinate c to input coordinate c∘perm⁻¹, as a view', () => {
    const caseArb = knownArb.chain((k) =>
      fc.record({
        k: fc.constant(k),
        perm: fc.shuffledSubarray([...k.shape.keys()], { minLength: k.shape.length, maxLength: k.shape.length }),
        negate: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ k: { x, v, shape }, perm, negate }) => {
        const p = x.permute(negate ? perm.map((a) => a - shape.length) : perm);
        const outShape = perm.map((a) => shape[a]!);
        expect([...p.shape]).toEqual(outShape);
        const toInput = (c: readonly number[]): number[] => {
          const inp = new Array<number>(shape.length);
          perm.forEach((a, i) => {
            inp[a] = c[i]!;
          });
          return inp;
        };
        expect(cOrder(p)).toEqual(coords(outShape).map((c) => v[ravel(toInput(c), shape)]));
        expect(p.data).toBe(x.data);
      }),
    );
  });

  it('transpose swaps two axes (default the last two) and mT is the matrix transpose', () => {
    const x = tensor([
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ]);
    expect(x.transpose().toArray()).toEqual([
      [
        [1, 4],
        [2, 5],
        [3, 6],
      ],
    ]);
    expect(x.mT.toArray()).toEqual([
      [
        [1, 4],
        [2, 5],
        [3, 6],
      ],
    ]);
    expect(x.transpose(0, 2).toArray()).toEqual([
      [[1], [4]],
      [[2], [5]],
      [[3], [6]],
    ]);
    const v = tensor([1, 2]);
    expect(v.transpose()).toBe(v);
    x.transpose().set([0, 2, 1], 60);
    expect(x.get(0, 1, 2)).toBe(60);
    expect(() => v.mT).toThrow(/^mT: needs at least 2 axes, got shape \[2\]/);
    expect(() => x.transpose(0, 3)).toThrow(/^transpose: axis 3 is out of range for a tensor of rank 3/);
    expect(() => x.permute([0, 1])).toThrow(ShapeError);
    expect(() => x.permute([0, 1, 1])).toThrow(/^permute: axes \[0,1,1\] are not a permutation/);
  });

  it('expand broadcasts size-1 axes and adds leading axes with stride 0, as a view', () => {
    const caseArb = knownArb.chain((k) =>
      fc.record({
        k: fc.constant(k),
        sizes: fc.tuple(
          ...k.shape.map((d) => (d === 1 ? fc.integer({ min: 0, max: 3 }) : fc.constant(d))),
        ) as fc.Arbitrary<number[]>,
        lead: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ k: { x, v, shape }, sizes, lead }) => {
        const target = [...lead, ...sizes];
        const e = x.expand(target);
        expect([...e.shape]).toEqual(target);
        const toInput = (c: readonly number[]): number[] => shape.map((d, i) => (d === 1 ? 0 : c[lead.length + i]!));
        expect(cOrder(e)).toEqual(coords(target).map((c) => v[ravel(toInput(c), shape)]));
        expect(e.data).toBe(x.data);
      }),
    );
    const base = tensor([[1], [2]]);
    const e = base.expand([3, 2, 4]);
    e.set([2, 1, 3], 9);
    expect(base.toArray()).toEqual([[1], [9]]);
    expect(e.get(0, 1, 0)).toBe(9);
    expect(base.expand([2, 1])).toBe(base);
    expect(() => base.expand([2, 3, 2])).toThrow(/^expand: cannot expand \[2,1\] to \[2,3,2\] \(axis 0: 2 ≠ 3\)/);
    expect(() => base.expand([2])).toThrow(/^expand: cannot expand \[2,1\] to fewer axes/);
    expect(() => base.expand([2, -1])).toThrow(ValueError);
  });

  it('squeeze and unsqueeze change only the shape, as views', () => {
    fc.assert(
      fc.property(knownArb, fc.nat(), ({ x, v, shape }, pick) => {
        const all = x.squeeze();
        expect([...all.shape]).toEqual(shape.filter((d) => d !== 1));
        expect(cOrder(all)).toEqual(v);
        const ones = shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
        const some = ones.filter((_, i) => (pick >> i) & 1);
        const part = x.squeeze(some);
        expect([...part.shape]).toEqual(shape.filter((_, i) => !some.includes(i)));
        expect(cOrder(part)).toEqual(v);
        const at = (pick % (shape.length + 1)) - (pick % 2 === 0 ? 0 : shape.length + 1);
        const u = x.unsqueeze(at);
        const expected = [...shape];
        expected.splice(at < 0 ? at + shape.length + 1 : at, 0, 1);
        expect([...u.shape]).toEqual(expected);
        expect(cOrder(u)).toEqual(v);
        expect(u.squeeze(at).shape).toEqual(shape);
        expect(u.data).toBe(x.data);
        expect(part.data).toBe(x.data);
      }),
    );
    expect(() => zeros([2, 1]).squeeze(0)).toThrow(/^squeeze: axis 0 of shape \[2,1\] has size 2, not 1/);
    expect(() => zeros([2, 1]).squeeze(2)).toThrow(IndexError);
    expect(() => zeros([2]).unsqueeze(2)).toThrow(/^unsqueeze: axis 2 is out of range for a tensor of rank 2/);
  });

  it('views alias their base in both directions', () => {
    const base = arange(12).reshape([3, 4]);
    const view = base.slice([1, null], [null, null, -2]).transpose();
    expect(view.toArray()).toEqual([
      [7, 11],
      [5, 9],
    ]);
    view.set([1, 0], 50);
    expect(base.get(1, 1)).toBe(50);
    base.set([2, 3], 110);
    expect(view.get(0, 1)).toBe(110);
  });
});

// ---------------------------------------------------------------------------------------------

describe('toString', () => {
  it('prints like NumPy: 0-d, empty, float32, matrices, 3-d, non-finite and summarised tensors', () => {
    expect(String(scalar(3))).toBe('tensor(3., shape=[], dtype=float64)');
    expect(String(scalar(-0.1, { dtype: 'float32' }))).toBe('tensor(-0.1, shape=[], dtype=float32)');
    expect(String(zeros([0]))).toBe('tensor([], shape=[0], dtype=float64)');
    expect(String(zeros([2, 0]))).toBe('tensor([[],\n        []], shape=[2,0], dtype=float64)');
    expect(String(tensor([1, 2.5, -3]))).toBe('tensor([ 1., 2.5, -3.], shape=[3], dtype=float64)');
    expect(String(tensor([0.1, 1e-5, 2.5], { dtype: 'float32' }))).toBe(
      'tensor([      0.1, 1.0000e-5,       2.5], shape=[3], dtype=float32)',
    );
    expect(
      String(
        tensor([
          [1, 2],
          [3, 40],
        ]).transpose(),
      ),
    ).toBe('tensor([[ 1.,  3.],\n        [ 2., 40.]], shape=[2,2], dtype=float64)');
    expect(String(arange(8).reshape([2, 2, 2]))).toBe(
      'tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., ' +
        '5.],\n         [6., 7.]]], shape=[2,2,2], dtype=float64)',
    );
    expect(String(tensor([NaN, Infinity, -Infinity]))).toBe('tensor([ nan,  inf, -inf], shape=[3], dtype=float64)');
    expect(String(arange(1001))).toBe(
      'tensor([   0.,    1.,    2., ...,  998.,  999., 1000.], shape=[1001], dtype=float64)',
    );
  });
});
