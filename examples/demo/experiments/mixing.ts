/**
 * Experiment 3 — expressivity. A stack of hyper-connection layers whose branches output zero,
 * so the only thing that can move information between streams is the product of their H_res,
 * learns a fixed stream mix T from random inputs (loss = mean squared error of ∏H_res·X against
 * T·X, fresh Gaussian tokens every step, Adam). T needs subtraction: every output stream carries
 * the difference of two other streams,
 *
 *     T = ½ ⎡ 1  1 −1  1⎤      e.g.  x₀' = ½(x₁ − x₂) + ½(x₀ + x₃)
 *           ⎢−1  1  1  1⎥
 *           ⎢ 1  1  1 −1⎥
 *           ⎣ 1 −1  1  1⎦
 *
 * T is orthogonal with T1 = 1 and 1ᵀT = 1ᵀ (T = J + a 90° rotation of 1^⊥), so it lies on sHC's
 * set, while the Birkhoff polytope (mHC, mHC-lite: non-negative entries) cannot contain it and
 * HC (unconstrained) can. Claim tested (sHC paper): sHC can express the negative (subtractive)
 * mixing that doubly stochastic residual matrices cannot. The loss is reported relative to the
 * loss of leaving the streams unchanged (T vs I), which is also the residual's loss: with one
 * stream it has nothing to mix. Two floors for the doubly stochastic variants: one fixed matrix
 * (1/3) and one matrix per token (lower; `mixingReference`).
 */
import * as T from '@hyperconn/tensor';
import { Random, tensor, zeros, type Tensor } from '@hyperconn/tensor';
import { mean, noGrad, optim, square, sub, Variable } from '@hyperconn/autograd';
import { createHyperConnection, layerDiagnostics, type HyperConnection, type Variant } from '@hyperconn/hc-layers';
import { kroneckerStaticOptimum, perTokenBirkhoffOptimum, staticBirkhoffOptimum } from '../birkhoff';
import { deriveSeed, type DemoConfig } from '../config';

/** The target stream mix (n = 4). */
export const TARGET_MIX: readonly (readonly number[])[] = [
  [0.5, 0.5, -0.5, 0.5],
  [-0.5, 0.5, 0.5, 0.5],
  [0.5, 0.5, 0.5, -0.5],
  [0.5, -0.5, 0.5, 0.5],
];

/**
 * The lowest relative loss any ONE doubly stochastic matrix (and so any fixed product of them) can
 * reach: for isotropic inputs the relative loss of H is ‖H − T‖²_F / ‖I − T‖²_F, with ‖I − T‖²_F = 4.
 * The minimiser over the Birkhoff polytope is P/3, P the 0/1 pattern of T's positive entries
 * (three per row and column): it satisfies the KKT conditions with multipliers u = v = −1/12
 * on the row and column sums and 2/3 on the four zero entries, and ‖P/3 − T‖²_F = 4/3.
 * mHC and mHC-lite compute a different matrix for every token, so they can go below it: the
 * per-token bound is `mixingReference`'s, computed on the held-out tokens.
 */
export const BIRKHOFF_OPTIMUM = 1 / 3;

export interface MixingResult {
  variant: Variant;
  replicate: number;
  /** Held-out loss divided by the loss of the identity map (1 = learned nothing, 0 = exact). */
  relativeLoss: number;
  /** [step, relative training loss] every few steps. */
  curve: [number, number][];
  /** Mean over the layers of the fraction of negative entries of H_res (held-out tokens). */
  negativeFraction: number;
  /** Mean over the layers of Σ max(0, −H_ij)/n. */
  negativeMass: number;
  /** ∏H_res averaged over the held-out tokens (n×n; the identity for the residual). */
  learnedMix: number[][];
}

/** ∏H_res·X through the stack (branches output zero). */
function forward(layers: readonly HyperConnection[], x: Variable): Variable {
  const zeroBranch = (b: Variable): Variable => new Variable(zeros(b.shape, { dtype: b.dtype }));
  return layers.reduce((h, layer) => layer.forward(h, zeroBranch), x);
}

/** The held-out tokens [1, 4·tokens, n, C] (the same for every variant and replicate). */
function heldOutTokens(config: DemoConfig): Tensor {
  const { dim, tokens } = config.mixing;
  return new Random(deriveSeed(config.seed, 'mixing/eval')).normal([1, 4 * tokens, TARGET_MIX.length, dim], {
    dtype: config.dtype,
  });
}

