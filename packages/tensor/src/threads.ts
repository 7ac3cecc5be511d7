/**
 * A pool of worker threads for the big kernels (today: the blocked matmul), opt-in and
 * synchronous. With k threads the calling thread computes one share of a product and k − 1
 * persistent workers compute the others on SharedArrayBuffer copies of the operands; the caller
 * blocks in `Atomics.wait` until they are done, so every op keeps its synchronous API.
 *
 * Where it runs: Node (≥ 20.16, through `process.getBuiltinModule('node:worker_threads')`, so
 * no Node built-in is imported and browser bundles stay clean) and dedicated Web Workers of a
 * cross-origin isolated page. Anywhere else (a browser main thread, where `Atomics.wait` is
 * refused; a page without cross-origin isolation; older Node) products run on one thread.
 *
 * The workers are started on first use (Node) or by `setNumThreads` (browsers, where a worker
 * only loads once its creator yields to its event loop), are `unref`ed so they never keep a
 * Node process alive, and are terminated by `setNumThreads(1)` or `shutdownThreads()`. A
 * failure or a stall in a worker is a WorkerError on the caller, never a hang.
 */
import { fmtArg, HyperconnError, ValueError } from './errors.js';

/** A worker thread of the pool failed to start, threw, or did not finish in time. */
export class WorkerError extends HyperconnError {}

/** The most threads `setNumThreads` accepts. */
export const MAX_THREADS = 64;

/** What `threadPoolInfo()` reports. */
export interface ThreadPoolInfo {
  /** The thread count asked for (`setNumThreads`, else `HYPERCONN_NUM_THREADS`, else 1). */
  threads: number;
  /** Where threads can run: `'node'`, `'web'` (a dedicated worker of an isolated page), or `'none'`. */
  host: 'node' | 'web' | 'none';
  /** Worker threads alive now (threads − 1 once started, 0 before first use or after shutdown). */
  workers: number;
  /** Those of them loaded and idle (a browser pool loads in the background after `setNumThreads`). */
  loaded: number;
  /** Products computed by more than one thread since the module was loaded. */
  parallelRuns: number;
}

// Shared slot layout: status[2i] is worker i's state, status[2i + 1] the length of its error
// message, which is stored in errors[i·ERROR_CHARS …] as UTF-16 code units.
/** A task was posted to the worker and is not finished (also: the worker is still starting). */
export const BUSY = 1;
/** The worker finished its task (or finished starting). */
export const DONE = 2;
/** The worker's task (or start) threw; its message is in the error slot. */
export const FAILED = 3;
/** Room for one worker's error message. */
export const ERROR_CHARS = 1024;

/**
 * Waiting budgets, in ms. A worker computes a share as big as the caller's, so the caller
 * waits `minMs + perMainMs ×` its own share's time before calling a worker stalled: generous
 * on a loaded machine, yet bounded. Mutable for tests.
 */
export const waitPolicy = { startupMs: 30_000, minMs: 10_000, perMainMs: 50 };

interface NodeWorker {
  postMessage(value: unknown): void;
  terminate(): Promise<number>;
  unref(): void;
  on(event: 'error' | 'exit', listener: (arg: unknown) => void): void;
}

interface WebWorker {
  postMessage(value: unknown): void;
  terminate(): void;
  onerror: ((event: { message?: string }) => void) | null;
}

interface Pool {
  workers: (NodeWorker | WebWorker)[];
  status: Int32Array;
  errors: Uint16Array;
  /** Set by a worker's error/exit event, or by a failed run: the next product starts a new pool. */
  broken: boolean;
  /** Web pools load in the background; a product uses the pool once every worker said DONE. */
  ready: boolean;
}

