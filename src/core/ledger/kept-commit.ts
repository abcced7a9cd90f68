/**
 * The ledger's head, kept where the ledger's writer cannot rewrite it: in git. Each commit a kept
 * experiment lands as on the run branch ends with a trailer
 *
 *     Autoloop-Ledger: <head>
 *
 * where `<head>` is the ledger's head hash when the experiment was kept: the SHA-256 of the ledger's last
 * line before that experiment's record, which is exactly the `prev` that record carries. Through the hash
 * chain it stands for the whole ledger up to then (the run record and every earlier experiment, kept or
 * not). The record itself cannot be in it (the record names the commit, whose id depends on the message),
 * so the rest of the message — hypothesis, figures, interval, experiment number — is checked against the
 * record instead: {@link keptCommitMessage} rebuilt from the record must be the message.
 *
 * A ledger edited and then re-chained end to end (every `prev` recomputed) passes the chain check, but not
 * this one: some kept commit recorded another head, or another message. What is after the last kept
 * experiment's record (later discarded experiments, the stop record) is pinned by no commit: only the head
 * `autoloop verify` prints pins it. And git is the anchor only as far as whoever altered the ledger could not
 * also rewrite the repository's objects and the run branch.
 */
import { formatNumber, formatPercent } from '../config/units.js';
import { UNPAIRED_NOTE } from '../judge/judge.js';
import { DELTA_INTERVAL, formatInterval, shortSha } from '../render/markdown.js';
import type { LedgerBreak } from './ledger.js';
import type { Judgement, UnchainedRecord } from './records.js';

/** The trailer's key. */
export const LEDGER_TRAILER = 'Autoloop-Ledger';

const TRAILER_LINE = new RegExp(`^${LEDGER_TRAILER}:[ \\t]*([0-9a-f]{64})[ \\t]*$`, 'm');
const COMMIT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const EXPERIMENT_LINE = /^autoloop experiment (\d+)$/m;

/** What a kept commit's message is made of. */
export interface KeptCommitInput {
  hypothesis: string;
  experiment: number;
  judgement: Judgement;
  /** The primary metric's name. */
  metric: string;
  /** The ledger's head before this experiment's record: the `prev` it will carry. */
  ledgerHead: string;
}

/** The message of a kept experiment's commit on the run branch: hypothesis, measured delta, interval, experiment, and the {@link LEDGER_TRAILER} trailer. Pure. */
export function keptCommitMessage(input: KeptCommitInput): string {
  const { judgement } = input;
  return [
    input.hypothesis,
    '',
    `${input.metric}: ${formatNumber(judgement.baseline.mean)} → ${formatNumber(judgement.candidate.mean)} (${formatPercent(judgement.deltaRelative)})`,
    formatInterval(judgement.interval, DELTA_INTERVAL),
    ...(judgement.paired ? [] : [UNPAIRED_NOTE]),
    `autoloop experiment ${input.experiment}`,
    '',
    `${LEDGER_TRAILER}: ${input.ledgerHead}`,
  ].join('\n');
}

/** The head a commit message's trailer records (in its last paragraph, where git keeps trailers), or null when it has none. */
export function ledgerTrailerOf(message: string): string | null {
  const paragraphs = message.trimEnd().split(/\n[ \t]*\n/);
  return TRAILER_LINE.exec(paragraphs.at(-1) ?? '')?.[1] ?? null;
}

/** One complete ledger line as the check reads it. */
export interface LedgerEntry {
  /** 1-based line number. */
  line: number;
  prev: string | null;
  record: Partial<UnchainedRecord> | null;
}

/** A commit as git has it: its id and message. */
export interface CommitMessage {
  sha: string;
  message: string;
}

/** What the repository says about a run's kept commits. */
export interface KeptCommitFacts {
  /** The messages of the kept commits the ledger names that are commits in the repository (by id). */
  commits: ReadonlyMap<string, string>;
  /** The run branch, base (excluded) to head, first parents only; null when the branch is gone. */
  branch: { name: string; commits: readonly CommitMessage[] } | null;
}

/** The kept commits agree with the ledger. */
export interface KeptCommitsIntact {
  ok: true;
  /** Kept experiments whose commit's trailer and message were checked. */
  checked: number;
  /** Kept experiments whose commit has no trailer (written by an autoloop from before the trailer): the hash chain alone covers them. */
  withoutTrailer: number;
}

export type KeptCommitsVerification = KeptCommitsIntact | LedgerBreak;

/** The experiment records (after the baseline) the ledger says were kept, with their lines. */
export function keptEntries(entries: readonly LedgerEntry[]): (LedgerEntry & { experiment: number; keptCommit: string })[] {
  return entries.flatMap((entry) => {
    const record = entry.record;
    if (record?.type !== 'experiment' || typeof record.experiment !== 'number' || record.experiment === 0) return [];
    if (record.status !== 'keep' || typeof record.keptCommit !== 'string') return [];
    return [{ ...entry, experiment: record.experiment, keptCommit: record.keptCommit }];
  });
}

/** The first line where two texts differ, quoted, for people. */
function firstDifference(actual: string, expected: string): string {
  const a = actual.trimEnd().split('\n');
  const b = expected.trimEnd().split('\n');
  const i = a.findIndex((line, index) => line !== b[index]);
  const at = i === -1 ? a.length : i;
  return `the commit says ${JSON.stringify(a[at] ?? '(nothing)')}, the record now ${JSON.stringify(b[at] ?? '(nothing)')}`;
}

