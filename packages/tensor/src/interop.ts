/**
 * The way in from the ndarray ecosystem (`t.nd` is the way out): a Tensor over an ndarray's
 * storage, with its shape, strides and offset, so ndarray-ops, ndarray-linear-algebra, image
 * loaders and the like hand their arrays to hyperconn without a copy where that is possible.
 */
import type ndarray from 'ndarray';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import { checkAllocation } from './shape.js';
import { Tensor } from './tensor.js';

/** Options of `fromNdarray`. */
export interface FromNdarrayOptions {
  /**
   * Always copy into new C-contiguous storage (default false: share the storage when it is a
   * Float64Array or Float32Array, copy otherwise).
   */
  copy?: boolean;
}

function isIntegerList(v: unknown): v is readonly number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x));
}

/**
 * A Tensor for an ndarray `{ data, shape, stride, offset }`.
 *
 * - Float64Array or Float32Array storage is shared (zero-copy, any strides, negative ones
 *   included): writes through either are seen by the other, as with `t.nd`.
 * - Any other storage (a plain Array, an integer typed array) is copied into a new float64
 *   tensor; each element must be a number.
 * - `copy: true` always copies (keeping float32 as float32).
 *
 * Throws ShapeError for a malformed shape/stride/offset or one that addresses elements outside
 * the storage, and DTypeError for BigInt or non-numeric storage.
 */
export function fromNdarray(array: ndarray.NdArray<ndarray.Data<number>>, options: FromNdarrayOptions = {}): Tensor {
  const a = array as unknown as { data?: unknown; shape?: unknown; stride?: unknown; offset?: unknown } | null;
  if (a === null || typeof a !== 'object')
    throw new ValueError(`fromNdarray: expected an ndarray, got ${a === null ? 'null' : typeof a}`);
  const { data, shape, stride, offset } = a;
  if (!isIntegerList(shape) || shape.some((d) => d < 0))
    throw new ShapeError(`fromNdarray: shape must be non-negative integers, got ${String(shape)}`);
  if (!isIntegerList(stride) || stride.length !== shape.length) {
    throw new ShapeError(`fromNdarray: stride must be ${shape.length} integers, got ${String(stride)}`);
  }
  if (!Number.isSafeInteger(offset))
    throw new ShapeError(`fromNdarray: offset must be an integer, got ${String(offset)}`);
  if (data === null || typeof data !== 'object' || typeof (data as { length?: unknown }).length !== 'number') {
    throw new DTypeError(
      `fromNdarray: data must be an array or typed array, got ${data === null ? 'null' : typeof data}`,
    );
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    throw new DTypeError('fromNdarray: BigInt storage cannot be represented as float64 exactly; convert it first');
  }
  const storage = data as ArrayLike<unknown>;
  const start = offset as number;
  const size = shape.reduce((p, d) => p * d, 1);

  // Every addressed index must lie in the storage: the smallest and largest are reached by
  // putting each axis at its end with the matching stride sign.
  if (size > 0) {
    let lo = start;
    let hi = start;
    for (let k = 0; k < shape.length; k++) {
      const reach = (shape[k]! - 1) * stride[k]!;
      if (reach < 0) lo += reach;
      else hi += reach;
    }
    if (lo < 0 || hi >= storage.length) {
      throw new ShapeError(
        `fromNdarray: shape [${shape.join(',')}] with stride [${stride.join(',')}] and offset ${start} addresses ` +
          `indices ${lo}…${hi} outside the storage of length ${storage.length}`,
      );
    }
  }

  // Checked for views too: a stride-0 ndarray can be far larger than its storage, and every
  // op on the tensor would allocate its size.
  checkAllocation('fromNdarray', shape);
  const float = storage instanceof Float64Array || storage instanceof Float32Array;
  if (float && options.copy !== true) return new Tensor(storage, [...shape], [...stride], start);

  const out = float ? new (storage.constructor as Float64ArrayConstructor)(size) : new Float64Array(size);
  const index = new Array<number>(shape.length).fill(0);
  let pos = start;
  for (let i = 0; i < size; i++) {
    const v = storage[pos];
    if (typeof v !== 'number') {
      throw new DTypeError(`fromNdarray: element [${index.join(',')}] is ${typeof v}, not a number`);
    }
    out[i] = v;
    // Advance the multi-index in C order, keeping the storage position in step.
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++index[k]! < shape[k]!) {
        pos += stride[k]!;
        break;
      }
      pos -= (shape[k]! - 1) * stride[k]!;
      index[k] = 0;
    }
  }
  return new Tensor(out, [...shape]);
}
