/**
 * The base of the manifolds embedded in R^{m×n} with the Euclidean (Frobenius) metric
 * ⟨ξ, η⟩ = tr(ξᵀη): `SpectralSphere` and `Stiefel`. With that metric the Riemannian gradient
 * is the tangent projection of the Euclidean one and transport is projection onto the new
 * tangent space, so only the projection, the retraction and the checks differ between them.
 */
import { ValueError, epsOf, type DType, type Random, type Tensor } from '@hyperconn/tensor';
import type { CheckResult, Manifold, Tolerance } from './manifold.js';
import { frobenius, frobeniusNorm, requireMatrixShape, unitFrobenius } from './util.js';

/**
 * A submanifold of R^{m×n} with the Euclidean metric (see `Manifold` for the contract):
 * `egradToRgrad`, `transport`, `inner`, `norm` and `randomTangent` follow from `projectTangent`;
 * subclasses implement the checks, the projections, the retraction and `randomPoint`.
 */
export abstract class EmbeddedManifold implements Manifold {
  abstract readonly name: string;
  readonly shape: readonly [number, number];
  readonly dim: number;

  /** `shape`: one point's [rows, cols]; `dim`: the manifold's dimension. */
  protected constructor(shape: readonly [number, number], dim: number) {
    this.shape = shape;
    this.dim = dim;
  }

  /** For subclasses: throws a ShapeError naming `op` and `what` unless x has shape `[..., rows, cols]`. */
  protected requireShape(op: string, what: string, x: Tensor): void {
    requireMatrixShape(`${this.name}.${op}`, what, x, this.shape);
  }

  /** Default check tolerance: atol = rtol = 10·max(rows, cols)·eps of the dtype, unless `tol` gives them. */
  protected tolerance(dtype: DType, tol: Tolerance): { atol: number; rtol: number } {
    const base = 10 * Math.max(...this.shape) * epsOf(dtype);
    return { atol: tol.atol ?? base, rtol: tol.rtol ?? base };
  }

  abstract check(x: Tensor, tol?: Tolerance): CheckResult;
  abstract checkTangent(x: Tensor, v: Tensor, tol?: Tolerance): CheckResult;
  abstract project(x: Tensor): Tensor;
  abstract projectTangent(x: Tensor, z: Tensor): Tensor;
  abstract retract(x: Tensor, v: Tensor): Tensor;
  abstract randomPoint(rng: Random, batchShape?: readonly number[], options?: { dtype?: DType }): Tensor;

  /** The Euclidean metric makes the Riemannian gradient the tangent projection of the Euclidean one. */
  egradToRgrad(x: Tensor, g: Tensor): Tensor {
    return this.projectTangent(x, g);
  }

  /** Transport by projection onto the tangent space at y. */
  transport(_x: Tensor, y: Tensor, v: Tensor): Tensor {
    return this.projectTangent(y, v);
  }

  /** ⟨u, v⟩_F of each matrix pair; x only fixes the shape. */
  inner(x: Tensor, u: Tensor, v: Tensor): Tensor {
    this.requireShape('inner', 'x', x);
    return frobenius(u, v);
  }

  /** ‖v‖_F of each matrix (scaled, so no square overflows); x only fixes the shape. */
  norm(x: Tensor, v: Tensor): Tensor {
    this.requireShape('norm', 'x', x);
    return frobeniusNorm(v);
  }

  /** P_x(Z)/‖P_x(Z)‖_F for a standard Gaussian Z. A manifold of dimension 0 has no unit tangent vector: ValueError. */
  randomTangent(x: Tensor, rng: Random): Tensor {
    if (this.dim === 0)
      throw new ValueError(
        `${this.name}.randomTangent: the manifold has dimension 0, so no unit tangent vector exists`,
      );
    return unitFrobenius(this.projectTangent(x, rng.normal(x.shape, { dtype: x.dtype })));
  }
}