/**
 * Checks a ledger whose hash chain holds against the commits of its kept experiments (pure): every kept
 * experiment's commit must be on the run branch (in the repository, when the branch is gone) with a trailer
 * naming the record's `prev`, the message {@link keptCommitMessage} rebuilds from the record, and the record's
 * metric the judgement's; and every commit on the run branch with a trailer must be a kept experiment's. A
 * commit without a trailer before any with one is counted, not blamed (an older autoloop wrote it).
 * The first disagreement comes back as a {@link LedgerBreak} of kind `rechained`, naming its experiment.
 */
export function verifyKeptCommits(entries: readonly LedgerEntry[], file: string, facts: KeptCommitFacts): KeptCommitsVerification {
  const run = entries[0]?.record;
  const metric = run?.type === 'run' && typeof run.metric?.name === 'string' ? run.metric.name : '';
  const fail = (entry: { line: number }, experiment: number | null, problem: string): LedgerBreak => ({ ok: false, file, line: entry.line, experiment, kind: 'rechained', problem });
  const kept = keptEntries(entries);
  // Kept commits land on the run branch, one on the other: while it exists, that is where they are looked up.
  const onBranch = facts.branch ? new Map(facts.branch.commits.map((commit) => [commit.sha, commit.message])) : null;
  let checked = 0;
  let withoutTrailer = 0;
  /** The first line the next trailer vouches for: the one after what the last matching trailer covered. */
  let vouchedFrom = 1;
  for (const entry of kept) {
    const { experiment, keptCommit } = entry;
    const at = `line ${entry.line} (experiment ${experiment})`;
    const id = COMMIT_ID.test(keptCommit) ? keptCommit : null;
    const message = id === null ? undefined : (onBranch ?? facts.commits).get(id);
    if (message === undefined) {
      const where = id !== null && facts.commits.has(id) ? `a commit that is not on ${facts.branch?.name ?? 'the run branch'}` : 'not a commit in this repository';
      return fail(entry, experiment, `${at} names the kept commit ${JSON.stringify(keptCommit.slice(0, 40))}, ${where}: the record was altered (or the commit or branch rewritten)`);
    }
    const trailer = ledgerTrailerOf(message);
    if (trailer === null) {
      // An autoloop from before the trailer wrote it; after a commit with one, every later one has one too.
      if (checked > 0) return fail(entry, experiment, `${at} names the kept commit ${shortSha(keptCommit)}, which has no ${LEDGER_TRAILER} trailer though the earlier kept commits of this run have one: the record was altered and the hash chain rebuilt`);
      withoutTrailer++;
      continue;
    }
    if (trailer !== entry.prev) {
      const lines = vouchedFrom === entry.line - 1 ? `line ${vouchedFrom}` : `lines ${vouchedFrom}–${entry.line - 1}`;
      return fail(
        entry,
        experiment,
        `experiment ${experiment}'s kept commit ${shortSha(keptCommit)} recorded the ledger's head as ${trailer.slice(0, 12)}…, but the ledger before ${at} now hashes to ${String(entry.prev).slice(0, 12)}…: ${lines} changed and the hash chain was rebuilt`,
      );
    }
    const record = entry.record as Partial<UnchainedRecord> & { description?: unknown; judgement?: unknown; metric?: unknown; best?: unknown };
    const expected =
      record.judgement && typeof record.description === 'string'
        ? keptCommitMessage({ hypothesis: record.description, experiment, judgement: record.judgement as Judgement, metric, ledgerHead: trailer })
        : '';
    if (message.trimEnd() !== expected.trimEnd()) {
      return fail(entry, experiment, `${at} no longer says what its kept commit ${shortSha(keptCommit)} says (${firstDifference(message, expected)}): it was changed and the hash chain was rebuilt`);
    }
    // The figures reports read (metric, best) are the judgement's, which the message just confirmed.
    const measured = (record.judgement as Judgement).candidate.mean;
    if (record.metric !== measured || record.best !== measured) {
      return fail(
        entry,
        experiment,
        `${at} says its metric is ${String(record.metric)} (best ${String(record.best)}), but the judgement its kept commit ${shortSha(keptCommit)} confirms measured ${measured}: it was changed and the hash chain was rebuilt`,
      );
    }
    checked++;
    vouchedFrom = entry.line;
  }
  if (facts.branch) {
    const known = new Set(kept.map((entry) => entry.keptCommit));
    const unknown = facts.branch.commits.find((commit) => ledgerTrailerOf(commit.message) !== null && !known.has(commit.sha));
    if (unknown) {
      const number = EXPERIMENT_LINE.exec(unknown.message)?.[1];
      const experiment = number === undefined ? null : Number(number);
      const record = entries.find((entry) => entry.record?.type === 'experiment' && entry.record.experiment === experiment) ?? entries.at(-1) ?? { line: 1 };
      return fail(
        record,
        experiment,
        `${facts.branch.name} holds ${shortSha(unknown.sha)}, the kept commit of experiment ${number ?? '?'}, but no record of the ledger names it: records were removed or changed and the hash chain was rebuilt`,
      );
    }
  }
  return { ok: true, checked, withoutTrailer };
}
