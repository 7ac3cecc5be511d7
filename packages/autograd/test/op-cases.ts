/**
 * The gradient-test table: one entry per (op, variant) of packages/autograd/src/ops.ts, each
 * with its inputs as a fast-check arbitrary, the op under test and an independent forward
 * reference on tensors; it is gradchecked to the op's `maxOrder` (its metadata in ops.ts) unless
 * the entry's inputs allow less. ops.test.ts runs
 * the entries; table.test.ts checks that every exported op has one, unless its metadata names
 * the test file that covers it (the linear-algebra ops: linalg.test.ts).
 */
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { broadcastShapes, type Tensor, type SliceSpec } from '@hyperconn/tensor';
import OP_METADATA, * as ops from '../src/ops';
import type { Variable } from '../src/variable';
import { broadcastablePairArb, shapeArb, tensorArb } from '../../../test/support/arbitraries';

/** One generated input of a case: the tensors to differentiate and the op's other arguments. */
export interface Instance<P> {
  readonly params: P;
  readonly inputs: readonly Tensor[];
}

export interface OpCase<P> {
  /** The ops.ts export under test. */
  readonly name: keyof typeof ops;
  /** What this entry varies, shown in the test title. */
  readonly variant: string;
  readonly inputsArb: fc.Arbitrary<Instance<P>>;
  readonly fn: (p: P, ...xs: Variable[]) => Variable;
  /** The same value computed from tensors without the autograd op (its kernel or a naive loop). */
  readonly reference: (p: P, ...xs: Tensor[]) => Tensor;
  /**
   * Set where these inputs allow a lower derivative order than the op's `maxOrder` (its metadata
   * in src/ops.ts); the entry is gradchecked to the lower of the two.
   */
  readonly maxOrder?: 1;
}

// The table holds cases of many parameter types; each is built type-checked by `defineCase`
// and stored with its parameter type erased (the runner only passes params back to the case).
export type AnyOpCase = OpCase<unknown>;
function defineCase<P>(c: OpCase<P>): AnyOpCase {
  return c as unknown as AnyOpCase;
}

// ---------------------------------------------------------------------------------------------
// Generators. Shapes stay small (rank ≤ 3, axes ≤ 3) so full Jacobians and second-order checks
// stay cheap; size-0 and size-1 axes come from shapeArb.

const SMALL = { maxRank: 3, maxDim: 3 };
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function values(shape: readonly number[], min = -3, max = 3): fc.Arbitrary<Tensor> {
  return tensorArb(shape, 'float64', { min, max });
}

function mapValues(t: Tensor, f: (v: number) => number): Tensor {
  return T.tensor(Float64Array.from(t.toTypedArray(), f), { shape: t.shape });
}

/** Values with |v| ≥ margin (both signs), for ops singular at 0. */
function nonzero(shape: readonly number[], margin = 0.5, max = 3): fc.Arbitrary<Tensor> {
  return values(shape, -(max - margin), max - margin).map((t) =>
    mapValues(t, (v) => (v < 0 || Object.is(v, -0) ? v - margin : v + margin)),
  );
}

/**
 * Tensors whose values are pairwise distinct by ≥ 2e-3 and at least 1e-3 from 0 and from every
 * multiple of 2e-3 (half-grid points (k + ½)/500 in (−3, 3)): finite differences with step 1e-6
 * then never straddle a kink of abs, relu, clamp (bounds on the grid), maximum/minimum or a tie
 * of max/min.
 */
function distinct(shapes: readonly (readonly number[])[]): fc.Arbitrary<Tensor[]> {
  const total = shapes.reduce((n, s) => n + sizeOf(s), 0);
  return fc.uniqueArray(fc.integer({ min: -1500, max: 1499 }), { minLength: total, maxLength: total }).map((ks) => {
    let at = 0;
    return shapes.map((s) => {
      const n = sizeOf(s);
      const t = T.tensor(
        Float64Array.from(ks.slice(at, at + n), (k) => (k + 0.5) / 500),
        { shape: s },
      );
      at += n;
      return t;
    });
  });
}

function single<P>(params: P, x: fc.Arbitrary<Tensor>): fc.Arbitrary<Instance<P>> {
  return x.map((t) => ({ params, inputs: [t] }));
}

/** Reduction axes for a rank: all (undefined), one (maybe negative), or a list (maybe empty, maybe negative). */
function axesArb(rank: number): fc.Arbitrary<number | number[] | undefined> {
  const options: fc.Arbitrary<number | number[] | undefined>[] = [
    fc.constant(undefined),
    fc
      .shuffledSubarray(range(rank))
      .chain((axes) =>
        fc
          .array(fc.boolean(), { minLength: axes.length, maxLength: axes.length })
          .map((negative) => axes.map((a, i) => (negative[i] ? a - rank : a))),
      ),
  ];
  if (rank > 0) options.push(fc.integer({ min: -rank, max: rank - 1 }));
  return fc.oneof(...options);
}

/** A single axis of a rank-`rank` tensor, negative half the time. */
const axisArb = (rank: number): fc.Arbitrary<number> => fc.integer({ min: -rank, max: rank - 1 });

