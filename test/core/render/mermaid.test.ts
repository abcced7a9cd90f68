import { describe, expect, it } from 'vitest';
import { mermaidNumber, mermaidText, renderMermaidChart } from '../../../src/core/render/mermaid.js';
import { makeExperiment, makeJudgement, makeLedger, makeRun } from '../../fixtures/records/ledger.js';
import { makeNoisyLedger } from './helpers.js';

/** xychart's number token: no exponent, no grouping. */
const XYCHART_NUMBER = /^[+-]?(?:\d+(?:\.\d+)?|\.\d+)$/;

function seriesOf(chart: string, kind: 'bar' | 'line'): number[] {
  const line = chart.split('\n').find((l) => l.trim().startsWith(`${kind} [`))!;
  const items = line.slice(line.indexOf('[') + 1, line.lastIndexOf(']')).split(', ');
  for (const item of items) expect(item).toMatch(XYCHART_NUMBER);
  return items.map(Number);
}

/** The y-axis range. */
function yRange(chart: string): [number, number] {
  const [, low, high] = /y-axis "[^"]*" (\S+) --> (\S+)/.exec(chart)!;
  return [Number(low), Number(high)];
}

describe('each experiment against its own parent', () => {
  it('never draws a discarded candidate as beating the kept line when only the machine got faster', () => {
    // In absolute values 92.4 is below the kept head's 109.5, so the absolute chart drew its bar under the best line.
    // Against its own parent, measured at 154.2 beside it, it is −40.1%: less than the −45.25% of experiment 1, kept.
    const { run, experiments } = makeNoisyLedger();
    const keptHead = experiments.find((e) => e.experiment === 1)!;
    const discarded = experiments.find((e) => e.experiment === 2)!;
    expect([keptHead.status, discarded.status]).toEqual(['keep', 'discard']);
    expect(discarded.metric).toBeLessThan(keptHead.metric!);

    const chart = renderMermaidChart(run, experiments);
    const bars = seriesOf(chart, 'bar');
    const line = seriesOf(chart, 'line');
    expect(bars).toEqual([0, -45.25, -40.08, -10.91, 0]);
    expect(line).toEqual([0, -45.25, -45.25, -45.25, -45.25]);
    // Lower is better: every bar after the kept one stays on the worse side of the kept line.
    for (const i of [2, 3, 4]) expect(bars[i]).toBeGreaterThan(line[i]!);
    // No absolute value is plotted: not the candidate's 92.4, the kept 109.5 or the parent's 154.2.
    expect(chart).not.toMatch(/\b(?:92\.4|109\.5|154\.2)\b/);
    expect(chart).toContain('  title "sort_ms: % change vs parent (bars), kept compounded (line)"\n');
    expect(chart).toContain('  y-axis "% change in sort_ms (lower is better)" -50 --> 10\n');
    expect(chart).toContain(
      'Kept: experiment 1. Better but not kept (the table says why): experiment 3. Discarded on the better side of 0%, within the noise or below `min_effect`: experiment 2. No value for experiment 4 (crashed or invalid): bar drawn at 0%.',
    );
  });

  it('does the same when maximizing: a discarded value above the kept head stays below the kept line', () => {
    const run = makeRun({ metric: { name: 'ops', goal: 'maximize' } });
    const experiments = [
      makeExperiment({ experiment: 0, metric: 100, best: 100 }),
      makeExperiment({ experiment: 1, metric: 120, best: 120, judgement: makeJudgement(100, 120, { verdict: 'improved', keep: true }) }),
      // The machine got faster: the parent measured 160 beside it and the candidate 150, above the kept 120, yet a regression.
      makeExperiment({ experiment: 2, status: 'discard', metric: 150, best: 120, judgement: makeJudgement(160, 150, { verdict: 'regressed', keep: false }) }),
    ];
    const chart = renderMermaidChart(run, experiments);
    const bars = seriesOf(chart, 'bar');
    const line = seriesOf(chart, 'line');
    expect(bars).toEqual([0, 20, -6.25]);
    expect(line).toEqual([0, 20, 20]);
    expect(bars[2]).toBeLessThan(line[2]!);
    expect(chart).toContain('% change in ops (higher is better)');
    expect(chart).not.toContain('Discarded on the better side');
  });
});

