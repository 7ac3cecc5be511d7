/**
 * End to end: a 2-16-1 tanh MLP learns y = sin(x₁) + x₂²/2 from 256 seeded points in
 * [−2, 2]², full batch, 500 steps. Measured with seed 2024: the training MSE falls from 1.23
 * to 1.1e−3 (Adam, lr 0.03) and to 1.1e−3 (AdamW + warm-up/cosine + clipping), and the MSE
 * on 64 held-out points is 1.1e−3 for both. The thresholds below leave a margin of ~5×.
 */
import { describe, expect, it } from 'vitest';
import { Random, tensor, type Tensor } from '@hyperconn/tensor';
import { nn, optim } from '@hyperconn/autograd';

function dataset(rng: Random, n: number): { x: Tensor; y: Tensor } {
  const x = rng.uniform([n, 2], { low: -2, high: 2 });
  const y = tensor((x.toArray() as number[][]).map(([a, b]) => [Math.sin(a!) + (b! * b!) / 2]));
  return { x, y };
}

/** Trains from seed 2024; returns every step's training loss and the final held-out loss. */
function train(kind: 'adam' | 'adamw-scheduled', steps = 500): { losses: number[]; testLoss: number } {
  const rng = new Random(2024);
  const data = dataset(rng, 256);
  const heldOut = dataset(rng, 64);
  const model = new nn.Sequential(new nn.Linear(2, 16, rng), new nn.Tanh(), new nn.Linear(16, 1, rng));
  const opt =
    kind === 'adam'
      ? new optim.Adam(model.parameters(), { lr: 0.03 })
      : new optim.AdamW(model.parameters(), { lr: 0.05, weightDecay: 1e-4 });
  const schedule =
    kind === 'adam' ? null : new optim.LRScheduler(opt, optim.warmupCosine(20, steps, { minFactor: 0.05 }));
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    const loss = nn.mse(model.forward(data.x), data.y);
    loss.backward();
    if (schedule !== null) optim.clipGradNorm(model.parameters(), 1);
    opt.step();
    schedule?.step();
    losses.push(loss.item());
  }
  return { losses, testLoss: nn.mse(model.eval().forward(heldOut.x), heldOut.y).item() };
}

describe('training a small MLP', () => {
  it('Adam fits the regression and generalises to held-out points', () => {
    const { losses, testLoss } = train('adam');
    const initial = losses[0]!;
    const final = losses[losses.length - 1]!;
    expect(initial).toBeGreaterThan(0.5);
    expect(final).toBeLessThan(5e-3);
    expect(final).toBeLessThan(0.01 * initial);
    expect(testLoss).toBeLessThan(1e-2);
  });

  it('AdamW with warm-up + cosine and gradient clipping fits it too', () => {
    const { losses, testLoss } = train('adamw-scheduled');
    expect(losses[losses.length - 1]!).toBeLessThan(5e-3);
    expect(testLoss).toBeLessThan(1e-2);
  });

  it('is deterministic: two runs give bit-identical losses', () => {
    const a = train('adamw-scheduled', 100).losses;
    const b = train('adamw-scheduled', 100).losses;
    expect(b).toEqual(a);
  });
});
