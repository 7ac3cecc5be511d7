/**
 * Reductions over axes (sum, mean, prod, max, min, logsumexp, variance, norm), softmax and
 * logSoftmax, argmax and argmin.
 *
 * Kernel layout: a reduction accumulates into a float64 buffer laid out like its output, walking
 * the input in its own C order with `forEachRow`. The output is one more operand of that walk,
 * with stride 0 along the reduced axes, so the innermost row is either reduced (the `reduced`
 * loop accumulates it in a register into one output element) or kept (the `kept` loop adds it
 * element by element into a row of the output). After axis merging, a contiguous input reduced
 * over trailing axes is one pass of `reduced` per output element, and a sum over leading axes (the
 * batch reduction of autograd) streams whole rows into the output. Each op has its own pair of
 * loops, so nothing is called per element. Float32 inputs accumulate in float64 and round once.
 */
import { allocate, type DType, type TypedArray } from './dtype.js';
import { ValueError, fmtShape } from './errors.js';
import { forEachRow } from './iter.js';
import { contiguousStrides, normalizeAxes, normalizeAxis, sizeOf } from './shape.js';
import { checkTensor, Tensor } from './tensor.js';

/**
 * `n` input elements from `px` in steps of `sx`, into the accumulator at `pa` (one element for a
 * reduced row, `pa…pa+n−1` for a kept row). `ref` holds a per-output value at the same positions
 * (the max, the mean, the scale) for the second pass of two-pass reductions.
 */
type RowLoop = (
  n: number,
  acc: Float64Array,
  pa: number,
  x: TypedArray,
  px: number,
  sx: number,
  ref: Float64Array,
) => void;

interface Reducer {
  /** The accumulator's starting value: the identity of the reduction. */
  init: number;
  reduced: RowLoop;
  kept: RowLoop;
}

const SUM: Reducer = {
  init: 0,
  reduced: (n, acc, pa, x, px, sx) => {
    let s = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) s += x[px]!;
    acc[pa] = s;
  },
  kept: (n, acc, pa, x, px, sx) => {
    for (let i = 0; i < n; i++, px += sx) acc[pa + i] += x[px]!;
  },
};

const PROD: Reducer = {
  init: 1,
  reduced: (n, acc, pa, x, px, sx) => {
    let s = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) s *= x[px]!;
    acc[pa] = s;
  },
  kept: (n, acc, pa, x, px, sx) => {
    for (let i = 0; i < n; i++, px += sx) acc[pa + i] *= x[px]!;
  },
};

// max/min: NaN wins and then stays (v > NaN is false), so NaN propagates as in NumPy.
const MAX: Reducer = {
  init: -Infinity,
  reduced: (n, acc, pa, x, px, sx) => {
    let m = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) {
      const v = x[px]!;
      if (v > m || Number.isNaN(v)) m = v;
    }
    acc[pa] = m;
  },
  kept: (n, acc, pa, x, px, sx) => {
    for (let i = 0; i < n; i++, px += sx) {
      const v = x[px]!;
      if (v > acc[pa + i]! || Number.isNaN(v)) acc[pa + i] = v;
    }
  },
};

const MIN: Reducer = {
  init: Infinity,
  reduced: (n, acc, pa, x, px, sx) => {
    let m = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) {
      const v = x[px]!;
      if (v < m || Number.isNaN(v)) m = v;
    }
    acc[pa] = m;
  },
  kept: (n, acc, pa, x, px, sx) => {
    for (let i = 0; i < n; i++, px += sx) {
      const v = x[px]!;
      if (v < acc[pa + i]! || Number.isNaN(v)) acc[pa + i] = v;
    }
  },
};

const MAX_ABS: Reducer = {
  init: 0,
  reduced: (n, acc, pa, x, px, sx) => {
    let m = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) {
      const v = Math.abs(x[px]!);
      if (v > m || Number.isNaN(v)) m = v;
    }
    acc[pa] = m;
  },
  kept: (n, acc, pa, x, px, sx) => {
    for (let i = 0; i < n; i++, px += sx) {
      const v = Math.abs(x[px]!);
      if (v > acc[pa + i]! || Number.isNaN(v)) acc[pa + i] = v;
    }
  },
};

