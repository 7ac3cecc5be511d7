/**
 * The Birkhoff polytope 𝔅ₙ = {X ≥ 0, X1 = 1, Xᵀ1 = 1} as a Riemannian manifold (its interior, of
 * dimension (n−1)²), after Douik & Hassibi (arXiv 1802.02628) and Manopt's
 * multinomialdoublystochasticfactory, made safe at the boundary.
 *
 * Boundary policy. Points may touch the boundary (a permutation matrix is a vertex), where the
 * Fisher metric divides by zero and log X is −∞. Two clamps, both with `minEntry` (default 1e-12):
 * - the metric, the tangent projection and egradToRgrad use X̃ = max(X, minEntry);
 * - the retraction takes logs of X̂ = (X where X > 0, else minEntry), so every doubly stochastic
 *   X, however small its entries, is a fixed point of it; the projection, which takes arbitrary
 *   matrices, takes logs of X̃ (see `project`).
 * Nothing returns NaN at the boundary; near a vertex the Fisher tangent projection is
 * ill-conditioned (its linear system has condition number ~1/minEntry), so results there are
 * accurate to about eps/minEntry (1e-4 at the default).
 *
 * Scaling onto 𝔅ₙ (retract, project, randomPoint) runs log-domain Sinkhorn (`sinkhorn`) and then,
 * when it has not reached the dtype tolerance, polishes the column sums with Newton steps on the
 * scaling vectors. Sinkhorn converges linearly at rate σ₂(X)², which tends to 1 as X nears a
 * vertex (a projected matrix with clamped entries can need ~10⁶ iterations); Newton converges
 * quadratically. The Newton system is the one of the
 * Fisher projection. All scaling is done in float64 and the result cast to the input's dtype.
 */
import * as T from '@hyperconn/tensor';
import {
  LinAlgError,
  type Random,
  ShapeError,
  Tensor,
  ValueError,
  broadcastShapes,
  epsOf,
  fmtIndex,
  fmtShape,
  promoteTypes,
  solve,
  sqrt,
  sum,
  div,
  mul,
  maximum,
  dtypeOption,
  type DType,
} from '@hyperconn/tensor';
import { WorstViolation, noGrad } from '@hyperconn/autograd';
import type { CheckResult, Manifold, Tolerance } from './manifold.js';
import { sinkhorn } from './sinkhorn.js';

/**
 * Options of `Birkhoff`: `sinkhornIters` must be a positive integer and `minEntry` lie in
 * (0, 1/n); anything else is a ValueError.
 */
export interface BirkhoffOptions {
  /** 'fisher' (default): ⟨ξ,η⟩_X = Σ ξη/X; 'euclidean': the Frobenius product. */
  metric?: 'fisher' | 'euclidean';
  /** Most Sinkhorn iterations run by retract/project/randomPoint before Newton polishing. Default 50. */
  sinkhornIters?: number;
  /** Floor for entries that are divided by or logged (see the file comment). Default 1e-12. */
  minEntry?: number;
}

/** Default check tolerance: c·n·eps of the dtype (sums are n-term sums). */
const CHECK_TOL_FACTOR = 32;
/** Column error at which scaling stops (float64, where it is done): rounding level of an n-term sum. */
const scalingTol = (n: number): number => 4 * n * epsOf('float64');
const MAX_NEWTON_STEPS = 30;
const MAX_BACKTRACKS = 6;

/** x and the others broadcast to one batch of n×n matrices, as float64 arrays in C order. */
function broadcastMatrices(
  op: string,
  n: number,
  ...ts: Tensor[]
): { shape: number[]; data: Float64Array[]; dtype: DType } {
  for (const t of ts) {
    if (t.ndim < 2 || t.shape[t.ndim - 1] !== n || t.shape[t.ndim - 2] !== n) {
      throw new ShapeError(`Birkhoff.${op}: expected [...,${n},${n}], got shape ${fmtShape(t.shape)}`);
    }
  }
  const shape = broadcastShapes(`Birkhoff.${op}`, ...ts.map((t) => t.shape));
  const data = ts.map((t) => {
    const flat = Float64Array.from(t.expand(shape).toTypedArray());
    for (let i = 0; i < flat.length; i++) {
      if (!Number.isFinite(flat[i]!))
        throw new ValueError(`Birkhoff.${op}: input has a non-finite entry ${flat[i]} (shape ${fmtShape(t.shape)})`);
    }
    return flat;
  });
  return { shape, data, dtype: ts.map((t) => t.dtype).reduce(promoteTypes) };
}

