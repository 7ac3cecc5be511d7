import { DTypeError, HyperconnError, Random, Tensor, ValueError, fmtShape, zeros } from '@hyperconn/tensor';
import { gradients } from './engine.js';
import type { DifferentiableFn } from './functional.js';
import { concat, flatten } from './ops.js';
import { Variable, withRecording } from './variable.js';
import { WorstViolation } from './worst.js';

/** Options of `gradcheck`. */
export interface GradcheckOptions {
  /** Check derivatives up to this order (2 = also the gradient of the gradient). Default 1. */
  order?: number;
  /** Central-difference step. Default 1e-6. */
  eps?: number;
  /** Accept |analytic − numeric| ≤ atol + rtol·|numeric|. Defaults 1e-6 and 1e-5. */
  atol?: number;
  /** Relative tolerance (see `atol`). Default 1e-5. */
  rtol?: number;
  /** Seed of the random directions and cotangents. Default 0. */
  seed?: number;
  /** Throw a GradcheckError on failure (default true); otherwise return the report. */
  raise?: boolean;
}

/** The outcome of `gradcheck`: on failure, the worst element and a message naming it. */
export interface GradcheckReport {
  /** True when every checked order passed. */
  ok: boolean;
  /** The derivative order that failed (or the highest checked). */
  order: number;
  /** The worst element relative to the tolerance. */
  worst: {
    check: 'jacobian' | 'direction';
    input: number;
    index: number;
    output: number;
    analytic: number;
    numeric: number;
  } | null;
  /** A readable summary: `gradcheck: order k ok`, or the failing element with both values. */
  message: string;
}

/** Thrown by `gradcheck` on failure (unless `raise: false`); `report` holds the details. */
export class GradcheckError extends HyperconnError {
  constructor(readonly report: GradcheckReport) {
    super(report.message);
  }
}

/** The function `gradcheck` checks: variables in, one variable (of any shape) out. */
type Fn = DifferentiableFn;

function evaluate(f: Fn, xs: readonly Tensor[]): Float64Array {
  const y = f(...xs.map((x) => new Variable(x)));
  return Float64Array.from(y.value.toTypedArray());
}

/** f(x with input k's flat element j moved by delta). */
function shifted(f: Fn, xs: readonly Tensor[], k: number, j: number, delta: number): Float64Array {
  const moved = xs.map((x, i) => (i === k ? x.clone() : x));
  moved[k]!.data[j]! += delta;
  return evaluate(f, moved);
}

/** f(x + t·u) for directions u (one per input). */
function alongDirection(f: Fn, xs: readonly Tensor[], dirs: readonly Float64Array[], t: number): Float64Array {
  return evaluate(
    f,
    xs.map((x, i) => {
      const c = x.clone();
      for (let j = 0; j < c.size; j++) c.data[j]! += t * dirs[i]![j]!;
      return c;
    }),
  );
}

function normal(rng: Random, n: number): Float64Array {
  return Float64Array.from(rng.normal([n]).toTypedArray());
}

