/**
 * The report's figures, built from the experiments' results (file name → SVG document). Lines
 * are means over the seeds with a band from the lowest to the highest seed; interval charts show
 * every seed as a dot, the mean as a tick and the 95 % interval as a whisker.
 */
import type { Variant } from '@hyperconn/hc-layers';
import {
  depthRuns,
  estimate,
  finalLoss,
  identityArm,
  lateTrainLoss,
  runsOf,
  seriesOverSeeds,
  sinkhornRuns,
  trainedIdentity,
  trainedSigma2,
} from './analysis';
import type { DemoConfig } from './config';
import { costVariants, type CostCell } from './experiments/cost';
import { TARGET_MIX } from './experiments/mixing';
import type { Checkpoint, TrainingResult } from './experiments/training';
import { VARIANT_COLOR, VARIANT_LABEL } from './labels';
import { referenceVariants } from './plan';
import type { ExperimentResults } from './summary';
import { heatmapGrid, intervalChart, lineChart, type IntervalItem, type Reference, type Series } from '../charts';

export interface Figure {
  file: string;
  svg: string;
}

/** One line per variant, mean over seeds with a min–max band; the residual is dashed so it stays visible. */
function seedSeries(
  name: string,
  color: string,
  rows: readonly (readonly (readonly [number, number])[])[],
  dashed = false,
): Series {
  const { mean, band } = seriesOverSeeds(rows);
  return { name, color, points: mean, band: rows.length > 1 ? band : undefined, dashed };
}

const variantSeries = (variant: Variant, rows: readonly (readonly (readonly [number, number])[])[]): Series =>
  seedSeries(VARIANT_LABEL[variant], VARIANT_COLOR[variant], rows, variant === 'residual');

/** A slot of an interval chart: per-seed dots, mean and 95 % interval of the finite values. */
function item(name: string, color: string, values: readonly number[]): IntervalItem {
  const e = estimate(values);
  return { name, color, values: values.filter(Number.isFinite), mean: e.mean, lo: e.lo, hi: e.hi };
}

const variantItem = (variant: Variant, values: readonly number[]): IntervalItem =>
  item(VARIANT_LABEL[variant], VARIANT_COLOR[variant], values);

const checkpointRows = (runs: readonly TrainingResult[], pick: (c: Checkpoint) => number): [number, number][][] =>
  runs.map((r) => r.checkpoints.map((c) => [c.step, pick(c)]));

export function depthFigures(results: ExperimentResults, config: DemoConfig): Figure[] {
  const chart = (file: string, title: string, yLabel: string, scale: number, pick: 'forwardGain' | 'sigmaMax') => ({
    file,
    svg: lineChart({
      title,
      xLabel: 'depth d (number of layers in the product)',
      xInteger: true,
      yLabel,
      logY: true,
      series: config.variants.map((v) =>
        variantSeries(
          v,
          depthRuns(results.depth, v, scale).map((d) => d.composite.map((c) => [c.depth, c[pick]] as [number, number])),
        ),
      ),
      referenceY: [{ y: 1, label: pick === 'forwardGain' ? 'gain 1' : 'σ = 1' }],
    }),
  });
  const scales = config.depth.scales;
  return [
    ...scales.map((s) =>
      chart(
        `fig1-depth-gain-${s}.svg`,
        `Forward gain of ∏H_res, parameters = init + ${s}·N(0, 1)`,
        'max_i Σ_j |(∏H)_ij|  (log)',
        s,
        'forwardGain',
      ),
    ),
    chart(
      'fig1-depth-sigma-max.svg',
      `σ_max of ∏H_res, parameters = init + ${Math.max(...scales)}·N(0, 1)`,
      'σ_max(∏H)  (log)',
      Math.max(...scales),
      'sigmaMax',
    ),
  ];
}

