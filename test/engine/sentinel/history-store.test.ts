/**
 * The sentinel's history on the orphan branch autoloop/sentinel of a real repository: appended by plumbing only (the
 * user's working tree, index and HEAD are as they were), hash-chained, refused when altered, never lost to a race.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENESIS, hashLine } from '../../../src/core/ledger/ledger.js';
import { SENTINEL_BRANCH, SentinelHistoryError, SentinelHistoryTamperedError, planReference } from '../../../src/core/sentinel/history.js';
import { appendSentinelRecords, readSentinelHistory } from '../../../src/engine/sentinel/history-store.js';
import { environmentFingerprint } from '../../../src/engine/fingerprint.js';
import { gitSync, makeRepo } from '../../fixtures/local/repo.js';
import { finding, measurement } from '../../core/sentinel/records.js';

const AT = new Date('2025-03-01T02:00:00Z');

/** A repository with a commit, a staged change and an unstaged one: what the history must never touch. */
function busyRepo(): string {
  const repo = makeRepo({ 'a.txt': 'one\n', 'b.txt': 'two\n' });
  writeFileSync(join(repo, 'a.txt'), 'staged\n');
  gitSync(repo, 'add', 'a.txt');
  writeFileSync(join(repo, 'b.txt'), 'unstaged\n');
  writeFileSync(join(repo, 'new.txt'), 'untracked\n');
  return repo;
}

function userState(repo: string) {
  return {
    head: gitSync(repo, 'rev-parse', 'HEAD'),
    symbolic: gitSync(repo, 'symbolic-ref', 'HEAD'),
    status: gitSync(repo, 'status', '--porcelain=v1', '--untracked-files=all'),
    staged: gitSync(repo, 'diff', '--cached'),
    index: gitSync(repo, 'ls-files', '--stage'),
  };
}

describe('the sentinel history store', () => {
  it('is empty before the first append, then lives on an orphan branch, leaving the working tree, index and HEAD alone', async () => {
    const repo = busyRepo();
    const before = userState(repo);
    expect(await readSentinelHistory(repo)).toEqual({ records: [], head: GENESIS, text: '', commit: null, localCommit: null });

    const reference = planReference([], environmentFingerprint(), gitSync(repo, 'rev-parse', 'HEAD'), AT)!;
    const first = await appendSentinelRecords(repo, [reference, measurement(1, 0.01)]);
    const second = await appendSentinelRecords(repo, [measurement(2, -0.01), finding(1)], first);

    expect(userState(repo)).toEqual(before);
    const tip = gitSync(repo, 'rev-parse', SENTINEL_BRANCH);
    expect(tip).toBe(second.commit);
    expect(gitSync(repo, 'rev-parse', `${SENTINEL_BRANCH}~1`)).toBe(first.commit);
    // Orphan: its first commit has no parent, and it shares no history with main.
    expect(gitSync(repo, 'rev-list', '--max-parents=0', SENTINEL_BRANCH)).toBe(first.commit);
    expect(() => execFileSync('git', ['merge-base', 'main', SENTINEL_BRANCH], { cwd: repo, stdio: 'pipe' })).toThrow();
    expect(gitSync(repo, 'ls-tree', '--name-only', SENTINEL_BRANCH)).toBe('history.jsonl');

    const text = gitSync(repo, 'show', `${SENTINEL_BRANCH}:history.jsonl`);
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0]!).prev).toBe(GENESIS);
    expect(JSON.parse(lines[3]!).prev).toBe(hashLine(lines[2]!));
    const read = await readSentinelHistory(repo);
    expect(read.records).toEqual([reference, measurement(1, 0.01), measurement(2, -0.01), finding(1)]);
    expect(read.head).toBe(hashLine(lines[3]!));
    expect(read.commit).toBe(tip);
  });

  it('refuses a history edited on the branch, naming the line and the repository', async () => {
    const repo = makeRepo({ 'a.txt': 'one\n' });
    await appendSentinelRecords(repo, [measurement(1, 0.01), measurement(2, 0.02), measurement(3, 0.03)]);
    // Someone rewrites line 2 and commits it on the branch with ordinary git.
    const text = gitSync(repo, 'show', `${SENTINEL_BRANCH}:history.jsonl`).replace('"deltaRelative":0.02', '"deltaRelative":0.2');
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: repo, input: `${text}\n`, encoding: 'utf8' }).trim();
    const tree = execFileSync('git', ['mktree'], { cwd: repo, input: `100644 blob ${blob}\thistory.jsonl\n`, encoding: 'utf8' }).trim();
    const commit = gitSync(repo, 'commit-tree', tree, '-p', SENTINEL_BRANCH, '-m', 'edit');
    gitSync(repo, 'update-ref', `refs/heads/${SENTINEL_BRANCH}`, commit);

    const error = await readSentinelHistory(repo).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SentinelHistoryTamperedError);
    expect((error as SentinelHistoryTamperedError).subject).toMatchObject({ file: 'autoloop/sentinel:history.jsonl', line: 2, dir: repo });
    expect((error as Error).message).toMatch(/history\.jsonl:2: line 2 .*changed after it was written/);
    await expect(appendSentinelRecords(repo, [measurement(4, 0)])).rejects.toThrow(SentinelHistoryTamperedError);
  });

  it('writes nothing when another sentinel moved the branch since it read it', async () => {
    const repo = makeRepo({ 'a.txt': 'one\n' });
    const read = await readSentinelHistory(repo);
    await appendSentinelRecords(repo, [measurement(1, 0)]);
    const tip = gitSync(repo, 'rev-parse', SENTINEL_BRANCH);
    await expect(appendSentinelRecords(repo, [measurement(2, 0)], read)).rejects.toThrow(/moved while this sentinel was writing/);
    expect(gitSync(repo, 'rev-parse', SENTINEL_BRANCH)).toBe(tip);
    expect((await readSentinelHistory(repo)).records).toEqual([measurement(1, 0)]);
  });

  it("continues origin's history in a fresh clone, and refuses a branch of that name that is not autoloop's", async () => {
    const origin = makeRepo({ 'a.txt': 'one\n' });
    await appendSentinelRecords(origin, [measurement(1, 0)]);
    const clone = join(mkdtempSync(join(tmpdir(), 'autoloop-test-')), 'clone');
    execFileSync('git', ['clone', '--quiet', '--no-single-branch', origin, clone]);
    expect(() => gitSync(clone, 'rev-parse', '--verify', `refs/heads/${SENTINEL_BRANCH}`)).toThrow();
    const continued = await appendSentinelRecords(clone, [measurement(2, 0)]);
    expect(continued.records).toEqual([measurement(1, 0), measurement(2, 0)]);
    expect(gitSync(clone, 'rev-parse', `${SENTINEL_BRANCH}~1`)).toBe(gitSync(origin, 'rev-parse', SENTINEL_BRANCH));

    const other = makeRepo({ 'a.txt': 'one\n' });
    gitSync(other, 'branch', SENTINEL_BRANCH);
    const error = await readSentinelHistory(other).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SentinelHistoryError);
    expect((error as Error).message).toMatch(/has no history\.jsonl: it is not autoloop's/);
  });
});
