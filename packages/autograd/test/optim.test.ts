/**
 * Optimisers against updates worked out by hand (the formulas and numbers are in the
 * comments), AdamW's decoupling, parameter groups, state-dict round trips, gradient clipping
 * against a naive norm, and the learning-rate schedules against their closed forms.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NonFiniteError, Random, ShapeError, tensor, ValueError, type Tensor } from '@hyperconn/tensor';
import { add, mul, nn, optim, param, pow, square, sub, sum, Variable } from '@hyperconn/autograd';
import { expectClose } from '../../../test/support/assert';
import { optimizerSnapshot } from '../../../test/support/optim';

const A = tensor([1, 3]);

/** loss = ½ Σ aᵢ pᵢ², so ∂loss/∂p = a·p: the gradient changes from step to step. */
function quadraticStep(opt: { zeroGrad(): void; step(): void }, p: Variable, a: Tensor = A): void {
  opt.zeroGrad();
  mul(sum(mul(square(p), a)), 0.5).backward();
  opt.step();
}

const values = (v: Variable): number[] => Array.from(v.value.toTypedArray());

describe('SGD', () => {
  it('plain SGD is p ← p − lr·g', () => {
    const p = param([1, -2]);
    const opt = new optim.SGD([p], { lr: 0.1 });
    quadraticStep(opt, p); // g = [1, −6] → p = [1 − 0.1, −2 + 0.6]
    expectClose(values(p), [0.9, -1.4]);
    quadraticStep(opt, p); // g = [0.9, −4.2] → p = [0.9 − 0.09, −1.4 + 0.42]
    expectClose(values(p), [0.81, -0.98]);
  });

  it('momentum 0.9 with weight decay 0.01 matches three steps worked by hand', () => {
    const p = param([1, -2]);
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    // step 1: g = [1, −6], d = g + 0.01·p = [1.01, −6.02], b = d, p = p − 0.1·b = [0.899, −1.398]
    quadraticStep(opt, p);
    expectClose(values(p), [0.899, -1.398]);
    // step 2: g = [0.899, −4.194], d = [0.90799, −4.20798], b = 0.9·[1.01, −6.02] + d = [1.81699, −9.62598],
    //         p = [0.899 − 0.181699, −1.398 + 0.962598] = [0.717301, −0.435402]
    quadraticStep(opt, p);
    expectClose(values(p), [0.717301, -0.435402]);
    // step 3: g = [0.717301, −1.306206], d = [0.72447401, −1.31056002], b = 0.9·b + d = [2.35976501, −9.97394202],
    //         p = [0.717301 − 0.235976501, −0.435402 + 0.997394202] = [0.481324499, 0.561992202]
    quadraticStep(opt, p);
    expectClose(values(p), [0.481324499, 0.561992202]);
  });

  it('Nesterov steps with d + μ·b, and dampening scales the new gradient in the buffer', () => {
    const p = param([1, -2]);
    const nesterov = new optim.SGD([p], { lr: 0.1, momentum: 0.5, nesterov: true });
    // step 1: g = [1, −6], b = g, step = g + 0.5·b = [1.5, −9], p = [0.85, −1.1]
    quadraticStep(nesterov, p);
    expectClose(values(p), [0.85, -1.1]);
    // step 2: g = [0.85, −3.3], b = 0.5·[1, −6] + g = [1.35, −6.3], step = g + 0.5·b = [1.525, −6.45],
    //         p = [0.85 − 0.1525, −1.1 + 0.645] = [0.6975, −0.455]
    quadraticStep(nesterov, p);
    expectClose(values(p), [0.6975, -0.455]);

    const q = param([1, -2]);
    const damped = new optim.SGD([q], { lr: 0.1, momentum: 0.5, dampening: 0.5 });
    // step 1: b = g = [1, −6] (no dampening on the first step), q = [0.9, −1.4]
    quadraticStep(damped, q);
    expectClose(values(q), [0.9, -1.4]);
    // step 2: g = [0.9, −4.2], b = 0.5·[1, −6] + 0.5·g = [0.95, −5.1], q = [0.805, −0.89]
    quadraticStep(damped, q);
    expectClose(values(q), [0.805, -0.89]);
  });

  it('rejects Nesterov without momentum, negative hyper-parameters and unknown keys', () => {
    const p = param([1]);
    expect(() => new optim.SGD([p], { lr: 0.1, nesterov: true })).toThrow(
      /Nesterov momentum \(group 0\) needs momentum > 0/,
    );
    expect(() => new optim.SGD([p], { lr: -1 })).toThrow(ValueError);
    expect(() => new optim.SGD([{ params: [p], momentum: -0.5 }], { lr: 0.1 })).toThrow(/momentum \(group 0\)/);
    expect(() => new optim.SGD([p], { lr: 0.1, weight_decay: 0.1 } as never)).toThrow(
      /unknown hyper-parameter 'weight_decay'/,
    );
  });
});

