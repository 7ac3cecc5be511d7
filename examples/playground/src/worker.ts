/**
 * The training loop, in a Web Worker so the page stays responsive. It runs steps in slices of
 * ~SLICE_MS and yields to the event loop between slices, so a 'pause' or 'reset' takes effect
 * after at most one step; what a step computes never depends on the timing.
 */
import { setNumThreads, threadPoolInfo } from '@hyperconn/tensor';
import type { FromWorker, ToWorker } from './protocol';
import { Trainer } from './trainer';

/** Enough of DedicatedWorkerGlobalScope (the project's lib is DOM, not WebWorker). */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;

const SLICE_MS = 60;
/** Diagnostics cost an SVD per token and layer: send them a few times a second, not every step. */
const SNAPSHOT_MS = 250;

let trainer: Trainer | null = null;
let run = 0;
let running = false;
/** Bumped by every reset and pause, so a slice scheduled before them never runs. */
let generation = 0;
let lastSnapshot = 0;

function slice(gen: number): void {
  if (gen !== generation || trainer === null) return;
  const t = trainer;
  try {
    const firstStep = t.steps + 1;
    const losses: number[] = [];
    const start = performance.now();
    do losses.push(t.step());
    while (performance.now() - start < SLICE_MS);
    const now = performance.now();
    const fresh = firstStep === 1 || now - lastSnapshot >= SNAPSHOT_MS;
    if (fresh) lastSnapshot = now;
    scope.postMessage({ type: 'progress', run, firstStep, losses, snapshot: fresh ? t.snapshot() : null });
    setTimeout(() => slice(gen), 0);
  } catch (err) {
    running = false;
    scope.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * What the page shows of the thread pool. The pool's workers load after this worker yields, so it
 * reports again every half second until they have (or for ten seconds).
 */
function reportThreads(tries = 20): void {
  const info = threadPoolInfo();
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  scope.postMessage({ type: 'threads', threads: info.threads, host: info.host, loaded: info.loaded, isolated });
  if (info.loaded < info.workers && tries > 1) setTimeout(() => reportThreads(tries - 1), 500);
}

scope.onmessage = ({ data }) => {
  switch (data.type) {
    case 'threads':
      try {
        setNumThreads(data.threads);
      } catch (err) {
        scope.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      }
      reportThreads();
      break;
    case 'reset':
      generation++;
      running = false;
      run = data.run;
      try {
        trainer = new Trainer(data.config);
        scope.postMessage({ type: 'ready', run });
      } catch (err) {
        trainer = null;
        scope.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      }
      break;
    case 'start':
      if (running || trainer === null) return;
      running = true;
      scope.postMessage({ type: 'running', run });
      slice(generation);
      break;
    case 'pause':
      generation++;
      running = false;
      if (trainer !== null) scope.postMessage({ type: 'paused', run, step: trainer.steps });
      break;
  }
};
