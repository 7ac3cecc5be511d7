/**
 * Neural-network building blocks: `Module` (parameters found by reflection on its fields),
 * layers, and losses. Parameter names and shapes follow PyTorch (`Linear.weight` is
 * [out, in], `LayerNorm.weight`/`.bias`, `Sequential` children named `0`, `1`, …), so a
 * state dict saved by PyTorch as safetensors loads when the module trees match.
 */
import * as T from '@hyperconn/tensor';
import {
  DTypeError,
  dtypeOption,
  fmtShape,
  IndexError,
  allocate,
  ones,
  promoteTypes,
  shapesEqual,
  ShapeError,
  Tensor,
  tensor,
  triu,
  ValueError,
  zeros,
  type DType,
  type NestedArray,
  type Random,
} from '@hyperconn/tensor';
import { gradients } from './engine.js';
import * as ops from './ops.js';
import { asVariable, isGradEnabled, param, record, Variable } from './variable.js';

/** What a module owns: parameters (Variables), buffers (Tensors) and child modules. */
export type Member = Variable | Tensor | Module;

const isMember = (x: unknown): x is Member => x instanceof Variable || x instanceof Tensor || x instanceof Module;
const joinName = (prefix: string, name: string): string => (prefix === '' ? name : `${prefix}.${name}`);

/** Options of `Module.loadStateDict` (and of `loadModule` in the Node entry). */
export interface LoadStateDictOptions {
  /** Require the dict's keys to match the module's exactly. Default true. */
  strict?: boolean;
}

/** The keys `loadStateDict` skipped; both lists are empty after a strict load. */
export interface LoadStateDictResult {
  /** Names of the module's parameters and buffers the dict lacks (empty when strict). */
  missingKeys: string[];
  /** Names in the dict that the module does not have (empty when strict). */
  unexpectedKeys: string[];
}

/**
 * The base of every layer and model. A module's members are found by reflection on its own
 * enumerable fields, in declaration order:
 *
 * - a `Variable` field is a parameter (trainable or frozen, by its `requiresGrad`);
 * - a `Tensor` field is a buffer: saved in the state dict, never handed to an optimiser;
 * - a `Module` field is a child, and arrays of members are named `field.0`, `field.1`, ….
 *
 * Anything else (numbers, a `Random`, JS `#private` fields) is ignored. Subclasses that name
 * their members differently override `namedMembers` (as `Sequential` does). Subclasses add a
 * `forward` method with whatever signature suits them.
 */
export class Module {
  /** Set by `train()` / `eval()`; layers such as Dropout behave differently in evaluation. */
  training = true;

  /** This module's own parameters, buffers and children (not its descendants'). */
  namedMembers(): [string, Member][] {
    const out: [string, Member][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (isMember(value)) out.push([key, value]);
      else if (Array.isArray(value)) {
        value.forEach((item: unknown, i) => {
          if (isMember(item)) out.push([`${key}.${i}`, item]);
        });
      }
    }
    return out;
  }

  /**
   * Every parameter and buffer of the tree with its dotted name. A member shared by several
   * modules (tied weights) appears under each of its names.
   */
  private namedTensors(): [string, Variable | Tensor][] {
    const out: [string, Variable | Tensor][] = [];
    const ancestors = new Set<Module>();
    const visit = (m: Module, prefix: string): void => {
      if (ancestors.has(m)) {
        throw new ValueError(
          `Module: '${prefix}' refers back to one of its ancestors; a module tree must not have cycles`,
        );
      }
      ancestors.add(m);
      for (const [name, member] of m.namedMembers()) {
        const full = joinName(prefix, name);
        if (member instanceof Module) visit(member, full);
        else out.push([full, member]);
      }
      ancestors.delete(m);
    };
    visit(this, '');
    return out;
  }

