/**
 * What every variant shares: input checks, the update X' = H_res·X + H_postᵀ·F(H_pre·X) in its
 * two call styles, `maps`/`lastMaps`, parameter groups, and the fused projection that HC and
 * the gated variants (gated.ts) build their maps from. Also the options every variant takes:
 * a residual transform T (X' = H_res·T(X) + H_postᵀ·F(H_pre·X), maps from X) and the
 * channels-first layout, a transpose around the token path (no maths of its own); and
 * frac-connections (`fracs` f: the maps act on n·f sub-streams of width C/f) and several branch
 * input views (`inputViews` v: H_pre has v·f rows), docs/spec/hc-family.md, "Options".
 */
import * as T from '@hyperconn/tensor';
import {
  DTypeError,
  dtypeOption,
  fmtShape,
  ShapeError,
  Tensor,
  tensor,
  ValueError,
  type DType,
} from '@hyperconn/tensor';
import {
  add,
  concat,
  matmul,
  nn,
  noGrad,
  param,
  permute,
  reshape,
  split,
  squeeze,
  transpose,
  Variable,
} from '@hyperconn/autograd';
import type {
  Branch,
  CommonHyperConnectionOptions,
  HyperConnection,
  ResidualTransform,
  SplitResult,
  StreamLayout,
  TokenMaps,
  Variant,
} from '../hyper-connection.js';
import { readStreams, writeStreams } from './stream-ops.js';

/** The per-token maps as differentiable variables, shaped as in `TokenMaps`. */
export interface MapVariables {
  hRes: Variable;
  hPre: Variable;
  hPost: Variable;
}

function checkInteger(op: string, name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min)
    throw new ValueError(`${op}: ${name} must be an integer ≥ ${min}, got ${value}`);
}

/** The options every variant reads, validated, with the spec's defaults. */
export interface CommonOptions {
  n: number;
  dim: number;
  layerIndex: number;
  eps: number;
  dtype: DType;
  /** Channels of T(X), the branch output and X'; `dim` without a residual transform. */
  outDim: number;
  layout: StreamLayout;
  /** null: T is the identity (and skipped, so the layer is bit for bit the plain one). */
  residualTransform: ResidualTransform | null;
  /** f: fractions of C acting as extra streams (1: none). */
  fracs: number;
  /** v: branch input views (1: one input `[batch, seq, C]`). */
  inputViews: number;
  /** N = n·f, the size of the maps (the sub-streams they act on). */
  nMaps: number;
}

/** `fixedN` overrides `options.n` (the residual has one stream whatever it is asked). */
export function commonOptions(op: string, options: CommonHyperConnectionOptions, fixedN?: number): CommonOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ValueError(
      `${op}: options must be an object such as { dim: 64, layerIndex: 0 }, got ${describe(options)}`,
    );
  }
  const n = fixedN ?? options.n ?? 4;
  checkInteger(op, 'n', n, 1);
  checkInteger(op, 'dim', options.dim, 1);
  checkInteger(op, 'layerIndex', options.layerIndex, 0);
  const eps = options.eps ?? 1e-6;
  if (!(eps >= 0 && Number.isFinite(eps))) throw new ValueError(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
  const dtype = dtypeOption(op, options);
  const layout = options.layout ?? 'channelsLast';
  if (layout !== 'channelsLast' && layout !== 'channelsFirst')
    throw new ValueError(`${op}: layout must be 'channelsLast' or 'channelsFirst', got ${describeValue(layout)}`);
  const transform = options.residualTransform ?? null;
  if (transform !== null && !isCallable(transform)) {
    throw new ValueError(
      `${op}: residualTransform must be a function or a module with a forward method, got ${describe(transform)}`,
    );
  }
  const outDim = options.outDim ?? options.dim;
  checkInteger(op, 'outDim', outDim, 1);
  if (outDim !== options.dim && transform === null) {
    throw new ValueError(
      `${op}: outDim ${outDim} differs from dim ${options.dim}, so a residualTransform must map the ` +
        `residual streams from ${options.dim} to ${outDim} channels`,
    );
  }
  const fracs = integerOption(op, 'fracs', options.fracs, 1, 1);
  const inputViews = integerOption(op, 'inputViews', options.inputViews, 1, 1);
  for (const [name, size] of [
    ['dim', options.dim],
    ['outDim', outDim],
  ] as const) {
    if (size % fracs !== 0) {
      throw new ValueError(
        `${op}: fracs = ${fracs} must divide ${name} = ${size} (each of the n streams is split into ` +
          `fracs sub-streams of ${name}/fracs channels)`,
      );
    }
  }
  return {
    n,
    dim: options.dim,
    layerIndex: options.layerIndex,
    eps,
    dtype,
    outDim,
    layout,
    residualTransform: transform,
    fracs,
    inputViews,
    nMaps: n * fracs,
  };
}

