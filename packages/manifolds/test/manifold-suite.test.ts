/**
 * The one property suite every manifold passes (docs/spec/manifolds.md, "Generic checks"),
 * parametrised over Birkhoff (n = 2..5, both metrics), the spectral sphere (square, tall, wide),
 * Stiefel (tall, every retraction) and the orthogonal group, in float64 and float32. Points,
 * tangents and ambient matrices come from the testing entry's arbitraries; membership is checked
 * both by the manifold's own `check` and by the entry's independent invariant assertions.
 * Manifold-specific facts live in each manifold's own test file.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { Random, type Tensor, epsOf, type DType } from '@hyperconn/tensor';
import {
  Birkhoff,
  Orthogonal,
  SpectralSphere,
  Stiefel,
  type Manifold,
  type StiefelRetraction,
} from '@hyperconn/manifolds';
import {
  expectDoublyStochastic,
  expectOnManifold,
  expectOrthogonal,
  expectTangent,
  expectUnitSpectralNorm,
  matrixArb,
  pointAndTangentArb,
  pointArb,
} from '@hyperconn/manifolds/testing';
import { expectClose } from '../../../test/support/assert';

interface Case {
  label: string;
  manifold: Manifold;
  /** An independent check of membership (from the testing entry, not the manifold's `check`). */
  member: (x: Tensor) => void;
  /** Ambient matrices that `project` must map onto the manifold. */
  ambient: (dtype: DType, batchShape?: readonly number[]) => fc.Arbitrary<Tensor>;
  /**
   * Ambient matrices whose projection is well conditioned, for idempotence to c·n·eps. (Birkhoff:
   * positive entries; near-zero ones project near a vertex, where the scaling is accurate only
   * to about eps/minEntry, as birkhoff.ts documents.)
   */
  wellConditioned: (dtype: DType) => fc.Arbitrary<Tensor>;
}

/** Entries in [−1, 1], negative ones included: Birkhoff's projection must cope with them. */
const anyMatrix =
  (shape: readonly number[]) =>
  (dtype: DType, batchShape: readonly number[] = []) =>
    matrixArb([...batchShape, ...shape], { dtype });
/** Matrices that are not (nearly) zero, which the spectral sphere and the polar factor need. */
const nonZeroMatrix =
  (shape: readonly number[]) =>
  (dtype: DType, batchShape: readonly number[] = []) =>
    matrixArb([...batchShape, ...shape], { dtype }).filter(
      (z) => T.min(T.sqrt(T.sum(T.square(z), [-2, -1]))).item() > 0.1,
    );

const CASES: Case[] = [
  ...[2, 3, 4, 5].flatMap((n) =>
    (['fisher', 'euclidean'] as const).map((metric) => ({
      label: `Birkhoff(${n}, ${metric})`,
      manifold: new Birkhoff(n, { metric }),
      member: (x: Tensor) => expectDoublyStochastic(x),
      ambient: anyMatrix([n, n]),
      wellConditioned: (dtype: DType) => matrixArb([n, n], { min: 0.05, max: 1, dtype }),
    })),
  ),
  ...(
    [
      [3, 3],
      [4, 2],
      [2, 5],
    ] as const
  ).map(([m, n]) => ({
    label: `SpectralSphere(${m}, ${n})`,
    manifold: new SpectralSphere(m, n),
    member: (x: Tensor) => expectUnitSpectralNorm(x),
    ambient: nonZeroMatrix([m, n]),
    wellConditioned: nonZeroMatrix([m, n]),
  })),
  ...(['qr', 'polar', 'cayley', 'exp'] as StiefelRetraction[]).map((retraction) => ({
    label: `Stiefel(5, 2, ${retraction})`,
    manifold: new Stiefel(5, 2, { retraction }),
    member: (x: Tensor) => expectOrthogonal(x),
    ambient: nonZeroMatrix([5, 2]),
    wellConditioned: nonZeroMatrix([5, 2]),
  })),
  ...(
    [
      [3, 'qr'],
      [4, 'cayley'],
    ] as const
  ).map(([n, retraction]) => ({
    label: `Orthogonal(${n}, ${retraction})`,
    manifold: new Orthogonal(n, { retraction }),
    member: (x: Tensor) => expectOrthogonal(x),
    ambient: nonZeroMatrix([n, n]),
    wellConditioned: nonZeroMatrix([n, n]),
  })),
];

// Every property runs a few tiny decompositions (or a Sinkhorn scaling) per case, for 17
// manifolds and two dtypes: 40 runs each (fewer than the default 100) keeps the file within its
// time budget.
const RUNS = 40;
const DTYPES: readonly DType[] = ['float64', 'float32'];