describe('Adam and AdamW', () => {
  it('Adam matches three bias-corrected steps worked by hand', () => {
    const p = param([1, -2]);
    const opt = new optim.Adam([p], { lr: 0.1 });
    // step 1: g = [1, −6], m = 0.1·g, v = 0.001·g², m̂ = m/(1 − 0.9) = g, v̂ = v/(1 − 0.999) = g²,
    //         p ← p − 0.1·m̂/(√v̂ + 1e−8) = [1 − 0.1/(1 + 1e−8), −2 + 0.6/(6 + 1e−8)]
    quadraticStep(opt, p);
    expectClose(values(p), [1 - 0.1 / (1 + 1e-8), -2 + 0.6 / (6 + 1e-8)]);
    // step 2: g = [0.900000001, −5.7000000005], m = 0.9·m + 0.1·g = [0.1800000001, −1.11000000005],
    //         v = 0.999·v + 0.001·g² = [0.001809000001800, 0.068454000005700],
    //         p ← p − (0.1/0.19)·m / (√v/√0.001999 + 1e−8)
    quadraticStep(opt, p);
    expectClose(values(p), [0.8004122297123382, -1.800166485947237]);
    // step 3 (same formulas with t = 3: 1 − 0.9³ = 0.271, 1 − 0.999³ = 0.002997001)
    quadraticStep(opt, p);
    expectClose(values(p), [0.701586274504415, -1.7006233917912488]);
  });

  it('adds eps after the bias-corrected square root, as PyTorch', () => {
    const p = param([1, -2]);
    const opt = new optim.Adam([p], { lr: 0.1, eps: 1 });
    // step 1: m̂ = g = [1, −6], √v̂ = |g|: p ← p − 0.1·g/(|g| + 1) = [1 − 0.05, −2 + 0.6/7]
    // (eps inside the root would give 0.1·g/√(g² + 1) instead)
    quadraticStep(opt, p);
    expectClose(values(p), [0.95, -2 + 0.6 / 7]);
  });

  it('Adam with weight decay adds wd·p to the gradient (L2, coupled)', () => {
    const p = param([1, -2]);
    const opt = new optim.Adam([p], { lr: 0.1, weightDecay: 0.1 });
    // step 1: g = a·p + 0.1·p = [1.1, −6.2] → p ← p − 0.1·g/(|g| + 1e−8)
    quadraticStep(opt, p);
    expectClose(values(p), [1 - 0.11 / (1.1 + 1e-8), -2 + 0.62 / (6.2 + 1e-8)]);
    quadraticStep(opt, p);
    quadraticStep(opt, p);
    expectClose(values(p), [0.7015862742210723, -1.7006233917747835]);
  });

  it('AdamW decays p ← p·(1 − lr·wd) before the Adam update (three steps by hand)', () => {
    const p = param([1, -2]);
    const opt = new optim.AdamW([p], { lr: 0.1, weightDecay: 0.1 });
    // step 1: g = [1, −6] (taken before the decay), p ← 0.99·p = [0.99, −1.98], then the Adam step
    //         of size 0.1·g/(|g| + 1e−8): p = [0.89 + 1e−9, −1.88 − 1/6·1e−9]
    quadraticStep(opt, p);
    expectClose(values(p), [0.99 - 0.1 / (1 + 1e-8), -1.98 + 0.6 / (6 + 1e-8)]);
    quadraticStep(opt, p);
    expectClose(values(p), [0.781571856954161, -1.7614089504165513]);
    quadraticStep(opt, p);
    expectClose(values(p), [0.6751012231892006, -1.6443686833067828]);
  });

  it('AdamW with weight decay is not Adam with the same L2 penalty', () => {
    // With a zero loss gradient, AdamW shrinks p by exactly (1 − lr·wd) per step, while Adam
    // normalises the L2 gradient wd·p away and moves each coordinate by about lr.
    const pw = param([1, -2]);
    const pa = param([1, -2]);
    const adamw = new optim.AdamW([pw], { lr: 0.1, weightDecay: 0.1 });
    const adam = new optim.Adam([pa], { lr: 0.1, weightDecay: 0.1 });
    for (const [opt, p] of [
      [adamw, pw],
      [adam, pa],
    ] as const) {
      opt.zeroGrad();
      p.grad = new Variable(tensor([0, 0]));
      opt.step();
    }
    expectClose(values(pw), [0.99, -1.98]);
    expectClose(values(pa), [1 - 0.1 * (0.1 / (0.1 + 1e-8)), -2 + 0.1 * (0.2 / (0.2 + 1e-8))]);
  });

  it('parameter groups: a group with weightDecay 0 is not decayed, and each group steps with its lr', () => {
    const decayed = param([1, -2]);
    const exempt = param([3, 4]);
    const fast = param([5]);
    const opt = new optim.AdamW(
      [{ params: [decayed] }, { params: [exempt], weightDecay: 0 }, { params: [fast], lr: 0.5 }],
      { lr: 0.1, weightDecay: 0.1 },
    );
    for (const p of [decayed, exempt, fast]) p.grad = new Variable(tensor(new Float64Array(p.size)));
    opt.step();
    expectClose(values(decayed), [0.99, -1.98]);
    expect(values(exempt)).toEqual([3, 4]);
    expectClose(values(fast), [5 * (1 - 0.5 * 0.1)]);
    expect(opt.paramGroups.map((g) => [g.lr, g.weightDecay])).toEqual([
      [0.1, 0.1],
      [0.1, 0],
      [0.5, 0.1],
    ]);

    // With gradients, each group matches a separate optimiser with that group's settings.
    const x = param([1, -2]);
    const y = param([1, -2]);
    const grouped = new optim.Adam([{ params: [x] }, { params: [y], lr: 0.3, betas: [0.5, 0.9] }], { lr: 0.1 });
    const xAlone = param([1, -2]);
    const yAlone = param([1, -2]);
    const optX = new optim.Adam([xAlone], { lr: 0.1 });
    const optY = new optim.Adam([yAlone], { lr: 0.3, betas: [0.5, 0.9] });
    for (let i = 0; i < 3; i++) {
      grouped.zeroGrad();
      add(sum(mul(square(x), A)), sum(mul(square(y), A)))
        .mul(0.5)
        .backward();
      grouped.step();
      quadraticStep(optX, xAlone);
      quadraticStep(optY, yAlone);
    }
    expect(values(x)).toEqual(values(xAlone));
    expect(values(y)).toEqual(values(yAlone));
  });

  it('rejects bad betas, non-leaf and repeated parameters, and an empty list', () => {
    const p = param([1]);
    expect(() => new optim.Adam([p], { betas: [0.9, 1] })).toThrow(/betas \(group 0\)/);
    expect(() => new optim.Adam([mul(p, 2)])).toThrow(/leaf variables.*'mul'/);
    expect(() => new optim.Adam([{ params: [p] }, { params: [p] }])).toThrow(/more than one place/);
    expect(() => new optim.Adam([])).toThrow(/empty parameter list/);
  });
});

