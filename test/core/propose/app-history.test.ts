import { describe, expect, it } from 'vitest';
import { MAX_EXPERIMENTS } from '../../../src/core/app/state.js';
import { appRunHistory, historyCommits, runStateMismatch } from '../../../src/core/propose/app-history.js';
import { readTuneHistory, type Point } from '../../../src/core/propose/tune-search.js';
import { makeAppExperiment, makeAppRun, makeAppRunState } from '../../fixtures/records/app-state.js';
import { fakeSha } from '../../fixtures/records/ledger.js';

const base = fakeSha(0, 'b');
const afterOne = fakeSha(1, 'f');

/** The tuned point at each commit of makeAppRun(): the base, each experiment's head, and the run head after 1 (its kept head). */
function pointsOfRun(): Map<string, Point> {
  return new Map<string, Point>([
    [base, { lr: 0.01 }],
    [afterOne, { lr: 0.02 }],
    ...[1, 2, 3, 4, 5].map((k): [string, Point] => [fakeSha(k, 'e'), { lr: 0.01 * (k + 1) }]),
  ]);
}

describe('appRunHistory', () => {
  it('turns the run state into ledger records: statuses, verdicts, deltas, and the tuned points at head and parent', () => {
    const { records, skipped, dropped } = appRunHistory({ state: makeAppRun(), experiment: 6, proposer: 'tune', points: pointsOfRun() });
    expect(skipped).toEqual([]);
    expect(dropped).toBe(0);
    // Experiment 5 is still being evaluated: not history yet.
    expect(records.map((r) => [r.experiment, r.status, r.judgement?.verdict ?? null, r.judgement?.delta ?? null])).toEqual([
      [0, 'keep', null, null],
      [1, 'keep', 'improved', -0.05],
      [2, 'discard', 'no-change', 0.01],
      [3, 'invalid', 'invalid', Number.NaN],
      [4, 'keep', 'improved', -0.05],
    ]);
    expect(records[0]).toMatchObject({ parentCommit: base, candidateCommit: base, metric: 0.5, best: 0.5, proposer: { kind: 'baseline', notes: { params: { lr: 0.01 } } } });
    expect(records[2]).toMatchObject({ description: 'batch 32 → 64', parentCommit: afterOne, candidateCommit: fakeSha(2, 'e'), keptCommit: null, metric: 0.46, best: 0.45 });
    expect(records[2]!.proposer).toEqual({ kind: 'tune', notes: { params: { lr: 0.03 }, from: { lr: 0.02 } } });
    expect(records[3]).toMatchObject({ reason: 'the evaluator crashed (exit code 1)', metric: null });
    expect(records[4]).toMatchObject({ keptCommit: fakeSha(4, 'e'), bestCommit: fakeSha(4, 'e'), best: 0.4 });

    // What the tune proposer makes of it: every measured point, with what the judge said, and the base as visited.
    const { history, visited } = readTuneHistory(records);
    expect(history).toEqual([
      { experiment: 1, point: { lr: 0.02 }, status: 'keep', from: { lr: 0.01 }, verdict: 'improved', delta: -0.05 },
      { experiment: 2, point: { lr: 0.03 }, status: 'discard', from: { lr: 0.02 }, verdict: 'no-change', delta: 0.01 },
      { experiment: 3, point: { lr: 0.04 }, status: 'invalid', from: { lr: 0.02 }, verdict: 'invalid' },
      { experiment: 4, point: { lr: 0.05 }, status: 'keep', from: { lr: 0.02 }, verdict: 'improved', delta: -0.05 },
    ]);
    expect(visited).toContainEqual({ lr: 0.01 });
  });

  it('leaves out the experiment being proposed, and records a gain held for review as discarded, as the local loop does', () => {
    const state = makeAppRun();
    state.experiments[1] = { ...state.experiments[1]!, state: 'needs-review', verdict: 'improved', delta: -0.3 };
    const { records } = appRunHistory({ state, experiment: 4, proposer: 'tune', points: pointsOfRun() });
    expect(records.map((r) => r.experiment)).toEqual([0, 1, 2, 3]);
    expect(records[2]).toMatchObject({ status: 'discard', judgement: { verdict: 'improved', keep: false, suspicious: true } });
  });

  it('skips an experiment whose head commit has no known point (not in the repository), and keeps the rest', () => {
    const points = pointsOfRun();
    points.delete(fakeSha(2, 'e'));
    points.delete(afterOne);
    const { records, skipped } = appRunHistory({ state: makeAppRun(), experiment: 6, proposer: 'tune', points });
    expect(skipped.map((e) => e.k)).toEqual([2]);
    expect(records.map((r) => r.experiment)).toEqual([0, 1, 3, 4]);
    // A parent whose point is unknown only loses its `from`.
    expect(records[2]!.proposer.notes).toEqual({ params: { lr: 0.04 } });
  });

  it('for a proposer that tunes no file, keeps every decided experiment with its hypothesis and verdict, and no points', () => {
    const { records, skipped } = appRunHistory({ state: makeAppRun(), experiment: 6, proposer: 'llm', points: null });
    expect(skipped).toEqual([]);
    expect(records.map((r) => [r.experiment, r.description, r.proposer])).toEqual([
      [0, 'baseline', { kind: 'baseline', notes: {} }],
      [1, 'lr 0.01 → 0.02', { kind: 'llm', notes: {} }],
      [2, 'batch 32 → 64', { kind: 'llm', notes: {} }],
      [3, 'warmup 0 → 100', { kind: 'llm', notes: {} }],
      [4, 'dropout 0.1 → 0.2', { kind: 'llm', notes: {} }],
    ]);
  });

  it(`reads at most ${MAX_EXPERIMENTS} experiments, the latest, however many a state lists`, () => {
    const many = Array.from({ length: MAX_EXPERIMENTS + 50 }, (_, i) =>
      makeAppExperiment({ k: i + 1, state: 'discarded', headSha: fakeSha(i + 1, 'e'), verdict: 'regressed', delta: 1 }),
    );
    const state = makeAppRunState({ experiments: many });
    const commits = historyCommits(state, MAX_EXPERIMENTS + 51);
    expect(commits).toHaveLength(MAX_EXPERIMENTS + 1);
    expect(commits[0]).toBe(base);
    expect(commits).not.toContain(fakeSha(50, 'e'));
    expect(commits).toContain(fakeSha(51, 'e'));
    const points = new Map(commits.map((sha, i): [string, Point] => [sha, { lr: i }]));
    const { records, dropped } = appRunHistory({ state, experiment: MAX_EXPERIMENTS + 51, proposer: 'tune', points });
    expect(dropped).toBe(50);
    expect(records).toHaveLength(MAX_EXPERIMENTS + 1);
    expect(records[1]!.experiment).toBe(51);
  });
});

describe('historyCommits', () => {
  it('lists the base and the parent and head of each decided experiment, once each', () => {
    expect(historyCommits(makeAppRun(), 6)).toEqual([base, fakeSha(1, 'e'), afterOne, fakeSha(2, 'e'), fakeSha(3, 'e'), fakeSha(4, 'e')]);
  });
});

describe('runStateMismatch', () => {
  const state = makeAppRun();
  it('accepts the state of the run that dispatched this experiment from this parent', () => {
    expect(runStateMismatch(state, '12', 5, fakeSha(4, 'f'))).toBeNull();
  });
  it('refuses a state of another run, or one that did not dispatch this experiment from this parent', () => {
    expect(runStateMismatch(state, '13', 5, fakeSha(4, 'f'))).toBe('the state is of autoloop/12/run, not autoloop/13/run');
    expect(runStateMismatch(state, '12', 6, fakeSha(4, 'f'))).toBe('the state lists no experiment 6');
    expect(runStateMismatch(state, '12', 5, base)).toBe(`the state has experiment 5 start from ${fakeSha(4, 'f').slice(0, 12)}, not from ${base.slice(0, 12)}`);
  });
});
