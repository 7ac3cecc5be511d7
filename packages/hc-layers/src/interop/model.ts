/**
 * Whole models to and from the layout that `interop/pytorch` rebuilds (docs/interop.md,
 * "Models"): `toReferenceModel` writes a `TinyTransformer` or `DeepResidualMLP` as one flat dict
 * of tensors (each hyper-connection through `toReferenceStateDict`) and a JSON
 * `ReferenceModelConfig`; `fromReferenceModel` rebuilds the model from them.
 */
import { type DType, Random, type Tensor, ValueError } from '@hyperconn/tensor';
import type { HyperConnection, Variant } from '../hyper-connection.js';
import { DeepResidualMLP, TinyTransformer } from '../models.js';
import { HCLayer } from '../variants/hc.js';
import { KromHCLayer } from '../variants/kromhc.js';
import { MHCLiteLayer } from '../variants/mhc-lite.js';
import { MHCLayer } from '../variants/mhc.js';
import { SHCLayer } from '../variants/shc.js';
import { MODULES, describe } from './common.js';
import { toReferenceStateDict } from './export.js';
import { fromReferenceStateDict } from './import.js';
import type { ReferenceConfig, ReferenceStateDict, ReferenceVariant, ToReferenceOptions } from './types.js';

/** A model in the layout that `interop/pytorch` rebuilds (docs/interop.md, "Models"). */
export interface ReferenceModel {
  /**
   * Every parameter: the model's own under its state-dict key, each hyper-connection's under
   * `<its path>.<reference key>` (`blocks.0.attnConnection.static_beta`, …).
   */
  tensors: Record<string, Tensor>;
  /** The model's sizes and options, and each hyper-connection's reference module and config. */
  config: ReferenceModelConfig;
}

/** The JSON config of a `ReferenceModel`. */
export interface ReferenceModelConfig {
  /** The layout's name and version. */
  format: 'hyperconn-model/1';
  /** The model class. */
  model: 'TinyTransformer' | 'DeepResidualMLP';
  /** The hyper-connection variant of every layer. */
  variant: string;
  /** Streams. */
  n: number;
  /** Channels C per stream. */
  dim: number;
  /** Blocks. */
  depth: number;
  /** Hidden width of the MLP branches. */
  hidden: number;
  /** Of every parameter. */
  dtype: DType;
  /** eps of the model's own RMSNorms (the branch pre-norms and the final norm). */
  eps: number;
  /** TinyTransformer only: vocabulary size. */
  vocabSize?: number;
  /** TinyTransformer only: longest sequence (learned positions). */
  seqLen?: number;
  /** TinyTransformer only: attention heads. */
  heads?: number;
  /** TinyTransformer only: logits from the token embedding's transpose. */
  tiedHead?: boolean;
  /** DeepResidualMLP only: input features. */
  inputDim?: number;
  /** DeepResidualMLP only: output features. */
  outputDim?: number;
  /** The variant's own options of every layer (`dynamic`, `tanh`, `sinkhornIters`, `maxN`, `maxFactor`). */
  layerOptions: Record<string, number | boolean>;
  /** Per hyper-connection path: its reference module and constructor config. */
  connections: Record<string, { module: string; config: ReferenceConfig }>;
}

/**
 * `model` (a `TinyTransformer` or `DeepResidualMLP` with the default stream expansion and sum
 * reduction) as one flat dict of tensors and a JSON config: its own parameters under their
 * state-dict keys, each hyper-connection through `toReferenceStateDict` (with `options`, e.g.
 * `approximate: true` for a model trained with eps ≠ 0) under its path. `interop/pytorch`
 * rebuilds the model from these with the reference modules. ValueError for stream embeddings
 * or attention-pool reduction (no reference counterpart) and for any layer the conversion
 * refuses (the message names the layer's path).
 */
export function toReferenceModel(
  model: TinyTransformer | DeepResidualMLP,
  options: ToReferenceOptions = {},
): ReferenceModel {
  const op = 'toReferenceModel';
  const isTransformer = model instanceof TinyTransformer;
  if (!isTransformer && !(model instanceof DeepResidualMLP))
    throw new ValueError(`${op}: model must be a TinyTransformer or a DeepResidualMLP, got ${describe(model)}`);
  if (model.streamExpand.parameters().length > 0 || model.streamReduce.parameters().length > 0) {
    throw new ValueError(
      `${op}: stream embeddings and attention-pool reduction have no counterpart in the rebuild; ` +
        'export a model with the default expansion (repeat) and reduction (sum)',
    );
  }
  const paths = model.hyperConnections.map((_, i) => connectionPath(i, model));
  const tensors: Record<string, Tensor> = {};
  for (const [key, t] of model.stateDict()) if (!paths.some((p) => key.startsWith(`${p}.`))) tensors[key] = t.clone();
  const connections: ReferenceModelConfig['connections'] = {};
  model.hyperConnections.forEach((layer, i) => {
    const path = paths[i]!;
    let exported: ReferenceStateDict;
    try {
      exported = toReferenceStateDict(layer, { ...options, layerIndex: i });
    } catch (e) {
      if (e instanceof ValueError) throw new ValueError(`${op}: ${path}: ${e.message}`);
      throw e;
    }
    for (const [key, t] of Object.entries(exported.tensors)) tensors[`${path}.${key}`] = t;
    connections[path] = { module: exported.module, config: exported.config };
  });
  const first = isTransformer ? model.blocks[0]!.mlp.layer : model.blocks[0]!.branch.layer;
  const common = {
    format: 'hyperconn-model/1' as const,
    variant: model.variant,
    n: model.n,
    dim: model.norm.dim,
    depth: model.blocks.length,
    hidden: first.fc1.outFeatures,
    dtype: model.norm.weight.dtype,
    eps: model.norm.eps,
    layerOptions: layerOptionsOf(model.hyperConnections[0]),
    connections,
  };
  const config: ReferenceModelConfig = isTransformer
    ? {
        ...common,
        model: 'TinyTransformer',
        vocabSize: model.vocabSize,
        seqLen: model.seqLen,
        heads: model.blocks[0]!.attn.layer.heads,
        tiedHead: model.head === null,
      }
    : { ...common, model: 'DeepResidualMLP', inputDim: model.input.inFeatures, outputDim: model.head.outFeatures };
  return { tensors, config };
}

