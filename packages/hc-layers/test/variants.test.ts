/**
 * The layers' API: the factory, both call styles, the update against a loop reference,
 * maps/lastMaps, parameter groups and counts, errors, the stream helpers, and the power-method
 * bound of shcPower.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  diagEmbed,
  DTypeError,
  full,
  matmul,
  matrixNorm,
  Random,
  ShapeError,
  tensor,
  ValueError,
  zeros,
} from '@hyperconn/tensor';
import { gradients, mul, param, sum, variable, type Variable } from '@hyperconn/autograd';
import { expectClose } from '../../../test/support/assert';
import {
  createHyperConnection,
  expandStreams,
  HCLayer,
  MHCLayer,
  parameterCount,
  reduceStreams,
  type SHCLayer,
  type SHCPowerLayer,
  spectralNormBound,
  VARIANTS,
  type Variant,
} from '../src/index';
import {
  MAX_N,
  randomLayer,
  randomState,
  referenceUpdate,
  rmsNormLoop,
  roundingTol,
  tanhBranch,
  tanhBranchLoop,
  vecMat,
} from './layer-helpers';

const CONSTRAINED = ['hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'] as const;

describe('createHyperConnection', () => {
  it('returns the named variant, and the residual for n = 1 whatever the variant', () => {
    for (const variant of VARIANTS) {
      const layer = createHyperConnection(variant, { n: 3, dim: 2, layerIndex: 0 });
      expect(layer.variant).toBe(variant);
      expect(layer.n).toBe(variant === 'residual' ? 1 : 3);
      const single = createHyperConnection(variant, { n: 1, dim: 2, layerIndex: 0 });
      expect(single.variant).toBe('residual');
      expect(parameterCount(single)).toBe(0);
    }
  });

  it('refuses mHC-lite above maxN, naming the factorial and suggesting sHC', () => {
    expect(() => createHyperConnection('mhcLite', { n: 9, dim: 2, layerIndex: 0 })).toThrow(ValueError);
    expect(() => createHyperConnection('mhcLite', { n: 9, dim: 2, layerIndex: 0 })).toThrow(/9! = 362880.*'shc'/);
    expect(() => createHyperConnection('mhcLite', { n: 5, dim: 2, layerIndex: 0, maxN: 4 })).toThrow(/5! = 120/);
    expect(createHyperConnection('mhcLite', { n: 4, dim: 2, layerIndex: 0, maxN: 4 }).n).toBe(4);
  });

  it('refuses KromHC when a prime factor of n exceeds maxFactor, naming it and its factorial', () => {
    expect(() => createHyperConnection('kromhc', { n: 11, dim: 2, layerIndex: 0 })).toThrow(ValueError);
    expect(() => createHyperConnection('kromhc', { n: 22, dim: 2, layerIndex: 0 })).toThrow(
      /^KromHCLayer: n = 22 has the prime factor 11 > maxFactor = 8 .*11! = 39916800 permutation.*'shc'/,
    );
    expect(() => createHyperConnection('kromhc', { n: 6, dim: 2, layerIndex: 0, maxFactor: 2 })).toThrow(
      /prime factor 3 > maxFactor = 2 .*3! = 6/,
    );
    // powers of two never exceed maxFactor = 2; 16 needs 4 factors of 2 logits each, not 16!
    expect(createHyperConnection('kromhc', { n: 16, dim: 1, layerIndex: 0, maxFactor: 2 }).n).toBe(16);
    expect(() => createHyperConnection('kromhc', { n: 4, dim: 2, layerIndex: 0, maxFactor: 0 })).toThrow(
      /^KromHCLayer: maxFactor must be an integer ≥ 1, got 0/,
    );
  });

  it('rejects bad options with ValueErrors naming them', () => {
    expect(() => createHyperConnection('shc' as Variant, { n: 0, dim: 2, layerIndex: 0 })).toThrow(
      /n must be a positive integer, got 0/,
    );
    expect(() => createHyperConnection('nope' as Variant, { dim: 2, layerIndex: 0 })).toThrow(/unknown variant 'nope'/);
    expect(() => createHyperConnection('mhc', { dim: 0, layerIndex: 0 })).toThrow(/MHCLayer: dim/);
    expect(() => createHyperConnection('hc', { dim: 2, layerIndex: -1 })).toThrow(/HCLayer: layerIndex/);
    expect(() => createHyperConnection('mhc', { dim: 2, layerIndex: 0, sinkhornIters: 0 })).toThrow(/sinkhornIters/);
    expect(() => createHyperConnection('shc', { dim: 2, layerIndex: 0, eps: -1 })).toThrow(/eps/);
    expect(() => createHyperConnection('shcPower', { dim: 2, layerIndex: 0, powerIters: 1.5 })).toThrow(/powerIters/);
    expect(() => createHyperConnection('hc', null as never)).toThrow(
      /^createHyperConnection: options must be an object/,
    );
    expect(() => new MHCLayer(undefined as never)).toThrow(/^MHCLayer: options must be an object/);
    expect(() => new HCLayer({ dim: 2, layerIndex: 0, dynamic: 'no' as never })).toThrow(
      /^HCLayer: dynamic must be true or false, got a string/,
    );
    expect(() => new HCLayer({ dim: 2, layerIndex: 0, tanh: 1 as never })).toThrow(
      /^HCLayer: tanh must be true or false/,
    );
  });
});

describe('the update X′ = H_res·X + H_postᵀ·F(H_pre·X)', () => {
  it('matches a loop over tokens built from lastMaps, for random parameters (rows of H_res = output streams)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VARIANTS),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1e6 }),
        (variant, nWanted, dim, seed) => {
          const n = variant === 'residual' ? 1 : Math.min(nWanted, MAX_N[variant]);
          const rng = new Random(seed);
          const layer = randomLayer(variant, { n, dim, layerIndex: seed % 7, sinkhornIters: 5 }, seed, 0.5);
          const x = randomState(rng, [2, 3, n, dim], 3);
          const w = rng.normal([dim, dim]);
          const y = layer.forward(variable(x), tanhBranch(w));
          const { reference } = referenceUpdate(x, layer.lastMaps!, tanhBranchLoop(w));
          expectClose(y.value.toTypedArray(), reference, {
            rtol: roundingTol('float64', n * dim),
            atol: roundingTol('float64', n * dim),
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is the same in both call styles (forward and split + merge), and passes extra arguments to the branch', () => {
    const rng = new Random(3);
    for (const variant of VARIANTS) {
      const layer = randomLayer(variant, { n: 3, dim: 4, layerIndex: 1 }, 11, 0.5);
      const x = variable(randomState(rng, [2, 2, layer.n, 4], 2));
      const w = rng.normal([4, 4]);
      const seen: number[] = [];
      const branch = {
        forward: (u: Variable, scale: number): Variable => {
          seen.push(scale);
          return mul(tanhBranch(w)(u), scale);
        },
      };
      const viaForward = layer.forward(x, branch, 0.5);
      const { branchInput, merge } = layer.split(x);
      const viaSplit = merge(branch.forward(branchInput, 0.5));
      expect(seen).toEqual([0.5, 0.5]);
      expect(viaSplit.value.toTypedArray()).toEqual(viaForward.value.toTypedArray());
    }
  });

  it('uses H_res = A_rᵀ for HC: rows of A_r index input streams', () => {
    const layer = new HCLayer({ n: 3, dim: 2, layerIndex: 0, dynamic: false });
    const aR = [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ];
    layer.resBias.value.assign(tensor(aR));
    const x = tensor([
      [
        [
          [1, 0],
          [0, 1],
          [1, 1],
        ],
      ],
    ]);
    const y = layer.forward(variable(x), (u) => mul(u, 0));
    // output stream t = Σ_s A_r[s][t]·X_s
    const expected = [0, 1, 2].map((t) =>
      [0, 1].map((c) => [0, 1, 2].reduce((acc, s) => acc + aR[s]![t]! * x.get(0, 0, s, c), 0)),
    );
    expectClose(y.value.reshape([3, 2]), tensor(expected));
    expectClose(layer.lastMaps!.hRes.reshape([3, 3]), tensor(aR).mT);
  });

  it('checks shapes and dtypes with typed errors', () => {
    const layer = createHyperConnection('shc', { n: 3, dim: 4, layerIndex: 0 });
    expect(() => layer.forward(variable(zeros([2, 3, 4])), (u) => u)).toThrow(ShapeError);
    expect(() => layer.forward(variable(zeros([1, 1, 2, 4])), (u) => u)).toThrow(
      /SHCLayer: input of shape \[1,1,2,4\] must be \[batch, seq, 3, 4\]/,
    );
    expect(() => layer.forward(variable(zeros([1, 1, 3, 4], { dtype: 'float32' })), (u) => u)).toThrow(DTypeError);
    expect(() => layer.forward(variable(zeros([1, 2, 3, 4])), () => variable(zeros([1, 2, 5])))).toThrow(
      /branch output has shape \[1,2,5\], expected \[1,2,4\]/,
    );
  });

  it('takes a Tensor as a constant input in forward, split and maps alike; anything else is a ValueError', () => {
    for (const variant of VARIANTS) {
      const layer = randomLayer(variant, { n: variant === 'residual' ? 1 : 3, dim: 2, layerIndex: 1 }, 2, 0.3);
      const x = randomState(new Random(3), [1, 2, layer.n, 2], 1);
      const branch = (u: Variable): Variable => mul(u, 0.5);
      const viaTensor = layer.forward(x, branch);
      expect(viaTensor.requiresGrad).toBe(layer.parameters().length > 0);
      expect(viaTensor.value.toArray()).toEqual(layer.forward(variable(x), branch).value.toArray());
      const { branchInput, merge } = layer.split(x);
      expect(merge(branch(branchInput)).value.toArray()).toEqual(viaTensor.value.toArray());
      expect(layer.maps(x).hRes.toArray()).toEqual(layer.lastMaps!.hRes.toArray());
      for (const bad of [null, undefined, [[[[1, 2]]]], 3]) {
        for (const call of [
          () => layer.forward(bad as never, branch),
          () => layer.split(bad as never),
          () => layer.maps(bad as never),
        ]) {
          expect(call).toThrow(ValueError);
          expect(call).toThrow(new RegExp(`^${layer.constructor.name}: input must be a Variable or a Tensor`));
        }
      }
    }
  });

  it('refuses a branch that is not callable, returns a Tensor, or returns another dtype', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const other = dtype === 'float32' ? 'float64' : 'float32';
      const layer = createHyperConnection('mhc', { n: 2, dim: 3, layerIndex: 0, dtype });
      const x = full([1, 2, 2, 3], 1, { dtype });
      expect(() => layer.forward(x, (u) => variable(u.value.astype(other)))).toThrow(DTypeError);
      expect(() => layer.forward(x, (u) => variable(u.value.astype(other)))).toThrow(
        new RegExp(`^MHCLayer: the branch returned ${other} but the layer is ${dtype}`),
      );
      expect(() => layer.split(x).merge(variable(zeros([1, 2, 3], { dtype: other })))).toThrow(DTypeError);
    }
    const layer = createHyperConnection('hc', { n: 2, dim: 3, layerIndex: 0 });
    const x = full([1, 2, 2, 3], 1);
    expect(() => layer.forward(x, (u) => u.value as never)).toThrow(
      /^HCLayer: the branch must return a Variable, got a Tensor \(wrap it with variable\(\)/,
    );
    expect(() => layer.forward(x, null as never)).toThrow(
      /^HCLayer: the branch must be a function or a module with a forward method, got null/,
    );
    expect(() => layer.forward(x, {} as never)).toThrow(/^HCLayer: the branch must be a function or a module/);
  });

  it('never passes NaN on: non-finite input or maps are ValueErrors naming the layer', () => {
    for (const variant of ['hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'] as const) {
      const x = zeros([1, 2, 3, 2]);
      x.set([0, 1, 2, 1], NaN);
      const layer = createHyperConnection(variant, { n: 3, dim: 2, layerIndex: 0 });
      expect(() => layer.forward(variable(x), (u) => u)).toThrow(
        /input of shape \[1,2,3,2\] has the non-finite value NaN at flat index 11/,
      );
      expect(() => layer.maps(x)).toThrow(ValueError);
      // eps = 0 and an all-zero token: RMSNorm is 0/0, reported by every variant under its own
      // name with the token and the fix (before Sinkhorn, Cayley or the permutation mixture see it)
      const exact = randomLayer(variant, { n: 3, dim: 2, layerIndex: 0, eps: 0 }, 1, 0.5);
      const zero = variable(zeros([1, 2, 3, 2]));
      expect(() => exact.forward(zero, (u) => u)).toThrow(ValueError);
      expect(() => exact.forward(zero, (u) => u)).toThrow(
        new RegExp(
          `^${exact.constructor.name}: .*token \\(batch 0, position 0\\) has ` +
            `the non-finite value NaN although the input is finite .*use eps > 0`,
        ),
      );
      // with the default eps the zero state is fine
      expect(
        createHyperConnection(variant, { n: 3, dim: 2, layerIndex: 0 })
          .maps(zeros([1, 2, 3, 2]))
          .hRes.toTypedArray()
          .every(Number.isFinite),
      ).toBe(true);
    }
  });
});

/** Solves A X = B for small dense systems by Gauss–Jordan elimination with partial pivoting. */
function solveLoop(a: number[][], b: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      for (let c = col; c < m[r]!.length; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row.slice(n).map((v) => v / row[i]!));
}

