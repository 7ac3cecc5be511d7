/**
 * Adversarial battery for the gradients of the linear algebra (svd, eigh, qr, det, slogdet, inv,
 * solve, expm, matrixNorm): extreme scales (1e±300, 1e±155 in float64, 1e±30 in float32), tied
 * and near-tied spectra, rank-deficient and near-rank-deficient inputs, non-finite inputs and
 * empty matrices.
 *
 * References are independent of the rule under test: the gradient at the unscaled matrix times
 * c^p (p the gradient's degree of homogeneity), closed forms (2×2 det and eigenvalues, cofactors,
 * U S⁻¹ Vᵀ from the SVD kernel, the Fréchet series of a nilpotent matrix) or central finite
 * differences of the forward alone. Tolerances: 16·n·eps(dtype)·κ² for rounding (κ the
 * conditioning the gradient divides by); 1e-7 for finite differences with h = 1e-6·max|A| (their
 * truncation error h²·|f‴| plus eps·|f|/h).
 */
import { describe, expect } from 'vitest';
import * as T from '@hyperconn/tensor';
import { LinAlgError, Random, Tensor, epsOf, type DType } from '@hyperconn/tensor';
import {
  add,
  det,
  eigh,
  expm,
  grad,
  inv,
  matmul,
  matrixNorm,
  mul,
  qr,
  slice,
  slogdet,
  solve,
  square,
  sum,
  svd,
  transpose,
  diagonal,
  log,
  Variable,
} from '@hyperconn/autograd';
import { orthogonalQR } from '@hyperconn/manifolds';
import { battery, type Case } from './battery';

// ---------------------------------------------------------------------------------------------
// Fixed inputs

/** The matrix of the repro: singular values 2.49, 1.73, 0.51 (κ for U, V: 4.9). */
const B = T.tensor([
  [2, 1, 0.5],
  [0.3, 1.5, -0.7],
  [0.1, -0.4, 1.1],
]);
const W = new Random(3).normal([3, 3]);
/** Symmetric, eigenvalues 0.45, 1.70, 2.45. */
const S = T.mul(T.add(B, B.mT), 0.5);
const TALL = T.tensor([
  [1, 2],
  [2, 4],
  [3, 7],
]);
const WIDE = T.tensor([
  [2, 1, 3],
  [0.5, -1, 2],
]);
const W32 = new Random(5).normal([3, 2]);
/** Symmetric positive definite. */
const P = T.tensor([
  [2, 0.5],
  [0.5, 1],
]);
const RANK_DEFICIENT = T.tensor([
  [1, 2],
  [2, 4],
  [3, 6],
]);

// ---------------------------------------------------------------------------------------------
// Helpers

const mT = (x: Variable): Variable => transpose(x, -2, -1);
const gradOf = (loss: (a: Variable) => Variable, a: Tensor): Tensor => grad(loss)(a).value;
const as = (dtype: DType, t: Tensor): Tensor => t.astype(dtype);

/** x·c^p entry by entry in float64, one factor c at a time (c^p itself may be out of range). */
function timesPower(x: Tensor | ArrayLike<number>, c: number, p: number): Float64Array {
  const values = x instanceof Tensor ? x.toTypedArray() : x;
  return Float64Array.from(values, (v) => {
    for (let i = 0; i < Math.abs(p); i++) v = p > 0 ? v * c : v / c;
    return v;
  });
}

/** Singular values of a float64 copy. */
const sv = (a: Tensor): number[] => Array.from(T.svd(a.astype('float64')).s.toTypedArray());
const minGap = (x: readonly number[]): number => {
  let gap = Infinity;
  for (let i = 0; i < x.length; i++)
    for (let j = i + 1; j < x.length; j++) gap = Math.min(gap, Math.abs(x[i]! - x[j]!));
  return gap;
};
/** σ_max/σ_min: what inverses and QR divide by. */
const kappa = (a: Tensor): number => {
  const s = sv(a);
  return s[0]! / s[s.length - 1]!;
};
/** σ_max over the smallest singular-value gap and σ_min: what U and V divide by. */
const svdKappa = (a: Tensor): number => {
  const s = sv(a);
  return s[0]! / Math.min(minGap(s), s[s.length - 1]!);
};
/** max|λ| over the smallest eigenvalue gap. */
const eighKappa = (a: Tensor): number => {
  const l = Array.from(T.eigh(a.astype('float64')).values.toTypedArray());
  return Math.max(...l.map(Math.abs)) / minGap(l);
};
/** The rounding tolerance 16·n·eps·κ² of the file header. */
const roundingTol = (a: Tensor, k: number): number => 16 * Math.max(...a.shape.slice(-2)) * epsOf(a.dtype) * k * k;

