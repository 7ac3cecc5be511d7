/**
 * Joining, splitting and index-driven ops. No broadcasting here: shapes must match as each op
 * states. Results are fresh contiguous tensors except `split`, `diagonal` and `flip`, which
 * return views of their input.
 */
import { allocate, promoteTypes, type DType, type TypedArray } from './dtype.js';
import { IndexError, ShapeError, ValueError, argumentError, fmtShape } from './errors.js';
import { advance } from './iter.js';
import { checkAllocation, normalizeAxes, normalizeAxis, sizeOf, type Shape } from './shape.js';
import { checkTensor, Tensor, type SliceSpec } from './tensor.js';

/** Splits a shape around `axis` into C-order block sizes: [outer, length, inner]. */
function blocks(shape: Shape, axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))];
}

/** The elements of `t` in C order, converted to `dtype` when it differs. */
function flatAs(t: Tensor, dtype: DType): TypedArray {
  const flat = t.toTypedArray();
  if (t.dtype === dtype) return flat;
  const out = allocate(dtype, flat.length);
  out.set(flat);
  return out;
}

/** The list argument of concat/stack: an array of Tensors, each checked (naming `op` and its position). */
function tensorList(op: string, tensors: readonly Tensor[]): void {
  if (!Array.isArray(tensors)) throw argumentError(op, 'tensors', 'an array of Tensors', tensors);
  for (let i = 0; i < tensors.length; i++) checkTensor(op, tensors[i], `tensors[${i}]`);
}

function promoteAll(tensors: readonly Tensor[]): DType {
  return tensors.reduce<DType>((d, t) => promoteTypes(d, t.dtype), tensors[0]!.dtype);
}

/**
 * Joins tensors along an existing axis. All must have the same rank and agree on every other
 * axis; dtypes promote. Empty inputs (size-0 along the axis or elsewhere) are allowed.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  tensorList('concat', tensors);
  if (tensors.length === 0) throw new ValueError('concat: needs at least one tensor');
  const first = tensors[0]!;
  if (first.ndim === 0) throw new ShapeError('concat: cannot concatenate 0-d tensors (use stack)');
  const ax = normalizeAxis('concat', axis, first.ndim);
  let total = 0;
  tensors.forEach((t, i) => {
    const same = t.ndim === first.ndim && t.shape.every((d, k) => k === ax || d === first.shape[k]);
    if (!same) {
      throw new ShapeError(
        `concat: tensor ${i} has shape ${fmtShape(t.shape)}, incompatible ` +
          `with ${fmtShape(first.shape)} (all axes but ${ax} must match)`,
      );
    }
    total += t.shape[ax]!;
  });
  const dtype = promoteAll(tensors);
  const outShape = [...first.shape];
  outShape[ax] = total;
  checkAllocation('concat', outShape);
  const [outer, , inner] = blocks(outShape, ax);
  const out = allocate(dtype, sizeOf(outShape));
  let start = 0;
  for (const t of tensors) {
    const len = t.shape[ax]! * inner;
    const src = t.toTypedArray();
    // Float32Array ↔ Float64Array `set` converts element-wise, which is the promotion we want
    for (let o = 0; o < outer; o++) out.set(src.subarray(o * len, (o + 1) * len), o * total * inner + start);
    start += len;
  }
  return new Tensor(out, outShape);
}

/** Joins same-shape tensors along a new axis (`axis` numbers the output's axes). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  tensorList('stack', tensors);
  if (tensors.length === 0) throw new ValueError('stack: needs at least one tensor');
  const shape = tensors[0]!.shape;
  const ax = normalizeAxis('stack', axis, shape.length + 1);
  tensors.forEach((t, i) => {
    if (t.ndim !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      throw new ShapeError(`stack: tensor ${i} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
    }
  });
  checkAllocation('stack', [tensors.length, ...shape]);
  return concat(
    tensors.map((t) => t.unsqueeze(ax)),
    ax,
  );
}

/**
 * Cuts `x` along `axis`: a number asks for that many equal sections (it must divide the
 * length), an array gives the section lengths (non-negative, summing to the length).
 * The pieces are views (slices) sharing x's storage: writes through them reach x.
 */
