/**
 * Differentiable maps onto the Birkhoff polytope 𝔅ₙ (doubly stochastic matrices): Sinkhorn–Knopp
 * scaling of a matrix of logits (mHC) and the Birkhoff–von Neumann mixture of permutation
 * matrices (mHC-lite). Each has a fused op (scalar loops, one graph node; Sinkhorn's default)
 * and the composition of @hyperconn/autograd ops (`impl: 'reference'`); either way the gradients
 * are exact gradients of what was computed and can be differentiated again to any order.
 */
import * as T from '@hyperconn/tensor';
import { ShapeError, Tensor, ValueError, fmtShape, type DType } from '@hyperconn/tensor';
import {
  asVariable,
  customOp,
  div,
  exp,
  logsumexp,
  matmul,
  reshape,
  sub,
  sum,
  type Variable,
} from '@hyperconn/autograd';
import { requireFinite } from './util.js';
import { fusedSinkhorn, type SinkhornBackward } from './fused-sinkhorn.js';

export { EXP_DOMAIN_MAX_SPREAD, type SinkhornBackward } from './fused-sinkhorn.js';

/** Options of `sinkhorn`: `iters` must be a positive integer and `tol` ≥ 0 (ValueError otherwise). */
export interface SinkhornOptions {
  /** Number of (column, row) normalisation pairs; with `tol`, the most that are run. Default 20. */
  iters?: number;
  /** Stop early once the column marginal error max |colsum − 1| is ≤ tol (rows are always exact). */
  tol?: number;
  /**
   * The composed reference only: normalise log-sum-exps of the logits (default, overflow-free) or
   * sums of exp(logits). `false` implies `impl: 'reference'` (with `impl: 'fused'`: ValueError).
   */
  logDomain?: boolean;
  /**
   * 'fused' (default): one op with scalar-code loops, exp domain with a per-matrix log-domain
   * fallback (see `EXP_DOMAIN_MAX_SPREAD`); 'reference': the composed autograd ops.
   */
  impl?: 'fused' | 'reference';
  /**
   * The fused op's gradient: 'unrolled' (default; the exact derivative of the iterations run, as
   * the reference's) or 'implicit' (the implicit-function derivative of the converged map at the
   * returned matrix). Ignored by the reference, which is always unrolled.
   */
  backward?: SinkhornBackward;
}

/**
 * The output of `sinkhorn`: the scaled matrix (differentiable with respect to the logits) and
 * its remaining column error.
 */
export interface SinkhornResult {
  /** The scaled matrix [..., n, n]: entries > 0, rows sum to 1 (to rounding), columns to within `marginalError`. */
  matrix: Variable;
  /** max |column sum − 1| over every matrix of the batch, measured on the returned values. */
  marginalError: number;
  /** Iterations (column step + row step pairs) actually run. */
  iterations: number;
}

/** max |Σ_i m[..., i, j] − 1| over every column of every matrix (0 for an empty batch), summed in float64. */
function columnError(m: Tensor): number {
  const sums = T.sum(m.astype('float64'), -2).toTypedArray();
  let worst = 0;
  for (const s of sums) worst = Math.max(worst, Math.abs(s - 1));
  return worst;
}