function toTensor(data: Float64Array, shape: readonly number[], dtype: DType): Tensor {
  return new Tensor(data, [...shape]).astype(dtype);
}

/** Row sums (into `r`) and column sums (into `c`) of the n×n matrix at `m[base…]`. */
function marginals(m: Float64Array, base: number, n: number, r: Float64Array, c: Float64Array): void {
  r.fill(0);
  c.fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = m[base + i * n + j]!;
      r[i]! += v;
      c[j]! += v;
    }
  }
}

/**
 * Solves [diag(r) X; Xᵀ diag(c)] [α; β] = [ρ; γ] for each matrix X of a batch (r = X1, c = Xᵀ1,
 * X > 0): the system of the Fisher projection and of a Newton step of matrix scaling. It is
 * singular with null vector [1; −1] and consistent when 1ᵀρ = 1ᵀγ. Eliminating α = (ρ − Xβ)/r
 * leaves S β = γ − Xᵀ(ρ/r) with S = diag(c) − Xᵀ diag(1/r) X: the Laplacian of the graph on the
 * columns with edge weights w_jk = Σ_i X_ij X_ik / r_i, connected when X > 0. Its diagonal is
 * formed as Σ_{k≠j} w_jk (not as c_j − Σ_i X_ij²/r_i, which cancels to rounding near a vertex
 * and loses every weight below eps), and β_{n−1} = 0 is pinned instead of adding 11ᵀ (which
 * would swamp the small weights): the grounded Laplacian that remains is nonsingular.
 * Arrays hold `count` stacked n×n matrices / n-vectors; returns the stacked α and β.
 */
function solveMarginalSystem(
  x: Float64Array,
  rho: Float64Array,
  gamma: Float64Array,
  count: number,
  n: number,
): { alpha: Float64Array; beta: Float64Array } {
  const m = n - 1;
  const laplacian = new Float64Array(count * m * m);
  const rhs = new Float64Array(count * m);
  const r = new Float64Array(n);
  const c = new Float64Array(n);
  for (let b = 0; b < count; b++) {
    const mb = b * n * n;
    marginals(x, mb, n, r, c);
    for (let j = 0; j < m; j++) {
      let acc = gamma[b * n + j]!;
      for (let i = 0; i < n; i++) acc -= (x[mb + i * n + j]! * rho[b * n + i]!) / r[i]!;
      rhs[b * m + j] = acc;
      let degree = 0;
      for (let k = 0; k < n; k++) {
        if (k === j) continue;
        let w = 0;
        for (let i = 0; i < n; i++) w += (x[mb + i * n + j]! * x[mb + i * n + k]!) / r[i]!;
        degree += w;
        if (k < m) laplacian[b * m * m + j * m + k] = -w;
      }
      laplacian[b * m * m + j * m + j] = degree;
    }
  }
  const beta = new Float64Array(count * n);
  if (m > 0) {
    const reduced = solve(new Tensor(laplacian, [count, m, m]), new Tensor(rhs, [count, m, 1])).toTypedArray();
    for (let b = 0; b < count; b++) for (let j = 0; j < m; j++) beta[b * n + j] = reduced[b * m + j]!;
  }
  const alpha = new Float64Array(count * n);
  for (let b = 0; b < count; b++) {
    const mb = b * n * n;
    const vb = b * n;
    marginals(x, mb, n, r, c);
    for (let i = 0; i < n; i++) {
      let acc = rho[vb + i]!;
      for (let j = 0; j < n; j++) acc -= x[mb + i * n + j]! * beta[vb + j]!;
      alpha[vb + i] = acc / r[i]!;
    }
  }
  return { alpha, beta };
}

/** In place: Y ← C Y C with C = I − 11ᵀ/n (subtract row and column means, add back the grand mean). */
function centre(y: Float64Array, count: number, n: number): void {
  const r = new Float64Array(n);
  const c = new Float64Array(n);
  for (let b = 0; b < count; b++) {
    const mb = b * n * n;
    marginals(y, mb, n, r, c);
    let total = 0;
    for (let i = 0; i < n; i++) total += r[i]!;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) y[mb + i * n + j]! += total / (n * n) - r[i]! / n - c[j]! / n;
  }
}

