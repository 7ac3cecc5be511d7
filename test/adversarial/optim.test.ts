/**
 * Adversarial battery for the optimisers, gradient clipping and the Stiefel 'exp' retraction.
 * References are independent of the code under test: PyTorch's update rules written out on
 * plain numbers, Riemannian steps assembled from the manifold's own primitives, a bit-exact
 * snapshot taken before a refused step, Math.hypot (overflow-safe) for norms, and closed forms
 * (XᵀX = I, the great circle, 2π-periodic rotations) for the retraction.
 */
import { describe, expect } from 'vitest';
import * as T from '@hyperconn/tensor';
import { NonFiniteError, Random, type Tensor, ValueError, epsOf } from '@hyperconn/tensor';
import { Variable, optim, param } from '@hyperconn/autograd';
import {
  Birkhoff,
  ManifoldParameter,
  Orthogonal,
  RiemannianAdam,
  RiemannianSGD,
  SpectralSphere,
  Stiefel,
  type Manifold,
} from '@hyperconn/manifolds';
import { battery, type Case } from './battery';
import { expectClose } from '../support/assert';
import { optimizerSnapshot } from '../support/optim';

type Policy = optim.NonFinitePolicy;
interface Stepper {
  step(): void;
  readonly skippedSteps: number;
  readonly paramGroups: readonly Record<string, unknown>[];
  stateDict(): optim.OptimizerStateDict<object>;
}

const arrays = (ps: readonly Variable[]): number[][] => ps.map((p) => Array.from(p.value.toTypedArray()));

// ---------------------------------------------------------------------------------------------
// Independent references: PyTorch's rules on plain numbers, and Riemannian steps from primitives

interface Hyper {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  betas: [number, number];
  eps: number;
}
const HYPER: Hyper = {
  lr: 0.1,
  weightDecay: 0.01,
  momentum: 0.9,
  dampening: 0,
  nesterov: true,
  betas: [0.8, 0.99],
  eps: 1e-8,
};

/** torch.optim.SGD: d = g + wd·p; b = d first, then μb + (1 − τ)d; step d + μb (Nesterov) or b. */
function sgdReference(p0: readonly number[], grads: readonly (readonly number[])[], h: Hyper): number[] {
  let p = [...p0];
  let b: number[] | null = null;
  for (const g of grads) {
    const d = g.map((gi, i) => gi + h.weightDecay * p[i]!);
    if (h.momentum === 0) {
      p = p.map((pi, i) => pi - h.lr * d[i]!);
      continue;
    }
    const prev: number[] | null = b;
    const buf: number[] = prev === null ? [...d] : prev.map((bi, i) => h.momentum * bi + (1 - h.dampening) * d[i]!);
    b = buf;
    const step = h.nesterov ? d.map((di, i) => di + h.momentum * buf[i]!) : buf;
    p = p.map((pi, i) => pi - h.lr * step[i]!);
  }
  return p;
}

/** torch.optim.Adam (L2 decay in the gradient) or AdamW (p·(1 − lr·wd) first), eps after the corrected root. */
function adamReference(
  p0: readonly number[],
  grads: readonly (readonly number[])[],
  h: Hyper,
  decoupled: boolean,
): number[] {
  let p = [...p0];
  let m = p.map(() => 0);
  let v = p.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    const [b1, b2] = h.betas;
    const gi = g.map((x, i) => (decoupled ? x : x + h.weightDecay * p[i]!));
    if (decoupled) p = p.map((x) => x * (1 - h.lr * h.weightDecay));
    m = m.map((x, i) => b1 * x + (1 - b1) * gi[i]!);
    v = v.map((x, i) => b2 * x + (1 - b2) * gi[i]! * gi[i]!);
    p = p.map((x, i) => x - ((h.lr / (1 - b1 ** t)) * m[i]!) / (Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + h.eps));
  });
  return p;
}

/**
 * Riemannian SGD with momentum from the manifold's primitives: r = rgrad, b as SGD's, x ← R_x(−lr·b), b ← transport.
 */
function rsgdReference(manifold: Manifold, x0: Tensor, grads: readonly Tensor[], h: Hyper): Tensor {
  let x = x0;
  let b: Tensor | null = null;
  for (const g of grads) {
    const r = manifold.egradToRgrad(x, g);
    b = b === null ? r : T.add(T.mul(b, h.momentum), T.mul(r, 1 - h.dampening));
    const direction = h.nesterov ? T.add(r, T.mul(b, h.momentum)) : b;
    const y = manifold.retract(x, T.mul(direction, -h.lr));
    b = manifold.transport(x, y, b);
    x = y;
  }
  return x;
}