/**
 * Sinkhorn–Knopp scaling of `logits` [..., n, n] onto the doubly stochastic matrices, batched
 * over the leading axes. Each iteration normalises the columns, then the rows (as mHC), so the
 * rows of the result are exact to rounding and the columns carry the remaining error. After k
 * iterations it is at most exp(tanh(Δ/4)^(2(k−1))·Δ) − 1, where Δ = max(L_ij + L_kl − L_il − L_kj)
 * ≤ 2·(max L − min L) (Birkhoff–Hopf contraction; tight for n = 2): e.g. ≤ 1e-6 after 200
 * iterations for a logit spread ≤ 3.5. Asymptotically it falls by σ₂(P)² per iteration (P the
 * limit), which is slow when P is near a permutation: spread 8 can leave 1e-3 after 200.
 *
 * - Log domain (default): `L ← L − logsumexp(L, columns)`, `L ← L − logsumexp(L, rows)`, and one
 *   exp at the end; finite for any finite logits (±1000 included).
 * - `logDomain: false`: the plain multiplicative form (exp once, then divide by the sums), kept
 *   for comparison. exp overflows for logits above ~709 (~88 in float32), and a row or column
 *   whose entries all underflow (below ~−745) divides 0 by 0; the resulting non-finite matrix is
 *   reported as a ValueError.
 * - `tol`: the column error of the current iterate is checked before each further iteration.
 *   In the log domain it is read off the column log-sum-exp that the next column step needs
 *   anyway, so the check costs n exps per matrix per iteration (against n² for the iteration);
 *   stopping wastes that one log-sum-exp. At least one iteration always runs.
 *
 * Implementations (`impl`): 'fused' (default) is one custom op whose forward and backward are
 * scalar loops per matrix, in the exp domain (subtract the largest logit, exp once, divide by
 * column then row sums) unless the matrix's logit spread exceeds `EXP_DOMAIN_MAX_SPREAD` (300),
 * where it runs the log-domain iteration instead; both equal the reference to rounding.
 * 'reference' is the composition of autograd ops above, the specification the fused op is
 * tested against.
 *
 * Gradients (`backward`, fused only): 'unrolled' (default) is the exact derivative of the
 * iterations run, reverse-mode through the stored per-iteration scalings; higher orders (a
 * backward recorded with createGraph, `grad(grad(f))`) are the exact derivatives of the
 * reference, taken on a local graph. 'implicit' is the implicit-function derivative of the
 * limit at the returned matrix: one (n−1)×(n−1) solve per matrix, nothing stored per
 * iteration; it differs from the unrolled one by about the remaining column error and matches
 * it as the iterations grow (docs/spec/manifolds.md, "Sinkhorn backward"). Recorded, it is the
 * same formula in differentiable ops of the returned matrix, so its higher orders are those of
 * the implicit rule (at convergence: of the limit map).
 *
 * Throws a ShapeError for a non-square or empty matrix, a ValueError for non-finite logits
 * (NaN, ±∞) or bad options.
 */
export function sinkhorn(logits: Variable | Tensor, options: SinkhornOptions = {}): SinkhornResult {
  const { iters = 20, tol, logDomain = true, backward = 'unrolled' } = options;
  const impl = options.impl ?? (logDomain ? 'fused' : 'reference');
  const input = asVariable('sinkhorn', logits, 'logits');
  const shape = input.shape;
  if (shape.length < 2 || shape[shape.length - 1] !== shape[shape.length - 2] || shape[shape.length - 1] === 0) {
    throw new ShapeError(
      `sinkhorn: logits must be a non-empty square matrix or a batch of them [...,n,n], got shape ${fmtShape(shape)}`,
    );
  }
  if (!Number.isInteger(iters) || iters < 1)
    throw new ValueError(`sinkhorn: iters must be a positive integer, got ${iters}`);
  if (tol !== undefined && !(tol >= 0)) throw new ValueError(`sinkhorn: tol must be a non-negative number, got ${tol}`);
  if (impl !== 'fused' && impl !== 'reference')
    throw new ValueError(`sinkhorn: impl must be 'fused' or 'reference', got ${String(impl)}`);
  if (backward !== 'unrolled' && backward !== 'implicit')
    throw new ValueError(`sinkhorn: backward must be 'unrolled' or 'implicit', got ${String(backward)}`);
  if (impl === 'fused' && !logDomain) {
    throw new ValueError(
      "sinkhorn: logDomain: false selects the composed plain form; it has no fused path (impl: 'fused' " +
        'chooses its domain per matrix)',
    );
  }
  requireFinite('sinkhorn', 'logits', input.value);
  if (impl === 'fused') {
    const reference = (iterations: number) => (l: Variable) => referenceSinkhorn(l, iterations, undefined, true).matrix;
    const { matrix, iterations } = fusedSinkhorn(input, { iters, tol, backward, reference });
    return { matrix, marginalError: columnError(matrix.value), iterations };
  }
  return referenceSinkhorn(input, iters, tol, logDomain);
}

/** The composed Sinkhorn on validated logits (the body of `impl: 'reference'`). */
function referenceSinkhorn(
  input: Variable,
  iters: number,
  tol: number | undefined,
  logDomain: boolean,
): SinkhornResult {
  // One code path for both domains: a column statistic, the step that divides it out, and the
  // column error that the statistic reveals before it is divided out.
  const columnStat = logDomain ? (m: Variable) => logsumexp(m, -2, true) : (m: Variable) => sum(m, -2, true);
  const rowStat = logDomain ? (m: Variable) => logsumexp(m, -1, true) : (m: Variable) => sum(m, -1, true);
  const normalise = logDomain ? sub : div;
  const statError = (stat: Tensor): number => {
    let worst = 0;
    for (const s of stat.toTypedArray()) worst = Math.max(worst, Math.abs((logDomain ? Math.exp(s) : s) - 1));
    return worst;
  };

  let m = logDomain ? input : exp(input);
  let colStat = columnStat(m);
  let iterations = 0;
  for (;;) {
    m = normalise(m, colStat);
    m = normalise(m, rowStat(m));
    iterations++;
    if (iterations === iters) break;
    colStat = columnStat(m);
    if (tol !== undefined && statError(colStat.value) <= tol) break;
  }
  const matrix = logDomain ? exp(m) : m;
  const marginalError = columnError(matrix.value);
  if (!Number.isFinite(marginalError)) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of input.value.toTypedArray()) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    throw new ValueError(
      `sinkhorn: the ${logDomain ? 'log-domain' : 'plain (logDomain: false)'} iteration produced non-finite values ` +
        `(logits span [${lo}, ${hi}])${logDomain ? '' : '; exp overflowed or underflowed: use logDomain: true'}`,
    );
  }
  return { matrix, marginalError, iterations };
}

