/** Display names and colours of the variants, shared by the figures, the tables and the terminal. */
import type { Variant } from '@hyperconn/hc-layers';

export const VARIANT_LABEL: Record<Variant, string> = {
  residual: 'residual',
  hc: 'HC',
  mhc: 'mHC',
  mhcLite: 'mHC-lite',
  kromhc: 'KromHC',
  shc: 'sHC',
  shcPower: 'sHC-power',
};

/** Colour-blind-friendly (Okabe–Ito) colours, one per variant. */
export const VARIANT_COLOR: Record<Variant, string> = {
  residual: '#7f7f7f',
  hc: '#d55e00',
  mhc: '#0072b2',
  mhcLite: '#009e73',
  kromhc: '#56b4e9',
  shc: '#cc79a7',
  shcPower: '#e69f00',
};
