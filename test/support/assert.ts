/** Value assertions with readable failures: the worst element, actual vs expected. */
import { expect } from 'vitest';
import type { Tensor } from '@hyperconn/tensor';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

function flatten(x: Tensor | ArrayLike<number> | number): { values: ArrayLike<number>; shape: readonly number[] } {
  if (typeof x === 'number') return { values: [x], shape: [] };
  if ('toTypedArray' in x) return { values: (x as Tensor).toTypedArray(), shape: (x as Tensor).shape };
  return { values: x as ArrayLike<number>, shape: [(x as ArrayLike<number>).length] };
}

/**
 * Elementwise |a − e| ≤ atol + rtol·|e| (NaN equals NaN, ±∞ must match exactly).
 * Shapes must agree when both sides are tensors.
 */
export function expectClose(
  actual: Tensor | ArrayLike<number> | number,
  expected: Tensor | ArrayLike<number> | number,
  tol: Tolerance = {},
): void {
  const { rtol = 1e-12, atol = 1e-12 } = tol;
  const a = flatten(actual);
  const e = flatten(expected);
  if (typeof actual === 'object' && typeof expected === 'object' && 'shape' in actual && 'shape' in expected) {
    expect([...a.shape], 'shape').toEqual([...e.shape]);
  }
  expect(a.values.length, 'number of elements').toBe(e.values.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i]!;
    const y = e.values[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) {
        worst = i;
        worstExcess = Infinity;
        break;
      }
      continue;
    }
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (excess > worstExcess || Number.isNaN(excess)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    const x = a.values[worst]!;
    const y = e.values[worst]!;
    expect.fail(
      `values differ at flat index ${worst} of shape [${a.shape.join(',')}]: actual ${x}, ` +
        `expected ${y}, |diff| ${Math.abs(x - y)} > atol ${atol} + rtol ${rtol}·|expected|`,
    );
  }
}

/** Tolerances for a dtype: c·eps-scaled, never one hard-coded number for both. */
export function tolFor(dtype: 'float64' | 'float32', scale = 1): Tolerance {
  return dtype === 'float64'
    ? { rtol: 1e-12 * scale, atol: 1e-12 * scale }
    : { rtol: 1e-5 * scale, atol: 1e-6 * scale };
}
