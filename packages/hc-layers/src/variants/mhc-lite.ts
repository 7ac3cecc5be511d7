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
 * Switches (gated.ts): static, H_res = Σ softmax(b_res)_k P_k; α_res exists with `resMap` and
 * `dynamic`, b_res with `resMap`.
 */
import { type Variable, add, mul, softmax, unsqueeze } from '@hyperconn/autograd';
import { ValueError } from '@hyperconn/tensor';
import { factorial, permutationMixture } from '@hyperconn/manifolds';
import type { MHCLiteOptions } from '../hyper-connection.js';
import { commonOptions, integerOption } from './base.js';
import { defineMember, GatedHyperConnection, mapSwitches } from './gated.js';

/**
 * The 'mhcLite' variant (arXiv 2601.05732): H_res a softmax-weighted mixture of the n! permutation
 * matrices, exactly doubly stochastic; gates as in `MHCLayer`, W_res [nC, n!]. The cost is
 * factorial in n: n > `maxN` (default 8) is a ValueError.
 */
export class MHCLiteLayer extends GatedHyperConnection {
  readonly variant = 'mhcLite' as const;
  readonly maxN: number;

  constructor(options: MHCLiteOptions) {
    const common = commonOptions('MHCLiteLayer', options);
    // the maps act on N = n·f sub-streams (`fracs`)
    const n = common.nMaps;
    // before any parameter exists: W_res has n! columns
    const maxN = integerOption('MHCLiteLayer', 'maxN', options.maxN, 8, 1);
    if (n > maxN) {
      const what = common.fracs === 1 ? `n = ${n} streams` : `n·fracs = ${n} sub-streams`;
      throw new ValueError(
        `MHCLiteLayer: ${what} need ${n}! = ${factorial(n)} permutation matrices (maxN = ${maxN}); ` +
          `the cost is factorial in n, use the 'shc' variant (spectral sphere, O(n³) per token) instead`,
      );
    }
    const count = factorial(n);
    super('MHCLiteLayer', common, count, mapSwitches('MHCLiteLayer', options));
    this.maxN = maxN;
    if (this.resMap && this.dynamic) defineMember(this, 'resScale', this.parameter([0.01]));
    if (this.resMap)
      defineMember(this, 'resBias', this.parameter(Array.from({ length: count }, (_, k) => (k === 0 ? 0 : -8))));
  }

  /** [1] α_res (with `resMap` and `dynamic`). */
  get resScale(): Variable {
    return this.absent('resScale');
  }

  /** b_res [n!], one logit per permutation: 0 at the identity, −8 elsewhere (with `resMap`). */
  get resBias(): Variable {
    return this.absent('resBias');
  }

  protected resMatrix(z: Variable | null): Variable {
    const logits = z === null ? unsqueeze(this.resBias, 0) : add(mul(this.resScale, z), this.resBias);
    return permutationMixture(softmax(logits, -1), { maxN: this.maxN });
  }
}
