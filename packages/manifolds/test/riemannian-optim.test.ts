/**
 * Riemannian SGD and Adam: convergence to known optima (top eigenvector, polar factor, an
 * entropic assignment in closed form) with every iterate checked on the manifold; bit-for-bit
 * agreement with autograd's SGD/Adam on plain parameters; Adam's step counter and eps convention
 * against a hand-computed run on the circle; state dicts; groups; errors.
 */
import { describe, expect, it } from 'vitest';
import * as T from '@hyperconn/tensor';
import { NonFiniteError, Random, ShapeError, type Tensor, ValueError, epsOf, type DType } from '@hyperconn/tensor';
import { Variable, log, matmul, mul, neg, optim, sum } from '@hyperconn/autograd';
import {
  Birkhoff,
  type Manifold,
  ManifoldParameter,
  Orthogonal,
  RiemannianAdam,
  RiemannianSGD,
  SpectralSphere,
  Stiefel,
} from '@hyperconn/manifolds';
import {
  expectDoublyStochastic,
  expectOnManifold,
  expectOrthogonal,
  expectTangent,
  expectUnitSpectralNorm,
} from '@hyperconn/manifolds/testing';
import { expectClose } from '../../../test/support/assert';
import { optimizerSnapshot } from '../../../test/support/optim';

/** Runs `steps` optimiser steps on `loss`, calling `check` after each one. */
function train(
  opt: { step(): void; zeroGrad(): void },
  loss: () => Variable,
  steps: number,
  check: (step: number) => void,
): void {
  for (let k = 0; k < steps; k++) {
    opt.zeroGrad();
    loss().backward();
    opt.step();
    check(k);
  }
}

/** A symmetric matrix Q diag(λ) Qᵀ with a random orthogonal Q. */
function symmetricWithSpectrum(lambda: readonly number[], rng: Random): Tensor {
  const q = rng.orthogonal(lambda.length);
  return T.matmul(T.mul(q, T.tensor([...lambda])), q.mT);
}

