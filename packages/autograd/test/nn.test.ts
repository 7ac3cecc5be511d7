/**
 * nn: Module reflection and state dicts; every layer against a naive loop or closed form;
 * gradchecks (float64) of the layers with respect to their inputs and parameters; the causal
 * mask; dropout's statistics; the losses against −log softmax and the squared error.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import {
  DTypeError,
  IndexError,
  Random,
  ShapeError,
  tensor,
  type DType,
  type Tensor,
  ValueError,
} from '@hyperconn/tensor';
import { gradcheck, gradients, mul, nn, noGrad, param, sum, Variable } from '@hyperconn/autograd';
import { layoutArb, withLayout } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

/**
 * Puts `values` in place of the module's parameters (in `namedParameters` order), so that
 * gradcheck can differentiate a layer with respect to its parameters.
 */
function bindParameters<M extends nn.Module>(module: M, names: readonly string[], values: readonly Variable[]): M {
  names.forEach((name, i) => {
    const path = name.split('.');
    let owner = module as unknown as Record<string, unknown>;
    for (const key of path.slice(0, -1)) owner = owner[key] as Record<string, unknown>;
    owner[path[path.length - 1]!] = values[i];
  });
  return module;
}

/** gradcheck of `layer.forward(x)` with respect to x and every parameter (throws on failure). */
function gradcheckLayer(layer: nn.Layer, x: Tensor, order = 1): void {
  const named = layer.namedParameters();
  const names = named.map(([n]) => n);
  const report = gradcheck(
    (xv, ...ps) => bindParameters(layer, names, ps).forward(xv),
    [x, ...named.map(([, p]) => p.value.clone())],
    { order },
  );
  expect(report.order).toBe(order);
}

/** Rows of a [n, d] tensor as arrays. */
const rows = (t: Tensor): number[][] => t.toArray() as number[][];

/** y[n][o] = Σᵢ x[n][i]·W[o][i] + b[o], by loops. */
function naiveLinear(x: number[][], w: number[][], b: number[] | null): number[][] {
  return x.map((xr) => w.map((wr, o) => wr.reduce((s, wi, i) => s + wi * xr[i]!, b === null ? 0 : b[o]!)));
}

class Block extends nn.Module {
  readonly norm: nn.RMSNorm;
  readonly attn: nn.CausalSelfAttention;
  readonly mlp: nn.MLP;
  constructor(rng: Random) {
    super();
    this.norm = new nn.RMSNorm(4);
    this.attn = new nn.CausalSelfAttention(4, 2, rng);
    this.mlp = new nn.MLP(4, 8, rng);
  }
}

class Tiny extends nn.Module {
  readonly embed: nn.Embedding;
  readonly blocks: Block[];
  readonly head: nn.Linear;
  readonly temperature: Variable;
  /** A buffer: saved, never optimised. */
  readonly counts: Tensor;
  readonly dropout: nn.Dropout;
  constructor(seed: number) {
    super();
    const rng = new Random(seed);
    this.embed = new nn.Embedding(5, 4, rng);
    this.blocks = [new Block(rng), new Block(rng)];
    this.head = new nn.Linear(4, 5, rng, { bias: false });
    this.temperature = param([1]);
    this.counts = T.zeros([5]);
    this.dropout = new nn.Dropout(0.1, rng.split());
  }
  forward(ids: number[]): Variable {
    let h = this.embed.forward([ids]);
    for (const b of this.blocks) h = b.mlp.forward(b.attn.forward(b.norm.forward(h)));
    return this.head.forward(this.dropout.forward(h)).mul(this.temperature);
  }
}

const blockNames = (p: string): string[] => [
  `${p}.norm.weight`,
  ...['attn.qkv', 'attn.proj', 'mlp.fc1', 'mlp.fc2'].flatMap((l) => [`${p}.${l}.weight`, `${p}.${l}.bias`]),
];

describe('Module', () => {
  it('names parameters by their dotted paths, in field order', () => {
    const model = new Tiny(0);
    const names = ['embed.weight', ...blockNames('blocks.0'), ...blockNames('blocks.1'), 'head.weight', 'temperature'];
    expect(model.namedParameters().map(([n]) => n)).toEqual(names);
    expect(model.parameters()).toEqual(model.namedParameters().map(([, p]) => p));
    expect(model.namedParameters().find(([n]) => n === 'blocks.1.attn.qkv.weight')![1]).toBe(
      model.blocks[1]!.attn.qkv.weight,
    );
    expect(model.namedParameters().find(([n]) => n === 'blocks.1.attn.qkv.weight')![1].shape).toEqual([12, 4]);
    // the buffer is in the state dict but not among the parameters
    expect([...model.stateDict().keys()]).toEqual([...names, 'counts']);
    expect(model.namedModules().map(([n]) => n)).toEqual([
      '',
      'embed',
      'blocks.0',
      'blocks.0.norm',
      'blocks.0.attn',
      'blocks.0.attn.qkv',
      'blocks.0.attn.proj',
      'blocks.0.mlp',
      'blocks.0.mlp.fc1',
      'blocks.0.mlp.act',
      'blocks.0.mlp.fc2',
      'blocks.1',
      'blocks.1.norm',
      'blocks.1.attn',
      'blocks.1.attn.qkv',
      'blocks.1.attn.proj',
      'blocks.1.mlp',
      'blocks.1.mlp.fc1',
      'blocks.1.mlp.act',
      'blocks.1.mlp.fc2',
      'head',
      'dropout',
    ]);
  });

  it('lists a shared (tied) parameter once, but saves it under every name', () => {
    const shared = new nn.Linear(2, 2, new Random(0));
    class Tied extends nn.Module {
      readonly a = shared;
      readonly b = shared;
    }
    const m = new Tied();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias']);
    expect([...m.stateDict().keys()]).toEqual(['a.weight', 'a.bias', 'b.weight', 'b.bias']);
  });

  it('refuses a module tree with a cycle', () => {
    class Node extends nn.Module {
      child: nn.Module | null = null;
    }
    const root = new Node();
    const kid = new Node();
    root.child = kid;
    kid.child = root;
    expect(() => root.namedParameters()).toThrow(/'child\.child' refers back to one of its ancestors/);
  });

  it('train() and eval() reach every descendant, arrays included', () => {
    const model = new Tiny(0);
    model.eval();
    expect(model.namedModules().every(([, m]) => !m.training)).toBe(true);
    model.blocks[1]!.train();
    expect(model.training).toBe(false);
    expect(model.blocks[1]!.attn.qkv.training).toBe(true);
    model.train();
    expect(model.namedModules().every(([, m]) => m.training)).toBe(true);
  });

  it('zeroGrad clears every gradient', () => {
    const model = new Tiny(0);
    sum(model.forward([1, 2, 3])).backward();
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
    model.zeroGrad();
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
  });
});

