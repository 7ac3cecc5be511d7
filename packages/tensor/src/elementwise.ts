/**
 * Element-wise math with NumPy broadcasting. Every op returns a fresh contiguous tensor.
 *
 * Speed: autograd calls these on tiny tensors millions of times, so each op has its own
 * hand-written loop over the typed arrays. A shared loop calling a per-op callback per element
 * would make that call site megamorphic and V8 would stop inlining it. Every loop has one shape:
 * `n` elements, the output written contiguously from `po`, each input read from `p*` in steps of
 * `s*`. That one body serves all layouts:
 *
 * - same-shape contiguous inputs, or a number (or 0-d tensor) with a contiguous tensor: a single
 *   call with steps 1 and 0, before any other allocation than the output;
 * - any other broadcast or strided view: one call per innermost row of `forEachRow` (iter.ts),
 *   which merges the axes that every operand walks as one and tiles large transposed walks.
 *
 * ndarray-ops is not used: it needs an ndarray view of every operand and of the output (each
 * costs more than a whole 4×4 op), it lacks most of these ops (tanh, sigmoid, gelu, erf, softplus,
 * where, clamp, …), and on transposed/broadcast views these loops were 1.4–1.8× faster at 4×4,
 * about even at 16²–256² (0.5–1.4×, noisy) and 1.6–1.7× faster at 1024² (tiling).
 */
import { allocate, promoteTypes, type DType, type TypedArray } from './dtype.js';
import { ValueError, argumentError } from './errors.js';
import { forEachRow, isCContiguous } from './iter.js';
import { broadcastShapes, contiguousStrides, shapesEqual, sizeOf, type Shape } from './shape.js';
import { checkTensor, Tensor } from './tensor.js';

/** `lo`/`hi` are the bounds of `clamp`; the other unary loops ignore them. */
type UnaryLoop = (
  n: number,
  out: TypedArray,
  po: number,
  x: TypedArray,
  px: number,
  sx: number,
  lo: number,
  hi: number,
) => void;
type BinaryLoop = (
  n: number,
  out: TypedArray,
  po: number,
  a: TypedArray,
  pa: number,
  sa: number,
  b: TypedArray,
  pb: number,
  sb: number,
) => void;

// ---------------------------------------------------------------------------------------------
// Scalar functions that Math lacks

/**
 * 1/(1+e^−x), with e^x only ever taken of a non-positive number: no overflow, and full relative
 * precision in the left tail (sigmoid(−720) = e^−720, where 1/(1+e^720) would give 0).
 */
function sigmoidOf(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1+e^x) = log1p(e^−|x|) + max(x, 0): no overflow for large x, full precision for very negative x. */
function softplusOf(x: number): number {
  return Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0);
}

/**
 * x·Φ(x) written with erfc(−x/√2) rather than 1 + erf(x/√2): the same function, but it keeps its
 * relative precision for negative x, where 1 + erf cancels to 0 long before gelu underflows.
 */
function geluOf(x: number): number {
  return x === -Infinity ? 0 : 0.5 * x * erfcOf(-x * Math.SQRT1_2);
}

/** pow with the C99/NumPy special cases that JavaScript's `**` lacks: 1^y = 1 for every y (NaN too) and (−1)^±∞ = 1. */
function powOf(a: number, b: number): number {
  const r = a ** b;
  if (!Number.isNaN(r)) return r;
  return a === 1 || (a === -1 && (b === Infinity || b === -Infinity)) ? 1 : r;
}

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969),
// coefficients of SPECFUN's CALERF. Three intervals of |x|: [0, 0.46875] erf directly,
// (0.46875, 4] and (4, ∞) erfc as exp(−x²)·R(x).
const ERF_A = [3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947, 0.185777706184603153];
const ERF_B = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
const ERFC_C = [
  0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909,
  1712.04761263407058, 2051.07837782607147, 1230.33935479799725, 2.15311535474403846e-8,
];
const ERFC_D = [
  15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963,
  4362.61909014324716, 3439.36767414372164, 1230.33935480374942,
];
const ERFC_P = [
  0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766, 6.58749161529837803e-4,
  0.0163153871373020978,
];
const ERFC_Q = [
  2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191, 0.00233520497626869185,
];
const ONE_OVER_SQRT_PI = 0.56418958354775628695;
/** Below this |x|, x² underflows against the constant term and erf(x) is exactly linear. */
const ERF_XSMALL = 1.11e-16;
/** Above this, erfc(x) underflows to 0 in float64. */
const ERFC_XBIG = 26.543;

