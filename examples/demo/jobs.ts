/**
 * The demo's independent runs (depth products, training runs, mixing runs), executed in this
 * thread or spread over worker threads. Every run is deterministic from the config and its job
 * alone, so where it runs never changes a number. Workers load TypeScript through tsx's ESM API
 * (the demo runs under tsx), and report progress as messages.
 */
import { Worker } from 'node:worker_threads';
import type { Variant } from '@hyperconn/hc-layers';
import type { DemoConfig } from './config';
import { runDepth, type DepthResult } from './experiments/depth';
import { runMixing, type MixingResult } from './experiments/mixing';
import { runModel, runTraining, type RunSpec, type TrainingResult } from './experiments/training';

export type Job =
  | { kind: 'depth'; variant: Variant; scale: number; replicate: number }
  | { kind: 'training'; spec: RunSpec }
  | { kind: 'mixing'; variant: Variant; replicate: number };
export type JobResult =
  | { kind: 'depth'; result: DepthResult }
  | { kind: 'training'; result: TrainingResult }
  | { kind: 'mixing'; result: MixingResult };

/** Messages from a worker. */
export type WorkerMessage =
  | { type: 'progress'; id: number; done: number }
  | { type: 'result'; id: number; result: JobResult }
  | { type: 'error'; id: number; message: string };

/** The steps a job reports progress in. */
export function jobSize(job: Job, config: DemoConfig): number {
  if (job.kind === 'depth') return config.depth.maxDepth;
  return job.kind === 'training' ? runModel(job.spec, config).steps : config.mixing.steps;
}

/** Relative cost per step of the variants (measured on the default training model). */
const PER_STEP: Record<Variant, number> = {
  residual: 0.6,
  hc: 1.1,
  mhc: 1.3,
  mhcLite: 0.9,
  kromhc: 0.9,
  shc: 0.9,
  shcPower: 1.2,
};

/** Rough relative cost, for scheduling the longest runs first. */
function jobWeight(job: Job, config: DemoConfig): number {
  if (job.kind === 'depth') return config.depth.maxDepth * config.depth.tokens * 0.05 * PER_STEP[job.variant];
  if (job.kind === 'mixing') return jobSize(job, config) * config.mixing.tokens * config.mixing.layers * 0.02;
  const model = runModel(job.spec, config);
  const sinkhorn = job.spec.variant === 'mhc' ? 0.7 + (0.3 * job.spec.sinkhornIters) / 20 : 1;
  return model.steps * model.blocks * model.batchSize * model.seqLen * PER_STEP[job.spec.variant] * sinkhorn;
}

export function runJob(job: Job, config: DemoConfig, onProgress: (done: number) => void): JobResult {
  switch (job.kind) {
    case 'depth':
      return { kind: 'depth', result: runDepth(job.variant, job.scale, job.replicate, config, onProgress) };
    case 'training':
      return { kind: 'training', result: runTraining(job.spec, config, onProgress) };
    case 'mixing':
      return { kind: 'mixing', result: runMixing(job.variant, job.replicate, config, onProgress) };
  }
}

/** A short name of a job for error messages. */
function jobName(job: Job): string {
  if (job.kind === 'training') {
    const s = job.spec;
    return (
      `${s.experiment} run of ${s.variant} (replicate ${s.replicate}, ${s.arm} init, ` +
      `lr ${s.lr}, ${s.blocks} blocks)`
    );
  }
  return `${job.kind} run of ${job.variant} (replicate ${job.replicate})`;
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
): Promise<{ results: JobResult[]; seconds: number[] }> {
  const total = jobs.reduce((acc, j) => acc + jobSize(j, config), 0);
  const done = new Array<number>(jobs.length).fill(0);
  const report = (id: number, d: number): void => {
    done[id] = d;
    onProgress(
      done.reduce((a, b) => a + b, 0),
      total,
    );
  };
  // each job's own wall-clock time, so the report can say what each experiment cost
  const seconds = new Array<number>(jobs.length).fill(0);
  const timed = async (id: number, run: () => JobResult | Promise<JobResult>): Promise<JobResult> => {
    const began = performance.now();
    const result = await run();
    seconds[id] = (performance.now() - began) / 1000;
    return result;
  };
  if (workers <= 1 || jobs.length <= 1) {
    const results: JobResult[] = [];
    for (const [id, job] of jobs.entries())
      results.push(await timed(id, () => runJob(job, config, (d) => report(id, d))));
    return { results, seconds };
  }

  const order = jobs.map((_, id) => id).sort((a, b) => jobWeight(jobs[b]!, config) - jobWeight(jobs[a]!, config));
  const results = new Array<JobResult | undefined>(jobs.length);
  const pool = Array.from({ length: Math.min(workers, jobs.length) }, () => startWorker());
  try {
    await Promise.all(
      pool.map(async (worker) => {
        for (let id = order.shift(); id !== undefined; id = order.shift()) {
          results[id] = await timed(id, () => runOnWorker(worker, id, jobs[id]!, config, (d) => report(id, d)));
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return { results: results as JobResult[], seconds };
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
      else reject(new Error(`${jobName(job)} failed in a worker: ${msg.message}`));
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