/** Riemannian Adam from the primitives: second moment = squared metric norm, eps after the corrected root. */
function radamReference(manifold: Manifold, x0: Tensor, grads: readonly Tensor[], h: Hyper): Tensor {
  let x = x0;
  let m = T.zerosLike(x0);
  let v = 0;
  grads.forEach((g, k) => {
    const t = k + 1;
    const [b1, b2] = h.betas;
    const r = manifold.egradToRgrad(x, g);
    m = T.add(T.mul(m, b1), T.mul(r, 1 - b1));
    v = b2 * v + (1 - b2) * manifold.inner(x, r, r).item();
    const y = manifold.retract(x, T.mul(m, -(h.lr / (1 - b1 ** t)) / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + h.eps)));
    m = manifold.transport(x, y, m);
    x = y;
  });
  return x;
}

// ---------------------------------------------------------------------------------------------
// Rigs: an optimiser over two parameters, clean gradients, and the reference after k clean steps

interface Rig {
  name: string;
  /** A fresh optimiser over fresh parameters (the second one is where bad values go by default). */
  make(policy: Policy): { opt: Stepper; ps: Variable[] };
  grads: number[][][];
  /** The parameters after the first k clean steps, computed independently. */
  reference(k: number): number[][];
}

const rng = new Random(2026);
const stiefel32 = new Stiefel(3, 2);
const X0 = stiefel32.randomPoint(rng);
const W0 = [0.5, -1, 2];
const P0: [number[], number[]] = [
  [1, -2],
  [0.5, 3],
];
const euclideanGrads = Array.from({ length: 4 }, () => [
  Array.from(rng.normal([2]).toTypedArray()),
  Array.from(rng.normal([2]).toTypedArray()),
]);
const riemannianGrads = Array.from({ length: 4 }, () => [
  Array.from(rng.normal([3, 2]).toTypedArray()),
  Array.from(rng.normal([3]).toTypedArray()),
]);

function euclideanRig(name: 'SGD' | 'Adam' | 'AdamW'): Rig {
  const h = name === 'AdamW' ? { ...HYPER, weightDecay: 0.1 } : HYPER;
  return {
    name,
    make(policy) {
      const ps = [param(P0[0], { name: 'a' }), param(P0[1], { name: 'b' })];
      const options = { lr: h.lr, weightDecay: h.weightDecay, nonFinite: policy };
      const opt =
        name === 'SGD'
          ? new optim.SGD(ps, { ...options, momentum: h.momentum, nesterov: h.nesterov })
          : new (name === 'Adam' ? optim.Adam : optim.AdamW)(ps, { ...options, betas: h.betas, eps: h.eps });
      return { opt: opt as unknown as Stepper, ps };
    },
    grads: euclideanGrads,
    reference: (k) =>
      P0.map((p0, i) => {
        const gs = euclideanGrads.slice(0, k).map((step) => step[i]!);
        return name === 'SGD' ? sgdReference(p0, gs, h) : adamReference(p0, gs, h, name === 'AdamW');
      }),
  };
}

function riemannianRig(name: 'RiemannianSGD' | 'RiemannianAdam'): Rig {
  const h: Hyper = { ...HYPER, weightDecay: 0, nesterov: false };
  return {
    name,
    make(policy) {
      const ps = [
        new ManifoldParameter(X0.clone(), stiefel32, { name: 'x' }),
        new Variable(T.tensor(W0), { requiresGrad: true, name: 'w' }),
      ];
      const opt =
        name === 'RiemannianSGD'
          ? new RiemannianSGD(ps, { lr: h.lr, momentum: h.momentum, nonFinite: policy })
          : new RiemannianAdam(ps, { lr: h.lr, betas: h.betas, eps: h.eps, nonFinite: policy });
      return { opt: opt as unknown as Stepper, ps };
    },
    grads: riemannianGrads,
    reference(k) {
      const steps = riemannianGrads.slice(0, k);
      const xs = steps.map((s) => T.tensor(s[0]!).reshape([3, 2]));
      const x = name === 'RiemannianSGD' ? rsgdReference(stiefel32, X0, xs, h) : radamReference(stiefel32, X0, xs, h);
      const ws = steps.map((s) => s[1]!);
      const w = name === 'RiemannianSGD' ? sgdReference(W0, ws, h) : adamReference(W0, ws, h, false);
      return [Array.from(x.toTypedArray()), w];
    },
  };
}

