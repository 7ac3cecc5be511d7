/**
 * Runs every benchmark module listed here, one after another, in this process.
 * Each module exports `main()`, prints its Markdown table and writes bench/results/<name>.json.
 */
import { isMain } from './lib';

const MODULES: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  matmul: () => import('./matmul'),
  'matmul-threads': () => import('./matmul-threads'),
  autograd: () => import('./autograd'),
  manifolds: () => import('./manifolds'),
  'hc-layers': () => import('./hc-layers'),
};

export async function runAll(names: readonly string[] = Object.keys(MODULES)): Promise<void> {
  for (const name of names) {
    const load = MODULES[name];
    if (load === undefined)
      throw new Error(`bench: unknown benchmark "${name}"; known: ${Object.keys(MODULES).join(', ')}`);
    await (await load()).main();
  }
}

// `npx tsx bench/run.ts [name ...]` runs the named benchmarks, or all of them.
if (isMain(import.meta.url)) {
  const names = process.argv.slice(2);
  await runAll(names.length > 0 ? names : undefined);
}
