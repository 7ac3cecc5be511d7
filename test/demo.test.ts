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
import { findSpikes } from '../examples/demo/experiments/training';
import { TARGET_MIX } from '../examples/demo/experiments/mixing';
import { runDemo, type DemoOutput } from '../examples/demo/run';
import { formatNumber } from '../examples/demo/summary';
import { escapeXml, lineChart } from '../examples/charts';
import { svgProblem } from './support/svg';

const EXPECTED_FIGURES = [
  'fig1-depth-forward-gain.svg',
  'fig1-depth-sigma-max.svg',
  'fig1-depth-homogenisation.svg',
  'fig2-identity-distance.svg',
  'fig2-offdiagonal-mass.svg',
  'fig2-trained-maps.svg',
  'fig3-mixing-loss.svg',
  'fig3-mixing-curves.svg',
  'fig3-learned-mixes.svg',
  'fig4-parameters.svg',
  'fig4-time.svg',
  'fig5-validation-loss.svg',
  'fig5-gradient-norm.svg',
];

const dirs: string[] = [];
async function generate(config: DemoConfig): Promise<{ dir: string; out: DemoOutput }> {
  const dir = mkdtempSync(join(tmpdir(), 'hyperconn-demo-'));
  dirs.push(dir);
  return { dir, out: await runDemo(config, { outDir: dir }) };
}

/** Every number of the summary table, row by row, in column order. */
const tableNumbers = (out: DemoOutput): (number | null)[][] =>
  out.summary.rows.map((r) => out.summary.columns.map((c) => r.values[c.key] ?? null));

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
      // a figure that draws nothing would still be well-formed: each has marks in it
      expect((text.match(/<(polyline|rect|circle)\b/g) ?? []).length, file).toBeGreaterThan(3);
    }
  });

  it('links every figure from report.md and inlines every figure in a self-contained report.html', () => {
    const md = readFileSync(join(first.dir, 'report.md'), 'utf8');
    const html = readFileSync(join(first.dir, 'report.html'), 'utf8');
    for (const file of EXPECTED_FIGURES) expect(md).toContain(`](${file})`);
    expect((html.match(/<svg xmlns=/g) ?? []).length).toBe(EXPECTED_FIGURES.length);
    // nothing loaded from elsewhere: no src attributes, no links to other files
    expect(html).not.toMatch(/\ssrc=|<link\b|href="(?!#)/);
    for (const n of [1, 2, 3, 4, 5]) expect(md).toMatch(new RegExp(`^## ${n}\\. `, 'm'));
    expect(md.match(/\*\*Claim tested\*\*/g)?.length).toBe(5);
  });

  it('fills the summary table with finite numbers, one row per variant', () => {
    const { summary } = first.out;
    expect(summary.rows.map((r) => r.variant)).toEqual([...tinyConfig().variants]);
    expect(summary.columns.length).toBe(11);
    for (const row of tableNumbers(first.out)) {
      for (const v of row) {
        expect(v).not.toBeNull();
        expect(Number.isFinite(v)).toBe(true);
      }
    }
  });

  it('reproduces the summary table and every result from the same seed, and changes with the seed', async () => {
    const again = await generate(tinyConfig());
    expect(tableNumbers(again.out)).toEqual(tableNumbers(first.out));
    expect(again.out.results).toEqual(first.out.results);
    // the cost experiment's parameter counts are exact; its timings are not compared
    expect(again.out.cost.map((c) => c.params)).toEqual(first.out.cost.map((c) => c.params));

    const other = await generate({ ...tinyConfig(), seed: 1 });
    expect(tableNumbers(other.out)).not.toEqual(tableNumbers(first.out));
  });

  it('checks its headline numbers against closed forms', () => {
    const rows = new Map(first.out.summary.rows.map((r) => [r.variant, r.values]));
    // every constrained product has unit row sums (P1 = 1), so σ_max(P) ≥ ‖P1‖/‖1‖ = 1; exactly
    // doubly stochastic (mHC-lite) and spectral-sphere (sHC) products also have σ_max ≤ 1
    for (const v of ['mhc', 'mhcLite', 'shc'] as const) expect(rows.get(v)!.depthSigma!).toBeGreaterThan(1 - 1e-9);
    for (const v of ['mhcLite', 'shc'] as const) expect(rows.get(v)!.depthSigma!).toBeLessThan(1 + 1e-9);
    // mHC's Sinkhorn leaves column sums slightly off, so only σ ≤ √(‖P‖₁‖P‖_∞) holds (averaged
    // over tokens, by Cauchy–Schwarz)
    const mhc = first.out.results.depth.find((d) => d.variant === 'mhc')!.composite.at(-1)!;
    expect(mhc.sigmaMax).toBeLessThanOrEqual(Math.sqrt(mhc.forwardGain * mhc.backwardGain) + 1e-12);
    // the residual: H_res = [1], nothing to mix (relative loss 1 by definition)
    expect(rows.get('residual')!.depthGain).toBe(1);
    expect(rows.get('residual')!.mixLoss).toBe(1);
    // doubly stochastic matrices have no negative entries
    for (const v of ['mhc', 'mhcLite'] as const) expect(rows.get(v)!.mixNegative).toBe(0);
    // parameters per module, docs/spec/hc-family.md: mHC 100C + 27 and sHC 72C + 24 at n = 4
    const C = tinyConfig().training.dim;
    expect(rows.get('mhc')!.params).toBe(100 * C + 27);
    expect(rows.get('shc')!.params).toBe(72 * C + 24);
  });
});

describe('report helpers', () => {
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
