/**
 * The summary table: one row per variant, one column per headline number, each a mean ± 95 %
 * interval over the seeds where it comes from several runs. Only deterministic quantities appear
 * (no timings), so the same seed and config give the same table bit for bit.
 */
import type { Variant } from '@hyperconn/hc-layers';
import {
  depthRuns,
  diverged,
  estimate,
  finalLoss,
  identityArm,
  runsOf,
  trainedIdentity,
  type Estimate,
} from './analysis';
import type { DemoConfig } from './config';
import type { CostCell } from './experiments/cost';
import type { DepthResult } from './experiments/depth';
import type { MixingReference, MixingResult } from './experiments/mixing';
import type { TrainingResult } from './experiments/training';
import { VARIANT_LABEL } from './labels';
import { formatInterval } from './stats';

export interface ExperimentResults {
  depth: DepthResult[];
  /** The training experiment (and the identity experiment's default arm, and Sinkhorn's t_max = 20). */
  training: TrainingResult[];
  /** The identity experiment's other arms (matched and reference init). */
  identity: TrainingResult[];
  /** mHC at the other Sinkhorn t_max. */
  sinkhorn: TrainingResult[];
  stability: TrainingResult[];
  mixing: { runs: MixingResult[]; reference: MixingReference | null };
  cost: CostCell[];
}

export interface SummaryColumn {
  key: string;
  header: string;
  /** Which experiment (report section) the number comes from. */
  experiment: number;
  description: string;
}

/** A cell: an estimate over seeds, an exact number, a count "k/N", or null (not available). */
export type SummaryCell = Estimate | number | { count: number; of: number } | null;

export interface SummaryRow {
  variant: Variant;
  values: Record<string, SummaryCell>;
}

export interface Summary {
  columns: SummaryColumn[];
  rows: SummaryRow[];
}

export function buildSummary(results: ExperimentResults, config: DemoConfig): Summary {
  const D = config.depth.maxDepth;
  const scales = config.depth.scales;
  const [low, high] = [Math.min(...scales), Math.max(...scales)];
  const columns: SummaryColumn[] = [
    {
      key: 'gainLow',
      header: `∏H gain @${D}, σ=${low}`,
      experiment: 1,
      description: `forward gain max_i Σ_j |(∏H)_ij| of ${D} random layers, parameters perturbed by ${low}·N(0, 1)`,
    },
    {
      key: 'gainHigh',
      header: `∏H gain @${D}, σ=${high}`,
      experiment: 1,
      description: `the same with ${high}·N(0, 1)`,
    },
    {
      key: 'valLoss',
      header: 'val loss',
      experiment: 2,
      description: `validation loss (nats per character) after ${config.training.steps} steps`,
    },
    {
      key: 'identityDefault',
      header: '‖H−I‖ papers’ init',
      experiment: 3,
      description: "mean over the middle layers of the trained ‖H_res − I‖_F, from the papers' init",
    },
    {
      key: 'identityMatched',
      header: `‖H−I‖ from ${config.identity.matchedDistance}`,
      experiment: 3,
      description: `the same when every variant starts at ‖H_res − I‖_F = ${config.identity.matchedDistance}`,
    },
    {
      key: 'cosine',
      header: 'stream cos',
      experiment: 3,
      description: 'cosine similarity between the streams of the final hidden state (papers’ init; 1 = identical)',
    },
    {
      key: 'sweepDiverged',
      header: 'sweep diverged',
      experiment: 5,
      description: 'runs of the learning-rate × depth sweep that diverged (non-finite loss or gradient)',
    },
    {
      key: 'mixLoss',
      header: 'mix loss (rel.)',
      experiment: 6,
      description: 'held-out loss on the subtractive mixing task, relative to leaving the streams unchanged',
    },
    {
      key: 'params',
      header: 'params/module',
      experiment: 7,
      description: `parameters per hyper-connection module at n = ${config.n}, C = ${config.training.dim}`,
    },
  ];
  const rows = config.variants.map((variant): SummaryRow => {
    const gain = (scale: number): SummaryCell => {
      const runs = depthRuns(results.depth, variant, scale);
      return runs.length === 0 ? null : estimate(runs.map((d) => d.composite.at(-1)!.forwardGain));
    };
    const training = runsOf(results.training, variant);
    const matched = runsOf(identityArm(results, 'matched'), variant);
    const sweep = runsOf(results.stability, variant);
    const mixing = results.mixing.runs.filter((m) => m.variant === variant);
    const connections = training[0]?.params.hyperConnections;
    const layers = training[0] === undefined ? 0 : 2 * training[0].spec.blocks;
    const has = variant !== 'residual';
    return {
      variant,
      values: {
        gainLow: gain(low),
        gainHigh: gain(high),
        valLoss: training.length === 0 ? null : estimate(training.map(finalLoss)),
        identityDefault: has && training.length > 0 ? estimate(training.map(trainedIdentity)) : null,
        identityMatched: has && matched.length > 0 ? estimate(matched.map(trainedIdentity)) : null,
        cosine: has && training.length > 0 ? estimate(training.map((r) => r.streamCosine)) : null,
        sweepDiverged: sweep.length === 0 ? null : { count: sweep.filter(diverged).length, of: sweep.length },
        mixLoss: mixing.length === 0 ? null : estimate(mixing.map((m) => m.relativeLoss)),
        params: connections === undefined || layers === 0 ? null : connections / layers,
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

/** A summary cell as text: "1.23 ± 0.04" (with "(k diverged)" when runs dropped out), "3/12", a number or "–". */
export function formatCell(cell: SummaryCell): string {
  if (cell === null) return '–';
  if (typeof cell === 'number') return formatNumber(cell);
  if ('count' in cell) return `${cell.count}/${cell.of}`;
  // formatInterval's fixed notation does not suit HC's products in the billions or sHC's 1e-6 mixing losses
  const big = Math.abs(cell.mean) >= 1e5 || (cell.mean !== 0 && Math.abs(cell.mean) < 1e-3);
  const text =
    big && Number.isFinite(cell.halfWidth)
      ? `${formatNumber(cell.mean)} ± ${formatNumber(cell.halfWidth)}`
      : formatInterval(cell);
  return cell.dropped > 0 ? `${text} (${cell.dropped} diverged)` : text;
}

/** The summary as rows of strings (header first), for Markdown and the terminal. */
export function summaryCells(summary: Summary): string[][] {
  return [
    ['variant', ...summary.columns.map((c) => c.header)],
    ...summary.rows.map((r) => [
      VARIANT_LABEL[r.variant],
      ...summary.columns.map((c) => formatCell(r.values[c.key] ?? null)),
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
