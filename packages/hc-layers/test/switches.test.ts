/**
 * The switches (docs/spec/hc-family.md, "Switches" and "Conventions of the reference training
 * code"): `dynamic`, `resMap`, `preMap`, `postMap`, `init`/`rng` on every variant but the residual,
 * and TinyTransformer's `layerIndex` convention. Each is checked against an independent reference:
 * the spec's parameter-count formulas, the shared invariant suite, naive loops for the static and
 * the ablated maps, float64 finite differences, and the statistics of the reference init.
 */
import { describe, expect, it } from 'vitest';
import { Random, type Tensor, ValueError } from '@hyperconn/tensor';
import type { Variable } from '@hyperconn/autograd';
import {
  createHyperConnection,
  type HyperConnection,
  type HyperConnectionOptions,
  parameterCount,
  TinyTransformer,
  type Variant,
} from '../src/index';
import { checkLayerInvariants, DEFAULT_INVARIANTS } from '../src/testing';
import { expectClose } from '../../../test/support/assert';
import { perturb, randomState, referenceUpdate, tanhBranch, tanhBranchLoop, gradcheckLayer } from './layer-helpers';

type Gated = Exclude<Variant, 'residual'>;
const VARIANTS: readonly Gated[] = ['hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'];

interface Switches {
  dynamic: boolean;
  resMap: boolean;
  preMap: boolean;
  postMap: boolean;
}

/** All 16 combinations of the four switches. */
const COMBINATIONS: Switches[] = Array.from({ length: 16 }, (_, i) => ({
  dynamic: (i & 1) === 0,
  resMap: (i & 2) === 0,
  preMap: (i & 4) === 0,
  postMap: (i & 8) === 0,
}));

const label = (s: Switches): string =>
  (['dynamic', 'resMap', 'preMap', 'postMap'] as const)
    .filter((k) => !s[k])
    .map((k) => `${k}: false`)
    .join(', ') || 'defaults';

const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1));

/**
 * The spec's parameter count of one module ("Switches"), written out from the formula, with
 * D, R, P, Q ∈ {0, 1} the switches, N = D·(R ∨ P ∨ Q) the norm, r the width of z and
 * own_R the variant's own H_res parameters.
 */
function specCount(variant: Gated, n: number, c: number, s: Switches): number {
  const [d, r, p, q] = [s.dynamic, s.resMap, s.preMap, s.postMap].map(Number) as [number, number, number, number];
  if (variant === 'hc') {
    const norm = d * Math.max(r, p, q);
    return p * n + r * n * n + q * n + norm * c + d * (p * c + r * c * n + q * c) + d * Math.max(p, r) + d * q;
  }
  const m = n - 1;
  const k = (m * (m - 1)) / 2;
  let width: number;
  let own: number;
  if (variant === 'mhc') [width, own] = [n * n, d + n * n];
  else if (variant === 'mhcLite') [width, own] = [factorial(n), d + factorial(n)];
  else if (variant === 'kromhc') {
    // n = 2, 4, 8 here: factors all 2s, Σ i_k! = 2·log2(n); n = 3: one factor 3
    const sum = n === 3 ? 6 : 2 * Math.log2(n);
    [width, own] = [sum, d + sum];
  } else if (variant === 'shc') [width, own] = [m * m, d * (1 + (k > 0 ? 2 : 0)) + m + (k > 0 ? 2 + 2 * k : 0)];
  else [width, own] = [m * m, m * m];
  const norm = d * Math.max(r, p, q);
  return norm * n * c + (p + q) * (d * (n * c * n + 1) + n) + r * (d * n * c * width + own);
}

