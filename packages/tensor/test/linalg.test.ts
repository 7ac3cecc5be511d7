import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LinAlgError,
  ShapeError,
  type Tensor,
  ValueError,
  broadcastShapes,
  det,
  eigh,
  epsOf,
  expm,
  inv,
  matrixNorm,
  powerIteration,
  qr,
  slogdet,
  solve,
  svd,
  tensor,
  trace,
  zeros,
  type DType,
} from '@hyperconn/tensor';
import { asStridedView, broadcastablePairArb, dtypeArb, shapeArb, valuesArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

// ---------------------------------------------------------------------------------------------
// Naive references on plain arrays

type Mat = number[][];

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The matrices of a tensor [...,m,n], in C order of the batch. */
function mats(t: Tensor): Mat[] {
  const flat = t.toTypedArray();
  const m = t.shape[t.ndim - 2]!;
  const n = t.shape[t.ndim - 1]!;
  return Array.from({ length: size(t.shape.slice(0, -2)) }, (_, b) =>
    Array.from({ length: m }, (_, i) => Array.from({ length: n }, (_, j) => flat[b * m * n + i * n + j]!)),
  );
}

/** The vectors of a tensor [...,n]. */
function vecs(t: Tensor): number[][] {
  const flat = Array.from(t.toTypedArray());
  const n = t.shape[t.ndim - 1]!;
  return Array.from({ length: size(t.shape.slice(0, -1)) }, (_, b) => flat.slice(b * n, b * n + n));
}

function mul(a: Mat, b: Mat, inner = b.length): Mat {
  const cols = b[0]?.length ?? 0;
  return a.map((row) =>
    Array.from({ length: cols }, (_, j) => row.reduce((s, x, k) => (k < inner ? s + x * b[k]![j]! : s), 0)),
  );
}
const transpose = (a: Mat, rows = a.length, cols = a[0]?.length ?? 0): Mat =>
  Array.from({ length: cols }, (_, j) => Array.from({ length: rows }, (_, i) => a[i]![j]!));
const identity = (n: number): Mat =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const scaleCols = (a: Mat, s: readonly number[]): Mat => a.map((row) => row.map((x, j) => x * s[j]!));
const maxAbs = (a: Mat): number => a.reduce((m, row) => row.reduce((mm, x) => Math.max(mm, Math.abs(x)), m), 0);
/** ‖A‖∞, the largest row sum of |a|. */
const infNorm = (a: Mat): number =>
  a.reduce(
    (m, row) =>
      Math.max(
        m,
        row.reduce((s, x) => s + Math.abs(x), 0),
      ),
    0,
  );
const fro = (a: Mat): number => Math.hypot(...a.flat()); // hypot: no underflow for tiny entries

/** det by the Leibniz formula (sum over permutations). */
function leibnizDet(a: Mat): number {
  const n = a.length;
  const perms = (k: number): number[][] =>
    k === 0
      ? [[]]
      : perms(k - 1).flatMap((p) => Array.from({ length: k }, (_, i) => [...p.slice(0, i), k - 1, ...p.slice(i)]));
  return perms(n).reduce((sum, p) => {
    let inversions = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (p[i]! > p[j]!) inversions++;
    return sum + (inversions % 2 ? -1 : 1) * p.reduce((prod, pj, i) => prod * a[i]![pj]!, 1);
  }, 0);
}

/** e^A by Taylor series of A/2^k (‖A/2^k‖∞ ≤ 1/8, 30 terms) squared k times: independent of expm's Padé. */
function taylorExpm(a: Mat): Mat {
  const n = a.length;
  const k = Math.max(0, Math.ceil(Math.log2(infNorm(a) * 8)));
  const scaled = a.map((row) => row.map((x) => x / 2 ** k));
  let term = identity(n);
  let sum = identity(n);
  for (let i = 1; i <= 30; i++) {
    term = mul(term, scaled).map((row) => row.map((x) => x / i));
    sum = sum.map((row, r) => row.map((x, c) => x + term[r]![c]!));
  }
  for (let i = 0; i < k; i++) sum = mul(sum, sum);
  return sum;
}

/** Max-abs closeness of two matrices (or lists of numbers as 1×n). */
function expectMatClose(actual: Mat, expected: Mat, atol: number): void {
  expectClose(actual.flat(), expected.flat(), { atol, rtol: 0 });
}

/** Columns are orthonormal: ‖QᵀQ − I‖max ≤ atol. */
function expectOrthonormalColumns(q: Mat, cols: number, atol: number): void {
  expectMatClose(mul(transpose(q, q.length, cols), q, q.length), identity(cols), atol);
}

/**
 * Below the normal range every product rounds to a multiple of the smallest subnormal, so
 * reconstructions of tiny matrices (in the test's own float64 arithmetic, or from float32
 * outputs) carry this absolute error per accumulated term whatever their relative accuracy.
 */
function smallestSubnormal(dtype: DType): number {
  return dtype === 'float64' ? Number.MIN_VALUE : 2 ** -149;
}

function typed(values: readonly number[], dtype: DType, shape: readonly number[]): Tensor {
  return tensor(dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), { shape });
}

interface MatrixCase {
  a: Tensor;
  dtype: DType;
  batch: number[];
  m: number;
  n: number;
}

/**
 * Random batched matrices with entries in [−1,1] (both dtypes, size-0 and size-1 axes, half of
 * them as non-contiguous views). `shift` adds shift·(n+1) to the diagonal: A = R + (n+1)I is
 * strictly diagonally dominant, so σ_min ≥ 1 and σ_max ≤ 2n+1 (κ ≤ 2n+1).
 */
