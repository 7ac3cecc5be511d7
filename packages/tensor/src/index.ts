export * from './errors.js';
export * from './dtype.js';
export * from './shape.js';
export * from './tensor.js';
export { matmul } from './matmul.js';
export {
  getNumThreads,
  MAX_THREADS,
  setNumThreads,
  shutdownThreads,
  type ThreadPoolInfo,
  threadPoolInfo,
  WorkerError,
} from './threads.js';
export * from './indexing.js';
export * from './linalg/index.js';
export * from './elementwise.js';
export * from './random.js';
export * from './reduce.js';
export * from './views.js';
export * from './interop.js';