const RIGS: Rig[] = [
  euclideanRig('SGD'),
  euclideanRig('Adam'),
  euclideanRig('AdamW'),
  riemannianRig('RiemannianSGD'),
  riemannianRig('RiemannianAdam'),
];

function setGrads(ps: readonly Variable[], grads: readonly number[][]): void {
  ps.forEach((p, i) => {
    p.grad = new Variable(T.tensor(grads[i]!).reshape([...p.shape]));
  });
}
function cleanSteps(rig: Rig, opt: Stepper, ps: readonly Variable[], from: number, to: number): void {
  for (let k = from; k < to; k++) {
    setGrads(ps, rig.grads[k]!);
    opt.step();
  }
}
/** Clean gradients of step k with `bad` at element 1 of parameter `which`. */
function poisoned(rig: Rig, k: number, bad: number, which = 1): number[][] {
  return rig.grads[k]!.map((g, i) => (i === which ? g.map((x, j) => (j === 1 ? bad : x)) : g));
}
const refTol = { rtol: 1e-13, atol: 1e-14 };

const cases: Case[] = [];

// --- every optimiser × NaN/+∞/−∞ × throw/skip ------------------------------------------------
for (const rig of RIGS) {
  for (const bad of [NaN, Infinity, -Infinity]) {
    // the manifold parameter of the Riemannian rigs gets the NaN, the plain one the infinities
    const which = rig.name.startsWith('Riemannian') && Number.isNaN(bad) ? 0 : 1;
    cases.push({
      name: `${rig.name}: gradient entry ${bad} with nonFinite 'throw'`,
      run: () => {
        const { opt, ps } = rig.make('throw');
        cleanSteps(rig, opt, ps, 0, 1);
        setGrads(ps, poisoned(rig, 1, bad, which));
        opt.step();
      },
      error: NonFiniteError,
      op: rig.name,
    });
    cases.push({
      name:
        `${rig.name}: gradient entry ${bad} with nonFinite 'skip' ` +
        `is skipped, counted, and changes nothing (bit-identical)`,
      run: () => {
        const { opt, ps } = rig.make('skip');
        cleanSteps(rig, opt, ps, 0, 1);
        const before = optimizerSnapshot(opt, ps) as object;
        setGrads(ps, poisoned(rig, 1, bad, which));
        opt.step();
        return { before, after: optimizerSnapshot(opt, ps), skipped: opt.skippedSteps };
      },
      check: (value) => {
        const { before, after, skipped } = value as { before: object; after: unknown; skipped: number };
        expect(skipped).toBe(1);
        expect(after).toEqual({ ...before, skippedSteps: 1 });
      },
    });
  }

  cases.push({
    name:
      `${rig.name}: after a refused NaN step the parameters, ` +
      `moments, counters and groups are bit-identical to before`,
    run: () => {
      const { opt, ps } = rig.make('throw');
      cleanSteps(rig, opt, ps, 0, 2);
      const before = optimizerSnapshot(opt, ps);
      setGrads(ps, poisoned(rig, 2, NaN));
      let error: unknown = null;
      try {
        opt.step();
      } catch (e) {
        error = e;
      }
      return { error, before, after: optimizerSnapshot(opt, ps) };
    },
    check: (value) => {
      const { error, before, after } = value as { error: unknown; before: unknown; after: unknown };
      expect(error).toBeInstanceOf(NonFiniteError);
      expect(after).toEqual(before);
    },
  });

  cases.push({
    name: `${rig.name}: later clean steps after a refused step match PyTorch's rule on the clean gradients alone`,
    run: () => {
      const { opt, ps } = rig.make('throw');
      cleanSteps(rig, opt, ps, 0, 2);
      setGrads(ps, poisoned(rig, 2, -Infinity));
      expect(() => opt.step()).toThrow(NonFiniteError);
      cleanSteps(rig, opt, ps, 2, 4);
      return arrays(ps);
    },
    check: (value) =>
      (value as number[][]).forEach((p, i) => {
        expectClose(p, rig.reference(4)[i]!, refTol);
      }),
  });

  cases.push({
    name: `${rig.name}: with 'skip', three poisoned steps among four clean ones end where the clean run does`,
    run: () => {
      const { opt, ps } = rig.make('skip');
      for (let k = 0; k < 4; k++) {
        setGrads(ps, poisoned(rig, k, [NaN, Infinity, -Infinity][k % 3]!, k % 2));
        if (k < 3) opt.step();
        cleanSteps(rig, opt, ps, k, k + 1);
      }
      return { values: arrays(ps), skipped: opt.skippedSteps };
    },
    check: (value) => {
      const { values, skipped } = value as { values: number[][]; skipped: number };
      expect(skipped).toBe(3);
      values.forEach((p, i) => {
        expectClose(p, rig.reference(4)[i]!, refTol);
      });
    },
  });
}

