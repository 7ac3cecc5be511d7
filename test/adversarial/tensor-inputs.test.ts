/**
 * Bad input to the tensor package from JavaScript callers who bypass the types: unknown dtypes,
 * shapes that are too large (MAX_ELEMENTS), too deep (MAX_RANK) or not shapes at all, nested
 * arrays that are ragged, too deep or hold non-numbers, and arguments of the wrong kind (null,
 * undefined, strings, plain arrays, bigint) to element-wise ops, reductions, matmul, linalg,
 * indexing, views and Random. Every one must be a typed error naming the op, never a bare
 * TypeError/RangeError, a silent float32, or an attempt to allocate gigabytes.
 *
 * Value cases pin the edge behaviours that are not errors (empty shapes, size-0 axes, −0, the
 * largest allowed view, float32 overflow to ±∞ in construction) against literal expected values
 * or naive loops. No case allocates more than a few MiB: every refused shape is refused before
 * allocation, and the huge inputs that are needed are stride-0 views or shared JS arrays.
 */
import { describe, expect } from 'vitest';
import * as T from '@hyperconn/tensor';
import {
  AllocationError,
  DTypeError,
  IndexError,
  MAX_ELEMENTS,
  MAX_RANK,
  Random,
  ShapeError,
  type Tensor,
  ValueError,
  tensor,
  zeros,
} from '@hyperconn/tensor';
import { bad, battery, type Case } from './battery';

const x2 = (): Tensor =>
  tensor([
    [1, 2],
    [3, 4],
  ]);
const values = (t: unknown): number[] => Array.from((t as Tensor).toTypedArray());
/** A 2^28-element tensor that costs nothing: a stride-0 view. */
const hugeView = (): Tensor => zeros([1]).expand([MAX_ELEMENTS]);
/** Nested arrays `depth` levels deep around a single 1. */
function nested(depth: number): unknown {
  let a: unknown = 1;
  for (let i = 0; i < depth; i++) a = [a];
  return a;
}

// ---------------------------------------------------------------------------------------------
// 1. Unknown dtypes: DTypeError naming the op, never a silent float32

