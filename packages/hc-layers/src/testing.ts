/**
 * `@hyperconn/hc-layers/testing`: the spec's invariants for ANY `HyperConnection` — a built-in
 * variant or your own layer written against the interface — checked over fast-check-generated
 * inputs and random parameter perturbations, with a report of the worst violation of each.
 *
 * Test-runner agnostic: `checkLayerInvariants` returns a report, `expectLayerInvariants`
 * throws a `LayerInvariantError` carrying it. fast-check is a peer dependency.
 */
import fc from 'fast-check';
import { dtypeOption, HyperconnError, matrixNorm, Random, tensor, ValueError, type DType, type Tensor } from '@hyperconn/tensor';
import { matmul, mul, tanh, type Variable, variable } from '@hyperconn/autograd';
import type { HyperConnection, Variant } from './hyper-connection.js';

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
 * - `spectralSphere` — row and column sums 1 and `σ_max = 1`.
 */
export type LayerInvariant = 'finite' | 'update' | 'splitMerge' | 'tokenIndependence' | 'bypass' | 'gates' | 'doublyStochastic' | 'spectralSphere';

const GENERAL: readonly LayerInvariant[] = ['finite', 'update', 'splitMerge', 'tokenIndependence'];

/** What each built-in variant promises (used when `invariants` is not given). */
export const DEFAULT_INVARIANTS: Readonly<Record<Variant, readonly LayerInvariant[]>> = {
  // n = 1 and H_res = 1: nothing to bypass, nothing to constrain
  residual: GENERAL,
  hc: [...GENERAL, 'bypass'],
  mhc: [...GENERAL, 'bypass', 'gates', 'doublyStochastic'],
  mhcLite: [...GENERAL, 'bypass', 'gates', 'doublyStochastic'],
  shc: [...GENERAL, 'bypass', 'gates', 'spectralSphere'],
  shcPower: [...GENERAL, 'bypass', 'gates', 'spectralSphere'],
};

/** Options of `checkLayerInvariants` and `expectLayerInvariants`; all optional. */
export interface LayerInvariantOptions {
  /** Which checks to run. Default `DEFAULT_INVARIANTS[layer.variant]`. */
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
    (r) => `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: worst ${fmt(r.worst)} (tolerance ${fmt(r.tolerance)}, ${r.cases} cases)${r.detail === '' ? '' : ` — ${r.detail}`}`,
  );
  const verdict = report.ok ? 'all invariants hold' : `${report.invariants.filter((r) => !r.ok).length} invariant(s) violated`;
  return [`checkLayerInvariants(${report.variant}): ${verdict} over ${report.numRuns} cases (seed ${report.seed})`, ...lines].join('\n');
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
      return fc
        .array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: size, maxLength: size })
        .map((v) => tensor(Float64Array.from(v, (x) => x * scale), { shape, dtype }));
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
    return { name, ok, worst: this.value, tolerance: this.tolerance, detail: ok ? note : this.where, cases: this.cases };
  }
}

const EPS: Record<DType, number> = { float64: 2 ** -52, float32: 2 ** -23 };

/**
 * Runs the invariants over `numRuns` generated cases and returns the worst violation of each.
 * Each case draws a state X `[B,T,n,C]`, a branch `F(u) = tanh(u·W)` (W a random C×C map) and,
 * in half the cases, a perturbation of every parameter; the layer (or a fresh one from the
 * factory) is restored after each case.
 */
