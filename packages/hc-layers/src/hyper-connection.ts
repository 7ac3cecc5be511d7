/**
 * The one interface every residual variant implements, and the stream helpers.
 *
 * State layout: `[batch, seq, n, C]`, streams as an explicit axis; row i of a token's n×C
 * block is stream i. Orientation (docs/spec/hc-family.md): `H_res` multiplies from the left and its
 * rows index OUTPUT streams, so its row sums are the forward gain:
 *
 *     X' = H_res · X + H_postᵀ · F(H_pre · X)
 */
import type { Random, Tensor } from '@hyperconn/tensor';
import type { nn, Variable } from '@hyperconn/autograd';

/** The variants, chosen by name in `createHyperConnection`. */
export type Variant = 'residual' | 'hc' | 'mhc' | 'mhcLite' | 'kromhc' | 'shc' | 'shcPower';

/** Every variant name, in a fixed order; `createHyperConnection` rejects any other. */
export const VARIANTS: readonly Variant[] = ['residual', 'hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'];

/** A branch F: R^C → R^C applied to `[batch, seq, C]`, a plain function or a module with `forward`. */
export type Branch<A extends unknown[] = unknown[]> =
  | ((x: Variable, ...args: A) => Variable)
  | {
      /**
       * F(x): `[batch, seq, C]` in (`[v, batch, seq, C]` with `inputViews` v > 1), `[batch, seq, C]` out;
       * `args` are the extra arguments of `forward`.
       */
      forward(x: Variable, ...args: A): Variable;
    };

/**
 * The per-token matrices of one forward pass (float64/32 tensors, not part of any graph). With
 * `fracs` f and `inputViews` v the maps act on N = n·f sub-streams (shapes below for f = v = 1).
 */
export interface TokenMaps {
  /** `[batch, seq, n, n]`; `[batch, seq, N, N]` with fracs. */
  hRes: Tensor;
  /** `[batch, seq, n]`; `[batch, seq, v·f, N]` when v·f > 1 (row i·f + j: view i, fraction j). */
  hPre: Tensor;
  /** `[batch, seq, n]`; `[batch, seq, f, N]` when f > 1 (row j: fraction j of the branch output). */
  hPost: Tensor;
}

/**
 * The options every variant reads; each variant's own options extend these. A bad value is a
 * ValueError (a DTypeError for `dtype`).
 */
export interface CommonHyperConnectionOptions {
  /** Number of streams (expansion rate). Default 4. */
  n?: number;
  /** Hidden size C. */
  dim: number;
  /** Depth index of this layer; selects the stream that H_pre reads at init (`k mod n`). */
  layerIndex: number;
  /** RMSNorm epsilon. Default 1e-6. */
  eps?: number;
  /** Dtype of the parameters; inputs must have it too. Default float64. */
  dtype?: 'float64' | 'float32';
  /**
   * A map T applied to the residual streams, for blocks whose input and output sizes differ:
   * X' = H_res·T(X) + H_postᵀ·F(H_pre·X), the maps computed from X (before T). T gets the whole
   * state in the layer's layout (channelsLast `[batch, seq, n, dim]`, channelsFirst
   * `[batch·n, dim, ...spatial]`) and must return it with `outDim` channels. A module's
   * parameters become the layer's. Default none (T = identity, bit for bit today's layer).
   */
  residualTransform?: ResidualTransform;
  /** Channels of T(X), of the branch output and of X'. Default `dim`. */
  outDim?: number;
  /**
   * `'channelsLast'` (default): X `[batch, seq, n, C]`, branch `[batch, seq, C]`.
   * `'channelsFirst'`: X `[batch, n, C, ...spatial]` (e.g. `[batch, n, C, H, W]`), branch
   * `[batch, C, ...spatial]`; the spatial positions are the tokens (maps `[batch, H·W, n, n]`).
   */
  layout?: StreamLayout;
  /**
   * Frac-connections (arXiv 2503.14125; `num_fracs` in the reference code): f ≥ 1 splits C into f
   * fractions that act as extra streams, so the maps act on n·f sub-streams of width C/f
   * (H_res (n·f)×(n·f), H_pre (v·f)×(n·f), H_post f×(n·f); docs/spec/hc-family.md, "Options").
   * f must divide `dim` and `outDim`. Default 1 (bit for bit the layer without it). Not the residual.
   */
  fracs?: number;
  /**
   * Several branch input views (`num_input_views` in the reference code): v ≥ 1 rows of H_pre per
   * fraction, so the branch receives v inputs stacked on a new leading axis (`[v, batch, seq, C]`).
   * Default 1 (the branch gets `[batch, seq, C]`, bit for bit the layer without it). Not the residual.
   */
  inputViews?: number;
}

/** Where the channel axis sits; see `CommonHyperConnectionOptions.layout`. */
export type StreamLayout = 'channelsLast' | 'channelsFirst';

/** A residual transform T: a function or a module with `forward` (see `residualTransform`). */
export type ResidualTransform =
  | ((x: Variable) => Variable)
  | {
      /** T(X): the residual state in, the same shape with `outDim` channels out. */
      forward(x: Variable): Variable;
    };

