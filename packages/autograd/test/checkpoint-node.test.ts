/**
 * The Node entry's files: atomic saves (a child process SIGKILLed at random moments while it
 * saves, and write/flush/rename failures injected through a mocked node:fs, always leave the
 * previous file decodable and intact), loaders that name the file and keep the reason, and
 * training checkpoints (round trip, all-or-nothing restore, what is skipped and refused).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DTypeError, type HyperconnError, Random, ShapeError, tensor, ValueError } from '@hyperconn/tensor';
import { decodeCheckpoint, encodeCheckpoint, encodeSafetensors, nn, optim, sum } from '@hyperconn/autograd';
import {
  loadCheckpoint,
  loadModule,
  loadTensors,
  saveCheckpoint,
  saveModule,
  saveTensors,
} from '@hyperconn/autograd/node';

/** Which node:fs call fails next (null: none), and after how many bytes a write fails. */
const inject = vi.hoisted(() => ({
  fail: null as null | 'openSync' | 'writeSync' | 'fsyncSync' | 'renameSync',
  bytesBeforeFailure: 0,
}));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const failure = (call: string): Error =>
    Object.assign(new Error(`ENOSPC: no space left on device, ${call}`), { code: 'ENOSPC' });
  return {
    ...fs,
    openSync: ((...args: Parameters<typeof fs.openSync>) => {
      if (inject.fail === 'openSync') throw failure('open');
      return fs.openSync(...args);
    }) as typeof fs.openSync,
    // a partial write first (as a full disk gives), then the failure
    writeSync: ((fd: number, buffer: Uint8Array, offset: number, length: number) => {
      if (inject.fail !== 'writeSync') return fs.writeSync(fd, buffer, offset, length);
      const allowed = Math.max(0, inject.bytesBeforeFailure - offset);
      if (allowed === 0) throw failure('write');
      return fs.writeSync(fd, buffer, offset, Math.min(length, allowed));
    }) as typeof fs.writeSync,
    fsyncSync: ((fd: number) => {
      if (inject.fail === 'fsyncSync') throw failure('fsync');
      return fs.fsyncSync(fd);
    }) as typeof fs.fsyncSync,
    renameSync: ((from: string, to: string) => {
      if (inject.fail === 'renameSync') throw failure('rename');
      return fs.renameSync(from, to);
    }) as typeof fs.renameSync,
  };
});

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hyperconn-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  inject.fail = null;
});

/** A fresh empty folder under the test's temporary folder. */
let folders = 0;
const freshFolder = (): string => {
  const path = join(dir, `case-${folders++}`);
  mkdirSync(path);
  return path;
};