/**
 * A check that the value (a Tensor) has the expected shape, no NaN, ±∞ exactly where the
 * expected value is ±∞, and finite entries within rtol·max|expected finite| (norm-wise). The
 * expected value may be given as a function, computed when the case runs.
 */
function near(
  reference: Tensor | Float64Array | (() => Tensor | Float64Array),
  rtol: number,
  shape?: readonly number[],
): (value: unknown) => void {
  return (value) => {
    const expected = typeof reference === 'function' ? reference() : reference;
    expect(value).toBeInstanceOf(Tensor);
    const actual = value as Tensor;
    if (expected instanceof Tensor) expect(actual.shape).toEqual(expected.shape);
    if (shape) expect(actual.shape).toEqual(shape);
    const a = actual.toTypedArray();
    const e = expected instanceof Tensor ? expected.toTypedArray() : expected;
    expect(a.length).toBe(e.length);
    let size = 0;
    for (const x of e) if (Number.isFinite(x)) size = Math.max(size, Math.abs(x));
    for (let i = 0; i < a.length; i++) {
      expect(Number.isNaN(a[i]!), `entry ${i} is NaN`).toBe(false);
      if (!Number.isFinite(e[i]!)) expect(a[i], `entry ${i}`).toBe(e[i]);
      else
        expect(Math.abs(a[i]! - e[i]!), `entry ${i}: ${a[i]} vs ${e[i]} (scale ${size})`).toBeLessThanOrEqual(
          rtol * size,
        );
    }
  };
}

/** A value case: the gradient of `loss` at c·A equals the float64 gradient at A times c^p. */
function scaled(
  name: string,
  loss: (a: Variable) => Variable,
  a: Tensor,
  c: number,
  p: number,
  k: number,
  dtype: DType = 'float64',
): Case {
  const base = as(dtype, a);
  return {
    name: `${name} at ${c}·A (${dtype}) = c^${p}·∇L(A)`,
    run: () => gradOf(loss, T.mul(base, c)),
    check: near(() => timesPower(gradOf(loss, base.astype('float64')), c, p), roundingTol(base, k), base.shape),
  };
}

/** Central differences of the scalar loss at A (forward evaluations only), h = 1e-6·max|A|. */
function centralDifferences(loss: (a: Variable) => Variable, a: Tensor): Float64Array {
  const values = a.toTypedArray();
  let max = 0;
  for (const x of values) max = Math.max(max, Math.abs(x));
  const h = 1e-6 * max;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const at = (d: number): number => {
      const x = Float64Array.from(values);
      x[i] = x[i]! + d;
      return loss(new Variable(T.tensor(x, { shape: a.shape }))).item();
    };
    out[i] = (at(h) - at(-h)) / (2 * h);
  }
  return out;
}
const FD_RTOL = 1e-7;

/** Sign-invariant loss of the singular vectors. */
const svdVectorsLoss = (a: Variable): Variable => {
  const { u, v } = svd(a);
  return add(
    sum(mul(mul(u, u), W.slice([0, u.shape[0]!], [0, u.shape[1]!]))),
    sum(mul(mul(v, v), W.slice([0, v.shape[0]!], [0, v.shape[1]!]))),
  );
};

// Losses of the repro form ⟨W, f(A)⟩, in the dtype of A
const wOf = (x: Variable, shape: readonly number[]): Tensor => W.slice([0, shape[0]!], [0, shape[1]!]).astype(x.dtype);
const uLoss = (a: Variable): Variable => {
  const { u } = svd(a);
  return sum(mul(u, wOf(a, u.shape)));
};
const vLoss = (a: Variable): Variable => {
  const { v } = svd(a);
  return sum(mul(v, wOf(a, v.shape)));
};
const sLoss = (a: Variable): Variable =>
  sum(
    mul(
      svd(a).s,
      T.tensor([1, 2, 3])
        .slice([0, Math.min(...a.shape)])
        .astype(a.dtype),
    ),
  );
const vectorsLoss = (a: Variable): Variable => sum(mul(eigh(a).vectors, wOf(a, a.shape)));
const valuesLoss = (a: Variable): Variable => sum(mul(eigh(a).values, T.tensor([1, 2, 3]).astype(a.dtype)));
const qLoss = (a: Variable): Variable => {
  const { q } = qr(a);
  return sum(mul(q, wOf(a, q.shape)));
};
const rLoss = (a: Variable): Variable => {
  const { r } = qr(a);
  return sum(mul(r, wOf(a, r.shape)));
};
/** Σ log R_ii: gradient A(AᵀA)⁻¹ = U S⁻¹ Vᵀ for tall full-rank A. */
const logDiagR = (a: Variable): Variable => sum(log(diagonal(qr(a).r)));
const pinvT = (a: Tensor): Tensor => {
  const { u, s, v } = T.svd(a);
  return T.matmul(T.div(u, s), v.mT);
};