export function trainingFigures(results: ExperimentResults, config: DemoConfig): Figure[] {
  const runs = (v: Variant) => runsOf(results.training, v);
  return [
    {
      file: 'fig2-validation-loss.svg',
      svg: lineChart({
        title: `Tiny transformer on Genesis: validation loss (${config.training.steps} steps, ${config.seeds} seeds)`,
        xLabel: 'step',
        yLabel: 'cross-entropy (nats per character)',
        series: config.variants.map((v) =>
          variantSeries(
            v,
            checkpointRows(runs(v), (c) => c.valLoss),
          ),
        ),
      }),
    },
    {
      file: 'fig2-final-loss.svg',
      svg: intervalChart({
        title: `Validation loss after ${config.training.steps} steps (dots: seeds; whiskers: 95 % interval)`,
        yLabel: 'cross-entropy (nats per character)',
        groups: [{ name: '', items: config.variants.map((v) => variantItem(v, runs(v).map(finalLoss))) }],
      }),
    },
    {
      file: 'fig2-gradient-norm.svg',
      svg: lineChart({
        title: 'Gradient norm per step before clipping (mean over seeds, band: min–max)',
        xLabel: 'step',
        yLabel: '‖∇‖₂ (log)',
        logY: true,
        series: config.variants.map((v) =>
          variantSeries(
            v,
            runs(v).map((r) => r.gradNorm.map((g, i) => [i + 1, g] as [number, number])),
          ),
        ),
        referenceY: [{ y: config.training.clipNorm, label: 'clip threshold' }],
      }),
    },
  ];
}

const ARMS = [
  { arm: 'default', name: "papers' init" },
  { arm: 'matched', name: 'matched init' },
  { arm: 'reference', name: 'reference init' },
] as const;

export function identityFigures(results: ExperimentResults, config: DemoConfig): Figure[] {
  const mapped = config.variants.filter((v) => v !== 'residual');
  const groups = (pick: (r: TrainingResult) => number) =>
    ARMS.map(({ arm, name }) => ({
      name,
      items: (arm === 'reference' ? referenceVariants(mapped) : mapped)
        .map((v) => ({ v, runs: runsOf(identityArm(results, arm), v) }))
        .filter(({ runs }) => runs.length > 0)
        .map(({ v, runs }) => variantItem(v, runs.map(pick))),
    })).filter((g) => g.items.length > 0);
  const matched = identityArm(results, 'matched');
  const first = results.training.filter((r) => r.spec.replicate === 0 && r.spec.variant !== 'residual');
  const layers = Math.max(0, ...first.map((t) => t.meanMaps.length));
  return [
    {
      file: 'fig3-identity-distance.svg',
      svg: intervalChart({
        title: '‖H_res − I‖_F after training, mean over the middle layers (dots: seeds)',
        yLabel: '‖H_res − I‖_F  (log)',
        logY: true,
        groups: groups(trainedIdentity),
        referenceY: [{ y: config.identity.matchedDistance, label: 'matched start' }],
      }),
    },
    {
      file: 'fig3-identity-over-training.svg',
      svg: lineChart({
        title: `‖H_res − I‖_F over training from the matched start ${config.identity.matchedDistance} (middle layers)`,
        xLabel: 'step',
        yLabel: '‖H_res − I‖_F',
        series: mapped.map((v) =>
          variantSeries(
            v,
            checkpointRows(runsOf(matched, v), (c) => c.identityDistance),
          ),
        ),
      }),
    },
    {
      file: 'fig3-product-sigma2.svg',
      svg: intervalChart({
        title: 'Stream diversity kept by the residual path: σ₂ of ∏H_res after training',
        yLabel: 'σ₂(∏H_res), mean over tokens',
        groups: groups(trainedSigma2),
      }),
    },
    {
      file: 'fig3-stream-cosine.svg',
      svg: intervalChart({
        title: 'Stream diversity of the hidden state: mean cosine similarity between streams',
        yLabel: 'cosine similarity (1 = identical streams)',
        groups: groups((r) => r.streamCosine),
      }),
    },
    {
      file: 'fig3-trained-maps.svg',
      svg: heatmapGrid({
        title: "Trained H_res minus I, papers' init, seed 0 (token average; rows: variants, columns: layers)",
        rowLabels: first.map((t) => VARIANT_LABEL[t.spec.variant]),
        columnLabels: Array.from({ length: layers }, (_, k) => `layer ${k + 1}`),
        cells: first.map((t) =>
          Array.from({ length: layers }, (_, k) =>
            t.meanMaps[k] === undefined ? null : minusIdentity(t.meanMaps[k]!),
          ),
        ),
      }),
    },
  ];
}

