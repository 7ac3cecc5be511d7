/**
 * The charts, each a function returning a standalone SVG document string: line charts (linear
 * or log axes, optionally with shaded bands), bar charts, box charts (a distribution per
 * category), interval charts (per-seed dots, mean and interval per category), and heatmaps sharing the
 * diverging colour scale, with their colour bar. Pure functions, no DOM and no Node built-ins:
 * the demo writes the strings to files, the playground sets them as innerHTML.
 */
import { quantileSorted } from 'd3-array';
import { escapeXml, formatCell, formatTick } from './format';
import { el, px, svgDocument, textEl, titleWidth, type Attrs } from './markup';
import { divergingColor, makeAxis, sharedLimit, type Axis } from './scales';

/** One line of a line chart. */
export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  /** Dashed, so a line lying on another stays visible. */
  dashed?: boolean;
  /**
   * A shaded band (x, lo, hi) around the line, e.g. mean ± an interval or min–max over seeds,
   * drawn translucent under every line. Points an axis cannot show break the band like the line.
   */
  band?: readonly (readonly [number, number, number])[];
}

/** A horizontal reference line, e.g. y = 1. */
export interface Reference {
  y: number;
  label: string;
}

export interface LineChartOptions {
  title?: string;
  xLabel: string;
  yLabel?: string;
  series: readonly Series[];
  logX?: boolean;
  logY?: boolean;
  /** Draw a dot at every point (for short series). */
  markers?: boolean;
  referenceY?: readonly Reference[];
  /** The legend in a column right of the plot (default) or in a row above it. */
  legend?: 'right' | 'top';
  /** About how many x ticks; default 5. */
  xTicks?: number;
  /** Whole-number x ticks only (counts, depths, steps). */
  xInteger?: boolean;
  /** About how many y ticks; default 5. */
  yTicks?: number;
  width?: number;
  height?: number;
}

export interface Bar {
  name: string;
  color: string;
  value: number;
  /** Printed above the bar instead of the value (or instead of "n/a" when it cannot be drawn). */
  label?: string;
  /** Shown on hover. */
  tooltip?: string;
}

export interface BarChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  bars: readonly Bar[];
  logY?: boolean;
  referenceY?: readonly Reference[];
  /** Print each bar's value (or label) above it; default true. */
  valueLabels?: boolean;
  /** About how many y ticks; default 5. */
  yTicks?: number;
  width?: number;
  height?: number;
}

/** One slot of an interval chart: per-seed values as dots, their mean as a tick, an interval as a whisker. */
export interface IntervalItem {
  /** The slot's x label, e.g. 'mHC'. */
  name: string;
  color: string;
  /** Per-seed values, each drawn as a small dot. */
  values: readonly number[];
  /** Drawn as a short thick horizontal tick. */
  mean: number;
  /** The interval's ends, a whisker with end caps; left out when either is undefined or NaN. */
  lo?: number;
  hi?: number;
}

export interface IntervalChartOptions {
  title?: string;
  yLabel?: string;
  /** Slots side by side, group by group; a group's name is printed under its slots (none for a lone unnamed group). */
  groups: readonly { name: string; items: readonly IntervalItem[] }[];
  logY?: boolean;
  referenceY?: readonly Reference[];
  width?: number;
  height?: number;
}

export interface BoxChartOptions {
  title?: string;
  yLabel?: string;
  groups: readonly { name: string; color: string; values: readonly number[] }[];
  logY?: boolean;
  width?: number;
  height?: number;
}

export type Matrix = readonly (readonly number[])[];

export interface HeatmapOptions {
  /** The symmetric colour limit, shared with the other heatmaps it is compared with. */
  limit: number;
  /** Pixels per cell. */
  cell: number;
  /** A hover text per cell. */
  tooltip?: (i: number, j: number, v: number) => string;
  /** More attributes of the root `<svg>`. */
  attrs?: Attrs;
}

