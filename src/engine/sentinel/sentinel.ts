/**
 * `autoloop sentinel`: one nightly check against silent degradation.
 *
 * 1. Measures the default branch's head against the recorded reference commit, paired and interleaved as
 *    `autoloop eval` does (./measure-commits.ts: the evaluator and config pinned as in the reference, the judge), and
 *    appends the result with the environment fingerprint to the history on `autoloop/sentinel` (a changed
 *    fingerprint first starts a new segment, said in the history, and is never an alarm).
 * 2. Looks for change points in the history (../../core/sentinel/detect.ts).
 * 3. For each change point no finding covers yet: measures the commits either side afresh (same / different / need
 *    more runs); when different, bisects the first-parent commits between them, each measured against the good end,
 *    and names the culprit with its own effect against its parent. The finding goes into the history, so the same
 *    change is not raised again.
 */
import { formatPercent } from '../../core/config/units.js';
import type { Environment } from '../../core/result/result.js';
import { AutoloopError, EXIT } from '../../core/errors.js';
import type { ChangePointOptions } from '../../core/sentinel/change-points.js';
import { bisect, confirmationAnswer, relativeFigures } from '../../core/sentinel/confirm.js';
import { confirmationRange, detectChangePoints, type SentinelChangePoint, type SentinelDetection } from '../../core/sentinel/detect.js';
import {
  currentReference,
  fingerprintOf,
  planReference,
  SENTINEL_HISTORY,
  type FindingRecord,
  type MeasurementRecord,
  type Probe,
  type ReferenceRecord,
} from '../../core/sentinel/history.js';
import { relative, resolve as resolvePath } from 'node:path';
import { CONFIG_PATH } from '../../core/config/config-schema.js';
import { loadConfigAt } from '../config-file.js';
import { RunSetupError } from '../errors.js';
import { environmentFingerprint } from '../fingerprint.js';
import { git, repoRoot, resolveCommit } from '../git.js';
import { appendSentinelRecords, readSentinelHistory, type StoredHistory } from './history-store.js';
import { CommitMeasurer, type CommitsMeasurement } from './measure-commits.js';

/** A measurement the sentinel needs did not give a valid metric; nothing was appended for it. */
export class SentinelMeasurementError extends AutoloopError {
  override readonly exitCode = EXIT.failed;

  constructor(message: string, repo: string, operation: string) {
    super(message, { subject: { dir: repo, operation, file: SENTINEL_HISTORY } });
    this.name = 'SentinelMeasurementError';
  }
}

/** Interrupted (Ctrl-C, SIGTERM): what was measured since the last append is not recorded. */
export class SentinelInterruptedError extends AutoloopError {
  override readonly exitCode = EXIT.interrupted;

  constructor(repo: string) {
    super(`autoloop sentinel: interrupted; the history holds what was recorded before (${SENTINEL_HISTORY})`, { subject: { dir: repo, file: SENTINEL_HISTORY } });
    this.name = 'SentinelInterruptedError';
  }
}

export interface SentinelOptions {
  cwd: string;
  configPath?: string;
  /** The commit checked; defaults to HEAD (in CI: the default branch's head). */
  head?: string;
  /** Move the reference to this commit (a new segment); the first check's reference is the head unless this says otherwise. */
  reference?: string;
  /** Runs per side of every measurement, instead of the config's `evaluate.repeats`. */
  repeats?: number;
  /** The detector's settings, instead of the calibrated defaults. */
  detector?: Partial<ChangePointOptions>;
  /** The environment measured in (tests pass another to simulate a new runner). */
  environment?: Environment;
  now?: () => Date;
  /** A line of progress, for people. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface SentinelResult {
  repo: string;
  head: string;
  /** The reference in force tonight, and the record that started it when tonight started one. */
  reference: ReferenceRecord;
  newReference: ReferenceRecord | null;
  measurement: MeasurementRecord;
  detection: SentinelDetection;
  /** The findings of tonight's change points, as appended to the history. */
  findings: FindingRecord[];
  history: StoredHistory;
  /** Where tonight's measurements left their traces. */
  traceDir: string;
}

interface Context {
  repo: string;
  options: SentinelOptions;
  measurer: CommitMeasurer;
}

const short = (sha: string) => sha.slice(0, 12);

/** A paired measurement; an interrupted one is never used (its runs stopped part way). */
async function measure(context: Context, base: string, head: string, repeats: number | undefined): Promise<CommitsMeasurement> {
  const measured = await context.measurer.measure(base, head, repeats);
  if (context.options.signal?.aborted) throw new SentinelInterruptedError(context.repo);
  return measured;
}

