/**
 * Training checkpoints that resume bit for bit, browser-safe (bytes in, bytes out; the Node
 * entry adds atomic files): a model's parameters and buffers, an optimiser's state, a
 * learning-rate scheduler's position, named `Random` streams and the step number, in one
 * safetensors file that any safetensors reader can open.
 *
 * Layout: tensors `model.<name>` (the model's state dict) and `optimizer.<index>.<key>` (the
 * optimiser's per-parameter tensors, `index` counted across its groups); `__metadata__` holds the
 * caller's string metadata and, under `hyperconn.checkpoint`, a JSON record of the rest: format
 * version, step, the optimiser's groups (hyper-parameters) and per-parameter counters, the
 * scheduler's step and base learning rates, and every stream's 128-bit generator state. Numbers
 * that JSON cannot hold (±∞, NaN, −0) are written as `{"$number": "-0"}` and so on, so every value
 * comes back bit for bit.
 */
import { HyperconnError, Random, Tensor, ValueError } from '@hyperconn/tensor';
import type { LoadStateDictResult, Module } from './nn.js';
import type { BaseHyperParams, OptimizerStateDict, ParamState } from './optim.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/** What a checkpoint needs of an optimiser (every `optim.Optimizer`, the Riemannian ones included). */
export interface CheckpointOptimizer {
  /** A deep copy of the groups' hyper-parameters and the per-parameter state. */
  stateDict(): OptimizerStateDict<BaseHyperParams>;
  /** Restores a `stateDict` (validated completely before any change). */
  loadStateDict(dict: OptimizerStateDict<BaseHyperParams>): void;
}

/** What a checkpoint needs of a learning-rate scheduler (`optim.LRScheduler`). */
export interface CheckpointScheduler {
  /** The current step and the groups' base learning rates. */
  stateDict(): { step: number; baseLrs: number[] };
  /** Restores a `stateDict` and applies that step's learning rate. */
  loadStateDict(dict: { step: number; baseLrs: readonly number[] }): void;
}

/** The objects a training checkpoint saves, and the ones `decodeCheckpoint` restores into. */
export interface CheckpointObjects {
  model: Module;
  optimizer?: CheckpointOptimizer;
  scheduler?: CheckpointScheduler;
  /** Every stream whose draws the run depends on (data sampling, dropout, …), by name. */
  rngs?: Readonly<Record<string, Random>>;
}

/** What `encodeCheckpoint` saves: the objects, the step number and optional string metadata. */
export interface CheckpointState extends CheckpointObjects {
  /** The number of training steps taken: a non-negative integer. */
  step: number;
  /** Free-form strings stored beside the state (the key `hyperconn.checkpoint` is reserved). */
  metadata?: Readonly<Record<string, string>>;
}

/** Options of `decodeCheckpoint` / `loadCheckpoint`. */
export interface LoadCheckpointOptions {
  /** Passed to `Module.loadStateDict`: require the model's keys to match exactly. Default true. */
  strict?: boolean;
}

/** What `decodeCheckpoint` returns besides restoring the objects. */
export interface LoadedCheckpoint {
  /** The step number saved. */
  step: number;
  /** The caller's metadata saved with it. */
  metadata: Record<string, string>;
  /** The model's skipped keys (both empty after a strict load). */
  model: LoadStateDictResult;
  /**
   * Parts of the file that were not asked for and so not restored: 'optimizer', 'scheduler',
   * and `rngs.<name>` for each stream.
   */
  skipped: string[];
}

const RECORD_KEY = 'hyperconn.checkpoint';
const VERSION = 1;
const MODEL = 'model.';
const OPTIMIZER = 'optimizer.';

/** [parameter index, its numeric state, the keys of its tensor state] */
type SavedParamState = [number, Record<string, unknown>, string[]];

interface CheckpointRecord {
  version: number;
  step: number;
  optimizer?: { paramGroups: Record<string, unknown>[]; state: SavedParamState[]; skippedSteps?: number };
  scheduler?: { step: number; baseLrs: number[] };
  rngs: Record<string, number[]>;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** JSON.stringify's replacer: the numbers JSON cannot hold, tagged. */
function tagNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) {
    return { $number: Object.is(value, -0) ? '-0' : String(value) };
  }
  return value;
}

