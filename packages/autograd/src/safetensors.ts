/**
 * The safetensors format (https://github.com/huggingface/safetensors), browser-safe: bytes in,
 * bytes out. Layout: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, …, "__metadata__"?: { string: string } }`,
 * then the raw little-endian tensor data, offsets relative to its start.
 *
 * Stored dtypes: F64 and F32 load as themselves. F16 and BF16 (the common formats on the Hub)
 * are widened to float32 on load, exactly: every F16 and BF16 value, subnormals, ±0, ±∞ and NaN
 * included, is a float32. I32 and I64 (token ids) load as float64, I64 only when every value is
 * exactly representable (|v| ≤ 2⁵³, or a larger value that happens to be a double). Writing F16
 * or BF16 is on request (`storeAs`), rounded to nearest, ties to even, from the tensor's value.
 */
import { DTypeError, fmtShape, sizeOf, Tensor, ValueError, type DType, type TypedArray } from '@hyperconn/tensor';

/** The file's tensors (in data order) and its free-form string metadata. */
export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
  /** The dtype each tensor had in the file ('F16', 'BF16', 'I64', … before widening). */
  storedDtypes: Map<string, 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32'>;
}

type StoredDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';

const METADATA_KEY = '__metadata__';
/** The reference implementation refuses larger headers; so do we, before parsing. */
const MAX_HEADER_BYTES = 100_000_000;
const FORMAT_DTYPE: Record<DType, StoredDType> = { float64: 'F64', float32: 'F32' };
const ITEM_BYTES: Record<StoredDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };
/** The tensor dtype each stored dtype loads as. */
const LOADS_AS: Record<StoredDType, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float32',
  BF16: 'float32',
  I64: 'float64',
  I32: 'float64',
};

function storedDtype(name: string, code: unknown): StoredDType {
  if (typeof code === 'string' && Object.hasOwn(ITEM_BYTES, code)) return code as StoredDType;
  throw new DTypeError(
    `decodeSafetensors: tensor '${name}' has dtype ${JSON.stringify(code)}; ` +
      'only F64, F32, F16, BF16, I64 and I32 are supported',
  );
}

/** Bit layouts of the two 16-bit floats: fraction bits and exponent bits (sign bit above them). */
const HALF_FORMATS = { F16: { fracBits: 10, expBits: 5 }, BF16: { fracBits: 7, expBits: 8 } } as const;

/** The value of the 16-bit pattern `bits` in F16 or BF16: exact in float32 (and float64). */
export function halfBitsToNumber(bits: number, format: 'F16' | 'BF16'): number {
  const { fracBits, expBits } = HALF_FORMATS[format];
  const bias = 2 ** (expBits - 1) - 1;
  const sign = bits & (1 << (expBits + fracBits)) ? -1 : 1;
  const exponent = (bits >> fracBits) & ((1 << expBits) - 1);
  const fraction = bits & ((1 << fracBits) - 1);
  if (exponent === (1 << expBits) - 1) return fraction === 0 ? sign * Infinity : NaN;
  // subnormals (exponent 0) have no implicit leading 1 and the exponent of the smallest normal
  if (exponent === 0) return sign * fraction * 2 ** (1 - bias - fracBits);
  return sign * (2 ** fracBits + fraction) * 2 ** (exponent - bias - fracBits);
}

/** v rounded to the nearest integer, ties to even (v ≥ 0, a double: v − ⌊v⌋ is exact). */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const rest = v - floor;
  if (rest !== 0.5) return rest < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The F16 or BF16 bit pattern nearest to `value` (round to nearest, ties to even, from the
 * double itself, so there is no double rounding through float32). NaN gives the quiet NaN
 * (0x7e00, 0x7fc0), ±∞ and ±0 keep their sign; a finite value past the largest finite half
 * rounds to ±∞ as IEEE 754 says (`encodeSafetensors` refuses that case).
 */
