// The linear-algebra rules of the gradient table (solve, inv, det, slogdet, qr, eigh, svd, expm, matrixNorm, trace),
// re-exported by ops.ts.
import * as T from '@hyperconn/tensor';
import { fmtShape, type Tensor, ValueError, type DType, type SliceSpec } from '@hyperconn/tensor';
import {
  abs,
  add,
  concat,
  diagonal,
  div,
  matmul,
  max,
  mul,
  neg,
  norm,
  reciprocal,
  slice,
  squeeze,
  sub,
  sum,
  transpose,
  triu,
  unsqueeze,
  where,
} from './ops.js';
import { constant, unary, type OpMetadata } from './ops-table.js';
import { asVariable, record, type Variable } from './variable.js';

// ---------------------------------------------------------------------------------------------
// Linear algebra. Forwards are the tensor package's linalg kernels (last two axes, batched over
// the leading ones); rules are written in the differentiable ops, these included, so they can be
// differentiated again. Decompositions with several outputs record one node per output, each
// carrying the part of the vjp that its own cotangent drives: the vjp is linear in the
// cotangents, so the engine's sum is the whole rule, and an unused output costs nothing.

const mT = (x: Variable): Variable => transpose(x, -2, -1);
/**
 * A per-matrix value [...] (one number per matrix of a batch) as [..., 1, 1], so that it
 * broadcasts against the batch of matrices [..., m, n]; differentiable (two unsqueezes).
 */
export function perMatrix(x: Variable | Tensor): Variable {
  return unsqueeze(unsqueeze(x, -1), -1);
}

/** The block rows × cols of the last two axes. */
function block(x: Variable, rows: SliceSpec, cols: SliceSpec): Variable {
  return slice(x, ...new Array<SliceSpec>(x.ndim - 2).fill(null), rows, cols);
}

function requireMatrix(op: string, x: Variable): void {
  if (x.ndim < 2)
    throw new T.ShapeError(
      `${op}: a must be a matrix or a batch of matrices [...,m,n], got shape ${fmtShape(x.shape)}`,
    );
}

/** Runs a rule that inverts a matrix, so that a singular one is reported under the op whose gradient needed it. */
function needsInverse<R>(op: string, matrix: string, rule: () => R): R {
  try {
    return rule();
  } catch (e) {
    if (e instanceof T.LinAlgError)
      throw new T.LinAlgError(`${op}: the gradient needs ${matrix} to be invertible (${e.message})`);
    throw e;
  }
}

/**
 * Eigen- or singular values closer than this (relative to the largest magnitude) count as tied.
 * Exactly repeated values come out of the kernels a few ulps apart; 1/(gap) of such a pair would
 * turn rounding noise into a gradient of order 1/eps.
 */
const tieRtol = (dtype: DType): number => 1e-2 * Math.sqrt(T.epsOf(dtype));

/** [...,k,k]: 1 where |x_i − x_j| ≤ tieRtol·max|x| (the diagonal always), else 0, for each vector of `x` [...,k]. */
function spectralTies(x: Tensor): Tensor {
  const k = x.shape[x.ndim - 1]!;
  const values = x.toTypedArray();
  const mask = new Float64Array(values.length * k);
  const tol = tieRtol(x.dtype);
  for (let base = 0; base < values.length; base += k) {
    let scale = 0;
    for (let i = 0; i < k; i++) scale = Math.max(scale, Math.abs(values[base + i]!));
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        if (Math.abs(values[base + i]! - values[base + j]!) <= tol * scale) mask[(base + i) * k + j] = 1;
      }
    }
  }
  return T.tensor(mask, { shape: [...x.shape, k] });
}

