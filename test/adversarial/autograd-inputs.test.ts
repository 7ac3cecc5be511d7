/**
 * Bad input to the autograd package (and the dtype options of nn, manifolds and hc-layers) from
 * JavaScript callers who bypass the types: arguments of the wrong kind to every family of ops
 * (element-wise, reductions, shapes and views, indexing, matmul, linalg, comparisons), unknown
 * dtypes, functions given to grad/valueAndGrad/vjp that cut the graph (returning a Tensor or a
 * number), and custom ops whose backward returns the wrong thing. Each must be a typed error
 * naming the op (for a custom op, its own name), never a bare TypeError or a silent zero gradient.
 *
 * Value cases pin what is not an error: a function that does not depend on its argument has a
 * zero gradient (as in JAX), a custom op may return a gradient its input broadcasts to, empty
 * tensors differentiate to empty gradients — each against closed forms written out by hand.
 */
import { describe, expect } from 'vitest';
import * as T from '@hyperconn/tensor';
import { DTypeError, IndexError, Random, ShapeError, tensor, type Tensor, ValueError } from '@hyperconn/tensor';
import * as A from '@hyperconn/autograd';
import { customOp, grad, gradients, nn, param, valueAndGrad, Variable, variable, vjp } from '@hyperconn/autograd';
import { Birkhoff, helmertBasis, SpectralSphere, Stiefel } from '@hyperconn/manifolds';
import { createHyperConnection, DeepResidualMLP } from '@hyperconn/hc-layers';
import { bad, battery, type Case } from './battery';

