import type { Probot } from 'probot';
import { isAutoloopBranch, WORKFLOW_PATH } from '../core/protocol/protocol.js';
import { OctokitGateway, type GitHubClient } from './octokit-gateway.js';
import { handleComment, screenComment } from './flow/commands.js';
import { handlePullRequestEvent } from './flow/pull-requests.js';
import type { Flow } from './flow/run.js';
import { handleWorkflowRun } from './flow/workflow-runs.js';
import { sweepRepository } from './flow/sweep.js';

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

/** Most events one repository may have waiting in the App's queue; more are dropped, with a log line. */
export const MAX_QUEUED_PER_REPOSITORY = 50;
/** Delivery ids remembered, to handle a redelivered comment once (in memory: replicas need sticky routing). */
export const REMEMBERED_DELIVERIES = 10_000;
/** Refusals remembered (user and issue), so each user is refused at most once per issue. */
export const REMEMBERED_REFUSALS = 10_000;

/** A set of at most `capacity` keys that forgets the oldest first: memory stays bounded whatever arrives. */
export class RecentKeys {
  private readonly keys = new Set<string>();

  constructor(readonly capacity: number) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Adds `key`; true when it was not there yet. */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value!);
    return true;
  }

  delete(key: string): void {
    this.keys.delete(key);
  }
}

/** Queues tasks by key; a task beyond the key's cap is not queued (`enqueue` answers null). */
interface Serializer {
  enqueue<T>(key: string, task: () => Promise<T>): Promise<T> | null;
  /** Tasks of `key` queued or running. */
  depth(key: string): number;
}

/**
 * Runs tasks one at a time per key, in arrival order; a failed task does not stop the next. A run's state
 * is read from its pull request body, changed and written back, so two events of one repository handled
 * at once (two experiments in parallel completing together) would each overwrite the other's update and
 * leave the run waiting for an experiment it already judged. This serialises within one process; replicas
 * must route a repository's deliveries to one of them. At most `cap` tasks per key wait or run: a flood of
 * events for one repository cannot grow memory or delay the others without bound.
 */
function serializer(cap: number): Serializer {
  const tails = new Map<string, { tail: Promise<void>; depth: number }>();
  return {
    depth: (key) => tails.get(key)?.depth ?? 0,
    enqueue<T>(key: string, task: () => Promise<T>): Promise<T> | null {
      const queue = tails.get(key) ?? { tail: Promise.resolve(), depth: 0 };
      if (queue.depth >= cap) return null;
      const result = queue.tail.then(task);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      queue.tail = tail;
      queue.depth += 1;
      tails.set(key, queue);
      void tail.then(() => {
        queue.depth -= 1;
        if (queue.depth === 0 && tails.get(key) === queue) tails.delete(key);
      });
      return result;
    },
  };
}

/** Minutes between two sweeps of every installation's runs, unless `AUTOLOOP_SWEEP_MINUTES` says otherwise (0: no timer). */
export const DEFAULT_SWEEP_MINUTES = 10;
/** The first sweep, this long after start-up: what was lost while the App was down is picked up without waiting for the timer. */
const STARTUP_SWEEP_DELAY_MS = 5_000;

/** The minutes between sweeps `AUTOLOOP_SWEEP_MINUTES` asks for; a value that is not a number of minutes is an error, said at start-up. */
export function sweepMinutes(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_SWEEP_MINUTES;
  const minutes = Number(value);
  if (!Number.isFinite(minutes) || minutes < 0) throw new RangeError(`AUTOLOOP_SWEEP_MINUTES must be a number of minutes (0 turns the sweep off), not ${JSON.stringify(value)}`);
  return minutes;
}

/** The sweep of each App registered here (tests and a shutdown hook run it on demand). */
const sweeps = new WeakMap<Probot, () => Promise<number>>();

/**
 * Sweeps every repository of every installation of the App now, each in its repository's queue (see ./flow/sweep.ts);
 * resolves with the number of repositories swept.
 */
