/**
 * The fused constraint maps against their composed references (the specification): values and
 * vector-Jacobian products with random cotangents over random shapes, batch sizes, n, logit
 * spreads (up to spreads that send matrices down the log-domain fallback) and iteration counts,
 * in float64 and float32; float64 gradchecks of the fused ops; second order; and the implicit
 * Sinkhorn backward against the unrolled one.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { type DType, type Tensor, ValueError, epsOf } from '@hyperconn/tensor';
import { type Variable, grad, gradcheck, mul, sum, vjp } from '@hyperconn/autograd';
import {
  EXP_DOMAIN_MAX_SPREAD,
  factorial,
  permutationMixture,
  sinkhorn,
  spectralSphereCayleyMap,
  type SinkhornOptions,
  type SpectralSphereCayleyOptions,
} from '@hyperconn/manifolds';

/** max |a − b| / scale, in float64. */
function relativeError(a: Tensor, b: Tensor, scale: number): number {
  const x = a.toTypedArray();
  const y = b.toTypedArray();
  expect(x.length).toBe(y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst / scale;
}

function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.toTypedArray()) m = Math.max(m, Math.abs(v));
  return m;
}

/** The matrix and the logits' gradient for the cotangent `cot`. */
function valueAndVjp(logits: Tensor, cot: Tensor, options: SinkhornOptions): { value: Tensor; grad: Tensor } {
  const { value, vjp: pullback } = vjp((l) => sinkhorn(l, options).matrix, logits);
  return { value: value.value, grad: pullback(cot)[0]!.value };
}

interface SinkhornCase {
  logits: Tensor;
  cotangent: Tensor;
  n: number;
  spreads: number[];
}

const SPREADS = [0.5, 4, 12, 60, 250, 400, 1500];

/**
 * Logits [...batch, n, n], each matrix with its own spread from SPREADS (so a batch mixes
 * exp-domain and log-domain matrices), and a standard normal cotangent.
 */
function sinkhornCaseArb(dtype: DType, maxN = 8): fc.Arbitrary<SinkhornCase> {
  return fc
    .tuple(fc.integer({ min: 2, max: maxN }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }))
    .chain(([n, batch]) => {
      const count = batch.reduce((a, b) => a * b, 1);
      return fc
        .tuple(
          fc.array(fc.constantFrom(...SPREADS), { minLength: count, maxLength: count }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        )
        .map(([spreads, seed]) => {
          const rng = new T.Random(seed);
          const scale = T.tensor(spreads, { shape: [...batch, 1, 1] });
          const logits = T.mul(T.sub(rng.uniform([...batch, n, n]), 0.5), scale).astype(dtype);
          const cotangent = rng.normal([...batch, n, n]).astype(dtype);
          return { logits, cotangent, n, spreads };
        });
    });
}

const FEW = { numRuns: 20 };

