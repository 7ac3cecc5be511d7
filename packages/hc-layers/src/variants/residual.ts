/**
 * The plain pre-norm residual `x + F(x)` in the hyper-connection interface: one stream, and
 * H_res = H_pre = H_post = [1] for every token, so X' = X + F(X) exactly (multiplying by 1 and
 * adding nothing else is exact in floating point). No parameters of its own; with a
 * `residualTransform` T it is X' = T(X) + F(X), again exactly (T's parameters are the layer's).
 */
import { ones, ValueError } from '@hyperconn/tensor';
import { expand, type Variable } from '@hyperconn/autograd';
import type { ResidualOptions } from '../hyper-connection.js';
import { commonOptions, HyperConnectionBase, type MapVariables } from './base.js';

/**
 * The 'residual' variant: X' = X + F(X) exactly, with one stream (input `[batch, seq, 1, C]`),
 * every map equal to `[1]` and no parameters (X' = T(X) + F(X) with a `residualTransform`).
 */
export class ResidualLayer extends HyperConnectionBase {
  readonly variant = 'residual' as const;

  /**
   * `options.n` is ignored: the residual has one stream (input `[batch, seq, 1, C]`); `fracs` or
   * `inputViews` other than 1 is a ValueError (no maps for them to act on).
   */
  constructor(options: ResidualOptions) {
    const common = commonOptions('ResidualLayer', options, 1);
    for (const [name, value] of [
      ['fracs', common.fracs],
      ['inputViews', common.inputViews],
    ] as const) {
      if (value !== 1) {
        throw new ValueError(
          `ResidualLayer: ${name} = ${value} is not supported by the 'residual' variant: it has no maps ` +
            `(H_res = H_pre = H_post = [1]) to act on fractions or views; use n = 1 with another variant`,
        );
      }
    }
    super('ResidualLayer', common);
  }

  protected computeMaps(x: Variable): MapVariables {
    const [batch, seq] = x.shape as [number, number];
    const gate = expand(ones([1, 1, 1], { dtype: this.dtype }), [batch, seq, 1]);
    return { hRes: expand(ones([1, 1, 1, 1], { dtype: this.dtype }), [batch, seq, 1, 1]), hPre: gate, hPost: gate };
  }

  protected projectionWeights(): Variable[] {
    return [];
  }
}