/** max |column sum − 1| of the n×n matrix at `m[base…]`. */
function columnError(m: Float64Array, base: number, n: number): number {
  let worst = 0;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += m[base + i * n + j]!;
    worst = Math.max(worst, Math.abs(s - 1));
  }
  return worst;
}

/**
 * Newton's method on the scalings of one matrix P (> 0, rows summing to 1), in place: solve the
 * marginal system for (a, b), rescale P_ij ← P_ij·exp(a_i + b_j), renormalise the rows. A step
 * that does not reduce the column error is halved (up to MAX_BACKTRACKS times); when none does,
 * or the system is numerically singular, P is left as the best iterate found.
 */
function newtonPolish(p: Float64Array, n: number, tol: number): void {
  const r = new Float64Array(n);
  const c = new Float64Array(n);
  const trial = new Float64Array(n * n);
  let err = columnError(p, 0, n);
  for (let step = 0; step < MAX_NEWTON_STEPS && err > tol; step++) {
    marginals(p, 0, n, r, c);
    let solution: { alpha: Float64Array; beta: Float64Array };
    try {
      solution = solveMarginalSystem(
        p,
        r.map((v) => 1 - v),
        c.map((v) => 1 - v),
        1,
        n,
      );
    } catch (e) {
      if (e instanceof LinAlgError) return;
      throw e;
    }
    const { alpha, beta } = solution;
    let accepted = false;
    for (let k = 0, t = 1; k <= MAX_BACKTRACKS && !accepted; k++, t /= 2) {
      for (let i = 0; i < n; i++) {
        let rowSum = 0;
        for (let j = 0; j < n; j++) rowSum += trial[i * n + j] = p[i * n + j]! * Math.exp(t * (alpha[i]! + beta[j]!));
        for (let j = 0; j < n; j++) trial[i * n + j]! /= rowSum;
      }
      const trialErr = columnError(trial, 0, n);
      // NaN (an overflowing exp) compares false and is rejected like any worse step
      if (trialErr < err) {
        p.set(trial);
        err = trialErr;
        accepted = true;
      }
    }
    if (!accepted) return;
  }
}

/**
 * The doubly stochastic scaling of exp(logits) for a float64 batch [..., n, n]: Sinkhorn up to
 * `iters` iterations (stopping at the rounding tolerance), then Newton polishing of the matrices
 * still above it. Returns float64 values in C order.
 */
function scaleToBirkhoff(logits: Tensor, n: number, iters: number): Float64Array {
  const tol = scalingTol(n);
  const { matrix, marginalError } = noGrad(() => sinkhorn(logits, { iters, tol }));
  const p = Float64Array.from(matrix.value.toTypedArray());
  if (marginalError <= tol) return p;
  for (let base = 0; base < p.length; base += n * n) {
    if (columnError(p, base, n) > tol) newtonPolish(p.subarray(base, base + n * n), n, tol);
  }
  return p;
}

/**
 * The Birkhoff polytope of n×n doubly stochastic matrices, dimension (n−1)², tangent space
 * {Z : Z1 = 0, Zᵀ1 = 0}. Methods are batched over leading axes (broadcasting between arguments)
 * and accept float64 or float32 (computed in float64, returned in the promoted dtype).
 *
 * - metric 'fisher' (default): ⟨ξ,η⟩_X = Σ ξ_ij η_ij / X̃_ij; tangent projection
 *   Π_X(Z) = Z − (α1ᵀ + 1βᵀ) ⊙ X̃ (see `solveMarginalSystem`), followed by one Frobenius
 *   centring that removes the rounding left in its row/column sums; egradToRgrad = Π_X(X̃ ⊙ G).
 * - metric 'euclidean': Frobenius product; projection C Z C with C = I − 11ᵀ/n; rgrad = C G C.
 * - retract (both metrics): R_X(ξ) = Sinkhorn(max(X̂ ⊙ exp(E), min(X̂, minEntry))) with
 *   E = ξ ⊘ X̂ clamped to ±½·log(1/minEntry). One step changes an entry by at most the factor
 *   1/√minEntry (1e6), so an entry at the boundary re-enters gradually instead of jumping (the
 *   unclamped exp overflows there), and no step pushes an entry below minEntry (unless it
 *   already was): entries far below every other keep the scaling problem ill-conditioned
 *   beyond float64. Both clamps are inactive for small steps in the interior, so R is a
 *   first-order retraction there, and R_X(0) = X for every doubly stochastic X.
 * - transport: projection onto the tangent space at the new point.
 * - project: scaling of X̃ = max(x, minEntry) (Sinkhorn in the log domain, then Newton); a doubly
 *   stochastic x with entries ≥ minEntry is returned unchanged to rounding. Entries below
 *   minEntry (negative, zero or tiny positive) all become minEntry: a tiny positive entry kept
 *   as it is (5e-324 next to a zero read as 1e-12) spans a range no float64 scaling resolves,
 *   and the scaling would silently miss 𝔅ₙ. The achieved column
 *   error is at rounding level unless scaling failed to converge: call `sinkhorn` on log X̂
 *   for the reported marginal error.
 */
