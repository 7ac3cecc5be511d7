/**
 * Stiefel and Orthogonal: XᵀX = I after every retraction (float64 and float32), retraction at 0,
 * the first-order slope test per retraction (with a control that fails it), det preserved on
 * O(n), the exponential map against the geodesic equation, the Cayley retraction against the
 * Cayley transform, 'exp' at any step size (XᵀX = I to 1e-12 from 1e-8 to 1.7e308; the great
 * circle and 2π-periodicity at huge steps), the polar projection against (XᵀX)^{-1/2} and a brute-force nearest-point
 * search, the tangent projection, and the errors. Generic manifold properties are in
 * manifold-suite.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { Random, ShapeError, type Tensor, ValueError, epsOf, type DType } from '@hyperconn/tensor';
import { Orthogonal, Stiefel, cayley, type StiefelRetraction } from '@hyperconn/manifolds';
import { dtypeArb } from '../../../test/support/arbitraries';
import { expectClose } from '../../../test/support/assert';

const KINDS: readonly StiefelRetraction[] = ['qr', 'polar', 'cayley', 'exp'];
const kindArb = fc.constantFrom(...KINDS);

/** 1 ≤ p ≤ n ≤ 5, square (O(n)) cases included often. */
const sizeArb = fc
  .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.boolean())
  .map(([a, b, square]) =>
    square ? { n: Math.max(a, b), p: Math.max(a, b) } : { n: Math.max(a, b), p: Math.min(a, b) },
  );

const batchArb = fc.constantFrom<number[]>([], [3], [2, 1]);

/** max |YᵀY − I| over every matrix, computed here. */
function orthonormalityError(y: Tensor): number {
  const p = y.shape[y.ndim - 1]!;
  return T.max(T.abs(T.sub(T.matmul(y.mT, y), T.eye(p, p, { dtype: y.dtype })))).item();
}

const frobeniusDistance = (a: Tensor, b: Tensor): number => T.norm(T.sub(a, b)).item();

/** e(t) = ‖R(tξ) − x − tξ‖_F for t and t/10: a first-order retraction makes e fall ~100×. */
function slopeRatio(retract: (v: Tensor) => Tensor, x: Tensor, xi: Tensor, t: number): number {
  const e = (s: number): number => frobeniusDistance(retract(T.mul(xi, s)), T.add(x, T.mul(xi, s)));
  return e(t) / e(t / 10);
}

const tolFor = (n: number, dtype: DType, c = 20): number => c * n * epsOf(dtype);

