/**
 * The stream and layer options (docs/spec/hc-family.md, "Options"): `StreamExpand` with per-stream
 * embeddings, `StreamReduce` with the attention pool, `residualTransform` and the channels-first
 * layout. Each is checked against plain loops or against the computation it must reproduce
 * exactly (init equivalences, the channels-last layer on permuted input), gradchecked in float64,
 * counted, and run through `checkLayerInvariants` where the invariants apply.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { DTypeError, Random, ShapeError, tensor, ValueError, type Tensor } from '@hyperconn/tensor';
import { add, gradcheck, matmul, nn, permute, reshape, tanh, type Variable, variable } from '@hyperconn/autograd';
import {
  createHyperConnection,
  DeepResidualMLP,
  expandStreams,
  parameterCount,
  reduceStreams,
  StreamExpand,
  StreamReduce,
  TinyTransformer,
  VARIANTS,
  type HyperConnection,
  type HyperConnectionOptions,
  type ResidualTransform,
  type TokenMaps,
  type Variant,
} from '../src/index';
import { checkLayerInvariants, DEFAULT_INVARIANTS } from '../src/testing';
import { expectClose } from '../../../test/support/assert';
import { perturb, randomState, tanhBranch, gradcheckLayer } from './layer-helpers';

const SMALL: HyperConnectionOptions = { n: 3, dim: 3, layerIndex: 1, sinkhornIters: 3, powerIters: 3 };

/** A layer with every parameter perturbed (seeded), so no map sits at its init value. */
function layerWith(variant: Variant, options: HyperConnectionOptions, seed: number): HyperConnection {
  const layer = createHyperConnection(variant, options);
  perturb(layer, new Random(seed), 0.5);
  return layer;
}

/** p ↦ values, for gradcheck through a module's own parameter fields (restored afterwards). */
function withFields<R>(owner: object, fields: readonly string[], values: readonly Variable[], fn: () => R): R {
  const record = owner as Record<string, unknown>;
  const saved = fields.map((f) => record[f]);
  fields.forEach((f, i) => {
    record[f] = values[i];
  });
  try {
    return fn();
  } finally {
    fields.forEach((f, i) => {
      record[f] = saved[i];
    });
  }
}

/** T(x) = x·Wᵀ + b by loops over the last axis of a flat [rows, inDim] array. */
function linearLoop(xs: ArrayLike<number>, w: Tensor, b: Tensor | null): Float64Array {
  const [outDim, inDim] = w.shape as [number, number];
  const ws = w.toTypedArray();
  const bs = b?.toTypedArray();
  const rows = xs.length / inDim;
  const out = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let acc = bs === undefined ? 0 : bs[o]!;
      for (let i = 0; i < inDim; i++) acc += xs[r * inDim + i]! * ws[o * inDim + i]!;
      out[r * outDim + o] = acc;
    }
  }
  return out;
}

/** A bias-free-or-not linear map C_in → C_out with seeded weights, as a function (not a module). */
function linearFunction(
  rng: Random,
  inDim: number,
  outDim: number,
  bias: boolean,
): {
  t: (x: Variable) => Variable;
  w: Tensor;
  b: Tensor | null;
} {
  const lin = new nn.Linear(inDim, outDim, rng, { bias });
  return { t: (x) => lin.forward(x), w: lin.weight.value, b: lin.bias?.value ?? null };
}

/**
 * X' = H_res·T(X) + H_postᵀ·F(H_pre·X) per token by loops, from the reported maps, T(X) given
 * flat [tokens, n, outDim], F(u) = tanh(u·W) with W [dim, outDim].
 */
function transformedUpdateLoop(
  x: Tensor,
  maps: TokenMaps,
  tx: ArrayLike<number>,
  w: Tensor,
  outDim: number,
): Float64Array {
  const [batch, seq, n, dim] = x.shape as [number, number, number, number];
  const xs = x.toTypedArray();
  const ws = w.toTypedArray();
  const hRes = maps.hRes.toTypedArray();
  const hPre = maps.hPre.toTypedArray();
  const hPost = maps.hPost.toTypedArray();
  const out = new Float64Array(batch * seq * n * outDim);
  for (let k = 0; k < batch * seq; k++) {
    const u = new Float64Array(dim);
    for (let s = 0; s < n; s++) for (let c = 0; c < dim; c++) u[c] += hPre[k * n + s]! * xs[(k * n + s) * dim + c]!;
    const y = new Float64Array(outDim);
    for (let o = 0; o < outDim; o++) {
      let acc = 0;
      for (let c = 0; c < dim; c++) acc += u[c]! * ws[c * outDim + o]!;
      y[o] = Math.tanh(acc);
    }
    for (let s = 0; s < n; s++) {
      for (let o = 0; o < outDim; o++) {
        let acc = hPost[k * n + s]! * y[o]!;
        for (let t = 0; t < n; t++) acc += hRes[(k * n + s) * n + t]! * tx[(k * n + t) * outDim + o]!;
        out[(k * n + s) * outDim + o] = acc;
      }
    }
  }
  return out;
}

