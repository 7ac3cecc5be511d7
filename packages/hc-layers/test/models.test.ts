/**
 * The small models: shapes for every variant; the 'residual' transformer against a
 * hand-assembled pre-norm transformer with the same weights; HC at init against the same;
 * causality; parameter counts against closed forms (the hyper-connection part against the
 * spec's per-module formulas); gradchecks through a tiny transformer for every variant.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Random, ShapeError, type Tensor, tensor, ValueError } from '@hyperconn/tensor';
import { add, gradcheck, matmul, type nn, transpose, Variable } from '@hyperconn/autograd';
import { DeepResidualMLP, TinyTransformer, VARIANTS, type TinyTransformerOptions, type Variant } from '../src/index';
import { expectClose } from '../../../test/support/assert';

const range = (k: number): number[] => Array.from({ length: k }, (_, i) => i);

function randomTokens(rng: Random, batch: number, seq: number, vocab: number): number[][] {
  return (rng.integers(0, vocab, [batch, seq]).toArray() as number[][]).map((r) => r.map(Number));
}

function tiny(variant: Variant, extra: Partial<TinyTransformerOptions> = {}): TinyTransformer {
  return new TinyTransformer({
    variant,
    n: 3,
    vocabSize: 7,
    dim: 8,
    heads: 2,
    depth: 2,
    seqLen: 6,
    rng: new Random(11),
    ...extra,
  });
}

/** Every parameter moved by N(0, s²), so no gradient path is switched off by a zero at init. */
function perturb(module: nn.Module, rng: Random, s: number): void {
  for (const p of module.parameters())
    p.value.assign(add(p.value, rng.normal(p.shape, { std: s, dtype: p.dtype })).value);
}

/**
 * The pre-norm transformer written out by hand from the model's own submodules:
 * h = tok + pos; h += attn(norm₁ h); h += mlp(norm₂ h); logits = head(norm h).
 */
function handAssembled(model: TinyTransformer, tokens: number[][]): Tensor {
  const y = model.norm.forward(handHidden(model, tokens));
  return (model.head === null ? matmul(y, transpose(model.tokenEmbedding.weight)) : model.head.forward(y)).value;
}

/** The hand-assembled transformer's hidden state before the final norm, [B, T, dim]. */
function handHidden(model: TinyTransformer, tokens: number[][]): Variable {
  let h = add(model.tokenEmbedding.forward(tokens), model.positionEmbedding.forward(range(tokens[0]!.length)));
  for (const block of model.blocks) {
    h = add(h, block.attn.layer.forward(block.attn.norm.forward(h)));
    h = add(h, block.mlp.layer.forward(block.mlp.norm.forward(h)));
  }
  return h;
}

describe('TinyTransformer.streams', () => {
  it('is the hand-assembled hidden state for the residual (one stream), with the same checks as forward', () => {
    const model = tiny('residual');
    const tokens = randomTokens(new Random(3), 2, 5, 7);
    const streams = model.streams(tokens);
    expect(streams.shape).toEqual([2, 5, 1, 8]);
    expectClose(streams.value.reshape([2, 5, 8]), handHidden(model, tokens).value, { atol: 1e-12, rtol: 1e-12 });
    expect(() => model.streams([[1, 2, 3, 4, 5, 6, 0]])).toThrow(/TinyTransformer: sequence length 7/);
  });

  it.each(VARIANTS)('%s: forward reads out head(norm(Σ streams))', (variant) => {
    const model = tiny(variant);
    perturb(model, new Random(4), 0.3);
    const tokens = randomTokens(new Random(5), 2, 4, 7);
    const streams = model.streams(tokens).value;
    expect(streams.shape).toEqual([2, 4, model.n, 8]);
    // the sum over the streams by a loop
    const flat = streams.toTypedArray();
    const summed = new Float64Array(2 * 4 * 8);
    for (let t = 0; t < 8; t++)
      for (let i = 0; i < model.n; i++)
        for (let c = 0; c < 8; c++) summed[t * 8 + c]! += flat[(t * model.n + i) * 8 + c]!;
    const y = model.norm.forward(tensor(summed, { shape: [2, 4, 8] }));
    expectClose(model.forward(tokens).value, model.head!.forward(y).value, { atol: 1e-12, rtol: 1e-12 });
  });
});

