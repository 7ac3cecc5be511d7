/**
 * The fused Sinkhorn op behind `sinkhorn` (internal: `sinkhorn` is the public entry point, with
 * `impl: 'reference'` selecting the composed version in sinkhorn.ts). One custom op whose
 * forward and backward are scalar loops over each n×n matrix, instead of ~8 tensor ops per
 * iteration that each allocate a [..., n, n] tensor.
 *
 * Forward, per matrix: subtract the largest logit and exponentiate once, E = exp(L − max L).
 * Every iterate is E ⊙ a bᵀ, so dividing its columns by their sums (columns first, as the
 * reference) and then its rows is setting b_j = 1/Σ_i E_ij a_i and a_i = 1/Σ_j E_ij b_j: two
 * mat-vecs per iteration, E never rewritten, and a_k, b_k (the running products of the divisors)
 * are what the backward needs. All arithmetic is in doubles whatever the tensor's dtype (a float32 tensor
 * is widened on read and rounded once on write), so the domain decision below is float64's.
 *
 * Domain: the exp domain loses nothing while every number it forms stays a normal double. With
 * spread s = max L − min L, the entries of E are ≥ e^{−s}; the potentials of any Sinkhorn iterate
 * oscillate by at most s, so every entry of every iterate is ≥ e^{−2s}/n and every divisor and
 * running product lies within [e^{−2s}/n, n·e^{2s}]. With s ≤ `EXP_DOMAIN_MAX_SPREAD` = 300 that is
 * inside [1e-261, 1e262], far from float64's limits (2.2e-308, 1.8e308): no overflow, no
 * underflow, no subnormal, so the result equals the log-domain one to rounding. A matrix with a
 * larger spread runs the log-domain iteration (log-sum-exps, potentials instead of products) in
 * the same loops: n² exps per half step instead of none. (float32 tensors use the same
 * threshold: their own range, e^{±87}, never enters the double arithmetic.)
 *
 * Backward, 'unrolled' (default): the exact reverse of the iterations run. In terms of the
 * gradient u with respect to the log of an iterate, a normalisation step Q = P / sums has
 * u_P = u_Q − Q ⊙ (the sums of u_Q along the normalised axis), so starting from u = G ⊙ P_out
 * and walking the steps backwards (each Q rebuilt from E and the stored running products) gives
 * the logits' gradient (the max shift has none: the columns of u sum to 0 after the first
 * column step). Cost ≈ the forward's; memory 2n doubles per matrix per iteration.
 *
 * Backward, 'implicit': the derivative of the limit P∞ = diag(e^f) exp(L) diag(e^g) by the
 * implicit-function theorem applied to the marginal constraints, evaluated at the returned P:
 * with U = G ⊙ P, dL = U − P ⊙ (α1ᵀ + 1βᵀ), where [diag(P1) P; Pᵀ diag(Pᵀ1)] [α; β] = [U1; Uᵀ1]
 * (singular along (1, −1); solved with β_{n−1} = 0 through the (n−1)×(n−1) Schur complement).
 * It ignores how the iterate was reached, so it differs from the unrolled gradient by about the
 * remaining marginal error (it converges to it as the iterations grow), costs one small solve
 * per matrix and stores nothing per iteration. A recorded backward writes the same formula in
 * differentiable ops of P (this op's output) and G, so higher orders differentiate the implicit
 * rule itself: at convergence, the derivatives of the limit map.
 */
import { Tensor, allocate, zeros, type DType } from '@hyperconn/tensor';
import {
  type Variable,
  add,
  concat,
  customOp,
  diagEmbed,
  div,
  isGradEnabled,
  matmul,
  mul,
  reshape,
  slice,
  solve,
  sub,
  sum,
  transpose,
  unsqueeze,
} from '@hyperconn/autograd';
import { recordedVjp, type ReferenceFn } from './fused-op.js';

/** Largest logit spread (max − min per matrix) that the fused Sinkhorn runs in the exp domain. */
export const EXP_DOMAIN_MAX_SPREAD = 300;

/** The backward rule of the fused Sinkhorn op (see `SinkhornOptions.backward`). */
export type SinkhornBackward = 'unrolled' | 'implicit';

