// Norms, trace and power iteration (matrixNorm, trace, powerIteration) and their vector helpers.
import { allocate } from '../dtype.js';
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { advance } from '../iter.js';
import { shapesEqual, sizeOf } from '../shape.js';
import { checkTensor, Tensor } from '../tensor.js';
import { batchOf, matrixDims, matrixReader, normalizingExponent, scaleByPowerOfTwo } from './batching.js';
import { oneNorm } from './expm.js';
import { jacobiSvd } from './jacobi.js';

// ---------------------------------------------------------------------------------------------
// Norms, trace, power iteration

/**
 * The `ord` of `matrixNorm`: 'fro' (Frobenius), 1 (largest column sum of |a|), 'inf'
 * (largest row sum), 2 (largest singular value) or 'nuc' (sum of singular values).
 */
export type MatrixNormOrder = 'fro' | 1 | 'inf' | 2 | 'nuc';

/** sqrt(Σ x²) without overflow or underflow; NaN if any entry is NaN, else ∞ if any is infinite. */
export function euclideanNorm(x: Float64Array): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]!);
    if (Number.isNaN(v)) return NaN;
    max = Math.max(max, v);
  }
  if (max === 0 || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i]! / max) ** 2;
  return max * Math.sqrt(sum);
}

/** NaN if any entry is NaN, else +∞ if any is infinite, else undefined. */
function nonFiniteNorm(x: Float64Array): number | undefined {
  let inf = false;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]!)) return NaN;
    if (!Number.isFinite(x[i]!)) inf = true;
  }
  return inf ? Infinity : undefined;
}

/**
 * A matrix norm of each matrix of `a` [...,m,n] (output shape [...]): 'fro' = sqrt(Σ a²)
 * (default), 1 = largest column sum of |a|, 'inf' = largest row sum of |a|, 2 = largest
 * singular value, 'nuc' = sum of singular values (2 and 'nuc' by Jacobi SVD). An empty matrix
 * has norm 0. NaN entries give NaN and infinite entries +∞ (propagated, not an error).
 */
export function matrixNorm(a: Tensor, ord: MatrixNormOrder = 'fro'): Tensor {
  if (!(['fro', 1, 'inf', 2, 'nuc'] as unknown[]).includes(ord)) {
    throw new ValueError(
      `matrixNorm: ord must be 'fro', 1, 'inf', 2 or 'nuc', got ${JSON.stringify(ord) ?? String(ord)}`,
    );
  }
  const [m, n] = matrixDims('matrixNorm', a, false);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('matrixNorm', 'a', a, batch, false);
  const out = allocate(a.dtype, count);
  for (let i = 0; i < count; i++) {
    const x = read(i);
    if (ord === 'fro') out[i] = euclideanNorm(x);
    else if (ord === 1) out[i] = oneNorm(x, m, n);
    else if (ord === 'inf') out[i] = oneNorm(transposeMatrix(x, m, n), n, m);
    else {
      const special = nonFiniteNorm(x);
      if (special !== undefined) out[i] = special;
      else {
        const s = jacobiSvd(x, m, n, { op: 'matrixNorm', batch, index: i }).s;
        out[i] = ord === 2 ? (s[0] ?? 0) : s.reduce((acc, y) => acc + y, 0);
      }
    }
  }
  return new Tensor(out, [...batch]);
}

