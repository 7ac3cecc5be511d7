/**
 * Two small models whose residual path is any hyper-connection variant: a deep residual MLP
 * (for regression and depth studies) and a tiny decoder-only transformer (for character-level
 * language modelling). Both expand the input into n streams, run every branch through its own
 * hyper-connection, sum the streams and finish with RMSNorm and a linear head.
 */
import {
  dtypeOption,
  fmtShape,
  ShapeError,
  ValueError,
  type DType,
  type NestedArray,
  type Random,
  type Tensor,
} from '@hyperconn/tensor';
import { add, matmul, nn, noGrad, reshape, transpose, type Variable } from '@hyperconn/autograd';
import { parameterCount } from './diagnostics.js';
import { createHyperConnection } from './factory.js';
import type { HyperConnection, HyperConnectionOptions, Variant } from './hyper-connection.js';
import { StreamExpand, StreamReduce } from './streams.js';

/**
 * The hyper-connection options a model passes to every one of its layers (`eps` also sets the model's own RMSNorms).
 * `fracs` passes through; `inputViews` does not exist here (the models' branches take one input).
 */
export type ModelConnectionOptions = Omit<
  HyperConnectionOptions,
  'n' | 'dim' | 'layerIndex' | 'dtype' | 'residualTransform' | 'outDim' | 'layout' | 'inputViews'
>;

interface CommonModelOptions extends ModelConnectionOptions {
  variant: Variant;
  /** Streams. Default 4; the 'residual' variant always uses one stream. */
  n?: number;
  /** Hidden size C of the residual streams. */
  dim: number;
  /** Number of blocks. */
  depth: number;
  /**
   * Draws every weight; the hyper-connections' own initialisation is deterministic, except that
   * with `init: 'reference'` it also draws sHC's projections (between the weights of the blocks).
   */
  rng: Random;
  /** Default float64. */
  dtype?: DType;
  /** Learnable per-stream embeddings at the expansion (`StreamExpand`, init 0). Default false. */
  streamEmbedding?: boolean;
  /** Stream reduction before the final norm (`StreamReduce`): `'sum'` (default) or `'attentionPool'`. */
  streamReduce?: 'sum' | 'attentionPool';
}

/** The model's stream expansion and reduction modules (no parameters with the defaults). */
function streamModules(options: CommonModelOptions, n: number, dtype: DType): [StreamExpand, StreamReduce] {
  return [
    new StreamExpand({ n, dim: options.dim, streamEmbedding: options.streamEmbedding, dtype }),
    new StreamReduce({ n, dim: options.dim, mode: options.streamReduce, dtype }),
  ];
}

function checkPositive(op: string, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ValueError(`${op}: ${name} must be a positive integer, got ${value}`);
}

/** One stream for 'residual' (the plain pre-norm residual has nothing to mix), n otherwise. */
function streamCount(op: string, variant: Variant, n: number | undefined): number {
  const streams = variant === 'residual' ? 1 : (n ?? 4);
  checkPositive(op, 'n', streams);
  return streams;
}

/** The layer at `layerIndex`: every hyper-connection option passes through (the layers ignore the model's own). */
function connection(op: string, options: CommonModelOptions, n: number, layerIndex: number): HyperConnection {
  const views = (options as { inputViews?: unknown }).inputViews;
  if (views !== undefined && views !== 1) {
    throw new ValueError(
      `${op}: inputViews = ${String(views)} is not a model option ` +
        '(its attention and MLP branches take one input); build the layers with createHyperConnection',
    );
  }
  return createHyperConnection(options.variant, { ...options, n, layerIndex, dtype: options.dtype ?? 'float64' });
}

/** A branch with its own pre-norm: `layer(RMSNorm(x))`. */
export class PreNormBranch<L extends nn.Layer = nn.Layer> extends nn.Module implements nn.Layer {
  readonly norm: nn.RMSNorm;

  constructor(
    dim: number,
    readonly layer: L,
    options: { dtype?: DType; eps?: number } = {},
  ) {
    super();
    this.norm = new nn.RMSNorm(dim, options);
  }

