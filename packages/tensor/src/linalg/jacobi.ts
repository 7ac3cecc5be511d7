// Jacobi methods: the symmetric eigendecomposition (cyclic Jacobi) and the SVD (one-sided Jacobi, Hestenes).
import { allocate, epsOf, type DType } from '../dtype.js';
import { LinAlgError } from '../errors.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import {
  batchOf,
  matrixDims,
  matrixReader,
  normalizingExponent,
  scaleByPowerOfTwo,
  siteLabel,
  type Site,
} from './batching.js';
import { identity } from './lu.js';

const EPS = epsOf('float64');
/** Jacobi methods converge quadratically in a handful of sweeps; this bound only guards against a bug. */
const MAX_SWEEPS = 100;

// ---------------------------------------------------------------------------------------------
// Symmetric eigendecomposition (cyclic Jacobi)

/** tan of the Jacobi/Hestenes rotation angle solving t² + 2ζt − 1 = 0 (the root of smaller magnitude). */
function rotationTangent(zeta: number): number {
  // for huge ζ, ζ² would overflow; t ≈ 1/(2ζ) is then exact to rounding
  if (Math.abs(zeta) > 1e150) return 1 / (2 * zeta);
  return (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
}

/** Rounding to the output dtype, so that sign conventions are decided on the values the caller sees. */
type Rounding = (x: number) => number;

function roundingOf(dtype: DType): Rounding {
  return dtype === 'float32' ? Math.fround : (x) => x;
}

/**
 * Flips the sign of column `col` of the row-major rows×cols `x` so that its largest-magnitude
 * entry after rounding (the first on ties) is positive; returns whether it flipped. Deciding
 * on rounded values keeps the convention exact for float32 outputs, where rounding can tie
 * two entries that differ in float64.
 */
function fixColumnSign(x: Float64Array, rows: number, cols: number, col: number, round: Rounding): boolean {
  let max = -1;
  let lead = 0;
  for (let r = 0; r < rows; r++) {
    const v = round(x[r * cols + col]!);
    if (Math.abs(v) > max) {
      max = Math.abs(v);
      lead = v;
    }
  }
  if (lead >= 0) return false;
  for (let r = 0; r < rows; r++) x[r * cols + col] = -x[r * cols + col]!;
  return true;
}

/** Order of `values` sorted ascending or descending, stable. */
function sortedOrder(values: Float64Array, descending: boolean): number[] {
  const order = Array.from(values, (_, i) => i);
  return order.sort((i, j) => (descending ? values[j]! - values[i]! : values[i]! - values[j]!) || i - j);
}

/** Columns of the row-major rows×cols `x` in the given order. */
function permuteColumns(x: Float64Array, rows: number, cols: number, order: readonly number[]): Float64Array {
  const out = new Float64Array(rows * order.length);
  const k = order.length;
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) out[r * k + c] = x[r * cols + order[c]!]!;
  return out;
}

