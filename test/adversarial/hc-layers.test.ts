/**
 * The adversarial battery for the hyper-connection layers and their diagnostics: options out of
 * range for every variant, inputs of the wrong kind, shape, dtype or finiteness, eps = 0 with an
 * all-zero token, branches that return the wrong thing, and diagnostics of maps that are not
 * maps, NaN, or overflow over depth. Values are checked against loops over the maps
 * (packages/hc-layers/test/layer-helpers.ts), closed forms, or the same call with an equal input.
 */
import { describe, expect } from 'vitest';
import * as T from '@hyperconn/tensor';
import { DTypeError, eye, Random, ShapeError, tensor, ValueError, zeros, type Tensor } from '@hyperconn/tensor';
import { mul, variable, type Variable } from '@hyperconn/autograd';
import {
  compositeDiagnostics,
  createHyperConnection,
  HCLayer,
  KromHCLayer,
  layerDiagnostics,
  MHCLayer,
  MHCLiteLayer,
  ResidualLayer,
  SHCLayer,
  SHCPowerLayer,
  VARIANTS,
  type HyperConnection,
  type HyperConnectionOptions,
  type TokenMaps,
  type Variant,
} from '@hyperconn/hc-layers';
import { randomLayer, randomState, referenceUpdate } from '../../packages/hc-layers/test/layer-helpers';
import { expectClose } from '../support/assert';
import { battery, type Case } from './battery';

const CLASSES = {
  residual: ResidualLayer,
  hc: HCLayer,
  mhc: MHCLayer,
  mhcLite: MHCLiteLayer,
  kromhc: KromHCLayer,
  shc: SHCLayer,
  shcPower: SHCPowerLayer,
} as const;
const LABEL: Record<Variant, string> = {
  residual: 'ResidualLayer',
  hc: 'HCLayer',
  mhc: 'MHCLayer',
  mhcLite: 'MHCLiteLayer',
  kromhc: 'KromHCLayer',
  shc: 'SHCLayer',
  shcPower: 'SHCPowerLayer',
};
const CONSTRAINED = VARIANTS.filter((v) => v !== 'residual');

const construct = (variant: Variant, options: Partial<HyperConnectionOptions>) => (): unknown =>
  new CLASSES[variant]({ n: 3, dim: 2, layerIndex: 0, ...options } as HyperConnectionOptions);

const half = (u: Variable): Variable => mul(u, 0.5);
const halfLoop = (u: Float64Array): Float64Array => u.map((x) => 0.5 * x);

/** A perturbed layer of `variant` with 3 streams (1 for the residual) of size 2. */
const layerOf = (variant: Variant, options: Partial<HyperConnectionOptions> = {}): HyperConnection =>
  randomLayer(variant, { n: variant === 'residual' ? 1 : 3, dim: 2, layerIndex: 1, ...options }, 7, 0.3);
const stateFor = (layer: HyperConnection, dtype: 'float64' | 'float32' = 'float64'): Tensor =>
  randomState(new Random(11), [2, 3, layer.n, 2], 1, dtype);

const optionErrors: Case[] = CONSTRAINED.flatMap((variant): Case[] => {
  const op = LABEL[variant];
  const cases: [string, Partial<HyperConnectionOptions>, typeof ValueError][] = [
    ['n = 0', { n: 0 }, ValueError],
    ['n = 1.5', { n: 1.5 }, ValueError],
    ['dim NaN', { dim: NaN }, ValueError],
    ['dim 0', { dim: 0 }, ValueError],
    ['layerIndex −1', { layerIndex: -1 }, ValueError],
    ['eps −1e-6', { eps: -1e-6 }, ValueError],
    ['eps ∞', { eps: Infinity }, ValueError],
    ["dtype 'int32'", { dtype: 'int32' as never }, DTypeError],
  ];
  return cases.map(([what, options, error]) => ({
    name: `${variant} with ${what}`,
    run: construct(variant, options),
    error,
    op,
  }));
});