/** F_ij = 1/gaps_ij, and 0 wherever `ties` is set (the diagonal included). Differentiable in the gaps. */
function gapReciprocals(gaps: Variable, ties: Tensor): Variable {
  return where(ties, 0, reciprocal(where(ties, 1, gaps)));
}
/** [...,k,k]: d_j − d_i for each vector d [...,k]. */
const pairwiseDifferences = (d: Variable): Variable => sub(unsqueeze(d, -2), unsqueeze(d, -1));
/** [...,k,k]: d_j + d_i for each vector d [...,k]. */
const pairwiseSums = (d: Variable): Variable => add(unsqueeze(d, -2), unsqueeze(d, -1));

/**
 * Per-matrix (or per-vector) binary exponents, for rules that work on scaled quantities: the
 * exponent e of each trailing block of a tensor, with 2^e ≤ max|entry| < 2^(e+1), and the batch
 * shape (the leading axes) the exponents are laid out in, C order.
 */
interface Exponents {
  exps: number[];
  batch: number[];
}

/**
 * The `Exponents` of the trailing `trailing` axes of `x`; 0 for a zero, empty or non-finite block (nothing to rescale).
 */
function scaleExponents(x: Tensor, trailing: number): Exponents {
  const batch = x.shape.slice(0, x.ndim - trailing);
  const count = batch.reduce((p, d) => p * d, 1);
  const values = x.toTypedArray();
  const inner = count === 0 ? 0 : values.length / count;
  const exps = new Array<number>(count).fill(0);
  for (let b = 0; b < count; b++) {
    let max = 0;
    let finite = true;
    for (let i = b * inner; i < (b + 1) * inner; i++) {
      const v = Math.abs(values[i]!);
      if (!Number.isFinite(v)) finite = false;
      else if (v > max) max = v;
    }
    if (!finite || max === 0) continue;
    // log2 may be off by one near powers of two; the comparisons make e exact
    let e = Math.floor(Math.log2(max));
    if (2 ** e > max) e--;
    else if (2 ** (e + 1) <= max) e++;
    exps[b] = e;
  }
  return { exps, batch };
}

/** The exponents of a product: e of `a` plus e of `b`, block by block (same batch). */
const addExponents = (a: Exponents, b: Exponents): Exponents => ({
  exps: a.exps.map((e, i) => e + b.exps[i]!),
  batch: a.batch,
});

/**
 * x·2^(p·e) per block of `x` (whose leading axes are the batch of `scale`). Applied in steps that
 * each stay inside the dtype's range, so that an entry over- or underflows only if the exact
 * product does (and 0 stays 0, never 0·∞ = NaN); a power of two is otherwise exact. A constant
 * factor, so the result is differentiable in x as the product.
 */
function timesPowerOfTwo(x: Variable, scale: Exponents, p: number): Variable {
  const f32 = x.dtype === 'float32';
  const step = f32 ? 60 : 500;
  // beyond the dtype's whole exponent range the result is 0 or ±∞ anyway: fewer steps
  const limit = f32 ? 600 : 4400;
  const totals = scale.exps.map((e) => Math.max(-limit, Math.min(limit, p * e)));
  const steps = Math.ceil(totals.reduce((acc, t) => Math.max(acc, Math.abs(t)), 0) / step);
  const shape = [...scale.batch, ...new Array<number>(x.ndim - scale.batch.length).fill(1)];
  let y = x;
  for (let j = 0; j < steps; j++) {
    // integer parts of the same sign, |part| ≤ step: the intermediate values move monotonically
    const factors = Float64Array.from(
      totals,
      (t) => 2 ** (Math.trunc((t * (j + 1)) / steps) - Math.trunc((t * j) / steps)),
    );
    y = mul(y, constant(T.tensor(factors, { shape, dtype: x.dtype })));
  }
  return y;
}

/**
 * X = A⁻¹B for `a` [...,n,n] and `b` [n] (one vector) or [...,n,k] (batch axes broadcast), as
 * the tensor `solve`. gB = A⁻ᵀg, gA = −gB Xᵀ.
 */