const mm = (a: number[][], b: number[][]): number[][] =>
  a.map((row) => b[0]!.map((_, j) => row.reduce((acc, v, k) => acc + v * b[k]![j]!, 0)));
const tr = (a: number[][]): number[][] => a[0]!.map((_, j) => a.map((row) => row[j]!));
const identity = (n: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
/** Helmert basis from its definition. */
const helmert = (n: number): number[][] =>
  Array.from({ length: n }, (_, r) =>
    Array.from({ length: n - 1 }, (_, c) => (r <= c ? 1 : r === c + 1 ? -(c + 1) : 0) / Math.sqrt((c + 1) * (c + 2))),
  );
/** J + U_z E U_zᵀ. */
const onSphere = (e: number[][]): number[][] => {
  const n = e.length + 1;
  const uz = helmert(n);
  return mm(mm(uz, e), tr(uz)).map((row) => row.map((v) => v + 1 / n));
};
const vals = (v: Variable): number[] => Array.from(v.value.toTypedArray());

describe('maps against the spec’s formulas, by loops', () => {
  /** H_res, H_pre, H_post of one token. */
  interface Reference {
    hRes: number[][];
    hPre: number[];
    hPost: number[];
  }
  /** Compares the maps with `reference(layer, X of one token as its rows concatenated)` per token. */
  function compareMaps(
    variant: Variant,
    n: number,
    reference: (layer: never, x: number[]) => Reference,
    options = {},
  ): void {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 3 }), (seed, dim) => {
        const layer = randomLayer(variant, { n, dim, layerIndex: 0, ...options }, seed, 0.5);
        const x = randomState(new Random(seed + 1), [1, 3, n, dim], 2);
        const maps = layer.maps(x);
        const xs = Array.from(x.toTypedArray());
        for (let token = 0; token < 3; token++) {
          const expected = reference(layer as never, xs.slice(token * n * dim, (token + 1) * n * dim));
          const tol = { rtol: 1e-10, atol: 1e-10 };
          expectClose(maps.hRes.slice(0, token).toTypedArray(), expected.hRes.flat(), tol);
          expectClose(maps.hPre.slice(0, token).toTypedArray(), expected.hPre, tol);
          expectClose(maps.hPost.slice(0, token).toTypedArray(), expected.hPost, tol);
        }
      }),
      { numRuns: 30 },
    );
  }
  const rms = (v: readonly number[], gain: Variable): number[] =>
    Array.from(rmsNormLoop(v, gain.value.toTypedArray(), 1e-6));
  const project = (v: readonly number[], w: Variable): number[] => Array.from(vecMat(v, w.value));
  const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));
  /** σ(scale·(v W_pre) + b_pre) and 2σ(scale·(v W_post) + b_post). */
  const gatesOf = (
    v: number[],
    wPre: Variable,
    wPost: Variable,
    sPre: Variable,
    sPost: Variable,
    bPre: Variable,
    bPost: Variable,
  ): { hPre: number[]; hPost: number[] } => ({
    hPre: project(v, wPre).map((z, i) => sigmoid(sPre.value.item() * z + vals(bPre)[i]!)),
    hPost: project(v, wPost).map((z, i) => 2 * sigmoid(sPost.value.item() * z + vals(bPost)[i]!)),
  });

  it(
    'hc: H_res = (A_r + s_α·tanh(X̄ W_r))ᵀ, H_pre = A_m + s_α·tanh(X̄ ' +
      'W_m), H_post = B + s_β·tanh(X̄ W_β), X̄ per-stream RMSNorm',
    () => {
      for (const n of [2, 3, 4]) {
        compareMaps('hc', n, (layer: HCLayer, x) => {
          const dim = x.length / n;
          const aR = vals(layer.resBias);
          const sAlpha = layer.preResScale!.value.item();
          const normed = Array.from({ length: n }, (_, s) => rms(x.slice(s * dim, (s + 1) * dim), layer.norm!.weight));
          const rows = normed.map((xBar, s) =>
            project(xBar, layer.resWeight!).map((d, t) => aR[s * n + t]! + sAlpha * Math.tanh(d)),
          );
          return {
            hRes: tr(rows),
            hPre: normed.map(
              (xBar, s) => vals(layer.preBias)[s]! + sAlpha * Math.tanh(project(xBar, layer.preWeight!)[0]!),
            ),
            hPost: normed.map(
              (xBar, s) =>
                vals(layer.postBias)[s]! +
                layer.postScale!.value.item() * Math.tanh(project(xBar, layer.postWeight!)[0]!),
            ),
          };
        });
      }
    },
  );

  it('mhc: Sinkhorn (columns, then rows; t times) of α_res·mat(v φ_res) + b_res', () => {
    for (const n of [2, 3, 5]) {
      compareMaps(
        'mhc',
        n,
        (layer: MHCLayer, x) => {
          const v = rms(x, layer.norm.weight);
          const z = project(v, layer.resWeight);
          const b = vals(layer.resBias);
          const alpha = layer.resScale.value.item();
          let m = Array.from({ length: n }, (_, i) =>
            Array.from({ length: n }, (_, j) => Math.exp(alpha * z[i * n + j]! + b[i * n + j]!)),
          );
          for (let t = 0; t < 7; t++) {
            const cols = m[0]!.map((_, j) => m.reduce((a, row) => a + row[j]!, 0));
            m = m.map((row) => row.map((v, j) => v / cols[j]!));
            m = m.map((row) => row.map((entry) => entry / row.reduce((a, b2) => a + b2, 0)));
          }
          return {
            hRes: m,
            ...gatesOf(
              v,
              layer.preWeight,
              layer.postWeight,
              layer.preScale,
              layer.postScale,
              layer.preBias,
              layer.postBias,
            ),
          };
        },
        { sinkhornIters: 7 },
      );
    }
  });

  it('shc: J + U_z U diag(s) Vᵀ U_zᵀ with U, V Cayley transforms of skew(γ·tanh(ρ·z + c))', () => {
    for (const n of [2, 3, 4, 5]) {
      compareMaps('shc', n, (layer: SHCLayer, x) => {
        const m = n - 1;
        const k = (m * (m - 1)) / 2;
        const vec = rms(x, layer.norm.weight);
        const z = project(vec, layer.resWeight);
        const s = z
          .slice(2 * k)
          .map((zi, i) => Math.tanh(layer.resScaleS.value.item() * zi + vals(layer.resBiasS)[i]!));
        const rotation = (
          offset: number,
          rho: Variable | null,
          gamma: Variable | null,
          c: Variable | null,
        ): number[][] => {
          if (k === 0) return identity(m);
          const a = identity(m).map((row) => row.map(() => 0));
          let r = 0;
          for (let i = 0; i < m; i++) {
            for (let j = i + 1; j < m; j++, r++) {
              const value = gamma!.value.item() * Math.tanh(rho!.value.item() * z[offset + r]! + vals(c!)[r]!);
              a[i]![j] = value;
              a[j]![i] = -value;
            }
          }
          const plus = a.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) + v));
          const minus = a.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) - v));
          return solveLoop(plus, minus);
        };
        const u = rotation(0, layer.resScaleU, layer.resGainU, layer.resBiasU);
        const v = rotation(k, layer.resScaleV, layer.resGainV, layer.resBiasV);
        const hRes = onSphere(
          mm(
            u.map((row) => row.map((x2, j) => x2 * s[j]!)),
            tr(v),
          ),
        );
        return {
          hRes,
          ...gatesOf(
            vec,
            layer.preWeight,
            layer.postWeight,
            layer.preScale,
            layer.postScale,
            layer.preBias,
            layer.postBias,
          ),
        };
      });
    }
  });

  it('shcPower: J + U_z (Ẽ / max(1, σ_max(Ẽ))) U_zᵀ, Ẽ = mat(v W_res + c) (40 squarings: σ̂ = σ_max to 1e-12)', () => {
    for (const n of [2, 3, 4]) {
      compareMaps(
        'shcPower',
        n,
        (layer: SHCPowerLayer, x) => {
          const m = n - 1;
          const vec = rms(x, layer.norm.weight);
          const z = project(vec, layer.resWeight);
          const free = Array.from({ length: m }, (_, i) =>
            Array.from({ length: m }, (_, j) => z[i * m + j]! + vals(layer.resBias)[i * m + j]!),
          );
          const sigma = matrixNorm(tensor(free), 2).item();
          const hRes = onSphere(free.map((row) => row.map((v) => v / Math.max(1, sigma))));
          return {
            hRes,
            ...gatesOf(
              vec,
              layer.preWeight,
              layer.postWeight,
              layer.preScale,
              layer.postScale,
              layer.preBias,
              layer.postBias,
            ),
          };
        },
        { powerIters: 40 },
      );
    }
  });
});