// --- hyper-parameters set after construction ---------------------------------------------------
const commonBad: [string, (g: Record<string, unknown>) => void][] = [
  ['lr = NaN', (g) => (g.lr = NaN)],
  ['lr = −1', (g) => (g.lr = -1)],
  ['lr = Infinity', (g) => (g.lr = Infinity)],
  ['weightDecay = −0.5', (g) => (g.weightDecay = -0.5)],
];
const specificBad: Record<string, [string, (g: Record<string, unknown>) => void][]> = {
  SGD: [
    ['momentum = NaN', (g) => (g.momentum = NaN)],
    ['dampening = NaN', (g) => (g.dampening = NaN)],
  ],
  Adam: [
    ['betas = [1, 0.99]', (g) => (g.betas = [1, 0.99])],
    ['betas = [0.9, NaN]', (g) => (g.betas = [0.9, NaN])],
    ['eps = NaN', (g) => (g.eps = NaN)],
  ],
  AdamW: [
    ['betas = [−0.1, 0.99]', (g) => (g.betas = [-0.1, 0.99])],
    ['eps = −1e-8', (g) => (g.eps = -1e-8)],
  ],
  RiemannianSGD: [
    ['nesterov = true without momentum', (g) => Object.assign(g, { nesterov: true, momentum: 0 })],
    ['dampening = 1.5', (g) => (g.dampening = 1.5)],
  ],
  RiemannianAdam: [
    ['betas = [0.9, 1]', (g) => (g.betas = [0.9, 1])],
    ["amsgrad = 'no'", (g) => (g.amsgrad = 'no')],
  ],
};
for (const rig of RIGS) {
  for (const [what, change] of [...commonBad, ...specificBad[rig.name]!]) {
    cases.push({
      name: `${rig.name}: ${what} set after construction`,
      run: () => {
        const { opt, ps } = rig.make('skip'); // not a non-finite gradient: never skipped
        cleanSteps(rig, opt, ps, 0, 1);
        change(opt.paramGroups[0] as Record<string, unknown>);
        setGrads(ps, rig.grads[1]!);
        opt.step();
      },
      error: ValueError,
      op: rig.name,
    });
  }
}
cases.push({
  name: 'SGD: a refused lr = NaN changes nothing, and the message names the optimiser, group and hyper-parameter',
  run: () => {
    const rig = RIGS[0]!;
    const { opt, ps } = rig.make('throw');
    cleanSteps(rig, opt, ps, 0, 1);
    const before = arrays(ps);
    const stateBefore = optimizerSnapshot(opt, ps) as { state: unknown };
    opt.paramGroups[0]!.lr = NaN;
    setGrads(ps, rig.grads[1]!);
    let message = '';
    try {
      opt.step();
    } catch (e) {
      message = (e as Error).message;
    }
    return {
      message,
      before,
      after: arrays(ps),
      stateBefore: stateBefore.state,
      stateAfter: (optimizerSnapshot(opt, ps) as { state: unknown }).state,
    };
  },
  check: (value) => {
    const v = value as {
      message: string;
      before: number[][];
      after: number[][];
      stateBefore: unknown;
      stateAfter: unknown;
    };
    expect(v.message).toBe('SGD: lr (group 0) must be finite and ≥ 0, got NaN');
    expect(v.after).toEqual(v.before);
    expect(v.stateAfter).toEqual(v.stateBefore);
  },
});

