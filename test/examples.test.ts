/**
 * Smoke tests for the example programs in examples/: each runs as a child process, as a reader
 * would run it, and must exit 0 and print its `ok:` line. The examples check their own key
 * results (closed forms, exact SVDs, brute-force optima, doubly stochastic sums to 1e-12) and
 * throw before printing `ok:` if one is violated, so a pass here means those checks held.
 * (The README's snippets are documentation and not run here.)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs `node --import tsx examples/<file>` from the repository root; throws (with stderr) on a non-zero exit. */
function runExample(file: string, timeoutMs: number): string {
  return execFileSync(process.execPath, ['--import', 'tsx', `examples/${file}`], {
    cwd: root,
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// Each example takes a few seconds (the transformer ~10 s alone); the timeouts leave room for a
// loaded 2-core machine. The pattern pins the part of the `ok:` line that carries the result.
const examples: { file: string; ok: RegExp; timeoutMs: number }[] = [
  { file: 'tour.ts', ok: /^ok: QR residual .*gradcheck order 2, fit error [\d.e+-]+$/m, timeoutMs: 30_000 },
  {
    file: 'autograd-basics.ts',
    ok: /^ok: backward, grad and grad-of-grad match closed forms .*gradcheck order 2 passed$/m,
    timeoutMs: 30_000,
  },
  {
    file: 'sinkhorn-birkhoff.ts',
    ok: /^ok: sinkhorn rows exact.*doubly stochastic within 1e-12; cost [\d.]+ → [\d.]+ \(optimum [\d.]+\)$/m,
    timeoutMs: 30_000,
  },
  { file: 'orthogonal-spectral.ts', ok: /^ok: \|σ̂ − σ\|\/σ = .*reached the polar factor/m, timeoutMs: 30_000 },
  {
    file: 'shc-custom-branch.ts',
    ok: /^ok: split\/merge = forward .*σ_max 1\.0{12}; loss [\d.]+ → [\d.]+$/m,
    timeoutMs: 30_000,
  },
  { file: 'train-tiny-transformer.ts', ok: /^ok: eval loss [\d.]+ → [\d.]+ in 100 AdamW steps/m, timeoutMs: 90_000 },
  {
    file: 'resnet-shc.ts',
    ok: /^ok: conv2d = loop .*gradcheck passed; sHC σ_max 1\.0{12}; eval loss [\d.]+ → [\d.]+ in 40 Adam steps/m,
    timeoutMs: 90_000,
  },
];

describe('examples', () => {
  for (const { file, ok, timeoutMs } of examples) {
    it(`${file} runs and reports ok`, { timeout: timeoutMs + 10_000 }, () => {
      const stdout = runExample(file, timeoutMs);
      expect(stdout).toMatch(ok);
    });
  }
});
