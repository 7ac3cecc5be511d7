/**
 * Matrix products, single-threaded pure JS. Three kernels, chosen by size:
 *
 * - square 2×2, 3×3, 4×4 products: written out in full, one loop over the whole batch;
 * - small products (m·k·n up to about 25³, or fewer than 4 rows or columns): 4×4 tiles of
 *   C in locals read straight from the operands, one loop over the whole batch;
 * - everything else: a cache-blocked GEMM that packs blocks of A and B into contiguous
 *   buffers and computes 4×4 tiles of C in locals (the Goto/BLIS scheme).
 *
 * Every kernel reads the operands through their strides, so transposed views and stride-0
 * broadcast batch axes cost no copy, and no kernel allocates per matrix of a batch.
 * The kernels accept Float64Array and Float32Array alike and sum in float64.
 *
 * With `setNumThreads(k)`, k > 1, a blocked product of at least `threading.minWork`
 * multiply-adds is split between the calling thread and k − 1 workers (threads.ts): whole
 * products of a batch, or whole 4-row tiles of each product, per thread. Every output element
 * is still summed by the same kernel in the same order, so results are bit-identical to one
 * thread.
 */
import { allocate, MAX_ELEMENTS, promoteTypes, type TypedArray } from './dtype.js';
import { ShapeError, fmtShape } from './errors.js';
import { checkAllocation, sizeOf } from './shape.js';
import { checkTensor, Tensor } from './tensor.js';
import { runParallel, usableThreads } from './threads.js';

/**
 * The matrix product with NumPy's `matmul` semantics.
 *
 * - 2-d @ 2-d: `[m,k] @ [k,n] → [m,n]`.
 * - A 1-d left operand is a row vector and a 1-d right operand a column vector; the added
 *   axis is removed from the result (vector·vector gives a 0-d tensor).
 * - Leading (batch) axes broadcast: `[2,1,3,4] @ [5,4,6] → [2,5,3,6]`.
 * - Mixed dtypes promote to float64. The result is a fresh contiguous tensor.
 * - Size-0 axes give an empty result; k = 0 gives zeros. NaN and ±∞ propagate as in the
 *   naive sum. Sums are formed in float64 (float32 results are rounded once), in an order
 *   that may differ from the naive loop's, so results can differ from it by rounding.
 *
 * Throws a ShapeError for 0-d operands, differing inner dimensions, or batch axes that do
 * not broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', a, 'a');
  checkTensor('matmul', b, 'b');
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(`matmul: operands need at least 1 axis, got ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  }
  // 1-d operands become a 1×k row / k×1 column matrix whose extra axis has stride 0.
  const aVec = a.ndim === 1;
  const bVec = b.ndim === 1;
  const aShape = aVec ? [1, a.shape[0]!] : [...a.shape];
  const bShape = bVec ? [b.shape[0]!, 1] : [...b.shape];
  const m = aShape[aShape.length - 2]!;
  const k = aShape[aShape.length - 1]!;
  const n = bShape[bShape.length - 1]!;
  const kb = bShape[bShape.length - 2]!;
  if (k !== kb) {
    throw new ShapeError(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${k} ≠ ${kb})`);
  }
  const batch = broadcastBatch(a.shape, b.shape, aShape.slice(0, -2), bShape.slice(0, -2));

  const dtype = promoteTypes(a.dtype, b.dtype);
  const A = a.astype(dtype);
  const B = b.astype(dtype);
  const aStrides = aVec ? [0, A.strides[0]!] : [...A.strides];
  const bStrides = bVec ? [B.strides[0]!, 0] : [...B.strides];
  const outShape = [...batch, ...(aVec ? [] : [m]), ...(bVec ? [] : [n])];
  const count = sizeOf(batch) * m * n;
  // the full rule only off the common path: too many elements, or an empty result whose other sizes may be huge
  if (count === 0 || count > MAX_ELEMENTS) checkAllocation('matmul', [...batch, m, n]);
  const out = allocate(dtype, count);
  if (out.length === 0 || k === 0) return new Tensor(out, outShape);

  const plan: Plan = {
    m,
    k,
    n,
    rsA: aStrides[aStrides.length - 2]!,
    csA: aStrides[aStrides.length - 1]!,
    rsB: bStrides[bStrides.length - 2]!,
    csB: bStrides[bStrides.length - 1]!,
    ...planBatch(batch, aShape, aStrides, A.offset, bShape, bStrides, B.offset),
  };
  if (m === k && k === n && m >= 2 && m <= 4) unrolledBatched(A.data, B.data, out, plan);
  else if (m * k * n <= SMALL_WORK || m < MR || n < NR) smallBatched(A.data, B.data, out, plan);
  else {
    const threads = count * k >= threading.minWork ? usableThreads('matmul') : 1;
    if (threads > 1) blockedParallel(A.data, B.data, out, plan, threads);
    else blockedBatched(A.data, B.data, out, plan);
  }
  return new Tensor(out, outShape);
}

/**
 * What a kernel needs: the matrix sizes, the row/column strides of A (m×k) and B (k×n), and
 * the walk over the batch. The batch is walked as `offA.length` runs of `inner` matrices:
 * run r starts at storage offsets offA[r] / offB[r] and steps by sA / sB. C is written
 * contiguously in that order.
 */
