/**
 * The two per-token stream products of every layer (f = v = 1), each one fused op:
 *
 *     readStreams:   u = H_pre·X                  hPre [..., n], x [..., n, C] → [..., C]
 *     writeStreams:  X' = H_res·R + H_postᵀ ⊗ y   hRes [..., n, n], r [..., n, C], hPost [..., n],
 *                                                 y [..., C] → [..., n, C]
 *
 * As composed ops they are batched n×n matmuls, broadcast products and the reductions of their
 * backward, each allocating a [..., n, C] intermediate; here each is one pass over the tokens in
 * scalar loops, forward and first-order backward. When a backward is being recorded
 * (`createGraph`, grad of grad) the backward is written in the differentiable ops instead
 * (both maps are bilinear, so that is their exact derivative to every order). The composed
 * forms (`readStreamsReference`, `writeStreamsReference`) are the specification the tests
 * check these against.
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