describe('parameter counts (the spec formula, every variant × switch combination)', () => {
  it('matches the layer for several n and C, and the defaults give the spec numbers', () => {
    for (const variant of VARIANTS) {
      for (const n of variant === 'kromhc' ? [2, 3, 4, 8] : [2, 3, 4]) {
        for (const dim of [1, 3, 5]) {
          for (const s of COMBINATIONS) {
            const layer = createHyperConnection(variant, { n, dim, layerIndex: 0, ...s });
            expect(parameterCount(layer), `${variant} n=${n} C=${dim} ${label(s)}`).toBe(specCount(variant, n, dim, s));
          }
        }
      }
    }
    // the spec's per-variant defaults at n = 4 (section "Options"): 7C + 26, 100C + 27, …
    const defaults: Record<Gated, [number, number]> = {
      hc: [7, 26],
      mhc: [100, 27],
      mhcLite: [132, 35],
      kromhc: [52, 15],
      shc: [72, 24],
      shcPower: [72, 19],
    };
    for (const variant of VARIANTS) {
      const all = { dynamic: true, resMap: true, preMap: true, postMap: true };
      const [a, b] = defaults[variant];
      expect(specCount(variant, 4, 10, all)).toBe(10 * a + b);
    }
    // the spec's static counts at n = 4 (any C), and every map off: 0
    const staticCounts: Record<Gated, number> = { hc: 24, mhc: 24, mhcLite: 32, kromhc: 12, shc: 19, shcPower: 17 };
    for (const variant of VARIANTS) {
      const layer = createHyperConnection(variant, { n: 4, dim: 10, layerIndex: 0, dynamic: false });
      expect(parameterCount(layer), variant).toBe(staticCounts[variant]);
    }
    for (const variant of VARIANTS) {
      expect(specCount(variant, 4, 10, { dynamic: true, resMap: false, preMap: false, postMap: false })).toBe(0);
    }
  });

  it("init 'reference' adds no parameter", () => {
    for (const variant of VARIANTS) {
      const layer = createHyperConnection(variant, {
        n: 4,
        dim: 3,
        layerIndex: 0,
        init: 'reference',
        rng: new Random(1),
      });
      expect(parameterCount(layer)).toBe(
        parameterCount(createHyperConnection(variant, { n: 4, dim: 3, layerIndex: 0 })),
      );
    }
  });

  it('a switched-off parameter is absent: reading its field is a ValueError naming the switch', () => {
    const mhc = createHyperConnection('mhc', { n: 4, dim: 3, layerIndex: 0, dynamic: false }) as unknown as {
      preWeight: Variable;
      resScale: Variable;
      preBias: Variable;
    };
    expect(() => mhc.preWeight).toThrow(ValueError);
    expect(() => mhc.resScale).toThrow(/MHCLayer: resScale does not exist: .*dynamic: false/);
    expect(mhc.preBias.shape).toEqual([4]);
    const hc = createHyperConnection('hc', { n: 4, dim: 3, layerIndex: 0, resMap: false }) as unknown as {
      resBias: Variable;
      resWeight: Variable | null;
    };
    expect(() => hc.resBias).toThrow(/HCLayer: resBias does not exist: .*resMap: false/);
    expect(hc.resWeight).toBeNull();
  });

  it('bad switch values are ValueErrors naming the option', () => {
    const bad: [Partial<HyperConnectionOptions>, RegExp][] = [
      [{ dynamic: 1 as unknown as boolean }, /dynamic must be true or false/],
      [{ resMap: 'no' as unknown as boolean }, /resMap must be true or false/],
      [{ init: 'normal' as unknown as 'zero' }, /init must be 'zero' or 'reference', got 'normal'/],
      [{ rng: 3 as unknown as Random }, /rng must be a Random/],
    ];
    for (const variant of VARIANTS) {
      for (const [options, message] of bad) {
        expect(() => createHyperConnection(variant, { n: 4, dim: 3, layerIndex: 0, ...options })).toThrow(message);
      }
    }
    // sHC draws, so it needs the generator; mHC's reference init draws nothing
    expect(() => createHyperConnection('shc', { n: 4, dim: 3, layerIndex: 0, init: 'reference' })).toThrow(
      /SHCLayer: init 'reference' draws .* needs a seeded rng/,
    );
    expect(() => createHyperConnection('mhc', { n: 4, dim: 3, layerIndex: 0, init: 'reference' })).not.toThrow();
  });
});

