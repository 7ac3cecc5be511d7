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
 *
 * With `fracs` f and `inputViews` v (R = v·f branch-input rows, N = n·f sub-streams of width
 * d = C/f): A_m [N, R] (column i·f + j: view i, fraction j), A_r [N, N], B [f, N], W_m [d, R],
 * W_r [d, N], W_β [d, f], the norm per sub-stream (gain d); row p of X̄ W adds to row p of A_m,
 * A_r and to column p of B. A_m and B keep their 1-d shapes [N] when R = 1 and f = 1. Init:
 * A_m[p, i·f + j] = 1 at p = j·n + (k mod n), B[j, p] = 1 where ⌊p/n⌋ = j, 0 elsewhere: the
 * pre-norm residual again. Parameters: N² + R·N + f·N, plus d·(1 + R + N + f) + 2 when dynamic.
 */
import * as T from '@hyperconn/tensor';
import { type Variable, add, expand, mul, nn, reshape, squeeze, tanh, transpose } from '@hyperconn/autograd';
import type { HCOptions } from '../hyper-connection.js';
import { booleanOption, commonOptions, HyperConnectionBase, project, type MapVariables } from './base.js';
import { absentMember, defineMember, fixedGate, fracPattern, mapSwitches, type MapSwitches } from './gated.js';

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
  /** W_m [C, 1]; init 0 ([C/f, v·f] with views and fracs). */
  declare readonly preWeight: Variable | null;
  /** W_r [C, n]; init 0 ([C/f, N] with fracs). */
  declare readonly resWeight: Variable | null;
  /** W_β [C, 1]; init 0 ([C/f, f] with fracs). */
  declare readonly postWeight: Variable | null;
  /** [1] s_α, the one scale of both the pre and the res dynamic terms; init 0.01. */
  declare readonly preResScale: Variable | null;
  /** [1] s_β, the scale of the post dynamic term; init 0.01. */
  declare readonly postScale: Variable | null;
  readonly #switches: MapSwitches;

  constructor(options: HCOptions) {
    const common = commonOptions('HCLayer', options);
    super('HCLayer', common);
    const { n, layerIndex, eps, dtype, fracs, nMaps } = common;
    const rows = common.inputViews * fracs;
    // the maps act on N = n·f sub-streams of d = C/f channels
    const dim = common.dim / fracs;
    const switches = mapSwitches('HCLayer', options);
    this.#switches = switches;
    const { dynamic, resMap, preMap, postMap } = switches;
    this.dynamic = dynamic;
    this.useTanh = booleanOption('HCLayer', 'tanh', options.tanh, true);
    this.resMap = resMap;
    this.preMap = preMap;
    this.postMap = postMap;
    if (preMap) {
      // A_m [N, R], column r reads sub-stream (r mod f)·n + (k mod n); [N] when R = 1
      const readsAt = (r: number, p: number): number => (p === (r % fracs) * n + (layerIndex % n) ? 1 : 0);
      const am = fracPattern(n, fracs, rows, readsAt);
      const transposed = Array.from({ length: nMaps * rows }, (_, i) => am[(i % rows) * nMaps + Math.floor(i / rows)]!);
      defineMember(this, 'preBias', this.parameter(transposed, rows === 1 ? [nMaps] : [nMaps, rows]));
    }
    if (resMap) {
      const identity = Array.from({ length: nMaps * nMaps }, (_, i) => (i % (nMaps + 1) === 0 ? 1 : 0));
      defineMember(this, 'resBias', this.parameter(identity, [nMaps, nMaps]));
    }
    if (postMap)
      defineMember(
        this,
        'postBias',
        this.parameter(fixedGate(n, fracs, fracs, 1), fracs === 1 ? [nMaps] : [fracs, nMaps]),
      );
    const any = dynamic && (preMap || resMap || postMap);
    this.norm = any ? new nn.RMSNorm(dim, { eps, dtype }) : null;
    this.preWeight = dynamic && preMap ? this.zeros(dim, rows) : null;
    this.resWeight = dynamic && resMap ? this.zeros(dim, nMaps) : null;
    this.postWeight = dynamic && postMap ? this.zeros(dim, fracs) : null;
    this.preResScale = dynamic && (preMap || resMap) ? this.parameter([0.01]) : null;
    this.postScale = dynamic && postMap ? this.parameter([0.01]) : null;
  }

  /** A_m [n], the static read weights (H_pre); init e_{k mod n} (with `preMap`); [N, v·f] with views, fracs. */
  get preBias(): Variable {
    return absentMember(this.label, 'preBias', this.#switches);
  }

  /** A_r [n, n] in the paper's layout, H_res = A_rᵀ; init I (with `resMap`); [N, N] with fracs. */
  get resBias(): Variable {
    return absentMember(this.label, 'resBias', this.#switches);
  }

  /** B [n], the static write weights (H_post); init 1 (with `postMap`); [f, N] with fracs. */
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
    const { dtype, fracs } = this;
    const rows = this.inputViews * fracs;
    // a static part alone is the same for every token; a dynamic one adds s·tanh(X̄ W) per stream
    const vector = (on: boolean, d: Variable | null, scale: Variable | null, bias: () => Variable, fixed: number) =>
      !on
        ? expand(T.full([n], fixed, { dtype }), tokens)
        : d === null
          ? expand(bias(), tokens)
          : add(mul(scale!, squeeze(d, -1)), bias());
    // several rows (views, fracs): [B,T,rows,N] from a static [rows, N] and a dynamic [B,T,N,rows]
    const matrix = (
      on: boolean,
      d: Variable | null,
      scale: Variable | null,
      bias: () => Variable,
      count: number,
      fixed: number,
    ): Variable => {
      const shape = [batch, seq, count, n];
      if (!on) return expand(T.tensor(fixedGate(this.n, fracs, count, fixed), { shape: [count, n], dtype }), shape);
      return d === null ? expand(bias(), shape) : add(mul(scale!, transpose(d)), bias());
    };
    const amT = () => transpose(this.preBias);
    return {
      hRes: !this.resMap
        ? expand(T.eye(n, n, { dtype }), [batch, seq, n, n])
        : dRes === null
          ? expand(transpose(this.resBias), [batch, seq, n, n])
          : transpose(add(mul(this.preResScale!, dRes), this.resBias)),
      hPre:
        rows === 1
          ? vector(this.preMap, dPre, this.preResScale, () => this.preBias, 1 / n)
          : matrix(this.preMap, dPre, this.preResScale, amT, rows, 1 / this.n),
      hPost:
        fracs === 1
          ? vector(this.postMap, dPost, this.postScale, () => this.postBias, 1)
          : matrix(this.postMap, dPost, this.postScale, () => this.postBias, fracs, 1),
    };
  }

  protected projectionWeights(): Variable[] {
    return [this.preWeight, this.resWeight, this.postWeight].filter((w): w is Variable => w !== null);
  }
}