describe('convergence on problems with known optima, iterates on the manifold at every step', () => {
  const lambda = [3, 2, 1, 0.5, 0, -1];
  const a = symmetricWithSpectrum(lambda, new Random(1));
  const { values, vectors } = T.eigh(a);
  const lambdaMax = values.toTypedArray()[lambda.length - 1]!;
  const top = vectors.slice(null, [lambda.length - 1, lambda.length]); // [6, 1]
  const rayleigh = (x: Variable): Variable => neg(sum(mul(x, matmul(a, x))));

  it('RiemannianSGD with momentum on Stiefel(6, 1) finds the top eigenvector (Rayleigh quotient vs eigh)', () => {
    const sphere = new Stiefel(6, 1);
    const x = new ManifoldParameter(sphere.randomPoint(new Random(2)), sphere);
    const opt = new RiemannianSGD([x], { lr: 0.1, momentum: 0.5 });
    train(
      opt,
      () => rayleigh(x),
      150,
      () => {
        expectOrthogonal(x);
        expectOnManifold(sphere, x);
        const buffer = opt.stateDict().state.get(0)!.momentumBuffer as Tensor;
        expectTangent(sphere, x, buffer); // momentum was transported to the new point
      },
    );
    const alignment = Math.abs(T.sum(T.mul(x.value, top)).item());
    expect(1 - alignment).toBeLessThan(100 * epsOf('float64'));
    expectClose(-rayleigh(x).item(), lambdaMax, { rtol: 100 * epsOf('float64'), atol: 0 });
  });

  it('RiemannianAdam on SpectralSphere(6, 1) (the unit sphere again) finds it too, with a cosine schedule', () => {
    const sphere = new SpectralSphere(6, 1);
    const x = new ManifoldParameter(sphere.randomPoint(new Random(3)), sphere);
    const opt = new RiemannianAdam([x], { lr: 0.05 });
    const schedule = new optim.LRScheduler(opt, optim.cosineSchedule(400));
    train(
      opt,
      () => rayleigh(x),
      400,
      () => {
        schedule.step();
        expectUnitSpectralNorm(x);
      },
    );
    const alignment = Math.abs(T.sum(T.mul(x.value, top)).item());
    // Adam's normalised steps stop short of the optimum by about the last step sizes
    expect(1 - alignment).toBeLessThan(1e-8);
  });

  it('RiemannianSGD on O(4) finds the nearest orthogonal matrix: the polar factor of A (vs SVD)', () => {
    const rng = new Random(4);
    let target = rng.normal([4, 4]);
    // start at I, in SO(4); the polar factor lies in the same component only when det A > 0
    if (T.det(target).item() < 0) target = T.mul(target, T.tensor([[-1], [1], [1], [1]]));
    const { u, v } = T.svd(target);
    const polar = T.matmul(u, v.mT);
    for (const retraction of ['qr', 'polar', 'cayley', 'exp'] as const) {
      const group = new Orthogonal(4, { retraction });
      const x = new ManifoldParameter(T.eye(4), group);
      const opt = new RiemannianSGD([x], { lr: 0.3, momentum: 0.3 });
      const halfSquaredDistance = (): Variable => mul(sum(mul(x.sub(target), x.sub(target))), 0.5);
      train(opt, halfSquaredDistance, 120, () => expectOrthogonal(x));
      expectClose(x.value, polar, { atol: 1e3 * epsOf('float64'), rtol: 0 });
    }
  });

  it(
    'RiemannianSGD with the Fisher metric on 𝔅₄ converges to the ' +
      'entropic assignment of a hidden permutation (closed form)',
    () => {
      // min −⟨X, P*⟩ + τ Σ X log X over 𝔅ₙ has the symmetric solution p·P* + q·(1 − P*),
      // p/q = exp(1/τ), p + (n−1)q = 1: close to P* for small τ.
      const n = 4;
      const tau = 0.2;
      const perm = [2, 0, 3, 1];
      const hidden = T.tensor(perm.map((j) => perm.map((_, k) => (k === j ? 1 : 0))));
      const q = 1 / (Math.exp(1 / tau) + n - 1);
      const p = Math.exp(1 / tau) * q;
      const expected = T.add(T.mul(hidden, p - q), q);
      const birkhoff = new Birkhoff(n);
      const x = new ManifoldParameter(birkhoff.randomPoint(new Random(5)), birkhoff);
      const opt = new RiemannianSGD([x], { lr: 2 });
      const objective = (): Variable => sum(mul(x, log(x).mul(tau))).sub(sum(mul(x, hidden)));
      train(opt, objective, 120, () => {
        expectDoublyStochastic(x);
        expectOnManifold(birkhoff, x);
      });
      expectClose(x.value, expected, { atol: 1e3 * epsOf('float64'), rtol: 0 });
      expect(T.max(T.abs(T.sub(x.value, hidden))).item()).toBeLessThan(0.03); // near the vertex P*
    },
  );
});

