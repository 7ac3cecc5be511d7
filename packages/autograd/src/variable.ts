import {
  argumentError,
  dtypeOption,
  Tensor,
  tensor,
  type DType,
  type NestedArray,
  type SliceSpec,
  type TypedArray,
} from '@hyperconn/tensor';
// A cycle by design: the methods below call the ops, and the ops build Variables. Neither
// module touches the other at load time, so the cycle is safe.
import * as ops from './ops.js';
import { backward as runBackward, type BackwardOptions } from './engine.js';

/**
 * A vector-Jacobian product: given the gradient `g` of the output, the gradients of the inputs
 * (null where `needs[i]` is false or the input gets none). Written in differentiable ops, so
 * running it with recording on builds the graph of the gradient itself (higher order).
 */
export type Backward = (g: Variable, needs: readonly boolean[]) => readonly (Variable | null)[];

/** The record of the op that produced a variable. `backward` is null once the graph is freed. */
export interface GraphNode {
  readonly op: string;
  inputs: readonly Variable[];
  backward: Backward | null;
}

// The one piece of global mutable state: whether ops record a graph (see `noGrad`).
let recording = true;

/** True unless inside `noGrad` (or a backward pass without `createGraph`). */
export function isGradEnabled(): boolean {
  return recording;
}

/** Runs `fn` without recording a graph: results do not require grad. Nests; restores on throw. */
export function noGrad<T>(fn: () => T): T {
  return withRecording(false, fn);
}

/** Runs `fn` with recording switched on or off (used by the engine for createGraph). */
export function withRecording<T>(on: boolean, fn: () => T): T {
  const previous = recording;
  recording = on;
  try {
    return fn();
  } finally {
    recording = previous;
  }
}

/** Options of a new Variable. */
export interface VariableOptions {
  /** Make it a leaf that receives `.grad` from `backward()`. Default false. */
  requiresGrad?: boolean;
  /** A label for the user; the engine does not use it. */
  name?: string;
}

/**
 * A node of the define-by-run graph: a tensor value plus, when it was computed from variables
 * that require grad, the op that made it. Leaves that require grad receive `.grad` from
 * `backward()`.
 */
export class Variable {
  readonly value: Tensor;
  requiresGrad: boolean;
  /** Accumulated gradient (leaves only), itself a Variable so it can be differentiated again. */
  grad: Variable | null = null;
  /** The op that produced this variable; null for leaves and constants. */
  node: GraphNode | null = null;
  name: string | undefined;

  constructor(value: Tensor, options: VariableOptions = {}) {
    if (!(value instanceof Tensor)) throw argumentError('Variable', 'value', 'a Tensor', value);
    this.value = value;
    this.requiresGrad = options?.requiresGrad ?? false;
    this.name = options?.name;
  }

