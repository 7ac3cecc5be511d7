/**
 * skewFromVector, cayley, expmSkew, orthogonalQR and helmertBasis: values against naive loops
 * and closed forms written here (a Taylor series for expm, the reversed-order Cayley product,
 * hand-computed Helmert columns), the invariants of docs/spec/hc-family.md (Cayley: UᵀU = I,
 * det U = +1, A = 0 ⇒ U = I; Helmert: U_zᵀU_z = I, U_zᵀ1 = 0, U_zU_zᵀ = I − J), gradchecks of
 * order 1 and 2 in float64, and the errors.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { LinAlgError, Random, ShapeError, type Tensor, ValueError, epsOf, type DType } from '@hyperconn/tensor';
import { gradcheck } from '@hyperconn/autograd';
import { cayley, expmSkew, helmertBasis, orthogonalQR, skewFromVector } from '@hyperconn/manifolds';
import { dtypeArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

const batchArb = fc.constantFrom<number[]>([], [3], [2, 1]);

/** The skew matrix [m, m] from z (strict upper triangle row by row), by a plain loop. */
function naiveSkew(z: readonly number[], m: number): number[][] {
  const a = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  let k = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      a[i]![j] = z[k]!;
      a[j]![i] = -z[k++]!;
    }
  }
  return a;
}

/** Random skew-symmetric matrices [...batch, m, m] with entries of size ~scale. */
function randomSkew(rng: Random, batch: readonly number[], m: number, scale: number, dtype: DType = 'float64'): Tensor {
  const g = T.mul(rng.normal([...batch, m, m]), scale);
  return T.sub(g, g.mT).astype(dtype);
}

/** max |UᵀU − I| over every matrix. */
function orthonormalityError(u: Tensor): number {
  const k = u.shape[u.ndim - 1]!;
  return T.max(T.abs(T.sub(T.matmul(u.mT, u), T.eye(k, k, { dtype: u.dtype })))).item();
}

/** e^A by its Taylor series Σ A^k/k! after scaling by 2^-s (‖A/2^s‖ ≤ 1/2) and squaring back; a naive reference. */
function taylorExpm(a: Tensor): Tensor {
  const n = a.shape[a.ndim - 1]!;
  const s = Math.max(0, Math.ceil(Math.log2(2 * T.max(T.abs(a)).item() * n + 1e-300)));
  const scaled = T.mul(a, 2 ** -s);
  let term = T.eye(n).expand(a.shape);
  let sum = term;
  for (let k = 1; k <= 30; k++) {
    term = T.div(T.matmul(term, scaled), k);
    sum = T.add(sum, term);
  }
  for (let i = 0; i < s; i++) sum = T.matmul(sum, sum);
  return sum;
}

describe('skewFromVector', () => {
  it('fills the strict upper triangle row by row and its negated transpose below (naive loop), batched', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), batchArb, fc.integer(), (m, batch, seed) => {
        const k = (m * (m - 1)) / 2;
        const z = new Random(seed).normal([...batch, k]);
        const a = skewFromVector(z, m).value;
        expect(a.shape).toEqual([...batch, m, m]);
        const flat = Array.from(z.toTypedArray());
        const count = batch.reduce((x, y) => x * y, 1);
        const expected = Array.from({ length: count }, (_, b) =>
          naiveSkew(flat.slice(b * k, (b + 1) * k), m).flat(),
        ).flat();
        expectClose(a, T.tensor(Float64Array.from(expected), { shape: [...batch, m, m] }), { atol: 0, rtol: 0 });
      }),
    );
    expectClose(
      skewFromVector(T.tensor([1, 2, 3]), 3).value,
      T.tensor([
        [0, 1, 2],
        [-1, 0, 3],
        [-2, -3, 0],
      ]),
      { atol: 0, rtol: 0 },
    );
    expect(skewFromVector(T.zeros([2, 0]), 1).value.shape).toEqual([2, 1, 1]);
    expect(skewFromVector(T.zeros([3], { dtype: 'float32' }), 3).dtype).toBe('float32');
  });

  it('errors: a last axis that is not m(m−1)/2, a bad m', () => {
    expect(() => skewFromVector(T.zeros([4]), 3)).toThrow(ShapeError);
    expect(() => skewFromVector(T.zeros([4]), 3)).toThrow(/m\(m−1\)\/2 = 3/);
    expect(() => skewFromVector(T.zeros([3]), -1)).toThrow(ValueError);
  });
});

