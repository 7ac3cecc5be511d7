/**
 * safetensors: the encoder's bytes against a file laid out by hand, a hand-written file
 * decoded, bit-exact round trips (float32 and float64, special values, views), every
 * validation error, F16/BF16/I32/I64 against hand-computed bit patterns (and every 16-bit
 * pattern round-tripped), and the Node entry point's files.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DTypeError, Random, tensor, type Tensor, ValueError, type DType } from '@hyperconn/tensor';
import { decodeSafetensors, encodeSafetensors, nn } from '@hyperconn/autograd';
import { halfBitsToNumber, numberToHalfBits } from '../src/safetensors';
import { loadModule, loadTensors, saveModule, saveTensors } from '@hyperconn/autograd/node';
import { shapeArb } from '../../../test/support/arbitraries';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A file from a header (raw bytes, JSON text or an object) and data bytes, with the length field in little-endian. */
function file(header: Uint8Array | string | object, data: ArrayLike<number> = []): Uint8Array {
  const json =
    header instanceof Uint8Array ? header : utf8(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

/** The raw bytes of a tensor's elements in the platform's order (little-endian everywhere we run). */
const bytesOf = (t: Tensor): number[] => {
  const values = t.toTypedArray();
  return Array.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
};

describe('encodeSafetensors', () => {
  it('writes the length, the JSON header padded with spaces to 8 bytes, and little-endian data', () => {
    const bytes = encodeSafetensors(
      new Map([
        ['w', tensor([1, 2], { dtype: 'float32' })],
        ['z', tensor([[3]])],
      ]),
    );
    // float64 before float32 (larger elements first), so every tensor stays aligned
    const json =
      '{"z":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
    const padded = json + ' '.repeat(Math.ceil(json.length / 8) * 8 - json.length);
    const expected = [
      ...[padded.length, 0, 0, 0, 0, 0, 0, 0],
      ...utf8(padded),
      ...[0, 0, 0, 0, 0, 0, 0x08, 0x40], // 3.0 as float64: 0x4008000000000000
      ...[0, 0, 0x80, 0x3f], // 1.0 as float32: 0x3f800000
      ...[0, 0, 0, 0x40], // 2.0 as float32: 0x40000000
    ];
    expect(padded.length).toBeLessThan(256);
    expect(Array.from(bytes)).toEqual(expected);
  });

  it('writes metadata under __metadata__ and refuses bad names and non-string metadata', () => {
    const bytes = encodeSafetensors({ a: tensor([1]) }, { format: 'pt', step: '12' });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
    expect(header.__metadata__).toEqual({ format: 'pt', step: '12' });
    expect(() => encodeSafetensors({ __metadata__: tensor([1]) })).toThrow(ValueError);
    expect(() => encodeSafetensors({ '': tensor([1]) })).toThrow(ValueError);
    expect(() => encodeSafetensors({ a: tensor([1]) }, { n: 3 as unknown as string })).toThrow(
      /metadata 'n' must be a string/,
    );
  });
});

describe('decodeSafetensors', () => {
  it('reads a file written by hand', () => {
    const header =
      '{"__metadata__":{"format":"pt"},"b":{"dtype":"F64","shape":[],"data_offsets":[8,16]},' +
      '"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}}';
    const data = [
      ...[0, 0, 0xc0, 0x3f], // 1.5 as float32
      ...[0, 0, 0, 0xc0], // −2 as float32
      ...[0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f], // 0.1 as float64
    ];
    const { tensors, metadata } = decodeSafetensors(file(header, data));
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['a', 'b']);
    const a = tensors.get('a')!;
    const b = tensors.get('b')!;
    expect([a.dtype, a.shape, a.toArray()]).toEqual(['float32', [2, 1], [[1.5], [-2]]]);
    expect([b.dtype, b.shape, b.item()]).toEqual(['float64', [], 0.1]);
  });

  it('reads from a view into a larger buffer (as Node hands out files) at any byte offset', () => {
    const inner = encodeSafetensors({ x: tensor([1, 2, 3]) });
    const outer = new Uint8Array(inner.length + 5);
    outer.set(inner, 3);
    expect(
      decodeSafetensors(outer.subarray(3, 3 + inner.length))
        .tensors.get('x')!
        .toArray(),
    ).toEqual([1, 2, 3]);
  });

  const entry = (dtype: string, shape: number[], offsets: number[]): object => ({
    dtype,
    shape,
    data_offsets: offsets,
  });
  const cases: [string, Uint8Array, RegExp, typeof ValueError][] = [
    ['a buffer shorter than the length field', new Uint8Array(5), /5 bytes cannot hold/, ValueError],
    [
      'a header longer than the file',
      (() => {
        const f = file('{}');
        f[0] = 200;
        return f;
      })(),
      /header length 200 exceeds the 2 bytes/,
      ValueError,
    ],
    ['a header that is not JSON', file('{"a":'), /not valid UTF-8 JSON/, ValueError],
    ['a header that is not UTF-8', file(new Uint8Array([0x7b, 0xff, 0x7d])), /not valid UTF-8 JSON/, ValueError],
    ['a header that is an array', file('[]'), /not a JSON object/, ValueError],
    [
      'an unsupported dtype',
      file({ a: entry('I8', [4], [0, 4]) }, new Array(4).fill(0)),
      /tensor 'a' has dtype "I8"; only F64, F32, F16, BF16, I64 and I32 are supported/,
      DTypeError,
    ],
    [
      'a negative axis',
      file({ a: entry('F32', [-1], [0, 4]) }, new Array(4).fill(0)),
      /shape \[-1\] is not a list of non-negative integers/,
      ValueError,
    ],
    ['reversed offsets', file({ a: entry('F32', [1], [4, 0]) }, new Array(4).fill(0)), /begin ≤ end/, ValueError],
    [
      'offsets that do not match the shape',
      file({ a: entry('F32', [2], [0, 4]) }, new Array(4).fill(0)),
      /span 4 bytes, but shape \[2\] of F32 needs 8/,
      ValueError,
    ],
    [
      'a gap',
      file({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, new Array(12).fill(0)),
      /'b' starts at byte 8 .* ends at 4/,
      ValueError,
    ],
    [
      'overlapping tensors',
      file({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]) }, new Array(12).fill(0)),
      /'b' starts at byte 4 .* ends at 8/,
      ValueError,
    ],
    [
      'data past the end',
      file({ a: entry('F64', [2], [0, 16]) }, new Array(8).fill(0)),
      /ends at byte 16, past the 8 bytes/,
      ValueError,
    ],
    [
      'trailing bytes',
      file({ a: entry('F32', [1], [0, 4]) }, new Array(6).fill(0)),
      /cover 4 bytes of data, but the file holds 6/,
      ValueError,
    ],
    ['non-string metadata', file({ __metadata__: { n: 1 } }), /metadata 'n' is not a string/, ValueError],
  ];
  for (const [what, bytes, message, type] of cases) {
    it(`rejects ${what}`, () => {
      expect(() => decodeSafetensors(bytes)).toThrow(type);
      expect(() => decodeSafetensors(bytes)).toThrow(message);
    });
  }

  it('reads an ArrayBuffer as well as a Uint8Array, and refuses anything else with a ValueError', () => {
    const bytes = encodeSafetensors({ x: tensor([1, 2]) });
    expect(decodeSafetensors(bytes.slice().buffer).tensors.get('x')!.toArray()).toEqual([1, 2]);
    for (const bad of [
      null,
      undefined,
      'bytes',
      [1, 2, 3],
      new Float64Array(2),
      new DataView(new ArrayBuffer(8)),
      {},
    ]) {
      expect(() => decodeSafetensors(bad as never)).toThrow(ValueError);
      expect(() => decodeSafetensors(bad as never)).toThrow(
        /^decodeSafetensors: bytes must be a Uint8Array or an ArrayBuffer, got /,
      );
    }
  });

  it('refuses a repeated name (JSON.parse would keep the last silently), at the top level or inside an entry', () => {
    const a = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    expect(() => decodeSafetensors(file(`{"w":${a},"w":${a}}`, [0, 0, 0, 0]))).toThrow(
      /^decodeSafetensors: tensor name 'w' appears more than once in the header$/,
    );
    expect(() => decodeSafetensors(file(`{"w":${a}, "v" :{}, "\\u0077" : ${a}}`, [0, 0, 0, 0]))).toThrow(
      /tensor name 'w' appears more than once/,
    );
    expect(() =>
      decodeSafetensors(file(`{"w":{"dtype":"F32","shape":[1],"dtype":"F64","data_offsets":[0,4]}}`, [0, 0, 0, 0])),
    ).toThrow(/^decodeSafetensors: key 'dtype' appears more than once in the header entry of tensor 'w'$/);
    expect(() => decodeSafetensors(file('{"__metadata__":{"a":"1","a":"2"}}'))).toThrow(
      /key 'a' appears more than once in the header entry of __metadata__/,
    );
    expect(() => decodeSafetensors(file('{"__metadata__":{},"__metadata__":{}}'))).toThrow(
      /__metadata__ appears more than once/,
    );
    // the same key in different objects, and key-like strings inside values, are fine
    const ok = decodeSafetensors(file(`{"__metadata__":{"dtype":"x: \\"w\\":"},"w":${a}}`, [0, 0, 0x80, 0x3f]));
    expect([ok.metadata, ok.tensors.get('w')!.toArray()]).toEqual([{ dtype: 'x: "w":' }, [1]]);
  });

  it('quotes the right count when the header length exceeds the file or the format limit', () => {
    const tooLong = file('{}');
    new DataView(tooLong.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    expect(() => decodeSafetensors(tooLong)).toThrow(
      /^decodeSafetensors: header length 18446744073709551615 exceeds the 2 bytes after the length field/,
    );
    // within the file but above the format's 100 MB header limit: the limit is quoted, not the file size
    const big = new Uint8Array(8 + 100_000_001);
    new DataView(big.buffer).setBigUint64(0, 100_000_001n, true);
    expect(() => decodeSafetensors(big)).toThrow(
      /^decodeSafetensors: header length 100000001 exceeds the 100000000-byte limit of the format$/,
    );
  });

  it('names what is wrong in entries: dtype not a string, shape not integers, a first tensor not at 0', () => {
    const data = new Array(8).fill(0);
    expect(() => decodeSafetensors(file({ a: { dtype: 32, shape: [2], data_offsets: [0, 8] } }, data))).toThrow(
      /tensor 'a' has dtype 32; only F64, F32/,
    );
    expect(() => decodeSafetensors(file({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, data))).toThrow(
      /tensor 'a': shape \[1.5\] is not a list/,
    );
    expect(() => decodeSafetensors(file({ a: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, data))).toThrow(
      /tensor 'a': shape "2" is not a list/,
    );
    expect(() => decodeSafetensors(file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, '8'] } }, data))).toThrow(
      /tensor 'a': data_offsets \[0,"8"\]/,
    );
    expect(() => decodeSafetensors(file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data))).toThrow(
      /tensor 'a' starts at byte 4 of the data, but the data starts at 0/,
    );
    expect(() => decodeSafetensors(file({ a: 7 }))).toThrow(/tensor 'a': its header entry is not an object/);
    expect(() => decodeSafetensors(file('null'))).toThrow(/^decodeSafetensors: the header is null, not a JSON object$/);
    expect(() => decodeSafetensors(file('"w"'))).toThrow(/the header is a string, not a JSON object/);
  });

  it("keeps a tensor or a metadata key named '__proto__' as a key", () => {
    const back = decodeSafetensors(
      encodeSafetensors(
        new Map([['__proto__', tensor([5])]]),
        JSON.parse('{"__proto__":"m"}') as Record<string, string>,
      ),
    );
    expect([...back.tensors.keys()]).toEqual(['__proto__']);
    expect(Object.keys(back.metadata)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(back.metadata)).toBe(Object.prototype);
  });

  it('the encoder refuses non-record tensors and metadata with ValueErrors', () => {
    expect(() => encodeSafetensors(null as never)).toThrow(
      /^encodeSafetensors: tensors must be a Map or a record of Tensors, got null/,
    );
    expect(() => encodeSafetensors({ a: tensor([1]) }, null as never)).toThrow(
      /^encodeSafetensors: metadata must be a record of strings, got null/,
    );
    expect(() => encodeSafetensors(new Map([[3 as never, tensor([1])]]))).toThrow(
      /^encodeSafetensors: tensor names must be strings, got number/,
    );
  });
});

