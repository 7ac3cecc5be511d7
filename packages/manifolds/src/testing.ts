/**
 * `@hyperconn/manifolds/testing`: fast-check arbitraries for points, tangent vectors and the
 * degenerate cases of the three manifolds, and assertions of their invariants, for property
 * tests of your own code (and ours). The assertions throw a plain Error naming the worst
 * violation, its value and batch index, so they work under any test runner. fast-check is a
 * peer dependency.
 *
 * The invariant assertions (`expectDoublyStochastic`, `expectUnitSpectralNorm`,
 * `expectOrthogonal`) compute in float64 from the definitions, independently of the manifold
 * classes, so they can check those too. Default tolerance: atol = 32·n·eps of the input's dtype
 * (n the larger matrix side), rtol = 0; a violation is an error above atol + rtol.
 */
import fc from 'fast-check';
import {
  Random,
  ShapeError,
  Tensor,
  ValueError,
  dtypeOption,
  epsOf,
  fmtIndex,
  fmtShape,
  sizeOf,
  svd,
  type DType,
} from '@hyperconn/tensor';
import { Variable, WorstViolation } from '@hyperconn/autograd';
import type { Manifold, Tolerance } from './manifold.js';

/** A seed for `Random`: any safe integer gives its own stream. */
const seedArb: fc.Arbitrary<number> = fc.nat();

/**
 * Tensors of `shape` (batch axes included) with entries in [min, max] (default [−1, 1]);
 * float32 entries are float32 numbers, so a float64 reference sees the same inputs.
 */
export function matrixArb(
  shape: readonly number[],
  options: { min?: number; max?: number; dtype?: DType } = {},
): fc.Arbitrary<Tensor> {
  const { min = -1, max = 1 } = options;
  const dtype = dtypeOption('matrixArb', options);
  if (!(min <= max)) throw new ValueError(`matrixArb: need min ≤ max, got min ${min}, max ${max}`);
  const size = sizeOf(shape);
  const entry =
    dtype === 'float64'
      ? fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
      : fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true });
  return fc
    .array(entry, { minLength: size, maxLength: size })
    .map(
      (values) => new Tensor(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), [...shape]),
    );
}

/** Options of `pointArb` and `pointAndTangentArb`: the batch shape and dtype (default float64) of the points. */
export interface PointOptions {
  /** Leading batch axes (default none: one point). */
  batchShape?: readonly number[];
  dtype?: DType;
}

/** Points of `manifold` from its `randomPoint`, seeded by a generated integer (so runs replay). */
export function pointArb(manifold: Manifold, options: PointOptions = {}): fc.Arbitrary<Tensor> {
  const { batchShape = [], dtype = 'float64' } = options;
  return seedArb.map((seed) => manifold.randomPoint(new Random(seed), batchShape, { dtype }));
}

/** Unit-norm tangent vectors at the fixed point `x`, from `manifold.randomTangent`. */
export function tangentArb(manifold: Manifold, x: Tensor): fc.Arbitrary<Tensor> {
  return seedArb.map((seed) => manifold.randomTangent(x, new Random(seed)));
}

/** A point x and a unit-norm tangent vector v at x (both from one generated seed). */
export function pointAndTangentArb(
  manifold: Manifold,
  options: PointOptions = {},
): fc.Arbitrary<{ x: Tensor; v: Tensor }> {
  const { batchShape = [], dtype = 'float64' } = options;
  return seedArb.map((seed) => {
    const rng = new Random(seed);
    const x = manifold.randomPoint(rng, batchShape, { dtype });
    return { x, v: manifold.randomTangent(x, rng) };
  });
}

/**
 * n×n permutation matrices P with P[i, π(i)] = 1: the vertices of the Birkhoff polytope, where the Fisher metric
 * degenerates.
 */
export function birkhoffVertexArb(n: number, options: { dtype?: DType } = {}): fc.Arbitrary<Tensor> {
  if (!Number.isInteger(n) || n < 1) throw new ValueError(`birkhoffVertexArb: n must be a positive integer, got ${n}`);
  const dtype = options.dtype ?? 'float64';
  const identity = Array.from({ length: n }, (_, i) => i);
  return fc.shuffledSubarray(identity, { minLength: n, maxLength: n }).map((perm) => {
    const data = dtype === 'float64' ? new Float64Array(n * n) : new Float32Array(n * n);
    perm.forEach((j, i) => {
      data[i * n + j] = 1;
    });
    return new Tensor(data, [n, n]);
  });
}

/**
 * A value of `repeatedSingularValuesArb`: the matrix (in the requested dtype) and the
 * singular values it was built from (float64, before the cast).
 */
