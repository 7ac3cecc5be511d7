/**
 * Two constraint sets used by sHC-style layers: the spectral sphere (σ_max = 1), reached by
 * `spectralNormalize` with a persistent power-iteration state, and the orthogonal group O(n),
 * on which RiemannianSGD finds the nearest orthogonal matrix to A — compared with the closed
 * form, the polar factor UVᵀ of A's SVD.
 * Run: npx --yes pnpm@10.34.8 example examples/orthogonal-spectral.ts
 */
import * as T from '@hyperconn/tensor';
import { Random, det, eye, matmul, matrixNorm, svd, type Tensor } from '@hyperconn/tensor';
import { mul, sub, sum } from '@hyperconn/autograd';
import {
  ManifoldParameter,
  Orthogonal,
  RiemannianSGD,
  SpectralNormState,
  spectralNormalize,
} from '@hyperconn/manifolds';

const rng = new Random(11); // fixed seed: the same numbers on every run
const n = 5;
const frob = (t: Tensor): number => matrixNorm(t).item();

console.log('— spectralNormalize with a persistent SpectralNormState');
// One power iteration per call, warm-started from the vector the previous call left in `state`:
// during training W changes slowly, so the estimate σ̂ keeps converging to σ_max across steps.
const w = rng.normal([n, n]);
const sigma = matrixNorm(w, 2).item(); // exact σ_max, from an SVD
const state = new SpectralNormState();
let sigmaHat = 0;
for (let call = 1; call <= 40; call++) {
  const normalised = spectralNormalize(w, state, { iters: 1 }).value;
  sigmaHat = frob(w) / frob(normalised); // Ŵ = W/σ̂, so the ratio of any norm recovers σ̂
  if (call <= 3 || call % 10 === 0) {
    console.log(
      `call ${String(call).padStart(2)}  σ̂ ${sigmaHat.toFixed(12)}  σ ` +
        `${sigma.toFixed(12)}  σ_max(Ŵ) ${matrixNorm(normalised, 2).item().toFixed(12)}`,
    );
  }
  // Power iteration approaches σ_max from below (σ̂ = uᵀWv with unit u, v), so Ŵ overshoots 1 slightly.
  if (sigmaHat > sigma * (1 + 1e-14)) throw new Error(`spectralNormalize: σ̂ ${sigmaHat} exceeds σ_max ${sigma}`);
}
const sigmaError = Math.abs(sigmaHat - sigma) / sigma;

console.log('\n— nearest orthogonal matrix by Riemannian optimisation on Orthogonal(n)');
// min ½‖X − A‖²_F over O(n) is solved by the polar factor UVᵀ of A = UΣVᵀ. O(n) has two
// components (det ±1) and a retraction cannot jump between them, so start on A's side.
const a = rng.normal([n, n]);
const { u, v } = svd(a);
const polar = matmul(u, v.mT);
const start = eye(n).clone();
if (det(a).item() < 0) start.set([0, 0], -1);
const group = new Orthogonal(n);
const x = new ManifoldParameter(start, group);
const opt = new RiemannianSGD([x], { lr: 0.3, momentum: 0.5 });
for (let step = 1; step <= 300; step++) {
  opt.zeroGrad();
  const d = sub(x, a);
  mul(sum(mul(d, d)), 0.5).backward();
  opt.step(); // retraction: X stays orthogonal to rounding at every step
  if (step % 100 === 0)
    console.log(
      `step ${step}  ‖X − UVᵀ‖_F ${frob(T.sub(x.value, polar)).toExponential(2)}  ‖XᵀX ` +
        `− I‖_F ${frob(T.sub(matmul(x.value.mT, x.value), eye(n))).toExponential(2)}`,
    );
}
const polarDistance = frob(T.sub(x.value, polar));
const orthError = frob(T.sub(matmul(x.value.mT, x.value), eye(n)));

if (!(sigmaError < 1e-8)) throw new Error(`spectralNormalize: |σ̂ − σ|/σ = ${sigmaError} after 40 warm-started calls`);
if (!(polarDistance <= 1e-8)) throw new Error(`Orthogonal: ‖X − UVᵀ‖ = ${polarDistance} > 1e-8`);
if (!(orthError <= 1e-12)) throw new Error(`Orthogonal: ‖XᵀX − I‖ = ${orthError} > 1e-12`);
console.log(
  `ok: |σ̂ − σ|/σ = ${sigmaError.toExponential(1)} after 40 one-iteration calls; Riemannian SGD reached ` +
    `the polar factor (distance ${polarDistance.toExponential(1)}, ‖XᵀX − I‖ ${orthError.toExponential(1)})`,
);
