/** Reads what the repository says about a run's kept commits, for `verifyKeptCommits` (core/ledger/kept-commit.ts). */
import { ledgerEntries } from '../core/ledger/ledger.js';
import { keptEntries, verifyKeptCommits, type CommitMessage, type KeptCommitFacts, type KeptCommitsVerification } from '../core/ledger/kept-commit.js';
import { branchHead, git, repoRoot } from './git.js';

/** A full commit id; anything else read from a ledger never reaches git's command line. */
const COMMIT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** `git log` output written with `--format=%x1e%H%x00%B`, as id and message. */
function parseLog(out: string): CommitMessage[] {
  return out
    .split('\x1e')
    .filter((entry) => entry.includes('\0'))
    .map((entry) => {
      const split = entry.indexOf('\0');
      return { sha: entry.slice(0, split).trim(), message: entry.slice(split + 1) };
    });
}

/** The ids among `ids` that are commits in the repository. */
async function existingCommits(repo: string, ids: readonly string[]): Promise<string[]> {
  const wanted = [...new Set(ids.filter((id) => COMMIT_ID.test(id)))];
  if (wanted.length === 0) return [];
  const out = await git(repo, ['cat-file', '--batch-check'], { input: wanted.join('\n') });
  return out
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[1] === 'commit')
    .map((fields) => fields[0]!);
}

/** Whether a run's kept commits were checked, and what was found. */
export type KeptCommitsCheck =
  | { checked: true; branch: string; present: boolean; verification: KeptCommitsVerification }
  /** Why they could not be: the ledger is outside any repository (`outside`), or in one that does not hold the run's base. */
  | { checked: false; outside: boolean; reason: string };

/**
 * Checks the kept commits of the ledger `text` (whose hash chain holds) in the repository around `dir`, the
 * run's folder: each kept experiment's commit, looked up by the id its record names, and the run branch's
 * commits from the base. Not checked when `dir` is in no repository (a copy of a ledger: the chain is all
 * there is) or in one without the run's base commit.
 */
export async function checkKeptCommits(dir: string, text: string, file: string): Promise<KeptCommitsCheck> {
  const repo = await repoRoot(dir).catch(() => null);
  if (repo === null) return { checked: false, outside: true, reason: `${dir} is in no git repository` };
  const entries = ledgerEntries(text);
  const run = entries[0]?.record;
  const base = run?.type === 'run' && typeof run.baseCommit === 'string' ? run.baseCommit : '';
  const branch = run?.type === 'run' && typeof run.branch === 'string' ? run.branch : '';
  if ((await existingCommits(repo, [base])).length === 0) return { checked: false, outside: false, reason: `${repo} does not hold the run's base commit ${base.slice(0, 12)}` };

  const kept = await existingCommits(repo, keptEntries(entries).map((entry) => entry.keptCommit));
  const commits = new Map((kept.length > 0 ? parseLog(await git(repo, ['log', '--no-walk=unsorted', '--format=%x1e%H%x00%B', ...kept])) : []).map((c) => [c.sha, c.message]));
  const head = branch ? await branchHead(repo, branch) : null;
  const facts: KeptCommitFacts = {
    commits,
    branch: head ? { name: branch, commits: parseLog(await git(repo, ['log', '--first-parent', '--format=%x1e%H%x00%B', `${base}..${head}`])) } : null,
  };
  return { checked: true, branch, present: head !== null, verification: verifyKeptCommits(entries, file, facts) };
}
