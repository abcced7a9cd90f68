import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { decodeState, deriveStateKey, encodeState, openState, sealState, STATE_KEY_LABEL, StateError, TamperedStateError } from '../../../src/core/app/state-codec.js';
import { MAX_PARALLEL } from '../../../src/core/config/config-schema.js';
import {
  clampBudget,
  MAX_EXPERIMENTS,
  bestExperiment,
  bestValue,
  consecutiveFailures,
  finishIfDone,
  inFlight,
  newRunState,
  nextExperimentNumber,
  runBaseline,
  shouldDispatch,
  withExperiment,
  withNewExperiment,
  type AppRunState,
} from '../../../src/core/app/state.js';
import { makeAppExperiment, makeAppRun, makeAppRunState } from '../../fixtures/records/app-state.js';
import { fakeSha } from '../../fixtures/records/ledger.js';

/** A marker around any JSON, as a corrupt or hand-made state would be. */
function markerOf(json: unknown, version = 1): string {
  return `<!-- autoloop:state v${version} ${deflateRawSync(Buffer.from(JSON.stringify(json))).toString('base64url')} -->`;
}

function decodeError(body: string): StateError {
  try {
    decodeState(body);
  } catch (error) {
    expect(error).toBeInstanceOf(StateError);
    return error as StateError;
  }
  throw new Error('decodeState did not throw');
}

describe('encodeState / decodeState', () => {
  it('encodes the state as one hidden comment of base64url and decodes it back unchanged', () => {
    const state = makeAppRun();
    const marker = encodeState(state);
    expect(marker).toMatch(/^<!-- autoloop:state v1 [A-Za-z0-9_-]+ -->$/);
    expect(decodeState(marker)).toEqual(state);
    expect(encodeState(state)).toBe(marker);
  });

  it('round-trips texts that could end the comment, line breaks and any Unicode', () => {
    const state = makeAppRunState({
      goalText: 'end it --> <!-- autoloop:state v1 AAAA --> @everyone | a\nb ✓ 🚀',
      stopReason: 'stopped by @octocat -->',
      status: 'stopping',
      experiments: [makeAppExperiment({ k: 1, hypothesis: '`code` | -- > <script>', reason: '\u0000\u2028' })],
    });
    const marker = encodeState(state);
    expect(marker.indexOf('-->')).toBe(marker.length - 3);
    expect(decodeState(marker)).toEqual(state);
  });

  it('turns non-finite figures into null, as JSON does', () => {
    const state = makeAppRunState({ experiments: [makeAppExperiment({ k: 1, state: 'invalid', delta: Number.NaN, deltaRelative: Infinity })] });
    const decoded = decodeState(encodeState(state))!;
    expect(decoded.experiments[0]).toMatchObject({ delta: null, deltaRelative: null });
  });

  it('returns null when the body has no state marker', () => {
    expect(decodeState('')).toBeNull();
    expect(decodeState('## autoloop\n\n<!-- autoloop:status -->\nno state here')).toBeNull();
  });

  it('decodes a body that people edited around the marker', () => {
    const state = makeAppRun();
    const body = `Edited by a maintainer: please look at experiment 4.\r\n\r\n## autoloop dashboard\n\n${encodeState(state)}\n\n> a note added below the marker\n`;
    expect(decodeState(body)).toEqual(state);
  });

  it('reads the last marker: the one the App appended after any text', () => {
    const old = makeAppRunState({ status: 'running' });
    const current = makeAppRunState({ status: 'finished', stopReason: 'budget spent: 5 experiments' });
    expect(decodeState(`${encodeState(old)}\ntext\n${encodeState(current)}\n`)).toEqual(current);
  });

  it('throws a StateError for a marker that is not base64url', () => {
    expect(decodeError('x <!-- autoloop:state v1 not*base64! -->').message).toMatch(/malformed/);
    expect(decodeError('<!-- autoloop:state v1 -->').message).toMatch(/malformed/);
  });

  it('throws a StateError when the payload is not deflated JSON', () => {
    expect(decodeError(`<!-- autoloop:state v1 ${Buffer.from('{"version":1}').toString('base64url')} -->`).message).toMatch(/cannot be decoded/);
    const notJson = deflateRawSync(Buffer.from('{"version": 1, ')).toString('base64url');
    expect(decodeError(`<!-- autoloop:state v1 ${notJson} -->`).message).toMatch(/cannot be decoded: .*JSON/);
  });

  it('throws a StateError when the marker is not closed', () => {
    const marker = encodeState(makeAppRun());
    expect(decodeError(`body\n${marker.slice(0, -4)}`).message).toMatch(/not closed/);
  });

  it('throws a StateError for another version', () => {
    expect(decodeError(markerOf({ ...makeAppRunState(), version: 2 }, 2)).message).toBe('the autoloop state is version 2, this App reads version 1');
  });

  it('validates the decoded state: required fields, the experiment states, no unknown keys, unique numbers', () => {
    const { pullRequest: _pullRequest, ...missing } = makeAppRunState();
    expect(decodeError(markerOf(missing)).message).toMatch(/invalid: pullRequest: /);
    expect(decodeError(markerOf({ ...makeAppRunState(), version: 2 })).message).toMatch(/invalid: version: /);
    expect(decodeError(markerOf(makeAppRunState({ status: 'paused' as AppRunState['status'] }))).message).toMatch(/invalid: status: /);
    const paused = makeAppRunState({ experiments: [makeAppExperiment({ k: 1, state: 'paused' as 'kept' })] });
    expect(decodeError(markerOf(paused)).message).toMatch(/invalid: experiments\.0\.state: /);
    expect(decodeError(markerOf({ ...makeAppRunState(), extra: true })).message).toMatch(/invalid: the state: .*extra/);
    const twice = makeAppRunState({ experiments: [makeAppExperiment({ k: 1 }), makeAppExperiment({ k: 1 })] });
    expect(decodeError(markerOf(twice)).message).toBe('the autoloop state is invalid: experiments.1.k: experiment 1 appears twice');
    expect(decodeError(markerOf(makeAppRunState({ baseSha: 'main' }))).message).toMatch(/invalid: baseSha: expected a full git commit SHA/);
    expect(decodeError(markerOf(['not', 'a', 'state'])).message).toMatch(/invalid: the state: /);
  });

  it('refuses a payload that inflates beyond the bound instead of exhausting memory', () => {
    const bomb = deflateRawSync(Buffer.alloc(17 * 2 ** 20, 0x20), { level: 9 }).toString('base64url');
    expect(decodeError(`<!-- autoloop:state v1 ${bomb} -->`).message).toMatch(/cannot be decoded/);
  });

  it('keeps a run of the default budget (20 experiments, every field set) to a few kilobytes', () => {
    const experiments = Array.from({ length: 20 }, (_, i) =>
      makeAppExperiment({
        k: i + 1,
        state: 'discarded',
        parentSha: fakeSha(i, 'f'),
        hypothesis: `learning rate ${0.001 * (i + 1)} → ${0.0013 * (i + 1)}, warmup ${i * 10} steps`,
        baseline: 0.5 + i / 997,
        candidate: 0.5 + i / 991,
        delta: i / 991 - i / 997,
        deltaRelative: (i / 991 - i / 997) / 0.5,
        verdict: 'no-change',
        reason: 'within the noise',
        evaluationRun: `https://github.com/octo/model/actions/runs/${2_000_000 + i}`,
        artifact: `https://github.com/octo/model/actions/runs/${2_000_000 + i}/artifacts/${30_000 + i}`,
      }),
    );
    const state = makeAppRunState({ budget: { experiments: 20, parallel: 2, maxFailures: 5 }, experiments });
    const marker = encodeState(state);
    expect(marker.length).toBeLessThan(JSON.stringify(state).length / 2);
    expect(marker.length).toBeLessThan(6_000);
  });
});

