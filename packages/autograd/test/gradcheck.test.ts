/**
 * gradcheck as an oracle: it must pass on correct derivatives and fail, with a report naming
 * the worst element, on wrong ones (first order, and second order only), and refuse inputs it
 * cannot judge. customOp's two styles of backward are checked along the way.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { DTypeError, type Tensor } from '@hyperconn/tensor';
import * as ops from '../src/ops';
import { customOp } from '../src/custom';
import { gradcheck, GradcheckError, type GradcheckReport } from '../src/gradcheck';
import type { Variable } from '../src/variable';
import { anyTensorArb, tensorArb } from '../../../test/support/arbitraries';

/** exp with a backward that is off by a factor: the classic wrong rule. */
const wrongExp = customOp({
  name: 'wrongExp',
  forward: (x) => T.exp(x),
  backward: (g, _inputs, y) => [ops.mul(ops.mul(g, y), 2)],
});

/** x² whose backward is right in value but built from tensors: a constant, so its own derivative is 0, not 2. */
const squareConstantBackward = customOp({
  name: 'squareConstantBackward',
  forward: (x) => T.square(x),
  backward: (g, [x]) => [T.mul(g.value, T.mul(x!.value, 2))],
});

/** sin·cos of two inputs with a backward in differentiable ops: supports any order. */
const sinCos = customOp({
  name: 'sinCos',
  forward: (a, b) => T.mul(T.sin(a), T.cos(b)),
  backward: (g, [a, b]) => [
    ops.mul(g, ops.mul(ops.cos(a!), ops.cos(b!))),
    ops.neg(ops.mul(g, ops.mul(ops.sin(a!), ops.sin(b!)))),
  ],
});

/** 1 to 6 distinct multiples of 1/8 in [−2, 2], so the largest (where |2eˣ − eˣ| peaks) is unique. */
const distinctValuesArb = fc
  .uniqueArray(fc.integer({ min: -16, max: 16 }), { minLength: 1, maxLength: 6 })
  .map((ks) => T.tensor(Float64Array.from(ks, (k) => k / 8)));

function failureOf(fn: () => unknown): GradcheckReport {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GradcheckError);
    return (e as GradcheckError).report;
  }
  throw new Error('expected gradcheck to throw');
}

describe('passes on correct derivatives', () => {
  it('ops composed with broadcasting, to second order', () => {
    const f = (a: Variable, b: Variable): Variable => ops.sum(ops.mul(ops.tanh(ops.matmul(a, b)), ops.exp(a)), -1);
    const a = T.tensor([
      [0.2, -0.5],
      [1.1, 0.3],
    ]);
    const b = T.tensor([
      [0.7, -1.2],
      [0.4, 0.9],
    ]);
    const report = gradcheck(f, [a, b], { order: 2 });
    expect(report).toMatchObject({ ok: true, order: 2, worst: null });
    expect(report.message).toBe('gradcheck: order 2 ok');
  });

  it('a customOp with a Variable-based backward, to third order', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 })
          .chain((s) =>
            fc.tuple(tensorArb(s, 'float64', { min: -3, max: 3 }), tensorArb(s, 'float64', { min: -3, max: 3 })),
          ),
        ([a, b]) => gradcheck((x, y) => sinCos(x, y), [a, b], { order: 3 }).ok,
      ),
      // Third order differentiates a twice-recorded backward once per element: 25 runs suffice.
      { numRuns: 25 },
    );
  });
});