/** Σ (x − ref)²: the second pass of variance, ref = mean. */
const SUM_SQUARED_DEVIATIONS: Reducer = {
  init: 0,
  reduced: (n, acc, pa, x, px, sx, ref) => {
    const c = ref[pa]!;
    let s = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) {
      const d = x[px]! - c;
      s += d * d;
    }
    acc[pa] = s;
  },
  kept: (n, acc, pa, x, px, sx, ref) => {
    for (let i = 0; i < n; i++, px += sx) {
      const d = x[px]! - ref[pa + i]!;
      acc[pa + i] += d * d;
    }
  },
};

/** Σ exp(x − ref): the second pass of logsumexp, ref = the max (0 where the max is not finite). */
const SUM_EXP_SHIFTED: Reducer = {
  init: 0,
  reduced: (n, acc, pa, x, px, sx, ref) => {
    const c = ref[pa]!;
    let s = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) s += Math.exp(x[px]! - c);
    acc[pa] = s;
  },
  kept: (n, acc, pa, x, px, sx, ref) => {
    for (let i = 0; i < n; i++, px += sx) acc[pa + i] += Math.exp(x[px]! - ref[pa + i]!);
  },
};

/** Σ (x / ref)²: the second pass of norm, ref = the largest |x| (1 where that is 0, ∞ or NaN). */
const SUM_SQUARES_SCALED: Reducer = {
  init: 0,
  reduced: (n, acc, pa, x, px, sx, ref) => {
    const c = ref[pa]!;
    let s = acc[pa]!;
    for (let i = 0; i < n; i++, px += sx) {
      const t = x[px]! / c;
      s += t * t;
    }
    acc[pa] = s;
  },
  kept: (n, acc, pa, x, px, sx, ref) => {
    for (let i = 0; i < n; i++, px += sx) {
      const t = x[px]! / ref[pa + i]!;
      acc[pa + i] += t * t;
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Driver

/** What a reduction of `x` over some axes produces, worked out once and shared by its passes. */
interface Plan {
  x: Tensor;
  axes: number[];
  /** Output strides laid over x's axes: 0 on reduced axes, contiguous over the kept ones. */
  accStrides: number[];
  outShape: number[];
  outSize: number;
  /** Input elements per output element. */
  count: number;
}

function plan(op: string, x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean): Plan {
  const shape = checkTensor(op, x).shape;
  const ndim = shape.length;
  const list: number[] = [];
  if (axes === undefined)
    for (let ax = 0; ax < ndim; ax++) list.push(ax); // the common case, without normalizeAxes' allocations
  else list.push(...normalizeAxes(op, axes, ndim));
  const reduced: boolean[] = [];
  const accStrides: number[] = [];
  for (let ax = 0; ax < ndim; ax++) {
    reduced.push(false);
    accStrides.push(0);
  }
  for (const ax of list) reduced[ax] = true;
  const outShape: number[] = [];
  let stride = 1;
  let count = 1;
  for (let ax = ndim - 1; ax >= 0; ax--) {
    const d = shape[ax]!;
    if (reduced[ax]) {
      count *= d;
      if (keepDims) outShape.push(1);
    } else {
      accStrides[ax] = stride;
      stride *= d;
      outShape.push(d);
    }
  }
  outShape.reverse();
  return { x, axes: list, accStrides, outShape, outSize: stride, count };
}

/** Throws the ValueError of a reduction without identity over zero elements. */
function requireNonEmpty(op: string, p: Plan): void {
  if (p.count > 0) return;
  const shape = p.x.shape;
  const axis = p.axes.find((a) => shape[a] === 0)!;
  throw new ValueError(`${op}: cannot reduce over an empty axis: axis ${axis} of shape ${fmtShape(shape)} has size 0`);
}

/**
 * One pass of `r` over the plan's input; `ref` (output layout) feeds two-pass reductions. A row
 * whose accumulator step is not 0 always has step 1 (the innermost kept axis is the output's
 * fastest), which is what `kept` assumes.
 */
function runPass(p: Plan, r: Reducer, ref: Float64Array = EMPTY): Float64Array {
  const acc = allocateFloat64(p.outSize);
  if (r.init !== 0) acc.fill(r.init);
  const x = p.x.data;
  const block = contiguousBlock(p);
  if (block !== null) {
    // A contiguous input reduced over one run of adjacent axes is [outer, count, inner]: call the
    // loops directly, without forEachRow's per-row bookkeeping, which dominated when rows are as
    // short as Sinkhorn's (n = 2…8).
    const { outer, count, inner } = block;
    let px = p.x.offset;
    for (let o = 0; o < outer; o++) {
      if (inner === 1) {
        r.reduced(count, acc, o, x, px, 1, ref);
        px += count;
      } else {
        for (let j = 0; j < count; j++, px += inner) r.kept(inner, acc, o * inner, x, px, 1, ref);
      }
    }
    return acc;
  }
  forEachRow(p.x.shape, [p.x.strides, p.accStrides], [p.x.offset, 0], (n, pos, steps) => {
    if (steps[1] === 0) r.reduced(n, acc, pos[1]!, x, pos[0]!, steps[0]!, ref);
    else r.kept(n, acc, pos[1]!, x, pos[0]!, steps[0]!, ref);
  });
  return acc;
}
const EMPTY = new Float64Array(0);

/** [outer, count, inner] when x is C-contiguous and the reduced axes are adjacent; else null. */
function contiguousBlock(p: Plan): { outer: number; count: number; inner: number } | null {
  const axes = p.axes;
  if (axes.length === 0 || !p.x.isContiguous()) return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1]! + 1) return null;
  const shape = p.x.shape;
  let outer = 1;
  let inner = 1;
  for (let ax = 0; ax < axes[0]!; ax++) outer *= shape[ax]!;
  for (let ax = axes[axes.length - 1]! + 1; ax < shape.length; ax++) inner *= shape[ax]!;
  return { outer, count: p.count, inner };
}

function allocateFloat64(n: number): Float64Array {
  return allocate('float64', n) as Float64Array;
}

function toTensor(acc: Float64Array, shape: number[], dtype: DType): Tensor {
  if (dtype === 'float64') return new Tensor(acc, shape);
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return new Tensor(out, shape);
}

// ---------------------------------------------------------------------------------------------
// Reductions. `axes`: one axis or several (negative count from the end; undefined = all axes;
// [] = none, a copy). A repeated or out-of-range axis throws an IndexError naming the op.
// `keepDims` keeps each reduced axis as size 1. NaN propagates.

/** Σ over the axes; 0 over zero elements. */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const p = plan('sum', x, axes, keepDims);
  return toTensor(runPass(p, SUM), p.outShape, x.dtype);
}

