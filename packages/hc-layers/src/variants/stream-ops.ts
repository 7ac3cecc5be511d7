/**
 * The two per-token stream products of every layer (f = v = 1), each one fused op:
 *
 *     readStreams:   u = H_pre·X                  hPre [..., n], x [..., n, C] → [..., C]
 *     writeStreams:  X' = H_res·R + H_postᵀ ⊗ y   hRes [..., n, n], r [..., n, C], hPost [..., n],
 *                                                 y [..., C] → [..., n, C]
 *
 * As composed ops they are batched n×n matmuls, broadcast products and the reductions of their
 * backward, each allocating a [..., n, C] intermediate; here each is one pass over the tokens in
 * scalar loops, forward and first-order backward (at n = 4, the default, the write and its
 * H_res/H_post gradients have unrolled kernels that read each channel once). When a backward
 * is being recorded (`createGraph`, grad of grad) the backward is written in the
 * differentiable ops instead (both maps are bilinear, so that is their exact derivative to
 * every order). The composed forms (`readStreamsReference`, `writeStreamsReference`) are the
 * specification the tests check these against.
 */
import { allocate, Tensor, type TypedArray } from '@hyperconn/tensor';
import {
  add,
  customOp,
  isGradEnabled,
  matmul,
  mul,
  squeeze,
  sum,
  transpose,
  unsqueeze,
  type Variable,
} from '@hyperconn/autograd';

/** u = H_pre·X by composed ops (the specification of `readStreams`). */
export function readStreamsReference(hPre: Variable, x: Variable): Variable {
  return squeeze(matmul(unsqueeze(hPre, -2), x), -2);
}

/** X' = H_res·R + H_postᵀ ⊗ y by composed ops (the specification of `writeStreams`). */
export function writeStreamsReference(hRes: Variable, r: Variable, hPost: Variable, y: Variable): Variable {
  return add(matmul(hRes, r), mul(unsqueeze(hPost, -1), unsqueeze(y, -2)));
}

/** The elements of `t` in C order: a buffer and the index of the first (no copy when `t` is contiguous). */
function flat(t: Tensor): { data: TypedArray; at: number } {
  const c = t.contiguous();
  return { data: c.data, at: c.offset };
}

/** Whether an input gets a gradient (the others are skipped, not computed and dropped). */
const needs = (v: Variable): boolean => v.requiresGrad;

const read = customOp({
  name: 'readStreams',
  forward: (hPreT, xT) => {
    const n = xT.shape[xT.ndim - 2]!;
    const dim = xT.shape[xT.ndim - 1]!;
    const tokens = xT.size / (n * dim);
    const { data: h, at: hAt } = flat(hPreT);
    const { data: x, at: xAt } = flat(xT);
    const out = allocate(xT.dtype, tokens * dim);
    // row by row, the inner loops over the C contiguous channels
    for (let t = 0; t < tokens; t++) {
      const o = t * dim;
      for (let j = 0; j < n; j++) {
        const hj = h[hAt + t * n + j]!;
        const xo = xAt + (t * n + j) * dim;
        if (j === 0) for (let c = 0; c < dim; c++) out[o + c] = hj * x[xo + c]!;
        else for (let c = 0; c < dim; c++) out[o + c] += hj * x[xo + c]!;
      }
    }
    return new Tensor(out, xT.shape.slice(0, -2).concat(dim));
  },
  backward: (g, [hPre, x]) => {
    if (isGradEnabled()) {
      // dH_pre[j] = Σ_c g_c x_jc, dX[j, c] = H_pre[j] g_c
      const gRow = unsqueeze(g, -2);
      return [needs(hPre!) ? sum(mul(x!, gRow), -1) : null, needs(x!) ? mul(unsqueeze(hPre!, -1), gRow) : null];
    }
    const n = x!.shape[x!.ndim - 2]!;
    const dim = x!.shape[x!.ndim - 1]!;
    const tokens = x!.size / (n * dim);
    const { data: gd, at: gAt } = flat(g.value);
    const { data: h, at: hAt } = flat(hPre!.value);
    const { data: xd, at: xAt } = flat(x!.value);
    const gH = needs(hPre!) ? allocate(hPre!.dtype, tokens * n) : null;
    const gX = needs(x!) ? allocate(x!.dtype, tokens * n * dim) : null;
    for (let t = 0; t < tokens; t++) {
      const go = gAt + t * dim;
      for (let j = 0; j < n; j++) {
        const o = (t * n + j) * dim;
        if (gH !== null) {
          const xo = xAt + o;
          let acc = 0;
          for (let c = 0; c < dim; c++) acc += gd[go + c]! * xd[xo + c]!;
          gH[t * n + j] = acc;
        }
        if (gX !== null) {
          const hj = h[hAt + t * n + j]!;
          for (let c = 0; c < dim; c++) gX[o + c] = hj * gd[go + c]!;
        }
      }
    }
    return [gH === null ? null : new Tensor(gH, [...hPre!.shape]), gX === null ? null : new Tensor(gX, [...x!.shape])];
  },
});

