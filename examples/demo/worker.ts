/** A worker thread of the demo: runs the jobs it is sent (see jobs.ts) and posts progress and results. */
import { parentPort } from 'node:worker_threads';
import type { DemoConfig } from './config';
import { runJob, type Job, type WorkerMessage } from './jobs';

const port = parentPort!;
port.on('message', ({ id, job, config }: { id: number; job: Job; config: DemoConfig }) => {
  const post = (msg: WorkerMessage): void => port.postMessage(msg);
  try {
    let last = 0;
    const result = runJob(job, config, (done) => {
      // a message per step is cheap next to a step, but keep the channel quiet for tiny runs
      if (done === last) return;
      last = done;
      post({ type: 'progress', id, done });
    });
    post({ type: 'result', id, result });
  } catch (err) {
    post({ type: 'error', id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
