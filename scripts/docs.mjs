// Builds the API reference into docs/api/. First each package is validated on its own (TypeDoc
// checks `notDocumented` only for symbols of the package it converts): any export without a doc
// comment, a broken {@link}, or a public type that is referenced but not exported fails the run.
// `--check` stops after the validation (what CI runs).
import { execFileSync } from 'node:child_process';

const packages = ['tensor', 'autograd', 'manifolds', 'hc-layers'];
const typedoc = (args, cwd) => execFileSync('npx', ['typedoc', ...args], { cwd, stdio: 'inherit' });
let failed = [];
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