export function solve(a: Variable | Tensor, b: Variable | Tensor): Variable {
  const av = asVariable('solve', a, 'a');
  const bv = asVariable('solve', b, 'b');
  const vectorB = bv.ndim === 1;
  const x: Variable = record('solve', T.solve(av.value, bv.value), [av, bv], (g, needs) => {
    // g is [...,n] for a vector b: solve it as a batch of one-column matrices
    const gB = vectorB ? squeeze(solve(mT(av), unsqueeze(g, -1)), -1) : solve(mT(av), g);
    if (!needs[0]) return [null, needs[1] ? gB : null];
    // the product of gB and X (each ~1/A) is formed from both divided by powers of two and scaled
    // back once: an overflow is then ±∞, never a sum ∞ − ∞ = NaN
    const trailing = vectorB ? 1 : 2;
    const sB = scaleExponents(gB.value, trailing);
    const sX = scaleExponents(x.value, trailing);
    const [hB, hX] = [timesPowerOfTwo(gB, sB, -1), timesPowerOfTwo(x, sX, -1)];
    const product = vectorB ? matmul(unsqueeze(hB, -1), unsqueeze(hX, -2)) : matmul(hB, mT(hX));
    return [neg(timesPowerOfTwo(product, addExponents(sB, sX), 1)), needs[1] ? gB : null];
  });
  return x;
}

/** A⁻¹ of `a` [...,n,n]; gA = −A⁻ᵀ g A⁻ᵀ. */
export function inv(a: Variable | Tensor): Variable {
  return unary('inv', asVariable('inv', a, 'a'), T.inv, (g, _x, y) => {
    // on A⁻¹/2^e, scaled back by 2^2e once: where the result overflows it is ±∞, not ∞ − ∞ = NaN
    const scale = scaleExponents(y.value, 2);
    const yT = mT(timesPowerOfTwo(y, scale, -1));
    return neg(timesPowerOfTwo(matmul(matmul(yT, g), yT), scale, 2));
  });
}

/**
 * det A of `a` [...,n,n]; gA = g·det A·A⁻ᵀ, the cofactor matrix, computed as
 * g·det(Â)·Â⁻ᵀ·2^((n−1)e) for Â = A/2^e (max|Â| in [1, 2)): it is finite wherever the cofactors
 * are, also where det A itself over- or underflows (det scales as cⁿ, the cofactors as cⁿ⁻¹). At
 * a singular A the gradient (the adjugate) is not implemented: the rule's inverse throws a
 * LinAlgError naming `det`.
 */
export function det(a: Variable | Tensor): Variable {
  return unary('det', asVariable('det', a, 'a'), T.det, (g, x) =>
    needsInverse('det', 'A', () => {
      const n = x.shape[x.ndim - 1]!;
      const scale = scaleExponents(x.value, 2);
      const hat = timesPowerOfTwo(x, scale, -1);
      return timesPowerOfTwo(mul(perMatrix(mul(g, det(hat))), mT(inv(hat))), scale, n - 1);
    }),
  );
}

/**
 * sign(det A) as a constant and log|det A| (gradient g·A⁻ᵀ) of `a` [...,n,n], both [...]. At a
 * singular A, logAbsDet is −∞ and its gradient throws a LinAlgError naming `slogdet`.
 */
export function slogdet(a: Variable | Tensor): { sign: Variable; logAbsDet: Variable } {
  const av = asVariable('slogdet', a, 'a');
  const { sign, logAbsDet } = T.slogdet(av.value);
  return {
    sign: constant(sign),
    logAbsDet: record('slogdet', logAbsDet, [av], (g) => [
      needsInverse('slogdet', 'A', () => mul(perMatrix(g), mT(inv(av)))),
    ]),
  };
}

/**
 * Reduced QR of `a` [...,m,n] (the tensor `qr`: Q [...,m,k], R [...,k,n], k = min(m,n),
 * diag R ≥ 0), differentiable for any m, n where the leading k×k block of A is invertible
 * (A of full rank); otherwise the gradient throws a LinAlgError naming `qr`.
 *
 * Full rank is judged numerically, relative to A's own scale: the gradient throws when some
 * |R_jj| ≤ max(m,n)·eps(dtype)·max|R_ij| (over the leading k×k block of R). Since max|R_ij| ≤
 * σ_max and σ_min ≤ |R_jj|, only matrices with σ_min ≤ max(m,n)·eps·σ_max (rank-deficient by
 * NumPy's `matrix_rank` tolerance) are refused, whose R⁻ᵀ would turn rounding into gradients of
 * order 1/eps; a well-conditioned A at any scale (1e±300 in float64) is accepted.
 */
