/**
 * Pieces of a result document that every view of it shows the same way (the job summary, the experiment
 * comment, the gate check run): the valid runs per side and the scope violations. Pure.
 */
import type { ScopeViolation } from '../ledger/records.js';
import type { ResultDocument } from '../result/result.js';
import { code, oneLine } from './markdown.js';

/** The document's valid runs per side: `3 of 3 valid`, or `3 valid (cached)` for a baseline measured elsewhere. */
export function runsPerSide(document: ResultDocument, side: 'baseline' | 'candidate'): string {
  const valid = document.samples[side][document.metric.name]?.length ?? 0;
  const total = document.runs.filter((run) => run.side === side).length;
  if (total === 0) return side === 'baseline' && document.baseline === 'cached' ? `${valid} valid (cached)` : `${valid} valid`;
  return `${valid} of ${total} valid`;
}

/** One list item per path the proposal may not change: the path, the change, and the rule it breaks. */
export function violationLines(violations: readonly ScopeViolation[]): string[] {
  const rule = (v: ScopeViolation): string =>
    v.rule === 'protected' ? `protected by ${code(v.pattern)}` : v.rule === 'unsafe' ? `not allowed: ${oneLine(v.pattern, 200)}` : 'outside `scope.edit`';
  return violations.map((v) => `- ${code(v.path)} (${v.change}): ${rule(v)}`);
}
