import { describe, expect, it } from 'vitest';
import { renderGateOutput } from '../../../src/core/render/gate.js';
import { GATE_CHECK_NAME } from '../../../src/core/protocol/protocol.js';
import { CHECK_RUN_SUMMARY_LIMIT } from '../../../src/core/render/truncate.js';
import { makeJudgement } from '../../fixtures/records/ledger.js';
import { makeResultDocument } from '../../fixtures/records/result.js';
import { documentWith } from './helpers.js';

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

  it("stays under a check run summary's limit, 65,535 characters, with a thousand reasons", () => {
    const reasons = Array.from({ length: 1_000 }, (_, i) => `reason ${i} ${'x'.repeat(200)}`);
    const { summary } = renderGateOutput({ document: documentWith({ verdict: 'invalid', reasons }) });
    expect(summary.length).toBeLessThanOrEqual(CHECK_RUN_SUMMARY_LIMIT);
    expect(CHECK_RUN_SUMMARY_LIMIT).toBe(65_535);
  });
});
