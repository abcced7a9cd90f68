import type { Config } from '../config/config-schema.js';
import { CPU_METRIC, isReservedMetric, METRICS_FILE_ENV, WALL_METRIC } from '../judge/metrics.js';
import { formatDuration, formatEffect } from '../config/units.js';
import { code } from './markdown.js';
import { FIRST_LOOK } from '../judge/sequential.js';

/** One line per setting of a run's config worth showing on its dashboard and in `/optimize help`. */
export function configSummary(config: Config): string[] {
  return [
    `metric: ${code(config.metric.name)}, ${config.metric.goal}, keep gains beyond ${formatEffect(config.metric.min_effect)}`,
    `evaluate: ${code(config.evaluate.command)}, ${runsPerSideText(config)}, ${config.evaluate.baseline}, timeout ${formatDuration(config.evaluate.timeout)}`,
    `scope: edit ${config.scope.edit.map(code).join(', ')}`,
    `proposer: ${config.proposer.kind}`,
  ];
}

/** How many runs per side a measurement takes: `3 runs per side`, or `3 to 8 runs per side (sequential)` with `repeats: auto`. */
export function runsPerSideText(config: Pick<Config, 'evaluate'>): string {
  const { repeats, sequential } = config.evaluate;
  if (sequential) return `${Math.min(FIRST_LOOK, repeats)} to ${repeats} runs per side (sequential)`;
  return `${repeats} ${repeats === 1 ? 'run' : 'runs'} per side`;
}

/**
 * Where the metrics come from, and whether candidate code can write them: `measured by autoloop (wall time of
 * evaluate.command)`, `evaluate.score (…)`, or `stdout of evaluate.command (candidate code in that process can
 * write it)`. Metrics measured and reported are named each with their source.
 */
export function metricSource(config: Config): string {
  const names = [config.metric.name, ...config.guards.map((guard) => guard.name)];
  const measured = names.filter(isReservedMetric);
  const reported = names.filter((name) => !isReservedMetric(name));
  const what = (name: string): string => (name === WALL_METRIC ? 'wall time' : name === CPU_METRIC ? 'CPU time' : name);
  const byAutoloop = measured.length > 0 ? `measured by autoloop (${[...new Set(measured.map(what))].join(' and ')} of evaluate.command)` : '';
  const channel = config.evaluate.report === 'file' ? `$${METRICS_FILE_ENV}` : 'stdout';
  const byEvaluator = reported.length === 0
    ? ''
    : config.evaluate.score
      ? `evaluate.score (${channel} of \`${config.evaluate.score}\`, run apart from evaluate.command with the worktree read-only)`
      : `${channel} of evaluate.command (candidate code in that process can write it)`;
  if (!byEvaluator) return byAutoloop;
  if (!byAutoloop) return byEvaluator;
  return `${measured.join(', ')} ${byAutoloop}; ${reported.join(', ')} from ${byEvaluator}`;
}

/**
 * The note `validate` prints when a metric comes from the evaluator itself, with no `evaluate.score`: code the
 * evaluator loads into its own process can write it. Empty when every metric is autoloop's own or a scorer's.
 */
export function inProcessNote(config: Config): string[] {
  const reported = [config.metric.name, ...config.guards.map((guard) => guard.name)].some((name) => !isReservedMetric(name));
  return !config.evaluate.score && reported
    ? ['an evaluator that loads the candidate\'s code into its own process can be fooled by it (it can patch the clock or write the metrics itself): keep the scorer apart (evaluate.score), or use autoloop.wall_ms / autoloop.cpu_ms']
    : [];
}

/**
 * How many experiments `autoloop run` has in flight at once: `budget.parallel` when the config declares that no
 * metric depends on the machine's load (`evaluate.load_sensitive: false`), else one. Side by side on one machine,
 * runs share its cores, which moves a time but not a loss; unset, a metric is taken to be load-sensitive.
 */
export function localParallel(config: Pick<Config, 'evaluate' | 'budget'>): number {
  return config.evaluate.load_sensitive === false ? config.budget.parallel : 1;
}

/**
 * What a valid config will do that a user does not want, for `validate` and the start of `autoloop run`: one
 * sentence each, with the fix. A config that can only keep noise (one run per side, no `min_effect`); a
 * `budget.parallel` the local loop does not use (load-sensitive metrics); a time measured side by side.
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const { min_effect: minEffect } = config.metric;
  if (!config.evaluate.sequential && config.evaluate.repeats === 1 && minEffect.value === 0) {
    // bench/judge-calibration.ts: at repeats 1 and min_effect 0 the judge keeps 50% of no-effect candidates.
    warnings.push(
      'evaluate.repeats is 1 and metric.min_effect is 0: with one run per side there is no noise estimate, so on a noisy metric about half of all changes that do nothing are kept. '
      + 'Leave evaluate.repeats out (auto: sequential, 3 to 8 runs per side), set it to 3 or more, or set metric.min_effect above the noise (autoloop eval HEAD --base HEAD --repeats 5 shows how large it is); a deterministic metric (same value every run) needs none of these.',
    );
  }
  const { parallel } = config.budget;
  const timings = [config.metric.name, ...config.guards.map((guard) => guard.name)].filter((name) => name === WALL_METRIC || name === CPU_METRIC);
  if (parallel > 1 && config.evaluate.load_sensitive !== false) {
    warnings.push(
      `budget.parallel is ${parallel}, but autoloop run measures one experiment at a time: experiments side by side share this machine's cores, which moves any metric that depends on its load (a time), and evaluate.load_sensitive is not false. `
      + `When no metric or guard does (a loss, a size, a count), set evaluate.load_sensitive: false to run ${parallel} at a time.`,
    );
  } else if (parallel > 1 && timings.length > 0) {
    warnings.push(
      `evaluate.load_sensitive is false, yet ${timings.join(' and ')} ${timings.length === 1 ? 'is a time' : 'are times'}: with ${parallel} experiments side by side on this machine, their runs share its cores and are slower and noisier than alone. `
      + 'Leave evaluate.load_sensitive unset (one experiment at a time) unless the machine has a core to spare for every run.',
    );
  }
  return warnings;
}
