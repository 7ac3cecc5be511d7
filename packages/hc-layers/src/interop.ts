/**
 * Module-level interop with the PyTorch reference implementations (docs/interop.md): a layer's
 * parameters in the reference module's own names, shapes and orientation, plus the JSON config
 * its constructor needs, and back.
 *
 * - 'hc': lucidrains `hyper_connections.HyperConnections`;
 * - 'mhc', 'mhcLite', 'kromhc', 'shc': the `6zHAOyi/s2HC` modules `litgpt/hyper_conn/mhc.py`
 *   (`ManifoldConstrainedHyperConnections`), `mhc_lite.py` (`MHCLite`), `kromhc.py` (`KromHC`)
 *   and `shc.py` (`SHyperConnections`);
 * - 'residual': their `Residual` (n = 1, no parameters).
 *
 * The reference modules apply their mixing matrix as `out[t] = Σ_s H[s, t]·x[s]`, the transpose
 * of ours (rows = output streams), and their RMSNorm is `normalize(x)·√d·(γ + 1)`: our
 * `x/√(mean x² + eps)·w` with eps = 0 and w = γ + 1. Conversions are exact (a permutation,
 * transpose or copy of the values, and γ = w − 1 when γ + 1 gives w back); what cannot be
 * matched is refused with a ValueError naming the difference, unless `approximate: true`.
 */
import { DTypeError, Random, ShapeError, Tensor, ValueError, type DType } from '@hyperconn/tensor';
import { type Variable, add, mul, reshape, transpose, unsqueeze } from '@hyperconn/autograd';
import { helmertBasis, permutations, sinkhorn } from '@hyperconn/manifolds';
import type { HyperConnection, Variant } from './hyper-connection.js';
import { DeepResidualMLP, TinyTransformer } from './models.js';
import { HCLayer } from './variants/hc.js';
import { KromHCLayer, kromhcFactors } from './variants/kromhc.js';
import { MHCLiteLayer } from './variants/mhc-lite.js';
import { MHCLayer } from './variants/mhc.js';
import { ResidualLayer } from './variants/residual.js';
import { SHCLayer } from './variants/shc.js';

/** The variants with a reference module. */
export type ReferenceVariant = 'residual' | 'hc' | 'mhc' | 'mhcLite' | 'kromhc' | 'shc';

/** The reference constructor's keyword arguments that a state dict needs (JSON values). */
export type ReferenceConfig = Record<string, number | boolean>;

/** A layer in a reference module's terms. */
export interface ReferenceStateDict {
  /** The reference class, e.g. `litgpt.hyper_conn.shc.SHyperConnections`. */
  module: string;
  /** Parameters (and, for sHC, buffers) under the reference names, in the reference's order. */
  tensors: Record<string, Tensor>;
  /** The constructor's keyword arguments: `num_residual_streams`, `dim`, … */
  config: ReferenceConfig;
}

/** Options of `toReferenceStateDict`. */
export interface ToReferenceOptions {
  /** `layer_index` written to the config; it only chooses the reference's init. Default 0. */
  layerIndex?: number;
  /**
   * Export even where the reference computes a different function: RMSNorm eps ≠ 0, a gain w
   * with (w − 1) + 1 ≠ w in the layer's dtype, or (mHC) our Sinkhorn order. Default false.
   */
  approximate?: boolean;
  /**
   * Export the parameters' gradients (after `backward`) in the reference layout instead of their
   * values, to compare with PyTorch's `.grad` (γ's gradient is w's; sHC buffers are left out).
   */
  gradients?: boolean;
}

/** Options of `fromReferenceStateDict`. */
export interface FromReferenceOptions {
  /** false: build a static layer (`dynamic: false`); the reference's projections must then be 0. Default true. */
  dynamic?: boolean;
}

const MODULES: Record<ReferenceVariant, string> = {
  residual: 'Residual',
  hc: 'hyper_connections.hyper_connections.HyperConnections',
  mhc: 'litgpt.hyper_conn.mhc.ManifoldConstrainedHyperConnections',
  mhcLite: 'litgpt.hyper_conn.mhc_lite.MHCLite',
  kromhc: 'litgpt.hyper_conn.kromhc.KromHC',
  shc: 'litgpt.hyper_conn.shc.SHyperConnections',
};
const REFERENCE_VARIANTS = Object.keys(MODULES) as ReferenceVariant[];

/**
 * mHC with the reference's Sinkhorn order. The s2HC module normalises its matrix over the
 * input streams, then over the output streams, so in our orientation the **columns** of H_res
 * come out exact and the rows carry the Sinkhorn error: H_res = Sinkhorn(H̃ᵀ)ᵀ with our
 * `sinkhorn` (columns, then rows). No parameter values make `MHCLayer`'s order (rows exact)
 * reproduce those iterates, so `fromReferenceStateDict('mhc', …)` builds this layer. Everything
 * else (parameters, names, gates) is `MHCLayer`'s.
 */
export class ReferenceSinkhornMHCLayer extends MHCLayer {
  protected override resMatrix(z: Variable | null): Variable {
    // z is null for a static layer: the logits are b_res alone, one matrix for every token
    const logits =
      z === null ? unsqueeze(this.resBias, 0) : add(mul(this.resScale, reshape(z, [-1, this.n, this.n])), this.resBias);
    return transpose(sinkhorn(transpose(logits), { iters: this.sinkhornIters }).matrix);
  }
}

type Flat = Float64Array | Float32Array;

const quoted = (names: readonly string[]): string => names.map((v) => `'${v}'`).join(', ');

const describe = (x: unknown): string =>
  x === null || x === undefined ? String(x) : typeof x === 'object' ? `a ${x.constructor?.name ?? 'object'}` : typeof x;

/** A tensor of `dtype` and `shape` whose i-th element (C order) is `at(i)`. */
function build(dtype: DType, shape: readonly number[], at: (i: number) => number): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = at(i);
  return new Tensor(data, [...shape]);
}

/** Element access for `build`: `(i) => values[i]`. */
const at =
  (values: ArrayLike<number>) =>
  (i: number): number =>
    values[i]!;

/** The C-order values of a parameter (a copy). */
const flat = (v: Variable | Tensor): Flat => (v instanceof Tensor ? v : v.value).toTypedArray() as Flat;

/** [rows, cols] with column c taken from column `pick(c)` of `src` [rows, srcCols]. */
function columns(src: Flat, rows: number, srcCols: number, cols: number, pick: (c: number) => number): Flat {
  const out = src instanceof Float64Array ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = src[r * srcCols + pick(c)]!;
  return out;
}

