/**
 * Adversarial battery for what the other files do not cover: the function forms of the view
 * methods, `fromNdarray`, autograd's `variance` correction, and the learning-rate scheduler's
 * state. References are literal expected arrays and closed forms.
 */
import { describe, expect } from 'vitest';
import ndarray from 'ndarray';
import * as T from '@hyperconn/tensor';
import { DTypeError, ShapeError, ValueError } from '@hyperconn/tensor';
import { nn, optim, param, variance } from '@hyperconn/autograd';
import { expandStreams, reduceStreams } from '@hyperconn/hc-layers';
import { battery, type Case } from './battery';

const grid = () => T.arange(0, 6).reshape([2, 3]);
const values = (expected: unknown) => (v: unknown) => expect((v as T.Tensor).toArray()).toEqual(expected);

const views: Case[] = [
  {
    name: 'reshape with −1',
    run: () => T.reshape(grid(), [-1, 2]),
    check: values([
      [0, 1],
      [2, 3],
      [4, 5],
    ]),
  },
  {
    name: 'transpose of the last two axes',
    run: () => T.transpose(grid()),
    check: values([
      [0, 3],
      [1, 4],
      [2, 5],
    ]),
  },
  {
    name: 'permute of a 3-d tensor',
    run: () => T.permute(T.arange(0, 8).reshape([2, 2, 2]), [2, 0, 1]).contiguous(),
    check: values([
      [
        [0, 2],
        [4, 6],
      ],
      [
        [1, 3],
        [5, 7],
      ],
    ]),
  },
  {
    name: 'slice with a negative step',
    run: () => T.slice(grid(), null, [null, null, -1]),
    check: values([
      [2, 1, 0],
      [5, 4, 3],
    ]),
  },
  {
    name: 'expand a row',
    run: () => T.expand(T.tensor([1, 2]), [3, 2]),
    check: values([
      [1, 2],
      [1, 2],
      [1, 2],
    ]),
  },
  { name: 'squeeze every size-1 axis', run: () => T.squeeze(T.zeros([1, 2, 1])), check: values([0, 0]) },
  { name: 'unsqueeze a scalar', run: () => T.unsqueeze(T.scalar(3), 0), check: values([3]) },
  { name: 'flatten a transposed view', run: () => T.flatten(T.transpose(grid())), check: values([0, 3, 1, 4, 2, 5]) },
  {
    name: 'cast float64 → float32 rounds',
    run: () => T.cast(T.tensor([0.1]), 'float32').get(0),
    check: (v) => expect(v).toBe(Math.fround(0.1)),
  },
  {
    name: 'clone is a copy',
    run: () => {
      const t = grid();
      const c = T.clone(t);
      c.set([0, 0], 9);
      return t.get(0, 0);
    },
    check: (v) => expect(v).toBe(0),
  },
  { name: 'reshape to an impossible size', run: () => T.reshape(grid(), [4, 2]), error: ShapeError, op: 'reshape' },
  { name: 'reshape of a plain array', run: () => T.reshape([1, 2] as never, [2]), error: ValueError, op: 'reshape' },
  { name: 'transpose of undefined', run: () => T.transpose(undefined as never), error: ValueError, op: 'transpose' },
  { name: 'permute of null', run: () => T.permute(null as never, [0]), error: ValueError, op: 'permute' },
  { name: 'slice of a number', run: () => T.slice(3 as never), error: ValueError, op: 'slice' },
  { name: 'expand of a string', run: () => T.expand('x' as never, [2]), error: ValueError, op: 'expand' },
  { name: 'squeeze of an object', run: () => T.squeeze({} as never), error: ValueError, op: 'squeeze' },
  { name: 'unsqueeze of a boolean', run: () => T.unsqueeze(true as never, 0), error: ValueError, op: 'unsqueeze' },
  { name: 'flatten of null', run: () => T.flatten(null as never), error: ValueError, op: 'flatten' },
  { name: 'contiguous of an array', run: () => T.contiguous([] as never), error: ValueError, op: 'contiguous' },
  { name: 'clone of undefined', run: () => T.clone(undefined as never), error: ValueError, op: 'clone' },
  { name: 'cast to int8', run: () => T.cast(grid(), 'int8' as never), error: DTypeError, op: 'cast' },
];

