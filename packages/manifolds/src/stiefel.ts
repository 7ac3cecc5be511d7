/**
 * The Stiefel manifold St(n, p) = {X ∈ R^{n×p} : XᵀX = I_p} and its square case, the
 * orthogonal group O(n), with the Euclidean (embedded) metric and four retractions by name.
 */
import {
  Tensor,
  ValueError,
  abs,
  add,
  broadcastShapes,
  concat,
  div,
  expm,
  fmtIndex,
  eye,
  matmul,
  matrixNorm,
  max,
  maximum,
  mul,
  neg,
  promoteTypes,
  qr,
  solve,
  sub,
  svd,
  zeros,
  dtypeOption,
  type DType,
  type Random,
} from '@hyperconn/tensor';
import { WorstViolation } from '@hyperconn/autograd';
import { EmbeddedManifold } from './embedded.js';
import type { CheckResult, Tolerance } from './manifold.js';
import { checkMatrixInput, frobeniusNorm, requireFinite } from './util.js';

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
 *   so the result is that of the tangent part. The solve's error grows like eps·‖ξ‖ (I − ½W is
 *   that ill-conditioned when p < n), so the result is projected onto St(n, p) (its polar
 *   factor): XᵀX = I to rounding for any ξ; the point itself is accurate to about eps·‖ξ‖.
 * - 'exp': the exponential map of the embedded metric on the tangent part ξ ← P_X(ξ): for n = p,
 *   X expm(Xᵀξ); for p < n, in the form of Zimmermann & Hüper (2022, β = 1), which equals
 *   Edelman, Arias & Smith (1998, eq. 2.45) but has only skew generators:
 *   [X, W] · expm([[2A, −Cᵀ], [C, 0]]) · [I; 0] · expm(−A), with A = Xᵀξ (skew part), W an
 *   orthonormal basis of the part of span[X, ξ] orthogonal to X, and C = Wᵀξ.
 *   The exponentials of skew matrices are orthogonal, and are kept so to rounding for any
 *   norm (see `expSkew`), so XᵀX = I holds to rounding at any step size (not only small ones).
 * Every retraction returns a point of St(n, p) (to rounding) for any finite ξ.
 */
export class Stiefel extends EmbeddedManifold {
  readonly name: string;
  readonly retraction: StiefelRetraction;

  constructor(n: number, p: number, options: StiefelOptions = {}) {
    if (!Number.isInteger(n) || !Number.isInteger(p) || p < 1 || p > n) {
      throw new ValueError(`Stiefel: need integers 1 ≤ p ≤ n, got n = ${n}, p = ${p}`);
    }
    const retraction = options.retraction ?? 'qr';
    if (!RETRACTIONS.includes(retraction)) {
      throw new ValueError(
        `Stiefel: retraction must be one ` +
          `of ${RETRACTIONS.map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(retraction)}`,
      );
    }
    super([n, p], n * p - (p * (p + 1)) / 2);
    this.name = `Stiefel(${n}, ${p})`;
    this.retraction = retraction;
  }

  /**
   * Among the matrices `m` [...,p,p], the entry with the largest |m_ij| − (atol + rtol·scale_b)
   * (a NaN entry counts as infinitely large); `null` when every entry is within its bound.
   */
  private worstEntry(
    m: Tensor,
    bound: (batch: number) => number,
  ): { batch: number; i: number; j: number; value: number } | null {
    const p = this.shape[1];
    const flat = m.toTypedArray();
    const worst = new WorstViolation<{ batch: number; i: number; j: number; value: number }>();
    for (let k = 0; k < flat.length; k++) {
      const batch = Math.floor(k / (p * p));
      worst.consider(Math.abs(flat[k]!) - bound(batch), () => ({
        batch,
        i: Math.floor(k / p) % p,
        j: k % p,
        value: flat[k]!,
      }));
    }
    return worst.worst;
  }