/** The error `f` throws (failing the test if it returns). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but the call returned');
}

describe('atomic saves', () => {
  it('a save SIGKILLed at a random moment leaves a complete earlier version (3 kills)', async () => {
    const folder = freshFolder();
    const path = join(folder, 'big.safetensors');
    const size = 1 << 20; // 8 MiB of float64 + 2 MiB of float32 per save
    const fixture = fileURLToPath(new URL('./fixtures/save-loop.ts', import.meta.url));
    for (let trial = 0; trial < 3; trial++) {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, String(size)], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let saved = -1;
      let stderr = '';
      const times: number[] = [];
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (line !== '') {
            saved = Number(line);
            times.push(performance.now());
          }
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = once(child, 'exit');
      const deadline = performance.now() + 45_000;
      while (saved < 2 && child.exitCode === null && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      expect(saved, `the writer did not get going: ${stderr}`).toBeGreaterThanOrEqual(2);
      // somewhere within the next save or two: usually mid-write, sometimes mid-rename
      const interval = (times[times.length - 1]! - times[0]!) / (times.length - 1);
      await new Promise((r) => setTimeout(r, Math.random() * 2 * interval));
      const acknowledged = saved;
      child.kill('SIGKILL');
      await exited;

      const { tensors, metadata } = loadTensors(path);
      const version = Number(metadata.version);
      expect(version).toBeGreaterThanOrEqual(acknowledged);
      const a = tensors.get('a')!.toTypedArray();
      const b = tensors.get('b')!.toTypedArray();
      expect([a.length, b.length]).toEqual([size, size / 2]);
      expect(a.every((x) => x === version)).toBe(true);
      expect(b.every((x) => x === -version)).toBe(true);
    }
  }, 120_000);

  const failures = ['openSync', 'writeSync', 'fsyncSync', 'renameSync'] as const;
  for (const call of failures) {
    it(
      `a failing ${call} leaves the previous file intact, no ` +
        `temporary file, and a ValueError naming the op and the path`,
      () => {
        const folder = freshFolder();
        const path = join(folder, 'model.safetensors');
        saveTensors(path, { w: tensor([1, 2, 3]) }, { version: 'old' });
        const before = readFileSync(path);
        inject.fail = call;
        inject.bytesBeforeFailure = 20;
        const e = thrown(() => saveTensors(path, { w: tensor([4, 5, 6, 7]) }, { version: 'new' }));
        inject.fail = null;
        expect(e).toBeInstanceOf(ValueError);
        expect(
          e.message.startsWith(`saveTensors: cannot write '${path}' (the previous file, if any, is unchanged): ENOSPC`),
        ).toBe(true);
        expect((e.cause as { code?: string }).code).toBe('ENOSPC');
        expect(readFileSync(path).equals(before)).toBe(true);
        expect(loadTensors(path).metadata).toEqual({ version: 'old' });
        expect(readdirSync(folder)).toEqual(['model.safetensors']);
      },
    );
  }

  it('saveModule and saveCheckpoint go through the same atomic write', () => {
    const folder = freshFolder();
    const model = new nn.Linear(2, 2, new Random(0));
    const path = join(folder, 'm.safetensors');
    saveModule(path, model);
    const before = readFileSync(path);
    inject.fail = 'fsyncSync';
    expect(thrown(() => saveModule(path, new nn.Linear(2, 2, new Random(1)))).message).toMatch(
      /^saveModule: cannot write/,
    );
    expect(thrown(() => saveCheckpoint(path, { model, step: 0 })).message).toMatch(/^saveCheckpoint: cannot write/);
    inject.fail = null;
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(folder)).toEqual(['m.safetensors']);
  });

  it('keeps an existing file’s permission bits and writes through a symbolic link', () => {
    const folder = freshFolder();
    const path = join(folder, 'target.safetensors');
    saveTensors(path, { w: tensor([1]) });
    chmodSync(path, 0o600);
    const link = join(folder, 'link.safetensors');
    symlinkSync(path, link);
    saveTensors(link, { w: tensor([2]) });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadTensors(path).tensors.get('w')!.toArray()).toEqual([2]);
    expect(loadTensors(link).tensors.get('w')!.toArray()).toEqual([2]);
  });

  it('a missing folder is a ValueError naming the path; an encoding error names the op and the path', () => {
    const path = join(dir, 'no-such-folder', 'x.safetensors');
    const e = thrown(() => saveTensors(path, { w: tensor([1]) }));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toContain(`saveTensors: cannot write '${path}'`);
    expect(e.message).toContain('ENOENT');
    const bad = thrown(() => saveTensors(join(dir, 'y.safetensors'), { w: [1, 2] as never }));
    expect(bad).toBeInstanceOf(ValueError);
    expect(bad.message).toMatch(
      /^saveTensors: cannot encode '.*y\.safetensors': encodeSafetensors: 'w' is not a Tensor/,
    );
  });
});

describe('loaders name the file and keep the reason', () => {
  const folder = freshFolder();
  const valid = join(folder, 'valid.safetensors');
  saveTensors(valid, {
    w: tensor([
      [1, 2],
      [3, 4],
    ]),
  });
  const bytes = readFileSync(valid);
  const files: [string, string, RegExp][] = [
    ['missing', join(folder, 'missing.safetensors'), /cannot read '.*missing\.safetensors': ENOENT/],
    ['empty', join(folder, 'empty.safetensors'), /safetensors file: decodeSafetensors: 0 bytes cannot hold/],
    [
      'truncated',
      join(folder, 'truncated.safetensors'),
      /safetensors file: decodeSafetensors: tensor 'w' ends at byte 32, past the 29 bytes/,
    ],
    [
      'cut inside the header',
      join(folder, 'cut.safetensors'),
      /safetensors file: decodeSafetensors: header length \d+ exceeds the 12 bytes/,
    ],
    ['foreign (text)', join(folder, 'notes.txt'), /safetensors file: decodeSafetensors: header length \d+ exceeds/],
    ['folder as', folder, /cannot read '.*': EISDIR/],
  ];
  writeFileSync(files[1]![1], new Uint8Array(0));
  writeFileSync(files[2]![1], bytes.subarray(0, bytes.length - 3));
  writeFileSync(files[3]![1], bytes.subarray(0, 20));
  writeFileSync(files[4]![1], 'model weights, version 2, trained on Tuesday\n');

  for (const [what, path, reason] of files) {
    it(`a ${what} file`, () => {
      for (const [op, load] of [
        ['loadTensors', () => loadTensors(path)],
        ['loadModule', () => loadModule(path, new nn.Linear(2, 2, new Random(0)))],
        ['loadCheckpoint', () => loadCheckpoint(path, { model: new nn.Linear(2, 2, new Random(0)) })],
      ] as const) {
        const e = thrown(load);
        expect(e, op).toBeInstanceOf(ValueError);
        expect(e.message.startsWith(`${op}: `), e.message).toBe(true);
        expect(e.message).toContain(path);
        expect(e.message).toMatch(reason);
        // the loaders of plain files say which file is not safetensors; loadCheckpoint which it cannot restore
        if (reason.source.startsWith('safetensors')) {
          expect(e.message).toContain(
            op === 'loadCheckpoint' ? `cannot restore '${path}'` : `'${path}' is not a valid safetensors file`,
          );
        }
        expect(e.cause).toBeDefined();
      }
    });
  }

  it('keeps the class of the reason: an unsupported dtype stays a DTypeError, a misfit a ShapeError', () => {
    const i8 = join(folder, 'i8.safetensors');
    const header = new TextEncoder().encode('{"w":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}}');
    const file = new Uint8Array(8 + header.length + 4);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    writeFileSync(i8, file);
    const e = thrown(() => loadTensors(i8));
    expect(e).toBeInstanceOf(DTypeError);
    expect(e.message).toMatch(
      new RegExp(
        "^loadTensors: '.*i8\\.safetensors' is not a valid safetensors file: " +
          'decodeSafetensors: tensor \'w\' has dtype "I8"',
      ),
    );

    const model = new nn.Linear(2, 2, new Random(0));
    const path = join(folder, 'linear.safetensors');
    saveModule(path, model);
    const misfit = thrown(() => loadModule(path, new nn.Linear(2, 3, new Random(0))));
    expect(misfit).toBeInstanceOf(ShapeError);
    expect(misfit.message).toMatch(
      /^loadModule: '.*linear\.safetensors' does not fit the module: loadStateDict: 'weight' has shape \[3,2\]/,
    );
    expect(thrown(() => loadModule(path, null as never))).toBeInstanceOf(ValueError);
    expect(thrown(() => loadTensors('' as never)).message).toMatch(/^loadTensors: path must be a non-empty string/);
    expect(thrown(() => loadTensors(3 as never)).message).toMatch(
      /^loadTensors: path must be a non-empty string, got number/,
    );
  });
});

/** A small model, AdamW over two groups, a warm-up schedule and two streams, a few steps in. */
function trainingState(seed: number, steps: number) {
  const init = new Random(seed);
  const model = new nn.Sequential(
    new nn.Linear(3, 4, init),
    new nn.GELU(),
    new nn.Linear(4, 2, init, { dtype: 'float64' }),
  );
  const [first, ...rest] = model.parameters();
  const optimizer = new optim.AdamW([{ params: [first!] }, { params: rest, weightDecay: 0 }], { lr: 1e-2 });
  const scheduler = new optim.LRScheduler(optimizer, optim.warmupCosine(2, 10));
  const rngs = { data: new Random(seed + 1), noise: new Random(seed + 2) };
  for (let step = 0; step < steps; step++) {
    const loss = sum(model.forward(rngs.data.normal([5, 3])));
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    scheduler.step();
  }
  return { model, optimizer, scheduler, rngs };
}

