/**
 * The Stiefel manifold St(n, p) = {X ∈ R^{n×p} : XᵀX = I_p} and its square case, the
 * orthogonal group O(n), with the Euclidean (embedded) metric and four retractions by name.
 */
import {
  DEFAULT_DTYPE,
  Tensor,
  ValueError,
  add,
  broadcastShapes,
  concat,
  epsOf,
  expm,
  eye,
  matmul,
  mul,
  neg,
  qr,
  solve,
  sqrt,
  sub,
  svd,
  type DType,
  type Random,
} from '@hyperconn/tensor';
import type { CheckResult, Manifold, Tolerance } from './manifold.js';
import { batchIndex, checkMatrixInput, frobenius, requireFinite, requireMatrixShape, unitFrobenius } from './util.js';

/** The retraction `Stiefel.retract` uses; see `Stiefel` for the formulas. */
export type StiefelRetraction = 'qr' | 'polar' | 'cayley' | 'exp';
const RETRACTIONS: readonly StiefelRetraction[] = ['qr', 'polar', 'cayley', 'exp'];

/** Options of `Stiefel` and `Orthogonal`; an unknown retraction is a ValueError. */
export interface StiefelOptions {
  /** Default 'qr'. */
  retraction?: StiefelRetraction;
}

/** sym(A) = (A + Aᵀ)/2 and skew(A) = (A − Aᵀ)/2 of the last two axes. */
const sym = (a: Tensor): Tensor => mul(add(a, a.mT), 0.5);
const skew = (a: Tensor): Tensor => mul(sub(a, a.mT), 0.5);
/**
 * The Stiefel manifold St(n, p) = {X ∈ R^{n×p} : XᵀX = I_p}, 1 ≤ p ≤ n, of dimension
 * np − p(p+1)/2, with the Euclidean metric ⟨ξ, η⟩ = tr(ξᵀη).
 *
 * Tangent space at X: {ξ : Xᵀξ + ξᵀX = 0}; projection P_X(Z) = Z − X sym(XᵀZ), which is also
 * the Riemannian gradient of a Euclidean gradient Z. Projection onto St(n, p): the polar factor
 * UVᵀ of X = UΣVᵀ (the nearest point in the Frobenius norm; for rank-deficient X any completion
 * of U, V is one of several nearest points). Transport: projection onto the new tangent space.
 *
 * Retractions (`options.retraction`), for ξ tangent at X:
 * - 'qr' (default): Q of X + ξ = QR with diag(R) > 0 (without the sign fix columns would flip).
 * - 'polar': the polar factor of X + ξ, = (X + ξ)(I + ξᵀξ)^{-1/2} (second order).
 * - 'cayley' (Li, Fuxin & Todorovic, ICLR 2020): with P = I − ½XXᵀ and the skew n×n matrix
 *   W = P ξ Xᵀ − X ξᵀ P (so that W X = ξ), R_X(ξ) = (I − ½W)⁻¹(I + ½W) X, computed by one exact
 *   n×n solve (the paper's fixed-point iteration is not used). For non-tangent ξ, W X = P_X(ξ),
 *   so the result is that of the tangent part.
 * - 'exp': the exponential map of the embedded metric on the tangent part ξ ← P_X(ξ): for n = p,
 *   X expm(Xᵀξ); for p < n, Edelman, Arias & Smith (1998, eq. 2.45):
 *   [X, ξ] · expm([[A, −S], [I, A]]) · [I; 0] · expm(−A), with A = Xᵀξ (skew part) and S = ξᵀξ.
 * Every retraction returns a point of St(n, p) (to rounding) for any finite ξ.
 */
export class Stiefel implements Manifold {
  readonly name: string;
  readonly shape: readonly [number, number];
  readonly dim: number;
  readonly retraction: StiefelRetraction;

  constructor(n: number, p: number, options: StiefelOptions = {}) {
    if (!Number.isInteger(n) || !Number.isInteger(p) || p < 1 || p > n) {
      throw new ValueError(`Stiefel: need integers 1 ≤ p ≤ n, got n = ${n}, p = ${p}`);
    }
    const retraction = options.retraction ?? 'qr';
    if (!RETRACTIONS.includes(retraction)) {
      throw new ValueError(`Stiefel: retraction must be one of ${RETRACTIONS.map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(retraction)}`);
    }
    this.name = `Stiefel(${n}, ${p})`;
    this.shape = [n, p];
    this.dim = n * p - (p * (p + 1)) / 2;
    this.retraction = retraction;
  }

