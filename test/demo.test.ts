/**
 * The demo's report generator (examples/demo) on a tiny configuration, in-process: every figure
 * is a well-formed standalone SVG, the reports reference (Markdown) or inline (HTML) all of them,
 * every number of the summary table is finite, and the same seed reproduces the table exactly
 * while another seed changes it. Plus the pieces whose values can be checked by hand.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyConfig, type DemoConfig } from '../examples/demo/config';
import { Random } from '@hyperconn/tensor';
import { createHyperConnection } from '@hyperconn/hc-layers';
import { startAtIdentityDistance } from '../examples/demo/experiments/init';
import { findSpikes } from '../examples/demo/experiments/training';
import { kroneckerStaticOptimum } from '../examples/demo/birkhoff';
import { TARGET_MIX } from '../examples/demo/experiments/mixing';
import { runDemo, type DemoOutput } from '../examples/demo/run';
import { formatNumber } from '../examples/demo/summary';
import { escapeXml, lineChart } from '../examples/charts';
import { svgProblem } from './support/svg';

const EXPECTED_FIGURES = [
  'fig1-depth-gain-0.1.svg',
  'fig1-depth-gain-0.5.svg',
  'fig1-depth-sigma-max.svg',
  'fig2-validation-loss.svg',
  'fig2-final-loss.svg',
  'fig2-gradient-norm.svg',
  'fig3-identity-distance.svg',
  'fig3-identity-over-training.svg',
  'fig3-product-sigma2.svg',
  'fig3-stream-cosine.svg',
  'fig3-trained-maps.svg',
  'fig4-sinkhorn-layer-columns.svg',
  'fig4-sinkhorn-product-sigma.svg',
  'fig4-sinkhorn-loss.svg',
  'fig5-stability-1-blocks.svg',
  'fig5-stability-2-blocks.svg',
  'fig6-mixing-loss.svg',
  'fig6-mixing-curves.svg',
  'fig6-learned-mixes.svg',
  'fig7-parameters.svg',
  'fig7-time.svg',
];

const dirs: string[] = [];
async function generate(config: DemoConfig): Promise<{ dir: string; out: DemoOutput }> {
  const dir = mkdtempSync(join(tmpdir(), 'hyperconn-demo-'));
  dirs.push(dir);
  return { dir, out: await runDemo(config, { outDir: dir }) };
}

/** Every number of the summary table, row by row, in column order (means and half-widths of estimates). */
const tableNumbers = (out: DemoOutput): (number | null)[][] =>
  out.summary.rows.map((r) =>
    out.summary.columns.flatMap((c) => {
      const cell = r.values[c.key] ?? null;
      if (cell === null || typeof cell === 'number') return [cell];
      return 'count' in cell ? [cell.count, cell.of] : [cell.mean, cell.halfWidth];
    }),
  );

/** The results without the timings (the only numbers that are not reproducible). */
const withoutTimings = (out: DemoOutput): unknown => ({
  ...out.results,
  cost: out.results.cost.map(({ times: _t, ms: _m, ...rest }) => rest),
});

describe('the SVG well-formedness check', () => {
  // the checker must be able to fail, or the figure assertions below would mean nothing
  it.each([
    ['<svg xmlns="http://www.w3.org/2000/svg"><g></svg>', '</svg> closes <g>'],
    ['<svg xmlns="http://www.w3.org/2000/svg"><rect/>', 'unclosed <svg>'],
    ['<svg><rect/></svg>', 'lacks xmlns'],
    ['<g xmlns="http://www.w3.org/2000/svg"></g>', 'root element is <g>'],
    ['<svg xmlns="http://www.w3.org/2000/svg"><text>a < b</text></svg>', 'bad text'],
    ['<svg xmlns="http://www.w3.org/2000/svg"><text>R&D</text></svg>', 'bad text'],
    ['<svg xmlns="http://www.w3.org/2000/svg" x="1" x="2"></svg>', 'repeats an attribute'],
    [
      '<svg xmlns="http://www.w3.org/2000/svg"></svg><svg xmlns="http://www.w3.org/2000/svg"></svg>',
      'more than one root',
    ],
  ])('rejects %s', (svg, problem) => {
    expect(svgProblem(svg)).toContain(problem);
  });

  it('accepts a chart with escaped text', () => {
    const svg = lineChart({
      title: 'a < b & "c"',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'A&B',
          color: '#000',
          points: [
            [0, 1],
            [1, 2],
          ],
        },
      ],
    });
    expect(svgProblem(svg)).toBe('');
    expect(svg).toContain(escapeXml('a < b & "c"'));
  });
});

