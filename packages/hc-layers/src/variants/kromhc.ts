/**
 * KromHC (the `6zHAOyi/s2HC` reference code, `litgpt/hyper_conn/kromhc.py`): H_res on the
 * Birkhoff polytope as a Kronecker product of small doubly stochastic factors, each an mHC-lite
 * permutation mixture (docs/spec/hc-family.md, "KromHC"):
 *
 *     n = i_1·i_2⋯i_K                        (all 2s first, then the other prime factors ascending)
 *     c = α_res·(v W_res) + b_res ∈ R^S,     S = Σ_k i_k!, split per factor into c_1, …, c_K
 *     U_k = Σ_j softmax(c_k)_j P^{(i_k)}_j,  H_res = U_1 ⊗ U_2 ⊗ ⋯ ⊗ U_K   (U_1 outermost)
 *
 * Exactly doubly stochastic and non-negative with σ_max = 1, for any parameters. A 2-factor is
 * [[p, 1−p], [1−p, p]] with p = σ(c_{k,0} − c_{k,1}); a prime n is one factor, i.e. mHC-lite's
 * map. H_pre, H_post as in mHC. Parameters: nC(1 + 2n + S) + S + 2n + 3, i.e. 52C + 15 at n = 4.
 * Init: W = 0, α = 0.01, per factor b_res = −8 except 0 at its identity permutation (listed
 * first), so H_res ≈ I (a 2-factor starts at p = σ(8): the diagonal is σ(8)² ≈ 0.99933 at n = 4).
 *
 * Decisions (the reference asserts that n is a power of two and keeps any odd remainder as one
 * factor): any n is split into its prime factors, and a factor above `maxFactor` (default 8, the
 * bound of mHC-lite's `maxN`) is refused. n = 1 has no factors: H_res = [[1]], the empty product.
 */
import { add, kron, mul, softmax, split, unsqueeze, Variable } from '@hyperconn/autograd';
import { ones, ValueError } from '@hyperconn/tensor';
import { factorial, permutationMixture } from '@hyperconn/manifolds';
import type { KromHCOptions } from '../hyper-connection.js';
import { commonOptions, integerOption } from './base.js';
import { defineMember, GatedHyperConnection, mapSwitches } from './gated.js';

const total = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * The Kronecker factors of KromHC for n streams: n's prime factors, all 2s first, then the others
 * ascending (12 → [2, 2, 3], 9 → [3, 3], 7 → [7]); `[]` for n = 1. ValueError unless n is a
 * positive safe integer.
 */
export function kromhcFactors(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 1) throw new ValueError(`kromhcFactors: n must be a positive integer, got ${n}`);
  const factors: number[] = [];
  let rest = n;
  // trial division in ascending order puts the 2s first and the other primes ascending
  for (let p = 2; p * p <= rest; p++) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  if (rest > 1) factors.push(rest);
  return factors;
}

/**
 * The 'kromhc' variant: H_res the Kronecker product U_1 ⊗ ⋯ ⊗ U_K of one permutation mixture per
 * prime factor of n (`kromhcFactors`), exactly doubly stochastic; gates as in `MHCLayer`,
 * W_res [nC, Σ_k i_k!] (4 columns at n = 4, 6 at n = 8, against mHC-lite's n!). A prime factor
 * above `maxFactor` (default 8) is a ValueError.
 */
export class KromHCLayer extends GatedHyperConnection {
  readonly variant = 'kromhc' as const;
  /** The largest prime factor of n accepted (each factor i mixes its i! permutation matrices). */
  readonly maxFactor: number;
  /** The factor sizes i_1, …, i_K (`kromhcFactors(n)`); U_1 is the outermost. */
  readonly factors: readonly number[];

  constructor(options: KromHCOptions) {
    const common = commonOptions('KromHCLayer', options);
    // the maps act on N = n·f sub-streams (`fracs`): the factors are N's
    const n = common.nMaps;
    // before any parameter exists: W_res has Σ_k i_k! columns
    const maxFactor = integerOption('KromHCLayer', 'maxFactor', options.maxFactor, 8, 1);
    const factors = kromhcFactors(n);
    const largest = factors.at(-1);
    if (largest !== undefined && largest > maxFactor) {
      throw new ValueError(
        `KromHCLayer: n = ${n} has the prime factor ${largest} > maxFactor = ${maxFactor} (its Kronecker ` +
          `factor would mix ${largest}! = ${factorial(largest)} permutation matrices); the cost is factorial ` +
          `in the largest prime factor of n: use an n with smaller prime factors (a power of two is cheapest) ` +
          `or the 'shc' variant (spectral sphere, O(n³) per token)`,
      );
    }
    const counts = factors.map(factorial);
    super('KromHCLayer', common, total(counts), mapSwitches('KromHCLayer', options));
    this.maxFactor = maxFactor;
    this.factors = Object.freeze(factors);
    // the switches (gated.ts): α_res with `resMap` and `dynamic`, b_res with `resMap`
    if (this.resMap && this.dynamic) defineMember(this, 'resScale', this.parameter([0.01]));
    if (this.resMap) {
      const bias = counts.flatMap((count) => Array.from({ length: count }, (_, j) => (j === 0 ? 0 : -8)));
      defineMember(this, 'resBias', this.parameter(bias));
    }
  }

  /** [1] α_res, shared by every factor (with `resMap` and `dynamic`). */
  get resScale(): Variable {
    return this.absent('resScale');
  }

  /**
   * b_res [Σ_k i_k!]: the logits of factor 1's permutations, then factor 2's, …, each block in
   * lexicographic order: 0 at the block's identity (its first entry), −8 elsewhere (with `resMap`).
   */
  get resBias(): Variable {
    return this.absent('resBias');
  }

  protected resMatrix(z: Variable | null): Variable {
    // n = 1: the empty Kronecker product, a constant (nothing to learn)
    if (this.factors.length === 0) return new Variable(ones([z?.shape[0] ?? 1, 1, 1], { dtype: this.dtype }));
    // static (z null): the biases alone, one row for every token
    const coefficients = z === null ? unsqueeze(this.resBias, 0) : add(mul(this.resScale, z), this.resBias);
    const logits = split(coefficients, this.factors.map(factorial), -1);
    const mixtures = logits.map((c) => permutationMixture(softmax(c, -1), { maxN: this.maxFactor }));
    return mixtures.slice(1).reduce((h, u) => kron(h, u), mixtures[0]!);
  }
}
