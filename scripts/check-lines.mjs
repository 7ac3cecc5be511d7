// Every line of the TypeScript/JavaScript sources is at most 120 characters (Biome's formatter keeps code there
// but cannot split a long string, comment or regex).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts', '*.mts', '*.mjs', '*.js'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f !== '' && !f.startsWith('test/fixtures/'));
const long = [];
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // deleted in the work tree
  }
  text.split('\n').forEach((line, i) => {
    const length = [...line].length;
    if (length > LIMIT) long.push(`${file}:${i + 1}: ${length} characters`);
  });
}
for (const l of long) console.log(l);
console.log(`check-lines: ${files.length} files, ${long.length} lines over ${LIMIT} characters`);
process.exit(long.length === 0 ? 0 : 1);
