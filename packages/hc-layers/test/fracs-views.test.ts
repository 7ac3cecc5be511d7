/**
 * Frac-connections (`fracs` f, arXiv 2503.14125) and several branch input views (`inputViews` v),
 * docs/spec/hc-family.md, "Options": the maps act on N = n·f sub-streams of width C/f (sub-stream
 * j·n + s = fraction j of stream s), H_pre has v·f rows (view i, fraction j at row i·f + j),
 * H_post f rows. Checked against per-token loops written from the parameters (HC entirely; the
 * gated variants' gates, with H_res from an N-stream twin layer fed the sub-streams), through
 * `checkLayerInvariants`, gradchecked in float64, counted, and f = v = 1 bit for bit the default.
 */
import { describe, expect, it } from 'vitest';
import * as T from '@hyperconn/tensor';
import { Random, ValueError, type Tensor } from '@hyperconn/tensor';
import { matmul, reshape, sum, tanh, type Variable, variable } from '@hyperconn/autograd';
import { factorial } from '@hyperconn/manifolds';
import {
  createHyperConnection,
  DeepResidualMLP,
  kromhcFactors,
  parameterCount,
  VARIANTS,
  type HyperConnection,
  type HyperConnectionOptions,
  type TokenMaps,
  type Variant,
} from '../src/index';
import { toReferenceStateDict } from '../src/interop/index';
import { checkLayerInvariants } from '../src/testing';
import { expectClose } from '../../../test/support/assert';
import { perturb, randomState, rmsNormLoop, vecMat, gradcheckLayer } from './layer-helpers';

type Layer = HyperConnection & { fracs: number; inputViews: number; nMaps: number };

const MAPPED = VARIANTS.filter((v): v is Exclude<Variant, 'residual'> => v !== 'residual');
const ITERS: HyperConnectionOptions = { dim: 6, layerIndex: 1, sinkhornIters: 3, powerIters: 3 };

function build(variant: Variant, options: HyperConnectionOptions, seed: number | null = 7): Layer {
  const layer = createHyperConnection(variant, options) as Layer;
  if (seed !== null) perturb(layer, new Random(seed), 0.5);
  return layer;
}

/** Per-view branch weights W_i [C, C] stacked as [v, 1, C, C] (v = 1: [C, C]). */
function viewWeights(rng: Random, views: number, dim: number): Tensor {
  const w = rng.normal(views === 1 ? [dim, dim] : [views, 1, dim, dim], { std: 1 / Math.sqrt(dim) });
  return w;
}

/** F(u_1, …, u_v) = tanh(Σ_i u_i W_i): each view weighted differently, so their order matters. */
function viewBranch(w: Variable | Tensor, views: number): (u: Variable) => Variable {
  return (u) => tanh(views === 1 ? matmul(u, w) : sum(matmul(u, w), 0));
}

/** The same branch by loops: y [C] from the views u[i] [C]. */
function viewBranchLoop(w: Tensor, views: number, dim: number, u: Float64Array[]): Float64Array {
  const ws = w.toTypedArray();
  const y = new Float64Array(dim);
  for (let c = 0; c < dim; c++) {
    let acc = 0;
    for (let i = 0; i < views; i++) for (let r = 0; r < dim; r++) acc += u[i]![r]! * ws[i * dim * dim + r * dim + c]!;
    y[c] = Math.tanh(acc);
  }
  return y;
}

const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));
const values = (v: Variable | Tensor): Float64Array =>
  Float64Array.from(v instanceof T.Tensor ? v.toTypedArray() : v.value.toTypedArray());
const param = (layer: Layer, name: string): Float64Array => {
  const found = layer.namedParameters().find(([key]) => key === name);
  if (found === undefined) throw new Error(`no parameter ${name}`);
  return values(found[1]);
};

