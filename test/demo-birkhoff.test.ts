/**
 * examples/demo/birkhoff.ts: the permutation matrices, the known projection of the demo's target
 * (P/3), exactness for doubly stochastic targets, an independent brute-force KKT solve for n = 3,
 * random feasible points never beating the certified optimum, and per-token ≤ static.
 */
import { describe, expect, it } from 'vitest';
import {
  bestBirkhoffMix,
  perTokenBirkhoffOptimum,
  permutationMatrices,
  staticBirkhoffOptimum,
} from '../examples/demo/birkhoff';
import { mulberry32 } from './support/prng';

type M = number[][];

function gaussianMatrix(u: () => number, rows: number, cols: number): M {
  const z = (): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return Array.from({ length: rows }, () => Array.from({ length: cols }, z));
}

/** ‖(H − T)X‖²_F by naive loops. */
function loss(h: M, t: M, x: M): number {
  let s = 0;
  for (let i = 0; i < h.length; i++) {
    for (let c = 0; c < x[0]!.length; c++) {
      let v = 0;
      for (let j = 0; j < h.length; j++) v += (h[i]![j]! - t[i]![j]!) * x[j]![c]!;
      s += v * v;
    }
  }
  return s;
}

function eye(n: number): M {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

function combine(weights: number[], mats: M[]): M {
  const n = mats[0]!.length;
  const h = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  weights.forEach((w, k) => {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i]![j]! += w * mats[k]![i]![j]!;
  });
  return h;
}

/** Flat Dirichlet weights (normalised exponentials). */
function dirichlet(u: () => number, k: number): number[] {
  const g = Array.from({ length: k }, () => -Math.log(1 - u()));
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / s);
}

