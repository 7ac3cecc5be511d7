/**
 * Module-level interop with the PyTorch reference implementations (docs/interop.md): a layer's
 * parameters in the reference module's own names, shapes and orientation, plus the JSON config
 * its constructor needs, and back.
 *
 * - 'hc': lucidrains `hyper_connections.HyperConnections`;
 * - 'mhc', 'mhcLite', 'kromhc', 'shc': the `6zHAOyi/s2HC` modules `litgpt/hyper_conn/mhc.py`
 *   (`ManifoldConstrainedHyperConnections`), `mhc_lite.py` (`MHCLite`), `kromhc.py` (`KromHC`)
 *   and `shc.py` (`SHyperConnections`);
 * - 'residual': their `Residual` (n = 1, no parameters).
 *
 * The reference modules apply their mixing matrix as `out[t] = Σ_s H[s, t]·x[s]`, the transpose
 * of ours (rows = output streams), and their RMSNorm is `normalize(x)·√d·(γ + 1)`: our
 * `x/√(mean x² + eps)·w` with eps = 0 and w = γ + 1. Conversions are exact (a permutation,
 * transpose or copy of the values, and γ = w − 1 when γ + 1 gives w back); what cannot be
 * matched is refused with a ValueError naming the difference, unless `approximate: true`.
 *
 * The parts: types.ts (the public types), common.ts (the shared helpers), reference-mhc.ts
 * (`ReferenceSinkhornMHCLayer`), export.ts (`toReferenceStateDict`), import.ts
 * (`fromReferenceStateDict`) and model.ts (`toReferenceModel`, `fromReferenceModel`).
 */
export type {
  FromReferenceOptions,
  ReferenceConfig,
  ReferenceStateDict,
  ReferenceVariant,
  ToReferenceOptions,
} from './types.js';
export { ReferenceSinkhornMHCLayer } from './reference-mhc.js';
export { toReferenceStateDict } from './export.js';
export { fromReferenceStateDict } from './import.js';
export { fromReferenceModel, type ReferenceModel, type ReferenceModelConfig, toReferenceModel } from './model.js';
