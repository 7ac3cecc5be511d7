/**
 * Riemannian optimisation (geoopt's RSGD and RAdam, with their published bugs fixed): a
 * `ManifoldParameter` lives on a manifold; the optimisers turn its Euclidean gradient into the
 * Riemannian one, step with the manifold's retraction and carry momentum with its transport.
 * Plain Variables in the same optimiser get the Euclidean update of autograd's SGD/Adam,
 * bit for bit. Group handling, `zeroGrad`, the state dict and the all-or-nothing `step()` (every
 * check first, the `nonFinite` policy, nothing written unless the whole step succeeded, also
 * when a retraction throws) come from autograd's `Optimizer`.
 */
import { Tensor, ValueError, allocate, fmtShape, type TypedArray } from '@hyperconn/tensor';
import { Variable, noGrad, optim } from '@hyperconn/autograd';
import type { Manifold, Tolerance } from './manifold.js';

const {
  adamBiasCorrection,
  adamFirstMoment,
  adamSecondMoment,
  adamUpdate,
  checkAdamHyperParams,
  checkSGDHyperParams,
  l2WeightDecay,
  readValues,
  sgdMomentum,
  writeValues,
} = optim;
/** `Optimizer.requireFiniteUpdate` for one parameter: what the step would write, and its values. */
type FiniteCheck = (what: string, values: ArrayLike<number>) => void;

/**
 * A trainable Variable (requiresGrad) whose value lies on `manifold`: RiemannianSGD and
 * RiemannianAdam keep it there. The initial value is checked with `manifold.check(value, tol)`;
 * a value off the manifold is a ValueError carrying the check's reason.
 */
export class ManifoldParameter extends Variable {
  readonly manifold: Manifold;

  constructor(value: Tensor, manifold: Manifold, options: { name?: string; tol?: Tolerance } = {}) {
    const { ok, reason } = manifold.check(value, options.tol);
    if (!ok)
      throw new ValueError(
        `ManifoldParameter: the initial value of shape ${fmtShape(value.shape)} is not on ${manifold.name}: ${reason}`,
      );
    super(value, { requiresGrad: true, name: options.name });
    this.manifold = manifold;
  }
}

/**
 * One Riemannian step of a ManifoldParameter, prepared: y = R_x(step), and each tangent
 * `carried` state tensor (momentum: new storage owned by the step) replaced by its transport
 * from x to y. p.value is untouched, so a retraction that throws changes nothing; returns the
 * write of y into p.value, for the commit.
 */
function prepareRetraction(
  p: ManifoldParameter,
  step: Float64Array,
  carried: readonly Tensor[],
  check: FiniteCheck,
): () => void {
  check('the Riemannian step', step);
  const x = p.value;
  const y = p.manifold.retract(x, new Tensor(step, [...p.shape]).astype(p.dtype));
  check('the value', y.toTypedArray());
  for (const t of carried) t.assign(p.manifold.transport(x, y, t));
  return () => p.value.assign(y);
}

/**
 * `prepareStep` of both optimisers: every update prepared without recording a graph, then one commit of all the writes.
 */
function prepareEach<H>(
  entries: readonly optim.StepEntry<H>[],
  prepare: (entry: optim.StepEntry<H>) => () => void,
): () => void {
  return noGrad(() => {
    const writes = entries.map(prepare);
    return () =>
      writes.forEach((write) => {
        write();
      });
  });
}

// ---------------------------------------------------------------------------------------------
// Riemannian SGD

type SGDHyperParams = optim.SGDHyperParams;
/**
 * Per-parameter state of `RiemannianSGD`, kept only when momentum ≠ 0: the momentum buffer (the
 * parameter's shape and dtype; for a ManifoldParameter, tangent at its current value).
 */
export type RiemannianSGDState = { momentumBuffer: Tensor };

/**
 * Riemannian SGD (Bonnabel 2013; geoopt's RiemannianSGD) with PyTorch's momentum semantics.
 *
 * For a ManifoldParameter x with Euclidean gradient G: d = egradToRgrad(x, G); with momentum,
 * b ← d on the first step and b ← μ·b + (1 − dampening)·d after, and the direction is b (or
 * d + μ·b with Nesterov); then x ← R_x(−lr·direction) and b ← transport(x, x_new, b).
 * Plain Variables get autograd's SGD update exactly (d = G + weightDecay·p).
 *
 * weightDecay applies to plain parameters only: on a manifold, decay towards 0 is not a
 * direction (its tangent part is zero on the Stiefel manifold and arbitrary elsewhere).
 * `lr` has no default: a good step size depends on the manifold's scale.
 */
