/**
 * Interop with the PyTorch reference modules (docs/interop.md), against fixtures that PyTorch
 * wrote (interop/pytorch/make_fixtures.py): the reference modules rebuilt from their formulas
 * under their own names loaded hyperconn's export, ran forward and backward on fixed inputs, and
 * saved inputs, weights, outputs and gradients. Here our layers, built from those weights by
 * `fromReferenceStateDict`, must reproduce the outputs and every gradient (float64 to 1e-12,
 * float32 to 1e-5), and the conversions must round-trip bit for bit both ways. Also the refusals,
 * F16/BF16 checkpoints, and the model-level layout of `toReferenceModel`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DTypeError, Random, ShapeError, type Tensor, tensor, ValueError } from '@hyperconn/tensor';
import {
  type Variable,
  backward,
  decodeSafetensors,
  encodeSafetensors,
  matmul,
  mul,
  param,
  sum,
  tanh,
  variable,
} from '@hyperconn/autograd';
import {
  createHyperConnection,
  DeepResidualMLP,
  fromReferenceModel,
  fromReferenceStateDict,
  MHCLayer,
  ReferenceSinkhornMHCLayer,
  type ReferenceConfig,
  type ReferenceVariant,
  TinyTransformer,
  toReferenceModel,
  toReferenceStateDict,
} from '@hyperconn/hc-layers';
import { expectClose } from './support/assert';
import { INTEROP_CASES, interopLayer, interopModels } from './support/interop-layers';

const fixture = (name: string) => {
  const { tensors, metadata } = decodeSafetensors(readFileSync(new URL(`fixtures/interop/${name}`, import.meta.url)));
  const take = (prefix: string): Record<string, Tensor> =>
    Object.fromEntries(
      [...tensors].filter(([key]) => key.startsWith(prefix)).map(([key, t]) => [key.slice(prefix.length), t]),
    );
  return { tensors, metadata, config: JSON.parse(metadata.config!) as ReferenceConfig, take };
};

/** The bytes of each tensor's values, to compare bit for bit (−0, NaN payloads included). */
const bits = (record: Record<string, Tensor>): Record<string, number[]> =>
  Object.fromEntries(
    Object.entries(record).map(([key, t]) => {
      const v = t.toTypedArray();
      return [
        key,
        [t.dtype === 'float64' ? 8 : 4, ...t.shape, ...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)],
      ];
    }),
  );

const SHC_BUFFERS = ['J', 'Uz', 'eye_sm1', 'triu_i', 'triu_j'];
const withoutBuffers = (record: Record<string, Tensor>): Record<string, Tensor> =>
  Object.fromEntries(Object.entries(record).filter(([key]) => !SHC_BUFFERS.includes(key)));

describe.each(INTEROP_CASES)('$name against PyTorch', (c) => {
  const file = fixture(`${c.name}.safetensors`);
  const params = file.take('param.');
  const tol = c.dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-5 };

  it('PyTorch loaded exactly our export (ours → reference)', () => {
    expect(file.metadata.variant).toBe(c.variant);
    const exported = toReferenceStateDict(interopLayer(c), { layerIndex: 1 });
    expect(exported.config).toEqual(file.config);
    // the reference's constants are rebuilt by PyTorch in its own arithmetic: equal to rounding
    for (const key of SHC_BUFFERS.filter((k) => k in params)) expectClose(params[key]!, exported.tensors[key]!, tol);
    expect(bits(withoutBuffers(params))).toEqual(bits(withoutBuffers(exported.tensors)));
    const written = fixture(`${c.name}.export.safetensors`);
    expect(bits(Object.fromEntries(written.tensors))).toEqual(bits(exported.tensors));
  });

  it('reproduces the reference outputs and gradients', () => {
    const layer = fromReferenceStateDict(c.variant, params, file.config);
    const inputs = file.take('');
    const x = variable(inputs.x!, { requiresGrad: true });
    const branchWeight = param(inputs.branch_weight!);
    const y = layer.forward(x, (u) => tanh(matmul(u, branchWeight)));
    expectClose(y.value, inputs.y!, tol);
    backward(sum(mul(y, inputs.cotangent!)));
    expectClose(x.grad!.value, inputs['grad.x']!, tol);
    expectClose(branchWeight.grad!.value, inputs['grad.branch_weight']!, tol);
    const grads = toReferenceStateDict(layer, { gradients: true }).tensors;
    const expected = file.take('grad.param.');
    expect(Object.keys(grads).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, g] of Object.entries(expected)) expectClose(grads[key]!, g, tol);
  });

  it('round-trips bit for bit: reference → ours → reference and ours → reference → ours', () => {
    const layer = fromReferenceStateDict(c.variant, params, file.config);
    expect(bits(withoutBuffers(toReferenceStateDict(layer).tensors))).toEqual(bits(withoutBuffers(params)));
    const ours = interopLayer(c, 99);
    const back = fromReferenceStateDict(c.variant, toReferenceStateDict(ours).tensors, file.config);
    expect(back.constructor).toBe(ours.constructor);
    expect(bits(Object.fromEntries(back.stateDict()))).toEqual(bits(Object.fromEntries(ours.stateDict())));
  });
});