export class Birkhoff implements Manifold {
  readonly name: string;
  readonly shape: readonly [number, number];
  readonly dim: number;
  readonly metric: 'fisher' | 'euclidean';
  readonly sinkhornIters: number;
  readonly minEntry: number;
  private readonly maxLogStep: number;

  constructor(
    readonly n: number,
    options: BirkhoffOptions = {},
  ) {
    const { metric = 'fisher', sinkhornIters = 50, minEntry = 1e-12 } = options;
    if (!Number.isInteger(n) || n < 1) throw new ValueError(`Birkhoff: n must be a positive integer, got ${n}`);
    if (metric !== 'fisher' && metric !== 'euclidean')
      throw new ValueError(`Birkhoff: metric must be 'fisher' or 'euclidean', got ${String(metric)}`);
    if (!Number.isInteger(sinkhornIters) || sinkhornIters < 1)
      throw new ValueError(`Birkhoff: sinkhornIters must be a positive integer, got ${sinkhornIters}`);
    if (!(minEntry > 0 && minEntry < 1 / n))
      throw new ValueError(`Birkhoff: minEntry must lie in (0, 1/n) = (0, ${1 / n}), got ${minEntry}`);
    this.name = `Birkhoff(${n}, ${metric})`;
    this.shape = [n, n];
    this.dim = (n - 1) * (n - 1);
    this.metric = metric;
    this.sinkhornIters = sinkhornIters;
    this.minEntry = minEntry;
    this.maxLogStep = -0.5 * Math.log(minEntry);
  }

  private defaultAtol(dtype: DType): number {
    return CHECK_TOL_FACTOR * this.n * epsOf(dtype);
  }

  /**
   * Entries ≥ −atol and every row and column sum within atol + rtol of 1 (defaults: atol =
   * 32·n·eps of x's dtype, rtol = 0). The reason names the worst violation, its batch index and size.
   */
  check(x: Tensor, tol: Tolerance = {}): CheckResult {
    const n = this.n;
    if (x.ndim < 2 || x.shape[x.ndim - 1] !== n || x.shape[x.ndim - 2] !== n) {
      return { ok: false, reason: `${this.name}: expected shape [...,${n},${n}], got ${fmtShape(x.shape)}` };
    }
    const atol = tol.atol ?? this.defaultAtol(x.dtype);
    const sumTol = atol + (tol.rtol ?? 0);
    const data = x.toTypedArray();
    const r = new Float64Array(n);
    const c = new Float64Array(n);
    // NaN counts as an infinite violation; the first of equal violations is reported
    const worst = new WorstViolation<string>();
    const consider = (excess: number, reason: () => string): void => worst.consider(excess, reason);
    const x64 = Float64Array.from(data);
    const batch = x.shape.slice(0, -2);
    for (let base = 0, b = 0; base < x64.length; base += n * n, b++) {
      const where = (): string => `at batch index ${fmtIndex(b, batch)}`;
      for (let k = 0; k < n * n; k++) {
        const v = x64[base + k]!;
        if (!Number.isFinite(v)) consider(Infinity, () => `entry [${Math.floor(k / n)}, ${k % n}] ${where()} is ${v}`);
        else consider(-v - atol, () => `entry [${Math.floor(k / n)}, ${k % n}] ${where()} is ${v} < −atol ${atol}`);
      }
      marginals(x64, base, n, r, c);
      for (let i = 0; i < n; i++) {
        consider(
          Math.abs(r[i]! - 1) - sumTol,
          () => `row ${i} ${where()} sums to ${r[i]} (|error| ${Math.abs(r[i]! - 1)} > tol ${sumTol})`,
        );
        consider(
          Math.abs(c[i]! - 1) - sumTol,
          () => `column ${i} ${where()} sums to ${c[i]} (|error| ${Math.abs(c[i]! - 1)} > tol ${sumTol})`,
        );
      }
    }
    return worst.worst === null ? { ok: true, reason: '' } : { ok: false, reason: `${this.name}: ${worst.worst}` };
  }

