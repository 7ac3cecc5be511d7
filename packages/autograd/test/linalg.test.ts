/**
 * The differentiable linear algebra of ops-linalg.ts: gradchecks (float64, first and second order)
 * over fast-check-generated well-conditioned matrices, closed-form gradients against naive or
 * kernel references, repeated eigen/singular values, and the errors of undefined gradients.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { LinAlgError, Random, ShapeError, type Tensor, ValueError } from '@hyperconn/tensor';
import {
  concat,
  det,
  eigh,
  expm,
  flatten,
  grad,
  gradcheck,
  inv,
  log,
  matmul,
  matrixNorm,
  mul,
  pow,
  qr,
  slice,
  slogdet,
  solve,
  square,
  sum,
  svd,
  trace,
  transpose,
  diagonal,
  Variable,
} from '@hyperconn/autograd';
import { expectClose } from '../../../test/support/assert';
import { broadcastablePairArb, tensorArb } from '../../../test/support/arbitraries';

// Gradchecks build full Jacobians by one reverse pass per output element (and second order
// differentiates a recorded backward pass), so they run fewer cases than the default 100.
const FIRST_ORDER = { numRuns: 40 };
const SECOND_ORDER = { numRuns: 25 };
/** Gradients of well-conditioned matrices agree with closed forms to rounding, amplified by κ ≤ 4. */
const CLOSE = { rtol: 1e-10, atol: 1e-10 };

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const weights = (shape: readonly number[], seed: number): Tensor => new Random(seed).normal(shape);
const mT = (x: Variable): Variable => transpose(x, -2, -1);
const flatJoin = (...xs: Variable[]): Variable => concat(xs.map((x) => flatten(x)));
const gradOf = (f: (a: Variable) => Variable, a: Tensor): Tensor => grad(f)(a).value;
const symmetric = (a: Tensor): Tensor => T.mul(T.add(a, a.mT), 0.5);
const hasNaN = (t: Tensor): boolean => Array.from(t.toTypedArray()).some(Number.isNaN);

// ---------------------------------------------------------------------------------------------
// Generators

const batchArb = fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 });
const smallBatchArb = fc.constantFrom<number[]>([], [2]);

/**
 * `count` spectra of k values: in [0.5, 2] (condition number ≤ 4), or with `distinct`
 * increasing from start + [0.3, 1] by gaps in [0.3, 1], so that no two are close.
 */
function spectraArb(count: number, k: number, distinct: boolean, start = 0): fc.Arbitrary<number[][]> {
  const value = (min: number, max: number): fc.Arbitrary<number> => fc.double({ min, max, noNaN: true });
  const one = distinct
    ? fc.tuple(value(0.3, 1), fc.array(value(0.3, 1), { minLength: k, maxLength: k })).map(([first, gaps]) => {
        let at = start + first;
        return gaps.map((g) => {
          const current = at;
          at += g;
          return current;
        });
      })
    : fc.array(value(0.5, 2), { minLength: k, maxLength: k });
  return fc.array(one, { minLength: count, maxLength: count });
}

/** [...batch, m, n] matrices U diag(s) Vᵀ with U, V of orthonormal columns drawn from `seed`. */
function fromSpectra(
  batch: readonly number[],
  m: number,
  n: number,
  spectra: readonly number[][],
  seed: number,
): Tensor {
  const rng = new Random(seed);
  const k = Math.min(m, n);
  if (spectra.length === 0) return T.zeros([...batch, m, n]);
  const matrices = spectra.map((s) => {
    const u = rng.orthogonal(m).slice(null, [0, k]);
    const v = rng.orthogonal(n).slice(null, [0, k]);
    return T.matmul(T.mul(u, T.tensor(s)), v.mT);
  });
  return T.stack(matrices).reshape([...batch, m, n]);
}

interface MatrixOptions {
  square?: boolean;
  distinct?: boolean;
  maxN?: number;
  batch?: fc.Arbitrary<number[]>;
}

/**
 * [...batch, m, n] matrices (m = n when `square`; sizes 1..maxN) with singular values in [0.5, 2], or distinct ones.
 */
function matrixArb({
  square = true,
  distinct = false,
  maxN = 4,
  batch = batchArb,
}: MatrixOptions = {}): fc.Arbitrary<Tensor> {
  return fc
    .tuple(batch, fc.integer({ min: 1, max: maxN }), fc.integer({ min: 1, max: maxN }), fc.nat())
    .chain(([b, m, n0, seed]) => {
      const n = square ? m : n0;
      return spectraArb(sizeOf(b), Math.min(m, n), distinct).map((spectra) => fromSpectra(b, m, n, spectra, seed));
    });
}

