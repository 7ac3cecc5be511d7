/**
 * Birkhoff-specific facts (the generic manifold suite lives in manifold-suite.test.ts): the
 * Fisher projection against the full linear system solved independently, the Euclidean one
 * against C Z C, the Riesz identity, the retraction's slope test and its behaviour at vertices,
 * σ_max = 1 on 𝔅ₙ by exact SVD, the checkers' reasons, projection of arbitrary matrices, dtypes
 * and errors.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { Random, ShapeError, type Tensor, ValueError, epsOf, type DType } from '@hyperconn/tensor';
import { Birkhoff, permutationMixture } from '@hyperconn/manifolds';
import { expectClose } from '../../../test/support/assert';

type Matrix = number[][];
type Metric = 'fisher' | 'euclidean';

const metrics: readonly Metric[] = ['fisher', 'euclidean'];

/** The matrices of a [..., n, n] tensor as nested arrays. */
function matrices(t: Tensor): Matrix[] {
  const n = t.shape[t.ndim - 1]!;
  return (t.reshape([-1, n, n]).toArray() as Matrix[]).map((m) => m.map((row) => [...row]));
}
const rowSums = (m: Matrix): number[] => m.map((row) => row.reduce((a, b) => a + b, 0));
const colSums = (m: Matrix): number[] => m[0]!.map((_, j) => m.reduce((a, row) => a + row[j]!, 0));
const maxAbs = (m: Matrix): number => Math.max(...m.flat().map(Math.abs));
const permutationMatrix = (perm: readonly number[]): Tensor =>
  T.tensor(perm.map((j) => perm.map((_, k) => (k === j ? 1 : 0))));

/** c·n·eps of a dtype: the rounding of an n-term sum. */
const sumTol = (n: number, dtype: DType): number => 32 * n * epsOf(dtype);

interface PointCase {
  x: Tensor;
  n: number;
  rng: Random;
}

/** An interior point (a random point of the manifold) with a batch, plus a generator for more draws. */
function pointArb(
  opts: { minN?: number; maxN?: number; dtype?: DType; batch?: boolean } = {},
): fc.Arbitrary<PointCase> {
  const { minN = 2, maxN = 6, dtype = 'float64', batch = true } = opts;
  const batchArb = batch ? fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }) : fc.constant([]);
  return fc.tuple(fc.integer({ min: minN, max: maxN }), batchArb, fc.integer()).map(([n, b, seed]) => {
    const rng = new Random(seed);
    return { x: new Birkhoff(n).randomPoint(rng, b, { dtype }), n, rng };
  });
}

/** Reference Fisher projection of one matrix: the 2n system [I X; Xᵀ I][α; β] = [Z1; Zᵀ1] with β_{n−1} = 0 pinned. */
function fisherProjectionReference(x: Matrix, z: Matrix): Matrix {
  const n = x.length;
  const size = 2 * n - 1;
  const a = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  const rhs = new Array<number>(size).fill(0);
  const r = rowSums(x);
  const c = colSums(x);
  for (let i = 0; i < n; i++) {
    a[i]![i] = r[i]!;
    for (let j = 0; j < n - 1; j++) a[i]![n + j] = x[i]![j]!;
    rhs[i] = rowSums(z)[i]!;
  }
  for (let j = 0; j < n - 1; j++) {
    for (let i = 0; i < n; i++) a[n + j]![i] = x[i]![j]!;
    a[n + j]![n + j] = c[j]!;
    rhs[n + j] = colSums(z)[j]!;
  }
  const sol = T.solve(T.tensor(a), T.tensor(rhs)).toArray() as number[];
  const alpha = sol.slice(0, n);
  const beta = [...sol.slice(n), 0];
  return z.map((row, i) => row.map((v, j) => v - (alpha[i]! + beta[j]!) * x[i]![j]!));
}

/** ⟨u, v⟩ in the metric, by loops. */
function naiveInner(metric: Metric, x: Matrix, u: Matrix, v: Matrix): number {
  let s = 0;
  x.forEach((row, i) => {
    row.forEach((xv, j) => {
      s += (u[i]![j]! * v[i]![j]!) / (metric === 'fisher' ? xv : 1);
    });
  });
  return s;
}