/** A shape with at least `minRank` axes. */
const shapeOfRank = (minRank: number, maxRank = 3, minDim = 0): fc.Arbitrary<number[]> =>
  shapeArb({ minRank, maxRank, minDim, maxDim: 3 });

// ---------------------------------------------------------------------------------------------
// Case builders

type Binary = (a: ops.Input, b: ops.Input) => Variable;
type BinaryKernel = (a: Tensor | number, b: Tensor | number) => Tensor;

/** Both operands differentiable, shapes broadcasting against each other. */
function broadcastCase(
  name: keyof typeof ops,
  op: Binary,
  kernel: BinaryKernel,
  inputs: (a: number[], b: number[]) => fc.Arbitrary<Tensor[]>,
): AnyOpCase {
  return defineCase<null>({
    name,
    variant: 'broadcastable pair',
    inputsArb: broadcastablePairArb(SMALL).chain(([a, b]) => inputs(a, b).map((ts) => ({ params: null, inputs: ts }))),
    fn: (_, a, b) => op(a!, b!),
    reference: (_, a, b) => kernel(a!, b!),
  });
}

/** One operand a plain number (a constant), on the given side. */
function numberCase(
  name: keyof typeof ops,
  op: Binary,
  kernel: BinaryKernel,
  side: 'left' | 'right',
  number: fc.Arbitrary<number>,
  x: (shape: number[]) => fc.Arbitrary<Tensor>,
): AnyOpCase {
  return defineCase<number>({
    name,
    variant: `number on the ${side}`,
    inputsArb: fc.tuple(number, shapeArb(SMALL)).chain(([c, s]) => single(c, x(s))),
    fn: (c, x) => (side === 'left' ? op(c, x!) : op(x!, c)),
    reference: (c, x) => (side === 'left' ? kernel(c, x!) : kernel(x!, c)),
  });
}

function unaryCase(
  name: keyof typeof ops,
  op: (x: Variable) => Variable,
  kernel: (x: Tensor) => Tensor,
  x: (shape: number[]) => fc.Arbitrary<Tensor>,
  variant = 'any shape',
): AnyOpCase {
  return defineCase<null>({
    name,
    variant,
    inputsArb: shapeArb(SMALL).chain((s) => single(null, x(s))),
    fn: (_, x) => op(x!),
    reference: (_, x) => kernel(x!),
  });
}

interface Reduction {
  axes: number | number[] | undefined;
  keepDims: boolean;
}
type ReductionOp = (x: Variable, axes: number | number[] | undefined, keepDims: boolean) => Variable;
type ReductionKernel = (x: Tensor, axes: number | number[] | undefined, keepDims: boolean) => Tensor;

function reductionCase(
  name: keyof typeof ops,
  op: ReductionOp,
  kernel: ReductionKernel,
  x: (shape: number[]) => fc.Arbitrary<Tensor>,
  { minDim = 0, variant = 'axes and keepDims', maxOrder = undefined as 1 | undefined } = {},
): AnyOpCase {
  return defineCase<Reduction>({
    name,
    variant,
    inputsArb: shapeOfRank(0, 3, minDim).chain((s) =>
      fc.record({ axes: axesArb(s.length), keepDims: fc.boolean() }).chain((p) => single(p, x(s))),
    ),
    fn: (p, x) => op(x!, p.axes, p.keepDims),
    reference: (p, x) => kernel(x!, p.axes, p.keepDims),
    ...(maxOrder === undefined ? {} : { maxOrder }),
  });
}

// ---------------------------------------------------------------------------------------------
// Independent references for the composites (naive loops over the flat data).

/** Sums `x` down to `shape` by visiting every element: the reverse of broadcasting. */
function naiveSumToShape(x: Tensor, shape: readonly number[]): Tensor {
  const out = new Float64Array(sizeOf(shape));
  const lead = x.ndim - shape.length;
  const src = x.toTypedArray();
  const index = new Array<number>(x.ndim).fill(0);
  for (let flat = 0; flat < src.length; flat++) {
    let to = 0;
    for (let i = 0; i < shape.length; i++) to = to * shape[i]! + (shape[i] === 1 ? 0 : index[lead + i]!);
    out[to] += src[flat]!;
    for (let i = x.ndim - 1; i >= 0 && ++index[i]! === x.shape[i]; i--) index[i] = 0;
  }
  return T.tensor(out, { shape });
}

/** Along `axis`, maps every lane (the 1-d fibre of that axis) through `f`. */
function mapLanes(x: Tensor, axis: number, f: (lane: number[]) => number[]): Tensor {
  const ax = T.normalizeAxis('mapLanes', axis, x.ndim);
  const moved = x.permute([...range(x.ndim).filter((i) => i !== ax), ax]).contiguous();
  const d = x.shape[ax]!;
  const src = moved.toTypedArray();
  const out = new Float64Array(src.length);
  for (let start = 0; d > 0 && start < src.length; start += d)
    out.set(f(Array.from(src.subarray(start, start + d))), start);
  const back = range(x.ndim).map((i) => (i < ax ? i : i === ax ? x.ndim - 1 : i - 1));
  return T.tensor(out, { shape: moved.shape }).permute(back).contiguous();
}

