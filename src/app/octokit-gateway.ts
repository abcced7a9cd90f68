import type { Octokit } from '@octokit/rest';
import {
  UNKNOWN,
  type BranchProtectionInfo,
  type BranchRule,
  type ChangedFile,
  type CheckRunOptions,
  type Permission,
  type RulesetInfo,
  type Unknown,
} from './github.js';
import type { PullRequestInfo, RepoGateway, RepoRef, WorkflowRunArtifact } from './github.js';
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

/** A GitHub API call failed; the message names the operation, the repository, the status and GitHub's words. */
export class GitHubError extends Error {
  constructor(
    readonly operation: string,
    readonly repository: string,
    /** The HTTP status, or null when GitHub answered but the answer was unusable (GraphQL errors, a truncated tree). */
    readonly status: number | null,
    /** What GitHub said, e.g. "Validation Failed: A pull request already exists for octo:branch." */
    readonly githubMessage: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} (${repository}): ${status === null ? '' : `${status} `}${githubMessage}`, options);
    this.name = 'GitHubError';
  }
}

/** Roles the collaborator-permission API names in `role_name`; a custom role falls back to its base `permission`. */
const PERMISSIONS: readonly Permission[] = ['admin', 'maintain', 'write', 'triage', 'read', 'none'];

/** The compare API lists at most this many files for a whole comparison; at the cap the list may be cut short. */
const COMPARE_FILES_CAP = 300;

/** What to answer instead of throwing when a call fails in an expected way (a 404 read, an idempotent write). */
interface Recovery<R> {
  when: (error: GitHubError) => boolean;
  value: R;
}

const notFound = (error: GitHubError): boolean => error.status === 404;
/** Not allowed (a permission the installation lacks) or not there (a feature the plan lacks): the doctor says "unknown". */
const forbiddenOrMissing = (error: GitHubError): boolean => error.status === 403 || error.status === 404;


const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
const integer = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) ? value : null);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** One rule of the branch-rules endpoint, reduced to what the doctor reads. */
function toBranchRule(value: unknown): BranchRule {
  const rule = record(value);
  const parameters = record(rule.parameters);
  const type = typeof rule.type === 'string' ? rule.type : '';
  const out: BranchRule = { type, rulesetId: integer(rule.ruleset_id) };
  if (type === 'required_status_checks') {
    out.statusChecks = list(parameters.required_status_checks).map((check) => ({
      context: String(record(check).context ?? ''),
      integrationId: integer(record(check).integration_id),
    }));
  }
  if (type === 'pull_request') out.requiredApprovals = integer(parameters.required_approving_review_count) ?? 0;
  return out;
}

function toRuleset(value: unknown): RulesetInfo {
  const ruleset = record(value);
  return {
    id: integer(ruleset.id) ?? 0,
    name: String(ruleset.name ?? ''),
    enforcement: String(ruleset.enforcement ?? ''),
    currentUserCanBypass: typeof ruleset.current_user_can_bypass === 'string' ? ruleset.current_user_can_bypass : null,
  };
}

function toBranchProtection(value: unknown): BranchProtectionInfo {
  const protection = record(value);
  const statusChecks = record(protection.required_status_checks);
  // `checks` names each check's source app; the older `contexts` (any source) is the fallback.
  const checks = Array.isArray(statusChecks.checks)
    ? statusChecks.checks.map((check) => ({ context: String(record(check).context ?? ''), appId: integer(record(check).app_id) }))
    : list(statusChecks.contexts).map((context) => ({ context: String(context), appId: null }));
  const reviews = protection.required_pull_request_reviews === undefined ? null : record(protection.required_pull_request_reviews);
  return {
    checks,
    requiredApprovals: reviews === null ? 0 : (integer(reviews.required_approving_review_count) ?? 1),
    bypassApps: list(record(reviews?.bypass_pull_request_allowances).apps).flatMap((app) => {
      const slug = record(app).slug;
      return typeof slug === 'string' ? [slug] : [];
    }),
  };
}

/** The fields of a pull request both the list and the get endpoints return. */
interface PullLike {
  number: number;
  html_url: string;
  state: string;
  merged_at: string | null;
  draft?: boolean;
  head: { ref: string; sha: string };
  base: { ref: string; sha: string };
  body: string | null;
  labels: { name?: string }[];
}

function toPullRequestInfo(pull: PullLike): PullRequestInfo {
  return {
    number: pull.number,
    url: pull.html_url,
    state: pull.state === 'closed' ? 'closed' : 'open',
    // `merged` is only on the single-PR endpoint; `merged_at` is on both.
    merged: pull.merged_at !== null,
    draft: pull.draft ?? false,
    head: { ref: pull.head.ref, sha: pull.head.sha },
    base: { ref: pull.base.ref, sha: pull.base.sha },
    body: pull.body ?? '',
    labels: pull.labels.flatMap((label) => (label.name === undefined ? [] : [label.name])),
  };
}

/** Octokit's `RequestError` (name `HttpError`) without importing its package: only its shape matters. */
function asHttpError(error: unknown): { status: number; data: unknown } | null {
  if (!(error instanceof Error) || error.name !== 'HttpError') return null;
  const { status, response } = error as Error & { status?: unknown; response?: { data?: unknown } };
  return typeof status === 'number' ? { status, data: response?.data } : null;
}

/** GitHub's own words from an error body: its `message` and each validation error, without the docs link. */
function githubMessage(data: unknown, fallback: string): string {
  if (typeof data !== 'object' || data === null || !('message' in data) || typeof data.message !== 'string') return fallback;
  const details = 'errors' in data && Array.isArray(data.errors) ? data.errors.map(describeValidationError) : [];
  return details.length === 0 ? data.message : `${data.message}: ${details.join('; ')}`;
}

function describeValidationError(error: unknown): string {
  if (typeof error === 'string') return error;
  if (typeof error !== 'object' || error === null) return JSON.stringify(error);
  const fields = error as { message?: unknown; resource?: unknown; field?: unknown; code?: unknown };
  if (typeof fields.message === 'string') return fields.message;
  return [fields.resource, fields.field, fields.code].filter((part) => typeof part === 'string').join(' ') || JSON.stringify(error);
}

/** `RepoGateway` over the GitHub REST API (GraphQL only where REST has no endpoint). */
export class OctokitGateway implements RepoGateway {
  private readonly repository: string;
  private readonly serverUrl: string;

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
    const response = await this.orNull('commit', () => this.octokit.rest.repos.getCommit({ ...this.ref, ref, per_page: 1 }));
    return response === null ? null : { sha: response.data.sha, message: response.data.commit.message };
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
    const { data } = await this.call('compare', () =>
      this.octokit.rest.repos.compareCommitsWithBasehead({ ...this.ref, basehead: `${base}...${head}` }),
    );
    const files = data.files ?? [];
    // At the cap the list may be incomplete, and a scope check on a partial list would pass what it should
    // not: diff the two trees instead (renames then show as a removal and an addition, both checked).
    if (files.length >= COMPARE_FILES_CAP) return this.diffTrees(data.merge_base_commit.sha, head);
    return files.map((file) => ({
      path: file.filename,
      status: file.status,
      ...(file.previous_filename === undefined ? {} : { previousPath: file.previous_filename }),
    }));
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
      .map((artifact) => ({
        id: artifact.id,
        name: artifact.name,
        url: `${this.serverUrl}/${this.repository}/actions/runs/${runId}/artifacts/${artifact.id}`,
      }));
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
    await this.call('reactToComment', () =>
      this.octokit.rest.reactions.createForIssueComment({ ...this.ref, comment_id: commentId, content }),
    );
  }

  async createBranch(branch: string, sha: string): Promise<void> {
    await this.call('createBranch', () => this.octokit.rest.git.createRef({ ...this.ref, ref: `refs/heads/${branch}`, sha }), {
      // A retried event finds its branch already there: leave it as it is.
      when: (error) => error.status === 422 && /reference already exists/i.test(error.githubMessage),
      value: undefined,
    });
  }

  async createPullRequest(options: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestInfo> {
    const { data } = await this.call('createPullRequest', () => this.octokit.rest.pulls.create({ ...this.ref, ...options }));
    return toPullRequestInfo(data);
  }

  async updatePullRequest(number: number, fields: { title?: string; body?: string }): Promise<void> {
    await this.call('updatePullRequest', () =>
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
    const { data } = await this.call(operation, () => this.octokit.rest.pulls.get({ ...this.ref, pull_number: number }));
    if (!data.draft) return; // Already ready: nothing to do, and the mutation would fail.
    // REST has no endpoint for this; the GraphQL mutation wants the pull request's node id.
    await this.call(operation, () =>
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
    await this.call('requestReviewers', () =>
      this.octokit.rest.pulls.requestReviewers({ ...this.ref, pull_number: number, reviewers: users, team_reviewers: teams }),
    );
  }

  async addLabels(issueNumber: number, labels: string[]): Promise<void> {
    if (labels.length === 0) return;
    await this.call('addLabels', () => this.octokit.rest.issues.addLabels({ ...this.ref, issue_number: issueNumber, labels }));
  }

  async closePullRequest(number: number): Promise<void> {
    await this.call('closePullRequest', () => this.octokit.rest.pulls.update({ ...this.ref, pull_number: number, state: 'closed' }));
  }

  async mergePullRequest(number: number, sha: string, message: string): Promise<{ merged: boolean; sha: string | null }> {
    const [title = '', ...rest] = message.split('\n');
    const body = rest.join('\n').trim();
    const data = await this.call(
      'mergePullRequest',
      async () =>
        (
          await this.octokit.rest.pulls.merge({
            ...this.ref,
            pull_number: number,
            sha,
            // A merge commit keeps the candidate commit the evaluation measured.
            merge_method: 'merge',
            // No title: let GitHub write its default rather than an empty one.
            ...(title.trim() === '' ? {} : { commit_title: title.trim() }),
            ...(body === '' ? {} : { commit_message: body }),
          })
        ).data,
      // 405: not mergeable (conflict, already merged); 409: the head moved since it was evaluated.
      { when: (error) => error.status === 405 || error.status === 409, value: null },
    );
    return data === null ? { merged: false, sha: null } : { merged: data.merged, sha: data.merged ? data.sha : null };
  }

  async upsertComment(issueNumber: number, marker: string, body: string): Promise<number> {
    const botLogin = this.options.appSlug === undefined ? undefined : `${this.options.appSlug}[bot]`;
    const comments = await this.call('upsertComment', () =>
      this.octokit.paginate(this.octokit.rest.issues.listComments, { ...this.ref, issue_number: issueNumber, per_page: 100 }),
    );
    // Only the App's own comment: a human quoting the marker must not have their comment overwritten.
    const existing = comments.find(
      (comment) =>
        comment.body?.includes(marker) === true &&
        comment.user?.type === 'Bot' &&
        (botLogin === undefined || comment.user.login === botLogin),
    );
    if (existing === undefined) return this.createComment(issueNumber, body);
    await this.call('upsertComment', () => this.octokit.rest.issues.updateComment({ ...this.ref, comment_id: existing.id, body }));
    return existing.id;
  }

  async createComment(issueNumber: number, body: string): Promise<number> {
    const { data } = await this.call('createComment', () =>
      this.octokit.rest.issues.createComment({ ...this.ref, issue_number: issueNumber, body }),
    );
    return data.id;
  }

  async updateComment(commentId: number, body: string): Promise<boolean> {
    const response = await this.orNull('updateComment', () => this.octokit.rest.issues.updateComment({ ...this.ref, comment_id: commentId, body }));
    return response !== null;
  }

  async setCheckRun(options: CheckRunOptions): Promise<void> {
    const operation = 'setCheckRun';
    const { appSlug } = this.options;
    const { data } = await this.call(operation, () =>
      this.octokit.rest.checks.listForRef({ ...this.ref, ref: options.sha, check_name: options.name, filter: 'latest', per_page: 100 }),
    );
    // Another app's run of the same name cannot be updated by this one (and is not ours to touch).
    const existing = data.check_runs.find((run) => appSlug === undefined || run.app?.slug === appSlug);
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
    if (existing === undefined) {
      await this.call(operation, () => this.octokit.rest.checks.create({ ...fields, name: options.name, head_sha: options.sha }));
    } else {
      await this.call(operation, () => this.octokit.rest.checks.update({ ...fields, check_run_id: existing.id }));
    }
  }

  async dispatchWorkflow(workflowFile: string, ref: string, inputs: Record<string, string>): Promise<void> {
    await this.call('dispatchWorkflow', () =>
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
   * Runs one API call, wrapping an Octokit error once, here at the edge, in a `GitHubError` that names the
   * operation and the repository; `recover` turns an expected failure into a value instead.
   */
  private async call<T, R = never>(operation: string, request: () => Promise<T>, recover?: Recovery<R>): Promise<T | R> {
    try {
      return await request();
    } catch (error) {
      const wrapped = this.wrap(operation, error);
      if (recover !== undefined && wrapped instanceof GitHubError && recover.when(wrapped)) return recover.value;
      throw wrapped;
    }
  }

  private wrap(operation: string, error: unknown): unknown {
    if (error instanceof GitHubError) return error;
    const http = asHttpError(error);
    if (http !== null) {
      return new GitHubError(operation, this.repository, http.status, githubMessage(http.data, (error as Error).message), { cause: error });
    }
    if (error instanceof Error && error.name === 'GraphqlResponseError') {
      // GraphQL reports errors in a 200 response: no status, only the errors' messages.
      const { errors } = error as Error & { errors?: { message?: unknown }[] };
      const messages = (errors ?? []).flatMap((entry) => (typeof entry.message === 'string' ? [entry.message] : []));
      return new GitHubError(operation, this.repository, null, messages.join('; ') || error.message, { cause: error });
    }
    return error;
  }

  private unusable(operation: string, message: string): GitHubError {
    return new GitHubError(operation, this.repository, null, message);
  }
}