/** [B, n, C, ...spatial] → tokens [B, S, n, C] by index arithmetic (independent of the layer's permutes). */
function channelsFirstToTokens(x: Tensor): Tensor {
  const [batch, n, dim, ...spatial] = x.shape as number[];
  const s = spatial.reduce((a, b) => a * b, 1);
  const xs = x.toTypedArray();
  const out = new Float64Array(xs.length);
  for (let b = 0; b < batch!; b++)
    for (let i = 0; i < n!; i++)
      for (let c = 0; c < dim!; c++)
        for (let p = 0; p < s; p++) out[((b * s + p) * n! + i) * dim! + c] = xs[((b * n! + i) * dim! + c) * s + p]!;
  return tensor(out, { shape: [batch!, s, n!, dim!] });
}

/** A channels-first branch computing tanh(u·W) per position: [B, C, ...spatial] → [B, C', ...spatial]. */
function channelsFirstTanh(w: Variable | Tensor): (u: Variable) => Variable {
  return (u) => {
    const k = u.ndim - 2;
    const toLast = permute(u, [0, ...Array.from({ length: k }, (_, i) => i + 2), 1]);
    const y = tanh(matmul(toLast, w));
    return permute(y, [0, k + 1, ...Array.from({ length: k }, (_, i) => i + 1)]);
  };
}

describe('StreamExpand', () => {
  const rng = new Random(1);

  it('without embeddings is expandStreams, with zero-initialised embeddings it equals it exactly', () => {
    const x = rng.normal([2, 3, 5]);
    const plain = new StreamExpand({ n: 4, dim: 5 });
    const embedded = new StreamExpand({ n: 4, dim: 5, streamEmbedding: true });
    expect(parameterCount(plain)).toBe(0);
    expect(parameterCount(embedded)).toBe(4 * 5);
    expect(embedded.embedding!.value.toTypedArray()).toEqual(new Float64Array(20));
    const reference = expandStreams(x, 4).value.toTypedArray();
    expect(plain.forward(x).value.toTypedArray()).toEqual(reference);
    expect(embedded.forward(x).value.toTypedArray()).toEqual(reference);
  });

  it('adds row s of the embedding to stream s (both layouts, by loops)', () => {
    const n = 3;
    const dim = 2;
    for (const layout of ['channelsLast', 'channelsFirst'] as const) {
      const expandModule = new StreamExpand({ n, dim, streamEmbedding: true, layout });
      const e = rng.normal([n, dim]);
      expandModule.embedding!.value.assign(e);
      const es = e.toTypedArray();
      // channelsLast: x [B, T, C]; channelsFirst: x [B, C, H, W]
      const x = layout === 'channelsLast' ? rng.normal([2, 3, dim]) : rng.normal([2, dim, 2, 3]);
      const xs = x.toTypedArray();
      const y = expandModule.forward(x);
      const ys = y.value.toTypedArray();
      if (layout === 'channelsLast') {
        expect(y.shape).toEqual([2, 3, n, dim]);
        for (let k = 0; k < 6; k++)
          for (let s = 0; s < n; s++)
            for (let c = 0; c < dim; c++) expect(ys[(k * n + s) * dim + c]).toBe(xs[k * dim + c]! + es[s * dim + c]!);
      } else {
        expect(y.shape).toEqual([2, n, dim, 2, 3]);
        for (let b = 0; b < 2; b++)
          for (let s = 0; s < n; s++)
            for (let c = 0; c < dim; c++)
              for (let p = 0; p < 6; p++)
                expect(ys[((b * n + s) * dim + c) * 6 + p]).toBe(xs[(b * dim + c) * 6 + p]! + es[s * dim + c]!);
      }
    }
  });

  it('gradcheck (float64) with respect to the input and the embedding, both layouts', () => {
    for (const layout of ['channelsLast', 'channelsFirst'] as const) {
      const m = new StreamExpand({ n: 3, dim: 2, streamEmbedding: true, layout });
      const x = layout === 'channelsLast' ? rng.normal([2, 2, 2]) : rng.normal([1, 2, 2, 2]);
      gradcheck((xv, ev) => withFields(m, ['embedding'], [ev], () => m.forward(xv)), [x, rng.normal([3, 2])]);
    }
  });

  it('reports bad options and inputs with typed errors', () => {
    expect(() => new StreamExpand({ n: 0, dim: 2 })).toThrow(ValueError);
    expect(() => new StreamExpand({ n: 2, dim: 2, layout: 'nchw' as 'channelsLast' })).toThrow(/StreamExpand: layout/);
    expect(() => new StreamExpand({ n: 2, dim: 2, streamEmbedding: 1 as unknown as boolean })).toThrow(ValueError);
    expect(() => new StreamExpand({ n: 2, dim: 2 }).forward(rng.normal([2, 3]))).toThrow(ShapeError);
    expect(() => new StreamExpand({ n: 2, dim: 2 }).forward(rng.normal([2, 3, 3]))).toThrow(/StreamExpand: x must/);
    const f32 = rng.normal([1, 1, 2], { dtype: 'float32' });
    expect(() => new StreamExpand({ n: 2, dim: 2, streamEmbedding: true }).forward(f32)).toThrow(DTypeError);
  });
});