/**
 * Measures `commit` against `against` and answers for a change of `expected`: once as configured (or `--repeats`),
 * and once more with more runs when that cannot tell. A failed measurement answers `need-more-runs`, with its reason.
 */
async function probe(context: Context, against: string, commit: string, expected: number): Promise<Probe & { reason: string | null }> {
  let repeats = context.options.repeats;
  for (let attempt = 0; ; attempt++) {
    const result = await measure(context, against, commit, repeats);
    const judgement = result.judgement;
    const runsPerSide = judgement?.candidate.samples.length ?? 0;
    if (!judgement || judgement.verdict === 'invalid') {
      const reason = result.reason ?? judgement?.reasons.join('; ') ?? 'no valid metric';
      return { commit, against, answer: 'need-more-runs', effect: null, interval: null, runsPerSide, reason: `${short(commit)} against ${short(against)} could not be measured: ${reason}` };
    }
    const answer = confirmationAnswer(judgement, expected);
    const { effect, interval } = relativeFigures(judgement);
    if (answer !== 'need-more-runs' || attempt === 1) return { commit, against, answer, effect, interval, runsPerSide, reason: null };
    repeats = Math.max(5, 2 * runsPerSide);
    context.options.onProgress?.(`  ${short(commit)} against ${short(against)}: cannot tell yet, measuring again with ${repeats} runs per side`);
  }
}

const stored = ({ reason: _reason, ...fields }: Probe & { reason: string | null }): Probe => fields;

/** The first-parent commits from `good` (first) to `bad` (last), oldest first: the merges of the default branch between them. */
async function firstParentCommits(repo: string, good: string, bad: string): Promise<string[]> {
  const out = await git(repo, ['rev-list', '--first-parent', '--reverse', `${good}..${bad}`]);
  return [good, ...out.split('\n').filter(Boolean)];
}

/** Confirms a change point with a fresh paired measurement and, when it is real, bisects it to its commit. */
async function investigate(context: Context, detection: SentinelDetection, point: SentinelChangePoint, at: Date): Promise<FindingRecord> {
  const { repo } = context;
  const progress = context.options.onProgress ?? (() => undefined);
  const { good, bad } = confirmationRange(detection, point);
  const finding = (confirmation: Probe, steps: Probe[], culprit: FindingRecord['culprit'], reason: string | null): FindingRecord => ({
    type: 'finding',
    changePoint: { index: point.index, direction: point.direction, before: point.before.last, after: point.after.first, effect: point.effect, pValue: point.pValue },
    confirmation,
    steps,
    culprit,
    reason,
    at: at.toISOString(),
  });
  if (good === bad) {
    const confirmation: Probe = { commit: bad, against: good, answer: 'same', effect: null, interval: null, runsPerSide: 0 };
    return finding(confirmation, [], null, `no commit changed between the measurements either side (${short(good)}): the shift came from the machine or the noise, not the code`);
  }
  progress(`Confirming: ${short(bad)} against ${short(good)}, measured afresh`);
  const confirmation = await probe(context, good, bad, point.effect);
  if (confirmation.answer !== 'different') {
    const why = confirmation.reason ?? (confirmation.answer === 'same' ? 'measured afresh, the commits either side do not differ by the change the history showed' : 'measured afresh, the difference is within the noise even with more runs');
    return finding(stored(confirmation), [], null, why);
  }
  const commits = await firstParentCommits(repo, good, bad);
  progress(`Bisecting ${commits.length - 1} first-parent commits between ${short(good)} and ${short(bad)}`);
  const expected = confirmation.effect ?? point.effect;
  const outcome = await bisect(commits, async (commit) => {
    const step = await probe(context, good, commit, expected);
    progress(`  ${short(commit)}: ${step.answer}${step.effect === null ? '' : ` (${formatPercent(step.effect)})`}`);
    return step;
  });
  const steps = outcome.steps.map((step) => stored(step.probe));
  if (!outcome.culprit) {
    const reason = outcome.steps.at(-1)?.probe.reason ?? `the bisection could not tell ${short(outcome.good)} from ${short(outcome.bad)} apart`;
    return finding(stored(confirmation), steps, null, `${reason}; the change is between ${short(outcome.good)} and ${short(outcome.bad)}`);
  }
  // The culprit's own effect: against its first parent, the commit before it on the default branch.
  const own = await probe(context, outcome.good, outcome.culprit, expected);
  const subject = (await git(repo, ['log', '-1', '--format=%s', outcome.culprit])).trim();
  return finding(stored(confirmation), steps, { commit: outcome.culprit, subject, probe: stored(own) }, own.reason);
}