const write = customOp({
  name: 'writeStreams',
  forward: (hResT, rT, hPostT, yT) => {
    const n = rT.shape[rT.ndim - 2]!;
    const dim = rT.shape[rT.ndim - 1]!;
    const tokens = rT.size / (n * dim);
    const { data: h, at: hAt } = flat(hResT);
    const { data: r, at: rAt } = flat(rT);
    const { data: p, at: pAt } = flat(hPostT);
    const { data: y, at: yAt } = flat(yT);
    const out = allocate(rT.dtype, tokens * n * dim);
    if (n === 4) {
      writeForward4(h, hAt, r, rAt, p, pAt, y, yAt, out, tokens, dim);
      return new Tensor(out, [...rT.shape]);
    }
    // output row i = H_post[i]·y + Σ_j H_res[i, j]·R[j], the inner loops over the C channels
    for (let t = 0; t < tokens; t++) {
      const ro = rAt + t * n * dim;
      const yo = yAt + t * dim;
      for (let i = 0; i < n; i++) {
        const o = (t * n + i) * dim;
        const pi = p[pAt + t * n + i]!;
        for (let c = 0; c < dim; c++) out[o + c] = pi * y[yo + c]!;
        const ho = hAt + (t * n + i) * n;
        for (let j = 0; j < n; j++) {
          const hij = h[ho + j]!;
          const rj = ro + j * dim;
          for (let c = 0; c < dim; c++) out[o + c] += hij * r[rj + c]!;
        }
      }
    }
    return new Tensor(out, [...rT.shape]);
  },
  backward: (g, [hRes, r, hPost, y]) => {
    if (isGradEnabled()) {
      return [
        needs(hRes!) ? matmul(g, transpose(r!, -1, -2)) : null,
        needs(r!) ? matmul(transpose(hRes!, -1, -2), g) : null,
        needs(hPost!) ? sum(mul(g, unsqueeze(y!, -2)), -1) : null,
        needs(y!) ? sum(mul(g, unsqueeze(hPost!, -1)), -2) : null,
      ];
    }
    return writeVjp(g.value, hRes!, r!, hPost!, y!);
  },
});

/**
 * `writeStreams`' forward at n = 4, the default: per channel the four residual rows are read
 * once and the four outputs written once, H_res and H_post held in locals. The sums run in the
 * general loop's order, so the results are the same bits.
 */
