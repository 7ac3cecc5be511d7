/**
 * autograd: per-op overhead on tiny tensors and a small MLP training step, against tfjs-core +
 * its pure-JS CPU backend (`tf.variableGrads`, float32 only) on the same work, in one process.
 * Run: `npx tsx bench/autograd.ts`.
 */
// The union package: its Node build registers the gradient functions, which tfjs-core's
// Node build alone does not (its ESM build, which would, does not load under Node).
import * as tf from '@tensorflow/tfjs';
import * as T from '@hyperconn/tensor';
import { Random, type DType } from '@hyperconn/tensor';
import { add, matmul, mean, mul, param, square, sub, sum, tanh, Variable, noGrad } from '@hyperconn/autograd';
import { fmt, isMain, machineInfo, markdownTable, timeAll, writeResults } from './lib';

const CHAIN_LENGTH = 50; // tanh(c · x) fifty times: 100 ops forward

function chainOurs(dtype: DType): () => void {
  const rng = new Random(1);
  const c = new Variable(rng.uniform([4, 4], { low: 0.5, high: 1.5, dtype }));
  const b = param(rng.uniform([4, 4], { low: -1, high: 1, dtype }));
  return () => {
    let x = b;
    for (let i = 0; i < CHAIN_LENGTH; i++) x = tanh(mul(c, x));
    b.zeroGrad();
    sum(x).backward();
  };
}

function chainTf(): () => void {
  const rng = new Random(1);
  const c = tf.tensor(Array.from(rng.uniform([16], { low: 0.5, high: 1.5 }).toTypedArray()), [4, 4]);
  const b = tf.variable(tf.tensor(Array.from(rng.uniform([16], { low: -1, high: 1 }).toTypedArray()), [4, 4]));
  return () => {
    const { value, grads } = tf.variableGrads(() => {
      let x: tf.Tensor = b;
      for (let i = 0; i < CHAIN_LENGTH; i++) x = tf.tanh(tf.mul(c, x));
      return tf.sum(x) as tf.Scalar;
    }, [b]);
    grads[b.name]!.dataSync();
    value.dispose();
    tf.dispose(grads);
  };
}

const MLP = { batch: 64, input: 16, hidden: 64, lr: 0.01 };

function mlpOurs(dtype: DType): () => void {
  const rng = new Random(2);
  const x = new Variable(rng.normal([MLP.batch, MLP.input], { dtype }));
  const y = new Variable(rng.normal([MLP.batch, 1], { dtype }));
  const params = [
    param(rng.normal([MLP.input, MLP.hidden], { std: 1 / Math.sqrt(MLP.input), dtype })),
    param(rng.normal([MLP.hidden], { std: 0.1, dtype })),
    param(rng.normal([MLP.hidden, 1], { std: 1 / Math.sqrt(MLP.hidden), dtype })),
    param(rng.normal([1], { std: 0.1, dtype })),
  ];
  const [w1, b1, w2, b2] = params as [Variable, Variable, Variable, Variable];
  return () => {
    const h = tanh(add(matmul(x, w1), b1));
    const loss = mean(square(sub(add(matmul(h, w2), b2), y)));
    for (const p of params) p.zeroGrad();
    loss.backward();
    noGrad(() => {
      for (const p of params) p.value.assign(T.sub(p.value, T.mul(p.grad!.value, MLP.lr)));
    });
  };
}

function mlpTf(): () => void {
  const rng = new Random(2);
  const t = (shape: number[], std: number): tf.Tensor =>
    tf.tensor(Array.from(rng.normal(shape, { std }).toTypedArray()), shape);
  const x = t([MLP.batch, MLP.input], 1);
  const y = t([MLP.batch, 1], 1);
  const w1 = tf.variable(t([MLP.input, MLP.hidden], 1 / Math.sqrt(MLP.input)));
  const b1 = tf.variable(t([MLP.hidden], 0.1));
  const w2 = tf.variable(t([MLP.hidden, 1], 1 / Math.sqrt(MLP.hidden)));
  const b2 = tf.variable(t([1], 0.1));
  const vars = [w1, b1, w2, b2];
  return () => {
    const { value, grads } = tf.variableGrads(() => {
      const h = tf.tanh(tf.add(tf.matMul(x, w1), b1));
      return tf.mean(tf.square(tf.sub(tf.add(tf.matMul(h, w2), b2), y))) as tf.Scalar;
    }, vars);
    tf.tidy(() => {
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, MLP.lr)));
    });
    w2.dataSync();
    value.dispose();
    tf.dispose(grads);
  };
}

export async function main(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  const chain = timeAll({ f64: chainOurs('float64'), f32: chainOurs('float32'), tfjs: chainTf() });
  const mlp = timeAll({ f64: mlpOurs('float64'), f32: mlpOurs('float32'), tfjs: mlpTf() });
  const us = (ms: number): string => fmt(ms * 1000);
  const rows = [
    [
      '100-op chain tanh(c·x) on 4×4, fwd+bwd',
      us(chain.f64.medianMs),
      us(chain.f32.medianMs),
      us(chain.tfjs.medianMs),
      `${fmt(chain.tfjs.medianMs / chain.f64.medianMs)}×`,
      `${fmt(chain.tfjs.medianMs / chain.f32.medianMs)}×`,
    ],
    [
      `MLP ${MLP.input}-${MLP.hidden}-1 step, batch ${MLP.batch}`,
      us(mlp.f64.medianMs),
      us(mlp.f32.medianMs),
      us(mlp.tfjs.medianMs),
      `${fmt(mlp.tfjs.medianMs / mlp.f64.medianMs)}×`,
      `${fmt(mlp.tfjs.medianMs / mlp.f32.medianMs)}×`,
    ],
  ];
  console.log(`\n## autograd (median µs per call; ${machineInfo().cpu}, node ${process.version})\n`);
  console.log(
    markdownTable(['work', 'ours f64 µs', 'ours f32 µs', 'tfjs-cpu f32 µs', 'speed-up f64', 'speed-up f32'], rows),
  );
  console.log(
    `\nper op in the chain (fwd+bwd / 100 ops): ours f64 ${fmt((chain.f64.medianMs * 1000) / 100)} ` +
      `µs, tfjs ${fmt((chain.tfjs.medianMs * 1000) / 100)} µs`,
  );
  const path = writeResults('autograd', { chain, mlp, mlpConfig: MLP, chainLength: CHAIN_LENGTH });
  console.log(`results: ${path}`);
}

if (isMain(import.meta.url)) await main();