/** The transpose [cols, rows] of `src` [rows, cols]. */
function transposed(src: Flat, rows: number, cols: number): Flat {
  const out = src instanceof Float64Array ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/** The reference's RMSNorm gain γ [d] for our gain w (w = γ + 1), refusing a w that γ + 1 misses. */
function gammaOf(op: string, w: Flat, dtype: DType, approximate: boolean): Flat {
  const round = dtype === 'float64' ? (x: number) => x : Math.fround;
  const gamma = w.map((x) => round(x - 1)) as Flat;
  if (!approximate) {
    const i = gamma.findIndex((g, k) => !Object.is(round(g + 1), w[k]) && !(Number.isNaN(w[k]!) && Number.isNaN(g)));
    if (i >= 0) {
      throw new ValueError(
        `${op}: RMSNorm gain w[${i}] = ${w[i]} is not exactly γ + 1 for any ${dtype} γ (the reference stores ` +
          `γ = w − 1 = ${gamma[i]}, whose γ + 1 is ${round(gamma[i]! + 1)}); pass { approximate: true } to accept that`,
      );
    }
  }
  return gamma;
}

function checkEps(op: string, eps: number, approximate: boolean): void {
  if (eps !== 0 && !approximate) {
    throw new ValueError(
      `${op}: the layer's RMSNorm has eps = ${eps}, the reference's F.normalize has none (it clamps the norm ` +
        'at 1e-12), so the outputs would differ by O(eps); build the layer with eps: 0 (as ' +
        'fromReferenceStateDict does) or pass { approximate: true }',
    );
  }
}

/** Inverse-permutation index: P_inv[k] is the index of π_k⁻¹ (P_{inv[k]} = P_kᵀ). */
function inversePermutationIndex(n: number): number[] {
  const perms = permutations(n);
  const index = new Map(perms.map((p, k) => [p.join(','), k]));
  return perms.map((p) => {
    const inverse = new Array<number>(n);
    p.forEach((j, i) => {
      inverse[j] = i;
    });
    return index.get(inverse.join(','))!;
  });
}

/** What the exporters share: the caller's name and flags, and how a parameter is read. */
interface ExportContext {
  op: string;
  approximate: boolean;
  gradients: boolean;
  read: (v: Variable) => Flat;
}

/**
 * The values of a dynamic parameter, or for a static layer (which has none) the reference's
 * equivalent: `size` copies of `fill` (weights 0, so the dynamic terms vanish exactly; a scale
 * then multiplies 0 and keeps the reference's init 0.01), and 0 for gradients.
 */
function dynamicValues(
  ctx: ExportContext,
  layer: { readonly dynamic: boolean; readonly dtype: DType },
  get: () => Variable,
  fill: number,
  size: number,
): Flat {
  if (layer.dynamic) return ctx.read(get());
  const out = layer.dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  return out.fill(ctx.gradients ? 0 : fill);
}

/** γ of the layer's RMSNorm over `size` values (0 for a static layer, whose norm feeds nothing). */
function gainGamma(
  ctx: ExportContext,
  layer: { readonly dynamic: boolean; readonly dtype: DType; readonly norm: { eps: number; weight: Variable } },
  size: number,
): Flat {
  if (!layer.dynamic) return layer.dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  checkEps(ctx.op, layer.norm.eps, ctx.approximate);
  return gammaFor(ctx, ctx.read(layer.norm.weight), layer.dtype);
}

/** γ for our gain w, or for gradients the gradient itself (∂/∂γ = ∂/∂w). */
function gammaFor(ctx: ExportContext, w: Flat, dtype: DType): Flat {
  return ctx.gradients ? w : gammaOf(ctx.op, w, dtype, ctx.approximate);
}

/** The s2HC gated modules' beta part and RMSNorm gain, shared by mHC, mHC-lite and KromHC. */
function gatedTail(
  layer: MHCLayer | MHCLiteLayer | KromHCLayer,
  ctx: ExportContext,
): { gamma: Tensor; beta: Record<string, Tensor> } {
  const { n, dim, dtype } = layer;
  const gamma = gainGamma(ctx, layer, n * dim);
  return {
    gamma: build(dtype, [n * dim], (i) => gamma[i]!),
    beta: {
      static_beta: build(dtype, [n], at(ctx.read(layer.postBias))),
      dynamic_beta_fn: build(
        dtype,
        [n * dim, n],
        at(dynamicValues(ctx, layer, () => layer.postWeight, 0, n * dim * n)),
      ),
      h_post_scale: build(dtype, [], () => dynamicValues(ctx, layer, () => layer.postScale, 0.01, 1)[0]!),
    },
  };
}

/**
 * The layer's parameters in its reference module's names, shapes and orientation, and the
 * config that module's constructor needs (docs/interop.md has one table per variant). Exact:
 * the tensors hold our values permuted, transposed or copied, and the RMSNorm gain as γ = w − 1.
 * ValueError (naming the difference) when the reference would compute another function: a
 * variant without a reference module ('shcPower'), KromHC with n not a power of two, RMSNorm
 * eps ≠ 0, a gain that γ + 1 cannot give back, or an `MHCLayer` whose Sinkhorn normalises rows
 * last (use `ReferenceSinkhornMHCLayer`) — the last three pass with `approximate: true`.
 */
export function toReferenceStateDict(layer: HyperConnection, options: ToReferenceOptions = {}): ReferenceStateDict {
  const op = 'toReferenceStateDict';
  if (typeof options !== 'object' || options === null)
    throw new ValueError(`${op}: options must be an object, got ${describe(options)}`);
  const approximate = options.approximate ?? false;
  const gradients = options.gradients ?? false;
  const ctx: ExportContext = {
    op,
    approximate,
    gradients,
    read: gradients
      ? (v) => {
          if (v.grad === null)
            throw new ValueError(`${op}: a parameter has no gradient yet (run backward first, or drop gradients)`);
          return flat(v.grad);
        }
      : flat,
  };
  const layerIndex = options.layerIndex ?? 0;
  if (!Number.isSafeInteger(layerIndex) || layerIndex < 0)
    throw new ValueError(`${op}: layerIndex must be an integer ≥ 0, got ${layerIndex}`);
  if (typeof layer !== 'object' || layer === null || !('variant' in layer))
    throw new ValueError(`${op}: layer must be a hyper-connection layer, got ${describe(layer)}`);
  checkExportable(op, layer);
  const config: ReferenceConfig = { num_residual_streams: layer.n, dim: layer.dim, layer_index: layerIndex };
  // the layout changes how the input is laid out, not the parameters
  if ((layer as { layout?: string }).layout === 'channelsFirst') config.channel_first = true;

  if (layer instanceof ResidualLayer) {
    return { module: MODULES.residual, tensors: {}, config: { num_residual_streams: 1, dim: layer.dim } };
  }
  if (layer instanceof HCLayer) {
    return {
      module: MODULES.hc,
      tensors: hcTensors(layer, ctx),
      config: { ...config, tanh: layer.useTanh },
    };
  }
  if (layer instanceof MHCLayer) {
    if (!(layer instanceof ReferenceSinkhornMHCLayer) && !approximate) {
      throw new ValueError(
        `${op}: this MHCLayer's Sinkhorn normalises H_res's rows last (rows exact), the reference's normalises ` +
          'the columns last (in our orientation), so the maps differ by the Sinkhorn residual; build a ' +
          'ReferenceSinkhornMHCLayer (fromReferenceStateDict does) or pass { approximate: true }',
      );
    }
    const { n, dim, dtype } = layer;
    const { gamma, beta } = gatedTail(layer, ctx);
    const preBias = ctx.read(layer.preBias);
    const resBias = ctx.read(layer.resBias);
    const preWeight = dynamicValues(ctx, layer, () => layer.preWeight, 0, n * dim * n);
    const resWeight = dynamicValues(ctx, layer, () => layer.resWeight, 0, n * dim * n * n);
    // row s of static_alpha: [pre logit of s | residual logits H̃[s, t] = ours H̃[t, s]]
    const staticAlpha = build(dtype, [n, n + 1], (i) => {
      const [s, t] = [Math.floor(i / (n + 1)), i % (n + 1)];
      return t === 0 ? preBias[s]! : resBias[(t - 1) * n + s]!;
    });
    const dynamic = build(dtype, [n * dim, n * (n + 1)], (i) => {
      const [row, col] = [Math.floor(i / (n * (n + 1))), i % (n * (n + 1))];
      const [s, t] = [Math.floor(col / (n + 1)), col % (n + 1)];
      return t === 0 ? preWeight[row * n + s]! : resWeight[row * n * n + (t - 1) * n + s]!;
    });
    return {
      module: MODULES.mhc,
      tensors: {
        'norm.gamma': gamma,
        static_alpha: staticAlpha,
        dynamic_alpha_fn: dynamic,
        pre_branch_scale: build(dtype, [1], () => dynamicValues(ctx, layer, () => layer.preScale, 0.01, 1)[0]!),
        residual_scale: build(dtype, [1], () => dynamicValues(ctx, layer, () => layer.resScale, 0.01, 1)[0]!),
        ...beta,
      },
      config: { ...config, sinkhorn_iters: layer.sinkhornIters },
    };
  }
  if (layer instanceof MHCLiteLayer || layer instanceof KromHCLayer) {
    const { n, dim, dtype } = layer;
    const isLite = layer instanceof MHCLiteLayer;
    if (!isLite && (n & (n - 1)) !== 0) {
      throw new ValueError(
        `${op}: KromHC with n = ${n} streams (factors ${kromhcFactors(n).join('·')}) has no reference ` +
          'counterpart: the reference KromHC asserts that n is a power of two',
      );
    }
    const { gamma, beta } = gatedTail(layer, ctx);
    const count = layer.resBias.shape[0]!;
    // mHC-lite: the reference mixes Σ a_r P_r applied transposed, i.e. P_rᵀ = P_{inv[r]} in ours;
    // KromHC's 2×2 factors are symmetric, and so is their Kronecker product: nothing to permute
    const pick = isLite ? inversePermutationIndex(n) : Array.from({ length: count }, (_, r) => r);
    const preBias = ctx.read(layer.preBias);
    const resBias = ctx.read(layer.resBias);
    const weights = dynamicValues(ctx, layer, () => layer.preWeight, 0, n * dim * n);
    const resWeight = dynamicValues(ctx, layer, () => layer.resWeight, 0, n * dim * count);
    return {
      module: isLite ? MODULES.mhcLite : MODULES.kromhc,
      tensors: {
        'norm.gamma': gamma,
        static_alpha: build(dtype, [n + count], (i) => (i < n ? preBias[i]! : resBias[pick[i - n]!]!)),
        dynamic_alpha_fn: build(dtype, [n * dim, n + count], (i) => {
          const [row, col] = [Math.floor(i / (n + count)), i % (n + count)];
          return col < n ? weights[row * n + col]! : resWeight[row * count + pick[col - n]!]!;
        }),
        pre_branch_scale: build(dtype, [1], () => dynamicValues(ctx, layer, () => layer.preScale, 0.01, 1)[0]!),
        residual_scale: build(dtype, [1], () => dynamicValues(ctx, layer, () => layer.resScale, 0.01, 1)[0]!),
        ...beta,
      },
      config,
    };
  }
  if (layer instanceof SHCLayer) return { module: MODULES.shc, tensors: shcTensors(layer, ctx), config };
  throw new ValueError(
    `${op}: variant '${layer.variant}' has no reference module (only ${quoted(REFERENCE_VARIANTS)})`,
  );
}

/**
 * Refuses what the reference modules have no parameters for: a residual transform (outDim ≠ dim)
 * and maps switched off (H_res = I, H_pre = 1/n or H_post = 1 fixed).
 */
function checkExportable(op: string, layer: HyperConnection): void {
  const l = layer as Partial<{
    residualTransform: unknown;
    outDim: number;
    dim: number;
    resMap: boolean;
    preMap: boolean;
    postMap: boolean;
  }>;
  if ((l.residualTransform ?? null) !== null || (l.outDim !== undefined && l.outDim !== l.dim)) {
    throw new ValueError(
      `${op}: the layer has a residualTransform (outDim ${l.outDim}, dim ${l.dim}); the export covers its ` +
        'own parameters only, with no counterpart for the transform',
    );
  }
  // frac-connections and several views: the reference modules' layouts differ (see the spec)
  for (const key of ['fracs', 'inputViews'] as const) {
    const value = (layer as Partial<Record<typeof key, number>>)[key] ?? 1;
    if (value !== 1)
      throw new ValueError(`${op}: ${key} = ${value} has no exact counterpart in the reference module's layout`);
  }
  const off = (['resMap', 'preMap', 'postMap'] as const).filter((key) => l[key] === false);
  if (off.length > 0) {
    throw new ValueError(
      `${op}: ${off.join(', ')} switched off (a fixed map) has no parameterisation in the reference module`,
    );
  }
}

function hcTensors(layer: HCLayer, ctx: ExportContext): Record<string, Tensor> {
  const { n, dim, dtype } = layer;
  const preBias = ctx.read(layer.preBias);
  const resBias = ctx.read(layer.resBias);
  // A static layer is the reference with zero dynamic weights (tanh(0)·s = 0 exactly); the
  // scales and the gain are then the reference's init, which cannot matter.
  let gamma: Flat = dtype === 'float64' ? new Float64Array(dim) : new Float32Array(dim);
  let wPre: Flat = gamma.slice(0, 0);
  let wRes: Flat = gamma.slice(0, 0);
  let wPost: Flat = gamma.slice(0, 0);
  let scales = ctx.gradients ? [0, 0] : [0.01, 0.01];
  if (layer.dynamic) {
    checkEps(ctx.op, layer.norm!.eps, ctx.approximate);
    gamma = gammaFor(ctx, ctx.read(layer.norm!.weight), dtype);
    [wPre, wRes, wPost] = [ctx.read(layer.preWeight!), ctx.read(layer.resWeight!), ctx.read(layer.postWeight!)];
    scales = [ctx.read(layer.preResScale!)[0]!, ctx.read(layer.postScale!)[0]!];
  }
  const dynamic = (i: number): number => {
    if (!layer.dynamic) return 0;
    const [row, col] = [Math.floor(i / (n + 1)), i % (n + 1)];
    return col === 0 ? wPre[row]! : wRes[row * n + col - 1]!;
  };
  return {
    'norm.gamma': build(dtype, [dim], (i) => gamma[i]!),
    // row s: [A_m[s] | A_r[s, :]], A_r in the paper's layout (H_res = A_rᵀ) as the reference stores it
    static_alpha: build(dtype, [n, n + 1], (i) => {
      const [s, t] = [Math.floor(i / (n + 1)), i % (n + 1)];
      return t === 0 ? preBias[s]! : resBias[s * n + t - 1]!;
    }),
    dynamic_alpha_fn: build(dtype, [dim, n + 1], dynamic),
    dynamic_alpha_scale: build(dtype, [], () => scales[0]!),
    static_beta: build(dtype, [n], at(ctx.read(layer.postBias))),
    dynamic_beta_fn: build(dtype, [dim], (i) => (layer.dynamic ? wPost[i]! : 0)),
    dynamic_beta_scale: build(dtype, [], () => scales[1]!),
  };
}

/** The constant buffers of the reference sHC module (J, U_z, I_m and the triangle indices). */
function shcBuffers(n: number, dtype: DType): Record<string, Tensor> {
  const m = n - 1;
  const pairs: [number, number][] = [];
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) pairs.push([i, j]);
  return {
    J: build(dtype, [n, n], () => 1 / n),
    Uz: helmertBasis(n, { dtype }),
    eye_sm1: build(dtype, [m, m], (i) => (i % (m + 1) === 0 ? 1 : 0)),
    triu_i: build(dtype, [pairs.length], (r) => pairs[r]![0]),
    triu_j: build(dtype, [pairs.length], (r) => pairs[r]![1]),
  };
}

