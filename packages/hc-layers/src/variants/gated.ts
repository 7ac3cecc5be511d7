/**
 * The front that mHC, mHC-lite, KromHC, sHC and sHC-power share (docs/spec/hc-family.md): per
 * token v = RMSNorm(vec(X)), one fused projection onto [W_pre | W_post | W_res], and the gates
 *
 *     H_pre = σ(s_pre·(v W_pre) + b_pre) ∈ (0,1)ⁿ,   H_post = 2σ(s_post·(v W_post) + b_post) ∈ (0,2)ⁿ
 *
 * The papers name the scales α_pre/α_post (mHC, mHC-lite) and p/q (sHC), and the mHC weights φ.
 * Each variant builds only H_res, from z = v W_res.
 *
 * Also the switches (docs/spec/hc-family.md, "Switches"), here and in HC: `dynamic: false` keeps
 * only the static biases (maps the same for every token); `resMap`/`preMap`/`postMap: false` fix
 * H_res = I, H_pre = 1/n, H_post = 1 (the mHC paper's component ablation). A switched-off part has
 * no parameters: reading one of its fields is a ValueError naming the switch.
 *
 * With `fracs` f and `inputViews` v (docs/spec/hc-family.md, "Options") the same formulas act on
 * N = n·f sub-streams: vec(X) is the sub-streams concatenated (still length nC), W_pre [nC, v·f·N]
 * and W_post [nC, f·N] give H_pre (v·f)×N and H_post f×N row-major, b_pre [v·f·N], b_post [f·N].
 */
import * as T from '@hyperconn/tensor';
import { Random, ValueError } from '@hyperconn/tensor';
import { type Variable, add, expand, mul, nn, param, reshape, sigmoid } from '@hyperconn/autograd';
import type { MapSwitchOptions } from '../hyper-connection.js';
import {
  booleanOption,
  checkFiniteTokens,
  HyperConnectionBase,
  project,
  type CommonOptions,
  type MapVariables,
} from './base.js';

/** The validated switches of a layer (see `MapSwitchOptions`). */
export interface MapSwitches {
  dynamic: boolean;
  resMap: boolean;
  preMap: boolean;
  postMap: boolean;
  init: 'zero' | 'reference';
  /** null unless given. */
  rng: Random | null;
}

/** `options`' switches with their defaults; ValueError for a bad value. */
export function mapSwitches(op: string, options: MapSwitchOptions): MapSwitches {
  const init = options.init ?? 'zero';
  if (init !== 'zero' && init !== 'reference') {
    throw new ValueError(
      `${op}: init must be 'zero' or 'reference', got ${typeof init === 'string' ? `'${init}'` : String(init)}`,
    );
  }
  const rng = options.rng ?? null;
  if (rng !== null && !(rng instanceof Random))
    throw new ValueError(`${op}: rng must be a Random (from @hyperconn/tensor), got ${String(rng)}`);
  return {
    dynamic: booleanOption(op, 'dynamic', options.dynamic, true),
    resMap: booleanOption(op, 'resMap', options.resMap, true),
    preMap: booleanOption(op, 'preMap', options.preMap, true),
    postMap: booleanOption(op, 'postMap', options.postMap, true),
    init,
    rng,
  };
}

/** The switches that are off, as options text (for errors): `{ dynamic: false, preMap: false }`. */
export function switchesText(s: MapSwitches): string {
  const off = (['dynamic', 'resMap', 'preMap', 'postMap'] as const).filter((k) => !s[k]).map((k) => `${k}: false`);
  return off.length === 0 ? 'its defaults' : `{ ${off.join(', ')} }`;
}

/**
 * Makes `value` the layer's own enumerable field `name`, so that Module reflection finds it
 * (in definition order) and it shadows the class's getter, which throws when the field is absent.
 */
export function defineMember(layer: object, name: string, value: Variable | nn.Module): void {
  // writable as a plain field is (TypeScript's readonly is compile-time only): tests swap parameters in and out
  Object.defineProperty(layer, name, { value, enumerable: true, writable: true, configurable: true });
}

/** The ValueError for a parameter that the layer's switches leave out. */
export function absentMember(label: string, name: string, switches: MapSwitches): never {
  throw new ValueError(`${label}: ${name} does not exist: the layer was built with ${switchesText(switches)}`);
}

/**
 * The gate biases at init, `rows` rows of N = n·f, row r for fraction r mod f: −1 everywhere except
 * +1 at sub-stream (r mod f)·n + (layerIndex mod n), i.e. at stream `layerIndex mod n` for f = 1.
 */
export function gateBias(n: number, fracs: number, rows: number, layerIndex: number): number[] {
  return fracPattern(n, fracs, rows, (r, p) => (p === (r % fracs) * n + (layerIndex % n) ? 1 : -1));
}