  /** This module (named '') and all its descendants, each once, parents before children. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, prefix: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([prefix, m]);
      for (const [name, member] of m.namedMembers())
        if (member instanceof Module) visit(member, joinName(prefix, name));
    };
    visit(this, '');
    return out;
  }

  /** Every parameter once (a tied parameter under its first name), e.g. `blocks.0.attn.qkv.weight`. */
  namedParameters(): [string, Variable][] {
    const seen = new Set<Variable>();
    const out: [string, Variable][] = [];
    for (const [name, t] of this.namedTensors()) {
      if (t instanceof Variable && !seen.has(t)) {
        seen.add(t);
        out.push([name, t]);
      }
    }
    return out;
  }

  /** Every parameter once, in `namedParameters` order: what an optimiser takes. */
  parameters(): Variable[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /**
   * Copies of every parameter's and buffer's value by name. Copies, because optimisers update
   * parameters in place: a snapshot must not move with the model.
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedTensors().map(([name, t]) => [name, (t instanceof Variable ? t.value : t).clone()]));
  }

  /**
   * Writes the dict's values into the parameters and buffers in place (so optimisers holding
   * them keep working). Everything is validated before anything is written: a shape or dtype
   * mismatch always throws; missing or unexpected keys throw when `strict` (the default) and
   * are reported otherwise.
   */
  loadStateDict(
    dict: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
    options: LoadStateDictOptions = {},
  ): LoadStateDictResult {
    const strict = options.strict ?? true;
    const source: ReadonlyMap<string, Tensor> = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const targets = this.namedTensors();
    const names = new Set(targets.map(([name]) => name));
    const missingKeys = targets.map(([name]) => name).filter((name) => !source.has(name));
    const unexpectedKeys = [...source.keys()].filter((name) => !names.has(name));
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts: string[] = [];
      if (missingKeys.length > 0) parts.push(`missing keys ${missingKeys.map((k) => `'${k}'`).join(', ')}`);
      if (unexpectedKeys.length > 0) parts.push(`unexpected keys ${unexpectedKeys.map((k) => `'${k}'`).join(', ')}`);
      throw new ValueError(`loadStateDict: ${parts.join('; ')} (pass { strict: false } to load the rest)`);
    }
    const writes: [Tensor, Tensor][] = [];
    for (const [name, t] of targets) {
      const src = source.get(name);
      if (src === undefined) continue;
      if (!(src instanceof Tensor)) throw new ValueError(`loadStateDict: '${name}' is not a Tensor`);
      const dst = t instanceof Variable ? t.value : t;
      if (!shapesEqual(src.shape, dst.shape)) {
        throw new ShapeError(
          `loadStateDict: '${name}' has shape ${fmtShape(dst.shape)} ` +
            `in the module but ${fmtShape(src.shape)} in the state dict`,
        );
      }
      if (src.dtype !== dst.dtype) {
        throw new DTypeError(
          `loadStateDict: '${name}' is ${dst.dtype} in the module but ` +
            `${src.dtype} in the state dict (cast with .astype first)`,
        );
      }
      writes.push([dst, src]);
    }
    for (const [dst, src] of writes) dst.assign(src);
    return { missingKeys, unexpectedKeys };
  }

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (`train(false)`): dropout off. Returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Clears `.grad` of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }
}

/** A module mapping one variable to one variable: what `Sequential` chains. */
export interface Layer extends Module {
  /** The layer applied to `x` (a tensor is taken as a constant input). */
  forward(x: Variable | Tensor): Variable;
}

/** Options shared by the layers' constructors. */
export interface LayerOptions {
  /** The dtype of the parameters. Default float64. */
  dtype?: DType;
}

function checkCount(op: string, name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new ValueError(`${op}: ${name} must be a positive integer, got ${n}`);
}

function checkLastAxis(op: string, x: Variable | Tensor, expected: number): void {
  asVariable(op, x); // a typed error for a non-tensor input, before x.shape is read
  const d = x.shape.length === 0 ? undefined : x.shape[x.shape.length - 1];
  if (d !== expected) {
    throw new ShapeError(`${op}: input of shape ${fmtShape(x.shape)} must end in an axis of size ${expected}`);
  }
}

