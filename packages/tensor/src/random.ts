/**
 * Seeded random numbers over pure-rand's xoroshiro128+ generator. Every draw goes through an
 * explicit `Random` instance, so the same seed gives bit-identical tensors on every platform.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';
import { allocate, dtypeOption } from './dtype.js';
import { ValueError, argumentError } from './errors.js';
import { qr } from './linalg/index.js';
import { checkAllocation, checkShape, sizeOf } from './shape.js';
import { Tensor, type DTypeOptions } from './tensor.js';

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64's output function: a bijection of 64-bit words with full avalanche. */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/**
 * A xoroshiro128+ generator whose 128-bit state is two SplitMix64 outputs of a 64-bit seed, the
 * seeding its authors recommend. pure-rand's own `xoroshiro128plus(seed)` keeps 32 seed bits and
 * starts from a barely mixed state (its first output is `~seed`), so nearby seeds would give
 * related first draws. Distinct seeds give distinct states, and the state is never all zero
 * (mix64 is a bijection, so two consecutive outputs cannot both be 0).
 */
function seededGenerator(seed: bigint): JumpableRandomGenerator {
  const golden = 0x9e3779b97f4a7c15n;
  const s0 = mix64((seed + golden) & MASK64);
  const s1 = mix64((seed + 2n * golden) & MASK64);
  const word = (x: bigint, shift: bigint): number => Number(BigInt.asIntN(32, x >> shift));
  // pure-rand's state order is [s0 high, s0 low, s1 high, s1 low]
  return xoroshiro128plusFromState([word(s0, 32n), word(s0, 0n), word(s1, 32n), word(s1, 0n)]);
}

function checkFinite(op: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new ValueError(`${op}: ${name} must be finite, got ${value}`);
}

/** Largest integer every float32 holds exactly. */
const FLOAT32_EXACT_INT = 2 ** 24;

/**
 * A seeded stream of random numbers. Draws advance the stream, so the order of calls matters;
 * `split()` derives an independent child stream for code that must not disturb its parent's
 * sequence (e.g. one stream per layer).
 */
export class Random {
  private gen: JumpableRandomGenerator;

  /** `seed` is any safe integer (all 53 bits count); equal seeds give identical streams. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new ValueError(`Random: seed must be a safe integer, got ${seed}`);
    this.gen = seededGenerator(BigInt.asUintN(64, BigInt(seed)));
  }

  /**
   * A child stream seeded from two 32-bit draws of this one (so the parent advances by two
   * draws, and the child's own draws never disturb the parent). Deterministic: the same parent
   * state always yields the same child. Seeded rather than jump-based because jumps collide
   * when children split again.
   */
  split(): Random {
    const child = new Random(0);
    const hi = BigInt(this.gen.next() >>> 0);
    const lo = BigInt(this.gen.next() >>> 0);
    child.gen = seededGenerator((hi << 32n) | lo);
    return child;
  }

  /**
   * The generator's whole state: four signed 32-bit words (xoroshiro128+'s 128 bits). A stream
   * given this state by `setState` draws exactly what this one draws next (nothing else is
   * cached between draws), so a checkpoint that saves it resumes bit for bit.
   */
  getState(): number[] {
    return [...this.gen.getState()];
  }

  /**
   * Continues from a state returned by `getState` (of this or any stream). ValueError unless it
   * is four 32-bit integers, not all zero (the all-zero state would draw 0 forever).
   */
  setState(state: readonly number[]): void {
    if (
      !Array.isArray(state) ||
      state.length !== 4 ||
      !state.every((w) => Number.isInteger(w) && w >= -(2 ** 31) && w < 2 ** 32)
    ) {
      const got = Array.isArray(state) ? `[${state.map(String).join(', ')}]` : typeof state;
      throw new ValueError(`Random.setState: state must be four 32-bit integers from getState(), got ${got}`);
    }
    if (state.every((w) => w === 0))
      throw new ValueError('Random.setState: the all-zero state is not a valid xoroshiro128+ state');
    this.gen = xoroshiro128plusFromState(state.map((w) => w | 0));
  }

  /** One uniform double in [0, 1): a multiple of 2⁻⁵³ built from two 32-bit draws. */
  float(): number {
    return uniformFloat64(this.gen);
  }

