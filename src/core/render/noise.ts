/**
 * An A/A measurement's noise in words, for `autoloop eval --aa` and `autoloop init`: the CV of each side, how much
 * paired differences vary, and the smallest effect the config's settings find. Pure.
 */
import { DEFAULT_MAX_REPEATS, type Config } from '../config/config-schema.js';
import { formatNumber } from '../config/units.js';
import { DETECTION_POWER, noiseReport, type NoiseReport } from '../judge/noise.js';
import { runsPerSideText } from './config-summary.js';

export const percent = (value: number): string => `${(value * 100).toFixed(2)}%`;

/** The noise of `baseline` and `candidate` (one commit's runs, paired by index), with the looks `config` measures up to. */
export function noiseOf(config: Config, baseline: readonly number[], candidate: readonly number[]): NoiseReport | null {
  return noiseReport(baseline, candidate, config.evaluate.sequential ? config.evaluate.repeats : DEFAULT_MAX_REPEATS);
}

/** `noise: CV 1.20% (base) and 1.31% (head) per run; paired differences vary by 0.0123`. */
export function noiseLine(report: NoiseReport): string {
  return `noise: CV ${percent(report.cv.baseline)} (base) and ${percent(report.cv.candidate)} (head) per run; paired differences vary by ${formatNumber(report.sdDifference, 4)}`;
}

/** Whether no run varied at all: the metric is deterministic. */
export function didNotVary(report: NoiseReport): boolean {
  return report.cv.baseline === 0 && report.cv.candidate === 0 && report.sdDifference === 0;
}

/** The detectable effect of the config's own setting: auto, or fixed 3 or 5 (another fixed number has none). */
export function configuredDetectable(config: Config, report: NoiseReport): NoiseReport['detectable'][number] | undefined {
  return config.evaluate.sequential ? report.detectable.at(-1) : report.detectable.find((d) => d.label === `fixed ${config.evaluate.repeats}`);
}

/** The lines `autoloop eval --aa` prints: the noise, the detectable effect of each design, and what the config's settings miss. */
export function noiseLines(config: Config, baseline: readonly number[], candidate: readonly number[]): string[] {
  const report = noiseOf(config, baseline, candidate);
  if (!report) return ['noise: needs at least 2 runs per side (--repeats 5)'];
  const lines = [
    noiseLine(report),
    `smallest effect found ${Math.round(DETECTION_POWER * 100)}% of the time (about):`,
    ...report.detectable.map((d) => `  ${d.label.padEnd(14)} ${formatNumber(d.effect, 4)} (${percent(d.relative)})`),
  ];
  const chosen = configuredDetectable(config, report);
  lines.push(
    didNotVary(report)
      ? "the metric did not vary: it is deterministic; autoloop sees that from the base's runs, and measures a candidate that is not better once per side"
      : report.sdDifference === 0
        ? 'the runs varied, but both sides of each pair alike: pairing removes this noise'
        : `with your settings, ${runsPerSideText(config)}, gains smaller than ${chosen ? `${formatNumber(chosen.effect, 4)} (${percent(chosen.relative)})` : 'these'} are mostly missed; more runs per side (evaluate.max_repeats, or repeats) find smaller ones`,
  );
  return lines;
}