/** The options a model passes to every layer, read back from one of its layers. */
function layerOptionsOf(layer: HyperConnection | undefined): Record<string, number | boolean> {
  if (layer instanceof HCLayer) return { dynamic: layer.dynamic, tanh: layer.useTanh };
  if (layer instanceof MHCLayer) return { dynamic: layer.dynamic, sinkhornIters: layer.sinkhornIters };
  if (layer instanceof MHCLiteLayer) return { dynamic: layer.dynamic, maxN: layer.maxN };
  if (layer instanceof KromHCLayer) return { dynamic: layer.dynamic, maxFactor: layer.maxFactor };
  if (layer instanceof SHCLayer) return { dynamic: layer.dynamic };
  return {};
}

/**
 * The model of a `toReferenceModel` export: `config` as written, `tensors` the flat dict (the
 * model's own parameters by key, each hyper-connection in reference form under its path), e.g.
 * after training on in PyTorch (`interop/pytorch/continue_ddp.py --save`). Each hyper-connection
 * goes through `fromReferenceStateDict` and is loaded into the model's own layer, which must then
 * compute the same function: ValueError for a model with eps ≠ 0 or an mHC model (our Sinkhorn
 * order), unless `approximate: true`. ValueError (naming the key) for a missing or unexpected
 * tensor, and for a config this version cannot read.
 */
export function fromReferenceModel(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  config: ReferenceModelConfig,
  options: { approximate?: boolean } = {},
): TinyTransformer | DeepResidualMLP {
  const op = 'fromReferenceModel';
  if (typeof config !== 'object' || config === null || config.format !== 'hyperconn-model/1')
    throw new ValueError(`${op}: config must be a 'hyperconn-model/1' config from toReferenceModel`);
  if (typeof tensors !== 'object' || tensors === null)
    throw new ValueError(`${op}: tensors must be a Map or a record of Tensors, got ${describe(tensors)}`);
  const approximate = options.approximate ?? false;
  const variant = config.variant as Variant;
  if (!approximate && config.eps !== 0) {
    throw new ValueError(
      `${op}: the model's RMSNorm eps = ${config.eps} is not the reference modules' (none): its hyper-connections ` +
        'would compute another function; pass { approximate: true } to load it anyway',
    );
  }
  if (!approximate && variant === 'mhc') {
    throw new ValueError(
      `${op}: the model's MHCLayers normalise H_res's rows last, the reference's columns: ` +
        'pass { approximate: true } to load it anyway',
    );
  }
  const common = {
    variant,
    n: config.n,
    dim: config.dim,
    depth: config.depth,
    hidden: config.hidden,
    dtype: config.dtype,
    eps: config.eps,
    rng: new Random(0), // every weight is overwritten below
    ...config.layerOptions,
  };
  const model =
    config.model === 'TinyTransformer'
      ? new TinyTransformer({
          ...common,
          vocabSize: config.vocabSize!,
          seqLen: config.seqLen!,
          heads: config.heads!,
          tiedHead: config.tiedHead,
        })
      : new DeepResidualMLP({ ...common, inputDim: config.inputDim!, outputDim: config.outputDim! });
  const source = tensors instanceof Map ? new Map(tensors) : new Map(Object.entries(tensors));
  const paths = Object.keys(config.connections);
  const own = new Map([...source].filter(([key]) => !paths.some((p) => key.startsWith(`${p}.`))));
  const layers = new Map(model.hyperConnections.map((layer, k) => [connectionPath(k, model), layer]));
  const loaded = new Map<string, Tensor>();
  for (const [key, t] of own) loaded.set(key, t);
  for (const path of paths) {
    const layer = layers.get(path);
    if (layer === undefined) throw new ValueError(`${op}: the config names '${path}', which the model does not have`);
    const prefix = `${path}.`;
    const sub = Object.fromEntries(
      [...source].filter(([key]) => key.startsWith(prefix)).map(([key, t]) => [key.slice(prefix.length), t]),
    );
    const { module, config: layerConfig } = config.connections[path]!;
    let converted: HyperConnection;
    try {
      converted = fromReferenceStateDict(
        module === MODULES.residual ? 'residual' : (variant as ReferenceVariant),
        sub,
        layerConfig,
        { dynamic: config.layerOptions?.dynamic !== false },
      );
    } catch (e) {
      if (e instanceof ValueError) throw new ValueError(`${op}: ${path}: ${e.message}`);
      throw e;
    }
    for (const [key, t] of converted.stateDict()) loaded.set(`${prefix}${key}`, t);
  }
  try {
    model.loadStateDict(loaded);
  } catch (e) {
    if (e instanceof ValueError) throw new ValueError(`${op}: ${e.message}`);
    throw e;
  }
  return model;
}

/** The state-dict path of a model's hyper-connection `i` (in `hyperConnections` order). */
function connectionPath(i: number, model: TinyTransformer | DeepResidualMLP): string {
  if (!(model instanceof TinyTransformer)) return `blocks.${i}.connection`;
  return `blocks.${Math.floor(i / 2)}.${i % 2 === 0 ? 'attnConnection' : 'mlpConnection'}`;
}
