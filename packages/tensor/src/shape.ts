import { MAX_ELEMENTS } from './dtype.js';
import { AllocationError, IndexError, ShapeError, ValueError, fmtArg, fmtShape } from './errors.js';

/** A tensor shape: one size per axis, outermost first (`[]` for a 0-d tensor). Not validated here. */
export type Shape = readonly number[];

/** The number of elements of a tensor of this shape: the product of the sizes (1 for `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The multi-index of element `flat` of a tensor of shape `shape` in C (row-major) order: `[]`
 * for a 0-d shape. `flat` is not checked against the size.
 */
export function unravelIndex(flat: number, shape: Shape): number[] {
  const index = new Array<number>(shape.length);
  for (let ax = shape.length - 1; ax >= 0; ax--) {
    index[ax] = flat % shape[ax]!;
    flat = Math.floor(flat / shape[ax]!);
  }
  return index;
}

/**
 * "[i, j]": `unravelIndex(flat, shape)` as the error messages name an element or a batch entry
 * ("[]" for a 0-d shape).
 */
export function fmtIndex(flat: number, shape: Shape): string {
  return `[${unravelIndex(flat, shape).join(', ')}]`;
}

/** The C-order (row-major) strides of `shape`, counted in elements: the last axis has stride 1. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * The most axes a tensor may have (NumPy's limit too). It bounds every per-axis loop and the
 * depth of nested arrays that `tensor()` accepts.
 */
export const MAX_RANK = 64;

/**
 * A mutable copy of a shape given by the caller, checked: an array (ValueError otherwise) of
 * non-negative integers (ValueError naming `op` for a negative, fractional, NaN or infinite
 * entry), then `checkAllocation`.
 */
export function checkShape(op: string, shape: Shape): number[] {
  if (!Array.isArray(shape))
    throw new ValueError(`${op}: shape must be an array of non-negative integers, got ${fmtArg(shape)}`);
  // One pass that validates, copies and multiplies: this runs on every reshape and constructor.
  const out = [...shape];
  let n = 1;
  for (let i = 0; i < out.length; i++) {
    const d = out[i]!;
    if (!Number.isInteger(d) || d < 0) {
      const shown = shape.map((x: unknown) => (typeof x === 'number' ? String(x) : fmtArg(x)));
      throw new ValueError(`${op}: shape entries must be non-negative integers, got [${shown.join(',')}]`);
    }
    if (d === 0)
      out[i] = 0; // +0 for a −0 size too
    else n *= d;
  }
  if (n > MAX_ELEMENTS || out.length > MAX_RANK) checkAllocation(op, out);
  return out;
}

/**
 * Refuses, before anything is allocated, a shape of more than MAX_RANK axes (ShapeError) or whose
 * non-zero sizes multiply to more than MAX_ELEMENTS (AllocationError), naming `op` and the shape.
 * Zero sizes are left out of the product because a reduction over an empty axis allocates all
 * the others: `[0, 2^20, 2^20]` holds nothing but `sum(x, 0)` would need 2^40 elements. Entries
 * must already be non-negative integers (checkShape, or a shape computed from checked ones).
 */
export function checkAllocation(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) {
    throw new ShapeError(`${op}: shape has ${shape.length} axes, more than MAX_RANK (${MAX_RANK})`);
  }
  let n = 1;
  for (const d of shape) if (d !== 0) n *= d;
  if (n > MAX_ELEMENTS) {
    const what = shape.includes(0) ? 'its non-zero sizes multiply to' : 'it has';
    throw new AllocationError(
      `${op}: shape ${fmtShape(shape)} is too large: ${what} ${n} elements, more than MAX_ELEMENTS (${MAX_ELEMENTS})`,
    );
  }
}

/** True when both shapes have the same rank and the same size on every axis (no broadcasting). */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Normalises a possibly negative axis into [0, ndim). */
export function normalizeAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new IndexError(`${op}: axis ${axis} is out of range for a tensor of rank ${ndim}`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Normalises `axes` (undefined = all axes) into a sorted list without repeats. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) {
    // A plain loop: this runs on every small reduction, where Array.from's callback showed up.
    const all: number[] = [];
    for (let i = 0; i < ndim; i++) all.push(i);
    return all;
  }
  if (typeof axes === 'number') return [normalizeAxis(op, axes, ndim)];
  if (!Array.isArray(axes))
    throw new ValueError(`${op}: axes must be an axis, an array of axes or undefined, got ${fmtArg(axes)}`);
  const list = axes;
  const sorted = list.map((a) => normalizeAxis(op, a, ndim)).sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new IndexError(`${op}: axis ${sorted[i]} repeated in ${fmtShape(list)}`);
  }
  return sorted;
}

/** NumPy broadcasting of several shapes; throws a ShapeError naming the op and the axis. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  let ndim = 0;
  for (const s of shapes) ndim = Math.max(ndim, s.length);
  const out = new Array<number>(ndim).fill(1);
  for (const s of shapes) {
    const pad = ndim - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const o = out[pad + i]!;
      if (d === o || d === 1) continue;
      if (o === 1) out[pad + i] = d;
      else {
        throw new ShapeError(
          `${op}: shapes ${shapes.map(fmtShape).join(' and ')} ` +
            `cannot be broadcast (axis ${pad + i - ndim}: ${o} ≠ ${d})`,
        );
      }
    }
  }
  let n = 1;
  for (let i = 0; i < ndim; i++) if (out[i] !== 0) n *= out[i]!;
  if (n > MAX_ELEMENTS || ndim > MAX_RANK) checkAllocation(op, out);
  return out;
}
