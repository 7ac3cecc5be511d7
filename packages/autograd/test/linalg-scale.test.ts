/**
 * Scale equivariance of the linear-algebra gradients: for well-conditioned A and any c within
 * the float range, ∇L(cA) = c^p ∇L(A), where p is the degree of homogeneity of the gradient (p = 0
 * for losses of s, λ, R and the 2- and nuclear norms; −1 for scale-invariant losses of U, V, Q,
 * the eigenvectors and log|det|; −2 for inv and solve; n − 1 for det). Checked for c = 10^k over
 * float64's range (1e±300) and float32's (1e±30) against the float64 gradient at A times c^p.
 *
 * Tolerances come from the conditioning: rounding A·c and the kernels perturb A by a few eps
 * relative, and the gradient's relative sensitivity to that is at most κ² (κ = σ_max over the
 * smallest gap that the gradient divides by: the singular-value gap and σ_min for svd, the
 * eigenvalue gap for eigh, σ_min for the others). The error of a sum is bounded by the size of
 * its terms, not of its result (which a loss's weights can cancel), and the terms are of size
 * |w|_max·(cσ_max)^p for weights w: so ‖∇L(cA) − c^p∇L(A)‖_max ≤ 16·max(m,n)·eps(dtype)·κ²·
 * max(‖c^p∇L(A)‖_max, |w|_max·(cσ_max)^p).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@hyperconn/tensor';
import { Random, type Tensor, epsOf, type DType } from '@hyperconn/tensor';
import {
  add,
  concat,
  det,
  eigh,
  expm,
  flatten,
  grad,
  gradcheck,
  inv,
  matmul,
  matrixNorm,
  mul,
  qr,
  slogdet,
  solve,
  sum,
  svd,
  transpose,
  type Variable,
} from '@hyperconn/autograd';

const RUNS = { numRuns: 60 };

// ---------------------------------------------------------------------------------------------
// Generators: A = U diag(s) Vᵀ (or Q diag(λ) Qᵀ) with a known, bounded conditioning

/** k values increasing from `start` + [0.3, 1] by gaps in [0.3, 1]: distinct, well separated. */
function spectrumArb(k: number, start: number): fc.Arbitrary<number[]> {
  const value = (min: number, max: number): fc.Arbitrary<number> => fc.double({ min, max, noNaN: true });
  return fc.tuple(value(0.3, 1), fc.array(value(0.3, 1), { minLength: k, maxLength: k })).map(([first, gaps]) => {
    let at = start + first;
    return gaps.map((g) => {
      const current = at;
      at += g;
      return current;
    });
  });
}

/** m×n (1..4) float64 matrices with distinct singular values in [0.3, 5), gaps ≥ 0.3. */
const generalArb = (square: boolean): fc.Arbitrary<Tensor> =>
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.nat()).chain(([m, n0, seed]) => {
    const n = square ? m : n0;
    const k = Math.min(m, n);
    return spectrumArb(k, 0).map((s) => {
      const rng = new Random(seed);
      const u = rng.orthogonal(m).slice(null, [0, k]);
      const v = rng.orthogonal(n).slice(null, [0, k]);
      return T.matmul(T.mul(u, T.tensor(s)), v.mT);
    });
  });

/** n×n (1..4) symmetric float64 matrices with eigenvalues from about −1.7 up, gaps ≥ 0.3. */
const symmetricArb: fc.Arbitrary<Tensor> = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat()).chain(([n, seed]) =>
  spectrumArb(n, -2).map((lambda) => {
    const q = new Random(seed).orthogonal(n);
    const a = T.matmul(T.mul(q, T.tensor(lambda)), q.mT);
    return T.mul(T.add(a, a.mT), 0.5);
  }),
);