function matrixArb({
  square = false,
  minDim = 0,
  maxDim = 6,
  wellConditioned = false,
  maxBatchDim = 3,
} = {}): fc.Arbitrary<MatrixCase> {
  return fc
    .record({
      batch: shapeArb({ maxRank: 2, maxDim: maxBatchDim }),
      m: fc.integer({ min: minDim, max: maxDim }),
      n: fc.integer({ min: minDim, max: maxDim }),
      dtype: dtypeArb,
      strided: fc.boolean(),
    })
    .chain(({ batch, m, n, dtype, strided }) => {
      const cols = square ? m : n;
      const shape = [...batch, m, cols];
      return valuesArb(size(shape), { min: -1, max: 1 }).map((values) => {
        if (wellConditioned) {
          for (let b = 0; b < size(batch); b++)
            for (let i = 0; i < Math.min(m, cols); i++) values[b * m * cols + i * cols + i]! += m + 1;
        }
        const t = typed(values, dtype, shape);
        return { a: strided ? asStridedView(t) : t, dtype, batch, m, n: cols };
      });
    });
}

/** A random orthogonal n×n matrix (Q of a random well-conditioned matrix), float64. */
function randomOrthogonal(n: number, seed: number): Mat {
  let s = seed;
  const rand = (): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  const a = Array.from({ length: n * n }, rand);
  return mats(qr(tensor(Float64Array.from(a), { shape: [n, n] })).q)[0]!;
}

// ---------------------------------------------------------------------------------------------

describe('solve', () => {
  it('A·solve(A, B) = B with broadcast batch axes, for matrix and vector right-hand sides', () => {
    fc.assert(
      fc.property(
        broadcastablePairArb({ maxRank: 2, maxDim: 3 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        dtypeArb,
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        (batches, n, k, dtype, vectorB, strided, seed) => {
          const [batchA, batchB] = batches;
          const values = (count: number, start: number): number[] =>
            Array.from({ length: count }, (_, i) => Math.sin(seed + start + 7.3 * i));
          const av = values(size(batchA) * n * n, 0);
          for (let b = 0; b < size(batchA); b++) for (let i = 0; i < n; i++) av[b * n * n + i * n + i]! += n + 1;
          let a = typed(av, dtype, [...batchA, n, n]);
          const bShape = vectorB ? [n] : [...batchB, n, k];
          let b = typed(values(size(bShape), 1000), dtype, bShape);
          if (strided) [a, b] = [asStridedView(a), asStridedView(b)];
          const x = solve(a, b);
          const batch = vectorB ? batchA : broadcastShapes('test', batchA, batchB);
          expect(x.shape).toEqual(vectorB ? [...batch, n] : [...batch, n, k]);
          expect(x.dtype).toBe(dtype);
          const xm = vectorB ? mats(x.unsqueeze(-1)) : mats(x);
          const am = mats(a.expand([...batch, n, n]));
          const bm = vectorB ? mats(b.unsqueeze(-1).expand([...batch, n, 1])) : mats(b.expand([...batch, n, k]));
          xm.forEach((xi, i) => {
            // backward stability of GEPP: residual ≲ c·n·eps·‖A‖‖x‖ (rounding of x to float32 included)
            const atol = 4 * (n + 1) * epsOf(dtype) * (infNorm(am[i]!) * maxAbs(xi) + maxAbs(bm[i]!));
            expectMatClose(mul(am[i]!, xi), bm[i]!, atol);
          });
        },
      ),
    );
  });

  it('solves a medium system (n = 120) to a small residual', () => {
    const n = 120;
    const values = Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.37) + (i % (n + 1) === 0 ? n : 0));
    const a = tensor(Float64Array.from(values), { shape: [n, n] });
    const b = tensor(Float64Array.from({ length: n }, (_, i) => i / n - 0.5));
    const x = vecs(solve(a, b))[0]!;
    const am = mats(a)[0]!;
    const residual = am.map((row) => row.reduce((s, v, j) => s + v * x[j]!, 0));
    expectClose(residual, b.toTypedArray(), {
      atol: 4 * n * epsOf('float64') * infNorm(am) * Math.max(...x.map(Math.abs)),
      rtol: 0,
    });
  });

  it('promotes mixed dtypes to float64 and accepts a transposed view', () => {
    const a = tensor(
      [
        [2, 1],
        [0, 4],
      ],
      { dtype: 'float32' },
    ).mT; // [[2,0],[1,4]]
    const x = solve(a, tensor([2, 9]));
    expect(x.dtype).toBe('float64');
    expectClose(x, [1, 2]);
  });

  it('throws a LinAlgError naming the op and the batch index for a singular matrix', () => {
    const a = tensor([
      [
        [1, 0],
        [0, 1],
      ],
      [
        [1, 2],
        [2, 4],
      ],
    ]);
    expect(() => solve(a, tensor([1, 1]))).toThrow(LinAlgError);
    expect(() => solve(a, tensor([1, 1]))).toThrow(/^solve: matrix is singular at batch index \[1\]/);
    expect(() => solve(zeros([3, 3]), zeros([3, 1]))).toThrow(/^solve: matrix is singular \(zero pivot in column 0\)/);
  });

  it('solves a near-singular matrix without a condition check', () => {
    const d = 1e-12;
    const x = solve(
      tensor([
        [1, 1],
        [1, 1 + d],
      ]),
      tensor([2, 2 + d]),
    );
    expectClose(x, [1, 1], { atol: 1e-3, rtol: 0 }); // κ ≈ 4e12, so only ~4 digits survive
  });

  it('throws LinAlgError for non-finite input and ShapeError for bad shapes', () => {
    expect(() =>
      solve(
        tensor([
          [1, NaN],
          [0, 1],
        ]),
        tensor([1, 1]),
      ),
    ).toThrow(/^solve: a has a non-finite entry/);
    expect(() =>
      solve(
        tensor([
          [
            [1, 0],
            [0, 1],
          ],
          [
            [1, 0],
            [0, 1],
          ],
        ]),
        tensor([
          [[1], [Infinity]],
          [[1], [1]],
        ]),
      ),
    ).toThrow(/^solve: b has a non-finite entry at batch index \[0\]/);
    expect(() => solve(tensor([1, 2]), tensor([1, 2]))).toThrow(ShapeError);
    expect(() => solve(zeros([2, 3]), zeros([2]))).toThrow(
      /^solve: a must be square in its last two axes, got shape \[2,3\]/,
    );
    expect(() => solve(zeros([2, 2]), zeros([3]))).toThrow(
      /^solve: b of shape \[3\] does not match a of shape \[2,2\]/,
    );
    expect(() => solve(zeros([2, 2]), tensor(5))).toThrow(ShapeError);
    expect(() => solve(zeros([2, 2, 2]), zeros([3, 2, 1]))).toThrow(ShapeError);
  });
});