/** erf(x) for |x| ≤ 0.46875. */
function erfSmall(x: number): number {
  const y = Math.abs(x);
  const z = y > ERF_XSMALL ? y * y : 0;
  let num = ERF_A[4]! * z;
  let den = z;
  for (let i = 0; i < 3; i++) {
    num = (num + ERF_A[i]!) * z;
    den = (den + ERF_B[i]!) * z;
  }
  return (x * (num + ERF_A[3]!)) / (den + ERF_B[3]!);
}

/** erfc(y) for y > 0.46875 (and y = +∞). */
function erfcLarge(y: number): number {
  let r: number;
  if (y <= 4) {
    let num = ERFC_C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + ERFC_C[i]!) * y;
      den = (den + ERFC_D[i]!) * y;
    }
    r = (num + ERFC_C[7]!) / (den + ERFC_D[7]!);
  } else {
    if (y >= ERFC_XBIG) return 0;
    const z = 1 / (y * y);
    let num = ERFC_P[5]! * z;
    let den = z;
    for (let i = 0; i < 4; i++) {
      num = (num + ERFC_P[i]!) * z;
      den = (den + ERFC_Q[i]!) * z;
    }
    r = (ONE_OVER_SQRT_PI - (z * (num + ERFC_P[4]!)) / (den + ERFC_Q[4]!)) / y;
  }
  // exp(−y²) split as exp(−s²)·exp(−(y−s)(y+s)) with s = y rounded down to 1/16: s² is exact,
  // so the large exponent carries no rounding error (Cody's trick).
  const s = Math.trunc(y * 16) / 16;
  return Math.exp(-s * s) * Math.exp(-(y - s) * (y + s)) * r;
}

function erfOf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return erfSmall(x);
  if (Number.isNaN(y)) return x;
  const r = 1 - erfcLarge(y);
  return x < 0 ? -r : r;
}

function erfcOf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - erfSmall(x);
  if (Number.isNaN(y)) return x;
  const r = erfcLarge(y);
  return x < 0 ? 2 - r : r;
}

// ---------------------------------------------------------------------------------------------
// Loops (one per op; see the file comment for the calling convention)

const negLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = -x[px]!;
};
const expLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.exp(x[px]!);
};
const logLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.log(x[px]!);
};
const log1pLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.log1p(x[px]!);
};
const expm1Loop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.expm1(x[px]!);
};
const sqrtLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.sqrt(x[px]!);
};
const absLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.abs(x[px]!);
};
const signLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) {
    const v = x[px]!;
    o[po + i] = v > 0 ? 1 : v < 0 ? -1 : v; // ±0 and NaN map to themselves
  }
};
const squareLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) {
    const v = x[px]!;
    o[po + i] = v * v;
  }
};
const reciprocalLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = 1 / x[px]!;
};
const tanhLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.tanh(x[px]!);
};
const sigmoidLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = sigmoidOf(x[px]!);
};
const reluLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) {
    const v = x[px]!;
    o[po + i] = Math.max(v, 0); // NaN passes through
  }
};
const geluLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = geluOf(x[px]!);
};
const erfLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = erfOf(x[px]!);
};
const erfcLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = erfcOf(x[px]!);
};
const sinLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.sin(x[px]!);
};
const cosLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = Math.cos(x[px]!);
};
const softplusLoop: UnaryLoop = (n, o, po, x, px, sx) => {
  for (let i = 0; i < n; i++, px += sx) o[po + i] = softplusOf(x[px]!);
};
const clampLoop: UnaryLoop = (n, o, po, x, px, sx, lo, hi) => {
  for (let i = 0; i < n; i++, px += sx) {
    const v = x[px]!;
    o[po + i] = v < lo ? lo : Math.min(v, hi); // NaN passes through
  }
};

const addLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! + b[pb]!;
};
const subLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! - b[pb]!;
};
const mulLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! * b[pb]!;
};
const divLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! / b[pb]!;
};
const powLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = powOf(a[pa]!, b[pb]!);
};
// Math.max/min propagate NaN (and order −0 < +0), as NumPy's maximum/minimum do.
const maximumLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = Math.max(a[pa]!, b[pb]!);
};
const minimumLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = Math.min(a[pa]!, b[pb]!);
};
const eqLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! === b[pb]! ? 1 : 0;
};
const neLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! !== b[pb]! ? 1 : 0;
};
const ltLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! < b[pb]! ? 1 : 0;
};
const leLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! <= b[pb]! ? 1 : 0;
};
const gtLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! > b[pb]! ? 1 : 0;
};
const geLoop: BinaryLoop = (n, o, po, a, pa, sa, b, pb, sb) => {
  for (let i = 0; i < n; i++, pa += sa, pb += sb) o[po + i] = a[pa]! >= b[pb]! ? 1 : 0;
};

