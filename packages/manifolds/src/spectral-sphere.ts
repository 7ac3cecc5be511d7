/**
 * The spectral sphere 𝒮 = {W ∈ R^{m×n} : σ_max(W) = 1} (sHC's constraint set) and the
 * differentiable map onto it, spectral normalisation W ↦ W/σ_max(W) (Miyato et al. 2018).
 */
import * as T from '@hyperconn/tensor';
import {
  ShapeError,
  type Tensor,
  ValueError,
  add,
  epsOf,
  fmtIndex,
  fmtShape,
  powerIteration,
  sub,
  svd,
  dtypeOption,
  type DType,
  type Random,
} from '@hyperconn/tensor';
import {
  Variable,
  WorstViolation,
  perMatrix,
  div,
  matmul,
  matrixNorm,
  maximum,
  mul,
  squeeze,
  sum,
  unsqueeze,
} from '@hyperconn/autograd';
import { EmbeddedManifold } from './embedded.js';
import type { CheckResult, Tolerance } from './manifold.js';
import { checkMatrixInput, frobenius, frobeniusNorm, perMatrix as perMatrixTensor, requireFinite } from './util.js';

/** The top singular value σ [...] and the rank-one matrix u₁v₁ᵀ [...,m,n] of each matrix of `x`. */
interface TopSingular {
  sigma: Tensor;
  uv: Tensor;
}

/**
 * The exact top singular triplet by Jacobi SVD. At a repeated σ_max the top singular subspace
 * has no preferred basis: the SVD's first pair (column 0 of U and V) is used, as it comes out.
 */
function exactTop(x: Tensor): TopSingular {
  const { u, s, v } = svd(x);
  const lead = new Array<null>(x.ndim - 2).fill(null);
  return {
    sigma: s.slice(...lead, 0),
    uv: T.matmul(u.slice(...lead, null, [0, 1]), v.slice(...lead, null, [0, 1]).mT),
  };
}

/** Most power iterations `SpectralSphere` with `exact: false` runs to settle σ̂ (and as many again for the vectors). */
const SPHERE_POWER_ITERS = 500;

/**
 * The top singular triplet by cold-start power iteration: until σ̂ changes by ≤ 2·eps relative,
 * then as many iterations again, because the vectors' error is only the square root of σ̂'s
 * (σ̂ is stationary in u and v), and the second run squares it away.
 */
function powerTop(x: Tensor): TopSingular {
  const settle = powerIteration(x, { iters: SPHERE_POWER_ITERS, tol: 2 * epsOf(x.dtype) });
  const { sigma, u, v } = powerIteration(x, { iters: settle.iterations, state: { u: settle.u } });
  return { sigma, uv: T.mul(u.unsqueeze(-1), v.unsqueeze(-2)) };
}

/** How `SpectralSphere` computes σ_max and the top singular pair (see `exact`). */
export interface SpectralSphereOptions {
  /**
   * σ_max and the top singular pair by exact Jacobi SVD (default, true) or by cold-start power
   * iteration (false: from the all-ones vector until σ̂ changes by ≤ 2·eps relative, at most 500
   * iterations, then as many again so that u and v settle too; cheaper for large matrices, but
   * with a small spectral gap σ̂ < σ_max, so `project` and `retract` may land slightly outside 𝒮
   * (σ_max ≥ 1) and the tangent projection is only approximate). `check` always uses the exact SVD.
   */
  exact?: boolean;
}

/**
 * The spectral sphere 𝒮 = {W ∈ R^{m×n} : σ_max(W) = 1}, of dimension mn − 1, with the
 * Euclidean (Frobenius) metric.
 *
 * 𝒮 is a smooth manifold only where σ_max is simple: there ∇σ_max = u vᵀ (the top singular
 * vectors) and the tangent space is {Δ : uᵀΔv = 0}. At a repeated σ_max (e.g. an orthogonal
 * matrix, where every singular value is 1) it is not smooth: every method then uses the SVD's
 * first singular pair as if it were the only one, so the tangent "projection" removes only the
 * u₁v₁ᵀ component. `project` and `retract` divide by σ_max itself, so they land on 𝒮 at ties too.
 */
export class SpectralSphere extends EmbeddedManifold {
  readonly name: string;
  readonly exact: boolean;