describe('conversions refused, with the difference named', () => {
  const options = { n: 4, dim: 3, layerIndex: 0 };

  it('RMSNorm eps ≠ 0, our Sinkhorn order, a gain that γ + 1 misses, unless approximate', () => {
    expect(() => toReferenceStateDict(createHyperConnection('shc', options))).toThrow(ValueError);
    expect(() => toReferenceStateDict(createHyperConnection('shc', options))).toThrow(
      /^toReferenceStateDict: the layer's RMSNorm has eps = 0.000001, the reference's F.normalize has none/,
    );
    expect(() => toReferenceStateDict(new MHCLayer({ ...options, eps: 0 }))).toThrow(
      /this MHCLayer's Sinkhorn normalises H_res's rows last .* build a ReferenceSinkhornMHCLayer/,
    );
    expect(toReferenceStateDict(new MHCLayer(options), { approximate: true }).tensors.static_alpha!.shape).toEqual([
      4, 5,
    ]);
    const layer = createHyperConnection('mhcLite', { ...options, eps: 0 });
    layer.loadStateDict({ 'norm.weight': tensor(new Array(12).fill(1e-20)) }, { strict: false });
    expect(() => toReferenceStateDict(layer)).toThrow(
      /RMSNorm gain w\[0\] = 1e-20 is not exactly γ \+ 1 for any float64 γ .* whose γ \+ 1 is 0/,
    );
    expect(toReferenceStateDict(layer, { approximate: true }).tensors['norm.gamma']!.toArray()).toEqual(
      new Array(12).fill(-1),
    );
  });

  it('variants and configs without a reference counterpart', () => {
    expect(() => toReferenceStateDict(createHyperConnection('shcPower', options))).toThrow(
      /variant 'shcPower' has no reference module/,
    );
    expect(() => toReferenceStateDict(createHyperConnection('kromhc', { ...options, n: 6, eps: 0 }))).toThrow(
      /KromHC with n = 6 streams \(factors 2·3\) has no reference counterpart/,
    );
    const { tensors, config } = toReferenceStateDict(new ReferenceSinkhornMHCLayer({ ...options, eps: 0 }));
    for (const [key, value, message] of [
      ['num_fracs', 2, /config num_fracs = 2 has no counterpart here/],
      ['num_input_views', 2, /config num_input_views = 2/],
      ['dropout', 0.1, /config dropout = 0.1/],
      ['residual_transform', 1, /config key 'residual_transform' has no counterpart/],
      ['sinkhorn_iters', 0, /config sinkhorn_iters must be an integer ≥ 1, got 0/],
    ] as const) {
      expect(() => fromReferenceStateDict('mhc', tensors, { ...config, [key]: value })).toThrow(message);
    }
    expect(() => fromReferenceStateDict('kromhc', {}, { num_residual_streams: 6, dim: 3 })).toThrow(
      /the reference KromHC takes only n a power of two/,
    );
    expect(() => fromReferenceStateDict('mhc', tensors, { ...config, num_residual_streams: 1 })).toThrow(
      /num_residual_streams = 1 with variant 'mhc'/,
    );
    expect(() => fromReferenceStateDict('shc', null as never, config)).toThrow(
      /^fromReferenceStateDict: tensors must be a Map or a record of Tensors, got null$/,
    );
    expect(() => fromReferenceStateDict('shc', tensors, [] as never)).toThrow(/config must be an object/);
    expect(() => fromReferenceStateDict('shcPower' as ReferenceVariant, tensors, config)).toThrow(
      /unknown variant 'shcPower'/,
    );
  });

  it('switched-off maps and residual transforms; the channels-first layout passes', () => {
    const base = { ...options, eps: 0 };
    expect(() =>
      toReferenceStateDict(createHyperConnection('shc', { ...base, resMap: false, postMap: false })),
    ).toThrow(/^toReferenceStateDict: resMap, postMap switched off \(a fixed map\) has no parameterisation/);
    expect(() =>
      toReferenceStateDict(createHyperConnection('shc', { ...base, residualTransform: (x: Variable) => x })),
    ).toThrow(/the layer has a residualTransform/);
    const layer = createHyperConnection('kromhc', { ...base, layout: 'channelsFirst' });
    const { tensors, config } = toReferenceStateDict(layer);
    expect(config.channel_first).toBe(true);
    const back = fromReferenceStateDict('kromhc', tensors, config);
    expect((back as unknown as { layout: string }).layout).toBe('channelsFirst');
    expect(bits(Object.fromEntries(back.stateDict()))).toEqual(bits(Object.fromEntries(layer.stateDict())));
  });

  it('missing, unexpected, misshapen and mixed-dtype tensors', () => {
    const { tensors, config } = toReferenceStateDict(new ReferenceSinkhornMHCLayer({ ...options, eps: 0 }));
    const { residual_scale: _, ...missing } = tensors;
    expect(() => fromReferenceStateDict('mhc', missing, config)).toThrow(
      /^fromReferenceStateDict: the reference tensors do not match the module: missing 'residual_scale'$/,
    );
    expect(() => fromReferenceStateDict('mhc', { ...tensors, extra: tensor([1]) }, config)).toThrow(
      /unexpected 'extra'/,
    );
    expect(() => fromReferenceStateDict('mhc', { ...tensors, h_post_scale: tensor([1]) }, config)).toThrow(ShapeError);
    expect(() =>
      fromReferenceStateDict('mhc', { ...tensors, static_beta: tensors.static_beta!.astype('float32') }, config),
    ).toThrow(DTypeError);
  });

  it('sHC buffers must be the reference constants; HC static needs zero dynamic weights', () => {
    const { tensors, config } = toReferenceStateDict(createHyperConnection('shc', { ...options, eps: 0 }));
    const uz = tensors.Uz!.astype('float32').astype('float64'); // built in float32, cast to float64
    expect(() => fromReferenceStateDict('shc', { ...tensors, Uz: uz }, config)).toThrow(
      /buffer 'Uz'\[0\] = .* is not the reference constant .* a Uz built in float32/,
    );
    const { J: _j, Uz: _u, eye_sm1: _e, triu_i: _i, triu_j: _t, ...bare } = tensors;
    expect(fromReferenceStateDict('shc', bare, config).variant).toBe('shc');
    // a float32 checkpoint whose int64 index buffers read as float64 (I64) loads
    const f32 = Object.fromEntries(Object.entries(bare).map(([key, t]) => [key, t.astype('float32')]));
    const mixed = { ...f32, triu_i: tensors.triu_i!, triu_j: tensors.triu_j!, Uz: tensors.Uz!.astype('float32') };
    expect((fromReferenceStateDict('shc', mixed, config) as unknown as { dtype: string }).dtype).toBe('float32');

    const hc = toReferenceStateDict(createHyperConnection('hc', { ...options, dynamic: false }));
    const staticLayer = fromReferenceStateDict('hc', hc.tensors, hc.config, { dynamic: false });
    expect(staticLayer.parameters().length).toBe(3);
    const dynamic = interopLayer({ name: 'hc', variant: 'hc', dtype: 'float64', n: 4, dim: 3 });
    const exported = toReferenceStateDict(dynamic);
    expect(() => fromReferenceStateDict('hc', exported.tensors, exported.config, { dynamic: false })).toThrow(
      /'dynamic_alpha_fn' is not all zeros, so the reference module is not static; drop \{ dynamic: false \}/,
    );
  });

  it('static gated layers export as the reference with zero projections: the same maps, and back bit for bit', () => {
    const x = new Random(8).normal([2, 3, 4, 3]);
    for (const variant of ['mhc', 'mhcLite', 'kromhc', 'shc'] as const) {
      const options = { n: 4, dim: 3, layerIndex: 2, eps: 0, dynamic: false };
      const layer =
        variant === 'mhc' ? new ReferenceSinkhornMHCLayer(options) : createHyperConnection(variant, options);
      // static parameters away from init, so that the test sees them
      const noise = new Random(9);
      layer.loadStateDict(
        new Map(layer.namedParameters().map(([k, p]) => [k, noise.normal(p.shape, { mean: 0.5, std: 0.5 })])),
      );
      const { tensors, config } = toReferenceStateDict(layer);
      const staticBack = fromReferenceStateDict(variant, tensors, config, { dynamic: false });
      expect(bits(Object.fromEntries(staticBack.stateDict()))).toEqual(bits(Object.fromEntries(layer.stateDict())));
      // what the reference module computes: the dynamic layer with its zero projections
      const dynamicBack = fromReferenceStateDict(variant, tensors, config);
      const [a, b] = [layer.maps(x), dynamicBack.maps(x)];
      for (const key of ['hRes', 'hPre', 'hPost'] as const) expectClose(b[key], a[key], { rtol: 1e-15, atol: 1e-15 });
    }
  });

  it('reads F16 and BF16 checkpoints (widened to float32) into float32 layers', () => {
    const { tensors, config } = toReferenceStateDict(
      interopLayer(INTEROP_CASES.find((x) => x.name === 'shc-float32')!),
    );
    for (const storeAs of ['F16', 'BF16'] as const) {
      // the buffers are left out: the module rebuilds them, and F16 ones would not be its constants
      const loaded = decodeSafetensors(encodeSafetensors(withoutBuffers(tensors), {}, { storeAs }));
      const layer = fromReferenceStateDict('shc', Object.fromEntries(loaded.tensors), config);
      expect((layer as unknown as { dtype: string }).dtype).toBe('float32');
      // each weight is its F16/BF16 rounding: within half an ulp of the half format
      const ulp = storeAs === 'F16' ? 2 ** -11 : 2 ** -8;
      const back = toReferenceStateDict(layer, { approximate: true }).tensors;
      for (const [key, t] of Object.entries(withoutBuffers(tensors)))
        expectClose(back[key]!, t, { rtol: ulp, atol: 1e-7 });
    }
  });
});

