import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShapeError, type Tensor, epsOf, matmul, tensor, zeros, type DType } from '@hyperconn/tensor';
import { asStridedView, broadcastablePairArb, dtypeArb, tensorArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

// ---------------------------------------------------------------------------------------------
// Naive reference

interface Reference {
  expected: Tensor;
  /** max over the result of Σ_p |a_ip·b_pj| (finite terms), the scale of the rounding error of any summation order. */
  scale: number;
  k: number;
}

/**
 * NumPy's matmul by the textbook triple loop in float64, reading the operands' values in C
 * order (so it shares no stride logic with the kernels).
 */
function referenceMatmul(a: Tensor, b: Tensor): Reference {
  const av = Float64Array.from(a.toTypedArray());
  const bv = Float64Array.from(b.toTypedArray());
  const aShape = a.ndim === 1 ? [1, a.shape[0]!] : [...a.shape];
  const bShape = b.ndim === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const [m, k] = aShape.slice(-2) as [number, number];
  const n = bShape[bShape.length - 1]!;
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const nb = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]): number[] => [...new Array<number>(nb - s.length).fill(1), ...s];
  const pa = pad(aBatch);
  const pb = pad(bBatch);
  const batch = pa.map((d, i) => (d === 1 ? pb[i]! : d));
  const count = batch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(count * m * n);
  let scale = 0;
  for (let t = 0; t < count; t++) {
    // Unravel t over the batch shape, then index each operand (size-1 axes broadcast).
    let rest = t;
    let ia = 0;
    let ib = 0;
    let strideA = 1;
    let strideB = 1;
    for (let ax = nb - 1; ax >= 0; ax--) {
      const idx = rest % batch[ax]!;
      rest = Math.floor(rest / batch[ax]!);
      ia += (pa[ax] === 1 ? 0 : idx) * strideA;
      ib += (pb[ax] === 1 ? 0 : idx) * strideB;
      strideA *= pa[ax]!;
      strideB *= pb[ax]!;
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let s1 = 0;
        for (let p = 0; p < k; p++) {
          const x = av[ia * m * k + i * k + p]!;
          const y = bv[ib * k * n + p * n + j]!;
          s += x * y;
          if (Number.isFinite(x * y)) s1 += Math.abs(x * y);
        }
        out[(t * m + i) * n + j] = s;
        scale = Math.max(scale, s1);
      }
    }
  }
  const shape = [...batch, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])];
  return { expected: tensor(out, { shape }), scale, k };
}

/**
 * Checks a product against the reference within the standard bound for a k-term sum,
 * (k + 1)·eps·Σ|a||b|; the +1 covers the final rounding of a float32 result, and the
 * smallest subnormal of the dtype covers results that underflow when rounded to it.
 */
function expectMatmul(actual: Tensor, a: Tensor, b: Tensor, dtype: DType): void {
  const ref = referenceMatmul(a, b);
  expect(actual.dtype).toBe(dtype);
  expect(actual.isContiguous()).toBe(true);
  const tiniest = dtype === 'float32' ? 2 ** -149 : 2 ** -1074;
  expectClose(actual, ref.expected, { rtol: 0, atol: (ref.k + 1) * epsOf(dtype) * ref.scale + tiniest });
}

// ---------------------------------------------------------------------------------------------
// Layouts: the same values behind different strides

type Layout = 'contiguous' | 'reversed' | 'matrixTransposed' | 'stepped' | 'flipped';
const layoutArb = fc.constantFrom<Layout>('contiguous', 'reversed', 'matrixTransposed', 'stepped', 'flipped');

/** A view with the values of `t` (contiguous) but other strides and offset. */
function withLayout(t: Tensor, layout: Layout): Tensor {
  const n = t.ndim;
  switch (layout) {
    case 'contiguous':
      return t;
    case 'reversed':
      // every axis reversed in storage: a column-major matrix
      return asStridedView(t);
    case 'matrixTransposed':
      // what autograd passes: the transpose of a contiguous matrix, batch axes untouched
      return n < 2 ? t : t.mT.contiguous().mT;
    case 'stepped': {
      // every other element of a twice-as-long last axis, at an offset
      if (n === 0) return t;
      const shape = [...t.shape];
      shape[n - 1] = 2 * shape[n - 1]! + 1;
      const big = zeros(shape, { dtype: t.dtype });
      const src = t.toTypedArray();
      const last = t.shape[n - 1]!;
      for (let q = 0; q < src.length; q++)
        big.data[Math.floor(q / last) * shape[n - 1]! + 1 + 2 * (q % last)] = src[q]!;
      return big.slice(...new Array(n - 1).fill(null), [1, null, 2]);
    }
    case 'flipped': {
      // negative strides on the last axis
      if (n === 0) return t;
      const specs = new Array(n).fill(null);
      specs[n - 1] = [null, null, -1];
      return t
        .slice(...specs)
        .contiguous()
        .slice(...specs);
    }
  }
}

