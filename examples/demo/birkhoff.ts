/**
 * The best doubly stochastic mix for the demo's mixing task. Tokens X are n×C matrices (n streams
 * of width C) and T is a fixed n×n target mix; a map H on the Birkhoff polytope (the doubly
 * stochastic matrices, the convex hull of the n! permutation matrices P_k) has loss
 * ‖H·X − T·X‖²_F. Writing H = Σ_k w_k P_k with w on the probability simplex makes the best H a
 * convex QP in w, solved here by FISTA with adaptive restart and an exact simplex projection, and
 * certified by the Frank–Wolfe duality gap (an upper bound on the distance to the optimal loss).
 */

type Matrix = readonly (readonly number[])[];

export interface BirkhoffOptions {
  /** Iteration cap (default 20 000). */
  iterations?: number;
  /** Stop once the duality gap is ≤ tolerance·max(1, loss) (default 1e-9). */
  tolerance?: number;
}

export interface BirkhoffMix {
  /** The doubly stochastic minimiser H. */
  matrix: number[][];
  /** ‖(H − T)X‖²_F. */
  loss: number;
  /** Frank–Wolfe duality gap at H: loss − (optimal loss) ≤ gap. */
  gap: number;
}

const MAX_N = 8;

/** Permutations of 0..n−1 in lexicographic order; perm[i] is the column of row i's 1. */
function permutations(n: number): number[][] {
  const out: number[][] = [];
  const current: number[] = [];
  const used = new Array<boolean>(n).fill(false);
  const visit = (): void => {
    if (current.length === n) {
      out.push(current.slice());
      return;
    }
    for (let j = 0; j < n; j++) {
      if (used[j]) continue;
      used[j] = true;
      current.push(j);
      visit();
      current.pop();
      used[j] = false;
    }
  };
  visit();
  return out;
}

function checkN(fn: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_N) {
    throw new Error(`${fn}: ${name} must be an integer in [1, ${MAX_N}] (n! permutations), got ${n}`);
  }
}

/** All n! permutation matrices of size n (1 ≤ n ≤ 8), in lexicographic order of their permutations. */
export function permutationMatrices(n: number): number[][][] {
  checkN('permutationMatrices', 'n', n);
  return permutations(n).map((perm) => perm.map((j) => Array.from({ length: n }, (_, c) => (c === j ? 1 : 0))));
}

/** Throws unless m is a rows×cols (cols: any common width ≥ 1 when undefined) matrix of finite numbers. */
function checkMatrix(fn: string, name: string, m: Matrix, rows: number | undefined, cols?: number): void {
  if (!Array.isArray(m) || m.length === 0) throw new Error(`${fn}: ${name} must be a non-empty array of rows`);
  if (rows !== undefined && m.length !== rows) {
    throw new Error(`${fn}: ${name} must have ${rows} rows, got ${m.length}`);
  }
  const width = cols ?? (Array.isArray(m[0]) ? m[0].length : 0);
  if (width < 1) throw new Error(`${fn}: ${name} must have rows of at least one number`);
  for (let i = 0; i < m.length; i++) {
    const row = m[i];
    if (!Array.isArray(row) || row.length !== width) {
      throw new Error(`${fn}: ${name} must be ${m.length}×${width}; row ${i} is ragged or not an array`);
    }
    for (const v of row) if (!Number.isFinite(v)) throw new Error(`${fn}: ${name} has a non-finite entry in row ${i}`);
  }
}

function checkTarget(fn: string, target: Matrix): number {
  if (!Array.isArray(target)) throw new Error(`${fn}: target must be an n×n array`);
  checkN(fn, 'target size n', target.length);
  checkMatrix(fn, 'target', target, target.length, target.length);
  return target.length;
}

function checkOptions(fn: string, options: BirkhoffOptions): { iterations: number; tolerance: number } {
  const iterations = options.iterations ?? 20_000;
  const tolerance = options.tolerance ?? 1e-9;
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new Error(`${fn}: options.iterations must be a positive integer, got ${iterations}`);
  }
  if (!(tolerance >= 0)) throw new Error(`${fn}: options.tolerance must be ≥ 0, got ${tolerance}`);
  return { iterations, tolerance };
}

