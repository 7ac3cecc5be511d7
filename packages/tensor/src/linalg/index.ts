/**
 * Linear algebra for small and medium matrices (n up to a few hundred), written as plain loops.
 *
 * Every op works on the trailing two axes and batches over the leading ones; inputs may be any
 * strided view. Each matrix is copied into a float64 row-major scratch array, the work is done
 * in float64, and float32 inputs get their result rounded once at the end (more accurate than
 * computing in float32). Results are fresh contiguous tensors of the input dtype.
 *
 * Decompositions and solvers reject non-finite input with a LinAlgError naming the op and the
 * batch index; `trace` and `matrixNorm` propagate NaN/±∞ instead, like reductions do.
 */
export { det, inv, slogdet, solve } from './lu.js';
export { qr } from './qr.js';
export { eigh, svd } from './jacobi.js';
export { expm } from './expm.js';
export {
  matrixNorm,
  powerIteration,
  trace,
  type MatrixNormOrder,
  type PowerIterationOptions,
  type PowerIterationResult,
  type PowerIterationState,
} from './norms.js';
