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
import { allocate, epsOf, promoteTypes, type DType } from './dtype.js';
import { LinAlgError, ShapeError, ValueError, fmtShape } from './errors.js';
import { advance } from './iter.js';
import { broadcastShapes, checkAllocation, shapesEqual, sizeOf } from './shape.js';
import { checkTensor, Tensor } from './tensor.js';

const EPS = epsOf('float64');
/** Jacobi methods converge quadratically in a handful of sweeps; this bound only guards against a bug. */
const MAX_SWEEPS = 100;

// ---------------------------------------------------------------------------------------------
// Batching and scratch matrices

/** The trailing [rows, cols] of a tensor of rank ≥ 2 (ShapeError otherwise, or when not square as required). */
function matrixDims(op: string, t: Tensor, square: boolean, name = 'a'): [rows: number, cols: number] {
  if (checkTensor(op, t, name).ndim < 2) {
    throw new ShapeError(
      `${op}: ${name} must be a matrix or a batch of matrices [...,${square ? 'n,n' : 'm,n'}], got shape ${fmtShape(t.shape)}`,
    );
  }
  const rows = t.shape[t.ndim - 2]!;
  const cols = t.shape[t.ndim - 1]!;
  if (square && rows !== cols) {
    throw new ShapeError(`${op}: ${name} must be square in its last two axes, got shape ${fmtShape(t.shape)} (${rows} ≠ ${cols})`);
  }
  return [rows, cols];
}

function batchOf(t: Tensor): number[] {
  return t.shape.slice(0, -2);
}

/** Which matrix of which op is being worked on, for error messages. */
interface Site {
  op: string;
  batch: readonly number[];
  /** Flat C-order index into `batch`. */
  index: number;
}

function siteLabel(site: Site): string {
  return batchLabel(site.batch, site.index);
}

/** ` at batch index [i,j]` for error messages (empty for an unbatched matrix). */
function batchLabel(batch: readonly number[], flat: number): string {
  if (batch.length === 0) return '';
  const index = new Array<number>(batch.length);
  for (let i = batch.length - 1; i >= 0; i--) {
    index[i] = flat % batch[i]!;
    flat = Math.floor(flat / batch[i]!);
  }
  return ` at batch index ${fmtShape(index)}`;
}

function allFinite(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) return false;
  return true;
}

/**
 * Returns a function giving matrix `b` (flat C-order index into `batch`, to which the batch axes
 * of `t` broadcast) as a fresh row-major float64 array. With `requireFinite`, a non-finite entry
 * throws a LinAlgError that names the op, the argument and the batch index.
 */
function matrixReader(op: string, name: string, t: Tensor, batch: readonly number[], requireFinite: boolean): (b: number) => Float64Array {
  const nd = t.ndim;
  const rows = t.shape[nd - 2]!;
  const cols = t.shape[nd - 1]!;
  const rowStride = t.strides[nd - 2]!;
  const colStride = t.strides[nd - 1]!;
  const pad = batch.length - (nd - 2);
  // broadcast batch axes get stride 0, so the odometer revisits the same matrix
  const strides = batch.map((_, i) => (i < pad || t.shape[i - pad] === 1 ? 0 : t.strides[i - pad]!));
  const offsets = new Array<number>(sizeOf(batch));
  const counter = new Array<number>(batch.length).fill(0);
  let pos = t.offset;
  for (let b = 0; b < offsets.length; b++) {
    offsets[b] = pos;
    pos = advance(batch, strides, counter, batch.length - 1, pos);
  }
  const data = t.data;
  return (b) => {
    const m = new Float64Array(rows * cols);
    const base = offsets[b]!;
    for (let r = 0, k = 0; r < rows; r++) {
      for (let c = 0, p = base + r * rowStride; c < cols; c++, p += colStride) m[k++] = data[p]!;
    }
    if (requireFinite && !allFinite(m)) throw new LinAlgError(`${op}: ${name} has a non-finite entry${batchLabel(batch, b)}`);
    return m;
  };
}

/** Index of the entry of largest magnitude among `length` entries of `x` at `start + i·step` (first on ties). */
function argMaxAbs(x: Float64Array, start: number, step: number, length: number): number {
  let best = 0;
  let max = -1;
  for (let i = 0; i < length; i++) {
    const v = Math.abs(x[start + i * step]!);
    if (v > max) {
      max = v;
      best = i;
    }
  }
  return best;
}

/**
 * The exponent e for which max|x|·2^e lies near [0.5, 1) (0 for an all-zero array). Methods that
 * square entries (Householder, Jacobi, power iteration) run on the matrix scaled by 2^e, so the
 * squares of its significant entries can neither overflow nor underflow, and scale the result
 * back exactly.
 */
function normalizingExponent(x: Float64Array): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]!));
  return max === 0 ? 0 : -Math.floor(Math.log2(max)) - 1;
}

