import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Random, ValueError, type Tensor } from '@hyperconn/tensor';
import { expectClose, tolFor } from '../../../test/support/assert';

// ---------------------------------------------------------------------------------------------
// Statistical references. Every bound below is a 5σ (or p ≈ 1e-6) bound for a correct
// generator; the seeds are fixed, so the tests are deterministic.

function values(t: Tensor): number[] {
  return Array.from(t.toTypedArray());
}

function mean(v: readonly number[]): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}

function variance(v: readonly number[]): number {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
}

/** Kolmogorov–Smirnov statistic of a sample against a continuous CDF. */
function ksStatistic(sample: readonly number[], cdf: (x: number) => number): number {
  const s = [...sample].sort((a, b) => a - b);
  const n = s.length;
  let d = 0;
  s.forEach((x, i) => {
    const f = cdf(x);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  });
  return d;
}

/** The KS critical value at significance α (asymptotic): P(D > c) ≈ α. */
function ksCritical(n: number, alpha = 1e-6): number {
  return Math.sqrt(-Math.log(alpha / 2) / (2 * n));
}

/** The standard normal CDF through erfc (Numerical Recipes' erfcc, relative error < 1.2e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Pearson's χ² of observed counts against equal expected counts. */
function chiSquareUniform(counts: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const e = n / counts.length;
  return counts.reduce((a, c) => a + (c - e) ** 2 / e, 0);
}

/** Naive matrix product of row-major n×n arrays: aᵀ·b. */
function gramT(q: readonly number[], n: number): number[] {
  const out = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) out[i * n + j]! += q[k * n + i]! * q[k * n + j]!;
  return out;
}

/** Determinant by Gaussian elimination with partial pivoting (test-side reference). */
function det(a: readonly number[], n: number): number {
  const m = [...a];
  let d = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]!) > Math.abs(m[p * n + c]!)) p = r;
    if (m[p * n + c] === 0) return 0;
    if (p !== c) {
      for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k]!, m[c * n + k]!];
      d = -d;
    }
    d *= m[c * n + c]!;
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c]! / m[c * n + c]!;
      for (let k = c; k < n; k++) m[r * n + k]! -= f * m[c * n + k]!;
    }
  }
  return d;
}

function identity(n: number): number[] {
  return Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) === i % n ? 1 : 0));
}

const seedArb = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });

/** Draws one of everything, so determinism covers every method and the order of calls. */
function drawAll(rng: Random): number[][] {
  return [
    values(rng.uniform([3, 2], { low: -2, high: 5 })),
    values(rng.normal([5], { mean: 1, std: 3, dtype: 'float32' })),
    values(rng.integers(-4, 9, [7])),
    rng.permutation(6),
    values(rng.bernoulli(0.4, [6])),
    [rng.float(), rng.float()],
    values(rng.split().normal([3])),
    values(rng.orthogonal(3)),
  ];
}

// ---------------------------------------------------------------------------------------------

describe('determinism and independence', () => {
  it('the same seed gives bit-identical draws, for every method in sequence', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const a = drawAll(new Random(seed));
        const b = drawAll(new Random(seed));
        // Object.is-level equality: toEqual on number arrays compares exactly (and -0 ≠ 0)
        expect(a).toEqual(b);
      }),
      { numRuns: 30 },
    );
  });

  it('different seeds give different streams, also for nearby seeds and seeds differing only above bit 32', () => {
    fc.assert(
      fc.property(seedArb, fc.constantFrom(1, -1, 2 ** 32, -(2 ** 32), 2 ** 40), (seed, delta) => {
        fc.pre(Number.isSafeInteger(seed + delta));
        const a = values(new Random(seed).uniform([4]));
        const b = values(new Random(seed + delta).uniform([4]));
        expect(a.every((x, i) => x !== b[i])).toBe(true);
      }),
    );
  });

  it('nearby seeds are decorrelated: first draws of seeds 0..9999 look uniform', () => {
    const firsts = Array.from({ length: 10_000 }, (_, s) => new Random(s).float());
    expect(ksStatistic(firsts, (x) => x)).toBeLessThan(ksCritical(firsts.length));
  });

  it('the stream advances: consecutive draws differ', () => {
    const rng = new Random(7);
    expect(values(rng.normal([4]))).not.toEqual(values(rng.normal([4])));
  });

  it('split gives a deterministic child, different from the parent, from siblings and from grandchildren', () => {
    const parent = new Random(123);
    const child = parent.split();
    const sibling = parent.split();
    const grandchild = child.split();
    const streams = [parent, child, sibling, grandchild].map((r) => values(r.uniform([8])));
    for (let i = 0; i < streams.length; i++)
      for (let j = i + 1; j < streams.length; j++) expect(streams[i]!.some((x, k) => x === streams[j]![k])).toBe(false);
    // replay: the same parent seed and the same calls give the same child stream
    const again = new Random(123).split();
    again.split();
    expect(values(again.uniform([8]))).toEqual(streams[1]);
    // a child's draws do not disturb its parent
    const p1 = new Random(5);
    p1.split().normal([100]);
    const p2 = new Random(5);
    p2.split();
    expect(values(p1.uniform([4]))).toEqual(values(p2.uniform([4])));
  });

  it('a split stream is itself uniform (KS)', () => {
    const root = new Random(99);
    const sample = Array.from({ length: 5000 }, () => root.split().float());
    expect(ksStatistic(sample, (x) => x)).toBeLessThan(ksCritical(sample.length));
  });
});