interface NodeProcess {
  versions?: { node?: string };
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

// The build compiles against ES2022 alone (no DOM, no Node types): host globals are typed here.
interface HostGlobals {
  URL: new (url: string, base: string) => { href: string };
  Worker: new (url: { href: string }, options: { type: 'module' }) => WebWorker;
}
const host$ = globalThis as unknown as HostGlobals;
const nodeProcess = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

let requested: number | undefined; // undefined until set or read from the environment
let pool: Pool | undefined;
let parallelRuns = 0;
let hostKind: ThreadPoolInfo['host'] | undefined;

function host(): ThreadPoolInfo['host'] {
  if (hostKind !== undefined) return hostKind;
  const g = globalThis as {
    crossOriginIsolated?: boolean;
    DedicatedWorkerGlobalScope?: abstract new () => unknown;
    Worker?: unknown;
  };
  const proc = nodeProcess();
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') hostKind = 'none';
  else if (typeof proc?.versions?.node === 'string') {
    hostKind = typeof proc.getBuiltinModule === 'function' ? 'node' : 'none';
  } else if (
    g.crossOriginIsolated === true &&
    typeof g.Worker === 'function' &&
    typeof g.DedicatedWorkerGlobalScope === 'function' &&
    globalThis instanceof g.DedicatedWorkerGlobalScope
  ) {
    hostKind = 'web';
  } else hostKind = 'none';
  return hostKind;
}

/** The thread count, reading `HYPERCONN_NUM_THREADS` once (Node) when nothing was set. */
function numThreads(op: string): number {
  if (requested !== undefined) return requested;
  const raw = nodeProcess()?.env?.HYPERCONN_NUM_THREADS;
  if (raw === undefined || raw.trim() === '') requested = 1;
  else {
    const k = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(k >= 1 && k <= MAX_THREADS)) {
      throw new ValueError(
        `${op}: the environment variable HYPERCONN_NUM_THREADS must be an integer from 1 to ${MAX_THREADS}, ` +
          `got ${JSON.stringify(raw)}`,
      );
    }
    requested = k;
  }
  return requested;
}

/**
 * Uses `k` threads (the caller plus k − 1 workers) for products large enough to gain from it;
 * 1 (the default) computes everything on the calling thread and terminates the workers.
 * Results are bit-identical for every k: each thread computes whole output elements with the
 * one-thread kernel. In Node the default comes from the environment variable
 * `HYPERCONN_NUM_THREADS`, read once. Where threads cannot run (a browser main thread, a page
 * that is not cross-origin isolated, Node < 20.16) products stay on one thread whatever k is.
 * In a browser worker the pool starts loading now and is used once loaded. Throws a
 * ValueError unless k is an integer from 1 to `MAX_THREADS`.
 */
export function setNumThreads(k: number): void {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_THREADS) {
    throw new ValueError(`setNumThreads: k must be an integer from 1 to ${MAX_THREADS}, got ${fmtArg(k)}`);
  }
  requested = k;
  if (pool !== undefined && pool.workers.length !== k - 1) shutdownThreads();
  if (k > 1 && host() === 'web' && pool === undefined) pool = startWebPool(k - 1);
}

/** The thread count products may use: set by `setNumThreads`, else `HYPERCONN_NUM_THREADS`, else 1. */
export function getNumThreads(): number {
  return numThreads('getNumThreads');
}

/**
 * Terminates the worker threads (they are restarted on the next product that uses them, if
 * the thread count is still above 1). Not needed for a Node process to exit: idle workers
 * never keep it alive.
 */
export function shutdownThreads(): void {
  const old = pool;
  pool = undefined;
  if (old === undefined) return;
  for (const w of old.workers) {
    const done = w.terminate();
    if (done instanceof Promise) done.catch(() => undefined);
  }
}

/** The pool's state, for diagnostics and tests. */
export function threadPoolInfo(): ThreadPoolInfo {
  const workers = pool?.workers.length ?? 0;
  let loaded = 0;
  for (let i = 0; i < workers; i++) if (Atomics.load(pool!.status, 2 * i) === DONE) loaded++;
  return { threads: numThreads('threadPoolInfo'), host: host(), workers, loaded, parallelRuns };
}

/**
 * How many threads `op` may use now: 1 unless more were asked for, the host can run them,
 * and (in browsers) the pool has loaded.
 */
