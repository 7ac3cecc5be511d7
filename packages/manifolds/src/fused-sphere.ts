/**
 * sHC's residual map as one fused op: per token, (z_U, z_V, s) ↦ H = J + U_z U diag(s) Vᵀ U_zᵀ
 * with U = cayley(skew(z_U)), V = cayley(skew(z_V)), J = 11ᵀ/n and U_z the Helmert basis of
 * 1^⊥ (docs/spec/hc-family.md), in scalar loops over the small m×m matrices (m = n − 1) instead
 * of ~10 batched tensor ops.
 */
import {
  DTypeError,
  ShapeError,
  Tensor,
  ValueError,
  allocate,
  fmtShape,
  full,
  type DType,
  type TypedArray,
} from '@hyperconn/tensor';
import {
  type Variable,
  add,
  asVariable,
  customOp,
  isGradEnabled,
  matmul,
  mul,
  transpose,
  unsqueeze,
} from '@hyperconn/autograd';
import { cayley, helmertBasis, skewFromVector } from './orthogonal-maps.js';
import { recordedVjp } from './fused-op.js';
import { requireFinite } from './util.js';

/** Options of `spectralSphereCayleyMap`. */
export interface SpectralSphereCayleyOptions {
  /** 'fused' (default): one op in scalar code; 'reference': the composed autograd ops. */
  impl?: 'fused' | 'reference';
}

/** The composed map: cayley, skewFromVector, matmuls (the specification of the fused op). */
function referenceMap(zU: Variable, zV: Variable, s: Variable): Variable {
  const m = s.shape[s.ndim - 1]!;
  const n = m + 1;
  const helmert = helmertBasis(n, { dtype: s.dtype });
  const mean = full([n, n], 1 / n, { dtype: s.dtype });
  const u = cayley(skewFromVector(zU, m));
  const v = cayley(skewFromVector(zV, m));
  const e = matmul(mul(u, unsqueeze(s, -2)), transpose(v)); // U diag(s) Vᵀ
  return add(mean, matmul(matmul(helmert, e), transpose(helmert)));
}

/**
 * W = (I + A)⁻¹ (into w from offset wo) for the skew A filled from z (A[i,j] = z_r, A[j,i] = −z_r for the r-th pair
 * i < j, row-major, as `skewFromVector`), by Gauss–Jordan elimination with partial pivoting on
 * `lu` [m, 2m]. I + A is never singular for a skew A (its singular values are ≥ 1).
 */
function inverseOfIPlusSkew(
  z: ArrayLike<number>,
  zo: number,
  m: number,
  lu: Float64Array,
  rows: Int32Array,
  w: Float64Array,
  wo: number,
): void {
  const width = 2 * m;
  // The right half [I] is kept in pivot order: column m + q holds the column of the row pivoted
  // at step q, and a row's own 1 is written only when it becomes the pivot (the earlier pivot
  // rows hold 0 in its column, so until then nothing touches it). At step k every nonzero is in
  // columns k … m + k: the row operations visit that range alone (m³ multiply-adds, not 2m³).
  // rows[i]: the row that row i started as; rows[m + q]: the row pivoted at step q.
  lu.fill(0);
  for (let i = 0; i < m; i++) {
    lu[i * width + i] = 1;
    rows[i] = i;
  }
  let r = zo;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++, r++) {
      lu[i * width + j] = z[r]!;
      lu[j * width + i] = -z[r]!;
    }
  }
  for (let k = 0; k < m; k++) {
    let piv = k;
    for (let i = k + 1; i < m; i++) if (Math.abs(lu[i * width + k]!) > Math.abs(lu[piv * width + k]!)) piv = i;
    if (piv !== k) {
      for (let j = 0; j < width; j++) {
        const t = lu[k * width + j]!;
        lu[k * width + j] = lu[piv * width + j]!;
        lu[piv * width + j] = t;
      }
      const t = rows[k]!;
      rows[k] = rows[piv]!;
      rows[piv] = t;
    }
    rows[m + k] = rows[k]!;
    lu[k * width + m + k] = 1;
    const last = m + k;
    const d = 1 / lu[k * width + k]!;
    for (let j = k; j <= last; j++) lu[k * width + j]! *= d;
    for (let i = 0; i < m; i++) {
      if (i === k) continue;
      const f = lu[i * width + k]!;
      if (f === 0) continue;
      for (let j = k; j <= last; j++) lu[i * width + j]! -= f * lu[k * width + j]!;
    }
  }
  // column q of the right half is column rows[m + q] of the inverse
  for (let i = 0; i < m; i++) for (let q = 0; q < m; q++) w[wo + i * m + rows[m + q]!] = lu[i * width + m + q]!;
}

