import ndarray from 'ndarray';
import { allocate, checkDType, dtypeOf, dtypeOption, type DType, type TypedArray } from './dtype.js';
import { DTypeError, IndexError, ShapeError, ValueError, argumentError, fmtArg, fmtShape } from './errors.js';
import { copyStrided, isCContiguous, writeStrided } from './iter.js';
import {
  checkAllocation,
  checkShape,
  contiguousStrides,
  MAX_RANK,
  normalizeAxes,
  normalizeAxis,
  shapesEqual,
  sizeOf,
  type Shape,
} from './shape.js';

/** A number or rectangular nested arrays of numbers, as accepted by `tensor()` (depth = rank). */
export type NestedArray = number | NestedArray[];
/**
 * The dtype of a new tensor. Without it, constructors use float64 and the `*Like` ones the
 * dtype of their input.
 */
export interface DTypeOptions {
  dtype?: DType;
}

/**
 * One axis of a `slice`: a number picks one index and drops the axis; `null` keeps the whole
 * axis; `[start, stop, step]` is Python's `start:stop:step` (negative values count from the end,
 * `null` entries take their defaults, a negative step walks backwards).
 */
export type SliceSpec = number | null | readonly [start?: number | null, stop?: number | null, step?: number];

/**
 * An n-d strided array over a Float64Array (default) or a Float32Array. Shape, strides and
 * offset are held by an `ndarray` view; several tensors may share one storage buffer, so a
 * write through `set` on a view is seen by its base (and vice versa).
 *
 * Views (no copy): transpose, permute, slice, expand, squeeze, unsqueeze, and reshape of a
 * contiguous tensor. Broadcast views (`expand`) have stride 0: writing through them writes
 * every aliased element at once.
 */
export class Tensor {
  /**
   * The storage (not a copy; may be larger than the view, and may itself be a view into a
   * larger ArrayBuffer shared with other tensors: use it through its own offset and length,
   * never through `.buffer` alone).
   */
  readonly data: TypedArray;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  private ndView: ndarray.NdArray<TypedArray> | undefined;

  /** Low-level constructor: no validation. Prefer `tensor()`, `zeros()`, … */
  constructor(data: TypedArray, shape: number[], strides?: number[], offset = 0) {
    this.data = data;
    this.shape = shape;
    this.strides = strides ?? contiguousStrides(shape);
    this.offset = offset;
  }

  /**
   * This tensor as an `ndarray` view of the same storage, for the ndarray ecosystem. Built on
   * first use: building one per tensor cost more than a small op itself.
   */
  get nd(): ndarray.NdArray<TypedArray> {
    this.ndView ??= ndarray(this.data, [...this.shape], [...this.strides], this.offset);
    return this.ndView;
  }

  get dtype(): DType {
    return dtypeOf(this.data);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }

  /** True when the elements sit in C order from `offset` with no gaps. */
  isContiguous(): boolean {
    return isCContiguous(this.shape, this.strides);
  }

  private position(op: string, index: readonly number[]): number {
    const shape = this.shape;
    if (index.length !== shape.length) {
      throw new IndexError(`${op}: expected ${shape.length} indices for shape ${fmtShape(shape)}, got ${index.length}`);
    }
    let pos = this.offset;
    for (let i = 0; i < index.length; i++) {
      let k = index[i]!;
      const d = shape[i]!;
      if (!Number.isInteger(k) || k < -d || k >= d) {
        throw new IndexError(`${op}: index ${k} is out of range for axis ${i} of size ${d}`);
      }
      if (k < 0) k += d;
      pos += k * this.strides[i]!;
    }
    return pos;
  }

  /** The element at `index` (negative indices count from the end). */
  get(...index: number[]): number {
    return this.data[this.position('get', index)]!;
  }

  /** Writes one element in place (visible through every view of the same storage). */
  set(index: readonly number[], value: number): void {
    this.data[this.position('set', index)] = value;
  }