describe('stateDict / loadStateDict', () => {
  it('round-trips: another model loaded with the dict computes the same outputs', () => {
    const a = new Tiny(1).eval();
    const b = new Tiny(2).eval();
    const before = b.parameters();
    expect(b.forward([0, 4, 2]).toArray()).not.toEqual(a.forward([0, 4, 2]).toArray());
    a.counts.assign(tensor([1, 2, 3, 4, 5]));
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.forward([0, 4, 2]).toArray()).toEqual(a.forward([0, 4, 2]).toArray());
    expect(b.counts.toArray()).toEqual([1, 2, 3, 4, 5]);
    // loaded in place: the same Variables, so an optimiser holding them keeps working
    b.parameters().forEach((p, i) => {
      expect(p).toBe(before[i]);
    });
  });

  it('returns copies, so a snapshot does not follow later in-place updates', () => {
    const m = new nn.Linear(2, 2, new Random(0));
    const snapshot = m.stateDict();
    const original = snapshot.get('weight')!.toArray();
    m.weight.value.assign(7);
    expect(snapshot.get('weight')!.toArray()).toEqual(original);
    m.loadStateDict(snapshot);
    expect(m.weight.toArray()).toEqual(original);
  });

  it('accepts a plain record', () => {
    const m = new nn.LayerNorm(2);
    m.loadStateDict({ weight: tensor([2, 3]), bias: tensor([4, 5]) });
    expect([m.weight.toArray(), m.bias.toArray()]).toEqual([
      [2, 3],
      [4, 5],
    ]);
  });

  it('names missing and unexpected keys, and loads the rest when not strict', () => {
    const m = new nn.Linear(2, 3, new Random(0));
    const dict = m.stateDict();
    dict.delete('bias');
    dict.set('extra', tensor([1]));
    expect(() => m.loadStateDict(dict)).toThrow(/missing keys 'bias'; unexpected keys 'extra'/);
    dict.set('weight', T.full([3, 2], 0.5));
    expect(m.loadStateDict(dict, { strict: false })).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['extra'] });
    expect(m.weight.toArray()).toEqual(T.full([3, 2], 0.5).toArray());
  });

  it('throws on a shape or dtype mismatch naming the key and both, before writing anything', () => {
    const m = new nn.Linear(2, 3, new Random(0));
    const original = m.stateDict();
    const swapped = new Map([
      ['weight', T.zeros([3, 2])],
      ['bias', T.zeros([2])],
    ]);
    expect(() => m.loadStateDict(swapped)).toThrow(ShapeError);
    expect(() => m.loadStateDict(swapped)).toThrow(
      "loadStateDict: 'bias' has shape [3] in the module but [2] in the state dict",
    );
    expect(m.weight.toArray()).toEqual(original.get('weight')!.toArray());
    const f32 = new Map([
      ['weight', T.zeros([3, 2], { dtype: 'float32' })],
      ['bias', T.zeros([3])],
    ]);
    expect(() => m.loadStateDict(f32, { strict: false })).toThrow(DTypeError);
    expect(() => m.loadStateDict(f32)).toThrow(/'weight' is float64 in the module but float32/);
  });
});