describe('Stiefel / Orthogonal retractions', () => {
  it('XᵀX = I after every retraction kind, for tangent steps of any size (float64 and float32)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        sizeArb,
        kindArb,
        dtypeArb,
        batchArb,
        fc.double({ min: -3, max: 1, noNaN: true }),
        (seed, { n, p }, kind, dtype, batch, e) => {
          fc.pre(n * p > 1);
          const rng = new Random(seed);
          const manifold = new Stiefel(n, p, { retraction: kind });
          const x = manifold.randomPoint(rng, batch, { dtype });
          const xi = T.mul(manifold.randomTangent(x, rng), 10 ** e);
          const y = manifold.retract(x, xi);
          expect(y.shape).toEqual(x.shape);
          expect(y.dtype).toBe(dtype);
          expect(orthonormalityError(y)).toBeLessThanOrEqual(tolFor(n, dtype) * Math.max(1, 10 ** e));
        },
      ),
    );
  });

  it('R_X(0) = X for every retraction kind', () => {
    fc.assert(
      fc.property(fc.integer(), sizeArb, kindArb, dtypeArb, (seed, { n, p }, kind, dtype) => {
        const manifold = new Stiefel(n, p, { retraction: kind });
        const x = manifold.randomPoint(new Random(seed), [2], { dtype });
        expectClose(manifold.retract(x, T.zerosLike(x)), x, { atol: tolFor(n, dtype), rtol: 0 });
      }),
    );
  });

  it('every retraction is first order: e(t) = ‖R_X(tξ) − X − tξ‖ falls ≥ 50× per decade of t', () => {
    fc.assert(
      fc.property(fc.integer(), sizeArb, kindArb, (seed, { n, p }, kind) => {
        fc.pre(n * p > 1);
        const rng = new Random(seed);
        const manifold = new Stiefel(n, p, { retraction: kind });
        const x = manifold.randomPoint(rng);
        const xi = manifold.randomTangent(x, rng);
        expect(slopeRatio((v) => manifold.retract(x, v), x, xi, 1e-2)).toBeGreaterThan(50);
      }),
    );
    // the control: along a normal direction X·S (S symmetric) QR gives e(t) ∝ t, a ratio of 10
    const manifold = new Stiefel(5, 3);
    const x = manifold.randomPoint(new Random(1));
    const s = T.tensor([
      [1, 0.5, 0],
      [0.5, -1, 0.2],
      [0, 0.2, 0.3],
    ]);
    expectClose(
      slopeRatio((v) => manifold.retract(x, v), x, T.matmul(x, s), 1e-3),
      10,
      { rtol: 0.01, atol: 0 },
    );
  });

  it('on O(n) every retraction keeps det(X): it stays in the connected component of X', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 2, max: 5 }),
        kindArb,
        fc.double({ min: 0.01, max: 3, noNaN: true }),
        (seed, n, kind, size) => {
          const rng = new Random(seed);
          const group = new Orthogonal(n, { retraction: kind });
          const x = group.randomPoint(rng, [4]);
          const y = group.retract(x, T.mul(group.randomTangent(x, rng), size));
          expectClose(T.det(y), T.det(x), { atol: tolFor(n, 'float64'), rtol: 0 });
        },
      ),
    );
  });

  it("'cayley' on O(n): R_X(XΩ) = X (I − Ω/2)⁻¹(I + Ω/2), the Cayley transform of −Ω/2", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 2, max: 5 }), (seed, n) => {
        const rng = new Random(seed);
        const group = new Orthogonal(n, { retraction: 'cayley' });
        const x = group.randomPoint(rng);
        const g = rng.normal([n, n]);
        const omega = T.sub(g, g.mT);
        const expected = T.matmul(x, cayley(T.mul(omega, -0.5)).value);
        expectClose(group.retract(x, T.matmul(x, omega)), expected, {
          atol: 100 * epsOf('float64') * (1 + T.norm(omega).item()),
          rtol: 0,
        });
      }),
    );
  });

  it("'exp' follows the geodesic equation of the embedded metric, Y'' + Y(Y'ᵀY') = 0, at constant speed", () => {
    fc.assert(
      fc.property(fc.integer(), sizeArb, (seed, { n, p }) => {
        fc.pre(n * p > 1);
        const rng = new Random(seed);
        const manifold = new Stiefel(n, p, { retraction: 'exp' });
        const x = manifold.randomPoint(rng);
        const xi = manifold.randomTangent(x, rng);
        const curve = (t: number): Tensor => manifold.retract(x, T.mul(xi, t));
        const h = 1e-3;
        const t = 0.7;
        const [before, at, after] = [curve(t - h), curve(t), curve(t + h)];
        const velocity = T.div(T.sub(after, before), 2 * h);
        const acceleration = T.div(T.add(T.sub(after, T.mul(at, 2)), before), h * h);
        // central differences are accurate to O(h²); the curve's derivatives are O(1)
        expectClose(T.add(acceleration, T.matmul(at, T.matmul(velocity.mT, velocity))), T.zeros([n, p]), {
          atol: 1e-5,
          rtol: 0,
        });
        expectClose(T.norm(velocity).item(), 1, { atol: 1e-6, rtol: 0 });
      }),
    );
  });

  it(
    "'exp' on O(n) equals X·expm(Xᵀξ), and on St(n, p) agrees with the first p columns of the O(n) " +
      'geodesic when ξ = X·Ω',
    () => {
      fc.assert(
        fc.property(fc.integer(), sizeArb, (seed, { n, p }) => {
          const rng = new Random(seed);
          const q = rng.orthogonal(n);
          const g = rng.normal([p, p]);
          const omega = T.sub(g, g.mT);
          const x = q.slice(null, [0, p]);
          // ξ = XΩ stays within span(X): the geodesic is X expm(Ω) on St(n, p) as on O(p)
          const y = new Stiefel(n, p, { retraction: 'exp' }).retract(x, T.matmul(x, omega));
          expectClose(y, T.matmul(x, T.expm(omega)), { atol: 1e-13 * (1 + T.norm(omega).item()), rtol: 0 });
        }),
      );
    },
  );
});

