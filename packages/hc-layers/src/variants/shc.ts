/**
 * sHC (arXiv 2603.20896, as its reference code `litgpt/hyper_conn/shc.py`): H_res on the
 * spectral sphere through the Helmert basis U_z of 1^⊥ (docs/spec/hc-family.md). With m = n − 1:
 *
 *     H_res = J + U_z E U_zᵀ,   J = 11ᵀ/n,   E ∈ R^{m×m} per token
 *
 * so H_res·1 = 1, 1ᵀH_res = 1ᵀ and the singular values of H_res are {1} ∪ σ(E), for any E.
 *
 * - `SHCLayer` ('shc'): E = U diag(s) Vᵀ with U, V ∈ SO(m) Cayley transforms of skew matrices
 *   and s ∈ (−1, 1)^m, so ‖H_res‖₂ = 1 exactly.
 * - `SHCPowerLayer` ('shcPower', this project's extension): E = Ẽ / max(1, σ̂(Ẽ)) with Ẽ free,
 *   σ̂ a power-method bound on σ_max(Ẽ) (see `spectralNormBound`), so ‖H_res‖₂ ≤ 1.
 *
 * H_pre = σ(p·(v W_pre) + b_pre), H_post = 2σ(q·(v W_post) + b_post) for both, v = RMSNorm(vec(X))
 * (`GatedHyperConnection`, with p, q as `preScale`, `postScale`).
 */
import * as T from '@hyperconn/tensor';
import { eq, eye, full, type Tensor, ValueError } from '@hyperconn/tensor';
import {
  type Variable,
  add,
  div,
  exp,
  log,
  matmul,
  maximum,
  mul,
  norm,
  reshape,
  split,
  square,
  sum,
  tanh,
  transpose,
  unsqueeze,
  where,
} from '@hyperconn/autograd';
import { cayley, helmertBasis, skewFromVector, spectralSphereCayleyMap } from '@hyperconn/manifolds';
import type { SHCOptions, SHCPowerOptions } from '../hyper-connection.js';
import { commonOptions, integerOption } from './base.js';
import { defineMember, GatedHyperConnection, mapSwitches } from './gated.js';

/** J + U_z E U_zᵀ for E [..., m, m] → [..., n, n], n = m + 1. */
function onSphere(e: Variable, helmert: Tensor, mean: Tensor): Variable {
  return add(mean, matmul(matmul(helmert, e), transpose(helmert)));
}

/** The constants J = 11ᵀ/n [n, n] and U_z [n, n − 1] of one layer. */
function sphereConstants(n: number, dtype: 'float64' | 'float32'): { helmert: Tensor; mean: Tensor } {
  return { helmert: helmertBasis(n, { dtype }), mean: full([n, n], 1 / n, { dtype }) };
}

/**
 * What sHC and sHC-power share beyond the gates: W_res [nC, m²] and H_res = J + U_z E U_zᵀ;
 * subclasses build E from z = v W_res.
 */
abstract class SphereLayerBase extends GatedHyperConnection {
  readonly #constants: { helmert: Tensor; mean: Tensor };

  protected constructor(label: string, options: SHCOptions) {
    const common = commonOptions(label, options);
    // the maps act on N = n·f sub-streams (`fracs`)
    if (common.nMaps < 2)
      throw new ValueError(
        `${label}: n must be ≥ 2, got ${common.n} (n = 1 is the plain residual: use createHyperConnection)`,
      );
    const m = common.nMaps - 1;
    // the reference's projections are nn.Linear: its pre-training script re-draws them (init 'reference')
    super(label, common, m * m, mapSwitches(label, options), true);
    this.#constants = sphereConstants(common.nMaps, common.dtype);
  }

  /** E [B·T, m, m] from z = v W_res [B·T, m²]; z null (static): one E [1, m, m] from the static parameters. */
  protected abstract sphereBlock(z: Variable | null): Variable;