function naiveLogSoftmax(lane: number[]): number[] {
  const m = Math.max(...lane);
  const lse = m + Math.log(lane.reduce((s, v) => s + Math.exp(v - m), 0));
  return lane.map((v) => v - lse);
}

/** Population (correction 0) or sample (correction 1) variance by two passes over each reduced slice. */
function naiveVariance(x: Tensor, axes: number | number[] | undefined, keepDims: boolean, correction: number): Tensor {
  const reduced = T.normalizeAxes('variance', axes, x.ndim);
  const kept = range(x.ndim).filter((i) => !reduced.includes(i));
  const n = sizeOf(reduced.map((a) => x.shape[a]!));
  const moved = Float64Array.from(
    x
      .permute([...kept, ...reduced])
      .contiguous()
      .toTypedArray(),
  );
  const out = new Float64Array(moved.length / n);
  for (let r = 0; r < out.length; r++) {
    const slice = moved.subarray(r * n, (r + 1) * n);
    const mean = slice.reduce((s, v) => s + v, 0) / n;
    out[r] = slice.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - correction);
  }
  const shape = keepDims ? x.shape.map((d, i) => (reduced.includes(i) ? 1 : d)) : kept.map((i) => x.shape[i]!);
  return T.tensor(out, { shape });
}

// ---------------------------------------------------------------------------------------------
// Parameter generators of the view and indexing ops

/** A shape with the same number of elements: dims shuffled, maybe two merged, maybe 1s inserted, maybe one -1. */
function reshapeTargetArb(shape: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(
      fc.shuffledSubarray([...shape], { minLength: shape.length, maxLength: shape.length }),
      fc.boolean(),
      fc.nat({ max: 2 }),
      fc.boolean(),
      fc.nat(),
    )
    .map(([dims, merge, ones, inferOne, pick]) => {
      let t = merge && dims.length >= 2 ? [dims[0]! * dims[1]!, ...dims.slice(2)] : [...dims];
      for (let i = 0; i < ones; i++) t.splice(pick % (t.length + 1), 0, 1);
      if (inferOne && t.length > 0 && sizeOf(t) > 0) t = t.map((d, i) => (i === pick % t.length ? -1 : d));
      return t;
    });
}

/** One slice spec for an axis of length d: an index, the whole axis, or [start, stop, step] with steps ±1..3. */
function sliceSpecArb(d: number): fc.Arbitrary<SliceSpec> {
  const bound = fc.option(fc.integer({ min: -d - 1, max: d + 1 }), { nil: undefined });
  const options: fc.Arbitrary<SliceSpec>[] = [
    fc.constant(null),
    fc
      .tuple(bound, bound, fc.constantFrom(-3, -2, -1, 1, 2, 3))
      .map(([start, stop, step]): SliceSpec => [start ?? null, stop ?? null, step]),
  ];
  if (d > 0) options.push(fc.integer({ min: -d, max: d - 1 }));
  return fc.oneof(...options);
}

function sliceSpecsArb(shape: readonly number[]): fc.Arbitrary<SliceSpec[]> {
  return fc
    .tuple(...shape.map(sliceSpecArb))
    .chain((specs) => fc.nat({ max: specs.length }).map((n) => specs.slice(0, n)));
}

/** Indices into an axis of length d (repeats and negatives; none when d = 0). */
const indicesArb = (d: number): fc.Arbitrary<number[]> =>
  d === 0 ? fc.constant([]) : fc.array(fc.integer({ min: -d, max: d - 1 }), { maxLength: 4 });

/** An index tensor for gather/scatterAdd on `shape` along `axis`: same rank, no longer on other axes. */
function gatherIndexArb(shape: readonly number[], axis: number): fc.Arbitrary<Tensor> {
  const ax = T.normalizeAxis('gather', axis, shape.length);
  return fc
    .tuple(...shape.map((d, k) => (k === ax ? fc.integer({ min: 0, max: 3 }) : fc.integer({ min: 0, max: d }))))
    .chain((indexShape) => {
      const d = shape[ax]!;
      const n = sizeOf(indexShape);
      return fc
        .array(fc.integer({ min: -d, max: d - 1 }), { minLength: n, maxLength: n })
        .map((ks) => T.tensor(Float64Array.from(ks), { shape: indexShape }));
    });
}

/** A shape whose axis `axis` is at least 1 long (gather and indexing need a non-empty source axis). */
const withNonEmptyAxis = (shape: readonly number[], axis: number): number[] =>
  shape.map((d, k) => (k === T.normalizeAxis('axis', axis, shape.length) ? Math.max(d, 1) : d));

/** Lengths summing to n: cut points sorted (empty pieces allowed). */
function sizesSummingTo(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: n }), { maxLength: 3 }).map((cuts) => {
    const points = [0, ...[...cuts].sort((a, b) => a - b), n];
    return points.slice(1).map((p, i) => p - points[i]!);
  });
}

const divisorsOf = (n: number): number[] =>
  range(n)
    .map((i) => i + 1)
    .filter((k) => n % k === 0);

