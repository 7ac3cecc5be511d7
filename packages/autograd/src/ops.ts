/**
 * THE GRADIENT TABLE. Every differentiable op, its forward (a tensor kernel) and its
 * vector-Jacobian product side by side. Each rule is written in these same differentiable
 * ops, so gradients of gradients come for free. Rules return the gradient in the shape of the
 * broadcast result; the engine sums it back to each input's shape once (never an op).
 *
 * Conventions of the rules: `g` is the output gradient, `y` the output, inputs by name.
 * Ops whose result has no gradient (comparisons, argmax, sign) return constants: they are
 * listed in NON_DIFFERENTIABLE at the end.
 */
import * as T from '@hyperconn/tensor';
import { fmtShape, Tensor, ValueError, type DType, type SliceSpec } from '@hyperconn/tensor';
import { asOperand, asVariable, isGradEnabled, record, Variable } from './variable.js';

/** An op argument: a variable, a tensor (taken as a constant) or a number. */
export type Input = Variable | Tensor | number;
type Operand = Variable | number;
type Rule2 = (g: Variable, a: Operand, b: Operand, y: Variable) => Variable;

const valueOf = (x: Operand): Tensor | number => (x instanceof Variable ? x.value : x);

function unary(op: string, x: Variable | Tensor, forward: (t: Tensor) => Tensor, rule: (g: Variable, x: Variable, y: Variable) => Variable): Variable {
  const xv = asVariable(op, x);
  const y: Variable = record(op, forward(xv.value), [xv], (g) => [rule(g, xv, y)]);
  return y;
}

function binary(op: string, a: Input, b: Input, forward: (a: Tensor | number, b: Tensor | number) => Tensor, ruleA: Rule2, ruleB: Rule2): Variable {
  const av = asOperand(op, a, 'a');
  const bv = asOperand(op, b, 'b');
  if (!(av instanceof Variable) && !(bv instanceof Variable)) {
    throw new ValueError(`${op}: at least one operand must be a Variable or Tensor, got two numbers`);
  }
  const inputs: Variable[] = [];
  if (av instanceof Variable) inputs.push(av);
  if (bv instanceof Variable) inputs.push(bv);
  const y: Variable = record(op, forward(valueOf(av), valueOf(bv)), inputs, (g, needs) => {
    const out: (Variable | null)[] = [];
    let k = 0;
    if (av instanceof Variable) out.push(needs[k++] ? ruleA(g, av, bv, y) : null);
    if (bv instanceof Variable) out.push(needs[k++] ? ruleB(g, av, bv, y) : null);
    return out;
  });
  return y;
}

/** A 0/1 (or tie-weighted) mask as a constant: masks are piecewise constant, so gradients stop there. */
const constant = (t: Tensor): Variable => new Variable(t);
const detached = (x: Operand): Tensor | number => valueOf(x);

// ---------------------------------------------------------------------------------------------
// Element-wise, binary (broadcasting)

/**
 * a + b with NumPy broadcasting; mixed dtypes give float64, a number takes the other operand's
 * dtype. ValueError if both are numbers.
 */
export const add = (a: Input, b: Input): Variable => binary('add', a, b, T.add, (g) => g, (g) => g);
/** a − b, broadcasting as `add`. */
export const sub = (a: Input, b: Input): Variable => binary('sub', a, b, T.sub, (g) => g, (g) => neg(g));
/** a · b element-wise, broadcasting as `add`. */
export const mul = (a: Input, b: Input): Variable =>
  binary('mul', a, b, T.mul, (g, _a, b) => mul(g, b), (g, a) => mul(g, a));
/** a / b, broadcasting as `add` (IEEE: x/0 = ±∞, 0/0 = NaN). */
export const div = (a: Input, b: Input): Variable =>
  binary('div', a, b, T.div, (g, _a, b) => div(g, b), (g, _a, b, y) => neg(div(mul(g, y), b)));
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
export const abs = (x: Variable | Tensor): Variable => unary('abs', x, T.abs, (g, x) => mul(g, constant(T.sign(x.value))));
/** tanh x; gradient g·(1 − y²) from the output y. */
export const tanh = (x: Variable | Tensor): Variable => unary('tanh', x, T.tanh, (g, _x, y) => mul(g, sub(1, square(y))));
/** The logistic 1/(1 + e⁻ˣ), never NaN for infinite x; gradient g·y(1 − y) from the output y. */
export const sigmoid = (x: Variable | Tensor): Variable =>
  unary('sigmoid', x, T.sigmoid, (g, _x, y) => mul(g, mul(y, sub(1, y))));
/** Gradient 0 at 0. */
export const relu = (x: Variable | Tensor): Variable => unary('relu', x, T.relu, (g, x) => mul(g, constant(T.gt(x.value, 0))));
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
export const softplus = (x: Variable | Tensor): Variable => unary('softplus', x, T.softplus, (g, x) => mul(g, sigmoid(x)));
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
  return unary('cast', xv, (t) => t.astype(dtype), (g) => cast(g, from));
}

// ---------------------------------------------------------------------------------------------
// Reductions. `axes` undefined = all axes; negative axes count from the end.

