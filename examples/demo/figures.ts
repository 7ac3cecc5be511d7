/** The report's figures, built from the experiments' results (file name → SVG document). */
import type { Variant } from '@hyperconn/hc-layers';
import type { DemoConfig } from './config';
import { costVariants, type CostCell } from './experiments/cost';
import type { DepthResult } from './experiments/depth';
import type { IdentityResult } from './experiments/identity';
import { BIRKHOFF_OPTIMUM, TARGET_MIX, type MixingResult } from './experiments/mixing';
import type { TrainingResult } from './experiments/training';
import { VARIANT_COLOR, VARIANT_LABEL } from './labels';
import { barChart, boxChart, heatmapGrid, lineChart, type Series } from '../charts';

export interface Figure {
  file: string;
  svg: string;
}

/** One line per variant; the plain residual, the baseline, is dashed so it stays visible under others. */
const series = (variant: Variant, points: (readonly [number, number])[]): Series => ({
  name: VARIANT_LABEL[variant],
  color: VARIANT_COLOR[variant],
  points,
  dashed: variant === 'residual',
});

export function depthFigures(depth: readonly DepthResult[]): Figure[] {
  const chart = (
    file: string,
    title: string,
    yLabel: string,
    pick: (c: DepthResult['composite'][number]) => number,
    reference: { y: number; label: string }[],
  ): Figure => ({
    file,
    svg: lineChart({
      title,
      xLabel: 'depth d (number of layers in the product)',
      xInteger: true,
      yLabel,
      logY: true,
      series: depth.map((d) =>
        series(
          d.variant,
          d.composite.map((c) => [c.depth, pick(c)] as const),
        ),
      ),
      referenceY: reference,
    }),
  });
  return [
    chart(
      'fig1-depth-forward-gain.svg',
      'Composite forward gain of ∏H_res (random parameters)',
      'max_i Σ_j |(∏H)_ij|  (log)',
      (c) => c.forwardGain,
      [{ y: 1, label: 'gain 1' }],
    ),
    chart(
      'fig1-depth-sigma-max.svg',
      'Composite σ_max of ∏H_res (random parameters)',
      'σ_max(∏H)  (log)',
      (c) => c.sigmaMax,
      [{ y: 1, label: 'σ = 1' }],
    ),
    chart(
      'fig1-depth-homogenisation.svg',
      'Distance of ∏H_res from J = 11ᵀ/n (random parameters)',
      '‖∏H − J‖_F  (log)',
      (c) => c.homogenisation,
      [],
    ),
  ];
}

