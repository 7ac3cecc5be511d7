/**
 * What the interop's export, import and model conversions share: the reference module names
 * (`MODULES`), the value helpers (building a tensor from C-order values, copying a parameter's
 * values, picking columns, transposing), the RMSNorm gain and eps checks, the mHC-lite
 * inverse-permutation index, and the reference sHC module's constant buffers and column order.
 * Internal: not exported from the package.
 */
import { Tensor, ValueError, type DType } from '@hyperconn/tensor';
import type { Variable } from '@hyperconn/autograd';
import { helmertBasis, permutations } from '@hyperconn/manifolds';
import type { ReferenceVariant } from './types.js';

/** The reference module (Python class path) of each variant. */
export const MODULES: Record<ReferenceVariant, string> = {
  residual: 'Residual',
  hc: 'hyper_connections.hyper_connections.HyperConnections',
  mhc: 'litgpt.hyper_conn.mhc.ManifoldConstrainedHyperConnections',
  mhcLite: 'litgpt.hyper_conn.mhc_lite.MHCLite',
  kromhc: 'litgpt.hyper_conn.kromhc.KromHC',
  shc: 'litgpt.hyper_conn.shc.SHyperConnections',
};
/** The variants with a reference module, in `MODULES` order. */
export const REFERENCE_VARIANTS = Object.keys(MODULES) as ReferenceVariant[];

/** C-order values of a float tensor. */
export type Flat = Float64Array | Float32Array;

/** `'a', 'b'`: names quoted for an error message. */
export const quoted = (names: readonly string[]): string => names.map((v) => `'${v}'`).join(', ');

/** What `x` is, for an error message: `null`, `a Map`, `number`, … */
export const describe = (x: unknown): string =>
  x === null || x === undefined ? String(x) : typeof x === 'object' ? `a ${x.constructor?.name ?? 'object'}` : typeof x;

/** A tensor of `dtype` and `shape` whose i-th element (C order) is `at(i)`. */
export function build(dtype: DType, shape: readonly number[], at: (i: number) => number): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = at(i);
  return new Tensor(data, [...shape]);
}

/** Element access for `build`: `(i) => values[i]`. */
export const at =
  (values: ArrayLike<number>) =>
  (i: number): number =>
    values[i]!;

/** The C-order values of a parameter (a copy). */
export const flat = (v: Variable | Tensor): Flat => (v instanceof Tensor ? v : v.value).toTypedArray() as Flat;

/** [rows, cols] with column c taken from column `pick(c)` of `src` [rows, srcCols]. */
export function columns(src: Flat, rows: number, srcCols: number, cols: number, pick: (c: number) => number): Flat {
  const out = src instanceof Float64Array ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = src[r * srcCols + pick(c)]!;
  return out;
}

/** The transpose [cols, rows] of `src` [rows, cols]. */
export function transposed(src: Flat, rows: number, cols: number): Flat {
  const out = src instanceof Float64Array ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/** The reference's RMSNorm gain γ [d] for our gain w (w = γ + 1), refusing a w that γ + 1 misses. */
export function gammaOf(op: string, w: Flat, dtype: DType, approximate: boolean): Flat {
  const round = dtype === 'float64' ? (x: number) => x : Math.fround;
  const gamma = w.map((x) => round(x - 1)) as Flat;
  if (!approximate) {
    const i = gamma.findIndex((g, k) => !Object.is(round(g + 1), w[k]) && !(Number.isNaN(w[k]!) && Number.isNaN(g)));
    if (i >= 0) {
      throw new ValueError(
        `${op}: RMSNorm gain w[${i}] = ${w[i]} is not exactly γ + 1 for any ${dtype} γ (the reference stores ` +
          `γ = w − 1 = ${gamma[i]}, whose γ + 1 is ${round(gamma[i]! + 1)}); pass { approximate: true } to accept that`,
      );
    }
  }
  return gamma;
}

/** Refuses an RMSNorm eps ≠ 0 (the reference's has none) unless `approximate`. */
export function checkEps(op: string, eps: number, approximate: boolean): void {
  if (eps !== 0 && !approximate) {
    throw new ValueError(
      `${op}: the layer's RMSNorm has eps = ${eps}, the reference's F.normalize has none (it clamps the norm ` +
        'at 1e-12), so the outputs would differ by O(eps); build the layer with eps: 0 (as ' +
        'fromReferenceStateDict does) or pass { approximate: true }',
    );
  }
}

/** Inverse-permutation index: P_inv[k] is the index of π_k⁻¹ (P_{inv[k]} = P_kᵀ). */
export function inversePermutationIndex(n: number): number[] {
  const perms = permutations(n);
  const index = new Map(perms.map((p, k) => [p.join(','), k]));
  return perms.map((p) => {
    const inverse = new Array<number>(n);
    p.forEach((j, i) => {
      inverse[j] = i;
    });
    return index.get(inverse.join(','))!;
  });
}

/** The constant buffers of the reference sHC module (J, U_z, I_m and the triangle indices). */
export function shcBuffers(n: number, dtype: DType): Record<string, Tensor> {
  const m = n - 1;
  const pairs: [number, number][] = [];
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) pairs.push([i, j]);
  return {
    J: build(dtype, [n, n], () => 1 / n),
    Uz: helmertBasis(n, { dtype }),
    eye_sm1: build(dtype, [m, m], (i) => (i % (m + 1) === 0 ? 1 : 0)),
    triu_i: build(dtype, [pairs.length], (r) => pairs[r]![0]),
    triu_j: build(dtype, [pairs.length], (r) => pairs[r]![1]),
  };
}

/** Column order of the reference's z = [z_U | z_V | z_S] in ours: their U is our V (H_ref = H_oursᵀ). */
export function shcColumn(r: number, k: number): number {
  if (r < k) return r + k;
  if (r < 2 * k) return r - k;
  return r;
}