/** The arithmetic mean over the axes. Throws a ValueError over zero elements (NumPy would return NaN). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const p = plan('mean', x, axes, keepDims);
  requireNonEmpty('mean', p);
  const acc = runPass(p, SUM);
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / p.count;
  return toTensor(acc, p.outShape, x.dtype);
}

/** Π over the axes; 1 over zero elements. */
export function prod(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const p = plan('prod', x, axes, keepDims);
  return toTensor(runPass(p, PROD), p.outShape, x.dtype);
}

/** The largest element over the axes. Throws a ValueError over an empty axis (no identity). */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const p = plan('max', x, axes, keepDims);
  requireNonEmpty('max', p);
  return toTensor(runPass(p, MAX), p.outShape, x.dtype);
}

/** The smallest element over the axes. Throws a ValueError over an empty axis (no identity). */
export function min(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const p = plan('min', x, axes, keepDims);
  requireNonEmpty('min', p);
  return toTensor(runPass(p, MIN), p.outShape, x.dtype);
}

/**
 * log Σ exp(x) over the axes, stable: the max m is subtracted first, so 1e308 logits give
 * finite results. A slice of only −∞ (or zero elements) gives −∞; a +∞ entry gives +∞.
 */
export function logsumexp(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const p = plan('logsumexp', x, axes, keepDims);
  if (p.count === 0) return toTensor(allocateFloat64(p.outSize).fill(-Infinity), p.outShape, x.dtype);
  const shift = runPass(p, MAX);
  // With a non-finite max, x − m would be ∞ − ∞; shifting by 0 gives the right limit instead
  // (Σ exp = 0 → −∞, ∞ → ∞, NaN stays NaN).
  for (let i = 0; i < shift.length; i++) if (!Number.isFinite(shift[i]!)) shift[i] = 0;
  const acc = runPass(p, SUM_EXP_SHIFTED, shift);
  for (let i = 0; i < acc.length; i++) acc[i] = Math.log(acc[i]!) + shift[i]!;
  return toTensor(acc, p.outShape, x.dtype);
}

