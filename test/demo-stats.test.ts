/**
 * examples/demo/stats.ts against independent references: closed forms of the t CDF (df = 1, 2, 3,
 * 4), the normal limit, high-precision quantiles (mpmath, 40 digits), closed forms of I_x(a, b),
 * a hand-computed Welch test, and Monte-Carlo coverage / size under a seeded generator.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatInterval,
  formatP,
  mean,
  meanInterval,
  regularizedIncompleteBeta,
  sampleSd,
  studentTCdf,
  studentTQuantile,
  welchTest,
} from '../examples/demo/stats';
import { mulberry32 } from './support/prng';

/** |actual − expected| ≤ rel·|expected| (+ abs). */
function expectClose(actual: number, expected: number, rel: number, abs = 0): void {
  const err = Math.abs(actual - expected);
  if (!(err <= rel * Math.abs(expected) + abs)) {
    throw new Error(`expected ${expected}, got ${actual} (error ${err}, allowed ${rel * Math.abs(expected) + abs})`);
  }
}

/** Standard normals by Box–Muller. */
function normals(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

describe('mean and sampleSd', () => {
  it('match hand arithmetic and the edge cases', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(mean([])).toBeNaN();
    // Σ(x − 2.5)² = 2.25 + 0.25 + 0.25 + 2.25 = 5, / 3
    expect(sampleSd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 15);
    expect(sampleSd([7])).toBeNaN();
    expect(sampleSd([])).toBeNaN();
  });
});

describe('studentTCdf', () => {
  const ts = [-1e6, -40, -7.5, -2.2, -1, -0.3, -1e-9, 0, 1e-9, 0.3, 1, 2.2, 7.5, 40, 1e6];

  it('matches the closed forms for df = 1, 2, 3, 4', () => {
    for (const t of ts) {
      // relative to the smaller tail, so the far lower tail is checked to full relative precision
      // (plus 4e-16 above ½: a CDF near 1 is only representable to an ulp of 1)
      const check = (df: number, exact: number): void => {
        const err = Math.abs(studentTCdf(t, df) - exact);
        const allowed = 2e-14 * Math.min(exact, 1 - exact) + (exact > 0.5 ? 4e-16 : 0);
        expect(err, `df ${df}, t ${t}`).toBeLessThanOrEqual(allowed);
      };
      // lower tails written without cancellation: atan-based for df 1, 3; algebraic for df 2, 4
      const cauchyLower = t < 0 ? Math.atan(-1 / t) / Math.PI : 0.5 + Math.atan(t) / Math.PI;
      check(1, cauchyLower);
      const x2 = t / Math.sqrt(2 + t * t);
      check(2, t < 0 ? 1 / (Math.sqrt(2 + t * t) * (Math.sqrt(2 + t * t) - t)) : 0.5 + x2 / 2);
      const s3 = t / Math.sqrt(3);
      const df3 = 0.5 + (Math.atan(s3) + s3 / (1 + s3 * s3)) / Math.PI;
      if (t > -5) check(3, df3); // the closed form itself cancels further out
      // df = 4: F = ½ + (x/2)(1 + 2/(4 + t²)), x = t/√(4 + t²)
      const x4 = t / Math.sqrt(4 + t * t);
      if (t > -3) check(4, 0.5 + (x4 / 2) * (1 + 2 / (4 + t * t)));
    }
  });

  it('handles ±Infinity and NaN', () => {
    for (const df of [0.5, 3, 1e5, Number.POSITIVE_INFINITY]) {
      expect(studentTCdf(Number.NEGATIVE_INFINITY, df)).toBe(0);
      expect(studentTCdf(Number.POSITIVE_INFINITY, df)).toBe(1);
      expect(studentTCdf(0, df)).toBe(0.5);
    }
    expect(studentTCdf(Number.NaN, 3)).toBeNaN();
  });

  it('tends to the normal CDF for large df', () => {
    // [t, Φ(t), CDF at ν = 1e8, CDF at ν = 1e15], mpmath at 60 digits (ncdf and betainc)
    const cases: [number, number, number, number][] = [
      [1, 0.8413447460685429, 0.8413447448586893, 0.8413447460685428],
      [-2.5, 0.006209665325776135, 0.006209666120027271, 0.006209665325776215],
      [-5, 2.866515718791939e-7, 2.866520550633643e-7, 2.8665157187924225e-7],
    ];
    for (const [t, phi, at1e8, at1e15] of cases) {
      expectClose(studentTCdf(t, Number.POSITIVE_INFINITY), phi, 1e-14);
      expectClose(studentTCdf(t, 1e8), at1e8, 1e-14);
      expectClose(studentTCdf(t, 1e15), at1e15, 1e-14);
      // the first-order term of the expansion in 1/ν: F(t) ≈ Φ(t) − φ(t)(t³ + t)/(4ν)
      const density = Math.exp((-t * t) / 2) / Math.sqrt(2 * Math.PI);
      expectClose(studentTCdf(t, 1e15), phi - (density * (t ** 3 + t)) / 4e15, 1e-14);
    }
    expectClose(studentTCdf(1.96, Number.POSITIVE_INFINITY), 0.9750021048517795, 1e-15);
  });

  it('agrees with mpmath in the tails for fractional and large df', () => {
    // P(T ≤ t) = ½ I_{ν/(ν+t²)}(ν/2, ½), mpmath betainc at 50 digits
    const cases: [number, number, number][] = [
      [-30, 40, 2.4254538302950785e-29],
      [-30, 987.98, 2.1355663568442724e-141],
      [-8, 99.9, 1.1426079880272072e-12],
      [-1, 7.3, 0.17464922822655665],
    ];
    for (const [t, df, expected] of cases) expectClose(studentTCdf(t, df), expected, 3e-14);
  });

  it('rejects a bad df', () => {
    expect(() => studentTCdf(1, 0)).toThrow(/studentTCdf.*df/);
    expect(() => studentTCdf(1, Number.NaN)).toThrow(/studentTCdf.*df/);
  });
});

