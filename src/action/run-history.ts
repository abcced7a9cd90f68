/**
 * The proposer's memory in an App run, read from what the repository holds (built by ../core/propose/app-history.ts):
 * the run state in the run pull request's body, read through the API with the action's token, and the tuned file in
 * the experiment commits of the checkout (`fetch-depth: 0` brings every experiment branch the App keeps). It is the
 * proposer's input only: the App re-judges every experiment from its own verified state, so a state someone edited
 * can steer a proposal, never keep one. Whatever cannot be read is said in a warning, and the proposal goes on with
 * the history that could be built.
 */
import * as core from '@actions/core';
import { RequestError } from '@octokit/request-error';
import { decodeState } from '../core/app/state-codec.js';
import type { AppRunState } from '../core/app/state.js';
import type { Config } from '../core/config/config-schema.js';
import type { ExperimentRecord } from '../core/ledger/records.js';
import { appRunHistory, historyCommits, runStateMismatch } from '../core/propose/app-history.js';
import type { Point } from '../core/propose/tune-search.js';
import { runBranch } from '../core/protocol/protocol.js';
import { blobText, resolveCommit } from '../engine/git.js';
import { readTunedPoint } from '../proposers/tune.js';
import type { ActionDependencies } from './dependencies.js';

export interface RunHistoryOptions {
  /** The checkout. */
  repo: string;
  /** The config at the parent commit (the run's, since the App protects it). */
  config: Config;
  run: string;
  experiment: number;
  parentSha: string;
  token: string | undefined;
  /** `owner/name`. */
  repository: string | null;
  apiUrl: string;
  octokit: ActionDependencies['octokit'];
}

/**
 * The run's history for the proposer of experiment `experiment`, as ledger records: from the state of the newest run
 * pull request from `autoloop/<run>/run` (the one the App reads too) and the experiment commits in the checkout. An
 * empty history, with a warning, when the pull request or its state cannot be read.
 */
export async function readAppRunHistory(options: RunHistoryOptions): Promise<ExperimentRecord[]> {
  const without = `experiment ${options.experiment} is proposed without the run's history`;
  const state = await readRunState(options).catch((error: unknown) => (error as Error).message);
  if (typeof state === 'string') {
    core.warning(`autoloop: ${state}; ${without}`);
    return [];
  }
  const mismatch = runStateMismatch(state, options.run, options.experiment, options.parentSha);
  if (mismatch) {
    core.warning(`autoloop: the run pull request's state is not this proposal's run: ${mismatch}; ${without}`);
    return [];
  }
  const tune = options.config.proposer.kind === 'tune';
  const { points, problems } = tune ? await tunedPoints(options.repo, options.config, historyCommits(state, options.experiment)) : { points: null, problems: new Map<string, string>() };
  const { records, skipped, dropped } = appRunHistory({ state, experiment: options.experiment, proposer: options.config.proposer.kind, points });
  if (skipped.length > 0) {
    const listed = skipped.map((e) => `experiment ${e.k} (${e.headSha!.slice(0, 12)}): ${problems.get(e.headSha!) ?? 'unreadable'}`);
    core.warning(`autoloop: left out of the proposer's history: ${listed.join('; ')}`);
  }
  if (dropped > 0) core.warning(`autoloop: the run state lists more experiments than a run has; the ${dropped} oldest were left out of the proposer's history`);
  core.info(`autoloop: the proposer's history: the base and ${records.length - 1} experiment${records.length === 2 ? '' : 's'} of ${state.runBranch}`);
  return records;
}

/** The state in the body of the newest run pull request; throws an error whose message says what could not be read. */
async function readRunState(options: RunHistoryOptions): Promise<AppRunState> {
  const branch = runBranch(options.run);
  if (!options.token || !options.repository) throw new Error(`no ${options.token ? 'repository' : 'token'} to read the run pull request from ${branch} with`);
  const [owner, repo] = options.repository.split('/') as [string, string];
  let pulls;
  try {
    pulls = await options.octokit(options.token, options.apiUrl).rest.pulls.list({ owner, repo, head: `${owner}:${branch}`, state: 'all', sort: 'created', direction: 'desc', per_page: 1 });
  } catch (error) {
    const status = error instanceof RequestError ? error.status : null;
    const hint = status === 401 || status === 403 || status === 404 ? ' (give the propose job `permissions: pull-requests: read`, as examples/workflows/autoloop.yml does)' : '';
    throw new Error(`cannot read the run pull request from ${branch}: ${status ? `HTTP ${status}: ` : ''}${(error as Error).message}${hint}`, { cause: error });
  }
  const pull = pulls.data[0];
  if (!pull) throw new Error(`no pull request from ${branch}: this is not an App run`);
  const state = decodeState(pull.body ?? '');
  if (state === null) throw new Error(`run pull request #${pull.number} holds no autoloop state`);
  return state;
}

/** The tuned point in each commit, and why a commit has none: the file read and checked as a proposal reads it. */
async function tunedPoints(repo: string, config: Config, commits: readonly string[]): Promise<{ points: Map<string, Point>; problems: Map<string, string> }> {
  const points = new Map<string, Point>();
  const problems = new Map<string, string>();
  const tune = config.proposer.tune!;
  for (const sha of commits) {
    if (!(await resolveCommit(repo, sha).catch(() => null))) {
      problems.set(sha, 'not in the checkout (check out with fetch-depth: 0; the App deletes experiment branches when a new run starts)');
      continue;
    }
    const text = await blobText(repo, `${sha}:${tune.file}`).catch(() => null);
    if (text === null) {
      problems.set(sha, `it has no ${tune.file}`);
      continue;
    }
    try {
      points.set(sha, readTunedPoint(text, tune));
    } catch (error) {
      problems.set(sha, (error as Error).message);
    }
  }
  return { points, problems };
}