describe('fused sinkhorn = the composed reference', () => {
  it('float64: values and vjps to 1e-12 relative, t_max ∈ {1, 5, 20}, mixed spreads', () => {
    fc.assert(
      fc.property(sinkhornCaseArb('float64'), fc.constantFrom(1, 5, 20), ({ logits, cotangent }, iters) => {
        const fused = valueAndVjp(logits, cotangent, { iters });
        const reference = valueAndVjp(logits, cotangent, { iters, impl: 'reference' });
        // the default is the fused op: one graph node
        expect(vjp((l) => sinkhorn(l, { iters }).matrix, logits).value.node?.op).toBe('sinkhorn');
        expect(relativeError(fused.value, reference.value, maxAbs(reference.value))).toBeLessThanOrEqual(1e-12);
        // the gradient is a sum of terms of the size of G ⊙ P; a small gradient (near-permutation
        // matrices) is small by cancellation, so its error is relative to those terms
        const terms = maxAbs(T.mul(cotangent, reference.value));
        expect(relativeError(fused.grad, reference.grad, terms)).toBeLessThanOrEqual(1e-12);
      }),
    );
  });

  it('float32: stays float32, and equals the float64 reference to float32 rounding (the loops run in doubles)', () => {
    fc.assert(
      fc.property(sinkhornCaseArb('float32'), fc.constantFrom(1, 5, 20), ({ logits, cotangent }, iters) => {
        const fused = valueAndVjp(logits, cotangent, { iters });
        expect(fused.value.dtype).toBe('float32');
        expect(fused.grad.dtype).toBe('float32');
        const reference = valueAndVjp(logits.astype('float64'), cotangent.astype('float64'), {
          iters,
          impl: 'reference',
        });
        const eps = epsOf('float32');
        expect(relativeError(fused.value, reference.value, maxAbs(reference.value))).toBeLessThanOrEqual(eps);
        const terms = maxAbs(T.mul(cotangent.astype('float64'), reference.value));
        expect(relativeError(fused.grad, reference.grad, terms)).toBeLessThanOrEqual(eps);
        // and the float32 reference, whose own error grows with the iterations and the logits' size
        const ref32 = sinkhorn(logits, { iters, impl: 'reference' }).matrix.value;
        const size = Math.max(1, maxAbs(logits));
        expect(relativeError(fused.value, ref32, 1)).toBeLessThanOrEqual(16 * iters * size * eps);
      }),
    );
  });

  it('tol: the same iteration count and matrix as the reference', () => {
    fc.assert(
      fc.property(sinkhornCaseArb('float64', 5), fc.constantFrom(1e-3, 1e-8), ({ logits }, tol) => {
        const fused = sinkhorn(logits, { iters: 300, tol });
        const reference = sinkhorn(logits, { iters: 300, tol, impl: 'reference' });
        expect(fused.iterations).toBe(reference.iterations);
        expect(relativeError(fused.matrix.value, reference.matrix.value, 1)).toBeLessThanOrEqual(1e-12);
        expect(Math.abs(fused.marginalError - reference.marginalError)).toBeLessThanOrEqual(1e-12);
      }),
      FEW,
    );
  });

  it('picks the log domain exactly above EXP_DOMAIN_MAX_SPREAD, and both sides of it agree with the reference', () => {
    // one entry pulled down just below / above the threshold: exp(−300) ≈ 5e-131 is a normal double
    expect(EXP_DOMAIN_MAX_SPREAD).toBe(300);
    for (const spread of [EXP_DOMAIN_MAX_SPREAD - 1e-9, EXP_DOMAIN_MAX_SPREAD + 1e-9, 700, 745, 1e4]) {
      const rng = new T.Random(3);
      const logits = rng.normal([4, 4]);
      logits.set([1, 2], -spread + 1);
      logits.set([0, 0], 1);
      const cot = rng.normal([4, 4]);
      const fused = valueAndVjp(logits, cot, { iters: 7 });
      const reference = valueAndVjp(logits, cot, { iters: 7, impl: 'reference' });
      expect(relativeError(fused.value, reference.value, 1)).toBeLessThanOrEqual(1e-13);
      expect(relativeError(fused.grad, reference.grad, maxAbs(cot))).toBeLessThanOrEqual(1e-13);
    }
  });

  it('edge shapes: an empty batch, n = 1', () => {
    const empty = sinkhorn(T.zeros([0, 3, 3]), { iters: 5 });
    expect(empty.matrix.shape).toEqual([0, 3, 3]);
    expect(empty.marginalError).toBe(0);
    const one = valueAndVjp(T.tensor([[[7]], [[-900]]]), T.tensor([[[2]], [[3]]]), { iters: 3 });
    expect(Array.from(one.value.toTypedArray())).toEqual([1, 1]);
    expect(Array.from(one.grad.toTypedArray())).toEqual([0, 0]);
  });
});

