/**
 * grad, valueAndGrad and vjp against closed forms: argnums, nesting to third order, repeated
 * vjp calls, and outputs that ignore an argument.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { ShapeError, type Tensor } from '@hyperconn/tensor';
import * as ops from '../src/ops';
import { grad, valueAndGrad, vjp } from '../src/functional';
import { noGrad, param, Variable } from '../src/variable';
import { anyTensorArb, tensorArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

const SMALL = { maxRank: 3, maxDim: 4 };
const map = (t: Tensor, f: (v: number) => number): Tensor =>
  T.tensor(Float64Array.from(t.toTypedArray(), f), { shape: t.shape });

/** Three same-shaped tensors. */
const tripleArb = fc
  .array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 })
  .chain((s) =>
    fc.tuple(
      tensorArb(s, 'float64', { min: -3, max: 3 }),
      tensorArb(s, 'float64', { min: -3, max: 3 }),
      tensorArb(s, 'float64', { min: -3, max: 3 }),
    ),
  );

describe('grad and valueAndGrad', () => {
  const f = (x: Variable): Variable => ops.sum(ops.mul(x, ops.sin(x)));

  it('d/dx Σ x·sin x = sin x + x·cos x', () => {
    fc.assert(
      fc.property(anyTensorArb(SMALL), (x) => {
        expectClose(
          grad(f)(x).value,
          map(x, (v) => Math.sin(v) + v * Math.cos(v)),
        );
      }),
    );
  });

  it('valueAndGrad returns the value and the same gradient', () => {
    fc.assert(
      fc.property(anyTensorArb(SMALL), (x) => {
        const { value, grad: g } = valueAndGrad(f)(x);
        const expected = Array.from(x.toTypedArray()).reduce((s, v) => s + v * Math.sin(v), 0);
        expectClose(value.value, [expected], { rtol: 1e-12, atol: 1e-12 * x.size });
        expectClose(g.value, grad(f)(x).value, { rtol: 0, atol: 0 });
      }),
    );
  });

  it('argnums: a single index or a list, in the order asked', () => {
    const h = (a: Variable, b: Variable, c: Variable): Variable => ops.sum(ops.add(ops.mul(a, b), ops.exp(c)));
    fc.assert(
      fc.property(tripleArb, ([a, b, c]) => {
        expectClose(grad(h, 1)(a, b, c).value, a);
        const [ga, gc] = grad(h, [0, 2])(a, b, c);
        expectClose(ga!.value, b);
        expectClose(gc!.value, T.exp(c));
        const { value, grad: gs } = valueAndGrad(h, [2, 0])(a, b, c);
        expectClose(value.value, T.sum(T.add(T.mul(a, b), T.exp(c))));
        expect(gs.length).toBe(2);
        expectClose(gs[0]!.value, T.exp(c));
        expectClose(gs[1]!.value, b);
      }),
    );
  });

  it('arguments not differentiated are constants, and .grad of a passed variable is untouched', () => {
    const x = param([1, 2]);
    const w = param([3, 4]);
    const g = grad((a: Variable, b: Variable) => ops.sum(ops.mul(a, ops.square(b))), 0)(x, w);
    expectClose(g.value, [9, 16]);
    expect(x.grad).toBeNull();
    expect(w.grad).toBeNull();
  });

  it('an output independent of an argument gives zeros of its shape', () => {
    const a = T.tensor([1, 2, 3]);
    const b = T.tensor([[4, 5]]);
    const [ga, gb] = grad((x: Variable, _y: Variable) => ops.sum(ops.square(x)), [0, 1])(a, b);
    expectClose(ga!.value, [2, 4, 6]);
    expectClose(gb!.value, T.zeros([1, 2]));
    const constant = grad((_x: Variable) => new Variable(T.scalar(3)))(a);
    expectClose(constant.value, T.zeros([3]));
  });

  it('computes the gradient inside noGrad too', () => {
    const g = noGrad(() => grad(f)(T.tensor([0.5, -1])));
    expectClose(
      g.value,
      [0.5, -1].map((v) => Math.sin(v) + v * Math.cos(v)),
    );
  });

  it('refuses an output with more than one element, and argnums out of range', () => {
    expect(() => grad((x: Variable) => ops.mul(x, 2))(T.tensor([1, 2]))).toThrow(ShapeError);
    expect(() => grad((x: Variable) => ops.mul(x, 2))(T.tensor([1, 2]))).toThrow(
      /^grad: f must return a single-element variable, got shape \[2\]/,
    );
    expect(() => grad((x: Variable) => ops.sum(x), 1)(T.tensor([1, 2]))).toThrow(T.IndexError);
  });
});

