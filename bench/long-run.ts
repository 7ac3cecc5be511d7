/**
 * The long-run check (not a test, not a timing benchmark): trains the TinyTransformer for many
 * AdamW steps per variant in float64, twice from the same seed, and reports
 *   - whether any loss or parameter became non-finite,
 *   - the live heap after a full GC at steps 100, 1000 and the last (it must stay flat: a leak
 *     in the graph, the optimiser state or the maps would grow it with every step),
 *   - whether the two runs' losses are bit-identical.
 * Run: node --expose-gc --import tsx bench/long-run.ts [--steps 5000] [--variants shc,mhc] [--runs 2]
 * Writes bench/results/long-run.json. Takes about an hour for every variant at 5000 steps on 2 cores.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Random } from '@hyperconn/tensor';
import { optim } from '@hyperconn/autograd';
import { CharTokenizer, TinyTransformer, VARIANTS, sampleBatch, type Variant } from '@hyperconn/hc-layers';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const steps = Number(option('steps', '5000'));
const runs = Number(option('runs', '2'));
const variants = option('variants', VARIANTS.join(',')).split(',') as Variant[];
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined)
  throw new Error('long-run: start node with --expose-gc, so the heap is measured after a full collection');
const heapMarks = [100, 1000, steps].filter((s, i, all) => s <= steps && all.indexOf(s) === i);

const text = readFileSync(new URL('../data/genesis-kjv.txt', import.meta.url), 'utf8');
const tok = CharTokenizer.fromText(text);
const ids = tok.encode(text);

interface RunResult {
  losses: Float64Array;
  nonFinite: number | null;
  heapMiB: Record<number, number>;
  seconds: number;
}

function train(variant: Variant): RunResult {
  const model = new TinyTransformer({
    variant,
    n: 4,
    vocabSize: tok.vocabSize,
    dim: 16,
    heads: 2,
    depth: 2,
    seqLen: 32,
    rng: new Random(0),
  });
  const { decay, noDecay } = model.parameterGroups();
  const opt = new optim.AdamW([{ params: decay }, { params: noDecay, weightDecay: 0 }], {
    lr: 3e-3,
    weightDecay: 0.01,
  });
  const schedule = new optim.LRScheduler(opt, optim.warmupCosine(100, steps, { minFactor: 0.1 }));
  const data = new Random(1);
  const losses = new Float64Array(steps);
  const heapMiB: Record<number, number> = {};
  let nonFinite: number | null = null;
  const started = performance.now();
  for (let step = 1; step <= steps; step++) {
    const loss = model.loss(sampleBatch(ids, { batchSize: 8, seqLen: 32, rng: data }));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    schedule.step();
    losses[step - 1] = loss.item();
    if (nonFinite === null && !Number.isFinite(losses[step - 1]!)) nonFinite = step;
    if (heapMarks.includes(step)) {
      gc!();
      heapMiB[step] = process.memoryUsage().heapUsed / 2 ** 20;
      const params = model.parameters().every((p) => p.value.toTypedArray().every(Number.isFinite));
      if (!params && nonFinite === null) nonFinite = step;
      console.log(
        `  ${variant} step ${step}: loss ${losses[step - 1]!.toFixed(4)}, heap ${heapMiB[step]!.toFixed(1)} MiB`,
      );
    }
  }
  return { losses, nonFinite, heapMiB, seconds: (performance.now() - started) / 1000 };
}

const rows: Record<string, unknown>[] = [];
console.log(
  `long run: ${steps} steps, ${runs} runs per variant, float64, ` +
    `TinyTransformer (n 4, dim 16, depth 2, seq 32, batch 8)`,
);
for (const variant of variants) {
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) results.push(train(variant));
  const first = results[0]!;
  const identical = results.every((res) => res.losses.every((l, i) => Object.is(l, first.losses[i])));
  const row = {
    variant,
    nonFiniteAtStep: results.map((res) => res.nonFinite).find((s) => s !== null) ?? null,
    heapMiB: first.heapMiB,
    firstLoss: first.losses[0],
    lastLoss: first.losses[steps - 1],
    bitIdenticalRuns: runs > 1 ? identical : null,
    secondsPerRun: first.seconds,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}

console.log(
  '\n| variant | NaN/Inf | heap @100 | heap @1000 | heap @' +
    steps +
    ' | loss first → last | runs bit-identical | s/run |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows as {
  variant: string;
  nonFiniteAtStep: number | null;
  heapMiB: Record<number, number>;
  firstLoss: number;
  lastLoss: number;
  bitIdenticalRuns: boolean | null;
  secondsPerRun: number;
}[]) {
  const heap = (s: number) => (r.heapMiB[s] === undefined ? '—' : `${r.heapMiB[s]!.toFixed(1)} MiB`);
  console.log(
    `| ${r.variant} | ` +
      `${r.nonFiniteAtStep === null ? 'none' : `step ${r.nonFiniteAtStep}`} | ${heap(100)} | ${heap(1000)} ` +
      `| ${heap(steps)} | ` +
      `${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)} | ` +
      `${r.bitIdenticalRuns === null ? '—' : r.bitIdenticalRuns ? 'yes' : 'NO'} | ${r.secondsPerRun.toFixed(0)} |`,
  );
}
writeFileSync(new URL('./results/long-run.json', import.meta.url), JSON.stringify({ steps, runs, rows }, null, 2));