/** What the forward keeps for the backward. */
interface SinkhornState {
  n: number;
  count: number;
  iterations: number;
  /** Per matrix: E = exp(L − max L) (exp domain) or L − max L (log domain). */
  base: Float64Array;
  /** 1 where the matrix ran in the log domain. */
  logDomain: Uint8Array;
  /** Iterations whose scales are kept per matrix: all (unrolled backward) or the last (implicit). */
  kept: number;
  /**
   * rowScales[(b·kept + k)·n + i]: the running row product a_{k+1} of matrix b (log domain: the
   * row potential), matrix by matrix so that the backward reads each one's history in one run.
   */
  rowScales: Float64Array;
  /** colScales, laid out as rowScales: the running column product b_{k+1} (log domain: the potential). */
  colScales: Float64Array;
}

/** The result of the fused forward. */
interface ForwardResult {
  values: Float64Array;
  iterations: number;
  state: SinkhornState | null;
}

/**
 * The column log-sum-exps of the (log-domain) matrix at offset o of w, into cs from offset s. The
 * hot loops are module-level functions taking every buffer as an argument: read from a closure,
 * each access would reload (and hole-check) the binding.
 */
function columnLogSumExp(w: Float64Array, cs: Float64Array, o: number, s: number, n: number): void {
  for (let j = 0; j < n; j++) {
    let mx = -Infinity;
    for (let i = 0; i < n; i++) mx = Math.max(mx, w[o + i * n + j]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(w[o + i * n + j]! - mx);
    cs[s + j] = mx + Math.log(sum);
  }
}

/**
 * One exp-domain iteration of the matrix E at offset o of w, as scalings: the iterate is
 * E ⊙ a bᵀ (a = ra, b = ca from s), so dividing its columns by their sums sets
 * b_j = 1/Σ_i E_ij a_i, and then dividing its rows sets a_i = 1/Σ_j E_ij b_j. Two n×n mat-vecs;
 * E itself is never rewritten.
 */
function iterateExp(w: Float64Array, ra: Float64Array, ca: Float64Array, o: number, s: number, n: number): void {
  for (let j = 0; j < n; j++) {
    let t = 0;
    for (let i = 0; i < n; i++) t += w[o + i * n + j]! * ra[s + i]!;
    ca[s + j] = 1 / t;
  }
  for (let i = 0; i < n; i++) {
    const r = o + i * n;
    let t = 0;
    for (let j = 0; j < n; j++) t += w[r + j]! * ca[s + j]!;
    ra[s + i] = 1 / t;
  }
}

/** One log-domain iteration: subtract the column log-sum-exps cs, then the rows'; potentials in ra, ca. */
function iterateLog(
  w: Float64Array,
  cs: Float64Array,
  ra: Float64Array,
  ca: Float64Array,
  o: number,
  s: number,
  n: number,
): void {
  for (let j = 0; j < n; j++) ca[s + j]! -= cs[s + j]!;
  for (let i = 0; i < n; i++) {
    const r = o + i * n;
    let mx = -Infinity;
    for (let j = 0; j < n; j++) {
      const v = w[r + j]! - cs[s + j]!;
      w[r + j] = v;
      mx = Math.max(mx, v);
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(w[r + j]! - mx);
    const lse = mx + Math.log(sum);
    ra[s + i]! -= lse;
    for (let j = 0; j < n; j++) w[r + j]! -= lse;
  }
}

/**
 * Starts matrix (o, s): the shifted logits L − max L into w (and base), exponentiated unless the
 * spread exceeds `EXP_DOMAIN_MAX_SPREAD`; the running products (potentials) reset. Returns
 * whether the matrix runs in the log domain.
 */
function initMatrix(
  logits: ArrayLike<number>,
  w: Float64Array,
  base: Float64Array | null,
  ra: Float64Array,
  ca: Float64Array,
  o: number,
  s: number,
  n: number,
): boolean {
  const nn = n * n;
  let hi = -Infinity;
  let lo = Infinity;
  for (let e = o; e < o + nn; e++) {
    const v = logits[e]!;
    if (v > hi) hi = v;
    if (v < lo) lo = v;
  }
  const log = hi - lo > EXP_DOMAIN_MAX_SPREAD;
  if (log) for (let e = o; e < o + nn; e++) w[e] = logits[e]! - hi;
  else for (let e = o; e < o + nn; e++) w[e] = Math.exp(logits[e]! - hi);
  if (base) for (let e = o; e < o + nn; e++) base[e] = w[e]!;
  for (let i = s; i < s + n; i++) {
    ra[i] = log ? 0 : 1;
    ca[i] = log ? 0 : 1;
  }
  return log;
}

/**
 * Copies the running products of the matrix at s into the stored ones from `at` (plain loops: a
 * subarray view costs more).
 */
function copyScales(
  ra: Float64Array,
  ca: Float64Array,
  rows: Float64Array,
  cols: Float64Array,
  s: number,
  at: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    rows[at + i] = ra[s + i]!;
    cols[at + i] = ca[s + i]!;
  }
}

/**
 * Runs Sinkhorn on `count` matrices n×n stored row-major in `logits` (finite values). Without
 * `tol`, matrix by matrix (all in cache); with it, iteration by iteration over the whole batch,
 * since the stop is decided on the worst column error of the batch.
 */
function sinkhornForward(
  logits: ArrayLike<number>,
  n: number,
  count: number,
  iters: number,
  tol: number | undefined,
  keep: boolean,
  keepAll: boolean,
): ForwardResult {
  const nn = n * n;
  const work = new Float64Array(count * nn);
  const base = keep ? new Float64Array(count * nn) : null;
  const logDomain = new Uint8Array(count);
  const rowAcc = new Float64Array(count * n);
  const colAcc = new Float64Array(count * n);
  // column log-sum-exps of the current iterate (log domain only)
  const colStat = new Float64Array(count * n);
  const kept = keepAll ? iters : 1;
  const rowScales = new Float64Array(keep ? count * kept * n : 0);
  const colScales = new Float64Array(keep ? count * kept * n : 0);
  /** Where iteration k of matrix b keeps its scales. */
  const keptAt = (b: number, k: number): number => (b * kept + (keepAll ? k : 0)) * n;

  /** One iteration (column step, row step) of matrix b; a log-domain column statistic is current. */
  const iterate = (b: number, k: number, last: boolean): void => {
    const s = b * n;
    if (logDomain[b] === 0) iterateExp(work, rowAcc, colAcc, b * nn, s, n);
    else {
      iterateLog(work, colStat, rowAcc, colAcc, b * nn, s, n);
      if (!last) columnLogSumExp(work, colStat, b * nn, s, n);
    }
    if (keep) copyScales(rowAcc, colAcc, rowScales, colScales, s, keptAt(b, k), n);
  };

  /** max |column sum − 1| of matrix b's current iterate (exp domain: b_j·Σ_i E_ij a_i). */
  const statError = (b: number): number => {
    let worst = 0;
    const [o, s] = [b * nn, b * n];
    for (let j = 0; j < n; j++) {
      let c = 0;
      if (logDomain[b] === 1) c = Math.exp(colStat[s + j]!);
      else {
        for (let i = 0; i < n; i++) c += work[o + i * n + j]! * rowAcc[s + i]!;
        c *= colAcc[s + j]!;
      }
      worst = Math.max(worst, Math.abs(c - 1));
    }
    return worst;
  };

  let iterations = iters;
  if (tol === undefined) {
    // the common case, matrix by matrix with no closure in the loop (measured 1.4× faster)
    for (let b = 0; b < count; b++) {
      const [o, s] = [b * nn, b * n];
      const log = initMatrix(logits, work, base, rowAcc, colAcc, o, s, n);
      logDomain[b] = log ? 1 : 0;
      if (log) columnLogSumExp(work, colStat, o, s, n);
      for (let k = 0; k < iters; k++) {
        if (!log) iterateExp(work, rowAcc, colAcc, o, s, n);
        else {
          iterateLog(work, colStat, rowAcc, colAcc, o, s, n);
          if (k < iters - 1) columnLogSumExp(work, colStat, o, s, n);
        }
        if (keep) copyScales(rowAcc, colAcc, rowScales, colScales, s, keptAt(b, k), n);
      }
    }
  } else {
    for (let b = 0; b < count; b++) {
      const log = initMatrix(logits, work, base, rowAcc, colAcc, b * nn, b * n, n);
      logDomain[b] = log ? 1 : 0;
      if (log) columnLogSumExp(work, colStat, b * nn, b * n, n);
    }
    for (let k = 0; k < iters; k++) {
      for (let b = 0; b < count; b++) iterate(b, k, k === iters - 1);
      if (k === iters - 1) break;
      let worst = 0;
      for (let b = 0; b < count; b++) worst = Math.max(worst, statError(b));
      if (worst <= tol) {
        iterations = k + 1;
        break;
      }
    }
  }
  // the iterates themselves: E ⊙ a bᵀ, or the exponentiated log-domain iterate
  for (let b = 0; b < count; b++) {
    const [o, s] = [b * nn, b * n];
    if (logDomain[b] === 1) for (let e = o; e < o + nn; e++) work[e] = Math.exp(work[e]!);
    else
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) work[o + i * n + j]! *= rowAcc[s + i]! * colAcc[s + j]!;
  }
  const state = base ? { n, count, iterations, base, logDomain, kept, rowScales, colScales } : null;
  return { values: work, iterations, state };
}

