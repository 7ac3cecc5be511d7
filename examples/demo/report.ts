/**
 * The report: a small document model (headings, paragraphs, lists, tables, figures) rendered
 * twice — as Markdown that links the SVG files, and as one self-contained HTML page with the
 * SVGs inline. Per experiment the text says which claim it tests and how, then states what this
 * run found, from the numbers: every ± is a 95 % interval over the seeds, every "differs" a
 * Welch test, and every section ends with what it does not show.
 */
import type { Variant } from '@hyperconn/hc-layers';
import { escapeXml } from '../charts';
import {
  compare,
  depthRuns,
  diverged,
  estimate,
  finalLoss,
  identityArm,
  initialIdentity,
  maxGradNorm,
  runsOf,
  sinkhornRuns,
  trainedIdentity,
  trainedSigma2,
  trainedOffDiagonal,
  worstOver,
} from './analysis';
import { EXPERIMENTS, type DemoConfig, type ExperimentName } from './config';
import { costVariants, type CostCell } from './experiments/cost';
import { SPIKE_FACTOR, SPIKE_WINDOW, type TrainingResult } from './experiments/training';
import type { Figure } from './figures';
import { VARIANT_LABEL } from './labels';
import { DEFAULT_SINKHORN_ITERS, referenceVariants } from './plan';
import { formatP, type WelchResult } from './stats';
import { formatCell, formatNumber, summaryCells, type ExperimentResults, type Summary } from './summary';

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; rows: string[][] }
  | { kind: 'figure'; figure: Figure; caption: string };

export interface ReportInput {
  config: DemoConfig;
  results: ExperimentResults;
  summary: Summary;
  figures: Map<string, Figure>;
  /** Seconds each experiment took when it last ran. */
  seconds: Partial<Record<ExperimentName, number>>;
  workers: number;
  /** The experiment this invocation reran (the others come from results.json), or null. */
  only: ExperimentName | null;
}

const label = (v: Variant): string => VARIANT_LABEL[v];
const fmt = formatNumber;
const est = (values: readonly number[]): string => formatCell(estimate(values));
const BIRKHOFF: readonly Variant[] = ['mhc', 'mhcLite', 'kromhc'];
const SPHERE: readonly Variant[] = ['shc', 'shcPower'];

/** "difference −0.12 [−0.2, −0.04], p = 0.01", or a note when a test is impossible. */
function welchText(w: WelchResult | null): string {
  if (w === null) return 'no test (fewer than two finished runs on a side)';
  const ci = Number.isFinite(w.lo) ? ` [${fmt(w.lo)}, ${fmt(w.hi)}]` : '';
  return `difference ${fmt(w.difference)}${ci}, Welch ${formatP(w.p)}`;
}

/** "differs" or "does not differ detectably", from a Welch test at the 5 % level. */
const differs = (w: WelchResult | null): boolean => w !== null && w.p < 0.05;

