/**
 * The shared chart module (examples/charts) against expectations worked out by hand: tick
 * values and their pixel positions, log ticks at powers of ten, the diverging colour scale
 * against ColorBrewer's RdBu colours, clamping, number formats, XML escaping, and every chart
 * type as a well-formed standalone SVG.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  barChart,
  boxChart,
  colorLegend,
  divergingColor,
  escapeXml,
  formatCell,
  formatTick,
  heatmap,
  heatmapGrid,
  intervalChart,
  lineChart,
  makeAxis,
  sharedLimit,
  type Tick,
} from '../examples/charts';
import { svgProblem } from './support/svg';

const values = (ticks: readonly Tick[]): number[] => ticks.map((t) => t.value);
const labelled = (ticks: readonly Tick[]): Tick[] => ticks.filter((t) => t.label !== '');
/** Every `<tag …>` of an SVG string with its attributes. */
const elements = (svg: string, tag: string): Record<string, string>[] =>
  [...svg.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])),
  );
/** The text content of every `<text>` element. */
const texts = (svg: string): string[] => [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('linear axes', () => {
  it('ticks 0..1 every 0.2 and maps them linearly onto the pixel range', () => {
    const axis = makeAxis([0, 1], [0, 500]);
    expect(axis.domain).toEqual([0, 1]);
    expect(values(axis.ticks)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    // one decimal for a step of 0.2, on every label
    expect(axis.ticks.map((t) => t.label)).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    // 500 px over a unit domain: 100 px per 0.2
    for (const [k, t] of axis.ticks.entries()) expect(axis.map(t.value)).toBeCloseTo(100 * k, 9);
  });

  it('widens to round ticks (nice), or spans exactly the data when tight', () => {
    const axis = makeAxis([0.3, 9.2], [300, 0]);
    expect(axis.domain).toEqual([0, 10]);
    expect(values(axis.ticks)).toEqual([0, 2, 4, 6, 8, 10]);
    // an inverted range (SVG y grows downwards): 10 → 0 px, 0 → 300 px, 2.5 → 225 px
    expect(axis.map(10)).toBe(0);
    expect(axis.map(0)).toBe(300);
    expect(axis.map(2.5)).toBeCloseTo(225, 9);

    const tight = makeAxis([1, 6], [0, 100], { tight: true });
    expect(tight.domain).toEqual([1, 6]);
    expect(values(tight.ticks)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(tight.map(3.5)).toBeCloseTo(50, 9);

    // whole numbers only (streams n = 2, 3): d3's 0.2 steps are dropped, the labels have no decimals
    const integer = makeAxis([2, 3], [0, 100], { tight: true, integer: true });
    expect(integer.ticks).toEqual([
      { value: 2, label: '2' },
      { value: 3, label: '3' },
    ]);
  });

  it('covers the included values, ignores non-finite ones and pads a single value', () => {
    expect(makeAxis([2, 3, NaN, Infinity], [0, 1], { include: [-1] }).domain).toEqual([-1, 3]);
    const single = makeAxis([5], [0, 100]);
    expect(single.domain[0]).toBeLessThan(5);
    expect(single.domain[1]).toBeGreaterThan(5);
    expect(makeAxis([], [0, 1]).domain).toEqual([0, 1]);
  });

  it('labels large and small steps in exponent form with the step’s precision', () => {
    expect(makeAxis([0, 20000], [0, 1]).ticks.map((t) => t.label)).toEqual(['0', '5e3', '1e4', '1.5e4', '2e4']);
    // 0.0004 / 5 = 8e-5 per tick rounds up to a step of 1e-4 (8 > √50, d3's threshold for ×10)
    expect(makeAxis([0, 0.0004], [0, 1]).ticks.map((t) => t.label)).toEqual(['0', '1e-4', '2e-4', '3e-4', '4e-4']);
    // negative values take the typographic minus sign (d3-format's default)
    expect(makeAxis([-2, 2], [0, 1]).ticks.map((t) => t.label)).toEqual(['\u22122', '\u22121', '0', '1', '2']);
  });
});

describe('log axes', () => {
  it('widens to whole decades and labels the powers of ten', () => {
    const axis = makeAxis([0.003, 40], [300, 0], { log: true });
    expect(axis.domain[0]).toBeCloseTo(1e-3, 15);
    expect(axis.domain[1]).toBeCloseTo(100, 9);
    const major = labelled(axis.ticks);
    expect(values(major).map((v) => Math.round(Math.log10(v)))).toEqual([-3, -2, -1, 0, 1, 2]);
    // five decades over 300 px: 60 px per decade, from the bottom
    major.forEach((t, k) => {
      expect(axis.map(t.value)).toBeCloseTo(300 - 60 * k, 6);
    });
    expect(axis.map(1)).toBeCloseTo(120, 6);
    // more than four decades: every label is a power of ten in one style
    expect(major.map((t) => t.label)).toEqual(['1e-3', '1e-2', '1e-1', '1e0', '1e1', '1e2']);
  });

  it('thins the decades of a very wide range and keeps only powers of ten', () => {
    const axis = makeAxis([2e-7, 3e8], [0, 1], { log: true });
    const exps = values(axis.ticks).map((v) => Math.log10(v));
    for (const e of exps) expect(Math.abs(e - Math.round(e))).toBeLessThan(1e-9);
    expect(exps.length).toBeLessThanOrEqual(9);
  });

  it('adds unlabelled minor ticks on a narrow range and labels plainly', () => {
    const axis = makeAxis([2, 30], [0, 200], { log: true });
    expect(axis.domain[0]).toBeCloseTo(1, 12);
    expect(axis.domain[1]).toBeCloseTo(100, 9);
    // 1 … 9, 10 … 90, 100
    expect(axis.ticks.length).toBe(19);
    for (const v of [1, 10, 100]) expect(axis.ticks.find((t) => Math.abs(t.value - v) < 1e-9)?.label).toBe(String(v));
    expect(axis.ticks.some((t) => t.label === '')).toBe(true);
    expect(axis.map(10)).toBeCloseTo(100, 6);
    expect(axis.map(Math.sqrt(10))).toBeCloseTo(50, 6);
  });

  it('accepts only finite positive values and ignores the rest for its domain', () => {
    const axis = makeAxis([0, -1, NaN, 0.5, 5], [0, 1], { log: true });
    expect(axis.domain[0]).toBeCloseTo(0.1, 12);
    expect(axis.domain[1]).toBeCloseTo(10, 9);
    for (const v of [0, -1, NaN, Infinity]) expect(axis.accepts(v)).toBe(false);
    expect(axis.accepts(1e-300)).toBe(true);
  });
});

// ColorBrewer RdBu, 11 classes, red → blue: the scheme d3-scale-chromatic's interpolateRdBu interpolates
const RDBU_11 = [
  '67001f',
  'b2182b',
  'd6604d',
  'f4a582',
  'fddbc7',
  'f7f7f7',
  'd1e5f0',
  '92c5de',
  '4393c3',
  '2166ac',
  '053061',
].map((h) => [0, 2, 4].map((k) => parseInt(h.slice(k, k + 2), 16)));

/**
 * The uniform cubic B-spline through the scheme at its k-th knot (t = k/10): (p[k−1] + 4 p[k] +
 * p[k+1]) / 6 per channel, with the end points extended as p[−1] = 2p[0] − p[1] (so the ends are
 * the end colours exactly).
 */
function rdbuAtKnot(k: number): string {
  const p = (i: number): number[] =>
    i < 0
      ? RDBU_11[0]!.map((c, j) => 2 * c - RDBU_11[1]![j]!)
      : i > 10
        ? RDBU_11[10]!.map((c, j) => 2 * c - RDBU_11[9]![j]!)
        : RDBU_11[i]!;
  const [r, g, b] = [0, 1, 2].map((j) => Math.round((p(k - 1)[j]! + 4 * p(k)[j]! + p(k + 1)[j]!) / 6));
  return `rgb(${r}, ${g}, ${b})`;
}

describe('the diverging colour scale', () => {
  it('is RdBu’s dark red at +limit, dark blue at −limit and its near-white middle at 0', () => {
    const color = divergingColor(2);
    expect(color(2)).toBe('rgb(103, 0, 31)'); // #67001f
    expect(color(-2)).toBe('rgb(5, 48, 97)'); // #053061
    // (#fddbc7 + 4·#f7f7f7 + #d1e5f0) / 6 = (241.67, 239.33, 237.83)
    expect(color(0)).toBe('rgb(242, 239, 238)');
    expect(rdbuAtKnot(0)).toBe('rgb(103, 0, 31)');
    expect(rdbuAtKnot(5)).toBe('rgb(242, 239, 238)');
  });

  it('follows the scheme at every knot, red for positive and blue for negative', () => {
    const limit = 0.75;
    const color = divergingColor(limit);
    for (let k = 0; k <= 10; k++) expect(color(limit * (1 - k / 5)), `knot ${k}`).toBe(rdbuAtKnot(k));
    const rgb = (s: string): number[] => s.match(/\d+/g)!.map(Number);
    const [r, , b] = rgb(color(0.5 * limit));
    expect(r).toBeGreaterThan(b!);
    const [r2, , b2] = rgb(color(-0.5 * limit));
    expect(b2).toBeGreaterThan(r2!);
  });

  it('clamps beyond ±limit and paints non-finite entries black', () => {
    const color = divergingColor(1);
    expect(color(5)).toBe('rgb(103, 0, 31)');
    expect(color(-1e9)).toBe('rgb(5, 48, 97)');
    expect(color(Infinity)).toBe('#000000');
    expect(color(NaN)).toBe('#000000');
  });

  it('shares one limit across matrices: the largest finite |entry|', () => {
    expect(sharedLimit([0.5, -3, 2, NaN, -Infinity])).toBe(3);
    expect(sharedLimit([0, 0])).toBe(1e-12);
  });
});

describe('number formats and escaping', () => {
  it('formats ticks and cells', () => {
    expect(formatTick(0)).toBe('0');
    expect(formatTick(0.5)).toBe('0.5');
    expect(formatTick(1234)).toBe('1230');
    expect(formatTick(1e6)).toBe('1e6');
    expect(formatTick(3.2e-8)).toBe('3.2e-8');
    expect(formatTick(-0.25)).toBe('\u22120.25');
    expect(formatCell(0.5)).toBe('.50');
    expect(formatCell(-0.25)).toBe('\u2212.25');
    expect(formatCell(1)).toBe('1.00');
    expect(formatCell(-0.001)).toBe('0');
  });

  it('escapes the XML special characters', () => {
    expect(escapeXml(`a < b & "c" > d`)).toBe('a &lt; b &amp; &quot;c&quot; &gt; d');
    expect(escapeXml('&amp;')).toBe('&amp;amp;');
  });
});

describe('charts', () => {
  const nasty = 'R&D <x> "q"';

  it('escapes every label and stays well-formed', () => {
    const svgs = [
      lineChart({
        title: nasty,
        xLabel: nasty,
        yLabel: nasty,
        series: [
          {
            name: nasty,
            color: '#000',
            points: [
              [0, 1],
              [1, 2],
            ],
          },
        ],
        referenceY: [{ y: 1.5, label: nasty }],
      }),
      barChart({
        title: nasty,
        yLabel: nasty,
        bars: [{ name: nasty, color: '#000', value: 1, label: nasty, tooltip: nasty }],
      }),
      boxChart({ title: nasty, yLabel: nasty, groups: [{ name: nasty, color: '#000', values: [1, 2, 3] }] }),
      heatmapGrid({
        title: nasty,
        rowLabels: [nasty],
        columnLabels: [nasty],
        cells: [
          [
            [
              [1, -1],
              [0, 0.5],
            ],
          ],
        ],
      }),
      heatmap([[1]], { limit: 1, cell: 10, tooltip: () => nasty, attrs: { 'aria-label': nasty } }),
      intervalChart({
        title: nasty,
        yLabel: nasty,
        groups: [{ name: nasty, items: [{ name: nasty, color: '#000', values: [1, 2], mean: 1.5 }] }],
        referenceY: [{ y: 1, label: nasty }],
      }),
    ];
    for (const svg of svgs) {
      expect(svgProblem(svg)).toBe('');
      expect(svg).toContain('R&amp;D &lt;x&gt; &quot;q&quot;');
      expect(svg).not.toContain(nasty);
    }
  });

  it('places a line chart’s points on the axes (log y, a reference line inside the domain)', () => {
    // no title or y label: the plot spans x 50 … 384 (400 − 16) and y 12 … 256 (300 − 44)
    const svg = lineChart({
      xLabel: 'step',
      logY: true,
      width: 400,
      height: 300,
      legend: 'top',
      series: [
        {
          name: 'a',
          color: '#123456',
          points: [
            [0, 0.01],
            [1, 100],
            [2, 0],
            [3, 1],
            [4, 1],
          ],
        },
      ],
      referenceY: [{ y: 1, label: 'one' }],
    });
    expect(svgProblem(svg)).toBe('');
    // with a row legend the plot starts 18 px lower: y 30 … 256; 1 sits halfway between 1e-2 and 1e2
    const lines = elements(svg, 'polyline');
    expect(lines.map((l) => l.points)).toEqual(['50,256 133.5,30', '300.5,143 384,143']);
    const ref = elements(svg, 'line').find((l) => l['stroke-dasharray'] === '2 3')!;
    expect([ref.y1, ref.y2]).toEqual(['143', '143']);
    expect(texts(svg)).toContain('one');
  });

  it('draws a box from the quartiles with the median, on a linear axis', () => {
    // 360 × 360, no title: plot y 12 … 334 (360 − 26) over the domain [1, 5]
    const svg = boxChart({ groups: [{ name: 'g', color: '#000', values: [5, 1, 4, 2, 3] }] });
    expect(svgProblem(svg)).toBe('');
    const y = (v: number): number => 334 - ((v - 1) / 4) * 322;
    const box = elements(svg, 'rect').find((r) => r['fill-opacity'] === '0.18')!;
    expect(Number(box.y)).toBeCloseTo(y(4), 2);
    expect(Number(box.height)).toBeCloseTo(y(2) - y(4), 2);
    const median = elements(svg, 'line').find((l) => l['stroke-width'] === '2.5')!;
    expect(Number(median.y1)).toBeCloseTo(y(3), 2);
    expect(elements(svg, 'circle')).toHaveLength(5);
  });

  it('stands bars on 0, says n/a where a log axis cannot draw, and adds hover texts', () => {
    // 360 × 360, no title: plot y 12 … 334 over the nice domain [0, 2.5]; the bar spans 0 … 2.3
    const linear = barChart({
      bars: [{ name: 'a', color: '#111', value: 2.3, tooltip: 'a: 2.3' }],
      valueLabels: false,
    });
    expect(svgProblem(linear)).toBe('');
    expect(linear).toContain('<title>a: 2.3</title>');
    expect(texts(linear)).not.toContain('2.3');
    const bar = elements(linear, 'rect').find((r) => r.fill === '#111')!;
    expect(Number(bar.y)).toBeCloseTo(334 - (2.3 / 2.5) * 322, 2);
    expect(Number(bar.y) + Number(bar.height)).toBeCloseTo(334, 2);
    const log = barChart({
      logY: true,
      bars: [
        { name: 'a', color: '#111', value: 0 },
        { name: 'b', color: '#222', value: 20 },
      ],
    });
    expect(svgProblem(log)).toBe('');
    expect(texts(log)).toContain('n/a');
    expect(log).toMatch(/font-size="11">20<\/text>/);
  });

  it('colours the heatmaps of a grid on one shared scale, with its colour bar', () => {
    const svg = heatmapGrid({
      rowLabels: ['r'],
      columnLabels: ['a', 'b', 'empty'],
      cells: [[[[0.5]], [[-2, 2]], null]],
      annotate: true,
    });
    expect(svgProblem(svg)).toBe('');
    const fills = elements(svg, 'rect').map((r) => r.fill);
    // the largest |entry| (2) sets the limit for every matrix: 0.5 is a quarter of the way
    const color = divergingColor(2);
    expect(fills).toContain(color(0.5));
    expect(fills).toContain('rgb(103, 0, 31)');
    expect(fills).toContain('rgb(5, 48, 97)');
    expect(texts(svg)).toEqual(expect.arrayContaining(['.50', '\u22122.00', '2.00', '2', '0', '\u22122']));
  });

  it('draws one cell per entry in a standalone heatmap and a horizontal legend', () => {
    const svg = heatmap(
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, -1],
      ],
      { limit: 1, cell: 20, tooltip: (i, j, v) => `H[${i}][${j}] = ${v}`, attrs: { 'data-testid': 'heatmap' } },
    );
    expect(svgProblem(svg)).toBe('');
    expect(svg).toMatch(/^<svg [^>]*width="60" height="60"[^>]*data-testid="heatmap"/);
    expect(elements(svg, 'rect')).toHaveLength(9);
    expect(svg).toContain('<title>H[2][2] = -1</title>');
    const legend = colorLegend(1.5);
    expect(svgProblem(legend)).toBe('');
    expect(texts(legend)).toEqual(['\u22121.5', '1.5']);
  });
});

describe('bands on line charts', () => {
  // no title or y label, a row legend: the plot spans x 50 … 384 and y 30 … 256 (see the log-axis test above)
  const base = { xLabel: 'x', legend: 'top', width: 400, height: 300 } as const;
  const pairs = (points: string): number[][] => points.split(' ').map((p) => p.split(',').map(Number));

  it('shades (x, hi) forwards then (x, lo) backwards, under every line, and widens the y axis', () => {
    const series = [
      {
        name: 'flat',
        color: '#654321',
        points: [
          [0, 2],
          [2, 2],
        ] as const,
      },
      {
        name: 'a',
        color: '#123456',
        points: [
          [0, 1],
          [1, 2],
          [2, 3],
        ] as const,
        band: [
          [0, 0, 2],
          [1, 1, 3],
          [2, 2, 4],
        ] as const,
      },
    ];
    const svg = lineChart({ ...base, series });
    expect(svgProblem(svg)).toBe('');
    // the band's 0 … 4 sets the domain: x(k) = 50 + 167 k, y(v) = 256 − 56.5 v
    const [x, y] = [(k: number) => 50 + 167 * k, (v: number) => 256 - 56.5 * v];
    const polygons = elements(svg, 'polygon');
    expect(polygons).toHaveLength(1);
    const band = polygons[0]!;
    expect([band.fill, band['fill-opacity'], band.stroke]).toEqual(['#123456', '0.15', 'none']);
    const data = series[1]!.band!;
    const upper = data.map(([k, , hi]) => [x(k), y(hi)]);
    const lower = data.map(([k, lo]) => [x(k), y(lo)]).reverse();
    expect(pairs(band.points!)).toEqual([...upper, ...lower]);
    const lines = elements(svg, 'polyline');
    expect(lines.map((l) => l.points)).toEqual(['50,143 384,143', '50,199.5 217,143 384,86.5']);
    // at every x the band's top lies above the line (smaller pixel y), the line above the band's bottom
    const line = pairs(lines[1]!.points!);
    line.forEach(([, ly], k) => {
      expect(upper[k]![1]!).toBeLessThan(ly!);
      expect(ly!).toBeLessThan(lower[2 - k]![1]!);
    });
    // under every line, the first series' included
    expect(svg.indexOf('<polygon')).toBeLessThan(svg.indexOf('<polyline'));
    // without the band the domain is the line's own 1 … 3: y(v) = 256 − 113 (v − 1)
    const bare = lineChart({ ...base, series: [{ ...series[1]!, band: undefined }] });
    expect(elements(bare, 'polygon')).toHaveLength(0);
    expect(elements(bare, 'polyline').map((l) => l.points)).toEqual(['50,256 217,143 384,30']);
  });

  it('splits a log-axis band where lo ≤ 0 or a value is not finite, without NaN', () => {
    const svg = lineChart({
      ...base,
      logY: true,
      series: [
        {
          name: 'a',
          color: '#123456',
          points: [
            [0, 1],
            [6, 1],
          ],
          band: [
            [0, 0.1, 10],
            [1, 0.5, 20],
            [2, 0, 5],
            [3, 1, 10],
            [4, 2, 20],
            [5, NaN, 3],
            [6, -1, 1],
            [7, 1, Infinity],
          ],
        },
      ],
    });
    expect(svgProblem(svg)).toBe('');
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('Infinity');
    // runs {0, 1} and {3, 4}; the x axis spans the band's 0 … 7 (x(k) = 50 + 334 k / 7)
    const polygons = elements(svg, 'polygon').map((p) => pairs(p.points!));
    expect(polygons).toHaveLength(2);
    const x = (k: number): number => Math.round((50 + (334 * k) / 7) * 100) / 100;
    expect(polygons.map((p) => p.map(([px0]) => px0))).toEqual([
      [x(0), x(1), x(1), x(0)],
      [x(3), x(4), x(4), x(3)],
    ]);
    // the domain 0.1 … 100 (three decades over 226 px): y(v) = 256 − 226 log10(v / 0.1) / 3
    const y = (v: number): number => 256 - (226 * Math.log10(v / 0.1)) / 3;
    const expected = [
      [10, 20, 0.5, 0.1],
      [10, 20, 2, 1],
    ];
    polygons.forEach((p, i) => {
      p.forEach(([, py], k) => {
        expect(py!).toBeCloseTo(y(expected[i]![k]!), 1);
      });
    });
  });

  it('rejects a band point with lo > hi', () => {
    expect(() =>
      lineChart({ ...base, series: [{ name: 'bad', color: '#000', points: [], band: [[0, 2, 1]] }] }),
    ).toThrow(/lineChart: series "bad".*lo 2 > hi 1/);
  });
});

describe('interval charts', () => {
  const items = {
    a: { name: 'A', color: '#a00000', values: [1, 2, 3], mean: 2, lo: 1.5, hi: 2.5 },
    b: { name: 'B', color: '#00b000', values: [2, NaN, 4], mean: 3 },
    c: { name: 'C', color: '#0000c0', values: [1, 5], mean: 3, lo: 0.5, hi: 5.5 },
  };
  const ofColor = (svg: string, tag: string, color: string): Record<string, string>[] =>
    elements(svg, tag).filter((e) => e.stroke === color || e.fill === color);
  const vertical = (l: Record<string, string>): boolean => l.x1 === l.x2;

  it('draws dots, a mean tick and a capped whisker per slot, grouped and named', () => {
    const svg = intervalChart({
      groups: [
        { name: 'depth 2', items: [items.a, items.b] },
        { name: 'depth 4', items: [items.c] },
      ],
    });
    expect(svgProblem(svg)).toBe('');
    // 360 wide (at least 360), no title: plot x 50 … 344, y 12 … 316 (a row of group names under the item names);
    // 3 slots and half a slot of gap: 84 px a slot
    const slotX = { a: 92, b: 176, c: 302 };
    const y = (v: number): number => 316 - (v / 6) * 304; // the domain 0 … 6 covers C's hi 5.5
    for (const [key, it] of Object.entries(items)) {
      const lines = ofColor(svg, 'line', it.color);
      const whiskers = lines.filter(vertical);
      const caps = lines.filter((l) => !vertical(l) && l['stroke-width'] === '1.5');
      const means = lines.filter((l) => l['stroke-width'] === '3');
      const cx = slotX[key as keyof typeof slotX];
      expect(means, it.name).toHaveLength(1);
      expect(Number(means[0]!.y1)).toBeCloseTo(y(it.mean), 2);
      expect((Number(means[0]!.x1) + Number(means[0]!.x2)) / 2).toBeCloseTo(cx, 2);
      // one dot per finite value
      expect(ofColor(svg, 'circle', it.color), it.name).toHaveLength(it.values.filter(Number.isFinite).length);
      if ('lo' in it) {
        expect(whiskers, it.name).toHaveLength(1);
        expect(Number(whiskers[0]!.x1)).toBeCloseTo(cx, 2);
        expect([Number(whiskers[0]!.y1), Number(whiskers[0]!.y2)]).toEqual(
          [y(it.lo), y(it.hi)].map((v) => expect.closeTo(v, 2)),
        );
        expect(caps.map((c) => Number(c.y1)).sort((p, q) => p - q)).toEqual(
          [y(it.hi), y(it.lo)].map((v) => expect.closeTo(v, 2)),
        );
      } else {
        expect(whiskers, it.name).toHaveLength(0);
        expect(caps, it.name).toHaveLength(0);
      }
    }
    // the divider halfway through the gap between B and C
    const dividers = elements(svg, 'line').filter((l) => l.stroke === '#dddddd');
    expect(dividers.map((l) => [Number(l.x1), Number(l.x2)])).toEqual([[239, 239]]);
    expect(texts(svg)).toEqual(expect.arrayContaining(['A', 'B', 'C', 'depth 2', 'depth 4', '6']));
    // each group name centred under its slots
    const named = (t: string): string => svg.match(new RegExp(`<text x="([\\d.]+)"[^>]*>${t}</text>`))![1]!;
    expect(Number(named('depth 2'))).toBeCloseTo(134, 2);
    expect(Number(named('depth 4'))).toBeCloseTo(302, 2);
  });

  it('skips the group row for a lone unnamed group', () => {
    const svg = intervalChart({ groups: [{ name: '', items: [items.a] }] });
    expect(svgProblem(svg)).toBe('');
    expect(svg).not.toContain('font-weight="600"');
    expect(elements(svg, 'line').filter((l) => l.stroke === '#dddddd')).toHaveLength(0);
    // the plot reaches 360 − 26 = 334 and the domain is 1 … 3
    const mean = ofColor(svg, 'line', items.a.color).find((l) => l['stroke-width'] === '3')!;
    expect(Number(mean.y1)).toBeCloseTo(334 - ((2 - 1) / 2) * 322, 2);
  });

  it('on a log axis skips non-positive values and says n/a for a slot with nothing to draw', () => {
    const svg = intervalChart({
      logY: true,
      groups: [
        {
          name: '',
          items: [
            { name: 'neg', color: '#a00000', values: [-1, 0, -2], mean: -1, lo: -2, hi: 0 },
            { name: 'zero', color: '#00b000', values: [0, 0], mean: 0 },
            { name: 'ok', color: '#0000c0', values: [1, 10, -1], mean: 5, lo: -3, hi: 12 },
          ],
        },
      ],
    });
    expect(svgProblem(svg)).toBe('');
    expect(svg).not.toContain('NaN');
    expect(texts(svg).filter((t) => t === 'n/a')).toHaveLength(1);
    expect(texts(svg).filter((t) => t === 'all 0')).toHaveLength(1);
    expect(ofColor(svg, 'line', '#a00000')).toHaveLength(0);
    expect(elements(svg, 'circle')).toHaveLength(2);
    // the interval reaching below 0 runs to the plot's bottom (334) with only its upper cap
    const ok = ofColor(svg, 'line', '#0000c0');
    const whisker = ok.filter(vertical);
    expect(whisker).toHaveLength(1);
    expect(Number(whisker[0]!.y1)).toBe(334);
    expect(ok.filter((l) => !vertical(l) && l['stroke-width'] === '1.5')).toHaveLength(1);
  });

  it('rejects an interval with lo > hi', () => {
    expect(() =>
      intervalChart({
        groups: [{ name: '', items: [{ name: 'x', color: '#000', values: [], mean: 1, lo: 2, hi: 1 }] }],
      }),
    ).toThrow(/intervalChart: item "x" has lo 2 > hi 1/);
  });
});

describe('the module', () => {
  it('imports only its own files and the d3 packages, so the playground can bundle it', () => {
    const dir = new URL('../examples/charts/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const m of source.matchAll(/\bfrom '([^']+)'/g))
        expect(m[1], file).toMatch(/^(\.\/[\w-]+|d3-(array|format|scale|scale-chromatic))$/);
    }
  });
});
