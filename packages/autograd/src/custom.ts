import { argumentError, fmtArg, fmtShape, ShapeError, Tensor, ValueError } from '@hyperconn/tensor';
import { asVariable, record, type Variable } from './variable.js';

/** The two halves of a custom op, given to `customOp`. */
export interface CustomOpDefinition {
  /** The op's name, shown in errors and in `node.op`. */
  name: string;
  /** Computes the output from the input tensors. */
  forward: (...inputs: Tensor[]) => Tensor;
  /**
   * The vector-Jacobian product: one gradient per input (null for none), each shaped like its
   * input or like a shape the input broadcasts to (it is summed back down); any other shape is
   * a ShapeError naming the op and both shapes. Written with the differentiable ops it supports
   * higher-order gradients; returning plain Tensors makes it first-order only (they are taken as
   * constants).
   */
  backward: (g: Variable, inputs: readonly Variable[], output: Variable) => readonly (Variable | Tensor | null)[];
}

/** Turns a user's forward/backward pair into a differentiable op over variables or tensors. */
export function customOp(def: CustomOpDefinition): (...inputs: (Variable | Tensor)[]) => Variable {
  if (typeof def !== 'object' || def === null)
    throw argumentError('customOp', 'def', 'an object { name, forward, backward }', def);
  if (typeof def.name !== 'string' || def.name === '')
    throw argumentError('customOp', 'def.name', 'a non-empty string', def.name);
  for (const k of ['forward', 'backward'] as const) {
    if (typeof def[k] !== 'function') throw argumentError('customOp', `def.${k}`, 'a function', def[k]);
  }
  const op = def.name;
  return (...inputs) => {
    const vars = inputs.map((x, i) => asVariable(op, x, String(i)));
    const out: unknown = def.forward(...vars.map((v) => v.value));
    if (!(out instanceof Tensor)) throw new ValueError(`${op}: forward must return a Tensor, got ${fmtArg(out)}`);
    const y: Variable = record(op, out, vars, (g, needs) => {
      const grads: unknown = def.backward(g, vars, y);
      if (!Array.isArray(grads))
        throw new ValueError(`${op}: backward must return an array of gradients (one per input), got ${fmtArg(grads)}`);
      if (grads.length !== vars.length) {
        throw new ValueError(`${op}: backward returned ${grads.length} gradients for ${vars.length} inputs`);
      }
      return grads.map((gi: unknown, i) => {
        if (!needs[i] || gi === null || gi === undefined) return null;
        const v = asVariable(op, gi, `gradient ${i} from backward`);
        checkGradientShape(op, i, v.shape, vars[i]!.shape);
        return v;
      });
    });
    return y;
  };
}

/**
 * A gradient from a custom backward must have its input's shape or one the input broadcasts to
 * (the engine sums it back down). Checked here so that a wrong one names the custom op rather
 * than failing later inside the engine's sumToShape.
 */
function checkGradientShape(op: string, i: number, g: readonly number[], x: readonly number[]): void {
  const lead = g.length - x.length;
  let ok = lead >= 0;
  for (let k = 0; ok && k < x.length; k++) ok = x[k] === g[lead + k] || x[k] === 1;
  if (!ok) {
    throw new ShapeError(
      `${op}: backward returned a gradient of shape ${fmtShape(g)} for input ${i} of shape ` +
        `${fmtShape(x)}; it must have the input's shape (or one the input broadcasts to)`,
    );
  }
}
