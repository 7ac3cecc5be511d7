/**
 * The invariant that keeps the gradient table honest: every function ops.ts exports is
 * gradchecked in ops.test.ts (its OP_CASES), declared non-differentiable, covered by
 * linalg.test.ts, or listed below with the reason it needs no case of its own. Adding an op
 * without a gradient test fails here. Also: the non-differentiable ops give constants with
 * the tensor kernels' values.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { broadcastShapes, type Tensor } from '@hyperconn/tensor';
import * as ops from '../src/ops';
import { param, type Variable } from '../src/variable';
import { broadcastablePairArb, shapeArb, tensorArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';
import { GRADCHECKED_OPS, OP_CASES } from './op-cases';

/** Differentiable exports without a case in OP_CASES, and why. */
const COVERED_ELSEWHERE: Readonly<Record<string, string>> = {
  cast: 'float32 rounding defeats finite differences; engine.test.ts checks its gradient (dtype round trip, second order) in closed form',
};

/** The linear-algebra section of ops.ts: gradchecked by linalg.test.ts (checked below to mention each). */
const LINALG = ['solve', 'inv', 'det', 'slogdet', 'qr', 'eigh', 'svd', 'expm', 'matrixNorm', 'trace'];

/** Cases whose op builds its result from other ops, so no graph node carries its own name. */
const COMPOSITES: Readonly<Record<string, string>> = {
  squeeze: 'a reshape',
  unsqueeze: 'a reshape',
  flatten: 'a reshape',
  transpose: 'a permute',
  sumToShape: 'a sum and a reshape',
  stack: 'unsqueezes and a concat',
  split: 'slices',
  variance: 'mean, sub, square, sum, div',
  logSoftmax: 'sub (of the detached max), logsumexp and sub',
  softmax: "logSoftmax's ops and exp",
};

const exportedFunctions = Object.entries(ops)
  .filter(([, v]) => typeof v === 'function')
  .map(([name]) => name)
  .sort();
const nonDifferentiable: readonly string[] = ops.NON_DIFFERENTIABLE;

describe('every exported op is accounted for', () => {
  it('each function of ops.ts has a gradient test or a stated reason', () => {
    const accounted = new Set([...GRADCHECKED_OPS, ...nonDifferentiable, ...LINALG, ...Object.keys(COVERED_ELSEWHERE)]);
    expect(exportedFunctions.filter((name) => !accounted.has(name))).toEqual([]);
  });

  it('every listed name is an exported function (no stale entries)', () => {
    const listed = [...GRADCHECKED_OPS, ...nonDifferentiable, ...LINALG, ...Object.keys(COVERED_ELSEWHERE), ...Object.keys(COMPOSITES)];
    expect(listed.filter((name) => !exportedFunctions.includes(name))).toEqual([]);
  });

  it('no op is in two of the lists', () => {
    const lists = [[...GRADCHECKED_OPS], [...nonDifferentiable], LINALG, Object.keys(COVERED_ELSEWHERE)];
    const seen = lists.flat();
    expect(seen.filter((name, i) => seen.indexOf(name) !== i)).toEqual([]);
  });

  it('linalg.test.ts exercises every linear-algebra op', () => {
    const source = readFileSync(new URL('./linalg.test.ts', import.meta.url), 'utf8');
    expect(LINALG.filter((name) => !new RegExp(`\\b${name}\\(`).test(source))).toEqual([]);
  });

  it('each case runs the op it is named after (its node is in the graph, or the op is a listed composite)', () => {
    for (const c of OP_CASES) {
      const [inst] = fc.sample(c.inputsArb, { numRuns: 1, seed: 1 });
      const y = c.fn(inst!.params, ...inst!.inputs.map((t) => param(t)));
      const recorded = opsInGraph(y);
      if (!recorded.has(c.name)) {
        expect(COMPOSITES[c.name], `${c.name} (${c.variant}) recorded only ${[...recorded].join(', ')}`).toBeDefined();
      }
    }
  });
});

/** The names of the ops recorded in the graph below `y`. */
function opsInGraph(y: Variable): Set<string> {
  const names = new Set<string>();
  const stack = [y];
  const seen = new Set<Variable>();
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v) || v.node === null) continue;
    seen.add(v);
    names.add(v.node.op);
    stack.push(...v.node.inputs);
  }
  return names;
}

describe('non-differentiable ops give constants equal to the kernels', () => {
  const comparisons = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
  // Small integers make ties (where eq/le/ge differ from lt/gt) frequent.
  const ints = (s: number[]): fc.Arbitrary<Tensor> => tensorArb(s, 'float64', { min: -2, max: 2 }).map((t) => T.tensor(Float64Array.from(t.toTypedArray(), Math.round), { shape: t.shape }));

  it('NON_DIFFERENTIABLE lists exactly sign, the comparisons, argmax and argmin', () => {
    expect([...nonDifferentiable].sort()).toEqual(['argmax', 'argmin', 'eq', 'ge', 'gt', 'le', 'lt', 'ne', 'sign'].sort());
  });

  it.each(comparisons)('%s on broadcastable pairs and with a number on either side', (name) => {
    fc.assert(
      fc.property(
        broadcastablePairArb({ maxRank: 3, maxDim: 3 }).chain(([a, b]) => fc.tuple(ints(a), ints(b), fc.integer({ min: -2, max: 2 }))),
        ([a, b, c]) => {
          const va = param(a);
          const vb = param(b);
          const cases: [Variable, Tensor][] = [
            [ops[name](va, vb), T[name](a, b)],
            [ops[name](va, c), T[name](a, c)],
            [ops[name](c, vb), T[name](c, b)],
            [ops[name](a, vb), T[name](a, b)],
          ];
          for (const [y, expected] of cases) {
            expect(y.requiresGrad).toBe(false);
            expect(y.node).toBeNull();
            expectClose(y.value, expected, { rtol: 0, atol: 0 });
          }
          expect(cases[0]![0].shape).toEqual(broadcastShapes(name, a.shape, b.shape));
        },
      ),
    );
  });

  it('sign', () => {
    fc.assert(
      fc.property(shapeArb({ maxRank: 3, maxDim: 3 }).chain((s) => ints(s)), (x) => {
        const y = ops.sign(param(x));
        expect(y.requiresGrad).toBe(false);
        expectClose(y.value, T.sign(x), { rtol: 0, atol: 0 });
      }),
    );
  });

  it.each(['argmax', 'argmin'] as const)('%s over any axis, keepDims or not', (name) => {
    fc.assert(
      fc.property(
        shapeArb({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 3 }).chain((s) =>
          fc.tuple(ints(s), fc.option(fc.integer({ min: -s.length, max: s.length - 1 }), { nil: undefined }), fc.boolean()),
        ),
        ([x, axis, keepDims]) => {
          const y = ops[name](param(x), axis, keepDims);
          expect(y.requiresGrad).toBe(false);
          expectClose(y.value, T[name](x, axis, keepDims), { rtol: 0, atol: 0 });
        },
      ),
    );
  });

  it('a mask from a comparison stops the gradient: d/dx Σ x·(x > 0) is the mask', () => {
    const x = param([-1, 2, 0, 3]);
    ops.sum(ops.mul(x, ops.gt(x, 0))).backward();
    expectClose(x.grad!.value, [0, 1, 0, 1]);
  });
});