describe('fused sinkhorn: gradients', () => {
  it('gradcheck in float64, first and second order, both domains', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (n, iters, logDomain, seed) => {
          const logits = T.mul(new T.Random(seed).normal([2, n, n]), 1.5);
          // an entry far below the rest sends its matrix down the log-domain path
          if (logDomain) logits.set([1, 0, n - 1], -EXP_DOMAIN_MAX_SPREAD - 20);
          gradcheck((l) => sinkhorn(l, { iters }).matrix, [logits], { order: 2 });
        },
      ),
      { numRuns: 12 },
    );
  });

  it('second order equals the reference second order (grad of a grad-built function)', () => {
    const rng = new T.Random(9);
    for (const n of [2, 3, 5]) {
      const logits = T.mul(rng.normal([3, n, n]), 2);
      logits.set([2, 0, 0], 400); // one log-domain matrix
      const w = rng.normal([3, n, n]);
      const v = rng.normal([3, n, n]);
      // h(L) = ⟨∇_L ⟨S(L), W⟩, V⟩, differentiated once more
      const hOf = (options: SinkhornOptions) => (l: Variable) =>
        sum(mul(grad((x: Variable) => sum(mul(sinkhorn(x, options).matrix, w)))(l), v));
      const fused = grad(hOf({ iters: 6 }))(logits).value;
      const reference = grad(hOf({ iters: 6, impl: 'reference' }))(logits).value;
      expect(relativeError(fused, reference, maxAbs(reference))).toBeLessThanOrEqual(1e-11);
    }
  });

  it('implicit backward: approaches the unrolled one as t_max grows, and equals it at convergence', () => {
    const rng = new T.Random(21);
    for (const n of [2, 3, 4, 6, 8]) {
      const logits = T.mul(rng.normal([4, n, n]), 1.5);
      const cot = rng.normal([4, n, n]);
      const differences: number[] = [];
      for (const iters of [1, 2, 5, 10, 20, 50, 200]) {
        const unrolled = valueAndVjp(logits, cot, { iters }).grad;
        const implicit = valueAndVjp(logits, cot, { iters, backward: 'implicit' }).grad;
        differences.push(relativeError(implicit, unrolled, maxAbs(unrolled)));
      }
      // non-increasing up to rounding, and converged at the end
      for (let k = 1; k < differences.length; k++)
        expect(differences[k]!).toBeLessThanOrEqual(differences[k - 1]! + 1e-12);
      expect(differences[0]!).toBeGreaterThan(1e-4);
      expect(differences[differences.length - 1]!).toBeLessThanOrEqual(1e-10);
    }
  });

  it('implicit backward at convergence: gradcheck of the converged map to second order', () => {
    const rng = new T.Random(4);
    for (const n of [1, 2, 3, 4]) {
      const logits = rng.normal([2, n, n]);
      gradcheck((l) => sinkhorn(l, { iters: 400, backward: 'implicit' }).matrix, [logits], { order: 2 });
    }
  });

  it('implicit second order (differentiable formula) = the converged reference second order; bad options', () => {
    const rng = new T.Random(6);
    for (const n of [2, 3, 5]) {
      const logits = rng.normal([2, n, n]);
      const w = rng.normal([2, n, n]);
      const v = rng.normal([2, n, n]);
      const hOf = (options: SinkhornOptions) => (l: Variable) =>
        sum(mul(grad((x: Variable) => sum(mul(sinkhorn(x, options).matrix, w)))(l), v));
      const implicit = grad(hOf({ iters: 300, backward: 'implicit' }))(logits).value;
      const reference = grad(hOf({ iters: 300, impl: 'reference' }))(logits).value;
      expect(relativeError(implicit, reference, maxAbs(reference))).toBeLessThanOrEqual(1e-9);
      // before convergence they differ: the implicit rule does not see the iterations
      const early = grad(hOf({ iters: 2, backward: 'implicit' }))(logits).value;
      const earlyReference = grad(hOf({ iters: 2, impl: 'reference' }))(logits).value;
      expect(relativeError(early, earlyReference, maxAbs(earlyReference))).toBeGreaterThan(1e-3);
    }
    const logits = T.tensor([
      [0, 1],
      [2, 0],
    ]);
    expect(() => sinkhorn(logits, { impl: 'fast' as never })).toThrow(ValueError);
    expect(() => sinkhorn(logits, { backward: 'exact' as never })).toThrow(/backward must be 'unrolled' or 'implicit'/);
    expect(() => sinkhorn(logits, { impl: 'fused', logDomain: false })).toThrow(/has no fused path/);
  });
});

