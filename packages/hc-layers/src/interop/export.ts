/**
 * Export of a layer to its PyTorch reference module (docs/interop.md): `toReferenceStateDict`
 * writes the layer's parameters (or their gradients) in the reference module's names, shapes and
 * orientation, plus the config its constructor needs, refusing (`checkExportable`) what the
 * reference has no parameters for. `hcTensors` and `shcTensors` convert HC and sHC; mHC,
 * mHC-lite and KromHC share `gatedTail`.
 */
import { type DType, Tensor, ValueError } from '@hyperconn/tensor';
import type { Variable } from '@hyperconn/autograd';
import type { HyperConnection } from '../hyper-connection.js';
import { HCLayer } from '../variants/hc.js';
import { KromHCLayer, kromhcFactors } from '../variants/kromhc.js';
import { MHCLiteLayer } from '../variants/mhc-lite.js';
import { MHCLayer } from '../variants/mhc.js';
import { ResidualLayer } from '../variants/residual.js';
import { SHCLayer } from '../variants/shc.js';
import {
  type Flat,
  MODULES,
  REFERENCE_VARIANTS,
  at,
  build,
  checkEps,
  describe,
  flat,
  gammaOf,
  inversePermutationIndex,
  quoted,
  shcBuffers,
  shcColumn,
  transposed,
} from './common.js';
import { ReferenceSinkhornMHCLayer } from './reference-mhc.js';
import type { ReferenceConfig, ReferenceStateDict, ToReferenceOptions } from './types.js';

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