export function split(x: Tensor, sizesOrSections: number | readonly number[], axis = 0): Tensor[] {
  const ax = normalizeAxis('split', axis, checkTensor('split', x).ndim);
  const n = x.shape[ax]!;
  let sizes: number[];
  if (typeof sizesOrSections === 'number') {
    const k = sizesOrSections;
    if (!Number.isInteger(k) || k <= 0)
      throw new ValueError(`split: number of sections must be a positive integer, got ${k}`);
    if (n % k !== 0)
      throw new ShapeError(
        `split: axis ${ax} of length ${n} (shape ${fmtShape(x.shape)}) does not divide into ${k} equal sections`,
      );
    sizes = new Array<number>(k).fill(n / k);
  } else {
    if (!Array.isArray(sizesOrSections))
      throw argumentError('split', 'sizesOrSections', 'a number or an array of sizes', sizesOrSections);
    sizes = [...sizesOrSections];
    if (sizes.some((s) => !Number.isInteger(s) || s < 0))
      throw new ValueError(`split: sizes must be non-negative integers, got ${fmtShape(sizes)}`);
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum !== n)
      throw new ShapeError(
        `split: sizes ${fmtShape(sizes)} sum to ${sum}, not to the ` +
          `length ${n} of axis ${ax} (shape ${fmtShape(x.shape)})`,
      );
  }
  const specs: SliceSpec[] = new Array<SliceSpec>(ax + 1).fill(null);
  let start = 0;
  return sizes.map((s) => {
    specs[ax] = [start, start + s];
    start += s;
    return x.slice(...specs);
  });
}

/** Validates integer indices into an axis of length n and makes negative ones non-negative. */
function normalizeIndices(op: string, values: ArrayLike<number>, axis: number, n: number): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const k = values[i]!;
    if (!Number.isInteger(k) || k < -n || k >= n)
      throw new IndexError(`${op}: index ${k} is out of range for axis ${axis} of size ${n}`);
    out[i] = k < 0 ? k + n : k;
  }
  return out;
}

function indexList(op: string, indices: readonly number[] | Tensor, axis: number, n: number): number[] {
  if (indices instanceof Tensor) {
    if (indices.ndim !== 1) throw new ShapeError(`${op}: indices must be 1-d, got shape ${fmtShape(indices.shape)}`);
    return normalizeIndices(op, indices.toTypedArray(), axis, n);
  }
  if (!Array.isArray(indices)) throw argumentError(op, 'indices', 'an array of integers or a 1-d Tensor', indices);
  return normalizeIndices(op, indices, axis, n);
}

/**
 * Picks the entries `indices` (repeats allowed, negative counting from the end) along `axis`:
 * the output has x's shape with that axis replaced by `indices.length` (torch.index_select).
 */
export function indexSelect(x: Tensor, axis: number, indices: readonly number[] | Tensor): Tensor {
  const ax = normalizeAxis('indexSelect', axis, checkTensor('indexSelect', x).ndim);
  const idx = indexList('indexSelect', indices, ax, x.shape[ax]!);
  const [outer, n, inner] = blocks(x.shape, ax);
  const src = x.toTypedArray();
  const outShape = [...x.shape];
  outShape[ax] = idx.length;
  checkAllocation('indexSelect', outShape);
  const out = allocate(x.dtype, sizeOf(outShape));
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const k of idx) {
      const from = (o * n + k) * inner;
      out.set(src.subarray(from, from + inner), pos);
      pos += inner;
    }
  }
  return new Tensor(out, outShape);
}

/**
 * The adjoint of `indexSelect`: a copy of `base` with `src`'s slice j added at position
 * `indices[j]` along `axis` (repeated indices accumulate). `src` has base's shape with that
 * axis replaced by `indices.length`; dtypes promote.
 */
