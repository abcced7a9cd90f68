import { describe, expect, it } from 'vitest';
import {
  DASHBOARD_LIMIT,
  neutralize,
  renderDashboard,
  renderExperimentComment,
  renderGateOutput,
  renderRefusal,
  renderRunPullRequestBody,
  renderStatusComment,
} from '../../../src/core/render/app-render.js';
import { EXPERIMENT_MARKER, GATE_CHECK_NAME, STATUS_MARKER } from '../../../src/core/protocol/protocol.js';
import { decodeState, encodeState, StateError } from '../../../src/core/app/state-codec.js';
import { withExperiment, type AppExperiment } from '../../../src/core/app/state.js';
import { SINGLE_RUN_NOTE, UNPAIRED_NOTE } from '../../../src/core/judge/judge.js';
import type { Judgement } from '../../../src/core/ledger/records.js';
import type { ResultDocument } from '../../../src/core/result/result.js';
import { GITHUB_BODY_LIMIT } from '../../../src/core/render/truncate.js';
import { makeAppExperiment, makeAppRun, makeAppRunState } from '../../fixtures/app-state.js';
import { fakeSha, makeJudgement } from '../../fixtures/ledger.js';
import { makeResultDocument } from '../../fixtures/result.js';

const ISSUE_URL = 'https://github.com/octo/model/issues/12';
const RUNS_URL = 'https://github.com/octo/model/actions/workflows/autoloop.yml';
const PR_URL = 'https://github.com/octo/model/pull/20';
const CONFIG_SUMMARY = ['evaluate: `node eval.js`, 3 repeats, timeout 5m', 'scope: edit params.json'];
const LINKS = { proposalRun: 'https://github.com/octo/model/actions/runs/101', evaluationRun: 'https://github.com/octo/model/actions/runs/201', artifact: 'https://github.com/octo/model/actions/runs/201/artifacts/301' };

/** Text that tries everything: end a comment, forge the state marker, ping everyone, break a table, open HTML. */
const HOSTILE = `--> <!-- autoloop:state v1 ${encodeState(makeAppRunState({ issue: 666 })).slice(23, -4)} --> @everyone | <img src=x onerror=alert(1)> <!-- autoloop:status -->`;

/** A judgement as the document stores it (through JSON). */
function stored(judgement: Judgement): Record<string, unknown> {
  return JSON.parse(JSON.stringify(judgement)) as Record<string, unknown>;
}

/** The document's default judgement with `partial` over it, as the document stores it. */
function documentWith(partial: Partial<Judgement>, document: Partial<ResultDocument> = {}): ResultDocument {
  const base = makeResultDocument();
  return makeResultDocument({ judgement: { ...base.judgement, ...stored(partial as Judgement) }, verdict: partial.verdict ?? base.verdict, ...document });
}

/** The cells of a Markdown table row, split at unescaped pipes. */
function cells(row: string): string[] {
  return row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
}

