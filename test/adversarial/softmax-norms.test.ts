/**
 * The softmax family (logsumexp, softmax, logSoftmax, crossEntropy) and the scale-sensitive
 * norms (RMSNorm, LayerNorm, the tensor/autograd `norm`, the manifolds' tangent norms) at
 * adversarial magnitudes: logits at 0, ±1, ±1e17 (where the ulp exceeds ln 2), ±1e300, ±∞, NaN;
 * rows at 1e±200 and 1e±300 (whose squares overflow or underflow float64), zero rows; float32 at
 * 1e±20 and 1e±35. Gradients to first and second order.
 *
 * References are independent of the library: closed forms, or float64 loops with the max shift
 * done by hand (`refLogSoftmax`, `refLse`), or the same loops at scale 1 scaled by hand (the
 * norms are homogeneous of degree 0, their k-th derivatives of degree −k).
 *
 * Tolerances: float64 1e-12 relative (the contract); float32 8·eps relative — each value below
 * passes through at most ~8 roundings of u = eps/2. Absolute parts are 0 where the expected value
 * is tiny or huge, else 1e-15 for O(1) values that come out of cancellations.
 *
 * The IEEE values asserted here are the documented ones: softmax/logSoftmax give NaN throughout a
 * slice of only −∞ or holding +∞ or NaN; logsumexp gives −∞ / +∞ / NaN there and a NaN gradient;
 * RMSNorm/LayerNorm give NaN for a zero (constant) row with eps = 0.
 */
import { describe, expect } from 'vitest';
import * as T from '@hyperconn/tensor';
import { epsOf, IndexError, ShapeError, tensor, type Tensor, ValueError, type DType } from '@hyperconn/tensor';
import { grad, logSoftmax, logsumexp, mul, nn, norm, softmax, sum, Variable } from '@hyperconn/autograd';
import { Birkhoff, SpectralSphere, Stiefel } from '@hyperconn/manifolds';
import { expectClose, type Tolerance } from '../support/assert';
import { battery, type Case } from './battery';

// ---------------------------------------------------------------------------------------------
// References (plain float64 loops)

