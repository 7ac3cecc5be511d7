/**
 * One training run of the tiny transformer, the unit of experiments 2–5. The model learns
 * next-character prediction on the bundled Genesis text with AdamW (warm-up + cosine, gradient
 * clipping). Within a replicate r every variant and arm sees the same branch weights at
 * initialisation and the same batches, so runs differ only through the residual path; replicates
 * differ in both (their seeds derive from the base seed and r).
 *
 * Recorded: training loss and gradient norm (before clipping) every step; at step 0, every
 * `evalEvery` steps and the last step a checkpoint with the validation loss and the maps'
 * diagnostics on a fixed held-out batch; after training, per-layer diagnostics, the stream
 * diversity of the final hidden state, and the loss spikes.
 */
import { readFileSync } from 'node:fs';
import * as T from '@hyperconn/tensor';
import { mean, Random, type Tensor } from '@hyperconn/tensor';
import { noGrad, optim } from '@hyperconn/autograd';
import {
  CharTokenizer,
  layerDiagnostics,
  sampleBatch,
  splitIds,
  TinyTransformer,
  type LayerDiagnostics,
  type ModelParameterCounts,
  type Variant,
} from '@hyperconn/hc-layers';
import { deriveSeed, type DemoConfig, type ModelConfig } from '../config';
import { startAtIdentityDistance } from './init';

/**
 * How the hyper-connections start: the papers' init; every H_res at the same distance from I
 * (`config.identity.matchedDistance`, see init.ts); or `init: 'reference'` (sHC's projections
 * drawn as the `6zHAOyi/s2HC` script leaves them).
 */
export type Arm = 'default' | 'matched' | 'reference';

export interface RunSpec {
  /** The experiment the run belongs to: 'stability' uses its own model, the others `config.training`. */
  experiment: 'training' | 'identity' | 'sinkhorn' | 'stability';
  variant: Variant;
  /** Replicate index 0…seeds−1: it picks the seeds of the weights and the batches. */
  replicate: number;
  arm: Arm;
  /** mHC's Sinkhorn iterations (ignored by the other variants). */
  sinkhornIters: number;
  lr: number;
  blocks: number;
}

/** The maps on the validation batch at one step. Layer quantities are per token, then reduced over tokens. */
export interface Checkpoint {
  step: number;
  valLoss: number;
  /** Mean over the middle layers (all but the first and last) of the token-mean ‖H_res − I‖_F. */
  identityDistance: number;
  /** Largest column-sum deviation max_j |(Hᵀ1)_j − 1| over every layer and token. */
  layerColumnDeviation: number;
  /** The same for the product ∏H_res over all layers. */
  productColumnDeviation: number;
  /** Largest σ_max(∏H_res) over the tokens. */
  productSigmaMax: number;
  /** Mean over the tokens of σ₂(∏H_res), the largest gain of the part orthogonal to the top direction. */
  productSigma2: number;
  /** Largest absolute row sum of ∏H_res over the tokens (the mHC paper's forward Amax gain). */
  productForwardGain: number;
  /** Largest absolute column sum (the backward Amax gain). */
  productBackwardGain: number;
}

export interface TrainingResult {
  spec: RunSpec;
  /** Per optimisation step. */
  trainLoss: number[];
  /** Global gradient 2-norm per step, before clipping. */
  gradNorm: number[];
  checkpoints: Checkpoint[];
  /** Steps whose training loss is a spike (see `findSpikes`). */
  spikes: number[];
  /** The step at which the loss or the gradient became non-finite, or null. */
  divergedAt: number | null;
  /** ‖∇‖ of the parameters that set H_res (named res…) at the first step: how hard the loss pulls on H_res. */
  initialResGradNorm: number;
  /** Per hyper-connection layer, depth order, on the validation batch: before and after training. */
  initialLayers: LayerDiagnostics[];
  layers: LayerDiagnostics[];
  /** Per layer, H_res after training averaged over the validation tokens. */
  meanMaps: number[][][];
  /**
   * Mean over tokens and stream pairs of the cosine similarity between the streams of the final
   * hidden state (1: all streams carry the same vector). NaN for one stream.
   */
  streamCosine: number;
  params: ModelParameterCounts;
  /** Characters in the vocabulary (ln of it is the loss of a uniform guess). */
  vocabSize: number;
}

/** A spike: a training loss more than this factor above the median of the preceding window. */
export const SPIKE_FACTOR = 1.25;
export const SPIKE_WINDOW = 10;

/**
 * The steps t ≥ window whose loss exceeds SPIKE_FACTOR × the median of the `window` losses
 * before it. A relative threshold, so it means the same at loss 4 and at loss 2; 25 % is far
 * above the batch-to-batch noise of these runs (a few per cent).
 */