// ---------------------------------------------------------------------------------------------
// Drivers

/** A strided input: a tensor's view, or a number stored in a one-element cell. */
interface Operand {
  data: TypedArray;
  offset: number;
  shape: Shape;
  strides: readonly number[];
}

const NO_AXES: readonly number[] = [];
// A number operand is read as a 0-d view of one cell of these, so the loops above serve
// tensor-number pairs too. Writing the cell in the result's dtype rounds the number to it, as
// "a number takes the tensor's dtype" asks. The cells are written and read within one call,
// never across calls, so sharing them is invisible.
const CELLS64 = new Float64Array(3);
const CELLS32 = new Float32Array(3);

/** The cell array of `dtype` with `value` written into `slot`. */
function cellWith(dtype: DType, slot: number, value: number): TypedArray {
  const cells = dtype === 'float64' ? CELLS64 : CELLS32;
  cells[slot] = value;
  return cells;
}

function operandOf(v: Tensor | number, dtype: DType, slot: number): Operand {
  if (typeof v === 'number') return { data: cellWith(dtype, slot, v), offset: slot, shape: NO_AXES, strides: NO_AXES };
  return { data: v.data, offset: v.offset, shape: v.shape, strides: v.strides };
}

/** The strides that read `op` broadcast to `shape` (0 on the axes it is broadcast along). */
function alignedStrides(op: Operand, shape: Shape): number[] {
  const pad = shape.length - op.shape.length;
  const out: number[] = [];
  for (let i = 0; i < pad; i++) out.push(0);
  for (let i = 0; i < op.shape.length; i++) out.push(op.shape[i] === 1 ? 0 : op.strides[i]!);
  return out;
}

/**
 * Walks the contiguous output of `shape` together with `ops` broadcast to it, one `row` call per
 * innermost row (see forEachRow); pos[0]/steps[0] are the output's, pos[k+1]/steps[k+1] those of ops[k].
 */
function walk(shape: Shape, ops: Operand[], row: (n: number, pos: number[], steps: number[]) => void): void {
  const strides = [contiguousStrides(shape)];
  const offsets = [0];
  for (const op of ops) {
    strides.push(alignedStrides(op, shape));
    offsets.push(op.offset);
  }
  forEachRow(shape, strides, offsets, row);
}

/** The entry of every unary op: checks `x` (naming `op`) before touching it. */
function mapUnary(op: string, loop: UnaryLoop, x: Tensor, lo = 0, hi = 0): Tensor {
  checkTensor(op, x);
  const shape = x.shape;
  const n = sizeOf(shape);
  const out = allocate(x.dtype, n);
  if (isCContiguous(shape, x.strides)) loop(n, out, 0, x.data, x.offset, 1, lo, hi);
  else {
    const data = x.data;
    walk(shape, [operandOf(x, x.dtype, 0)], (m, pos, steps) => loop(m, out, pos[0]!, data, pos[1]!, steps[1]!, lo, hi));
  }
  return new Tensor(out, shape.slice());
}

/** One flat loop over `shape`'s elements: every input contiguous (step 1) or a single value (step 0). */
function flatBinary(
  loop: BinaryLoop,
  dtype: DType,
  shape: Shape,
  a: TypedArray,
  pa: number,
  sa: number,
  b: TypedArray,
  pb: number,
  sb: number,
): Tensor {
  const n = sizeOf(shape);
  const out = allocate(dtype, n);
  loop(n, out, 0, a, pa, sa, b, pb, sb);
  return new Tensor(out, shape.slice());
}

/** A binary op's operand: a Tensor or a number, else a ValueError naming the op and the argument. */
function checkOperand(op: string, v: unknown, name: string): void {
  if (typeof v !== 'number' && !(v instanceof Tensor)) throw argumentError(op, name, 'a Tensor or a number', v);
}

