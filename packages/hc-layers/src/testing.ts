/**
 * `@hyperconn/hc-layers/testing`: the spec's invariants for ANY `HyperConnection` — a built-in
 * variant or your own layer written against the interface — checked over fast-check-generated
 * inputs and random parameter perturbations, with a report of the worst violation of each.
 *
 * Test-runner agnostic: `checkLayerInvariants` returns a report, `expectLayerInvariants`
 * throws a `LayerInvariantError` carrying it. fast-check is a peer dependency.
 */
import fc from 'fast-check';
import {
  dtypeOption,
  epsOf,
  HyperconnError,
  matrixNorm,
  Random,
  tensor,
  ValueError,
  type DType,
  type Tensor,
} from '@hyperconn/tensor';
import { matmul, mul, sum, tanh, type Variable, variable } from '@hyperconn/autograd';
import { VARIANTS, type HyperConnection, type TokenMaps, type Variant } from './hyper-connection.js';
import { kromhcFactors } from './variants/kromhc.js';
import { referenceUpdate, tanhBranchLoop, tanhBranchScale, zeroBranchLoop, zeroBranchScale } from './reference.js';

/**
 * The checks, each on the per-token maps `H_res` `[n,n]`, `H_pre`, `H_post` `[n]` a layer reports:
 *
 * - `finite` — outputs and maps are finite;
 * - `update` — `forward(X, F)` equals `H_res·X + H_postᵀ·F(H_pre·X)` built from `lastMaps`
 *   (orientation: rows of `H_res` index output streams);
 * - `splitMerge` — `split(X).merge(F(branchInput))` equals `forward(X, F)`;
 * - `tokenIndependence` — permuting the tokens permutes the outputs and maps alike;
 * - `bypass` — with `F ≡ 0` the output is `H_res·X`, so it moves when `H_res ≠ I` (a layer that
 *   forgets to apply `H_res` fails; the check also fails if `H_res` never left `I`, since then it
 *   proved nothing);
 * - `gates` — `H_pre ∈ [0,1]^n`, `H_post ∈ [0,2]^n` (open intervals up to rounding);
 * - `doublyStochastic` — entries ≥ 0, row and column sums 1 and `σ_max ≤ 1`; with `sinkhornIters`
 *   set, rows are exact and the column tolerance follows Sinkhorn's convergence bound (below),
 *   and `σ_max ≤ 1` is not asserted (inexact columns let it exceed 1 by as much);
 * - `spectralSphere` — row and column sums 1 and `σ_max = 1`;
 * - `kronecker` — `H_res` is a Kronecker product U_1 ⊗ ⋯ ⊗ U_K of factors of the sizes
 *   `kroneckerFactors` (U_1 outermost). Each U_k is recovered from `H_res` alone as a scaled
 *   block marginal, U_k[a, c] = (i_k/n)·Σ of the entries whose k-th row digit is a and k-th column
 *   digit is c (exact when `H_res` is such a product with entries summing to n), and their
 *   product, multiplied out entry by entry, must give `H_res` back.
 *
 * With `fracs` f (a layer's `nMaps` = n·f) the matrix checks apply to the (n·f)×(n·f) H_res; with
 * `inputViews` v > 1 the case branch is F(Σ_i u_i) over the v views.
 */
export type LayerInvariant =
  | 'finite'
  | 'update'
  | 'splitMerge'
  | 'tokenIndependence'
  | 'bypass'
  | 'gates'
  | 'doublyStochastic'
  | 'spectralSphere'
  | 'kronecker';

