import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/core/config/config-schema.js';
import { parseEffect } from '../../../src/core/config/units.js';
import { againstRunBase, decideExperiment } from '../../../src/core/judge/decision.js';
import { makeJudgement } from '../../fixtures/records/ledger.js';

const config = (goal: Config['metric']['goal'], suspicious: string): Pick<Config, 'metric'> => ({
  metric: { name: 'loss', goal, min_effect: { kind: 'relative', value: 0 }, suspicious_effect: parseEffect(suspicious)! },
});
const minimize = config('minimize', '50%');

describe('againstRunBase', () => {
  it('marks a step below suspicious_effect suspicious when the run has gone beyond it since its base', () => {
    // The third of three −40% steps: 0.36 → 0.216 is −40%, but 1 → 0.216 is −78.4%.
    const step = makeJudgement(0.36, 0.216);
    expect(decideExperiment(step)).toBe('keep');
    const { judgement, beyond } = againstRunBase(step, 1, minimize);
    expect(beyond).toBe("gain beyond suspicious_effect against the run's base (−78.4%: 1 → 0.216, more than 50%): a human must look before it is kept");
    expect(judgement).toMatchObject({ suspicious: true, keep: false, verdict: 'improved' });
    expect(judgement.reasons.at(-1)).toBe(beyond);
    expect(decideExperiment(judgement)).toBe('review');
    expect(decideExperiment(judgement, { acceptSuspicious: true })).toBe('keep');
    // The input is left as it was.
    expect(step.suspicious).toBe(false);
  });

  it('leaves a candidate within suspicious_effect of the base, and one that is not kept anyway, as it was', () => {
    const within = makeJudgement(0.6, 0.55);
    expect(againstRunBase(within, 1, minimize)).toEqual({ judgement: within, beyond: null });
    const regressed = makeJudgement(0.2, 0.3);
    expect(againstRunBase(regressed, 1, minimize).beyond).toBeNull();
    const guardFailed = makeJudgement(0.36, 0.216, { guards: [{ name: 'mem', goal: 'minimize', baseline: 1, candidate: 2, regression: 1, held: false }] });
    expect(againstRunBase(guardFailed, 1, minimize).beyond).toBeNull();
    const alreadySuspicious = makeJudgement(1, 0.2, { suspicious: true, keep: false });
    expect(againstRunBase(alreadySuspicious, 1, minimize).judgement).toBe(alreadySuspicious);
  });

  it('needs a run baseline: none (or not a number) checks nothing', () => {
    const step = makeJudgement(0.36, 0.216);
    expect(againstRunBase(step, null, minimize).beyond).toBeNull();
    expect(againstRunBase(step, Number.NaN, minimize).beyond).toBeNull();
  });

  it('works for maximize and for an absolute suspicious_effect', () => {
    const maximize = config('maximize', '0.2');
    const step = makeJudgement(0.7, 0.8, { verdict: 'improved', keep: true });
    expect(againstRunBase(step, 0.65, maximize).beyond).toBeNull();
    const { beyond } = againstRunBase(step, 0.55, maximize);
    expect(beyond).toContain("against the run's base (+45.5%: 0.55 → 0.8, more than 0.2)");
  });
});
