import type { Tensor } from '@hyperconn/tensor';
import { unsqueeze } from './ops.js';
import type { Variable } from './variable.js';

/**
 * A per-matrix value [...] (one number per matrix of a batch) as [..., 1, 1], so that it
 * broadcasts against the batch of matrices [..., m, n]; differentiable (two unsqueezes).
 */
export function perMatrix(x: Variable | Tensor): Variable {
  return unsqueeze(unsqueeze(x, -1), -1);
}