  /** The single element of a size-1 tensor. */
  item(): number {
    if (this.size !== 1)
      throw new ShapeError(`item: tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return this.contiguous().data[this.offset]!;
  }

  /** The elements in C order as a new typed array of this dtype. */
  toTypedArray(): TypedArray {
    const out = allocate(this.dtype, this.size);
    copyStrided(this.shape, this.strides, this.offset, this.data, out);
    return out;
  }

  /** Nested JavaScript arrays (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const flat = this.toTypedArray();
    const shape = this.shape;
    if (shape.length === 0) return flat[0]!;
    let pos = 0;
    const build = (axis: number): NestedArray[] => {
      const out: NestedArray[] = [];
      const n = shape[axis]!;
      if (axis === shape.length - 1) for (let i = 0; i < n; i++) out.push(flat[pos++]!);
      else for (let i = 0; i < n; i++) out.push(build(axis + 1));
      return out;
    };
    return build(0);
  }

  /**
   * Writes `src` (broadcast to this shape) into this view in place and returns `this`;
   * every tensor sharing the storage sees the change. `src` may alias this storage only if it
   * is the same view.
   */
  assign(src: Tensor | number): this {
    const shape = this.shape;
    if (typeof src !== 'number') checkTensor('assign', src, 'src');
    if (typeof src === 'number') {
      if (this.isContiguous()) this.data.fill(src, this.offset, this.offset + this.size);
      else writeStrided(shape, this.strides, this.offset, this.data, () => src);
      return this;
    }
    const flat = src.expand(shape).toTypedArray();
    writeStrided(shape, this.strides, this.offset, this.data, (i) => flat[i]!);
    return this;
  }

  /** This tensor if it is C-contiguous, otherwise a contiguous copy. */
  contiguous(): Tensor {
    return this.isContiguous() ? this : this.clone();
  }

  /** A contiguous copy with its own storage. */
  clone(): Tensor {
    return new Tensor(this.toTypedArray(), [...this.shape]);
  }

  /** This tensor in another dtype (a copy when the dtype changes, `this` otherwise). */
  astype(dtype: DType): Tensor {
    if (dtype === this.dtype) return this;
    checkDType('astype', dtype);
    const flat = this.toTypedArray();
    const out = allocate(dtype, flat.length);
    out.set(flat);
    return new Tensor(out, [...this.shape]);
  }

  /** Swaps two axes (default: the last two, the matrix transpose). A view. */
  transpose(axis0 = -2, axis1 = -1): Tensor {
    const n = this.ndim;
    if (n < 2 && axis0 === -2 && axis1 === -1) return this;
    const a = normalizeAxis('transpose', axis0, n);
    const b = normalizeAxis('transpose', axis1, n);
    const perm = Array.from({ length: n }, (_, i) => i);
    perm[a] = b;
    perm[b] = a;
    return this.permute(perm);
  }

  /** The matrix transpose of the last two axes (a view). */
  get mT(): Tensor {
    if (this.ndim < 2) throw new ShapeError(`mT: needs at least 2 axes, got shape ${fmtShape(this.shape)}`);
    return this.transpose(-2, -1);
  }

  /** Reorders the axes: output axis i is input axis `axes[i]`. A view. */
  permute(axes: readonly number[]): Tensor {
    const n = this.ndim;
    if (!Array.isArray(axes)) throw new ValueError(`permute: axes must be an array of axes, got ${fmtArg(axes)}`);
    if (axes.length !== n)
      throw new ShapeError(`permute: got ${axes.length} axes ${fmtShape(axes)} for a tensor of rank ${n}`);
    const norm = axes.map((a) => normalizeAxis('permute', a, n));
    if (new Set(norm).size !== n) throw new IndexError(`permute: axes ${fmtShape(axes)} are not a permutation`);
    return new Tensor(
      this.data,
      norm.map((a) => this.shape[a]!),
      norm.map((a) => this.strides[a]!),
      this.offset,
    );
  }

  /** NumPy-style basic slicing (see `SliceSpec`); missing trailing specs keep their axes. A view. */
  slice(...specs: SliceSpec[]): Tensor {
    const shape = this.shape;
    if (specs.length > shape.length) {
      throw new IndexError(
        `slice: ${specs.length} specs for a tensor of rank ${shape.length} (shape ${fmtShape(shape)})`,
      );
    }
    let offset = this.offset;
    const outShape: number[] = [];
    const outStrides: number[] = [];
    for (let axis = 0; axis < shape.length; axis++) {
      const spec = axis < specs.length ? specs[axis] : null;
      if (typeof spec !== 'number' && spec !== null && spec !== undefined && !Array.isArray(spec)) {
        throw new IndexError(`slice: spec ${axis} must be an index, null or [start, stop, step], got ${fmtArg(spec)}`);
      }
      const d = shape[axis]!;
      const stride = this.strides[axis]!;
      if (typeof spec === 'number') {
        if (!Number.isInteger(spec) || spec < -d || spec >= d) {
          throw new IndexError(`slice: index ${spec} is out of range for axis ${axis} of size ${d}`);
        }
        offset += (spec < 0 ? spec + d : spec) * stride;
        continue;
      }
      const [start, stop, step] = spec ?? [];
      const st = step ?? 1;
      if (!Number.isInteger(st) || st === 0)
        throw new ValueError(`slice: step must be a non-zero integer, got ${st} on axis ${axis}`);
      const clampIdx = (v: number | null | undefined, dflt: number, lo: number, hi: number): number => {
        if (v === null || v === undefined) return dflt;
        if (!Number.isInteger(v)) throw new IndexError(`slice: bound ${v} on axis ${axis} is not an integer`);
        const k = v < 0 ? v + d : v;
        return Math.min(Math.max(k, lo), hi);
      };
      let b: number;
      let len: number;
      if (st > 0) {
        b = clampIdx(start, 0, 0, d);
        const e = clampIdx(stop, d, 0, d);
        len = e > b ? Math.ceil((e - b) / st) : 0;
      } else {
        b = clampIdx(start, d - 1, -1, d - 1);
        const e = clampIdx(stop, -1, -1, d - 1);
        // an explicit stop below -d means "before the first element", like Python
        len = b > e ? Math.ceil((b - e) / -st) : 0;
      }
      if (len > 0) offset += b * stride;
      outShape.push(len);
      outStrides.push(stride * st);
    }
    return new Tensor(this.data, outShape, outStrides, offset);
  }

  /**
   * A tensor with the same elements in C order and a new shape (one entry may be -1).
   * A view when this tensor is contiguous, a copy otherwise.
   */
  reshape(shape: readonly number[]): Tensor {
    const size = this.size;
    // checkShape throws for a non-array
    const target = Array.isArray(shape) ? [...shape] : checkShape('reshape', shape);
    const free = target.indexOf(-1);
    if (free !== -1 && target.indexOf(-1, free + 1) !== -1) {
      throw new ShapeError(`reshape: at most one -1 allowed, got ${fmtShape(shape)}`);
    }
    if (free !== -1) {
      const known = sizeOf(target.filter((_, i) => i !== free));
      if (known === 0 || size % known !== 0) {
        throw new ShapeError(`reshape: cannot infer -1 in ${fmtShape(shape)} for ${size} elements`);
      }
      target[free] = size / known;
    }
    checkShape('reshape', target);
    if (sizeOf(target) !== size) {
      throw new ShapeError(
        `reshape: cannot reshape ${fmtShape(this.shape)} (${size} elements) into ${fmtShape(shape)}`,
      );
    }
    const base = this.contiguous();
    return new Tensor(base.data, target, contiguousStrides(target), base.offset);
  }

  /** All elements along one axis. */
  flatten(): Tensor {
    return this.reshape([-1]);
  }

  /** Broadcasts to `shape` with stride-0 axes (NumPy's broadcast_to). A view. */
  expand(shape: readonly number[]): Tensor {
    const src = this.shape;
    // checked first: a broadcast view allocates nothing, but any op on it allocates its full size
    checkShape('expand', shape);
    const pad = shape.length - src.length;
    if (pad < 0) throw new ShapeError(`expand: cannot expand ${fmtShape(src)} to fewer axes ${fmtShape(shape)}`);
    const strides = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < src.length; i++) {
      const d = src[i]!;
      const t = shape[pad + i]!;
      if (d === t) strides[pad + i] = this.strides[i]!;
      else if (d !== 1) {
        throw new ShapeError(`expand: cannot expand ${fmtShape(src)} to ${fmtShape(shape)} (axis ${i}: ${d} ≠ ${t})`);
      }
    }
    if (shapesEqual(src, shape)) return this;
    return new Tensor(this.data, [...shape], strides, this.offset);
  }

  /** Removes size-1 axes (all of them, or the listed ones, which must have size 1). A view. */
  squeeze(axes?: number | readonly number[]): Tensor {
    const shape = this.shape;
    const drop =
      axes === undefined
        ? shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
        : normalizeAxes('squeeze', axes, shape.length);
    for (const a of drop) {
      if (shape[a] !== 1)
        throw new ShapeError(`squeeze: axis ${a} of shape ${fmtShape(shape)} has size ${shape[a]}, not 1`);
    }
    const keep = shape.map((_, i) => i).filter((i) => !drop.includes(i));
    return new Tensor(
      this.data,
      keep.map((i) => shape[i]!),
      keep.map((i) => this.strides[i]!),
      this.offset,
    );
  }

  /** Inserts a size-1 axis at `axis` (in the output's numbering; negative counts from the end). A view. */
  unsqueeze(axis: number): Tensor {
    const n = this.ndim;
    const a = normalizeAxis('unsqueeze', axis, n + 1);
    const shape = [...this.shape];
    const strides = [...this.strides];
    shape.splice(a, 0, 1);
    strides.splice(a, 0, a < n ? this.strides[a]! * this.shape[a]! : 1);
    if (n >= MAX_RANK) checkAllocation('unsqueeze', shape);
    return new Tensor(this.data, shape, strides, this.offset);
  }

  /** NumPy-like text with shape and dtype, as `formatTensor`. */
  toString(): string {
    return formatTensor(this);
  }
}

/**
 * `value` if it is a Tensor; anything else (null, a number, a plain array, a Variable…) is a
 * ValueError naming the op and the argument. The one argument check of the tensor ops, so that
 * no bare TypeError escapes from inside them.
 */
export function checkTensor(op: string, value: unknown, name = 'x'): Tensor {
  if (value instanceof Tensor) return value;
  throw argumentError(op, name, 'a Tensor', value);
}

// ---------------------------------------------------------------------------------------------
// Construction

/**
 * The shape of nested arrays, read down their first elements. A loop, not recursion, so depth
 * costs no stack; nesting deeper than MAX_RANK is a ShapeError found before going further.
 */
function inferShape(value: unknown): number[] {
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    if (shape.length === MAX_RANK)
      throw new ShapeError(`tensor: nested arrays are more than MAX_RANK (${MAX_RANK}) levels deep`);
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

/** The error for `v` found at `path` where a number (`expected` undefined) or an array of length `expected` belongs. */
function nestedError(v: unknown, path: readonly number[], expected?: number): Error {
  const at = `at index ${fmtShape(path)}`;
  if (Array.isArray(v)) {
    return new ShapeError(
      expected === undefined
        ? `tensor: nested arrays are ragged: an array ${at} where a number belongs`
        : `tensor: nested arrays are ragged: the array ${at} has length ${v.length}, expected ${expected}`,
    );
  }
  if (typeof v === 'number')
    return new ShapeError(
      `tensor: nested arrays are ragged: a number ${at} where an array of length ${expected} belongs`,
    );
  return new ValueError(`tensor: elements must be numbers, got ${fmtArg(v)} ${at}`);
}

/**
 * Writes rectangular nested arrays of `shape` into `data` in C order. An explicit stack of
 * (array, next index) per level replaces recursion; each innermost array is copied in one tight
 * loop. The path of a bad element is read off the stack for the error.
 */
function fillNested(values: unknown, shape: readonly number[], data: TypedArray): void {
  const rank = shape.length;
  if (rank === 0) {
    if (typeof values !== 'number') throw nestedError(values, []);
    data[0] = values;
    return;
  }
  const arrays: unknown[][] = [values as unknown[]];
  const next: number[] = [0];
  let pos = 0;
  while (arrays.length > 0) {
    const depth = arrays.length - 1;
    const arr = arrays[depth]!;
    if (depth === rank - 1) {
      for (let j = 0; j < arr.length; j++) {
        const v = arr[j];
        if (typeof v !== 'number') throw nestedError(v, [...next.slice(0, depth).map((k) => k - 1), j]);
        data[pos++] = v;
      }
      arrays.pop();
      next.pop();
      continue;
    }
    const i = next[depth]!;
    if (i === arr.length) {
      arrays.pop();
      next.pop();
      continue;
    }
    next[depth] = i + 1;
    const v = arr[i];
    if (!Array.isArray(v) || v.length !== shape[depth + 1])
      throw nestedError(
        v,
        next.map((k) => k - 1),
        shape[depth + 1],
      );
    arrays.push(v as unknown[]);
    next.push(0);
  }
}

/**
 * A tensor from a number, nested arrays, or a typed array (with `shape`, default 1-d).
 * A typed array of the requested dtype is used without copying; nested arrays must be
 * rectangular, at most MAX_RANK deep, with numbers as leaves. Ragged arrays (or a number where an
 * array belongs) are a ShapeError and any other leaf (string, boolean, null, undefined, a hole,
 * bigint, object) a ValueError, each giving the index of the bad element. Numbers are stored as
 * the dtype rounds them: in float32, values beyond ±3.4e38 become ±∞ (IEEE rounding, not an
 * error).
 */
export function tensor(
  values: NestedArray | TypedArray,
  options: DTypeOptions & { shape?: readonly number[] } = {},
): Tensor {
  const shapeOption = (options as { shape?: readonly number[] } | null)?.shape;
  if (values instanceof Float64Array || values instanceof Float32Array) {
    const dtype = dtypeOption('tensor', options, dtypeOf(values));
    const shape = checkShape('tensor', shapeOption ?? [values.length]);
    if (sizeOf(shape) !== values.length) {
      throw new ShapeError(`tensor: ${values.length} values do not fill shape ${fmtShape(shape)}`);
    }
    let data: TypedArray = values;
    if (dtypeOf(values) !== dtype) {
      data = allocate(dtype, values.length);
      data.set(values);
    }
    return new Tensor(data, shape);
  }
  if (ArrayBuffer.isView(values))
    throw new DTypeError(`tensor: only Float64Array and Float32Array are accepted, got ${values.constructor.name}`);
  if (typeof values !== 'number' && !Array.isArray(values)) {
    throw new ValueError(
      `tensor: values must be a number, nested arrays of numbers, ` +
        `a Float64Array or a Float32Array, got ${fmtArg(values)}`,
    );
  }
  const dtype = dtypeOption('tensor', options);
  const shape = inferShape(values);
  checkAllocation('tensor', shape);
  const data = allocate(dtype, sizeOf(shape));
  fillNested(values, shape, data);
  if (shapeOption !== undefined) return new Tensor(data, shape).reshape(shapeOption);
  return new Tensor(data, shape);
}

/** A 0-d tensor (shape `[]`) holding `value`; float64 unless `options.dtype` is given. */
export function scalar(value: number, options: DTypeOptions = {}): Tensor {
  return filled('scalar', [], value, dtypeOption('scalar', options));
}

/** `full` under the caller's name, so a bad shape is reported as `zeros: …`, `eye: …`. */
function filled(op: string, shape: readonly number[], value: number, dtype: DType): Tensor {
  if (typeof value !== 'number') throw new ValueError(`${op}: value must be a number, got ${fmtArg(value)}`);
  const s = checkShape(op, shape);
  const data = allocate(dtype, sizeOf(s));
  // Object.is, not !==, so that -0 is written too
  if (!Object.is(value, 0)) data.fill(value);
  return new Tensor(data, s);
}

/**
 * A new contiguous tensor of `shape` with every element `value` (float64 unless
 * `options.dtype` is given). A shape entry that is not a non-negative integer is a ValueError.
 */
export function full(shape: readonly number[], value: number, options: DTypeOptions = {}): Tensor {
  return filled('full', shape, value, dtypeOption('full', options));
}

/** A new contiguous tensor of `shape` filled with 0 (float64 unless `options.dtype` is given). */
export function zeros(shape: readonly number[], options: DTypeOptions = {}): Tensor {
  return filled('zeros', shape, 0, dtypeOption('zeros', options));
}

/** A new contiguous tensor of `shape` filled with 1 (float64 unless `options.dtype` is given). */
export function ones(shape: readonly number[], options: DTypeOptions = {}): Tensor {
  return filled('ones', shape, 1, dtypeOption('ones', options));
}

/**
 * A new contiguous zero tensor with the shape of `t`, in the dtype of `t` unless
 * `options.dtype` is given (the strides of `t` are not kept).
 */
export function zerosLike(t: Tensor, options: DTypeOptions = {}): Tensor {
  return filled('zerosLike', checkTensor('zerosLike', t, 't').shape, 0, dtypeOption('zerosLike', options, t.dtype));
}

/**
 * A new contiguous tensor of ones with the shape of `t`, in the dtype of `t` unless
 * `options.dtype` is given.
 */
export function onesLike(t: Tensor, options: DTypeOptions = {}): Tensor {
  return filled('onesLike', checkTensor('onesLike', t, 't').shape, 1, dtypeOption('onesLike', options, t.dtype));
}

/**
 * A new contiguous tensor with the shape of `t` and every element `value`, in the dtype of
 * `t` unless `options.dtype` is given.
 */
export function fullLike(t: Tensor, value: number, options: DTypeOptions = {}): Tensor {
  return filled('fullLike', checkTensor('fullLike', t, 't').shape, value, dtypeOption('fullLike', options, t.dtype));
}

/** The n×m identity (m defaults to n). */
export function eye(n: number, m: number = n, options: DTypeOptions = {}): Tensor {
  const t = filled('eye', [n, m], 0, dtypeOption('eye', options));
  for (let i = 0; i < Math.min(n, m); i++) t.data[i * m + i] = 1;
  return t;
}

/** `[start, start+step, …)` up to `stop` exclusive; `arange(n)` is `[0, 1, …, n-1]`. */
export function arange(start: number, stop?: number, step = 1, options: DTypeOptions = {}): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (!Number.isFinite(start) || !Number.isFinite(stop) || !Number.isFinite(step) || step === 0) {
    throw new ValueError(`arange: start, stop and a non-zero step must be finite, got (${start}, ${stop}, ${step})`);
  }
  const dtype = dtypeOption('arange', options);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  checkAllocation('arange', [n]);
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new Tensor(data, [n]);
}

/** `num` evenly spaced values from `start` to `stop` inclusive. */
export function linspace(start: number, stop: number, num: number, options: DTypeOptions = {}): Tensor {
  if (!Number.isInteger(num) || num < 0)
    throw new ValueError(`linspace: num must be a non-negative integer, got ${num}`);
  if (!Number.isFinite(start) || !Number.isFinite(stop))
    throw new ValueError(`linspace: start and stop must be finite, got (${start}, ${stop})`);
  const dtype = dtypeOption('linspace', options);
  checkAllocation('linspace', [num]);
  const data = allocate(dtype, num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) data[i] = start + i * step;
  if (num > 1) data[num - 1] = stop;
  return new Tensor(data, [num]);
}

// ---------------------------------------------------------------------------------------------
// Printing

function formatNumber(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.`;
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e8)) return x.toExponential(4);
  return String(Number(x.toPrecision(6)));
}

