/**
 * `@hyperconn/hc-layers/testing`: every built-in variant passes its invariants (float64 and
 * float32), and hand-written layers with the bugs the checks exist for — rows of H_res not
 * summing to 1, H_res bypassed, H_res applied transposed, tokens mixed, gates out of range,
 * Sinkhorn claimed converged when it is not — each fail the right invariant with a report
 * that says where.
 */
import { describe, expect, it } from 'vitest';
import { eye, full, Random, type Tensor } from '@hyperconn/tensor';
import {
  add,
  concat,
  expand,
  matmul,
  mul,
  nn,
  noGrad,
  param,
  reshape,
  sigmoid,
  slice,
  squeeze,
  sub,
  transpose,
  unsqueeze,
  Variable,
  exp,
  logsumexp,
} from '@hyperconn/autograd';
import {
  createHyperConnection,
  MHCLayer,
  VARIANTS,
  type Branch,
  type HyperConnection,
  type SplitResult,
  type TokenMaps,
  type Variant,
} from '../src/index';
import {
  checkLayerInvariants,
  DEFAULT_INVARIANTS,
  expectLayerInvariants,
  LayerInvariantError,
  type LayerInvariant,
  type LayerInvariantReport,
} from '../src/testing';

const ALL: readonly LayerInvariant[] = [
  'finite',
  'update',
  'splitMerge',
  'tokenIndependence',
  'bypass',
  'gates',
  'doublyStochastic',
  'spectralSphere',
];

type Flaw = 'none' | 'rows' | 'bypass' | 'transposed' | 'tokenMixing' | 'gates' | 'sinkhorn';

/**
 * A user's own layer written against the interface alone (no base class). Static maps:
 * H_res = (1 − a)·I + a·J with a = σ(mix) — doubly stochastic with σ_max = 1 —, H_pre = σ(pre),
 * H_post = 2σ(post). Each flaw breaks exactly one promise.
 */
class CustomLayer extends nn.Module implements HyperConnection {
  readonly mix: Variable;
  readonly pre: Variable;
  readonly post: Variable;
  /** Sinkhorn flaw: the logits and the number of iterations actually run. */
  readonly logits: Variable;
  readonly sinkhornSteps: number;
  #last: TokenMaps | null = null;