describe('cayley', () => {
  it(
    'U = (I + A)⁻¹(I − A) is in SO(m): UᵀU = I, det U = +1; it equals ' +
      '(I − A)(I + A)⁻¹ and cayley(−A) = Uᵀ (float64 and float32)',
    () => {
      fc.assert(
        fc.property(
          fc.integer(),
          fc.integer({ min: 1, max: 6 }),
          batchArb,
          dtypeArb,
          fc.double({ min: -3, max: 2, noNaN: true }),
          (seed, m, batch, dtype, e) => {
            const scale = 10 ** e;
            const a = randomSkew(new Random(seed), batch, m, scale, dtype);
            const u = cayley(a).value;
            expect(u.dtype).toBe(dtype);
            // the solve's error grows with cond(I + A) ≤ 1 + ‖A‖₂
            const tol = 20 * m * epsOf(dtype) * (1 + scale * m);
            expect(orthonormalityError(u)).toBeLessThanOrEqual(tol);
            expectClose(T.det(u), T.ones(batch, { dtype }), { atol: tol, rtol: 0 });
            const identity = T.eye(m, m, { dtype });
            expectClose(u, T.matmul(T.sub(identity, a), T.inv(T.add(identity, a))), { atol: tol, rtol: 0 });
            expectClose(cayley(T.neg(a)).value, u.mT, { atol: tol, rtol: 0 });
          },
        ),
      );
    },
  );

  it('A = 0 ⇒ U = I; skewFromVector(z) → cayley gives SO(m) for extreme z (±100)', () => {
    expectClose(cayley(T.zeros([2, 4, 4])).value, T.eye(4).expand([2, 4, 4]), { atol: 0, rtol: 0 });
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 6, maxLength: 6 }), (z) => {
        const u = cayley(skewFromVector(T.tensor(z), 4)).value;
        expect(orthonormalityError(u)).toBeLessThanOrEqual(1e-12);
        expectClose(T.det(u).item(), 1, { atol: 1e-12, rtol: 0 });
      }),
    );
  });

  it('errors: a non-square matrix, NaN, a singular I + A', () => {
    expect(() => cayley(T.zeros([2, 3]))).toThrow(ShapeError);
    expect(() =>
      cayley(
        T.tensor([
          [0, NaN],
          [0, 0],
        ]),
      ),
    ).toThrow(ValueError);
    expect(() => cayley(T.mul(T.eye(2), -1))).toThrow(LinAlgError);
    expect(() => cayley(T.mul(T.eye(2), -1))).toThrow(/cayley: I \+ A is singular/);
  });
});

describe('expmSkew', () => {
  it('e^A of a skew A is in SO(m), equals its Taylor series, and e^{−A} = (e^A)ᵀ (float64 and float32)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 6 }),
        batchArb,
        dtypeArb,
        fc.double({ min: -3, max: 1, noNaN: true }),
        (seed, m, batch, dtype, e) => {
          const a = randomSkew(new Random(seed), batch, m, 10 ** e, dtype);
          const u = expmSkew(a).value;
          expect(u.dtype).toBe(dtype);
          const tol = 50 * m * epsOf(dtype) * (1 + 10 ** e * m);
          expect(orthonormalityError(u)).toBeLessThanOrEqual(tol);
          expectClose(T.det(u), T.ones(batch, { dtype }), { atol: tol, rtol: 0 });
          expectClose(u, taylorExpm(a.astype('float64')), { atol: tol, rtol: 0 });
          expectClose(expmSkew(T.neg(a)).value, u.mT, { atol: tol, rtol: 0 });
        },
      ),
    );
    expectClose(expmSkew(T.zeros([3, 3])).value, T.eye(3), { atol: 0, rtol: 0 });
  });

  it('errors: a non-square matrix, ±∞', () => {
    expect(() => expmSkew(T.zeros([3]))).toThrow(ShapeError);
    expect(() =>
      expmSkew(
        T.tensor([
          [0, Infinity],
          [0, 0],
        ]),
      ),
    ).toThrow(/finite/);
  });
});