function expectDoublyStochastic(h: M): void {
  const n = h.length;
  for (let i = 0; i < n; i++) {
    expect(Math.abs(h[i]!.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(h.reduce((a, row) => a + row[i]!, 0) - 1)).toBeLessThanOrEqual(1e-12);
    for (const v of h[i]!) expect(v).toBeGreaterThanOrEqual(0);
  }
}

/** Gaussian elimination with partial pivoting; null when (numerically) singular. */
function solveLinear(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let p = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[p]![col]!)) p = r;
    if (Math.abs(m[p]![col]!) < 1e-10) return null;
    [m[col], m[p]] = [m[p]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/**
 * The exact minimum for n = 3 by brute force over active sets: H is affine in z = (a, b, c, d),
 *   H = [[a, b, 1−a−b], [c, d, 1−c−d], [1−a−c, 1−b−d, a+b+c+d−1]],
 * the loss a convex quadratic zᵀQz + 2qᵀz + r, the constraints the 9 entries ≥ 0. For every set S
 * of at most 4 entries held at 0, solve the equality-constrained KKT system; the optimum is the best
 * feasible candidate (it is the equality-constrained minimiser of its own active set).
 */
function bruteForce3(x: M, t: M): { loss: number; matrix: M } {
  const hOf = (z: number[]): M => {
    const [a, b, c, d] = z as [number, number, number, number];
    return [
      [a, b, 1 - a - b],
      [c, d, 1 - c - d],
      [1 - a - c, 1 - b - d, a + b + c + d - 1],
    ];
  };
  const h0 = hOf([0, 0, 0, 0]).flat();
  const basis = [0, 1, 2, 3].map((j) => hOf([0, 1, 2, 3].map((k) => (k === j ? 1 : 0))).flat());
  const e = basis.map((v) => v.map((x, i) => x - h0[i]!)); // e[j]: the 9 entries' coefficients of z_j
  // Q_jk = ⟨E_j X, E_k X⟩, q_j = ⟨E_j X, (H0 − T) X⟩
  const times = (flat: number[]): M => {
    const h = [flat.slice(0, 3), flat.slice(3, 6), flat.slice(6, 9)];
    return h.map((row) => x[0]!.map((_, c) => row.reduce((s, v, j) => s + v * x[j]![c]!, 0)));
  };
  const dot = (p: M, q: M): number => p.reduce((s, row, i) => s + row.reduce((u, v, c) => u + v * q[i]![c]!, 0), 0);
  const ex = e.map(times);
  const r0 = times(h0.map((v, i) => v - t[Math.floor(i / 3)]![i % 3]!));
  const Q = ex.map((p) => ex.map((q) => dot(p, q)));
  const qv = ex.map((p) => dot(p, r0));
  let best = { loss: Number.POSITIVE_INFINITY, matrix: [] as M };
  for (let mask = 0; mask < 512; mask++) {
    const active = [...Array(9).keys()].filter((i) => mask & (1 << i));
    if (active.length > 4) continue;
    const size = 4 + active.length;
    const a = Array.from({ length: size }, () => new Array<number>(size).fill(0));
    const rhs = new Array<number>(size).fill(0);
    for (let j = 0; j < 4; j++) {
      for (let k = 0; k < 4; k++) a[j]![k] = 2 * Q[j]![k]!;
      rhs[j] = -2 * qv[j]!;
    }
    active.forEach((entry, s) => {
      for (let j = 0; j < 4; j++) {
        a[4 + s]![j] = e[j]![entry]!;
        a[j]![4 + s] = e[j]![entry]!;
      }
      rhs[4 + s] = -h0[entry]!;
    });
    const sol = solveLinear(a, rhs);
    if (sol === null) continue;
    const h = hOf(sol.slice(0, 4));
    if (h.flat().some((v) => v < -1e-12)) continue;
    const value = loss(h, t, x);
    if (value < best.loss) best = { loss: value, matrix: h };
  }
  return best;
}

// the demo's target mix, written out here rather than imported
const TARGET = [
  [0.5, 0.5, -0.5, 0.5],
  [-0.5, 0.5, 0.5, 0.5],
  [0.5, 0.5, 0.5, -0.5],
  [0.5, -0.5, 0.5, 0.5],
];

describe('permutationMatrices', () => {
  it('returns the n! distinct permutation matrices for n = 1..5', () => {
    let factorial = 1;
    for (let n = 1; n <= 5; n++) {
      factorial *= n;
      const ps = permutationMatrices(n);
      expect(ps).toHaveLength(factorial);
      for (const p of ps) {
        expect(p).toHaveLength(n);
        for (const row of p) {
          expect(row).toHaveLength(n);
          expect(row.every((v) => v === 0 || v === 1)).toBe(true);
          expect(row.reduce((a, b) => a + b, 0)).toBe(1);
        }
        for (let j = 0; j < n; j++) expect(p.reduce((a, row) => a + row[j]!, 0)).toBe(1);
      }
      expect(new Set(ps.map((p) => JSON.stringify(p))).size).toBe(factorial);
    }
  });

  it('rejects n outside 1..8 and non-integers', () => {
    for (const n of [0, 9, 2.5, Number.NaN]) expect(() => permutationMatrices(n)).toThrow(/permutationMatrices.*n/);
  });
});

describe('bestBirkhoffMix', () => {
  it('projects the demo target onto P/3 with loss 4/3 (X = I)', () => {
    const p = TARGET.map((row) => row.map((v) => (v > 0 ? 1 : 0)));
    // ‖P/3 − T‖² = 12·(1/2 − 1/3)² + 4·(1/2)² = 1/3 + 1 = 4/3
    const r = bestBirkhoffMix(eye(4), TARGET, { tolerance: 1e-14 });
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) expect(Math.abs(r.matrix[i]![j]! - p[i]![j]! / 3)).toBeLessThan(1e-6);
    expect(Math.abs(r.loss - 4 / 3)).toBeLessThan(1e-8);
    expect(r.gap).toBeLessThanOrEqual(1e-14 * (4 / 3));
    expectDoublyStochastic(r.matrix);
    // and with default options the certificate still holds: loss − 4/3 ≤ gap
    const d = bestBirkhoffMix(eye(4), TARGET);
    expect(d.loss - 4 / 3).toBeLessThanOrEqual(d.gap + 1e-15);
    expect(d.gap).toBeLessThanOrEqual(1e-9 * (4 / 3));
  });

  it('reaches loss 0 when the target is already doubly stochastic', () => {
    const u = mulberry32(7);
    for (const n of [2, 3, 4, 5]) {
      const perms = permutationMatrices(n);
      const target = combine(dirichlet(u, perms.length), perms);
      const x = gaussianMatrix(u, n, 3 + n);
      const r = bestBirkhoffMix(x, target, { tolerance: 1e-12 });
      expect(r.loss, `n = ${n}`).toBeLessThanOrEqual(1e-10);
      expectDoublyStochastic(r.matrix);
    }
  });

  it('matches a brute-force KKT solve for n = 3 to within its duality gap', () => {
    const u = mulberry32(99);
    for (let trial = 0; trial < 20; trial++) {
      const x = gaussianMatrix(u, 3, 2 + (trial % 4)); // C = 2 also covers a singular X Xᵀ
      const t = gaussianMatrix(u, 3, 3);
      const r = bestBirkhoffMix(x, t);
      const exact = bruteForce3(x, t);
      expect(r.loss).toBeGreaterThanOrEqual(exact.loss - 1e-10 * Math.max(1, exact.loss));
      expect(r.loss - exact.loss).toBeLessThanOrEqual(r.gap + 1e-10 * Math.max(1, exact.loss));
      expect(r.gap).toBeLessThanOrEqual(1e-9 * Math.max(1, r.loss));
      expectDoublyStochastic(r.matrix);
    }
  });

  it('is never beaten by random feasible points by more than its gap', () => {
    const u = mulberry32(2024);
    const perms = permutationMatrices(3);
    const x = gaussianMatrix(u, 3, 4);
    const t = gaussianMatrix(u, 3, 3);
    const r = bestBirkhoffMix(x, t);
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 1000; i++) best = Math.min(best, loss(combine(dirichlet(u, 6), perms), t, x));
    for (const p of perms) best = Math.min(best, loss(p, t, x));
    expect(best).toBeGreaterThanOrEqual(r.loss - r.gap - 1e-12);
  });

  it('rejects bad input, naming the function', () => {
    expect(() => bestBirkhoffMix([[1, 2], [3]], eye(2))).toThrow(/bestBirkhoffMix.*x/);
    expect(() => bestBirkhoffMix(eye(3), eye(2))).toThrow(/bestBirkhoffMix.*x/);
    expect(() => bestBirkhoffMix(eye(2), [[1, 0]])).toThrow(/bestBirkhoffMix.*target/);
    expect(() => bestBirkhoffMix(eye(2), [[1, 0], [0]])).toThrow(/bestBirkhoffMix.*target/);
    expect(() => bestBirkhoffMix(eye(9), eye(9))).toThrow(/bestBirkhoffMix.*target/);
    expect(() =>
      bestBirkhoffMix(
        [
          [1, Number.NaN],
          [0, 1],
        ],
        eye(2),
      ),
    ).toThrow(/bestBirkhoffMix.*x/);
    expect(() => bestBirkhoffMix(eye(2), eye(2), { iterations: 0 })).toThrow(/bestBirkhoffMix.*iterations/);
  });
});