function transposeMatrix(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/**
 * The sum of the main diagonal of each matrix of `a` [...,m,n] (output shape [...]); for a
 * non-square matrix the diagonal has min(m,n) entries, and an empty diagonal sums to 0.
 * NaN/±∞ propagate.
 */
export function trace(a: Tensor): Tensor {
  const [m, n] = matrixDims('trace', a, false);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('trace', 'a', a, batch, false);
  const out = allocate(a.dtype, count);
  for (let i = 0; i < count; i++) {
    const x = read(i);
    let sum = 0;
    for (let d = 0; d < Math.min(m, n); d++) sum += x[d * n + d]!;
    out[i] = sum;
  }
  return new Tensor(out, [...batch]);
}

/** The left singular vector estimate a caller keeps between `powerIteration` calls. */
export interface PowerIterationState {
  /** `[..., m]`: one unit vector per matrix of the batch; overwritten in place by each call. */
  u: Tensor;
}

/** Options of `powerIteration`. Without `tol` every call runs all `iters` iterations. */
export interface PowerIterationOptions {
  /** Maximum number of iterations (an integer ≥ 1); default 20. */
  iters?: number;
  /** Stop a matrix early once its σ estimate changes by at most tol·σ within one iteration. */
  tol?: number;
  /** Warm start; updated in place with the final u. */
  state?: PowerIterationState;
}

/**
 * The output of `powerIteration` for `a` `[..., m, n]`: new tensors in the dtype of `a`
 * (`u` is a copy, not `state.u`).
 */
export interface PowerIterationResult {
  /** `[...]`: the estimated largest singular value. */
  sigma: Tensor;
  /** [...,m] and [...,n]: the estimated top left and right singular vectors (unit norm). */
  u: Tensor;
  v: Tensor;
  /** Iterations run: the largest count over the batch. */
  iterations: number;
}

/**
 * Estimates the top singular triplet of each matrix of `a` [...,m,n] by power iteration:
 * v ← Aᵀu/‖Aᵀu‖, u ← Av/‖Av‖, σ = uᵀAv = ‖Av‖. Always ‖Aᵀu‖ ≤ σ_max, so the convergence test
 * with `tol` compares the two σ estimates of one iteration, ‖Aᵀu‖ and ‖Av‖.
 *
 * The start is `state.u` when given (normalised; a zero vector is replaced by the default),
 * otherwise the all-ones vector normalised. If Aᵀu = 0, v falls back to the standard basis
 * vector e_j of the column of A with the largest norm (first on ties), so a non-zero A never
 * stalls. For a zero matrix (or m = 0 or n = 0): σ = 0, u stays the start vector and v = e_0
 * (empty vectors stay empty). `state.u` must have shape [...,m] and no aliased (stride-0)
 * entries; it receives the final u in place, rounded to its dtype, so a layer can carry it
 * across training steps as spectral normalisation does. Non-finite `a` or `state.u` is a LinAlgError.
 */
export function powerIteration(a: Tensor, options: PowerIterationOptions = {}): PowerIterationResult {
  const { iters = 20, tol, state } = options ?? {};
  const [m, n] = matrixDims('powerIteration', a, false);
  if (!Number.isInteger(iters) || iters < 1)
    throw new ValueError(`powerIteration: iters must be an integer ≥ 1, got ${iters}`);
  if (tol !== undefined && !(tol >= 0 && Number.isFinite(tol))) {
    throw new ValueError(`powerIteration: tol must be a finite number ≥ 0, got ${tol}`);
  }
  const batch = batchOf(a);
  const count = sizeOf(batch);
  let readState: ((b: number) => Float64Array) | undefined;
  if (state) {
    const expected = [...batch, m];
    if (!shapesEqual(checkTensor('powerIteration', state.u, 'state.u').shape, expected)) {
      throw new ShapeError(
        `powerIteration: state.u has shape ${fmtShape(state.u.shape)}, ` +
          `expected ${fmtShape(expected)} for a of shape ${fmtShape(a.shape)}`,
      );
    }
    if (state.u.shape.some((d, i) => d > 1 && state.u.strides[i] === 0)) {
      throw new ValueError(
        `powerIteration: state.u (shape ${fmtShape(state.u.shape)}) is a broadcast view and cannot be updated in place`,
      );
    }
    readState = matrixReader('powerIteration', 'state.u', state.u.unsqueeze(-1), batch, true);
  }
  const read = matrixReader('powerIteration', 'a', a, batch, true);
  const sigmaOut = allocate(a.dtype, count);
  const uOut = allocate(a.dtype, count * m);
  // kept in float64 so that state.u is rounded once, to its own dtype
  const uAll = new Float64Array(count * m);
  const vOut = allocate(a.dtype, count * n);
  let iterations = 0;
  for (let b = 0; b < count; b++) {
    const x = read(b);
    const e = normalizingExponent(x);
    scaleByPowerOfTwo(x, e);
    const u = readState ? readState(b) : new Float64Array(m);
    if (!normalizeInPlace(u)) {
      u.fill(1);
      normalizeInPlace(u);
    }
    const v = new Float64Array(n);
    let sigma = 0;
    let done = 0;
    while (done < iters) {
      done++;
      for (let c = 0; c < n; c++) {
        let dot = 0;
        for (let r = 0; r < m; r++) dot += x[r * n + c]! * u[r]!;
        v[c] = dot;
      }
      const before = normalizeInPlace(v);
      if (before === 0) {
        v.fill(0);
        if (n > 0) v[largestColumn(x, m, n)] = 1;
      }
      const z = new Float64Array(m);
      for (let r = 0; r < m; r++) {
        let dot = 0;
        for (let c = 0; c < n; c++) dot += x[r * n + c]! * v[c]!;
        z[r] = dot;
      }
      sigma = normalizeInPlace(z);
      if (sigma > 0) u.set(z);
      if (tol !== undefined && Math.abs(sigma - before) <= tol * sigma) break;
    }
    iterations = Math.max(iterations, done);
    const scaled = Float64Array.of(sigma);
    scaleByPowerOfTwo(scaled, -e);
    sigmaOut[b] = scaled[0]!;
    uAll.set(u, b * m);
    vOut.set(v, b * n);
  }
  uOut.set(uAll);
  if (state) writeVectors(state.u, batch, uAll);
  return {
    sigma: new Tensor(sigmaOut, [...batch]),
    u: new Tensor(uOut, [...batch, m]),
    v: new Tensor(vOut, [...batch, n]),
    iterations,
  };
}

/** x ← x/‖x‖ unless x = 0; returns the norm ‖x‖ before normalising. */
export function normalizeInPlace(x: Float64Array): number {
  const norm = euclideanNorm(x);
  if (norm > 0) {
    // dividing by max|x| first keeps full precision when ‖x‖ itself is subnormal
    let max = 0;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]!));
    for (let i = 0; i < x.length; i++) x[i] = x[i]! / max;
    const rest = euclideanNorm(x);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! / rest;
  }
  return norm;
}

function largestColumn(x: Float64Array, rows: number, cols: number): number {
  let best = 0;
  let max = -1;
  for (let c = 0; c < cols; c++) {
    let sq = 0;
    for (let r = 0; r < rows; r++) sq += x[r * cols + c]! ** 2;
    if (sq > max) {
      max = sq;
      best = c;
    }
  }
  return best;
}

/** Writes the C-ordered vectors `values` (batch × m) into the strided tensor `t` [...batch, m]. */
function writeVectors(t: Tensor, batch: readonly number[], values: Float64Array): void {
  const m = t.shape[t.ndim - 1]!;
  const stride = t.strides[t.ndim - 1]!;
  const counter = new Array<number>(batch.length).fill(0);
  let pos = t.offset;
  for (let b = 0, k = 0; b < sizeOf(batch); b++) {
    for (let i = 0; i < m; i++) t.data[pos + i * stride] = values[k++]!;
    pos = advance(batch, t.strides, counter, batch.length - 1, pos);
  }
}