export class RiemannianSGD extends optim.Optimizer<SGDHyperParams, RiemannianSGDState> {
  constructor(
    params: optim.ParamsArg<SGDHyperParams>,
    options: Partial<SGDHyperParams> & optim.OptimizerOptions & { lr: number },
  ) {
    super(
      'RiemannianSGD',
      params,
      { lr: options.lr, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
      options,
      ['momentumBuffer'],
    );
  }

  protected checkHyperParams(group: SGDHyperParams, g: number): void {
    checkSGDHyperParams('RiemannianSGD', group, g);
  }

  protected prepareStep(entries: readonly optim.StepEntry<SGDHyperParams>[]): () => void {
    return prepareEach(entries, (entry) => this.prepareUpdate(entry));
  }

  private prepareUpdate({ p, grad: g, gradValues: gv, group, label }: optim.StepEntry<SGDHyperParams>): () => void {
    const { lr, weightDecay, momentum, dampening, nesterov } = group;
    const old = this.state.get(p);
    // the old buffer is only read; the new one (the parameter's dtype) is committed only once
    // the whole step has succeeded
    const b0 = momentum === 0 || old === undefined ? null : readValues(old.momentumBuffer);
    const buffer = momentum === 0 ? null : new Tensor(allocate(p.dtype, p.size), [...p.shape]);
    const check: FiniteCheck = (what, values) => this.requireFiniteUpdate(label, what, values, p.shape);
    const commitState = (): void => {
      if (buffer !== null) this.state.set(p, { momentumBuffer: buffer });
    };
    // autograd's SGD momentum, element by element, in float64 scratch space
    const direction = (d: Float64Array): void => {
      if (buffer === null) return;
      for (let i = 0; i < d.length; i++) d[i] = sgdMomentum(i, d[i]!, buffer.data, b0, momentum, dampening, nesterov);
    };
    if (p instanceof ManifoldParameter) {
      const d = Float64Array.from(p.manifold.egradToRgrad(p.value, g).toTypedArray());
      direction(d);
      const writeValue = prepareRetraction(
        p,
        d.map((v) => -lr * v),
        buffer === null ? [] : [buffer],
        check,
      );
      if (buffer !== null) check("the state 'momentumBuffer'", buffer.data);
      return () => {
        writeValue();
        commitState();
      };
    }
    const w0 = readValues(p.value);
    const w = allocate(p.dtype, w0.length);
    const d = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) d[i] = l2WeightDecay(gv[i]!, weightDecay, w0[i]!);
    direction(d);
    for (let i = 0; i < w.length; i++) w[i] = w0[i]! - lr * d[i]!;
    check('the value', w);
    if (buffer !== null) check("the state 'momentumBuffer'", buffer.data);
    return () => {
      writeValues(p, w);
      commitState();
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Riemannian Adam

/**
 * One `RiemannianAdam` group's settings: autograd's Adam ones plus `amsgrad`. Defaults: betas
 * `[0.9, 0.999]`, eps 1e-8, weightDecay 0, amsgrad false; `lr` has none.
 */
export interface RiemannianAdamHyperParams extends optim.AdamHyperParams {
  /** Use the running maximum of the second moment (Reddi et al. 2018). */
  amsgrad: boolean;
}
/**
 * Per-parameter state of `RiemannianAdam`: the step count and three tensors of the parameter's
 * shape and dtype. For a ManifoldParameter, `expAvg` is tangent at its current value and
 * `expAvgSq`, `maxExpAvgSq` hold one value per matrix, repeated over its entries.
 */
export type RiemannianAdamState = { step: number; expAvg: Tensor; expAvgSq: Tensor; maxExpAvgSq: Tensor };

/**
 * Riemannian Adam (Bécigneul & Ganea, ICLR 2019; geoopt's RiemannianAdam), per parameter:
 *
 *     t ← t + 1                                   (once per step)
 *     r = egradToRgrad(x, G)
 *     m ← β₁m + (1 − β₁) r                        (m is tangent at x)
 *     v ← β₂v + (1 − β₂) ‖r‖²_x                   (one number per matrix: the metric norm)
 *     x_new = R_x(−(lr/(1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)),   m ← transport(x, x_new, m)
 *
 * eps is added after the bias-corrected square root and is not scaled by the bias correction
 * (PyTorch's Adam; older geoopt scaled it). With amsgrad the denominator uses max(v) so far.
 *
 * Second moment: the squared metric norm of each matrix's Riemannian gradient, not the
 * element-wise square. Element-wise squares are coordinates, not geometry (they are not
 * invariant under isometries, and with the Fisher metric they ignore the metric), and they
 * would rescale m entry by entry, so the step would leave the tangent space. With one number
 * per matrix, the step is m times a positive scalar: tangent, and the retraction sees exactly
 * the direction of the momentum. The step then has metric norm about lr per matrix (Adam's
 * element-wise form moves each entry by about lr). `expAvgSq` is stored with the parameter's
 * shape (each matrix's value repeated over its entries), so the state dict has Adam's layout.
 *
 * Plain Variables get autograd's Adam update exactly (L2 weight decay added to the gradient,
 * element-wise second moment; amsgrad as PyTorch). weightDecay applies to plain parameters only.
 */
export class RiemannianAdam extends optim.Optimizer<RiemannianAdamHyperParams, RiemannianAdamState> {
  constructor(
    params: optim.ParamsArg<RiemannianAdamHyperParams>,
    options: Partial<RiemannianAdamHyperParams> & optim.OptimizerOptions & { lr: number },
  ) {
    super(
      'RiemannianAdam',
      params,
      { lr: options.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false },
      options,
      ['step', 'expAvg', 'expAvgSq', 'maxExpAvgSq'],
    );
  }

  protected checkHyperParams(group: RiemannianAdamHyperParams, g: number): void {
    checkAdamHyperParams('RiemannianAdam', group, g);
    const { amsgrad } = group;
    if (typeof amsgrad !== 'boolean')
      throw new ValueError(`RiemannianAdam: amsgrad (group ${g}) must be a boolean, got ${JSON.stringify(amsgrad)}`);
  }

  protected prepareStep(entries: readonly optim.StepEntry<RiemannianAdamHyperParams>[]): () => void {
    return prepareEach(entries, (entry) => this.prepareUpdate(entry));
  }

  private prepareUpdate({
    p,
    grad: g,
    gradValues: gv,
    group,
    label,
  }: optim.StepEntry<RiemannianAdamHyperParams>): () => void {
    const { lr, weightDecay, betas, eps, amsgrad } = group;
    const [beta1, beta2] = betas;
    const old = this.state.get(p);
    const n = p.size;
    // the old state is only read; the new one (new storage, the parameter's dtype) is committed
    // only once the whole step has succeeded
    const read = (t: Tensor | undefined): TypedArray => (t === undefined ? allocate(p.dtype, n) : readValues(t));
    const [m0, v0, vMax0] = [read(old?.expAvg), read(old?.expAvgSq), read(old?.maxExpAvgSq)];
    const fresh = (): Tensor => new Tensor(allocate(p.dtype, n), [...p.shape]);
    const s: RiemannianAdamState = {
      step: (old?.step ?? 0) + 1,
      expAvg: fresh(),
      expAvgSq: fresh(),
      maxExpAvgSq: fresh(),
    };
    const check: FiniteCheck = (what, values) => this.requireFiniteUpdate(label, what, values, p.shape);
    const checkState = (): void => {
      check("the state 'expAvg'", s.expAvg.data);
      check("the state 'expAvgSq'", s.expAvgSq.data);
      check("the state 'maxExpAvgSq'", s.maxExpAvgSq.data);
    };
    const m = s.expAvg.data;
    const v = s.expAvgSq.data;
    const vMax = s.maxExpAvgSq.data;
    const bias = adamBiasCorrection(lr, betas, s.step);
    // autograd's Adam rules: moments stored in the parameter's dtype, then read back; the second
    // moment's increment is (1 − β₂)·g·h, with (g, h) = (‖r‖²_x, 1) on a manifold and (g, g) off it
    const moments = (i: number, gi: number, g2: number, h2: number): number => {
      m[i] = adamFirstMoment(m0[i]!, beta1, gi);
      v[i] = adamSecondMoment(v0[i]!, beta2, g2, h2);
      vMax[i] = Math.max(vMax0[i]!, v[i]!);
      return adamUpdate(m[i]!, amsgrad ? vMax[i]! : v[i]!, bias, eps);
    };
    if (p instanceof ManifoldParameter) {
      const x = p.value;
      const r = p.manifold.egradToRgrad(x, g);
      const rv = r.toTypedArray();
      const normSq = p.manifold.inner(x, r, r).toTypedArray();
      const perMatrix = p.manifold.shape[0] * p.manifold.shape[1];
      const step = new Float64Array(rv.length);
      for (let i = 0; i < rv.length; i++) step[i] = -moments(i, rv[i]!, normSq[Math.floor(i / perMatrix)]!, 1);
      const writeValue = prepareRetraction(p, step, [s.expAvg], check);
      checkState();
      return () => {
        writeValue();
        this.state.set(p, s);
      };
    }
    const w0 = readValues(p.value);
    const w = allocate(p.dtype, n);
    for (let i = 0; i < n; i++) {
      const gi = l2WeightDecay(gv[i]!, weightDecay, w0[i]!);
      w[i] = w0[i]! - moments(i, gi, gi, gi);
    }
    check('the value', w);
    checkState();
    return () => {
      writeValues(p, w);
      this.state.set(p, s);
    };
  }
}
