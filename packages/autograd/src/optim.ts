/**
 * Optimisers (SGD, Adam, AdamW) with PyTorch's update rules and parameter groups, gradient
 * clipping, and learning-rate schedules. Updates write into each parameter's storage, so the
 * modules that hold the parameters see them without being rebuilt.
 */
import * as T from '@hyperconn/tensor';
import {
  allocate,
  DTypeError,
  fmtIndex,
  fmtShape,
  NonFiniteError,
  shapesEqual,
  ShapeError,
  Tensor,
  ValueError,
  type TypedArray,
} from '@hyperconn/tensor';
import { Variable } from './variable.js';

/** Hyper-parameters every optimiser has; each group may override any hyper-parameter. */
export interface BaseHyperParams {
  lr: number;
  weightDecay: number;
}

/** A group as the user gives it: its parameters and any hyper-parameters that differ from the defaults. */
export type ParamGroupSpec<H> = { params: readonly Variable[] } & Partial<H>;
/** A plain list of parameters (one group), or a list of groups. */
export type ParamsArg<H> = readonly Variable[] | readonly ParamGroupSpec<H>[];
/** A group as the optimiser holds it: every hyper-parameter filled in (mutable, for schedules). */
export type ParamGroup<H> = H & { params: Variable[] };

/** Per-parameter optimiser state: tensors shaped like the parameter, and counters. */
export type ParamState = Record<string, Tensor | number>;

/** A snapshot of an optimiser (PyTorch's layout): parameters are referred to by position across the groups. */
export interface OptimizerStateDict<H> {
  state: Map<number, ParamState>;
  paramGroups: (H & { params: number[] })[];
  /** Steps skipped under `nonFinite: 'skip'`; a dict without it restores 0. */
  skippedSteps?: number;
}

/**
 * What `step()` does when a gradient holds a NaN or ±∞, or when finite inputs give a non-finite
 * update (an overflow): 'throw' (the default) a NonFiniteError, or 'skip' the whole step and
 * count it in `skippedSteps`, as a mixed-precision loss scaler does. Either way no parameter and
 * no optimiser state changes.
 */
export type NonFinitePolicy = 'throw' | 'skip';

/** Options every optimiser takes besides its hyper-parameters. */
export interface OptimizerOptions {
  /** Default 'throw'; see `NonFinitePolicy`. */
  nonFinite?: NonFinitePolicy;
}

/**
 * A parameter that has a gradient, as `Optimizer.prepareStep` receives it: the gradient (its
 * shape checked), the gradient's values in C order (all finite), the group, and the label that
 * names the parameter in messages.
 */
export interface StepEntry<H> {
  p: Variable;
  grad: Tensor;
  gradValues: TypedArray;
  group: ParamGroup<H>;
  label: string;
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Unknown keys (typos such as `weight_decay` from JavaScript callers) would be silently ignored. */
function checkKnownKeys(op: string, where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new ValueError(`${op}: unknown hyper-parameter '${key}' in ${where}; known: ${known.join(', ')}`);
  }
}

/**
 * "NaN at element [1, 0] of shape [2, 3]" for the first non-finite entry of `values` (C order); null if all are finite.
 */
function firstNonFinite(values: ArrayLike<number>, shape: readonly number[]): string | null {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!))
      return `${values[i]} at element ${fmtIndex(i, shape)} of shape ${fmtShape(shape)}`;
  }
  return null;
}

/*
 * NON_FINITE_SENTINEL: the update loops add 0·x for every value they write. 0·x is ±0 for finite x
 * and NaN for ±∞ or NaN, so the sum stays 0 unless some value is not finite (or finite values
 * summed to ∞), and only then are the arrays searched for the element to report: one pass fewer
 * per array on every clean step.
 */

/** "parameter 'w' (group 0, index 1)" for a named parameter, "parameter 1 of group 0" otherwise. */
function paramLabel(p: Variable, g: number, i: number): string {
  return p.name ? `parameter '${p.name}' (group ${g}, index ${i})` : `parameter ${i} of group ${g}`;
}

/**
 * A tensor's values in C order, without a copy when it is contiguous: read only. Exported for
 * optimisers built on `Optimizer` elsewhere (the Riemannian ones).
 */
export function readValues(t: Tensor): TypedArray {
  return t.isContiguous() ? t.data.subarray(t.offset, t.offset + t.size) : t.toTypedArray();
}

/** The constructor's checks of a group's parameters, repeated by every `step()`; `seen` spans the groups. */
function checkGroupParams(op: string, params: unknown, g: number, seen: Set<Variable>): void {
  if (!Array.isArray(params)) throw new ValueError(`${op}: group ${g} has no params array`);
  for (const p of params) {
    if (!(p instanceof Variable)) throw new ValueError(`${op}: group ${g} holds something that is not a Variable`);
    if (!p.isLeaf)
      throw new ValueError(
        `${op}: can only optimise leaf variables; a parameter in group ${g} was computed by '${p.node!.op}'`,
      );
    if (seen.has(p)) throw new ValueError(`${op}: a parameter appears in more than one place (group ${g})`);
    seen.add(p);
  }
}