describe('maps and lastMaps', () => {
  it('lastMaps is null before the first call, then holds detached maps = maps(x); maps() changes nothing', () => {
    const rng = new Random(5);
    for (const variant of CONSTRAINED) {
      const layer = randomLayer(variant, { n: 3, dim: 3, layerIndex: 2 }, 5, 0.5);
      expect(layer.lastMaps).toBeNull();
      const x = variable(randomState(rng, [1, 4, 3, 3], 2));
      const w = rng.normal([3, 3]);
      const first = layer.forward(x, tanhBranch(w)).value.toTypedArray();
      const last = layer.lastMaps!;
      const maps = layer.maps(x.value);
      expect(layer.lastMaps).toBe(last);
      for (const key of ['hRes', 'hPre', 'hPost'] as const)
        expect(maps[key].toTypedArray()).toEqual(last[key].toTypedArray());
      expect([...maps.hRes.shape]).toEqual([1, 4, 3, 3]);
      expect([...maps.hPre.shape]).toEqual([1, 4, 3]);
      expect([...maps.hPost.shape]).toEqual([1, 4, 3]);
      // the same forward again gives the same result (no hidden state moved)
      expect(layer.forward(x, tanhBranch(w)).value.toTypedArray()).toEqual(first);
    }
  });
});

