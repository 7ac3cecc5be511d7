/**
 * A tour of the tensor and autograd packages: broadcasting, linear algebra, gradients to second
 * order and a least-squares fit. (The hyper-connection demo is examples/demo/.)
 * Run: npx --yes pnpm@10.34.8 example examples/tour.ts
 */
import * as T from '@hyperconn/tensor';
import { Random, add, mul, eye, matrixNorm, qr, svd, tensor, expm, sub, norm } from '@hyperconn/tensor';
import { grad, gradcheck, matmul, sum, tanh, param, type Variable } from '@hyperconn/autograd';

const rng = new Random(42);

console.log('— tensors and broadcasting');
const a = tensor([
  [1, 2, 3],
  [4, 5, 6],
]);
console.log(add(a, tensor([10, 20, 30])).toString());
console.log('row sums', T.sum(a, -1).toArray());

console.log('\n— linear algebra');
const m = rng.normal([4, 4]);
const { q, r } = qr(m);
console.log(
  '‖QR − A‖ =',
  norm(sub(T.matmul(q, r), m))
    .item()
    .toExponential(2),
);
const { s } = svd(m);
console.log('singular values', s.toArray(), ' ‖A‖₂ =', matrixNorm(m, 2).item());
const skew = tensor([
  [0, -Math.PI / 2],
  [Math.PI / 2, 0],
]);
console.log('expm(skew) is a 90° rotation:', expm(skew).toArray());
console.log(
  '‖expm(0) − I‖ =',
  norm(
    sub(
      expm(
        tensor([
          [0, 0],
          [0, 0],
        ]),
      ),
      eye(2),
    ),
  ).item(),
);

console.log('\n— autograd, to second order');
const x = rng.normal([3]);
const f = (v: Variable) => sum(tanh(tanh(v)));
console.log('x        ', x.toArray());
console.log('∇f(x)    ', grad(f)(x).toArray());
console.log('∇Σ∇f(x)  ', grad((v) => sum(grad(f)(v)))(x).toArray());
const report = gradcheck(f, [x], { order: 2 });
console.log(report.message);

console.log('\n— a least-squares fit by gradient descent');
const features = rng.normal([64, 3]);
const truth = tensor([[1.5], [-2], [0.5]]);
const targets = T.matmul(features, truth);
const w = param(rng.normal([3, 1]));
for (let step = 0; step <= 200; step++) {
  const err = matmul(features, w).sub(targets);
  const loss = sum(err.mul(err)).div(64);
  w.zeroGrad();
  loss.backward();
  w.value.assign(sub(w.value, mul(w.grad!.value, 0.1))); // plain SGD, in place
  if (step % 50 === 0) console.log(`step ${String(step).padStart(3)}  loss ${loss.item().toExponential(3)}`);
}
console.log('learned w', w.value.toArray(), ' true', truth.toArray());

// The tour checks what it showed, and says ok only if every result holds.
const qrResidual = norm(sub(T.matmul(q, r), m)).item();
const rotationError = norm(
  sub(
    expm(skew),
    tensor([
      [0, -1],
      [1, 0],
    ]),
  ),
).item();
const sigmaGap = Math.abs(s.get(0) - matrixNorm(m, 2).item());
const fitError = norm(sub(w.value, truth)).item();
const checks: [string, boolean][] = [
  ['‖QR − A‖ ≤ 1e-12', qrResidual <= 1e-12],
  ['expm(skew) = 90° rotation to 1e-12', rotationError <= 1e-12],
  ['σ₁ = ‖A‖₂ to 1e-12', sigmaGap <= 1e-12],
  ['gradcheck order 2', report.ok],
  ['least squares recovers w to 1e-6', fitError <= 1e-6],
];
const failed = checks.filter(([, ok]) => !ok).map(([name]) => name);
if (failed.length > 0) throw new Error(`tour: failed ${failed.join(', ')}`);
console.log(
  `ok: QR residual ${qrResidual.toExponential(1)}, expm rotation, σ₁ ` +
    `= ‖A‖₂, gradcheck order 2, fit error ${fitError.toExponential(1)}`,
);
