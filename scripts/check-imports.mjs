// Two import rules that the linter cannot express, checked by `.ci/run` (`pnpm lint`):
//
// 1. No import cycles inside a package's src/, except the documented one in autograd: a
//    Variable's methods call the ops, the ops build Variables, and `backward` lives in the engine
//    (variable ↔ ops ↔ engine). Type-only imports are erased at run time and do not count.
// 2. One convention where tensor and autograd ops meet: their functions share names (`add`,
//    `matmul`, `sum`, …), so a tensor op is reached as `T.add` through
//    `import * as T from '@hyperconn/tensor'`, never renamed (`add as addTensor`, `sum as tsum`).
//    Renaming an import from either package is refused.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', 'out', '.vitest']);
// The op table spans ops.ts and its parts (ops-table.ts, ops-linalg.ts).
const ALLOWED_CYCLE = /^packages\/autograd\/src\/(engine|variable|ops(-[a-z]+)?)\.ts$/;

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every `import … from '…'` and `export … from '…'`, with whether it can load code at run time. */
function imports(text) {
  const found = [];
  const statement =
    /^(import|export)\s+(type\s+)?((?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?)|[\w$]+)\s*from\s*'([^']+)'/gm;
  for (const m of text.matchAll(statement)) {
    const [, , typeOnly, clause, spec] = m;
    const names =
      /\{([\s\S]*)\}/
        .exec(clause)?.[1]
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean) ?? [];
    const allTypes =
      names.length > 0 &&
      !/^\s*\w+\s*,/.test(clause) &&
      !clause.includes('*') &&
      names.every((n) => n.startsWith('type '));
    found.push({
      spec,
      names,
      runtime: typeOnly === undefined && !allTypes,
      line: text.slice(0, m.index).split('\n').length,
    });
  }
  return found;
}

const problems = [];
const graph = new Map();
const files = ['packages', 'test', 'bench', 'examples'].flatMap((d) => tsFiles(join(root, d)));
for (const file of files) {
  const rel = relative(root, file);
  const text = readFileSync(file, 'utf8');
  for (const imp of imports(text)) {
    if (/^@hyperconn\/(tensor|autograd)(\/|$)/.test(imp.spec)) {
      for (const n of imp.names) {
        if (/\sas\s/.test(n) && !n.startsWith('type ')) {
          problems.push(
            `${rel}:${imp.line}: '${n}' renames an import from ${imp.spec}; import ` +
              `tensor ops as T.* (import * as T from '@hyperconn/tensor') instead`,
          );
        }
      }
    }
    if (/^packages\/[^/]+\/src\//.test(rel) && imp.runtime && imp.spec.startsWith('.')) {
      const target = relative(root, resolve(dirname(file), imp.spec.replace(/\.js$/, '.ts')));
      if (!graph.has(rel)) graph.set(rel, new Set());
      graph.get(rel).add(target);
    }
  }
}

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let index = 0;
const stack = [];
const info = new Map();
const components = [];
function visit(v) {
  info.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!info.has(w)) {
      visit(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
  }
  if (info.get(v).low === info.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.has(v)) components.push(component.sort());
  }
}
for (const v of graph.keys()) if (!info.has(v)) visit(v);
for (const c of components) {
  if (c.every((f) => ALLOWED_CYCLE.test(f))) continue;
  problems.push(`import cycle: ${c.join(' → ')} (only autograd's variable ↔ ops ↔ engine may import each other)`);
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`check-imports: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(
  `check-imports: ${files.length} files, no renamed tensor/autograd ` +
    `imports, no import cycle beyond variable ↔ ops ↔ engine`,
);