function checkFirstOrder(
  f: Fn,
  xs: readonly Tensor[],
  opts: Required<Omit<GradcheckOptions, 'raise' | 'order'>>,
  order: number,
): GradcheckReport {
  const { eps, atol, rtol } = opts;
  const rng = new Random(opts.seed + 7919 * order);
  const leaves = xs.map((x) => new Variable(x, { requiresGrad: true }));
  const out = f(...leaves);
  const m = out.size;
  const tracker = new WorstViolation<NonNullable<GradcheckReport['worst']>>();
  // Any NaN on either side fails; otherwise the element that most exceeds its tolerance is kept.
  const consider = (
    check: 'jacobian' | 'direction',
    input: number,
    index: number,
    output: number,
    analytic: number,
    numeric: number,
    tol: number,
  ): void => {
    const excess = Number.isNaN(analytic) || Number.isNaN(numeric) ? Infinity : Math.abs(analytic - numeric) - tol;
    // equal infinities (∞ − ∞ = NaN) agree: not a violation
    tracker.consider(Number.isNaN(excess) ? 0 : excess, () => ({ check, input, index, output, analytic, numeric }));
  };
  // Analytic Jacobian, one reverse pass per output element.
  const rows: Float64Array[][] = [];
  for (let i = 0; i < m; i++) {
    if (!out.requiresGrad) {
      rows.push(xs.map((x) => new Float64Array(x.size)));
      continue;
    }
    const seed = new Float64Array(m);
    seed[i] = 1;
    const gs = gradients(out, leaves, { seed: new Tensor(seed, [...out.shape]), retainGraph: true });
    rows.push(gs.map((g) => Float64Array.from(g.value.toTypedArray())));
  }
  // Numeric Jacobian, one pair of evaluations per input element.
  xs.forEach((x, k) => {
    for (let j = 0; j < x.size; j++) {
      const plus = shifted(f, xs, k, j, eps);
      const minus = shifted(f, xs, k, j, -eps);
      for (let i = 0; i < m; i++) {
        const numeric = (plus[i]! - minus[i]!) / (2 * eps);
        const analytic = rows[i]![k]![j]!;
        consider('jacobian', k, j, i, analytic, numeric, atol + rtol * Math.abs(numeric));
      }
    }
  });
  // One random direction u and cotangent v: ⟨u, Jᵀv⟩ must equal ⟨Ju, v⟩. Run only when the
  // Jacobian passed: its sum of many errors would outrank, and hide, the worst single element.
  if (m > 0 && tracker.worst === null) {
    const dirs = xs.map((x) => normal(rng, x.size));
    const v = normal(rng, m);
    const jtv = out.requiresGrad
      ? gradients(out, leaves, { seed: new Tensor(v, [...out.shape]), retainGraph: true }).map((g) =>
          g.value.toTypedArray(),
        )
      : xs.map((x) => new Float64Array(x.size));
    let lhs = 0;
    dirs.forEach((u, k) => {
      u.forEach((uj, j) => {
        lhs += uj * jtv[k]![j]!;
      });
    });
    const plus = alongDirection(f, xs, dirs, eps);
    const minus = alongDirection(f, xs, dirs, -eps);
    let rhs = 0;
    let scale = 0;
    for (let i = 0; i < m; i++) {
      rhs += (v[i]! * (plus[i]! - minus[i]!)) / (2 * eps);
      scale += Math.abs(v[i]!);
    }
    consider('direction', -1, -1, -1, lhs, rhs, atol * Math.max(1, scale) + rtol * Math.abs(rhs));
  }
  const worst = tracker.worst;
  const ok = worst === null;
  let message = `gradcheck: order ${order} ok`;
  if (!ok) {
    const w = worst;
    message =
      w.check === 'jacobian'
        ? `gradcheck: order-${order} derivative of output element ${w.output} with respect to input ${w.input} ` +
          `(shape ${fmtShape(xs[w.input]!.shape)}) element ` +
          `${w.index}: analytic ${w.analytic}, numeric ${w.numeric}, |diff| ${Math.abs(w.analytic - w.numeric)} ` +
          `exceeds atol ${atol} + rtol ${rtol}·|numeric|`
        : `gradcheck: order-${order} random-direction check ⟨u, Jᵀv⟩ = ${w.analytic} ` +
          `but ⟨Ju, v⟩ = ${w.numeric} (|diff| ${Math.abs(w.analytic - w.numeric)})`;
  }
  return { ok, order, worst, message };
}

/**
 * Checks the reverse-mode derivatives of `f` at `inputs` against central finite differences,
 * element by element (the full Jacobian) and along a random direction. `order: 2` also checks
 * the gradient of the gradient (f's vjp with a random cotangent, differentiated again), and so
 * on. Float64 only: float32 differences are too coarse to say anything.
 */
export function gradcheck(
  f: DifferentiableFn,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const opts = {
    eps: options.eps ?? 1e-6,
    atol: options.atol ?? 1e-6,
    rtol: options.rtol ?? 1e-5,
    seed: options.seed ?? 0,
  };
  const order = options.order ?? 1;
  if (!Number.isInteger(order) || order < 1)
    throw new ValueError(`gradcheck: order must be a positive integer, got ${order}`);
  inputs.forEach((x, i) => {
    if (x.dtype !== 'float64') {
      throw new DTypeError(
        `gradcheck: input ${i} is ${x.dtype}; finite differences need float64 inputs (use .astype('float64'))`,
      );
    }
  });
  let report: GradcheckReport = { ok: true, order: 0, worst: null, message: '' };
  let fn: Fn = f;
  for (let k = 1; k <= order; k++) {
    report = withRecording(true, () => checkFirstOrder(fn, inputs, opts, k));
    if (!report.ok) break;
    fn = firstDerivative(fn, inputs, opts.seed + k);
  }
  if (!report.ok && (options.raise ?? true)) throw new GradcheckError(report);
  return report;
}

/** x ↦ Jᵀv (all inputs' gradients, flattened and joined) for a fixed random cotangent v. */
function firstDerivative(f: Fn, inputs: readonly Tensor[], seed: number): Fn {
  const probe = f(...inputs.map((x) => new Variable(x)));
  const v = new Tensor(normal(new Random(seed), probe.size), [...probe.shape]);
  return (...xs) => {
    const leaves = xs.map((x) => (x.requiresGrad ? x : new Variable(x.value, { requiresGrad: true })));
    const y = f(...leaves);
    if (!y.requiresGrad) return new Variable(zeros([inputs.reduce((n, x) => n + x.size, 0)]));
    const gs = gradients(y, leaves, { seed: v, createGraph: true });
    return concat(gs.map((g) => flatten(g)));
  };
}
