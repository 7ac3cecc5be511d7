/**
 * SpectralSphere and spectralNormalize: σ_max against an exact SVD computed here, the
 * invariants of docs/spec/manifolds.md (tangent condition, retraction at 0 and its slope test,
 * scale and orthogonal invariance, orthogonal and doubly stochastic matrices on 𝒮), the power
 * iteration's warm start against the tensor package's powerIteration, gradients against
 * gradcheck and the closed form, and the errors. The generic manifold properties (idempotence,
 * batching, unit random tangents, …) are in manifold-suite.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { Random, ShapeError, Tensor, ValueError, epsOf, type DType } from '@hyperconn/tensor';
import { gradcheck, param, vjp } from '@hyperconn/autograd';
import { SpectralNormState, SpectralSphere, spectralNormalize } from '@hyperconn/manifolds';
import { dtypeArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

// ---------------------------------------------------------------------------------------------
// References and generators

/** σ_max of every matrix of `t`, by the tensor package's exact SVD. */
const sigmaMax = (t: Tensor): number[] =>
  Array.from(
    T.svd(t)
      .s.slice(...new Array<null>(t.ndim - 2).fill(null), 0)
      .contiguous()
      .toTypedArray(),
  );
const frobeniusDistance = (a: Tensor, b: Tensor): number => T.norm(T.sub(a, b)).item();

/** m×n matrices (possibly batched) of standard normal entries drawn from a fast-check seed. */
const gaussianArb = (opts: { maxDim?: number; batch?: boolean; dtype?: DType } = {}) =>
  fc
    .record({
      seed: fc.integer(),
      m: fc.integer({ min: 1, max: opts.maxDim ?? 5 }),
      n: fc.integer({ min: 1, max: opts.maxDim ?? 5 }),
      batch: opts.batch ? fc.constantFrom<number[]>([], [3], [2, 1]) : fc.constant<number[]>([]),
      scale: fc.double({ min: -6, max: 6, noNaN: true }).map((e) => 10 ** e),
    })
    .map(({ seed, m, n, batch, scale }) => ({
      m,
      n,
      rng: new Random(seed),
      w: T.mul(new Random(seed).normal([...batch, m, n]), scale).astype(opts.dtype ?? 'float64'),
    }));

/** U diag(s) Vᵀ with Haar U, V: a matrix with prescribed singular values s (descending). */
function withSingularValues(rng: Random, m: number, n: number, s: readonly number[]): Tensor {
  const k = s.length;
  const u = rng.orthogonal(m).slice(null, [0, k]);
  const v = rng.orthogonal(n).slice(null, [0, k]);
  return T.matmul(T.mul(u, T.tensor([...s])), v.mT);
}

/** e(t) = ‖R(tξ) − x − tξ‖_F for t and t/10: a first-order retraction makes e fall ~100×. */
function slopeRatio(retract: (v: Tensor) => Tensor, x: Tensor, xi: Tensor, t: number): number {
  const e = (s: number): number => frobeniusDistance(retract(T.mul(xi, s)), T.add(x, T.mul(xi, s)));
  return e(t) / e(t / 10);
}

const isNormalizedBy = (m: number, n: number, dtype: DType, c = 20): number => c * Math.max(m, n) * epsOf(dtype);

// ---------------------------------------------------------------------------------------------
// The manifold