  /**
   * Uniform samples in [low, high). In float32 the bounds are first rounded to float32 (and
   * must stay distinct). The affine map can round a sample up to `high`; such samples are
   * redrawn rather than clamped, so the range stays half-open without piling mass on an end.
   */
  uniform(shape: readonly number[], options: DTypeOptions & { low?: number; high?: number } = {}): Tensor {
    const dtype = dtypeOption('uniform', options);
    options ??= {};
    for (const k of ['low', 'high'] as const) {
      if (options[k] !== undefined && typeof options[k] !== 'number')
        throw argumentError('uniform', k, 'a number', options[k]);
    }
    const round = dtype === 'float32' ? Math.fround : (x: number) => x;
    const low = round(options.low ?? 0);
    const high = round(options.high ?? 1);
    if (!(low < high) || !Number.isFinite(high - low)) {
      throw new ValueError(
        `uniform: need finite low < high in ${dtype}, got low ${options.low ?? 0}, high ${options.high ?? 1}`,
      );
    }
    const s = checkShape('uniform', shape);
    const out = allocate(dtype, sizeOf(s));
    const width = high - low;
    for (let i = 0; i < out.length; i++) {
      // rounding is monotone and low is representable, so samples never fall below low
      do out[i] = low + width * this.float();
      while (out[i]! >= high);
    }
    return new Tensor(out, s);
  }

  /**
   * Normal samples (Box–Muller on 53-bit uniforms; both values of each pair are used, the
   * spare of an odd-sized draw is dropped). `std = 0` gives `mean` exactly.
   */
  normal(shape: readonly number[], options: DTypeOptions & { mean?: number; std?: number } = {}): Tensor {
    const dtype = dtypeOption('normal', options);
    const { mean = 0, std = 1 } = options ?? {};
    checkFinite('normal', 'mean', mean);
    checkFinite('normal', 'std', std);
    if (std < 0) throw new ValueError(`normal: std must be ≥ 0, got ${std}`);
    const s = checkShape('normal', shape);
    const out = allocate(dtype, sizeOf(s));
    for (let i = 0; i < out.length; i += 2) {
      // 1 − u lies in (0, 1], so the logarithm is finite
      const radius = Math.sqrt(-2 * Math.log(1 - this.float()));
      const angle = 2 * Math.PI * this.float();
      out[i] = mean + std * radius * Math.cos(angle);
      if (i + 1 < out.length) out[i + 1] = mean + std * radius * Math.sin(angle);
    }
    return new Tensor(out, s);
  }

  /** Uniform integers in [low, high) as a float tensor; low and high are safe integers. */
  integers(low: number, high: number, shape: readonly number[], options: DTypeOptions = {}): Tensor {
    const dtype = dtypeOption('integers', options);
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || !(low < high)) {
      throw new ValueError(`integers: need safe integers low < high, got low ${low}, high ${high}`);
    }
    if (dtype === 'float32' && (low < -FLOAT32_EXACT_INT || high - 1 > FLOAT32_EXACT_INT)) {
      throw new ValueError(`integers: float32 holds integers exactly only within ±2^24, got [${low}, ${high})`);
    }
    const s = checkShape('integers', shape);
    const out = allocate(dtype, sizeOf(s));
    for (let i = 0; i < out.length; i++) out[i] = uniformInt(this.gen, low, high - 1);
    return new Tensor(out, s);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ValueError(`permutation: n must be a non-negative integer, got ${n}`);
    checkAllocation('permutation', [n]);
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = uniformInt(this.gen, 0, i);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    return perm;
  }

  /** 1 with probability p, 0 otherwise; p = 0 and p = 1 are exact. */
  bernoulli(p: number, shape: readonly number[], options: DTypeOptions = {}): Tensor {
    const dtype = dtypeOption('bernoulli', options);
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ValueError(`bernoulli: p must lie in [0, 1], got ${p}`);
    const s = checkShape('bernoulli', shape);
    const out = allocate(dtype, sizeOf(s));
    for (let i = 0; i < out.length; i++) out[i] = this.float() < p ? 1 : 0;
    return new Tensor(out, s);
  }

  /**
   * A Haar-distributed n×n orthogonal matrix: Q of the QR of a float64 Gaussian matrix with
   * diag(R) ≥ 0 (without that sign convention Q is not Haar). det(Q) is +1 or −1 at random.
   * Computed in float64 and then cast, so float32 results are orthogonal to float32 rounding.
   */
  orthogonal(n: number, options: DTypeOptions = {}): Tensor {
    const dtype = dtypeOption('orthogonal', options);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ValueError(`orthogonal: n must be a non-negative integer, got ${n}`);
    checkAllocation('orthogonal', [n, n]);
    const { q } = qr(this.normal([n, n]));
    return q.astype(dtype);
  }
}