describe('Birkhoff: construction', () => {
  it('dim (n−1)², shape [n, n], name, option validation', () => {
    for (const n of [1, 2, 3, 7]) {
      const m = new Birkhoff(n);
      expect(m.dim).toBe((n - 1) ** 2);
      expect(m.shape).toEqual([n, n]);
      expect(m.name).toBe(`Birkhoff(${n}, fisher)`);
      expect(m.metric).toBe('fisher');
    }
    expect(new Birkhoff(3, { metric: 'euclidean' }).name).toBe('Birkhoff(3, euclidean)');
    expect(() => new Birkhoff(0)).toThrow(/Birkhoff: n must be a positive integer, got 0/);
    expect(() => new Birkhoff(2.5)).toThrow(ValueError);
    expect(() => new Birkhoff(3, { minEntry: 0 })).toThrow(/minEntry/);
    expect(() => new Birkhoff(3, { minEntry: 0.5 })).toThrow(/minEntry/);
    expect(() => new Birkhoff(3, { sinkhornIters: 0 })).toThrow(/sinkhornIters/);
    expect(() => new Birkhoff(3, { metric: 'hyperbolic' as Metric })).toThrow(/metric/);
  });
});

describe('Birkhoff: tangent space and metric', () => {
  it('Fisher projectTangent equals the full 2n system solved with β_{n−1} pinned', () => {
    fc.assert(
      fc.property(pointArb(), ({ x, n, rng }) => {
        const z = rng.normal(x.shape);
        const expected = matrices(x).map((xm, b) => fisherProjectionReference(xm, matrices(z)[b]!));
        // the system's condition number is 1/(1 − σ₂(X)²), modest at random interior points
        expectClose(new Birkhoff(n).projectTangent(x, z), T.tensor(expected).reshape(x.shape), {
          atol: 1e3 * sumTol(n, 'float64'),
          rtol: 0,
        });
      }),
    );
  });

  it('Euclidean projectTangent equals C Z C with C = I − 11ᵀ/n', () => {
    fc.assert(
      fc.property(pointArb(), ({ x, n, rng }) => {
        const z = rng.normal(x.shape);
        const c = T.sub(T.eye(n), 1 / n);
        expectClose(new Birkhoff(n, { metric: 'euclidean' }).projectTangent(x, z), T.matmul(T.matmul(c, z), c), {
          atol: sumTol(n, 'float64'),
          rtol: 0,
        });
      }),
    );
  });

  it('projectTangent: rows and columns of the result sum to 0; it is idempotent (both metrics, both dtypes)', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      for (const metric of metrics) {
        fc.assert(
          fc.property(pointArb({ dtype }), ({ x, n, rng }) => {
            const m = new Birkhoff(n, { metric });
            const z = rng.normal(x.shape, { dtype, std: 3 });
            const y = m.projectTangent(x, z);
            expect(y.dtype).toBe(dtype);
            for (const ym of matrices(y)) {
              const scale = Math.max(1, n * maxAbs(ym));
              for (const s of [...rowSums(ym), ...colSums(ym)])
                expect(Math.abs(s)).toBeLessThanOrEqual(sumTol(n, dtype) * scale);
            }
            expectClose(m.projectTangent(x, y), y, {
              atol: 1e2 * sumTol(n, dtype) * Math.max(1, T.max(T.abs(y)).item()),
              rtol: 0,
            });
          }),
        );
      }
    }
  });

  it('Riesz identity ⟨egradToRgrad(x, G), t⟩_x = ⟨G, t⟩_F for tangent t (both metrics)', () => {
    for (const metric of metrics) {
      fc.assert(
        fc.property(pointArb({ batch: false }), ({ x, n, rng }) => {
          const m = new Birkhoff(n, { metric });
          const g = rng.normal([n, n], { std: 2 });
          const t = m.projectTangent(x, rng.normal([n, n]));
          const rgrad = m.egradToRgrad(x, g);
          const [xm, gm, tm, rm] = [x, g, t, rgrad].map((a) => matrices(a)[0]!);
          const lhs = naiveInner(metric, xm!, rm!, tm!);
          const rhs = naiveInner('euclidean', xm!, gm!, tm!);
          const scale = gm!.flat().reduce((s, v, k) => s + Math.abs(v * tm!.flat()[k]!), 0);
          expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e2 * sumTol(n, 'float64') * scale);
          // and rgrad is itself tangent
          expect(m.checkTangent(x, rgrad).ok).toBe(true);
        }),
      );
    }
  });

  it('inner equals Σ uv/X (Fisher) or Σ uv (Euclidean) by loops, batched', () => {
    for (const metric of metrics) {
      fc.assert(
        fc.property(pointArb(), ({ x, n, rng }) => {
          const [u, v] = [rng.normal(x.shape), rng.normal(x.shape)];
          const expected = matrices(x).map((xm, b) => naiveInner(metric, xm, matrices(u)[b]!, matrices(v)[b]!));
          expectClose(new Birkhoff(n, { metric }).inner(x, u, v), T.tensor(expected).reshape(x.shape.slice(0, -2)), {
            atol: 0,
            rtol: 1e-12,
          });
        }),
      );
    }
  });
});

