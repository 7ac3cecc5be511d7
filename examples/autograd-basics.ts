/**
 * Autograd basics: trainable variables, `backward`, the functional `grad` (and a gradient of a
 * gradient), and `gradcheck` on a function of your own — each checked against a closed form.
 * Run: npx --yes pnpm@10.34.8 example examples/autograd-basics.ts
 */
import * as T from '@hyperconn/tensor';
import { Random, abs, add, cos, max, mul, sub, type Tensor } from '@hyperconn/tensor';
import { grad, gradcheck, matmul, param, sin, sum, tanh, type Variable } from '@hyperconn/autograd';

const rng = new Random(7); // fixed seed: the printed numbers are the same on every run

/** max |a − b| over all elements, as a plain number. */
const maxDiff = (a: Tensor, b: Tensor): number => max(abs(sub(a, b))).item();
/** A vector on one line, 10 decimals. */
const fmt = (t: Tensor): string => Array.from(t.toTypedArray(), (v) => v.toFixed(10).padStart(14)).join(' ');

console.log('— a trainable variable and backward()');
// `param` makes a leaf that records every op applied to it; `backward()` on a scalar fills `.grad`.
const w = param([
  [1, 2],
  [3, 4],
]);
const loss = sum(w.mul(w));
loss.backward();
console.log('loss', loss.item(), ' ∂loss/∂w', w.grad!.toArray(), '(closed form 2w)');
const backwardErr = maxDiff(w.grad!.value, mul(w.value, 2));

console.log('\n— grad and grad-of-grad of f(x) = Σ x·sin x');
// grad(f) returns a function; its output is itself differentiable, so grad can be applied again.
const f = (x: Variable) => sum(x.mul(sin(x)));
const x = rng.normal([5]);
const g1 = grad(f)(x).value;
// f is a sum of one-variable terms, so the Hessian is diagonal and ∇Σ∇f is exactly f''(x_i).
const g2 = grad((v: Variable) => sum(grad(f)(v)))(x).value;
const g1Exact = add(T.sin(x), mul(x, cos(x))); // f'  = sin x + x cos x
const g2Exact = sub(mul(cos(x), 2), mul(x, T.sin(x))); // f'' = 2 cos x − x sin x
console.log('x          ', fmt(x));
console.log("f'  analytic", fmt(g1));
console.log("f'  closed  ", fmt(g1Exact));
console.log("f'' analytic", fmt(g2));
console.log("f'' closed  ", fmt(g2Exact));
const gradErr = Math.max(maxDiff(g1, g1Exact), maxDiff(g2, g2Exact));
console.log(`max |analytic − closed form| = ${gradErr.toExponential(2)}`);

console.log('\n— gradcheck on a user function of two inputs');
// gradcheck compares every derivative (here to second order) against central finite differences
// in float64 and throws a GradcheckError naming the worst element if they disagree.
const layer = (a: Variable, b: Variable) => sum(tanh(matmul(a, b)));
const report = gradcheck(layer, [rng.normal([3, 4]), rng.normal([4, 2])], { order: 2 });
console.log(report.message);

// Rounding level: a few ulps of the O(1) values involved.
const tol = 1e-12;
if (backwardErr > tol) throw new Error(`backward: |grad − 2w| = ${backwardErr} > ${tol}`);
if (gradErr > tol) throw new Error(`grad: |analytic − closed form| = ${gradErr} > ${tol}`);
if (!report.ok) throw new Error(`gradcheck failed: ${report.message}`);
console.log(
  `ok: backward, grad and grad-of-grad match closed forms (max error ` +
    `${Math.max(backwardErr, gradErr).toExponential(1)}); gradcheck order 2 passed`,
);