export function checkLayerInvariants(layerOrFactory: LayerOrFactory, options: LayerInvariantOptions = {}): LayerInvariantReport {
  const make = typeof layerOrFactory === 'function' ? layerOrFactory : (): HyperConnection => layerOrFactory;
  const probe = make();
  const { n, dim, variant } = probe;
  const invariants = options.invariants ?? DEFAULT_INVARIANTS[variant];
  if (invariants === undefined) throw new ValueError(`checkLayerInvariants: no default invariants for variant '${String(variant)}'; pass options.invariants`);
  const numRuns = options.numRuns ?? 20;
  const seed = options.seed ?? 0;
  const perturbation = options.perturbation ?? 0.5;
  const ownIters = (probe as { sinkhornIters?: unknown }).sinkhornIters;
  const sinkhornIters = options.sinkhornIters !== undefined ? options.sinkhornIters : typeof ownIters === 'number' ? ownIters : variant === 'mhc' ? 20 : null;
  const dtype = dtypeOption('checkLayerInvariants', options, probe.parameters()[0]?.dtype ?? 'float64');
  const tol = 64 * n * EPS[dtype] * (options.toleranceScale ?? 1);
  const wanted = new Set(invariants);

  const caseArb: fc.Arbitrary<Case> = fc.record({
    x: streamStateArb(n, dim, { maxBatch: options.maxBatch, maxSeq: options.maxSeq, maxAbs: options.maxAbs, dtype }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    perturbed: fc.boolean(),
  });
  const cases = fc.sample(caseArb, { seed, numRuns });

  const worst = new Map(invariants.map((name) => [name, new Worst()]));
  const track = (name: LayerInvariant): Worst | undefined => {
    const w = worst.get(name);
    if (w !== undefined) w.cases++;
    return w;
  };

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
          p.value.assign(tensor(v.map((pv, i) => pv + perturbation * (1 + Math.abs(pv)) * noise[i]!), { shape: [...p.shape], dtype: p.dtype }));
        }
      }
      return run(layer);
    } finally {
      if (original !== null) params.forEach((p, i) => p.value.assign(original[i]!));
    }
  };

  cases.forEach((c, caseIndex) => {
    const [batch, seq] = c.x.shape as [number, number, number, number];
    const tokens = batch * seq;
    const label = `case ${caseIndex} (X [${c.x.shape.join(',')}], max|X| ${fmt(maxAbs(c.x.toTypedArray()))}${c.perturbed && perturbation > 0 ? ', perturbed parameters' : ''})`;
    const w = branchWeights(dim, c.seed, dtype);
    const branch = (u: Variable): Variable => tanh(matmul(u, w));
    const xs = c.x.toTypedArray();
    const where = (what: string, token: number): string => `${label}, token ${token} (b ${Math.floor(token / seq)}, t ${token % seq}): ${what}`;

    const { out, maps } = withLayer(c, (layer) => {
      const y = layer.forward(variable(c.x), branch);
      return { out: y.value.toTypedArray(), maps: layer.lastMaps };
    });
    if (maps === null) {
      for (const name of invariants) worst.get(name)!.fail(`${label}: lastMaps is null after forward, so nothing can be checked`);
      return;
    }
    const hRes = maps.hRes.toTypedArray();
    const hPre = maps.hPre.toTypedArray();
    const hPost = maps.hPost.toTypedArray();

    if (wanted.has('finite')) {
      const f = track('finite')!;
      const bad = countNonFinite(out) + countNonFinite(hRes) + countNonFinite(hPre) + countNonFinite(hPost);
      f.see(bad, 0, () => `${label}: ${bad} non-finite entries in the output or the maps`);
    }

    if (wanted.has('update')) {
      const u = track('update')!;
      const { reference, scale } = referenceUpdate(xs, hRes, hPre, hPost, w.toTypedArray(), tokens, n, dim, true);
      compare(u, out, reference, scale, tol, (i) => where(`forward output [stream ${Math.floor(i / dim) % n}, channel ${i % dim}] differs from H_res·X + H_postᵀ·F(H_pre·X)`, Math.floor(i / (n * dim))));
    }

    if (wanted.has('splitMerge')) {
      const s = track('splitMerge')!;
      const merged = withLayer(c, (layer) => {
        const { branchInput, merge } = layer.split(variable(c.x));
        return merge(branch(branchInput)).value.toTypedArray();
      });
      compare(s, merged, out, absScale(out), tol, (i) => where(`split/merge output [stream ${Math.floor(i / dim) % n}, channel ${i % dim}] differs from forward`, Math.floor(i / (n * dim))));
    }

    if (wanted.has('tokenIndependence')) {
      const t = track('tokenIndependence')!;
      const perm = new Random(c.seed).permutation(tokens);
      const permuted = permuteTokens(xs, perm, n * dim);
      const result = withLayer(c, (layer) => {
        const y = layer.forward(variable(tensor(permuted, { shape: [...c.x.shape], dtype })), branch);
        return { out: y.value.toTypedArray(), maps: layer.lastMaps };
      });
      const desc = `tokens permuted by [${perm.join(',')}]`;
      compare(t, result.out, permuteTokens(out, perm, n * dim), absScale(out), tol, (i) => where(`output with ${desc} is not the permuted output`, Math.floor(i / (n * dim))));
      if (result.maps === null) t.fail(`${label}: lastMaps is null after forward`);
      else {
        compare(t, result.maps.hRes.toTypedArray(), permuteTokens(hRes, perm, n * n), absScale(hRes), tol, (i) => where(`H_res with ${desc} is not the permuted H_res`, Math.floor(i / (n * n))));
        compare(t, result.maps.hPre.toTypedArray(), permuteTokens(hPre, perm, n), absScale(hPre), tol, (i) => where(`H_pre with ${desc} is not the permuted H_pre`, Math.floor(i / n)));
        compare(t, result.maps.hPost.toTypedArray(), permuteTokens(hPost, perm, n), absScale(hPost), tol, (i) => where(`H_post with ${desc} is not the permuted H_post`, Math.floor(i / n)));
      }
    }

    if (wanted.has('bypass')) {
      const b = worst.get('bypass')!;
      const result = withLayer(c, (layer) => {
        const y = layer.forward(variable(c.x), (u: Variable) => mul(u, 0));
        return { out: y.value.toTypedArray(), maps: layer.lastMaps };
      });
      if (result.maps === null) b.fail(`${label}: lastMaps is null after forward`);
      else {
        const h = result.maps.hRes.toTypedArray();
        const { reference, scale } = referenceUpdate(xs, h, result.maps.hPre.toTypedArray(), result.maps.hPost.toTypedArray(), null, tokens, n, dim, false);
        // the case only counts when H_res·X is measurably different from X
        let moved = 0;
        for (let i = 0; i < xs.length; i++) moved = Math.max(moved, Math.abs(reference[i]! - xs[i]!) / (1 + scale[i]!));
        if (moved > 1e3 * tol) {
          b.cases++;
          compare(b, result.out, reference, scale, tol, (i) => {
            const gap = Math.abs(result.out[i]! - xs[i]!);
            return where(`with F ≡ 0 the output should be H_res·X = ${fmt(reference[i]!)} but is ${fmt(result.out[i]!)} (X itself is ${fmt(xs[i]!)}${gap <= tol * (1 + scale[i]!) ? ': H_res is bypassed' : ''})`, Math.floor(i / (n * dim)));
          });
        }
      }
    }

    if (wanted.has('gates')) {
      const g = track('gates')!;
      const gateTol = 4 * EPS[dtype];
      for (let i = 0; i < hPre.length; i++) {
        g.see(outside(hPre[i]!, 0, 1), gateTol, () => where(`H_pre[${i % n}] = ${hPre[i]} is outside [0, 1]`, Math.floor(i / n)));
        g.see(outside(hPost[i]!, 0, 2), gateTol, () => where(`H_post[${i % n}] = ${hPost[i]} is outside [0, 2]`, Math.floor(i / n)));
      }
    }

    if (wanted.has('doublyStochastic') || wanted.has('spectralSphere')) {
      const sigma = matrixNorm(maps.hRes.astype('float64'), 2).toTypedArray();
      for (let k = 0; k < tokens; k++) {
        const h = hRes.subarray(k * n * n, (k + 1) * n * n);
        const { rowErr, row, colErr, col } = sumDeviations(h, n);
        if (wanted.has('doublyStochastic')) {
          const d = worst.get('doublyStochastic')!;
          if (k === 0) d.cases++;
          let neg = 0;
          let at = 0;
          for (let i = 0; i < n * n; i++) if (-h[i]! > neg) [neg, at] = [-h[i]!, i];
          d.see(neg, tol, () => where(`H_res[${Math.floor(at / n)}][${at % n}] = ${-neg} is negative`, k));
          d.see(rowErr, tol, () => where(`row ${row} of H_res sums to ${fmt(signedRow(h, n, row))} (|H1 − 1| = ${fmt(rowErr)})`, k));
          let colTol = tol;
          let how = '';
          if (sinkhornIters !== null) {
            const diameter = hilbertDiameter(h, n);
            const kappa = Math.tanh(diameter / 4);
            colTol = tol + Math.expm1(diameter * kappa ** Math.max(0, 2 * sinkhornIters - 3));
            how = ` (Sinkhorn bound for t = ${sinkhornIters}, Hilbert diameter ${fmt(diameter)})`;
          } else {
            d.see(Math.max(0, sigma[k]! - 1), tol, () => where(`σ_max(H_res) = ${sigma[k]} exceeds 1`, k));
          }
          d.see(colErr, colTol, () => where(`column ${col} of H_res sums to ${fmt(signedCol(h, n, col))} (|Hᵀ1 − 1| = ${fmt(colErr)})${how}`, k));
        }
        if (wanted.has('spectralSphere')) {
          const s = worst.get('spectralSphere')!;
          if (k === 0) s.cases++;
          s.see(rowErr, tol, () => where(`row ${row} of H_res sums to ${fmt(signedRow(h, n, row))}`, k));
          s.see(colErr, tol, () => where(`column ${col} of H_res sums to ${fmt(signedCol(h, n, col))}`, k));
          s.see(Math.abs(sigma[k]! - 1), tol, () => where(`σ_max(H_res) = ${sigma[k]}, not 1`, k));
        }
      }
    }
  });

  const results = invariants.map((name) => {
    const w = worst.get(name)!;
    if (name === 'bypass' && w.cases === 0 && w.ratio <= 1) {
      w.fail(`H_res stayed within ${fmt(1e3 * tol)} of I in every case, so bypassing it could not be detected (raise options.perturbation)`);
    }
    return w.result(name);
  });
  return { ok: results.every((r) => r.ok), variant, numRuns, seed, invariants: results };
}

