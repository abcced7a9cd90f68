import type { Octokit } from '@octokit/rest';
import { MAX_ARTIFACT_BYTES } from '../core/protocol/zip.js';
import {
  UNKNOWN,
  type BranchProtectionInfo,
  type BranchRule,
  type ChangedFile,
  type CheckRunOptions,
  type CheckRunWritten,
  type FastForward,
  type IssueUpdated,
  type Permission,
  type RulesetInfo,
  type Unknown,
} from './github.js';
import type { ListedWorkflowRun, PullRequestInfo, RepoGateway, RepoRef, WorkflowRunArtifact, WorkflowRunOrigin } from './github.js';
import { callGitHub, forbiddenOrMissing, GitHubError, notFound, UnknownAppIdentityError, type Recovery } from './github-errors.js';
import { toBranchProtection, toBranchRule, toPullRequestInfo, toRuleset } from './github-responses.js';
import { WORKFLOW_PATH } from '../core/protocol/protocol.js';

/**
 * The part of an Octokit client the gateway uses. Probot's `context.octokit` (a `ProbotOctokit`) and
 * `@octokit/rest`'s `Octokit` both fit, so handlers pass theirs and tests build a plain one.
 */
export type GitHubClient = Pick<Octokit, 'rest' | 'graphql' | 'paginate'>;

export interface OctokitGatewayOptions {
  /** The App's slug: its comments are written by `<slug>[bot]` and its check runs carry `app.slug`. */
  appSlug?: string;
  /** Where people browse the repository (artifact links in comments); `https://github.com` by default. */
  serverUrl?: string;
}

/** Roles the collaborator-permission API names in `role_name`; a custom role falls back to its base `permission`. */
const PERMISSIONS: readonly Permission[] = ['admin', 'maintain', 'write', 'triage', 'read', 'none'];

/** The compare API lists at most this many files for a whole comparison; at the cap the list may be cut short. */
const COMPARE_FILES_CAP = 300;

/** A full commit SHA (SHA-1, or SHA-256 in a repository that uses it): what is read at one never changes. */
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Files (and comparisons) read at full commit SHAs kept at most, each; the least recently used one is forgotten first. */
export const IMMUTABLE_READS_CAPACITY = 128;
/** A file longer than this (characters) is not kept: the config and the files read with it are a few KB. */
export const IMMUTABLE_READ_MAX_CHARS = 64 * 1024;
/** Files the commit API lists per page for a commit's own diff; a page this full may not be the whole diff. */
const COMMIT_FILES_PAGE = 100;

/** At most `capacity` entries, each at most `maxSize` as `sizeOf` measures it; the least recently used is forgotten first. */
class RecentlyUsed<T> {
  private readonly entries = new Map<string, T>();

