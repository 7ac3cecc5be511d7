/**
 * Which runs each experiment needs. Runs are shared where the design allows: the training
 * experiment's runs are the identity experiment's default arm and the Sinkhorn experiment's
 * t_max = 20 arm, so those two plan only their other arms.
 */
import type { Variant } from '@hyperconn/hc-layers';
import type { DemoConfig, ExperimentName } from './config';
import { runSpec } from './experiments/training';
import type { Job } from './jobs';

/** The variants with an H_res to start elsewhere (all but the residual). */
export const matchedVariants = (variants: readonly Variant[]): Variant[] => variants.filter((v) => v !== 'residual');

/** The arms of the identity experiment that start sHC from the reference script's init. */
export const referenceVariants = (variants: readonly Variant[]): Variant[] =>
  variants.filter((v) => v === 'shc' || v === 'shcPower');

/** The default t_max of mHC's Sinkhorn: its runs come from the training experiment. */
export const DEFAULT_SINKHORN_ITERS = 20;

const replicates = (count: number): number[] => Array.from({ length: count }, (_, r) => r);

export function plannedJobs(experiment: ExperimentName, config: DemoConfig): Job[] {
  const { variants } = config;
  const seeds = experiment === 'stability' ? config.stability.seeds : config.seeds;
  const each = <T>(items: readonly T[], job: (item: T, r: number) => Job): Job[] =>
    items.flatMap((item) => replicates(seeds).map((r) => job(item, r)));
  switch (experiment) {
    case 'depth':
      return variants.flatMap((variant) =>
        each(config.depth.scales, (scale, replicate) => ({ kind: 'depth', variant, scale, replicate })),
      );
    case 'training':
      return each(variants, (v, r) => ({ kind: 'training', spec: runSpec(config, 'training', v, r) }));
    case 'identity':
      return [
        ...each(matchedVariants(variants), (v, r) => ({
          kind: 'training' as const,
          spec: runSpec(config, 'identity', v, r, { arm: 'matched' }),
        })),
        ...each(referenceVariants(variants), (v, r) => ({
          kind: 'training' as const,
          spec: runSpec(config, 'identity', v, r, { arm: 'reference' }),
        })),
      ];
    case 'sinkhorn':
      if (!variants.includes('mhc')) return [];
      return each(
        config.sinkhorn.iters.filter((t) => t !== DEFAULT_SINKHORN_ITERS),
        (t, r) => ({ kind: 'training', spec: runSpec(config, 'sinkhorn', 'mhc', r, { sinkhornIters: t }) }),
      );
    case 'stability': {
      const { lrs, blocks } = config.stability;
      const cells = variants.flatMap((variant) => lrs.flatMap((lr) => blocks.map((b) => ({ variant, lr, b }))));
      return each(cells, (c, r) => ({
        kind: 'training',
        spec: runSpec(config, 'stability', c.variant, r, { lr: c.lr, blocks: c.b }),
      }));
    }
    case 'mixing':
      return each(variants, (variant, replicate) => ({ kind: 'mixing', variant, replicate }));
    case 'cost':
      return []; // timed alone, after the pool (see run.ts)
  }
}