export function usableThreads(op: string): number {
  const k = numThreads(op);
  if (k === 1) return 1;
  const kind = host();
  if (kind === 'node') return k;
  if (kind !== 'web') return 1;
  if (pool?.broken) {
    shutdownThreads();
    throw new WorkerError(`${op}: the worker threads failed to load (call setNumThreads(1) to use one thread)`);
  }
  pool ??= startWebPool(k - 1);
  if (!pool.ready) {
    for (let i = 0; i < pool.workers.length; i++) if (Atomics.load(pool.status, 2 * i) !== DONE) return 1;
    pool.ready = true;
  }
  return k;
}

/**
 * Runs `tasks[i]` on worker i while `runMain` runs here, then waits for every worker. Each
 * task is a structured-clonable object with an `op` field that the worker module knows.
 * Throws a WorkerError (after every worker has stopped or timed out) if a worker failed or
 * stalled; a stalled pool is terminated and the next call starts a new one.
 */
export function runParallel(op: string, tasks: readonly Record<string, unknown>[], runMain: () => void): void {
  const p = ensurePool(op, tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    Atomics.store(p.status, 2 * i, BUSY);
    p.workers[i]!.postMessage(tasks[i]);
  }
  const t0 = Date.now();
  let mainError: unknown;
  try {
    runMain();
  } catch (e) {
    mainError = e;
  }
  const budget = waitPolicy.minMs + waitPolicy.perMainMs * (Date.now() - t0);
  const failure = waitAll(op, p, tasks.length, budget, 'finish its share');
  if (failure !== undefined) throw failure;
  if (mainError !== undefined) throw mainError;
  parallelRuns++;
}

/**
 * The pool, with at least `workers` workers (Node: k − 1 of them, started now if need be,
 * waiting until they have loaded).
 */
function ensurePool(op: string, workers: number): Pool {
  if (pool !== undefined && (pool.broken || pool.workers.length < workers)) shutdownThreads();
  if (pool !== undefined) return pool;
  if (host() !== 'node') throw new WorkerError(`${op}: no worker pool is running`);
  const size = Math.max(workers, numThreads(op) - 1);
  const p = startNodePool(op, size);
  pool = p;
  const failure = waitAll(op, p, size, waitPolicy.startupMs, 'start');
  if (failure !== undefined) {
    shutdownThreads();
    throw failure;
  }
  p.ready = true;
  return p;
}

/**
 * Waits until workers 0 … count − 1 are not BUSY, all of them within `budgetMs` together.
 * Returns the WorkerError to throw (the first failure, else a stall), or undefined.
 */
function waitAll(op: string, p: Pool, count: number, budgetMs: number, what: string): WorkerError | undefined {
  const deadline = Date.now() + budgetMs;
  let failure: WorkerError | undefined;
  for (let i = 0; i < count; i++) {
    let state = Atomics.load(p.status, 2 * i);
    while (state === BUSY) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(p.status, 2 * i, BUSY, left);
      state = Atomics.load(p.status, 2 * i);
    }
    if (state === BUSY) {
      failure ??= new WorkerError(
        `${op}: worker ${i + 1} of ${count} did not ${what} within ${Math.round(budgetMs)} ms; ` +
          'the worker pool was terminated',
      );
      p.broken = true;
    } else if (state === FAILED) {
      const length = Math.min(Atomics.load(p.status, 2 * i + 1), ERROR_CHARS);
      let message = '';
      for (let c = 0; c < length; c++) message += String.fromCharCode(p.errors[i * ERROR_CHARS + c]!);
      failure ??= new WorkerError(`${op}: worker ${i + 1} of ${count} failed to ${what}: ${message}`);
      p.status[2 * i] = DONE;
    }
  }
  if (p.broken && pool === p) shutdownThreads();
  return failure;
}

function sharedSlots(workers: number): Pick<Pool, 'status' | 'errors'> {
  const status = new Int32Array(new SharedArrayBuffer(8 * workers));
  const errors = new Uint16Array(new SharedArrayBuffer(2 * ERROR_CHARS * workers));
  for (let i = 0; i < workers; i++) status[2 * i] = BUSY; // each worker reports DONE once loaded
  return { status, errors };
}