/**
 * Non-symmetric [...batch, n, n] matrices whose symmetric part Q diag(λ) Qᵀ has eigenvalues at
 * least 0.3 apart (from about −1.7 up), plus a skew part that eigh's symmetrisation discards.
 */
function eighInputArb({
  maxN = 4,
  batch = batchArb,
}: {
  maxN?: number;
  batch?: fc.Arbitrary<number[]>;
} = {}): fc.Arbitrary<Tensor> {
  return fc.tuple(batch, fc.integer({ min: 1, max: maxN }), fc.nat()).chain(([b, n, seed]) =>
    spectraArb(sizeOf(b), n, true, -2).map((spectra) => {
      const rng = new Random(seed);
      const matrices = spectra.map((lambda) => {
        const q = rng.orthogonal(n);
        const noise = rng.normal([n, n]);
        return T.add(T.matmul(T.mul(q, T.tensor(lambda)), q.mT), T.mul(T.sub(noise, noise.mT), 0.3));
      });
      return T.stack(matrices).reshape([...b, n, n]);
    }),
  );
}

/** A matrix and a weight tensor (for losses ⟨W, f(A)⟩), the weights shaped by `outShape`. */
function withWeights(
  arb: fc.Arbitrary<Tensor>,
  outShape: (a: Tensor) => readonly number[],
): fc.Arbitrary<{ a: Tensor; w: Tensor }> {
  return fc.tuple(arb, fc.nat()).map(([a, seed]) => ({ a, w: weights(outShape(a), seed) }));
}

// ---------------------------------------------------------------------------------------------
// Naive references

