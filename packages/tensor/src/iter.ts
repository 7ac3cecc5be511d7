/**
 * Strided loops shared by the kernels. They walk an n-d view in C order with an odometer,
 * running the innermost axis as a tight loop so the common cases stay fast.
 */
import type { TypedArray } from './dtype.js';
import { sizeOf, type Shape } from './shape.js';

/** Copies the strided view (shape, strides, offset) of `src` into `dst` in C order. */
export function copyStrided(
  shape: Shape,
  strides: readonly number[],
  offset: number,
  src: TypedArray,
  dst: TypedArray,
  dstOffset = 0,
): void {
  const ndim = shape.length;
  if (ndim === 0) {
    dst[dstOffset] = src[offset]!;
    return;
  }
  const size = sizeOf(shape);
  if (size === 0) return;
  const inner = shape[ndim - 1]!;
  const innerStride = strides[ndim - 1]!;
  if (innerStride === 1 && isCContiguous(shape, strides)) {
    dst.set(src.subarray(offset, offset + size), dstOffset);
    return;
  }
  const counter = new Array<number>(ndim).fill(0);
  let pos = offset;
  let d = dstOffset;
  for (let row = size / inner; row > 0; row--) {
    for (let i = 0, p = pos; i < inner; i++, p += innerStride) dst[d++] = src[p]!;
    pos = advance(shape, strides, counter, ndim - 2, pos);
  }
}

/**
 * Moves an odometer over axes `0..lastAxis` by one step and returns the new storage position.
 * `counter` holds the current index per axis.
 */
export function advance(
  shape: Shape,
  strides: readonly number[],
  counter: number[],
  lastAxis: number,
  pos: number,
): number {
  for (let ax = lastAxis; ax >= 0; ax--) {
    pos += strides[ax]!;
    if (++counter[ax]! < shape[ax]!) return pos;
    pos -= strides[ax]! * shape[ax]!;
    counter[ax] = 0;
  }
  return pos;
}

/** True when the strides are those of a C-contiguous layout (size-1 axes may have any stride). */
export function isCContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    if (d === 0) return true;
    if (d !== 1 && strides[i] !== expected) return false;
    expected *= d;
  }
  return true;
}

/** Writes `valueAt(k)` to the k-th element (C order) of a strided view. Not a hot path. */
export function writeStrided(
  shape: Shape,
  strides: readonly number[],
  offset: number,
  dst: TypedArray,
  valueAt: (k: number) => number,
): void {
  const ndim = shape.length;
  const size = sizeOf(shape);
  if (ndim === 0) {
    dst[offset] = valueAt(0);
    return;
  }
  if (size === 0) return;
  const inner = shape[ndim - 1]!;
  const innerStride = strides[ndim - 1]!;
  const counter = new Array<number>(ndim).fill(0);
  let pos = offset;
  let k = 0;
  for (let row = size / inner; row > 0; row--) {
    for (let i = 0, p = pos; i < inner; i++, p += innerStride) dst[p] = valueAt(k++);
    pos = advance(shape, strides, counter, ndim - 2, pos);
  }
}

/**
 * Walks several strided operands of one shape together in C order, calling
 * `row(n, pos, steps)` once per innermost row: `n` elements, operand k starting at `pos[k]` and
 * stepping by `steps[k]` (0 for a broadcast operand). Size-1 axes are dropped and adjacent axes
 * that every operand steps over as one are merged first, so rows are as long as the layouts
 * allow (a contiguous walk is a single row). `pos` and `steps` are reused between calls: read
 * them, never change or keep them. Kernels put their per-element loop inside `row`, so the
 * callback runs once per row, never per element.
 */