/** `g` (reduced over `axes`) broadcast back to `shape`. */
function expandReduced(g: Variable, shape: readonly number[], axes: number | readonly number[] | undefined, keepDims: boolean): Variable {
  const ax = T.normalizeAxes('sum', axes, shape.length);
  const kept = keepDims ? g : reshape(g, shape.map((d, i) => (ax.includes(i) ? 1 : d)));
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
  return unary('sum', x, (t) => T.sum(t, axes, keepDims), (g, x) => expandReduced(g, x.shape, axes, keepDims));
}
/** The arithmetic mean over `axes` (as `sum`). Throws a ValueError over zero elements. */
export function mean(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary('mean', x, (t) => T.mean(t, axes, keepDims), (g, x) => div(expandReduced(g, x.shape, axes, keepDims), reducedCount(x.shape, axes)));
}
/**
 * d/dx_i = product of the others: y/x_i when the slice has no zero. With zeros the first-order
 * rule uses exact products of the other entries; differentiating it again is refused.
 */
export function prod(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary('prod', x, (t) => T.prod(t, axes, keepDims), (g, x, y) => {
    const gFull = expandReduced(g, x.shape, axes, keepDims);
    const hasZero = T.sum(T.eq(x.value, 0)).item() > 0;
    if (!hasZero) return mul(gFull, div(expandReduced(y, x.shape, axes, keepDims), x));
    if (isGradEnabled()) {
      throw new ValueError('prod: differentiating the gradient of prod at inputs that contain zeros is not supported');
    }
    return mul(gFull, constant(productOfOthers(x.value, axes)));
  });
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
  perm.forEach((a, i) => (inverse[a] = i));
  return T.tensor(out, { shape: moved.shape }).permute(inverse).contiguous();
}
/** Ties share the gradient equally. */
export function max(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary('max', x, (t) => T.max(t, axes, keepDims), (g, x, y) => extremumRule(g, x, y, axes, keepDims));
}
/**
 * The smallest element over `axes` (as `sum`); ValueError over an empty axis. Ties share the
 * gradient equally.
 */
export function min(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary('min', x, (t) => T.min(t, axes, keepDims), (g, x, y) => extremumRule(g, x, y, axes, keepDims));
}
function extremumRule(g: Variable, x: Variable, y: Variable, axes: number | readonly number[] | undefined, keepDims: boolean): Variable {
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
  return unary('logsumexp', x, (t) => T.logsumexp(t, axes, keepDims), (g, x) =>
    mul(expandReduced(g, x.shape, axes, keepDims), exp(logSoftmaxOver('logsumexp', x, axes))),
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
  return unary('norm', x, (t) => T.norm(t, axes, keepDims), (g, x, y) => {
    const yFull = expandReduced(y, x.shape, axes, keepDims);
    const safe = where(T.eq(yFull.value, 0), 1, yFull);
    return mul(expandReduced(g, x.shape, axes, keepDims), div(x, safe));
  });
}

// Composite reductions: differentiable through the ops above.
/**
 * Σ (x − mean)² / (N − correction) over `axes`: correction 0 (default) is the population variance,
 * 1 the sample variance. Throws a ValueError when N − correction ≤ 0.
 */
export function variance(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false, correction = 0): Variable {
  const xv = asVariable('variance', x);
  if (!(typeof correction === 'number' && Number.isFinite(correction) && correction >= 0)) {
    throw new ValueError(`variance: correction must be a finite number ≥ 0, got ${correction}`);
  }
  const n = reducedCount(xv.shape, axes);
  if (n - correction <= 0) throw new ValueError(`variance: ${n} elements with correction ${correction} leave no degrees of freedom`);
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
  return unary('reshape', x, (t) => t.reshape(shape), (g, x) => reshape(g, x.shape));
}
/** Reorders the axes: output axis i is input axis `axes[i]` (negative count from the end). */
export function permute(x: Variable | Tensor, axes: readonly number[]): Variable {
  const xv = asVariable('permute', x);
  const y = xv.value.permute(axes);
  const inverse = new Array<number>(axes.length);
  axes.forEach((a, i) => (inverse[T.normalizeAxis('permute', a, axes.length)] = i));
  return unary('permute', xv, () => y, (g) => permute(g, inverse));
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
  return unary('expand', x, (t) => t.expand(shape), (g) => g);
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
    else if (shape[i - lead] !== x.shape[i]) throw new T.ShapeError(`sumToShape: cannot sum ${fmtShape(x.shape)} down to ${fmtShape(shape)}`);
  }
  return reshape(sum(x, axes, true), shape);
}
/**
 * NumPy-style basic slicing, one tensor `SliceSpec` per leading axis (a number drops its axis);
 * missing trailing specs keep their axes. The gradient is g written into zeros of x's shape
 * (`embedSlice`).
 */
