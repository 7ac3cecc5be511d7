/**
 * The demo's configurations: the default (one to two minutes on a 2-core laptop),
 * `--full` (longer, larger: tens of minutes) and `tiny` (seconds; what the test runs). Every
 * size lives here so a reader sees at a glance what each experiment costs.
 */
import { VARIANTS, type Variant } from '@hyperconn/hc-layers';

export interface DepthConfig {
  /** Products of 1…maxDepth per-layer matrices. */
  maxDepth: number;
  /** Hidden size of the random layers (only their H_res is used). */
  dim: number;
  /** Tokens per layer: every quantity is averaged over them. */
  tokens: number;
  /** Every parameter is its initial value plus `scale`·N(0, 1). */
  scale: number;
}

export interface TrainingConfig {
  dim: number;
  /** Transformer blocks; each has two hyper-connections (attention and MLP). */
  blocks: number;
  heads: number;
  seqLen: number;
  batchSize: number;
  steps: number;
  /** Validation loss every this many steps (and at step 0 and the last step). */
  evalEvery: number;
  /** Held-out windows in the fixed validation batch. */
  evalBatchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  /** Gradient clipping threshold (the norm is recorded before clipping). */
  clipNorm: number;
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
  /** Timed repetitions per cell (after one warm-up), fewer when one takes longer than `cellSeconds`. */
  reps: number;
  cellSeconds: number;
}

export interface DemoConfig {
  name: 'default' | 'full' | 'tiny';
  seed: number;
  variants: readonly Variant[];
  dtype: 'float64' | 'float32';
  /** Streams for experiments 1, 2 and 5 (experiment 3's target mix fixes n = 4). */
  n: number;
  depth: DepthConfig;
  training: TrainingConfig;
  mixing: MixingConfig;
  cost: CostConfig;
}

/**
 * The five variants the papers compare (KromHC and `shcPower`, the project's extension, on request:
 * `--variants residual,hc,mhc,mhcLite,kromhc,shc`).
 */
export const DEFAULT_VARIANTS: readonly Variant[] = ['residual', 'hc', 'mhc', 'mhcLite', 'shc'];

const base = { seed: 0, variants: DEFAULT_VARIANTS, dtype: 'float64' as const, n: 4 };

export function defaultConfig(): DemoConfig {
  return {
    ...base,
    name: 'default',
    depth: { maxDepth: 64, dim: 8, tokens: 8, scale: 0.5 },
    training: {
      dim: 16,
      blocks: 3,
      heads: 2,
      seqLen: 32,
      batchSize: 8,
      steps: 120,
      evalEvery: 10,
      evalBatchSize: 16,
      lr: 1e-2,
      warmupSteps: 10,
      weightDecay: 0.01,
      clipNorm: 1,
    },
    mixing: { layers: 2, dim: 4, tokens: 64, steps: 150, lr: 0.05 },
    cost: { ns: [2, 3, 4, 6, 8], dim: 16, tokens: 16, reps: 9, cellSeconds: 1 },
  };
}

export function fullConfig(): DemoConfig {
  return {
    ...base,
    name: 'full',
    depth: { maxDepth: 64, dim: 16, tokens: 32, scale: 0.5 },
    training: {
      dim: 32,
      blocks: 4,
      heads: 4,
      seqLen: 64,
      batchSize: 16,
      steps: 400,
      evalEvery: 20,
      evalBatchSize: 32,
      lr: 1e-2,
      warmupSteps: 30,
      weightDecay: 0.01,
      clipNorm: 1,
    },
    mixing: { layers: 4, dim: 8, tokens: 256, steps: 400, lr: 0.05 },
    cost: { ns: [2, 3, 4, 6, 8], dim: 64, tokens: 64, reps: 15, cellSeconds: 3 },
  };
}

/** Seconds, not minutes: for the report generator's test. */
export function tinyConfig(): DemoConfig {
  return {
    ...base,
    name: 'tiny',
    depth: { maxDepth: 6, dim: 2, tokens: 2, scale: 0.5 },
    training: {
      dim: 8,
      blocks: 1,
      heads: 1,
      seqLen: 8,
      batchSize: 2,
      steps: 4,
      evalEvery: 2,
      evalBatchSize: 2,
      lr: 1e-2,
      warmupSteps: 1,
      weightDecay: 0.01,
      clipNorm: 1,
    },
    mixing: { layers: 2, dim: 2, tokens: 8, steps: 4, lr: 0.05 },
    cost: { ns: [2, 3], dim: 4, tokens: 2, reps: 1, cellSeconds: 0.2 },
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
