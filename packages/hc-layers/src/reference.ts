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
 * Frac-connections and views are read off the maps' shapes (N = n·f from H_res, v·f rows of
 * H_pre): sub-stream j·n + s is channels [j·C/f, (j+1)·C/f) of stream s, and with v > 1 views
 * the branch is applied to their sum (the branch `checkLayerInvariants` uses).
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
  const tokens = batch * seq;
  const big = maps.hRes.shape[maps.hRes.ndim - 1]!;
  const fracs = big / n;
  const width = dim / fracs;
  const rows = hPre.length / (tokens * big);
  // flat index in X of channel c of sub-stream p (fraction ⌊p/n⌋ of stream p mod n)
  const at = (p: number, c: number): number => (p % n) * dim + Math.floor(p / n) * width + c;
  for (let k = 0; k < tokens; k++) {
    const xo = k * n * dim;
    const u = new Float64Array(dim);
    const uAbs = new Float64Array(dim);
    for (let r = 0; r < rows; r++) {
      const j = r % fracs;
      for (let p = 0; p < big; p++) {
        const h = hPre[(k * rows + r) * big + p]!;
        for (let c = 0; c < width; c++) {
          u[j * width + c] += h * xs[xo + at(p, c)]!;
          uAbs[j * width + c] += Math.abs(h * xs[xo + at(p, c)]!);
        }
      }
    }
    const y = branch(u);
    const yScale = branchScale(uAbs, y);
    for (let p = 0; p < big; p++) {
      for (let c = 0; c < width; c++) {
        let acc = 0;
        let mag = 0;
        for (let j = 0; j < fracs; j++) {
          const h = hPost[(k * fracs + j) * big + p]!;
          acc += h * y[j * width + c]!;
          mag += Math.abs(h) * yScale[j * width + c]!;
        }
        for (let q = 0; q < big; q++) {
          const term = hRes[k * big * big + p * big + q]! * xs[xo + at(q, c)]!;
          acc += term;
          mag += Math.abs(term);
        }
        reference[xo + at(p, c)] = acc;
        scale[xo + at(p, c)] = mag;
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
