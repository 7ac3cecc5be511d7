/**
 * `kron`, the batched Kronecker product, beyond its op-cases entry (forward against a naive loop,
 * gradcheck to second order over broadcasting batch shapes and size-0 axes): a worked example
 * written out by hand, block structure, the mixed-product identity (A⊗B)(C⊗D) = (AC)⊗(BD),
 * strided inputs, dtypes, and typed errors naming `kron`.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { ShapeError, ValueError } from '@hyperconn/tensor';
import { kron, matmul, mul, sum } from '../src/ops';
import { gradients } from '../src/engine';
import { param } from '../src/variable';
import { shapeArb, tensorArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

describe('kron', () => {
  it('matches the worked example of numpy.kron', () => {
    const y = kron(
      param([
        [1, 2],
        [3, 4],
      ]),
      param([
        [0, 5],
        [6, 7],
      ]),
    );
    expectClose(
      y.value,
      T.tensor([
        [0, 5, 0, 10],
        [6, 7, 12, 14],
        [0, 15, 0, 20],
        [18, 21, 24, 28],
      ]),
      { rtol: 0, atol: 0 },
    );
  });

  it('I ⊗ B is block diagonal with copies of B; A ⊗ 1×1 is A scaled', () => {
    const b = T.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const y = kron(T.eye(2), b).value;
    expectClose(
      y,
      T.tensor([
        [1, 2, 3, 0, 0, 0],
        [4, 5, 6, 0, 0, 0],
        [0, 0, 0, 1, 2, 3],
        [0, 0, 0, 4, 5, 6],
      ]),
      { rtol: 0, atol: 0 },
    );
    expectClose(kron(b, T.tensor([[-2]])).value, T.mul(b, -2), { rtol: 0, atol: 0 });
  });

  it('satisfies the mixed-product identity (A⊗B)(C⊗D) = (AC)⊗(BD), batch axes broadcasting', () => {
    const dims = fc.integer({ min: 1, max: 3 });
    fc.assert(
      fc.property(
        fc
          .tuple(shapeArb({ maxRank: 2, minDim: 1, maxDim: 2 }), dims, dims, dims, dims, dims, dims)
          .chain(([batch, p, q, t, r, s, u]) =>
            fc.tuple(
              tensorArb([...batch, p, q], 'float64'),
              tensorArb([r, s], 'float64'),
              tensorArb([q, t], 'float64'),
              tensorArb([...batch, s, u], 'float64'),
            ),
          ),
        ([a, b, c, d]) => {
          const left = matmul(kron(a, b), kron(c, d)).value;
          const right = kron(T.matmul(a, c), T.matmul(b, d)).value;
          expectClose(left, right, { rtol: 1e-12, atol: 1e-10 });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reads strided views as their contiguous copies', () => {
    const a = T.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = T.tensor([
      [7, -1],
      [0, 2],
      [3, 5],
    ]);
    const viewA = a.transpose();
    const viewB = T.flip(b, 0);
    expectClose(kron(viewA, viewB).value, kron(viewA.contiguous(), viewB.contiguous()).value, { rtol: 0, atol: 0 });
  });

  it('keeps float32 and promotes mixed dtypes to float64', () => {
    const a32 = T.ones([2, 2], { dtype: 'float32' });
    expect(kron(a32, a32).dtype).toBe('float32');
    expect(kron(a32, T.ones([1, 3])).dtype).toBe('float64');
  });

  it('sends the gradient of Σ W⊙(a⊗b) to a as Σ_kl W[ir+k, js+l]·b[k, l]', () => {
    const a = param(T.tensor([[1, -2, 0.5]]));
    const b = param(
      T.tensor([
        [2, 3],
        [-1, 4],
      ]),
    );
    const w = T.arange(12).reshape([2, 6]);
    const [ga, gb] = gradients(sum(mul(kron(a, b), w)), [a, b]);
    // by hand: a[0, j] meets the 2×2 block W[:, 2j..2j+1]
    const wv = w.toTypedArray();
    const bv = [2, 3, -1, 4];
    const av = [1, -2, 0.5];
    const expectA = [0, 1, 2].map((j) =>
      bv.reduce((acc, bkl, kl) => acc + wv[(kl >> 1) * 6 + 2 * j + (kl & 1)]! * bkl, 0),
    );
    const expectB = [0, 1, 2, 3].map((kl) =>
      av.reduce((acc, aj, j) => acc + wv[(kl >> 1) * 6 + 2 * j + (kl & 1)]! * aj, 0),
    );
    expectClose(ga!.value, T.tensor([expectA]));
    expectClose(gb!.value, T.tensor(expectB).reshape([2, 2]));
  });

  it('refuses operands with fewer than two axes, unbroadcastable batches and non-tensors, naming kron', () => {
    const m = T.ones([2, 2]);
    expect(() => kron(T.ones([2]), m)).toThrow(ShapeError);
    expect(() => kron(m, T.ones([]))).toThrow(/^kron: operands must have at least two axes/);
    expect(() => kron(T.ones([2, 1, 1]), T.ones([3, 1, 1]))).toThrow(ShapeError);
    expect(() => kron(T.ones([2, 1, 1]), T.ones([3, 1, 1]))).toThrow(/^kron: /);
    expect(() => kron(null as never, m)).toThrow(ValueError);
    expect(() => kron(m, [[1]] as never)).toThrow(/^kron: /);
  });
});