// --- overflowing updates, non-finite parameters, options, state dicts --------------------------
for (const [name, make] of [
  ['SGD', () => new optim.SGD([param([1, 2], { name: 'w' })], { lr: 1e300 })],
  ['Adam', () => new optim.Adam([param([1, 2], { name: 'w' })], { lr: 0.1 })],
  ['AdamW', () => new optim.AdamW([param([1, 2], { name: 'w' })], { lr: 0.1 })],
  ['RiemannianAdam', () => new RiemannianAdam([new Variable(T.tensor([1, 2]), { requiresGrad: true })], { lr: 0.1 })],
] as const) {
  // SGD: 1 − 1e300·1e10 overflows the value; Adam: (1e160)² overflows the second moment
  const gradient = name === 'SGD' ? [1e10, 0] : [1e160, 1];
  cases.push({
    name: `${name}: a finite gradient ${gradient[0]} whose update overflows`,
    run: () => {
      const opt = make();
      opt.paramGroups[0]!.params[0]!.grad = new Variable(T.tensor(gradient));
      opt.step();
    },
    error: NonFiniteError,
    op: name,
  });
}
cases.push({
  name: "Adam with nonFinite 'skip': an overflowing second moment skips the step, parameter and state untouched",
  run: () => {
    const w = param([1, 2]);
    const opt = new optim.Adam([w], { lr: 0.1, nonFinite: 'skip' });
    w.grad = new Variable(T.tensor([1, -1]));
    opt.step();
    const before = optimizerSnapshot(opt as unknown as Stepper, [w]) as object;
    w.grad = new Variable(T.tensor([1e200, 1]));
    opt.step();
    return { before, after: optimizerSnapshot(opt as unknown as Stepper, [w]) };
  },
  check: (value) => {
    const { before, after } = value as { before: object; after: unknown };
    expect(after).toEqual({ ...before, skippedSteps: 1 });
  },
});
cases.push({
  name: "a NaN parameter value under nonFinite 'skip' (SGD)",
  run: () => {
    const w = param([1, NaN]);
    w.grad = new Variable(T.tensor([1, 1]));
    new optim.SGD([w], { lr: 0.1, nonFinite: 'skip' }).step();
  },
  error: NonFiniteError,
  op: 'SGD',
});
cases.push({
  name: "an infinite plain parameter next to a ManifoldParameter under nonFinite 'skip' (RiemannianSGD)",
  run: () => {
    const x = new ManifoldParameter(X0.clone(), stiefel32);
    const w = new Variable(T.tensor([Infinity]), { requiresGrad: true });
    x.grad = new Variable(T.ones([3, 2]));
    w.grad = new Variable(T.tensor([1]));
    new RiemannianSGD([x, w], { lr: 0.1, nonFinite: 'skip' }).step();
  },
  error: NonFiniteError,
  op: 'RiemannianSGD',
});
cases.push({
  name: "SGD: nonFinite: 'ignore'",
  run: () => new optim.SGD([param([1])], { nonFinite: 'ignore' as Policy }),
  error: ValueError,
  op: 'SGD',
});
cases.push({
  name: 'RiemannianAdam: nonFinite: null',
  run: () => new RiemannianAdam([param([1])], { lr: 0.1, nonFinite: null as unknown as Policy }),
  error: ValueError,
  op: 'RiemannianAdam',
});
cases.push({
  name: 'Adam.loadStateDict: a NaN in a saved moment',
  run: () => {
    const w = param([1, 2]);
    const opt = new optim.Adam([w]);
    w.grad = new Variable(T.tensor([1, 1]));
    opt.step();
    const dict = opt.stateDict();
    dict.state.get(0)!.expAvg = T.tensor([0.1, NaN]);
    opt.loadStateDict(dict);
  },
  error: NonFiniteError,
  op: 'Adam.loadStateDict',
});
cases.push({
  name: 'RiemannianSGD.loadStateDict: skippedSteps = 1.5',
  run: () => {
    const opt = new RiemannianSGD([new ManifoldParameter(X0.clone(), stiefel32)], { lr: 0.1 });
    opt.loadStateDict({ ...opt.stateDict(), skippedSteps: 1.5 });
  },
  error: ValueError,
  op: 'RiemannianSGD.loadStateDict',
});