/** Options of `checkLayerInvariants` and `expectLayerInvariants`; all optional. */
export interface LayerInvariantOptions {
  /**
   * Which checks to run. Default `DEFAULT_INVARIANTS[layer.variant]`, without `bypass` for a layer
   * whose `resMap` is false (H_res fixed to I).
   */
  invariants?: readonly LayerInvariant[];
  /** Generated cases. Default 20 (each case runs the layer four times). */
  numRuns?: number;
  /** fast-check seed. Default 0, so a report is reproducible. */
  seed?: number;
  /** Largest |entry| of the generated states X (cases use 1, 10 % and 100 % of it). Default 100. */
  maxAbs?: number;
  /** Largest batch and sequence length of a case. Defaults 2 and 3. */
  maxBatch?: number;
  maxSeq?: number;
  /**
   * Size of the random parameter perturbations: each parameter p becomes
   * `p + s·(1 + |p|)·N(0, 1)` in half the cases (the other half keep the layer's own values).
   * Default 0.5; 0 checks the layer as it is.
   */
  perturbation?: number;
  /**
   * Sinkhorn iterations t of a layer whose `H_res` comes from Sinkhorn (rows normalised last):
   * the column tolerance becomes `expm1(Δ·κ^(2t−3))`, κ = tanh(Δ/4), where Δ is the Hilbert
   * projective diameter of `H_res` — the Birkhoff contraction bound, computable from `H_res`
   * alone because Sinkhorn only rescales rows and columns. Default: the layer's own
   * `sinkhornIters` (an `MHCLayer`'s), else 20 for variant 'mhc', none otherwise.
   */
  sinkhornIters?: number | null;
  /**
   * The factor sizes i_1, …, i_K (their product n, U_1 outermost) of the `kronecker` check.
   * Default: the layer's own `factors` (a `KromHCLayer`'s), else `kromhcFactors(n)`.
   */
  kroneckerFactors?: readonly number[];
  /** Multiplies every rounding tolerance (`64·n·eps`-scaled by default). Default 1. */
  toleranceScale?: number;
  /** dtype of the generated states. Default: that of the layer's first parameter, else float64. */
  dtype?: DType;
}

/** One invariant's outcome over all cases: `ok` when its worst violation is within `tolerance`. */
export interface InvariantResult {
  name: LayerInvariant;
  ok: boolean;
  /** The largest violation found (a deviation, or a count for `finite`); 0 when none. */
  worst: number;
  /** The tolerance that violation was held to. */
  tolerance: number;
  /** Where the worst case was and what it means; '' when fine. */
  detail: string;
  /** How many cases exercised the check. */
  cases: number;
}

/**
 * What `checkLayerInvariants` returns: one result per checked invariant, in the order they were
 * asked for; `ok` when every one holds.
 */
export interface LayerInvariantReport {
  ok: boolean;
  variant: Variant;
  numRuns: number;
  seed: number;
  invariants: InvariantResult[];
}

/** Thrown by `expectLayerInvariants`; carries the report. */
export class LayerInvariantError extends HyperconnError {
  constructor(readonly report: LayerInvariantReport) {
    super(formatLayerInvariantReport(report));
  }
}

/** A one-line-per-invariant summary of a report. */
export function formatLayerInvariantReport(report: LayerInvariantReport): string {
  const lines = report.invariants.map(
    (r) =>
      `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: worst ${fmt(r.worst)} (tolerance ` +
      `${fmt(r.tolerance)}, ${r.cases} cases)${r.detail === '' ? '' : ` — ${r.detail}`}`,
  );
  const verdict = report.ok
    ? 'all invariants hold'
    : `${report.invariants.filter((r) => !r.ok).length} invariant(s) violated`;
  return [
    `checkLayerInvariants(${report.variant}): ${verdict} over ${report.numRuns} cases (seed ${report.seed})`,
    ...lines,
  ].join('\n');
}

/** A layer, or a factory giving an identical fresh layer per call (use one for stateful layers). */
export type LayerOrFactory = HyperConnection | (() => HyperConnection);

/** Residual states `[batch, seq, n, dim]` with entries in [−maxAbs, maxAbs] (often much smaller). */
export function streamStateArb(
  n: number,
  dim: number,
  options: { maxBatch?: number; maxSeq?: number; maxAbs?: number; dtype?: DType } = {},
): fc.Arbitrary<Tensor> {
  const { maxBatch = 2, maxSeq = 3, maxAbs = 100, dtype = 'float64' } = options;
  return fc
    .record({
      batch: fc.integer({ min: 1, max: maxBatch }),
      seq: fc.integer({ min: 1, max: maxSeq }),
      scale: fc.constantFrom(0.01 * maxAbs, 0.1 * maxAbs, maxAbs),
    })
    .chain(({ batch, seq, scale }) => {
      const shape = [batch, seq, n, dim];
      const size = batch * seq * n * dim;
      return fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: size, maxLength: size }).map((v) =>
        tensor(
          Float64Array.from(v, (x) => x * scale),
          { shape, dtype },
        ),
      );
    });
}