describe('nested grad: second and third derivatives', () => {
  const x0Arb = fc.double({ min: -3, max: 3, noNaN: true });

  it('polynomial x⁴ + 2x³: f″ = 12x² + 12x, f‴ = 24x + 12', () => {
    const f = (x: Variable): Variable => ops.add(ops.pow(x, 4), ops.mul(ops.pow(x, 3), 2));
    const d2 = grad(grad(f));
    const d3 = grad(grad(grad(f)));
    fc.assert(
      fc.property(x0Arb, (x) => {
        const t = T.scalar(x);
        expectClose(grad(f)(t).value, [4 * x ** 3 + 6 * x ** 2], { rtol: 1e-12, atol: 1e-12 });
        expectClose(d2(t).value, [12 * x * x + 12 * x], { rtol: 1e-12, atol: 1e-12 });
        expectClose(d3(t).value, [24 * x + 12], { rtol: 1e-12, atol: 1e-12 });
      }),
    );
  });

  it('tanh: f″ = −2t(1 − t²), f‴ = (6t² − 2)(1 − t²)', () => {
    const d2 = grad(grad(ops.tanh));
    const d3 = grad(grad(grad(ops.tanh)));
    fc.assert(
      fc.property(x0Arb, (x) => {
        const t = Math.tanh(x);
        expectClose(d2(T.scalar(x)).value, [-2 * t * (1 - t * t)], { rtol: 1e-12, atol: 1e-14 });
        expectClose(d3(T.scalar(x)).value, [(6 * t * t - 2) * (1 - t * t)], { rtol: 1e-12, atol: 1e-14 });
      }),
    );
  });

  it('on tensors: the sum of the inner gradient gives the Hessian diagonal of a separable f', () => {
    const f = (x: Variable): Variable => ops.sum(ops.mul(ops.exp(x), ops.cos(x)));
    const d2 = grad((x: Variable) => ops.sum(grad(f)(x)));
    fc.assert(
      fc.property(anyTensorArb({ maxRank: 2, maxDim: 3 }, 'float64', { min: -2, max: 2 }), (x) => {
        // (eˣ cos x)″ = −2 eˣ sin x
        expectClose(
          d2(x).value,
          map(x, (v) => -2 * Math.exp(v) * Math.sin(v)),
          { rtol: 1e-12, atol: 1e-12 },
        );
      }),
    );
  });
});

describe('vjp', () => {
  // y = tanh(x·w) with x [2,3] and w [3] broadcast: x̄ = c(1 − y²)·w, w̄ = Σ_rows c(1 − y²)·x.
  const f = (x: Variable, w: Variable): Variable => ops.tanh(ops.mul(x, w));
  const x = T.tensor([
    [0.1, -0.4, 0.7],
    [1.2, 0.3, -0.9],
  ]);
  const w = T.tensor([0.5, -1.5, 2]);
  const expected = (c: Tensor): [Tensor, Tensor] => {
    const y = T.tanh(T.mul(x, w));
    const inner = T.mul(c, T.sub(1, T.square(y)));
    return [T.mul(inner, w), T.sum(T.mul(inner, x), 0)];
  };

  it('returns the value and the closed-form vector-Jacobian product', () => {
    const { value, vjp: pullback } = vjp(f, x, w);
    expectClose(value.value, T.tanh(T.mul(x, w)));
    const c = T.tensor([
      [1, 2, 3],
      [-1, 0.5, 0],
    ]);
    const [gx, gw] = pullback(c);
    const [ex, ew] = expected(c);
    expect(gw!.shape).toEqual([3]);
    expectClose(gx!.value, ex, { rtol: 1e-14, atol: 1e-15 });
    expectClose(gw!.value, ew, { rtol: 1e-14, atol: 1e-15 });
  });

  it('can be called again: the same cotangent gives the same result, a number cotangent fills the shape', () => {
    const { vjp: pullback } = vjp(f, x, w);
    const c = T.tensor([
      [0.3, -2, 1],
      [4, 0.5, -1],
    ]);
    const first = pullback(c);
    const second = pullback(c);
    first.forEach((g, i) => {
      expectClose(second[i]!.value, g.value, { rtol: 0, atol: 0 });
    });
    const [gx, gw] = pullback(2);
    const [ex, ew] = expected(T.full([2, 3], 2));
    expectClose(gx!.value, ex, { rtol: 1e-14, atol: 1e-15 });
    expectClose(gw!.value, ew, { rtol: 1e-14, atol: 1e-15 });
  });

  it('a primal the output ignores gets zeros', () => {
    const { vjp: pullback } = vjp((a: Variable, _b: Variable) => ops.mul(a, 3), T.tensor([1, 2]), T.tensor([[5]]));
    const [ga, gb] = pullback(T.tensor([1, -1]));
    expectClose(ga!.value, [3, -3]);
    expectClose(gb!.value, T.zeros([1, 1]));
    const ignored = vjp((_a: Variable) => new Variable(T.ones([2])), T.tensor([[1, 2, 3]]));
    expectClose(ignored.vjp(T.ones([2]))[0]!.value, T.zeros([1, 3]));
  });

  it('works inside noGrad', () => {
    const c = T.ones([2, 3]);
    const [gx, gw] = noGrad(() => vjp(f, x, w).vjp(c));
    const [ex, ew] = expected(c);
    expectClose(gx!.value, ex, { rtol: 1e-14, atol: 1e-15 });
    expectClose(gw!.value, ew, { rtol: 1e-14, atol: 1e-15 });
  });
});
