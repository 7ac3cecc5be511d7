/**
 * The `@hyperconn/manifolds/testing` entry: every assertion passes on good input and throws on
 * bad input with a message naming the worst violation (kind, value, batch index); every
 * arbitrary produces what it promises, checked against independent loops or an exact SVD.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { Random, ShapeError, type Tensor, epsOf } from '@hyperconn/tensor';
import { Variable } from '@hyperconn/autograd';
import { SpectralSphere, Stiefel } from '@hyperconn/manifolds';
import {
  birkhoffVertexArb,
  expectDoublyStochastic,
  expectOnManifold,
  expectOrthogonal,
  expectTangent,
  expectUnitSpectralNorm,
  matrixArb,
  pointAndTangentArb,
  pointArb,
  repeatedSingularValuesArb,
  tangentArb,
} from '@hyperconn/manifolds/testing';
import { expectClose } from '../../../test/support/assert';

/** A batch of `count` copies of the matrix, shaped [...batch, n, n], as a fresh tensor. */
function batchOf(m: Tensor, batch: number[]): Tensor {
  return m.expand([...batch, ...m.shape]).clone();
}

/** The message of the error `fn` throws (fails the test when it throws nothing). */
function messageOf(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return (error as Error).message;
  }
  throw new Error('expected a throw, got none');
}

describe('expectDoublyStochastic', () => {
  const n = 4;
  const uniform = T.full([n, n], 1 / n);

  it('passes on vertices, the barycentre and convex mixtures of vertices, in batches, Tensors and Variables', () => {
    fc.assert(
      fc.property(birkhoffVertexArb(n), birkhoffVertexArb(n), fc.double({ min: 0, max: 1, noNaN: true }), (p, q, w) => {
        const mixture = T.add(T.mul(p, w), T.mul(q, 1 - w));
        expectDoublyStochastic(T.stack([p, mixture, uniform]).reshape([3, 1, n, n]));
        expectDoublyStochastic(new Variable(mixture));
      }),
    );
  });

  it('names the worst violation, its value and batch index', () => {
    const x = batchOf(uniform, [2, 3]);
    x.set([1, 2, 0, 3], 0.25 + 0.3); // column 3 +0.3, row 0 +0.3 − 0.15
    x.set([1, 2, 0, 1], 0.25 - 0.15); // column 1 −0.15
    x.set([0, 1, 2, 2], 0.25 + 0.01); // a smaller violation elsewhere
    const message = messageOf(() => expectDoublyStochastic(x));
    expect(message).toMatch(/^expectDoublyStochastic: column 3 at batch index \[1, 2\] sums to 1\.3/);
    expect(message).toMatch(/worst of 5 violations/); // row 0, columns 1, 3 at [1, 2]; row 2, column 2 at [0, 1]
  });

  it('catches negative entries and NaN even when every sum is 1', () => {
    expect(
      messageOf(() =>
        expectDoublyStochastic(
          T.tensor([
            [1.5, -0.5],
            [-0.5, 1.5],
          ]),
        ),
      ),
    ).toMatch(/entry \[0, 1\] at batch index \[\] is -0\.5/);
    expect(
      messageOf(() =>
        expectDoublyStochastic(
          T.tensor([
            [NaN, 1],
            [1, 0],
          ]),
        ),
      ),
    ).toMatch(/NaN/);
  });

  it('scales its default tolerance with dtype and n, and honours an explicit one', () => {
    const error = 1e-6; // below 32·n·eps of float32 (1.5e-5), far above float64's (2.8e-14)
    const x64 = T.tensor([
      [0.5 + error, 0.5],
      [0.5, 0.5 - error],
    ]);
    expectDoublyStochastic(x64.astype('float32'));
    expect(() => expectDoublyStochastic(x64)).toThrow(/row 0 at batch index \[\] sums to 1\.000001/);
    expectDoublyStochastic(x64, { atol: 2 * error });
  });

  it('rejects non-square input with a ShapeError', () => {
    expect(() => expectDoublyStochastic(T.ones([2, 3]))).toThrow(ShapeError);
  });
});

