/**
 * The reverse pass: accumulation into `.grad`, shared subgraphs, the one broadcast reduction,
 * freed graphs, higher order via createGraph, noGrad, deep graphs, seeds and dtypes. Each
 * gradient is compared with its closed form.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { ShapeError, ValueError } from '@hyperconn/tensor';
import * as ops from '../src/ops';
import { backward, FreedGraphError, gradients } from '../src/engine';
import { isGradEnabled, noGrad, param, type Variable, variable } from '../src/variable';
import { broadcastablePairArb, tensorArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

describe('accumulation', () => {
  it('a second backward (with retainGraph) adds to .grad', () => {
    const x = param([1, -2, 3]);
    const y = ops.sum(ops.mul(x, x));
    y.backward(undefined, { retainGraph: true });
    expectClose(x.grad!.value, [2, -4, 6]);
    y.backward();
    expectClose(x.grad!.value, [4, -8, 12]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it('backward of two different outputs accumulates both gradients', () => {
    const x = param([0.5, 2]);
    ops.sum(ops.exp(x)).backward();
    ops.sum(ops.square(x)).backward();
    expectClose(x.grad!.value, [Math.exp(0.5) + 1, Math.exp(2) + 4], { rtol: 1e-15 });
  });

  it('a variable used on several paths (a diamond) gets the sum of the paths', () => {
    const x = param([0.3, -1.2, 2]);
    const a = ops.exp(x);
    const b = ops.sin(x);
    ops.sum(ops.mul(a, b)).backward();
    const expected = [0.3, -1.2, 2].map((v) => Math.exp(v) * (Math.sin(v) + Math.cos(v)));
    expectClose(x.grad!.value, expected, { rtol: 1e-14 });
  });

  it('the same variable as both operands of one op', () => {
    const x = param([3, -4]);
    ops.sum(ops.mul(x, x)).backward();
    expectClose(x.grad!.value, [6, -8]);
  });

  it('only leaves that require grad receive .grad; the gradient is detached', () => {
    const x = param([1, 2]);
    const c = variable([5, 7]);
    const h = ops.mul(x, c);
    ops.sum(ops.square(h)).backward();
    expectClose(x.grad!.value, [2 * 5 * 5, 2 * 14 * 7]);
    expect(c.grad).toBeNull();
    expect(h.grad).toBeNull();
    expect(x.grad!.requiresGrad).toBe(false);
    expect(x.grad!.isLeaf).toBe(true);
  });
});

describe('broadcasting is reduced to each input shape in the engine', () => {
  it('a [3,1] + b [4] with weights W gives row sums and column sums of W', () => {
    const a = param([[1], [2], [3]]);
    const b = param([10, 20, 30, 40]);
    const w = T.tensor([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
    ]);
    ops.sum(ops.mul(ops.add(a, b), w)).backward();
    expect(a.grad!.shape).toEqual([3, 1]);
    expect(b.grad!.shape).toEqual([4]);
    expectClose(a.grad!.value, T.tensor([[10], [26], [42]]));
    expectClose(b.grad!.value, T.tensor([15, 18, 21, 24]));
  });

  it('for every broadcastable pair, d sum(w·(a·b)) is w·b and w·a summed to the input shapes', () => {
    fc.assert(
      fc.property(
        broadcastablePairArb().chain(([sa, sb]) => {
          const full = T.broadcastShapes('test', sa, sb);
          return fc.tuple(tensorArb(sa), tensorArb(sb), tensorArb(full));
        }),
        ([ta, tb, w]) => {
          const a = param(ta);
          const b = param(tb);
          ops.sum(ops.mul(ops.mul(a, b), w)).backward();
          expectClose(a.grad!.value, naiveSumTo(T.mul(w, tb), ta.shape), { rtol: 1e-13, atol: 1e-11 });
          expectClose(b.grad!.value, naiveSumTo(T.mul(w, ta), tb.shape), { rtol: 1e-13, atol: 1e-11 });
        },
      ),
    );
  });
});

/** Sums a broadcast result down to `shape`, element by element. */
function naiveSumTo(x: T.Tensor, shape: readonly number[]): T.Tensor {
  const out = T.zeros(shape);
  const lead = x.ndim - shape.length;
  const flat = x.toTypedArray();
  const index = new Array<number>(x.ndim).fill(0);
  for (let k = 0; k < flat.length; k++) {
    const target = shape.map((d, i) => (d === 1 ? 0 : index[lead + i]!));
    out.set(target, out.get(...target) + flat[k]!);
    for (let i = x.ndim - 1; i >= 0 && ++index[i]! === x.shape[i]; i--) index[i] = 0;
  }
  return out;
}