const dtypeCases: Case[] = [
  {
    name: "tensor([1, 2], { dtype: 'int8' })",
    run: () => tensor([1, 2], { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'tensor',
  },
  {
    name: "tensor(Float64Array, { dtype: 'float16' })",
    run: () => tensor(new Float64Array(2), { dtype: 'float16' as never }),
    error: DTypeError,
    op: 'tensor',
  },
  {
    name: "zeros([2], { dtype: 'float16' })",
    run: () => T.zeros([2], { dtype: 'float16' as never }),
    error: DTypeError,
    op: 'zeros',
  },
  {
    name: "ones([2], { dtype: 'Float32' }) (names are case-sensitive)",
    run: () => T.ones([2], { dtype: 'Float32' as never }),
    error: DTypeError,
    op: 'ones',
  },
  {
    name: 'full([2], 1, { dtype: 64 })',
    run: () => T.full([2], 1, { dtype: 64 as never }),
    error: DTypeError,
    op: 'full',
  },
  {
    name: "scalar(1, { dtype: 'int32' })",
    run: () => T.scalar(1, { dtype: 'int32' as never }),
    error: DTypeError,
    op: 'scalar',
  },
  {
    name: "eye(2, 2, { dtype: 'bfloat16' })",
    run: () => T.eye(2, 2, { dtype: 'bfloat16' as never }),
    error: DTypeError,
    op: 'eye',
  },
  {
    name: "arange(3, undefined, 1, { dtype: 'int64' })",
    run: () => T.arange(3, undefined, 1, { dtype: 'int64' as never }),
    error: DTypeError,
    op: 'arange',
  },
  {
    name: "linspace(0, 1, 3, { dtype: 'uint8' })",
    run: () => T.linspace(0, 1, 3, { dtype: 'uint8' as never }),
    error: DTypeError,
    op: 'linspace',
  },
  {
    name: "zerosLike(t, { dtype: 'int8' })",
    run: () => T.zerosLike(x2(), { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'zerosLike',
  },
  {
    name: "onesLike(t, { dtype: 'complex64' })",
    run: () => T.onesLike(x2(), { dtype: 'complex64' as never }),
    error: DTypeError,
    op: 'onesLike',
  },
  {
    name: "fullLike(t, 2, { dtype: 'float' })",
    run: () => T.fullLike(x2(), 2, { dtype: 'float' as never }),
    error: DTypeError,
    op: 'fullLike',
  },
  { name: "t.astype('int8')", run: () => x2().astype('int8' as never), error: DTypeError, op: 'astype' },
  { name: 't.astype(undefined)', run: () => x2().astype(undefined as never), error: DTypeError, op: 'astype' },
  { name: "cast(t, 'float16')", run: () => T.cast(x2(), 'float16' as never), error: DTypeError, op: 'cast' },
  {
    name: "Random.uniform([2], { dtype: 'int8' })",
    run: () => new Random(0).uniform([2], { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'uniform',
  },
  {
    name: "Random.normal([2], { dtype: 'float16' })",
    run: () => new Random(0).normal([2], { dtype: 'float16' as never }),
    error: DTypeError,
    op: 'normal',
  },
  {
    name: "Random.integers(0, 5, [2], { dtype: 'int32' })",
    run: () => new Random(0).integers(0, 5, [2], { dtype: 'int32' as never }),
    error: DTypeError,
    op: 'integers',
  },
  {
    name: "Random.bernoulli(0.5, [2], { dtype: 'bool' })",
    run: () => new Random(0).bernoulli(0.5, [2], { dtype: 'bool' as never }),
    error: DTypeError,
    op: 'bernoulli',
  },
  {
    name: "Random.orthogonal(2, { dtype: 'float16' })",
    run: () => new Random(0).orthogonal(2, { dtype: 'float16' as never }),
    error: DTypeError,
    op: 'orthogonal',
  },
  {
    name: "allocate('int8', 2) (the storage backstop)",
    run: () => T.allocate('int8' as never, 2),
    error: DTypeError,
    op: 'allocate',
  },
  {
    name: "zeros([2], 'float32') (options not an object)",
    run: () => T.zeros([2], 'float32' as never),
    error: ValueError,
    op: 'zeros',
  },
  {
    name: "float32 is kept: zeros([2], { dtype: 'float32' })",
    run: () => T.zeros([2], { dtype: 'float32' }),
    check: (t) => {
      expect((t as Tensor).data).toBeInstanceOf(Float32Array);
      expect(values(t)).toEqual([0, 0]);
    },
  },
  {
    name: 'null options mean no options: zeros([2], null) is float64',
    run: () => T.zeros([2], null as never),
    check: (t) => expect((t as Tensor).data).toBeInstanceOf(Float64Array),
  },
  {
    name: 'zerosLike keeps a float32 input dtype',
    run: () => T.zerosLike(T.ones([3], { dtype: 'float32' })),
    check: (t) => expect((t as Tensor).dtype).toBe('float32'),
  },
];

// ---------------------------------------------------------------------------------------------
// 2. The element cap and bad dimensions

const allocationCases: Case[] = [
  { name: 'zeros([1e6, 1e6])', run: () => zeros([1e6, 1e6]), error: AllocationError, op: 'zeros' },
  {
    name: 'zeros([2 ** 31]) (16 GiB; was OOM-killed)',
    run: () => zeros([2 ** 31]),
    error: AllocationError,
    op: 'zeros',
  },
  { name: 'ones([2^14, 2^14, 2])', run: () => T.ones([2 ** 14, 2 ** 14, 2]), error: AllocationError, op: 'ones' },
  { name: 'full([MAX_ELEMENTS + 1], 0)', run: () => T.full([MAX_ELEMENTS + 1], 0), error: AllocationError, op: 'full' },
  {
    name: 'zeros([0, 2^20, 2^20]): empty, but sum over axis 0 would need 2^40',
    run: () => zeros([0, 2 ** 20, 2 ** 20]),
    error: AllocationError,
    op: 'zeros',
  },
  { name: 'eye(1e5)', run: () => T.eye(1e5), error: AllocationError, op: 'eye' },
  { name: 'arange(0, 1e10)', run: () => T.arange(0, 1e10), error: AllocationError, op: 'arange' },
  { name: 'arange(0, 1, 1e-9)', run: () => T.arange(0, 1, 1e-9), error: AllocationError, op: 'arange' },
  { name: 'linspace(0, 1, 2^29)', run: () => T.linspace(0, 1, 2 ** 29), error: AllocationError, op: 'linspace' },
  {
    name: 'add broadcast [2^14,1] + [1,2^15]',
    run: () => T.add(zeros([2 ** 14, 1]), zeros([1, 2 ** 15])),
    error: AllocationError,
    op: 'add',
  },
  {
    name: 'mul broadcast over three axes',
    run: () => T.mul(zeros([2 ** 10, 1, 1]), zeros([2 ** 10, 2 ** 10])),
    error: AllocationError,
    op: 'mul',
  },
  {
    name: 'where broadcast of cond, a and b',
    run: () => T.where(zeros([2 ** 14, 1, 1]), zeros([1, 2 ** 14, 1]), zeros([1, 1, 2])),
    error: AllocationError,
    op: 'where',
  },
  {
    name: 'matmul [2^15,1] @ [1,2^14]',
    run: () => T.matmul(zeros([2 ** 15, 1]), zeros([1, 2 ** 14])),
    error: AllocationError,
    op: 'matmul',
  },
  {
    name: 'matmul with broadcast batch [1024,1,4,1] @ [1024,1,1024]',
    run: () => T.matmul(zeros([1024, 1, 4, 1]), zeros([1024, 1, 1024])),
    error: AllocationError,
    op: 'matmul',
  },
  {
    name: 'concat of two 2^28-element views',
    run: () => T.concat([hugeView(), hugeView()]),
    error: AllocationError,
    op: 'concat',
  },
  {
    name: 'stack of two 2^28-element views',
    run: () => T.stack([hugeView(), hugeView()]),
    error: AllocationError,
    op: 'stack',
  },
  {
    name: 'expand([2^29]) (a view, but any op on it would allocate it)',
    run: () => zeros([1]).expand([2 ** 29]),
    error: AllocationError,
    op: 'expand',
  },
  {
    name: 'indexSelect giving [2^15, 2^14]',
    run: () => T.indexSelect(zeros([1, 2 ** 14]), 0, new Array<number>(2 ** 15).fill(0)),
    error: AllocationError,
    op: 'indexSelect',
  },
  {
    name: 'diagEmbed of a [2^15] vector',
    run: () => T.diagEmbed(zeros([2 ** 15])),
    error: AllocationError,
    op: 'diagEmbed',
  },
  {
    name: 'tensor() of 2^15 references to one 2^14-row (2^29 elements, little memory)',
    run: () => {
      const row = new Array<number>(2 ** 14).fill(0);
      return tensor(new Array<number[]>(2 ** 15).fill(row));
    },
    error: AllocationError,
    op: 'tensor',
  },
  { name: 'Random.normal([2^29])', run: () => new Random(0).normal([2 ** 29]), error: AllocationError, op: 'normal' },
  {
    name: 'Random.bernoulli(0.5, [1e5, 1e5])',
    run: () => new Random(0).bernoulli(0.5, [1e5, 1e5]),
    error: AllocationError,
    op: 'bernoulli',
  },
  {
    name: 'Random.permutation(2^29)',
    run: () => new Random(0).permutation(2 ** 29),
    error: AllocationError,
    op: 'permutation',
  },
  {
    name: 'Random.orthogonal(2^15)',
    run: () => new Random(0).orthogonal(2 ** 15),
    error: AllocationError,
    op: 'orthogonal',
  },
  {
    name: 'allocate(float64, 2^31) (the storage backstop)',
    run: () => T.allocate('float64', 2 ** 31),
    error: AllocationError,
    op: 'allocate',
  },
  { name: 'allocate(float64, -1)', run: () => T.allocate('float64', -1), error: ValueError, op: 'allocate' },
  {
    name: 'a view of exactly MAX_ELEMENTS is allowed',
    run: () => hugeView(),
    check: (t) => {
      expect((t as Tensor).size).toBe(2 ** 28);
      expect((t as Tensor).strides).toEqual([0]);
    },
  },
  {
    name: 'sum over the empty axis of [0, 2^20] gives 2^20 zeros',
    run: () => T.sum(zeros([0, 2 ** 20]), 0),
    check: (t) => {
      const v = (t as Tensor).toTypedArray();
      expect(v.length).toBe(2 ** 20);
      let nonZero = 0;
      for (let i = 0; i < v.length; i++) if (v[i] !== 0) nonZero++;
      expect(nonZero).toBe(0);
    },
  },
];

const dimensionCases: Case[] = [
  { name: 'zeros([NaN])', run: () => zeros([NaN]), error: ValueError, op: 'zeros' },
  { name: 'zeros([Infinity])', run: () => zeros([Infinity]), error: ValueError, op: 'zeros' },
  { name: 'zeros([2, -1])', run: () => zeros([2, -1]), error: ValueError, op: 'zeros' },
  { name: 'zeros([2.5])', run: () => zeros([2.5]), error: ValueError, op: 'zeros' },
  { name: "zeros(['2'])", run: () => zeros(['2'] as never), error: ValueError, op: 'zeros' },
  { name: 'zeros([2, undefined])', run: () => zeros([2, undefined] as never), error: ValueError, op: 'zeros' },
  { name: 'zeros(5) (a number, not a shape)', run: () => zeros(5 as never), error: ValueError, op: 'zeros' },
  { name: 'zeros(null)', run: () => zeros(null as never), error: ValueError, op: 'zeros' },
  { name: 'zeros() (no shape)', run: () => (zeros as unknown as () => Tensor)(), error: ValueError, op: 'zeros' },
  { name: 'full([-0.5], 1)', run: () => T.full([-0.5], 1), error: ValueError, op: 'full' },
  {
    name: "full([2], '1') (the value is not a number)",
    run: () => T.full([2], '1' as never),
    error: ValueError,
    op: 'full',
  },
  {
    name: 'zeros of rank MAX_RANK + 1',
    run: () => zeros(new Array<number>(MAX_RANK + 1).fill(1)),
    error: ShapeError,
    op: 'zeros',
  },
  {
    name: 'reshape to rank MAX_RANK + 1',
    run: () => zeros([1]).reshape(new Array<number>(MAX_RANK + 1).fill(1)),
    error: ShapeError,
    op: 'reshape',
  },
  {
    name: 'unsqueeze past MAX_RANK',
    run: () => zeros(new Array<number>(MAX_RANK).fill(1)).unsqueeze(0),
    error: ShapeError,
    op: 'unsqueeze',
  },
  { name: 'reshape([NaN])', run: () => x2().reshape([NaN]), error: ValueError, op: 'reshape' },
  { name: 'reshape(4) (a number, not a shape)', run: () => x2().reshape(4 as never), error: ValueError, op: 'reshape' },
  { name: 'expand([2, NaN])', run: () => zeros([2, 1]).expand([2, NaN]), error: ValueError, op: 'expand' },
  { name: 'Random.normal(5)', run: () => new Random(0).normal(5 as never), error: ValueError, op: 'normal' },
  { name: 'Random.uniform([NaN])', run: () => new Random(0).uniform([NaN]), error: ValueError, op: 'uniform' },
  {
    name: 'Random.integers(0, 5, [-1])',
    run: () => new Random(0).integers(0, 5, [-1]),
    error: ValueError,
    op: 'integers',
  },
  {
    name: 'Random.bernoulli(0.5, null)',
    run: () => new Random(0).bernoulli(0.5, null as never),
    error: ValueError,
    op: 'bernoulli',
  },
  {
    name: "Random.uniform([2], { low: '0' })",
    run: () => new Random(0).uniform([2], { low: '0' as never }),
    error: ValueError,
    op: 'uniform',
  },
  {
    name: "Random.bernoulli('0.5', [2])",
    run: () => new Random(0).bernoulli('0.5' as never, [2]),
    error: ValueError,
    op: 'bernoulli',
  },
  {
    name: 'a −0 size is stored as +0',
    run: () => zeros([-0, 3]).shape,
    check: (s) => {
      expect(Object.is((s as number[])[0], 0)).toBe(true);
      expect(s).toEqual([0, 3]);
    },
  },
  {
    name: 'zeros([]) is a 0-d tensor holding 0',
    run: () => zeros([]),
    check: (t) => expect([(t as Tensor).shape, values(t)]).toEqual([[], [0]]),
  },
  {
    name: 'zeros([3, 0]) is empty with three empty rows',
    run: () => zeros([3, 0]).toArray(),
    check: (a) => expect(a).toEqual([[], [], []]),
  },
  {
    name: 'Random.normal([2, 0]) is empty',
    run: () => new Random(0).normal([2, 0]),
    check: (t) => expect([(t as Tensor).shape, (t as Tensor).size]).toEqual([[2, 0], 0]),
  },
];

// ---------------------------------------------------------------------------------------------
// 3. Nested arrays: iterative walk, MAX_RANK, ragged and non-number leaves

const nestedCases: Case[] = [
  {
    name: 'a 20 000-deep nested array (overflowed the stack)',
    run: () => tensor(nested(20_000) as never),
    error: ShapeError,
    op: 'tensor',
  },
  {
    name: 'nested arrays MAX_RANK + 1 deep',
    run: () => tensor(nested(MAX_RANK + 1) as never),
    error: ShapeError,
    op: 'tensor',
  },
  {
    name: 'nested arrays exactly MAX_RANK deep',
    run: () => tensor(nested(MAX_RANK) as never),
    check: (t) => {
      expect((t as Tensor).shape).toEqual(new Array<number>(MAX_RANK).fill(1));
      expect((t as Tensor).item()).toBe(1);
    },
  },
  { name: 'ragged [[1, 2], [3]]', run: () => tensor([[1, 2], [3]]), error: ShapeError, op: 'tensor' },
  { name: 'ragged [1, [2]]', run: () => tensor([1, [2]] as never), error: ShapeError, op: 'tensor' },
  { name: 'ragged [[1], 2]', run: () => tensor([[1], 2] as never), error: ShapeError, op: 'tensor' },
  { name: 'ragged deep [[[1]], [[1, 2]]]', run: () => tensor([[[1]], [[1, 2]]]), error: ShapeError, op: 'tensor' },
  { name: 'ragged [[], [1]]', run: () => tensor([[], [1]]), error: ShapeError, op: 'tensor' },
  {
    name: "a string leaf [[1, 2], [3, '4']]",
    run: () =>
      tensor([
        [1, 2],
        [3, '4'],
      ] as never),
    error: ValueError,
    op: 'tensor',
  },
  {
    name: 'a null leaf',
    run: () =>
      tensor([
        [1, 2],
        [null, 4],
      ] as never),
    error: ValueError,
    op: 'tensor',
  },
  { name: 'an undefined leaf', run: () => tensor([1, undefined] as never), error: ValueError, op: 'tensor' },
  // biome-ignore lint/suspicious/noSparseArray: the hole is the input under test
  { name: 'a hole in a sparse array [1, , 3]', run: () => tensor([1, , 3] as never), error: ValueError, op: 'tensor' },
  { name: 'an object leaf', run: () => tensor([[1, {}]] as never), error: ValueError, op: 'tensor' },
  { name: 'a bigint leaf', run: () => tensor([1n] as never), error: ValueError, op: 'tensor' },
  { name: 'a boolean leaf', run: () => tensor([true, false] as never), error: ValueError, op: 'tensor' },
  {
    name: "a string where a row belongs [[1, 2], 'ab']",
    run: () => tensor([[1, 2], 'ab'] as never),
    error: ValueError,
    op: 'tensor',
  },
  { name: "tensor('abc')", run: () => tensor('abc' as never), error: ValueError, op: 'tensor' },
  { name: 'tensor(null)', run: () => tensor(null as never), error: ValueError, op: 'tensor' },
  { name: 'tensor(undefined)', run: () => tensor(undefined as never), error: ValueError, op: 'tensor' },
  { name: 'tensor({ length: 2 })', run: () => tensor({ length: 2 } as never), error: ValueError, op: 'tensor' },
  { name: 'tensor(Int32Array)', run: () => tensor(new Int32Array(2) as never), error: DTypeError, op: 'tensor' },
  {
    name: 'a [2,3,4] nested array fills in C order (naive loop)',
    run: () => {
      const a = [0, 1].map((i) => [0, 1, 2].map((j) => [0, 1, 2, 3].map((k) => 100 * i + 10 * j + k)));
      return tensor(a);
    },
    check: (t) => {
      const expected: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expected.push(100 * i + 10 * j + k);
      expect((t as Tensor).shape).toEqual([2, 3, 4]);
      expect(values(t)).toEqual(expected);
    },
  },
  { name: '[[], []] has shape [2, 0]', run: () => tensor([[], []]).shape, check: (s) => expect(s).toEqual([2, 0]) },
  {
    name: 'NaN, ±∞ and −0 leaves are kept',
    run: () => tensor([NaN, Infinity, -Infinity, -0]),
    check: (t) => {
      const v = values(t);
      expect(Number.isNaN(v[0])).toBe(true);
      expect(v.slice(1, 3)).toEqual([Infinity, -Infinity]);
      expect(Object.is(v[3], -0)).toBe(true);
    },
  },
  {
    name: 'float32 construction rounds as IEEE: ±1e39 → ±∞, 1e-50 → 0, 3e38 stays finite (documented)',
    run: () => tensor([1e39, -1e39, 1e-50, 3e38], { dtype: 'float32' }),
    check: (t) => {
      const v = values(t);
      expect(v.slice(0, 3)).toEqual([Infinity, -Infinity, 0]);
      expect(v[3]).toBe(Math.fround(3e38));
    },
  },
];

// ---------------------------------------------------------------------------------------------
// 4. Arguments of the wrong kind

const UNARY = [
  'neg',
  'exp',
  'log',
  'log1p',
  'sqrt',
  'abs',
  'sign',
  'square',
  'tanh',
  'sigmoid',
  'relu',
  'gelu',
  'erf',
  'sin',
  'softplus',
] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'ge'] as const;
const REDUCTIONS = [
  'sum',
  'mean',
  'prod',
  'max',
  'min',
  'logsumexp',
  'variance',
  'norm',
  'softmax',
  'logSoftmax',
  'argmax',
  'argmin',
] as const;
const LINALG = ['inv', 'det', 'slogdet', 'qr', 'eigh', 'svd', 'expm', 'matrixNorm', 'trace', 'powerIteration'] as const;
const fn = (name: string): ((...args: unknown[]) => unknown) =>
  (T as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;

const argumentCases: Case[] = [
  ...UNARY.map((op, i): Case => {
    const [label, v] = bad(i);
    return { name: `${op}(${label})`, run: () => fn(op)(v), error: ValueError, op };
  }),
  ...BINARY.map((op, i): Case => {
    const [label, v] = bad(i);
    return i % 2 === 0
      ? { name: `${op}(t, ${label})`, run: () => fn(op)(x2(), v), error: ValueError, op }
      : { name: `${op}(${label}, t)`, run: () => fn(op)(v, x2()), error: ValueError, op };
  }),
  { name: 'add(1, 2) (two numbers)', run: () => T.add(1, 2), error: ValueError, op: 'add' },
  { name: 'where(null, a, b)', run: () => T.where(null as never, x2(), 0), error: ValueError, op: 'where' },
  { name: "where(cond, 'a', b)", run: () => T.where(x2(), 'a' as never, 0), error: ValueError, op: 'where' },
  { name: "clamp(t, '0')", run: () => T.clamp(x2(), '0' as never), error: ValueError, op: 'clamp' },
  ...REDUCTIONS.map((op, i): Case => {
    const [label, v] = bad(i);
    return { name: `${op}(${label})`, run: () => fn(op)(v), error: ValueError, op };
  }),
  { name: 'sum(t, {}) (axes not an axis or array)', run: () => T.sum(x2(), {} as never), error: ValueError, op: 'sum' },
  { name: 'sum(t, 2) on a matrix', run: () => T.sum(x2(), 2), error: IndexError, op: 'sum' },
  { name: 'mean(t, -3) on a matrix', run: () => T.mean(x2(), -3), error: IndexError, op: 'mean' },
  { name: 'max(t, [0, -2]) (a repeated axis)', run: () => T.max(x2(), [0, -2]), error: IndexError, op: 'max' },
  { name: 'sum(t, 0.5)', run: () => T.sum(x2(), 0.5), error: IndexError, op: 'sum' },
  { name: "sum(t, ['0'])", run: () => T.sum(x2(), ['0'] as never), error: IndexError, op: 'sum' },
  { name: 'softmax(t, 2)', run: () => T.softmax(x2(), 2), error: IndexError, op: 'softmax' },
  { name: 'argmax(t, -3)', run: () => T.argmax(x2(), -3), error: IndexError, op: 'argmax' },
  { name: 'max of an empty tensor', run: () => T.max(zeros([0])), error: ValueError, op: 'max' },
  { name: 'mean over a size-0 axis', run: () => T.mean(zeros([0, 3]), 0), error: ValueError, op: 'mean' },
  { name: 'matmul(t, [[1]])', run: () => T.matmul(x2(), [[1]] as never), error: ValueError, op: 'matmul' },
  { name: 'matmul(null, t)', run: () => T.matmul(null as never, x2()), error: ValueError, op: 'matmul' },
  { name: 'matmul with inner sizes 2 ≠ 3', run: () => T.matmul(x2(), zeros([3, 1])), error: ShapeError, op: 'matmul' },
  { name: 'matmul of a 0-d tensor', run: () => T.matmul(T.scalar(1), x2()), error: ShapeError, op: 'matmul' },
  ...LINALG.map((op, i): Case => {
    const [label, v] = bad(i);
    return { name: `${op}(${label})`, run: () => fn(op)(v), error: ValueError, op };
  }),
  { name: 'solve(a, null)', run: () => T.solve(x2(), null as never), error: ValueError, op: 'solve' },
  { name: "solve('a', b)", run: () => T.solve('a' as never, x2()), error: ValueError, op: 'solve' },
  {
    name: 'powerIteration(a, { state: { u: [1, 1] } })',
    run: () => T.powerIteration(x2(), { state: { u: [1, 1] as never } }),
    error: ValueError,
    op: 'powerIteration',
  },
  { name: 'inv of a non-square matrix', run: () => T.inv(zeros([2, 3])), error: ShapeError, op: 'inv' },
  { name: 'concat(null)', run: () => T.concat(null as never), error: ValueError, op: 'concat' },
  { name: 'concat([t, null])', run: () => T.concat([x2(), null as never]), error: ValueError, op: 'concat' },
  { name: 'stack(5)', run: () => T.stack(5 as never), error: ValueError, op: 'stack' },
  { name: 'split(null, 2)', run: () => T.split(null as never, 2), error: ValueError, op: 'split' },
  { name: 'split(t, null)', run: () => T.split(x2(), null as never), error: ValueError, op: 'split' },
  {
    name: 'indexSelect(t, 0, null)',
    run: () => T.indexSelect(x2(), 0, null as never),
    error: ValueError,
    op: 'indexSelect',
  },
  {
    name: 'indexSelect(t, 0, [2]) (out of range)',
    run: () => T.indexSelect(x2(), 0, [2]),
    error: IndexError,
    op: 'indexSelect',
  },
  {
    name: "indexAdd(t, 0, [0], 'src')",
    run: () => T.indexAdd(x2(), 0, [0], 'src' as never),
    error: ValueError,
    op: 'indexAdd',
  },
  {
    name: 'gather(t, 0, [[0]]) (index not a Tensor)',
    run: () => T.gather(x2(), 0, [[0]] as never),
    error: ValueError,
    op: 'gather',
  },
  {
    name: 'scatterAdd(null, 0, index, src)',
    run: () => T.scatterAdd(null as never, 0, zeros([1, 2]), zeros([1, 2])),
    error: ValueError,
    op: 'scatterAdd',
  },
  { name: 'diagonal(undefined)', run: () => T.diagonal(undefined as never), error: ValueError, op: 'diagonal' },
  { name: "diagEmbed('v')", run: () => T.diagEmbed('v' as never), error: ValueError, op: 'diagEmbed' },
  { name: 'tril([[1]])', run: () => T.tril([[1]] as never), error: ValueError, op: 'tril' },
  { name: 'flip(t, {})', run: () => T.flip(x2(), {} as never), error: ValueError, op: 'flip' },
  {
    name: 'reshape(null, [4]) (function form)',
    run: () => T.reshape(null as never, [4]),
    error: ValueError,
    op: 'reshape',
  },
  { name: "transpose('t')", run: () => T.transpose('t' as never), error: ValueError, op: 'transpose' },
  { name: 't.permute(5)', run: () => x2().permute(5 as never), error: ValueError, op: 'permute' },
  { name: 't.slice({})', run: () => x2().slice({} as never), error: IndexError, op: 'slice' },
  { name: "t.assign('1')", run: () => x2().assign('1' as never), error: ValueError, op: 'assign' },
  { name: 'zerosLike(null)', run: () => T.zerosLike(null as never), error: ValueError, op: 'zerosLike' },
];

// ---------------------------------------------------------------------------------------------
// 5. Edge values that are not errors (literal expected values or naive loops)

const edgeValueCases: Case[] = [
  { name: 'sum of an empty tensor is 0', run: () => T.sum(zeros([0])).item(), check: (v) => expect(v).toBe(0) },
  { name: 'prod of an empty tensor is 1', run: () => T.prod(zeros([2, 0])).item(), check: (v) => expect(v).toBe(1) },
  {
    name: 'sum over a size-0 axis keeps the others',
    run: () => T.sum(zeros([2, 0]), 1),
    check: (t) => expect([(t as Tensor).shape, values(t)]).toEqual([[2], [0, 0]]),
  },
  {
    name: 'matmul [2,0] @ [0,3] is zeros [2,3]',
    run: () => T.matmul(zeros([2, 0]), zeros([0, 3])),
    check: (t) =>
      expect([(t as Tensor).shape, values(t)]).toEqual([
        [2, 3],
        [0, 0, 0, 0, 0, 0],
      ]),
  },
  {
    name: 'matmul [0,2] @ [2,3] is empty [0,3]',
    run: () => T.matmul(zeros([0, 2]), zeros([2, 3])).shape,
    check: (s) => expect(s).toEqual([0, 3]),
  },
  {
    name: 'matmul [3,4] @ [4,2] against a naive loop',
    run: () => T.matmul(T.arange(12).reshape([3, 4]), T.arange(8).reshape([4, 2])),
    check: (t) => {
      const expected: number[] = [];
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 2; j++) {
          let s = 0;
          for (let k = 0; k < 4; k++) s += (4 * i + k) * (2 * k + j);
          expected.push(s);
        }
      }
      expect(values(t)).toEqual(expected);
    },
  },
  {
    name: 'broadcast [3,1] + [1,4] against a naive loop',
    run: () => T.add(tensor([[1], [2], [3]]), tensor([[10, 20, 30, 40]])),
    check: (t) => {
      const expected: number[] = [];
      for (let i = 1; i <= 3; i++) for (let j = 1; j <= 4; j++) expected.push(i + 10 * j);
      expect([(t as Tensor).shape, values(t)]).toEqual([[3, 4], expected]);
    },
  },
  {
    name: '−0 survives add(−0, −0) and mul(−0, 1) (IEEE)',
    run: () => [T.add(tensor([-0]), -0).item(), T.mul(tensor([-0]), 1).item()],
    check: (v) => expect((v as number[]).every((x) => Object.is(x, -0))).toBe(true),
  },
  {
    name: 'sum over axis −1 (a negative axis in range)',
    run: () => T.sum(x2(), -1),
    check: (t) => expect(values(t)).toEqual([3, 7]),
  },
  {
    name: 'softmax over a size-1 axis is 1',
    run: () => T.softmax(tensor([[5], [-7]]), -1),
    check: (t) => expect(values(t)).toEqual([1, 1]),
  },
  {
    name: 'argmax returns the first NaN',
    run: () => T.argmax(tensor([1, NaN, 3, NaN])).item(),
    check: (v) => expect(v).toBe(1),
  },
  {
    name: 'concat with a size-0 piece',
    run: () => T.concat([tensor([1, 2]), zeros([0]), tensor([3])]),
    check: (t) => expect(values(t)).toEqual([1, 2, 3]),
  },
  {
    name: 'an empty [0, 3] reshapes to [3, 0]',
    run: () => zeros([0, 3]).reshape([3, 0]).shape,
    check: (s) => expect(s).toEqual([3, 0]),
  },
  {
    name: 'clamp lets NaN through',
    run: () => T.clamp(tensor([NaN, -2, 2]), -1, 1),
    check: (t) => expect(values(t)).toEqual([NaN, -1, 1]),
  },
  {
    name: 'det [[1,2],[3,4]] = −2',
    run: () => T.det(x2()).item(),
    check: (v) => expect(Math.abs((v as number) + 2)).toBeLessThan(1e-14),
  },
  { name: 'det of the 0×0 matrix is 1', run: () => T.det(zeros([0, 0])).item(), check: (v) => expect(v).toBe(1) },
  {
    name: 'arange in float32 rounds each value once',
    run: () => T.arange(0, 1, 0.1, { dtype: 'float32' }),
    check: (t) => expect(values(t)).toEqual(Array.from({ length: 10 }, (_, i) => Math.fround(i * 0.1))),
  },
];

describe('adversarial tensor inputs: dtypes', () => battery(dtypeCases));
describe('adversarial tensor inputs: element cap', () => battery(allocationCases));
describe('adversarial tensor inputs: dimensions', () => battery(dimensionCases));
describe('adversarial tensor inputs: nested arrays', () => battery(nestedCases));
describe('adversarial tensor inputs: wrong-kind arguments', () => battery(argumentCases));
describe('adversarial tensor inputs: edge values', () => battery(edgeValueCases));
