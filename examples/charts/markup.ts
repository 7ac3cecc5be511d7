/** SVG markup as strings: elements with escaped attributes, and the standalone document around a chart. */
import { escapeXml } from './format';

export type Attrs = Readonly<Record<string, string | number | undefined>>;

/** Coordinates printed with at most two decimals keep the files small and stable. */
export const px = (v: number): string => String(Math.round(v * 100) / 100);

/** An element; numbers are printed with `px`, strings escaped, undefined attributes left out. `content` is markup. */
export function el(tag: string, attrs: Attrs, content?: string): string {
  const list = Object.entries(attrs)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? px(v) : escapeXml(v)}"`)
    .join('');
  return content === undefined ? `<${tag}${list}/>` : `<${tag}${list}>${content}</${tag}>`;
}

/** A `<text>` element holding `label` as text. */
export const textEl = (attrs: Attrs, label: string): string => el('text', attrs, escapeXml(label));

export const FONT_FAMILY = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';

export interface DocumentOptions {
  /** Printed as a heading at the top and as the document's `<title>`. */
  title?: string;
  /** A white background rectangle; default true. */
  background?: boolean;
  /** More attributes of the root `<svg>` (role, aria-label, data-testid …). */
  attrs?: Attrs;
}

/** The width a chart needs for its title (about 7.5 px per character at 14 px). */
export const titleWidth = (title: string | undefined): number =>
  title === undefined ? 0 : Math.ceil(40 + 7.5 * title.length);

/**
 * A standalone SVG document (no XML prolog, so it can also be inlined into HTML or set as
 * innerHTML): root `<svg>` with the SVG namespace, size and font, then `body`.
 */
export function svgDocument(
  width: number,
  height: number,
  body: readonly string[],
  options: DocumentOptions = {},
): string {
  const root = el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      viewBox: `0 0 ${px(width)} ${px(height)}`,
      width,
      height,
      'font-family': FONT_FAMILY,
      'font-size': 12,
      ...options.attrs,
    },
    '',
  );
  const lines = [root.slice(0, -'</svg>'.length)];
  if (options.title !== undefined) lines.push(el('title', {}, escapeXml(options.title)));
  if (options.background !== false) lines.push(el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }));
  if (options.title !== undefined)
    lines.push(
      textEl({ x: width / 2, y: 22, 'text-anchor': 'middle', 'font-size': 14, 'font-weight': 600 }, options.title),
    );
  return [...lines, ...body, '</svg>', ''].join('\n');
}