export interface RepeatedSingularValues {
  /** Q diag(s) Rᵀ with Q, R Haar-random orthogonal n×n matrices. */
  matrix: Tensor;
  /** s, descending: the top value `multiplicity` times, then values ≤ 0.9× the top. */
  singularValues: number[];
  multiplicity: number;
}

/**
 * n×n matrices whose largest singular value is repeated (multiplicity 2..n, or exactly
 * `multiplicity`), where σ_max is not differentiable and the spectral sphere is not smooth.
 * The top value lies in [0.5, 2]; the others in [0, 0.9·top]. Built in float64, then cast.
 */
export function repeatedSingularValuesArb(
  n: number,
  options: { dtype?: DType; multiplicity?: number } = {},
): fc.Arbitrary<RepeatedSingularValues> {
  if (!Number.isInteger(n) || n < 2)
    throw new ValueError(`repeatedSingularValuesArb: n must be an integer ≥ 2, got ${n}`);
  const { dtype = 'float64', multiplicity } = options;
  if (multiplicity !== undefined && !(Number.isInteger(multiplicity) && multiplicity >= 2 && multiplicity <= n)) {
    throw new ValueError(
      `repeatedSingularValuesArb: multiplicity must be an integer in [2, ${n}], got ${multiplicity}`,
    );
  }
  const multiplicityArb = multiplicity === undefined ? fc.integer({ min: 2, max: n }) : fc.constant(multiplicity);
  const fraction = fc.double({ min: 0, max: 0.9, noNaN: true });
  return fc
    .tuple(
      multiplicityArb,
      fc.double({ min: 0.5, max: 2, noNaN: true }),
      fc.array(fraction, { minLength: n, maxLength: n }),
      seedArb,
    )
    .map(([k, top, fractions, seed]) => {
      const s = [
        ...Array<number>(k).fill(top),
        ...fractions
          .slice(k)
          .map((f) => f * top)
          .sort((a, b) => b - a),
      ];
      const rng = new Random(seed);
      const q = rng.orthogonal(n).toTypedArray();
      const r = rng.orthogonal(n).toTypedArray();
      const data = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let l = 0; l < n; l++) acc += q[i * n + l]! * s[l]! * r[j * n + l]!;
          data[i * n + j] = acc;
        }
      }
      return { matrix: new Tensor(data, [n, n]).astype(dtype), singularValues: s, multiplicity: k };
    });
}

// ---------------------------------------------------------------------------------------------
// Assertions

const tensorOf = (x: Tensor | Variable): Tensor => (x instanceof Variable ? x.value : x);

/** The allowed error: atol + rtol, by default 32·n·eps of the dtype. */
function bound(dtype: DType, n: number, tol: Tolerance): number {
  return (tol.atol ?? 32 * n * epsOf(dtype)) + (tol.rtol ?? 0);
}

/** The batch of matrices of x [..., m, n] as float64 in C order, with its sizes. */
function matrices(
  op: string,
  x: Tensor,
  square: boolean,
): { data: Float64Array; batch: number[]; rows: number; cols: number } {
  const rows = x.shape[x.ndim - 2] ?? 0;
  const cols = x.shape[x.ndim - 1] ?? 0;
  if (x.ndim < 2 || (square && rows !== cols)) {
    throw new ShapeError(
      `${op}: expected ${square ? 'square matrices [..., n, n]' : 'matrices [..., m, n]'}, ` +
        `got shape ${fmtShape(x.shape)}`,
    );
  }
  return { data: Float64Array.from(x.toTypedArray()), batch: x.shape.slice(0, -2), rows, cols };
}

/**
 * How far `error` lies beyond `limit`: a NaN error is an infinite violation, error − limit = NaN otherwise (∞ − ∞, a
 * NaN limit) none.
 */
function beyond(error: number, limit: number): number {
  if (Number.isNaN(error)) return Infinity;
  const excess = error - limit;
  return Number.isNaN(excess) ? 0 : excess;
}

/** Throws the worst of the violations `worst` saw (error − limit), naming how many there were. */
function throwIfAny(op: string, worst: WorstViolation<string>): void {
  if (worst.count === 0) return;
  throw new Error(`${op}: ${worst.worst}${worst.count > 1 ? ` (the worst of ${worst.count} violations)` : ''}`);
}

/**
 * Throws unless every batch entry of x is on `manifold` (by `manifold.check`, whose reason names the worst violation).
 */
export function expectOnManifold(manifold: Manifold, x: Tensor | Variable, tol?: Tolerance): void {
  const { ok, reason } = manifold.check(tensorOf(x), tol);
  if (!ok) throw new Error(`expectOnManifold: not on ${manifold.name}: ${reason}`);
}