describe('inv', () => {
  it('inv(A)·A = A·inv(A) = I', () => {
    fc.assert(
      fc.property(matrixArb({ square: true, wellConditioned: true }), ({ a, dtype, batch, n }) => {
        const x = inv(a);
        expect(x.shape).toEqual([...batch, n, n]);
        expect(x.dtype).toBe(dtype);
        const am = mats(a);
        mats(x).forEach((xi, i) => {
          // ‖inv(A)A − I‖ ≲ c·n·eps·κ(A), κ ≤ ‖A‖∞‖A⁻¹‖∞
          const atol = 4 * (n + 1) * epsOf(dtype) * infNorm(am[i]!) * infNorm(xi);
          expectMatClose(mul(xi, am[i]!), identity(n), atol);
          expectMatClose(mul(am[i]!, xi), identity(n), atol);
        });
      }),
    );
  });

  it('matches the closed form of a 2×2 inverse', () => {
    expectClose(
      inv(
        tensor([
          [4, 7],
          [2, 6],
        ]),
      ),
      [0.6, -0.7, -0.2, 0.4],
      { atol: 1e-15, rtol: 0 },
    );
  });

  it('throws for singular or non-square matrices', () => {
    expect(() =>
      inv(
        tensor([
          [
            [2, 0],
            [0, 2],
          ],
          [
            [0, 0],
            [0, 1],
          ],
        ]),
      ),
    ).toThrow(/^inv: matrix is singular at batch index \[1\] \(zero pivot in column 0\)/);
    expect(() => inv(zeros([2, 3]))).toThrow(ShapeError);
    expect(() => inv(zeros([3]))).toThrow(/^inv: a must be a matrix or a batch of matrices/);
  });
});

describe('det and slogdet', () => {
  it('det matches the Leibniz formula and slogdet is consistent with it', () => {
    fc.assert(
      fc.property(matrixArb({ square: true, maxDim: 4 }), ({ a, dtype, batch, n }) => {
        const d = det(a);
        const { sign, logAbsDet } = slogdet(a);
        expect(d.shape).toEqual(batch);
        expect(sign.shape).toEqual(batch);
        expect(logAbsDet.shape).toEqual(batch);
        const expected = mats(a).map(leibnizDet);
        // entries in [−1,1]: each of the n! products is ≤ 1, so the error is bounded absolutely
        const atol = 8 * (n + 1) ** 2 * epsOf(dtype);
        expectClose(d, expected, { atol, rtol: 0 });
        const s = sign.toTypedArray();
        const l = logAbsDet.toTypedArray();
        expected.forEach((e, i) => {
          if (s[i] === 0) expect(l[i]).toBe(-Infinity);
          else expect(Math.abs(s[i]! * Math.exp(l[i]!) - e)).toBeLessThanOrEqual(atol);
        });
      }),
    );
  });

  it('det(AB) = det(A)·det(B)', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 6 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              dtypeArb,
              valuesArb(n * n, { min: -1, max: 1 }),
              valuesArb(n * n, { min: -1, max: 1 }),
            ),
          ),
        ([n, dtype, av, bv]) => {
          for (let i = 0; i < n; i++) {
            av[i * n + i]! += n + 1;
            bv[i * n + i]! += n + 1;
          }
          const a = typed(av, dtype, [n, n]);
          const b = typed(bv, dtype, [n, n]);
          const ab = typed(mul(mats(a)[0]!, mats(b)[0]!).flat(), dtype, [n, n]);
          // κ(A), κ(B) ≤ 2n+1: relative errors of each determinant are ≲ n·eps·κ
          const rtol = 4 * n * (2 * n + 1) ** 2 * epsOf(dtype);
          expectClose(det(ab).item(), det(a).item() * det(b).item(), { rtol, atol: 0 });
        },
      ),
    );
  });

  it('a singular matrix has det 0, sign 0 and logAbsDet −∞; the 0×0 matrix has det 1', () => {
    const a = tensor([
      [
        [1, 2],
        [2, 4],
      ],
      [
        [0, 0],
        [0, 0],
      ],
    ]);
    expectClose(det(a), [0, 0], { atol: 0, rtol: 0 });
    const { sign, logAbsDet } = slogdet(a);
    expectClose(sign, [0, 0], { atol: 0, rtol: 0 });
    expectClose(logAbsDet, [-Infinity, -Infinity]);
    expect(det(zeros([2, 0, 0])).toArray()).toEqual([1, 1]);
    expect(slogdet(zeros([0, 0])).sign.item()).toBe(1);
    expect(slogdet(zeros([0, 0])).logAbsDet.item()).toBe(0);
  });

  it('det survives an intermediate overflow, and slogdet stays finite where det overflows', () => {
    const d = det(
      tensor([
        [1e200, 0, 0],
        [0, 1e200, 0],
        [0, 0, -1e-300],
      ]),
    ).item();
    expectClose(d, -1e100, { rtol: 1e-13, atol: 0 });
    const n = 200;
    const big = zeros([n, n]);
    // a cyclic permutation times 100: det = (−1)^(n−1)·100^n
    for (let i = 0; i < n; i++) big.set([i, (i + 1) % n], 100);
    expect(det(big).item()).toBe(-Infinity);
    const { sign, logAbsDet } = slogdet(big);
    expect(sign.item()).toBe(-1);
    expectClose(logAbsDet.item(), n * Math.log(100), { rtol: 1e-14, atol: 0 });
  });

  it('rejects non-finite input and non-square matrices', () => {
    expect(() => det(tensor([[Infinity]]))).toThrow(/^det: a has a non-finite entry/);
    expect(() => slogdet(tensor([[[1]], [[NaN]]]))).toThrow(/^slogdet: a has a non-finite entry at batch index \[1\]/);
    expect(() => det(zeros([3, 2]))).toThrow(ShapeError);
    // finite entries whose elimination overflows (1e308 + 1e308) are an error, not a NaN
    expect(() =>
      det(
        tensor([
          [1e308, 1e308],
          [-1e308, 1e308],
        ]),
      ),
    ).toThrow(/^det: the LU factorisation overflows/);
  });
});