describe('plain Variables get the Euclidean update of autograd, bit for bit', () => {
  /** Identical parameters (one of them a non-contiguous view) for two optimisers, and a gradient sequence. */
  function setup(dtype: DType): { make: () => Variable[]; grads: Tensor[][] } {
    const rng = new Random(6);
    const values = [rng.normal([3, 4], { dtype }), rng.normal([5], { dtype }), rng.normal([2, 3], { dtype })];
    const make = (): Variable[] =>
      values.map((v, i) => new Variable(i === 2 ? v.mT.contiguous().mT : v.clone(), { requiresGrad: true }));
    const grads = Array.from({ length: 6 }, () => values.map((v) => rng.normal(v.shape, { dtype })));
    return { make, grads };
  }

  function run(opt: { step(): void }, params: Variable[], grads: Tensor[][]): void {
    for (const step of grads) {
      params.forEach((p, i) => {
        p.grad = new Variable(step[i]!);
      });
      opt.step();
    }
  }

  const sgdConfigs = [
    { lr: 0.1 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 },
    { lr: 0.02, momentum: 0.8, nesterov: true, weightDecay: 0.1 },
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    for (const config of sgdConfigs) {
      it(`RiemannianSGD ≡ SGD (${dtype}, ${JSON.stringify(config)})`, () => {
        const { make, grads } = setup(dtype);
        const [mine, reference] = [make(), make()];
        run(new RiemannianSGD(mine, config), mine, grads);
        run(new optim.SGD(reference, config), reference, grads);
        mine.forEach((p, i) => {
          expect(p.value.toTypedArray()).toEqual(reference[i]!.value.toTypedArray());
        });
      });
    }
    it(`RiemannianAdam ≡ Adam (${dtype}, L2 weight decay)`, () => {
      const { make, grads } = setup(dtype);
      const [mine, reference] = [make(), make()];
      const config = { lr: 0.01, betas: [0.8, 0.95] as const, eps: 1e-6, weightDecay: 0.05 };
      run(new RiemannianAdam(mine, config), mine, grads);
      run(new optim.Adam(reference, config), reference, grads);
      mine.forEach((p, i) => {
        expect(p.value.toTypedArray()).toEqual(reference[i]!.value.toTypedArray());
      });
    });
  }

  it('RiemannianAdam with amsgrad on plain parameters follows a scalar re-implementation of PyTorch AMSGrad', () => {
    const [beta1, beta2, lr, eps] = [0.9, 0.99, 0.1, 1e-3];
    const gradients = [3, -2, 0.1, 0.05, 1, -0.01];
    const w = new Variable(T.tensor([0.7]), { requiresGrad: true });
    const opt = new RiemannianAdam([w], { lr, betas: [beta1, beta2], eps, amsgrad: true });
    let [x, m, v, vMax] = [0.7, 0, 0, 0];
    gradients.forEach((g, k) => {
      const t = k + 1;
      m = beta1 * m + (1 - beta1) * g;
      v = beta2 * v + (1 - beta2) * g * g;
      vMax = Math.max(vMax, v);
      x -= (lr / (1 - beta1 ** t)) * (m / (Math.sqrt(vMax) / Math.sqrt(1 - beta2 ** t) + eps));
      w.grad = new Variable(T.tensor([g]));
      opt.step();
      expectClose(w.value.item(), x, { rtol: 10 * epsOf('float64'), atol: 0 });
    });
    expect(vMax).toBeGreaterThan(v); // the gradients shrink, so the maximum mattered
  });
});

