/**
 * The `autoloop/gate` check run on an experiment pull request: its conclusion, decided through
 * decideExperiment from the verified result, and its title and summary. Pure: result in, check run output out.
 */
import { decideExperiment } from '../judge/decision.js';
import { figuresOf } from '../judge/figures.js';
import { UNPAIRED_NOTE } from '../judge/judge.js';
import type { Judgement, ScopeViolation } from '../ledger/records.js';
import { UNSANDBOXED_NOTE, type ResultDocument } from '../result/result.js';
import { formatPercent } from '../config/units.js';
import { betterWord, change, code, formatInterval, oneLine, plural, shortSha, signed, title, value } from './markdown.js';
import { violationLines } from './result-words.js';
import { CHECK_RUN_SUMMARY_LIMIT, truncateMarkdown } from './truncate.js';

/** What {@link renderGateOutput} decides from. */
export interface GateInput {
  /** The verified result document; null when none could be read. */
  document: ResultDocument | null;
  /** The App's own judgement, re-judged from the document's raw samples; preferred over the document's. */
  judgement?: Judgement;
  /** The App's own scope check of the pull request's changes; the document's violations when absent. */
  scopeViolations?: readonly ScopeViolation[];
  /** Why the result cannot be trusted, in a few words: `changed after evaluation`, `base SHA does not match`. */
  verificationFailure?: string | null;
}

/** The output and conclusion of the `autoloop/gate` check run. */
export interface GateOutput {
  /** The reason in a few words, e.g. `val_loss −3.2% (improved)`. */
  title: string;
  /** Markdown: the figures and why the gate concluded so. */
  summary: string;
  conclusion: 'success' | 'failure' | 'neutral';
}

/**
 * The `autoloop/gate` check run: `success` only for a verified improvement within scope with every guard
 * held; `neutral` for no change and for a suspicious gain a human must review; `failure` for a regression,
 * an invalid result, a regressed guard, a failed verification or a change out of scope. The title says
 * why in a few words (`val_loss −3.2% (improved)`, `out of scope: eval/run.py`, `changed after evaluation`).
 */
export function renderGateOutput(input: GateInput): GateOutput {
  const { document } = input;
  const figures = figuresOf(document, input.judgement);
  const violations = input.scopeViolations ?? document?.scopeViolations ?? [];
  const name = document?.metric.name ?? 'metric';
  const effect =
    figures.deltaRelative !== null ? formatPercent(figures.deltaRelative, 2) : figures.delta !== null ? signed(figures.delta) : 'no value';
  const failedGuards = [...figures.guards].filter(([, guard]) => !guard.held).map(([guardName]) => guardName);
  const verdict = input.judgement?.verdict ?? document?.verdict ?? 'invalid';
  const decision = decideExperiment({ verdict, suspicious: figures.suspicious, guards: [...figures.guards.values()] });

  let conclusion: GateOutput['conclusion'];
  let heading: string;
  let why: string;
  if (input.verificationFailure) {
    conclusion = 'failure';
    heading = input.verificationFailure;
    why = `The result could not be verified: ${oneLine(input.verificationFailure)}. The measurement does not vouch for this head.`;
  } else if (!document) {
    conclusion = 'failure';
    heading = 'no result to verify';
    why = 'No result document was found for this head.';
  } else if (violations.length) {
    conclusion = 'failure';
    const paths = violations.slice(0, 2).map((v) => v.path);
    heading = `out of scope: ${paths.join(', ')}${violations.length > 2 ? ` (+${violations.length - 2} more)` : ''}`;
    why = `The change touches ${plural(violations.length, 'path')} the proposal may not change.`;
  } else if (decision === 'invalid') {
    conclusion = 'failure';
    const reason = document.reason ?? figures.reasons[0];
    heading = reason ? `invalid: ${reason}` : `${name} invalid`;
    why = 'The measurement is invalid: nothing can be concluded from it.';
  } else if (verdict === 'regressed') {
    conclusion = 'failure';
    heading = `${name} ${effect} (regressed)`;
    why = `${code(name)} got worse beyond the noise.`;
  } else if (verdict === 'improved' && decision === 'discard') {
    conclusion = 'failure';
    heading = `guard ${failedGuards.join(', ')} regressed`;
    why = `${code(name)} improved, but ${plural(failedGuards.length, 'guard')} regressed past its tolerance.`;
  } else if (decision === 'review') {
    conclusion = 'neutral';
    heading = `${name} ${effect} (suspicious: needs review)`;
    why = 'The gain is beyond `suspicious_effect`: too good to be true without a human looking.';
  } else if (decision === 'keep') {
    conclusion = 'success';
    heading = `${name} ${effect} (improved)`;
    why = 'A verified improvement within scope, with every guard held.';
  } else {
    conclusion = 'neutral';
    heading = `${name} ${effect} (no change)`;
    why = 'No change beyond the noise and `min_effect`.';
  }

  const lines = [`**${conclusion}:** ${why}`, ''];
  if (document?.sandbox === 'none') lines.push(`**Unsandboxed:** ${UNSANDBOXED_NOTE}.`, '');
  if (document) {
    const interval = formatInterval(figures.interval, { label: 'interval', method: false });
    lines.push(
      `- ${code(name)} (${betterWord(document.metric.goal)} is better): ${value(figures.baseline)} → ${value(figures.candidate)}, ${change(figures.delta, figures.deltaRelative)}; ${interval}; ${document.repeats} per side, ${figures.paired ? 'paired' : UNPAIRED_NOTE}.`,
    );
    for (const guard of document.guards) {
      const judged = figures.guards.get(guard.name);
      lines.push(`- guard ${code(guard.name)}: ${judged ? `${value(judged.baseline)} → ${value(judged.candidate)}, ${judged.held ? 'held' : 'regressed'}` : 'not judged'}.`);
    }
    lines.push(`- head ${code(shortSha(document.head))} against base ${code(shortSha(document.base))}.`, '');
  }
  if (violations.length) lines.push('**Out of scope:**', '', ...violationLines(violations), '');
  const reasons = [...new Set([...figures.reasons, ...(document?.reason ? [document.reason] : [])].map((reason) => oneLine(reason, 300)))];
  if (reasons.length) lines.push(`**Why:** ${reasons.join('; ')}.`, '');
  return { title: title(heading), summary: truncateMarkdown(lines.join('\n'), CHECK_RUN_SUMMARY_LIMIT), conclusion };
}
