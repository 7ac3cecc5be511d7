// `prepack` of every package: a clean build of that package's dist/ (tsc -b also brings the
// packages it depends on up to date). Cleaning first matters: a module removed or moved in
// src/ would otherwise leave its old output in dist/ and ship in the tarball.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

rmSync('dist', { recursive: true, force: true });
const tsc = fileURLToPath(new URL('../node_modules/.bin/tsc', import.meta.url));
execFileSync(tsc, ['-b', 'tsconfig.build.json'], { stdio: 'inherit' });
