import {
  argumentError,
  fmtArg,
  fmtShape,
  IndexError,
  shapesEqual,
  ShapeError,
  Tensor,
  ValueError,
  zeros,
} from '@hyperconn/tensor';
import { gradients } from './engine.js';
import { asVariable, isGradEnabled, Variable, withRecording } from './variable.js';

/** A function of variables returning a variable (a single-element one for `grad`). */
export type DifferentiableFn = (...args: Variable[]) => Variable;
/**
 * An argument of the transformed function: a tensor is wrapped in a Variable (a constant unless
 * differentiated).
 */
export type Arg = Variable | Tensor;

/**
 * Wraps the arguments: those in `argnums` become variables that require grad. An argument
 * that already requires grad is used as it is, which is what makes `grad(grad(f))` work: the
 * inner call then records its backward pass (createGraph) for the outer one.
 */
function prepare(
  op: string,
  args: readonly Arg[],
  argnums: readonly number[],
): { vars: Variable[]; createGraph: boolean } {
  let createGraph = false;
  const vars = args.map((a, i) => {
    const v = asVariable(op, a, String(i));
    if (!argnums.includes(i)) return v;
    if (v.requiresGrad && isGradEnabled()) {
      createGraph = true;
      return v;
    }
    return new Variable(v.value, { requiresGrad: true });
  });
  for (const i of argnums) {
    if (!Number.isInteger(i) || i < 0 || i >= args.length)
      throw new IndexError(`${op}: argnum ${i} is out of range for ${args.length} arguments`);
  }
  return { vars, createGraph };
}

/** Calls f with recording on and checks that it returned a Variable (see `checkOutput`). */
function callRecorded(op: string, f: DifferentiableFn, vars: Variable[]): Variable {
  // Recorded even inside noGrad: grad is a transform of f, and without a graph it would be zero.
  const value: unknown = withRecording(true, () => f(...vars));
  if (value instanceof Variable) return value;
  // A Tensor or a number has no graph: its gradient would come out as zeros, or as a TypeError.
  const what = value instanceof Tensor ? `a Tensor of shape ${fmtShape(value.shape)}` : fmtArg(value);
  throw new ValueError(
    `${op}: f returned ${what}, not a Variable, so the graph from its arguments ` +
      `was cut (by .value, .item() or a @hyperconn/tensor op inside f); ` +
      'build the result from the Variable arguments with the autograd ' +
      'ops (e.g. sum(mul(x, x)), not sum(mul(x.value, x.value)))',
  );
}

/** f of a transform: a function, else a ValueError when the transform is made (not when called). */
function checkFn(op: string, f: unknown): void {
  if (typeof f !== 'function') throw argumentError(op, 'f', 'a function', f);
}

/**
 * `grad(f)(x, …)` is ∂f/∂x; `grad(f, [0, 2])` returns the gradients of arguments 0 and 2.
 * f must return a single-element variable. Nests: `grad(grad(f))` is the second derivative.
 * A result that is not a Variable (a Tensor or a number: the graph was cut inside f by `.value`,
 * `.item()` or a tensor-package op) is a ValueError saying so; a Variable that does not depend
 * on the arguments has zero gradients (as JAX).
 */
export function grad(f: DifferentiableFn, argnums?: number): (...args: Arg[]) => Variable;
export function grad(f: DifferentiableFn, argnums: readonly number[]): (...args: Arg[]) => Variable[];
export function grad(
  f: DifferentiableFn,
  argnums: number | readonly number[] = 0,
): (...args: Arg[]) => Variable | Variable[] {
  const transform = valueAndGradAs('grad', f, argnums);
  return (...args) => transform(...args).grad;
}

/** Like `grad`, also returning f's value (computed once). */
export function valueAndGrad(
  f: DifferentiableFn,
  argnums?: number,
): (...args: Arg[]) => { value: Variable; grad: Variable };
export function valueAndGrad(
  f: DifferentiableFn,
  argnums: readonly number[],
): (...args: Arg[]) => { value: Variable; grad: Variable[] };
export function valueAndGrad(
  f: DifferentiableFn,
  argnums: number | readonly number[] = 0,
): (...args: Arg[]) => { value: Variable; grad: Variable | Variable[] } {
  return valueAndGradAs('valueAndGrad', f, argnums);
}

/** valueAndGrad, reporting errors under `op` (grad or valueAndGrad). */
function valueAndGradAs(
  op: string,
  f: DifferentiableFn,
  argnums: number | readonly number[],
): (...args: Arg[]) => { value: Variable; grad: Variable | Variable[] } {
  checkFn(op, f);
  const list = typeof argnums === 'number' ? [argnums] : argnums;
  if (!Array.isArray(list)) throw argumentError(op, 'argnums', 'an integer or an array of integers', argnums);
  return (...args) => {
    const { vars, createGraph } = prepare(op, args, list);
    const value = callRecorded(op, f, vars);
    const targets = list.map((i) => vars[i]!);
    if (value.size !== 1)
      throw new ShapeError(
        `${op}: f must return a single-element variable, got shape ` +
          `${fmtShape(value.shape)} (use vjp for other outputs)`,
      );
    // An output that does not depend on the arguments has zero gradient (as JAX).
    const grads = value.requiresGrad
      ? gradients(value, targets, { createGraph })
      : targets.map((t) => new Variable(zeros(t.shape, { dtype: t.dtype })));
    return { value, grad: typeof argnums === 'number' ? grads[0]! : grads };
  };
}

/**
 * The vector-Jacobian product of f at `primals`: returns f's value and a function mapping a
 * cotangent (shaped like the value) to one gradient per primal. The graph is kept, so the
 * function may be called many times. f must return a Variable, as for `grad`.
 */
export function vjp(
  f: DifferentiableFn,
  ...primals: Arg[]
): {
  value: Variable;
  /**
   * A cotangent shaped like `value` (ShapeError otherwise; a number fills that shape) ↦ one
   * gradient per primal, shaped like it.
   */
  vjp: (cotangent: Arg | number) => Variable[];
} {
  checkFn('vjp', f);
  const { vars, createGraph } = prepare(
    'vjp',
    primals,
    primals.map((_, i) => i),
  );
  const value = callRecorded('vjp', f, vars);
  return {
    value,
    vjp: (cotangent) => {
      if (typeof cotangent !== 'number') {
        const c = asVariable('vjp', cotangent, 'cotangent');
        if (!shapesEqual(c.shape, value.shape)) {
          throw new ShapeError(
            `vjp: cotangent of shape ${fmtShape(c.shape)} does not match the value's shape ${fmtShape(value.shape)}`,
          );
        }
      }
      // As in grad: an output that depends on no primal has zero gradients.
      return value.requiresGrad
        ? gradients(value, vars, { seed: cotangent, retainGraph: true, createGraph })
        : vars.map((v) => new Variable(zeros(v.shape, { dtype: v.dtype })));
    },
  };
}