/** Eigenvalues (ascending) and eigenvectors (columns, row-major n×n) of the symmetric row-major `s`, overwritten. */
function jacobiEigh(
  s: Float64Array,
  n: number,
  round: Rounding,
  site: Site,
): { values: Float64Array; vectors: Float64Array } {
  const e = normalizingExponent(s);
  scaleByPowerOfTwo(s, e);
  const v = identity(n);
  let converged = false;
  for (let sweep = 0; sweep < MAX_SWEEPS && !converged; sweep++) {
    converged = true;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = s[p * n + q]!;
        const app = s[p * n + p]!;
        const aqq = s[q * n + q]!;
        // relative threshold: a rotation this small changes no eigenvalue beyond rounding
        if (Math.abs(apq) <= EPS * Math.sqrt(Math.abs(app)) * Math.sqrt(Math.abs(aqq))) continue;
        converged = false;
        const t = rotationTangent((aqq - app) / (2 * apq));
        const c = 1 / Math.sqrt(1 + t * t);
        const sn = t * c;
        s[p * n + p] = app - t * apq;
        s[q * n + q] = aqq + t * apq;
        s[p * n + q] = 0;
        s[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          if (k !== p && k !== q) {
            const akp = s[k * n + p]!;
            const akq = s[k * n + q]!;
            const np = c * akp - sn * akq;
            const nq = sn * akp + c * akq;
            s[k * n + p] = np;
            s[p * n + k] = np;
            s[k * n + q] = nq;
            s[q * n + k] = nq;
          }
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  if (!converged)
    throw new LinAlgError(`${site.op}: Jacobi iteration did not converge in ${MAX_SWEEPS} sweeps${siteLabel(site)}`);
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = s[i * n + i]!;
  scaleByPowerOfTwo(diag, -e);
  const order = sortedOrder(diag, false);
  const values = Float64Array.from(order, (i) => diag[i]!);
  const vectors = permuteColumns(v, n, n, order);
  for (let c = 0; c < n; c++) fixColumnSign(vectors, n, n, c, round);
  return { values, vectors };
}

/**
 * Eigendecomposition of symmetric matrices by cyclic Jacobi rotations. `a` [...,n,n] is
 * symmetrised as (A + Aᵀ)/2 first, so both triangles are read and a slightly asymmetric input
 * (e.g. from rounding) is handled. Returns `values` [...,n] ascending and `vectors` [...,n,n]
 * with orthonormal eigenvectors as columns, A = V diag(λ) Vᵀ. Sign convention: each
 * eigenvector's largest-magnitude component is positive (first on ties), so results are
 * reproducible; eigenvectors of repeated eigenvalues are any orthonormal basis of their space.
 * Non-finite input is a LinAlgError.
 */
export function eigh(a: Tensor): { values: Tensor; vectors: Tensor } {
  const [n] = matrixDims('eigh', a, true);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('eigh', 'a', a, batch, true);
  const round = roundingOf(a.dtype);
  const values = allocate(a.dtype, count * n);
  const vectors = allocate(a.dtype, count * n * n);
  for (let i = 0; i < count; i++) {
    const s = read(i);
    for (let r = 0; r < n; r++) {
      for (let c = r + 1; c < n; c++) {
        const x = s[r * n + c]!;
        const y = s[c * n + r]!;
        // (x + y)/2 rounds once (halving each first would round subnormals twice); halve first only on overflow
        const sum = x + y;
        const mean = Number.isFinite(sum) ? sum / 2 : x / 2 + y / 2;
        s[r * n + c] = mean;
        s[c * n + r] = mean;
      }
    }
    const d = jacobiEigh(s, n, round, { op: 'eigh', batch, index: i });
    values.set(d.values, i * n);
    vectors.set(d.vectors, i * n * n);
  }
  return { values: new Tensor(values, [...batch, n]), vectors: new Tensor(vectors, [...batch, n, n]) };
}

// ---------------------------------------------------------------------------------------------
// SVD (one-sided Jacobi, Hestenes)

/**
 * Column norms below this (on the matrix scaled to max |entry| ≈ 1) are treated as exact zeros:
 * they are > 100 orders of magnitude below eps·‖A‖, and their squares would lose precision.
 */
const NEGLIGIBLE_NORM = 1e-140;

/**
 * Replaces the columns of the row-major rows×cols `u` not marked `valid` by unit vectors
 * orthogonal to all other columns: Gram–Schmidt (applied twice) of the standard basis vector
 * that keeps the largest residual. One always exists as long as cols ≤ rows.
 */
function completeOrthonormalColumns(u: Float64Array, rows: number, cols: number, valid: boolean[]): void {
  const w = new Float64Array(rows);
  const best = new Float64Array(rows);
  for (let j = 0; j < cols; j++) {
    if (valid[j]) continue;
    let bestNorm = -1;
    for (let i = 0; i < rows; i++) {
      w.fill(0);
      w[i] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (let l = 0; l < cols; l++) {
          if (!valid[l]) continue;
          let dot = 0;
          for (let r = 0; r < rows; r++) dot += u[r * cols + l]! * w[r]!;
          for (let r = 0; r < rows; r++) w[r] = w[r]! - dot * u[r * cols + l]!;
        }
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += w[r]! ** 2;
      norm = Math.sqrt(norm);
      if (norm > bestNorm) {
        bestNorm = norm;
        for (let r = 0; r < rows; r++) best[r] = w[r]! / norm;
      }
    }
    for (let r = 0; r < rows; r++) u[r * cols + j] = best[r]!;
    valid[j] = true;
  }
}

interface SvdResult {
  /** Singular values, descending. */
  s: Float64Array;
  /** Row-major m×k and n×k, present when vectors were asked for. */
  u?: Float64Array;
  v?: Float64Array;
}

/**
 * SVD of the row-major m×n `a` by one-sided Jacobi on the taller of A and Aᵀ: rotate pairs of
 * columns until every pair is orthogonal to working precision; the column norms are then the
 * singular values and the accumulated rotations the other factor. The singular vectors are
 * computed only when `vectorRounding` (the output dtype's, for the sign convention) is given.
 */
export function jacobiSvd(a: Float64Array, m: number, n: number, site: Site, vectorRounding?: Rounding): SvdResult {
  const transposed = m < n;
  const rows = transposed ? n : m;
  const cols = transposed ? m : n;
  // W is stored column-major (column j at j·rows) so that column operations are contiguous;
  // the column-major layout of Aᵀ is the row-major layout of A
  const w = new Float64Array(rows * cols);
  if (transposed) w.set(a);
  else for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) w[c * rows + r] = a[r * n + c]!;
  const e = normalizingExponent(w);
  scaleByPowerOfTwo(w, e);
  const jac = vectorRounding ? identity(cols) : null; // column-major too
  // dot products of length `rows` carry rounding up to ~rows·eps; asking for less would never terminate
  const tol = Math.max(rows, 1) * EPS;
  const negligibleSq = NEGLIGIBLE_NORM * NEGLIGIBLE_NORM;
  let converged = false;
  for (let sweep = 0; sweep < MAX_SWEEPS && !converged; sweep++) {
    converged = true;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0, ip = p * rows, iq = q * rows; i < rows; i++, ip++, iq++) {
          const x = w[ip]!;
          const y = w[iq]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (alpha < negligibleSq || beta < negligibleSq) continue;
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha) * Math.sqrt(beta)) continue;
        converged = false;
        const t = rotationTangent((beta - alpha) / (2 * gamma));
        const c = 1 / Math.sqrt(1 + t * t);
        const sn = t * c;
        for (let i = 0, ip = p * rows, iq = q * rows; i < rows; i++, ip++, iq++) {
          const x = w[ip]!;
          const y = w[iq]!;
          w[ip] = c * x - sn * y;
          w[iq] = sn * x + c * y;
        }
        if (jac) {
          for (let i = 0, ip = p * cols, iq = q * cols; i < cols; i++, ip++, iq++) {
            const x = jac[ip]!;
            const y = jac[iq]!;
            jac[ip] = c * x - sn * y;
            jac[iq] = sn * x + c * y;
          }
        }
      }
    }
  }
  if (!converged)
    throw new LinAlgError(`${site.op}: Jacobi iteration did not converge in ${MAX_SWEEPS} sweeps${siteLabel(site)}`);
  const norms = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let sq = 0;
    for (let i = j * rows; i < (j + 1) * rows; i++) sq += w[i]! ** 2;
    norms[j] = sq < negligibleSq ? 0 : Math.sqrt(sq);
  }
  const order = sortedOrder(norms, true);
  const s = Float64Array.from(order, (j) => norms[j]!);
  if (!jac || !vectorRounding) {
    scaleByPowerOfTwo(s, -e);
    return { s };
  }
  // the normalised columns of W (rows×cols, row-major) and the rotations (cols×cols, row-major), sorted
  const left = new Float64Array(rows * cols);
  const right = new Float64Array(cols * cols);
  const valid = new Array<boolean>(cols);
  for (let c = 0; c < cols; c++) {
    const j = order[c]!;
    const norm = norms[j]!;
    valid[c] = norm > 0;
    if (valid[c]) for (let r = 0; r < rows; r++) left[r * cols + c] = w[j * rows + r]! / norm;
    for (let r = 0; r < cols; r++) right[r * cols + c] = jac[j * cols + r]!;
  }
  completeOrthonormalColumns(left, rows, cols, valid);
  const [u, v] = transposed ? [right, left] : [left, right];
  for (let c = 0; c < cols; c++) {
    // one shared flip keeps A = U Σ Vᵀ; a zero singular value decouples u and v, so v is fixed alone
    if (fixColumnSign(u, m, cols, c, vectorRounding)) for (let r = 0; r < n; r++) v[r * cols + c] = -v[r * cols + c]!;
    if (s[c] === 0) fixColumnSign(v, n, cols, c, vectorRounding);
  }
  scaleByPowerOfTwo(s, -e);
  return { s, u, v };
}

