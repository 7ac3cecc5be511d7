/**
 * The demo's configurations: the default (about five minutes on a 2-core laptop), `--full`
 * (longer, larger, more seeds: under an hour) and `tiny` (seconds; what the test runs). Every size
 * lives here so a reader sees at a glance what each experiment costs.
 */
import { VARIANTS, type Variant } from '@hyperconn/hc-layers';

/** The experiments, in report order; `--only <name>` reruns one and merges it into the report. */
export const EXPERIMENTS = ['depth', 'training', 'identity', 'sinkhorn', 'stability', 'mixing', 'cost'] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

export interface DepthConfig {
  /** Products of 1…maxDepth per-layer matrices. */
  maxDepth: number;
  /** Hidden size of the random layers (only their H_res is used). */
  dim: number;
  /** Tokens per layer: every quantity is averaged over them. */
  tokens: number;
  /** Every parameter is its initial value plus `scale`·N(0, 1): one product per scale and seed. */
  scales: readonly number[];
}

/** The transformer and its optimiser. */
export interface ModelConfig {
  dim: number;
  /** Transformer blocks; each has two hyper-connections (attention and MLP). */
  blocks: number;
  heads: number;
  seqLen: number;
  batchSize: number;
  steps: number;
  /** Validation loss and the map diagnostics every this many steps (and at step 0 and the last step). */
  evalEvery: number;
  /** Held-out windows in the fixed validation batch. */
  evalBatchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  /** Gradient clipping threshold (the norm is recorded before clipping). */
  clipNorm: number;
}

export interface IdentityConfig {
  /**
   * The matched arm starts every variant's H_res at this ‖H_res − I‖_F (the papers' inits start
   * between 1e-3 and 0, see the report).
   */
  matchedDistance: number;
}

export interface SinkhornConfig {
  /** mHC's Sinkhorn iterations t_max to compare (the training experiment's mHC runs use 20). */
  iters: readonly number[];
}

export interface StabilityConfig {
  /** The model of the sweep (its `lr` and `blocks` are replaced by each grid cell's). */
  model: ModelConfig;
  lrs: readonly number[];
  blocks: readonly number[];
  /** Seeds per cell (the sweep has many cells: 3 even with `--full`). */
  seeds: number;
}

export interface MixingConfig {
  /** Hyper-connection layers in the stack (their H_res compose). */
  layers: number;
  dim: number;
  /** Tokens per training batch (fresh random inputs every step). */
  tokens: number;
  steps: number;
  lr: number;
}

export interface CostConfig {
  /** Stream counts to measure. */
  ns: readonly number[];
  dim: number;
  tokens: number;
  /** Untimed passes before timing each cell. */
  warmup: number;
  /** Timed repetitions per cell, fewer when a cell has used up `cellSeconds`. */
  reps: number;
  cellSeconds: number;
}

export interface DemoConfig {
  name: 'default' | 'full' | 'tiny';
  /** The base seed; replicate r of every run derives its own seeds from it. */
  seed: number;
  /** Independent replicates (seeds) of every random experiment. */
  seeds: number;
  variants: readonly Variant[];
  dtype: 'float64' | 'float32';
  /** Streams (the mixing task's target fixes n = 4). */
  n: number;
  depth: DepthConfig;
  training: ModelConfig;
  identity: IdentityConfig;
  sinkhorn: SinkhornConfig;
  stability: StabilityConfig;
  mixing: MixingConfig;
  cost: CostConfig;
}

/** The papers' variants and KromHC (`shcPower`, the project's extension, on request with `--variants`). */
export const DEFAULT_VARIANTS: readonly Variant[] = ['residual', 'hc', 'mhc', 'mhcLite', 'kromhc', 'shc'];

const base = { seed: 0, variants: DEFAULT_VARIANTS, dtype: 'float64' as const, n: 4 };

const optimiser = { lr: 1e-2, weightDecay: 0.01, clipNorm: 1 };

