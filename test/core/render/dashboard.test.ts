import { describe, expect, it } from 'vitest';
import { DASHBOARD_LIMIT, renderDashboard, renderRunPullRequestBody } from '../../../src/core/render/dashboard.js';
import { decodeState, encodeState, StateError } from '../../../src/core/app/state-codec.js';
import { withExperiment, type AppExperiment } from '../../../src/core/app/state.js';
import { GITHUB_BODY_LIMIT } from '../../../src/core/render/truncate.js';
import { makeAppExperiment, makeAppRun, makeAppRunState, makeRunConfirmation } from '../../fixtures/records/app-state.js';
import { fakeSha } from '../../fixtures/records/ledger.js';
import { cells, HOSTILE, rowOf } from './helpers.js';

const ISSUE_URL = 'https://github.com/octo/model/issues/12';
const RUNS_URL = 'https://github.com/octo/model/actions/workflows/autoloop.yml';
const CONFIG_SUMMARY = ['evaluate: `node eval.js`, 3 repeats, timeout 5m', 'scope: edit params.json'];

describe('renderDashboard', () => {
  const dashboard = () => renderDashboard(makeAppRun(), { configSummary: CONFIG_SUMMARY, links: { issue: ISSUE_URL, workflowRuns: RUNS_URL } });

  it('starts with the metric and goal, the status, the results against the baseline and where the run came from', () => {
    expect(dashboard().split('\n').slice(0, 10)).toEqual([
      '## autoloop: minimize `val_loss`',
      '',
      '**Status:** running: 5 of 5 experiments dispatched, 1 in flight (parallel 1).',
      '',
      '**Results:** best so far **0.4** (experiment 4) against the baseline 0.5: −0.1 (−20%). 4 experiments decided: 2 kept, 1 discarded, 1 invalid, 0 waiting for review.',
      '',
      `Started by octocat on [#12](${ISSUE_URL}) at 2025-01-01T00:00:00.000Z, from \`main\` at \`b000000\`. Each experiment is a pull request into \`autoloop/12/run\`, measured against its parent; kept ones are merged there, and this pull request brings them to \`main\` after a human review.`,
      '',
      `Every proposal and evaluation: [autoloop workflow runs](${RUNS_URL}).`,
      '',
    ]);
  });

  it('quotes the goal as data and lists the config summary', () => {
    expect(dashboard()).toContain('### Goal\n\n> Lower the validation loss without using more memory.\n\n### Config\n\n- evaluate: `node eval.js`, 3 repeats, timeout 5m\n- scope: edit params.json\n');
  });

  it('charts the baseline and every decided experiment against its parent, with the kept changes compounded', () => {
    const text = dashboard();
    expect(text).toContain(
      [
        '```mermaid',
        'xychart-beta',
        '  title "val_loss: % change vs parent (bars), kept compounded (line)"',
        '  x-axis "experiment" [0, 1, 2, 3, 4]',
        '  y-axis "% change in val_loss (lower is better)" -25 --> 5',
        '  bar [0, -10, 2.222, 0, -11.11]',
        '  line [0, -10, -10, -10, -20]',
        '```',
      ].join('\n'),
    );
    expect(text).toContain('Kept: experiments 1, 4. No value for experiment 3 (crashed or invalid): bar drawn at 0%.');
  });

  it('never charts a discarded candidate as beating the kept line when only the runner got faster', () => {
    // Experiment 2's candidate measured 92.4, below the kept 109.5, because its parent measured 154.2 beside it:
    // a change of −40.1%, less than experiment 1's −45.25%, and within the noise.
    const base = fakeSha(0, 'b');
    const state = makeAppRunState({
      metric: { name: 'sort_ms', goal: 'minimize' },
      experiments: [
        makeAppExperiment({ k: 1, state: 'kept', parentSha: base, baseline: 200, candidate: 109.5, delta: -90.5, deltaRelative: -90.5 / 200, verdict: 'improved' }),
        makeAppExperiment({ k: 2, state: 'discarded', parentSha: fakeSha(1, 'f'), baseline: 154.2, candidate: 92.4, delta: -61.8, deltaRelative: -61.8 / 154.2, verdict: 'no-change' }),
        makeAppExperiment({ k: 3, state: 'needs-review', parentSha: fakeSha(1, 'f'), baseline: 110, candidate: 40, delta: -70, deltaRelative: -70 / 110, verdict: 'improved' }),
      ],
    });
    const text = renderDashboard(state, { configSummary: [] });
    const series = (kind: string) => JSON.parse(rowOf(text, `  ${kind} [`).slice(kind.length + 3)) as number[];
    const bars = series('bar');
    const line = series('line');
    expect(bars).toEqual([0, -45.25, -40.08, -63.64]);
    expect(line).toEqual([0, -45.25, -45.25, -45.25]);
    expect(bars[2]).toBeGreaterThan(line[2]!);
    expect(text).not.toMatch(/bar \[[^\]]*92\.4/);
    // Better beyond the noise but not kept (left for a human) is named apart from the discard within the noise.
    expect(text).toContain('Better but not kept (the table says why): experiment 3. Discarded on the better side of 0%, within the noise or below `min_effect`: experiment 2.');
  });

  it('has one table row per experiment: hypothesis, metric, Δ vs parent, verdict or state word, links', () => {
    const text = dashboard();
    expect(text).toContain('| k | hypothesis | metric | Δ vs parent | verdict | links |\n| ---: | --- | ---: | ---: | --- | --- |\n');
    expect(rowOf(text, '| 1 |')).toBe(
      '| 1 | lr 0.01 → 0.02 | 0.45 | −0.05 (−10%) | kept (improved) | #21 · [proposal](https://github.com/octo/model/actions/runs/101) · [evaluation](https://github.com/octo/model/actions/runs/201) · [artifact](https://github.com/octo/model/actions/runs/201/artifacts/301) |',
    );
    expect(cells(rowOf(text, '| 2 |')).slice(0, 5)).toEqual(['2', 'batch 32 → 64', '0.46', '+0.01 (+2.22%)', 'discarded (no-change)']);
    expect(cells(rowOf(text, '| 3 |')).slice(0, 5)).toEqual(['3', 'warmup 0 → 100 — the evaluator crashed (exit code 1)', '—', '—', 'invalid']);
    expect(cells(rowOf(text, '| 4 |')).slice(0, 5)).toEqual(['4', 'dropout 0.1 → 0.2', '**0.4**', '−0.05 (−11.1%)', 'kept (improved)']);
    expect(rowOf(text, '| 5 |')).toBe('| 5 | weight decay 0 → 0.01 | — | — | evaluating… | #25 · [proposal](https://github.com/octo/model/actions/runs/105) |');
    const proposing = renderDashboard(makeAppRunState({ experiments: [{ k: 1, state: 'proposing', parentSha: fakeSha(0, 'b'), dispatchedAt: 'now' }] }), { configSummary: [] });
    expect(rowOf(proposing, '| 1 |')).toBe('| 1 | — | — | — | proposing… | — |');
  });

  it('says stopping and why while experiments are in flight, and finished with the reason', () => {
    const stopping = renderDashboard(makeAppRun({ status: 'stopping', stopReason: 'stopped by @octocat' }), { configSummary: [] });
    expect(rowOf(stopping, '**Status:**')).toBe('**Status:** stopping: stopped by @\u200boctocat; waiting for 1 experiment in flight.');
    const finished = renderDashboard(makeAppRun({ status: 'finished', stopReason: 'budget spent: 5 experiments' }), { configSummary: [] });
    expect(rowOf(finished, '**Status:**')).toBe('**Status:** finished: budget spent: 5 experiments.');
  });

  it("leads with CI's evaluation of the run head against the base branch, with its interval: the run's headline figure", () => {
    const head = fakeSha(4, 'e');
    const confirmation = makeRunConfirmation(head);
    const finished = makeAppRun({ status: 'finished', stopReason: 'budget spent: 5 experiments', runHead: { sha: head } });
    const text = (state: Parameters<typeof renderDashboard>[0]) => renderDashboard(state, { configSummary: [] }).split('\n').slice(0, 7);
    expect(text({ ...finished, confirmation })).toEqual([
      '## autoloop: minimize `val_loss`',
      '',
      '**Status:** finished: budget spent: 5 experiments.',
      '',
      '**Result against `main`:** **−0.1 (−20%)**, 90% [−0.12, −0.08] (improved): `val_loss` 0.5 → 0.4, the run head `e000004` against `main` at `b000000` ([evaluation](https://github.com/octo/model/actions/runs/900)).',
      '',
      expect.stringMatching(/^\*\*Results:\*\* best so far \*\*0\.4\*\*/),
    ]);
    // Finished and not yet measured as a whole: it says what it waits for.
    expect(text(finished)[4]).toBe('**Result against `main`:** waiting for CI to evaluate the run head against `main`.');
    // An evaluation of an earlier head says so; one that could not be verified says why, with no figure.
    expect(text({ ...finished, runHead: { sha: fakeSha(5, 'e') }, confirmation })[4]).toContain('; the run branch has moved since, so CI measures its new head.');
    const invalid = { headSha: head, baseSha: fakeSha(0, 'b'), verdict: 'invalid' as const, reason: 'the evaluation workflow ended: failure' };
    expect(text({ ...finished, confirmation: invalid })[4]).toBe('**Result against `main`:** the evaluation of the run head `e000004` against `main` at `b000000` is invalid: the evaluation workflow ended: failure.');
    // While the run goes on, nothing stands in for it.
    expect(renderDashboard(makeAppRun(), { configSummary: [] })).not.toContain('**Result against');
  });

  it('renders a run with no experiments yet', () => {
    const text = renderDashboard(makeAppRunState({ goalText: '  ' }), { configSummary: [] });
    expect(rowOf(text, '**Results:**')).toBe('**Results:** 0 experiments decided: 0 kept, 0 discarded, 0 invalid, 0 waiting for review.');
    expect(text).toContain('### Goal\n\n_No goal text: minimize `val_loss` as configured._\n');
    expect(text).toContain('_No measured val_loss to chart yet._');
    expect(text).toContain('### Experiments\n\n_No experiment dispatched yet._\n');
    expect(text).not.toContain('### Config');
  });

  it('neutralises hostile goal, hypothesis and reason: no comment, no marker, no mention, no HTML, no extra cell', () => {
    const state = makeAppRun({ goalText: `${HOSTILE}\nsecond line @team`, startedBy: 'octocat' });
    const hostile = withExperiment(state, 2, { hypothesis: HOSTILE, reason: `@everyone --> | ${HOSTILE}` });
    const dashboard = renderDashboard(hostile, { configSummary: [HOSTILE] });
    expect(dashboard).not.toContain('<!--');
    expect(dashboard.replace(/ --> /g, '')).not.toContain('-->'); // only the chart's own y-axis arrow remains
    expect(dashboard).not.toMatch(/<img|@everyone|@team/);
    expect(dashboard).toContain('@\u200beveryone');
    expect(dashboard).toContain('&lt;img src=x onerror=alert(1)>');
    expect(decodeState(dashboard)).toBeNull();
    expect(cells(rowOf(dashboard, '| 2 |'))).toHaveLength(6);
    expect(dashboard).toContain('> second line @\u200bteam');

    const body = renderRunPullRequestBody(hostile, { configSummary: [HOSTILE] });
    expect(body.match(/<!--/g)).toHaveLength(1);
    expect(decodeState(body)).toEqual(hostile);
  });

  it('stays under its limit for a run of 1,500 experiments, keeping the top and closing what it cut', () => {
    const experiments: AppExperiment[] = Array.from({ length: 1_500 }, (_, i) =>
      makeAppExperiment({
        k: i + 1,
        state: i % 7 === 0 ? 'kept' : i % 11 === 0 ? 'invalid' : 'discarded',
        parentSha: fakeSha(i, 'f'),
        hypothesis: `learning rate ${(0.001 * (i + 1)).toFixed(4)} → ${(0.0013 * (i + 1)).toFixed(4)}, warmup ${i} steps | and a long tail of words to fill the cell`,
        baseline: 0.5 - i / 1e5,
        candidate: 0.5 - i / 1e5 - (i % 3) / 1e3,
        delta: -(i % 3) / 1e3,
        deltaRelative: -(i % 3) / 500,
        verdict: 'no-change',
        evaluationRun: `https://github.com/octo/model/actions/runs/${2_000_000 + i}`,
        artifact: `https://github.com/octo/model/actions/runs/${2_000_000 + i}/artifacts/${30_000 + i}`,
      }),
    );
    const state = makeAppRunState({ budget: { experiments: 2_000, parallel: 4, maxFailures: 5 }, experiments });
    const text = renderDashboard(state, { configSummary: CONFIG_SUMMARY, links: { workflowRuns: RUNS_URL } });
    expect(text.length).toBeLessThanOrEqual(DASHBOARD_LIMIT);
    expect(text.startsWith('## autoloop: minimize `val_loss`\n')).toBe(true);
    expect(text).toMatch(/\n\n… truncated: [\d,]+ more characters\. \[all autoloop workflow runs\]\(https:\/\/github\.com\/octo\/model\/actions\/workflows\/autoloop\.yml\)\n$/);
    expect((text.match(/^```/gm) ?? []).length % 2).toBe(0);
    // Such a state cannot be stored in a pull request body at all: the App hears so rather than losing it.
    expect(() => renderRunPullRequestBody(state, { configSummary: CONFIG_SUMMARY })).toThrow(StateError);
  });

  it('fits the dashboard and the state marker of a long run in one body that decodes, cutting the dashboard to the room left', () => {
    const experiments = Array.from({ length: 250 }, (_, i) =>
      makeAppExperiment({ k: i + 1, state: 'discarded', hypothesis: `try ${i} `.repeat(20), baseline: 0.5, candidate: 0.5 + i / 1e4, delta: i / 1e4, deltaRelative: i / 5e3, verdict: 'no-change', reason: 'within the noise' }),
    );
    const state = makeAppRunState({ budget: { experiments: 300, parallel: 2, maxFailures: 5 }, experiments });
    const body = renderRunPullRequestBody(state, { configSummary: CONFIG_SUMMARY });
    expect(encodeState(state).length).toBeGreaterThan(GITHUB_BODY_LIMIT - DASHBOARD_LIMIT);
    expect(body.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT);
    expect(body).toMatch(/\n\n… truncated: [\d,]+ more characters\.\n\n<!-- autoloop:state v1 /);
    expect(body.endsWith(`\n\n${encodeState(state)}\n`)).toBe(true);
    expect(decodeState(body)).toEqual(state);
  });
});