/** The sub-streams of token k of X [B,T,n,C] by loops: xsub[p][c] = X[s][j·d + c], p = j·n + s. */
function subStreams(xs: ArrayLike<number>, k: number, n: number, dim: number, f: number): Float64Array[] {
  const d = dim / f;
  return Array.from({ length: n * f }, (_, p) =>
    Float64Array.from({ length: d }, (_, c) => xs[k * n * dim + (p % n) * dim + Math.floor(p / n) * d + c]!),
  );
}

/** Per-token maps as flat arrays: hRes [N·N] (rows output sub-streams), hPre [R·N], hPost [f·N]. */
interface LoopMaps {
  hRes: Float64Array;
  hPre: Float64Array;
  hPost: Float64Array;
}

/** HC's maps of one token from its parameters by loops (the spec's HC section, generalised). */
function hcLoopMaps(layer: Layer, xsub: Float64Array[]): LoopMaps {
  const { nMaps: big, fracs: f, inputViews: v } = layer;
  const rows = v * f;
  const gain = param(layer, 'norm.weight');
  const [wm, wr, wb] = ['preWeight', 'resWeight', 'postWeight'].map((name) => {
    const p = layer.namedParameters().find(([key]) => key === name)![1];
    return p.value;
  }) as [Tensor, Tensor, Tensor];
  const [am, ar, b] = [param(layer, 'preBias'), param(layer, 'resBias'), param(layer, 'postBias')];
  const [sa, sb] = [param(layer, 'preResScale')[0]!, param(layer, 'postScale')[0]!];
  const hRes = new Float64Array(big * big);
  const hPre = new Float64Array(rows * big);
  const hPost = new Float64Array(f * big);
  for (let p = 0; p < big; p++) {
    const xbar = rmsNormLoop(xsub[p]!, gain, 1e-6);
    const [dm, dr, db] = [vecMat(xbar, wm), vecMat(xbar, wr), vecMat(xbar, wb)];
    // A_m [N, R] (or [N]): H_pre[r][p] = A_m[p][r] + s_α·tanh(x̄_p W_m)[r]
    for (let r = 0; r < rows; r++) hPre[r * big + p] = am[p * rows + r]! + sa * Math.tanh(dm[r]!);
    // H_res = A_rᵀ: H_res[t][p] = A_r[p][t] + s_α·tanh(x̄_p W_r)[t]
    for (let t = 0; t < big; t++) hRes[t * big + p] = ar[p * big + t]! + sa * Math.tanh(dr[t]!);
    // B [f, N] (or [N]): H_post[j][p] = B[j][p] + s_β·tanh(x̄_p W_β)[j]
    for (let j = 0; j < f; j++) hPost[j * big + p] = b[j * big + p]! + sb * Math.tanh(db[j]!);
  }
  return { hRes, hPre, hPost };
}

/**
 * The gated variants' gates of one token by loops: v = RMSNorm(vec of the sub-streams), H_pre =
 * σ(s_pre·(v W_pre) + b_pre) row-major (v·f)×N, H_post = 2σ(s_post·(v W_post) + b_post) f×N.
 */
function gateLoop(layer: Layer, xsub: Float64Array[]): Pick<LoopMaps, 'hPre' | 'hPost'> {
  const vec = Float64Array.from(xsub.flatMap((row) => Array.from(row)));
  const v = rmsNormLoop(vec, param(layer, 'norm.weight'), 1e-6);
  const weight = (name: string): Tensor => layer.namedParameters().find(([key]) => key === name)![1].value;
  const pre = vecMat(v, weight('preWeight'));
  const post = vecMat(v, weight('postWeight'));
  const [sPre, sPost] = [param(layer, 'preScale')[0]!, param(layer, 'postScale')[0]!];
  const [bPre, bPost] = [param(layer, 'preBias'), param(layer, 'postBias')];
  return {
    hPre: pre.map((z, i) => sigmoid(sPre * z + bPre[i]!)),
    hPost: post.map((z, i) => 2 * sigmoid(sPost * z + bPost[i]!)),
  };
}

/**
 * H_res of a gated layer from an N-stream, f = v = 1 twin of the same variant that shares every
 * parameter but the gates' (the RMSNorm gain, W_res and the variant's own): fed the sub-streams
 * [B,T,N,C/f], its H_res is what the frac layer's must be.
 */