describe('run state transitions', () => {
  const base = () =>
    newRunState({
      issue: 7,
      baseBranch: 'main',
      baseSha: fakeSha(0, 'b'),
      metric: { name: 'accuracy', goal: 'maximize' },
      goalText: 'more accuracy',
      startedBy: 'octocat',
      startedAt: '2025-02-01T00:00:00.000Z',
      budget: { experiments: 3, parallel: 2, maxFailures: 2 },
    });

  it('starts a run: running, on autoloop/<issue>/run, no experiments, a state the codec accepts', () => {
    const state = base();
    expect(state).toEqual({
      version: 1,
      issue: 7,
      runBranch: 'autoloop/7/run',
      baseBranch: 'main',
      baseSha: fakeSha(0, 'b'),
      pullRequest: null,
      statusComment: null,
      metric: { name: 'accuracy', goal: 'maximize' },
      goalText: 'more accuracy',
      startedBy: 'octocat',
      commandComment: null,
      protectedHash: null,
      startedAt: '2025-02-01T00:00:00.000Z',
      budget: { experiments: 3, parallel: 2, maxFailures: 2 },
      status: 'running',
      stopReason: null,
      experiments: [],
    });
    expect(decodeState(encodeState(state))).toEqual(state);
  });

  it('numbers experiments from 1, one more than the highest', () => {
    expect(nextExperimentNumber(base())).toBe(1);
    expect(nextExperimentNumber(makeAppRunState({ experiments: [makeAppExperiment({ k: 4 }), makeAppExperiment({ k: 2 })] }))).toBe(5);
  });

  it('dispatches up to the free parallel slots within the remaining budget', () => {
    let state = base();
    expect(shouldDispatch(state)).toBe(2);
    ({ state } = withNewExperiment(state, fakeSha(0, 'b'), '2025-02-01T00:01:00.000Z'));
    expect(state.experiments).toEqual([{ k: 1, state: 'proposing', parentSha: fakeSha(0, 'b'), dispatchedAt: '2025-02-01T00:01:00.000Z' }]);
    expect(inFlight(state)).toBe(1);
    expect(shouldDispatch(state)).toBe(1);
    const second = withNewExperiment(state, fakeSha(0, 'b'), '2025-02-01T00:01:00.000Z');
    expect(second.experiment.k).toBe(2);
    state = second.state;
    expect(shouldDispatch(state)).toBe(0);
    state = withExperiment(state, 1, { state: 'kept', candidate: 0.9 });
    // One slot free, but only one experiment left in the budget of 3.
    expect(shouldDispatch(state)).toBe(1);
    state = withNewExperiment(state, fakeSha(1, 'f'), '2025-02-01T00:02:00.000Z').state;
    state = withExperiment(state, 2, { state: 'discarded' });
    expect(shouldDispatch(state)).toBe(0);
  });

  it('dispatches nothing once stopping or finished, or after max_failures invalid in a row', () => {
    expect(shouldDispatch({ ...base(), status: 'stopping' })).toBe(0);
    expect(shouldDispatch({ ...base(), status: 'finished' })).toBe(0);
    const failed = { ...base(), experiments: [makeAppExperiment({ k: 1, state: 'invalid' }), makeAppExperiment({ k: 2, state: 'invalid' })] };
    expect(shouldDispatch(failed)).toBe(0);
  });

  it('updates one experiment without touching the input, and refuses an unknown one', () => {
    const state = makeAppRun();
    const next = withExperiment(state, 5, { state: 'kept', candidate: 0.38, k: 99 } as never);
    expect(next.experiments[4]).toMatchObject({ k: 5, state: 'kept', candidate: 0.38 });
    expect(state.experiments[4]).toMatchObject({ k: 5, state: 'evaluating' });
    expect(next.experiments[0]).toBe(state.experiments[0]);
    expect(() => withExperiment(state, 9, { state: 'kept' })).toThrow('run #12 has no experiment 9');
  });

  it('counts invalid experiments in a row from the latest decided one, skipping those in flight', () => {
    const run = (...states: AppRunState['experiments'][number]['state'][]) =>
      makeAppRunState({ experiments: states.map((state, i) => makeAppExperiment({ k: i + 1, state })) });
    expect(consecutiveFailures(run())).toBe(0);
    expect(consecutiveFailures(run('invalid', 'invalid'))).toBe(2);
    expect(consecutiveFailures(run('invalid', 'kept', 'invalid', 'evaluating', 'invalid', 'proposing'))).toBe(2);
    expect(consecutiveFailures(run('invalid', 'invalid', 'discarded'))).toBe(0);
    expect(consecutiveFailures(run('invalid', 'needs-review', 'invalid'))).toBe(1);
  });

  it('finishes when the budget is spent and nothing is in flight', () => {
    const running = makeAppRun();
    expect(finishIfDone(running)).toBe(running);
    const done = withExperiment(running, 5, { state: 'discarded' });
    expect(finishIfDone(done)).toMatchObject({ status: 'finished', stopReason: 'budget spent: 5 experiments' });
    const under = makeAppRunState({ experiments: [makeAppExperiment({ k: 1, state: 'kept' })] });
    expect(finishIfDone(under)).toBe(under);
  });

  it('stops at max_failures invalid in a row: stopping while some are in flight, finished after', () => {
    const experiments = [1, 2, 3].map((k) => makeAppExperiment({ k, state: 'invalid' }));
    const reason = '3 invalid experiments in a row (budget.max_failures: 3)';
    const inflight = makeAppRunState({ budget: { experiments: 10, parallel: 2, maxFailures: 3 }, experiments: [...experiments, makeAppExperiment({ k: 4 })] });
    const stopping = finishIfDone(inflight);
    expect(stopping).toMatchObject({ status: 'stopping', stopReason: reason });
    expect(shouldDispatch(stopping)).toBe(0);
    // The one in flight comes back valid: the run still finishes, with the reason it stopped for.
    expect(finishIfDone(withExperiment(stopping, 4, { state: 'kept' }))).toMatchObject({ status: 'finished', stopReason: reason });
    expect(finishIfDone(makeAppRunState({ experiments }))).toMatchObject({ status: 'finished', stopReason: reason });
  });

  it('finishes a stopping run once nothing is in flight, keeping its reason', () => {
    const stopping = makeAppRun({ status: 'stopping', stopReason: 'stopped by octocat' });
    expect(finishIfDone(stopping)).toBe(stopping);
    expect(finishIfDone(withExperiment(stopping, 5, { state: 'discarded' }))).toMatchObject({ status: 'finished', stopReason: 'stopped by octocat' });
    expect(finishIfDone(makeAppRunState({ status: 'stopping' }))).toMatchObject({ status: 'finished', stopReason: 'stopped on request' });
    const finished = makeAppRunState({ status: 'finished', stopReason: 'x' });
    expect(finishIfDone(finished)).toBe(finished);
  });

  it('finds the baseline and the best kept value for the goal', () => {
    const run = makeAppRun();
    expect(runBaseline(run)).toBe(0.5);
    expect(bestValue(run)).toBe(0.4);
    expect(bestExperiment(run)?.k).toBe(4);
    expect(bestValue(makeAppRunState())).toBeNull();
    const nothingKept = makeAppRunState({ experiments: [makeAppExperiment({ k: 1, state: 'discarded', baseline: 0.5, candidate: 0.6 })] });
    expect(bestValue(nothingKept)).toBe(0.5);
    expect(bestExperiment(nothingKept)).toBeNull();
    const maximize = makeAppRunState({
      metric: { name: 'accuracy', goal: 'maximize' },
      experiments: [makeAppExperiment({ k: 1, state: 'kept', baseline: 0.8, candidate: 0.85 }), makeAppExperiment({ k: 2, state: 'kept', candidate: 0.83 })],
    });
    expect(bestValue(maximize)).toBe(0.85);
    expect(runBaseline(maximize)).toBe(0.8);
  });
});

