/**
 * Experiment 7 — the cost of each parameterisation as the number of streams n grows: parameters
 * per hyper-connection module (exact, `parameterCount`) and the measured time of one forward +
 * backward pass of the module on a batch of tokens, with a branch that outputs zero so that only
 * the map X ↦ (H_pre, H_post, H_res) and the stream update are timed (the constraint map plus its
 * input projection: Sinkhorn's 20 iterations for mHC, the n! permutation mixture for mHC-lite,
 * the Kronecker factors' small mixtures for KromHC, two Cayley solves for sHC). Claim tested
 * (mHC-lite, KromHC and sHC papers): mHC-lite's cost grows as n!, KromHC's with the factorial of
 * n's largest prime factor, Sinkhorn pays for its iterations, sHC grows polynomially.
 * Every cell is warmed up (the JIT compiles the first passes), then timed `reps` times: the median
 * and the spread (fastest, slowest) are reported. Times depend on the machine and its load, so
 * they are never compared across runs, and a ratio between variants means something only where
 * the spreads do not overlap.
 */
import { Random, zeros, type Tensor } from '@hyperconn/tensor';
import { mul, sum, Variable } from '@hyperconn/autograd';
import { createHyperConnection, parameterCount, type HyperConnection, type Variant } from '@hyperconn/hc-layers';
import { deriveSeed, type DemoConfig } from '../config';

export interface CostCell {
  variant: Variant;
  n: number;
  /** Parameters of one module (null when the variant refuses this n). */
  params: number | null;
  /** Every timed forward + backward pass, in milliseconds, in order (empty when refused). */
  times: number[];
  /** Median of `times` (null when refused). */
  ms: number | null;
  /** Why the variant refused this n (e.g. mHC-lite above its n! limit). */
  refused?: string;
}

/** The variants whose cost depends on n (the residual has one stream and no parameters). */
export const costVariants = (variants: readonly Variant[]): Variant[] => variants.filter((v) => v !== 'residual');

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Milliseconds of one forward + backward pass of `layer` on x, with a branch that outputs zero. */
function timeOnce(layer: HyperConnection, x: Tensor): number {
  const zeroBranch = (b: Variable): Variable => new Variable(zeros(b.shape, { dtype: b.dtype }));
  const start = performance.now();
  const y = layer.forward(new Variable(x), zeroBranch);
  sum(mul(y, y)).backward();
  const ms = performance.now() - start;
  for (const p of layer.parameters()) p.grad = null;
  return ms;
}

export function runCost(config: DemoConfig, onProgress: (done: number) => void = () => undefined): CostCell[] {
  const { ns, dim, tokens, warmup, reps, cellSeconds } = config.cost;
  const dtype = config.dtype;
  const input = (n: number): Tensor =>
    new Random(deriveSeed(config.seed, `cost/${n}`)).normal([1, tokens, n, dim], { dtype });
  // the first passes through any code path run cold (the JIT has not compiled it yet): warm every
  // variant up at the smallest n before the first cell, so it is not the one penalised
  for (const variant of costVariants(config.variants)) {
    const layer = createHyperConnection(variant, { n: ns[0]!, dim, layerIndex: 0, dtype });
    for (let i = 0; i < 3 * warmup; i++) timeOnce(layer, input(ns[0]!));
  }
  const cells: CostCell[] = [];
  for (const n of ns) {
    const x = input(n);
    for (const variant of costVariants(config.variants)) {
      let layer: HyperConnection;
      try {
        layer = createHyperConnection(variant, { n, dim, layerIndex: 0, dtype });
      } catch (err) {
        cells.push({
          variant,
          n,
          params: null,
          times: [],
          ms: null,
          refused: err instanceof Error ? err.message : String(err),
        });
        onProgress(cells.length);
        continue;
      }
      let spent = 0;
      for (let i = 0; i < warmup; i++) spent += timeOnce(layer, x);
      // a slow cell (mHC-lite at n = 8 takes about a second a pass) is timed fewer times, at least three
      const times: number[] = [];
      while (times.length < reps && (times.length < 3 || spent < cellSeconds * 1000)) {
        times.push(timeOnce(layer, x));
        spent += times.at(-1)!;
      }
      cells.push({ variant, n, params: parameterCount(layer), times, ms: median(times) });
      onProgress(cells.length);
    }
  }
  return cells;
}