export function numberToHalfBits(value: number, format: 'F16' | 'BF16'): number {
  const { fracBits, expBits } = HALF_FORMATS[format];
  const bias = 2 ** (expBits - 1) - 1;
  const signBit = value < 0 || Object.is(value, -0) ? 1 << (expBits + fracBits) : 0;
  const infinity = ((1 << expBits) - 1) << fracBits;
  if (Number.isNaN(value)) return infinity | (1 << (fracBits - 1));
  const a = Math.abs(value);
  if (a === Infinity) return signBit | infinity;
  const minExponent = 1 - bias;
  // subnormal range, in units of the smallest subnormal; a result of 2^fracBits is the smallest normal
  if (a < 2 ** minExponent) return signBit | roundHalfEven(a * 2 ** (fracBits - minExponent));
  let exponent = Math.floor(Math.log2(a));
  // log2 may be off by one next to powers of two: fix it against exact powers
  if (2 ** exponent > a) exponent--;
  else if (2 ** (exponent + 1) <= a) exponent++;
  let mantissa = roundHalfEven(a * 2 ** (fracBits - exponent)); // in [2^fracBits, 2^(fracBits+1)]
  if (mantissa === 2 ** (fracBits + 1)) {
    mantissa /= 2;
    exponent++;
  }
  if (exponent > bias) return signBit | infinity;
  return signBit | ((exponent + bias) << fracBits) | (mantissa - 2 ** fracBits);
}