/** Determinant by cofactor expansion along the first row (row-major n×n). */
function naiveDet(a: readonly number[], n: number): number {
  if (n === 0) return 1;
  let total = 0;
  for (let j = 0; j < n; j++) total += (j % 2 === 0 ? 1 : -1) * a[j]! * naiveDet(minor(a, n, 0, j), n - 1);
  return total;
}
function minor(a: readonly number[], n: number, row: number, col: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== row && j !== col) out.push(a[i * n + j]!);
  return out;
}
/** C_ij = (−1)^(i+j) det(minor_ij): the gradient of det. */
function cofactors(a: readonly number[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) out.push(((i + j) % 2 === 0 ? 1 : -1) * naiveDet(minor(a, n, i, j), n - 1));
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('solve', () => {
  /** a [...batchA, n, n] and b [...batchB, n, k] with batch axes that broadcast. */
  const pairArb = (maxN: number, maxRank: number): fc.Arbitrary<{ a: Tensor; b: Tensor }> =>
    broadcastablePairArb({ maxRank, maxDim: 2 }).chain(([batchA, batchB]) =>
      fc
        .tuple(matrixArb({ maxN, batch: fc.constant(batchA) }), fc.integer({ min: 1, max: 3 }), fc.nat())
        .map(([a, k, seed]) => ({ a, b: weights([...batchB, a.shape[a.ndim - 1]!, k], seed) })),
    );

  it('gradchecks with broadcasting batch axes (order 1)', () => {
    fc.assert(
      fc.property(pairArb(4, 2), ({ a, b }) => void gradcheck(solve, [a, b])),
      FIRST_ORDER,
    );
  });

  it('gradchecks a 1-d right-hand side shared by a batch (order 1)', () => {
    const arb = fc.tuple(matrixArb(), fc.nat()).map(([a, seed]) => ({ a, b: weights([a.shape[a.ndim - 1]!], seed) }));
    fc.assert(
      fc.property(arb, ({ a, b }) => void gradcheck(solve, [a, b])),
      FIRST_ORDER,
    );
  });

  it('gradchecks at second order', () => {
    fc.assert(
      fc.property(pairArb(3, 1), ({ a, b }) => void gradcheck(solve, [a, b], { order: 2 })),
      SECOND_ORDER,
    );
  });

  it('has the closed-form gradients gB = A⁻ᵀW and gA = −gB Xᵀ', () => {
    const arb = fc.tuple(matrixArb(), fc.integer({ min: 1, max: 3 }), fc.nat(), fc.nat()).map(([a, k, s1, s2]) => {
      const b = weights([...a.shape.slice(0, -1), k], s1);
      return { a, b, w: weights(b.shape, s2) };
    });
    fc.assert(
      fc.property(arb, ({ a, b, w }) => {
        const [gA, gB] = grad((a, b) => sum(mul(solve(a, b), w)), [0, 1])(a, b);
        const expectedB = T.matmul(T.inv(a).mT, w);
        expectClose(gB!.value, expectedB, CLOSE);
        expectClose(gA!.value, T.neg(T.matmul(expectedB, T.solve(a, b).mT)), CLOSE);
      }),
      FIRST_ORDER,
    );
  });
});

describe('inv', () => {
  it('gradchecks batched (order 1) and at second order', () => {
    fc.assert(
      fc.property(matrixArb(), (a) => void gradcheck(inv, [a])),
      FIRST_ORDER,
    );
    fc.assert(
      fc.property(matrixArb({ maxN: 3, batch: smallBatchArb }), (a) => void gradcheck(inv, [a], { order: 2 })),
      SECOND_ORDER,
    );
  });

  it('has the closed-form gradient −A⁻ᵀ W A⁻ᵀ', () => {
    fc.assert(
      fc.property(
        withWeights(matrixArb(), (a) => a.shape),
        ({ a, w }) => {
          const aInvT = T.inv(a).mT;
          expectClose(
            gradOf((a) => sum(mul(inv(a), w)), a),
            T.neg(T.matmul(T.matmul(aInvT, w), aInvT)),
            CLOSE,
          );
        },
      ),
      FIRST_ORDER,
    );
  });
});

describe('det', () => {
  it('gradchecks batched (order 1) and at second order', () => {
    fc.assert(
      fc.property(matrixArb(), (a) => void gradcheck(det, [a])),
      FIRST_ORDER,
    );
    fc.assert(
      fc.property(matrixArb({ maxN: 3, batch: smallBatchArb }), (a) => void gradcheck(det, [a], { order: 2 })),
      SECOND_ORDER,
    );
  });

  it('has the cofactor matrix as gradient (naive 3×3 reference)', () => {
    fc.assert(
      fc.property(
        matrixArb({ batch: fc.constant([]), maxN: 3 }).filter((a) => a.shape[0] === 3),
        (a) => {
          const entries = Array.from(a.toTypedArray());
          expectClose(det(a).item(), naiveDet(entries, 3), { rtol: 1e-12, atol: 1e-12 });
          expectClose(gradOf(det, a).toTypedArray(), cofactors(entries, 3), CLOSE);
        },
      ),
    );
  });

  it('throws a LinAlgError naming det for the gradient at a singular matrix', () => {
    const a = new Variable(
      T.tensor([
        [1, 2],
        [2, 4],
      ]),
      { requiresGrad: true },
    );
    expect(det(a).item()).toBe(0);
    expect(() => det(a).backward()).toThrow(LinAlgError);
    expect(() => det(a).backward()).toThrow(/^det: the gradient needs A to be invertible/);
  });
});

describe('slogdet', () => {
  it('gradchecks logAbsDet batched (order 1) and at second order', () => {
    const logAbsDet = (a: Variable): Variable => slogdet(a).logAbsDet;
    fc.assert(
      fc.property(matrixArb(), (a) => void gradcheck(logAbsDet, [a])),
      FIRST_ORDER,
    );
    fc.assert(
      fc.property(matrixArb({ maxN: 3, batch: smallBatchArb }), (a) => void gradcheck(logAbsDet, [a], { order: 2 })),
      SECOND_ORDER,
    );
  });

  it('has gradient A⁻ᵀ and a constant sign equal to that of the cofactor determinant', () => {
    fc.assert(
      fc.property(matrixArb({ maxN: 3, batch: fc.constant([]) }), (a) => {
        const x = new Variable(a, { requiresGrad: true });
        const { sign, logAbsDet } = slogdet(x);
        const reference = naiveDet(Array.from(a.toTypedArray()), a.shape[0]!);
        expect(sign.item()).toBe(Math.sign(reference));
        expect(sign.requiresGrad).toBe(false);
        expectClose(logAbsDet.item(), Math.log(Math.abs(reference)), CLOSE);
        logAbsDet.backward();
        expectClose(x.grad!.value, T.inv(a).mT, CLOSE);
      }),
      FIRST_ORDER,
    );
  });

  it('gives −∞ at a singular matrix and a gradient that throws a LinAlgError naming slogdet', () => {
    const a = new Variable(
      T.tensor([
        [1, 2],
        [2, 4],
      ]),
      { requiresGrad: true },
    );
    const { sign, logAbsDet } = slogdet(a);
    expect([sign.item(), logAbsDet.item()]).toEqual([0, -Infinity]);
    expect(() => logAbsDet.backward()).toThrow(/^slogdet: the gradient needs A to be invertible/);
  });
});

describe('qr', () => {
  const qAndR = (a: Variable): Variable => {
    const { q, r } = qr(a);
    return flatJoin(q, r);
  };

  it('gradchecks Q and R of tall, square and wide matrices, batched (order 1)', () => {
    fc.assert(
      fc.property(matrixArb({ square: false }), (a) => void gradcheck(qAndR, [a])),
      FIRST_ORDER,
    );
  });

  it('gradchecks at second order', () => {
    fc.assert(
      fc.property(
        matrixArb({ square: false, maxN: 3, batch: fc.constant([]) }),
        (a) => void gradcheck(qAndR, [a], { order: 2 }),
      ),
      SECOND_ORDER,
    );
  });

  // Σ log R_ii = log|det A| (square), = ½ log det(AᵀA) (tall), = log|det X| for A = [X | Y] (wide).
  const logDiagR = (a: Variable): Variable => sum(log(diagonal(qr(a).r)));

  it('has the closed form d Σ log R_ii / dA = A⁻ᵀ (square)', () => {
    fc.assert(
      fc.property(matrixArb(), (a) => expectClose(gradOf(logDiagR, a), T.inv(a).mT, CLOSE)),
      FIRST_ORDER,
    );
  });

  it('has the closed form d Σ log R_ii / dA = A (AᵀA)⁻¹ (tall) and [X⁻ᵀ | 0] (wide)', () => {
    fc.assert(
      fc.property(matrixArb({ square: false }), (a) => {
        const [m, n] = a.shape.slice(-2) as [number, number];
        const expected =
          m >= n
            ? T.matmul(a, T.inv(T.matmul(a.mT, a)))
            : T.concat(
                [
                  T.inv(a.slice(...a.shape.slice(0, -2).map(() => null), null, [0, m])).mT,
                  T.zeros([...a.shape.slice(0, -1), n - m]),
                ],
                -1,
              );
        expectClose(gradOf(logDiagR, a), expected, CLOSE);
      }),
      FIRST_ORDER,
    );
  });

  it('throws a LinAlgError naming qr for the gradient of a rank-deficient matrix', () => {
    const a = new Variable(
      T.tensor([
        [1, 0],
        [2, 0],
        [3, 0],
      ]),
      { requiresGrad: true },
    );
    expect(() => sum(qr(a).q).backward()).toThrow(/^qr: the gradient needs R \(A of full rank\) to be invertible/);
  });
});

describe('eigh', () => {
  /** Values and two sign-invariant functions of the vectors that depend on every column. */
  const eighLoss =
    (c: Tensor) =>
    (a: Variable): Variable => {
      const { values, vectors } = eigh(a);
      return flatJoin(values, mul(vectors, vectors), matmul(mul(vectors, c), mT(vectors)));
    };
  const withEighWeights = (arb: fc.Arbitrary<Tensor>): fc.Arbitrary<{ a: Tensor; c: Tensor }> =>
    fc.tuple(arb, fc.nat()).map(([a, seed]) => ({ a, c: weights([a.shape[a.ndim - 1]!], seed) }));

  it('gradchecks values and vectors at distinct eigenvalues, batched (order 1)', () => {
    fc.assert(
      fc.property(withEighWeights(eighInputArb()), ({ a, c }) => void gradcheck(eighLoss(c), [a])),
      FIRST_ORDER,
    );
  });

  it('gradchecks values (and vectors) at second order', () => {
    const values = (a: Variable): Variable => eigh(a).values;
    fc.assert(
      fc.property(eighInputArb({ maxN: 3, batch: smallBatchArb }), (a) => void gradcheck(values, [a], { order: 2 })),
      SECOND_ORDER,
    );
    // the vectors' second order is the costliest check of the file: fewer cases still
    fc.assert(
      fc.property(
        withEighWeights(eighInputArb({ maxN: 3, batch: fc.constant([]) })),
        ({ a, c }) => void gradcheck(eighLoss(c), [a], { order: 2 }),
      ),
      {
        numRuns: 10,
      },
    );
  });

  it('has the closed forms d Σλ/dA = I and d Σλ²/dA = A + Aᵀ', () => {
    fc.assert(
      fc.property(eighInputArb(), (a) => {
        const n = a.shape[a.ndim - 1]!;
        expectClose(
          gradOf((a) => sum(eigh(a).values), a),
          T.eye(n).expand(a.shape),
          CLOSE,
        );
        expectClose(
          gradOf((a) => sum(square(eigh(a).values)), a),
          T.mul(symmetric(a), 2),
          CLOSE,
        );
      }),
      FIRST_ORDER,
    );
  });

  describe('at a repeated eigenvalue', () => {
    /**
     * I + 0.5·q qᵀ (q a random unit vector, n ≥ 2): eigenvalue 1 with multiplicity n − 1, computed a few ulps apart.
     */
    const rankOneUpdateArb = fc.tuple(fc.integer({ min: 2, max: 4 }), fc.nat()).map(([n, seed]) => {
      const q = new Random(seed).orthogonal(n).slice(null, [0, 1]);
      return T.add(T.eye(n), T.mul(T.matmul(q, q.mT), 0.5));
    });
    const exactTie = T.tensor([
      [2, 0, 0],
      [0, 3, 0],
      [0, 0, 2],
    ]);

    it('gives the closed forms for losses of the eigenvalues (never NaN)', () => {
      fc.assert(
        fc.property(fc.oneof(rankOneUpdateArb, fc.constant(exactTie)), (a) => {
          const n = a.shape[0]!;
          expectClose(
            gradOf((a) => sum(eigh(a).values), a),
            T.eye(n),
            CLOSE,
          );
          expectClose(
            gradOf((a) => sum(square(eigh(a).values)), a),
            T.mul(a, 2),
            CLOSE,
          );
          // d tr(A³)/dA = 3 A² for symmetric A
          expectClose(
            gradOf((a) => sum(pow(eigh(a).values, 3)), a),
            T.mul(T.matmul(a, a), 3),
            CLOSE,
          );
        }),
      );
    });

    it('gradchecks eigenvalue losses and the projector onto the repeated eigenspace', () => {
      // λ ascending: the n − 1 tied ones first; V diag(1,…,1,0) Vᵀ projects onto their eigenspace
      const projector = (a: Variable): Variable => {
        const { vectors } = eigh(a);
        const n = vectors.shape[1]!;
        const c = T.tensor(Array.from({ length: n }, (_, i) => (i < n - 1 ? 1 : 0)));
        return matmul(mul(vectors, c), mT(vectors));
      };
      fc.assert(
        fc.property(rankOneUpdateArb, (a) => {
          // single tied eigenvalues are not differentiable: only symmetric functions of them
          gradcheck((a) => flatJoin(sum(square(eigh(a).values)), sum(pow(eigh(a).values, 3))), [a]);
          gradcheck(projector, [a]);
          expect(hasNaN(gradOf((a) => sum(projector(a)), a))).toBe(false);
        }),
        FIRST_ORDER,
      );
    });
  });
});

describe('svd', () => {
  /** s and sign-invariant functions of U and V (U∘U, V∘V, U diag(c) Vᵀ) that use every column. */
  const svdLoss =
    (c: Tensor) =>
    (a: Variable): Variable => {
      const { u, s, v } = svd(a);
      return flatJoin(s, mul(u, u), mul(v, v), matmul(mul(u, c), mT(v)));
    };
  const withSvdWeights = (arb: fc.Arbitrary<Tensor>): fc.Arbitrary<{ a: Tensor; c: Tensor }> =>
    fc.tuple(arb, fc.nat()).map(([a, seed]) => ({ a, c: weights([Math.min(...a.shape.slice(-2))], seed) }));

  it('gradchecks s, U and V of tall, square and wide matrices at distinct singular values, batched (order 1)', () => {
    fc.assert(
      fc.property(
        withSvdWeights(matrixArb({ square: false, distinct: true })),
        ({ a, c }) => void gradcheck(svdLoss(c), [a]),
      ),
      FIRST_ORDER,
    );
  });

  it('gradchecks the singular values at second order', () => {
    const values = (a: Variable): Variable => svd(a).s;
    fc.assert(
      fc.property(
        matrixArb({ square: false, distinct: true, maxN: 3, batch: smallBatchArb }),
        (a) => void gradcheck(values, [a], { order: 2 }),
      ),
      SECOND_ORDER,
    );
  });

  it('has the closed forms d Σs/dA = U Vᵀ, d Σs²/dA = 2A and d s₁/dA = u₁v₁ᵀ', () => {
    fc.assert(
      fc.property(matrixArb({ square: false, distinct: true }), (a) => {
        const { u, v } = T.svd(a);
        const first = (t: Tensor): Tensor => t.slice(...t.shape.slice(0, -1).map(() => null), [0, 1]);
        expectClose(
          gradOf((a) => sum(svd(a).s), a),
          T.matmul(u, v.mT),
          CLOSE,
        );
        expectClose(
          gradOf((a) => sum(square(svd(a).s)), a),
          T.mul(a, 2),
          CLOSE,
        );
        expectClose(
          gradOf((a) => sum(slice(svd(a).s, ...a.shape.slice(0, -2).map(() => null), [0, 1])), a),
          T.matmul(first(u), first(v).mT),
          CLOSE,
        );
      }),
      FIRST_ORDER,
    );
  });

  describe('at repeated singular values', () => {
    /** U diag(s) Vᵀ with s = (1, …, 1) or (1, …, 1, 2): all but at most one singular value tied. */
    const repeatedArb = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.nat())
      .map(([m, n, distinctTop, seed]) => {
        const k = Math.min(m, n);
        const s = Array.from({ length: k }, (_, i) => (distinctTop && i === 0 ? 2 : 1));
        return fromSpectra([], m, n, [s], seed);
      });

    it('gives the closed forms for Σs and Σs² and gradchecks them (never NaN)', () => {
      fc.assert(
        fc.property(repeatedArb, (a) => {
          const { u, v } = T.svd(a);
          expectClose(
            gradOf((a) => sum(svd(a).s), a),
            T.matmul(u, v.mT),
            CLOSE,
          );
          expectClose(
            gradOf((a) => sum(square(svd(a).s)), a),
            T.mul(a, 2),
            CLOSE,
          );
          gradcheck((a) => flatJoin(sum(svd(a).s), sum(square(svd(a).s))), [a]);
        }),
        FIRST_ORDER,
      );
    });

    it(
      'gradchecks the top singular pair beside a tied block, through ' +
        'U diag(1,0,…) Vᵀ (invariant to the basis of the block)',
      () => {
        const arb = fc
          .tuple(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 2, max: 4 }), fc.nat())
          .map(([m, n, seed]) => {
            const k = Math.min(m, n);
            return fromSpectra([], m, n, [Array.from({ length: k }, (_, i) => (i === 0 ? 2 : 1))], seed);
          });
        const topPair = (a: Variable): Variable => {
          const { u, v } = svd(a);
          const c = T.tensor(Array.from({ length: u.shape[1]! }, (_, i) => (i === 0 ? 1 : 0)));
          return matmul(mul(u, c), mT(v));
        };
        fc.assert(
          fc.property(arb, (a) => void gradcheck(topPair, [a])),
          FIRST_ORDER,
        );
      },
    );

    it('allows losses of s at a rank-deficient non-square matrix but refuses an infinite gradient through U', () => {
      const a = T.tensor([
        [3, 0],
        [0, 0],
        [0, 0],
      ]);
      const { u, v } = T.svd(a);
      expectClose(
        gradOf((a) => sum(svd(a).s), a),
        T.matmul(u, v.mT),
        CLOSE,
      );
      expect(() => gradOf((a) => sum(mul(svd(a).u, weights([3, 2], 1))), a)).toThrow(LinAlgError);
      expect(() => gradOf((a) => sum(mul(svd(a).u, weights([3, 2], 1))), a)).toThrow(
        /^svd: the gradient through u is infinite/,
      );
      const wide = T.tensor([
        [3, 0, 0],
        [0, 0, 0],
      ]);
      expect(() => gradOf((a) => sum(mul(svd(a).v, weights([3, 2], 1))), wide)).toThrow(
        /^svd: the gradient through v is infinite/,
      );
    });
  });
});

