/**
 * Import of a PyTorch reference module's state dict (docs/interop.md): `fromReferenceStateDict`
 * checks the reference constructor's config (`readConfig`) and tensors (`readTensors`) and builds
 * the layer that computes what the reference module computes, with RMSNorm gain w = γ + 1 and
 * eps = 0; `hcFromReference` and `shcFromReference` convert HC and sHC, mHC, mHC-lite and KromHC
 * are converted inline.
 */
import { DTypeError, ShapeError, Tensor, ValueError, type DType } from '@hyperconn/tensor';
import { permutations } from '@hyperconn/manifolds';
import type { HyperConnection } from '../hyper-connection.js';
import { HCLayer } from '../variants/hc.js';
import { KromHCLayer } from '../variants/kromhc.js';
import { MHCLiteLayer } from '../variants/mhc-lite.js';
import { ResidualLayer } from '../variants/residual.js';
import { SHCLayer } from '../variants/shc.js';
import {
  type Flat,
  REFERENCE_VARIANTS,
  build,
  columns,
  describe,
  flat,
  inversePermutationIndex,
  quoted,
  shcBuffers,
  shcColumn,
  transposed,
} from './common.js';
import { ReferenceSinkhornMHCLayer } from './reference-mhc.js';
import type { FromReferenceOptions, ReferenceConfig, ReferenceVariant } from './types.js';

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
