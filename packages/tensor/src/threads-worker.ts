/**
 * The entry module of a pool worker (see threads.ts): it runs the tasks the caller posts, with
 * the same kernel code as the caller (it imports the same modules), and reports each one
 * finished, or failed with its message, through the shared slots, then `Atomics.notify`. In
 * Node the slots come as `workerData`; in a browser as a first 'init' message.
 */
import { matmulTask } from './matmul.js';
import { DONE, ERROR_CHARS, FAILED } from './threads.js';

interface Slots {
  status: Int32Array;
  errors: Uint16Array;
  index: number;
}

let slots: Slots | undefined;

function report(state: number, message = ''): void {
  if (slots === undefined) return;
  const { status, errors, index } = slots;
  const text = message.slice(0, ERROR_CHARS);
  for (let c = 0; c < text.length; c++) errors[index * ERROR_CHARS + c] = text.charCodeAt(c);
  Atomics.store(status, 2 * index + 1, text.length);
  Atomics.store(status, 2 * index, state);
  Atomics.notify(status, 2 * index);
}

function handle(task: { op?: unknown } & Record<string, unknown>): void {
  if (task.op === 'init') {
    slots = task as unknown as Slots;
    report(DONE);
    return;
  }
  try {
    if (task.op === 'matmul') matmulTask(task);
    else if (task.op === 'sleep') {
      // Blocks like a stalled kernel; lets tests check that the caller's wait is bounded.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(task.ms));
    } else throw new Error(`unknown task ${JSON.stringify(task.op)}`);
    report(DONE);
  } catch (e) {
    report(FAILED, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }
}

interface ParentPort {
  on(event: 'message', listener: (task: Record<string, unknown>) => void): void;
}
const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
const wt = proc?.getBuiltinModule?.('node:worker_threads') as
  | { parentPort: ParentPort | null; workerData: Slots }
  | undefined;
if (wt?.parentPort) {
  handle({ op: 'init', ...wt.workerData });
  wt.parentPort.on('message', handle);
} else {
  (globalThis as unknown as { onmessage: (event: { data: Record<string, unknown> }) => void }).onmessage = (event) =>
    handle(event.data);
}