interface Plan {
  m: number;
  k: number;
  n: number;
  rsA: number;
  csA: number;
  rsB: number;
  csB: number;
  offA: number[];
  offB: number[];
  inner: number;
  sA: number;
  sB: number;
}

/** Broadcasts the batch axes, naming the full operand shapes in the error. */
function broadcastBatch(
  aFull: readonly number[],
  bFull: readonly number[],
  aBatch: number[],
  bBatch: number[],
): number[] {
  const ndim = Math.max(aBatch.length, bBatch.length);
  const out: number[] = [];
  for (let i = 0; i < ndim; i++) {
    const da = aBatch[i - ndim + aBatch.length] ?? 1;
    const db = bBatch[i - ndim + bBatch.length] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `matmul: batch axes do not broadcast: ${fmtShape(aFull)} @ ${fmtShape(bFull)} ` +
          `(batch axis ${i - ndim}: ${da} ≠ ${db})`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * The batch walk of `Plan`. Axes of size 1 are dropped and neighbouring axes merged when both
 * operands step through them evenly (always so for contiguous and broadcast operands), so
 * the innermost run is as long as possible and `[4096,4,4] @ [4096,4,4]` is a single run.
 */
function planBatch(
  batch: readonly number[],
  aShape: readonly number[],
  aStrides: readonly number[],
  aOffset: number,
  bShape: readonly number[],
  bStrides: readonly number[],
  bOffset: number,
): Pick<Plan, 'offA' | 'offB' | 'inner' | 'sA' | 'sB'> {
  // Batch strides of an operand over the broadcast batch: 0 where it lacks the axis or has size 1.
  const batchStride = (shape: readonly number[], strides: readonly number[], axis: number): number => {
    const j = axis - (batch.length - (shape.length - 2));
    return j < 0 || shape[j] === 1 ? 0 : strides[j]!;
  };
  const sizes: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < batch.length; i++) {
    const d = batch[i]!;
    if (d === 1) continue;
    const x = batchStride(aShape, aStrides, i);
    const y = batchStride(bShape, bStrides, i);
    const last = sizes.length - 1;
    if (last >= 0 && sa[last] === x * d && sb[last] === y * d) {
      sizes[last] *= d;
      sa[last] = x;
      sb[last] = y;
    } else {
      sizes.push(d);
      sa.push(x);
      sb.push(y);
    }
  }
  const inner = sizes.pop() ?? 1;
  const sA = sa.pop() ?? 0;
  const sB = sb.pop() ?? 0;
  const runs = sizeOf(sizes);
  const offA = new Array<number>(runs);
  const offB = new Array<number>(runs);
  const counter = new Array<number>(sizes.length).fill(0);
  let pa = aOffset;
  let pb = bOffset;
  for (let r = 0; r < runs; r++) {
    offA[r] = pa;
    offB[r] = pb;
    for (let ax = sizes.length - 1; ax >= 0; ax--) {
      pa += sa[ax]!;
      pb += sb[ax]!;
      if (++counter[ax]! < sizes[ax]!) break;
      pa -= sa[ax]! * sizes[ax]!;
      pb -= sb[ax]! * sizes[ax]!;
      counter[ax] = 0;
    }
  }
  return { offA, offB, inner, sA, sB };
}

// ---------------------------------------------------------------------------------------------
// Small products

/** Up to this m·k·n (about 25³) packing costs the blocked kernel more than it saves. */
const SMALL_WORK = 16384;

/**
 * C = A·B for every matrix of the batch, straight from the strided operands (no packing):
 * 4×4 tiles of C held in locals, then 4×1, 1×4 and 1×1 strips for the edges.
 */
function smallBatched(A: TypedArray, B: TypedArray, C: TypedArray, plan: Plan): void {
  const { m, k, n, rsA, csA, rsB, csB, offA, offB, inner, sA, sB } = plan;
  const rsA2 = 2 * rsA,
    rsA3 = 3 * rsA;
  const csB2 = 2 * csB,
    csB3 = 3 * csB;
  const n2 = 2 * n,
    n3 = 3 * n;
  let c0 = 0;
  for (let r = 0; r < offA.length; r++) {
    for (let t = 0, a0 = offA[r]!, b0 = offB[r]!; t < inner; t++, a0 += sA, b0 += sB, c0 += m * n) {
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const ai = a0 + i * rsA;
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          let s00 = 0,
            s01 = 0,
            s02 = 0,
            s03 = 0;
          let s10 = 0,
            s11 = 0,
            s12 = 0,
            s13 = 0;
          let s20 = 0,
            s21 = 0,
            s22 = 0,
            s23 = 0;
          let s30 = 0,
            s31 = 0,
            s32 = 0,
            s33 = 0;
          for (let p = 0, pa = ai, pb = b0 + j * csB; p < k; p++, pa += csA, pb += rsB) {
            const x0 = A[pa]!,
              x1 = A[pa + rsA]!,
              x2 = A[pa + rsA2]!,
              x3 = A[pa + rsA3]!;
            const y0 = B[pb]!,
              y1 = B[pb + csB]!,
              y2 = B[pb + csB2]!,
              y3 = B[pb + csB3]!;
            s00 += x0 * y0;
            s01 += x0 * y1;
            s02 += x0 * y2;
            s03 += x0 * y3;
            s10 += x1 * y0;
            s11 += x1 * y1;
            s12 += x1 * y2;
            s13 += x1 * y3;
            s20 += x2 * y0;
            s21 += x2 * y1;
            s22 += x2 * y2;
            s23 += x2 * y3;
            s30 += x3 * y0;
            s31 += x3 * y1;
            s32 += x3 * y2;
            s33 += x3 * y3;
          }
          const c = c0 + i * n + j;
          C[c] = s00;
          C[c + 1] = s01;
          C[c + 2] = s02;
          C[c + 3] = s03;
          C[c + n] = s10;
          C[c + n + 1] = s11;
          C[c + n + 2] = s12;
          C[c + n + 3] = s13;
          C[c + n2] = s20;
          C[c + n2 + 1] = s21;
          C[c + n2 + 2] = s22;
          C[c + n2 + 3] = s23;
          C[c + n3] = s30;
          C[c + n3 + 1] = s31;
          C[c + n3 + 2] = s32;
          C[c + n3 + 3] = s33;
        }
        for (; j < n; j++) {
          let s0 = 0,
            s1 = 0,
            s2 = 0,
            s3 = 0;
          for (let p = 0, pa = ai, pb = b0 + j * csB; p < k; p++, pa += csA, pb += rsB) {
            const y = B[pb]!;
            s0 += A[pa]! * y;
            s1 += A[pa + rsA]! * y;
            s2 += A[pa + rsA2]! * y;
            s3 += A[pa + rsA3]! * y;
          }
          const c = c0 + i * n + j;
          C[c] = s0;
          C[c + n] = s1;
          C[c + n2] = s2;
          C[c + n3] = s3;
        }
      }
      for (; i < m; i++) {
        const ai = a0 + i * rsA;
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          let s0 = 0,
            s1 = 0,
            s2 = 0,
            s3 = 0;
          for (let p = 0, pa = ai, pb = b0 + j * csB; p < k; p++, pa += csA, pb += rsB) {
            const x = A[pa]!;
            s0 += x * B[pb]!;
            s1 += x * B[pb + csB]!;
            s2 += x * B[pb + csB2]!;
            s3 += x * B[pb + csB3]!;
          }
          const c = c0 + i * n + j;
          C[c] = s0;
          C[c + 1] = s1;
          C[c + 2] = s2;
          C[c + 3] = s3;
        }
        for (; j < n; j++) {
          let s = 0;
          for (let p = 0, pa = ai, pb = b0 + j * csB; p < k; p++, pa += csA, pb += rsB) s += A[pa]! * B[pb]!;
          C[c0 + i * n + j] = s;
        }
      }
    }
  }
}

