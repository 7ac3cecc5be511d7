/**
 * Trains a small TinyTransformer (sHC streams) here for 100 AdamW steps on data/genesis-kjv.txt
 * and exports it with `toReferenceModel` for `interop/pytorch/continue_ddp.py`: the model's
 * tensors, its JSON config and vocabulary in the metadata, and a check batch (`check.tokens`,
 * `check.logits`) that the PyTorch rebuild must reproduce before it trains further.
 *
 *     npx tsx interop/export-model.ts [out.safetensors]     (default /tmp/hyperconn-model.safetensors)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Random } from '@hyperconn/tensor';
import { encodeSafetensors, noGrad, optim } from '@hyperconn/autograd';
import { CharTokenizer, sampleBatch, TinyTransformer, toReferenceModel } from '@hyperconn/hc-layers';

const out = process.argv[2] ?? '/tmp/hyperconn-model.safetensors';
const text = readFileSync(new URL('../data/genesis-kjv.txt', import.meta.url), 'utf8');
const tok = CharTokenizer.fromText(text);
const ids = tok.encode(text);
const seqLen = 32;
// eps = 0: the reference modules' RMSNorm has none, so the rebuild computes the same function
const model = new TinyTransformer({
  variant: 'shc',
  n: 4,
  vocabSize: tok.vocabSize,
  dim: 16,
  heads: 2,
  depth: 2,
  seqLen,
  eps: 0,
  rng: new Random(0),
});
const { decay, noDecay } = model.parameterGroups();
const opt = new optim.AdamW([{ params: decay }, { params: noDecay, weightDecay: 0 }], { lr: 1e-2, weightDecay: 0.01 });
const data = new Random(1);
for (let step = 1; step <= 100; step++) {
  const loss = model.loss(sampleBatch(ids, { batchSize: 8, seqLen, rng: data }));
  opt.zeroGrad();
  loss.backward();
  opt.step();
  if (step % 25 === 0) console.log(`hyperconn step ${step}: train loss ${loss.item().toFixed(4)}`);
}

const check = sampleBatch(ids, { batchSize: 4, seqLen, rng: new Random(99) });
const { logits, loss } = noGrad(() => ({
  logits: model.forward(check.slice(null, [0, -1])).value,
  loss: model.loss(check).item(),
}));
const { tensors, config } = toReferenceModel(model);
const metadata = {
  config: JSON.stringify(config),
  vocab: JSON.stringify(tok.vocab),
  check_loss: String(loss),
  steps: '100',
};
writeFileSync(out, encodeSafetensors({ ...tensors, 'check.tokens': check, 'check.logits': logits }, metadata));
console.log(`exported ${Object.keys(tensors).length} tensors to ${out}; check-batch loss ${loss.toFixed(6)}`);
