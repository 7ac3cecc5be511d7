/**
 * The demo's independent runs (one training run and one mixing run per variant), executed in
 * this thread or spread over worker threads. Every run is deterministic from the config alone,
 * so where it runs never changes a number. Workers load TypeScript through tsx's ESM API (the
 * demo runs under tsx), and report progress as messages.
 */
import { Worker } from 'node:worker_threads';
import type { Variant } from '@hyperconn/hc-layers';
import type { DemoConfig } from './config';
import { runMixing, type MixingResult } from './experiments/mixing';
import { runTraining, type TrainingResult } from './experiments/training';

export type Job = { kind: 'training'; variant: Variant } | { kind: 'mixing'; variant: Variant };
export type JobResult = { kind: 'training'; result: TrainingResult } | { kind: 'mixing'; result: MixingResult };

/** Messages from a worker. */
export type WorkerMessage =
  | { type: 'progress'; id: number; done: number }
  | { type: 'result'; id: number; result: JobResult }
  | { type: 'error'; id: number; message: string };

/** The steps a job reports progress in. */
export function jobSize(job: Job, config: DemoConfig): number {
  return job.kind === 'training' ? config.training.steps : config.mixing.steps;
}

/** Rough relative cost, for scheduling the longest runs first (mHC's Sinkhorn is the slowest). */
function jobWeight(job: Job, config: DemoConfig): number {
  const perStep: Record<Variant, number> = {
    residual: 0.6,
    hc: 0.8,
    mhc: 1.8,
    mhcLite: 0.8,
    kromhc: 1,
    shc: 1,
    shcPower: 1.2,
  };
  const scale =
    job.kind === 'training'
      ? config.training.batchSize * config.training.seqLen * config.training.blocks
      : config.mixing.tokens * config.mixing.layers * 0.2;
  return jobSize(job, config) * scale * perStep[job.variant];
}

export function runJob(job: Job, config: DemoConfig, onProgress: (done: number) => void): JobResult {
  return job.kind === 'training'
    ? { kind: 'training', result: runTraining(job.variant, config, onProgress) }
    : { kind: 'mixing', result: runMixing(job.variant, config, onProgress) };
}

/**
 * Runs every job and returns the results in the order of `jobs`. With `workers` ≤ 1 the jobs run
 * here, one after another; otherwise in that many worker threads, longest first.
 * `onProgress(done, total)` counts finished steps over all jobs.
 */
export async function runJobs(
  jobs: readonly Job[],
  config: DemoConfig,
  workers: number,
  onProgress: (done: number, total: number) => void,
): Promise<JobResult[]> {
  const total = jobs.reduce((acc, j) => acc + jobSize(j, config), 0);
  const done = new Array<number>(jobs.length).fill(0);
  const report = (id: number, d: number): void => {
    done[id] = d;
    onProgress(
      done.reduce((a, b) => a + b, 0),
      total,
    );
  };
  if (workers <= 1 || jobs.length <= 1) return jobs.map((job, id) => runJob(job, config, (d) => report(id, d)));

  const order = jobs.map((_, id) => id).sort((a, b) => jobWeight(jobs[b]!, config) - jobWeight(jobs[a]!, config));
  const results = new Array<JobResult | undefined>(jobs.length);
  const pool = Array.from({ length: Math.min(workers, jobs.length) }, () => startWorker());
  try {
    await Promise.all(
      pool.map(async (worker) => {
        for (let id = order.shift(); id !== undefined; id = order.shift()) {
          results[id] = await runOnWorker(worker, id, jobs[id]!, config, (d) => report(id, d));
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results as JobResult[];
}

function startWorker(): Worker {
  // an eval'd bootstrap: register tsx's loader in the worker, then import the TypeScript entry
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot =
    `import(${JSON.stringify(api)}).then(({ register }) => { ` +
    `register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true });
}

function runOnWorker(
  worker: Worker,
  id: number,
  job: Job,
  config: DemoConfig,
  onProgress: (done: number) => void,
): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: WorkerMessage): void => {
      if (msg.id !== id) return;
      if (msg.type === 'progress') {
        onProgress(msg.done);
        return;
      }
      worker.off('message', onMessage);
      worker.off('error', onError);
      if (msg.type === 'result') resolve(msg.result);
      else reject(new Error(`${job.kind} run of ${job.variant} failed in a worker: ${msg.message}`));
    };
    const onError = (err: Error): void => {
      worker.off('message', onMessage);
      reject(err);
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.postMessage({ id, job, config });
  });
}