/** Square products of size 2…4 over the whole batch, each product written out in full. */
function unrolledBatched(A: TypedArray, B: TypedArray, C: TypedArray, plan: Plan): void {
  if (plan.m === 4) mul4(A, B, C, plan);
  else if (plan.m === 3) mul3(A, B, C, plan);
  else mul2(A, B, C, plan);
}

function mul2(A: TypedArray, B: TypedArray, C: TypedArray, plan: Plan): void {
  const { rsA, csA, rsB, csB, offA, offB, inner, sA, sB } = plan;
  let c = 0;
  for (let r = 0; r < offA.length; r++) {
    for (let t = 0, a = offA[r]!, b = offB[r]!; t < inner; t++, a += sA, b += sB, c += 4) {
      const a00 = A[a]!,
        a01 = A[a + csA]!;
      const a10 = A[a + rsA]!,
        a11 = A[a + rsA + csA]!;
      const b00 = B[b]!,
        b01 = B[b + csB]!;
      const b10 = B[b + rsB]!,
        b11 = B[b + rsB + csB]!;
      C[c] = a00 * b00 + a01 * b10;
      C[c + 1] = a00 * b01 + a01 * b11;
      C[c + 2] = a10 * b00 + a11 * b10;
      C[c + 3] = a10 * b01 + a11 * b11;
    }
  }
}