describe('freed graphs', () => {
  it('a second backward without retainGraph throws FreedGraphError naming the op and the fix', () => {
    const x = param([1, 2]);
    const y = ops.sum(ops.exp(x));
    y.backward();
    expect(() => y.backward()).toThrow(FreedGraphError);
    expect(() => y.backward()).toThrow(/^backward: .*'sum'.*retainGraph/);
  });

  it('a freed interior node is reported by name when reached from a new output', () => {
    const x = param([1, 2]);
    const h = ops.tanh(x);
    ops.sum(h).backward();
    expect(() => ops.sum(ops.mul(h, 2)).backward()).toThrow(/'tanh'/);
  });

  it('retainGraph keeps the graph usable', () => {
    const x = param([1, 2]);
    const y = ops.sum(ops.exp(x));
    y.backward(undefined, { retainGraph: true });
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expectClose(x.grad!.value, [3 * Math.E, 3 * Math.exp(2)], { rtol: 1e-15 });
  });
});

describe('higher order with createGraph', () => {
  it('the gradient of x³ is 3x², and differentiating it again gives 6x', () => {
    const x = param([1, 2, -3]);
    ops.sum(ops.pow(x, 3)).backward(undefined, { createGraph: true });
    const g = x.grad!;
    expect(g.requiresGrad).toBe(true);
    expectClose(g.value, [3, 12, 27]);
    x.zeroGrad();
    ops.sum(g).backward();
    expectClose(x.grad!.value, [6, 12, -18]);
  });

  it('third derivative of sin through gradients(): −cos', () => {
    const x = param([0.4, -1.1]);
    const [g1] = gradients(ops.sum(ops.sin(x)), [x], { createGraph: true });
    const [g2] = gradients(ops.sum(g1!), [x], { createGraph: true });
    const [g3] = gradients(ops.sum(g2!), [x]);
    expectClose(g1!.value, [Math.cos(0.4), Math.cos(-1.1)]);
    expectClose(g2!.value, [-Math.sin(0.4), -Math.sin(-1.1)]);
    expectClose(g3!.value, [-Math.cos(0.4), -Math.cos(-1.1)]);
  });

  it('createGraph retains the graph for another backward by default', () => {
    const x = param([2]);
    const y = ops.sum(ops.square(x));
    y.backward(undefined, { createGraph: true });
    y.backward();
    expectClose(x.grad!.value, [8]);
  });

  it('without createGraph the gradient does not require grad', () => {
    const x = param([2]);
    const [g] = gradients(ops.sum(ops.square(x)), [x]);
    expect(g!.requiresGrad).toBe(false);
  });
});

describe('noGrad', () => {
  it('results computed inside do not require grad and keep no graph', () => {
    const x = param([1, 2]);
    const y = noGrad(() => ops.mul(x, x));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expectClose(y.value, [1, 4]);
    expect(() => ops.sum(y).backward()).toThrow(ValueError);
  });

  it('nests, and restores recording on return and on throw', () => {
    expect(isGradEnabled()).toBe(true);
    noGrad(() => {
      noGrad(() => expect(isGradEnabled()).toBe(false));
      expect(isGradEnabled()).toBe(false);
    });
    expect(isGradEnabled()).toBe(true);
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    expect(ops.mul(param([1]), 2).requiresGrad).toBe(true);
  });
});

describe('deep graphs', () => {
  it('a chain of 10 000 ops backpropagates without overflowing the stack', () => {
    const n = 10_000;
    const c = 1.0001;
    const x = param([1.5]);
    let y: Variable = x;
    for (let i = 0; i < n; i++) y = ops.mul(y, c);
    ops.sum(y).backward();
    // 10⁴ roundings of at most 2⁻⁵³ each on both sides: relative error below 10⁴·2⁻⁵² ≈ 2.2e-12.
    expectClose(y.value, [1.5 * c ** n], { rtol: 3e-12 });
    expectClose(x.grad!.value, [c ** n], { rtol: 3e-12 });
  });
});

