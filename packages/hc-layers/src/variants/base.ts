/**
 * What every variant shares: input checks, the update X' = H_res·X + H_postᵀ·F(H_pre·X) in its
 * two call styles, `maps`/`lastMaps`, parameter groups, and the small pieces several variants
 * build their maps from (the fused projection and the sigmoid gates of mHC, mHC-lite and sHC).
 */
import { DTypeError, fmtShape, ShapeError, tensor, ValueError, zeros as zerosTensor, type DType, type Tensor } from '@hyperconn/tensor';
import {
  add,
  concat,
  matmul,
  mul,
  nn,
  noGrad,
  param,
  reshape,
  sigmoid,
  split,
  squeeze,
  unsqueeze,
  Variable,
} from '@hyperconn/autograd';
import type { Branch, HyperConnection, HyperConnectionOptions, SplitResult, TokenMaps, Variant } from '../hyper-connection.js';

/** The per-token maps as differentiable variables, shaped as in `TokenMaps`. */
export interface MapVariables {
  hRes: Variable;
  hPre: Variable;
  hPost: Variable;
}

function checkInteger(op: string, name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new ValueError(`${op}: ${name} must be an integer ≥ ${min}, got ${value}`);
}

/** The options every variant reads, validated, with the spec's defaults. */
export interface CommonOptions {
  n: number;
  dim: number;
  layerIndex: number;
  eps: number;
  dtype: DType;
}

export function commonOptions(op: string, options: HyperConnectionOptions, n: number): CommonOptions {
  checkInteger(op, 'n', n, 1);
  checkInteger(op, 'dim', options.dim, 1);
  checkInteger(op, 'layerIndex', options.layerIndex, 0);
  const eps = options.eps ?? 1e-6;
  if (!(eps >= 0 && Number.isFinite(eps))) throw new ValueError(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
  const dtype = options.dtype ?? 'float64';
  if (dtype !== 'float64' && dtype !== 'float32') throw new DTypeError(`${op}: dtype must be 'float64' or 'float32', got ${String(dtype)}`);
  return { n, dim: options.dim, layerIndex: options.layerIndex, eps, dtype };
}

/** An integer option with a default, validated. */
export function integerOption(op: string, name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  checkInteger(op, name, v, min);
  return v;
}

/**
 * The base of every variant. Subclasses supply `computeMaps` (batched over tokens, from
 * differentiable ops) and say which parameters are projection weights (weight decay applies).
 */
export abstract class HyperConnectionBase extends nn.Module implements HyperConnection {
  abstract readonly variant: Variant;
  readonly n: number;
  readonly dim: number;
  readonly dtype: DType;
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
  }

  /** H_res [B,T,n,n], H_pre [B,T,n], H_post [B,T,n] for a validated X [B,T,n,C]. */
  protected abstract computeMaps(x: Variable): MapVariables;

  /** The parameters that weight decay applies to (the input-dependent projections). */
  protected abstract projectionWeights(): Variable[];

  get lastMaps(): TokenMaps | null {
    return this.#lastMaps;
  }

  forward<A extends unknown[]>(x: Variable, branch: Branch<A>, ...args: A): Variable {
    const { branchInput, merge } = this.split(x);
    const y = typeof branch === 'function' ? branch(branchInput, ...args) : branch.forward(branchInput, ...args);
    return merge(y);
  }

  split(x: Variable): SplitResult {
    const input = this.checkInput(x);
    const maps = this.computeMaps(input);
    this.#lastMaps = this.checkMaps(detachMaps(maps));
    const [batch, seq] = input.shape as [number, number, number, number];
    // H_pre·X per token: [B,T,1,n] @ [B,T,n,C] → [B,T,1,C]
    const branchInput = squeeze(matmul(unsqueeze(maps.hPre, -2), input), -2);
    const merge = (branchOutput: Variable): Variable => {
      if (!(branchOutput instanceof Variable)) {
        throw new ValueError(`${this.label}: the branch must return a Variable, got ${typeof branchOutput}`);
      }
      const expected = [batch, seq, this.dim];
      if (branchOutput.shape.length !== 3 || branchOutput.shape.some((d, i) => d !== expected[i])) {
        throw new ShapeError(`${this.label}: the branch output has shape ${fmtShape(branchOutput.shape)}, expected ${fmtShape(expected)}`);
      }
      // H_res·X + H_postᵀ ⊗ y: [B,T,n,1] * [B,T,1,C]
      return add(matmul(maps.hRes, input), mul(unsqueeze(maps.hPost, -1), unsqueeze(branchOutput, -2)));
    };
    return { branchInput, merge };
  }

  maps(x: Variable | Tensor): TokenMaps {
    const input = this.checkInput(x instanceof Variable ? x : new Variable(x));
    return this.checkMaps(noGrad(() => detachMaps(this.computeMaps(input))));
  }

  parameterGroups(): { decay: Variable[]; noDecay: Variable[] } {
    const decay = new Set(this.projectionWeights());
    const params = this.parameters();
    return { decay: params.filter((p) => decay.has(p)), noDecay: params.filter((p) => !decay.has(p)) };
  }

  private checkInput(x: Variable): Variable {
    if (x.shape.length !== 4 || x.shape[2] !== this.n || x.shape[3] !== this.dim) {
      throw new ShapeError(`${this.label}: input of shape ${fmtShape(x.shape)} must be [batch, seq, ${this.n}, ${this.dim}] (n = ${this.n} streams of size ${this.dim})`);
    }
    if (x.dtype !== this.dtype) {
      throw new DTypeError(`${this.label}: input is ${x.dtype} but the layer's parameters are ${this.dtype}`);
    }
    const bad = firstNonFinite(x.value);
    if (bad !== null) throw new ValueError(`${this.label}: input of shape ${fmtShape(x.shape)} has the non-finite value ${bad.value} at flat index ${bad.index}`);
    return x;
  }

  /**
   * Finite input can still give non-finite maps (eps = 0 with an all-zero token, or overflowing
   * parameters): reported here rather than passed on as NaN.
   */
  private checkMaps(maps: TokenMaps): TokenMaps {
    for (const key of ['hRes', 'hPre', 'hPost'] as const) {
      const bad = firstNonFinite(maps[key]);
      if (bad !== null) {
        const perToken = maps[key].size / (maps[key].shape[0]! * maps[key].shape[1]!);
        const token = Math.floor(bad.index / perToken);
        const seq = maps[key].shape[1]!;
        throw new ValueError(
          `${this.label}: ${key} of token (batch ${Math.floor(token / seq)}, position ${token % seq}) has the non-finite value ${bad.value} although the input is finite (an all-zero token with eps = 0, or non-finite parameters?)`,
        );
      }
    }
    return maps;
  }

  /** A parameter of the layer's dtype holding `values` in the given shape (default 1-d). */
  protected parameter(values: readonly number[], shape: readonly number[] = [values.length]): Variable {
    const data = this.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
    return param(tensor(data, { shape }));
  }

  /** A zero-initialised projection weight [rows, cols]. */
  protected zeros(rows: number, cols: number): Variable {
    return param(zerosTensor([rows, cols], { dtype: this.dtype }));
  }
}