describe('models against their PyTorch rebuild (interop/pytorch/hyperconn_torch/models.py)', () => {
  const models = interopModels();
  it.each(['transformer', 'mlp'] as const)('%s: the export PyTorch loaded, its output, loss and gradients', (kind) => {
    const model = kind === 'transformer' ? models.transformer : models.mlp;
    const exported = toReferenceModel(model);
    const written = fixture(`model-${kind}.export.safetensors`);
    const weights = [...written.tensors].filter(([key]) => !key.startsWith('check.'));
    expect(bits(Object.fromEntries(weights))).toEqual(bits(exported.tensors));
    expect(written.config).toEqual(exported.config);
    const expected = fixture(`model-${kind}.safetensors`).take('');
    const tol = { rtol: 1e-12, atol: 1e-12 };
    let loss: Variable;
    if (model instanceof TinyTransformer) {
      const tokens = expected['check.tokens']!;
      expectClose(model.forward(tokens.slice(null, [0, -1])).value, expected.y!, tol);
      loss = model.loss(tokens);
    } else {
      const y = model.forward(expected['check.x']!);
      expectClose(y.value, expected.y!, tol);
      loss = sum(mul(y, expected['check.cotangent']!));
    }
    expectClose(loss.value, expected.loss!, tol);
    model.zeroGrad();
    backward(loss);
    // the model's own parameters by their keys, each hyper-connection's in reference form
    const grads: Record<string, Tensor> = {};
    const paths = Object.keys(exported.config.connections);
    for (const [key, p] of model.namedParameters())
      if (!paths.some((path) => key.startsWith(`${path}.`))) grads[key] = p.grad!.value;
    model.hyperConnections.forEach((layer, i) => {
      for (const [key, g] of Object.entries(toReferenceStateDict(layer, { gradients: true }).tensors))
        grads[`${paths[i]}.${key}`] = g;
    });
    const want = fixture(`model-${kind}.safetensors`).take('grad.');
    expect(Object.keys(grads).sort()).toEqual(Object.keys(want).sort());
    for (const [key, g] of Object.entries(want)) expectClose(grads[key]!, g, tol);
  });
});

