/**
 * The packages as a user gets them: build, pack the four tarballs, install them with plain npm
 * into a scratch project outside the workspace, then use them there with plain node, tsc and
 * esbuild, and lint the tarballs with publint and arethetypeswrong. Run by `pnpm test:consumer`
 * (and `.ci/run`), not by the main suite: it needs the npm registry for the packages'
 * own dependencies and takes about a minute.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const packages = ['tensor', 'autograd', 'manifolds', 'hc-layers'] as const;
const bin = (name: string) => join(root, 'node_modules/.bin', name);

let work = '';
let project = '';
const tarballs = new Map<string, string>();

function run(cmd: string, args: readonly string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.stdout ?? ''}\n${err.stderr ?? ''}\n${err.message}`,
    );
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hyperconn-consumer-'));
  const packDir = join(work, 'tarballs');
  project = join(work, 'app');
  run(bin('tsc'), ['-b', 'tsconfig.build.json'], root);
  for (const name of packages) {
    run('npx', ['--yes', 'pnpm@10.34.8', 'pack', '--pack-destination', packDir], join(root, 'packages', name));
  }
  for (const file of readdirSync(packDir)) {
    const name = packages.find((p) => file === `hyperconn-${p}-0.2.0.tgz`);
    if (name) tarballs.set(name, join(packDir, file));
  }
  expect([...tarballs.keys()].sort()).toEqual([...packages].sort());
  cpSync(join(root, 'test/consumer/fixture'), project, { recursive: true });
  const devVersion = (name: string) =>
    (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'hyperconn-consumer',
      private: true,
      type: 'module',
      dependencies: {
        ...Object.fromEntries([...tarballs].map(([name, path]) => [`@hyperconn/${name}`, `file:${path}`])),
        'fast-check': devVersion('fast-check'),
        '@types/node': devVersion('@types/node'),
      },
    }),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], project);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  it('carry dist/ (ESM, .d.ts, source maps), README and LICENSE, and no sources or tests', () => {
    for (const name of packages) {
      const files = run('tar', ['tzf', tarballs.get(name)!], work)
        .trim()
        .split('\n');
      expect(files).toContain('package/LICENSE');
      expect(files).toContain('package/README.md');
      expect(files).toContain('package/dist/index.js');
      expect(files).toContain('package/dist/index.d.ts');
      expect(files).toContain('package/dist/index.js.map');
      expect(files.filter((f) => /^package\/(src|test)\//.test(f) || f.endsWith('.tsbuildinfo'))).toEqual([]);
      if (name === 'tensor') expect(files).toContain('package/dist/threads-worker.js');
      const sizeKiB = statSync(tarballs.get(name)!).size / 1024;
      console.log(`@hyperconn/${name}: ${files.length} files, tarball ${sizeKiB.toFixed(0)} KiB`);
    }
  });

  it('run in a plain Node ESM program: an sHC layer forward and backward with σ_max = 1', () => {
    const out = JSON.parse(run('node', ['app.mjs'], project)) as {
      shape: number[];
      sigmaMax: number;
      parameters: number;
    };
    expect(out.shape).toEqual([2, 3, 4, 8]);
    expect(Math.abs(out.sigmaMax - 1)).toBeLessThanOrEqual(1e-12);
    expect(out.parameters).toBeGreaterThan(0);
  });

  it('run matmul on 2 worker threads (dist/threads-worker.js), bit-identical to 1 thread, and exit', () => {
    const out = JSON.parse(run('node', ['threads.mjs'], project)) as unknown;
    expect(out).toEqual({ info: { threads: 2, host: 'node', workers: 1, loaded: 1, parallelRuns: 1 }, equal: true });
  });

  it("run the README's install snippet as written (app.mjs)", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const snippet = /```js\n(\/\/ app\.mjs[\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet, 'a ```js block starting with // app.mjs in README.md').toBeDefined();
    writeFileSync(join(project, 'readme-app.mjs'), snippet!);
    const sigmaMax = Number(run('node', ['readme-app.mjs'], project).trim());
    expect(Math.abs(sigmaMax - 1)).toBeLessThanOrEqual(1e-12);
  });

  it.runIf((process.features as { require_module?: boolean }).require_module === true)(
    'load from CommonJS through require(esm) (Node ≥ 20.19)',
    () => {
      const out = JSON.parse(run('node', ['--no-warnings', 'require.cjs'], project)) as {
        product: number[][];
        grad: number[];
      };
      expect(out.product).toEqual([[11]]);
      expect(out.grad).toEqual([2, 4, 6]);
    },
  );

  for (const resolution of ['node16', 'bundler'] as const) {
    it(
      `typecheck under tsc --strict --noUncheckedIndexedAccess ` +
        `--exactOptionalPropertyTypes, moduleResolution ${resolution}`,
      () => {
        run(bin('tsc'), ['-p', `tsconfig.${resolution}.json`], project);
      },
    );
  }

  it('bundle for the browser with esbuild, with no Node built-ins', () => {
    const bundle = join(work, 'bundle.js');
    run(
      bin('esbuild'),
      ['browser.ts', '--bundle', '--platform=browser', '--format=esm', `--outfile=${bundle}`, '--log-level=error'],
      project,
    );
    const code = readFileSync(bundle, 'utf8');
    expect(code).toContain('TinyTransformer');
    // Imported or required, a built-in breaks the bundle; the worker pool reaches worker_threads
    // only at run time in Node, through process.getBuiltinModule, which bundlers leave alone.
    const names = /["'](node:[a-z_/]+|fs|path|os|worker_threads|child_process)["']/.source;
    const builtin = new RegExp(`(?:\\bfrom\\s*|\\bimport\\s*\\(?\\s*|\\brequire\\s*\\(\\s*)${names}`, 'g');
    expect(code.match(builtin)).toBeNull();
    expect(code).toContain('getBuiltinModule');
  });

  for (const name of packages) {
    it(`@hyperconn/${name}: publint reports nothing`, () => {
      const out = run(
        bin('publint'),
        ['run', join(project, 'node_modules/@hyperconn', name), '--strict', '--pack', 'false'],
        project,
      );
      expect(out).toMatch(/All good!/);
    });

    it(`@hyperconn/${name}: arethetypeswrong finds no problem (ESM-only profile)`, () => {
      run(bin('attw'), [tarballs.get(name)!, '--profile', 'esm-only', '--format', 'table-flipped'], project);
    });
  }
});