  constructor(m: number, n: number, options: SpectralSphereOptions = {}) {
    if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || n < 1) {
      throw new ValueError(`SpectralSphere: m and n must be positive integers, got m = ${m}, n = ${n}`);
    }
    super([m, n], m * n - 1);
    this.name = `SpectralSphere(${m}, ${n})`;
    this.exact = options.exact ?? true;
  }

  private top(x: Tensor): TopSingular {
    return this.exact ? exactTop(x) : powerTop(x);
  }

  /**
   * |σ_max − 1| ≤ atol + rtol for every matrix (σ_max by exact SVD; defaults atol = rtol =
   * 10·max(m, n)·eps of x's dtype); the reason names the worst σ_max, its batch index and |σ_max − 1|.
   */
  check(x: Tensor, tol: Tolerance = {}): CheckResult {
    const invalid = checkMatrixInput(this.name, x, this.shape);
    if (invalid) return invalid;
    const { atol, rtol } = this.tolerance(x.dtype, tol);
    const sigma = exactTop(x).sigma.toTypedArray();
    const tracker = new WorstViolation<number>();
    for (let b = 0; b < sigma.length; b++) tracker.consider(Math.abs(sigma[b]! - 1) - (atol + rtol), () => b);
    const worst = tracker.worst;
    if (worst === null) return { ok: true, reason: '' };
    const error = Math.abs(sigma[worst]! - 1);
    return {
      ok: false,
      reason:
        `${this.name}: σ_max = ${sigma[worst]} at batch index ` +
        `${fmtIndex(worst, x.shape.slice(0, -2))}: |σ_max − 1| = ${error} > atol ${atol} + rtol ${rtol}`,
    };
  }

  /** |uᵀVv| ≤ atol + rtol·‖V‖_F for every matrix (u, v: the top singular pair of x). */
  checkTangent(x: Tensor, v: Tensor, tol: Tolerance = {}): CheckResult {
    this.requireShape('checkTangent', 'x', x);
    this.requireShape('checkTangent', 'v', v);
    const { atol, rtol } = this.tolerance(v.dtype, tol);
    const normalT = frobenius(this.top(x).uv, v);
    const normal = normalT.toTypedArray();
    const size = frobeniusNorm(v).expand(normalT.shape).toTypedArray();
    const tracker = new WorstViolation<number>();
    for (let b = 0; b < normal.length; b++) tracker.consider(Math.abs(normal[b]!) - (atol + rtol * size[b]!), () => b);
    const worst = tracker.worst;
    if (worst === null) return { ok: true, reason: '' };
    return {
      ok: false,
      reason:
        `${this.name}: |uᵀVv| = ${Math.abs(normal[worst]!)} at batch index ${fmtIndex(worst, normalT.shape)} ` +
        `exceeds atol ${atol} + rtol ${rtol}·‖V‖_F (‖V‖_F = ${size[worst]})`,
    };
  }

  /** W/σ_max(W). A zero matrix has no projection and non-finite input none either: ValueError. */
  project(x: Tensor): Tensor {
    this.requireShape('project', 'x', x);
    requireFinite(`${this.name}.project`, 'x', x);
    return this.normalize('project', x);
  }

  private normalize(op: string, x: Tensor): Tensor {
    const sigma = this.top(x).sigma;
    const values = sigma.toTypedArray();
    const zero = values.indexOf(0);
    if (zero >= 0) {
      throw new ValueError(
        `${this.name}.${op}: the matrix at batch index ${fmtIndex(zero, x.shape.slice(0, -2))} ` +
          `is zero; it has no direction to scale onto the sphere`,
      );
    }
    return T.div(x, perMatrixTensor(sigma));
  }

  /** P_W(Z) = Z − ⟨uvᵀ, Z⟩ uvᵀ (u, v the top singular pair of W; the first one at ties). */
  projectTangent(x: Tensor, z: Tensor): Tensor {
    this.requireShape('projectTangent', 'x', x);
    this.requireShape('projectTangent', 'z', z);
    const { uv } = this.top(x);
    return sub(z, T.mul(perMatrixTensor(frobenius(uv, z)), uv));
  }

  /** R_W(Δ) = (W + Δ)/σ_max(W + Δ), a first-order retraction; W + Δ = 0 is a ValueError. */
  retract(x: Tensor, v: Tensor): Tensor {
    this.requireShape('retract', 'x', x);
    this.requireShape('retract', 'v', v);
    const y = add(x, v);
    requireFinite(`${this.name}.retract`, 'x + v', y);
    return this.normalize('retract', y);
  }

  /** W/σ_max(W) for a standard Gaussian W (drawn and normalised in float64, then cast). */
  randomPoint(rng: Random, batchShape: readonly number[] = [], options: { dtype?: DType } = {}): Tensor {
    const dtype = dtypeOption('SpectralSphere.randomPoint', options); // before drawing, so a bad dtype costs no draws
    const g = rng.normal([...batchShape, ...this.shape]);
    return T.div(g, perMatrixTensor(exactTop(g).sigma)).astype(dtype);
  }
}

// ---------------------------------------------------------------------------------------------
// Spectral normalisation (the differentiable map onto 𝒮)

/**
 * The persistent left singular vector(s) of spectral normalisation's power iteration, carried
 * from call to call (training step to step) so that one iteration per step suffices.
 */
export class SpectralNormState {
  /**
   * `[..., m]`: the latest estimate of the top left singular vector of each matrix (a plain Tensor, never part of a
   * graph); null before the first call.
   */
  u: Tensor | null = null;
}

/**
 * Options of `spectralNormalize`. `iters` and `tol` apply to power iteration only (ignored with
 * `exact: true`); a bad `iters`, `tol` or `eps` is a ValueError.
 */