export interface HeatmapGridOptions {
  title?: string;
  /** Row labels (left) and column labels (top) of the grid of matrices. */
  rowLabels: readonly string[];
  columnLabels: readonly string[];
  /** cells[row][column] is a matrix, or null for an empty slot. */
  cells: readonly (readonly (Matrix | null)[])[];
  /** Symmetric colour limit; default the largest |entry| of all the matrices. */
  limit?: number;
  /** Print the entries in the cells (for small matrices). */
  annotate?: boolean;
}

/** The plot area's pixel edges. */
export interface Plot {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const RIGHT = 16;

function plotArea(
  width: number,
  height: number,
  o: { title?: string; xLabel?: string; yLabel?: string; legendRow?: boolean },
): Plot {
  const left = o.yLabel !== undefined && o.yLabel !== '' ? 72 : 50;
  const top = (o.title !== undefined ? 40 : 12) + (o.legendRow === true ? 18 : 0);
  const bottom = height - (o.xLabel !== undefined && o.xLabel !== '' ? 44 : 26);
  return { left, top, right: width - RIGHT, bottom };
}

/** Grid lines and tick labels (minor ticks unlabelled and fainter), the plot's border and the axis labels. */
function frame(plot: Plot, height: number, x: Axis | null, y: Axis, xLabel = '', yLabel = ''): string[] {
  const out: string[] = [];
  for (const t of y.ticks) {
    const yy = y.map(t.value);
    out.push(
      el('line', { x1: plot.left, y1: yy, x2: plot.right, y2: yy, stroke: t.label === '' ? '#f3f3f3' : '#e5e5e5' }),
    );
    if (t.label !== '')
      out.push(
        textEl({ x: plot.left - 6, y: yy, 'text-anchor': 'end', 'dominant-baseline': 'middle', fill: '#444' }, t.label),
      );
  }
  for (const t of x?.ticks ?? []) {
    const xx = x!.map(t.value);
    out.push(
      el('line', { x1: xx, y1: plot.top, x2: xx, y2: plot.bottom, stroke: t.label === '' ? '#f7f7f7' : '#f0f0f0' }),
    );
    if (t.label !== '')
      out.push(textEl({ x: xx, y: plot.bottom + 16, 'text-anchor': 'middle', fill: '#444' }, t.label));
  }
  out.push(
    el('rect', {
      x: plot.left,
      y: plot.top,
      width: plot.right - plot.left,
      height: plot.bottom - plot.top,
      fill: 'none',
      stroke: '#888',
    }),
  );
  if (xLabel !== '')
    out.push(textEl({ x: (plot.left + plot.right) / 2, y: height - 10, 'text-anchor': 'middle' }, xLabel));
  if (yLabel !== '') {
    const mid = (plot.top + plot.bottom) / 2;
    out.push(textEl({ x: 16, y: mid, 'text-anchor': 'middle', transform: `rotate(-90 16 ${px(mid)})` }, yLabel));
  }
  return out;
}

/** Legend entries (a line sample and the name), stacked in a column or side by side in a row. */
export function legend(
  items: readonly { name: string; color: string; dashed?: boolean }[],
  x: number,
  y: number,
  direction: 'column' | 'row' = 'column',
): string[] {
  const out = ['<g>'];
  let xx = x;
  items.forEach((item, i) => {
    const yy = direction === 'column' ? y + i * 16 : y;
    out.push(
      el('line', {
        x1: xx,
        y1: yy,
        x2: xx + 18,
        y2: yy,
        stroke: item.color,
        'stroke-width': 2.5,
        'stroke-dasharray': item.dashed === true ? '5 3' : undefined,
      }),
    );
    out.push(textEl({ x: xx + 24, y: yy, 'dominant-baseline': 'middle' }, item.name));
    if (direction === 'row') xx += 40 + 7 * item.name.length;
  });
  out.push('</g>');
  return out;
}

/** Dashed horizontal lines across the plot, labelled at their right end; values the axis cannot show are skipped. */
export function referenceLines(refs: readonly Reference[], y: Axis, plot: Plot): string[] {
  return refs
    .filter((r) => y.accepts(r.y))
    .flatMap((r) => [
      el('line', {
        x1: plot.left,
        y1: y.map(r.y),
        x2: plot.right,
        y2: y.map(r.y),
        stroke: '#555',
        'stroke-dasharray': '2 3',
      }),
      // a white halo keeps the label readable over lines and bars
      textEl(
        {
          x: plot.right - 4,
          y: y.map(r.y) - 4,
          'text-anchor': 'end',
          fill: '#555',
          'font-size': 10,
          stroke: '#ffffff',
          'stroke-width': 3,
          'paint-order': 'stroke',
        },
        r.label,
      ),
    ]);
}

/**
 * A series' band as translucent polygons, one per run of points both axes can show (like the
 * line, the band breaks where a point is left out; a run needs two points to have an area).
 */
function bandPolygons(s: Series, x: Axis, y: Axis): string[] {
  const out: string[] = [];
  let run: (readonly [number, number, number])[] = [];
  const flush = (): void => {
    if (run.length > 1) {
      const upper = run.map(([bx, , hi]) => `${px(x.map(bx))},${px(y.map(hi))}`);
      const lower = run.map(([bx, lo]) => `${px(x.map(bx))},${px(y.map(lo))}`).reverse();
      out.push(
        el('polygon', { fill: s.color, 'fill-opacity': 0.15, stroke: 'none', points: [...upper, ...lower].join(' ') }),
      );
    }
    run = [];
  };
  for (const p of s.band ?? []) {
    const [bx, lo, hi] = p;
    if (lo > hi)
      throw new Error(`lineChart: series "${s.name}" has a band point with lo ${lo} > hi ${hi} at x = ${bx}`);
    if (x.accepts(bx) && y.accepts(lo) && y.accepts(hi)) run.push(p);
    else flush();
  }
  flush();
  return out;
}

/**
 * A line chart. Points an axis cannot show (≤ 0 on a log axis, non-finite) are left out, which
 * breaks the line there. The y domain covers the reference lines and the bands, which are drawn
 * under every line.
 */
export function lineChart(options: LineChartOptions): string {
  const row = options.legend === 'top';
  const legendWidth = row ? 0 : 12 + 7 * Math.max(...options.series.map((s) => s.name.length), 4) + 24;
  const width = options.width ?? Math.max(640 + legendWidth, titleWidth(options.title));
  const height = options.height ?? 360;
  const plot = plotArea(width - legendWidth, height, { ...options, legendRow: row });
  const refs = options.referenceY ?? [];
  const x = makeAxis(
    options.series.flatMap((s) => [...s.points.map((p) => p[0]), ...(s.band ?? []).map((b) => b[0])]),
    [plot.left, plot.right],
    { log: options.logX === true, tight: true, count: options.xTicks, integer: options.xInteger },
  );
  const y = makeAxis(
    options.series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ?? []).flatMap((b) => [b[1], b[2]])]),
    [plot.bottom, plot.top],
    { log: options.logY === true, include: refs.map((r) => r.y), count: options.yTicks },
  );
  const body = frame(plot, height, x, y, options.xLabel, options.yLabel);
  // every band under every line, so no band veils another series' line
  for (const s of options.series) body.push(...bandPolygons(s, x, y));
  body.push(...referenceLines(refs, y, plot));
  for (const s of options.series) {
    const dash = s.dashed === true ? '5 3' : undefined;
    let segment: string[] = [];
    const flush = (): void => {
      if (segment.length > 1)
        body.push(
          el('polyline', {
            fill: 'none',
            stroke: s.color,
            'stroke-width': 2,
            'stroke-linejoin': 'round',
            'stroke-dasharray': dash,
            points: segment.join(' '),
          }),
        );
      segment = [];
    };
    for (const [px0, py0] of s.points) {
      if (!x.accepts(px0) || !y.accepts(py0)) {
        flush();
        continue;
      }
      const [cx, cy] = [x.map(px0), y.map(py0)];
      segment.push(`${px(cx)},${px(cy)}`);
      if (options.markers === true) body.push(el('circle', { cx, cy, r: 2.5, fill: s.color }));
    }
    flush();
  }
  if (row) body.push(...legend(options.series, plot.left + 8, plot.top - 12, 'row'));
  else body.push(...legend(options.series, plot.right + RIGHT + 12, plot.top + 8));
  return svgDocument(width, height, body, { title: options.title });
}

