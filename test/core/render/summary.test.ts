import { describe, expect, it } from 'vitest';
import { SINGLE_RUN_NOTE, UNPAIRED_NOTE } from '../../../src/core/judge/judge.js';
import { parseResultDocument } from '../../../src/core/result/result.js';
import { renderResultSummary } from '../../../src/core/render/summary.js';
import { GITHUB_BODY_LIMIT } from '../../../src/core/render/truncate.js';
import { makeJudgement } from '../../fixtures/records/ledger.js';
import { makeResultDocument, makeResultRun } from '../../fixtures/records/result.js';

const RUN_URL = 'https://github.com/octo/model/actions/runs/7';
const ARTIFACT_URL = 'https://github.com/octo/model/actions/runs/7/artifacts/9';

/** The table row whose first cell starts with `label`. */
function row(summary: string, label: string): string {
  return summary.split('\n').find((line) => line.startsWith(`| ${label}`)) ?? '';
}

describe('renderResultSummary', () => {
  it('starts with the verdict and status, names the commits and links the run and artifact', () => {
    const doc = parseResultDocument(makeResultDocument());
    const summary = renderResultSummary(doc, { run: RUN_URL, artifact: ARTIFACT_URL });
    expect(summary.split('\n').slice(0, 5)).toEqual([
      '## autoloop: improved (KEEP)',
      '',
      '`val_loss` (lower is better), head `c000002` against base `b000001` in octo/model.',
      '',
      `[workflow run](${RUN_URL}) · [result and logs](${ARTIFACT_URL})`,
    ]);
  });

  it('tabulates baseline, candidate and delta with the interval, the guard and the runs', () => {
    const summary = renderResultSummary(makeResultDocument());
    expect(summary).toContain('| | baseline | candidate | delta |\n| --- | ---: | ---: | ---: |\n');
    expect(row(summary, '**val_loss**')).toBe('| **val_loss** (mean) | 0.5 | 0.4 | −0.1 (−20%) |');
    expect(row(summary, 'interval')).toBe('| interval | | | 90% [−0.12, −0.08] (paired t; each end a one-sided 95% bound) |');
    expect(row(summary, 'peak_mem_mb')).toBe('| peak_mem_mb (guard, minimize) | 100 | 105 | +5 (+5%), held |');
    expect(row(summary, 'runs')).toBe('| runs (3 per side) | 3 of 3 valid | 3 of 3 valid | paired |');
    expect(summary).toContain('**Why:** better by 0.1 (−20%).');
    expect(summary).not.toContain(SINGLE_RUN_NOTE);
  });

  it('marks a regressed guard', () => {
    const judgement = makeJudgement(0.5, 0.4, {
      guards: [{ name: 'peak_mem_mb', goal: 'minimize', baseline: 100, candidate: 150, regression: 0.5, held: false }],
    });
    const summary = renderResultSummary(makeResultDocument({ judgement: JSON.parse(JSON.stringify(judgement)) as Record<string, unknown> }));
    expect(row(summary, 'peak_mem_mb')).toBe('| peak_mem_mb (guard, minimize) | 100 | 150 | +50 (+50%), regressed |');
  });

  it('says "single run, no noise estimate" instead of an interval with one run per side', () => {
    const judgement = makeJudgement(0.5, 0.4);
    const doc = makeResultDocument({
      repeats: 1,
      judgement: JSON.parse(JSON.stringify(judgement)) as Record<string, unknown>,
      samples: { baseline: { val_loss: [0.5] }, candidate: { val_loss: [0.4] } },
      runs: [makeResultRun('baseline', 0, { val_loss: 0.5 }), makeResultRun('candidate', 0, { val_loss: 0.4 })],
    });
    const summary = renderResultSummary(doc);
    expect(row(summary, 'interval')).toBe(`| interval | | | ${SINGLE_RUN_NOTE} |`);
    expect(row(summary, 'runs')).toBe('| runs (1 per side) | 1 of 1 valid | 1 of 1 valid | paired |');
  });

  it('says "single run" without a judgement too, from the sample counts', () => {
    const doc = makeResultDocument({ judgement: null, samples: { baseline: { val_loss: [0.5] }, candidate: { val_loss: [0.4, 0.42] } } });
    expect(row(renderResultSummary(doc), 'interval')).toBe(`| interval | | | ${SINGLE_RUN_NOTE} |`);
  });

  it('says the baseline was unpaired when it was cached', () => {
    const judgement = makeJudgement(0.5, 0.4, { paired: false, singleRun: false, interval: { low: -0.15, high: -0.05, level: 0.9, method: "Welch's t" } });
    const doc = makeResultDocument({
      baseline: 'cached',
      judgement: JSON.parse(JSON.stringify(judgement)) as Record<string, unknown>,
      runs: makeResultDocument().runs.filter((run) => run.side === 'candidate'),
    });
    const summary = renderResultSummary(doc);
    expect(row(summary, 'runs')).toBe(`| runs (3 per side) | 3 valid (cached) | 3 of 3 valid | ${UNPAIRED_NOTE} |`);
    expect(summary).toContain("(Welch's t)");
    // The cached samples still appear in the per-run chart.
    expect(summary).toMatch(/^baseline 1 \(cached\) +▇+ +0\.5$/m);
  });

  it('charts every run of the primary metric as a bar scaled between the smallest and largest value', () => {
    const summary = renderResultSummary(makeResultDocument());
    const chart = summary.slice(summary.indexOf('```text\n') + 8, summary.indexOf('\n```', summary.indexOf('```text')));
    expect(chart.split('\n')).toEqual([
      `baseline 1   ${'▇'.repeat(17).padEnd(20)}  0.5`,
      `baseline 2   ${'▇'.repeat(20)}  0.52`,
      `baseline 3   ${'▇'.repeat(15).padEnd(20)}  0.48`,
      `candidate 1  ${'▇'.repeat(4).padEnd(20)}  0.4`,
      `candidate 2  ${'▇'.repeat(6).padEnd(20)}  0.42`,
      `candidate 3  ${'▇'.padEnd(20)}  0.38`,
    ]);
  });

  it('lists failed runs in the chart with their reason', () => {
    const base = makeResultDocument();
    const runs = base.runs.map((run) =>
      run.side === 'candidate' && run.index === 1 ? { ...run, ok: false, timedOut: true, exitCode: null, signal: 'SIGKILL', metrics: {} } : run,
    );
    const summary = renderResultSummary(makeResultDocument({ runs }));
    expect(summary).toMatch(/^candidate 2 {2}failed: timed out$/m);
    expect(row(summary, 'runs')).toBe('| runs (3 per side) | 3 of 3 valid | 3 of 3 valid | paired |');
  });

  it('gives the reason and the scope violations of an invalid result', () => {
    const doc = makeResultDocument({
      status: 'invalid',
      verdict: 'invalid',
      judgement: null,
      reason: 'changed 2 paths outside the scope',
      scopeViolations: [
        { path: 'eval/score.js', change: 'modified', rule: 'protected', pattern: 'eval/**' },
        { path: 'notes `x`.md', change: 'added', rule: 'outside-edit', pattern: 'src/**' },
      ],
    });
    const summary = renderResultSummary(doc);
    expect(summary.startsWith('## autoloop: invalid (INVALID)\n')).toBe(true);
    expect(summary).toContain('**Reason:** changed 2 paths outside the scope');
    expect(summary).toContain(
      [
        '**Out of scope:** 2 paths the proposal may not change:',
        '',
        '- `eval/score.js` (modified): protected by `eval/**`',
        '- `` notes `x`.md `` (added): outside `scope.edit`',
      ].join('\n'),
    );
  });

  it('flags a suspicious gain', () => {
    const judgement = makeJudgement(0.5, 0.1, { suspicious: true, keep: false });
    const summary = renderResultSummary(makeResultDocument({ status: 'discard', judgement: JSON.parse(JSON.stringify(judgement)) as Record<string, unknown> }));
    expect(summary).toContain('## autoloop: improved (DISCARD)');
    expect(summary).toContain('**Suspicious:**');
  });

  it('shows dashes, not NaN, for an invalid judgement whose means went through JSON as null', () => {
    const doc = makeResultDocument({
      status: 'crash',
      verdict: 'invalid',
      reason: 'the evaluator exited with code 1',
      samples: { baseline: { val_loss: [0.5] }, candidate: { val_loss: [] } },
      judgement: { verdict: 'invalid', baseline: { mean: 0.5 }, candidate: { mean: null }, delta: null, deltaRelative: null, interval: null, singleRun: true, paired: true, guards: [], reasons: ['no valid candidate samples'] },
    });
    const summary = renderResultSummary(doc);
    expect(row(summary, '**val_loss**')).toBe('| **val_loss** (mean) | 0.5 | — | — |');
    expect(summary).not.toContain('NaN');
    expect(summary).toContain('**Reason:** the evaluator exited with code 1');
  });

  it('puts the machine fingerprint in a collapsed block', () => {
    const summary = renderResultSummary(makeResultDocument());
    const details = summary.slice(summary.indexOf('<details>'), summary.indexOf('</details>'));
    expect(details).toContain('<details><summary>Machine fingerprint</summary>');
    expect(details).toContain('| CPU | Test CPU × 4 |');
    expect(details).toContain('| memory | 8 GiB |');
    expect(details).toContain('| Node.js | v20.18.0 |');
  });

  it('stays under GitHub’s limit, linking the artifact, however many violations there are', () => {
    const scopeViolations = Array.from({ length: 3_000 }, (_, i) => ({ path: `src/generated/file-${i}.ts`, change: 'added' as const, rule: 'outside-edit' as const, pattern: 'lib/**' }));
    const summary = renderResultSummary(makeResultDocument({ status: 'invalid', verdict: 'invalid', scopeViolations }), { artifact: ARTIFACT_URL });
    expect(summary.length).toBeLessThan(GITHUB_BODY_LIMIT);
    expect(summary.startsWith('## autoloop: invalid (INVALID)')).toBe(true);
    expect(summary).toMatch(new RegExp(`… truncated: [\\d,]+ more characters\\. \\[full result\\]\\(${ARTIFACT_URL.replace(/[./]/g, '\\$&')}\\)\\n$`));
  });
});