export function identityFigures(identity: readonly IdentityResult[], training: readonly TrainingResult[]): Figure[] {
  const groups = (pick: (r: IdentityResult) => number[]): { name: string; color: string; values: number[] }[] =>
    identity.map((r) => ({ name: VARIANT_LABEL[r.variant], color: VARIANT_COLOR[r.variant], values: pick(r) }));
  const layers = Math.max(0, ...training.map((t) => t.meanMaps.length));
  return [
    {
      file: 'fig2-identity-distance.svg',
      svg: boxChart({
        title: 'Trained layers: ‖H_res − I‖_F (one dot per layer)',
        yLabel: '‖H_res − I‖_F  (log)',
        logY: true,
        groups: groups((r) => r.identityDistance),
      }),
    },
    {
      file: 'fig2-offdiagonal-mass.svg',
      svg: boxChart({
        title: 'Trained layers: off-diagonal mass (one dot per layer)',
        yLabel: '(1/n) Σ_{i≠j} |H_ij|  (log)',
        logY: true,
        groups: groups((r) => r.offDiagonalMass),
      }),
    },
    {
      file: 'fig2-trained-maps.svg',
      svg: heatmapGrid({
        title: 'Trained H_res minus I, averaged over validation tokens (rows: variants, columns: layers)',
        rowLabels: training.map((t) => VARIANT_LABEL[t.variant]),
        columnLabels: Array.from({ length: layers }, (_, k) => `layer ${k + 1}`),
        cells: training.map((t) =>
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

export function mixingFigures(mixing: readonly MixingResult[]): Figure[] {
  return [
    {
      file: 'fig3-mixing-loss.svg',
      svg: barChart({
        title: 'Subtractive mixing task: held-out loss relative to the identity map',
        yLabel: 'loss / loss of identity (log)',
        logY: true,
        bars: mixing.map((m) => ({
          name: VARIANT_LABEL[m.variant],
          color: VARIANT_COLOR[m.variant],
          value: m.relativeLoss,
        })),
        referenceY: [
          { y: 1, label: 'identity' },
          { y: BIRKHOFF_OPTIMUM, label: 'best doubly stochastic (1/3)' },
        ],
      }),
    },
    {
      file: 'fig3-mixing-curves.svg',
      svg: lineChart({
        title: 'Subtractive mixing task: training loss',
        xLabel: 'step',
        yLabel: 'loss / loss of identity (log)',
        logY: true,
        series: mixing.map((m) => series(m.variant, m.curve)),
        referenceY: [{ y: BIRKHOFF_OPTIMUM, label: 'best doubly stochastic (1/3)' }],
      }),
    },
    {
      file: 'fig3-learned-mixes.svg',
      svg: heatmapGrid({
        title: 'Target stream mix T and the learned ∏H_res (blue: negative entries)',
        rowLabels: [''],
        columnLabels: ['target T', ...mixing.map((m) => VARIANT_LABEL[m.variant])],
        cells: [[TARGET_MIX.map((r) => [...r]), ...mixing.map((m) => m.learnedMix)]],
        limit: 1,
        annotate: true,
      }),
    },
  ];
}

export function costFigures(
  cells: readonly CostCell[],
  variants: readonly Variant[],
  dim: number,
  tokens: number,
): Figure[] {
  const line = (pick: (c: CostCell) => number | null): Series[] =>
    costVariants(variants).map((v) =>
      series(
        v,
        cells.filter((c) => c.variant === v && pick(c) !== null).map((c) => [c.n, pick(c)!] as const),
      ),
    );
  return [
    {
      file: 'fig4-parameters.svg',
      svg: lineChart({
        title: `Parameters per hyper-connection module (C = ${dim})`,
        xLabel: 'streams n',
        xInteger: true,
        yLabel: 'parameters (log)',
        logY: true,
        markers: true,
        series: line((c) => c.params),
      }),
    },
    {
      file: 'fig4-time.svg',
      svg: lineChart({
        title: `Forward + backward time of one module (${tokens} tokens, C = ${dim})`,
        xLabel: 'streams n',
        xInteger: true,
        yLabel: 'milliseconds (log)',
        logY: true,
        markers: true,
        series: line((c) => c.ms),
      }),
    },
  ];
}

export function trainingFigures(training: readonly TrainingResult[], config: DemoConfig): Figure[] {
  return [
    {
      file: 'fig5-validation-loss.svg',
      svg: lineChart({
        title: `Tiny transformer on Genesis: validation loss (${config.training.steps} steps)`,
        xLabel: 'step',
        yLabel: 'cross-entropy (nats per character)',
        markers: training[0] !== undefined && training[0].evalSteps.length <= 25,
        series: training.map((t) =>
          series(
            t.variant,
            t.evalSteps.map((s, i) => [s, t.valLoss[i]!] as const),
          ),
        ),
      }),
    },
    {
      file: 'fig5-gradient-norm.svg',
      svg: lineChart({
        title: 'Gradient norm per step (before clipping)',
        xLabel: 'step',
        yLabel: '‖∇‖₂ (log)',
        logY: true,
        series: training.map((t) =>
          series(
            t.variant,
            t.gradNorm.map((g, i) => [i + 1, g] as const),
          ),
        ),
        referenceY: [{ y: config.training.clipNorm, label: 'clip threshold' }],
      }),
    },
  ];
}