describe('Birkhoff: retraction and projection', () => {
  it('is a first-order retraction: e(t) = ‖R(tξ) − x − tξ‖ falls ~100× when t falls 10×', () => {
    for (const metric of metrics) {
      fc.assert(
        fc.property(pointArb({ batch: false, maxN: 5 }), ({ x, n, rng }) => {
          const m = new Birkhoff(n, { metric });
          const xi = m.randomTangent(x, rng);
          const err = (t: number): number => T.norm(T.sub(m.retract(x, T.mul(xi, t)), T.add(x, T.mul(xi, t)))).item();
          const [e1, e2] = [err(1e-2), err(1e-3)];
          // the remainder is O(t²), so the ratio is ≥ ~100 (more where the t² term happens to be
          // small, e.g. nearly uniform 2×2 points); a remainder at rounding level (< 1e-11) says nothing
          if (e1 > 1e-11) expect(e1 / e2).toBeGreaterThan(50);
        }),
        { numRuns: 40 }, // 4 retractions per case
      );
    }
  });

  it('stays on 𝔅ₙ at vertices: a permutation with a centred step gives a finite point near the vertex', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 7 }), fc.integer(), fc.constantFrom(1e-3, 0.1, 1), (n, seed, size) => {
        const rng = new Random(seed);
        const m = new Birkhoff(n);
        const p = permutationMatrix(rng.permutation(n));
        const c = T.sub(T.eye(n), 1 / n);
        const xi = T.mul(T.matmul(T.matmul(c, rng.normal([n, n])), c), size);
        const r = m.retract(p, xi);
        const check = m.check(r);
        expect(check.ok, check.reason).toBe(true);
        // Off-support entries of X̂ ⊙ exp(E) are at most √minEntry (the exponent clamp), support
        // entries at least e^{−max|ξ|}; scaling to 𝔅ₙ moves each ratio by at most e^{2 max|ξ|}.
        const bound = n * Math.sqrt(m.minEntry) * Math.exp(3 * T.max(T.abs(xi)).item());
        expect(T.max(T.abs(T.sub(r, p))).item()).toBeLessThanOrEqual(bound);
        // a second step from the (now interior) point also lands on 𝔅ₙ
        const r2 = m.retract(r, m.projectTangent(r, T.mul(rng.normal([n, n]), size)));
        expect(m.check(r2).ok, m.check(r2).reason).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('long steps from a vertex stay on 𝔅ₙ (entries span 1e-23..1: the scaling needs the accurate Laplacian)', () => {
    // Walks that once ended 2.6e-5 and 1.4e-13 off 𝔅ₙ, when the Newton system was formed as
    // diag(c) − XᵀX + 11ᵀ/n and lost the weights below eps. Plus random walks of the same kind.
    for (const seed of [1, 323, ...Array.from({ length: 20 }, (_, i) => 1000 + i)]) {
      const rng = new Random(seed);
      const n = 2 + (seed % 7);
      const m = new Birkhoff(n);
      const vertex = permutationMatrix(rng.permutation(n));
      const c = T.sub(T.eye(n), 1 / n);
      for (const size of [1e-3, 0.1, 1, 10]) {
        let x = vertex;
        for (let step = 0; step < 4; step++) {
          const xi = T.mul(T.matmul(T.matmul(c, rng.normal([n, n])), c), size);
          x = m.retract(x, step % 2 ? m.projectTangent(x, xi) : xi);
          expect(m.check(x).ok, `seed ${seed}, size ${size}, step ${step}: ${m.check(x).reason}`).toBe(true);
        }
      }
    }
  });

  it('at a vertex the Fisher gradient vanishes (the vertex is a 0-dimensional face) and nothing is NaN', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer(), (n, seed) => {
        const rng = new Random(seed);
        const m = new Birkhoff(n);
        const p = permutationMatrix(rng.permutation(n));
        const g = rng.normal([n, n]);
        // exact at minEntry = 0: α_i + β_π(i) = G_iπ(i) makes Π_P(P ⊙ G) = 0; the clamp leaves O(n·minEntry·|G|)
        expect(T.max(T.abs(m.egradToRgrad(p, g))).item()).toBeLessThanOrEqual(
          10 * n * m.minEntry * T.max(T.abs(g)).item(),
        );
        const y = m.projectTangent(p, g);
        expect(m.checkTangent(p, y).ok).toBe(true);
        expect(Number.isFinite(m.norm(p, y).item())).toBe(true);
        expect(m.check(m.retract(p, T.zerosLike(p))).ok).toBe(true);
      }),
    );
  });

  it('every doubly stochastic matrix has σ_max = 1 (random points, permutation mixtures, vertices; exact SVD)', () => {
    fc.assert(
      fc.property(pointArb(), ({ x, n, rng }) => {
        const weights = T.softmax(rng.normal([n <= 4 ? [1, 2, 6, 24][n - 1]! : 24]));
        const mixture = n <= 4 ? permutationMixture(weights).value : permutationMatrix(rng.permutation(n));
        for (const dsm of [...matrices(x), ...matrices(mixture), ...matrices(permutationMatrix(rng.permutation(n)))]) {
          expect(Math.abs(T.svd(T.tensor(dsm)).s.get(0) - 1)).toBeLessThanOrEqual(sumTol(n, 'float64'));
        }
      }),
    );
  });

  it('project: a doubly stochastic matrix is a fixed point; any matrix (negative entries included) lands on 𝔅ₙ', () => {
    fc.assert(
      fc.property(pointArb(), ({ x, n, rng }) => {
        const m = new Birkhoff(n);
        expectClose(m.project(x), x, { atol: sumTol(n, 'float64'), rtol: 0 });
        // about half the entries are clamped to minEntry: Sinkhorn alone would need ~1/√minEntry
        // iterations here, the Newton polish gets to rounding
        const y = m.project(rng.normal(x.shape, { std: 2 }));
        expect(m.check(y).ok, m.check(y).reason).toBe(true);
        // a batch equals the loop of single calls (to rounding: a batch runs until all its matrices converge)
        const z = T.abs(rng.normal(x.shape));
        const batched = matrices(m.project(z));
        matrices(z).forEach((zm, b) => {
          expectClose(T.tensor(batched[b]!), m.project(T.tensor(zm)), { atol: sumTol(n, 'float64'), rtol: 0 });
        });
      }),
    );
  });

  it('float32 points in, float32 points out, on 𝔅ₙ to float32 tolerance (computed in float64)', () => {
    fc.assert(
      fc.property(pointArb({ dtype: 'float32' }), ({ x, n, rng }) => {
        const m = new Birkhoff(n);
        expect(x.dtype).toBe('float32');
        expect(m.check(x).ok, m.check(x).reason).toBe(true);
        const v = m.randomTangent(x, rng);
        expect(v.dtype).toBe('float32');
        for (const y of [m.retract(x, v), m.project(T.abs(rng.normal(x.shape, { dtype: 'float32' })))]) {
          expect(y.dtype).toBe('float32');
          expect(m.check(y).ok, m.check(y).reason).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('Birkhoff: checks and errors', () => {
  it('check names the worst violation: a negative entry, a row, a column, a NaN, a wrong shape', () => {
    const m = new Birkhoff(3);
    const x = T.full([2, 3, 3], 1 / 3);
    expect(m.check(x)).toEqual({ ok: true, reason: '' });
    // sums kept at 1: x + δ(e₀₀ − e₀₁ − e₁₀ + e₁₁) with δ = −1/2
    const negative = x.clone();
    for (const [i, j, d] of [
      [0, 0, -0.5],
      [0, 1, 0.5],
      [1, 0, 0.5],
      [1, 1, -0.5],
    ] as const)
      negative.set([1, i, j], 1 / 3 + d);
    expect(m.check(negative).reason).toMatch(/entry \[0, 0\] at batch index \[1\] is -0\.166/);
    const row = x.clone();
    row.set([0, 2, 1], 1 / 3 + 1e-3);
    expect(m.check(row).reason).toMatch(/(row 2|column 1) at batch index \[0\] sums to 1\.001/);
    const column = x.clone();
    column.set([1, 0, 2], 1 / 3 - 1e-6);
    column.set([1, 0, 1], 1 / 3 + 1e-6);
    column.set([1, 1, 2], 1 / 3 + 2e-3);
    column.set([1, 1, 0], 1 / 3 - 2e-3);
    expect(m.check(column).reason).toMatch(/column 0 at batch index \[1\]/);
    // a looser tolerance accepts it; the default follows the dtype (an error of 1e-6 passes in float32)
    expect(m.check(column, { atol: 3e-3 }).ok).toBe(true);
    const small = x.clone();
    small.set([0, 0, 0], 1 / 3 + 1e-6);
    expect(m.check(small).ok).toBe(false);
    expect(m.check(small.astype('float32')).ok).toBe(true);
    const nan = x.clone();
    nan.set([0, 1, 1], NaN);
    expect(m.check(nan).reason).toMatch(/entry \[1, 1\] at batch index \[0\] is NaN/);
    expect(m.check(T.full([3, 2], 0.5)).reason).toMatch(/expected shape \[\.\.\.,3,3\], got \[3,2\]/);
  });

  it('checkTangent accepts projected vectors and names the worst row or column of others', () => {
    fc.assert(
      fc.property(pointArb(), ({ x, n, rng }) => {
        const m = new Birkhoff(n);
        expect(m.checkTangent(x, m.projectTangent(x, rng.normal(x.shape))).ok).toBe(true);
        const off = T.add(m.projectTangent(x, rng.normal(x.shape)), T.mul(T.eye(n), 1e-3));
        expect(m.checkTangent(x, off).reason).toMatch(
          /tangent (row|column) \d+ at batch index \[[\d, ]*\] sums to (0\.001|0\.000999)/,
        );
      }),
    );
  });

  it('rejects wrong shapes (ShapeError) and non-finite input (ValueError) naming the method', () => {
    const m = new Birkhoff(3);
    const x = T.full([3, 3], 1 / 3);
    expect(() => m.project(T.zeros([3, 4]))).toThrow(ShapeError);
    expect(() => m.projectTangent(x, T.zeros([2, 2]))).toThrow(
      /Birkhoff\.projectTangent: expected \[\.\.\.,3,3\], got shape \[2,2\]/,
    );
    expect(() => m.retract(x, T.full([3, 3], NaN))).toThrow(/Birkhoff\.retract: input has a non-finite entry NaN/);
    expect(() => m.egradToRgrad(x, T.full([3, 3], Infinity))).toThrow(ValueError);
  });
});