// ---------------------------------------------------------------------------------------------
// The table

const anyValues = (s: number[]): fc.Arbitrary<Tensor> => values(s);
const positive = (s: number[]): fc.Arbitrary<Tensor> => values(s, 0.2, 4);
const pairOf =
  (x: (s: number[]) => fc.Arbitrary<Tensor>, y: (s: number[]) => fc.Arbitrary<Tensor>) => (a: number[], b: number[]) =>
    fc.tuple(x(a), y(b));
const distinctOne = (s: number[]): fc.Arbitrary<Tensor> => distinct([s]).map(([t]) => t!);

const smallNumber = fc.double({ min: -3, max: 3, noNaN: true });
/** A number operand on each side of `op`, the other operand drawn by `x`. */
function bothSides(
  name: keyof typeof ops,
  op: Binary,
  kernel: BinaryKernel,
  left: fc.Arbitrary<number>,
  xLeft: (s: number[]) => fc.Arbitrary<Tensor>,
  right = left,
  xRight = xLeft,
): AnyOpCase[] {
  return [numberCase(name, op, kernel, 'left', left, xLeft), numberCase(name, op, kernel, 'right', right, xRight)];
}

const elementwiseBinary: AnyOpCase[] = [
  broadcastCase('add', ops.add, T.add, pairOf(anyValues, anyValues)),
  ...bothSides('add', ops.add, T.add, smallNumber, anyValues),
  broadcastCase('sub', ops.sub, T.sub, pairOf(anyValues, anyValues)),
  ...bothSides('sub', ops.sub, T.sub, smallNumber, anyValues),
  broadcastCase('mul', ops.mul, T.mul, pairOf(anyValues, anyValues)),
  ...bothSides('mul', ops.mul, T.mul, smallNumber, anyValues),
  broadcastCase(
    'div',
    ops.div,
    T.div,
    pairOf(anyValues, (s) => nonzero(s)),
  ),
  ...bothSides('div', ops.div, T.div, smallNumber, (s) => nonzero(s), fc.constantFrom(-2.5, 0.5, 3), anyValues),
  broadcastCase(
    'pow',
    ops.pow,
    T.pow,
    pairOf(positive, (s) => values(s, -2, 2)),
  ),
  ...bothSides(
    'pow',
    ops.pow,
    T.pow,
    fc.double({ min: 0.2, max: 3, noNaN: true }),
    (s) => values(s, -2, 2),
    fc.double({ min: -2, max: 2, noNaN: true }),
    positive,
  ),
  defineCase<number>({
    name: 'pow',
    variant: 'integer exponent, negative bases',
    inputsArb: fc
      .tuple(fc.integer({ min: 1, max: 4 }), shapeArb(SMALL))
      .chain(([k, s]) => single(k, nonzero(s, 0.3, 2))),
    fn: (k, x) => ops.pow(x!, k),
    reference: (k, x) => T.pow(x!, k),
  }),
  broadcastCase('maximum', ops.maximum, T.maximum, (a, b) => distinct([a, b])),
  ...bothSides('maximum', ops.maximum, T.maximum, fc.constantFrom(-1, 0, 0.5), distinctOne),
  broadcastCase('minimum', ops.minimum, T.minimum, (a, b) => distinct([a, b])),
  ...bothSides('minimum', ops.minimum, T.minimum, fc.constantFrom(-1, 0, 0.5), distinctOne),
  defineCase<Tensor>({
    name: 'where',
    variant: 'broadcast condition and operands',
    inputsArb: broadcastablePairArb(SMALL).chain(([a, b]) => {
      const full = broadcastShapes('where', a, b);
      const condShape = fc
        .tuple(fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }), fc.nat({ max: full.length }))
        .map(([ones, drop]) => full.map((d, i) => (ones[i] ? 1 : d)).slice(drop));
      const cond = condShape.chain((s) =>
        fc
          .array(fc.boolean(), { minLength: sizeOf(s), maxLength: sizeOf(s) })
          .map((bits) => T.tensor(Float64Array.from(bits, Number), { shape: s })),
      );
      return fc.tuple(cond, values(a), values(b)).map(([c, x, y]) => ({ params: c, inputs: [x, y] }));
    }),
    fn: (c, a, b) => ops.where(c, a!, b!),
    reference: (c, a, b) => T.where(c, a!, b!),
  }),
  defineCase<Tensor>({
    name: 'where',
    variant: 'number as the first branch',
    inputsArb: shapeArb(SMALL).chain((s) =>
      fc
        .tuple(fc.array(fc.boolean(), { minLength: sizeOf(s), maxLength: sizeOf(s) }), values(s))
        .map(([bits, x]) => ({ params: T.tensor(Float64Array.from(bits, Number), { shape: s }), inputs: [x] })),
    ),
    fn: (c, x) => ops.where(c, 0.25, x!),
    reference: (c, x) => T.where(c, 0.25, x!),
  }),
];