/** JSON.parse's reviver: the tagged numbers back. */
function untagNumbers(_key: string, value: unknown): unknown {
  if (isRecord(value) && Object.keys(value).length === 1 && typeof value.$number === 'string') {
    const special: Record<string, number> = { '-0': -0, NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
    if (value.$number in special) return special[value.$number];
  }
  return value;
}

/**
 * `e` again as the same typed error class, its message prefixed with `op: context: ` (so it names
 * the op and what was being read) and the original kept as `cause`. Errors that are not
 * HyperconnErrors (the file system's, say) become ValueErrors. Shared with the Node entry.
 */
export function rethrowWith(op: string, context: string, e: unknown): never {
  const reason = e instanceof Error ? e.message : String(e);
  const Kind = (e instanceof HyperconnError ? e.constructor : ValueError) as new (message: string) => HyperconnError;
  let wrapped: HyperconnError;
  try {
    wrapped = new Kind(`${op}: ${context}: ${reason}`);
  } catch {
    wrapped = new ValueError(`${op}: ${context}: ${reason}`); // a subclass with another constructor
  }
  wrapped.cause = e;
  throw wrapped;
}

function checkStep(op: string, step: unknown): number {
  if (!isCount(step)) throw new ValueError(`${op}: step must be a non-negative integer, got ${String(step)}`);
  return step;
}

/** The named streams, each checked to be a `Random`. */
function streams(op: string, rngs: unknown): [string, Random][] {
  if (rngs === undefined) return [];
  if (!isRecord(rngs)) throw new ValueError(`${op}: rngs must be a record of Random streams by name`);
  return Object.entries(rngs).map(([name, rng]) => {
    if (!(rng instanceof Random)) throw new ValueError(`${op}: rngs.${name} is not a Random`);
    return [name, rng];
  });
}

function checkObjects(op: string, objects: CheckpointObjects): void {
  if (!isRecord(objects))
    throw new ValueError(`${op}: expected an object with at least a model, got ${String(objects)}`);
  const { model, optimizer, scheduler } = objects;
  if (
    typeof model !== 'object' ||
    model === null ||
    typeof model.stateDict !== 'function' ||
    typeof model.loadStateDict !== 'function'
  ) {
    throw new ValueError(`${op}: model must be an nn.Module`);
  }
  for (const [name, x] of [
    ['optimizer', optimizer],
    ['scheduler', scheduler],
  ] as const) {
    if (
      x !== undefined &&
      (typeof x !== 'object' ||
        x === null ||
        typeof x.stateDict !== 'function' ||
        typeof x.loadStateDict !== 'function')
    ) {
      throw new ValueError(`${op}: ${name} must have stateDict and loadStateDict methods`);
    }
  }
}

/**
 * The bytes of a training checkpoint (a safetensors file) holding `state.model`'s parameters and
 * buffers, `state.optimizer`'s groups and per-parameter state, `state.scheduler`'s position, the
 * generator state of every stream in `state.rngs`, `state.step` and `state.metadata`. Restored
 * into freshly built objects by `decodeCheckpoint`, a run continues with bit-identical results.
 * The schedule function itself is not saved: build the scheduler with the same schedule.
 */
export function encodeCheckpoint(state: CheckpointState): Uint8Array {
  const op = 'encodeCheckpoint';
  checkObjects(op, state);
  const step = checkStep(op, state.step);
  const metadata = state.metadata ?? {};
  if (!isRecord(metadata)) throw new ValueError(`${op}: metadata must be a record of strings`);
  if (RECORD_KEY in metadata)
    throw new ValueError(`${op}: metadata key '${RECORD_KEY}' is reserved for the checkpoint's own record`);

  const tensors = new Map<string, Tensor>();
  for (const [name, t] of state.model.stateDict()) tensors.set(MODEL + name, t);
  const record: CheckpointRecord = { version: VERSION, step, rngs: {} };
  if (state.optimizer !== undefined) {
    const dict = state.optimizer.stateDict();
    const saved: SavedParamState[] = [];
    for (const [index, s] of dict.state) {
      const numbers: Record<string, unknown> = {};
      const tensorKeys: string[] = [];
      for (const [key, value] of Object.entries(s)) {
        if (value instanceof Tensor) {
          tensors.set(`${OPTIMIZER}${index}.${key}`, value);
          tensorKeys.push(key);
        } else if (typeof value === 'number') numbers[key] = value;
        else
          throw new ValueError(
            `${op}: optimizer state '${key}' of parameter ${index} is neither a Tensor nor a number`,
          );
      }
      saved.push([index, numbers, tensorKeys]);
    }
    record.optimizer = {
      paramGroups: dict.paramGroups as unknown as Record<string, unknown>[],
      state: saved,
      skippedSteps: dict.skippedSteps ?? 0,
    };
  }
  if (state.scheduler !== undefined) record.scheduler = state.scheduler.stateDict();
  for (const [name, rng] of streams(op, state.rngs)) record.rngs[name] = rng.getState();
  try {
    return encodeSafetensors(tensors, { ...metadata, [RECORD_KEY]: JSON.stringify(record, tagNumbers) });
  } catch (e) {
    return rethrowWith(op, 'cannot encode the state', e);
  }
}

/** The checkpoint record in `metadata`, validated in its structure (the objects validate the rest). */
function parseRecord(op: string, metadata: Record<string, string>): CheckpointRecord {
  const text = metadata[RECORD_KEY];
  if (text === undefined) {
    throw new ValueError(
      `${op}: the file has no '${RECORD_KEY}' metadata, so it is not a training ` +
        `checkpoint (load a plain model file with Module.loadStateDict or loadModule)`,
    );
  }
  let record: unknown;
  try {
    record = JSON.parse(text, untagNumbers);
  } catch (e) {
    throw new ValueError(`${op}: the '${RECORD_KEY}' metadata is not valid JSON (${(e as Error).message})`);
  }
  const bad = (what: string): never => {
    throw new ValueError(`${op}: the '${RECORD_KEY}' metadata is malformed: ${what}`);
  };
  if (!isRecord(record)) return bad('not an object');
  if (record.version !== VERSION) return bad(`version ${String(record.version)}, this reader knows version ${VERSION}`);
  if (!isCount(record.step)) return bad(`step ${String(record.step)} is not a non-negative integer`);
  if (!isRecord(record.rngs)) return bad('rngs is not an object');
  const { optimizer, scheduler } = record;
  if (optimizer !== undefined) {
    if (!isRecord(optimizer) || !Array.isArray(optimizer.paramGroups) || !Array.isArray(optimizer.state))
      return bad('optimizer is not { paramGroups, state }');
    for (const g of optimizer.paramGroups as unknown[]) {
      if (!isRecord(g) || !Array.isArray(g.params) || !g.params.every(isCount))
        return bad('an optimizer group lacks a list of parameter indices');
    }
    const seen = new Set<number>();
    for (const s of optimizer.state as unknown[]) {
      if (
        !Array.isArray(s) ||
        s.length !== 3 ||
        !isCount(s[0]) ||
        !isRecord(s[1]) ||
        !Array.isArray(s[2]) ||
        !s[2].every((k) => typeof k === 'string')
      ) {
        return bad('an optimizer state entry is not [index, numbers, tensor keys]');
      }
      if (seen.has(s[0])) return bad(`parameter ${s[0]} has two optimizer state entries`);
      seen.add(s[0]);
    }
  }
  if (
    scheduler !== undefined &&
    (!isRecord(scheduler) || !isCount(scheduler.step) || !Array.isArray(scheduler.baseLrs))
  ) {
    return bad('scheduler is not { step, baseLrs }');
  }
  return record as unknown as CheckpointRecord;
}

/**
 * Restores a checkpoint from `encodeCheckpoint` into `into` (freshly built objects of the same
 * architecture and options): the model's parameters and buffers in place, then the optimiser's
 * state (if `into.optimizer`), the scheduler's step and base rates (if `into.scheduler`; its lr
 * is applied at once) and each stream in `into.rngs`. Returns the saved step and metadata.
 *
 * All or nothing: if any part does not fit (a missing or misshapen tensor, another optimiser's
 * hyper-parameters, a stream the file lacks) the objects already restored are put back as they
 * were and the error is rethrown as the same class with `decodeCheckpoint:` and the part in
 * front. Parts of the file that `into` does not ask for are skipped and listed in `skipped`.
 */
export function decodeCheckpoint(
  bytes: Uint8Array | ArrayBuffer,
  into: CheckpointObjects,
  options: LoadCheckpointOptions = {},
): LoadedCheckpoint {
  const op = 'decodeCheckpoint';
  checkObjects(op, into);
  const wanted = streams(op, into.rngs);
  let file: ReturnType<typeof decodeSafetensors>;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    return rethrowWith(op, 'not a valid safetensors file', e);
  }
  const record = parseRecord(op, file.metadata);
  const metadata = { ...file.metadata };
  delete metadata[RECORD_KEY];

  // every tensor must belong to the model or to a listed optimizer state
  const modelDict = new Map<string, Tensor>();
  const optimizerTensors = new Map<string, Tensor>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith(MODEL)) modelDict.set(name.slice(MODEL.length), t);
    else if (name.startsWith(OPTIMIZER)) optimizerTensors.set(name, t);
    else throw new ValueError(`${op}: tensor '${name}' belongs to neither the model nor the optimizer`);
  }
  let optimizerDict: OptimizerStateDict<BaseHyperParams> | null = null;
  if (record.optimizer !== undefined) {
    const state = new Map<number, ParamState>();
    for (const [index, numbers, tensorKeys] of record.optimizer.state) {
      const s: ParamState = {};
      for (const [key, value] of Object.entries(numbers)) {
        if (typeof value !== 'number')
          throw new ValueError(`${op}: optimizer state '${key}' of parameter ${index} is not a number`);
        s[key] = value;
      }
      for (const key of tensorKeys) {
        const name = `${OPTIMIZER}${index}.${key}`;
        const t = optimizerTensors.get(name);
        if (t === undefined)
          throw new ValueError(`${op}: the optimizer state lists tensor '${name}', but the file lacks it`);
        optimizerTensors.delete(name);
        s[key] = t;
      }
      state.set(index, s);
    }
    optimizerDict = {
      state,
      paramGroups: record.optimizer.paramGroups as unknown as OptimizerStateDict<BaseHyperParams>['paramGroups'],
      skippedSteps: record.optimizer.skippedSteps ?? 0,
    };
  }
  const [stray] = optimizerTensors.keys();
  if (stray !== undefined) throw new ValueError(`${op}: tensor '${stray}' is not part of the saved optimizer state`);

  const skipped: string[] = [];
  if (record.optimizer !== undefined && into.optimizer === undefined) skipped.push('optimizer');
  if (record.scheduler !== undefined && into.scheduler === undefined) skipped.push('scheduler');
  const wantedNames = new Set(wanted.map(([name]) => name));
  for (const name of Object.keys(record.rngs)) if (!wantedNames.has(name)) skipped.push(`rngs.${name}`);

  // restore in order, undoing everything on the first failure
  const undo: (() => void)[] = [];
  let part = 'model';
  try {
    const modelBefore = into.model.stateDict();
    const modelResult = into.model.loadStateDict(modelDict, { strict: options.strict ?? true });
    undo.push(() => into.model.loadStateDict(modelBefore, { strict: false }));
    if (into.optimizer !== undefined) {
      part = 'optimizer';
      if (optimizerDict === null) throw new ValueError('the file holds no optimizer state');
      const optimizer = into.optimizer;
      const before = optimizer.stateDict();
      optimizer.loadStateDict(optimizerDict);
      undo.push(() => optimizer.loadStateDict(before));
    }
    if (into.scheduler !== undefined) {
      part = 'scheduler';
      if (record.scheduler === undefined) throw new ValueError('the file holds no scheduler state');
      const scheduler = into.scheduler;
      const before = scheduler.stateDict();
      scheduler.loadStateDict(record.scheduler);
      undo.push(() => scheduler.loadStateDict(before));
    }
    for (const [name, rng] of wanted) {
      part = `rngs.${name}`;
      const saved = record.rngs[name];
      if (saved === undefined)
        throw new ValueError(
          `the file holds no stream '${name}' (it has ${
            Object.keys(record.rngs)
              .map((n) => `'${n}'`)
              .join(', ') || 'none'
          })`,
        );
      const before = rng.getState();
      rng.setState(saved);
      undo.push(() => rng.setState(before));
    }
    return { step: record.step, metadata, model: modelResult, skipped };
  } catch (e) {
    for (const u of undo.reverse()) u();
    return rethrowWith(op, `the ${part} state does not fit`, e);
  }
}
