/**
 * What every variant shares: input checks, the update X' = H_res·X + H_postᵀ·F(H_pre·X) in its
 * two call styles, `maps`/`lastMaps`, parameter groups, and the fused projection that HC and
 * the gated variants (gated.ts) build their maps from.
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
import { add, concat, matmul, mul, nn, noGrad, param, split, squeeze, unsqueeze, Variable } from '@hyperconn/autograd';
import type {
  Branch,
  CommonHyperConnectionOptions,
  HyperConnection,
  SplitResult,
  TokenMaps,
  Variant,
} from '../hyper-connection.js';

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
  return { n, dim: options.dim, layerIndex: options.layerIndex, eps, dtype };
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

  forward<A extends unknown[]>(x: Variable | Tensor, branch: Branch<A>, ...args: A): Variable {
    const isModule =
      typeof branch === 'object' && branch !== null && typeof (branch as { forward?: unknown }).forward === 'function';
    if (typeof branch !== 'function' && !isModule) {
      throw new ValueError(
        `${this.label}: the branch must be a function or a module with a forward method, got ${describe(branch)}`,
      );
    }
    const { branchInput, merge } = this.split(x);
    const y = typeof branch === 'function' ? branch(branchInput, ...args) : branch.forward(branchInput, ...args);
    return merge(y);
  }

  split(x: Variable | Tensor): SplitResult {
    const input = this.checkInput(x);
    const maps = this.computeMaps(input);
    this.#lastMaps = this.checkMaps(detachMaps(maps));
    const [batch, seq] = input.shape as [number, number, number, number];
    // H_pre·X per token: [B,T,1,n] @ [B,T,n,C] → [B,T,1,C]
    const branchInput = squeeze(matmul(unsqueeze(maps.hPre, -2), input), -2);
    const merge = (branchOutput: Variable): Variable => {
      if (!(branchOutput instanceof Variable)) {
        // a Tensor would silently cut the branch out of the gradient: the caller must say so
        const hint =
          (branchOutput as unknown) instanceof Tensor ? ' (wrap it with variable() if it is meant as a constant)' : '';
        throw new ValueError(`${this.label}: the branch must return a Variable, got ${describe(branchOutput)}${hint}`);
      }
      const expected = [batch, seq, this.dim];
      if (branchOutput.shape.length !== 3 || branchOutput.shape.some((d, i) => d !== expected[i])) {
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
      // H_res·X + H_postᵀ ⊗ y: [B,T,n,1] * [B,T,1,C]
      return add(matmul(maps.hRes, input), mul(unsqueeze(maps.hPost, -1), unsqueeze(branchOutput, -2)));
    };
    return { branchInput, merge };
  }

  maps(x: Variable | Tensor): TokenMaps {
    const input = this.checkInput(x);
    return this.checkMaps(noGrad(() => detachMaps(this.computeMaps(input))));
  }

  parameterGroups(): { decay: Variable[]; noDecay: Variable[] } {
    const decay = new Set(this.projectionWeights());
    const params = this.parameters();
    return { decay: params.filter((p) => decay.has(p)), noDecay: params.filter((p) => !decay.has(p)) };
  }

  /** A Variable, or a Tensor taken as a constant input; ValueError for anything else. */
  private checkInput(value: Variable | Tensor): Variable {
    let x: Variable;
    if (value instanceof Variable) x = value;
    else if (value instanceof Tensor) x = new Variable(value);
    else
      throw new ValueError(
        `${this.label}: input must be a Variable or a Tensor [batch, ` +
          `seq, ${this.n}, ${this.dim}], got ${describe(value)}`,
      );
    if (x.shape.length !== 4 || x.shape[2] !== this.n || x.shape[3] !== this.dim) {
      throw new ShapeError(
        `${this.label}: input of shape ${fmtShape(x.shape)} must be [batch, seq, ` +
          `${this.n}, ${this.dim}] (n = ${this.n} streams of size ${this.dim})`,
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

function firstNonFinite(t: Tensor): { index: number; value: number } | null {
  const flat = t.toTypedArray();
  for (let i = 0; i < flat.length; i++) if (!Number.isFinite(flat[i]!)) return { index: i, value: flat[i]! };
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
