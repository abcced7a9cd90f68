/**
 * The GitHub operations the App's run logic needs, behind one small interface: an Octokit
 * implementation for real, and a dry-run one that records what would be done (`/optimize --dry-run`).
 */

/** A repository the App acts on. */
export interface RepoRef {
  owner: string;
  repo: string;
}

export type Permission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

export interface PullRequestInfo {
  number: number;
  url: string;
  state: 'open' | 'closed';
  merged: boolean;
  draft: boolean;
  head: { ref: string; sha: string };
  base: { ref: string; sha: string };
  body: string;
  labels: string[];
}

export interface ChangedFile {
  path: string;
  status: 'added' | 'modified' | 'removed' | 'renamed' | 'copied' | 'changed' | 'unchanged';
  previousPath?: string;
}

export interface CheckRunOutput {
  title: string;
  summary: string;
  text?: string;
}

export interface WorkflowRunArtifact {
  id: number;
  name: string;
  url: string;
}

/** A run of the App's workflow, as `GET .../actions/workflows/{workflow}/runs` lists it: what the sweep needs to act on it as on its webhook. */
export interface ListedWorkflowRun {
  id: number;
  path: string;
  event: string;
  /** `queued`, `in_progress`, `completed`, … */
  status: string | null;
  conclusion: string | null;
  headBranch: string | null;
  headSha: string;
  displayTitle: string;
  htmlUrl: string;
  repository: string;
  headRepository: string | null;
  pullRequests: number[];
}

/** Where a workflow run ran and for what, as `GET /repos/{owner}/{repo}/actions/runs/{run_id}` (and its webhook) say. */
export interface WorkflowRunOrigin {
  /** The repository it ran in, `owner/name`. */
  repository: string;
  /** The repository of its head commit: a fork's for a fork's pull request; null when GitHub names none (a deleted fork). */
  headRepository: string | null;
  /** The pull requests it ran for: GitHub lists this repository's only, none for a fork's. */
  pullRequests: number[];
}

/**
 * What {@link RepoGateway.setCheckRun} did: `created` a check run, the App having none of that name on the commit
 * (so nothing of it was there before), or `updated` the App's own; and the check run's id.
 */
export interface CheckRunWritten {
  written: 'created' | 'updated';
  id: number;
}

/** A check run to create or update. */
export interface CheckRunOptions {
  name: string;
  sha: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure' | 'neutral' | 'cancelled' | 'action_required';
  output: CheckRunOutput;
  detailsUrl?: string;
  /**
   * What the caller knows of the App's check run of this name on `sha`, so that it is not looked up: its id (from the
   * answer that created it; updated directly, and looked up after all if GitHub no longer knows it), or `none` when
   * the caller knows that none can exist (no earlier attempt of its step got as far as writing one), so it is created.
   * Unset: looked up.
   */
  known?: number | 'none';
}

/** The part of an issue (or pull request: every pull request is an issue) {@link RepoGateway.updateIssue} reads from GitHub's answer. */
export interface IssueUpdated {
  /** How many comments the issue has (`comments` in GitHub's answer): 0 means no comment of anyone's, the App's included. */
  comments: number;
}

/**
 * One effective rule on a branch (`GET /repos/{owner}/{repo}/rules/branches/{branch}`), with the parts `/optimize doctor`
 * reads: the required status checks and the app each must come from, and the required approving reviews.
 */
export interface BranchRule {
  type: string;
  /** The ruleset the rule comes from (its bypass list is the ruleset's), or null when GitHub does not say. */
  rulesetId: number | null;
  /** `required_status_checks`: each check's context and the app it must come from (null: any source). */
  statusChecks?: { context: string; integrationId: number | null }[];
  /** `pull_request`: how many approving reviews a merge needs. */
  requiredApprovals?: number;
  /** `pull_request`: an approval counts only for the latest push (`dismiss_stale_reviews_on_push` or `require_last_push_approval`). */
  freshApproval?: boolean;
}