describe('studentTQuantile', () => {
  it('matches high-precision quantiles', () => {
    // mpmath findroot on the incomplete-beta CDF, 40 digits, at the binary value of p. (The often
    // quoted 4.302652729911275 and 2.2281388519649385 for df 2 and 10 are off by ~1e-11: for
    // df = 2 the closed form Q(p) = (2p − 1)/√(2p(1 − p)) gives 4.30265272974946…)
    const cases: [number, number, number][] = [
      [0.975, 1, 12.706204736174692],
      [0.975, 2, 4.302652729749462],
      [0.975, 4, 2.7764451051977934],
      [0.975, 10, 2.228138851986274],
      [0.995, 3, 5.840909309733355],
    ];
    for (const [p, df, q] of cases) expectClose(studentTQuantile(p, df), q, 1e-12);
    // df = 1 and 2 in closed form at other p
    for (const p of [1e-6, 0.01, 0.3, 0.6, 0.9999]) {
      // tan(π(p − ½)) = −1/tan(πp), the latter well conditioned for small p
      const cauchy = p < 0.5 ? -1 / Math.tan(Math.PI * p) : 1 / Math.tan(Math.PI * (1 - p));
      expectClose(studentTQuantile(p, 1), cauchy, 1e-12);
      expectClose(studentTQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-12);
    }
  });

  it('is antisymmetric: Q(1 − p) = −Q(p)', () => {
    // p ≥ ½ so that 1 − p is exact in floating point
    for (const df of [0.7, 3, 250]) {
      for (const p of [0.51, 0.75, 0.9, 0.99999, 1 - 2 ** -30]) {
        expect(studentTQuantile(1 - p, df)).toBe(-studentTQuantile(p, df));
      }
    }
    expect(studentTQuantile(0.5, 3)).toBe(0);
  });

  it('inverts the CDF: CDF(Q(p)) = p for df in [0.5, 200], p in [1e-6, 1 − 1e-6]', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 200, noNaN: true }),
        fc.double({ min: 1e-6, max: 1 - 1e-6, noNaN: true }),
        (df, p) => {
          const q = studentTQuantile(p, df);
          expect(Math.abs(studentTCdf(q, df) - p)).toBeLessThanOrEqual(4e-16);
          // and the smaller tail to full relative precision (1 − p is exact for p ≥ ½)
          const lower = p < 0.5 ? studentTCdf(q, df) : studentTCdf(-q, df);
          const tail = p < 0.5 ? p : 1 - p;
          expect(Math.abs(lower - tail)).toBeLessThanOrEqual(1e-13 * tail);
        },
      ),
    );
  });

  it('rejects p outside (0, 1) and a bad df', () => {
    expect(() => studentTQuantile(0, 3)).toThrow(/studentTQuantile.*p/);
    expect(() => studentTQuantile(1, 3)).toThrow(/studentTQuantile.*p/);
    expect(() => studentTQuantile(Number.NaN, 3)).toThrow(/studentTQuantile.*p/);
    expect(() => studentTQuantile(0.5, -1)).toThrow(/studentTQuantile.*df/);
  });
});

