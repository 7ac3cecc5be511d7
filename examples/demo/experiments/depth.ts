/**
 * Experiment 1 — depth products without training. For each variant, parameter scale and seed,
 * `maxDepth` layers with random parameters (each parameter = its initial value + scale·N(0, 1))
 * compute their H_res on the same random tokens; the composite ∏H_res over depth d = 1…maxDepth
 * gives the forward and backward gain, σ_max and ‖∏H − J‖_F (compositeDiagnostics, averaged over
 * the tokens). Claim tested (HC, mHC and sHC papers): unconstrained HC products grow without
 * bound; products of Birkhoff (mHC, mHC-lite, KromHC) or spectral-sphere (sHC) matrices stay
 * bounded. Several scales, because HC's growth rate is set by how far the parameters are from init.
 */
import { add, Random } from '@hyperconn/tensor';
import {
  compositeDiagnostics,
  createHyperConnection,
  layerDiagnostics,
  type CompositeDiagnostics,
  type Variant,
} from '@hyperconn/hc-layers';
import { deriveSeed, type DemoConfig } from '../config';

export interface DepthResult {
  variant: Variant;
  scale: number;
  replicate: number;
  /** Streams actually used (1 for the residual). */
  n: number;
  /** One entry per depth 1…maxDepth. */
  composite: CompositeDiagnostics[];
  /** Mean over the layers of each layer's own σ_max (how far a single layer is from norm 1). */
  meanLayerSigmaMax: number;
}

export function runDepth(
  variant: Variant,
  scale: number,
  replicate: number,
  config: DemoConfig,
  onProgress: (done: number) => void = () => undefined,
): DepthResult {
  const { maxDepth, dim, tokens } = config.depth;
  const dtype = config.dtype;
  const noise = new Random(deriveSeed(config.seed, `depth/${variant}/${scale}/r${replicate}`));
  const hRes = [];
  let sigmaSum = 0;
  let n = config.n;
  for (let k = 0; k < maxDepth; k++) {
    const layer = createHyperConnection(variant, { n: config.n, dim, layerIndex: k, dtype });
    n = layer.n;
    for (const p of layer.parameters()) p.value.assign(add(p.value, noise.normal(p.shape, { std: scale, dtype })));
    // every variant of the same n reads the same tokens
    const x = new Random(deriveSeed(config.seed, `depth/input/${n}/r${replicate}`)).normal([1, tokens, n, dim], {
      dtype,
    });
    const maps = layer.maps(x);
    sigmaSum += layerDiagnostics(maps).sigmaMax;
    hRes.push(maps.hRes);
    onProgress(k + 1);
  }
  return {
    variant,
    scale,
    replicate,
    n,
    composite: compositeDiagnostics(hRes),
    meanLayerSigmaMax: sigmaSum / maxDepth,
  };
}