export function slice(x: Variable | Tensor, ...specs: SliceSpec[]): Variable {
  return unary('slice', x, (t) => t.slice(...specs), (g, x) => embedSlice(g, x.shape, specs));
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
  const y: Variable = record('concat', T.concat(vs.map((v) => v.value), axis), vs, (g) => {
    const ax = T.normalizeAxis('concat', axis, g.ndim);
    let start = 0;
    return vs.map((v) => {
      const specs: SliceSpec[] = new Array<SliceSpec>(ax).fill(null);
      specs.push([start, start + v.shape[ax]!]);
      start += v.shape[ax]!;
      return slice(g, ...specs);
    });
  });
  return y;
}
/** Joins same-shape inputs along a new `axis` (numbered in the output). ValueError for an empty list. */
export function stack(xs: readonly (Variable | Tensor)[], axis = 0): Variable {
  if (!Array.isArray(xs)) throw T.argumentError('stack', 'xs', 'an array of Variables or Tensors', xs);
  if (xs.length === 0) throw new ValueError('stack: needs at least one tensor');
  const vs = xs.map((x, i) => asVariable('stack', x, `xs[${i}]`));
  const ax = T.normalizeAxis('stack', axis, vs[0]!.ndim + 1);
  return concat(vs.map((x) => unsqueeze(x, ax)), ax);
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
  return unary('flip', x, (t) => T.flip(t, axes), (g) => flip(g, axes));
}
/**
 * Picks the entries `indices` along `axis` (repeats allowed, negative count from the end): x's
 * shape with that axis of length `indices.length`. Gradients of repeated entries add up
 * (`indexAdd`).
 */
export function indexSelect(x: Variable | Tensor, axis: number, indices: readonly number[] | Tensor): Variable {
  return unary('indexSelect', x, (t) => T.indexSelect(t, axis, indices), (g, x) =>
    indexAdd(T.zeros(x.shape, { dtype: x.dtype }), axis, indices, g),
  );
}
/** `base` plus `src` accumulated into the rows `indices` along `axis` (indexSelect's adjoint). */
export function indexAdd(base: Variable | Tensor, axis: number, indices: readonly number[] | Tensor, src: Variable | Tensor): Variable {
  const b = asVariable('indexAdd', base, 'base');
  const s = asVariable('indexAdd', src, 'src');
  return record('indexAdd', T.indexAdd(b.value, axis, indices, s.value), [b, s], (g) => [g, indexSelect(g, axis, indices)]);
}
/**
 * As torch.gather, `out[…, i, …] = x[…, index[…, i, …], …]` along `axis`: `index` (a constant) has
 * x's rank and is no longer than x on the other axes; the output has its shape. Gradient by
 * `scatterAdd`.
 */
export function gather(x: Variable | Tensor, axis: number, index: Tensor): Variable {
  return unary('gather', x, (t) => T.gather(t, axis, index), (g, x) => scatterAdd(T.zeros(x.shape, { dtype: x.dtype }), axis, index, g));
}
/** `base` plus `src` accumulated at `index` along `axis` (gather's adjoint). */
export function scatterAdd(base: Variable | Tensor, axis: number, index: Tensor, src: Variable | Tensor): Variable {
  const b = asVariable('scatterAdd', base, 'base');
  const s = asVariable('scatterAdd', src, 'src');
  // Only src's leading index-shaped block is read, so its gradient is zero outside that block.
  const block = index.shape.map((d): SliceSpec => [0, d]);
  return record('scatterAdd', T.scatterAdd(b.value, axis, index, s.value), [b, s], (g) => [g, embedSlice(gather(g, axis, index), s.shape, block)]);
}
/** The main diagonal of the last two axes. */
export function diagonal(x: Variable | Tensor): Variable {
  return unary('diagonal', x, (t) => T.diagonal(t), (g, x) => {
    const [n, m] = x.shape.slice(-2) as [number, number];
    const band = constant(T.eye(n, m, { dtype: x.dtype }));
    return mul(unsqueeze(g, n <= m ? -1 : -2), band);
  });
}
/** Square matrices with x's last axis on the diagonal, zeros elsewhere: `[..., k]` → `[..., k, k]`. */
export function diagEmbed(x: Variable | Tensor): Variable {
  return unary('diagEmbed', x, T.diagEmbed, (g) => diagonal(g));
}
/** The lower triangle of the last two axes: keeps (i, j) with j ≤ i + k, zeroes the rest. */
export function tril(x: Variable | Tensor, k = 0): Variable {
  return unary('tril', x, (t) => T.tril(t, k), (g) => tril(g, k));
}
/** The upper triangle of the last two axes: keeps (i, j) with j ≥ i + k, zeroes the rest. */
export function triu(x: Variable | Tensor, k = 0): Variable {
  return unary('triu', x, (t) => T.triu(t, k), (g) => triu(g, k));
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
    throw new T.ShapeError(`matmul: operands must have at least one axis, got ${fmtShape(av.shape)} @ ${fmtShape(bv.shape)}`);
  }
  if (av.ndim === 1 && bv.ndim === 1) return squeeze(matmul(unsqueeze(av, 0), unsqueeze(bv, -1)), [-2, -1]);
  if (av.ndim === 1) return squeeze(matmul(unsqueeze(av, 0), bv), -2);
  if (bv.ndim === 1) return squeeze(matmul(av, unsqueeze(bv, -1)), -1);
  return record('matmul', T.matmul(av.value, bv.value), [av, bv], (g, needs) => [
    needs[0] ? matmul(g, transpose(bv)) : null,
    needs[1] ? matmul(transpose(av), g) : null,
  ]);
}