/** The bounds of the doubly stochastic variants on the held-out tokens, relative to the identity map. */
export interface MixingReference {
  /** The best single doubly stochastic H for all the held-out tokens (≈ 1/3 for many tokens). */
  staticOptimum: number;
  /** The best doubly stochastic H chosen per token: the floor of any input-dependent Birkhoff map. */
  perTokenOptimum: number;
  /** A certified bound on perTokenOptimum − the true optimum (the solver's duality gaps, relative). */
  gap: number;
  /**
   * KromHC's floor for one fixed matrix: the best A ⊗ B with A, B 2×2 doubly stochastic ([[a, 1−a],
   * [1−a, a]]), a subset of the polytope, so at least `staticOptimum`.
   */
  kroneckerStaticOptimum: number;
}

export function mixingReference(config: DemoConfig): MixingReference {
  const x = heldOutTokens(config);
  const tokens = (x.astype('float64').toArray() as number[][][][])[0]!;
  const target = TARGET_MIX.map((r) => [...r]);
  const perToken = perTokenBirkhoffOptimum(tokens, target);
  const fixed = staticBirkhoffOptimum(tokens, target);
  return {
    staticOptimum: fixed.relativeLoss,
    perTokenOptimum: perToken.relativeLoss,
    gap: perToken.relativeGap,
    kroneckerStaticOptimum: kroneckerStaticOptimum(tokens, target),
  };
}

export function runMixing(
  variant: Variant,
  replicate: number,
  config: DemoConfig,
  onProgress: (done: number) => void = () => undefined,
): MixingResult {
  const { layers: depth, dim, tokens, steps, lr } = config.mixing;
  const n = TARGET_MIX.length;
  const dtype = config.dtype;
  const target = tensor(TARGET_MIX as number[][], { dtype });
  const heldOut = heldOutTokens(config);
  // the loss of the identity map on the held-out tokens: the unit of every reported loss
  const identityLoss = T.mean(T.square(T.sub(heldOut, T.matmul(target, heldOut)))).item();
  const lossOf = (out: Variable, x: Tensor): Variable => {
    return mean(square(sub(out, T.matmul(target, x))));
  };

  if (variant === 'residual') {
    onProgress(steps);
    return {
      variant,
      replicate,
      relativeLoss: 1,
      curve: [
        [0, 1],
        [steps, 1],
      ],
      negativeFraction: 0,
      negativeMass: 0,
      learnedMix: identity(n),
    };
  }
  const layers = Array.from({ length: depth }, (_, k) =>
    createHyperConnection(variant, { n, dim, layerIndex: k, dtype }),
  );
  const opt = new optim.Adam(
    layers.flatMap((l) => l.parameters()),
    { lr },
  );
  const data = new Random(deriveSeed(config.seed, `mixing/batches/r${replicate}`));
  const curve: [number, number][] = [];
  const every = Math.max(1, Math.floor(steps / 50));
  for (let step = 0; step < steps; step++) {
    const x = data.normal([1, tokens, n, dim], { dtype });
    const loss = lossOf(forward(layers, new Variable(x)), x);
    if (step % every === 0) curve.push([step, loss.item() / identityLoss]);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    onProgress(step + 1);
  }
  return noGrad(() => {
    const relativeLoss = lossOf(forward(layers, new Variable(heldOut)), heldOut).item() / identityLoss;
    curve.push([steps, relativeLoss]);
    // maps of each layer at the tokens it actually sees (the output of the layer before)
    let h = new Variable(heldOut);
    let product: Tensor | null = null;
    let negativeFraction = 0;
    let negativeMass = 0;
    for (const layer of layers) {
      const maps = layer.maps(h);
      const d = layerDiagnostics(maps);
      negativeFraction += d.negativeFraction / depth;
      negativeMass += d.negativeMass / depth;
      product = product === null ? maps.hRes : T.matmul(maps.hRes, product);
      h = forward([layer], h);
    }
    return {
      variant,
      replicate,
      relativeLoss,
      curve,
      negativeFraction,
      negativeMass,
      learnedMix: T.mean(product!.astype('float64'), [0, 1]).toArray() as number[][],
    };
  });
}

const identity = (n: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