function twinResMaps(variant: Variant, layer: Layer, options: HyperConnectionOptions, x: Tensor): Tensor {
  const { nMaps: big, fracs: f } = layer;
  const twin = createHyperConnection(variant, { ...options, n: big, dim: layer.dim / f, fracs: 1, inputViews: 1 });
  const ours = new Map(layer.namedParameters());
  let shared = 0;
  for (const [name, p] of twin.namedParameters()) {
    if (['preWeight', 'postWeight', 'preBias', 'postBias'].includes(name)) continue;
    const q = ours.get(name)!;
    expect(q.shape).toEqual(p.shape);
    p.value.assign(q.value);
    shared++;
  }
  expect(shared).toBeGreaterThan(1);
  const [batch, seq, n, dim] = x.shape as [number, number, number, number];
  // the sub-streams by reshapes of their own: [B,T,n,f,d] → [B,T,f,n,d] → [B,T,N,d]
  const xsub = T.reshape(T.permute(T.reshape(x, [batch, seq, n, f, dim / f]), [0, 1, 3, 2, 4]), [batch, seq, big, -1]);
  return twin.maps(xsub).hRes;
}

/** X' of one token by loops from the maps: sub-stream p gets Σ_q H_res[p,q] X_q + Σ_j H_post[j,p] y_j. */
function updateLoop(
  layer: Layer,
  xsub: Float64Array[],
  maps: LoopMaps,
  branch: (u: Float64Array[]) => Float64Array,
): { out: Float64Array; inputs: Float64Array[] } {
  const { n, dim, nMaps: big, fracs: f, inputViews: v } = layer;
  const d = dim / f;
  const inputs = Array.from({ length: v }, () => new Float64Array(dim));
  for (let i = 0; i < v; i++)
    for (let j = 0; j < f; j++)
      for (let p = 0; p < big; p++)
        for (let c = 0; c < d; c++) inputs[i]![j * d + c] += maps.hPre[(i * f + j) * big + p]! * xsub[p]![c]!;
  const y = branch(inputs);
  const out = new Float64Array(n * dim);
  for (let p = 0; p < big; p++) {
    const [s, j] = [p % n, Math.floor(p / n)];
    for (let c = 0; c < d; c++) {
      let acc = 0;
      for (let q = 0; q < big; q++) acc += maps.hRes[p * big + q]! * xsub[q]![c]!;
      for (let jj = 0; jj < f; jj++) acc += maps.hPost[jj * big + p]! * y[jj * d + c]!;
      out[s * dim + j * d + c] = acc;
    }
  }
  return { out, inputs };
}

/** Token k's part of a flat [tokens, ...] array of `size` entries per token. */
const tokenPart = (t: Tensor, k: number, size: number): Float64Array =>
  Float64Array.from(t.toTypedArray().subarray(k * size, (k + 1) * size));

describe('fracs = 1 and inputViews = 1 are bit for bit the layer without them', () => {
  for (const variant of VARIANTS) {
    it(`${variant}: same parameters and state dict, outputs, gradients`, () => {
      const options: HyperConnectionOptions = { ...ITERS, n: 3, dim: 4 };
      const a = build(variant, options, 3);
      const b = build(variant, { ...options, fracs: 1, inputViews: 1 }, 3);
      const [sa, sb] = [a.stateDict(), b.stateDict()];
      expect([...sb.keys()]).toEqual([...sa.keys()]);
      for (const [key, t] of sa) {
        expect(sb.get(key)!.shape).toEqual(t.shape);
        expect(Array.from(sb.get(key)!.toTypedArray())).toEqual(Array.from(t.toTypedArray()));
      }
      const rng = new Random(5);
      const x = randomState(rng, [2, 3, a.n, 4], 1.5);
      const w = rng.normal([4, 4]);
      const run = (layer: Layer) => {
        const xv = variable(x, { requiresGrad: true });
        const wv = variable(w, { requiresGrad: true });
        layer.zeroGrad();
        const y = layer.forward(xv, (u: Variable) => tanh(matmul(u, wv)));
        sum(tanh(y)).backward();
        return [y.value, xv.grad!, wv.grad!, ...layer.parameters().map((p) => p.grad!)].map((t) =>
          Array.from(values(t)),
        );
      };
      expect(run(b)).toEqual(run(a));
      expect(Array.from(b.lastMaps!.hPre.toTypedArray())).toEqual(Array.from(a.lastMaps!.hPre.toTypedArray()));
      expect(b.lastMaps!.hPre.shape).toEqual([2, 3, a.n]);
    });
  }
});