  protected resMatrix(z: Variable | null): Variable {
    return onSphere(this.sphereBlock(z), this.#constants.helmert, this.#constants.mean);
  }
}

/**
 * sHC. Per token, with m = n − 1 and k = m(m−1)/2, z = v W_res ∈ R^{m²} is split as
 * [z_U (k) | z_V (k) | z_S (m)] and
 *
 *     U = cayley(skew(γ_U·tanh(ρ_U·z_U + c_U))),  V likewise,  s = tanh(ρ_S·z_S + c_S)
 *     E = U diag(s) Vᵀ
 *
 * At n = 2 (m = 1, k = 0) there is no rotation: U = V = [1] and the rotation parameters
 * (ρ_U, ρ_V, γ_U, γ_V, c_U, c_V) do not exist (null).
 *
 * Parameters: nC(1 + 2n + m²) + 2n + m² + 3 (+ 4 when n ≥ 3), i.e. 72C + 24 at n = 4.
 * Init: W = 0, p = q = ρ = 0.01, γ = 1, c_U = c_V = 0, c_S = 4, gate biases as mHC, so
 * H_res = tanh(4)·I + (1 − tanh 4)·J.
 * Switches (gated.ts): static, z = 0 (no ρ: zU = γ_U·tanh(c_U), s = tanh(c_S)); the ρ exist with
 * `resMap` and `dynamic`, γ and c with `resMap`.
 */
export class SHCLayer extends SphereLayerBase {
  readonly variant = 'shc' as const;
  // `declare`: assigned in the constructor after ρ_S and c_S, keeping the default parameter order
  /** [1] ρ_U, the scale of z_U (null at n = 2). */
  declare readonly resScaleU: Variable | null;
  /** [1] ρ_V, the scale of z_V (null at n = 2). */
  declare readonly resScaleV: Variable | null;
  /** [1] γ_U, the gain after tanh (null at n = 2). */
  declare readonly resGainU: Variable | null;
  /** [1] γ_V, the gain after tanh (null at n = 2). */
  declare readonly resGainV: Variable | null;
  /** c_U [k], init 0 (null at n = 2). */
  declare readonly resBiasU: Variable | null;
  /** c_V [k], init 0 (null at n = 2). */
  declare readonly resBiasV: Variable | null;

  constructor(options: SHCOptions) {
    super('SHCLayer', options);
    const m = this.nMaps - 1;
    const k = (m * (m - 1)) / 2;
    // the parameter order (and state-dict keys) of the default layer: ρ_S, c_S, ρ_U, ρ_V, γ_U, γ_V, c_U, c_V
    const scales = this.resMap && this.dynamic;
    if (scales) defineMember(this, 'resScaleS', this.parameter([0.01]));
    if (this.resMap) defineMember(this, 'resBiasS', this.parameter(new Array<number>(m).fill(4)));
    const rotation = k > 0 && this.resMap;
    this.resScaleU = rotation && scales ? this.parameter([0.01]) : null;
    this.resScaleV = rotation && scales ? this.parameter([0.01]) : null;
    this.resGainU = rotation ? this.parameter([1]) : null;
    this.resGainV = rotation ? this.parameter([1]) : null;
    this.resBiasU = rotation ? this.parameter(new Array<number>(k).fill(0)) : null;
    this.resBiasV = rotation ? this.parameter(new Array<number>(k).fill(0)) : null;
  }

  /** [1] ρ_S, the scale of z_S (with `resMap` and `dynamic`). */
  get resScaleS(): Variable {
    return this.absent('resScaleS');
  }

  /** c_S [m], init 4 (with `resMap`). */
  get resBiasS(): Variable {
    return this.absent('resBiasS');
  }

  /** ζ_U = γ_U·tanh(ρ_U·z_U + c_U), ζ_V likewise (null at n = 2) and s = tanh(ρ_S·z_S + c_S), per token. */
  #sphereArgs(z: Variable | null): { zU: Variable | null; zV: Variable | null; s: Variable } {
    const m = this.nMaps - 1;
    const k = (m * (m - 1)) / 2;
    // ρ·z + c, or c alone (static: one row for every token)
    const arg = (part: Variable | null, scale: Variable | null, bias: Variable): Variable =>
      part === null ? unsqueeze(bias, 0) : add(mul(scale!, part), bias);
    const [zU, zV, zS] = z === null ? [null, null, null] : (split(z, [k, k, m], -1) as [Variable, Variable, Variable]);
    const s = tanh(arg(zS, z === null ? null : this.resScaleS, this.resBiasS));
    if (k === 0) return { zU: null, zV: null, s };
    return {
      zU: mul(this.resGainU!, tanh(arg(zU, this.resScaleU, this.resBiasU!))),
      zV: mul(this.resGainV!, tanh(arg(zV, this.resScaleV, this.resBiasV!))),
      s,
    };
  }

  /**
   * E = U diag(s) Vᵀ by composed ops. `resMatrix` uses it only at n = 2 (E = [s]); for n ≥ 3 it
   * takes the fused op, which the manifolds tests check against this same composition.
   */
  protected sphereBlock(z: Variable | null): Variable {
    const m = this.nMaps - 1;
    const { zU, zV, s } = this.#sphereArgs(z);
    if (zU === null || zV === null) return unsqueeze(s, -1); // m = 1: E = [s]
    const u = cayley(skewFromVector(zU, m));
    const v = cayley(skewFromVector(zV, m));
    // U diag(s) Vᵀ: scale the columns of U by s
    return matmul(mul(u, unsqueeze(s, -2)), transpose(v));
  }