describe('regularizedIncompleteBeta', () => {
  const x = fc.double({ min: 0, max: 1, noNaN: true });
  const shape = fc.double({ min: 0.05, max: 60, noNaN: true });

  it('I_x(1, b) = 1 − (1 − x)^b and I_x(a, 1) = x^a', () => {
    fc.assert(
      fc.property(x, shape, (xv, s) => {
        const lower = -Math.expm1(s * Math.log1p(-xv)); // 1 − (1 − x)^b without cancellation
        expectClose(regularizedIncompleteBeta(xv, 1, s), lower, 1e-13, 1e-300);
        expectClose(regularizedIncompleteBeta(xv, s, 1), xv ** s, 1e-13, 1e-300);
      }),
    );
  });

  it('satisfies I_x(a, b) = 1 − I_{1−x}(b, a)', () => {
    fc.assert(
      fc.property(x, shape, shape, (xv, a, b) => {
        // x and y with x + y = 1 exactly (1 − x alone may round, e.g. for tiny x)
        const y = 1 - xv;
        const sum = regularizedIncompleteBeta(1 - y, a, b) + regularizedIncompleteBeta(y, b, a);
        expect(Math.abs(sum - 1)).toBeLessThanOrEqual(1e-13);
      }),
    );
  });

  it('matches mpmath at a few interior points', () => {
    expectClose(regularizedIncompleteBeta(0.3, 2.5, 3.5), 0.2967529892956661, 1e-14);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(() => regularizedIncompleteBeta(1.5, 2, 3)).toThrow(/regularizedIncompleteBeta.*x/);
    expect(() => regularizedIncompleteBeta(0.5, 0, 3)).toThrow(/regularizedIncompleteBeta.*a/);
    expect(() => regularizedIncompleteBeta(0.5, 2, -1)).toThrow(/regularizedIncompleteBeta.*b/);
  });
});

describe('meanInterval', () => {
  it('is mean ± t·sd/√n, with NaN for one value or a non-finite value', () => {
    // [1, 2, 3, 4]: mean 2.5, sd √(5/3), t_{0.975,3} = 3.182446305283708 (mpmath)
    const iv = meanInterval([1, 2, 3, 4]);
    expectClose(iv.halfWidth, (3.182446305283708 * Math.sqrt(5 / 3)) / 2, 1e-12);
    expect(iv.mean).toBe(2.5);
    expect(iv.lo).toBe(2.5 - iv.halfWidth);
    expect(iv.hi).toBe(2.5 + iv.halfWidth);
    expect(iv.n).toBe(4);
    const one = meanInterval([3]);
    expect(one.mean).toBe(3);
    expect(one.halfWidth).toBeNaN();
    expect(one.lo).toBeNaN();
    const bad = meanInterval([1, Number.NaN, 3]);
    expect([bad.mean, bad.lo, bad.hi, bad.halfWidth].every(Number.isNaN)).toBe(true);
    expect(meanInterval([1, Number.POSITIVE_INFINITY]).mean).toBeNaN();
    expect(meanInterval([2, 2, 2]).halfWidth).toBe(0);
    expect(() => meanInterval([])).toThrow(/meanInterval.*xs/);
    expect(() => meanInterval([1, 2], 1)).toThrow(/meanInterval.*level/);
  });

  it('covers μ in 95 % ± 1 % of 20 000 samples of 3 normals', () => {
    const z = normals(12345);
    const mu = 3.7;
    const sigma = 2.2;
    let covered = 0;
    const trials = 20_000;
    for (let i = 0; i < trials; i++) {
      const iv = meanInterval([mu + sigma * z(), mu + sigma * z(), mu + sigma * z()]);
      if (iv.lo <= mu && mu <= iv.hi) covered++;
    }
    expect(Math.abs(covered / trials - 0.95)).toBeLessThanOrEqual(0.01);
  });
});

