import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/config-schema.js';
import { Evaluator, stderrExcerpt } from '../../src/engine/evaluator.js';

describe('Evaluator.measurePair', () => {
  it('interleaves baseline and candidate runs: B C B C B C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-order-'));
    const order = join(dir, 'order.txt');
    const config = configSchema.parse({
      metric: { name: 'loss', goal: 'minimize' },
      // Each run appends its side to one file, so the file is the order the runs happened in.
      // The metric moves from run to run, so all three pairs are measured (a constant one stops after two).
      evaluate: { command: `printf '%s ' "$AUTOLOOP_SIDE" >> ${order}; echo METRIC loss=$AUTOLOOP_RUN`, repeats: 3 },
      scope: { edit: ['p.json'] },
      proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
    });
    const evaluator = new Evaluator(config);
    const samples = await evaluator.measurePair(
      { side: 'baseline', worktree: dir, commit: 'a'.repeat(40) },
      { side: 'candidate', worktree: dir, commit: 'b'.repeat(40) },
      join(dir, 'trace'),
    );
    expect(readFileSync(order, 'utf8')).toBe('baseline candidate baseline candidate baseline candidate ');
    expect(samples.map((s) => `${s.side[0]}${s.index}`)).toEqual(['b0', 'c0', 'b1', 'c1', 'b2', 'c2']);
    expect(samples.every((s) => s.ok && s.metrics.loss === s.index + 1)).toBe(true);
  });

  it('stops after two runs per side when neither side moved: the metric is deterministic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-deterministic-'));
    const configWith = (mem: string) => configSchema.parse({
      metric: { name: 'loss', goal: 'minimize' },
      guards: [{ name: 'mem', goal: 'minimize' }],
      evaluate: { command: `if [ "$AUTOLOOP_SIDE" = candidate ]; then echo METRIC loss=2; else echo METRIC loss=3; fi; echo METRIC mem=${mem}`, repeats: 5 },
      scope: { edit: ['p.json'] },
      proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
    });
    const sides = (evaluator: Evaluator) => evaluator.measurePair({ side: 'baseline', worktree: dir, commit: 'a'.repeat(40) }, { side: 'candidate', worktree: dir, commit: 'b'.repeat(40) }, join(dir, 'trace'));
    expect(await sides(new Evaluator(configWith('7')))).toHaveLength(4);
    // A guard that moves is noise to measure: all five pairs.
    const noisy = configWith('$AUTOLOOP_RUN');
    expect(await sides(new Evaluator(noisy))).toHaveLength(10);
    // Once a metric was seen to move, two equal runs later are chance, not proof: all pairs again.
    const flag = join(dir, 'steady');
    const settles = new Evaluator(configWith(`$([ -f ${flag} ] && echo 1 || echo $AUTOLOOP_RUN)`));
    expect(await sides(settles)).toHaveLength(10);
    writeFileSync(flag, '');
    expect(await sides(settles)).toHaveLength(10);
    expect(await sides(new Evaluator(configWith(`$([ -f ${flag} ] && echo 1 || echo $AUTOLOOP_RUN)`)))).toHaveLength(4);
    // A time autoloop measures is never deterministic, even when its 10 ms steps come out equal.
    const timed = configSchema.parse({
      metric: { name: 'autoloop.cpu_ms', goal: 'minimize' },
      evaluate: { command: 'true', repeats: 3 },
      scope: { edit: ['p.json'] },
      proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
    });
    // Equal steps are what is under test; on a loaded machine one run may tick 10 ms more, so measure until they are equal
    // (every measurement must still take all three pairs).
    let cpu = await sides(new Evaluator(timed));
    expect(cpu).toHaveLength(6);
    for (let attempt = 0; attempt < 4 && new Set(cpu.map((sample) => sample.metrics['autoloop.cpu_ms'])).size > 1; attempt++) {
      cpu = await sides(new Evaluator(timed));
      expect(cpu).toHaveLength(6);
    }
    expect(new Set(cpu.map((sample) => sample.metrics['autoloop.cpu_ms'])).size).toBe(1);
  });

  it('once the base gave one value, measures a candidate that is not better once per side, and one that looks better until it repeats or varies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-steady-'));
    // The candidate's value comes from a file, so one evaluator sees several candidates in turn.
    const value = join(dir, 'candidate-value');
    const config = configSchema.parse({
      metric: { name: 'loss', goal: 'minimize' },
      evaluate: { command: `if [ "$AUTOLOOP_SIDE" = candidate ]; then echo METRIC loss=$(sh ${value}); else echo METRIC loss=3; fi`, repeats: 5 },
      scope: { edit: ['p.json'] },
      proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
    });
    const evaluator = new Evaluator(config);
    const baseline = { side: 'baseline' as const, worktree: dir, commit: 'a'.repeat(40) };
    const candidate = { side: 'candidate' as const, worktree: dir, commit: 'b'.repeat(40) };
    const trace = join(dir, 'trace');
    // Not yet seen to be deterministic: two pairs before stopping.
    writeFileSync(value, 'echo 4');
    expect(await evaluator.measurePair(baseline, candidate, trace)).toHaveLength(4);
    // Now it is: a worse candidate is measured once per side.
    expect(await evaluator.measurePair(baseline, candidate, trace)).toHaveLength(2);
    // A better one is measured again, and stops once its second run repeats the first.
    writeFileSync(value, 'echo 2');
    expect(await evaluator.measurePair(baseline, candidate, trace)).toHaveLength(4);
    // A candidate that is better once by chance and then moves gets every pair: the shortcut never keeps anything.
    writeFileSync(value, 'echo $((AUTOLOOP_RUN + 1))');
    expect(await evaluator.measurePair(baseline, candidate, trace)).toHaveLength(10);
    // And from then on nothing is taken as deterministic.
    writeFileSync(value, 'echo 4');
    expect(await evaluator.measurePair(baseline, candidate, trace)).toHaveLength(10);
  });

  it('takes the base measured alone as proof of a deterministic metric', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-steady-base-'));
    const config = configSchema.parse({
      metric: { name: 'loss', goal: 'minimize' },
      evaluate: { command: 'echo METRIC loss=3', repeats: 5 },
      scope: { edit: ['p.json'] },
      proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
    });
    const evaluator = new Evaluator(config);
    const baseline = { side: 'baseline' as const, worktree: dir, commit: 'a'.repeat(40) };
    expect((await evaluator.measureAlone(baseline, join(dir, 'trace'))).samples).toHaveLength(5);
    expect(await evaluator.measurePair(baseline, { side: 'candidate', worktree: dir, commit: 'b'.repeat(40) }, join(dir, 'trace'))).toHaveLength(2);
  });
});