function copyState(s: ParamState): ParamState {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Tensor ? v.clone() : v]));
}

/**
 * Runs `update` on the parameter's elements (C order) in its own storage, so references to
 * `p.value` stay valid (a non-contiguous value is updated through a copy and written back).
 * Exported for optimisers built on `Optimizer` elsewhere (the Riemannian ones).
 */
export function updateInPlace(p: Variable, update: (values: TypedArray) => void): void {
  const t = p.value;
  if (t.isContiguous()) {
    update(t.data.subarray(t.offset, t.offset + t.size));
    return;
  }
  const values = t.toTypedArray();
  update(values);
  t.assign(new Tensor(values, [...t.shape]));
}

/** Writes `values` (C order) into the parameter's own storage (see `updateInPlace`). */
export function writeValues(p: Variable, values: ArrayLike<number>): void {
  updateInPlace(p, (w) => w.set(values));
}

/**
 * The gradient of `p` (which must have one), after checking that its shape is p's: ShapeError naming `op` otherwise.
 */
export function checkedGrad(op: string, p: Variable): Tensor {
  const g = p.grad!.value;
  if (!shapesEqual(g.shape, p.shape)) {
    throw new ShapeError(
      `${op}: gradient of shape ${fmtShape(g.shape)} does not match its parameter's shape ${fmtShape(p.shape)}`,
    );
  }
  return g;
}

/** ValueError `${op}: ${name} must be finite and ≥ 0` unless `value` is. */
export function checkNonNegative(op: string, name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0))
    throw new ValueError(`${op}: ${name} must be finite and ≥ 0, got ${value}`);
}

/**
 * The base of the optimisers: parameter groups with their own hyper-parameters, per-parameter
 * state, `zeroGrad`, a state dict that round-trips exactly, and an all-or-nothing `step()` that
 * checks everything first. Subclasses implement `prepareStep`.
 */
export abstract class Optimizer<H extends BaseHyperParams, S extends ParamState> {
  readonly paramGroups: ParamGroup<H>[];
  protected readonly state = new Map<Variable, S>();
  /** What `step()` does with a non-finite gradient or update (see `NonFinitePolicy`). */
  readonly nonFinite: NonFinitePolicy;
  private readonly hyperKeys: readonly string[];
  private skipped = 0;

  /**
   * `defaults`: every hyper-parameter's default, overridden by the user's `options`, then by
   * each group's own values; `stateKeys`: the keys of every parameter's state.
   */
  protected constructor(
    protected readonly opName: string,
    params: ParamsArg<H>,
    defaults: H,
    allOptions: Partial<H> & OptimizerOptions,
    private readonly stateKeys: readonly string[],
  ) {
    const { nonFinite = 'throw', ...options } = allOptions;
    if (nonFinite !== 'throw' && nonFinite !== 'skip')
      throw new ValueError(`${opName}: nonFinite must be 'throw' or 'skip', got ${JSON.stringify(nonFinite)}`);
    this.nonFinite = nonFinite;
    const known = Object.keys(defaults);
    this.hyperKeys = known;
    checkKnownKeys(opName, 'the options', options, known);
    const specs: readonly ParamGroupSpec<H>[] =
      params.length > 0 && params.every((p) => p instanceof Variable)
        ? [{ params: params as readonly Variable[] } as ParamGroupSpec<H>]
        : (params as readonly ParamGroupSpec<H>[]);
    if (specs.length === 0) throw new ValueError(`${opName}: got an empty parameter list`);
    const seen = new Set<Variable>();
    this.paramGroups = specs.map((spec, g) => {
      checkGroupParams(opName, spec.params, g, seen);
      const { params: groupParams, ...overrides } = spec;
      checkKnownKeys(opName, `group ${g}`, overrides, known);
      const group = {
        ...defaults,
        ...definedOnly(options as Partial<H>),
        ...definedOnly(overrides),
        params: [...groupParams],
      } as ParamGroup<H>;
      this.validateGroup(group, g);
      return group;
    });
  }

  private validateGroup(group: ParamGroup<H>, g: number): void {
    checkNonNegative(this.opName, `lr (group ${g})`, group.lr);
    checkNonNegative(this.opName, `weightDecay (group ${g})`, group.weightDecay);
    this.checkHyperParams(group, g);
  }

  /** Throws a ValueError for a hyper-parameter outside its domain. */
  protected abstract checkHyperParams(group: H, index: number): void;

  /** Steps skipped under `nonFinite: 'skip'` (saved in and restored from the state dict). */
  get skippedSteps(): number {
    return this.skipped;
  }

