import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type DType,
  getNumThreads,
  MAX_THREADS,
  matmul,
  Random,
  setNumThreads,
  shutdownThreads,
  type Tensor,
  threadPoolInfo,
  ValueError,
  WorkerError,
} from '@hyperconn/tensor';
import { threading } from '../src/matmul.js';
import { runParallel, waitPolicy } from '../src/threads.js';
import { type Layout, layoutArb, withLayout } from '../../../test/support/arbitraries';

afterAll(() => {
  setNumThreads(1);
});

/** The raw bytes of a tensor's values in C order: equal bytes are bit-identical results. */
function bytes(t: Tensor): Uint8Array {
  const c = t.contiguous();
  return new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength).slice();
}

/**
 * The same bytes, failing with the first differing index (toEqual on a large byte array would
 * spend minutes printing the diff).
 */
function expectSameBits(actual: Uint8Array, expected: Uint8Array, label = 'bits'): void {
  expect(actual.length, label).toBe(expected.length);
  expect(
    actual.findIndex((b, i) => b !== expected[i]),
    `${label}: first differing byte`,
  ).toBe(-1);
}

interface Case {
  aShape: number[];
  bShape: number[];
  aType: DType;
  bType: DType;
  aLayout: Layout;
  bLayout: Layout;
  seed: number;
}

/** `fn()` computed on the calling thread alone, without terminating the pool (as setNumThreads(1) would). */
function oneThread<T>(fn: () => T): T {
  const minWork = threading.minWork;
  threading.minWork = Number.POSITIVE_INFINITY;
  try {
    return fn();
  } finally {
    threading.minWork = minWork;
  }
}

function operands(c: Case): [Tensor, Tensor] {
  const r = new Random(c.seed);
  const a = withLayout(r.normal(c.aShape, { dtype: c.aType }), c.aLayout);
  const b = withLayout(r.normal(c.bShape, { dtype: c.bType }), c.bLayout);
  return [a, b];
}

// Shapes around the kernel's edges: m, n from 1 (vectors, fewer rows than threads) to past the
// 64-row block, k past the 128-deep block (the order of the partial sums matters there), and
// broadcast batch axes of up to 5 products.
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    m: fc.integer({ min: 1, max: 70 }),
    k: fc.integer({ min: 1, max: 300 }),
    n: fc.integer({ min: 1, max: 40 }),
    batchA: fc.constantFrom<number[]>([], [1], [3], [2, 1], [5]),
    batchB: fc.constantFrom<number[]>([], [1], [3], [1, 3]),
    aType: fc.constantFrom<DType>('float64', 'float32'),
    bType: fc.constantFrom<DType>('float64', 'float32'),
    aLayout: layoutArb,
    bLayout: layoutArb,
    seed: fc.integer({ min: 0, max: 1000 }),
  })
  .filter(({ batchA, batchB }) => {
    const a = batchA.at(-1) ?? 1;
    const b = batchB.at(-1) ?? 1;
    return a === b || a === 1 || b === 1;
  })
  .map(({ m, k, n, batchA, batchB, ...rest }) => ({ aShape: [...batchA, m, k], bShape: [...batchB, k, n], ...rest }));

// Products that the blocked kernel computes and that split between threads in every way:
// by whole products of a batch, by 4-row tiles of one product, with 1 tile per thread or
// uneven tiles, a stacked `x @ W` run, a float32 result, a transposed operand.
const fixedShapes: Omit<Case, 'aLayout' | 'bLayout'>[] = [
  { aShape: [6, 40, 200], bShape: [6, 200, 24], aType: 'float64', bType: 'float64', seed: 1 },
  { aShape: [5, 80], bShape: [80, 60], aType: 'float64', bType: 'float64', seed: 2 },
  { aShape: [9, 300], bShape: [300, 8], aType: 'float32', bType: 'float32', seed: 3 },
  { aShape: [3, 21, 130], bShape: [130, 17], aType: 'float32', bType: 'float64', seed: 4 },
  { aShape: [2, 1, 64, 64], bShape: [3, 64, 64], aType: 'float64', bType: 'float64', seed: 5 },
  { aShape: [129, 257], bShape: [257, 65], aType: 'float32', bType: 'float32', seed: 6 },
];
const fixedCases: Case[] = fixedShapes.map((c, i) => ({
  ...c,
  aLayout: i % 2 === 0 ? 'contiguous' : 'flipped',
  bLayout: i < 3 ? 'reversed' : 'stepped',
}));

describe('matmul on worker threads', () => {
  it('is bit-identical to one thread with 2 and 3 threads, for random shapes, dtypes and layouts', () => {
    const cases = [...fixedCases, ...fc.sample(caseArb, 24)];
    setNumThreads(1);
    const expected = cases.map((c) => bytes(matmul(...operands(c))));
    const { minWork, scratchMaxBytes } = threading;
    threading.minWork = 0; // every blocked product goes to the pool, however small
    try {
      for (const k of [3, 2]) {
        setNumThreads(k);
        // 3 threads: fresh shared buffers every call; 2: buffers kept and reused across shapes and dtypes
        threading.scratchMaxBytes = k === 3 ? 0 : scratchMaxBytes;
        for (let i = 0; i < cases.length; i++) {
          const runs = threadPoolInfo().parallelRuns;
          const got = bytes(matmul(...operands(cases[i]!)));
          expectSameBits(got, expected[i]!, `${k} threads, ${JSON.stringify(cases[i])}`);
          // the fixed cases are known to be split (a test that cannot fail would prove nothing)
          if (i < fixedCases.length) expect(threadPoolInfo().parallelRuns).toBe(runs + 1);
        }
        expect(threadPoolInfo().workers).toBe(k - 1);
        // between products every worker is loaded and idle
        expect(threadPoolInfo().loaded).toBe(k - 1);
      }
    } finally {
      threading.minWork = minWork;
      threading.scratchMaxBytes = scratchMaxBytes;
    }
  });

  it('keeps products below threading.minWork on the calling thread', () => {
    setNumThreads(2);
    const r = new Random(7);
    const runs = threadPoolInfo().parallelRuns;
    expect(32 ** 3).toBeLessThan(threading.minWork);
    matmul(r.normal([32, 32]), r.normal([32, 32])); // 32³ multiply-adds
    expect(threadPoolInfo().parallelRuns).toBe(runs);
    const big = [r.normal([128, 128]), r.normal([128, 128])] as const;
    expect(128 ** 3).toBeGreaterThanOrEqual(threading.minWork);
    const two = bytes(matmul(...big));
    expect(threadPoolInfo().parallelRuns).toBe(runs + 1);
    expectSameBits(
      oneThread(() => bytes(matmul(...big))),
      two,
    );
  });
});

