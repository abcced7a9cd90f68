/**
 * The confirmation at the end of a local run: the run branch head measured once more against the base.
 *
 * Each kept step was judged against its parent, and "baseline → best" compares a baseline measured at the
 * start (a cold machine, another load) with a candidate measured much later: drift and noise add up along
 * the chain. One paired, interleaved comparison of the run's two ends answers what a user wants to know,
 * and is the run's headline.
 */
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ConfirmationRecord, Judgement } from '../core/ledger/records.js';
import { branchHead } from './git.js';
import { measureCandidate } from './measure.js';
import { bestOf, type RunState } from './open-run.js';

/** The trace folder of the confirmation, beside the experiments' `exp-NNNN` folders. */
export const CONFIRMATION_TRACE = 'confirmation';

/** Runs per side of the confirmation: the number `evaluate.confirm` gives, or undefined to measure as every experiment is (fixed `repeats`, or sequentially). */
export function confirmationRepeats(confirm: boolean | number): number | undefined {
  return typeof confirm === 'number' ? confirm : undefined;
}

/** Confirmed when measured again the head is better than the base (`improved`) and every guard held. */
export function confirmationStatus(judgement: Judgement): ConfirmationRecord['status'] {
  if (judgement.verdict === 'invalid') return 'invalid';
  return judgement.verdict === 'improved' && judgement.guards.every((guard) => guard.held) ? 'confirmed' : 'not-confirmed';
}

/**
 * Measures the run branch head against the run's base, paired, when the run kept something and the config
 * asks for it (`evaluate.confirm`, on by default); null otherwise. The branch must be at the ledger's best:
 * one moved by anything else is not measured, and the record says so. `onStart` is called when it begins.
 */
export async function confirmRun(state: RunState, onStart: () => void = () => undefined): Promise<ConfirmationRecord | null> {
  const { config, run, repo } = state;
  const best = bestOf(state.experiments);
  if (config.evaluate.confirm === false || best.commit === run.baseCommit) return null;
  onStart();
  const startedAt = new Date();
  const t0 = performance.now();
  const trace = join(state.paths.traces, CONFIRMATION_TRACE);
  await mkdir(trace, { recursive: true });
  const finish = (fields: Pick<ConfirmationRecord, 'status' | 'judgement' | 'samples' | 'reason'>): ConfirmationRecord => ({
    type: 'confirmation',
    baseCommit: run.baseCommit,
    headCommit: best.commit,
    ...fields,
    durations: { evaluateMs: fields.samples.reduce((sum, s) => sum + s.outcome.durationMs, 0), totalMs: performance.now() - t0 },
    traceDir: relative(state.paths.dir, trace),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  });

  const branchAt = await branchHead(repo, run.branch);
  if (branchAt !== best.commit) {
    const where = branchAt ? `is at ${branchAt.slice(0, 12)}` : 'is gone';
    return finish({
      status: 'invalid',
      judgement: null,
      samples: [],
      reason: `the run branch ${run.branch} ${where}, not at the ledger's best ${best.commit.slice(0, 12)}: something other than autoloop moved it, so nothing was confirmed`,
    });
  }
  const repeats = confirmationRepeats(config.evaluate.confirm);
  const measured = await measureCandidate(state.measure, run.baseCommit, best.commit, trace, repeats === undefined ? {} : { repeats });
  const { judgement, samples } = measured;
  if (!judgement || judgement.verdict === 'invalid') {
    return finish({ status: 'invalid', judgement, samples, reason: measured.reason ?? judgement?.reasons.join('; ') ?? 'the confirmation could not be measured' });
  }
  const status = confirmationStatus(judgement);
  return finish({ status, judgement, samples, reason: status === 'confirmed' ? null : judgement.reasons.join('; ') });
}