/**
 * The bytes of a safetensors file holding `tensors` (any strides; written in C order) and
 * optional string `metadata`. As the reference writer, tensors are laid out by decreasing
 * element size and then by name, and the header is padded with spaces to a multiple of 8
 * bytes, so every tensor's data starts aligned to its element size.
 *
 * `options.storeAs` stores tensors as F16 or BF16 instead of their own dtype: one format for
 * all, or a record from tensor name to format ('F64', 'F32', 'F16', 'BF16'; unnamed tensors
 * keep their dtype). Each value is rounded to the nearest half, ties to even, directly from the
 * tensor's value; NaN is stored as the quiet NaN and ±∞, ±0 keep their sign. A finite value
 * that would round to ±∞ (|v| ≥ 65520 for F16, ≥ 2¹²⁸·(1 − 2⁻⁹) for BF16) is a ValueError
 * naming the tensor, rather than an infinity written silently.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> = {},
  options: { storeAs?: 'F16' | 'BF16' | Readonly<Record<string, 'F64' | 'F32' | 'F16' | 'BF16'>> } = {},
): Uint8Array {
  if (typeof tensors !== 'object' || tensors === null) {
    throw new ValueError(
      `encodeSafetensors: tensors must be a Map or a record of Tensors, got ${describeValue(tensors)}`,
    );
  }
  if (typeof metadata !== 'object' || metadata === null) {
    throw new ValueError(`encodeSafetensors: metadata must be a record of strings, got ${describeValue(metadata)}`);
  }
  const entries = [...(tensors instanceof Map ? tensors : Object.entries(tensors))] as [string, Tensor][];
  for (const [name, t] of entries) {
    if (typeof name !== 'string')
      throw new ValueError(`encodeSafetensors: tensor names must be strings, got ${describeValue(name)}`);
    if (name === '' || name === METADATA_KEY)
      throw new ValueError(`encodeSafetensors: '${name}' is not a valid tensor name`);
    if (!(t instanceof Tensor)) throw new ValueError(`encodeSafetensors: '${name}' is not a Tensor`);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string')
      throw new ValueError(`encodeSafetensors: metadata '${key}' must be a string, got ${typeof value}`);
  }
  const stored = storedFormats(entries, options);
  entries.sort(
    ([na], [nb]) => ITEM_BYTES[stored.get(nb)!] - ITEM_BYTES[stored.get(na)!] || (na < nb ? -1 : na > nb ? 1 : 0),
  );

  // null prototype: a tensor named '__proto__' must become a key, not replace the prototype
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = Object.assign(Object.create(null) as object, metadata);
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.size * ITEM_BYTES[stored.get(name)!];
    header[name] = { dtype: stored.get(name)!, shape: [...t.shape], data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerBytes + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerBytes);

  let pos = 8 + headerBytes;
  for (const [name, t] of entries) {
    const values = t.toTypedArray();
    const format = stored.get(name)!;
    if (format === 'F64') for (let i = 0; i < values.length; i++, pos += 8) view.setFloat64(pos, values[i]!, true);
    else if (format === 'F32') for (let i = 0; i < values.length; i++, pos += 4) view.setFloat32(pos, values[i]!, true);
    else {
      for (let i = 0; i < values.length; i++, pos += 2) {
        const bits = numberToHalfBits(values[i]!, format as 'F16' | 'BF16');
        if ((bits & 0x7fff) === (format === 'F16' ? 0x7c00 : 0x7f80) && Number.isFinite(values[i]!)) {
          throw new ValueError(
            `encodeSafetensors: tensor '${name}' holds ${values[i]} at flat index ${i}, ` +
              `beyond the largest finite ${format} (it would be stored as ±Infinity)`,
          );
        }
        view.setUint16(pos, bits, true);
      }
    }
  }
  return out;
}

/** The format each tensor is stored in: its own dtype unless `options.storeAs` says otherwise. */
function storedFormats(
  entries: readonly [string, Tensor][],
  options: { storeAs?: 'F16' | 'BF16' | Readonly<Record<string, 'F64' | 'F32' | 'F16' | 'BF16'>> },
): Map<string, StoredDType> {
  if (typeof options !== 'object' || options === null)
    throw new ValueError(`encodeSafetensors: options must be an object, got ${describeValue(options)}`);
  const { storeAs } = options;
  const isFloat = (f: unknown): f is 'F64' | 'F32' | 'F16' | 'BF16' =>
    f === 'F64' || f === 'F32' || f === 'F16' || f === 'BF16';
  if (storeAs !== undefined && !isFloat(storeAs) && (typeof storeAs !== 'object' || storeAs === null)) {
    throw new ValueError(
      "encodeSafetensors: storeAs must be 'F16', 'BF16' or a record of tensor names to formats, " +
        `got ${describeValue(storeAs)}`,
    );
  }
  const names = new Set(entries.map(([name]) => name));
  if (typeof storeAs === 'object') {
    for (const [name, format] of Object.entries(storeAs)) {
      if (!names.has(name)) throw new ValueError(`encodeSafetensors: storeAs names '${name}', which is not a tensor`);
      if (!isFloat(format)) {
        throw new ValueError(
          `encodeSafetensors: storeAs '${name}' must be 'F64', 'F32', 'F16' or 'BF16', got ${JSON.stringify(format)}`,
        );
      }
    }
  }
  return new Map(
    entries.map(([name, t]) => {
      const chosen = typeof storeAs === 'string' ? storeAs : storeAs?.[name];
      return [name, chosen ?? FORMAT_DTYPE[t.dtype]];
    }),
  );
}

interface Entry {
  name: string;
  dtype: StoredDType;
  shape: number[];
  begin: number;
  end: number;
}