function firstNonFinite(t: Tensor): { index: number; value: number } | null {
  const flat = t.toTypedArray();
  for (let i = 0; i < flat.length; i++) if (!Number.isFinite(flat[i]!)) return { index: i, value: flat[i]! };
  return null;
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
  return split(fused, weights.map((w) => w.shape[1]!), -1);
}

/** mHC's gate biases: −1 everywhere except +1 at stream `layerIndex mod n`. */
export function gateBias(n: number, layerIndex: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === layerIndex % n ? 1 : -1));
}

/** vec(X) per token: [B,T,n,C] → [B·T, n·C] (rows of X concatenated). */
function tokenVectors(x: Variable): Variable {
  const [batch, seq, n, dim] = x.shape as [number, number, number, number];
  return reshape(x, [batch * seq, n * dim]);
}

/**
 * The front that mHC, mHC-lite and sHC share: v = RMSNorm(vec(X)) per token, one fused
 * projection onto [W_pre | W_post | W_res], and the gates H_pre = σ(s_pre·(v W_pre) + b_pre)
 * ∈ (0,1)ⁿ and H_post = 2σ(s_post·(v W_post) + b_post) ∈ (0,2)ⁿ. Returns the gates and
 * res = v W_res, all [B·T, ...].
 */
export function gatedProjection(
  x: Variable,
  norm: nn.RMSNorm,
  [wPre, wPost, wRes]: readonly [Variable, Variable, Variable],
  [scalePre, scalePost]: readonly [Variable, Variable],
  [biasPre, biasPost]: readonly [Variable, Variable],
): { hPre: Variable; hPost: Variable; res: Variable } {
  const [pre, post, res] = project(norm.forward(tokenVectors(x)), [wPre, wPost, wRes]) as [Variable, Variable, Variable];
  return {
    hPre: sigmoid(add(mul(scalePre, pre), biasPre)),
    hPost: mul(sigmoid(add(mul(scalePost, post), biasPost)), 2),
    res,
  };
}

/** [B·T, ...] → [B, T, ...] for the batch and sequence lengths of `x` [B,T,n,C]. */
function perToken(t: Variable, x: Variable): Variable {
  return reshape(t, [x.shape[0]!, x.shape[1]!, ...t.shape.slice(1)]);
}

/** Maps computed for the B·T tokens of `x` [B,T,n,C] ([B·T, ...]), shaped per token as `computeMaps` returns them. */
export function perTokenMaps({ hRes, hPre, hPost }: MapVariables, x: Variable): MapVariables {
  return { hRes: perToken(hRes, x), hPre: perToken(hPre, x), hPost: perToken(hPost, x) };
}