  /** For subclasses: throws a ShapeError naming `op` and `what` unless x has shape `[..., n, p]`. */
  protected requireShape(op: string, what: string, x: Tensor): void {
    requireMatrixShape(`${this.name}.${op}`, what, x, this.shape);
  }

  /** Default tolerance: atol = rtol = 10·n·eps of the dtype. */
  private tolerance(dtype: DType, tol: Tolerance): { atol: number; rtol: number } {
    const base = 10 * this.shape[0] * epsOf(dtype);
    return { atol: tol.atol ?? base, rtol: tol.rtol ?? base };
  }

  /**
   * Among the matrices `m` [...,p,p], the entry with the largest |m_ij| − (atol + rtol·scale_b);
   * `null` when every entry is within its bound.
   */
  private worstEntry(m: Tensor, bound: (batch: number) => number): { batch: number; i: number; j: number; value: number } | null {
    const p = this.shape[1];
    const flat = m.toTypedArray();
    let worst: { batch: number; i: number; j: number; value: number } | null = null;
    let worstExcess = 0;
    for (let k = 0; k < flat.length; k++) {
      const batch = Math.floor(k / (p * p));
      const excess = Math.abs(flat[k]!) - bound(batch);
      if (!(excess <= worstExcess)) {
        worstExcess = excess;
        worst = { batch, i: Math.floor(k / p) % p, j: k % p, value: flat[k]! };
      }
    }
    return worst;
  }

  /** max |XᵀX − I| ≤ atol + rtol for every matrix (defaults atol = rtol = 10·n·eps of x's dtype); the reason names the worst entry. */
  check(x: Tensor, tol: Tolerance = {}): CheckResult {
    const invalid = checkMatrixInput(this.name, x, this.shape);
    if (invalid) return invalid;
    const p = this.shape[1];
    const { atol, rtol } = this.tolerance(x.dtype, tol);
    const worst = this.worstEntry(sub(matmul(x.mT, x), eye(p, p, { dtype: x.dtype })), () => atol + rtol);
    if (worst === null) return { ok: true, reason: '' };
    return {
      ok: false,
      reason: `${this.name}: (XᵀX − I)[${worst.i}, ${worst.j}] = ${worst.value} at batch index ${batchIndex(worst.batch, x.shape.slice(0, -2))} exceeds atol ${atol} + rtol ${rtol}`,
    };
  }

  /** max |Xᵀξ + ξᵀX| ≤ atol + rtol·‖ξ‖_F for every matrix; the reason names the worst entry. */
  checkTangent(x: Tensor, v: Tensor, tol: Tolerance = {}): CheckResult {
    this.requireShape('checkTangent', 'x', x);
    this.requireShape('checkTangent', 'v', v);
    const { atol, rtol } = this.tolerance(v.dtype, tol);
    const xtv = matmul(x.mT, v);
    const s = add(xtv, xtv.mT);
    const batch = s.shape.slice(0, -2);
    const size = sqrt(frobenius(v, v)).expand(batch).toTypedArray();
    const worst = this.worstEntry(s, (b) => atol + rtol * size[b]!);
    if (worst === null) return { ok: true, reason: '' };
    return {
      ok: false,
      reason: `${this.name}: (Xᵀξ + ξᵀX)[${worst.i}, ${worst.j}] = ${worst.value} at batch index ${batchIndex(worst.batch, batch)} exceeds atol ${atol} + rtol ${rtol}·‖ξ‖_F (‖ξ‖_F = ${size[worst.batch]})`,
    };
  }

  /** The polar factor UVᵀ of X = UΣVᵀ: the nearest point of St(n, p). Non-finite input: ValueError. */
  project(x: Tensor): Tensor {
    this.requireShape('project', 'x', x);
    requireFinite(`${this.name}.project`, 'x', x);
    return polarFactor(x);
  }

  /** P_X(Z) = Z − X sym(XᵀZ). */
  projectTangent(x: Tensor, z: Tensor): Tensor {
    this.requireShape('projectTangent', 'x', x);
    this.requireShape('projectTangent', 'z', z);
    return sub(z, matmul(x, sym(matmul(x.mT, z))));
  }