describe('renderMermaidChart', () => {
  it('renders the hand-made ledger as an xychart: each change against its parent as a bar, the kept changes compounded as a line', () => {
    const { run, experiments } = makeLedger();
    const chart = renderMermaidChart(run, experiments);
    expect(chart).toBe(
      [
        '```mermaid',
        'xychart-beta',
        '  title "val_loss: % change vs parent (bars), kept compounded (line)"',
        '  x-axis "experiment" [0, 1, 2, 3, 4, 5, 6]',
        '  y-axis "% change in val_loss (lower is better)" -25 --> 10',
        '  bar [0, -10, 4.444, 0, -11.11, 0, 2.5]',
        '  line [0, -10, -10, -10, -20, -20, -20]',
        '```',
        '',
        "<sub>Bars: each experiment's change in `val_loss` against its parent as measured in that experiment, in % (lower is better; bars rise from the axis minimum: read their tops against 0%). Line: the kept changes compounded, an estimate of the run head against the baseline. Kept: experiments 1, 4. No value for experiments 3, 5 (crashed or invalid): bar drawn at 0%.</sub>",
        '',
      ].join('\n'),
    );
  });

  it('orders experiments and compares a record without a judgement with the last kept value', () => {
    const run = makeRun({ metric: { name: 'accuracy', goal: 'maximize' } });
    const experiments = [
      makeExperiment({ experiment: 2, status: 'discard', metric: 0.95, best: null }),
      makeExperiment({ experiment: 0, metric: 0.8, best: null }),
      makeExperiment({ experiment: 1, metric: 0.9, best: null }),
    ];
    const chart = renderMermaidChart(run, experiments);
    expect(chart.split('\n').slice(0, 2)).toEqual(['```mermaid', 'xychart-beta']);
    expect(chart).toContain('  x-axis "experiment" [0, 1, 2]\n');
    expect(chart).toContain('% change in accuracy (higher is better)');
    // 0.8 → 0.9 is +12.5%; 0.95 against the kept 0.9 is +5.56%, and without a judgement it was not kept.
    expect(seriesOf(chart, 'bar')).toEqual([0, 12.5, 5.556]);
    expect(seriesOf(chart, 'line')).toEqual([0, 12.5, 12.5]);
    expect(chart).toContain('Discarded on the better side of 0%, within the noise or below `min_effect`: experiment 2.');
    expect(chart).not.toContain('No value');
  });

  it('puts every value inside the y range, which encloses 0% and the kept line with a margin', () => {
    const { run, experiments } = makeLedger();
    const chart = renderMermaidChart(run, experiments);
    const [low, high] = yRange(chart);
    for (const value of [0, ...seriesOf(chart, 'bar'), ...seriesOf(chart, 'line')]) {
      expect(value).toBeGreaterThan(low);
      expect(value).toBeLessThan(high);
    }
  });

  it('draws a wild discarded change at the axis edge and says so', () => {
    const experiments = [
      makeExperiment({ experiment: 0, metric: 1, best: 1 }),
      makeExperiment({ experiment: 1, metric: 0.9, best: 0.9 }),
      makeExperiment({ experiment: 2, status: 'discard', metric: 1e6, best: 0.9 }),
    ];
    const chart = renderMermaidChart(makeRun(), experiments);
    const [, high] = yRange(chart);
    expect(high).toBeLessThan(100);
    expect(seriesOf(chart, 'bar')[2]).toBe(high);
    expect(chart).toContain('Experiment 2 off the scale: bar drawn at the axis edge.');
  });

  it('plots changes, not values: a tiny metric needs no exponent, which xychart cannot parse', () => {
    const experiments = [
      makeExperiment({ experiment: 0, metric: 1.23456789e-7, best: 1.23456789e-7 }),
      makeExperiment({ experiment: 1, metric: 1.1e-7, best: 1.1e-7 }),
    ];
    const chart = renderMermaidChart(makeRun(), experiments);
    expect(seriesOf(chart, 'bar')).toEqual([0, -10.9]);
    expect(chart).not.toMatch(/\de[+-]?\d/);
  });

  it('escapes double quotes and backticks in the title and the axis', () => {
    const run = makeRun({ metric: { name: 'my "best" ```loss', goal: 'minimize' } });
    const chart = renderMermaidChart(run, [makeExperiment({ experiment: 0, metric: 1 })]);
    expect(chart).toContain(`  title "my 'best' '''loss: % change vs parent (bars), kept compounded (line)"\n`);
    expect(chart).toContain(`  y-axis "% change in my 'best' '''loss (lower is better)"`);
  });

  it('charts a run with only a baseline on a real scale, and says nothing was kept', () => {
    const chart = renderMermaidChart(makeRun(), [makeExperiment({ experiment: 0, metric: 1 })]);
    expect(yRange(chart)).toEqual([-1.5, 1.5]);
    expect(seriesOf(chart, 'bar')).toEqual([0]);
    expect(chart).toContain('None kept.');
  });

  it('says there is nothing to chart when nothing was measured', () => {
    const chart = renderMermaidChart(makeRun(), [makeExperiment({ experiment: 0, status: 'crash', best: null })]);
    expect(chart).toBe('_No measured val_loss to chart yet._\n');
    expect(renderMermaidChart(makeRun(), [])).toBe('_No measured val_loss to chart yet._\n');
  });
});

describe('mermaidNumber and mermaidText', () => {
  it('formats numbers as xychart parses them', () => {
    expect(mermaidNumber(0.0456123456)).toBe('0.0456123');
    expect(mermaidNumber(-2.5)).toBe('-2.5');
    expect(mermaidNumber(-0)).toBe('0');
    expect(mermaidNumber(12345678.9)).toBe('12345700');
    expect(mermaidNumber(1e25)).toMatch(XYCHART_NUMBER);
  });

  it('makes text safe inside a quoted title', () => {
    expect(mermaidText('a "b"\n`c`')).toBe("a 'b' 'c'");
  });
});
