/**
 * THE GRADIENT TABLE. Every differentiable op, its forward (a tensor kernel) and its
 * vector-Jacobian product side by side. Each rule is written in these same differentiable
 * ops, so gradients of gradients come for free. Rules return the gradient in the shape of the
 * broadcast result; the engine sums it back to each input's shape once (never an op).
 *
 * Conventions of the rules: `g` is the output gradient, `y` the output, inputs by name.
 * Ops whose result has no gradient (comparisons, argmax, sign) return constants: they are
 * listed in NON_DIFFERENTIABLE at the end. The linear-algebra rules live in ops-linalg.ts
 * (re-exported here); each op's metadata for the tests (`OpMetadata`) is kept in the map at the
 * end of its file.
 */
import * as T from '@hyperconn/tensor';
import { fmtShape, type Tensor, ValueError, type DType, type SliceSpec } from '@hyperconn/tensor';
import { constant, unary, type OpMetadata } from './ops-table.js';
import { asOperand, asVariable, isGradEnabled, record, Variable } from './variable.js';

/** An op argument: a variable, a tensor (taken as a constant) or a number. */
export type Input = Variable | Tensor | number;
type Operand = Variable | number;
type Rule2 = (g: Variable, a: Operand, b: Operand, y: Variable) => Variable;

const valueOfOperand = (x: Operand): Tensor | number => (x instanceof Variable ? x.value : x);

function binary(
  op: string,
  a: Input,
  b: Input,
  forward: (a: Tensor | number, b: Tensor | number) => Tensor,
  ruleA: Rule2,
  ruleB: Rule2,
): Variable {
  const av = asOperand(op, a, 'a');
  const bv = asOperand(op, b, 'b');
  if (!(av instanceof Variable) && !(bv instanceof Variable)) {
    throw new ValueError(`${op}: at least one operand must be a Variable or Tensor, got two numbers`);
  }
  const inputs: Variable[] = [];
  if (av instanceof Variable) inputs.push(av);
  if (bv instanceof Variable) inputs.push(bv);
  const y: Variable = record(op, forward(valueOfOperand(av), valueOfOperand(bv)), inputs, (g, needs) => {
    const out: (Variable | null)[] = [];
    let k = 0;
    if (av instanceof Variable) out.push(needs[k++] ? ruleA(g, av, bv, y) : null);
    if (bv instanceof Variable) out.push(needs[k++] ? ruleB(g, av, bv, y) : null);
    return out;
  });
  return y;
}

const detached = (x: Operand): Tensor | number => valueOfOperand(x);

// ---------------------------------------------------------------------------------------------
// Element-wise, binary (broadcasting)

/**
 * a + b with NumPy broadcasting; mixed dtypes give float64, a number takes the other operand's
 * dtype. ValueError if both are numbers.
 */
export const add = (a: Input, b: Input): Variable =>
  binary(
    'add',
    a,
    b,
    T.add,
    (g) => g,
    (g) => g,
  );
/** a − b, broadcasting as `add`. */
export const sub = (a: Input, b: Input): Variable =>
  binary(
    'sub',
    a,
    b,
    T.sub,
    (g) => g,
    (g) => neg(g),
  );
/** a · b element-wise, broadcasting as `add`. */
export const mul = (a: Input, b: Input): Variable =>
  binary(
    'mul',
    a,
    b,
    T.mul,
    (g, _a, b) => mul(g, b),
    (g, a) => mul(g, a),
  );
/** a / b, broadcasting as `add` (IEEE: x/0 = ±∞, 0/0 = NaN). */
export const div = (a: Input, b: Input): Variable =>
  binary(
    'div',
    a,
    b,
    T.div,
    (g, _a, b) => div(g, b),
    (g, _a, b, y) => neg(div(mul(g, y), b)),
  );
/** d/da = b·a^(b−1); d/db = y·log a, taken as 0 where a = 0 (the limit for b > 0). */
export const pow = (a: Input, b: Input): Variable =>
  binary(
    'pow',
    a,
    b,
    T.pow,
    // a⁰ is constant: 0, not 0·a⁻¹ (NaN at a = 0, which repeated differentiation of aᵏ reaches).
    (g, a, b) => (b === 0 ? mul(g, 0) : mul(g, mul(b, pow(a, typeof b === 'number' ? b - 1 : sub(b, 1))))),
    (g, a, _b, y) => {
      if (typeof a === 'number') return mul(g, a === 0 ? 0 : mul(y, Math.log(a)));
      const isZero = T.eq(a.value, 0);
      const safeA = where(isZero, 1, a);
      return mul(g, where(isZero, 0, mul(y, log(safeA))));
    },
  );
/** Ties send half the gradient to each side (as PyTorch). */
export const maximum = (a: Input, b: Input): Variable =>
  binary(
    'maximum',
    a,
    b,
    T.maximum,
    (g, a, b) => mul(g, constant(tieMask(detached(a), detached(b)))),
    (g, a, b) => mul(g, constant(tieMask(detached(b), detached(a)))),
  );
/**
 * The element-wise smaller of a and b (NaN if either is), broadcasting as `add`. Ties send half the
 * gradient to each side (as PyTorch).
 */
