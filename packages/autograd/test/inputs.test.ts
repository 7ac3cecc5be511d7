/**
 * Input validation of the autograd package: the shared argument coercion of the ops
 * (asVariable/asOperand), grad/valueAndGrad/vjp refusing a function that cut its graph, and
 * customOp naming itself when its backward returns the wrong thing. The adversarial battery
 * (test/adversarial/autograd-inputs.test.ts) covers these across every op; these pin messages.
 */
import { describe, expect, it } from 'vitest';
import * as T from '@hyperconn/tensor';
import { DTypeError, ShapeError, ValueError, type Tensor } from '@hyperconn/tensor';
import * as ops from '../src/ops';
import { customOp } from '../src/custom';
import { grad, valueAndGrad, vjp } from '../src/functional';
import { asOperand, asVariable, param, variable, Variable } from '../src/variable';

describe('argument coercion', () => {
  it('asVariable / asOperand accept what the ops document and name the op and argument otherwise', () => {
    const t = T.tensor([1]);
    const v = param([1]);
    expect(asVariable('op', v)).toBe(v);
    expect(asVariable('op', t).value).toBe(t);
    expect(asOperand('op', 2, 'b')).toBe(2);
    expect(() => asVariable('exp', 2)).toThrow(
      /^exp: expected a Variable or a Tensor, got number \(the number 2\) for argument x$/,
    );
    expect(() => asOperand('add', '1', 'b')).toThrow(
      /^add: expected a Variable, a Tensor or a number, got string \(the string "1"\) for argument b$/,
    );
  });

  it('every op family goes through it', () => {
    const x = param([
      [1, 2],
      [3, 4],
    ]);
    expect(() => ops.add(x, '1' as never)).toThrow(/^add: .* for argument b$/);
    expect(() => ops.exp(null as never)).toThrow(/^exp: .*got null for argument x$/);
    expect(() => ops.sum([1, 2] as never)).toThrow(/^sum: /);
    expect(() => ops.matmul(x, undefined as never)).toThrow(/^matmul: .* for argument b$/);
    expect(() => ops.inv({} as never)).toThrow(/^inv: .* for argument a$/);
    expect(() => ops.concat([x, 1 as never])).toThrow(/^concat: .* for argument xs\[1\]$/);
    expect(() => ops.eq(x, null as never)).toThrow(/^eq: /);
  });

  it('a Variable must hold a Tensor; variable() checks its dtype under its own name', () => {
    expect(() => new Variable([1, 2] as never)).toThrow(
      /^Variable: expected a Tensor, got object \(an array of length 2\) for argument value$/,
    );
    expect(() => variable([1], { dtype: 'int8' as never })).toThrow(DTypeError);
    expect(() => variable([1], { dtype: 'int8' as never })).toThrow(/^variable: dtype must be/);
    expect(variable(T.tensor([1]), { dtype: 'float32' }).dtype).toBe('float32');
    expect(() => ops.cast(param([1]), 'float16' as never)).toThrow(/^cast: dtype must be/);
  });
});

describe('grad, valueAndGrad, vjp of a function that cut the graph', () => {
  const x = (): Tensor => T.tensor([1, 2]);

  it('a Tensor result is a ValueError that says what happened and how to fix it (it was a silent zero)', () => {
    const f = (v: Variable): Variable => T.sum(T.mul(v.value, v.value)) as never;
    expect(() => grad(f)(x())).toThrow(ValueError);
    expect(() => grad(f)(x())).toThrow(
      /^grad: f returned a Tensor of shape \[\], not a Variable, so the graph from its arguments was cut .*build/,
    );
    expect(() => valueAndGrad(f)(x())).toThrow(/^valueAndGrad: f returned a Tensor/);
    expect(() => vjp(f, x())).toThrow(/^vjp: f returned a Tensor/);
  });

  it('a number result is a ValueError too (it was a TypeError reading join)', () => {
    const f = (v: Variable): Variable => ops.sum(v).item() as never;
    expect(() => grad(f)(x())).toThrow(/^grad: f returned the number 3, not a Variable/);
  });

  it('f, argnums, arguments and the cotangent are checked', () => {
    expect(() => grad(null as never)).toThrow(/^grad: expected a function, got null for argument f$/);
    expect(() => grad((v) => ops.sum(v), 'a' as never)).toThrow(/^grad: expected an integer or an array of integers/);
    expect(() => grad((v) => ops.sum(v))('x' as never)).toThrow(
      /^grad: expected a Variable or a Tensor, got string .* for argument 0$/,
    );
    const { vjp: pullback } = vjp((v) => ops.mul(v, 2), x());
    expect(() => pullback(T.ones([2, 1]))).toThrow(
      /^vjp: cotangent of shape \[2,1\] does not match the value's shape \[2\]$/,
    );
    expect(() => pullback(null as never)).toThrow(/^vjp: .* for argument cotangent$/);
  });

  it('a Variable that does not depend on the arguments still has a zero gradient (as JAX)', () => {
    const g = grad(() => variable([5]))(x());
    expect(Array.from(g.value.toTypedArray())).toEqual([0, 0]);
  });
});

describe('customOp', () => {
  const scale = (name: string, gradient: (g: Variable) => readonly unknown[]) =>
    customOp({ name, forward: (a) => T.mul(a, 2), backward: ((g: Variable) => gradient(g)) as never });

  it('a gradient of the wrong shape is a ShapeError naming the op and both shapes', () => {
    const bad = scale('doubler', () => [T.zeros([3])]);
    const x = param([1, 2]);
    const y = ops.sum(bad(x));
    expect(() => y.backward()).toThrow(ShapeError);
    const z = ops.sum(bad(param([1, 2])));
    expect(() => z.backward()).toThrow(
      new RegExp(
        String.raw`^doubler: backward returned a gradient of shape \[3\] for input 0 of shape \[2\]; ` +
          String.raw`it must have the input's shape \(or one the input broadcasts to\)$`,
      ),
    );
  });

  it('a gradient the input broadcasts to is summed back by the engine', () => {
    const lead = scale('lead', (g) => [ops.mul(ops.expand(g, [3, 2]), 2)]);
    const x = param([1, 2]);
    ops.sum(lead(x)).backward();
    expect(Array.from(x.grad!.value.toTypedArray())).toEqual([6, 6]);
  });

  it('bad definitions, outputs and gradients are ValueErrors naming the op', () => {
    expect(() => customOp({ name: '', forward: (a: Tensor) => a, backward: (g: Variable) => [g] })).toThrow(
      /^customOp: expected a non-empty string/,
    );
    expect(() => customOp({ name: 'f', forward: 1, backward: (g: Variable) => [g] } as never)).toThrow(
      /^customOp: expected a function, got number \(the number 1\) for argument def.forward$/,
    );
    const noArray = scale('noArray', () => 'g' as never);
    expect(() => ops.sum(noArray(param([1]))).backward()).toThrow(
      /^noArray: backward must return an array of gradients/,
    );
    const badGrad = scale('badGrad', () => [[1]]);
    expect(() => ops.sum(badGrad(param([1]))).backward()).toThrow(
      /^badGrad: expected a Variable or a Tensor, got object \(an array of length 1\) for argument gradient 0 from/,
    );
    const badForward = customOp({ name: 'badForward', forward: (() => [1]) as never, backward: (g: Variable) => [g] });
    expect(() => badForward(T.tensor([1]))).toThrow(
      /^badForward: forward must return a Tensor, got an array of length 1$/,
    );
  });
});