export function indexAdd(base: Tensor, axis: number, indices: readonly number[] | Tensor, src: Tensor): Tensor {
  checkTensor('indexAdd', src, 'src');
  const ax = normalizeAxis('indexAdd', axis, checkTensor('indexAdd', base, 'base').ndim);
  const idx = indexList('indexAdd', indices, ax, base.shape[ax]!);
  const expected = [...base.shape];
  expected[ax] = idx.length;
  if (src.ndim !== expected.length || src.shape.some((d, k) => d !== expected[k])) {
    throw new ShapeError(
      `indexAdd: src has shape ${fmtShape(src.shape)}, expected ${fmtShape(expected)} ` +
        `(base ${fmtShape(base.shape)}, ${idx.length} indices on axis ${ax})`,
    );
  }
  const dtype = promoteTypes(base.dtype, src.dtype);
  const out = flatAs(base, dtype);
  const values = src.toTypedArray();
  const [outer, n, inner] = blocks(base.shape, ax);
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const k of idx) {
      const to = (o * n + k) * inner;
      for (let i = 0; i < inner; i++) out[to + i] += values[pos++]!;
    }
  }
  return new Tensor(out, [...base.shape]);
}

/**
 * Checks the shapes of gather/scatterAdd: `index` has the rank of `x` and is no longer than
 * x on every axis but `axis` (as torch.gather).
 */
function checkIndexShape(op: string, x: Tensor, ax: number, index: Tensor, xName: string): void {
  if (index.ndim !== x.ndim || index.shape.some((d, k) => k !== ax && d > x.shape[k]!)) {
    throw new ShapeError(
      `${op}: index of shape ${fmtShape(index.shape)} does not fit ${xName} of shape ` +
        `${fmtShape(x.shape)} (same rank, and no longer on axes other than ${ax})`,
    );
  }
}

/**
 * Visits every position of `index` in C order, passing the flat position k and the storage
 * position in `t` of the same coordinates except along `axis` (which is left at 0).
 */
function forEachAlong(index: Tensor, t: Tensor, axis: number, visit: (k: number, pos: number) => void): void {
  const shape = index.shape;
  const size = sizeOf(shape);
  if (size === 0) return;
  const strides = t.strides.map((s, d) => (d === axis ? 0 : s));
  const counter = new Array<number>(shape.length).fill(0);
  let pos = t.offset;
  for (let k = 0; k < size; k++) {
    visit(k, pos);
    pos = advance(shape, strides, counter, shape.length - 1, pos);
  }
}

/**
 * torch.gather / take_along_axis without broadcasting: `out[…, i, …] = x[…, index[…, i, …], …]`
 * along `axis`. `index` has x's rank and is no longer than x on the other axes; the output has
 * index's shape. Negative indices count from the end.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  checkTensor('gather', index, 'index');
  const ax = normalizeAxis('gather', axis, checkTensor('gather', x).ndim);
  checkIndexShape('gather', x, ax, index, 'x');
  const idx = normalizeIndices('gather', index.toTypedArray(), ax, x.shape[ax]!);
  const out = allocate(x.dtype, idx.length);
  const data = x.data;
  const stride = x.strides[ax]!;
  forEachAlong(index, x, ax, (k, pos) => {
    out[k] = data[pos + idx[k]! * stride]!;
  });
  return new Tensor(out, [...index.shape]);
}

/**
 * The adjoint of `gather`: a copy of `base` with `src[…, i, …]` added at
 * `base[…, index[…, i, …], …]` along `axis` (repeats accumulate). `index` has base's rank,
 * is no longer than base on the other axes and no longer than `src` on any axis; only the
 * leading index-shaped block of `src` is used (as torch.scatter_add). Dtypes promote.
 */