// ---------------------------------------------------------------------------------------------
// Permutations (Birkhoff–von Neumann)

/** Largest n for which `permutations` lists every permutation (10! = 3 628 800 of them). */
const MAX_PERMUTATION_N = 10;
const permutationCache = new Map<number, number[][]>();

/** n! (1 for n ≤ 1), multiplied out in doubles; shared with mHC-lite, which counts permutation matrices with it. */
export function factorial(n: number): number {
  let f = 1;
  for (let k = 2; k <= n; k++) f *= k;
  return f;
}

/**
 * All n! permutations of 0..n−1 in lexicographic order of (π(0), …, π(n−1)), so index 0 is the
 * identity. Cached: the returned arrays are shared and frozen (mutating them throws in strict
 * mode). `n = 0` gives the one empty permutation. n > 10 is a ValueError.
 */
export function permutations(n: number): number[][] {
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`permutations: n must be a non-negative integer, got ${n}`);
  if (n > MAX_PERMUTATION_N) {
    throw new ValueError(
      `permutations: n = ${n} has ${n}! = ${factorial(n)} permutations; at most n = ${MAX_PERMUTATION_N} is supported`,
    );
  }
  const cached = permutationCache.get(n);
  if (cached) return cached;
  const out: number[][] = [];
  // Narayana's next-permutation step, which walks the lexicographic order from the identity.
  const p = Array.from({ length: n }, (_, i) => i);
  for (;;) {
    out.push(Object.freeze([...p]) as number[]);
    let i = n - 2;
    while (i >= 0 && p[i]! > p[i + 1]!) i--;
    if (i < 0) break;
    let j = n - 1;
    while (p[j]! < p[i]!) j--;
    [p[i], p[j]] = [p[j]!, p[i]!];
    for (let a = i + 1, b = n - 1; a < b; a++, b--) [p[a], p[b]] = [p[b]!, p[a]!];
  }
  Object.freeze(out);
  permutationCache.set(n, out);
  return out;
}

const permutationStackCache = new Map<string, Tensor>();

/** The constant [n!, n²] matrix whose row k is the row-major flattening of P_k (P_k[i, π_k(i)] = 1). */
function permutationStack(n: number, dtype: DType): Tensor {
  const key = `${n}:${dtype}`;
  let stack = permutationStackCache.get(key);
  if (!stack) {
    const perms = permutations(n);
    const data = dtype === 'float64' ? new Float64Array(perms.length * n * n) : new Float32Array(perms.length * n * n);
    perms.forEach((perm, k) => {
      perm.forEach((j, i) => {
        data[k * n * n + i * n + j] = 1;
      });
    });
    stack = new Tensor(data, [perms.length, n * n]);
    permutationStackCache.set(key, stack);
  }
  return stack;
}

/**
 * The Birkhoff–von Neumann mixture Σ_k w_k P_k for weights `weights` [..., n!] → [..., n, n],
 * with the permutations in the order of `permutations(n)` and P_k[i, π_k(i)] = 1. n is inferred
 * from the last axis (which must have length n! for some n ≥ 1: 1, 2, 6, 24, 120, …).
 *
 * Exact by construction: for weights on the simplex (e.g. a softmax) the result is doubly
 * stochastic to rounding; in general its rows and columns sum to Σ_k w_k.
 *
 * `impl: 'reference'` (default) is one matmul with a cached constant [n!, n²] stack of
 * flattened permutation matrices (n!·n² work per matrix; 2.6 M entries, 20 MB in float64, at
 * n = 8). `impl: 'fused'` is a gather-add, H[i, π_k(i)] += w_k over k, i (n!·n work per matrix),
 * whose backward is the matching gather-sum w̄_k = Σ_i Ḡ[i, π_k(i)]; the two are each other's
 * adjoints (both linear), so gradients of every order are exact. Despite n× less arithmetic it
 * is not the default: its indexed loops measured 0.7–0.9× the matmul's speed (forward+backward,
 * 4096 tokens) for n = 2..4 and 1.3× at n = 5, and the softmax in front costs more than either.
 *
 * Throws a ShapeError when the last axis is not a factorial, a ValueError when n > maxN
 * (default 8; the cost is factorial in n), when a weight is not finite or for a bad `impl`.
 */
