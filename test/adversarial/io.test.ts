/**
 * The adversarial battery for I/O: safetensors bytes (truncated, garbage, foreign, repeated
 * names, bad entries, every input type), the Node entry's files, the Random state and training
 * checkpoints. Values are checked against files laid out by hand with DataView (an independent
 * writer) or against the objects they came from; errors by class and op.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { DTypeError, Random, ShapeError, tensor, ValueError, type Tensor } from '@hyperconn/tensor';
import {
  decodeCheckpoint,
  decodeSafetensors,
  encodeCheckpoint,
  encodeSafetensors,
  nn,
  optim,
} from '@hyperconn/autograd';
import {
  loadCheckpoint,
  loadModule,
  loadTensors,
  saveCheckpoint,
  saveModule,
  saveTensors,
} from '@hyperconn/autograd/node';
import { battery, type Case } from './battery';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A file laid out by hand: the length field, the header text, then the data bytes. */
function file(header: string | object, data: ArrayLike<number> = []): Uint8Array {
  const json = utf8(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

/** Little-endian bytes of float32 / float64 values, written with DataView (not the library). */
function f32(...values: number[]): number[] {
  const view = new DataView(new ArrayBuffer(4 * values.length));
  values.forEach((v, i) => {
    view.setFloat32(4 * i, v, true);
  });
  return Array.from(new Uint8Array(view.buffer));
}
function f64(...values: number[]): number[] {
  const view = new DataView(new ArrayBuffer(8 * values.length));
  values.forEach((v, i) => {
    view.setFloat64(8 * i, v, true);
  });
  return Array.from(new Uint8Array(view.buffer));
}

const entry = (dtype: unknown, shape: unknown, offsets: unknown): object => ({ dtype, shape, data_offsets: offsets });
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const decode = (bytes: Uint8Array | ArrayBuffer) => (): unknown => decodeSafetensors(bytes);

/** [name, dtype, shape, values] of every tensor, in data order. */
const summary = (tensors: Map<string, Tensor>): unknown[] =>
  [...tensors].map(([name, t]) => [name, t.dtype, t.shape, Array.from(t.toTypedArray())]);

const dir = mkdtempSync(join(tmpdir(), 'hyperconn-battery-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const path = (name: string): string => {
  const folder = join(dir, String(files++));
  mkdirSync(folder);
  return join(folder, name);
};
/** A path holding `bytes`. */
const written = (name: string, bytes: Uint8Array | string): string => {
  const p = path(name);
  writeFileSync(p, bytes);
  return p;
};

const handWritten = file(
  '{"b":{"dtype":"F64","shape":[],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}}',
  [...f32(1.5, -2), ...f64(0.1)],
);
const handExpected = [
  ['a', 'float32', [2, 1], [1.5, -2]],
  ['b', 'float64', [], [0.1]],
];

const safetensorsValues: Case[] = [
  {
    name: 'a hand-written file from a Uint8Array',
    run: () => summary(decodeSafetensors(handWritten).tensors),
    check: (v) => expect(v).toEqual(handExpected),
  },
  {
    name: 'the same file from its ArrayBuffer',
    run: () => summary(decodeSafetensors(handWritten.slice().buffer).tensors),
    check: (v) => expect(v).toEqual(handExpected),
  },
  {
    name: 'the same file from a view at byte offset 3 of a larger buffer',
    run: () => {
      const outer = new Uint8Array(handWritten.length + 7);
      outer.set(handWritten, 3);
      return summary(decodeSafetensors(outer.subarray(3, 3 + handWritten.length)).tensors);
    },
    check: (v) => expect(v).toEqual(handExpected),
  },
  {
    name: 'the same file from a Node Buffer',
    run: () => summary(decodeSafetensors(Buffer.from(handWritten)).tensors),
    check: (v) => expect(v).toEqual(handExpected),
  },
  {
    name: 'a float64 tensor at an offset that is not a multiple of 8',
    run: () =>
      summary(
        decodeSafetensors(
          file({ a: entry('F32', [1], [0, 4]), b: entry('F64', [2], [4, 20]) }, [...f32(3), ...f64(-0, 1e-310)]),
        ).tensors,
      ),
    check: (v) =>
      expect(v).toEqual([
        ['a', 'float32', [1], [3]],
        ['b', 'float64', [2], [-0, 1e-310]],
      ]),
  },
  {
    name: 'a header padded with spaces, tabs and newlines',
    run: () =>
      summary(
        decodeSafetensors(file(' \n{"x" :\t{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}\n   ', f32(7))).tensors,
      ),
    check: (v) => expect(v).toEqual([['x', 'float32', [1], [7]]]),
  },
  {
    name: 'an empty header and no data',
    run: () => decodeSafetensors(file('{}')).tensors.size,
    check: (v) => expect(v).toBe(0),
  },
  {
    name: 'a zero-size tensor [0, 3] and a scalar',
    run: () =>
      summary(decodeSafetensors(encodeSafetensors({ e: tensor([[], []]).reshape([0, 3]), s: tensor(2.5) })).tensors),
    check: (v) =>
      expect(v).toEqual([
        ['e', 'float64', [0, 3], []],
        ['s', 'float64', [], [2.5]],
      ]),
  },
  {
    name: 'the encoder’s bytes equal a file laid out by hand',
    run: () => Array.from(encodeSafetensors({ w: tensor([1, 2], { dtype: 'float32' }) })),
    check: (v) => {
      const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
      const padded = json + ' '.repeat(Math.ceil(json.length / 8) * 8 - json.length);
      expect(v).toEqual(Array.from(file(padded, f32(1, 2))));
    },
  },
  {
    name: 'float32 NaN, ±∞, −0 and subnormals round-trip bit for bit',
    run: () =>
      Array.from(
        new Uint8Array(
          decodeSafetensors(
            encodeSafetensors({ t: tensor([NaN, Infinity, -Infinity, -0, 1e-45], { dtype: 'float32' }) }),
          )
            .tensors.get('t')!
            .toTypedArray().buffer,
        ),
      ),
    check: (v) => expect(v).toEqual(f32(NaN, Infinity, -Infinity, -0, 1e-45)),
  },
  {
    name: "a tensor named '__proto__' and unicode metadata survive the round trip",
    run: () => {
      const back = decodeSafetensors(encodeSafetensors(new Map([['__proto__', tensor([4])]]), { note: 'ünï ✓' }));
      return [[...back.tensors.keys()], back.metadata];
    },
    check: (v) => expect(v).toEqual([['__proto__'], { note: 'ünï ✓' }]),
  },
  {
    name: 'the same key in two different objects is not a repetition',
    run: () =>
      decodeSafetensors(file({ __metadata__: { dtype: 'x' }, dtype: entry('F32', [1], [0, 4]) }, f32(1))).metadata,
    check: (v) => expect(v).toEqual({ dtype: 'x' }),
  },
];

const safetensorsErrors: Case[] = [
  ...(
    [
      ['null', null],
      ['undefined', undefined],
      ['a string', 'safetensors'],
      ['an array of numbers', [1, 2, 3, 4, 5, 6, 7, 8]],
      ['a Float64Array', new Float64Array(2)],
      ['a DataView', new DataView(new ArrayBuffer(16))],
      ['a plain object', { length: 8 }],
    ] as const
  ).map(
    ([what, input]): Case => ({
      name: `bytes that are ${what}`,
      run: decode(input as never),
      error: ValueError,
      op: 'decodeSafetensors',
    }),
  ),
  { name: 'an empty buffer', run: decode(new Uint8Array(0)), error: ValueError, op: 'decodeSafetensors' },
  {
    name: 'seven bytes (shorter than the length field)',
    run: decode(new Uint8Array(7)),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  { name: 'an empty ArrayBuffer', run: decode(new ArrayBuffer(0)), error: ValueError, op: 'decodeSafetensors' },
  {
    name: 'a header length of 2^64 − 1',
    run: () => {
      const f = file('{}');
      new DataView(f.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
      return decodeSafetensors(f);
    },
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a file cut inside its header',
    run: decode(handWritten.subarray(0, 30)),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a file cut inside its data',
    run: decode(handWritten.subarray(0, handWritten.length - 1)),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a text file',
    run: decode(utf8('these are not the weights you are looking for')),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a PNG signature',
    run: decode(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  { name: 'a header that is not JSON', run: decode(file('{"a":')), error: ValueError, op: 'decodeSafetensors' },
  {
    name: 'a header that is not UTF-8 (a lone 0xff byte in a key)',
    run: () => {
      const f = file('{"?":{}}');
      f[10] = 0xff;
      return decodeSafetensors(f);
    },
    error: ValueError,
    op: 'decodeSafetensors',
  },
  { name: 'a header that is an array', run: decode(file('[]')), error: ValueError, op: 'decodeSafetensors' },
  { name: 'a header that is null', run: decode(file('null')), error: ValueError, op: 'decodeSafetensors' },
  { name: 'a header that is a number', run: decode(file('42')), error: ValueError, op: 'decodeSafetensors' },
  {
    name: 'a tensor name repeated (last-wins in JSON.parse)',
    run: decode(
      file(
        '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        f32(1),
      ),
    ),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a key repeated inside a tensor entry',
    run: decode(file('{"w":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,4]}}', f32(1))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a metadata key repeated',
    run: decode(file('{"__metadata__":{"a":"1","a":"2"}}')),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  ...['I8', 'F8_E4M3', 'BOOL', 'f32', ''].map(
    (dtype): Case => ({
      name: `dtype '${dtype}'`,
      run: decode(file({ a: entry(dtype, [1], [0, 4]) }, zeros(4))),
      error: DTypeError,
      op: 'decodeSafetensors',
    }),
  ),
  {
    name: 'a numeric dtype',
    run: decode(file({ a: entry(32, [1], [0, 4]) }, zeros(4))),
    error: DTypeError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a missing dtype',
    run: decode(file({ a: { shape: [1], data_offsets: [0, 4] } }, zeros(4))),
    error: DTypeError,
    op: 'decodeSafetensors',
  },
  ...(
    [
      ['a negative axis', [-1]],
      ['a fractional axis', [1.5]],
      ['a string axis', ['1']],
      ['a shape that is not a list', 1],
      ['a missing shape', undefined],
      ['an axis of 2^53', [2 ** 53]],
    ] as const
  ).map(
    ([what, shape]): Case => ({
      name: what,
      run: decode(file({ a: entry('F32', shape, [0, 4]) }, zeros(4))),
      error: ValueError,
      op: 'decodeSafetensors',
    }),
  ),
  ...(
    [
      ['reversed offsets', [4, 0]],
      ['three offsets', [0, 4, 8]],
      ['fractional offsets', [0, 3.5]],
      ['negative offsets', [-4, 0]],
      ['string offsets', ['0', '4']],
      ['offsets beyond 2^53', [0, 2 ** 60]],
    ] as const
  ).map(
    ([what, offsets]): Case => ({
      name: what,
      run: decode(file({ a: entry('F32', [1], offsets) }, zeros(4))),
      error: ValueError,
      op: 'decodeSafetensors',
    }),
  ),
  {
    name: 'offsets that do not match the shape’s byte size',
    run: decode(file({ a: entry('F64', [1], [0, 4]) }, zeros(4))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'an entry that is not an object',
    run: decode(file({ a: [0, 4] }, zeros(4))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a gap between tensors',
    run: decode(file({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, zeros(12))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'overlapping tensors',
    run: decode(file({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]) }, zeros(12))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'two tensors sharing their bytes',
    run: decode(file({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [0, 4]) }, zeros(4))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a first tensor that does not start at 0',
    run: decode(file({ a: entry('F32', [1], [4, 8]) }, zeros(8))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'data past the end',
    run: decode(file({ a: entry('F64', [2], [0, 16]) }, zeros(8))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'trailing bytes after the data',
    run: decode(file({ a: entry('F32', [1], [0, 4]) }, zeros(5))),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'metadata that is not an object',
    run: decode(file({ __metadata__: 'x' })),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'a metadata value that is not a string',
    run: decode(file({ __metadata__: { n: 1 } })),
    error: ValueError,
    op: 'decodeSafetensors',
  },
  {
    name: 'tensors that are null',
    run: () => encodeSafetensors(null as never),
    error: ValueError,
    op: 'encodeSafetensors',
  },
  {
    name: 'a tensor that is a plain array',
    run: () => encodeSafetensors({ w: [1, 2] as never }),
    error: ValueError,
    op: 'encodeSafetensors',
  },
  {
    name: "the tensor name ''",
    run: () => encodeSafetensors({ '': tensor([1]) }),
    error: ValueError,
    op: 'encodeSafetensors',
  },
  {
    name: "the tensor name '__metadata__'",
    run: () => encodeSafetensors({ __metadata__: tensor([1]) }),
    error: ValueError,
    op: 'encodeSafetensors',
  },
  {
    name: 'a metadata value that is a number',
    run: () => encodeSafetensors({ a: tensor([1]) }, { n: 3 as never }),
    error: ValueError,
    op: 'encodeSafetensors',
  },
  {
    name: 'metadata that is a string',
    run: () => encodeSafetensors({ a: tensor([1]) }, 'meta' as never),
    error: ValueError,
    op: 'encodeSafetensors',
  },
];

const linear = (seed: number): nn.Linear => new nn.Linear(2, 3, new Random(seed));

const fileValues: Case[] = [
  {
    name: 'saveTensors then loadTensors, the second save replacing the first',
    run: () => {
      const p = path('t.safetensors');
      saveTensors(p, { w: tensor([1, 2]) }, { v: '1' });
      saveTensors(p, { w: tensor([3, 4, 5], { dtype: 'float32' }) }, { v: '2' });
      const { tensors, metadata } = loadTensors(p);
      return [summary(tensors), metadata];
    },
    check: (v) => expect(v).toEqual([[['w', 'float32', [3], [3, 4, 5]]], { v: '2' }]),
  },
  {
    name: 'saveModule then loadModule into another module of the same shape',
    run: () => {
      const p = path('m.safetensors');
      saveModule(p, linear(0));
      const target = linear(1);
      loadModule(p, target);
      return [...target.stateDict()].map(([k, t]) => [k, t.toArray()]);
    },
    check: (v) => expect(v).toEqual([...linear(0).stateDict()].map(([k, t]) => [k, t.toArray()])),
  },
  {
    name: 'a restored Random draws what the original draws next',
    run: () => {
      const a = new Random(5);
      a.normal([7]);
      const b = new Random(6);
      b.setState(a.getState());
      return [Array.from(b.normal([9]).toTypedArray()), Array.from(a.normal([9]).toTypedArray())];
    },
    check: (v) => {
      const [restored, original] = v as [number[], number[]];
      expect(restored).toEqual(original);
    },
  },
  {
    name: 'saveCheckpoint then loadCheckpoint restores model, AdamW, scheduler, stream and step',
    run: () => {
      const make = (seed: number) => {
        const model = linear(seed);
        const optimizer = new optim.AdamW(model.parameters(), { lr: 0.1 });
        return {
          model,
          optimizer,
          scheduler: new optim.LRScheduler(optimizer, optim.linearWarmup(3)),
          rngs: { data: new Random(seed) },
        };
      };
      const source = make(0);
      source.scheduler.step();
      source.rngs.data.float();
      const p = path('c.safetensors');
      saveCheckpoint(p, { ...source, step: 1 });
      const target = make(9);
      const { step } = loadCheckpoint(p, target);
      return [
        step,
        target.model.stateDict(),
        source.model.stateDict(),
        target.scheduler.stateDict(),
        target.optimizer.paramGroups[0]!.lr,
        target.rngs.data.getState(),
        source.rngs.data.getState(),
      ];
    },
    check: (v) => {
      const [step, got, want, scheduler, lr, rng, rngWant] = v as [
        number,
        Map<string, Tensor>,
        Map<string, Tensor>,
        unknown,
        number,
        number[],
        number[],
      ];
      expect(step).toBe(1);
      expect([...got].map(([k, t]) => [k, t.toArray()])).toEqual([...want].map(([k, t]) => [k, t.toArray()]));
      expect(scheduler).toEqual({ step: 1, baseLrs: [0.1] });
      expect(lr).toBe(0.1 * (2 / 4)); // linearWarmup(3) at step 1: (1 + 1)/(3 + 1)
      expect(rng).toEqual(rngWant);
    },
  },
  {
    name: 'decodeCheckpoint reads an ArrayBuffer from encodeCheckpoint',
    run: () =>
      decodeCheckpoint(encodeCheckpoint({ model: linear(0), step: 12, metadata: { run: 'a' } }).slice().buffer, {
        model: linear(1),
      }),
    check: (v) =>
      expect(v).toEqual({
        step: 12,
        metadata: { run: 'a' },
        model: { missingKeys: [], unexpectedKeys: [] },
        skipped: [],
      }),
  },
];

const valid = encodeSafetensors({ weight: tensor([[1, 2]]) });
const fileErrors: Case[] = [
  {
    name: 'a missing file',
    run: () => loadTensors(join(dir, 'missing.safetensors')),
    error: ValueError,
    op: 'loadTensors',
  },
  {
    name: 'an empty file',
    run: () => loadTensors(written('empty.safetensors', new Uint8Array(0))),
    error: ValueError,
    op: 'loadTensors',
  },
  {
    name: 'a truncated file',
    run: () => loadTensors(written('cut.safetensors', valid.subarray(0, valid.length - 4))),
    error: ValueError,
    op: 'loadTensors',
  },
  {
    name: 'a foreign (text) file',
    run: () => loadTensors(written('notes.txt', 'hello\n')),
    error: ValueError,
    op: 'loadTensors',
  },
  { name: 'a folder', run: () => loadTensors(dir), error: ValueError, op: 'loadTensors' },
  { name: 'a path that is not a string', run: () => loadTensors(42 as never), error: ValueError, op: 'loadTensors' },
  {
    name: 'a file with an I8 tensor (the DTypeError kept)',
    run: () => loadTensors(written('i8.safetensors', file({ a: entry('I8', [4], [0, 4]) }, zeros(4)))),
    error: DTypeError,
    op: 'loadTensors',
  },
  {
    name: 'loadModule on a truncated file',
    run: () => loadModule(written('cut2.safetensors', valid.subarray(0, 9)), linear(0)),
    error: ValueError,
    op: 'loadModule',
  },
  {
    name: 'loadModule on a file of another model (missing keys)',
    run: () => loadModule(written('other.safetensors', valid), linear(0)),
    error: ValueError,
    op: 'loadModule',
  },
  {
    name: 'loadModule on a file whose shapes differ (the ShapeError kept)',
    run: () => {
      const p = path('wide.safetensors');
      saveModule(p, new nn.Linear(2, 4, new Random(0)));
      return loadModule(p, linear(0));
    },
    error: ShapeError,
    op: 'loadModule',
  },
  {
    name: 'loadModule into null',
    run: () => loadModule(written('ok.safetensors', valid), null as never),
    error: ValueError,
    op: 'loadModule',
  },
  {
    name: 'loadCheckpoint on a plain model file',
    run: () => loadCheckpoint(written('plain.safetensors', valid), { model: linear(0) }),
    error: ValueError,
    op: 'loadCheckpoint',
  },
  {
    name: 'loadCheckpoint on an empty file',
    run: () => loadCheckpoint(written('empty2.safetensors', new Uint8Array(0)), { model: linear(0) }),
    error: ValueError,
    op: 'loadCheckpoint',
  },
  {
    name: 'saveTensors into a missing folder',
    run: () => saveTensors(join(dir, 'nope', 'x.safetensors'), { w: tensor([1]) }),
    error: ValueError,
    op: 'saveTensors',
  },
  {
    name: 'saveTensors of a non-Tensor',
    run: () => saveTensors(path('bad.safetensors'), { w: 'x' as never }),
    error: ValueError,
    op: 'saveTensors',
  },
  {
    name: 'saveModule of null',
    run: () => saveModule(path('null.safetensors'), null as never),
    error: ValueError,
    op: 'saveModule',
  },
  {
    name: 'saveCheckpoint with step −1',
    run: () => saveCheckpoint(path('neg.safetensors'), { model: linear(0), step: -1 }),
    error: ValueError,
    op: 'saveCheckpoint',
  },
  {
    name: 'encodeCheckpoint with step NaN',
    run: () => encodeCheckpoint({ model: linear(0), step: NaN }),
    error: ValueError,
    op: 'encodeCheckpoint',
  },
  {
    name: 'encodeCheckpoint with a stream that is not a Random',
    run: () => encodeCheckpoint({ model: linear(0), step: 0, rngs: { data: {} as never } }),
    error: ValueError,
    op: 'encodeCheckpoint',
  },
  {
    name: 'decodeCheckpoint into an optimiser of another kind (SGD ← AdamW)',
    run: () => {
      const model = linear(0);
      const bytes = encodeCheckpoint({ model, optimizer: new optim.AdamW(model.parameters()), step: 0 });
      const target = linear(1);
      return decodeCheckpoint(bytes, { model: target, optimizer: new optim.SGD(target.parameters()) });
    },
    error: ValueError,
    op: 'decodeCheckpoint',
  },
  {
    name: 'decodeCheckpoint into a model of another shape (the ShapeError kept)',
    run: () =>
      decodeCheckpoint(encodeCheckpoint({ model: linear(0), step: 0 }), { model: new nn.Linear(2, 4, new Random(0)) }),
    error: ShapeError,
    op: 'decodeCheckpoint',
  },
  {
    name: 'decodeCheckpoint asked for a stream the file lacks',
    run: () =>
      decodeCheckpoint(encodeCheckpoint({ model: linear(0), step: 0 }), {
        model: linear(1),
        rngs: { data: new Random(0) },
      }),
    error: ValueError,
    op: 'decodeCheckpoint',
  },
  {
    name: 'Random.setState with three words',
    run: () => new Random(0).setState([1, 2, 3]),
    error: ValueError,
    op: 'Random.setState',
  },
  {
    name: 'Random.setState with a fractional word',
    run: () => new Random(0).setState([1, 2, 3, 0.5]),
    error: ValueError,
    op: 'Random.setState',
  },
  {
    name: 'Random.setState with the all-zero state',
    run: () => new Random(0).setState([0, 0, 0, 0]),
    error: ValueError,
    op: 'Random.setState',
  },
  {
    name: 'Random.setState with null',
    run: () => new Random(0).setState(null as never),
    error: ValueError,
    op: 'Random.setState',
  },
];

describe('adversarial battery: safetensors', () => {
  battery([...safetensorsValues, ...safetensorsErrors]);
});

describe('adversarial battery: files, streams and checkpoints', () => {
  battery([...fileValues, ...fileErrors]);
});
