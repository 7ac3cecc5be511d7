/**
 * Every hyper-connection layer reads X only through RMSNorm (per token for mHC, mHC-lite, sHC
 * and sHC-power, per stream for HC), so its maps are invariant to scaling X by any λ > 0 — as
 * long as the norm itself is: RMSNorm(λx) = λx/√(λ²·mean x² + eps) equals RMSNorm(x) only when
 * eps is negligible against λ²·mean x². Hence:
 *
 * - scaling DOWN (λ = 1e-150, 1e-300 in float64; 1e-18, 1e-30 in float32) is tested with eps = 0:
 *   with the default eps = 1e-6 the eps term dominates there, the normalised token is
 *   ≈ λx/√eps → 0 and the maps legitimately change (all tokens are non-zero: a zero token with
 *   eps = 0 is 0/0, refused by the layer);
 * - scaling UP (1e150, 1e300; 1e18, 1e30) is tested with eps = 0 and with the default eps; with
 *   the default eps the maps at λX must equal those of the eps = 0 layer at X (eps/(λ² mean x²)
 *   is below 1e-40, far under the rounding).
 *
 * Before RMSNorm was scale-safe, x² overflowed or underflowed beyond 1e±154 (float32 1e±19), and
 * the maps there were wrong or non-finite.
 *
 * Two tolerances, both derived:
 *
 * 1. Powers of two, 2^±498 ≈ 1e±150 and 2^±996 ≈ 1e±300 (float64), 2^±60 ≈ 1e±18 and
 *    2^±100 ≈ 1e±30 (float32): bitwise equality. Multiplying by 2^k is exact at these
 *    magnitudes; RMSNorm divides each row by its largest |entry| (which scales by exactly 2^k),
 *    so the normalised rows, and everything computed from them, are the same floats. With the
 *    default eps on the way up, eps/c² (< 1e-300; float32 < 1e-40) is below half an ulp of
 *    mean(w²) ≥ 1/(nC), so it vanishes in the sum as well.
 * 2. The decimal factors themselves: fl(λX) carries one rounding (u = eps/2) per entry, so the
 *    normalised rows differ from those at X by ≤ 4u relative per entry (λx, the row max, the two
 *    divisions). To first order map k then moves by ≤ 4u·S_k with S_k = Σ_j |∂map_k/∂x_j|·|x_j|
 *    (by central differences on a float64 twin), and each of the two evaluations has its own
 *    rounding error, allowed roundingTol(dtype, n) as in invariants.test.ts:
 *    tol_k = 2·4u·S_k + 2·roundingTol (the factor 2 on the first-order term covers second-order
 *    terms and the difference-quotient estimate of S).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { epsOf, mul, Random, tensor, type DType, type Tensor } from '@hyperconn/tensor';
import { createHyperConnection, type HyperConnection, type HyperConnectionOptions, type TokenMaps } from '../src/index';
import { MAX_N, randomLayer, randomState, roundingTol } from './layer-helpers';

type LayerVariant = 'hc' | 'mhc' | 'mhcLite' | 'kromhc' | 'shc' | 'shcPower';
const LAYER_VARIANTS: readonly LayerVariant[] = ['hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'];
const KEYS = ['hRes', 'hPre', 'hPost'] as const;

/**
 * The exponents of the tested scales: 2^±k exactly, and 10^±d as decimal factors. The first pair
 * is the one asked for (1e±150, 1e±18); the second goes where x² itself leaves the range (1e±300,
 * 1e±30), which an RMSNorm that squares unscaled entries cannot survive. Entries of X are N(0, 1),
 * so none of the scaled ones is denormal or infinite (that would need |x| < 1e-8 or > 1e8).
 */
const SCALES: Record<DType, { pow2: number; decimal: number }[]> = {
  float64: [
    { pow2: 498, decimal: 150 },
    { pow2: 996, decimal: 300 },
  ],
  float32: [
    { pow2: 60, decimal: 18 },
    { pow2: 100, decimal: 30 },
  ],
};

interface Setup {
  variant: LayerVariant;
  options: HyperConnectionOptions;
  layer: HyperConnection;
  x: Tensor;
}

