/**
 * A training run interrupted at step k, checkpointed with `saveCheckpoint`, restored with
 * `loadCheckpoint` into freshly built objects (built from other seeds, so nothing is right by
 * accident) and continued gives bit-identical losses and weights to the uninterrupted run:
 * model parameters, AdamW/SGD state, the learning-rate schedule's position and the Random
 * streams (data sampling, dropout masks) all resume exactly.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Random } from '@hyperconn/tensor';
import { mean, nn, optim, square, sub, sum } from '@hyperconn/autograd';
import { loadCheckpoint, saveCheckpoint } from '@hyperconn/autograd/node';
import { CharTokenizer, sampleBatch, TinyTransformer, type Variant } from '@hyperconn/hc-layers';

const dir = mkdtempSync(join(tmpdir(), 'hyperconn-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = readFileSync(new URL('../data/genesis-kjv.txt', import.meta.url), 'utf8').slice(0, 20_000);
const tokenizer = CharTokenizer.fromText(text);
const ids = tokenizer.encode(text);

const STEPS = 8;
const SEQ = 8;

/** Everything a run is made of; `seed` picks the initial weights and the data stream. */
function transformerRun(variant: Variant, dtype: 'float64' | 'float32', seed: number) {
  const model = new TinyTransformer({
    variant,
    n: 4,
    vocabSize: tokenizer.vocabSize,
    dim: 8,
    heads: 2,
    depth: 1,
    seqLen: SEQ,
    dtype,
    rng: new Random(seed),
  });
  const { decay, noDecay } = model.parameterGroups();
  const optimizer = new optim.AdamW(
    [
      { params: decay, weightDecay: 0.01 },
      { params: noDecay, weightDecay: 0 },
    ],
    { lr: 1e-2 },
  );
  const scheduler = new optim.LRScheduler(optimizer, optim.warmupCosine(3, STEPS));
  const data = new Random(seed + 1);
  const step = (): number => {
    const loss = model.loss(sampleBatch(ids, { batchSize: 4, seqLen: SEQ, rng: data }));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    scheduler.step();
    return loss.item();
  };
  return { model, optimizer, scheduler, rngs: { data }, step };
}

/** The bytes of every parameter, so equality is bit for bit (NaN and −0 included). */
const weightBytes = (model: nn.Module): number[] =>
  model.parameters().flatMap((p) => {
    const v = p.value.toTypedArray();
    return Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  });

describe('a checkpointed run resumes bit for bit', () => {
  for (const [variant, dtype, k] of [
    ['mhc', 'float64', 3],
    ['shc', 'float32', 5],
  ] as const) {
    it(`TinyTransformer (${variant}, ${dtype}) with AdamW + warmupCosine, interrupted at step ${k} of ${STEPS}`, () => {
      const straight = transformerRun(variant, dtype, 0);
      const expected = Array.from({ length: STEPS }, () => straight.step());

      const first = transformerRun(variant, dtype, 0);
      const losses = Array.from({ length: k }, () => first.step());
      const path = join(dir, `${variant}-${dtype}.safetensors`);
      saveCheckpoint(path, {
        model: first.model,
        optimizer: first.optimizer,
        scheduler: first.scheduler,
        rngs: first.rngs,
        step: k,
      });

      const resumed = transformerRun(variant, dtype, 99); // other weights, other data stream
      const { step } = loadCheckpoint(path, resumed);
      expect(step).toBe(k);
      for (let s = k; s < STEPS; s++) losses.push(resumed.step());

      expect(losses).toEqual(expected);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(weightBytes(resumed.model)).toEqual(weightBytes(straight.model));
      expect(resumed.optimizer.paramGroups.map((g) => g.lr)).toEqual(straight.optimizer.paramGroups.map((g) => g.lr));
    });
  }

  it('an MLP with dropout (its mask stream checkpointed) and SGD with Nesterov momentum + warm-up', () => {
    const run = (seed: number) => {
      const init = new Random(seed);
      const masks = new Random(seed + 1);
      const model = new nn.Sequential(
        new nn.Linear(4, 16, init),
        new nn.GELU(),
        new nn.Dropout(0.25, masks),
        new nn.Linear(16, 1, init),
      );
      const optimizer = new optim.SGD(model.parameters(), {
        lr: 0.05,
        momentum: 0.9,
        nesterov: true,
        weightDecay: 1e-3,
      });
      const scheduler = new optim.LRScheduler(optimizer, optim.linearWarmup(4));
      const data = new Random(seed + 2);
      const step = (): number => {
        const x = data.normal([8, 4]);
        const loss = mean(square(sub(model.forward(x), sum(x, -1, true))));
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        scheduler.step();
        return loss.item();
      };
      return { model, optimizer, scheduler, rngs: { data, masks }, step };
    };
    const straight = run(1);
    const expected = Array.from({ length: 10 }, () => straight.step());
    const first = run(1);
    const losses = Array.from({ length: 6 }, () => first.step());
    const path = join(dir, 'mlp.safetensors');
    saveCheckpoint(path, { ...first, step: 6 });
    const resumed = run(42);
    loadCheckpoint(path, resumed);
    for (let s = 6; s < 10; s++) losses.push(resumed.step());
    expect(losses).toEqual(expected);
    expect(weightBytes(resumed.model)).toEqual(weightBytes(straight.model));
  });
});
