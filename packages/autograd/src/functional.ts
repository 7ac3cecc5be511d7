import { fmtShape, IndexError, ShapeError, Tensor, zeros } from '@hyperconn/tensor';
import { gradients } from './engine.js';
import { isGradEnabled, Variable, withRecording } from './variable.js';

/** A function of variables returning a variable (a single-element one for `grad`). */
export type DifferentiableFn = (...args: Variable[]) => Variable;
/** An argument of the transformed function: a tensor is wrapped in a Variable (a constant unless differentiated). */
export type Arg = Variable | Tensor;

/**
 * Wraps the arguments: those in `argnums` become variables that require grad. An argument
 * that already requires grad is used as it is, which is what makes `grad(grad(f))` work: the
 * inner call then records its backward pass (createGraph) for the outer one.
 */
function prepare(args: readonly Arg[], argnums: readonly number[]): { vars: Variable[]; createGraph: boolean } {
  let createGraph = false;
  const vars = args.map((a, i) => {
    const v = a instanceof Variable ? a : new Variable(a);
    if (!argnums.includes(i)) return v;
    if (v.requiresGrad && isGradEnabled()) {
      createGraph = true;
      return v;
    }
    return new Variable(v.value, { requiresGrad: true });
  });
  for (const i of argnums) {
    if (!Number.isInteger(i) || i < 0 || i >= args.length) throw new IndexError(`grad: argnum ${i} is out of range for ${args.length} arguments`);
  }
  return { vars, createGraph };
}

/**
 * `grad(f)(x, …)` is ∂f/∂x; `grad(f, [0, 2])` returns the gradients of arguments 0 and 2.
 * f must return a single-element variable. Nests: `grad(grad(f))` is the second derivative.
 */
export function grad(f: DifferentiableFn, argnums?: number): (...args: Arg[]) => Variable;
export function grad(f: DifferentiableFn, argnums: readonly number[]): (...args: Arg[]) => Variable[];
export function grad(f: DifferentiableFn, argnums: number | readonly number[] = 0): (...args: Arg[]) => Variable | Variable[] {
  return (...args) => valueAndGrad(f, argnums as number)(...args).grad;
}

/** Like `grad`, also returning f's value (computed once). */
export function valueAndGrad(f: DifferentiableFn, argnums?: number): (...args: Arg[]) => { value: Variable; grad: Variable };
export function valueAndGrad(f: DifferentiableFn, argnums: readonly number[]): (...args: Arg[]) => { value: Variable; grad: Variable[] };
export function valueAndGrad(
  f: DifferentiableFn,
  argnums: number | readonly number[] = 0,
): (...args: Arg[]) => { value: Variable; grad: Variable | Variable[] } {
  const list = typeof argnums === 'number' ? [argnums] : argnums;
  return (...args) => {
    const { vars, createGraph } = prepare(args, list);
    // Recorded even inside noGrad: grad is a transform of f, and without a graph it would be zero.
    const value = withRecording(true, () => f(...vars));
    const targets = list.map((i) => vars[i]!);
    if (value.size !== 1) throw new ShapeError(`grad: f must return a single-element variable, got shape ${fmtShape(value.shape)} (use vjp for other outputs)`);
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
 * function may be called many times.
 */
export function vjp(
  f: DifferentiableFn,
  ...primals: Arg[]
): {
  value: Variable;
  /** Cotangent (a number fills the value's shape) → one gradient per primal; a tensor's shape must match exactly (ShapeError). */
  vjp: (cotangent: Arg | number) => Variable[];
} {
  const { vars, createGraph } = prepare(primals, primals.map((_, i) => i));
  const value = withRecording(true, () => f(...vars));
  return {
    value,
    // As in grad: an output that depends on no primal has zero gradients.
    vjp: (cotangent) =>
      value.requiresGrad
        ? gradients(value, vars, { seed: cotangent, retainGraph: true, createGraph })
        : vars.map((v) => new Variable(zeros(v.shape, { dtype: v.dtype }))),
  };
}