/**
 * The adjoint of z ↦ U = cayley(skew(z)) = 2W − I: with Ū the gradient of U,
 * Ā = −2 Wᵀ Ū Wᵀ and z̄_r = Ā[i,j] − Ā[j,i] for the r-th pair i < j.
 */
function cayleyAdjoint(
  w: Float64Array,
  wo: number,
  ubar: Float64Array,
  m: number,
  tmp: Float64Array,
  out: Float64Array | Float32Array,
  oo: number,
): void {
  // tmp = Ū Wᵀ
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let v = 0;
      for (let c = 0; c < m; c++) v += ubar[i * m + c]! * w[wo + j * m + c]!;
      tmp[i * m + j] = v;
    }
  }
  let r = oo;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++, r++) {
      // Ā[i,j] − Ā[j,i] = −2 (Wᵀ tmp)[i,j] + 2 (Wᵀ tmp)[j,i]
      let aij = 0;
      let aji = 0;
      for (let c = 0; c < m; c++) {
        aij += w[wo + c * m + i]! * tmp[c * m + j]!;
        aji += w[wo + c * m + j]! * tmp[c * m + i]!;
      }
      out[r] = -2 * (aij - aji);
    }
  }
}

/**
 * h_a = 1/√((a+1)(a+2)) for a < m: column a of the Helmert basis U_z [m+1, m] (helmertBasis) is
 * h_a in rows 0..a, −(a+1)·h_a in row a+1 and 0 below. The two functions after this use that
 * shape to apply U_z by prefix or suffix sums, O(n·m) per product instead of O(n·m²).
 */
function helmertColumnScales(m: number): Float64Array {
  return Float64Array.from({ length: m }, (_, a) => 1 / Math.sqrt((a + 1) * (a + 2)));
}

/**
 * H = J + U_z E U_zᵀ into out from offset o, for E [m, m]; t is scratch [n, m] (n = m + 1).
 * Row i of U_z X is Σ_{a ≥ i} h_a X[a] − i·h_{i−1}·X[i−1], a suffix sum over the rows of X.
 */
function helmertSandwich(
  e: Float64Array,
  h: Float64Array,
  m: number,
  t: Float64Array,
  out: TypedArray,
  o: number,
): void {
  const n = m + 1;
  // t = U_z E, column by column
  for (let c = 0; c < m; c++) {
    let suffix = 0;
    for (let i = m; i >= 0; i--) {
      if (i < m) suffix += h[i]! * e[i * m + c]!;
      t[i * m + c] = i > 0 ? suffix - i * h[i - 1]! * e[(i - 1) * m + c]! : suffix;
    }
  }
  // H = J + t U_zᵀ, row by row (the same sums over the columns of t)
  for (let r = 0; r < n; r++) {
    let suffix = 0;
    for (let j = m; j >= 0; j--) {
      if (j < m) suffix += h[j]! * t[r * m + j]!;
      out[o + r * n + j] = 1 / n + (j > 0 ? suffix - j * h[j - 1]! * t[r * m + j - 1]! : suffix);
    }
  }
}

/**
 * Ē = U_zᵀ Ḡ U_z into ebar [m, m] for Ḡ (n×n at offset o of g); t is scratch [n, m] = Ḡ U_z.
 * Entry a of a row of Y U_z is h_a·(Σ_{j ≤ a} Y[j] − (a+1)·Y[a+1]), a prefix sum.
 */
function helmertPullback(
  g: ArrayLike<number>,
  o: number,
  h: Float64Array,
  m: number,
  t: Float64Array,
  ebar: Float64Array,
): void {
  const n = m + 1;
  for (let r = 0; r < n; r++) {
    let prefix = 0;
    for (let a = 0; a < m; a++) {
      prefix += g[o + r * n + a]!;
      t[r * m + a] = h[a]! * (prefix - (a + 1) * g[o + r * n + a + 1]!);
    }
  }
  for (let c = 0; c < m; c++) {
    let prefix = 0;
    for (let a = 0; a < m; a++) {
      prefix += t[a * m + c]!;
      ebar[a * m + c] = h[a]! * (prefix - (a + 1) * t[(a + 1) * m + c]!);
    }
  }
}