describe("'exp' (and every retraction) at any step size", () => {
  it('property: XᵀX = I to 1e-12 (float64) for step norms 1e-8 … 1e8, batched, tangent or not', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        sizeArb,
        batchArb,
        fc.double({ min: -8, max: 8, noNaN: true }),
        fc.boolean(),
        (seed, { n, p }, batch, e, tangent) => {
          const rng = new Random(seed);
          const manifold = new Stiefel(n, p, { retraction: 'exp' });
          const x = manifold.randomPoint(rng, batch);
          const direction =
            tangent && n * p > 1 ? manifold.randomTangent(x, rng) : T.div(rng.normal(x.shape), Math.sqrt(n * p));
          const y = manifold.retract(x, T.mul(direction, 10 ** e));
          expect(y.shape).toEqual(x.shape);
          expect(orthonormalityError(y)).toBeLessThanOrEqual(1e-12);
        },
      ),
    );
  });

  it(
    "property: every retraction kind ('cayley' included, whose n×n solve drifts like eps·‖ξ‖) gives " +
      'XᵀX = I to 1e-12 for step norms 1e-8 … 1e8',
    () => {
      fc.assert(
        fc.property(
          fc.integer(),
          sizeArb,
          kindArb,
          fc.double({ min: -8, max: 8, noNaN: true }),
          (seed, { n, p }, kind, e) => {
            fc.pre(n * p > 1);
            const rng = new Random(seed);
            const manifold = new Stiefel(n, p, { retraction: kind });
            const x = manifold.randomPoint(rng, [2]);
            expect(
              orthonormalityError(manifold.retract(x, T.mul(manifold.randomTangent(x, rng), 10 ** e))),
            ).toBeLessThanOrEqual(1e-12);
          },
        ),
      );
    },
  );

  it(
    'XᵀX = I to 1e-12 for the largest finite steps too (1e16 ' +
      '… 1e300 and entries of 1.7e308), in float64 and float32',
    () => {
      for (const [n, p] of [
        [4, 4],
        [5, 2],
        [3, 2],
        [6, 1],
      ] as const) {
        const manifold = new Stiefel(n, p, { retraction: 'exp' });
        const rng = new Random(n * 10 + p);
        const x = manifold.randomPoint(rng, [2]);
        const xi = manifold.randomTangent(x, rng);
        const unit = T.div(xi, T.max(T.abs(xi)).item());
        for (const size of [1e16, 1e100, 1e300])
          expect(orthonormalityError(manifold.retract(x, T.mul(xi, size)))).toBeLessThanOrEqual(1e-12);
        expect(orthonormalityError(manifold.retract(x, T.mul(unit, 1.7e308)))).toBeLessThanOrEqual(1e-12);
        const y32 = manifold.retract(x.astype('float32'), T.mul(xi, 1e8).astype('float32'));
        expect(y32.dtype).toBe('float32');
        expect(orthonormalityError(y32)).toBeLessThanOrEqual(tolFor(n, 'float32'));
      }
    },
  );

  it('large steps stay on the geodesic: the great circle cos(t)·x + sin(t)·ξ on St(n, 1), to about t·eps', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 2, max: 6 }),
        fc.double({ min: -2, max: 8, noNaN: true }),
        (seed, n, e) => {
          const rng = new Random(seed);
          const sphere = new Stiefel(n, 1, { retraction: 'exp' });
          const x = sphere.randomPoint(rng);
          const xi = sphere.randomTangent(x, rng); // unit norm
          const t = 10 ** e;
          const expected = T.add(T.mul(x, Math.cos(t)), T.mul(xi, Math.sin(t)));
          // the angle itself is only known to about t·eps (the rounding of tξ and of ‖ξ‖ = 1)
          expectClose(sphere.retract(x, T.mul(xi, t)), expected, {
            atol: 64 * n * epsOf('float64') * (1 + t),
            rtol: 0,
          });
        },
      ),
    );
  });

  it('on O(n) a rotation by 2πk in invariant planes returns to X, for k up to 1e6', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 6 }), (seed, n, e) => {
        const rng = new Random(seed);
        const group = new Orthogonal(n, { retraction: 'exp' });
        const x = group.randomPoint(rng);
        const q = rng.orthogonal(n);
        // Ω = Q·J·Qᵀ with J rotating the plane of Q's first two columns by 2πk: expm(Ω) = I
        const k = 10 ** e;
        const j = T.zeros([n, n]);
        j.set([0, 1], -2 * Math.PI * k);
        j.set([1, 0], 2 * Math.PI * k);
        const omega = T.matmul(T.matmul(q, j), q.mT);
        expectClose(group.retract(x, T.matmul(x, omega)), x, {
          atol: 64 * n * epsOf('float64') * (1 + 2 * Math.PI * k),
          rtol: 0,
        });
      }),
    );
  });
});