export const minimum = (a: Input, b: Input): Variable =>
  binary(
    'minimum',
    a,
    b,
    T.minimum,
    (g, a, b) => mul(g, constant(tieMask(detached(b), detached(a)))),
    (g, a, b) => mul(g, constant(tieMask(detached(a), detached(b)))),
  );
/** 1 where a > b, ½ where a = b, 0 elsewhere. */
function tieMask(a: Tensor | number, b: Tensor | number): Tensor {
  const greater = typeof a === 'number' ? T.lt(b as Tensor, a) : T.gt(a, b);
  const equal = typeof a === 'number' ? T.eq(b as Tensor, a) : T.eq(a, b);
  return T.add(greater, T.mul(equal, 0.5));
}

/** `cond ≠ 0` picks `a`, otherwise `b`; the condition is a constant. */
export function where(cond: Tensor | Variable, a: Input, b: Input): Variable {
  const c = cond instanceof Variable ? cond.value : cond;
  return binary(
    'where',
    a,
    b,
    (x, y) => T.where(c, x, y),
    (g) => where(c, g, 0),
    (g) => where(c, 0, g),
  );
}

// ---------------------------------------------------------------------------------------------
// Element-wise, unary

/** −x; gradient −g. */
export const neg = (x: Variable | Tensor): Variable => unary('neg', x, T.neg, (g) => neg(g));
/** eˣ; the gradient reuses the output, g·eˣ. */
export const exp = (x: Variable | Tensor): Variable => unary('exp', x, T.exp, (g, _x, y) => mul(g, y));
/** Natural log (−∞ at 0, NaN below); gradient g/x. */
export const log = (x: Variable | Tensor): Variable => unary('log', x, T.log, (g, x) => div(g, x));
/** log(1 + x), accurate for tiny x; gradient g/(1 + x). */
export const log1p = (x: Variable | Tensor): Variable => unary('log1p', x, T.log1p, (g, x) => div(g, add(x, 1)));
/** eˣ − 1, accurate for tiny x; gradient g·eˣ. */
export const expm1 = (x: Variable | Tensor): Variable => unary('expm1', x, T.expm1, (g, _x, y) => mul(g, add(y, 1)));
/** The gradient at 0 is +∞ (the true one-sided derivative). */
export const sqrt = (x: Variable | Tensor): Variable => unary('sqrt', x, T.sqrt, (g, _x, y) => div(g, mul(y, 2)));
/** x²; gradient 2x·g. */
export const square = (x: Variable | Tensor): Variable => unary('square', x, T.square, (g, x) => mul(g, mul(x, 2)));
/** 1/x (±∞ at ±0); gradient −g/x². */
export const reciprocal = (x: Variable | Tensor): Variable =>
  unary('reciprocal', x, T.reciprocal, (g, _x, y) => neg(mul(g, square(y))));
/** Subgradient 0 at 0. */
export const abs = (x: Variable | Tensor): Variable =>
  unary('abs', x, T.abs, (g, x) => mul(g, constant(T.sign(x.value))));
/** tanh x; gradient g·(1 − y²) from the output y. */
export const tanh = (x: Variable | Tensor): Variable =>
  unary('tanh', x, T.tanh, (g, _x, y) => mul(g, sub(1, square(y))));
/** The logistic 1/(1 + e⁻ˣ), never NaN for infinite x; gradient g·y(1 − y) from the output y. */
export const sigmoid = (x: Variable | Tensor): Variable =>
  unary('sigmoid', x, T.sigmoid, (g, _x, y) => mul(g, mul(y, sub(1, y))));
/** Gradient 0 at 0. */
export const relu = (x: Variable | Tensor): Variable =>
  unary('relu', x, T.relu, (g, x) => mul(g, constant(T.gt(x.value, 0))));
/** Exact GELU x·Φ(x); d/dx = Φ(x) + x·φ(x). */
export const gelu = (x: Variable | Tensor): Variable =>
  unary('gelu', x, T.gelu, (g, x) => {
    const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return mul(g, add(cdf, mul(x, pdf)));
  });
/** The error function (erf(±∞) = ±1); gradient g·2e^(−x²)/√π. */
export const erf = (x: Variable | Tensor): Variable =>
  unary('erf', x, T.erf, (g, x) => mul(g, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI))));
/** sin x; gradient g·cos x. */
export const sin = (x: Variable | Tensor): Variable => unary('sin', x, T.sin, (g, x) => mul(g, cos(x)));
/** cos x; gradient −g·sin x. */
export const cos = (x: Variable | Tensor): Variable => unary('cos', x, T.cos, (g, x) => neg(mul(g, sin(x))));
/** log(1 + eˣ) without overflow; gradient g·sigmoid(x). */
export const softplus = (x: Variable | Tensor): Variable =>
  unary('softplus', x, T.softplus, (g, x) => mul(g, sigmoid(x)));
