import { IndexError, ShapeError, ValueError, fmtShape } from './errors.js';

/** A tensor shape: one size per axis, outermost first (`[]` for a 0-d tensor). Not validated here. */
export type Shape = readonly number[];

/** The number of elements of a tensor of this shape: the product of the sizes (1 for `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
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
 * A mutable copy of `shape`; throws a ValueError naming `op` if an entry is not a
 * non-negative integer.
 */
export function checkShape(op: string, shape: Shape): number[] {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ValueError(`${op}: shape entries must be non-negative integers, got ${fmtShape(shape)}`);
  }
  return [...shape];
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
          `${op}: shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast (axis ${pad + i - ndim}: ${o} ≠ ${d})`,
        );
      }
    }
  }
  return out;
}
