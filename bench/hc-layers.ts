/**
 * hc-layers: forward + backward time of one hyper-connection layer of each variant on
 * [8, 64, n, C] (n = 4; the plain residual on [8, 64, 1, C]) with a branch of one C×C linear
 * map and tanh, in float64 and float32, and one AdamW training step of the tiny transformer of
 * the training test per variant. Reports each variant's overhead relative to 'residual'.
 * Run: `npx tsx bench/hc-layers.ts`.
 *
 * Aims (issue 14), each printed as met or not: the float64 layer at C = 64 within LAYER_AIMS times
 * the residual's time, the AdamW step within TRAIN_AIMS times the residual's, and sHC cheaper than
 * mHC with its 20 Sinkhorn iterations; also the float64 sHC layer at C = 64 under ~27 ms (PyTorch
 * eager, one thread, same machine class).
 */
import { readFileSync } from 'node:fs';
import { Random, type DType } from '@hyperconn/tensor';
import { matmul, optim, param, sum, tanh, Variable } from '@hyperconn/autograd';
import {
  CharTokenizer,
  createHyperConnection,
  parameterCount,
  sampleBatch,
  TinyTransformer,
  VARIANTS,
  type Variant,
} from '@hyperconn/hc-layers';
import { fmt, isMain, machineInfo, markdownTable, timeAll, writeResults } from './lib';

const BATCH = 8;
const SEQ = 64;
const STREAMS = 4;
const DIMS = [64, 256] as const;
const DTYPES: readonly DType[] = ['float64', 'float32'];
const AIM_SHC_F64_C64_MS = 27;
/** The most each float64 layer at C = 64 may cost, as a multiple of the plain residual's time. */
const LAYER_AIMS: Partial<Record<Variant, number>> = { hc: 2.0, mhc: 2.5, mhcLite: 2.0, kromhc: 2.0, shc: 2.0 };
/** The most an AdamW step of the tiny transformer may cost, as a multiple of the residual model's. */
const TRAIN_AIMS: Partial<Record<Variant, number>> = { shc: 1.8, mhc: 2.0 };

/** One forward + backward of a layer around tanh(x·W), parameters' gradients cleared first. */
function layerStep(variant: Variant, dim: number, dtype: DType): { run: () => void; params: number } {
  const n = variant === 'residual' ? 1 : STREAMS;
  const rng = new Random(dim);
  const layer = createHyperConnection(variant, { n, dim, layerIndex: 1, dtype });
  const w = param(rng.normal([dim, dim], { std: 1 / Math.sqrt(dim), dtype }));
  const x = new Variable(rng.normal([BATCH, SEQ, n, dim], { dtype }));
  const branch = (u: Variable): Variable => tanh(matmul(u, w));
  const params = [...layer.parameters(), w];
  return {
    run: () => {
      for (const p of params) p.zeroGrad();
      sum(layer.forward(x, branch)).backward();
    },
    params: parameterCount(layer),
  };
}

const TRAIN = { dim: 16, depth: 2, heads: 2, seqLen: 32, batch: 8, n: STREAMS };

/** One AdamW step of the training test's tiny transformer on a fresh batch of the bundled text. */
function trainStep(variant: Variant, ids: readonly number[], vocabSize: number): () => void {
  const model = new TinyTransformer({
    variant,
    n: TRAIN.n,
    vocabSize,
    dim: TRAIN.dim,
    heads: TRAIN.heads,
    depth: TRAIN.depth,
    seqLen: TRAIN.seqLen,
    rng: new Random(0),
  });
  const { decay, noDecay } = model.parameterGroups();
  const opt = new optim.AdamW([{ params: decay }, { params: noDecay, weightDecay: 0 }], { lr: 1e-2 });
  const data = new Random(1);
  return () => {
    const loss = model.loss(sampleBatch(ids, { batchSize: TRAIN.batch, seqLen: TRAIN.seqLen, rng: data }));
    opt.zeroGrad();
    loss.backward();
    opt.step();
  };
}

interface LayerResult {
  variant: Variant;
  dim: number;
  dtype: DType;
  streams: number;
  parameters: number;
  ms: number;
  overheadVsResidual: number;
}

