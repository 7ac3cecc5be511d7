/** The playground's training run in Node: determinism, pause-independence, and its diagnostics against naive loops. */
import { describe, expect, it } from 'vitest';
import { Trainer, type RunConfig } from '../src/trainer';

const base: RunConfig = { task: 'mlp', variant: 'shc', n: 3, depth: 3, lr: 3e-3, seed: 11 };
const run = (config: RunConfig, steps: number, between?: (t: Trainer) => void): number[] => {
  const t = new Trainer(config);
  return Array.from({ length: steps }, () => {
    const loss = t.step();
    between?.(t);
    return loss;
  });
};

describe('playground Trainer', () => {
  it('repeats a seed exactly, whether or not snapshots are taken between steps', () => {
    const plain = run(base, 5);
    expect(run(base, 5, (t) => t.snapshot())).toEqual(plain);
    expect(run({ ...base, seed: 12 }, 5)).not.toEqual(plain);
  });

  it('repeats a seed for the transformer too', () => {
    const config: RunConfig = { ...base, task: 'transformer', depth: 1 };
    expect(run(config, 2)).toEqual(run(config, 2));
  });

  it.each(['mhcLite', 'kromhc'] as const)('lowers the loss of the regression (%s)', (variant) => {
    const losses = run({ ...base, variant }, 30);
    const tail = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(tail).toBeLessThan(0.5 * losses[0]!);
  });

  it('reports the token-averaged H_res, identity distance and composite gains of the last step', () => {
    const t = new Trainer(base);
    for (let k = 0; k < 3; k++) t.step();
    const s = t.snapshot();
    expect(s.step).toBe(3);
    // naive loops over the layers' raw per-token maps [B, T, n, n]
    const perToken = t.hyperConnections.map((hc) => {
      const h = hc.lastMaps!.hRes;
      const [batch, seq, n] = h.shape as [number, number, number];
      const tokens: number[][][] = [];
      for (let b = 0; b < batch; b++)
        for (let q = 0; q < seq; q++)
          tokens.push(Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => h.get(b, q, i, j))));
      return tokens;
    });
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const n = base.n;
    const tol = 1e-12;
    perToken.forEach((tokens, l) => {
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) expect(s.hRes[l]![i]![j]).toBeCloseTo(avg(tokens.map((h) => h[i]![j]!)), 12);
      const dist = avg(
        tokens.map((h) => Math.hypot(...h.flatMap((row, i) => row.map((v, j) => v - (i === j ? 1 : 0))))),
      );
      expect(Math.abs(s.identityDistance[l]! - dist)).toBeLessThan(tol * n);
    });
    // composite P_d = H_d···H_1 per token; forward gain = max row sum of |P|, backward = max column sum
    const mul = (a: number[][], b: number[][]): number[][] =>
      a.map((row) => b[0]!.map((_, j) => row.reduce((acc, v, k) => acc + v * b[k]![j]!, 0)));
    let products = perToken[0]!;
    perToken.forEach((tokens, d) => {
      if (d > 0) products = products.map((p, k) => mul(tokens[k]!, p));
      const fwd = avg(products.map((p) => Math.max(...p.map((row) => row.reduce((a, v) => a + Math.abs(v), 0)))));
      const bwd = avg(
        products.map((p) => Math.max(...p[0]!.map((_, j) => p.reduce((a, row) => a + Math.abs(row[j]!), 0)))),
      );
      expect(Math.abs(s.compositeForwardGain[d]! - fwd)).toBeLessThan(tol * n * (d + 1));
      expect(Math.abs(s.compositeBackwardGain[d]! - bwd)).toBeLessThan(tol * n * (d + 1));
    });
  });
});