/** n per variant for the property checks (mHC-lite: n! permutations). */
const N: Record<Gated, number> = { hc: 4, mhc: 4, mhcLite: 3, kromhc: 4, shc: 4, shcPower: 4 };

describe('checkLayerInvariants under every switch combination', () => {
  for (const variant of VARIANTS) {
    it(`${variant}: all 16 combinations, and init 'reference'`, () => {
      const cases: [string, HyperConnectionOptions][] = COMBINATIONS.map((s) => [
        label(s),
        { n: N[variant], dim: 3, layerIndex: 1, sinkhornIters: 20, powerIters: 8, ...s },
      ]);
      cases.push([
        "init: 'reference'",
        { n: N[variant], dim: 3, layerIndex: 1, init: 'reference', rng: new Random(5) },
      ]);
      for (const [name, options] of cases) {
        const layer = createHyperConnection(variant, options);
        // the defaults drop `bypass` when H_res is fixed to I (resMap: false)
        const report = checkLayerInvariants(layer, { numRuns: 4, seed: 3, maxAbs: 10 });
        const expected = DEFAULT_INVARIANTS[variant].filter((i) => options.resMap !== false || i !== 'bypass');
        expect(report.invariants.map((r) => r.name)).toEqual(expected);
        expect(report.ok, `${variant} ${name}:\n${JSON.stringify(report.invariants, null, 1)}`).toBe(true);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Naive references for the maps of static parameters.

const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));

function logSumExp(xs: readonly number[]): number {
  const top = Math.max(...xs);
  return top + Math.log(xs.reduce((acc, x) => acc + Math.exp(x - top), 0));
}

/** Sinkhorn in the log domain, columns then rows, `iters` times, by loops. */
function sinkhornLoop(logits: ArrayLike<number>, n: number, iters: number): number[] {
  const l = Array.from(logits);
  for (let t = 0; t < iters; t++) {
    for (let j = 0; j < n; j++) {
      const s = logSumExp(Array.from({ length: n }, (_, i) => l[i * n + j]!));
      for (let i = 0; i < n; i++) l[i * n + j]! -= s;
    }
    for (let i = 0; i < n; i++) {
      const s = logSumExp(l.slice(i * n, i * n + n));
      for (let j = 0; j < n; j++) l[i * n + j]! -= s;
    }
  }
  return l.map(Math.exp);
}

/** All permutations of 0..n−1 in lexicographic order. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (let first = 0; first < n; first++) {
    for (const rest of permutations(n - 1)) out.push([first, ...rest.map((r) => (r >= first ? r + 1 : r))]);
  }
  return out;
}

/** Σ softmax(logits)_k P_k with P_k[i, π_k(i)] = 1. */
function mixtureLoop(logits: readonly number[], n: number): number[] {
  const z = logSumExp(logits);
  const out = new Array<number>(n * n).fill(0);
  permutations(n).forEach((perm, k) => {
    perm.forEach((j, i) => {
      out[i * n + j]! += Math.exp(logits[k]! - z);
    });
  });
  return out;
}

function kronLoop(a: readonly number[], p: number, b: readonly number[], q: number): number[] {
  const out = new Array<number>(p * q * p * q).fill(0);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < p; j++)
      for (let k = 0; k < q; k++)
        for (let l = 0; l < q; l++) out[(i * q + k) * p * q + j * q + l] = a[i * p + j]! * b[k * q + l]!;
  return out;
}

/** J + U_z E U_zᵀ for n = 3 (m = 2), E [2×2] row-major. */
function sphere3(e: readonly number[]): number[] {
  const uz = [
    [1 / Math.sqrt(2), 1 / Math.sqrt(6)],
    [-1 / Math.sqrt(2), 1 / Math.sqrt(6)],
    [0, -2 / Math.sqrt(6)],
  ];
  const out: number[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let v = 1 / 3;
      for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) v += uz[i]![a]! * e[a * 2 + b]! * uz[j]![b]!;
      out.push(v);
    }
  }
  return out;
}

/** The 2×2 Cayley transform (I + A)⁻¹(I − A) of A = [[0, a], [−a, 0]] in closed form. */
function cayley2(a: number): number[] {
  const d = 1 + a * a;
  return [(1 - a * a) / d, (-2 * a) / d, (2 * a) / d, (1 - a * a) / d];
}

function mat2(a: readonly number[], b: readonly number[]): number[] {
  return [
    a[0]! * b[0]! + a[1]! * b[2]!,
    a[0]! * b[1]! + a[1]! * b[3]!,
    a[2]! * b[0]! + a[3]! * b[2]!,
    a[2]! * b[1]! + a[3]! * b[3]!,
  ];
}

/** σ_max of a 2×2 matrix in closed form. */
function sigmaMax2(e: readonly number[]): number {
  const [a, b, c, d] = e as [number, number, number, number];
  const f = a * a + b * b + c * c + d * d;
  const det = a * d - b * c;
  return Math.sqrt((f + Math.sqrt(Math.max(0, f * f - 4 * det * det))) / 2);
}

const read = (layer: HyperConnection, name: string): number[] =>
  Array.from((layer as unknown as Record<string, Variable>)[name]!.value.toTypedArray());

/** The static layer's H_res from its parameters, by the loops above. */
function staticResLoop(variant: Gated, layer: HyperConnection): number[] {
  const n = layer.n;
  switch (variant) {
    case 'hc': {
      const a = read(layer, 'resBias');
      return Array.from({ length: n * n }, (_, i) => a[(i % n) * n + Math.floor(i / n)]!); // A_rᵀ
    }
    case 'mhc':
      return sinkhornLoop(read(layer, 'resBias'), n, 20);
    case 'mhcLite':
      return mixtureLoop(read(layer, 'resBias'), n);
    case 'kromhc': {
      const b = read(layer, 'resBias'); // n = 4: two 2-factors
      const u = (k: number): number[] => {
        const p = Math.exp(b[2 * k]! - logSumExp([b[2 * k]!, b[2 * k + 1]!]));
        return [p, 1 - p, 1 - p, p];
      };
      return kronLoop(u(0), 2, u(1), 2);
    }
    case 'shc': {
      // n = 3: U = cayley(γ_U tanh c_U), V likewise, s = tanh(c_S), E = U diag(s) Vᵀ
      const [gu, gv] = [read(layer, 'resGainU')[0]!, read(layer, 'resGainV')[0]!];
      const u = cayley2(gu * Math.tanh(read(layer, 'resBiasU')[0]!));
      const v = cayley2(gv * Math.tanh(read(layer, 'resBiasV')[0]!));
      const s = read(layer, 'resBiasS').map(Math.tanh);
      const us = [u[0]! * s[0]!, u[1]! * s[1]!, u[2]! * s[0]!, u[3]! * s[1]!];
      return sphere3(mat2(us, [v[0]!, v[2]!, v[1]!, v[3]!]));
    }
    case 'shcPower': {
      const c = read(layer, 'resBias');
      const scale = Math.max(1, sigmaMax2(c));
      return sphere3(c.map((x) => x / scale));
    }
  }
}

const STATIC_N: Record<Gated, number> = { hc: 4, mhc: 4, mhcLite: 3, kromhc: 4, shc: 3, shcPower: 3 };

describe('dynamic: false — the maps of the static parameters, the same for every token', () => {
  for (const variant of VARIANTS) {
    it(variant, () => {
      const n = STATIC_N[variant];
      const layer = createHyperConnection(variant, { n, dim: 3, layerIndex: 2, dynamic: false, powerIters: 24 });
      perturb(layer, new Random(11), 0.7);
      const maps = layer.maps(randomState(new Random(12), [2, 3, n, 3], 5));
      const [hRes, hPre, hPost] = [maps.hRes, maps.hPre, maps.hPost].map((t) => t.toTypedArray());
      const gated = variant !== 'hc';
      const pre = read(layer, 'preBias').map((b) => (gated ? sigmoid(b) : b));
      const post = read(layer, 'postBias').map((b) => (gated ? 2 * sigmoid(b) : b));
      const res = staticResLoop(variant, layer);
      // sHC-power's σ̂ is an upper bound within ln(m)/2^25 of σ_max
      const tol = variant === 'shcPower' ? { rtol: 1e-7, atol: 1e-7 } : { rtol: 1e-12, atol: 1e-13 };
      for (let t = 0; t < 6; t++) {
        expectClose(hPre.slice(t * n, t * n + n), pre, tol);
        expectClose(hPost.slice(t * n, t * n + n), post, tol);
        expectClose(hRes.slice(t * n * n, t * n * n + n * n), res, tol);
      }
    });
  }
});

/** X' = X + 1·F(mean of the streams) per token, by loops: the n-stream identity hyper-connection. */
function identityConnectionLoop(x: Tensor, branch: (u: Float64Array) => Float64Array): Float64Array {
  const [batch, seq, n, dim] = x.shape as [number, number, number, number];
  const xs = x.toTypedArray();
  const out = new Float64Array(xs.length);
  for (let k = 0; k < batch * seq; k++) {
    const u = new Float64Array(dim);
    for (let s = 0; s < n; s++) for (let c = 0; c < dim; c++) u[c] += xs[(k * n + s) * dim + c]! / n;
    const y = branch(u);
    for (let s = 0; s < n; s++)
      for (let c = 0; c < dim; c++) out[(k * n + s) * dim + c] = xs[(k * n + s) * dim + c]! + y[c]!;
  }
  return out;
}

describe('ablation (resMap, preMap, postMap)', () => {
  for (const variant of VARIANTS) {
    it(`${variant}: all three off is the identity hyper-connection X + F(mean of the streams)`, () => {
      const n = N[variant];
      const layer = createHyperConnection(variant, {
        n,
        dim: 4,
        layerIndex: 1,
        resMap: false,
        preMap: false,
        postMap: false,
      });
      expect(layer.parameters()).toEqual([]);
      const rng = new Random(21);
      const x = randomState(rng, [2, 3, n, 4], 3);
      const w = rng.normal([4, 4]);
      const out = layer.forward(x, tanhBranch(w)).value.toTypedArray();
      expectClose(out, identityConnectionLoop(x, tanhBranchLoop(w)), { rtol: 1e-13, atol: 1e-13 });
    });

    it(`${variant}: one map off is fixed, the other two are the full layer's maps`, () => {
      const n = N[variant];
      const full = createHyperConnection(variant, { n, dim: 3, layerIndex: 1 });
      perturb(full, new Random(31), 0.5);
      const values = new Map(full.namedParameters().map(([name, p]) => [name, p.value]));
      const x = randomState(new Random(32), [2, 2, n, 3], 4);
      const reference = full.maps(x);
      for (const off of ['resMap', 'preMap', 'postMap'] as const) {
        const ablated = createHyperConnection(variant, { n, dim: 3, layerIndex: 1, [off]: false });
        // the ablated layer's parameters are a subset of the full layer's, by name
        for (const [name, p] of ablated.namedParameters()) p.value.assign(values.get(name)!);
        const maps = ablated.maps(x);
        const fixed = { resMap: 'hRes', preMap: 'hPre', postMap: 'hPost' } as const;
        for (const key of ['hRes', 'hPre', 'hPost'] as const) {
          if (key === fixed[off]) continue;
          expectClose(maps[key], reference[key], { rtol: 1e-12, atol: 1e-14 });
        }
        const got = maps[fixed[off]].toTypedArray();
        const expected = Array.from({ length: got.length }, (_, i) =>
          off === 'preMap' ? 1 / n : off === 'postMap' ? 1 : Math.floor(i / n) % n === i % n ? 1 : 0,
        );
        expectClose(got, expected, { rtol: 0, atol: 0 });
        // and the update is H_res·X + H_postᵀ·F(H_pre·X) with those maps
        const w = new Random(33).normal([3, 3]);
        const out = ablated.forward(x, tanhBranch(w)).value.toTypedArray();
        expectClose(out, referenceUpdate(x, maps, tanhBranchLoop(w)).reference, { rtol: 1e-12, atol: 1e-12 });
      }
    });
  }
});

describe('gradients under the switches (gradcheck, float64)', () => {
  const options: [string, Partial<HyperConnectionOptions>][] = [
    ['dynamic: false', { dynamic: false }],
    ['resMap: false', { resMap: false }],
    ['preMap: false', { preMap: false }],
    ['postMap: false', { postMap: false }],
    ['dynamic: false, resMap: false', { dynamic: false, resMap: false }],
    ["init: 'reference'", { init: 'reference', rng: new Random(7) }],
  ];
  for (const variant of VARIANTS) {
    it(`${variant}: input, branch weights and every parameter`, () => {
      for (const [, extra] of options) {
        const n = variant === 'mhcLite' ? 3 : 4;
        const layer = createHyperConnection(variant, {
          n,
          dim: 2,
          layerIndex: 1,
          sinkhornIters: 3,
          powerIters: 3,
          ...extra,
        });
        perturb(layer, new Random(41), 0.3);
        const rng = new Random(42);
        const x = randomState(rng, [1, 2, n, 2], 1.5);
        const w = rng.normal([2, 2]);
        gradcheckLayer(layer, x, w, tanhBranch);
      }
    });
  }
});

describe("init: 'reference' (the s2HC pre-training script's re-initialisation)", () => {
  it('sHC and sHC-power: W_pre, W_res, W_post ~ N(0, 2/(5·dim)), drawn in that order, nothing else moved', () => {
    for (const variant of ['shc', 'shcPower'] as const) {
      const [n, dim, seed] = [4, 32, 123];
      const layer = createHyperConnection(variant, { n, dim, layerIndex: 1, init: 'reference', rng: new Random(seed) });
      const zero = createHyperConnection(variant, { n, dim, layerIndex: 1 });
      const std = Math.sqrt(2 / (5 * dim));
      // the draw order is the reference module's: to_alpha_pre, to_alpha_residual, to_beta
      const rng = new Random(seed);
      const m2 = (n - 1) ** 2;
      const expected = {
        preWeight: rng.normal([n * dim, n], { std }),
        resWeight: rng.normal([n * dim, m2], { std }),
        postWeight: rng.normal([n * dim, n], { std }),
      };
      const samples: number[] = [];
      for (const [name, t] of Object.entries(expected)) {
        expectClose(read(layer, name), t.toTypedArray(), { rtol: 0, atol: 0 });
        samples.push(...read(layer, name));
      }
      // every other parameter is the zero init's
      const zeroValues = new Map(zero.namedParameters().map(([name, p]) => [name, p.value]));
      for (const [name, p] of layer.namedParameters()) {
        if (!(name in expected)) expectClose(p.value, zeroValues.get(name)!, { rtol: 0, atol: 0 });
      }
      // statistics: 2176 samples; 5 standard errors for the mean, and for the std (≈ σ/√(2N))
      const count = samples.length;
      expect(count).toBe(n * dim * (2 * n + m2));
      const mean = samples.reduce((a, b) => a + b, 0) / count;
      const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (count - 1));
      expect(Math.abs(mean)).toBeLessThan((5 * std) / Math.sqrt(count));
      expect(Math.abs(sd - std)).toBeLessThan((5 * std) / Math.sqrt(2 * count));
    }
  });

  it('is reproducible from the seed, and differs between seeds', () => {
    const make = (seed: number) =>
      createHyperConnection('shc', { n: 3, dim: 4, layerIndex: 0, init: 'reference', rng: new Random(seed) });
    const [a, b, c] = [make(9), make(9), make(10)];
    expectClose(read(a, 'resWeight'), read(b, 'resWeight'), { rtol: 0, atol: 0 });
    expect(read(a, 'resWeight')).not.toEqual(read(c, 'resWeight'));
  });

  it('leaves mHC, mHC-lite, KromHC and HC at zero (raw parameters in the reference) and draws nothing', () => {
    for (const variant of ['hc', 'mhc', 'mhcLite', 'kromhc'] as const) {
      const rng = new Random(77);
      const layer = createHyperConnection(variant, { n: 3, dim: 4, layerIndex: 0, init: 'reference', rng });
      const zero = createHyperConnection(variant, { n: 3, dim: 4, layerIndex: 0 });
      const values = zero.namedParameters().map(([, p]) => p.value);
      layer.namedParameters().forEach(([, p], i) => {
        expectClose(p.value, values[i]!, { rtol: 0, atol: 0 });
      });
      expect(rng.float()).toBe(new Random(77).float());
    }
  });
});