/** A bar chart, one bar per entry, each (by default) with its value printed above it. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? Math.max(360, 120 + 100 * options.bars.length, titleWidth(options.title));
  const height = options.height ?? 360;
  const log = options.logY === true;
  const refs = options.referenceY ?? [];
  const plot = plotArea(width, height, options);
  const values = options.bars.map((b) => b.value);
  // a linear axis starts at 0, where the bars stand
  const y = makeAxis(values, [plot.bottom, plot.top], {
    log,
    include: [...(log ? [] : [0]), ...refs.map((r) => r.y)],
    count: options.yTicks,
  });
  const body = frame(plot, height, null, y, options.xLabel, options.yLabel);
  const slot = (plot.right - plot.left) / Math.max(1, options.bars.length);
  const base = log ? plot.bottom : y.map(0);
  options.bars.forEach((b, i) => {
    const cx = plot.left + slot * (i + 0.5);
    body.push(textEl({ x: cx, y: plot.bottom + 16, 'text-anchor': 'middle' }, b.name));
    if (!y.accepts(b.value)) {
      body.push(textEl({ x: cx, y: base - 6, 'text-anchor': 'middle', fill: '#a00' }, b.label ?? 'n/a'));
      return;
    }
    const top = y.map(b.value);
    const half = Math.min(30, slot * 0.35);
    const tooltip = b.tooltip === undefined ? undefined : el('title', {}, escapeXml(b.tooltip));
    body.push(
      el(
        'rect',
        {
          x: cx - half,
          y: Math.min(top, base),
          width: 2 * half,
          height: Math.max(1, Math.abs(base - top)),
          fill: b.color,
        },
        tooltip,
      ),
    );
    if (options.valueLabels !== false)
      body.push(
        textEl(
          { x: cx, y: Math.min(top, base) - 5, 'text-anchor': 'middle', 'font-size': 11 },
          b.label ?? formatTick(b.value),
        ),
      );
  });
  // over the bars, so a bar does not hide a line's label
  body.push(...referenceLines(refs, y, plot));
  return svgDocument(width, height, body, { title: options.title });
}

/**
 * A box chart: per group a box from the first to the third quartile with the median, whiskers
 * to the minimum and maximum, and every value as a dot (spread sideways by a fixed pattern, so
 * the output is the same on every run).
 */