const elementwiseUnary: AnyOpCase[] = [
  unaryCase('neg', ops.neg, T.neg, anyValues),
  unaryCase('exp', ops.exp, T.exp, anyValues),
  unaryCase('log', ops.log, T.log, positive),
  unaryCase('log1p', ops.log1p, T.log1p, (s) => values(s, -0.7, 4)),
  unaryCase('expm1', ops.expm1, T.expm1, anyValues),
  unaryCase('sqrt', ops.sqrt, T.sqrt, positive),
  unaryCase('square', ops.square, T.square, anyValues),
  unaryCase('reciprocal', ops.reciprocal, T.reciprocal, (s) => nonzero(s, 0.3)),
  unaryCase('abs', ops.abs, T.abs, distinctOne),
  unaryCase('tanh', ops.tanh, T.tanh, anyValues),
  unaryCase('sigmoid', ops.sigmoid, T.sigmoid, anyValues),
  unaryCase('relu', ops.relu, T.relu, distinctOne),
  unaryCase('gelu', ops.gelu, T.gelu, anyValues),
  unaryCase('erf', ops.erf, T.erf, anyValues),
  unaryCase('sin', ops.sin, T.sin, anyValues),
  unaryCase('cos', ops.cos, T.cos, anyValues),
  unaryCase('softplus', ops.softplus, T.softplus, anyValues),
  // Bounds sit on the 2e-3 grid that distinct() keeps its values 1e-3 away from.
  unaryCase(
    'clamp',
    (x) => ops.clamp(x, -1, 1.5),
    (x) => T.clamp(x, -1, 1.5),
    distinctOne,
    'both bounds',
  ),
  unaryCase(
    'clamp',
    (x) => ops.clamp(x, 0.5),
    (x) => T.clamp(x, 0.5),
    distinctOne,
    'min only',
  ),
  unaryCase(
    'clamp',
    (x) => ops.clamp(x, undefined, -0.5),
    (x) => T.clamp(x, undefined, -0.5),
    distinctOne,
    'max only',
  ),
];

const reductions: AnyOpCase[] = [
  reductionCase('sum', ops.sum, T.sum, anyValues),
  reductionCase('mean', ops.mean, T.mean, anyValues, { minDim: 1 }),
  reductionCase('prod', ops.prod, T.prod, (s) => nonzero(s, 0.3, 2)),
  // With exact zeros the rule switches to products of the others, first order only (see ops.ts).
  reductionCase(
    'prod',
    ops.prod,
    T.prod,
    (s) =>
      fc
        .tuple(values(s, -2, 2), fc.array(fc.boolean(), { minLength: sizeOf(s), maxLength: sizeOf(s) }))
        .map(([t, zero]) => {
          const flat = t.toTypedArray();
          zero.forEach((z, i) => {
            if (z) flat[i] = 0;
          });
          return T.tensor(flat, { shape: s });
        }),
    { variant: 'inputs with zeros', maxOrder: 1 },
  ),
  reductionCase('max', ops.max, T.max, distinctOne, { minDim: 1 }),
  reductionCase('min', ops.min, T.min, distinctOne, { minDim: 1 }),
  reductionCase('logsumexp', ops.logsumexp, T.logsumexp, anyValues, { minDim: 1 }),
  reductionCase('norm', ops.norm, T.norm, (s) => nonzero(s, 0.2)),
  defineCase<Reduction & { correction: number }>({
    name: 'variance',
    variant: 'axes, keepDims and correction',
    inputsArb: shapeOfRank(0, 3, 1).chain((s) =>
      fc
        .record({ axes: axesArb(s.length), keepDims: fc.boolean(), correction: fc.constantFrom(0, 1) })
        .filter((p) => sizeOf(T.normalizeAxes('variance', p.axes, s.length).map((a) => s[a]!)) > p.correction)
        .chain((p) => single(p, values(s))),
    ),
    fn: (p, x) => ops.variance(x!, p.axes, p.keepDims, p.correction),
    reference: (p, x) => naiveVariance(x!, p.axes, p.keepDims, p.correction),
  }),
  defineCase<number>({
    name: 'softmax',
    variant: 'any axis',
    inputsArb: shapeOfRank(1).chain((s) => axisArb(s.length).chain((axis) => single(axis, values(s)))),
    fn: (axis, x) => ops.softmax(x!, axis),
    reference: (axis, x) => mapLanes(x!, axis, (lane) => naiveLogSoftmax(lane).map(Math.exp)),
  }),
  defineCase<number>({
    name: 'logSoftmax',
    variant: 'any axis',
    inputsArb: shapeOfRank(1).chain((s) => axisArb(s.length).chain((axis) => single(axis, values(s)))),
    fn: (axis, x) => ops.logSoftmax(x!, axis),
    reference: (axis, x) => mapLanes(x!, axis, naiveLogSoftmax),
  }),
];