describe('qr', () => {
  it('Q has orthonormal columns, R is upper triangular with diag ≥ 0, and QR = A', () => {
    fc.assert(
      fc.property(matrixArb(), fc.boolean(), ({ a, dtype, batch, m, n }, rankDeficient) => {
        // rank deficiency by repeating the first column (exercises zero pivots in R)
        if (rankDeficient && n > 1 && m > 0) {
          a = a.clone();
          copyColumn(a, 0, n - 1);
        }
        const k = Math.min(m, n);
        const { q, r } = qr(a);
        expect(q.shape).toEqual([...batch, m, k]);
        expect(r.shape).toEqual([...batch, k, n]);
        expect(q.dtype).toBe(dtype);
        const rs = mats(r);
        const am = mats(a);
        const atol = 8 * (m + n + 1) * epsOf(dtype);
        mats(q).forEach((qi, i) => {
          const ri = rs[i]!;
          expectOrthonormalColumns(qi, k, atol);
          expectMatClose(mul(qi, ri, k), am[i]!, atol * fro(am[i]!) + (k + 1) * smallestSubnormal(dtype));
          ri.forEach((row, rr) => {
            row.forEach((x, c) => {
              if (c < rr) expect(x).toBe(0);
              if (c === rr) expect(x).toBeGreaterThanOrEqual(0);
            });
          });
        });
      }),
    );
  });

  it('matches hand-computed factors, with the sign fixed', () => {
    const plus = qr(tensor([[3], [4]]));
    expectClose(plus.q, [0.6, 0.8], { atol: 1e-15, rtol: 0 });
    expectClose(plus.r, [5], { atol: 1e-15, rtol: 0 });
    const minus = qr(
      tensor([
        [-3, 1],
        [-4, 2],
      ]),
    );
    // r11 = 5 with q1 = −(3,4)/5, r12 = q1·a2 = −2.2; a2 − r12·q1 = (−0.32, 0.24) = 0.4·q2
    expectClose(minus.q, [-0.6, -0.8, -0.8, 0.6], { atol: 1e-15, rtol: 0 });
    expectClose(minus.r, [5, -2.2, 0, 0.4], { atol: 1e-15, rtol: 0 });
  });

  it('handles entries near the overflow and underflow limits', () => {
    for (const scale of [1e300, 1e-300]) {
      const { q, r } = qr(tensor([[3 * scale], [4 * scale]]));
      expectClose(q, [0.6, 0.8], { atol: 1e-15, rtol: 0 });
      expectClose(r, [5 * scale], { rtol: 1e-15, atol: 0 });
    }
  });

  it('rejects non-finite input and rank < 2', () => {
    expect(() =>
      qr(
        tensor([
          [1, 2],
          [NaN, 1],
        ]),
      ),
    ).toThrow(/^qr: a has a non-finite entry/);
    expect(() => qr(tensor([1, 2]))).toThrow(ShapeError);
  });
});

/** Overwrites column `to` of every matrix of the contiguous `a` with column `from`. */
function copyColumn(a: Tensor, from: number, to: number): void {
  const [m, n] = a.shape.slice(-2) as [number, number];
  const flat = a.data;
  for (let b = 0; b < a.size / (m * n); b++)
    for (let i = 0; i < m; i++) flat[a.offset + b * m * n + i * n + to] = flat[a.offset + b * m * n + i * n + from]!;
}