const nd: Case[] = [
  {
    name: 'fromNdarray of a transposed float64 ndarray',
    run: () => T.fromNdarray(ndarray(new Float64Array([1, 2, 3, 4]), [2, 2]).transpose(1, 0)),
    check: values([
      [1, 3],
      [2, 4],
    ]),
  },
  {
    name: 'fromNdarray of a reversed ndarray (negative stride)',
    run: () => T.fromNdarray(ndarray(new Float64Array([1, 2, 3]), [3]).step(-1)),
    check: values([3, 2, 1]),
  },
  {
    name: 'fromNdarray of a plain array copies to float64',
    run: () => T.fromNdarray(ndarray([1, 2, 3, 4], [2, 2])).dtype,
    check: (v) => expect(v).toBe('float64'),
  },
  {
    name: 'fromNdarray of a size-0 ndarray',
    run: () => T.fromNdarray(ndarray(new Float64Array(0), [2, 0])).shape,
    check: (v) => expect(v).toEqual([2, 0]),
  },
  {
    name: 'fromNdarray with strides past the storage',
    run: () => T.fromNdarray({ data: new Float64Array(3), shape: [2, 2], stride: [2, 1], offset: 0 } as never),
    error: ShapeError,
    op: 'fromNdarray',
  },
  {
    name: 'fromNdarray with a negative offset',
    run: () => T.fromNdarray({ data: new Float64Array(3), shape: [1], stride: [1], offset: -1 } as never),
    error: ShapeError,
    op: 'fromNdarray',
  },
  {
    name: 'fromNdarray with a NaN dimension',
    run: () => T.fromNdarray({ data: new Float64Array(3), shape: [Number.NaN], stride: [1], offset: 0 } as never),
    error: ShapeError,
    op: 'fromNdarray',
  },
  {
    name: 'fromNdarray of BigInt storage',
    run: () => T.fromNdarray({ data: new BigInt64Array(1), shape: [1], stride: [1], offset: 0 } as never),
    error: DTypeError,
    op: 'fromNdarray',
  },
  {
    name: 'fromNdarray of strings',
    run: () => T.fromNdarray(ndarray(['a'] as never, [1])),
    error: DTypeError,
    op: 'fromNdarray',
  },
  {
    name: 'fromNdarray of a stride-0 ndarray over the element cap',
    run: () =>
      T.fromNdarray({ data: new Float64Array(1), shape: [2 ** 15, 2 ** 15], stride: [0, 0], offset: 0 } as never),
    error: T.AllocationError,
    op: 'fromNdarray',
  },
  {
    name: 'fromNdarray of 65 axes',
    run: () =>
      T.fromNdarray({
        data: new Float64Array(1),
        shape: new Array(65).fill(1),
        stride: new Array(65).fill(0),
        offset: 0,
      } as never),
    error: ShapeError,
    op: 'fromNdarray',
  },
  {
    name: 'fromNdarray of undefined',
    run: () => T.fromNdarray(undefined as never),
    error: ValueError,
    op: 'fromNdarray',
  },
];

