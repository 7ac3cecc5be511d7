/**
 * Stream expansion at the input of a hyper-connection network and reduction at its output
 * (docs/spec/hc-family.md): `X_0 = repeat(embedding, n)`, output = sum over streams. The
 * functions are the defaults; the modules `StreamExpand` (optional learnable per-stream
 * embeddings) and `StreamReduce` (sum or attention pool) are the options, in either layout.
 */
import * as T from '@hyperconn/tensor';
import { DTypeError, dtypeOption, fmtShape, ShapeError, ValueError, type DType, type Tensor } from '@hyperconn/tensor';
import {
  add,
  asVariable,
  expand,
  matmul,
  mul,
  nn,
  param,
  permute,
  reshape,
  softmax,
  sum,
  transpose,
  unsqueeze,
  type Variable,
} from '@hyperconn/autograd';
import type { StreamLayout } from './hyper-connection.js';

/**
 * `[batch, seq, C]` → `[batch, seq, n, C]`, every stream a copy of `x`. The result is a
 * broadcast view (no copy); its gradient sums the streams' gradients back onto `x`.
 */
export function expandStreams(x: Variable | Tensor, n: number): Variable {
  const xv = asVariable('expandStreams', x);
  if (!Number.isSafeInteger(n) || n < 1) throw new ValueError(`expandStreams: n must be a positive integer, got ${n}`);
  if (xv.shape.length !== 3)
    throw new ShapeError(`expandStreams: x must be [batch, seq, C], got shape ${fmtShape(xv.shape)}`);
  const [batch, seq, dim] = xv.shape as [number, number, number];
  return expand(unsqueeze(xv, 2), [batch, seq, n, dim]);
}

/** `[batch, seq, n, C]` → `[batch, seq, C]`: the sum of the streams. */
export function reduceStreams(x: Variable | Tensor): Variable {
  const xv = asVariable('reduceStreams', x);
  if (xv.shape.length !== 4)
    throw new ShapeError(`reduceStreams: x must be [batch, seq, n, C], got shape ${fmtShape(xv.shape)}`);
  return sum(xv, 2);
}

/** Options of `StreamExpand`. */
export interface StreamExpandOptions {
  /** Streams. */
  n: number;
  /** Channels C of the input. */
  dim: number;
  /** Add a learnable embedding E `[n, C]` (init 0) to the n copies. Default false. */
  streamEmbedding?: boolean;
  /** `'channelsLast'` (default): `[batch, seq, C]` → `[batch, seq, n, C]`; `'channelsFirst'`:
   * `[batch, C, ...spatial]` → `[batch, n, C, ...spatial]`. */
  layout?: StreamLayout;
  /** Dtype of the embedding; inputs must have it too. Default float64. */
  dtype?: DType;
}

/** Options of `StreamReduce`. */
export interface StreamReduceOptions {
  /** Streams. */
  n: number;
  /** Channels C. */
  dim: number;
  /** `'sum'` (default, `reduceStreams`) or `'attentionPool'`. */
  mode?: 'sum' | 'attentionPool';
  /** As `StreamExpandOptions.layout`, the other way round. Default `'channelsLast'`. */
  layout?: StreamLayout;
  /** Dtype of the pool's weight; inputs must have it too. Default float64. */
  dtype?: DType;
}

function streamSizes(op: string, options: { n: number; dim: number }): void {
  if (typeof options !== 'object' || options === null)
    throw new ValueError(`${op}: options must be an object such as { n: 4, dim: 64 }, got ${String(options)}`);
  for (const key of ['n', 'dim'] as const) {
    const v = options[key];
    if (!Number.isSafeInteger(v) || v < 1) throw new ValueError(`${op}: ${key} must be a positive integer, got ${v}`);
  }
}

function layoutOption(op: string, layout: unknown): StreamLayout {
  const value = layout ?? 'channelsLast';
  if (value !== 'channelsLast' && value !== 'channelsFirst')
    throw new ValueError(`${op}: layout must be 'channelsLast' or 'channelsFirst', got ${String(value)}`);
  return value;
}

/** The input must have the parameter's dtype: the sum would promote silently. */
function checkDType(op: string, x: Variable, parameter: Variable | null): void {
  if (parameter !== null && x.dtype !== parameter.dtype)
    throw new DTypeError(`${op}: x is ${x.dtype} but the module's parameters are ${parameter.dtype}`);
}

/**
 * Stream expansion as a module: X_0 = repeat(x, n) + E, E `[n, C]` a learnable per-stream
 * embedding (the reference code's `StreamEmbed`). E starts at 0, so at init the output equals
 * `expandStreams` exactly; without `streamEmbedding` it is `expandStreams` (no parameters).
 * Parameters: n·C with the embedding, 0 without.
 */
export class StreamExpand extends nn.Module {
  readonly n: number;
  readonly dim: number;
  readonly layout: StreamLayout;
  readonly dtype: DType;
  /** E `[n, C]`, row i added to stream i; null without `streamEmbedding`. */
  readonly embedding: Variable | null;

