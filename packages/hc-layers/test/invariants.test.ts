/**
 * The invariants of docs/spec/hc-family.md (numbered as there), as properties over random
 * parameters and states, each against an independent reference: closed forms, loops, exact SVD.
 * Invariant 10 (gradients) is in gradients.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { abs, det, epsOf, eye, Random, svd, tensor, type DType, type Tensor } from '@hyperconn/tensor';
import { matmul, mul, nn, tanh, variable, type Variable } from '@hyperconn/autograd';
import { cayley, helmertBasis, skewFromVector } from '@hyperconn/manifolds';
import { expectClose } from '../../../test/support/assert';
import {
  createHyperConnection,
  expandStreams,
  HCLayer,
  KromHCLayer,
  kromhcFactors,
  MHCLayer,
  MHCLiteLayer,
  SHCLayer,
  SHCPowerLayer,
  VARIANTS,
  type HyperConnection,
  type Variant,
} from '../src/index';
import {
  lexicographicPermutations,
  MAX_N,
  matrices,
  randomLayer,
  randomState,
  referenceUpdate,
  rmsNormLoop,
  roundingTol,
  vecMat,
} from './layer-helpers';

const dtypeArb = fc.constantFrom<DType>('float64', 'float32');
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
/** Parameter perturbation scales, extreme ones included (tanh and sigmoid saturate at 10). */
const paramScaleArb = fc.constantFrom(0.1, 1, 10);
/** State scales: inputs up to ±100 and beyond (N(0,1)·100). */
const stateScaleArb = fc.constantFrom(0.01, 1, 100);

/** Per-token row and column sums and singular values (descending) from an exact float64 SVD. */
function perToken(h: Tensor): { rows: number[][]; cols: number[][]; sigma: number[][] } {
  const ms = matrices(h);
  const s = svd(h.astype('float64')).s;
  const n = h.shape[h.ndim - 1]!;
  const flat = s.toTypedArray();
  return {
    rows: ms.map((m) => m.map((row) => row.reduce((a, b) => a + b, 0))),
    cols: ms.map((m) => m[0]!.map((_, j) => m.reduce((a, row) => a + row[j]!, 0))),
    sigma: ms.map((_, k) => Array.from(flat.subarray(k * n, (k + 1) * n))),
  };
}

function expectAll(values: number[][], expected: number, tol: number, what: string): void {
  values.forEach((vs, k) => {
    vs.forEach((v, i) => {
      expect(Math.abs(v - expected), `${what} ${i} of token ${k} is ${v}`).toBeLessThanOrEqual(tol);
    });
  });
}

/** Every matrix of h doubly stochastic to tol: unit row and column sums, σ_max ≤ 1, entries ≥ 0. */
function expectDoublyStochastic(h: Tensor, tol: number): void {
  const { rows, cols, sigma } = perToken(h);
  expectAll(rows, 1, tol, 'row sum');
  expectAll(cols, 1, tol, 'column sum');
  sigma.forEach((s) => {
    expect(s[0]!).toBeLessThanOrEqual(1 + tol);
  });
  h.toTypedArray().forEach((v) => {
    expect(v).toBeGreaterThanOrEqual(0);
  });
}

