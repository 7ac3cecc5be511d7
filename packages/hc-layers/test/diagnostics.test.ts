/** Diagnostics against loops over the same matrices, closed forms, and an eigen-based σ_max. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { eigh, eye, full, mul, Random, ShapeError, tensor, ValueError, zeros, type Tensor } from '@hyperconn/tensor';
import { nn, variable } from '@hyperconn/autograd';
import {
  compositeDiagnostics,
  createHyperConnection,
  layerDiagnostics,
  parameterCount,
  type TokenMaps,
} from '../src/index';
import { matrices, randomLayer, randomState, roundingTol, tanhBranch } from './layer-helpers';

const mapsOf = (hRes: Tensor): TokenMaps => {
  const lead = hRes.shape.slice(0, -1);
  return { hRes, hPre: zeros(lead), hPost: zeros(lead) };
};

/** σ_max = sqrt(λ_max(HᵀH)) by the symmetric eigensolver (not the SVD the diagnostics use). */
function sigmaMaxByEigh(h: number[][]): number {
  const n = h.length;
  const gram = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => h.reduce((acc, row) => acc + row[i]! * row[j]!, 0)),
  );
  const values = eigh(tensor(gram)).values.toTypedArray();
  return Math.sqrt(Math.max(...values));
}

const rowSums = (h: number[][]): number[] => h.map((row) => row.reduce((a, b) => a + b, 0));
const colSums = (h: number[][]): number[] => h[0]!.map((_, j) => h.reduce((a, row) => a + row[j]!, 0));
const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Every per-layer quantity of one matrix, by loops. */
function naiveLayer(h: number[][]): Record<string, number> {
  const n = h.length;
  let identity = 0;
  let off = 0;
  let negatives = 0;
  let negativeMass = 0;
  h.forEach((row, i) => {
    row.forEach((v, j) => {
      identity += (v - (i === j ? 1 : 0)) ** 2;
      if (i !== j) off += Math.abs(v);
      if (v < 0) {
        negatives++;
        negativeMass -= v;
      }
    });
  });
  return {
    forwardGain: Math.max(...h.map((row) => row.reduce((a, v) => a + Math.abs(v), 0))),
    backwardGain: Math.max(...h[0]!.map((_, j) => h.reduce((a, row) => a + Math.abs(row[j]!), 0))),
    sigmaMax: sigmaMaxByEigh(h),
    identityDistance: Math.sqrt(identity),
    offDiagonalMass: off / n,
    negativeFraction: negatives / (n * n),
    negativeMass: negativeMass / n,
    rowSumDeviation: Math.max(...rowSums(h).map((s) => Math.abs(s - 1))),
    colSumDeviation: Math.max(...colSums(h).map((s) => Math.abs(s - 1))),
  };
}

function expectDiagnostics(actual: object, expected: Record<string, number>, tol: number): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, value] of Object.entries(expected)) {
    expect(
      Math.abs((actual as Record<string, number>)[key]! - value),
      `${key}: ${(actual as Record<string, number>)[key]} vs ${value}`,
    ).toBeLessThanOrEqual(tol * (1 + Math.abs(value)));
  }
}