/** C_ij = (−1)^(i+j) det(minor_ij) of a 3×3, by 2×2 determinants. */
function cofactors3(a: Tensor): Float64Array {
  const x = (i: number, j: number): number => a.get(i, j);
  const out = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const [r0, r1] = [0, 1, 2].filter((r) => r !== i) as [number, number];
      const [c0, c1] = [0, 1, 2].filter((c) => c !== j) as [number, number];
      out[i * 3 + j] = ((i + j) % 2 === 0 ? 1 : -1) * (x(r0, c0) * x(r1, c1) - x(r0, c1) * x(r1, c0));
    }
  }
  return out;
}

/** λ_max of a symmetric 2×2 [[a,b],[b,d]] in closed form: ∂/∂a, ∂/∂A₀₁ = ∂/∂A₁₀ (b splits), ∂/∂d. */
function topEigenvalueGradient(a: number, b: number, d: number): Float64Array {
  const r = Math.hypot((a - d) / 2, b);
  return Float64Array.of(0.5 + (a - d) / (4 * r), b / (2 * r), b / (2 * r), 0.5 - (a - d) / (4 * r));
}

/**
 * L(X, E) = E + (XE + EX)/2 + XEX/6 for X = Aᵀ of the nilpotent A = [[0, c], [0, 0]] (X² = 0):
 * the gradient of ⟨E, e^A⟩.
 */
function nilpotentExpmGradient(c: number, e: Tensor): Float64Array {
  const [e00, e01, e10, e11] = Array.from(e.toTypedArray()) as [number, number, number, number];
  // X = [[0,0],[c,0]]: XE = [[0,0],[c e00, c e01]], EX = [[c e01, 0],[c e11, 0]], XEX = [[0,0],[c² e01, 0]]
  return Float64Array.of(
    e00 + (c * e01) / 2,
    e01,
    e10 + (c * e00 + c * e11) / 2 + (c * c * e01) / 6,
    e11 + (c * e01) / 2,
  );
}

/** An error case: the gradient (backward) of `loss` at `a`. */
const gradError = (name: string, loss: (a: Variable) => Variable, a: Tensor, op: string): Case => ({
  name,
  run: () => gradOf(loss, a),
  error: LinAlgError,
  op,
});

const I3 = T.eye(3);
const diag = (values: number[]): Tensor => T.diagEmbed(T.tensor(values));

// ---------------------------------------------------------------------------------------------