/** The attention pool by loops: L = X·Wᵀ per token, a = softmax over streams, y_c = Σ_s a_sc X_sc. */
function attentionPoolLoop(x: Tensor, w: Tensor): Float64Array {
  const [batch, seq, n, dim] = x.shape as [number, number, number, number];
  const xs = x.toTypedArray();
  const ws = w.toTypedArray();
  const out = new Float64Array(batch * seq * dim);
  for (let k = 0; k < batch * seq; k++) {
    for (let c = 0; c < dim; c++) {
      const logits = Array.from({ length: n }, (_, s) => {
        let acc = 0;
        for (let j = 0; j < dim; j++) acc += xs[(k * n + s) * dim + j]! * ws[c * dim + j]!;
        return acc;
      });
      const top = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - top));
      const z = e.reduce((a, b) => a + b, 0);
      let acc = 0;
      for (let s = 0; s < n; s++) acc += (e[s]! / z) * xs[(k * n + s) * dim + c]!;
      out[k * dim + c] = acc;
    }
  }
  return out;
}

describe('StreamReduce', () => {
  const rng = new Random(2);

  it("'sum' is reduceStreams exactly and has no parameters; the pool has C² (W = I at init)", () => {
    const x = rng.normal([2, 3, 4, 5]);
    const sumModule = new StreamReduce({ n: 4, dim: 5 });
    expect(parameterCount(sumModule)).toBe(0);
    expect(sumModule.forward(x).value.toTypedArray()).toEqual(reduceStreams(x).value.toTypedArray());
    const pool = new StreamReduce({ n: 4, dim: 5, mode: 'attentionPool' });
    expect(parameterCount(pool)).toBe(25);
    expect(pool.logitWeight!.value.toTypedArray()).toEqual(T.eye(5).toTypedArray());
  });

  it('at init: per channel the softmax-of-itself weighted mean of the streams, not the sum', () => {
    const x = rng.normal([2, 3, 4, 5]);
    const pool = new StreamReduce({ n: 4, dim: 5, mode: 'attentionPool' });
    const y = pool.forward(x).value.toTypedArray();
    expectClose(y, attentionPoolLoop(x, T.eye(5)), { rtol: 1e-14, atol: 1e-14 });
    // equal streams: softmax weights 1/n each, so the pool gives x = (sum of streams)/n
    const single = rng.normal([2, 3, 5]);
    const equal = expandStreams(single, 4).value.contiguous();
    expectClose(pool.forward(equal).value, single, { rtol: 1e-15, atol: 1e-15 });
    expectClose(reduceStreams(equal).value, T.mul(single, 4), { rtol: 1e-15, atol: 1e-15 });
  });

  it('property: equals the loop, and is a convex combination of the streams per channel', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.nat(1000), (n, dim, seed) => {
        const r = new Random(seed);
        const x = T.mul(r.normal([2, 2, n, dim]), 3);
        const pool = new StreamReduce({ n, dim, mode: 'attentionPool' });
        const w = T.mul(r.normal([dim, dim]), 2);
        pool.logitWeight!.value.assign(w);
        const y = pool.forward(x).value.toTypedArray();
        expectClose(y, attentionPoolLoop(x, w), { rtol: 1e-12, atol: 1e-12 });
        // weights ≥ 0 summing to 1 over streams ⇔ min_s X_sc ≤ y_c ≤ max_s X_sc (up to rounding)
        const xs = x.toTypedArray();
        for (let k = 0; k < 4; k++) {
          for (let c = 0; c < dim; c++) {
            const column = Array.from({ length: n }, (_, s) => xs[(k * n + s) * dim + c]!);
            expect(y[k * dim + c]!).toBeGreaterThanOrEqual(Math.min(...column) - 1e-12);
            expect(y[k * dim + c]!).toBeLessThanOrEqual(Math.max(...column) + 1e-12);
          }
        }
      }),
      { numRuns: 40, seed: 3 },
    );
  });

  it('the weights are a softmax over streams: one shift of all streams’ logits is invisible', () => {
    // d added to every stream (X = X̃ + 1·dᵀ) shifts the logits L_sc = X_s·W_c by d·W_c for every
    // stream s alike: a softmax over streams ignores that, so the weights stay and y moves by d
    // (a softmax over channels, or no softmax, would not give this).
    const n = 3;
    const dim = 4;
    const pool = new StreamReduce({ n, dim, mode: 'attentionPool' });
    const w = rng.normal([dim, dim]);
    pool.logitWeight!.value.assign(w);
    const x = rng.normal([1, 2, n, dim]);
    const d = rng.normal([1, 2, 1, dim]);
    const shifted = T.add(x, d);
    const expected = T.add(pool.forward(x).value, d.reshape([1, 2, dim]));
    expectClose(pool.forward(shifted).value, expected, { rtol: 1e-12, atol: 1e-12 });
  });

  it('channelsFirst equals channelsLast on the permuted input exactly, both modes', () => {
    for (const mode of ['sum', 'attentionPool'] as const) {
      const first = new StreamReduce({ n: 3, dim: 4, mode, layout: 'channelsFirst' });
      const last = new StreamReduce({ n: 3, dim: 4, mode });
      if (mode === 'attentionPool') {
        const w = rng.normal([4, 4]);
        first.logitWeight!.value.assign(w);
        last.logitWeight!.value.assign(w);
      }
      const x = rng.normal([2, 3, 4, 2, 3]);
      const y = first.forward(x); // [2, 4, 2, 3]
      expect(y.shape).toEqual([2, 4, 2, 3]);
      const tokens = channelsFirstToTokens(x); // [2, 6, 3, 4]
      const yLast = last.forward(tokens).value; // [2, 6, 4]
      const back = yLast.reshape([2, 2, 3, 4]).permute([0, 3, 1, 2]).contiguous();
      expect(y.value.contiguous().toTypedArray()).toEqual(back.toTypedArray());
    }
  });

  it('gradcheck (float64) with respect to the input and W, both layouts', () => {
    for (const layout of ['channelsLast', 'channelsFirst'] as const) {
      const m = new StreamReduce({ n: 3, dim: 2, mode: 'attentionPool', layout });
      const x = layout === 'channelsLast' ? rng.normal([1, 2, 3, 2]) : rng.normal([1, 3, 2, 2]);
      gradcheck((xv, wv) => withFields(m, ['logitWeight'], [wv], () => m.forward(xv)), [x, rng.normal([2, 2])]);
    }
  });

  it('reports bad options and inputs with typed errors', () => {
    expect(() => new StreamReduce({ n: 2, dim: 2, mode: 'max' as 'sum' })).toThrow(/StreamReduce: mode/);
    expect(() => new StreamReduce({ n: 2, dim: 2 }).forward(rng.normal([1, 1, 3, 2]))).toThrow(ShapeError);
    const f32 = rng.normal([1, 1, 2, 2], { dtype: 'float32' });
    expect(() => new StreamReduce({ n: 2, dim: 2, mode: 'attentionPool' }).forward(f32)).toThrow(DTypeError);
  });
});