describe('RiemannianAdam conventions, against a run computed by hand on the circle St(2, 1)', () => {
  // On the unit circle: tangent τ = (−x₂, x₁), rgrad = (g·τ)τ, ‖rgrad‖² = (g·τ)², the QR
  // retraction of a vector is normalisation and transport is the tangent projection.
  const [beta1, beta2, lr] = [0.9, 0.999, 0.2];
  const gradients: [number, number][] = [
    [1, 2],
    [-0.5, 1.5],
    [2, -1],
  ];

  function byHand(eps: number, scaledEps: boolean, doubleCount: boolean): [number, number][] {
    let x: [number, number] = [Math.cos(0.3), Math.sin(0.3)];
    let m: [number, number] = [0, 0];
    let v = 0;
    const out: [number, number][] = [];
    gradients.forEach(([g1, g2], k) => {
      const t = doubleCount ? 2 * (k + 1) : k + 1;
      const tau: [number, number] = [-x[1], x[0]];
      const a = g1 * tau[0] + g2 * tau[1];
      m = [beta1 * m[0] + (1 - beta1) * a * tau[0], beta1 * m[1] + (1 - beta1) * a * tau[1]];
      v = beta2 * v + (1 - beta2) * a * a;
      const c2 = Math.sqrt(1 - beta2 ** t);
      const denom = scaledEps ? (Math.sqrt(v) + eps) / c2 : Math.sqrt(v) / c2 + eps;
      const scale = lr / (1 - beta1 ** t) / denom;
      const y: [number, number] = [x[0] - scale * m[0], x[1] - scale * m[1]];
      const r = Math.hypot(y[0], y[1]);
      x = [y[0] / r, y[1] / r];
      const along = x[0] * m[0] + x[1] * m[1];
      m = [m[0] - along * x[0], m[1] - along * x[1]];
      out.push(x);
    });
    return out;
  }

  function byOptimiser(eps: number): { iterates: [number, number][]; step: number } {
    const circle = new Stiefel(2, 1);
    const x = new ManifoldParameter(T.tensor([[Math.cos(0.3)], [Math.sin(0.3)]]), circle);
    const opt = new RiemannianAdam([x], { lr, betas: [beta1, beta2], eps });
    const iterates = gradients.map((g) => {
      x.grad = new Variable(T.tensor([[g[0]], [g[1]]]));
      opt.step();
      return x.value.toTypedArray() as unknown as [number, number];
    });
    return { iterates: iterates.map((it) => [it[0], it[1]]), step: opt.stateDict().state.get(0)!.step as number };
  }

  it('eps is added after the bias-corrected square root and the step counter advances once per step', () => {
    const eps = 0.05; // comparable to √v, so that the eps convention changes the steps visibly
    const { iterates, step } = byOptimiser(eps);
    expect(step).toBe(gradients.length);
    const tol = { atol: 100 * epsOf('float64'), rtol: 0 };
    expectClose(iterates.flat(), byHand(eps, false, false).flat(), tol);
    // the two published mistakes give visibly different iterates, so the comparison above can fail
    for (const wrong of [byHand(eps, true, false), byHand(eps, false, true)]) {
      const gap = Math.max(...iterates.flat().map((value, i) => Math.abs(value - wrong.flat()[i]!)));
      expect(gap).toBeGreaterThan(1e-3);
    }
  });

  it('the second moment is one number per matrix (the metric norm), repeated over its entries', () => {
    const sphere = new Stiefel(3, 2);
    const x = new ManifoldParameter(sphere.randomPoint(new Random(7), [2]), sphere);
    const g = new Random(8).normal([2, 3, 2]);
    x.grad = new Variable(g);
    const opt = new RiemannianAdam([x], { lr: 0.1, betas: [0.9, 0.99] });
    const before = x.value.clone();
    opt.step();
    const rgrad = sphere.egradToRgrad(before, g);
    const normSq = T.sum(T.mul(rgrad, rgrad), [-2, -1]).toTypedArray();
    const expectedSq = T.tensor(Array.from(normSq, (s) => Array.from({ length: 3 }, () => [s * 0.01, s * 0.01])));
    expectClose(opt.stateDict().state.get(0)!.expAvgSq as Tensor, expectedSq, { rtol: 10 * epsOf('float64'), atol: 0 });
    // first step: m̂ = r and √v̂ = ‖r‖ per matrix, so x₁ = R_x(−lr·r/(‖r‖ + eps)), a step of metric norm ≈ lr
    const scale = T.tensor(Array.from(normSq, (s) => [[-0.1 / (Math.sqrt(s) + 1e-8)]]));
    expectClose(x.value, sphere.retract(before, T.mul(rgrad, scale)), { atol: 100 * epsOf('float64'), rtol: 0 });
  });
});

