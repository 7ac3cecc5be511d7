/**
 * Text for the charts: XML escaping and the number formats (d3-format). d3-format writes
 * negative numbers with the typographic minus sign "−" (U+2212) and never prints "−0".
 */
import { format } from 'd3-format';

/** Escapes text for an SVG (or HTML) text node or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "1e+6" → "1e6": d3-format always signs the exponent; the charts drop the "+". */
export const tidyExponent = (s: string): string => s.replace('e+', 'e');

const significant3 = format('.3~r');
const exponential2 = format('.2~e');

/**
 * A short label for any value (bar values, colour-bar ends, ticks of a narrow log axis): three
 * significant digits in plain notation between 1e-3 and 1e4, otherwise mantissa-e-exponent.
 * 0.5 → "0.5", 1234 → "1230", 1e6 → "1e6", 3.2e-8 → "3.2e-8".
 */
export function formatTick(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? tidyExponent(exponential2(v)) : significant3(v);
}

const fixed2 = format('.2f');

/** A value printed inside a heatmap cell: two decimals without the leading zero (".50", "−.25", "1.00"). */
export function formatCell(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const s = fixed2(v);
  if (/^[−-]?0\.00$/.test(s)) return '0';
  return s.replace(/^([−-]?)0\./, '$1.');
}