function isCallable(f: unknown): boolean {
  return (
    typeof f === 'function' ||
    (typeof f === 'object' && f !== null && typeof (f as { forward?: unknown }).forward === 'function')
  );
}

function call(f: ResidualTransform | Branch<unknown[]>, x: Variable, args: unknown[] = []): unknown {
  return typeof f === 'function' ? f(x, ...args) : f.forward(x, ...args);
}

/** A string shown as itself in quotes, anything else described (for option errors). */
function describeValue(x: unknown): string {
  return typeof x === 'string' ? `'${x}'` : describe(x);
}

/** A boolean option with a default; ValueError for anything but true, false or undefined. */
export function booleanOption(op: string, name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value !== undefined && typeof value !== 'boolean')
    throw new ValueError(`${op}: ${name} must be true or false, got ${describe(value)}`);
  return value ?? fallback;
}

/** An integer option with a default, validated. */
export function integerOption(
  op: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
): number {
  const v = value ?? fallback;
  checkInteger(op, name, v, min);
  return v;
}

/**
 * The base of every variant. Subclasses supply `computeMaps` (batched over tokens, from
 * differentiable ops) and say which parameters are projection weights (weight decay applies).
 * The update runs on tokens `[B, T, n, C]`; the channels-first layout is a transpose around it.
 */
export abstract class HyperConnectionBase extends nn.Module implements HyperConnection {
  abstract readonly variant: Variant;
  readonly n: number;
  readonly dim: number;
  readonly dtype: DType;
  /** Channels of T(X), the branch output and X' (`dim` unless a residual transform changes it). */
  readonly outDim: number;
  /** `'channelsLast'`: X `[batch, seq, n, C]`; `'channelsFirst'`: X `[batch, n, C, ...spatial]`. */
  readonly layout: StreamLayout;
  /** T of X' = H_res·T(X) + H_postᵀ·F(H_pre·X), or null (identity); a module's parameters are the layer's. */
  readonly residualTransform: ResidualTransform | null;
  /** f (`fracs`): each stream is split into f fractions of C/f channels, extra streams for the maps. */
  readonly fracs: number;
  /** v (`inputViews`): the branch inputs, v > 1 stacked on a leading axis `[v, batch, seq, C]`. */
  readonly inputViews: number;
  /** N = n·f: the maps act on N sub-streams, sub-stream j·n + s being fraction j of stream s. */
  readonly nMaps: number;
  // JS-private so that Module reflection does not take it for a buffer.
  #lastMaps: TokenMaps | null = null;

  protected constructor(
    protected readonly label: string,
    common: CommonOptions,
  ) {
    super();
    this.n = common.n;
    this.dim = common.dim;
    this.dtype = common.dtype;
    this.outDim = common.outDim;
    this.layout = common.layout;
    this.residualTransform = common.residualTransform;
    this.fracs = common.fracs;
    this.inputViews = common.inputViews;
    this.nMaps = common.nMaps;
  }

  /**
   * For the sub-streams X [B,T,N,C/f] of a validated input (N = n·f; the input itself when
   * f = 1): H_res [B,T,N,N], H_pre [B,T,N] ([B,T,v·f,N] when v·f > 1), H_post [B,T,N]
   * ([B,T,f,N] when f > 1), as `TokenMaps`.
   */
  protected abstract computeMaps(x: Variable): MapVariables;

  /** The parameters that weight decay applies to (the input-dependent projections). */
  protected abstract projectionWeights(): Variable[];

  get lastMaps(): TokenMaps | null {
    return this.#lastMaps;
  }

  forward<A extends unknown[]>(x: Variable | Tensor, branch: Branch<A>, ...args: A): Variable {
    if (!isCallable(branch)) {
      throw new ValueError(
        `${this.label}: the branch must be a function or a module with a forward method, got ${describe(branch)}`,
      );
    }
    const { branchInput, merge } = this.split(x);
    return merge(call(branch as Branch<unknown[]>, branchInput, args) as Variable);
  }