const setupArb = (dtype: DType): fc.Arbitrary<Setup> =>
  fc
    .record({
      variant: fc.constantFrom(...LAYER_VARIANTS),
      n: fc.integer({ min: 2, max: 4 }),
      dim: fc.integer({ min: 1, max: 3 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      pScale: fc.constantFrom(0.1, 1, 10),
    })
    .map(({ variant, n: nWanted, dim, seed, pScale }) => {
      const n = Math.min(nWanted, MAX_N[variant]);
      const options: HyperConnectionOptions = { n, dim, layerIndex: seed % 4, eps: 0, dtype };
      // every parameter perturbed, so none is left at an initial 0
      const layer = randomLayer(variant, options, seed, pScale);
      const x = randomState(new Random(seed + 1), [1, 2, n, dim], 1, dtype);
      return { variant, options, layer, x };
    });

/** A layer of the same variant and parameters (cast) with another eps or dtype. */
function twin({ variant, options, layer }: Setup, change: { eps?: number; dtype?: DType }): HyperConnection {
  const dtype = change.dtype ?? options.dtype!;
  const other = createHyperConnection(variant, { ...options, ...change });
  other.loadStateDict(new Map([...layer.stateDict()].map(([name, value]) => [name, value.astype(dtype)])));
  return other;
}

function expectBitwiseEqual(actual: TokenMaps, expected: TokenMaps, what: string): void {
  for (const key of KEYS)
    expect(Array.from(actual[key].toTypedArray()), `${what}: ${key}`).toEqual(Array.from(expected[key].toTypedArray()));
}

/** S_k = Σ_j |∂map_k/∂x_j|·|x_j| for every map entry, by central differences (relative step 2^-20). */
function sensitivity(layer: HyperConnection, x: Tensor): Record<(typeof KEYS)[number], Float64Array> {
  const data = Float64Array.from(x.toTypedArray());
  const base = layer.maps(x);
  const out = {
    hRes: new Float64Array(base.hRes.size),
    hPre: new Float64Array(base.hPre.size),
    hPost: new Float64Array(base.hPost.size),
  };
  for (let j = 0; j < data.length; j++) {
    const h = Math.abs(data[j]!) * 2 ** -20;
    const at = (delta: number): TokenMaps => {
      const moved = Float64Array.from(data);
      moved[j] = moved[j]! + delta;
      return layer.maps(tensor(moved, { shape: x.shape }));
    };
    const [plus, minus] = [at(h), at(-h)];
    for (const key of KEYS) {
      const p = plus[key].toTypedArray();
      const m = minus[key].toTypedArray();
      for (let k = 0; k < out[key].length; k++) out[key][k] += (Math.abs(p[k]! - m[k]!) / (2 * h)) * Math.abs(data[j]!);
    }
  }
  return out;
}

describe('scale invariance of the maps: powers of two, bitwise', () => {
  for (const [dtype, { pow2: k }] of (['float64', 'float32'] as const).flatMap((dt) =>
    SCALES[dt].map((sc) => [dt, sc] as const),
  )) {
    it(`${dtype}: maps(2^±${k}·X) = maps(X) with eps = 0; maps_eps(2^${k}·X) = maps_0(X) (default eps)`, () => {
      fc.assert(
        fc.property(setupArb(dtype), (s) => {
          const reference = s.layer.maps(s.x);
          expectBitwiseEqual(s.layer.maps(mul(s.x, 2 ** k)), reference, `${s.variant} up, eps = 0`);
          expectBitwiseEqual(s.layer.maps(mul(s.x, 2 ** -k)), reference, `${s.variant} down, eps = 0`);
          expectBitwiseEqual(twin(s, { eps: 1e-6 }).maps(mul(s.x, 2 ** k)), reference, `${s.variant} up, eps = 1e-6`);
        }),
        { numRuns: 60 },
      );
    });
  }
});

describe('scale invariance of the maps: decimal factors, within the rounding of λX', () => {
  for (const [dtype, { decimal: d }] of (['float64', 'float32'] as const).flatMap((dt) =>
    SCALES[dt].map((sc) => [dt, sc] as const),
  )) {
    it(`${dtype}: maps(1e±${d}·X) = maps(X) with eps = 0; maps_eps(1e${d}·X) = maps_0(X) (default eps)`, () => {
      const u = epsOf(dtype) / 2;
      fc.assert(
        fc.property(setupArb(dtype), (s) => {
          const reference = s.layer.maps(s.x);
          const n = s.options.n!;
          const sens = sensitivity(twin(s, { dtype: 'float64' }), s.x.astype('float64'));
          const check = (actual: TokenMaps, what: string): void => {
            for (const key of KEYS) {
              const a = actual[key].toTypedArray();
              const e = reference[key].toTypedArray();
              for (let i = 0; i < a.length; i++) {
                const tol = 2 * 4 * u * sens[key][i]! + 2 * roundingTol(dtype, n);
                expect(
                  Math.abs(a[i]! - e[i]!),
                  `${what}: ${key}[${i}] = ${a[i]} vs ${e[i]} (S = ${sens[key][i]})`,
                ).toBeLessThanOrEqual(tol);
              }
            }
          };
          check(s.layer.maps(mul(s.x, Number(`1e${d}`))), `${s.variant} up, eps = 0`);
          check(s.layer.maps(mul(s.x, Number(`1e-${d}`))), `${s.variant} down, eps = 0`);
          check(twin(s, { eps: 1e-6 }).maps(mul(s.x, Number(`1e${d}`))), `${s.variant} up, eps = 1e-6`);
        }),
        { numRuns: 30 },
      );
    });
  }
});