// --- clipGradNorm at 1e±155, 1e±300, 0, subnormal, beyond float64, NaN/±∞ ---------------------
/** Runs clipGradNorm on fresh parameters with these gradients: the norm and the gradients after. */
function clip(
  grads: number[][],
  maxNorm: number,
  options?: optim.ClipGradNormOptions,
): { norm: number; after: number[][]; same: boolean[] } {
  const ps = grads.map((g) => param(g.map(() => 0)));
  const originals = grads.map((g) => new Variable(T.tensor(g)));
  ps.forEach((p, i) => {
    p.grad = originals[i]!;
  });
  const norm = optim.clipGradNorm(ps, maxNorm, options);
  return {
    norm,
    after: ps.map((p) => Array.from(p.grad!.value.toTypedArray())),
    same: ps.map((p, i) => p.grad === originals[i]),
  };
}
for (const scale of [1e155, 1e-155, 1e300, 1e-300]) {
  const grads = [[3 * scale, -4 * scale], [12 * scale]];
  cases.push({
    name:
      `clipGradNorm: entries of ${scale} give their norm to rounding ` +
      `(Math.hypot as the reference), clipped to maxNorm 1e-3`,
    run: () => clip(grads, 1e-3),
    check: (value) => {
      const { norm, after } = value as ReturnType<typeof clip>;
      const reference = Math.hypot(...grads.flat());
      expectClose(norm, reference, { rtol: 4 * epsOf('float64'), atol: 0 });
      const factor = reference > 1e-3 ? 1e-3 / (reference + 1e-6) : 1;
      after.forEach((g, i) => {
        expectClose(
          g,
          grads[i]!.map((x) => x * factor),
          { rtol: 8 * epsOf('float64'), atol: 0 },
        );
      });
    },
  });
}
cases.push({
  name: 'clipGradNorm: all-zero gradients have norm 0 and stay as they are',
  run: () => clip([[0, -0], [0]], 1),
  check: (value) => {
    const { norm, same } = value as ReturnType<typeof clip>;
    expect(norm).toBe(0);
    expect(same).toEqual([true, true]);
  },
});
cases.push({
  name: 'clipGradNorm: subnormal entries (5e-324) have a nonzero norm',
  run: () => clip([[5e-324, 5e-324], [1e-323]], 1),
  check: (value) =>
    expectClose((value as ReturnType<typeof clip>).norm, Math.hypot(5e-324, 5e-324, 1e-323), { rtol: 0, atol: 5e-324 }),
});
cases.push({
  name: 'clipGradNorm: a norm beyond float64 (entries 1.5e308) is +∞, and the gradients are still scaled to maxNorm',
  run: () => clip([[1.5e308], [-1.5e308, 1e308]], 2),
  check: (value) => {
    const { norm, after } = value as ReturnType<typeof clip>;
    expect(norm).toBe(Infinity);
    const unit = Math.hypot(1.5, 1.5, 1); // the norm in units of 1e308
    expectClose(
      after.flat(),
      [1.5, -1.5, 1].map((x) => (2 * x) / unit),
      { rtol: 8 * epsOf('float64'), atol: 0 },
    );
  },
});
for (const bad of [NaN, Infinity, -Infinity]) {
  cases.push({
    name: `clipGradNorm: a ${bad} entry (default 'throw')`,
    run: () =>
      clip(
        [
          [1, 2],
          [3, bad],
        ],
        1,
      ),
    error: NonFiniteError,
    op: 'clipGradNorm',
  });
  cases.push({
    name:
      `clipGradNorm: a ${bad} entry with nonFinite 'skip' ` +
      `returns the IEEE norm and leaves every gradient untouched`,
    run: () =>
      clip(
        [
          [1e155, 2],
          [3, bad],
        ],
        1,
        { nonFinite: 'skip' },
      ),
    check: (value) => {
      const { norm, same, after } = value as ReturnType<typeof clip>;
      expect(norm).toBe(Number.isNaN(bad) ? NaN : Infinity);
      expect(same).toEqual([true, true]);
      expect(after).toEqual([
        [1e155, 2],
        [3, bad],
      ]);
    },
  });
}
cases.push({
  name: "clipGradNorm: NaN and +∞ in different gradients with 'skip' → NaN",
  run: () => clip([[Infinity], [NaN]], 1, { nonFinite: 'skip' }).norm,
  check: (value) => expect(value).toBeNaN(),
});
cases.push({ name: 'clipGradNorm: maxNorm = NaN', run: () => clip([[1]], NaN), error: ValueError, op: 'clipGradNorm' });
cases.push({ name: 'clipGradNorm: maxNorm = −1', run: () => clip([[1]], -1), error: ValueError, op: 'clipGradNorm' });