  /** `layer.forward(RMSNorm(x))` for x `[..., dim]`. */
  forward(x: Variable | Tensor): Variable {
    return this.layer.forward(this.norm.forward(x));
  }
}

/** What every model reports about its size. */
export interface ModelParameterCounts {
  total: number;
  /** Parameters of the hyper-connection layers (0 for 'residual'). */
  hyperConnections: number;
  /** Everything else: embeddings, branches, norms, head. */
  rest: number;
}

function parameterCounts(model: nn.Module, connections: readonly HyperConnection[]): ModelParameterCounts {
  const total = parameterCount(model);
  const hyperConnections = connections.reduce((acc, hc) => acc + parameterCount(hc), 0);
  return { total, hyperConnections, rest: total - hyperConnections };
}

/** Parameters with and without weight decay, for optimiser parameter groups. */
export interface ParameterGroups {
  /** Weight matrices and embeddings, and the hyper-connections' projection weights. */
  decay: Variable[];
  /** Norm gains, biases, and the hyper-connections' static maps, biases and scales. */
  noDecay: Variable[];
}

function parameterGroups(model: nn.Module, connections: readonly HyperConnection[]): ParameterGroups {
  const decay: Variable[] = [];
  const noDecay: Variable[] = [];
  const owned = new Set<Variable>();
  for (const hc of connections) {
    const groups = hc.parameterGroups();
    decay.push(...groups.decay);
    noDecay.push(...groups.noDecay);
    for (const p of [...groups.decay, ...groups.noDecay]) owned.add(p);
  }
  for (const p of model.parameters()) if (!owned.has(p)) (p.ndim >= 2 ? decay : noDecay).push(p);
  return { decay, noDecay };
}

/**
 * Options of `DeepResidualMLP`: the shared model options (variant, n, dim, depth, rng, dtype and
 * the hyper-connection options) plus the sizes below, which must be positive integers (ValueError).
 */
export interface DeepResidualMLPOptions extends CommonModelOptions {
  /** Width of each branch's hidden layer. */
  hidden: number;
  inputDim: number;
  outputDim: number;
}

/** A block of the deep MLP: a pre-normed Linear-GELU-Linear branch and its hyper-connection. */
export class MLPBlock extends nn.Module {
  constructor(
    readonly branch: PreNormBranch<nn.MLP>,
    readonly connection: HyperConnection,
  ) {
    super();
  }
}

/**
 * input → Linear → expand to n streams → depth × hyper-connection around
 * [RMSNorm → Linear → GELU → Linear] → sum of streams → RMSNorm → Linear head.
 * `forward` takes `[batch, inputDim]` or `[batch, seq, inputDim]` and returns the same
 * leading shape with `outputDim` last.
 */
export class DeepResidualMLP extends nn.Module {
  readonly variant: Variant;
  readonly n: number;
  readonly input: nn.Linear;
  readonly blocks: MLPBlock[];
  readonly norm: nn.RMSNorm;
  readonly head: nn.Linear;
  /** repeat into n streams (plus embeddings with `streamEmbedding`). */
  readonly streamExpand: StreamExpand;
  /** Sum (or attention pool, `streamReduce`) of the streams. */
  readonly streamReduce: StreamReduce;

  constructor(options: DeepResidualMLPOptions) {
    super();
    const op = 'DeepResidualMLP';
    for (const key of ['dim', 'depth', 'hidden', 'inputDim', 'outputDim'] as const)
      checkPositive(op, key, options[key]);
    const { dim, rng } = options;
    const dtype = dtypeOption(op, options);
    this.variant = options.variant;
    this.n = streamCount(op, options.variant, options.n);
    this.input = new nn.Linear(options.inputDim, dim, rng, { dtype });
    this.blocks = Array.from(
      { length: options.depth },
      (_, k) =>
        new MLPBlock(
          new PreNormBranch(dim, new nn.MLP(dim, options.hidden, rng, { dtype }), { dtype, eps: options.eps }),
          connection(op, options, this.n, k),
        ),
    );
    this.norm = new nn.RMSNorm(dim, { dtype, eps: options.eps });
    this.head = new nn.Linear(dim, options.outputDim, rng, { dtype });
    [this.streamExpand, this.streamReduce] = streamModules(options, this.n, dtype);
  }

