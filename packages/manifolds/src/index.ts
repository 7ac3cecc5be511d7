export * from './manifold.js';
export * from './embedded.js';
export * from './sinkhorn.js';
export * from './birkhoff.js';
export * from './spectral-sphere.js';
export * from './stiefel.js';
export * from './orthogonal-maps.js';
export * from './riemannian-optim.js';