export interface SpectralNormalizeOptions {
  /** Power iterations: default 1 when the state holds a vector (warm start), 20 otherwise (cold start). */
  iters?: number;
  /** Stop the power iteration early once σ̂ changes by ≤ tol·σ̂ within one iteration. */
  tol?: number;
  /** σ_max by exact Jacobi SVD instead of power iteration (small matrices). */
  exact?: boolean;
  /** Divide by max(σ, eps) instead of σ, so a zero (or tiny) matrix maps to W/eps instead of an error. */
  eps?: number;
}

/**
 * Spectral normalisation Ŵ = W/σ(W) of `w` [...,m,n], batched over the leading axes.
 *
 * - Power iteration (default): v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖, σ̂ = uᵀWv, starting from `state.u`
 *   (warm start; 1 iteration by default) or, when the state is missing or empty, from the
 *   normalised all-ones vector (20 iterations by default, or fewer with `tol`). `state.u` is
 *   replaced by the final u after every call (a detached Tensor). σ̂ never exceeds σ_max, so Ŵ
 *   may have σ_max(Ŵ) = σ_max/σ̂ slightly above 1 until the iteration has converged (about
 *   1.09 after one iteration from a random start); across training steps the warm start
 *   converges, since W changes slowly.
 *   Gradient: u and v are treated as constants (as in Miyato et al. and PyTorch), so
 *   ∂ℓ/∂W = (G − ⟨G, Ŵ⟩ u vᵀ)/σ̂ with G = ∂ℓ/∂Ŵ: the exact gradient of W ↦ W/(uᵀWv) for fixed
 *   u, v, which equals the gradient of W/σ_max(W) once the iteration has converged. Built from
 *   differentiable ops, so it can be differentiated again (with u, v still constant).
 * - `exact: true`: σ = σ_max by Jacobi SVD through the differentiable `matrixNorm(W, 2)`; the
 *   gradient is the same formula with the exact u, v, and the second derivative includes the
 *   dependence of u, v on W (defined where σ_max is simple; at ties the SVD's first pair gives
 *   one subgradient). `state.u`, if a state is given, receives the exact top left vector.
 *
 * A zero matrix (or an empty one) has no spectral normalisation: ValueError, unless `eps` is
 * given, in which case the divisor is max(σ, eps) (gradient G/eps where σ < eps). Non-finite
 * entries are a ValueError; a state vector of the wrong shape is a ShapeError.
 */
export function spectralNormalize(
  w: Variable | Tensor,
  state?: SpectralNormState,
  options: SpectralNormalizeOptions = {},
): Variable {
  const x = w instanceof Variable ? w : new Variable(w);
  const { exact = false, tol, eps } = options;
  if (x.ndim < 2)
    throw new ShapeError(
      `spectralNormalize: w must be a matrix or a batch of matrices [...,m,n], got shape ${fmtShape(x.shape)}`,
    );
  if (eps !== undefined && !(eps > 0 && Number.isFinite(eps)))
    throw new ValueError(`spectralNormalize: eps must be a finite number > 0, got ${eps}`);
  requireFinite('spectralNormalize', 'w', x.value);
  const batch = x.shape.slice(0, -2);
  const m = x.shape[x.ndim - 2]!;
  const warm = state?.u ?? null;
  if (warm !== null && (warm.ndim !== batch.length + 1 || ![...batch, m].every((d, i) => warm.shape[i] === d))) {
    throw new ShapeError(
      `spectralNormalize: state.u has shape ${fmtShape(warm.shape)}, expected ` +
        `${fmtShape([...batch, m])} for w of shape ${fmtShape(x.shape)}`,
    );
  }

  let sigma: Variable;
  if (exact) {
    sigma = matrixNorm(x, 2);
    if (state && x.size > 0)
      state.u = svd(x.value)
        .u.slice(...batch.map(() => null), null, 0)
        .contiguous();
  } else {
    const iters = options.iters ?? (warm === null ? 20 : 1);
    if (!Number.isInteger(iters) || iters < 1)
      throw new ValueError(`spectralNormalize: iters must be an integer ≥ 1, got ${iters}`);
    if (tol !== undefined && !(tol >= 0 && Number.isFinite(tol)))
      throw new ValueError(`spectralNormalize: tol must be a finite number ≥ 0, got ${tol}`);
    // a copy, so that the caller's old state.u is never overwritten in place
    const result = powerIteration(x.value, { iters, tol, state: warm === null ? undefined : { u: warm.clone() } });
    const wv = squeeze(matmul(x, unsqueeze(new Variable(result.v), -1)), -1);
    sigma = sum(mul(new Variable(result.u), wv), -1);
    if (state) state.u = result.u;
  }

  const values = sigma.value.toTypedArray();
  if (eps === undefined) {
    const zero = values.findIndex((s) => !(s > 0));
    if (zero >= 0) {
      throw new ValueError(
        `spectralNormalize: w${batch.length ? ` at batch index ${fmtIndex(zero, batch)}` : ''} (shape ` +
          `${fmtShape(x.shape)}) is a zero matrix, σ ` +
          `= 0; pass an eps option to divide by max(σ, eps) instead`,
      );
    }
  } else {
    sigma = maximum(sigma, eps);
  }
  return div(x, perMatrix(sigma));
}