const svdCases: Case[] = [
  ...[1e-300, 1e-155, 1e155, 1e300].map((c) => scaled('svd ⟨W, U⟩ (the issue repro)', uLoss, B, c, -1, svdKappa(B))),
  ...[1e-300, 1e300].map((c) => scaled('svd ⟨W, V⟩', vLoss, B, c, -1, svdKappa(B))),
  ...[1e-300, 1e300].map((c) => scaled('svd ⟨w, s⟩', sLoss, B, c, 0, svdKappa(B))),
  ...[1e-300, 1e300].map((c) =>
    scaled('svd ⟨W, U⟩ of a tall 3×2 (with the (I − UUᵀ)gU S⁻¹ term)', uLoss, TALL, c, -1, svdKappa(TALL)),
  ),
  ...[1e-155, 1e155].map((c) =>
    scaled('svd ⟨W, V⟩ of a wide 2×3 (with the U S⁻¹ gVᵀ(I − VVᵀ) term)', vLoss, WIDE, c, -1, svdKappa(WIDE)),
  ),
  ...[1e-30, 1e30].map((c) => scaled('svd ⟨W, U⟩', uLoss, B, c, -1, svdKappa(B), 'float32')),
  ...[1e-20, 1e20].map((c) => scaled('svd ⟨W, V⟩', vLoss, B, c, -1, svdKappa(B), 'float32')),
  ...[1e-300, 1e300].map(
    (c): Case => ({
      name: `svd ⟨W, U∘U⟩ + ⟨W, V∘V⟩ at ${c}·B against central finite differences`,
      run: () => gradOf(svdVectorsLoss, T.mul(B, c)),
      check: near(() => centralDifferences(svdVectorsLoss, T.mul(B, c)), FD_RTOL),
    }),
  ),
  {
    name: 'svd tie: Σs at 1e300·diag(2,1,1) has gradient U Vᵀ = I (never NaN)',
    run: () => gradOf((a) => sum(svd(a).s), T.mul(diag([2, 1, 1]), 1e300)),
    check: near(I3, 16 * 3 * epsOf('float64')),
  },
  {
    name: 'svd tie: Σs² at 1e-300·I has gradient 2A (s² underflows; the rule does not square)',
    run: () => gradOf((a) => sum(square(svd(a).s)), T.mul(I3, 1e-300)),
    check: near(T.mul(I3, 2e-300), 16 * 3 * epsOf('float64')),
  },
  {
    name: 'svd tie: the top pair U diag(1,0,0) Vᵀ beside a tied block, at 1e-300·diag(2,1,1), = ∇/c',
    run: () =>
      gradOf(
        (a) => sum(mul(matmul(mul(svd(a).u, T.tensor([1, 0, 0])), mT(svd(a).v)), W)),
        T.mul(diag([2, 1, 1]), 1e-300),
      ),
    check: near(
      () =>
        timesPower(
          gradOf((a) => sum(mul(matmul(mul(svd(a).u, T.tensor([1, 0, 0])), mT(svd(a).v)), W)), diag([2, 1, 1])),
          1e-300,
          -1,
        ),
      1e-12,
    ),
  },
  {
    name: 'svd near-tie (1e-12 relative, inside the tie tolerance) at 1e300: ⟨W, U⟩ is finite, Σs gives U Vᵀ',
    run: () => [
      gradOf(uLoss, T.mul(diag([1, 1 + 1e-12, 0.5]), 1e300)),
      gradOf((a) => sum(svd(a).s), T.mul(diag([1, 1 + 1e-12, 0.5]), 1e300)),
    ],
    check: (value) => {
      const [gu, gs] = value as [Tensor, Tensor];
      expect(Array.from(gu.toTypedArray()).every(Number.isFinite)).toBe(true);
      const { u, v } = T.svd(diag([1, 1 + 1e-12, 0.5]));
      near(T.matmul(u, v.mT), 1e-12)(gs);
    },
  },
  {
    name: 'svd of a rank-deficient square 1e300·diag(1, 0): Σs has the subgradient U Vᵀ (from the kernel)',
    run: () => gradOf((a) => sum(svd(a).s), T.mul(diag([1, 0]), 1e300)),
    check: near(T.matmul(T.svd(diag([1, 0])).u, T.svd(diag([1, 0])).v.mT), 1e-15),
  },
  {
    name: 'svd ⟨W, U⟩ on a batch [1e-300·B, 1e300·B]: each matrix scaled on its own, = ∇L(B)/c per matrix',
    run: () => gradOf((a) => sum(mul(svd(a).u, W)), T.stack([T.mul(B, 1e-300), T.mul(B, 1e300)])),
    check: near(
      () => {
        const g0 = gradOf(uLoss, B);
        return Float64Array.from([...timesPower(g0, 1e-300, -1), ...timesPower(g0, 1e300, -1)]);
      },
      roundingTol(B, svdKappa(B)),
    ),
  },
  gradError(
    'svd ⟨W, U⟩ of a rank-deficient tall 1e300·[[3,0],[0,0],[0,0]] (infinite gradient)',
    uLoss,
    T.mul(
      T.tensor([
        [3, 0],
        [0, 0],
        [0, 0],
      ]),
      1e300,
    ),
    'svd',
  ),
];

const eighCases: Case[] = [
  ...[1e-300, 1e-155, 1e155, 1e300].map((c) => scaled('eigh ⟨W, V⟩', vectorsLoss, S, c, -1, eighKappa(S))),
  ...[1e-300, 1e300].map((c) => scaled('eigh ⟨w, λ⟩', valuesLoss, S, c, 0, eighKappa(S))),
  ...[1e-30, 1e30].map((c) => scaled('eigh ⟨W, V⟩', vectorsLoss, S, c, -1, eighKappa(S), 'float32')),
  ...[1e-300, 1e300].map(
    (c): Case => ({
      name: `eigh λ_max of the 2×2 ${c}·[[3,1],[1,2]] against the closed form (degree 0)`,
      run: () =>
        gradOf(
          (a) => sum(slice(eigh(a).values, [1, 2])),
          T.mul(
            T.tensor([
              [3, 1],
              [1, 2],
            ]),
            c,
          ),
        ),
      check: near(topEigenvalueGradient(3, 1, 2), 16 * 2 * epsOf('float64') * 4),
    }),
  ),
  {
    name: 'eigh V∘V weighted at 1e300·S against central finite differences',
    run: () => gradOf((a) => sum(mul(square(eigh(a).vectors), W)), T.mul(S, 1e300)),
    check: near(() => centralDifferences((a) => sum(mul(square(eigh(a).vectors), W)), T.mul(S, 1e300)), FD_RTOL),
  },
  {
    name: 'eigh tie: Σλ² at 1e300·diag(2,3,2) has gradient 2A',
    run: () => gradOf((a) => sum(square(eigh(a).values)), T.mul(diag([2, 3, 2]), 1e150)),
    check: near(T.mul(diag([2, 3, 2]), 2e150), 16 * 3 * epsOf('float64')),
  },
  {
    name: 'eigh tie: Σλ at 1e-300·diag(2,3,2) has gradient I',
    run: () => gradOf((a) => sum(eigh(a).values), T.mul(diag([2, 3, 2]), 1e-300)),
    check: near(I3, 16 * 3 * epsOf('float64')),
  },
  {
    name: 'eigh tie: the projector onto the tied eigenspace at 1e-300·(I + ½qqᵀ) is finite and = ∇/c',
    run: () => {
      const q = T.tensor([[0.6], [0.8], [0]]);
      return gradOf(
        (a) => sum(mul(matmul(mul(eigh(a).vectors, T.tensor([1, 1, 0])), mT(eigh(a).vectors)), W)),
        T.mul(T.add(I3, T.mul(T.matmul(q, q.mT), 0.5)), 1e-300),
      );
    },
    check: (value) => {
      const q = T.tensor([[0.6], [0.8], [0]]);
      const a = T.add(I3, T.mul(T.matmul(q, q.mT), 0.5));
      const g0 = gradOf((x) => sum(mul(matmul(mul(eigh(x).vectors, T.tensor([1, 1, 0])), mT(eigh(x).vectors)), W)), a);
      near(timesPower(g0, 1e-300, -1), 1e-12)(value);
    },
  },
];

