import { ValueError, type Tensor } from '@hyperconn/tensor';
import { record, Variable } from './variable.js';

/** The two halves of a custom op, given to `customOp`. */
export interface CustomOpDefinition {
  /** The op's name, shown in errors and in `node.op`. */
  name: string;
  /** Computes the output from the input tensors. */
  forward: (...inputs: Tensor[]) => Tensor;
  /**
   * The vector-Jacobian product: one gradient per input (null for none), each shaped like its
   * input or broadcastable to it. Written with the differentiable ops it supports higher-order
   * gradients; returning plain Tensors makes it first-order only (they are taken as constants).
   */
  backward: (g: Variable, inputs: readonly Variable[], output: Variable) => readonly (Variable | Tensor | null)[];
}

/** Turns a user's forward/backward pair into a differentiable op over variables or tensors. */
export function customOp(def: CustomOpDefinition): (...inputs: (Variable | Tensor)[]) => Variable {
  return (...inputs) => {
    const vars = inputs.map((x) => (x instanceof Variable ? x : new Variable(x)));
    const y: Variable = record(def.name, def.forward(...vars.map((v) => v.value)), vars, (g, needs) => {
      const grads = def.backward(g, vars, y);
      if (grads.length !== vars.length) {
        throw new ValueError(`${def.name}: backward returned ${grads.length} gradients for ${vars.length} inputs`);
      }
      return grads.map((gi, i) => (!needs[i] || gi === null ? null : gi instanceof Variable ? gi : new Variable(gi)));
    });
    return y;
  };
}
