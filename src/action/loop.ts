import * as core from '@actions/core';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ARTIFACTS } from '../core/protocol/protocol.js';
import { experimentLine } from '../core/render/progress-line.js';
import { renderRunPullRequest } from '../core/render/pull-request.js';
import { confirmationFigures, confirmationSentence, renderMarkdownReport } from '../core/render/report.js';
import { truncateMarkdown, GITHUB_BODY_LIMIT } from '../core/render/truncate.js';
import { runLoop } from '../engine/loop.js';
import { createProposer } from '../proposers/index.js';
import { ActionFailure, artifactUrl, workflowRunUrl, writeJobSummary, type RunnerContext } from './context.js';
import type { ActionInputs } from './inputs.js';
import { pushBranch } from './push.js';
import type { ActionDependencies } from './dependencies.js';

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * `mode: loop`: the whole loop in this job. Afterwards the run branch is pushed and one pull request
 * (created, or updated on a re-run) shows the results; with no kept experiment there is nothing to propose.
 */
export async function runLoopMode(inputs: ActionInputs, context: RunnerContext, dependencies: ActionDependencies): Promise<void> {
  const tag = inputs.tag ?? `gh-${context.runId ?? Date.now()}`;
  let metricName = '';
  const result = await runLoop({
    cwd: context.workspace,
    configPath: inputs.config,
    tag,
    experiments: inputs.experiments,
    goal: inputs.goal,
    proposer: createProposer,
    onEvent: (event) => {
      if (event.type === 'start') metricName = event.run.metric.name;
      if (event.type === 'experiment') core.info(experimentLine(event, metricName, null));
      if (event.type === 'confirmation') core.info(`autoloop: ${confirmationSentence(metricName, confirmationFigures(event.record))}`);
      if (event.type === 'stop') core.info(`autoloop: stopped: ${event.reason}`);
    },
  });
  const { run, experiments, paths } = result;
  const head = experiments.at(-1)!.bestCommit;
  core.setOutput('branch', run.branch);
  core.setOutput('commit', head);

  const uploaded = inputs.upload ? await dependencies.artifacts.upload(ARTIFACTS.run, await filesBelow(paths.dir), paths.dir) : null;
  const links = {
    ...(workflowRunUrl(context) ? { workflowRun: workflowRunUrl(context)! } : {}),
    ...(uploaded && artifactUrl(context, uploaded.id) ? { artifact: artifactUrl(context, uploaded.id)! } : {}),
    stopReason: result.stopReason,
    confirmation: result.confirmation,
  };
  await writeJobSummary(dependencies.env, truncateMarkdown(renderMarkdownReport(run, experiments, { confirmation: result.confirmation }), GITHUB_BODY_LIMIT));
  if (result.outcome === 'failed') throw new ActionFailure(`autoloop: the loop failed: ${result.stopReason}`);
  if (head === run.baseCommit) {
    core.notice(`autoloop: no experiment beat the baseline (${result.stopReason}); no pull request opened`);
    return;
  }

  await pushBranch(context.workspace, head, run.branch, inputs.token);
  if (!context.repository || !inputs.token) {
    core.warning('autoloop: pushed the run branch, but no repository or token to open a pull request with');
    return;
  }
  const [owner, repo] = context.repository.split('/') as [string, string];
  const octokit = dependencies.octokit(inputs.token, context.apiUrl);
  const { title, body } = renderRunPullRequest(run, experiments, links);
  const base = context.refName ?? (await octokit.rest.repos.get({ owner, repo })).data.default_branch;
  const existing = await octokit.rest.pulls.list({ owner, repo, head: `${owner}:${run.branch}`, state: 'open' });
  const pull = existing.data[0]
    ? (await octokit.rest.pulls.update({ owner, repo, pull_number: existing.data[0].number, title, body })).data
    : (await octokit.rest.pulls.create({ owner, repo, head: run.branch, base, title, body })).data;
  core.setOutput('pull-request', pull.html_url);
  core.info(`autoloop: ${existing.data[0] ? 'updated' : 'opened'} ${pull.html_url}`);
}