export function qr(a: Variable | Tensor): { q: Variable; r: Variable } {
  const av = asVariable('qr', a, 'a');
  const f = T.qr(av.value);
  const q: Variable = record('qr.q', f.q, [av], (g) => [qrBackward(av, q, r, g, null)]);
  const r: Variable = record('qr.r', f.r, [av], (g) => [qrBackward(av, q, r, null, g)]);
  return { q, r };
}

/**
 * The QR vjp. For m < n, A = [X | Y] with X = Q U square and Y = Q V (R = [U | V]): then
 * gY = Q gV, and X takes the square rule with the extra Q-cotangent Y gVᵀ (V = QᵀY depends on Q).
 */
function qrBackward(a: Variable, q: Variable, r: Variable, gQ: Variable | null, gR: Variable | null): Variable {
  const [m, n] = a.shape.slice(-2) as [number, number];
  if (m >= n) {
    requireNumericalFullRank(r.value, Math.max(m, n));
    return qrTallBackward(q, r, gQ, gR);
  }
  const u = block(r, null, [0, m]);
  requireNumericalFullRank(u.value, n);
  if (gR === null) {
    const gY = T.zeros([...a.shape.slice(0, -1), n - m], { dtype: a.dtype });
    return concat([qrTallBackward(q, u, gQ, null), gY], -1);
  }
  const gU = block(gR, null, [0, m]);
  const gV = block(gR, null, [m, n]);
  const fromV = matmul(block(a, null, [m, n]), mT(gV));
  const gX = qrTallBackward(q, u, gQ === null ? fromV : add(gQ, fromV), gU);
  return concat([gX, matmul(q, gV)], -1);
}

/**
 * The LinAlgError of `qr`'s gradient for a numerically rank-deficient A: some |R_jj| ≤
 * size·eps·max|R_ij| in a matrix of `r` [...,k,k] (size = max(m,n)). An exactly zero pivot is
 * the case max|R_ij|·0; a zero matrix (max 0) is refused too.
 */
function requireNumericalFullRank(r: Tensor, size: number): void {
  const k = r.shape[r.ndim - 1]!;
  const values = r.toTypedArray();
  const tol = size * T.epsOf(r.dtype);
  for (let b = 0; b * k * k < values.length; b++) {
    let max = 0;
    for (let i = b * k * k; i < (b + 1) * k * k; i++) max = Math.max(max, Math.abs(values[i]!));
    for (let j = 0; j < k; j++) {
      const pivot = Math.abs(values[b * k * k + j * k + j]!);
      if (pivot <= tol * max) {
        const at = r.ndim > 2 ? ` in matrix ${b} of the batch` : '';
        throw new T.LinAlgError(
          `qr: the gradient needs R (A of full rank) to be invertible: A is numerically ` +
            `rank-deficient${at} (|R[${j},${j}]| = ${pivot} ≤ max(m,n)·eps·max|R| = ${tol * max})`,
        );
      }
    }
  }
}

/**
 * The vjp of A = QR for m ≥ n (Q m×n, R n×n): with M = gR Rᵀ − Qᵀ gQ and B the symmetric
 * matrix that copies M's upper triangle onto its lower one, gA = (gQ + Q B) R⁻ᵀ. (From
 * dA = dQ R + Q dR with QᵀdQ skew and dR R⁻¹ upper triangular; PyTorch's linalg_qr_backward.)
 */