  /**
   * max |XᵀX − I| ≤ atol + rtol for every matrix (defaults atol = rtol = 10·n·eps of x's dtype); the reason names the
   * worst entry.
   */
  check(x: Tensor, tol: Tolerance = {}): CheckResult {
    const invalid = checkMatrixInput(this.name, x, this.shape);
    if (invalid) return invalid;
    const p = this.shape[1];
    const { atol, rtol } = this.tolerance(x.dtype, tol);
    const worst = this.worstEntry(sub(matmul(x.mT, x), eye(p, p, { dtype: x.dtype })), () => atol + rtol);
    if (worst === null) return { ok: true, reason: '' };
    return {
      ok: false,
      reason:
        `${this.name}: (XᵀX − I)[${worst.i}, ${worst.j}] = ${worst.value} at batch index ` +
        `${fmtIndex(worst.batch, x.shape.slice(0, -2))} exceeds atol ${atol} + rtol ${rtol}`,
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
    const size = frobeniusNorm(v).expand(batch).toTypedArray();
    const worst = this.worstEntry(s, (b) => atol + rtol * size[b]!);
    if (worst === null) return { ok: true, reason: '' };
    return {
      ok: false,
      reason:
        `${this.name}: (Xᵀξ + ξᵀX)[${worst.i}, ${worst.j}] = ${worst.value} at batch index ` +
        `${fmtIndex(worst.batch, batch)} exceeds atol ${atol} + rtol ${rtol}·‖ξ‖_F (‖ξ‖_F = ${size[worst.batch]})`,
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
        // a no-op to rounding for moderate ξ; removes the eps·‖ξ‖ drift of the solve (class comment)
        return polarFactor(this.cayleyRetraction(x, v));
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

  /**
   * Edelman's block expm([[A, −S], [I, A]]) with S = ξᵀξ is not skew and scales like ‖ξ‖²: its
   * scaling and squaring amplified rounding until XᵀX − I reached 4e-7 at ‖ξ‖ = 1e4 and O(1)
   * at 1e8. Here every generator is skew (see the class comment), computed in float64 on
   * ξ/s with s = max|ξ| per matrix, s passed to `expSkew` as the time: no product overflows
   * for any finite ξ. W comes from the Householder QR of [X, ξ/s]: its first p columns are
   * ±X (X is orthonormal), so the rest is orthonormal and orthogonal to X to rounding even
   * when ξ's normal part is rank-deficient (always when 2p > n), where a QR of (I − XXᵀ)ξ
   * alone would return columns inside span(X).
   */
  private expRetraction(x: Tensor, v: Tensor): Tensor {
    const [n, p] = this.shape;
    const dtype = promoteTypes(x.dtype, v.dtype);
    const shape = broadcastShapes(`${this.name}.retract`, x.shape, v.shape);
    const xb = x.expand(shape).astype('float64');
    const vb = v.expand(shape).astype('float64');
    // Number.MIN_VALUE keeps ξ = 0 at 0/tiny = 0 instead of 0/0
    const s = maximum(max(abs(vb), [-2, -1], true), Number.MIN_VALUE);
    const xi = this.projectTangent(xb, div(vb, s));
    const a = skew(matmul(xb.mT, xi));
    if (n === p) return matmul(xb, expSkew(a, s)).astype(dtype);
    const k = Math.min(n, 2 * p);
    const lead = new Array<null>(shape.length - 2).fill(null);
    const w = qr(concat([xb, xi], -1)).q.slice(...lead, null, [p, k]);
    const c = matmul(w.mT, xi);
    const generator = concat(
      [concat([mul(a, 2), neg(c.mT)], -1), concat([c, zeros([...shape.slice(0, -2), k - p, k - p])], -1)],
      -2,
    );
    const firstColumns = expSkew(generator, s).slice(...lead, null, [0, p]);
    return matmul(matmul(concat([xb, w], -1), firstColumns), expSkew(neg(a), s)).astype(dtype);
  }

  /**
   * A Haar-distributed point: Q of the QR (diag(R) > 0) of a standard Gaussian n×p matrix,
   * drawn and factored in float64, then cast. For O(n), det is +1 or −1 at random.
   */
  randomPoint(rng: Random, batchShape: readonly number[] = [], options: { dtype?: DType } = {}): Tensor {
    const dtype = dtypeOption('Stiefel.randomPoint', options); // before drawing, so a bad dtype costs no draws
    return qr(rng.normal([...batchShape, ...this.shape])).q.astype(dtype);
  }
}

/**
 * expm(t·B) for skew float64 matrices B [...,k,k] and times t > 0 [...,1,1], orthogonal to
 * rounding for any t·‖B‖. Plain scaling and squaring doubles the deviation from orthogonality
 * with every squaring (about eps·t‖B‖ in the end, O(1) beyond 1e16). Here each matrix is
 * scaled by 2^-j so that ‖t·B/2^j‖_F ≤ 1, exponentiated, and squared j times, with one
 * Newton–Schulz step M ← M(3I − MᵀM)/2 after each product: it maps a deviation δ from
 * orthogonality to O(δ²), so every iterate stays orthogonal to rounding. The result differs
 * from exp(tB) by about 2^j·eps, which is how well t·B itself is known. j is per matrix, so a
 * small step in a batch is not squared as often as a large one.
 */
function expSkew(b: Tensor, t: Tensor): Tensor {
  const k = b.shape[b.ndim - 1]!;
  const norms = matrixNorm(b).toTypedArray();
  const times = t.expand([...b.shape.slice(0, -2), 1, 1]).toTypedArray();
  // log2(t·‖B‖) without forming the product, which may overflow
  const squarings = Array.from(norms, (norm, i) =>
    norm > 0 ? Math.max(0, Math.ceil(Math.log2(norm) + Math.log2(times[i]!))) : 0,
  );
  // t·2^-j in two halves: 2^-j alone is subnormal for j > 1022
  const factors = Array.from(squarings, (j, i) => times[i]! * 2 ** -Math.floor(j / 2) * 2 ** -Math.ceil(j / 2));
  const scale = new Tensor(Float64Array.from(factors), [...b.shape.slice(0, -2), 1, 1]);
  const e = Float64Array.from(expm(mul(b, scale)).toTypedArray());
  const m = k * k;
  const product = new Float64Array(m);
  for (let batch = 0; batch < squarings.length; batch++) {
    const block = e.subarray(batch * m, (batch + 1) * m);
    newtonSchulz(block, k);
    for (let j = 0; j < squarings[batch]!; j++) {
      squareInto(product, block, k);
      block.set(product);
      newtonSchulz(block, k);
    }
  }
  return new Tensor(e, [...b.shape]);
}

/** out ← a·a for a k×k row-major matrix. */
function squareInto(out: Float64Array, a: Float64Array, k: number): void {
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let acc = 0;
      for (let l = 0; l < k; l++) acc += a[i * k + l]! * a[l * k + j]!;
      out[i * k + j] = acc;
    }
  }
}

/** In place, one Newton–Schulz step towards the nearest orthogonal matrix: M ← M(3I − MᵀM)/2. */
function newtonSchulz(mat: Float64Array, k: number): void {
  const gram = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let acc = 0;
      for (let l = 0; l < k; l++) acc += mat[l * k + i]! * mat[l * k + j]!;
      gram[i * k + j] = (i === j ? 3 : 0) - acc;
    }
  }
  const out = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let acc = 0;
      for (let l = 0; l < k; l++) acc += mat[i * k + l]! * gram[l * k + j]!;
      out[i * k + j] = acc / 2;
    }
  }
  mat.set(out);
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
