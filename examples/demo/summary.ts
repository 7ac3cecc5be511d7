/**
 * The summary table: one row per variant, one column per headline number of the five
 * experiments. Only deterministic quantities appear (no timings), so the same seed and config
 * give the same table bit for bit.
 */
import type { Variant } from '@hyperconn/hc-layers';
import type { DepthResult } from './experiments/depth';
import { meanOverLayers, type IdentityResult } from './experiments/identity';
import type { MixingResult } from './experiments/mixing';
import type { TrainingResult } from './experiments/training';
import { VARIANT_LABEL } from './labels';

export interface SummaryColumn {
  key: string;
  header: string;
  /** Which experiment the number comes from (1–5). */
  experiment: number;
  description: string;
}

export interface SummaryRow {
  variant: Variant;
  /** null: not available (e.g. a diverged run). */
  values: Record<string, number | null>;
}

export interface Summary {
  columns: SummaryColumn[];
  rows: SummaryRow[];
}

export interface ExperimentResults {
  depth: DepthResult[];
  training: TrainingResult[];
  identity: IdentityResult[];
  mixing: MixingResult[];
}

export function buildSummary(results: ExperimentResults, maxDepth: number): Summary {
  const columns: SummaryColumn[] = [
    {
      key: 'depthGain',
      header: `∏H fwd gain @${maxDepth}`,
      experiment: 1,
      description: `forward gain max_i Σ_j |(∏H)_ij| of the product of ${maxDepth} random layers`,
    },
    {
      key: 'depthSigma',
      header: `∏H σmax @${maxDepth}`,
      experiment: 1,
      description: `largest singular value of that product`,
    },
    {
      key: 'depthHomog',
      header: `‖∏H−J‖ @${maxDepth}`,
      experiment: 1,
      description: 'distance of that product from J = 11ᵀ/n (0: every stream replaced by the stream mean)',
    },
    {
      key: 'identity',
      header: '‖H−I‖F trained',
      experiment: 2,
      description: 'mean over the trained layers of ‖H_res − I‖_F',
    },
    {
      key: 'offDiagonal',
      header: 'off-diag trained',
      experiment: 2,
      description: 'mean over the trained layers of the off-diagonal mass (1/n)Σ_{i≠j}|H_ij|',
    },
    {
      key: 'mixLoss',
      header: 'mix loss (rel.)',
      experiment: 3,
      description: 'held-out loss on the subtractive mixing task, relative to leaving the streams unchanged',
    },
    {
      key: 'mixNegative',
      header: 'mix neg. frac.',
      experiment: 3,
      description: 'fraction of negative entries of the learned H_res (mean over layers)',
    },
    {
      key: 'params',
      header: 'params/HC module',
      experiment: 4,
      description: 'parameters per hyper-connection module in the trained transformer',
    },
    {
      key: 'valLoss',
      header: 'val loss',
      experiment: 5,
      description: 'validation loss (nats per character) after training',
    },
    { key: 'spikes', header: 'spikes', experiment: 5, description: 'training-loss spikes' },
    {
      key: 'maxGradNorm',
      header: 'max ‖grad‖',
      experiment: 5,
      description: 'largest gradient norm during training (before clipping)',
    },
  ];
  const variants = results.depth.map((d) => d.variant);
  const rows = variants.map((variant): SummaryRow => {
    const depth = results.depth.find((d) => d.variant === variant)!;
    const training = results.training.find((t) => t.variant === variant)!;
    const identity = results.identity.find((t) => t.variant === variant)!;
    const mixing = results.mixing.find((m) => m.variant === variant)!;
    const last = depth.composite.at(-1)!;
    const diverged = training.divergedAt !== null;
    const connections = training.params.hyperConnections;
    const layers = Math.max(1, identity.identityDistance.length);
    return {
      variant,
      values: {
        depthGain: last.forwardGain,
        depthSigma: last.sigmaMax,
        depthHomog: last.homogenisation,
        identity: diverged ? null : meanOverLayers(identity.identityDistance),
        offDiagonal: diverged ? null : meanOverLayers(identity.offDiagonalMass),
        mixLoss: mixing.relativeLoss,
        mixNegative: mixing.negativeFraction,
        params: connections / layers,
        valLoss: diverged ? null : training.valLoss.at(-1)!,
        spikes: training.spikes.length,
        maxGradNorm: Math.max(...training.gradNorm.filter(Number.isFinite)),
      },
    };
  });
  return { columns, rows };
}

/** Three significant digits; exponents outside [1e-3, 1e5); integers as integers. */
export function formatNumber(v: number | null): string {
  if (v === null) return 'n/a';
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** The summary as rows of strings (header first), for Markdown and the terminal. */
export function summaryCells(summary: Summary): string[][] {
  return [
    ['variant', ...summary.columns.map((c) => c.header)],
    ...summary.rows.map((r) => [
      VARIANT_LABEL[r.variant],
      ...summary.columns.map((c) => formatNumber(r.values[c.key] ?? null)),
    ]),
  ];
}

/** A fixed-width text table for the terminal. */
export function summaryText(summary: Summary): string {
  const cells = summaryCells(summary);
  const widths = cells[0]!.map((_, j) => Math.max(...cells.map((row) => [...row[j]!].length)));
  const line = (row: string[]): string =>
    row.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