  /** H_res = J + U_z U diag(s) Vᵀ U_zᵀ as one fused op (manifolds' `spectralSphereCayleyMap`) for n ≥ 3. */
  protected override resMatrix(z: Variable | null): Variable {
    const { zU, zV, s } = this.#sphereArgs(z);
    if (zU === null || zV === null) return super.resMatrix(z);
    return spectralSphereCayleyMap(zU, zV, s);
  }
}

/**
 * An upper bound σ̂ ≥ σ_max(A) for each matrix of `a` [..., m, m] (output [...]), by the power
 * method with repeated squaring: with G = ÂᵀÂ for Â = A/‖A‖_F (trace 1),
 *
 *     σ̂² = ‖A‖_F² · tr(G^p)^{1/p},   p = 2^squarings,
 *
 * accumulated as t = tr(G²) = ‖G‖_F² (G is symmetric), G ← G²/t, log σ̂² += log t / 2^j, so
 * nothing over- or underflows. Since λ_max^p ≤ tr(G^p) ≤ m·λ_max^p,
 * σ_max ≤ σ̂ ≤ m^{1/(2p)}·σ_max whatever the spectral gap (relative excess ≤ ln m / 2^{squarings+1}:
 * 3e-8 at m = 3 with 24 squarings); 0 squarings give the Frobenius norm. A zero matrix gives
 * σ̂ = 0 with a finite (zero) gradient. Differentiable (unrolled), to any order.
 */
export function spectralNormBound(a: Variable, squarings: number): Variable {
  return reshape(boundPerMatrix(a, squarings), a.shape.slice(0, -2));
}

/** `spectralNormBound` shaped [..., 1, 1], ready to scale whole matrices. */
function boundPerMatrix(a: Variable, squarings: number): Variable {
  const m = a.shape[a.ndim - 1]!;
  const fro = norm(a, [-2, -1], true);
  const isZero = eq(fro.value, 0);
  const unit = div(a, where(isZero, 1, fro));
  // a zero matrix would make every t below 0/0: any trace-1 G will do, σ̂ = ‖A‖_F·(…) = 0 anyway
  let g = where(isZero, T.mul(eye(m, m, { dtype: a.dtype }), 1 / m), matmul(transpose(unit), unit));
  let logRatio: Variable | null = null;
  for (let j = 1; j <= squarings; j++) {
    const t = sum(square(g), [-2, -1], true);
    const term = mul(log(t), 2 ** -j);
    logRatio = logRatio === null ? term : add(logRatio, term);
    g = div(matmul(g, g), t);
  }
  return logRatio === null ? fro : mul(fro, exp(mul(logRatio, 0.5)));
}

/**
 * sHC with the normalisation route (the extension in docs/spec/hc-family.md):
 *
 *     Ẽ = mat(v W_res + c) ∈ R^{m×m},   E = Ẽ / max(1, σ̂(Ẽ)),   H_res = J + U_z E U_zᵀ
 *
 * σ̂ is `spectralNormBound` with `powerIters` squarings (default 24), recomputed per token at
 * every call from Ẽ alone: stateless and deterministic, so `maps(x)` equals the maps of
 * `forward(x)`. (A warm-started vector per layer, as spectral normalisation of weights keeps,
 * would not help here: Ẽ differs per token and the tokens of one batch have nothing to do with
 * those of the next.) σ̂ ≥ σ_max, so ‖E‖₂ ≤ 1 always (only shrinking, never growing E).
 *
 * Parameters: nC(1 + 2n + m²) + 2n + m² + 2, i.e. 72C + 19 at n = 4. Switches (gated.ts):
 * static, Ẽ = mat(c); c exists with `resMap`.
 * Init: W = 0, p = q = 0.01, c = tanh(4)·vec(I_m), gate biases as mHC: the same H_res as sHC.
 */
export class SHCPowerLayer extends SphereLayerBase {
  readonly variant = 'shcPower' as const;
  readonly powerIters: number;

  constructor(options: SHCPowerOptions) {
    super('SHCPowerLayer', options);
    const m = this.nMaps - 1;
    this.powerIters = integerOption('SHCPowerLayer', 'powerIters', options.powerIters, 24, 0);
    if (this.resMap) {
      const bias = Array.from({ length: m * m }, (_, i) => (i % (m + 1) === 0 ? Math.tanh(4) : 0));
      defineMember(this, 'resBias', this.parameter(bias));
    }
  }

  /** c [m²]: the static part of vec(Ẽ), init tanh(4)·vec(I_m) (with `resMap`). */
  get resBias(): Variable {
    return this.absent('resBias');
  }

  protected sphereBlock(z: Variable | null): Variable {
    const m = this.nMaps - 1;
    const free = reshape(z === null ? this.resBias : add(z, this.resBias), [-1, m, m]);
    return div(free, maximum(boundPerMatrix(free, this.powerIters), 1));
  }
}