const CASES: [number, number][] = [
  [2, 1],
  [3, 1],
  [1, 2],
  [1, 3],
  [2, 2],
  [3, 3],
];

describe('each variant equals a per-token loop from its parameters, f ∈ {2, 3}, v ∈ {2, 3}', () => {
  for (const variant of MAPPED) {
    it(`${variant}`, () => {
      for (const [f, v] of CASES) {
        const options: HyperConnectionOptions = { ...ITERS, n: 2, fracs: f, inputViews: v };
        const layer = build(variant, options, 10 * f + v);
        expect([layer.fracs, layer.inputViews, layer.nMaps]).toEqual([f, v, 2 * f]);
        const rng = new Random(f * 7 + v);
        const x = randomState(rng, [2, 2, 2, 6], 1.5);
        const w = viewWeights(rng, v, 6);
        const { branchInput, merge } = layer.split(variable(x));
        expect(branchInput.shape).toEqual(v === 1 ? [2, 2, 6] : [v, 2, 2, 6]);
        const out = merge(viewBranch(w, v)(branchInput));
        const maps = layer.lastMaps as TokenMaps;
        const big = 2 * f;
        expect(maps.hRes.shape).toEqual([2, 2, big, big]);
        expect(maps.hPre.shape).toEqual(v * f === 1 ? [2, 2, big] : [2, 2, v * f, big]);
        expect(maps.hPost.shape).toEqual(f === 1 ? [2, 2, big] : [2, 2, f, big]);
        const twinRes = variant === 'hc' ? null : twinResMaps(variant, layer, options, x);
        const xs = x.toTypedArray();
        for (let k = 0; k < 4; k++) {
          const xsub = subStreams(xs, k, 2, 6, f);
          const loop: LoopMaps =
            variant === 'hc'
              ? hcLoopMaps(layer, xsub)
              : { ...gateLoop(layer, xsub), hRes: tokenPart(twinRes!, k, big * big) };
          const tol = { rtol: 1e-12, atol: 1e-12 };
          expectClose(tokenPart(maps.hRes, k, big * big), loop.hRes, tol);
          expectClose(tokenPart(maps.hPre, k, v * f * big), loop.hPre, tol);
          expectClose(tokenPart(maps.hPost, k, f * big), loop.hPost, tol);
          const ref = updateLoop(layer, xsub, loop, (u) => viewBranchLoop(w, v, 6, u));
          expectClose(tokenPart(out.value, k, 12), ref.out, { rtol: 1e-11, atol: 1e-11 });
          const inputs = values(branchInput);
          for (let i = 0; i < v; i++) {
            // view i of token k: [v, B·T, C] row-major
            expectClose(inputs.subarray((i * 4 + k) * 6, (i * 4 + k + 1) * 6), ref.inputs[i]!, tol);
          }
        }
      }
    });
  }

  it('the loops can fail: swapping the fraction order (stream-major sub-streams) is detected', () => {
    const layer = build('hc', { ...ITERS, n: 2, fracs: 2 }, 1);
    const x = randomState(new Random(2), [1, 1, 2, 6], 1.5);
    layer.forward(variable(x), (u: Variable) => u);
    const xs = x.toTypedArray();
    const wrong = Array.from({ length: 4 }, (_, p) =>
      Float64Array.from({ length: 3 }, (_, c) => xs[Math.floor(p / 2) * 6 + (p % 2) * 3 + c]!),
    );
    expect(() => expectClose(tokenPart(layer.lastMaps!.hRes, 0, 16), hcLoopMaps(layer, wrong).hRes)).toThrow();
  });
});