function mul3(A: TypedArray, B: TypedArray, C: TypedArray, plan: Plan): void {
  const { rsA, csA, rsB, csB, offA, offB, inner, sA, sB } = plan;
  const csA2 = 2 * csA;
  const csB2 = 2 * csB;
  let c = 0;
  for (let r = 0; r < offA.length; r++) {
    for (let t = 0, a0 = offA[r]!, b0 = offB[r]!; t < inner; t++, a0 += sA, b0 += sB) {
      const b1 = b0 + rsB;
      const b2 = b1 + rsB;
      const b00 = B[b0]!,
        b01 = B[b0 + csB]!,
        b02 = B[b0 + csB2]!;
      const b10 = B[b1]!,
        b11 = B[b1 + csB]!,
        b12 = B[b1 + csB2]!;
      const b20 = B[b2]!,
        b21 = B[b2 + csB]!,
        b22 = B[b2 + csB2]!;
      for (let i = 0, a = a0; i < 3; i++, a += rsA, c += 3) {
        const x0 = A[a]!,
          x1 = A[a + csA]!,
          x2 = A[a + csA2]!;
        C[c] = x0 * b00 + x1 * b10 + x2 * b20;
        C[c + 1] = x0 * b01 + x1 * b11 + x2 * b21;
        C[c + 2] = x0 * b02 + x1 * b12 + x2 * b22;
      }
    }
  }
}