const qrCases: Case[] = [
  ...[1e-300, 1e300].map((c) => scaled('qr ⟨W, Q⟩', qLoss, B, c, -1, kappa(B))),
  ...[1e-300, 1e300].map((c) => scaled('qr ⟨W, R⟩', rLoss, B, c, 0, kappa(B))),
  scaled('qr ⟨W, Q⟩ of a tall 3×2', qLoss, TALL, 1e155, -1, kappa(TALL)),
  scaled('qr ⟨W, Q⟩ of a wide 2×3', qLoss, WIDE, 1e-155, -1, kappa(WIDE)),
  scaled('qr ⟨W, R⟩ of a wide 2×3', rLoss, WIDE, 1e155, 0, kappa(WIDE)),
  ...[1e-30, 1e30].map((c) => scaled('qr ⟨W, Q⟩', qLoss, B, c, -1, kappa(B), 'float32')),
  ...[1, 1e-300, 1e300].map(
    (c): Case => ({
      name: `qr Σ log R_ii of a well-conditioned but badly scaled tall ${c}·A is accepted: U S⁻¹ Vᵀ (SVD kernel)`,
      run: () => gradOf(logDiagR, T.mul(TALL, c)),
      check: near(pinvT(T.mul(TALL, c)), roundingTol(TALL, kappa(TALL))),
    }),
  ),
  {
    name: 'qr Σ log R_ii of a near-rank-deficient tall matrix just above the threshold (κ ≈ 1.2e7): U S⁻¹ Vᵀ',
    run: () =>
      gradOf(
        logDiagR,
        T.tensor([
          [1, 2],
          [2, 4],
          [3, 6.000001],
        ]),
      ),
    check: near(
      pinvT(
        T.tensor([
          [1, 2],
          [2, 4],
          [3, 6.000001],
        ]),
      ),
      16 * 3 * epsOf('float64') * 1.2e7,
    ),
  },
  gradError('qr ⟨W, Q⟩ at the rank-deficient [[1,2],[2,4],[3,6]] (was ±2.3e15)', qLoss, RANK_DEFICIENT, 'qr'),
  gradError('qr ⟨W, R⟩ at the rank-deficient [[1,2],[2,4],[3,6]]', rLoss, RANK_DEFICIENT, 'qr'),
  gradError(
    'qr ⟨W, Q⟩ at 1e300·[[1,2],[2,4],[3,6]] (the threshold is relative)',
    qLoss,
    T.mul(RANK_DEFICIENT, 1e300),
    'qr',
  ),
  gradError('qr ⟨W, Q⟩ at 1e-300·[[1,2],[2,4],[3,6]]', qLoss, T.mul(RANK_DEFICIENT, 1e-300), 'qr'),
  gradError(
    'qr ⟨W, Q⟩ at [[1,2],[2,4+2e-15],[3,6]] (|R₁₁| = 2e-15, not 0, below 3·eps·max|R|)',
    qLoss,
    T.tensor([
      [1, 2],
      [2, 4 + 2e-15],
      [3, 6],
    ]),
    'qr',
  ),
  gradError(
    'qr ⟨W, Q⟩ at the wide rank-deficient [[1,2,3],[2,4,6]]',
    qLoss,
    T.tensor([
      [1, 2, 3],
      [2, 4, 6],
    ]),
    'qr',
  ),
  gradError('qr ⟨W, Q⟩ at a zero 3×2 matrix', qLoss, T.zeros([3, 2]), 'qr'),
  gradError(
    'qr ⟨W, Q⟩ at float32 [[1,2],[2,4],[3,6.000001]] (rank-deficient at float32 eps)',
    qLoss,
    T.tensor(
      [
        [1, 2],
        [2, 4],
        [3, 6.000001],
      ],
      { dtype: 'float32' },
    ),
    'qr',
  ),
  gradError(
    'qr in a batch where only the second matrix is rank-deficient',
    (a) => sum(qr(a).q),
    T.stack([TALL, RANK_DEFICIENT]),
    'qr',
  ),
  gradError(
    'orthogonalQR (manifolds) at the rank-deficient [[1,2],[2,4],[3,6]]',
    (a) => sum(mul(orthogonalQR(a), W32)),
    RANK_DEFICIENT,
    'qr',
  ),
];

