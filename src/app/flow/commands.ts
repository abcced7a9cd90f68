/** `/optimize` comments: help, status, doctor, stop and start. */
import { newRunState } from '../../core/app/state.js';
import { renderRefusal } from '../../core/render/refusal.js';
import { renderRunStatus, renderStatusComment } from '../../core/render/status-comment.js';
import { runBranch, runBranchesPrefix, runStartCommitMessage, STATUS_MARKER } from '../../core/protocol/protocol.js';
import { COMMAND_HELP, parseCommand, type OptimizeCommand } from '../../core/app/command.js';
import { ConfigError, formatConfigIssue } from '../../core/config/config.js';
import { diagnose, oversightOf, oversightWarnings, relevantRulesetIds, renderOversightWarnings, runBranchBlockers, workflowTriggers, type DoctorInput } from '../../core/app/doctor.js';
import { protectedHashOfTree } from '../../core/result/verify.js';
import { DryRunGateway } from '../dry-run-gateway.js';
import { UNKNOWN, type Permission } from '../github.js';
import { APP_MAX_EXPERIMENTS, advance, findRun, loadConfig, loadConfigAt, peekRunState, readRunState, runConfig, runPullRequestBody, type CommentEvent, type Flow } from './run.js';
import { reconcileRun } from './sweep.js';
import { configSummary } from '../../core/render/config-summary.js';

/** Who may start and stop runs. */
const WRITERS: readonly Permission[] = ['admin', 'maintain', 'write'];

/** Who is asking, as far as a refusal needs to know: refusals are replies, never grants. */
export interface CommentAudience {
  /** The repository is public: anyone can comment, so drive-by commands are expected. */
  publicRepository: boolean;
  /**
   * The payload's `author_association` (`OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `NONE`…). It never grants
   * anything (the permission API decides); it only decides whether a refusal is worth a reply on a public repository.
   */
  association?: string;
  /**
   * Records a refusal to `key` (user and issue) and says whether it is the first: true once, false after. The App
   * answers each user at most once per issue, so a flood of commands costs one reply per person, not one per comment.
   */
  firstRefusal(key: string): boolean;
}

/** Associations of people tied to the repository: on a public repository, only they are told why nothing happened. */
const ASSOCIATED: readonly string[] = ['OWNER', 'MEMBER', 'COLLABORATOR'];

/**
 * Decides, before any queue, whether a comment is a command the App acts on: the commenter's permission (the
 * collaborator-permission API, never the payload). Returns the permission of someone who may write; otherwise
 * refuses (see {@link refuse}) and returns null. Fails closed: when GitHub cannot say, nothing runs. Refusals
 * are written here, outside the repository's queue, so they never delay a run's events.
 */
export async function screenComment(flow: Flow, event: CommentEvent, audience: CommentAudience): Promise<Permission | null> {
  if (!parseCommand(event.body)) return null;
  let permission: Permission;
  try {
    permission = await flow.gateway.permission(event.user);
  } catch (error) {
    flow.log.warn(`permission check for ${event.user} failed: ${(error as Error).message}`);
    await refuse(flow, event, audience, null, 'Sorry, autoloop could not check your permission on this repository, so it did nothing. Try again later.\n');
    return null;
  }
  if (WRITERS.includes(permission)) return permission;
  await refuse(flow, event, audience, permission, renderRefusal('permission', { user: event.user, permission }));
  return null;
}

/**
 * Replies `body` to a command the App will not act on, at most once per user and issue; on a public repository,
 * only to people tied to it (a non-collaborator's drive-by `/optimize` gets no reply, only a log line). `permission`
 * is null when GitHub could not tell it.
 */
async function refuse(flow: Flow, event: CommentEvent, audience: CommentAudience, permission: Permission | null, body: string): Promise<void> {
  const outsider = permission === 'none' || !ASSOCIATED.includes(audience.association ?? 'NONE');
  if (audience.publicRepository && outsider) {
    flow.log.info(`ignored /optimize from ${event.user} on #${event.issue}: not a collaborator of this public repository`);
    return;
  }
  if (!audience.firstRefusal(`${event.issue}\u0000${event.user.toLowerCase()}`)) {
    flow.log.info(`ignored /optimize from ${event.user} on #${event.issue}: refused once already`);
    return;
  }
  await flow.gateway.createComment(event.issue, body);
}

/**
 * A new comment from someone {@link screenComment} let through (with the `permission` it found), handled in
 * the repository's queue; without `permission`, it is checked here as {@link screenComment} would, and a refusal
 * is written every time.
 */
export async function handleComment(flow: Flow, event: CommentEvent, permission?: Permission): Promise<void> {
  const parsed = parseCommand(event.body);
  if (!parsed) return;
  const { gateway } = flow;
  if (permission === undefined) {
    const screened = await screenComment(flow, event, { publicRepository: false, firstRefusal: () => true });
    if (screened === null) return;
  } else if (!WRITERS.includes(permission)) {
    return;
  }
  await gateway.reactToComment(event.commentId, 'eyes');
  if ('error' in parsed) {
    await gateway.createComment(event.issue, `${parsed.error}\n`);
    return;
  }
  const command = parsed.command;
  switch (command.kind) {
    case 'help':
      return help(flow, event);
    case 'status':
      return status(flow, event);
    case 'doctor':
      return doctor(flow, event);
    case 'stop':
      return stop(flow, event);
    case 'start':
      return start(flow, event, command);
  }
}

