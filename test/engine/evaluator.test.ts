import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/config-schema.js';
import { Evaluator } from '../../src/engine/evaluator.js';

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