interface Case {
  x: Tensor;
  /** Seeds the perturbation, the branch weights and the token permutation. */
  seed: number;
  perturbed: boolean;
}

/** Tracks the worst violation of one invariant: the largest ratio value / tolerance. */
class Worst {
  ratio = 0;
  value = 0;
  tolerance = 0;
  where = '';
  cases = 0;

  see(value: number, tolerance: number, where: () => string): void {
    const ratio = Number.isNaN(value) ? Infinity : value === 0 ? 0 : tolerance === 0 ? Infinity : value / tolerance;
    if (ratio > this.ratio) {
      this.ratio = ratio;
      this.value = Number.isNaN(value) ? Infinity : value;
      this.tolerance = tolerance;
      this.where = where();
    }
  }

  fail(detail: string): void {
    this.ratio = Infinity;
    this.value = Infinity;
    this.where = detail;
  }

  result(name: LayerInvariant, note = ''): InvariantResult {
    const ok = this.ratio <= 1;
    return {
      name,
      ok,
      worst: this.value,
      tolerance: this.tolerance,
      detail: ok ? note : this.where,
      cases: this.cases,
    };
  }
}

/** What the checks of one case share: the case, the layer's output and maps for it, and helpers. */
interface CaseContext {
  c: Case;
  /** The case in words, for the details of a violation. */
  label: string;
  n: number;
  /** The size of H_res: the layer's `nMaps` (n·fracs) when it has one, else n. */
  nMaps: number;
  /** The layer's `inputViews` (1 when it has none): the branch's input has a leading view axis when > 1. */
  views: number;
  dim: number;
  tokens: number;
  dtype: DType;
  /** The rounding tolerance, 64·n·eps (times `toleranceScale`). */
  tol: number;
  sinkhornIters: number | null;
  /** The factor sizes of the `kronecker` check. */
  kroneckerFactors: readonly number[];
  /** X, flat. */
  xs: ArrayLike<number>;
  /** forward(X, F), flat, and the maps it reported. */
  out: ArrayLike<number>;
  maps: TokenMaps;
  hRes: ArrayLike<number>;
  hPre: ArrayLike<number>;
  hPost: ArrayLike<number>;
  /** σ_max(H_res) per token (computed on first use). */
  sigma(): ArrayLike<number>;
  /** The branch F(u) = tanh(u·W) of this case, and W. */
  branch: (u: Variable) => Variable;
  branchWeights: Tensor;
  /** Runs a (perturbed, then restored) layer for this case. */
  withLayer<T>(run: (layer: HyperConnection) => T): T;
  /** `label`, the token (and its batch and position) and `what`. */
  where(what: string, token: number): string;
}

/** One invariant: its name, the built-in variants that promise it, and its check. */
interface InvariantCheck {
  name: LayerInvariant;
  /** The built-in variants that promise it (`DEFAULT_INVARIANTS`). */
  variants: readonly Variant[];
  /** Records the violations of one case in `worst`; false when the case could not exercise it. */
  check(ctx: CaseContext, worst: Worst): boolean;
}