const op = (name: string): ((...args: unknown[]) => unknown) =>
  (A as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
const x = (): Variable =>
  param([
    [1, 2],
    [3, 4],
  ]);
const values = (v: unknown): number[] => Array.from((v instanceof Variable ? v.value : (v as Tensor)).toTypedArray());

// ---------------------------------------------------------------------------------------------
// 1. Arguments of the wrong kind, through the shared coercion (asVariable / asOperand)

const UNARY = [
  'neg',
  'exp',
  'log',
  'log1p',
  'expm1',
  'sqrt',
  'square',
  'reciprocal',
  'abs',
  'tanh',
  'sigmoid',
  'relu',
  'gelu',
  'erf',
  'sin',
  'cos',
  'softplus',
] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;
const COMPARE = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const REDUCE = [
  'sum',
  'mean',
  'prod',
  'max',
  'min',
  'logsumexp',
  'norm',
  'variance',
  'logSoftmax',
  'softmax',
  'argmax',
  'argmin',
  'sign',
] as const;
const VIEWS: readonly [string, unknown[]][] = [
  ['reshape', [[4]]],
  ['permute', [[1, 0]]],
  ['transpose', []],
  ['expand', [[2, 2]]],
  ['squeeze', []],
  ['unsqueeze', [0]],
  ['flatten', []],
  ['slice', [0]],
  ['flip', []],
  ['diagonal', []],
  ['diagEmbed', []],
  ['tril', []],
  ['triu', []],
  ['split', [1]],
  ['indexSelect', [0, [0]]],
  ['gather', [0, T.zeros([1, 2])]],
];
const LINALG = ['inv', 'det', 'slogdet', 'qr', 'eigh', 'svd', 'expm', 'matrixNorm', 'trace'] as const;

const argumentCases: Case[] = [
  ...UNARY.map((name, i): Case => {
    const [label, v] = bad(i);
    return { name: `${name}(${label})`, run: () => op(name)(v), error: ValueError, op: name };
  }),
  { name: 'relu(3) (a number where a tensor is needed)', run: () => A.relu(3 as never), error: ValueError, op: 'relu' },
  ...BINARY.map((name, i): Case => {
    const [label, v] = bad(i);
    return i % 2 === 0
      ? { name: `${name}(x, ${label})`, run: () => op(name)(x(), v), error: ValueError, op: name }
      : { name: `${name}(${label}, x)`, run: () => op(name)(v, x()), error: ValueError, op: name };
  }),
  { name: 'add(1, 2) (two numbers)', run: () => A.add(1, 2), error: ValueError, op: 'add' },
  { name: "the method form x.add('1')", run: () => x().add('1' as never), error: ValueError, op: 'add' },
  { name: 'the method form x.matmul(null)', run: () => x().matmul(null as never), error: ValueError, op: 'matmul' },
  {
    name: "where(cond, 'a', x)",
    run: () => A.where(T.ones([2, 2]), 'a' as never, x()),
    error: ValueError,
    op: 'where',
  },
  { name: 'where(null, x, 0)', run: () => A.where(null as never, x(), 0), error: ValueError, op: 'where' },
  ...COMPARE.map((name, i): Case => {
    const [label, v] = bad(i + 2);
    return { name: `${name}(x, ${label})`, run: () => op(name)(x(), v), error: ValueError, op: name };
  }),
  ...REDUCE.map((name, i): Case => {
    const [label, v] = bad(i);
    return { name: `${name}(${label})`, run: () => op(name)(v), error: ValueError, op: name };
  }),
  { name: 'sum(x, 2) on a matrix', run: () => A.sum(x(), 2), error: IndexError, op: 'sum' },
  { name: 'softmax(x, -3) on a matrix', run: () => A.softmax(x(), -3), error: IndexError, op: 'softmax' },
  ...VIEWS.map(([name, rest], i): Case => {
    const [label, v] = bad(i);
    return { name: `${name}(${label}, …)`, run: () => op(name)(v, ...rest), error: ValueError, op: name };
  }),
  { name: 'concat(null)', run: () => A.concat(null as never), error: ValueError, op: 'concat' },
  { name: "concat([x, 'a'])", run: () => A.concat([x(), 'a' as never]), error: ValueError, op: 'concat' },
  { name: 'stack([x, null])', run: () => A.stack([x(), null as never]), error: ValueError, op: 'stack' },
  {
    name: 'indexAdd(x, 0, [0], null)',
    run: () => A.indexAdd(x(), 0, [0], null as never),
    error: ValueError,
    op: 'indexAdd',
  },
  {
    name: 'scatterAdd(undefined, 0, index, src)',
    run: () => A.scatterAdd(undefined as never, 0, T.zeros([1, 2]), x()),
    error: ValueError,
    op: 'scatterAdd',
  },
  { name: 'matmul(x, [[1]])', run: () => A.matmul(x(), [[1]] as never), error: ValueError, op: 'matmul' },
  { name: 'matmul(null, x)', run: () => A.matmul(null as never, x()), error: ValueError, op: 'matmul' },
  ...LINALG.map((name, i): Case => {
    const [label, v] = bad(i);
    return { name: `${name}(${label})`, run: () => op(name)(v), error: ValueError, op: name };
  }),
  { name: 'solve(x, null)', run: () => A.solve(x(), null as never), error: ValueError, op: 'solve' },
  {
    name: "nn.Linear.forward('x')",
    run: () => new nn.Linear(2, 2, new Random(0)).forward('x' as never),
    error: ValueError,
    op: 'Linear',
  },
  {
    name: 'nn.RMSNorm.forward(null)',
    run: () => new nn.RMSNorm(2).forward(null as never),
    error: ValueError,
    op: 'RMSNorm',
  },
  {
    name: 'nn.CausalSelfAttention.forward([1, 2])',
    run: () => new nn.CausalSelfAttention(4, 2, new Random(0)).forward([1, 2] as never),
    error: ValueError,
    op: 'CausalSelfAttention',
  },
  { name: "new Variable('x')", run: () => new Variable('x' as never), error: ValueError, op: 'Variable' },
  {
    name: 'backward with a string seed',
    run: () => A.sum(x()).backward('1' as never),
    error: ValueError,
    op: 'backward',
  },
  { name: 'backward(null)', run: () => A.backward(null as never), error: ValueError, op: 'backward' },
  { name: 'gradients(null, [x])', run: () => gradients(null as never, [x()]), error: ValueError, op: 'gradients' },
  {
    name: 'gradients(y, [null])',
    run: () => gradients(A.sum(x()), [null as never]),
    error: ValueError,
    op: 'gradients',
  },
];

// ---------------------------------------------------------------------------------------------
// 2. Unknown dtypes across autograd, nn, manifolds and hc-layers

const rng = (): Random => new Random(0);
const dtypeCases: Case[] = [
  { name: "cast(x, 'int8')", run: () => A.cast(x(), 'int8' as never), error: DTypeError, op: 'cast' },
  {
    name: "variable([1], { dtype: 'float16' })",
    run: () => variable([1], { dtype: 'float16' as never }),
    error: DTypeError,
    op: 'variable',
  },
  {
    name: "variable(tensor, { dtype: 'int8' })",
    run: () => variable(tensor([1]), { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'variable',
  },
  {
    name: "param([1], { dtype: 'bf16' })",
    run: () => param([1], { dtype: 'bf16' as never }),
    error: DTypeError,
    op: 'variable',
  },
  {
    name: "nn.Linear(2, 2, rng, { dtype: 'int8' })",
    run: () => new nn.Linear(2, 2, rng(), { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'Linear',
  },
  {
    name: "nn.Embedding(3, 2, rng, { dtype: 'float16' })",
    run: () => new nn.Embedding(3, 2, rng(), { dtype: 'float16' as never }),
    error: DTypeError,
    op: 'Embedding',
  },
  {
    name: "nn.RMSNorm(2, { dtype: 'int8' })",
    run: () => new nn.RMSNorm(2, { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'RMSNorm',
  },
  {
    name: "nn.LayerNorm(2, { dtype: 'int8' })",
    run: () => new nn.LayerNorm(2, { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'LayerNorm',
  },
  {
    name: "nn.MLP(2, 4, rng, { dtype: 'float8' })",
    run: () => new nn.MLP(2, 4, rng(), { dtype: 'float8' as never }),
    error: DTypeError,
    op: 'MLP',
  },
  {
    name: "nn.CausalSelfAttention(4, 2, rng, { dtype: 'int8' })",
    run: () => new nn.CausalSelfAttention(4, 2, rng(), { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'CausalSelfAttention',
  },
  {
    name: "Stiefel.randomPoint(rng, [], { dtype: 'int8' })",
    run: () => new Stiefel(3, 2).randomPoint(rng(), [], { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'Stiefel.randomPoint',
  },
  {
    name: "SpectralSphere.randomPoint(rng, [], { dtype: 'int8' })",
    run: () => new SpectralSphere(2, 2).randomPoint(rng(), [], { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'SpectralSphere.randomPoint',
  },
  {
    name: "Birkhoff.randomPoint(rng, [], { dtype: 'float16' })",
    run: () => new Birkhoff(3).randomPoint(rng(), [], { dtype: 'float16' as never }),
    error: DTypeError,
    op: 'Birkhoff.randomPoint',
  },
  {
    name: "helmertBasis(3, { dtype: 'int8' })",
    run: () => helmertBasis(3, { dtype: 'int8' as never }),
    error: DTypeError,
    op: 'helmertBasis',
  },
  {
    name: "createHyperConnection('mhc', { dtype: 'int8' })",
    run: () => createHyperConnection('mhc', { n: 2, dim: 2, layerIndex: 0, dtype: 'int8' as never }),
    error: DTypeError,
    op: 'MHCLayer',
  },
  {
    name: "DeepResidualMLP({ dtype: 'float16' })",
    run: () =>
      new DeepResidualMLP({
        variant: 'hc',
        dim: 2,
        depth: 1,
        hidden: 2,
        inputDim: 2,
        outputDim: 1,
        rng: rng(),
        dtype: 'float16' as never,
      }),
    error: DTypeError,
    op: 'DeepResidualMLP',
  },
  {
    name: "float32 stays float32: nn.Linear(2, 3, rng, { dtype: 'float32' })",
    run: () => new nn.Linear(2, 3, rng(), { dtype: 'float32' }).weight.value.data,
    check: (d) => expect(d).toBeInstanceOf(Float32Array),
  },
];

// ---------------------------------------------------------------------------------------------
// 3. grad / valueAndGrad / vjp: a function that cuts the graph

const xs = (): Tensor => tensor([1, 2]);
const functionalCases: Case[] = [
  {
    name: 'grad(f) where f returns a Tensor (sum of x.value): was silently zero',
    run: () => grad((v) => T.sum(v.value) as never)(xs()),
    error: ValueError,
    op: 'grad',
  },
  {
    name: 'grad(f) where f returns a number (.item()): was a TypeError on join',
    run: () => grad((v) => A.sum(v).item() as never)(xs()),
    error: ValueError,
    op: 'grad',
  },
  {
    name: 'grad(f) where f returns undefined (forgot return)',
    run: () => grad((() => undefined) as never)(xs()),
    error: ValueError,
    op: 'grad',
  },
  {
    name: 'valueAndGrad(f) where f returns a Tensor',
    run: () => valueAndGrad((v) => T.sum(T.mul(v.value, v.value)) as never)(xs()),
    error: ValueError,
    op: 'valueAndGrad',
  },
  {
    name: 'valueAndGrad(f) where f returns a number',
    run: () => valueAndGrad((() => 3) as never)(xs()),
    error: ValueError,
    op: 'valueAndGrad',
  },
  {
    name: 'vjp(f) where f returns a Tensor',
    run: () => vjp((v) => v.value as never, xs()),
    error: ValueError,
    op: 'vjp',
  },
  { name: 'vjp(f) where f returns a number', run: () => vjp((() => 1) as never, xs()), error: ValueError, op: 'vjp' },
  { name: 'grad(5) (not a function)', run: () => grad(5 as never), error: ValueError, op: 'grad' },
  { name: 'vjp(null, x)', run: () => vjp(null as never, xs()), error: ValueError, op: 'vjp' },
  {
    name: 'grad(f)(3) (a number argument)',
    run: () => grad((v) => A.sum(v))(3 as never),
    error: ValueError,
    op: 'grad',
  },
  { name: 'grad(f)(null)', run: () => grad((v) => A.sum(v))(null as never), error: ValueError, op: 'grad' },
  { name: 'grad(f, null)', run: () => grad((v) => A.sum(v), null as never), error: ValueError, op: 'grad' },
  { name: 'grad(f, 1) with one argument', run: () => grad((v) => A.sum(v), 1)(xs()), error: IndexError, op: 'grad' },
  { name: 'grad(f) of a non-scalar output', run: () => grad((v) => A.mul(v, 2))(xs()), error: ShapeError, op: 'grad' },
  {
    name: 'valueAndGrad(f) of a non-scalar output',
    run: () => valueAndGrad((v) => A.mul(v, 2))(xs()),
    error: ShapeError,
    op: 'valueAndGrad',
  },
  {
    name: 'vjp cotangent of the wrong shape',
    run: () => vjp((v) => A.mul(v, 2), xs()).vjp(T.ones([3])),
    error: ShapeError,
    op: 'vjp',
  },
  {
    name: "vjp cotangent 'a'",
    run: () => vjp((v) => A.mul(v, 2), xs()).vjp('a' as never),
    error: ValueError,
    op: 'vjp',
  },
  {
    name: 'vjp cotangent of the wrong shape, output independent of the primals',
    run: () => vjp(() => variable([1, 2]), xs()).vjp(T.ones([3])),
    error: ShapeError,
    op: 'vjp',
  },
  {
    name: 'grad of Σx² is 2x',
    run: () => grad((v) => A.sum(A.mul(v, v)))(xs()),
    check: (g) => expect(values(g)).toEqual([2, 4]),
  },
  {
    name: 'a constant function has a zero gradient (as JAX; documented)',
    run: () => grad(() => variable([[7]]))(xs()),
    check: (g) => expect([(g as Variable).shape, values(g)]).toEqual([[2], [0, 0]]),
  },
  {
    name: 'vjp with a number cotangent fills the output shape: d(3x)ᵀ·2 = 6',
    run: () => vjp((v) => A.mul(v, 3), xs()).vjp(2)[0],
    check: (g) => expect(values(g)).toEqual([6, 6]),
  },
  {
    name: 'the gradient of a sum over an empty tensor is empty',
    run: () => grad((v) => A.sum(v))(T.zeros([0, 3])),
    check: (g) => expect([(g as Variable).shape, (g as Variable).size]).toEqual([[0, 3], 0]),
  },
];

// ---------------------------------------------------------------------------------------------
// 4. customOp: a backward that returns the wrong thing names the custom op

/** An identity op whose backward returns `backward(g)`. */
function identityOp(name: string, backward: (g: Variable) => unknown): (...inputs: (Variable | Tensor)[]) => Variable {
  return customOp({ name, forward: (a) => a.clone(), backward: ((g: Variable) => backward(g)) as never });
}
const backpropThrough = (
  f: (...inputs: (Variable | Tensor)[]) => Variable,
  input: Variable = param([1, 2]),
): Variable => {
  A.sum(f(input)).backward();
  return input.grad!;
};

const customCases: Case[] = [
  {
    name: 'backward returns a gradient of shape [3] for an input [2]',
    run: () => backpropThrough(identityOp('myOp', () => [T.zeros([3])])),
    error: ShapeError,
    op: 'myOp',
  },
  {
    name: 'backward returns [2,3] for an input [2] (not broadcastable down)',
    run: () => backpropThrough(identityOp('myOp', () => [T.zeros([2, 3])])),
    error: ShapeError,
    op: 'myOp',
  },
  {
    name: 'backward returns [1,3] for an input [2,3] (the input does not broadcast to it)',
    run: () =>
      backpropThrough(
        identityOp('rowOp', () => [T.zeros([1, 3])]),
        param([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ),
    error: ShapeError,
    op: 'rowOp',
  },
  {
    name: 'backward returns too many gradients',
    run: () => backpropThrough(identityOp('myOp', (g) => [g, g])),
    error: ValueError,
    op: 'myOp',
  },
  {
    name: 'backward returns a Variable, not an array',
    run: () => backpropThrough(identityOp('myOp', (g) => g)),
    error: ValueError,
    op: 'myOp',
  },
  {
    name: "backward returns ['g']",
    run: () => backpropThrough(identityOp('myOp', () => ['g'])),
    error: ValueError,
    op: 'myOp',
  },
  {
    name: 'backward returns [[1, 1]] (a plain array)',
    run: () => backpropThrough(identityOp('myOp', () => [[1, 1]])),
    error: ValueError,
    op: 'myOp',
  },
  {
    name: 'forward returns a number',
    run: () => customOp({ name: 'numOp', forward: (() => 1) as never, backward: (g) => [g] })(xs()),
    error: ValueError,
    op: 'numOp',
  },
  {
    name: "custom op applied to '1'",
    run: () => identityOp('myOp', (g) => [g])('1' as never),
    error: ValueError,
    op: 'myOp',
  },
  {
    name: 'customOp without a name',
    run: () => customOp({ forward: (a: Tensor) => a, backward: (g: Variable) => [g] } as never),
    error: ValueError,
    op: 'customOp',
  },
  {
    name: 'customOp without a backward',
    run: () => customOp({ name: 'x', forward: (a: Tensor) => a } as never),
    error: ValueError,
    op: 'customOp',
  },
  { name: 'customOp(null)', run: () => customOp(null as never), error: ValueError, op: 'customOp' },
  {
    name: 'a gradient with an extra leading axis is summed back to the input (ones [4,2] → [4,4])',
    run: () => backpropThrough(identityOp('leadOp', () => [T.ones([4, 2])])),
    check: (g) => expect(values(g)).toEqual([4, 4]),
  },
  {
    name: 'a gradient for a size-1 input axis is summed along it ([2,3] → [1,3])',
    run: () =>
      backpropThrough(
        identityOp('sumOp', () => [T.arange(6).reshape([2, 3])]),
        param([[0, 0, 0]]),
      ),
    check: (g) => expect(values(g)).toEqual([0 + 3, 1 + 4, 2 + 5]),
  },
];

describe('adversarial autograd inputs: wrong-kind arguments', () => battery(argumentCases));
describe('adversarial autograd inputs: dtypes', () => battery(dtypeCases));
describe('adversarial autograd inputs: grad, valueAndGrad, vjp', () => battery(functionalCases));
describe('adversarial autograd inputs: customOp', () => battery(customCases));