/**
 * Fills q with iterate E ⊙ a bᵀ of matrix b (log domain: exp(L' + f 1ᵀ + 1 gᵀ)), a and b the
 * stored scales from rowsAt (−1: the initial a, ones or zero potentials) and colsAt.
 */
function rebuild(st: SinkhornState, b: number, rowsAt: number, colsAt: number, q: Float64Array): void {
  const { n, base, rowScales, colScales } = st;
  const o = b * n * n;
  const log = st.logDomain[b] === 1;
  for (let i = 0; i < n; i++) {
    const a = rowsAt < 0 ? (log ? 0 : 1) : rowScales[rowsAt + i]!;
    for (let j = 0; j < n; j++) {
      const e = base[o + i * n + j]!;
      q[i * n + j] = log ? Math.exp(e + a + colScales[colsAt + j]!) : e * a * colScales[colsAt + j]!;
    }
  }
}

/** The unrolled vector-Jacobian product for the cotangent g (row-major, the output's shape). */
function unrolledVjp(st: SinkhornState, g: ArrayLike<number>, out: Float64Array | Float32Array): void {
  const { n, count, iterations: K, kept, rowScales, colScales, base, logDomain } = st;
  const nn = n * n;
  const q = new Float64Array(nn);
  const u = new Float64Array(nn);
  const sums = new Float64Array(n);
  for (let b = 0; b < count; b++) {
    const o = b * nn;
    // iteration k of matrix b kept its scales from (b·kept + k)·n
    const first = b * kept * n;
    rebuild(st, b, first + (K - 1) * n, first + (K - 1) * n, q);
    for (let e = 0; e < nn; e++) u[e] = g[o + e]! * q[e]!;
    if (logDomain[b] === 0) unrolledExp(u, base, o, first, n, K, rowScales, colScales, sums);
    else {
      for (let k = K - 1; k >= 0; k--) {
        // row step k: q is its output
        if (k < K - 1) rebuild(st, b, first + k * n, first + k * n, q);
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += u[i * n + j]!;
          for (let j = 0; j < n; j++) u[i * n + j]! -= q[i * n + j]! * s;
        }
        // column step k: its output has the previous row products
        rebuild(st, b, k > 0 ? first + (k - 1) * n : -1, first + k * n, q);
        sums.fill(0);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sums[j]! += u[i * n + j]!;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u[i * n + j]! -= q[i * n + j]! * sums[j]!;
      }
    }
    for (let e = 0; e < nn; e++) out[o + e] = u[e]!;
  }
}