async function help(flow: Flow, event: CommentEvent): Promise<void> {
  let state: string;
  try {
    const { config, branch } = await loadConfig(flow.gateway);
    state = `The config on \`${branch.name}\` is valid: ${configSummary(config).join('; ')}.`;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    state = renderRefusal('config', { file: error.file, issues: error.issues });
  }
  await flow.gateway.createComment(event.issue, `${COMMAND_HELP}\n\n${state}\n`);
}

async function status(flow: Flow, event: CommentEvent): Promise<void> {
  // A status request also heals the run: what a lost webhook left undone is looked up and done first.
  const latest = await flow.gateway.findPullRequest(runBranch(event.issue));
  if (latest?.state === 'open') await reconcileRun(flow, event.issue);
  const run = latest?.state === 'open' ? await findRun(flow, event.issue) : null;
  // Where the run stands now (the status comment, found by its marker, says only what changes at a step of the run).
  const reply = run
    ? renderRunStatus(run.state, run.pull.url)
    : latest
      ? `The last autoloop run on this issue is over: its pull request #${latest.number} was ${latest.merged ? 'merged' : 'closed'}. Start a new run with \`/optimize\`.\n`
      : 'There is no autoloop run on this issue. Start one with `/optimize`.\n';
  await flow.gateway.createComment(event.issue, reply);
}

/** A read the doctor can live without: an error (other than the 403/404 the gateway already answers `unknown` to) is logged and unknown. */
function orUnknown<T>(flow: Flow, what: string, read: Promise<T>): Promise<T | typeof UNKNOWN> {
  return read.catch((error: unknown) => {
    flow.log.warn(`doctor: reading ${what} failed: ${(error as Error).message}`);
    return UNKNOWN;
  });
}

/**
 * What the doctor finds on the default branch, except the config: the rules and protection (and, only when rules
 * come from rulesets, the rulesets for the App's bypass) and the workflow file. Three requests on an unprotected repository.
 */
async function inspectBranch(flow: Flow, branch: { name: string; sha: string }): Promise<Omit<DoctorInput, 'config'>> {
  const { gateway } = flow;
  const [rules, protection, workflowText] = await Promise.all([
    orUnknown(flow, 'the branch rules', gateway.branchRules(branch.name)),
    orUnknown(flow, 'the branch protection', gateway.branchProtection(branch.name)),
    orUnknown(flow, 'the workflow file', gateway.workflowFile(branch.sha)),
  ]);
  const rulesets = relevantRulesetIds(rules).length > 0 ? await orUnknown(flow, 'the rulesets', gateway.rulesets()) : undefined;
  const app = flow.app ?? { id: null, slug: null };
  const workflow =
    workflowText === UNKNOWN ? { exists: false, dispatch: false, pullRequest: false } : workflowTriggers(workflowText);
  return { ...oversightOf({ rules, protection, app, ...(rulesets === undefined ? {} : { rulesets }) }), workflow, branch: branch.name };
}

/** The rules that would stop the App creating or fast-forwarding the run branch of `issue`, bypass taken into account. */
async function runBranchCheck(flow: Flow, issue: number): Promise<NonNullable<DoctorInput['runBranch']>> {
  const name = runBranch(issue);
  const rules = await orUnknown(flow, 'the run branch rules', flow.gateway.branchRules(name));
  const withRuleset = rules !== UNKNOWN && rules.some((rule) => rule.rulesetId !== null);
  const rulesets = withRuleset ? await orUnknown(flow, 'the rulesets', flow.gateway.rulesets()) : undefined;
  return { name, blockers: runBranchBlockers(rules, rulesets) };
}

async function doctor(flow: Flow, event: CommentEvent): Promise<void> {
  const branch = await flow.gateway.defaultBranch();
  const [found, config, runBranchRules] = await Promise.all([
    inspectBranch(flow, branch),
    loadConfigAt(flow.gateway, branch.sha, branch.name).then(
      () => ({ valid: true, errors: [] }),
      (error: unknown) => {
        if (!(error instanceof ConfigError)) throw error;
        return { valid: false, errors: error.issues.length > 0 ? error.issues.map(formatConfigIssue) : [`${error.file}: invalid`] };
      },
    ),
    runBranchCheck(flow, event.issue),
  ]);
  await flow.gateway.createComment(event.issue, diagnose({ ...found, config, runBranch: runBranchRules }).markdown);
}

