/**
 * The identity experiment's matched arm: every variant's H_res starts at the same distance from
 * the identity, instead of the papers' inits (mHC's −8 logits, sHC's c_S = 4, …), which leave it
 * between 0 and 2e-3 from I with very different sensitivities to their parameters.
 *
 * HC, mHC, mHC-lite, sHC and sHC-power start at the same matrix, H₀ = (1 − λ)I + λJ with
 * J = 11ᵀ/n, for which ‖H₀ − I‖_F = λ·‖J − I‖_F = λ√(n − 1):
 *   HC: the static H_res bias is H₀;
 *   mHC: off-diagonal logits c (Sinkhorn of a matrix with constant off-diagonal is H₀-shaped);
 *   mHC-lite: logit c on every permutation but the identity (the uniform mixture of all is J);
 *   sHC: s = tanh(c_S) = 1 − λ with U = V = I;  sHC-power: the static block is (1 − λ)I.
 * KromHC's Kronecker product of two H₀-shaped factors is not of that form: its off-identity
 * logits are set so that the distance matches. Every case finds its scalar by bisection on the
 * measured distance, and the result is checked, so no closed form is trusted.
 */
import * as T from '@hyperconn/tensor';
import { Random } from '@hyperconn/tensor';
import { noGrad, type Variable } from '@hyperconn/autograd';
import { layerDiagnostics, type HyperConnection } from '@hyperconn/hc-layers';

/** The distance of `layer`'s H_res from I at its current parameters, on a few random tokens. */
export function identityDistanceOf(layer: HyperConnection): number {
  const x = new Random(1).normal([1, 2, layer.n, layer.dim], { dtype: layer.parameters()[0]?.dtype ?? 'float64' });
  return layerDiagnostics(layer.maps(x)).identityDistance;
}

const member = (layer: HyperConnection, name: string): Variable =>
  (layer as unknown as Record<string, Variable>)[name]!;

/** Sets the layer's static H_res parameters from one scalar; larger t is farther from I. */
function applyScalar(layer: HyperConnection, t: number): void {
  const n = layer.n;
  const set = (p: Variable, values: number[]): void => {
    noGrad(() => p.value.assign(T.tensor(values, { dtype: p.dtype }).reshape(p.shape)));
  };
  switch (layer.variant) {
    case 'hc': {
      // t = λ ∈ [0, 1]
      const bias = member(layer, 'resBias');
      set(
        bias,
        Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 - t : 0) + t / n),
      );
      return;
    }
    case 'mhc':
    case 'mhcLite':
    case 'kromhc': {
      // t = the off-identity logit (−∞ … 0); the identity's stays 0
      const bias = member(layer, 'resBias');
      const size = bias.value.size;
      const identityAt = identityLogits(layer, size);
      set(
        bias,
        Array.from({ length: size }, (_, i) => (identityAt.has(i) ? 0 : t)),
      );
      return;
    }
    case 'shc': {
      // t = λ: s = 1 − λ on every singular value
      const c = member(layer, 'resBiasS');
      set(c, new Array<number>(c.value.size).fill(Math.atanh(1 - t)));
      return;
    }
    case 'shcPower': {
      const c = member(layer, 'resBias');
      const m = n - 1;
      set(
        c,
        Array.from({ length: m * m }, (_, i) => (i % (m + 1) === 0 ? 1 - t : 0)),
      );
      return;
    }
    case 'residual':
      throw new Error('startAtIdentityDistance: the residual has no H_res to start elsewhere');
  }
}

/** The indices of the logits that select an identity (mHC: the diagonal; the mixtures: each block's first). */
function identityLogits(layer: HyperConnection, size: number): Set<number> {
  const n = layer.n;
  if (layer.variant === 'mhc') return new Set(Array.from({ length: n }, (_, i) => i * (n + 1)));
  if (layer.variant === 'mhcLite') return new Set([0]);
  // KromHC: one block of i! logits per Kronecker factor i, each block's first is its identity
  const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1));
  const starts = new Set<number>();
  let at = 0;
  for (const f of (layer as unknown as { factors: readonly number[] }).factors) {
    starts.add(at);
    at += factorial(f);
  }
  if (at !== size) throw new Error(`startAtIdentityDistance: KromHC has ${size} logits, expected ${at}`);
  return starts;
}

/**
 * Moves `layer`'s static H_res parameters so that its H_res (with the dynamic projections at
 * their zero init) is `distance` from I in Frobenius norm, to 1e-9 relative. An Error if the
 * variant cannot reach it along its one-scalar family (at most √(n − 1), the distance of J).
 */
export function startAtIdentityDistance(layer: HyperConnection, distance: number): void {
  const birkhoffLogit = layer.variant === 'mhc' || layer.variant === 'mhcLite' || layer.variant === 'kromhc';
  // the scalar's range, near end first: λ ∈ [0, 1), or the off-identity logit ∈ [−60, 0]
  let [near, far] = birkhoffLogit ? [-60, 0] : [0, 1 - 1e-12];
  applyScalar(layer, far);
  const reach = identityDistanceOf(layer);
  if (!(distance > 0 && distance < reach)) {
    throw new Error(
      `startAtIdentityDistance: ${layer.variant} at n = ${layer.n} reaches distances in (0, ${reach.toFixed(4)}), ` +
        `asked for ${distance}`,
    );
  }
  for (let i = 0; i < 200 && far - near > 1e-14 * Math.max(1, Math.abs(near)); i++) {
    const mid = (near + far) / 2;
    applyScalar(layer, mid);
    if (identityDistanceOf(layer) < distance) near = mid;
    else far = mid;
  }
  applyScalar(layer, (near + far) / 2);
  const got = identityDistanceOf(layer);
  if (Math.abs(got - distance) > 1e-9 * distance)
    throw new Error(`startAtIdentityDistance: ${layer.variant} reached ${got}, not ${distance}`);
}
