import { AllocationError, DTypeError, ValueError, fmtArg } from './errors.js';

/** The two float dtypes. float64 is the default and the reference for every test. */
export type DType = 'float64' | 'float32';
/** The storage of a tensor: a Float64Array for float64, a Float32Array for float32. */
export type TypedArray = Float64Array | Float32Array;

/** The dtype a constructor uses when its options give none: float64. */
export const DEFAULT_DTYPE: DType = 'float64';

/**
 * The most elements a tensor may hold: 2^28, i.e. 2 GiB of float64 (1 GiB of float32). Every
 * shape an op is asked to build (constructors, broadcasts, matmul, concat, arange, reshape,
 * expand…) is checked against it before anything is allocated, and refused with an
 * AllocationError naming the op and the shape. Why a cap: beyond ~2^31 bytes V8 throws a bare
 * RangeError, and below that a request of many GiB (e.g. `zeros([2 ** 31])`, 16 GiB) can get
 * the process OOM-killed instead of throwing; 2 GiB is far above what pure-JS kernels are
 * useful for, and still allocatable on a typical machine.
 */
export const MAX_ELEMENTS = 2 ** 28;

/**
 * `dtype` if it is 'float64' or 'float32'; anything else (an unknown name such as 'int8' or
 * 'float16', undefined, a non-string) is a DTypeError naming the op: a dtype is never guessed.
 * The one dtype check of every op that accepts a dtype.
 */
export function checkDType(op: string, dtype: unknown): DType {
  if (dtype === 'float64' || dtype === 'float32') return dtype;
  throw new DTypeError(
    `${op}: dtype must be 'float64' or 'float32', got ${typeof dtype === 'string' ? `'${dtype}'` : fmtArg(dtype)}`,
  );
}

/**
 * The dtype of an op's `options` object: `options.dtype` checked by `checkDType`, or `fallback`
 * when the options (or their dtype) are absent. Options that are not an object (e.g. the
 * string 'float32' passed in their place) are a ValueError rather than silently ignored.
 */
export function dtypeOption(op: string, options: unknown, fallback: DType = DEFAULT_DTYPE): DType {
  if (options === undefined || options === null) return fallback;
  if (typeof options !== 'object') {
    throw new ValueError(`${op}: options must be an object such as { dtype: 'float32' }, got ${fmtArg(options)}`);
  }
  const dtype = (options as { dtype?: unknown }).dtype;
  return dtype === undefined ? fallback : checkDType(op, dtype);
}

// Small arrays are carved out of shared 16 KiB slabs. V8 keeps typed arrays of up to 64 bytes
// on its heap, but a larger one gets its own off-heap backing store, and allocating that
// cost ~10× the whole of a 4×4 op (measured: ~1–2 µs vs ~0.1 µs for a view of a slab).
// The price: one long-lived small tensor keeps its whole slab alive (at most 16 KiB).
const SLAB_BYTES = 16 * 1024;
const SLAB_MAX_BYTES = 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A zero-filled typed array. It may be a view into a shared buffer (see Tensor.data). Ops check
 * their shapes first (naming themselves); this check is the backstop of the one place storage
 * is allocated: a length that is not an integer in [0, MAX_ELEMENTS], or a bad dtype, throws
 * here rather than as a RangeError or a silent float32.
 */
export function allocate(dtype: DType, length: number): TypedArray {
  if ((length | 0) !== length || length < 0 || length > MAX_ELEMENTS || (dtype !== 'float64' && dtype !== 'float32')) {
    refuseAllocation(dtype, length);
  }
  const bytes = dtype === 'float64' ? length * 8 : length * 4;
  if (bytes <= 64 || bytes > SLAB_MAX_BYTES)
    return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view =
    dtype === 'float64' ? new Float64Array(slab, slabUsed, length) : new Float32Array(slab, slabUsed, length);
  slabUsed += (bytes + 7) & ~7; // keep every view 8-byte aligned
  return view;
}

function refuseAllocation(dtype: unknown, length: unknown): never {
  checkDType('allocate', dtype);
  if (typeof length === 'number' && Number.isInteger(length) && length > MAX_ELEMENTS) {
    throw new AllocationError(`allocate: ${length} elements are more than MAX_ELEMENTS (${MAX_ELEMENTS})`);
  }
  throw new ValueError(`allocate: length must be an integer in [0, ${MAX_ELEMENTS}], got ${fmtArg(length)}`);
}

/** The dtype of a storage array: float64 for a Float64Array, float32 otherwise. */
export function dtypeOf(data: TypedArray): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/** Result dtype of an op over several inputs: float64 if any input is float64 (as NumPy). */
export function promoteTypes(a: DType, b: DType): DType {
  return a === 'float64' || b === 'float64' ? 'float64' : 'float32';
}

/** Machine epsilon of a dtype, used to scale tolerances. */
export function epsOf(dtype: DType): number {
  return dtype === 'float64' ? 2.220446049250313e-16 : 1.1920928955078125e-7;
}