/** The checks in the order they run; see `LayerInvariant` for what each one means. */
const CHECKS: readonly InvariantCheck[] = [
  {
    name: 'finite',
    variants: VARIANTS,
    check({ label, out, hRes, hPre, hPost }, w) {
      const bad = countNonFinite(out) + countNonFinite(hRes) + countNonFinite(hPre) + countNonFinite(hPost);
      w.see(bad, 0, () => `${label}: ${bad} non-finite entries in the output or the maps`);
      return true;
    },
  },
  {
    name: 'update',
    variants: VARIANTS,
    check({ c, n, dim, out, maps, branchWeights, tol, where }, w) {
      const { reference, scale } = referenceUpdate(
        c.x,
        maps,
        tanhBranchLoop(branchWeights),
        tanhBranchScale(branchWeights),
      );
      compare(w, out, reference, scale, tol, (i) =>
        where(
          `forward output [stream ${Math.floor(i / dim) % n}, channel ` +
            `${i % dim}] differs from H_res·X + H_postᵀ·F(H_pre·X)`,
          Math.floor(i / (n * dim)),
        ),
      );
      return true;
    },
  },
  {
    name: 'splitMerge',
    variants: VARIANTS,
    check({ c, n, dim, out, tol, branch, withLayer, where }, w) {
      const merged = withLayer((layer) => {
        const { branchInput, merge } = layer.split(variable(c.x));
        return merge(branch(branchInput)).value.toTypedArray();
      });
      compare(w, merged, out, absScale(out), tol, (i) =>
        where(
          `split/merge output [stream ${Math.floor(i / dim) % n}, channel ${i % dim}] differs from forward`,
          Math.floor(i / (n * dim)),
        ),
      );
      return true;
    },
  },
  {
    name: 'tokenIndependence',
    variants: VARIANTS,
    check({ c, label, n, nMaps, dim, tokens, dtype, xs, out, hRes, hPre, hPost, tol, branch, withLayer, where }, w) {
      const perm = new Random(c.seed).permutation(tokens);
      const permuted = permuteTokens(xs, perm, n * dim);
      const result = withLayer((layer) => {
        const y = layer.forward(variable(tensor(permuted, { shape: [...c.x.shape], dtype })), branch);
        return { out: y.value.toTypedArray(), maps: layer.lastMaps };
      });
      const desc = `tokens permuted by [${perm.join(',')}]`;
      compare(w, result.out, permuteTokens(out, perm, n * dim), absScale(out), tol, (i) =>
        where(`output with ${desc} is not the permuted output`, Math.floor(i / (n * dim))),
      );
      if (result.maps === null) w.fail(`${label}: lastMaps is null after forward`);
      else {
        const [res, pre, post] = [nMaps * nMaps, hPre.length / tokens, hPost.length / tokens];
        compare(w, result.maps.hRes.toTypedArray(), permuteTokens(hRes, perm, res), absScale(hRes), tol, (i) =>
          where(`H_res with ${desc} is not the permuted H_res`, Math.floor(i / res)),
        );
        compare(w, result.maps.hPre.toTypedArray(), permuteTokens(hPre, perm, pre), absScale(hPre), tol, (i) =>
          where(`H_pre with ${desc} is not the permuted H_pre`, Math.floor(i / pre)),
        );
        compare(w, result.maps.hPost.toTypedArray(), permuteTokens(hPost, perm, post), absScale(hPost), tol, (i) =>
          where(`H_post with ${desc} is not the permuted H_post`, Math.floor(i / post)),
        );
      }
      return true;
    },
  },
  {
    name: 'bypass',
    // n = 1 and H_res = 1 (residual): nothing to bypass
    variants: ['hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'],
    check({ c, label, n, views, dim, xs, tol, withLayer, where }, w) {
      const result = withLayer((layer) => {
        const y = layer.forward(variable(c.x), (u: Variable) => mul(views > 1 ? sum(u, 0) : u, 0));
        return { out: y.value.toTypedArray(), maps: layer.lastMaps };
      });
      if (result.maps === null) {
        w.fail(`${label}: lastMaps is null after forward`);
        return false;
      }
      const { reference, scale } = referenceUpdate(c.x, result.maps, zeroBranchLoop, zeroBranchScale);
      // the case only counts when H_res·X is measurably different from X
      let moved = 0;
      for (let i = 0; i < xs.length; i++) moved = Math.max(moved, Math.abs(reference[i]! - xs[i]!) / (1 + scale[i]!));
      if (!(moved > 1e3 * tol)) return false;
      compare(w, result.out, reference, scale, tol, (i) => {
        const gap = Math.abs(result.out[i]! - xs[i]!);
        return where(
          `with F ≡ 0 the output should be H_res·X = ${fmt(reference[i]!)} but is ${fmt(result.out[i]!)} ` +
            `(X itself is ${fmt(xs[i]!)}${gap <= tol * (1 + scale[i]!) ? ': H_res is bypassed' : ''})`,
          Math.floor(i / (n * dim)),
        );
      });
      return true;
    },
  },
  {
    name: 'gates',
    variants: ['mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'],
    check({ tokens, dtype, hPre, hPost, where }, w) {
      const gateTol = 4 * epsOf(dtype);
      // per token: n entries, or (views, fracs) several rows of n·f
      const [pre, post] = [hPre.length / tokens, hPost.length / tokens];
      for (let i = 0; i < hPre.length; i++) {
        w.see(outside(hPre[i]!, 0, 1), gateTol, () =>
          where(`H_pre[${i % pre}] = ${hPre[i]} is outside [0, 1]`, Math.floor(i / pre)),
        );
      }
      for (let i = 0; i < hPost.length; i++) {
        w.see(outside(hPost[i]!, 0, 2), gateTol, () =>
          where(`H_post[${i % post}] = ${hPost[i]} is outside [0, 2]`, Math.floor(i / post)),
        );
      }
      return true;
    },
  },
  {
    name: 'doublyStochastic',
    variants: ['mhc', 'mhcLite', 'kromhc'],
    check({ nMaps: n, tokens, hRes, tol, sinkhornIters, sigma, where }, w) {
      for (let k = 0; k < tokens; k++) {
        const h = tokenMatrix(hRes, n, k);
        const { rowErr, row, colErr, col } = sumDeviations(h, n);
        let neg = 0;
        let at = 0;
        for (let i = 0; i < n * n; i++) if (-h[i]! > neg) [neg, at] = [-h[i]!, i];
        w.see(neg, tol, () => where(`H_res[${Math.floor(at / n)}][${at % n}] = ${-neg} is negative`, k));
        w.see(rowErr, tol, () =>
          where(`row ${row} of H_res sums to ${fmt(signedRow(h, n, row))} (|H1 − 1| = ${fmt(rowErr)})`, k),
        );
        let colTol = tol;
        let how = '';
        if (sinkhornIters !== null) {
          const diameter = hilbertDiameter(h, n);
          const kappa = Math.tanh(diameter / 4);
          colTol = tol + Math.expm1(diameter * kappa ** Math.max(0, 2 * sinkhornIters - 3));
          how = ` (Sinkhorn bound for t = ${sinkhornIters}, Hilbert diameter ${fmt(diameter)})`;
        } else {
          // inexact Sinkhorn columns let σ_max exceed 1 by as much: asserted only without Sinkhorn
          const s = sigma()[k]!;
          w.see(Math.max(0, s - 1), tol, () => where(`σ_max(H_res) = ${s} exceeds 1`, k));
        }
        w.see(colErr, colTol, () =>
          where(`column ${col} of H_res sums to ${fmt(signedCol(h, n, col))} (|Hᵀ1 − 1| = ${fmt(colErr)})${how}`, k),
        );
      }
      return true;
    },
  },
  {
    name: 'spectralSphere',
    variants: ['shc', 'shcPower'],
    check({ nMaps: n, tokens, hRes, tol, sigma, where }, w) {
      for (let k = 0; k < tokens; k++) {
        const h = tokenMatrix(hRes, n, k);
        const { rowErr, row, colErr, col } = sumDeviations(h, n);
        w.see(rowErr, tol, () => where(`row ${row} of H_res sums to ${fmt(signedRow(h, n, row))}`, k));
        w.see(colErr, tol, () => where(`column ${col} of H_res sums to ${fmt(signedCol(h, n, col))}`, k));
        const s = sigma()[k]!;
        w.see(Math.abs(s - 1), tol, () => where(`σ_max(H_res) = ${s}, not 1`, k));
      }
      return true;
    },
  },
  {
    name: 'kronecker',
    variants: ['kromhc'],
    check({ nMaps: n, tokens, hRes, tol, kroneckerFactors, where }, w) {
      for (let k = 0; k < tokens; k++) {
        const h = tokenMatrix(hRes, n, k);
        const product = kroneckerOfMarginals(h, kroneckerFactors);
        for (let i = 0; i < n * n; i++) {
          w.see(Math.abs(h[i]! - product[i]!), tol, () =>
            where(
              `H_res[${Math.floor(i / n)}][${i % n}] = ${fmt(h[i]!)} but the Kronecker product of its factor ` +
                `marginals (sizes [${kroneckerFactors.join(', ')}]) gives ${fmt(product[i]!)}`,
              k,
            ),
          );
        }
      }
      return true;
    },
  },
];