describe('channelsFirst layout', () => {
  it('every variant: equals the channels-last layer on the permuted input exactly (outputs and maps)', () => {
    for (const variant of VARIANTS) {
      for (const spatial of [[2, 3], [4], [2, 1, 2]]) {
        const rng = new Random(10);
        const last = layerWith(variant, SMALL, 10);
        const first = layerWith(variant, { ...SMALL, layout: 'channelsFirst' }, 10);
        const n = last.n;
        const x = T.mul(rng.normal([2, n, 3, ...spatial]), 2);
        const w = rng.normal([3, 3]);
        const y = first.forward(x, channelsFirstTanh(w));
        expect(y.shape).toEqual([2, n, 3, ...spatial]);
        const tokens = channelsFirstToTokens(x);
        const yLast = last.forward(tokens, tanhBranch(w));
        expect(channelsFirstToTokens(y.value.contiguous()).toTypedArray()).toEqual(yLast.value.toTypedArray());
        for (const key of ['hRes', 'hPre', 'hPost'] as const) {
          expect(first.lastMaps![key].shape).toEqual(last.lastMaps![key].shape);
          expect(first.lastMaps![key].toTypedArray()).toEqual(last.lastMaps![key].toTypedArray());
        }
        // the split style and maps() agree with forward
        const { branchInput, merge } = first.split(x);
        expect(branchInput.shape).toEqual([2, 3, ...spatial]);
        expect(merge(channelsFirstTanh(w)(branchInput)).value.toTypedArray()).toEqual(y.value.toTypedArray());
        expect(first.maps(x).hRes.toTypedArray()).toEqual(last.lastMaps!.hRes.toTypedArray());
      }
    }
  });

  it('has the same parameters as the channels-last layer, and checks shapes in its own terms', () => {
    for (const variant of VARIANTS) {
      const first = createHyperConnection(variant, { ...SMALL, layout: 'channelsFirst' });
      expect(parameterCount(first)).toBe(parameterCount(createHyperConnection(variant, SMALL)));
    }
    const layer = createHyperConnection('shc', { ...SMALL, layout: 'channelsFirst' });
    const rng = new Random(0);
    expect(() => layer.forward(rng.normal([1, 2, 3, 3]), (u: Variable) => u)).toThrow(
      /input of shape \[1,2,3,3\] must be \[batch, 3, 3, \.\.\.spatial\] \(channelsFirst\)/,
    );
    expect(() => layer.forward(rng.normal([1, 3, 3]), (u: Variable) => u)).toThrow(ShapeError);
    expect(() => layer.forward(rng.normal([1, 3, 3, 2]), (u: Variable) => reshape(u, [1, 2, 3]))).toThrow(
      /the branch output has shape \[1,2,3\], expected \[1,3,2\]/,
    );
    expect(() => createHyperConnection('shc', { ...SMALL, layout: 'NCHW' as 'channelsFirst' })).toThrow(
      /layout must be 'channelsLast' or 'channelsFirst', got 'NCHW'/,
    );
  });

  it('gradcheck (float64) through a channels-first layer: input, branch weights and parameters', () => {
    for (const variant of ['hc', 'mhc', 'shc'] as const) {
      const rng = new Random(4);
      const layer = layerWith(variant, { ...SMALL, n: 2, dim: 2, layout: 'channelsFirst' }, 4);
      const x = rng.normal([1, 2, 2, 2, 1]);
      const w = rng.normal([2, 2]);
      gradcheckLayer(layer, x, w, channelsFirstTanh);
    }
  });
});

