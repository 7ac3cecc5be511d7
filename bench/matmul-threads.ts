/**
 * matmul on k worker threads against one thread, float64 and float32 squares from 64 to 1024 and
 * [512, 256] @ [256, 256], in one process, with the issue-14 aim (≥ 1.7× on 2 threads).
 * Run: `npx tsx bench/matmul-threads.ts [k]` (k defaults to 2).
 *
 * Every size is measured on k threads even below the threshold the kernel uses
 * (`threading.minWork`, lowered to 0 here), so the table shows where threads start to pay; the
 * one-thread column raises it to ∞ instead of calling setNumThreads(1), which would terminate
 * the pool. Both results are checked bit-identical before timing. 'cores used' (CPU time over
 * wall time of the k-thread runs) says whether k cores were free: near 1, no speedup can show.
 */
import os from 'node:os';
import { type DType, matmul, Random, setNumThreads, shutdownThreads, type Tensor } from '@hyperconn/tensor';
import { threading } from '../packages/tensor/src/matmul.js';
import { fmt, isMain, machineInfo, markdownTable, timeAll, writeResults } from './lib';

/** [m, k, n]: square products from 64 to 1024, and the [512, 256] @ [256, 256] of issue 14's aim. */
const CASES: readonly [number, number, number][] = [
  ...[64, 96, 128, 192, 256, 384, 512, 768, 1024].map((s): [number, number, number] => [s, s, s]),
  [512, 256, 256],
];
/** The aim (issue 14): k = 2 threads at least this much faster than one on these cases. */
const AIM_SPEEDUP = 1.7;
const AIM_CASES = ['512×512 @ 512×512', '512×256 @ 256×256'];

function withMinWork<T>(minWork: number, fn: () => T): T {
  const saved = threading.minWork;
  threading.minWork = minWork;
  try {
    return fn();
  } finally {
    threading.minWork = saved;
  }
}

/**
 * Cores the process used while `fn` ran for about 200 ms: CPU time over wall time. With k
 * threads it approaches k only when k cores are free; on a busy machine (or a scheduler that
 * shares CPU per session) it stays near 1, and no speedup can show.
 */
function coresUsed(fn: () => void): number {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  do fn();
  while (performance.now() - t0 < 200);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
}

function sameBits(x: Tensor, y: Tensor): boolean {
  const a = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
  const b = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export async function main(threads = 2): Promise<void> {
  const loadBefore = os.loadavg();
  const load = loadBefore.map((x) => fmt(x, 2));
  const defaultMinWork = threading.minWork;
  setNumThreads(threads);
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown>[] = [];
  for (const dtype of ['float64', 'float32'] as DType[]) {
    for (const [m, k, n] of CASES) {
      const r = new Random(m + k + n);
      const a = r.normal([m, k], { dtype });
      const b = r.normal([k, n], { dtype });
      const name = `${m}×${k} @ ${k}×${n}`;
      const one = () => withMinWork(Number.POSITIVE_INFINITY, () => matmul(a, b));
      const many = () => withMinWork(0, () => matmul(a, b));
      if (!sameBits(one(), many())) throw new Error(`bench: ${threads} threads differ from one at ${name} ${dtype}`);
      const budget = m >= 512 ? { minTimeMs: 1500, minBatches: 5, batchMs: 1 } : {};
      const t = timeAll({ one: () => void one(), many: () => void many() }, budget);
      const flops = 2 * m * k * n;
      const ratio = t.one.medianMs / t.many.medianMs;
      const cores = coresUsed(() => void many());
      const threaded = m * k * n >= defaultMinWork ? `${threads}` : '1';
      rows.push([
        name,
        dtype,
        fmt(flops / t.one.medianMs / 1e6),
        fmt(flops / t.many.medianMs / 1e6),
        fmt(ratio),
        fmt(cores, 2),
        threaded,
      ]);
      results.push({ m, k, n, dtype, flops, oneMs: t.one.medianMs, manyMs: t.many.medianMs, speedup: ratio, cores });
    }
  }
  shutdownThreads();
  const info = machineInfo();
  console.log(`\n## matmul threads (node ${info.node}, ${info.cpu}, ${info.cores} cores, load ${load.join(' ')})\n`);
  console.log(
    markdownTable(
      [
        'case',
        'dtype',
        'GFLOP/s 1 thread',
        `GFLOP/s ${threads} threads`,
        'speedup',
        `cores used by ${threads} threads`,
        'threads used by default',
      ],
      rows,
    ),
  );
  if (threads === 2) {
    for (const r of results) {
      const name = `${r.m}×${r.k} @ ${r.k}×${r.n}`;
      if (!AIM_CASES.includes(name)) continue;
      const speedup = r.speedup as number;
      const met = speedup >= AIM_SPEEDUP ? 'met' : 'NOT met';
      console.log(`aim: ${name} ${r.dtype} on 2 threads ≥ ${AIM_SPEEDUP}× one thread: ${fmt(speedup)}× (${met})`);
    }
  }
  const path = writeResults('matmul-threads', {
    bench: 'matmul-threads',
    threads,
    minWork: defaultMinWork,
    loadBefore,
    results,
  });
  console.log(
    `\nload after: ${os
      .loadavg()
      .map((x) => fmt(x, 2))
      .join(' ')}\nwrote ${path}`,
  );
}

if (isMain(import.meta.url)) await main(Number(process.argv[2] ?? 2));
