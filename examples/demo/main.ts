/**
 * The hyper-connection demo: seven experiments that test, at laptop scale and over several seeds,
 * what the HC, mHC, mHC-lite, KromHC and sHC papers claim, written up as out/report.md,
 * out/report.html and SVG figures.
 *
 *   npx --yes pnpm@10.34.8 demo                      # default: about 5 minutes on 2 cores
 *   npx --yes pnpm@10.34.8 demo --full               # longer, larger runs, 5 seeds (under an hour)
 *   npx --yes pnpm@10.34.8 demo --only mixing        # rerun one experiment, merge into out/
 *   npx --yes pnpm@10.34.8 demo --variants hc,shc --seed 3 --out /tmp/report
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  defaultConfig,
  EXPERIMENTS,
  fullConfig,
  parseExperiment,
  parseVariants,
  tinyConfig,
  type DemoConfig,
  type ExperimentName,
} from './config';
import { terminalProgress } from './progress';
import { runDemo } from './run';
import { summaryText } from './summary';

const HELP = `Usage: tsx examples/demo/main.ts [options]

  --full                 longer, larger runs, 5 seeds (under an hour on 2 cores)
  --tiny                 a seconds-long smoke run (the configuration the tests use)
  --only <experiment>    rerun one experiment and merge it into <out>/results.json and the report:
                         ${EXPERIMENTS.join(', ')}
  --variants <list>      comma-separated: residual,hc,mhc,mhcLite,kromhc,shc (default), shcPower
  --seed <n>             integer in [0, 2^20); the same seed gives the same numbers (default 0)
  --out <dir>            output directory (default out)
  --jobs <n>             worker threads for the training runs (default: 2, or 1 on one core)
  --float32              compute in float32 instead of float64
  -h, --help             this text
`;

interface Parsed {
  config: DemoConfig;
  outDir: string;
  workers: number;
  only: ExperimentName | undefined;
}

function parseConfig(argv: string[]): Parsed | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      full: { type: 'boolean', default: false },
      tiny: { type: 'boolean', default: false },
      only: { type: 'string' },
      variants: { type: 'string' },
      seed: { type: 'string', default: '0' },
      out: { type: 'string', default: 'out' },
      jobs: { type: 'string' },
      float32: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  if (values.full && values.tiny) throw new Error('--full and --tiny exclude each other');
  const config = values.full ? fullConfig() : values.tiny ? tinyConfig() : defaultConfig();
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 20)
    throw new Error(`--seed must be an integer in [0, 2^20), got ${values.seed}`);
  config.seed = seed;
  if (values.variants !== undefined) config.variants = parseVariants(values.variants);
  if (values.float32) config.dtype = 'float32';
  const workers = values.jobs === undefined ? Math.min(2, availableParallelism()) : Number(values.jobs);
  if (!Number.isInteger(workers) || workers < 1)
    throw new Error(`--jobs must be a positive integer, got ${values.jobs}`);
  const only = values.only === undefined ? undefined : parseExperiment(values.only);
  return { config, outDir: resolve(values.out), workers, only };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (parsed === null) {
    process.stdout.write(HELP);
    return;
  }
  const { config, outDir, workers, only } = parsed;
  console.log(
    `hyperconn demo — ${config.name} configuration, seed ${config.seed}, ` +
      `${config.seeds} seeds, ${config.dtype}, variants ${config.variants.join(', ')}` +
      `${only === undefined ? '' : `, rerunning ${only} only`}\n`,
  );
  let out: Awaited<ReturnType<typeof runDemo>>;
  try {
    out = await runDemo(config, { outDir, workers, only, progress: terminalProgress() });
  } catch (err) {
    // e.g. --only without an earlier results.json: the message says what to do
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  console.log(`\n${summaryText(out.summary)}\n`);
  console.log(
    `Report: ${resolve(outDir, 'report.html')} (and report.md, ` +
      `${out.files.filter((f) => f.endsWith('.svg')).length} SVG figures) — ${out.seconds.toFixed(0)} s`,
  );
}

await main();
