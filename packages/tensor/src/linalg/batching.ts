// Batching helpers of the linear algebra: matrix shapes, batch readers and labels, power-of-two scaling.
import { fmtShape, LinAlgError, ShapeError } from '../errors.js';
import { advance } from '../iter.js';
import { sizeOf, unravelIndex } from '../shape.js';
import { checkTensor, type Tensor } from '../tensor.js';

// ---------------------------------------------------------------------------------------------
// Batching and scratch matrices

/** The trailing [rows, cols] of a tensor of rank ≥ 2 (ShapeError otherwise, or when not square as required). */
export function matrixDims(op: string, t: Tensor, square: boolean, name = 'a'): [rows: number, cols: number] {
  if (checkTensor(op, t, name).ndim < 2) {
    throw new ShapeError(
      `${op}: ${name} must be a matrix or a batch of matrices ` +
        `[...,${square ? 'n,n' : 'm,n'}], got shape ${fmtShape(t.shape)}`,
    );
  }
  const rows = t.shape[t.ndim - 2]!;
  const cols = t.shape[t.ndim - 1]!;
  if (square && rows !== cols) {
    throw new ShapeError(
      `${op}: ${name} must be square in its last two axes, got shape ${fmtShape(t.shape)} (${rows} ≠ ${cols})`,
    );
  }
  return [rows, cols];
}

export function batchOf(t: Tensor): number[] {
  return t.shape.slice(0, -2);
}

/** Which matrix of which op is being worked on, for error messages. */
export interface Site {
  op: string;
  batch: readonly number[];
  /** Flat C-order index into `batch`. */
  index: number;
}

export function siteLabel(site: Site): string {
  return batchLabel(site.batch, site.index);
}

/** ` at batch index [i,j]` for error messages (empty for an unbatched matrix). */
export function batchLabel(batch: readonly number[], flat: number): string {
  return batch.length === 0 ? '' : ` at batch index ${fmtShape(unravelIndex(flat, batch))}`;
}

export function allFinite(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) return false;
  return true;
}

/**
 * Returns a function giving matrix `b` (flat C-order index into `batch`, to which the batch axes
 * of `t` broadcast) as a fresh row-major float64 array. With `requireFinite`, a non-finite entry
 * throws a LinAlgError that names the op, the argument and the batch index.
 */
export function matrixReader(
  op: string,
  name: string,
  t: Tensor,
  batch: readonly number[],
  requireFinite: boolean,
): (b: number) => Float64Array {
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
    if (requireFinite && !allFinite(m))
      throw new LinAlgError(`${op}: ${name} has a non-finite entry${batchLabel(batch, b)}`);
    return m;
  };
}

/** Index of the entry of largest magnitude among `length` entries of `x` at `start + i·step` (first on ties). */
export function argMaxAbs(x: Float64Array, start: number, step: number, length: number): number {
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
export function normalizingExponent(x: Float64Array): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]!));
  return max === 0 ? 0 : -Math.floor(Math.log2(max)) - 1;
}

/** x ← x·2^e in place; two steps so that 2^e itself never overflows or underflows. */
export function scaleByPowerOfTwo(x: Float64Array, e: number): void {
  if (e === 0) return;
  const half = Math.trunc(e / 2);
  const f1 = 2 ** half;
  const f2 = 2 ** (e - half);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * f1 * f2;
}