describe('toReferenceModel', () => {
  it('keeps the model’s own parameters and puts each hyper-connection in reference form under its path', () => {
    const model = new TinyTransformer({
      variant: 'kromhc',
      n: 4,
      vocabSize: 7,
      dim: 4,
      heads: 2,
      depth: 2,
      seqLen: 5,
      eps: 0,
      rng: new Random(3),
    });
    const { tensors, config } = toReferenceModel(model);
    const paths = [
      'blocks.0.attnConnection',
      'blocks.0.mlpConnection',
      'blocks.1.attnConnection',
      'blocks.1.mlpConnection',
    ];
    const own = [...model.stateDict()].filter(([key]) => !paths.some((p) => key.startsWith(`${p}.`)));
    const expected: Record<string, Tensor> = Object.fromEntries(own);
    model.hyperConnections.forEach((layer, i) => {
      const ref = toReferenceStateDict(layer, { layerIndex: i });
      for (const [key, t] of Object.entries(ref.tensors)) expected[`${paths[i]}.${key}`] = t;
      expect(config.connections[paths[i]!]).toEqual({ module: ref.module, config: ref.config });
    });
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(expected).sort());
    expect(bits(tensors)).toEqual(bits(expected));
    expect(config).toMatchObject({
      format: 'hyperconn-model/1',
      model: 'TinyTransformer',
      variant: 'kromhc',
      n: 4,
      dim: 4,
      depth: 2,
      hidden: 16,
      heads: 2,
      seqLen: 5,
      vocabSize: 7,
      tiedHead: false,
      eps: 0,
      dtype: 'float64',
    });
    // the config is JSON
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });

  it('fromReferenceModel gives the model back bit for bit (and a static HC model too)', () => {
    const { transformer, mlp } = interopModels();
    for (const model of [transformer, mlp]) {
      const { tensors, config } = toReferenceModel(model);
      const back = fromReferenceModel(tensors, JSON.parse(JSON.stringify(config)));
      expect(back.constructor).toBe(model.constructor);
      expect(bits(Object.fromEntries(back.stateDict()))).toEqual(bits(Object.fromEntries(model.stateDict())));
    }
    const options = { variant: 'hc' as const, n: 2, dim: 3, depth: 2, hidden: 4, inputDim: 2, outputDim: 1, eps: 0 };
    const staticHC = new DeepResidualMLP({ ...options, dynamic: false, rng: new Random(4) });
    const exported = toReferenceModel(staticHC);
    expect(exported.config.layerOptions).toEqual({ dynamic: false, tanh: true });
    const back = fromReferenceModel(exported.tensors, exported.config);
    expect(bits(Object.fromEntries(back.stateDict()))).toEqual(bits(Object.fromEntries(staticHC.stateDict())));
  });

  it('fromReferenceModel refuses eps ≠ 0, mHC and tensors that do not fit, naming them', () => {
    const options = { variant: 'shc' as const, n: 2, dim: 3, depth: 1, hidden: 4, inputDim: 2, outputDim: 1 };
    const { tensors, config } = toReferenceModel(new DeepResidualMLP({ ...options, rng: new Random(0) }), {
      approximate: true,
    });
    expect(() => fromReferenceModel(tensors, config)).toThrow(
      /^fromReferenceModel: the model's RMSNorm eps = 0.000001/,
    );
    expect(fromReferenceModel(tensors, config, { approximate: true }).n).toBe(2);
    expect(() => fromReferenceModel(tensors, { ...config, variant: 'mhc', eps: 0 })).toThrow(
      /the model's MHCLayers normalise H_res's rows last/,
    );
    const { 'blocks.0.connection.gamma_u': _, ...missing } = tensors;
    expect(() => fromReferenceModel(missing, config, { approximate: true })).toThrow(
      /^fromReferenceModel: blocks\.0\.connection: fromReferenceStateDict: .* missing 'gamma_u'/,
    );
    expect(() => fromReferenceModel({ ...tensors, extra: tensor([1]) }, config, { approximate: true })).toThrow(
      /^fromReferenceModel: loadStateDict: unexpected keys 'extra'/,
    );
    expect(() => fromReferenceModel(tensors, { ...config, format: 'x' } as never)).toThrow(/hyperconn-model\/1/);
  });

  it('names the layer whose conversion is refused, and refuses stream embeddings', () => {
    const options = { variant: 'shc' as const, n: 2, dim: 3, depth: 2, hidden: 4, inputDim: 2, outputDim: 1 };
    expect(() => toReferenceModel(new DeepResidualMLP({ ...options, rng: new Random(0) }))).toThrow(
      /^toReferenceModel: blocks\.0\.connection: toReferenceStateDict: the layer's RMSNorm has eps = 0\.000001/,
    );
    const approx = toReferenceModel(new DeepResidualMLP({ ...options, rng: new Random(0) }), { approximate: true });
    expect(approx.config).toMatchObject({ model: 'DeepResidualMLP', inputDim: 2, outputDim: 1, eps: 1e-6 });
    expect(() =>
      toReferenceModel(new DeepResidualMLP({ ...options, eps: 0, streamEmbedding: true, rng: new Random(0) })),
    ).toThrow(/stream embeddings and attention-pool reduction have no counterpart/);
  });
});
