/** fast-check arbitraries shared by the tests of every package. */
import fc from 'fast-check';
import { full, sizeOf, tensor, type DType, type Tensor } from '@hyperconn/tensor';

/** A shape of rank minRank..maxRank whose axes are 0..maxDim (size-0 and size-1 axes included). */
export function shapeArb({ minRank = 0, maxRank = 4, minDim = 0, maxDim = 4 } = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/** Two shapes that broadcast together: some axes set to 1 on one side, leading axes dropped. */
export function broadcastablePairArb(
  opts: { maxRank?: number; maxDim?: number } = {},
): fc.Arbitrary<[number[], number[]]> {
  return shapeArb({ maxRank: opts.maxRank ?? 4, maxDim: opts.maxDim ?? 4 }).chain((full) =>
    fc
      .tuple(
        fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
        fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
        fc.nat({ max: full.length }),
        fc.nat({ max: full.length }),
      )
      .map(([ones1, ones2, drop1, drop2]) => {
        const a = full.map((d, i) => (ones1[i] ? 1 : d)).slice(drop1);
        const b = full.map((d, i) => (ones2[i] ? 1 : d)).slice(drop2);
        return [a, b] as [number[], number[]];
      }),
  );
}

export const dtypeArb: fc.Arbitrary<DType> = fc.constantFrom<DType>('float64', 'float32');

/** Finite values in [min, max], rounded to the dtype so references see the same inputs. */
export function valuesArb(length: number, { min = -10, max = 10 } = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), {
    minLength: length,
    maxLength: length,
  });
}

/** A random tensor of the given shape and dtype. */
export function tensorArb(
  shape: readonly number[],
  dtype: DType = 'float64',
  range: { min?: number; max?: number } = {},
): fc.Arbitrary<Tensor> {
  const size = sizeOf(shape);
  return valuesArb(size, range).map((v) =>
    tensor(dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), { shape }),
  );
}

/** A random tensor of random shape. */
export function anyTensorArb(
  shapeOpts: Parameters<typeof shapeArb>[0] = {},
  dtype: DType = 'float64',
  range: { min?: number; max?: number } = {},
): fc.Arbitrary<Tensor> {
  return shapeArb(shapeOpts).chain((s) => tensorArb(s, dtype, range));
}

/** A non-contiguous view with the same values as a contiguous tensor: transposed storage, permuted back. */
export function asStridedView(t: Tensor): Tensor {
  if (t.ndim < 2) return t;
  const perm = Array.from({ length: t.ndim }, (_, i) => t.ndim - 1 - i);
  return t.permute(perm).contiguous().permute(perm);
}

/** Memory layouts under which the same values can sit (see withLayout). */
export type Layout = 'contiguous' | 'reversed' | 'stepped' | 'flipped';
export const layoutArb: fc.Arbitrary<Layout> = fc.constantFrom<Layout>('contiguous', 'reversed', 'stepped', 'flipped');

/**
 * A view with the values of the contiguous tensor `t` under another layout: 'reversed' stores
 * every axis reversed (asStridedView), 'stepped' takes every other element of a NaN-filled
 * buffer on every axis at an offset (a stray read shows up as NaN), 'flipped' has negative
 * strides on every axis.
 */
export function withLayout(t: Tensor, layout: Layout): Tensor {
  switch (layout) {
    case 'contiguous':
      return t;
    case 'reversed':
      return asStridedView(t);
    case 'stepped': {
      const view = full(
        t.shape.map((d) => 2 * d + 1),
        NaN,
        { dtype: t.dtype },
      ).slice(...t.shape.map(() => [1, null, 2] as const));
      const src = t.toTypedArray();
      const index = t.shape.map(() => 0);
      for (let k = 0; k < src.length; k++) {
        view.set(index, src[k]!);
        for (let ax = index.length - 1; ax >= 0 && ++index[ax]! === t.shape[ax]; ax--) index[ax] = 0;
      }
      return view;
    }
    case 'flipped': {
      const specs = t.shape.map(() => [null, null, -1] as const);
      return t
        .slice(...specs)
        .contiguous()
        .slice(...specs);
    }
  }
}