describe('eigh', () => {
  it('V diag(λ) Vᵀ = (A+Aᵀ)/2, VᵀV = I, λ ascending, largest component of each vector positive', () => {
    fc.assert(
      fc.property(matrixArb({ square: true }), ({ a, dtype, batch, n }) => {
        const { values, vectors } = eigh(a);
        expect(values.shape).toEqual([...batch, n]);
        expect(vectors.shape).toEqual([...batch, n, n]);
        expect(values.dtype).toBe(dtype);
        const lams = vecs(values);
        const am = mats(a);
        const atol = 16 * (n + 1) * epsOf(dtype);
        mats(vectors).forEach((v, i) => {
          const sym = am[i]!.map((row, r) => row.map((x, c) => (x + am[i]![c]![r]!) / 2));
          const lam = lams[i]!;
          expectOrthonormalColumns(v, n, atol);
          expectMatClose(
            mul(scaleCols(v, lam), transpose(v)),
            sym,
            atol * fro(sym) + (n + 1) * smallestSubnormal(dtype),
          );
          for (let j = 1; j < n; j++) expect(lam[j]!).toBeGreaterThanOrEqual(lam[j - 1]!);
          for (let j = 0; j < n; j++) {
            const col = v.map((row) => row[j]!);
            const big = col.reduce((bi, x, r) => (Math.abs(x) > Math.abs(col[bi]!) ? r : bi), 0);
            expect(col[big]!).toBeGreaterThan(0);
          }
        });
      }),
    );
  });

  it('matches the 2×2 closed form and handles repeated eigenvalues', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        (p, q, s) => {
          const mean = (p + s) / 2;
          const radius = Math.hypot((p - s) / 2, q);
          expectClose(
            eigh(
              tensor([
                [p, q],
                [q, s],
              ]),
            ).values,
            [mean - radius, mean + radius],
            { atol: 4e-15 * (Math.abs(mean) + radius) + 2 * smallestSubnormal('float64'), rtol: 0 },
          );
        },
      ),
    );
    const { values, vectors } = eigh(
      tensor([
        [2, 0, 0],
        [0, 2, 0],
        [0, 0, 2],
      ]),
    );
    expectClose(values, [2, 2, 2], { atol: 0, rtol: 0 });
    expectClose(vectors, [1, 0, 0, 0, 1, 0, 0, 0, 1], { atol: 0, rtol: 0 });
  });

  it('recovers a known spectrum Q diag(λ) Qᵀ of a medium matrix (n = 60)', () => {
    const n = 60;
    const q = randomOrthogonal(n, 7);
    const lam = Array.from({ length: n }, (_, i) => (i - 30) / 7 + (i === 10 ? 0 : 0.001 * i));
    const a = mul(scaleCols(q, lam), transpose(q));
    const { values, vectors } = eigh(tensor(a));
    expectClose(
      values,
      [...lam].sort((x, y) => x - y),
      { atol: 64 * n * epsOf('float64') * Math.max(...lam.map(Math.abs)), rtol: 0 },
    );
    expectOrthonormalColumns(mats(vectors)[0]!, n, 16 * n * epsOf('float64'));
  });

  it('scales without overflow and rejects non-finite or non-square input', () => {
    expectClose(
      eigh(
        tensor([
          [2e300, 1e300],
          [1e300, 2e300],
        ]),
      ).values,
      [1e300, 3e300],
      { rtol: 1e-15, atol: 0 },
    );
    expect(() =>
      eigh(
        tensor([
          [1, Infinity],
          [0, 1],
        ]),
      ),
    ).toThrow(/^eigh: a has a non-finite entry/);
    expect(() => eigh(zeros([2, 3]))).toThrow(ShapeError);
  });
});