function qrTallBackward(q: Variable, r: Variable, gQ: Variable | null, gR: Variable | null): Variable {
  const fromR = gR === null ? null : matmul(gR, mT(r));
  const fromQ = gQ === null ? null : matmul(mT(q), gQ);
  const m = fromR === null ? neg(fromQ!) : fromQ === null ? fromR : sub(fromR, fromQ);
  const b = add(triu(m), mT(triu(m, 1)));
  const qb = matmul(q, b);
  const z = gQ === null ? qb : add(gQ, qb);
  // Z R⁻ᵀ = (R⁻¹ Zᵀ)ᵀ
  return needsInverse('qr', 'R (A of full rank)', () => mT(solve(r, mT(z))));
}

/**
 * Eigendecomposition of symmetric matrices (the tensor `eigh`: A is symmetrised as (A + Aᵀ)/2;
 * values [...,n] ascending, vectors [...,n,n] as columns). With F_ij = 1/(λ_j − λ_i):
 * gA = V (diag(gλ) + F ∘ (Vᵀ gV)) Vᵀ, symmetrised.
 *
 * Repeated eigenvalues (within ~1e-10 relative in float64, see `tieRtol`): only the eigenspace
 * is defined there, not a basis of it, so F is taken as 0 on tied pairs — never NaN. The result
 * is exact for losses of the eigenvalues that are symmetric within each tie (e.g. Σλ, Σλ², any
 * Σφ(λ_i)), and for losses of the vectors through their eigenspaces with weights equal within
 * each tie (V diag(c) Vᵀ with constant c). It is not for gauge-dependent losses, nor for
 * spectral functions V diag(φ(λ)) Vᵀ (whose exact gradient needs φ′ on the tied block, a 0/0
 * limit the op cannot see) — nor therefore for second derivatives of eigenvalue losses at ties.
 *
 * Scale: the gaps are taken on λ/2^e with max|λ|/2^e in [1, 2), so the gradient is equivariant
 * under A → cA (values' gradient unchanged, vectors' divided by c) across the whole float range
 * where it is finite (tested for 1e±300 in float64, 1e±30 in float32).
 */
export function eigh(a: Variable | Tensor): { values: Variable; vectors: Variable } {
  const av = asVariable('eigh', a, 'a');
  const d = T.eigh(av.value);
  const values: Variable = record('eigh.values', d.values, [av], (g) => [
    matmul(mul(vectors, unsqueeze(g, -2)), mT(vectors)),
  ]);
  const vectors: Variable = record('eigh.vectors', d.vectors, [av], (g) => {
    // gaps of λ/2^e (max |λ|/2^e in [1, 2)), so that 1/gap neither overflows nor loses bits in
    // subnormals at extreme scales; the one factor 2^−e is applied at the end
    const scale = scaleExponents(values.value, 1);
    const f = gapReciprocals(pairwiseDifferences(timesPowerOfTwo(values, scale, -1)), spectralTies(values.value));
    const gS = matmul(matmul(vectors, mul(f, matmul(mT(vectors), g))), mT(vectors));
    return [timesPowerOfTwo(mul(add(gS, mT(gS)), 0.5), scale, -1)];
  });
  return { values, vectors };
}

/**
 * Reduced SVD (the tensor `svd`: A = U diag(s) Vᵀ, U [...,m,k], s [...,k] descending, V [...,n,k],
 * k = min(m,n)). With F_ij = 1/(s_j² − s_i²), J = F ∘ (UᵀgU − gUᵀU), K = F ∘ (VᵀgV − gVᵀV):
 * gA = U (diag(gs) + J S + S K) Vᵀ + (I − UUᵀ) gU S⁻¹ Vᵀ [m > n] + U S⁻¹ gVᵀ (I − VVᵀ) [m < n]
 * (Townsend, "Differentiating the singular value decomposition"; PyTorch's svd_backward).
 *
 * Repeated singular values are handled as eigh's eigenvalues (F = 0 on tied pairs, never NaN):
 * exact for losses of s symmetric within ties (e.g. Σs, the nuclear norm) and for U, V through
 * subspace-invariant combinations; gauge-dependent losses of U or V are undefined there. For
 * m ≠ n, a zero singular value whose vector (of U if m > n, of V if m < n) has a non-zero
 * cotangent makes the gradient infinite: LinAlgError.
 *
 * Scale: F is formed from s/2^e with max s/2^e in [1, 2), never from s² (which overflows or
 * underflows beyond about 1e±154, 1e±19 in float32), so the gradient is equivariant under
 * A → cA (s's gradient unchanged, U's and V's divided by c) wherever it is finite (tested for
 * 1e±300 in float64, 1e±30 in float32).
 */
