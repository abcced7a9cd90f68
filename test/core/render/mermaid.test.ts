import { describe, expect, it } from 'vitest';
import { mermaidNumber, mermaidText, renderMermaidChart } from '../../../src/core/render/mermaid.js';
import { makeExperiment, makeLedger, makeRun } from '../../fixtures/records/ledger.js';

/** xychart's number token: no exponent, no grouping. */
const XYCHART_NUMBER = /^[+-]?(?:\d+(?:\.\d+)?|\.\d+)$/;

function seriesOf(chart: string, kind: 'bar' | 'line'): number[] {
  const line = chart.split('\n').find((l) => l.trim().startsWith(`${kind} [`))!;
  const items = line.slice(line.indexOf('[') + 1, line.lastIndexOf(']')).split(', ');
  for (const item of items) expect(item).toMatch(XYCHART_NUMBER);
  return items.map(Number);
}

describe('renderMermaidChart', () => {
  it('renders the hand-made ledger as an xychart: bars per experiment, the running best as a line', () => {
    const { run, experiments } = makeLedger();
    const chart = renderMermaidChart(run, experiments);
    expect(chart).toBe(
      [
        '```mermaid',
        'xychart-beta',
        '  title "autoloop test-run: val_loss"',
        '  x-axis "experiment" [0, 1, 2, 3, 4, 5, 6]',
        '  y-axis "val_loss (lower is better)" 0.38 --> 0.52',
        '  bar [0.5, 0.45, 0.47, 0.45, 0.4, 0.4, 0.41]',
        '  line [0.5, 0.45, 0.45, 0.45, 0.4, 0.4, 0.4]',
        '```',
        '',
        "<sub>Bars: each experiment's `val_loss`; line: the best so far (lower is better). No value for experiments 3, 5 (crashed or invalid): bar drawn at the best so far.</sub>",
        '',
      ].join('\n'),
    );
  });

  it('orders experiments and derives the best line from kept values when the ledger has no `best`', () => {
    const run = makeRun({ metric: { name: 'accuracy', goal: 'maximize' } });
    const experiments = [
      makeExperiment({ experiment: 2, status: 'discard', metric: 0.95, best: null }),
      makeExperiment({ experiment: 0, metric: 0.9, best: null }),
      makeExperiment({ experiment: 1, metric: 0.92, best: null }),
    ];
    const chart = renderMermaidChart(run, experiments);
    expect(chart.split('\n').slice(0, 2)).toEqual(['```mermaid', 'xychart-beta']);
    expect(chart).toContain('  x-axis "experiment" [0, 1, 2]\n');
    expect(chart).toContain('accuracy (higher is better)');
    expect(seriesOf(chart, 'line')).toEqual([0.9, 0.92, 0.92]);
    expect(seriesOf(chart, 'bar')).toEqual([0.9, 0.92, 0.95]);
    expect(chart).not.toContain('No value');
  });

  it('puts every value inside the y range, which encloses the best line with a margin', () => {
    const { run, experiments } = makeLedger();
    const chart = renderMermaidChart(run, experiments);
    const [, low, high] = /y-axis "[^"]*" (\S+) --> (\S+)/.exec(chart)!.map(Number);
    for (const value of [...seriesOf(chart, 'bar'), ...seriesOf(chart, 'line')]) {
      expect(value).toBeGreaterThan(low!);
      expect(value).toBeLessThan(high!);
    }
  });

  it('draws a wild discarded value at the axis edge and says so', () => {
    const experiments = [
      makeExperiment({ experiment: 0, metric: 1, best: 1 }),
      makeExperiment({ experiment: 1, metric: 0.9, best: 0.9 }),
      makeExperiment({ experiment: 2, status: 'discard', metric: 1e6, best: 0.9 }),
    ];
    const chart = renderMermaidChart(makeRun(), experiments);
    const high = Number(/--> (\S+)/.exec(chart)![1]);
    expect(high).toBeLessThan(2);
    expect(seriesOf(chart, 'bar')[2]).toBe(high);
    expect(chart).toContain('experiment 2 off the scale: bar drawn at the axis edge.');
  });

  it('keeps ~6 significant digits and never writes exponents, which xychart cannot parse', () => {
    const experiments = [
      makeExperiment({ experiment: 0, metric: 1.23456789e-7, best: 1.23456789e-7 }),
      makeExperiment({ experiment: 1, metric: 1.1e-7, best: 1.1e-7 }),
    ];
    const chart = renderMermaidChart(makeRun(), experiments);
    expect(seriesOf(chart, 'bar')).toEqual([1.23457e-7, 1.1e-7]);
    expect(chart).toContain('bar [0.000000123457, 0.00000011]');
    expect(chart).not.toMatch(/\de[+-]?\d/);
  });

  it('escapes double quotes and backticks in titles', () => {
    const run = makeRun({ tag: 'my "best" ```run', metric: { name: 'loss', goal: 'minimize' } });
    const chart = renderMermaidChart(run, [makeExperiment({ experiment: 0, metric: 1 })]);
    const title = chart.split('\n').find((line) => line.includes('title'))!;
    expect(title).toBe(`  title "autoloop my 'best' '''run: loss"`);
    // The only fences are the block's own.
    expect(chart.match(/```/g)).toHaveLength(2);
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
