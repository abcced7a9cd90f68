/** Builders of sentinel history records for the tests: plain values, adjusted by small overrides. */
import type { Environment } from '../../../src/core/result/result.js';
import { fingerprintOf, type FindingRecord, type MeasurementRecord, type Probe } from '../../../src/core/sentinel/history.js';

export const ENVIRONMENT: Environment = {
  os: 'linux',
  release: '6.5.0',
  arch: 'x64',
  cpuModel: 'AMD EPYC 7763',
  cpuCount: 4,
  memoryBytes: 16_000_000_000,
  node: 'v20.18.0',
  autoloop: '0.1.0',
};

/** A 40-hex commit id from a number. */
export const commit = (n: number) => n.toString(16).padStart(40, '0');

export const REFERENCE = 'f'.repeat(40);

/** A measurement of commit `n` with relative delta `delta`. */
export function measurement(n: number, delta: number, overrides: Partial<MeasurementRecord> = {}): MeasurementRecord {
  const environment = overrides.environment ?? ENVIRONMENT;
  return {
    type: 'measurement',
    commit: commit(n),
    reference: REFERENCE,
    metric: 'latency_ms',
    goal: 'minimize',
    referenceMean: 100,
    headMean: 100 * (1 + delta),
    deltaRelative: delta,
    interval: { low: delta - 0.02, high: delta + 0.02, level: 0.9 },
    samples: { reference: [100, 100], head: [100 * (1 + delta), 100 * (1 + delta)] },
    verdict: 'no-change',
    environment,
    fingerprint: fingerprintOf(environment),
    measuredAt: new Date(Date.UTC(2025, 0, 1) + n * 86_400_000).toISOString(),
    ...overrides,
  };
}

export function probe(n: number, against: number, answer: Probe['answer'], effect: number | null = null): Probe {
  return { commit: commit(n), against: commit(against), answer, effect, interval: null, runsPerSide: 3 };
}

/** A finding about the change point at `index`, dismissed as `same`. */
export function finding(index: number, direction: 'regression' | 'improvement' = 'regression'): FindingRecord {
  return {
    type: 'finding',
    changePoint: { index, direction, before: commit(index - 1), after: commit(index), effect: 0.1, pValue: 1e-6 },
    confirmation: probe(index, index - 1, 'same', 0),
    steps: [],
    culprit: null,
    reason: 'the fresh measurement shows no change',
    at: '2025-06-01T00:00:00.000Z',
  };
}