describe('Stiefel / Orthogonal projections', () => {
  it('projectTangent is idempotent, gives a tangent, kills X·S (S symmetric) and keeps tangents', () => {
    fc.assert(
      fc.property(fc.integer(), sizeArb, batchArb, dtypeArb, (seed, { n, p }, batch, dtype) => {
        const rng = new Random(seed);
        const manifold = new Stiefel(n, p);
        const x = manifold.randomPoint(rng, batch, { dtype });
        const z = rng.normal([...batch, n, p], { dtype });
        const pz = manifold.projectTangent(x, z);
        const tol = { atol: tolFor(n, dtype) * (1 + T.max(T.abs(z)).item()), rtol: 0 };
        expectClose(manifold.projectTangent(x, pz), pz, tol);
        const xtp = T.matmul(x.mT, pz);
        expectClose(T.add(xtp, xtp.mT), T.zeros(xtp.shape), tol);
        const s = rng.normal([...batch, p, p], { dtype });
        expectClose(manifold.projectTangent(x, T.matmul(x, T.add(s, s.mT))), T.zeros(x.shape), tol);
        expect(manifold.checkTangent(x, pz).ok).toBe(true);
      }),
    );
  });

  it('project is the polar factor Z (ZᵀZ)^{-1/2} (by eigh), on the manifold', () => {
    fc.assert(
      fc.property(fc.integer(), sizeArb, batchArb, (seed, { n, p }, batch) => {
        const rng = new Random(seed);
        const z = rng.normal([...batch, n, p]);
        const { values, vectors } = T.eigh(T.matmul(z.mT, z));
        fc.pre(T.min(values).item() > 1e-4 * T.max(values).item());
        const inverseRoot = T.matmul(T.div(vectors, T.sqrt(values).unsqueeze(-2)), vectors.mT);
        const manifold = new Stiefel(n, p);
        const projected = manifold.project(z);
        expectClose(projected, T.matmul(z, inverseRoot), { atol: 1e-10, rtol: 0 });
        expect(orthonormalityError(projected)).toBeLessThanOrEqual(tolFor(n, 'float64'));
      }),
    );
  });

  it(
    'project is the nearest point: ‖Z − P‖_F ≤ ‖Z − Q‖_F for ' +
      'random points Q and for perturbations of P along the manifold',
    () => {
      fc.assert(
        fc.property(fc.integer(), sizeArb, (seed, { n, p }) => {
          const rng = new Random(seed);
          const manifold = new Stiefel(n, p, { retraction: 'polar' });
          const z = rng.normal([n, p]);
          const best = frobeniusDistance(z, manifold.project(z));
          const tol = 1e-12 * (1 + best);
          const candidates = manifold.randomPoint(rng, [20]);
          for (let k = 0; k < 20; k++)
            expect(best).toBeLessThanOrEqual(frobeniusDistance(z, candidates.slice(k)) + tol);
          // nearby points (the hardest competitors) do not beat it either
          const pz = manifold.project(z);
          if (manifold.dim > 0) {
            for (let k = 0; k < 10; k++) {
              const near = manifold.retract(pz, T.mul(manifold.randomTangent(pz, rng), 1e-3));
              expect(best).toBeLessThanOrEqual(frobeniusDistance(z, near) + tol);
            }
          }
        }),
        { numRuns: 50 },
      );
    },
  );

  it(
    'randomPoint is orthonormal, deterministic per seed, and ' +
      'Haar on O(n): E[X₀₀²] = 1/n and det = ±1 equally often',
    () => {
      const group = new Orthogonal(3);
      const x = group.randomPoint(new Random(5), [2000]);
      expect(orthonormalityError(x)).toBeLessThanOrEqual(tolFor(3, 'float64'));
      expectClose(x, group.randomPoint(new Random(5), [2000]), { atol: 0, rtol: 0 });
      // X₀₀² ~ Beta(1/2, 1) with standard deviation 0.298: the mean of 2000 is within 4σ/√2000 ≈ 0.027
      expectClose(T.mean(T.square(x.slice(null, 0, 0))).item(), 1 / 3, { atol: 0.027, rtol: 0 });
      expectClose(T.mean(T.det(x)).item(), 0, { atol: 4 / Math.sqrt(2000), rtol: 0 });
      const f32 = new Stiefel(4, 2).randomPoint(new Random(6), [3], { dtype: 'float32' });
      expect(f32.dtype).toBe('float32');
      expect(orthonormalityError(f32)).toBeLessThanOrEqual(tolFor(4, 'float32'));
    },
  );
});

