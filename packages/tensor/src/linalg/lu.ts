// LU with partial pivoting: solve, inv, det and slogdet.
import { allocate, promoteTypes } from '../dtype.js';
import { fmtShape, LinAlgError, ShapeError } from '../errors.js';
import { broadcastShapes, checkAllocation, sizeOf } from '../shape.js';
import { checkTensor, Tensor } from '../tensor.js';
import { allFinite, argMaxAbs, batchOf, matrixDims, matrixReader, siteLabel, type Site } from './batching.js';

// ---------------------------------------------------------------------------------------------
// LU with partial pivoting

interface LuFactors {
  /** L (unit diagonal, strictly below) and U (on and above the diagonal), row-major n×n. */
  lu: Float64Array;
  /** perm[i] is the original row that ended up at row i. */
  perm: Int32Array;
  /** Parity of the row exchanges (det P = (−1)^swaps). */
  swaps: number;
  /** First column whose pivot is exactly zero, or −1. The factorisation stops there. */
  zeroPivot: number;
}

/** PA = LU by Gaussian elimination with partial pivoting, overwriting `a`. */
function luFactor(a: Float64Array, n: number): LuFactors {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let swaps = 0;
  for (let k = 0; k < n; k++) {
    const p = k + argMaxAbs(a, k * n + k, n, n - k);
    const pivot = a[p * n + k]!;
    if (pivot === 0) return { lu: a, perm, swaps, zeroPivot: k };
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = a[k * n + j]!;
        a[k * n + j] = a[p * n + j]!;
        a[p * n + j] = t;
      }
      const t = perm[k]!;
      perm[k] = perm[p]!;
      perm[p] = t;
      swaps++;
    }
    for (let i = k + 1; i < n; i++) {
      const f = a[i * n + k]! / pivot;
      a[i * n + k] = f;
      if (f !== 0) for (let j = k + 1; j < n; j++) a[i * n + j] = a[i * n + j]! - f * a[k * n + j]!;
    }
  }
  return { lu: a, perm, swaps, zeroPivot: -1 };
}

/** X with A X = B for the row-major n×k right-hand side `rhs`, from a complete factorisation of A. */
export function luSolve({ lu, perm }: LuFactors, n: number, rhs: Float64Array, k: number): Float64Array {
  const x = new Float64Array(n * k);
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) x[i * k + c] = rhs[perm[i]! * k + c]!;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const f = lu[i * n + j]!;
      if (f !== 0) for (let c = 0; c < k; c++) x[i * k + c] = x[i * k + c]! - f * x[j * k + c]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = i + 1; j < n; j++) {
      const f = lu[i * n + j]!;
      if (f !== 0) for (let c = 0; c < k; c++) x[i * k + c] = x[i * k + c]! - f * x[j * k + c]!;
    }
    const d = lu[i * n + i]!;
    for (let c = 0; c < k; c++) x[i * k + c] = x[i * k + c]! / d;
  }
  return x;
}

/**
 * LU of a finite matrix, with LinAlgErrors for an elimination that overflows (entries near the
 * float range) and, unless `allowSingular`, for an exactly zero pivot.
 */
export function luChecked(a: Float64Array, n: number, site: Site, allowSingular = false): LuFactors {
  const f = luFactor(a, n);
  if (!allFinite(f.lu))
    throw new LinAlgError(`${site.op}: the LU factorisation overflows${siteLabel(site)} (entries too large)`);
  if (f.zeroPivot >= 0 && !allowSingular) {
    throw new LinAlgError(`${site.op}: matrix is singular${siteLabel(site)} (zero pivot in column ${f.zeroPivot})`);
  }
  return f;
}

function requireFiniteResult(x: Float64Array, site: Site): void {
  if (!allFinite(x)) {
    throw new LinAlgError(
      `${site.op}: the result overflows${siteLabel(site)} (the ` +
        `matrix is numerically singular or its entries too large)`,
    );
  }
}

export function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/**
 * Solves A X = B by LU with partial pivoting. `a` is [...,n,n]. Following NumPy 2, `b` is a
 * single vector [n] when `b.ndim === 1` (result [...,n]); otherwise `b` is [...,n,k] (result
 * [...,n,k]) and the batch axes of `a` and `b` broadcast. Dtypes promote to float64 if mixed.
 *
 * Only an exactly zero pivot counts as singular (LinAlgError naming the batch index); a
 * near-singular matrix is solved without any condition-number check, so its solution may be
 * inaccurate. Non-finite input, or a solution that overflows, is a LinAlgError.
 */
