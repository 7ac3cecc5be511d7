/**
 * Wrapping your own branch function in an sHC hyper-connection: expand a hidden state to n
 * residual streams, run a small gated MLP (written with autograd ops) as the branch, in both call
 * styles (`forward` and `split`/`merge`), read the layer's diagnostics — H_res has row and column
 * sums 1 and σ_max 1 — and take a few training steps of layer and branch together.
 * Run: npx --yes pnpm@10.34.8 example examples/shc-custom-branch.ts
 */
import { Random, abs, max, sub } from '@hyperconn/tensor';
import { mul, nn, optim, sigmoid, type Variable } from '@hyperconn/autograd';
import { createHyperConnection, expandStreams, layerDiagnostics, reduceStreams } from '@hyperconn/hc-layers';

const rng = new Random(5); // fixed seed: weights, inputs and targets are the same on every run
const n = 4; // streams
const dim = 8; // hidden size C

/**
 * A gated MLP branch F: R^C → R^C, y = W_out(up(x) ⊙ σ(gate(x))). Any function or module with
 * `forward(x: [batch, seq, C]) → [batch, seq, C]` can be a branch; subclassing nn.Module makes
 * its weights discoverable by `parameters()`.
 */
class GatedMLP extends nn.Module {
  readonly up = new nn.Linear(dim, 16, rng);
  readonly gate = new nn.Linear(dim, 16, rng);
  readonly down = new nn.Linear(16, dim, rng);

  forward(x: Variable): Variable {
    return this.down.forward(mul(this.up.forward(x), sigmoid(this.gate.forward(x))));
  }
}

const hc = createHyperConnection('shc', { n, dim, layerIndex: 0 });
const branch = new GatedMLP();

// A hidden state [batch, seq, C] becomes n copies [batch, seq, n, C]; reduceStreams sums them back.
const input = rng.normal([2, 3, dim]);
const streams = expandStreams(input, n);
console.log('streams shape', streams.shape);

console.log('\n— two call styles give the same update');
// forward runs the branch for you; split hands you H_pre·X and a merge for F's output, for code
// that must run the branch itself (e.g. with extra arguments or a cache).
const viaForward = hc.forward(streams, branch).value;
const { branchInput, merge } = hc.split(streams);
const viaSplit = merge(branch.forward(branchInput)).value;
const callStyleDiff = max(abs(sub(viaForward, viaSplit))).item();
console.log(
  `branch input ${JSON.stringify(branchInput.shape)}  output ${JSON.stringify(viaForward.shape)} ` +
    ` max|forward − split/merge| ${callStyleDiff.toExponential(1)}`,
);

console.log('\n— a few training steps of layer + branch on a toy regression');
const target = rng.normal([2, 3, dim]);
const loss = () => nn.mse(reduceStreams(hc.forward(streams, branch)), target);
// The layer's own parameters are not the branch's: train both by passing both lists.
const opt = new optim.AdamW([...hc.parameters(), ...branch.parameters()], { lr: 1e-2 });
const first = loss().item();
let last = first;
for (let step = 1; step <= 30; step++) {
  const l = loss();
  opt.zeroGrad();
  l.backward();
  opt.step();
  last = l.item();
  if (step % 10 === 0) console.log(`step ${step}  loss ${last.toFixed(5)}`);
}

console.log('\n— diagnostics of the trained layer (from lastMaps, the maps of the latest call)');
hc.forward(streams, branch);
const diag = layerDiagnostics(hc.lastMaps!);
console.log(diag);

// On the spectral sphere with the sHC construction, every H_res is doubly stochastic with
// σ_max = 1 however the parameters move: check to rounding of an n-term sum.
const tol = 1e-12;
if (callStyleDiff > tol) throw new Error(`split/merge differs from forward by ${callStyleDiff}`);
if (diag.rowSumDeviation > tol || diag.colSumDeviation > tol)
  throw new Error(`sHC: row/column sums off by ${diag.rowSumDeviation}/${diag.colSumDeviation}`);
if (Math.abs(diag.sigmaMax - 1) > tol) throw new Error(`sHC: σ_max(H_res) = ${diag.sigmaMax}, expected 1`);
if (!(last < first)) throw new Error(`training: loss did not decrease (${first} → ${last})`);
console.log(
  `ok: split/merge = forward (${callStyleDiff.toExponential(1)}); H_res row/col sums 1 ` +
    `(±${Math.max(diag.rowSumDeviation, diag.colSumDeviation).toExponential(1)}), ` +
    `σ_max ${diag.sigmaMax.toFixed(12)}; ` +
    `loss ${first.toFixed(4)} → ${last.toFixed(4)}`,
);
