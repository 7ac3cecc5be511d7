/** The messages between the page and the training worker. */
import type { RunConfig, Snapshot } from './trainer';

export type ToWorker =
  /** Build a fresh run from the config (its seed fixes everything); it waits for 'start'. `run` tags its progress. */
  | { type: 'reset'; run: number; config: RunConfig }
  | { type: 'start' }
  | { type: 'pause' }
  /** Use k threads for the products big enough to gain (the page's `?threads=k`; needs cross-origin isolation). */
  | { type: 'threads'; threads: number };

export type FromWorker =
  /** The losses of steps `firstStep`, `firstStep + 1`, … (1-based), and maybe fresh diagnostics. */
  | { type: 'progress'; run: number; firstStep: number; losses: number[]; snapshot: Snapshot | null }
  /** The loop has started (the page shows "running" only on this). */
  | { type: 'running'; run: number }
  /** The loop has stopped after `step` steps (the page shows "paused" only on this). */
  | { type: 'paused'; run: number; step: number }
  | { type: 'ready'; run: number }
  /** The thread pool: threads asked for, where they can run (`'web'` only on an isolated page), workers loaded. */
  | { type: 'threads'; threads: number; host: 'node' | 'web' | 'none'; loaded: number; isolated: boolean }
  | { type: 'error'; message: string };
