import type {
  BranchProtectionInfo,
  BranchRule,
  ChangedFile,
  CheckRunOptions,
  CheckRunWritten,
  FastForward,
  GatewayAction,
  IssueUpdated,
  ListedWorkflowRun,
  Permission,
  PullRequestInfo,
  RepoGateway,
  RepoRef,
  RulesetInfo,
  Unknown,
  WorkflowRunArtifact,
  WorkflowRunOrigin,
} from './github.js';

/** Marks placeholders that stand for what GitHub would have answered. */
const DRY_RUN = '(dry run)';

const short = (sha: string): string => `\`${sha.slice(0, 7)}\``;

/**
 * `RepoGateway` for `/optimize --dry-run`: reads go to the real gateway, so the plan is made from the real
 * repository; writes are recorded instead of performed and answer with placeholders (safe-settings' nop mode).
 */
export class DryRunGateway implements RepoGateway {
  private readonly recorded: { action: GatewayAction; line: string }[] = [];

  constructor(private readonly inner: RepoGateway) {}

  get ref(): RepoRef {
    return this.inner.ref;
  }

  /** The writes that would have been made, in order. */
  actions(): GatewayAction[] {
    return this.recorded.map(({ action }) => ({ operation: action.operation, details: { ...action.details } }));
  }

  /** A Markdown list of what would be done, one line per write. */
  describe(): string {
    if (this.recorded.length === 0) return '- nothing would be changed';
    return this.recorded.map(({ line }) => `- ${line}`).join('\n');
  }

  // Reads: delegated.

  permission(user: string): Promise<Permission> {
    return this.inner.permission(user);
  }

  defaultBranch(): Promise<{ name: string; sha: string }> {
    return this.inner.defaultBranch();
  }

  readFile(path: string, ref: string): Promise<string | null> {
    return this.inner.readFile(path, ref);
  }

  branchSha(branch: string): Promise<string | null> {
    return this.inner.branchSha(branch);
  }

  commit(ref: string): Promise<{ sha: string; message: string } | null> {
    return this.inner.commit(ref);
  }

  findPullRequest(headBranch: string): Promise<PullRequestInfo | null> {
    return this.inner.findPullRequest(headBranch);
  }

  getPullRequest(number: number): Promise<PullRequestInfo> {
    return this.inner.getPullRequest(number);
  }

  compare(base: string, head: string): Promise<ChangedFile[]> {
    return this.inner.compare(base, head);
  }

  tree(sha: string): Promise<Map<string, string>> {
    return this.inner.tree(sha);
  }

  listArtifacts(runId: number): Promise<WorkflowRunArtifact[]> {
    return this.inner.listArtifacts(runId);
  }

  workflowRun(runId: number): Promise<WorkflowRunOrigin> {
    return this.inner.workflowRun(runId);
  }

  downloadArtifact(artifactId: number): Promise<Buffer> {
    return this.inner.downloadArtifact(artifactId);
  }

  listWorkflowRuns(workflowFile: string, filter: { branch: string; event: string; headSha?: string }): Promise<ListedWorkflowRun[]> {
    return this.inner.listWorkflowRuns(workflowFile, filter);
  }

  branchesWithPrefix(prefix: string): Promise<string[]> {
    return this.inner.branchesWithPrefix(prefix);
  }

  listOpenPullRequests(): Promise<PullRequestInfo[]> {
    return this.inner.listOpenPullRequests();
  }

  branchRules(branch: string): Promise<BranchRule[] | Unknown> {
    return this.inner.branchRules(branch);
  }

  rulesets(): Promise<RulesetInfo[] | Unknown> {
    return this.inner.rulesets();
  }

  branchProtection(branch: string): Promise<BranchProtectionInfo | null | Unknown> {
    return this.inner.branchProtection(branch);
  }

  workflowFile(ref: string): Promise<string | null> {
    return this.inner.workflowFile(ref);
  }

  // Writes: recorded.

  async reactToComment(commentId: number, content: '+1' | 'eyes' | 'rocket' | 'confused'): Promise<void> {
    this.record('reactToComment', { commentId, content }, `react with \`${content}\` to comment ${commentId}`);
  }

  async createRunBranch(branch: string, baseSha: string, message: string): Promise<string> {
    this.record('createRunBranch', { branch, baseSha, message }, `create branch \`${branch}\` one empty commit ahead of ${short(baseSha)} ("${message}")`);
    return baseSha;
  }