describe('init and switches with fracs and views', () => {
  it('hc at init with equal streams: every view is x and every stream gets x + F(views)', () => {
    const layer = build('hc', { ...ITERS, n: 3, fracs: 3, inputViews: 2 }, null);
    const rng = new Random(3);
    const row = rng.normal([2, 2, 1, 6]);
    const x = T.add(T.zeros([2, 2, 3, 6]), row);
    const w = viewWeights(rng, 2, 6);
    const { branchInput, merge } = layer.split(variable(x));
    for (let i = 0; i < 2; i++) expectClose(values(branchInput).subarray(i * 24, (i + 1) * 24), row.toTypedArray());
    const y = viewBranch(w, 2)(branchInput);
    const out = merge(y);
    expectClose(out.value, T.add(x, T.reshape(y.value, [2, 2, 1, 6])), { rtol: 1e-14, atol: 1e-14 });
  });

  it('every variant with all maps off: X′ = X + F(mean_s X_s, …) on every stream', () => {
    for (const variant of MAPPED) {
      const layer = build(variant, {
        ...ITERS,
        n: 2,
        fracs: 3,
        inputViews: 2,
        resMap: false,
        preMap: false,
        postMap: false,
      });
      expect(layer.parameters()).toHaveLength(0);
      const rng = new Random(4);
      const x = randomState(rng, [1, 3, 2, 6], 1);
      const w = viewWeights(rng, 2, 6);
      const { branchInput, merge } = layer.split(variable(x));
      const mean = T.mul(T.sum(x, [2]), 0.5);
      for (let i = 0; i < 2; i++) expectClose(values(branchInput).subarray(i * 18, (i + 1) * 18), mean.toTypedArray());
      const y = viewBranch(w, 2)(branchInput);
      expectClose(merge(y).value, T.add(x, T.reshape(y.value, [1, 3, 1, 6])), { rtol: 1e-14, atol: 1e-14 });
    }
  });

  it('gated variants at init: H_res ≈ I on the N sub-streams, gates one-hot in the pattern of fraction j', () => {
    for (const variant of MAPPED.filter((v) => v !== 'hc')) {
      // the default iteration counts (3 power squarings leave σ̂ well above σ_max)
      const layer = build(variant, { dim: 6, layerIndex: 1, n: 2, fracs: 2, inputViews: 2 }, null);
      const maps = layer.maps(randomState(new Random(1), [1, 1, 2, 6], 1));
      const h = maps.hRes.toTypedArray();
      for (let p = 0; p < 4; p++) expect(h[p * 4 + p]).toBeGreaterThan(0.96);
      // layer 1, n = 2: row r (fraction r mod 2) reads sub-stream (r mod 2)·2 + 1
      const pre = maps.hPre.toTypedArray();
      for (let r = 0; r < 4; r++)
        for (let p = 0; p < 4; p++) expect(pre[r * 4 + p]).toBeCloseTo(sigmoid(p === (r % 2) * 2 + 1 ? 1 : -1), 12);
    }
  });

  it('n = 1 with fracs or views builds the variant (as the reference: disabled only for n = f = 1)', () => {
    const layer = createHyperConnection('mhc', { dim: 4, layerIndex: 0, n: 1, fracs: 2 }) as Layer;
    expect([layer.variant, layer.nMaps]).toEqual(['mhc', 2]);
    expect(createHyperConnection('hc', { dim: 4, layerIndex: 0, n: 1, inputViews: 2 }).variant).toBe('hc');
    // sHC needs N = n·f ≥ 2 (a 1×1 spectral-sphere map is [[1]] with nothing to learn)
    expect(() => createHyperConnection('shc', { dim: 4, layerIndex: 0, n: 1, inputViews: 2 })).toThrow(
      /SHCLayer: n must be ≥ 2, got 1/,
    );
    expect(createHyperConnection('shc', { dim: 4, layerIndex: 0, n: 1, fracs: 2 }).variant).toBe('shc');
    expect(createHyperConnection('mhc', { dim: 4, layerIndex: 0, n: 1 }).variant).toBe('residual');
  });
});