describe('welchTest', () => {
  it('matches a hand-computed example', () => {
    // a = [1,2,3,4]: mean 2.5, s² = 5/3, s²/n = 5/12.  b = [2,4,6,8,10]: mean 6, s² = 40/4 = 10, s²/n = 2.
    // se² = 5/12 + 2 = 29/12, t = −3.5/√(29/12); df = (29/12)² / ((5/12)²/3 + 2²/4) = 2523/457.
    const r = welchTest([1, 2, 3, 4], [2, 4, 6, 8, 10]);
    expect(r.difference).toBe(-3.5);
    expectClose(r.t, -3.5 / Math.sqrt(29 / 12), 1e-14);
    expectClose(r.df, 2523 / 457, 1e-14);
    // p = 2·P(T ≤ −|t|) and t_{0.975, df}·se from mpmath at 40 digits
    expectClose(r.p, 0.06913359319239241, 1e-12);
    expectClose(r.hi - r.difference, 3.8853680805140436, 1e-12);
    expectClose(r.difference - r.lo, 3.8853680805140436, 1e-12);
  });

  it('equals the pooled t for equal n, with df = 2n − 2 when the variances are equal', () => {
    const pooledT = (a: number[], b: number[]): number => {
      const n = a.length;
      const sp2 = ((n - 1) * sampleSd(a) ** 2 + (n - 1) * sampleSd(b) ** 2) / (2 * n - 2);
      return (mean(a) - mean(b)) / Math.sqrt((sp2 * 2) / n);
    };
    const a = [1.5, 2, 4.25, 7];
    const b = [0.5, 3, 3.5, 9, 2].slice(0, 4);
    expectClose(welchTest(a, b).t, pooledT(a, b), 1e-14);
    // b' = 9 − a has the same sample variance: df = 2·3 − 2 = 4, whose CDF has a closed form
    const c = [1, 2, 4];
    const d = c.map((v) => 9 - v);
    const r = welchTest(c, d);
    expectClose(r.df, 4, 1e-14);
    expectClose(r.t, pooledT(c, d), 1e-14);
    const t = -Math.abs(r.t);
    const x4 = t / Math.sqrt(4 + t * t);
    expectClose(r.p, 2 * (0.5 + (x4 / 2) * (1 + 2 / (4 + t * t))), 1e-13);
  });

  it('handles zero variance in both samples and in one', () => {
    const same = welchTest([2, 2, 2], [2, 2]);
    expect(same.t).toBeNaN();
    expect(same.p).toBe(1);
    expect(same.df).toBeNaN();
    expect([same.lo, same.hi]).toEqual([0, 0]);
    const apart = welchTest([3, 3], [1, 1, 1]);
    expect(apart.t).toBe(Number.POSITIVE_INFINITY);
    expect(apart.p).toBe(0);
    expect([apart.lo, apart.hi]).toEqual([2, 2]);
    // one constant sample: df = n_other − 1
    expectClose(welchTest([1, 2, 4], [5, 5, 5, 5]).df, 2, 1e-14);
  });

  it('returns NaN for non-finite input and throws for fewer than 2 values', () => {
    const r = welchTest([1, Number.NaN], [1, 2]);
    expect([r.t, r.df, r.p, r.difference, r.lo, r.hi].every(Number.isNaN)).toBe(true);
    expect(() => welchTest([1], [1, 2])).toThrow(/welchTest.*\ba\b/);
    expect(() => welchTest([1, 2], [])).toThrow(/welchTest.*\bb\b/);
    expect(() => welchTest([1, 2], [1, 3], 0)).toThrow(/welchTest.*level/);
  });

  it('has the size scipy finds under the null (3 vs 3 and 10 vs 10 normals)', () => {
    // Welch's test is only approximately exact: scipy.stats.ttest_ind(equal_var=False) over
    // 400 000 simulated nulls rejects at 5 % in 0.0347 (3 vs 3) and 0.0476 (10 vs 10) of them.
    // 20 000 trials have a Monte-Carlo sd of ≈ 0.0015, so allow ± 0.006.
    const cases: [number, number][] = [
      [3, 0.0347],
      [10, 0.0476],
    ];
    for (const [n, size] of cases) {
      const z = normals(777 + n);
      let rejected = 0;
      const trials = 20_000;
      for (let i = 0; i < trials; i++) {
        const a = Array.from({ length: n }, z);
        const b = Array.from({ length: n }, z);
        if (welchTest(a, b).p < 0.05) rejected++;
      }
      expect(Math.abs(rejected / trials - size), `n = ${n}`).toBeLessThanOrEqual(0.006);
    }
  });
});

describe('formatting', () => {
  it('formats intervals', () => {
    const iv = (m: number, hw: number) => ({ mean: m, lo: m - hw, hi: m + hw, halfWidth: hw, n: 5 });
    expect(formatInterval(iv(1.2345, 0.0421))).toBe('1.23 ± 0.042');
    expect(formatInterval(iv(1234.5, 12.34))).toBe('1230 ± 12');
    expect(formatInterval(iv(0.000123456, 0.0000099), 2)).toBe('0.00012 ± 0.0000099');
    expect(formatInterval(iv(9.996, 0))).toBe('10.0 ± 0.0');
    expect(formatInterval(iv(3, Number.NaN))).toBe('3.00');
    expect(formatInterval(iv(Number.NaN, 1))).toBe('n/a');
    expect(formatInterval(meanInterval([1, 2, 3, 4]))).toBe('2.50 ± 2.1');
  });

  it('formats p-values', () => {
    expect(formatP(0.0123)).toBe('p = 0.012');
    expect(formatP(0.5)).toBe('p = 0.50');
    expect(formatP(0.00099)).toBe('p < 0.001');
    expect(formatP(0)).toBe('p < 0.001');
    expect(formatP(1)).toBe('p = 1.0');
    expect(formatP(Number.NaN)).toBe('n/a');
    expect(() => formatP(1.5)).toThrow(/formatP/);
  });
});