// --- Riemannian steps on Stiefel / SpectralSphere / Birkhoff with bad gradients -------------------
const MANIFOLDS: [string, Manifold][] = [
  ['Stiefel(4, 2) exp', new Stiefel(4, 2, { retraction: 'exp' })],
  ['SpectralSphere(3, 4)', new SpectralSphere(3, 4)],
  ['Birkhoff(3)', new Birkhoff(3)],
];
for (const [label, manifold] of MANIFOLDS) {
  const local = new Random(label.length);
  const x0 = manifold.randomPoint(local);
  const grads = Array.from({ length: 3 }, () => local.normal([...manifold.shape]));
  const h: Hyper = { ...HYPER, weightDecay: 0, nesterov: false };
  for (const name of ['RiemannianSGD', 'RiemannianAdam'] as const) {
    const make = (policy: Policy): { opt: RiemannianSGD | RiemannianAdam; x: ManifoldParameter } => {
      const x = new ManifoldParameter(x0.clone(), manifold, { name: 'x' });
      const opt =
        name === 'RiemannianSGD'
          ? new RiemannianSGD([x], { lr: h.lr, momentum: h.momentum, nonFinite: policy })
          : new RiemannianAdam([x], { lr: h.lr, betas: h.betas, eps: h.eps, nonFinite: policy });
      return { opt, x };
    };
    const withBad = (value: number): Tensor => {
      const g = grads[1]!.clone();
      g.set([0, 1], value);
      return g;
    };
    cases.push({
      name: `${name} on ${label}: a NaN gradient entry`,
      run: () => {
        const { opt, x } = make('throw');
        x.grad = new Variable(grads[0]!);
        opt.step();
        x.grad = new Variable(withBad(NaN));
        opt.step();
      },
      error: NonFiniteError,
      op: name,
    });
    cases.push({
      name:
        `${name} on ${label}: after a refused +∞ step, two clean steps equal ` +
        `the steps from the manifold's primitives (momentum/moments intact)`,
      run: () => {
        const { opt, x } = make('throw');
        x.grad = new Variable(grads[0]!);
        opt.step();
        x.grad = new Variable(withBad(Infinity));
        expect(() => opt.step()).toThrow(NonFiniteError);
        for (const g of grads.slice(1)) {
          x.grad = new Variable(g);
          opt.step();
        }
        return x.value;
      },
      check: (value) => {
        const reference =
          name === 'RiemannianSGD' ? rsgdReference(manifold, x0, grads, h) : radamReference(manifold, x0, grads, h);
        expectClose(value as Tensor, reference, { rtol: 0, atol: 1e-12 });
        expect(manifold.check(value as Tensor).ok).toBe(true);
      },
    });
  }
}

/** Stiefel(3, 2) whose retraction throws its own typed error while `refuse` is set. */
class RefusingStiefel extends Stiefel {
  refuse = false;
  override retract(x: Tensor, v: Tensor): Tensor {
    if (this.refuse) throw new ValueError('RefusingStiefel.retract: refused');
    return super.retract(x, v);
  }
}
for (const name of ['RiemannianSGD', 'RiemannianAdam'] as const) {
  cases.push({
    name:
      `${name}: a retraction that throws on the second of two ` +
      `ManifoldParameters leaves both, and all state, bit-identical`,
    run: () => {
      const refusing = new RefusingStiefel(3, 2);
      const ps = [new ManifoldParameter(X0.clone(), stiefel32), new ManifoldParameter(X0.clone(), refusing)];
      const opt = (name === 'RiemannianSGD'
        ? new RiemannianSGD(ps, { lr: 0.1, momentum: 0.9 })
        : new RiemannianAdam(ps, { lr: 0.1 })) as unknown as Stepper;
      const g = (k: number): number[][] => [riemannianGrads[k]![0]!, riemannianGrads[k + 1]![0]!];
      setGrads(ps, g(0));
      opt.step();
      const before = optimizerSnapshot(opt, ps);
      refusing.refuse = true;
      setGrads(ps, g(1));
      let error: unknown = null;
      try {
        opt.step();
      } catch (e) {
        error = e;
      }
      return { error, before, after: optimizerSnapshot(opt, ps) };
    },
    check: (value) => {
      const { error, before, after } = value as { error: unknown; before: unknown; after: unknown };
      expect((error as Error).message).toBe('RefusingStiefel.retract: refused');
      expect(after).toEqual(before);
    },
  });
}

