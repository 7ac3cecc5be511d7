/**
 * Brings a model trained on in PyTorch back into hyperconn: reads the weights that
 * `interop/pytorch/continue_ddp.py --save` wrote (the `toReferenceModel` layout), rebuilds the
 * model with `fromReferenceModel`, and prints its loss on the original export's check batch.
 *
 *     npx tsx interop/import-model.ts /tmp/hyperconn-continued.safetensors /tmp/hyperconn-model.safetensors
 */
import { readFileSync } from 'node:fs';
import { decodeSafetensors, noGrad } from '@hyperconn/autograd';
import { fromReferenceModel, type ReferenceModelConfig, TinyTransformer } from '@hyperconn/hc-layers';

const [trained, exported] = process.argv.slice(2);
if (trained === undefined || exported === undefined)
  throw new Error('usage: import-model.ts <trained.safetensors> <export.safetensors>');
const { tensors, metadata } = decodeSafetensors(readFileSync(trained));
const model = fromReferenceModel(tensors, JSON.parse(metadata.config!) as ReferenceModelConfig);
const check = decodeSafetensors(readFileSync(exported)).tensors.get('check.tokens')!;
if (!(model instanceof TinyTransformer)) throw new Error('import-model.ts: expected a TinyTransformer');
console.log(`back in hyperconn: check-batch loss ${noGrad(() => model.loss(check).item()).toFixed(6)}`);