  /**
   * One update of every parameter that has a gradient, all or nothing. First, as in the
   * constructor, every group's hyper-parameters (ValueError naming the group and the
   * hyper-parameter) and parameters are checked, then each parameter that has a gradient (a
   * non-finite value: NonFiniteError) and its gradient's shape (ShapeError). A gradient with a
   * NaN or ±∞, or an update that is not finite although its inputs are, then throws a
   * NonFiniteError or, with `nonFinite: 'skip'`, skips the step and counts it. The update is
   * computed into new storage and written only once all of it has succeeded, so a step that
   * throws or is skipped leaves every parameter and all state bit-identical.
   */
  step(): void {
    const entries = this.checkStep();
    let commit: () => void;
    try {
      for (const { grad, gradValues, label } of entries) {
        const bad = firstNonFinite(gradValues, grad.shape);
        if (bad !== null)
          throw new NonFiniteError(
            `${this.opName}: the gradient of ${label} is not finite: ${bad}; nothing was changed`,
          );
      }
      commit = this.prepareStep(entries);
    } catch (e) {
      if (!(e instanceof NonFiniteError) || this.nonFinite !== 'skip') throw e;
      this.skipped += 1;
      return;
    }
    commit();
  }

  /**
   * Computes the whole step into new storage without changing any parameter or state, and
   * returns the function that writes it (which must not throw). `entries` are the parameters
   * that have a gradient, already checked; a NonFiniteError thrown here (see
   * `requireFiniteUpdate`) is handled by the `nonFinite` policy, any other error propagates.
   */
  protected abstract prepareStep(entries: readonly StepEntry<H>[]): () => void;

  /**
   * For `prepareStep`: a NonFiniteError unless every entry of `values`, what the step would
   * write as `what` of the parameter `label`, is finite. The inputs are finite by then, so this
   * is an overflow (or 0/0, as Adam's with eps 0 and a zero gradient).
   */
  protected requireFiniteUpdate(
    label: string,
    what: string,
    values: ArrayLike<number>,
    shape: readonly number[],
  ): void {
    const bad = firstNonFinite(values, shape);
    if (bad !== null) {
      throw new NonFiniteError(
        `${this.opName}: the update of ${label} is not finite although its inputs ` +
          `are (an overflow): ${what} would hold ${bad}; nothing was changed`,
      );
    }
  }

  /** The checks `step()` makes before computing anything; returns the parameters that have a gradient. */
  private checkStep(): StepEntry<H>[] {
    const seen = new Set<Variable>();
    this.paramGroups.forEach((group, g) => {
      const { params, ...hyper } = group;
      checkKnownKeys(this.opName, `group ${g}`, hyper, this.hyperKeys);
      checkGroupParams(this.opName, params, g, seen);
      this.validateGroup(group, g);
    });
    const entries: StepEntry<H>[] = [];
    this.paramGroups.forEach((group, g) => {
      group.params.forEach((p, i) => {
        if (p.grad === null) return;
        const label = paramLabel(p, g, i);
        const bad = firstNonFinite(readValues(p.value), p.shape);
        // not subject to the policy: skipping would skip every later step as well
        if (bad !== null)
          throw new NonFiniteError(
            `${this.opName}: the value of ${label} is not finite: ${bad}; no step can start from it`,
          );
        const grad = p.grad.value;
        if (!shapesEqual(grad.shape, p.shape)) {
          throw new ShapeError(
            `${this.opName}: the gradient of ${label} has shape ` +
              `${fmtShape(grad.shape)}, the parameter ${fmtShape(p.shape)}`,
          );
        }
        entries.push({ p, grad, gradValues: readValues(grad), group, label });
      });
    });
    return entries;
  }