/** The gradient passes where min ≤ x ≤ max (inclusive, as PyTorch). */
export function clamp(x: Variable | Tensor, min?: number, max?: number): Variable {
  return unary(
    'clamp',
    x,
    (t) => T.clamp(t, min, max),
    (g, x) => {
      let inside = T.onesLike(x.value);
      if (min !== undefined) inside = T.mul(inside, T.ge(x.value, min));
      if (max !== undefined) inside = T.mul(inside, T.le(x.value, max));
      return mul(g, constant(inside));
    },
  );
}
/** Changes the dtype; the gradient goes back to the input's dtype. */
export function cast(x: Variable | Tensor, dtype: DType): Variable {
  const xv = asVariable('cast', x);
  if (xv.dtype === T.checkDType('cast', dtype)) return xv;
  const from = xv.dtype;
  return unary(
    'cast',
    xv,
    (t) => t.astype(dtype),
    (g) => cast(g, from),
  );
}

// ---------------------------------------------------------------------------------------------
// Reductions. `axes` undefined = all axes; negative axes count from the end.

/** `g` (reduced over `axes`) broadcast back to `shape`. */
function expandReduced(
  g: Variable,
  shape: readonly number[],
  axes: number | readonly number[] | undefined,
  keepDims: boolean,
): Variable {
  const ax = T.normalizeAxes('sum', axes, shape.length);
  const kept = keepDims
    ? g
    : reshape(
        g,
        shape.map((d, i) => (ax.includes(i) ? 1 : d)),
      );
  return expand(kept, shape);
}
function reducedCount(shape: readonly number[], axes: number | readonly number[] | undefined): number {
  return T.normalizeAxes('mean', axes, shape.length).reduce((n, a) => n * shape[a]!, 1);
}

/**
 * Σ over `axes` (undefined = all, negative count from the end); `keepDims` keeps them as size 1.
 * Over zero elements, 0.
 */
export function sum(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary(
    'sum',
    x,
    (t) => T.sum(t, axes, keepDims),
    (g, x) => expandReduced(g, x.shape, axes, keepDims),
  );
}
/** The arithmetic mean over `axes` (as `sum`). Throws a ValueError over zero elements. */
export function mean(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary(
    'mean',
    x,
    (t) => T.mean(t, axes, keepDims),
    (g, x) => div(expandReduced(g, x.shape, axes, keepDims), reducedCount(x.shape, axes)),
  );
}
/**
 * d/dx_i = product of the others: y/x_i when the slice has no zero. With zeros the first-order
 * rule uses exact products of the other entries; differentiating it again is refused.
 */
export function prod(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary(
    'prod',
    x,
    (t) => T.prod(t, axes, keepDims),
    (g, x, y) => {
      const gFull = expandReduced(g, x.shape, axes, keepDims);
      const hasZero = T.sum(T.eq(x.value, 0)).item() > 0;
      if (!hasZero) return mul(gFull, div(expandReduced(y, x.shape, axes, keepDims), x));
      if (isGradEnabled()) {
        throw new ValueError(
          'prod: differentiating the gradient of prod at inputs that contain zeros is not supported',
        );
      }
      return mul(gFull, constant(productOfOthers(x.value, axes)));
    },
  );
}
/** For each element, the product of the other elements of its slice (prefix × suffix products, no division). */
function productOfOthers(x: Tensor, axes: number | readonly number[] | undefined): Tensor {
  const reduced = T.normalizeAxes('prod', axes, x.ndim);
  const kept = x.shape.map((_, i) => i).filter((i) => !reduced.includes(i));
  const perm = [...kept, ...reduced];
  const moved = x.permute(perm);
  const src = moved.toTypedArray();
  const m = reduced.reduce((n, a) => n * x.shape[a]!, 1);
  const out = src.slice();
  for (let row = 0; m > 0 && row < src.length / m; row++) {
    const base = row * m;
    let prefix = 1;
    for (let j = 0; j < m; j++) {
      out[base + j] = prefix;
      prefix *= src[base + j]!;
    }
    let suffix = 1;
    for (let j = m - 1; j >= 0; j--) {
      out[base + j]! *= suffix;
      suffix *= src[base + j]!;
    }
  }
  const inverse = new Array<number>(perm.length);
  perm.forEach((a, i) => {
    inverse[a] = i;
  });
  return T.tensor(out, { shape: moved.shape }).permute(inverse).contiguous();
}
/** Ties share the gradient equally. */
export function max(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary(
    'max',
    x,
    (t) => T.max(t, axes, keepDims),
    (g, x, y) => extremumRule(g, x, y, axes, keepDims),
  );
}
/**
 * The smallest element over `axes` (as `sum`); ValueError over an empty axis. Ties share the
 * gradient equally.
 */