describe('training checkpoints', () => {
  it('round-trip model, optimiser, scheduler, streams, step and metadata exactly (file and bytes)', () => {
    const saved = trainingState(0, 3);
    const path = join(freshFolder(), 'ckpt.safetensors');
    saveCheckpoint(path, { ...saved, step: 3, metadata: { note: 'ü' } });
    const fresh = trainingState(7, 0);
    const result = loadCheckpoint(path, fresh);
    expect(result).toEqual({
      step: 3,
      metadata: { note: 'ü' },
      model: { missingKeys: [], unexpectedKeys: [] },
      skipped: [],
    });
    expect([...fresh.model.stateDict()].map(([k, t]) => [k, t.dtype, t.toArray()])).toEqual(
      [...saved.model.stateDict()].map(([k, t]) => [k, t.dtype, t.toArray()]),
    );
    const [a, b] = [saved.optimizer.stateDict(), fresh.optimizer.stateDict()];
    expect(b.paramGroups).toEqual(a.paramGroups);
    expect([...b.state].map(([i, s]) => [i, s.step, (s.expAvg as never as { toArray(): unknown }).toArray()])).toEqual(
      [...a.state].map(([i, s]) => [i, s.step, (s.expAvg as never as { toArray(): unknown }).toArray()]),
    );
    expect(fresh.scheduler.stateDict()).toEqual(saved.scheduler.stateDict());
    expect(fresh.rngs.data.getState()).toEqual(saved.rngs.data.getState());
    // the browser-safe pair gives the same bytes, and reads an ArrayBuffer too
    const bytes = encodeCheckpoint({ ...saved, step: 3, metadata: { note: 'ü' } });
    expect(Buffer.from(bytes).equals(readFileSync(path))).toBe(true);
    expect(decodeCheckpoint(bytes.slice().buffer, trainingState(8, 0)).step).toBe(3);
    expect(fresh.rngs.noise.float()).toBe(saved.rngs.noise.float());
  });

  it("keeps the optimiser's count of skipped steps", () => {
    const model = new nn.Linear(2, 1, new Random(0));
    const optimizer = new optim.Adam(model.parameters(), { lr: 0.1, nonFinite: 'skip' });
    for (const p of model.parameters()) p.grad = null;
    model.parameters()[0]!.backward(tensor([[Number.NaN, 1]]));
    optimizer.step();
    expect(optimizer.skippedSteps).toBe(1);
    const fresh = new optim.Adam(new nn.Linear(2, 1, new Random(1)).parameters(), { lr: 0.1, nonFinite: 'skip' });
    decodeCheckpoint(encodeCheckpoint({ model, optimizer, step: 1 }), {
      model: new nn.Linear(2, 1, new Random(1)),
      optimizer: fresh,
    });
    expect(fresh.skippedSteps).toBe(1);
  });

  it('keeps −0, ±∞ and NaN in the JSON record bit for bit', () => {
    const model = new nn.Linear(1, 1, new Random(0));
    const optimizer = new optim.SGD(model.parameters(), { lr: 0.1, weightDecay: -0 });
    const bytes = encodeCheckpoint({ model, optimizer, step: 0 });
    const fresh = new optim.SGD(new nn.Linear(1, 1, new Random(1)).parameters(), { lr: 0.5 });
    decodeCheckpoint(bytes, { model: new nn.Linear(1, 1, new Random(1)), optimizer: fresh });
    expect(Object.is(fresh.paramGroups[0]!.weightDecay, -0)).toBe(true);
    expect(fresh.paramGroups[0]!.lr).toBe(0.1);
  });

  it('restores all or nothing: a misfit in a later part puts the earlier parts back', () => {
    const bytes = encodeCheckpoint({ ...trainingState(0, 2), step: 2 });
    const target = trainingState(5, 1);
    const model = [...target.model.stateDict()].map(([k, t]) => [k, t.toArray()]);
    const lrs = target.optimizer.paramGroups.map((g) => g.lr);
    const rng = target.rngs.data.getState();
    // an SGD cannot take AdamW's state (hyper-parameters differ)
    const [first, ...rest] = target.model.parameters();
    const sgd = new optim.SGD([{ params: [first!] }, { params: rest }], { lr: 0.3 });
    const e = thrown(() => decodeCheckpoint(bytes, { model: target.model, optimizer: sgd }));
    expect(e).toBeInstanceOf(ValueError);
    expect(e.message).toMatch(
      /^decodeCheckpoint: the optimizer state does not fit: SGD\.loadStateDict: group 0 has hyper-parameters/,
    );
    expect([...target.model.stateDict()].map(([k, t]) => [k, t.toArray()])).toEqual(model);
    expect(sgd.paramGroups[0]!.lr).toBe(0.3);
    // a stream the file lacks: model, optimiser, scheduler and the other stream all restored, then undone
    const f = thrown(() =>
      decodeCheckpoint(bytes, { ...target, rngs: { data: target.rngs.data, extra: new Random(0) } }),
    );
    expect(f.message).toMatch(
      /^decodeCheckpoint: the rngs\.extra state does not fit: the file holds no stream 'extra' \(it has 'data', 'n/,
    );
    expect([...target.model.stateDict()].map(([k, t]) => [k, t.toArray()])).toEqual(model);
    expect(target.optimizer.paramGroups.map((g) => g.lr)).toEqual(lrs);
    expect(target.rngs.data.getState()).toEqual(rng);
  });

  it('skips and lists what is not asked for; refuses what the file lacks', () => {
    const bytes = encodeCheckpoint({ ...trainingState(0, 1), step: 1 });
    const { model } = trainingState(3, 0);
    expect(decodeCheckpoint(bytes, { model }).skipped).toEqual(['optimizer', 'scheduler', 'rngs.data', 'rngs.noise']);
    const modelOnly = encodeCheckpoint({ model, step: 0 });
    const t = trainingState(3, 0);
    expect(thrown(() => decodeCheckpoint(modelOnly, { model: t.model, optimizer: t.optimizer })).message).toMatch(
      /^decodeCheckpoint: the optimizer state does not fit: the file holds no optimizer state/,
    );
    expect(thrown(() => decodeCheckpoint(modelOnly, { model: t.model, scheduler: t.scheduler })).message).toMatch(
      /the file holds no scheduler state/,
    );
  });

  it('refuses bad states and files with typed errors naming the op', () => {
    const { model } = trainingState(0, 0);
    const cases: [() => unknown, typeof HyperconnError, RegExp][] = [
      [
        () => encodeCheckpoint({ model, step: -1 }),
        ValueError,
        /^encodeCheckpoint: step must be a non-negative integer, got -1/,
      ],
      [() => encodeCheckpoint({ model, step: 1.5 }), ValueError, /^encodeCheckpoint: step/],
      [
        () => encodeCheckpoint({ model: null as never, step: 0 }),
        ValueError,
        /^encodeCheckpoint: model must be an nn\.Module/,
      ],
      [() => encodeCheckpoint(null as never), ValueError, /^encodeCheckpoint: expected an object/],
      [
        () => encodeCheckpoint({ model, step: 0, rngs: { a: 3 as never } }),
        ValueError,
        /^encodeCheckpoint: rngs\.a is not a Random/,
      ],
      [() => encodeCheckpoint({ model, step: 0, metadata: { 'hyperconn.checkpoint': 'x' } }), ValueError, /reserved/],
      [
        () => encodeCheckpoint({ model, step: 0, optimizer: {} as never }),
        ValueError,
        /^encodeCheckpoint: optimizer must have stateDict/,
      ],
      [
        () => decodeCheckpoint(encodeSafetensors({ w: tensor([1]) }), { model }),
        ValueError,
        /^decodeCheckpoint: the file has no 'hyperconn\.checkpoint' metadata/,
      ],
      [
        () => decodeCheckpoint(new Uint8Array(3), { model }),
        ValueError,
        /^decodeCheckpoint: not a valid safetensors file: decodeSafetensors: 3 bytes/,
      ],
      [
        () =>
          decodeCheckpoint(
            encodeSafetensors(
              { 'model.weight': tensor([1]) },
              { 'hyperconn.checkpoint': '{"version":2,"step":0,"rngs":{}}' },
            ),
            { model },
          ),
        ValueError,
        /^decodeCheckpoint: the 'hyperconn\.checkpoint' metadata is malformed: version 2/,
      ],
      [
        () =>
          decodeCheckpoint(
            encodeSafetensors({ stray: tensor([1]) }, { 'hyperconn.checkpoint': '{"version":1,"step":0,"rngs":{}}' }),
            { model },
          ),
        ValueError,
        /^decodeCheckpoint: tensor 'stray' belongs to neither/,
      ],
      [
        () =>
          decodeCheckpoint(
            encodeSafetensors({}, { 'hyperconn.checkpoint': '{"version":1,"step":0,"rngs":{"d":[0,0,0,0]}}' }),
            { model: new nn.Sequential(), rngs: { d: new Random(0) } },
          ),
        ValueError,
        /^decodeCheckpoint: the rngs\.d state does not fit: Random\.setState: the all-zero state/,
      ],
    ];
    for (const [run, type, message] of cases) {
      const e = thrown(run);
      expect(e, message.source).toBeInstanceOf(type);
      expect(e.message).toMatch(message);
    }
  });
});