/** What each built-in variant promises (used when `invariants` is not given). */
export const DEFAULT_INVARIANTS: Readonly<Record<Variant, readonly LayerInvariant[]>> = {
  residual: promisedBy('residual'),
  hc: promisedBy('hc'),
  mhc: promisedBy('mhc'),
  mhcLite: promisedBy('mhcLite'),
  kromhc: promisedBy('kromhc'),
  shc: promisedBy('shc'),
  shcPower: promisedBy('shcPower'),
};

function promisedBy(variant: Variant): LayerInvariant[] {
  return CHECKS.filter((c) => c.variants.includes(variant)).map((c) => c.name);
}

/**
 * Runs the invariants over `numRuns` generated cases and returns the worst violation of each.
 * Each case draws a state X `[B,T,n,C]`, a branch `F(u) = tanh(u·W)` (W a random C×C map) and,
 * in half the cases, a perturbation of every parameter; the layer (or a fresh one from the
 * factory) is restored after each case.
 */
export function checkLayerInvariants(
  layerOrFactory: LayerOrFactory,
  options: LayerInvariantOptions = {},
): LayerInvariantReport {
  const make = typeof layerOrFactory === 'function' ? layerOrFactory : (): HyperConnection => layerOrFactory;
  const probe = make();
  const { n, dim, variant } = probe;
  const own = probe as { nMaps?: unknown; inputViews?: unknown };
  const nMaps = typeof own.nMaps === 'number' ? own.nMaps : n;
  const views = typeof own.inputViews === 'number' ? own.inputViews : 1;
  // H_res fixed to I (`resMap: false`): nothing for `bypass` to detect
  const fixedRes = (probe as { resMap?: unknown }).resMap === false;
  const invariants = options.invariants ?? DEFAULT_INVARIANTS[variant]?.filter((c) => !fixedRes || c !== 'bypass');
  if (invariants === undefined)
    throw new ValueError(
      `checkLayerInvariants: no default invariants for variant '${String(variant)}'; pass options.invariants`,
    );
  const numRuns = options.numRuns ?? 20;
  const seed = options.seed ?? 0;
  const perturbation = options.perturbation ?? 0.5;
  const ownIters = (probe as { sinkhornIters?: unknown }).sinkhornIters;
  const sinkhornIters =
    options.sinkhornIters !== undefined
      ? options.sinkhornIters
      : typeof ownIters === 'number'
        ? ownIters
        : variant === 'mhc'
          ? 20
          : null;
  const kroneckerFactors = kroneckerFactorsOption(options.kroneckerFactors, probe);
  const dtype = dtypeOption('checkLayerInvariants', options, probe.parameters()[0]?.dtype ?? 'float64');
  const tol = 64 * nMaps * epsOf(dtype) * (options.toleranceScale ?? 1);
  const checks = CHECKS.filter((c) => invariants.includes(c.name));

  const caseArb: fc.Arbitrary<Case> = fc.record({
    x: streamStateArb(n, dim, { maxBatch: options.maxBatch, maxSeq: options.maxSeq, maxAbs: options.maxAbs, dtype }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    perturbed: fc.boolean(),
  });
  const cases = fc.sample(caseArb, { seed, numRuns });
  const worst = new Map(invariants.map((name) => [name, new Worst()]));

  // A layer passed as an instance is perturbed in place and restored from this snapshot.
  const original = typeof layerOrFactory === 'function' ? null : probe.parameters().map((p) => p.value.clone());
  const withLayer = <T>(c: Case, run: (layer: HyperConnection) => T): T => {
    const layer = make();
    const params = layer.parameters();
    try {
      if (c.perturbed && perturbation > 0) {
        const rng = new Random(c.seed);
        for (const p of params) {
          const noise = rng.normal(p.shape, { dtype: p.dtype }).toTypedArray();
          const v = p.value.toTypedArray();
          p.value.assign(
            tensor(
              v.map((pv, i) => pv + perturbation * (1 + Math.abs(pv)) * noise[i]!),
              { shape: [...p.shape], dtype: p.dtype },
            ),
          );
        }
      }
      return run(layer);
    } finally {
      if (original !== null)
        params.forEach((p, i) => {
          p.value.assign(original[i]!);
        });
    }
  };

  cases.forEach((c, caseIndex) => {
    const [batch, seq] = c.x.shape as [number, number, number, number];
    const label =
      `case ${caseIndex} (X [${c.x.shape.join(',')}], max|X| ` +
      `${fmt(maxAbs(c.x.toTypedArray()))}${c.perturbed && perturbation > 0 ? ', perturbed parameters' : ''})`;
    const branchWeights = caseBranchWeights(dim, c.seed, dtype);
    // several views [v, B, T, C]: their sum, which `referenceUpdate` applies F to as well
    const branch = (u: Variable): Variable => tanh(matmul(views > 1 ? sum(u, 0) : u, branchWeights));

    const { out, maps } = withLayer(c, (layer) => {
      const y = layer.forward(variable(c.x), branch);
      return { out: y.value.toTypedArray(), maps: layer.lastMaps };
    });
    if (maps === null) {
      for (const name of invariants)
        worst.get(name)!.fail(`${label}: lastMaps is null after forward, so nothing can be checked`);
      return;
    }
    let sigma: ArrayLike<number> | null = null;
    const ctx: CaseContext = {
      c,
      label,
      n,
      nMaps,
      views,
      dim,
      tokens: batch * seq,
      dtype,
      tol,
      sinkhornIters,
      kroneckerFactors,
      xs: c.x.toTypedArray(),
      out,
      maps,
      hRes: maps.hRes.toTypedArray(),
      hPre: maps.hPre.toTypedArray(),
      hPost: maps.hPost.toTypedArray(),
      sigma: () => (sigma ??= matrixNorm(maps.hRes.astype('float64'), 2).toTypedArray()),
      branch,
      branchWeights,
      withLayer: (run) => withLayer(c, run),
      where: (what, token) => `${label}, token ${token} (b ${Math.floor(token / seq)}, t ${token % seq}): ${what}`,
    };
    for (const { name, check } of checks) {
      const w = worst.get(name)!;
      if (check(ctx, w)) w.cases++;
    }
  });

  const results = invariants.map((name) => {
    const w = worst.get(name)!;
    if (name === 'bypass' && w.cases === 0 && w.ratio <= 1) {
      w.fail(
        `H_res stayed within ${fmt(1e3 * tol)} of I in every case, so ` +
          `bypassing it could not be detected (raise options.perturbation)`,
      );
    }
    return w.result(name);
  });
  return { ok: results.every((r) => r.ok), variant, numRuns, seed, invariants: results };
}

/** `checkLayerInvariants`, throwing a `LayerInvariantError` (with the report) when any fails. */
export function expectLayerInvariants(
  layerOrFactory: LayerOrFactory,
  options: LayerInvariantOptions = {},
): LayerInvariantReport {
  const report = checkLayerInvariants(layerOrFactory, options);
  if (!report.ok) throw new LayerInvariantError(report);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Reference computations: plain loops over float64 copies, independent of the layer's code.

function caseBranchWeights(dim: number, seed: number, dtype: DType): Tensor {
  // seeded apart from the perturbation stream of the same case
  return new Random(seed + 1).normal([dim, dim], { std: 1 / Math.sqrt(dim), dtype });
}

/** The n×n matrix of token k in a flat [tokens, n, n] array. */
function tokenMatrix(hRes: ArrayLike<number>, n: number, k: number): ArrayLike<number> {
  return Array.from({ length: n * n }, (_, i) => hRes[k * n * n + i]!);
}

/** Records |actual − expected| against tol·(1 + scale) element by element. */
function compare(
  w: Worst,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  scale: ArrayLike<number>,
  tol: number,
  where: (i: number) => string,
): void {
  if (actual.length !== expected.length) {
    w.fail(`${actual.length} values where ${expected.length} were expected (wrong output shape)`);
    return;
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const diff = Number.isFinite(a) && Number.isFinite(e) ? Math.abs(a - e) : Object.is(a, e) ? 0 : Infinity;
    w.see(diff, tol * (1 + scale[i]!), () => `${where(i)}: ${fmt(a)} vs ${fmt(e)}`);
  }
}

function absScale(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values, (v) => Math.abs(v));
}

function permuteTokens(values: ArrayLike<number>, perm: readonly number[], block: number): Float64Array {
  const out = new Float64Array(values.length);
  perm.forEach((from, to) => {
    for (let i = 0; i < block; i++) out[to * block + i] = values[from * block + i]!;
  });
  return out;
}

function sumDeviations(h: ArrayLike<number>, n: number): { rowErr: number; row: number; colErr: number; col: number } {
  let rowErr = 0;
  let row = 0;
  let colErr = 0;
  let col = 0;
  for (let i = 0; i < n; i++) {
    const r = Math.abs(signedRow(h, n, i) - 1);
    const c = Math.abs(signedCol(h, n, i) - 1);
    if (!(r <= rowErr)) [rowErr, row] = [r, i];
    if (!(c <= colErr)) [colErr, col] = [c, i];
  }
  return { rowErr, row, colErr, col };
}

function signedRow(h: ArrayLike<number>, n: number, i: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += h[i * n + j]!;
  return s;
}

function signedCol(h: ArrayLike<number>, n: number, j: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += h[i * n + j]!;
  return s;
}

/**
 * Δ(H) = max over i,j,k,l of log(H_ik·H_jl / (H_il·H_jk)): invariant under row and column
 * scaling, so it equals the diameter of the exponentiated logits Sinkhorn started from.
 * +∞ when an entry is 0 (Sinkhorn's bound then says nothing).
 */
function hilbertDiameter(h: ArrayLike<number>, n: number): number {
  const logs = Array.from(h, (v) => Math.log(v));
  let diameter = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) {
        for (let l = 0; l < n; l++) {
          const d = logs[i * n + k]! + logs[j * n + l]! - logs[i * n + l]! - logs[j * n + k]!;
          if (!(d <= diameter)) diameter = Number.isNaN(d) ? Infinity : d;
        }
      }
    }
  }
  return diameter;
}

