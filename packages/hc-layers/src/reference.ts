/**
 * The update X' = H_res·X + H_postᵀ·F(H_pre·X) as plain loops over float64 copies, independent
 * of the layers' ops: the one reference that `checkLayerInvariants` and the tests compare a
 * layer's output with. Internal: not exported from the package.
 */
import type { Tensor } from '@hyperconn/tensor';
import type { TokenMaps } from './hyper-connection.js';

/** A branch on plain arrays: F(u) for one token's branch input u [C]. */
export type LoopBranch = (u: Float64Array) => Float64Array;

/**
 * Per channel of F(u), the magnitude its rounding error scales with, given uAbs (per channel,
 * the sum of |H_pre[s]·X[s]| that went into u) and y = F(u).
 */
export type LoopBranchScale = (uAbs: Float64Array, y: Float64Array) => Float64Array;

/**
 * X' per token for X `[batch, seq, n, C]` and the maps of that X, and per entry the sum of the
 * magnitudes that went into it (which scales a rounding tolerance). `branchScale` defaults to |F(u)|.
 */
export function referenceUpdate(
  x: Tensor,
  maps: Pick<TokenMaps, 'hRes' | 'hPre' | 'hPost'>,
  branch: LoopBranch,
  branchScale: LoopBranchScale = (_, y) => y.map(Math.abs),
): { reference: Float64Array; scale: Float64Array } {
  const [batch, seq, n, dim] = x.shape as [number, number, number, number];
  const xs = x.toTypedArray();
  const hRes = maps.hRes.toTypedArray();
  const hPre = maps.hPre.toTypedArray();
  const hPost = maps.hPost.toTypedArray();
  const reference = new Float64Array(xs.length);
  const scale = new Float64Array(xs.length);
  for (let k = 0; k < batch * seq; k++) {
    const xo = k * n * dim;
    const u = new Float64Array(dim);
    const uAbs = new Float64Array(dim);
    for (let s = 0; s < n; s++) {
      for (let c = 0; c < dim; c++) {
        u[c] += hPre[k * n + s]! * xs[xo + s * dim + c]!;
        uAbs[c] += Math.abs(hPre[k * n + s]! * xs[xo + s * dim + c]!);
      }
    }
    const y = branch(u);
    const yScale = branchScale(uAbs, y);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < dim; c++) {
        let acc = hPost[k * n + i]! * y[c]!;
        let mag = Math.abs(hPost[k * n + i]!) * yScale[c]!;
        for (let j = 0; j < n; j++) {
          const term = hRes[k * n * n + i * n + j]! * xs[xo + j * dim + c]!;
          acc += term;
          mag += Math.abs(term);
        }
        reference[xo + i * dim + c] = acc;
        scale[xo + i * dim + c] = mag;
      }
    }
  }
  return { reference, scale };
}

/** u ↦ tanh(u·W) on plain arrays, W `[rows, cols]`. */
export function tanhBranchLoop(w: Tensor): LoopBranch {
  const [rows, cols] = w.shape as [number, number];
  const ws = w.toTypedArray();
  return (u) => {
    const y = new Float64Array(cols);
    for (let c = 0; c < cols; c++) {
      let acc = 0;
      for (let r = 0; r < rows; r++) acc += u[r]! * ws[r * cols + c]!;
      y[c] = Math.tanh(acc);
    }
    return y;
  };
}

/**
 * The scale of `tanhBranchLoop(w)`: 1 + |u|·|W| (tanh is 1-Lipschitz, so an error in its argument passes through at
 * most unchanged).
 */
export function tanhBranchScale(w: Tensor): LoopBranchScale {
  const [rows, cols] = w.shape as [number, number];
  const ws = w.toTypedArray();
  return (uAbs) => {
    const scale = new Float64Array(cols);
    for (let c = 0; c < cols; c++) {
      let mag = 0;
      for (let r = 0; r < rows; r++) mag += uAbs[r]! * Math.abs(ws[r * cols + c]!);
      scale[c] = 1 + mag;
    }
    return scale;
  };
}

/** F ≡ 0, whose output carries no rounding. */
export const zeroBranchLoop: LoopBranch = (u) => new Float64Array(u.length);

/** The scale of `zeroBranchLoop`: 0. */
export const zeroBranchScale: LoopBranchScale = (uAbs) => new Float64Array(uAbs.length);
