import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configHash } from '../../src/core/config/config.js';
import { GENESIS } from '../../src/core/ledger/ledger.js';
import type { Proposer } from '../../src/core/propose/proposer.js';
import { runLoop } from '../../src/engine/loop.js';
import { openRun, uncommittedFiles, uncommittedWarning } from '../../src/engine/open-run.js';
import { readLedger } from '../../src/engine/run-files.js';
import type { LoopEvent } from '../../src/engine/run-options.js';
import { scriptedProposer } from '../fixtures/drivers/scripted-proposer.js';
import { gitSync, makeQuadraticRepo, quadraticConfig } from '../fixtures/local/repo.js';
import { createProposer } from '../../src/proposers/index.js';

const idle: Proposer = { kind: 'idle', propose: async () => null };

describe('openRun: --resume keeps the flags the run started with', () => {
  it('stores experiments, goal and accept-suspicious in the run record, and a resume without flags uses them', async () => {
    const repo = makeQuadraticRepo();
    const { state } = await openRun({ cwd: repo, tag: 'flags', experiments: 2, goal: 'lower the loss', acceptSuspicious: true, proposer: idle });
    const { run } = await readLedger(state.paths.ledger);
    expect(run).toMatchObject({ experiments: 2, goal: 'lower the loss', acceptSuspicious: true });

    const { state: resumed } = await openRun({ cwd: repo, tag: 'flags', resume: true, proposer: idle });
    expect(resumed.options).toMatchObject({ experiments: 2, goal: 'lower the loss', acceptSuspicious: true });
    expect(resumed.measure.acceptSuspicious).toBe(true);
    // The same flags again are no change.
    await expect(openRun({ cwd: repo, tag: 'flags', resume: true, experiments: 2, goal: 'lower the loss', acceptSuspicious: true, proposer: idle })).resolves.toBeDefined();
  });

  it('refuses a different flag, naming it, the value the run started with, and how to go on', async () => {
    const repo = makeQuadraticRepo();
    await openRun({ cwd: repo, tag: 'fixed', experiments: 2, proposer: idle });
    const resume = (more: Partial<Parameters<typeof openRun>[0]>) => openRun({ cwd: repo, tag: 'fixed', resume: true, proposer: idle, ...more });
    await expect(resume({ experiments: 5 })).rejects.toThrow(
      /--experiments 5: run fixed started with a budget of 2 experiments\. .*resume it without --experiments, or start a new run from where it got to: autoloop run --base autoloop\/fixed\/run --tag NEW_TAG --experiments 5/s,
    );
    await expect(resume({ goal: 'faster' })).rejects.toThrow(/--goal "faster": run fixed started without a goal/);
    await expect(resume({ acceptSuspicious: true })).rejects.toThrow(/--accept-suspicious: run fixed started without it/);
    await expect(resume({ base: 'HEAD~0' })).resolves.toBeDefined();
    gitSync(repo, 'commit', '--quiet', '--allow-empty', '-m', 'later');
    await expect(resume({ base: 'HEAD' })).rejects.toThrow(/--base HEAD: run fixed started from [0-9a-f]{7}, not [0-9a-f]{7}/);
    await expect(resume({ configPath: 'other.yml' })).rejects.toThrow(/--config other.yml: run fixed started with \.github\/autoloop\.yml/);
    // Nothing was appended by the refusals.
    expect((await readLedger(join(repo, '.autoloop/fixed/ledger.jsonl'))).experiments).toEqual([]);
  });

  it('still resumes an older ledger without the stored flags, taking the flags as given', async () => {
    const repo = makeQuadraticRepo();
    const { state } = await openRun({ cwd: repo, tag: 'old', proposer: idle });
    // A run record as autoloop wrote it before the flags were stored: the first and only line.
    const { experiments: _e, goal: _g, acceptSuspicious: _a, ...older } = state.run;
    writeFileSync(state.paths.ledger, `${JSON.stringify({ ...older, prev: GENESIS })}\n`);
    const { state: resumed } = await openRun({ cwd: repo, tag: 'old', resume: true, experiments: 4, goal: 'anything', acceptSuspicious: true, proposer: idle });
    expect(resumed.options).toMatchObject({ experiments: 4, goal: 'anything', acceptSuspicious: true });
  });

  it('gives the proposer of a resumed run the goal the run started with', async () => {
    const repo = makeQuadraticRepo();
    const goals: Array<string | undefined> = [];
    const proposer: Proposer = { kind: 'goal', propose: async ({ goal }) => (goals.push(goal), null) };
    const controller = new AbortController();
    await runLoop({ cwd: repo, tag: 'goal', goal: 'make x 3', experiments: 2, proposer, signal: controller.signal, onEvent: (e) => e.type === 'experiment' && controller.abort() });
    await runLoop({ cwd: repo, tag: 'goal', resume: true, proposer });
    expect(goals).toEqual(['make x 3']);
  });
});