describe('1. sHC: H_res·1 = 1, 1ᵀH_res = 1ᵀ, singular values {1} ∪ |s|', () => {
  it('holds for random (also extreme) parameters and states up to ±100, float64 and float32', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        dtypeArb,
        seedArb,
        paramScaleArb,
        stateScaleArb,
        (n, dim, dtype, seed, pScale, xScale) => {
          const layer = randomLayer('shc', { n, dim, layerIndex: seed % 5, dtype }, seed, pScale) as SHCLayer;
          const x = randomState(new Random(seed + 1), [2, 2, n, dim], xScale, dtype);
          const maps = layer.maps(x);
          const tol = roundingTol(dtype, n);
          const { rows, cols, sigma } = perToken(maps.hRes);
          expectAll(rows, 1, tol, 'row sum');
          expectAll(cols, 1, tol, 'column sum');
          expectAll(
            sigma.map((s) => [s[0]!]),
            1,
            tol,
            'σ_max',
          );
          if (dtype === 'float64') {
            // s by loops from the parameters: s = tanh(ρ_S·z_S + c_S), z = RMSNorm(vec X)·W_res
            const m = n - 1;
            const k = (m * (m - 1)) / 2;
            const xs = x.toTypedArray();
            const gain = layer.norm.weight.value.toTypedArray();
            const rho = layer.resScaleS.value.item();
            const c = layer.resBiasS.value.toTypedArray();
            sigma.forEach((singular, token) => {
              const v = rmsNormLoop(xs.subarray(token * n * dim, (token + 1) * n * dim), gain, 1e-6);
              const z = vecMat(v, layer.resWeight.value);
              const zMagnitude = vecMat(v.map(Math.abs), abs(layer.resWeight.value));
              const expected = [
                1,
                ...Array.from({ length: m }, (_, i) => Math.abs(Math.tanh(rho * z[2 * k + i]! + c[i]!))),
              ].sort((a, b) => b - a);
              // the rounding of tanh's argument (≈ eps·|ρ·z|) passes through tanh′ ≤ 1
              const argTol =
                roundingTol('float64', n * dim) *
                (1 +
                  Math.abs(rho) * zMagnitude.reduce((a, b) => Math.max(a, Math.abs(b)), 0) +
                  Math.max(...Array.from(c, Math.abs)));
              expectClose(singular, expected, { rtol: 0, atol: tol + argTol });
            });
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('1′. shcPower (the extension): sums = 1, singular values {1} ∪ σ(Ẽ)/max(1, σ̂)', () => {
  it('holds for random (also extreme) parameters and states up to ±100', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 0, max: 24 }),
        dtypeArb,
        seedArb,
        paramScaleArb,
        stateScaleArb,
        (n, squarings, dtype, seed, pScale, xScale) => {
          const dim = 2;
          const layer = randomLayer(
            'shcPower',
            { n, dim, layerIndex: 0, dtype, powerIters: squarings },
            seed,
            pScale,
          ) as SHCPowerLayer;
          const x = randomState(new Random(seed + 1), [1, 3, n, dim], xScale, dtype);
          const maps = layer.maps(x);
          const tol = roundingTol(dtype, n);
          const { rows, cols, sigma } = perToken(maps.hRes);
          expectAll(rows, 1, tol, 'row sum');
          expectAll(cols, 1, tol, 'column sum');
          expectAll(
            sigma.map((s) => [s[0]!]),
            1,
            tol,
            'σ_max',
          );
          if (dtype === 'float64') {
            // Ẽ by loops, its singular values by an exact SVD; σ̂ lies in [σ_max, m^(1/2^(K+1))·σ_max]
            const m = n - 1;
            const slack = m ** (1 / 2 ** (squarings + 1));
            sigma.forEach((singular, token) => {
              const v = rmsNormLoop(
                x.toTypedArray().subarray(token * n * dim, (token + 1) * n * dim),
                layer.norm.weight.value.toTypedArray(),
                1e-6,
              );
              const z = vecMat(v, layer.resWeight.value);
              const free = tensor(
                Array.from(z, (zi, i) => zi + layer.resBias.value.get(i)),
                { shape: [m, m] },
              );
              const s = Array.from(svd(free).s.toTypedArray());
              const top = s[0]!;
              // the layer's own rounding of Ẽ (≈ eps·Σ|v||W|) moves its singular values by as much
              const magnitude =
                vecMat(v.map(Math.abs), abs(layer.resWeight.value)).reduce((a, b) => Math.max(a, b), 0) +
                Math.max(...Array.from(layer.resBias.value.toTypedArray(), Math.abs));
              const atol = tol + roundingTol('float64', n * dim) * magnitude;
              const low = [1, ...s.map((si) => si / Math.max(1, top * slack))].sort((a, b) => b - a);
              const high = [1, ...s.map((si) => si / Math.max(1, top))].sort((a, b) => b - a);
              singular.forEach((value, i) => {
                expect(value).toBeGreaterThanOrEqual(low[i]! - atol);
                expect(value).toBeLessThanOrEqual(high[i]! + atol);
              });
            });
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('2. Cayley, as sHC uses it: UᵀU = I, det U = +1, A = 0 ⇒ U = I', () => {
  it('holds for batches of skew matrices from vectors with entries up to ±100', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), seedArb, fc.constantFrom(0.01, 1, 100), (m, seed, scale) => {
        const k = (m * (m - 1)) / 2;
        const z = mul(new Random(seed).normal([3, k]), scale);
        const u = cayley(skewFromVector(z, m)).value;
        const size = 1 + scale * Math.sqrt(k);
        // solve's orthogonality error grows with the condition number of I + A (≤ 1 + ‖A‖)
        const tol = roundingTol('float64', m) * size * size;
        expectClose(T.matmul(u.mT, u), eye(m).expand([3, m, m]), { rtol: 0, atol: tol });
        expectClose(det(u), [1, 1, 1], { rtol: 0, atol: tol * m });
      }),
      { numRuns: 100 },
    );
    for (let m = 1; m <= 6; m++)
      expect(cayley(skewFromVector(tensor(new Array<number>((m * (m - 1)) / 2).fill(0)), m)).value.toArray()).toEqual(
        eye(m).toArray(),
      );
  });
});

describe('3. Helmert: U_zᵀU_z = I, U_zᵀ1 = 0, U_zU_zᵀ = I − J', () => {
  it('holds for n = 1..8, and the entries are the closed form', () => {
    for (let n = 1; n <= 8; n++) {
      const u = helmertBasis(n);
      const tol = roundingTol('float64', n);
      expectClose(T.matmul(u.mT, u), eye(n - 1), { rtol: 0, atol: tol });
      expectClose(T.matmul(u.mT, tensor(new Array<number>(n).fill(1))), new Array<number>(n - 1).fill(0), {
        rtol: 0,
        atol: tol,
      });
      const iMinusJ = Array.from({ length: n }, (_, i) =>
        Array.from({ length: n }, (_, j) => (i === j ? 1 : 0) - 1 / n),
      );
      expectClose(T.matmul(u, u.mT), tensor(iMinusJ), { rtol: 0, atol: tol });
      for (let i = 1; i < n; i++) {
        const column = Array.from({ length: n }, (_, r) => (r < i ? 1 : r === i ? -i : 0) / Math.sqrt(i * (i + 1)));
        expectClose(u.slice(null, i - 1), column, { rtol: 0, atol: epsOf('float64') });
      }
    }
  });
});

describe('4. init values', () => {
  const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
  const e8 = Math.exp(-8);
  const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));
  const tanh4 = Math.tanh(4);
  /** The closed-form H_res at init: a·I + b·(11ᵀ) (KromHC's, a Kronecker product of these, below) */
  const closedForm: Record<
    Exclude<Variant, 'residual' | 'kromhc'>,
    (n: number) => { diagonal: number; off: number }
  > = {
    hc: () => ({ diagonal: 1, off: 0 }),
    mhc: (n) => ({ diagonal: 1 / (1 + (n - 1) * e8), off: e8 / (1 + (n - 1) * e8) }),
    mhcLite: (n) => {
      const z = 1 + (factorial(n) - 1) * e8;
      return { diagonal: (1 + (factorial(n - 1) - 1) * e8) / z, off: (factorial(n - 1) * e8) / z };
    },
    shc: (n) => ({ diagonal: tanh4 + (1 - tanh4) / n, off: (1 - tanh4) / n }),
    shcPower: (n) => ({ diagonal: tanh4 + (1 - tanh4) / n, off: (1 - tanh4) / n }),
  };

  it('are the closed forms for every variant, n = 2..6, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(closedForm) as (keyof typeof closedForm)[])),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 0, max: 20 }),
        dtypeArb,
        seedArb,
        (variant, nWanted, layerIndex, dtype, seed) => {
          const n = Math.min(nWanted, MAX_N[variant]);
          const layer = createHyperConnection(variant, { n, dim: 3, layerIndex, dtype });
          const maps = layer.maps(randomState(new Random(seed), [1, 3, n, 3], 10, dtype));
          const { diagonal, off } = closedForm[variant](n);
          // mHC-lite's float64 entries each sum up to n! softmax weights; float32 kernels accumulate
          // in float64 and round once
          const tol = roundingTol(dtype, variant === 'mhcLite' && dtype === 'float64' ? factorial(n) : n);
          const expectedH = Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? diagonal : off));
          for (const h of matrices(maps.hRes)) expectClose(h.flat(), expectedH, { rtol: 0, atol: tol });
          const k = layerIndex % n;
          const pre = variant === 'hc' ? (i: number) => (i === k ? 1 : 0) : (i: number) => sigmoid(i === k ? 1 : -1);
          const post = variant === 'hc' ? () => 1 : (i: number) => 2 * sigmoid(i === k ? 1 : -1);
          expectClose(
            maps.hPre,
            Array.from({ length: 3 * n }, (_, i) => pre(i % n)),
            { rtol: 0, atol: tol },
          );
          expectClose(
            maps.hPost,
            Array.from({ length: 3 * n }, (_, i) => post(i % n)),
            { rtol: 0, atol: tol },
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("KromHC: the Kronecker product of mHC-lite's closed forms on the prime factors, n = 2..8", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 20 }),
        dtypeArb,
        seedArb,
        (n, layerIndex, dtype, seed) => {
          const layer = createHyperConnection('kromhc', { n, dim: 3, layerIndex, dtype });
          const maps = layer.maps(randomState(new Random(seed), [1, 3, n, 3], 10, dtype));
          // entry (r, s) multiplies, per factor i (factor 1 the most significant digit of r and s),
          // the diagonal or the off-diagonal value of mHC-lite's init on i streams
          const factors = kromhcFactors(n);
          const entry = (r: number, s: number): number => {
            let value = 1;
            let stride = n;
            for (const i of factors) {
              stride /= i;
              const { diagonal, off } = closedForm.mhcLite(i);
              value *= Math.floor(r / stride) % i === Math.floor(s / stride) % i ? diagonal : off;
            }
            return value;
          };
          const tol = roundingTol(dtype, dtype === 'float64' ? Math.max(n, ...factors.map(factorial)) : n);
          const expectedH = Array.from({ length: n * n }, (_, i) => entry(Math.floor(i / n), i % n));
          for (const h of matrices(maps.hRes)) expectClose(h.flat(), expectedH, { rtol: 0, atol: tol });
          const k = layerIndex % n;
          expectClose(
            maps.hPre,
            Array.from({ length: 3 * n }, (_, i) => sigmoid(i % n === k ? 1 : -1)),
            { rtol: 0, atol: tol },
          );
          expectClose(
            maps.hPost,
            Array.from({ length: 3 * n }, (_, i) => 2 * sigmoid(i % n === k ? 1 : -1)),
            { rtol: 0, atol: tol },
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('match the published numbers at n = 4 (1e-6)', () => {
    const at4 = (variant: Variant): number[][] =>
      matrices(
        createHyperConnection(variant, { n: 4, dim: 2, layerIndex: 0 }).maps(
          randomState(new Random(1), [1, 1, 4, 2], 1),
        ).hRes,
      )[0]!;
    expect(Math.abs(at4('mhc')[0]![0]! - 0.99899)).toBeLessThan(1e-5); // published to 5 digits
    expect(Math.abs(at4('mhcLite')[2]![2]! - 0.99401)).toBeLessThan(1e-5);
    for (const variant of ['shc', 'shcPower'] as const) {
      const h = at4(variant);
      const maxDeviation = Math.max(...h.flatMap((row, i) => row.map((v, j) => Math.abs(v - (i === j ? 1 : 0)))));
      expect(Math.abs(maxDeviation - 0.75 * (1 - tanh4))).toBeLessThan(1e-6);
      expect(maxDeviation).toBeCloseTo(5e-4, 4);
    }
  });
});

/** Hilbert projective diameter of exp(L): max over i,j,k,l of L_ik + L_jl − L_il − L_jk. */
function hilbertDiameter(logits: number[][]): number {
  const n = logits.length;
  let d = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      for (let k = 0; k < n; k++)
        for (let l = 0; l < n; l++) d = Math.max(d, logits[i]![k]! + logits[j]![l]! - logits[i]![l]! - logits[j]![k]!);
  return d;
}

describe('5. mHC Sinkhorn: entries > 0, rows exact, columns within the convergence bound', () => {
  it(
    'holds for random parameters; the column bound is Birkhoff’s ' +
      'contraction for t iterations of the logits’ spread',
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 6 }),
          fc.integer({ min: 1, max: 30 }),
          seedArb,
          fc.constantFrom(0.1, 0.5, 2),
          (n, iters, seed, pScale) => {
            const dim = 2;
            const layer = randomLayer('mhc', { n, dim, layerIndex: 0, sinkhornIters: iters }, seed, pScale) as MHCLayer;
            const x = randomState(new Random(seed + 1), [1, 3, n, dim], 2);
            const hRes = layer.maps(x).hRes;
            const tol = roundingTol('float64', n);
            const { rows, cols } = perToken(hRes);
            expectAll(rows, 1, tol, 'row sum');
            matrices(hRes).forEach((h, token) => {
              h.flat().forEach((v) => {
                expect(v).toBeGreaterThan(0);
              });
              // the logits by loops: α_res·mat(RMSNorm(vec X)·φ_res) + b_res
              const v = rmsNormLoop(
                x.toTypedArray().subarray(token * n * dim, (token + 1) * n * dim),
                layer.norm.weight.value.toTypedArray(),
                1e-6,
              );
              const z = vecMat(v, layer.resWeight.value);
              const alpha = layer.resScale.value.item();
              const b = layer.resBias.value.toTypedArray();
              const logits = Array.from({ length: n }, (_, i) =>
                Array.from({ length: n }, (_, j) => alpha * z[i * n + j]! + b[i * n + j]!),
              );
              const diameter = hilbertDiameter(logits);
              const bound = Math.expm1(diameter * Math.tanh(diameter / 4) ** Math.max(0, 2 * iters - 3));
              cols[token]!.forEach((c) => {
                expect(Math.abs(c - 1)).toBeLessThanOrEqual(bound + tol);
              });
            });
          },
        ),
        { numRuns: 100 },
      );
    },
  );

  it('200 iterations with logit spread ≤ 8 give columns within 1e-6', () => {
    for (let seed = 0; seed < 20; seed++) {
      const n = 2 + (seed % 5);
      const layer = new MHCLayer({ n, dim: 2, layerIndex: 0, sinkhornIters: 200 });
      layer.resBias.value.assign(new Random(seed).uniform([n, n], { low: -4, high: 4 }));
      const { cols } = perToken(layer.maps(randomState(new Random(seed), [1, 2, n, 2], 1)).hRes);
      expectAll(cols, 1, 1e-6, 'column sum');
    }
  });
});