describe('optimisers in general', () => {
  it('update parameters in place: modules keep their Variables and views see the change', () => {
    const layer = new nn.Linear(2, 2, new Random(1));
    const weight = layer.weight;
    const view = weight.value.slice(0);
    const before = weight.value.clone();
    const opt = new optim.SGD(layer.parameters(), { lr: 0.5 });
    layer
      .forward(tensor([[1, 2]]))
      .sum()
      .backward();
    opt.step();
    // d(sum(x Wᵀ + b))/dW[i][j] = x[j]: W ← W − 0.5·[[1, 2], [1, 2]], written into the storage
    // that the layer's Variable and an earlier view of it share
    expect(layer.weight).toBe(weight);
    expectClose(
      weight.value,
      tensor([
        [before.get(0, 0) - 0.5, before.get(0, 1) - 1],
        [before.get(1, 0) - 0.5, before.get(1, 1) - 1],
      ]),
    );
    expectClose(view, tensor([before.get(0, 0) - 0.5, before.get(0, 1) - 1]));
  });

  it('skip parameters without a gradient', () => {
    const p = param([1, 2]);
    const q = param([3]);
    const opt = new optim.Adam([p, q], { lr: 0.1 });
    p.grad = new Variable(tensor([1, 1]));
    opt.step();
    expect(values(q)).toEqual([3]);
    expect(opt.stateDict().state.has(1)).toBe(false);
  });

  it('keep float32 parameters and state in float32', () => {
    const p = param([1, -2], { dtype: 'float32' });
    const opt = new optim.Adam([p], { lr: 0.1 });
    quadraticStep(opt, p, tensor([1, 3], { dtype: 'float32' }));
    expect(p.dtype).toBe('float32');
    expectClose(values(p), [Math.fround(0.9), Math.fround(-1.9)], { rtol: 1e-6, atol: 1e-6 });
    const s = opt.stateDict().state.get(0)!;
    expect((s.expAvg as Tensor).dtype).toBe('float32');
  });

  type AnyOptimizer = optim.Optimizer<optim.BaseHyperParams, optim.ParamState>;
  const makers: [string, (ps: Variable[]) => AnyOptimizer][] = [
    [
      'SGD with Nesterov momentum',
      (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    ],
    ['Adam', (ps) => new optim.Adam(ps, { lr: 0.05, weightDecay: 0.01 })],
    [
      'AdamW',
      (ps) => new optim.AdamW([{ params: ps.slice(0, 1) }, { params: ps.slice(1), weightDecay: 0 }], { lr: 0.05 }),
    ],
  ];
  for (const [name, make] of makers) {
    it(`${name}: stateDict / loadStateDict continue bit-identically`, () => {
      const rng = new Random(7);
      const a = rng.normal([3, 2]);
      const fresh = (): Variable[] => [
        param(
          tensor([
            [1, -2],
            [0.5, 3],
            [-1, 1],
          ]),
        ),
        param(tensor([2, -1])),
      ];
      const loss = (ps: Variable[]): Variable => add(sum(mul(square(ps[0]!), a)), sum(pow(sub(ps[1]!, 1), 4)));
      const run = (opt: AnyOptimizer, ps: Variable[], steps: number): void => {
        for (let i = 0; i < steps; i++) {
          opt.zeroGrad();
          loss(ps).backward();
          opt.step();
        }
      };
      const ps = fresh();
      const opt = make(ps);
      run(opt, ps, 3);
      const saved = opt.stateDict();
      const savedParams = ps.map((p) => p.value.clone());
      run(opt, ps, 3);
      // the snapshot is a deep copy: three more steps did not move it
      const again = fresh();
      again.forEach((p, i) => {
        p.value.assign(savedParams[i]!);
      });
      const restored = make(again);
      restored.loadStateDict(saved);
      run(restored, again, 3);
      ps.forEach((p, i) => {
        expect(values(again[i]!)).toEqual(values(p));
      });
    });
  }

  it('loadStateDict restores hyper-parameters and validates before changing anything', () => {
    const p = param([1, 2]);
    const opt = new optim.Adam([p], { lr: 0.1 });
    quadraticStep(opt, p);
    const saved = opt.stateDict();
    const other = new optim.Adam([param([1, 2])], { lr: 0.5 });
    other.loadStateDict(saved);
    expect(other.paramGroups[0]!.lr).toBe(0.1);
    expect(other.stateDict().state.get(0)!.step).toBe(1);

    const wrongShape = new optim.Adam([param([1, 2, 3])], { lr: 0.5 });
    expect(() => wrongShape.loadStateDict(saved)).toThrow(
      /state 'expAvg' of parameter 0 has shape \[2\], the parameter \[3\]/,
    );
    expect(wrongShape.paramGroups[0]!.lr).toBe(0.5);
    const twoGroups = new optim.Adam([{ params: [param([1])] }, { params: [param([2])] }]);
    expect(() => twoGroups.loadStateDict(saved)).toThrow(/1 parameter groups, the optimiser 2/);
    const sgd = new optim.SGD([param([1, 2])], { lr: 0.1, momentum: 0.9 });
    expect(() => sgd.loadStateDict(saved as never)).toThrow(/hyper-parameters/);
  });

  it('zeroGrad clears every gradient', () => {
    const p = param([1]);
    const q = param([2]);
    const opt = new optim.SGD([{ params: [p] }, { params: [q] }], { lr: 0.1 });
    add(p, q).sum().backward();
    opt.zeroGrad();
    expect([p.grad, q.grad]).toEqual([null, null]);
  });
});

describe('clipGradNorm', () => {
  it('returns the joint norm before clipping and scales every gradient by maxNorm/(norm + 1e−6)', () => {
    const rng = new Random(3);
    const ps = [param(rng.normal([2, 3])), param(rng.normal([4])), param([0])];
    ps[0]!.grad = new Variable(rng.normal([2, 3]));
    ps[1]!.grad = new Variable(rng.normal([4]));
    const before = ps.slice(0, 2).map((p) => Array.from(p.grad!.value.toTypedArray()));
    let naive = 0;
    for (const g of before) for (const x of g) naive += x * x;
    naive = Math.sqrt(naive);
    const norm = optim.clipGradNorm(ps, 0.5);
    expectClose(norm, naive);
    const scale = 0.5 / (naive + 1e-6);
    ps.slice(0, 2).forEach((p, i) => {
      expectClose(
        p.grad!.value.toTypedArray(),
        before[i]!.map((x) => x * scale),
      );
    });
    expect(ps[2]!.grad).toBeNull();
  });

  it('leaves gradients under the limit unchanged and never writes into shared gradient storage', () => {
    const p = param([1, 1]);
    const q = param([1, 1]);
    const shared = tensor([3, 4]);
    p.grad = new Variable(shared);
    q.grad = new Variable(shared);
    expectClose(optim.clipGradNorm([p], 10), 5);
    expect(Array.from(p.grad.value.toTypedArray())).toEqual([3, 4]);
    optim.clipGradNorm([p], 1);
    expect(Array.from(shared.toTypedArray())).toEqual([3, 4]);
    expectClose(p.grad.value.toTypedArray(), [3 / (5 + 1e-6), 4 / (5 + 1e-6)]);
  });

  it('throws on a non-finite norm', () => {
    const p = param([1, 1]);
    p.grad = new Variable(tensor([Infinity, 1]));
    expect(() => optim.clipGradNorm([p], 1)).toThrow(/total gradient norm is Infinity/);
    p.grad = new Variable(tensor([NaN, 1]));
    expect(() => optim.clipGradNorm([p], 1)).toThrow(/NaN/);
  });
});

describe('learning-rate schedules', () => {
  it('linearWarmup rises as (step + 1)/(warmup + 1) to 1', () => {
    const f = optim.linearWarmup(4);
    expect([0, 1, 2, 3, 4, 10].map(f)).toEqual([0.2, 0.4, 0.6, 0.8, 1, 1]);
    expect(optim.linearWarmup(0)(0)).toBe(1);
  });

  it('cosineSchedule follows minFactor + (1 − minFactor)·(1 + cos(π·t/T))/2 and stays at the floor', () => {
    const f = optim.cosineSchedule(10, { minFactor: 0.1 });
    for (const t of [0, 1, 3, 5, 9, 10]) expectClose(f(t), 0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * t) / 10)));
    expectClose(f(5), 0.55);
    expect(f(10)).toBeCloseTo(0.1, 15);
    expect(f(25)).toBe(f(10));
  });

  it('warmupCosine is the warm-up followed by the cosine over the remaining steps', () => {
    const f = optim.warmupCosine(3, 13);
    const cosine = optim.cosineSchedule(10);
    expect([0, 1, 2].map(f)).toEqual([0.25, 0.5, 0.75]);
    for (let t = 3; t < 20; t++) expect(f(t)).toBe(cosine(t - 3));
    expect(() => optim.warmupCosine(5, 4)).toThrow(ValueError);
  });

  it('LRScheduler sets every group to its base lr times the schedule, and round-trips', () => {
    const opt = new optim.SGD([{ params: [param([1])] }, { params: [param([2])], lr: 0.4 }], { lr: 0.2 });
    const sched = new optim.LRScheduler(opt, optim.linearWarmup(3));
    expectClose(
      opt.paramGroups.map((g) => g.lr),
      [0.05, 0.1],
    );
    sched.step();
    sched.step();
    expectClose(
      opt.paramGroups.map((g) => g.lr),
      [0.15, 0.3],
    );
    const saved = sched.stateDict();
    sched.step();
    expectClose(
      opt.paramGroups.map((g) => g.lr),
      [0.2, 0.4],
    );

    const opt2 = new optim.SGD([{ params: [param([1])] }, { params: [param([2])], lr: 0.4 }], { lr: 0.2 });
    const sched2 = new optim.LRScheduler(opt2, optim.linearWarmup(3));
    sched2.loadStateDict(saved);
    expect(sched2.lastStep).toBe(2);
    expectClose(
      opt2.paramGroups.map((g) => g.lr),
      [0.15, 0.3],
    );
  });

  it('LRScheduler refuses a bad state dict or schedule factor and changes nothing', () => {
    const opt = new optim.SGD([param([1])], { lr: 0.2 });
    // a schedule that breaks at step 5
    const sched = new optim.LRScheduler(opt, (step) => (step < 5 ? 1 : Number.NaN));
    expect(() => sched.loadStateDict({ step: 7, baseLrs: [0.2] })).toThrow(
      /^LRScheduler\.loadStateDict: the schedule gave NaN at step 7/,
    );
    expect(() => sched.loadStateDict({ step: 1, baseLrs: [-5] })).toThrow(
      /^LRScheduler\.loadStateDict: base learning rate 0 must be finite and ≥ 0, got -5/,
    );
    expect(() => sched.loadStateDict({ step: 1, baseLrs: [Number.NaN] })).toThrow(ValueError);
    expect([sched.lastStep, opt.paramGroups[0]!.lr]).toEqual([0, 0.2]);
    sched.loadStateDict({ step: 4, baseLrs: [0.3] });
    expect(() => sched.step()).toThrow(/^LRScheduler: the schedule gave NaN at step 5/);
    expect([sched.lastStep, opt.paramGroups[0]!.lr]).toEqual([4, 0.3]);
  });
});