export function forEachRow(
  shape: Shape,
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  row: (n: number, pos: number[], steps: number[]) => void,
): void {
  const ndim = shape.length;
  const k = strides.length;
  if (sizeOf(shape) === 0) return;
  // dims[0..nd) are the merged axes; merged[j][a] is operand j's stride along merged axis a
  const dims = new Array<number>(ndim);
  const merged = new Array<number[]>(k);
  for (let j = 0; j < k; j++) merged[j] = new Array<number>(ndim);
  let nd = 0;
  for (let ax = 0; ax < ndim; ax++) {
    const d = shape[ax]!;
    if (d === 1) continue;
    let mergeable = nd > 0;
    for (let j = 0; j < k && mergeable; j++) mergeable = merged[j]![nd - 1] === strides[j]![ax]! * d;
    if (mergeable) {
      dims[nd - 1] = dims[nd - 1]! * d;
      for (let j = 0; j < k; j++) merged[j]![nd - 1] = strides[j]![ax]!;
    } else {
      dims[nd] = d;
      for (let j = 0; j < k; j++) merged[j]![nd] = strides[j]![ax]!;
      nd++;
    }
  }
  const pos = offsets.slice();
  const steps = new Array<number>(k);
  for (let j = 0; j < k; j++) steps[j] = nd === 0 ? 0 : merged[j]![nd - 1]!;
  if (nd <= 1) {
    row(nd === 0 ? 1 : dims[0]!, pos, steps);
    return;
  }
  // Large walks where some operand is transposed in its last two axes (its inner step is larger
  // than its non-zero outer one) go tile by tile, so that operand's cache lines are used while
  // still cached (2× faster at 1024×1024). Within a column of tiles the rows still come top to
  // bottom and each row's pieces left to right, so an element that only one row or only one
  // column reaches is reached in C order. An operand with step 0 along both axes (a reduction's
  // output that both axes fold into) would see another order, so such walks are not tiled:
  // reductions then give the same bits whatever the input's layout.
  const outer = dims[nd - 2]!;
  const inner = dims[nd - 1]!;
  let tiled = false;
  if (outer >= TILE && inner >= TILE && outer * inner >= TILE_MIN_ELEMENTS) {
    for (let j = 0; j < k; j++) {
      const outerStep = Math.abs(merged[j]![nd - 2]!);
      const innerStep = Math.abs(merged[j]![nd - 1]!);
      if (outerStep === 0 && innerStep === 0) {
        tiled = false;
        break;
      }
      tiled ||= outerStep !== 0 && innerStep > outerStep;
    }
  }
  const base = pos.slice();
  const counter: number[] = [];
  for (let ax = 0; ax < nd - 2; ax++) counter.push(0); // (Array.prototype.fill costs more than this walk)
  let planes = 1;
  for (let ax = 0; ax < nd - 2; ax++) planes *= dims[ax]!;
  for (let r = planes; r > 0; r--) {
    if (tiled) {
      for (let i0 = 0; i0 < outer; i0 += TILE) {
        const iEnd = Math.min(i0 + TILE, outer);
        for (let c0 = 0; c0 < inner; c0 += TILE) {
          const n = Math.min(TILE, inner - c0);
          for (let i = i0; i < iEnd; i++) {
            for (let j = 0; j < k; j++) pos[j] = base[j]! + i * merged[j]![nd - 2]! + c0 * steps[j]!;
            row(n, pos, steps);
          }
        }
      }
    } else {
      for (let i = 0; i < outer; i++) {
        for (let j = 0; j < k; j++) pos[j] = base[j]! + i * merged[j]![nd - 2]!;
        row(inner, pos, steps);
      }
    }
    // an odometer over the remaining outer axes, shared by all operands
    for (let ax = nd - 3; ax >= 0; ax--) {
      if (++counter[ax]! < dims[ax]!) {
        for (let j = 0; j < k; j++) base[j] = base[j]! + merged[j]![ax]!;
        break;
      }
      counter[ax] = 0;
      for (let j = 0; j < k; j++) base[j] = base[j]! - merged[j]![ax]! * (dims[ax]! - 1);
    }
  }
}

/** Tile edge of forEachRow's tiled walk, and the smallest 2-d block worth tiling. */
const TILE = 32;
const TILE_MIN_ELEMENTS = 64 * 64;