export function findSpikes(losses: readonly number[], window = SPIKE_WINDOW, factor = SPIKE_FACTOR): number[] {
  const out: number[] = [];
  for (let t = window; t < losses.length; t++) {
    const prev = losses.slice(t - window, t).sort((a, b) => a - b);
    const median = (prev[(window - 1) >> 1]! + prev[window >> 1]!) / 2;
    if (losses[t]! > factor * median) out.push(t);
  }
  return out;
}

let corpus: { tokenizer: CharTokenizer; train: number[]; heldOut: number[] } | null = null;

/** The bundled text, tokenised per character; the last 10 % is held out. */
export function loadCorpus(): { tokenizer: CharTokenizer; train: number[]; heldOut: number[] } {
  if (corpus === null) {
    const text = readFileSync(new URL('../../../data/genesis-kjv.txt', import.meta.url), 'utf8');
    const tokenizer = CharTokenizer.fromText(text);
    corpus = { tokenizer, ...splitIds(tokenizer.encode(text), 0.1) };
  }
  return corpus;
}

/** The model configuration of a run. */
export function runModel(spec: RunSpec, config: DemoConfig): ModelConfig {
  const model = spec.experiment === 'stability' ? config.stability.model : config.training;
  return { ...model, lr: spec.lr, blocks: spec.blocks };
}

/** A run of the training experiment's kind with the config's defaults, changed by `change`. */
export function runSpec(
  config: DemoConfig,
  experiment: RunSpec['experiment'],
  variant: Variant,
  replicate: number,
  change: Partial<RunSpec> = {},
): RunSpec {
  const model = experiment === 'stability' ? config.stability.model : config.training;
  return {
    experiment,
    variant,
    replicate,
    arm: 'default',
    sinkhornIters: 20,
    lr: model.lr,
    blocks: model.blocks,
    ...change,
  };
}

/** The layers whose H_res can move: all but the first and the last (see the report), or all of two or fewer. */
export const middle = <X>(layers: readonly X[]): readonly X[] => (layers.length > 2 ? layers.slice(1, -1) : layers);

const average = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const toMatrix = (t: Tensor): number[][] => t.toArray() as number[][];

const NAN_CHECKPOINT = {
  identityDistance: Number.NaN,
  layerColumnDeviation: Number.NaN,
  productColumnDeviation: Number.NaN,
  productSigmaMax: Number.NaN,
  productSigma2: Number.NaN,
  productForwardGain: Number.NaN,
  productBackwardGain: Number.NaN,
};

/** The mean over tokens of ‖H − I‖_F for H [..., n, n]. */
function identityDistance(h: Tensor): number {
  const n = h.shape.at(-1)!;
  return mean(T.sqrt(T.sum(T.square(T.sub(h, T.eye(n))), [-2, -1]))).item();
}

/** The checkpoint's map quantities from every layer's H_res [B, T, n, n] on the validation batch. */
function mapCheckpoint(hRes: readonly Tensor[]): Omit<Checkpoint, 'step' | 'valLoss'> {
  const h = hRes.map((m) => m.astype('float64'));
  // a run on its way to diverging: no SVD of non-finite maps, its checkpoint says NaN
  if (!h.every((m) => m.toTypedArray().every(Number.isFinite))) return NAN_CHECKPOINT;
  const columnDeviation = (m: Tensor): number => T.max(T.abs(T.sub(T.sum(m, -2), 1))).item();
  const product = h.slice(1).reduce((p, m) => T.matmul(m, p), h[0]!);
  const s = T.svd(product).s;
  const n = product.shape.at(-1)!;
  const magnitude = T.abs(product);
  return {
    identityDistance: average(middle(h).map(identityDistance)),
    layerColumnDeviation: Math.max(...h.map(columnDeviation)),
    productColumnDeviation: columnDeviation(product),
    productSigmaMax: T.max(s.slice(null, null, 0)).item(),
    productSigma2: n < 2 ? 0 : mean(s.slice(null, null, 1)).item(),
    productForwardGain: T.max(T.sum(magnitude, -1)).item(),
    productBackwardGain: T.max(T.sum(magnitude, -2)).item(),
  };
}

/** Mean over tokens of the mean pairwise cosine similarity of the n streams (NaN for n = 1). */
export function streamCosine(x: Tensor): number {
  const n = x.shape.at(-2)!;
  if (n < 2) return Number.NaN;
  const unit = T.div(x, T.sqrt(T.sum(T.square(x), -1, true)));
  const gram = T.matmul(unit, unit.transpose());
  // the diagonal is n ones: the rest is the n(n−1) pair terms
  return (mean(T.sum(gram, [-2, -1])).item() - n) / (n * (n - 1));
}

