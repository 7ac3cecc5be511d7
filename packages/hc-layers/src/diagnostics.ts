/**
 * The diagnostics of docs/spec/hc-family.md, computed from the per-token maps a layer reports
 * (`lastMaps` or `maps(x)`), never from the graph: reading them cannot change a result.
 * Orientation: rows of H_res index output streams, so row sums are the forward gain.
 */
import {
  abs,
  eye,
  fmtShape,
  matmul,
  matrixNorm,
  max,
  mean,
  mul,
  relu,
  ShapeError,
  sub,
  sum,
  svd,
  full,
  lt,
  neg,
  Tensor,
  ValueError,
} from '@hyperconn/tensor';
import type { nn } from '@hyperconn/autograd';
import type { TokenMaps } from './hyper-connection.js';

/** One layer's H_res, each quantity computed per token and averaged over the tokens. */
export interface LayerDiagnostics {
  /** max_i Σ_j |H_ij| (the ∞-norm: how much one output stream can gather). */
  forwardGain: number;
  /** max_j Σ_i |H_ij| (the 1-norm: the gain seen by gradients flowing back). */
  backwardGain: number;
  /** σ_max(H), from an exact SVD. */
  sigmaMax: number;
  /** ‖H − I‖_F. */
  identityDistance: number;
  /** (1/n) Σ_{i≠j} |H_ij|. */
  offDiagonalMass: number;
  /** The fraction of the n² entries that are negative. */
  negativeFraction: number;
  /** Σ_ij max(0, −H_ij) / n. */
  negativeMass: number;
  /** max_i |(H1)_i − 1|. */
  rowSumDeviation: number;
  /** max_j |(Hᵀ1)_j − 1|. */
  colSumDeviation: number;
}

/** The composite ∏ H_res = H_d ··· H_1 at one depth d, per token, averaged over the tokens. */
export interface CompositeDiagnostics {
  /** d: the number of layers in the product (1 = the first layer alone). */
  depth: number;
  forwardGain: number;
  backwardGain: number;
  sigmaMax: number;
  /** ‖∏H − J‖_F with J = 11ᵀ/n: 0 when every stream has been replaced by the stream mean. */
  homogenisation: number;
}

/** Checks h is [..., n, n] and returns n. */
function squareSize(op: string, h: Tensor): number {
  const n = h.shape[h.ndim - 1];
  if (h.ndim < 2 || n !== h.shape[h.ndim - 2] || n === 0) {
    throw new ShapeError(
      `${op}: H_res must be a batch of non-empty square matrices [..., n, n], got shape ${fmtShape(h.shape)}`,
    );
  }
  return n!;
}

/**
 * The one input check of the diagnostics: `h` (named `what`) is a Tensor of finite values.
 * NaN or ±∞ in H_res has no meaningful gain or σ_max (and would fail inside the SVD): a
 * ValueError naming the op and the first bad entry.
 */
function checkFiniteMaps(op: string, what: string, h: unknown): Tensor {
  if (!(h instanceof Tensor))
    throw new ValueError(`${op}: ${what} must be a Tensor [..., n, n], got ${h === null ? 'null' : typeof h}`);
  const flat = h.toTypedArray();
  for (let i = 0; i < flat.length; i++) {
    if (!Number.isFinite(flat[i]!))
      throw new ValueError(
        `${op}: ${what} has the non-finite value ${flat[i]} at flat index ${i} of shape ${fmtShape(h.shape)}`,
      );
  }
  return h;
}

/** The mean over tokens of a per-token quantity [...] (one number). */
const average = (perToken: Tensor): number => mean(perToken).item();

/** Forward and backward gain and σ_max of each matrix, averaged over the batch. */
function gains(h: Tensor): { forwardGain: number; backwardGain: number; sigmaMax: number } {
  const magnitude = abs(h);
  return {
    forwardGain: average(max(sum(magnitude, -1), -1)),
    backwardGain: average(max(sum(magnitude, -2), -1)),
    // s is descending: s[..., 0] is σ_max
    sigmaMax: average(svd(h).s.slice(...new Array<null>(h.ndim - 2).fill(null), 0)),
  };
}