describe('Stiefel / Orthogonal checks and errors', () => {
  it('check and checkTangent name the worst violation and its batch index', () => {
    const manifold = new Stiefel(4, 2);
    const x = manifold.randomPoint(new Random(2), [3]);
    const bad = T.mul(x, T.tensor([1, 1, 1 + 1e-6]).reshape([3, 1, 1]));
    const result = manifold.check(bad);
    expect(result.ok).toBe(false);
    const match = /\(XᵀX − I\)\[(\d), (\d)\] = ([-0-9.e]+) at batch index \[2\]/.exec(result.reason);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(match![2]); // scaling a column scales the diagonal of XᵀX most
    expectClose(Number(match![3]), 2e-6 + 1e-12, { rtol: 1e-6, atol: 0 });
    expect(manifold.check(bad, { atol: 1e-5 }).ok).toBe(true);
    expect(manifold.check(x).ok).toBe(true);
    expect(manifold.check(T.zeros([2, 4])).reason).toMatch(/shape/);
    expect(manifold.check(T.full([4, 2], NaN)).reason).toMatch(/not finite/);
    const normal = T.matmul(x, T.eye(2));
    const tangent = manifold.checkTangent(x, normal);
    expect(tangent.ok).toBe(false);
    expect(tangent.reason).toMatch(/\(Xᵀξ \+ ξᵀX\)\[(\d), \1\] = 2/);
  });

  it('errors: bad sizes and retraction names, wrong shapes, non-finite input, 0-dimensional manifolds', () => {
    expect(() => new Stiefel(2, 3)).toThrow(ValueError);
    expect(() => new Stiefel(3, 0)).toThrow(ValueError);
    expect(() => new Stiefel(3, 2, { retraction: 'newton' as StiefelRetraction })).toThrow(
      /'qr', 'polar', 'cayley', 'exp'/,
    );
    const manifold = new Stiefel(3, 2);
    expect(() => manifold.project(T.zeros([2, 3]))).toThrow(ShapeError);
    expect(() => manifold.project(T.full([3, 2], NaN))).toThrow(ValueError);
    const x = manifold.randomPoint(new Random(1));
    expect(() => manifold.retract(x, T.full([3, 2], Infinity))).toThrow(/finite/);
    expect(() => new Orthogonal(1).randomTangent(T.ones([1, 1]), new Random(1))).toThrow(/dimension 0/);
    expect(new Orthogonal(4).dim).toBe(6);
    expect(new Stiefel(5, 2).dim).toBe(7);
    expect(new Orthogonal(3, { retraction: 'cayley' }).name).toBe('Orthogonal(3)');
  });
});