describe('Linear', () => {
  it('computes x Wᵀ + b like a naive loop, over leading batch axes', () => {
    const rng = new Random(0);
    const lin = new nn.Linear(3, 2, rng);
    const x = rng.normal([2, 4, 3]);
    const y = lin.forward(x);
    expect(y.shape).toEqual([2, 4, 2]);
    const w = rows(lin.weight.value);
    const b = lin.bias!.value.toArray() as number[];
    for (let i = 0; i < 2; i++) expectClose(y.value.slice(i), tensor(naiveLinear(rows(x.slice(i)), w, b)));
    const noBias = new nn.Linear(3, 2, rng, { bias: false });
    expect(noBias.bias).toBeNull();
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight']);
    expectClose(
      noBias.forward(x.slice(0)).value,
      tensor(naiveLinear(rows(x.slice(0)), rows(noBias.weight.value), null)),
    );
  });

  it('draws W and b from U(−1/√in, 1/√in), in that order, in the requested dtype', () => {
    const lin = new nn.Linear(4, 3, new Random(9), { dtype: 'float32' });
    const rng = new Random(9);
    expect(lin.weight.value.toArray()).toEqual(
      rng.uniform([3, 4], { low: -0.5, high: 0.5, dtype: 'float32' }).toArray(),
    );
    expect(lin.bias!.value.toArray()).toEqual(rng.uniform([3], { low: -0.5, high: 0.5, dtype: 'float32' }).toArray());
    expect(lin.weight.dtype).toBe('float32');
    expect(lin.weight.requiresGrad).toBe(true);
  });

  it('rejects a wrong last axis and non-positive sizes', () => {
    const lin = new nn.Linear(3, 2, new Random(0));
    expect(() => lin.forward(T.zeros([4, 2]))).toThrow('Linear: input of shape [4,2] must end in an axis of size 3');
    expect(() => new nn.Linear(0, 2, new Random(0))).toThrow(ValueError);
  });

  it('passes gradcheck to second order with respect to input, weight and bias', () => {
    const rng = new Random(1);
    gradcheckLayer(new nn.Linear(3, 2, rng), rng.normal([2, 3]), 2);
  });
});

describe('Embedding', () => {
  it('looks up rows for ids of any shape; repeated ids accumulate gradient', () => {
    const emb = new nn.Embedding(5, 3, new Random(0));
    expect(emb.weight.value.toArray()).toEqual(new Random(0).normal([5, 3]).toArray());
    const ids = [
      [4, 0, 4],
      [1, 1, 1],
    ];
    const y = emb.forward(tensor(ids));
    expect(y.shape).toEqual([2, 3, 3]);
    const table = rows(emb.weight.value);
    expect(y.toArray()).toEqual(ids.map((r) => r.map((i) => table[i])));
    sum(y).backward();
    // each row's gradient is its number of occurrences
    expect(emb.weight.grad!.toArray()).toEqual([1, 3, 0, 0, 2].map((c) => [c, c, c]));
  });

  it('rejects ids outside [0, num) and non-integers', () => {
    const emb = new nn.Embedding(5, 3, new Random(0));
    expect(() => emb.forward([5])).toThrow(IndexError);
    expect(() => emb.forward([-1])).toThrow('Embedding: index -1 is out of range [0, 5)');
    expect(() => emb.forward([1.5])).toThrow(IndexError);
  });
});

describe('RMSNorm and LayerNorm', () => {
  const rng = new Random(2);
  const x = rng.normal([2, 3, 4]);
  const gain = rng.normal([4]);
  const shift = rng.normal([4]);
  const flatRows = rows(x.reshape([6, 4]));

  it('RMSNorm is x / √(mean x² + eps) · g', () => {
    const norm = new nn.RMSNorm(4, { eps: 1e-3 });
    expect(norm.weight.toArray()).toEqual([1, 1, 1, 1]);
    norm.weight.value.assign(gain);
    const g = gain.toArray() as number[];
    const expected = flatRows.map((r) => {
      const rms = Math.sqrt(r.reduce((s, v) => s + v * v, 0) / r.length + 1e-3);
      return r.map((v, j) => (v / rms) * g[j]!);
    });
    expectClose(norm.forward(x).value, tensor(expected).reshape([2, 3, 4]));
  });

  it('LayerNorm is (x − mean) / √(var + eps) · g + b with the biased variance', () => {
    const norm = new nn.LayerNorm(4);
    expect([norm.weight.toArray(), norm.bias.toArray()]).toEqual([
      [1, 1, 1, 1],
      [0, 0, 0, 0],
    ]);
    norm.weight.value.assign(gain);
    norm.bias.value.assign(shift);
    const [g, b] = [gain.toArray() as number[], shift.toArray() as number[]];
    const expected = flatRows.map((r) => {
      const mean = r.reduce((s, v) => s + v, 0) / r.length;
      const variance = r.reduce((s, v) => s + (v - mean) ** 2, 0) / r.length;
      return r.map((v, j) => ((v - mean) / Math.sqrt(variance + 1e-5)) * g[j]! + b[j]!);
    });
    expectClose(norm.forward(x).value, tensor(expected).reshape([2, 3, 4]));
  });

  it('both pass gradcheck to second order with respect to input and parameters', () => {
    const rms = new nn.RMSNorm(4);
    rms.weight.value.assign(gain);
    gradcheckLayer(rms, x.slice(0, [0, 2]), 2);
    const ln = new nn.LayerNorm(4);
    ln.loadStateDict({ weight: gain, bias: shift });
    gradcheckLayer(ln, x.slice(0, [0, 2]), 2);
  });

  it('reject a wrong last axis', () => {
    expect(() => new nn.RMSNorm(4).forward(T.zeros([2, 3]))).toThrow(
      'RMSNorm: input of shape [2,3] must end in an axis of size 4',
    );
    expect(() => new nn.LayerNorm(4).forward(T.zeros([]))).toThrow(ShapeError);
  });
});