describe('shapes', () => {
  it.each(VARIANTS)('%s: DeepResidualMLP maps [B, in] → [B, out] and [B, T, in] → [B, T, out]', (variant) => {
    const rng = new Random(1);
    const model = new DeepResidualMLP({ variant, n: 4, dim: 6, depth: 3, hidden: 10, inputDim: 5, outputDim: 2, rng });
    expect(model.hyperConnections).toHaveLength(3);
    expect(model.forward(rng.normal([3, 5])).shape).toEqual([3, 2]);
    expect(model.forward(rng.normal([2, 4, 5])).shape).toEqual([2, 4, 2]);
    expect(() => model.forward(rng.normal([3, 4]))).toThrow(ShapeError);
    expect(() => model.forward(rng.normal([5]))).toThrow(/DeepResidualMLP: input of shape \[5\]/);
  });

  it.each(VARIANTS)('%s: TinyTransformer gives logits [B, T, vocab] (tied and untied heads)', (variant) => {
    for (const tiedHead of [false, true]) {
      const model = tiny(variant, { tiedHead });
      const tokens = randomTokens(new Random(2), 2, 5, 7);
      const logits = model.forward(tokens);
      expect(logits.shape).toEqual([2, 5, 7]);
      expect(model.hyperConnections).toHaveLength(4);
      expect(model.hyperConnections.every((hc) => hc.lastMaps !== null && hc.lastMaps.hRes.shape[0] === 2)).toBe(true);
      expect(model.head === null).toBe(tiedHead);
    }
  });

  it('rejects sequences longer than seqLen, empty ones, and bad sizes', () => {
    const model = tiny('shc');
    expect(() => model.forward([range(7)])).toThrow(/sequence length 7 must lie in \[1, 6\]/);
    expect(() => model.forward([0, 1])).toThrow(ShapeError);
    expect(() => model.loss(tensor([[1]]))).toThrow(/L ≥ 2/);
    expect(() => tiny('mhc', { depth: 0 })).toThrow(ValueError);
    expect(() => tiny('mhc', { heads: 3 })).toThrow(/not divisible/);
  });
});

describe('the residual path', () => {
  it("'residual' equals a hand-assembled pre-norm transformer with the same weights (1e-12)", () => {
    for (const tiedHead of [false, true]) {
      const model = tiny('residual', { tiedHead });
      expect(model.n).toBe(1);
      const tokens = randomTokens(new Random(3), 2, 6, 7);
      expectClose(model.forward(tokens).value, handAssembled(model, tokens), { rtol: 1e-12, atol: 1e-12 });
    }
  });

  it(
    "'hc' at initialisation (equal streams) is the same pre-norm transformer (eps = 0: the final " +
      "norm then ignores the stream sum's factor n)",
    () => {
      // Same seed → the same non-HC weights (HC layers draw nothing). Each stream carries x, H_pre
      // reads one of them, H_res = I, H_post = 1, so the n streams stay equal and sum to n·x.
      const residual = tiny('residual', { eps: 0 });
      const hc = tiny('hc', { eps: 0 });
      const tokens = randomTokens(new Random(4), 2, 6, 7);
      expectClose(hc.forward(tokens).value, handAssembled(residual, tokens), { rtol: 1e-12, atol: 1e-12 });
      // and not so for the constrained variants, whose gates rescale x and F(x) at init
      const mhc = tiny('mhc', { eps: 0 });
      const diff = Math.max(
        ...Array.from(mhc.forward(tokens).value.toTypedArray(), (v, i) =>
          Math.abs(v - handAssembled(residual, tokens).toTypedArray()[i]!),
        ),
      );
      expect(diff).toBeGreaterThan(1e-3);
    },
  );

  it("DeepResidualMLP with 'residual' is input → Linear → depth × (x + MLP(RMSNorm x)) → RMSNorm → head", () => {
    const rng = new Random(5);
    const model = new DeepResidualMLP({
      variant: 'residual',
      dim: 6,
      depth: 3,
      hidden: 9,
      inputDim: 4,
      outputDim: 3,
      rng,
    });
    const x = rng.normal([5, 4]);
    let h = model.input.forward(x);
    for (const block of model.blocks) h = add(h, block.branch.layer.forward(block.branch.norm.forward(h)));
    expectClose(model.forward(x).value, model.head.forward(model.norm.forward(h)).value, { rtol: 1e-12, atol: 1e-12 });
  });
});

describe('causality', () => {
  it.each(VARIANTS)('%s: logits at position t do not depend on tokens after t', (variant) => {
    const model = tiny(variant);
    fc.assert(
      // each run is two forward passes of the model: 15 runs keep the file fast
      fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 2 ** 30 }), (t, seed) => {
        const rng = new Random(seed);
        const a = randomTokens(rng, 2, 6, 7);
        const b = a.map((row) =>
          row.map((tok, i) => (i > t ? (tok + 1 + (rng.integers(0, 6, []).item() as number)) % 7 : tok)),
        );
        const la = model.forward(a).value.slice(null, [0, t + 1]);
        const lb = model.forward(b).value.slice(null, [0, t + 1]);
        expectClose(lb.contiguous(), la.contiguous(), { rtol: 1e-13, atol: 1e-13 });
        // the future does matter for the positions that see it
        const after = model
          .forward(a)
          .value.slice(null, [t + 1, null])
          .toTypedArray();
        const changed = model
          .forward(b)
          .value.slice(null, [t + 1, null])
          .toTypedArray();
        expect(after.some((v, i) => v !== changed[i])).toBe(true);
      }),
      { numRuns: 15 },
    );
  });
});