describe('the reason of a failed run', () => {
  /** A repository-like folder whose trace lives where the loop puts it: `<repo>/.autoloop/<tag>/traces/exp-0003`. */
  function failing(body: string, evaluate: Record<string, unknown> = {}) {
    const repo = mkdtempSync(join(tmpdir(), 'autoloop-crash-'));
    writeFileSync(join(repo, 'eval.js'), body);
    const config = configSchema.parse({
      metric: { name: 'loss', goal: 'minimize' },
      evaluate: { command: 'node eval.js', repeats: 1, ...evaluate },
      scope: { edit: ['p.json'] },
      proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
    });
    return { repo, evaluator: new Evaluator(config, { env: { PATH: process.env.PATH } }), trace: join(repo, '.autoloop', 'demo', 'traces', 'exp-0003') };
  }

  // A real Node crash: the error line sits above ten stack frames and a `Node.js v…` trailer, which used to be all the reason said.
  const CRASH = ["function parse(text) { return JSON.parse(text); }", "function load() { return parse('{oops'); }", 'load();'].join('\n');

  it('quotes the error line of a stack trace, not its last line, and names the log relative to the repository', async () => {
    const { repo, evaluator, trace } = failing(CRASH);
    const sample = await evaluator.measure({ side: 'candidate', worktree: repo, commit: 'c'.repeat(40) }, 0, trace);
    expect(sample.ok).toBe(false);
    expect(sample.reason).toMatch(/^evaluate\.command exited with code 1: /);
    expect(sample.reason).toMatch(/SyntaxError: Expected property name or '}' in JSON at position 1.* \| at parse \(/);
    expect(sample.reason).not.toMatch(/Node\.js v\d/);
    expect(sample.reason).toMatch(/ \(log: \.autoloop\/demo\/traces\/exp-0003\/candidate-1\.log\)$/);
    // The log it names is the one that holds the whole trace.
    expect(readFileSync(join(trace, 'candidate-1.log'), 'utf8')).toContain('at load (');
    expect(sample.reason!.length).toBeLessThan(400);
  });

  it('names the log of a failing setup or check too, by its full path when it is not in a repository', async () => {
    const { repo, evaluator } = failing('', { check: "node -e \"throw new TypeError('expected 3 tests, 2 ran')\"" });
    const elsewhere = join(repo, 'trace');
    const check = await evaluator.check(repo, elsewhere, 'candidate');
    expect(check?.ok).toBe(false);
    expect(check?.reason).toContain("TypeError: expected 3 tests, 2 ran");
    expect(check?.reason).toMatch(new RegExp(` \\(log: ${join(elsewhere, 'check-candidate.log').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)$`));
  });
});

describe('stderrExcerpt', () => {
  it('keeps the error line of a Python traceback with the frames before it', () => {
    const stderr = 'Traceback (most recent call last):\n  File "train.py", line 3, in <module>\n    main()\n  File "train.py", line 2, in main\nValueError: lr must be positive\n';
    expect(stderrExcerpt(stderr)).toBe('main() | File "train.py", line 2, in main | ValueError: lr must be positive');
  });

  it('finds the error above what Node prints after it, with the first frame in the user\'s code, carets and the version trailer dropped', () => {
    const stderr = [
      'node:fs:573',
      '  return binding.open(',
      '                 ^',
      '',
      "Error: ENOENT: no such file or directory, open 'data.csv'",
      '    at Object.openSync (node:fs:573:18)',
      '    at Object.readFileSync (node:fs:452:35)',
      '    at main (/repo/eval.js:3:15) {',
      '  errno: -2,',
      "  code: 'ENOENT',",
      '}',
      '',
      'Node.js v20.20.2',
    ].join('\n');
    expect(stderrExcerpt(stderr)).toBe("Error: ENOENT: no such file or directory, open 'data.csv' | at main (/repo/eval.js:3:15) { | errno: -2,");
  });

  it('takes the last lines when none looks like an error, strips control characters, and is empty for no output', () => {
    expect(stderrExcerpt('one\ntwo\nthree\n\x1b[31mfour\x1b[0m\n')).toBe('two | three | four');
    expect(stderrExcerpt('  \n\n')).toBe('');
    expect(stderrExcerpt(`${'x'.repeat(500)}\n`).length).toBeLessThanOrEqual(240);
  });
});
