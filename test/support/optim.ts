/** Snapshots of optimiser state for the all-or-nothing tests of every optimiser. */
import type { Tensor } from '@hyperconn/tensor';
import type { optim, Variable } from '@hyperconn/autograd';

/** What `optimizerSnapshot` reads: any optimiser's state dict. */
export interface HasStateDict {
  stateDict(): optim.OptimizerStateDict<object>;
}

/**
 * The parameters and everything the optimiser holds, as plain values. `toEqual` compares numbers
 * with Object.is, so two equal snapshots are bit-identical (−0 and NaN included).
 */
export function optimizerSnapshot(opt: HasStateDict, params: readonly Variable[]): unknown {
  const dict = opt.stateDict();
  const plain = (v: Tensor | number): number | number[] => (typeof v === 'number' ? v : Array.from(v.toTypedArray()));
  return {
    params: params.map((p) => Array.from(p.value.toTypedArray())),
    state: [...dict.state].map(([i, s]) => [i, Object.fromEntries(Object.entries(s).map(([k, v]) => [k, plain(v)]))]),
    groups: dict.paramGroups,
    skippedSteps: dict.skippedSteps,
  };
}
