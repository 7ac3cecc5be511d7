/**
 * Small-sample statistics for the demo's report: means with Student-t confidence intervals and
 * Welch's unequal-variance t-test. No dependencies: the t distribution goes through the
 * regularized incomplete beta function, evaluated with its continued fraction (modified Lentz).
 */

/** The arithmetic mean; NaN for an empty array. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** The sample standard deviation (n − 1 denominator, two-pass); NaN for fewer than 2 values. */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

// ---------------------------------------------------------------------------------------------
// Special functions

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7); used only below the Stirling threshold. */
function logGamma(x: number): number {
  if (x < 0.5) return logGamma(x + 1) - Math.log(x);
  const z = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Arguments at or above this use Stirling's series, whose remainder is then below 1e-15. */
const STIRLING_MIN = 10;

/** δ(x) = ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π], Stirling's correction, for x ≥ STIRLING_MIN. */
function stirlingCorrection(x: number): number {
  const r = 1 / (x * x);
  return (1 / 12 - r * (1 / 360 - r * (1 / 1260 - r * (1 / 1680 - r * (1 / 1188 - r * (691 / 360360 - r / 156)))))) / x;
}

/**
 * ln B(a, b). Large arguments go through Stirling's series with the big terms combined
 * analytically (log1p), since ln Γ(a) − ln Γ(a + b) cancels catastrophically for a ≫ b.
 */
function logBeta(a: number, b: number): number {
  const small = Math.min(a, b);
  const big = Math.max(a, b);
  if (small >= STIRLING_MIN) {
    const s = a + b;
    return (
      HALF_LOG_2PI +
      (a - 0.5) * Math.log(a / s) +
      (b - 0.5) * Math.log(b / s) -
      0.5 * Math.log(s) +
      stirlingCorrection(a) +
      stirlingCorrection(b) -
      stirlingCorrection(s)
    );
  }
  if (big >= STIRLING_MIN) {
    // ln Γ(big) − ln Γ(big + small) from Stirling's formula, without cancellation
    const ratio =
      -(big - 0.5) * Math.log1p(small / big) -
      small * Math.log(big + small) +
      small +
      stirlingCorrection(big) -
      stirlingCorrection(big + small);
    return logGamma(small) + ratio;
  }
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** ln[x^a y^b / B(a, b)] with y = 1 − x, lx = ln x, ly = ln y (given separately so neither loses digits). */
function logPowerTerms(a: number, b: number, x: number, y: number, lx: number, ly: number): number {
  if (a >= STIRLING_MIN && b >= STIRLING_MIN) {
    // a ln(x(a+b)/a) + b ln(y(a+b)/b) + ½ ln(ab/(a+b)) − ½ ln 2π − δ(a) − δ(b) + δ(a+b): no huge terms
    const s = a + b;
    const d = x * b - y * a; // = x(a + b) − a
    return (
      a * Math.log1p(d / a) +
      b * Math.log1p(-d / b) +
      0.5 * Math.log((a / s) * b) -
      HALF_LOG_2PI -
      stirlingCorrection(a) -
      stirlingCorrection(b) +
      stirlingCorrection(s)
    );
  }
  return a * lx + b * ly - logBeta(a, b);
}

const CF_EPS = 1e-16;
const CF_TINY = 1e-300;
const CF_MAX_ITERATIONS = 100_000;

/** The continued fraction of I_x(a, b) (Numerical Recipes' betacf), by the modified Lentz method. */
function betaContinuedFraction(a: number, b: number, x: number, y: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  // 1 − (a + b)x/(a + 1); for x near 1 (and a ≫ 1) it cancels, so write it with y = 1 − x there
  let d = x < 0.5 ? 1 - (qab * x) / qap : (1 - b + qab * y) / qap;
  if (Math.abs(d) < CF_TINY) d = CF_TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= CF_MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < CF_EPS) return h;
  }
  throw new Error(`regularizedIncompleteBeta: continued fraction did not converge (a = ${a}, b = ${b}, x = ${x})`);
}

/** I_x(a, b) from x, y = 1 − x and their logarithms; picks the side where the fraction converges fast. */
function incompleteBeta(a: number, b: number, x: number, y: number, lx: number, ly: number): number {
  if (lx === Number.NEGATIVE_INFINITY) return 0; // x = 0 (x itself may underflow while ln x is finite)
  if (ly === Number.NEGATIVE_INFINITY) return 1;
  // x < (a + 1)/(a + b + 2), tested through y when x is near 1 (the bound rounds to 1 for huge a)
  if (x < 0.5 ? x * (a + b + 2) < a + 1 : y * (a + b + 2) > b + 1) {
    return (Math.exp(logPowerTerms(a, b, x, y, lx, ly)) * betaContinuedFraction(a, b, x, y)) / a;
  }
  return 1 - (Math.exp(logPowerTerms(b, a, y, x, ly, lx)) * betaContinuedFraction(b, a, y, x)) / b;
}

