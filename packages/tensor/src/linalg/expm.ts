// The matrix exponential by scaling and squaring with Padé approximants (Higham 2005).
import { allocate } from '../dtype.js';
import { LinAlgError } from '../errors.js';
import { sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import {
  batchLabel,
  batchOf,
  matrixDims,
  matrixReader,
  normalizingExponent,
  scaleByPowerOfTwo,
  type Site,
} from './batching.js';
import { identity, luChecked, luSolve } from './lu.js';

// ---------------------------------------------------------------------------------------------
// Matrix exponential (Higham 2005)

/** Padé [m/m] coefficients b_0..b_m for m = 3, 5, 7, 9, 13 (Higham 2005, Table 2.3 and eq. 2.5). */
const PADE: Record<number, readonly number[]> = {
  3: [120, 60, 12, 1],
  5: [30240, 15120, 3360, 420, 30, 1],
  7: [17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1],
  9: [17643225600, 8821612800, 2075673600, 302702400, 30270240, 2162160, 110880, 3960, 90, 1],
  13: [
    64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000, 10559470521600,
    670442572800, 33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
  ],
};
/** Largest ‖A‖₁ for which the [m/m] Padé approximant reaches double precision (Higham 2005, Table 2.3). */
const PADE_THETA: readonly [number, number][] = [
  [3, 1.495585217958292e-2],
  [5, 2.53939833006323e-1],
  [7, 9.504178996162932e-1],
  [9, 2.097847961257068],
];
const THETA_13 = 5.371920351148152;

function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const f = a[i * n + k]!;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + f * b[k * n + j]!;
    }
  }
  return out;
}

/** Σ_i coef_i · terms_i for row-major matrices of equal size. */
function linearCombination(coefs: readonly number[], terms: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(terms[0]!.length);
  coefs.forEach((f, t) => {
    const x = terms[t]!;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + f * x[i]!;
  });
  return out;
}

export function oneNorm(a: Float64Array, rows: number, cols: number): number {
  let max = 0;
  for (let c = 0; c < cols; c++) {
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += Math.abs(a[r * cols + c]!);
    max = Math.max(max, sum);
  }
  return max;
}

/**
 * e^A for a finite row-major n×n `a`: the [m/m] Padé approximant with the smallest m that is accurate, or [13/13] with
 * scaling and squaring.
 */
function expmMatrix(a: Float64Array, n: number, site: Site): Float64Array {
  const norm = oneNorm(a, n, n);
  const eye = identity(n);
  let u: Float64Array;
  let v: Float64Array;
  let squarings = 0;
  const low = PADE_THETA.find(([, theta]) => norm <= theta);
  if (low) {
    const c = PADE[low[0]]!;
    const a2 = matMul(a, a, n);
    const powers = [eye, a2];
    while (powers.length < (c.length + 1) / 2) powers.push(matMul(powers[powers.length - 1]!, a2, n));
    const odd = c.filter((_, i) => i % 2 === 1);
    const even = c.filter((_, i) => i % 2 === 0);
    u = matMul(a, linearCombination(odd, powers), n);
    v = linearCombination(even, powers);
  } else {
    // log2 ‖A‖₁ from A·2^e, finite even where ‖A‖₁ (or A², from ‖A‖ ≈ 1e154) overflows: A is
    // scaled by 2^−s before it is squared, so e^A stays computable wherever it is finite
    const e = normalizingExponent(a);
    const scaled = Float64Array.from(a);
    scaleByPowerOfTwo(scaled, e);
    squarings = Math.max(0, Math.ceil(Math.log2(oneNorm(scaled, n, n) / THETA_13) - e));
    const as = Float64Array.from(a);
    scaleByPowerOfTwo(as, -squarings);
    const s2 = matMul(as, as, n);
    const s4 = matMul(s2, s2, n);
    const s6 = matMul(s4, s2, n);
    const c = PADE[13]!;
    const uInner = linearCombination([c[13]!, c[11]!, c[9]!], [s6, s4, s2]);
    u = matMul(as, linearCombination([1, c[7]!, c[5]!, c[3]!, c[1]!], [matMul(s6, uInner, n), s6, s4, s2, eye]), n);
    const vInner = linearCombination([c[12]!, c[10]!, c[8]!], [s6, s4, s2]);
    v = linearCombination([1, c[6]!, c[4]!, c[2]!, c[0]!], [matMul(s6, vInner, n), s6, s4, s2, eye]);
  }
  // r = (V − U)⁻¹ (V + U); V − U is well conditioned for ‖A‖ ≤ θ (Higham 2005, §2)
  const lu = luChecked(linearCombination([1, -1], [v, u]), n, site);
  let r = luSolve(lu, n, linearCombination([1, 1], [v, u]), n);
  for (let i = 0; i < squarings; i++) r = matMul(r, r, n);
  return r;
}

/**
 * The matrix exponential e^A of each matrix of `a` [...,n,n], by scaling and squaring with
 * Padé approximants (Higham 2005, "The scaling and squaring method for the matrix exponential
 * revisited"): degree 3, 5, 7 or 9 when ‖A‖₁ is below that degree's θ, otherwise degree 13
 * after scaling A by 2^−s so that ‖A‖₁/2^s ≤ θ₁₃, then squaring s times. A is scaled before
 * anything is squared, so entries up to the float range work (e.g. e^A of −1e300·I is 0).
 * Non-finite input, or a result that overflows the dtype, is a LinAlgError.
 */
export function expm(a: Tensor): Tensor {
  const [n] = matrixDims('expm', a, true);
  const batch = batchOf(a);
  const count = sizeOf(batch);
  const read = matrixReader('expm', 'a', a, batch, true);
  const out = allocate(a.dtype, count * n * n);
  for (let i = 0; i < count; i++) {
    out.set(expmMatrix(read(i), n, { op: 'expm', batch, index: i }), i * n * n);
    for (let j = i * n * n; j < (i + 1) * n * n; j++) {
      if (!Number.isFinite(out[j]!))
        throw new LinAlgError(`expm: the result overflows ${a.dtype}${batchLabel(batch, i)}`);
    }
  }
  return new Tensor(out, [...batch, n, n]);
}
