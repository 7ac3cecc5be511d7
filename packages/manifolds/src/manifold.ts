import type { DType, Random, Tensor } from '@hyperconn/tensor';

/** The outcome of a membership check: `reason` names the worst violation and its size. */
export interface CheckResult {
  ok: boolean;
  reason: string;
}

/** Absolute and relative tolerance; when omitted, each manifold scales them with dtype and size (c·n·eps). */
export interface Tolerance {
  atol?: number;
  rtol?: number;
}

/**
 * The contract every manifold implements (geoopt's, plus Manopt's checks). Points and tangent
 * vectors are Tensors whose trailing two axes are one point; leading axes are a batch and
 * every method broadcasts over them.
 */
export interface Manifold {
  readonly name: string;
  /** Shape of one point (the trailing two axes). */
  readonly shape: readonly [number, number];
  /** The manifold's dimension. */
  readonly dim: number;
  /** Is every batch entry of x on the manifold? */
  check(x: Tensor, tol?: Tolerance): CheckResult;
  /** Is v tangent at x (every batch entry)? */
  checkTangent(x: Tensor, v: Tensor, tol?: Tolerance): CheckResult;
  /** The nearest (or a canonical) point on the manifold. */
  project(x: Tensor): Tensor;
  /** Projection of an ambient vector onto the tangent space at x (orthogonal in the metric). */
  projectTangent(x: Tensor, z: Tensor): Tensor;
  /** The Riemannian gradient whose metric pairing with tangents equals the Euclidean gradient's. */
  egradToRgrad(x: Tensor, g: Tensor): Tensor;
  /** A retraction: R_x(0) = x and dR_x(0) = id. */
  retract(x: Tensor, v: Tensor): Tensor;
  /** Moves tangent v at x to the tangent space at y. */
  transport(x: Tensor, y: Tensor, v: Tensor): Tensor;
  /** The metric; the result has the batch shape. */
  inner(x: Tensor, u: Tensor, v: Tensor): Tensor;
  /** The norm of tangent v at x in the metric, √inner(x, v, v); the result has the batch shape. */
  norm(x: Tensor, v: Tensor): Tensor;
  /**
   * A random point per entry of `batchShape` (default `[]`: one point), shape
   * `[...batchShape, ...shape]`, float64 unless `options.dtype` is given; reproducible from `rng`.
   */
  randomPoint(rng: Random, batchShape?: readonly number[], options?: { dtype?: DType }): Tensor;
  /** A random tangent vector at x of unit norm in the metric. */
  randomTangent(x: Tensor, rng: Random): Tensor;
}
