import { describe, expect, it } from 'vitest';
import { ProgressPrinter } from '../../src/cli/progress.js';
import { runPaths } from '../../src/engine/run-files.js';
import type { LoopEvent } from '../../src/engine/run-options.js';
import { makeConfirmation, makeExperiment, makeJudgement, makeRun } from '../fixtures/records/ledger.js';

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
    expect(lines[2]).toMatch(/^exp {2}1\/10 {2}keep {5}val_loss 1\.5 {2}\(−25% vs parent\) {2}best 1\.5 −25% {2}keep rate 100% {2}~8\.1s left {2}· lr 0\.01 → 0\.02/);
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
    expect(chunks[1]).toMatch(/^exp {2}1\/10 {2}keep .*~4\.\ds left/);
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
});
