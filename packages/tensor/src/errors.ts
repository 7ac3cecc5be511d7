/**
 * Typed errors. Every message starts with the op's name and says the shapes, values or
 * axis involved, e.g. `matmul: inner dimensions differ: [2,3] @ [4,5] (3 ≠ 4)`.
 */
export class HyperconnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** Shapes that cannot be combined, broadcast, reshaped or indexed as asked. */
export class ShapeError extends HyperconnError {}
/** A dtype that the op does not accept, or two dtypes that must agree. */
export class DTypeError extends HyperconnError {}
/** A value outside the op's domain (negative count, non-finite size, bad option). */
export class ValueError extends HyperconnError {}
/** An index or axis outside its range. */
export class IndexError extends HyperconnError {}
/** A linear-algebra failure: singular matrix, no convergence, non-finite input. */
export class LinAlgError extends HyperconnError {}
/**
 * A NaN or ±∞ where only finite numbers are meaningful (an optimiser's gradient, a parameter):
 * a `ValueError` that says which tensor and where.
 */
export class NonFiniteError extends ValueError {}
/**
 * A tensor larger than `MAX_ELEMENTS` elements was asked for; refused before anything is
 * allocated, with the op and the shape in the message.
 */
export class AllocationError extends ValueError {}

/** `[2,3]` — the compact shape format used in every error message. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * What a bad argument is, for error messages: `null`, `the string "1"`, `an array of length 2`,
 * `a Float64Array`… Never throws, whatever a JavaScript caller passes.
 */
export function fmtArg(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
    case 'number':
    case 'boolean':
      return `the ${typeof value} ${String(value)}`;
    case 'bigint':
      return `the bigint ${String(value)}n`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  if (typeof name !== 'string' || name === '' || name === 'Object') return 'an object';
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

/**
 * The ValueError for an argument of the wrong kind, e.g. `add: expected a Tensor or a number,
 * got string (the string "1") for argument b`: the op, what it accepts, what came, and which
 * argument.
 */
export function argumentError(op: string, name: string, expected: string, value: unknown): ValueError {
  const kind = value === null ? 'null' : typeof value;
  const detail =
    value === null || value === undefined || kind === 'function' || kind === 'symbol' ? '' : ` (${fmtArg(value)})`;
  return new ValueError(`${op}: expected ${expected}, got ${kind}${detail} for argument ${name}`);
}
