import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as T from '@hyperconn/tensor';
import { IndexError, type Tensor, ValueError, sizeOf, tensor } from '@hyperconn/tensor';
import { dtypeArb, layoutArb, shapeArb, tensorArb, withLayout } from '../../../test/support/arbitraries';
import { expectClose, tolFor } from '../../../test/support/assert';

// ---------------------------------------------------------------------------------------------
// Independent references: every input index visited in C order, folded into its output slot.

type Axes = number | number[] | undefined;

/** The reduced axes of `axes` (undefined = all), normalised and sorted. */
function axisSet(axes: Axes, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  return list.map((a) => (a < 0 ? a + ndim : a)).sort((a, b) => a - b);
}

function reducedShape(shape: readonly number[], reduced: number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (reduced.includes(i) ? 1 : d)) : shape.filter((_, i) => !reduced.includes(i));
}

/** For every output slot, the list of input values that reduce into it (in C order). */
function slices(x: Tensor, reduced: number[]): number[][] {
  const shape = x.shape;
  const values = x.toTypedArray();
  const kept = shape.map((_, i) => i).filter((i) => !reduced.includes(i));
  const outSize = kept.reduce((p, i) => p * shape[i]!, 1);
  const groups: number[][] = Array.from({ length: outSize }, () => []);
  const index = shape.map(() => 0);
  for (let k = 0; k < values.length; k++) {
    let slot = 0;
    for (const i of kept) slot = slot * shape[i]! + index[i]!;
    groups[slot]!.push(values[k]!);
    for (let ax = shape.length - 1; ax >= 0 && ++index[ax]! === shape[ax]; ax--) index[ax] = 0;
  }
  return groups;
}

function reference(x: Tensor, axes: Axes, keepDims: boolean, f: (v: number[]) => number): Tensor {
  const reduced = axisSet(axes, x.ndim);
  const out = slices(x, reduced).map((g) => {
    const r = f(g);
    return x.dtype === 'float32' ? Math.fround(r) : r;
  });
  return tensor(Float64Array.from(out), { shape: reducedShape(x.shape, reduced, keepDims) });
}

const naiveSum = (v: number[]) => v.reduce((s, x) => s + x, 0);
const naiveMax = (v: number[]) => (v.some(Number.isNaN) ? NaN : v.reduce((m, x) => Math.max(x, m), -Infinity));
const naiveMin = (v: number[]) => (v.some(Number.isNaN) ? NaN : v.reduce((m, x) => Math.min(x, m), Infinity));
const naiveVariance = (correction: number) => (v: number[]) => {
  const mu = naiveSum(v) / v.length;
  return v.reduce((s, x) => s + (x - mu) ** 2, 0) / (v.length - correction);
};

/**
 * A tensor of random shape, dtype, values and layout, with a random `axes` argument (including
 * negative forms). With `specials`, some entries are NaN or ±∞.
 */