const B2 = T.tensor([
  [1.5, -0.7],
  [0.4, 2],
]);
const detCases: Case[] = [
  ...[1e300, 1e-300].map(
    (c): Case => ({
      name:
        `det of the 2×2 ${c}·[[1.5,−0.7],[0.4,2]] (det itself ` +
        `${c > 1 ? 'overflows' : 'underflows'}): gradient [[d,−c],[−b,a]]`,
      run: () => gradOf(det, T.mul(B2, c)),
      check: near(timesPower([2, -0.4, 0.7, 1.5], c, 1), 16 * 2 * epsOf('float64') * kappa(B2) ** 2),
    }),
  ),
  ...[1e-150, 1e150].map(
    (c): Case => ({
      name:
        `det of ${c}·B (det ${c > 1 ? '≈ 1e450 overflows' : '≈ 1e-450 underflows'}): ` +
        `gradient = cofactors of B times c²`,
      run: () => gradOf(det, T.mul(B, c)),
      check: near(timesPower(cofactors3(B), c, 2), roundingTol(B, kappa(B))),
    }),
  ),
  ...[1e-15, 1e15].map(
    (c): Case => ({
      name: `det of ${c}·B in float32 (det beyond float32's range): gradient = cofactors of B times c²`,
      run: () => gradOf(det, T.mul(B.astype('float32'), c)),
      check: near(
        timesPower(cofactors3(B.astype('float32').astype('float64')), c, 2),
        roundingTol(B.astype('float32'), kappa(B)),
      ),
    }),
  ),
  {
    name: 'det of the 0×0 matrix is 1 with an empty gradient',
    run: () => [det(T.zeros([0, 0])).item(), gradOf(det, T.zeros([0, 0]))],
    check: (value) => {
      const [d, g] = value as [number, Tensor];
      expect(d).toBe(1);
      expect(g.shape).toEqual([0, 0]);
    },
  },
  ...[1e-300, 1e300].map((c) => ({
    name: `slogdet log|det| at ${c}·B: gradient B⁻ᵀ/c (inverse kernel)`,
    run: () => gradOf((a) => slogdet(a).logAbsDet, T.mul(B, c)),
    check: near(timesPower(T.inv(B).mT, c, -1), roundingTol(B, kappa(B))),
  })),
  ...[1e-30, 1e30].map((c) => scaled('slogdet log|det|', (a) => slogdet(a).logAbsDet, B, c, -1, kappa(B), 'float32')),
  gradError(
    'det gradient at the singular [[1,2],[2,4]]',
    det,
    T.tensor([
      [1, 2],
      [2, 4],
    ]),
    'det',
  ),
  gradError(
    'slogdet gradient at the singular 1e300·[[1,2],[2,4]]',
    (a) => slogdet(a).logAbsDet,
    T.mul(
      T.tensor([
        [1, 2],
        [2, 4],
      ]),
      1e300,
    ),
    'slogdet',
  ),
];

const invLoss = (a: Variable): Variable => sum(mul(inv(a), wOf(a, a.shape)));
const BCOL = T.tensor([[0.5], [-1.2], [2]]);
const solveLossA = (a: Variable): Variable =>
  sum(mul(solve(a, BCOL.astype(a.dtype)), W.slice(null, [0, 1]).astype(a.dtype)));