function mapBinary(op: string, loop: BinaryLoop, a: Tensor | number, b: Tensor | number): Tensor {
  checkOperand(op, a, 'a');
  checkOperand(op, b, 'b');
  let dtype: DType;
  // The fast paths first, before any allocation: a number with a contiguous tensor, two
  // contiguous tensors of one shape, a 0-d tensor with a contiguous tensor.
  if (typeof a === 'number') {
    if (typeof b === 'number')
      throw new ValueError(`${op}: needs at least one Tensor operand, got the numbers ${a} and ${b}`);
    dtype = b.dtype;
    if (isCContiguous(b.shape, b.strides))
      return flatBinary(loop, dtype, b.shape, cellWith(dtype, 0, a), 0, 0, b.data, b.offset, 1);
  } else if (typeof b === 'number') {
    dtype = a.dtype;
    if (isCContiguous(a.shape, a.strides))
      return flatBinary(loop, dtype, a.shape, a.data, a.offset, 1, cellWith(dtype, 1, b), 1, 0);
  } else {
    dtype = promoteTypes(a.dtype, b.dtype);
    const aFlat = isCContiguous(a.shape, a.strides);
    const bFlat = isCContiguous(b.shape, b.strides);
    if (aFlat && bFlat && shapesEqual(a.shape, b.shape))
      return flatBinary(loop, dtype, a.shape, a.data, a.offset, 1, b.data, b.offset, 1);
    if (a.shape.length === 0 && bFlat)
      return flatBinary(loop, dtype, b.shape, a.data, a.offset, 0, b.data, b.offset, 1);
    if (b.shape.length === 0 && aFlat)
      return flatBinary(loop, dtype, a.shape, a.data, a.offset, 1, b.data, b.offset, 0);
  }
  const A = operandOf(a, dtype, 0);
  const B = operandOf(b, dtype, 1);
  const shape = broadcastShapes(op, A.shape, B.shape);
  const out = allocate(dtype, sizeOf(shape));
  walk(shape, [A, B], (n, pos, steps) => loop(n, out, pos[0]!, A.data, pos[1]!, steps[1]!, B.data, pos[2]!, steps[2]!));
  return new Tensor(out, shape);
}

// ---------------------------------------------------------------------------------------------
// Unary ops (NaN in, NaN out, unless stated)

/** −x. */
export function neg(x: Tensor): Tensor {
  return mapUnary('neg', negLoop, x);
}
/** eˣ (overflows to +∞ above ~709.78 in float64). */
export function exp(x: Tensor): Tensor {
  return mapUnary('exp', expLoop, x);
}
/** Natural log: log(0) = −∞, negative inputs give NaN (as IEEE and NumPy). */
export function log(x: Tensor): Tensor {
  return mapUnary('log', logLoop, x);
}
/** log(1 + x), accurate for tiny x. */
export function log1p(x: Tensor): Tensor {
  return mapUnary('log1p', log1pLoop, x);
}
/** eˣ − 1, accurate for tiny x. */
export function expm1(x: Tensor): Tensor {
  return mapUnary('expm1', expm1Loop, x);
}
/** √x; negative inputs give NaN (as IEEE and NumPy). */
export function sqrt(x: Tensor): Tensor {
  return mapUnary('sqrt', sqrtLoop, x);
}
/** |x|. */
export function abs(x: Tensor): Tensor {
  return mapUnary('abs', absLoop, x);
}
/** −1, 0 or 1 by the sign of x; ±0 keep their sign bit. */
export function sign(x: Tensor): Tensor {
  return mapUnary('sign', signLoop, x);
}
/** x². */
export function square(x: Tensor): Tensor {
  return mapUnary('square', squareLoop, x);
}
/** 1/x (±∞ at ±0). */
export function reciprocal(x: Tensor): Tensor {
  return mapUnary('reciprocal', reciprocalLoop, x);
}
/** tanh x. */
export function tanh(x: Tensor): Tensor {
  return mapUnary('tanh', tanhLoop, x);
}
/** The logistic function 1/(1+e^−x); exactly 0 or 1 far in the tails, never NaN for finite or infinite x. */
export function sigmoid(x: Tensor): Tensor {
  return mapUnary('sigmoid', sigmoidLoop, x);
}
/** max(x, 0); NaN stays NaN. */
export function relu(x: Tensor): Tensor {
  return mapUnary('relu', reluLoop, x);
}
/** The exact GELU x·Φ(x) = ½x(1 + erf(x/√2)) (PyTorch's default, not the tanh approximation); gelu(−∞) = 0. */
export function gelu(x: Tensor): Tensor {
  return mapUnary('gelu', geluLoop, x);
}
/** The error function, float64-accurate (Cody's rational approximations); erf(±∞) = ±1. */
export function erf(x: Tensor): Tensor {
  return mapUnary('erf', erfLoop, x);
}
/** The complementary error function 1 − erf(x), with full relative precision in the right tail (erfc(26) ≈ 6e-296). */
export function erfc(x: Tensor): Tensor {
  return mapUnary('erfc', erfcLoop, x);
}
/** sin x. */
export function sin(x: Tensor): Tensor {
  return mapUnary('sin', sinLoop, x);
}
/** cos x. */
export function cos(x: Tensor): Tensor {
  return mapUnary('cos', cosLoop, x);
}
/** log(1 + eˣ), computed without overflow: softplus(1000) = 1000, softplus(−1000) = 0. */
export function softplus(x: Tensor): Tensor {
  return mapUnary('softplus', softplusLoop, x);
}