describe('the demo report on a tiny configuration', () => {
  let first: { dir: string; out: DemoOutput };
  beforeAll(async () => {
    first = await generate(tinyConfig());
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('writes every figure as a well-formed standalone SVG', () => {
    const svgs = first.out.files.filter((f) => f.endsWith('.svg'));
    expect(svgs.sort()).toEqual([...EXPECTED_FIGURES].sort());
    for (const file of svgs) {
      const path = join(first.dir, file);
      expect(existsSync(path), file).toBe(true);
      const text = readFileSync(path, 'utf8');
      expect(svgProblem(text), file).toBe('');
      expect(text, file).not.toContain('NaN');
      // a figure that draws nothing would still be well-formed: each has marks in it
      expect((text.match(/<(polyline|rect|circle|line)\b/g) ?? []).length, file).toBeGreaterThan(3);
    }
  });

  it('links every figure from report.md and inlines every figure in a self-contained report.html', () => {
    const md = readFileSync(join(first.dir, 'report.md'), 'utf8');
    const html = readFileSync(join(first.dir, 'report.html'), 'utf8');
    for (const file of EXPECTED_FIGURES) expect(md).toContain(`](${file})`);
    expect((html.match(/<svg xmlns=/g) ?? []).length).toBe(EXPECTED_FIGURES.length);
    // nothing loaded from elsewhere: no src attributes, no links to other files
    expect(html).not.toMatch(/\ssrc=|<link\b|href="(?!#)/);
    for (const n of [1, 2, 3, 4, 5, 6, 7]) expect(md).toMatch(new RegExp(`^## ${n}\\. `, 'm'));
    expect(md.match(/\*\*Claim tested\*\*/g)?.length).toBe(7);
    // every experiment says what it does not show, and the report has its limitations section
    expect(md.match(/\*\*What this does not show\.\*\*/g)?.length).toBe(7);
    expect(md).toMatch(/^## Limitations$/m);
    expect(md).not.toMatch(/NaN|undefined|\[object/);
  });

  it('fills the summary table with finite numbers and intervals, one row per variant', () => {
    const { summary } = first.out;
    expect(summary.rows.map((r) => r.variant)).toEqual([...tinyConfig().variants]);
    expect(summary.columns.length).toBe(9);
    for (const row of summary.rows) {
      for (const column of summary.columns) {
        const cell = row.values[column.key] ?? null;
        // only the residual, which has no H_res, has empty identity and stream cells
        if (cell === null) {
          expect(row.variant).toBe('residual');
          expect(['identityDefault', 'identityMatched', 'cosine']).toContain(column.key);
          continue;
        }
        if (typeof cell === 'number') expect(Number.isFinite(cell), column.key).toBe(true);
        else if ('count' in cell) expect(cell.count).toBeLessThanOrEqual(cell.of);
        else {
          // two seeds: every estimate has a mean and a finite interval over both
          expect(cell.n, column.key).toBe(tinyConfig().seeds);
          expect(Number.isFinite(cell.mean) && Number.isFinite(cell.halfWidth), column.key).toBe(true);
        }
      }
    }
  });

  it('reproduces every result but the timings from the same seed, and changes with the seed', async () => {
    const again = await generate(tinyConfig());
    expect(tableNumbers(again.out)).toEqual(tableNumbers(first.out));
    expect(withoutTimings(again.out)).toEqual(withoutTimings(first.out));
    const other = await generate({ ...tinyConfig(), seed: 1 });
    expect(tableNumbers(other.out)).not.toEqual(tableNumbers(first.out));
  });

  it('reruns one experiment with `only` and merges it into the saved results', async () => {
    const before = readFileSync(join(first.dir, 'results.json'), 'utf8');
    const rerun = await runDemo(tinyConfig(), { outDir: first.dir, only: 'mixing' });
    // deterministic: the rerun experiment and everything merged from results.json are unchanged
    expect(withoutTimings(rerun)).toEqual(withoutTimings(first.out));
    expect(tableNumbers(rerun)).toEqual(tableNumbers(first.out));
    expect(readFileSync(join(first.dir, 'report.md'), 'utf8')).toContain('this invocation reran `mixing`');
    expect(readFileSync(join(first.dir, 'results.json'), 'utf8')).not.toBe('');
    expect(before).toContain('"NaN"'); // non-finite numbers survive the JSON round trip as strings
    // another configuration cannot be merged into these results
    await expect(runDemo({ ...tinyConfig(), seed: 5 }, { outDir: first.dir, only: 'mixing' })).rejects.toThrow(
      /another configuration/,
    );
    const empty = mkdtempSync(join(tmpdir(), 'hyperconn-demo-'));
    dirs.push(empty);
    await expect(runDemo(tinyConfig(), { outDir: empty, only: 'depth' })).rejects.toThrow(/does not exist/);
  });

  it('checks its numbers against closed forms', () => {
    const { results } = first.out;
    const n = tinyConfig().n;
    const lastOf = (v: string) => results.depth.filter((d) => d.variant === v).map((d) => d.composite.at(-1)!);
    // every Birkhoff product has unit row sums, so σ_max ≥ 1; exactly doubly stochastic ones
    // (mHC-lite, KromHC) and spectral-sphere ones (sHC) also have σ_max ≤ 1
    for (const v of ['mhc', 'mhcLite', 'kromhc', 'shc'])
      for (const c of lastOf(v)) expect(c.sigmaMax, v).toBeGreaterThan(1 - 1e-9);
    for (const v of ['mhcLite', 'kromhc', 'shc'])
      for (const c of lastOf(v)) expect(c.sigmaMax, v).toBeLessThan(1 + 1e-9);
    // sHC's forward gain is bounded by √n, not 1 (docs/spec/hc-family.md, "Which gain is bounded")
    for (const c of lastOf('shc')) expect(c.forwardGain).toBeLessThanOrEqual(Math.sqrt(n) + 1e-9);
    // mHC's Sinkhorn leaves the column sums slightly off: only σ ≤ √(‖P‖₁‖P‖_∞) holds
    for (const c of lastOf('mhc'))
      expect(c.sigmaMax).toBeLessThanOrEqual(Math.sqrt(c.forwardGain * c.backwardGain) + 1e-12);
    for (const c of lastOf('residual')) expect(c.forwardGain).toBe(1);
    // the mixing task: the residual cannot mix; doubly stochastic maps have no negative entries
    const mix = (v: string) => results.mixing.runs.filter((m) => m.variant === v);
    for (const m of mix('residual')) expect(m.relativeLoss).toBe(1);
    for (const v of ['mhc', 'mhcLite', 'kromhc']) for (const m of mix(v)) expect(m.negativeFraction).toBe(0);
    // the two floors: a per-token choice can only do better than one fixed matrix
    const ref = results.mixing.reference!;
    expect(ref.perTokenOptimum).toBeLessThanOrEqual(ref.staticOptimum + 1e-9);
    for (const v of ['mhc', 'mhcLite', 'kromhc'])
      for (const m of mix(v)) expect(m.relativeLoss).toBeGreaterThanOrEqual(ref.perTokenOptimum - 1e-9);
    // parameters per module, docs/spec/hc-family.md: mHC 100C + 27 and sHC 72C + 24 at n = 4
    const C = tinyConfig().training.dim;
    const params = new Map(first.out.summary.rows.map((r) => [r.variant, r.values.params]));
    expect(params.get('mhc')).toBe(100 * C + 27);
    expect(params.get('shc')).toBe(72 * C + 24);
    // the matched arm starts every variant's every H_res at the configured distance
    const matched = results.identity.filter((r) => r.spec.arm === 'matched');
    expect(matched.length).toBe(5 * tinyConfig().seeds);
    for (const r of matched)
      for (const l of r.initialLayers) expect(l.identityDistance).toBeCloseTo(tinyConfig().identity.matchedDistance, 9);
    // one stream has no pairs to compare; several have a cosine in [−1, 1]
    for (const r of results.training) {
      if (r.spec.variant === 'residual') expect(r.streamCosine).toBeNaN();
      else expect(Math.abs(r.streamCosine)).toBeLessThanOrEqual(1 + 1e-12);
    }
    // Sinkhorn runs exist for every t_max, the default one shared with the training experiment
    for (const t of tinyConfig().sinkhorn.iters)
      expect(
        [...results.training, ...results.sinkhorn].filter(
          (r) => r.spec.variant === 'mhc' && r.spec.sinkhornIters === t,
        ),
      ).toHaveLength(tinyConfig().seeds);
  });
});

describe('report helpers', () => {
  it("finds KromHC's best fixed Kronecker mix: no random A ⊗ B beats it, and it is above the polytope's 1/3", () => {
    const identityTokens = [[0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? 1 : 0)))]; // S = I
    const target = TARGET_MIX.map((r) => [...r]);
    const floor = kroneckerStaticOptimum(identityTokens, target);
    const rng = new Random(11);
    const draws = rng.uniform([20000, 2]).toArray() as number[][];
    const relative = ([a, b]: number[]): number => {
      const f = (t: number) => [
        [t, 1 - t],
        [1 - t, t],
      ];
      const [x, y] = [f(a!), f(b!)];
      let loss = 0;
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) loss += (x[i >> 1]![j >> 1]! * y[i & 1]![j & 1]! - target[i]![j]!) ** 2;
      return loss / 4; // ‖I − T‖²_F = 4
    };
    for (const d of draws) expect(relative(d)).toBeGreaterThanOrEqual(floor - 1e-9);
    expect(floor).toBeLessThanOrEqual(Math.min(...draws.map(relative)) + 1e-4);
    expect(floor).toBeGreaterThan(1 / 3);
    expect(() =>
      kroneckerStaticOptimum(
        [[[1], [0], [0]]],
        [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
      ),
    ).toThrow(/kroneckerStaticOptimum: only n = 4/);
    // all-zero tokens: the identity's loss is 0, so no relative loss exists (not a silent NaN)
    const zeros = [0, 1, 2, 3].map(() => [0, 0]);
    expect(() => kroneckerStaticOptimum([zeros], target)).toThrow(/kroneckerStaticOptimum: the identity already/);
  });

  it('starts every H_res at the matched distance: (1 − λ)I + λJ for all but KromHC', () => {
    const n = 4;
    const distance = 0.5;
    const lambda = distance / Math.sqrt(n - 1); // ‖J − I‖_F = √(n − 1)
    const x = new Random(3).normal([1, 3, n, 6]);
    for (const variant of ['hc', 'mhc', 'mhcLite', 'kromhc', 'shc', 'shcPower'] as const) {
      const layer = createHyperConnection(variant, { n, dim: 6, layerIndex: 1 });
      startAtIdentityDistance(layer, distance);
      const h = layer.maps(x).hRes.toArray() as number[][][][];
      for (const token of h[0]!) {
        const frobenius = Math.hypot(...token.flatMap((row, i) => row.map((v, j) => v - (i === j ? 1 : 0))));
        expect(frobenius, variant).toBeCloseTo(distance, 9);
        if (variant === 'kromhc') continue;
        token.forEach((row, i) => {
          row.forEach((v, j) => {
            expect(v, variant).toBeCloseTo((i === j ? 1 - lambda : 0) + lambda / n, 9);
          });
        });
      }
    }
    expect(() => startAtIdentityDistance(createHyperConnection('mhc', { n, dim: 6, layerIndex: 0 }), 2)).toThrow(
      /startAtIdentityDistance: mhc at n = 4 reaches distances in/,
    );
  });

  it('finds a spike only where the loss jumps above 1.25× the preceding median', () => {
    const flat = Array.from({ length: 30 }, (_, i) => 2 + 0.01 * Math.sin(i));
    expect(findSpikes(flat)).toEqual([]);
    const spiky = [...flat];
    spiky[15] = 2 * 1.3;
    spiky[22] = 2 * 1.2; // below the threshold
    expect(findSpikes(spiky)).toEqual([15]);
  });

  it('formats numbers for tables', () => {
    expect(formatNumber(null)).toBe('n/a');
    expect(formatNumber(1627)).toBe('1627');
    expect(formatNumber(0.123456)).toBe('0.123');
    expect(formatNumber(3.2e-8)).toBe('3.20e-8');
  });

  it('uses a target mix that is orthogonal, mean-preserving and needs negative entries', () => {
    const t = TARGET_MIX;
    for (let i = 0; i < 4; i++) {
      expect(t[i]!.reduce((a, b) => a + b, 0)).toBe(1);
      expect(t.reduce((a, row) => a + row[i]!, 0)).toBe(1);
      for (let j = 0; j < 4; j++) expect(t[i]!.reduce((a, v, k) => a + v * t[j]![k]!, 0)).toBe(i === j ? 1 : 0);
    }
    expect(t.flat().filter((v) => v < 0).length).toBe(4);
  });
});
