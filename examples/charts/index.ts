/**
 * The charts shared by the demo report (examples/demo) and the browser playground
 * (examples/playground): pure functions returning SVG markup strings, on d3-scale (scales,
 * nice domains, ticks), d3-format (number formats), d3-scale-chromatic (the diverging RdBu
 * colour scale) and d3-array (extents, quantiles). Browser-safe: no DOM access and no Node
 * built-ins.
 */
export {
  barChart,
  boxChart,
  colorBar,
  colorLegend,
  heatmap,
  heatmapGrid,
  intervalChart,
  legend,
  lineChart,
  referenceLines,
} from './charts';
export type {
  Bar,
  BarChartOptions,
  BoxChartOptions,
  ColorBarOptions,
  HeatmapGridOptions,
  HeatmapOptions,
  IntervalChartOptions,
  IntervalItem,
  LineChartOptions,
  Matrix,
  Plot,
  Reference,
  Series,
} from './charts';
export { escapeXml, formatCell, formatTick, tidyExponent } from './format';
export { el, px, svgDocument, textEl, titleWidth, type Attrs, type DocumentOptions } from './markup';
export {
  NON_FINITE_COLOR,
  divergingColor,
  makeAxis,
  sharedLimit,
  type Axis,
  type AxisOptions,
  type Tick,
} from './scales';