export function svd(a: Variable | Tensor): { u: Variable; s: Variable; v: Variable } {
  const av = asVariable('svd', a, 'a');
  const d = T.svd(av.value);
  const [m, n] = av.shape.slice(-2) as [number, number];
  // The gap terms work on t = s/2^e (max t in [1, 2)): s_j² − s_i² itself overflows or
  // underflows beyond about 1e±154 (1e±19 in float32). F = F̂·2^−2e and s = t·2^e, so the
  // J S and S K terms are F̂-terms times 2^−e, applied once at the end. F̂ is formed as
  // 1/((t_j − t_i)(t_j + t_i)): no cancellation, and untied pairs keep it below ~1/tieRtol².
  const scaled = (): { t: Variable; f: Variable; scale: Exponents } => {
    const scale = scaleExponents(s.value, 1);
    const t = timesPowerOfTwo(s, scale, -1);
    return { t, f: gapReciprocals(mul(pairwiseDifferences(t), pairwiseSums(t)), spectralTies(s.value)), scale };
  };
  const s: Variable = record('svd.s', d.s, [av], (g) => [matmul(mul(u, unsqueeze(g, -2)), mT(v))]);
  const u: Variable = record('svd.u', d.u, [av], (g) => {
    const { t, f, scale } = scaled();
    const uTg = matmul(mT(u), g);
    const jt = mul(mul(f, sub(uTg, mT(uTg))), unsqueeze(t, -2));
    const gA = timesPowerOfTwo(matmul(matmul(u, jt), mT(v)), scale, -1);
    if (m <= n) return [gA];
    const outside = sub(g, matmul(u, uTg));
    return [add(gA, matmul(overSingularValues('u', outside, s), mT(v)))];
  });
  const v: Variable = record('svd.v', d.v, [av], (g) => {
    const { t, f, scale } = scaled();
    const vTg = matmul(mT(v), g);
    const tk = mul(mul(f, sub(vTg, mT(vTg))), unsqueeze(t, -1));
    const gA = timesPowerOfTwo(matmul(matmul(u, tk), mT(v)), scale, -1);
    if (m >= n) return [gA];
    const outside = sub(g, matmul(v, vTg));
    return [add(gA, matmul(u, mT(overSingularValues('v', outside, s))))];
  });
  return { u, s, v };
}

/** X S⁻¹ (column j over s_j); a zero s_j is allowed only under a zero column of X. */
function overSingularValues(output: 'u' | 'v', x: Variable, s: Variable): Variable {
  const k = s.shape[s.ndim - 1]!;
  const sv = s.value.toTypedArray();
  const xv = x.value.toTypedArray();
  const rows = x.shape[x.ndim - 2]!;
  for (let p = 0; p < xv.length; p++) {
    const matrix = Math.floor(p / (rows * k));
    const j = p % k;
    if (xv[p] !== 0 && sv[matrix * k + j] === 0) {
      throw new T.LinAlgError(
        `svd: the gradient through ${output} is infinite for matrix ${matrix} of the batch: A is rank-deficient ` +
          `and not square (singular value ${j} is 0) and the cotangent of singular vector ${j} is not 0`,
      );
    }
  }
  return div(x, unsqueeze(where(T.eq(s.value, 0), 1, s), -2));
}