/** X Xᵀ. */
function gram(x: Matrix): number[][] {
  const n = x.length;
  const a = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      const xi = x[i]!;
      const xj = x[j]!;
      for (let c = 0; c < xi.length; c++) s += xi[c]! * xj[c]!;
      a[i]![j] = s;
      a[j]![i] = s;
    }
  }
  return a;
}

/** ‖(H − T)X‖²_F, summed directly (no expansion that could cancel). */
function mixLoss(h: Matrix, target: Matrix, x: Matrix): number {
  const n = h.length;
  const width = x[0]!.length;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < width; c++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += (h[i]![j]! - target[i]![j]!) * x[j]![c]!;
      loss += s * s;
    }
  }
  return loss;
}

/** Euclidean projection of v onto the probability simplex (sort-based, exact up to rounding). */
function projectSimplex(v: Float64Array, out: Float64Array): void {
  const u = Float64Array.from(v).sort().reverse();
  let cumulative = 0;
  let theta = 0;
  for (let j = 0; j < u.length; j++) {
    cumulative += u[j]!;
    const candidate = (cumulative - 1) / (j + 1);
    if (u[j]! - candidate > 0) theta = candidate;
  }
  for (let k = 0; k < v.length; k++) out[k] = Math.max(0, v[k]! - theta);
}

interface Solution {
  h: number[][];
  gap: number;
}

/**
 * min over w ∈ Δ of tr((H(w) − T) A (H(w) − T)ᵀ), H(w) = Σ w_k P_k, A = X Xᵀ (or Σ X Xᵀ). Its Hessian
 * in w is 2G, G_kl = tr(P_k A P_lᵀ) = Σ_i A[π_k(i)][π_l(i)], so the step 1/L uses L = 2·(an upper bound
 * on λ_max(G)): G's largest absolute row sum when G is small enough to form, else n!·(A's).
 */
function solve(a: Matrix, target: Matrix, perms: number[][], iterations: number, tolerance: number): Solution {
  const n = target.length;
  const K = perms.length;
  let aRowSum = 0;
  for (const row of a)
    aRowSum = Math.max(
      aRowSum,
      row.reduce((s, v) => s + Math.abs(v), 0),
    );
  let lambda = K * aRowSum;
  if (K <= 720) {
    let gRowSum = 0;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let l = 0; l < K; l++) {
        let g = 0;
        for (let i = 0; i < n; i++) g += a[perms[k]![i]!]![perms[l]![i]!]!;
        s += Math.abs(g);
      }
      gRowSum = Math.max(gRowSum, s);
    }
    lambda = Math.min(lambda, gRowSum);
  }
  const L = 2 * lambda;

  const h = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const r = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const grad = new Float64Array(K);
  // ∇_k f(w) = ⟨P_k, 2(H − T)A⟩; returns f(w) = ⟨(H − T)A, H − T⟩ and fills grad
  const evaluate = (w: Float64Array): number => {
    for (const row of h) row.fill(0);
    for (let k = 0; k < K; k++) {
      const wk = w[k]!;
      if (wk === 0) continue;
      const p = perms[k]!;
      for (let i = 0; i < n; i++) h[i]![p[i]!]! += wk;
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i]![j] = h[i]![j]! - target[i]![j]!;
    let f = 0;
    const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let l = 0; l < n; l++) s += r[i]![l]! * a[l]![j]!;
        m[i]![j] = 2 * s;
        f += s * r[i]![j]!;
      }
    }
    for (let k = 0; k < K; k++) {
      const p = perms[k]!;
      let s = 0;
      for (let i = 0; i < n; i++) s += m[i]![p[i]!]!;
      grad[k] = s;
    }
    return f;
  };
  const dualityGap = (w: Float64Array): number => {
    let inner = 0;
    let min = Number.POSITIVE_INFINITY;
    for (let k = 0; k < K; k++) {
      inner += w[k]! * grad[k]!;
      min = Math.min(min, grad[k]!);
    }
    return Math.max(0, inner - min);
  };

  let w = new Float64Array(K).fill(1 / K);
  let f = evaluate(w);
  let gap = dualityGap(w);
  if (L > 0) {
    const y = Float64Array.from(w);
    let next = new Float64Array(K);
    const step = new Float64Array(K);
    let t = 1;
    for (let it = 0; it < iterations && gap > tolerance * Math.max(1, f); it++) {
      evaluate(y);
      for (let k = 0; k < K; k++) step[k] = y[k]! - grad[k]! / L;
      projectSimplex(step, next);
      // adaptive restart (O'Donoghue–Candès): drop the momentum when it points uphill
      let uphill = 0;
      for (let k = 0; k < K; k++) uphill += (y[k]! - next[k]!) * (next[k]! - w[k]!);
      const tNext = uphill > 0 ? 1 : (1 + Math.sqrt(1 + 4 * t * t)) / 2;
      const beta = uphill > 0 ? 0 : (t - 1) / tNext;
      for (let k = 0; k < K; k++) y[k] = next[k]! + beta * (next[k]! - w[k]!);
      [w, next] = [next, w];
      t = tNext;
      f = evaluate(w);
      gap = dualityGap(w);
    }
  }
  // renormalise so rows and columns of H sum to 1 to the last bit the weights allow
  let total = 0;
  for (let k = 0; k < K; k++) total += w[k]!;
  for (let k = 0; k < K; k++) w[k] = w[k]! / total;
  evaluate(w);
  gap = dualityGap(w);
  return { h: h.map((row) => row.slice()), gap };
}

