import { describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../../src/core/config/config-schema.js';
import { configWarnings, inProcessNote, metricSource, runsPerSideText } from '../../../src/core/render/config-summary.js';

function config(metric: string, evaluate: Partial<ConfigInput['evaluate']> = {}, guards: string[] = []) {
  return configSchema.parse({
    metric: { name: metric, goal: 'minimize' },
    guards: guards.map((name) => ({ name, goal: 'minimize' })),
    evaluate: { command: 'node bench.js', ...evaluate },
    scope: { edit: ['src/**'] },
    proposer: { kind: 'tune', tune: { file: 'src/p.json', params: { x: { min: 0, max: 1 } } } },
  });
}

describe('metricSource', () => {
  it('says when candidate code in the reporting process can write the metric', () => {
    expect(metricSource(config('loss'))).toBe('stdout of evaluate.command (candidate code in that process can write it)');
    expect(metricSource(config('loss', { report: 'file' }))).toBe('$AUTOLOOP_METRICS_FILE of evaluate.command (candidate code in that process can write it)');
  });

  it('names autoloop as the source of the times it measures', () => {
    expect(metricSource(config('autoloop.wall_ms'))).toBe('measured by autoloop (wall time of evaluate.command)');
    expect(metricSource(config('autoloop.cpu_ms', {}, ['autoloop.wall_ms']))).toBe('measured by autoloop (CPU time and wall time of evaluate.command)');
  });

  it('names the scorer, and each source when measured and reported metrics mix', () => {
    expect(metricSource(config('loss', { score: 'node score.js' }))).toBe('evaluate.score (stdout of `node score.js`, run apart from evaluate.command with the worktree read-only)');
    expect(metricSource(config('autoloop.wall_ms', {}, ['accuracy']))).toBe(
      'autoloop.wall_ms measured by autoloop (wall time of evaluate.command); accuracy from stdout of evaluate.command (candidate code in that process can write it)',
    );
  });
});

describe('configWarnings', () => {
  it('warns of a config that can only keep noise: one run per side and no min_effect', () => {
    const [warning] = configWarnings(config('loss', { repeats: 1 }));
    expect(warning).toMatch(/^evaluate\.repeats is 1 and metric\.min_effect is 0: .* about half of all changes that do nothing are kept\. Leave evaluate\.repeats out \(auto: sequential/);
    expect(configWarnings(config('loss', { repeats: 3 }))).toEqual([]);
    const withEffect = configSchema.parse({ metric: { name: 'loss', goal: 'minimize', min_effect: '1%' }, evaluate: { command: 'node bench.js', repeats: 1 }, scope: { edit: ['src/**'] }, proposer: { kind: 'tune', tune: { file: 'src/p.json', params: { x: { min: 0, max: 1 } } } } });
    expect(configWarnings(withEffect)).toEqual([]);
  });

  it('has nothing to say about the default: sequential measurement keeps at most 5% of changes that do nothing', () => {
    expect(config('loss').evaluate).toMatchObject({ sequential: true, repeats: 8, max_repeats: 8 });
    expect(configWarnings(config('loss'))).toEqual([]);
    expect(runsPerSideText(config('loss'))).toBe('3 to 8 runs per side (sequential)');
    expect(runsPerSideText(config('loss', { repeats: 1 }))).toBe('1 run per side');
  });
});

describe('inProcessNote', () => {
  it('warns only when the evaluator itself reports a metric, without a separate scorer', () => {
    expect(inProcessNote(config('loss'))[0]).toContain('can be fooled by it');
    expect(inProcessNote(config('autoloop.wall_ms'))).toEqual([]);
    expect(inProcessNote(config('loss', { score: 'node score.js' }))).toEqual([]);
    expect(inProcessNote(config('autoloop.wall_ms', {}, ['accuracy']))).toHaveLength(1);
  });
});