/**
 * The `kronecker` check's factor sizes: the option, else the layer's own `factors`, else
 * `kromhcFactors(n)`. ValueError unless they are positive integers whose product is n (the
 * size of H_res: the layer's `nMaps` when it has one).
 */
function kroneckerFactorsOption(option: readonly number[] | undefined, layer: HyperConnection): readonly number[] {
  const own = (layer as { factors?: unknown }).factors;
  // the size of H_res: n·fracs with frac-connections
  const size = (layer as { nMaps?: unknown }).nMaps;
  const n = typeof size === 'number' ? size : layer.n;
  const factors = option ?? (Array.isArray(own) ? (own as number[]) : kromhcFactors(n));
  const valid =
    Array.isArray(factors) && factors.every((f) => Number.isSafeInteger(f) && f >= 1) && product(factors) === n;
  if (!valid) {
    throw new ValueError(
      `checkLayerInvariants: kroneckerFactors must be positive integers whose product is n = ${n}, ` +
        `got ${JSON.stringify(factors)}`,
    );
  }
  return factors;
}

function product(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

/**
 * U_1 ⊗ ⋯ ⊗ U_K multiplied out entry by entry, each U_k the scaled block marginal of the n×n
 * matrix h: U_k[a, c] = (i_k/n)·Σ h[r, s] over the r whose k-th digit (in the mixed radix of the
 * factor sizes, factor 1 most significant) is a and the s whose k-th digit is c. Flat, row-major.
 */
function kroneckerOfMarginals(h: ArrayLike<number>, factors: readonly number[]): Float64Array {
  const n = product(factors);
  const digit = (index: number, k: number): number => Math.floor(index / product(factors.slice(k + 1))) % factors[k]!;
  const marginals = factors.map((size, k) => {
    const u = new Float64Array(size * size);
    for (let r = 0; r < n; r++) for (let s = 0; s < n; s++) u[digit(r, k) * size + digit(s, k)] += h[r * n + s]!;
    return u.map((v) => (v * size) / n);
  });
  const out = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    for (let s = 0; s < n; s++) {
      let v = 1;
      factors.forEach((size, k) => {
        v *= marginals[k]![digit(r, k) * size + digit(s, k)]!;
      });
      out[r * n + s] = v;
    }
  }
  return out;
}

function outside(v: number, low: number, high: number): number {
  return Number.isNaN(v) ? Infinity : Math.max(0, low - v, v - high);
}

function countNonFinite(values: ArrayLike<number>): number {
  let bad = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) bad++;
  return bad;
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x);
}