  split(x: Variable | Tensor): SplitResult {
    const input = this.checkInput(x);
    const tokens = this.toTokens(input);
    const subStreams = this.toSubStreams(tokens);
    const maps = this.computeMaps(subStreams);
    this.#lastMaps = this.checkMaps(detachMaps(maps));
    const [batch, seq] = tokens.shape as [number, number, number, number];
    const branchInput = this.branchInputs(maps.hPre, subStreams, input.shape);
    // T before the branch runs, so a bad transform is reported before the branch's cost
    const residual = this.residualTransform === null ? subStreams : this.toSubStreams(this.transformResidual(input));
    const merge = (branchOutput: Variable): Variable => {
      const y = this.checkBranchOutput(branchOutput, batch, seq, input.shape);
      // the common case as one fused op; with fractions, y is spread over the sub-streams by a small matmul
      if (this.fracs === 1) return this.fromTokens(writeStreams(maps.hRes, residual, maps.hPost, y), input.shape);
      // fraction j of y to sub-stream p with weight H_post[j, p]: [B,T,N,f] @ [B,T,f,C'/f]
      const written = matmul(transpose(maps.hPost, -1, -2), reshape(y, [batch, seq, this.fracs, -1]));
      const out = this.fromSubStreams(add(matmul(maps.hRes, residual), written));
      return this.fromTokens(out, input.shape);
    };
    return { branchInput, merge };
  }

  maps(x: Variable | Tensor): TokenMaps {
    const tokens = this.toSubStreams(this.toTokens(this.checkInput(x)));
    return this.checkMaps(noGrad(() => detachMaps(this.computeMaps(tokens))));
  }

  /**
   * Tokens [B,T,n,C] → sub-streams [B,T,N,C/f], fraction-major as the reference code
   * (sub-stream j·n + s = channels [j·C/f, (j+1)·C/f) of stream s); x itself when f = 1.
   */
  private toSubStreams(x: Variable): Variable {
    if (this.fracs === 1) return x;
    const [batch, seq, n, channels] = x.shape as [number, number, number, number];
    const f = this.fracs;
    return reshape(permute(reshape(x, [batch, seq, n, f, channels / f]), [0, 1, 3, 2, 4]), [batch, seq, n * f, -1]);
  }

  /** The inverse of `toSubStreams`: [B,T,N,C'/f] → [B,T,n,C']. */
  private fromSubStreams(x: Variable): Variable {
    if (this.fracs === 1) return x;
    const [batch, seq, nf, width] = x.shape as [number, number, number, number];
    const f = this.fracs;
    const n = nf / f;
    return reshape(permute(reshape(x, [batch, seq, f, n, width]), [0, 1, 3, 2, 4]), [batch, seq, n, f * width]);
  }

  /**
   * H_pre·X per token from the sub-streams X [B,T,N,C/f], in the layer's layout: `[B,T,C]`, or
   * `[v,B,T,C]` for v > 1 views, view i's fraction j being row i·f + j of H_pre.
   */
  private branchInputs(hPre: Variable, subStreams: Variable, inputShape: readonly number[]): Variable {
    // u = H_pre·X per token: [B,T,n] and [B,T,n,C] → [B,T,C], one fused op
    if (this.fracs === 1 && this.inputViews === 1) return this.fromTokens(readStreams(hPre, subStreams), inputShape);
    const [batch, seq] = subStreams.shape as [number, number];
    const v = this.inputViews;
    // [B,T,v·f,N] @ [B,T,N,C/f] → [B,T,v·f,C/f] → [B,T,v,C] (fractions back in channel order)
    const rows = reshape(matmul(hPre, subStreams), [batch, seq, v, this.dim]);
    if (v === 1) return this.fromTokens(squeeze(rows, 2), inputShape);
    // the views on a leading axis, each in the layer's layout
    const views = reshape(permute(rows, [2, 0, 1, 3]), [v * batch, seq, this.dim]);
    const laidOut = this.fromTokens(views, [v * batch, ...inputShape.slice(1)]);
    return reshape(laidOut, [v, batch, ...laidOut.shape.slice(1)]);
  }

  parameterGroups(): { decay: Variable[]; noDecay: Variable[] } {
    // a transform's weight matrices (a 1×1 convolution, a Linear) decay as the models' do
    const transform = this.residualTransform instanceof nn.Module ? this.residualTransform.parameters() : [];
    const decay = new Set([...this.projectionWeights(), ...transform.filter((p) => p.ndim >= 2)]);
    const params = this.parameters();
    return { decay: params.filter((p) => decay.has(p)), noDecay: params.filter((p) => !decay.has(p)) };
  }

  /** The expected input shape in words, for errors. */
  private inputShapeText(): string {
    return this.layout === 'channelsLast'
      ? `[batch, seq, ${this.n}, ${this.dim}]`
      : `[batch, ${this.n}, ${this.dim}, ...spatial] (channelsFirst)`;
  }