describe('RMSNorm as one fused op', () => {
  type ScaledKind = 'plain' | 'tiny' | 'huge' | 'low' | 'deep' | 'high';
  type RowKind = ScaledKind | 'zero' | 'inf' | 'nan';
  const ROW_KINDS: RowKind[] = ['plain', 'tiny', 'huge', 'low', 'deep', 'high', 'zero', 'inf', 'nan'];
  /**
   * Row scales: the ends of the range RMSNorm is scale-safe over (float32: a gradient ~1/scale
   * stays finite), and in float64 rows whose Σx² straddles where the unscaled one-pass path stops:
   * 2^-900 ('low': 2^-450·U(−1, 1), squares partly subnormal), a subnormal Σx² that the
   * unscaled path would get wrong ('deep'), and overflow ('high').
   */
  const SCALE: Record<DType, Record<ScaledKind, number>> = {
    float64: { plain: 1, tiny: 1e-300, huge: 1e300, low: 2 ** -450, deep: 2 ** -530, high: 1e154 },
    float32: { plain: 1, tiny: 1e-37, huge: 1e37, low: 1e-19, deep: 1e-25, high: 1e19 },
  };

  interface Case {
    lead: number[];
    dim: number;
    eps: number;
    kinds: RowKind[];
    values: number[];
    weight: number[];
    seed: number[];
  }

  const caseArb: fc.Arbitrary<Case> = fc
    .tuple(
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
      fc.integer({ min: 1, max: 7 }),
      fc.constantFrom(0, 1e-12, 1e-6, 1),
    )
    .chain(([lead, dim, eps]) => {
      const rowCount = lead.reduce((a, b) => a * b, 1);
      const doubles = (n: number, bound: number) =>
        fc.array(fc.double({ min: -bound, max: bound, noNaN: true }), { minLength: n, maxLength: n });
      // weights and cotangents 0 or of at least 1e-3: an underflowing g·w would lose relative
      // precision (then amplified by 1/c in dx) in both paths alike; x keeps every magnitude
      const moderate = (n: number, bound: number) =>
        doubles(n, bound).map((vs) => vs.map((v) => (Math.abs(v) < 1e-3 ? 0 : v)));
      return fc.record({
        lead: fc.constant(lead),
        dim: fc.constant(dim),
        eps: fc.constant(eps),
        kinds: fc.array(fc.constantFrom(...ROW_KINDS), { minLength: rowCount, maxLength: rowCount }),
        values: doubles(rowCount * dim, 1),
        weight: moderate(dim, 2),
        seed: moderate(rowCount * dim, 1),
      });
    });

  /** The case's input rows, each scaled by its kind; inf and nan rows hold one ±∞ or NaN. */
  function inputOf(c: Case, dtype: DType): Tensor {
    const v = Float64Array.from(c.values);
    c.kinds.forEach((kind, r) => {
      const row = v.subarray(r * c.dim, (r + 1) * c.dim);
      if (kind === 'zero') row.fill(0);
      else if (kind === 'inf') row[r % c.dim] = r % 2 === 0 ? Infinity : -Infinity;
      else if (kind === 'nan') row[r % c.dim] = NaN;
      else for (let j = 0; j < c.dim; j++) row[j]! *= SCALE[dtype][kind];
    });
    return tensor(v, { shape: [...c.lead, c.dim], dtype });
  }

  /** y, dy/dx and dy/dweight (for the cotangent `seed`) of `layer` at x, weight. */
  function evaluate(x: Tensor, weight: Tensor, seed: Tensor, eps: number, fused: boolean) {
    const xv = new Variable(x, { requiresGrad: true });
    const wv = new Variable(weight, { requiresGrad: true });
    const layer = bindParameters(new nn.RMSNorm(weight.size, { eps }), ['weight'], [wv]);
    const y = fused ? layer.forward(xv) : nn.rmsNormReference(xv, wv, eps);
    const [gx, gw] = gradients(y, [xv, wv], { seed });
    return { y: y.value, gx: gx!.value, gw: gw!.value, node: y.node };
  }

  /** Below the normal range a dtype's spacing is absolute: a few of its smallest subnormals. */
  const subnormalFloor = (dtype: DType): number => 4 * (dtype === 'float64' ? 2 ** -1074 : 2 ** -149);

  /**
   * Each row of `actual` against `expected` with atol = rtol·scale: rounding is relative to a
   * row's scale (by default its largest finite |expected|), and entries near 0 come from cancellation.
   */
  function expectRowsClose(actual: Tensor, expected: Tensor, dim: number, rtol: number, scales?: Float64Array) {
    expect(actual.shape).toEqual(expected.shape);
    const a = actual.toTypedArray();
    const e = expected.toTypedArray();
    for (let o = 0; o < e.length; o += dim) {
      const row = Float64Array.from(e.subarray(o, o + dim));
      const big = scales?.[o / dim] ?? row.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
      expectClose(a.subarray(o, o + dim), row, { rtol, atol: rtol * big + subnormalFloor(actual.dtype) });
    }
  }

  /**
   * Per row, the size of the terms dx is the sum of: √dim·max|g·w| / √(mean(x²) + eps) (the rms
   * taken scale-safely, by loops). dx cancels to far below it where g·w is parallel to x.
   */
  function inputGradScales(x: Tensor, weight: Tensor, seed: Tensor, eps: number): Float64Array {
    const dim = weight.size;
    const [xs, ws, gs] = [x, weight, seed].map((t) => Float64Array.from(t.toTypedArray()));
    const scales = new Float64Array(xs!.length / dim);
    scales.forEach((_, r) => {
      const row = xs!.subarray(r * dim, (r + 1) * dim);
      const c = Math.max(Math.sqrt(eps), ...row.map(Math.abs));
      const rms = c * Math.sqrt(row.reduce((acc, v) => acc + (v / c) ** 2, 0) / dim + eps / c / c);
      let h = 0;
      for (let j = 0; j < dim; j++) h = Math.max(h, Math.abs(gs![r * dim + j]! * ws![j]!));
      const scale = (Math.sqrt(dim) * h) / rms;
      scales[r] = Number.isFinite(scale) ? scale : 0; // NaN rows are checked as NaN
    });
    return scales;
  }

  /**
   * dW sums g·x̂ over the rows: its rounding is relative to Σ_rows |g·x̂| per column (x̂ the
   * reference's normalised x), not to |dW|, which cancellation can make small.
   */
  function expectWeightGradClose(actual: Tensor, expected: Tensor, x: Tensor, seed: Tensor, c: Case, rtol: number) {
    const xhat = noGrad(() =>
      nn.rmsNormReference(new Variable(x), new Variable(T.ones([c.dim])), c.eps),
    ).value.toTypedArray();
    const g = seed.toTypedArray();
    const bound = new Float64Array(c.dim);
    for (let k = 0; k < xhat.length; k++) {
      if (Number.isFinite(xhat[k]!)) bound[k % c.dim]! += Math.abs(g[k]! * xhat[k]!);
    }
    const a = actual.toTypedArray();
    const e = expected.toTypedArray();
    for (let j = 0; j < c.dim; j++) {
      expectClose(a[j]!, e[j]!, { rtol, atol: rtol * bound[j]! + subnormalFloor(actual.dtype) });
    }
  }

  it('is one recorded op with inputs (x, weight)', () => {
    const x = new Variable(T.ones([2, 3]), { requiresGrad: true });
    const norm = new nn.RMSNorm(3);
    const y = norm.forward(x);
    expect(y.node?.op).toBe('RMSNorm');
    expect(y.node?.inputs).toEqual([x, norm.weight]);
  });

  it('matches the composed reference in value and gradients (float64, any layout, 1e±300 rows, ±∞, NaN, 0)', () => {
    fc.assert(
      fc.property(caseArb, layoutArb, (c, layout) => {
        const x = inputOf(c, 'float64');
        const weight = tensor(c.weight);
        const seed = tensor(c.seed, { shape: x.shape });
        const fused = evaluate(withLayout(x, layout), weight, withLayout(seed, layout), c.eps, true);
        const ref = evaluate(x, weight, seed, c.eps, false);
        expect(fused.node?.op).toBe('RMSNorm');
        expectRowsClose(fused.y, ref.y, c.dim, 1e-12);
        expectRowsClose(fused.gx, ref.gx, c.dim, 1e-12, inputGradScales(x, weight, seed, c.eps));
        expectWeightGradClose(fused.gw, ref.gw, x, seed, c, 1e-12);
      }),
      { numRuns: 200 },
    );
  });

  it('gives 0 for a zero row when eps > 0, NaN (value and gradient) when eps = 0, NaN for ±∞ or NaN', () => {
    const x = tensor([
      [0, 0, 0],
      [3, Infinity, 1],
      [NaN, 1, 2],
      [1e-300, -2e-300, 2e-300],
    ]);
    const w = tensor([1, 2, 3]);
    const seed = T.ones([4, 3]);
    const positive = evaluate(x, w, seed, 1e-6, true);
    expect(positive.y.toArray()).toEqual([
      [0, 0, 0],
      [NaN, NaN, NaN],
      [NaN, NaN, NaN],
      [1e-300 / 1e-3, -4e-300 / 1e-3, 6e-300 / 1e-3].map((v) => expect.closeTo(v, 1e-300)),
    ]);
    // at a zero row y = x·w/√eps: dy/dx = w/√eps
    expectClose(positive.gx.toTypedArray().subarray(0, 3), [1e3, 2e3, 3e3]);
    expect(Array.from(positive.gx.toTypedArray().subarray(3, 9)).every(Number.isNaN)).toBe(true);
    const zero = evaluate(x, w, seed, 0, true);
    expect(Array.from(zero.y.toTypedArray().subarray(0, 9)).every(Number.isNaN)).toBe(true);
    expect(Array.from(zero.gx.toTypedArray().subarray(0, 9)).every(Number.isNaN)).toBe(true);
    expect(Array.from(zero.gw.toTypedArray()).every(Number.isNaN)).toBe(true);
    // the 1e-300 row with eps = 0 is scale-free: x / rms(x)
    const rms = Math.sqrt((1 + 4 + 4) / 3);
    expectClose(zero.y.toTypedArray().subarray(9), [1 / rms, -4 / rms, 6 / rms]);
  });

  it('keeps float32 in float32, within float32 rounding of the float64 reference', () => {
    fc.assert(
      fc.property(caseArb, layoutArb, (c, layout) => {
        const x = inputOf(c, 'float32');
        const weight = tensor(c.weight, { dtype: 'float32' });
        const seed = tensor(c.seed, { shape: x.shape, dtype: 'float32' });
        const fused = evaluate(withLayout(x, layout), weight, withLayout(seed, layout), c.eps, true);
        expect([fused.y.dtype, fused.gx.dtype, fused.gw.dtype]).toEqual(['float32', 'float32', 'float32']);
        const [x64, w64, g64] = [x, weight, seed].map((t) => t.astype('float64'));
        const ref = evaluate(x64!, w64!, g64!, c.eps, false);
        expectRowsClose(fused.y, ref.y, c.dim, 1e-5);
        expectRowsClose(fused.gx, ref.gx, c.dim, 1e-5, inputGradScales(x64!, w64!, g64!, c.eps));
        expectWeightGradClose(fused.gw, ref.gw, x64!, g64!, c, 1e-5);
      }),
      { numRuns: 100 },
    );
  });

  it('differentiates only what requires grad, and a float32 x with a float64 weight gives float64', () => {
    const rng = new Random(5);
    const x = rng.normal([3, 4]);
    const norm = new nn.RMSNorm(4);
    norm.weight.value.assign(rng.normal([4]));
    const seed = rng.normal([3, 4]);
    const ref = evaluate(x, norm.weight.value, seed, norm.eps, false);
    norm.forward(x).backward(seed);
    expectClose(norm.weight.grad!.value, ref.gw);
    const xv = new Variable(x, { requiresGrad: true });
    norm.weight.requiresGrad = false;
    norm.forward(xv).backward(seed);
    expectClose(xv.grad!.value, ref.gx);
    // computed in float64 from the float32 values (the composed path would normalise in float32)
    const x32 = x.astype('float32');
    const mixed = norm.forward(x32);
    expect(mixed.dtype).toBe('float64');
    expectClose(mixed.value, nn.rmsNormReference(new Variable(x32.astype('float64')), norm.weight, norm.eps).value);
  });

  it('has the reference second derivatives, and passes gradcheck to third order', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const kinds = c.kinds.map(() => 'plain' as const);
        const x = inputOf({ ...c, kinds }, 'float64');
        const weight = tensor(c.weight);
        const seed = tensor(c.seed, { shape: x.shape });
        const direction = T.flip(seed, -1);
        // d/d(x, w) of ⟨direction, ∂⟨seed, y⟩/∂x⟩ + ⟨1, ∂⟨seed, y⟩/∂w⟩, through g's graph
        const secondOrder = (fused: boolean): Tensor[] => {
          const xv = new Variable(x, { requiresGrad: true });
          const wv = new Variable(weight, { requiresGrad: true });
          const layer = bindParameters(new nn.RMSNorm(c.dim, { eps: c.eps }), ['weight'], [wv]);
          const y = fused ? layer.forward(xv) : nn.rmsNormReference(xv, wv, c.eps);
          const [gx, gw] = gradients(y, [xv, wv], { seed, createGraph: true });
          const inner = sum(mul(gx!, direction)).add(sum(gw!));
          if (!inner.requiresGrad) return [T.zerosLike(x), T.zerosLike(weight)];
          return gradients(inner, [xv, wv]).map((v) => v.value);
        };
        const [fx, fw] = secondOrder(true);
        const [rx, rw] = secondOrder(false);
        expectClose(fx!, rx!);
        expectClose(fw!, rw!);
      }),
      { numRuns: 50 },
    );
    const rng = new Random(9);
    for (const eps of [0, 1e-6, 1]) {
      const norm = new nn.RMSNorm(3, { eps });
      norm.weight.value.assign(rng.normal([3]));
      gradcheckLayer(norm, rng.normal([2, 3]), 3);
    }
  });
});