interface WorkerThreadsModule {
  Worker: new (code: string, options: { eval: true; workerData: unknown }) => NodeWorker;
}
interface UrlModule {
  fileURLToPath(url: string): string;
  pathToFileURL(path: string): { href: string };
}

/**
 * Node workers run a tiny bootstrap that imports the worker module and, should that fail
 * (missing file, syntax error), reports the error through the shared slots: the caller is
 * blocked in Atomics.wait and would never see the worker's 'error' event in time. Under the
 * TypeScript sources (vitest, tsx) the module is `threads-worker.ts`, which Node cannot load by
 * itself: the bootstrap first imports `tsx/esm` (a dev dependency of the workspace), which
 * registers the loader in the worker. From the built package it is `threads-worker.js`.
 */
function startNodePool(op: string, workers: number): Pool {
  const proc = nodeProcess()!;
  const wt = proc.getBuiltinModule!('node:worker_threads') as WorkerThreadsModule;
  const url = proc.getBuiltinModule!('node:url') as UrlModule;
  const fs = proc.getBuiltinModule!('node:fs') as { existsSync(path: string): boolean };
  const here = (import.meta as unknown as { url: string }).url;
  const fromSources = here.endsWith('.ts');
  const workerUrl = new host$.URL(fromSources ? './threads-worker.ts' : './threads-worker.js', here);
  if (!fs.existsSync(url.fileURLToPath(workerUrl.href))) {
    throw new WorkerError(`${op}: the worker module ${url.fileURLToPath(workerUrl.href)} is missing`);
  }
  let loader = '';
  if (fromSources) {
    const mod = proc.getBuiltinModule!('node:module') as {
      createRequire(from: string): { resolve(id: string): string };
    };
    let tsx: string;
    try {
      // tsx/esm/api's ESM build; require.resolve picks the CommonJS one
      tsx = mod
        .createRequire(here)
        .resolve('tsx/esm/api')
        .replace(/\.cjs$/, '.mjs');
    } catch {
      throw new WorkerError(`${op}: worker threads running the TypeScript sources need tsx, which was not found`);
    }
    loader = `(await import(${JSON.stringify(url.pathToFileURL(tsx).href)})).register();`;
  }
  const bootstrap = `
const { workerData } = process.getBuiltinModule('node:worker_threads');
(async () => { ${loader} await import(${JSON.stringify(workerUrl.href)}); })().catch((e) => {
  const { status, errors, index } = workerData;
  const s = String((e && e.stack) || e).slice(0, ${ERROR_CHARS});
  for (let c = 0; c < s.length; c++) errors[index * ${ERROR_CHARS} + c] = s.charCodeAt(c);
  Atomics.store(status, 2 * index + 1, s.length);
  Atomics.store(status, 2 * index, ${FAILED});
  Atomics.notify(status, 2 * index);
});`;
  const slots = sharedSlots(workers);
  const p: Pool = { workers: [], ...slots, broken: false, ready: false };
  for (let index = 0; index < workers; index++) {
    const w = new wt.Worker(bootstrap, { eval: true, workerData: { ...slots, index } });
    w.unref();
    // Seen only when the event loop runs: the next product then starts a new pool.
    const broken = (): void => {
      p.broken = true;
    };
    w.on('error', broken);
    w.on('exit', broken);
    p.workers.push(w);
  }
  return p;
}

/**
 * Web workers load the module worker `threads-worker.js` next to this module (bundlers such
 * as Vite follow the `new Worker(new URL(…, import.meta.url))` pattern and bundle it) and get
 * their slots in a first 'init' message.
 */
function startWebPool(workers: number): Pool {
  const slots = sharedSlots(workers);
  const p: Pool = { workers: [], ...slots, broken: false, ready: false };
  const { URL, Worker } = host$; // keeps the literal pattern bundlers look for
  for (let index = 0; index < workers; index++) {
    const w = new Worker(new URL('./threads-worker.js', (import.meta as unknown as { url: string }).url), {
      type: 'module',
    });
    w.onerror = () => {
      p.broken = true;
    };
    w.postMessage({ op: 'init', ...slots, index });
    p.workers.push(w);
  }
  return p;
}