  /** The hyper-connection layers, first block first (their `lastMaps` feed the diagnostics). */
  get hyperConnections(): HyperConnection[] {
    return this.blocks.map((b) => b.connection);
  }

  /**
   * `[batch, inputDim]` → `[batch, outputDim]`, or `[batch, seq, inputDim]` → `[batch, seq, outputDim]`;
   * any other rank is a ShapeError.
   */
  forward(x: Variable | Tensor): Variable {
    if (x.shape.length !== 2 && x.shape.length !== 3) {
      throw new ShapeError(
        `DeepResidualMLP: input of shape ${fmtShape(x.shape)} must be [batch, ` +
          `${this.input.inFeatures}] or [batch, seq, ${this.input.inFeatures}]`,
      );
    }
    // hyper-connections work on [batch, seq, n, C]: a plain batch is a sequence of length 1
    const tokens = x.shape.length === 2 ? reshape(x, [x.shape[0]!, 1, x.shape[1]!]) : x;
    let h = this.streamExpand.forward(this.input.forward(tokens));
    for (const block of this.blocks) h = block.connection.forward(h, block.branch);
    const y = this.head.forward(this.norm.forward(this.streamReduce.forward(h)));
    return x.shape.length === 2 ? reshape(y, [x.shape[0]!, y.shape[2]!]) : y;
  }

  /** Parameter counts: the total (a tied parameter once), that of the hyper-connections, and the rest. */
  parameterCounts(): ModelParameterCounts {
    return parameterCounts(this, this.hyperConnections);
  }

  /** `{ decay, noDecay }`: pass as `[{ params: decay }, { params: noDecay, weightDecay: 0 }]` to AdamW. */
  parameterGroups(): ParameterGroups {
    return parameterGroups(this, this.hyperConnections);
  }
}

/**
 * Options of `TinyTransformer`: the shared model options plus the sizes below; every size must be a
 * positive integer (ValueError), and `dim` a multiple of `heads`.
 */
export interface TinyTransformerOptions extends CommonModelOptions {
  vocabSize: number;
  heads: number;
  /** Longest sequence (the number of learned positions). */
  seqLen: number;
  /** MLP hidden width. Default 4·dim. */
  hidden?: number;
  /** Logits from the token embedding's transpose instead of a separate head. Default false. */
  tiedHead?: boolean;
  /**
   * The `layerIndex` of each hyper-connection (it picks the stream H_pre reads at init,
   * `layerIndex mod n`). `'perBlock'` (default, as the reference model `6zHAOyi/s2HC` does): both
   * sublayers of block b get b. `'perSublayer'`: attention 2b, MLP 2b + 1.
   */
  layerIndex?: 'perBlock' | 'perSublayer';
}

/** Attention and MLP branches, each with its own pre-norm and its own hyper-connection. */
export class TransformerBlock extends nn.Module {
  constructor(
    readonly attn: PreNormBranch<nn.CausalSelfAttention>,
    readonly attnConnection: HyperConnection,
    readonly mlp: PreNormBranch<nn.MLP>,
    readonly mlpConnection: HyperConnection,
  ) {
    super();
  }

  /**
   * X' for X `[batch, seq, n, C]`: the attention branch through its hyper-connection, then the MLP
   * branch through its own.
   */
  forward(x: Variable): Variable {
    return this.mlpConnection.forward(this.attnConnection.forward(x, this.attn), this.mlp);
  }
}

/** Options of `TinyTransformer.generate`. */
export interface GenerateOptions {
  /** Softmax temperature; 0 picks the most likely token. Default 1. */
  temperature?: number;
}