export function runTraining(
  spec: RunSpec,
  config: DemoConfig,
  onProgress: (done: number) => void = () => undefined,
): TrainingResult {
  const cfg = runModel(spec, config);
  const prefix = spec.experiment === 'stability' ? 'stability' : 'training';
  const r = spec.replicate;
  const { tokenizer, train, heldOut } = loadCorpus();
  const model = new TinyTransformer({
    variant: spec.variant,
    n: config.n,
    vocabSize: tokenizer.vocabSize,
    dim: cfg.dim,
    heads: cfg.heads,
    depth: cfg.blocks,
    seqLen: cfg.seqLen,
    // the same weights for every variant and arm of a replicate: no variant name in these seeds
    rng: new Random(deriveSeed(config.seed, `${prefix}/init/r${r}`)),
    dtype: config.dtype,
    sinkhornIters: spec.sinkhornIters,
    // the reference init draws sHC's projections from the same generator, between the blocks' weights
    ...(spec.arm === 'reference' ? { init: 'reference' as const } : {}),
  });
  if (spec.arm === 'matched') {
    for (const hc of model.hyperConnections) startAtIdentityDistance(hc, config.identity.matchedDistance);
  }
  const evalBatch = sampleBatch(heldOut, {
    batchSize: cfg.evalBatchSize,
    seqLen: cfg.seqLen,
    rng: new Random(deriveSeed(config.seed, `${prefix}/eval`)),
  });
  const data = new Random(deriveSeed(config.seed, `${prefix}/batches/r${r}`));
  const { decay, noDecay } = model.parameterGroups();
  const opt = new optim.AdamW(
    [
      { params: decay, weightDecay: cfg.weightDecay },
      { params: noDecay, weightDecay: 0 },
    ],
    { lr: cfg.lr },
  );
  const schedule = new optim.LRScheduler(opt, optim.warmupCosine(cfg.warmupSteps, cfg.steps, { minFactor: 0.1 }));
  const parameters = model.parameters();
  const resParameters = model.hyperConnections.flatMap((hc) =>
    hc.namedParameters().flatMap(([name, p]) => (name.startsWith('res') ? [p] : [])),
  );
  // the validation forward pass leaves every layer's maps of the validation tokens in lastMaps
  const validate = (): number => noGrad(() => model.loss(evalBatch).item());
  const maps = () => model.hyperConnections.map((hc) => hc.lastMaps!);
  const checkpoint = (step: number): Checkpoint => {
    const valLoss = validate();
    return { step, valLoss, ...mapCheckpoint(maps().map((m) => m.hRes)) };
  };

  const first = checkpoint(0);
  const result: TrainingResult = {
    spec,
    trainLoss: [],
    gradNorm: [],
    checkpoints: [first],
    spikes: [],
    divergedAt: null,
    initialResGradNorm: Number.NaN,
    initialLayers: maps().map(layerDiagnostics),
    layers: [],
    meanMaps: [],
    streamCosine: Number.NaN,
    params: model.parameterCounts(),
    vocabSize: tokenizer.vocabSize,
  };
  for (let step = 1; step <= cfg.steps; step++) {
    const loss = model.loss(sampleBatch(train, { batchSize: cfg.batchSize, seqLen: cfg.seqLen, rng: data }));
    const value = loss.item();
    opt.zeroGrad();
    loss.backward();
    if (step === 1) {
      const squares = resParameters.map((p) => (p.grad === null ? 0 : T.sum(T.square(p.grad.value)).item()));
      result.initialResGradNorm = Math.sqrt(squares.reduce((a, b) => a + b, 0));
    }
    let norm: number;
    try {
      norm = optim.clipGradNorm(parameters, cfg.clipNorm);
    } catch {
      norm = Number.NaN; // clipGradNorm refuses non-finite gradients: the run has diverged
    }
    result.trainLoss.push(value);
    result.gradNorm.push(norm);
    if (!Number.isFinite(value) || !Number.isFinite(norm)) {
      result.divergedAt = step;
      break;
    }
    opt.step();
    schedule.step();
    if (step % cfg.evalEvery === 0 || step === cfg.steps) {
      const c = checkpoint(step);
      result.checkpoints.push(c);
      if (!Number.isFinite(c.valLoss)) {
        result.divergedAt = step;
        break;
      }
    }
    onProgress(step);
  }
  result.spikes = findSpikes(result.trainLoss);
  if (result.divergedAt === null) {
    validate();
    result.layers = maps().map(layerDiagnostics);
    result.meanMaps = maps().map((m) => toMatrix(mean(m.hRes.astype('float64'), [0, 1])));
    result.streamCosine = noGrad(() => streamCosine(model.streams(evalBatch.slice(null, [0, -1])).value));
  }
  onProgress(cfg.steps);
  return result;
}
