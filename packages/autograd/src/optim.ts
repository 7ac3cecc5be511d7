/**
 * Optimisers (SGD, Adam, AdamW) with PyTorch's update rules and parameter groups, gradient
 * clipping, and learning-rate schedules. Updates write into each parameter's storage, so the
 * modules that hold the parameters see them without being rebuilt.
 */
import { DTypeError, fmtShape, mul as mulTensor, shapesEqual, ShapeError, Tensor, ValueError, zeros, type TypedArray } from '@hyperconn/tensor';
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
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Unknown keys (typos such as `weight_decay` from JavaScript callers) would be silently ignored. */
function checkKnownKeys(op: string, where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ValueError(`${op}: unknown hyper-parameter '${key}' in ${where}; known: ${known.join(', ')}`);
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

/** The gradient of `p` (which must have one), after checking that its shape is p's: ShapeError naming `op` otherwise. */
export function checkedGrad(op: string, p: Variable): Tensor {
  const g = p.grad!.value;
  if (!shapesEqual(g.shape, p.shape)) {
    throw new ShapeError(`${op}: gradient of shape ${fmtShape(g.shape)} does not match its parameter's shape ${fmtShape(p.shape)}`);
  }
  return g;
}

/** ValueError `${op}: ${name} must be finite and ≥ 0` unless `value` is. */
export function checkNonNegative(op: string, name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) throw new ValueError(`${op}: ${name} must be finite and ≥ 0, got ${value}`);
}

/**
 * The base of the optimisers: parameter groups with their own hyper-parameters, per-parameter
 * state, `zeroGrad`, and a state dict that round-trips exactly. Subclasses implement `step`.
 */
export abstract class Optimizer<H extends BaseHyperParams, S extends ParamState> {
  readonly paramGroups: ParamGroup<H>[];
  protected readonly state = new Map<Variable, S>();