function minusIdentity(m: readonly (readonly number[])[]): number[][] {
  return m.map((row, i) => row.map((v, j) => (i === j ? v - 1 : v)));
}

/** Blue to orange over the t_max values, so the order reads at a glance. */
const ITERS_COLORS = ['#d55e00', '#e69f00', '#0072b2', '#009e73', '#cc79a7', '#56b4e9'];

export function sinkhornFigures(results: ExperimentResults, config: DemoConfig): Figure[] {
  if (!config.variants.includes('mhc')) return [];
  const arms = config.sinkhorn.iters.map((t, i) => ({
    t,
    color: ITERS_COLORS[i % ITERS_COLORS.length]!,
    runs: sinkhornRuns(results, t),
  }));
  const over = (file: string, title: string, yLabel: string, pick: (c: Checkpoint) => number) => ({
    file,
    svg: lineChart({
      title,
      xLabel: 'step',
      yLabel,
      logY: true,
      series: arms.map((a) => seedSeries(`t_max = ${a.t}`, a.color, checkpointRows(a.runs, pick))),
    }),
  });
  return [
    over(
      'fig4-sinkhorn-layer-columns.svg',
      "mHC: worst column-sum error of any layer's H_res over training",
      'max |Σ_i H_ij − 1|  (log)',
      (c) => c.layerColumnDeviation,
    ),
    over(
      'fig4-sinkhorn-product-sigma.svg',
      'mHC: σ_max(∏H_res) − 1, worst token, over training',
      'σ_max − 1  (log)',
      (c) => c.productSigmaMax - 1,
    ),
    {
      file: 'fig4-sinkhorn-loss.svg',
      svg: intervalChart({
        title: `mHC: validation loss after ${config.training.steps} steps by Sinkhorn iterations`,
        yLabel: 'cross-entropy (nats per character)',
        groups: [
          {
            name: '',
            items: arms.map((a) => item(`t_max = ${a.t}`, a.color, a.runs.map(finalLoss))),
          },
        ],
      }),
    },
  ];
}

export function stabilityFigures(results: ExperimentResults, config: DemoConfig): Figure[] {
  const { lrs, blocks } = config.stability;
  return blocks.map((b) => ({
    file: `fig5-stability-${b}-blocks.svg`,
    svg: lineChart({
      title: `Learning-rate sweep, ${b} blocks: training loss over the last tenth of the steps`,
      xLabel: 'peak learning rate (log)',
      logX: true,
      yLabel: 'cross-entropy (nats per character)',
      markers: true,
      series: config.variants.map((v) => {
        const runs = runsOf(results.stability, v).filter((r) => r.spec.blocks === b);
        // one "row" per seed: its loss at every learning rate
        const seeds = [...new Set(runs.map((r) => r.spec.replicate))];
        return variantSeries(
          v,
          seeds.map((s) =>
            lrs.map((lr) => {
              const run = runs.find((r) => r.spec.replicate === s && r.spec.lr === lr);
              return [lr, run === undefined ? Number.NaN : lateTrainLoss(run)] as [number, number];
            }),
          ),
        );
      }),
    }),
  }));
}