/** Options of `ResidualLayer` (`n` is ignored: the residual has one stream). */
export type ResidualOptions = CommonHyperConnectionOptions;

/**
 * The switches of every variant but the residual (docs/spec/hc-family.md, "Switches"). A map or
 * term switched off has no parameters at all (the parameter counts drop accordingly).
 */
export interface MapSwitchOptions {
  /**
   * Input-dependent terms on. Default true. false: the maps are those of the static biases alone,
   * the same for every token (no RMSNorm, projections or their scales).
   */
  dynamic?: boolean;
  /** H_res learned. Default true. false: H_res = I (the mHC paper's ablation, its Table 1). */
  resMap?: boolean;
  /** H_pre learned. Default true. false: H_pre = 1/n on every stream (the mHC paper's ablation). */
  preMap?: boolean;
  /** H_post learned. Default true. false: H_post = 1 on every stream (the mHC paper's ablation). */
  postMap?: boolean;
  /**
   * `'zero'` (default): projection weights start at 0. `'reference'`: as the `6zHAOyi/s2HC`
   * pre-training script leaves them: sHC's and sHC-power's W_pre, W_res, W_post drawn from
   * N(0, 2/(5·dim)) with `rng`; every other variant's stay 0 (raw parameters the script never touches).
   */
  init?: 'zero' | 'reference';
  /** The generator `init: 'reference'` draws from (required where it draws). */
  rng?: Random;
}

/** Options of `HCLayer`. */
export interface HCOptions extends CommonHyperConnectionOptions, MapSwitchOptions {
  /** tanh on the dynamic terms. Default true. */
  tanh?: boolean;
}

/** Options of `MHCLayer`. */
export interface MHCOptions extends CommonHyperConnectionOptions, MapSwitchOptions {
  /** Sinkhorn iterations. Default 20. */
  sinkhornIters?: number;
}

/** Options of `MHCLiteLayer`. */
export interface MHCLiteOptions extends CommonHyperConnectionOptions, MapSwitchOptions {
  /** Refuse n above this (n! permutations). Default 8. */
  maxN?: number;
}

/** Options of `KromHCLayer`. */
export interface KromHCOptions extends CommonHyperConnectionOptions, MapSwitchOptions {
  /**
   * Refuse n when a prime factor of it exceeds this (that factor mixes its i! permutation
   * matrices, as mHC-lite's `maxN`). Default 8, so factors 2, 3, 5 and 7.
   */
  maxFactor?: number;
}

/** Options of `SHCLayer` (the common options and the switches; n must be ≥ 2). */
export interface SHCOptions extends CommonHyperConnectionOptions, MapSwitchOptions {}

/** Options of `SHCPowerLayer`. */
export interface SHCPowerOptions extends SHCOptions {
  /**
   * Squarings of the power method that bounds σ_max(Ẽ) from above per token (stateless;
   * relative excess ≤ ln(n−1)/2^(powerIters+1)). Default 24. See `spectralNormBound`.
   */
  powerIters?: number;
}

/**
 * Options of `createHyperConnection`: those of every variant together; each variant reads the
 * common options and its own, and ignores the others.
 */
export interface HyperConnectionOptions extends HCOptions, MHCOptions, MHCLiteOptions, KromHCOptions, SHCPowerOptions {}

/**
 * The split call style: the branch input, and a function that adds the branch output back.
 * (Shapes for the default options; `layout` and `outDim` change them as they describe.)
 */
export interface SplitResult {
  /** `[batch, seq, C]` = H_pre · X per token; `[v, batch, seq, C]` with `inputViews` v > 1. */
  branchInput: Variable;
  /** Given F's output `[batch, seq, C]`, returns X' `[batch, seq, n, C]`. */
  merge(branchOutput: Variable): Variable;
}

/** A hyper-connection layer wrapping a branch. Parameters are its own (the branch's are not). */
export interface HyperConnection extends nn.Module {
  readonly variant: Variant;
  readonly n: number;
  readonly dim: number;
  /**
   * X' for X `[batch, seq, n, C]` (a Tensor is taken as a constant input); extra arguments are
   * passed through to the branch. The branch must return a Variable `[batch, seq, C]` of the
   * layer's dtype: another shape is a ShapeError, another dtype a DTypeError (no silent
   * promotion), a Tensor or anything else a ValueError.
   */
  forward<A extends unknown[]>(x: Variable | Tensor, branch: Branch<A>, ...args: A): Variable;
  /** The same update in two halves, for callers that run the branch themselves (same checks). */
  split(x: Variable | Tensor): SplitResult;
  /** The per-token H matrices for X (computed without recording a graph). */
  maps(x: Variable | Tensor): TokenMaps;
  /** The maps of the most recent forward/split (null before the first call). */
  readonly lastMaps: TokenMaps | null;
  /**
   * Parameters to keep out of weight decay (HC's static A_m, A_r, B; biases and scales), and
   * the rest — for optimiser parameter groups.
   */
  parameterGroups(): { decay: Variable[]; noDecay: Variable[] };
}