describe('activations, Sequential and MLP', () => {
  const x = new Random(3).normal([3, 4]);
  it('activation modules apply their functions', () => {
    const flat = Array.from(x.toTypedArray());
    expectClose(
      new nn.ReLU().forward(x).value.toTypedArray(),
      flat.map((v) => Math.max(v, 0)),
    );
    expectClose(new nn.Tanh().forward(x).value.toTypedArray(), flat.map(Math.tanh));
    expectClose(
      new nn.Sigmoid().forward(x).value.toTypedArray(),
      flat.map((v) => 1 / (1 + Math.exp(-v))),
    );
    // GELU(x) = x·Φ(x); Φ from the erf kernel
    expectClose(new nn.GELU().forward(x).value, T.mul(T.mul(x, 0.5), T.add(T.erf(T.mul(x, Math.SQRT1_2)), 1)));
  });

  it('Sequential names its children 0, 1, … and chains them', () => {
    const rng = new Random(4);
    const seq = new nn.Sequential(new nn.Linear(4, 3, rng), new nn.Tanh(), new nn.Linear(3, 2, rng));
    expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const [l0, , l2] = seq.layers as [nn.Linear, nn.Tanh, nn.Linear];
    const hidden = naiveLinear(rows(x), rows(l0.weight.value), l0.bias!.toArray() as number[]).map((r) =>
      r.map(Math.tanh),
    );
    expectClose(
      seq.forward(x).value,
      tensor(naiveLinear(hidden, rows(l2.weight.value), l2.bias!.toArray() as number[])),
    );
  });

  it('MLP is Linear(dim → hidden), GELU, Linear(hidden → dim)', () => {
    const mlp = new nn.MLP(4, 6, new Random(5));
    expect(mlp.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['fc1.weight', [6, 4]],
      ['fc1.bias', [6]],
      ['fc2.weight', [4, 6]],
      ['fc2.bias', [4]],
    ]);
    const h = tensor(naiveLinear(rows(x), rows(mlp.fc1.weight.value), mlp.fc1.bias!.toArray() as number[]));
    const expected = naiveLinear(rows(T.gelu(h)), rows(mlp.fc2.weight.value), mlp.fc2.bias!.toArray() as number[]);
    expectClose(mlp.forward(x).value, tensor(expected));
  });
});