  /** A Variable, or a Tensor taken as a constant input; ValueError for anything else. */
  private checkInput(value: Variable | Tensor): Variable {
    let x: Variable;
    if (value instanceof Variable) x = value;
    else if (value instanceof Tensor) x = new Variable(value);
    else
      throw new ValueError(
        `${this.label}: input must be a Variable or a Tensor ${this.inputShapeText()}, got ${describe(value)}`,
      );
    const [streamAxis, channelAxis] = this.layout === 'channelsLast' ? [2, 3] : [1, 2];
    const rankOk = this.layout === 'channelsLast' ? x.shape.length === 4 : x.shape.length >= 4;
    if (!rankOk || x.shape[streamAxis] !== this.n || x.shape[channelAxis] !== this.dim) {
      throw new ShapeError(
        `${this.label}: input of shape ${fmtShape(x.shape)} must be ${this.inputShapeText()} ` +
          `(n = ${this.n} streams of size ${this.dim})`,
      );
    }
    if (x.dtype !== this.dtype) {
      throw new DTypeError(`${this.label}: input is ${x.dtype} but the layer's parameters are ${this.dtype}`);
    }
    const bad = firstNonFinite(x.value);
    if (bad !== null)
      throw new ValueError(
        `${this.label}: input of shape ${fmtShape(x.shape)} has the ` +
          `non-finite value ${bad.value} at flat index ${bad.index}`,
      );
    return x;
  }

  /** channelsFirst `[B, n, C, ...spatial]` → tokens `[B, S, n, C]` (S = ∏ spatial, row-major); else x. */
  private toTokens(x: Variable): Variable {
    if (this.layout === 'channelsLast') return x;
    const rank = x.shape.length;
    const spatial = Array.from({ length: rank - 3 }, (_, i) => i + 3);
    const moved = permute(x, [0, ...spatial, 1, 2]);
    return reshape(moved, [x.shape[0]!, -1, x.shape[1]!, x.shape[2]!]);
  }

  /**
   * Back to the layout of an input of shape `inputShape`: a state `[B, S, n, C']` →
   * `[B, n, C', ...spatial]`, a branch-side `[B, S, C']` → `[B, C', ...spatial]`; else y.
   */
  private fromTokens(y: Variable, inputShape: readonly number[]): Variable {
    if (this.layout === 'channelsLast') return y;
    const spatial = inputShape.slice(3);
    const k = spatial.length;
    const channels = y.shape[y.shape.length - 1]!;
    const spatialAxes = Array.from({ length: k }, (_, i) => i + 1);
    if (y.shape.length === 4) {
      // [B, S, n, C'] → [B, s_1..s_k, n, C'] → [B, n, C', s_1..s_k]
      return permute(reshape(y, [inputShape[0]!, ...spatial, this.n, channels]), [0, k + 1, k + 2, ...spatialAxes]);
    }
    // [B, S, C'] → [B, s_1..s_k, C'] → [B, C', s_1..s_k]
    return permute(reshape(y, [inputShape[0]!, ...spatial, channels]), [0, k + 1, ...spatialAxes]);
  }

