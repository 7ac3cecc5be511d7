/**
 * KromHC (docs/spec/hc-family.md, "KromHC"): the factorisation of n, H_res against loops written
 * from the spec's formulas (per-factor softmax over lexicographic permutations, the Kronecker
 * product by multi-indices), the 2-factor closed form p = σ(c₀ − c₁), equality with mHC-lite at
 * prime n, init values, parameter counts and state-dict keys as documented, and
 * checkLayerInvariants' `kronecker` check passing KromHC and failing what is not a Kronecker product.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Random, svd, ValueError, type DType } from '@hyperconn/tensor';
import { expectClose } from '../../../test/support/assert';
import {
  createHyperConnection,
  KromHCLayer,
  kromhcFactors,
  type MHCLiteLayer,
  parameterCount,
  type HyperConnection,
} from '../src/index';
import { checkLayerInvariants, expectLayerInvariants } from '../src/testing';
import {
  lexicographicPermutations,
  matrices,
  randomLayer,
  randomState,
  rmsNormLoop,
  roundingTol,
  vecMat,
} from './layer-helpers';

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));

describe('kromhcFactors', () => {
  it('splits n into primes, 2s first, the others ascending', () => {
    const table: [number, number[]][] = [
      [1, []],
      [2, [2]],
      [3, [3]],
      [4, [2, 2]],
      [6, [2, 3]],
      [8, [2, 2, 2]],
      [9, [3, 3]],
      [12, [2, 2, 3]],
      [30, [2, 3, 5]],
      [49, [7, 7]],
      [97, [97]],
      [1024, new Array<number>(10).fill(2)],
    ];
    for (const [n, factors] of table) expect(kromhcFactors(n), `n = ${n}`).toEqual(factors);
  });

  it('gives ascending primes whose product is n, for any n up to 10⁶', () => {
    const isPrime = (p: number): boolean => {
      for (let d = 2; d * d <= p; d++) if (p % d === 0) return false;
      return p >= 2;
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (n) => {
        const factors = kromhcFactors(n);
        expect(factors.reduce((a, b) => a * b, 1)).toBe(n);
        for (const [i, f] of factors.entries()) {
          expect(isPrime(f)).toBe(true);
          if (i > 0) expect(f).toBeGreaterThanOrEqual(factors[i - 1]!);
        }
      }),
    );
  });

  it('refuses anything but a positive safe integer', () => {
    for (const bad of [0, -4, 2.5, Number.NaN, Infinity, 2 ** 60])
      expect(() => kromhcFactors(bad)).toThrow(/^kromhcFactors: n must be a positive integer/);
    expect(() => kromhcFactors(0)).toThrow(ValueError);
  });
});

/**
 * H_res of every token by loops from the layer's parameters: v = RMSNorm(vec X), c = α·(vW) + b,
 * per factor a softmax and Σ_j a_j P_j over lexicographic permutations (P[i, π(i)] = 1), then
 * H[r, s] = Π_k U_k[r_k, s_k] with r_k the k-th digit of r (factor 1 most significant).
 */
function loopHRes(layer: KromHCLayer, x: Float64Array | Float32Array): number[][][] {
  const { n, dim } = layer;
  const factors = kromhcFactors(n);
  const tokens = x.length / (n * dim);
  const out: number[][][] = [];
  for (let t = 0; t < tokens; t++) {
    const v = rmsNormLoop(x.subarray(t * n * dim, (t + 1) * n * dim), layer.norm.weight.value.toTypedArray(), 1e-6);
    const z = vecMat(v, layer.resWeight.value);
    const alpha = layer.resScale.value.item();
    const bias = layer.resBias.value.toTypedArray();
    let at = 0;
    const us = factors.map((size) => {
      const perms = lexicographicPermutations(size);
      const logits = perms.map((_, j) => alpha * z[at + j]! + bias[at + j]!);
      at += perms.length;
      const top = Math.max(...logits);
      const weights = logits.map((l) => Math.exp(l - top));
      const total = weights.reduce((a, b) => a + b, 0);
      const u = Array.from({ length: size }, () => new Array<number>(size).fill(0));
      perms.forEach((perm, j) => {
        perm.forEach((col, row) => {
          u[row]![col]! += weights[j]! / total;
        });
      });
      return u;
    });
    const digits = (index: number): number[] => {
      let rest = index;
      return factors
        .slice()
        .reverse()
        .map((size) => {
          const d = rest % size;
          rest = Math.floor(rest / size);
          return d;
        })
        .reverse();
    };
    out.push(
      Array.from({ length: n }, (_, r) =>
        Array.from({ length: n }, (_, s) => {
          const [dr, ds] = [digits(r), digits(s)];
          return us.reduce((acc, u, k) => acc * u[dr[k]!]![ds[k]!]!, 1);
        }),
      ),
    );
  }
  return out;
}