/** x ← x·2^e in place; two steps so that 2^e itself never overflows or underflows. */
function scaleByPowerOfTwo(x: Float64Array, e: number): void {
  if (e === 0) return;
  const half = Math.trunc(e / 2);
  const f1 = 2 ** half;
  const f2 = 2 ** (e - half);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * f1 * f2;
}

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
function luSolve({ lu, perm }: LuFactors, n: number, rhs: Float64Array, k: number): Float64Array {
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
function luChecked(a: Float64Array, n: number, site: Site, allowSingular = false): LuFactors {
  const f = luFactor(a, n);
  if (!allFinite(f.lu)) throw new LinAlgError(`${site.op}: the LU factorisation overflows${siteLabel(site)} (entries too large)`);
  if (f.zeroPivot >= 0 && !allowSingular) {
    throw new LinAlgError(`${site.op}: matrix is singular${siteLabel(site)} (zero pivot in column ${f.zeroPivot})`);
  }
  return f;
}

function requireFiniteResult(x: Float64Array, site: Site): void {
  if (!allFinite(x)) {
    throw new LinAlgError(`${site.op}: the result overflows${siteLabel(site)} (the matrix is numerically singular or its entries too large)`);
  }
}

function identity(n: number): Float64Array {
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
  if (checkTensor('solve', b, 'b').ndim === 0) throw new ShapeError(`solve: b must be a vector [n] or a batch of matrices [...,n,k], got shape []`);
  const vectorB = b.ndim === 1;
  const bm = vectorB ? b.unsqueeze(1) : b;
  const [bRows, k] = matrixDims('solve', bm, false, 'b');
  if (bRows !== n) {
    throw new ShapeError(`solve: b of shape ${fmtShape(b.shape)} does not match a of shape ${fmtShape(a.shape)} (b has ${bRows} rows, a has ${n})`);
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
function jacobiEigh(s: Float64Array, n: number, round: Rounding, site: Site): { values: Float64Array; vectors: Float64Array } {
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
  if (!converged) throw new LinAlgError(`${site.op}: Jacobi iteration did not converge in ${MAX_SWEEPS} sweeps${siteLabel(site)}`);
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
function jacobiSvd(a: Float64Array, m: number, n: number, site: Site, vectorRounding?: Rounding): SvdResult {
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
  if (!converged) throw new LinAlgError(`${site.op}: Jacobi iteration did not converge in ${MAX_SWEEPS} sweeps${siteLabel(site)}`);
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

// ---------------------------------------------------------------------------------------------
// Matrix exponential (Higham 2005)

/** Padé [m/m] coefficients b_0..b_m for m = 3, 5, 7, 9, 13 (Higham 2005, Table 2.3 and eq. 2.5). */
const PADE: Record<number, readonly number[]> = {
  3: [120, 60, 12, 1],
  5: [30240, 15120, 3360, 420, 30, 1],
  7: [17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1],
  9: [17643225600, 8821612800, 2075673600, 302702400, 30270240, 2162160, 110880, 3960, 90, 1],
  13: [
    64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000, 10559470521600, 670442572800,
    33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
  ],
};
/** Largest ‖A‖₁ for which the [m/m] Padé approximant reaches double precision (Higham 2005, Table 2.3). */
const PADE_THETA: readonly [number, number][] = [
  [3, 1.495585217958292e-2],
  [5, 2.539398330063230e-1],
  [7, 9.504178996162932e-1],
  [9, 2.097847961257068e0],
];
const THETA_13 = 5.371920351148152;

function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const f = a[i * n + k]!;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + f * b[k * n + j]!;
    }
  }
  return out;
}

/** Σ_i coef_i · terms_i for row-major matrices of equal size. */
function linearCombination(coefs: readonly number[], terms: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(terms[0]!.length);
  coefs.forEach((f, t) => {
    const x = terms[t]!;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + f * x[i]!;
  });
  return out;
}

function oneNorm(a: Float64Array, rows: number, cols: number): number {
  let max = 0;
  for (let c = 0; c < cols; c++) {
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += Math.abs(a[r * cols + c]!);
    max = Math.max(max, sum);
  }
  return max;
}

/** e^A for a finite row-major n×n `a`: the [m/m] Padé approximant with the smallest m that is accurate, or [13/13] with scaling and squaring. */
function expmMatrix(a: Float64Array, n: number, site: Site): Float64Array {
  const norm = oneNorm(a, n, n);
  const eye = identity(n);
  let u: Float64Array;
  let v: Float64Array;
  let squarings = 0;
  const low = PADE_THETA.find(([, theta]) => norm <= theta);
  if (low) {
    const c = PADE[low[0]]!;
    const a2 = matMul(a, a, n);
    const powers = [eye, a2];
    while (powers.length < (c.length + 1) / 2) powers.push(matMul(powers[powers.length - 1]!, a2, n));
    const odd = c.filter((_, i) => i % 2 === 1);
    const even = c.filter((_, i) => i % 2 === 0);
    u = matMul(a, linearCombination(odd, powers), n);
    v = linearCombination(even, powers);
  } else {
    // log2 ‖A‖₁ from A·2^e, finite even where ‖A‖₁ (or A², from ‖A‖ ≈ 1e154) overflows: A is
    // scaled by 2^−s before it is squared, so e^A stays computable wherever it is finite
    const e = normalizingExponent(a);
    const scaled = Float64Array.from(a);
    scaleByPowerOfTwo(scaled, e);
    squarings = Math.max(0, Math.ceil(Math.log2(oneNorm(scaled, n, n) / THETA_13) - e));
    const as = Float64Array.from(a);
    scaleByPowerOfTwo(as, -squarings);
    const s2 = matMul(as, as, n);
    const s4 = matMul(s2, s2, n);
    const s6 = matMul(s4, s2, n);
    const c = PADE[13]!;
    const uInner = linearCombination([c[13]!, c[11]!, c[9]!], [s6, s4, s2]);
    u = matMul(as, linearCombination([1, c[7]!, c[5]!, c[3]!, c[1]!], [matMul(s6, uInner, n), s6, s4, s2, eye]), n);
    const vInner = linearCombination([c[12]!, c[10]!, c[8]!], [s6, s4, s2]);
    v = linearCombination([1, c[6]!, c[4]!, c[2]!, c[0]!], [matMul(s6, vInner, n), s6, s4, s2, eye]);
  }
  // r = (V − U)⁻¹ (V + U); V − U is well conditioned for ‖A‖ ≤ θ (Higham 2005, §2)
  const lu = luChecked(linearCombination([1, -1], [v, u]), n, site);
  let r = luSolve(lu, n, linearCombination([1, 1], [v, u]), n);
  for (let i = 0; i < squarings; i++) r = matMul(r, r, n);
  return r;
}

/**
 * The matrix exponential e^A of each matrix of `a` [...,n,n], by scaling and squaring with
 * Padé approximants (Higham 2005, "The scaling and squaring method for the matrix exponential
 * revisited"): degree 3, 5, 7 or 9 when ‖A‖₁ is below that degree's θ, otherwise degree 13
 * after scaling A by 2^−s so that ‖A‖₁/2^s ≤ θ₁₃, then squaring s times. A is scaled before
 * anything is squared, so entries up to the float range work (e.g. e^A of −1e300·I is 0).
 * Non-finite input, or a result that overflows the dtype, is a LinAlgError.
 */
export function expm(a: Tensor): Tensor {
  const [n] = matrixDims('expm', a, true);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('expm', 'a', a, batch, true);
  const out = allocate(a.dtype, count * n * n);
  for (let i = 0; i < count; i++) {
    out.set(expmMatrix(read(i), n, { op: 'expm', batch, index: i }), i * n * n);
    for (let j = i * n * n; j < (i + 1) * n * n; j++) {
      if (!Number.isFinite(out[j]!)) throw new LinAlgError(`expm: the result overflows ${a.dtype}${batchLabel(batch, i)}`);
    }
  }
  return new Tensor(out, [...batch, n, n]);
}

// ---------------------------------------------------------------------------------------------
// Norms, trace, power iteration

/**
 * The `ord` of `matrixNorm`: 'fro' (Frobenius), 1 (largest column sum of |a|), 'inf'
 * (largest row sum), 2 (largest singular value) or 'nuc' (sum of singular values).
 */
export type MatrixNormOrder = 'fro' | 1 | 'inf' | 2 | 'nuc';

/** sqrt(Σ x²) without overflow or underflow; NaN if any entry is NaN, else ∞ if any is infinite. */
function euclideanNorm(x: Float64Array): number {
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
    throw new ValueError(`matrixNorm: ord must be 'fro', 1, 'inf', 2 or 'nuc', got ${JSON.stringify(ord) ?? String(ord)}`);
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
  if (!Number.isInteger(iters) || iters < 1) throw new ValueError(`powerIteration: iters must be an integer ≥ 1, got ${iters}`);
  if (tol !== undefined && !(tol >= 0 && Number.isFinite(tol))) {
    throw new ValueError(`powerIteration: tol must be a finite number ≥ 0, got ${tol}`);
  }
  const batch = batchOf(a);
  const count = sizeOf(batch);
  let readState: ((b: number) => Float64Array) | undefined;
  if (state) {
    const expected = [...batch, m];
    if (!shapesEqual(checkTensor('powerIteration', state.u, 'state.u').shape, expected)) {
      throw new ShapeError(`powerIteration: state.u has shape ${fmtShape(state.u.shape)}, expected ${fmtShape(expected)} for a of shape ${fmtShape(a.shape)}`);
    }
    if (state.u.shape.some((d, i) => d > 1 && state.u.strides[i] === 0)) {
      throw new ValueError(`powerIteration: state.u (shape ${fmtShape(state.u.shape)}) is a broadcast view and cannot be updated in place`);
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
function normalizeInPlace(x: Float64Array): number {
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