/**
 * e^A of `a` [...,n,n]. The vjp is the Fréchet derivative at Aᵀ applied to g, the upper-right
 * block of exp([[Aᵀ, g], [0, Aᵀ]]) (Higham, "Functions of Matrices", §3.2), computed with this
 * same differentiable expm so that it can be differentiated again. It is linear in g, so it is
 * taken at g scaled by a power of two to max|g| in [1, 2) and scaled back: a cotangent of any
 * magnitude gives the same relative accuracy.
 */
export function expm(a: Variable | Tensor): Variable {
  return unary('expm', asVariable('expm', a, 'a'), T.expm, (g, x) => {
    const n = x.shape[x.ndim - 1]!;
    const xT = mT(x);
    const zero = T.zeros(x.shape, { dtype: x.dtype });
    // the derivative is linear in g: take it at g/2^e (max |entry| in [1, 2)), else a large g
    // sets the block matrix's scaling and squaring, and A/2^s would underflow beside it
    const scale = scaleExponents(g.value, 2);
    const blocks = concat([concat([xT, timesPowerOfTwo(g, scale, -1)], -1), concat([zero, xT], -1)], -2);
    return timesPowerOfTwo(block(expm(blocks), [0, n], [n, 2 * n]), scale, 1);
  });
}

/**
 * A matrix norm of `a` [...,m,n] (output [...]), as the tensor `matrixNorm`. 'fro', 1 and 'inf'
 * are composites of norm, abs, sum and max (at ties of the max column or row sum, max splits the
 * gradient equally; abs's subgradient at 0 is 0). 2 has gradient u₁v₁ᵀ from the top singular
 * pair and 'nuc' U Vᵀ, both through the differentiable `svd`: at a repeated top singular value
 * (2) or a zero one ('nuc') these are one subgradient of several.
 */
export function matrixNorm(a: Variable | Tensor, ord: T.MatrixNormOrder = 'fro'): Variable {
  const av = asVariable('matrixNorm', a, 'a');
  requireMatrix('matrixNorm', av);
  if (av.shape[av.ndim - 2] === 0 || av.shape[av.ndim - 1] === 0) {
    // empty matrices have norm 0 (and an empty gradient); the composites would reduce empty axes
    return unary(
      'matrixNorm',
      av,
      (t) => T.matrixNorm(t, ord),
      (_g, x) => constant(T.zeros(x.shape, { dtype: x.dtype })),
    );
  }
  switch (ord) {
    case 'fro':
      return norm(av, [-2, -1]);
    case 1:
      return max(sum(abs(av), -2), -1);
    case 'inf':
      return max(sum(abs(av), -1), -1);
    case 2:
    case 'nuc':
      return unary(
        'matrixNorm',
        av,
        (t) => T.matrixNorm(t, ord),
        (g, x) => {
          const { u, v } = svd(x);
          const uv = ord === 2 ? matmul(block(u, null, [0, 1]), mT(block(v, null, [0, 1]))) : matmul(u, mT(v));
          return mul(perMatrix(g), uv);
        },
      );
    default:
      throw new ValueError(
        `matrixNorm: ord must be 'fro', 1, 'inf', 2 or 'nuc', got ${JSON.stringify(ord) ?? String(ord)}`,
      );
  }
}

/** The sum of the main diagonal of `a` [...,m,n] (output [...]). */
export function trace(a: Variable | Tensor): Variable {
  const av = asVariable('trace', a, 'a');
  requireMatrix('trace', av);
  return sum(diagonal(av), -1);
}

const LINALG_TESTS =
  'matrix generators of their own (well-conditioned, distinct spectra) and closed-form checks of the decompositions';
/** The metadata of the ops above (see `OpMetadata`): all gradchecked to second order by test/linalg.test.ts. */
export const LINALG_OP_METADATA: Readonly<Record<string, OpMetadata>> = {
  solve: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  inv: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  det: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  slogdet: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  qr: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  eigh: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  svd: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  expm: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  matrixNorm: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
  trace: { maxOrder: 2, gradientTest: { file: 'linalg.test.ts', reason: LINALG_TESTS } },
};