// ---------------------------------------------------------------------------------------------
// Linear algebra. Forwards are the tensor package's linalg kernels (last two axes, batched over
// the leading ones); rules are written in the differentiable ops, these included, so they can be
// differentiated again. Decompositions with several outputs record one node per output, each
// carrying the part of the vjp that its own cotangent drives: the vjp is linear in the
// cotangents, so the engine's sum is the whole rule, and an unused output costs nothing.

const mT = (x: Variable): Variable => transpose(x, -2, -1);
/** A per-matrix scalar [...] as [...,1,1], to scale whole matrices. */
const perMatrix = (x: Variable): Variable => unsqueeze(unsqueeze(x, -1), -1);

/** The block rows × cols of the last two axes. */
function block(x: Variable, rows: SliceSpec, cols: SliceSpec): Variable {
  return slice(x, ...new Array<SliceSpec>(x.ndim - 2).fill(null), rows, cols);
}

function requireMatrix(op: string, x: Variable): void {
  if (x.ndim < 2) throw new T.ShapeError(`${op}: a must be a matrix or a batch of matrices [...,m,n], got shape ${fmtShape(x.shape)}`);
}

/** Runs a rule that inverts a matrix, so that a singular one is reported under the op whose gradient needed it. */
function needsInverse<R>(op: string, matrix: string, rule: () => R): R {
  try {
    return rule();
  } catch (e) {
    if (e instanceof T.LinAlgError) throw new T.LinAlgError(`${op}: the gradient needs ${matrix} to be invertible (${e.message})`);
    throw e;
  }
}

/**
 * Eigen- or singular values closer than this (relative to the largest magnitude) count as tied.
 * Exactly repeated values come out of the kernels a few ulps apart; 1/(gap) of such a pair would
 * turn rounding noise into a gradient of order 1/eps.
 */
const tieRtol = (dtype: DType): number => 1e-2 * Math.sqrt(T.epsOf(dtype));

/** [...,k,k]: 1 where |x_i − x_j| ≤ tieRtol·max|x| (the diagonal always), else 0, for each vector of `x` [...,k]. */
function spectralTies(x: Tensor): Tensor {
  const k = x.shape[x.ndim - 1]!;
  const values = x.toTypedArray();
  const mask = new Float64Array(values.length * k);
  const tol = tieRtol(x.dtype);
  for (let base = 0; base < values.length; base += k) {
    let scale = 0;
    for (let i = 0; i < k; i++) scale = Math.max(scale, Math.abs(values[base + i]!));
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        if (Math.abs(values[base + i]! - values[base + j]!) <= tol * scale) mask[(base + i) * k + j] = 1;
      }
    }
  }
  return T.tensor(mask, { shape: [...x.shape, k] });
}

/** F_ij = 1/gaps_ij, and 0 wherever `ties` is set (the diagonal included). Differentiable in the gaps. */
function gapReciprocals(gaps: Variable, ties: Tensor): Variable {
  return where(ties, 0, reciprocal(where(ties, 1, gaps)));
}
/** [...,k,k]: d_j − d_i for each vector d [...,k]. */
const pairwiseDifferences = (d: Variable): Variable => sub(unsqueeze(d, -2), unsqueeze(d, -1));
/** [...,k,k]: d_j + d_i for each vector d [...,k]. */
const pairwiseSums = (d: Variable): Variable => add(unsqueeze(d, -2), unsqueeze(d, -1));

/**
 * Per-matrix (or per-vector) binary exponents, for rules that work on scaled quantities: the
 * exponent e of each trailing block of a tensor, with 2^e ≤ max|entry| < 2^(e+1), and the batch
 * shape (the leading axes) the exponents are laid out in, C order.
 */
interface Exponents {
  exps: number[];
  batch: number[];
}

/** The `Exponents` of the trailing `trailing` axes of `x`; 0 for a zero, empty or non-finite block (nothing to rescale). */
function scaleExponents(x: Tensor, trailing: number): Exponents {
  const batch = x.shape.slice(0, x.ndim - trailing);
  const count = batch.reduce((p, d) => p * d, 1);
  const values = x.toTypedArray();
  const inner = count === 0 ? 0 : values.length / count;
  const exps = new Array<number>(count).fill(0);
  for (let b = 0; b < count; b++) {
    let max = 0;
    let finite = true;
    for (let i = b * inner; i < (b + 1) * inner; i++) {
      const v = Math.abs(values[i]!);
      if (!Number.isFinite(v)) finite = false;
      else if (v > max) max = v;
    }
    if (!finite || max === 0) continue;
    // log2 may be off by one near powers of two; the comparisons make e exact
    let e = Math.floor(Math.log2(max));
    if (2 ** e > max) e--;
    else if (2 ** (e + 1) <= max) e++;
    exps[b] = e;
  }
  return { exps, batch };
}

/** The exponents of a product: e of `a` plus e of `b`, block by block (same batch). */
const addExponents = (a: Exponents, b: Exponents): Exponents => ({ exps: a.exps.map((e, i) => e + b.exps[i]!), batch: a.batch });

/**
 * x·2^(p·e) per block of `x` (whose leading axes are the batch of `scale`). Applied in steps that
 * each stay inside the dtype's range, so that an entry over- or underflows only if the exact
 * product does (and 0 stays 0, never 0·∞ = NaN); a power of two is otherwise exact. A constant
 * factor, so the result is differentiable in x as the product.
 */
