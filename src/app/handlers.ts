import type { Probot } from 'probot';
import { isAutoloopBranch, WORKFLOW_PATH } from '../core/protocol/protocol.js';
import { OctokitGateway, type GitHubClient } from './octokit-gateway.js';
import { handleComment } from './flow/commands.js';
import { handlePullRequestEvent } from './flow/pull-requests.js';
import type { Flow } from './flow/run.js';
import { handleWorkflowRun } from './flow/workflow-runs.js';

/** Probot's per-event logger, as the run logic uses it. */
interface EventLog {
  info(message: string): void;
  warn(message: string): void;
}

/** The App as `GET /app` names it; fields GitHub could not tell are missing. */
interface AppIdentity {
  slug?: string;
  id?: number;
}

function flowFor(octokit: unknown, owner: string, repo: string, log: EventLog, app: AppIdentity): Flow {
  return {
    gateway: new OctokitGateway(octokit as GitHubClient, { owner, repo }, app.slug ? { appSlug: app.slug } : {}),
    log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
    now: () => new Date(),
    app: { id: app.id ?? null, slug: app.slug ?? null },
  };
}

/**
 * Runs tasks one at a time per key, in arrival order; a failed task does not stop the next. A run's state
 * is read from its pull request body, changed and written back, so two events of one repository handled
 * at once (two experiments in parallel completing together) would each overwrite the other's update and
 * leave the run waiting for an experiment it already judged. This serialises within one process; replicas
 * must route a repository's deliveries to one of them.
 */
function serializer(): <T>(key: string, task: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const result = (tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return result;
  };
}

/** Work accepted but not finished: webhooks are acknowledged first and handled after. */
const inFlight = new Set<Promise<void>>();

/**
 * Runs `work` after the delivery is acknowledged. Probot answers GitHub only when its handlers return,
 * and the run logic's writes are spaced by Octokit's throttling (seconds between comments), so waiting
 * for them would hold every delivery behind the slowest. Failures are logged; the next event or
 * `/optimize status` picks the run up from GitHub's state.
 */
function afterAcknowledging(log: { error(message: string): void }, work: Promise<void>): void {
  const tracked = work.catch((error: unknown) => log.error(`autoloop: handling the event failed: ${(error as Error)?.stack ?? String(error)}`));
  inFlight.add(tracked);
  void tracked.finally(() => inFlight.delete(tracked));
}

/** Resolves once all accepted work has finished (for tests, and for a graceful shutdown). */
export async function settled(): Promise<void> {
  while (inFlight.size > 0) await Promise.all([...inFlight]);
}

/**
 * Wires the webhooks to the run logic. Only new comments count (edited ones never trigger anything),
 * and nothing a bot writes, the App included, is read as a command.
 */
export function registerHandlers(app: Probot): void {
  const oneAtATime = serializer();
  let identity: Promise<AppIdentity> | null = null;
  // Asked once (`GET /app`, with the App's JWT): the slug names its bot and check runs, the id binds the gate.
  const appIdentity = async (octokit: { rest: { apps: { getAuthenticated(): Promise<{ data: { slug?: string; id?: number } | null }> } } }): Promise<AppIdentity> =>
    (identity ??= octokit.rest.apps.getAuthenticated().then<AppIdentity, AppIdentity>(
      (r) => ({ ...(r.data?.slug ? { slug: r.data.slug } : {}), ...(typeof r.data?.id === 'number' ? { id: r.data.id } : {}) }),
      () => {
        // Not remembered: the next event asks again rather than living without the slug.
        identity = null;
        return {};
      },
    ));

  app.on('issue_comment.created', async (context) => {
    const { comment, issue, repository, sender } = context.payload;
    if (comment.user?.type === 'Bot' || sender.type === 'Bot') return;
    if (!comment.body.includes('/optimize')) return;
    afterAcknowledging(context.log, oneAtATime(repository.full_name, async () => {
      const flow = flowFor(context.octokit, repository.owner.login, repository.name, context.log, await appIdentity(context.octokit as never));
      await handleComment(flow, { issue: issue.number, commentId: comment.id, user: comment.user?.login ?? sender.login, body: comment.body });
    }));
  });

  app.on('workflow_run.completed', async (context) => {
    const { workflow_run: run, repository } = context.payload;
    if (run.path !== WORKFLOW_PATH) return;
    afterAcknowledging(context.log, oneAtATime(repository.full_name, async () => {
      const flow = flowFor(context.octokit, repository.owner.login, repository.name, context.log, await appIdentity(context.octokit as never));
      await handleWorkflowRun(flow, {
        id: run.id,
        path: run.path,
        event: run.event,
        conclusion: run.conclusion,
        headBranch: run.head_branch,
        headSha: run.head_sha,
        displayTitle: run.display_title ?? '',
        htmlUrl: run.html_url,
      });
    }));
  });

  app.on(['pull_request.synchronize', 'pull_request.closed'], async (context) => {
    const { pull_request: pull, repository, sender, action } = context.payload;
    if (!isAutoloopBranch(pull.head.ref)) return;
    afterAcknowledging(context.log, oneAtATime(repository.full_name, async () => {
      const app = await appIdentity(context.octokit as never);
      const slugName = app.slug;
      const flow = flowFor(context.octokit, repository.owner.login, repository.name, context.log, app);
      await handlePullRequestEvent(flow, {
        action,
        number: pull.number,
        headRef: pull.head.ref,
        headSha: pull.head.sha,
        merged: Boolean(pull.merged),
        senderIsApp: sender.type === 'Bot' && (slugName === undefined || sender.login === `${slugName}[bot]`),
      });
    }));
  });
}
