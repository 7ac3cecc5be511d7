/**
 * Every differentiable op of the gradient table (ops.ts; the linear-algebra ops of ops-linalg.ts
 * are covered by linalg.test.ts): its forward value against an independent reference, and its
 * derivatives against finite differences (gradcheck, float64) to first and second order.
 * The cases live in op-cases.ts so table.test.ts can check that no op is missing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { Tensor, ValueError } from '@hyperconn/tensor';
import * as ops from '../src/ops';
import { gradients } from '../src/engine';
import { gradcheck } from '../src/gradcheck';
import { param, Variable } from '../src/variable';
import { expectClose } from '../../../test/support/assert';
import { caseOrder, OP_CASES, type AnyOpCase, type Instance } from './op-cases';

// Second-order checks differentiate a graph of the backward pass once per input element and
// evaluate it twice more per element: 25 runs each keep this file within its time budget.
const FIRST_ORDER_RUNS = 100;
const SECOND_ORDER_RUNS = 25;

/** Counter-examples print as shapes, values and parameters rather than raw storage. */
function printable(c: AnyOpCase): fc.Arbitrary<Instance<unknown>> {
  return c.inputsArb.map((inst) =>
    Object.assign({}, inst, {
      [fc.toStringMethod]: () =>
        `${c.name} (${c.variant}) params ${describeValue(inst.params)}, ` +
        `inputs ` +
        inst.inputs.map((t) => `[${t.shape.join(',')}] ${JSON.stringify(Array.from(t.toTypedArray()))}`).join('; '),
    }),
  );
}

function describeValue(v: unknown): string {
  if (v instanceof Tensor) return `tensor [${v.shape.join(',')}] ${JSON.stringify(Array.from(v.toTypedArray()))}`;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${k}: ${describeValue(x)}`)
      .join(', ')} }`;
  }
  return JSON.stringify(v) ?? String(v);
}

const run =
  (c: AnyOpCase, inst: Instance<unknown>) =>
  (...xs: Variable[]) =>
    c.fn(inst.params, ...xs);

describe.each(OP_CASES.map((c) => [`${c.name} (${c.variant})`, c] as const))('%s', (_, c) => {
  it('forward equals the reference', () => {
    fc.assert(
      fc.property(printable(c), (inst) => {
        const y = c.fn(inst.params, ...inst.inputs.map((t) => new Variable(t)));
        expectClose(y.value, c.reference(inst.params, ...inst.inputs));
        expect(y.requiresGrad).toBe(false);
      }),
    );
  });

  it('gradcheck, first order', () => {
    fc.assert(
      fc.property(printable(c), (inst) => gradcheck(run(c, inst), inst.inputs).ok),
      { numRuns: FIRST_ORDER_RUNS },
    );
  });

  if (caseOrder(c) === 2) {
    it('gradcheck, second order', () => {
      fc.assert(
        fc.property(printable(c), (inst) => gradcheck(run(c, inst), inst.inputs, { order: 2 }).ok),
        { numRuns: SECOND_ORDER_RUNS },
      );
    });
  }
});

// Rules at the points the property tests keep away from: kinks, ties and singularities.
describe('documented conventions at kinks and ties', () => {
  const gradOf = (f: (x: Variable) => Variable, x: Tensor): Tensor => {
    const v = param(x);
    return gradients(ops.sum(f(v)), [v])[0]!.value;
  };

  it('maximum and minimum split ties evenly between the operands', () => {
    const a = param([1, 2, 3]);
    const b = param([1, 0, 5]);
    const [ga, gb] = gradients(ops.sum(ops.maximum(a, b)), [a, b]);
    expectClose(ga!.value, [0.5, 1, 0]);
    expectClose(gb!.value, [0.5, 0, 1]);
    const [ha, hb] = gradients(ops.sum(ops.minimum(a, b)), [a, b]);
    expectClose(ha!.value, [0.5, 0, 1]);
    expectClose(hb!.value, [0.5, 1, 0]);
  });

  it('max and min share the gradient among tied extrema', () => {
    const x = T.tensor([
      [3, 1, 3],
      [2, 2, 2],
    ]);
    expectClose(
      gradOf((v) => ops.max(v, 1), x),
      [1 / 2, 0, 1 / 2, 1 / 3, 1 / 3, 1 / 3],
    );
    expectClose(
      gradOf((v) => ops.min(v, 0), x),
      [0, 1, 0, 1, 0, 1],
    );
  });

  it('abs and relu have gradient 0 at 0, clamp passes it at the bounds', () => {
    const x = T.tensor([-2, 0, 2]);
    expectClose(gradOf(ops.abs, x), [-1, 0, 1]);
    expectClose(gradOf(ops.relu, x), [0, 0, 1]);
    expectClose(
      gradOf((v) => ops.clamp(v, -2, 2), T.tensor([-3, -2, 0, 2, 3])),
      [0, 1, 1, 1, 0],
    );
  });

  it('norm has subgradient 0 at the origin; sqrt has gradient +∞ at 0', () => {
    expectClose(
      gradOf(
        (v) => ops.norm(v, 1),
        T.tensor([
          [0, 0],
          [3, 4],
        ]),
      ),
      [0, 0, 0.6, 0.8],
    );
    expectClose(gradOf(ops.sqrt, T.tensor([0, 4])), [Infinity, 0.25]);
  });

  it('pow: d/db at a = 0 is 0 (the limit for b > 0), for a tensor or a number base', () => {
    const a = param([0, 2]);
    const b = param([2, 3]);
    const [ga, gb] = gradients(ops.sum(ops.pow(a, b)), [a, b]);
    expectClose(ga!.value, [0, 12]);
    expectClose(gb!.value, [0, 8 * Math.log(2)]);
    const x = param([0.5, 2]);
    expectClose(gradients(ops.sum(ops.pow(0, x)), [x])[0]!.value, [0, 0]);
  });

  it('pow with exponent 0 has gradient 0 at a = 0 too, so aᵏ differentiates to 0 at 0', () => {
    const x = param([0, 2]);
    expectClose(gradients(ops.sum(ops.pow(x, 0)), [x])[0]!.value, [0, 0]);
    // d⁴/dx⁴ x³ = 0 everywhere; the fourth rule met is that of x⁰.
    let [g] = gradients(ops.sum(ops.pow(x, 3)), [x], { createGraph: true });
    for (const expected of [
      [0, 12],
      [6, 6],
      [0, 0],
    ]) {
      [g] = gradients(ops.sum(g!), [x], { createGraph: true });
      expectClose(g!.value, expected);
    }
  });

  it('prod with zeros: exact first derivative, second order refused', () => {
    const x = param([0, 2, 3]);
    expectClose(gradients(ops.prod(x), [x])[0]!.value, [6, 0, 0]);
    const y = param([0, 0, 3]);
    expectClose(gradients(ops.prod(y), [y])[0]!.value, [0, 0, 0]);
    expect(() => gradients(ops.prod(x), [x], { createGraph: true })).toThrow(ValueError);
    expect(() => gradients(ops.prod(x), [x], { createGraph: true })).toThrow(/^prod: /);
  });
});