/** `y = x Wᵀ + b` with W of shape [out, in]; W and b start at U(−1/√in, 1/√in), as PyTorch. */
export class Linear extends Module implements Layer {
  readonly weight: Variable;
  readonly bias: Variable | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Random,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    checkCount('Linear', 'inFeatures', inFeatures);
    checkCount('Linear', 'outFeatures', outFeatures);
    const dtype = dtypeOption('Linear', options);
    options ??= {};
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = param(rng.uniform([outFeatures, inFeatures], { low: -bound, high: bound, dtype }));
    this.bias = (options.bias ?? true) ? param(rng.uniform([outFeatures], { low: -bound, high: bound, dtype })) : null;
  }

  /** [..., in] → [..., out]. */
  forward(x: Variable | Tensor): Variable {
    checkLastAxis('Linear', x, this.inFeatures);
    const y = ops.matmul(x, ops.transpose(this.weight));
    return this.bias === null ? y : ops.add(y, this.bias);
  }
}

/**
 * Non-negative integer indices below `bound`, validated, as a float tensor. Shared by the
 * layers and losses that index with class or token ids.
 */
function indexTensor(op: string, what: string, indices: Tensor | NestedArray, bound: number): Tensor {
  const t = indices instanceof Tensor ? indices : tensor(indices);
  for (const k of t.toTypedArray()) {
    if (!Number.isInteger(k) || k < 0 || k >= bound) {
      throw new IndexError(`${op}: ${what} ${k} is out of range [0, ${bound})`);
    }
  }
  return t;
}

/** A table of `num` vectors of size `dim`, drawn from N(0, 1) (as PyTorch). */
export class Embedding extends Module {
  readonly weight: Variable;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    rng: Random,
    options: LayerOptions = {},
  ) {
    super();
    checkCount('Embedding', 'numEmbeddings', numEmbeddings);
    checkCount('Embedding', 'embeddingDim', embeddingDim);
    this.weight = param(rng.normal([numEmbeddings, embeddingDim], { dtype: dtypeOption('Embedding', options) }));
  }

  /** Integer ids of any shape [...] → vectors [..., dim]. */
  forward(indices: Tensor | NestedArray): Variable {
    const idx = indexTensor('Embedding', 'index', indices, this.numEmbeddings);
    const rows = ops.indexSelect(this.weight, 0, idx.flatten());
    return ops.reshape(rows, [...idx.shape, this.embeddingDim]);
  }
}

/** The largest finite number of a dtype. */
const largestOf = (dtype: DType): number => (dtype === 'float64' ? Number.MAX_VALUE : 3.4028234663852886e38);

/**
 * Per row of `d` (its last axis, kept as size 1), as constants of d's dtype: the scale
 * c = max(max|d|, √eps) (1 where both are 0) and eps/c². `eps` is one number or one per row.
 */
function rowScales(d: Tensor, eps: number | Float64Array): { c: Tensor; epsOverC2: Tensor } {
  const maxAbs = T.max(T.abs(d), -1, true);
  const m = maxAbs.toTypedArray();
  const largest = largestOf(d.dtype);
  const c = new Float64Array(m.length);
  const epsOverC2 = new Float64Array(m.length);
  for (let r = 0; r < m.length; r++) {
    const root = Math.sqrt(typeof eps === 'number' ? eps : eps[r]!);
    // c as stored in d's dtype, so that eps/c² goes with the c that d is divided by (a huge eps
    // in float32 is clamped: the output then rounds to 0 either way)
    let cr = Math.min(d.dtype === 'float32' ? Math.fround(Math.max(m[r]!, root)) : Math.max(m[r]!, root), largest);
    if (!(m[r]! < Infinity))
      cr = NaN; // a row holding ±∞ or NaN: NaN throughout, not [NaN, 0]
    else if (cr === 0) cr = 1; // eps = 0 and a zero row: 0/0 below, NaN
    c[r] = cr;
    epsOverC2[r] = (root / cr) ** 2;
  }
  return {
    c: tensor(c, { shape: maxAbs.shape, dtype: d.dtype }),
    epsOverC2: tensor(epsOverC2, { shape: maxAbs.shape, dtype: d.dtype }),
  };
}

