import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/core/config/config-schema.js';
import { changeFromGitHub, protectedHashOfTree, verifyResult, type VerifiedFacts } from '../../../src/core/result/verify.js';
import { fakeSha } from '../../fixtures/records/ledger.js';
import { makeResultDocument } from '../../fixtures/records/result.js';

const config = configSchema.parse({
  metric: { name: 'val_loss', goal: 'minimize', min_effect: '1%' },
  guards: [{ name: 'peak_mem_mb', goal: 'minimize', max_regression: '10%' }],
  evaluate: { command: 'node eval.js', repeats: 3 },
  scope: { edit: ['params.json'], protect: ['eval.js'] },
  proposer: { kind: 'tune', tune: { file: 'params.json', params: { lr: { min: 0.001, max: 1 } } } },
});
const tree = new Map([
  ['eval.js', 'a'.repeat(40)],
  ['.github/autoloop.yml', 'b'.repeat(40)],
  ['params.json', 'c'.repeat(40)],
]);
const facts: VerifiedFacts = { headSha: fakeSha(2, 'c'), baseSha: fakeSha(1, 'b'), changes: [{ change: 'modified', path: 'params.json' }], protectedHash: protectedHashOfTree(tree, config, '.github/autoloop.yml') };
const document = () => makeResultDocument({ protectedHash: protectedHashOfTree(tree, config, '.github/autoloop.yml') });

describe('verifyResult', () => {
  it('re-judges a truthful document from its samples', () => {
    const verification = verifyResult(document(), facts, config, '.github/autoloop.yml');
    expect(verification).toMatchObject({ ok: true, judgement: { verdict: 'improved', keep: true, paired: true } });
  });

  it('ignores the verdict the document claims', () => {
    const lying = document();
    lying.verdict = 'improved';
    lying.samples.candidate.val_loss = [0.6, 0.62, 0.58];
    lying.runs = lying.runs.map((run, i) => (run.side === 'candidate' ? { ...run, metrics: { ...run.metrics, val_loss: [0.6, 0.62, 0.58][Math.floor(i / 2)]! } } : run));
    const verification = verifyResult(lying, facts, config, '.github/autoloop.yml');
    expect(verification).toMatchObject({ ok: true, judgement: { verdict: 'regressed', keep: false } });
  });

  it('rejects a document for another head or base commit', () => {
    expect(verifyResult(document(), { ...facts, headSha: fakeSha(9, 'c') }, config, '.github/autoloop.yml')).toMatchObject({ ok: false, reason: expect.stringMatching(/pull request head is/) });
    expect(verifyResult(document(), { ...facts, baseSha: fakeSha(9, 'b') }, config, '.github/autoloop.yml')).toMatchObject({ ok: false, reason: expect.stringMatching(/pull request base is/) });
  });

  it('rejects samples the runs do not back', () => {
    const edited = document();
    edited.samples.candidate.val_loss = [0.1, 0.1, 0.1];
    expect(verifyResult(edited, facts, config, '.github/autoloop.yml')).toMatchObject({ ok: false, reason: 'the candidate samples of val_loss do not match the runs they claim to come from' });
  });

  it('turns a verdict without samples into invalid', () => {
    const empty = document();
    empty.samples = { baseline: {}, candidate: {} };
    empty.runs = [];
    expect(verifyResult(empty, facts, config, '.github/autoloop.yml')).toMatchObject({ ok: true, judgement: { verdict: 'invalid', keep: false } });
  });

  it('rejects changes out of scope, from the API, whatever the document says', () => {
    const verification = verifyResult(document(), { ...facts, changes: [{ change: 'modified', path: 'eval.js' }] }, config, '.github/autoloop.yml');
    expect(verification).toMatchObject({ ok: false, reason: 'out of scope: eval.js (modified) is protected by eval.js' });
  });

  it('rejects a result measured with another evaluator', () => {
    const other = new Map(tree).set('eval.js', 'e'.repeat(40));
    expect(verifyResult(document(), { ...facts, protectedHash: protectedHashOfTree(other, config, '.github/autoloop.yml') }, config, '.github/autoloop.yml')).toMatchObject({ ok: false, reason: expect.stringMatching(/other protected files/) });
  });

  it('maps GitHub file statuses to scope changes', () => {
    expect(changeFromGitHub({ path: 'b', status: 'renamed', previousPath: 'a' })).toEqual({ change: 'renamed', path: 'b', oldPath: 'a' });
    expect(changeFromGitHub({ path: 'a', status: 'removed' })).toEqual({ change: 'deleted', path: 'a' });
    expect(changeFromGitHub({ path: 'a', status: 'changed' })).toEqual({ change: 'modified', path: 'a' });
  });
});