const solveLossB = (b: Variable): Variable => sum(mul(solve(B, b), W.slice(null, [0, 1])));
const invSolveCases: Case[] = [
  ...[1e-150, 1e150].map((c) => scaled('inv ⟨W, A⁻¹⟩', invLoss, B, c, -2, kappa(B))),
  scaled('inv ⟨W, A⁻¹⟩', invLoss, B, 1e-10, -2, kappa(B), 'float32'),
  {
    name: 'inv ⟨W, A⁻¹⟩ at 1e-160·B, where the true gradient (~1e320) overflows: ±∞ entry by entry, never NaN',
    run: () => gradOf(invLoss, T.mul(B, 1e-160)),
    check: near(() => timesPower(gradOf(invLoss, B), 1e-160, -2), roundingTol(B, kappa(B))),
  },
  ...[1e-150, 1e150].map((c) => scaled('solve ⟨w, A⁻¹b⟩ in A', solveLossA, B, c, -2, kappa(B))),
  ...[1e-300, 1e300].map(
    (c): Case => ({
      name: `solve ⟨w, A⁻¹b⟩ in b at b = ${c}·b₀ (linear: gradient A⁻ᵀw unchanged)`,
      run: () => gradOf(solveLossB, T.mul(BCOL, c)),
      check: near(T.matmul(T.inv(B).mT, W.slice(null, [0, 1])), roundingTol(B, kappa(B))),
    }),
  ),
  {
    name: 'solve ⟨w, A⁻¹b⟩ in b at 1e-300·A: gradient A⁻ᵀw/c (inverse kernel)',
    run: () => gradOf((b) => sum(mul(solve(T.mul(B, 1e-300), b), W.slice(null, [0, 1]))), BCOL),
    check: near(timesPower(T.matmul(T.inv(B).mT, W.slice(null, [0, 1])), 1e-300, -1), roundingTol(B, kappa(B))),
  },
  {
    name:
      'solve ⟨W, A⁻¹B⟩ in A (two columns) at 1e-160·B, where ' +
      'the true gradient overflows: ±∞ entry by entry, never NaN',
    run: () => gradOf((a) => sum(mul(solve(a, W.slice(null, [0, 2])), W.slice(null, [1, 3]))), T.mul(B, 1e-160)),
    check: near(
      () =>
        timesPower(
          gradOf((a) => sum(mul(solve(a, W.slice(null, [0, 2])), W.slice(null, [1, 3]))), B),
          1e-160,
          -2,
        ),
      roundingTol(B, kappa(B)),
    ),
  },
  {
    name: 'inv of the singular [[1,2],[2,4]]',
    run: () =>
      inv(
        T.tensor([
          [1, 2],
          [2, 4],
        ]),
      ),
    error: LinAlgError,
    op: 'inv',
  },
  {
    name: 'solve with the singular [[1,2],[2,4]]',
    run: () =>
      solve(
        T.tensor([
          [1, 2],
          [2, 4],
        ]),
        T.ones([2]),
      ),
    error: LinAlgError,
    op: 'solve',
  },
];

const expmLoss = (a: Variable): Variable => sum(mul(expm(a), W));
const expmCases: Case[] = [
  ...[1e-300, 1e-150].map(
    (c): Case => ({
      name: `expm ⟨W, e^A⟩ at ${c}·B: gradient L(0, W) = W (+ O(c))`,
      run: () => gradOf(expmLoss, T.mul(B, c)),
      check: near(W, 16 * 3 * epsOf('float64')),
    }),
  ),
  {
    name: 'expm ⟨E, e^A⟩ at the nilpotent [[0, 1e150], [0, 0]]: the Fréchet series E + (XE + EX)/2 + XEX/6',
    run: () =>
      gradOf(
        (a) => sum(mul(expm(a), W.slice([0, 2], [0, 2]))),
        T.tensor([
          [0, 1e150],
          [0, 0],
        ]),
      ),
    check: near(nilpotentExpmGradient(1e150, W.slice([0, 2], [0, 2])), 16 * 2 * epsOf('float64')),
  },
  ...[1e300, 1e-300].map(
    (k): Case => ({
      name: `expm with a cotangent scaled by ${k}: ∇⟨kW, e^B⟩ = k·∇⟨W, e^B⟩ (linear in the cotangent)`,
      run: () => gradOf((a) => sum(mul(expm(a), T.mul(W, k))), B),
      check: near(() => timesPower(gradOf(expmLoss, B), k, 1), 1e-13),
    }),
  ),
  {
    name: 'expm of −1e155·P (SPD; ‖A‖² overflows, e^A underflows to 0): value 0 and gradient 0',
    run: () => [
      expm(T.mul(P, -1e155)).value,
      gradOf((a) => sum(mul(expm(a), W.slice([0, 2], [0, 2]))), T.mul(P, -1e155)),
    ],
    check: (value) => {
      const [e, g] = value as [Tensor, Tensor];
      near(T.zeros([2, 2]), 0)(e);
      near(T.zeros([2, 2]), 0)(g);
    },
  },
  {
    name: 'expm of [[−1e200, 1e200], [0, −1e200]] (column sums near the float range) is 0, not an overflow error',
    run: () =>
      expm(
        T.tensor([
          [-1e200, 1e200],
          [0, -1e200],
        ]),
      ).value,
    check: near(T.zeros([2, 2]), 0),
  },
  { name: 'expm of 1e3·I overflows float64', run: () => expm(T.mul(I3, 1e3)), error: LinAlgError, op: 'expm' },
];

