/** Builds the playground into examples/playground/dist (a static site; `base: './'` so any path serves it). */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Cross-origin isolation (COOP + COEP), which browsers require for SharedArrayBuffer and so for
 * the tensor package's worker threads (`setNumThreads`). A static host must send the same two
 * headers for `?threads=k` to take effect; without them the playground runs on one thread.
 */
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root,
  base: './',
  // the worker imports the packages as ES modules
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  preview: { host: '127.0.0.1', port: 5180, strictPort: false, headers: isolation },
  server: { host: '127.0.0.1', headers: isolation },
});