function timesPowerOfTwo(x: Variable, scale: Exponents, p: number): Variable {
  const f32 = x.dtype === 'float32';
  const step = f32 ? 60 : 500;
  // beyond the dtype's whole exponent range the result is 0 or ±∞ anyway: fewer steps
  const limit = f32 ? 600 : 4400;
  const totals = scale.exps.map((e) => Math.max(-limit, Math.min(limit, p * e)));
  const steps = Math.ceil(totals.reduce((acc, t) => Math.max(acc, Math.abs(t)), 0) / step);
  const shape = [...scale.batch, ...new Array<number>(x.ndim - scale.batch.length).fill(1)];
  let y = x;
  for (let j = 0; j < steps; j++) {
    // integer parts of the same sign, |part| ≤ step: the intermediate values move monotonically
    const factors = Float64Array.from(totals, (t) => 2 ** (Math.trunc((t * (j + 1)) / steps) - Math.trunc((t * j) / steps)));
    y = mul(y, constant(T.tensor(factors, { shape, dtype: x.dtype })));
  }
  return y;
}

/**
 * X = A⁻¹B for `a` [...,n,n] and `b` [n] (one vector) or [...,n,k] (batch axes broadcast), as
 * the tensor `solve`. gB = A⁻ᵀg, gA = −gB Xᵀ.
 */
export function solve(a: Variable | Tensor, b: Variable | Tensor): Variable {
  const av = asVariable('solve', a, 'a');
  const bv = asVariable('solve', b, 'b');
  const vectorB = bv.ndim === 1;
  const x: Variable = record('solve', T.solve(av.value, bv.value), [av, bv], (g, needs) => {
    // g is [...,n] for a vector b: solve it as a batch of one-column matrices
    const gB = vectorB ? squeeze(solve(mT(av), unsqueeze(g, -1)), -1) : solve(mT(av), g);
    if (!needs[0]) return [null, needs[1] ? gB : null];
    // the product of gB and X (each ~1/A) is formed from both divided by powers of two and scaled
    // back once: an overflow is then ±∞, never a sum ∞ − ∞ = NaN
    const trailing = vectorB ? 1 : 2;
    const sB = scaleExponents(gB.value, trailing);
    const sX = scaleExponents(x.value, trailing);
    const [hB, hX] = [timesPowerOfTwo(gB, sB, -1), timesPowerOfTwo(x, sX, -1)];
    const product = vectorB ? matmul(unsqueeze(hB, -1), unsqueeze(hX, -2)) : matmul(hB, mT(hX));
    return [neg(timesPowerOfTwo(product, addExponents(sB, sX), 1)), needs[1] ? gB : null];
  });
  return x;
}

/** A⁻¹ of `a` [...,n,n]; gA = −A⁻ᵀ g A⁻ᵀ. */
export function inv(a: Variable | Tensor): Variable {
  return unary('inv', asVariable('inv', a, 'a'), T.inv, (g, _x, y) => {
    // on A⁻¹/2^e, scaled back by 2^2e once: where the result overflows it is ±∞, not ∞ − ∞ = NaN
    const scale = scaleExponents(y.value, 2);
    const yT = mT(timesPowerOfTwo(y, scale, -1));
    return neg(timesPowerOfTwo(matmul(matmul(yT, g), yT), scale, 2));
  });
}

/**
 * det A of `a` [...,n,n]; gA = g·det A·A⁻ᵀ, the cofactor matrix, computed as
 * g·det(Â)·Â⁻ᵀ·2^((n−1)e) for Â = A/2^e (max|Â| in [1, 2)): it is finite wherever the cofactors
 * are, also where det A itself over- or underflows (det scales as cⁿ, the cofactors as cⁿ⁻¹). At
 * a singular A the gradient (the adjugate) is not implemented: the rule's inverse throws a
 * LinAlgError naming `det`.
 */
export function det(a: Variable | Tensor): Variable {
  return unary('det', asVariable('det', a, 'a'), T.det, (g, x) =>
    needsInverse('det', 'A', () => {
      const n = x.shape[x.ndim - 1]!;
      const scale = scaleExponents(x.value, 2);
      const hat = timesPowerOfTwo(x, scale, -1);
      return timesPowerOfTwo(mul(perMatrix(mul(g, det(hat))), mT(inv(hat))), scale, n - 1);
    }),
  );
}

/**
 * sign(det A) as a constant and log|det A| (gradient g·A⁻ᵀ) of `a` [...,n,n], both [...]. At a
 * singular A, logAbsDet is −∞ and its gradient throws a LinAlgError naming `slogdet`.
 */
export function slogdet(a: Variable | Tensor): { sign: Variable; logAbsDet: Variable } {
  const av = asVariable('slogdet', a, 'a');
  const { sign, logAbsDet } = T.slogdet(av.value);
  return {
    sign: constant(sign),
    logAbsDet: record('slogdet', logAbsDet, [av], (g) => [needsInverse('slogdet', 'A', () => mul(perMatrix(g), mT(inv(av))))]),
  };
}