/** One nightly check: measure, record, detect, and confirm and bisect what is new. */
export async function runSentinel(options: SentinelOptions): Promise<SentinelResult> {
  const repo = await repoRoot(options.cwd).catch(() => {
    throw new RunSetupError(`${options.cwd} is not inside a git repository with a commit: autoloop sentinel measures commits of its default branch`);
  });
  const resolve = (ref: string, what: string) =>
    resolveCommit(repo, ref).catch(() => {
      throw new RunSetupError(`${what} ${JSON.stringify(ref)} is not a commit in ${repo}: name a branch, tag or SHA`);
    });
  const now = options.now ?? (() => new Date());
  const head = await resolve(options.head ?? 'HEAD', 'the head');
  const requested = options.reference ? await resolve(options.reference, '--reference') : undefined;
  const environment = options.environment ?? environmentFingerprint();

  const before = await readSentinelHistory(repo);
  const newReference = planReference(before.records, environment, head, now(), requested);
  const reference = newReference ?? currentReference(before.records)!;
  if (newReference?.reason === 'environment') options.onProgress?.(`The environment changed (${newReference.changed.join(', ')}): a new segment starts, measured against the same reference`);

  // The config and the evaluator as committed in the reference: every measurement of the history is made alike.
  const configFile = relative(repo, resolvePath(repo, options.configPath ?? CONFIG_PATH));
  const { config } = await loadConfigAt(repo, reference.reference, configFile);
  const measurer = await CommitMeasurer.open({ repo, config, configFile, pin: reference.reference, signal: options.signal });
  const context: Context = { repo, options, measurer };
  try {
    return await check(context, { head, reference, newReference, before, environment, now });
  } finally {
    await measurer.close();
  }
}

interface Tonight {
  head: string;
  reference: ReferenceRecord;
  newReference: ReferenceRecord | null;
  before: StoredHistory;
  environment: Environment;
  now: () => Date;
}

async function check(context: Context, { head, reference, newReference, before, environment, now }: Tonight): Promise<SentinelResult> {
  const { repo, options, measurer } = context;
  const { config } = measurer;
  options.onProgress?.(`Measuring ${short(head)} against the reference ${short(reference.reference)}`);
  const result = await measure(context, reference.reference, head, options.repeats);
  const judgement = result.judgement;
  if (!judgement || judgement.verdict === 'invalid' || !Number.isFinite(judgement.deltaRelative)) {
    const reason = result.reason ?? judgement?.reasons.join('; ') ?? 'no valid metric';
    throw new SentinelMeasurementError(`autoloop sentinel: ${short(head)} against the reference ${short(reference.reference)} could not be measured, nothing was recorded: ${reason} (traces: ${result.traceDir})`, repo, 'measure');
  }
  const { interval } = relativeFigures(judgement);
  const measurement: MeasurementRecord = {
    type: 'measurement',
    commit: head,
    reference: reference.reference,
    metric: config.metric.name,
    goal: config.metric.goal,
    referenceMean: judgement.baseline.mean,
    headMean: judgement.candidate.mean,
    deltaRelative: judgement.deltaRelative,
    interval,
    samples: { reference: judgement.baseline.samples, head: judgement.candidate.samples },
    verdict: judgement.verdict,
    environment,
    fingerprint: fingerprintOf(environment),
    measuredAt: now().toISOString(),
  };
  let history = await appendSentinelRecords(repo, newReference ? [newReference, measurement] : [measurement], before, `autoloop sentinel: ${short(head)} ${formatPercent(measurement.deltaRelative)}`);

  const detection = detectChangePoints(history.records, options.detector);
  const findings: FindingRecord[] = [];
  for (const point of detection.changePoints.filter((p) => !p.handled)) {
    options.onProgress?.(`Change point at measurement ${point.index + 1} (${short(point.before.last)} → ${short(point.after.first)}): ${point.direction} ${formatPercent(point.effect)}, p = ${point.pValue.toExponential(1)}`);
    const finding = await investigate(context, detection, point, now());
    history = await appendSentinelRecords(repo, [finding], history, `autoloop sentinel: ${point.direction} ${finding.culprit ? `in ${short(finding.culprit.commit)}` : finding.confirmation.answer}`);
    findings.push(finding);
  }
  return { repo, head, reference, newReference, measurement, detection, findings, history, traceDir: measurer.traceRoot };
}
