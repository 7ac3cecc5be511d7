/**
 * Small helpers shared by the manifolds and the testing entry (internal: not exported from the
 * package index).
 */
import { ShapeError, ValueError, div, fmtShape, mul, norm, sum, type Tensor } from '@hyperconn/tensor';
import type { CheckResult } from './manifold.js';

/** ⟨a, b⟩_F of each matrix pair (broadcast), shape = the batch shape. */
export const frobenius = (a: Tensor, b: Tensor): Tensor => sum(mul(a, b), [-2, -1]);

/** A per-matrix scalar [...] as [...,1,1]. */
export const perMatrix = (s: Tensor): Tensor => s.unsqueeze(-1).unsqueeze(-1);

/**
 * ‖t‖_F of each matrix of t, shape = the batch shape: the tensor `norm`, which scales by the
 * largest entry, where √⟨t, t⟩_F would overflow past 1e154 (float32: 1e19) and underflow to 0.
 */
export const frobeniusNorm = (t: Tensor): Tensor => norm(t, [-2, -1]);

/** t/‖t‖_F for each matrix of t. */
export const unitFrobenius = (t: Tensor): Tensor => div(t, perMatrix(frobeniusNorm(t)));

/** Does x have shape [..., rows, cols]? */
function hasMatrixShape(x: Tensor, [rows, cols]: readonly [number, number]): boolean {
  return x.ndim >= 2 && x.shape[x.ndim - 2] === rows && x.shape[x.ndim - 1] === cols;
}

/** Throws a ShapeError `${op}: ${what} must have shape [..., rows, cols], got …` unless x has that shape. */
export function requireMatrixShape(op: string, what: string, x: Tensor, shape: readonly [number, number]): void {
  if (!hasMatrixShape(x, shape)) {
    throw new ShapeError(`${op}: ${what} must have shape [..., ${shape[0]}, ${shape[1]}], got ${fmtShape(x.shape)}`);
  }
}

/** Throws a ValueError naming `op` and the first non-finite entry of `t`. */
export function requireFinite(op: string, what: string, t: Tensor): void {
  // a plain loop over the elements in place: this runs on every call of the fused maps
  const c = t.contiguous();
  const { data, offset, size } = c;
  for (let i = 0; i < size; i++) {
    const value = data[offset + i]!;
    if (!Number.isFinite(value)) {
      throw new ValueError(
        `${op}: ${what} must be finite, got ${value} at flat index ${i} of shape ${fmtShape(t.shape)}`,
      );
    }
  }
}

/**
 * The part of `check` before the manifold's own test: a failed CheckResult (reason prefixed by
 * `name`) when x is not [..., rows, cols] or has a non-finite entry, otherwise null.
 */
export function checkMatrixInput(name: string, x: Tensor, shape: readonly [number, number]): CheckResult | null {
  if (!hasMatrixShape(x, shape))
    return { ok: false, reason: `${name}: expected shape [..., ${shape[0]}, ${shape[1]}], got ${fmtShape(x.shape)}` };
  const flat = x.toTypedArray();
  const bad = flat.findIndex((value) => !Number.isFinite(value));
  return bad >= 0 ? { ok: false, reason: `${name}: entry ${flat[bad]} at flat index ${bad} is not finite` } : null;
}