describe('sealState / openState: a state only the App can write', () => {
  const key = deriveStateKey('webhook-secret');
  const seal = { key, repository: 'octo/model', pullRequest: 7 };
  const state = makeAppRunState({ pullRequest: 7 });

  it('signs the marker for the repository and the pull request, and reads it back only there', () => {
    const marker = sealState(state, seal);
    expect(marker).toMatch(/^<!-- autoloop:state v1 [A-Za-z0-9_-]+ [A-Za-z0-9_-]{43} -->$/);
    expect(openState(`dashboard\n\n${marker}\n`, seal)).toEqual(state);
    expect(openState(marker, { ...seal, repository: 'OCTO/Model' })).toEqual(state);
    // The unverified reader still reads it (tests, tools).
    expect(decodeState(marker)).toEqual(state);
    for (const other of [{ ...seal, repository: 'octo/other' }, { ...seal, pullRequest: 8 }, { ...seal, key: deriveStateKey('another secret') }]) {
      expect(() => openState(marker, other)).toThrow(TamperedStateError);
    }
  });

  it('refuses an edited payload under a real signature, and a marker with no signature (states written before signing)', () => {
    const marker = sealState(state, seal);
    const [, , , payload, signature] = marker.split(' ');
    const swapped = marker.replace(payload!, sealState({ ...state, budget: { ...state.budget, experiments: 41 } }, seal).split(' ')[3]!);
    expect(swapped).toContain(signature!);
    expect(() => openState(swapped, seal)).toThrow(/does not verify for octo\/model#7/);
    expect(() => openState(encodeState(state), seal)).toThrow(/carries no signature/);
    expect(openState('no marker here', seal)).toBeNull();
  });

  it('reads the first body (signed before the pull request had a number) only while the state names no pull request', () => {
    const first = makeAppRunState({ pullRequest: null });
    expect(openState(sealState(first, { ...seal, pullRequest: 0 }), seal)).toEqual(first);
    expect(() => openState(sealState(state, { ...seal, pullRequest: 0 }), seal)).toThrow(TamperedStateError);
  });

  it('re-clamps budgets on read, whatever signed them', () => {
    const wide = makeAppRunState({ pullRequest: 7, budget: { experiments: 5_000, parallel: 64, maxFailures: 9_999 } });
    expect(openState(sealState(wide, seal), seal)!.budget).toStrictEqual({ experiments: MAX_EXPERIMENTS, parallel: MAX_PARALLEL, maxFailures: MAX_EXPERIMENTS });
    expect(clampBudget(state)).toBe(state);
  });

  it('derives the key as HMAC-SHA256(secret, label): what Probot\'s webhooks.sign(label) gives', () => {
    expect(key.toString('hex')).toBe(createHmac('sha256', 'webhook-secret').update(STATE_KEY_LABEL).digest('hex'));
    expect(() => deriveStateKey('')).toThrow(StateError);
  });
});