describe('residualTransform', () => {
  it('T = identity (a Linear with W = I, b = 0): every variant equals today’s layer exactly', () => {
    const rng = new Random(20);
    for (const variant of VARIANTS) {
      const plain = layerWith(variant, SMALL, 20);
      const identity = new nn.Linear(3, 3, rng);
      identity.weight.value.assign(T.eye(3));
      identity.bias!.value.assign(T.zeros([3]));
      const transformed = layerWith(variant, { ...SMALL, residualTransform: (x: Variable) => identity.forward(x) }, 20);
      const x = randomState(rng, [2, 2, plain.n, 3], 2);
      const w = rng.normal([3, 3]);
      expect(transformed.forward(x, tanhBranch(w)).value.toTypedArray()).toEqual(
        plain.forward(x, tanhBranch(w)).value.toTypedArray(),
      );
    }
  });

  it('C_in ≠ C_out, every variant: X′ = H_res·T(X) + H_postᵀ·F(H_pre·X) by loops, maps from X', () => {
    const rng = new Random(21);
    for (const variant of VARIANTS) {
      const { t, w: tw, b: tb } = linearFunction(rng, 3, 5, true);
      const layer = layerWith(variant, { ...SMALL, outDim: 5, residualTransform: t }, 21);
      const plain = layerWith(variant, SMALL, 21);
      const x = randomState(rng, [2, 3, layer.n, 3], 2);
      const w = rng.normal([3, 5]);
      const y = layer.forward(x, tanhBranch(w));
      expect(y.shape).toEqual([2, 3, layer.n, 5]);
      const maps = layer.lastMaps!;
      // the maps are those of the same layer without T on the same X
      const plainMaps = plain.maps(x);
      for (const key of ['hRes', 'hPre', 'hPost'] as const)
        expect(maps[key].toTypedArray()).toEqual(plainMaps[key].toTypedArray());
      const reference = transformedUpdateLoop(x, maps, linearLoop(x.toTypedArray(), tw, tb), w, 5);
      expectClose(y.value, reference, { rtol: 1e-12, atol: 1e-12 });
    }
  });

  it('H_res·T(X) = T(H_res·X) for a bias-free linear T (every variant); a bias adds (H_res·1 − 1)·bᵀ', () => {
    const rng = new Random(22);
    for (const variant of VARIANTS) {
      for (const bias of [false, true]) {
        const { t, b } = linearFunction(rng, 3, 4, bias);
        const layer = layerWith(variant, { ...SMALL, outDim: 4, residualTransform: t }, 22);
        const x = randomState(rng, [1, 3, layer.n, 3], 2);
        // F ≡ 0 isolates the residual path: X′ = H_res·T(X)
        const zero = (u: Variable): Variable => matmul(u, T.zeros([3, 4]));
        const out = layer.forward(x, zero).value;
        const hRes = layer.lastMaps!.hRes;
        const tOfMixed = t(variable(T.matmul(hRes, x))).value; // T(H_res·X)
        if (!bias) {
          expectClose(out, tOfMixed, { rtol: 1e-12, atol: 1e-12 });
          continue;
        }
        // H_res(X Wᵀ + 1bᵀ) − (H_res X Wᵀ + 1bᵀ) = (H_res·1 − 1)·bᵀ
        const rowSumsMinusOne = T.sub(T.sum(hRes, -1, true), 1); // [1, 3, n, 1]
        const expectedGap = T.mul(rowSumsMinusOne, b!); // [1, 3, n, 4]
        expectClose(T.sub(out, tOfMixed), expectedGap, { rtol: 1e-10, atol: 1e-12 });
        // the gap vanishes exactly where rows sum to 1 (doubly stochastic / spectral sphere)
        if (variant === 'shc' || variant === 'mhcLite') expect(T.max(T.abs(expectedGap)).item()).toBeLessThan(1e-13);
        if (variant === 'hc') expect(T.max(T.abs(expectedGap)).item()).toBeGreaterThan(1e-3);
      }
    }
  });

  it("the 'residual' variant: x ↦ T(x) + F(x) exactly", () => {
    const rng = new Random(23);
    const { t } = linearFunction(rng, 3, 5, true);
    const layer = createHyperConnection('residual', { dim: 3, layerIndex: 0, outDim: 5, residualTransform: t });
    const x = rng.normal([2, 3, 1, 3]);
    const w = rng.normal([3, 5]);
    const y = layer.forward(x, (u: Variable) => tanh(matmul(u, w)));
    const expected = add(t(variable(x)), reshape(tanh(matmul(x.reshape([2, 3, 3]), w)), [2, 3, 1, 5]));
    expect(y.value.toTypedArray()).toEqual(expected.value.toTypedArray());
  });

  it('channelsFirst with a 1×1-convolution T on [B·n, C, H, W] equals channelsLast with the linear T', () => {
    const rng = new Random(24);
    const w1 = rng.normal([4, 3]); // 1×1 convolution 3 → 4 channels = per-pixel linear map
    const convT: ResidualTransform = (x: Variable) => {
      // [B·n, C, H, W] → [B·n, H, W, C] · W1ᵀ → [B·n, 4, H, W]
      const y = matmul(permute(x, [0, 2, 3, 1]), T.transpose(w1));
      return permute(y, [0, 3, 1, 2]);
    };
    const linT = (x: Variable): Variable => matmul(x, T.transpose(w1));
    for (const variant of ['hc', 'mhcLite', 'shc'] as const) {
      const first = layerWith(variant, { ...SMALL, outDim: 4, residualTransform: convT, layout: 'channelsFirst' }, 24);
      const last = layerWith(variant, { ...SMALL, outDim: 4, residualTransform: linT }, 24);
      const x = rng.normal([2, 3, 3, 2, 2]);
      const w = rng.normal([3, 4]);
      const y = first.forward(x, channelsFirstTanh(w));
      expect(y.shape).toEqual([2, 3, 4, 2, 2]);
      const yLast = last.forward(channelsFirstToTokens(x), tanhBranch(w));
      expect(channelsFirstToTokens(y.value.contiguous()).toTypedArray()).toEqual(yLast.value.toTypedArray());
    }
  });

  it('a module T: its parameters become the layer’s (counts per variant), weights decayed, bias not', () => {
    const rng = new Random(25);
    for (const variant of VARIANTS) {
      const t = new nn.Linear(3, 5, rng);
      const layer = createHyperConnection(variant, { ...SMALL, outDim: 5, residualTransform: t });
      const base = parameterCount(createHyperConnection(variant, SMALL));
      expect(parameterCount(layer)).toBe(base + 3 * 5 + 5);
      const groups = layer.parameterGroups();
      expect(groups.decay).toContain(t.weight);
      expect(groups.noDecay).toContain(t.bias);
      expect(groups.decay.length + groups.noDecay.length).toBe(layer.parameters().length);
      expect(layer.namedParameters().map(([name]) => name)).toContain('residualTransform.weight');
    }
  });

  it('property: channelsFirst with T (C_in → C_out) equals the per-token loop, any variant and spatial shape', () => {
    const caseArb = fc.record({
      variant: fc.constantFrom(...VARIANTS),
      n: fc.integer({ min: 2, max: 4 }),
      dim: fc.integer({ min: 1, max: 3 }),
      outDim: fc.integer({ min: 1, max: 4 }),
      spatial: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
      seed: fc.nat(10_000),
    });
    fc.assert(
      fc.property(caseArb, ({ variant, n, dim, outDim, spatial, seed }) => {
        const rng = new Random(seed);
        const w1 = rng.normal([outDim, dim]);
        // a per-pixel linear T on [B·n, C_in, ...spatial]
        const t = (x: Variable): Variable => {
          const k = x.ndim - 2;
          const y = matmul(permute(x, [0, ...Array.from({ length: k }, (_, i) => i + 2), 1]), T.transpose(w1));
          return permute(y, [0, k + 1, ...Array.from({ length: k }, (_, i) => i + 1)]);
        };
        const options = {
          n,
          dim,
          outDim,
          layerIndex: seed % 5,
          residualTransform: t,
          layout: 'channelsFirst' as const,
        };
        const layer = layerWith(variant, options, seed);
        const x = T.mul(rng.normal([2, layer.n, dim, ...spatial]), 3);
        const w = rng.normal([dim, outDim]);
        const y = layer.forward(x, channelsFirstTanh(w));
        expect(y.shape).toEqual([2, layer.n, outDim, ...spatial]);
        const tokens = channelsFirstToTokens(x);
        const reference = transformedUpdateLoop(
          tokens,
          layer.lastMaps!,
          linearLoop(tokens.toTypedArray(), w1, null),
          w,
          outDim,
        );
        expectClose(channelsFirstToTokens(y.value.contiguous()), reference, { rtol: 1e-12, atol: 1e-12 });
      }),
      { numRuns: 30, seed: 5 },
    );
  });

  it('parameter counts at n = 4, every variant × option, against the spec’s closed forms', () => {
    // docs/spec/hc-family.md, "Options": per-module counts at n = 4 (C = dim)
    const base: Record<Variant, (c: number) => number> = {
      residual: () => 0,
      hc: (c) => 7 * c + 26,
      mhc: (c) => 100 * c + 27,
      mhcLite: (c) => 132 * c + 35,
      kromhc: (c) => 52 * c + 15,
      shc: (c) => 72 * c + 24,
      shcPower: (c) => 72 * c + 19,
    };
    const rng = new Random(28);
    const dim = 5;
    const outDim = 7;
    for (const variant of VARIANTS) {
      const options = { n: 4, dim, layerIndex: 0 };
      const count = (extra: Partial<HyperConnectionOptions>): number =>
        parameterCount(createHyperConnection(variant, { ...options, ...extra }));
      expect(count({})).toBe(base[variant](dim));
      expect(count({ layout: 'channelsFirst' })).toBe(base[variant](dim));
      // a Linear T adds C_in·C_out + C_out; a function T adds nothing (its weights are not the layer's)
      expect(count({ outDim, residualTransform: new nn.Linear(dim, outDim, rng) })).toBe(
        base[variant](dim) + dim * outDim + outDim,
      );
      expect(count({ outDim, residualTransform: linearFunction(rng, dim, outDim, true).t })).toBe(base[variant](dim));
    }
  });

  it('gradcheck (float64), every variant: input, branch weights, layer parameters and T’s parameters', () => {
    for (const variant of VARIANTS) {
      const rng = new Random(26);
      const t = new nn.Linear(2, 3, rng);
      const layer = layerWith(variant, { ...SMALL, n: 2, dim: 2, outDim: 3, residualTransform: t }, 26);
      const x = randomState(rng, [1, 2, layer.n, 2], 1.5);
      const w = rng.normal([2, 3]);
      gradcheckLayer(layer, x, w, tanhBranch);
    }
  });

  it('reports bad options and bad transform results with typed errors', () => {
    const rng = new Random(27);
    const x = randomState(rng, [1, 2, 3, 3], 1);
    const id = (u: Variable): Variable => u;
    expect(() => createHyperConnection('shc', { ...SMALL, outDim: 4 })).toThrow(
      /SHCLayer: outDim 4 differs from dim 3, so a residualTransform must map/,
    );
    expect(() =>
      createHyperConnection('shc', { ...SMALL, residualTransform: 3 as unknown as ResidualTransform }),
    ).toThrow(/residualTransform must be a function or a module with a forward method, got a number/);
    expect(() => createHyperConnection('hc', { ...SMALL, outDim: 0, residualTransform: id })).toThrow(ValueError);
    const wrongShape = createHyperConnection('shc', { ...SMALL, outDim: 4, residualTransform: id });
    expect(() => wrongShape.forward(x, id)).toThrow(
      /residualTransform returned shape \[1,2,3,3\].*expected \[1,2,3,4\]/,
    );
    const tensorOut = createHyperConnection('shc', { ...SMALL, residualTransform: (u: Variable) => u.value as never });
    expect(() => tensorOut.forward(x, id)).toThrow(/residualTransform must return a Variable, got a Tensor/);
    const ok = createHyperConnection('mhc', {
      ...SMALL,
      outDim: 4,
      residualTransform: linearFunction(rng, 3, 4, false).t,
    });
    expect(() => ok.forward(x, id)).toThrow(/the branch output has shape \[1,2,3\], expected \[1,2,4\]/);
  });
});