export function boxChart(options: BoxChartOptions): string {
  const width = options.width ?? Math.max(360, 120 + 110 * options.groups.length, titleWidth(options.title));
  const height = options.height ?? 360;
  const plot = plotArea(width, height, options);
  const y = makeAxis(
    options.groups.flatMap((g) => g.values),
    [plot.bottom, plot.top],
    { log: options.logY === true },
  );
  const body = frame(plot, height, null, y, '', options.yLabel);
  const slot = (plot.right - plot.left) / Math.max(1, options.groups.length);
  options.groups.forEach((g, i) => {
    const cx = plot.left + slot * (i + 0.5);
    body.push(textEl({ x: cx, y: plot.bottom + 16, 'text-anchor': 'middle' }, g.name));
    const sorted = g.values.filter((v) => y.accepts(v)).sort((a, b) => a - b);
    if (sorted.length === 0) {
      // e.g. zeros on a log axis: say so instead of leaving the slot silently empty
      const note = g.values.length > 0 && g.values.every((v) => v === 0) ? 'all 0' : 'n/a';
      body.push(textEl({ x: cx, y: plot.bottom - 8, 'text-anchor': 'middle', fill: '#666' }, note));
      return;
    }
    // quartiles by linear interpolation between order statistics
    const [q1, med, q3] = [0.25, 0.5, 0.75].map((q) => y.map(quantileSorted(sorted, q)!)) as [number, number, number];
    const half = Math.min(28, slot * 0.3);
    body.push(
      el('line', { x1: cx, y1: y.map(sorted[0]!), x2: cx, y2: y.map(sorted[sorted.length - 1]!), stroke: g.color }),
    );
    body.push(
      el('rect', {
        x: cx - half,
        y: Math.min(q1, q3),
        width: 2 * half,
        height: Math.max(1, Math.abs(q1 - q3)),
        fill: g.color,
        'fill-opacity': 0.18,
        stroke: g.color,
      }),
    );
    body.push(el('line', { x1: cx - half, y1: med, x2: cx + half, y2: med, stroke: g.color, 'stroke-width': 2.5 }));
    g.values.forEach((v, j) => {
      if (!y.accepts(v)) return;
      const jitter = (((j * 7) % 11) / 10 - 0.5) * half * 1.4;
      body.push(el('circle', { cx: cx + jitter, cy: y.map(v), r: 2.5, fill: g.color, 'fill-opacity': 0.75 }));
    });
  });
  return svgDocument(width, height, body, { title: options.title });
}