describe('perTokenBirkhoffOptimum and staticBirkhoffOptimum', () => {
  it('per-token ≤ static on random Gaussian tokens (n = 4, C = 4, 64 tokens)', () => {
    const u = mulberry32(5);
    const tokens = Array.from({ length: 64 }, () => gaussianMatrix(u, 4, 4));
    const per = perTokenBirkhoffOptimum(tokens, TARGET);
    const stat = staticBirkhoffOptimum(tokens, TARGET);
    const baseline = tokens.reduce((s, x) => s + loss(eye(4), TARGET, x), 0);
    // the per-token optimum is at most the static one; the computed values are within their gaps
    expect(per.relativeLoss).toBeLessThanOrEqual(stat.relativeLoss + per.relativeGap + 1e-12);
    // Σ gaps / baseline lies between the largest gap and 64 of them, over the naive-loop baseline
    expect(per.relativeGap).toBeGreaterThanOrEqual(per.maxGap / baseline - 1e-15);
    expect(per.relativeGap).toBeLessThanOrEqual((64 * per.maxGap) / baseline + 1e-15);
    expect(per.relativeLoss).toBeGreaterThan(0);
    expectDoublyStochastic(stat.matrix);
    // the static relative loss is its matrix's summed loss over the identity's, by naive loops
    const direct = tokens.reduce((s, x) => s + loss(stat.matrix, TARGET, x), 0) / baseline;
    expect(Math.abs(stat.relativeLoss - direct)).toBeLessThanOrEqual(1e-12);
    // per token the same as calling bestBirkhoffMix on each
    const summed = tokens.reduce((s, x) => s + bestBirkhoffMix(x, TARGET).loss, 0) / baseline;
    expect(Math.abs(per.relativeLoss - summed)).toBeLessThanOrEqual(1e-12);
  });

  it('static relative loss is near 1/3 for wide isotropic tokens (C = 256)', () => {
    const u = mulberry32(11);
    const tokens = Array.from({ length: 16 }, () => gaussianMatrix(u, 4, 256));
    const stat = staticBirkhoffOptimum(tokens, TARGET);
    expect(Math.abs(stat.relativeLoss - 1 / 3)).toBeLessThanOrEqual(0.05);
  });

  it('a single token X = I gives relative loss exactly 1/3 for both', () => {
    // ‖P/3 − T‖² / ‖I − T‖² = (4/3) / 4
    expect(Math.abs(staticBirkhoffOptimum([eye(4)], TARGET).relativeLoss - 1 / 3)).toBeLessThan(1e-9);
    expect(Math.abs(perTokenBirkhoffOptimum([eye(4)], TARGET).relativeLoss - 1 / 3)).toBeLessThan(1e-9);
  });

  it('rejects bad input, naming the function', () => {
    expect(() => perTokenBirkhoffOptimum([], TARGET)).toThrow(/perTokenBirkhoffOptimum.*tokens/);
    expect(() => perTokenBirkhoffOptimum([eye(3)], TARGET)).toThrow(/perTokenBirkhoffOptimum.*tokens\[0\]/);
    expect(() => staticBirkhoffOptimum([eye(4), [[1], [2], [3], [4]]], TARGET)).not.toThrow();
    expect(() => staticBirkhoffOptimum([[[1, 2], [3]]], eye(2))).toThrow(/staticBirkhoffOptimum.*tokens\[0\]/);
    expect(() => staticBirkhoffOptimum([eye(2)], eye(2))).toThrow(/staticBirkhoffOptimum.*identity/);
  });
});