/** `checkLayerInvariants`, throwing a `LayerInvariantError` (with the report) when any fails. */
export function expectLayerInvariants(layerOrFactory: LayerOrFactory, options: LayerInvariantOptions = {}): LayerInvariantReport {
  const report = checkLayerInvariants(layerOrFactory, options);
  if (!report.ok) throw new LayerInvariantError(report);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Reference computations: plain loops over float64 copies, independent of the layer's code.

function branchWeights(dim: number, seed: number, dtype: DType): Tensor {
  // seeded apart from the perturbation stream of the same case
  return new Random(seed + 1).normal([dim, dim], { std: 1 / Math.sqrt(dim), dtype });
}

/**
 * X' = H_res·X + H_postᵀ·tanh((H_pre·X)·W) per token (W null: F ≡ 0), and per entry the sum of
 * magnitudes that went into it, which scales the rounding tolerance.
 */
function referenceUpdate(
  x: ArrayLike<number>,
  hRes: ArrayLike<number>,
  hPre: ArrayLike<number>,
  hPost: ArrayLike<number>,
  w: ArrayLike<number> | null,
  tokens: number,
  n: number,
  dim: number,
  withBranch: boolean,
): { reference: Float64Array; scale: Float64Array } {
  const reference = new Float64Array(tokens * n * dim);
  const scale = new Float64Array(tokens * n * dim);
  const u = new Float64Array(dim);
  const uAbs = new Float64Array(dim);
  const y = new Float64Array(dim);
  const yScale = new Float64Array(dim);
  for (let k = 0; k < tokens; k++) {
    const xo = k * n * dim;
    u.fill(0);
    uAbs.fill(0);
    for (let s = 0; s < n; s++) {
      for (let c = 0; c < dim; c++) {
        u[c] += hPre[k * n + s]! * x[xo + s * dim + c]!;
        uAbs[c] += Math.abs(hPre[k * n + s]! * x[xo + s * dim + c]!);
      }
    }
    y.fill(0);
    yScale.fill(0);
    if (withBranch && w !== null) {
      for (let c = 0; c < dim; c++) {
        let acc = 0;
        let mag = 0;
        for (let j = 0; j < dim; j++) {
          acc += u[j]! * w[j * dim + c]!;
          mag += uAbs[j]! * Math.abs(w[j * dim + c]!);
        }
        y[c] = Math.tanh(acc);
        // tanh is 1-Lipschitz: an error in its argument passes through at most unchanged
        yScale[c] = 1 + mag;
      }
    }
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < dim; c++) {
        let acc = hPost[k * n + i]! * y[c]!;
        let mag = Math.abs(hPost[k * n + i]!) * yScale[c]!;
        for (let j = 0; j < n; j++) {
          const term = hRes[k * n * n + i * n + j]! * x[xo + j * dim + c]!;
          acc += term;
          mag += Math.abs(term);
        }
        reference[xo + i * dim + c] = acc;
        scale[xo + i * dim + c] = mag;
      }
    }
  }
  return { reference, scale };
}

/** Records |actual − expected| against tol·(1 + scale) element by element. */
function compare(w: Worst, actual: ArrayLike<number>, expected: ArrayLike<number>, scale: ArrayLike<number>, tol: number, where: (i: number) => string): void {
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