describe('expectUnitSpectralNorm', () => {
  it('passes on matrices built with σ_max = 1 (even repeated), orthogonal and rectangular ones', () => {
    fc.assert(
      fc.property(repeatedSingularValuesArb(4), ({ matrix, singularValues }) => {
        expectUnitSpectralNorm(T.div(matrix, singularValues[0]!));
      }),
      { numRuns: 30 }, // Jacobi SVD per run
    );
    expectUnitSpectralNorm(new Random(1).orthogonal(5));
    expectUnitSpectralNorm(T.tensor([[0.6, 0.8, 0]]));
  });

  it('names the worst batch entry and its σ_max', () => {
    const q = new Random(2).orthogonal(3);
    const x = T.stack([T.mul(q, 1.1), T.mul(q, 1.5), q]);
    expect(messageOf(() => expectUnitSpectralNorm(x))).toMatch(
      /σ_max = 1\.5\d* at batch index \[1\] .*worst of 2 violations/,
    );
    expect(
      messageOf(() =>
        expectUnitSpectralNorm(
          T.tensor([
            [Infinity, 0],
            [0, 1],
          ]),
        ),
      ),
    ).toMatch(/non-finite/);
  });

  it('uses a float32 tolerance for float32 input', () => {
    const x = T.tensor([
      [1 + 1e-6, 0],
      [0, 0.5],
    ]);
    expectUnitSpectralNorm(x.astype('float32'));
    expect(() => expectUnitSpectralNorm(x)).toThrow(/σ_max = 1\.000001/);
  });
});

describe('expectOrthogonal', () => {
  it('passes on orthogonal, tall (Stiefel) and wide (transposed Stiefel) matrices', () => {
    const q = new Random(3).orthogonal(5);
    expectOrthogonal(q);
    expectOrthogonal(q.slice(null, [0, 2]));
    expectOrthogonal(q.slice(null, [0, 2]).mT);
    expectOrthogonal(q.astype('float32'));
  });

  it('names the worst entry of the Gram matrix and its batch index', () => {
    const q = new Random(4).orthogonal(3);
    const x = batchOf(q, [2, 2]);
    for (let i = 0; i < 3; i++) x.set([0, 1, i, 2], 1.01 * q.get(i, 2)); // column 2 scaled: (XᵀX − I)[2, 2] = 0.0201
    const match = /\(XᵀX − I\)\[2, 2\] = (\S+) at batch index \[0, 1\]/.exec(messageOf(() => expectOrthogonal(x)));
    expectClose(Number(match?.[1]), 0.0201, { atol: 1e-12, rtol: 0 });
    expect(messageOf(() => expectOrthogonal(T.mul(q, 1.01).slice([0, 2])))).toMatch(/^expectOrthogonal: \(XXᵀ − I\)/);
  });
});

describe('expectOnManifold and expectTangent delegate to the manifold and keep its reason', () => {
  const stiefel = new Stiefel(4, 2);

  it('pass on points and tangents from the arbitraries', () => {
    fc.assert(
      fc.property(pointAndTangentArb(stiefel, { batchShape: [3] }), ({ x, v }) => {
        expectOnManifold(stiefel, x);
        expectTangent(stiefel, new Variable(x), v);
      }),
      { numRuns: 50 },
    );
  });

  it('throw with the manifold name and its reason', () => {
    const x = stiefel.randomPoint(new Random(5));
    const offBy = /^expectOnManifold: not on Stiefel\(4, 2\): .*\(XᵀX − I\)\[(\d), \1\] = (\S+) /.exec(
      messageOf(() => expectOnManifold(stiefel, T.mul(x, 2))),
    );
    expectClose(Number(offBy?.[2]), 3, { atol: 1e-12, rtol: 0 }); // (2X)ᵀ(2X) − I = 3I
    const normal = /^expectTangent: not tangent to Stiefel\(4, 2\): .*\[(\d), \1\] = (\S+) /.exec(
      messageOf(() => expectTangent(stiefel, x, x)),
    );
    expectClose(Number(normal?.[2]), 2, { atol: 1e-12, rtol: 0 }); // x is normal at x: Xᵀx + xᵀX = 2I
  });
});