describe('invariants on the (n·f)-stream maps', () => {
  for (const variant of MAPPED) {
    it(`${variant}: every default invariant holds with fracs = 2, inputViews = 2`, () => {
      const report = checkLayerInvariants(() => build(variant, { ...ITERS, n: 2, dim: 4, fracs: 2, inputViews: 2 }), {
        numRuns: 6,
        seed: 3,
      });
      expect(report.invariants.map((r) => r.name)).toContain('update');
      for (const r of report.invariants) expect(r.ok, `${r.name}: ${r.detail}`).toBe(true);
    });
  }

  it('the update check catches a layer that writes the fractions of the branch output to the wrong sub-streams', () => {
    const layer = build('mhc', { ...ITERS, n: 2, dim: 4, fracs: 2 });
    // an own `forward` that swaps the two fractions of the branch output before the merge
    const forward = (x: Variable | Tensor, branch: (u: Variable) => Variable): Variable => {
      const { branchInput, merge } = layer.split(x);
      return merge(swapHalves(branch(branchInput)));
    };
    layer.forward = forward as unknown as Layer['forward'];
    expect(checkLayerInvariants(layer, { numRuns: 3, invariants: ['update'] }).ok).toBe(false);
  });
});

/** y [..., C] with its two channel halves swapped (y·P, P the half-swap permutation). */
function swapHalves(y: Variable): Variable {
  const c = y.shape[y.ndim - 1]!;
  const swap = new Float64Array(c * c);
  for (let i = 0; i < c; i++) swap[i * c + ((i + c / 2) % c)] = 1;
  return matmul(y, T.tensor(swap, { shape: [c, c] }));
}

describe('gradients (gradcheck, float64) with fracs = 2 and inputViews = 2', () => {
  for (const variant of MAPPED) {
    it(`${variant}: input, branch weights and every parameter`, () => {
      const layer = build(variant, { ...ITERS, n: 2, dim: 2, fracs: 2, inputViews: 2 }, 11);
      const rng = new Random(12);
      const x = randomState(rng, [1, 2, 2, 2], 1.5);
      const w = viewWeights(rng, 2, 2);
      gradcheckLayer(layer, x, w, (wv) => viewBranch(wv, 2));
    });
  }
});

/** The spec's parameter counts with N = n·f, R = v·f, d = C/f. */
function expectedCount(variant: Exclude<Variant, 'residual'>, n: number, dim: number, f: number, v: number): number {
  const [big, rows, nc] = [n * f, v * f, n * dim];
  const gates = rows * big + f * big;
  const m = big - 1;
  const s = kromhcFactors(big)
    .map(factorial)
    .reduce((a, b) => a + b, 0);
  switch (variant) {
    case 'hc':
      return big * big + gates + (dim / f) * (1 + rows + big + f) + 2;
    case 'mhc':
      return nc * (1 + gates + big * big) + gates + big * big + 3;
    case 'mhcLite':
      return nc * (1 + gates + factorial(big)) + gates + factorial(big) + 3;
    case 'kromhc':
      return nc * (1 + gates + s) + gates + s + 3;
    case 'shc':
      return nc * (1 + gates + m * m) + gates + m * m + 3 + (big >= 3 ? 4 : 0);
    case 'shcPower':
      return nc * (1 + gates + m * m) + gates + m * m + 2;
  }
}

