import type { Judgement, Verdict } from '../ledger/records.js';
import { storedJudgementSchema, type ResultDocument } from '../result/result.js';
import { mean } from './stats.js';

/** A finite number, or null: stored documents went through JSON, where NaN and Infinity become null. */
export function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The mean of some samples, or null when there are none. */
export function meanOf(values: readonly number[] | undefined): number | null {
  return values && values.length > 0 ? finite(mean(values)) : null;
}

/**
 * The figures a summary, comment or gate shows: from a judgement the reader made itself, else the
 * document's stored one (both read through {@link storedJudgementSchema}, which drops what is malformed),
 * else worked out from the samples.
 */
export interface Figures {
  baseline: number | null;
  candidate: number | null;
  delta: number | null;
  deltaRelative: number | null;
  interval: Judgement['interval'];
  singleRun: boolean;
  paired: boolean;
  suspicious: boolean;
  guards: Map<string, { baseline: number; candidate: number; regression: number | null; held: boolean }>;
  reasons: string[];
  verdict: Verdict | null;
}

export function figuresOf(document: ResultDocument | null, judgement: Judgement | undefined): Figures {
  const j = storedJudgementSchema.parse(judgement ?? document?.judgement ?? {});
  const name = document?.metric.name;
  const sampleMean = (side: 'baseline' | 'candidate') => meanOf(name === undefined ? undefined : document?.samples[side][name]);
  const baseline = finite(j.baseline?.mean) ?? sampleMean('baseline');
  const candidate = finite(j.candidate?.mean) ?? sampleMean('candidate');
  const guards: Figures['guards'] = new Map();
  for (const g of j.guards ?? []) {
    if (g && Number.isFinite(g.baseline) && Number.isFinite(g.candidate)) {
      guards.set(g.name, { baseline: g.baseline, candidate: g.candidate, regression: finite(g.regression), held: g.held });
    }
  }
  const counts = name === undefined ? [0, 0] : [document?.samples.baseline[name]?.length ?? 0, document?.samples.candidate[name]?.length ?? 0];
  const interval = j.interval && [j.interval.low, j.interval.high, j.interval.level].every(Number.isFinite) ? j.interval : null;
  return {
    baseline,
    candidate,
    delta: finite(j.delta) ?? (baseline !== null && candidate !== null ? candidate - baseline : null),
    deltaRelative: finite(j.deltaRelative),
    interval,
    singleRun: j.singleRun ?? Math.min(...counts) < 2,
    paired: j.paired ?? document?.baseline !== 'cached',
    suspicious: j.suspicious === true,
    guards,
    reasons: (j.reasons ?? []).filter((r): r is string => typeof r === 'string'),
    verdict: j.verdict ?? document?.verdict ?? null,
  };
}
