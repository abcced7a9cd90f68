import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clean } from '../../src/engine/clean.js';
import { DEMO_COMMIT_MESSAGE, DEMO_PREFIX, prepareDemoRepo } from '../../src/engine/demo.js';
import { runLoop } from '../../src/engine/loop.js';
import { pidFile, readLedger } from '../../src/engine/run-files.js';
import { createProposer } from '../../src/proposers/index.js';
import { gitSync, makeQuadraticRepo, makeRepo } from '../fixtures/local/repo.js';

/** A temp dir of the test's own, standing in for the system's: what clean looks through for demos. */
const scratch = () => mkdtempSync(join(tmpdir(), 'autoloop-clean-'));

const worktreeCount = (repo: string) => gitSync(repo, 'worktree', 'list', '--porcelain').split('\n').filter((line) => line.startsWith('worktree ')).length;

describe('clean', () => {
  it("removes a run's worktrees below the git directory (git worktree remove, then prune), and nothing of the working tree", async () => {
    const repo = makeQuadraticRepo('{ experiments: 1 }');
    await runLoop({ cwd: repo, tag: 'one', proposer: createProposer });
    writeFileSync(join(repo, 'params.json'), '{"x": 9}\n');
    const worktrees = join(repo, '.git/autoloop/one');
    expect(existsSync(join(worktrees, 'baseline'))).toBe(true);
    expect(worktreeCount(repo)).toBe(3);

    const dry = await clean({ cwd: repo, dryRun: true, tempDir: scratch() });
    expect(dry.removed).toEqual([{ kind: 'worktrees', path: worktrees, detail: '2 worktrees of run one' }]);
    expect(existsSync(join(worktrees, 'baseline'))).toBe(true);
    expect(worktreeCount(repo)).toBe(3);

    const done = await clean({ cwd: repo, tempDir: scratch() });
    expect(done.removed.map((e) => e.path)).toEqual([worktrees]);
    expect(existsSync(worktrees)).toBe(false);
    expect(existsSync(pidFile(worktrees))).toBe(false);
    expect(worktreeCount(repo)).toBe(1);
    // The user's files, the run branch and the run's files are as they were.
    expect(readFileSync(join(repo, 'params.json'), 'utf8')).toBe('{"x": 9}\n');
    expect(gitSync(repo, 'status', '--porcelain')).toBe('M params.json');
    expect(gitSync(repo, 'rev-parse', '--verify', 'autoloop/one/run')).toMatch(/^[0-9a-f]{40}$/);
    expect(existsSync(join(repo, '.autoloop/one/traces'))).toBe(true);
    // A resume makes them again.
    const resumed = await runLoop({ cwd: repo, tag: 'one', resume: true, proposer: createProposer });
    expect(resumed.outcome).toBe('completed');
  });

  it('leaves the worktrees of a run that is still running', async () => {
    const repo = makeQuadraticRepo('{ experiments: 1 }');
    await runLoop({ cwd: repo, tag: 'live', proposer: createProposer });
    // Another process, alive, holds the run.
    writeFileSync(pidFile(join(repo, '.git/autoloop/live')), `${process.ppid}\n`);
    const result = await clean({ cwd: repo, tempDir: scratch() });
    expect(result.removed).toEqual([]);
    expect(result.kept).toEqual([{ kind: 'worktrees', path: join(repo, '.git/autoloop/live'), detail: `run live is running (pid ${process.ppid}); if it is not, delete ${join(repo, '.git/autoloop/live.pid')}` }]);
    expect(existsSync(join(repo, '.git/autoloop/live/baseline'))).toBe(true);
  });

  it('removes the demo repositories autoloop made in the temp dir, and only those', async () => {
    const temp = scratch();
    const demo = await prepareDemoRepo(join(temp, `${DEMO_PREFIX}new`));
    // A demo made before the marker: its first commit says what it is.
    const older = makeRepo({ 'params.json': '{}' });
    const olderDir = join(temp, `${DEMO_PREFIX}old`);
    gitSync(older, 'clone', '--quiet', older, olderDir);
    writeFileSync(join(olderDir, '.git/COMMIT_EDITMSG'), `${DEMO_COMMIT_MESSAGE}\n`);
    // Look-alikes: the prefix without the marks, the marks without the prefix.
    const lookalike = join(temp, `${DEMO_PREFIX}mine`);
    mkdirSync(join(lookalike, '.git'), { recursive: true });
    const other = await prepareDemoRepo(join(temp, 'my-demo'));

    const dry = await clean({ cwd: temp, dryRun: true, tempDir: temp });
    expect(dry.repo).toBeNull();
    expect(dry.removed.map((e) => [e.kind, e.path]).sort()).toEqual([['demo', demo], ['demo', olderDir]].sort());
    expect(existsSync(demo)).toBe(true);

    await clean({ cwd: temp, tempDir: temp });
    expect([existsSync(demo), existsSync(olderDir), existsSync(lookalike), existsSync(other)]).toEqual([false, false, true, true]);
  });

  it('keeps the demo repository the user is working in', async () => {
    const temp = scratch();
    const demo = await prepareDemoRepo(join(temp, `${DEMO_PREFIX}here`));
    const result = await clean({ cwd: demo, tempDir: temp });
    expect(result.kept).toMatchObject([{ kind: 'demo', path: demo, detail: expect.stringContaining('you are in it') }]);
    expect(existsSync(demo)).toBe(true);
  });

  it("with runs, removes the runs' traces and derived files and eval traces, and keeps every ledger", async () => {
    const repo = makeQuadraticRepo('{ experiments: 1 }');
    await runLoop({ cwd: repo, tag: 'done', proposer: createProposer });
    mkdirSync(join(repo, '.autoloop/eval/2024-01-01'), { recursive: true });
    writeFileSync(join(repo, '.autoloop/eval/2024-01-01/result.json'), '{}');
    const ledgerBefore = readFileSync(join(repo, '.autoloop/done/ledger.jsonl'), 'utf8');

    const plain = await clean({ cwd: repo, tempDir: scratch(), dryRun: true });
    expect(plain.removed.map((e) => e.kind)).toEqual(['worktrees']);

    const result = await clean({ cwd: repo, runs: true, tempDir: scratch() });
    expect(result.removed.filter((e) => e.kind !== 'worktrees').map((e) => e.path).sort()).toEqual(
      [join(repo, '.autoloop/done/traces'), join(repo, '.autoloop/done/results.tsv'), join(repo, '.autoloop/done/progress.svg'), join(repo, '.autoloop/done/report.md'), join(repo, '.autoloop/eval')].sort(),
    );
    expect(existsSync(join(repo, '.autoloop/done/traces'))).toBe(false);
    expect(existsSync(join(repo, '.autoloop/eval'))).toBe(false);
    expect(readFileSync(join(repo, '.autoloop/done/ledger.jsonl'), 'utf8')).toBe(ledgerBefore);
    expect((await readLedger(join(repo, '.autoloop/done/ledger.jsonl'))).stop).not.toBeNull();
  });
});
