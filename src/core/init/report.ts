/**
 * What `autoloop init` says after its A/A measurement: the metric's value, its noise and the smallest effect the
 * config's settings find, or, when the evaluator failed, what to fix. Pure.
 */
import type { Config } from '../config/config-schema.js';
import { formatDuration, formatNumber } from '../config/units.js';
import { DETECTION_POWER } from '../judge/noise.js';
import { configuredDetectable, didNotVary, noiseLine, noiseOf, percent } from '../render/noise.js';
import { isReservedMetric } from '../judge/metrics.js';
import { runsPerSideText } from '../render/config-summary.js';

/** What an A/A measurement gave: each side's values of the metric, paired by index, and how long each run took. */
export interface AaOutcome {
  baseline: readonly number[];
  candidate: readonly number[];
  runMs: readonly number[];
  /** The judge's verdict of head against itself: anything but `no-change` is a false one. */
  verdict: string;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The lines init prints after a successful A/A measurement: the metric's mean, the CV of each side, how much paired
 * differences vary, and the smallest effect found {@link DETECTION_POWER} of the time with the config's settings.
 * `config` is the config as written (its `repeats`, not the A/A's).
 */
export function noiseSummary(config: Config, outcome: AaOutcome): string[] {
  const { name } = config.metric;
  const values = [...outcome.baseline, ...outcome.candidate];
  const mean = values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  const took = outcome.runMs.length > 0 ? `; one run takes ${formatDuration(median(outcome.runMs))}` : '';
  const lines = [`${name} = ${formatNumber(mean, 6)} (mean of ${values.length} ${values.length === 1 ? 'run' : 'runs'}${took})`];
  const report = noiseOf(config, outcome.baseline, outcome.candidate);
  if (!report) {
    lines.push('noise: not estimated (fewer than 2 runs per side): autoloop eval --aa measures 5 pairs');
    return lines;
  }
  lines.push(noiseLine(report));
  if (didNotVary(report)) {
    lines.push(
      isReservedMetric(name)
        ? 'the metric did not vary in these runs; a time measured by autoloop does vary: autoloop eval --aa measures more pairs'
        : "the metric did not vary: it is deterministic; autoloop sees that from the base's runs, and measures a candidate that is not better once per side",
    );
  } else {
    const chosen = configuredDetectable(config, report);
    const settings = runsPerSideText(config);
    lines.push(
      chosen
        ? `smallest effect found ${Math.round(DETECTION_POWER * 100)}% of the time with your settings, ${settings}: ${formatNumber(chosen.effect, 4)} (${percent(chosen.relative)}); smaller gains are mostly missed`
        : `smallest effect found ${Math.round(DETECTION_POWER * 100)}% of the time: ${report.detectable.map((d) => `${d.label} ${formatNumber(d.effect, 4)} (${percent(d.relative)})`).join(', ')}`,
    );
  }
  if (outcome.verdict !== 'no-change') {
    lines.push(`the A/A verdict was ${outcome.verdict}, a false one (both sides are the same commit): the benchmark is noisier than these few runs show; autoloop eval --aa measures more`);
  }
  return lines;
}

/** What to do when the evaluator failed its first measurement. */
export function failureAdvice(command: string, metric: string): string {
  const prints = isReservedMetric(metric) ? 'exits 0' : `exits 0 and prints \`METRIC ${metric}=<value>\``;
  return `Fix it so that \`${command}\` ${prints}, commit, then run autoloop eval --aa. The files init wrote are kept.`;
}