/**
 * d / √(mean(d², last axis) + eps) per row, never squaring an unscaled entry: with c the
 * row's `rowScales` (a constant) it is computed as w / √(mean(w²) + eps/c²), w = d/c — the same
 * function of d for every c > 0, so gradients of every order are exact. |w| ≤ 1 and eps/c² ≤ 1
 * with max|w| = 1 or eps/c² = 1, so nothing overflows and the root is ≥ 1/√dim: 1e±300 rows
 * are exact, and rows far below √eps give d/√eps as they should (eps/d² itself would overflow).
 * IEEE values: a zero row with eps = 0 is 0/0, NaN (output and gradient); a row holding ±∞ or
 * NaN gives NaN throughout.
 */
function normalizeRows(d: Variable, eps: number | Float64Array): Variable {
  const { c, epsOverC2 } = rowScales(d.value, eps);
  const w = ops.div(d, c);
  return ops.div(w, ops.sqrt(ops.add(ops.mean(ops.square(w), -1, true), epsOverC2)));
}

function checkEps(op: string, eps: number): number {
  if (!(eps >= 0 && eps < Infinity)) throw new ValueError(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
  return eps;
}

/**
 * RMSNorm composed of differentiable ops: `normalizeRows(x, eps) · weight`. The reference of the
 * fused `rmsNorm` (tests compare them) and what its backward differentiates for higher orders.
 */
export function rmsNormReference(x: Variable, weight: Variable, eps: number): Variable {
  return ops.mul(normalizeRows(x, eps), weight);
}

/**
 * Below this Σx² (or at ∞) RMSNorm scales a row before squaring. Above it, squares that
 * underflowed (each < 2^-1022) change the sum by less than dim·2^-1074 out of ≥ 2^-900, so the
 * unscaled sum is as good as the scaled one.
 */
const SQUARES_MIN = 2 ** -900;

/** The least power of two ≥ v > 0, kept within [2^-1022, 2^1023] so that its inverse is finite too. */
function powerOfTwoAtLeast(v: number): number {
  const k = Math.min(1023, Math.max(-1022, Math.ceil(Math.log2(v))));
  const c = 2 ** k;
  return c < v && k < 1023 ? 2 * c : c; // log2 may round down
}

/**
 * `rmsNormReference` as one op: value and first-order gradients in scalar loops (float64 locals).
 * The common row, whose Σx² is safely inside the normal range (`SQUARES_MIN`), is computed as
 * it stands: y = w·x/√(mean(x²) + eps). Any other row is scaled first, u = x/c with
 * c ≥ max(max|x|, √eps) a power of two (the reference's c rounded up: the same function, and
 * x·(1/c) is exactly x/c), so that no square over- or underflows: y = w·u/√(mean(u²) + eps/c²)
 * with |u| ≤ 1 (< 2 past 2^1023) and eps/c² ≤ 1, which rounds as the unscaled formula would
 * wherever that does not over- or underflow.
 * A recorded backward (createGraph) differentiates the reference instead, so every higher order
 * is exact. `weight` has shape [dim].
 */
function rmsNorm(x: Variable, weight: Variable, eps: number): Variable {
  const xt = x.value.contiguous();
  const wt = weight.value.contiguous();
  const dim = wt.size;
  const rowCount = xt.size / dim;
  const xs = xt.data;
  const ws = wt.data;
  const x0 = xt.offset;
  const w0 = wt.offset;
  const out = allocate(promoteTypes(xt.dtype, wt.dtype), xt.size);
  const root = Math.sqrt(eps);
  // per row, kept for the backward: 1/c (NaN for a row holding ±∞ or NaN) and ρ
  const invScale = new Float64Array(rowCount);
  const rho = new Float64Array(rowCount);
  for (let r = 0; r < rowCount; r++) {
    const base = x0 + r * dim;
    // the common row in one pass: Σx² unscaled, when it lies safely inside the normal range
    let inv = 1;
    let ss = 0;
    for (let j = 0; j < dim; j++) {
      const v = xs[base + j]!;
      ss += v * v;
    }
    let s = ss / dim + eps;
    if (!(ss > SQUARES_MIN && ss < Infinity)) {
      let m = root;
      for (let j = 0; j < dim; j++) {
        const a = Math.abs(xs[base + j]!);
        if (a > m) m = a;
      }
      // eps = 0 and a zero row: c = 1, ρ = ∞ and y = 0·∞ = NaN
      inv = m === 0 ? 1 : 1 / powerOfTwoAtLeast(m);
      // eps·inv² ≤ 1 (m ≥ √eps); scaling by a power of two is exact, so s below is exactly inv²
      // times mean(x²) + eps as rounded unscaled, and the output rounds as (w·x)/√(mean(x²) + eps)
      const e = eps === 0 ? 0 : eps * inv * inv;
      ss = 0;
      for (let j = 0; j < dim; j++) {
        const u = xs[base + j]! * inv;
        ss += u * u;
      }
      s = ss / dim + e;
      // s ≤ 2 unless the row holds ±∞ (u² = ∞) or NaN: then NaN throughout
      if (!(s < Infinity)) inv = NaN;
    }
    const rms = Math.sqrt(s);
    invScale[r] = inv;
    rho[r] = 1 / rms;
    const o = r * dim;
    for (let j = 0; j < dim; j++) out[o + j] = (ws[w0 + j]! * (xs[base + j]! * inv)) / rms;
  }
  const y = new Tensor(out, [...xt.shape]);
  return record('RMSNorm', y, [x, weight], (g, needs) => {
    if (isGradEnabled()) {
      const [gx, gw] = gradients(rmsNormReference(x, weight, eps), [x, weight], { seed: g, createGraph: true });
      return [needs[0] ? gx! : null, needs[1] ? gw! : null];
    }
    // per row, with h = g·w and x̂ = u·ρ: dx = ρ·(h − u·ρ·mean(h·x̂))/c, dw = Σ_rows g·x̂
    const gt = g.value.contiguous();
    const gs = gt.data;
    const g0 = gt.offset;
    const dx = needs[0] ? allocate(xt.dtype, xt.size) : null;
    const dw = needs[1] ? new Float64Array(dim) : null;
    for (let r = 0; r < rowCount; r++) {
      const base = x0 + r * dim;
      const gBase = g0 + r * dim;
      const inv = invScale[r]!;
      const p = rho[r]!;
      let hx = 0;
      for (let j = 0; j < dim; j++) {
        const gx = gs[gBase + j]! * (xs[base + j]! * inv * p);
        hx += gx * ws[w0 + j]!;
        if (dw !== null) dw[j]! += gx;
      }
      if (dx === null) continue;
      const k = (p * hx) / dim;
      const o = r * dim;
      for (let j = 0; j < dim; j++) {
        dx[o + j] = p * (gs[gBase + j]! * ws[w0 + j]! - xs[base + j]! * inv * k) * inv;
      }
    }
    let dwOut: Variable | null = null;
    if (dw !== null) {
      const d = allocate(wt.dtype, dim);
      d.set(dw);
      dwOut = new Variable(new Tensor(d, [dim]));
    }
    return [dx === null ? null : new Variable(new Tensor(dx, [...xt.shape])), dwOut];
  });
}

/**
 * `x / √(mean(x², last axis) + eps) · weight`, weight starting at 1. Scale-safe (`normalizeRows`):
 * right for rows from 1e-300 to 1e300 (float32: 1e-38 to 1e38) in value and gradient. A zero
 * row gives 0, or NaN when eps = 0; a row holding ±∞ or NaN gives NaN. One fused op
 * (`rmsNormReference` is the composed definition).
 */
export class RMSNorm extends Module implements Layer {
  readonly weight: Variable;
  readonly eps: number;

  constructor(
    readonly dim: number,
    options: LayerOptions & { eps?: number } = {},
  ) {
    super();
    checkCount('RMSNorm', 'dim', dim);
    const dtype = dtypeOption('RMSNorm', options); // first: it refuses options that are not an object
    this.eps = checkEps('RMSNorm', options?.eps ?? 1e-6);
    this.weight = param(ones([dim], { dtype }));
  }

  /** `[..., dim]` → the same shape; ShapeError if the last axis is not `dim`. */
  forward(x: Variable | Tensor): Variable {
    checkLastAxis('RMSNorm', x, this.dim);
    const xs = asVariable('RMSNorm', x);
    // a weight of another shape (broadcast by the composed ops) takes the composed path
    return shapesEqual(this.weight.shape, [this.dim])
      ? rmsNorm(xs, this.weight, this.eps)
      : rmsNormReference(xs, this.weight, this.eps);
  }
}

/**
 * `(x − mean) / √(var + eps) · weight + bias` over the last axis (biased variance, as PyTorch).
 * Scale-safe as RMSNorm (`normalizeRows` of the centred row). A constant row gives `bias`, or
 * NaN when eps = 0; a row holding ±∞ or NaN gives NaN.
 */
export class LayerNorm extends Module implements Layer {
  readonly weight: Variable;
  readonly bias: Variable;
  readonly eps: number;

  constructor(
    readonly dim: number,
    options: LayerOptions & { eps?: number } = {},
  ) {
    super();
    checkCount('LayerNorm', 'dim', dim);
    const dtype = dtypeOption('LayerNorm', options); // first: it refuses options that are not an object
    this.eps = checkEps('LayerNorm', options?.eps ?? 1e-5);
    this.weight = param(ones([dim], { dtype }));
    this.bias = param(zeros([dim], { dtype }));
  }

  /** `[..., dim]` → the same shape; ShapeError if the last axis is not `dim`. */
  forward(x: Variable | Tensor): Variable {
    checkLastAxis('LayerNorm', x, this.dim);
    let xs = asVariable('LayerNorm', x);
    let eps: number | Float64Array = this.eps;
    // x − mean can overflow only in rows past half the largest float: halve those (exact, a
    // power of two; eps goes with the square of the scale)
    const half = largestOf(xs.dtype) / 2;
    const m = T.max(T.abs(xs.value), -1, true);
    const p = m.toTypedArray().map((v) => (v > half ? 0.5 : 1));
    if (p.some((v) => v !== 1)) {
      xs = ops.mul(xs, tensor(Float64Array.from(p), { shape: m.shape, dtype: xs.dtype }));
      eps = Float64Array.from(p, (v) => this.eps * v * v);
    }
    // Σ(x/n), not Σx/n: the sum of x itself could overflow
    const centered = ops.sub(xs, ops.sum(ops.div(xs, this.dim), -1, true));
    return ops.add(ops.mul(normalizeRows(centered, eps), this.weight), this.bias);
  }
}

/**
 * Inverted dropout: in training each element is zeroed with probability p and the survivors
 * are scaled by 1/(1 − p), so the expectation is unchanged; in evaluation it is the identity.
 * The masks come from its own seeded `rng`, so runs repeat exactly.
 */
export class Dropout extends Module implements Layer {
  constructor(
    readonly p: number,
    private readonly rng: Random,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ValueError(`Dropout: p must lie in [0, 1], got ${p}`);
  }

  /**
   * Same shape as `x`, with a fresh mask (of x's dtype) per call in training; in evaluation or
   * when p = 0, `x` unchanged (a tensor wrapped as a Variable).
   */
  forward(x: Variable | Tensor): Variable {
    if (!this.training || this.p === 0) return asVariable('Dropout', x);
    const keep = 1 - this.p;
    const mask = this.rng.bernoulli(keep, x.shape, { dtype: x.dtype });
    // p = 1 keeps nothing: the mask is all zeros and must not be divided by 0
    return ops.mul(x, keep === 0 ? mask : T.div(mask, keep));
  }
}

/** Exact GELU, x·Φ(x). */
export class GELU extends Module implements Layer {
  /** Element-wise; any shape. */
  forward(x: Variable | Tensor): Variable {
    return ops.gelu(x);
  }
}
/** max(x, 0), with gradient 0 at 0. */
export class ReLU extends Module implements Layer {
  /** Element-wise; any shape. */
  forward(x: Variable | Tensor): Variable {
    return ops.relu(x);
  }
}
/** The hyperbolic tangent as a layer. */
export class Tanh extends Module implements Layer {
  /** Element-wise; any shape. */
  forward(x: Variable | Tensor): Variable {
    return ops.tanh(x);
  }
}
/** The logistic function 1/(1 + e⁻ˣ) as a layer. */
export class Sigmoid extends Module implements Layer {
  /** Element-wise; any shape. */
  forward(x: Variable | Tensor): Variable {
    return ops.sigmoid(x);
  }
}

/** Layers applied in order; children are named `0`, `1`, … (as PyTorch's nn.Sequential). */
export class Sequential extends Module implements Layer {
  readonly layers: readonly Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
  }

  override namedMembers(): [string, Member][] {
    return this.layers.map((layer, i) => [String(i), layer]);
  }

  /** `x` through every layer in order; with no layers, `x` unchanged (a tensor wrapped as a Variable). */
  forward(x: Variable | Tensor): Variable {
    let y = asVariable('Sequential', x);
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }
}