describe('layerDiagnostics', () => {
  it('equals the mean over tokens of loop-computed quantities, for random matrices with negative entries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1e6 }),
        (n, batch, seq, seed) => {
          const h = new Random(seed).normal([batch, seq, n, n]);
          const perToken = matrices(h).map(naiveLayer);
          const expected = Object.fromEntries(
            Object.keys(perToken[0]!).map((key) => [key, mean(perToken.map((d) => d[key]!))]),
          );
          // σ_max from eigh(HᵀH) carries the square-root's loss of half the digits for tiny σ only; σ here is O(1)
          expectDiagnostics(layerDiagnostics(mapsOf(h)), expected, roundingTol('float64', n, 64));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives the closed forms for I and for sHC’s vertex 2J − I', () => {
    for (let n = 2; n <= 6; n++) {
      const identity = tensor(
        Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))),
      );
      expectDiagnostics(
        layerDiagnostics(mapsOf(identity.reshape([1, 1, n, n]))),
        {
          forwardGain: 1,
          backwardGain: 1,
          sigmaMax: 1,
          identityDistance: 0,
          offDiagonalMass: 0,
          negativeFraction: 0,
          negativeMass: 0,
          rowSumDeviation: 0,
          colSumDeviation: 0,
        },
        roundingTol('float64', n),
      );
      const vertex = tensor(
        Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => 2 / n - (i === j ? 1 : 0))),
      );
      const diag = Math.abs(2 / n - 1);
      expectDiagnostics(
        layerDiagnostics(mapsOf(vertex.reshape([1, 1, n, n]))),
        {
          forwardGain: diag + (2 * (n - 1)) / n,
          backwardGain: diag + (2 * (n - 1)) / n,
          sigmaMax: 1,
          identityDistance: 2 * Math.sqrt(n - 1),
          offDiagonalMass: (2 * (n - 1)) / n,
          negativeFraction: n > 2 ? 1 / n : 0,
          negativeMass: n > 2 ? 1 - 2 / n : 0,
          rowSumDeviation: 0,
          colSumDeviation: 0,
        },
        roundingTol('float64', n, 64),
      );
    }
  });

  it('reads float32 maps and rejects non-square ones', () => {
    const h = new Random(1).normal([2, 3, 3, 3], { dtype: 'float32' });
    const expected = Object.fromEntries(Object.entries(layerDiagnostics(mapsOf(h.astype('float64')))));
    expectDiagnostics(layerDiagnostics(mapsOf(h)), expected, 0);
    expect(() => layerDiagnostics(mapsOf(zeros([1, 2, 3, 4])))).toThrow(ShapeError);
    expect(() => layerDiagnostics(mapsOf(zeros([1, 2, 3, 4])))).toThrow(/layerDiagnostics: H_res must be/);
  });

  it('refuses what is not maps, and NaN or ±∞ in H_res, with ValueErrors naming the op', () => {
    for (const bad of [null, undefined, 3, 'maps'])
      expect(() => layerDiagnostics(bad as never)).toThrow(/^layerDiagnostics: maps must be TokenMaps/);
    expect(() => layerDiagnostics({} as never)).toThrow(/^layerDiagnostics: maps\.hRes must be a Tensor/);
    const h = eye(3).reshape([1, 1, 3, 3]).clone();
    h.set([0, 0, 1, 2], NaN);
    expect(() => layerDiagnostics(mapsOf(h))).toThrow(ValueError);
    expect(() => layerDiagnostics(mapsOf(h))).toThrow(
      /^layerDiagnostics: maps\.hRes has the non-finite value NaN at flat index 5 of shape \[1,1,3,3\]/,
    );
    expect(() => compositeDiagnostics(null as never)).toThrow(/^compositeDiagnostics: mapsPerLayer must be an array/);
    expect(() => compositeDiagnostics([eye(3), 'x' as never])).toThrow(
      /^compositeDiagnostics: H_res of layer 1 must be a Tensor/,
    );
    expect(() => compositeDiagnostics([eye(3), h.reshape([3, 3])])).toThrow(
      /^compositeDiagnostics: H_res of layer 1 has the non-finite value NaN/,
    );
  });
});

