/**
 * The adversarial battery's one table format. Every case either expects a value, checked
 * against an independent reference (a closed form, a naive loop, a mathematically equal input),
 * or expects a typed error: the class, and the op's name at the start of the message. A case
 * that expects a value fails if anything is thrown; a case that expects an error fails on a
 * returned value (a silent wrong number) and on a bare TypeError/RangeError.
 */
import { expect, it } from 'vitest';
import { HyperconnError } from '@hyperconn/tensor';

type ErrorClass = abstract new (...args: never[]) => Error;

export type Case =
  | {
      /** What is tried, in words a reader of the table understands. */
      name: string;
      /** Returns the value to check. */
      run: () => unknown;
      /** Throws (an expect failure) when the value is wrong. */
      check: (value: unknown) => void;
    }
  | {
      name: string;
      run: () => unknown;
      /** The typed error class expected. */
      error: ErrorClass;
      /** The op (function, method or class name) the message must start with. */
      op: string;
    };

/** Registers one vitest test per case. */
export function battery(cases: readonly Case[]): void {
  for (const c of cases) {
    if ('check' in c) {
      it(`value: ${c.name}`, () => {
        c.check(c.run());
      });
    } else {
      it(`${c.error.name} from ${c.op}: ${c.name}`, () => {
        let thrown: unknown;
        let returned: unknown;
        try {
          returned = c.run();
        } catch (e) {
          thrown = e;
        }
        expect(thrown, `expected ${c.error.name}, but it returned ${String(returned)}`).toBeDefined();
        expect(thrown, `a bare ${(thrown as Error).name} escaped: ${(thrown as Error).message}`).toBeInstanceOf(
          HyperconnError,
        );
        expect(thrown).toBeInstanceOf(c.error);
        expect(
          (thrown as Error).message.startsWith(`${c.op}:`) ||
            (thrown as Error).message.startsWith(`${c.op}(`) ||
            (thrown as Error).message.startsWith(`${c.op}.`),
          `message should start with the op '${c.op}': ${(thrown as Error).message}`,
        ).toBe(true);
      });
    }
  }
}

/** Bad values a JavaScript caller may pass where a Tensor (or a number) is expected. */
export const BAD: readonly [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ["the string '1'", '1'],
  ['a plain array', [1, 2]],
  ['an object', {}],
  ['a bigint', 1n],
  ['a boolean', true],
];

/** The i-th bad value (cycling through `BAD`) and its label, typed to pass where anything is expected. */
export const bad = (i: number): [string, never] => {
  const [label, value] = BAD[i % BAD.length]!;
  return [label, value as never];
};
