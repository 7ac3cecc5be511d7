/** Choosing a hyper-connection variant by name. */
import { ValueError } from '@hyperconn/tensor';
import { VARIANTS, type HyperConnection, type HyperConnectionOptions, type Variant } from './hyper-connection.js';
import { HCLayer } from './variants/hc.js';
import { MHCLayer } from './variants/mhc.js';
import { MHCLiteLayer } from './variants/mhc-lite.js';
import { KromHCLayer } from './variants/kromhc.js';
import { ResidualLayer } from './variants/residual.js';
import { SHCLayer, SHCPowerLayer } from './variants/shc.js';

/**
 * A new layer of `variant` (docs/spec/hc-family.md). For n = 1 without `fracs` and `inputViews`
 * (and for 'residual' whatever n) this
 * is the plain residual x + F(x) with one stream, as the reference implementations do: the
 * gates of mHC/sHC would otherwise rescale x and F. 'mhcLite' with n > maxN (default 8) is a
 * ValueError that names n! and suggests 'shc'; so is 'kromhc' with a prime factor of n above
 * maxFactor (default 8).
 */
export function createHyperConnection(variant: Variant, options: HyperConnectionOptions): HyperConnection {
  if (!VARIANTS.includes(variant)) {
    throw new ValueError(
      `createHyperConnection: unknown variant ` +
        `'${String(variant)}'; expected one of ${VARIANTS.map((v) => `'${v}'`).join(', ')}`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new ValueError(
      `createHyperConnection: options must be an object such as { dim: 64, layerIndex: 0 }, got ${String(options)}`,
    );
  }
  const n = options.n ?? 4;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ValueError(`createHyperConnection: n must be a positive integer, got ${n}`);
  // n = 1 with fracs or views still has maps to learn (as the reference: disabled only for n = f = 1)
  const plain = (options.fracs ?? 1) === 1 && (options.inputViews ?? 1) === 1;
  if (variant === 'residual' || (n === 1 && plain)) return new ResidualLayer(options);
  switch (variant) {
    case 'hc':
      return new HCLayer(options);
    case 'mhc':
      return new MHCLayer(options);
    case 'mhcLite':
      return new MHCLiteLayer(options);
    case 'kromhc':
      return new KromHCLayer(options);
    case 'shc':
      return new SHCLayer(options);
    case 'shcPower':
      return new SHCPowerLayer(options);
  }
}