/**
 * The per-layer diagnostics of `maps.hRes` [B, T, n, n] (any leading axes work), each averaged
 * over the tokens. The maps are read in float64 whatever their dtype. Not a TokenMaps, or H_res
 * not a Tensor or holding NaN/±∞, is a ValueError; not square, a ShapeError.
 */
export function layerDiagnostics(maps: TokenMaps): LayerDiagnostics {
  if (typeof maps !== 'object' || maps === null) {
    throw new ValueError(
      `layerDiagnostics: maps must be TokenMaps such as a layer's ` +
        `lastMaps or maps(x), got ${maps === null ? 'null' : typeof maps}`,
    );
  }
  const h = checkFiniteMaps('layerDiagnostics', 'maps.hRes', maps.hRes).astype('float64');
  const n = squareSize('layerDiagnostics', h);
  const identity = eye(n, n);
  const offDiagonal = sub(1, identity);
  const perMatrix = [-2, -1];
  return {
    ...gains(h),
    identityDistance: average(matrixNorm(sub(h, identity), 'fro')),
    offDiagonalMass: average(mul(sum(mul(abs(h), offDiagonal), perMatrix), 1 / n)),
    negativeFraction: average(mul(sum(lt(h, 0), perMatrix), 1 / (n * n))),
    negativeMass: average(mul(sum(relu(neg(h)), perMatrix), 1 / n)),
    rowSumDeviation: average(max(abs(sub(sum(h, -1), 1)), -1)),
    colSumDeviation: average(max(abs(sub(sum(h, -2), 1)), -1)),
  };
}

/**
 * The composite maps over depth: for H_res of layers 1..L (each [B, T, n, n], same shape; the
 * first layer first), the running products P_d = H_d ··· H_1 per token (the residual stream
 * after d layers is P_d·X_0 plus branch terms), with their gains, σ_max and homogenisation
 * ‖P_d − J‖_F, averaged over tokens. One entry per depth d = 1..L. Not an array of Tensors, a
 * NaN/±∞ entry, or a product that overflows float64 (possible for HC over depth) is a ValueError
 * naming the layer or depth; mismatched shapes are a ShapeError.
 */
export function compositeDiagnostics(mapsPerLayer: readonly Tensor[]): CompositeDiagnostics[] {
  const op = 'compositeDiagnostics';
  if (!Array.isArray(mapsPerLayer)) {
    throw new ValueError(
      `${op}: mapsPerLayer must be an array of H_res tensors (one per ` +
        `layer), got ${mapsPerLayer === null ? 'null' : typeof mapsPerLayer}`,
    );
  }
  const layers: readonly Tensor[] = mapsPerLayer;
  layers.forEach((h, d) => {
    checkFiniteMaps(op, `H_res of layer ${d}`, h);
  });
  if (layers.length === 0) return [];
  const first = layers[0]!;
  const n = squareSize('compositeDiagnostics', first);
  const uniform = full([n, n], 1 / n);
  const out: CompositeDiagnostics[] = [];
  let product: Tensor | null = null;
  layers.forEach((layer, d) => {
    if (layer.ndim !== first.ndim || layer.shape.some((s, i) => s !== first.shape[i])) {
      throw new ShapeError(
        `compositeDiagnostics: layer ${d} has H_res of shape ` +
          `${fmtShape(layer.shape)}, layer 0 ${fmtShape(first.shape)}; all must match`,
      );
    }
    const h = layer.astype('float64');
    // unconstrained maps (HC) can overflow float64 over depth: say where rather than fail in the SVD
    const p = checkFiniteMaps(
      op,
      `the product of layers 0..${d} (its entries overflow float64)`,
      product === null ? h : matmul(h, product),
    );
    product = p;
    out.push({ depth: d + 1, ...gains(p), homogenisation: average(matrixNorm(sub(p, uniform), 'fro')) });
  });
  return out;
}

/** The number of scalar parameters of a module (a tied parameter once). */
export function parameterCount(module: nn.Module): number {
  return module.parameters().reduce((total, p) => total + p.size, 0);
}