/** Operands of the given shapes and dtype with random values and layouts. */
function operandsArb(aShape: number[], bShape: number[], dtype: DType): fc.Arbitrary<[Tensor, Tensor]> {
  return fc
    .tuple(
      tensorArb(aShape, dtype, { min: -2, max: 2 }),
      tensorArb(bShape, dtype, { min: -2, max: 2 }),
      layoutArb,
      layoutArb,
    )
    .map(([a, b, la, lb]) => [withLayout(a, la), withLayout(b, lb)]);
}

// ---------------------------------------------------------------------------------------------

describe('matmul: 2-d', () => {
  it('small shapes (0…9), every layout, both dtypes', () => {
    const arb = fc
      .record({ m: fc.nat({ max: 9 }), k: fc.nat({ max: 9 }), n: fc.nat({ max: 9 }), dtype: dtypeArb })
      .chain(({ m, k, n, dtype }) => operandsArb([m, k], [k, n], dtype).map(([a, b]) => ({ a, b, dtype })));
    fc.assert(
      fc.property(arb, ({ a, b, dtype }) => {
        expectMatmul(matmul(a, b), a, b, dtype);
      }),
    );
  });

  it('shapes up to 70 that cross the register tiles and cache blocks, every layout', () => {
    // lengths around multiples of the 4×4 tile, plus one panel deeper than the 128-deep k block
    const dimArb = fc.oneof(fc.integer({ min: 10, max: 70 }), fc.constantFrom(16, 17, 31, 63, 64, 65));
    const arb = fc
      .record({ m: dimArb, k: fc.oneof(dimArb, fc.constantFrom(129, 200)), n: dimArb, dtype: dtypeArb })
      .chain(({ m, k, n, dtype }) => operandsArb([m, k], [k, n], dtype).map(([a, b]) => ({ a, b, dtype })));
    fc.assert(
      fc.property(arb, ({ a, b, dtype }) => {
        expectMatmul(matmul(a, b), a, b, dtype);
      }),
      { numRuns: 40 },
    );
  });

  it('a 300×70 @ 70×600 product spans several row and column blocks', () => {
    const a = tensor(
      Float64Array.from({ length: 300 * 70 }, (_, i) => Math.sin(i)),
      { shape: [300, 70] },
    );
    const b = tensor(
      Float64Array.from({ length: 70 * 600 }, (_, i) => Math.cos(i)),
      { shape: [70, 600] },
    );
    expectMatmul(matmul(a, b), a, b, 'float64');
    expectMatmul(matmul(b.mT, a.mT), b.mT, a.mT, 'float64');
  });
});