const EDGE = 3;
const SUMMARY_THRESHOLD = 1000;

/** NumPy-like printing; tensors with more than 1000 elements show 3 entries at each edge. */
export function formatTensor(t: Tensor): string {
  const flat = t.toTypedArray();
  const shape = t.shape;
  const summarise = flat.length > SUMMARY_THRESHOLD;
  const strides = contiguousStrides(shape);
  let width = 0;
  for (const x of flat) width = Math.max(width, formatNumber(x).length);
  const render = (axis: number, base: number, indent: string): string => {
    if (axis === shape.length) return formatNumber(flat[base]!).padStart(width);
    const n = shape[axis]!;
    const idx =
      summarise && n > 2 * EDGE
        ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)]
        : [...Array(n).keys()];
    const parts = idx.map((i) => (i === -1 ? '...' : render(axis + 1, base + i * strides[axis]!, `${indent} `)));
    const sep = axis === shape.length - 1 ? ', ' : `,${'\n'.repeat(shape.length - axis - 1)}${indent} `;
    return `[${parts.join(sep)}]`;
  };
  const body = shape.length === 0 ? formatNumber(flat[0]!) : render(0, 0, '       ');
  return `tensor(${body}, shape=${fmtShape(shape)}, dtype=${t.dtype})`;
}

export type { Shape };