/** Scales 10^k over the dtype's range (extremes included), k limited so that c^p·∇L(A) stays normal. */
const scaleArb = (dtype: DType, power: number): fc.Arbitrary<number> => {
  const range = Math.floor((dtype === 'float64' ? 300 : 30) / Math.max(1, Math.abs(power)));
  return fc
    .oneof(
      fc.constantFrom(-range, range, -Math.ceil(range / 2), Math.ceil(range / 2)),
      fc.integer({ min: -range, max: range }),
    )
    .map((k) => 10 ** k);
};

// ---------------------------------------------------------------------------------------------
// Conditioning and the comparison

const singularValues = (a: Tensor): number[] => Array.from(T.svd(a).s.toTypedArray());
const minGap = (x: readonly number[]): number => {
  let gap = Infinity;
  for (let i = 0; i < x.length; i++)
    for (let j = i + 1; j < x.length; j++) gap = Math.min(gap, Math.abs(x[i]! - x[j]!));
  return gap;
};
/** σ_max/σ_min. */
const kappaOf = (a: Tensor): number => {
  const s = singularValues(a);
  return s.length === 0 ? 1 : s[0]! / s[s.length - 1]!;
};
/** σ_max over the smallest of the singular-value gaps and σ_min: what U and V divide by. */
const svdKappa = (a: Tensor): number => {
  const s = singularValues(a);
  return s.length === 0 ? 1 : s[0]! / Math.min(minGap(s), s[s.length - 1]!);
};
/** max|λ| over the smallest eigenvalue gap (1 for a 1×1 matrix). */
const eighKappa = (a: Tensor): number => {
  const lambda = Array.from(T.eigh(a).values.toTypedArray());
  return lambda.length < 2 ? 1 : Math.max(...lambda.map(Math.abs)) / minGap(lambda);
};

/** x·c^p entry by entry in float64, one factor c at a time so that c^p itself never overflows. */
function timesPower(x: Tensor, c: number, p: number): Float64Array {
  return Float64Array.from(x.toTypedArray(), (v) => {
    for (let i = 0; i < Math.abs(p); i++) v = p > 0 ? v * c : v / c;
    return v;
  });
}

/** ‖actual − expected‖_max ≤ tol·max(‖expected‖_max, termSize), no NaN and no infinity. */
function expectNormwiseClose(
  actual: Tensor,
  expected: Float64Array,
  tol: number,
  termSize: number,
  label: string,
): void {
  const a = actual.toTypedArray();
  expect(a.length).toBe(expected.length);
  let err = 0;
  let size = 0;
  for (let i = 0; i < a.length; i++) {
    expect(Number.isFinite(a[i]!), `${label}: entry ${i} is ${a[i]}`).toBe(true);
    err = Math.max(err, Math.abs(a[i]! - expected[i]!));
    size = Math.max(size, Math.abs(expected[i]!));
  }
  size = Math.max(size, termSize);
  expect(err, `${label}: max error ${err} vs tolerance ${tol}·${size}`).toBeLessThanOrEqual(tol * size);
}

interface ScaleCase {
  name: string;
  arb: fc.Arbitrary<Tensor>;
  /** The loss, given weights of the dtype drawn from `seed`. */
  loss: (a: Variable, weights: (shape: readonly number[]) => Tensor) => Variable;
  /** Degree of homogeneity of the gradient, for an n×n (or m×n) A. */
  power: (a: Tensor) => number;
  kappa: (a: Tensor) => number;
}

const mT = (x: Variable): Variable => transpose(x, -2, -1);
const sizeOf = (a: Tensor): number => Math.max(...a.shape.slice(-2));

