/**
 * The report generator: runs the experiments for a config, writes the figures (SVG), `report.md`,
 * the self-contained `report.html` and `results.json` into `outDir`, and returns the summary.
 * In-process and callable from tests; `main.ts` is its command line. With `only`, one experiment
 * is rerun and merged into the results.json already in `outDir` (same configuration required).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPERIMENTS, type DemoConfig, type ExperimentName } from './config';
import { runCost } from './experiments/cost';
import type { DepthResult } from './experiments/depth';
import { mixingReference, type MixingResult } from './experiments/mixing';
import type { TrainingResult } from './experiments/training';
import { allFigures } from './figures';
import { jobSize, runJobs, type Job } from './jobs';
import { plannedJobs } from './plan';
import { silentProgress, type ProgressSink } from './progress';
import { buildReport, renderHtml, renderMarkdown } from './report';
import { buildSummary, type ExperimentResults, type Summary } from './summary';

export interface RunOptions {
  outDir: string;
  progress?: ProgressSink;
  /** Worker threads for the runs; ≤ 1 runs them in this thread. */
  workers?: number;
  /** Rerun this experiment only and merge it into `outDir/results.json`. */
  only?: ExperimentName;
}

export interface DemoOutput {
  summary: Summary;
  results: ExperimentResults;
  /** Every file written, relative to outDir. */
  files: string[];
  /** Wall-clock seconds of this invocation. */
  seconds: number;
}

/** What results.json holds. */
export interface SavedResults {
  config: DemoConfig;
  results: ExperimentResults;
  /** Compute seconds of each experiment when it last ran, summed over its runs (cost: wall-clock). */
  seconds: Partial<Record<ExperimentName, number>>;
  workers: number;
}

const EMPTY: ExperimentResults = {
  depth: [],
  training: [],
  identity: [],
  sinkhorn: [],
  stability: [],
  mixing: { runs: [], reference: null },
  cost: [],
};

/** JSON has no NaN or ±∞ (JSON.stringify writes null): they are stored as strings, "NaN", "Infinity", "-Infinity". */
const encodeNonFinite = (_key: string, v: unknown): unknown =>
  typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
const decodeNonFinite = (_key: string, v: unknown): unknown =>
  v === 'NaN' || v === 'Infinity' || v === '-Infinity' ? Number(v) : v;

/** The results.json of an earlier run with the same configuration, for `only`. */
function loadPrevious(outDir: string, config: DemoConfig): SavedResults {
  const file = join(outDir, 'results.json');
  if (!existsSync(file))
    throw new Error(`--only: ${file} does not exist; run the whole demo once with the same options first`);
  const saved = JSON.parse(readFileSync(file, 'utf8'), decodeNonFinite) as SavedResults;
  if (JSON.stringify(saved.config) !== JSON.stringify(config)) {
    throw new Error(
      `--only: ${file} was made with another configuration (${saved.config.name}, seed ${saved.config.seed}, ` +
        `variants ${saved.config.variants.join(',')}); rerun the whole demo with these options first`,
    );
  }
  return saved;
}

export async function runDemo(config: DemoConfig, options: RunOptions): Promise<DemoOutput> {
  const progress = options.progress ?? silentProgress;
  const workers = options.workers ?? 1;
  const began = performance.now();
  const previous = options.only === undefined ? null : loadPrevious(options.outDir, config);
  const experiments: readonly ExperimentName[] = options.only === undefined ? EXPERIMENTS : [options.only];

  // every run of every requested experiment in one pool, longest first; cost is timed alone afterwards
  const planned = experiments.flatMap((experiment) =>
    plannedJobs(experiment, config).map((job) => ({ experiment, job })),
  );
  const jobs: Job[] = planned.map((p) => p.job);
  const steps = jobs.reduce((acc, j) => acc + jobSize(j, config), 0);
  const names = experiments.filter((e) => e !== 'cost');
  const results: ExperimentResults = structuredClone(previous?.results ?? EMPTY);
  const seconds: Partial<Record<ExperimentName, number>> = { ...previous?.seconds };
  if (jobs.length > 0) {
    const task = progress.start(
      `${names.join(', ')}: ${jobs.length} runs${workers > 1 ? `, ${workers} threads` : ''}`,
      steps,
    );
    const { results: done, seconds: jobSeconds } = await runJobs(jobs, config, workers, (d) => task.update(d));
    task.finish();
    for (const experiment of names) {
      const mine = planned.flatMap((p, i) => (p.experiment === experiment ? [done[i]!] : []));
      // compute time summed over the runs (divide by the workers for wall-clock time)
      seconds[experiment] = planned.reduce((acc, p, i) => acc + (p.experiment === experiment ? jobSeconds[i]! : 0), 0);
      const training = mine.flatMap((r) => (r.kind === 'training' ? [r.result] : [])) as TrainingResult[];
      if (experiment === 'depth')
        results.depth = mine.flatMap((r) => (r.kind === 'depth' ? [r.result] : [])) as DepthResult[];
      else if (experiment === 'mixing')
        results.mixing = {
          runs: mine.flatMap((r) => (r.kind === 'mixing' ? [r.result] : [])) as MixingResult[],
          reference: mixingReference(config),
        };
      else results[experiment] = training;
    }
  }
  if (experiments.includes('cost')) {
    const began = performance.now();
    const cells = config.cost.ns.length * config.variants.filter((v) => v !== 'residual').length;
    const task = progress.start('cost: timing each module alone', cells);
    results.cost = runCost(config, (d) => task.update(d));
    task.finish();
    seconds.cost = (performance.now() - began) / 1000;
  }

  const summary = buildSummary(results, config);
  const figures = allFigures(results, config);
  const blocks = buildReport({ config, results, summary, figures, seconds, workers, only: options.only ?? null });

  mkdirSync(options.outDir, { recursive: true });
  const files: string[] = [];
  const write = (file: string, text: string): void => {
    writeFileSync(join(options.outDir, file), text);
    files.push(file);
  };
  for (const f of figures.values()) write(f.file, f.svg);
  write('report.md', renderMarkdown(blocks));
  write('report.html', renderHtml(blocks));
  const saved: SavedResults = { config, results, seconds, workers };
  write('results.json', `${JSON.stringify(saved, encodeNonFinite, 1)}\n`);
  return { summary, results, files, seconds: (performance.now() - began) / 1000 };
}