describe('expm', () => {
  /** Entries in [−3, 3]: norms up to 12, so the scaling-and-squaring branch is taken too. */
  const expmInputArb = (maxN: number, batch: fc.Arbitrary<number[]>): fc.Arbitrary<Tensor> =>
    fc
      .tuple(batch, fc.integer({ min: 1, max: maxN }))
      .chain(([b, n]) => tensorArb([...b, n, n], 'float64', { min: -3, max: 3 }));

  it('gradchecks batched (order 1) and at second order', () => {
    fc.assert(
      fc.property(expmInputArb(4, batchArb), (a) => void gradcheck(expm, [a])),
      FIRST_ORDER,
    );
    fc.assert(
      fc.property(expmInputArb(3, smallBatchArb), (a) => void gradcheck(expm, [a], { order: 2 })),
      SECOND_ORDER,
    );
  });

  it('has the closed form d tr(e^A)/dA = (e^A)ᵀ', () => {
    fc.assert(
      fc.property(expmInputArb(4, batchArb), (a) =>
        expectClose(
          gradOf((a) => sum(trace(expm(a))), a),
          T.expm(a).mT,
          { rtol: 1e-10, atol: 1e-10 },
        ),
      ),
    );
  });

  it('has the divided-difference closed form at a diagonal matrix', () => {
    const arb = fc.tuple(
      fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 1, maxLength: 4 }),
      fc.nat(),
    );
    fc.assert(
      fc.property(arb, ([d, seed]) => {
        const n = d.length;
        const w = weights([n, n], seed);
        // L(D, E)_ij = E_ij (e^d_i − e^d_j)/(d_i − d_j), written e^d_j·expm1(gap)/gap to avoid cancellation
        const expected = T.tensor(
          Float64Array.from({ length: n * n }, (_, p) => {
            const [i, j] = [Math.floor(p / n), p % n];
            const gap = d[i]! - d[j]!;
            return w.get(i, j) * Math.exp(d[j]!) * (gap === 0 ? 1 : Math.expm1(gap) / gap);
          }),
          { shape: [n, n] },
        );
        expectClose(
          gradOf((a) => sum(mul(expm(a), w)), T.diagEmbed(T.tensor(d))),
          expected,
          CLOSE,
        );
      }),
    );
  });
});