describe('SpectralSphere', () => {
  it('project lands on 𝒮: |σ_max − 1| ≤ c·n·eps against an exact SVD (float64 and float32), and check agrees', () => {
    fc.assert(
      fc.property(
        dtypeArb.chain((dtype) => gaussianArb({ batch: true, dtype }).map((g) => ({ ...g, dtype }))),
        ({ m, n, w, dtype }) => {
          const sphere = new SpectralSphere(m, n);
          const p = sphere.project(w);
          expect(p.dtype).toBe(dtype);
          for (const s of sigmaMax(p)) expect(Math.abs(s - 1)).toBeLessThanOrEqual(isNormalizedBy(m, n, dtype));
          expect(sphere.check(p)).toEqual({ ok: true, reason: '' });
        },
      ),
    );
  });

  it('check rejects a point off 𝒮 and names the worst |σ_max − 1| and its batch index', () => {
    const sphere = new SpectralSphere(3, 2);
    const rng = new Random(3);
    const points = sphere.randomPoint(rng, [4]);
    const scales = T.tensor([1, 1 + 1e-9, 1 - 3e-6, 1]).reshape([4, 1, 1]);
    const result = sphere.check(T.mul(points, scales));
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/batch index \[2\]/);
    const reported = Number(/\|σ_max − 1\| = ([0-9.e-]+)/.exec(result.reason)![1]);
    expectClose(reported, 3e-6, { rtol: 1e-6, atol: 0 });
    expect(sphere.check(T.mul(points, scales), { atol: 1e-5 }).ok).toBe(true);
    expect(sphere.check(T.zeros([3, 3])).reason).toMatch(/shape/);
    expect(sphere.check(T.full([3, 2], NaN)).reason).toMatch(/not finite/);
  });

  it(
    'the tangent projection P_W(Z) satisfies uᵀ P_W(Z) v = 0 ' +
      'for the exact top pair (u, v), and changes Z only along uvᵀ',
    () => {
      fc.assert(
        fc.property(gaussianArb({ batch: true }), ({ m, n, w, rng }) => {
          const sphere = new SpectralSphere(m, n);
          const x = sphere.project(w);
          const z = rng.normal(x.shape);
          const pz = sphere.projectTangent(x, z);
          const { u, v } = T.svd(x);
          const lead = new Array<null>(x.ndim - 2).fill(null);
          const u1 = u.slice(...lead, null, [0, 1]);
          const v1 = v.slice(...lead, null, [0, 1]);
          const scale = T.norm(z).item();
          expectClose(T.matmul(T.matmul(u1.mT, pz), v1), T.zeros(u1.mT.shape.slice(0, -1).concat(1)), {
            atol: 50 * epsOf('float64') * scale,
            rtol: 0,
          });
          // Z − P_W(Z) = ⟨uvᵀ, Z⟩ uvᵀ
          const uv = T.matmul(u1, v1.mT);
          const coef = T.sum(T.mul(uv, z), [-2, -1], true);
          expectClose(T.sub(z, pz), T.mul(coef, uv), { atol: 50 * epsOf('float64') * scale, rtol: 0 });
          expect(sphere.checkTangent(x, pz).ok).toBe(true);
        }),
      );
    },
  );

  it('checkTangent rejects a normal direction uvᵀ and names its size', () => {
    const sphere = new SpectralSphere(3, 3);
    const x = withSingularValues(new Random(5), 3, 3, [1, 0.5, 0.2]);
    const { u, v } = T.svd(x);
    const uv = T.matmul(u.slice(null, [0, 1]), v.slice(null, [0, 1]).mT);
    const result = sphere.checkTangent(x, T.mul(uv, 0.25));
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/\|uᵀVv\| = 0\.25/);
  });

  it('R_W(0) = W and R_W(Δ) ∈ 𝒮', () => {
    fc.assert(
      fc.property(gaussianArb({ batch: true }), ({ m, n, w, rng }) => {
        const sphere = new SpectralSphere(m, n);
        const x = sphere.project(w);
        expectClose(sphere.retract(x, T.zerosLike(x)), x, { atol: 4 * epsOf('float64'), rtol: 4 * epsOf('float64') });
        const y = sphere.retract(x, T.mul(rng.normal(x.shape), 3));
        for (const s of sigmaMax(y)) expect(Math.abs(s - 1)).toBeLessThanOrEqual(isNormalizedBy(m, n, 'float64'));
      }),
    );
  });

  it(
    'the retraction is first order: e(t) = ‖R_W(tξ) − W − tξ‖ ' +
      'falls ≥ 50× per decade of t (a normal direction only 10×)',
    () => {
      fc.assert(
        fc.property(gaussianArb(), ({ m, n, rng }) => {
          fc.pre(m * n > 1);
          const sphere = new SpectralSphere(m, n);
          const x = sphere.randomPoint(rng);
          const xi = sphere.randomTangent(x, rng);
          expect(slopeRatio((v) => sphere.retract(x, v), x, xi, 1e-2)).toBeGreaterThan(50);
        }),
      );
      // the control: along the normal direction uvᵀ, R_W(t·uvᵀ) = W/(1 + t) and e(t) ∝ t
      const x = withSingularValues(new Random(7), 3, 4, [1, 0.6, 0.3]);
      const { u, v } = T.svd(x);
      const normal = T.matmul(u.slice(null, [0, 1]), v.slice(null, [0, 1]).mT);
      const sphere = new SpectralSphere(3, 4);
      expectClose(
        slopeRatio((d) => sphere.retract(x, d), x, normal, 1e-2),
        10,
        { rtol: 0.02, atol: 0 },
      );
    },
  );

  it('N(cW) = N(W) for c > 0, exact and by power iteration', () => {
    fc.assert(
      fc.property(gaussianArb({ batch: true }), fc.double({ min: -3, max: 3, noNaN: true }), ({ m, n, w }, e) => {
        const c = 10 ** e;
        const sphere = new SpectralSphere(m, n);
        expectClose(sphere.project(T.mul(w, c)), sphere.project(w), { atol: 1e-14, rtol: 1e-13 });
        const normalize = (t: Tensor): Tensor => spectralNormalize(t, undefined, { iters: 3 }).value;
        expectClose(normalize(T.mul(w, c)), normalize(w), { atol: 1e-14, rtol: 1e-13 });
      }),
    );
  });

  it('σ_max(QWR) = σ_max(W) for orthogonal Q, R, so QWR ∈ 𝒮 and project(QWR) = Q project(W) R', () => {
    fc.assert(
      fc.property(gaussianArb(), ({ m, n, w, rng }) => {
        const sphere = new SpectralSphere(m, n);
        const q = rng.orthogonal(m);
        const r = rng.orthogonal(n);
        const rotate = (t: Tensor): Tensor => T.matmul(T.matmul(q, t), r);
        const x = sphere.project(w);
        expectClose(sigmaMax(rotate(x))[0]!, 1, { atol: isNormalizedBy(m, n, 'float64'), rtol: 0 });
        expect(sphere.check(rotate(x)).ok).toBe(true);
        expectClose(sphere.project(rotate(w)), rotate(x), { atol: 100 * epsOf('float64'), rtol: 0 });
      }),
    );
  });

  it('every orthogonal matrix and every doubly stochastic matrix lies on 𝒮 (float64 and float32)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        dtypeArb,
        (seed, n, count, dtype) => {
          const rng = new Random(seed);
          const sphere = new SpectralSphere(n, n);
          const tol = isNormalizedBy(n, n, dtype);
          const q = rng.orthogonal(n, { dtype });
          expectClose(sigmaMax(q)[0]!, 1, { atol: tol, rtol: 0 });
          expect(sphere.check(q).ok).toBe(true);
          // Σ λ_k P_k with λ on the simplex (Birkhoff–von Neumann): doubly stochastic by construction
          const weights = Array.from(rng.uniform([count], { low: 0.01, high: 1 }).toTypedArray());
          const total = weights.reduce((a, b) => a + b, 0);
          const mixture = new Float64Array(n * n);
          weights.forEach((wk) => {
            rng.permutation(n).forEach((j, i) => {
              mixture[i * n + j] += wk / total;
            });
          });
          const d = T.tensor(mixture, { shape: [n, n] }).astype(dtype);
          expectClose(sigmaMax(d)[0]!, 1, { atol: tol, rtol: 0 });
          expect(sphere.check(d).ok).toBe(true);
        },
      ),
    );
  });

  it('exact: false (power iteration) agrees with the exact SVD when σ_max is well separated', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 2, max: 6 }),
        fc.double({ min: 1.2, max: 100, noNaN: true }),
        (seed, m, n, gap) => {
          const rng = new Random(seed);
          const s = [gap, ...Array.from({ length: Math.min(m, n) - 1 }, (_, i) => 1 / (i + 1))];
          const w = withSingularValues(rng, m, n, s);
          const power = new SpectralSphere(m, n, { exact: false });
          const exact = new SpectralSphere(m, n);
          expectClose(power.project(w), exact.project(w), { atol: 1e-12, rtol: 0 });
          const z = rng.normal([m, n]);
          expectClose(power.projectTangent(exact.project(w), z), exact.projectTangent(exact.project(w), z), {
            atol: 1e-12,
            rtol: 0,
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('randomPoint and randomTangent: on 𝒮, tangent, unit norm, deterministic per seed, in the requested dtype', () => {
    const sphere = new SpectralSphere(3, 5);
    const x = sphere.randomPoint(new Random(11), [2], { dtype: 'float32' });
    expect(x.dtype).toBe('float32');
    expect(x.shape).toEqual([2, 3, 5]);
    for (const s of sigmaMax(x)) expectClose(s, 1, { atol: isNormalizedBy(3, 5, 'float32'), rtol: 0 });
    expectClose(x, sphere.randomPoint(new Random(11), [2], { dtype: 'float32' }), { atol: 0, rtol: 0 });
    const xi = sphere.randomTangent(x.astype('float64'), new Random(12));
    expectClose(T.norm(xi, [-2, -1]), T.ones([2]), { atol: 1e-15, rtol: 0 });
    expect(sphere.checkTangent(x.astype('float64'), xi).ok).toBe(true);
  });

  it('errors: zero and non-finite matrices, wrong shapes, a 0-dimensional sphere, bad sizes', () => {
    const sphere = new SpectralSphere(2, 3);
    expect(() => sphere.project(T.zeros([2, 2, 3]))).toThrow(ValueError);
    expect(() => sphere.project(T.zeros([2, 2, 3]))).toThrow(/batch index \[0\] is zero/);
    expect(() => sphere.project(T.full([2, 3], NaN))).toThrow(ValueError);
    expect(() => sphere.project(T.full([2, 3], Infinity))).toThrow(/finite/);
    const x = sphere.randomPoint(new Random(1));
    expect(() => sphere.retract(x, T.neg(x))).toThrow(/zero/);
    expect(() => sphere.project(T.zeros([3, 2]))).toThrow(ShapeError);
    expect(() => sphere.projectTangent(x, T.zeros([2, 2]))).toThrow(ShapeError);
    expect(() => new SpectralSphere(1, 1).randomTangent(T.ones([1, 1]), new Random(1))).toThrow(/dimension 0/);
    expect(() => new SpectralSphere(0, 2)).toThrow(ValueError);
    expect(new SpectralSphere(3, 4).dim).toBe(11);
  });
});

// ---------------------------------------------------------------------------------------------
// spectralNormalize

describe('spectralNormalize', () => {
  it('exact mode: |σ_max(Ŵ) − 1| ≤ 1e-12 in float64 (c·n·eps in float32) against an exact SVD', () => {
    fc.assert(
      fc.property(
        dtypeArb.chain((dtype) => gaussianArb({ batch: true, dtype }).map((g) => ({ ...g, dtype }))),
        ({ m, n, w, dtype }) => {
          const y = spectralNormalize(w, undefined, { exact: true }).value;
          expect(y.dtype).toBe(dtype);
          const tol = dtype === 'float64' ? 1e-12 : isNormalizedBy(m, n, 'float32');
          for (const s of sigmaMax(y)) expect(Math.abs(s - 1)).toBeLessThanOrEqual(tol);
        },
      ),
    );
  });

  it('power mode with a warm start: σ̂ ≤ σ_max, so σ_max(Ŵ) ≥ 1, and the error falls from call to call', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 2, max: 6 }),
        fc.double({ min: 1.5, max: 4, noNaN: true }),
        (seed, m, n, top) => {
          const rng = new Random(seed);
          const k = Math.min(m, n);
          const w = withSingularValues(rng, m, n, [top, ...Array.from({ length: k - 1 }, (_, i) => 1 - i / k)]);
          // the cold start is the normalised all-ones vector; its angle θ₀ to u₁ sets how far the
          // iteration has to go: keep tan²θ₀ ≤ 400
          const u1 = T.svd(w).u.slice(null, 0);
          fc.pre(Math.abs(T.sum(u1).item()) / Math.sqrt(m) > 0.05);
          const state = new SpectralNormState();
          const errors: number[] = [];
          for (let call = 0; call < 16; call++) {
            const y = spectralNormalize(w, state, call === 0 ? { iters: 1 } : {});
            expect(state.u).toBeInstanceOf(Tensor);
            expectClose(T.norm(state.u!).item(), 1, { atol: 1e-15, rtol: 0 });
            errors.push(sigmaMax(y.value)[0]! - 1);
          }
          for (const e of errors) expect(e).toBeGreaterThanOrEqual(-1e-14);
          // σ̂_k² is a ratio of consecutive moments Σ a_j² σ_j^{2p}, which increases with p (the
          // moments are log-convex): the error never grows; after k iterations it is below
          // tan²θ₀·(σ₂/σ₁)^{4k}/2 ≤ 200·0.2^16 ≈ 1e-9
          for (let i = 1; i < errors.length; i++) expect(errors[i]!).toBeLessThanOrEqual(errors[i - 1]! + 1e-14);
          expect(errors[errors.length - 1]!).toBeLessThanOrEqual(1e-8);
        },
      ),
      { numRuns: 50 },
    );
  });

  it(
    'one cold call of k iterations equals one iteration then ' +
      'k − 1 warm calls of one, and both match powerIteration',
    () => {
      const rng = new Random(21);
      const w = rng.normal([2, 4, 3]);
      const reference = T.powerIteration(w, { iters: 6 });
      const state = new SpectralNormState();
      let y = spectralNormalize(w, state, { iters: 1 });
      for (let k = 1; k < 6; k++) y = spectralNormalize(w, state);
      expectClose(state.u!, reference.u, { atol: 1e-15, rtol: 0 });
      expectClose(y.value, T.div(w, reference.sigma.reshape([2, 1, 1])), { atol: 1e-14, rtol: 1e-14 });
      expectClose(spectralNormalize(w, undefined, { iters: 6 }).value, y.value, { atol: 1e-15, rtol: 1e-15 });
      // the default cold start runs 20 iterations; tol stops earlier
      expectClose(spectralNormalize(w).value, T.div(w, T.powerIteration(w, { iters: 20 }).sigma.reshape([2, 1, 1])), {
        atol: 1e-15,
        rtol: 1e-15,
      });
    },
  );

  it('batched calls equal the loop of single calls (values and state)', () => {
    const rng = new Random(22);
    const w = rng.normal([3, 4, 5]);
    const batched = new SpectralNormState();
    spectralNormalize(w, batched, { iters: 2 });
    const y = spectralNormalize(w, batched);
    for (let b = 0; b < 3; b++) {
      const single = new SpectralNormState();
      spectralNormalize(w.slice(b), single, { iters: 2 });
      expectClose(y.value.slice(b), spectralNormalize(w.slice(b), single).value, { atol: 1e-15, rtol: 1e-15 });
      expectClose(batched.u!.slice(b), single.u!, { atol: 0, rtol: 0 });
    }
  });

  it('gradient, exact mode: gradcheck (float64) to second order', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), (seed, m, n) => {
        const rng = new Random(seed);
        const k = Math.min(m, n);
        // distinct singular values: the map is smooth only where σ_max is simple
        const w = withSingularValues(
          rng,
          m,
          n,
          Array.from({ length: k }, (_, i) => 2 - i / k),
        );
        const f = (x: Parameters<typeof spectralNormalize>[0]) => spectralNormalize(x, undefined, { exact: true });
        gradcheck(f, [w], { order: 2 });
      }),
      { numRuns: 50 }, // second-order gradchecks of an SVD-based map: costly
    );
  });

  it(
    'gradient, power mode: gradcheck (float64) when converged, and the closed ' +
      'form (G − ⟨G,Ŵ⟩ûv̂ᵀ)/σ̂ with the iteration’s own û, v̂ at any count',
    () => {
      fc.assert(
        fc.property(
          fc.integer(),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 4 }),
          (seed, m, n, iters) => {
            const rng = new Random(seed);
            const k = Math.min(m, n);
            const w = withSingularValues(
              rng,
              m,
              n,
              Array.from({ length: k }, (_, i) => 2 - i / k),
            );
            gradcheck((x) => spectralNormalize(x, undefined, { iters: 200, tol: 0 }), [w]);

            const g = rng.normal([m, n]);
            const { value, vjp: pullback } = vjp((x) => spectralNormalize(x, undefined, { iters }), w);
            const [gw] = pullback(g);
            const ref = T.powerIteration(w, { iters });
            const uv = T.matmul(ref.u.unsqueeze(-1), ref.v.unsqueeze(-2));
            const sigmaHat = T.sum(T.mul(uv, w)).item();
            const inner = T.sum(T.mul(g, T.div(w, sigmaHat))).item();
            expectClose(value.value, T.div(w, sigmaHat), { atol: 1e-15, rtol: 1e-14 });
            expectClose(gw!.value, T.div(T.sub(g, T.mul(uv, inner)), sigmaHat), { atol: 1e-14, rtol: 1e-12 });
          },
        ),
        { numRuns: 40 },
      );
    },
  );

  it('gradient, exact mode: equals the closed form (G − ⟨G,Ŵ⟩uvᵀ)/σ_max with the exact top pair', () => {
    fc.assert(
      fc.property(gaussianArb({ batch: true }), ({ w, rng }) => {
        const lead = new Array<null>(w.ndim - 2).fill(null);
        const { u, s, v } = T.svd(w);
        const sigma = s.slice(...lead, [0, 1]).unsqueeze(-1);
        const uv = T.matmul(u.slice(...lead, null, [0, 1]), v.slice(...lead, null, [0, 1]).mT);
        const g = rng.normal(w.shape);
        const [gw] = vjp((x) => spectralNormalize(x, undefined, { exact: true }), w).vjp(g);
        const inner = T.sum(T.mul(g, T.div(w, sigma)), [-2, -1], true);
        const expected = T.div(T.sub(g, T.mul(inner, uv)), sigma);
        // the projection cancels most of G: scale the tolerance by ‖G‖/σ, not by the result
        expectClose(gw!.value, expected, { atol: 1e-13 * T.max(T.abs(T.div(g, sigma))).item(), rtol: 1e-10 });
      }),
    );
  });

  it('eps: a zero matrix maps to 0 (gradient G/eps) and a matrix with σ < eps to W/eps', () => {
    const g = new Random(2).normal([2, 3]);
    for (const exact of [false, true]) {
      const { value, vjp: pullback } = vjp(
        (x) => spectralNormalize(x, undefined, { eps: 1e-3, exact }),
        T.zeros([2, 3]),
      );
      expectClose(value.value, T.zeros([2, 3]), { atol: 0, rtol: 0 });
      expectClose(pullback(g)[0]!.value, T.div(g, 1e-3), { atol: 0, rtol: 1e-15 });
      const small = T.mul(T.eye(2, 3), 1e-5);
      expectClose(spectralNormalize(small, undefined, { eps: 1e-3, exact }).value, T.div(small, 1e-3), {
        atol: 0,
        rtol: 1e-15,
      });
    }
  });

  it('errors: zero matrix without eps, NaN, ±∞, a state of the wrong shape, bad options', () => {
    expect(() => spectralNormalize(T.zeros([3, 3]))).toThrow(ValueError);
    expect(() => spectralNormalize(T.zeros([3, 3]), undefined, { exact: true })).toThrow(/zero matrix/);
    const batch = T.stack([T.eye(2), T.zeros([2, 2])]);
    expect(() => spectralNormalize(batch)).toThrow(/batch index \[1\]/);
    expect(() => spectralNormalize(T.tensor([[1, NaN]]))).toThrow(ValueError);
    expect(() => spectralNormalize(T.tensor([[1, -Infinity]]), undefined, { exact: true })).toThrow(/finite/);
    const state = new SpectralNormState();
    state.u = T.ones([4]);
    expect(() => spectralNormalize(T.ones([3, 2]), state)).toThrow(ShapeError);
    expect(() => spectralNormalize(T.ones([3]))).toThrow(ShapeError);
    expect(() => spectralNormalize(T.ones([2, 2]), undefined, { iters: 0 })).toThrow(/iters/);
    expect(() => spectralNormalize(T.ones([2, 2]), undefined, { eps: 0 })).toThrow(/eps/);
  });

  it('works on Variables inside a graph and leaves state.u detached', () => {
    const w = param(new Random(4).normal([3, 3]));
    const state = new SpectralNormState();
    const y = spectralNormalize(w, state);
    expect(y.requiresGrad).toBe(true);
    expect(state.u).toBeInstanceOf(Tensor);
  });
});