// ---------------------------------------------------------------------------------------------

describe('float and uniform', () => {
  it('float() is a multiple of 2⁻⁵³ in [0, 1)', () => {
    const rng = new Random(1);
    const bad = Array.from({ length: 10_000 }, () => rng.float()).filter(
      (x) => !(x >= 0 && x < 1 && Number.isInteger(x * 2 ** 53)),
    );
    expect(bad).toEqual([]);
  });

  it('uniform(low, high) lies in [low, high) with the right mean, variance and CDF (KS)', () => {
    const n = 100_000;
    const [low, high] = [-3, 5];
    const t = new Random(2024).uniform([n], { low, high });
    expect(t.dtype).toBe('float64');
    const v = values(t);
    expect(v.every((x) => x >= low && x < high)).toBe(true);
    const w = high - low;
    expect(Math.abs(mean(v) - (low + high) / 2)).toBeLessThan((5 * w) / Math.sqrt(12 * n));
    // Var(U) = w²/12; the sample variance's sd is √((μ₄ − σ⁴)/n) = w²/√(180 n)
    expect(Math.abs(variance(v) - (w * w) / 12)).toBeLessThan((5 * w * w) / Math.sqrt(180 * n));
    expect(ksStatistic(v.slice(0, 20_000), (x) => (x - low) / w)).toBeLessThan(ksCritical(20_000));
  });

  it('float32 samples are float32 values in the rounded range, also for a one-ulp range', () => {
    const rng = new Random(3);
    const t = rng.uniform([2, 500], { low: 0.1, high: 0.7, dtype: 'float32' });
    expect(t.dtype).toBe('float32');
    expect([...t.shape]).toEqual([2, 500]);
    const v = values(t);
    expect(v.every((x) => x >= Math.fround(0.1) && x < Math.fround(0.7) && Math.fround(x) === x)).toBe(true);
    const one = Math.fround(1);
    const next = one + 2 ** -23;
    expect(values(rng.uniform([50], { low: one, high: next, dtype: 'float32' })).every((x) => x === one)).toBe(true);
  });

  it('size-0 and 0-d shapes', () => {
    const rng = new Random(4);
    expect([...rng.uniform([0, 3]).shape]).toEqual([0, 3]);
    const s = rng.uniform([]);
    expect(s.shape).toEqual([]);
    expect(s.item() >= 0 && s.item() < 1).toBe(true);
  });
});

describe('normal', () => {
  it('has mean, variance, skewness and kurtosis of N(μ, σ²) within 5σ, and passes KS', () => {
    const n = 100_000;
    const [mu, sigma] = [2, 0.5];
    const v = values(new Random(11).normal([n], { mean: mu, std: sigma }));
    expect(Math.abs(mean(v) - mu)).toBeLessThan((5 * sigma) / Math.sqrt(n));
    expect(Math.abs(variance(v) - sigma ** 2)).toBeLessThan(5 * sigma ** 2 * Math.sqrt(2 / (n - 1)));
    const z = v.map((x) => (x - mu) / sigma);
    expect(Math.abs(mean(z.map((x) => x ** 3)))).toBeLessThan(5 * Math.sqrt(15 / n));
    expect(Math.abs(mean(z.map((x) => x ** 4)) - 3)).toBeLessThan(5 * Math.sqrt(96 / n));
    expect(ksStatistic(z.slice(0, 20_000), normalCdf)).toBeLessThan(ksCritical(20_000));
  });

  it('fills C order from one sequence: the shape does not change the values', () => {
    const a = values(new Random(8).normal([2, 3]));
    const b = values(new Random(8).normal([6]));
    const c = values(new Random(8).normal([7]));
    expect(a).toEqual(b);
    expect(c.slice(0, 6)).toEqual(b);
  });

  it('std = 0 gives the mean exactly; float32 output is float32-rounded float64 output', () => {
    expect(values(new Random(1).normal([5], { mean: 3, std: 0 }))).toEqual([3, 3, 3, 3, 3]);
    const f32 = new Random(9).normal([50], { dtype: 'float32' });
    expect(f32.dtype).toBe('float32');
    expect(values(f32)).toEqual(values(new Random(9).normal([50])).map(Math.fround));
  });
});

