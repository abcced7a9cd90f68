import * as core from '@actions/core';
import { mkdir, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { ARTIFACTS, experimentBranch, runBranch } from '../core/protocol/protocol.js';
import { describeViolations } from '../core/scope/scope.js';
import { loadConfigAt } from '../engine/config-file.js';
import { RunSetupError } from '../engine/errors.js';
import { repoRoot, resolveCommit } from '../engine/git.js';
import { prepareWorktree, removeWorktree } from '../engine/worktrees.js';
import { inspectCandidate, proposeCandidate } from '../engine/propose.js';
import { autoloopDirectories, readLedger, runPaths, traceDir } from '../engine/run-files.js';
import { createProposer } from '../proposers/index.js';
import { ActionFailure, type RunnerContext } from './context.js';
import { pushBranch } from './push.js';
import type { ActionInputs } from './inputs.js';
import type { ActionDependencies } from './dependencies.js';
import { readAppRunHistory } from './run-history.js';

/**
 * `mode: propose`: runs the proposer on the parent commit (the run branch head) inside the scope,
 * commits the proposal with its hypothesis as the message, and pushes it to the experiment branch. The proposer's
 * memory is `ledger-file` when given, else the App run's history (./run-history.ts).
 * A proposal out of scope is never pushed; its trace is uploaded either way.
 */
export async function runPropose(inputs: ActionInputs, context: RunnerContext, dependencies: ActionDependencies): Promise<void> {
  const run = inputs.run!;
  const experiment = inputs.experiment!;
  const repo = await repoRoot(context.workspace);
  const parent = await resolveCommit(repo, inputs.parentSha!).catch(() => {
    throw new RunSetupError(`parent-sha ${inputs.parentSha} is not in the checkout: check out ${runBranch(run)} with fetch-depth: 0`);
  });
  const { config, file } = await loadConfigAt(repo, parent, inputs.config);
  // The proposer's memory: the ledger given, else what the App's run holds on GitHub and in the checkout.
  const history = inputs.ledgerFile
    ? (await readLedger(resolve(context.workspace, inputs.ledgerFile))).experiments
    : await readAppRunHistory({
        repo,
        config,
        run,
        experiment,
        parentSha: parent,
        token: inputs.token,
        repository: context.repository,
        apiUrl: context.apiUrl,
        octokit: dependencies.octokit,
      });

  const directories = await autoloopDirectories(repo);
  const trace = traceDir(runPaths(join(directories.runs, run)), experiment);
  await mkdir(trace, { recursive: true });
  const worktree = join(directories.worktrees, `propose-${run}-${experiment}`);
  try {
    await prepareWorktree(repo, worktree, parent);
    const outcome = await proposeCandidate({ proposer: (dependencies.proposer ?? createProposer)(config), config, worktree, parent, experiment, history, goal: inputs.goal, trace });
    if (outcome.kind === 'failed') {
      core.setOutput('status', 'failed');
      await uploadTrace(dependencies, inputs, trace);
      throw new ActionFailure(`autoloop: experiment ${experiment} has no usable proposal: ${outcome.reason}`);
    }
    if (outcome.kind !== 'proposed') {
      core.setOutput('status', 'exhausted');
      core.notice(`autoloop: the ${config.proposer.kind} proposer has nothing left to propose for run ${run}`);
      return;
    }
    const { proposal, candidate } = outcome;
    core.setOutput('hypothesis', proposal.hypothesis);
    const { changes, violations } = await inspectCandidate(repo, config, file, parent, candidate, trace);
    await uploadTrace(dependencies, inputs, trace);
    if (changes.length === 0) {
      core.setOutput('status', 'empty');
      throw new ActionFailure(`autoloop: experiment ${experiment} changed nothing ("${proposal.hypothesis}"); nothing was pushed`);
    }
    if (violations.length > 0) {
      core.setOutput('status', 'out-of-scope');
      throw new ActionFailure(`autoloop: experiment ${experiment} is out of scope and was not pushed: ${describeViolations(violations)}`);
    }
    const branch = experimentBranch(run, experiment);
    // Experiment branches belong to autoloop: a re-run of the same dispatch replaces its branch.
    await pushBranch(repo, candidate, branch, inputs.token);
    core.setOutput('status', 'proposed');
    core.setOutput('branch', branch);
    core.setOutput('commit', candidate);
    core.info(`autoloop: pushed ${branch} (${candidate.slice(0, 7)}): ${proposal.hypothesis}`);
  } finally {
    await removeWorktree(repo, worktree);
  }
}

async function uploadTrace(dependencies: ActionDependencies, inputs: ActionInputs, trace: string): Promise<void> {
  if (!inputs.upload) return;
  const files = (await readdir(trace)).map((name) => join(trace, name));
  const uploaded = await dependencies.artifacts.upload(ARTIFACTS.trace, files, trace);
  if (uploaded) core.info(`autoloop: uploaded ${ARTIFACTS.trace} (${files.map((f) => relative(trace, f)).join(', ')})`);
}