/**
 * A channels-first layer seen as a channels-last one ([B, T, n, C] ↔ [B, n, C, T]), so that
 * `checkLayerInvariants`, which generates channels-last states, can run on it.
 */
class ChannelsFirstAsLast extends nn.Module {
  constructor(readonly inner: HyperConnection) {
    super();
  }
  get variant(): Variant {
    return this.inner.variant;
  }
  get n(): number {
    return this.inner.n;
  }
  get dim(): number {
    return this.inner.dim;
  }
  get lastMaps(): TokenMaps | null {
    return this.inner.lastMaps;
  }
  forward(x: Variable | Tensor, branch: (u: Variable) => Variable): Variable {
    const { branchInput, merge } = this.split(x);
    return merge(branch(branchInput));
  }
  split(x: Variable | Tensor): { branchInput: Variable; merge(y: Variable): Variable } {
    const { branchInput, merge } = this.inner.split(permute(x, [0, 2, 3, 1]));
    return {
      branchInput: permute(branchInput, [0, 2, 1]),
      merge: (y) => permute(merge(permute(y, [0, 2, 1])), [0, 3, 1, 2]),
    };
  }
  maps(x: Variable | Tensor): TokenMaps {
    return this.inner.maps(permute(x, [0, 2, 3, 1]));
  }
  parameterGroups(): { decay: Variable[]; noDecay: Variable[] } {
    return this.inner.parameterGroups();
  }
}