describe('6. mHC-lite: exactly doubly stochastic', () => {
  it('entries ≥ 0, row and column sums 1, σ_max ≤ 1, and H_res = Σ a_k P_k by loops', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        dtypeArb,
        seedArb,
        paramScaleArb,
        stateScaleArb,
        (n, dtype, seed, pScale, xScale) => {
          const dim = 2;
          const layer = randomLayer('mhcLite', { n, dim, layerIndex: 0, dtype }, seed, pScale) as MHCLiteLayer;
          const x = randomState(new Random(seed + 1), [1, 3, n, dim], xScale, dtype);
          const hRes = layer.maps(x).hRes;
          const tol = roundingTol(dtype, n);
          expectDoublyStochastic(hRes, tol);
          if (dtype === 'float64') {
            const perms = lexicographicPermutations(n);
            matrices(hRes).forEach((h, token) => {
              const v = rmsNormLoop(
                x.toTypedArray().subarray(token * n * dim, (token + 1) * n * dim),
                layer.norm.weight.value.toTypedArray(),
                1e-6,
              );
              const z = vecMat(v, layer.resWeight.value);
              const logits = Array.from(z, (zk, k) => layer.resScale.value.item() * zk + layer.resBias.value.get(k));
              const top = Math.max(...logits);
              const weights = logits.map((l) => Math.exp(l - top));
              const total = weights.reduce((a, b) => a + b, 0);
              const expected = Array.from({ length: n }, () => new Array<number>(n).fill(0));
              perms.forEach((p, k) => {
                p.forEach((j, i) => {
                  expected[i]![j]! += weights[k]! / total;
                });
              });
              expectClose(h.flat(), expected.flat(), {
                rtol: 0,
                atol: roundingTol('float64', perms.length) * (1 + Math.max(...logits.map(Math.abs))),
              });
            });
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('7. gates: H_pre ∈ (0,1)ⁿ, H_post ∈ (0,2)ⁿ', () => {
  it('hold for mHC, mHC-lite, KromHC, sHC, shcPower with random parameters (closed where sigmoid saturates)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower' as const),
        fc.integer({ min: 2, max: 5 }),
        seedArb,
        paramScaleArb,
        stateScaleArb,
        (variant, n, seed, pScale, xScale) => {
          const layer = randomLayer(variant, { n, dim: 3, layerIndex: seed % 4 }, seed, pScale);
          const maps = layer.maps(randomState(new Random(seed + 1), [2, 2, n, 3], xScale));
          const strict = pScale <= 0.1 && xScale <= 1; // arguments stay far from sigmoid's saturation
          for (const v of maps.hPre.toTypedArray())
            strict ? expect(v > 0 && v < 1).toBe(true) : expect(v >= 0 && v <= 1).toBe(true);
          for (const v of maps.hPost.toTypedArray())
            strict ? expect(v > 0 && v < 2).toBe(true) : expect(v >= 0 && v <= 2).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('8. HC at init with equal streams ≡ pre-norm residual; n = 1 ≡ residual for every variant', () => {
  /** A pre-normed branch F(u) = tanh(RMSNorm(u)·W). */
  function preNormBranch(dim: number, w: Tensor): (u: Variable) => Variable {
    const norm = new nn.RMSNorm(dim);
    return (u) => tanh(matmul(norm.forward(u), w));
  }

  it('HC: every stream after two layers is exactly the residual x + F₁(x), then + F₂', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 10 }),
        seedArb,
        (n, dim, layerIndex, seed) => {
          const rng = new Random(seed);
          const x = variable(rng.normal([2, 3, dim]));
          const f1 = preNormBranch(dim, rng.normal([dim, dim]));
          const f2 = preNormBranch(dim, rng.normal([dim, dim]));
          const layers = [0, 1].map((k) => new HCLayer({ n, dim, layerIndex: layerIndex + k }));
          const out = layers[1]!.forward(layers[0]!.forward(expandStreams(x, n), f1), f2);
          const h = x.add(f1(x));
          const expected = h.add(f2(h)).value;
          for (let s = 0; s < n; s++) expectClose(out.value.slice(null, null, s, null), expected, { rtol: 0, atol: 0 });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('n = 1: every variant is exactly x + F(x)', () => {
    const rng = new Random(8);
    for (const variant of VARIANTS) {
      const dim = 3;
      const layer = createHyperConnection(variant, { n: 1, dim, layerIndex: 2 });
      const x = variable(rng.normal([2, 2, dim]));
      const f = preNormBranch(dim, rng.normal([dim, dim]));
      const out = layer.forward(expandStreams(x, 1), f);
      expectClose(out.value.reshape([2, 2, dim]), x.add(f(x)).value, { rtol: 0, atol: 0 });
    }
  });
});

/** Per token, H_L ··· H_1 of the layers' H_res (each [B,T,n,n]). */
function products(maps: readonly Tensor[]): Tensor {
  return maps.slice(1).reduce((p, h) => T.matmul(h, p), maps[0]!);
}

function compositionMaps(variant: Variant, n: number, seed: number, pScale: number, depth = 64): Tensor[] {
  const rng = new Random(seed);
  return Array.from({ length: depth }, (_, d) => {
    const layer = randomLayer(variant, { n, dim: 2, layerIndex: d }, seed + 7 * d, pScale);
    return layer.maps(randomState(rng, [1, 2, n, 2], 3)).hRes;
  });
}

describe('9. composition over 64 layers', () => {
  it('sHC: products keep sums = 1 and σ_max = 1 (1e-9)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), seedArb, fc.constantFrom(0.5, 2), (n, seed, pScale) => {
        const { rows, cols, sigma } = perToken(products(compositionMaps('shc', n, seed, pScale)));
        expectAll(rows, 1, 1e-9, 'row sum');
        expectAll(cols, 1, 1e-9, 'column sum');
        expectAll(
          sigma.map((s) => [s[0]!]),
          1,
          1e-9,
          'σ_max',
        );
      }),
      { numRuns: 10 }, // 64 layers per case
    );
  });

  it('mHC-lite: products stay doubly stochastic', () => {
    for (const n of [2, 3, 4]) {
      expectDoublyStochastic(products(compositionMaps('mhcLite', n, n, 2)), roundingTol('float64', n) * 64);
    }
  });

  it('KromHC: products stay doubly stochastic, and Kronecker products (of the factor products)', () => {
    for (const n of [2, 4, 6]) {
      const maps = compositionMaps('kromhc', n, n, 2);
      const p = products(maps);
      const tol = roundingTol('float64', n) * 64;
      expectDoublyStochastic(p, tol);
      // (A⊗B)(C⊗D) = AC⊗BD: the product is still a 2 × (n/2) Kronecker product. Its 2×2 factor is the
      // block-sum marginal (each block of a doubly stochastic B-factor sums to n/2), checked by loops.
      const half = n / 2;
      matrices(p).forEach((h) => {
        const a = [0, 1].map((i) =>
          [0, 1].map((j) => {
            let total = 0;
            for (let r = 0; r < half; r++) for (let c = 0; c < half; c++) total += h[i * half + r]![j * half + c]!;
            return total / half;
          }),
        );
        const b = Array.from({ length: half }, (_, r) =>
          Array.from({ length: half }, (_, c) => h[r]![c]! + h[r]![half + c]!),
        );
        h.forEach((row, i) => {
          row.forEach((v, j) => {
            const expected = a[Math.floor(i / half)]![Math.floor(j / half)]! * b[i % half]![j % half]!;
            expect(Math.abs(v - expected)).toBeLessThanOrEqual(tol);
          });
        });
      });
    }
  });

  it('HC: unconstrained products grow with depth', () => {
    for (const n of [2, 4]) {
      // A_r = I + |0.2·N(0,1)| (plus random dynamic terms): every row sum of H_res exceeds 1
      const rng = new Random(n);
      const maps = Array.from({ length: 64 }, (_, d) => {
        const layer = randomLayer('hc', { n, dim: 2, layerIndex: d }, 100 + d, 0.05) as HCLayer;
        layer.resBias.value.assign(
          tensor(
            Array.from(
              { length: n * n },
              (_, i) => (i % (n + 1) === 0 ? 1 : 0) + Math.abs(0.2 * rng.normal([1]).item()),
            ),
            { shape: [n, n] },
          ),
        );
        return layer.maps(randomState(rng, [1, 2, n, 2], 1)).hRes;
      });
      // a lower bound by loops: ‖Π H‖∞ ≥ Π_d min_i Σ_j H_d[i][j] for non-negative H
      const lowerBound = (depth: number, token: number): number =>
        maps
          .slice(0, depth)
          .reduce((acc, h) => acc * Math.min(...matrices(h)[token]!.map((row) => row.reduce((a, b) => a + b, 0))), 1);
      const p = products(maps);
      p.toTypedArray().forEach((v) => {
        expect(v).toBeGreaterThan(0);
      });
      const gains = perToken(p).rows.map((rows) => Math.max(...rows));
      gains.forEach((g, token) => {
        expect(g).toBeGreaterThanOrEqual(lowerBound(64, token) * (1 - 1e-12));
        expect(g).toBeGreaterThan(1e3);
      });
    }
  });
});

describe('11. tokens are independent', () => {
  it('permuting the tokens permutes every map the same way', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VARIANTS), fc.integer({ min: 1, max: 5 }), seedArb, (variant, nWanted, seed) => {
        const n = variant === 'residual' ? 1 : Math.min(nWanted, MAX_N[variant]);
        const layer = randomLayer(variant, { n, dim: 3, layerIndex: 1 }, seed, 1);
        const rng = new Random(seed + 1);
        const x = randomState(rng, [2, 3, n, 3], 2);
        const perm = rng.permutation(6);
        const permute = (t: Tensor, block: number): Float64Array => {
          const src = t.toTypedArray();
          const out = new Float64Array(src.length);
          perm.forEach((from, to) => {
            out.set(src.subarray(from * block, (from + 1) * block), to * block);
          });
          return out;
        };
        const xPermuted = tensor(permute(x, n * 3), { shape: [2, 3, n, 3] });
        const maps = layer.maps(x);
        const permutedMaps = layer.maps(xPermuted);
        const tol = { rtol: roundingTol('float64', n * 3), atol: roundingTol('float64', n * 3) };
        expectClose(permutedMaps.hRes.toTypedArray(), permute(maps.hRes, n * n), tol);
        expectClose(permutedMaps.hPre.toTypedArray(), permute(maps.hPre, n), tol);
        expectClose(permutedMaps.hPost.toTypedArray(), permute(maps.hPost, n), tol);
      }),
      { numRuns: 60 },
    );
  });
});