describe("init: 'reference' in a model (the model's rng draws the sHC projections)", () => {
  it('every sHC layer is drawn, reproducibly from the model seed', () => {
    const build = (init: 'zero' | 'reference') =>
      new TinyTransformer({
        variant: 'shc',
        n: 3,
        dim: 8,
        depth: 2,
        heads: 2,
        vocabSize: 5,
        seqLen: 4,
        rng: new Random(4),
        init,
      });
    const [a, b, zero] = [build('reference'), build('reference'), build('zero')];
    expect(a.parameterCounts()).toEqual(zero.parameterCounts());
    a.hyperConnections.forEach((hc, i) => {
      for (const name of ['preWeight', 'resWeight', 'postWeight']) {
        const values = read(hc, name);
        expect(values.some((v) => v !== 0)).toBe(true);
        expect(Math.max(...values.map(Math.abs))).toBeLessThan(8 * Math.sqrt(2 / (5 * 8)));
        expectClose(values, read(b.hyperConnections[i]!, name), { rtol: 0, atol: 0 });
        expect(read(zero.hyperConnections[i]!, name).every((v) => v === 0)).toBe(true);
      }
    });
  });
});

describe('TinyTransformer layerIndex convention (the stream H_pre reads at init)', () => {
  const build = (layerIndex?: 'perBlock' | 'perSublayer', variant: Variant = 'hc') =>
    new TinyTransformer({
      variant,
      n: 4,
      dim: 4,
      depth: 3,
      heads: 1,
      vocabSize: 5,
      seqLen: 4,
      rng: new Random(0),
      ...(layerIndex === undefined ? {} : { layerIndex }),
    });
  /** Per hyper-connection, the stream with the largest H_pre at init (HC: H_pre = e_k exactly). */
  const readStreams = (model: TinyTransformer): number[] =>
    model.hyperConnections.map((hc) => {
      const pre = hc.maps(randomState(new Random(1), [1, 1, 4, 4], 1)).hPre.toTypedArray();
      return Array.from(pre).indexOf(Math.max(...pre));
    });

  it("'perBlock' (default, as the reference model): both sublayers of block b read stream b mod n", () => {
    expect(readStreams(build())).toEqual([0, 0, 1, 1, 2, 2]);
    expect(readStreams(build('perBlock', 'mhc'))).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("'perSublayer': attention 2b, MLP 2b + 1 (mod n)", () => {
    expect(readStreams(build('perSublayer'))).toEqual([0, 1, 2, 3, 0, 1]);
    expect(readStreams(build('perSublayer', 'shc'))).toEqual([0, 1, 2, 3, 0, 1]);
  });

  it('anything else is a ValueError', () => {
    expect(() => build('perLayer' as 'perBlock')).toThrow(
      /TinyTransformer: layerIndex must be 'perBlock' or 'perSublayer'/,
    );
  });
});