function writeForward4(
  h: TypedArray,
  hAt: number,
  r: TypedArray,
  rAt: number,
  p: TypedArray,
  pAt: number,
  y: TypedArray,
  yAt: number,
  out: TypedArray,
  tokens: number,
  dim: number,
): void {
  for (let t = 0; t < tokens; t++) {
    const ho = hAt + 16 * t;
    const h00 = h[ho]!;
    const h01 = h[ho + 1]!;
    const h02 = h[ho + 2]!;
    const h03 = h[ho + 3]!;
    const h10 = h[ho + 4]!;
    const h11 = h[ho + 5]!;
    const h12 = h[ho + 6]!;
    const h13 = h[ho + 7]!;
    const h20 = h[ho + 8]!;
    const h21 = h[ho + 9]!;
    const h22 = h[ho + 10]!;
    const h23 = h[ho + 11]!;
    const h30 = h[ho + 12]!;
    const h31 = h[ho + 13]!;
    const h32 = h[ho + 14]!;
    const h33 = h[ho + 15]!;
    const po = pAt + 4 * t;
    const p0 = p[po]!;
    const p1 = p[po + 1]!;
    const p2 = p[po + 2]!;
    const p3 = p[po + 3]!;
    // the four rows of R and of the output, and y
    const r0 = rAt + 4 * dim * t;
    const r1 = r0 + dim;
    const r2 = r1 + dim;
    const r3 = r2 + dim;
    const o0 = 4 * dim * t;
    const o1 = o0 + dim;
    const o2 = o1 + dim;
    const o3 = o2 + dim;
    const yo = yAt + dim * t;
    for (let c = 0; c < dim; c++) {
      const a0 = r[r0 + c]!;
      const a1 = r[r1 + c]!;
      const a2 = r[r2 + c]!;
      const a3 = r[r3 + c]!;
      const yc = y[yo + c]!;
      out[o0 + c] = p0 * yc + h00 * a0 + h01 * a1 + h02 * a2 + h03 * a3;
      out[o1 + c] = p1 * yc + h10 * a0 + h11 * a1 + h12 * a2 + h13 * a3;
      out[o2 + c] = p2 * yc + h20 * a0 + h21 * a1 + h22 * a2 + h23 * a3;
      out[o3 + c] = p3 * yc + h30 * a0 + h31 * a1 + h32 * a2 + h33 * a3;
    }
  }
}

/**
 * dH_res[i, j] = Σ_c g_ic r_jc and dH_post[i] = Σ_c g_ic y_c of token t at n = 4, all twenty
 * sums in one pass over the channels (each in the general loop's order: the same bits), into
 * gH and gP where they are not null.
 */
function writeSums4(
  g: TypedArray,
  go: number,
  r: TypedArray,
  ro: number,
  y: TypedArray,
  yo: number,
  dim: number,
  gH: TypedArray | null,
  gP: TypedArray | null,
  t: number,
): void {
  const [g1, g2, g3] = [go + dim, go + 2 * dim, go + 3 * dim];
  const [r1, r2, r3] = [ro + dim, ro + 2 * dim, ro + 3 * dim];
  let s00 = 0;
  let s01 = 0;
  let s02 = 0;
  let s03 = 0;
  let s10 = 0;
  let s11 = 0;
  let s12 = 0;
  let s13 = 0;
  let s20 = 0;
  let s21 = 0;
  let s22 = 0;
  let s23 = 0;
  let s30 = 0;
  let s31 = 0;
  let s32 = 0;
  let s33 = 0;
  let q0 = 0;
  let q1 = 0;
  let q2 = 0;
  let q3 = 0;
  for (let c = 0; c < dim; c++) {
    const x0 = g[go + c]!;
    const x1 = g[g1 + c]!;
    const x2 = g[g2 + c]!;
    const x3 = g[g3 + c]!;
    const a0 = r[ro + c]!;
    const a1 = r[r1 + c]!;
    const a2 = r[r2 + c]!;
    const a3 = r[r3 + c]!;
    const yc = y[yo + c]!;
    q0 += x0 * yc;
    q1 += x1 * yc;
    q2 += x2 * yc;
    q3 += x3 * yc;
    s00 += x0 * a0;
    s01 += x0 * a1;
    s02 += x0 * a2;
    s03 += x0 * a3;
    s10 += x1 * a0;
    s11 += x1 * a1;
    s12 += x1 * a2;
    s13 += x1 * a3;
    s20 += x2 * a0;
    s21 += x2 * a1;
    s22 += x2 * a2;
    s23 += x2 * a3;
    s30 += x3 * a0;
    s31 += x3 * a1;
    s32 += x3 * a2;
    s33 += x3 * a3;
  }
  if (gH !== null) {
    const o = 16 * t;
    gH[o] = s00;
    gH[o + 1] = s01;
    gH[o + 2] = s02;
    gH[o + 3] = s03;
    gH[o + 4] = s10;
    gH[o + 5] = s11;
    gH[o + 6] = s12;
    gH[o + 7] = s13;
    gH[o + 8] = s20;
    gH[o + 9] = s21;
    gH[o + 10] = s22;
    gH[o + 11] = s23;
    gH[o + 12] = s30;
    gH[o + 13] = s31;
    gH[o + 14] = s32;
    gH[o + 15] = s33;
  }
  if (gP !== null) {
    gP[4 * t] = q0;
    gP[4 * t + 1] = q1;
    gP[4 * t + 2] = q2;
    gP[4 * t + 3] = q3;
  }
}