describe('matmul: batches', () => {
  it('broadcast batch axes (incl. size 0 and 1), every layout', () => {
    const arb = fc
      .record({
        batches: broadcastablePairArb({ maxRank: 3, maxDim: 3 }),
        m: fc.nat({ max: 6 }),
        k: fc.nat({ max: 6 }),
        n: fc.nat({ max: 6 }),
        dtype: dtypeArb,
      })
      .chain(({ batches: [ba, bb], m, k, n, dtype }) =>
        operandsArb([...ba, m, k], [...bb, k, n], dtype).map(([a, b]) => ({ a, b, dtype })),
      );
    fc.assert(
      fc.property(arb, ({ a, b, dtype }) => {
        expectMatmul(matmul(a, b), a, b, dtype);
      }),
    );
  });

  it('many tiny square matrices (the unrolled kernels), every layout', () => {
    const arb = fc
      .record({ count: fc.nat({ max: 20 }), size: fc.integer({ min: 1, max: 8 }), dtype: dtypeArb })
      .chain(({ count, size, dtype }) =>
        operandsArb([count, size, size], [count, size, size], dtype).map(([a, b]) => ({ a, b, dtype })),
      );
    fc.assert(
      fc.property(arb, ({ a, b, dtype }) => {
        expectMatmul(matmul(a, b), a, b, dtype);
      }),
    );
  });

  it('stride-0 batch axes from expand, against the materialised copy', () => {
    const arb = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }).chain((batch) =>
      fc
        .record({
          keep: fc.array(fc.boolean(), { minLength: batch.length, maxLength: batch.length }),
          size: fc.integer({ min: 1, max: 6 }),
          expandLeft: fc.boolean(),
          dtype: dtypeArb,
        })
        .chain(({ keep, size, expandLeft, dtype }) => {
          const full = [...batch, size, size];
          const base = [...batch.map((d, i) => (keep[i] ? d : 1)), size, size];
          return fc.tuple(tensorArb(base, dtype), tensorArb(full, dtype)).map(([x, y]) => {
            const expanded = x.expand(full);
            return expandLeft ? { a: expanded, b: y, dtype } : { a: y, b: expanded, dtype };
          });
        }),
    );
    fc.assert(
      fc.property(arb, ({ a, b, dtype }) => {
        const out = matmul(a, b);
        expectMatmul(out, a, b, dtype);
        expectClose(out, matmul(a.clone(), b.clone()), { rtol: 0, atol: 0 });
      }),
    );
  });

  it('batches of medium matrices through the blocked kernel, shared right operand included', () => {
    // x @ W with a shared W is one taller product when x's matrices are stacked rows
    const arb = fc
      .record({
        batch: fc.integer({ min: 1, max: 4 }),
        m: fc.integer({ min: 20, max: 40 }),
        k: fc.integer({ min: 20, max: 40 }),
        n: fc.integer({ min: 20, max: 40 }),
        sharedB: fc.boolean(),
        dtype: dtypeArb,
      })
      .chain(({ batch, m, k, n, sharedB, dtype }) =>
        operandsArb([batch, m, k], sharedB ? [k, n] : [batch, k, n], dtype).map(([a, b]) => ({ a, b, dtype })),
      );
    fc.assert(
      fc.property(arb, ({ a, b, dtype }) => {
        expectMatmul(matmul(a, b), a, b, dtype);
      }),
      { numRuns: 40 },
    );
  });

  it('[4096,4,4] @ [4096,4,4] and a batch of medium matrices through the blocked kernel', () => {
    const a = tensor(
      Float32Array.from({ length: 4096 * 16 }, (_, i) => Math.sin(i)),
      { shape: [4096, 4, 4] },
    );
    const b = tensor(
      Float32Array.from({ length: 4096 * 16 }, (_, i) => Math.cos(3 * i)),
      { shape: [4096, 4, 4] },
    );
    expectMatmul(matmul(a, b), a, b, 'float32');
    const c = tensor(
      Float64Array.from({ length: 3 * 20 * 24 }, (_, i) => Math.sin(i)),
      { shape: [3, 1, 20, 24] },
    );
    const d = tensor(
      Float64Array.from({ length: 2 * 24 * 18 }, (_, i) => Math.cos(i)),
      { shape: [2, 24, 18] },
    );
    expectMatmul(matmul(c, d.mT.contiguous().mT), c, d, 'float64');
  });
});

describe('matmul: vectors', () => {
  it('1-d operands are promoted and the added axis removed', () => {
    const arb = fc
      .record({
        batch: fc.array(fc.nat({ max: 3 }), { maxLength: 2 }),
        k: fc.nat({ max: 9 }),
        n: fc.nat({ max: 9 }),
        side: fc.constantFrom('vecMat', 'matVec', 'vecVec'),
        dtype: dtypeArb,
      })
      .chain(({ batch, k, n, side, dtype }) => {
        const aShape = side === 'matVec' ? [...batch, n, k] : [k];
        const bShape = side === 'vecMat' ? [...batch, k, n] : [k];
        return operandsArb(aShape, bShape, dtype).map(([a, b]) => ({ a, b, dtype }));
      });
    fc.assert(
      fc.property(arb, ({ a, b, dtype }) => {
        expectMatmul(matmul(a, b), a, b, dtype);
      }),
    );
  });

  it('shapes of the results', () => {
    expect(matmul(zeros([3]), zeros([3])).shape).toEqual([]);
    expect(matmul(zeros([3]), zeros([3, 5])).shape).toEqual([5]);
    expect(matmul(zeros([5, 3]), zeros([3])).shape).toEqual([5]);
    expect(matmul(zeros([2, 5, 3]), zeros([3])).shape).toEqual([2, 5]);
    expect(matmul(zeros([3]), zeros([2, 3, 5])).shape).toEqual([2, 5]);
    expect(matmul(zeros([2, 1, 3, 4]), zeros([5, 4, 6])).shape).toEqual([2, 5, 3, 6]);
  });

  it('vector · vector is the dot product', () => {
    const a = tensor([1, 2, 3]);
    const b = tensor([4, -5, 6]);
    expect(matmul(a, b).item()).toBe(4 - 10 + 18);
  });
});