/** Column order of the reference's z = [z_U | z_V | z_S] in ours: their U is our V (H_ref = H_oursᵀ). */
function shcColumn(r: number, k: number): number {
  if (r < k) return r + k;
  if (r < 2 * k) return r - k;
  return r;
}

function shcTensors(layer: SHCLayer, ctx: ExportContext): Record<string, Tensor> {
  const { n, dim, dtype } = layer;
  const m = n - 1;
  const k = (m * (m - 1)) / 2;
  const gamma = gainGamma(ctx, layer, n * dim);
  const scalar = (v: Variable | null, fallback: number): Tensor =>
    build(dtype, [1], () => (v === null ? (ctx.gradients ? 0 : fallback) : ctx.read(v)[0]!));
  const resWeight = dynamicValues(ctx, layer, () => layer.resWeight, 0, n * dim * m * m);
  const bias = [
    ...(layer.resBiasU === null ? [] : ctx.read(layer.resBiasU)),
    ...(layer.resBiasV === null ? [] : ctx.read(layer.resBiasV)),
    ...ctx.read(layer.resBiasS),
  ];
  return {
    'norm.gamma': build(dtype, [n * dim], (i) => gamma[i]!),
    'to_alpha_pre.weight': new Tensor(
      transposed(
        dynamicValues(ctx, layer, () => layer.preWeight, 0, n * n * dim),
        n * dim,
        n,
      ),
      [n, n * dim],
    ),
    static_alpha_pre: build(dtype, [n, 1], at(ctx.read(layer.preBias))),
    'to_alpha_residual.weight': build(dtype, [m * m, n * dim], (i) => {
      const [r, c] = [Math.floor(i / (n * dim)), i % (n * dim)];
      return resWeight[c * m * m + shcColumn(r, k)]!;
    }),
    static_alpha_residual: build(dtype, [m * m], (r) => bias[shcColumn(r, k)]!),
    pre_branch_scale: scalar(layer.dynamic ? layer.preScale : null, 0.01),
    // at n = 2 the reference still has the rotation scalars, unused (k = 0): its init values
    residual_rot_scale_u: scalar(layer.resScaleV, 0.01),
    residual_rot_scale_v: scalar(layer.resScaleU, 0.01),
    residual_val_scale: scalar(layer.dynamic ? layer.resScaleS : null, 0.01),
    gamma_u: scalar(layer.resGainV, 1),
    gamma_v: scalar(layer.resGainU, 1),
    'to_beta.weight': new Tensor(
      transposed(
        dynamicValues(ctx, layer, () => layer.postWeight, 0, n * n * dim),
        n * dim,
        n,
      ),
      [n, n * dim],
    ),
    static_beta: build(dtype, [n], at(ctx.read(layer.postBias))),
    h_post_scale: build(dtype, [], () => dynamicValues(ctx, layer, () => layer.postScale, 0.01, 1)[0]!),
    ...(ctx.gradients ? {} : shcBuffers(n, dtype)),
  };
}

