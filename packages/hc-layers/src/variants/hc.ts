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
import { type Variable, add, expand, mul, nn, reshape, squeeze, tanh, transpose } from '@hyperconn/autograd';
import type { HCOptions } from '../hyper-connection.js';
import { booleanOption, commonOptions, HyperConnectionBase, project, type MapVariables } from './base.js';

/**
 * The 'hc' variant, Hyper-Connections (arXiv 2409.19606): static learned H_pre, H_res, H_post plus,
 * with `dynamic` (default), input-dependent tanh terms. H_res is unconstrained, so products over
 * depth can grow. At init, with equal streams, it is the pre-norm residual on every stream.
 */
export class HCLayer extends HyperConnectionBase {
  readonly variant = 'hc' as const;
  readonly dynamic: boolean;
  readonly useTanh: boolean;
  /** A_m [n], the static read weights (H_pre); init e_{k mod n}. */
  readonly preBias: Variable;
  /** A_r [n, n] in the paper's layout, H_res = A_rᵀ; init I. */
  readonly resBias: Variable;
  /** B [n], the static write weights (H_post); init 1. */
  readonly postBias: Variable;
  // Dynamic part (null when `dynamic: false`).
  /** RMSNorm per stream (gain of length C). */
  readonly norm: nn.RMSNorm | null;
  /** W_m [C, 1]; init 0. */
  readonly preWeight: Variable | null;
  /** W_r [C, n]; init 0. */
  readonly resWeight: Variable | null;
  /** W_β [C, 1]; init 0. */
  readonly postWeight: Variable | null;
  /** [1] s_α, the one scale of both the pre and the res dynamic terms; init 0.01. */
  readonly preResScale: Variable | null;
  /** [1] s_β, the scale of the post dynamic term; init 0.01. */
  readonly postScale: Variable | null;

  constructor(options: HCOptions) {
    const common = commonOptions('HCLayer', options);
    super('HCLayer', common);
    const { n, dim, layerIndex, eps, dtype } = common;
    this.dynamic = booleanOption('HCLayer', 'dynamic', options.dynamic, true);
    this.useTanh = booleanOption('HCLayer', 'tanh', options.tanh, true);
    this.preBias = this.parameter(Array.from({ length: n }, (_, i) => (i === layerIndex % n ? 1 : 0)));
    this.resBias = this.parameter(
      Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)),
      [n, n],
    );
    this.postBias = this.parameter(new Array<number>(n).fill(1));
    this.norm = this.dynamic ? new nn.RMSNorm(dim, { eps, dtype }) : null;
    this.preWeight = this.dynamic ? this.zeros(dim, 1) : null;
    this.resWeight = this.dynamic ? this.zeros(dim, n) : null;
    this.postWeight = this.dynamic ? this.zeros(dim, 1) : null;
    this.preResScale = this.dynamic ? this.parameter([0.01]) : null;
    this.postScale = this.dynamic ? this.parameter([0.01]) : null;
  }

  protected computeMaps(x: Variable): MapVariables {
    const [batch, seq, n, dim] = x.shape as [number, number, number, number];
    if (!this.dynamic) {
      return {
        hRes: expand(transpose(this.resBias), [batch, seq, n, n]),
        hPre: expand(this.preBias, [batch, seq, n]),
        hPost: expand(this.postBias, [batch, seq, n]),
      };
    }
    // One matmul for all tokens and streams: [B·T·n, C] @ [C, 1 + n + 1]
    const xBar = reshape(this.norm!.forward(x), [batch * seq * n, dim]);
    const act = (t: Variable): Variable => (this.useTanh ? tanh(t) : t);
    const [dPre, dRes, dPost] = project(xBar, [this.preWeight!, this.resWeight!, this.postWeight!]).map((t) =>
      act(reshape(t, [batch, seq, n, t.shape[1]!])),
    ) as [Variable, Variable, Variable];
    const aM = add(mul(this.preResScale!, squeeze(dPre, -1)), this.preBias);
    const aR = add(mul(this.preResScale!, dRes), this.resBias);
    const b = add(mul(this.postScale!, squeeze(dPost, -1)), this.postBias);
    return { hRes: transpose(aR), hPre: aM, hPost: b };
  }

  protected projectionWeights(): Variable[] {
    return this.dynamic ? [this.preWeight!, this.resWeight!, this.postWeight!] : [];
  }
}