  constructor(
    readonly variant: Variant,
    readonly n: number,
    readonly dim: number,
    readonly flaw: Flaw,
    options: { mix?: number; sinkhornSteps?: number } = {},
  ) {
    super();
    this.mix = param([options.mix ?? -1]);
    this.pre = param(Array.from({ length: n }, (_, i) => (i === 0 ? 1 : -1)));
    this.post = param(new Array<number>(n).fill(flaw === 'gates' ? 1 : -0.5));
    // spread ≈ 4 between entries: 2 Sinkhorn steps leave column errors of order 1e-2
    this.logits = param(
      Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => Math.sin(3 * i + 7 * j) * 2)),
    );
    this.sinkhornSteps = options.sinkhornSteps ?? 2;
  }

  private matrices(x: Variable): { hRes: Variable; hPre: Variable; hPost: Variable } {
    const [batch, seq, n] = x.shape as [number, number, number, number];
    const a = sigmoid(this.mix);
    let h: Variable = add(mul(sub(1, a), eye(n, n)), mul(a, full([n, n], 1 / n)));
    if (this.flaw === 'rows') {
      // a·(all of row 0 ones) instead of a·J: columns still sum to 1, row 0 to 1 + a(n − 1)
      const rowZero = full([n, n], 0).clone();
      for (let j = 0; j < n; j++) rowZero.set([0, j], 1);
      h = add(mul(sub(1, a), eye(n, n)), mul(a, rowZero));
    } else if (this.flaw === 'transposed' || this.flaw === 'bypass') {
      // a non-symmetric doubly stochastic matrix, so that Hᵀ ≠ H: (1 − a)·I + a·P (P a cycle)
      const cycle = full([n, n], 0).clone();
      for (let i = 0; i < n; i++) cycle.set([i, (i + 1) % n], 1);
      h = add(mul(sub(1, a), eye(n, n)), mul(a, cycle));
    } else if (this.flaw === 'sinkhorn') {
      // a few log-domain Sinkhorn steps (columns, then rows): rows exact, columns not yet
      let l: Variable = this.logits;
      for (let t = 0; t < this.sinkhornSteps; t++) {
        l = sub(l, logsumexp(l, 0, true));
        l = sub(l, logsumexp(l, 1, true));
      }
      h = exp(l);
    }
    const gate = this.flaw === 'gates' ? mul(sigmoid(this.post), 3) : mul(sigmoid(this.post), 2);
    return {
      hRes: expand(h, [batch, seq, n, n]),
      hPre: expand(sigmoid(this.pre), [batch, seq, n]),
      hPost: expand(gate, [batch, seq, n]),
    };
  }

  get lastMaps(): TokenMaps | null {
    return this.#last;
  }

  forward<A extends unknown[]>(x: Variable, branch: Branch<A>, ...args: A): Variable {
    const { branchInput, merge } = this.split(x);
    return merge(typeof branch === 'function' ? branch(branchInput, ...args) : branch.forward(branchInput, ...args));
  }

  split(x: Variable): SplitResult {
    const m = this.matrices(x);
    this.#last = { hRes: m.hRes.value, hPre: m.hPre.value, hPost: m.hPost.value };
    let branchInput = squeeze(matmul(unsqueeze(m.hPre, -2), x), -2);
    if (this.flaw === 'tokenMixing') {
      // each token's branch reads its neighbour's streams (a roll along the flattened tokens)
      const [batch, seq, dim] = branchInput.shape as [number, number, number];
      const flat = reshape(branchInput, [batch * seq, dim]);
      branchInput = reshape(concat([slice(flat, [-1, null]), slice(flat, [0, -1])], 0), [batch, seq, dim]);
    }
    const mixed = this.flaw === 'bypass' ? x : matmul(this.flaw === 'transposed' ? transpose(m.hRes) : m.hRes, x);
    return { branchInput, merge: (y) => add(mixed, mul(unsqueeze(m.hPost, -1), unsqueeze(y, -2))) };
  }

  maps(x: Variable | Tensor): TokenMaps {
    return noGrad(() => {
      const m = this.matrices(x instanceof Variable ? x : new Variable(x));
      return { hRes: m.hRes.value, hPre: m.hPre.value, hPost: m.hPost.value };
    });
  }

  parameterGroups(): { decay: Variable[]; noDecay: Variable[] } {
    return { decay: [], noDecay: this.parameters() };
  }
}

const result = (report: LayerInvariantReport, name: LayerInvariant) => report.invariants.find((r) => r.name === name)!;
const failing = (report: LayerInvariantReport): LayerInvariant[] =>
  report.invariants.filter((r) => !r.ok).map((r) => r.name);

describe('built-in variants pass their invariants', () => {
  it.each(VARIANTS)('%s (float64, n = 4, C = 5)', (variant) => {
    const report = expectLayerInvariants(() => createHyperConnection(variant, { n: 4, dim: 5, layerIndex: 1 }));
    expect(report.invariants.map((r) => r.name)).toEqual([...DEFAULT_INVARIANTS[variant]]);
    for (const r of report.invariants) expect(r.cases, r.name).toBeGreaterThan(0);
  });

  it.each(['mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'] as const)('%s (float32)', (variant) => {
    expectLayerInvariants(() => createHyperConnection(variant, { n: 4, dim: 3, layerIndex: 2, dtype: 'float32' }), {
      numRuns: 10,
    });
  });

  it('an instance (not a factory) is perturbed in place and restored afterwards', () => {
    const layer = createHyperConnection('shc', { n: 3, dim: 4, layerIndex: 0 });
    const before = layer.parameters().map((p) => Array.from(p.value.toTypedArray()));
    expectLayerInvariants(layer, { numRuns: 8 });
    expect(layer.parameters().map((p) => Array.from(p.value.toTypedArray()))).toEqual(before);
  });
});

describe('a correct custom layer passes', () => {
  it('every invariant, including both manifold checks ((1 − a)I + aJ is on both)', () => {
    const report = expectLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'none'), { invariants: ALL });
    expect(report.ok).toBe(true);
  });
});