describe('openRun: the config comes from the commit measured', () => {
  it('reads the config from the base commit, not the working tree', async () => {
    const repo = makeQuadraticRepo('{ experiments: 6 }');
    const committed = readFileSync(join(repo, '.github/autoloop.yml'), 'utf8');
    writeFileSync(join(repo, '.github/autoloop.yml'), quadraticConfig('{ experiments: 9 }'));
    const { state } = await openRun({ cwd: repo, tag: 'committed', proposer: idle });
    expect(state.config.budget.experiments).toBe(6);
    expect(state.run.configHash).toBe(configHash(committed));
    expect(state.run.experiments).toBe(6);
  });

  it('says a config that is not committed must be, rather than measuring without it', async () => {
    const repo = makeQuadraticRepo();
    gitSync(repo, 'rm', '--quiet', '--cached', '.github/autoloop.yml');
    gitSync(repo, 'commit', '--quiet', '-m', 'untrack the config');
    await expect(openRun({ cwd: repo, tag: 'untracked', proposer: idle })).rejects.toThrow(
      /\.github\/autoloop\.yml: is not committed: autoloop run reads the config from the commit it measures \([0-9a-f]{7}\)[\s\S]*git add \.github\/autoloop\.yml && git commit/,
    );
  });

  it('lists the tracked files with uncommitted changes, and the warning says the committed config is used', async () => {
    const repo = makeQuadraticRepo();
    expect(await uncommittedFiles(repo)).toEqual([]);
    writeFileSync(join(repo, 'params.json'), '{"x": 1, "y": 0}\n');
    writeFileSync(join(repo, '.github/autoloop.yml'), quadraticConfig('{ experiments: 9 }'));
    writeFileSync(join(repo, 'untracked.txt'), 'not listed\n');
    gitSync(repo, 'add', 'params.json');
    expect((await uncommittedFiles(repo)).sort()).toEqual(['.github/autoloop.yml', 'params.json']);
    const warning = uncommittedWarning(['params.json', '.github/autoloop.yml'], { configFile: '.github/autoloop.yml', baseCommit: gitSync(repo, 'rev-parse', 'HEAD') });
    expect(warning).toMatch(/^the working tree has uncommitted changes to 2 tracked files \(params\.json, \.github\/autoloop\.yml\): autoloop run measures commits/);
    expect(warning).toContain('.github/autoloop.yml is one of them: the run uses it as committed in');
    const many = uncommittedWarning(['a', 'b', 'c', 'd', 'e', 'f', 'g'], { configFile: '.github/autoloop.yml', baseCommit: 'f'.repeat(40) });
    expect(many).toContain('7 tracked files (a, b, c, d, e and 2 more)');
    expect(many).not.toContain('is one of them');
  });
});

describe('the loop events carry the phase', () => {
  it('says when setup, check and each run k of n start, and the proposal, for every experiment', async () => {
    const repo = makeQuadraticRepo(undefined, {
      '.github/autoloop.yml': quadraticConfig('{ experiments: 1 }').replace('timeout: 20s, repeats: 1 }', 'setup: node -e 0, check: node -e 0, timeout: 20s, repeats: 2 }'),
    });
    const phases: Array<Extract<LoopEvent, { type: 'phase' }>> = [];
    await runLoop({
      cwd: repo,
      tag: 'phases',
      proposer: scriptedProposer([(wt) => writeFileSync(join(wt, 'params.json'), '{"x": 1, "y": 0}\n')]),
      onEvent: (e) => e.type === 'phase' && phases.push(e),
    });
    const of = (experiment: number | null) => phases.filter((p) => p.experiment === experiment).map(({ type: _t, experiment: _e, ...phase }) => phase);
    expect(of(0)).toEqual([
      { phase: 'setup', side: 'baseline' },
      { phase: 'check', side: 'baseline' },
      { phase: 'run', side: 'baseline', run: 1, runs: 2 },
      { phase: 'run', side: 'baseline', run: 2, runs: 2 },
    ]);
    const first = of(1);
    expect(first[0]).toEqual({ phase: 'propose' });
    // The baseline's worktree was set up for experiment 0: only the candidate's is, now.
    expect(first.slice(1, 3)).toEqual([
      { phase: 'setup', side: 'candidate' },
      { phase: 'check', side: 'candidate' },
    ]);
    expect(first.slice(3, 5)).toEqual([
      { phase: 'run', side: 'baseline', run: 1, runs: 2 },
      { phase: 'run', side: 'candidate', run: 1, runs: 2 },
    ]);
    // The confirmation: the run head against the base, experiment null.
    expect(of(null).slice(0, 3)).toEqual([
      { phase: 'check', side: 'candidate' },
      { phase: 'run', side: 'baseline', run: 1, runs: 2 },
      { phase: 'run', side: 'candidate', run: 1, runs: 2 },
    ]);
  });
});

describe('openRun: a config that cannot run in the repository', () => {
  it('is refused before the baseline is measured: a tune key the file lacks, or an evaluator not on PATH', async () => {
    const repo = makeQuadraticRepo();
    const config = readFileSync(join(repo, '.github/autoloop.yml'), 'utf8');
    writeFileSync(join(repo, '.github/autoloop.yml'), config.replace('y: { min: -10, max: 10 }', 'z: { min: -10, max: 10 }'));
    gitSync(repo, 'commit', '-qam', 'tune z');
    await expect(runLoop({ proposer: createProposer, cwd: repo, tag: 'nokey' })).rejects.toThrow(/proposer\.tune\.params: params\.json \(key "z"\): not found/);
    writeFileSync(join(repo, '.github/autoloop.yml'), config.replace('command: node eval.mjs', 'command: nodee eval.mjs'));
    gitSync(repo, 'commit', '-qam', 'nodee');
    await expect(runLoop({ proposer: createProposer, cwd: repo, tag: 'noprogram' })).rejects.toThrow(/evaluate\.command: program "nodee" is not on PATH; did you mean "node"\?/);
    // Nothing was measured or written for either.
    expect(() => readFileSync(join(repo, '.autoloop/nokey/ledger.jsonl'))).toThrow();
    expect(() => readFileSync(join(repo, '.autoloop/noprogram/ledger.jsonl'))).toThrow();
  });
});