const variantOptionErrors: Case[] = [
  { name: 'mhc with sinkhornIters 0', run: construct('mhc', { sinkhornIters: 0 }), error: ValueError, op: 'MHCLayer' },
  {
    name: 'mhc with sinkhornIters 2.5',
    run: construct('mhc', { sinkhornIters: 2.5 }),
    error: ValueError,
    op: 'MHCLayer',
  },
  { name: 'mhcLite with maxN 0', run: construct('mhcLite', { maxN: 0 }), error: ValueError, op: 'MHCLiteLayer' },
  {
    name: 'mhcLite with n = 4 above maxN = 3',
    run: construct('mhcLite', { n: 4, maxN: 3 }),
    error: ValueError,
    op: 'MHCLiteLayer',
  },
  {
    name: 'mhcLite with n = 9 above the default maxN',
    run: construct('mhcLite', { n: 9 }),
    error: ValueError,
    op: 'MHCLiteLayer',
  },
  { name: 'kromhc with maxFactor 0', run: construct('kromhc', { maxFactor: 0 }), error: ValueError, op: 'KromHCLayer' },
  {
    name: 'kromhc with maxFactor 2.5',
    run: construct('kromhc', { maxFactor: 2.5 }),
    error: ValueError,
    op: 'KromHCLayer',
  },
  {
    name: 'kromhc with n = 6 (prime factor 3) above maxFactor = 2',
    run: construct('kromhc', { n: 6, maxFactor: 2 }),
    error: ValueError,
    op: 'KromHCLayer',
  },
  {
    name: 'kromhc with n = 11 (prime) above the default maxFactor',
    run: construct('kromhc', { n: 11 }),
    error: ValueError,
    op: 'KromHCLayer',
  },
  { name: 'shc with n = 1 (no sphere)', run: construct('shc', { n: 1 }), error: ValueError, op: 'SHCLayer' },
  {
    name: 'shcPower with powerIters −1',
    run: construct('shcPower', { powerIters: -1 }),
    error: ValueError,
    op: 'SHCPowerLayer',
  },
  {
    name: "hc with dynamic 'yes'",
    run: construct('hc', { dynamic: 'yes' as never }),
    error: ValueError,
    op: 'HCLayer',
  },
  { name: 'residual with dim 2.5', run: construct('residual', { dim: 2.5 }), error: ValueError, op: 'ResidualLayer' },
  {
    name: 'residual with options null',
    run: () => new ResidualLayer(null as never),
    error: ValueError,
    op: 'ResidualLayer',
  },
  {
    name: 'sHC with options undefined',
    run: () => new SHCLayer(undefined as never),
    error: ValueError,
    op: 'SHCLayer',
  },
  {
    name: 'createHyperConnection with options null',
    run: () => createHyperConnection('mhc', null as never),
    error: ValueError,
    op: 'createHyperConnection',
  },
  {
    name: 'createHyperConnection with n = 1.5',
    run: () => createHyperConnection('mhc', { n: 1.5, dim: 2, layerIndex: 0 }),
    error: ValueError,
    op: 'createHyperConnection',
  },
  {
    name: "createHyperConnection of variant 'MHC'",
    run: () => createHyperConnection('MHC' as never, { dim: 2, layerIndex: 0 }),
    error: ValueError,
    op: 'createHyperConnection',
  },
];

const inputErrors: Case[] = VARIANTS.flatMap((variant): Case[] => {
  const op = LABEL[variant];
  const layer = layerOf(variant);
  const n = layer.n;
  const nan = zeros([1, 1, n, 2]);
  nan.set([0, 0, n - 1, 1], NaN);
  return [
    { name: `${variant}.forward of null`, run: () => layer.forward(null as never, half), error: ValueError, op },
    {
      name: `${variant}.forward of a nested array`,
      run: () => layer.forward([[[[1, 2]]]] as never, half),
      error: ValueError,
      op,
    },
    { name: `${variant}.split of a number`, run: () => layer.split(3 as never), error: ValueError, op },
    { name: `${variant}.maps of undefined`, run: () => layer.maps(undefined as never), error: ValueError, op },
    {
      name: `${variant}.forward of a [1, 1, n, C + 1] tensor`,
      run: () => layer.forward(zeros([1, 1, n, 3]), half),
      error: ShapeError,
      op,
    },
    {
      name: `${variant}.forward of a float32 tensor into a float64 layer`,
      run: () => layer.forward(zeros([1, 1, n, 2], { dtype: 'float32' }), half),
      error: DTypeError,
      op,
    },
    { name: `${variant}.maps of a tensor holding NaN`, run: () => layer.maps(nan), error: ValueError, op },
    {
      name: `${variant}: a branch returning [B, T, C + 1]`,
      run: () => layer.forward(stateFor(layer), () => variable(zeros([2, 3, 3]))),
      error: ShapeError,
      op,
    },
    {
      name: `${variant}: a branch returning float32 into a float64 layer`,
      run: () => layer.forward(stateFor(layer), (u) => variable(u.value.astype('float32'))),
      error: DTypeError,
      op,
    },
    {
      name: `${variant}: a branch returning a Tensor`,
      run: () => layer.forward(stateFor(layer), (u) => u.value as never),
      error: ValueError,
      op,
    },
    {
      name: `${variant}: a branch returning undefined`,
      run: () => layer.forward(stateFor(layer), () => undefined as never),
      error: ValueError,
      op,
    },
    {
      name: `${variant}: a branch that is a string`,
      run: () => layer.forward(stateFor(layer), 'relu' as never),
      error: ValueError,
      op,
    },
  ];
});

