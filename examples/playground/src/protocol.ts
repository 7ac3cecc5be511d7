/** The messages between the page and the training worker. */
import type { RunConfig, Snapshot } from './trainer';

export type ToWorker =
  /** Build a fresh run from the config (its seed fixes everything); it waits for 'start'. `run` tags its progress. */
  { type: 'reset'; run: number; config: RunConfig } | { type: 'start' } | { type: 'pause' };

export type FromWorker =
  /** The losses of steps `firstStep`, `firstStep + 1`, … (1-based), and maybe fresh diagnostics. */
  | { type: 'progress'; run: number; firstStep: number; losses: number[]; snapshot: Snapshot | null }
  /** The loop has started (the page shows "running" only on this). */
  | { type: 'running'; run: number }
  /** The loop has stopped after `step` steps (the page shows "paused" only on this). */
  | { type: 'paused'; run: number; step: number }
  | { type: 'ready'; run: number }
  | { type: 'error'; message: string };
