/**
 * Differentiable maps onto the orthogonal group (the parameterisation route): skew-symmetric
 * matrices from free vectors, then Cayley, the matrix exponential or QR; and the Helmert basis
 * of 1^⊥ that sHC uses. Built from @hyperconn/autograd ops, so gradients of any order work.
 */
import {
  LinAlgError,
  ShapeError,
  Tensor,
  ValueError,
  allocate,
  dtypeOption,
  eye,
  fmtShape,
  type DType,
} from '@hyperconn/tensor';
import { type Variable, add, asVariable, expm, matmul, qr, reshape, solve, sub } from '@hyperconn/autograd';
import { requireFinite } from './util.js';

function requireSquare(op: string, a: Variable): number {
  const n = a.shape[a.ndim - 1];
  if (a.ndim < 2 || a.shape[a.ndim - 2] !== n) {
    throw new ShapeError(
      `${op}: a must be a square matrix or a batch of them [...,m,m], got shape ${fmtShape(a.shape)}`,
    );
  }
  return n!;
}

const skewBasisCache = new Map<string, Tensor>();

/** The constant [k, m²] matrix whose row r holds +1 at (i, j) and −1 at (j, i) for the r-th pair i < j (row-major). */
function skewBasis(m: number, dtype: DType): Tensor {
  const key = `${m}:${dtype}`;
  let basis = skewBasisCache.get(key);
  if (!basis) {
    const k = (m * (m - 1)) / 2;
    const data = allocate(dtype, k * m * m);
    let r = 0;
    for (let i = 0; i < m; i++) {
      for (let j = i + 1; j < m; j++, r++) {
        data[r * m * m + i * m + j] = 1;
        data[r * m * m + j * m + i] = -1;
      }
    }
    basis = new Tensor(data, [k, m * m]);
    skewBasisCache.set(key, basis);
  }
  return basis;
}

/**
 * The skew-symmetric A = T − Tᵀ [..., m, m] whose strict upper triangle T is filled row by row
 * from `z` [..., m(m−1)/2] (z₀ → A[0,1], z₁ → A[0,2], …). m = 0 or 1 takes an empty last axis
 * and gives a zero matrix. A linear map (one matmul with a constant ±1 matrix).
 */
export function skewFromVector(z: Variable | Tensor, m: number): Variable {
  if (!Number.isInteger(m) || m < 0) throw new ValueError(`skewFromVector: m must be a non-negative integer, got ${m}`);
  const zv = asVariable('skewFromVector', z, 'z');
  const k = (m * (m - 1)) / 2;
  if (zv.ndim < 1 || zv.shape[zv.ndim - 1] !== k) {
    throw new ShapeError(
      `skewFromVector: z must have a last axis of length m(m−1)/2 = ${k} for m = ${m}, got shape ${fmtShape(zv.shape)}`,
    );
  }
  const batch = zv.shape.slice(0, -1);
  // the batch size is spelled out: reshape cannot infer −1 when k = 0 (m ≤ 1)
  const rows = batch.reduce((a, b) => a * b, 1);
  return reshape(matmul(reshape(zv, [rows, k]), skewBasis(m, zv.dtype)), [...batch, m, m]);
}

/**
 * The Cayley transform (I + A)⁻¹(I − A) of `a` [..., m, m], by a differentiable solve. For
 * skew-symmetric A (e.g. from `skewFromVector`) the result is in SO(m): orthogonal with
 * det = +1 (I + A is then always invertible); it reaches every rotation without the eigenvalue
 * −1. Other A give the formula's value, which is not orthogonal. Singular I + A: LinAlgError;
 * non-finite A: ValueError.
 */
export function cayley(a: Variable | Tensor): Variable {
  const av = asVariable('cayley', a, 'a');
  const m = requireSquare('cayley', av);
  requireFinite('cayley', 'a', av.value);
  const identity = eye(m, m, { dtype: av.dtype });
  try {
    return solve(add(av, identity), sub(identity, av));
  } catch (e) {
    if (e instanceof LinAlgError) throw new LinAlgError(`cayley: I + A is singular (${e.message})`);
    throw e;
  }
}

/**
 * e^A of `a` [..., m, m] by the differentiable `expm` (scaling and squaring). For skew-symmetric A
 * the result is in SO(m) (det = e^{tr A} = +1); other A give e^A, which is not orthogonal.
 * Non-finite A: ValueError.
 */
export function expmSkew(a: Variable | Tensor): Variable {
  const av = asVariable('expmSkew', a, 'a');
  requireSquare('expmSkew', av);
  requireFinite('expmSkew', 'a', av.value);
  return expm(av);
}

/**
 * Q of the QR decomposition A = QR of `a` [..., m, n] with diag(R) ≥ 0 (Q [..., m, min(m, n)] with
 * orthonormal columns), through the differentiable `qr`. The sign fix makes Q a smooth function
 * of A where A has full rank; the gradient at a rank-deficient A is a LinAlgError (from `qr`'s
 * gradient, message starting `qr:`). Rank is judged relative to A's scale, as `qr` does: some
 * |R_jj| ≤ max(m,n)·eps(dtype)·max|R_ij| (leading k×k block) counts as rank-deficient, so a
 * numerically rank-deficient A is refused too, and a well-conditioned A at any scale is not.
 * Non-finite A: ValueError.
 */
export function orthogonalQR(a: Variable | Tensor): Variable {
  const av = asVariable('orthogonalQR', a, 'a');
  if (av.ndim < 2)
    throw new ShapeError(
      `orthogonalQR: a must be a matrix or a batch of matrices [...,m,n], got shape ${fmtShape(av.shape)}`,
    );
  requireFinite('orthogonalQR', 'a', av.value);
  return qr(av).q;
}

/**
 * The Helmert basis U_z [n, n−1] of 1^⊥ ⊂ Rⁿ (docs/spec/hc-family.md): column i−1, for i = 1..n−1,
 * holds 1/√(i(i+1)) in rows 0..i−1, −i/√(i(i+1)) in row i and 0 below. Its columns are
 * orthonormal and orthogonal to 1: U_zᵀU_z = I, U_zᵀ1 = 0, U_zU_zᵀ = I − 11ᵀ/n. n = 1 gives the
 * empty [1, 0] matrix; n < 1 is a ValueError.
 */
export function helmertBasis(n: number, options: { dtype?: DType } = {}): Tensor {
  if (!Number.isInteger(n) || n < 1) throw new ValueError(`helmertBasis: n must be a positive integer, got ${n}`);
  const cols = n - 1;
  const data = allocate(dtypeOption('helmertBasis', options), n * cols);
  for (let i = 1; i <= cols; i++) {
    const scale = Math.sqrt(i * (i + 1));
    for (let row = 0; row < i; row++) data[row * cols + i - 1] = 1 / scale;
    data[i * cols + i - 1] = -i / scale;
  }
  return new Tensor(data, [n, cols]);
}