describe('worker failures', () => {
  it('surface as a WorkerError naming the op and the worker, and the pool keeps working', () => {
    setNumThreads(2);
    let mainRan = false;
    expect(() =>
      runParallel('test', [{ op: 'no-such-task' }], () => {
        mainRan = true;
      }),
    ).toThrow(/^test: worker 1 of 1 failed to finish its share: Error: unknown task "no-such-task"$/);
    expect(mainRan).toBe(true);
    expect(() => runParallel('test', [{ op: 'no-such-task' }], () => undefined)).toThrow(WorkerError);
    const r = new Random(9);
    const a = r.normal([128, 128]);
    const runs = threadPoolInfo().parallelRuns;
    const two = bytes(matmul(a, a));
    expect(threadPoolInfo().parallelRuns).toBe(runs + 1);
    expectSameBits(
      oneThread(() => bytes(matmul(a, a))),
      two,
    );
  });

  it('a stalled worker is a WorkerError after the wait budget, not a hang, and the pool is replaced', () => {
    setNumThreads(2);
    const saved = { ...waitPolicy };
    waitPolicy.minMs = 200;
    waitPolicy.perMainMs = 0;
    try {
      const t0 = Date.now();
      expect(() => runParallel('test', [{ op: 'sleep', ms: 3000 }], () => undefined)).toThrow(
        /^test: worker 1 of 1 did not finish its share within 200 ms; the worker pool was terminated$/,
      );
      expect(Date.now() - t0).toBeLessThan(2500);
      expect(threadPoolInfo().workers).toBe(0);
    } finally {
      Object.assign(waitPolicy, saved);
    }
    const r = new Random(10);
    const runs = threadPoolInfo().parallelRuns;
    matmul(r.normal([128, 128]), r.normal([128, 128]));
    expect(threadPoolInfo()).toMatchObject({ workers: 1, parallelRuns: runs + 1 });
  });
});

describe('setNumThreads', () => {
  it('accepts integers from 1 to MAX_THREADS and refuses anything else with a ValueError', () => {
    setNumThreads(2);
    expect(getNumThreads()).toBe(2);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_THREADS + 1, '2', null, undefined]) {
      expect(() => setNumThreads(bad as number)).toThrow(ValueError);
      expect(() => setNumThreads(bad as number)).toThrow(/^setNumThreads: k must be an integer from 1 to 64, got /);
    }
    expect(getNumThreads()).toBe(2); // a refused value changes nothing
    expect(MAX_THREADS).toBe(64);
  });

  it('terminates the workers on setNumThreads(1) and shutdownThreads()', () => {
    setNumThreads(2);
    const r = new Random(8);
    matmul(r.normal([128, 128]), r.normal([128, 128]));
    expect(threadPoolInfo().workers).toBe(1);
    shutdownThreads();
    expect(threadPoolInfo().workers).toBe(0);
    matmul(r.normal([128, 128]), r.normal([128, 128])); // restarts the pool
    expect(threadPoolInfo().workers).toBe(1);
    setNumThreads(1);
    expect(threadPoolInfo()).toMatchObject({ threads: 1, workers: 0 });
  });
});

describe('a Node process using threads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hyperconn-threads-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const index = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;
  const script = join(dir, 'script.mts');
  // Never calls shutdownThreads: the process must still exit by itself.
  writeFileSync(
    script,
    `import { matmul, Random, threadPoolInfo } from ${JSON.stringify(index)};
const r = new Random(11);
const a = r.normal([160, 150]);
const b = r.normal([150, 140]);
const two = matmul(a, b);
const info = threadPoolInfo();
const { setNumThreads } = await import(${JSON.stringify(index)});
setNumThreads(1);
const one = matmul(a, b);
console.log(JSON.stringify({ info, equal: two.data.every((x, i) => Object.is(x, one.data[i])) }));
`,
  );
  const run = (threads: string): string =>
    execFileSync(process.execPath, ['--import', tsx, script], {
      env: { ...process.env, HYPERCONN_NUM_THREADS: threads },
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('reads HYPERCONN_NUM_THREADS, computes on the workers, and exits without shutdownThreads', () => {
    const out = JSON.parse(run('2')) as { info: { threads: number; workers: number; parallelRuns: number } };
    expect(out).toEqual({ info: { threads: 2, host: 'node', workers: 1, loaded: 1, parallelRuns: 1 }, equal: true });
  });

  it('refuses a malformed HYPERCONN_NUM_THREADS with a ValueError naming the variable', () => {
    expect(() => run('two')).toThrow(
      /ValueError: matmul: the environment variable HYPERCONN_NUM_THREADS must be an integer from 1 to 64, got "two"/,
    );
  });
});
