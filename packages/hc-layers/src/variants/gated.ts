/**
 * The front that mHC, mHC-lite, sHC and sHC-power share (docs/spec/hc-family.md): per token
 * v = RMSNorm(vec(X)), one fused projection onto [W_pre | W_post | W_res], and the gates
 *
 *     H_pre = σ(s_pre·(v W_pre) + b_pre) ∈ (0,1)ⁿ,   H_post = 2σ(s_post·(v W_post) + b_post) ∈ (0,2)ⁿ
 *
 * The papers name the scales α_pre/α_post (mHC, mHC-lite) and p/q (sHC), and the mHC weights φ.
 * Each variant builds only H_res, from z = v W_res.
 */
import { type Variable, add, mul, nn, reshape, sigmoid } from '@hyperconn/autograd';
import { checkFiniteTokens, HyperConnectionBase, project, type CommonOptions, type MapVariables } from './base.js';

/** The gate biases at init: −1 everywhere except +1 at stream `layerIndex mod n`. */
function gateBias(n: number, layerIndex: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === layerIndex % n ? 1 : -1));
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
 * Init: every weight 0, the gate scales 0.01, the gate biases −1 except +1 at `layerIndex mod n`.
 */
export abstract class GatedHyperConnection extends HyperConnectionBase {
  /** RMSNorm over vec(X), length nC (gain init 1). */
  readonly norm: nn.RMSNorm;
  /** W_pre [nC, n] (mHC: φ_pre). */
  readonly preWeight: Variable;
  /** W_post [nC, n] (mHC: φ_post). */
  readonly postWeight: Variable;
  /** W_res [nC, resColumns] (mHC: φ_res): z = v W_res feeds `resMatrix`. */
  readonly resWeight: Variable;
  /** [1] α_pre (mHC, mHC-lite), p (sHC). */
  readonly preScale: Variable;
  /** [1] α_post (mHC, mHC-lite), q (sHC). */
  readonly postScale: Variable;
  /** b_pre [n]. */
  readonly preBias: Variable;
  /** b_post [n]. */
  readonly postBias: Variable;

  /** `resColumns`: the width of z = v W_res that `resMatrix` takes. */
  protected constructor(label: string, common: CommonOptions, resColumns: number) {
    super(label, common);
    const { n, dim, layerIndex, eps, dtype } = common;
    this.norm = new nn.RMSNorm(n * dim, { eps, dtype });
    this.preWeight = this.zeros(n * dim, n);
    this.postWeight = this.zeros(n * dim, n);
    this.resWeight = this.zeros(n * dim, resColumns);
    this.preScale = this.parameter([0.01]);
    this.postScale = this.parameter([0.01]);
    this.preBias = this.parameter(gateBias(n, layerIndex));
    this.postBias = this.parameter(gateBias(n, layerIndex));
  }

  /** H_res [B·T, n, n] from z = v W_res [B·T, resColumns] (already checked finite). */
  protected abstract resMatrix(z: Variable): Variable;

  protected computeMaps(x: Variable): MapVariables {
    const [batch, seq] = x.shape as [number, number];
    const v = this.norm.forward(tokenVectors(x));
    // named here rather than as NaN from Sinkhorn, the permutation mixture or Cayley
    checkFiniteTokens(this.label, 'RMSNorm(vec X)', v.value, batch, seq);
    const [pre, post, z] = project(v, [this.preWeight, this.postWeight, this.resWeight]) as [
      Variable,
      Variable,
      Variable,
    ];
    checkFiniteTokens(this.label, 'the projection onto W_res', z.value, batch, seq);
    const hPre = sigmoid(add(mul(this.preScale, pre), this.preBias));
    const hPost = mul(sigmoid(add(mul(this.postScale, post), this.postBias)), 2);
    return { hRes: perToken(this.resMatrix(z), x), hPre: perToken(hPre, x), hPost: perToken(hPost, x) };
  }

  protected projectionWeights(): Variable[] {
    return [this.preWeight, this.postWeight, this.resWeight];
  }
}