/**
 * Reduced singular value decomposition by one-sided Jacobi (Hestenes) rotations, accurate for
 * small singular values. For `a` [...,m,n] and k = min(m,n): `u` [...,m,k] and `v` [...,n,k]
 * have orthonormal columns, `s` [...,k] is non-negative and descending, and A = U diag(s) Vᵀ.
 * Works for m < n, m > n, rank-deficient and zero matrices: columns of U (or V) belonging to
 * zero singular values are completed by Gram–Schmidt so that UᵀU = VᵀV = I always. Sign
 * convention: the largest-magnitude entry of each column of U is positive (and of V as well
 * for zero singular values). Non-finite input is a LinAlgError.
 */
export function svd(a: Tensor): { u: Tensor; s: Tensor; v: Tensor } {
  const [m, n] = matrixDims('svd', a, false);
  const k = Math.min(m, n);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('svd', 'a', a, batch, true);
  const round = roundingOf(a.dtype);
  const u = allocate(a.dtype, count * m * k);
  const s = allocate(a.dtype, count * k);
  const v = allocate(a.dtype, count * n * k);
  for (let i = 0; i < count; i++) {
    const d = jacobiSvd(read(i), m, n, { op: 'svd', batch, index: i }, round);
    u.set(d.u!, i * m * k);
    s.set(d.s, i * k);
    v.set(d.v!, i * n * k);
  }
  return { u: new Tensor(u, [...batch, m, k]), s: new Tensor(s, [...batch, k]), v: new Tensor(v, [...batch, n, k]) };
}