/**
 * A dot-and-whisker chart over categories, e.g. one metric over several seeds per variant: per
 * slot every value as a dot (spread sideways by the box chart's fixed pattern), the mean as a
 * thick tick and the interval [lo, hi] as a whisker with end caps. Groups of slots are set apart
 * by a gap with a faint divider and named under their slots. The y domain covers the values,
 * means, interval ends and reference lines. On a log axis an interval reaching to ≤ 0 runs to the
 * plot's bottom edge without a lower cap, and a slot with nothing to draw says so.
 */
export function intervalChart(options: IntervalChartOptions): string {
  const items = options.groups.flatMap((g) => g.items);
  for (const it of items) {
    if (it.lo !== undefined && it.hi !== undefined && it.lo > it.hi)
      throw new Error(`intervalChart: item "${it.name}" has lo ${it.lo} > hi ${it.hi}`);
  }
  const width = options.width ?? Math.max(360, 100 + 72 * items.length, titleWidth(options.title));
  const height = options.height ?? 360;
  const refs = options.referenceY ?? [];
  const named = !(options.groups.length === 1 && options.groups[0]!.name === '');
  const area = plotArea(width, height, options);
  // a row for the group names under the item names
  const plot = named ? { ...area, bottom: area.bottom - 18 } : area;
  const y = makeAxis(
    items.flatMap((it) => [...it.values, it.mean, it.lo ?? NaN, it.hi ?? NaN]),
    [plot.bottom, plot.top],
    { log: options.logY === true, include: refs.map((r) => r.y) },
  );
  const body = frame(plot, height, null, y, '', options.yLabel);
  body.push(...referenceLines(refs, y, plot));
  // half a slot between groups
  const gap = 0.5;
  const units = items.length + gap * Math.max(0, options.groups.length - 1);
  const slot = (plot.right - plot.left) / Math.max(1, units);
  const half = Math.min(20, slot * 0.3);
  let at = 0;
  options.groups.forEach((g, gi) => {
    if (gi > 0) {
      const xx = plot.left + slot * (at + gap / 2);
      body.push(el('line', { x1: xx, y1: plot.top, x2: xx, y2: plot.bottom, stroke: '#dddddd' }));
      at += gap;
    }
    const first = at;
    for (const it of g.items) {
      const cx = plot.left + slot * (at + 0.5);
      at += 1;
      body.push(textEl({ x: cx, y: plot.bottom + 16, 'text-anchor': 'middle' }, it.name));
      let drawn = false;
      const [lo, hi] = [it.lo ?? NaN, it.hi ?? NaN];
      if (y.accepts(hi) && (y.accepts(lo) || (y.log && lo <= 0))) {
        // a lower end a log axis cannot show: the whisker runs off the bottom, uncapped
        const ends = y.accepts(lo) ? [lo, hi] : [hi];
        const [y1, y2] = [y.accepts(lo) ? y.map(lo) : plot.bottom, y.map(hi)];
        const w = { stroke: it.color, 'stroke-width': 1.5 };
        body.push(el('line', { x1: cx, y1, x2: cx, y2, ...w }));
        for (const v of ends)
          body.push(el('line', { x1: cx - half / 2, y1: y.map(v), x2: cx + half / 2, y2: y.map(v), ...w }));
        drawn = true;
      }
      it.values.forEach((v, j) => {
        if (!y.accepts(v)) return;
        const jitter = (((j * 7) % 11) / 10 - 0.5) * half * 1.4;
        body.push(el('circle', { cx: cx + jitter, cy: y.map(v), r: 2.5, fill: it.color, 'fill-opacity': 0.6 }));
        drawn = true;
      });
      if (y.accepts(it.mean)) {
        const ym = y.map(it.mean);
        body.push(el('line', { x1: cx - half, y1: ym, x2: cx + half, y2: ym, stroke: it.color, 'stroke-width': 3 }));
        drawn = true;
      }
      if (!drawn) {
        // e.g. zeros on a log axis: say so instead of leaving the slot silently empty
        const note = it.values.length > 0 && it.values.every((v) => v === 0) ? 'all 0' : 'n/a';
        body.push(textEl({ x: cx, y: plot.bottom - 8, 'text-anchor': 'middle', fill: '#666' }, note));
      }
    }
    if (named && g.items.length > 0)
      body.push(
        textEl(
          {
            x: plot.left + slot * ((first + at) / 2),
            y: plot.bottom + 34,
            'text-anchor': 'middle',
            'font-weight': 600,
          },
          g.name,
        ),
      );
  });
  return svgDocument(width, height, body, { title: options.title });
}

