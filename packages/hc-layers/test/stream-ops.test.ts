/**
 * The fused stream products (`readStreams`, `writeStreams`) against their composed references
 * and a naive loop: values and gradients of every input for random cotangents, float64 to 1e-12
 * and float32, over random token shapes, n and C; inputs that are views (expanded maps, a
 * permuted state); inputs that need no gradient; gradchecks to second order and the second
 * order against the reference's.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import type { DType, Tensor } from '@hyperconn/tensor';
import { type Variable, grad, gradcheck, mul, param, sum, variable, vjp } from '@hyperconn/autograd';
import { readStreams, readStreamsReference, writeStreams, writeStreamsReference } from '../src/variants/stream-ops.js';

/** max |a − b| / max(1, max|b|), in float64. */
function relativeError(a: Tensor, b: Tensor): number {
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  expect(a.shape).toEqual(b.shape);
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < x.length; i++) {
    worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return worst / scale;
}

/** Each tensor of `actual` within `tol` (relativeError) of the one at its index in `expected`. */
function expectClose(actual: Tensor[], expected: Tensor[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) expect(relativeError(actual[i]!, expected[i]!)).toBeLessThan(tol);
}

interface Case {
  lead: number[];
  n: number;
  dim: number;
  seed: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
  n: fc.integer({ min: 1, max: 6 }),
  dim: fc.integer({ min: 1, max: 9 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/** hPre, x, hRes, hPost, y and the two cotangents for one case. */
function draw(c: Case, dtype: DType) {
  const rng = new T.Random(c.seed);
  const normal = (shape: number[]) => rng.normal(shape, { dtype });
  return {
    hPre: normal([...c.lead, c.n]),
    x: normal([...c.lead, c.n, c.dim]),
    hRes: normal([...c.lead, c.n, c.n]),
    hPost: normal([...c.lead, c.n]),
    y: normal([...c.lead, c.dim]),
    readCot: normal([...c.lead, c.dim]),
    writeCot: normal([...c.lead, c.n, c.dim]),
  };
}

/** The value and every input's gradient of `f` at `inputs` for the cotangent. */
function valueAndGrads(f: (...v: Variable[]) => Variable, inputs: Tensor[], cot: Tensor): Tensor[] {
  const { value, vjp: pullback } = vjp(f, ...inputs);
  return [value.value, ...pullback(cot).map((g) => g.value)];
}

/** u and X' by plain loops over tokens, streams and channels (float64). */
function naive(c: Case, d: ReturnType<typeof draw>): { u: Float64Array; out: Float64Array } {
  const tokens = c.lead.reduce((a, b) => a * b, 1);
  const [hPre, x, hRes, hPost, y] = [d.hPre, d.x, d.hRes, d.hPost, d.y].map((t) => t.toTypedArray());
  const { n, dim } = c;
  const u = new Float64Array(tokens * dim);
  const out = new Float64Array(tokens * n * dim);
  for (let t = 0; t < tokens; t++) {
    for (let ch = 0; ch < dim; ch++) {
      for (let j = 0; j < n; j++) u[t * dim + ch]! += hPre![t * n + j]! * x![(t * n + j) * dim + ch]!;
      for (let i = 0; i < n; i++) {
        let acc = hPost![t * n + i]! * y![t * dim + ch]!;
        for (let j = 0; j < n; j++) acc += hRes![(t * n + i) * n + j]! * x![(t * n + j) * dim + ch]!;
        out[(t * n + i) * dim + ch] = acc;
      }
    }
  }
  return { u, out };
}

describe('fused stream products = the composed references', () => {
  it('float64: values equal a naive loop; values and every gradient equal the reference to 1e-12', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const d = draw(c, 'float64');
        const loops = naive(c, d);
        const readIn = [d.hPre, d.x];
        const writeIn = [d.hRes, d.x, d.hPost, d.y];
        const readFused = valueAndGrads(readStreams, readIn, d.readCot);
        const writeFused = valueAndGrads(writeStreams, writeIn, d.writeCot);
        expect(relativeError(readFused[0]!, T.tensor(loops.u, { shape: [...c.lead, c.dim] }))).toBeLessThan(1e-12);
        expect(relativeError(writeFused[0]!, T.tensor(loops.out, { shape: d.x.shape }))).toBeLessThan(1e-12);
        const readRef = valueAndGrads(readStreamsReference, readIn, d.readCot);
        const writeRef = valueAndGrads(writeStreamsReference, writeIn, d.writeCot);
        expectClose(readFused, readRef, 1e-12);
        expectClose(writeFused, writeRef, 1e-12);
      }),
      { numRuns: 40 },
    );
  });