/** log softmax of a row with the max subtracted by hand; NaN throughout when the max is not finite (documented). */
function refLogSoftmax(row: readonly number[]): number[] {
  const m = Math.max(...row);
  if (!Number.isFinite(m)) return row.map(() => NaN);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  const logS = Math.log(s);
  return row.map((v) => v - m - logS);
}
/** softmax as exp(x − m)/Σexp(x − m) (a different formula from the library's exp(logSoftmax)). */
function refSoftmax(row: readonly number[]): number[] {
  const m = Math.max(...row);
  if (!Number.isFinite(m)) return row.map(() => NaN);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
/** log Σ exp with the max shift by hand: −∞ for only −∞, +∞ with a +∞, NaN with a NaN. */
function refLse(row: readonly number[]): number {
  const m = Math.max(...row);
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  return m + Math.log(s);
}
const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
/** Hessian of logsumexp (diag p − ppᵀ) times v. */
const lseHv = (p: readonly number[], v: readonly number[]): number[] => p.map((pi, i) => pi * v[i]! - pi * dot(p, v));

/** RMSNorm at scale 1 with eps = 0: y = x/r, r = √(mean x²). */
function refRms(x: readonly number[]): { y: number[]; r: number } {
  const r = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  return { y: x.map((v) => v / r), r };
}
/** LayerNorm at scale 1 with eps = 0: y = (x − μ)/σ. */
function refLn(x: readonly number[]): { y: number[]; sigma: number } {
  const mu = x.reduce((s, v) => s + v, 0) / x.length;
  const d = x.map((v) => v - mu);
  const sigma = Math.sqrt(d.reduce((s, v) => s + v * v, 0) / x.length);
  return { y: d.map((v) => v / sigma), sigma };
}

// ---------------------------------------------------------------------------------------------
// Plumbing

const F64: Tolerance = { rtol: 1e-12, atol: 1e-15 };
/** For values far from 1 in magnitude: relative only. */
const REL64: Tolerance = { rtol: 1e-12, atol: 0 };
const F32: Tolerance = { rtol: 8 * epsOf('float32'), atol: 8 * epsOf('float32') * 1e-3 };
const REL32: Tolerance = { rtol: 8 * epsOf('float32'), atol: 0 };

const t = (values: number[] | number[][], dtype: DType = 'float64'): Tensor => tensor(values, { dtype });
const tensorOf = (v: unknown): Tensor => (v instanceof Variable ? v.value : (v as Tensor));
/** A check against `expected` (the library's value, a Variable or Tensor, flattened). */
const close =
  (expected: number | readonly number[], tol: Tolerance = F64) =>
  (v: unknown): void =>
    expectClose(tensorOf(v).toTypedArray(), typeof expected === 'number' ? [expected] : expected, tol);
/** Every element NaN. */
const allNaN = (v: unknown): void => {
  const values = [...tensorOf(v).toTypedArray()];
  expect(values.length).toBeGreaterThan(0);
  expect(values.every(Number.isNaN), `expected NaN throughout, got ${values.join(', ')}`).toBe(true);
};
/** ∇ of Σ w·f(x). */
const gradOf = (f: (x: Variable) => Variable, x: Tensor, w: Tensor): Variable => grad((z) => sum(mul(f(z), w)))(x);
/** (∇² Σ w·f(x)) v, by differentiating the gradient again. */
const hvpOf = (f: (x: Variable) => Variable, x: Tensor, w: Tensor, v: Tensor): Variable =>
  grad((z) => sum(mul(grad((u) => sum(mul(f(u), w)))(z), v)))(x);

const value = (name: string, run: () => unknown, check: (v: unknown) => void): Case => ({ name, run, check });
const error = (name: string, run: () => unknown, err: abstract new (...args: never[]) => Error, op: string): Case => ({
  name,
  run,
  error: err,
  op,
});

// ---------------------------------------------------------------------------------------------
// The softmax family

const E = Math.E;
const softmaxCases: Case[] = [
  value('softmax of zeros is uniform', () => softmax(t([0, 0, 0])), close([1 / 3, 1 / 3, 1 / 3])),
  value('softmax of [1, −1]', () => softmax(t([1, -1])), close(refSoftmax([1, -1]))),
  value('softmax of [1e17, 1e17] is [½, ½] (ulp 16 > ln 2)', () => softmax(t([1e17, 1e17])), close([0.5, 0.5])),
  value('softmax of [−1e17, −1e17] is [½, ½]', () => softmax(t([-1e17, -1e17])), close([0.5, 0.5])),
  value('softmax of three 1e300 is uniform', () => softmax(t([1e300, 1e300, 1e300])), close([1 / 3, 1 / 3, 1 / 3])),
  value('softmax of [−1e300, −1e300] is [½, ½]', () => softmax(t([-1e300, -1e300])), close([0.5, 0.5])),
  value('softmax of [1e300, −1e300] is [1, 0]', () => softmax(t([1e300, -1e300])), close([1, 0], REL64)),
  value(
    'softmax of mixed [1e17, 1e17 − 64, −1e17]',
    () => softmax(t([1e17, 1e17 - 64, -1e17])),
    close(refSoftmax([1e17, 1e17 - 64, -1e17]), REL64),
  ),
  value(
    'softmax with a −∞ entry gives it exactly 0',
    () => softmax(t([0, -Infinity, 1])),
    close([1 / (1 + E), 0, E / (1 + E)], REL64),
  ),
  value('softmax of only −∞ is NaN (documented)', () => softmax(t([-Infinity, -Infinity])), allNaN),
  value('softmax of a slice holding +∞ is NaN throughout (documented)', () => softmax(t([Infinity, 0, 1])), allNaN),
  value('softmax propagates NaN through its slice', () => softmax(t([NaN, 0, 1])), allNaN),
  value(
    'softmax along axis 0 of 1e300 columns, rows independent',
    () =>
      softmax(
        t([
          [1e300, 0],
          [1e300, -1e300],
        ]),
        0,
      ),
    close([0.5, 1, 0.5, 0], REL64),
  ),
  value('softmax of one logit is 1, also at 1e300', () => softmax(t([[1e300], [-1e300]])), close([1, 1], REL64)),
  value(
    'float32: softmax of [1e30, 1e30] is [½, ½]',
    () => softmax(t([1e30, 1e30], 'float32')),
    close([0.5, 0.5], F32),
  ),
  value(
    'float32: softmax of [3e38, −3e38] is [1, 0]',
    () => softmax(t([3e38, -3e38], 'float32')),
    close([1, 0], REL32),
  ),
  value(
    'float32: softmax of [1e20, 1e20 + 2^43] (one ulp apart)',
    () => softmax(t([1e20, Math.fround(1e20) + 2 ** 43], 'float32')),
    (v) => {
      const x = [Math.fround(1e20), Math.fround(Math.fround(1e20) + 2 ** 43)];
      close(refSoftmax(x), REL32)(v);
    },
  ),

  value(
    'logSoftmax of [1e17, 1e17] is −ln 2 each',
    () => logSoftmax(t([1e17, 1e17])),
    close([-Math.LN2, -Math.LN2], REL64),
  ),
  value(
    'logSoftmax of four 1e300 is −ln 4',
    () => logSoftmax(t([1e300, 1e300, 1e300, 1e300])),
    close(new Array(4).fill(-Math.log(4)), REL64),
  ),
  value(
    'logSoftmax of [1e300, −1e300] is [0, −2e300]',
    () => logSoftmax(t([1e300, -1e300])),
    close([0, -2e300], REL64),
  ),
  value('logSoftmax of [±1, 0]', () => logSoftmax(t([1, -1, 0])), close(refLogSoftmax([1, -1, 0]))),
  value('logSoftmax keeps −∞ entries at −∞', () => logSoftmax(t([0, -Infinity])), close([0, -Infinity])),
  value('logSoftmax of only −∞ is NaN (documented)', () => logSoftmax(t([-Infinity, -Infinity, -Infinity])), allNaN),
  value('logSoftmax of a slice holding +∞ is NaN throughout', () => logSoftmax(t([Infinity, 0])), allNaN),
  value('logSoftmax propagates NaN', () => logSoftmax(t([0, NaN])), allNaN),
  value(
    'float32: logSoftmax of [1e30, 1e30] is −ln 2',
    () => logSoftmax(t([1e30, 1e30], 'float32')),
    close([-Math.LN2, -Math.LN2], REL32),
  ),

  value('logsumexp of [0, 0] is ln 2', () => logsumexp(t([0, 0])), close(Math.LN2, REL64)),
  value('logsumexp of [1e300, 1e300]', () => logsumexp(t([1e300, 1e300])), close(refLse([1e300, 1e300]), REL64)),
  value('logsumexp of [−1e300, −1e300]', () => logsumexp(t([-1e300, -1e300])), close(-1e300, REL64)),
  value(
    'logsumexp of [−1e17, 1e17 − 32, 1e17]',
    () => logsumexp(t([-1e17, 1e17 - 32, 1e17])),
    close(refLse([-1e17, 1e17 - 32, 1e17]), REL64),
  ),
  value('logsumexp of only −∞ is −∞', () => logsumexp(t([-Infinity, -Infinity])), close(-Infinity)),
  value('logsumexp with +∞ is +∞', () => logsumexp(t([Infinity, 0])), close(Infinity)),
  value('logsumexp with NaN is NaN', () => logsumexp(t([NaN, 0])), allNaN),
  value('logsumexp with a −∞ entry ignores it', () => logsumexp(t([1, -Infinity])), close(1, REL64)),
  value(
    'logsumexp over both axes of 1e300s',
    () =>
      logsumexp(
        t([
          [1e300, 1e300],
          [1e300, -1e300],
        ]),
        [-2, -1],
      ),
    close(refLse([1e300, 1e300, 1e300, -1e300]), REL64),
  ),
  value(
    'float32: logsumexp of [3e38, 3e38]',
    () => logsumexp(t([3e38, 3e38], 'float32')),
    close(Math.fround(3e38), REL32),
  ),
];

// Gradients: the closed forms ∇lse = p, J_softmaxᵀw = p∘(w − w·p), J_logSoftmaxᵀw = w − pΣw,
// ∇CE = p − onehot; second order ∇²lse = diag p − ppᵀ (and the chain rule on those).
const w3 = [0.3, -1.2, 2];
const v3 = [1, 0.5, -2];
const softmaxGradCases: Case[] = [
  value(
    '∇logsumexp at [1e14, 1e14] is [½, ½] (was 0.5028)',
    () => grad((x) => logsumexp(x))(t([1e14, 1e14])),
    close([0.5, 0.5]),
  ),
  value(
    '∇logsumexp at [1e300, −1e300, 1e300]',
    () => grad((x) => logsumexp(x))(t([1e300, -1e300, 1e300])),
    close([0.5, 0, 0.5]),
  ),
  value(
    '∇logsumexp over all axes of a 2×2 of 1e17',
    () =>
      grad((x) => logsumexp(x))(
        t([
          [1e17, 1e17],
          [1e17, 1e17],
        ]),
      ),
    close([0.25, 0.25, 0.25, 0.25]),
  ),
  value('∇logsumexp at [0, −∞] is [1, 0]', () => grad((x) => logsumexp(x))(t([0, -Infinity])), close([1, 0])),
  value(
    '∇logsumexp over only −∞ is NaN (documented)',
    () => grad((x) => logsumexp(x))(t([-Infinity, -Infinity])),
    allNaN,
  ),
  value(
    'float32: ∇logsumexp at [1e30, 1e30]',
    () => grad((x) => logsumexp(x))(t([1e30, 1e30], 'float32')),
    close([0.5, 0.5], F32),
  ),
  value(
    'J_softmaxᵀw at [1e17, 1e17, 1e17 − 16]',
    () => gradOf((x) => softmax(x), t([1e17, 1e17, 1e17 - 16]), t(w3)),
    (v) => {
      const p = refSoftmax([1e17, 1e17, 1e17 - 16]);
      close(p.map((pi, i) => pi * (w3[i]! - dot(w3, p))))(v);
    },
  ),
  value(
    'J_softmaxᵀw at [1e300, −1e300, 1e300]',
    () => gradOf((x) => softmax(x), t([1e300, -1e300, 1e300]), t(w3)),
    (v) => {
      const p = [0.5, 0, 0.5];
      close(p.map((pi, i) => pi * (w3[i]! - dot(w3, p))))(v);
    },
  ),
  value(
    'J_logSoftmaxᵀw at [1e300, 1e300, 1e300]',
    () => gradOf((x) => logSoftmax(x), t([1e300, 1e300, 1e300]), t(w3)),
    (v) => {
      const total = w3.reduce((a, b) => a + b, 0);
      close(w3.map((wi) => wi - total / 3))(v);
    },
  ),
  value(
    '∇crossEntropy at [[1e17, 1e17]], target 0 is [−½, ½]',
    () => grad((x) => nn.crossEntropy(x, [0]))(t([[1e17, 1e17]])),
    close([-0.5, 0.5]),
  ),
  value(
    '∇crossEntropy at [[1e300, −1e300, 1e300]], target 1',
    () => grad((x) => nn.crossEntropy(x, [1]))(t([[1e300, -1e300, 1e300]])),
    close([0.5, -1, 0.5]),
  ),
  value(
    '∇crossEntropy (mean over 2 rows) at mixed 1e17 / −1e300 rows',
    () =>
      grad((x) => nn.crossEntropy(x, [1, 0]))(
        t([
          [1e17, 1e17],
          [-1e300, -1e300],
        ]),
      ),
    close([0.25, -0.25, -0.25, 0.25]),
  ),
  value(
    '∇²logsumexp·v at [1e17, 1e17, 1e17]',
    () => hvpOf((x) => logsumexp(x, -1, true), t([1e17, 1e17, 1e17]), t([1]), t(v3)),
    close(lseHv([1 / 3, 1 / 3, 1 / 3], v3)),
  ),
  value(
    '∇²logsumexp·v at [1e300, 0, 1e300]',
    () => hvpOf((x) => logsumexp(x, -1, true), t([1e300, 0, 1e300]), t([1]), t(v3)),
    close(lseHv([0.5, 0, 0.5], v3)),
  ),
  value(
    '∇²(w·softmax)·v at [1e17, 1e17 − 16, 1e17]',
    () => hvpOf((x) => softmax(x), t([1e17, 1e17 - 16, 1e17]), t(w3), t(v3)),
    (out) => {
      // f = w·p: ∇f = p∘a with a = w − (w·p); Hv = q∘a − p(w·q) with q = p∘(v − p·v)
      const p = refSoftmax([1e17, 1e17 - 16, 1e17]);
      const a = w3.map((wi) => wi - dot(w3, p));
      const q = p.map((pi, i) => pi * (v3[i]! - dot(p, v3)));
      close(q.map((qi, i) => qi * a[i]! - p[i]! * dot(w3, q)))(out);
    },
  ),
  value(
    '∇²(w·logSoftmax)·v at [1e300, 1e300, −1e300]',
    () => hvpOf((x) => logSoftmax(x), t([1e300, 1e300, -1e300]), t(w3), t(v3)),
    (out) => {
      // ∇ = w − pΣw, so Hv = −Σw·(diag p − ppᵀ)v
      const total = w3.reduce((a, b) => a + b, 0);
      close(lseHv([0.5, 0.5, 0], v3).map((h) => -total * h))(out);
    },
  ),
  value(
    '∇²crossEntropy·v at [[1e17, 1e17, 1e17]], target 2',
    () => hvpOf((x) => nn.crossEntropy(x, [2]), t([[1e17, 1e17, 1e17]]), t([1]), t([v3])),
    close(lseHv([1 / 3, 1 / 3, 1 / 3], v3)),
  ),
  value(
    'float32: ∇²logsumexp·v at [1e30, 1e30]',
    () => hvpOf((x) => logsumexp(x, -1, true), t([1e30, 1e30], 'float32'), t([1], 'float32'), t([1, -1], 'float32')),
    close(lseHv([0.5, 0.5], [1, -1]), F32),
  ),
];

const crossEntropyCases: Case[] = [
  value(
    'crossEntropy of [[1e17, 1e17]] is ln 2 (was 0)',
    () => nn.crossEntropy(t([[1e17, 1e17]]), [0]),
    close(Math.LN2, REL64),
  ),
  value(
    'crossEntropy of [[1e300, −1e300]] at the small logit is 2e300',
    () => nn.crossEntropy(t([[1e300, -1e300]]), [1]),
    close(2e300, REL64),
  ),
  value(
    'crossEntropy of [[1e300, −1e300]] at the large logit is 0',
    () => nn.crossEntropy(t([[1e300, -1e300]]), [0]),
    close(0, REL64),
  ),
  value(
    'crossEntropy of [[1, −1, 0]] (reduction none)',
    () => nn.crossEntropy(t([[1, -1, 0]]), [2], { reduction: 'none' }),
    close([-refLogSoftmax([1, -1, 0])[2]!]),
  ),
  value('crossEntropy at a −∞ target logit is +∞', () => nn.crossEntropy(t([[0, -Infinity]]), [1]), close(Infinity)),
  value(
    'crossEntropy with −∞ at another class is exact',
    () => nn.crossEntropy(t([[0, -Infinity]]), [0]),
    close(0, REL64),
  ),
  value('crossEntropy of a row of only −∞ is NaN', () => nn.crossEntropy(t([[-Infinity, -Infinity]]), [0]), allNaN),
  value('crossEntropy of a row holding NaN is NaN', () => nn.crossEntropy(t([[NaN, 0]]), [1]), allNaN),
  value(
    'crossEntropy sums rows at 1e17 and −1e300',
    () =>
      nn.crossEntropy(
        t([
          [1e17, 1e17],
          [-1e300, -1e300],
        ]),
        [1, 0],
        { reduction: 'sum' },
      ),
    close(2 * Math.LN2, REL64),
  ),
  value(
    'float32: crossEntropy of [[1e30, 1e30]] is ln 2',
    () => nn.crossEntropy(t([[1e30, 1e30]], 'float32'), [0]),
    close(Math.LN2, REL32),
  ),
];

// ---------------------------------------------------------------------------------------------
// Norms

const rmsAt = (scale: number, row: readonly number[], options: { eps?: number; dtype?: DType } = {}): Variable =>
  new nn.RMSNorm(row.length, options).forward(t([row.map((v) => v * scale)], options.dtype));
const lnAt = (scale: number, row: readonly number[], options: { eps?: number; dtype?: DType } = {}): Variable =>
  new nn.LayerNorm(row.length, options).forward(t([row.map((v) => v * scale)], options.dtype));
const base = [1, -0.5, 0.25, 2];
const rmsOf = (x: readonly number[]): number[] => refRms(x).y;
const lnOf = (x: readonly number[]): number[] => refLn(x).y;
// rows far below √eps: x/√(mean x² + eps) = (x/√eps)(1 + O(mean x²/eps)), and mean x²/eps ≤ 1e-388 here
const overRootEps = (scale: number, row: readonly number[], eps: number): number[] =>
  row.map((v) => (v * scale) / Math.sqrt(eps));

const normCases: Case[] = [
  value(
    'RMSNorm of [[1e200, 1e200]] is [1, 1] (was [0, 0])',
    () => new nn.RMSNorm(2).forward(t([[1e200, 1e200]])),
    close([1, 1]),
  ),
  value('RMSNorm at 1e200', () => rmsAt(1e200, base), close(rmsOf(base))),
  value('RMSNorm at 1e300', () => rmsAt(1e300, base), close(rmsOf(base))),
  value('RMSNorm at −1e300 (sign kept)', () => rmsAt(-1e300, base), close(rmsOf(base).map((v) => -v))),
  value(
    'RMSNorm at 1e308 (the squares of the entries are 1e616)',
    () => rmsAt(1e308, [1, -0.5]),
    close(rmsOf([1, -0.5])),
  ),
  value(
    'RMSNorm at 1e−200 with eps = 1e−6 is x/√eps (eps/x² would overflow)',
    () => rmsAt(1e-200, base),
    close(overRootEps(1e-200, base, 1e-6), REL64),
  ),
  value(
    'RMSNorm at 1e−300 with eps = 1e−6 is x/√eps',
    () => rmsAt(1e-300, base),
    close(overRootEps(1e-300, base, 1e-6), REL64),
  ),
  value('RMSNorm at 1e−200 with eps = 0 is scale-free', () => rmsAt(1e-200, base, { eps: 0 }), close(rmsOf(base))),
  value('RMSNorm at 1e−300 with eps = 0 is scale-free', () => rmsAt(1e-300, base, { eps: 0 }), close(rmsOf(base))),
  value('RMSNorm of a zero row with eps > 0 is 0', () => rmsAt(0, base), close([0, 0, 0, 0], REL64)),
  value('RMSNorm of a zero row with eps = 0 is 0/0 = NaN (documented)', () => rmsAt(0, base, { eps: 0 }), allNaN),
  value('RMSNorm of a row holding ∞ is NaN', () => new nn.RMSNorm(2).forward(t([[Infinity, 1]])), allNaN),
  value(
    'RMSNorm rows at 1e300 and 1e−300 in one batch',
    () =>
      new nn.RMSNorm(2, { eps: 0 }).forward(
        t([
          [1e300, -1e300],
          [1e-300, 3e-300],
        ]),
      ),
    close([...rmsOf([1, -1]), ...rmsOf([1, 3])]),
  ),
  value(
    'float32: RMSNorm at 1e20 (x² overflows float32)',
    () => rmsAt(1e20, base, { dtype: 'float32' }),
    close(rmsOf(base), F32),
  ),
  value('float32: RMSNorm at 1e35', () => rmsAt(1e35, base, { dtype: 'float32' }), close(rmsOf(base), F32)),
  value(
    'float32: RMSNorm at 1e−20 is x/√eps',
    () => rmsAt(1e-20, base, { dtype: 'float32' }),
    (v) => {
      const x = base.map((b) => Math.fround(b * 1e-20));
      close(
        x.map((xi) => xi / Math.sqrt(1e-6)),
        REL32,
      )(v);
    },
  ),
  value(
    'float32: RMSNorm at 1e−35 with eps = 0 is scale-free',
    () => rmsAt(1e-35, base, { dtype: 'float32', eps: 0 }),
    (v) => {
      close(rmsOf(base.map((b) => Math.fround(b * 1e-35))), F32)(v);
    },
  ),

  value('LayerNorm at 1e200', () => lnAt(1e200, base), close(lnOf(base))),
  value('LayerNorm at 1e300', () => lnAt(1e300, base), close(lnOf(base))),
  value('LayerNorm at 1.5e308 (x − mean would overflow)', () => lnAt(1.5e308, [1, -1, 0.5]), close(lnOf([1, -1, 0.5]))),
  value(
    'LayerNorm at 1e−200 with eps = 1e−5 is (x − mean)/√eps',
    () => lnAt(1e-200, base),
    (v) => {
      const mu = base.reduce((a, b) => a + b, 0) / base.length;
      close(
        base.map((b) => ((b - mu) * 1e-200) / Math.sqrt(1e-5)),
        REL64,
      )(v);
    },
  ),
  value('LayerNorm at 1e−300 with eps = 0 is scale-free', () => lnAt(1e-300, base, { eps: 0 }), close(lnOf(base))),
  value('LayerNorm of a constant 1e300 row is 0', () => lnAt(1e300, [1, 1, 1]), close([0, 0, 0], REL64)),
  value('LayerNorm of a zero row is 0', () => lnAt(0, [1, 1, 1]), close([0, 0, 0], REL64)),
  value(
    'LayerNorm of a constant row with eps = 0 is 0/0 = NaN (documented)',
    () => lnAt(7, [1, 1, 1], { eps: 0 }),
    allNaN,
  ),
  value('float32: LayerNorm at 1e20', () => lnAt(1e20, base, { dtype: 'float32' }), close(lnOf(base), F32)),
  value('float32: LayerNorm at 1e35', () => lnAt(1e35, base, { dtype: 'float32' }), close(lnOf(base), F32)),
  value(
    'float32: LayerNorm at 3e38 (x − mean would overflow float32)',
    () => lnAt(3e38, [1, -1, 0.5], { dtype: 'float32' }),
    (v) => {
      close(lnOf([1, -1, 0.5].map((b) => Math.fround(b * 3e38))), F32)(v);
    },
  ),
  value(
    'float32: RMSNorm at 1e−35 with eps = 1e−6 is x/√eps',
    () => rmsAt(1e-35, base, { dtype: 'float32' }),
    (v) => {
      close(
        base.map((b) => Math.fround(b * 1e-35) / Math.sqrt(1e-6)),
        REL32,
      )(v);
    },
  ),
  value(
    'float32: LayerNorm at 1e−35 with eps = 0',
    () => lnAt(1e-35, base, { dtype: 'float32', eps: 0 }),
    (v) => {
      close(lnOf(base.map((b) => Math.fround(b * 1e-35))), F32)(v);
    },
  ),

  // Gradients. RMSNorm (eps negligible): Jᵀg = (g − y(g·y)/n)/r. LayerNorm: (g − mean g − y·mean(g∘y))/σ.
  value(
    '∇RMSNorm at 1e200 (closed form, divided by the scale)',
    () => gradOf((x) => new nn.RMSNorm(4).forward(x), t([base.map((b) => b * 1e200)]), t([w3.concat(1)])),
    (v) => {
      const { y, r } = refRms(base);
      const g = w3.concat(1);
      close(
        g.map((gi, i) => (gi - (y[i]! * dot(g, y)) / 4) / (r * 1e200)),
        REL64,
      )(v);
    },
  ),
  value(
    '∇RMSNorm at 1e−300 with eps = 0 is 1e300 × the scale-1 gradient',
    () => gradOf((x) => new nn.RMSNorm(4, { eps: 0 }).forward(x), t([base.map((b) => b * 1e-300)]), t([w3.concat(1)])),
    (v) => {
      const { y, r } = refRms(base);
      const g = w3.concat(1);
      close(
        g.map((gi, i) => (gi - (y[i]! * dot(g, y)) / 4) / (r * 1e-300)),
        REL64,
      )(v);
    },
  ),
  value(
    '∇RMSNorm at 1e−200 with eps = 1e−6 is g/√eps',
    () => gradOf((x) => new nn.RMSNorm(4).forward(x), t([base.map((b) => b * 1e-200)]), t([w3.concat(1)])),
    close(
      w3.concat(1).map((g) => g / Math.sqrt(1e-6)),
      REL64,
    ),
  ),
  ...[1e150, 1e-150].map((scale) =>
    value(
      `∇²RMSNorm·v at ${scale} with eps = 0 (closed form, divided by the scale²)`,
      () =>
        hvpOf(
          (x) => new nn.RMSNorm(4, { eps: 0 }).forward(x),
          t([base.map((b) => b * scale)]),
          t([w3.concat(1)]),
          t([v3.concat(0.7)]),
        ),
      (out) => {
        // G = (w − y(w·y)/n)/r; along v: dy = (v − y(y·v)/n)/r, dr = (y·v)/n, dG = (−dy(w·y)/n − y(w·dy)/n)/r − G·dr/r
        const { y, r } = refRms(base);
        const [w, v, n] = [w3.concat(1), v3.concat(0.7), 4];
        const dy = v.map((vi, i) => (vi - (y[i]! * dot(y, v)) / n) / r);
        const dr = dot(y, v) / n;
        const g = w.map((wi, i) => (wi - (y[i]! * dot(w, y)) / n) / r);
        close(
          w
            .map((_, i) => ((-dy[i]! * dot(w, y)) / n - (y[i]! * dot(w, dy)) / n) / r - (g[i]! * dr) / r)
            .map((h) => h / scale / scale),
          REL64,
        )(out);
      },
    ),
  ),
  value(
    '∇²LayerNorm·v at 1e150 equals the scale-1 value / 1e300 (degree −2)',
    () =>
      hvpOf(
        (x) => new nn.LayerNorm(4, { eps: 0 }).forward(x),
        t([base.map((b) => b * 1e150)]),
        t([w3.concat(1)]),
        t([v3.concat(0.7)]),
      ),
    (out) => {
      const atOne = hvpOf(
        (x) => new nn.LayerNorm(4, { eps: 0 }).forward(x),
        t([base]),
        t([w3.concat(1)]),
        t([v3.concat(0.7)]),
      ).value.toTypedArray();
      close(
        Array.from(atOne, (h) => h / 1e300),
        { rtol: 1e-12, atol: 1e-15 / 1e300 },
      )(out);
    },
  ),
  value(
    '∇LayerNorm at 1e300 (closed form)',
    () => gradOf((x) => new nn.LayerNorm(4).forward(x), t([base.map((b) => b * 1e300)]), t([w3.concat(1)])),
    (v) => {
      const { y, sigma } = refLn(base);
      const g = w3.concat(1);
      const meanG = g.reduce((a, b) => a + b, 0) / 4;
      const meanGy = dot(g, y) / 4;
      close(
        g.map((gi, i) => (gi - meanG - y[i]! * meanGy) / (sigma * 1e300)),
        REL64,
      )(v);
    },
  ),
  value(
    '∇LayerNorm at a constant 1e300 row is (g − mean g)/√eps',
    () => gradOf((x) => new nn.LayerNorm(3).forward(x), t([[1e300, 1e300, 1e300]]), t([[1, 2, 3]])),
    close([-1, 0, 1].map((d) => d / Math.sqrt(1e-5))),
  ),
  value(
    'float32: ∇RMSNorm at 1e20',
    () =>
      gradOf(
        (x) => new nn.RMSNorm(4, { dtype: 'float32' }).forward(x),
        t([base.map((b) => b * 1e20)], 'float32'),
        t([w3.concat(1)], 'float32'),
      ),
    (v) => {
      const { y, r } = refRms(base);
      const g = w3.concat(1);
      close(
        g.map((gi, i) => (gi - (y[i]! * dot(g, y)) / 4) / (r * 1e20)),
        REL32,
      )(v);
    },
  ),

  // The tensor and autograd 2-norms (and the norms built on them) scale by the largest entry.
  value('tensor norm of [3e300, 4e300] is 5e300', () => T.norm(t([3e300, 4e300])), close(5e300, REL64)),
  value('tensor norm of [3e−300, 4e−300] is 5e−300', () => T.norm(t([3e-300, 4e-300])), close(5e-300, REL64)),
  value('float32: tensor norm of [3e20, 4e20] is 5e20', () => T.norm(t([3e20, 4e20], 'float32')), close(5e20, REL32)),
  value(
    'matrixNorm fro of a 1e200 matrix',
    () =>
      T.matrixNorm(
        t([
          [1e200, 2e200],
          [2e200, 4e200],
        ]),
      ),
    close(5e200, REL64),
  ),
  value('∇norm at [3e−300, 4e−300] is x/‖x‖', () => grad((x) => norm(x))(t([3e-300, 4e-300])), close([0.6, 0.8])),
  value(
    '∇²norm·v at [3e150, 4e150] is (I − uuᵀ)v/‖x‖',
    () => hvpOf((x) => norm(x), t([3e150, 4e150]), t([1]), t([1, 0])),
    close([0.64 / 5e150, -0.48 / 5e150], REL64),
  ),
  value(
    'Stiefel.norm of a 1e200 tangent vector',
    () =>
      new Stiefel(2, 2).norm(
        T.eye(2, 2),
        t([
          [0, 3e200],
          [-3e200, 0],
        ]),
      ),
    close(Math.SQRT2 * 3e200, REL64),
  ),
  value(
    'SpectralSphere.norm of a 1e−200 vector',
    () =>
      new SpectralSphere(2, 2).norm(
        T.eye(2, 2),
        t([
          [0, 3e-200],
          [4e-200, 0],
        ]),
      ),
    close(5e-200, REL64),
  ),
  value(
    'Birkhoff.norm (Fisher) of a 1e200 tangent vector at the centre',
    () =>
      new Birkhoff(2).norm(
        t([
          [0.5, 0.5],
          [0.5, 0.5],
        ]),
        t([
          [1e200, -1e200],
          [-1e200, 1e200],
        ]),
      ),
    close(Math.sqrt(8) * 1e200, REL64),
  ),
];

// ---------------------------------------------------------------------------------------------
// Typed errors

const errorCases: Case[] = [
  error(
    'crossEntropy target equal to the class count',
    () => nn.crossEntropy(t([[1e17, 1e17]]), [2]),
    IndexError,
    'crossEntropy',
  ),
  error(
    'crossEntropy target −100 (no ignore index)',
    () => nn.crossEntropy(t([[0, 1]]), [-100]),
    IndexError,
    'crossEntropy',
  ),
  error('crossEntropy fractional target', () => nn.crossEntropy(t([[0, 1]]), [0.5]), IndexError, 'crossEntropy'),
  error('crossEntropy NaN target', () => nn.crossEntropy(t([[0, 1]]), [NaN]), IndexError, 'crossEntropy'),
  error(
    'crossEntropy targets of the wrong shape',
    () =>
      nn.crossEntropy(
        t([
          [0, 1],
          [1, 0],
        ]),
        [0],
      ),
    ShapeError,
    'crossEntropy',
  ),
  error('softmax axis out of range', () => softmax(t([1, 2]), 1), IndexError, 'softmax'),
  error('logSoftmax axis out of range', () => logSoftmax(t([1, 2]), -2), IndexError, 'logSoftmax'),
  error('logsumexp axis out of range', () => logsumexp(t([1, 2]), 3), IndexError, 'logsumexp'),
  error('RMSNorm eps < 0', () => new nn.RMSNorm(2, { eps: -1 }), ValueError, 'RMSNorm'),
  error('RMSNorm eps = ∞', () => new nn.RMSNorm(2, { eps: Infinity }), ValueError, 'RMSNorm'),
  error('LayerNorm eps = NaN', () => new nn.LayerNorm(2, { eps: NaN }), ValueError, 'LayerNorm'),
  error(
    'RMSNorm input with the wrong last axis',
    () => new nn.RMSNorm(3).forward(t([[1e300, 1e300]])),
    ShapeError,
    'RMSNorm',
  ),
];

describe('adversarial: softmax family', () => battery([...softmaxCases, ...softmaxGradCases, ...crossEntropyCases]));
describe('adversarial: norms', () => battery(normCases));
describe('adversarial: typed errors', () => battery(errorCases));