function rowOf(text: string, start: string): string {
  return text.split('\n').find((line) => line.startsWith(start)) ?? '';
}

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

  it('charts the baseline and every decided experiment with the running best', () => {
    const text = dashboard();
    expect(text).toContain(
      [
        '```mermaid',
        'xychart-beta',
        '  title "autoloop #12: val_loss"',
        '  x-axis "experiment" [0, 1, 2, 3, 4]',
        '  y-axis "val_loss (lower is better)" 0.38 --> 0.52',
        '  bar [0.5, 0.45, 0.46, 0.45, 0.4]',
        '  line [0.5, 0.45, 0.45, 0.45, 0.4]',
        '```',
      ].join('\n'),
    );
    expect(text).toContain('No value for experiment 3 (crashed or invalid)');
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

describe('renderStatusComment', () => {
  it('starts with its marker and says the state, the experiments done, the best against the baseline and the run pull request', () => {
    expect(renderStatusComment(makeAppRun(), PR_URL)).toBe(
      [
        STATUS_MARKER,
        '**autoloop is running.** Minimize `val_loss`: 4 of 5 experiments done, 1 in flight.',
        '',
        'Best so far **0.4** (experiment 4) against the baseline 0.5: −0.1 (−20%).',
        '',
        `Progress, every experiment and its evidence: [run pull request #20](${PR_URL}).`,
        '',
        'Comment `/optimize stop` to stop after the experiments in flight.',
        '',
      ].join('\n'),
    );
  });

  it('reads well before the first measurement and once finished', () => {
    const starting = renderStatusComment(makeAppRunState({ pullRequest: null }), null);
    expect(starting).toContain('**autoloop is running.** Minimize `val_loss`: 0 of 5 experiments done.\n\nNo measurement yet.\n\nThe run pull request is being opened.\n');
    const finished = renderStatusComment(makeAppRun({ status: 'finished', stopReason: 'stopped by @octocat <b>' }), PR_URL);
    expect(finished.split('\n')[1]).toBe('**autoloop is finished (stopped by @\u200boctocat &lt;b>).** Minimize `val_loss`: 4 of 5 experiments done, 1 in flight.');
    expect(finished).not.toContain('/optimize stop');
  });
});

describe('renderExperimentComment', () => {
  const state = makeAppRun();
  const kept = withExperiment(state, 1, { baseline: 0.5, candidate: 0.4, delta: -0.1, deltaRelative: -0.2 });
  const comment = (partial: Partial<Parameters<typeof renderExperimentComment>[0]> = {}) =>
    renderExperimentComment({ state: kept, experiment: kept.experiments[0]!, document: makeResultDocument(), links: LINKS, ...partial });

  it('shows baseline, candidate, delta, interval, guards, runs, verdict, what the App did and the links', () => {
    expect(comment()).toBe(
      [
        EXPERIMENT_MARKER,
        '### autoloop experiment 1 of 5: kept',
        '',
        '> lr 0.01 → 0.02',
        '',
        '`val_loss` (lower is better), head `c000002` against base `b000001`.',
        '',
        '| | baseline | candidate | delta |',
        '| --- | ---: | ---: | ---: |',
        '| **val_loss** (mean) | 0.5 | 0.4 | −0.1 (−20%) |',
        '| interval | | | 90% [−0.12, −0.08] (paired t; each end a one-sided 95% bound) |',
        '| peak_mem_mb (guard, minimize) | 100 | 105 | +5 (+5%), held |',
        '| runs (3 per side) | 3 of 3 valid | 3 of 3 valid | paired |',
        '',
        '**Verdict:** improved.',
        '',
        '**Why:** better by 0.1 (−20%).',
        '',
        '**What autoloop did:** kept: merged into `autoloop/12/run`; the next experiments start from it.',
        '',
        `[proposal trace](${LINKS.proposalRun}) · [evaluation run](${LINKS.evaluationRun}) · [result and logs](${LINKS.artifact})`,
        '',
      ].join('\n'),
    );
  });

  it('says "single run, no noise estimate" and unpaired when so measured', () => {
    const single = makeResultDocument({
      repeats: 1,
      baseline: 'cached',
      judgement: stored(makeJudgement(0.5, 0.4, { paired: false })),
      samples: { baseline: { val_loss: [0.5] }, candidate: { val_loss: [0.4] } },
      runs: [],
      guards: [],
    });
    const text = comment({ document: single });
    expect(rowOf(text, '| interval')).toBe(`| interval | | | ${SINGLE_RUN_NOTE} |`);
    expect(rowOf(text, '| runs')).toBe(`| runs (1 per side) | 1 valid (cached) | 1 valid | ${UNPAIRED_NOTE} |`);
    expect(text).toContain(`**Verdict:** improved (${SINGLE_RUN_NOTE}).`);
  });

  it('says what the App did for each outcome', () => {
    const did = (experiment: AppExperiment) => rowOf(comment({ experiment }), '**What autoloop did:**');
    const base = kept.experiments[0]!;
    expect(did({ ...base, state: 'discarded' })).toBe('**What autoloop did:** discarded: closed without merging; `autoloop/12/run` is unchanged.');
    expect(did({ ...base, state: 'invalid' })).toBe('**What autoloop did:** not kept (invalid): closed without merging; `autoloop/12/run` is unchanged.');
    expect(did({ ...base, state: 'needs-review' })).toBe('**What autoloop did:** needs review: left open for a human to merge into `autoloop/12/run` or close.');
    expect(did({ ...base, state: 'evaluating' })).toBe('**What autoloop did:** nothing yet: evaluating….');
  });

  it('shows a regressed guard, a suspicious gain, scope violations and the verdict override', () => {
    const document = documentWith(
      { suspicious: true, guards: [{ name: 'peak_mem_mb', goal: 'minimize', baseline: 100, candidate: 130, regression: 0.3, held: false }], reasons: ['guard peak_mem_mb regressed by +30%'] },
      { scopeViolations: [{ path: 'eval/run.py', change: 'modified', rule: 'protected', pattern: 'eval/**' }] },
    );
    const experiment: AppExperiment = { ...kept.experiments[0]!, state: 'invalid', verdict: 'invalid', reason: 'out of scope: eval/run.py' };
    const text = comment({ document, experiment, verdictOverride: 'verification failed: changed after evaluation' });
    expect(rowOf(text, '| peak_mem_mb')).toBe('| peak_mem_mb (guard, minimize) | 100 | 130 | +30 (+30%), regressed |');
    expect(text).toContain('**Verdict:** verification failed: changed after evaluation (suspicious: the gain is beyond `suspicious_effect`, a human must look).');
    expect(text).toContain('**Why:** guard peak_mem_mb regressed by +30%; out of scope: eval/run.py.');
    expect(text).toContain('**Out of scope:** 1 path the proposal may not change:\n\n- `eval/run.py` (modified): protected by `eval/**`\n');
  });

  it("prefers the App's own judgement to the document's", () => {
    const judgement = makeJudgement(0.5, 0.49, { verdict: 'no-change', keep: false, reasons: ['within the noise'] });
    const experiment: AppExperiment = { ...kept.experiments[0]!, state: 'discarded', verdict: undefined };
    const text = comment({ judgement, experiment });
    expect(rowOf(text, '| **val_loss**')).toBe('| **val_loss** (mean) | 0.5 | 0.49 | −0.01 (−2%) |');
    expect(text).toContain(`**Verdict:** no-change (${SINGLE_RUN_NOTE}).`);
    expect(text).toContain('**Why:** within the noise.');
  });

  it('neutralises a hostile hypothesis and reasons, and works without a document or links', () => {
    const experiment = makeAppExperiment({ k: 2, state: 'invalid', hypothesis: HOSTILE, reason: HOSTILE, verdict: 'invalid' });
    const text = renderExperimentComment({ state, experiment, document: null, links: {} });
    expect(text.match(/<!--/g)).toEqual(['<!--']);
    expect(text.startsWith(EXPERIMENT_MARKER)).toBe(true);
    expect(text).not.toMatch(/<img|@everyone|<!-- autoloop:state/);
    expect(text).not.toContain('[proposal trace]');
    expect(rowOf(text, '| **val_loss**')).toBe('| **val_loss** (mean) | — | — | — |');
    expect(text).toContain('**Verdict:** invalid');
  });
});

describe('renderGateOutput', () => {
  const violation = (path: string) => ({ path, change: 'modified' as const, rule: 'protected' as const, pattern: 'eval/**' });

  it('is named autoloop/gate', () => {
    expect(GATE_CHECK_NAME).toBe('autoloop/gate');
  });

  it.each([
    ['a verified improvement', {}, 'success', 'val_loss −20% (improved)'],
    ['no change', { document: documentWith({ verdict: 'no-change', deltaRelative: -0.01, delta: -0.005 }) }, 'neutral', 'val_loss −1% (no change)'],
    ['a regression', { document: documentWith({ verdict: 'regressed', deltaRelative: 0.2, delta: 0.1 }) }, 'failure', 'val_loss +20% (regressed)'],
    ['an invalid result', { document: documentWith({ verdict: 'invalid', reasons: ['no valid candidate samples'] }) }, 'failure', 'invalid: no valid candidate samples'],
    [
      'a regressed guard',
      { document: documentWith({ guards: [{ name: 'peak_mem_mb', goal: 'minimize', baseline: 100, candidate: 130, regression: 0.3, held: false }] }) },
      'failure',
      'guard peak_mem_mb regressed',
    ],
    ['a suspicious gain', { document: documentWith({ suspicious: true }) }, 'neutral', 'val_loss −20% (suspicious: needs review)'],
    ['a change out of scope', { scopeViolations: [violation('eval/run.py')] }, 'failure', 'out of scope: eval/run.py'],
    ['many changes out of scope', { scopeViolations: ['a', 'b', 'c'].map(violation) }, 'failure', 'out of scope: a, b (+1 more)'],
    ['a failed verification', { verificationFailure: 'changed after evaluation' }, 'failure', 'changed after evaluation'],
    ['no result', { document: null }, 'failure', 'no result to verify'],
  ] as const)('concludes %s', (_name, input, conclusion, title) => {
    const output = renderGateOutput({ document: makeResultDocument(), ...input });
    expect(output.conclusion).toBe(conclusion);
    expect(output.title).toBe(title);
  });

  it('summarises the figures, the guards, the commits and the reasons', () => {
    expect(renderGateOutput({ document: makeResultDocument() }).summary).toBe(
      [
        '**success:** A verified improvement within scope, with every guard held.',
        '',
        '- `val_loss` (lower is better): 0.5 → 0.4, −0.1 (−20%); 90% interval [−0.12, −0.08]; 3 per side, paired.',
        '- guard `peak_mem_mb`: 100 → 105, held.',
        '- head `c000002` against base `b000001`.',
        '',
        '**Why:** better by 0.1 (−20%).',
        '',
      ].join('\n'),
    );
  });

  it("decides on the App's own judgement and scope check over the document's", () => {
    const judgement = makeJudgement(0.5, 0.6, { verdict: 'regressed', keep: false });
    expect(renderGateOutput({ document: makeResultDocument(), judgement })).toMatchObject({ conclusion: 'failure', title: 'val_loss +20% (regressed)' });
    const outOfScope = makeResultDocument({ scopeViolations: [violation('eval/run.py')] });
    expect(renderGateOutput({ document: outOfScope, scopeViolations: [] }).conclusion).toBe('success');
  });

  it('keeps titles short and free of comment delimiters, and neutralises paths in the summary', () => {
    const output = renderGateOutput({ document: makeResultDocument(), scopeViolations: [violation(`${'x'.repeat(150)}<!--@everyone-->`)] });
    expect(output.title.length).toBeLessThanOrEqual(100);
    expect(output.title).not.toContain('<!--');
    expect(output.summary).not.toMatch(/<!--|-->/);
  });
});

describe('renderRefusal', () => {
  it('tells a user without write access why', () => {
    expect(renderRefusal('permission', { user: 'mallory', permission: 'read' })).toBe(
      'Sorry, only people with write, maintain or admin permission on this repository can start autoloop; mallory has `read` permission. Ask a maintainer to comment `/optimize` instead.\n',
    );
  });

  it('quotes every config error as file:line: key: message', () => {
    const text = renderRefusal('config', {
      file: '.github/autoloop.yml',
      issues: [
        { file: '.github/autoloop.yml', path: 'metric.goal', line: 3, message: 'expected minimize or maximize, got "```lower"' },
        { file: '.github/autoloop.yml', path: '', line: null, message: 'unknown key <!-- x --> @everyone' },
      ],
    });
    expect(text).toBe(
      [
        'Sorry, autoloop cannot start: `.github/autoloop.yml` on the default branch is not valid.',
        '',
        '````text',
        '.github/autoloop.yml:3: metric.goal: expected minimize or maximize, got "```lower"',
        '.github/autoloop.yml: unknown key  x  @everyone',
        '````',
        '',
        "Fix it on the default branch, then comment `/optimize` again. See schema/autoloop.schema.json or the README's config section.",
        '',
      ].join('\n'),
    );
  });

  it('names the active run and how to stop it', () => {
    expect(renderRefusal('busy', { issue: 12, pullRequest: 20, url: PR_URL })).toBe(
      `A run is already active here: [run pull request #20](${PR_URL}), started on #12. Wait for it to finish, or comment \`/optimize stop\` on #12 to stop it, then ask again.\n`,
    );
    expect(renderRefusal('busy', { issue: 12, pullRequest: null })).toBe(
      'A run is already active here, started on #12. Wait for it to finish, or comment `/optimize stop` on #12 to stop it, then ask again.\n',
    );
  });
});

describe('neutralize', () => {
  it('removes comment delimiters even when removing one joins another, escapes what could start HTML and defuses mentions', () => {
    expect(neutralize('<!<!---->-- a --<!---->> @all && <b> &lt;')).toBe(' a  @\u200ball && &lt;b> &lt;');
    expect(neutralize('line 1\nline 2')).toBe('line 1\nline 2');
  });
});