describe('F16, BF16, I32 and I64', () => {
  /** A one-tensor file of 16-bit patterns (little-endian) in `format`. */
  const halfFile = (format: string, patterns: number[]): Uint8Array =>
    file(
      { h: { dtype: format, shape: [patterns.length], data_offsets: [0, 2 * patterns.length] } },
      patterns.flatMap((b) => [b & 0xff, b >> 8]),
    );
  // [bit pattern, value], the values worked out by hand from sign·2^(e−bias)·(1 + f/2^fracBits)
  const f16: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0x555 * 2 ** -12], // 0.333251953125, the F16 nearest 1/3
    [0x7bff, 65504], // largest finite
    [0xfbff, -65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const bf16: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -133], // smallest subnormal
    [0x007f, 127 * 2 ** -133], // largest subnormal
    [0x0080, 2 ** -126], // smallest normal
    [0x3f80, 1],
    [0xc000, -2],
    [0x3eab, 0.333984375], // (128 + 43)/128 · 2^-2, the BF16 nearest 1/3
    [0x7f7f, 255 * 2 ** 120], // largest finite, 3.3895313892515355e38
    [0xff7f, -255 * 2 ** 120],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];

  for (const [format, table, nans] of [
    ['F16', f16, [0x7e00, 0x7c01, 0xfe00]],
    ['BF16', bf16, [0x7fc0, 0x7f81, 0xffc0]],
  ] as const) {
    it(`widens ${format} to float32 exactly: subnormals, ±0, ±∞, NaN, the largest finite`, () => {
      const { tensors, storedDtypes } = decodeSafetensors(halfFile(format, [...table.map(([b]) => b), ...nans]));
      const h = tensors.get('h')!;
      expect([h.dtype, storedDtypes.get('h')]).toEqual(['float32', format]);
      const values = Array.from(h.toTypedArray());
      // toEqual compares numbers with Object.is: −0 must come back as −0
      expect(values.slice(0, table.length)).toEqual(table.map(([, value]) => value));
      expect(values.slice(table.length).every(Number.isNaN)).toBe(true);
    });

    it(`${format}: every one of the 65536 patterns decodes to a float32 and encodes back to itself`, () => {
      const wrong: number[] = [];
      let nanCount = 0;
      for (let bits = 0; bits < 0x10000; bits++) {
        const value = halfBitsToNumber(bits, format);
        if (Number.isNaN(value)) nanCount++;
        else if (Math.fround(value) !== value || numberToHalfBits(value, format) !== bits) wrong.push(bits);
      }
      expect(wrong).toEqual([]);
      // 2·(2^fracBits − 1) NaN patterns: all-ones exponent, non-zero fraction, either sign
      expect(nanCount).toBe(format === 'F16' ? 2046 : 254);
      const back = decodeSafetensors(
        encodeSafetensors({ h: tensor(table.map(([, v]) => v)) }, {}, { storeAs: format }),
      );
      expect(Array.from(back.tensors.get('h')!.toTypedArray())).toEqual(table.map(([, v]) => v));
      expect(back.storedDtypes.get('h')).toBe(format);
    });
  }

  it('writes F16 rounded to nearest, ties to even, straight from the double', () => {
    const cases: [number, number][] = [
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1 + 2^-10: to the even 1
      [1 + 3 * 2 ** -11, 0x3c02], // halfway between 1 + 2^-10 and 1 + 2^-9: to the even 1 + 2^-9
      [1 + 2 ** -11 + 2 ** -40, 0x3c01], // just above the tie
      [2 ** -25, 0x0000], // half the smallest subnormal: ties to 0
      [3 * 2 ** -25, 0x0002], // 1.5 subnormal units: ties to 2
      [2 ** -25 + 2 ** -60, 0x0001],
      [-(2 ** -14 - 2 ** -25), 0x8400], // rounds up into the smallest normal (negative)
      [65519.99, 0x7bff], // below the halfway point to 2^16: the largest finite
      [2047.5, 0x6800], // halfway between 2047 (odd mantissa) and 2048: to 2048
      [2046.5, 0x67fe], // halfway between 2046 (even) and 2047: to 2046
      [NaN, 0x7e00],
      [-0, 0x8000],
      [-Infinity, 0xfc00],
      [1 / 3, 0x3555],
    ];
    for (const [value, bits] of cases) expect([value, numberToHalfBits(value, 'F16')]).toEqual([value, bits]);
    // BF16 ties to even too, and not via float32: 1 + 2^-8 + 2^-30 is above the tie although fround is on it
    expect(numberToHalfBits(1 + 2 ** -8, 'BF16')).toBe(0x3f80);
    expect(numberToHalfBits(1 + 3 * 2 ** -8, 'BF16')).toBe(0x3f82);
    expect(Math.fround(1 + 2 ** -8 + 2 ** -30)).toBe(1 + 2 ** -8);
    expect(numberToHalfBits(1 + 2 ** -8 + 2 ** -30, 'BF16')).toBe(0x3f81);
  });

  it('refuses a finite value that would round to ±∞, and bad storeAs options, with ValueErrors', () => {
    expect(() => encodeSafetensors({ w: tensor([1, 65520]) }, {}, { storeAs: 'F16' })).toThrow(
      /^encodeSafetensors: tensor 'w' holds 65520 at flat index 1, beyond the largest finite F16/,
    );
    expect(() => encodeSafetensors({ w: tensor([3.4e38]) }, {}, { storeAs: 'BF16' })).toThrow(ValueError);
    // infinities themselves are stored as such
    expect(numberToHalfBits(Infinity, 'BF16')).toBe(0x7f80);
    expect(() => encodeSafetensors({ w: tensor([1]) }, {}, { storeAs: 'F8' as never })).toThrow(
      /^encodeSafetensors: storeAs must be 'F16', 'BF16' or a record/,
    );
    expect(() => encodeSafetensors({ w: tensor([1]) }, {}, { storeAs: { v: 'F16' } })).toThrow(
      /storeAs names 'v', which is not a tensor/,
    );
    expect(() => encodeSafetensors({ w: tensor([1]) }, {}, { storeAs: { w: 'I8' as never } })).toThrow(
      /storeAs 'w' must be 'F64', 'F32', 'F16' or 'BF16', got "I8"/,
    );
  });

  it('stores per tensor on request, keeps the others, and aligns each to its element size', () => {
    const bytes = encodeSafetensors(
      { a: tensor([1, 2, 3]), b: tensor([0.5], { dtype: 'float32' }), c: tensor([0.25]) },
      {},
      { storeAs: { a: 'BF16', c: 'F32' } },
    );
    const { tensors, storedDtypes } = decodeSafetensors(bytes);
    expect([...storedDtypes]).toEqual([
      ['b', 'F32'],
      ['c', 'F32'],
      ['a', 'BF16'],
    ]);
    expect([...tensors].map(([name, t]) => [name, t.dtype, t.toArray()])).toEqual([
      ['b', 'float32', [0.5]],
      ['c', 'float32', [0.25]],
      ['a', 'float32', [1, 2, 3]],
    ]);
  });

  it("agrees with PyTorch's own F16/BF16 rounding and reads its I64/I32 (a file PyTorch wrote)", () => {
    // written by interop/pytorch/make_fixtures.py: float32-exact values, so torch rounds them once
    const path = new URL('../../../test/fixtures/interop/dtypes.safetensors', import.meta.url);
    const { tensors, storedDtypes } = decodeSafetensors(readFileSync(path));
    expect([...storedDtypes.values()].sort()).toEqual(['BF16', 'F16', 'F64', 'I32', 'I64']);
    const values = Array.from(tensors.get('values')!.toTypedArray());
    expect(values.length).toBeGreaterThan(20);
    for (const [name, format] of [
      ['f16', 'F16'],
      ['bf16', 'BF16'],
    ] as const) {
      const ours = values.map((v) => halfBitsToNumber(numberToHalfBits(v, format), format));
      expect(Array.from(tensors.get(name)!.toTypedArray())).toEqual(ours);
    }
    expect(tensors.get('i64')!.toArray()).toEqual([-(2 ** 53), 0, 2 ** 60, 12345678901]);
    expect(tensors.get('i32')!.toArray()).toEqual([-(2 ** 31), 7]);
  });

  it('reads I32 and I64 as float64, and refuses an I64 value that is not exactly a double', () => {
    const ints = new Uint8Array(4 * 3 + 8 * 3);
    const view = new DataView(ints.buffer);
    for (const [i, v] of [-2147483648, 7, 2147483647].entries()) view.setInt32(8 * 3 + 4 * i, v, true);
    for (const [i, v] of [-(2n ** 53n), 2n ** 60n, 12345678901n].entries()) view.setBigInt64(8 * i, v, true);
    const { tensors, storedDtypes } = decodeSafetensors(
      file(
        {
          long: { dtype: 'I64', shape: [3], data_offsets: [0, 24] },
          int: { dtype: 'I32', shape: [3], data_offsets: [24, 36] },
        },
        ints,
      ),
    );
    expect([...tensors].map(([name, t]) => [name, t.dtype, t.toArray()])).toEqual([
      ['long', 'float64', [-(2 ** 53), 2 ** 60, 12345678901]],
      ['int', 'float64', [-2147483648, 7, 2147483647]],
    ]);
    expect(storedDtypes.get('long')).toBe('I64');
    view.setBigInt64(8, 2n ** 53n + 1n, true);
    expect(() =>
      decodeSafetensors(file({ long: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, ints.subarray(0, 24))),
    ).toThrow(
      /^decodeSafetensors: tensor 'long' \(I64\) holds 9007199254740993 at flat index 1, which is not exactly a/,
    );
  });
});

