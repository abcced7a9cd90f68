/** Small statistics kit for the judge: means, variances, Student's t quantiles and t intervals. */

export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** Unbiased sample variance (n − 1). */
export function variance(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  let sum = 0;
  for (const value of values) sum += (value - m) ** 2;
  return sum / (values.length - 1);
}

function logGamma(x: number): number {
  // Lanczos approximation, accurate to ~1e-15 for x > 0.
  const coefficients = [
    676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  coefficients.forEach((c, i) => (a += c / (x + i + 1)));
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the regularised incomplete beta function (Numerical Recipes' betacf). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-14) break;
  }
  return h;
}

function incompleteBeta(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Cumulative distribution of Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * incompleteBeta(df / 2, 0.5, x);
  return t > 0 ? 1 - tail : tail;
}

const quantileCache = new Map<string, number>();

/**
 * The t value with P(T <= t) = p, by bisection on the CDF (monotone, so this always converges).
 * Whole-number degrees of freedom (the paired case) are cached: the judge asks for the same few.
 */
export function studentTQuantile(p: number, df: number): number {
  const key = Number.isInteger(df) ? `${p}:${df}` : null;
  const cached = key === null ? undefined : quantileCache.get(key);
  if (cached !== undefined) return cached;
  let low = -1e3;
  let high = 1e3;
  for (let i = 0; i < 200 && high - low > 1e-12; i++) {
    const mid = (low + high) / 2;
    if (studentTCdf(mid, df) < p) low = mid;
    else high = mid;
  }
  const quantile = (low + high) / 2;
  if (key !== null && quantileCache.size < 1_000) quantileCache.set(key, quantile);
  return quantile;
}

/** A two-sided t interval of a mean difference, with what it was built from. */
export interface TInterval {
  /** The point estimate: mean(candidate) − mean(baseline). */
  centre: number;
  low: number;
  high: number;
  /** Standard error of the estimate. */
  se: number;
  /** Degrees of freedom of the t distribution used (fractional for Welch). */
  df: number;
}

function tInterval(centre: number, se: number, df: number, level: number): TInterval {
  const half = se === 0 ? 0 : studentTQuantile(1 - (1 - level) / 2, df) * se;
  return { centre, low: centre - half, high: centre + half, se, df };
}

/**
 * Two-sided `level` interval of mean(candidate − baseline) from the per-index differences
 * (paired t): for runs measured in pairs, so what the pair shares (the machine's drift) cancels.
 * Needs equal counts of at least 2.
 */
export function pairedTInterval(baseline: readonly number[], candidate: readonly number[], level: number): TInterval {
  if (baseline.length !== candidate.length || baseline.length < 2) {
    throw new RangeError(`paired t needs two equal samples of at least 2 values (got ${baseline.length} and ${candidate.length})`);
  }
  const differences = candidate.map((value, i) => value - baseline[i]!);
  const n = differences.length;
  return tInterval(mean(differences), Math.sqrt(variance(differences) / n), n - 1, level);
}

/**
 * Two-sided `level` interval of mean(candidate) − mean(baseline) for independent samples with
 * possibly unequal variances (Welch's t, Welch–Satterthwaite degrees of freedom). Needs at least 2
 * values per side.
 */
export function welchTInterval(baseline: readonly number[], candidate: readonly number[], level: number): TInterval {
  if (baseline.length < 2 || candidate.length < 2) {
    throw new RangeError(`Welch's t needs at least 2 values per side (got ${baseline.length} and ${candidate.length})`);
  }
  const vb = variance(baseline) / baseline.length;
  const vc = variance(candidate) / candidate.length;
  const se = Math.sqrt(vb + vc);
  const df = se === 0 ? 1 : (vb + vc) ** 2 / (vb ** 2 / (baseline.length - 1) + vc ** 2 / (candidate.length - 1));
  return tInterval(mean(candidate) - mean(baseline), se, Math.max(df, 1), level);
}