function logs(x: number, y: number): [number, number] {
  return [x < 0.5 ? Math.log(x) : Math.log1p(-y), y < 0.5 ? Math.log(y) : Math.log1p(-x)];
}

/**
 * The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b) for x in [0, 1]
 * and real a, b > 0. About 1e-14 relative for a, b up to a few hundred (absolute when I is near
 * 1, where it is formed as 1 − I_{1−x}(b, a)); for larger a or b the continued fraction's
 * partial denominators cancel and the error grows roughly like 1e-16·max(a, b).
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1)) throw new Error(`regularizedIncompleteBeta: x must be in [0, 1], got ${x}`);
  if (!(a > 0 && Number.isFinite(a))) throw new Error(`regularizedIncompleteBeta: a must be finite and > 0, got ${a}`);
  if (!(b > 0 && Number.isFinite(b))) throw new Error(`regularizedIncompleteBeta: b must be finite and > 0, got ${b}`);
  const y = 1 - x;
  const [lx, ly] = logs(x, y);
  return incompleteBeta(a, b, x, y, lx, ly);
}

/**
 * erfc(x) for x ≥ 0: 1 − erf by a positive-term series below ½ (erfc > 0.47 there, so no digits
 * are lost), Lentz's continued fraction above (≤ ~700 terms at ½, fewer further out).
 */