const views: AnyOpCase[] = [
  defineCase<number[]>({
    name: 'reshape',
    variant: 'shuffled, merged, inserted and inferred axes',
    inputsArb: shapeArb(SMALL).chain((s) => reshapeTargetArb(s).chain((target) => single(target, values(s)))),
    fn: (target, x) => ops.reshape(x!, target),
    reference: (target, x) => x!.reshape(target),
  }),
  defineCase<number[]>({
    name: 'permute',
    variant: 'any permutation, negative axes',
    inputsArb: shapeArb(SMALL).chain((s) =>
      fc
        .tuple(
          fc.shuffledSubarray(range(s.length), { minLength: s.length, maxLength: s.length }),
          fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }),
        )
        .chain(([perm, negative]) =>
          single(
            perm.map((a, i) => (negative[i] ? a - s.length : a)),
            values(s),
          ),
        ),
    ),
    fn: (perm, x) => ops.permute(x!, perm),
    reference: (perm, x) => x!.permute(perm),
  }),
  defineCase<[number, number]>({
    name: 'transpose',
    variant: 'any two axes',
    inputsArb: shapeOfRank(2).chain((s) =>
      fc.tuple(axisArb(s.length), axisArb(s.length)).chain((axes) => single(axes, values(s))),
    ),
    fn: ([a, b], x) => ops.transpose(x!, a, b),
    reference: ([a, b], x) => x!.transpose(a, b),
  }),
  defineCase<number[]>({
    name: 'expand',
    variant: 'size-1 and missing leading axes',
    inputsArb: broadcastablePairArb(SMALL).chain(([a, b]) => single(broadcastShapes('expand', a, b), values(a))),
    fn: (shape, x) => ops.expand(x!, shape),
    reference: (shape, x) => x!.expand(shape),
  }),
  defineCase<number | number[] | undefined>({
    name: 'squeeze',
    variant: 'all or listed size-1 axes',
    inputsArb: shapeArb(SMALL).chain((full) =>
      fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }).chain((ones) => {
        const s = full.map((d, i) => (ones[i] ? 1 : d));
        const unit = range(s.length).filter((i) => s[i] === 1);
        const listed = fc.subarray(unit).map((axes) => axes.map((a) => (a % 2 === 0 ? a - s.length : a)));
        return fc.oneof(fc.constant(undefined), listed).chain((axes) => single(axes, values(s)));
      }),
    ),
    fn: (axes, x) => ops.squeeze(x!, axes),
    reference: (axes, x) => x!.squeeze(axes),
  }),
  defineCase<number>({
    name: 'unsqueeze',
    variant: 'any position',
    inputsArb: shapeArb(SMALL).chain((s) =>
      fc.integer({ min: -s.length - 1, max: s.length }).chain((axis) => single(axis, values(s))),
    ),
    fn: (axis, x) => ops.unsqueeze(x!, axis),
    reference: (axis, x) => x!.unsqueeze(axis),
  }),
  unaryCase('flatten', ops.flatten, (x) => x.reshape([-1]), anyValues),
  defineCase<number[]>({
    name: 'sumToShape',
    variant: 'the reverse of broadcasting',
    inputsArb: broadcastablePairArb(SMALL).chain(([a, b]) => single(a, values(broadcastShapes('sumToShape', a, b)))),
    fn: (shape, x) => ops.sumToShape(x!, shape),
    reference: (shape, x) => naiveSumToShape(x!, shape),
  }),
  defineCase<SliceSpec[]>({
    name: 'slice',
    variant: 'indices, steps and negative bounds',
    inputsArb: shapeArb(SMALL).chain((s) => sliceSpecsArb(s).chain((specs) => single(specs, values(s)))),
    fn: (specs, x) => ops.slice(x!, ...specs),
    reference: (specs, x) => x!.slice(...specs),
  }),
  defineCase<{ shape: number[]; specs: SliceSpec[] }>({
    name: 'embedSlice',
    variant: 'the adjoint of slice',
    inputsArb: shapeArb(SMALL).chain((shape) =>
      sliceSpecsArb(shape).chain((specs) => single({ shape, specs }, values(T.zeros(shape).slice(...specs).shape))),
    ),
    fn: (p, g) => ops.embedSlice(g!, p.shape, p.specs),
    reference: (p, g) => {
      const out = T.zeros(p.shape);
      out.slice(...p.specs).assign(g!);
      return out;
    },
  }),
  defineCase<number>({
    name: 'concat',
    variant: '1 to 3 pieces, any axis',
    inputsArb: shapeOfRank(1).chain((s) =>
      fc
        .tuple(axisArb(s.length), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }))
        .chain(([axis, lengths]) => {
          const ax = T.normalizeAxis('concat', axis, s.length);
          return fc
            .tuple(...lengths.map((n) => values(s.map((d, k) => (k === ax ? n : d)))))
            .map((ts) => ({ params: axis, inputs: ts }));
        }),
    ),
    fn: (axis, ...xs) => ops.concat(xs, axis),
    reference: (axis, ...xs) => T.concat(xs, axis),
  }),
  defineCase<number>({
    name: 'stack',
    variant: '1 to 3 pieces, any new axis',
    inputsArb: shapeOfRank(0, 2).chain((s) =>
      fc
        .tuple(fc.integer({ min: -s.length - 1, max: s.length }), fc.integer({ min: 1, max: 3 }))
        .chain(([axis, k]) =>
          fc.array(values(s), { minLength: k, maxLength: k }).map((ts) => ({ params: axis, inputs: ts })),
        ),
    ),
    fn: (axis, ...xs) => ops.stack(xs, axis),
    reference: (axis, ...xs) => T.stack(xs, axis),
  }),
  // The pieces are weighted by their position so a mix-up of pieces changes the result.
  defineCase<{ sizes: number | number[]; axis: number }>({
    name: 'split',
    variant: 'sections or sizes (empty pieces too)',
    inputsArb: shapeOfRank(1).chain((s) =>
      axisArb(s.length).chain((axis) => {
        const d = s[T.normalizeAxis('split', axis, s.length)]!;
        const sizes = d === 0 ? sizesSummingTo(0) : fc.oneof(fc.constantFrom(...divisorsOf(d)), sizesSummingTo(d));
        return sizes.chain((sz) => single({ sizes: sz, axis }, values(s)));
      }),
    ),
    fn: (p, x) => ops.concat(ops.split(x!, p.sizes, p.axis).map((piece, i) => ops.flatten(ops.mul(piece, i + 1)))),
    reference: (p, x) => T.concat(T.split(x!, p.sizes, p.axis).map((piece, i) => T.mul(piece, i + 1).reshape([-1]))),
  }),
  defineCase<number | number[] | undefined>({
    name: 'flip',
    variant: 'all, one or listed axes',
    inputsArb: shapeArb(SMALL).chain((s) => axesArb(s.length).chain((axes) => single(axes, values(s)))),
    fn: (axes, x) => ops.flip(x!, axes),
    reference: (axes, x) => T.flip(x!, axes),
  }),
  defineCase<{ axis: number; indices: number[] | Tensor }>({
    name: 'indexSelect',
    variant: 'repeated and negative indices',
    inputsArb: shapeOfRank(1).chain((s) =>
      axisArb(s.length).chain((axis) =>
        fc
          .tuple(indicesArb(s[T.normalizeAxis('indexSelect', axis, s.length)]!), fc.boolean())
          .chain(([indices, asTensor]) =>
            single({ axis, indices: asTensor ? T.tensor(Float64Array.from(indices)) : indices }, values(s)),
          ),
      ),
    ),
    fn: (p, x) => ops.indexSelect(x!, p.axis, p.indices),
    reference: (p, x) => T.indexSelect(x!, p.axis, p.indices),
  }),
  defineCase<{ axis: number; indices: number[] }>({
    name: 'indexAdd',
    variant: 'base and source, repeated indices',
    inputsArb: shapeOfRank(1).chain((s) =>
      axisArb(s.length).chain((axis) => {
        const ax = T.normalizeAxis('indexAdd', axis, s.length);
        return indicesArb(s[ax]!).chain((indices) =>
          fc
            .tuple(values(s), values(s.map((d, k) => (k === ax ? indices.length : d))))
            .map((ts) => ({ params: { axis, indices }, inputs: ts })),
        );
      }),
    ),
    fn: (p, base, src) => ops.indexAdd(base!, p.axis, p.indices, src!),
    reference: (p, base, src) => T.indexAdd(base!, p.axis, p.indices, src!),
  }),
  defineCase<{ axis: number; index: Tensor }>({
    name: 'gather',
    variant: 'repeated and negative indices',
    inputsArb: shapeOfRank(1).chain((s0) =>
      axisArb(s0.length).chain((axis) => {
        const s = withNonEmptyAxis(s0, axis);
        return gatherIndexArb(s, axis).chain((index) => single({ axis, index }, values(s)));
      }),
    ),
    fn: (p, x) => ops.gather(x!, p.axis, p.index),
    reference: (p, x) => T.gather(x!, p.axis, p.index),
  }),
  defineCase<{ axis: number; index: Tensor }>({
    name: 'scatterAdd',
    variant: 'base and a source larger than the index',
    inputsArb: shapeOfRank(1).chain((s0) =>
      axisArb(s0.length).chain((axis) => {
        const s = withNonEmptyAxis(s0, axis);
        return gatherIndexArb(s, axis).chain((index) =>
          fc
            .array(fc.integer({ min: 0, max: 1 }), { minLength: s.length, maxLength: s.length })
            .chain((extra) => fc.tuple(values(s), values(index.shape.map((d, k) => d + extra[k]!))))
            .map((ts) => ({ params: { axis, index }, inputs: ts })),
        );
      }),
    ),
    fn: (p, base, src) => ops.scatterAdd(base!, p.axis, p.index, src!),
    reference: (p, base, src) => T.scatterAdd(base!, p.axis, p.index, src!),
  }),
  defineCase<null>({
    name: 'diagonal',
    variant: 'square and non-square, batched',
    inputsArb: shapeOfRank(2).chain((s) => single(null, values(s))),
    fn: (_, x) => ops.diagonal(x!),
    reference: (_, x) => T.diagonal(x!),
  }),
  defineCase<null>({
    name: 'diagEmbed',
    variant: 'batched',
    inputsArb: shapeOfRank(1).chain((s) => single(null, values(s))),
    fn: (_, x) => ops.diagEmbed(x!),
    reference: (_, x) => T.diagEmbed(x!),
  }),
  ...(['tril', 'triu'] as const).map((name) =>
    defineCase<number>({
      name,
      variant: 'offsets −3..3, non-square',
      inputsArb: shapeOfRank(2).chain((s) => fc.integer({ min: -3, max: 3 }).chain((k) => single(k, values(s)))),
      fn: (k, x) => ops[name](x!, k),
      reference: (k, x) => T[name](x!, k),
    }),
  ),
];