/**
 * The unrolled steps of one exp-domain matrix (E at offset o of `base`, its scales from `first`),
 * on u in place. The iterate of a step, E_ij·a_i·b_j, enters as that product directly rather than
 * rebuilt into a buffer first: one pass per step instead of two.
 */
function unrolledExp(
  u: Float64Array,
  base: Float64Array,
  o: number,
  first: number,
  n: number,
  K: number,
  a: Float64Array,
  c: Float64Array,
  sums: Float64Array,
): void {
  for (let k = K - 1; k >= 0; k--) {
    const s = first + k * n;
    // row step k: u_ij −= q_ij·Σ_l u_il with q = E ⊙ a_k b_kᵀ
    for (let i = 0; i < n; i++) {
      const r = i * n;
      let sum = 0;
      for (let j = 0; j < n; j++) sum += u[r + j]!;
      const f = a[s + i]! * sum;
      for (let j = 0; j < n; j++) u[r + j]! -= base[o + r + j]! * f * c[s + j]!;
    }
    // column step k: u_ij −= q_ij·Σ_l u_lj with q = E ⊙ a_{k−1} b_kᵀ (a_{−1} = 1)
    for (let j = 0; j < n; j++) sums[j] = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sums[j]! += u[i * n + j]!;
    for (let j = 0; j < n; j++) sums[j]! *= c[s + j]!;
    for (let i = 0; i < n; i++) {
      const r = i * n;
      const ai = k > 0 ? a[s - n + i]! : 1;
      for (let j = 0; j < n; j++) u[r + j]! -= base[o + r + j]! * ai * sums[j]!;
    }
  }
}