const permutationCache = new Map<number, number[][]>();
function cachedPermutations(n: number): number[][] {
  let perms = permutationCache.get(n);
  if (perms === undefined) {
    perms = permutations(n);
    permutationCache.set(n, perms);
  }
  return perms;
}

/**
 * The doubly stochastic H minimising ‖(H − T)X‖²_F for one token X (n×C) and target T (n×n),
 * n ≤ 8. `gap` certifies loss − min ≤ gap; it is ≤ tolerance·max(1, loss) unless the iteration
 * cap was hit first.
 */
export function bestBirkhoffMix(x: Matrix, target: Matrix, options: BirkhoffOptions = {}): BirkhoffMix {
  const fn = 'bestBirkhoffMix';
  const n = checkTarget(fn, target);
  checkMatrix(fn, 'x', x, n);
  const { iterations, tolerance } = checkOptions(fn, options);
  const { h, gap } = solve(gram(x), target, cachedPermutations(n), iterations, tolerance);
  return { matrix: h, loss: mixLoss(h, target, x), gap };
}

function checkTokens(fn: string, tokens: readonly Matrix[], n: number): void {
  if (!Array.isArray(tokens) || tokens.length === 0) throw new Error(`${fn}: tokens must be a non-empty array`);
  for (let i = 0; i < tokens.length; i++) checkMatrix(fn, `tokens[${i}]`, tokens[i]!, n);
}

function identity(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

function baselineLoss(fn: string, tokens: readonly Matrix[], target: Matrix): number {
  const eye = identity(target.length);
  let baseline = 0;
  for (const x of tokens) baseline += mixLoss(eye, target, x);
  if (!(baseline > 0)) {
    throw new Error(`${fn}: the identity already has zero loss on these tokens (T X = X), no relative loss exists`);
  }
  return baseline;
}

/** S = Σ_tokens X Xᵀ (n×n): the loss of one H over all tokens is tr((H − T) S (H − T)ᵀ). */
function secondMoment(tokens: readonly Matrix[], n: number): number[][] {
  const s = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const x of tokens) {
    const a = gram(x);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s[i]![j]! += a[i]![j]!;
  }
  return s;
}

/** tr((H − T) S (H − T)ᵀ). */
function momentLoss(h: Matrix, target: Matrix, s: Matrix): number {
  const n = h.length;
  let loss = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      for (let k = 0; k < n; k++) loss += (h[i]![j]! - target[i]![j]!) * s[j]![k]! * (h[i]![k]! - target[i]![k]!);
  return loss;
}

/**
 * Σ_tokens min_H ‖(H − T)X‖² / Σ_tokens ‖X − TX‖²: the lowest relative loss a token-dependent
 * doubly stochastic map can reach, relative to leaving the streams unchanged. maxGap is the
 * largest per-token duality gap (absolute, in loss units); relativeGap = Σ gaps / Σ ‖X − TX‖²
 * bounds how far relativeLoss can be above the true optimum.
 */