describe('parameter counts', () => {
  it('every variant × n ∈ {2, 3} × fracs ∈ {1, 2, 3} × inputViews ∈ {1, 2, 3} matches the spec', () => {
    let checked = 0;
    for (const variant of MAPPED)
      for (const n of [2, 3])
        for (const f of [1, 2, 3])
          for (const v of [1, 2, 3]) {
            if (variant === 'mhcLite' && n * f > 6) continue; // (n·f)! columns
            const layer = build(variant, { ...ITERS, n, fracs: f, inputViews: v }, null);
            expect(parameterCount(layer), `${variant} n=${n} f=${f} v=${v}`).toBe(expectedCount(variant, n, 6, f, v));
            checked++;
          }
    expect(checked).toBeGreaterThan(90);
    // the spec's figures at n = 4, C = 6, f = 2, v = 1 (N = 8)
    expect(parameterCount(build('mhc', { ...ITERS, n: 4, fracs: 2 }, null))).toBe(24 * (1 + 32 + 64) + 32 + 64 + 3);
  });
});

describe('refusals', () => {
  const base: HyperConnectionOptions = { dim: 6, layerIndex: 0, n: 2 };
  it('fracs must be an integer ≥ 1 dividing dim and outDim; inputViews an integer ≥ 1', () => {
    for (const variant of MAPPED) {
      expect(() => createHyperConnection(variant, { ...base, fracs: 4 })).toThrow(ValueError);
      expect(() => createHyperConnection(variant, { ...base, fracs: 4 })).toThrow(/fracs = 4 must divide dim = 6/);
      for (const bad of [0, 1.5, -1, Number.NaN]) {
        expect(() => createHyperConnection(variant, { ...base, fracs: bad })).toThrow(/fracs must be an integer ≥ 1/);
        expect(() => createHyperConnection(variant, { ...base, inputViews: bad })).toThrow(
          /inputViews must be an integer ≥ 1/,
        );
      }
      const t = (x: Variable): Variable => reshape(x, [...x.shape.slice(0, 3), 6]);
      expect(() => createHyperConnection(variant, { ...base, fracs: 2, outDim: 5, residualTransform: t })).toThrow(
        /fracs = 2 must divide outDim = 5/,
      );
    }
  });

  it("the 'residual' variant refuses fracs and inputViews other than 1, naming the option", () => {
    expect(() => createHyperConnection('residual', { ...base, fracs: 2 })).toThrow(
      /ResidualLayer: fracs = 2 is not supported by the 'residual' variant/,
    );
    expect(() => createHyperConnection('residual', { ...base, inputViews: 3 })).toThrow(
      /ResidualLayer: inputViews = 3 is not supported by the 'residual' variant/,
    );
    expect(createHyperConnection('residual', { ...base, fracs: 1, inputViews: 1 }).variant).toBe('residual');
  });

  it('mhcLite and kromhc bound the N = n·f sub-streams as they bound n', () => {
    expect(() => createHyperConnection('mhcLite', { ...base, n: 3, fracs: 3 })).toThrow(
      /MHCLiteLayer: n·fracs = 9 sub-streams need 9! = 362880 permutation matrices/,
    );
    expect(() => createHyperConnection('kromhc', { dim: 11, layerIndex: 0, n: 1, fracs: 11 })).toThrow(
      /KromHCLayer: n = 11 has the prime factor 11/,
    );
  });
});

describe('channelsFirst with fracs and views', () => {
  it('every variant: equals the channels-last layer on the permuted input exactly', () => {
    for (const variant of MAPPED) {
      const options: HyperConnectionOptions = { ...ITERS, n: 2, fracs: 2, inputViews: 3 };
      const last = build(variant, options, 21);
      const first = build(variant, { ...options, layout: 'channelsFirst' }, 21);
      const x = new Random(22).normal([2, 2, 6, 2, 3]);
      const { branchInput, merge } = first.split(variable(x));
      expect(branchInput.shape).toEqual([3, 2, 6, 2, 3]);
      // channels-last: [B, n, C, H, W] → [B, H·W, n, C]
      const xl = T.reshape(T.permute(x, [0, 3, 4, 1, 2]), [2, 6, 2, 6]);
      const split = last.split(variable(xl));
      const bl = T.reshape(T.permute(branchInput.value, [0, 1, 3, 4, 2]), [3, 2, 6, 6]);
      expect(Array.from(bl.toTypedArray())).toEqual(Array.from(split.branchInput.value.toTypedArray()));
      const y = new Random(23).normal([2, 6, 2, 3]);
      const yl = T.reshape(T.permute(y, [0, 2, 3, 1]), [2, 6, 6]);
      const outFirst = T.reshape(T.permute(merge(variable(y)).value, [0, 3, 4, 1, 2]), [2, 6, 2, 6]);
      expect(Array.from(outFirst.toTypedArray())).toEqual(Array.from(split.merge(variable(yl)).value.toTypedArray()));
    }
  });
});