function mul4(A: TypedArray, B: TypedArray, C: TypedArray, plan: Plan): void {
  const { rsA, csA, rsB, csB, offA, offB, inner, sA, sB } = plan;
  const csA2 = 2 * csA,
    csA3 = 3 * csA;
  const csB2 = 2 * csB,
    csB3 = 3 * csB;
  let c = 0;
  for (let r = 0; r < offA.length; r++) {
    for (let t = 0, a0 = offA[r]!, b0 = offB[r]!; t < inner; t++, a0 += sA, b0 += sB) {
      const b1 = b0 + rsB;
      const b2 = b1 + rsB;
      const b3 = b2 + rsB;
      const b00 = B[b0]!,
        b01 = B[b0 + csB]!,
        b02 = B[b0 + csB2]!,
        b03 = B[b0 + csB3]!;
      const b10 = B[b1]!,
        b11 = B[b1 + csB]!,
        b12 = B[b1 + csB2]!,
        b13 = B[b1 + csB3]!;
      const b20 = B[b2]!,
        b21 = B[b2 + csB]!,
        b22 = B[b2 + csB2]!,
        b23 = B[b2 + csB3]!;
      const b30 = B[b3]!,
        b31 = B[b3 + csB]!,
        b32 = B[b3 + csB2]!,
        b33 = B[b3 + csB3]!;
      for (let i = 0, a = a0; i < 4; i++, a += rsA, c += 4) {
        const x0 = A[a]!,
          x1 = A[a + csA]!,
          x2 = A[a + csA2]!,
          x3 = A[a + csA3]!;
        C[c] = x0 * b00 + x1 * b10 + x2 * b20 + x3 * b30;
        C[c + 1] = x0 * b01 + x1 * b11 + x2 * b21 + x3 * b31;
        C[c + 2] = x0 * b02 + x1 * b12 + x2 * b22 + x3 * b32;
        C[c + 3] = x0 * b03 + x1 * b13 + x2 * b23 + x3 * b33;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Blocked GEMM

/** Register tile: the macro-kernel keeps an MR×NR block of C in local variables. */
const MR = 4;
const NR = 4;
/** Cache blocks: a KC×NR sliver of B stays in L1 while an MC×KC block of A streams from L2. */
const KC = 128;
const MC = 64;
const NC = 512;

/**
 * A packed buffer. Plain arrays of doubles (PACKED_DOUBLE_ELEMENTS in V8) load faster than
 * typed arrays in the micro-kernel loop; seeding with 0.5 makes the array hold doubles from
 * the start, so integer data never leaves it with another elements kind.
 */
function packBuffer(length: number): number[] {
  let buf = [0.5];
  while (buf.length < length) buf = buf.concat(buf);
  buf.length = length;
  return buf;
}

// The two pack buffers of this thread, kept between calls and grown as needed (building them
// anew cost up to a megabyte of allocation per product); the blocking bounds them at MC·KC and
// NC·KC doubles. blockedBatched never re-enters itself.
const packed = { a: packBuffer(1), b: packBuffer(1) };

/** This thread's pack buffer `which`, at least `length` long (its contents are overwritten). */
function packScratch(which: 'a' | 'b', length: number): number[] {
  if (packed[which].length < length) packed[which] = packBuffer(length);
  return packed[which];
}

/**
 * The products the blocked kernel computes for a plan. A run sharing one B whose A matrices
 * are stacked rows of one taller matrix (`x @ W` in a linear layer) is a single product, so B
 * is packed once per run, not once per matrix.
 */
function blockedProducts(plan: Plan): { rows: number; perRun: number; products: number } {
  const stacked = plan.sB === 0 && plan.sA === plan.m * plan.rsA;
  const perRun = stacked ? 1 : plan.inner;
  return { rows: stacked ? plan.inner * plan.m : plan.m, perRun, products: plan.offA.length * perRun };
}

/**
 * The part of a blocked matmul one thread computes: products q0 … q1 − 1 of the batch walk,
 * rows i0 … i1 − 1 of each (rows of the stacked matrix for a stacked run).
 */
interface Share {
  q0: number;
  q1: number;
  i0: number;
  i1: number;
}

/**
 * C = A·B for every matrix of the batch by the blocked kernel (or the `share` of it); the pack
 * buffers serve the whole batch. The sums of an element do not depend on which other rows
 * are in the same call, which is what makes a split between threads bit-identical.
 */
function blockedBatched(A: TypedArray, B: TypedArray, C: TypedArray, plan: Plan, share?: Share): void {
  const { k, n, rsA, offA, offB, sA, sB } = plan;
  const { rows, perRun, products } = blockedProducts(plan);
  const { q0, q1, i0, i1 } = share ?? { q0: 0, q1: products, i0: 0, i1: rows };
  const mine = i1 - i0;
  if (mine <= 0 || q1 <= q0) return;
  const kc = Math.min(KC, k);
  const Ap = packScratch('a', roundUp(Math.min(MC, mine), MR) * kc);
  const Bp = packScratch('b', roundUp(Math.min(NC, n), NR) * kc);
  // The kernel accumulates whole MR×NR tiles in float64: into C itself when it is float64
  // and tiles fit exactly, otherwise into a padded buffer whose valid part is copied out
  // (rounding float32 results once).
  const mPad = roundUp(mine, MR);
  const nPad = roundUp(n, NR);
  const direct = C instanceof Float64Array && mPad === mine && nPad === n;
  const acc = direct ? C : new Float64Array(mPad * nPad);
  let q = 0;
  for (let r = 0; r < offA.length; r++) {
    for (let t = 0, a0 = offA[r]!, b0 = offB[r]!; t < perRun; t++, q++, a0 += sA, b0 += sB) {
      if (q < q0 || q >= q1) continue;
      const c = (q * rows + i0) * n;
      if (direct) {
        gemm(A, a0 + i0 * rsA, B, b0, mine, acc, c, n, plan, Ap, Bp);
        continue;
      }
      acc.fill(0);
      gemm(A, a0 + i0 * rsA, B, b0, mine, acc, 0, nPad, plan, Ap, Bp);
      for (let i = 0, dst = c; i < mine; i++) for (let j = 0, src = i * nPad; j < n; j++) C[dst++] = acc[src + j]!;
    }
  }
}

/**
 * Threading of the blocked kernel. `minWork` (multiply-adds, m·k·n over the batch) is where
 * two threads start to beat one on `bench/matmul-threads.ts` (2 free cores: 0.7–0.8× at 64³,
 * 1.0–1.1× at 96³, 1.1–1.3× at 128³, 1.3–1.9× from 192³): below it, copying the operands to
 * shared memory and waking a worker cost about as much as the half of the product they save.
 * `scratchMaxBytes`: the largest shared operand or output kept for the next call (larger ones
 * are allocated per call, so that one huge product does not pin its memory for good).
 * Mutable so the benchmark and tests can move them; not part of the public API.
 */
export const threading = { minWork: 2 ** 20, scratchMaxBytes: 16 * 1024 * 1024 };

/**
 * The blocked kernel on `threads` threads. The operands are copied (the span of storage they
 * address) into SharedArrayBuffers, the workers and this thread each compute a share into a
 * shared output, which is then copied into C: tensors never end up backed by shared memory.
 * Whole products are shared out when the batch divides evenly (or is long), else whole MR-row
 * tiles of every product.
 */
function blockedParallel(A: TypedArray, B: TypedArray, C: TypedArray, plan: Plan, threads: number): void {
  const { rows, products } = blockedProducts(plan);
  const tiles = Math.ceil(rows / MR);
  const byProduct = products % threads === 0 || products >= 4 * threads;
  const parts = byProduct ? threads : Math.min(threads, tiles);
  if (parts === 1) {
    blockedBatched(A, B, C, plan);
    return;
  }
  const shares: Share[] = [];
  for (let p = 0; p < parts; p++) {
    if (byProduct) {
      shares.push({
        q0: Math.floor((products * p) / parts),
        q1: Math.floor((products * (p + 1)) / parts),
        i0: 0,
        i1: rows,
      });
    } else {
      const i0 = Math.min(rows, Math.floor((tiles * p) / parts) * MR);
      const i1 = Math.min(rows, Math.floor((tiles * (p + 1)) / parts) * MR);
      shares.push({ q0: 0, q1: products, i0, i1 });
    }
  }
  const a = shareOperand('a', A, plan.offA, [plan.sA, plan.inner], [plan.rsA, plan.m], [plan.csA, plan.k]);
  const b = shareOperand('b', B, plan.offB, [plan.sB, plan.inner], [plan.rsB, plan.k], [plan.csB, plan.n]);
  const shared: Plan = { ...plan, offA: plan.offA.map((o) => o - a.lo), offB: plan.offB.map((o) => o - b.lo) };
  // zeroed: the kernel accumulates into a float64 output
  const out = sharedArray('c', C instanceof Float64Array, C.length).fill(0);
  const tasks = shares.slice(1).map((share) => ({ op: 'matmul', A: a.data, B: b.data, C: out, plan: shared, share }));
  try {
    runParallel('matmul', tasks, () => blockedBatched(a.data, b.data, out, shared, shares[0]));
  } catch (error) {
    // a stalled worker may still write into these later: the next call gets fresh ones
    sharedScratch.a = sharedScratch.b = sharedScratch.c = null;
    throw error;
  }
  C.set(out);
}

// The shared operands and output of the threaded kernel, kept between calls and grown as needed
// (a fresh SharedArrayBuffer per operand per call cost more than the copies into it), up to
// `threading.scratchMaxBytes` each. Each call fills them before use and is over before the next
// one starts.
const sharedScratch: Record<'a' | 'b' | 'c', SharedArrayBuffer | null> = { a: null, b: null, c: null };

/** A view of `length` elements of the shared scratch `slot` (stale contents: the caller fills it). */
function sharedArray(slot: 'a' | 'b' | 'c', float64: boolean, length: number): TypedArray {
  const bytes = (float64 ? 8 : 4) * length;
  let buf = sharedScratch[slot];
  if (buf === null || buf.byteLength < bytes) {
    buf = new SharedArrayBuffer(bytes);
    if (bytes <= threading.scratchMaxBytes) sharedScratch[slot] = buf;
  }
  return float64 ? new Float64Array(buf, 0, length) : new Float32Array(buf, 0, length);
}

/**
 * A shared copy of the part of `data` that offsets + Σ index·stride address (each axis given
 * as [stride, size]; strides may be negative or 0), and the storage index `lo` it starts at.
 */
function shareOperand(
  slot: 'a' | 'b',
  data: TypedArray,
  offsets: readonly number[],
  ...axes: [stride: number, size: number][]
): { data: TypedArray; lo: number } {
  let lo = offsets[0]!;
  let hi = lo;
  for (const o of offsets) {
    if (o < lo) lo = o;
    else if (o > hi) hi = o;
  }
  for (const [stride, size] of axes) {
    const reach = stride * (size - 1);
    if (reach < 0) lo += reach;
    else hi += reach;
  }
  if (data.buffer instanceof SharedArrayBuffer) return { data, lo: 0 };
  const copy = sharedArray(slot, data instanceof Float64Array, hi - lo + 1);
  copy.set(data.subarray(lo, hi + 1));
  return { data: copy, lo };
}

/**
 * One thread's share of a blocked matmul, as posted by `blockedParallel`: what a pool worker
 * runs for a 'matmul' task. Internal (not exported by the package).
 */
export function matmulTask(task: Record<string, unknown>): void {
  const { A, B, C, plan, share } = task as { A: TypedArray; B: TypedArray; C: TypedArray; plan: Plan; share: Share };
  blockedBatched(A, B, C, plan, share);
}

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/**
 * acc[cOff + i·ldc + j] += Σ_p A[i,p]·B[p,j] for one m×k by k×n pair; acc is padded to whole
 * tiles. Loop order of Goto's GEMM: a KC×NC panel of B is packed once and reused for every
 * MC-row block of A.
 */
function gemm(
  A: TypedArray,
  a0: number,
  B: TypedArray,
  b0: number,
  m: number,
  acc: Float64Array,
  cOff: number,
  ldc: number,
  plan: Plan,
  Ap: number[],
  Bp: number[],
): void {
  const { k, n, rsA, csA, rsB, csB } = plan;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packB(B, b0 + pc * rsB + jc * csB, rsB, csB, kc, nc, Bp);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        packA(A, a0 + ic * rsA + pc * csA, rsA, csA, mc, kc, Ap);
        macroKernel(kc, mc, nc, Ap, Bp, acc, cOff + ic * ldc + jc, ldc);
      }
    }
  }
}

/**
 * Packs an mc×kc block of A as slivers of MR rows: sliver s holds A[s·MR + r, p] at
 * s·MR·kc + p·MR + r, zero-padded.
 */
function packA(A: TypedArray, a0: number, rs: number, cs: number, mc: number, kc: number, Ap: number[]): void {
  let q = 0;
  for (let i0 = 0; i0 < mc; i0 += MR) {
    const rows = Math.min(MR, mc - i0);
    for (let p = 0; p < kc; p++) {
      const src = a0 + i0 * rs + p * cs;
      for (let r = 0; r < rows; r++) Ap[q + r] = A[src + r * rs]!;
      for (let r = rows; r < MR; r++) Ap[q + r] = 0;
      q += MR;
    }
  }
}

/**
 * Packs a kc×nc panel of B as slivers of NR columns: sliver s holds B[p, s·NR + c] at
 * s·NR·kc + p·NR + c, zero-padded.
 */
function packB(B: TypedArray, b0: number, rs: number, cs: number, kc: number, nc: number, Bp: number[]): void {
  let q = 0;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = Math.min(NR, nc - j0);
    for (let p = 0; p < kc; p++) {
      const src = b0 + p * rs + j0 * cs;
      for (let c = 0; c < cols; c++) Bp[q + c] = B[src + c * cs]!;
      for (let c = cols; c < NR; c++) Bp[q + c] = 0;
      q += NR;
    }
  }
}