export function perTokenBirkhoffOptimum(
  tokens: readonly Matrix[],
  target: Matrix,
  options: BirkhoffOptions = {},
): { relativeLoss: number; maxGap: number; relativeGap: number } {
  const fn = 'perTokenBirkhoffOptimum';
  const n = checkTarget(fn, target);
  checkTokens(fn, tokens, n);
  const { iterations, tolerance } = checkOptions(fn, options);
  const baseline = baselineLoss(fn, tokens, target);
  const perms = cachedPermutations(n);
  let loss = 0;
  let maxGap = 0;
  let gaps = 0;
  for (const x of tokens) {
    const { h, gap } = solve(gram(x), target, perms, iterations, tolerance);
    loss += mixLoss(h, target, x);
    maxGap = Math.max(maxGap, gap);
    gaps += gap;
  }
  return { relativeLoss: loss / baseline, maxGap, relativeGap: gaps / baseline };
}

/**
 * The same with ONE H for all tokens: min_H Σ ‖(H − T)X‖² = tr((H − T) S (H − T)ᵀ), S = Σ X Xᵀ,
 * i.e. the solver with X Xᵀ replaced by S. Returns the relative loss, the duality gap (absolute,
 * on the summed loss) and the minimiser.
 */
export function staticBirkhoffOptimum(
  tokens: readonly Matrix[],
  target: Matrix,
  options: BirkhoffOptions = {},
): { relativeLoss: number; gap: number; matrix: number[][] } {
  const fn = 'staticBirkhoffOptimum';
  const n = checkTarget(fn, target);
  checkTokens(fn, tokens, n);
  const { iterations, tolerance } = checkOptions(fn, options);
  const baseline = baselineLoss(fn, tokens, target);
  const { h, gap } = solve(secondMoment(tokens, n), target, cachedPermutations(n), iterations, tolerance);
  let loss = 0;
  for (const x of tokens) loss += mixLoss(h, target, x);
  return { relativeLoss: loss / baseline, gap, matrix: h };
}

/**
 * KromHC's floor for one fixed matrix at n = 4 = 2·2: min over a, b ∈ [0, 1] of
 * Σ_tokens ‖(A(a) ⊗ A(b) − T)X‖²_F relative to the identity's loss, A(t) = [[t, 1−t], [1−t, t]]
 * (the 2×2 doubly stochastic matrices). A full grid, then a finer grid around its best point
 * (the loss is a polynomial of degree 4 in a, b). Its family is a subset of the polytope, so
 * it is at least `staticBirkhoffOptimum`'s.
 */
export function kroneckerStaticOptimum(tokens: readonly Matrix[], target: Matrix): number {
  const fn = 'kroneckerStaticOptimum';
  const n = checkTarget(fn, target);
  if (n !== 4) throw new Error(`${fn}: only n = 4 (two 2×2 factors), got n = ${n}`);
  checkTokens(fn, tokens, n);
  // the same guard as the other floors: no relative loss exists when the identity is already exact
  baselineLoss(fn, tokens, target);
  const s = secondMoment(tokens, n);
  const factor = (t: number): number[][] => [
    [t, 1 - t],
    [1 - t, t],
  ];
  const kron = (a: number, b: number): number[][] => {
    const [x, y] = [factor(a), factor(b)];
    return Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => x[i >> 1]![j >> 1]! * y[i & 1]![j & 1]!),
    );
  };
  let best = { a: 0, b: 0, value: Number.POSITIVE_INFINITY };
  const search = (a0: number, a1: number, b0: number, b1: number, steps: number): void => {
    for (let i = 0; i <= steps; i++)
      for (let j = 0; j <= steps; j++) {
        const a = Math.min(1, Math.max(0, a0 + ((a1 - a0) * i) / steps));
        const b = Math.min(1, Math.max(0, b0 + ((b1 - b0) * j) / steps));
        const value = momentLoss(kron(a, b), target, s);
        if (value < best.value) best = { a, b, value };
      }
  };
  search(0, 1, 0, 1, 200);
  const w = 1 / 200;
  search(best.a - w, best.a + w, best.b - w, best.b + w, 200);
  return best.value / momentLoss(identity(n), target, s);
}