/** A ruleset of the repository (its own or inherited), as the App sees it. */
export interface RulesetInfo {
  id: number;
  name: string;
  enforcement: string;
  /** Whether the App (the caller) may bypass it: `never`, `always`, `pull_requests_only`, `exempt`; null when GitHub does not say. */
  currentUserCanBypass: string | null;
}

/** A branch's classic protection, the parts the doctor reads. */
export interface BranchProtectionInfo {
  /** Required status checks and the app each must come from (null: any source). */
  checks: { context: string; appId: number | null }[];
  /** Required approving reviews; 0 when reviews are not required. */
  requiredApprovals: number;
  /** An approval counts only for the latest push: `dismiss_stale_reviews` or `require_last_push_approval`. */
  freshApproval: boolean;
  /** Slugs of the apps allowed to bypass the required pull request (reviews). */
  bypassApps: string[];
}

/** A read the App may not be allowed to make (a missing permission, a plan without the feature): 403/404 say so. */
export const UNKNOWN = 'unknown' as const;
export type Unknown = typeof UNKNOWN;

/** How a {@link RepoGateway.fastForward} ended. */
export type FastForward = 'moved' | 'already' | 'not-fast-forward';

/** What one recorded (or performed) write was: the dry-run gateway's log and the tests' assertions. */
export interface GatewayAction {
  operation: string;
  details: Record<string, unknown>;
}

export interface RepoGateway {
  readonly ref: RepoRef;

  // Reads.
  /** The user's permission on the repository; 'none' when not a collaborator. Fails closed: errors throw. */
  permission(user: string): Promise<Permission>;
  defaultBranch(): Promise<{ name: string; sha: string }>;
  /** A file's text at a ref, or null when it does not exist. */
  readFile(path: string, ref: string): Promise<string | null>;
  /** Head SHA of a branch, or null when it does not exist. */
  branchSha(branch: string): Promise<string | null>;
  /** A commit (or a branch's head commit): its SHA and message, or null when there is none. */
  commit(ref: string): Promise<{ sha: string; message: string } | null>;
  /** The open or closed pull request whose head is `branch` (in this repository), or null. */
  findPullRequest(headBranch: string): Promise<PullRequestInfo | null>;
  getPullRequest(number: number): Promise<PullRequestInfo>;
  /** Files changed between two commits (three-dot compare). */
  compare(base: string, head: string): Promise<ChangedFile[]>;
  /** Blob ids of every file in a commit's tree (path -> blob SHA), for the protected-files hash. */
  tree(sha: string): Promise<Map<string, string>>;
  /** Artifacts of a workflow run. */
  listArtifacts(runId: number): Promise<WorkflowRunArtifact[]>;
  /** Where workflow run `runId` ran and for which pull requests (when its webhook did not say). */
  workflowRun(runId: number): Promise<WorkflowRunOrigin>;
  /**
   * The newest runs (at most 100) of workflow `workflowFile` on `branch` triggered by `event`, optionally only those on
   * `headSha`: how the sweep finds a run whose `workflow_run` webhook was lost.
   */
  listWorkflowRuns(workflowFile: string, filter: { branch: string; event: string; headSha?: string }): Promise<ListedWorkflowRun[]>;
  /** Branches whose name starts with `prefix` (`GET .../git/matching-refs/heads/{prefix}`). */
  branchesWithPrefix(prefix: string): Promise<string[]>;
  /** The open pull requests of this repository (at most the newest 100): the sweep looks for its run pull requests among them. */
  listOpenPullRequests(): Promise<PullRequestInfo[]>;
  /** The zip bytes of an artifact. */
  downloadArtifact(artifactId: number): Promise<Buffer>;
  /** The rules in effect on `branch` (from every active ruleset); `unknown` on 403/404. */
  branchRules(branch: string): Promise<BranchRule[] | Unknown>;
  /** The repository's rulesets, inherited ones included, with whether the App may bypass each; `unknown` on 403/404. */
  rulesets(): Promise<RulesetInfo[] | Unknown>;
  /** The branch's classic protection; null when it is not protected, `unknown` when the App may not read it (403). */
  branchProtection(branch: string): Promise<BranchProtectionInfo | null | Unknown>;
  /** The App's workflow (`.github/workflows/autoloop.yml`) at `ref`, or null when it does not exist. */
  workflowFile(ref: string): Promise<string | null>;