// ---------------------------------------------------------------------------------------------
// sHC's map (z_U, z_V, s) ↦ J + U_z U diag(s) Vᵀ U_zᵀ

interface SphereCase {
  zU: Tensor;
  zV: Tensor;
  s: Tensor;
  cotangent: Tensor;
  n: number;
}

/** Inputs [...batch, k], [...batch, k], [...batch, m] with z of a random scale, s ∈ (−1.5, 1.5). */
function sphereCaseArb(dtype: DType, maxN = 8): fc.Arbitrary<SphereCase> {
  return fc
    .tuple(
      fc.integer({ min: 2, max: maxN }),
      fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
      fc.constantFrom(0.1, 1, 3),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    )
    .map(([n, batch, scale, seed]) => {
      const rng = new T.Random(seed);
      const m = n - 1;
      const k = (m * (m - 1)) / 2;
      const zU = T.mul(rng.normal([...batch, k]), scale).astype(dtype);
      const zV = T.mul(rng.normal([...batch, k]), scale).astype(dtype);
      const s = T.mul(T.sub(rng.uniform([...batch, m]), 0.5), 3).astype(dtype);
      return { zU, zV, s, cotangent: rng.normal([...batch, n, n]).astype(dtype), n };
    });
}

function sphereValueAndVjp(
  c: SphereCase,
  options: SpectralSphereCayleyOptions,
  dtype: DType = c.s.dtype,
): { value: Tensor; grads: Tensor[] } {
  const inputs = [c.zU, c.zV, c.s].map((t) => t.astype(dtype));
  const { value, vjp: pullback } = vjp((u, v, s) => spectralSphereCayleyMap(u, v, s, options), ...inputs);
  return { value: value.value, grads: pullback(c.cotangent.astype(dtype)).map((g) => g.value) };
}

