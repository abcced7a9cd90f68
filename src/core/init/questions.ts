/**
 * The questions `autoloop init` asks, each answered by its flag, by the user at a prompt, or by its default: how an
 * answer is read and checked, and how the question is put. Pure.
 */
import type { Goal } from '../config/config-schema.js';
import { globProblem } from '../config/globs.js';
import { isReservedMetric, MEASURED_METRICS, METRIC_NAME_PATTERN } from '../judge/metrics.js';

/** An answer read, or why it cannot be used (said to the user, who is asked again or told to fix the flag). */
export type Answer<T> = { ok: true; value: T } | { ok: false; message: string };

/** The questions, in the order they are asked: the command first, since the metric's default comes from running it. */
export const QUESTIONS = {
  command: { flag: '--command', label: 'evaluate.command, the command that prints METRIC name=value' },
  metric: { flag: '--metric', label: 'metric.name' },
  goal: { flag: '--goal', label: 'metric.goal, minimize or maximize' },
  edit: { flag: '--edit', label: 'scope.edit, what a proposal may change (comma-separated globs)' },
} as const;

export type QuestionKey = keyof typeof QUESTIONS;

/** The prompt of a question, its default shown in brackets. */
export function promptText(key: QuestionKey, shownDefault: string): string {
  return `${QUESTIONS[key].label} [${shownDefault}]: `;
}

export function readCommand(text: string): Answer<string> {
  const command = text.trim();
  return command ? { ok: true, value: command } : { ok: false, message: 'expected a command, e.g. npm run bench or python3 eval.py' };
}

export function readMetricName(text: string): Answer<string> {
  const name = text.trim();
  if (!METRIC_NAME_PATTERN.test(name)) return { ok: false, message: `expected a metric name of letters, digits, _ . - / (as printed in METRIC name=value), got ${JSON.stringify(name)}` };
  if (isReservedMetric(name) && !(MEASURED_METRICS as readonly string[]).includes(name)) {
    return { ok: false, message: `names autoloop.* are autoloop's own measurements: ${MEASURED_METRICS.join(' or ')}` };
  }
  return { ok: true, value: name };
}

export function readGoal(text: string): Answer<Goal> {
  const goal = text.trim().toLowerCase();
  if (goal === 'minimize' || goal === 'min') return { ok: true, value: 'minimize' };
  if (goal === 'maximize' || goal === 'max') return { ok: true, value: 'maximize' };
  return { ok: false, message: `expected minimize or maximize, got ${JSON.stringify(text.trim())}` };
}

/** Globs separated by commas (or given as several flags), each checked as the config checks scope patterns. */
export function readEdit(texts: string | readonly string[]): Answer<string[]> {
  const globs = (typeof texts === 'string' ? [texts] : texts).flatMap((text) => text.split(',')).map((glob) => glob.trim()).filter(Boolean);
  if (globs.length === 0) return { ok: false, message: 'expected at least one glob, e.g. src/** or params.json' };
  for (const glob of globs) {
    const problem = globProblem(glob);
    if (problem) return { ok: false, message: problem };
  }
  return { ok: true, value: [...new Set(globs)] };
}