function erfc(x: number): number {
  if (x < 0.5) {
    // erf(x) = 2/√π e^{−x²} Σ 2ⁿ x^{2n+1} / (1·3···(2n+1)): every term positive
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const an = n / 2;
    d = x + an * d;
    d = 1 / (Math.abs(d) < CF_TINY ? CF_TINY : d);
    c = x + an / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    const del = c * d;
    f *= del;
    if (Math.abs(del - 1) < CF_EPS) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

function normalCdf(z: number): number {
  return z < 0 ? 0.5 * erfc(-z / Math.SQRT2) : 1 - 0.5 * erfc(z / Math.SQRT2);
}

function checkDf(fn: string, df: number): void {
  if (!(df > 0)) throw new Error(`${fn}: df must be > 0, got ${df}`);
}

/**
 * ln[Γ((ν+1)/2) / (Γ(ν/2) √(νπ))], the log of the t density at 0. For large ν, Stirling's series
 * reduces it to (ν/2)·ln(1 + 1/ν) − ½ − ½ ln 2π − δ(ν/2) + δ((ν+1)/2), free of the ±½ ln ν cancellation.
 */
function logDensityConstant(df: number): number {
  if (df / 2 < STIRLING_MIN) return logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return (
    (df / 2) * Math.log1p(1 / df) - 0.5 - HALF_LOG_2PI - stirlingCorrection(df / 2) + stirlingCorrection((df + 1) / 2)
  );
}

/**
 * Above this df the beta continued fraction loses digits (its partial denominators cancel like
 * 1e-16·df), so the tail is integrated instead.
 */
const CF_MAX_DF = 100;

/**
 * ∫_u^∞ density for large df by exp-sinh quadrature, s = u + exp(π/2·sinh τ): the trapezoid rule in
 * τ converges doubly exponentially for this smooth, fast-decaying integrand; halve the step until
 * two levels agree to 1e-15.
 */
function tailByQuadrature(u: number, df: number): number {
  const c = logDensityConstant(df);
  const k = (df + 1) / 2;
  const at = (tau: number): number => {
    const e = Math.exp((Math.PI / 2) * Math.sinh(tau));
    if (e === Number.POSITIVE_INFINITY) return 0;
    const s = u + e;
    const v = Math.exp(c - k * Math.log1p((s * s) / df)) * (Math.PI / 2) * Math.cosh(tau) * e;
    return Number.isFinite(v) ? v : 0;
  };
  // Σ at(offset ± j·step) over the nodes not yet summed, each side until its terms are negligible
  const sweep = (step: number, offset: number, scale: number): number => {
    let sum = 0;
    for (let j = 0; offset + j * step < 7; j++) {
      const v = at(offset + j * step);
      sum += v;
      if (v <= 1e-18 * (scale + sum) && j * step > 1) break;
    }
    for (let j = 1; offset - j * step > -7; j++) {
      const v = at(offset - j * step);
      sum += v;
      if (v <= 1e-18 * (scale + sum) && j * step > 1) break;
    }
    return sum;
  };
  let h = 0.5;
  let total = sweep(h, 0, 0);
  let estimate = h * total;
  for (let level = 0; level < 12; level++) {
    h /= 2;
    total += sweep(2 * h, h, total);
    const next = h * total;
    const done = Math.abs(next - estimate) <= 1e-15 * next;
    estimate = next;
    if (done) break;
  }
  return estimate;
}

/** P(T ≤ −u) for u ≥ 0: ½ I_x(ν/2, ½) with x = ν/(ν + u²), x and 1 − x formed without cancellation. */
function lowerTail(u: number, df: number): number {
  if (u === Number.POSITIVE_INFINITY) return 0;
  if (u === 0) return 0.5;
  if (df === Number.POSITIVE_INFINITY) return normalCdf(-u);
  if (df > CF_MAX_DF) return tailByQuadrature(u, df);
  const u2 = u * u;
  if (u2 < 1e300) {
    const x = df / (df + u2);
    const y = u2 / (df + u2);
    const [lx, ly] = logs(x, y);
    return 0.5 * incompleteBeta(df / 2, 0.5, x, y, lx, ly);
  }
  // u² overflows: ln x = ln ν − 2 ln u exactly enough, and 1 − x = 1 to double precision
  const lx = Math.log(df) - 2 * Math.log(u);
  const x = Math.exp(lx);
  return 0.5 * incompleteBeta(df / 2, 0.5, x, 1, lx, -x);
}

/** The CDF of Student's t distribution with real df > 0 (df = Infinity: the standard normal). NaN for NaN t. */
export function studentTCdf(t: number, df: number): number {
  checkDf('studentTCdf', df);
  if (Number.isNaN(t)) return Number.NaN;
  return t <= 0 ? lowerTail(-t, df) : 1 - lowerTail(t, df);
}

/** ln of the t density at ±u. */
function logDensity(u: number, df: number): number {
  if (df === Number.POSITIVE_INFINITY) return -0.5 * u * u - HALF_LOG_2PI;
  return logDensityConstant(df) - ((df + 1) / 2) * Math.log1p((u * u) / df);
}

/**
 * The p-quantile of Student's t with df > 0, p in (0, 1): Newton on ln P(T ≤ −u) inside a
 * bracket that only shrinks (bisection when a step leaves it), to full double precision.
 * Q(1 − p) = −Q(p) exactly, since 1 − p is exact for p ≥ ½.
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf('studentTQuantile', df);
  if (!(p > 0 && p < 1)) throw new Error(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  if (p > 0.5) return -studentTQuantile(1 - p, df);
  const lq = Math.log(p);
  // bracket u (t = −u): P(T ≤ −lo) > p ≥ P(T ≤ −hi)
  let lo = 0;
  let hi = 1;
  while (lowerTail(hi, df) > p) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) throw new Error(`studentTQuantile: no finite quantile for p = ${p}, df = ${df}`);
  }
  let u = lo === 0 ? hi / 2 : Math.sqrt(lo * hi);
  for (let i = 0; i < 500; i++) {
    const tail = lowerTail(u, df);
    const h = Math.log(tail) - lq; // decreasing in u
    if (h === 0) return -u;
    if (h > 0) lo = u;
    else hi = u;
    if (hi - lo <= 2 * Number.EPSILON * hi) break;
    // d/du ln P(T ≤ −u) = −density(u) / P(T ≤ −u)
    const slope = -Math.exp(logDensity(u, df) - Math.log(tail));
    let next = u - h / slope;
    if (!(next > lo && next < hi)) next = lo > 0 && hi > 4 * lo ? Math.sqrt(lo * hi) : (lo + hi) / 2;
    if (next === u) break;
    u = next;
  }
  return -u;
}

// ---------------------------------------------------------------------------------------------
// Intervals and tests

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
  halfWidth: number;
  n: number;
}

function checkLevel(fn: string, level: number): void {
  if (!(level > 0 && level < 1)) throw new Error(`${fn}: level must be in (0, 1), got ${level}`);
}

function checkSample(fn: string, name: string, xs: readonly number[], min: number): void {
  if (!Array.isArray(xs)) throw new Error(`${fn}: ${name} must be an array of numbers`);
  if (xs.length < min) throw new Error(`${fn}: ${name} needs at least ${min} values, got ${xs.length}`);
}

/**
 * The mean with its Student-t confidence interval, mean ± t_{(1+level)/2, n−1} · sd / √n.
 * One value has no interval: then halfWidth, lo and hi are NaN (the mean is the value). Any
 * non-finite value makes every field but n NaN: no honest mean exists, so callers filter first.
 * Throws for an empty sample.
 */
export function meanInterval(xs: readonly number[], level = 0.95): Interval {
  checkSample('meanInterval', 'xs', xs, 1);
  checkLevel('meanInterval', level);
  const n = xs.length;
  if (!xs.every(Number.isFinite)) {
    return { mean: Number.NaN, lo: Number.NaN, hi: Number.NaN, halfWidth: Number.NaN, n };
  }
  const m = mean(xs);
  if (n === 1) return { mean: m, lo: Number.NaN, hi: Number.NaN, halfWidth: Number.NaN, n };
  const halfWidth = (studentTQuantile((1 + level) / 2, n - 1) * sampleSd(xs)) / Math.sqrt(n);
  return { mean: m, lo: m - halfWidth, hi: m + halfWidth, halfWidth, n };
}

export interface WelchResult {
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
  /** mean(a) − mean(b). */
  difference: number;
  /** The `level` confidence interval of the difference. */
  lo: number;
  hi: number;
}

/**
 * Welch's two-sided unequal-variance t-test of mean(a) − mean(b), with the Welch–Satterthwaite
 * df and the `level` confidence interval of the difference. Both samples need ≥ 2 values (else
 * an Error). Edge cases: if both samples have zero variance the standard error is 0, so t is
 * ±Infinity (NaN when the means are equal), p is 0 (1 when equal), df is NaN and the interval
 * is [difference, difference]. Any non-finite value makes every field NaN (callers filter first).
 */
export function welchTest(a: readonly number[], b: readonly number[], level = 0.95): WelchResult {
  checkSample('welchTest', 'a', a, 2);
  checkSample('welchTest', 'b', b, 2);
  checkLevel('welchTest', level);
  if (!a.every(Number.isFinite) || !b.every(Number.isFinite)) {
    const nan = Number.NaN;
    return { t: nan, df: nan, p: nan, difference: nan, lo: nan, hi: nan };
  }
  const difference = mean(a) - mean(b);
  const va = sampleSd(a) ** 2 / a.length;
  const vb = sampleSd(b) ** 2 / b.length;
  const v = va + vb;
  if (v === 0) {
    return {
      t: difference / 0,
      df: Number.NaN,
      p: difference === 0 ? 1 : 0,
      difference,
      lo: difference,
      hi: difference,
    };
  }
  const se = Math.sqrt(v);
  const t = difference / se;
  // Welch–Satterthwaite, scaled by v so tiny variances do not underflow when squared
  const df = 1 / ((va / v) ** 2 / (a.length - 1) + (vb / v) ** 2 / (b.length - 1));
  const p = Math.min(1, 2 * studentTCdf(-Math.abs(t), df));
  const halfWidth = studentTQuantile((1 + level) / 2, df) * se;
  return { t, df, p, difference, lo: difference - halfWidth, hi: difference + halfWidth };
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** x to `digits` significant digits, in fixed notation for 1e-4 ≤ |x| < 1e6 (trailing zeros kept). */
function significant(x: number, digits: number): string {
  if (x === 0) return (0).toFixed(digits - 1);
  const rounded = Number(x.toPrecision(digits));
  const e = Math.floor(Math.log10(Math.abs(rounded)));
  if (e < -4 || e >= 6) return x.toPrecision(digits);
  return rounded.toFixed(Math.max(0, digits - 1 - e));
}

/**
 * "mean ± halfWidth": the mean to `digits` significant digits, the half-width to 2; "n/a" when
 * the mean is NaN; just the mean when the half-width is NaN (a single value).
 */
export function formatInterval(iv: Interval, digits = 3): string {
  if (!(Number.isInteger(digits) && digits >= 1 && digits <= 21)) {
    throw new Error(`formatInterval: digits must be an integer in [1, 21], got ${digits}`);
  }
  if (Number.isNaN(iv.mean)) return 'n/a';
  if (!Number.isFinite(iv.mean)) return String(iv.mean);
  const m = significant(iv.mean, digits);
  if (Number.isNaN(iv.halfWidth)) return m;
  return `${m} ± ${Number.isFinite(iv.halfWidth) ? significant(iv.halfWidth, 2) : String(iv.halfWidth)}`;
}

/** "p < 0.001", else "p = 0.012" (2 significant digits); "n/a" for NaN. */
export function formatP(p: number): string {
  if (Number.isNaN(p)) return 'n/a';
  if (!(p >= 0 && p <= 1)) throw new Error(`formatP: p must be in [0, 1], got ${p}`);
  if (p < 0.001) return 'p < 0.001';
  return `p = ${significant(p, 2)}`;
}