/** Parameters of one hyper-connection module at n streams of size C, from docs/spec/hc-family.md. */
function specParameterCount(variant: Variant, n: number, c: number): number {
  const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1));
  const m = n - 1;
  switch (variant) {
    case 'residual':
      return 0;
    case 'hc': // A_m, A_r, B; W_m, W_r, W_β; s_α, s_β; per-stream RMSNorm gain
      return n + n * n + n + c * (1 + n + 1) + 2 + c;
    case 'mhc': // φ_pre, φ_post, φ_res; gain over nC; α ×3; b_pre, b_post, b_res
      return n * c * (n + n + n * n) + n * c + 3 + n + n + n * n;
    case 'mhcLite': // φ_pre, φ_post, W_res; gain; α ×3; b_pre, b_post, b_res over n! permutations
      return n * c * (2 * n + factorial(n)) + n * c + 3 + 2 * n + factorial(n);
    case 'kromhc': {
      // as mHC-lite, with Σ_k i_k! logits over the prime factors i_k of n instead of n!
      let logits = 0;
      let rest = n;
      for (let p = 2; rest > 1; p++) {
        for (; rest % p === 0; rest /= p) logits += factorial(p);
      }
      return n * c * (2 * n + logits) + n * c + 3 + 2 * n + logits;
    }
    // W_pre, W_post, W_res; gain; p, q, ρ_S (+ ρ_U, ρ_V, γ_U, γ_V when m ≥ 2: no rotations at n = 2);
    // b_pre, b_post; c
    case 'shc':
      return n * c * (2 * n + m * m) + n * c + (m >= 2 ? 7 : 3) + 2 * n + m * m;
    case 'shcPower': // W_pre, W_post, W_res; gain; p, q; b_pre, b_post; the static part of Ẽ (m²)
      return n * c * (2 * n + m * m) + n * c + 2 + 2 * n + m * m;
  }
}

describe('parameter counts', () => {
  it('the spec quotes 100C + 27 (mHC), 52C + 15 (KromHC) and 72C + 24 (sHC) at n = 4', () => {
    for (const c of [1, 8, 64]) {
      expect(specParameterCount('mhc', 4, c)).toBe(100 * c + 27);
      expect(specParameterCount('kromhc', 4, c)).toBe(52 * c + 15);
      expect(specParameterCount('shc', 4, c)).toBe(72 * c + 24);
    }
  });

  it.each(VARIANTS)(
    '%s: total = embeddings + blocks + head, hyper-connections = 2·depth × the per-module formula',
    (variant) => {
      const [vocab, dim, depth, seqLen, hidden, n] = [7, 8, 2, 6, 32, 3];
      for (const tiedHead of [false, true]) {
        const model = tiny(variant, { tiedHead });
        const counts = model.parameterCounts();
        const streams = variant === 'residual' ? 1 : n;
        const perModule = specParameterCount(variant, streams, dim);
        const attention = 3 * dim * dim + 3 * dim + dim * dim + dim;
        const mlp = dim * hidden + hidden + hidden * dim + dim;
        const rest =
          vocab * dim + seqLen * dim + depth * (attention + mlp + 2 * dim) + dim + (tiedHead ? 0 : dim * vocab);
        expect(counts.rest).toBe(rest);
        expect(counts.hyperConnections).toBe(2 * depth * perModule);
        expect(counts.total).toBe(counts.rest + counts.hyperConnections);
        // and the total is what an optimiser would see
        expect(counts.total).toBe(model.parameters().reduce((s, p) => s + p.size, 0));
      }
    },
  );

  it.each(VARIANTS)('%s: DeepResidualMLP counts', (variant) => {
    const [dim, depth, hidden, inputDim, outputDim, n] = [6, 3, 10, 5, 2, 4];
    const model = new DeepResidualMLP({ variant, n, dim, depth, hidden, inputDim, outputDim, rng: new Random(1) });
    const counts = model.parameterCounts();
    expect(counts.rest).toBe(
      inputDim * dim +
        dim +
        depth * (dim + dim * hidden + hidden + hidden * dim + dim) +
        dim +
        dim * outputDim +
        outputDim,
    );
    const perModule = specParameterCount(variant, variant === 'residual' ? 1 : n, dim);
    expect(counts.hyperConnections).toBe(depth * perModule);
  });
});

/**
 * Puts `values` in place of the named parameters, so gradcheck can differentiate the model
 * with respect to them.
 */