  /** The branch output checked and as tokens `[B, S, outDim]`. */
  private checkBranchOutput(
    branchOutput: Variable,
    batch: number,
    seq: number,
    inputShape: readonly number[],
  ): Variable {
    if (!(branchOutput instanceof Variable)) {
      // a Tensor would silently cut the branch out of the gradient: the caller must say so
      const hint =
        (branchOutput as unknown) instanceof Tensor ? ' (wrap it with variable() if it is meant as a constant)' : '';
      throw new ValueError(`${this.label}: the branch must return a Variable, got ${describe(branchOutput)}${hint}`);
    }
    const expected =
      this.layout === 'channelsLast' ? [batch, seq, this.outDim] : [batch, this.outDim, ...inputShape.slice(3)];
    if (!sameShape(branchOutput.shape, expected)) {
      throw new ShapeError(
        `${this.label}: the branch output has shape ${fmtShape(branchOutput.shape)}, expected ${fmtShape(expected)}`,
      );
    }
    // the sum would promote silently, changing the dtype of every later layer
    if (branchOutput.dtype !== this.dtype) {
      throw new DTypeError(
        `${this.label}: the branch returned ${branchOutput.dtype} but the layer is ${this.dtype} ` +
          `(cast the branch output with astype, or build the branch in ${this.dtype})`,
      );
    }
    if (this.layout === 'channelsLast') return branchOutput;
    const rank = branchOutput.shape.length;
    const moved = permute(branchOutput, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1]);
    return reshape(moved, [batch, seq, this.outDim]);
  }

  /**
   * T(X) as tokens `[B, S, n, outDim]`. T sees X in the layer's layout, streams folded into the
   * batch for channelsFirst (`[B·n, C, ...spatial]`, what a convolution written for the branch takes).
   */
  private transformResidual(input: Variable): Variable {
    const first = this.layout === 'channelsFirst';
    const [batch, n, dim] = input.shape as [number, number, number];
    const spatial = input.shape.slice(3);
    const arg = first ? reshape(input, [batch * n, dim, ...spatial]) : input;
    const expected = first ? [batch * n, this.outDim, ...spatial] : [...input.shape.slice(0, 3), this.outDim];
    const t = call(this.residualTransform!, arg);
    if (!(t instanceof Variable))
      throw new ValueError(`${this.label}: residualTransform must return a Variable, got ${describe(t)}`);
    if (!sameShape(t.shape, expected)) {
      throw new ShapeError(
        `${this.label}: residualTransform returned shape ${fmtShape(t.shape)} for ${fmtShape(arg.shape)}, ` +
          `expected ${fmtShape(expected)} (outDim = ${this.outDim})`,
      );
    }
    if (t.dtype !== this.dtype)
      throw new DTypeError(`${this.label}: residualTransform returned ${t.dtype} but the layer is ${this.dtype}`);
    return first ? this.toTokens(reshape(t, [batch, n, this.outDim, ...spatial])) : t;
  }

  /**
   * Finite input can still give non-finite maps (eps = 0 with an all-zero token, or overflowing
   * parameters): reported here rather than passed on as NaN.
   */
  private checkMaps(maps: TokenMaps): TokenMaps {
    const [batch, seq] = maps.hPre.shape as [number, number];
    for (const key of ['hRes', 'hPre', 'hPost'] as const) checkFiniteTokens(this.label, key, maps[key], batch, seq);
    return maps;
  }

  /** A parameter of the layer's dtype holding `values` in the given shape (default 1-d). */
  protected parameter(values: readonly number[], shape: readonly number[] = [values.length]): Variable {
    const data = this.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
    return param(tensor(data, { shape }));
  }

  /** A zero-initialised projection weight [rows, cols]. */
  protected zeros(rows: number, cols: number): Variable {
    return param(T.zeros([rows, cols], { dtype: this.dtype }));
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function firstNonFinite(t: Tensor): { index: number; value: number } | null {
  // in place (a copy only for a view that is not contiguous): this runs on every input and map
  const { data, offset, size } = t.contiguous();
  for (let i = 0; i < size; i++) if (!Number.isFinite(data[offset + i]!)) return { index: i, value: data[offset + i]! };
  return null;
}

/** `null`, `undefined`, `a number`, `a Tensor`, … for error messages. */
function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x !== 'object') return `a ${typeof x}`;
  return `a ${x.constructor?.name || 'object'}`;
}

/**
 * The one check for values computed from a finite input (a layer's maps, or the normalised
 * token vectors that mHC, mHC-lite and sHC feed to Sinkhorn, the permutation mixture or
 * Cayley): a ValueError naming the layer, the token and the likely fix instead of NaN passed
 * on, or a failure deep inside those ops. `values` holds the `batch`·`seq` tokens in order
 * (`[B, T, ...]` or `[B·T, ...]`).
 */
export function checkFiniteTokens(label: string, what: string, values: Tensor, batch: number, seq: number): void {
  const bad = firstNonFinite(values);
  if (bad === null) return;
  const token = Math.floor(bad.index / (values.size / (batch * seq)));
  throw new ValueError(
    `${label}: ${what} of token (batch ${Math.floor(token / seq)}, position ${token % seq}) has ` +
      `the non-finite value ${bad.value} ` +
      `although the input is finite (all zeros under RMSNorm with eps = 0: use eps > 0, the default ` +
      `is 1e-6; or non-finite parameters)`,
  );
}

/** Copies, not views: static maps are views of parameters that optimisers update in place. */
function detachMaps(maps: MapVariables): TokenMaps {
  return { hRes: maps.hRes.value.clone(), hPre: maps.hPre.value.clone(), hPost: maps.hPost.value.clone() };
}

/**
 * One matmul of v [tokens, K] with the weights side by side, split back into one result per
 * weight: [tokens, cols_i] each.
 */
export function project(v: Variable, weights: readonly Variable[]): Variable[] {
  const fused = matmul(v, concat(weights, 1));
  return split(
    fused,
    weights.map((w) => w.shape[1]!),
    -1,
  );
}