describe('matmul: dtypes and edge cases', () => {
  it('mixed dtypes promote to float64 and use the float32 values exactly', () => {
    const arb = fc
      .record({ m: fc.nat({ max: 9 }), k: fc.nat({ max: 9 }), n: fc.nat({ max: 9 }) })
      .chain(({ m, k, n }) => fc.tuple(tensorArb([m, k], 'float32'), tensorArb([k, n], 'float64')));
    fc.assert(
      fc.property(arb, ([a, b]) => {
        const out = matmul(a, b);
        expectMatmul(out, a, b, 'float64');
        expectClose(out, matmul(a.astype('float64'), b), { rtol: 0, atol: 0 });
        expectClose(matmul(b.mT, a.mT), matmul(b.mT, a.mT.astype('float64')), { rtol: 0, atol: 0 });
      }),
    );
  });

  it('size-0 axes give empty results, k = 0 gives zeros', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const z = matmul(zeros([3, 0], { dtype }), zeros([0, 4], { dtype }));
      expect(z.shape).toEqual([3, 4]);
      expect(z.dtype).toBe(dtype);
      expect([...z.toTypedArray()]).toEqual(new Array(12).fill(0));
      expect(matmul(zeros([0, 3], { dtype }), zeros([3, 4], { dtype })).shape).toEqual([0, 4]);
      expect(matmul(zeros([2, 3], { dtype }), zeros([3, 0], { dtype })).shape).toEqual([2, 0]);
      expect(matmul(zeros([0, 2, 3], { dtype }), zeros([3, 4], { dtype })).shape).toEqual([0, 2, 4]);
      expect(matmul(zeros([0], { dtype }), zeros([0], { dtype })).item()).toBe(0);
    }
  });

  it('NaN and infinities propagate as in the naive sum, in every kernel', () => {
    for (const size of [3, 4, 7, 40]) {
      const a = tensor(
        Float64Array.from({ length: size * size }, (_, i) => (i % 5) - 2),
        { shape: [size, size] },
      );
      const b = tensor(
        Float64Array.from({ length: size * size }, (_, i) => (i % 3) - 1),
        { shape: [size, size] },
      );
      a.set([1, 2], NaN);
      b.set([0, size - 1], Infinity);
      const out = matmul(a, b);
      expectMatmul(out, a, b, 'float64');
      expect(Number.isNaN(out.get(1, 0))).toBe(true);
    }
  });

  it('the result is a fresh tensor, not aliasing the inputs', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([
      [1, 0],
      [0, 1],
    ]);
    const out = matmul(a, b);
    out.set([0, 0], 100);
    expect(a.get(0, 0)).toBe(1);
    expect(matmul(a, b).get(0, 0)).toBe(1);
  });
});

describe('matmul: errors', () => {
  it('names the shapes and the mismatch', () => {
    expect(() => matmul(zeros([2, 3]), zeros([4, 5]))).toThrow(
      new ShapeError('matmul: inner dimensions differ: [2,3] @ [4,5] (3 ≠ 4)'),
    );
    expect(() => matmul(zeros([3]), zeros([4]))).toThrow(
      new ShapeError('matmul: inner dimensions differ: [3] @ [4] (3 ≠ 4)'),
    );
    expect(() => matmul(zeros([2, 3]), zeros([2]))).toThrow(
      new ShapeError('matmul: inner dimensions differ: [2,3] @ [2] (3 ≠ 2)'),
    );
    expect(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4]))).toThrow(
      new ShapeError('matmul: batch axes do not broadcast: [2,2,3] @ [3,3,4] (batch axis -1: 2 ≠ 3)'),
    );
    expect(() => matmul(zeros([]), zeros([3]))).toThrow(ShapeError);
    expect(() => matmul(zeros([3]), zeros([]))).toThrow(/^matmul: operands need at least 1 axis, got \[3\] @ \[\]$/);
  });
});