  /**
   * `defaults`: every hyper-parameter's default, overridden by the user's `options`, then by
   * each group's own values; `stateKeys`: the keys of every parameter's state.
   */
  protected constructor(
    protected readonly opName: string,
    params: ParamsArg<H>,
    defaults: H,
    options: Partial<H>,
    private readonly stateKeys: readonly string[],
  ) {
    const known = Object.keys(defaults);
    checkKnownKeys(opName, 'the options', options, known);
    const specs: readonly ParamGroupSpec<H>[] =
      params.length > 0 && params.every((p) => p instanceof Variable) ? [{ params: params as readonly Variable[] } as ParamGroupSpec<H>] : (params as readonly ParamGroupSpec<H>[]);
    if (specs.length === 0) throw new ValueError(`${opName}: got an empty parameter list`);
    const seen = new Set<Variable>();
    this.paramGroups = specs.map((spec, g) => {
      if (!Array.isArray(spec.params)) throw new ValueError(`${opName}: group ${g} has no params array`);
      for (const p of spec.params) {
        if (!(p instanceof Variable)) throw new ValueError(`${opName}: group ${g} holds something that is not a Variable`);
        if (!p.isLeaf) throw new ValueError(`${opName}: can only optimise leaf variables; a parameter in group ${g} was computed by '${p.node!.op}'`);
        if (seen.has(p)) throw new ValueError(`${opName}: a parameter appears in more than one place (group ${g})`);
        seen.add(p);
      }
      const { params: groupParams, ...overrides } = spec;
      checkKnownKeys(opName, `group ${g}`, overrides, known);
      const group = { ...defaults, ...definedOnly(options), ...definedOnly(overrides), params: [...groupParams] } as ParamGroup<H>;
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

  /** One update of every parameter that has a gradient. */
  abstract step(): void;

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
    return { state, paramGroups };
  }

  /**
   * Restores a `stateDict` into an optimiser over the same parameters (same group sizes, same
   * shapes): hyper-parameters, counters and moments. Validated completely before any change.
   */
  loadStateDict(dict: OptimizerStateDict<H>): void {
    const op = `${this.opName}.loadStateDict`;
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new ValueError(`${op}: the dict has ${dict.paramGroups.length} parameter groups, the optimiser ${this.paramGroups.length}`);
    }
    const params: Variable[] = [];
    dict.paramGroups.forEach((saved, g) => {
      const group = this.paramGroups[g]!;
      if (saved.params.length !== group.params.length) {
        throw new ValueError(`${op}: group ${g} has ${saved.params.length} parameters in the dict, ${group.params.length} in the optimiser`);
      }
      const keys = Object.keys(group).filter((k) => k !== 'params');
      const savedKeys = Object.keys(saved).filter((k) => k !== 'params');
      if (keys.length !== savedKeys.length || keys.some((k) => !savedKeys.includes(k))) {
        throw new ValueError(`${op}: group ${g} has hyper-parameters {${savedKeys.join(', ')}} in the dict, {${keys.join(', ')}} in the optimiser`);
      }
      this.validateGroup({ ...saved, params: group.params }, g);
      params.push(...group.params);
    });
    const state = new Map<Variable, S>();
    for (const [index, s] of dict.state) {
      const p = params[index];
      if (p === undefined) throw new ValueError(`${op}: state for parameter ${index}, but there are ${params.length} parameters`);
      const keys = Object.keys(s);
      if (keys.length !== this.stateKeys.length || this.stateKeys.some((k) => !(k in s))) {
        throw new ValueError(`${op}: state of parameter ${index} has keys {${keys.join(', ')}}, expected {${this.stateKeys.join(', ')}}`);
      }
      for (const [key, value] of Object.entries(s)) {
        if (!(value instanceof Tensor)) continue;
        if (!shapesEqual(value.shape, p.shape)) {
          throw new ShapeError(`${op}: state '${key}' of parameter ${index} has shape ${fmtShape(value.shape)}, the parameter ${fmtShape(p.shape)}`);
        }
        if (value.dtype !== p.dtype) throw new DTypeError(`${op}: state '${key}' of parameter ${index} is ${value.dtype}, the parameter ${p.dtype}`);
      }
      state.set(p, copyState(s) as S);
    }
    dict.paramGroups.forEach(({ params: _ids, ...hyper }, g) => Object.assign(this.paramGroups[g]!, hyper));
    this.state.clear();
    for (const [p, s] of state) this.state.set(p, s);
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
/** SGD's per-parameter state: the momentum buffer, shaped like the parameter (kept only when momentum ≠ 0). */
export type SGDState = { momentumBuffer: Tensor };

/**
 * Stochastic gradient descent with PyTorch's semantics: d = g + wd·p; with momentum,
 * b ← d on the first step and b ← μ·b + (1 − dampening)·d after; the step uses b, or
 * d + μ·b with Nesterov; p ← p − lr·step.
 */
export class SGD extends Optimizer<SGDHyperParams, SGDState> {
  constructor(params: ParamsArg<SGDHyperParams>, options: Partial<SGDHyperParams> = {}) {
    super('SGD', params, { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }, options, ['momentumBuffer']);
  }

  protected checkHyperParams(group: SGDHyperParams, g: number): void {
    checkNonNegative('SGD', `momentum (group ${g})`, group.momentum);
    if (!(group.dampening >= 0 && group.dampening <= 1)) throw new ValueError(`SGD: dampening (group ${g}) must lie in [0, 1], got ${group.dampening}`);
    if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
      throw new ValueError(`SGD: Nesterov momentum (group ${g}) needs momentum > 0 and dampening 0, got momentum ${group.momentum}, dampening ${group.dampening}`);
    }
  }

  step(): void {
    for (const { params, lr, weightDecay, momentum, dampening, nesterov } of this.paramGroups) {
      for (const p of params) {
        if (p.grad === null) continue;
        const g = checkedGrad('SGD', p).toTypedArray();
        let buffer: TypedArray | null = null;
        let first = false;
        if (momentum !== 0) {
          let s = this.state.get(p);
          first = s === undefined;
          if (s === undefined) {
            s = { momentumBuffer: zeros(p.shape, { dtype: p.dtype }) };
            this.state.set(p, s);
          }
          buffer = s.momentumBuffer.data;
        }
        updateInPlace(p, (w) => {
          for (let i = 0; i < w.length; i++) {
            let d = g[i]! + weightDecay * w[i]!;
            if (buffer !== null) {
              buffer[i] = first ? d : momentum * buffer[i]! + (1 - dampening) * d;
              d = nesterov ? d + momentum * buffer[i]! : buffer[i]!;
            }
            w[i]! -= lr * d;
          }
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Adam and AdamW

/** Adam's and AdamW's hyper-parameters. Defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8; weightDecay 0 (Adam) or 0.01 (AdamW). */
export interface AdamHyperParams extends BaseHyperParams {
  betas: readonly [number, number];
  eps: number;
}
/** Adam's and AdamW's per-parameter state: the step count and the first and second moment estimates, shaped like the parameter. */
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
  constructor(params: ParamsArg<AdamHyperParams>, options: Partial<AdamHyperParams> = {}) {
    super('Adam', params, { ...ADAM_DEFAULTS, weightDecay: 0 }, options, ADAM_STATE_KEYS);
  }

  protected checkHyperParams(group: AdamHyperParams, g: number): void {
    checkAdamHyperParams('Adam', group, g);
  }

  step(): void {
    adamStep(this.paramGroups, this.state, false);
  }
}

/**
 * AdamW (Loshchilov & Hutter), as PyTorch: the decay is decoupled from the gradient,
 * p ← p·(1 − lr·wd) before the Adam update, so it is not rescaled by the moments. Default
 * weightDecay 0.01. Put parameters that must not decay in a group with weightDecay 0.
 */
export class AdamW extends Optimizer<AdamHyperParams, AdamState> {
  constructor(params: ParamsArg<AdamHyperParams>, options: Partial<AdamHyperParams> = {}) {
    super('AdamW', params, { ...ADAM_DEFAULTS, weightDecay: 0.01 }, options, ADAM_STATE_KEYS);
  }

  protected checkHyperParams(group: AdamHyperParams, g: number): void {
    checkAdamHyperParams('AdamW', group, g);
  }

  step(): void {
    adamStep(this.paramGroups, this.state, true);
  }
}

function checkAdamHyperParams(op: string, group: AdamHyperParams, g: number): void {
  const { betas, eps } = group;
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => b >= 0 && b < 1)) {
    throw new ValueError(`${op}: betas (group ${g}) must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
  }
  checkNonNegative(op, `eps (group ${g})`, eps);
}

function adamStep(groups: readonly ParamGroup<AdamHyperParams>[], states: Map<Variable, AdamState>, decoupled: boolean): void {
  const op = decoupled ? 'AdamW' : 'Adam';
  for (const { params, lr, weightDecay, betas, eps } of groups) {
    const [beta1, beta2] = betas;
    for (const p of params) {
      if (p.grad === null) continue;
      const g = checkedGrad(op, p).toTypedArray();
      let s = states.get(p);
      if (s === undefined) {
        s = { step: 0, expAvg: zeros(p.shape, { dtype: p.dtype }), expAvgSq: zeros(p.shape, { dtype: p.dtype }) };
        states.set(p, s);
      }
      s.step += 1;
      const m = s.expAvg.data;
      const v = s.expAvgSq.data;
      const stepSize = lr / (1 - beta1 ** s.step);
      const correction2Sqrt = Math.sqrt(1 - beta2 ** s.step);
      const l2 = decoupled ? 0 : weightDecay;
      const shrink = decoupled ? 1 - lr * weightDecay : 1;
      updateInPlace(p, (w) => {
        for (let i = 0; i < w.length; i++) {
          const gi = g[i]! + l2 * w[i]!;
          m[i] = beta1 * m[i]! + (1 - beta1) * gi;
          v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
          w[i] = w[i]! * shrink - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / correction2Sqrt + eps);
        }
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping

/**
 * Scales the gradients of `params` together so that their joint 2-norm is at most `maxNorm`
 * (by maxNorm / (norm + 1e-6) when it exceeds it, as PyTorch), and returns the norm before
 * clipping. Parameters without a gradient are skipped. Throws a ValueError when the norm is
 * NaN or infinite: scaling would silently turn every gradient into NaN or zero.
 */
export function clipGradNorm(params: Iterable<Variable>, maxNorm: number): number {
  checkNonNegative('clipGradNorm', 'maxNorm', maxNorm);
  const withGrad = [...params].filter((p) => p.grad !== null);
  let sumSquares = 0;
  for (const p of withGrad) for (const x of p.grad!.value.toTypedArray()) sumSquares += x * x;
  const norm = Math.sqrt(sumSquares);
  if (!Number.isFinite(norm)) {
    throw new ValueError(`clipGradNorm: the total gradient norm is ${norm}; refusing to scale non-finite gradients`);
  }
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    // fresh gradients rather than writes into the old ones, which may share storage with other tensors
    for (const p of withGrad) p.grad = new Variable(mulTensor(p.grad!.value, scale));
  }
  return norm;
}

// ---------------------------------------------------------------------------------------------
// Learning-rate schedules: pure functions from a step (0, 1, …) to a multiplier of the base lr.

/** A step (0, 1, …) ↦ a multiplier of the base lr; `LRScheduler` throws a ValueError unless it is finite and ≥ 0. */
export type Schedule = (step: number) => number;

function checkSteps(op: string, name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ValueError(`${op}: ${name} must be a non-negative integer, got ${n}`);
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
  if (!(minFactor >= 0 && minFactor <= 1)) throw new ValueError(`cosineSchedule: minFactor must lie in [0, 1], got ${minFactor}`);
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
  if (totalSteps < warmupSteps) throw new ValueError(`warmupCosine: totalSteps ${totalSteps} is shorter than warmupSteps ${warmupSteps}`);
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
    this.current += 1;
    this.apply();
  }

  /** The current step and the groups' base learning rates (a copy). */
  stateDict(): { step: number; baseLrs: number[] } {
    return { step: this.current, baseLrs: [...this.baseLrs] };
  }

  /**
   * Restores a `stateDict` and applies its step's lr at once. ValueError if the step is not a
   * non-negative integer or the number of base learning rates differs from the groups'.
   */
  loadStateDict(dict: { step: number; baseLrs: readonly number[] }): void {
    checkSteps('LRScheduler.loadStateDict', 'step', dict.step);
    if (dict.baseLrs.length !== this.optimizer.paramGroups.length) {
      throw new ValueError(`LRScheduler.loadStateDict: ${dict.baseLrs.length} base learning rates for ${this.optimizer.paramGroups.length} parameter groups`);
    }
    this.current = dict.step;
    this.baseLrs = [...dict.baseLrs];
    this.apply();
  }

  private apply(): void {
    const factor = this.schedule(this.current);
    if (!(Number.isFinite(factor) && factor >= 0)) throw new ValueError(`LRScheduler: the schedule gave ${factor} at step ${this.current}`);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i]! * factor));
  }
}
