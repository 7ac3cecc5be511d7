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
 * Switches (gated.ts): static, H_res = Sinkhorn(b_res); α_res exists with `resMap` and `dynamic`,
 * b_res with `resMap`.
 */
import { type Variable, add, mul, reshape, unsqueeze } from '@hyperconn/autograd';
import { sinkhorn } from '@hyperconn/manifolds';
import type { MHCOptions } from '../hyper-connection.js';
import { commonOptions, integerOption } from './base.js';
import { defineMember, GatedHyperConnection, mapSwitches } from './gated.js';

/**
 * The 'mhc' variant (arXiv 2512.24880): gates H_pre ∈ (0,1)ⁿ, H_post ∈ (0,2)ⁿ and H_res doubly
 * stochastic by `sinkhornIters` (default 20) log-domain Sinkhorn iterations: rows exact, columns
 * within Sinkhorn's error. H_res starts close to I. The gates and W_res (φ_res [nC, n²]) are
 * those of `GatedHyperConnection`.
 */
export class MHCLayer extends GatedHyperConnection {
  readonly variant = 'mhc' as const;
  readonly sinkhornIters: number;

  constructor(options: MHCOptions) {
    const common = commonOptions('MHCLayer', options);
    // the maps act on N = n·f sub-streams (`fracs`)
    const n = common.nMaps;
    super('MHCLayer', common, n * n, mapSwitches('MHCLayer', options));
    this.sinkhornIters = integerOption('MHCLayer', 'sinkhornIters', options.sinkhornIters, 20, 1);
    if (this.resMap && this.dynamic) defineMember(this, 'resScale', this.parameter([0.01]));
    if (this.resMap) {
      const bias = Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 0 : -8));
      defineMember(this, 'resBias', this.parameter(bias, [n, n]));
    }
  }

  /** [1] α_res (with `resMap` and `dynamic`). */
  get resScale(): Variable {
    return this.absent('resScale');
  }

  /** b_res [n, n]: −8 off the diagonal, 0 on it (with `resMap`); [N, N] with fracs. */
  get resBias(): Variable {
    return this.absent('resBias');
  }

  protected resMatrix(z: Variable | null): Variable {
    const logits =
      z === null
        ? unsqueeze(this.resBias, 0)
        : add(mul(this.resScale, reshape(z, [-1, this.nMaps, this.nMaps])), this.resBias);
    return sinkhorn(logits, { iters: this.sinkhornIters }).matrix;
  }
}