// ---------------------------------------------------------------------------------------------
// Import

const CONFIG_KEYS: Record<ReferenceVariant, readonly string[]> = {
  residual: [],
  hc: ['tanh'],
  mhc: ['sinkhorn_iters'],
  mhcLite: [],
  kromhc: [],
  shc: [],
};
/** Keys every reference constructor takes, and the only values we can match. */
const FIXED: Record<string, number | boolean> = {
  num_fracs: 1,
  num_input_views: 1,
  add_branch_out_to_residual: true,
  dropout: 0,
};

function readConfig(
  op: string,
  variant: ReferenceVariant,
  config: unknown,
): { n: number; dim: number; raw: ReferenceConfig } {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new ValueError(
      `${op}: config must be an object of the reference constructor's arguments, got ${describe(config)}`,
    );
  const raw = config as ReferenceConfig;
  const allowed = new Set([
    'num_residual_streams',
    'dim',
    'layer_index',
    'channel_first',
    ...Object.keys(FIXED),
    ...CONFIG_KEYS[variant],
  ]);
  for (const key of Object.keys(raw)) {
    if (!allowed.has(key))
      throw new ValueError(`${op}: config key '${key}' has no counterpart here (accepted: ${[...allowed].join(', ')})`);
  }
  for (const [key, value] of Object.entries(FIXED)) {
    if (key in raw && raw[key] !== value) {
      throw new ValueError(
        `${op}: config ${key} = ${JSON.stringify(raw[key])} has no counterpart here (only ${JSON.stringify(value)}: ` +
          'one input view, no frac-connections, the branch output added back, no dropout)',
      );
    }
  }
  const n = raw.num_residual_streams;
  const dim = raw.dim;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw new ValueError(`${op}: config num_residual_streams must be an integer ≥ 1, got ${JSON.stringify(n)}`);
  if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 1)
    throw new ValueError(`${op}: config dim must be an integer ≥ 1, got ${JSON.stringify(dim)}`);
  return { n, dim, raw };
}

