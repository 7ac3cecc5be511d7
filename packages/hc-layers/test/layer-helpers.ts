/**
 * Shared by the hc-layers tests: layers with random parameters, random states, and reference
 * computations written as plain loops over float64 copies (independent of the layers' ops).
 */
import * as T from '@hyperconn/tensor';
import { epsOf, Random, type DType, type Tensor } from '@hyperconn/tensor';
import { gradcheck, matmul, type nn, tanh, type Variable } from '@hyperconn/autograd';
import {
  createHyperConnection,
  type Branch,
  type HyperConnection,
  type HyperConnectionOptions,
  type Variant,
} from '../src/index';

/** The constrained variants and the largest n their properties run at (mHC-lite: n! cost). */
export const MAX_N: Record<Exclude<Variant, 'residual'>, number> = {
  hc: 6,
  mhc: 6,
  mhcLite: 5,
  kromhc: 6,
  shc: 6,
  shcPower: 6,
};

/** c·n·eps rounding tolerance for computations of size n. */
export function roundingTol(dtype: DType, n: number, c = 8): number {
  return c * n * epsOf(dtype);
}

/** A layer whose every parameter p moved to p + scale·(1 + |p|)·N(0, 1) (seeded). */
export function randomLayer(
  variant: Variant,
  options: HyperConnectionOptions,
  seed: number,
  scale: number,
): HyperConnection {
  const layer = createHyperConnection(variant, options);
  perturb(layer, new Random(seed), scale);
  return layer;
}

export function perturb(layer: HyperConnection, rng: Random, scale: number): void {
  for (const p of layer.parameters()) {
    const noise = rng.normal(p.shape, { dtype: p.dtype });
    p.value.assign(T.add(p.value, T.mul(noise, T.mul(T.add(T.abs(p.value), 1), scale))));
  }
}

/** A state [batch, seq, n, dim] with entries N(0, 1)·scale. */
export function randomState(
  rng: Random,
  shape: readonly [number, number, number, number],
  scale: number,
  dtype: DType = 'float64',
): Tensor {
  return T.mul(rng.normal(shape, { dtype }), scale);
}

/** The branch F(u) = tanh(u·W) used by the tests. */
export const tanhBranch =
  (w: Variable | Tensor) =>
  (u: Variable): Variable =>
    tanh(matmul(u, w));

// The update and the tanh branch by loops: the same reference that checkLayerInvariants uses.
export { referenceUpdate, tanhBranchLoop } from '../src/reference';

/** g ⊙ v / sqrt(mean(v²) + eps) by a loop. */
export function rmsNormLoop(v: ArrayLike<number>, gain: ArrayLike<number>, eps: number): Float64Array {
  let ms = 0;
  for (let i = 0; i < v.length; i++) ms += v[i]! ** 2;
  const r = Math.sqrt(ms / v.length + eps);
  return Float64Array.from({ length: v.length }, (_, i) => (gain[i]! * v[i]!) / r);
}

/** v·W for v [K] and W [K, cols] by a loop. */
export function vecMat(v: ArrayLike<number>, w: Tensor): Float64Array {
  const [rows, cols] = w.shape as [number, number];
  const ws = w.toTypedArray();
  const out = new Float64Array(cols);
  for (let c = 0; c < cols; c++) for (let r = 0; r < rows; r++) out[c] += v[r]! * ws[r * cols + c]!;
  return out;
}

/** The n×n matrices of a [..., n, n] tensor as nested arrays. */
export function matrices(h: Tensor): number[][][] {
  const n = h.shape[h.ndim - 1]!;
  const flat = h.toTypedArray();
  const out: number[][][] = [];
  for (let k = 0; k < flat.length / (n * n); k++) {
    out.push(Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => flat[k * n * n + i * n + j]!)));
  }
  return out;
}

/** Permutations of 0..n−1 in lexicographic order by recursion (independent of the library's). */
export function lexicographicPermutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (let first = 0; first < n; first++) {
    for (const rest of lexicographicPermutations(n - 1))
      out.push([first, ...rest.map((r) => (r >= first ? r + 1 : r))]);
  }
  return out;
}

/**
 * Runs `fn` with the module's parameters (in `namedParameters` order) replaced by `values`, so
 * that gradcheck's own variables flow through the layer, and restores them afterwards. Throws if
 * the module does not then report exactly `values` as its parameters: a gradcheck through
 * parameters the layer never reads would pass vacuously.
 */
export function withParameters<R>(module: nn.Module, values: readonly Variable[], fn: () => R): R {
  const saved: [Record<string, unknown>, string, unknown][] = [];
  module.namedParameters().forEach(([name], i) => {
    const path = name.split('.');
    let owner = module as unknown as Record<string, unknown>;
    for (const key of path.slice(0, -1)) owner = owner[key] as Record<string, unknown>;
    const field = path[path.length - 1]!;
    saved.push([owner, field, owner[field]]);
    owner[field] = values[i];
  });
  try {
    const swapped = module.parameters();
    if (swapped.length !== values.length || swapped.some((p, i) => p !== values[i]))
      throw new Error('withParameters: the module does not read the values swapped in');
    return fn();
  } finally {
    for (const [owner, field, value] of saved) owner[field] = value;
  }
}

/**
 * gradcheck (float64, central differences) of the layer's output X' with respect to the input x,
 * the branch weights w and every parameter of the layer, all swapped in by `withParameters` (which
 * also checks that the layer reads them, so the check cannot be vacuous).
 */
export function gradcheckLayer(layer: HyperConnection, x: Tensor, w: Tensor, branch: (w: Variable) => Branch): void {
  const params = layer.parameters().map((p) => p.value.clone());
  gradcheck((xv, wv, ...ps) => withParameters(layer, ps, () => layer.forward(xv, branch(wv))), [x, w, ...params], {
    atol: 1e-8,
    rtol: 1e-6,
  });
}
