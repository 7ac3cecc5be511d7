// Builds the API reference into docs/api/. First each package is validated on its own (TypeDoc
// checks `notDocumented` only for symbols of the package it converts): any export without a doc
// comment, a broken {@link}, or a public type that is referenced but not exported fails the run.
// `--check` stops after the validation (what CI runs).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const packages = ['tensor', 'autograd', 'manifolds', 'hc-layers'];
const typedocBin = fileURLToPath(new URL('../node_modules/.bin/typedoc', import.meta.url));
const typedoc = (args, cwd) => execFileSync(typedocBin, args, { cwd, stdio: 'inherit' });
const failed = [];
for (const name of packages) {
  try {
    typedoc(['--emit', 'none'], `packages/${name}`);
    console.log(`docs: @hyperconn/${name}: every export documented`);
  } catch {
    failed.push(name);
  }
}
if (failed.length > 0) {
  console.error(`docs: validation failed for ${failed.map((n) => `@hyperconn/${n}`).join(', ')}`);
  process.exit(1);
}
if (!process.argv.includes('--check')) typedoc([], '.');