/** `rows` rows of N = n·f entries, flattened: `value(r, p)` at row r, sub-stream p. */
export function fracPattern(n: number, fracs: number, rows: number, value: (r: number, p: number) => number): number[] {
  const cols = n * fracs;
  return Array.from({ length: rows * cols }, (_, i) => value(Math.floor(i / cols), i % cols));
}

/**
 * The switched-off H_pre (`uniform` 1/n) or H_post (1): that value where sub-stream p is of row r's
 * fraction (⌊p/n⌋ = r mod f), 0 elsewhere; for f = 1 the value on every stream.
 */
export function fixedGate(n: number, fracs: number, rows: number, value: number): number[] {
  return fracPattern(n, fracs, rows, (r, p) => (Math.floor(p / n) === r % fracs ? value : 0));
}

/** vec(X) per token: [B,T,n,C] → [B·T, n·C] (rows of X concatenated). */
function tokenVectors(x: Variable): Variable {
  const [batch, seq, n, dim] = x.shape as [number, number, number, number];
  return reshape(x, [batch * seq, n * dim]);
}

/** [B·T, ...] → [B, T, ...] for the batch and sequence lengths of `x` [B,T,n,C]. */
function perToken(t: Variable, x: Variable): Variable {
  return reshape(t, [x.shape[0]!, x.shape[1]!, ...t.shape.slice(1)]);
}

/**
 * The base of the gated variants: the RMSNorm'd projection, the pre/post gates and their
 * parameters, and W_res. Subclasses build H_res from z = v W_res (`resMatrix`).
 * Init: every weight 0 (or, with `init: 'reference'` where `referenceInit` says so, drawn from
 * N(0, 2/(5·dim))), the gate scales 0.01, the gate biases −1 except +1 at `layerIndex mod n`.
 *
 * The fields below exist only when the switches keep them (getters that throw otherwise):
 * `norm` when `dynamic` and any map is on; W and the scale of a map when `dynamic` and the map is
 * on; the bias of a map when the map is on.
 */
export abstract class GatedHyperConnection extends HyperConnectionBase {
  /** Input-dependent terms on (`dynamic` option). */
  readonly dynamic: boolean;
  /** H_res learned (`resMap`); false: H_res = I. */
  readonly resMap: boolean;
  /** H_pre learned (`preMap`); false: H_pre = 1/n. */
  readonly preMap: boolean;
  /** H_post learned (`postMap`); false: H_post = 1. */
  readonly postMap: boolean;
  /** `'zero'` or `'reference'` (see `MapSwitchOptions.init`). */
  readonly init: 'zero' | 'reference';
  // JS-private so that Module reflection does not see it
  readonly #switches: MapSwitches;

  /**
   * `resColumns`: the width of z = v W_res that `resMatrix` takes. `referenceInit`: whether
   * `init: 'reference'` draws the projections (sHC's are `nn.Linear` in the reference code,
   * which the pre-training script re-initialises; mHC's, mHC-lite's and KromHC's are raw
   * parameters it leaves at 0).
   */
  protected constructor(
    label: string,
    common: CommonOptions,
    resColumns: number,
    switches: MapSwitches = mapSwitches(label, {}),
    referenceInit = false,
  ) {
    super(label, common);
    const { n, dim, layerIndex, eps, dtype, fracs, inputViews, nMaps } = common;
    const { dynamic, resMap, preMap, postMap } = switches;
    const preRows = inputViews * fracs;
    this.dynamic = dynamic;
    this.resMap = resMap;
    this.preMap = preMap;
    this.postMap = postMap;
    this.init = switches.init;
    this.#switches = switches;
    const draw = referenceInit && switches.init === 'reference';
    if (draw && dynamic && (preMap || postMap || resMap) && switches.rng === null) {
      throw new ValueError(
        `${label}: init 'reference' draws W_pre, W_res, W_post from N(0, 2/(5·dim)) and needs a seeded rng ` +
          `option (a Random from @hyperconn/tensor)`,
      );
    }
    // the reference script's std, sqrt(2/(5·n_embd)) with n_embd the model width C = dim
    const std = Math.sqrt(2 / (5 * dim));
    const weight = (cols: number): Variable =>
      draw ? param(switches.rng!.normal([n * dim, cols], { std, dtype })) : this.zeros(n * dim, cols);
    // drawn in the reference module's order (to_alpha_pre, to_alpha_residual, to_beta)
    const pre = dynamic && preMap ? weight(preRows * nMaps) : null;
    const res = dynamic && resMap ? weight(resColumns) : null;
    const post = dynamic && postMap ? weight(fracs * nMaps) : null;
    if (dynamic && (preMap || postMap || resMap)) defineMember(this, 'norm', new nn.RMSNorm(n * dim, { eps, dtype }));
    if (pre !== null) defineMember(this, 'preWeight', pre);
    if (post !== null) defineMember(this, 'postWeight', post);
    if (res !== null) defineMember(this, 'resWeight', res);
    if (pre !== null) defineMember(this, 'preScale', this.parameter([0.01]));
    if (post !== null) defineMember(this, 'postScale', this.parameter([0.01]));
    if (preMap) defineMember(this, 'preBias', this.parameter(gateBias(n, fracs, preRows, layerIndex)));
    if (postMap) defineMember(this, 'postBias', this.parameter(gateBias(n, fracs, fracs, layerIndex)));
  }