export function solve(a: Tensor, b: Tensor): Tensor {
  const [n] = matrixDims('solve', a, true);
  if (checkTensor('solve', b, 'b').ndim === 0)
    throw new ShapeError(`solve: b must be a vector [n] or a batch of matrices [...,n,k], got shape []`);
  const vectorB = b.ndim === 1;
  const bm = vectorB ? b.unsqueeze(1) : b;
  const [bRows, k] = matrixDims('solve', bm, false, 'b');
  if (bRows !== n) {
    throw new ShapeError(
      `solve: b of shape ${fmtShape(b.shape)} does not match a of ` +
        `shape ${fmtShape(a.shape)} (b has ${bRows} rows, a has ${n})`,
    );
  }
  const batch = broadcastShapes('solve', batchOf(a), batchOf(bm));
  checkAllocation('solve', [...batch, n, k]);
  const count = sizeOf(batch);
  const readA = matrixReader('solve', 'a', a, batch, true);
  const readB = matrixReader('solve', 'b', bm, batch, true);
  const out = allocate(promoteTypes(a.dtype, b.dtype), count * n * k);
  for (let i = 0; i < count; i++) {
    const site = { op: 'solve', batch, index: i };
    const x = luSolve(luChecked(readA(i), n, site), n, readB(i), k);
    requireFiniteResult(x, site);
    out.set(x, i * n * k);
  }
  return new Tensor(out, vectorB ? [...batch, n] : [...batch, n, k]);
}

/**
 * The inverse of each matrix of `a` [...,n,n], by LU with partial pivoting. Singular (an
 * exactly zero pivot) or non-finite input is a LinAlgError naming the batch index; a
 * near-singular matrix is inverted without a condition-number check.
 */
export function inv(a: Tensor): Tensor {
  const [n] = matrixDims('inv', a, true);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('inv', 'a', a, batch, true);
  const out = allocate(a.dtype, count * n * n);
  const eye = identity(n);
  for (let i = 0; i < count; i++) {
    const site = { op: 'inv', batch, index: i };
    const x = luSolve(luChecked(read(i), n, site), n, eye, n);
    requireFiniteResult(x, site);
    out.set(x, i * n * n);
  }
  return new Tensor(out, [...batch, n, n]);
}

/** sign and log|det| from an LU factorisation (sign 0, log −∞ when a pivot is zero). */
function signLogDet({ lu, swaps, zeroPivot }: LuFactors, n: number): { sign: number; logAbs: number } {
  if (zeroPivot >= 0) return { sign: 0, logAbs: -Infinity };
  let sign = swaps % 2 === 0 ? 1 : -1;
  let logAbs = 0;
  for (let i = 0; i < n; i++) {
    const d = lu[i * n + i]!;
    if (d < 0) sign = -sign;
    logAbs += Math.log(Math.abs(d));
  }
  return { sign, logAbs };
}

function detFromLu(f: LuFactors, n: number): number {
  if (f.zeroPivot >= 0) return 0;
  let prod = f.swaps % 2 === 0 ? 1 : -1;
  for (let i = 0; i < n; i++) prod *= f.lu[i * n + i]!;
  if (prod !== 0 && Number.isFinite(prod)) return prod;
  // the running product left the float range part-way; the logarithm recovers any representable result
  const { sign, logAbs } = signLogDet(f, n);
  return sign * Math.exp(logAbs);
}

/**
 * The determinant of each matrix of `a` [...,n,n] (output shape [...]), from LU with partial
 * pivoting. A singular matrix gives 0 when elimination meets an exactly zero pivot (not an
 * error; a numerically singular one gives a rounding-level value); the 0×0 matrix gives 1. A determinant
 * beyond the dtype's range overflows to ±∞ or underflows to 0: use `slogdet` then. Non-finite
 * input is a LinAlgError.
 */
export function det(a: Tensor): Tensor {
  const [n] = matrixDims('det', a, true);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('det', 'a', a, batch, true);
  const out = allocate(a.dtype, count);
  for (let i = 0; i < count; i++) out[i] = detFromLu(luChecked(read(i), n, { op: 'det', batch, index: i }, true), n);
  return new Tensor(out, [...batch]);
}

/**
 * sign(det A) and log|det A| for each matrix of `a` [...,n,n] (both of shape [...]), so that
 * det A = sign·exp(logAbsDet) without overflow. A singular matrix gives sign 0 and logAbsDet
 * −∞ (not an error); the 0×0 matrix gives sign 1, logAbsDet 0. Non-finite input is a LinAlgError.
 */
export function slogdet(a: Tensor): { sign: Tensor; logAbsDet: Tensor } {
  const [n] = matrixDims('slogdet', a, true);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('slogdet', 'a', a, batch, true);
  const sign = allocate(a.dtype, count);
  const logAbsDet = allocate(a.dtype, count);
  for (let i = 0; i < count; i++) {
    const r = signLogDet(luChecked(read(i), n, { op: 'slogdet', batch, index: i }, true), n);
    sign[i] = r.sign;
    logAbsDet[i] = r.logAbs;
  }
  return { sign: new Tensor(sign, [...batch]), logAbsDet: new Tensor(logAbsDet, [...batch]) };
}