export function mixingFigures(results: ExperimentResults, config: DemoConfig): Figure[] {
  const { runs, reference } = results.mixing;
  const refs: Reference[] = [{ y: 1, label: 'identity' }];
  if (reference !== null) {
    refs.push({ y: reference.staticOptimum, label: 'best fixed doubly stochastic' });
    refs.push({ y: reference.perTokenOptimum, label: 'best per-token doubly stochastic' });
  }
  const of = (v: Variant) => runs.filter((m) => m.variant === v);
  const first = runs.filter((m) => m.replicate === 0);
  return [
    {
      file: 'fig6-mixing-loss.svg',
      svg: intervalChart({
        title: 'Subtractive mixing task: held-out loss relative to the identity map',
        yLabel: 'loss / loss of identity (log)',
        logY: true,
        groups: [
          {
            name: '',
            items: config.variants.map((v) =>
              variantItem(
                v,
                of(v).map((m) => m.relativeLoss),
              ),
            ),
          },
        ],
        referenceY: refs,
      }),
    },
    {
      file: 'fig6-mixing-curves.svg',
      svg: lineChart({
        title: 'Subtractive mixing task: training loss (mean over seeds, band: min–max)',
        xLabel: 'step',
        yLabel: 'loss / loss of identity (log)',
        logY: true,
        series: config.variants.map((v) =>
          variantSeries(
            v,
            of(v).map((m) => m.curve),
          ),
        ),
        referenceY: refs.slice(1),
      }),
    },
    {
      file: 'fig6-learned-mixes.svg',
      svg: heatmapGrid({
        title: 'Target stream mix T and the learned ∏H_res, seed 0 (token average; blue: negative)',
        rowLabels: [''],
        columnLabels: ['target T', ...first.map((m) => VARIANT_LABEL[m.variant])],
        cells: [[TARGET_MIX.map((r) => [...r]), ...first.map((m) => m.learnedMix)]],
        limit: 1,
        annotate: true,
      }),
    },
  ];
}

export function costFigures(cells: readonly CostCell[], config: DemoConfig): Figure[] {
  const { dim, tokens } = config.cost;
  const variants = costVariants(config.variants);
  const ok = (v: Variant) => cells.filter((c) => c.variant === v && c.refused === undefined);
  return [
    {
      file: 'fig7-parameters.svg',
      svg: lineChart({
        title: `Parameters per hyper-connection module (C = ${dim})`,
        xLabel: 'streams n',
        xInteger: true,
        yLabel: 'parameters (log)',
        logY: true,
        markers: true,
        series: variants.map((v) => ({
          name: VARIANT_LABEL[v],
          color: VARIANT_COLOR[v],
          points: ok(v).map((c) => [c.n, c.params!] as const),
        })),
      }),
    },
    {
      file: 'fig7-time.svg',
      svg: lineChart({
        title: `Forward + backward time of one module (${tokens} tokens, C = ${dim}; median, band: fastest–slowest)`,
        xLabel: 'streams n',
        xInteger: true,
        yLabel: 'milliseconds (log)',
        logY: true,
        markers: true,
        series: variants.map((v) => ({
          name: VARIANT_LABEL[v],
          color: VARIANT_COLOR[v],
          points: ok(v).map((c) => [c.n, c.ms!] as const),
          band: ok(v).map((c) => [c.n, Math.min(...c.times), Math.max(...c.times)] as const),
        })),
      }),
    },
  ];
}

/** Every figure of the report, by file name, in report order. */
export function allFigures(results: ExperimentResults, config: DemoConfig): Map<string, Figure> {
  const list = [
    ...depthFigures(results, config),
    ...trainingFigures(results, config),
    ...identityFigures(results, config),
    ...sinkhornFigures(results, config),
    ...stabilityFigures(results, config),
    ...mixingFigures(results, config),
    ...costFigures(results.cost, config),
  ];
  return new Map(list.map((f) => [f.file, f]));
}
