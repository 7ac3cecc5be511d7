/** The two float dtypes. float64 is the default and the reference for every test. */
export type DType = 'float64' | 'float32';
/** The storage of a tensor: a Float64Array for float64, a Float32Array for float32. */
export type TypedArray = Float64Array | Float32Array;

/** The dtype a constructor uses when its options give none: float64. */
export const DEFAULT_DTYPE: DType = 'float64';

// Small arrays are carved out of shared 16 KiB slabs. V8 keeps typed arrays of up to 64 bytes
// on its heap, but a larger one gets its own off-heap backing store, and allocating that
// cost ~10× the whole of a 4×4 op (measured: ~1–2 µs vs ~0.1 µs for a view of a slab).
// The price: one long-lived small tensor keeps its whole slab alive (at most 16 KiB).
const SLAB_BYTES = 16 * 1024;
const SLAB_MAX_BYTES = 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/** A zero-filled typed array. It may be a view into a shared buffer (see Tensor.data). */
export function allocate(dtype: DType, length: number): TypedArray {
  const bytes = dtype === 'float64' ? length * 8 : length * 4;
  if (bytes <= 64 || bytes > SLAB_MAX_BYTES) return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = dtype === 'float64' ? new Float64Array(slab, slabUsed, length) : new Float32Array(slab, slabUsed, length);
  slabUsed += (bytes + 7) & ~7; // keep every view 8-byte aligned
  return view;
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