describe('matrixNorm', () => {
  const rectangularArb = fc
    .tuple(batchArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
    .chain(([b, m, n]) => tensorArb([...b, m, n], 'float64', { min: -2, max: 2 }));
  const orders = ['fro', 1, 'inf', 2, 'nuc'] as const;

  it('matches the tensor matrixNorm', () => {
    fc.assert(
      fc.property(rectangularArb, fc.constantFrom(...orders), (a, ord) => {
        expectClose(matrixNorm(a, ord).value, T.matrixNorm(a, ord), { rtol: 1e-12, atol: 1e-12 });
      }),
    );
  });

  it('gradchecks every order where the norm is smooth (distinct singular values, no zero entries or ties)', () => {
    const arb = matrixArb({ square: false, distinct: true });
    fc.assert(
      fc.property(arb, fc.constantFrom(...orders), (a, ord) => void gradcheck((a) => matrixNorm(a, ord), [a])),
      FIRST_ORDER,
    );
  });

  it('gradchecks fro, 2 and nuc at second order', () => {
    const distinctArb = matrixArb({ square: false, distinct: true, maxN: 3, batch: smallBatchArb });
    fc.assert(
      fc.property(
        distinctArb,
        fc.constantFrom<T.MatrixNormOrder>('fro', 2, 'nuc'),
        (a, ord) => void gradcheck((a) => matrixNorm(a, ord), [a], { order: 2 }),
      ),
      SECOND_ORDER,
    );
  });

  it('has the closed-form gradients A/‖A‖, sign(A) on the largest column/row, u₁v₁ᵀ and U Vᵀ', () => {
    fc.assert(
      fc.property(tensorArb([3, 4], 'float64', { min: -2, max: 2 }), (a) => {
        const entries = Array.from(a.toTypedArray());
        const at = (i: number, j: number): number => entries[i * 4 + j]!;
        const colSums = [0, 1, 2, 3].map((j) => [0, 1, 2].reduce((s, i) => s + Math.abs(at(i, j)), 0));
        const rowSums = [0, 1, 2].map((i) => [0, 1, 2, 3].reduce((s, j) => s + Math.abs(at(i, j)), 0));
        const bestCol = colSums.indexOf(Math.max(...colSums));
        const bestRow = rowSums.indexOf(Math.max(...rowSums));
        const { u, v } = T.svd(a);
        const fro = Math.sqrt(entries.reduce((s, x) => s + x * x, 0));
        expectClose(
          gradOf((a) => matrixNorm(a, 'fro'), a),
          entries.map((x) => x / fro),
          CLOSE,
        );
        expectClose(
          gradOf((a) => matrixNorm(a, 1), a),
          entries.map((x, p) => (p % 4 === bestCol ? Math.sign(x) : 0)),
          CLOSE,
        );
        expectClose(
          gradOf((a) => matrixNorm(a, 'inf'), a),
          entries.map((x, p) => (Math.floor(p / 4) === bestRow ? Math.sign(x) : 0)),
          CLOSE,
        );
        expectClose(
          gradOf((a) => matrixNorm(a, 2), a),
          T.matmul(u.slice(null, [0, 1]), v.slice(null, [0, 1]).mT),
          CLOSE,
        );
        expectClose(
          gradOf((a) => matrixNorm(a, 'nuc'), a),
          T.matmul(u, v.mT),
          CLOSE,
        );
      }),
    );
  });

  it('splits the gradient equally between tied largest columns (1) and rows (inf)', () => {
    const a = T.tensor([
      [1, -2],
      [-2, 1],
    ]);
    expectClose(
      gradOf((a) => matrixNorm(a, 1), a),
      T.tensor([
        [0.5, -0.5],
        [-0.5, 0.5],
      ]),
    );
    expectClose(
      gradOf((a) => matrixNorm(a, 'inf'), a),
      T.tensor([
        [0.5, -0.5],
        [-0.5, 0.5],
      ]),
    );
  });

  it('gives 0 with an empty gradient for empty matrices', () => {
    for (const ord of orders) {
      for (const shape of [
        [2, 0, 3],
        [3, 0],
      ]) {
        const a = T.zeros(shape);
        expectClose(matrixNorm(a, ord).value, T.zeros(shape.slice(0, -2)));
        expect(grad((a) => sum(matrixNorm(a, ord)))(a).shape).toEqual(shape);
      }
    }
  });

  it('rejects a vector and an unknown order', () => {
    expect(() => matrixNorm(T.ones([3]), 'fro')).toThrow(ShapeError);
    expect(() => matrixNorm(T.ones([2, 2]), 3 as unknown as 'fro')).toThrow(ValueError);
    expect(() => matrixNorm(T.ones([2, 2]), 3 as unknown as 'fro')).toThrow(/^matrixNorm: ord must be/);
  });
});

describe('trace', () => {
  it('matches the tensor trace, has gradient I (rectangular) and gradchecks at second order', () => {
    const arb = fc
      .tuple(batchArb, fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }))
      .chain(([b, m, n]) => tensorArb([...b, m, n]));
    fc.assert(
      fc.property(arb, (a) => {
        const [m, n] = a.shape.slice(-2) as [number, number];
        expectClose(trace(a).value, T.trace(a), { rtol: 1e-12, atol: 1e-12 });
        expectClose(
          gradOf((a) => sum(trace(a)), a),
          T.eye(m, n).expand(a.shape),
          CLOSE,
        );
        gradcheck(trace, [a], { order: 2 });
      }),
    );
  });

  it('rejects a vector', () => {
    expect(() => trace(T.ones([3]))).toThrow(/^trace: a must be a matrix/);
  });
});

