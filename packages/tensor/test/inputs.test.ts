/**
 * Input validation of the tensor package: the dtype rule (checkDType/dtypeOption), the element
 * and rank caps (MAX_ELEMENTS, MAX_RANK, checkAllocation, the allocate backstop), tensor()'s
 * iterative walk of nested arrays and its error paths, and the wrong-kind argument messages
 * (checkTensor, argumentError, fmtArg). The adversarial battery (test/adversarial/
 * tensor-inputs.test.ts) covers the same rules across every op; these pin the messages.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AllocationError,
  DTypeError,
  MAX_ELEMENTS,
  MAX_RANK,
  ShapeError,
  Tensor,
  ValueError,
  add,
  allocate,
  argumentError,
  checkAllocation,
  checkDType,
  checkTensor,
  dtypeOption,
  fmtArg,
  sum,
  tensor,
  zeros,
} from '@hyperconn/tensor';

describe('dtype rule', () => {
  it('accepts exactly float64 and float32', () => {
    expect(checkDType('op', 'float64')).toBe('float64');
    expect(checkDType('op', 'float32')).toBe('float32');
    for (const bad of ['int8', 'float16', 'Float32', 'float', '', 64, null, undefined, {}]) {
      expect(() => checkDType('op', bad)).toThrow(DTypeError);
    }
    expect(() => checkDType('zeros', 'int8')).toThrow(/^zeros: dtype must be 'float64' or 'float32', got 'int8'$/);
    expect(() => checkDType('zeros', 16)).toThrow(/^zeros: dtype must be 'float64' or 'float32', got the number 16$/);
  });

  it('dtypeOption: absent options or dtype give the fallback; options must be an object', () => {
    expect(dtypeOption('op', undefined)).toBe('float64');
    expect(dtypeOption('op', null, 'float32')).toBe('float32');
    expect(dtypeOption('op', {}, 'float32')).toBe('float32');
    expect(dtypeOption('op', { dtype: 'float32' })).toBe('float32');
    expect(() => dtypeOption('zeros', 'float32')).toThrow(
      /^zeros: options must be an object such as \{ dtype: 'float32' \}, got the string "float32"/,
    );
    expect(() => dtypeOption('zeros', { dtype: 'int8' })).toThrow(DTypeError);
  });

  it('no constructor turns an unknown dtype into float32 any more', () => {
    expect(() => tensor([1, 2], { dtype: 'int8' as never })).toThrow(/^tensor: dtype must be/);
    expect(() => zeros([2], { dtype: 'float16' as never })).toThrow(/^zeros: dtype must be/);
    expect(() => allocate('float16' as never, 4)).toThrow(/^allocate: dtype must be/);
  });
});

describe('element cap and rank cap', () => {
  it('documents 2^28 elements and 64 axes', () => {
    expect(MAX_ELEMENTS).toBe(2 ** 28);
    expect(MAX_RANK).toBe(64);
  });

  it('refuses oversized shapes before allocating, naming the op and the shape', () => {
    expect(() => zeros([1e6, 1e6])).toThrow(AllocationError);
    expect(() => zeros([1e6, 1e6])).toThrow(
      new RegExp(
        String.raw`^zeros: shape \[1000000,1000000\] is too large: it has 1000000000000 elements, ` +
          String.raw`more than MAX_ELEMENTS \(268435456\)`,
      ),
    );
    expect(() => add(zeros([2 ** 14, 1]), zeros([1, 2 ** 15]))).toThrow(/^add: shape \[16384,32768\] is too large/);
    expect(() => zeros([0, 2 ** 20, 2 ** 20])).toThrow(
      /^zeros: shape \[0,1048576,1048576\] is too large: its non-zero sizes multiply to/,
    );
    // an AllocationError is a ValueError: callers catching the latter keep working
    expect(() => zeros([2 ** 31])).toThrow(ValueError);
  });

  it('checkAllocation is the boundary: MAX_ELEMENTS passes, one more fails', () => {
    expect(() => checkAllocation('op', [MAX_ELEMENTS])).not.toThrow();
    expect(() => checkAllocation('op', [2 ** 14, 2 ** 14])).not.toThrow();
    expect(() => checkAllocation('op', [MAX_ELEMENTS + 1])).toThrow(AllocationError);
    expect(() => checkAllocation('op', new Array<number>(MAX_RANK).fill(1))).not.toThrow();
    expect(() => checkAllocation('op', new Array<number>(MAX_RANK + 1).fill(1))).toThrow(
      /^op: shape has 65 axes, more than MAX_RANK \(64\)/,
    );
  });

  it('the allocate backstop refuses lengths that would be a RangeError or wrong', () => {
    expect(() => allocate('float64', 2 ** 31)).toThrow(AllocationError);
    for (const bad of [-1, 1.5, NaN, Infinity])
      expect(() => allocate('float64', bad)).toThrow(/^allocate: length must be an integer/);
    expect(allocate('float32', 0).length).toBe(0);
  });

  it('bad dimensions are ValueErrors that show every entry', () => {
    expect(() => zeros([2, NaN])).toThrow(/^zeros: shape entries must be non-negative integers, got \[2,NaN\]/);
    expect(() => zeros([2, '3'] as never)).toThrow(
      /^zeros: shape entries must be non-negative integers, got \[2,the string "3"\]/,
    );
    expect(() => zeros(3 as never)).toThrow(
      /^zeros: shape must be an array of non-negative integers, got the number 3/,
    );
  });
});

describe('tensor() nested arrays', () => {
  it('errors give the index of the bad element', () => {
    expect(() =>
      tensor([
        [1, 2],
        [3, '4'],
      ] as never),
    ).toThrow(/^tensor: elements must be numbers, got the string "4" at index \[1,1\]$/);
    expect(() => tensor([[[1, 2]], [[3, null]]] as never)).toThrow(/at index \[1,0,1\]$/);
    expect(() => tensor([[1, 2], [3]])).toThrow(
      /^tensor: nested arrays are ragged: the array at index \[1\] has length 1, expected 2$/,
    );
    expect(() =>
      tensor([
        [1, 2],
        [3, [4]],
      ] as never),
    ).toThrow(/^tensor: nested arrays are ragged: an array at index \[1,1\] where a number belongs$/);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(
      /^tensor: nested arrays are ragged: a number at index \[1\] where an array of length 2 belongs$/,
    );
  });

  it('a 20 000-deep array is a ShapeError, not a stack overflow', () => {
    let a: unknown = 0;
    for (let i = 0; i < 20_000; i++) a = [a];
    expect(() => tensor(a as never)).toThrow(ShapeError);
    expect(() => tensor(a as never)).toThrow(/^tensor: nested arrays are more than MAX_RANK \(64\) levels deep$/);
  });

  it('fills any rectangular nesting in C order (against the flat values it was built from)', () => {
    const arb = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 4 }).chain((shape) =>
      fc.tuple(
        fc.constant(shape),
        fc.array(fc.double(), {
          minLength: shape.reduce((n, d) => n * d, 1),
          maxLength: shape.reduce((n, d) => n * d, 1),
        }),
      ),
    );
    fc.assert(
      fc.property(arb, ([shape, flat]) => {
        // build the nesting from the flat list by hand
        let pos = 0;
        const build = (axis: number): unknown =>
          axis === shape.length ? flat[pos++] : Array.from({ length: shape[axis]! }, () => build(axis + 1));
        const t = tensor(build(0) as never);
        // an empty array hides the sizes below it: [] is shape [0] whatever was meant
        const zero = shape.indexOf(0);
        expect(t.shape).toEqual(zero === -1 ? shape : shape.slice(0, zero + 1));
        expect(Array.from(t.toTypedArray())).toEqual(flat);
      }),
    );
  });
});

describe('wrong-kind arguments', () => {
  it('fmtArg describes anything without throwing', () => {
    expect(fmtArg(null)).toBe('null');
    expect(fmtArg(undefined)).toBe('undefined');
    expect(fmtArg('1')).toBe('the string "1"');
    expect(fmtArg('x'.repeat(30))).toBe(`the string "${'x'.repeat(20)}…"`);
    expect(fmtArg(2)).toBe('the number 2');
    expect(fmtArg(3n)).toBe('the bigint 3n');
    expect(fmtArg(true)).toBe('the boolean true');
    expect(fmtArg([1, 2])).toBe('an array of length 2');
    expect(fmtArg({})).toBe('an object');
    expect(fmtArg(Object.create(null))).toBe('an object');
    expect(fmtArg(new Int32Array(1))).toBe('an Int32Array');
    expect(fmtArg(zeros([1]))).toBe('a Tensor');
    expect(fmtArg(() => 1)).toBe('a function');
    expect(fmtArg(Symbol('s'))).toBe('a symbol');
  });

  it('checkTensor and argumentError name the op, what it accepts, what came and the argument', () => {
    const t = zeros([1]);
    expect(checkTensor('op', t)).toBe(t);
    expect(() => checkTensor('sum', [1, 2])).toThrow(
      /^sum: expected a Tensor, got object \(an array of length 2\) for argument x$/,
    );
    expect(argumentError('add', 'b', 'a Tensor or a number', '1').message).toBe(
      'add: expected a Tensor or a number, got string (the string "1") for argument b',
    );
    expect(() => add(t, '1' as never)).toThrow(
      /^add: expected a Tensor or a number, got string \(the string "1"\) for argument b$/,
    );
    expect(() => sum(null as never)).toThrow(/^sum: expected a Tensor, got null for argument x$/);
    expect(() => add(t, null as never)).toThrow(ValueError);
    expect(t).toBeInstanceOf(Tensor);
  });
});