/** The cells of one matrix at (x0, y0), coloured by `color`, optionally annotated or with hover texts. */
function matrixCells(
  m: Matrix,
  x0: number,
  y0: number,
  cell: number,
  color: (v: number) => string,
  o: { limit: number; annotate?: boolean; stroke: string; tooltip?: HeatmapOptions['tooltip'] },
): string[] {
  const out: string[] = [];
  m.forEach((row, i) => {
    row.forEach((v, j) => {
      const tip = o.tooltip === undefined ? undefined : el('title', {}, escapeXml(o.tooltip(i, j, v)));
      out.push(
        el(
          'rect',
          {
            x: x0 + j * cell,
            y: y0 + i * cell,
            width: cell,
            height: cell,
            fill: color(v),
            stroke: o.stroke,
            'stroke-width': 0.5,
          },
          tip,
        ),
      );
      if (o.annotate === true) {
        const dark = Math.abs(v) > 0.6 * o.limit;
        out.push(
          textEl(
            {
              x: x0 + (j + 0.5) * cell,
              y: y0 + (i + 0.5) * cell,
              'text-anchor': 'middle',
              'dominant-baseline': 'middle',
              'font-size': 9,
              fill: dark ? '#ffffff' : '#222222',
            },
            formatCell(v),
          ),
        );
      }
    });
  });
  return out;
}

/** One matrix as a heatmap, `cell` pixels a cell, on the shared diverging scale (no title, no background). */
export function heatmap(matrix: Matrix, options: HeatmapOptions): string {
  const rows = matrix.length;
  const cols = Math.max(0, ...matrix.map((r) => r.length));
  const cells = matrixCells(matrix, 0, 0, options.cell, divergingColor(options.limit), {
    limit: options.limit,
    stroke: '#cccccc',
    tooltip: options.tooltip,
  });
  return svgDocument(cols * options.cell, rows * options.cell, cells, {
    background: false,
    attrs: { role: 'img', ...options.attrs },
  });
}

export interface ColorBarOptions {
  x: number;
  y: number;
  /** Along the bar, and across it. */
  length: number;
  thickness: number;
  /**
   * Vertical: +limit at the top, labels −limit, 0, +limit to the right. Horizontal: −limit left, labels at both ends.
   */
  orientation: 'vertical' | 'horizontal';
}

