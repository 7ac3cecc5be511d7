/**
 * The safetensors format (https://github.com/huggingface/safetensors), browser-safe: bytes in,
 * bytes out. Layout: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, …, "__metadata__"?: { string: string } }`,
 * then the raw little-endian tensor data, offsets relative to its start.
 */
import { DTypeError, fmtShape, sizeOf, Tensor, ValueError, type DType, type TypedArray } from '@hyperconn/tensor';

/** The file's tensors (in data order) and its free-form string metadata. */
export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';
/** The reference implementation refuses larger headers; so do we, before parsing. */
const MAX_HEADER_BYTES = 100_000_000;
const FORMAT_DTYPE: Record<DType, string> = { float64: 'F64', float32: 'F32' };
const ITEM_BYTES: Record<DType, number> = { float64: 8, float32: 4 };

function dtypeFromFormat(name: string, code: unknown): DType {
  if (code === 'F64') return 'float64';
  if (code === 'F32') return 'float32';
  throw new DTypeError(
    `decodeSafetensors: tensor '${name}' has dtype ${JSON.stringify(code)}; only F32 and F64 are supported`,
  );
}

/**
 * The bytes of a safetensors file holding `tensors` (any strides; written in C order) and
 * optional string `metadata`. As the reference writer, tensors are laid out by decreasing
 * element size and then by name, and the header is padded with spaces to a multiple of 8
 * bytes, so every tensor's data starts aligned to its element size.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>> = {},
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
  entries.sort(([na, a], [nb, b]) => ITEM_BYTES[b.dtype] - ITEM_BYTES[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0));

  // null prototype: a tensor named '__proto__' must become a key, not replace the prototype
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = Object.assign(Object.create(null) as object, metadata);
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.size * ITEM_BYTES[t.dtype];
    header[name] = { dtype: FORMAT_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [offset, end] };
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
  for (const [, t] of entries) {
    const values = t.toTypedArray();
    if (t.dtype === 'float64') for (let i = 0; i < values.length; i++, pos += 8) view.setFloat64(pos, values[i]!, true);
    else for (let i = 0; i < values.length; i++, pos += 4) view.setFloat32(pos, values[i]!, true);
  }
  return out;
}

interface Entry {
  name: string;
  dtype: DType;
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
  const dtype = dtypeFromFormat(name, raw.dtype);
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
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape ${fmtShape(shape)} of ${raw.dtype} needs ${expected}`,
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
 * the order of their data, each with its own storage.
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
      `decodeSafetensors: header length ${declared} exceeds the ${bytes.length - 8} bytes after the length field (the file is truncated or not safetensors)`,
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
        ? `decodeSafetensors: ${key === METADATA_KEY ? METADATA_KEY : `tensor name '${key}'`} appears more than once in the header`
        : `decodeSafetensors: key '${key}' appears more than once in the header entry of ${owner === METADATA_KEY ? METADATA_KEY : `tensor '${owner}'`}`,
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
        `decodeSafetensors: tensor '${e.name}' starts at byte ${e.begin} of the data, but ${before} (the data must be contiguous, without gaps or overlaps)`,
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
  for (const e of entries) {
    const n = sizeOf(e.shape);
    let values: TypedArray;
    let pos = dataStart + e.begin;
    if (e.dtype === 'float64') {
      values = new Float64Array(n);
      for (let i = 0; i < n; i++, pos += 8) values[i] = view.getFloat64(pos, true);
    } else {
      values = new Float32Array(n);
      for (let i = 0; i < n; i++, pos += 4) values[i] = view.getFloat32(pos, true);
    }
    tensors.set(e.name, new Tensor(values, e.shape));
  }
  return { tensors, metadata };
}