describe('svd', () => {
  /** Checks A = U diag(s) Vᵀ with orthonormal U, V and sorted non-negative s. */
  function checkSvd(a: Tensor, dtype: DType, batch: readonly number[], m: number, n: number): void {
    const k = Math.min(m, n);
    const { u, s, v } = svd(a);
    expect(u.shape).toEqual([...batch, m, k]);
    expect(s.shape).toEqual([...batch, k]);
    expect(v.shape).toEqual([...batch, n, k]);
    expect(s.dtype).toBe(dtype);
    const am = mats(a);
    const ss = vecs(s);
    const vs = mats(v);
    const atol = 16 * (m + n + 1) * epsOf(dtype);
    mats(u).forEach((ui, i) => {
      const si = ss[i]!;
      const fa = fro(am[i]!);
      expectOrthonormalColumns(ui, k, atol);
      expectOrthonormalColumns(vs[i]!, k, atol);
      expectMatClose(
        mul(scaleCols(ui, si), transpose(vs[i]!, n, k), k),
        am[i]!,
        atol * fa + (k + 1) * smallestSubnormal(dtype),
      );
      si.forEach((x, j) => {
        expect(x).toBeGreaterThanOrEqual(0);
        if (j > 0) expect(x).toBeLessThanOrEqual(si[j - 1]!);
        // sign convention: the largest-magnitude entry of each column of U (first on ties) is positive
        const col = ui.map((row) => row[j]!);
        expect(col[col.reduce((bi, y, r) => (Math.abs(y) > Math.abs(col[bi]!) ? r : bi), 0)]!).toBeGreaterThan(0);
      });
      // Σ s² = ‖A‖F², an identity independent of the factors
      expectClose(Math.hypot(...si), fa, { rtol: atol, atol: (k + 1) * smallestSubnormal(dtype) });
    });
  }

  it('U diag(s) Vᵀ = A with orthonormal U, V and descending s ≥ 0 (m < n, m = n, m > n)', () => {
    fc.assert(fc.property(matrixArb(), ({ a, dtype, batch, m, n }) => checkSvd(a, dtype, batch, m, n)));
  });

  it('handles rank-deficient products B·C (rank r < min(m,n)), with zero singular values', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            m: fc.integer({ min: 1, max: 6 }),
            n: fc.integer({ min: 1, max: 6 }),
            r: fc.integer({ min: 0, max: 2 }),
            dtype: dtypeArb,
          })
          .chain((c) =>
            fc.tuple(
              fc.constant(c),
              valuesArb(c.m * c.r, { min: -1, max: 1 }),
              valuesArb(c.r * c.n, { min: -1, max: 1 }),
            ),
          ),
        ([{ m, n, r, dtype }, bv, cv]) => {
          const b = Array.from({ length: m }, (_, i) => bv.slice(i * r, i * r + r));
          const c = Array.from({ length: r }, (_, i) => cv.slice(i * n, i * n + n));
          const product = r === 0 ? Array.from({ length: m }, () => new Array<number>(n).fill(0)) : mul(b, c);
          const a = typed(product.flat(), dtype, [m, n]);
          checkSvd(a, dtype, [], m, n);
          const s = svd(a).s.toTypedArray();
          // singular values beyond the rank are zero up to rounding of A
          for (let j = r; j < s.length; j++)
            expect(s[j]!).toBeLessThanOrEqual(16 * (m + n) * epsOf(dtype) * Math.max(1, fro(product)));
        },
      ),
    );
  });

  it('zero and identity matrices: s is exact and U, V stay orthonormal', () => {
    for (const [m, n] of [
      [4, 3],
      [3, 4],
      [3, 3],
    ] as const) {
      const zero = svd(zeros([m, n]));
      expectClose(zero.s, new Array(Math.min(m, n)).fill(0), { atol: 0, rtol: 0 });
      expectOrthonormalColumns(mats(zero.u)[0]!, Math.min(m, n), 0);
      expectOrthonormalColumns(mats(zero.v)[0]!, Math.min(m, n), 0);
    }
    const id = svd(
      tensor([
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ]),
    );
    expectClose(id.s, [1, 1, 1], { atol: 0, rtol: 0 });
    expectClose(id.u, [1, 0, 0, 0, 1, 0, 0, 0, 1], { atol: 0, rtol: 0 });
    expectClose(id.v, [1, 0, 0, 0, 1, 0, 0, 0, 1], { atol: 0, rtol: 0 });
  });

  it('recovers known singular values U diag(s) Vᵀ of a medium matrix (80×50)', () => {
    const [m, n] = [80, 50];
    const qu = randomOrthogonal(m, 3).map((row) => row.slice(0, n));
    const qv = randomOrthogonal(n, 5);
    const sv = Array.from({ length: n }, (_, i) => (i < 5 ? 0 : 10 / (i + 1))); // rank 45, repeated zeros
    const a = tensor(mul(scaleCols(qu, sv), transpose(qv)));
    const { s } = svd(a);
    expectClose(
      s,
      [...sv].sort((x, y) => y - x),
      { atol: 16 * (m + n) * epsOf('float64') * 10, rtol: 0 },
    );
    checkSvd(a, 'float64', [], m, n);
  });

  it('handles a 2×2 closed form and extreme magnitudes', () => {
    // [[3,0],[4,5]]: AᵀA = [[25,20],[20,25]], eigenvalues 45 and 5
    expectClose(
      svd(
        tensor([
          [3, 0],
          [4, 5],
        ]),
      ).s,
      [Math.sqrt(45), Math.sqrt(5)],
      { rtol: 1e-15, atol: 0 },
    );
    expectClose(
      svd(
        tensor([
          [3e250, 0],
          [4e250, 5e250],
        ]),
      ).s,
      [Math.sqrt(45) * 1e250, Math.sqrt(5) * 1e250],
      { rtol: 1e-15, atol: 0 },
    );
    expectClose(
      svd(
        tensor([
          [3e-250, 0],
          [4e-250, 5e-250],
        ]),
      ).s,
      [Math.sqrt(45) * 1e-250, Math.sqrt(5) * 1e-250],
      { rtol: 1e-15, atol: 0 },
    );
  });

  it('rejects non-finite input', () => {
    expect(() => svd(tensor([[[1, 2]], [[NaN, 1]]]))).toThrow(/^svd: a has a non-finite entry at batch index \[1\]/);
    expect(() => svd(tensor([1, 2]))).toThrow(ShapeError);
  });
});

describe('expm', () => {
  it('matches an independent Taylor-series reference across all Padé degrees and with squaring', () => {
    fc.assert(
      fc.property(
        matrixArb({ square: true, maxDim: 5, maxBatchDim: 2 }),
        fc.constantFrom(0.003, 0.05, 0.2, 0.5, 1, 3, 10),
        ({ a, dtype, batch, n }, scale) => {
          const scaled = typed(
            Array.from(a.toTypedArray(), (x) => (x * scale) / Math.max(1, n)),
            dtype,
            [...batch, n, n],
          );
          const e = expm(scaled);
          expect(e.shape).toEqual([...batch, n, n]);
          mats(e).forEach((ei, i) => {
            const ref = taylorExpm(mats(scaled)[i]!);
            // relative to ‖e^A‖; the squarings amplify rounding by ~‖A‖
            const atol = 64 * (n + 1) * epsOf(dtype) * Math.max(1, infNorm(ref)) * Math.max(1, scale);
            expectMatClose(ei, ref, atol);
          });
        },
      ),
    );
  });

  it('expm(A)·expm(−A) = I', () => {
    fc.assert(
      fc.property(matrixArb({ square: true, maxDim: 5, maxBatchDim: 2 }), ({ a, dtype, n }) => {
        const neg = typed(
          Array.from(a.toTypedArray(), (x) => -x),
          dtype,
          a.shape,
        );
        const ep = mats(expm(a));
        const en = mats(expm(neg));
        ep.forEach((x, i) => {
          expectMatClose(mul(x, en[i]!), identity(n), 64 * (n + 1) * epsOf(dtype) * infNorm(x) * infNorm(en[i]!));
        });
      }),
    );
  });

  it('expm(0) = I, diagonal → exp of the diagonal, nilpotent → finite series, rotation generator → rotation', () => {
    expectClose(expm(zeros([2, 3, 3])), [...identity(3).flat(), ...identity(3).flat()], { atol: 0, rtol: 0 });
    fc.assert(
      fc.property(valuesArb(4, { min: -30, max: 30 }), (d) => {
        const e = mats(expm(tensor(d.map((x, i) => d.map((_, j) => (i === j ? x : 0))))))[0]!;
        expectClose(
          e.map((row, i) => row[i]!),
          d.map(Math.exp),
          { rtol: 64 * 30 * epsOf('float64'), atol: 0 },
        );
        expectMatClose(
          e.map((row, i) => row.map((x, j) => (i === j ? 0 : x))),
          identity(4).map((r) => r.map(() => 0)),
          0,
        );
      }),
    );
    fc.assert(
      fc.property(valuesArb(3, { min: -4, max: 4 }), ([x, y, z]) => {
        // N strictly upper triangular: e^N = I + N + N²/2 exactly
        const e = expm(
          tensor([
            [0, x!, y!],
            [0, 0, z!],
            [0, 0, 0],
          ]),
        );
        expectClose(e, [1, x!, y! + (x! * z!) / 2, 0, 1, z!, 0, 0, 1], {
          atol: 64 * epsOf('float64') * (1 + Math.abs(x! * z!)),
          rtol: 0,
        });
      }),
    );
    fc.assert(
      fc.property(fc.double({ min: -50, max: 50, noNaN: true }), dtypeArb, (t, dtype) => {
        const e = expm(
          tensor(
            [
              [0, -t],
              [t, 0],
            ],
            { dtype },
          ),
        );
        const [c, s] = [Math.cos(t), Math.sin(t)];
        expectClose(e, [c, -s, s, c], { atol: 64 * epsOf(dtype) * Math.max(1, Math.abs(t)), rtol: 0 });
      }),
    );
  });

  it('throws on overflow, non-finite input and non-square input', () => {
    expect(() => expm(tensor([[1000]]))).toThrow(/^expm: the result overflows float64/);
    expect(() => expm(tensor([[[1]], [[100]]], { dtype: 'float32' }))).toThrow(
      /^expm: the result overflows float32 at batch index \[1\]/,
    );
    expect(() => expm(tensor([[NaN]]))).toThrow(LinAlgError);
    expect(() => expm(zeros([1, 2]))).toThrow(ShapeError);
  });
});