describe('state dicts, parameter groups, weight decay and errors', () => {
  it('stateDict → loadStateDict into a fresh optimiser continues bit for bit (manifold and plain parameters)', () => {
    const sphere = new Stiefel(5, 2);
    const rng = new Random(9);
    const x0 = sphere.randomPoint(rng, [2]);
    const w0 = rng.normal([4]);
    const grads = Array.from({ length: 6 }, () => [rng.normal([2, 5, 2]), rng.normal([4])] as const);
    const feed = (params: Variable[], opt: { step(): void }, from: number, to: number): void => {
      for (let k = from; k < to; k++) {
        params[0]!.grad = new Variable(grads[k]![0]);
        params[1]!.grad = new Variable(grads[k]![1]);
        opt.step();
      }
    };
    /** Three steps, a snapshot, three more; then a fresh optimiser loads the snapshot and replays the last three. */
    const expectRoundTrip = <D>(
      make: (params: Variable[]) => { step(): void; stateDict(): D; loadStateDict(dict: D): void },
    ): void => {
      const first = [new ManifoldParameter(x0.clone(), sphere), new Variable(w0.clone(), { requiresGrad: true })];
      const opt = make(first);
      feed(first, opt, 0, 3);
      const saved = opt.stateDict();
      const midpoint = first.map((p) => p.value.clone());
      feed(first, opt, 3, 6);

      const second = [new ManifoldParameter(midpoint[0]!, sphere), new Variable(midpoint[1]!, { requiresGrad: true })];
      const restored = make(second);
      restored.loadStateDict(saved);
      feed(second, restored, 3, 6);
      second.forEach((p, i) => {
        expect(p.value.toTypedArray()).toEqual(first[i]!.value.toTypedArray());
      });
    };
    expectRoundTrip(
      (ps) =>
        new RiemannianAdam([{ params: [ps[0]!] }, { params: [ps[1]!], weightDecay: 0.1 }], { lr: 0.05, amsgrad: true }),
    );
    expectRoundTrip(
      (ps) =>
        new RiemannianSGD([{ params: [ps[0]!] }, { params: [ps[1]!], weightDecay: 0.1 }], { lr: 0.05, momentum: 0.9 }),
    );
  });

  it('loadStateDict rejects state of the wrong shape', () => {
    const sphere = new Stiefel(3, 1);
    const x = new ManifoldParameter(sphere.randomPoint(new Random(10)), sphere);
    const opt = new RiemannianAdam([x], { lr: 0.1 });
    x.grad = new Variable(T.ones([3, 1]));
    opt.step();
    const dict = opt.stateDict();
    dict.state.get(0)!.expAvg = T.zeros([1, 3]);
    expect(() => opt.loadStateDict(dict)).toThrow(ShapeError);
  });

  it('groups keep their own hyper-parameters; lr 0 leaves a group unchanged', () => {
    const orthogonal = new Orthogonal(3);
    const rng = new Random(11);
    const moving = new ManifoldParameter(orthogonal.randomPoint(rng), orthogonal);
    const frozen = new ManifoldParameter(orthogonal.randomPoint(rng), orthogonal);
    const frozenBefore = frozen.value.clone();
    const movingBefore = moving.value.clone();
    const opt = new RiemannianSGD([{ params: [moving] }, { params: [frozen], lr: 0 }], { lr: 0.1 });
    moving.grad = new Variable(rng.normal([3, 3]));
    frozen.grad = new Variable(rng.normal([3, 3]));
    opt.step();
    expect(frozen.value.toTypedArray()).toEqual(frozenBefore.toTypedArray());
    expectClose(
      moving.value,
      orthogonal.retract(movingBefore, T.mul(orthogonal.egradToRgrad(movingBefore, moving.grad.value), -0.1)),
      {
        atol: 10 * epsOf('float64'),
        rtol: 0,
      },
    );
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0]);
  });

  it('weight decay leaves ManifoldParameters alone (documented) and references to .value stay valid', () => {
    const birkhoff = new Birkhoff(3);
    const start = birkhoff.randomPoint(new Random(12));
    const g = new Random(13).normal([3, 3]);
    const results = [0, 0.5].map((weightDecay) => {
      const x = new ManifoldParameter(start.clone(), birkhoff);
      const held = x.value;
      const opt = new RiemannianSGD([x], { lr: 0.1, weightDecay });
      x.grad = new Variable(g);
      opt.step();
      expect(held).toBe(x.value);
      return x.value.toTypedArray();
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[0]).not.toEqual(start.toTypedArray());
  });

  it('ManifoldParameter checks its initial value and names the reason', () => {
    const sphere = new SpectralSphere(2, 2);
    expect(
      () =>
        new ManifoldParameter(
          T.tensor([
            [2, 0],
            [0, 1],
          ]),
          sphere,
        ),
    ).toThrow(ValueError);
    expect(
      () =>
        new ManifoldParameter(
          T.tensor([
            [2, 0],
            [0, 1],
          ]),
          sphere,
        ),
    ).toThrow(/SpectralSphere\(2, 2\).*σ_max = 2/);
    expect(() => new ManifoldParameter(T.ones([3, 3]), new Birkhoff(3))).toThrow(
      /not on Birkhoff\(3, fisher\).*sums to 3/,
    );
    const p = new ManifoldParameter(T.eye(2), sphere, { name: 'w' });
    expect([p.requiresGrad, p.name, p.manifold]).toEqual([true, 'w', sphere]);
  });

  it('hyper-parameters and gradients are validated', () => {
    const x = new ManifoldParameter(T.eye(2), new Orthogonal(2));
    expect(() => new RiemannianSGD([x], { lr: -1 })).toThrow(/RiemannianSGD: lr/);
    expect(() => new RiemannianSGD([x], { lr: 0.1, nesterov: true })).toThrow(/Nesterov/);
    expect(() => new RiemannianAdam([x], { lr: 0.1, betas: [1, 0.9] })).toThrow(/RiemannianAdam: betas/);
    const opt = new RiemannianSGD([x], { lr: 0.1 });
    x.grad = new Variable(T.ones([3, 3]));
    expect(() => opt.step()).toThrow(ShapeError);
  });
});