export function permutationMixture(
  weights: Variable | Tensor,
  options: { maxN?: number; impl?: 'fused' | 'reference' } = {},
): Variable {
  const { maxN = 8, impl = 'reference' } = options;
  if (impl !== 'fused' && impl !== 'reference')
    throw new ValueError(`permutationMixture: impl must be 'fused' or 'reference', got ${String(impl)}`);
  if (!Number.isInteger(maxN) || maxN < 1)
    throw new ValueError(`permutationMixture: maxN must be a positive integer, got ${maxN}`);
  const w = asVariable('permutationMixture', weights, 'weights');
  if (w.ndim === 0)
    throw new ShapeError(`permutationMixture: weights must have a last axis of length n!, got shape []`);
  const count = w.shape[w.ndim - 1]!;
  let n = 1;
  while (factorial(n) < count) n++;
  if (factorial(n) !== count) {
    throw new ShapeError(
      `permutationMixture: the last axis of weights ${fmtShape(w.shape)} has length ${count}, ` +
        'which is not a factorial n! (1, 2, 6, 24, 120, 720, …)',
    );
  }
  if (n > maxN) {
    throw new ValueError(
      `permutationMixture: n = ${n} streams need ${n}! = ${count} permutation matrices (maxN = ${maxN}); ` +
        'the cost is factorial in n, use sHC (the spectral sphere) instead',
    );
  }
  requireFinite('permutationMixture', 'weights', w.value);
  const batch = w.shape.slice(0, -1);
  if (impl === 'fused') return mixtureOp(n)(w);
  const flat = matmul(reshape(w, [-1, count]), permutationStack(n, w.dtype));
  return reshape(flat, [...batch, n, n]);
}

const permutationIndexCache = new Map<number, Int32Array>();

/** index[k·n + i] = i·n + π_k(i): the flat position of the one in row i of P_k. */
function permutationIndex(n: number): Int32Array {
  let index = permutationIndexCache.get(n);
  if (!index) {
    const perms = permutations(n);
    index = new Int32Array(perms.length * n);
    perms.forEach((perm, k) => {
      perm.forEach((j, i) => {
        index![k * n + i] = i * n + j;
      });
    });
    permutationIndexCache.set(n, index);
  }
  return index;
}

const mixtureOps = new Map<number, { mix: (w: Variable) => Variable; gather: (g: Variable) => Variable }>();

/**
 * The fused mixture w [..., n!] ↦ [..., n, n] and its adjoint, the gather-sum g [..., n, n] ↦
 * [..., n!]; each one's backward is the other, so every order is exact.
 */
function mixtureOp(n: number): (w: Variable) => Variable {
  let ops = mixtureOps.get(n);
  if (!ops) {
    const index = permutationIndex(n);
    const count = index.length / n;
    const nn = n * n;
    const mix = customOp({
      name: 'permutationMixture',
      forward: (w) => {
        const wv = w.toTypedArray();
        const matrices = wv.length / count;
        const out = T.allocate(w.dtype, matrices * nn);
        // summed in a double per entry, in the order of k (as the matmul's dot products)
        const acc = new Float64Array(nn);
        for (let b = 0; b < matrices; b++) {
          for (let e = 0; e < nn; e++) acc[e] = 0;
          for (let k = 0; k < count; k++) {
            const wk = wv[b * count + k]!;
            for (let i = 0; i < n; i++) acc[index[k * n + i]!]! += wk;
          }
          // a loop, not out.set: a typed-array call per small matrix costs more than the copy
          for (let e = 0; e < nn; e++) out[b * nn + e] = acc[e]!;
        }
        return new Tensor(out, [...w.shape.slice(0, -1), n, n]);
      },
      backward: (g) => [ops!.gather(g)],
    });
    const gather = customOp({
      name: 'permutationMixture.backward',
      forward: (g) => {
        const gv = g.toTypedArray();
        const matrices = gv.length / nn;
        const out = T.allocate(g.dtype, matrices * count);
        for (let b = 0; b < matrices; b++) {
          for (let k = 0; k < count; k++) {
            let sum = 0;
            for (let i = 0; i < n; i++) sum += gv[b * nn + index[k * n + i]!]!;
            out[b * count + k] = sum;
          }
        }
        return new Tensor(out, [...g.shape.slice(0, -2), count]);
      },
      backward: (gg) => [ops!.mix(gg)],
    });
    ops = { mix, gather };
    mixtureOps.set(n, ops);
  }
  return ops.mix;
}