/**
 * Σ (x − mean)² / (N − correction) over the axes (two-pass, so no cancellation); correction 0 is
 * the population variance, 1 the unbiased sample variance. Throws a ValueError when
 * N − correction ≤ 0 (zero elements included) or correction is negative or not finite.
 */
export function variance(x: Tensor, axes?: number | readonly number[], keepDims = false, correction = 0): Tensor {
  if (!Number.isFinite(correction) || correction < 0) {
    throw new ValueError(`variance: correction must be a finite number ≥ 0, got ${correction}`);
  }
  const p = plan('variance', x, axes, keepDims);
  if (p.count - correction <= 0) {
    throw new ValueError(
      `variance: ${p.count} element(s) per slice over axes ${fmtShape(p.axes)} of shape ` +
        `${fmtShape(x.shape)} leave no degrees of freedom with correction ${correction}`,
    );
  }
  const mu = runPass(p, SUM);
  for (let i = 0; i < mu.length; i++) mu[i] = mu[i]! / p.count;
  const acc = runPass(p, SUM_SQUARED_DEVIATIONS, mu);
  const dof = p.count - correction;
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / dof;
  return toTensor(acc, p.outShape, x.dtype);
}

/**
 * The 2-norm (Frobenius norm for several axes) √Σx² over the axes, scaled by the largest |x| so
 * that neither 1e200 nor 1e-200 entries overflow or underflow. 0 over zero elements; ∞ if an
 * entry is ±∞ (and no entry is NaN).
 */
export function norm(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const p = plan('norm', x, axes, keepDims);
  const scale = runPass(p, MAX_ABS);
  const divisor = scale.map((m) => (m > 0 && m < Infinity ? m : 1));
  const acc = runPass(p, SUM_SQUARES_SCALED, divisor);
  for (let i = 0; i < acc.length; i++) {
    const m = scale[i]!;
    acc[i] = m > 0 && m < Infinity ? m * Math.sqrt(acc[i]!) : m; // m is 0, ∞ or NaN
  }
  return toTensor(acc, p.outShape, x.dtype);
}

// ---------------------------------------------------------------------------------------------
// Lane ops: one axis at a time, each lane (the elements along the axis at one position of the
// other axes) handled whole.

/**
 * Calls `lane(px, po)` for every lane of `x` along `axis`: px is where the lane starts in x's
 * storage, po where its result goes in an output whose strides over x's other axes are
 * `outStrides` (the axis itself removed).
 */
function forEachLane(
  x: Tensor,
  axis: number,
  outStrides: readonly number[],
  lane: (px: number, po: number) => void,
): void {
  const outer = x.shape.filter((_, i) => i !== axis);
  const xStrides = x.strides.filter((_, i) => i !== axis);
  forEachRow(outer, [xStrides, outStrides], [x.offset, 0], (n, pos, steps) => {
    for (let i = 0, px = pos[0]!, po = pos[1]!; i < n; i++, px += steps[0]!, po += steps[1]!) lane(px, po);
  });
}

/**
 * The frame of a lane op whose output has x's shape (C order): the axis, the output, its
 * strides over the other axes (for `forEachLane`), the lane length and the strides along the
 * lane in x (sx) and in the output (so).
 */
function laneOutput(
  op: string,
  x: Tensor,
  axis: number,
): { ax: number; out: TypedArray; outStrides: number[]; len: number; sx: number; so: number } {
  const ax = normalizeAxis(op, axis, checkTensor(op, x).ndim);
  const strides = contiguousStrides(x.shape);
  return {
    ax,
    out: allocate(x.dtype, x.size),
    outStrides: strides.filter((_, i) => i !== ax),
    len: x.shape[ax]!,
    sx: x.strides[ax]!,
    so: strides[ax]!,
  };
}

