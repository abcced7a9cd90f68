import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/config.js';
import { configWarnings, localParallel } from '../../src/core/render/config-summary.js';
import { verifyLedger } from '../../src/core/ledger/ledger.js';
import type { ExperimentRecord } from '../../src/core/ledger/records.js';
import type { Proposer } from '../../src/core/propose/proposer.js';
import { checkKeptCommits } from '../../src/engine/kept-commits.js';
import { runLoop, type RunResult } from '../../src/engine/loop.js';
import type { LoopEvent } from '../../src/engine/run-options.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

/**
 * The quadratic of the loop tests (optimum x = 3, y = -1, loss 0.5), with x and y a line apart (so that
 * changes to each merge) and an evaluator that takes 300 ms and prints when it ran (`WINDOW start end`).
 */
const SLOW_EVAL = `import { readFileSync } from 'node:fs';
const start = Date.now();
const p = JSON.parse(readFileSync('params.json', 'utf8'));
await new Promise((done) => setTimeout(done, 300));
console.log('WINDOW ' + start + ' ' + Date.now());
console.log('METRIC loss=' + ((p.x - 3) ** 2 + (p.y + 1) ** 2 + 0.5));
`;

const params = (x: number, y: number) => `{\n  "x": ${x},\n  "_": "x and y are a line apart",\n  "y": ${y}\n}\n`;

function slowRepo(budget: string, evaluate = 'load_sensitive: false'): string {
  return makeRepo({
    'eval.mjs': SLOW_EVAL,
    'params.json': params(0, 0),
    '.github/autoloop.yml': `metric: { name: loss, goal: minimize, min_effect: 0.001, suspicious_effect: 100% }
evaluate: { command: node eval.mjs, timeout: 20s, repeats: 1, confirm: false${evaluate ? `, ${evaluate}` : ''} }
scope: { edit: [params.json], protect: [eval.mjs] }
proposer: { kind: tune, tune: { file: params.json, params: { x: { min: -10, max: 10 }, y: { min: -10, max: 10 } } } }
budget: ${budget}
`,
  });
}

/** Edits params.json in place, one key per experiment (`steps[k - 1]`), and remembers how much history each proposal was given. */
function editingProposer(steps: Array<{ x?: number; y?: number }>, seen: Map<number, number> = new Map()): Proposer {
  return {
    kind: 'scripted',
    async propose({ worktree, experiment, history }) {
      seen.set(experiment, history.length);
      const step = steps[experiment - 1];
      if (!step) return null;
      const file = join(worktree, 'params.json');
      let text = await readFile(file, 'utf8');
      for (const [key, value] of Object.entries(step)) text = text.replace(new RegExp(`"${key}": [-\\d.]+`), `"${key}": ${value}`);
      await writeFile(file, text);
      return { hypothesis: Object.entries(step).map(([key, value]) => `${key} → ${value}`).join(', '), notes: {} };
    },
  };
}