const cases: ScaleCase[] = [
  {
    name: 'svd: ⟨w, s⟩ (p = 0)',
    arb: generalArb(false),
    loss: (a, w) => {
      const { s } = svd(a);
      return sum(mul(s, w(s.shape)));
    },
    power: () => 0,
    kappa: svdKappa,
  },
  {
    name: 'svd: ⟨W₁, U∘U⟩ + ⟨W₂, V∘V⟩ + ⟨W₃, U diag(c) Vᵀ⟩ (sign-invariant, p = −1)',
    arb: generalArb(false),
    loss: (a, w) => {
      const { u, s, v } = svd(a);
      const uv = matmul(mul(u, w(s.shape)), mT(v));
      return add(add(sum(mul(mul(u, u), w(u.shape))), sum(mul(mul(v, v), w(v.shape)))), sum(mul(uv, w(uv.shape))));
    },
    power: () => -1,
    kappa: svdKappa,
  },
  {
    name: 'eigh: ⟨w, λ⟩ (p = 0)',
    arb: symmetricArb,
    loss: (a, w) => {
      const { values } = eigh(a);
      return sum(mul(values, w(values.shape)));
    },
    power: () => 0,
    kappa: eighKappa,
  },
  {
    name: 'eigh: ⟨W₁, V∘V⟩ + ⟨W₂, V diag(c) Vᵀ⟩ (sign-invariant, p = −1)',
    arb: symmetricArb,
    loss: (a, w) => {
      const { vectors } = eigh(a);
      const n = vectors.shape[1]!;
      const vcv = matmul(mul(vectors, w([n])), mT(vectors));
      return add(sum(mul(mul(vectors, vectors), w(vectors.shape))), sum(mul(vcv, w(vcv.shape))));
    },
    power: () => -1,
    kappa: eighKappa,
  },
  {
    name: 'qr: ⟨W, Q⟩ (p = −1)',
    arb: generalArb(false),
    loss: (a, w) => {
      const { q } = qr(a);
      return sum(mul(q, w(q.shape)));
    },
    power: () => -1,
    kappa: kappaOf,
  },
  {
    name: 'qr: ⟨W, R⟩ (p = 0)',
    arb: generalArb(false),
    loss: (a, w) => {
      const { r } = qr(a);
      return sum(mul(r, w(r.shape)));
    },
    power: () => 0,
    kappa: kappaOf,
  },
  {
    name: 'det (p = n − 1)',
    arb: generalArb(true),
    loss: (a) => det(a),
    power: (a) => a.shape[0]! - 1,
    kappa: kappaOf,
  },
  {
    name: 'slogdet: log|det| (p = −1)',
    arb: generalArb(true),
    loss: (a) => slogdet(a).logAbsDet,
    power: () => -1,
    kappa: kappaOf,
  },
  {
    name: 'inv: ⟨W, A⁻¹⟩ (p = −2)',
    arb: generalArb(true),
    loss: (a, w) => sum(mul(inv(a), w(a.shape))),
    power: () => -2,
    kappa: kappaOf,
  },
  {
    name: 'solve: ⟨w, A⁻¹b⟩ in A (p = −2)',
    arb: generalArb(true),
    // one column: gA = −gB xᵀ is then an outer product; a sum over columns could cancel below
    // the rounding of its terms, which κ does not bound
    loss: (a, w) => {
      const b = w([a.shape[0]!, 1]);
      return sum(mul(solve(a, b), w(b.shape)));
    },
    power: () => -2,
    kappa: kappaOf,
  },
  {
    name: 'matrixNorm 2 (p = 0)',
    arb: generalArb(false),
    loss: (a) => matrixNorm(a, 2),
    power: () => 0,
    kappa: svdKappa,
  },
  {
    name: "matrixNorm 'nuc' (p = 0)",
    arb: generalArb(false),
    loss: (a) => matrixNorm(a, 'nuc'),
    power: () => 0,
    kappa: kappaOf,
  },
];

/**
 * Weights of `dtype` drawn in order from one seed, so that both evaluations of a loss see the
 * same ones; `max` is the largest |w| drawn so far (1 before any).
 */
function weightSource(seed: number, dtype: DType): { draw: (shape: readonly number[]) => Tensor; max: () => number } {
  let calls = 0;
  let max = 1;
  return {
    draw: (shape) => {
      const w = new Random(seed + 7919 * calls++).normal(shape, { dtype });
      for (const x of w.toTypedArray()) max = Math.max(max, Math.abs(x));
      return w;
    },
    max: () => max,
  };
}