  /** The Euclidean metric makes the Riemannian gradient the tangent projection of the Euclidean one. */
  egradToRgrad(x: Tensor, g: Tensor): Tensor {
    return this.projectTangent(x, g);
  }

  /** R_X(ξ) by the retraction chosen in the constructor (see the class comment). */
  retract(x: Tensor, v: Tensor): Tensor {
    this.requireShape('retract', 'x', x);
    this.requireShape('retract', 'v', v);
    requireFinite(`${this.name}.retract`, 'v', v);
    switch (this.retraction) {
      case 'qr':
        return qr(add(x, v)).q;
      case 'polar':
        return polarFactor(add(x, v));
      case 'cayley':
        return this.cayleyRetraction(x, v);
      case 'exp':
        return this.expRetraction(x, v);
    }
  }

  private cayleyRetraction(x: Tensor, v: Tensor): Tensor {
    const n = this.shape[0];
    const identity = eye(n, n, { dtype: x.dtype });
    // P ξ Xᵀ with P = I − ½XXᵀ, computed as ξXᵀ − ½X(Xᵀξ)Xᵀ to stay with n×p and p×p products
    const pxiXt = matmul(sub(v, mul(matmul(x, matmul(x.mT, v)), 0.5)), x.mT);
    const w = sub(pxiXt, pxiXt.mT);
    const half = mul(w, 0.5);
    return solve(sub(identity, half), add(x, matmul(half, x)));
  }

  private expRetraction(x: Tensor, v: Tensor): Tensor {
    const [n, p] = this.shape;
    const shape = broadcastShapes(`${this.name}.retract`, x.shape, v.shape);
    const xb = x.expand(shape);
    const xi = this.projectTangent(xb, v.expand(shape));
    const a = skew(matmul(xb.mT, xi));
    if (n === p) return matmul(xb, expm(a));
    const identity = eye(p, p, { dtype: x.dtype }).expand(a.shape);
    const block = concat([concat([a, neg(matmul(xi.mT, xi))], -1), concat([identity, a], -1)], -2);
    const lead = new Array<null>(shape.length - 2).fill(null);
    const firstColumns = expm(block).slice(...lead, null, [0, p]);
    return matmul(matmul(concat([xb, xi], -1), firstColumns), expm(neg(a)));
  }

  /** Transport by projection onto the tangent space at y. */
  transport(_x: Tensor, y: Tensor, v: Tensor): Tensor {
    return this.projectTangent(y, v);
  }

  inner(x: Tensor, u: Tensor, v: Tensor): Tensor {
    this.requireShape('inner', 'x', x);
    return frobenius(u, v);
  }

  norm(x: Tensor, v: Tensor): Tensor {
    return sqrt(this.inner(x, v, v));
  }

  /**
   * A Haar-distributed point: Q of the QR (diag(R) > 0) of a standard Gaussian n×p matrix,
   * drawn and factored in float64, then cast. For O(n), det is +1 or −1 at random.
   */
  randomPoint(rng: Random, batchShape: readonly number[] = [], options: { dtype?: DType } = {}): Tensor {
    return qr(rng.normal([...batchShape, ...this.shape])).q.astype(options.dtype ?? DEFAULT_DTYPE);
  }

  /** P_X(Z)/‖P_X(Z)‖_F for a standard Gaussian Z. A manifold of dimension 0 (St(1, 1) = O(1)) has none: ValueError. */
  randomTangent(x: Tensor, rng: Random): Tensor {
    if (this.dim === 0) throw new ValueError(`${this.name}.randomTangent: the manifold has dimension 0, so no unit tangent vector exists`);
    return unitFrobenius(this.projectTangent(x, rng.normal(x.shape, { dtype: x.dtype })));
  }
}

/** UVᵀ of X = UΣVᵀ (reduced SVD). */
function polarFactor(x: Tensor): Tensor {
  const { u, v } = svd(x);
  return matmul(u, v.mT);
}

/** The orthogonal group O(n) = St(n, n), of dimension n(n−1)/2; see `Stiefel` for the methods and retractions. */
export class Orthogonal extends Stiefel {
  override readonly name: string;

  constructor(n: number, options: StiefelOptions = {}) {
    super(n, n, options);
    this.name = `Orthogonal(${n})`;
  }
}