/**
 * A decoder-only transformer: token + learned position embeddings → expand to n streams →
 * per block an attention branch and an MLP branch, each pre-normed and wrapped by its own
 * hyper-connection (layer index b for both by default, 2b and 2b + 1 with `layerIndex:
 * 'perSublayer'`) → sum of streams → RMSNorm → head.
 */
export class TinyTransformer extends nn.Module {
  readonly variant: Variant;
  readonly n: number;
  readonly seqLen: number;
  readonly vocabSize: number;
  readonly tokenEmbedding: nn.Embedding;
  readonly positionEmbedding: nn.Embedding;
  readonly blocks: TransformerBlock[];
  readonly norm: nn.RMSNorm;
  /** null when the head is tied to the token embedding. */
  readonly head: nn.Linear | null;
  /** repeat into n streams (plus embeddings with `streamEmbedding`). */
  readonly streamExpand: StreamExpand;
  /** Sum (or attention pool, `streamReduce`) of the streams. */
  readonly streamReduce: StreamReduce;

  constructor(options: TinyTransformerOptions) {
    super();
    const op = 'TinyTransformer';
    for (const key of ['vocabSize', 'dim', 'heads', 'depth', 'seqLen'] as const) checkPositive(op, key, options[key]);
    const { dim, rng } = options;
    const dtype = dtypeOption(op, options);
    const hidden = options.hidden ?? 4 * dim;
    checkPositive(op, 'hidden', hidden);
    const convention = options.layerIndex ?? 'perBlock';
    if (convention !== 'perBlock' && convention !== 'perSublayer') {
      throw new ValueError(
        `${op}: layerIndex must be 'perBlock' or 'perSublayer', got ` +
          `${typeof convention === 'string' ? `'${convention}'` : String(convention)}`,
      );
    }
    const [attnIndex, mlpIndex] =
      convention === 'perBlock'
        ? [(b: number) => b, (b: number) => b]
        : [(b: number) => 2 * b, (b: number) => 2 * b + 1];
    this.variant = options.variant;
    this.n = streamCount(op, options.variant, options.n);
    this.seqLen = options.seqLen;
    this.vocabSize = options.vocabSize;
    this.tokenEmbedding = new nn.Embedding(options.vocabSize, dim, rng, { dtype });
    this.positionEmbedding = new nn.Embedding(options.seqLen, dim, rng, { dtype });
    const norm = { dtype, eps: options.eps };
    this.blocks = Array.from(
      { length: options.depth },
      (_, b) =>
        new TransformerBlock(
          new PreNormBranch(dim, new nn.CausalSelfAttention(dim, options.heads, rng, { dtype }), norm),
          connection(op, options, this.n, attnIndex(b)),
          new PreNormBranch(dim, new nn.MLP(dim, hidden, rng, { dtype }), norm),
          connection(op, options, this.n, mlpIndex(b)),
        ),
    );
    this.norm = new nn.RMSNorm(dim, norm);
    this.head = options.tiedHead === true ? null : new nn.Linear(dim, options.vocabSize, rng, { dtype, bias: false });
    [this.streamExpand, this.streamReduce] = streamModules(options, this.n, dtype);
  }

  /** The hyper-connection layers in depth order: block 0 attention, block 0 MLP, block 1 attention, …. */
  get hyperConnections(): HyperConnection[] {
    return this.blocks.flatMap((b) => [b.attnConnection, b.mlpConnection]);
  }

  /** Integer token ids `[batch, T]` with T ≤ seqLen → logits `[batch, T, vocabSize]`. */
  forward(tokens: Tensor | NestedArray): Variable {
    const y = this.norm.forward(this.streamReduce.forward(this.streams(tokens)));
    return this.head === null ? matmul(y, transpose(this.tokenEmbedding.weight)) : this.head.forward(y);
  }