describe('broken layers fail with a useful report', () => {
  it('rows of H_res not summing to 1 fail doublyStochastic (and only that)', () => {
    const report = checkLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'rows'));
    expect(failing(report)).toEqual(['doublyStochastic']);
    const r = result(report, 'doublyStochastic');
    expect(r.detail).toMatch(/row 0 of H_res sums to|σ_max\(H_res\) = .* exceeds 1/);
    expect(r.worst).toBeGreaterThan(0.1);
    // the same layer claimed as sHC fails the spectral sphere check
    expect(failing(checkLayerInvariants(() => new CustomLayer('shc', 4, 3, 'rows')))).toEqual(['spectralSphere']);
  });

  it('a layer that ignores H_res (the bypass bug) fails bypass and update, and says so', () => {
    const report = checkLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'bypass'));
    expect(failing(report)).toEqual(['update', 'bypass']);
    expect(result(report, 'bypass').detail).toMatch(/H_res is bypassed/);
    expect(() => expectLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'bypass'))).toThrow(LayerInvariantError);
    try {
      expectLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'bypass'));
    } catch (e) {
      expect((e as LayerInvariantError).message).toMatch(/FAIL bypass: worst .* — case \d+ .*token \d+/);
      expect((e as LayerInvariantError).report.ok).toBe(false);
    }
  });

  it('H_res applied transposed (the other orientation) fails update and bypass', () => {
    expect(failing(checkLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'transposed')))).toEqual([
      'update',
      'bypass',
    ]);
  });

  it('a branch input taken from the neighbouring token fails tokenIndependence and update', () => {
    const report = checkLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'tokenMixing'));
    expect(failing(report)).toEqual(['update', 'tokenIndependence']);
    expect(result(report, 'tokenIndependence').detail).toMatch(/tokens permuted by/);
  });

  it('H_post = 3σ(·) fails gates', () => {
    const report = checkLayerInvariants(() => new CustomLayer('shc', 4, 3, 'gates'));
    expect(failing(report)).toEqual(['gates']);
    expect(result(report, 'gates').detail).toMatch(/H_post\[\d\] = .* is outside \[0, 2\]/);
  });

  it("Sinkhorn's column tolerance: 2 real steps pass when 2 are declared, fail when 200 are", () => {
    const layer = (): HyperConnection => new CustomLayer('mhc', 4, 3, 'sinkhorn', { sinkhornSteps: 2 });
    const honest = checkLayerInvariants(layer, { sinkhornIters: 2, perturbation: 0 });
    expect(result(honest, 'doublyStochastic').ok).toBe(true);
    const claimed = checkLayerInvariants(layer, { sinkhornIters: 200, perturbation: 0 });
    expect(result(claimed, 'doublyStochastic').ok).toBe(false);
    expect(result(claimed, 'doublyStochastic').detail).toMatch(
      /column \d of H_res sums to .*Sinkhorn bound for t = 200/,
    );
    // and exact double stochasticity (no Sinkhorn) is stricter still
    expect(result(checkLayerInvariants(layer, { sinkhornIters: null, perturbation: 0 }), 'doublyStochastic').ok).toBe(
      false,
    );
  });

  it("the Sinkhorn tolerance defaults to the layer's own sinkhornIters", () => {
    // Logits of spread ~2 (b_res = 0, α_res = 1, random φ_res): two Sinkhorn steps leave column
    // errors far above the bound for 20 steps, and within the bound for 2.
    const layer = () => {
      const l = new MHCLayer({ n: 4, dim: 3, layerIndex: 0, sinkhornIters: 2 });
      l.resBias.value.assign(0);
      l.resScale.value.assign(1);
      l.resWeight.value.assign(new Random(3).normal(l.resWeight.shape, { std: 0.3 }));
      return l;
    };
    expect(result(checkLayerInvariants(layer, { perturbation: 0 }), 'doublyStochastic').ok).toBe(true);
    expect(result(checkLayerInvariants(layer, { perturbation: 0, sinkhornIters: 20 }), 'doublyStochastic').ok).toBe(
      false,
    );
  });

  it('bypass cannot pass vacuously: a layer whose H_res never leaves I fails with an explanation', () => {
    const report = checkLayerInvariants(() => new CustomLayer('mhcLite', 4, 3, 'none', { mix: -60 }), {
      perturbation: 0,
    });
    expect(failing(report)).toEqual(['bypass']);
    expect(result(report, 'bypass').detail).toMatch(/could not be detected/);
  });
});