// --- the exp retraction at huge steps -------------------------------------------------------------
const orthonormalityError = (y: Tensor): number => {
  const p = y.shape[y.ndim - 1]!;
  return T.max(T.abs(T.sub(T.matmul(y.mT, y), T.eye(p)))).item();
};
for (const [n, p] of [
  [5, 3],
  [4, 4],
  [3, 2],
] as const) {
  const manifold = new Stiefel(n, p, { retraction: 'exp' });
  const local = new Random(n * 7 + p);
  const x = manifold.randomPoint(local, [2]);
  const xi = manifold.randomTangent(x, local);
  for (const size of [1e4, 1e8, 1e16, 1e300]) {
    cases.push({
      name: `Stiefel(${n}, ${p}) 'exp': a tangent step of norm ${size} lands on the manifold, XᵀX = I to 1e-12`,
      run: () => manifold.retract(x, T.mul(xi, size)),
      check: (value) => expect(orthonormalityError(value as Tensor)).toBeLessThanOrEqual(1e-12),
    });
  }
}
for (const size of [1e8, 1e16]) {
  cases.push({
    name:
      `Stiefel(5, 3) 'cayley': a tangent step of norm ${size} (the n×n ` +
      `solve drifts like eps·‖ξ‖) lands on the manifold, XᵀX = I to 1e-12`,
    run: () => {
      const manifold = new Stiefel(5, 3, { retraction: 'cayley' });
      const local = new Random(79);
      const x = manifold.randomPoint(local);
      return manifold.retract(x, T.mul(manifold.randomTangent(x, local), size));
    },
    check: (value) => expect(orthonormalityError(value as Tensor)).toBeLessThanOrEqual(1e-12),
  });
}
for (const [label, manifold] of MANIFOLDS.slice(1)) {
  cases.push({
    name: `${label}: RiemannianSGD with lr 1e200 keeps the iterate on the manifold (its own check)`,
    run: () => {
      const local = new Random(80);
      const x = new ManifoldParameter(manifold.randomPoint(local), manifold);
      const opt = new RiemannianSGD([x], { lr: 1e200 });
      x.grad = new Variable(local.normal([...manifold.shape]));
      opt.step();
      return x.value;
    },
    check: (value) => expect(manifold.check(value as Tensor)).toEqual({ ok: true, reason: '' }),
  });
}
for (const t of [1e4, 1e8]) {
  cases.push({
    name: `Stiefel(4, 1) 'exp' at step ${t} follows the great circle cos(t)·x + sin(t)·ξ (to t·eps)`,
    run: () => {
      const sphere = new Stiefel(4, 1, { retraction: 'exp' });
      const local = new Random(77);
      const x = sphere.randomPoint(local);
      const xi = sphere.randomTangent(x, local);
      return { got: sphere.retract(x, T.mul(xi, t)), expected: T.add(T.mul(x, Math.cos(t)), T.mul(xi, Math.sin(t))) };
    },
    check: (value) => {
      const { got, expected } = value as { got: Tensor; expected: Tensor };
      expectClose(got, expected, { rtol: 0, atol: 64 * t * epsOf('float64') });
    },
  });
}
cases.push({
  name: "Orthogonal(3) 'exp': a rotation by 2π·10⁶ about an axis returns to X",
  run: () => {
    const group = new Orthogonal(3, { retraction: 'exp' });
    const x = group.randomPoint(new Random(78));
    const omega = T.tensor([
      [0, -2 * Math.PI * 1e6, 0],
      [2 * Math.PI * 1e6, 0, 0],
      [0, 0, 0],
    ]);
    return { got: group.retract(x, T.matmul(x, omega)), x };
  },
  check: (value) => {
    const { got, x } = value as { got: Tensor; x: Tensor };
    expectClose(got, x, { rtol: 0, atol: 64 * 2 * Math.PI * 1e6 * epsOf('float64') });
  },
});

describe('adversarial battery: optimisers, clipGradNorm, the exp retraction', () => {
  battery(cases);
});
