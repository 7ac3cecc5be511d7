/**
 * The layers behind the PyTorch interop fixtures (test/fixtures/interop/): one per variant and
 * dtype, with seeded random parameters far from init so that every term of every map matters.
 * `interop/export-layers.ts` writes their reference exports, which `interop/pytorch` loads.
 */
import * as T from '@hyperconn/tensor';
import { Random, type DType } from '@hyperconn/tensor';
import {
  createHyperConnection,
  DeepResidualMLP,
  type HyperConnection,
  ReferenceSinkhornMHCLayer,
  type ReferenceVariant,
  TinyTransformer,
} from '@hyperconn/hc-layers';

export interface InteropCase {
  name: string;
  variant: Exclude<ReferenceVariant, 'residual'>;
  dtype: DType;
  n: number;
  dim: number;
  tanh?: boolean;
}

const SHAPES = { n: 4, dim: 3 };
export const INTEROP_CASES: readonly InteropCase[] = [
  ...(['hc', 'mhc', 'mhcLite', 'kromhc', 'shc'] as const).flatMap((variant) =>
    (['float64', 'float32'] as const).map((dtype) => ({ name: `${variant}-${dtype}`, variant, dtype, ...SHAPES })),
  ),
  { name: 'hc-notanh-float64', variant: 'hc', dtype: 'float64', ...SHAPES, tanh: false },
  { name: 'shc-n2-float64', variant: 'shc', dtype: 'float64', n: 2, dim: 3 },
];

/**
 * The case's layer (eps = 0, as the reference's RMSNorm; mHC with the reference's Sinkhorn
 * order), every parameter its init plus seeded noise: 0.05 for the RMSNorm gain (so γ = w − 1
 * round-trips), 0.5 for the rest.
 */
export function interopLayer(c: InteropCase, seed = 7): HyperConnection {
  const options = { n: c.n, dim: c.dim, layerIndex: 1, eps: 0, dtype: c.dtype, tanh: c.tanh };
  const layer =
    c.variant === 'mhc' ? new ReferenceSinkhornMHCLayer(options) : createHyperConnection(c.variant, options);
  const rng = new Random(seed);
  const dict = new Map<string, T.Tensor>();
  for (const [name, p] of layer.namedParameters()) {
    const noise = rng.normal(p.shape, { dtype: c.dtype, std: name === 'norm.weight' ? 0.05 : 0.5 });
    dict.set(name, T.add(p.value, noise));
  }
  layer.loadStateDict(dict);
  return layer;
}

/**
 * The two small models behind the model-level fixtures (eps = 0), every parameter perturbed by
 * seeded noise as `interopLayer` does, so that the hyper-connections' dynamic parts matter.
 */
export function interopModels(seed = 11): { transformer: TinyTransformer; mlp: DeepResidualMLP } {
  const transformer = new TinyTransformer({
    variant: 'mhcLite',
    n: 3,
    vocabSize: 5,
    dim: 4,
    heads: 2,
    depth: 1,
    seqLen: 4,
    eps: 0,
    rng: new Random(seed),
  });
  const mlp = new DeepResidualMLP({
    variant: 'hc',
    n: 2,
    dim: 3,
    depth: 2,
    hidden: 4,
    inputDim: 2,
    outputDim: 2,
    eps: 0,
    rng: new Random(seed),
  });
  const rng = new Random(seed + 1);
  for (const model of [transformer, mlp]) {
    const dict = new Map<string, T.Tensor>();
    for (const [name, p] of model.namedParameters()) {
      const std = name.endsWith('norm.weight') ? 0.05 : 0.3;
      dict.set(name, T.add(p.value, rng.normal(p.shape, { dtype: p.dtype, std })));
    }
    model.loadStateDict(dict);
  }
  return { transformer, mlp };
}