/**
 * The reference tensors checked against the expected names and shapes (all present, nothing
 * else, one float dtype except for the `constants`); their values by name.
 */
function readTensors(
  op: string,
  tensors: unknown,
  expected: Record<string, readonly number[]>,
  constants: readonly string[] = [],
): { values: Map<string, Flat>; dtype: DType } {
  if (typeof tensors !== 'object' || tensors === null)
    throw new ValueError(`${op}: tensors must be a Map or a record of Tensors, got ${describe(tensors)}`);
  const source = new Map(
    tensors instanceof Map ? (tensors as Map<string, unknown>) : Object.entries(tensors as Record<string, unknown>),
  );
  const missing = Object.keys(expected).filter((name) => !source.has(name));
  const unexpected = [...source.keys()].filter((name) => !Object.hasOwn(expected, name));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`missing ${missing.map((k) => `'${k}'`).join(', ')}`);
    if (unexpected.length > 0) parts.push(`unexpected ${unexpected.map((k) => `'${k}'`).join(', ')}`);
    throw new ValueError(`${op}: the reference tensors do not match the module: ${parts.join('; ')}`);
  }
  let dtype: DType | null = null;
  const values = new Map<string, Flat>();
  for (const [name, shape] of Object.entries(expected)) {
    const t = source.get(name);
    if (!(t instanceof Tensor)) throw new ValueError(`${op}: '${name}' is ${describe(t)}, not a Tensor`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ShapeError(`${op}: '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    values.set(name, flat(t));
    // constants may come in any dtype: int64 indices read as float64 beside float32 weights
    if (constants.includes(name)) continue;
    if (dtype === null) dtype = t.dtype;
    else if (t.dtype !== dtype)
      throw new DTypeError(`${op}: '${name}' is ${t.dtype} but the tensors before it are ${dtype} (cast them alike)`);
  }
  return { values, dtype: dtype ?? 'float64' };
}

/** γ + 1 in the dtype: our RMSNorm gain. */
function gainOf(gamma: Flat, dtype: DType): Flat {
  const round = dtype === 'float64' ? (x: number) => x : Math.fround;
  return gamma.map((g) => round(g + 1)) as Flat;
}

/** Loads `values` (our keys → C-order values) into `layer`, shapes from the layer's own parameters. */
function load(
  layer: HyperConnection & { readonly dtype: DType },
  values: Record<string, ArrayLike<number>>,
): HyperConnection {
  const dict = new Map<string, Tensor>();
  for (const [name, p] of layer.namedParameters()) {
    const v = values[name];
    if (v === undefined) throw new ValueError(`fromReferenceStateDict: internal: no value for '${name}'`);
    dict.set(
      name,
      build(layer.dtype, p.shape, (i) => v[i]!),
    );
  }
  layer.loadStateDict(dict);
  return layer;
}

/**
 * A layer of `variant` holding the reference module's parameters `tensors` (a Map or record,
 * names and shapes as `toReferenceStateDict` writes them; F16/BF16 checkpoints decode to
 * float32) built with `config`, the reference constructor's arguments. The layer computes what
 * the reference module computes: its RMSNorm has eps = 0 (the reference has none; a token whose
 * vec(X) is exactly 0 is then a ValueError where the reference returns 0), and 'mhc' gives a
 * `ReferenceSinkhornMHCLayer`. ValueError (ShapeError, DTypeError) for a missing, unexpected or
 * misshapen tensor, mixed dtypes, a config we cannot match (frac-connections, several input
 * views, no depth connection, dropout, an unknown key) or, for 'shc', buffers that are not the
 * reference's constants to the dtype's rounding.
 */
export function fromReferenceStateDict(
  variant: ReferenceVariant,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  config: ReferenceConfig,
  options: FromReferenceOptions = {},
): HyperConnection {
  const op = 'fromReferenceStateDict';
  if (!REFERENCE_VARIANTS.includes(variant)) {
    throw new ValueError(`${op}: unknown variant '${String(variant)}'; expected one of ${quoted(REFERENCE_VARIANTS)}`);
  }
  if (typeof options !== 'object' || options === null)
    throw new ValueError(`${op}: options must be an object, got ${describe(options)}`);
  if (typeof tensors !== 'object' || tensors === null)
    throw new ValueError(`${op}: tensors must be a Map or a record of Tensors, got ${describe(tensors)}`);
  const { n, dim, raw } = readConfig(op, variant, config);
  if ((variant === 'residual') !== (n === 1)) {
    throw new ValueError(
      `${op}: config num_residual_streams = ${n} with variant '${variant}': the reference builds its Residual ` +
        "exactly when there is one stream (use variant 'residual' for n = 1 and only then)",
    );
  }
  if (variant === 'residual') {
    readTensors(op, tensors, {});
    return new ResidualLayer({ dim, layerIndex: 0 });
  }
  if (variant === 'hc') return hcFromReference(op, n, dim, raw, tensors, options.dynamic ?? true);
  const dynamic = options.dynamic ?? true;
  if (variant === 'shc') return shcFromReference(op, n, dim, raw, tensors, dynamic);

  const count = variant === 'mhc' ? n * n : variant === 'mhcLite' ? permutations(n).length : 2 * Math.log2(n);
  if (variant === 'kromhc' && (n & (n - 1)) !== 0)
    throw new ValueError(`${op}: the reference KromHC takes only n a power of two, got num_residual_streams = ${n}`);
  const expected: Record<string, readonly number[]> = {
    'norm.gamma': [n * dim],
    static_alpha: variant === 'mhc' ? [n, n + 1] : [n + count],
    dynamic_alpha_fn: [n * dim, n + count],
    pre_branch_scale: [1],
    residual_scale: [1],
    static_beta: [n],
    dynamic_beta_fn: [n * dim, n],
    h_post_scale: [],
  };
  const { values, dtype } = readTensors(op, tensors, expected);
  const get = (name: string): Flat => values.get(name)!;
  const staticAlpha = get('static_alpha');
  const alphaFn = get('dynamic_alpha_fn');
  const rows = n * dim;
  const width = n + count;
  let preBias: Flat;
  let preWeight: Flat;
  let resBias: Flat;
  let resWeight: Flat;
  if (variant === 'mhc') {
    preBias = columns(staticAlpha, n, n + 1, 1, () => 0);
    preWeight = columns(alphaFn, rows, width, n, (s) => s * (n + 1));
    // ours H̃[t, s] is the reference's H̃[s, t]
    resBias = columns(staticAlpha, 1, 0, n * n, (c) => (c % n) * (n + 1) + 1 + Math.floor(c / n));
    resWeight = columns(alphaFn, rows, width, n * n, (c) => (c % n) * (n + 1) + 1 + Math.floor(c / n));
  } else {
    const pick = variant === 'mhcLite' ? inversePermutationIndex(n) : Array.from({ length: count }, (_, r) => r);
    preBias = staticAlpha.slice(0, n) as Flat;
    preWeight = columns(alphaFn, rows, width, n, (s) => s);
    resBias = columns(staticAlpha, 1, 0, count, (c) => n + pick[c]!);
    resWeight = columns(alphaFn, rows, width, count, (c) => n + pick[c]!);
  }
  checkStatic(op, dynamic, get, ['dynamic_alpha_fn', 'dynamic_beta_fn']);
  const common = { n, dim, layerIndex: 0, eps: 0, dtype, layout: layoutOf(raw), dynamic };
  const layer =
    variant === 'mhc'
      ? new ReferenceSinkhornMHCLayer({
          ...common,
          sinkhornIters: integerConfig(op, raw, 'sinkhorn_iters', 20),
        })
      : variant === 'mhcLite'
        ? new MHCLiteLayer({ ...common, maxN: Math.max(8, n) })
        : new KromHCLayer(common);
  return load(layer, {
    'norm.weight': gainOf(get('norm.gamma'), dtype),
    preWeight,
    postWeight: get('dynamic_beta_fn'),
    resWeight,
    preScale: get('pre_branch_scale'),
    postScale: get('h_post_scale'),
    preBias,
    postBias: get('static_beta'),
    resScale: get('residual_scale'),
    resBias,
  });
}

/** The reference's channel_first as our layout. */
function layoutOf(raw: ReferenceConfig): 'channelsFirst' | 'channelsLast' {
  const first = raw.channel_first ?? false;
  if (typeof first !== 'boolean')
    throw new ValueError(`fromReferenceStateDict: config channel_first must be true or false`);
  return first ? 'channelsFirst' : 'channelsLast';
}

/**
 * For a static import (`dynamic` false): the reference's projection weights must be 0, else the
 * module is not static and the import would drop its dynamic terms.
 */
function checkStatic(op: string, dynamic: unknown, get: (name: string) => Flat, weights: readonly string[]): void {
  if (typeof dynamic !== 'boolean')
    throw new ValueError(`${op}: options.dynamic must be true or false, got ${dynamic}`);
  if (dynamic) return;
  const nonZero = weights.find((name) => get(name).some((x) => x !== 0));
  if (nonZero !== undefined) {
    throw new ValueError(
      `${op}: '${nonZero}' is not all zeros, so the reference module is not static; drop { dynamic: false }`,
    );
  }
}

function integerConfig(op: string, raw: ReferenceConfig, key: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw new ValueError(`${op}: config ${key} must be an integer ≥ 1, got ${JSON.stringify(v)}`);
  return v;
}

function hcFromReference(
  op: string,
  n: number,
  dim: number,
  raw: ReferenceConfig,
  tensors: unknown,
  dynamic: boolean,
): HyperConnection {
  const useTanh = raw.tanh ?? true;
  if (typeof useTanh !== 'boolean') throw new ValueError(`${op}: config tanh must be true or false, got ${useTanh}`);
  const { values, dtype } = readTensors(op, tensors, {
    'norm.gamma': [dim],
    static_alpha: [n, n + 1],
    dynamic_alpha_fn: [dim, n + 1],
    dynamic_alpha_scale: [],
    static_beta: [n],
    dynamic_beta_fn: [dim],
    dynamic_beta_scale: [],
  });
  const get = (name: string): Flat => values.get(name)!;
  const staticAlpha = get('static_alpha');
  const alphaFn = get('dynamic_alpha_fn');
  checkStatic(op, dynamic, get, ['dynamic_alpha_fn', 'dynamic_beta_fn']);
  const layer = new HCLayer({ n, dim, layerIndex: 0, eps: 0, dtype, dynamic, tanh: useTanh, layout: layoutOf(raw) });
  return load(layer, {
    preBias: columns(staticAlpha, n, n + 1, 1, () => 0),
    // the reference stores A_r as we do (H_res = A_rᵀ): a plain copy
    resBias: columns(staticAlpha, n, n + 1, n, (t) => t + 1),
    postBias: get('static_beta'),
    'norm.weight': gainOf(get('norm.gamma'), dtype),
    preWeight: columns(alphaFn, dim, n + 1, 1, () => 0),
    resWeight: columns(alphaFn, dim, n + 1, n, (t) => t + 1),
    postWeight: get('dynamic_beta_fn'),
    preResScale: get('dynamic_alpha_scale'),
    postScale: get('dynamic_beta_scale'),
  });
}

function shcFromReference(
  op: string,
  n: number,
  dim: number,
  raw: ReferenceConfig,
  tensors: unknown,
  dynamic: boolean,
): HyperConnection {
  if (n < 2) throw new ValueError(`${op}: sHC needs num_residual_streams ≥ 2, got ${n}`);
  const m = n - 1;
  const k = (m * (m - 1)) / 2;
  const nc = n * dim;
  const buffers: Record<string, readonly number[]> = {
    J: [n, n],
    Uz: [n, m],
    eye_sm1: [m, m],
    triu_i: [k],
    triu_j: [k],
  };
  const params: Record<string, readonly number[]> = {
    'norm.gamma': [nc],
    'to_alpha_pre.weight': [n, nc],
    static_alpha_pre: [n, 1],
    'to_alpha_residual.weight': [m * m, nc],
    static_alpha_residual: [m * m],
    pre_branch_scale: [1],
    residual_rot_scale_u: [1],
    residual_rot_scale_v: [1],
    residual_val_scale: [1],
    gamma_u: [1],
    gamma_v: [1],
    'to_beta.weight': [n, nc],
    static_beta: [n],
    h_post_scale: [],
  };
  // the buffers are optional (a state dict may leave out constants), but checked when present
  const source =
    tensors instanceof Map ? (tensors as Map<string, unknown>) : new Map(Object.entries(tensors as object));
  const present = Object.fromEntries(Object.entries(buffers).filter(([name]) => source.has(name)));
  const { values, dtype } = readTensors(op, tensors, { ...params, ...present }, Object.keys(buffers));
  const get = (name: string): Flat => values.get(name)!;
  const reference = shcBuffers(n, dtype);
  const tolerance = dtype === 'float64' ? 4e-16 : 2e-7;
  for (const name of Object.keys(present)) {
    const want = flat(reference[name]!);
    const i = get(name).findIndex((x, j) => !(Math.abs(x - want[j]!) <= tolerance));
    if (i >= 0) {
      throw new ValueError(
        `${op}: buffer '${name}'[${i}] = ${get(name)[i]} is not the reference constant ${want[i]} ` +
          `(${dtype} rounding${name === 'Uz' ? '; a Uz built in float32 and cast to float64 differs by ~1e-8' : ''})`,
      );
    }
  }
  const resRows = get('to_alpha_residual.weight');
  const resBias = get('static_alpha_residual');
  // our column c of W_res is the reference's row shcColumn(c) (the swap is its own inverse)
  const ourBias = Array.from({ length: m * m }, (_, c) => resBias[shcColumn(c, k)]!);
  const values_: Record<string, ArrayLike<number>> = {
    'norm.weight': gainOf(get('norm.gamma'), dtype),
    preWeight: transposed(get('to_alpha_pre.weight'), n, nc),
    postWeight: transposed(get('to_beta.weight'), n, nc),
    resWeight: columns(transposed(resRows, m * m, nc), nc, m * m, m * m, (c) => shcColumn(c, k)),
    preScale: get('pre_branch_scale'),
    postScale: get('h_post_scale'),
    preBias: get('static_alpha_pre'),
    postBias: get('static_beta'),
    resScaleS: get('residual_val_scale'),
    resBiasS: ourBias.slice(2 * k),
    resScaleU: get('residual_rot_scale_v'),
    resScaleV: get('residual_rot_scale_u'),
    resGainU: get('gamma_v'),
    resGainV: get('gamma_u'),
    resBiasU: ourBias.slice(0, k),
    resBiasV: ourBias.slice(k, 2 * k),
  };
  checkStatic(op, dynamic, get, ['to_alpha_pre.weight', 'to_alpha_residual.weight', 'to_beta.weight']);
  return load(new SHCLayer({ n, dim, layerIndex: 0, eps: 0, dtype, layout: layoutOf(raw), dynamic }), values_);
}

// ---------------------------------------------------------------------------------------------
// Models

/** A model in the layout that `interop/pytorch` rebuilds (docs/interop.md, "Models"). */
export interface ReferenceModel {
  /**
   * Every parameter: the model's own under its state-dict key, each hyper-connection's under
   * `<its path>.<reference key>` (`blocks.0.attnConnection.static_beta`, …).
   */
  tensors: Record<string, Tensor>;
  /** The model's sizes and options, and each hyper-connection's reference module and config. */
  config: ReferenceModelConfig;
}

/** The JSON config of a `ReferenceModel`. */
export interface ReferenceModelConfig {
  /** The layout's name and version. */
  format: 'hyperconn-model/1';
  /** The model class. */
  model: 'TinyTransformer' | 'DeepResidualMLP';
  /** The hyper-connection variant of every layer. */
  variant: string;
  /** Streams. */
  n: number;
  /** Channels C per stream. */
  dim: number;
  /** Blocks. */
  depth: number;
  /** Hidden width of the MLP branches. */
  hidden: number;
  /** Of every parameter. */
  dtype: DType;
  /** eps of the model's own RMSNorms (the branch pre-norms and the final norm). */
  eps: number;
  /** TinyTransformer only: vocabulary size. */
  vocabSize?: number;
  /** TinyTransformer only: longest sequence (learned positions). */
  seqLen?: number;
  /** TinyTransformer only: attention heads. */
  heads?: number;
  /** TinyTransformer only: logits from the token embedding's transpose. */
  tiedHead?: boolean;
  /** DeepResidualMLP only: input features. */
  inputDim?: number;
  /** DeepResidualMLP only: output features. */
  outputDim?: number;
  /** The variant's own options of every layer (`dynamic`, `tanh`, `sinkhornIters`, `maxN`, `maxFactor`). */
  layerOptions: Record<string, number | boolean>;
  /** Per hyper-connection path: its reference module and constructor config. */
  connections: Record<string, { module: string; config: ReferenceConfig }>;
}

/**
 * `model` (a `TinyTransformer` or `DeepResidualMLP` with the default stream expansion and sum
 * reduction) as one flat dict of tensors and a JSON config: its own parameters under their
 * state-dict keys, each hyper-connection through `toReferenceStateDict` (with `options`, e.g.
 * `approximate: true` for a model trained with eps ≠ 0) under its path. `interop/pytorch`
 * rebuilds the model from these with the reference modules. ValueError for stream embeddings
 * or attention-pool reduction (no reference counterpart) and for any layer the conversion
 * refuses (the message names the layer's path).
 */
export function toReferenceModel(
  model: TinyTransformer | DeepResidualMLP,
  options: ToReferenceOptions = {},
): ReferenceModel {
  const op = 'toReferenceModel';
  const isTransformer = model instanceof TinyTransformer;
  if (!isTransformer && !(model instanceof DeepResidualMLP))
    throw new ValueError(`${op}: model must be a TinyTransformer or a DeepResidualMLP, got ${describe(model)}`);
  if (model.streamExpand.parameters().length > 0 || model.streamReduce.parameters().length > 0) {
    throw new ValueError(
      `${op}: stream embeddings and attention-pool reduction have no counterpart in the rebuild; ` +
        'export a model with the default expansion (repeat) and reduction (sum)',
    );
  }
  const paths = model.hyperConnections.map((_, i) => connectionPath(i, model));
  const tensors: Record<string, Tensor> = {};
  for (const [key, t] of model.stateDict()) if (!paths.some((p) => key.startsWith(`${p}.`))) tensors[key] = t.clone();
  const connections: ReferenceModelConfig['connections'] = {};
  model.hyperConnections.forEach((layer, i) => {
    const path = paths[i]!;
    let exported: ReferenceStateDict;
    try {
      exported = toReferenceStateDict(layer, { ...options, layerIndex: i });
    } catch (e) {
      if (e instanceof ValueError) throw new ValueError(`${op}: ${path}: ${e.message}`);
      throw e;
    }
    for (const [key, t] of Object.entries(exported.tensors)) tensors[`${path}.${key}`] = t;
    connections[path] = { module: exported.module, config: exported.config };
  });
  const first = isTransformer ? model.blocks[0]!.mlp.layer : model.blocks[0]!.branch.layer;
  const common = {
    format: 'hyperconn-model/1' as const,
    variant: model.variant,
    n: model.n,
    dim: model.norm.dim,
    depth: model.blocks.length,
    hidden: first.fc1.outFeatures,
    dtype: model.norm.weight.dtype,
    eps: model.norm.eps,
    layerOptions: layerOptionsOf(model.hyperConnections[0]),
    connections,
  };
  const config: ReferenceModelConfig = isTransformer
    ? {
        ...common,
        model: 'TinyTransformer',
        vocabSize: model.vocabSize,
        seqLen: model.seqLen,
        heads: model.blocks[0]!.attn.layer.heads,
        tiedHead: model.head === null,
      }
    : { ...common, model: 'DeepResidualMLP', inputDim: model.input.inFeatures, outputDim: model.head.outFeatures };
  return { tensors, config };
}

/** The options a model passes to every layer, read back from one of its layers. */
function layerOptionsOf(layer: HyperConnection | undefined): Record<string, number | boolean> {
  if (layer instanceof HCLayer) return { dynamic: layer.dynamic, tanh: layer.useTanh };
  if (layer instanceof MHCLayer) return { dynamic: layer.dynamic, sinkhornIters: layer.sinkhornIters };
  if (layer instanceof MHCLiteLayer) return { dynamic: layer.dynamic, maxN: layer.maxN };
  if (layer instanceof KromHCLayer) return { dynamic: layer.dynamic, maxFactor: layer.maxFactor };
  if (layer instanceof SHCLayer) return { dynamic: layer.dynamic };
  return {};
}

/**
 * The model of a `toReferenceModel` export: `config` as written, `tensors` the flat dict (the
 * model's own parameters by key, each hyper-connection in reference form under its path), e.g.
 * after training on in PyTorch (`interop/pytorch/continue_ddp.py --save`). Each hyper-connection
 * goes through `fromReferenceStateDict` and is loaded into the model's own layer, which must then
 * compute the same function: ValueError for a model with eps ≠ 0 or an mHC model (our Sinkhorn
 * order), unless `approximate: true`. ValueError (naming the key) for a missing or unexpected
 * tensor, and for a config this version cannot read.
 */
export function fromReferenceModel(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  config: ReferenceModelConfig,
  options: { approximate?: boolean } = {},
): TinyTransformer | DeepResidualMLP {
  const op = 'fromReferenceModel';
  if (typeof config !== 'object' || config === null || config.format !== 'hyperconn-model/1')
    throw new ValueError(`${op}: config must be a 'hyperconn-model/1' config from toReferenceModel`);
  if (typeof tensors !== 'object' || tensors === null)
    throw new ValueError(`${op}: tensors must be a Map or a record of Tensors, got ${describe(tensors)}`);
  const approximate = options.approximate ?? false;
  const variant = config.variant as Variant;
  if (!approximate && config.eps !== 0) {
    throw new ValueError(
      `${op}: the model's RMSNorm eps = ${config.eps} is not the reference modules' (none): its hyper-connections ` +
        'would compute another function; pass { approximate: true } to load it anyway',
    );
  }
  if (!approximate && variant === 'mhc') {
    throw new ValueError(
      `${op}: the model's MHCLayers normalise H_res's rows last, the reference's columns: ` +
        'pass { approximate: true } to load it anyway',
    );
  }
  const common = {
    variant,
    n: config.n,
    dim: config.dim,
    depth: config.depth,
    hidden: config.hidden,
    dtype: config.dtype,
    eps: config.eps,
    rng: new Random(0), // every weight is overwritten below
    ...config.layerOptions,
  };
  const model =
    config.model === 'TinyTransformer'
      ? new TinyTransformer({
          ...common,
          vocabSize: config.vocabSize!,
          seqLen: config.seqLen!,
          heads: config.heads!,
          tiedHead: config.tiedHead,
        })
      : new DeepResidualMLP({ ...common, inputDim: config.inputDim!, outputDim: config.outputDim! });
  const source = tensors instanceof Map ? new Map(tensors) : new Map(Object.entries(tensors));
  const paths = Object.keys(config.connections);
  const own = new Map([...source].filter(([key]) => !paths.some((p) => key.startsWith(`${p}.`))));
  const layers = new Map(model.hyperConnections.map((layer, k) => [connectionPath(k, model), layer]));
  const loaded = new Map<string, Tensor>();
  for (const [key, t] of own) loaded.set(key, t);
  for (const path of paths) {
    const layer = layers.get(path);
    if (layer === undefined) throw new ValueError(`${op}: the config names '${path}', which the model does not have`);
    const prefix = `${path}.`;
    const sub = Object.fromEntries(
      [...source].filter(([key]) => key.startsWith(prefix)).map(([key, t]) => [key.slice(prefix.length), t]),
    );
    const { module, config: layerConfig } = config.connections[path]!;
    let converted: HyperConnection;
    try {
      converted = fromReferenceStateDict(
        module === MODULES.residual ? 'residual' : (variant as ReferenceVariant),
        sub,
        layerConfig,
        { dynamic: config.layerOptions?.dynamic !== false },
      );
    } catch (e) {
      if (e instanceof ValueError) throw new ValueError(`${op}: ${path}: ${e.message}`);
      throw e;
    }
    for (const [key, t] of converted.stateDict()) loaded.set(`${prefix}${key}`, t);
  }
  try {
    model.loadStateDict(loaded);
  } catch (e) {
    if (e instanceof ValueError) throw new ValueError(`${op}: ${e.message}`);
    throw e;
  }
  return model;
}

/** The state-dict path of a model's hyper-connection `i` (in `hyperConnections` order). */
function connectionPath(i: number, model: TinyTransformer | DeepResidualMLP): string {
  if (!(model instanceof TinyTransformer)) return `blocks.${i}.connection`;
  return `blocks.${Math.floor(i / 2)}.${i % 2 === 0 ? 'attnConnection' : 'mlpConnection'}`;
}
