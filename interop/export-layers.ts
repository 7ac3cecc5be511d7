/**
 * Writes the reference exports of the interop fixture layers (test/support/interop-layers.ts):
 * test/fixtures/interop/<case>.export.safetensors, the tensors of `toReferenceStateDict` with the
 * variant, module and config in the metadata, and model-<kind>.export.safetensors, the
 * `toReferenceModel` exports of two small models with their check inputs (`check.*`).
 * `interop/pytorch/make_fixtures.py` loads them.
 *
 *     npx tsx interop/export-layers.ts && python3 interop/pytorch/make_fixtures.py
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors } from '@hyperconn/autograd';
import { Random } from '@hyperconn/tensor';
import { toReferenceModel, toReferenceStateDict } from '@hyperconn/hc-layers';
import { INTEROP_CASES, interopLayer, interopModels } from '../test/support/interop-layers.js';

const dir = join(import.meta.dirname, '..', 'test', 'fixtures', 'interop');
for (const c of INTEROP_CASES) {
  const { module, tensors, config } = toReferenceStateDict(interopLayer(c), { layerIndex: 1 });
  const metadata = { variant: c.variant, module, config: JSON.stringify(config) };
  writeFileSync(join(dir, `${c.name}.export.safetensors`), encodeSafetensors(tensors, metadata));
  console.log(`${c.name}: ${Object.keys(tensors).length} tensors, config ${JSON.stringify(config)}`);
}

const { transformer, mlp } = interopModels();
const rng = new Random(5);
const tokens = rng.integers(0, 5, [2, 5]);
const x = rng.normal([3, 2]);
const cotangent = rng.normal([3, 2]);
for (const [kind, model, check] of [
  ['transformer', transformer, { 'check.tokens': tokens }],
  ['mlp', mlp, { 'check.x': x, 'check.cotangent': cotangent }],
] as const) {
  const { tensors, config } = toReferenceModel(model);
  const bytes = encodeSafetensors({ ...tensors, ...check }, { config: JSON.stringify(config) });
  writeFileSync(join(dir, `model-${kind}.export.safetensors`), bytes);
  console.log(`model-${kind}: ${Object.keys(tensors).length} tensors`);
}
