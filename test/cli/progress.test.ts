import { describe, expect, it } from 'vitest';
import { ProgressPrinter } from '../../src/cli/progress.js';
import { runPaths } from '../../src/engine/run-files.js';
import type { LoopEvent } from '../../src/engine/run-options.js';
import { makeConfirmation, makeExperiment, makeJudgement, makeRun } from '../fixtures/records/ledger.js';
import { makeNoisyLedger } from '../core/render/helpers.js';

function capture(isTTY: boolean) {
  const chunks: string[] = [];
  return { out: { write: (t: string) => void chunks.push(t), isTTY }, chunks };
}

const run = makeRun();
const start: LoopEvent = { type: 'start', run, paths: runPaths('/tmp/run'), resumed: false, nextExperiment: 0, budget: 10 };
const baseline: LoopEvent = {
  type: 'experiment',
  record: makeExperiment({ experiment: 0, metric: 2, best: 2 }),
  best: 2,
  baseline: 2,
  keepRate: 0,
  elapsedMs: 1_000,
  budget: 10,
};
const first: LoopEvent = {
  type: 'experiment',
  record: makeExperiment({ experiment: 1, status: 'keep', metric: 1.5, best: 1.5, description: 'lr 0.01 → 0.02', judgement: makeJudgement(2, 1.5) }),
  best: 1.5,
  baseline: 2,
  keepRate: 1,
  elapsedMs: 2_000,
  budget: 10,
};