/** Causal attention by loops, straight from the definition. */
function naiveAttention(attn: nn.CausalSelfAttention, x: Tensor): number[][][] {
  const [batch, seq, dim] = x.shape as [number, number, number];
  const hd = dim / attn.heads;
  const wqkv = rows(attn.qkv.weight.value);
  const bqkv = attn.qkv.bias!.toArray() as number[];
  return Array.from({ length: batch }, (_, b) => {
    const xs = rows(x.slice(b));
    const qkv = naiveLinear(xs, wqkv, bqkv);
    const out = xs.map(() => new Array<number>(dim).fill(0));
    for (let h = 0; h < attn.heads; h++) {
      const feat = (row: number[], part: number): number[] => row.slice(part * dim + h * hd, part * dim + (h + 1) * hd);
      for (let t = 0; t < seq; t++) {
        const q = feat(qkv[t]!, 0);
        const scores = Array.from(
          { length: t + 1 },
          (_, j) => feat(qkv[j]!, 1).reduce((s, k, i) => s + k * q[i]!, 0) / Math.sqrt(hd),
        );
        const top = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - top));
        const z = e.reduce((s, v) => s + v, 0);
        for (let j = 0; j <= t; j++) {
          const v = feat(qkv[j]!, 2);
          for (let i = 0; i < hd; i++) out[t]![h * hd + i]! += (e[j]! / z) * v[i]!;
        }
      }
    }
    return naiveLinear(out, rows(attn.proj.weight.value), attn.proj.bias!.toArray() as number[]);
  });
}