/**
 * Reduced QR of `a` [...,m,n] (the tensor `qr`: Q [...,m,k], R [...,k,n], k = min(m,n),
 * diag R ≥ 0), differentiable for any m, n where the leading k×k block of A is invertible
 * (A of full rank); otherwise the gradient throws a LinAlgError naming `qr`.
 *
 * Full rank is judged numerically, relative to A's own scale: the gradient throws when some
 * |R_jj| ≤ max(m,n)·eps(dtype)·max|R_ij| (over the leading k×k block of R). Since max|R_ij| ≤
 * σ_max and σ_min ≤ |R_jj|, only matrices with σ_min ≤ max(m,n)·eps·σ_max (rank-deficient by
 * NumPy's `matrix_rank` tolerance) are refused, whose R⁻ᵀ would turn rounding into gradients of
 * order 1/eps; a well-conditioned A at any scale (1e±300 in float64) is accepted.
 */
export function qr(a: Variable | Tensor): { q: Variable; r: Variable } {
  const av = asVariable('qr', a, 'a');
  const f = T.qr(av.value);
  const q: Variable = record('qr.q', f.q, [av], (g) => [qrBackward(av, q, r, g, null)]);
  const r: Variable = record('qr.r', f.r, [av], (g) => [qrBackward(av, q, r, null, g)]);
  return { q, r };
}

/**
 * The QR vjp. For m < n, A = [X | Y] with X = Q U square and Y = Q V (R = [U | V]): then
 * gY = Q gV, and X takes the square rule with the extra Q-cotangent Y gVᵀ (V = QᵀY depends on Q).
 */
function qrBackward(a: Variable, q: Variable, r: Variable, gQ: Variable | null, gR: Variable | null): Variable {
  const [m, n] = a.shape.slice(-2) as [number, number];
  if (m >= n) {
    requireNumericalFullRank(r.value, Math.max(m, n));
    return qrTallBackward(q, r, gQ, gR);
  }
  const u = block(r, null, [0, m]);
  requireNumericalFullRank(u.value, n);
  if (gR === null) {
    const gY = T.zeros([...a.shape.slice(0, -1), n - m], { dtype: a.dtype });
    return concat([qrTallBackward(q, u, gQ, null), gY], -1);
  }
  const gU = block(gR, null, [0, m]);
  const gV = block(gR, null, [m, n]);
  const fromV = matmul(block(a, null, [m, n]), mT(gV));
  const gX = qrTallBackward(q, u, gQ === null ? fromV : add(gQ, fromV), gU);
  return concat([gX, matmul(q, gV)], -1);
}

/**
 * The LinAlgError of `qr`'s gradient for a numerically rank-deficient A: some |R_jj| ≤
 * size·eps·max|R_ij| in a matrix of `r` [...,k,k] (size = max(m,n)). An exactly zero pivot is
 * the case max|R_ij|·0; a zero matrix (max 0) is refused too.
 */
function requireNumericalFullRank(r: Tensor, size: number): void {
  const k = r.shape[r.ndim - 1]!;
  const values = r.toTypedArray();
  const tol = size * T.epsOf(r.dtype);
  for (let b = 0; b * k * k < values.length; b++) {
    let max = 0;
    for (let i = b * k * k; i < (b + 1) * k * k; i++) max = Math.max(max, Math.abs(values[i]!));
    for (let j = 0; j < k; j++) {
      const pivot = Math.abs(values[b * k * k + j * k + j]!);
      if (pivot <= tol * max) {
        const at = r.ndim > 2 ? ` in matrix ${b} of the batch` : '';
        throw new T.LinAlgError(
          `qr: the gradient needs R (A of full rank) to be invertible: A is numerically rank-deficient${at} (|R[${j},${j}]| = ${pivot} ≤ max(m,n)·eps·max|R| = ${tol * max})`,
        );
      }
    }
  }
}

/**
 * The vjp of A = QR for m ≥ n (Q m×n, R n×n): with M = gR Rᵀ − Qᵀ gQ and B the symmetric
 * matrix that copies M's upper triangle onto its lower one, gA = (gQ + Q B) R⁻ᵀ. (From
 * dA = dQ R + Q dR with QᵀdQ skew and dR R⁻¹ upper triangular; PyTorch's linalg_qr_backward.)
 */
function qrTallBackward(q: Variable, r: Variable, gQ: Variable | null, gR: Variable | null): Variable {
  const fromR = gR === null ? null : matmul(gR, mT(r));
  const fromQ = gQ === null ? null : matmul(mT(q), gQ);
  const m = fromR === null ? neg(fromQ!) : fromQ === null ? fromR : sub(fromR, fromQ);
  const b = add(triu(m), mT(triu(m, 1)));
  const qb = matmul(q, b);
  const z = gQ === null ? qb : add(gQ, qb);
  // Z R⁻ᵀ = (R⁻¹ Zᵀ)ᵀ
  return needsInverse('qr', 'R (A of full rank)', () => mT(solve(r, mT(z))));
}