function bindParameters(module: nn.Module, names: readonly string[], values: readonly Variable[]): void {
  names.forEach((name, i) => {
    const path = name.split('.');
    let owner = module as unknown as Record<string, unknown>;
    for (const key of path.slice(0, -1)) owner = owner[key] as Record<string, unknown>;
    owner[path[path.length - 1]!] = values[i];
  });
}

describe('gradients through the tiny transformer (float64 finite differences)', () => {
  // Depth 2, not 1: with mean-preserving H_res (H_res·1 = 1, as sHC, mHC-lite and Sinkhorn's
  // exact rows give) the first layer's H_res acts on equal streams and changes nothing, and the
  // last one's column sums are all the stream sum sees; only the middle layers' H_res reach the
  // loss. So the check takes the two middle hyper-connections (layers 1 and 2 of 4).
  it.each(VARIANTS)(
    '%s: d loss / d (middle hyper-connections, token embedding, an attention projection)',
    (variant) => {
      const model = new TinyTransformer({
        variant,
        n: 2,
        vocabSize: 5,
        dim: 4,
        heads: 2,
        depth: 2,
        seqLen: 3,
        rng: new Random(7),
      });
      // away from the initialisation, where zero weights hide whole gradient paths
      perturb(model, new Random(8), 0.3);
      const tokens = tensor([
        [0, 3, 1, 4],
        [2, 2, 0, 1],
      ]);
      const chosen = model
        .namedParameters()
        .filter(([name]) =>
          new RegExp(
            String.raw`^blocks\.0\.mlpConnection\.|^blocks\.1\.attnConnection\.|^tokenEmbedding|` +
              String.raw`^blocks\.1\.attn\.layer\.proj\.weight`,
          ).test(name),
        );
      const middle = [model.hyperConnections[1]!, model.hyperConnections[2]!].flatMap((hc) => hc.parameters());
      expect(chosen.filter(([, p]) => middle.includes(p))).toHaveLength(middle.length);
      const names = chosen.map(([name]) => name);
      const report = gradcheck(
        (...ps) => {
          bindParameters(model, names, ps);
          return model.loss(tokens);
        },
        chosen.map(([, p]) => p.value.clone()),
        { order: 1 },
      );
      expect(report.ok).toBe(true);
      // not vacuous: every checked parameter really feeds the loss (a zero gradient would pass trivially)
      const fresh = chosen.map(([, p]) => new Variable(p.value.clone(), { requiresGrad: true }));
      bindParameters(model, names, fresh);
      model.loss(tokens).backward();
      expect(names.filter((_, i) => fresh[i]!.grad!.value.toTypedArray().every((g) => g === 0))).toEqual([]);
    },
  );
});

describe('generate', () => {
  it('greedy decoding follows the argmax of the logits; sampling is reproducible by seed', () => {
    const model = tiny('shc');
    const prompt = [1, 2, 3];
    const greedy = model.generate(prompt, 5, new Random(0), { temperature: 0 });
    expect(greedy.slice(0, 3)).toEqual(prompt);
    expect(greedy).toHaveLength(8);
    // replay: each greedy token is the argmax of the logits on the last seqLen tokens before it
    for (let s = 3; s < 8; s++) {
      const logits = model.forward([greedy.slice(Math.max(0, s - 6), s)]).value;
      const last = Array.from(logits.slice(0, -1).toTypedArray());
      expect(greedy[s]).toBe(last.indexOf(Math.max(...last)));
    }
    const a = model.generate(prompt, 12, new Random(9));
    expect(model.generate(prompt, 12, new Random(9))).toEqual(a);
    expect(a.every((t) => Number.isInteger(t) && t >= 0 && t < 7)).toBe(true);
    expect(() => model.generate([], 1, new Random(0))).toThrow(ValueError);
    expect(() => model.generate(prompt, 1, new Random(0), { temperature: -1 })).toThrow(/temperature/);
  });

  it('sampling at temperature 1 draws tokens with the softmax frequencies (chi-square)', () => {
    // a one-token prompt and one step: the distribution is softmax of one logit vector
    const model = tiny('mhcLite');
    const logits = Array.from(model.forward([[4]]).value.toTypedArray());
    const top = Math.max(...logits);
    const weights = logits.map((l) => Math.exp(l - top));
    const total = weights.reduce((a, b) => a + b, 0);
    const draws = 2000;
    const counts = new Array<number>(7).fill(0);
    const rng = new Random(12);
    for (let i = 0; i < draws; i++) counts[model.generate([4], 1, rng)[1]!]!++;
    const chi2 = counts.reduce((acc, c, k) => {
      const e = (draws * weights[k]!) / total;
      return acc + (c - e) ** 2 / e;
    }, 0);
    // 6 degrees of freedom: P(χ² > 22.5) ≈ 0.001
    expect(chi2).toBeLessThan(22.5);
  });
});
