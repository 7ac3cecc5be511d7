/**
 * Invariant 10: autodiff through a whole layer, branch included, agrees with central finite
 * differences (float64, order 1) with respect to the input, the branch weights and every layer
 * parameter; and training reaches every parameter.
 */
import { describe, expect, it } from 'vitest';
import { abs, matrixNorm, Random, tensor, type Tensor } from '@hyperconn/tensor';
import { sum, mul, variable } from '@hyperconn/autograd';
import {
  HCLayer,
  type SHCPowerLayer,
  VARIANTS,
  type HyperConnection,
  type HyperConnectionOptions,
  type Variant,
} from '../src/index';
import { randomLayer, randomState, rmsNormLoop, tanhBranch, vecMat, gradcheckLayer } from './layer-helpers';

/** gradcheck of X′ w.r.t. X [1,2,n,C], the branch's W [C,C] and every parameter of the layer. */
function checkLayer(layer: HyperConnection, seed: number): void {
  const rng = new Random(seed);
  const x = randomState(rng, [1, 2, layer.n, layer.dim], 1.5);
  const w = rng.normal([layer.dim, layer.dim]);
  gradcheckLayer(layer, x, w, tanhBranch);
}

const SMALL: HyperConnectionOptions = { n: 3, dim: 3, layerIndex: 1, sinkhornIters: 3, powerIters: 3 };

describe('10. gradients through a whole layer (gradcheck, float64)', () => {
  for (const variant of VARIANTS) {
    it(`${variant}: input, branch weights and every parameter`, () => {
      checkLayer(randomLayer(variant, SMALL, 3, 0.5), 3);
      // n = 2 exercises sHC without rotations and mHC-lite's 2 permutations
      if (variant !== 'residual') checkLayer(randomLayer(variant, { ...SMALL, n: 2, dim: 2 }, 4, 0.5), 4);
      // KromHC at n = 3 is one factor (mHC-lite's map); n = 4 goes through the Kronecker product 2 ⊗ 2
      if (variant === 'kromhc') checkLayer(randomLayer(variant, { ...SMALL, n: 4, dim: 2 }, 5, 0.5), 5);
    });
  }

  it('hc: static, and dynamic without tanh', () => {
    checkLayer(randomLayer('hc', { ...SMALL, dynamic: false }, 5, 0.5), 5);
    checkLayer(randomLayer('hc', { ...SMALL, tanh: false }, 6, 0.5), 6);
  });

  it('shcPower: with the normalisation active (σ̂ > 1) and inactive (σ̂ < 1) on every token', () => {
    /** σ_max(Ẽ) per token by loops and an exact SVD, Ẽ = mat(RMSNorm(vec X)·W_res + c). */
    const sigmas = (layer: SHCPowerLayer, x: Tensor): number[] => {
      const n = layer.n;
      const m = n - 1;
      const size = n * layer.dim;
      const xs = x.toTypedArray();
      return [0, 1].map((token) => {
        const v = rmsNormLoop(
          xs.subarray(token * size, (token + 1) * size),
          layer.norm.weight.value.toTypedArray(),
          1e-6,
        );
        const z = vecMat(v, layer.resWeight.value);
        const c = layer.resBias.value.toTypedArray();
        return matrixNorm(
          tensor(
            Array.from(z, (zi, i) => zi + c[i]!),
            { shape: [m, m] },
          ),
          2,
        ).item();
      });
    };
    for (const [factor, active] of [
      [3, true],
      [0.2, false],
    ] as const) {
      const layer = randomLayer('shcPower', SMALL, 7, 0.3) as SHCPowerLayer;
      layer.resBias.value.assign(mul(layer.resBias.value, factor).value);
      layer.resWeight.value.assign(mul(layer.resWeight.value, 0.1).value);
      const x = randomState(new Random(7), [1, 2, 3, 3], 1.5);
      for (const s of sigmas(layer, x)) expect(s > 1).toBe(active);
      checkLayer(layer, 7);
    }
  });
});

describe('training reaches every parameter', () => {
  it('after backward every parameter of every variant has a non-zero gradient', () => {
    const rng = new Random(9);
    for (const variant of VARIANTS.filter((v): v is Exclude<Variant, 'residual'> => v !== 'residual')) {
      const layer = randomLayer(variant, { n: 4, dim: 3, layerIndex: 0 }, 9, 0.3);
      const x = variable(randomState(rng, [2, 2, 4, 3], 1));
      // a random weighting, not the plain sum: 1ᵀH_res = 1ᵀ makes the sum of the streams blind to
      // H_res (its gradient is then exactly 0 for sHC, mHC-lite and KromHC, up to rounding)
      const weights = rng.normal([2, 2, 4, 3]);
      sum(mul(layer.forward(x, tanhBranch(rng.normal([3, 3]))), weights)).backward();
      for (const [name, p] of layer.namedParameters()) {
        expect(p.grad, `${variant}.${name}`).not.toBeNull();
        expect(Math.max(...abs(p.grad!.value).toTypedArray()), `${variant}.${name}`).toBeGreaterThan(0);
      }
    }
  });

  it('HC at init: the dynamic weights get gradients although they start at 0', () => {
    const layer = new HCLayer({ n: 3, dim: 2, layerIndex: 0 });
    const rng = new Random(10);
    sum(layer.forward(variable(randomState(rng, [1, 2, 3, 2], 1)), tanhBranch(rng.normal([2, 2])))).backward();
    expect(Math.max(...abs(layer.resWeight!.grad!.value).toTypedArray())).toBeGreaterThan(0);
  });
});