describe('integers, permutation, bernoulli', () => {
  it('integers are uniform over [low, high) (χ² with 9 dof < 40, p ≈ 5e-6)', () => {
    const t = new Random(21).integers(-3, 7, [100_000]);
    const v = values(t);
    expect(v.filter((x) => !(Number.isInteger(x) && x >= -3 && x < 7))).toEqual([]);
    const counts = new Array<number>(10).fill(0);
    for (const x of v) counts[x + 3]!++;
    expect(chiSquareUniform(counts)).toBeLessThan(40);
  });

  it('integers handle ranges wider than 2³² and single-value ranges; float32 is limited to ±2²⁴', () => {
    const rng = new Random(22);
    const wide = values(rng.integers(-(2 ** 40), 2 ** 40, [1000]));
    expect(wide.every((x) => Number.isInteger(x) && x >= -(2 ** 40) && x < 2 ** 40)).toBe(true);
    // in a range of 2⁴¹ values, 1000 draws repeat with probability ≈ 2e-7, and spread uniformly
    expect(new Set(wide).size).toBe(wide.length);
    expect(ksStatistic(wide, (x) => (x + 2 ** 40) / 2 ** 41)).toBeLessThan(ksCritical(wide.length));
    expect(values(rng.integers(5, 6, [4]))).toEqual([5, 5, 5, 5]);
    expect(rng.integers(0, 2 ** 24 + 1, [3], { dtype: 'float32' }).dtype).toBe('float32');
    expect(() => rng.integers(0, 2 ** 24 + 2, [3], { dtype: 'float32' })).toThrow(/^integers: float32/);
  });

  it('permutation returns each permutation of 3 with equal frequency (χ² with 5 dof < 33, p ≈ 4e-6)', () => {
    const rng = new Random(31);
    const counts = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      const key = rng.permutation(3).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['012', '021', '102', '120', '201', '210']);
    expect(chiSquareUniform([...counts.values()])).toBeLessThan(33);
  });

  it('permutation(n) is a permutation of 0..n-1, including n = 0 and 1', () => {
    const rng = new Random(32);
    for (const n of [0, 1, 2, 17, 100])
      expect([...rng.permutation(n)].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('bernoulli has mean p within 5σ, and p = 0, 1 are exact', () => {
    const rng = new Random(41);
    const n = 100_000;
    const p = 0.3;
    const v = values(rng.bernoulli(p, [n]));
    expect(v.every((x) => x === 0 || x === 1)).toBe(true);
    expect(Math.abs(mean(v) - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    expect(values(rng.bernoulli(0, [100])).every((x) => x === 0)).toBe(true);
    expect(values(rng.bernoulli(1, [100], { dtype: 'float32' })).every((x) => x === 1)).toBe(true);
  });
});

describe('orthogonal', () => {
  it('QᵀQ = I to 1e-12 in float64 (and to float32 rounding in float32), for n = 0..8', () => {
    const rng = new Random(51);
    for (let n = 0; n <= 8; n++) {
      for (const dtype of ['float64', 'float32'] as const) {
        const q = rng.orthogonal(n, { dtype });
        expect([...q.shape]).toEqual([n, n]);
        expect(q.dtype).toBe(dtype);
        expectClose(
          gramT(values(q), n),
          identity(n),
          dtype === 'float64' ? { rtol: 0, atol: 1e-12 } : tolFor('float32', 10),
        );
      }
    }
  });

  it('det is ±1 and both signs occur across seeds', () => {
    const signs = new Set<number>();
    for (let seed = 0; seed < 20; seed++) {
      const d = det(values(new Random(seed).orthogonal(4)), 4);
      expect(Math.abs(Math.abs(d) - 1)).toBeLessThan(1e-12);
      signs.add(Math.sign(d));
    }
    expect([...signs].sort()).toEqual([-1, 1]);
  });

  it('is Haar-distributed: every entry of a 3×3 Q has mean 0 and second moment 1/3 (5σ)', () => {
    // For Haar Q each entry is a coordinate of a uniform point on S², so Q_ij² ~ Beta(1/2, 1):
    // mean 1/3, variance 4/45. Without the diag(R) ≥ 0 convention the diagonal entries are biased.
    const rng = new Random(61);
    const count = 3000;
    const sums = new Array<number>(9).fill(0);
    const squares = new Array<number>(9).fill(0);
    for (let s = 0; s < count; s++) {
      values(rng.orthogonal(3)).forEach((x, i) => {
        sums[i]! += x;
        squares[i]! += x * x;
      });
    }
    for (let i = 0; i < 9; i++) {
      expect(Math.abs(sums[i]! / count)).toBeLessThan(5 * Math.sqrt(1 / 3 / count));
      expect(Math.abs(squares[i]! / count - 1 / 3)).toBeLessThan(5 * Math.sqrt(4 / 45 / count));
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('argument validation', () => {
  it('rejects bad seeds, shapes, ranges, probabilities and sizes with ValueError naming the op', () => {
    expect(() => new Random(1.5)).toThrow(/^Random: seed must be a safe integer, got 1.5/);
    expect(() => new Random(NaN)).toThrow(ValueError);
    expect(() => new Random(2 ** 53)).toThrow(ValueError);
    const rng = new Random(0);
    expect(() => rng.uniform([2], { low: 1, high: 1 })).toThrow(/^uniform: need finite low < high/);
    expect(() => rng.uniform([2], { low: 2, high: 1 })).toThrow(ValueError);
    expect(() => rng.uniform([2], { low: NaN })).toThrow(ValueError);
    expect(() => rng.uniform([2], { high: Infinity })).toThrow(ValueError);
    expect(() => rng.uniform([2], { low: -1e308, high: 1e308 })).toThrow(ValueError);
    expect(() => rng.uniform([2], { low: 1, high: 1 + 1e-12, dtype: 'float32' })).toThrow(/^uniform: .*float32/);
    expect(() => rng.uniform([-1])).toThrow(/^uniform: shape entries/);
    expect(() => rng.normal([2], { std: -1 })).toThrow(/^normal: std must be ≥ 0, got -1/);
    expect(() => rng.normal([2], { mean: NaN })).toThrow(ValueError);
    expect(() => rng.normal([2], { std: Infinity })).toThrow(ValueError);
    expect(() => rng.normal([1.5])).toThrow(/^normal: /);
    expect(() => rng.integers(3, 3, [2])).toThrow(/^integers: need safe integers low < high/);
    expect(() => rng.integers(0, 2.5, [2])).toThrow(ValueError);
    expect(() => rng.permutation(-1)).toThrow(/^permutation: n must be a non-negative integer, got -1/);
    expect(() => rng.permutation(2.5)).toThrow(ValueError);
    expect(() => rng.bernoulli(1.1, [2])).toThrow(/^bernoulli: p must lie in \[0, 1\], got 1.1/);
    expect(() => rng.bernoulli(NaN, [2])).toThrow(ValueError);
    expect(() => rng.orthogonal(-2)).toThrow(/^orthogonal: /);
    expect(() => rng.orthogonal(1.5)).toThrow(ValueError);
  });
});

describe('getState / setState', () => {
  it('a stream given another’s state draws exactly what that one draws next, through every kind of draw', () => {
    const a = new Random(11);
    a.normal([3]); // an odd-sized normal draw drops its spare: nothing may be cached
    const b = new Random(12345);
    b.setState(a.getState());
    const draws = (r: Random): unknown[] => [
      r.float(),
      values(r.normal([5])),
      values(r.uniform([2], { dtype: 'float32' })),
      values(r.integers(0, 9, [4])),
      r.permutation(6),
      r.split().float(),
    ];
    expect(draws(b)).toEqual(draws(a));
    expect(b.getState()).toEqual(a.getState());
  });

  it('returns a copy of four 32-bit integers and accepts unsigned words', () => {
    const rng = new Random(3);
    const state = rng.getState();
    expect(state).toHaveLength(4);
    expect(state.every((w) => Number.isInteger(w) && w >= -(2 ** 31) && w < 2 ** 31)).toBe(true);
    state[0] = 0;
    expect(rng.getState()[0]).not.toBe(0);
    const unsigned = new Random(0);
    unsigned.setState(rng.getState().map((w) => w >>> 0));
    expect(unsigned.float()).toBe(rng.float());
  });

  it('refuses anything but four 32-bit integers, and the all-zero state, with ValueErrors', () => {
    const rng = new Random(0);
    const before = rng.getState();
    for (const bad of [
      [1, 2, 3],
      [1, 2, 3, 4, 5],
      [1, 2, 3, 0.5],
      [1, 2, 3, 2 ** 32],
      [1, 2, 3, NaN],
      [1, 2, 3, '4'],
      'abcd',
      null,
      [1n, 2n, 3n, 4n],
    ]) {
      expect(() => rng.setState(bad as never)).toThrow(/^Random\.setState: state must be four 32-bit integers/);
    }
    expect(() => rng.setState([0, 0, 0, 0])).toThrow(/^Random\.setState: the all-zero state/);
    expect(rng.getState()).toEqual(before);
  });
});