// ---------------------------------------------------------------------------------------------
// Non-finite gradients and updates, hyper-parameters changed after construction: every step
// checks everything first and is all or nothing.

type SomeOptimizer = optim.Optimizer<optim.BaseHyperParams, optim.ParamState>;

/** Two named parameters in two groups, and a gradient sequence for them. */
const freshPair = (): Variable[] => [param([1, -2], { name: 'a' }), param([0.5, 3], { name: 'b' })];
const GRADIENTS: [number[], number[]][] = [
  [
    [1, -6],
    [0.5, 2],
  ],
  [
    [0.9, -4.2],
    [-1, 0.25],
  ],
  [
    [0.3, 2],
    [0.1, -0.7],
  ],
  [
    [-0.4, 1.5],
    [2, 0.3],
  ],
];
function feed(opt: { step(): void }, ps: readonly Variable[], grads: readonly [number[], number[]][]): void {
  for (const [ga, gb] of grads) {
    ps[0]!.grad = new Variable(tensor(ga));
    ps[1]!.grad = new Variable(tensor(gb));
    opt.step();
  }
}

const OPTIMISERS: [string, (ps: Variable[], extra?: optim.OptimizerOptions) => SomeOptimizer][] = [
  [
    'SGD',
    (ps, extra) =>
      new optim.SGD([{ params: [ps[0]!] }, { params: [ps[1]!], lr: 0.05 }], {
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        weightDecay: 0.01,
        ...extra,
      }),
  ],
  [
    'Adam',
    (ps, extra) =>
      new optim.Adam([{ params: [ps[0]!] }, { params: [ps[1]!], betas: [0.8, 0.99] }], {
        lr: 0.1,
        weightDecay: 0.01,
        ...extra,
      }),
  ],
  [
    'AdamW',
    (ps, extra) => new optim.AdamW([{ params: [ps[0]!] }, { params: [ps[1]!], weightDecay: 0 }], { lr: 0.1, ...extra }),
  ],
];