describe('CausalSelfAttention', () => {
  it('matches attention computed by loops', () => {
    const rng = new Random(6);
    const attn = new nn.CausalSelfAttention(6, 3, rng);
    const x = rng.normal([2, 4, 6]);
    expectClose(attn.forward(x).value, tensor(naiveAttention(attn, x)));
    expect(attn.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['qkv.weight', [18, 6]],
      ['qkv.bias', [18]],
      ['proj.weight', [6, 6]],
      ['proj.bias', [6]],
    ]);
  });

  it('is causal: the output at t does not change when inputs after t change', () => {
    const rng = new Random(7);
    const attn = new nn.CausalSelfAttention(4, 2, rng);
    const x = rng.normal([2, 5, 4]);
    const y = attn.forward(x).value;
    for (let t = 0; t < 4; t++) {
      const changed = x.clone();
      changed.slice(null, [t + 1]).assign(rng.normal([2, 4 - t, 4]));
      const y2 = attn.forward(changed).value;
      expect(y2.slice(null, [0, t + 1]).toArray()).toEqual(y.slice(null, [0, t + 1]).toArray());
      // …while the later positions do see the change
      expect(y2.slice(null, t + 1).toArray()).not.toEqual(y.slice(null, t + 1).toArray());
    }
  });

  it('passes gradcheck with respect to input and all projections (batch 1, seq 3, dim 4, heads 2)', () => {
    const rng = new Random(8);
    const attn = new nn.CausalSelfAttention(4, 2, rng);
    const x = rng.normal([1, 3, 4]);
    gradcheckLayer(attn, x);
    // second order through the −∞ mask, with respect to the input only (~1 s; all parameters would take ~10×)
    expect(gradcheck((xv) => attn.forward(xv), [x], { order: 2 }).order).toBe(2);
  });

  it('rejects a dim not divisible by heads and inputs not [batch, seq, dim]', () => {
    expect(() => new nn.CausalSelfAttention(5, 2, new Random(0))).toThrow(
      'CausalSelfAttention: dim 5 is not divisible by heads 2',
    );
    expect(() => new nn.CausalSelfAttention(4, 2, new Random(0)).forward(T.zeros([3, 4]))).toThrow(ShapeError);
  });
});

