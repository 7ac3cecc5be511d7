/**
 * Position and colour scales for the charts, on d3-scale: linear and log axes with d3's nice
 * domains, ticks and tick formats, and the one diverging colour scale (d3-scale-chromatic's RdBu)
 * that every heatmap uses.
 */
import { extent } from 'd3-array';
import { format } from 'd3-format';
import { scaleDiverging, scaleLinear, scaleLog } from 'd3-scale';
import { interpolateRdBu } from 'd3-scale-chromatic';
import { formatTick, tidyExponent } from './format';

/** A tick of an axis; an empty label marks a minor tick (a log axis's 2…9 × 10^k), drawn unlabelled. */
export interface Tick {
  value: number;
  label: string;
}

/** An axis: maps data values to pixels and lists its ticks. */
export interface Axis {
  readonly log: boolean;
  /** The (nice) domain the range spans. */
  readonly domain: readonly [number, number];
  map(v: number): number;
  /** Whether a value can be drawn: finite, and positive on a log axis. */
  accepts(v: number): boolean;
  readonly ticks: readonly Tick[];
}

export interface AxisOptions {
  log?: boolean;
  /** Linear axes only: span exactly the data (steps, depths) instead of widening to round ticks. */
  tight?: boolean;
  /** Values the domain must cover besides the data, e.g. reference lines. */
  include?: readonly number[];
  /** About how many ticks (d3's `count`); default 5. */
  count?: number;
  /** Linear axes only: keep only whole-number ticks (counts, steps, layers). */
  integer?: boolean;
}

const exponent = format('~e');

/**
 * An axis over `values` (and `options.include`) mapped onto the pixel range [from, to]. Values
 * the axis cannot show are ignored; without any, the domain is [0, 1] (log: [1, 10]). A log
 * axis widens to whole decades (d3's `nice`) and labels its powers of ten as 1e-6 … 1e3 when
 * it spans more than four decades.
 */
export function makeAxis(values: Iterable<number>, range: readonly [number, number], options: AxisOptions = {}): Axis {
  const log = options.log === true;
  const count = options.count ?? 5;
  const accepts = (v: number): boolean => Number.isFinite(v) && (!log || v > 0);
  const usable = [...values, ...(options.include ?? [])].filter(accepts);
  let [lo, hi] = extent(usable);
  if (lo === undefined || hi === undefined) [lo, hi] = log ? [1, 10] : [0, 1];
  if (log) {
    if (hi === lo) [lo, hi] = [lo / 10, hi * 10];
    const scale = scaleLog().domain([lo, hi]).range(range).nice();
    const [d0, d1] = scale.domain() as [number, number];
    const wide = Math.round(Math.log10(d1 / d0)) > 4;
    // d3's log tick format returns '' for the ticks it would not label at this density
    const shown = scale.tickFormat(count, 'e');
    const ticks = scale.ticks(count).map((value) => ({
      value,
      label: shown(value) === '' ? '' : wide ? tidyExponent(exponent(value)) : formatTick(value),
    }));
    return { log, domain: [d0, d1], map: (v) => scale(v), accepts, ticks };
  }
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const scale = scaleLinear().domain([lo, hi]).range(range);
  if (options.tight !== true) scale.nice(count);
  const [d0, d1] = scale.domain() as [number, number];
  const big = Math.max(Math.abs(d0), Math.abs(d1));
  // precision from the tick step (d3's tickFormat), the same for every label: 0.0, 0.2 … 1.0,
  // or in exponent form 0, 5e3, 1e4 …
  const exp = big >= 1e4 || big < 1e-3;
  const fmt = scale.tickFormat(count, exp ? '~e' : options.integer === true ? '.0f' : 'f');
  const ticks = scale
    .ticks(count)
    .filter((value) => options.integer !== true || Number.isInteger(value))
    .map((value) => ({ value, label: exp && value === 0 ? '0' : tidyExponent(fmt(value)) }));
  return { log, domain: [d0, d1], map: (v) => scale(v), accepts, ticks };
}

/** The fill of a non-finite entry (a diverged run) in a heatmap. */
export const NON_FINITE_COLOR = '#000000';

/**
 * The diverging colour scale of every heatmap: d3-scale-chromatic's RdBu, symmetric around 0 —
 * red for +limit, the near-white middle of RdBu at 0, blue for −limit — clamped beyond ±limit.
 * Equal |v| gives equal saturation on both sides. Returns CSS colours "rgb(r, g, b)".
 */
export function divergingColor(limit: number): (v: number) => string {
  const l = Number.isFinite(limit) && limit > 0 ? limit : 0;
  // RdBu runs red (t = 0) → blue (t = 1): a decreasing domain puts red on the positive side
  const scale = scaleDiverging(interpolateRdBu).domain([l, 0, -l]).clamp(true);
  return (v) => (Number.isFinite(v) ? scale(v) : NON_FINITE_COLOR);
}

/** The shared colour limit of several matrices: their largest finite |entry| (at least 1e-12). */
export function sharedLimit(values: Iterable<number>): number {
  let limit = 1e-12;
  for (const v of values) if (Number.isFinite(v)) limit = Math.max(limit, Math.abs(v));
  return limit;
}
