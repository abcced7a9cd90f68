import { describe, expect, it } from 'vitest';
import { renderMermaidChart } from '../../../src/core/render/mermaid.js';
import { renderRunPullRequest } from '../../../src/core/render/pull-request.js';
import { runPullRequestMarker } from '../../../src/core/protocol/protocol.js';
import { renderMarkdownReport } from '../../../src/core/render/report.js';
import { GITHUB_BODY_LIMIT } from '../../../src/core/render/truncate.js';
import { makeConfirmation, makeExperiment, makeLedger, makeRun } from '../../fixtures/records/ledger.js';

const RUN_URL = 'https://github.com/octo/model/actions/runs/7';
const ARTIFACT_URL = 'https://github.com/octo/model/actions/runs/7/artifacts/9';

describe('renderRunPullRequest', () => {
  it('titles the run with baseline → best, the change and the number of experiments', () => {
    const { run, experiments } = makeLedger();
    expect(renderRunPullRequest(run, experiments).title).toBe('autoloop: val_loss 0.5 → 0.4 (−20%) in 6 experiments');
  });

  it('rounds the title like the README example', () => {
    const run = makeRun();
    const experiments = [makeExperiment({ experiment: 0, metric: 0.045612 }), makeExperiment({ experiment: 1, metric: 0.014087 })];
    expect(renderRunPullRequest(run, experiments).title).toBe('autoloop: val_loss 0.04561 → 0.01409 (−69%) in 1 experiment');
  });

  it('says when nothing improved or the baseline was not measured', () => {
    const run = makeRun();
    const flat = [makeExperiment({ experiment: 0, metric: 2 }), makeExperiment({ experiment: 1, status: 'discard', metric: 3 })];
    expect(renderRunPullRequest(run, flat).title).toBe('autoloop: val_loss 2, no improvement in 1 experiment');
    expect(renderRunPullRequest(run, flat).body).toContain('`val_loss` (lower is better) stayed at its baseline 2: no experiment beat it.');
    const failed = [makeExperiment({ experiment: 0, status: 'crash' })];
    expect(renderRunPullRequest(run, failed).title).toBe('autoloop: val_loss baseline not measured in 0 experiments');
  });

  it('opens the body with the marker, then one paragraph of summary, the branch note and the links', () => {
    const { run, experiments } = makeLedger();
    const { body } = renderRunPullRequest(run, experiments, { workflowRun: RUN_URL, artifact: ARTIFACT_URL, stopReason: 'budget of 6 experiments spent' });
    expect(body.split('\n').slice(0, 8)).toEqual([
      '<!-- autoloop:run:test-run -->',
      '',
      '`val_loss` (lower is better) went from 0.5 to **0.4** (−20%), best at experiment 4. 6 experiments after the baseline: 2 kept, 2 discarded, 1 crashed, 1 invalid. Stopped: budget of 6 experiments spent.',
      '',
      'The branch `autoloop/test-run` holds one commit per kept experiment, each with its hypothesis and measured delta in the message; discarded and invalid experiments are only in the ledger.',
      '',
      `[workflow run](${RUN_URL}) · [ledger and traces](${ARTIFACT_URL}) (artifact)`,
      '',
    ]);
  });

  it('embeds the Mermaid chart and the report with its headings demoted', () => {
    const { run, experiments } = makeLedger();
    const { body } = renderRunPullRequest(run, experiments);
    expect(body).toContain(`### Progress\n\n${renderMermaidChart(run, experiments)}`);
    const report = renderMarkdownReport(run, experiments);
    expect(body.endsWith(report.replace('## autoloop: val_loss (minimize)', '### autoloop: val_loss (minimize)'))).toBe(true);
    expect(body).not.toMatch(/^## /m);
  });

  it('leaves out the links and the stop reason it was not given', () => {
    const { run, experiments } = makeLedger();
    const { body } = renderRunPullRequest(run, experiments);
    expect(body).not.toContain('Stopped:');
    expect(body).not.toContain('[workflow run]');
    expect(body).not.toContain('[ledger and traces]');
  });

  it('truncates a huge run below GitHub’s limit, keeping the marker first and linking the artifact', () => {
    const run = makeRun({ tag: 'big' });
    const experiments = Array.from({ length: 1_500 }, (_, i) =>
      makeExperiment({ experiment: i, status: i % 3 === 0 ? 'keep' : 'discard', metric: 1 - i / 10_000, description: `try ${'x'.repeat(60)} ${i}` }),
    );
    const { body } = renderRunPullRequest(run, experiments, { artifact: ARTIFACT_URL });
    expect(body.length).toBeLessThan(GITHUB_BODY_LIMIT);
    expect(body.split('\n')[0]).toBe('<!-- autoloop:run:big -->');
    expect(body).toContain('```mermaid');
    expect(body.trimEnd().endsWith(`more characters. [full ledger and traces](${ARTIFACT_URL})`)).toBe(true);
  });
});

describe('runPullRequestMarker', () => {
  it('is a hidden comment naming the tag', () => {
    expect(runPullRequestMarker('42')).toBe('<!-- autoloop:run:42 -->');
    expect(runPullRequestMarker('2025-01-01T00-00-00Z')).toBe('<!-- autoloop:run:2025-01-01T00-00-00Z -->');
  });

  it('cannot be ended early by the tag', () => {
    const marker = runPullRequestMarker('a --> b');
    expect(marker).toBe('<!-- autoloop:run:a%20%2D-%3E%20b -->');
    expect(marker.indexOf('-->')).toBe(marker.length - 3);
  });
});

describe('renderRunPullRequest with a confirmation', () => {
  it('titles the run with the confirmed figures, and says when they did not hold up', () => {
    const { run, experiments } = makeLedger();
    expect(renderRunPullRequest(run, experiments, { confirmation: makeConfirmation() }).title).toBe('autoloop: val_loss 0.5 → 0.42 (−16%, confirmed) in 6 experiments');
    const not = renderRunPullRequest(run, experiments, { confirmation: makeConfirmation({ status: 'not-confirmed', reason: 'within the noise' }) });
    expect(not.title).toBe('autoloop: val_loss 0.5 → 0.4 (−20%), not confirmed in 6 experiments');
    expect(not.body).toContain('NOT confirmed (measured again side by side, 3 runs per side): within the noise.');
  });
});