  it('float32: float32 results within float32 rounding of the float64 reference', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const d32 = draw(c, 'float32');
        const as64 = (ts: Tensor[]) => ts.map((t) => t.astype('float64'));
        const read32 = valueAndGrads(readStreams, [d32.hPre, d32.x], d32.readCot);
        const write32 = valueAndGrads(writeStreams, [d32.hRes, d32.x, d32.hPost, d32.y], d32.writeCot);
        for (const t of [...read32, ...write32]) expect(t.dtype).toBe('float32');
        const read64 = valueAndGrads(readStreamsReference, as64([d32.hPre, d32.x]), d32.readCot.astype('float64'));
        const write64 = valueAndGrads(
          writeStreamsReference,
          as64([d32.hRes, d32.x, d32.hPost, d32.y]),
          d32.writeCot.astype('float64'),
        );
        // sums of ≤ 10 products of standard normals, accumulated in float64, rounded once
        expectClose(
          read32.map((t) => t.astype('float64')),
          read64,
          1e-6,
        );
        expectClose(
          write32.map((t) => t.astype('float64')),
          write64,
          1e-6,
        );
      }),
      { numRuns: 25 },
    );
  });

  it('views: expanded maps and a permuted state give the same values and gradients as copies', () => {
    const rng = new T.Random(3);
    const [b, s, n, dim] = [2, 3, 4, 5];
    // one static map for every token, as a switched-off or static layer passes it
    const hResOne = rng.normal([n, n]);
    const hPostOne = rng.normal([n]);
    const xPermuted = rng.normal([b, n, s, dim]).permute([0, 2, 1, 3]);
    const y = rng.normal([b, s, dim]);
    const cot = rng.normal([b, s, n, dim]);
    const viaViews = (h: Variable, x: Variable, p: Variable, yy: Variable) =>
      writeStreams(h.expand([b, s, n, n]), x, p.expand([b, s, n]), yy);
    const viaCopies = (h: Variable, x: Variable, p: Variable, yy: Variable) =>
      writeStreamsReference(h.expand([b, s, n, n]), x, p.expand([b, s, n]), yy);
    const fused = valueAndGrads(viaViews, [hResOne, xPermuted, hPostOne, y], cot);
    const reference = valueAndGrads(viaCopies, [hResOne, xPermuted.contiguous(), hPostOne, y], cot);
    expect(fused[1]!.shape).toEqual([n, n]); // summed back over the tokens
    expectClose(fused, reference, 1e-12);
    const hPre = rng.normal([n]);
    const readCot = rng.normal([b, s, dim]);
    const readFused = valueAndGrads((h, x) => readStreams(h.expand([b, s, n]), x), [hPre, xPermuted], readCot);
    const readRef = valueAndGrads((h, x) => readStreamsReference(h.expand([b, s, n]), x), [hPre, xPermuted], readCot);
    expectClose(readFused, readRef, 1e-12);
  });

  it('an input that needs no gradient gets none; the others are unchanged', () => {
    const rng = new T.Random(4);
    const [hRes, hPost] = [param(rng.normal([2, 3, 3])), param(rng.normal([2, 3]))];
    const x = variable(rng.normal([2, 3, 4]));
    const y = variable(rng.normal([2, 4]));
    const cot = rng.normal([2, 3, 4]);
    sum(mul(writeStreams(hRes, x, hPost, y), cot)).backward();
    expect(x.grad).toBeNull();
    expect(y.grad).toBeNull();
    const hRes2 = param(hRes.value);
    const hPost2 = param(hPost.value);
    sum(mul(writeStreamsReference(hRes2, x, hPost2, y), cot)).backward();
    expect(relativeError(hRes.grad!.value, hRes2.grad!.value)).toBeLessThan(1e-12);
    expect(relativeError(hPost.grad!.value, hPost2.grad!.value)).toBeLessThan(1e-12);
  });

  it('n = 4 (its own kernels): values and the gradients asked for equal the reference, for every subset', () => {
    const rng = new T.Random(6);
    const [b, s, n, dim] = [2, 5, 4, 7];
    const tensors = [
      rng.normal([b, s, n, n]),
      rng.normal([b, s, n, dim]),
      rng.normal([b, s, n]),
      rng.normal([b, s, dim]),
    ];
    const cot = rng.normal([b, s, n, dim]);
    for (let mask = 0; mask < 16; mask++) {
      const run = (write: typeof writeStreams) => {
        const inputs = tensors.map((t, i) => ((mask >> i) & 1 ? param(t) : variable(t)));
        const out = write(...(inputs as [Variable, Variable, Variable, Variable]));
        if (mask !== 0) sum(mul(out, cot)).backward();
        return [out.value, ...inputs.map((v) => v.grad?.value ?? null)];
      };
      const fused = run(writeStreams);
      const reference = run(writeStreamsReference);
      fused.forEach((t, i) => {
        if (reference[i] === null) expect(t).toBeNull();
        else expect(relativeError(t!, reference[i]!)).toBeLessThan(1e-12);
      });
    }
  });

  it('gradcheck to second order, and the second order equals the reference second order', () => {
    const rng = new T.Random(5);
    const inputs = [rng.normal([2, 3, 3]), rng.normal([2, 3, 4]), rng.normal([2, 3]), rng.normal([2, 4])];
    expect(gradcheck(writeStreams, inputs, { order: 2 }).ok).toBe(true);
    expect(gradcheck(readStreams, [rng.normal([2, 3]), rng.normal([2, 3, 4])], { order: 2 }).ok).toBe(true);
    // h(x) = ⟨∇_x ⟨X'(H_res, x, …)², W⟩, V⟩, differentiated once more: through the recorded backward
    const w = rng.normal([2, 3, 4]);
    const v = rng.normal([2, 3, 4]);
    const hOf = (write: typeof writeStreams) => (x: Variable) =>
      sum(
        mul(
          grad((z: Variable) => {
            const out = write(mul(z.sum(-1).unsqueeze(-1), inputs[0]!), z, variable(inputs[2]!), variable(inputs[3]!));
            return sum(mul(mul(out, out), w));
          })(x),
          v,
        ),
      );
    const fused = grad(hOf(writeStreams))(inputs[1]!).value;
    const reference = grad(hOf(writeStreamsReference))(inputs[1]!).value;
    expect(relativeError(fused, reference)).toBeLessThan(1e-12);
  });
});