/** The transformer feed-forward block: Linear(dim → hidden), GELU, Linear(hidden → dim). */
export class MLP extends Module implements Layer {
  readonly fc1: Linear;
  readonly act = new GELU();
  readonly fc2: Linear;

  constructor(dim: number, hidden: number, rng: Random, options: LayerOptions & { bias?: boolean } = {}) {
    super();
    dtypeOption('MLP', options); // checked here so that a bad dtype names MLP, not Linear
    this.fc1 = new Linear(dim, hidden, rng, options);
    this.fc2 = new Linear(hidden, dim, rng, options);
  }

  /** `[..., dim]` → `[..., dim]`; ShapeError if the last axis is not `dim`. */
  forward(x: Variable | Tensor): Variable {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)));
  }
}

/**
 * Multi-head causal self-attention over [batch, seq, dim]: one fused projection to q, k, v
 * (`qkv`, [3·dim, dim]), scaled dot products with the future masked to −∞ before the softmax,
 * and an output projection (`proj`). Position t sees only positions ≤ t.
 */
export class CausalSelfAttention extends Module implements Layer {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;

  constructor(
    readonly dim: number,
    readonly heads: number,
    rng: Random,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    checkCount('CausalSelfAttention', 'dim', dim);
    checkCount('CausalSelfAttention', 'heads', heads);
    dtypeOption('CausalSelfAttention', options);
    if (dim % heads !== 0) throw new ValueError(`CausalSelfAttention: dim ${dim} is not divisible by heads ${heads}`);
    this.headDim = dim / heads;
    this.qkv = new Linear(dim, 3 * dim, rng, options);
    this.proj = new Linear(dim, dim, rng, options);
  }