describe('interop', () => {
  it('the PyTorch export refuses fracs and inputViews other than 1, naming the option', () => {
    for (const [key, value] of [
      ['fracs', 2],
      ['inputViews', 3],
    ] as const) {
      const layer = build('mhc', { ...ITERS, n: 2, [key]: value }, null);
      expect(() => toReferenceStateDict(layer)).toThrow(
        new RegExp(`toReferenceStateDict: ${key} = ${value} has no exact counterpart`),
      );
    }
  });
});

describe('residualTransform with fracs', () => {
  it('every variant: sub-stream p of X′ is Σ_q H_res[p,q] T(X)_q + Σ_j H_post[j,p] y_j (loop, C 6 → 4)', () => {
    for (const variant of MAPPED) {
      const rng = new Random(31);
      const wt = rng.normal([6, 4], { std: 0.5 });
      const transform = (x: Variable): Variable => matmul(x, wt);
      const layer = build(variant, { ...ITERS, n: 2, fracs: 2, outDim: 4, residualTransform: transform }, 32);
      const x = randomState(rng, [1, 2, 2, 6], 1);
      const wb = rng.normal([6, 4], { std: 0.5 });
      const out = layer.forward(variable(x), (u: Variable) => tanh(matmul(u, wb)));
      const maps = layer.lastMaps!;
      const tx = T.matmul(x, wt).toTypedArray();
      const y = T.tanh(T.matmul(layer.split(variable(x)).branchInput.value, wb)).toTypedArray();
      const got = out.value.toTypedArray();
      for (let k = 0; k < 2; k++) {
        const txs = subStreams(tx, k, 2, 4, 2);
        const expected = new Float64Array(8);
        for (let p = 0; p < 4; p++) {
          const [s, j] = [p % 2, Math.floor(p / 2)];
          for (let c = 0; c < 2; c++) {
            let acc = 0;
            for (let q = 0; q < 4; q++) acc += maps.hRes.toTypedArray()[k * 16 + p * 4 + q]! * txs[q]![c]!;
            for (let jj = 0; jj < 2; jj++)
              acc += maps.hPost.toTypedArray()[(k * 2 + jj) * 4 + p]! * y[k * 4 + jj * 2 + c]!;
            expected[s * 4 + j * 2 + c] = acc;
          }
        }
        expectClose(got.subarray(k * 8, (k + 1) * 8), expected, { rtol: 1e-12, atol: 1e-12 });
      }
    }
  });
});

describe('models', () => {
  it('fracs passes through to every layer; inputViews is refused (the branches take one input)', () => {
    const rng = new Random(41);
    const base = { n: 2, dim: 6, depth: 2, hidden: 8, inputDim: 5, outputDim: 3, sinkhornIters: 3 };
    const model = new DeepResidualMLP({ ...base, variant: 'mhc', fracs: 3, rng });
    expect(model.hyperConnections.map((l) => (l as Layer).nMaps)).toEqual([6, 6]);
    const y = model.forward(rng.normal([2, 4, 5]));
    expect(y.shape).toEqual([2, 4, 3]);
    expect(Array.from(y.value.toTypedArray()).every(Number.isFinite)).toBe(true);
    const views = { ...base, variant: 'mhc', inputViews: 2, rng } as unknown as ConstructorParameters<
      typeof DeepResidualMLP
    >[0];
    expect(() => new DeepResidualMLP(views)).toThrow(/DeepResidualMLP: inputViews = 2 is not a model option/);
  });
});