/** When each evaluator run of an experiment (its own folder, or `sub`) ran, from the WINDOW lines of its logs. */
function windows(result: RunResult, record: ExperimentRecord, sub = ''): Array<[number, number]> {
  const trace = join(result.paths.dir, record.traceDir, sub);
  return readdirSync(trace)
    .filter((f) => /^(baseline|candidate)-\d+\.log$/.test(f))
    .map((f) => readFileSync(join(trace, f), 'utf8').match(/WINDOW (\d+) (\d+)/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => [Number(m[1]), Number(m[2])]);
}

/** Whether any evaluator run of one experiment overlapped in time with one of another's. */
function overlapping(result: RunResult): boolean {
  const measured = result.experiments.filter((e) => e.experiment > 0);
  return measured.some((a) => measured.some((b) => a.experiment < b.experiment && windows(result, a).some(([s1, e1]) => windows(result, b).some(([s2, e2]) => s1 < e2 && s2 < e1))));
}

async function expectIntactLedger(result: RunResult): Promise<void> {
  const text = readFileSync(result.paths.ledger, 'utf8');
  expect(verifyLedger(text, result.paths.ledger).ok).toBe(true);
  const kept = await checkKeptCommits(result.paths.dir, text, result.paths.ledger);
  expect(kept.checked && kept.verification.ok).toBe(true);
  const numbers = text.trim().split('\n').map((line) => JSON.parse(line) as { type: string; experiment?: number }).filter((r) => r.type === 'experiment').map((r) => r.experiment);
  expect(numbers).toEqual(numbers.map((_, i) => i));
}

describe('runLoop with budget.parallel', () => {
  it('runs two experiments side by side with a load-insensitive metric, each in its own worktrees, and records them in order', async () => {
    const repo = slowRepo('{ experiments: 4, parallel: 2 }');
    const seen = new Map<number, number>();
    const starts: Extract<LoopEvent, { type: 'start' }>[] = [];
    const result = await runLoop({
      cwd: repo,
      tag: 'par',
      proposer: editingProposer([{ x: 1 }, { x: -1 }, { y: 1 }, { y: -3 }], seen),
      onEvent: (e) => e.type === 'start' && starts.push(e),
    });

    expect(result.outcome).toBe('completed');
    expect(result.stopReason).toBe('budget of 4 experiments spent');
    expect(result.experiments.map((e) => e.experiment)).toEqual([0, 1, 2, 3, 4]);
    expect(starts[0]).toMatchObject({ parallel: 2, warnings: [] });
    expect(overlapping(result)).toBe(true);
    // Experiment 2 started while experiment 1 was still in flight: its proposer had only the baseline to go by.
    expect(seen.get(1)).toBe(1);
    expect(seen.get(2)).toBe(1);
    expect(seen.get(3)).toBeGreaterThan(1);
    const worktrees = join(repo, '.git', 'autoloop', 'par');
    expect(readdirSync(worktrees).sort()).toEqual(['baseline', 'baseline-1', 'candidate', 'candidate-1']);
    await expectIntactLedger(result);
    // The run branch is the ledger's best, a chain of kept commits on the base.
    const best = result.experiments.at(-1)!.bestCommit;
    expect(gitSync(repo, 'rev-parse', 'autoloop/par/run')).toBe(best);
    const kept = result.experiments.filter((e) => e.keptCommit && e.experiment > 0);
    expect(gitSync(repo, 'rev-list', '--count', `main..${best}`)).toBe(String(kept.length));
  });

  it('re-measures a winner whose parent is no longer the run head on top of the new head before keeping it', async () => {
    const repo = slowRepo('{ experiments: 2, parallel: 2 }');
    // Both start from the base (x 0, y 0: loss 10.5). Experiment 1 (x → 3: 1.5) is kept first; experiment 2
    // (y → -1: 9.5 against the base) won against a parent that is no longer the head.
    const result = await runLoop({ cwd: repo, tag: 'stale', proposer: editingProposer([{ x: 3 }, { y: -1 }]) });
    const [, first, second] = result.experiments;
    expect(first).toMatchObject({ status: 'keep', metric: 1.5 });
    expect(second!.status).toBe('keep');
    // Measured again, paired, on experiment 1's commit: x 3 and y -1 together (0.5) against x 3 alone (1.5).
    expect(second!.parentCommit).toBe(first!.keptCommit);
    expect(second!.metric).toBe(0.5);
    expect(second!.judgement).toMatchObject({ baseline: { samples: [1.5] }, candidate: { samples: [0.5] } });
    expect(new Set(second!.samples.filter((s) => s.side === 'baseline').map((s) => s.commit))).toEqual(new Set([first!.keptCommit]));
    expect(second!.reason).toMatch(/re-measured on the run head .* experiment 1 was kept/);
    expect(windows(result, second!, 'rebased')).toHaveLength(2);
    // What landed is what was measured: the rebased commit's tree, on experiment 1's commit.
    expect(gitSync(repo, 'rev-parse', 'autoloop/stale/run')).toBe(second!.keptCommit);
    expect(gitSync(repo, 'rev-parse', `${second!.keptCommit}^`)).toBe(first!.keptCommit);
    expect(gitSync(repo, 'rev-parse', `${second!.keptCommit}^{tree}`)).toBe(gitSync(repo, 'rev-parse', `${second!.candidateCommit}^{tree}`));
    expect(JSON.parse(gitSync(repo, 'show', `${second!.keptCommit}:params.json`))).toMatchObject({ x: 3, y: -1 });
    await expectIntactLedger(result);
  });

  it('discards a stale winner whose change does not merge onto the new head, and never keeps it unmeasured', async () => {
    const repo = slowRepo('{ experiments: 2, parallel: 2 }');
    // Experiment 2 (x → 2: 2.5 against the base's 10.5) changed the line experiment 1 (x → 3) changed.
    const result = await runLoop({ cwd: repo, tag: 'conflict', proposer: editingProposer([{ x: 3 }, { x: 2 }]) });
    const [, first, second] = result.experiments;
    expect(first!.status).toBe('keep');
    expect(second).toMatchObject({ status: 'discard', keptCommit: null, bestCommit: first!.keptCommit, best: 1.5 });
    expect(second!.judgement).toMatchObject({ verdict: 'improved' });
    expect(second!.reason).toMatch(/experiment 1 was kept .*does not merge .*params\.json/);
    expect(existsSync(join(result.paths.dir, second!.traceDir, 'rebased'))).toBe(false);
    expect(gitSync(repo, 'rev-parse', 'autoloop/conflict/run')).toBe(first!.keptCommit);
    await expectIntactLedger(result);
  });

  it('keeps a load-sensitive metric (the default) serial, and says so once at the start', async () => {
    const repo = slowRepo('{ experiments: 2, parallel: 2 }', '');
    const starts: Extract<LoopEvent, { type: 'start' }>[] = [];
    const result = await runLoop({ cwd: repo, tag: 'serial', proposer: editingProposer([{ x: 1 }, { y: 1 }]), onEvent: (e) => e.type === 'start' && starts.push(e) });
    expect(result.experiments).toHaveLength(3);
    expect(starts).toHaveLength(1);
    expect(starts[0]!.parallel).toBe(1);
    expect(starts[0]!.warnings).toEqual([expect.stringMatching(/^budget\.parallel is 2, but autoloop run measures one experiment at a time.*evaluate\.load_sensitive: false/)]);
    expect(overlapping(result)).toBe(false);
    expect(readdirSync(join(repo, '.git', 'autoloop', 'serial')).sort()).toEqual(['baseline', 'candidate']);
  });

  it('records nothing half-done when interrupted with experiments in flight, and --resume finishes the run', async () => {
    const repo = slowRepo('{ experiments: 4, parallel: 2 }');
    const controller = new AbortController();
    const first = await runLoop({
      cwd: repo,
      tag: 'stop',
      signal: controller.signal,
      proposer: editingProposer([{ x: 1 }, { x: -1 }, { y: 1 }, { y: -3 }]),
      // Experiment 2 is being measured when experiment 1 is recorded.
      onEvent: (e) => e.type === 'experiment' && e.record.experiment === 1 && controller.abort(),
    });
    expect(first.outcome).toBe('interrupted');
    expect(first.experiments.map((e) => e.experiment)).toEqual([0, 1]);
    // Experiment 2 was proposed and being measured: none of it reached the ledger or the run branch.
    expect(existsSync(join(first.paths.traces, 'exp-0002', 'proposal.json'))).toBe(true);
    expect(gitSync(repo, 'rev-parse', 'autoloop/stop/run')).toBe(first.experiments[1]!.bestCommit);
    const text = readFileSync(first.paths.ledger, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trim().split('\n').map((line) => (JSON.parse(line) as { type: string }).type)).toEqual(['run', 'experiment', 'experiment']);
    await expectIntactLedger(first);

    const resumed = await runLoop({ cwd: repo, tag: 'stop', resume: true, proposer: editingProposer([{ x: 1 }, { x: -1 }, { y: 1 }, { y: -3 }]) });
    expect(resumed.outcome).toBe('completed');
    expect(resumed.experiments.map((e) => e.experiment)).toEqual([0, 1, 2, 3, 4]);
    await expectIntactLedger(resumed);
  });

  it('stops starting experiments at max_failures and when the proposer is done, recording only whole experiments in order', async () => {
    const failing = slowRepo('{ experiments: 10, parallel: 2, max_failures: 2 }');
    const outOfScope: Proposer = {
      kind: 'scripted',
      async propose({ worktree }) {
        await writeFile(join(worktree, 'eval.mjs'), 'console.log("METRIC loss=0")\n');
        return { hypothesis: 'rewrite the evaluator', notes: {} };
      },
    };
    const failed = await runLoop({ cwd: failing, tag: 'fail', proposer: outOfScope });
    expect(failed.outcome).toBe('failed');
    expect(failed.stopReason).toMatch(/^2 invalid experiments in a row/);
    expect(failed.experiments.length).toBeGreaterThanOrEqual(3);
    expect(failed.experiments.length).toBeLessThanOrEqual(4);
    await expectIntactLedger(failed);

    const done = await runLoop({ cwd: slowRepo('{ experiments: 6, parallel: 2 }'), tag: 'done', proposer: editingProposer([{ x: 1 }, { y: 1 }, { x: 2 }]) });
    expect(done.stopReason).toBe('the proposer has nothing left to propose');
    expect(done.experiments.map((e) => e.experiment)).toEqual([0, 1, 2, 3]);
    await expectIntactLedger(done);
  });
});

describe('red team: experiments side by side share the git directory', () => {
  it('a candidate that plants config in .git while another slot proposes: put back, never trusted, and its experiment void', async () => {
    // Unsandboxed, experiment 2's candidate run waits for experiment 1's record, then writes to the repository's
    // .git/config and lingers: experiment 3, starting in the slot experiment 1 freed, trusts the git directory anew.
    const evaluator = SLOW_EVAL.replace(
      "console.log('WINDOW '",
      `if (p.y === 5 && process.env.AUTOLOOP_SIDE === 'candidate') {
  const { appendFileSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  const gitDir = dirname(dirname(readFileSync('.git', 'utf8').trim().slice('gitdir: '.length)));
  const ledger = dirname(gitDir) + '/.autoloop/plant/ledger.jsonl';
  for (let i = 0; i < 2000 && !readFileSync(ledger, 'utf8').includes('"experiment":1,'); i++) await new Promise((done) => setTimeout(done, 5));
  appendFileSync(gitDir + '/config', '[alias]\\n\\tplanted = !echo planted\\n');
  await new Promise((done) => setTimeout(done, 1500));
}
console.log('WINDOW '`,
    );
    const repo = makeRepo({
      'eval.mjs': evaluator,
      'params.json': params(0, 0),
      '.github/autoloop.yml': readFileSync(join(slowRepo('{ experiments: 3, parallel: 2 }'), '.github/autoloop.yml'), 'utf8') + 'sandbox: none\n',
    });
    const configBefore = readFileSync(join(repo, '.git', 'config'), 'utf8');
    const result = await runLoop({ cwd: repo, tag: 'plant', proposer: editingProposer([{ x: 1 }, { y: 5 }, { x: 2 }]) });
    const planted = result.experiments[2]!;
    expect(planted.status).toBe('invalid');
    expect(planted.reason).toMatch(/git directory was changed .*config/);
    expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).toBe(configBefore);
    expect(result.experiments[1]!.status).toBe('keep');
    await expectIntactLedger(result);
  });
});

