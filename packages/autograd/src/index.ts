export { Variable, variable, param, noGrad, isGradEnabled, type VariableOptions, type Backward, type GraphNode } from './variable.js';
export { backward, gradients, FreedGraphError, type BackwardOptions } from './engine.js';
export * from './ops.js';
export { grad, valueAndGrad, vjp, type DifferentiableFn } from './functional.js';
export { gradcheck, GradcheckError, type GradcheckOptions, type GradcheckReport } from './gradcheck.js';
export { customOp, type CustomOpDefinition } from './custom.js';
export * as nn from './nn.js';
export * as optim from './optim.js';
export { encodeSafetensors, decodeSafetensors, type Safetensors } from './safetensors.js';
