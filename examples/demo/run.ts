/**
 * The report generator: runs the five experiments for a config, writes the figures (SVG),
 * `report.md`, the self-contained `report.html` and `results.json` into `outDir`, and returns
 * the summary. In-process and callable from tests; `main.ts` is its command line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoConfig } from './config';
import { runCost, type CostCell } from './experiments/cost';
import { runDepth, type DepthResult } from './experiments/depth';
import { identityDegeneration, initialIdentityDistance } from './experiments/identity';
import type { MixingResult } from './experiments/mixing';
import type { TrainingResult } from './experiments/training';
import { costFigures, depthFigures, identityFigures, mixingFigures, trainingFigures, type Figure } from './figures';
import { runJobs, type Job } from './jobs';
import { silentProgress, type ProgressSink } from './progress';
import { buildReport, renderHtml, renderMarkdown } from './report';
import { buildSummary, type ExperimentResults, type Summary } from './summary';

export interface RunOptions {
  outDir: string;
  progress?: ProgressSink;
  /** Worker threads for the training and mixing runs; ≤ 1 runs them in this thread. */
  workers?: number;
}

export interface DemoOutput {
  summary: Summary;
  results: ExperimentResults;
  cost: CostCell[];
  /** Every file written, relative to outDir. */
  files: string[];
  seconds: number;
}

export async function runDemo(config: DemoConfig, options: RunOptions): Promise<DemoOutput> {
  const progress = options.progress ?? silentProgress;
  const workers = options.workers ?? 1;
  const began = performance.now();
  const variants = config.variants;

  // 1. depth stability (cheap: no training)
  const depthTask = progress.start('Experiment 1: depth stability', variants.length * config.depth.maxDepth);
  const depth: DepthResult[] = variants.map((v, i) =>
    runDepth(v, config, (d) => depthTask.update(i * config.depth.maxDepth + d)),
  );
  depthTask.finish();

  // 2, 3, 5: one training run and one mixing run per variant, possibly in parallel
  const jobs: Job[] = [
    ...variants.map((variant) => ({ kind: 'training' as const, variant })),
    ...variants.map((variant) => ({ kind: 'mixing' as const, variant })),
  ];
  const label = `Experiments 2, 3, 5: training (${jobs.length} runs${workers > 1 ? `, ${workers} threads` : ''})`;
  const trainTask = progress.start(
    label,
    jobs.reduce((acc, j) => acc + (j.kind === 'training' ? config.training.steps : config.mixing.steps), 0),
  );
  const jobResults = await runJobs(jobs, config, workers, (done) => trainTask.update(done));
  trainTask.finish();
  const training = jobResults.flatMap((r) => (r.kind === 'training' ? [r.result] : [])) as TrainingResult[];
  const mixing = jobResults.flatMap((r) => (r.kind === 'mixing' ? [r.result] : [])) as MixingResult[];
  const identity = training.map(identityDegeneration);

  // 4. cost, timed alone so that no other run competes for the CPU
  const costTask = progress.start(
    'Experiment 4: parameterisation cost',
    config.cost.ns.length * variants.filter((v) => v !== 'residual').length,
  );
  const cost = runCost(config, (d) => costTask.update(d));
  costTask.finish();

  const results: ExperimentResults = { depth, training, identity, mixing };
  const summary = buildSummary(results, config.depth.maxDepth);
  const figureList: Figure[] = [
    ...depthFigures(depth),
    ...identityFigures(identity, training),
    ...mixingFigures(mixing),
    ...costFigures(cost, variants, config.cost.dim, config.cost.tokens),
    ...trainingFigures(training, config),
  ];
  const seconds = (performance.now() - began) / 1000;
  const blocks = buildReport({
    config,
    results,
    cost,
    summary,
    figures: new Map(figureList.map((f) => [f.file, f])),
    initialIdentity: variants.map((variant) => ({ variant, distance: initialIdentityDistance(variant, config) })),
    seconds,
    workers,
  });

  mkdirSync(options.outDir, { recursive: true });
  const files: string[] = [];
  const write = (file: string, text: string): void => {
    writeFileSync(join(options.outDir, file), text);
    files.push(file);
  };
  for (const f of figureList) write(f.file, f.svg);
  write('report.md', renderMarkdown(blocks));
  write('report.html', renderHtml(blocks));
  write('results.json', `${JSON.stringify({ config, summary, results, cost }, null, 1)}\n`);
  return { summary, results, cost, files, seconds };
}
