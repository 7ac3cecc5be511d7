/**
 * Experiment 4 — the cost of each parameterisation as the number of streams n grows: parameters
 * per hyper-connection module (exact, `parameterCount`) and the measured time of one forward +
 * backward pass of the module on a batch of tokens, with a branch that outputs zero so that only
 * the map X ↦ (H_pre, H_post, H_res) and the stream update are timed (the constraint map plus its
 * input projection: Sinkhorn's 20 iterations for mHC, the n! permutation mixture for mHC-lite,
 * two Cayley solves for sHC). Claim tested (mHC-lite and sHC papers): mHC-lite's cost grows as
 * n!, Sinkhorn pays for its iterations, sHC grows polynomially.
 * Times are the fastest of a few repetitions after a warm-up (on a shared machine the minimum is
 * the least disturbed by other processes); they depend on the machine and its load, so they are
 * reported but never compared across runs.
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
  /** Fastest of the timed forward + backward passes, in milliseconds (null when refused). */
  ms: number | null;
  /** Why the variant refused this n (e.g. mHC-lite above its n! limit). */
  refused?: string;
}

/** The variants whose cost depends on n (the residual has one stream and no parameters). */
export const costVariants = (variants: readonly Variant[]): Variant[] => variants.filter((v) => v !== 'residual');

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
  const { ns, dim, tokens, reps, cellSeconds } = config.cost;
  const dtype = config.dtype;
  const input = (n: number): Tensor =>
    new Random(deriveSeed(config.seed, `cost/${n}`)).normal([1, tokens, n, dim], { dtype });
  const variants = costVariants(config.variants);
  // the first passes through any code path run cold (the JIT has not compiled it yet): warm every
  // variant up once at the smallest n so the first cells are not penalised
  for (const variant of variants)
    timeOnce(createHyperConnection(variant, { n: ns[0]!, dim, layerIndex: 0, dtype }), input(ns[0]!));
  const cells: CostCell[] = [];
  for (const n of ns) {
    const x = input(n);
    for (const variant of variants) {
      let layer: HyperConnection;
      try {
        layer = createHyperConnection(variant, { n, dim, layerIndex: 0, dtype });
      } catch (err) {
        cells.push({ variant, n, params: null, ms: null, refused: err instanceof Error ? err.message : String(err) });
        onProgress(cells.length);
        continue;
      }
      const times: number[] = [];
      // one untimed warm-up; a slow cell (mHC-lite at n = 8 takes about a second) is timed once
      let spent = timeOnce(layer, x);
      while (times.length < reps && (times.length === 0 || spent < cellSeconds * 1000)) {
        times.push(timeOnce(layer, x));
        spent += times.at(-1)!;
      }
      cells.push({ variant, n, params: parameterCount(layer), ms: Math.min(...times) });
      onProgress(cells.length);
    }
  }
  return cells;
}