describe('spectralSphereCayleyMap: fused = the composed reference', () => {
  it('float64: values and vjps (z_U, z_V, s) to 1e-12 relative, n ∈ 2..8 (and some up to 16)', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 8, arbitrary: sphereCaseArb('float64') }, sphereCaseArb('float64', 16)), (c) => {
        const fused = sphereValueAndVjp(c, {});
        const reference = sphereValueAndVjp(c, { impl: 'reference' });
        const node = vjp((u, v, s) => spectralSphereCayleyMap(u, v, s), c.zU, c.zV, c.s).value.node;
        expect(node?.op).toBe('spectralSphereCayleyMap');
        expect(relativeError(fused.value, reference.value, maxAbs(reference.value))).toBeLessThanOrEqual(1e-12);
        const scale = Math.max(...reference.grads.map(maxAbs), 1e-300);
        fused.grads.forEach((g, i) => {
          expect(g.shape).toEqual(reference.grads[i]!.shape);
          expect(relativeError(g, reference.grads[i]!, scale)).toBeLessThanOrEqual(1e-12);
        });
      }),
    );
  });

  it('float32: stays float32 and equals the float64 reference to float32 rounding', () => {
    fc.assert(
      fc.property(sphereCaseArb('float32'), (c) => {
        const fused = sphereValueAndVjp(c, {});
        expect(fused.value.dtype).toBe('float32');
        const reference = sphereValueAndVjp(c, { impl: 'reference' }, 'float64');
        const eps = epsOf('float32');
        expect(relativeError(fused.value, reference.value, maxAbs(reference.value))).toBeLessThanOrEqual(2 * eps);
        const scale = Math.max(...reference.grads.map(maxAbs), 1e-300);
        fused.grads.forEach((g, i) => {
          expect(g.dtype).toBe('float32');
          expect(relativeError(g, reference.grads[i]!, scale)).toBeLessThanOrEqual(2 * eps);
        });
      }),
    );
  });

  it('independent invariants: H1 = 1, 1ᵀH = 1ᵀ, singular values {1} ∪ |s|', () => {
    fc.assert(
      fc.property(sphereCaseArb('float64', 6), (c) => {
        const h = spectralSphereCayleyMap(c.zU, c.zV, c.s).value;
        const n = c.n;
        const flat = h.reshape([-1, n, n]);
        const sv = c.s.reshape([-1, n - 1]);
        for (let b = 0; b < flat.shape[0]!; b++) {
          const hb = flat.slice(b);
          for (const sums of [T.sum(hb, -1), T.sum(hb, -2)])
            for (const x of sums.toTypedArray()) expect(Math.abs(x - 1)).toBeLessThanOrEqual(1e-13);
          const expected = [1, ...Array.from(sv.slice(b).toTypedArray(), Math.abs)].sort((x, y) => y - x);
          const got = Array.from(T.svd(hb).s.toTypedArray());
          got.forEach((x, i) => {
            expect(Math.abs(x - expected[i]!)).toBeLessThanOrEqual(1e-12);
          });
        }
      }),
      FEW,
    );
  });

  it('inputs that are views at an offset (rows of a larger tensor) give the values and gradients of copies', () => {
    const rng = new T.Random(23);
    const [m, k] = [3, 3];
    // rows 2..4 of each: contiguous views whose data starts past the buffer's beginning
    const [zU, zV, s] = [rng.normal([5, k]), rng.normal([5, k]), rng.uniform([5, m])].map((t) => t.slice([2, 5]));
    expect(zU.offset).toBeGreaterThan(0);
    const cot = rng.normal([3, m + 1, m + 1]);
    const run = (ins: Tensor[]) => {
      const { value, vjp: pullback } = vjp((a, b, c) => spectralSphereCayleyMap(a, b, c), ...ins);
      return [value.value, ...pullback(cot).map((g) => g.value)];
    };
    const views = run([zU, zV, s]);
    const copies = run([zU.clone(), zV.clone(), s.clone()]);
    views.forEach((t, i) => {
      expect(relativeError(t, copies[i]!, 1)).toBe(0);
    });
  });

  it('gradcheck in float64, first and second order, and the second order equals the reference', () => {
    fc.assert(
      fc.property(sphereCaseArb('float64', 5), (c) => {
        gradcheck((u, v, s) => spectralSphereCayleyMap(u, v, s), [c.zU, c.zV, c.s], { order: 2 });
      }),
      { numRuns: 10 },
    );
    const rng = new T.Random(17);
    const [m, k] = [4, 6];
    const inputs = [rng.normal([3, k]), rng.normal([3, k]), rng.uniform([3, m])];
    const w = rng.normal([3, m + 1, m + 1]);
    const hOf = (options: SpectralSphereCayleyOptions) => (u: Variable, v: Variable, s: Variable) => {
      const inner = (a: Variable, b: Variable, c: Variable) => sum(mul(spectralSphereCayleyMap(a, b, c, options), w));
      const gs = grad(inner, [0, 1, 2])(u, v, s);
      return sum(mul(gs[0]!, gs[0]!)).add(sum(mul(gs[1]!, gs[2]!.sum())));
    };
    const fused = grad(hOf({}), [0, 1, 2])(...inputs);
    const reference = grad(hOf({ impl: 'reference' }), [0, 1, 2])(...inputs);
    fused.forEach((g, i) => {
      expect(relativeError(g.value, reference[i]!.value, maxAbs(reference[i]!.value))).toBeLessThanOrEqual(1e-11);
    });
  });

  it('errors: shapes, dtypes, non-finite values, impl', () => {
    const z = T.zeros([2, 3]);
    const s = T.zeros([2, 3]);
    expect(spectralSphereCayleyMap(z, z, s).shape).toEqual([2, 4, 4]);
    expect(() => spectralSphereCayleyMap(T.zeros([2, 2]), z, s)).toThrow(/zU must have shape \[2,3\]/);
    expect(() => spectralSphereCayleyMap(z, T.zeros([3, 3]), s)).toThrow(/zV must have shape/);
    expect(() => spectralSphereCayleyMap(z, z, T.zeros([2, 0]))).toThrow(/s must have a last axis/);
    expect(() => spectralSphereCayleyMap(z.astype('float32'), z, s)).toThrow(/zU is float32 but s is float64/);
    expect(() => spectralSphereCayleyMap(z, z, T.full([2, 3], NaN))).toThrow(
      /spectralSphereCayleyMap: s must be finite/,
    );
    expect(() => spectralSphereCayleyMap(z, z, s, { impl: 'x' as never })).toThrow(ValueError);
  });

  it('large z takes the reference path: no silent loss of accuracy, a typed error past ~1e8', () => {
    const s = T.tensor([[0.5, -0.3, 1]]);
    // at 1e15 the explicit inverse was 0.05 off; the reference's solve keeps the limit value
    for (const z of [2e3, 1e6, 1e15]) {
      const zU = T.tensor([[z, -z, z]]);
      const fused = spectralSphereCayleyMap(zU, zU, s).value;
      const reference = spectralSphereCayleyMap(zU, zU, s, { impl: 'reference' }).value;
      expect(Array.from(fused.toTypedArray())).toEqual(Array.from(reference.toTypedArray()));
      // and it is still on the sphere: H1 = 1
      const h = fused.toTypedArray();
      for (let i = 0; i < 4; i++)
        expect(Math.abs(h[4 * i]! + h[4 * i + 1]! + h[4 * i + 2]! + h[4 * i + 3]! - 1)).toBeLessThan(1e-12);
    }
    for (const huge of [1e20, 1e300]) {
      const zU = T.tensor([[huge, -huge, huge]]);
      expect(() => spectralSphereCayleyMap(zU, T.zeros([1, 3]), s)).toThrow(T.LinAlgError);
      expect(() => spectralSphereCayleyMap(zU, T.zeros([1, 3]), s)).toThrow(/^cayley: I \+ A is singular/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The permutation mixture as a gather-add

describe('permutationMixture: fused gather-add = the matmul reference', () => {
  it('values and vjps, float64 (1e-14) and float32, n ∈ 1..6; third order by gradcheck', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        fc.constantFrom<DType>('float64', 'float32'),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (n, batch, dtype, seed) => {
          const rng = new T.Random(seed);
          const w = rng.normal([...batch, factorial(n)]).astype(dtype);
          const cot = rng.normal([...batch, n, n]).astype(dtype);
          const run = (impl: 'fused' | 'reference') => {
            const { value, vjp: pullback } = vjp((x) => permutationMixture(x, { impl }), w);
            return { value: value.value, grad: pullback(cot)[0]!.value, op: value.node?.op };
          };
          const [fused, reference] = [run('fused'), run('reference')];
          expect(fused.op).toBe('permutationMixture');
          expect(fused.value.dtype).toBe(dtype);
          const tol = dtype === 'float64' ? 1e-14 : 4 * epsOf('float32');
          expect(relativeError(fused.value, reference.value, Math.max(maxAbs(reference.value), 1))).toBeLessThanOrEqual(
            tol,
          );
          expect(relativeError(fused.grad, reference.grad, Math.max(maxAbs(reference.grad), 1))).toBeLessThanOrEqual(
            tol,
          );
        },
      ),
    );
    const rng = new T.Random(2);
    for (const n of [2, 3]) {
      const w = rng.normal([2, factorial(n)]);
      // squared, so the second and third derivatives are not zero
      gradcheck((x) => permutationMixture(x).square(), [w], { order: 3 });
    }
  });
});
