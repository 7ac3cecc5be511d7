import {
  argumentError,
  fmtShape,
  full,
  shapesEqual,
  ShapeError,
  Tensor,
  ValueError,
  HyperconnError,
} from '@hyperconn/tensor';
import { add, cast, sumToShape } from './ops.js';
import { asVariable, Variable, withRecording } from './variable.js';

/** Backpropagating through a graph whose saved values were released by an earlier backward. */
export class FreedGraphError extends HyperconnError {}

/** Options of `backward` and `gradients`. */
export interface BackwardOptions {
  /** Keep the graph (and its saved values) for another backward. Default: `createGraph`. */
  retainGraph?: boolean;
  /** Record the backward pass itself so the gradients can be differentiated again. Default false. */
  createGraph?: boolean;
}

/** Variables reachable from `root` through ops that require grad, in reverse topological order. */
function reverseTopologicalOrder(root: Variable): Variable[] {
  const order: Variable[] = [];
  const visited = new Set<Variable>();
  // Iterative post-order DFS: deep graphs (long chains) must not overflow the call stack.
  const stack: [Variable, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [v, next] = top;
    const inputs = v.node?.inputs ?? [];
    if (next < inputs.length) {
      top[1] = next + 1;
      const child = inputs[next]!;
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(v);
    }
  }
  return order.reverse();
}

function seedFor(root: Variable, seed: Variable | Tensor | number | undefined): Variable {
  if (seed === undefined) {
    if (root.size !== 1) {
      throw new ShapeError(
        `backward: the output has shape ${fmtShape(root.shape)}; ` +
          `pass a seed gradient of that shape for a non-scalar output`,
      );
    }
    return new Variable(full(root.shape, 1, { dtype: root.dtype }));
  }
  if (typeof seed === 'number') return new Variable(full(root.shape, seed, { dtype: root.dtype }));
  if (!(seed instanceof Variable) && !(seed instanceof Tensor))
    throw argumentError('backward', 'seed', 'a Variable, a Tensor or a number', seed);
  const s = asVariable('backward', seed, 'seed');
  if (!shapesEqual(s.shape, root.shape)) {
    throw new ShapeError(
      `backward: seed of shape ${fmtShape(s.shape)} does not match the output's shape ${fmtShape(root.shape)}`,
    );
  }
  return s;
}

/**
 * The reverse pass. Returns the gradient of every variable reached (by identity). Broadcast
 * gradients are reduced to each input's shape here, once, so no op's rule has to.
 */
function runBackward(
  root: Variable,
  seed: Variable | Tensor | number | undefined,
  options: BackwardOptions,
): Map<Variable, Variable> {
  if (!(root instanceof Variable)) throw argumentError('backward', 'output', 'a Variable', root);
  options ??= {};
  if (!root.requiresGrad) {
    throw new ValueError(
      'backward: the output does not require grad (no input of its ' +
        'graph has requiresGrad, or it was computed under noGrad)',
    );
  }
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  const grads = new Map<Variable, Variable>();
  grads.set(root, seedFor(root, seed));
  const order = reverseTopologicalOrder(root);
  withRecording(createGraph, () => {
    for (const v of order) {
      const node = v.node;
      if (node === null) continue;
      const g = grads.get(v);
      if (g === undefined) continue;
      if (node.backward === null) {
        throw new FreedGraphError(
          `backward: the graph through '${node.op}' was freed by an earlier backward(); ` +
            `pass { retainGraph: true } to the first backward to backpropagate twice`,
        );
      }
      const inputs = node.inputs;
      const needs: boolean[] = [];
      for (let i = 0; i < inputs.length; i++) needs.push(inputs[i]!.requiresGrad);
      const inputGrads = node.backward(g, needs);
      for (let i = 0; i < inputs.length; i++) {
        let gi = inputGrads[i];
        if (!needs[i] || gi === null || gi === undefined) continue;
        const x = inputs[i]!;
        if (!shapesEqual(gi.shape, x.shape)) gi = sumToShape(gi, x.shape);
        if (gi.dtype !== x.dtype) gi = cast(gi, x.dtype);
        const previous = grads.get(x);
        grads.set(x, previous === undefined ? gi : add(previous, gi));
      }
      if (!retainGraph) {
        node.backward = null;
        node.inputs = [];
      }
    }
  });
  return grads;
}

/**
 * Accumulates d(root)/d(leaf) into `.grad` of every leaf that requires grad.
 * `seed` defaults to 1 for a single-element output.
 */
export function backward(root: Variable, seed?: Variable | Tensor | number, options: BackwardOptions = {}): void {
  const grads = runBackward(root, seed, options);
  const createGraph = options?.createGraph ?? false;
  withRecording(createGraph, () => {
    for (const [v, g] of grads) {
      if (!v.isLeaf || !v.requiresGrad) continue;
      const gg = createGraph ? g : g.detach();
      v.grad = v.grad === null ? gg : add(v.grad, gg);
    }
  });
}

/**
 * The gradients of `output` with respect to `inputs` (any variables of the graph, not only
 * leaves), without touching `.grad`. An input the output does not depend on gets zeros.
 */
export function gradients(
  output: Variable,
  inputs: readonly Variable[],
  options: BackwardOptions & { seed?: Variable | Tensor | number } = {},
): Variable[] {
  if (!(output instanceof Variable)) throw argumentError('gradients', 'output', 'a Variable', output);
  if (!Array.isArray(inputs)) throw argumentError('gradients', 'inputs', 'an array of Variables', inputs);
  inputs.forEach((x, i) => {
    if (!(x instanceof Variable)) throw argumentError('gradients', `inputs[${i}]`, 'a Variable', x);
  });
  options ??= {};
  const grads = runBackward(output, options.seed, options);
  return inputs.map((x) => grads.get(x) ?? new Variable(full(x.shape, 0, { dtype: x.dtype })));
}
