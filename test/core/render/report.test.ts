import { describe, expect, it } from 'vitest';
import { experimentWhy, renderMarkdownReport, renderResultsTsv, summarizeRun } from '../../../src/core/render/report.js';
import { makeConfirmation, makeExperiment, makeJudgement, makeLedger, makeRun } from '../../fixtures/records/ledger.js';
import { cells, makeNoisyLedger, rowOf } from './helpers.js';

describe('summarizeRun', () => {
  it('summarises the hand-made ledger', () => {
    const { run, experiments } = makeLedger();
    const summary = summarizeRun(run, experiments);
    expect(summary).toMatchObject({
      baseline: 0.5,
      best: 0.4,
      bestExperiment: 4,
      experiments: 6,
      counts: { keep: 2, discard: 2, crash: 1, invalid: 1 },
    });
    expect(summary.improvement).toBeCloseTo(-0.1, 12);
    expect(summary.improvementRelative).toBeCloseTo(-0.2, 12);
    expect(summary.keepRate).toBeCloseTo(1 / 3, 12);
  });

  it('does not depend on the order of the records', () => {
    const { run, experiments } = makeLedger();
    expect(summarizeRun(run, [...experiments].reverse())).toEqual(summarizeRun(run, experiments));
  });

  it('takes the run head as best: the last kept experiment, whatever an earlier step measured', () => {
    const run = makeRun({ metric: { name: 'accuracy', goal: 'maximize' } });
    const summary = summarizeRun(run, [
      makeExperiment({ experiment: 0, metric: -2 }),
      makeExperiment({ experiment: 1, metric: -1 }),
      makeExperiment({ experiment: 2, status: 'discard', metric: 5 }),
      // Kept against its own parent, measured again lower: it is still what the run branch holds.
      makeExperiment({ experiment: 3, metric: -1.5 }),
      makeExperiment({ experiment: 4, status: 'discard', metric: -1.2 }),
    ]);
    expect(summary).toMatchObject({ baseline: -2, best: -1.5, bestExperiment: 3, improvement: 0.5, improvementRelative: 0.25, keepRate: 2 / 4 });
  });

  it('handles an empty ledger and a failed baseline', () => {
    expect(summarizeRun(makeRun(), [])).toEqual({
      baseline: null,
      best: null,
      bestExperiment: null,
      improvement: null,
      improvementRelative: null,
      experiments: 0,
      counts: { keep: 0, discard: 0, crash: 0, invalid: 0 },
      keepRate: null,
      confirmation: null,
    });
    const failed = summarizeRun(makeRun(), [makeExperiment({ experiment: 0, status: 'crash' })]);
    expect(failed).toMatchObject({ baseline: null, best: null, improvement: null, experiments: 0 });
  });

  it('has no relative change against a zero baseline', () => {
    const summary = summarizeRun(makeRun(), [makeExperiment({ experiment: 0, metric: 0 }), makeExperiment({ experiment: 1, metric: -1 })]);
    expect(summary.improvement).toBe(-1);
    expect(summary.improvementRelative).toBeNull();
  });
});

