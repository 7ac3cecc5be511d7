export {
  Variable,
  variable,
  param,
  noGrad,
  isGradEnabled,
  asVariable,
  type VariableOptions,
  type Backward,
  type GraphNode,
} from './variable.js';
export { backward, gradients, FreedGraphError, type BackwardOptions } from './engine.js';
export * from './ops.js';
export { perMatrix } from './ops-linalg.js';
export { grad, valueAndGrad, vjp, type Arg, type DifferentiableFn } from './functional.js';
export { gradcheck, GradcheckError, type GradcheckOptions, type GradcheckReport } from './gradcheck.js';
export { WorstViolation } from './worst.js';
export { customOp, type CustomOpDefinition } from './custom.js';
/**
 * Neural-network building blocks: `Module` (parameters found by reflection on its fields, PyTorch
 * names and state dicts), layers (`Linear`, `LayerNorm`, `CausalSelfAttention`, …) and losses.
 */
export * as nn from './nn.js';
/**
 * Optimisers (`SGD`, `Adam`, `AdamW`) with PyTorch's update rules and parameter groups, updating
 * parameters in place; `clipGradNorm`; learning-rate schedules and `LRScheduler`.
 */
export * as optim from './optim.js';
export { encodeSafetensors, decodeSafetensors, type Safetensors } from './safetensors.js';
export {
  encodeCheckpoint,
  decodeCheckpoint,
  type CheckpointState,
  type CheckpointObjects,
  type CheckpointOptimizer,
  type CheckpointScheduler,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
} from './checkpoint.js';