/** The implicit-function vector-Jacobian product at the returned matrices (see the file comment). */
function implicitVjp(st: SinkhornState, g: ArrayLike<number>, out: Float64Array | Float32Array): void {
  const { n, count } = st;
  const last = st.kept - 1;
  const nn = n * n;
  const m = n - 1;
  const p = new Float64Array(nn);
  const r = new Float64Array(n);
  const rsum = new Float64Array(n);
  const csum = new Float64Array(n);
  const c = new Float64Array(n);
  const s = new Float64Array(m * m);
  const beta = new Float64Array(n);
  const alpha = new Float64Array(n);
  for (let b = 0; b < count; b++) {
    const o = b * nn;
    const at = (b * st.kept + last) * n;
    rebuild(st, b, at, at, p);
    r.fill(0);
    c.fill(0);
    rsum.fill(0);
    csum.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const pij = p[i * n + j]!;
        const uij = g[o + i * n + j]! * pij;
        r[i]! += pij;
        c[j]! += pij;
        rsum[i]! += uij;
        csum[j]! += uij;
      }
    }
    // Schur complement S = diag(c) − Pᵀ diag(r)⁻¹ P and its right side, on the first n − 1 columns
    for (let j = 0; j < m; j++) {
      let rhs = csum[j]!;
      for (let i = 0; i < n; i++) rhs -= (p[i * n + j]! * rsum[i]!) / r[i]!;
      beta[j] = rhs;
      for (let l = 0; l < m; l++) {
        let v = j === l ? c[j]! : 0;
        for (let i = 0; i < n; i++) v -= (p[i * n + j]! * p[i * n + l]!) / r[i]!;
        s[j * m + l] = v;
      }
    }
    solveInPlace(s, beta, m);
    beta[m] = 0;
    for (let i = 0; i < n; i++) {
      let v = rsum[i]!;
      for (let j = 0; j < n; j++) v -= p[i * n + j]! * beta[j]!;
      alpha[i] = v / r[i]!;
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const pij = p[i * n + j]!;
        out[o + i * n + j] = g[o + i * n + j]! * pij - pij * (alpha[i]! + beta[j]!);
      }
    }
  }
}

/**
 * Solves S x = y for a small dense S [m, m] (row-major) by Gaussian elimination with partial
 * pivoting, overwriting y with x (and S with its factors). The Schur complement is symmetric
 * positive definite for a positive P; a zero pivot (only for a P with exactly-zero entries)
 * leaves that component 0, the minimum-effort choice for a direction the constraints do not see.
 */