/**
 * Limits x to [min, max] (either bound may be omitted). NaN elements stay NaN. Throws a
 * ValueError if a bound is NaN or min > max.
 */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  if (min !== undefined && typeof min !== 'number') throw argumentError('clamp', 'min', 'a number or undefined', min);
  if (max !== undefined && typeof max !== 'number') throw argumentError('clamp', 'max', 'a number or undefined', max);
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) {
    throw new ValueError(`clamp: needs min ≤ max and neither NaN, got min ${min} and max ${max}`);
  }
  return mapUnary('clamp', clampLoop, x, lo, hi);
}

// ---------------------------------------------------------------------------------------------
// Binary ops. Operands broadcast as in NumPy (a ShapeError names the op and both shapes); at
// least one must be a Tensor, and a number takes the other operand's dtype. Two tensors of
// different dtypes give float64.

/** a + b. */
export function add(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('add', addLoop, a, b);
}
/** a − b. */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('sub', subLoop, a, b);
}
/** a · b. */
export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('mul', mulLoop, a, b);
}
/** a / b (IEEE: x/0 = ±∞, 0/0 = NaN). */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('div', divLoop, a, b);
}
/**
 * aᵇ with C99/NumPy semantics: a negative base with a non-integer exponent gives NaN, 1ᵇ = 1 and a⁰ = 1 for every a, b.
 */
export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('pow', powLoop, a, b);
}
/** The larger of a and b; NaN if either is NaN (NumPy's maximum). */
export function maximum(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('maximum', maximumLoop, a, b);
}
/** The smaller of a and b; NaN if either is NaN (NumPy's minimum). */
export function minimum(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('minimum', minimumLoop, a, b);
}

// Comparisons give 1 or 0 in the result dtype. NaN compares unequal to everything, itself included.

/** 1 where a = b, else 0. */
export function eq(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('eq', eqLoop, a, b);
}
/** 1 where a ≠ b (and where either is NaN), else 0. */
export function ne(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('ne', neLoop, a, b);
}
/** 1 where a < b, else 0. */
export function lt(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('lt', ltLoop, a, b);
}
/** 1 where a ≤ b, else 0. */
export function le(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('le', leLoop, a, b);
}
/** 1 where a > b, else 0. */
export function gt(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('gt', gtLoop, a, b);
}
/** 1 where a ≥ b, else 0. */
export function ge(a: Tensor | number, b: Tensor | number): Tensor {
  return mapBinary('ge', geLoop, a, b);
}

/**
 * Picks `a` where `cond` ≠ 0 (NaN counts as true, as in NumPy) and `b` elsewhere; cond, a and b
 * broadcast together. The result dtype comes from a and b (cond's dtype when both are numbers).
 */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  checkTensor('where', cond, 'cond');
  checkOperand('where', a, 'a');
  checkOperand('where', b, 'b');
  let dtype: DType;
  if (typeof a === 'number') dtype = typeof b === 'number' ? cond.dtype : b.dtype;
  else dtype = typeof b === 'number' ? a.dtype : promoteTypes(a.dtype, b.dtype);
  const C = operandOf(cond, dtype, 0);
  const A = operandOf(a, dtype, 1);
  const B = operandOf(b, dtype, 2);
  const shape = broadcastShapes('where', C.shape, A.shape, B.shape);
  const out = allocate(dtype, sizeOf(shape));
  const c = C.data;
  const x = A.data;
  const y = B.data;
  walk(shape, [C, A, B], (n, pos, steps) => {
    const po = pos[0]!;
    let pc = pos[1]!;
    let px = pos[2]!;
    let py = pos[3]!;
    const sc = steps[1]!;
    const sx = steps[2]!;
    const sy = steps[3]!;
    for (let i = 0; i < n; i++, pc += sc, px += sx, py += sy) out[po + i] = c[pc] !== 0 ? x[px]! : y[py]!;
  });
  return new Tensor(out, shape);
}