export function scatterAdd(base: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  checkTensor('scatterAdd', index, 'index');
  checkTensor('scatterAdd', src, 'src');
  const ax = normalizeAxis('scatterAdd', axis, checkTensor('scatterAdd', base, 'base').ndim);
  checkIndexShape('scatterAdd', base, ax, index, 'base');
  if (src.ndim !== index.ndim || index.shape.some((d, k) => d > src.shape[k]!)) {
    throw new ShapeError(
      `scatterAdd: index of shape ${fmtShape(index.shape)} does not fit src of ` +
        `shape ${fmtShape(src.shape)} (same rank, and no longer on every axis)`,
    );
  }
  const idx = normalizeIndices('scatterAdd', index.toTypedArray(), ax, base.shape[ax]!);
  const dtype = promoteTypes(base.dtype, src.dtype);
  const out = new Tensor(flatAs(base, dtype), [...base.shape]);
  const outData = out.data;
  const outStride = out.strides[ax]!;
  const srcFlat = src.slice(...index.shape.map((d): SliceSpec => [0, d])).toTypedArray();
  forEachAlong(index, out, ax, (k, pos) => {
    outData[pos + idx[k]! * outStride] += srcFlat[k]!;
  });
  return out;
}

/** The main diagonal of the last two axes: [..., n, m] → [..., min(n, m)]. A view. */
export function diagonal(x: Tensor): Tensor {
  if (checkTensor('diagonal', x).ndim < 2)
    throw new ShapeError(`diagonal: needs at least 2 axes, got shape ${fmtShape(x.shape)}`);
  const r = x.ndim;
  const shape = [...x.shape.slice(0, r - 2), Math.min(x.shape[r - 2]!, x.shape[r - 1]!)];
  const strides = [...x.strides.slice(0, r - 2), x.strides[r - 2]! + x.strides[r - 1]!];
  return new Tensor(x.data, shape, strides, x.offset);
}

/** Square matrices with `v`'s last axis on the diagonal: [..., k] → [..., k, k], zeros elsewhere. */
export function diagEmbed(v: Tensor): Tensor {
  if (checkTensor('diagEmbed', v, 'v').ndim < 1)
    throw new ShapeError('diagEmbed: needs at least 1 axis, got a 0-d tensor');
  const k = v.shape[v.ndim - 1]!;
  const outShape = [...v.shape, k];
  checkAllocation('diagEmbed', outShape);
  const flat = v.toTypedArray();
  const out = allocate(v.dtype, sizeOf(outShape));
  for (let i = 0; i < flat.length; i++) {
    const batch = Math.floor(i / k);
    const j = i - batch * k;
    out[batch * k * k + j * (k + 1)] = flat[i]!;
  }
  return new Tensor(out, outShape);
}

/** A copy of x with entries (i, j) of the last two axes zeroed where `keep(j - i)` is false. */
function triangle(op: string, x: Tensor, k: number, keep: (offset: number) => boolean): Tensor {
  if (checkTensor(op, x).ndim < 2) throw new ShapeError(`${op}: needs at least 2 axes, got shape ${fmtShape(x.shape)}`);
  if (!Number.isInteger(k)) throw new ValueError(`${op}: diagonal offset k must be an integer, got ${k}`);
  const out = x.clone();
  const data = out.data;
  const rows = x.shape[x.ndim - 2]!;
  const cols = x.shape[x.ndim - 1]!;
  for (let p = 0; p < data.length; p++) {
    const j = p % cols;
    const i = Math.floor(p / cols) % rows;
    if (!keep(j - i - k)) data[p] = 0;
  }
  return out;
}

/** The lower triangle of the last two axes: keeps (i, j) with j ≤ i + k, zeroes the rest. */
export function tril(x: Tensor, k = 0): Tensor {
  return triangle('tril', x, k, (d) => d <= 0);
}

/** The upper triangle of the last two axes: keeps (i, j) with j ≥ i + k, zeroes the rest. */
export function triu(x: Tensor, k = 0): Tensor {
  return triangle('triu', x, k, (d) => d >= 0);
}

/** Reverses the order of elements along `axes` (default: all). A view with negated strides. */
export function flip(x: Tensor, axes?: number | readonly number[]): Tensor {
  const list = normalizeAxes('flip', axes, checkTensor('flip', x).ndim);
  const strides = [...x.strides];
  let offset = x.offset;
  for (const a of list) {
    const d = x.shape[a]!;
    if (d > 0) offset += (d - 1) * strides[a]!;
    strides[a] = -strides[a]!;
  }
  return new Tensor(x.data, [...x.shape], strides, offset);
}
