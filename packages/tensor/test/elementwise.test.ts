import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as T from '@hyperconn/tensor';
import { ShapeError, type Tensor, ValueError, tensor, type DType } from '@hyperconn/tensor';
import {
  broadcastablePairArb,
  dtypeArb,
  layoutArb,
  shapeArb,
  tensorArb,
  withLayout,
} from '../../../test/support/arbitraries';
import { expectClose, tolFor } from '../../../test/support/assert';

// ---------------------------------------------------------------------------------------------
// Independent references

/** NumPy broadcasting done the slow way: every output index mapped back into each input. */
function broadcastReference(
  inputs: { values: ArrayLike<number>; shape: readonly number[] }[],
  f: (...v: number[]) => number,
): { shape: number[]; values: number[] } {
  const ndim = Math.max(0, ...inputs.map((x) => x.shape.length));
  const aligned = inputs.map((x) => [...new Array<number>(ndim - x.shape.length).fill(1), ...x.shape]);
  const shape = Array.from({ length: ndim }, (_, ax) => {
    const dims = aligned.map((s) => s[ax]!).filter((d) => d !== 1);
    return dims.length === 0 ? 1 : dims[0]!;
  });
  const size = shape.reduce((p, d) => p * d, 1);
  const values: number[] = [];
  const index = new Array<number>(ndim).fill(0);
  for (let k = 0; k < size; k++) {
    const args = inputs.map((x, j) => {
      let flat = 0;
      for (let ax = 0; ax < ndim; ax++) flat = flat * aligned[j]![ax]! + (aligned[j]![ax] === 1 ? 0 : index[ax]!);
      return x.values[flat]!;
    });
    values.push(f(...args));
    for (let ax = ndim - 1; ax >= 0 && ++index[ax]! === shape[ax]; ax--) index[ax] = 0;
  }
  return { shape, values };
}

/** erf by its Maclaurin series, summed in float64 until the terms vanish (accurate to ~1e-15 for |x| ≤ 2). */
function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const promote = (a: DType, b: DType): DType => (a === 'float64' || b === 'float64' ? 'float64' : 'float32');
const roundTo = (dtype: DType, v: number): number => (dtype === 'float32' ? Math.fround(v) : v);

/** A random tensor of `shape` and dtype under a random layout; integer values when `ties` (to get equal pairs). */
function operandArb(
  shape: number[],
  dtype: DType,
  range: { min?: number; max?: number } = {},
  ties = false,
): fc.Arbitrary<Tensor> {
  const size = shape.reduce((p, d) => p * d, 1);
  const values = ties
    ? fc
        .array(fc.integer({ min: -2, max: 2 }), { minLength: size, maxLength: size })
        .map((v) => tensor(dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), { shape }))
    : tensorArb(shape, dtype, range);
  return fc.tuple(values, layoutArb).map(([t, layout]) => withLayout(t, layout));
}

// ---------------------------------------------------------------------------------------------
// Unary ops

interface UnaryCase {
  op: (x: Tensor) => Tensor;
  ref: (x: number) => number;
  range?: { min: number; max: number };
}

const unaryCases: Record<string, UnaryCase> = {
  neg: { op: T.neg, ref: (x) => -x },
  exp: { op: T.exp, ref: Math.exp },
  log: { op: T.log, ref: Math.log, range: { min: 1e-3, max: 10 } },
  log1p: {
    op: T.log1p,
    ref: (x) => (Math.abs(x) < 1e-4 ? x - (x * x) / 2 + (x * x * x) / 3 : Math.log(1 + x)),
    range: { min: -0.99, max: 10 },
  },
  expm1: { op: T.expm1, ref: (x) => (Math.abs(x) < 1e-4 ? x + (x * x) / 2 + (x * x * x) / 6 : Math.exp(x) - 1) },
  sqrt: { op: T.sqrt, ref: Math.sqrt, range: { min: 0, max: 10 } },
  abs: { op: T.abs, ref: (x) => (x < 0 ? -x : x) },
  sign: { op: T.sign, ref: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0) },
  square: { op: T.square, ref: (x) => x * x },
  reciprocal: { op: T.reciprocal, ref: (x) => 1 / x },
  tanh: {
    op: T.tanh,
    ref: (x) =>
      Math.abs(x) < 1e-3 ? x - (x * x * x) / 3 + (2 * x ** 5) / 15 : (Math.exp(2 * x) - 1) / (Math.exp(2 * x) + 1),
    range: { min: -5, max: 5 },
  },
  sigmoid: { op: T.sigmoid, ref: (x) => 1 / (1 + Math.exp(-x)) },
  relu: { op: T.relu, ref: (x) => Math.max(x, 0) },
  gelu: { op: T.gelu, ref: (x) => 0.5 * x * (1 + erfSeries(x / Math.SQRT2)), range: { min: -2.5, max: 2.5 } },
  erf: { op: T.erf, ref: erfSeries, range: { min: -2, max: 2 } },
  erfc: { op: T.erfc, ref: (x) => 1 - erfSeries(x), range: { min: -2, max: 0.4 } },
  sin: { op: T.sin, ref: Math.sin },
  cos: { op: T.cos, ref: Math.cos },
  softplus: { op: T.softplus, ref: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))) },
};