describe('12. H_res is applied (bypass guard)', () => {
  /** The static part of H_res of each variant, to move it away from I. */
  const resBias = (layer: HyperConnection): Variable[] => {
    if (layer instanceof HCLayer) return [layer.resBias];
    if (layer instanceof MHCLayer || layer instanceof MHCLiteLayer || layer instanceof KromHCLayer)
      return [layer.resBias];
    if (layer instanceof SHCLayer)
      return [layer.resBiasU, layer.resBiasV, layer.resBiasS].filter((p): p is Variable => p !== null);
    if (layer instanceof SHCPowerLayer) return [layer.resBias];
    throw new Error(`no H_res bias for ${layer.variant}`);
  };

  it('with F ≡ 0 the output is H_res·X (by loops), which differs from X once b_res/c move H_res away from I', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower' as const),
        fc.integer({ min: 2, max: 5 }),
        seedArb,
        (variant, n, seed) => {
          const rng = new Random(seed);
          const layer = createHyperConnection(variant, { n, dim: 3, layerIndex: 0 });
          for (const p of resBias(layer)) p.value.assign(rng.normal(p.shape, { std: 2 }));
          const x = variable(randomState(rng, [1, 2, n, 3], 1));
          const out = layer.forward(x, (u: Variable): Variable => mul(u, 0)).value.toTypedArray();
          const { reference } = referenceUpdate(x.value, layer.lastMaps!, () => new Float64Array(3));
          const xs = x.value.toTypedArray();
          const expectedMove = Math.max(...reference.map((v, i) => Math.abs(v - xs[i]!)));
          // e.g. shcPower at n = 2 with c ≥ 1 lands on H_res = I: nothing to detect there
          fc.pre(expectedMove > 1e-2);
          expectClose(out, reference, { rtol: roundingTol('float64', n), atol: roundingTol('float64', n) });
          expect(Math.max(...out.map((v, i) => Math.abs(v - xs[i]!)))).toBeGreaterThan(expectedMove / 2);
        },
      ),
      { numRuns: 60 },
    );
  });
});