  get shape(): readonly number[] {
    return this.value.shape;
  }
  get dtype(): DType {
    return this.value.dtype;
  }
  get ndim(): number {
    return this.value.ndim;
  }
  get size(): number {
    return this.value.size;
  }
  /** A leaf was created by the user, not computed by an op. */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** The single element; ShapeError unless the value has exactly one element. */
  item(): number {
    return this.value.item();
  }
  /** The value as nested arrays (a number when 0-d). */
  toArray(): NestedArray {
    return this.value.toArray();
  }
  /**
   * The tensor's text with `op=…` (computed) or `requiresGrad` (leaf) added before the closing
   * parenthesis.
   */
  toString(): string {
    const flags = this.node ? `, op=${this.node.op}` : this.requiresGrad ? ', requiresGrad' : '';
    return this.value.toString().replace(/\)$/, `${flags})`);
  }

  /** The same value, cut from the graph. */
  detach(): Variable {
    return new Variable(this.value);
  }

  /** Clears `.grad`. */
  zeroGrad(): void {
    this.grad = null;
  }

  /** Accumulates the gradient of this (single-element, unless `seed` is given) output into the leaves' `.grad`. */
  backward(seed?: Variable | Tensor | number, options: BackwardOptions = {}): void {
    runBackward(this, seed, options);
  }

  // Method forms of the common ops (see ops.ts for the rules).
  /** `this + b`, broadcasting (see `add`). */
  add(b: ops.Input): Variable {
    return ops.add(this, b);
  }
  /** `this − b`, broadcasting (see `sub`). */
  sub(b: ops.Input): Variable {
    return ops.sub(this, b);
  }
  /** `this · b` element-wise, broadcasting (see `mul`). */
  mul(b: ops.Input): Variable {
    return ops.mul(this, b);
  }
  /** `this / b`, broadcasting (see `div`). */
  div(b: ops.Input): Variable {
    return ops.div(this, b);
  }
  /** `this ** b`, broadcasting (see `pow`). */
  pow(b: ops.Input): Variable {
    return ops.pow(this, b);
  }
  /** −this (see `neg`). */
  neg(): Variable {
    return ops.neg(this);
  }
  /** eˣ element-wise (see `exp`). */
  exp(): Variable {
    return ops.exp(this);
  }
  /** Natural log element-wise (see `log`). */
  log(): Variable {
    return ops.log(this);
  }
  /** √x element-wise; the gradient at 0 is +∞ (see `sqrt`). */
  sqrt(): Variable {
    return ops.sqrt(this);
  }
  /** x² element-wise (see `square`). */
  square(): Variable {
    return ops.square(this);
  }
  /** |x| element-wise; subgradient 0 at 0 (see `abs`). */
  abs(): Variable {
    return ops.abs(this);
  }
  /** tanh element-wise (see `tanh`). */
  tanh(): Variable {
    return ops.tanh(this);
  }
  /** 1/(1 + e⁻ˣ) element-wise (see `sigmoid`). */
  sigmoid(): Variable {
    return ops.sigmoid(this);
  }
  /** max(x, 0) element-wise; gradient 0 at 0 (see `relu`). */
  relu(): Variable {
    return ops.relu(this);
  }
  /** Σ over `axes` (default all); see `sum`. */
  sum(axes?: number | readonly number[], keepDims = false): Variable {
    return ops.sum(this, axes, keepDims);
  }
  /** The mean over `axes` (default all); ValueError over zero elements. See `mean`. */
  mean(axes?: number | readonly number[], keepDims = false): Variable {
    return ops.mean(this, axes, keepDims);
  }
  /** The maximum over `axes` (default all); ties share the gradient. See `max`. */
  max(axes?: number | readonly number[], keepDims = false): Variable {
    return ops.max(this, axes, keepDims);
  }
  /** The minimum over `axes` (default all); ties share the gradient. See `min`. */
  min(axes?: number | readonly number[], keepDims = false): Variable {
    return ops.min(this, axes, keepDims);
  }
  /** The matrix product `this @ b` with NumPy semantics for 1-d operands (see `matmul`). */
  matmul(b: Variable | Tensor): Variable {
    return ops.matmul(this, b);
  }
  /** Same elements in C order, new shape (one entry may be -1). See `reshape`. */
  reshape(shape: readonly number[]): Variable {
    return ops.reshape(this, shape);
  }
  /** Output axis i is input axis `axes[i]` (see `permute`). */
  permute(axes: readonly number[]): Variable {
    return ops.permute(this, axes);
  }
  /** Swaps two axes, by default the last two (see `transpose`). */
  transpose(axis0 = -2, axis1 = -1): Variable {
    return ops.transpose(this, axis0, axis1);
  }
  /** The transpose of the last two axes. */
  get mT(): Variable {
    return ops.transpose(this, -2, -1);
  }
  /** Broadcasts to `shape` (see `expand`). */
  expand(shape: readonly number[]): Variable {
    return ops.expand(this, shape);
  }
  /** Drops size-1 axes: all, or the listed ones (ShapeError if one is not size 1). */
  squeeze(axes?: number | readonly number[]): Variable {
    return ops.squeeze(this, axes);
  }
  /** Inserts a size-1 axis at `axis` (numbered in the output). */
  unsqueeze(axis: number): Variable {
    return ops.unsqueeze(this, axis);
  }
  /** All elements along one axis, in C order. */
  flatten(): Variable {
    return ops.flatten(this);
  }
  /** NumPy-style basic slicing, one `SliceSpec` per leading axis (see `slice`). */
  slice(...specs: SliceSpec[]): Variable {
    return ops.slice(this, ...specs);
  }
}

/** A Variable from a tensor, nested arrays or a typed array. */
export function variable(
  values: Tensor | NestedArray | TypedArray,
  options: VariableOptions & { dtype?: DType; shape?: readonly number[] } = {},
): Variable {
  dtypeOption('variable', options); // checked here so that a bad dtype names variable, not tensor
  const t = values instanceof Tensor ? values.astype(options?.dtype ?? values.dtype) : tensor(values, options);
  return new Variable(t, options);
}

/** A leaf that requires grad (a trainable parameter or an input to differentiate). */
export function param(
  values: Tensor | NestedArray | TypedArray,
  options: { dtype?: DType; name?: string } = {},
): Variable {
  return variable(values, { ...options, requiresGrad: true });
}

/**
 * An op's tensor-like argument as a Variable (a Tensor becomes a constant). Anything else is a
 * ValueError naming the op and the argument: the one check of the autograd ops' arguments, so
 * that `add(x, '1')` or `exp(null)` never reach a kernel as a bare TypeError.
 */
export function asVariable(op: string, x: unknown, name = 'x'): Variable {
  if (x instanceof Variable) return x;
  if (x instanceof Tensor) return new Variable(x);
  throw argumentError(op, name, 'a Variable or a Tensor', x);
}

/** As `asVariable`, for the operands of binary ops, where a number stays a number. */
export function asOperand(op: string, x: unknown, name: string): Variable | number {
  if (typeof x === 'number') return x;
  if (x instanceof Variable) return x;
  if (x instanceof Tensor) return new Variable(x);
  throw argumentError(op, name, 'a Variable, a Tensor or a number', x);
}

/**
 * Records the result of an op. When recording is off or no input requires grad, the result is
 * a constant and nothing of the op is kept.
 */
export function record(op: string, value: Tensor, inputs: readonly Variable[], backward: Backward): Variable {
  const out = new Variable(value);
  if (!recording) return out;
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i]!.requiresGrad) {
      out.requiresGrad = true;
      out.node = { op, inputs, backward };
      return out;
    }
  }
  return out;
}
