/**
 * Node-only entry point (`@hyperconn/autograd/node`): safetensors files and training checkpoints
 * on disk. Everything else lives in the browser-safe main entry; this file alone imports `node:fs`.
 *
 * Every write is atomic: the bytes go to a temporary file in the target's folder, are flushed
 * (fsync), and the temporary file is renamed over the target (then the folder is flushed where
 * the platform allows), so a crash or a failing write leaves the previous file intact. Every
 * failure is a typed error naming the op and the file, wrapping the reason (the decoder's error
 * keeps its class; a file-system error becomes a ValueError with the original as `cause`).
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  fchmodSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ValueError, type Tensor } from '@hyperconn/tensor';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  rethrowWith,
  type CheckpointObjects,
  type CheckpointState,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
} from './checkpoint.js';
import type { LoadStateDictOptions, LoadStateDictResult, Module } from './nn.js';
import { decodeSafetensors, encodeSafetensors, type Safetensors } from './safetensors.js';

export type { CheckpointObjects, CheckpointState, LoadCheckpointOptions, LoadedCheckpoint } from './checkpoint.js';

function checkPath(op: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '')
    throw new ValueError(
      `${op}: path must be a non-empty string, got ${typeof path === 'string' ? "''" : typeof path}`,
    );
}

function checkModule(op: string, module: unknown): asserts module is Module {
  const m = module as Partial<Module> | null;
  if (
    typeof m !== 'object' ||
    m === null ||
    typeof m.stateDict !== 'function' ||
    typeof m.loadStateDict !== 'function'
  ) {
    throw new ValueError(`${op}: module must be an nn.Module`);
  }
}

/** `produce()`'s bytes, its typed errors rethrown under `op` with the file named. */
function encodeFor(op: string, path: string, produce: () => Uint8Array): Uint8Array {
  try {
    return produce();
  } catch (e) {
    return rethrowWith(op, `cannot encode '${path}'`, e);
  }
}

/**
 * Replaces `path` with `bytes` atomically (see the file comment). Writes through a symbolic
 * link to its target and keeps an existing file's permission bits. A temporary file left by a
 * crash (`.<name>.<pid>.<random>.tmp` beside the target) is never read and may be deleted.
 */
function writeFileAtomic(op: string, path: string, bytes: Uint8Array): void {
  let target = resolve(path);
  try {
    target = realpathSync(target);
  } catch {
    // no file yet: write to the path as given
  }
  const folder = dirname(target);
  const temp = join(folder, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    let mode: number | null = null;
    try {
      mode = statSync(target).mode & 0o7777;
    } catch {
      // a new file: the default mode
    }
    fd = openSync(temp, 'wx');
    if (mode !== null) fchmodSync(fd, mode);
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(temp, target);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing: report the first error
      }
    }
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already renamed
    }
    rethrowWith(op, `cannot write '${path}' (the previous file, if any, is unchanged)`, e);
  }
  syncFolder(folder);
}

/** Makes the rename durable. Some platforms (Windows) cannot open or flush a folder: best effort. */
function syncFolder(folder: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(folder, 'r');
    fsyncSync(fd);
  } catch {
    // not supported here; the rename itself is still atomic
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** The file's bytes; a missing or unreadable file is a ValueError naming `op` and the path. */
function readBytes(op: string, path: string): Uint8Array {
  checkPath(op, path);
  try {
    return readFileSync(path);
  } catch (e) {
    return rethrowWith(op, `cannot read '${path}'`, e);
  }
}

/** `decodeSafetensors` of the file, its errors rethrown (same class) naming `op` and the path. */
function readSafetensors(op: string, path: string): Safetensors {
  const bytes = readBytes(op, path);
  try {
    return decodeSafetensors(bytes);
  } catch (e) {
    return rethrowWith(op, `'${path}' is not a valid safetensors file`, e);
  }
}

/** Writes `tensors` (and optional string metadata) to a safetensors file at `path`, atomically. */
export function saveTensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  checkPath('saveTensors', path);
  writeFileAtomic(
    'saveTensors',
    path,
    encodeFor('saveTensors', path, () => encodeSafetensors(tensors, metadata)),
  );
}

/**
 * Reads a safetensors file (validated; see `decodeSafetensors`). A missing, empty, truncated or
 * foreign file is a typed error starting `loadTensors:` that names the path and the reason.
 */
export function loadTensors(path: string): Safetensors {
  return readSafetensors('loadTensors', path);
}

/** Saves `module.stateDict()` as a safetensors file, atomically. */
export function saveModule(path: string, module: Module, metadata?: Readonly<Record<string, string>>): void {
  checkPath('saveModule', path);
  checkModule('saveModule', module);
  writeFileAtomic(
    'saveModule',
    path,
    encodeFor('saveModule', path, () => encodeSafetensors(module.stateDict(), metadata)),
  );
}

/**
 * Loads a safetensors file into `module` in place (see `Module.loadStateDict`; strict by default,
 * nothing written unless everything fits). Errors start `loadModule:` and name the path.
 */
export function loadModule(path: string, module: Module, options?: LoadStateDictOptions): LoadStateDictResult {
  checkModule('loadModule', module);
  const { tensors } = readSafetensors('loadModule', path);
  try {
    return module.loadStateDict(tensors, options);
  } catch (e) {
    return rethrowWith('loadModule', `'${path}' does not fit the module`, e);
  }
}

/**
 * Saves a training checkpoint (see `encodeCheckpoint`: model, optimiser, scheduler, named
 * `Random` streams, step, metadata) to `path`, atomically: an interrupted save leaves the
 * previous checkpoint readable.
 */
export function saveCheckpoint(path: string, state: CheckpointState): void {
  checkPath('saveCheckpoint', path);
  writeFileAtomic(
    'saveCheckpoint',
    path,
    encodeFor('saveCheckpoint', path, () => encodeCheckpoint(state)),
  );
}

/**
 * Restores a checkpoint written by `saveCheckpoint` into freshly built objects (see
 * `decodeCheckpoint`: all or nothing) and returns the saved step and metadata. Errors start
 * `loadCheckpoint:`, name the path and keep the reason and its class.
 */
export function loadCheckpoint(
  path: string,
  into: CheckpointObjects,
  options?: LoadCheckpointOptions,
): LoadedCheckpoint {
  const bytes = readBytes('loadCheckpoint', path);
  try {
    return decodeCheckpoint(bytes, into, options);
  } catch (e) {
    return rethrowWith('loadCheckpoint', `cannot restore '${path}'`, e);
  }
}