  /**
   * Every row and column sum of v is 0 within atol·max(1, s) + rtol·s, where s is the largest
   * absolute row or column sum Σ|v_ij| of that batch entry (rounding in an n-term sum scales with
   * it). Defaults as in `check`. x only fixes the shape.
   */
  checkTangent(x: Tensor, v: Tensor, tol: Tolerance = {}): CheckResult {
    const n = this.n;
    for (const [label, t] of [
      ['x', x],
      ['v', v],
    ] as const) {
      if (t.ndim < 2 || t.shape[t.ndim - 1] !== n || t.shape[t.ndim - 2] !== n) {
        return {
          ok: false,
          reason: `${this.name}: expected ${label} of shape [...,${n},${n}], got ${fmtShape(t.shape)}`,
        };
      }
    }
    const atol = tol.atol ?? this.defaultAtol(promoteTypes(x.dtype, v.dtype));
    const rtol = tol.rtol ?? 0;
    const data = Float64Array.from(v.toTypedArray());
    const r = new Float64Array(n);
    const c = new Float64Array(n);
    const abs = data.map(Math.abs);
    const ra = new Float64Array(n);
    const ca = new Float64Array(n);
    const worst = new WorstViolation<string>();
    const batch = v.shape.slice(0, -2);
    for (let base = 0, b = 0; base < data.length; base += n * n, b++) {
      marginals(data, base, n, r, c);
      marginals(abs, base, n, ra, ca);
      const scale = Math.max(...ra, ...ca);
      const bound = atol * Math.max(1, scale) + rtol * scale;
      for (let i = 0; i < n; i++) {
        for (const [kind, s] of [
          ['row', r[i]!],
          ['column', c[i]!],
        ] as const) {
          const excess = Number.isNaN(s) ? Infinity : Math.abs(s) - bound;
          // NaN here is ∞ − ∞ or a NaN bound (0·∞ from an infinite entry): not counted, as before
          worst.consider(
            Number.isNaN(excess) ? 0 : excess,
            () => `${kind} ${i} at batch index ${fmtIndex(b, batch)} sums to ${s} (> tol ${bound})`,
          );
        }
      }
    }
    return worst.worst === null
      ? { ok: true, reason: '' }
      : { ok: false, reason: `${this.name}: tangent ${worst.worst}` };
  }

  /** X̃ = max(x, minEntry), entry by entry (for division). */
  private clamped(x: Float64Array): Float64Array {
    return x.map((v) => Math.max(v, this.minEntry));
  }

  /** X̂ = x where x > 0, else minEntry (for logs: keeps tiny positive entries as they are). */
  private positivePart(x: Float64Array): Float64Array {
    return x.map((v) => (v > 0 ? v : this.minEntry));
  }

  /** The scaling of X̂ onto 𝔅ₙ (see the class comment). Non-finite input: ValueError. */
  project(x: Tensor): Tensor {
    const { shape, data, dtype } = broadcastMatrices('project', this.n, x);
    const logits = new Tensor(this.clamped(data[0]!).map(Math.log), shape);
    return toTensor(scaleToBirkhoff(logits, this.n, this.sinkhornIters), shape, dtype);
  }

  projectTangent(x: Tensor, z: Tensor): Tensor {
    const { shape, data, dtype } = broadcastMatrices('projectTangent', this.n, x, z);
    return toTensor(this.projectTangentF64(this.clamped(data[0]!), data[1]!), shape, dtype);
  }