const stats: Case[] = [
  {
    name: 'RMSNorm with null options takes the defaults',
    run: () => new nn.RMSNorm(2, null as never).eps,
    check: (v) => expect(v).toBe(1e-6),
  },
  {
    name: 'LayerNorm with null options takes the defaults',
    run: () => new nn.LayerNorm(2, null as never).eps,
    check: (v) => expect(v).toBe(1e-5),
  },
  {
    name: 'RMSNorm with options that are a string',
    run: () => new nn.RMSNorm(2, 'float32' as never),
    error: ValueError,
    op: 'RMSNorm',
  },
  {
    name: 'variance with correction 1 (sample variance of 1..4 = 5/3)',
    run: () => variance(T.tensor([1, 2, 3, 4]), undefined, false, 1).item(),
    check: (v) => expect(v).toBeCloseTo(5 / 3, 14),
  },
  {
    name: 'variance with a negative correction',
    run: () => variance(T.tensor([1, 2, 3, 4]), undefined, false, -1),
    error: ValueError,
    op: 'variance',
  },
  {
    name: 'variance with a NaN correction',
    run: () => variance(T.tensor([1, 2, 3, 4]), undefined, false, Number.NaN),
    error: ValueError,
    op: 'variance',
  },
  {
    name: 'variance with an infinite correction',
    run: () => variance(T.tensor([1, 2, 3, 4]), undefined, false, Number.POSITIVE_INFINITY),
    error: ValueError,
    op: 'variance',
  },
  {
    name: 'variance leaving no degrees of freedom',
    run: () => variance(T.tensor([1, 2]), undefined, false, 2),
    error: ValueError,
    op: 'variance',
  },
];

function scheduler(breakAt = Number.POSITIVE_INFINITY) {
  const opt = new optim.SGD([param([1])], { lr: 0.2 });
  return { opt, sched: new optim.LRScheduler(opt, (s) => (s < breakAt ? 1 / (1 + s) : Number.NaN)) };
}
const schedule: Case[] = [
  {
    name: 'LRScheduler.loadStateDict applies the saved step at once',
    run: () => {
      const { opt, sched } = scheduler();
      sched.loadStateDict({ step: 3, baseLrs: [0.4] });
      return opt.paramGroups[0]!.lr;
    },
    check: (v) => expect(v).toBe(0.4 / 4),
  },
  {
    name: 'LRScheduler.loadStateDict with a negative base lr',
    run: () => scheduler().sched.loadStateDict({ step: 1, baseLrs: [-1] }),
    error: ValueError,
    op: 'LRScheduler.loadStateDict',
  },
  {
    name: 'LRScheduler.loadStateDict with an infinite base lr',
    run: () => scheduler().sched.loadStateDict({ step: 1, baseLrs: [Number.POSITIVE_INFINITY] }),
    error: ValueError,
    op: 'LRScheduler.loadStateDict',
  },
  {
    name: 'LRScheduler.loadStateDict with too many base lrs',
    run: () => scheduler().sched.loadStateDict({ step: 1, baseLrs: [0.1, 0.2] }),
    error: ValueError,
    op: 'LRScheduler.loadStateDict',
  },
  {
    name: 'LRScheduler.loadStateDict with a fractional step',
    run: () => scheduler().sched.loadStateDict({ step: 1.5, baseLrs: [0.1] }),
    error: ValueError,
    op: 'LRScheduler.loadStateDict',
  },
  {
    name: 'LRScheduler.loadStateDict at a step the schedule cannot take',
    run: () => scheduler(2).sched.loadStateDict({ step: 5, baseLrs: [0.1] }),
    error: ValueError,
    op: 'LRScheduler.loadStateDict',
  },
  {
    name: 'LRScheduler.step into a NaN factor leaves the step and lr as they were',
    run: () => {
      const { opt, sched } = scheduler(2);
      sched.step();
      try {
        sched.step();
      } catch {
        /* refused */
      }
      return [sched.lastStep, opt.paramGroups[0]!.lr];
    },
    check: (v) => expect(v).toEqual([1, 0.1]),
  },
];

const streams: Case[] = [
  { name: 'expandStreams of null', run: () => expandStreams(null as never, 2), error: ValueError, op: 'expandStreams' },
  { name: 'reduceStreams of a string', run: () => reduceStreams('x' as never), error: ValueError, op: 'reduceStreams' },
  {
    name: 'reduceStreams of a Tensor sums the streams',
    run: () => reduceStreams(T.ones([1, 1, 3, 2])).toArray(),
    check: (v) => expect(v).toEqual([[[3, 3]]]),
  },
];

describe('views as functions', () => battery(views));
describe('stream helpers', () => battery(streams));
describe('fromNdarray', () => battery(nd));
describe('variance correction', () => battery(stats));
describe('learning-rate scheduler state', () => battery(schedule));
