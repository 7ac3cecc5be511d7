/**
 * mHC (arXiv 2512.24880): H_res on the Birkhoff polytope by Sinkhorn–Knopp (docs/spec/hc-family.md).
 *
 *     v = RMSNorm(vec(X))                      (length nC, gain init 1)
 *     H_pre  = σ(α_pre·(v φ_pre) + b_pre),  H_post = 2σ(α_post·(v φ_post) + b_post)
 *     H_res  = Sinkhorn(α_res·mat(v φ_res) + b_res)     (log domain, columns then rows)
 *
 * Rows of H_res are exact; columns are within the Sinkhorn error of `sinkhornIters` iterations.
 * Parameters: nC(1 + 2n + n²) + n² + 2n + 3, i.e. 100C + 27 at n = 4.
 * Init (layer k): φ = 0, α = 0.01, b_pre = b_post = −1 except +1 at k mod n, b_res = −8 off the
 * diagonal and 0 on it (H_res ≈ I: diagonal 0.99899 at n = 4).
 */
import { type Variable, add, mul, nn, reshape } from '@hyperconn/autograd';
import { sinkhorn } from '@hyperconn/manifolds';
import type { HyperConnectionOptions } from '../hyper-connection.js';
import { commonOptions, gateBias, gatedProjection, HyperConnectionBase, integerOption, perTokenMaps, type MapVariables } from './base.js';

/**
 * The 'mhc' variant (arXiv 2512.24880): gates H_pre ∈ (0,1)ⁿ, H_post ∈ (0,2)ⁿ and H_res doubly
 * stochastic by `sinkhornIters` (default 20) log-domain Sinkhorn iterations: rows exact, columns
 * within Sinkhorn's error. H_res starts close to I.
 */
export class MHCLayer extends HyperConnectionBase {
  readonly variant = 'mhc' as const;
  readonly sinkhornIters: number;
  readonly norm: nn.RMSNorm;
  /** φ_pre, φ_post [nC, n] and φ_res [nC, n²]. */
  readonly phiPre: Variable;
  readonly phiPost: Variable;
  readonly phiRes: Variable;
  readonly alphaPre: Variable;
  readonly alphaPost: Variable;
  readonly alphaRes: Variable;
  readonly bPre: Variable;
  readonly bPost: Variable;
  /** [n, n] */
  readonly bRes: Variable;

  constructor(options: HyperConnectionOptions) {
    const common = commonOptions('MHCLayer', options);
    super('MHCLayer', common);
    const { n, dim, layerIndex, eps, dtype } = common;
    this.sinkhornIters = integerOption('MHCLayer', 'sinkhornIters', options.sinkhornIters, 20, 1);
    this.norm = new nn.RMSNorm(n * dim, { eps, dtype });
    this.phiPre = this.zeros(n * dim, n);
    this.phiPost = this.zeros(n * dim, n);
    this.phiRes = this.zeros(n * dim, n * n);
    this.alphaPre = this.parameter([0.01]);
    this.alphaPost = this.parameter([0.01]);
    this.alphaRes = this.parameter([0.01]);
    this.bPre = this.parameter(gateBias(n, layerIndex));
    this.bPost = this.parameter(gateBias(n, layerIndex));
    this.bRes = this.parameter(Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 0 : -8)), [n, n]);
  }

  protected computeMaps(x: Variable): MapVariables {
    const n = this.n;
    const { hPre, hPost, res } = gatedProjection(this.label, x, this.norm, [this.phiPre, this.phiPost, this.phiRes], [this.alphaPre, this.alphaPost], [this.bPre, this.bPost]);
    const logits = add(mul(this.alphaRes, reshape(res, [-1, n, n])), this.bRes);
    const hRes = sinkhorn(logits, { iters: this.sinkhornIters }).matrix;
    return perTokenMaps({ hRes, hPre, hPost }, x);
  }

  protected projectionWeights(): Variable[] {
    return [this.phiPre, this.phiPost, this.phiRes];
  }
}
