/**
 * The sticky comment on each experiment pull request of an App run, found again by EXPERIMENT_MARKER: what was
 * measured, the verdict and why, and what the App did with it. Pure: run state and result in, Markdown out.
 */
import type { AppExperiment, AppRunState } from '../app/state.js';
import { figuresOf, finite } from '../judge/figures.js';
import { SINGLE_RUN_NOTE, UNPAIRED_NOTE } from '../judge/judge.js';
import type { Judgement } from '../ledger/records.js';
import { EXPERIMENT_MARKER } from '../protocol/protocol.js';
import { UNSANDBOXED_NOTE, type ResultDocument } from '../result/result.js';
import { STATE_WORDS } from './app-words.js';
import { betterWord, cell, change, code, formatInterval, link, oneLine, plural, quote, shortSha, value } from './markdown.js';
import { runsPerSide, violationLines } from './result-words.js';
import { GITHUB_BODY_LIMIT, truncateMarkdown } from './truncate.js';

/** Links of one experiment's evidence. */
export interface ExperimentLinks {
  /** The workflow run that proposed the change, with its trace. */
  proposalRun?: string;
  /** The workflow run that evaluated the pull request. */
  evaluationRun?: string;
  /** The uploaded result and logs of the evaluation. */
  artifact?: string;
}

/** What {@link renderExperimentComment} shows. */
export interface ExperimentCommentInput {
  state: AppRunState;
  experiment: AppExperiment;
  /** The verified result document; null when none could be read. */
  document: ResultDocument | null;
  /** The App's own judgement, re-judged from the document's raw samples; preferred over the document's. */
  judgement?: Judgement;
  /** Shown instead of the verdict, e.g. `verification failed: head moved after evaluation`. */
  verdictOverride?: string;
  links: ExperimentLinks;
}

/** What the App did with the experiment, in one sentence without the final period. */
function actionSentence(state: AppRunState, experiment: AppExperiment): string {
  switch (experiment.state) {
    case 'kept':
      return `kept: merged into ${code(state.runBranch)}; the next experiments start from it`;
    case 'discarded':
      return `discarded: closed without merging; ${code(state.runBranch)} is unchanged`;
    case 'invalid':
      return `not kept (invalid): closed without merging; ${code(state.runBranch)} is unchanged`;
    case 'needs-review':
      return `needs review: left open for a human to merge into ${code(state.runBranch)} or close`;
    case 'proposing':
    case 'evaluating':
      return `nothing yet: ${STATE_WORDS[experiment.state]}`;
  }
}

/**
 * The sticky comment on experiment k's pull request, found again by EXPERIMENT_MARKER (its first line): the
 * hypothesis quoted; a table of baseline, candidate and delta (with percent), the interval or "single run,
 * no noise estimate", each guard (held or regressed) and the runs per side (paired or unpaired); the verdict
 * and why; the scope violations; what the App did (kept, discarded, needs review); and the links to the
 * proposal trace, the evaluation run and its artifact. Truncated below GitHub's limit, pointing to the artifact.
 */
export function renderExperimentComment(input: ExperimentCommentInput): string {
  const { state, experiment, document, links } = input;
  const { name, goal } = state.metric;
  const figures = figuresOf(document, input.judgement);
  const lines: string[] = [
    EXPERIMENT_MARKER,
    `### autoloop experiment ${experiment.k} of ${state.budget.experiments}: ${STATE_WORDS[experiment.state]}`,
    '',
  ];
  if (experiment.hypothesis?.trim()) lines.push(quote(experiment.hypothesis), '');

  const baseline = figures.baseline ?? finite(experiment.baseline);
  const candidate = figures.candidate ?? finite(experiment.candidate);
  const delta = figures.delta ?? finite(experiment.delta);
  const relative = figures.deltaRelative ?? finite(experiment.deltaRelative);
  const against = document ? `, head ${code(shortSha(document.head))} against base ${code(shortSha(document.base))}` : '';
  lines.push(`${code(name)} (${betterWord(goal)} is better)${against}.`, '');

  lines.push(
    '| | baseline | candidate | delta |',
    '| --- | ---: | ---: | ---: |',
    `| **${cell(name)}** (mean) | ${value(baseline)} | ${value(candidate)} | ${change(delta, relative)} |`,
    `| interval | | | ${cell(formatInterval(figures.interval))} |`,
  );
  for (const guard of document?.guards ?? []) {
    const judged = figures.guards.get(guard.name);
    const gd = judged ? judged.candidate - judged.baseline : null;
    const gr = judged && gd !== null && judged.baseline !== 0 ? gd / Math.abs(judged.baseline) : null;
    const held = judged ? (judged.held ? 'held' : 'regressed') : 'not judged';
    lines.push(`| ${cell(guard.name)} (guard, ${guard.goal}) | ${value(judged?.baseline)} | ${value(judged?.candidate)} | ${change(gd, gr)}, ${held} |`);
  }
  if (document) {
    lines.push(`| runs (${document.repeats} per side) | ${runsPerSide(document, 'baseline')} | ${runsPerSide(document, 'candidate')} | ${figures.paired ? 'paired' : cell(UNPAIRED_NOTE)} |`);
  }
  lines.push('');

  const verdict = input.verdictOverride ?? experiment.verdict ?? figures.verdict ?? 'not judged';
  const notes = [
    ...(figures.singleRun && !input.verdictOverride ? [SINGLE_RUN_NOTE] : []),
    ...(figures.suspicious ? ['suspicious: the gain is beyond `suspicious_effect`, a human must look'] : []),
    ...(document?.sandbox === 'none' ? [UNSANDBOXED_NOTE] : []),
  ];
  lines.push(`**Verdict:** ${oneLine(verdict, 300)}${notes.length ? ` (${notes.join('; ')})` : ''}.`, '');
  const reasons = [...figures.reasons, ...(document?.reason ? [document.reason] : []), ...(experiment.reason ? [experiment.reason] : [])];
  const unique = [...new Set(reasons.map((reason) => oneLine(reason, 300)))];
  if (unique.length) lines.push(`**Why:** ${unique.join('; ')}.`, '');
  if (document?.scopeViolations.length) {
    lines.push(`**Out of scope:** ${plural(document.scopeViolations.length, 'path')} the proposal may not change:`, '', ...violationLines(document.scopeViolations), '');
  }
  lines.push(`**What autoloop did:** ${actionSentence(state, experiment)}.`, '');

  const linkParts = [
    ...(links.proposalRun ? [link('proposal trace', links.proposalRun)] : []),
    ...(links.evaluationRun ? [link('evaluation run', links.evaluationRun)] : []),
    ...(links.artifact ? [link('result and logs', links.artifact)] : []),
  ];
  if (linkParts.length) lines.push(linkParts.join(' · '), '');
  const more = links.artifact ?? links.evaluationRun;
  return truncateMarkdown(lines.join('\n'), GITHUB_BODY_LIMIT, more ? { label: 'full result', url: more } : undefined);
}