function caseArb({
  minDim = 0,
  range = {} as { min?: number; max?: number },
  specials = false,
} = {}): fc.Arbitrary<{ x: Tensor; axes: Axes; keepDims: boolean }> {
  const { min = -10, max = 10 } = range;
  const value = specials
    ? fc.oneof(
        { weight: 10, arbitrary: fc.double({ min, max, noNaN: true }) },
        { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
      )
    : fc.double({ min, max, noNaN: true });
  return fc.tuple(shapeArb({ minDim }), dtypeArb).chain(([shape, dtype]) =>
    fc.record({
      x: fc
        .tuple(
          fc
            .array(value, { minLength: sizeOf(shape), maxLength: sizeOf(shape) })
            .map((v) => tensor(v, { shape, dtype })),
          layoutArb,
        )
        .map(([t, l]) => withLayout(t, l)),
      axes: axesArb(shape.length),
      keepDims: fc.boolean(),
    }),
  );
}

function axesArb(ndim: number): fc.Arbitrary<Axes> {
  const axis = (a: number) => fc.boolean().map((neg) => (neg ? a - ndim : a));
  const all = Array.from({ length: ndim }, (_, i) => i);
  const options: fc.Arbitrary<Axes>[] = [
    fc.constant(undefined),
    fc
      .shuffledSubarray(all)
      .chain((sub): fc.Arbitrary<number[]> => (sub.length === 0 ? fc.constant([]) : fc.tuple(...sub.map(axis)))),
  ];
  if (ndim > 0) options.push(fc.integer({ min: 0, max: ndim - 1 }).chain(axis));
  return fc.oneof(...options);
}

const hasEmptyReducedAxis = (x: Tensor, axes: Axes) => axisSet(axes, x.ndim).some((a) => x.shape[a] === 0);

// ---------------------------------------------------------------------------------------------

describe('sum, mean, prod, max, min', () => {
  const cases: [string, (x: Tensor, axes: Axes, keepDims: boolean) => Tensor, (v: number[]) => number, boolean][] = [
    ['sum', T.sum, naiveSum, false],
    ['mean', T.mean, (v) => naiveSum(v) / v.length, true],
    ['prod', T.prod, (v) => v.reduce((p, x) => p * x, 1), false],
    ['max', T.max, naiveMax, true],
    ['min', T.min, naiveMin, true],
  ];
  for (const [name, op, ref, needsElements] of cases) {
    it(`${name} matches a naive loop over random shapes, axes, layouts and dtypes`, () => {
      fc.assert(
        fc.property(
          caseArb({ range: name === 'prod' ? { min: -2, max: 2 } : {}, specials: true }),
          ({ x, axes, keepDims }) => {
            if (needsElements && hasEmptyReducedAxis(x, axes)) {
              expect(() => op(x, axes, keepDims)).toThrow(ValueError);
              expect(() => op(x, axes, keepDims)).toThrow(
                new RegExp(`^${name}: .*axis \\d+ of shape \\[${x.shape.join(',')}\\]`),
              );
              return;
            }
            const y = op(x, axes, keepDims);
            expect(y.dtype).toBe(x.dtype);
            expectClose(y, reference(x, axes, keepDims, ref), tolFor(x.dtype));
          },
        ),
      );
    });
  }

  it('give the identity over zero elements where one exists', () => {
    const empty = T.zeros([2, 0, 3]);
    expectClose(T.sum(empty, 1), T.zeros([2, 3]));
    expectClose(T.prod(empty, [1, 2], true), T.ones([2, 1, 1]));
    expectClose(T.sum(empty), 0);
    expect(T.sum(empty).shape).toEqual([]);
    expectClose(T.max(empty, 0), T.zeros([0, 3])); // nothing reduced over an empty axis: the output is empty
  });

  it('throw a ValueError naming op and axis over an empty axis', () => {
    const x = T.zeros([3, 0]);
    for (const [name, op] of [
      ['max', T.max],
      ['min', T.min],
      ['mean', T.mean],
    ] as const) {
      expect(() => op(x, -1)).toThrow(ValueError);
      expect(() => op(x, -1)).toThrow(`${name}: cannot reduce over an empty axis: axis 1 of shape [3,0] has size 0`);
      expect(() => op(x)).toThrow(/axis 1/);
    }
  });

  it('propagate NaN and handle infinities', () => {
    const x = tensor([
      [1, NaN, 3],
      [Infinity, -Infinity, 0],
    ]);
    expectClose(T.max(x, 1), [NaN, Infinity]);
    expectClose(T.min(x, 1), [NaN, -Infinity]);
    expectClose(T.max(x, 0), [Infinity, NaN, 3]);
    expectClose(T.min(x, 0), [1, NaN, 0]);
    expectClose(T.sum(x, 1), [NaN, NaN]);
    expectClose(T.max(tensor([NaN, 5]), 0), NaN);
    expectClose(T.min(tensor([5, NaN, 1]), 0), NaN);
  });

  it('keep reduced axes as size 1 with keepDims', () => {
    const x = T.zeros([2, 3, 4, 5]);
    expect(T.sum(x, [1, -1], true).shape).toEqual([2, 1, 4, 1]);
    expect(T.sum(x, [1, -1]).shape).toEqual([2, 4]);
    expect(T.sum(x, undefined, true).shape).toEqual([1, 1, 1, 1]);
    expect(T.sum(x, []).shape).toEqual([2, 3, 4, 5]);
  });

  it('reject repeated and out-of-range axes with an IndexError naming the op', () => {
    const x = T.zeros([2, 3]);
    for (const [name, op] of [
      ['sum', T.sum],
      ['mean', T.mean],
      ['max', T.max],
      ['logsumexp', T.logsumexp],
      ['variance', T.variance],
      ['norm', T.norm],
    ] as const) {
      expect(() => op(x, [1, -1])).toThrow(IndexError);
      expect(() => op(x, [1, -1])).toThrow(new RegExp(`^${name}: axis 1 repeated`));
      expect(() => op(x, 2)).toThrow(new RegExp(`^${name}: axis 2 is out of range`));
    }
  });

  it('sum leading axes of a large batch exactly like a naive loop (the autograd batch reduction)', () => {
    const n = 300;
    const d = 7;
    const x = tensor(
      Float64Array.from({ length: n * d }, (_, i) => Math.sin(i) * 1e3),
      { shape: [n, d] },
    );
    expectClose(T.sum(x, 0), reference(x, 0, false, naiveSum), { rtol: 0, atol: 0 });
    expectClose(T.sum(x.mT, 1), reference(x, 0, false, naiveSum), { rtol: 0, atol: 0 });
  });

  it('reduce large transposed inputs (the tiled walk) in the same order as a naive loop', () => {
    const x = tensor(
      Float64Array.from({ length: 2 * 100 * 75 }, (_, i) => Math.sin(i) * 1e3),
      { shape: [2, 100, 75] },
    ).transpose(1, 2);
    for (const axes of [1, 2, [0, 2], [1, 2]]) {
      expectClose(T.sum(x, axes), reference(x, axes, false, naiveSum), { rtol: 0, atol: 0 });
      expectClose(T.max(x, axes, true), reference(x, axes, true, naiveMax), { rtol: 0, atol: 0 });
    }
  });
});

describe('logsumexp', () => {
  it('matches log Σ exp on moderate values', () => {
    fc.assert(
      fc.property(caseArb({ minDim: 1 }), ({ x, axes, keepDims }) => {
        const ref = (v: number[]) => Math.log(v.reduce((s, t) => s + Math.exp(t), 0));
        expectClose(T.logsumexp(x, axes, keepDims), reference(x, axes, keepDims, ref), tolFor(x.dtype, 4));
      }),
    );
  });

  it('is stable for huge logits and exact at infinities', () => {
    const rows = [
      [1e308, 1e308],
      [1e308, -Infinity],
      [-Infinity, -Infinity],
      [Infinity, 1],
      [Infinity, -Infinity],
      [NaN, 1],
      [1000, 1000],
      [-1e308, -1e308],
    ];
    const expected = [1e308 + Math.LN2, 1e308, -Infinity, Infinity, Infinity, NaN, 1000 + Math.LN2, -1e308 + Math.LN2];
    expectClose(T.logsumexp(tensor(rows), 1), expected, { rtol: 1e-15, atol: 0 });
  });

  it('is −∞ over zero elements', () => {
    expectClose(T.logsumexp(T.zeros([2, 0]), 1), [-Infinity, -Infinity]);
    expectClose(T.logsumexp(T.zeros([0])), -Infinity);
  });
});

describe('variance', () => {
  it('matches the two-pass formula for corrections 0 and 1', () => {
    fc.assert(
      fc.property(caseArb(), fc.constantFrom(0, 1), ({ x, axes, keepDims }, correction) => {
        const count = axisSet(axes, x.ndim).reduce((p, a) => p * x.shape[a]!, 1);
        if (count - correction <= 0) {
          expect(() => T.variance(x, axes, keepDims, correction)).toThrow(ValueError);
          expect(() => T.variance(x, axes, keepDims, correction)).toThrow(/^variance: .*degrees of freedom/);
          return;
        }
        expectClose(
          T.variance(x, axes, keepDims, correction),
          reference(x, axes, keepDims, naiveVariance(correction)),
          tolFor(x.dtype, 4),
        );
      }),
    );
  });

  it('has no cancellation for a large common offset', () => {
    const x = tensor([1e9 + 1, 1e9 + 2, 1e9 + 3]);
    expectClose(T.variance(x), 2 / 3, { rtol: 1e-9, atol: 0 });
  });

  it('rejects a negative or non-finite correction', () => {
    expect(() => T.variance(tensor([1, 2]), 0, false, -1)).toThrow(ValueError);
    expect(() => T.variance(tensor([1, 2]), 0, false, NaN)).toThrow(/^variance: correction/);
  });
});

describe('norm', () => {
  it('matches √Σx² over random axes', () => {
    fc.assert(
      fc.property(caseArb(), ({ x, axes, keepDims }) => {
        const ref = (v: number[]) => Math.sqrt(v.reduce((s, t) => s + t * t, 0));
        expectClose(T.norm(x, axes, keepDims), reference(x, axes, keepDims, ref), tolFor(x.dtype, 4));
      }),
    );
  });

  it('neither overflows nor underflows, and handles ∞, NaN and empty input', () => {
    const rows = [
      [1e200, 1e200],
      [3e-200, 4e-200],
      [Infinity, 1],
      [-Infinity, NaN],
      [0, 0],
    ];
    expectClose(T.norm(tensor(rows), 1), [Math.SQRT2 * 1e200, 5e-200, Infinity, NaN, 0], { rtol: 1e-15, atol: 0 });
    expectClose(T.norm(T.zeros([0, 3])), 0);
  });
});

// ---------------------------------------------------------------------------------------------

/** A tensor of rank ≥ 1 with a random axis, layout and dtype. */
function laneCaseArb(opts: { minDim?: number; ties?: boolean } = {}): fc.Arbitrary<{ x: Tensor; axis: number }> {
  return fc.tuple(shapeArb({ minRank: 1, minDim: opts.minDim ?? 0 }), dtypeArb).chain(([shape, dtype]) => {
    const size = sizeOf(shape);
    const values = opts.ties
      ? fc
          .array(fc.integer({ min: -2, max: 2 }), { minLength: size, maxLength: size })
          .map((v) => tensor(v, { shape, dtype }))
      : tensorArb(shape, dtype);
    return fc.record({
      x: fc.tuple(values, layoutArb).map(([t, l]) => withLayout(t, l)),
      axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
    });
  });
}

/** Applies `f` to every lane along `axis` (values in order), writing lane results back in place. */
function mapLanes(x: Tensor, axis: number, f: (lane: number[]) => number[]): Tensor {
  const ax = axis < 0 ? axis + x.ndim : axis;
  const perm = [...x.shape.keys()].filter((i) => i !== ax).concat(ax);
  const moved = x.permute(perm);
  const len = x.shape[ax]!;
  const flat = [...moved.toTypedArray()];
  const out: number[] = [];
  for (let k = 0; k < flat.length; k += len)
    out.push(...f(flat.slice(k, k + len)).map((v) => (x.dtype === 'float32' ? Math.fround(v) : v)));
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return tensor(Float64Array.from(out), { shape: moved.shape }).permute(inverse);
}

describe('softmax and logSoftmax', () => {
  const naiveSoftmax = (v: number[]) => {
    const e = v.map(Math.exp);
    const s = naiveSum(e);
    return e.map((t) => t / s);
  };

  it('softmax matches exp/Σexp and each lane sums to 1', () => {
    fc.assert(
      fc.property(laneCaseArb(), ({ x, axis }) => {
        const y = T.softmax(x, axis);
        expect(y.dtype).toBe(x.dtype);
        expect(y.shape).toEqual(x.shape);
        expectClose(y, mapLanes(x, axis, naiveSoftmax), tolFor(x.dtype, 4));
        if (x.shape[axis < 0 ? axis + x.ndim : axis]! > 0) {
          expectClose(T.sum(y, axis), T.ones(T.sum(x, axis).shape), tolFor(x.dtype, 4));
        }
      }),
    );
  });

  it('logSoftmax matches x − log Σ exp(x)', () => {
    fc.assert(
      fc.property(laneCaseArb(), ({ x, axis }) => {
        const ref = (v: number[]) => {
          const lse = Math.log(naiveSum(v.map(Math.exp)));
          return v.map((t) => t - lse);
        };
        expectClose(T.logSoftmax(x, axis), mapLanes(x, axis, ref), tolFor(x.dtype, 8));
      }),
    );
  });

  it('are stable for huge logits and −∞ entries', () => {
    const x = tensor([
      [1e308, 0, -Infinity],
      [-1e308, -1e308, -Infinity],
      [1000, 1000, 999],
    ]);
    const e = Math.exp(-1);
    expectClose(
      T.softmax(x),
      tensor([
        [1, 0, 0],
        [0.5, 0.5, 0],
        [1 / (2 + e), 1 / (2 + e), e / (2 + e)],
      ]),
      { rtol: 1e-15, atol: 0 },
    );
    expectClose(
      T.logSoftmax(x),
      tensor([
        [0, -1e308, -Infinity],
        [-Math.LN2, -Math.LN2, -Infinity],
        [-Math.log(2 + e), -Math.log(2 + e), -1 - Math.log(2 + e)],
      ]),
      { rtol: 1e-15, atol: 0 },
    );
    expectClose(T.sum(T.softmax(x), -1), [1, 1, 1], { rtol: 1e-15, atol: 0 });
  });

  it('give NaN for a lane with no distribution (all −∞, or +∞) and name the op on a bad axis', () => {
    expectClose(
      T.softmax(
        tensor([
          [-Infinity, -Infinity],
          [Infinity, 0],
          [NaN, 0],
        ]),
      ),
      T.full([3, 2], NaN),
    );
    expect(() => T.softmax(T.zeros([2]), 1)).toThrow(/^softmax: axis 1/);
    expect(() => T.logSoftmax(T.zeros([2]), -2)).toThrow(/^logSoftmax: axis -2/);
  });
});

describe('argmax and argmin', () => {
  /** First index of the extreme, NaN counting as the extreme. */
  const naiveArg = (largest: boolean) => (v: number[]) => {
    const nan = v.findIndex(Number.isNaN);
    if (nan >= 0) return nan;
    let at = 0;
    for (let i = 1; i < v.length; i++) if (largest ? v[i]! > v[at]! : v[i]! < v[at]!) at = i;
    return at;
  };

  for (const [name, op, largest] of [
    ['argmax', T.argmax, true],
    ['argmin', T.argmin, false],
  ] as const) {
    it(`${name} finds the first extreme along an axis (ties included)`, () => {
      fc.assert(
        fc.property(laneCaseArb({ minDim: 1, ties: true }), fc.boolean(), ({ x, axis }, keepDims) => {
          const y = op(x, axis, keepDims);
          expect(y.dtype).toBe('float64');
          const expected = reference(x.astype('float64'), axis, keepDims, naiveArg(largest));
          expectClose(y, expected, { rtol: 0, atol: 0 });
        }),
      );
    });

    it(`${name} over the flattened tensor when no axis is given`, () => {
      fc.assert(
        fc.property(laneCaseArb({ minDim: 1, ties: true }), fc.boolean(), ({ x }, keepDims) => {
          const y = op(x, undefined, keepDims);
          expect(y.shape).toEqual(keepDims ? x.shape.map(() => 1) : []);
          expect(y.item()).toBe(naiveArg(largest)([...x.toTypedArray()]));
        }),
      );
    });

    it(`${name} counts the first NaN as the extreme and rejects empty axes`, () => {
      expectClose(
        op(
          tensor([
            [1, NaN, 5, NaN],
            [NaN, 9, 9, 0],
          ]),
          1,
        ),
        [1, 0],
        { rtol: 0, atol: 0 },
      );
      expect(() => op(T.zeros([2, 0]), 1)).toThrow(ValueError);
      expect(() => op(T.zeros([2, 0]), 1)).toThrow(
        `${name}: cannot reduce over an empty axis: axis 1 of shape [2,0] has size 0`,
      );
      expect(() => op(T.zeros([0, 2]), 1)).not.toThrow();
      expect(() => op(T.zeros([0, 2]))).toThrow(new RegExp(`^${name}: .*empty.*\\[0,2\\]`));
    });
  }
});