describe('tensor inputs', () => {
  it('are constants: the results equal the kernels and do not require grad', () => {
    const a = fromSpectra(
      [2],
      3,
      3,
      [
        [1, 2, 3],
        [0.5, 1, 1.5],
      ],
      7,
    );
    const results: [Variable, Tensor][] = [
      [solve(a, T.ones([3])), T.solve(a, T.ones([3]))],
      [inv(a), T.inv(a)],
      [det(a), T.det(a)],
      [slogdet(a).logAbsDet, T.slogdet(a).logAbsDet],
      [qr(a).r, T.qr(a).r],
      [eigh(a).values, T.eigh(a).values],
      [svd(a).s, T.svd(a).s],
      [expm(a), T.expm(a)],
      [matrixNorm(a, 2), T.matrixNorm(a, 2)],
    ];
    for (const [actual, expected] of results) {
      expect(actual.requiresGrad).toBe(false);
      expectClose(actual.value, expected, { rtol: 0, atol: 0 });
    }
  });
});

describe('float32 inputs', () => {
  it('get float32 gradients that agree with the float64 ones to float32 precision', () => {
    const a64 = fromSpectra(
      [2],
      3,
      3,
      [
        [1, 2, 3],
        [0.5, 1, 1.5],
      ],
      11,
    );
    const a32 = a64.astype('float32');
    const w = weights([2, 3, 3], 5);
    const losses: ((a: Variable) => Variable)[] = [
      (a) => sum(mul(solve(a, w), w)),
      (a) => sum(mul(inv(a), w)),
      (a) => sum(det(a)),
      (a) => sum(slogdet(a).logAbsDet),
      (a) => sum(mul(qr(a).q, w)),
      (a) => sum(square(eigh(a).values)),
      (a) => sum(matrixNorm(a, 'nuc')),
      (a) => sum(mul(expm(a), w)),
    ];
    for (const loss of losses) {
      const g32 = gradOf(loss, a32);
      expect(g32.dtype).toBe('float32');
      expectClose(g32, gradOf(loss, a64), { rtol: 1e-4, atol: 1e-4 });
    }
  });
});
