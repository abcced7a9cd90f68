/**
 * The sentinel's history in the repository itself: `history.jsonl` on the orphan branch `autoloop/sentinel`, one
 * commit per append. Written with git plumbing only (hash-object, mktree, commit-tree, update-ref), so the user's
 * working tree, index and HEAD are never touched, and moved by compare-and-swap, so two sentinels never lose a line.
 * Without a local branch, a fetched `origin/autoloop/sentinel` is read and continued (CI clones fetch it first).
 */
import { GENESIS } from '../../core/ledger/ledger.js';
import { chainRecords, parseHistory, SENTINEL_BRANCH, SENTINEL_FILE, SENTINEL_HISTORY, SentinelHistoryError, type SentinelHistory, type SentinelRecord } from '../../core/sentinel/history.js';
import { git, GitError } from '../git.js';

const LOCAL_REF = `refs/heads/${SENTINEL_BRANCH}`;
const REMOTE_REF = `refs/remotes/origin/${SENTINEL_BRANCH}`;

/** The history as stored: its records, the text they were read from and the commit holding it (null before the first). */
export interface StoredHistory extends SentinelHistory {
  text: string;
  /** The commit the history was read from, null when there is none yet. */
  commit: string | null;
  /** What the local branch pointed at when read (null when it did not exist): the next append's expected old value. */
  localCommit: string | null;
}

async function refCommit(repo: string, ref: string): Promise<string | null> {
  try {
    return (await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim() || null;
  } catch {
    return null;
  }
}

/**
 * Reads the history from the local branch, else from `origin`'s copy, else an empty one. Its hash chain is verified:
 * an altered history is refused ({@link SentinelHistoryTamperedError}, exit 5), naming the line.
 */
export async function readSentinelHistory(repo: string): Promise<StoredHistory> {
  const localCommit = await refCommit(repo, LOCAL_REF);
  const commit = localCommit ?? (await refCommit(repo, REMOTE_REF));
  if (!commit) return { records: [], head: GENESIS, text: '', commit: null, localCommit: null };
  let text: string;
  try {
    text = await git(repo, ['cat-file', 'blob', `${commit}:${SENTINEL_FILE}`]);
  } catch (error) {
    if (!(error instanceof GitError)) throw error;
    throw new SentinelHistoryError(SENTINEL_HISTORY, null, `branch ${SENTINEL_BRANCH} (${commit.slice(0, 12)}) has no ${SENTINEL_FILE}: it is not autoloop's; rename it, or delete it to start a new history`, repo);
  }
  return { ...parseHistory(text, SENTINEL_HISTORY, repo), text, commit, localCommit };
}

/**
 * Appends `records` to the history read as `from` (read afresh when not given) in one new commit on the branch, and
 * returns the history as stored now. Refused, with nothing written, when the branch moved since it was read.
 */
export async function appendSentinelRecords(repo: string, records: readonly SentinelRecord[], from?: StoredHistory, message?: string): Promise<StoredHistory> {
  const current = from ?? (await readSentinelHistory(repo));
  if (records.length === 0) return current;
  const chained = chainRecords(records, current.head);
  const { lines, head } = chained;
  const text = `${current.text}${lines.join('\n')}\n`;
  const blob = (await git(repo, ['hash-object', '-w', '--stdin'], { input: text })).trim();
  const tree = (await git(repo, ['mktree'], { input: `100644 blob ${blob}\t${SENTINEL_FILE}\n` })).trim();
  const parents = current.commit ? ['-p', current.commit] : [];
  const summary = message ?? `autoloop sentinel: ${records.map((record) => record.type).join(', ')}`;
  const commit = (await git(repo, ['commit-tree', tree, ...parents, '-F', '-'], { input: summary })).trim();
  try {
    await git(repo, ['update-ref', '-m', 'autoloop sentinel', LOCAL_REF, commit, current.localCommit ?? '']);
  } catch (error) {
    if (!(error instanceof GitError)) throw error;
    throw new SentinelHistoryError(SENTINEL_HISTORY, null, `branch ${SENTINEL_BRANCH} moved while this sentinel was writing (another one ran at the same time): nothing was written; run it again`, repo);
  }
  return { records: [...current.records, ...chained.records], head, text, commit, localCommit: commit };
}
