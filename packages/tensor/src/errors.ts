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