export function sweepNow(app: Probot): Promise<number> {
  const sweep = sweeps.get(app);
  if (!sweep) throw new Error('the autoloop App is not loaded into this Probot');
  return sweep();
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
  const queue = serializer(MAX_QUEUED_PER_REPOSITORY);
  const deliveries = new RecentKeys(REMEMBERED_DELIVERIES);
  const refusals = new RecentKeys(REMEMBERED_REFUSALS);
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

  /** `work` in the repository's queue, after the delivery is acknowledged; dropped with a log line when the queue is full. */
  const inQueue = (log: EventLog & { error(message: string): void }, repository: string, what: string, work: () => Promise<void>): void => {
    const queued = queue.enqueue(repository, work);
    if (queued === null) {
      log.warn(`autoloop: dropped ${what} for ${repository}: ${MAX_QUEUED_PER_REPOSITORY} events already queued (the next event or a sweep picks the run up)`);
      return;
    }
    afterAcknowledging(log, queued);
  };

  // The sweep: every repository the App is installed on, each in its own queue, so it never races that repository's events.
  const sweepAll = async (): Promise<number> => {
    const jwt = await app.auth();
    const identity = await appIdentity(jwt as never);
    const installations = await jwt.paginate(jwt.rest.apps.listInstallations, { per_page: 100 });
    let swept = 0;
    for (const installation of installations) {
      const octokit = await app.auth(installation.id);
      const repositories = await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
      const sweptHere = repositories.map(
        (repository) =>
          queue.enqueue(repository.full_name, async () => {
            await sweepRepository(flowFor(octokit, repository.owner.login, repository.name, app.log, identity));
          }) ?? Promise.resolve(),
      );
      await Promise.all(sweptHere.map((done) => done.catch((error: unknown) => app.log.warn(`autoloop: sweep failed: ${(error as Error).message}`))));
      swept += repositories.length;
    }
    return swept;
  };
  sweeps.set(app, sweepAll);
  const minutes = sweepMinutes(process.env.AUTOLOOP_SWEEP_MINUTES);
  if (minutes > 0) {
    const sweepLogged = () => void sweepAll().catch((error: unknown) => app.log.warn(`autoloop: sweep failed: ${(error as Error).message}`));
    setTimeout(sweepLogged, STARTUP_SWEEP_DELAY_MS).unref();
    setInterval(sweepLogged, minutes * 60_000).unref();
  }

  app.on('issue_comment.created', async (context) => {
    const { comment, issue, repository, sender } = context.payload;
    if (comment.user?.type === 'Bot' || sender.type === 'Bot') return;
    if (!comment.body.includes('/optimize')) return;
    // A redelivery (GitHub's, or a manual one) of a comment already handled: no second reply. Forgotten again if
    // handling fails, so a redelivery then retries.
    const delivery = `${repository.full_name}\u0000${context.id}`;
    if (!deliveries.add(delivery)) {
      context.log.info(`autoloop: delivery ${context.id} was handled already`);
      return;
    }
    const event = { issue: issue.number, commentId: comment.id, user: comment.user?.login ?? sender.login, body: comment.body, createdAt: comment.created_at };
    const { owner, name } = { owner: repository.owner.login, name: repository.name };
    // The permission check and any refusal run outside the repository's queue: a drive-by command never delays a run.
    afterAcknowledging(context.log, (async () => {
      try {
        const identity = await appIdentity(context.octokit as never);
        const permission = await screenComment(flowFor(context.octokit, owner, name, context.log, identity), event, {
          publicRepository: repository.private === false,
          association: comment.author_association,
          firstRefusal: (key) => refusals.add(`${repository.full_name}\u0000${key}`),
        });
        if (permission === null) return;
        inQueue(context.log, repository.full_name, `/optimize from ${event.user} on #${event.issue}`, async () => {
          try {
            await handleComment(flowFor(context.octokit, owner, name, context.log, identity), event, permission);
          } catch (error) {
            deliveries.delete(delivery);
            throw error;
          }
        });
      } catch (error) {
        deliveries.delete(delivery);
        throw error;
      }
    })());
  });

  app.on('workflow_run.completed', async (context) => {
    const { workflow_run: run, repository } = context.payload;
    if (run.path !== WORKFLOW_PATH) return;
    inQueue(context.log, repository.full_name, `workflow run ${run.id}`, async () => {
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
        // Where it ran and for which pull requests, as the webhook says: no extra request to bind it to its run.
        repository: repository.full_name,
        headRepository: run.head_repository?.full_name ?? null,
        pullRequests: (run.pull_requests ?? []).flatMap((pull) => (pull ? [pull.number] : [])),
      });
    });
  });

  app.on(['pull_request.synchronize', 'pull_request.closed'], async (context) => {
    const { pull_request: pull, repository, sender, action } = context.payload;
    if (!isAutoloopBranch(pull.head.ref)) return;
    inQueue(context.log, repository.full_name, `pull_request.${action} of #${pull.number}`, async () => {
      const app = await appIdentity(context.octokit as never);
      const slugName = app.slug;
      const flow = flowFor(context.octokit, repository.owner.login, repository.name, context.log, app);
      await handlePullRequestEvent(flow, {
        action,
        number: pull.number,
        headRef: pull.head.ref,
        headSha: pull.head.sha,
        merged: Boolean(pull.merged),
        headRepository: pull.head.repo?.full_name ?? null,
        // An App whose own name is unknown trusts no bot: the flows refuse to act until `GET /app` answers.
        senderIsApp: sender.type === 'Bot' && slugName !== undefined && sender.login === `${slugName}[bot]`,
      });
    });
  });
}