  /** Clears `.grad` of every parameter (to null, as PyTorch's default). */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const p of group.params) p.zeroGrad();
  }

  /** A deep copy of the state and the groups' hyper-parameters. */
  stateDict(): OptimizerStateDict<H> {
    const state = new Map<number, ParamState>();
    const paramGroups: (H & { params: number[] })[] = [];
    let index = 0;
    for (const { params, ...hyper } of this.paramGroups) {
      const ids: number[] = [];
      for (const p of params) {
        const s = this.state.get(p);
        if (s !== undefined) state.set(index, copyState(s));
        ids.push(index++);
      }
      paramGroups.push({ ...(hyper as unknown as H), params: ids });
    }
    return { state, paramGroups, skippedSteps: this.skipped };
  }

  /**
   * Restores a `stateDict` into an optimiser over the same parameters (same group sizes, same
   * shapes): hyper-parameters, counters, moments and `skippedSteps`. Validated completely
   * before any change; a non-finite state entry is a NonFiniteError.
   */
  loadStateDict(dict: OptimizerStateDict<H>): void {
    const op = `${this.opName}.loadStateDict`;
    const skippedSteps = dict.skippedSteps ?? 0;
    if (!Number.isSafeInteger(skippedSteps) || skippedSteps < 0)
      throw new ValueError(`${op}: skippedSteps must be a non-negative integer, got ${skippedSteps}`);
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new ValueError(
        `${op}: the dict has ${dict.paramGroups.length} parameter groups, the optimiser ${this.paramGroups.length}`,
      );
    }
    const params: Variable[] = [];
    dict.paramGroups.forEach((saved, g) => {
      const group = this.paramGroups[g]!;
      if (saved.params.length !== group.params.length) {
        throw new ValueError(
          `${op}: group ${g} has ${saved.params.length} parameters ` +
            `in the dict, ${group.params.length} in the optimiser`,
        );
      }
      const keys = Object.keys(group).filter((k) => k !== 'params');
      const savedKeys = Object.keys(saved).filter((k) => k !== 'params');
      if (keys.length !== savedKeys.length || keys.some((k) => !savedKeys.includes(k))) {
        throw new ValueError(
          `${op}: group ${g} has hyper-parameters {${savedKeys.join(', ')}} ` +
            `in the dict, {${keys.join(', ')}} in the optimiser`,
        );
      }
      this.validateGroup({ ...saved, params: group.params }, g);
      params.push(...group.params);
    });
    const state = new Map<Variable, S>();
    for (const [index, s] of dict.state) {
      const p = params[index];
      if (p === undefined)
        throw new ValueError(`${op}: state for parameter ${index}, but there are ${params.length} parameters`);
      const keys = Object.keys(s);
      if (keys.length !== this.stateKeys.length || this.stateKeys.some((k) => !(k in s))) {
        throw new ValueError(
          `${op}: state of parameter ${index} has keys {${keys.join(', ')}}, expected {${this.stateKeys.join(', ')}}`,
        );
      }
      for (const [key, value] of Object.entries(s)) {
        const bad =
          value instanceof Tensor
            ? firstNonFinite(value.toTypedArray(), value.shape)
            : Number.isFinite(value)
              ? null
              : String(value);
        if (bad !== null) throw new NonFiniteError(`${op}: state '${key}' of parameter ${index} is not finite: ${bad}`);
        if (!(value instanceof Tensor)) continue;
        if (!shapesEqual(value.shape, p.shape)) {
          throw new ShapeError(
            `${op}: state '${key}' of parameter ${index} has shape ` +
              `${fmtShape(value.shape)}, the parameter ${fmtShape(p.shape)}`,
          );
        }
        if (value.dtype !== p.dtype)
          throw new DTypeError(
            `${op}: state '${key}' of parameter ${index} is ${value.dtype}, the parameter ${p.dtype}`,
          );
      }
      state.set(p, copyState(s) as S);
    }
    dict.paramGroups.forEach(({ params: _ids, ...hyper }, g) => {
      Object.assign(this.paramGroups[g]!, hyper);
    });
    this.state.clear();
    for (const [p, s] of state) this.state.set(p, s);
    this.skipped = skippedSteps;
  }
}

// ---------------------------------------------------------------------------------------------
// SGD

/** SGD's hyper-parameters. Defaults: lr 1e-3, momentum 0, dampening 0, nesterov false, weightDecay 0. */
export interface SGDHyperParams extends BaseHyperParams {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}
/**
 * SGD's per-parameter state: the momentum buffer, shaped like the parameter (kept only when
 * momentum ≠ 0).
 */
export type SGDState = { momentumBuffer: Tensor };

/**
 * Stochastic gradient descent with PyTorch's semantics: d = g + wd·p; with momentum,
 * b ← d on the first step and b ← μ·b + (1 − dampening)·d after; the step uses b, or
 * d + μ·b with Nesterov; p ← p − lr·step.
 */
export class SGD extends Optimizer<SGDHyperParams, SGDState> {
  constructor(params: ParamsArg<SGDHyperParams>, options: Partial<SGDHyperParams> & OptimizerOptions = {}) {
    super('SGD', params, { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }, options, [
      'momentumBuffer',
    ]);
  }

  protected checkHyperParams(group: SGDHyperParams, g: number): void {
    checkSGDHyperParams('SGD', group, g);
  }