  /**
   * The residual streams after the last block, `[batch, T, n, dim]`, before they are reduced:
   * what `forward` reads out (for diagnostics such as how alike the streams are). Same checks.
   */
  streams(tokens: Tensor | NestedArray): Variable {
    const tok = this.tokenEmbedding.forward(tokens);
    if (tok.shape.length !== 3) {
      throw new ShapeError(
        `TinyTransformer: tokens must be [batch, seq], got shape ${fmtShape(tok.shape.slice(0, -1))}`,
      );
    }
    const seq = tok.shape[1]!;
    if (seq < 1 || seq > this.seqLen)
      throw new ShapeError(`TinyTransformer: sequence length ${seq} must lie in [1, ${this.seqLen}]`);
    const positions = this.positionEmbedding.forward(Array.from({ length: seq }, (_, t) => t));
    let h = this.streamExpand.forward(add(tok, positions));
    for (const block of this.blocks) h = block.forward(h);
    return h;
  }

  /**
   * Mean next-token cross-entropy of `tokens` `[batch, L]` (2 ≤ L ≤ seqLen + 1): the model reads
   * the first L − 1 columns and predicts columns 1..L−1.
   */
  loss(tokens: Tensor): Variable {
    if (tokens.shape.length !== 2 || tokens.shape[1]! < 2) {
      throw new ShapeError(
        `TinyTransformer.loss: tokens of shape ${fmtShape(tokens.shape)} must be [batch, L] with L ≥ 2`,
      );
    }
    const inputs = tokens.slice(null, [0, -1]);
    const targets = tokens.slice(null, [1, null]);
    return nn.crossEntropy(this.forward(inputs), targets);
  }

  /**
   * Extends `prompt` by `steps` sampled tokens (each from the last seqLen tokens of context)
   * and returns prompt + continuation. Temperature 0 is greedy; draws come from `rng` only.
   */
  generate(prompt: readonly number[], steps: number, rng: Random, options: GenerateOptions = {}): number[] {
    const temperature = options.temperature ?? 1;
    if (!(temperature >= 0) || !Number.isFinite(temperature))
      throw new ValueError(`TinyTransformer.generate: temperature must be finite and ≥ 0, got ${temperature}`);
    if (prompt.length === 0) throw new ValueError('TinyTransformer.generate: the prompt is empty');
    if (!Number.isSafeInteger(steps) || steps < 0)
      throw new ValueError(`TinyTransformer.generate: steps must be a non-negative integer, got ${steps}`);
    const out = [...prompt];
    noGrad(() => {
      for (let s = 0; s < steps; s++) {
        const logits = this.forward([out.slice(-this.seqLen)]).value;
        const last = logits.slice(0, -1).toTypedArray();
        out.push(temperature === 0 ? argmax(last) : sampleCategorical(softmaxAt(last, temperature), rng));
      }
    });
    return out;
  }

  /** Parameter counts: the total (a tied parameter once), that of the hyper-connections, and the rest. */
  parameterCounts(): ModelParameterCounts {
    return parameterCounts(this, this.hyperConnections);
  }

  /** `{ decay, noDecay }`: pass as `[{ params: decay }, { params: noDecay, weightDecay: 0 }]` to AdamW. */
  parameterGroups(): ParameterGroups {
    return parameterGroups(this, this.hyperConnections);
  }
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** softmax(logits / temperature) in float64, shifted by the maximum so it never overflows. */
function softmaxAt(logits: ArrayLike<number>, temperature: number): Float64Array {
  const top = logits[argmax(logits)]!;
  const out = Float64Array.from(logits, (l) => Math.exp((l - top) / temperature));
  const total = out.reduce((acc, v) => acc + v, 0);
  return out.map((v) => v / total);
}

/** An index drawn with probability `probs[i]` (inverse CDF on one uniform). */
function sampleCategorical(probs: ArrayLike<number>, rng: Random): number {
  const u = rng.float();
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i]!;
    if (u < acc) return i;
  }
  // rounding can leave the total a hair below u: the last token with mass is the answer
  for (let i = probs.length - 1; i > 0; i--) if (probs[i]! > 0) return i;
  return 0;
}