  constructor(
    private readonly capacity: number,
    private readonly sizeOf: (value: T) => number,
    private readonly maxSize: number,
  ) {}

  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    // Most recently used last: a Map keeps insertion order.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: T): void {
    if (this.sizeOf(value) > this.maxSize) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * The key of what one repository holds at full commit SHAs (GitHub's owner and repository names are case-insensitive),
 * or null when any of `shas` is not a full SHA as GitHub spells one (40 or 64 lower-case hex digits): a branch or a tag
 * name moves, an abbreviated SHA may come to mean another commit, and neither is ever kept.
 */
function immutableKey(repository: string, shas: string[], what: string): string | null {
  return shas.every((sha) => FULL_SHA.test(sha)) ? `${repository.toLowerCase()}\u0000${shas.join('\u0000')}\u0000${what}` : null;
}

/**
 * What the App read at commits named by their full SHAs, kept for the life of the process: a commit's content never
 * changes, so the run's config at its base commit (read by every event of the run) and the files changed between an
 * experiment's parent and its head (listed when it is proposed, compared when it is evaluated) are asked of GitHub once.
 * Module-level, since a gateway lives for one event only; bounded in entries and in entry size; keyed by repository.
 * Never a file that was not found (a 404 may be transient, or a matter of the App's access).
 */
const immutableFiles = new RecentlyUsed<string>(IMMUTABLE_READS_CAPACITY, (text) => text.length, IMMUTABLE_READ_MAX_CHARS);
const immutableComparisons = new RecentlyUsed<readonly ChangedFile[]>(IMMUTABLE_READS_CAPACITY, (files) => files.length, COMPARE_FILES_CAP);

/**
 * Forgets everything read at commit SHAs. Only for a process that talks to more than one GitHub whose SHAs are not
 * content addresses (the tests' fake GitHub, whose commit SHAs are counters: two fakes give one SHA different files).
 */
export function clearImmutableReads(): void {
  immutableFiles.clear();
  immutableComparisons.clear();
}

/** How many files and comparisons read at commit SHAs are kept now (for tests). */
export function immutableReadsSize(): { files: number; comparisons: number } {
  return { files: immutableFiles.size, comparisons: immutableComparisons.size };
}

/** A file of a comparison (or of a commit's own diff) as the gateway gives it. */
function toChangedFile(file: { filename: string; status: ChangedFile['status']; previous_filename?: string }): ChangedFile {
  return { path: file.filename, status: file.status, ...(file.previous_filename === undefined ? {} : { previousPath: file.previous_filename }) };
}

/** `RepoGateway` over the GitHub REST API (GraphQL only where REST has no endpoint). */
export class OctokitGateway implements RepoGateway {
  private readonly repository: string;
  private readonly serverUrl: string;
  /** Check runs this gateway (one event) created or updated, by name and commit: their ids, so a second write skips the lookup. */
  private readonly checkRunsSet = new Map<string, number>();

  constructor(
    private readonly octokit: GitHubClient,
    readonly ref: RepoRef,
    private readonly options: OctokitGatewayOptions = {},
  ) {
    this.repository = `${ref.owner}/${ref.repo}`;
    this.serverUrl = (options.serverUrl ?? 'https://github.com').replace(/\/+$/, '');
  }

  // Reads.

  async permission(user: string): Promise<Permission> {
    const data = await this.call(
      'permission',
      async () => (await this.octokit.rest.repos.getCollaboratorPermissionLevel({ ...this.ref, username: user })).data,
      // Not a collaborator (or no such user): no permission. Anything else throws, so the App fails closed.
      { when: notFound, value: null },
    );
    if (data === null) return 'none';
    const role = PERMISSIONS.find((permission) => permission === data.role_name);
    return role ?? PERMISSIONS.find((permission) => permission === data.permission) ?? 'none';
  }

  async defaultBranch(): Promise<{ name: string; sha: string }> {
    const { data } = await this.call('defaultBranch', () => this.octokit.rest.repos.get({ ...this.ref }));
    const sha = await this.branchSha(data.default_branch);
    if (sha === null) throw this.unusable('defaultBranch', `the default branch ${data.default_branch} has no commits`);
    return { name: data.default_branch, sha };
  }

  async readFile(path: string, ref: string): Promise<string | null> {
    const key = immutableKey(this.repository, [ref], `file\u0000${path}`);
    const kept = key === null ? undefined : immutableFiles.get(key);
    if (kept !== undefined) return kept;
    const text = await this.readFileFromGitHub(path, ref);
    if (key !== null && text !== null) immutableFiles.set(key, text);
    return text;
  }

  private async readFileFromGitHub(path: string, ref: string): Promise<string | null> {
    const operation = 'readFile';
    const response = await this.orNull(operation, () => this.octokit.rest.repos.getContent({ ...this.ref, path, ref }));
    if (response === null) return null;
    const { data } = response;
    if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) {
      throw this.unusable(operation, `${path} at ${ref} is not a file`);
    }
    // Above 1 MB the contents API leaves `content` empty (encoding "none"); the blob API serves up to 100 MB.
    const content =
      data.encoding === 'base64'
        ? data.content
        : (await this.call(operation, () => this.octokit.rest.git.getBlob({ ...this.ref, file_sha: data.sha }))).data.content;
    return Buffer.from(content, 'base64').toString('utf8');
  }

  async branchSha(branch: string): Promise<string | null> {
    const response = await this.orNull('branchSha', () => this.octokit.rest.git.getRef({ ...this.ref, ref: `heads/${branch}` }));
    return response?.data.object.sha ?? null;
  }

  async commit(ref: string): Promise<{ sha: string; message: string } | null> {
    const response = await this.orNull('commit', () => this.octokit.rest.repos.getCommit({ ...this.ref, ref, per_page: COMMIT_FILES_PAGE }));
    if (response === null) return null;
    const { data, headers } = response;
    // A commit with one parent: its own diff is the (three-dot) comparison of the parent with it. Kept when the page
    // holds all of it, so that evaluating a proposal need not ask GitHub to compare the same two commits again.
    const parents = data.parents ?? [];
    const complete = data.files !== undefined && data.files.length < COMMIT_FILES_PAGE && !/rel="next"/.test(headers.link ?? '');
    const key = parents.length === 1 && complete ? immutableKey(this.repository, [parents[0]!.sha, data.sha], 'compare') : null;
    if (key !== null) immutableComparisons.set(key, data.files!.map(toChangedFile));
    return { sha: data.sha, message: data.commit.message };
  }

  async findPullRequest(headBranch: string): Promise<PullRequestInfo | null> {
    const { data } = await this.call('findPullRequest', () =>
      this.octokit.rest.pulls.list({
        ...this.ref,
        head: `${this.ref.owner}:${headBranch}`,
        state: 'all',
        sort: 'created',
        direction: 'desc',
        per_page: 1,
      }),
    );
    const newest = data[0];
    return newest === undefined ? null : toPullRequestInfo(newest);
  }

  async getPullRequest(number: number): Promise<PullRequestInfo> {
    const { data } = await this.call('getPullRequest', () => this.octokit.rest.pulls.get({ ...this.ref, pull_number: number }));
    return toPullRequestInfo(data);
  }

  async compare(base: string, head: string): Promise<ChangedFile[]> {
    const key = immutableKey(this.repository, [base, head], 'compare');
    const kept = key === null ? undefined : immutableComparisons.get(key);
    if (kept !== undefined) return kept.map((file) => ({ ...file }));
    const files = await this.compareOnGitHub(base, head);
    if (key !== null) immutableComparisons.set(key, files.map((file) => ({ ...file })));
    return files;
  }

  private async compareOnGitHub(base: string, head: string): Promise<ChangedFile[]> {
    const { data } = await this.call('compare', () =>
      this.octokit.rest.repos.compareCommitsWithBasehead({ ...this.ref, basehead: `${base}...${head}` }),
    );
    const files = data.files ?? [];
    // At the cap the list may be incomplete, and a scope check on a partial list would pass what it should
    // not: diff the two trees instead (renames then show as a removal and an addition, both checked).
    if (files.length >= COMPARE_FILES_CAP) return this.diffTrees(data.merge_base_commit.sha, head);
    return files.map(toChangedFile);
  }

  async tree(sha: string): Promise<Map<string, string>> {
    const { data } = await this.call('tree', () => this.octokit.rest.git.getTree({ ...this.ref, tree_sha: sha, recursive: 'true' }));
    if (data.truncated) {
      throw this.unusable('tree', `the tree of ${sha} has too many entries for one request (GitHub truncated it)`);
    }
    const blobs = new Map<string, string>();
    for (const entry of data.tree) {
      if (entry.type === 'blob' && entry.path !== undefined && entry.sha !== undefined) blobs.set(entry.path, entry.sha);
    }
    return blobs;
  }

  async listArtifacts(runId: number): Promise<WorkflowRunArtifact[]> {
    const artifacts = await this.call('listArtifacts', () =>
      this.octokit.paginate(this.octokit.rest.actions.listWorkflowRunArtifacts, { ...this.ref, run_id: runId, per_page: 100 }),
    );
    // An expired artifact can be neither downloaded nor opened: leave it out.
    return artifacts
      .filter((artifact) => !artifact.expired)
      // Sized before it is downloaded: an artifact larger than any result document is read as none (issue 12).
      .filter((artifact) => !(artifact.size_in_bytes > MAX_ARTIFACT_BYTES))
      .map((artifact) => ({
        id: artifact.id,
        name: artifact.name,
        url: `${this.serverUrl}/${this.repository}/actions/runs/${runId}/artifacts/${artifact.id}`,
      }));
  }

  async workflowRun(runId: number): Promise<WorkflowRunOrigin> {
    const { data } = await this.call('workflowRun', () => this.octokit.rest.actions.getWorkflowRun({ ...this.ref, run_id: runId }));
    return {
      repository: data.repository.full_name,
      headRepository: data.head_repository?.full_name ?? null,
      pullRequests: (data.pull_requests ?? []).map((pull) => pull.number),
    };
  }

  async listWorkflowRuns(workflowFile: string, filter: { branch: string; event: string; headSha?: string }): Promise<ListedWorkflowRun[]> {
    const { data } = await this.call('listWorkflowRuns', () =>
      this.octokit.rest.actions.listWorkflowRuns({
        ...this.ref,
        workflow_id: workflowFile,
        branch: filter.branch,
        event: filter.event,
        ...(filter.headSha === undefined ? {} : { head_sha: filter.headSha }),
        per_page: 100,
      }),
    );
    return data.workflow_runs.map((run) => ({
      id: run.id,
      path: run.path,
      event: run.event,
      status: run.status ?? null,
      conclusion: run.conclusion ?? null,
      headBranch: run.head_branch ?? null,
      headSha: run.head_sha,
      displayTitle: run.display_title,
      htmlUrl: run.html_url,
      repository: run.repository.full_name,
      headRepository: run.head_repository?.full_name ?? null,
      pullRequests: (run.pull_requests ?? []).map((pull) => pull.number),
    }));
  }

  async branchesWithPrefix(prefix: string): Promise<string[]> {
    const { data } = await this.call('branchesWithPrefix', () => this.octokit.rest.git.listMatchingRefs({ ...this.ref, ref: `heads/${prefix}` }));
    return data.map((ref) => ref.ref.replace(/^refs\/heads\//, '')).filter((branch) => branch.startsWith(prefix));
  }

  async listOpenPullRequests(): Promise<PullRequestInfo[]> {
    const { data } = await this.call('listOpenPullRequests', () =>
      this.octokit.rest.pulls.list({ ...this.ref, state: 'open', sort: 'created', direction: 'desc', per_page: 100 }),
    );
    return data.map(toPullRequestInfo);
  }

  async downloadArtifact(artifactId: number): Promise<Buffer> {
    const operation = 'downloadArtifact';
    // GitHub answers 302 to a short-lived blob-storage URL; fetch follows it (and drops the token on the way).
    const { data } = await this.call(operation, () =>
      this.octokit.rest.actions.downloadArtifact({ ...this.ref, artifact_id: artifactId, archive_format: 'zip' }),
    );
    if (Object.prototype.toString.call(data) !== '[object ArrayBuffer]') {
      throw this.unusable(operation, `artifact ${artifactId} did not download as a zip archive`);
    }
    return Buffer.from(data as ArrayBuffer);
  }

  async branchRules(branch: string): Promise<BranchRule[] | Unknown> {
    const rules = await this.call(
      'branchRules',
      () => this.octokit.paginate(this.octokit.rest.repos.getBranchRules, { ...this.ref, branch, per_page: 100 }),
      { when: forbiddenOrMissing, value: UNKNOWN },
    );
    return rules === UNKNOWN ? UNKNOWN : (rules as unknown[]).map(toBranchRule);
  }

  async rulesets(): Promise<RulesetInfo[] | Unknown> {
    const operation = 'rulesets';
    const found = await this.call(
      operation,
      () => this.octokit.paginate(this.octokit.rest.repos.getRepoRulesets, { ...this.ref, includes_parents: true, per_page: 100 }),
      { when: forbiddenOrMissing, value: UNKNOWN },
    );
    if (found === UNKNOWN) return UNKNOWN;
    const rulesets = (found as unknown[]).map(toRuleset);
    // The list may leave out `current_user_can_bypass`; one ruleset's own endpoint has it.
    return Promise.all(
      rulesets.map(async (ruleset) => {
        if (ruleset.currentUserCanBypass !== null || ruleset.enforcement !== 'active') return ruleset;
        const detail = await this.call(
          operation,
          async () => (await this.octokit.rest.repos.getRepoRuleset({ ...this.ref, ruleset_id: ruleset.id, includes_parents: true })).data as unknown,
          { when: forbiddenOrMissing, value: null },
        );
        return detail === null ? ruleset : toRuleset(detail);
      }),
    );
  }

  async branchProtection(branch: string): Promise<BranchProtectionInfo | null | Unknown> {
    try {
      const { data } = await this.call('branchProtection', () => this.octokit.rest.repos.getBranchProtection({ ...this.ref, branch }));
      return toBranchProtection(data);
    } catch (error) {
      // 404: "Branch not protected"; 403: the installation may not read administration settings.
      if (error instanceof GitHubError && error.status === 404) return null;
      if (error instanceof GitHubError && error.status === 403) return UNKNOWN;
      throw error;
    }
  }

  workflowFile(ref: string): Promise<string | null> {
    return this.readFile(WORKFLOW_PATH, ref);
  }

  // Writes.

  async reactToComment(commentId: number, content: '+1' | 'eyes' | 'rocket' | 'confused'): Promise<void> {
    await this.write('reactToComment', () =>
      this.octokit.rest.reactions.createForIssueComment({ ...this.ref, comment_id: commentId, content }),
    );
  }

  async createRunBranch(branch: string, baseSha: string, message: string): Promise<string> {
    const operation = 'createRunBranch';
    const base = await this.write(operation, async () => (await this.octokit.rest.git.getCommit({ ...this.ref, commit_sha: baseSha })).data);
    // The base's tree, the base as parent: a commit of its own for the run pull request, changing nothing.
    const { data: commit } = await this.write(operation, () =>
      this.octokit.rest.git.createCommit({ ...this.ref, message, tree: base.tree.sha, parents: [baseSha] }),
    );
    const created = await this.write(
      operation,
      async () => (await this.octokit.rest.git.createRef({ ...this.ref, ref: `refs/heads/${branch}`, sha: commit.sha })).data.object.sha,
      // A retried event finds its branch already there.
      { when: (error) => error.status === 422 && /reference already exists/i.test(error.githubMessage), value: null },
    );
    if (created !== null) return created;
    const head = await this.branchSha(branch);
    if (head === null) throw this.unusable(operation, `${branch} exists and does not: GitHub contradicted itself; try again`);
    // Still at the base (created without a commit of its own): move it onto the new commit, so a pull request can be opened.
    if (head !== baseSha) return head;
    const moved = await this.fastForward(branch, commit.sha);
    return moved === 'not-fast-forward' ? ((await this.branchSha(branch)) ?? head) : commit.sha;
  }

  async deleteBranch(branch: string): Promise<boolean> {
    return this.write(
      'deleteBranch',
      async () => {
        await this.octokit.rest.git.deleteRef({ ...this.ref, ref: `heads/${branch}` });
        return true;
      },
      // GitHub answers 422 "Reference does not exist" for a missing ref (observed; the docs list 422 and 409).
      { when: (error) => error.status === 404 || (error.status === 422 && /does not exist/i.test(error.githubMessage)), value: false },
    );
  }

  async createPullRequest(options: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestInfo> {
    const { data } = await this.write('createPullRequest', () => this.octokit.rest.pulls.create({ ...this.ref, ...options }));
    return toPullRequestInfo(data);
  }

  async updatePullRequest(number: number, fields: { title?: string; body?: string }): Promise<void> {
    await this.write('updatePullRequest', () =>
      this.octokit.rest.pulls.update({
        ...this.ref,
        pull_number: number,
        ...(fields.title === undefined ? {} : { title: fields.title }),
        ...(fields.body === undefined ? {} : { body: fields.body }),
      }),
    );
  }

  async markReadyForReview(number: number): Promise<void> {
    const operation = 'markReadyForReview';
    const { data } = await this.write(operation, () => this.octokit.rest.pulls.get({ ...this.ref, pull_number: number }));
    if (!data.draft) return; // Already ready: nothing to do, and the mutation would fail.
    // REST has no endpoint for this; the GraphQL mutation wants the pull request's node id.
    await this.write(operation, () =>
      this.octokit.graphql(
        `mutation ($pullRequestId: ID!) {
          markPullRequestReadyForReview(input: { pullRequestId: $pullRequestId }) { pullRequest { isDraft } }
        }`,
        { pullRequestId: data.node_id },
      ),
    );
  }

  async requestReviewers(number: number, reviewers: string[]): Promise<void> {
    // `org/team` (or `@org/team`) names a team, requested by its slug; anything else is a user.
    const names = reviewers.map((reviewer) => reviewer.replace(/^@/, ''));
    const teams = names.filter((name) => name.includes('/')).map((name) => name.slice(name.indexOf('/') + 1));
    const users = names.filter((name) => !name.includes('/'));
    if (teams.length === 0 && users.length === 0) return;
    await this.write('requestReviewers', () =>
      this.octokit.rest.pulls.requestReviewers({ ...this.ref, pull_number: number, reviewers: users, team_reviewers: teams }),
    );
  }

  async addLabels(issueNumber: number, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    await this.write('addLabels', () => this.octokit.rest.issues.addLabels({ ...this.ref, issue_number: issueNumber, labels }));
  }

  async updateIssue(issueNumber: number, fields: { state?: 'open' | 'closed'; labels?: string[] }): Promise<IssueUpdated> {
    // Every pull request is an issue, and the issues endpoint sets state and labels together, replacing the labels
    // (https://docs.github.com/en/rest/issues/issues#update-an-issue: "Pass one or more labels to replace the set of
    // labels on this issue"); its answer is the issue, with the number of its comments.
    const { data } = await this.write('updateIssue', () =>
      this.octokit.rest.issues.update({
        ...this.ref,
        issue_number: issueNumber,
        ...(fields.state === undefined ? {} : { state: fields.state }),
        ...(fields.labels === undefined ? {} : { labels: fields.labels }),
      }),
    );
    return { comments: data.comments };
  }

  async fastForward(branch: string, sha: string): Promise<FastForward> {
    const moved = await this.write(
      'fastForward',
      async () => {
        await this.octokit.rest.git.updateRef({ ...this.ref, ref: `heads/${branch}`, sha, force: false });
        return true;
      },
      // 422 "Update is not a fast forward": the branch moved past what `sha` contains.
      { when: (error) => error.status === 422 && /not a fast.?forward/i.test(error.githubMessage), value: false },
    );
    if (moved) return 'moved';
    // Refused, but perhaps because it is there already (a redelivery after a success): that counts as done.
    return (await this.branchSha(branch)) === sha ? 'already' : 'not-fast-forward';
  }

  async upsertComment(issueNumber: number, marker: string, body: string): Promise<number> {
    const botLogin = `${this.options.appSlug ?? ''}[bot]`;
    const comments = await this.write('upsertComment', () =>
      this.octokit.paginate(this.octokit.rest.issues.listComments, { ...this.ref, issue_number: issueNumber, per_page: 100 }),
    );
    // Only the App's own comment: a human quoting the marker must not have their comment overwritten.
    const existing = comments.find(
      (comment) =>
        comment.body?.includes(marker) === true &&
        comment.user?.type === 'Bot' &&
        comment.user.login === botLogin,
    );
    if (existing === undefined) return this.createComment(issueNumber, body);
    await this.write('upsertComment', () => this.octokit.rest.issues.updateComment({ ...this.ref, comment_id: existing.id, body }));
    return existing.id;
  }

  async createComment(issueNumber: number, body: string): Promise<number> {
    const { data } = await this.write('createComment', () =>
      this.octokit.rest.issues.createComment({ ...this.ref, issue_number: issueNumber, body }),
    );
    return data.id;
  }

  async updateComment(commentId: number, body: string): Promise<boolean> {
    const response = await this.write('updateComment', () => this.octokit.rest.issues.updateComment({ ...this.ref, comment_id: commentId, body }), { when: notFound, value: null });
    return response !== null;
  }

  async setCheckRun(options: CheckRunOptions): Promise<CheckRunWritten> {
    const operation = 'setCheckRun';
    const key = `${options.name}\u0000${options.sha}`;
    const fields = {
      ...this.ref,
      status: options.status,
      ...(options.conclusion === undefined ? {} : { conclusion: options.conclusion }),
      output: {
        title: options.output.title,
        summary: options.output.summary,
        ...(options.output.text === undefined ? {} : { text: options.output.text }),
      },
      ...(options.detailsUrl === undefined ? {} : { details_url: options.detailsUrl }),
    };
    // Its id is known (set once already in this event, or by the caller): updated directly, with no lookup.
    const known = this.checkRunsSet.get(key) ?? (typeof options.known === 'number' ? options.known : undefined);
    if (known !== undefined) {
      const updated = await this.write(operation, () => this.octokit.rest.checks.update({ ...fields, check_run_id: known }), { when: notFound, value: null });
      if (updated !== null) {
        this.checkRunsSet.set(key, known);
        return { written: 'updated', id: known };
      }
      // GitHub does not know that id (any more): look the check run up after all.
    }
    const existing = known === undefined && options.known === 'none' ? undefined : await this.findCheckRun(options.name, options.sha);
    if (existing === undefined) {
      const { data } = await this.write(operation, () => this.octokit.rest.checks.create({ ...fields, name: options.name, head_sha: options.sha }));
      this.checkRunsSet.set(key, data.id);
      return { written: 'created', id: data.id };
    }
    await this.write(operation, () => this.octokit.rest.checks.update({ ...fields, check_run_id: existing }));
    this.checkRunsSet.set(key, existing);
    return { written: 'updated', id: existing };
  }

  /** The newest check run of the App's named `name` on `sha`, or undefined when it has none there. */
  private async findCheckRun(name: string, sha: string): Promise<number | undefined> {
    // `all`, not `latest`: every run of the name on the commit, so that a newer one of another app cannot hide ours.
    const { data } = await this.write('setCheckRun', () =>
      this.octokit.rest.checks.listForRef({ ...this.ref, ref: sha, check_name: name, filter: 'all', per_page: 100 }),
    );
    // Another app's run of the same name cannot be updated by this one (and is not ours to touch); of ours, the newest.
    const ours = data.check_runs.filter((run) => run.app?.slug === this.options.appSlug).map((run) => run.id);
    return ours.length === 0 ? undefined : Math.max(...ours);
  }

  async dispatchWorkflow(workflowFile: string, ref: string, inputs: Record<string, string>): Promise<void> {
    await this.write('dispatchWorkflow', () =>
      this.octokit.rest.actions.createWorkflowDispatch({ ...this.ref, workflow_id: workflowFile, ref, inputs }),
    );
  }

  // Helpers.

  /** Files that differ between two commits' trees (no rename detection), for comparisons too large for the compare API. */
  private async diffTrees(base: string, head: string): Promise<ChangedFile[]> {
    const [before, after] = await Promise.all([this.tree(base), this.tree(head)]);
    const changed: ChangedFile[] = [];
    for (const [path, blob] of after) {
      const previous = before.get(path);
      if (previous === undefined) changed.push({ path, status: 'added' });
      else if (previous !== blob) changed.push({ path, status: 'modified' });
    }
    for (const path of before.keys()) if (!after.has(path)) changed.push({ path, status: 'removed' });
    return changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** A read whose 404 means "not there". */
  private orNull<T>(operation: string, request: () => Promise<T>): Promise<T | null> {
    return this.call(operation, request, { when: notFound, value: null });
  }

  /**
   * A write: only by an App that knows who it is. Without its slug it cannot tell its own comments and check runs
   * from another bot's, so it writes nothing ({@link UnknownAppIdentityError}) rather than touch someone else's.
   */
  private write<T, R = never>(operation: string, request: () => Promise<T>, recover?: Recovery<R>): Promise<T | R> {
    if (this.options.appSlug === undefined) return Promise.reject(new UnknownAppIdentityError(this.repository, operation));
    return this.call(operation, request, recover);
  }

  /** One API call of this repository, its Octokit error wrapped once (see {@link callGitHub}). */
  private call<T, R = never>(operation: string, request: () => Promise<T>, recover?: Recovery<R>): Promise<T | R> {
    return callGitHub(operation, this.repository, request, recover);
  }

  private unusable(operation: string, message: string): GitHubError {
    return new GitHubError(operation, this.repository, null, message);
  }
}