describe('checkLayerInvariants with the options', () => {
  it('channelsFirst layers (through a transpose adapter): every default invariant holds', () => {
    for (const variant of VARIANTS) {
      const layer = createHyperConnection(variant, { n: 3, dim: 3, layerIndex: 0, layout: 'channelsFirst' });
      const report = checkLayerInvariants(new ChannelsFirstAsLast(layer) as unknown as HyperConnection, {
        numRuns: 8,
      });
      expect(report.ok, JSON.stringify(report.invariants.filter((r) => !r.ok))).toBe(true);
      expect(report.invariants.map((r) => r.name)).toEqual(DEFAULT_INVARIANTS[variant]);
    }
  });

  it('residualTransform: T = I passes every invariant; a fixed linear T all but update/bypass', () => {
    for (const variant of VARIANTS) {
      const id = createHyperConnection(variant, { n: 3, dim: 3, layerIndex: 0, residualTransform: (x: Variable) => x });
      expect(checkLayerInvariants(id, { numRuns: 6 }).ok).toBe(true);
      // update and bypass compare against H_res·X, which a non-identity T changes on purpose
      const { t } = linearFunction(new Random(30), 3, 3, true);
      const layer = createHyperConnection(variant, { n: 3, dim: 3, layerIndex: 0, residualTransform: t });
      const invariants = DEFAULT_INVARIANTS[variant].filter((name) => name !== 'update' && name !== 'bypass');
      const report = checkLayerInvariants(layer, { numRuns: 6, invariants });
      expect(report.ok, JSON.stringify(report.invariants.filter((r) => !r.ok))).toBe(true);
      // and the update check does see T: it fails
      expect(checkLayerInvariants(layer, { numRuns: 2, invariants: ['update'] }).ok).toBe(false);
    }
  });
});

