/**
 * Doubly stochastic matrices three ways: Sinkhorn scaling of logits (mHC), a mixture of
 * permutation matrices (mHC-lite), and Riemannian optimisation on the Birkhoff manifold itself,
 * here solving a small assignment problem while every iterate stays doubly stochastic.
 * Run: npx --yes pnpm@10.34.8 example examples/sinkhorn-birkhoff.ts
 */
import * as T from '@hyperconn/tensor';
import { Random, abs, max, sub, type Tensor } from '@hyperconn/tensor';
import { mul, softmax, sum } from '@hyperconn/autograd';
import {
  Birkhoff,
  ManifoldParameter,
  RiemannianSGD,
  permutationMixture,
  permutations,
  sinkhorn,
} from '@hyperconn/manifolds';

const rng = new Random(3); // fixed seed: the same numbers on every run
const n = 4;

/** max |row sum − 1| and max |column sum − 1| of a matrix. */
function marginals(m: Tensor): { rows: number; cols: number } {
  const dev = (s: Tensor) => max(abs(sub(s, 1))).item();
  return { rows: dev(T.sum(m, -1)), cols: dev(T.sum(m, -2)) };
}

/** A matrix as aligned rows with 3 decimals. */
const show = (m: Tensor): string =>
  (m.toArray() as number[][]).map((r) => `  ${r.map((v) => v.toFixed(3)).join('  ')}`).join('\n');

console.log('— Sinkhorn on random logits: rows exact, the column error shrinks with iterations');
const logits = T.mul(rng.normal([n, n]), 2);
let previous = Infinity;
for (const iters of [1, 2, 5, 10, 20, 50]) {
  const { matrix, marginalError } = sinkhorn(logits, { iters });
  const { rows, cols } = marginals(matrix.value);
  console.log(
    `iters ${String(iters).padStart(2)}  max|row−1| ${rows.toExponential(1)}  max|col−1| ` +
      `${cols.toExponential(1)}  marginalError ${marginalError.toExponential(2)}`,
  );
  // Each iteration ends with a row step, so rows are exact to rounding; the column error is what
  // `marginalError` reports, and it must fall (Birkhoff–Hopf contraction) until it hits rounding.
  if (rows > 1e-12) throw new Error(`sinkhorn(iters=${iters}): row sums off by ${rows}`);
  if (Math.abs(cols - marginalError) > 1e-15)
    throw new Error(`sinkhorn: marginalError ${marginalError} ≠ measured ${cols}`);
  if (marginalError > previous && marginalError > 1e-14)
    throw new Error(`sinkhorn: marginal error grew from ${previous} to ${marginalError}`);
  previous = marginalError;
}
const sinkhornFinal = previous;
console.log(`sinkhorn(logits, { iters: 50 }) =\n${show(sinkhorn(logits, { iters: 50 }).matrix.value)}`);

console.log('\n— permutationMixture: a convex combination of the n! permutation matrices');
// Softmax weights lie on the simplex, so the mixture is doubly stochastic by construction.
const mixture = permutationMixture(softmax(rng.normal([24]))).value;
const mix = marginals(mixture);
console.log(
  `n = 4 (24 permutations)  max|row−1| ${mix.rows.toExponential(1)}  max|col−1| ${mix.cols.toExponential(1)}`,
);
if (Math.max(mix.rows, mix.cols) > 1e-12)
  throw new Error(`permutationMixture: sums off by ${Math.max(mix.rows, mix.cols)}`);

console.log('\n— the Birkhoff manifold: a relaxed assignment problem min ⟨C, X⟩ by RiemannianSGD');
// The minimum of a linear cost over the Birkhoff polytope sits at a vertex, i.e. at the best
// permutation, so brute force over permutations(n) gives the answer to compare with.
const cost = rng.uniform([n, n]);
const c = cost.toTypedArray();
const optimum = Math.min(...permutations(n).map((p) => p.reduce((acc, j, i) => acc + c[i * n + j]!, 0)));
const birkhoff = new Birkhoff(n); // Fisher metric: steps are multiplicative, entries stay > 0
const x = new ManifoldParameter(birkhoff.project(rng.uniform([n, n], { low: 0.5, high: 1.5 })), birkhoff);
const opt = new RiemannianSGD([x], { lr: 0.5 });
const objective = () => sum(mul(cost, x));
const start = objective().item();
let worstSum = 0;
for (let step = 1; step <= 60; step++) {
  opt.zeroGrad();
  const value = objective();
  value.backward();
  opt.step(); // a retraction: back on the manifold after every step
  const { rows, cols } = marginals(x.value);
  worstSum = Math.max(worstSum, rows, cols);
  if (step % 20 === 0)
    console.log(
      `step ${step}  ⟨C,X⟩ ${objective().item().toFixed(6)}  max|sum−1| ` +
        `${Math.max(rows, cols).toExponential(1)}  (best permutation ${optimum.toFixed(6)})`,
    );
}
const final = objective().item();
console.log(`X (close to the best permutation matrix) =\n${show(x.value)}`);

if (worstSum > 1e-12) throw new Error(`Birkhoff: an iterate left the manifold, sums off by ${worstSum}`);
if (!birkhoff.check(x.value).ok) throw new Error(`Birkhoff: ${birkhoff.check(x.value).reason}`);
// The gap to the optimum must have shrunk substantially (it closes slowly near a vertex).
if (!(final - optimum < 0.25 * (start - optimum)))
  throw new Error(`assignment: cost ${final} not close enough to ${optimum} (start ${start})`);
console.log(
  `ok: sinkhorn rows exact, column error ${sinkhornFinal.toExponential(1)} after 50 iters; mixture ` +
    `and all 60 Birkhoff ` +
    `iterates doubly stochastic within 1e-12; cost ${start.toFixed(4)} → ${final.toFixed(4)} (optimum ` +
    `${optimum.toFixed(4)})`,
);
