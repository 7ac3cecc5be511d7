/**
 * Stream expansion at the input of a hyper-connection network and reduction at its output
 * (docs/spec/hc-family.md): `X_0 = repeat(embedding, n)`, output = sum over streams.
 */
import { fmtShape, ShapeError, ValueError, type Tensor } from '@hyperconn/tensor';
import { asVariable, expand, sum, unsqueeze, type Variable } from '@hyperconn/autograd';

/**
 * `[batch, seq, C]` → `[batch, seq, n, C]`, every stream a copy of `x`. The result is a
 * broadcast view (no copy); its gradient sums the streams' gradients back onto `x`.
 */
export function expandStreams(x: Variable | Tensor, n: number): Variable {
  const xv = asVariable('expandStreams', x);
  if (!Number.isSafeInteger(n) || n < 1) throw new ValueError(`expandStreams: n must be a positive integer, got ${n}`);
  if (xv.shape.length !== 3)
    throw new ShapeError(`expandStreams: x must be [batch, seq, C], got shape ${fmtShape(xv.shape)}`);
  const [batch, seq, dim] = xv.shape as [number, number, number];
  return expand(unsqueeze(xv, 2), [batch, seq, n, dim]);
}

/** `[batch, seq, n, C]` → `[batch, seq, C]`: the sum of the streams. */
export function reduceStreams(x: Variable | Tensor): Variable {
  const xv = asVariable('reduceStreams', x);
  if (xv.shape.length !== 4)
    throw new ShapeError(`reduceStreams: x must be [batch, seq, n, C], got shape ${fmtShape(xv.shape)}`);
  return sum(xv, 2);
}
