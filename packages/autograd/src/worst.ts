/**
 * The worst-violation tracker of the checks (gradcheck, the manifolds' `check`s, the testing
 * assertions): one rule for which violation is reported, so they all agree on NaN and on ties.
 */

/**
 * Keeps the largest violation seen and its description: `consider(excess, describe)` counts a
 * violation when `excess` (how far a value lies beyond its bound) is > 0, a NaN excess counting
 * as +∞, and keeps it when it exceeds every earlier one (of equal ones, the first). `describe`
 * runs only for a kept violation, so messages cost nothing on the passing path.
 */
export class WorstViolation<T> {
  /** The largest excess so far (0 before any violation; +∞ for a NaN). */
  excess = 0;
  /** The description of the largest violation; null while there is none. */
  worst: T | null = null;
  /** How many violations were considered (excess > 0 or NaN). */
  count = 0;

  /** Counts a violation of size `excess` and keeps `describe()` if it is the largest so far. */
  consider(excess: number, describe: () => T): void {
    const e = Number.isNaN(excess) ? Infinity : excess;
    if (!(e > 0)) return;
    this.count++;
    if (e > this.excess) {
      this.excess = e;
      this.worst = describe();
    }
  }
}