  async deleteBranch(branch: string): Promise<boolean> {
    this.record('deleteBranch', { branch }, `delete branch \`${branch}\``);
    return true;
  }

  async createPullRequest(options: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestInfo> {
    this.record(
      'createPullRequest',
      { ...options },
      `open ${options.draft ? 'draft ' : ''}pull request \`${options.head}\` → \`${options.base}\`: "${options.title}"`,
    );
    return {
      number: 0,
      url: DRY_RUN,
      state: 'open',
      merged: false,
      draft: options.draft,
      head: { ref: options.head, sha: '' },
      base: { ref: options.base, sha: '' },
      body: options.body,
      labels: [],
    };
  }

  async updatePullRequest(number: number, fields: { title?: string; body?: string }): Promise<void> {
    const changed = Object.keys(fields).filter((key) => fields[key as keyof typeof fields] !== undefined);
    this.record('updatePullRequest', { number, ...fields }, `update pull request #${number} (${changed.join(', ') || 'no fields'})`);
  }

  async markReadyForReview(number: number): Promise<void> {
    this.record('markReadyForReview', { number }, `mark pull request #${number} ready for review`);
  }

  async requestReviewers(number: number, reviewers: string[]): Promise<void> {
    const names = reviewers.map((reviewer) => `@${reviewer.replace(/^@/, '')}`).join(', ');
    this.record('requestReviewers', { number, reviewers: [...reviewers] }, `request reviews on #${number} from ${names}`);
  }

  async addLabels(issueNumber: number, labels: string[]): Promise<void> {
    const names = labels.map((label) => `\`${label}\``).join(', ');
    this.record('addLabels', { issueNumber, labels: [...labels] }, `label #${issueNumber} ${names}`);
  }

  async updateIssue(issueNumber: number, fields: { state?: 'open' | 'closed'; labels?: string[] }): Promise<IssueUpdated> {
    const labels = fields.labels === undefined ? null : fields.labels.map((label) => `\`${label}\``).join(', ') || 'none';
    const state = fields.state === undefined ? null : `${fields.state === 'closed' ? 'close' : 'reopen'} #${issueNumber}`;
    const line = state === null ? `set the labels of #${issueNumber} to ${labels ?? 'what they are'}` : labels === null ? state : `${state}, its labels set to ${labels}`;
    this.record('updateIssue', { issueNumber, ...fields, ...(fields.labels === undefined ? {} : { labels: [...fields.labels] }) }, line);
    // Nothing was read: the cautious answer (someone may have commented), so that a caller looks before it writes.
    return { comments: 1 };
  }

  async fastForward(branch: string, sha: string): Promise<FastForward> {
    this.record('fastForward', { branch, sha }, `fast-forward \`${branch}\` to ${short(sha)}`);
    return 'moved';
  }

  async upsertComment(issueNumber: number, marker: string, body: string): Promise<number> {
    this.record('upsertComment', { issueNumber, marker, body }, `create or update the \`${marker}\` comment on #${issueNumber}`);
    return 0;
  }

  async createComment(issueNumber: number, body: string): Promise<number> {
    this.record('createComment', { issueNumber, body }, `comment on #${issueNumber}`);
    return 0;
  }

  async updateComment(commentId: number, body: string): Promise<boolean> {
    this.record('updateComment', { commentId, body }, `update comment ${commentId}`);
    return true;
  }

  async setCheckRun(options: CheckRunOptions): Promise<CheckRunWritten> {
    const state = options.conclusion === undefined ? options.status : `${options.status} (${options.conclusion})`;
    this.record(
      'setCheckRun',
      { ...options, output: { ...options.output } },
      `set check \`${options.name}\` on ${short(options.sha)}: ${state}, "${options.output.title}"`,
    );
    // Nothing was looked up: the cautious answer, so that a caller that creates only after a fresh check run looks first.
    return { written: 'updated', id: 0 };
  }

  async dispatchWorkflow(workflowFile: string, ref: string, inputs: Record<string, string>): Promise<void> {
    const given = Object.entries(inputs).map(([name, value]) => `${name}=${value}`);
    this.record(
      'dispatchWorkflow',
      { workflowFile, ref, inputs: { ...inputs } },
      `dispatch workflow \`${workflowFile}\` on \`${ref}\`${given.length === 0 ? '' : ` with ${given.join(', ')}`}`,
    );
  }

  private record(operation: string, details: Record<string, unknown>, line: string): void {
    this.recorded.push({ action: { operation, details }, line });
  }
}