/** The first-order gradients of `writeStreams` for the cotangent g (null where not needed). */
function writeVjp(gT: Tensor, hRes: Variable, r: Variable, hPost: Variable, y: Variable): (Tensor | null)[] {
  const n = r.shape[r.ndim - 2]!;
  const dim = r.shape[r.ndim - 1]!;
  const tokens = r.size / (n * dim);
  const { data: g, at: gAt } = flat(gT);
  const { data: h, at: hAt } = flat(hRes.value);
  const { data: rd, at: rAt } = flat(r.value);
  const { data: p, at: pAt } = flat(hPost.value);
  const { data: yd, at: yAt } = flat(y.value);
  const gH = needs(hRes) ? allocate(hRes.dtype, tokens * n * n) : null;
  const gR = needs(r) ? allocate(r.dtype, tokens * n * dim) : null;
  const gP = needs(hPost) ? allocate(hPost.dtype, tokens * n) : null;
  const gY = needs(y) ? allocate(y.dtype, tokens * dim) : null;
  for (let t = 0; t < tokens; t++) {
    const go = gAt + t * n * dim;
    const ro = rAt + t * n * dim;
    const yo = yAt + t * dim;
    // n = 4 (the default): the twenty sums in one pass; otherwise one dot product each
    if (n === 4) {
      if (gH !== null || gP !== null) writeSums4(g, go, rd, ro, yd, yo, dim, gH, gP, t);
    } else {
      for (let i = 0; i < n; i++) {
        const gi = go + i * dim;
        // dH_post[i] = Σ_c g_ic y_c; dH_res[i, j] = Σ_c g_ic r_jc
        if (gP !== null) {
          let acc = 0;
          for (let c = 0; c < dim; c++) acc += g[gi + c]! * yd[yo + c]!;
          gP[t * n + i] = acc;
        }
        if (gH !== null) {
          for (let j = 0; j < n; j++) {
            const rj = ro + j * dim;
            let acc = 0;
            for (let c = 0; c < dim; c++) acc += g[gi + c]! * rd[rj + c]!;
            gH[(t * n + i) * n + j] = acc;
          }
        }
      }
    }
    // dR[j] = Σ_i H_res[i, j]·g_i; dy = Σ_i H_post[i]·g_i (rows of C channels)
    if (gR !== null) {
      const ho = hAt + t * n * n;
      for (let j = 0; j < n; j++) {
        const o = (t * n + j) * dim;
        for (let i = 0; i < n; i++) {
          const hij = h[ho + i * n + j]!;
          const gi = go + i * dim;
          if (i === 0) for (let c = 0; c < dim; c++) gR[o + c] = hij * g[gi + c]!;
          else for (let c = 0; c < dim; c++) gR[o + c] += hij * g[gi + c]!;
        }
      }
    }
    if (gY !== null) {
      const o = t * dim;
      for (let i = 0; i < n; i++) {
        const pi = p[pAt + t * n + i]!;
        const gi = go + i * dim;
        if (i === 0) for (let c = 0; c < dim; c++) gY[o + c] = pi * g[gi + c]!;
        else for (let c = 0; c < dim; c++) gY[o + c] += pi * g[gi + c]!;
      }
    }
  }
  return [
    gH === null ? null : new Tensor(gH, [...hRes.shape]),
    gR === null ? null : new Tensor(gR, [...r.shape]),
    gP === null ? null : new Tensor(gP, [...hPost.shape]),
    gY === null ? null : new Tensor(gY, [...y.shape]),
  ];
}

/**
 * u = H_pre·X per token: hPre [..., n], x [..., n, C] → [..., C], the leading axes equal (no
 * broadcasting: the layer passes maps expanded to every token).
 */
export function readStreams(hPre: Variable, x: Variable): Variable {
  return read(hPre, x);
}

/**
 * X' = H_res·R + H_postᵀ ⊗ y per token: hRes [..., n, n], r [..., n, C], hPost [..., n],
 * y [..., C] → [..., n, C], the leading axes equal.
 */
export function writeStreams(hRes: Variable, r: Variable, hPost: Variable, y: Variable): Variable {
  return write(hRes, r, hPost, y);
}
