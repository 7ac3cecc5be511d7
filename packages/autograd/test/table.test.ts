/**
 * The invariant that keeps the gradient table honest: every function ops.ts exports (its own and
 * the linear-algebra ops of ops-linalg.ts) has metadata in the table (`OP_METADATA` in ops.ts,
 * `LINALG_OP_METADATA` in ops-linalg.ts), and every differentiable one is gradchecked in
 * ops.test.ts (its OP_CASES) or by the test file its metadata names. Adding an op without a
 * gradient test fails here. Also: the non-differentiable ops give constants with the tensor
 * kernels' values.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { broadcastShapes, type Tensor } from '@hyperconn/tensor';
import OP_METADATA, * as ops from '../src/ops';
import { LINALG_OP_METADATA } from '../src/ops-linalg';
import type { OpMetadata } from '../src/ops-table';
import { param, type Variable } from '../src/variable';
import { broadcastablePairArb, shapeArb, tensorArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';
import { caseOrder, GRADCHECKED_OPS, OP_CASES } from './op-cases';

/** The metadata of the whole table, by op name. */
const METADATA: Readonly<Record<string, OpMetadata>> = { ...OP_METADATA, ...LINALG_OP_METADATA };

const exportedFunctions = Object.entries(ops)
  .filter(([, v]) => typeof v === 'function')
  .map(([name]) => name)
  .sort();
const nonDifferentiable: readonly string[] = ops.NON_DIFFERENTIABLE;
const differentiable = exportedFunctions.filter((name) => (METADATA[name]?.maxOrder ?? 0) > 0);

describe('every exported op is accounted for', () => {
  it('each function of ops.ts has metadata in the table; each entry is an exported function (none stale)', () => {
    expect(exportedFunctions.filter((name) => METADATA[name] === undefined)).toEqual([]);
    expect(Object.keys(METADATA).filter((name) => !exportedFunctions.includes(name))).toEqual([]);
  });

  it('the metadata of ops.ts and ops-linalg.ts do not overlap', () => {
    expect(Object.keys(OP_METADATA).filter((name) => name in LINALG_OP_METADATA)).toEqual([]);
  });

  it('each differentiable op has a gradient test: a case in OP_CASES, or the test file its metadata names', () => {
    expect(
      differentiable.filter((name) => !GRADCHECKED_OPS.has(name) && METADATA[name]!.gradientTest === undefined),
    ).toEqual([]);
  });

  it('OP_CASES hold only exported differentiable ops whose metadata names no other test file', () => {
    const misplaced = [...GRADCHECKED_OPS].filter(
      (name) => !differentiable.includes(name) || METADATA[name]!.gradientTest !== undefined,
    );
    expect(misplaced).toEqual([]);
  });

  it('non-differentiable ops (maxOrder 0) are exactly NON_DIFFERENTIABLE, with no gradient test named', () => {
    const zero = Object.keys(METADATA).filter((name) => METADATA[name]!.maxOrder === 0);
    expect(zero.sort()).toEqual([...nonDifferentiable].sort());
    expect(zero.filter((name) => METADATA[name]!.gradientTest !== undefined)).toEqual([]);
  });

  it('each op with cases is gradchecked to its maxOrder by some case, and no case goes beyond it', () => {
    for (const c of OP_CASES)
      expect(c.maxOrder ?? 2, `${c.name} (${c.variant})`).toBeLessThanOrEqual(METADATA[c.name]!.maxOrder);
    const reached = [...GRADCHECKED_OPS].filter(
      (name) => Math.max(...OP_CASES.filter((c) => c.name === name).map(caseOrder)) !== METADATA[name]!.maxOrder,
    );
    expect(reached).toEqual([]);
  });

  it('the test file named in the metadata exercises each op it covers', () => {
    const missing = Object.entries(METADATA).filter(([name, m]) => {
      if (m.gradientTest === undefined) return false;
      const source = readFileSync(new URL(`./${m.gradientTest.file}`, import.meta.url), 'utf8');
      return !new RegExp(`\\b${name}\\(`).test(source);
    });
    expect(missing.map(([name]) => name)).toEqual([]);
  });

  it('each case runs the op it is named after (its node is in the graph, or its metadata says composite)', () => {
    for (const c of OP_CASES) {
      const [inst] = fc.sample(c.inputsArb, { numRuns: 1, seed: 1 });
      const y = c.fn(inst!.params, ...inst!.inputs.map((t) => param(t)));
      const recorded = opsInGraph(y);
      if (!recorded.has(c.name)) {
        expect(
          METADATA[c.name]!.composite,
          `${c.name} (${c.variant}) recorded only ${[...recorded].join(', ')}`,
        ).toBeDefined();
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
  const ints = (s: number[]): fc.Arbitrary<Tensor> =>
    tensorArb(s, 'float64', { min: -2, max: 2 }).map((t) =>
      T.tensor(Float64Array.from(t.toTypedArray(), Math.round), { shape: t.shape }),
    );

  it('NON_DIFFERENTIABLE lists exactly sign, the comparisons, argmax and argmin', () => {
    expect([...nonDifferentiable].sort()).toEqual(
      ['argmax', 'argmin', 'eq', 'ge', 'gt', 'le', 'lt', 'ne', 'sign'].sort(),
    );
  });

  it.each(comparisons)('%s on broadcastable pairs and with a number on either side', (name) => {
    fc.assert(
      fc.property(
        broadcastablePairArb({ maxRank: 3, maxDim: 3 }).chain(([a, b]) =>
          fc.tuple(ints(a), ints(b), fc.integer({ min: -2, max: 2 })),
        ),
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
      fc.property(
        shapeArb({ maxRank: 3, maxDim: 3 }).chain((s) => ints(s)),
        (x) => {
          const y = ops.sign(param(x));
          expect(y.requiresGrad).toBe(false);
          expectClose(y.value, T.sign(x), { rtol: 0, atol: 0 });
        },
      ),
    );
  });

  it.each(['argmax', 'argmin'] as const)('%s over any axis, keepDims or not', (name) => {
    fc.assert(
      fc.property(
        shapeArb({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 3 }).chain((s) =>
          fc.tuple(
            ints(s),
            fc.option(fc.integer({ min: -s.length, max: s.length - 1 }), { nil: undefined }),
            fc.boolean(),
          ),
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