describe('model options: streamEmbedding and streamReduce', () => {
  const tinyOptions = { n: 3, vocabSize: 7, dim: 8, heads: 2, depth: 1, seqLen: 5 } as const;

  it('defaults add nothing; the options add n·C and C², the embedding starts equal, the pool not', () => {
    for (const variant of ['mhc', 'shc'] as const) {
      const plain = new TinyTransformer({ ...tinyOptions, variant, rng: new Random(40) });
      const embedded = new TinyTransformer({ ...tinyOptions, variant, rng: new Random(40), streamEmbedding: true });
      const pooled = new TinyTransformer({
        ...tinyOptions,
        variant,
        rng: new Random(40),
        streamReduce: 'attentionPool',
      });
      expect(plain.namedParameters().some(([name]) => name.startsWith('stream'))).toBe(false);
      expect(plain.parameterCounts().total).toBe(parameterCount(plain));
      expect(embedded.parameterCounts().total).toBe(plain.parameterCounts().total + 3 * 8);
      expect(pooled.parameterCounts().total).toBe(plain.parameterCounts().total + 8 * 8);
      const tokens = [
        [1, 2, 3, 4],
        [0, 6, 5, 2],
      ];
      // the zero-initialised embedding changes nothing at init
      expect(embedded.forward(tokens).value.toTypedArray()).toEqual(plain.forward(tokens).value.toTypedArray());
      // the pool at init is not the sum (and the head differs), so the logits move
      expect(pooled.forward(tokens).value.toTypedArray()).not.toEqual(plain.forward(tokens).value.toTypedArray());
    }
    const mlp = new DeepResidualMLP({
      variant: 'shc',
      n: 4,
      dim: 5,
      depth: 2,
      hidden: 6,
      inputDim: 2,
      outputDim: 1,
      rng: new Random(41),
      streamEmbedding: true,
      streamReduce: 'attentionPool',
    });
    const mlpPlain = new DeepResidualMLP({
      variant: 'shc',
      n: 4,
      dim: 5,
      depth: 2,
      hidden: 6,
      inputDim: 2,
      outputDim: 1,
      rng: new Random(41),
    });
    expect(mlp.parameterCounts().total).toBe(mlpPlain.parameterCounts().total + 4 * 5 + 5 * 5);
    expect(mlp.parameterGroups().decay).toContain(mlp.streamExpand.embedding);
    expect(mlp.forward(tensor([[0.5, -1]])).shape).toEqual([1, 1]);
  });

  it('gradients reach the stream embedding and the pool weight through a model', () => {
    const model = new TinyTransformer({
      ...tinyOptions,
      variant: 'shc',
      rng: new Random(42),
      streamEmbedding: true,
      streamReduce: 'attentionPool',
    });
    model.loss(tensor([[1, 2, 3, 4, 5]])).backward();
    for (const p of [model.streamExpand.embedding!, model.streamReduce.logitWeight!]) {
      expect(T.max(T.abs(p.grad!.value)).item()).toBeGreaterThan(0);
    }
  });
});