describe.each(['float64', 'float32'] as const)('%s gradients are scale-equivariant', (dtype) => {
  for (const c of cases) {
    it(c.name, () => {
      // the float32 case starts from A rounded to float32; its float64 gradient is the reference
      const arb = c.arb.chain((a) => {
        const base = a.astype(dtype);
        return fc.tuple(fc.constant(base), fc.nat(), scaleArb(dtype, c.power(base)));
      });
      fc.assert(
        fc.property(arb, ([base, seed, scale]) => {
          const p = c.power(base);
          const weights = weightSource(seed, 'float64');
          const reference = grad((x: Variable) => c.loss(x, weights.draw))(base.astype('float64')).value;
          const actual = grad((x: Variable) => c.loss(x, weightSource(seed, dtype).draw))(T.mul(base, scale)).value;
          expect(actual.dtype).toBe(dtype);
          const a64 = base.astype('float64');
          const tol = 16 * sizeOf(base) * epsOf(dtype) * c.kappa(a64) ** 2;
          const sigmaMax = singularValues(a64)[0] ?? 1;
          const termSize = weights.max() * timesPower(T.tensor([sigmaMax ** p]), scale, p)[0]!;
          expectNormwiseClose(actual, timesPower(reference, scale, p), tol, termSize, `${c.name} at ${scale}·A`);
        }),
        RUNS,
      );
    });
  }
});

describe('the scaled rules stay differentiable', () => {
  // at c = 5 or 1/5 the scale exponents are non-zero, so the power-of-two factors are in the graph
  const scaledArb = (arb: fc.Arbitrary<Tensor>): fc.Arbitrary<Tensor> =>
    fc
      .tuple(arb, fc.constantFrom(5, 0.2))
      .map(([a, c]) => T.mul(a, c))
      .filter((a) => a.shape[0]! <= 3 && a.shape[1]! <= 3);
  const flatJoin = (...xs: Variable[]): Variable => concat(xs.map((x) => flatten(x)));
  const SECOND_ORDER = { numRuns: 15 };

  it('gradchecks svd U∘U, V∘V and U diag(c) Vᵀ, and eigh V∘V and V diag(c) Vᵀ, at second order', () => {
    fc.assert(
      fc.property(scaledArb(generalArb(false)), (a) => {
        const c = T.tensor(Array.from({ length: Math.min(...a.shape) }, (_, i) => i + 1));
        gradcheck(
          (x) => {
            const { u, v } = svd(x);
            return flatJoin(mul(u, u), mul(v, v), matmul(mul(u, c), mT(v)));
          },
          [a],
          { order: 2 },
        );
      }),
      SECOND_ORDER,
    );
    fc.assert(
      fc.property(scaledArb(symmetricArb), (a) => {
        const c = T.tensor(Array.from({ length: a.shape[0]! }, (_, i) => i + 1));
        gradcheck(
          (x) => {
            const { vectors } = eigh(x);
            return flatJoin(mul(vectors, vectors), matmul(mul(vectors, c), mT(vectors)));
          },
          [a],
          { order: 2 },
        );
      }),
      SECOND_ORDER,
    );
  });

  it('gradchecks det, inv, solve and expm (with a scaled cotangent) at second order', () => {
    fc.assert(
      fc.property(scaledArb(generalArb(true)), (a) => {
        gradcheck(det, [a], { order: 2 });
        gradcheck(inv, [a], { order: 2 });
        gradcheck((x) => solve(x, T.tensor(Array.from({ length: a.shape[0]! }, (_, i) => i - 1))), [a], { order: 2 });
        // expm's entries stay moderate at scale 0.2 only; its rule scales the cotangent, which gradcheck draws freely
        if (T.max(T.abs(a)).item() < 1) gradcheck((x) => mul(expm(x), 5), [a], { order: 2 });
      }),
      SECOND_ORDER,
    );
  });
});
