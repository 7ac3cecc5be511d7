/**
 * HC, Hyper-Connections (arXiv 2409.19606), static and dynamic, in this project's orientation
 * (docs/spec/hc-family.md): H_pre = A_m(X), H_res = A_r(X)ᵀ, H_post = B(X), where
 *
 *     X̄ = RMSNorm(X) per stream (gain of length C)
 *     A_m(X) = s_α·tanh(X̄ W_m) + A_m,  A_r(X) = s_α·tanh(X̄ W_r) + A_r,  B(X) = s_β·tanh(X̄ W_β) + B
 *
 * (row s of X̄ W_r adds to row s of A_r). Nothing constrains H_res: products over depth can grow.
 *
 * Parameters: static n² + 2n (A_r, A_m, B); dynamic adds C (norm gain) + (n + 2)·C (W_m, W_r,
 * W_β) + 2 (s_α, s_β), i.e. (n + 3)·C + n² + 2n + 2 in all: 7C + 26 at n = 4.
 * Init (layer k): A_m = e_{k mod n}, A_r = I, B = 1, W = 0, s_α = s_β = 0.01, so with equal
 * streams the layer is exactly the pre-norm residual x + F(x) on every stream.
 */
import * as T from '@hyperconn/tensor';
import { type Variable, add, expand, mul, nn, reshape, squeeze, tanh, transpose } from '@hyperconn/autograd';
import type { HCOptions } from '../hyper-connection.js';
import { booleanOption, commonOptions, HyperConnectionBase, project, type MapVariables } from './base.js';
import { absentMember, defineMember, mapSwitches, type MapSwitches } from './gated.js';

/**
 * The 'hc' variant, Hyper-Connections (arXiv 2409.19606): static learned H_pre, H_res, H_post plus,
 * with `dynamic` (default), input-dependent tanh terms. H_res is unconstrained, so products over
 * depth can grow. At init, with equal streams, it is the pre-norm residual on every stream.
 *
 * Switches (docs/spec/hc-family.md): `resMap`/`preMap`/`postMap: false` fix H_res = I,
 * H_pre = 1/n, H_post = 1 and drop that map's parameters (A and W; s_α goes when both the pre and
 * the res map are off, s_β with the post map, the norm with every map). `init: 'reference'`
 * changes nothing here: the reference's HC parameters are raw ones, which its pre-training
 * script leaves as they are.
 */
export class HCLayer extends HyperConnectionBase {
  readonly variant = 'hc' as const;
  readonly dynamic: boolean;
  readonly useTanh: boolean;
  /** H_res learned (`resMap`); false: H_res = I. */
  readonly resMap: boolean;
  /** H_pre learned (`preMap`); false: H_pre = 1/n. */
  readonly preMap: boolean;
  /** H_post learned (`postMap`); false: H_post = 1. */
  readonly postMap: boolean;
  // Dynamic part (null without `dynamic` or without its map); `declare`: assigned in the
  // constructor after A_m, A_r, B, keeping the parameter order.
  /** RMSNorm per stream (gain of length C). */
  declare readonly norm: nn.RMSNorm | null;
  /** W_m [C, 1]; init 0. */
  declare readonly preWeight: Variable | null;
  /** W_r [C, n]; init 0. */
  declare readonly resWeight: Variable | null;
  /** W_β [C, 1]; init 0. */
  declare readonly postWeight: Variable | null;
  /** [1] s_α, the one scale of both the pre and the res dynamic terms; init 0.01. */
  declare readonly preResScale: Variable | null;
  /** [1] s_β, the scale of the post dynamic term; init 0.01. */
  declare readonly postScale: Variable | null;
  readonly #switches: MapSwitches;