/**
 * Eigendecomposition of symmetric matrices (the tensor `eigh`: A is symmetrised as (A + Aᵀ)/2;
 * values [...,n] ascending, vectors [...,n,n] as columns). With F_ij = 1/(λ_j − λ_i):
 * gA = V (diag(gλ) + F ∘ (Vᵀ gV)) Vᵀ, symmetrised.
 *
 * Repeated eigenvalues (within ~1e-10 relative in float64, see `tieRtol`): only the eigenspace
 * is defined there, not a basis of it, so F is taken as 0 on tied pairs — never NaN. The result
 * is exact for losses of the eigenvalues that are symmetric within each tie (e.g. Σλ, Σλ², any
 * Σφ(λ_i)), and for losses of the vectors through their eigenspaces with weights equal within
 * each tie (V diag(c) Vᵀ with constant c). It is not for gauge-dependent losses, nor for
 * spectral functions V diag(φ(λ)) Vᵀ (whose exact gradient needs φ′ on the tied block, a 0/0
 * limit the op cannot see) — nor therefore for second derivatives of eigenvalue losses at ties.
 *
 * Scale: the gaps are taken on λ/2^e with max|λ|/2^e in [1, 2), so the gradient is equivariant
 * under A → cA (values' gradient unchanged, vectors' divided by c) across the whole float range
 * where it is finite (tested for 1e±300 in float64, 1e±30 in float32).
 */
export function eigh(a: Variable | Tensor): { values: Variable; vectors: Variable } {
  const av = asVariable('eigh', a, 'a');
  const d = T.eigh(av.value);
  const values: Variable = record('eigh.values', d.values, [av], (g) => [matmul(mul(vectors, unsqueeze(g, -2)), mT(vectors))]);
  const vectors: Variable = record('eigh.vectors', d.vectors, [av], (g) => {
    // gaps of λ/2^e (max |λ|/2^e in [1, 2)), so that 1/gap neither overflows nor loses bits in
    // subnormals at extreme scales; the one factor 2^−e is applied at the end
    const scale = scaleExponents(values.value, 1);
    const f = gapReciprocals(pairwiseDifferences(timesPowerOfTwo(values, scale, -1)), spectralTies(values.value));
    const gS = matmul(matmul(vectors, mul(f, matmul(mT(vectors), g))), mT(vectors));
    return [timesPowerOfTwo(mul(add(gS, mT(gS)), 0.5), scale, -1)];
  });
  return { values, vectors };
}

/**
 * Reduced SVD (the tensor `svd`: A = U diag(s) Vᵀ, U [...,m,k], s [...,k] descending, V [...,n,k],
 * k = min(m,n)). With F_ij = 1/(s_j² − s_i²), J = F ∘ (UᵀgU − gUᵀU), K = F ∘ (VᵀgV − gVᵀV):
 * gA = U (diag(gs) + J S + S K) Vᵀ + (I − UUᵀ) gU S⁻¹ Vᵀ [m > n] + U S⁻¹ gVᵀ (I − VVᵀ) [m < n]
 * (Townsend, "Differentiating the singular value decomposition"; PyTorch's svd_backward).
 *
 * Repeated singular values are handled as eigh's eigenvalues (F = 0 on tied pairs, never NaN):
 * exact for losses of s symmetric within ties (e.g. Σs, the nuclear norm) and for U, V through
 * subspace-invariant combinations; gauge-dependent losses of U or V are undefined there. For
 * m ≠ n, a zero singular value whose vector (of U if m > n, of V if m < n) has a non-zero
 * cotangent makes the gradient infinite: LinAlgError.
 *
 * Scale: F is formed from s/2^e with max s/2^e in [1, 2), never from s² (which overflows or
 * underflows beyond about 1e±154, 1e±19 in float32), so the gradient is equivariant under
 * A → cA (s's gradient unchanged, U's and V's divided by c) wherever it is finite (tested for
 * 1e±300 in float64, 1e±30 in float32).
 */
export function svd(a: Variable | Tensor): { u: Variable; s: Variable; v: Variable } {
  const av = asVariable('svd', a, 'a');
  const d = T.svd(av.value);
  const [m, n] = av.shape.slice(-2) as [number, number];
  // The gap terms work on t = s/2^e (max t in [1, 2)): s_j² − s_i² itself overflows or
  // underflows beyond about 1e±154 (1e±19 in float32). F = F̂·2^−2e and s = t·2^e, so the
  // J S and S K terms are F̂-terms times 2^−e, applied once at the end. F̂ is formed as
  // 1/((t_j − t_i)(t_j + t_i)): no cancellation, and untied pairs keep it below ~1/tieRtol².
  const scaled = (): { t: Variable; f: Variable; scale: Exponents } => {
    const scale = scaleExponents(s.value, 1);
    const t = timesPowerOfTwo(s, scale, -1);
    return { t, f: gapReciprocals(mul(pairwiseDifferences(t), pairwiseSums(t)), spectralTies(s.value)), scale };
  };
  const s: Variable = record('svd.s', d.s, [av], (g) => [matmul(mul(u, unsqueeze(g, -2)), mT(v))]);
  const u: Variable = record('svd.u', d.u, [av], (g) => {
    const { t, f, scale } = scaled();
    const uTg = matmul(mT(u), g);
    const jt = mul(mul(f, sub(uTg, mT(uTg))), unsqueeze(t, -2));
    const gA = timesPowerOfTwo(matmul(matmul(u, jt), mT(v)), scale, -1);
    if (m <= n) return [gA];
    const outside = sub(g, matmul(u, uTg));
    return [add(gA, matmul(overSingularValues('u', outside, s), mT(v)))];
  });
  const v: Variable = record('svd.v', d.v, [av], (g) => {
    const { t, f, scale } = scaled();
    const vTg = matmul(mT(v), g);
    const tk = mul(mul(f, sub(vTg, mT(vTg))), unsqueeze(t, -1));
    const gA = timesPowerOfTwo(matmul(matmul(u, tk), mT(v)), scale, -1);
    if (m >= n) return [gA];
    const outside = sub(g, matmul(v, vTg));
    return [add(gA, matmul(u, mT(overSingularValues('v', outside, s))))];
  });
  return { u, s, v };
}

