// Shared internals of the gradient table (ops.ts, ops-linalg.ts): the recording helpers `unary` and `constant`, and the
// per-op metadata type.
import type { Tensor } from '@hyperconn/tensor';
import { asVariable, record, Variable } from './variable.js';

/**
 * Records a one-input op: `forward` on the value, `rule` the vjp from the output gradient `g`, the input and the
 * output.
 */
export function unary(
  op: string,
  x: Variable | Tensor,
  forward: (t: Tensor) => Tensor,
  rule: (g: Variable, x: Variable, y: Variable) => Variable,
): Variable {
  const xv = asVariable(op, x);
  const y: Variable = record(op, forward(xv.value), [xv], (g) => [rule(g, xv, y)]);
  return y;
}

/** A 0/1 (or tie-weighted) mask as a constant: masks are piecewise constant, so gradients stop there. */
export const constant = (t: Tensor): Variable => new Variable(t);

/**
 * What the tests need to know about one op of the gradient table. Each op file keeps a map of
 * these beside its definitions (`OP_METADATA` in ops.ts, `LINALG_OP_METADATA` in ops-linalg.ts);
 * test/table.test.ts checks that every exported op has an entry and a gradient test.
 */
export interface OpMetadata {
  /**
   * The highest order of differentiation the rule supports (and is gradchecked to); 0 for an op
   * whose result is a constant (listed in NON_DIFFERENTIABLE).
   */
  readonly maxOrder: 0 | 1 | 2;
  /**
   * Where the gradient test lives (a file of packages/autograd/test) and why, when it is not a case of
   * test/op-cases.ts.
   */
  readonly gradientTest?: { readonly file: string; readonly reason: string };
  /** For an op built from other ops, so that no graph node carries its own name: which ones. */
  readonly composite?: string;
}