  /** RMSNorm over vec(X), length nC (gain init 1). */
  get norm(): nn.RMSNorm {
    return this.absent('norm');
  }

  /** W_pre [nC, n] (mHC: φ_pre); [nC, v·f·N] with views and fracs. */
  get preWeight(): Variable {
    return this.absent('preWeight');
  }

  /** W_post [nC, n] (mHC: φ_post); [nC, f·N] with fracs. */
  get postWeight(): Variable {
    return this.absent('postWeight');
  }

  /** W_res [nC, resColumns] (mHC: φ_res): z = v W_res feeds `resMatrix`. */
  get resWeight(): Variable {
    return this.absent('resWeight');
  }

  /** [1] α_pre (mHC, mHC-lite), p (sHC). */
  get preScale(): Variable {
    return this.absent('preScale');
  }

  /** [1] α_post (mHC, mHC-lite), q (sHC). */
  get postScale(): Variable {
    return this.absent('postScale');
  }

  /** b_pre [n]; [v·f·N] with views and fracs (H_pre's rows concatenated). */
  get preBias(): Variable {
    return this.absent('preBias');
  }

  /** b_post [n]; [f·N] with fracs (H_post's rows concatenated). */
  get postBias(): Variable {
    return this.absent('postBias');
  }

  /** The ValueError for a field that this layer's switches leave out. */
  protected absent(name: string): never {
    return absentMember(this.label, name, this.#switches);
  }

  /**
   * H_res [B·T, N, N] (N = n·f, `nMaps`) from z = v W_res [B·T, resColumns] (already checked
   * finite); with `dynamic: false`, z is null and the result one matrix [1, N, N] from the static parameters.
   * Called only with `resMap` on.
   */
  protected abstract resMatrix(z: Variable | null): Variable;

  protected computeMaps(x: Variable): MapVariables {
    // x: the N = n·f sub-streams
    const [batch, seq, n] = x.shape as [number, number, number, number];
    const { fracs, inputViews } = this;
    const preRows = inputViews * fracs;
    let pre: Variable | null = null;
    let post: Variable | null = null;
    let z: Variable | null = null;
    if (this.dynamic && (this.preMap || this.postMap || this.resMap)) {
      const v = this.norm.forward(tokenVectors(x));
      // named here rather than as NaN from Sinkhorn, the permutation mixture or Cayley
      checkFiniteTokens(this.label, 'RMSNorm(vec X)', v.value, batch, seq);
      const parts = project(v, this.projectionWeights());
      if (this.preMap) pre = parts.shift()!;
      if (this.postMap) post = parts.shift()!;
      if (this.resMap) {
        z = parts.shift()!;
        checkFiniteTokens(this.label, 'the projection onto W_res', z.value, batch, seq);
      }
    }
    // one row [B,T,N] (as without fracs and views) or `rows` rows [B,T,rows,N]
    const gateShape = (rows: number) => (rows === 1 ? [batch, seq, n] : [batch, seq, rows, n]);
    // a switched-off map: the same constant for every token
    const fixed = (t: T.Tensor, shape: readonly number[]): Variable => expand(t, shape);
    // a gate's logits: s·(v W) + b per token, or the static b for every token
    const logits = (dynamicPart: Variable | null, scale: () => Variable, bias: Variable, rows: number): Variable =>
      reshape(
        dynamicPart === null ? expand(bias, [batch, seq, rows * n]) : perToken(add(mul(scale(), dynamicPart), bias), x),
        gateShape(rows),
      );
    const { dtype } = this;
    const streams = this.n;
    const fixedGateTensor = (rows: number, value: number): T.Tensor =>
      T.tensor(fixedGate(streams, fracs, rows, value), { shape: gateShape(rows).slice(2), dtype });
    return {
      hRes: !this.resMap
        ? fixed(T.eye(n, n, { dtype }), [batch, seq, n, n])
        : z === null
          ? expand(this.resMatrix(null), [batch, seq, n, n])
          : perToken(this.resMatrix(z), x),
      hPre: this.preMap
        ? sigmoid(logits(pre, () => this.preScale, this.preBias, preRows))
        : fixed(fixedGateTensor(preRows, 1 / streams), gateShape(preRows)),
      hPost: this.postMap
        ? mul(sigmoid(logits(post, () => this.postScale, this.postBias, fracs)), 2)
        : fixed(fixedGateTensor(fracs, 1), gateShape(fracs)),
    };
  }

  protected projectionWeights(): Variable[] {
    const on = this.dynamic;
    return [
      ...(on && this.preMap ? [this.preWeight] : []),
      ...(on && this.postMap ? [this.postWeight] : []),
      ...(on && this.resMap ? [this.resWeight] : []),
    ];
  }
}
