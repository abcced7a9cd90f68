import type { Config } from '../config/config-schema.js';
import { formatDuration, formatEffect } from '../config/units.js';
import { code } from './markdown.js';

/** One line per setting of a run's config worth showing on its dashboard and in `/optimize help`. */
export function configSummary(config: Config): string[] {
  return [
    `metric: ${code(config.metric.name)}, ${config.metric.goal}, keep gains beyond ${formatEffect(config.metric.min_effect)}`,
    `evaluate: ${code(config.evaluate.command)}, ${config.evaluate.repeats} run(s) per side, ${config.evaluate.baseline}, timeout ${formatDuration(config.evaluate.timeout)}`,
    `scope: edit ${config.scope.edit.map(code).join(', ')}`,
    `proposer: ${config.proposer.kind}`,
  ];
}