describe('localParallel and its warnings', () => {
  const config = (evaluate: string, budget = '{ parallel: 3 }', metric = 'loss') =>
    parseConfig(`metric: { name: ${metric}, goal: minimize, min_effect: 1% }\nevaluate: { command: node eval.js${evaluate} }\nscope: { edit: [p.json] }\nproposer: { kind: tune, tune: { file: p.json, params: { x: { min: 0, max: 1 } } } }\nbudget: ${budget}\n`, 'a.yml');

  it('runs budget.parallel experiments at once only for metrics declared load-insensitive', () => {
    expect(localParallel(config(''))).toBe(1);
    expect(localParallel(config(', load_sensitive: true'))).toBe(1);
    expect(localParallel(config(', load_sensitive: false'))).toBe(3);
    expect(localParallel(config(', load_sensitive: false', '{ parallel: 1 }'))).toBe(1);
    expect(configWarnings(config(''))).toEqual([expect.stringContaining('budget.parallel is 3, but autoloop run measures one experiment at a time')]);
    expect(configWarnings(config('', '{ parallel: 1 }'))).toEqual([]);
    expect(configWarnings(config(', load_sensitive: false'))).toEqual([]);
  });

  it('warns when a timing is declared load-insensitive and measured side by side', () => {
    expect(configWarnings(config(', load_sensitive: false', '{ parallel: 2 }', 'autoloop.wall_ms'))).toEqual([expect.stringMatching(/^evaluate\.load_sensitive is false, yet autoloop\.wall_ms is a time/)]);
    expect(configWarnings(config(', load_sensitive: false', '{ parallel: 1 }', 'autoloop.wall_ms'))).toEqual([]);
  });
});