/**
 * acc[cOff + (i, j)] += packed A block · packed B panel, one MR×NR tile at a time, the tile
 * held in 16 locals. `(x + c) | 0` indices spare V8 an overflow check per load.
 */
function macroKernel(
  kc: number,
  mc: number,
  nc: number,
  Ap: number[],
  Bp: number[],
  acc: Float64Array,
  cOff: number,
  ldc: number,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    for (let ir = 0; ir < mc; ir += MR) {
      let a = ir * kc;
      let b = jr * kc;
      let c00 = 0,
        c01 = 0,
        c02 = 0,
        c03 = 0;
      let c10 = 0,
        c11 = 0,
        c12 = 0,
        c13 = 0;
      let c20 = 0,
        c21 = 0,
        c22 = 0,
        c23 = 0;
      let c30 = 0,
        c31 = 0,
        c32 = 0,
        c33 = 0;
      for (let p = 0; p < kc; p++, a += MR, b += NR) {
        const a0 = Ap[a]!,
          a1 = Ap[(a + 1) | 0]!,
          a2 = Ap[(a + 2) | 0]!,
          a3 = Ap[(a + 3) | 0]!;
        const b0 = Bp[b]!,
          b1 = Bp[(b + 1) | 0]!,
          b2 = Bp[(b + 2) | 0]!,
          b3 = Bp[(b + 3) | 0]!;
        c00 += a0 * b0;
        c01 += a0 * b1;
        c02 += a0 * b2;
        c03 += a0 * b3;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c12 += a1 * b2;
        c13 += a1 * b3;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c22 += a2 * b2;
        c23 += a2 * b3;
        c30 += a3 * b0;
        c31 += a3 * b1;
        c32 += a3 * b2;
        c33 += a3 * b3;
      }
      let c = cOff + ir * ldc + jr;
      acc[c] += c00;
      acc[c + 1] += c01;
      acc[c + 2] += c02;
      acc[c + 3] += c03;
      c += ldc;
      acc[c] += c10;
      acc[c + 1] += c11;
      acc[c + 2] += c12;
      acc[c + 3] += c13;
      c += ldc;
      acc[c] += c20;
      acc[c + 1] += c21;
      acc[c + 2] += c22;
      acc[c + 3] += c23;
      c += ldc;
      acc[c] += c30;
      acc[c + 1] += c31;
      acc[c + 2] += c32;
      acc[c + 3] += c33;
    }
  }
}