/** X S⁻¹ (column j over s_j); a zero s_j is allowed only under a zero column of X. */
function overSingularValues(output: 'u' | 'v', x: Variable, s: Variable): Variable {
  const k = s.shape[s.ndim - 1]!;
  const sv = s.value.toTypedArray();
  const xv = x.value.toTypedArray();
  const rows = x.shape[x.ndim - 2]!;
  for (let p = 0; p < xv.length; p++) {
    const matrix = Math.floor(p / (rows * k));
    const j = p % k;
    if (xv[p] !== 0 && sv[matrix * k + j] === 0) {
      throw new T.LinAlgError(
        `svd: the gradient through ${output} is infinite for matrix ${matrix} of the batch: A is rank-deficient and not square (singular value ${j} is 0) and the cotangent of singular vector ${j} is not 0`,
      );
    }
  }
  return div(x, unsqueeze(where(T.eq(s.value, 0), 1, s), -2));
}

/**
 * e^A of `a` [...,n,n]. The vjp is the Fréchet derivative at Aᵀ applied to g, the upper-right
 * block of exp([[Aᵀ, g], [0, Aᵀ]]) (Higham, "Functions of Matrices", §3.2), computed with this
 * same differentiable expm so that it can be differentiated again. It is linear in g, so it is
 * taken at g scaled by a power of two to max|g| in [1, 2) and scaled back: a cotangent of any
 * magnitude gives the same relative accuracy.
 */
export function expm(a: Variable | Tensor): Variable {
  return unary('expm', asVariable('expm', a, 'a'), T.expm, (g, x) => {
    const n = x.shape[x.ndim - 1]!;
    const xT = mT(x);
    const zero = T.zeros(x.shape, { dtype: x.dtype });
    // the derivative is linear in g: take it at g/2^e (max |entry| in [1, 2)), else a large g
    // sets the block matrix's scaling and squaring, and A/2^s would underflow beside it
    const scale = scaleExponents(g.value, 2);
    const blocks = concat([concat([xT, timesPowerOfTwo(g, scale, -1)], -1), concat([zero, xT], -1)], -2);
    return timesPowerOfTwo(block(expm(blocks), [0, n], [n, 2 * n]), scale, 1);
  });
}

/**
 * A matrix norm of `a` [...,m,n] (output [...]), as the tensor `matrixNorm`. 'fro', 1 and 'inf'
 * are composites of norm, abs, sum and max (at ties of the max column or row sum, max splits the
 * gradient equally; abs's subgradient at 0 is 0). 2 has gradient u₁v₁ᵀ from the top singular
 * pair and 'nuc' U Vᵀ, both through the differentiable `svd`: at a repeated top singular value
 * (2) or a zero one ('nuc') these are one subgradient of several.
 */
export function matrixNorm(a: Variable | Tensor, ord: T.MatrixNormOrder = 'fro'): Variable {
  const av = asVariable('matrixNorm', a, 'a');
  requireMatrix('matrixNorm', av);
  if (av.shape[av.ndim - 2] === 0 || av.shape[av.ndim - 1] === 0) {
    // empty matrices have norm 0 (and an empty gradient); the composites would reduce empty axes
    return unary('matrixNorm', av, (t) => T.matrixNorm(t, ord), (_g, x) => constant(T.zeros(x.shape, { dtype: x.dtype })));
  }
  switch (ord) {
    case 'fro':
      return norm(av, [-2, -1]);
    case 1:
      return max(sum(abs(av), -2), -1);
    case 'inf':
      return max(sum(abs(av), -1), -1);
    case 2:
    case 'nuc':
      return unary('matrixNorm', av, (t) => T.matrixNorm(t, ord), (g, x) => {
        const { u, v } = svd(x);
        const uv = ord === 2 ? matmul(block(u, null, [0, 1]), mT(block(v, null, [0, 1]))) : matmul(u, mT(v));
        return mul(perMatrix(g), uv);
      });
    default:
      throw new ValueError(`matrixNorm: ord must be 'fro', 1, 'inf', 2 or 'nuc', got ${JSON.stringify(ord) ?? String(ord)}`);
  }
}

/** The sum of the main diagonal of `a` [...,m,n] (output [...]). */
export function trace(a: Variable | Tensor): Variable {
  const av = asVariable('trace', a, 'a');
  requireMatrix('trace', av);
  return sum(diagonal(av), -1);
}

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
  return constant(fn(valueOf(av), valueOf(bv)));
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