  constructor(options: HCOptions) {
    const common = commonOptions('HCLayer', options);
    super('HCLayer', common);
    const { n, dim, layerIndex, eps, dtype } = common;
    const switches = mapSwitches('HCLayer', options);
    this.#switches = switches;
    const { dynamic, resMap, preMap, postMap } = switches;
    this.dynamic = dynamic;
    this.useTanh = booleanOption('HCLayer', 'tanh', options.tanh, true);
    this.resMap = resMap;
    this.preMap = preMap;
    this.postMap = postMap;
    if (preMap)
      defineMember(
        this,
        'preBias',
        this.parameter(Array.from({ length: n }, (_, i) => (i === layerIndex % n ? 1 : 0))),
      );
    if (resMap) {
      const identity = Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
      defineMember(this, 'resBias', this.parameter(identity, [n, n]));
    }
    if (postMap) defineMember(this, 'postBias', this.parameter(new Array<number>(n).fill(1)));
    const any = dynamic && (preMap || resMap || postMap);
    this.norm = any ? new nn.RMSNorm(dim, { eps, dtype }) : null;
    this.preWeight = dynamic && preMap ? this.zeros(dim, 1) : null;
    this.resWeight = dynamic && resMap ? this.zeros(dim, n) : null;
    this.postWeight = dynamic && postMap ? this.zeros(dim, 1) : null;
    this.preResScale = dynamic && (preMap || resMap) ? this.parameter([0.01]) : null;
    this.postScale = dynamic && postMap ? this.parameter([0.01]) : null;
  }

  /** A_m [n], the static read weights (H_pre); init e_{k mod n} (with `preMap`). */
  get preBias(): Variable {
    return absentMember(this.label, 'preBias', this.#switches);
  }

  /** A_r [n, n] in the paper's layout, H_res = A_rᵀ; init I (with `resMap`). */
  get resBias(): Variable {
    return absentMember(this.label, 'resBias', this.#switches);
  }

  /** B [n], the static write weights (H_post); init 1 (with `postMap`). */
  get postBias(): Variable {
    return absentMember(this.label, 'postBias', this.#switches);
  }

  protected computeMaps(x: Variable): MapVariables {
    const [batch, seq, n, dim] = x.shape as [number, number, number, number];
    let [dPre, dRes, dPost]: (Variable | null)[] = [null, null, null];
    if (this.norm !== null) {
      // One matmul for all tokens and streams: [B·T·n, C] @ [C, (1) + (n) + (1)]
      const xBar = reshape(this.norm.forward(x), [batch * seq * n, dim]);
      const act = (t: Variable): Variable => (this.useTanh ? tanh(t) : t);
      const parts = project(xBar, this.projectionWeights()).map((t) => act(reshape(t, [batch, seq, n, t.shape[1]!])));
      if (this.preWeight !== null) dPre = parts.shift()!;
      if (this.resWeight !== null) dRes = parts.shift()!;
      if (this.postWeight !== null) dPost = parts.shift()!;
    }
    const tokens = [batch, seq, n];
    const { dtype } = this;
    // a static part alone is the same for every token; a dynamic one adds s·tanh(X̄ W) per stream
    const vector = (on: boolean, d: Variable | null, scale: Variable | null, bias: () => Variable, fixed: number) =>
      !on
        ? expand(T.full([n], fixed, { dtype }), tokens)
        : d === null
          ? expand(bias(), tokens)
          : add(mul(scale!, squeeze(d, -1)), bias());
    return {
      hRes: !this.resMap
        ? expand(T.eye(n, n, { dtype }), [batch, seq, n, n])
        : dRes === null
          ? expand(transpose(this.resBias), [batch, seq, n, n])
          : transpose(add(mul(this.preResScale!, dRes), this.resBias)),
      hPre: vector(this.preMap, dPre, this.preResScale, () => this.preBias, 1 / n),
      hPost: vector(this.postMap, dPost, this.postScale, () => this.postBias, 1),
    };
  }

  protected projectionWeights(): Variable[] {
    return [this.preWeight, this.resWeight, this.postWeight].filter((w): w is Variable => w !== null);
  }
}