describe('arbitraries', () => {
  it('matrixArb: shape, dtype and bounds; float32 entries are float32 numbers', () => {
    fc.assert(
      fc.property(matrixArb([2, 3, 4], { min: -2, max: 3, dtype: 'float32' }), (t) => {
        expect([t.shape, t.dtype]).toEqual([[2, 3, 4], 'float32']);
        for (const v of t.toTypedArray()) expect(v >= -2 && v <= 3).toBe(true);
      }),
    );
    fc.assert(
      fc.property(matrixArb([3, 3]), (t) => t.toTypedArray().every((v) => Math.abs(v) <= 1) && t.dtype === 'float64'),
    );
    expect(() => matrixArb([2], { min: 1, max: 0 })).toThrow(/min ≤ max/);
  });

  it('pointArb: points of the requested batch shape and dtype (σ_max = 1 on the spectral sphere, by SVD)', () => {
    const sphere = new SpectralSphere(3, 5);
    fc.assert(
      fc.property(pointArb(sphere, { batchShape: [2, 2], dtype: 'float32' }), (x) => {
        expect([x.shape, x.dtype]).toEqual([[2, 2, 3, 5], 'float32']);
        expectUnitSpectralNorm(x);
      }),
      { numRuns: 30 },
    );
  });

  it('pointAndTangentArb and tangentArb: unit-norm tangents (Xᵀv + vᵀX = 0 by a loop over the batch)', () => {
    const stiefel = new Stiefel(5, 3);
    const tangentAndUnit = (x: Tensor, v: Tensor): void => {
      const s = T.matmul(x.mT, v);
      expectClose(T.add(s, s.mT), T.zeros(s.shape), { atol: 50 * epsOf('float64'), rtol: 0 });
      expectClose(T.sqrt(T.sum(T.square(v), [-2, -1])), T.ones(v.shape.slice(0, -2)), {
        atol: 10 * epsOf('float64'),
        rtol: 0,
      });
    };
    fc.assert(
      fc.property(pointAndTangentArb(stiefel, { batchShape: [4] }), ({ x, v }) => tangentAndUnit(x, v)),
      { numRuns: 50 },
    );
    const x = stiefel.randomPoint(new Random(6));
    fc.assert(
      fc.property(tangentArb(stiefel, x), (v) => tangentAndUnit(x, v)),
      { numRuns: 50 },
    );
  });

  it('birkhoffVertexArb: 0/1 matrices with one 1 per row and column, reaching every permutation', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(birkhoffVertexArb(3), (p) => {
        const rows = p.toArray() as number[][];
        for (const row of rows) expect(row.filter((v) => v === 1).length + row.filter((v) => v === 0).length).toBe(3);
        for (let k = 0; k < 3; k++) {
          expect(rows[k]!.reduce((a, b) => a + b)).toBe(1);
          expect(rows.reduce((a, row) => a + row[k]!, 0)).toBe(1);
        }
        seen.add(JSON.stringify(rows));
      }),
      { numRuns: 200 },
    );
    expect(seen.size).toBe(6);
  });

  it('repeatedSingularValuesArb: the SVD finds the promised singular values, the top one repeated', () => {
    fc.assert(
      fc.property(repeatedSingularValuesArb(5), ({ matrix, singularValues, multiplicity }) => {
        const top = singularValues[0]!;
        expect(singularValues.slice(0, multiplicity).every((s) => s === top)).toBe(true);
        expect(singularValues.slice(multiplicity).every((s) => s <= 0.9 * top)).toBe(true);
        expectClose(T.svd(matrix).s, singularValues, { atol: 100 * epsOf('float64'), rtol: 0 });
      }),
      { numRuns: 50 },
    );
    fc.assert(
      fc.property(
        repeatedSingularValuesArb(3, { multiplicity: 3, dtype: 'float32' }),
        (r) => r.multiplicity === 3 && r.matrix.dtype === 'float32',
      ),
    );
    expect(() => repeatedSingularValuesArb(1)).toThrow(/n must be an integer ≥ 2/);
    expect(() => repeatedSingularValuesArb(3, { multiplicity: 4 })).toThrow(/multiplicity/);
  });

  it('the entry point does not depend on vitest (users may run any test runner)', () => {
    const source = readFileSync(new URL('../src/testing.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/from ['"]vitest['"]/);
  });
});
