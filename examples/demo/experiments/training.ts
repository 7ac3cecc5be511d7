/**
 * Experiment 5 — training curves, and the trained model that experiment 2 inspects.
 * The tiny decoder-only transformer learns next-character prediction on the bundled Genesis
 * text with AdamW (warm-up + cosine, gradient clipping). Every variant sees the same branch
 * weights at initialisation (the hyper-connections' own init is deterministic) and the same
 * batches, so the curves differ only through the residual path.
 * Recorded: training loss and gradient norm (before clipping) every step, validation loss on a
 * fixed held-out batch every `evalEvery` steps, the loss spikes, and after training the per-layer
 * H_res diagnostics on the validation batch.
 */
import { readFileSync } from 'node:fs';
import { mean, Random } from '@hyperconn/tensor';
import { noGrad, optim } from '@hyperconn/autograd';
import {
  CharTokenizer,
  compositeDiagnostics,
  layerDiagnostics,
  sampleBatch,
  splitIds,
  TinyTransformer,
  type CompositeDiagnostics,
  type LayerDiagnostics,
  type ModelParameterCounts,
  type Variant,
} from '@hyperconn/hc-layers';
import { deriveSeed, type DemoConfig } from '../config';

export interface TrainingResult {
  variant: Variant;
  /** Steps at which the validation loss was measured (0 = before training). */
  evalSteps: number[];
  valLoss: number[];
  /** Per optimisation step. */
  trainLoss: number[];
  /** Global gradient 2-norm per step, before clipping. */
  gradNorm: number[];
  /** Steps whose training loss is a spike (see `findSpikes`). */
  spikes: number[];
  /** The step at which the loss or the gradient became non-finite, or null. */
  divergedAt: number | null;
  /** Per hyper-connection layer, depth order, on the validation batch after training. */
  layers: LayerDiagnostics[];
  /** Per layer, H_res averaged over the validation tokens. */
  meanMaps: number[][][];
  /** The composite ∏H_res over all layers after training (null if diverged). */
  composite: CompositeDiagnostics | null;
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

const toMatrix = (t: { toArray(): unknown }): number[][] => t.toArray() as number[][];

export function runTraining(
  variant: Variant,
  config: DemoConfig,
  onProgress: (done: number) => void = () => undefined,
): TrainingResult {
  const cfg = config.training;
  const { tokenizer, train, heldOut } = loadCorpus();
  const model = new TinyTransformer({
    variant,
    n: config.n,
    vocabSize: tokenizer.vocabSize,
    dim: cfg.dim,
    heads: cfg.heads,
    depth: cfg.blocks,
    seqLen: cfg.seqLen,
    // the same weights for every variant: no variant name in these seeds
    rng: new Random(deriveSeed(config.seed, 'training/init')),
    dtype: config.dtype,
  });
  const evalBatch = sampleBatch(heldOut, {
    batchSize: cfg.evalBatchSize,
    seqLen: cfg.seqLen,
    rng: new Random(deriveSeed(config.seed, 'training/eval')),
  });
  const data = new Random(deriveSeed(config.seed, 'training/batches'));
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
  const validate = (): number => noGrad(() => model.loss(evalBatch).item());

  const result: TrainingResult = {
    variant,
    evalSteps: [0],
    valLoss: [validate()],
    trainLoss: [],
    gradNorm: [],
    spikes: [],
    divergedAt: null,
    layers: [],
    meanMaps: [],
    composite: null,
    params: model.parameterCounts(),
    vocabSize: tokenizer.vocabSize,
  };
  for (let step = 1; step <= cfg.steps; step++) {
    const loss = model.loss(sampleBatch(train, { batchSize: cfg.batchSize, seqLen: cfg.seqLen, rng: data }));
    const value = loss.item();
    opt.zeroGrad();
    loss.backward();
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
      result.evalSteps.push(step);
      result.valLoss.push(validate());
    }
    onProgress(step);
  }
  result.spikes = findSpikes(result.trainLoss);
  if (result.divergedAt === null) {
    // the validation forward pass leaves every layer's maps of the validation tokens in lastMaps
    validate();
    const maps = model.hyperConnections.map((hc) => hc.lastMaps!);
    result.layers = maps.map(layerDiagnostics);
    result.meanMaps = maps.map((m) => toMatrix(mean(m.hRes.astype('float64'), [0, 1])));
    result.composite = compositeDiagnostics(maps.map((m) => m.hRes)).at(-1) ?? null;
  }
  onProgress(cfg.steps);
  return result;
}