describe('orthogonalQR', () => {
  it(
    'Q has orthonormal columns, QᵀA is upper triangular with diag ' +
      '≥ 0 and Q·QᵀA = A (tall, square, wide; float64 and float32)',
    () => {
      fc.assert(
        fc.property(
          fc.integer(),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 5 }),
          batchArb,
          dtypeArb,
          (seed, m, n, batch, dtype) => {
            const a = new Random(seed).normal([...batch, m, n], { dtype });
            const q = orthogonalQR(a).value;
            const k = Math.min(m, n);
            expect(q.shape).toEqual([...batch, m, k]);
            const tol = 20 * Math.max(m, n) * epsOf(dtype) * (1 + T.max(T.abs(a)).item());
            expect(orthonormalityError(q)).toBeLessThanOrEqual(tol);
            const r = T.matmul(q.mT, a);
            expectClose(T.tril(r, -1), T.zeros(r.shape), { atol: tol, rtol: 0 });
            expect(T.min(T.diagonal(r)).item()).toBeGreaterThanOrEqual(-tol);
            expectClose(T.matmul(q, r), a, { atol: tol, rtol: 0 });
          },
        ),
      );
    },
  );

  it('errors: a vector, NaN', () => {
    expect(() => orthogonalQR(T.zeros([3]))).toThrow(ShapeError);
    expect(() => orthogonalQR(T.tensor([[NaN]]))).toThrow(ValueError);
  });
});

describe('gradients (float64 gradcheck, orders 1 and 2)', () => {
  // second-order gradchecks differentiate a backward pass numerically: 30 cases each
  const GRAD_RUNS = { numRuns: 30 };

  it('skewFromVector', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 4 }), batchArb, (seed, m, batch) => {
        const z = new Random(seed).normal([...batch, (m * (m - 1)) / 2]);
        gradcheck((x) => skewFromVector(x, m), [z], { order: 2 });
      }),
      GRAD_RUNS,
    );
  });

  it('cayley, at skew matrices (in every direction of R^{m×m}) and through skewFromVector', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<number[]>([], [2]),
        (seed, m, batch) => {
          const rng = new Random(seed);
          gradcheck(cayley, [randomSkew(rng, batch, m, 1)], { order: 2 });
          const z = rng.normal([(m * (m - 1)) / 2]);
          gradcheck((x) => cayley(skewFromVector(x, m)), [z], { order: 2 });
        },
      ),
      GRAD_RUNS,
    );
  });

  it('expmSkew', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom<number[]>([], [2]),
        (seed, m, batch) => {
          gradcheck(expmSkew, [randomSkew(new Random(seed), batch, m, 1)], { order: 2 });
        },
      ),
      GRAD_RUNS,
    );
  });

  it('orthogonalQR (full-rank tall, square and wide matrices)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), (seed, m, n) => {
        const a = new Random(seed).normal([m, n]);
        const sv = T.svd(a).s.toTypedArray();
        fc.pre(sv[sv.length - 1]! > 0.1 * sv[0]!);
        gradcheck(orthogonalQR, [a], { order: 2 });
      }),
      GRAD_RUNS,
    );
  });
});

describe('helmertBasis', () => {
  it('matches the hand-computed columns for n = 3 and the [1, 0] shape for n = 1', () => {
    const s2 = Math.SQRT2;
    const s6 = Math.sqrt(6);
    expectClose(
      helmertBasis(3),
      T.tensor([
        [1 / s2, 1 / s6],
        [-1 / s2, 1 / s6],
        [0, -2 / s6],
      ]),
      { atol: 1e-16, rtol: 1e-15 },
    );
    expect(helmertBasis(1).shape).toEqual([1, 0]);
    expect(() => helmertBasis(0)).toThrow(ValueError);
    expect(() => helmertBasis(2.5)).toThrow(ValueError);
  });

  it('U_zᵀU_z = I, U_zᵀ1 = 0, U_zU_zᵀ = I − J (float64 1e-15·n, float32 c·n·eps)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), dtypeArb, (n, dtype) => {
        const u = helmertBasis(n, { dtype });
        expect(u.dtype).toBe(dtype);
        expect(u.shape).toEqual([n, n - 1]);
        const tol = { atol: 4 * n * epsOf(dtype), rtol: 0 };
        expectClose(T.matmul(u.mT, u), T.eye(n - 1, n - 1, { dtype }), tol);
        expectClose(T.matmul(u.mT, T.ones([n, 1], { dtype })), T.zeros([n - 1, 1]), tol);
        expectClose(T.matmul(u, u.mT), T.sub(T.eye(n, n, { dtype }), 1 / n), tol);
      }),
    );
  });
});