export function min(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary(
    'min',
    x,
    (t) => T.min(t, axes, keepDims),
    (g, x, y) => extremumRule(g, x, y, axes, keepDims),
  );
}
function extremumRule(
  g: Variable,
  x: Variable,
  y: Variable,
  axes: number | readonly number[] | undefined,
  keepDims: boolean,
): Variable {
  const yFull = expandReduced(y.detach(), x.shape, axes, keepDims).value;
  const hits = T.eq(x.value, yFull);
  const count = T.sum(hits, axes, true);
  return mul(expandReduced(g, x.shape, axes, keepDims), constant(T.div(hits, count)));
}
/**
 * log Σ exp(x) over `axes` (as `sum`), max-shifted, so finite for any finite x however large.
 * d/dx = softmax over the reduced axes, computed from x − max (see `logSoftmaxOver`), not as
 * exp(x − y): y is rounded to the ulp of the max, which exp would turn into a relative error
 * (0.6% at 1e14). IEEE values: a slice of only −∞ (or of zero elements) gives −∞, one holding
 * +∞ gives +∞, one holding NaN gives NaN; the gradient over a slice of only −∞ or holding +∞
 * or NaN is NaN throughout (no limit exists there).
 */
export function logsumexp(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary(
    'logsumexp',
    x,
    (t) => T.logsumexp(t, axes, keepDims),
    (g, x) => mul(expandReduced(g, x.shape, axes, keepDims), exp(logSoftmaxOver('logsumexp', x, axes))),
  );
}

/**
 * log softmax of x over `axes` (kept as size 1) as s − logsumexp(s) with s = x − m, m the max
 * over the slice as a constant. Exact in exact arithmetic for any constant m (log softmax is
 * shift-invariant), so gradients of every order are right; in floating point s ≤ 0 and
 * logsumexp(s) ∈ [0, log N], so nothing is lost to the ulp of a large logit, as x − logsumexp(x)
 * loses it (softmax([1e17, 1e17]) came out [1, 1]). A slice of only −∞, or holding +∞ or NaN,
 * has a non-finite m and so gives NaN throughout, as the tensor softmax.
 */
function logSoftmaxOver(op: string, x: Variable, axes: number | readonly number[] | undefined): Variable {
  const ax = T.normalizeAxes(op, axes, x.ndim);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  // over zero elements there is no max (and nothing to shift)
  const m = ax.some((a) => x.shape[a] === 0) ? T.zeros(kept, { dtype: x.dtype }) : T.max(x.value, ax, true);
  const shifted = sub(x, constant(m));
  return sub(shifted, logsumexp(shifted, ax, true));
}
/** 2-norm over the axes (Frobenius for two); the subgradient at 0 is 0. */
export function norm(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary(
    'norm',
    x,
    (t) => T.norm(t, axes, keepDims),
    (g, x, y) => {
      const yFull = expandReduced(y, x.shape, axes, keepDims);
      const safe = where(T.eq(yFull.value, 0), 1, yFull);
      return mul(expandReduced(g, x.shape, axes, keepDims), div(x, safe));
    },
  );
}

// Composite reductions: differentiable through the ops above.
/**
 * Σ (x − mean)² / (N − correction) over `axes`: correction 0 (default) is the population variance,
 * 1 the sample variance. Throws a ValueError when N − correction ≤ 0.
 */
export function variance(
  x: Variable | Tensor,
  axes?: number | readonly number[],
  keepDims = false,
  correction = 0,
): Variable {
  const xv = asVariable('variance', x);
  if (!(typeof correction === 'number' && Number.isFinite(correction) && correction >= 0)) {
    throw new ValueError(`variance: correction must be a finite number ≥ 0, got ${correction}`);
  }
  const n = reducedCount(xv.shape, axes);
  if (n - correction <= 0)
    throw new ValueError(`variance: ${n} elements with correction ${correction} leave no degrees of freedom`);
  const centered = sub(xv, mean(xv, axes, true));
  return div(sum(square(centered), axes, keepDims), n - correction);
}
/**
 * x − logsumexp(x) along `axis` (default the last), computed from x − max (`logSoftmaxOver`):
 * correct for any finite x, however large (±1e300), to the last few ulps. −∞ entries give −∞
 * (with gradient 0). IEEE values: a slice of only −∞, or holding +∞ or NaN, gives NaN
 * throughout, as the tensor logSoftmax.
 */
export function logSoftmax(x: Variable | Tensor, axis = -1): Variable {
  return logSoftmaxOver('logSoftmax', asVariable('logSoftmax', x), axis);
}
/**
 * exp(logSoftmax(x)) along `axis` (default the last): sums to 1 along it, correct for any finite
 * x however large (max-shifted, `logSoftmaxOver`); −∞ entries get exactly 0. IEEE values: a
 * slice of only −∞, or holding +∞ or NaN, gives NaN throughout (no distribution is defined), as
 * the tensor softmax and PyTorch.
 */
export function softmax(x: Variable | Tensor, axis = -1): Variable {
  return exp(logSoftmaxOver('softmax', asVariable('softmax', x), axis));
}

// ---------------------------------------------------------------------------------------------
// Shapes and views