/** Validated shapes: the batch shape, m and the matrices' count. */
function checkInputs(zU: Variable, zV: Variable, s: Variable): { batch: number[]; m: number; count: number } {
  const op = 'spectralSphereCayleyMap';
  if (s.ndim < 1 || s.shape[s.ndim - 1]! < 1) {
    throw new ShapeError(`${op}: s must have a last axis of length m = n − 1 ≥ 1, got shape ${fmtShape(s.shape)}`);
  }
  const m = s.shape[s.ndim - 1]!;
  const k = (m * (m - 1)) / 2;
  const batch = s.shape.slice(0, -1);
  for (const [name, z] of [
    ['zU', zU],
    ['zV', zV],
  ] as const) {
    const expected = [...batch, k];
    if (z.ndim !== expected.length || z.shape.some((d, i) => d !== expected[i])) {
      throw new ShapeError(
        `${op}: ${name} must have shape ${fmtShape(expected)} (the batch of s, then m(m−1)/2 = ${k} for m = ${m}), ` +
          `got ${fmtShape(z.shape)}`,
      );
    }
    if (z.dtype !== s.dtype) throw new DTypeError(`${op}: ${name} is ${z.dtype} but s is ${s.dtype}`);
  }
  for (const [name, x] of [
    ['zU', zU],
    ['zV', zV],
    ['s', s],
  ] as const)
    requireFinite(op, name, x.value);
  return { batch, m, count: batch.reduce((a, b) => a * b, 1) };
}

/** Above this |z| the fused map's error (≈ |z|·eps, 2e-13 at 1e3) would exceed the tests' 1e-12. */
export const FUSED_MAX_ABS_Z = 1e3;

function maxAbs(t: Tensor): number {
  const { data, offset, size } = t.contiguous();
  let m = 0;
  for (let i = 0; i < size; i++) m = Math.max(m, Math.abs(data[offset + i]!));
  return m;
}

/**
 * sHC's residual matrix H = J + U_z U diag(s) Vᵀ U_zᵀ [..., n, n] from zU, zV [..., m(m−1)/2]
 * and s [..., m] (m = n − 1 ≥ 1), with U = cayley(skewFromVector(zU, m)), V likewise, J = 11ᵀ/n
 * and U_z = helmertBasis(n): H1 = 1, 1ᵀH = 1ᵀ, singular values {1} ∪ |s| (so ‖H‖₂ = 1 for
 * s ∈ [−1, 1]^m). sHC feeds zU = γ_U·tanh(ρ_U·z_U + c_U) and s = tanh(ρ_S·z_S + c_S).
 *
 * `impl: 'fused'` (default) is one custom op: per token, (I + A)⁻¹ = W by Gauss–Jordan on the
 * m×m matrix (U = 2W − I, since I − A = 2I − (I + A)), then the products, all in doubles
 * (float32 inputs are widened and the result rounded once). Its backward, also scalar code,
 * pulls Ḡ back to Ē = U_zᵀ Ḡ U_z, then Ū = Ē V diag(s), V̄ = Ēᵀ U diag(s), s̄ = diag(Uᵀ Ē V), and
 * through Cayley Ā = −2 Wᵀ Ū Wᵀ, z̄ = the strict upper triangle of Ā − Āᵀ. Higher-order
 * gradients (a recorded backward) are the exact derivatives of the composed reference, taken
 * on a local graph. `impl: 'reference'` is the composition of `cayley`, `skewFromVector` and
 * matmuls that the fused op is tested against. The explicit inverse W loses about |z|·eps
 * (I + A has condition number ≈ max |z|), more than the reference's solve, so when any |z|
 * exceeds `FUSED_MAX_ABS_Z` the call takes the reference path (sHC's z = γ·tanh(·) stays near
 * |γ| ≈ 1); past about 1e8 that path reports I + A as singular (a LinAlgError).
 *
 * ShapeError for mismatched shapes, DTypeError for mixed dtypes, ValueError for non-finite
 * inputs.
 */
