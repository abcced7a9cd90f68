import { describe, expect, it } from 'vitest';
import { keptCommitMessage, ledgerTrailerOf, verifyKeptCommits, type KeptCommitFacts } from '../../../src/core/ledger/kept-commit.js';
import { ledgerEntries, serializeLedger, verifyLedger } from '../../../src/core/ledger/ledger.js';
import type { ExperimentRecord, UnchainedRecord } from '../../../src/core/ledger/records.js';
import { makeLedger, makeStop } from '../../fixtures/records/ledger.js';

const FILE = 'ledger.jsonl';

/** The records of a ledger text, without their links. */
function recordsOf(text: string): UnchainedRecord[] {
  return text.trim().split('\n').map((line) => {
    const { prev: _prev, ...record } = JSON.parse(line) as UnchainedRecord & { prev: string };
    return record as UnchainedRecord;
  });
}

/** What the repository would hold for the fixture run, as the loop writes it: each kept commit's message names the ledger's head before its record. */
function repositoryFor(text: string, options: { trailers?: boolean } = {}): KeptCommitFacts {
  const commits = new Map<string, string>();
  for (const entry of ledgerEntries(text)) {
    const record = entry.record as Partial<ExperimentRecord> | null;
    if (record?.type !== 'experiment' || !record.experiment || record.status !== 'keep') continue;
    const message = keptCommitMessage({ hypothesis: record.description!, experiment: record.experiment, judgement: record.judgement!, metric: 'val_loss', ledgerHead: entry.prev! });
    commits.set(record.keptCommit!, options.trailers === false ? message.replace(/\n\nAutoloop-Ledger: .*$/, '') : message);
  }
  // The run branch, newest first, as `git log` lists it.
  return { commits, branch: { name: 'autoloop/test-run', commits: [...commits].reverse().map(([sha, message]) => ({ sha, message })) } };
}

/** The ledger with `change` made to its records, then re-chained end to end: its hash chain holds. */
function rechained(text: string, change: (records: UnchainedRecord[]) => UnchainedRecord[]): string {
  const out = serializeLedger(change(recordsOf(text)));
  expect(verifyLedger(out, FILE).ok).toBe(true);
  return out;
}

const { run, experiments } = makeLedger();
const written = serializeLedger([run, ...experiments, makeStop()]);
const facts = repositoryFor(written);

describe('keptCommitMessage and ledgerTrailerOf', () => {
  it('ends the message with the trailer, which reads back; a hypothesis cannot fake it', () => {
    const message = keptCommitMessage({ hypothesis: 'lr 0.1', experiment: 3, judgement: experiments[1]!.judgement!, metric: 'val_loss', ledgerHead: 'a'.repeat(64) });
    expect(message).toBe(`lr 0.1\n\nval_loss: 0.5 → 0.45 (−10%)\nsingle run, no noise estimate\nautoloop experiment 3\n\nAutoloop-Ledger: ${'a'.repeat(64)}`);
    expect(ledgerTrailerOf(`${message}\n`)).toBe('a'.repeat(64));
    expect(ledgerTrailerOf(`Autoloop-Ledger: ${'b'.repeat(64)}\n\nval_loss: 1 → 0.5\nautoloop experiment 3`)).toBeNull();
    expect(ledgerTrailerOf('lr 0.1\n\nautoloop experiment 3')).toBeNull();
  });
});

