/** Shared helpers of the judge benchmarks: normal draws, rates and aligned tables. */
export { mulberry32 } from '../src/core/propose/random.js';

/** Standard normal draws from `uniform` by Box–Muller (both values of each pair are used). */
export function normalSampler(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** A proportion with its Monte Carlo 95% margin (normal approximation), e.g. `5.1% ±0.3`. */
export function formatRate(count: number, trials: number): string {
  const p = count / trials;
  const margin = 1.96 * Math.sqrt((p * (1 - p)) / trials);
  return `${(p * 100).toFixed(1)}% ±${(margin * 100).toFixed(1)}`;
}

/**
 * A rate over clusters of correlated decisions (e.g. the experiments of one loop, which share a
 * cached baseline), with its 95% margin from the spread between clusters.
 */
export function formatClusteredRate(countsPerCluster: readonly number[], decisionsPerCluster: number): string {
  const rates = countsPerCluster.map((count) => count / decisionsPerCluster);
  const n = rates.length;
  const p = rates.reduce((sum, rate) => sum + rate, 0) / n;
  const spread = rates.reduce((sum, rate) => sum + (rate - p) ** 2, 0) / (n - 1);
  const margin = 1.96 * Math.sqrt(spread / n);
  return `${(p * 100).toFixed(1)}% ±${(margin * 100).toFixed(1)}`;
}

/** Prints rows as an aligned plain-text table: first column left-aligned, the others right-aligned. */
export function printTable(header: string[], rows: string[][]): void {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}