export function buildReport(input: ReportInput): Block[] {
  const { config, results, summary, figures } = input;
  const blocks: Block[] = [];
  const fig = (file: string, caption: string): void => {
    const figure = figures.get(file);
    if (figure !== undefined) blocks.push({ kind: 'figure', figure, caption });
  };
  const p = (text: string): void => {
    blocks.push({ kind: 'paragraph', text });
  };
  const h = (level: 1 | 2 | 3, text: string): void => {
    blocks.push({ kind: 'heading', level, text });
  };
  const table = (rows: string[][]): void => {
    if (rows.length > 1) blocks.push({ kind: 'table', rows });
  };
  const list = (items: string[]): void => {
    if (items.length > 0) blocks.push({ kind: 'list', items });
  };
  const N = config.seeds;
  const total = Object.values(input.seconds).reduce((a, b) => a + (b ?? 0), 0);

  h(1, 'Hyper-connections on a laptop: seven experiments');
  p(
    `Configuration \`${config.name}\`, base seed ${config.seed}, ${N} seeds per random experiment, ` +
      `${config.dtype} throughout, n = ${config.n} streams, variants ${config.variants.map(label).join(', ')}. ` +
      `The runs took ${total.toFixed(0)} s of compute (${EXPERIMENTS.filter((e) => input.seconds[e] !== undefined)
        .map((e) => `${e} ${input.seconds[e]!.toFixed(0)} s`)
        .join(', ')}; summed over runs, spread over ${input.workers} worker thread${input.workers === 1 ? '' : 's'})` +
      (input.only === null ? '' : ` (this invocation reran \`${input.only}\` and merged it into the earlier results)`) +
      '. Rerunning with the same seed and configuration reproduces every number below except the timings ' +
      'of experiment 7.',
  );
  p(
    '**How to read the numbers.** Every "a ± b" is the mean over the seeds with its 95 % Student-t ' +
      `interval (mean ± t₀.₉₇₅,ₙ₋₁·sd/√n, n = ${N} seeds unless a table says fewer finished). Every ` +
      'comparison "A differs from B" quotes a two-sided Welch test; with so few seeds only large ' +
      'differences are detectable, "no detectable difference" is not evidence of equality, and the ' +
      'many comparisons are not corrected for multiplicity (at p < 0.05 about one in twenty true-null ' +
      'comparisons comes out "significant"). Within a seed, every variant starts from the same branch ' +
      'weights and sees the same batches. These are toy-scale runs (thousands of parameters, hundreds ' +
      "of steps), not the papers' billion-parameter models: they test mechanisms, not headline results.",
  );
  p(
    'Convention: `H_res` multiplies the n×C stream state from the left and its rows index output ' +
      "streams, so `X' = H_res·X + H_postᵀ·F(H_pre·X)` and the absolute row sums of `H_res` are its " +
      'forward gain. `J = 11ᵀ/n` is the stream-averaging matrix.',
  );

  h(2, 'Summary');
  table(summaryCells(summary));
  list(summary.columns.map((c) => `**${c.header}** (experiment ${c.experiment}): ${c.description}.`));

  // 1 -------------------------------------------------------------------------------------------
  const D = config.depth.maxDepth;
  const scales = config.depth.scales;
  h(2, '1. Depth products without training');
  p(
    '**Claim tested** (HC, mHC and sHC papers). Unconstrained hyper-connections (HC) let the product ' +
      'of residual matrices over depth grow without bound; constraining every `H_res` to the Birkhoff ' +
      "polytope (mHC, mHC-lite, KromHC) keeps the product's forward gain at 1, and to the spectral " +
      "sphere (sHC) keeps its σ_max at most 1. sHC's forward gain (absolute row sum) is not bounded by 1 " +
      `but by √n = ${fmt(Math.sqrt(config.n))} (docs/spec/hc-family.md, "Which gain is bounded"). ` +
      `**Setup.** Per variant, parameter scale σ ∈ {${scales.join(', ')}} and seed, ${D} layers whose ` +
      'parameters are their initial values plus σ·N(0, 1), each computing `H_res` on the same ' +
      `${config.depth.tokens} random tokens (C = ${config.depth.dim}); the product of the first d is ` +
      'averaged over the tokens. The scale matters: how fast HC grows is set by how far its parameters ' +
      'are from their identity init, which is arbitrary here.',
  );
  for (const s of scales)
    fig(
      `fig1-depth-gain-${s}.svg`,
      `Forward gain of the product of d random layers, σ = ${s} (band: min–max over seeds).`,
    );
  fig(
    'fig1-depth-sigma-max.svg',
    `Largest singular value of the product at σ = ${Math.max(...scales)}: the worst-case amplification of any ` +
      'stream state and, transposed, of gradients.',
  );
  const depthTable: string[][] = [['variant', 'σ', `fwd gain @${D}`, `σ_max @${D}`, `‖∏H − J‖_F @${D}`]];
  for (const v of config.variants)
    for (const s of scales) {
      const runs = depthRuns(results.depth, v, s);
      if (runs.length === 0) continue;
      const last = runs.map((d) => d.composite.at(-1)!);
      depthTable.push([
        label(v),
        String(s),
        est(last.map((c) => c.forwardGain)),
        est(last.map((c) => c.sigmaMax)),
        est(last.map((c) => c.homogenisation)),
      ]);
    }
  table(depthTable);
  const depthFindings: string[] = [];
  if (config.variants.includes('hc')) {
    const perLayer = scales.map((s) => {
      const gains = depthRuns(results.depth, 'hc', s).map((d) => d.composite.at(-1)!.forwardGain);
      return `×${Math.exp(estimate(gains.map(Math.log)).mean / D).toFixed(3)} at σ = ${s}`;
    });
    depthFindings.push(
      "HC's product grows geometrically, by a factor per layer (geometric mean over seeds) of " +
        `${perLayer.join(', ')}: ` +
        'the growth rate is a property of the parameter scale, not a constant of HC.',
    );
  }
  const worst = (variants: readonly Variant[], pick: 'forwardGain' | 'sigmaMax'): number =>
    Math.max(
      ...results.depth.filter((d) => variants.includes(d.variant)).flatMap((d) => d.composite.map((c) => c[pick])),
    );
  const birkhoff = BIRKHOFF.filter((v) => config.variants.includes(v));
  if (birkhoff.length > 0) {
    const g = worst(birkhoff, 'forwardGain');
    const exact = birkhoff.filter((v) => v !== 'mhc');
    depthFindings.push(
      `Over every depth, scale and seed the Birkhoff variants' forward gain never exceeds ${fmt(g)}` +
        (exact.length > 0 ? ` (${exact.map(label).join(' and ')} alone: ${fmt(worst(exact, 'forwardGain'))})` : '') +
        (config.variants.includes('mhc')
          ? `, and mHC's σ_max reaches 1 + ${fmt(worst(['mhc'], 'sigmaMax') - 1)}: its ${DEFAULT_SINKHORN_ITERS} ` +
            'Sinkhorn iterations leave the column sums slightly off (experiment 4 follows this through training)'
          : '') +
        '.',
    );
  }
  const sphere = SPHERE.filter((v) => config.variants.includes(v));
  if (sphere.length > 0) {
    depthFindings.push(
      `sHC's products keep σ_max ≤ ${fmt(worst(sphere, 'sigmaMax'))} while their forward gain reaches ` +
        `${fmt(worst(sphere, 'forwardGain'))}, inside the bound √n = ${fmt(Math.sqrt(config.n))} and above 1, as the ` +
        'spec says it may.',
    );
  }
  p(`**This run.** ${depthFindings.join(' ')}`);
  p(
    '**What this does not show.** Random parameters are not trained ones: a trained HC need not sit at ' +
      'any of these scales, so this bounds what the constraints guarantee, not what HC does in practice ' +
      '(experiment 5 looks for that in training). Averages over tokens can hide a worse single token.',
  );

  // 2 -------------------------------------------------------------------------------------------
  const t = config.training;
  h(2, '2. Training a tiny transformer');
  p(
    '**Claim tested** (mHC, mHC-lite, KromHC and sHC papers, at 0.1–27B parameters). The constrained ' +
      'variants train at least as well as HC and the plain residual. ' +
      `**Setup.** A decoder-only transformer (${t.blocks} blocks, C = ${t.dim}, ${t.heads} heads, ` +
      `context ${t.seqLen}, character vocabulary) on the bundled text of Genesis (last 10 % held out), ` +
      `AdamW (lr ${t.lr}, ${t.warmupSteps} warm-up steps then cosine decay, weight decay ${t.weightDecay} ` +
      `on weight matrices only, gradients clipped at norm ${t.clipNorm}), ${t.steps} steps of ` +
      `${t.batchSize} windows, ${N} seeds. Validation loss on a fixed held-out batch of ${t.evalBatchSize} windows. ` +
      `A spike is a step whose training loss exceeds ${SPIKE_FACTOR}× the median of the ${SPIKE_WINDOW} ` +
      'steps before it.',
  );
  fig('fig2-validation-loss.svg', 'Validation loss over training (mean over seeds, band: min–max).');
  fig('fig2-final-loss.svg', 'Final validation loss: every seed as a dot, the mean as a tick, the 95 % interval.');
  fig('fig2-gradient-norm.svg', 'Global gradient norm at every step, before clipping (log scale).');
  const trainingOf = (v: Variant) => runsOf(results.training, v);
  const baseline = config.variants.includes('residual') ? trainingOf('residual').map(finalLoss) : null;
  table([
    ['variant', 'val loss', ...(baseline === null ? [] : ['vs residual']), 'spikes', 'max ‖∇‖', 'diverged'],
    ...config.variants.map((v) => {
      const runs = trainingOf(v);
      return [
        label(v),
        est(runs.map(finalLoss)),
        ...(baseline === null ? [] : [v === 'residual' ? '–' : welchText(compare(runs.map(finalLoss), baseline))]),
        est(runs.map((r) => r.spikes.length)),
        est(runs.map(maxGradNorm)),
        `${runs.filter(diverged).length}/${runs.length}`,
      ];
    }),
  ]);
  const trainingFindings: string[] = [];
  if (baseline !== null) {
    const better = config.variants.filter(
      (v) => v !== 'residual' && differs(compare(trainingOf(v).map(finalLoss), baseline)),
    );
    const below = better.filter((v) => estimate(trainingOf(v).map(finalLoss)).mean < estimate(baseline).mean);
    const above = better.filter((v) => !below.includes(v));
    trainingFindings.push(
      (below.length > 0 ? `Lower validation loss than the residual (p < 0.05): ${below.map(label).join(', ')}. ` : '') +
        (above.length > 0 ? `Higher than the residual (p < 0.05): ${above.map(label).join(', ')}. ` : '') +
        (better.length === 0
          ? `No variant's final validation loss differs detectably from the residual's with ${N} seeds. `
          : `The others do not differ detectably from it with ${N} seeds. `),
    );
  }
  const ranked = config.variants
    .filter((v) => v !== 'residual' && trainingOf(v).length > 0)
    .map((v) => ({ v, loss: trainingOf(v).map(finalLoss) }));
  if (ranked.length >= 2) {
    const best = ranked.reduce((a, b) => (estimate(a.loss).mean <= estimate(b.loss).mean ? a : b));
    const worstRun = ranked.reduce((a, b) => (estimate(a.loss).mean >= estimate(b.loss).mean ? a : b));
    trainingFindings.push(
      `Among the hyper-connection variants the lowest mean is ${label(best.v)}'s and the highest ` +
        `${label(worstRun.v)}'s: ${welchText(compare(best.loss, worstRun.loss))}` +
        (differs(compare(best.loss, worstRun.loss)) ? '.' : ', so even these two are not told apart.'),
    );
  }
  const unstable = config.variants.filter((v) => trainingOf(v).some((r) => r.spikes.length > 0 || diverged(r)));
  // a spike at a step where the residual of the same seed spiked too comes from that seed's batch, not the variant
  const residualSpikes = new Set(
    trainingOf('residual').flatMap((r) => r.spikes.map((step) => `${r.spec.replicate}/${step}`)),
  );
  const spikeKeys = (v: Variant): string[] =>
    trainingOf(v).flatMap((r) => r.spikes.map((step) => `${r.spec.replicate}/${step}`));
  const keySets = config.variants.filter((v) => v !== 'residual').map((v) => new Set(spikeKeys(v)));
  const everywhere = (k: string): boolean => keySets.length > 1 && keySets.every((set) => set.has(k));
  const spikeText = (v: Variant): string => {
    const runs = trainingOf(v);
    const all = spikeKeys(v);
    const shared = v === 'residual' ? 0 : all.filter((k) => residualSpikes.has(k)).length;
    const common = all.filter(everywhere).length;
    const divergedRuns = runs.filter(diverged).length;
    return (
      `${label(v)} ${all.length}` +
      (shared > 0 ? ` (${shared} shared with the residual)` : '') +
      (common > 0 && v !== 'residual' && shared === 0
        ? ` (${common} at a step where every variant but the residual spiked)`
        : '') +
      (divergedRuns > 0 ? `, ${divergedRuns} diverged` : '')
    );
  };
  trainingFindings.push(
    unstable.length === 0
      ? 'No run spiked or diverged.'
      : `Spikes summed over the seeds: ${config.variants.map(spikeText).join(', ')}; a spike shared with the ` +
          "residual's run of the same seed, at the same step, comes from that seed's batch, not the residual path.",
  );
  p(`**This run.** ${trainingFindings.map((f) => f.trim()).join(' ')}`);
  p(
    "**What this does not show.** Whether the papers' gains at scale hold: this model is tiny, the " +
      'training short and the text one book; differences smaller than the intervals above cannot be seen ' +
      'with this many seeds. One learning rate is used for all variants (experiment 5 varies it).',
  );

  // 3 -------------------------------------------------------------------------------------------
  const d0 = config.identity.matchedDistance;
  const mapped: Variant[] = config.variants.filter((v) => v !== 'residual');
  const layersPerModel = 2 * t.blocks;
  h(2, '3. Identity degeneration, controlled for the initialisation');
  p(
    '**Claim tested** (sHC paper). Residual matrices learned on the Birkhoff polytope (mHC, mHC-lite, ' +
      'KromHC) stay collapsed around the identity, so cross-stream interaction fades and the n streams ' +
      "degenerate towards copies of one residual stream; sHC's do not. " +
      "**Why a control is needed.** The papers' inits start every `H_res` within about 2e-3 of I, but with " +
      'very different sensitivities: mHC sets its off-diagonal logits to −8, where the normalised entries ' +
      'barely respond (their derivative is of order e^−8), while sHC starts its singular values at ' +
      'tanh(4). The "‖∇‖ H_res params" column below measures this pull at the first step. A layer that stays at I ' +
      "from the papers' init may stay there because of the init, not the constraint. " +
      `**Setup.** The model and training of experiment 2, ${N} seeds, in up to three arms: the papers' ` +
      `init (experiment 2's runs); a matched init in which every variant's every \`H_res\` starts at ` +
      `‖H_res − I‖_F = ${d0} (HC, mHC, mHC-lite and sHC all at the same matrix (1 − λ)I + λJ; KromHC at ` +
      'the same distance, as its Kronecker structure allows; `experiments/init.ts`); and, for sHC, the ' +
      "reference pre-training script's init (its projections drawn from N(0, 2/(5C)) instead of 0). " +
      `Distances are averaged over the middle layers: of the model's ${layersPerModel} hyper-connections, ` +
      'the first reads n identical copies of the embedding and the last feeds a sum over streams, so for ' +
      'any variant with unit row and column sums their `H_res` gets no gradient. Besides the distance, ' +
      'two measures of stream diversity: σ₂ of the whole product ∏H_res (how much of anything but the ' +
      'stream mean the residual path carries through; 0 = everything averaged) and the mean cosine ' +
      'similarity between the streams of the final hidden state (1 = all streams equal).',
  );
  fig(
    'fig3-identity-distance.svg',
    '‖H_res − I‖_F after training per arm and variant (log scale; the dashed line is the matched start).',
  );
  fig(
    'fig3-identity-over-training.svg',
    `The matched arm over training: each variant's middle layers start at ${d0}; does the constraint pull them back?`,
  );
  fig('fig3-product-sigma2.svg', 'σ₂ of the product of all trained H_res (mean over validation tokens).');
  fig('fig3-stream-cosine.svg', 'Mean cosine similarity between the streams of the final hidden state.');
  fig(
    'fig3-trained-maps.svg',
    "H_res − I of every trained layer, papers' init, seed 0 (token average); blue below I, red above.",
  );
  const arms = [
    { arm: 'default' as const, name: "papers' init", variants: mapped },
    { arm: 'matched' as const, name: `matched (${d0})`, variants: mapped },
    { arm: 'reference' as const, name: 'reference init', variants: referenceVariants(mapped) },
  ];
  const identityRows: string[][] = [
    [
      'arm',
      'variant',
      '‖H−I‖ init',
      '‖H−I‖ trained',
      'off-diag. mass',
      'σ₂(∏H)',
      'stream cos',
      '‖∇‖ H_res params',
      'val loss',
    ],
  ];
  for (const a of arms)
    for (const v of a.variants) {
      const runs = runsOf(identityArm(results, a.arm), v);
      if (runs.length === 0) continue;
      identityRows.push([
        a.name,
        label(v),
        est(runs.map(initialIdentity)),
        est(runs.map(trainedIdentity)),
        est(runs.map(trainedOffDiagonal)),
        est(runs.map(trainedSigma2)),
        est(runs.map((r) => r.streamCosine)),
        est(runs.map((r) => r.initialResGradNorm)),
        est(runs.map(finalLoss)),
      ]);
    }
  table(identityRows);
  const identityFindings: string[] = [];
  const distances = (arm: 'default' | 'matched', v: Variant) =>
    runsOf(identityArm(results, arm), v).map(trainedIdentity);
  for (const arm of ['default', 'matched'] as const) {
    if (!mapped.includes('shc')) break;
    const shc = distances(arm, 'shc');
    if (shc.length === 0) continue;
    const against = BIRKHOFF.filter((v) => mapped.includes(v)).map((v) => {
      const w = compare(shc, distances(arm, v));
      const verdict = !differs(w) ? 'not detectably different' : w!.difference > 0 ? 'sHC farther' : 'sHC closer';
      return `${label(v)}: ${verdict} (${welchText(w)})`;
    });
    if (against.length === 0) continue;
    identityFindings.push(
      `${arm === 'default' ? "From the papers' init" : `From the matched start ${d0}`}, sHC's trained distance ` +
        `${est(shc)} against ${against.join('; ')}.`,
    );
  }
  const matchedMoves = mapped.map((v) => ({ v, e: estimate(distances('matched', v)) })).filter(({ e }) => e.n > 0);
  if (matchedMoves.length > 0) {
    const back = matchedMoves.filter(({ e }) => e.hi < d0).map(({ v }) => label(v));
    const away = matchedMoves.filter(({ e }) => e.lo > d0).map(({ v }) => label(v));
    identityFindings.push(
      `From the matched start, the 95 % interval of the trained distance lies below ${d0} (pulled towards I) for ` +
        `${back.length > 0 ? back.join(', ') : 'no variant'} and above it (moved away) for ` +
        `${away.length > 0 ? away.join(', ') : 'no variant'}; ` +
        'the others are not distinguishable from where they started.',
    );
  }
  const grad = (v: Variant) => estimate(runsOf(results.training, v).map((r) => r.initialResGradNorm)).mean;
  if (mapped.includes('shc') && mapped.includes('mhc')) {
    identityFindings.push(
      `At the first step the gradient reaching the parameters that set H_res has norm ${fmt(grad('shc'))} for sHC ` +
        `and ${fmt(grad('mhc'))} for mHC (papers' init, mean over seeds): the inits, not only the ` +
        'constraints, differ in how hard training can move H_res.',
    );
  }
  p(`**This run.** ${identityFindings.join(' ')}`);
  p(
    "**What this does not show.** Whether identity degeneration happens at the papers' scale and length " +
      `of training: these runs are ${t.steps} steps of a ${t.blocks}-block model, so a layer that moves ` +
      'slowly may simply not have had time. Distance from I is not usefulness: a layer far from I may mix ' +
      'streams in ways the loss does not reward (compare the validation losses). One matched distance ' +
      `(${d0}) is tried, not a range.`,
  );

  // 4 -------------------------------------------------------------------------------------------
  h(2, '4. Sinkhorn exactness through training');
  if (!config.variants.includes('mhc')) {
    p('Skipped: mHC is not among the variants of this run.');
  } else {
    p(
      "**Claim tested** (mHC paper). mHC's Sinkhorn normalisation with t_max iterations (20 in the paper) " +
        'makes `H_res` doubly stochastic, so products keep gain 1. It does so only approximately: ' +
        'the rows are exact after the last row normalisation, the columns are off by an error that shrinks ' +
        'with t_max and grows as training sharpens the logits, and a product of slightly inexact matrices ' +
        'can have σ_max above 1. ' +
        `**Setup.** mHC in experiment 2's model and training, t_max ∈ {${config.sinkhorn.iters.join(', ')}}, ` +
        `${N} seeds (t_max = ${DEFAULT_SINKHORN_ITERS} is experiment 2's run). At every checkpoint, on the ` +
        'validation tokens: the worst column-sum error of any layer and token, the same for the product ' +
        'of all layers, and the largest σ_max of the product over the tokens.',
    );
    fig('fig4-sinkhorn-layer-columns.svg', "Worst column-sum error of any layer's H_res over training (log).");
    fig('fig4-sinkhorn-product-sigma.svg', 'σ_max of the product minus 1, worst token, over training (log).');
    fig('fig4-sinkhorn-loss.svg', 'Final validation loss by t_max (dots: seeds).');
    const byIters = config.sinkhorn.iters.map((iters) => ({ iters, runs: sinkhornRuns(results, iters) }));
    const reference = byIters.find((b) => b.iters === DEFAULT_SINKHORN_ITERS)?.runs.map(finalLoss) ?? [];
    table([
      [
        't_max',
        'layer col. error, end',
        'layer col. error, worst',
        'product col. error, worst',
        'σ_max(∏H) − 1, worst',
        'val loss',
        `vs t_max = ${DEFAULT_SINKHORN_ITERS}`,
      ],
      ...byIters
        .filter((b) => b.runs.length > 0)
        .map((b) => [
          String(b.iters),
          est(b.runs.map((r) => (diverged(r) ? Number.NaN : r.checkpoints.at(-1)!.layerColumnDeviation))),
          fmt(Math.max(...b.runs.map((r) => worstOver(r, (c) => c.layerColumnDeviation)))),
          fmt(Math.max(...b.runs.map((r) => worstOver(r, (c) => c.productColumnDeviation)))),
          fmt(Math.max(...b.runs.map((r) => worstOver(r, (c) => c.productSigmaMax))) - 1),
          est(b.runs.map(finalLoss)),
          b.iters === DEFAULT_SINKHORN_ITERS ? '–' : welchText(compare(b.runs.map(finalLoss), reference)),
        ]),
    ]);
    const at20 = byIters.find((b) => b.iters === DEFAULT_SINKHORN_ITERS)?.runs ?? [];
    const lossEffect = byIters
      .filter((b) => b.iters !== DEFAULT_SINKHORN_ITERS && b.runs.length > 0)
      .filter((b) => differs(compare(b.runs.map(finalLoss), reference)))
      .map((b) => `t_max = ${b.iters}`);
    p(
      '**This run.** ' +
        (at20.length > 0
          ? `At the default t_max = ${DEFAULT_SINKHORN_ITERS}, a layer's columns were off by up to ` +
            `${fmt(Math.max(...at20.map((r) => worstOver(r, (c) => c.layerColumnDeviation))))} during training, the ` +
            `product's by up to ${fmt(Math.max(...at20.map((r) => worstOver(r, (c) => c.productColumnDeviation))))}, ` +
            `and the product's σ_max reached 1 + ` +
            `${fmt(Math.max(...at20.map((r) => worstOver(r, (c) => c.productSigmaMax))) - 1)}. `
          : '') +
        (lossEffect.length > 0
          ? `The final validation loss differs detectably from t_max = ${DEFAULT_SINKHORN_ITERS}'s at ` +
            `${lossEffect.join(', ')}.`
          : `No t_max changes the final validation loss detectably with ${N} seeds.`),
    );
    p(
      '**What this does not show.** The error at a deeper or longer-trained model, where the logits grow ' +
        'further; and whether the error matters at scale: here the product has only ' +
        `${layersPerModel} factors, and a gain error of this size compounds only over many more layers.`,
    );
  }

  // 5 -------------------------------------------------------------------------------------------
  const st = config.stability;
  h(2, '5. Stability: learning rate × depth');
  p(
    "**Claim tested** (mHC paper). HC's unconstrained products make training unstable (loss surges, " +
      'large gradients, composite gains in the thousands); the constraints prevent it. ' +
      `**Setup.** A smaller transformer (C = ${st.model.dim}, ${st.model.heads} head, context ${st.model.seqLen}, ` +
      `${st.model.batchSize} windows a step, ${st.model.steps} steps) for every variant at peak learning rates ` +
      `{${st.lrs.join(', ')}} × {${st.blocks.join(', ')}} blocks, ${st.seeds} seeds each; otherwise as experiment 2 ` +
      '(clipping included, as the papers train). Recorded: divergence (a non-finite loss or gradient), spikes, ' +
      'the largest gradient norm, and over the checkpoints the largest σ_max and forward (Amax) gain of ' +
      'the product ∏H_res on the validation tokens.',
  );
  for (const b of st.blocks)
    fig(`fig5-stability-${b}-blocks.svg`, `Late training loss against learning rate, ${b} blocks (band: min–max).`);
  const stabilityRows: string[][] = [
    ['variant', 'lr', 'blocks', 'diverged', 'spikes', 'max ‖∇‖', 'max σ_max(∏H)', 'max Amax(∏H)'],
  ];
  for (const v of config.variants)
    for (const b of st.blocks)
      for (const lr of st.lrs) {
        const runs = runsOf(results.stability, v).filter((r) => r.spec.blocks === b && r.spec.lr === lr);
        if (runs.length === 0) continue;
        stabilityRows.push([
          label(v),
          String(lr),
          String(b),
          `${runs.filter(diverged).length}/${runs.length}`,
          est(runs.map((r) => r.spikes.length)),
          fmt(Math.max(...runs.map(maxGradNorm))),
          fmt(Math.max(...runs.map((r) => worstOver(r, (c) => c.productSigmaMax)))),
          fmt(Math.max(...runs.map((r) => worstOver(r, (c) => c.productForwardGain)))),
        ]);
      }
  table(stabilityRows);
  const divergedBy = config.variants
    .map((v) => ({ v, runs: runsOf(results.stability, v) }))
    .filter(({ runs }) => runs.length > 0);
  const anyDiverged = divergedBy.filter(({ runs }) => runs.some(diverged));
  const worstCell = (v: Variant, pick: (r: TrainingResult) => number) => {
    const runs = runsOf(results.stability, v);
    const top = runs.reduce((a, b) => (pick(a) >= pick(b) ? a : b));
    return `${fmt(pick(top))} (lr ${top.spec.lr}, ${top.spec.blocks} blocks)`;
  };
  const count = (runs: readonly TrainingResult[]): string => `${runs.filter(diverged).length}/${runs.length}`;
  const stabilityFindings: string[] = [
    anyDiverged.length === 0
      ? 'No run diverged in the sweep.'
      : `Diverged runs: ${anyDiverged.map(({ v, runs }) => `${label(v)} ${count(runs)}`).join(', ')}.`,
    'Largest gradient norm before clipping, per variant: ' +
      `${divergedBy.map(({ v }) => `${label(v)} ${worstCell(v, maxGradNorm)}`).join(', ')}.`,
    'Total spikes over the sweep: ' +
      `${divergedBy.map(({ v, runs }) => `${label(v)} ${runs.reduce((a, r) => a + r.spikes.length, 0)}`).join(', ')}.`,
  ];
  if (divergedBy.some(({ v }) => v === 'hc')) {
    const gain = Math.max(...runsOf(results.stability, 'hc').map((r) => worstOver(r, (c) => c.productForwardGain)));
    const hcRuns = runsOf(results.stability, 'hc');
    stabilityFindings.push(
      "HC's product reached a forward (Amax) gain of " +
        `${worstCell('hc', (r) => worstOver(r, (c) => c.productForwardGain))} ` +
        `at worst, the growth the constraints exist to prevent; ` +
        (hcRuns.some(diverged) || gain < 10
          ? 'see the table for how its runs fared.'
          : 'yet none of its runs diverged: at this scale, with clipping, the growth of the product does not turn ' +
            'into the training instability the mHC paper reports, and this sweep cannot confirm that claim.'),
    );
  }
  p(`**This run.** ${stabilityFindings.join(' ')}`);
  p(
    '**What this does not show.** Instability that needs many more steps or a much larger model to build ' +
      'up (the mHC paper sees it thousands of steps into a 27B run); a divergence count out of ' +
      `${st.seeds} seeds per cell is a coarse estimate, and gradient clipping hides some of what would ` +
      'happen without it.',
  );

  // 6 -------------------------------------------------------------------------------------------
  const m = config.mixing;
  const mix = results.mixing;
  h(2, '6. Expressivity: a mix that needs subtraction');
  p(
    '**Claim tested** (sHC paper). Doubly stochastic matrices are non-negative, so mHC, mHC-lite and KromHC ' +
      "can only average streams; sHC's spectral-sphere matrices may have negative entries and can route " +
      'differences between streams. ' +
      `**Setup.** A stack of ${m.layers} hyper-connection layers whose branches output zero, so only ` +
      `\`∏H_res\` acts, is trained with Adam (lr ${m.lr}, ${m.steps} steps, ${m.tokens} fresh Gaussian tokens ` +
      `per step, C = ${m.dim}, ${N} seeds) to reproduce a fixed mix T in which every output stream carries ` +
      "the difference of two others, e.g. `x₀' = ½(x₁ − x₂) + ½(x₀ + x₃)`. T is orthogonal and preserves the " +
      'stream mean, so it lies on the sHC set (on its boundary: sHC reaches singular values of exactly 1 only ' +
      'as tanh(·) → 1) and is trivially within reach of HC. Loss = held-out mean squared error divided by ' +
      'that of leaving the streams unchanged (the residual, with one stream, scores 1). ' +
      '**Two floors for the doubly stochastic variants.** One fixed doubly stochastic matrix can do no ' +
      "better than 1/3 for isotropic inputs (P/3, P the pattern of T's positive entries). But mHC, mHC-lite " +
      'and KromHC compute a different matrix for every token, and the best per-token choice goes lower: ' +
      'both floors are computed exactly on the held-out tokens (a convex program per token over the ' +
      'permutation simplex, `birkhoff.ts`) and drawn as reference lines.',
  );
  fig('fig6-mixing-loss.svg', 'Held-out relative loss per variant (dots: seeds; log scale) with both floors.');
  fig('fig6-mixing-curves.svg', 'Training loss over the steps (mean over seeds, band: min–max).');
  fig(
    'fig6-learned-mixes.svg',
    "The target T and each variant's learned ∏H_res, seed 0 (token average). Blue cells are negative.",
  );
  const ref = mix.reference;
  const mixOf = (v: Variant) => mix.runs.filter((r) => r.variant === v);
  table([
    ['variant', 'relative loss', 'negative entries', 'negative mass'],
    ...config.variants.map((v) => [
      label(v),
      est(mixOf(v).map((r) => r.relativeLoss)),
      est(mixOf(v).map((r) => r.negativeFraction)),
      est(mixOf(v).map((r) => r.negativeMass)),
    ]),
  ]);
  const mixFindings: string[] = [];
  if (ref !== null) {
    mixFindings.push(
      `On these held-out tokens the best fixed doubly stochastic matrix scores ${fmt(ref.staticOptimum)} and the ` +
        `best per-token choice ${fmt(ref.perTokenOptimum)} (solver gap ≤ ${fmt(ref.gap)}).`,
    );
    if (config.variants.includes('kromhc'))
      mixFindings.push(
        `KromHC's maps are Kronecker products of 2×2 doubly stochastic factors, a subset of the polytope: its ` +
          `best fixed matrix scores ${fmt(ref.kroneckerStaticOptimum)} (grid search over the two factors), ` +
          'higher than the whole polytope allows, which is the price of its factorisation on this task ' +
          '(its per-token floor is not computed).',
      );
    const bk = BIRKHOFF.filter((v) => config.variants.includes(v));
    const under = bk.filter((v) => mixOf(v).some((r) => r.relativeLoss < ref.staticOptimum));
    if (bk.length > 0)
      mixFindings.push(
        under.length > 0
          ? `${under.map(label).join(', ')} went below the fixed-matrix floor in some seeds, which only a ` +
              'token-dependent map can do; none can go below the per-token floor.'
          : 'No doubly stochastic variant went below the fixed-matrix floor.',
      );
  }
  const bkPresent = BIRKHOFF.filter((v) => config.variants.includes(v) && mixOf(v).length > 0);
  if (config.variants.includes('shc') && bkPresent.length > 0) {
    const shc = mixOf('shc').map((r) => r.relativeLoss);
    const best = bkPresent.reduce((a, b) =>
      estimate(mixOf(a).map((r) => r.relativeLoss)).mean <= estimate(mixOf(b).map((r) => r.relativeLoss)).mean ? a : b,
    );
    const w = compare(
      shc,
      mixOf(best).map((r) => r.relativeLoss),
    );
    mixFindings.push(
      `sHC against the best doubly stochastic variant (${label(best)}): ${welchText(w)}` +
        (differs(w) && w!.difference < 0 ? ', sHC lower.' : differs(w) ? ', sHC higher.' : ', not told apart.'),
    );
  }
  p(`**This run.** ${mixFindings.join(' ')}`);
  p(
    '**What this does not show.** That negative mixing helps a real model: the task is built so that it ' +
      'must, and experiment 2 is where it would show up in a loss. The per-token floor assumes the map can ' +
      'be any function of the token; the real layers see the token only through a linear projection.',
  );

  // 7 -------------------------------------------------------------------------------------------
  const c = config.cost;
  h(2, '7. The cost of each parameterisation');
  p(
    "**Claim tested** (mHC-lite, KromHC and sHC papers). mHC-lite's exact Birkhoff–von Neumann " +
      'parameterisation needs one logit per permutation, n! of them, so its parameters and time grow ' +
      "factorially; KromHC's Kronecker factors need only the factorials of n's prime factors; mHC pays " +
      'for its Sinkhorn iterations; sHC needs (n−1)² logits and two (n−1)×(n−1) solves per token. ' +
      `**Setup.** One module per variant and n ∈ {${c.ns.join(', ')}}, C = ${c.dim}, ${c.tokens} tokens, ` +
      `a branch that outputs zero; ${c.warmup} untimed passes, then up to ${c.reps} timed forward + backward ` +
      'passes (at least 3): the median, with the fastest and slowest as its spread. Parameters are exact; ' +
      'timings depend on the machine and its load and are not reproducible.',
  );
  fig('fig7-parameters.svg', 'Parameters per module against n (log): an upward bend is factorial growth.');
  fig('fig7-time.svg', 'Median forward + backward time per module against n (log; band: fastest–slowest pass).');
  table(costTable(results.cost, c.ns));
  p(`**This run.** ${describeCost(results.cost, c.ns)}`);
  p(
    '**What this does not show.** Cost inside a whole model, where the branches dominate at these sizes ' +
      '(bench/hc-layers.ts measures layers against the plain residual), or on other hardware; and any ' +
      'ranking where the spreads overlap.',
  );

  // limitations ---------------------------------------------------------------------------------
  h(2, 'Limitations');
  list([
    `Scale: every model here has at most tens of thousands of parameters and trains for at most ${t.steps} ` +
      "steps; the papers' claims are about billions of parameters and tens of thousands of steps.",
    `Seeds: ${N} per cell. The intervals are wide, the tests weak, and the many comparisons uncorrected; ` +
      'a "no detectable difference" is a statement about this design, not about the variants.',
    "Initialisation: the papers' inits differ in how far from I they start and how hard the loss can move " +
      `them; experiment 3's matched arm removes the first difference at one distance (${d0}), not the second.`,
    'One dataset (a character model of one book), one optimiser, one architecture.',
    'Timings (experiment 7) are from one machine under whatever else it ran; only parameter counts are exact.',
  ]);
  return blocks;
}