describe('compositeDiagnostics', () => {
  it('reports H_d···H_1 at every depth, against loop products', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 1e6 }),
        (n, depth, seed) => {
          const rng = new Random(seed);
          const layers = Array.from({ length: depth }, () => rng.normal([1, 2, n, n], { std: 0.8 }));
          const result = compositeDiagnostics(layers);
          expect(result.map((r) => r.depth)).toEqual(Array.from({ length: depth }, (_, d) => d + 1));
          let products = matrices(layers[0]!);
          result.forEach((r, d) => {
            if (d > 0) {
              const h = matrices(layers[d]!);
              // P ← H_d · P, token by token
              products = products.map((p, k) =>
                p.map((_, i) => p[0]!.map((_, j) => h[k]![i]!.reduce((acc, hij, l) => acc + hij * p[l]![j]!, 0))),
              );
            }
            const gain = (f: (p: number[][]) => number): number => mean(products.map(f));
            const expected = {
              depth: d + 1,
              forwardGain: gain((p) => Math.max(...p.map((row) => row.reduce((a, v) => a + Math.abs(v), 0)))),
              backwardGain: gain((p) =>
                Math.max(...p[0]!.map((_, j) => p.reduce((a, row) => a + Math.abs(row[j]!), 0))),
              ),
              sigmaMax: gain(sigmaMaxByEigh),
              homogenisation: gain((p) => Math.sqrt(p.flat().reduce((a, v) => a + (v - 1 / n) ** 2, 0))),
            };
            expectDiagnostics(r, expected, roundingTol('float64', n * (d + 1), 64));
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('homogenisation is 0 for J, and the product order is H_2·H_1 (not H_1·H_2)', () => {
    const uniform = full([1, 1, 3, 3], 1 / 3);
    expect(compositeDiagnostics([uniform, uniform])[1]!.homogenisation).toBeLessThan(1e-15);
    // H_1 = e_0·1ᵀ and H_2 = diag(0, 1, 1) do not commute:
    const h1 = tensor([
      [
        [
          [1, 1, 1],
          [0, 0, 0],
          [0, 0, 0],
        ],
      ],
    ]);
    const h2 = tensor([
      [
        [
          [0, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
      ],
    ]);
    // H_2·H_1 = 0 and H_1·H_2 = [[0,1,1],[0,0,0],[0,0,0]]
    expect(compositeDiagnostics([h1, h2])[1]!.forwardGain).toBe(0);
    expect(compositeDiagnostics([h2, h1])[1]!.forwardGain).toBe(2);
    expect(compositeDiagnostics([])).toEqual([]);
    // unconstrained maps overflow over depth: a ValueError naming the depth, not a failing SVD
    const big = mul(eye(3), 1e200).reshape([1, 1, 3, 3]);
    expect(() => compositeDiagnostics([big, big])).toThrow(
      /^compositeDiagnostics: the product of layers 0\.\.1 \(its entries overflow float64\) has the non-finite value/,
    );
    expect(compositeDiagnostics([big])[0]!.sigmaMax).toBeCloseTo(1e200, -190);
    expect(() => compositeDiagnostics([h1, zeros([1, 2, 3, 3])])).toThrow(/layer 1 has H_res of shape \[1,2,3,3\]/);
  });
});

describe('parameterCount and the diagnostics’ side effects', () => {
  it('counts each parameter once (tied ones too), as the sum of sizes', () => {
    const layer = createHyperConnection('mhc', { n: 3, dim: 2, layerIndex: 0 });
    expect(parameterCount(layer)).toBe(layer.namedParameters().reduce((a, [, p]) => a + p.value.size, 0));
    class Tied extends nn.Module {
      readonly a: nn.Linear;
      readonly b: nn.Linear;
      constructor() {
        super();
        this.a = new nn.Linear(2, 3, new Random(0));
        this.b = this.a;
      }
    }
    expect(parameterCount(new Tied())).toBe(9);
  });

  it('reading diagnostics changes neither the maps nor later results', () => {
    const rng = new Random(4);
    for (const variant of ['hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'] as const) {
      const layer = randomLayer(variant, { n: 3, dim: 2, layerIndex: 0 }, 4, 0.5);
      const x = variable(randomState(rng, [1, 3, 3, 2], 1));
      const w = rng.normal([2, 2]);
      const first = layer.forward(x, tanhBranch(w)).value.toTypedArray();
      const snapshot = layer.lastMaps!.hRes.toTypedArray().slice();
      layerDiagnostics(layer.lastMaps!);
      compositeDiagnostics([layer.lastMaps!.hRes, layer.maps(x).hRes]);
      expect(layer.lastMaps!.hRes.toTypedArray()).toEqual(snapshot);
      expect(layer.forward(x, tanhBranch(w)).value.toTypedArray()).toEqual(first);
    }
  });
});