  /** `[batch, seq, dim]` → `[batch, seq, dim]`; ShapeError for any other shape. */
  forward(x: Variable | Tensor): Variable {
    asVariable('CausalSelfAttention', x);
    if (x.shape.length !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError(
        `CausalSelfAttention: input of shape ${fmtShape(x.shape)} must be [batch, seq, ${this.dim}]`,
      );
    }
    const [batch, seq] = x.shape as [number, number, number];
    // [batch, seq, dim] pieces → [batch, heads, seq, headDim]
    const [q, k, v] = ops
      .split(this.qkv.forward(x), 3, -1)
      .map((t) => ops.permute(ops.reshape(t, [batch, seq, this.heads, this.headDim]), [0, 2, 1, 3])) as [
      Variable,
      Variable,
      Variable,
    ];
    const scores = ops.mul(ops.matmul(q, ops.transpose(k)), 1 / Math.sqrt(this.headDim));
    // exp(−∞) is exactly 0, so the future has no influence at all, not merely a tiny one
    const future = triu(ones([seq, seq]), 1);
    const weights = ops.softmax(ops.where(future, -Infinity, scores), -1);
    const mixed = ops.permute(ops.matmul(weights, v), [0, 2, 1, 3]);
    return this.proj.forward(ops.reshape(mixed, [batch, seq, this.dim]));
  }
}

