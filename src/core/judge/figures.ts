import type { Judgement, Verdict } from '../ledger/records.js';
import type { ResultDocument } from '../result/result.js';
import { mean } from './stats.js';

/** A finite number, or null: stored documents went through JSON, where NaN and Infinity become null. */
export function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The mean of some samples, or null when there are none. */
export function meanOf(values: readonly number[] | undefined): number | null {
  return values && values.length > 0 ? finite(mean(values)) : null;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/**
 * The figures a summary, comment or gate shows: from a judgement the reader made itself, else the
 * document's stored one, read defensively (it is `unknown` on disk), else worked out from the samples.
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
  const j: Record<string, unknown> = judgement ? (judgement as unknown as Record<string, unknown>) : (document?.judgement ?? {});
  const name = document?.metric.name;
  const sampleMean = (side: 'baseline' | 'candidate') => meanOf(name === undefined ? undefined : document?.samples[side][name]);
  const baseline = finite(record(j.baseline)?.mean) ?? sampleMean('baseline');
  const candidate = finite(record(j.candidate)?.mean) ?? sampleMean('candidate');
  const interval = record(j.interval);
  const low = finite(interval?.low);
  const high = finite(interval?.high);
  const level = finite(interval?.level);
  const guards: Figures['guards'] = new Map();
  for (const entry of Array.isArray(j.guards) ? j.guards : []) {
    const g = record(entry);
    const gb = finite(g?.baseline);
    const gc = finite(g?.candidate);
    if (typeof g?.name === 'string' && gb !== null && gc !== null && typeof g.held === 'boolean') {
      guards.set(g.name, { baseline: gb, candidate: gc, regression: finite(g.regression), held: g.held });
    }
  }
  const counts = name === undefined ? [0, 0] : [document?.samples.baseline[name]?.length ?? 0, document?.samples.candidate[name]?.length ?? 0];
  const verdicts: readonly unknown[] = ['improved', 'no-change', 'regressed', 'invalid'];
  return {
    baseline,
    candidate,
    delta: finite(j.delta) ?? (baseline !== null && candidate !== null ? candidate - baseline : null),
    deltaRelative: finite(j.deltaRelative),
    interval: low !== null && high !== null && level !== null ? { low, high, level, method: typeof interval?.method === 'string' ? interval.method : '' } : null,
    singleRun: typeof j.singleRun === 'boolean' ? j.singleRun : Math.min(...counts) < 2,
    paired: typeof j.paired === 'boolean' ? j.paired : document?.baseline !== 'cached',
    suspicious: j.suspicious === true,
    guards,
    reasons: Array.isArray(j.reasons) ? j.reasons.filter((r): r is string => typeof r === 'string') : [],
    verdict: verdicts.includes(j.verdict) ? (j.verdict as Verdict) : (document?.verdict ?? null),
  };
}