/** matmul on operands of the given shapes: batch shapes broadcast, size-0 dimensions allowed. */
function matmulCase(variant: string, shapes: fc.Arbitrary<[number[], number[]]>): AnyOpCase {
  return defineCase<null>({
    name: 'matmul',
    variant,
    inputsArb: shapes.chain(([a, b]) => fc.tuple(values(a), values(b)).map((ts) => ({ params: null, inputs: ts }))),
    fn: (_, a, b) => ops.matmul(a!, b!),
    reference: (_, a, b) => T.matmul(a!, b!),
  });
}
const dim = fc.integer({ min: 0, max: 3 });
const batchPair = broadcastablePairArb({ maxRank: 2, maxDim: 2 });
const products: AnyOpCase[] = [
  matmulCase(
    '2-d @ 2-d',
    fc.tuple(dim, dim, dim).map(([n, k, m]) => [
      [n, k],
      [k, m],
    ]),
  ),
  matmulCase(
    '1-d @ 2-d',
    fc.tuple(dim, dim).map(([k, m]) => [[k], [k, m]]),
  ),
  matmulCase(
    '2-d @ 1-d',
    fc.tuple(dim, dim).map(([n, k]) => [[n, k], [k]]),
  ),
  matmulCase(
    '1-d @ 1-d',
    dim.map((k) => [[k], [k]]),
  ),
  matmulCase(
    'batched, batch axes broadcasting',
    fc.tuple(batchPair, dim, dim, dim).map(([[ba, bb], n, k, m]) => [
      [...ba, n, k],
      [...bb, k, m],
    ]),
  ),
  matmulCase(
    'batched @ 1-d',
    fc.tuple(shapeOfRank(1, 2), dim, dim).map(([batch, n, k]) => [[...batch, n, k], [k]]),
  ),
  matmulCase(
    '1-d @ batched',
    fc.tuple(shapeOfRank(1, 2), dim, dim).map(([batch, k, m]) => [[k], [...batch, k, m]]),
  ),
];