export function defaultConfig(): DemoConfig {
  const training: ModelConfig = {
    ...optimiser,
    dim: 16,
    blocks: 2,
    heads: 2,
    seqLen: 16,
    batchSize: 4,
    steps: 300,
    evalEvery: 50,
    evalBatchSize: 24,
    warmupSteps: 20,
  };
  return {
    ...base,
    name: 'default',
    seeds: 3,
    depth: { maxDepth: 64, dim: 8, tokens: 8, scales: [0.02, 0.1, 0.5] },
    training,
    identity: { matchedDistance: 0.5 },
    sinkhorn: { iters: [1, 5, 20, 100] },
    stability: {
      model: { ...training, dim: 8, heads: 1, seqLen: 16, batchSize: 4, steps: 30, evalEvery: 15, warmupSteps: 3 },
      lrs: [3e-3, 3e-2, 3e-1],
      blocks: [2, 4],
      seeds: 3,
    },
    mixing: { layers: 2, dim: 4, tokens: 64, steps: 150, lr: 0.05 },
    cost: { ns: [2, 3, 4, 6, 8, 12, 16], dim: 16, tokens: 16, warmup: 2, reps: 7, cellSeconds: 0.5 },
  };
}

export function fullConfig(): DemoConfig {
  const training: ModelConfig = {
    ...optimiser,
    dim: 16,
    blocks: 3,
    heads: 2,
    seqLen: 16,
    batchSize: 4,
    steps: 1000,
    evalEvery: 100,
    evalBatchSize: 32,
    warmupSteps: 50,
  };
  return {
    ...base,
    name: 'full',
    seeds: 5,
    depth: { maxDepth: 64, dim: 16, tokens: 32, scales: [0.02, 0.1, 0.5] },
    training,
    identity: { matchedDistance: 0.5 },
    sinkhorn: { iters: [1, 5, 20, 100] },
    stability: {
      model: { ...training, dim: 8, heads: 1, seqLen: 16, batchSize: 4, steps: 80, evalEvery: 20, warmupSteps: 5 },
      lrs: [3e-3, 1e-2, 3e-2, 1e-1],
      blocks: [4, 8, 16],
      seeds: 3,
    },
    mixing: { layers: 4, dim: 8, tokens: 256, steps: 400, lr: 0.05 },
    cost: { ns: [2, 3, 4, 6, 8, 12, 16], dim: 64, tokens: 64, warmup: 3, reps: 15, cellSeconds: 2 },
  };
}

/** Seconds, not minutes: for the report generator's test. */
export function tinyConfig(): DemoConfig {
  const training: ModelConfig = {
    ...optimiser,
    dim: 8,
    blocks: 2,
    heads: 1,
    seqLen: 8,
    batchSize: 2,
    steps: 4,
    evalEvery: 2,
    evalBatchSize: 2,
    warmupSteps: 1,
  };
  return {
    ...base,
    name: 'tiny',
    seeds: 2,
    depth: { maxDepth: 6, dim: 2, tokens: 2, scales: [0.1, 0.5] },
    training,
    identity: { matchedDistance: 0.5 },
    sinkhorn: { iters: [1, 20] },
    stability: { model: { ...training, blocks: 1, steps: 3 }, lrs: [1e-2, 1], blocks: [1, 2], seeds: 2 },
    mixing: { layers: 2, dim: 2, tokens: 8, steps: 4, lr: 0.05 },
    cost: { ns: [2, 3], dim: 4, tokens: 2, warmup: 1, reps: 2, cellSeconds: 0.2 },
  };
}

/**
 * A seed for one named purpose, so a variant's numbers do not depend on which others run.
 * User seeds in [0, 2^20) give distinct streams.
 */
export function deriveSeed(seed: number, purpose: string): number {
  // FNV-1a over the purpose, mixed into the user's seed
  let h = 0x811c9dc5;
  for (let i = 0; i < purpose.length; i++) {
    h ^= purpose.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (Math.abs(Math.trunc(seed)) % 2 ** 20) * 2 ** 32 + h;
}

/** The variants in a comma-separated list, validated against the library's names. */
export function parseVariants(list: string): Variant[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((s) => !(VARIANTS as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new Error(`--variants: unknown ${unknown.join(', ')}; choose from ${VARIANTS.join(', ')}`);
  if (names.length === 0) throw new Error('--variants: the list is empty');
  return [...new Set(names)] as Variant[];
}

/** An experiment name, validated. */
export function parseExperiment(name: string): ExperimentName {
  if (!(EXPERIMENTS as readonly string[]).includes(name))
    throw new Error(`--only: unknown experiment ${name}; choose from ${EXPERIMENTS.join(', ')}`);
  return name as ExperimentName;
}