  // Writes (each is recorded by the dry-run gateway instead).
  reactToComment(commentId: number, content: '+1' | 'eyes' | 'rocket' | 'confused'): Promise<void>;
  /**
   * Creates `branch` one commit ahead of `baseSha`: an empty commit (the base's tree, the base as its only parent)
   * with `message`, since GitHub opens no pull request whose head has no commit of its own. A branch already there
   * is left as it is (idempotent), unless it is still at `baseSha`, in which case it is moved onto the new commit.
   * Returns the branch head.
   */
  createRunBranch(branch: string, baseSha: string, message: string): Promise<string>;
  /** Deletes branch `branch`; false when there was none. A new run on an issue clears the run branch of the previous, closed one. */
  deleteBranch(branch: string): Promise<boolean>;
  /**
   * Opens a pull request. When GitHub answers that one is already open for `head` (a retried or redelivered
   * request), throws a `PullRequestExistsError` (src/app/github-errors.ts): `findPullRequest(head)` finds it.
   */
  createPullRequest(options: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestInfo>;
  updatePullRequest(number: number, fields: { title?: string; body?: string }): Promise<void>;
  markReadyForReview(number: number): Promise<void>;
  requestReviewers(number: number, reviewers: string[]): Promise<void>;
  addLabels(issueNumber: number, labels: string[]): Promise<void>;
  /**
   * Closes and labels issue (or pull request) `issueNumber` in one request (`PATCH /repos/{owner}/{repo}/issues/{issue_number}`):
   * `labels` REPLACE its labels. Answers with what the issue holds now that the request cannot have changed (its number
   * of comments), which tells the caller whether an earlier attempt of its step can have commented.
   */
  updateIssue(issueNumber: number, fields: { state?: 'open' | 'closed'; labels?: string[] }): Promise<IssueUpdated>;
  /**
   * Fast-forwards `branch` to `sha` (never forced): what lands is exactly that commit, and GitHub marks an open pull
   * request into `branch` whose head is `sha` merged. `moved`: done now; `already`: the branch was at `sha` already
   * (a redelivery after a success); `not-fast-forward`: the branch has moved to something `sha` does not contain.
   */
  fastForward(branch: string, sha: string): Promise<FastForward>;
  /** The comment on `issueNumber` whose body contains `marker`, created or edited in place. Returns its id. */
  upsertComment(issueNumber: number, marker: string, body: string): Promise<number>;
  /** Creates a comment (replies that are not sticky, e.g. a refusal). */
  createComment(issueNumber: number, body: string): Promise<number>;
  /** Edits a comment the App wrote and knows the id of; false when it no longer exists. */
  updateComment(commentId: number, body: string): Promise<boolean>;
  /**
   * Creates or updates the App's check run `name` on `sha` (looked up first, unless this gateway set it already or the
   * caller says what it knows: `options.known`), so that one commit carries one gate of the App's, whatever GitHub makes
   * of several runs of one name on one commit. Updating a completed check run is what GitHub's REST description tells
   * an app to do when its check run is re-requested ("decide if the check run should be reset or updated and call the
   * update `check_run` endpoint": `POST .../check-runs/{check_run_id}/rerequest` in `@octokit/openapi`).
   */
  setCheckRun(options: CheckRunOptions): Promise<CheckRunWritten>;
  /** Starts the workflow `workflowFile` (e.g. `autoloop.yml`) on `ref` with `inputs`. */
  dispatchWorkflow(workflowFile: string, ref: string, inputs: Record<string, string>): Promise<void>;
}
