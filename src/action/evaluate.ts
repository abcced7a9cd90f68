import * as core from '@actions/core';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ARTIFACTS } from '../core/protocol/protocol.js';
import { describeViolations } from '../core/scope/scope.js';
import { renderResultSummary } from '../core/render/summary.js';
import { formatNumber } from '../core/config/units.js';
import { evalRefs } from '../engine/eval-refs.js';
import { ActionFailure, artifactUrl, pullRequestShas, workflowRunUrl, writeJobSummary, type RunnerContext } from './context.js';
import type { ActionInputs } from './inputs.js';
import type { ActionDependencies } from './dependencies.js';

/**
 * `mode: evaluate`: measures the pull request's head against its base under the config of the base,
 * writes and uploads the result document, sets the outputs and the job summary, and fails the step
 * as `fail-on` says (an {@link ActionFailure}).
 */
export async function runEvaluate(inputs: ActionInputs, context: RunnerContext, dependencies: ActionDependencies): Promise<void> {
  const { base, head } = await pullRequestShas(context);
  core.info(`autoloop: measuring ${head.slice(0, 7)} against ${base.slice(0, 7)} with the config of the base`);
  const result = await evalRefs({ cwd: context.workspace, configPath: inputs.config, base, head, configFromBase: true });
  const { document } = result;

  const file = resolve(context.workspace, inputs.resultFile);
  await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);
  const judgement = result.measurement.judgement;
  const valid = judgement !== null && judgement.verdict !== 'invalid';
  core.setOutput('verdict', document.verdict);
  core.setOutput('metric', document.metric.name);
  core.setOutput('result-file', file);
  if (valid) {
    core.setOutput('baseline', String(judgement.baseline.mean));
    core.setOutput('candidate', String(judgement.candidate.mean));
    core.setOutput('delta', String(judgement.delta));
    core.setOutput('delta-percent', formatNumber(judgement.deltaRelative * 100, 6));
  }

  const uploaded = inputs.upload ? await dependencies.artifacts.upload(ARTIFACTS.result, [file], dirname(file)) : null;
  const run = workflowRunUrl(context);
  const artifact = uploaded ? artifactUrl(context, uploaded.id) : null;
  await writeJobSummary(dependencies.env, renderResultSummary(document, { ...(run ? { run } : {}), ...(artifact ? { artifact } : {}) }));

  if (!valid) {
    const why = document.scopeViolations.length > 0 ? `out of scope: ${describeViolations(document.scopeViolations)}` : (document.reason ?? 'no valid comparison');
    const message = `autoloop could not measure this change: ${why}`;
    if (inputs.failOn !== 'never') throw new ActionFailure(message);
    core.warning(message, { title: 'autoloop: invalid measurement' });
    return;
  }
  core.info(`autoloop: ${document.metric.name} ${formatNumber(judgement.baseline.mean)} → ${formatNumber(judgement.candidate.mean)}: ${document.verdict}`);
  if (inputs.failOn === 'regressed' && document.verdict === 'regressed') {
    throw new ActionFailure(`autoloop: ${document.metric.name} regressed: ${judgement.reasons.join('; ')}`);
  }
}