describe('ProgressPrinter', () => {
  it('prints plain lines when not on a terminal: verdict, best so far, keep rate, time left', () => {
    const { out, chunks } = capture(false);
    const printer = new ProgressPrinter(out);
    for (const event of [start, { type: 'experiment-start', experiment: 0 } as const, baseline, { type: 'experiment-start', experiment: 1 } as const, first]) printer.handle(event);
    printer.handle({ type: 'stop', reason: 'budget of 10 experiments spent' });
    const text = chunks.join('');
    expect(text).not.toContain('\r');
    const lines = text.trim().split('\n');
    expect(lines[0]).toContain('Starting run');
    // The candidate against its parent as measured in the experiment, the interval (here none: one run per side) and
    // why; on the next line where the run stands and the hypothesis. Wrapped at 100 columns, under the figures.
    expect(lines.slice(2, 5)).toEqual([
      'exp  1/10  keep     val_loss 1.5 vs parent 2 in this experiment',
      '                    (−25%, single run, no noise estimate): better by more than min_effect',
      '                    · best 1.5 (−25% vs baseline) · keep rate 100% · ~8.1s left · lr 0.01 → 0.02',
    ]);
    expect(lines.at(-1)).toBe('Stopped: budget of 10 experiments spent');
  });

  it('keeps a live line on a terminal while an experiment runs, and clears it for the result', () => {
    const { out, chunks } = capture(true);
    let now = 0;
    const printer = new ProgressPrinter(out, () => now);
    printer.handle(start);
    printer.handle(baseline);
    printer.handle(first);
    chunks.length = 0;
    now = 5_000;
    printer.handle({ type: 'experiment-start', experiment: 2 });
    const live = chunks.at(-1)!;
    expect(live.startsWith('\r\x1b[K')).toBe(true);
    expect(live.slice(4)).toMatch(/^. experiment 2\/10 0ms · best val_loss 1\.5 \(−25%\) · keep rate 100% · ~8\.1s left$/);
    printer.handle({ type: 'stop', reason: 'interrupted' });
    expect(chunks.slice(-2)).toEqual(['\r\x1b[K', 'Stopped: interrupted\n']);
  });

  it('with experiments side by side, says how many at a time, lists those in flight, and brings the live line back after each result', () => {
    const { out, chunks } = capture(true);
    let now = 0;
    const printer = new ProgressPrinter(out, () => now);
    printer.handle({ ...start, parallel: 2 } as LoopEvent);
    expect(chunks[0]).toMatch(/, 10 experiments, 2 at a time; ledger in /);
    printer.handle(baseline);
    printer.handle({ type: 'experiment-start', experiment: 1 });
    now = 1_000;
    printer.handle({ type: 'experiment-start', experiment: 2 });
    expect(chunks.at(-1)!.slice(4)).toMatch(/^. experiments 1, 2\/10 1\.0s · best val_loss 2/);
    now = 2_000;
    chunks.length = 0;
    printer.handle(first);
    // The result (9 left at 0.9s each, 2 at a time: half the serial ~8.1s), then the live line again for experiment 2, still in flight.
    expect(chunks[0]).toBe('\r\x1b[K');
    expect(chunks[1]).toMatch(/^exp {2}1\/10 {2}keep .*~4\.\ds left .*\n$/s);
    expect(chunks[2]!.slice(4)).toMatch(/^. experiment 2\/10 1\.0s · best val_loss 1\.5/);
    printer.handle({ type: 'stop', reason: 'interrupted' });
    expect(chunks.slice(-2)).toEqual(['\r\x1b[K', 'Stopped: interrupted\n']);
  });

  it('says when --experiments changed a resumed run\'s budget, and shows the confirmation live and as a line', () => {
    const { out, chunks } = capture(true);
    const printer = new ProgressPrinter(out, () => 0);
    printer.handle({ ...start, resumed: true, budget: 1, budgetWas: 8 } as LoopEvent);
    expect(chunks[0]).toContain(', 1 experiment (was 8; --experiments changed it); ledger in');
    printer.handle({ type: 'confirmation-start' });
    expect(chunks.at(-1)!.slice(4)).toMatch(/^. confirming: the run head against the base 0ms/);
    printer.handle({ type: 'confirmation', record: makeConfirmation() });
    printer.handle({ type: 'stop', reason: 'budget of 1 experiment spent' });
    expect(chunks.join('')).toContain('confirm  val_loss: base 0.5 → run head 0.42 (−16%, 90% [−0.1, −0.06]), confirmed (measured again side by side, 3 runs per side)\n');
  });

  it('shows a discard against its parent as measured in it, with the interval and why, within the terminal\'s width', () => {
    const { run: noisy, experiments } = makeNoisyLedger();
    const { out, chunks } = capture(true);
    const printer = new ProgressPrinter({ ...out, columns: 80 }, () => 0);
    printer.handle({ ...start, run: noisy });
    for (const record of experiments) {
      printer.handle({ type: 'experiment', record, best: record.best, baseline: 200, keepRate: 0.5, elapsedMs: 1_000, budget: 10 });
    }
    const lines = chunks.join('').replaceAll('\r\x1b[K', '').split('\n');
    // The experiment lines (after the start line, which names the ledger's path).
    for (const line of lines.slice(1)) expect(line.length).toBeLessThan(80);
    const at = lines.findIndex((line) => line.startsWith('exp  2/10'));
    // 92.4 is below the best as kept (109.5): the line shows what it was compared with, so the discard adds up.
    expect(lines.slice(at, at + 3)).toEqual([
      'exp  2/10  discard  sort_ms 92.4 vs parent 154.2 in this experiment',
      '                    (−40.1%, 90% interval −61% to +4%): within the noise',
      '                    · best 109.5 (−45.3% vs baseline) · keep rate 50%',
    ]);
    expect(lines[at + 3]).toBe('                    · ~7.2s left · merge threshold 32');
    const guard = lines.findIndex((line) => line.startsWith('exp  3/10'));
    expect(lines.slice(guard, guard + 4).join(' ').replace(/ +/g, ' ')).toContain('(−10.9%, 90% interval −13% to −9.1%): better beyond the noise, but guard heap_mb regressed by +44.1%');
    // A crash's reason wraps onto indented lines, its log named in full.
    const crash = lines.findIndex((line) => line.startsWith('exp  4/10'));
    expect(lines[crash]).toBe('exp  4/10  crash    sort_ms not measured: candidate run 1: evaluate.command');
    const reason = lines.slice(crash, lines.findIndex((line, i) => i > crash && line.trimStart().startsWith('· best'))).join(' ').replace(/ +/g, ' ');
    expect(reason).toContain("exited with code 1: SyntaxError: Unexpected token '}' | at parse (/repo/sort.js:3:9) (log: .autoloop/demo/traces/exp-0004/candidate-1.log)");
  });

  it('shows on the live line what the experiment is doing: proposing, setup, check, run k of n', () => {
    const { out, chunks } = capture(true);
    const printer = new ProgressPrinter(out, () => 0);
    printer.handle(start);
    printer.handle({ type: 'experiment-start', experiment: 1 });
    const live = () => chunks.at(-1)!.replace('\r\x1b[K', '');
    printer.handle({ type: 'phase', experiment: 1, phase: 'propose' });
    expect(live()).toContain('experiment 1/10 proposing');
    printer.handle({ type: 'phase', experiment: 1, phase: 'check', side: 'candidate' });
    expect(live()).toContain('experiment 1/10 check (candidate)');
    printer.handle({ type: 'phase', experiment: 1, phase: 'run', side: 'baseline', run: 2, runs: 8 });
    expect(live()).toContain('experiment 1/10 run 2 of up to 8 (baseline)');
    printer.handle(first);
    printer.handle({ type: 'confirmation-start' });
    printer.handle({ type: 'phase', experiment: null, phase: 'run', side: 'candidate', run: 1, runs: 3 });
    expect(live()).toContain('confirming: the run head against the base run 1 of up to 3 (candidate)');
    printer.handle({ type: 'stop', reason: 'done' });
  });

  it('cuts the live line to the terminal\'s width, so that redrawing it in place works', () => {
    const { out, chunks } = capture(true);
    const printer = new ProgressPrinter({ ...out, columns: 40 }, () => 0);
    printer.handle(start);
    printer.handle(baseline);
    printer.handle(first);
    printer.handle({ type: 'experiment-start', experiment: 2 });
    const live = chunks.at(-1)!;
    expect(live.startsWith('\r\x1b[K')).toBe(true);
    expect(live.slice(4).length).toBeLessThan(40);
    expect(live.slice(4)).toMatch(/^. experiment 2\/10 0ms · best val_loss …$/);
    printer.handle({ type: 'stop', reason: 'interrupted' });
  });
});