/** The maximum of a non-empty lane; NaN if the lane holds one (so that it propagates). */
function laneMax(data: TypedArray, px: number, sx: number, len: number): number {
  let m = -Infinity;
  for (let i = 0, p = px; i < len; i++, p += sx) {
    const v = data[p]!;
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

/**
 * exp(x − logsumexp(x)) along `axis`, computed stably (the lane max is subtracted first). Each lane
 * sums to 1. A lane holding +∞, or only −∞, has no defined distribution and gives NaN (as in
 * PyTorch); NaN propagates through its lane. Zero-size inputs give a zero-size result.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  const { ax, out, outStrides, len, sx, so } = laneOutput('softmax', x, axis);
  const data = x.data;
  if (len > 0) {
    forEachLane(x, ax, outStrides, (px, po) => {
      const m = laneMax(data, px, sx, len);
      let s = 0;
      for (let i = 0, p = px, q = po; i < len; i++, p += sx, q += so) {
        const e = Math.exp(data[p]! - m);
        out[q] = e;
        s += e;
      }
      for (let i = 0, q = po; i < len; i++, q += so) out[q] = out[q]! / s;
    });
  }
  return new Tensor(out, [...x.shape]);
}

/**
 * x − logsumexp(x) along `axis`, computed as (x − max) − log Σ exp(x − max): stable for huge
 * logits and exact −∞ for −∞ entries. Lanes with +∞ or only −∞ give NaN, as in softmax.
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const { ax, out, outStrides, len, sx, so } = laneOutput('logSoftmax', x, axis);
  const data = x.data;
  if (len > 0) {
    forEachLane(x, ax, outStrides, (px, po) => {
      const m = laneMax(data, px, sx, len);
      let s = 0;
      for (let i = 0, p = px; i < len; i++, p += sx) s += Math.exp(data[p]! - m);
      const logS = Math.log(s);
      for (let i = 0, p = px, q = po; i < len; i++, p += sx, q += so) out[q] = data[p]! - m - logS;
    });
  }
  return new Tensor(out, [...x.shape]);
}

/** First index of the extreme of a lane; the first NaN counts as the extreme (NumPy). */
function argExtreme(data: TypedArray, px: number, sx: number, len: number, largest: boolean): number {
  let best = data[px]!;
  let at = 0;
  if (Number.isNaN(best)) return 0;
  for (let i = 1, p = px + sx; i < len; i++, p += sx) {
    const v = data[p]!;
    if (largest ? v > best : v < best) {
      best = v;
      at = i;
    } else if (Number.isNaN(v)) return i;
  }
  return at;
}

function argReduce(op: string, x: Tensor, axis: number | undefined, keepDims: boolean, largest: boolean): Tensor {
  const shape = checkTensor(op, x).shape;
  if (axis === undefined) {
    if (x.size === 0) throw new ValueError(`${op}: cannot reduce an empty tensor of shape ${fmtShape(shape)}`);
    const flat = x.reshape([-1]);
    const at = argExtreme(flat.data, flat.offset, flat.strides[0]!, flat.size, largest);
    return new Tensor(allocateFloat64(1).fill(at), keepDims ? shape.map(() => 1) : []);
  }
  const ax = normalizeAxis(op, axis, shape.length);
  const len = shape[ax]!;
  if (len === 0)
    throw new ValueError(`${op}: cannot reduce over an empty axis: axis ${ax} of shape ${fmtShape(shape)} has size 0`);
  const outShape = keepDims ? shape.map((d, i) => (i === ax ? 1 : d)) : shape.filter((_, i) => i !== ax);
  const out = allocateFloat64(sizeOf(outShape));
  const data = x.data;
  const sx = x.strides[ax]!;
  forEachLane(x, ax, contiguousStrides(shape.filter((_, i) => i !== ax)), (px, po) => {
    out[po] = argExtreme(data, px, sx, len, largest);
  });
  return new Tensor(out, outShape);
}

/**
 * Index of the largest element along `axis` (over the flattened tensor when undefined), as
 * float64 values (exact for any index). Ties give the first index; a NaN counts as the largest,
 * so the first NaN wins. Throws a ValueError over an empty axis.
 */
export function argmax(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argReduce('argmax', x, axis, keepDims, true);
}

/** Index of the smallest element along `axis`; otherwise as argmax (the first NaN wins here too). */
export function argmin(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argReduce('argmin', x, axis, keepDims, false);
}
