/**
 * mHC-lite (arXiv 2601.05732): H_res on the Birkhoff polytope as a convex combination of the n!
 * permutation matrices (Birkhoff–von Neumann), exactly doubly stochastic by construction:
 *
 *     a = softmax(α_res·(v W_res) + b_res) ∈ Δ^{n!−1},  H_res = Σ_k a_k P_k
 *
 * with P_k[i, π_k(i)] = 1 and the π_k in lexicographic order (k = 0 the identity). H_pre, H_post
 * as in mHC. Parameters: nC(1 + 2n + n!) + n! + 2n + 3, i.e. 132C + 35 at n = 4.
 * Init: W = 0, α = 0.01, b_res = −8 except 0 at the identity (diagonal 0.99401 at n = 4).
 * The cost is factorial in n: n > maxN (default 8) is refused, suggesting sHC.
 */
import { type Variable, add, mul, nn, softmax } from '@hyperconn/autograd';
import { ValueError } from '@hyperconn/tensor';
import { permutationMixture } from '@hyperconn/manifolds';
import type { HyperConnectionOptions } from '../hyper-connection.js';
import { commonOptions, gateBias, gatedProjection, HyperConnectionBase, integerOption, perTokenMaps, type MapVariables } from './base.js';

function factorial(n: number): number {
  let f = 1;
  for (let k = 2; k <= n; k++) f *= k;
  return f;
}

/**
 * The 'mhcLite' variant (arXiv 2601.05732): H_res a softmax-weighted mixture of the n! permutation
 * matrices, exactly doubly stochastic; gates as in `MHCLayer`. The cost is factorial in n: n > `maxN`
 * (default 8) is a ValueError.
 */
export class MHCLiteLayer extends HyperConnectionBase {
  readonly variant = 'mhcLite' as const;
  readonly maxN: number;
  readonly norm: nn.RMSNorm;
  /** φ_pre, φ_post [nC, n] and W_res [nC, n!]. */
  readonly phiPre: Variable;
  readonly phiPost: Variable;
  readonly wRes: Variable;
  readonly alphaPre: Variable;
  readonly alphaPost: Variable;
  readonly alphaRes: Variable;
  readonly bPre: Variable;
  readonly bPost: Variable;
  /** [n!], one logit per permutation. */
  readonly bRes: Variable;

  constructor(options: HyperConnectionOptions) {
    const common = commonOptions('MHCLiteLayer', options);
    super('MHCLiteLayer', common);
    const { n, dim, layerIndex, eps, dtype } = common;
    this.maxN = integerOption('MHCLiteLayer', 'maxN', options.maxN, 8, 1);
    if (n > this.maxN) {
      throw new ValueError(
        `MHCLiteLayer: n = ${n} streams need ${n}! = ${factorial(n)} permutation matrices (maxN = ${this.maxN}); the cost is factorial in n, use the 'shc' variant (spectral sphere, O(n³) per token) instead`,
      );
    }
    const count = factorial(n);
    this.norm = new nn.RMSNorm(n * dim, { eps, dtype });
    this.phiPre = this.zeros(n * dim, n);
    this.phiPost = this.zeros(n * dim, n);
    this.wRes = this.zeros(n * dim, count);
    this.alphaPre = this.parameter([0.01]);
    this.alphaPost = this.parameter([0.01]);
    this.alphaRes = this.parameter([0.01]);
    this.bPre = this.parameter(gateBias(n, layerIndex));
    this.bPost = this.parameter(gateBias(n, layerIndex));
    this.bRes = this.parameter(Array.from({ length: count }, (_, k) => (k === 0 ? 0 : -8)));
  }

  protected computeMaps(x: Variable): MapVariables {
    const { hPre, hPost, res } = gatedProjection(this.label, x, this.norm, [this.phiPre, this.phiPost, this.wRes], [this.alphaPre, this.alphaPost], [this.bPre, this.bPost]);
    const weights = softmax(add(mul(this.alphaRes, res), this.bRes), -1);
    const hRes = permutationMixture(weights, { maxN: this.maxN });
    return perTokenMaps({ hRes, hPre, hPost }, x);
  }

  protected projectionWeights(): Variable[] {
    return [this.phiPre, this.phiPost, this.wRes];
  }
}
