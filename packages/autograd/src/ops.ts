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
import { isGradEnabled, record, Variable } from './variable.js';

/** An op argument: a variable, a tensor (taken as a constant) or a number. */
export type Input = Variable | Tensor | number;
type Operand = Variable | number;
type Rule2 = (g: Variable, a: Operand, b: Operand, y: Variable) => Variable;

function lift(x: Input): Operand {
  return x instanceof Tensor ? new Variable(x) : x;
}
function asVariable(x: Variable | Tensor): Variable {
  return x instanceof Variable ? x : new Variable(x);
}
const valueOf = (x: Operand): Tensor | number => (x instanceof Variable ? x.value : x);

function unary(op: string, x: Variable | Tensor, forward: (t: Tensor) => Tensor, rule: (g: Variable, x: Variable, y: Variable) => Variable): Variable {
  const xv = asVariable(x);
  const y: Variable = record(op, forward(xv.value), [xv], (g) => [rule(g, xv, y)]);
  return y;
}

function binary(op: string, a: Input, b: Input, forward: (a: Tensor | number, b: Tensor | number) => Tensor, ruleA: Rule2, ruleB: Rule2): Variable {
  const av = lift(a);
  const bv = lift(b);
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

/** a + b with NumPy broadcasting; mixed dtypes give float64, a number takes the other operand's dtype. ValueError if both are numbers. */
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
/** The element-wise smaller of a and b (NaN if either is), broadcasting as `add`. Ties send half the gradient to each side (as PyTorch). */
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
  const xv = asVariable(x);
  if (xv.dtype === dtype) return xv;
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

/** Σ over `axes` (undefined = all, negative count from the end); `keepDims` keeps them as size 1. Over zero elements, 0. */
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
/** The smallest element over `axes` (as `sum`); ValueError over an empty axis. Ties share the gradient equally. */
export function min(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary('min', x, (t) => T.min(t, axes, keepDims), (g, x, y) => extremumRule(g, x, y, axes, keepDims));
}
function extremumRule(g: Variable, x: Variable, y: Variable, axes: number | readonly number[] | undefined, keepDims: boolean): Variable {
  const yFull = expandReduced(y.detach(), x.shape, axes, keepDims).value;
  const hits = T.eq(x.value, yFull);
  const count = T.sum(hits, axes, true);
  return mul(expandReduced(g, x.shape, axes, keepDims), constant(T.div(hits, count)));
}
/** Stable; d/dx = softmax over the reduced axes. */
export function logsumexp(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false): Variable {
  return unary('logsumexp', x, (t) => T.logsumexp(t, axes, keepDims), (g, x, y) =>
    mul(expandReduced(g, x.shape, axes, keepDims), exp(sub(x, expandReduced(y, x.shape, axes, keepDims)))),
  );
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
 * Σ (x − mean)² / (N − correction) over `axes`: correction 0 (default) is the population variance, 1 the sample variance.
 * Throws a ValueError when N − correction ≤ 0.
 */
export function variance(x: Variable | Tensor, axes?: number | readonly number[], keepDims = false, correction = 0): Variable {
  const xv = asVariable(x);
  const n = reducedCount(xv.shape, axes);
  if (n - correction <= 0) throw new ValueError(`variance: ${n} elements with correction ${correction} leave no degrees of freedom`);
  const centered = sub(xv, mean(xv, axes, true));
  return div(sum(square(centered), axes, keepDims), n - correction);
}
/** x − logsumexp(x) along `axis` (default the last): finite for any finite x, however large. */
export function logSoftmax(x: Variable | Tensor, axis = -1): Variable {
  const xv = asVariable(x);
  return sub(xv, logsumexp(xv, axis, true));
}
/** exp(logSoftmax(x)) along `axis` (default the last): sums to 1 along it. A slice of only −∞ gives NaN. */
export function softmax(x: Variable | Tensor, axis = -1): Variable {
  return exp(logSoftmax(x, axis));
}

// ---------------------------------------------------------------------------------------------
// Shapes and views

/** The same elements in C order in a new shape (one entry may be -1); ShapeError if the sizes differ. */
export function reshape(x: Variable | Tensor, shape: readonly number[]): Variable {
  return unary('reshape', x, (t) => t.reshape(shape), (g, x) => reshape(g, x.shape));
}
/** Reorders the axes: output axis i is input axis `axes[i]` (negative count from the end). */
export function permute(x: Variable | Tensor, axes: readonly number[]): Variable {
  const xv = asVariable(x);
  const y = xv.value.permute(axes);
  const inverse = new Array<number>(axes.length);
  axes.forEach((a, i) => (inverse[T.normalizeAxis('permute', a, axes.length)] = i));
  return unary('permute', xv, () => y, (g) => permute(g, inverse));
}
/** Swaps two axes (default the last two). */
export function transpose(x: Variable | Tensor, axis0 = -2, axis1 = -1): Variable {
  const xv = asVariable(x);
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
  const xv = asVariable(x);
  return reshape(xv, xv.value.squeeze(axes).shape);
}
/** Inserts a size-1 axis at `axis`, numbered in the output (negative counts from the end). */
export function unsqueeze(x: Variable | Tensor, axis: number): Variable {
  const xv = asVariable(x);
  return reshape(xv, xv.value.unsqueeze(axis).shape);
}
/** All elements along one axis, `[size]`, in C order. */
export function flatten(x: Variable | Tensor): Variable {
  return reshape(x, [-1]);
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
 * NumPy-style basic slicing, one tensor `SliceSpec` per leading axis (a number drops its axis); missing trailing specs keep
 * their axes. The gradient is g written into zeros of x's shape (`embedSlice`).
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
/** Joins along an existing `axis`: same rank, equal sizes on the other axes; dtypes promote. ValueError for an empty list. */
export function concat(xs: readonly (Variable | Tensor)[], axis = 0): Variable {
  if (xs.length === 0) throw new ValueError('concat: needs at least one tensor');
  const vs = xs.map(asVariable);
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
  if (xs.length === 0) throw new ValueError('stack: needs at least one tensor');
  const ax = T.normalizeAxis('stack', axis, xs[0]!.shape.length + 1);
  return concat(xs.map((x) => unsqueeze(x, ax)), ax);
}
/**
 * Cuts x along `axis`: a number asks for that many equal sections (it must divide the length), an array gives the section
 * lengths. Each piece is a `slice` of x, so gradients flow back into x.
 */
export function split(x: Variable | Tensor, sizesOrSections: number | readonly number[], axis = 0): Variable[] {
  const xv = asVariable(x);
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
 * Picks the entries `indices` along `axis` (repeats allowed, negative count from the end): x's shape with that axis of
 * length `indices.length`. Gradients of repeated entries add up (`indexAdd`).
 */
export function indexSelect(x: Variable | Tensor, axis: number, indices: readonly number[] | Tensor): Variable {
  return unary('indexSelect', x, (t) => T.indexSelect(t, axis, indices), (g, x) =>
    indexAdd(T.zeros(x.shape, { dtype: x.dtype }), axis, indices, g),
  );
}
/** `base` plus `src` accumulated into the rows `indices` along `axis` (indexSelect's adjoint). */
export function indexAdd(base: Variable | Tensor, axis: number, indices: readonly number[] | Tensor, src: Variable | Tensor): Variable {
  const b = asVariable(base);
  const s = asVariable(src);
  return record('indexAdd', T.indexAdd(b.value, axis, indices, s.value), [b, s], (g) => [g, indexSelect(g, axis, indices)]);
}
/**
 * As torch.gather, `out[…, i, …] = x[…, index[…, i, …], …]` along `axis`: `index` (a constant) has x's rank and is no
 * longer than x on the other axes; the output has its shape. Gradient by `scatterAdd`.
 */
export function gather(x: Variable | Tensor, axis: number, index: Tensor): Variable {
  return unary('gather', x, (t) => T.gather(t, axis, index), (g, x) => scatterAdd(T.zeros(x.shape, { dtype: x.dtype }), axis, index, g));
}
/** `base` plus `src` accumulated at `index` along `axis` (gather's adjoint). */
export function scatterAdd(base: Variable | Tensor, axis: number, index: Tensor, src: Variable | Tensor): Variable {
  const b = asVariable(base);
  const s = asVariable(src);
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
 * `a @ b` over the last two axes, batch axes broadcast; a 1-d `a` is a row, a 1-d `b` a column, and the added axis is
 * removed. Mixed dtypes give float64. ShapeError for 0-d operands or mismatched inner sizes.
 */
export function matmul(a: Variable | Tensor, b: Variable | Tensor): Variable {
  const av = asVariable(a);
  const bv = asVariable(b);
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

/** F_ij = 1/(d_j − d_i), and 0 wherever `ties` is set (the diagonal included). Differentiable in d. */
function gapReciprocals(d: Variable, ties: Tensor): Variable {
  const gaps = sub(unsqueeze(d, -2), unsqueeze(d, -1));
  return where(ties, 0, reciprocal(where(ties, 1, gaps)));
}

/**
 * X = A⁻¹B for `a` [...,n,n] and `b` [n] (one vector) or [...,n,k] (batch axes broadcast), as
 * the tensor `solve`. gB = A⁻ᵀg, gA = −gB Xᵀ.
 */
export function solve(a: Variable | Tensor, b: Variable | Tensor): Variable {
  const av = asVariable(a);
  const bv = asVariable(b);
  const vectorB = bv.ndim === 1;
  const x: Variable = record('solve', T.solve(av.value, bv.value), [av, bv], (g, needs) => {
    // g is [...,n] for a vector b: solve it as a batch of one-column matrices
    const gB = vectorB ? squeeze(solve(mT(av), unsqueeze(g, -1)), -1) : solve(mT(av), g);
    const gA = needs[0] ? neg(vectorB ? matmul(unsqueeze(gB, -1), unsqueeze(x, -2)) : matmul(gB, mT(x))) : null;
    return [gA, needs[1] ? gB : null];
  });
  return x;
}

/** A⁻¹ of `a` [...,n,n]; gA = −A⁻ᵀ g A⁻ᵀ. */
export function inv(a: Variable | Tensor): Variable {
  return unary('inv', a, T.inv, (g, _x, y) => neg(matmul(matmul(mT(y), g), mT(y))));
}

/**
 * det A of `a` [...,n,n]; gA = g·det A·A⁻ᵀ. At a singular A the gradient (the adjugate) is not
 * implemented: the rule's inverse throws a LinAlgError naming `det`.
 */
export function det(a: Variable | Tensor): Variable {
  return unary('det', a, T.det, (g, x, y) => needsInverse('det', 'A', () => mul(perMatrix(mul(g, y)), mT(inv(x)))));
}

/**
 * sign(det A) as a constant and log|det A| (gradient g·A⁻ᵀ) of `a` [...,n,n], both [...]. At a
 * singular A, logAbsDet is −∞ and its gradient throws a LinAlgError naming `slogdet`.
 */
export function slogdet(a: Variable | Tensor): { sign: Variable; logAbsDet: Variable } {
  const av = asVariable(a);
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
 */
export function qr(a: Variable | Tensor): { q: Variable; r: Variable } {
  const av = asVariable(a);
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
  if (m >= n) return qrTallBackward(q, r, gQ, gR);
  const u = block(r, null, [0, m]);
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
 */
export function eigh(a: Variable | Tensor): { values: Variable; vectors: Variable } {
  const av = asVariable(a);
  const d = T.eigh(av.value);
  const values: Variable = record('eigh.values', d.values, [av], (g) => [matmul(mul(vectors, unsqueeze(g, -2)), mT(vectors))]);
  const vectors: Variable = record('eigh.vectors', d.vectors, [av], (g) => {
    const f = gapReciprocals(values, spectralTies(values.value));
    const gS = matmul(matmul(vectors, mul(f, matmul(mT(vectors), g))), mT(vectors));
    return [mul(add(gS, mT(gS)), 0.5)];
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
 */
export function svd(a: Variable | Tensor): { u: Variable; s: Variable; v: Variable } {
  const av = asVariable(a);
  const d = T.svd(av.value);
  const [m, n] = av.shape.slice(-2) as [number, number];
  const f = (): Variable => gapReciprocals(square(s), spectralTies(s.value));
  const s: Variable = record('svd.s', d.s, [av], (g) => [matmul(mul(u, unsqueeze(g, -2)), mT(v))]);
  const u: Variable = record('svd.u', d.u, [av], (g) => {
    const uTg = matmul(mT(u), g);
    const js = mul(mul(f(), sub(uTg, mT(uTg))), unsqueeze(s, -2));
    const gA = matmul(matmul(u, js), mT(v));
    if (m <= n) return [gA];
    const outside = sub(g, matmul(u, uTg));
    return [add(gA, matmul(overSingularValues('u', outside, s), mT(v)))];
  });
  const v: Variable = record('svd.v', d.v, [av], (g) => {
    const vTg = matmul(mT(v), g);
    const sk = mul(mul(f(), sub(vTg, mT(vTg))), unsqueeze(s, -1));
    const gA = matmul(matmul(u, sk), mT(v));
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
 * same differentiable expm so that it can be differentiated again.
 */
export function expm(a: Variable | Tensor): Variable {
  return unary('expm', a, T.expm, (g, x) => {
    const n = x.shape[x.ndim - 1]!;
    const xT = mT(x);
    const zero = T.zeros(x.shape, { dtype: x.dtype });
    const blocks = concat([concat([xT, g], -1), concat([zero, xT], -1)], -2);
    return block(expm(blocks), [0, n], [n, 2 * n]);
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
  const av = asVariable(a);
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
  const av = asVariable(a);
  requireMatrix('trace', av);
  return sum(diagonal(av), -1);
}

// ---------------------------------------------------------------------------------------------
// Ops without a gradient: their results are constants (they are piecewise constant).

/** The names of the ops below, whose results are constants (no graph, `requiresGrad` false): they are piecewise constant. */
export const NON_DIFFERENTIABLE = ['sign', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'argmax', 'argmin'] as const;

/** −1, 0 or 1 by the sign of x, as a constant. */
export const sign = (x: Variable | Tensor): Variable => constant(T.sign(asVariable(x).value));
/** 1 where a = b, else 0 (NaN equals nothing), broadcasting as `add`; a constant. */
export const eq = (a: Input, b: Input): Variable => compare(T.eq, a, b);
/** 1 where a ≠ b (or either is NaN), else 0, broadcasting as `add`; a constant. */
export const ne = (a: Input, b: Input): Variable => compare(T.ne, a, b);
/** 1 where a < b, else 0, broadcasting as `add`; a constant. */
export const lt = (a: Input, b: Input): Variable => compare(T.lt, a, b);
/** 1 where a ≤ b, else 0, broadcasting as `add`; a constant. */
export const le = (a: Input, b: Input): Variable => compare(T.le, a, b);
/** 1 where a > b, else 0, broadcasting as `add`; a constant. */
export const gt = (a: Input, b: Input): Variable => compare(T.gt, a, b);
/** 1 where a ≥ b, else 0, broadcasting as `add`; a constant. */
export const ge = (a: Input, b: Input): Variable => compare(T.ge, a, b);
function compare(fn: (a: Tensor | number, b: Tensor | number) => Tensor, a: Input, b: Input): Variable {
  const av = lift(a);
  const bv = lift(b);
  return constant(fn(valueOf(av), valueOf(bv)));
}
/**
 * Index of the largest element along `axis` (of the flattened x when undefined) as a float64 constant; ties and NaN: the
 * first wins. ValueError over an empty axis.
 */
export const argmax = (x: Variable | Tensor, axis?: number, keepDims = false): Variable =>
  constant(T.argmax(asVariable(x).value, axis, keepDims));
/** Index of the smallest element along `axis`, otherwise as `argmax`. */
export const argmin = (x: Variable | Tensor, axis?: number, keepDims = false): Variable =>
  constant(T.argmin(asVariable(x).value, axis, keepDims));
