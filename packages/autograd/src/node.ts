/**
 * Node-only entry point (`@hyperconn/autograd/node`): safetensors files on disk. Everything
 * else lives in the browser-safe main entry; this file alone imports `node:fs`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Tensor } from '@hyperconn/tensor';
import type { LoadStateDictOptions, LoadStateDictResult, Module } from './nn.js';
import { decodeSafetensors, encodeSafetensors, type Safetensors } from './safetensors.js';

/** Writes `tensors` (and optional string metadata) to a safetensors file at `path`. */
export function saveTensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  writeFileSync(path, encodeSafetensors(tensors, metadata));
}

/** Reads a safetensors file (validated; see `decodeSafetensors`). */
export function loadTensors(path: string): Safetensors {
  return decodeSafetensors(readFileSync(path));
}

/** Saves `module.stateDict()` as a safetensors file. */
export function saveModule(path: string, module: Module, metadata?: Readonly<Record<string, string>>): void {
  saveTensors(path, module.stateDict(), metadata);
}

/** Loads a safetensors file into `module` in place (see `Module.loadStateDict`; strict by default). */
export function loadModule(path: string, module: Module, options?: LoadStateDictOptions): LoadStateDictResult {
  return module.loadStateDict(loadTensors(path).tensors, options);
}