describe('lastMaps are snapshots', () => {
  it('do not move when the parameters they came from are updated in place', () => {
    for (const shape of [
      [1, 1],
      [2, 3],
    ] as const) {
      const layer = new HCLayer({ n: 3, dim: 2, layerIndex: 0, dynamic: false });
      layer.forward(variable(zeros([...shape, 3, 2])), (u) => u);
      const before = layer.lastMaps!;
      const copies = [before.hRes, before.hPre, before.hPost].map((t) => t.toTypedArray().slice());
      for (const p of layer.parameters()) p.value.assign(7);
      expect([before.hRes, before.hPre, before.hPost].map((t) => t.toTypedArray())).toEqual(copies);
    }
  });
});

describe('parameters', () => {
  /**
   * The spec's counts; n = 4 gives HC 7C + 26, mHC 100C + 27, mHC-lite 132C + 35, KromHC 52C + 15,
   * sHC 72C + 24, shcPower 72C + 19.
   */
  const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
  /** KromHC's logits per token: Σ i! over the prime factors i of n (with multiplicity), by trial division. */
  const kromhcLogits = (n: number): number => {
    let total = 0;
    for (let p = 2, rest = n; rest > 1; p++) for (; rest % p === 0; rest /= p) total += factorial(p);
    return total;
  };
  const expectedCount: Record<(typeof CONSTRAINED)[number], (n: number, c: number) => number> = {
    hc: (n, c) => (n + 3) * c + n * n + 2 * n + 2,
    mhc: (n, c) => n * c * (1 + 2 * n + n * n) + n * n + 2 * n + 3,
    mhcLite: (n, c) => n * c * (1 + 2 * n + factorial(n)) + factorial(n) + 2 * n + 3,
    kromhc: (n, c) => n * c * (1 + 2 * n + kromhcLogits(n)) + kromhcLogits(n) + 2 * n + 3,
    shc: (n, c) => n * c * (1 + 2 * n + (n - 1) ** 2) + 2 * n + (n - 1) ** 2 + 3 + (n >= 3 ? 4 : 0),
    shcPower: (n, c) => n * c * (1 + 2 * n + (n - 1) ** 2) + 2 * n + (n - 1) ** 2 + 2,
  };

  it('count as the spec says at n = 4', () => {
    for (const c of [1, 8, 64]) {
      const count = (variant: Variant): number =>
        parameterCount(createHyperConnection(variant, { n: 4, dim: c, layerIndex: 0 }));
      expect(count('hc')).toBe(7 * c + 26);
      expect(count('mhc')).toBe(100 * c + 27);
      expect(count('mhcLite')).toBe(132 * c + 35);
      expect(count('kromhc')).toBe(52 * c + 15);
      expect(count('shc')).toBe(72 * c + 24);
      expect(count('shcPower')).toBe(72 * c + 19);
      expect(count('residual')).toBe(0);
      expect(parameterCount(new HCLayer({ n: 4, dim: c, layerIndex: 0, dynamic: false }))).toBe(24);
    }
  });

  it('count as the general formulas for n = 2..6', () => {
    for (const variant of CONSTRAINED) {
      for (let n = 2; n <= MAX_N[variant]; n++) {
        expect(parameterCount(createHyperConnection(variant, { n, dim: 3, layerIndex: 0 })), `${variant} n=${n}`).toBe(
          expectedCount[variant](n, 3),
        );
      }
    }
  });

  it('split into decay (projection weights) and noDecay (everything else), covering every parameter once', () => {
    const projections: Record<(typeof CONSTRAINED)[number], string[]> = {
      hc: ['preWeight', 'resWeight', 'postWeight'],
      mhc: ['preWeight', 'postWeight', 'resWeight'],
      mhcLite: ['preWeight', 'postWeight', 'resWeight'],
      kromhc: ['preWeight', 'postWeight', 'resWeight'],
      shc: ['preWeight', 'postWeight', 'resWeight'],
      shcPower: ['preWeight', 'postWeight', 'resWeight'],
    };
    for (const variant of CONSTRAINED) {
      const layer = createHyperConnection(variant, { n: 3, dim: 2, layerIndex: 0 });
      const names = new Map(layer.namedParameters().map(([name, p]) => [p, name]));
      const { decay, noDecay } = layer.parameterGroups();
      expect(decay.map((p) => names.get(p)).sort()).toEqual([...projections[variant]].sort());
      expect(noDecay.length + decay.length).toBe(names.size);
      expect(new Set([...decay, ...noDecay]).size).toBe(names.size);
      expect(noDecay.map((p) => names.get(p))).toContain('norm.weight');
    }
  });

  it('round-trip through stateDict/loadStateDict', () => {
    const a = randomLayer('shc', { n: 4, dim: 3, layerIndex: 0 }, 1, 1);
    const b = createHyperConnection('shc', { n: 4, dim: 3, layerIndex: 0 });
    b.loadStateDict(a.stateDict());
    const x = randomState(new Random(2), [1, 2, 4, 3], 1);
    expect(b.maps(x).hRes.toTypedArray()).toEqual(a.maps(x).hRes.toTypedArray());
  });
});