export async function main(): Promise<void> {
  const timing = { warmupMs: 100, minTimeMs: 600, minBatches: 7 };
  const layers: LayerResult[] = [];
  for (const dtype of DTYPES) {
    for (const dim of DIMS) {
      const steps = Object.fromEntries(VARIANTS.map((v) => [v, layerStep(v, dim, dtype)])) as Record<
        Variant,
        ReturnType<typeof layerStep>
      >;
      const t = timeAll(
        Object.fromEntries(VARIANTS.map((v) => [v, steps[v].run])) as Record<Variant, () => void>,
        timing,
      );
      for (const variant of VARIANTS) {
        layers.push({
          variant,
          dim,
          dtype,
          streams: variant === 'residual' ? 1 : STREAMS,
          parameters: steps[variant].params,
          ms: t[variant].medianMs,
          overheadVsResidual: t[variant].medianMs / t.residual.medianMs,
        });
      }
    }
  }

  const text = readFileSync(new URL('../data/genesis-kjv.txt', import.meta.url), 'utf8');
  const tokenizer = CharTokenizer.fromText(text);
  const ids = tokenizer.encode(text);
  // longer than the layers: a step is a few ms of many small ops, whose times scatter more (GC)
  const train = timeAll(
    Object.fromEntries(VARIANTS.map((v) => [v, trainStep(v, ids, tokenizer.vocabSize)])) as Record<Variant, () => void>,
    { warmupMs: 300, minTimeMs: 2000, minBatches: 15 },
  );
  const training = VARIANTS.map((variant) => ({
    variant,
    ms: train[variant].medianMs,
    overheadVsResidual: train[variant].medianMs / train.residual.medianMs,
  }));

  const find = (variant: Variant, dim: number, dtype: DType): LayerResult =>
    layers.find((r) => r.variant === variant && r.dim === dim && r.dtype === dtype)!;
  const shc64 = find('shc', 64, 'float64');
  const aims = {
    layerOverhead: Object.entries(LAYER_AIMS).map(([variant, aim]) => {
      const ratio = find(variant as Variant, 64, 'float64').overheadVsResidual;
      return { variant, aim, ratio, met: ratio <= aim! };
    }),
    trainingOverhead: Object.entries(TRAIN_AIMS).map(([variant, aim]) => {
      const ratio = training.find((r) => r.variant === variant)!.overheadVsResidual;
      return { variant, aim, ratio, met: ratio <= aim! };
    }),
    shcFloat64C64UnderMs: { aim: AIM_SHC_F64_C64_MS, ms: shc64.ms, met: shc64.ms < AIM_SHC_F64_C64_MS },
    shcCheaperThanMhc: DTYPES.flatMap((dtype) =>
      DIMS.map((dim) => ({
        dtype,
        dim,
        shcMs: find('shc', dim, dtype).ms,
        mhcMs: find('mhc', dim, dtype).ms,
        met: find('shc', dim, dtype).ms < find('mhc', dim, dtype).ms,
      })),
    ),
  };

  const info = machineInfo();
  console.log(
    `\n## hc-layers: one layer, forward + backward on [${BATCH}, ` +
      `${SEQ}, n, C], branch tanh(x·W) (node ${info.node}, ${info.cpu})\n`,
  );
  console.log(
    markdownTable(
      ['variant', 'n', 'C', 'dtype', 'params', 'ms (median)', 'vs residual'],
      layers.map((r) => [
        r.variant,
        r.streams,
        r.dim,
        r.dtype,
        r.parameters,
        fmt(r.ms),
        `${fmt(r.overheadVsResidual)}×`,
      ]),
    ),
  );
  console.log(
    `\n## hc-layers: one AdamW step of the tiny transformer (dim ${TRAIN.dim}, depth ` +
      `${TRAIN.depth}, seq ${TRAIN.seqLen}, batch ${TRAIN.batch}, n ${TRAIN.n}, float64)\n`,
  );
  console.log(
    markdownTable(
      ['variant', 'ms (median)', 'vs residual'],
      training.map((r) => [r.variant, fmt(r.ms), `${fmt(r.overheadVsResidual)}×`]),
    ),
  );
  console.log(
    `\naims: sHC float64 C = 64 layer ${fmt(shc64.ms)} ms (aim < ` +
      `${AIM_SHC_F64_C64_MS} ms): ${aims.shcFloat64C64UnderMs.met ? 'met' : 'NOT met'}`,
  );
  for (const a of aims.layerOverhead) {
    console.log(
      `aims: ${a.variant} layer (float64, C = 64) ≤ ${fmt(a.aim)}× the residual: ${fmt(a.ratio)}× ` +
        `(${a.met ? 'met' : 'NOT met'})`,
    );
  }
  for (const a of aims.trainingOverhead) {
    console.log(
      `aims: ${a.variant} AdamW step ≤ ${fmt(a.aim)}× the residual's: ${fmt(a.ratio)}× (${a.met ? 'met' : 'NOT met'})`,
    );
  }
  for (const a of aims.shcCheaperThanMhc) {
    console.log(
      `aims: sHC ${fmt(a.shcMs)} ms vs mHC ${fmt(a.mhcMs)} ms (${a.dtype}, C = ${a.dim}): ${a.met ? 'met' : 'NOT met'}`,
    );
  }
  const path = writeResults('hc-layers', {
    bench: 'hc-layers',
    batch: BATCH,
    seq: SEQ,
    streams: STREAMS,
    layers,
    training,
    trainConfig: TRAIN,
    aims,
  });
  console.log(`\nwrote ${path}`);
}

if (isMain(import.meta.url)) await main();