/**
 * The batched Kronecker product by its definition, one output entry at a time:
 * out[..., i·r + k, j·s + l] = a[..., i, j]·b[..., k, l], batch axes broadcast.
 */
function naiveKron(a: Tensor, b: Tensor): Tensor {
  const [p, q] = a.shape.slice(-2) as [number, number];
  const [r, s] = b.shape.slice(-2) as [number, number];
  const batch = broadcastShapes('naiveKron', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const av = a.expand([...batch, p, q]).toTypedArray();
  const bv = b.expand([...batch, r, s]).toTypedArray();
  const out = new Float64Array(sizeOf(batch) * p * r * q * s);
  for (let t = 0; t < sizeOf(batch); t++)
    for (let i = 0; i < p; i++)
      for (let j = 0; j < q; j++)
        for (let k = 0; k < r; k++)
          for (let l = 0; l < s; l++)
            out[t * p * r * q * s + (i * r + k) * q * s + j * s + l] =
              av[t * p * q + i * q + j]! * bv[t * r * s + k * s + l]!;
  return T.tensor(out, { shape: [...batch, p * r, q * s] });
}
/** kron on matrices of sizes 0..3 with the given batch shapes (broadcasting against each other). */
function kronCase(variant: string, batches: fc.Arbitrary<[number[], number[]]>): AnyOpCase {
  return defineCase<null>({
    name: 'kron',
    variant,
    inputsArb: fc
      .tuple(batches, dim, dim, dim, dim)
      .chain(([[ba, bb], p, q, r, s]) => fc.tuple(values([...ba, p, q]), values([...bb, r, s])))
      .map((ts) => ({ params: null, inputs: ts })),
    fn: (_, a, b) => ops.kron(a!, b!),
    reference: (_, a, b) => naiveKron(a!, b!),
  });
}
const kronCases: AnyOpCase[] = [
  kronCase('2-d ⊗ 2-d', fc.constant([[], []])),
  kronCase('batched, batch axes broadcasting', batchPair),
];

export const OP_CASES: readonly AnyOpCase[] = [
  ...elementwiseBinary,
  ...elementwiseUnary,
  ...reductions,
  ...views,
  ...products,
  ...kronCases,
];

/** The ops.ts exports that have at least one gradchecked case. */
export const GRADCHECKED_OPS: ReadonlySet<string> = new Set(OP_CASES.map((c) => c.name));

/** The derivative order a case is gradchecked to: its op's `maxOrder` (src/ops.ts), or the case's own lower one. */
export const caseOrder = (c: AnyOpCase): number => Math.min(OP_METADATA[c.name]?.maxOrder ?? 0, c.maxOrder ?? 2);