  constructor(options: StreamExpandOptions) {
    super();
    streamSizes('StreamExpand', options);
    this.n = options.n;
    this.dim = options.dim;
    this.layout = layoutOption('StreamExpand', options.layout);
    this.dtype = dtypeOption('StreamExpand', options);
    const embed = options.streamEmbedding ?? false;
    if (typeof embed !== 'boolean')
      throw new ValueError(`StreamExpand: streamEmbedding must be true or false, got ${String(embed)}`);
    this.embedding = embed ? param(T.zeros([this.n, this.dim], { dtype: this.dtype })) : null;
  }

  /**
   * channelsLast `[batch, seq, C]` → `[batch, seq, n, C]`; channelsFirst `[batch, C, ...spatial]`
   * → `[batch, n, C, ...spatial]`. Another shape is a ShapeError.
   */
  forward(x: Variable | Tensor): Variable {
    const xv = asVariable('StreamExpand', x);
    const last = this.layout === 'channelsLast';
    const ok = last ? xv.ndim === 3 && xv.shape[2] === this.dim : xv.ndim >= 3 && xv.shape[1] === this.dim;
    if (!ok) {
      throw new ShapeError(
        `StreamExpand: x must be ${last ? `[batch, seq, ${this.dim}]` : `[batch, ${this.dim}, ...spatial]`}, ` +
          `got shape ${fmtShape(xv.shape)}`,
      );
    }
    checkDType('StreamExpand', xv, this.embedding);
    if (last) {
      const streams = expandStreams(xv, this.n);
      return this.embedding === null ? streams : add(streams, this.embedding);
    }
    const [batch, , ...spatial] = xv.shape as number[];
    const streams = expand(unsqueeze(xv, 1), [batch!, this.n, this.dim, ...spatial]);
    if (this.embedding === null) return streams;
    return add(streams, reshape(this.embedding, [this.n, this.dim, ...spatial.map(() => 1)]));
  }
}

/**
 * Stream reduction as a module. `'sum'`: `reduceStreams`. `'attentionPool'` (the reference
 * code's `AttentionPoolReduceStream`): per token and channel c, logits L = X·Wᵀ `[n, C]`,
 * a = softmax of L over the stream axis, y_c = Σ_s a_sc·X_sc. W `[C, C]` (nn.Linear layout) starts
 * at I, so at init y_c = Σ_s softmax_s(X_·c)·X_sc: per channel a softmax-weighted MEAN of the
 * streams weighted by their own values (between the mean and the max), not their sum; with
 * equal streams x it is x, i.e. the sum divided by n. Parameters: C² for the pool, 0 for the sum.
 */
export class StreamReduce extends nn.Module {
  readonly n: number;
  readonly dim: number;
  readonly mode: 'sum' | 'attentionPool';
  readonly layout: StreamLayout;
  readonly dtype: DType;
  /** W `[C, C]` of the logits L = X·Wᵀ (init I); null for `'sum'`. */
  readonly logitWeight: Variable | null;

  constructor(options: StreamReduceOptions) {
    super();
    streamSizes('StreamReduce', options);
    this.n = options.n;
    this.dim = options.dim;
    this.layout = layoutOption('StreamReduce', options.layout);
    this.dtype = dtypeOption('StreamReduce', options);
    const mode = options.mode ?? 'sum';
    if (mode !== 'sum' && mode !== 'attentionPool')
      throw new ValueError(`StreamReduce: mode must be 'sum' or 'attentionPool', got ${String(mode)}`);
    this.mode = mode;
    this.logitWeight = mode === 'attentionPool' ? param(T.eye(this.dim, this.dim, { dtype: this.dtype })) : null;
  }

  /**
   * channelsLast `[batch, seq, n, C]` → `[batch, seq, C]`; channelsFirst `[batch, n, C, ...spatial]`
   * → `[batch, C, ...spatial]`. Another shape is a ShapeError.
   */
  forward(x: Variable | Tensor): Variable {
    const xv = asVariable('StreamReduce', x);
    const last = this.layout === 'channelsLast';
    const ok = last
      ? xv.ndim === 4 && xv.shape[2] === this.n && xv.shape[3] === this.dim
      : xv.ndim >= 4 && xv.shape[1] === this.n && xv.shape[2] === this.dim;
    if (!ok) {
      throw new ShapeError(
        `StreamReduce: x must be ` +
          `${last ? `[batch, seq, ${this.n}, ${this.dim}]` : `[batch, ${this.n}, ${this.dim}, ...spatial]`}, ` +
          `got shape ${fmtShape(xv.shape)}`,
      );
    }
    if (this.logitWeight === null) return sum(xv, last ? 2 : 1);
    checkDType('StreamReduce', xv, this.logitWeight);
    if (last) return this.pool(xv);
    // [B, n, C, s_1..s_k] → [B, s_1..s_k, n, C], pooled to [B, s_1..s_k, C] → [B, C, s_1..s_k]
    const k = xv.ndim - 3;
    const spatialAxes = Array.from({ length: k }, (_, i) => i + 3);
    const pooled = this.pool(permute(xv, [0, ...spatialAxes, 1, 2]));
    return permute(pooled, [0, k + 1, ...Array.from({ length: k }, (_, i) => i + 1)]);
  }

  /** `[..., n, C]` → `[..., C]`, softmax over the stream axis. */
  private pool(x: Variable): Variable {
    const weights = softmax(matmul(x, transpose(this.logitWeight!)), -2);
    return sum(mul(x, weights), -2);
  }
}