  protected prepareStep(entries: readonly StepEntry<SGDHyperParams>[]): () => void {
    const writes: (() => void)[] = [];
    for (const { p, gradValues: g, group, label } of entries) {
      const { lr, weightDecay, momentum, dampening, nesterov } = group;
      const old = this.state.get(p);
      // the old values are only read; the new ones go to new arrays of the parameter's dtype (the
      // same rounding as an update in place), written by the commit
      const w0 = readValues(p.value);
      const b0 = momentum === 0 || old === undefined ? null : readValues(old.momentumBuffer);
      const w = allocate(p.dtype, w0.length);
      const b = momentum === 0 ? null : allocate(p.dtype, w0.length);
      let sentinel = 0; // see NON_FINITE_SENTINEL
      for (let i = 0; i < w.length; i++) {
        let d = l2WeightDecay(g[i]!, weightDecay, w0[i]!);
        if (b !== null) {
          d = sgdMomentum(i, d, b, b0, momentum, dampening, nesterov);
          sentinel += 0 * b[i]!;
        }
        w[i] = w0[i]! - lr * d;
        sentinel += 0 * w[i]!;
      }
      if (sentinel !== 0) {
        this.requireFiniteUpdate(label, 'the value', w, p.shape);
        if (b !== null) this.requireFiniteUpdate(label, "the state 'momentumBuffer'", b, p.shape);
      }
      writes.push(() => {
        writeValues(p, w);
        if (b !== null) this.state.set(p, { momentumBuffer: new Tensor(b, [...p.shape]) });
      });
    }
    return () =>
      writes.forEach((write) => {
        write();
      });
  }
}

/**
 * L2 weight decay folded into the gradient, g + weightDecay·w: the rule of SGD and Adam (and of
 * the Riemannian optimisers on plain parameters), one element at a time.
 */
export function l2WeightDecay(g: number, weightDecay: number, w: number): number {
  return g + weightDecay * w;
}

/**
 * PyTorch's SGD momentum for element `i` of direction `d`: stores the new buffer value, b[i] = d
 * on the first step (`b0` null) and μ·b0[i] + (1 − dampening)·d after, and returns the step
 * direction, b[i] or, with Nesterov, d + μ·b[i]. b[i] is read back after the store, so the
 * direction sees the buffer's dtype rounding (as PyTorch's in-place buffer). Shared with
 * RiemannianSGD.
 */
export function sgdMomentum(
  i: number,
  d: number,
  b: TypedArray,
  b0: ArrayLike<number> | null,
  momentum: number,
  dampening: number,
  nesterov: boolean,
): number {
  b[i] = b0 === null ? d : momentum * b0[i]! + (1 - dampening) * d;
  return nesterov ? d + momentum * b[i]! : b[i]!;
}