describe('unary ops', () => {
  for (const [name, c] of Object.entries(unaryCases)) {
    it(`${name} matches its reference on random shapes, dtypes and layouts`, () => {
      fc.assert(
        fc.property(
          fc.tuple(shapeArb(), dtypeArb).chain(([shape, dtype]) => operandArb(shape, dtype, c.range ?? {})),
          (x) => {
            const y = c.op(x);
            expect(y.dtype).toBe(x.dtype);
            expect(y.isContiguous()).toBe(true);
            expect(y.data).not.toBe(x.data);
            // the float64 value rounded to the dtype is what an ideal kernel returns (float32 may overflow)
            const expected = [...x.toTypedArray()].map((v) => roundTo(x.dtype, c.ref(v)));
            expectClose(y, tensor(Float64Array.from(expected), { shape: x.shape }), tolFor(x.dtype, 4));
          },
        ),
      );
    });
  }

  it('propagate NaN', () => {
    const nan = tensor([NaN]);
    for (const [name, c] of Object.entries(unaryCases)) {
      expect(Number.isNaN(c.op(nan).item()), name).toBe(true);
    }
  });

  it('sigmoid is exact 0/1 far in the tails and never NaN', () => {
    expectClose(T.sigmoid(tensor([-1000, 745, 1000, -Infinity, Infinity, 0])), [0, 1, 1, 0, 1, 0.5], {
      rtol: 1e-15,
      atol: 0,
    });
    // relative precision in the left tail: sigmoid(x) = e^x / (1 + e^x)
    // (and where e^−x overflows, −745 < x < −709.8, e^x is still representable)
    expectClose(
      T.sigmoid(tensor([-40, -700, -720])),
      [Math.exp(-40) / (1 + Math.exp(-40)), Math.exp(-700), Math.exp(-720)],
      { rtol: 1e-15, atol: 0 },
    );
  });

  it('softplus is stable at ±1000 and keeps relative precision for very negative x', () => {
    expectClose(T.softplus(tensor([-1000, 1000, -Infinity, Infinity, 0])), [0, 1000, 0, Infinity, Math.LN2], {
      rtol: 1e-15,
      atol: 0,
    });
    // log(1 + e^x) ≈ e^x − e^{2x}/2 for very negative x
    const x = [-40, -100, -700];
    expectClose(
      T.softplus(tensor(x)),
      x.map((v) => Math.exp(v) - Math.exp(2 * v) / 2),
      { rtol: 1e-15, atol: 0 },
    );
  });

  // Reference values from mpmath at 50 digits, rounded to float64.
  const erfTable: [number, number][] = [
    [0, 0],
    [1e-300, 1.1283791670955126e-300],
    [1e-20, 1.1283791670955125e-20],
    [1e-8, 1.1283791670955126e-8],
    [0.001, 0.0011283787909692365],
    [0.1, 0.1124629160182849],
    [0.2, 0.22270258921047847],
    [0.3, 0.3286267594591274],
    [0.46875, 0.49261347321793797],
    [0.5, 0.5204998778130465],
    [0.6, 0.6038560908479259],
    [0.75, 0.7111556336535151],
    [1, 0.8427007929497149],
    [1.25, 0.9229001282564583],
    [1.9, 0.9927904292352575],
    [2, 0.9953222650189527],
    [2.75, 0.9998993780778803],
    [3.3, 0.9999969422902035],
    [3.5, 0.9999992569016276],
    [4, 0.9999999845827421],
    [4.5, 0.9999999998033839],
    [5.5, 0.9999999999999927],
    [6, 1],
  ];
  const geluTable: [number, number][] = [
    [-30, -1.472014178144456e-196],
    [-20, -5.507248237212468e-88],
    [-12, -2.1317785344932147e-32],
    [-8, -4.976768459417427e-15],
    [-5, -1.4332578593959695e-6],
    [-3, -0.0040496940948902835],
    [-1.5, -0.1002108019032871],
    [-1, -0.15865525393145705],
    [-0.5, -0.15426876936299344],
    [-0.1, -0.0460172162722971],
    [-1e-10, -4.999999999601058e-11],
    [0, 0],
    [1e-10, 5.000000000398942e-11],
    [0.1, 0.053982783727702904],
    [0.5, 0.34573123063700656],
    [1, 0.8413447460685429],
    [1.5, 1.399789198096713],
    [3, 2.99595030590511],
    [5, 4.999998566742141],
    [8, 7.999999999999995],
    [12, 12],
  ];

  it('erf matches high-precision values to a few ulp (and is odd)', () => {
    const x = erfTable.map(([v]) => v);
    const expected = erfTable.map(([, e]) => e);
    expectClose(T.erf(tensor(x)), expected, { rtol: 5e-16, atol: 0 });
    expectClose(
      T.erf(tensor(x.map((v) => -v))),
      expected.map((e) => -e),
      { rtol: 5e-16, atol: 0 },
    );
    expectClose(T.erf(tensor([Infinity, -Infinity, 30, -30])), [1, -1, 1, -1], { rtol: 0, atol: 0 });
  });

  it('erfc matches high-precision values to a few ulp, deep into the tail', () => {
    // mpmath at 50 digits; non-integer tail points so that x² is inexact and exp(−x²) must be split
    const table: [number, number][] = [
      [-3.3, 1.9999969422902035],
      [-1, 1.8427007929497148],
      [-0.2, 1.2227025892104784],
      [0, 1],
      [0.2, 0.7772974107895215],
      [0.46875, 0.507386526782062],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [2.5, 0.0004069520174449589],
      [3.9, 3.4792248597231765e-8],
      [4.2, 2.8554941795921843e-9],
      [5.3, 6.613081850340811e-14],
      [7.77, 4.343717238924727e-28],
      [10.3, 4.5947618530992265e-48],
      [15.55, 3.510021446620196e-107],
      [20.2, 1.7219587652557267e-179],
      [25.9, 1.0202833184732667e-293],
    ];
    expectClose(
      T.erfc(tensor(table.map(([v]) => v))),
      table.map(([, e]) => e),
      { rtol: 2e-15, atol: 0 },
    );
    expectClose(T.erfc(tensor([Infinity, -Infinity, 30])), [0, 2, 0], { rtol: 0, atol: 0 });
  });

  it('erf agrees with its Maclaurin series for |x| ≤ 2', () => {
    fc.assert(
      fc.property(fc.double({ min: -2, max: 2, noNaN: true }), (v) => {
        expectClose(T.erf(tensor([v])), [erfSeries(v)], { rtol: 2e-15, atol: 1e-300 });
      }),
    );
  });

  it('gelu is the exact erf form, with full relative precision in the left tail', () => {
    // the relative error of any float64 gelu grows like x² (rounding of x/√2 is amplified by erfc's slope)
    for (const [v, e] of geluTable) expectClose(T.gelu(tensor([v])), [e], { rtol: 4e-16 * (4 + v * v), atol: 0 });
    expectClose(T.gelu(tensor([-Infinity, Infinity, -1000])), [0, Infinity, 0], { rtol: 0, atol: 0 });
  });

  it('sign, relu and abs treat signed zeros and infinities as IEEE does', () => {
    expect(Object.is(T.sign(tensor([-0])).item(), -0)).toBe(true);
    expectClose(T.sign(tensor([-Infinity, -2, 0, 3, Infinity])), [-1, -1, 0, 1, 1], { rtol: 0, atol: 0 });
    expectClose(T.relu(tensor([-Infinity, -1, 0, 2, Infinity])), [0, 0, 0, 2, Infinity], { rtol: 0, atol: 0 });
    expectClose(T.abs(tensor([-Infinity, -0, 3])), [Infinity, 0, 3], { rtol: 0, atol: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// Binary ops

interface BinaryCase {
  op: (a: Tensor | number, b: Tensor | number) => Tensor;
  ref: (a: number, b: number) => number;
  /** Ranges of a and b; integer values (many ties) when `ties`. */
  a?: { min: number; max: number };
  b?: { min: number; max: number };
  ties?: boolean;
}

const binaryCases: Record<string, BinaryCase> = {
  add: { op: T.add, ref: (a, b) => a + b },
  sub: { op: T.sub, ref: (a, b) => a - b },
  mul: { op: T.mul, ref: (a, b) => a * b },
  div: { op: T.div, ref: (a, b) => a / b, b: { min: 0.5, max: 10 } },
  pow: { op: T.pow, ref: (a, b) => Math.exp(b * Math.log(a)), a: { min: 0.1, max: 4 }, b: { min: -3, max: 3 } },
  maximum: { op: T.maximum, ref: (a, b) => Math.max(a, b), ties: true },
  minimum: { op: T.minimum, ref: (a, b) => Math.min(a, b), ties: true },
  eq: { op: T.eq, ref: (a, b) => (a === b ? 1 : 0), ties: true },
  ne: { op: T.ne, ref: (a, b) => (a === b ? 0 : 1), ties: true },
  lt: { op: T.lt, ref: (a, b) => (b - a > 0 ? 1 : 0), ties: true },
  le: { op: T.le, ref: (a, b) => (b - a >= 0 ? 1 : 0), ties: true },
  gt: { op: T.gt, ref: (a, b) => (a - b > 0 ? 1 : 0), ties: true },
  ge: { op: T.ge, ref: (a, b) => (a - b >= 0 ? 1 : 0), ties: true },
};

describe('binary ops', () => {
  for (const [name, c] of Object.entries(binaryCases)) {
    it(`${name} broadcasts like NumPy over random shapes, dtypes and layouts`, () => {
      fc.assert(
        fc.property(
          fc
            .tuple(broadcastablePairArb(), dtypeArb, dtypeArb, fc.boolean())
            .chain(([[sa, sb], da, db, swap]) =>
              fc.tuple(
                operandArb(swap ? sb : sa, da, c.a ?? {}, c.ties),
                operandArb(swap ? sa : sb, db, c.b ?? {}, c.ties),
              ),
            ),
          ([a, b]) => {
            const y = c.op(a, b);
            const expected = broadcastReference(
              [
                { values: a.toTypedArray(), shape: a.shape },
                { values: b.toTypedArray(), shape: b.shape },
              ],
              c.ref,
            );
            const dtype = promote(a.dtype, b.dtype);
            expected.values = expected.values.map((v) => roundTo(dtype, v));
            expect(y.dtype).toBe(dtype);
            expect(y.isContiguous()).toBe(true);
            expectClose(y, tensor(Float64Array.from(expected.values), { shape: expected.shape }), tolFor(dtype, 4));
          },
        ),
      );
    });

    it(`${name} takes a number on either side, in the tensor's dtype`, () => {
      fc.assert(
        fc.property(
          fc
            .tuple(shapeArb(), dtypeArb, fc.boolean())
            .chain(([shape, dtype, numberFirst]) =>
              fc.tuple(
                operandArb(shape, dtype, (numberFirst ? c.b : c.a) ?? {}, c.ties),
                c.ties
                  ? fc.integer({ min: -2, max: 2 })
                  : fc.double({ ...((numberFirst ? c.a : c.b) ?? { min: -10, max: 10 }), noNaN: true }),
                fc.constant(numberFirst),
              ),
            ),
          ([t, s, numberFirst]) => {
            const y = numberFirst ? c.op(s, t) : c.op(t, s);
            const v = roundTo(t.dtype, s);
            const expected = [...t.toTypedArray()].map((x) =>
              roundTo(t.dtype, numberFirst ? c.ref(v, x) : c.ref(x, v)),
            );
            expect(y.dtype).toBe(t.dtype);
            expectClose(y, tensor(Float64Array.from(expected), { shape: t.shape }), tolFor(t.dtype, 4));
          },
        ),
      );
    });
  }

  it('handle large transposed operands (the tiled walk), edges included', () => {
    const x = tensor(
      Float64Array.from({ length: 3 * 70 * 90 }, (_, i) => Math.sin(i)),
      { shape: [3, 70, 90] },
    );
    const xt = x.transpose(1, 2); // [3, 90, 70], transposed in its last two axes
    const row = tensor(Float64Array.from({ length: 70 }, (_, i) => i));
    const expected = broadcastReference(
      [
        { values: xt.toTypedArray(), shape: xt.shape },
        { values: row.toTypedArray(), shape: row.shape },
      ],
      (a, b) => a * b,
    );
    expectClose(T.mul(xt, row), tensor(Float64Array.from(expected.values), { shape: expected.shape }), {
      rtol: 0,
      atol: 0,
    });
    expectClose(T.exp(xt), tensor(Float64Array.from(xt.toTypedArray(), Math.exp), { shape: xt.shape }), {
      rtol: 0,
      atol: 0,
    });
  });

  it('name the op and both shapes when shapes do not broadcast', () => {
    fc.assert(
      fc.property(
        shapeArb({ minRank: 1, minDim: 2 }),
        fc.nat(),
        fc.integer({ min: 1, max: 3 }),
        (shape, which, delta) => {
          const other = [...shape];
          const ax = which % shape.length;
          other[ax] = shape[ax]! + delta;
          for (const [name, c] of Object.entries(binaryCases)) {
            const call = () => c.op(T.zeros(shape), T.zeros(other));
            expect(call).toThrow(ShapeError);
            expect(call).toThrow(new RegExp(`^${name}: .*\\[${shape.join(',')}\\].*\\[${other.join(',')}\\]`));
          }
        },
      ),
      { numRuns: 20 },
    );
  });

  it('refuse two numbers', () => {
    expect(() => T.add(1, 2)).toThrow(ValueError);
    expect(() => T.add(1, 2)).toThrow(/^add: /);
  });

  it('maximum and minimum propagate NaN from either side', () => {
    const a = tensor([NaN, 1, NaN, -Infinity]);
    const b = tensor([1, NaN, NaN, 2]);
    expectClose(T.maximum(a, b), [NaN, NaN, NaN, 2]);
    expectClose(T.minimum(a, b), [NaN, NaN, NaN, -Infinity]);
    expectClose(T.maximum(a, 0), [NaN, 1, NaN, 0]);
  });

  it('comparisons treat NaN as unequal to everything', () => {
    const a = tensor([NaN, NaN, 1]);
    const b = tensor([NaN, 1, 1]);
    expectClose(T.eq(a, b), [0, 0, 1], { rtol: 0, atol: 0 });
    expectClose(T.ne(a, b), [1, 1, 0], { rtol: 0, atol: 0 });
    for (const op of [T.lt, T.le, T.gt, T.ge])
      expectClose(op(a, b), [0, 0, op === T.le || op === T.ge ? 1 : 0], { rtol: 0, atol: 0 });
  });

  it('pow follows C99/NumPy on special cases', () => {
    const a = tensor([1, 1, -1, -8, -2, 0, 0, NaN, 2, -0.5]);
    const b = tensor([NaN, Infinity, -Infinity, 1 / 3, 3, -1, 0, 0, -1, 2]);
    expectClose(T.pow(a, b), [1, 1, 1, NaN, -8, Infinity, 1, 1, 0.5, 0.25], { rtol: 0, atol: 0 });
  });

  it('a float32 number is rounded to float32 before comparing', () => {
    const x = tensor([0.1], { dtype: 'float32' });
    expect(T.eq(x, 0.1).item()).toBe(1);
    expect(T.eq(x.astype('float64'), 0.1).item()).toBe(0);
  });

  it('mixed dtypes promote to float64 without losing float64 precision', () => {
    const a = tensor([1 + 2 ** -40], { dtype: 'float64' });
    const b = tensor([1], { dtype: 'float32' });
    const y = T.sub(a, b);
    expect(y.dtype).toBe('float64');
    expect(y.item()).toBe(2 ** -40);
  });
});

// ---------------------------------------------------------------------------------------------
// clamp and where

describe('clamp', () => {
  it('limits to [min, max] with either bound optional', () => {
    fc.assert(
      fc.property(
        fc.tuple(shapeArb(), dtypeArb).chain(([shape, dtype]) => operandArb(shape, dtype)),
        fc.option(fc.double({ min: -10, max: 0, noNaN: true }), { nil: undefined }),
        fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: undefined }),
        (x, lo, hi) => {
          const y = T.clamp(x, lo, hi);
          const l = roundTo(x.dtype, lo ?? -Infinity);
          const h = roundTo(x.dtype, hi ?? Infinity);
          const expected = [...x.toTypedArray()].map((v) => Math.min(Math.max(v, l), h));
          expect(y.dtype).toBe(x.dtype);
          expectClose(y, tensor(Float64Array.from(expected), { shape: x.shape }), { rtol: 0, atol: 0 });
        },
      ),
    );
  });

  it('keeps NaN elements and rejects bad bounds', () => {
    expectClose(T.clamp(tensor([NaN, -5, 5]), -1, 1), [NaN, -1, 1]);
    expect(() => T.clamp(tensor([1]), 2, 1)).toThrow(ValueError);
    expect(() => T.clamp(tensor([1]), 2, 1)).toThrow(/^clamp: .*min 2.*max 1/);
    expect(() => T.clamp(tensor([1]), NaN)).toThrow(ValueError);
  });
});

describe('where', () => {
  it('selects with three-way broadcasting', () => {
    // a third shape that broadcasts with both: a suffix of the first with some axes set to 1
    const shapes = broadcastablePairArb().chain(([s1, s2]) =>
      fc
        .tuple(fc.nat({ max: s1.length }), fc.array(fc.boolean(), { minLength: s1.length, maxLength: s1.length }))
        .map(([drop, ones]) => [s1, s2, s1.map((d, i) => (ones[i] ? 1 : d)).slice(drop)] as const),
    );
    fc.assert(
      fc.property(
        shapes
          .chain(([s1, s2, s3]) =>
            fc.tuple(
              fc.shuffledSubarray([s1, s2, s3], { minLength: 3, maxLength: 3 }),
              dtypeArb,
              dtypeArb,
              fc.constantFrom('tensors', 'aNumber', 'bNumber', 'numbers'),
            ),
          )
          .chain(([[sc, sa, sb], da, db, kind]) =>
            fc.tuple(
              operandArb(sc!, 'float64', {}, true),
              kind === 'aNumber' || kind === 'numbers'
                ? fc.double({ min: -10, max: 10, noNaN: true })
                : operandArb(sa!, da),
              kind === 'bNumber' || kind === 'numbers'
                ? fc.double({ min: -10, max: 10, noNaN: true })
                : operandArb(sb!, db),
            ),
          ),
        ([cond, a, b]) => {
          const dtype =
            typeof a === 'number'
              ? typeof b === 'number'
                ? cond.dtype
                : b.dtype
              : typeof b === 'number'
                ? a.dtype
                : promote(a.dtype, b.dtype);
          const asInput = (v: Tensor | number) =>
            typeof v === 'number'
              ? { values: [roundTo(dtype, v)], shape: [] }
              : { values: v.toTypedArray(), shape: v.shape };
          const expected = broadcastReference([asInput(cond), asInput(a), asInput(b)], (c, x, y) => (c !== 0 ? x : y));
          const y = T.where(cond, a, b);
          expect(y.dtype).toBe(dtype);
          expectClose(y, tensor(Float64Array.from(expected.values), { shape: expected.shape }), { rtol: 0, atol: 0 });
        },
      ),
    );
  });

  it('counts NaN as true and names itself on shape errors', () => {
    expectClose(T.where(tensor([NaN, 0, -0, 2]), 1, tensor([5, 6, 7, 8])), [1, 6, 7, 1], { rtol: 0, atol: 0 });
    expect(() => T.where(T.zeros([2]), T.zeros([3]), 0)).toThrow(/^where: .*\[2\].*\[3\]/);
  });
});