describe('fails on wrong derivatives, naming the worst element', () => {
  it('a backward off by a factor 2 fails at first order with analytic 2eˣ vs numeric eˣ at the largest x', () => {
    fc.assert(
      fc.property(distinctValuesArb, (x) => {
        const report = failureOf(() => gradcheck((v) => wrongExp(v), [x]));
        const values = Array.from(x.toTypedArray());
        const xmax = Math.max(...values);
        expect(report.ok).toBe(false);
        expect(report.order).toBe(1);
        const worst = report.worst!;
        expect(worst.check).toBe('jacobian');
        expect(worst.input).toBe(0);
        expect(values[worst.index]).toBe(xmax);
        expect(worst.output).toBe(worst.index);
        expect(worst.analytic).toBeCloseTo(2 * Math.exp(xmax), 12);
        expect(Math.abs(worst.numeric - Math.exp(xmax))).toBeLessThan(1e-7);
        expect(report.message).toMatch(
          new RegExp(
            `^gradcheck: order-1 derivative of output element ${worst.output} with respect to input ` +
              `0 \\(shape \\[${x.shape.join(',')}\\]\\) element ${worst.index}: analytic .* numeric `,
          ),
        );
      }),
      { numRuns: 50 },
    );
  });

  it('a wrong cross-term is caught for the right input', () => {
    const wrongSecond = customOp({
      name: 'wrongSecond',
      forward: (a, b) => T.mul(a, b),
      backward: (g, [a, b]) => [ops.mul(g, b!), ops.mul(g, ops.neg(a!))],
    });
    const report = failureOf(() => gradcheck((a, b) => wrongSecond(a, b), [T.tensor([1, 2]), T.tensor([3, 4])]));
    expect(report.worst).toMatchObject({ check: 'jacobian', input: 1, index: 1, output: 1, analytic: -2 });
    expect(report.worst!.numeric).toBeCloseTo(2, 8);
  });

  it('a backward built from constant tensors passes first order and fails second order', () => {
    fc.assert(
      fc.property(
        anyTensorArb({ minRank: 1, maxRank: 2, minDim: 1, maxDim: 3 }, 'float64', { min: -2, max: 2 }),
        (x) => {
          const f = (v: Variable): Variable => squareConstantBackward(v);
          expect(gradcheck(f, [x]).ok).toBe(true);
          const report = failureOf(() => gradcheck(f, [x], { order: 2 }));
          expect(report.order).toBe(2);
          // The true second derivative of Σ vᵢ xᵢ² is 2vᵢ on the diagonal; the constant backward says 0.
          expect(report.worst).toMatchObject({ check: 'jacobian', input: 0, analytic: 0 });
          expect(report.worst!.output).toBe(report.worst!.index);
          expect(Math.abs(report.worst!.numeric)).toBeGreaterThan(1e-5);
          expect(report.message).toMatch(/^gradcheck: order-2 derivative/);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('raise: false returns the failed report instead of throwing', () => {
    const report = gradcheck((v) => wrongExp(v), [T.tensor([0, 1])], { raise: false });
    expect(report.ok).toBe(false);
    expect(report.worst).toMatchObject({ index: 1, analytic: 2 * Math.E });
    expect(report.message).toMatch(/analytic .* numeric /);
  });

  it('tolerances decide: an error of 1e-4 relative fails the default rtol 1e-5 and passes rtol 1e-3', () => {
    const slightlyWrong = customOp({
      name: 'slightlyWrong',
      forward: (x) => T.mul(x, 3),
      backward: (g) => [ops.mul(g, 3 * (1 + 1e-4))],
    });
    const x: Tensor = T.tensor([1, -2, 0.5]);
    expect(gradcheck((v) => slightlyWrong(v), [x], { raise: false }).ok).toBe(false);
    expect(gradcheck((v) => slightlyWrong(v), [x], { rtol: 1e-3 }).ok).toBe(true);
  });
});

describe('refusals', () => {
  it('float32 inputs are a DTypeError: finite differences need float64', () => {
    const x = T.tensor([1, 2], { dtype: 'float32' });
    expect(() => gradcheck((v) => ops.exp(v), [x])).toThrow(DTypeError);
    expect(() => gradcheck((v) => ops.exp(v), [T.tensor([1]), x])).toThrow(/^gradcheck: input 1 is float32/);
  });

  it('the order must be a positive integer', () => {
    expect(() => gradcheck((v) => ops.exp(v), [T.tensor([1])], { order: 0 })).toThrow(T.ValueError);
    expect(() => gradcheck((v) => ops.exp(v), [T.tensor([1])], { order: 1.5 })).toThrow(T.ValueError);
  });

  it('a customOp backward with the wrong number of gradients is a ValueError naming the op', () => {
    const bad = customOp({ name: 'bad', forward: (a, b) => T.add(a, b), backward: (g) => [g] });
    expect(() => gradcheck((a, b) => bad(a, b), [T.tensor([1]), T.tensor([2])])).toThrow(
      /^bad: backward returned 1 gradients for 2 inputs/,
    );
  });
});