describe('matrixNorm and trace', () => {
  it("'fro', 1 and 'inf' match naive sums; 2 and 'nuc' match the singular values", () => {
    fc.assert(
      fc.property(matrixArb(), ({ a, dtype, batch, m, n }) => {
        const am = mats(a);
        const tol = { atol: 8 * (m + n + 1) * epsOf(dtype), rtol: 8 * (m + n + 1) * epsOf(dtype) };
        for (const ord of ['fro', 1, 'inf', 2, 'nuc'] as const) expect(matrixNorm(a, ord).shape).toEqual(batch);
        expectClose(matrixNorm(a), am.map(fro), tol);
        expectClose(
          matrixNorm(a, 1),
          am.map((x) => infNorm(transpose(x, m, n))),
          tol,
        );
        expectClose(matrixNorm(a, 'inf'), am.map(infNorm), tol);
        const s = vecs(svd(a).s);
        expectClose(
          matrixNorm(a, 2),
          s.map((x) => x[0] ?? 0),
          tol,
        );
        expectClose(
          matrixNorm(a, 'nuc'),
          s.map((x) => x.reduce((acc, y) => acc + y, 0)),
          tol,
        );
      }),
    );
  });

  it("2 and 'nuc' match closed forms: diagonal and rank-one u·vᵀ", () => {
    const diag = tensor([
      [3, 0, 0],
      [0, -5, 0],
    ]);
    expectClose(matrixNorm(diag, 2).item(), 5, { rtol: 1e-15, atol: 0 });
    expectClose(matrixNorm(diag, 'nuc').item(), 8, { rtol: 1e-15, atol: 0 });
    const rankOne = tensor([
      [2, 4, 4],
      [1, 2, 2],
    ]); // (2,1)ᵀ(1,2,2): ‖u‖‖v‖ = √5·3
    expectClose(matrixNorm(rankOne, 2).item(), 3 * Math.sqrt(5), { rtol: 1e-15, atol: 0 });
    expectClose(matrixNorm(rankOne, 'nuc').item(), 3 * Math.sqrt(5), { rtol: 1e-15, atol: 0 });
  });

  it('propagates NaN/∞, gives 0 for empty matrices and rejects an unknown ord', () => {
    for (const ord of ['fro', 1, 'inf', 2, 'nuc'] as const) {
      expect(
        matrixNorm(
          tensor([
            [1, NaN],
            [0, Infinity],
          ]),
          ord,
        ).item(),
      ).toBeNaN();
      expect(
        matrixNorm(
          tensor([
            [1, -Infinity],
            [0, 1],
          ]),
          ord,
        ).item(),
      ).toBe(Infinity);
      expect(matrixNorm(zeros([0, 3]), ord).item()).toBe(0);
    }
    // no overflow in the squares
    expectClose(matrixNorm(tensor([[3e200, 4e200]])).item(), 5e200, { rtol: 1e-15, atol: 0 });
    expect(() => matrixNorm(zeros([2, 2]), 3 as unknown as 'fro')).toThrow(ValueError);
    expect(() => matrixNorm(zeros([2]))).toThrow(ShapeError);
  });

  it('trace sums the main diagonal of each (possibly non-square) matrix', () => {
    fc.assert(
      fc.property(matrixArb(), ({ a, dtype, batch, m, n }) => {
        const t = trace(a);
        expect(t.shape).toEqual(batch);
        const expected = mats(a).map((x) =>
          Array.from({ length: Math.min(m, n) }, (_, i) => x[i]![i]!).reduce((s, y) => s + y, 0),
        );
        expectClose(t, expected, { atol: 2 * (m + 1) * epsOf(dtype), rtol: 0 });
      }),
    );
    expect(() => trace(tensor([1, 2]))).toThrow(ShapeError);
  });
});

