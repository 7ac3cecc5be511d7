/**
 * A tiny benchmark harness: warm up, time batches of calls until enough time is measured,
 * report the median time per call. Machines are shared and noisy, so benchmarks print
 * ratios against a peer measured in the same process, not only absolute times.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface TimingOptions {
  /** Time spent calling each function before measuring (JIT warm-up). */
  warmupMs?: number;
  /** Keep timing batches until each function has this much time measured. */
  minTimeMs?: number;
  /** Target duration of one batch; the batch size is chosen to reach it. */
  batchMs?: number;
  /** At least this many batches per function, however long they take. */
  minBatches?: number;
}

export interface Timing {
  /** Median over batches of the mean time per call in a batch. */
  medianMs: number;
  /** Fastest batch's mean time per call. */
  minMs: number;
  callsPerBatch: number;
  batches: number;
}

/** Times one function; see `timeAll`. */
export function timeIt(fn: () => void, options: TimingOptions = {}): Timing {
  return timeAll({ fn }, options).fn;
}

/**
 * Times several functions that do the same work. Each is warmed up (which also sizes its
 * batches), then they run one batch each in turn until every one has `minTimeMs` measured
 * and `minBatches` batches, so a slow spell of a shared machine hits all of them alike and
 * their ratios stay fair. Each function must do its whole work synchronously.
 */
export function timeAll<K extends string>(fns: Record<K, () => void>, options: TimingOptions = {}): Record<K, Timing> {
  const { warmupMs = 150, minTimeMs = 400, batchMs = 25, minBatches = 5 } = options;
  const now = (): number => performance.now();
  const names = Object.keys(fns) as K[];
  const callsPerBatch = {} as Record<K, number>;
  for (const name of names) {
    const fn = fns[name];
    let calls = 0;
    let perCall = 0;
    const start = now();
    do {
      const t0 = now();
      fn();
      perCall = now() - t0;
      calls++;
    } while (now() - start < warmupMs || calls < 2);
    callsPerBatch[name] = Math.max(1, Math.round(batchMs / Math.max(perCall, 1e-4)));
  }
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  const measured = Object.fromEntries(names.map((name) => [name, 0])) as Record<K, number>;
  const done = (name: K): boolean => measured[name] >= minTimeMs && samples[name].length >= minBatches;
  while (!names.every(done)) {
    for (const name of names) {
      const fn = fns[name];
      const calls = callsPerBatch[name];
      const t0 = now();
      for (let i = 0; i < calls; i++) fn();
      const dt = now() - t0;
      measured[name] += dt;
      samples[name].push(dt / calls);
    }
  }
  const out = {} as Record<K, Timing>;
  for (const name of names) {
    const s = [...samples[name]].sort((x, y) => x - y);
    const mid = s.length >> 1;
    const medianMs = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    out[name] = { medianMs, minMs: s[0]!, callsPerBatch: callsPerBatch[name], batches: s.length };
  }
  return out;
}

export interface MachineInfo {
  node: string;
  cpu: string;
  cores: number;
  platform: string;
  arch: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    platform: os.platform(),
    arch: os.arch(),
    date: new Date().toISOString(),
  };
}

/** A Markdown table; numbers are printed as given, so format them before. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows].map((r) => r.map(String));
  const widths = headers.map((_, c) => Math.max(3, ...cells.map((r) => r[c]?.length ?? 0)));
  const line = (r: readonly string[]): string => `| ${r.map((s, c) => s.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(cells[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join(
    '\n',
  );
}

/** Writes `{ machine, ...data }` to bench/results/<name>.json and returns the path. */
export function writeResults(name: string, data: Record<string, unknown>): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ machine: machineInfo(), ...data }, null, 2)}\n`);
  return path;
}

/** Formats a number with `digits` significant digits (benchmarks print, not compute, with it). */
export function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : String(x);
}

/** True when the module with this `import.meta.url` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === moduleUrl;
}