/** Throws unless v is tangent at x in every batch entry (by `manifold.checkTangent`). */
export function expectTangent(manifold: Manifold, x: Tensor | Variable, v: Tensor | Variable, tol?: Tolerance): void {
  const { ok, reason } = manifold.checkTangent(tensorOf(x), tensorOf(v), tol);
  if (!ok) throw new Error(`expectTangent: not tangent to ${manifold.name}: ${reason}`);
}

/** Throws unless every matrix of x [..., n, n] has entries ≥ −tol and row and column sums within tol of 1. */
export function expectDoublyStochastic(x: Tensor | Variable, tol: Tolerance = {}): void {
  const op = 'expectDoublyStochastic';
  const t = tensorOf(x);
  const { data, batch, rows: n } = matrices(op, t, true);
  const limit = bound(t.dtype, n, tol);
  const worst = new WorstViolation<string>();
  for (let b = 0, base = 0; base < data.length; b++, base += n * n) {
    const where = (): string => `batch index ${fmtIndex(b, batch)}`;
    for (let i = 0; i < n; i++) {
      let rowSum = 0;
      let colSum = 0;
      for (let j = 0; j < n; j++) {
        const value = data[base + i * n + j]!;
        rowSum += value;
        colSum += data[base + j * n + i]!;
        worst.consider(
          beyond(-value, limit),
          () => `entry [${i}, ${j}] at ${where()} is ${value} (negative beyond tol ${limit})`,
        );
      }
      worst.consider(
        beyond(Math.abs(rowSum - 1), limit),
        () => `row ${i} at ${where()} sums to ${rowSum} (|sum − 1| = ${Math.abs(rowSum - 1)} > tol ${limit})`,
      );
      worst.consider(
        beyond(Math.abs(colSum - 1), limit),
        () => `column ${i} at ${where()} sums to ${colSum} (|sum − 1| = ${Math.abs(colSum - 1)} > tol ${limit})`,
      );
    }
  }
  throwIfAny(op, worst);
}

/** Throws unless every matrix of x [..., m, n] has σ_max within tol of 1 (σ_max by float64 Jacobi SVD). */
export function expectUnitSpectralNorm(x: Tensor | Variable, tol: Tolerance = {}): void {
  const op = 'expectUnitSpectralNorm';
  const t = tensorOf(x);
  const { batch, rows, cols } = matrices(op, t, false);
  const limit = bound(t.dtype, Math.max(rows, cols), tol);
  const finite = t.toTypedArray().every(Number.isFinite);
  // SVD of non-finite input is meaningless: report it as a violation instead of decomposing it
  const s = finite ? svd(t.astype('float64')).s.toTypedArray() : null;
  const k = Math.min(rows, cols);
  const worst = new WorstViolation<string>();
  for (let b = 0; b < sizeOf(batch); b++) {
    const sigma = s === null ? NaN : s[b * k]!;
    worst.consider(beyond(Math.abs(sigma - 1), limit), () =>
      s === null
        ? `the input has non-finite entries`
        : `σ_max = ${sigma} at batch index ${fmtIndex(b, batch)} (|σ_max − 1| = ${Math.abs(sigma - 1)} > tol ${limit})`,
    );
    if (s === null) break;
  }
  throwIfAny(op, worst);
}

/**
 * Throws unless every matrix of x [..., m, n] has orthonormal columns, XᵀX = I (m ≥ n: a point
 * of the Stiefel manifold or of O(n)), or orthonormal rows, XXᵀ = I, when m < n. The error
 * names the worst entry of the Gram matrix minus I.
 */
export function expectOrthogonal(x: Tensor | Variable, tol: Tolerance = {}): void {
  const op = 'expectOrthogonal';
  const t = tensorOf(x);
  const { data, batch, rows, cols } = matrices(op, t, false);
  const tall = rows >= cols;
  const k = tall ? cols : rows;
  const limit = bound(t.dtype, Math.max(rows, cols), tol);
  // entry `along` of column `vector` (tall) or of row `vector` (wide) of the matrix at `base`
  const at = (base: number, vector: number, along: number): number =>
    data[base + (tall ? along * cols + vector : vector * cols + along)]!;
  const gram = tall ? 'XᵀX − I' : 'XXᵀ − I';
  const worst = new WorstViolation<string>();
  for (let b = 0, base = 0; base < data.length; b++, base += rows * cols) {
    for (let i = 0; i < k; i++) {
      for (let j = i; j < k; j++) {
        let dot = 0;
        for (let l = 0; l < (tall ? rows : cols); l++) dot += at(base, i, l) * at(base, j, l);
        const error = dot - (i === j ? 1 : 0);
        worst.consider(
          beyond(Math.abs(error), limit),
          () => `(${gram})[${i}, ${j}] = ${error} at batch index ${fmtIndex(b, batch)} (> tol ${limit})`,
        );
      }
    }
  }
  throwIfAny(op, worst);
}