describe('all-or-nothing steps: bad gradients, retractions that throw, hyper-parameters changed later', () => {
  type AnyRiemannian = RiemannianSGD | RiemannianAdam;
  const manifolds: [string, () => Manifold][] = [
    ['Stiefel(5, 2) qr', () => new Stiefel(5, 2)],
    ['Stiefel(4, 3) exp', () => new Stiefel(4, 3, { retraction: 'exp' })],
    ['Orthogonal(3) cayley', () => new Orthogonal(3, { retraction: 'cayley' })],
    ['SpectralSphere(3, 4)', () => new SpectralSphere(3, 4)],
    ['Birkhoff(3)', () => new Birkhoff(3)],
  ];
  const optimisers: [string, (ps: Variable[], extra?: optim.OptimizerOptions) => AnyRiemannian][] = [
    [
      'RiemannianSGD',
      (ps, extra) =>
        new RiemannianSGD([{ params: [ps[0]!] }, { params: [ps[1]!], weightDecay: 0.1 }], {
          lr: 0.05,
          momentum: 0.9,
          ...extra,
        }),
    ],
    [
      'RiemannianAdam',
      (ps, extra) =>
        new RiemannianAdam([{ params: [ps[0]!] }, { params: [ps[1]!], weightDecay: 0.1 }], {
          lr: 0.05,
          amsgrad: true,
          ...extra,
        }),
    ],
  ];
  /** A ManifoldParameter 'x' and a plain Variable 'w', and five gradient pairs for them. */
  function setup(manifold: Manifold, seed: number): { fresh: () => Variable[]; grads: [Tensor, Tensor][] } {
    const rng = new Random(seed);
    const x0 = manifold.randomPoint(rng);
    const w0 = rng.normal([3]);
    const grads = Array.from(
      { length: 5 },
      () => [rng.normal([...manifold.shape]), rng.normal([3])] as [Tensor, Tensor],
    );
    return {
      fresh: () => [
        new ManifoldParameter(x0.clone(), manifold, { name: 'x' }),
        new Variable(w0.clone(), { requiresGrad: true, name: 'w' }),
      ],
      grads,
    };
  }
  function feed(opt: { step(): void }, ps: readonly Variable[], grads: readonly [Tensor, Tensor][]): void {
    for (const [gx, gw] of grads) {
      ps[0]!.grad = new Variable(gx);
      ps[1]!.grad = new Variable(gw);
      opt.step();
    }
  }

  for (const [manifoldName, makeManifold] of manifolds) {
    for (const [optName, make] of optimisers) {
      it(
        `${optName} on ${manifoldName}: a refused NaN step changes ` +
          `nothing, and every later step is that of a run without it`,
        () => {
          const manifold = makeManifold();
          const { fresh, grads } = setup(manifold, 21);
          const ps = fresh();
          const opt = make(ps);
          feed(opt, ps, grads.slice(0, 2));
          const before = optimizerSnapshot(opt, ps);
          const bad = grads[2]![0].clone();
          bad.set([1, 1], NaN);
          ps[0]!.grad = new Variable(bad);
          ps[1]!.grad = new Variable(grads[2]![1]);
          expect(() => opt.step()).toThrow(
            new NonFiniteError(
              `${optName}: the gradient of parameter 'x' (group 0, index 0) is not finite: NaN ` +
                `at element [1, 1] of shape [${manifold.shape.join(',')}]; nothing was changed`,
            ),
          );
          expect(optimizerSnapshot(opt, ps)).toEqual(before);
          feed(opt, ps, grads.slice(2));
          expectOnManifold(manifold, ps[0]!);
          const reference = fresh();
          feed(make(reference), reference, grads);
          ps.forEach((p, i) => {
            expect(p.value.toTypedArray()).toEqual(reference[i]!.value.toTypedArray());
          });
        },
      );
    }
  }

  it("with nonFinite 'skip' both optimisers skip and count ±∞ gradients on manifold and plain parameters", () => {
    for (const [, make] of optimisers) {
      const manifold = new Stiefel(4, 2);
      const { fresh, grads } = setup(manifold, 22);
      const ps = fresh();
      const opt = make(ps, { nonFinite: 'skip' });
      feed(opt, ps, grads.slice(0, 2));
      const before = optimizerSnapshot(opt, ps) as object;
      const inf = grads[2]![1].clone();
      inf.set([2], -Infinity);
      feed(opt, ps, [
        [grads[2]![0], inf],
        [T.mul(T.ones([4, 2]), Infinity), grads[2]![1]],
      ]);
      expect(opt.skippedSteps).toBe(2);
      expect(optimizerSnapshot(opt, ps)).toEqual({ ...before, skippedSteps: 2 });
      feed(opt, ps, grads.slice(2));
      const reference = fresh();
      feed(make(reference), reference, grads);
      ps.forEach((p, i) => {
        expect(p.value.toTypedArray()).toEqual(reference[i]!.value.toTypedArray());
      });
    }
  });

  it(
    'a retraction that throws in the middle of a step (second ' +
      'parameter) leaves the first parameter and all state untouched',
    () => {
      /** Stiefel(4, 2) whose retraction refuses while `refuse` is set. */
      class Refusing extends Stiefel {
        refuse = false;
        override retract(x: Tensor, v: Tensor): Tensor {
          if (this.refuse) throw new ValueError('Refusing.retract: refused');
          return super.retract(x, v);
        }
      }
      for (const [, make] of optimisers) {
        const refusing = new Refusing(4, 2);
        const rng = new Random(23);
        const [x0, y0] = [refusing.randomPoint(rng), refusing.randomPoint(rng)];
        const grads = Array.from({ length: 4 }, () => [rng.normal([4, 2]), rng.normal([4, 2])] as [Tensor, Tensor]);
        const fresh = (): Variable[] => [
          new ManifoldParameter(x0.clone(), new Stiefel(4, 2)),
          new ManifoldParameter(y0.clone(), refusing),
        ];
        const ps = fresh();
        const opt = make(ps, { nonFinite: 'skip' });
        feed(opt, ps, grads.slice(0, 2));
        const before = optimizerSnapshot(opt, ps);
        refusing.refuse = true;
        ps[0]!.grad = new Variable(grads[2]![0]);
        ps[1]!.grad = new Variable(grads[2]![1]);
        // not a non-finite value, so not skipped: the manifold's own typed error propagates
        expect(() => opt.step()).toThrow(/^Refusing.retract: refused$/);
        expect(optimizerSnapshot(opt, ps)).toEqual(before);
        refusing.refuse = false;
        feed(opt, ps, grads.slice(2));
        const reference = fresh();
        feed(make(reference), reference, grads);
        ps.forEach((p, i) => {
          expect(p.value.toTypedArray()).toEqual(reference[i]!.value.toTypedArray());
        });
      }
    },
  );

  it(
    'hyper-parameters set after construction are checked by ' +
      'step() with the optimiser, group and name in the message',
    () => {
      const { fresh, grads } = setup(new Stiefel(4, 2), 24);
      const cases: [number, (g: Record<string, unknown>) => void, RegExp][] = [
        [0, (g) => (g.lr = NaN), /^RiemannianSGD: lr \(group 1\) must be finite and ≥ 0, got NaN$/],
        [0, (g) => (g.momentum = -1), /^RiemannianSGD: momentum \(group 1\) must be finite and ≥ 0, got -1$/],
        [
          1,
          (g) => (g.betas = [0.9, 1]),
          /^RiemannianAdam: betas \(group 1\) must be two numbers in \[0, 1\), got \[0.9, 1\]$/,
        ],
        [1, (g) => (g.amsgrad = 1), /^RiemannianAdam: amsgrad \(group 1\) must be a boolean, got 1$/],
        [1, (g) => (g.eps = Infinity), /^RiemannianAdam: eps \(group 1\) must be finite and ≥ 0, got Infinity$/],
      ];
      for (const [which, change, message] of cases) {
        const ps = fresh();
        const opt = optimisers[which]![1](ps);
        feed(opt, ps, grads.slice(0, 1));
        const before = optimizerSnapshot(opt, ps);
        const group = opt.paramGroups[1] as unknown as Record<string, unknown>;
        const saved = { ...group };
        change(group);
        ps[0]!.grad = new Variable(grads[1]![0]);
        ps[1]!.grad = new Variable(grads[1]![1]);
        expect(() => opt.step()).toThrow(ValueError);
        expect(() => opt.step()).toThrow(message);
        Object.assign(group, saved); // the change undone: parameters and state must be as before
        expect(optimizerSnapshot(opt, ps)).toEqual(before);
      }
    },
  );

  it("huge steps with the 'exp' retraction keep iterates orthonormal to 1e-12", () => {
    for (const [n, p] of [
      [4, 4],
      [5, 2],
      [3, 2],
    ] as const) {
      const manifold = new Stiefel(n, p, { retraction: 'exp' });
      const x = new ManifoldParameter(manifold.randomPoint(new Random(25)), manifold);
      const opt = new RiemannianSGD([x], { lr: 1e8, momentum: 0.5 });
      const rng = new Random(26);
      for (let k = 0; k < 5; k++) {
        x.grad = new Variable(rng.normal([n, p]));
        opt.step();
        const gram = T.matmul(x.value.mT, x.value);
        expect(T.max(T.abs(T.sub(gram, T.eye(p)))).item()).toBeLessThanOrEqual(1e-12);
      }
    }
  });
});