describe('renderResultsTsv', () => {
  it('writes the header with guards and one row per experiment', () => {
    const { run, experiments } = makeLedger();
    const lines = renderResultsTsv(run, experiments).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe('experiment\tcommit\tval_loss\ttrain_seconds\tparent\tdelta\tinterval\tstatus\tverdict\twhy\tdescription');
    expect(lines).toHaveLength(experiments.length + 2);
    // The baseline has no parent.
    expect(lines[1]).toBe(`0\t${run.baseCommit.slice(0, 7)}\t0.5\t0.8\t\t\t\tkeep\t\t\tbaseline`);
    expect(lines[2]).toBe('1\td000001\t0.45\t0.81\t0.5\t-0.05\tsingle run, no noise estimate\tkeep\timproved\tbetter by more than min_effect\tlearning_rate 0.003 → 0.01');
    // Discarded: the measured candidate's commit.
    expect(lines[3]).toBe('2\tc000002\t0.47\t0.82\t0.45\t0.02\tsingle run, no noise estimate\tdiscard\tregressed\tworse by more than min_effect\thidden_units 16 → 32');
    // Crashed: nothing measured, empty cells, and why.
    expect(lines[4]).toBe('3\tc000003\t\t\t\t\t\tcrash\t\ttraining diverged\tlearning_rate 0.01 → 0.9');
    for (const line of lines.slice(0, -1)) expect(line.split('\t')).toHaveLength(11);
  });

  it('keeps ~6 significant digits and one line per row', () => {
    const run = makeRun();
    const tsv = renderResultsTsv(run, [
      makeExperiment({ experiment: 1, metric: 0.0123456789, description: 'a\tb\nc\r\nd' }),
      makeExperiment({ experiment: 2, metric: 123456789.123, candidateCommit: null, keptCommit: null }),
    ]);
    const [, first, second] = tsv.split('\n');
    expect(first).toBe('1\td000001\t0.0123457\t\t\t\tkeep\t\t\ta b c d');
    // No judgement: against the last kept value.
    expect(second).toBe('2\t\t123457000\t0.0123457\t123457000\t\tkeep\t\t\texperiment 2');
  });

  it('sorts rows by experiment number', () => {
    const { run, experiments } = makeLedger();
    const numbers = renderResultsTsv(run, [...experiments].reverse())
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => Number(line.split('\t')[0]));
    expect(numbers).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

describe('renderMarkdownReport', () => {
  it('writes the heading, the summary and a table row per experiment', () => {
    const { run, experiments } = makeLedger();
    const markdown = renderMarkdownReport(run, experiments, { chartPath: 'progress.svg' });
    expect(markdown).toContain('## autoloop: val_loss (minimize)');
    expect(markdown).toContain('- **Baseline → best:** `0.5` → `0.4` (experiment 4)');
    expect(markdown).toContain('- **Change:** −0.1 (−20%), better');
    expect(markdown).toContain('6 after the baseline: 2 kept, 2 discarded, 1 crashed, 1 invalid (keep rate 33.3%)');
    expect(markdown).toContain('single run, no noise estimate');
    expect(markdown).toContain('![val_loss over experiments](progress.svg)');

    const rows = markdown.split('\n').filter((line) => /^\| \d+ \|/.test(line));
    expect(rows).toHaveLength(7);
    expect(markdown).toContain('| # | status | metric | parent in this experiment | Δ vs parent | verdict | why | description |');
    expect(rows[0]).toBe('| 0 | kept | 0.5 | — | — | baseline | — | baseline |');
    expect(rows[1]).toBe('| 1 | kept | 0.45 | 0.5 | −0.05 (−10%) | improved† | better by more than min_effect | learning_rate 0.003 → 0.01 |');
    expect(rows[3]).toBe('| 3 | crashed | — | — | — | — | training diverged | learning_rate 0.01 → 0.9 |');
    // The best experiment's metric is bold.
    expect(rows[4]).toContain('| **0.4** |');
  });

  it('escapes pipes and line breaks in table cells', () => {
    const run = makeRun();
    const markdown = renderMarkdownReport(run, [
      makeExperiment({ experiment: 0, metric: 1 }),
      makeExperiment({ experiment: 1, metric: 0.9, description: 'a | b\nc \\ d' }),
    ]);
    const row = markdown.split('\n').find((line) => line.startsWith('| 1 |'))!;
    expect(row).toContain('a \\| b c \\\\ d');
    // Nine unescaped pipes: eight cells.
    expect(row.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|')).toHaveLength(10);
  });

  it('compares with the last kept value, and says so, when a record has no judgement', () => {
    const markdown = renderMarkdownReport(makeRun(), [
      makeExperiment({ experiment: 0, metric: 2 }),
      makeExperiment({ experiment: 1, status: 'discard', metric: 3 }),
    ]);
    expect(markdown).toContain('| 1 | discarded | 3 | 2 (as kept) | +1 (+50%) | — | — | experiment 1 |');
    expect(markdown).not.toContain('no noise estimate');
  });

  it('marks suspicious verdicts and leaves out the single-run note when there is an interval', () => {
    const judgement = makeJudgement(1, 0.2, { singleRun: false, suspicious: true, keep: false, interval: { low: -0.9, high: -0.7, level: 0.95, method: 't' } });
    const markdown = renderMarkdownReport(makeRun(), [
      makeExperiment({ experiment: 0, metric: 1 }),
      makeExperiment({ experiment: 1, status: 'discard', metric: 0.2, judgement }),
    ]);
    expect(markdown).toContain('| improved (95% interval −90% to −70%) ⚠ suspicious | better beyond the noise, but gain beyond suspicious_effect: a human must look |');
    expect(markdown).not.toContain('†');
  });

  it('reports a maximised metric that got better as a rise', () => {
    const run = makeRun({ metric: { name: 'accuracy', goal: 'maximize' } });
    const markdown = renderMarkdownReport(run, [makeExperiment({ experiment: 0, metric: 0.8 }), makeExperiment({ experiment: 1, metric: 0.9 })]);
    expect(markdown).toContain('## autoloop: accuracy (maximize)');
    expect(markdown).toMatch(/- \*\*Change:\*\* \+0\.1 \(\+12\.5%\), better/);
  });

  it('renders a run whose baseline failed', () => {
    const markdown = renderMarkdownReport(makeRun(), [makeExperiment({ experiment: 0, status: 'crash', reason: 'exit 1' })]);
    expect(markdown).toContain('- **Baseline:** not measured');
    expect(markdown).toContain('keep rate n/a');
    expect(markdown).toContain('| 0 | crashed | — | — | — | baseline | exit 1 | baseline |');
  });
});

describe('the confirmation in the summary and the report', () => {
  it('leads the report when it confirms the head, and turns baseline → best into the chain of steps', () => {
    const { run, experiments } = makeLedger();
    const markdown = renderMarkdownReport(run, experiments, { confirmation: makeConfirmation() });
    const bullets = markdown.split('\n').filter((line) => line.startsWith('- **'));
    expect(bullets[0]).toBe('- **Confirmation:** val_loss: base 0.5 → run head 0.42 (−16%, 90% [−0.1, −0.06]), confirmed (measured again side by side, 3 runs per side)');
    expect(bullets[1]).toBe('- **Baseline → best during the run:** `0.5` → `0.4` (experiment 4)');
    expect(summarizeRun(run, experiments, makeConfirmation()).confirmation).toMatchObject({ status: 'confirmed', base: 0.5, head: 0.42, runsPerSide: 3 });
  });

  it('says NOT confirmed with the reasons, and could-not-measure with why', () => {
    const { run, experiments } = makeLedger();
    const not = makeConfirmation({ status: 'not-confirmed', reason: 'the 90% interval of the delta includes zero <b>@team</b>' });
    const markdown = renderMarkdownReport(run, experiments, { confirmation: not });
    // Reasons can quote an evaluator: neutralised like any other prose.
    expect(markdown).toContain('NOT confirmed (measured again side by side, 3 runs per side): the 90% interval of the delta includes zero &lt;b>@\u200bteam&lt;/b>');
    const invalid = makeConfirmation({ status: 'invalid', judgement: null, reason: 'the run branch autoloop/x/run is gone' });
    expect(renderMarkdownReport(run, experiments, { confirmation: invalid })).toContain('- **Confirmation:** val_loss: base → run head could not be measured again: the run branch autoloop/x/run is gone');
  });

  it('ignores a confirmation of another head: experiments followed it', () => {
    const { run, experiments } = makeLedger();
    const stale = makeConfirmation({ headCommit: 'f'.repeat(40) });
    expect(summarizeRun(run, experiments, stale).confirmation).toBeNull();
    expect(renderMarkdownReport(run, experiments, { confirmation: stale })).toContain('- **Baseline → best:**');
  });
});

describe('each experiment against its parent as measured in it', () => {
  it('shows the parent as measured, the change with its interval, the verdict and why, in report.md', () => {
    const { run, experiments } = makeNoisyLedger();
    const markdown = renderMarkdownReport(run, experiments);
    expect(markdown).toContain('| # | status | metric | parent in this experiment | Δ vs parent | verdict | why | description |\n| ---: | --- | ---: | ---: | ---: | --- | --- | --- |\n');
    expect(rowOf(markdown, '| 0 |')).toBe('| 0 | kept | 200 | — | — | baseline | — | baseline |');
    expect(rowOf(markdown, '| 1 |')).toBe('| 1 | kept | **109.5** | 200 | −90.5 (−45.3%) | improved (90% interval −50% to −40%) | better beyond the noise | insertion sort below 16 items |');
    // Below the best as kept (109.5), but measured against its parent at 154.2 in the same experiment: within the noise.
    expect(rowOf(markdown, '| 2 |')).toBe('| 2 | discarded | 92.4 | 154.2 | −61.8 (−40.1%) | no-change (90% interval −61% to +4%) | within the noise | merge threshold 32 |');
    expect(rowOf(markdown, '| 3 |')).toBe(
      '| 3 | discarded | 98 | 110 | −12 (−10.9%) | improved (90% interval −13% to −9.1%) | better beyond the noise, but guard heap_mb regressed by +44.1% | cache the pivots |',
    );
    // A crash says why in full, its log included, and no longer inside the description.
    expect(cells(rowOf(markdown, '| 4 |'))[6]).toBe(
      "candidate run 1: evaluate.command exited with code 1: SyntaxError: Unexpected token '}' \\| at parse (/repo/sort.js:3:9) (log: .autoloop/demo/traces/exp-0004/candidate-1.log)",
    );
    expect(cells(rowOf(markdown, '| 4 |'))[7]).toBe('parallel merge');
  });

  it('adds the parent, the delta with its interval, the verdict and why to results.tsv', () => {
    const { run, experiments } = makeNoisyLedger();
    const lines = renderResultsTsv(run, experiments).split('\n');
    expect(lines[0]).toBe('experiment\tcommit\tsort_ms\theap_mb\tparent\tdelta\tinterval\tstatus\tverdict\twhy\tdescription');
    expect(lines[3]).toBe('2\tc000002\t92.4\t\t154.2\t-61.8\t90% [-94.06, 6.168]\tdiscard\tno-change\twithin the noise\tmerge threshold 32');
    expect(lines[5]).toMatch(/^4\tc000004\t\t\t\t\t\tcrash\t\tcandidate run 1: evaluate\.command exited with code 1: .* \(log: \.autoloop\/demo\/traces\/exp-0004\/candidate-1\.log\)\tparallel merge$/);
  });
});

describe('experimentWhy', () => {
  const judged = (partial: Parameters<typeof makeJudgement>[2], record: Parameters<typeof makeExperiment>[0] = {}) =>
    experimentWhy(makeExperiment({ experiment: 1, status: 'discard', judgement: makeJudgement(1, 0.9, { keep: false, ...partial }), ...record }));
  const interval = { low: -0.2, high: 0.05, level: 0.9, method: 'paired t' };

  it('says the decisive reason in a few words', () => {
    expect(judged({ verdict: 'no-change', singleRun: false, interval })).toBe('within the noise');
    expect(judged({ verdict: 'no-change', singleRun: false, interval: { ...interval, high: -0.01 } })).toBe('beyond the noise, but smaller than min_effect');
    expect(judged({ verdict: 'no-change' })).toBe('smaller than min_effect');
    expect(judged({ verdict: 'regressed', singleRun: false, interval: { ...interval, low: 0.1, high: 0.2 } })).toBe('worse beyond the noise');
    expect(judged({ verdict: 'improved' }, { status: 'keep' })).toBe('better by more than min_effect');
  });

  it('names what held a better candidate back: a regressed guard, a suspicious gain, a stale parent', () => {
    const suspicious = "gain beyond suspicious_effect against the run's base (−78%: 1 → 0.22, more than 50%): a human must look before it is kept";
    expect(judged({ verdict: 'improved', suspicious: true, reasons: ['better by 0.1 (−10%)', suspicious] }, { reason: `better by 0.1 (−10%); ${suspicious}` })).toBe(
      `better by more than min_effect, but ${suspicious}`,
    );
    expect(judged({ verdict: 'improved', guards: [{ name: 'mem', goal: 'minimize', baseline: 1, candidate: 2, regression: 1, held: false }] })).toBe(
      'better by more than min_effect, but guard mem regressed by +100%',
    );
    expect(judged({ verdict: 'improved', suspicious: true, reasons: [suspicious] }, { status: 'keep', reason: suspicious })).toBe(
      'better by more than min_effect; beyond suspicious_effect, kept with --accept-suspicious',
    );
    expect(judged({ verdict: 'improved', keep: true }, { reason: 'stale: measured on d000000 (−10% against it), but 1 experiment was kept while it ran' })).toBe(
      'better by more than min_effect; stale: measured on d000000 (−10% against it), but 1 experiment was kept while it ran',
    );
  });

  it('is the failure for a crashed or invalid experiment, and nothing for the baseline', () => {
    expect(experimentWhy(makeExperiment({ experiment: 2, status: 'crash', reason: 'evaluate.command exited with code 1 \x1b[31m(log: x)' }))).toBe('evaluate.command exited with code 1 (log: x)');
    expect(experimentWhy(makeExperiment({ experiment: 0 }))).toBeNull();
  });
});