describe('Dropout', () => {
  const x = new Random(0).normal([200, 100]);

  it('is deterministic by seed and zeroes or scales each element by 1/(1 − p)', () => {
    const y1 = new nn.Dropout(0.3, new Random(5)).forward(x).value;
    const y2 = new nn.Dropout(0.3, new Random(5)).forward(x).value;
    const y3 = new nn.Dropout(0.3, new Random(6)).forward(x).value;
    expect(y1.toArray()).toEqual(y2.toArray());
    expect(y1.toArray()).not.toEqual(y3.toArray());
    const kept = T.ne(y1, 0);
    expectClose(y1, T.mul(kept, T.div(x, 0.7)));
  });

  it('drops a fraction p and preserves the expectation (within 5 standard errors)', () => {
    const n = 20000;
    const p = 0.3;
    const y = new nn.Dropout(p, new Random(11)).forward(T.ones([n])).value;
    const dropped = Array.from(y.toTypedArray()).filter((v) => v === 0).length / n;
    expect(Math.abs(dropped - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    // each output is 0 or 1/(1 − p): mean 1, variance p/(1 − p)
    expect(Math.abs(T.mean(y).item() - 1)).toBeLessThan(5 * Math.sqrt(p / (1 - p) / n));
  });

  it('passes the gradient through the same mask', () => {
    const xv = param(x.slice([0, 3]));
    const y = new nn.Dropout(0.5, new Random(1)).forward(xv);
    sum(y).backward();
    expect(xv.grad!.toArray()).toEqual(T.mul(T.ne(y.value, 0), 2).toArray());
  });

  it('is the identity in eval mode and for p = 0; p = 1 gives zeros; p outside [0, 1] throws', () => {
    const d = new nn.Dropout(0.5, new Random(1)).eval();
    expect(d.forward(x).value).toBe(x);
    expect(new nn.Dropout(0, new Random(1)).forward(x).value).toBe(x);
    expect(Array.from(new nn.Dropout(1, new Random(1)).forward(x).value.toTypedArray()).every((v) => v === 0)).toBe(
      true,
    );
    expect(() => new nn.Dropout(1.5, new Random(1))).toThrow('Dropout: p must lie in [0, 1], got 1.5');
  });
});

describe('losses', () => {
  const rng = new Random(12);
  const logits = T.mul(rng.normal([4, 5]), 3);
  const targets = [0, 4, 2, 2];

  /** −log softmax(row)[t], by the formula. */
  const naiveNll = (row: number[], t: number): number =>
    -Math.log(Math.exp(row[t]!) / row.reduce((s, v) => s + Math.exp(v), 0));

  it('crossEntropy is −log softmax[target], reduced by mean, sum or none', () => {
    const losses = rows(logits).map((r, i) => naiveNll(r, targets[i]!));
    expectClose(nn.crossEntropy(logits, targets, { reduction: 'none' }).value, tensor(losses));
    expectClose(
      nn.crossEntropy(logits, tensor(targets), { reduction: 'sum' }).item(),
      losses.reduce((a, b) => a + b),
    );
    expectClose(nn.crossEntropy(logits, targets).item(), losses.reduce((a, b) => a + b) / 4);
  });

  it('crossEntropy handles leading batch axes and stays finite for huge logits', () => {
    const batched = logits.reshape([2, 2, 5]);
    expectClose(
      nn.crossEntropy(
        batched,
        tensor([
          [0, 4],
          [2, 2],
        ]),
        { reduction: 'none' },
      ).value,
      nn.crossEntropy(logits, targets, { reduction: 'none' }).value.reshape([2, 2]),
    );
    // log-sum-exp of [1000, −1000, 999] is 1000 + log(1 + e⁻¹)
    const loss = nn.crossEntropy(tensor([[1000, -1000, 999]]), [2]).item();
    expectClose(loss, 1 + Math.log1p(Math.exp(-1)));
  });

  it('crossEntropy has gradient (softmax − onehot)/N and passes gradcheck', () => {
    const l = param(logits);
    nn.crossEntropy(l, targets).backward();
    const expected = rows(logits).map((r, i) => {
      const z = r.reduce((s, v) => s + Math.exp(v), 0);
      return r.map((v, j) => (Math.exp(v) / z - (j === targets[i] ? 1 : 0)) / 4);
    });
    expectClose(l.grad!.value, tensor(expected));
    expect(gradcheck((z) => nn.crossEntropy(z, targets), [logits], { order: 2 }).order).toBe(2);
    expect(gradcheck((z) => nn.crossEntropy(z, targets, { reduction: 'none' }), [logits]).order).toBe(1);
  });

  it('crossEntropy validates the targets', () => {
    expect(() => nn.crossEntropy(logits, [0, 5, 1, 1])).toThrow('crossEntropy: target class 5 is out of range [0, 5)');
    expect(() => nn.crossEntropy(logits, [0, -1, 1, 1])).toThrow(IndexError);
    expect(() => nn.crossEntropy(logits, [0, 1.5, 1, 1])).toThrow(IndexError);
    expect(() => nn.crossEntropy(logits, [0, 1, 1])).toThrow(
      'crossEntropy: targets of shape [3] do not match logits of shape [4,5] without the class axis',
    );
    expect(() => nn.crossEntropy(T.scalar(1), [])).toThrow(ShapeError);
    expect(() => nn.crossEntropy(T.zeros([0, 5]), [])).toThrow(/mean over zero elements/);
    expect(nn.crossEntropy(T.zeros([0, 5]), [], { reduction: 'sum' }).item()).toBe(0);
    expect(() => nn.crossEntropy(logits, targets, { reduction: 'avg' as never })).toThrow(/reduction must be/);
  });

  it('mse is the mean, sum or elements of (pred − target)², with matching shapes required', () => {
    const pred = rng.normal([3, 2]);
    const target = rng.normal([3, 2]);
    const sq = Array.from(pred.toTypedArray()).map((p, i) => (p - target.toTypedArray()[i]!) ** 2);
    expectClose(nn.mse(pred, target, { reduction: 'none' }).value.toTypedArray(), sq);
    expectClose(
      nn.mse(pred, target, { reduction: 'sum' }).item(),
      sq.reduce((a, b) => a + b),
    );
    expectClose(nn.mse(pred, target).item(), sq.reduce((a, b) => a + b) / 6);
    const p = param(pred);
    nn.mse(p, target).backward();
    expectClose(p.grad!.value, T.div(T.mul(T.sub(pred, target), 2), 6));
    expect(() => nn.mse(pred, target.reshape([6]))).toThrow(
      'mse: prediction of shape [3,2] and target of shape [6] differ',
    );
  });
});
