/** Branch names autoloop owns. Deterministic, so that every step can find its work again (and repeat it without a second effect). */

/** The run branch that accumulates kept experiments: `autoloop/<run>/run`. */
export function runBranch(run: string | number): string {
  return `autoloop/${run}/run`;
}

/** The branch of experiment `k` of a run: `autoloop/<run>/exp-<k>`. */
export function experimentBranch(run: string | number, k: number): string {
  return `autoloop/${run}/exp-${k}`;
}