const normCases: Case[] = [
  ...[1e-300, 1e300].map(
    (c): Case => ({
      name: `matrixNorm 2 at ${c}·B: gradient u₁v₁ᵀ (SVD kernel)`,
      run: () => gradOf((a) => matrixNorm(a, 2), T.mul(B, c)),
      check: near(
        T.matmul(T.svd(B).u.slice(null, [0, 1]), T.svd(B).v.slice(null, [0, 1]).mT),
        roundingTol(B, svdKappa(B)),
      ),
    }),
  ),
  ...[1e-300, 1e300].map(
    (c): Case => ({
      name: `matrixNorm 'nuc' at ${c}·B: gradient U Vᵀ (SVD kernel)`,
      run: () => gradOf((a) => matrixNorm(a, 'nuc'), T.mul(B, c)),
      check: near(T.matmul(T.svd(B).u, T.svd(B).v.mT), roundingTol(B, svdKappa(B))),
    }),
  ),
];

/** Gradient of a loss at a zero-size input: a zero-size gradient of the same shape. */
const emptyCase = (name: string, loss: (a: Variable) => Variable, shape: number[]): Case => ({
  name: `${name}: an empty gradient of shape [${shape.join(',')}]`,
  run: () => gradOf(loss, T.zeros(shape)),
  check: near(T.zeros(shape), 0),
});
const emptyCases: Case[] = [
  emptyCase('svd of a 3×0 matrix (s, U and V)', (a) => add(add(sum(svd(a).s), sum(svd(a).u)), sum(svd(a).v)), [3, 0]),
  emptyCase('svd of a 0×3 matrix (U and V)', (a) => add(sum(svd(a).u), sum(svd(a).v)), [0, 3]),
  emptyCase('eigh of a 0×0 matrix', (a) => add(sum(eigh(a).values), sum(eigh(a).vectors)), [0, 0]),
  emptyCase('qr of a 0×2 matrix', (a) => add(sum(qr(a).q), sum(qr(a).r)), [0, 2]),
  emptyCase('inv of a batch of 0×0 matrices', (a) => sum(inv(a)), [2, 0, 0]),
  emptyCase('slogdet of a 0×0 matrix', (a) => slogdet(a).logAbsDet, [0, 0]),
  emptyCase('solve with a 0×0 matrix', (a) => sum(solve(a, T.zeros([0, 2]))), [0, 0]),
  emptyCase('expm of a 0×0 matrix', (a) => sum(expm(a)), [0, 0]),
];

const withEntry = (value: number): Tensor => {
  const x = Float64Array.from(B.toTypedArray());
  x[4] = value;
  return T.tensor(x, { shape: [3, 3] });
};
const nonFiniteCases: Case[] = [
  { name: 'svd of a matrix with a NaN', run: () => svd(withEntry(NaN)), error: LinAlgError, op: 'svd' },
  { name: 'eigh of a matrix with +∞', run: () => eigh(withEntry(Infinity)), error: LinAlgError, op: 'eigh' },
  { name: 'qr of a matrix with a NaN', run: () => qr(withEntry(NaN)), error: LinAlgError, op: 'qr' },
  { name: 'det of a matrix with −∞', run: () => det(withEntry(-Infinity)), error: LinAlgError, op: 'det' },
  { name: 'slogdet of a matrix with a NaN', run: () => slogdet(withEntry(NaN)), error: LinAlgError, op: 'slogdet' },
  { name: 'inv of a matrix with +∞', run: () => inv(withEntry(Infinity)), error: LinAlgError, op: 'inv' },
  { name: 'solve with a NaN in b', run: () => solve(B, T.tensor([1, NaN, 2])), error: LinAlgError, op: 'solve' },
  { name: 'expm of a matrix with +∞', run: () => expm(withEntry(Infinity)), error: LinAlgError, op: 'expm' },
];

describe('svd gradients', () => battery(svdCases));
describe('eigh gradients', () => battery(eighCases));
describe('qr gradients', () => battery(qrCases));
describe('det and slogdet gradients', () => battery(detCases));
describe('inv and solve gradients', () => battery(invSolveCases));
describe('expm gradients', () => battery(expmCases));
describe('matrixNorm gradients', () => battery(normCases));
describe('empty matrices', () => battery(emptyCases));
describe('non-finite inputs', () => battery(nonFiniteCases));
