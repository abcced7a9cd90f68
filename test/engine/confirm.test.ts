/**
 * The confirmation at the end of a run: the run head measured against the base once more, paired, and made
 * the headline; a gain that was only noise in the steps is said to be not confirmed, and a run branch moved
 * by something else is not measured at all.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLedger } from '../../src/core/ledger/ledger.js';
import { runLoop } from '../../src/engine/loop.js';
import type { LoopEvent } from '../../src/engine/run-options.js';
import { createProposer } from '../../src/proposers/index.js';
import { runCli } from '../fixtures/drivers/cli.js';
import { gitSync, makeQuadraticRepo, makeRepo } from '../fixtures/local/repo.js';

/**
 * An evaluator that ignores the code: the first run of each side has the candidate one unit better (so a
 * single-run step always looks like a gain), every later run is the same on both sides. A no-op tuned at
 * `repeats: 1` is kept every time; measured again with three runs per side it shows nothing.
 */
const FIRST_RUN_FLATTERS = `const side = process.env.AUTOLOOP_SIDE, run = Number(process.env.AUTOLOOP_RUN);
console.log('METRIC loss=' + (run === 1 && side === 'candidate' ? 9 : 10));
`;

function flatteringRepo(confirm: string): string {
  return makeRepo({
    'eval.mjs': FIRST_RUN_FLATTERS,
    'params.json': '{ "x": 0 }\n',
    '.github/autoloop.yml': `metric: { name: loss, goal: minimize, suspicious_effect: 100% }
evaluate: { command: node eval.mjs, timeout: 20s, repeats: 1, confirm: ${confirm} }
scope: { edit: [params.json], protect: [eval.mjs] }
proposer: { kind: tune, tune: { file: params.json, seed: 1, params: { x: { min: -10, max: 10 } } } }
budget: { experiments: 3 }
`,
  });
}

describe('the confirmation of a run', () => {
  it('measures the run head against the base, paired, records it before the stop record and makes it the headline', async () => {
    const repo = makeQuadraticRepo('{ experiments: 4 }');
    const events: LoopEvent['type'][] = [];
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'c1', onEvent: (e) => events.push(e.type) });
    const head = result.experiments.at(-1)!.bestCommit;
    expect(head).not.toBe(result.run.baseCommit);

    expect(result.confirmation).toMatchObject({ type: 'confirmation', status: 'confirmed', baseCommit: result.run.baseCommit, headCommit: head, reason: null, traceDir: 'traces/confirmation' });
    const samples = result.confirmation!.samples;
    // Interleaved B C, each side its own commit, as in every experiment.
    expect(samples.map((s) => [s.side, s.commit])).toEqual([['baseline', result.run.baseCommit], ['candidate', head]]);
    expect(result.confirmation!.judgement!.baseline.mean).toBe(10.5);
    expect(result.confirmation!.judgement!.candidate.mean).toBe(result.experiments.at(-1)!.best);
    expect(events.filter((type) => type !== 'phase').slice(-3)).toEqual(['confirmation-start', 'confirmation', 'stop']);

    const ledger = parseLedger(readFileSync(result.paths.ledger, 'utf8'), result.paths.ledger);
    expect(ledger.confirmation).toEqual(result.confirmation);
    const types = readFileSync(result.paths.ledger, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { type: string }).type);
    expect(types.slice(-2)).toEqual(['confirmation', 'stop']);
    expect(readFileSync(result.paths.report, 'utf8')).toMatch(/- \*\*Confirmation:\*\* loss: base 10\.5 → run head [\d.]+ \(−[\d.]+%\), confirmed \(measured again side by side, 1 run per side, no noise estimate\)/);
  });

  it('says NOT confirmed when the steps kept noise: each single-run step looked better, three runs per side do not', async () => {
    const repo = flatteringRepo('3');
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'noise' });
    const kept = result.experiments.filter((e) => e.experiment > 0 && e.status === 'keep');
    expect(kept.length).toBeGreaterThan(0);
    expect(result.confirmation).toMatchObject({ status: 'not-confirmed' });
    expect(result.confirmation!.samples).toHaveLength(6);
    expect(result.confirmation!.judgement!.verdict).toBe('no-change');
    expect(result.confirmation!.reason).toContain('interval of the delta includes zero');

    const cli = await runCli(['report', '--tag', 'noise'], repo);
    expect(cli.stdout).toMatch(/loss: base 10 → run head 9\.66667 \(−3\.33%, 90% \[.+\]\), NOT confirmed \(measured again side by side, 3 runs per side\)/);
    expect(cli.stdout).toContain('Baseline → best during the run');
  });

  it('is skipped with evaluate.confirm: false, and when nothing was kept', async () => {
    const off = await runLoop({ proposer: createProposer, cwd: flatteringRepo('false'), tag: 'off' });
    expect(off.experiments.some((e) => e.status === 'keep' && e.experiment > 0)).toBe(true);
    expect(off.confirmation).toBeNull();
    expect(readFileSync(off.paths.ledger, 'utf8')).not.toContain('"type":"confirmation"');

    const nothing = await runLoop({ proposer: createProposer, cwd: makeQuadraticRepo('{ experiments: 1 }'), tag: 'none', experiments: 0 });
    expect(nothing.confirmation).toBeNull();
  });

  it('does not measure a run branch that something other than autoloop moved, and says so', async () => {
    const repo = makeQuadraticRepo('{ experiments: 3 }', {}, 6);
    const result = await runLoop({
      proposer: createProposer,
      cwd: repo,
      tag: 'moved',
      // Between the last experiment and the confirmation, the branch is pointed back at the base.
      onEvent: (e) => {
        if (e.type === 'confirmation-start') gitSync(repo, 'branch', '--force', 'autoloop/moved/run', 'main');
      },
    });
    expect(result.confirmation).toMatchObject({ status: 'invalid', samples: [], judgement: null });
    expect(result.confirmation!.reason).toMatch(/^the run branch autoloop\/moved\/run is at [0-9a-f]{12}, not at the ledger's best [0-9a-f]{12}: something other than autoloop moved it/);
  });

  it('confirms an interrupted run once, at its end after --resume', async () => {
    const repo = makeQuadraticRepo('{ experiments: 4 }');
    const controller = new AbortController();
    const first = await runLoop({ proposer: createProposer, cwd: repo, tag: 'again', signal: controller.signal, onEvent: (e) => e.type === 'experiment' && e.record.experiment === 1 && controller.abort() });
    expect(first.outcome).toBe('interrupted');
    expect(first.confirmation).toBeNull();
    const second = await runLoop({ proposer: createProposer, cwd: repo, tag: 'again', resume: true });
    expect(second.experiments).toHaveLength(5);
    const text = readFileSync(second.paths.ledger, 'utf8');
    const ledger = parseLedger(text, second.paths.ledger);
    expect(ledger.confirmation?.headCommit).toBe(second.experiments.at(-1)!.bestCommit);
    expect(text.trim().split('\n').filter((line) => (JSON.parse(line) as { type: string }).type === 'confirmation')).toHaveLength(ledger.confirmation ? 1 : 0);
  });
});
