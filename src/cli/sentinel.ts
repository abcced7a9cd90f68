import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_PATH } from '../core/config/config-schema.js';
import { formatPercent } from '../core/config/units.js';
import { AutoloopError, EXIT } from '../core/errors.js';
import { plural, shortSha } from '../core/render/markdown.js';
import { SENTINEL_HISTORY, type Probe } from '../core/sentinel/history.js';
import { runSentinel, type SentinelResult } from '../engine/sentinel/sentinel.js';
import type { CliIO } from './main.js';

const SENTINEL_USAGE = `Usage: autoloop sentinel [--config PATH] [--head REF] [--reference REF] [--repeats N] [--json]

One check against silent degradation, to run nightly on the default branch. Measures HEAD against the recorded
reference commit, paired and interleaved with the evaluator as committed there, and appends the result with the
machine's fingerprint to the history on the branch ${SENTINEL_HISTORY.split(':')[0]} (JSON lines, hash-chained;
never touching your working tree, index or HEAD). Then looks for change points in the history (E-Divisive means
with a t-test, as in hunter); for a new one, measures the commits either side afresh (same / different / need more
runs) and, when different, bisects the first-parent commits between them and names the culprit with its effect.
A changed environment (OS, kernel, CPU, Node, autoloop) starts a new segment and is never an alarm.

Options:
  --config PATH    the config file (default ${CONFIG_PATH}), as committed in the reference
  --head REF       the commit checked (default HEAD)
  --reference REF  measure against REF from now on (a new segment); the first check's reference is the head
  --repeats N      runs per side of every measurement (default: evaluate.repeats)
  --json           the check's result, as JSON
  -h, --help       this help

Exit codes: 0 checked (nothing new, or a change not confirmed, or an improvement), 4 a regression confirmed,
            2 bad usage, 3 invalid config, 5 the history was altered.
`;

class SentinelUsageError extends AutoloopError {
  override readonly exitCode = EXIT.usage;
}

const percent = (value: number | null) => (value === null ? 'n/a' : formatPercent(value));

function probeText(probe: Probe, withEffect = true): string {
  const interval = probe.interval ? `${Math.round(probe.interval.level * 100)}% [${formatPercent(probe.interval.low)}, ${formatPercent(probe.interval.high)}]` : null;
  const figures = [withEffect ? percent(probe.effect) : null, interval, `${plural(probe.runsPerSide, 'run')} per side`].filter(Boolean);
  return `${probe.answer} (${figures.join(', ')})`;
}

/** What the check did, for people. */
export function sentinelLines(result: SentinelResult, cwd: string): string[] {
  const { measurement: m, detection, findings } = result;
  const lines: string[] = [];
  if (result.newReference?.reason === 'environment') lines.push(`The environment changed (${result.newReference.changed.join(', ')}): a new segment starts here, against the same reference; no alarm.`);
  if (result.newReference?.reason === 'first') lines.push(`First check: the reference is ${shortSha(m.reference)}.`);
  if (result.newReference?.reason === 'requested') lines.push(`New reference ${shortSha(m.reference)}: a new segment starts here.`);
  const interval = m.interval ? `, ${Math.round(m.interval.level * 100)}% [${formatPercent(m.interval.low)}, ${formatPercent(m.interval.high)}]` : '';
  lines.push(`${m.metric} (${m.goal}): ${shortSha(m.commit)} against the reference ${shortSha(m.reference)}: ${formatPercent(m.deltaRelative)}${interval}, ${plural(m.samples.head.length, 'run')} per side`);
  lines.push(`History: ${plural(detection.measurements.length, 'measurement')} in ${plural(detection.segments.length, 'segment')} (${SENTINEL_HISTORY}); ${detection.method}, p < ${detection.options.maxPValue}`);
  const open = detection.changePoints.filter((point) => !point.handled);
  const known = detection.changePoints.length - open.length;
  if (open.length === 0) lines.push(`No new change point${known > 0 ? ` (${plural(known, 'earlier one')} already investigated)` : ''}.`);
  findings.forEach((finding) => {
    const point = finding.changePoint;
    lines.push(`Change point at measurement ${point.index + 1} (${shortSha(point.before)} → ${shortSha(point.after)}): ${point.direction} ${formatPercent(point.effect)}, p = ${point.pValue.toExponential(1)}`);
    lines.push(`  Confirmation, ${shortSha(finding.confirmation.commit)} against ${shortSha(finding.confirmation.against)} measured afresh: ${probeText(finding.confirmation)}`);
    for (const step of finding.steps) lines.push(`  Bisection: ${shortSha(step.commit)} against ${shortSha(step.against)}: ${probeText(step)}`);
    if (finding.culprit) {
      lines.push(`  Culprit: ${shortSha(finding.culprit.commit)} "${finding.culprit.subject}": ${percent(finding.culprit.probe.effect)} against its parent ${shortSha(finding.culprit.probe.against)}, ${probeText(finding.culprit.probe, false)}`);
    }
    if (finding.reason) lines.push(`  ${finding.reason}`);
  });
  lines.push(`Traces: ${relative(cwd, result.traceDir) || result.traceDir}/`);
  return lines;
}

/** Whether the check confirmed a regression: what a scheduled job fails on. */
export function confirmedRegression(result: SentinelResult): boolean {
  return result.findings.some((finding) => finding.changePoint.direction === 'regression' && finding.confirmation.answer === 'different');
}

/** `autoloop sentinel`. */
export async function commandSentinel(args: string[], io: CliIO): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        head: { type: 'string' },
        reference: { type: 'string' },
        repeats: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    throw new SentinelUsageError(`${(error as Error).message}\nRun autoloop sentinel --help for usage.`);
  }
  if (values.help) {
    io.stdout.write(SENTINEL_USAGE);
    return EXIT.ok;
  }
  let repeats: number | undefined;
  if (values.repeats !== undefined) {
    repeats = Number(values.repeats);
    if (!Number.isInteger(repeats) || repeats < 1) throw new SentinelUsageError(`--repeats expects a whole number of at least 1, got ${JSON.stringify(values.repeats)}\nRun autoloop sentinel --help for usage.`);
  }
  const result = await runSentinel({
    cwd: io.cwd,
    configPath: values.config,
    head: values.head,
    reference: values.reference,
    repeats,
    signal: io.signal,
    onProgress: values.json ? undefined : (line) => io.stderr.write(`${line}\n`),
  });
  if (values.json) {
    const { history: _history, detection, ...rest } = result;
    io.stdout.write(`${JSON.stringify({ ...rest, detection: { segments: detection.segments, changePoints: detection.changePoints, method: detection.method, options: detection.options }, historyCommit: result.history.commit })}\n`);
  } else {
    io.stdout.write(`${sentinelLines(result, io.cwd).join('\n')}\n`);
  }
  if (io.signal?.aborted) return EXIT.interrupted;
  return confirmedRegression(result) ? EXIT.failed : EXIT.ok;
}