/** `record[key] = value` as an own property, even for the key '__proto__'. */
function setOwn(record: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The bytes of a Uint8Array (Node's Buffer included) or an ArrayBuffer; ValueError for anything else. */
function asBytes(input: unknown): Uint8Array {
  // tags rather than instanceof, so buffers from another realm (a worker, vm) pass too
  if (ArrayBuffer.isView(input) && Object.prototype.toString.call(input) === '[object Uint8Array]')
    return input as Uint8Array;
  if (Object.prototype.toString.call(input) === '[object ArrayBuffer]') return new Uint8Array(input as ArrayBuffer);
  throw new ValueError(`decodeSafetensors: bytes must be a Uint8Array or an ArrayBuffer, got ${describeValue(input)}`);
}

/** A short description of a value of unknown type, for error messages. */
function describeValue(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'object') return Object.prototype.toString.call(x).slice(8, -1);
  return typeof x;
}

/** `an array`, `null`, `a number`, … for a parsed JSON value. */
function describeJson(x: unknown): string {
  if (x === null) return 'null';
  return Array.isArray(x) ? 'an array' : `a ${typeof x}`;
}

/**
 * The first key that appears twice in one object of the JSON `text` (valid JSON), and the
 * top-level key it sits under (null for a repeated top-level key). JSON.parse silently keeps
 * the last value, which would make a tensor named twice ambiguous.
 */
function repeatedKey(text: string): { key: string; owner: string | null } | null {
  const open: (Set<string> | null)[] = []; // per open container: its keys so far, null for arrays
  let owner: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') open.push(new Set());
    else if (c === '[') open.push(null);
    else if (c === '}' || c === ']') open.pop();
    else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = open[open.length - 1];
      let next = end + 1;
      while (next < text.length && ' \t\n\r'.includes(text[next]!)) next++;
      if (keys !== null && keys !== undefined && text[next] === ':') {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return { key, owner: open.length === 1 ? null : owner };
        keys.add(key);
        if (open.length === 1) owner = key;
      }
      i = end;
    }
  }
  return null;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function parseEntry(name: string, raw: unknown): Entry {
  const fail = (what: string): never => {
    throw new ValueError(`decodeSafetensors: tensor '${name}': ${what}`);
  };
  if (!isRecord(raw)) return fail('its header entry is not an object');
  const dtype = storedDtype(name, raw.dtype);
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every(isCount))
    return fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  const offsets = raw.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    return fail(`data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] of integers with begin ≤ end`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = sizeOf(shape) * ITEM_BYTES[dtype];
  if (end - begin !== expected) {
    fail(
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes, ` +
        `but shape ${fmtShape(shape)} of ${raw.dtype} needs ${expected}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/**
 * Reads a safetensors file from a Uint8Array (a Node Buffer, a view at any offset) or an
 * ArrayBuffer. Validates the header length against the buffer and the format's 100 MB limit,
 * the JSON (an object, no key repeated: a tensor named twice is refused), every entry
 * (supported dtype, shape of non-negative integers, offsets matching the shape's byte size),
 * and that the tensors' data tile the data section exactly: contiguous, without overlaps,
 * gaps or trailing bytes. Anything else is a ValueError (DTypeError for an unsupported dtype)
 * starting `decodeSafetensors:` and naming the tensor or field at fault. Tensors come back in
 * the order of their data, each with its own storage: F64 as float64, F32 as float32, F16 and
 * BF16 widened exactly to float32, I32 and I64 as float64 (an I64 value that is not exactly a
 * double is a ValueError); `storedDtypes` says what each tensor was in the file.
 */
export function decodeSafetensors(input: Uint8Array | ArrayBuffer): Safetensors {
  const bytes = asBytes(input);
  if (bytes.length < 8)
    throw new ValueError(`decodeSafetensors: ${bytes.length} bytes cannot hold the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  // two limits, two messages: each quotes the count it was compared with
  if (declared > BigInt(bytes.length - 8)) {
    throw new ValueError(
      `decodeSafetensors: header length ${declared} exceeds the ${bytes.length - 8} bytes after the length field ` +
        '(the file is truncated or not safetensors)',
    );
  }
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw new ValueError(
      `decodeSafetensors: header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit of the format`,
    );
  }
  const headerBytes = Number(declared);
  let text: string;
  let header: unknown;
  try {
    // a copy: TextDecoder refuses views of shared memory
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.slice(8, 8 + headerBytes));
    header = JSON.parse(text);
  } catch (e) {
    throw new ValueError(
      `decodeSafetensors: the ${headerBytes}-byte header is not valid UTF-8 JSON (${(e as Error).message})`,
    );
  }
  if (!isRecord(header))
    throw new ValueError(`decodeSafetensors: the header is ${describeJson(header)}, not a JSON object`);
  const repeated = repeatedKey(text);
  if (repeated !== null) {
    const { key, owner } = repeated;
    throw new ValueError(
      owner === null
        ? `decodeSafetensors: ${key === METADATA_KEY ? METADATA_KEY : `tensor name '${key}'`} ` +
            'appears more than once in the header'
        : `decodeSafetensors: key '${key}' appears more than once in the header entry of ` +
            (owner === METADATA_KEY ? METADATA_KEY : `tensor '${owner}'`),
    );
  }

  const metadata: Record<string, string> = {};
  const rawMetadata = header[METADATA_KEY];
  if (rawMetadata !== undefined) {
    if (!isRecord(rawMetadata)) throw new ValueError(`decodeSafetensors: ${METADATA_KEY} is not an object`);
    for (const [key, value] of Object.entries(rawMetadata)) {
      if (typeof value !== 'string') throw new ValueError(`decodeSafetensors: metadata '${key}' is not a string`);
      setOwn(metadata, key, value);
    }
  }

  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, raw]) => parseEntry(name, raw))
    .sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  let expectedBegin = 0;
  let previous: string | null = null;
  for (const e of entries) {
    if (e.begin !== expectedBegin) {
      const before =
        previous === null ? 'the data starts at 0' : `the previous tensor '${previous}' ends at ${expectedBegin}`;
      throw new ValueError(
        `decodeSafetensors: tensor '${e.name}' starts at byte ${e.begin} of the data, but ${before} ` +
          '(the data must be contiguous, without gaps or overlaps)',
      );
    }
    if (e.end > dataBytes)
      throw new ValueError(
        `decodeSafetensors: tensor '${e.name}' ends at byte ${e.end}, past the ${dataBytes} bytes of data`,
      );
    expectedBegin = e.end;
    previous = e.name;
  }
  if (expectedBegin !== dataBytes) {
    throw new ValueError(
      `decodeSafetensors: the tensors cover ${expectedBegin} bytes of data, but the file holds ${dataBytes}`,
    );
  }

  const tensors = new Map<string, Tensor>();
  const storedDtypes = new Map<string, StoredDType>();
  for (const e of entries) {
    tensors.set(e.name, new Tensor(readValues(view, dataStart + e.begin, e), e.shape));
    storedDtypes.set(e.name, e.dtype);
  }
  return { tensors, metadata, storedDtypes };
}

/** The values of entry `e` starting at byte `start` of `view`, widened to its tensor dtype. */
function readValues(view: DataView, start: number, e: Entry): TypedArray {
  const n = sizeOf(e.shape);
  const values: TypedArray = LOADS_AS[e.dtype] === 'float64' ? new Float64Array(n) : new Float32Array(n);
  let pos = start;
  switch (e.dtype) {
    case 'F64':
      for (let i = 0; i < n; i++, pos += 8) values[i] = view.getFloat64(pos, true);
      break;
    case 'F32':
      for (let i = 0; i < n; i++, pos += 4) values[i] = view.getFloat32(pos, true);
      break;
    case 'F16':
    case 'BF16':
      for (let i = 0; i < n; i++, pos += 2) values[i] = halfBitsToNumber(view.getUint16(pos, true), e.dtype);
      break;
    case 'I32':
      for (let i = 0; i < n; i++, pos += 4) values[i] = view.getInt32(pos, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++, pos += 8) {
        const v = view.getBigInt64(pos, true);
        const x = Number(v);
        if (BigInt(x) !== v) {
          throw new ValueError(
            `decodeSafetensors: tensor '${e.name}' (I64) holds ${v} at flat index ${i}, ` +
              'which is not exactly a float64 (|v| > 2^53)',
          );
        }
        values[i] = x;
      }
      break;
  }
  return values;
}