export function spectralSphereCayleyMap(
  zU: Variable | Tensor,
  zV: Variable | Tensor,
  s: Variable | Tensor,
  options: SpectralSphereCayleyOptions = {},
): Variable {
  const op = 'spectralSphereCayleyMap';
  const impl = options?.impl ?? 'fused';
  if (impl !== 'fused' && impl !== 'reference')
    throw new ValueError(`${op}: impl must be 'fused' or 'reference', got ${String(impl)}`);
  const [u, v, sv] = [asVariable(op, zU, 'zU'), asVariable(op, zV, 'zV'), asVariable(op, s, 's')];
  const { batch, m, count } = checkInputs(u, v, sv);
  if (impl === 'reference' || Math.max(maxAbs(u.value), maxAbs(v.value)) > FUSED_MAX_ABS_Z) {
    return referenceMap(u, v, sv);
  }
  const n = m + 1;
  const k = (m * (m - 1)) / 2;
  const dtype: DType = sv.dtype;
  const h = helmertColumnScales(m);
  let saved: { wU: Float64Array; wV: Float64Array; s: ArrayLike<number> } | null = null;

  const fused = customOp({
    name: op,
    forward: (zu, zv, st) => {
      const { data: zuv, offset: zuAt } = zu.contiguous();
      const { data: zvv, offset: zvAt } = zv.contiguous();
      const { data: sa, offset: sAt } = st.contiguous();
      const out = allocate(dtype, count * n * n);
      const keep = isGradEnabled() && (u.requiresGrad || v.requiresGrad || sv.requiresGrad);
      const wU = new Float64Array(keep ? count * m * m : m * m);
      const wV = new Float64Array(keep ? count * m * m : m * m);
      const lu = new Float64Array(2 * m * m);
      const rows = new Int32Array(2 * m);
      const e = new Float64Array(m * m);
      const ue = new Float64Array(n * m);
      const us = new Float64Array(m * m);
      const vv = new Float64Array(m * m);
      for (let b = 0; b < count; b++) {
        const wo = keep ? b * m * m : 0;
        inverseOfIPlusSkew(zuv, zuAt + b * k, m, lu, rows, wU, wo);
        inverseOfIPlusSkew(zvv, zvAt + b * k, m, lu, rows, wV, wo);
        // E = U diag(s) Vᵀ with U = 2W_U − I, V = 2W_V − I (U's columns scaled by s first)
        for (let a = 0; a < m; a++) {
          for (let d = 0; d < m; d++) {
            const i = a * m + d;
            us[i] = (2 * wU[wo + i]! - (a === d ? 1 : 0)) * sa[sAt + b * m + d]!;
            vv[i] = 2 * wV[wo + i]! - (a === d ? 1 : 0);
          }
        }
        for (let a = 0; a < m; a++) {
          for (let c = 0; c < m; c++) {
            let x = 0;
            for (let d = 0; d < m; d++) x += us[a * m + d]! * vv[c * m + d]!;
            e[a * m + c] = x;
          }
        }
        helmertSandwich(e, h, m, ue, out, b * n * n);
      }
      if (keep) saved = { wU, wV, s: sa.subarray(sAt, sAt + count * m) };
      return new Tensor(out, [...batch, n, n]);
    },
    backward: (g, inputs) => {
      const firstOrder = (): Tensor[] => sphereVjp(saved!, g.value.toTypedArray(), h, count, m, dtype, batch);
      return isGradEnabled() ? recordedVjp(op, referenceMap, inputs, g, firstOrder) : firstOrder();
    },
  });
  return fused(u, v, sv);
}

/** The fused map's vector-Jacobian product (see `spectralSphereCayleyMap`). */
function sphereVjp(
  saved: { wU: Float64Array; wV: Float64Array; s: ArrayLike<number> },
  g: ArrayLike<number>,
  h: Float64Array,
  count: number,
  m: number,
  dtype: DType,
  batch: readonly number[],
): Tensor[] {
  const n = m + 1;
  const k = (m * (m - 1)) / 2;
  const { wU, wV, s } = saved;
  const gzU = allocate(dtype, count * k);
  const gzV = allocate(dtype, count * k);
  const gs = allocate(dtype, count * m);
  const gh = new Float64Array(n * m);
  const ebar = new Float64Array(m * m);
  const uu = new Float64Array(m * m);
  const vv = new Float64Array(m * m);
  const ubar = new Float64Array(m * m);
  const vbar = new Float64Array(m * m);
  const tmp = new Float64Array(m * m);
  for (let b = 0; b < count; b++) {
    const o = b * n * n;
    const wo = b * m * m;
    helmertPullback(g, o, h, m, gh, ebar);
    for (let e = 0; e < m * m; e++) {
      const diag = e % (m + 1) === 0 ? 1 : 0;
      uu[e] = 2 * wU[wo + e]! - diag;
      vv[e] = 2 * wV[wo + e]! - diag;
    }
    // Ū = Ē V diag(s), V̄ = Ēᵀ U diag(s), s̄_c = Σ_a U_ac (Ē V)_ac
    for (let a = 0; a < m; a++) {
      for (let c = 0; c < m; c++) {
        let ev = 0;
        let etu = 0;
        for (let d = 0; d < m; d++) {
          ev += ebar[a * m + d]! * vv[d * m + c]!;
          etu += ebar[d * m + a]! * uu[d * m + c]!;
        }
        ubar[a * m + c] = ev;
        vbar[a * m + c] = etu;
      }
    }
    for (let c = 0; c < m; c++) {
      let x = 0;
      for (let a = 0; a < m; a++) x += uu[a * m + c]! * ubar[a * m + c]!;
      gs[b * m + c] = x;
    }
    for (let a = 0; a < m; a++) {
      for (let c = 0; c < m; c++) {
        ubar[a * m + c]! *= s[b * m + c]!;
        vbar[a * m + c]! *= s[b * m + c]!;
      }
    }
    cayleyAdjoint(wU, wo, ubar, m, tmp, gzU, b * k);
    cayleyAdjoint(wV, wo, vbar, m, tmp, gzV, b * k);
  }
  return [new Tensor(gzU, [...batch, k]), new Tensor(gzV, [...batch, k]), new Tensor(gs, [...batch, m])];
}
