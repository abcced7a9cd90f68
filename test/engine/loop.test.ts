import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { unlink, rename as renameFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLedger } from '../../src/engine/run-files.js';
import { UNPAIRED_NOTE } from '../../src/core/judge/judge.js';
import { runLoop } from '../../src/engine/loop.js';
import type { LoopEvent } from '../../src/engine/run-options.js';
import { gitSync, makeQuadraticRepo } from '../fixtures/local/repo.js';
import { createProposer } from '../../src/proposers/index.js';
import { scriptedProposer } from '../fixtures/drivers/scripted-proposer.js';

describe('runLoop', () => {
  it('improves the metric with the tune proposer, records everything, and leaves the user\'s tree alone', async () => {
    const repo = makeQuadraticRepo();
    await writeFile(join(repo, 'scratch.txt'), 'uncommitted work of the user\n');
    const head = gitSync(repo, 'rev-parse', 'HEAD');
    const events: LoopEvent['type'][] = [];
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 't1', onEvent: (e) => events.push(e.type) });

    expect(result.outcome).toBe('completed');
    expect(result.stopReason).toBe('budget of 6 experiments spent');
    expect(result.experiments).toHaveLength(7);
    const baseline = result.experiments[0]!;
    expect(baseline.metric).toBe(10.5);
    const best = result.experiments.at(-1)!.best!;
    expect(best).toBeLessThan(10.5);

    // The user's working tree, index and HEAD are untouched; run files are ignored by git.
    expect(gitSync(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(gitSync(repo, 'status', '--porcelain')).toBe('?? scratch.txt');
    expect(JSON.parse(readFileSync(join(repo, 'params.json'), 'utf8'))).toEqual({ x: 0, y: 0 });

    // Kept experiments are commits on the run branch, with hypothesis and measured delta.
    const kept = result.experiments.filter((e) => e.experiment > 0 && e.status === 'keep');
    expect(kept.length).toBeGreaterThan(0);
    expect(gitSync(repo, 'rev-parse', 'autoloop/t1/run')).toBe(kept.at(-1)!.keptCommit);
    const log = gitSync(repo, 'log', '--format=%B%x00', `${head}..autoloop/t1/run`).split('\0').map((m) => m.trim()).filter(Boolean);
    expect(log).toHaveLength(kept.length);
    expect(log[0]).toContain(kept.at(-1)!.description);
    expect(log[0]).toMatch(/loss: [\d.]+ → [\d.]+ \(−[\d.]+%\)/);
    expect(log[0]).toContain('single run, no noise estimate');

    // Ledger, table, chart, report and traces, with discarded diffs kept in the traces.
    const ledger = await readLedger(result.paths.ledger);
    expect(ledger.experiments).toEqual(result.experiments);
    expect(ledger.stop?.reason).toBe('budget of 6 experiments spent');
    const tsv = readFileSync(result.paths.results, 'utf8').trim().split('\n');
    expect(tsv[0]!.split('\t')).toEqual(expect.arrayContaining(['commit', 'loss', 'status', 'description']));
    expect(tsv).toHaveLength(8);
    expect(readFileSync(result.paths.chart, 'utf8')).toMatch(/^<svg/);
    expect(existsSync(result.paths.report)).toBe(true);
    for (const e of result.experiments.filter((x) => x.experiment > 0)) {
      const trace = join(result.paths.dir, e.traceDir);
      expect(readFileSync(join(trace, 'diff.patch'), 'utf8')).toContain('params.json');
      expect(readFileSync(join(trace, 'candidate-1.log'), 'utf8')).toContain('METRIC loss=');
    }
    expect(events[0]).toBe('start');
    expect(events.at(-1)).toBe('stop');
  });

  it('rejects out-of-scope proposals before measuring them, with the paths in the ledger, and stops at max_failures', async () => {
    const repo = makeQuadraticRepo(undefined, { 'README.md': 'hello\n', 'notes/a.md': 'a\n' });
    const result = await runLoop({
      cwd: repo,
      tag: 'scope',
      proposer: scriptedProposer([
        async (wt) => writeFile(join(wt, 'README.md'), 'changed\n'),
        async (wt) => writeFile(join(wt, 'eval.mjs'), 'console.log("METRIC loss=0")\n'),
        async (wt) => unlink(join(wt, 'notes/a.md')),
        async (wt) => renameFile(join(wt, 'params.json'), join(wt, 'params2.json')),
        async (wt) => writeFile(join(wt, '.github/autoloop.yml'), 'metric: {}\n'),
      ]),
    });
    const [, ...experiments] = result.experiments;
    expect(experiments.map((e) => e.status)).toEqual(['invalid', 'invalid', 'invalid', 'invalid', 'invalid']);
    expect(experiments.map((e) => e.scopeViolations.map((v) => `${v.change} ${v.path} ${v.rule}`))).toEqual([
      ['modified README.md outside-edit'],
      ['modified eval.mjs protected'],
      ['deleted notes/a.md outside-edit'],
      ['renamed params2.json outside-edit'],
      ['modified .github/autoloop.yml protected'],
    ]);
    // Nothing out of scope was ever run: no evaluator logs in those traces.
    for (const e of experiments) expect(readdirSync(join(result.paths.dir, e.traceDir)).filter((f) => f.endsWith('.log'))).toEqual([]);
    expect(result.outcome).toBe('failed');
    expect(result.stopReason).toMatch(/^5 invalid experiments in a row \(budget.max_failures\)/);
    expect(gitSync(repo, 'rev-parse', 'autoloop/scope/run')).toBe(gitSync(repo, 'rev-parse', 'main'));
  });

  it('records a crashing candidate as crash and an empty proposal as invalid, and goes on', async () => {
    const repo = makeQuadraticRepo();
    const result = await runLoop({
      cwd: repo,
      tag: 'crash',
      experiments: 3,
      proposer: scriptedProposer([
        async (wt) => writeFile(join(wt, 'params.json'), '{"x": "oops"'),
        async () => undefined,
        async (wt) => writeFile(join(wt, 'params.json'), '{"x": 3, "y": -1}\n'),
      ]),
    });
    const [, crash, empty, win] = result.experiments;
    expect(crash!.status).toBe('crash');
    expect(crash!.reason).toMatch(/candidate run 1: evaluate.command exited with code 1/);
    expect(empty!.status).toBe('invalid');
    expect(empty!.reason).toBe('the proposal changed nothing');
    expect(win!.status).toBe('keep');
    expect(win!.metric).toBe(0.5);
  });

  it('leaves a gain beyond suspicious_effect for a human unless --accept-suspicious', async () => {
    const suspicious = (acceptSuspicious: boolean) => {
      const repo = makeQuadraticRepo();
      const config = readFileSync(join(repo, '.github/autoloop.yml'), 'utf8').replace('suspicious_effect: 100%', 'suspicious_effect: 50%');
      return { repo, config, acceptSuspicious };
    };
    for (const { repo, config, acceptSuspicious } of [suspicious(false), suspicious(true)]) {
      await writeFile(join(repo, '.github/autoloop.yml'), config);
      gitSync(repo, 'commit', '-qam', 'config');
      const result = await runLoop({
        cwd: repo,
        tag: 'sus',
        experiments: 1,
        acceptSuspicious,
        proposer: scriptedProposer([async (wt) => writeFile(join(wt, 'params.json'), '{"x": 3, "y": -1}\n')]),
      });
      const experiment = result.experiments[1]!;
      expect(experiment.judgement).toMatchObject({ verdict: 'improved', suspicious: true, keep: false });
      expect(experiment.status).toBe(acceptSuspicious ? 'keep' : 'discard');
      expect(experiment.reason).toContain('suspicious_effect (50%)');
    }
  });

  it('with evaluate.baseline: cached, measures only the candidate and says the comparison is unpaired', async () => {
    const repo = makeQuadraticRepo();
    const config = readFileSync(join(repo, '.github/autoloop.yml'), 'utf8').replace('timeout: 20s, repeats: 1 }', 'timeout: 20s, repeats: 2, baseline: cached }');
    await writeFile(join(repo, '.github/autoloop.yml'), config);
    gitSync(repo, 'commit', '-qam', 'config');
    const result = await runLoop({
      cwd: repo,
      tag: 'cached',
      proposer: scriptedProposer([
        async (wt) => writeFile(join(wt, 'params.json'), '{"x": 1, "y": 0}\n'),
        async (wt) => writeFile(join(wt, 'params.json'), '{"x": 5, "y": 5}\n'),
      ]),
    });
    const [baseline, first, second] = result.experiments;
    expect(first!.status).toBe('keep');
    expect(first!.judgement).toMatchObject({ paired: false, baseline: { samples: [10.5, 10.5] }, candidate: { samples: [5.5, 5.5] } });
    expect(first!.judgement!.interval?.method).toMatch(/^Welch's t/);
    expect(first!.judgement!.reasons[0]).toBe(UNPAIRED_NOTE);
    // The second experiment is compared with the first's samples, re-used, not re-measured.
    expect(second!.judgement).toMatchObject({ paired: false, baseline: { samples: [5.5, 5.5] } });
    expect(second!.status).toBe('discard');
    for (const e of [first!, second!]) {
      const logs = readdirSync(join(result.paths.dir, e.traceDir)).filter((f) => f.endsWith('.log')).sort();
      expect(logs).toEqual(['candidate-1.log', 'candidate-2.log']);
    }
    expect(baseline!.samples.map((s) => s.side)).toEqual(['baseline', 'baseline']);
    // The evaluation time counts the runs made in the experiment: the cached baseline samples were not run again.
    for (const e of [first!, second!]) {
      const candidateMs = e.samples.filter((s) => s.side === 'candidate').reduce((sum, s) => sum + s.outcome.durationMs, 0);
      expect(e.durations.evaluateMs).toBe(candidateMs);
      expect(e.durations.overheadMs).toBeGreaterThan(0);
    }
    expect(gitSync(repo, 'log', '-1', '--format=%B', 'autoloop/cached/run')).toContain(UNPAIRED_NOTE);
    expect(readFileSync(result.paths.report, 'utf8')).toContain(UNPAIRED_NOTE);
  });

  it('stops when the wall-time budget is spent', async () => {
    const repo = makeQuadraticRepo('{ experiments: 50, wall_time: 10m }');
    let clock = 0;
    const result = await runLoop({
      proposer: createProposer,
      cwd: repo,
      tag: 'wall',
      configPath: '.github/autoloop.yml',
      now: () => clock,
      onEvent: (e) => {
        if (e.type === 'experiment') clock += 4 * 60_000;
      },
    });
    expect(result.stopReason).toBe('wall_time budget spent');
    expect(result.experiments.map((e) => e.experiment)).toEqual([0, 1, 2]);
  });

  it('fails clearly when the baseline reports no metric', async () => {
    const repo = makeQuadraticRepo(undefined, { 'eval.mjs': 'console.log("METRIC accuracy=1")\n' });
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'nometric' });
    expect(result.outcome).toBe('failed');
    expect(result.experiments).toHaveLength(1);
    expect(result.experiments[0]!.status).toBe('invalid');
    expect(result.stopReason).toMatch(/the baseline could not be measured: .*no metric "loss"/);
  });

  it('refuses to start a run whose tag exists, and to resume one that does not', async () => {
    const repo = makeQuadraticRepo();
    await runLoop({ proposer: createProposer, cwd: repo, tag: 'dup', experiments: 1 });
    await expect(runLoop({ proposer: createProposer, cwd: repo, tag: 'dup' })).rejects.toThrow(/run dup already exists in .autoloop\/dup: continue it with --resume/);
    await expect(runLoop({ proposer: createProposer, cwd: repo, tag: 'nope', resume: true })).rejects.toThrow(/no run to resume named nope/);
    await expect(runLoop({ proposer: createProposer, cwd: repo, tag: 'bad tag' })).rejects.toThrow(/--tag "bad tag" is not a valid name/);
  });

  it('resumes to the budget the run started with, and refuses another --experiments', async () => {
    // budget.experiments is 6; the run starts with --experiments 2 and is interrupted after the baseline.
    const repo = makeQuadraticRepo();
    const controller = new AbortController();
    const first = await runLoop({ proposer: createProposer, cwd: repo, tag: 'budget', experiments: 2, signal: controller.signal, onEvent: (e) => e.type === 'experiment' && controller.abort() });
    expect(first.outcome).toBe('interrupted');
    expect(first.run.experiments).toBe(2);

    const starts: Extract<LoopEvent, { type: 'start' }>[] = [];
    const resumed = await runLoop({ proposer: createProposer, cwd: repo, tag: 'budget', resume: true, onEvent: (e) => e.type === 'start' && starts.push(e) });
    expect(resumed.experiments).toHaveLength(3);
    expect(resumed.stopReason).toBe('budget of 2 experiments spent');
    expect(starts[0]).toMatchObject({ budget: 2 });
    expect(starts[0]!.budgetWas).toBeUndefined();

    await expect(runLoop({ proposer: createProposer, cwd: repo, tag: 'budget', resume: true, experiments: 3 })).rejects.toThrow(/--experiments 3: run budget started with a budget of 2 experiments/);
  });

  it('recognises a deterministic metric from the base, then measures a discard once per side and a keep twice', async () => {
    const repo = makeQuadraticRepo('{ experiments: 4 }');
    const config = readFileSync(join(repo, '.github/autoloop.yml'), 'utf8').replace('timeout: 20s, repeats: 1 }', 'timeout: 20s, repeats: 5 }');
    await writeFile(join(repo, '.github/autoloop.yml'), config);
    gitSync(repo, 'commit', '-qam', 'config');
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'det' });
    const measured = result.experiments.filter((e) => e.experiment > 0 && e.judgement);
    expect(measured.length).toBeGreaterThan(1);
    for (const e of measured) {
      if (e.judgement!.delta < 0) {
        // Better (a minimised metric fell): a second pair shows the candidate gives one value too.
        expect(e.samples).toHaveLength(4);
        expect(e.judgement!.reasons).toContain('deterministic: every run of each side gave the same value, so 2 runs per side were enough (evaluate.repeats is 5)');
      } else {
        // Not better after one run per side: more runs of a metric that never moved cannot make it better.
        expect(e.samples).toHaveLength(2);
        expect(e.judgement!.reasons).toContain(
          'deterministic: the metric has not moved in any run so far and the candidate is not better after one run per side, so one was enough (evaluate.repeats is 5)',
        );
        expect(e.status).not.toBe('keep');
      }
    }
    expect(measured.some((e) => e.samples.length === 2)).toBe(true);
  });
});