const zeroTokenErrors: Case[] = CONSTRAINED.map(
  (variant): Case => ({
    name: `${variant} with eps = 0 and an all-zero token (named by the layer, not by Sinkhorn/Cayley)`,
    run: () => layerOf(variant, { eps: 0 }).forward(zeros([1, 2, 3, 2]), half),
    error: ValueError,
    op: LABEL[variant],
  }),
);

const float32Errors: Case[] = CONSTRAINED.map(
  (variant): Case => ({
    name: `a float32 ${variant} whose branch returns float64`,
    run: () => {
      const layer = createHyperConnection(variant, { n: 3, dim: 2, layerIndex: 0, dtype: 'float32' });
      return layer.forward(stateFor(layer, 'float32'), (u) => variable(u.value.astype('float64')));
    },
    error: DTypeError,
    op: LABEL[variant],
  }),
);

/** X' by loops over the layer's own maps (an independent evaluation of the update). */
const loopUpdate = (layer: HyperConnection, x: Tensor): Float64Array =>
  referenceUpdate(x.astype('float64'), layer.maps(x), halfLoop).reference;

const layerValues: Case[] = [
  ...VARIANTS.map(
    (variant): Case => ({
      name: `${variant}.forward of a plain Tensor = the loop update over its maps`,
      run: () => {
        const layer = layerOf(variant);
        const x = stateFor(layer);
        return [layer.forward(x, half).value, loopUpdate(layer, x)];
      },
      check: (v) => {
        const [y, reference] = v as [Tensor, Float64Array];
        expectClose(y.toTypedArray(), reference, { rtol: 1e-12, atol: 1e-12 });
      },
    }),
  ),
  ...CONSTRAINED.map(
    (variant): Case => ({
      name: `${variant}: split(Tensor) + merge = forward(Variable) of the same values`,
      run: () => {
        const layer = layerOf(variant);
        const x = stateFor(layer);
        const { branchInput, merge } = layer.split(x);
        return [merge(half(branchInput)).value.toArray(), layer.forward(variable(x), half).value.toArray()];
      },
      check: (v) => {
        const [a, b] = v as [unknown, unknown];
        expect(a).toEqual(b);
      },
    }),
  ),
  ...CONSTRAINED.map(
    (variant): Case => ({
      name: `${variant} with eps = 0 and a non-zero token is finite and equals the loop update`,
      run: () => {
        const layer = layerOf(variant, { eps: 0 });
        const x = stateFor(layer);
        return [layer.forward(x, half).value, loopUpdate(layer, x)];
      },
      check: (v) => {
        const [y, reference] = v as [Tensor, Float64Array];
        expect(y.toTypedArray().every(Number.isFinite)).toBe(true);
        expectClose(y.toTypedArray(), reference, { rtol: 1e-12, atol: 1e-12 });
      },
    }),
  ),
  {
    name: 'the residual on a plain Tensor is exactly x + F(x)',
    run: () =>
      createHyperConnection('residual', { dim: 3, layerIndex: 0 })
        .forward(tensor([[[[1, -2, 4]]]]), half)
        .value.toArray(),
    check: (v) => expect(v).toEqual([[[[1.5, -3, 6]]]]),
  },
];

const mapsOf = (hRes: Tensor): TokenMaps => ({
  hRes,
  hPre: zeros(hRes.shape.slice(0, -1)),
  hPost: zeros(hRes.shape.slice(0, -1)),
});
const withValue = (value: number): Tensor => {
  const h = eye(3).reshape([1, 1, 3, 3]).clone();
  h.set([0, 0, 2, 0], value);
  return h;
};