describe('verifyKeptCommits', () => {
  it('passes the ledger as written: both kept commits recorded its head', () => {
    expect(verifyKeptCommits(ledgerEntries(written), FILE, facts)).toEqual({ ok: true, checked: 2, withoutTrailer: 0 });
  });

  it('fails a discarded experiment edited and the chain rebuilt, at the next kept experiment', () => {
    const text = rechained(written, (records) => records.map((r) => (r.type === 'experiment' && r.experiment === 2 ? { ...r, metric: 0.43 } : r)));
    const result = verifyKeptCommits(ledgerEntries(text), FILE, facts);
    expect(result).toMatchObject({ ok: false, kind: 'rechained', line: 6, experiment: 4 });
    expect(!result.ok && result.problem).toMatch(/^experiment 4's kept commit d000004 recorded the ledger's head as [0-9a-f]{12}…, but the ledger before line 6 \(experiment 4\) now hashes to [0-9a-f]{12}…: lines 3–5 changed and the hash chain was rebuilt$/);
  });

  it('fails the run record edited, at the first kept experiment', () => {
    const text = rechained(written, (records) => records.map((r) => (r.type === 'run' ? { ...r, baseCommit: 'e'.repeat(40) } : r)));
    expect(verifyKeptCommits(ledgerEntries(text), FILE, facts)).toMatchObject({ ok: false, line: 3, experiment: 1, problem: expect.stringContaining('lines 1–2 changed') });
  });

  it("fails the last kept experiment's own figures edited, which no later trailer covers, by its message", () => {
    const text = rechained(written, (records) =>
      records.map((r) => (r.type === 'experiment' && r.experiment === 4 ? { ...r, metric: 0.3, judgement: { ...r.judgement!, candidate: { mean: 0.3, samples: [0.3] } } } : r)),
    );
    const result = verifyKeptCommits(ledgerEntries(text), FILE, facts);
    expect(result).toMatchObject({ ok: false, kind: 'rechained', line: 6, experiment: 4 });
    expect(!result.ok && result.problem).toContain('the commit says "val_loss: 0.45 → 0.4 (−11.1%)", the record now "val_loss: 0.45 → 0.3 (−11.1%)"');
  });

  it("fails the last kept experiment's metric edited alone, against the judgement its commit confirms", () => {
    const text = rechained(written, (records) => records.map((r) => (r.type === 'experiment' && r.experiment === 4 ? { ...r, metric: 0.3, best: 0.3 } : r)));
    expect(verifyKeptCommits(ledgerEntries(text), FILE, facts)).toMatchObject({ ok: false, line: 6, experiment: 4, problem: expect.stringContaining('says its metric is 0.3 (best 0.3), but the judgement its kept commit d000004 confirms measured 0.4') });
  });

  it('fails kept experiments cut from the end, by the commits still on the run branch', () => {
    const text = rechained(written, (records) => records.slice(0, 5));
    expect(verifyKeptCommits(ledgerEntries(text), FILE, facts)).toMatchObject({ ok: false, kind: 'rechained', experiment: 4, problem: expect.stringContaining('autoloop/test-run holds d000004, the kept commit of experiment 4, but no record of the ledger names it') });
  });

  it('fails a kept experiment made up (a discard turned keep), whose commit does not exist', () => {
    const text = rechained(written, (records) => records.map((r) => (r.type === 'experiment' && r.experiment === 6 ? { ...r, status: 'keep', keptCommit: 'f'.repeat(40) } : r)));
    expect(verifyKeptCommits(ledgerEntries(text), FILE, facts)).toMatchObject({ ok: false, line: 8, experiment: 6, problem: expect.stringContaining('not a commit in this repository') });
  });

  it('fails a kept experiment pointed at a commit that exists but is not on the run branch', () => {
    const candidate = 'c'.repeat(40);
    const text = rechained(written, (records) => records.map((r) => (r.type === 'experiment' && r.experiment === 6 ? { ...r, status: 'keep', keptCommit: candidate } : r)));
    const withCandidate = { ...facts, commits: new Map([...facts.commits, [candidate, 'experiment 6 (candidate)']]) };
    expect(verifyKeptCommits(ledgerEntries(text), FILE, withCandidate)).toMatchObject({ ok: false, experiment: 6, problem: expect.stringContaining('a commit that is not on autoloop/test-run') });
    // With the branch gone it is looked up by id: a commit without a trailer after ones with it is blamed too.
    expect(verifyKeptCommits(ledgerEntries(text), FILE, { ...withCandidate, branch: null })).toMatchObject({ ok: false, experiment: 6, problem: expect.stringContaining('has no Autoloop-Ledger trailer though the earlier kept commits') });
  });

  it('counts kept commits of an older autoloop, without a trailer, and blames nothing', () => {
    const text = rechained(written, (records) => records.map((r) => (r.type === 'experiment' && r.experiment === 2 ? { ...r, metric: 0.43 } : r)));
    expect(verifyKeptCommits(ledgerEntries(text), FILE, repositoryFor(written, { trailers: false }))).toEqual({ ok: true, checked: 0, withoutTrailer: 2 });
  });
});