function solveInPlace(s: Float64Array, y: Float64Array, m: number): void {
  for (let k = 0; k < m; k++) {
    let piv = k;
    for (let i = k + 1; i < m; i++) if (Math.abs(s[i * m + k]!) > Math.abs(s[piv * m + k]!)) piv = i;
    if (piv !== k) {
      for (let j = 0; j < m; j++) [s[k * m + j], s[piv * m + j]] = [s[piv * m + j]!, s[k * m + j]!];
      [y[k], y[piv]] = [y[piv]!, y[k]!];
    }
    const d = s[k * m + k]!;
    if (d === 0) continue;
    for (let i = k + 1; i < m; i++) {
      const f = s[i * m + k]! / d;
      if (f === 0) continue;
      for (let j = k; j < m; j++) s[i * m + j]! -= f * s[k * m + j]!;
      y[i]! -= f * y[k]!;
    }
  }
  for (let k = m - 1; k >= 0; k--) {
    const d = s[k * m + k]!;
    let v = y[k]!;
    for (let j = k + 1; j < m; j++) v -= s[k * m + j]! * y[j]!;
    y[k] = d === 0 ? 0 : v / d;
  }
}

/**
 * The implicit vector-Jacobian product in differentiable ops, for a recorded backward: the same
 * formula as `implicitVjp`, as a function of the returned matrix P (itself this op's output, so
 * differentiating it again goes through the implicit rule once more) and the cotangent G.
 */
function implicitVjpRecorded(p: Variable, g: Variable): Variable {
  const n = p.shape[p.ndim - 1]!;
  const u = mul(g, p);
  if (n === 1) return mul(u, 0); // P = [1] whatever L: no gradient
  const flatP = reshape(p, [-1, n, n]);
  const flatU = reshape(u, [-1, n, n]);
  const count = flatP.shape[0]!;
  const r = sum(flatP, -1, true);
  const rsum = sum(flatU, -1, true);
  const pT = transpose(flatP);
  const schur = sub(diagEmbed(sum(flatP, -2)), matmul(pT, div(flatP, r)));
  const rhs = sub(unsqueeze(sum(flatU, -2), -1), matmul(pT, div(rsum, r)));
  const head = solve(slice(schur, null, [0, n - 1], [0, n - 1]), slice(rhs, null, [0, n - 1]));
  const beta = concat([head, zeros([count, 1, 1], { dtype: p.dtype })], 1);
  const alpha = div(sub(rsum, matmul(flatP, beta)), r);
  return reshape(sub(flatU, mul(flatP, add(alpha, transpose(beta)))), p.shape);
}

/** A tensor of `dtype` and `shape` holding `values` (the buffer itself when float64). */
function toTensor(values: Float64Array, shape: readonly number[], dtype: DType): Tensor {
  if (dtype === 'float64') return new Tensor(values, [...shape]);
  const data = allocate(dtype, values.length);
  data.set(values);
  return new Tensor(data, [...shape]);
}

/** Options of `fusedSinkhorn`, already validated by `sinkhorn`. */
export interface FusedSinkhornOptions {
  iters: number;
  tol: number | undefined;
  backward: SinkhornBackward;
  /** The composed reference with a fixed iteration count, for derivatives beyond the first. */
  reference: (iterations: number) => ReferenceFn;
}

/** The fused Sinkhorn op on validated logits [..., n, n] (finite, square, non-empty). */
export function fusedSinkhorn(
  input: Variable,
  options: FusedSinkhornOptions,
): { matrix: Variable; iterations: number } {
  const { iters, tol, backward, reference } = options;
  const shape = input.shape;
  const dtype = input.dtype;
  const n = shape[shape.length - 1]!;
  const count = input.size / (n * n);
  let result: ForwardResult | null = null;
  const op = customOp({
    name: 'sinkhorn',
    forward: (l) => {
      const keep = isGradEnabled() && input.requiresGrad;
      result = sinkhornForward(l.toTypedArray(), n, count, iters, tol, keep, backward === 'unrolled');
      return toTensor(result.values, shape, dtype);
    },
    backward: (g, inputs, output) => {
      const st = result!.state!;
      const firstOrder = (): Tensor[] => {
        const out = allocate(dtype, input.size);
        (backward === 'implicit' ? implicitVjp : unrolledVjp)(st, g.value.toTypedArray(), out);
        return [new Tensor(out, [...shape])];
      };
      if (!isGradEnabled()) return firstOrder();
      if (backward === 'implicit') return [implicitVjpRecorded(output, g)];
      return recordedVjp('sinkhorn', reference(st.iterations), inputs, g, firstOrder);
    },
  });
  const matrix = op(input);
  return { matrix, iterations: result!.iterations };
}