/** SGD's hyper-parameter checks beyond lr and weightDecay (shared with RiemannianSGD). */
export function checkSGDHyperParams(op: string, group: SGDHyperParams, g: number): void {
  checkNonNegative(op, `momentum (group ${g})`, group.momentum);
  if (!(group.dampening >= 0 && group.dampening <= 1))
    throw new ValueError(`${op}: dampening (group ${g}) must lie in [0, 1], got ${group.dampening}`);
  if (typeof group.nesterov !== 'boolean')
    throw new ValueError(`${op}: nesterov (group ${g}) must be a boolean, got ${JSON.stringify(group.nesterov)}`);
  if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
    throw new ValueError(
      `${op}: Nesterov momentum (group ${g}) needs momentum > 0 and dampening ` +
        `0, got momentum ${group.momentum}, dampening ${group.dampening}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Adam and AdamW

/**
 * Adam's and AdamW's hyper-parameters. Defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8; weightDecay
 * 0 (Adam) or 0.01 (AdamW).
 */
export interface AdamHyperParams extends BaseHyperParams {
  betas: readonly [number, number];
  eps: number;
}
/**
 * Adam's and AdamW's per-parameter state: the step count and the first and second moment estimates,
 * shaped like the parameter.
 */
export type AdamState = { step: number; expAvg: Tensor; expAvgSq: Tensor };

const ADAM_DEFAULTS = { lr: 1e-3, betas: [0.9, 0.999] as const, eps: 1e-8 };
const ADAM_STATE_KEYS = ['step', 'expAvg', 'expAvgSq'] as const;

/**
 * Adam (Kingma & Ba) with PyTorch's arithmetic: per parameter a step counter t and moments
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², then p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps)
 * (eps added after the bias-corrected square root). Weight decay here is L2, added to the
 * gradient (g + wd·p) and so scaled by the adaptive denominator; see AdamW for decoupled decay.
 */
export class Adam extends Optimizer<AdamHyperParams, AdamState> {
  constructor(params: ParamsArg<AdamHyperParams>, options: Partial<AdamHyperParams> & OptimizerOptions = {}) {
    super('Adam', params, { ...ADAM_DEFAULTS, weightDecay: 0 }, options, ADAM_STATE_KEYS);
  }

  protected checkHyperParams(group: AdamHyperParams, g: number): void {
    checkAdamHyperParams('Adam', group, g);
  }

  protected prepareStep(entries: readonly StepEntry<AdamHyperParams>[]): () => void {
    return prepareAdamStep(entries, this.state, false, (...args) => this.requireFiniteUpdate(...args));
  }
}

/**
 * AdamW (Loshchilov & Hutter), as PyTorch: the decay is decoupled from the gradient,
 * p ← p·(1 − lr·wd) before the Adam update, so it is not rescaled by the moments. Default
 * weightDecay 0.01. Put parameters that must not decay in a group with weightDecay 0.
 */
export class AdamW extends Optimizer<AdamHyperParams, AdamState> {
  constructor(params: ParamsArg<AdamHyperParams>, options: Partial<AdamHyperParams> & OptimizerOptions = {}) {
    super('AdamW', params, { ...ADAM_DEFAULTS, weightDecay: 0.01 }, options, ADAM_STATE_KEYS);
  }

  protected checkHyperParams(group: AdamHyperParams, g: number): void {
    checkAdamHyperParams('AdamW', group, g);
  }

  protected prepareStep(entries: readonly StepEntry<AdamHyperParams>[]): () => void {
    return prepareAdamStep(entries, this.state, true, (...args) => this.requireFiniteUpdate(...args));
  }
}

/** Adam's hyper-parameter checks beyond lr and weightDecay (shared with AdamW and RiemannianAdam). */
export function checkAdamHyperParams(op: string, group: AdamHyperParams, g: number): void {
  const { betas, eps } = group;
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) {
    // String, not JSON: JSON shows NaN and Infinity as null
    throw new ValueError(
      `${op}: betas (group ${g}) must be two numbers ` +
        `in [0, 1), got ${Array.isArray(betas) ? `[${betas.map(String).join(', ')}]` : String(betas)}`,
    );
  }
  checkNonNegative(op, `eps (group ${g})`, eps);
}

/** Adam's bias corrections at step `t` (counted from 1): see `adamUpdate`. */
export interface AdamBiasCorrection {
  /** lr/(1 − β₁ᵗ): the step size, with the first moment's correction folded in. */
  stepSize: number;
  /** √(1 − β₂ᵗ): the second moment's correction, applied after its square root. */
  correction2Sqrt: number;
}

/**
 * Adam's bias corrections at step `t` (counted from 1) for `lr` and `betas` (PyTorch's). Shared with RiemannianAdam.
 */
export function adamBiasCorrection(lr: number, betas: readonly [number, number], t: number): AdamBiasCorrection {
  return { stepSize: lr / (1 - betas[0] ** t), correction2Sqrt: Math.sqrt(1 - betas[1] ** t) };
}

/** Adam's first moment: β₁·m + (1 − β₁)·g. Shared with RiemannianAdam. */
export function adamFirstMoment(m: number, beta1: number, g: number): number {
  return beta1 * m + (1 - beta1) * g;
}

/**
 * Adam's second moment: β₂·v + (1 − β₂)·g·h, multiplied left to right as PyTorch's addcmul;
 * h = g for Adam's element-wise g². RiemannianAdam passes a matrix's squared metric norm as g
 * with h = 1 (exact).
 */
export function adamSecondMoment(v: number, beta2: number, g: number, h: number): number {
  return beta2 * v + (1 - beta2) * g * h;
}

/**
 * The magnitude of Adam's update of one element (subtracted from the parameter):
 * stepSize·m / (√v/√(1 − β₂ᵗ) + eps), eps added after the bias-corrected square root and not
 * scaled by it (PyTorch). Shared with RiemannianAdam.
 */
export function adamUpdate(m: number, v: number, bias: AdamBiasCorrection, eps: number): number {
  return (bias.stepSize * m) / (Math.sqrt(v) / bias.correction2Sqrt + eps);
}

/**
 * Adam's (and with `decoupled`, AdamW's) step into new storage: new state objects and new values
 * of each parameter, in the parameter's dtype (the same rounding as updating in place); the old
 * values are only read.
 */
function prepareAdamStep(
  entries: readonly StepEntry<AdamHyperParams>[],
  states: Map<Variable, AdamState>,
  decoupled: boolean,
  requireFinite: (label: string, what: string, values: ArrayLike<number>, shape: readonly number[]) => void,
): () => void {
  const writes: (() => void)[] = [];
  for (const { p, gradValues: g, group, label } of entries) {
    const { lr, weightDecay, betas, eps } = group;
    const [beta1, beta2] = betas;
    const old = states.get(p);
    const w0 = readValues(p.value);
    const n = w0.length;
    const [m0, v0] =
      old === undefined
        ? [allocate(p.dtype, n), allocate(p.dtype, n)]
        : [readValues(old.expAvg), readValues(old.expAvgSq)];
    const [w, m, v] = [allocate(p.dtype, n), allocate(p.dtype, n), allocate(p.dtype, n)];
    const s: AdamState = {
      step: (old?.step ?? 0) + 1,
      expAvg: new Tensor(m, [...p.shape]),
      expAvgSq: new Tensor(v, [...p.shape]),
    };
    const bias = adamBiasCorrection(lr, betas, s.step);
    const l2 = decoupled ? 0 : weightDecay;
    const shrink = decoupled ? 1 - lr * weightDecay : 1;
    let sentinel = 0; // see NON_FINITE_SENTINEL
    for (let i = 0; i < n; i++) {
      const gi = l2WeightDecay(g[i]!, l2, w0[i]!);
      m[i] = adamFirstMoment(m0[i]!, beta1, gi);
      v[i] = adamSecondMoment(v0[i]!, beta2, gi, gi);
      w[i] = w0[i]! * shrink - adamUpdate(m[i]!, v[i]!, bias, eps);
      sentinel += 0 * (w[i]! + m[i]! + v[i]!);
    }
    if (sentinel !== 0) {
      requireFinite(label, 'the value', w, p.shape);
      requireFinite(label, "the state 'expAvg'", m, p.shape);
      // g² overflows above about 1.3e154: refused rather than an ∞ that freezes the entry for good
      requireFinite(label, "the state 'expAvgSq'", v, p.shape);
    }
    writes.push(() => {
      writeValues(p, w);
      states.set(p, s);
    });
  }
  return () =>
    writes.forEach((write) => {
      write();
    });
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping

/** Options of `clipGradNorm`. */
export interface ClipGradNormOptions {
  /**
   * A gradient with a NaN or ±∞: 'throw' (default) a NonFiniteError naming the parameter and
   * the element, or 'skip': return the IEEE norm (NaN if any entry is NaN, else +∞) and leave
   * every gradient as it is, for an optimiser with `nonFinite: 'skip'` to skip the step.
   */
  nonFinite?: NonFinitePolicy;
}

/**
 * Scales the gradients of `params` together so that their joint 2-norm is at most `maxNorm`
 * (by maxNorm / (norm + 1e-6) when it exceeds it, as PyTorch), and returns the norm before
 * clipping. Parameters without a gradient are skipped. The norm is computed scaled by the
 * largest |entry|, so no finite gradients overflow or underflow it (1e155 or 1e-300 entries
 * give their norm to rounding); when the norm itself exceeds the float64 range it is returned
 * as +∞ and the gradients are still scaled correctly (by maxNorm / norm, from the scaled sum).
 * Non-finite gradients: see `ClipGradNormOptions.nonFinite`; they are never scaled, which
 * would silently turn every gradient into NaN or zero.
 */
export function clipGradNorm(params: Iterable<Variable>, maxNorm: number, options: ClipGradNormOptions = {}): number {
  checkNonNegative('clipGradNorm', 'maxNorm', maxNorm);
  const { nonFinite = 'throw' } = options;
  if (nonFinite !== 'throw' && nonFinite !== 'skip')
    throw new ValueError(`clipGradNorm: nonFinite must be 'throw' or 'skip', got ${JSON.stringify(nonFinite)}`);
  const all = [...params];
  const withGrad = all.filter((p) => p.grad !== null);
  const grads = withGrad.map((p) => p.grad!.value.toTypedArray());
  // the IEEE norm of non-finite gradients: NaN if any entry is NaN, else +∞
  const ieeeNorm = grads.some((g) => g.some(Number.isNaN)) ? NaN : Infinity;
  const badIndex = grads.findIndex((g) => !g.every(Number.isFinite));
  if (badIndex >= 0) {
    if (nonFinite === 'skip') return ieeeNorm;
    const p = withGrad[badIndex]!;
    // the position in the caller's list, parameters without a gradient included
    const name = p.name ? `parameter '${p.name}' (index ${all.indexOf(p)})` : `parameter ${all.indexOf(p)}`;
    const bad = firstNonFinite(grads[badIndex]!, p.grad!.shape);
    throw new NonFiniteError(
      `clipGradNorm: the total gradient norm is ${ieeeNorm}: the gradient of ${name} holds ${bad}; nothing was scaled`,
    );
  }
  let largest = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) largest = Math.max(largest, Math.abs(g[i]!));
  if (largest === 0) return 0;
  // Σ (x/largest)² lies in [1, count]: no overflow, and underflow only for terms below eps² of it
  let scaledSum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) scaledSum += (g[i]! / largest) ** 2;
  const ratio = Math.sqrt(scaledSum);
  const norm = largest * ratio;
  // PyTorch's factor; at an overflowing norm the 1e-6 is negligible and maxNorm/norm is formed from the scaled parts
  const scale = Number.isFinite(norm) ? maxNorm / (norm + 1e-6) : maxNorm / largest / ratio;
  if (scale < 1) {
    // fresh gradients rather than writes into the old ones, which may share storage with other tensors
    for (const p of withGrad) p.grad = new Variable(T.mul(p.grad!.value, scale));
  }
  return norm;
}

// ---------------------------------------------------------------------------------------------
// Learning-rate schedules: pure functions from a step (0, 1, …) to a multiplier of the base lr.

/**
 * A step (0, 1, …) ↦ a multiplier of the base lr; `LRScheduler` throws a ValueError unless it is
 * finite and ≥ 0.
 */
export type Schedule = (step: number) => number;

function checkSteps(op: string, name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ValueError(`${op}: ${name} must be a non-negative integer, got ${n}`);
}

/**
 * Rises linearly from 1/(warmupSteps + 1) at step 0 to 1 at step `warmupSteps` and stays
 * there; never 0, so the first step already moves the parameters.
 */
export function linearWarmup(warmupSteps: number): Schedule {
  checkSteps('linearWarmup', 'warmupSteps', warmupSteps);
  return (step) => Math.min(1, (step + 1) / (warmupSteps + 1));
}

/** Half a cosine from 1 at step 0 down to `minFactor` at `totalSteps`, then flat at `minFactor`. */
export function cosineSchedule(totalSteps: number, options: { minFactor?: number } = {}): Schedule {
  checkSteps('cosineSchedule', 'totalSteps', totalSteps);
  const minFactor = options.minFactor ?? 0;
  if (!(minFactor >= 0 && minFactor <= 1))
    throw new ValueError(`cosineSchedule: minFactor must lie in [0, 1], got ${minFactor}`);
  return (step) => {
    const progress = totalSteps === 0 ? 1 : Math.min(step, totalSteps) / totalSteps;
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

/** `linearWarmup(warmupSteps)` for the first steps, then `after` counted from the end of the warm-up. */
export function withWarmup(warmupSteps: number, after: Schedule): Schedule {
  const warmup = linearWarmup(warmupSteps);
  return (step) => (step < warmupSteps ? warmup(step) : after(step - warmupSteps));
}

/** The usual transformer schedule: linear warm-up, then cosine decay until `totalSteps`. */
export function warmupCosine(warmupSteps: number, totalSteps: number, options: { minFactor?: number } = {}): Schedule {
  if (totalSteps < warmupSteps)
    throw new ValueError(`warmupCosine: totalSteps ${totalSteps} is shorter than warmupSteps ${warmupSteps}`);
  return withWarmup(warmupSteps, cosineSchedule(totalSteps - warmupSteps, options));
}

/**
 * Applies a schedule to an optimiser: every group's lr becomes its lr at construction times
 * `schedule(step)`. Construction sets step 0; call `step()` after each `optimizer.step()`.
 * Works with any object that has `paramGroups` with an `lr`.
 */
export class LRScheduler {
  private baseLrs: number[];
  private current = 0;

  constructor(
    readonly optimizer: { readonly paramGroups: readonly { lr: number }[] },
    readonly schedule: Schedule,
  ) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  /** The step whose learning rate is in effect. */
  get lastStep(): number {
    return this.current;
  }

  /** Advances one step: every group's lr becomes its base lr times `schedule(lastStep)`. */
  step(): void {
    this.factorAt(this.current + 1); // a bad factor changes nothing
    this.current += 1;
    this.apply();
  }

  /** The current step and the groups' base learning rates (a copy). */
  stateDict(): { step: number; baseLrs: number[] } {
    return { step: this.current, baseLrs: [...this.baseLrs] };
  }

  /**
   * Restores a `stateDict` and applies its step's lr at once. ValueError if the step is not a
   * non-negative integer, a base learning rate is not finite and ≥ 0, their number differs from
   * the groups', or the schedule gives no valid factor at that step; then nothing changes.
   */
  loadStateDict(dict: { step: number; baseLrs: readonly number[] }): void {
    const op = 'LRScheduler.loadStateDict';
    checkSteps(op, 'step', dict.step);
    if (!Array.isArray(dict.baseLrs) || dict.baseLrs.length !== this.optimizer.paramGroups.length) {
      throw new ValueError(
        `${op}: ${String(dict.baseLrs?.length)} base learning rates ` +
          `for ${this.optimizer.paramGroups.length} parameter groups`,
      );
    }
    dict.baseLrs.forEach((lr, i) => {
      if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0))
        throw new ValueError(`${op}: base learning rate ${i} must be finite and ≥ 0, got ${lr}`);
    });
    this.factorAt(dict.step, op); // before anything changes
    this.current = dict.step;
    this.baseLrs = [...dict.baseLrs];
    this.apply();
  }

  private factorAt(step: number, op = 'LRScheduler'): number {
    const factor = this.schedule(step);
    if (!(Number.isFinite(factor) && factor >= 0))
      throw new ValueError(`${op}: the schedule gave ${factor} at step ${step}`);
    return factor;
  }

  private apply(): void {
    const factor = this.factorAt(this.current);
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.baseLrs[i]! * factor;
    });
  }
}