// ---------------------------------------------------------------------------------------------
// Losses

/** How a loss combines its per-element values: their mean, their sum, or none (kept as is). */
export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, losses: Variable, reduction: Reduction): Variable {
  switch (reduction) {
    case 'none':
      return losses;
    case 'sum':
      return ops.sum(losses);
    case 'mean':
      if (losses.size === 0)
        throw new ValueError(`${op}: the mean over zero elements is undefined (use reduction 'sum')`);
      return ops.mean(losses);
    default:
      throw new ValueError(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
}

/**
 * The negative log-likelihood of integer class `targets` under `logits` [..., classes]:
 * −log softmax(logits)[target], computed as logSoftmax + gather, so it is right for any finite
 * logits however large (±1e300: the max-shifted `ops.logSoftmax`). `targets` has the logits'
 * shape without the class axis; every target must be a class index (there is no ignore index:
 * −100 or any other out-of-range or non-integer target is an IndexError). IEEE values: a −∞
 * logit at the target gives +∞; a row of only −∞, or holding +∞ or NaN, gives NaN.
 */
export function crossEntropy(
  logits: Variable | Tensor,
  targets: Tensor | NestedArray,
  options: { reduction?: Reduction } = {},
): Variable {
  if (logits.shape.length === 0) throw new ShapeError('crossEntropy: logits must have a class axis, got a 0-d tensor');
  const classes = logits.shape[logits.shape.length - 1]!;
  const idx = indexTensor('crossEntropy', 'target class', targets, classes);
  const batchShape = logits.shape.slice(0, -1);
  if (!shapesEqual(idx.shape, batchShape)) {
    throw new ShapeError(
      `crossEntropy: targets of shape ${fmtShape(idx.shape)} do not match ` +
        `logits of shape ${fmtShape(logits.shape)} without the class axis`,
    );
  }
  const picked = ops.gather(ops.logSoftmax(logits, -1), -1, idx.unsqueeze(-1));
  return reduce('crossEntropy', ops.neg(ops.squeeze(picked, -1)), options.reduction ?? 'mean');
}

/** The squared error (pred − target)²; shapes must match exactly (no silent broadcasting). */
export function mse(
  pred: Variable | Tensor,
  target: Variable | Tensor,
  options: { reduction?: Reduction } = {},
): Variable {
  if (!shapesEqual(pred.shape, target.shape)) {
    throw new ShapeError(
      `mse: prediction of shape ${fmtShape(pred.shape)} and target of shape ${fmtShape(target.shape)} differ`,
    );
  }
  return reduce('mse', ops.square(ops.sub(pred, target)), options.reduction ?? 'mean');
}