function costTable(cells: readonly CostCell[], ns: readonly number[]): string[][] {
  const variants = costVariants([...new Set(cells.map((x) => x.variant))]);
  const cell = (v: Variant, n: number): CostCell | undefined => cells.find((x) => x.variant === v && x.n === n);
  const time = (x: CostCell): string =>
    `${fmt(Number(x.ms!.toPrecision(3)))} [${fmt(Number(Math.min(...x.times).toPrecision(3)))}–` +
    `${fmt(Number(Math.max(...x.times).toPrecision(3)))}]`;
  return [
    ['variant', ...ns.map((n) => `n=${n} params`), ...ns.map((n) => `n=${n} ms`)],
    ...variants.map((v) => [
      label(v),
      ...ns.map((n) => {
        const x = cell(v, n);
        return x === undefined ? '' : x.refused !== undefined ? 'refused' : fmt(x.params);
      }),
      ...ns.map((n) => {
        const x = cell(v, n);
        return x === undefined ? '' : x.refused !== undefined ? 'refused' : time(x);
      }),
    ]),
  ];
}

/** Ratios only where the spreads do not overlap: otherwise the order is not established. */
function describeCost(cells: readonly CostCell[], ns: readonly number[]): string {
  const nMax = Math.max(...ns);
  const at = (v: Variant, n: number): CostCell | undefined =>
    cells.find((x) => x.variant === v && x.n === n && x.refused === undefined);
  const parts: string[] = [];
  const compareTimes = (a: CostCell, b: CostCell, what: string): string => {
    const [aLo, aHi, bLo, bHi] = [
      Math.min(...a.times),
      Math.max(...a.times),
      Math.min(...b.times),
      Math.max(...b.times),
    ];
    const separate = aLo > bHi || bLo > aHi;
    return separate
      ? `${what}: ${fmt(a.ms!)} ms against ${fmt(b.ms!)} ms (×${fmt(a.ms! / b.ms!)}; the spreads do not overlap)`
      : `${what}: ${fmt(a.ms!)} ms against ${fmt(b.ms!)} ms, spreads overlapping, so no order is established`;
  };
  const lites = ns.filter((n) => at('mhcLite', n) !== undefined);
  const liteMax = lites.length === 0 ? undefined : Math.max(...lites);
  if (liteMax !== undefined && at('shc', liteMax) !== undefined) {
    const lite = at('mhcLite', liteMax)!;
    const shc = at('shc', liteMax)!;
    parts.push(
      `At n = ${liteMax}, mHC-lite has ${fmt(lite.params)} parameters per module against sHC's ${fmt(shc.params)}` +
        (at('kromhc', liteMax) !== undefined ? ` and KromHC's ${fmt(at('kromhc', liteMax)!.params)}` : '') +
        `. ${compareTimes(lite, shc, 'mHC-lite against sHC')}.`,
    );
  }
  for (const n of [Math.min(...ns), nMax]) {
    const mhc = at('mhc', n);
    const shc = at('shc', n);
    if (mhc !== undefined && shc !== undefined) parts.push(`${compareTimes(mhc, shc, `mHC against sHC at n = ${n}`)}.`);
  }
  const refused = cells.filter((x) => x.refused !== undefined);
  if (refused.length > 0)
    parts.push(
      `Refused (by design, factorial cost): ${refused.map((x) => `${label(x.variant)} at n = ${x.n}`).join(', ')}.`,
    );
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
// Rendering

const mdCell = (s: string): string => s.replace(/\|/g, '\\|');

/** Markdown with figures as image links to the SVG files beside the report. */
export function renderMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${b.text}`);
        break;
      case 'paragraph':
        out.push(b.text);
        break;
      case 'list':
        out.push(b.items.map((i) => `- ${i}`).join('\n'));
        break;
      case 'table': {
        const [head, ...rows] = b.rows;
        out.push(
          [
            `| ${head!.map(mdCell).join(' | ')} |`,
            `|${head!.map((_, j) => (j === 0 ? ' :-- ' : ' --: ')).join('|')}|`,
            ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
          ].join('\n'),
        );
        break;
      }
      case 'figure':
        out.push(`![${b.caption}](${b.figure.file})\n\n*${b.caption}*`);
        break;
    }
  }
  return `${out.join('\n\n')}\n`;
}

/** Inline `code` and **bold** in already-escaped HTML text. */
function inline(text: string): string {
  return escapeXml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

/** One HTML page with every SVG inline: it opens from anywhere, no other files needed. */
export function renderHtml(blocks: readonly Block[]): string {
  const title = blocks.find((b) => b.kind === 'heading')?.text ?? 'Report';
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        body.push(`<h${b.level}>${inline(b.text)}</h${b.level}>`);
        break;
      case 'paragraph':
        body.push(`<p>${inline(b.text)}</p>`);
        break;
      case 'list':
        body.push(`<ul>\n${b.items.map((i) => `<li>${inline(i)}</li>`).join('\n')}\n</ul>`);
        break;
      case 'table': {
        const [head, ...rows] = b.rows;
        body.push(
          `<table>\n<thead><tr>${head!.map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead>\n<tbody>\n` +
            `${rows.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('\n')}` +
            '\n</tbody>\n</table>',
        );
        break;
      }
      case 'figure':
        // the SVG documents carry no XML prolog, so they can be inlined as they are
        body.push(`<figure>\n${b.figure.svg.trim()}\n<figcaption>${inline(b.caption)}</figcaption>\n</figure>`);
        break;
    }
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>
body {
  font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  max-width: 1000px; margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #222;
}
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1.5em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #555; }
code { background: #f4f4f4; padding: 0 0.2em; }
</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}