describe('seeds', () => {
  it('a non-scalar output without a seed is a ShapeError', () => {
    const y = ops.mul(param([1, 2, 3]), 2);
    expect(() => y.backward()).toThrow(ShapeError);
    expect(() => y.backward()).toThrow(/^backward: the output has shape \[3\]/);
  });

  it('a seed of the wrong shape is a ShapeError naming both shapes', () => {
    const y = ops.mul(param([1, 2, 3]), 2);
    expect(() => y.backward(T.ones([2]))).toThrow(ShapeError);
    expect(() => y.backward(T.ones([3, 1]))).toThrow(
      /^backward: seed of shape \[3,1\] does not match the output's shape \[3\]/,
    );
  });

  it('a tensor, variable or number seed weights the output', () => {
    const x = param([1, 2, 3]);
    const y = ops.mul(x, x);
    y.backward(T.tensor([1, 10, 100]), { retainGraph: true });
    expectClose(x.grad!.value, [2, 40, 600]);
    x.zeroGrad();
    y.backward(variable([1, 0, -1]), { retainGraph: true });
    expectClose(x.grad!.value, [2, 0, -6]);
    x.zeroGrad();
    y.backward(0.5);
    expectClose(x.grad!.value, [1, 2, 3]);
  });

  it('backward of an output that does not require grad is a ValueError', () => {
    expect(() => ops.sum(variable([1, 2])).backward()).toThrow(ValueError);
    expect(() => ops.sum(variable([1, 2])).backward()).toThrow(/^backward: /);
  });
});

describe('dtypes', () => {
  it('a float32 leaf gets a float32 gradient', () => {
    const x = param([1, 2, 3], { dtype: 'float32' });
    ops.sum(ops.mul(x, x)).backward();
    expect(x.grad!.dtype).toBe('float32');
    expectClose(x.grad!.value, [2, 4, 6]);
  });

  it('a float32 leaf mixed with float64 gets its gradient cast back to float32', () => {
    const x = param([1, 2], { dtype: 'float32' });
    const w = param([0.1, 0.2]);
    const y = ops.sum(ops.mul(x, w));
    expect(y.dtype).toBe('float64');
    y.backward();
    expect(x.grad!.dtype).toBe('float32');
    expect(w.grad!.dtype).toBe('float64');
    expectClose(x.grad!.value, Float32Array.from([0.1, 0.2]));
    expectClose(w.grad!.value, [1, 2]);
  });

  // cast's own gradient: float32 rounding defeats finite differences, so it is checked here in
  // closed form on values exactly representable in float32 (table.test.ts points here).
  it('cast: the gradient returns to the input dtype, to second order', () => {
    const x = param([1, 2, -3]);
    const y = ops.cast(x, 'float32');
    expect(y.dtype).toBe('float32');
    expect(ops.cast(x, 'float64')).toBe(x);
    const [g] = gradients(ops.sum(ops.pow(y, 3)), [x], { createGraph: true });
    expect(g!.dtype).toBe('float64');
    expectClose(g!.value, [3, 12, 27]);
    const [h] = gradients(ops.sum(g!), [x]);
    expect(h!.dtype).toBe('float64');
    expectClose(h!.value, [6, 12, -18]);
  });
});

describe('Tensor operands are constants', () => {
  it('binary ops and matmul differentiate only the Variable operand', () => {
    const x = param([
      [1, 2],
      [3, 4],
    ]);
    const c = T.tensor([
      [5, 6],
      [7, 8],
    ]);
    const y = ops.sum(ops.add(ops.mul(x, c), ops.matmul(x, c)));
    const inputs = y.node!.inputs[0]!.node!.inputs;
    expect(inputs.map((v) => v.requiresGrad)).toEqual([true, true]);
    expect(inputs[0]!.node!.inputs.map((v) => v.requiresGrad)).toEqual([true, false]);
    y.backward();
    // d/dx sum(x∘c) = c; d/dx sum(x c) = 1 cᵀ (every row is the row sums of c).
    expectClose(
      x.grad!.value,
      T.tensor([
        [5 + 11, 6 + 15],
        [7 + 11, 8 + 15],
      ]),
    );
  });

  it('an op of Tensors only gives a constant', () => {
    const y = ops.exp(T.tensor([0, 1]));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expectClose(y.value, [1, Math.E], { rtol: 1e-15 });
  });
});

describe('gradients()', () => {
  it('differentiates with respect to interior variables, leaving .grad untouched', () => {
    const x = param([1, 2]);
    const h = ops.mul(x, 3);
    const y = ops.sum(ops.square(h));
    const [gh, gx] = gradients(y, [h, x]);
    expectClose(gh!.value, [6, 12]);
    expectClose(gx!.value, [18, 36]);
    expect(x.grad).toBeNull();
  });

  it('an input the output does not depend on gets zeros of its shape and dtype', () => {
    const x = param([1, 2]);
    const z = param([[1, 2, 3]], { dtype: 'float32' });
    const [gz] = gradients(ops.sum(x), [z]);
    expect(gz!.dtype).toBe('float32');
    expectClose(gz!.value, T.zeros([1, 3], { dtype: 'float32' }));
  });

  it('backward() is the same function as Variable.backward', () => {
    const x = param([2]);
    backward(ops.sum(ops.exp(x)));
    expectClose(x.grad!.value, [Math.exp(2)]);
  });
});