/** The same elements in C order in a new shape (one entry may be -1); ShapeError if the sizes differ. */
export function reshape(x: Variable | Tensor, shape: readonly number[]): Variable {
  return unary(
    'reshape',
    x,
    (t) => t.reshape(shape),
    (g, x) => reshape(g, x.shape),
  );
}
/** Reorders the axes: output axis i is input axis `axes[i]` (negative count from the end). */
export function permute(x: Variable | Tensor, axes: readonly number[]): Variable {
  const xv = asVariable('permute', x);
  const y = xv.value.permute(axes);
  const inverse = new Array<number>(axes.length);
  axes.forEach((a, i) => {
    inverse[T.normalizeAxis('permute', a, axes.length)] = i;
  });
  return unary(
    'permute',
    xv,
    () => y,
    (g) => permute(g, inverse),
  );
}
/** Swaps two axes (default the last two). */
export function transpose(x: Variable | Tensor, axis0 = -2, axis1 = -1): Variable {
  const xv = asVariable('transpose', x);
  const n = xv.ndim;
  if (n < 2 && axis0 === -2 && axis1 === -1) return xv;
  const a = T.normalizeAxis('transpose', axis0, n);
  const b = T.normalizeAxis('transpose', axis1, n);
  const perm = Array.from({ length: n }, (_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(xv, perm);
}
/** Broadcast view; the gradient is summed back by the engine. */
export function expand(x: Variable | Tensor, shape: readonly number[]): Variable {
  return unary(
    'expand',
    x,
    (t) => t.expand(shape),
    (g) => g,
  );
}
/** Drops size-1 axes: all of them, or the listed ones (ShapeError if one is not size 1). */
export function squeeze(x: Variable | Tensor, axes?: number | readonly number[]): Variable {
  const xv = asVariable('squeeze', x);
  return reshape(xv, xv.value.squeeze(axes).shape);
}
/** Inserts a size-1 axis at `axis`, numbered in the output (negative counts from the end). */
export function unsqueeze(x: Variable | Tensor, axis: number): Variable {
  const xv = asVariable('unsqueeze', x);
  return reshape(xv, xv.value.unsqueeze(axis).shape);
}
/** All elements along one axis, `[size]`, in C order. */
export function flatten(x: Variable | Tensor): Variable {
  return reshape(asVariable('flatten', x), [-1]);
}
/** Sums `x` down to `shape` (the reverse of broadcasting). */
export function sumToShape(x: Variable, shape: readonly number[]): Variable {
  if (T.shapesEqual(x.shape, shape)) return x;
  const lead = x.ndim - shape.length;
  if (lead < 0) throw new T.ShapeError(`sumToShape: cannot sum ${fmtShape(x.shape)} down to ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && x.shape[i] !== 1)) axes.push(i);
    else if (shape[i - lead] !== x.shape[i])
      throw new T.ShapeError(`sumToShape: cannot sum ${fmtShape(x.shape)} down to ${fmtShape(shape)}`);
  }
  return reshape(sum(x, axes, true), shape);
}
/**
 * NumPy-style basic slicing, one tensor `SliceSpec` per leading axis (a number drops its axis);
 * missing trailing specs keep their axes. The gradient is g written into zeros of x's shape
 * (`embedSlice`).
 */
export function slice(x: Variable | Tensor, ...specs: SliceSpec[]): Variable {
  return unary(
    'slice',
    x,
    (t) => t.slice(...specs),
    (g, x) => embedSlice(g, x.shape, specs),
  );
}
/** Zeros of `shape` with `g` written into the region `slice(...specs)` selects (slice's adjoint). */
export function embedSlice(g: Variable | Tensor, shape: readonly number[], specs: readonly SliceSpec[]): Variable {
  return unary(
    'embedSlice',
    g,
    (t) => {
      const out = T.zeros(shape, { dtype: t.dtype });
      out.slice(...specs).assign(t);
      return out;
    },
    (gg) => slice(gg, ...specs),
  );
}
/**
 * Joins along an existing `axis`: same rank, equal sizes on the other axes; dtypes promote.
 * ValueError for an empty list.
 */
export function concat(xs: readonly (Variable | Tensor)[], axis = 0): Variable {
  if (!Array.isArray(xs)) throw T.argumentError('concat', 'xs', 'an array of Variables or Tensors', xs);
  if (xs.length === 0) throw new ValueError('concat: needs at least one tensor');
  const vs = xs.map((x, i) => asVariable('concat', x, `xs[${i}]`));
  const y: Variable = record(
    'concat',
    T.concat(
      vs.map((v) => v.value),
      axis,
    ),
    vs,
    (g) => {
      const ax = T.normalizeAxis('concat', axis, g.ndim);
      let start = 0;
      return vs.map((v) => {
        const specs: SliceSpec[] = new Array<SliceSpec>(ax).fill(null);
        specs.push([start, start + v.shape[ax]!]);
        start += v.shape[ax]!;
        return slice(g, ...specs);
      });
    },
  );
  return y;
}
/** Joins same-shape inputs along a new `axis` (numbered in the output). ValueError for an empty list. */
export function stack(xs: readonly (Variable | Tensor)[], axis = 0): Variable {
  if (!Array.isArray(xs)) throw T.argumentError('stack', 'xs', 'an array of Variables or Tensors', xs);
  if (xs.length === 0) throw new ValueError('stack: needs at least one tensor');
  const vs = xs.map((x, i) => asVariable('stack', x, `xs[${i}]`));
  const ax = T.normalizeAxis('stack', axis, vs[0]!.ndim + 1);
  return concat(
    vs.map((x) => unsqueeze(x, ax)),
    ax,
  );
}
/**
 * Cuts x along `axis`: a number asks for that many equal sections (it must divide the length), an
 * array gives the section lengths. Each piece is a `slice` of x, so gradients flow back into x.
 */
export function split(x: Variable | Tensor, sizesOrSections: number | readonly number[], axis = 0): Variable[] {
  const xv = asVariable('split', x);
  const ax = T.normalizeAxis('split', axis, xv.ndim);
  const pieces = T.split(xv.value, sizesOrSections as number | number[], ax);
  let start = 0;
  return pieces.map((p) => {
    const specs: SliceSpec[] = new Array<SliceSpec>(ax).fill(null);
    specs.push([start, start + p.shape[ax]!]);
    start += p.shape[ax]!;
    return slice(xv, ...specs);
  });
}
/** Reverses the order of elements along `axes` (default: all). */
export function flip(x: Variable | Tensor, axes?: number | readonly number[]): Variable {
  return unary(
    'flip',
    x,
    (t) => T.flip(t, axes),
    (g) => flip(g, axes),
  );
}
/**
 * Picks the entries `indices` along `axis` (repeats allowed, negative count from the end): x's
 * shape with that axis of length `indices.length`. Gradients of repeated entries add up
 * (`indexAdd`).
 */
export function indexSelect(x: Variable | Tensor, axis: number, indices: readonly number[] | Tensor): Variable {
  return unary(
    'indexSelect',
    x,
    (t) => T.indexSelect(t, axis, indices),
    (g, x) => indexAdd(T.zeros(x.shape, { dtype: x.dtype }), axis, indices, g),
  );
}
/** `base` plus `src` accumulated into the rows `indices` along `axis` (indexSelect's adjoint). */
export function indexAdd(
  base: Variable | Tensor,
  axis: number,
  indices: readonly number[] | Tensor,
  src: Variable | Tensor,
): Variable {
  const b = asVariable('indexAdd', base, 'base');
  const s = asVariable('indexAdd', src, 'src');
  return record('indexAdd', T.indexAdd(b.value, axis, indices, s.value), [b, s], (g) => [
    g,
    indexSelect(g, axis, indices),
  ]);
}
/**
 * As torch.gather, `out[…, i, …] = x[…, index[…, i, …], …]` along `axis`: `index` (a constant) has
 * x's rank and is no longer than x on the other axes; the output has its shape. Gradient by
 * `scatterAdd`.
 */
export function gather(x: Variable | Tensor, axis: number, index: Tensor): Variable {
  return unary(
    'gather',
    x,
    (t) => T.gather(t, axis, index),
    (g, x) => scatterAdd(T.zeros(x.shape, { dtype: x.dtype }), axis, index, g),
  );
}
/** `base` plus `src` accumulated at `index` along `axis` (gather's adjoint). */
export function scatterAdd(base: Variable | Tensor, axis: number, index: Tensor, src: Variable | Tensor): Variable {
  const b = asVariable('scatterAdd', base, 'base');
  const s = asVariable('scatterAdd', src, 'src');
  // Only src's leading index-shaped block is read, so its gradient is zero outside that block.
  const block = index.shape.map((d): SliceSpec => [0, d]);
  return record('scatterAdd', T.scatterAdd(b.value, axis, index, s.value), [b, s], (g) => [
    g,
    embedSlice(gather(g, axis, index), s.shape, block),
  ]);
}
/** The main diagonal of the last two axes. */
export function diagonal(x: Variable | Tensor): Variable {
  return unary(
    'diagonal',
    x,
    (t) => T.diagonal(t),
    (g, x) => {
      const [n, m] = x.shape.slice(-2) as [number, number];
      const band = constant(T.eye(n, m, { dtype: x.dtype }));
      return mul(unsqueeze(g, n <= m ? -1 : -2), band);
    },
  );
}
/** Square matrices with x's last axis on the diagonal, zeros elsewhere: `[..., k]` → `[..., k, k]`. */
export function diagEmbed(x: Variable | Tensor): Variable {
  return unary('diagEmbed', x, T.diagEmbed, (g) => diagonal(g));
}
/** The lower triangle of the last two axes: keeps (i, j) with j ≤ i + k, zeroes the rest. */
export function tril(x: Variable | Tensor, k = 0): Variable {
  return unary(
    'tril',
    x,
    (t) => T.tril(t, k),
    (g) => tril(g, k),
  );
}
/** The upper triangle of the last two axes: keeps (i, j) with j ≥ i + k, zeroes the rest. */
export function triu(x: Variable | Tensor, k = 0): Variable {
  return unary(
    'triu',
    x,
    (t) => T.triu(t, k),
    (g) => triu(g, k),
  );
}

// ---------------------------------------------------------------------------------------------
// Matrix product (NumPy semantics: 1-d operands are promoted and the added axis removed)

/**
 * `a @ b` over the last two axes, batch axes broadcast; a 1-d `a` is a row, a 1-d `b` a column, and
 * the added axis is removed. Mixed dtypes give float64. ShapeError for 0-d operands or mismatched
 * inner sizes.
 */
export function matmul(a: Variable | Tensor, b: Variable | Tensor): Variable {
  const av = asVariable('matmul', a, 'a');
  const bv = asVariable('matmul', b, 'b');
  if (av.ndim === 0 || bv.ndim === 0) {
    throw new T.ShapeError(
      `matmul: operands must have at least one axis, got ${fmtShape(av.shape)} @ ${fmtShape(bv.shape)}`,
    );
  }
  if (av.ndim === 1 && bv.ndim === 1) return squeeze(matmul(unsqueeze(av, 0), unsqueeze(bv, -1)), [-2, -1]);
  if (av.ndim === 1) return squeeze(matmul(unsqueeze(av, 0), bv), -2);
  if (bv.ndim === 1) return squeeze(matmul(av, unsqueeze(bv, -1)), -1);
  return record('matmul', T.matmul(av.value, bv.value), [av, bv], (g, needs) => [
    needs[0] ? matmul(g, transpose(bv)) : null,
    needs[1] ? matmul(transpose(av), g) : null,
  ]);
}

/**
 * The Kronecker product of the last two axes, batched over the leading ones: `a` `[..., p, q]`,
 * `b` `[..., r, s]` give `[..., p·r, q·s]` with `out[..., i·r + k, j·s + l] = a[..., i, j]·b[..., k, l]`
 * (a's entry picks the block, b sits inside it). The batch shapes broadcast (NumPy rules) and the
 * matrix axes never do — unlike torch.kron, which takes the product over every axis. A composite
 * of reshapes, a matmul and a permute, so every derivative order comes from theirs. Mixed dtypes
 * give float64. ShapeError if an operand has fewer than two axes or the batch shapes do not
 * broadcast.
 */
export function kron(a: Variable | Tensor, b: Variable | Tensor): Variable {
  const av = asVariable('kron', a, 'a');
  const bv = asVariable('kron', b, 'b');
  if (av.ndim < 2 || bv.ndim < 2) {
    throw new T.ShapeError(
      `kron: operands must have at least two axes [..., rows, cols], ` +
        `got a ${fmtShape(av.shape)} and b ${fmtShape(bv.shape)}`,
    );
  }
  const [p, q] = av.shape.slice(-2) as [number, number];
  const [r, s] = bv.shape.slice(-2) as [number, number];
  const batch = T.broadcastShapes('kron', av.shape.slice(0, -2), bv.shape.slice(0, -2));
  // The batched outer product vec(a)·vec(b)ᵀ [..., p·q, r·s] is a matmul with inner size 1 (about
  // 3× faster, forward and backward, than a broadcast mul of [..., p, 1, q, 1] by [..., 1, r, 1, s]
  // for 2×2 factors); its axes [..., p, q, r, s] reordered to [..., p, r, q, s] are [..., p·r, q·s].
  const outer = matmul(
    reshape(av, [...av.shape.slice(0, -2), p * q, 1]),
    reshape(bv, [...bv.shape.slice(0, -2), 1, r * s]),
  );
  const lead = batch.length;
  const axes = [...Array.from({ length: lead }, (_, i) => i), lead, lead + 2, lead + 1, lead + 3];
  return reshape(permute(reshape(outer, [...batch, p, q, r, s]), axes), [...batch, p * r, q * s]);
}

// ---------------------------------------------------------------------------------------------
// Linear algebra: its rules live in ops-linalg.ts, part of this same table.

export { det, eigh, expm, inv, matrixNorm, qr, slogdet, solve, svd, trace } from './ops-linalg.js';

// ---------------------------------------------------------------------------------------------
// Ops without a gradient: their results are constants (they are piecewise constant).

/**
 * The names of the ops below, whose results are constants (no graph, `requiresGrad` false): they
 * are piecewise constant.
 */
export const NON_DIFFERENTIABLE = ['sign', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'argmax', 'argmin'] as const;

/** −1, 0 or 1 by the sign of x, as a constant. */
export const sign = (x: Variable | Tensor): Variable => constant(T.sign(asVariable('sign', x).value));
/** 1 where a = b, else 0 (NaN equals nothing), broadcasting as `add`; a constant. */
export const eq = (a: Input, b: Input): Variable => compare('eq', T.eq, a, b);
/** 1 where a ≠ b (or either is NaN), else 0, broadcasting as `add`; a constant. */
export const ne = (a: Input, b: Input): Variable => compare('ne', T.ne, a, b);
/** 1 where a < b, else 0, broadcasting as `add`; a constant. */
export const lt = (a: Input, b: Input): Variable => compare('lt', T.lt, a, b);
/** 1 where a ≤ b, else 0, broadcasting as `add`; a constant. */
export const le = (a: Input, b: Input): Variable => compare('le', T.le, a, b);
/** 1 where a > b, else 0, broadcasting as `add`; a constant. */
export const gt = (a: Input, b: Input): Variable => compare('gt', T.gt, a, b);
/** 1 where a ≥ b, else 0, broadcasting as `add`; a constant. */
export const ge = (a: Input, b: Input): Variable => compare('ge', T.ge, a, b);
function compare(op: string, fn: (a: Tensor | number, b: Tensor | number) => Tensor, a: Input, b: Input): Variable {
  const av = asOperand(op, a, 'a');
  const bv = asOperand(op, b, 'b');
  return constant(fn(valueOfOperand(av), valueOfOperand(bv)));
}
/**
 * Index of the largest element along `axis` (of the flattened x when undefined) as a float64
 * constant. Ties give the first index; a NaN counts as the largest. ValueError over an empty axis.
 */
export const argmax = (x: Variable | Tensor, axis?: number, keepDims = false): Variable =>
  constant(T.argmax(asVariable('argmax', x).value, axis, keepDims));
/** Index of the smallest element along `axis`, otherwise as `argmax`. */
export const argmin = (x: Variable | Tensor, axis?: number, keepDims = false): Variable =>
  constant(T.argmin(asVariable('argmin', x).value, axis, keepDims));

// ---------------------------------------------------------------------------------------------
// Per-op metadata, read by the tests (test/table.test.ts checks that every export has an entry).

/**
 * The `OpMetadata` of every op ops.ts defines (the linear-algebra ops have theirs in
 * ops-linalg.ts). ops.ts's default export, so that index.ts's `export *` keeps it out of the
 * public API.
 */
const OP_METADATA: Readonly<Record<string, OpMetadata>> = {
  add: { maxOrder: 2 },
  sub: { maxOrder: 2 },
  mul: { maxOrder: 2 },
  div: { maxOrder: 2 },
  pow: { maxOrder: 2 },
  maximum: { maxOrder: 2 },
  minimum: { maxOrder: 2 },
  where: { maxOrder: 2 },
  neg: { maxOrder: 2 },
  exp: { maxOrder: 2 },
  log: { maxOrder: 2 },
  log1p: { maxOrder: 2 },
  expm1: { maxOrder: 2 },
  sqrt: { maxOrder: 2 },
  square: { maxOrder: 2 },
  reciprocal: { maxOrder: 2 },
  abs: { maxOrder: 2 },
  tanh: { maxOrder: 2 },
  sigmoid: { maxOrder: 2 },
  relu: { maxOrder: 2 },
  gelu: { maxOrder: 2 },
  erf: { maxOrder: 2 },
  sin: { maxOrder: 2 },
  cos: { maxOrder: 2 },
  softplus: { maxOrder: 2 },
  clamp: { maxOrder: 2 },
  cast: {
    maxOrder: 2,
    gradientTest: {
      file: 'engine.test.ts',
      reason:
        'float32 rounding defeats finite differences; engine.test.ts checks ' +
        'its gradient (dtype round trip, second order) in closed form',
    },
  },
  sum: { maxOrder: 2 },
  mean: { maxOrder: 2 },
  // second order only where the input has no zeros (the rule with zeros refuses it)
  prod: { maxOrder: 2 },
  max: { maxOrder: 2 },
  min: { maxOrder: 2 },
  logsumexp: { maxOrder: 2 },
  norm: { maxOrder: 2 },
  variance: { maxOrder: 2, composite: 'mean, sub, square, sum, div' },
  logSoftmax: { maxOrder: 2, composite: 'sub (of the detached max), logsumexp and sub' },
  softmax: { maxOrder: 2, composite: "logSoftmax's ops and exp" },
  reshape: { maxOrder: 2 },
  permute: { maxOrder: 2 },
  transpose: { maxOrder: 2, composite: 'a permute' },
  expand: { maxOrder: 2 },
  squeeze: { maxOrder: 2, composite: 'a reshape' },
  unsqueeze: { maxOrder: 2, composite: 'a reshape' },
  flatten: { maxOrder: 2, composite: 'a reshape' },
  sumToShape: { maxOrder: 2, composite: 'a sum and a reshape' },
  slice: { maxOrder: 2 },
  embedSlice: { maxOrder: 2 },
  concat: { maxOrder: 2 },
  stack: { maxOrder: 2, composite: 'unsqueezes and a concat' },
  split: { maxOrder: 2, composite: 'slices' },
  flip: { maxOrder: 2 },
  indexSelect: { maxOrder: 2 },
  indexAdd: { maxOrder: 2 },
  gather: { maxOrder: 2 },
  scatterAdd: { maxOrder: 2 },
  diagonal: { maxOrder: 2 },
  diagEmbed: { maxOrder: 2 },
  tril: { maxOrder: 2 },
  triu: { maxOrder: 2 },
  matmul: { maxOrder: 2 },
  kron: { maxOrder: 2, composite: 'reshapes, a matmul (the batched outer product) and a permute' },
  sign: { maxOrder: 0 },
  eq: { maxOrder: 0 },
  ne: { maxOrder: 0 },
  lt: { maxOrder: 0 },
  le: { maxOrder: 0 },
  gt: { maxOrder: 0 },
  ge: { maxOrder: 0 },
  argmax: { maxOrder: 0 },
  argmin: { maxOrder: 0 },
};
export default OP_METADATA;