describe('stream helpers', () => {
  it('expandStreams repeats, reduceStreams sums, and the gradient of the composition is n', () => {
    const x = param(new Random(0).normal([2, 3, 4]));
    const expanded = expandStreams(x, 5);
    expect([...expanded.shape]).toEqual([2, 3, 5, 4]);
    for (let s = 0; s < 5; s++) expect(expanded.value.slice(null, null, s, null).toArray()).toEqual(x.value.toArray());
    const reduced = reduceStreams(expanded);
    expectClose(reduced.value, mul(x, 5).value, { rtol: 4e-16, atol: 0 });
    const [g] = gradients(sum(reduced), [x]);
    expectClose(
      g!.value,
      mul(x, 0)
        .value.toTypedArray()
        .map(() => 5),
      { rtol: 0, atol: 0 },
    );
    expect(() => expandStreams(x, 0)).toThrow(/expandStreams: n must be a positive integer/);
    expect(() => reduceStreams(x)).toThrow(/reduceStreams: x must be \[batch, seq, n, C\]/);
  });
});

describe('shcPower: spectralNormBound', () => {
  it('bounds σ_max from above within the factor m^(1/2^(K+1)), for any spectrum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.constantFrom(1e-3, 1, 1e3),
        (m, squarings, seed, scale) => {
          const rng = new Random(seed);
          // near-ties of the top singular value included: U diag(s) Vᵀ with s drawn close together half the time
          const s = Array.from({ length: m }, (_, i) => scale * (seed % 2 === 0 ? 1 - 1e-9 * i : rng.float()));
          const rotated = matmul(matmul(rng.orthogonal(m), diagEmbed(tensor(s))), rng.orthogonal(m));
          const exact = matrixNorm(rotated, 2).item();
          const bound = spectralNormBound(variable(rotated), squarings).item();
          const slack = 1e-13 * exact;
          expect(bound).toBeGreaterThanOrEqual(exact - slack);
          expect(bound).toBeLessThanOrEqual(exact * m ** (1 / 2 ** (squarings + 1)) + slack);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives the Frobenius norm with 0 squarings and 0 (with a zero, finite gradient) for a zero matrix', () => {
    const a = tensor([
      [3, 0],
      [4, 0],
    ]);
    expect(spectralNormBound(variable(a), 0).item()).toBe(5);
    const zero = param(zeros([2, 3, 3]));
    const bound = spectralNormBound(zero, 10);
    expect(bound.value.toArray()).toEqual([0, 0]);
    const [g] = gradients(sum(bound), [zero]);
    expect(g!.value.toTypedArray().every((v) => v === 0)).toBe(true);
  });
});
