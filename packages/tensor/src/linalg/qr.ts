// Reduced QR decomposition by Householder reflections.
import { allocate } from '../dtype.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { batchOf, matrixDims, matrixReader, normalizingExponent, scaleByPowerOfTwo } from './batching.js';
import { euclideanNorm, normalizeInPlace } from './norms.js';

// ---------------------------------------------------------------------------------------------
// QR (Householder)

/** Reduced QR of the row-major m×n `a` (overwritten): Q m×k, R k×n, k = min(m,n), diag(R) ≥ 0. */
function householderQr(a: Float64Array, m: number, n: number): { q: Float64Array; r: Float64Array } {
  const k = Math.min(m, n);
  const e = normalizingExponent(a);
  scaleByPowerOfTwo(a, e);
  // unit Householder vectors v_j (H_j = I − 2 v vᵀ acting on rows j..m-1), null where no reflection is needed
  const reflectors: (Float64Array | null)[] = [];
  for (let j = 0; j < k; j++) {
    // v starts as the column x = a[j.., j]; norms are scaled so that a column far below the
    // matrix's largest entry does not underflow when squared
    const v = new Float64Array(m - j);
    for (let i = j; i < m; i++) v[i - j] = a[i * n + j]!;
    if (euclideanNorm(v.subarray(1)) === 0) {
      reflectors.push(null);
      continue;
    }
    // reflect onto −sign(x0)·‖x‖ e1 so that v0 = x0 − beta involves no cancellation
    const norm = euclideanNorm(v);
    const beta = v[0]! >= 0 ? -norm : norm;
    v[0] = v[0]! - beta;
    normalizeInPlace(v);
    for (let c = j + 1; c < n; c++) {
      let w = 0;
      for (let i = 0; i < v.length; i++) w += v[i]! * a[(j + i) * n + c]!;
      w *= 2;
      for (let i = 0; i < v.length; i++) a[(j + i) * n + c] = a[(j + i) * n + c]! - w * v[i]!;
    }
    a[j * n + j] = beta;
    for (let i = j + 1; i < m; i++) a[i * n + j] = 0;
    reflectors.push(v);
  }
  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let c = i; c < n; c++) r[i * n + c] = a[i * n + c]!;
  // Q = H_0 ⋯ H_{k−1} [I_k; 0], accumulated backwards; H_j leaves columns < j untouched
  const q = new Float64Array(m * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    const v = reflectors[j];
    if (!v) continue;
    for (let c = j; c < k; c++) {
      let w = 0;
      for (let i = 0; i < v.length; i++) w += v[i]! * q[(j + i) * k + c]!;
      w *= 2;
      for (let i = 0; i < v.length; i++) q[(j + i) * k + c] = q[(j + i) * k + c]! - w * v[i]!;
    }
  }
  for (let i = 0; i < k; i++) {
    if (r[i * n + i]! >= 0) continue;
    for (let c = i; c < n; c++) r[i * n + c] = -r[i * n + c]!;
    for (let row = 0; row < m; row++) q[row * k + i] = -q[row * k + i]!;
  }
  scaleByPowerOfTwo(r, -e);
  return { q, r };
}

/**
 * Reduced QR decomposition by Householder reflections: for `a` [...,m,n] and k = min(m,n),
 * `q` [...,m,k] has orthonormal columns and `r` [...,k,n] is upper triangular with a
 * non-negative diagonal (columns of Q flipped to match), so the result is unique when A has
 * full column rank. Rank-deficient matrices are fine (R then has zero or rounding-level
 * diagonal entries). Non-finite input is a LinAlgError.
 */
export function qr(a: Tensor): { q: Tensor; r: Tensor } {
  const [m, n] = matrixDims('qr', a, false);
  const k = Math.min(m, n);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('qr', 'a', a, batch, true);
  const q = allocate(a.dtype, count * m * k);
  const r = allocate(a.dtype, count * k * n);
  for (let i = 0; i < count; i++) {
    const f = householderQr(read(i), m, n);
    q.set(f.q, i * m * k);
    r.set(f.r, i * k * n);
  }
  return { q: new Tensor(q, [...batch, m, k]), r: new Tensor(r, [...batch, k, n]) };
}