/** c·n·eps: the rounding of the composite operations of one method on an n-sided matrix. */
const tolFor = (dtype: DType, manifold: Manifold, c = 64): number => c * Math.max(...manifold.shape) * epsOf(dtype);

/** The smallest normal number: below it (subnormals) rounding is absolute, not relative. */
const SMALLEST_NORMAL: Record<DType, number> = { float64: 2 ** -1022, float32: 2 ** -126 };

/** |actual − expected| ≤ tol·scale entry by entry (scale: the size of the inputs the rounding is relative to). */
function expectNear(actual: Tensor, expected: Tensor, tol: number, scale = 1): void {
  expectClose(actual, expected, { atol: tol * Math.max(scale, SMALLEST_NORMAL[actual.dtype]), rtol: tol });
}

const largest = (t: Tensor): number => T.max(T.abs(t)).item();
const seedArb = fc.nat();

for (const { label, manifold, member, ambient, wellConditioned } of CASES) {
  const shape = [...manifold.shape];
  describe(label, () => {
    for (const dtype of DTYPES) {
      const tol = tolFor(dtype, manifold);
      const point = pointArb(manifold, { dtype });
      const pointAndTangent = pointAndTangentArb(manifold, { dtype });

      it(`${dtype}: randomPoint and project(z) lie on M (check and an independent oracle)`, () => {
        fc.assert(
          fc.property(point, ambient(dtype), (x, z) => {
            expectOnManifold(manifold, x);
            member(x);
            const y = manifold.project(z);
            expectOnManifold(manifold, y);
            member(y);
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: project is idempotent`, () => {
        fc.assert(
          fc.property(wellConditioned(dtype), (z) => {
            const y = manifold.project(z);
            expectNear(manifold.project(y), y, tol);
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: projectTangent is tangent, idempotent and linear`, () => {
        const scalar = fc.double({ min: -2, max: 2, noNaN: true });
        fc.assert(
          fc.property(point, ambient(dtype), ambient(dtype), scalar, scalar, (x, z1, z2, a, b) => {
            const p1 = manifold.projectTangent(x, z1);
            const p2 = manifold.projectTangent(x, z2);
            expectTangent(manifold, x, p1);
            // rounding is relative to the input's size (p1 itself may be ~0)
            expectNear(manifold.projectTangent(x, p1), p1, tol, largest(z1));
            const combined = manifold.projectTangent(x, T.add(T.mul(z1, a), T.mul(z2, b)));
            expectNear(
              combined,
              T.add(T.mul(p1, a), T.mul(p2, b)),
              tol,
              Math.abs(a) * largest(z1) + Math.abs(b) * largest(z2),
            );
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: the residual z − projectTangent(x, z) is orthogonal to tangent vectors in the metric`, () => {
        fc.assert(
          fc.property(pointAndTangent, ambient(dtype), ({ x, v }, z) => {
            const residual = T.sub(z, manifold.projectTangent(x, z));
            const pairing = Math.abs(manifold.inner(x, residual, v).item());
            // Cauchy–Schwarz scale: ‖v‖_x = 1
            expect(pairing).toBeLessThanOrEqual(tol * (manifold.norm(x, residual).item() + 1));
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: egradToRgrad is tangent and represents the Euclidean gradient: ⟨rgrad, t⟩_x = ⟨g, t⟩_F`, () => {
        fc.assert(
          fc.property(pointAndTangent, ambient(dtype), ({ x, v }, g) => {
            const rgrad = manifold.egradToRgrad(x, g);
            expectTangent(manifold, x, rgrad);
            const riemannian = manifold.inner(x, rgrad, v).item();
            const euclidean = T.sum(T.mul(g, v)).item();
            expect(Math.abs(riemannian - euclidean)).toBeLessThanOrEqual(tol * (manifold.norm(x, rgrad).item() + 1));
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: randomTangent is tangent with unit norm in the metric`, () => {
        fc.assert(
          fc.property(pointAndTangent, ({ x, v }) => {
            expectTangent(manifold, x, v);
            expect(Math.abs(manifold.norm(x, v).item() - 1)).toBeLessThanOrEqual(tol);
            expect(v.dtype).toBe(dtype);
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: retract(x, 0) = x and retract(x, s·ξ) lies on M`, () => {
        fc.assert(
          fc.property(pointAndTangent, fc.double({ min: 0, max: 2, noNaN: true }), ({ x, v }, s) => {
            expectNear(manifold.retract(x, T.zerosLike(x)), x, tol);
            const y = manifold.retract(x, T.mul(v, s));
            expectOnManifold(manifold, y);
            member(y);
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: transport moves a tangent at x to a tangent at y = retract(x, ξ)`, () => {
        fc.assert(
          fc.property(pointAndTangent, seedArb, ({ x, v }, seed) => {
            const y = manifold.retract(x, T.mul(v, 0.5));
            const eta = manifold.randomTangent(x, new Random(seed));
            expectTangent(manifold, y, manifold.transport(x, y, eta));
          }),
          { numRuns: RUNS },
        );
      });

      it(`${dtype}: a batched call ([2, 3]) equals the loop of single calls`, () => {
        const batch = [2, 3];
        fc.assert(
          fc.property(
            pointArb(manifold, { batchShape: batch, dtype }),
            ambient(dtype, batch),
            ambient(dtype, batch),
            (x, z, g) => {
              const xi = manifold.projectTangent(x, z);
              const y = manifold.retract(x, T.mul(xi, 0.3));
              const batched = {
                project: manifold.project(z),
                projectTangent: xi,
                egradToRgrad: manifold.egradToRgrad(x, g),
                retract: y,
                transport: manifold.transport(x, y, xi),
                inner: manifold.inner(x, xi, z),
                norm: manifold.norm(x, xi),
              };
              expect(manifold.check(x).ok).toBe(true);
              for (let i = 0; i < batch[0]!; i++) {
                for (let j = 0; j < batch[1]!; j++) {
                  const [xs, zs, gs] = [x.slice(i, j), z.slice(i, j), g.slice(i, j)];
                  const xis = manifold.projectTangent(xs, zs);
                  const ys = manifold.retract(xs, T.mul(xis, 0.3));
                  const single = {
                    project: manifold.project(zs),
                    projectTangent: xis,
                    egradToRgrad: manifold.egradToRgrad(xs, gs),
                    retract: ys,
                    transport: manifold.transport(xs, ys, xis),
                    inner: manifold.inner(xs, xis, zs),
                    norm: manifold.norm(xs, xis),
                  };
                  for (const key of Object.keys(single) as (keyof typeof single)[]) {
                    expectNear(batched[key].slice(i, j), single[key], tol, largest(single[key]) + 1);
                  }
                }
              }
            },
          ),
          { numRuns: Math.ceil(RUNS / 4) }, // six single calls of every method per run
        );
      });

      it(`${dtype}: check flags exactly the batch entry moved off the manifold`, () => {
        fc.assert(
          fc.property(pointArb(manifold, { batchShape: [2, 3], dtype }), (x) => {
            const bad = x.clone();
            bad.slice(1, 2).assign(T.mul(x.slice(1, 2), 1.5)); // scaling leaves each of the three manifolds
            expect(manifold.check(bad).ok).toBe(false);
            expect(manifold.check(bad.slice(1, 2)).ok).toBe(false);
            expect(manifold.check(bad.slice(0, 2)).ok).toBe(true);
          }),
          { numRuns: Math.ceil(RUNS / 4) },
        );
      });
    }

    it('float64: the retraction is first order: e(t) = ‖R_x(tξ) − x − tξ‖ falls ~100× when t falls 10×', () => {
      fc.assert(
        fc.property(pointAndTangentArb(manifold), ({ x, v }) => {
          // e(t) = c₂t² + c₃t³ + … can cancel near t = −c₂/c₃ (e.g. close to a symmetric point,
          // where c₂ ≈ 0); the larger of e(t) and e(−t) is ≈ |c₂|t² + |c₃|t³ and cannot
          const error = (t: number): number =>
            Math.max(
              ...[t, -t].map((s) => {
                const step = T.mul(v, s);
                return Math.sqrt(T.sum(T.square(T.sub(manifold.retract(x, step), T.add(x, step)))).item());
              }),
            );
          const [e1, e2, e3] = [1e-2, 1e-3, 1e-4].map(error) as [number, number, number];
          // observed order log10(e(t)/e(t/10)) over two decades: 2 (or 3 where c₂ = 0); 1 for a map that is not a
          // retraction
          expect(Math.log10(e1 / e2)).toBeGreaterThanOrEqual(1.8);
          expect(Math.log10(e2 / e3)).toBeGreaterThanOrEqual(1.8);
        }),
        { numRuns: RUNS },
      );
    });

    it('float64: projectTangent has rank dim (the tangent space has the manifold dimension)', () => {
      fc.assert(
        fc.property(pointArb(manifold), (x) => {
          // the matrix of the linear map Z ↦ P_x(Z) on the basis E_kl, by columns
          const size = shape[0]! * shape[1]!;
          const basis = T.eye(size).reshape([size, ...shape]);
          const images = manifold.projectTangent(x, basis).reshape([size, size]);
          const s = T.svd(images).s.toTypedArray();
          expect(s.filter((value) => value > 1e-8 * s[0]!).length).toBe(manifold.dim);
        }),
        { numRuns: RUNS },
      );
    });
  });
}