async function stop(flow: Flow, event: CommentEvent): Promise<void> {
  const run = await findRun(flow, event.issue);
  if (!run || run.state.status !== 'running') {
    await flow.gateway.createComment(event.issue, run ? 'This run is already stopping or finished.\n' : 'There is no autoloop run on this issue.\n');
    return;
  }
  const { config } = await runConfig(flow.gateway, run.state);
  await advance(flow, run, { ...run.state, status: 'stopping', stopReason: `stopped by @${event.user}` }, config);
}

async function start(flow: Flow, event: CommentEvent, command: Extract<OptimizeCommand, { kind: 'start' }>): Promise<void> {
  const real = flow.gateway;
  let loaded;
  try {
    loaded = await loadConfig(real);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    await real.createComment(event.issue, renderRefusal('config', { file: error.file, issues: error.issues }));
    return;
  }
  const { config, branch } = loaded;
  const existing = await real.findPullRequest(runBranch(event.issue));
  if (existing?.state === 'open') {
    // A state that does not verify is refused on the run pull request (RunPausedError): no second run, no reply here.
    const state = await readRunState(flow, existing);
    // A redelivered webhook, or the same command seen twice: no second effect, not even a reply; but a
    // start that failed before its first dispatch is picked up where it stopped.
    if (state && state.commandComment === event.commentId) {
      if (state.status === 'running' && state.experiments.length === 0) await advance(flow, { pull: existing, state }, state, config);
      return;
    }
    // A command written before this run started (a late or manual redelivery of an earlier run's): nothing to say.
    // GitHub gives `created_at` in whole seconds, so only a comment of an earlier second is older.
    if (state && event.createdAt !== undefined && Date.parse(event.createdAt) < Math.floor(Date.parse(state.startedAt) / 1000) * 1000) {
      flow.log.info(`ignored /optimize comment ${event.commentId} on #${event.issue}: written before the active run started`);
      return;
    }
    const finished = state?.status === 'finished';
    await real.createComment(event.issue, renderRefusal(finished ? 'awaiting-review' : 'busy', { issue: event.issue, pullRequest: existing.number, url: existing.url }));
    return;
  }
  // The previous run's pull request is closed (merged or not): that run is over. The same command redelivered has no
  // second effect; a new one starts a new run, on branches cleared of the old run's (a stale experiment branch
  // would be read as a new proposal that pushed nothing of its own).
  if (existing && peekRunState(flow, existing)?.commandComment === event.commentId) return;
  const experiments = command.experiments ?? config.budget.experiments;
  if (experiments > APP_MAX_EXPERIMENTS) {
    await real.createComment(event.issue, `The App runs at most ${APP_MAX_EXPERIMENTS} experiments per run (its state lives in the run pull request). Use fewer, or the action's \`loop\` mode. See \`/optimize help\`.\n`);
    return;
  }
  const gateway = command.dryRun ? new DryRunGateway(real) : real;
  const dry: Flow = { ...flow, gateway };
  if (existing) {
    for (const branch of await real.branchesWithPrefix(runBranchesPrefix(event.issue))) await gateway.deleteBranch(branch);
  }
  const protectedHash = protectedHashOfTree(await real.tree(branch.sha), config, loaded.file);
  // A run where the default branch lacks oversight still starts, but says so where people look first.
  const warnings = oversightWarnings(diagnose({ ...(await inspectBranch(flow, branch)), config: { valid: true, errors: [] } }));
  const statusSuffix = renderOversightWarnings(warnings);
  let state = newRunState({
    protectedHash,
    issue: event.issue,
    baseBranch: branch.name,
    baseSha: branch.sha,
    metric: { name: config.metric.name, goal: config.metric.goal },
    goalText: command.goal,
    startedBy: event.user,
    commandComment: event.commentId,
    startedAt: flow.now().toISOString(),
    budget: { experiments, parallel: command.parallel ?? config.budget.parallel, maxFailures: config.budget.max_failures },
  });
  // GitHub opens no pull request without a commit of its own: the run branch starts one empty commit (the same tree)
  // ahead of the default branch. The state keeps `baseSha`, the default branch's commit, where the config and the
  // protected files are read, and `startSha`, that empty commit: the first experiments start from it, and measuring
  // against it is measuring against the base (same tree), which the run's baseline relies on.
  const startSha = await gateway.createRunBranch(state.runBranch, branch.sha, runStartCommitMessage(event.issue));
  state = { ...state, startSha, runHead: { sha: startSha } };
  const pull = await gateway.createPullRequest({
    head: state.runBranch,
    base: branch.name,
    title: `autoloop: ${config.metric.name} (${config.metric.goal}), run of #${event.issue}`,
    body: runPullRequestBody(flow, state, config),
    draft: true,
  });
  state = { ...state, pullRequest: pull.number };
  state = { ...state, statusComment: await gateway.upsertComment(event.issue, STATUS_MARKER, renderStatusComment(state, pull.url) + statusSuffix) };
  await advance(dry, { pull, state }, state, config, undefined, statusSuffix);
  if (gateway instanceof DryRunGateway) {
    await real.createComment(event.issue, `Dry run: the config is valid, and this is what \`/optimize\` would do:\n\n${gateway.describe()}\n`);
  }
}
