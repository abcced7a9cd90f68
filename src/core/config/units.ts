/** A size of effect: relative to the baseline (`1%`) or absolute in the metric's unit (`0.002`). */
export type Effect = { kind: 'relative'; value: number } | { kind: 'absolute'; value: number };

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const EFFECT_PERCENT = /^([+-]?\d+(?:\.\d+)?)\s*%$/;

/**
 * Parses `90s`, `5m`, `1h30m`, `250ms` or a bare number of seconds into milliseconds.
 * Returns undefined when the text is not a duration.
 */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input * 1_000 : undefined;
  const text = input.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1_000;
  if (!DURATION_PATTERN.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) total += Number(amount) * DURATION_UNITS_MS[unit!]!;
  return total;
}

/** Parses `1%` (relative) or `0.002` (absolute, in the metric's unit). Returns undefined when invalid. */
export function parseEffect(input: string | number): Effect | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? { kind: 'absolute', value: input } : undefined;
  const text = input.trim();
  const percent = EFFECT_PERCENT.exec(text);
  if (percent) {
    const value = Number(percent[1]) / 100;
    return value >= 0 ? { kind: 'relative', value } : undefined;
  }
  if (/^\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i.test(text)) return { kind: 'absolute', value: Number(text) };
  return undefined;
}

/** `1h30m`-style rendering of a duration in milliseconds, for people. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  if (minutes < 60) return seconds ? `${minutes}m${String(seconds).padStart(2, '0')}s` : `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours}h${String(rest).padStart(2, '0')}m` : `${hours}h`;
}

/** `1%` or `0.002`, as a user wrote it. */
export function formatEffect(effect: Effect): string {
  return effect.kind === 'relative' ? `${formatNumber(effect.value * 100)}%` : formatNumber(effect.value);
}

/** A number with at most `digits` significant digits and no trailing zeros. */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-4) return value.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(digits)));
}

/** `+1.23%` style signed percentage of a fraction. */
export function formatPercent(fraction: number, digits = 3): string {
  if (!Number.isFinite(fraction)) return 'n/a';
  const sign = fraction > 0 ? '+' : fraction < 0 ? '−' : '±';
  return `${sign}${formatNumber(Math.abs(fraction * 100), digits)}%`;
}