describe('powerIteration', () => {
  /** A = Qu diag(s) Qvᵀ with σ1 = 2 and the rest ≤ 1 (a spectral gap), batched. */
  function gappedMatrix(m: number, n: number, seed: number): { a: Mat; sigma: number } {
    const k = Math.min(m, n);
    const s = Array.from({ length: k }, (_, i) => (i === 0 ? 2 : 1 / (i + 0.5 * (seed % 3) + 1)));
    const qu = randomOrthogonal(m, seed).map((row) => row.slice(0, k));
    const qv = randomOrthogonal(n, seed + 1).map((row) => row.slice(0, k));
    return { a: mul(scaleCols(qu, s), transpose(qv, n, k), k), sigma: 2 };
  }

  it('σ matches the largest singular value, Av = σu and Aᵀu = σv, for batches of both dtypes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        dtypeArb,
        fc.nat(1000),
        (m, n, count, dtype, seed) => {
          const list = Array.from({ length: count }, (_, b) => gappedMatrix(m, n, seed + 10 * b).a);
          const a = typed(list.flat(2), dtype, [count, m, n]);
          const { sigma, u, v, iterations } = powerIteration(a);
          expect(iterations).toBe(count === 0 ? 0 : 20);
          expect(sigma.shape).toEqual([count]);
          expect(u.shape).toEqual([count, m]);
          expect(v.shape).toEqual([count, n]);
          const am = mats(a);
          const us = vecs(u);
          const vs = vecs(v);
          const sig = sigma.toTypedArray();
          // with σ2/σ1 ≤ 1/2, 20 iterations reduce the vector error to ~2^-40
          const atol = 32 * (m + n) * epsOf(dtype) + (dtype === 'float64' ? 1e-11 : 0);
          const top = vecs(svd(a).s).map((s) => s[0]!);
          am.forEach((x, b) => {
            expectClose(sig[b]!, 2, { atol, rtol: 0 });
            expectClose(sig[b]!, top[b]!, { atol, rtol: 0 });
            const av = mul(x, transpose([vs[b]!])).map((r) => r[0]!);
            const atu = mul(transpose(x), transpose([us[b]!])).map((r) => r[0]!);
            expectClose(
              av,
              us[b]!.map((y) => y * sig[b]!),
              { atol: 4 * atol, rtol: 0 },
            );
            expectClose(
              atu,
              vs[b]!.map((y) => y * sig[b]!),
              { atol: 4 * atol, rtol: 0 },
            );
          });
        },
      ),
    );
  });

  it('a warm start converges in fewer iterations and the state is updated in place', () => {
    const { a } = gappedMatrix(5, 4, 11);
    const t = tensor(a);
    const cold = powerIteration(t, { iters: 500, tol: 1e-13 });
    expect(cold.iterations).toBeGreaterThan(3);
    expectClose(cold.sigma.item(), 2, { atol: 1e-12, rtol: 0 });
    // the state lives in a strided view of a larger buffer: it must be written through the view
    const storage = zeros([5, 3]);
    const state = { u: storage.slice(null, 1) };
    const halfway = powerIteration(t, { iters: 3, state });
    expect(state.u.toTypedArray()).toEqual(halfway.u.toTypedArray());
    expect(storage.slice(null, 0).toTypedArray()).toEqual(new Float64Array(5));
    const warm = powerIteration(t, { iters: 500, tol: 1e-13, state });
    expect(warm.iterations).toBeLessThan(cold.iterations);
    expectClose(warm.sigma.item(), 2, { atol: 1e-12, rtol: 0 });
    expect(powerIteration(t, { iters: 500, tol: 1e-13, state }).iterations).toBe(1);
  });

  it('zero matrix: σ = 0, u = normalised ones, v = e0; Aᵀ·1 = 0 falls back to the largest column', () => {
    const z = powerIteration(zeros([2, 4, 3]));
    expectClose(z.sigma, [0, 0], { atol: 0, rtol: 0 });
    expectClose(z.u, new Array(8).fill(0.5), { atol: 1e-16, rtol: 0 });
    expectClose(z.v, [1, 0, 0, 1, 0, 0], { atol: 0, rtol: 0 });
    // columns sum to zero, so Aᵀ(1,1)/√2 = 0; σ1 = 2 with v = ±(1,−1)/√2
    const f = powerIteration(
      tensor([
        [1, -1],
        [-1, 1],
      ]),
    );
    expectClose(f.sigma.item(), 2, { rtol: 1e-15, atol: 0 });
    expectClose(Math.abs(f.v.get(0)), Math.SQRT1_2, { rtol: 1e-15, atol: 0 });
    const empty = powerIteration(zeros([3, 0]));
    expect(empty.sigma.item()).toBe(0);
    expect(empty.v.shape).toEqual([0]);
  });

  it('rejects bad options, state shapes and non-finite input', () => {
    const a = zeros([2, 3, 4]);
    expect(() => powerIteration(a, { iters: 0 })).toThrow(ValueError);
    expect(() => powerIteration(a, { tol: -1 })).toThrow(ValueError);
    expect(() => powerIteration(a, { state: { u: zeros([2, 4]) } })).toThrow(
      /^powerIteration: state.u has shape \[2,4\], expected \[2,3\]/,
    );
    expect(() => powerIteration(a, { state: { u: zeros([1, 3]).expand([2, 3]) } })).toThrow(ValueError);
    expect(() => powerIteration(tensor([[NaN]]))).toThrow(/^powerIteration: a has a non-finite entry/);
    expect(() => powerIteration(tensor([[1]]), { state: { u: tensor([Infinity]) } })).toThrow(LinAlgError);
  });
});