describe('round trips', () => {
  const tensorsArb = fc.array(
    fc.tuple(
      fc.constantFrom<DType>('float64', 'float32'),
      shapeArb({ maxRank: 3, maxDim: 4 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 1000 }),
    ),
    { maxLength: 5 },
  );

  it('gives back bit-identical tensors (float32 and float64, any shape, views) and metadata', () => {
    fc.assert(
      fc.property(tensorsArb, (specs) => {
        const input = new Map<string, Tensor>();
        specs.forEach(([dtype, shape, transposed, seed], i) => {
          const t = new Random(seed).normal(shape, { dtype });
          input.set(`layer.${i}.${dtype}`, transposed && t.ndim >= 2 ? t.mT : t);
        });
        const bytes = encodeSafetensors(input, { note: 'ünïcode ✓' });
        const { tensors, metadata } = decodeSafetensors(bytes);
        expect(metadata).toEqual({ note: 'ünïcode ✓' });
        expect([...tensors.keys()].sort()).toEqual([...input.keys()].sort());
        for (const [name, t] of input) {
          const back = tensors.get(name)!;
          expect([back.dtype, back.shape]).toEqual([t.dtype, t.shape]);
          expect(bytesOf(back)).toEqual(bytesOf(t));
        }
        // the data section starts 8-aligned and every tensor at a multiple of its element size
        const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(headerLength % 8).toBe(0);
        const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
          string,
          { dtype: string; data_offsets: number[] }
        >;
        for (const [name, e] of Object.entries(header)) {
          if (name !== '__metadata__') expect(e.data_offsets[0]! % (e.dtype === 'F64' ? 8 : 4)).toBe(0);
        }
      }),
    );
  });

  it('keeps special values bit for bit', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const t = tensor(
        [NaN, Infinity, -Infinity, -0, 0, 5e-324, 1.401298464324817e-45, 3.4028234663852886e38, -1e-310],
        { dtype },
      );
      const back = decodeSafetensors(encodeSafetensors({ t })).tensors.get('t')!;
      expect(bytesOf(back)).toEqual(bytesOf(t));
    }
  });
});

