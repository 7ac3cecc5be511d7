/**
 * `ReferenceSinkhornMHCLayer`: an mHC layer whose Sinkhorn normalisation runs in the order of
 * the s2HC reference module, which `fromReferenceStateDict('mhc', …)` builds so that an imported
 * layer computes what the reference computes.
 */
import { type Variable, add, mul, reshape, transpose, unsqueeze } from '@hyperconn/autograd';
import { sinkhorn } from '@hyperconn/manifolds';
import { MHCLayer } from '../variants/mhc.js';

/**
 * mHC with the reference's Sinkhorn order. The s2HC module normalises its matrix over the
 * input streams, then over the output streams, so in our orientation the **columns** of H_res
 * come out exact and the rows carry the Sinkhorn error: H_res = Sinkhorn(H̃ᵀ)ᵀ with our
 * `sinkhorn` (columns, then rows). No parameter values make `MHCLayer`'s order (rows exact)
 * reproduce those iterates, so `fromReferenceStateDict('mhc', …)` builds this layer. Everything
 * else (parameters, names, gates) is `MHCLayer`'s.
 */
export class ReferenceSinkhornMHCLayer extends MHCLayer {
  protected override resMatrix(z: Variable | null): Variable {
    // z is null for a static layer: the logits are b_res alone, one matrix for every token
    const logits =
      z === null ? unsqueeze(this.resBias, 0) : add(mul(this.resScale, reshape(z, [-1, this.n, this.n])), this.resBias);
    return transpose(sinkhorn(transpose(logits), { iters: this.sinkhornIters }).matrix);
  }
}