  /** The projection on float64 arrays; `xc` is already clamped. */
  private projectTangentF64(xc: Float64Array, z: Float64Array): Float64Array {
    const n = this.n;
    const count = z.length / (n * n);
    const y = Float64Array.from(z);
    if (this.metric === 'fisher' && count > 0) {
      const rho = new Float64Array(count * n);
      const gamma = new Float64Array(count * n);
      for (let b = 0; b < count; b++)
        marginals(z, b * n * n, n, rho.subarray(b * n, b * n + n), gamma.subarray(b * n, b * n + n));
      const { alpha, beta } = solveMarginalSystem(xc, rho, gamma, count, n);
      for (let b = 0; b < count; b++) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const k = b * n * n + i * n + j;
            y[k]! -= (alpha[b * n + i]! + beta[b * n + j]!) * xc[k]!;
          }
        }
      }
    }
    centre(y, count, n);
    return y;
  }

  egradToRgrad(x: Tensor, g: Tensor): Tensor {
    const { shape, data, dtype } = broadcastMatrices('egradToRgrad', this.n, x, g);
    const xc = this.clamped(data[0]!);
    const scaled = this.metric === 'fisher' ? data[1]!.map((v, k) => v * xc[k]!) : data[1]!;
    return toTensor(this.projectTangentF64(xc, scaled), shape, dtype);
  }

  retract(x: Tensor, v: Tensor): Tensor {
    const { shape, data, dtype } = broadcastMatrices('retract', this.n, x, v);
    const xp = this.positivePart(data[0]!);
    const k = this.maxLogStep;
    const logFloor = Math.log(this.minEntry);
    const logits = xp.map((xv, i) => {
      const logX = Math.log(xv);
      // the exponent clamped to ±k, and no entry pushed below min(X̂_ij, minEntry)
      return Math.max(logX + Math.min(k, Math.max(-k, data[1]![i]! / xv)), Math.min(logX, logFloor));
    });
    return toTensor(scaleToBirkhoff(new Tensor(logits, shape), this.n, this.sinkhornIters), shape, dtype);
  }

  transport(_x: Tensor, y: Tensor, v: Tensor): Tensor {
    return this.projectTangent(y, v);
  }

  inner(x: Tensor, u: Tensor, v: Tensor): Tensor {
    const uv = mul(u, v);
    return sum(this.metric === 'fisher' ? div(uv, maximum(x, this.minEntry)) : uv, [-2, -1]);
  }

  /** √⟨v, v⟩_X, with v divided by its largest |entry| per matrix first so that no square overflows or underflows. */
  norm(x: Tensor, v: Tensor): Tensor {
    const largest = T.max(T.abs(v), [-2, -1], true);
    // 0, ∞ and NaN maxima divide by 1: the norm is then 0, ∞ or NaN as it should be
    const scale = new Tensor(
      largest.toTypedArray().map((m) => (m > 0 && m < Infinity ? m : 1)),
      [...largest.shape],
    );
    const unit = div(v, scale);
    return mul(sqrt(this.inner(x, unit, unit)), scale.squeeze([-2, -1]));
  }

  /** Sinkhorn scaling of standard normal logits (an interior point), computed in float64 and cast. */
  randomPoint(rng: Random, batchShape: readonly number[] = [], options: { dtype?: DType } = {}): Tensor {
    const dtype = dtypeOption('Birkhoff.randomPoint', options); // before drawing, so a bad dtype costs no draws
    const shape = [...batchShape, this.n, this.n];
    return toTensor(scaleToBirkhoff(rng.normal(shape), this.n, this.sinkhornIters), shape, dtype);
  }

  /** The tangent projection of a standard normal matrix, scaled to unit norm; the zero vector when n = 1 (dim 0). */
  randomTangent(x: Tensor, rng: Random): Tensor {
    const xi = this.projectTangent(x, rng.normal(x.shape));
    const norms = this.norm(x, xi).toTypedArray();
    const scale = norms.map((s) => (s > 0 ? 1 / s : 0));
    // projected again after scaling: the rounding left in the sums was relative to the normal draw,
    // which can be much larger than its projection
    return this.projectTangent(
      x,
      mul(xi, new Tensor(Float64Array.from(scale), [...x.shape.slice(0, -2), 1, 1])),
    ).astype(x.dtype);
  }
}