describe('non-finite gradients: nothing changes, then a NonFiniteError or a counted skip', () => {
  for (const [name, make] of OPTIMISERS) {
    for (const bad of [NaN, Infinity, -Infinity]) {
      it(
        `${name}: a ${bad} gradient throws naming the parameter and element, leaves ` +
          `everything bit-identical, and later steps are those of a run without it`,
        () => {
          const ps = freshPair();
          const opt = make(ps);
          feed(opt, ps, GRADIENTS.slice(0, 2));
          const before = optimizerSnapshot(opt, ps);
          ps[0]!.grad = new Variable(tensor([0.5, 0.25])); // a good gradient in the other group: not applied either
          ps[1]!.grad = new Variable(tensor([1, bad]));
          expect(() => opt.step()).toThrow(NonFiniteError);
          expect(() => opt.step()).toThrow(
            `${name}: the gradient of parameter 'b' (group 1, index 0) is not ` +
              `finite: ${bad} at element [1] of shape [2]; nothing was changed`,
          );
          expect(optimizerSnapshot(opt, ps)).toEqual(before);
          expect(opt.skippedSteps).toBe(0);
          feed(opt, ps, GRADIENTS.slice(2));
          const reference = freshPair();
          feed(make(reference), reference, GRADIENTS);
          ps.forEach((p, i) => {
            expect(values(p)).toEqual(values(reference[i]!));
          });
        },
      );
    }

    it(
      `${name}: with nonFinite 'skip' the step is skipped and ` +
        `counted, the count round-trips through the state dict`,
      () => {
        const ps = freshPair();
        const opt = make(ps, { nonFinite: 'skip' });
        expect(opt.nonFinite).toBe('skip');
        feed(opt, ps, GRADIENTS.slice(0, 2));
        const before = optimizerSnapshot(opt, ps) as { skippedSteps: number };
        feed(opt, ps, [
          [
            [NaN, 1],
            [1, 1],
          ],
          [
            [1, 1],
            [1, -Infinity],
          ],
        ]);
        expect(opt.skippedSteps).toBe(2);
        expect(optimizerSnapshot(opt, ps)).toEqual({ ...before, skippedSteps: 2 });
        const saved = opt.stateDict();
        expect(saved.skippedSteps).toBe(2);
        const again = freshPair();
        again.forEach((p, i) => {
          p.value.assign(ps[i]!.value);
        });
        const restored = make(again, { nonFinite: 'skip' });
        restored.loadStateDict(saved);
        expect(restored.skippedSteps).toBe(2);
        feed(opt, ps, GRADIENTS.slice(2));
        feed(restored, again, GRADIENTS.slice(2));
        const reference = freshPair();
        feed(make(reference), reference, GRADIENTS);
        ps.forEach((p, i) => {
          expect(values(p)).toEqual(values(reference[i]!));
        });
        again.forEach((p, i) => {
          expect(values(p)).toEqual(values(reference[i]!));
        });
        // a dict without the counter (an older one) restores 0
        restored.loadStateDict({ state: saved.state, paramGroups: saved.paramGroups });
        expect(restored.skippedSteps).toBe(0);
      },
    );
  }

  it('property: one non-finite entry anywhere in a run is skipped; the run ends where the clean run does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(NaN, Infinity, -Infinity),
        (which, at, element, bad) => {
          const [, make] = OPTIMISERS[which]!;
          const ps = freshPair();
          const opt = make(ps, { nonFinite: 'skip' });
          const poisoned: [number[], number[]] = [
            [1, 2],
            [3, 4],
          ];
          poisoned[element >> 1]![element & 1] = bad;
          feed(opt, ps, [...GRADIENTS.slice(0, at), poisoned, ...GRADIENTS.slice(at)]);
          const reference = freshPair();
          feed(make(reference), reference, GRADIENTS);
          expect(opt.skippedSteps).toBe(1);
          ps.forEach((p, i) => {
            expect(values(p)).toEqual(values(reference[i]!));
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('an update that overflows from finite inputs is refused like a non-finite gradient (throw, or skip)', () => {
    const w = param([1, 2], { name: 'w' });
    const sgd = new optim.SGD([w], { lr: 1e300 });
    w.grad = new Variable(tensor([1e10, 0]));
    expect(() => sgd.step()).toThrow(
      "SGD: the update of parameter 'w' (group 0, index 0) is not finite although its inputs are " +
        '(an overflow): the value would hold -Infinity at element [0] of shape [2]; nothing was changed',
    );
    expect(values(w)).toEqual([1, 2]);
    // Adam's second moment holds g²: a gradient of 1e160 overflows it, which would freeze the entry for good
    const v = param([1, 2], { name: 'v' });
    const adam = new optim.Adam([v], { lr: 0.1, nonFinite: 'skip' });
    v.grad = new Variable(tensor([1, 1]));
    adam.step();
    const before = optimizerSnapshot(adam as SomeOptimizer, [v]);
    v.grad = new Variable(tensor([1e160, 1]));
    adam.step();
    expect(adam.skippedSteps).toBe(1);
    expect(optimizerSnapshot(adam as SomeOptimizer, [v])).toEqual({ ...(before as object), skippedSteps: 1 });
    expect(() => new optim.Adam([v], { lr: 0.1 }).step()).toThrow(
      /Adam: the update of parameter 'v' .* the state 'expAvgSq' would hold Infinity at element \[0\]/,
    );
  });

  it('a non-finite parameter value is always an error (skipping would skip every later step too)', () => {
    const w = param([NaN, 1]);
    const opt = new optim.SGD([w], { lr: 0.1, nonFinite: 'skip' });
    w.grad = new Variable(tensor([1, 1]));
    expect(() => opt.step()).toThrow(
      new NonFiniteError(
        'SGD: the value of parameter 0 of group 0 is not finite: ' +
          'NaN at element [0] of shape [2]; no step can start from it',
      ),
    );
    expect(opt.skippedSteps).toBe(0);
  });

  it('a gradient of the wrong shape is a ShapeError naming the parameter; a bad nonFinite option a ValueError', () => {
    const ps = freshPair();
    const opt = new optim.Adam([{ params: [ps[0]!] }, { params: [ps[1]!] }]);
    ps[1]!.grad = new Variable(tensor([1, 2, 3]));
    expect(() => opt.step()).toThrow(ShapeError);
    expect(() => opt.step()).toThrow(
      "Adam: the gradient of parameter 'b' (group 1, index 0) has shape [3], the parameter [2]",
    );
    expect(() => new optim.SGD(ps, { nonFinite: 'ignore' as never })).toThrow(
      /^SGD: nonFinite must be 'throw' or 'skip', got "ignore"$/,
    );
  });

  it('loadStateDict refuses non-finite state and a bad skippedSteps before changing anything', () => {
    const ps = freshPair();
    const opt = new optim.Adam(ps, { lr: 0.1 });
    feed(opt, ps, GRADIENTS.slice(0, 1));
    const dict = opt.stateDict();
    const before = optimizerSnapshot(opt as SomeOptimizer, ps);
    const poisoned = { ...dict, state: new Map(dict.state) };
    poisoned.state.set(1, { ...dict.state.get(1)!, expAvgSq: tensor([0.1, Infinity]) });
    expect(() => opt.loadStateDict(poisoned)).toThrow(
      new NonFiniteError(
        "Adam.loadStateDict: state 'expAvgSq' of parameter 1 is not finite: Infinity at element [1] of shape [2]",
      ),
    );
    expect(() => opt.loadStateDict({ ...dict, skippedSteps: -1 })).toThrow(
      /Adam.loadStateDict: skippedSteps must be a non-negative integer, got -1/,
    );
    expect(optimizerSnapshot(opt as SomeOptimizer, ps)).toEqual(before);
  });
});

describe('hyper-parameters changed after construction are checked by every step, before anything changes', () => {
  type Change = [string, (group: Record<string, unknown>) => void, string];
  const common: Change[] = [
    ['lr NaN', (g) => (g.lr = NaN), 'lr (group 1) must be finite and ≥ 0, got NaN'],
    ['lr Infinity', (g) => (g.lr = Infinity), 'lr (group 1) must be finite and ≥ 0, got Infinity'],
    ['lr −1', (g) => (g.lr = -1), 'lr (group 1) must be finite and ≥ 0, got -1'],
    ['weightDecay −0.1', (g) => (g.weightDecay = -0.1), 'weightDecay (group 1) must be finite and ≥ 0, got -0.1'],
    ['a misspelt key', (g) => (g.weight_decay = 0.1), "unknown hyper-parameter 'weight_decay' in group 1"],
  ];
  const specific: Record<string, Change[]> = {
    SGD: [
      ['momentum NaN', (g) => (g.momentum = NaN), 'momentum (group 1) must be finite and ≥ 0, got NaN'],
      ['dampening 2', (g) => (g.dampening = 2), 'dampening (group 1) must lie in [0, 1], got 2'],
      ['Nesterov without momentum', (g) => (g.momentum = 0), 'Nesterov momentum (group 1) needs momentum > 0'],
      ['nesterov not a boolean', (g) => (g.nesterov = 'yes'), 'nesterov (group 1) must be a boolean, got "yes"'],
    ],
    Adam: [
      ['betas [1, 0.99]', (g) => (g.betas = [1, 0.99]), 'betas (group 1) must be two numbers in [0, 1), got [1, 0.99]'],
      [
        'betas [NaN, 0.99]',
        (g) => (g.betas = [NaN, 0.99]),
        'betas (group 1) must be two numbers in [0, 1), got [NaN, 0.99]',
      ],
      [
        'betas [0.9, −0.1]',
        (g) => (g.betas = [0.9, -0.1]),
        'betas (group 1) must be two numbers in [0, 1), got [0.9, -0.1]',
      ],
      ['eps −1', (g) => (g.eps = -1), 'eps (group 1) must be finite and ≥ 0, got -1'],
    ],
  };
  specific.AdamW = specific.Adam!;
  for (const [name, make] of OPTIMISERS) {
    for (const [what, change, message] of [...common, ...specific[name]!]) {
      it(`${name}: ${what} → ValueError naming the optimiser, group and hyper-parameter; nothing changed`, () => {
        const ps = freshPair();
        const opt = make(ps);
        feed(opt, ps, GRADIENTS.slice(0, 1));
        const before = optimizerSnapshot(opt, ps);
        const group = opt.paramGroups[1] as unknown as Record<string, unknown>;
        const saved = { ...group };
        change(group);
        ps[0]!.grad = new Variable(tensor([1, 1]));
        ps[1]!.grad = new Variable(tensor([1, 1]));
        let error: unknown;
        try {
          opt.step();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ValueError);
        expect(error).not.toBeInstanceOf(NonFiniteError);
        expect((error as Error).message).toContain(`${name}: ${message}`);
        expect((error as Error).message.startsWith(`${name}: `)).toBe(true);
        // with the change undone, the same step goes through (so the snapshot below compares a real no-op)
        for (const key of Object.keys(group)) if (!(key in saved)) delete group[key];
        Object.assign(group, saved);
        const picture = optimizerSnapshot(opt, ps) as { groups: unknown };
        expect(picture).toEqual(before);
        opt.step();
        expect(optimizerSnapshot(opt, ps)).not.toEqual(before);
      });
    }
  }
});

describe('clipGradNorm without overflow or underflow', () => {
  /** Math.hypot is overflow- and underflow-safe: an independent reference for the joint norm. */
  const hypot = (gs: readonly number[][]): number => Math.hypot(...gs.flat());

  it(
    'property: gradients of any magnitude 1e-300 … 1e300 give their norm ' +
      'to rounding, and the clipped gradients are g·maxNorm/(norm + 1e-6)',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }),
          fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
          fc.integer({ min: -300, max: 300 }),
          (u, v, e) => {
            const gs = [u, v].map((xs) => xs.map((x) => x * 10 ** e));
            const ps = gs.map((g) => param(new Array<number>(g.length).fill(0)));
            ps.forEach((p, i) => {
              p.grad = new Variable(tensor(gs[i]!));
            });
            const reference = hypot(gs);
            const norm = optim.clipGradNorm(ps, 1);
            expectClose(norm, reference, { rtol: 1e-14, atol: 0 });
            const scale = reference > 1 ? 1 / (reference + 1e-6) : 1;
            ps.forEach((p, i) => {
              expectClose(
                p.grad!.value.toTypedArray(),
                gs[i]!.map((x) => x * scale),
                { rtol: 1e-14, atol: 0 },
              );
            });
          },
        ),
      );
    },
  );

  it(
    '1e155 and 1e-300 (the naive sum of squares overflows or underflows), ' +
      'and a norm beyond float64 (+∞, gradients still scaled right)',
    () => {
      const p = param([0, 0]);
      p.grad = new Variable(tensor([3e155, 4e155]));
      expectClose(optim.clipGradNorm([p], 1), 5e155, { rtol: 1e-15, atol: 0 });
      expectClose(p.grad.value.toTypedArray(), [0.6, 0.8], { rtol: 1e-15, atol: 0 });
      p.grad = new Variable(tensor([3e-300, 4e-300]));
      expectClose(optim.clipGradNorm([p], 1), 5e-300, { rtol: 1e-15, atol: 0 });
      expect(Array.from(p.grad.value.toTypedArray())).toEqual([3e-300, 4e-300]);
      p.grad = new Variable(tensor([1.5e308, -1.5e308]));
      expect(optim.clipGradNorm([p], 2)).toBe(Infinity);
      expectClose(p.grad.value.toTypedArray(), [Math.SQRT2, -Math.SQRT2], { rtol: 1e-15, atol: 0 });
    },
  );

  it(
    "non-finite gradients: a NonFiniteError naming the parameter, or with nonFinite 'skip' the " +
      'IEEE norm and the gradients untouched',
    () => {
      const ps = [param([0, 0]), param([0, 0, 0], { name: 'w' })];
      const g0 = new Variable(tensor([1, 2]));
      const g1 = new Variable(tensor([3, NaN, Infinity]));
      [ps[0]!.grad, ps[1]!.grad] = [g0, g1];
      expect(() => optim.clipGradNorm(ps, 1)).toThrow(
        new NonFiniteError(
          "clipGradNorm: the total gradient norm is NaN: the gradient of parameter 'w' (index 1) holds " +
            'NaN at element [1] of shape [3]; nothing was scaled',
        ),
      );
      expect(optim.clipGradNorm(ps, 1, { nonFinite: 'skip' })).toBeNaN();
      ps[1]!.grad = new Variable(tensor([3, -Infinity, 1]));
      expect(optim.clipGradNorm(ps, 1, { nonFinite: 'skip' })).toBe(Infinity);
      expect(ps[0]!.grad).toBe(g0);
      expect(Array.from(g0.value.toTypedArray())).toEqual([1, 2]);
      expect(() => optim.clipGradNorm(ps, 1, { nonFinite: 'scale' as never })).toThrow(ValueError);
      // all-zero gradients: norm 0, nothing scaled
      const z = param([1, 1]);
      z.grad = new Variable(tensor([0, -0]));
      expect(optim.clipGradNorm([z], 1)).toBe(0);
    },
  );
});
