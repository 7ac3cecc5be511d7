/**
 * The playground's training run, free of DOM and worker APIs (so Node can test it): a
 * DeepResidualMLP fitting a fixed random teacher, or a TinyTransformer on a Genesis excerpt,
 * with any hyper-connection variant, trained by AdamW one step at a time. Everything random
 * comes from the seed, and a step depends only on the steps before it: the same config gives
 * the same loss sequence however the steps are spread over time (pauses, snapshots).
 */
import { matmul, mean, Random, sin, type Tensor } from '@hyperconn/tensor';
import { nn, optim, type Variable } from '@hyperconn/autograd';
import {
  CharTokenizer,
  compositeDiagnostics,
  DeepResidualMLP,
  layerDiagnostics,
  sampleBatch,
  TinyTransformer,
  type HyperConnection,
  type Variant,
} from '@hyperconn/hc-layers';
import { CORPUS } from './corpus';

/** The variants the page offers (shcPower is sHC with another σ_max bound, not worth a button). */
export const PLAYGROUND_VARIANTS = [
  'residual',
  'hc',
  'mhc',
  'mhcLite',
  'kromhc',
  'shc',
] as const satisfies readonly Variant[];
export type PlaygroundVariant = (typeof PLAYGROUND_VARIANTS)[number];
export type Task = 'mlp' | 'transformer';

export interface RunConfig {
  task: Task;
  variant: PlaygroundVariant;
  /** Streams (ignored by 'residual', which has one). */
  n: number;
  /** Blocks; the transformer has two hyper-connections per block. */
  depth: number;
  lr: number;
  seed: number;
}

/** What the page draws after a step, from the maps of that step's forward pass. */
export interface Snapshot {
  step: number;
  /** Per hyper-connection layer, H_res averaged over the batch's tokens (n×n, rows = output streams). */
  hRes: number[][][];
  /** Per layer, ‖H_res − I‖_F averaged over tokens. */
  identityDistance: number[];
  /** Per depth d, the forward (∞-norm) and backward (1-norm) gain of H_d···H_1, averaged over tokens. */
  compositeForwardGain: number[];
  compositeBackwardGain: number[];
}

const MLP = { inputDim: 8, outputDim: 4, dim: 16, hidden: 32, batch: 32, teacherWidth: 16 };
const LM = { dim: 16, heads: 2, seqLen: 16, batch: 8 };

/** One model + data stream + optimiser. */
export class Trainer {
  readonly config: RunConfig;
  #steps = 0;
  readonly #connections: HyperConnection[];
  readonly #loss: () => Variable;
  readonly #opt: optim.AdamW;

  constructor(config: RunConfig) {
    this.config = config;
    const root = new Random(config.seed);
    // separate streams so the data never depends on how many draws the weights took
    const init = root.split();
    const data = root.split();
    const common = { variant: config.variant, n: config.n, depth: config.depth, dim: 0, rng: init };
    let model: DeepResidualMLP | TinyTransformer;
    if (config.task === 'mlp') {
      const teacher = root.split();
      const w1 = teacher.normal([MLP.inputDim, MLP.teacherWidth], { std: 1 / Math.sqrt(MLP.inputDim) });
      const w2 = teacher.normal([MLP.teacherWidth, MLP.outputDim], { std: 1 / Math.sqrt(MLP.teacherWidth) });
      const target = (x: Tensor): Tensor => matmul(sin(matmul(x, w1)), w2);
      const mlp = new DeepResidualMLP({
        ...common,
        dim: MLP.dim,
        hidden: MLP.hidden,
        inputDim: MLP.inputDim,
        outputDim: MLP.outputDim,
      });
      model = mlp;
      this.#loss = () => {
        const x = data.normal([MLP.batch, MLP.inputDim]);
        return nn.mse(mlp.forward(x), target(x));
      };
    } else {
      const tokenizer = CharTokenizer.fromText(CORPUS);
      const ids = tokenizer.encode(CORPUS);
      const lm = new TinyTransformer({
        ...common,
        dim: LM.dim,
        heads: LM.heads,
        seqLen: LM.seqLen,
        vocabSize: tokenizer.vocabSize,
      });
      model = lm;
      this.#loss = () => lm.loss(sampleBatch(ids, { batchSize: LM.batch, seqLen: LM.seqLen, rng: data }));
    }
    this.#connections = model.hyperConnections;
    const { decay, noDecay } = model.parameterGroups();
    this.#opt = new optim.AdamW([{ params: decay }, { params: noDecay, weightDecay: 0 }], { lr: config.lr });
  }

  /** The model's hyper-connection layers in depth order (their `lastMaps` are what `snapshot` reads). */
  get hyperConnections(): readonly HyperConnection[] {
    return this.#connections;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.#steps;
  }

  /** One AdamW step on a fresh batch; returns that batch's loss (before the update). */
  step(): number {
    this.#opt.zeroGrad();
    const loss = this.#loss();
    loss.backward();
    this.#opt.step();
    this.#steps++;
    return loss.item();
  }

  /** The diagnostics of the latest step's maps (read only: taking one never changes the run). */
  snapshot(): Snapshot {
    const maps = this.#connections.map((hc) => {
      if (hc.lastMaps === null) throw new Error('Trainer.snapshot: no step has run yet');
      return hc.lastMaps;
    });
    const composite = compositeDiagnostics(maps.map((m) => m.hRes));
    return {
      step: this.#steps,
      hRes: maps.map((m) => mean(m.hRes.astype('float64'), [0, 1]).toArray() as number[][]),
      identityDistance: maps.map((m) => layerDiagnostics(m).identityDistance),
      compositeForwardGain: composite.map((c) => c.forwardGain),
      compositeBackwardGain: composite.map((c) => c.backwardGain),
    };
  }
}