describe('H_res', () => {
  it('equals the Kronecker product of per-factor permutation mixtures computed by loops', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 3, 4, 6, 8, 9, 12),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(0.1, 1, 10),
        (n, dim, seed, pScale) => {
          const layer = randomLayer('kromhc', { n, dim, layerIndex: seed % 5 }, seed, pScale) as KromHCLayer;
          const x = randomState(new Random(seed + 1), [2, 2, n, dim], 3);
          const hRes = layer.maps(x).hRes;
          const expected = loopHRes(layer, x.toTypedArray());
          // the logits reach |c| ≈ 10·(1 + 8) under pScale 10: exp of the max-shifted logits stays exact
          expectClose(matrices(hRes).flat(2), expected.flat(2), { rtol: 0, atol: roundingTol('float64', 4 * n) });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is doubly stochastic (1e-12), non-negative, with σ_max = 1, float64 and float32', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 4, 6, 8),
        fc.constantFrom<DType>('float64', 'float32'),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(0.1, 1, 10),
        fc.constantFrom(0.01, 1, 100),
        (n, dtype, seed, pScale, xScale) => {
          const layer = randomLayer('kromhc', { n, dim: 2, layerIndex: 0, dtype }, seed, pScale);
          const hRes = layer.maps(randomState(new Random(seed + 1), [1, 3, n, 2], xScale, dtype)).hRes;
          const tol = dtype === 'float64' ? 1e-12 : roundingTol('float32', n);
          const sigma = svd(hRes.astype('float64')).s.toTypedArray();
          matrices(hRes).forEach((h, token) => {
            for (let i = 0; i < n; i++) {
              expect(Math.abs(h[i]!.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(tol);
              expect(Math.abs(h.reduce((a, row) => a + row[i]!, 0) - 1)).toBeLessThanOrEqual(tol);
              for (const v of h[i]!) expect(v).toBeGreaterThanOrEqual(0);
            }
            // σ_max = 1 exactly in exact arithmetic: the all-ones vector is a singular vector
            expect(Math.abs(sigma[token * n]! - 1)).toBeLessThanOrEqual(tol);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('at n = 2 is [[p, 1−p], [1−p, p]] with p = σ(c₀ − c₁), the softmax over two logits', () => {
    for (let seed = 0; seed < 20; seed++) {
      const layer = randomLayer('kromhc', { n: 2, dim: 3, layerIndex: 0 }, seed, 3) as KromHCLayer;
      const x = randomState(new Random(seed + 1), [1, 4, 2, 3], 2);
      const hs = matrices(layer.maps(x).hRes);
      const xs = x.toTypedArray();
      hs.forEach((h, token) => {
        const v = rmsNormLoop(xs.subarray(token * 6, (token + 1) * 6), layer.norm.weight.value.toTypedArray(), 1e-6);
        const z = vecMat(v, layer.resWeight.value);
        const [c0, c1] = [0, 1].map((j) => layer.resScale.value.item() * z[j]! + layer.resBias.value.get(j));
        const p = sigmoid(c0! - c1!);
        expectClose(h.flat(), [p, 1 - p, 1 - p, p], { rtol: 0, atol: 4e-16 });
      });
    }
  });

  it('at prime n is mHC-lite: the same state dict gives bit-identical maps', () => {
    for (const n of [2, 3, 5]) {
      const lite = randomLayer('mhcLite', { n, dim: 2, layerIndex: 1 }, n, 1) as MHCLiteLayer;
      const krom = new KromHCLayer({ n, dim: 2, layerIndex: 1 });
      krom.loadStateDict(lite.stateDict());
      const x = randomState(new Random(n), [2, 3, n, 2], 1);
      const [a, b] = [krom.maps(x), lite.maps(x)];
      for (const key of ['hRes', 'hPre', 'hPost'] as const) expect(a[key].toArray()).toEqual(b[key].toArray());
    }
  });

  it('n = 1 (constructed directly; the factory gives the residual) has H_res = [[1]], no factors', () => {
    const layer = new KromHCLayer({ n: 1, dim: 3, layerIndex: 0 });
    expect(layer.factors).toEqual([]);
    expect(parameterCount(layer)).toBe(3 * 3 + 5);
    const maps = layer.maps(randomState(new Random(0), [2, 2, 1, 3], 1));
    expect(Array.from(maps.hRes.toTypedArray())).toEqual([1, 1, 1, 1]);
  });
});

describe('init', () => {
  it('at n = 4: H_res = P ⊗ P with P = [[p, 1−p], [1−p, p]], p = σ(8): diagonal 0.99933', () => {
    const layer = createHyperConnection('kromhc', { n: 4, dim: 3, layerIndex: 0 });
    const p = sigmoid(8);
    const q = 1 - p;
    const two = [
      [p, q],
      [q, p],
    ];
    const expected = Array.from({ length: 4 }, (_, r) =>
      Array.from({ length: 4 }, (_, s) => two[r >> 1]![s >> 1]! * two[r & 1]![s & 1]!),
    );
    for (const h of matrices(layer.maps(randomState(new Random(2), [1, 2, 4, 3], 5)).hRes))
      expectClose(h.flat(), expected.flat(), { rtol: 0, atol: 1e-15 });
    expect(Math.abs(p * p - 0.99933)).toBeLessThan(1e-5);
  });

  it('per factor: b_res 0 at the identity permutation, −8 elsewhere; α = 0.01; W = 0; gates as mHC', () => {
    const layer = new KromHCLayer({ n: 12, dim: 2, layerIndex: 5 });
    expect(layer.factors).toEqual([2, 2, 3]);
    const blocks = [2, 2, 6];
    expect(Array.from(layer.resBias.value.toTypedArray())).toEqual(
      blocks.flatMap((count) => Array.from({ length: count }, (_, j) => (j === 0 ? 0 : -8))),
    );
    expect(layer.resScale.value.toArray()).toEqual([0.01]);
    expect(layer.preScale.value.toArray()).toEqual([0.01]);
    expect(layer.postScale.value.toArray()).toEqual([0.01]);
    for (const w of [layer.preWeight, layer.postWeight, layer.resWeight])
      expect(w.value.toTypedArray().every((v) => v === 0)).toBe(true);
    const gate = Array.from({ length: 12 }, (_, i) => (i === 5 ? 1 : -1));
    expect(Array.from(layer.preBias.value.toTypedArray())).toEqual(gate);
    expect(Array.from(layer.postBias.value.toTypedArray())).toEqual(gate);
  });
});

describe('parameters', () => {
  /** nC(1 + 2n + S) + S + 2n + 3 with S = Σ_k i_k!, written out per n from the factorisation. */
  const table: [number, number[], number, number][] = [
    // n, factors, coefficient of C, constant
    [2, [2], 14, 9],
    [3, [3], 39, 15],
    [4, [2, 2], 52, 15],
    [6, [2, 3], 126, 23],
    [8, [2, 2, 2], 184, 25],
    [9, [3, 3], 279, 33],
    [12, [2, 2, 3], 420, 37],
  ];

  it('count nC(1 + 2n + S) + S + 2n + 3, S = Σ i_k!: 52C + 15 at n = 4 as the spec says', () => {
    for (const [n, factors, perC, constant] of table) {
      const s = factors.map(factorial).reduce((a, b) => a + b, 0);
      expect(n * (1 + 2 * n + s)).toBe(perC);
      expect(s + 2 * n + 3).toBe(constant);
      for (const c of [1, 5, 64]) {
        const layer = createHyperConnection('kromhc', { n, dim: c, layerIndex: 0 });
        expect(parameterCount(layer), `n = ${n}, C = ${c}`).toBe(perC * c + constant);
      }
    }
  });

  it('have the keys, order and shapes of docs/state-dict-keys.md', () => {
    const doc = readFileSync(new URL('../../../docs/state-dict-keys.md', import.meta.url), 'utf8');
    const section = doc.split('\n## ').find((s) => s.startsWith('`kromhc`'));
    expect(section).toBeDefined();
    const rows = section!
      .split('\n')
      .filter((line) => /^\| `/.test(line))
      .map((line) => line.split('|').map((cell) => cell.trim()));
    const n = 4;
    const c = 3;
    // the documented shapes, evaluated at n = 4, C = 3 (S = Σ i_k! = 4)
    const evaluate = (shape: string): number[] =>
      JSON.parse(
        shape
          .replace(/nC/g, String(n * c))
          .replace(/Σ i_k!/g, '4')
          .replace(/\bn\b/g, String(n)),
      );
    const documented = rows.map(([, key, shape]) => [key!.replace(/`/g, ''), evaluate(shape!)]);
    const layer = createHyperConnection('kromhc', { n, dim: c, layerIndex: 0 });
    expect(layer.namedParameters().map(([key, p]) => [key, [...p.shape]])).toEqual(documented);
  });
});

describe("checkLayerInvariants' kronecker check", () => {
  it('passes KromHC at n = 2, 4, 6, 8 and 9 (float64) and at n = 4 in float32', () => {
    for (const n of [2, 4, 6, 8, 9]) {
      const report = expectLayerInvariants(() => createHyperConnection('kromhc', { n, dim: 2, layerIndex: 1 }), {
        numRuns: 10,
      });
      expect(report.invariants.map((r) => r.name)).toContain('kronecker');
      expect(report.invariants.find((r) => r.name === 'kronecker')!.cases).toBe(10);
    }
    expectLayerInvariants(() => createHyperConnection('kromhc', { n: 4, dim: 3, layerIndex: 0, dtype: 'float32' }), {
      numRuns: 10,
    });
  });

  it("fails a doubly stochastic H_res that is not a Kronecker product (mHC-lite's, n = 4)", () => {
    const lite = (): HyperConnection => randomLayer('mhcLite', { n: 4, dim: 2, layerIndex: 0 }, 3, 1);
    const report = checkLayerInvariants(lite, {
      invariants: ['doublyStochastic', 'kronecker'],
      kroneckerFactors: [2, 2],
      numRuns: 5,
    });
    expect(report.invariants.map((r) => [r.name, r.ok])).toEqual([
      ['doublyStochastic', true],
      ['kronecker', false],
    ]);
    expect(report.invariants[1]!.detail).toMatch(/Kronecker product of its factor marginals \(sizes \[2, 2\]\)/);
  });

  it('fails factors given in the wrong order (2 ⊗ 3 is not 3 ⊗ 2), and passes one factor of size n', () => {
    const krom = (): HyperConnection => randomLayer('kromhc', { n: 6, dim: 2, layerIndex: 0 }, 4, 1);
    const at = (factors: number[]) =>
      checkLayerInvariants(krom, { invariants: ['kronecker'], kroneckerFactors: factors, numRuns: 5 }).ok;
    expect(at([2, 3])).toBe(true);
    expect(at([3, 2])).toBe(false);
    expect(at([6])).toBe(true);
    expect(() => at([2, 2])).toThrow(/^checkLayerInvariants: kroneckerFactors must be positive integers whose product/);
  });
});
