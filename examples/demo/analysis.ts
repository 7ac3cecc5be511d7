/**
 * The numbers the summary, the figures and the report all read, computed once from the raw
 * results: per-run quantities (final loss, trained identity distance, …) and their mean ± 95 %
 * interval over the replicates (seeds). A run that diverged has no final quantities: intervals
 * are over the runs that finished, and every table says how many diverged.
 */
import type { Variant } from '@hyperconn/hc-layers';
import type { DepthResult } from './experiments/depth';
import { middle, type TrainingResult } from './experiments/training';
import { meanInterval, welchTest, type Interval, type WelchResult } from './stats';
import type { ExperimentResults } from './summary';

/** mean ± interval of the finite values, and how many values were not finite (diverged runs). */
export interface Estimate extends Interval {
  dropped: number;
}

export function estimate(values: readonly number[]): Estimate {
  const finite = values.filter(Number.isFinite);
  const iv =
    finite.length === 0
      ? { mean: Number.NaN, lo: Number.NaN, hi: Number.NaN, halfWidth: Number.NaN, n: 0 }
      : meanInterval(finite);
  return { ...iv, dropped: values.length - finite.length };
}

/** Welch's test on the finite values of each sample, or null when either has fewer than two. */
export function compare(a: readonly number[], b: readonly number[]): WelchResult | null {
  const fa = a.filter(Number.isFinite);
  const fb = b.filter(Number.isFinite);
  return fa.length < 2 || fb.length < 2 ? null : welchTest(fa, fb);
}

const average = (xs: readonly number[]): number =>
  xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;

// --- per-run quantities (NaN when the run diverged) ---------------------------------------------

export const diverged = (r: TrainingResult): boolean => r.divergedAt !== null;
export const finalLoss = (r: TrainingResult): number => (diverged(r) ? Number.NaN : r.checkpoints.at(-1)!.valLoss);
/** Mean over the middle layers (see training.ts) of ‖H_res − I‖_F after training. */
export const trainedIdentity = (r: TrainingResult): number =>
  diverged(r) ? Number.NaN : average(middle(r.layers).map((l) => l.identityDistance));
/** The same at initialisation. */
export const initialIdentity = (r: TrainingResult): number =>
  average(middle(r.initialLayers).map((l) => l.identityDistance));
export const trainedOffDiagonal = (r: TrainingResult): number =>
  diverged(r) ? Number.NaN : average(middle(r.layers).map((l) => l.offDiagonalMass));
export const trainedSigma2 = (r: TrainingResult): number =>
  diverged(r) ? Number.NaN : r.checkpoints.at(-1)!.productSigma2;
export const maxGradNorm = (r: TrainingResult): number => Math.max(...r.gradNorm.filter(Number.isFinite));
/** The largest value of a checkpoint quantity over training (finite checkpoints only). */
export const worstOver = (r: TrainingResult, pick: (c: TrainingResult['checkpoints'][number]) => number): number =>
  Math.max(...r.checkpoints.map(pick).filter(Number.isFinite));
/** Mean training loss over the last tenth of the steps (NaN when diverged). */
export const lateTrainLoss = (r: TrainingResult): number =>
  diverged(r) ? Number.NaN : average(r.trainLoss.slice(-Math.max(1, Math.floor(r.trainLoss.length / 10))));

// --- selections ----------------------------------------------------------------------------------

export const runsOf = (runs: readonly TrainingResult[], variant: Variant): TrainingResult[] =>
  runs.filter((r) => r.spec.variant === variant);

/** The identity experiment's arms, each a list of runs: the default arm is the training experiment's. */
export function identityArm(results: ExperimentResults, arm: 'default' | 'matched' | 'reference'): TrainingResult[] {
  return arm === 'default' ? results.training : results.identity.filter((r) => r.spec.arm === arm);
}

/** mHC's runs at each Sinkhorn t_max (t = 20 from the training experiment). */
export function sinkhornRuns(results: ExperimentResults, iters: number): TrainingResult[] {
  const pool = [...results.training, ...results.sinkhorn];
  return pool.filter((r) => r.spec.variant === 'mhc' && r.spec.sinkhornIters === iters);
}

export const depthRuns = (depth: readonly DepthResult[], variant: Variant, scale: number): DepthResult[] =>
  depth.filter((d) => d.variant === variant && d.scale === scale);

/** A per-step series over replicates: mean and [min, max] band at each index (finite values only). */
export function seriesOverSeeds(rows: readonly (readonly (readonly [number, number])[])[]): {
  mean: [number, number][];
  band: [number, number, number][];
} {
  const mean: [number, number][] = [];
  const band: [number, number, number][] = [];
  const length = Math.max(0, ...rows.map((r) => r.length));
  for (let i = 0; i < length; i++) {
    const points = rows.map((r) => r[i]).filter((p): p is readonly [number, number] => p !== undefined);
    const ys = points.map((p) => p[1]).filter(Number.isFinite);
    // a step that some replicate never reached (it diverged) is drawn from the others
    if (ys.length === 0) continue;
    const x = points[0]![0];
    mean.push([x, average(ys)]);
    band.push([x, Math.min(...ys), Math.max(...ys)]);
  }
  return { mean, band };
}