describe('@hyperconn/autograd/node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hyperconn-safetensors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saveModule / loadModule round-trip a model through a file', () => {
    const rng = new Random(0);
    const a = new nn.Sequential(
      new nn.Linear(3, 4, rng),
      new nn.GELU(),
      new nn.Linear(4, 2, rng, { dtype: 'float64' }),
    );
    const b = new nn.Sequential(new nn.Linear(3, 4, rng), new nn.GELU(), new nn.Linear(4, 2, rng));
    const path = join(dir, 'model.safetensors');
    saveModule(path, a, { epoch: '3' });
    expect(loadModule(path, b)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const x = rng.normal([5, 3]);
    expect(b.forward(x).toArray()).toEqual(a.forward(x).toArray());
    expect(loadTensors(path).metadata).toEqual({ epoch: '3' });
    const wrong = new nn.Sequential(new nn.Linear(3, 4, rng));
    expect(() => loadModule(path, wrong)).toThrow(/unexpected keys '2\.bias', '2\.weight'/);
  });

  it('saveTensors / loadTensors keep names, dtypes and values', () => {
    const path = join(dir, 'tensors.safetensors');
    const input = {
      x: tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { dtype: 'float32' },
      ),
      y: tensor([0.1]),
    };
    saveTensors(path, input);
    const { tensors } = loadTensors(path);
    expect([...tensors].map(([n, t]) => [n, t.dtype, t.toArray()])).toEqual([
      ['y', 'float64', [0.1]],
      [
        'x',
        'float32',
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ]);
  });
});
