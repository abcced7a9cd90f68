import type { Probot } from 'probot';
import { OctokitGateway, type GitHubClient } from './octokit-gateway.js';
import { handleComment, handlePullRequestEvent, handleWorkflowRun, type Flow } from './run-flow.js';

/** Probot's per-event logger, as the run logic uses it. */
interface EventLog {
  info(message: string): void;
  warn(message: string): void;
}

function flowFor(octokit: unknown, owner: string, repo: string, log: EventLog, appSlug: string | undefined): Flow {
  return {
    gateway: new OctokitGateway(octokit as GitHubClient, { owner, repo }, appSlug ? { appSlug } : {}),
    log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
    now: () => new Date(),
  };
}

/**
 * Wires the webhooks to the run logic. Only new comments count (edited ones never trigger anything),
 * and nothing a bot writes, the App included, is read as a command.
 */
export function registerHandlers(app: Probot): void {
  let slug: Promise<string | undefined> | null = null;
  const appSlug = async (octokit: { rest: { apps: { getAuthenticated(): Promise<{ data: { slug?: string } | null }> } } }) =>
    (slug ??= octokit.rest.apps.getAuthenticated().then((r) => r.data?.slug, () => undefined));

  app.on('issue_comment.created', async (context) => {
    const { comment, issue, repository, sender } = context.payload;
    if (comment.user?.type === 'Bot' || sender.type === 'Bot') return;
    if (!comment.body.includes('/optimize')) return;
    const flow = flowFor(context.octokit, repository.owner.login, repository.name, context.log, await appSlug(context.octokit as never));
    await handleComment(flow, { issue: issue.number, commentId: comment.id, user: comment.user?.login ?? sender.login, body: comment.body });
  });

  app.on('workflow_run.completed', async (context) => {
    const { workflow_run: run, repository } = context.payload;
    if (!run.path.endsWith('/autoloop.yml')) return;
    const flow = flowFor(context.octokit, repository.owner.login, repository.name, context.log, await appSlug(context.octokit as never));
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
  });

  app.on(['pull_request.synchronize', 'pull_request.closed'], async (context) => {
    const { pull_request: pull, repository, sender, action } = context.payload;
    if (!pull.head.ref.startsWith('autoloop/')) return;
    const slugName = await appSlug(context.octokit as never);
    const flow = flowFor(context.octokit, repository.owner.login, repository.name, context.log, slugName);
    await handlePullRequestEvent(flow, {
      action,
      number: pull.number,
      headRef: pull.head.ref,
      headSha: pull.head.sha,
      merged: Boolean(pull.merged),
      senderIsApp: sender.type === 'Bot' && (slugName === undefined || sender.login === `${slugName}[bot]`),
    });
  });
}
