/**
 * The higher-order side of the fused maps (internal: not exported from the package index).
 *
 * A fused map computes its value and its first-order vector-Jacobian product in scalar code,
 * which is fast but gives plain tensors: constants to the engine. When a backward pass is being
 * recorded (`createGraph`, `grad(grad(f))`: `isGradEnabled()` is then true inside a custom op's
 * backward) the map instead returns `recordedVjp`: ONE graph node whose value is the fused
 * gradient and whose own backward differentiates the composed reference function on a local
 * graph (fresh leaves holding the inputs' values), so the outer graph is never walked twice and
 * every further order is the exact derivative of the reference, recursively.
 */
import * as T from '@hyperconn/tensor';
import type { Tensor } from '@hyperconn/tensor';
import { Variable, concat, customOp, gradients, isGradEnabled, reshape, slice, vjp } from '@hyperconn/autograd';

/** A composed, differentiable function of variables. */
export type ReferenceFn = (...inputs: Variable[]) => Variable;

/**
 * The gradients of `fn` at `inputs` for `cotangent`, as tensors, from a local graph on fresh
 * leaves (`vjp` records it even where recording is off, as inside a first-order backward).
 */
export function referenceVjp(fn: ReferenceFn, inputs: readonly Tensor[], cotangent: Tensor): Tensor[] {
  return vjp(fn, ...inputs)
    .vjp(cotangent)
    .map((g) => g.value);
}

/** The variables flattened and joined into one vector. */
function packVariables(vs: readonly Variable[]): Variable {
  return concat(
    vs.map((v) => reshape(v, [v.size])),
    0,
  );
}

/** The tensors flattened and joined into one vector (the one output a custom op may have). */
function packTensors(ts: readonly Tensor[]): Tensor {
  return T.concat(
    ts.map((t) => t.reshape([t.size])),
    0,
  );
}

/** The inverse of packing: one variable per shape, sliced from `packed` and reshaped. */
function unpack(packed: Variable, shapes: readonly (readonly number[])[]): Variable[] {
  let start = 0;
  return shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const part = reshape(slice(packed, [start, start + size]), shape);
    start += size;
    return part;
  });
}

/**
 * The gradients of `fn` at `inputs` (variables of the caller's graph) for the cotangent `g`,
 * recorded as one differentiable node. Its value is `values()` when given (the fused rule),
 * else the reference's; its derivative is the reference's second derivative, taken on a local
 * graph, and so on to any order.
 */
export function recordedVjp(
  name: string,
  fn: ReferenceFn,
  inputs: readonly Variable[],
  g: Variable,
  values?: () => Tensor[],
): Variable[] {
  const count = inputs.length;
  // (x…, g) ↦ the packed gradients of fn at x for the cotangent g: what this node computes.
  const vjpFn: ReferenceFn = (...args) => {
    const xs = args.slice(0, count);
    const y = fn(...xs);
    const grads = y.requiresGrad
      ? gradients(y, xs, { seed: args[count]!, createGraph: true })
      : xs.map((x) => new Variable(T.zeros(x.shape, { dtype: x.dtype })));
    return packVariables(grads);
  };
  const op = customOp({
    name: `${name}.vjp`,
    forward: (...ts) => packTensors(values ? values() : referenceVjp(fn, ts.slice(0, count), ts[count]!)),
    backward: (gg, vars) =>
      isGradEnabled()
        ? recordedVjp(`${name}.vjp`, vjpFn, vars, gg)
        : referenceVjp(
            vjpFn,
            vars.map((v) => v.value),
            gg.value,
          ),
  });
  return unpack(
    op(...inputs, g),
    inputs.map((x) => x.shape),
  );
}