const diagnosticsValues: Case[] = [
  {
    name: 'layerDiagnostics of I: gains and σ_max 1, every distance 0',
    run: () => layerDiagnostics(mapsOf(eye(4).reshape([1, 1, 4, 4]))),
    check: (v) =>
      expect(v).toEqual({
        forwardGain: 1,
        backwardGain: 1,
        sigmaMax: 1,
        identityDistance: 0,
        offDiagonalMass: 0,
        negativeFraction: 0,
        negativeMass: 0,
        rowSumDeviation: 0,
        colSumDeviation: 0,
      }),
  },
  {
    name: 'compositeDiagnostics of two HC-like maps 2I: gains 2 then 4 (closed form)',
    run: () =>
      compositeDiagnostics([T.mul(eye(2), 2).reshape([1, 1, 2, 2]), T.mul(eye(2), 2).reshape([1, 1, 2, 2])]).map(
        (d) => [d.depth, d.forwardGain, d.backwardGain, d.sigmaMax],
      ),
    check: (v) =>
      expect(v).toEqual([
        [1, 2, 2, 2],
        [2, 4, 4, 4],
      ]),
  },
];

const diagnosticsErrors: Case[] = [
  {
    name: 'layerDiagnostics(null)',
    run: () => layerDiagnostics(null as never),
    error: ValueError,
    op: 'layerDiagnostics',
  },
  {
    name: 'layerDiagnostics of a number',
    run: () => layerDiagnostics(3 as never),
    error: ValueError,
    op: 'layerDiagnostics',
  },
  {
    name: 'layerDiagnostics of maps without hRes',
    run: () => layerDiagnostics({} as never),
    error: ValueError,
    op: 'layerDiagnostics',
  },
  {
    name: 'layerDiagnostics of an hRes that is a nested array',
    run: () => layerDiagnostics({ hRes: [[1]] } as never),
    error: ValueError,
    op: 'layerDiagnostics',
  },
  {
    name: 'layerDiagnostics of NaN maps',
    run: () => layerDiagnostics(mapsOf(withValue(NaN))),
    error: ValueError,
    op: 'layerDiagnostics',
  },
  {
    name: 'layerDiagnostics of maps holding +∞',
    run: () => layerDiagnostics(mapsOf(withValue(Infinity))),
    error: ValueError,
    op: 'layerDiagnostics',
  },
  {
    name: 'layerDiagnostics of non-square maps',
    run: () => layerDiagnostics(mapsOf(zeros([1, 1, 2, 3]))),
    error: ShapeError,
    op: 'layerDiagnostics',
  },
  {
    name: 'compositeDiagnostics(null)',
    run: () => compositeDiagnostics(null as never),
    error: ValueError,
    op: 'compositeDiagnostics',
  },
  {
    name: 'compositeDiagnostics of a Tensor instead of a list',
    run: () => compositeDiagnostics(eye(3) as never),
    error: ValueError,
    op: 'compositeDiagnostics',
  },
  {
    name: 'compositeDiagnostics with a null layer',
    run: () => compositeDiagnostics([eye(3), null as never]),
    error: ValueError,
    op: 'compositeDiagnostics',
  },
  {
    name: 'compositeDiagnostics with a NaN layer',
    run: () => compositeDiagnostics([eye(3).reshape([1, 1, 3, 3]), withValue(NaN)]),
    error: ValueError,
    op: 'compositeDiagnostics',
  },
  {
    name: 'compositeDiagnostics of layers of different shapes',
    run: () => compositeDiagnostics([eye(3), eye(2)]),
    error: ShapeError,
    op: 'compositeDiagnostics',
  },
  {
    name: 'compositeDiagnostics whose product overflows float64 at depth 2',
    run: () => compositeDiagnostics([T.mul(eye(3), 1e200), T.mul(eye(3), 1e200)]),
    error: ValueError,
    op: 'compositeDiagnostics',
  },
];

describe('adversarial battery: hyper-connection layers', () => {
  battery([
    ...optionErrors,
    ...variantOptionErrors,
    ...inputErrors,
    ...zeroTokenErrors,
    ...float32Errors,
    ...layerValues,
  ]);
});

describe('adversarial battery: diagnostics', () => {
  battery([...diagnosticsValues, ...diagnosticsErrors]);
});