/** The colour bar of the diverging scale from −limit to +limit, as elements to place in a chart. */
export function colorBar(limit: number, o: ColorBarOptions): string[] {
  const color = divergingColor(limit);
  const steps = 32;
  const out: string[] = [];
  const vertical = o.orientation === 'vertical';
  for (let k = 0; k < steps; k++) {
    const v = (vertical ? 1 : -1) * (limit - (2 * limit * (k + 0.5)) / steps);
    const along = (k * o.length) / steps;
    const size = o.length / steps + 0.5;
    out.push(
      el(
        'rect',
        vertical
          ? { x: o.x, y: o.y + along, width: o.thickness, height: size, fill: color(v) }
          : { x: o.x + along, y: o.y, width: size, height: o.thickness, fill: color(v) },
      ),
    );
  }
  out.push(
    el('rect', {
      x: o.x,
      y: o.y,
      width: vertical ? o.thickness : o.length,
      height: vertical ? o.length : o.thickness,
      fill: 'none',
      stroke: '#999',
    }),
  );
  const label = (v: number): string => formatTick(Number(v.toPrecision(3)));
  if (vertical) {
    for (const [v, yy] of [
      [limit, o.y],
      [0, o.y + o.length / 2],
      [-limit, o.y + o.length],
    ] as const) {
      out.push(textEl({ x: o.x + o.thickness + 4, y: yy, 'dominant-baseline': 'middle', 'font-size': 10 }, label(v)));
    }
  } else {
    const mid = o.y + o.thickness / 2;
    out.push(
      textEl(
        { x: o.x - 4, y: mid, 'text-anchor': 'end', 'dominant-baseline': 'middle', 'font-size': 10 },
        label(-limit),
      ),
    );
    out.push(textEl({ x: o.x + o.length + 4, y: mid, 'dominant-baseline': 'middle', 'font-size': 10 }, label(limit)));
  }
  return out;
}

/** A standalone horizontal colour bar of the diverging scale, for a page that shows the heatmaps separately. */
export function colorLegend(limit: number, length = 160): string {
  const side = 48;
  return svgDocument(
    side * 2 + length,
    18,
    colorBar(limit, { x: side, y: 3, length, thickness: 12, orientation: 'horizontal' }),
    {
      background: false,
      attrs: {
        role: 'img',
        'aria-label': `colour scale from −${formatTick(limit)} (blue) through 0 (white) to ${formatTick(limit)} (red)`,
      },
    },
  );
}

/** A grid of small matrices as heatmaps sharing one diverging colour scale, with a colour bar. */
export function heatmapGrid(options: HeatmapGridOptions): string {
  const matrices = options.cells.flatMap((row) => row.filter((m): m is Matrix => m !== null));
  const limit = options.limit ?? sharedLimit(matrices.flatMap((m) => m.flat()));
  const color = divergingColor(limit);
  const maxRows = Math.max(1, ...matrices.map((m) => m.length));
  const maxCols = Math.max(1, ...matrices.map((m) => m[0]?.length ?? 0));
  const cell = options.annotate === true ? 30 : 16;
  const labelWidth = 12 + 7 * Math.max(...options.rowLabels.map((l) => l.length), 2);
  const blockW = maxCols * cell + 18;
  const blockH = maxRows * cell + 14;
  const top = options.title !== undefined ? 58 : 30;
  const width = Math.max(labelWidth + blockW * options.columnLabels.length + 90, titleWidth(options.title));
  const height = top + blockH * options.rowLabels.length + 20;
  const body: string[] = [];
  options.columnLabels.forEach((label, c) => {
    body.push(
      textEl({ x: labelWidth + c * blockW + (maxCols * cell) / 2, y: top - 8, 'text-anchor': 'middle' }, label),
    );
  });
  options.rowLabels.forEach((label, r) => {
    const y0 = top + r * blockH;
    body.push(
      textEl(
        { x: labelWidth - 8, y: y0 + (maxRows * cell) / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' },
        label,
      ),
    );
    options.columnLabels.forEach((_, c) => {
      const m = options.cells[r]?.[c];
      if (m === null || m === undefined) return;
      const x0 = labelWidth + c * blockW;
      body.push(...matrixCells(m, x0, y0, cell, color, { limit, annotate: options.annotate, stroke: '#ffffff' }));
      body.push(
        el('rect', {
          x: x0,
          y: y0,
          width: (m[0]?.length ?? 0) * cell,
          height: m.length * cell,
          fill: 'none',
          stroke: '#999',
        }),
      );
    });
  });
  body.push(
    ...colorBar(limit, {
      x: width - 60,
      y: top,
      length: Math.max(80, Math.min(200, height - top - 30)),
      thickness: 14,
      orientation: 'vertical',
    }),
  );
  return svgDocument(width, height, body, { title: options.title });
}
