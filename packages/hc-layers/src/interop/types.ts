/**
 * The public types of the PyTorch interop (docs/interop.md): the reference variants, a layer in a
 * reference module's terms (`ReferenceStateDict`, with its constructor `ReferenceConfig`) and the
 * options of `toReferenceStateDict` and `fromReferenceStateDict`. The model types
 * (`ReferenceModel`, `ReferenceModelConfig`) live beside their functions in model.ts.
 */
import type { Tensor } from '@hyperconn/tensor';

/** The variants with a reference module. */
export type ReferenceVariant = 'residual' | 'hc' | 'mhc' | 'mhcLite' | 'kromhc' | 'shc';

/** The reference constructor's keyword arguments that a state dict needs (JSON values). */
export type ReferenceConfig = Record<string, number | boolean>;

/** A layer in a reference module's terms. */
export interface ReferenceStateDict {
  /** The reference class, e.g. `litgpt.hyper_conn.shc.SHyperConnections`. */
  module: string;
  /** Parameters (and, for sHC, buffers) under the reference names, in the reference's order. */
  tensors: Record<string, Tensor>;
  /** The constructor's keyword arguments: `num_residual_streams`, `dim`, … */
  config: ReferenceConfig;
}

/** Options of `toReferenceStateDict`. */
export interface ToReferenceOptions {
  /** `layer_index` written to the config; it only chooses the reference's init. Default 0. */
  layerIndex?: number;
  /**
   * Export even where the reference computes a different function: RMSNorm eps ≠ 0, a gain w
   * with (w − 1) + 1 ≠ w in the layer's dtype, or (mHC) our Sinkhorn order. Default false.
   */
  approximate?: boolean;
  /**
   * Export the parameters' gradients (after `backward`) in the reference layout instead of their
   * values, to compare with PyTorch's `.grad` (γ's gradient is w's; sHC buffers are left out).
   */
  gradients?: boolean;
}

/** Options of `fromReferenceStateDict`. */
export interface FromReferenceOptions {
  /** false: build a static layer (`dynamic: false`); the reference's projections must then be 0. Default true. */
  dynamic?: boolean;
}
