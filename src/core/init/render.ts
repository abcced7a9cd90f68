/**
 * The files `autoloop init` writes, as text: the config with a comment on every key, the proposer's instructions,
 * and the App workflow with the action reference filled in. Pure.
 */
import { stringify } from 'yaml';
import type { Goal } from '../config/config-schema.js';
import { ALWAYS_PROTECTED } from '../scope/scope.js';
import type { GuessedParam } from './defaults.js';

/** The action reference the bundled workflows carry, for the user (or init) to replace. */
export const ACTION_PLACEHOLDER = 'OWNER/autoloop@v1';

/** Everything the rendered config says. */
export interface InitChoices {
  metric: { name: string; goal: Goal; placeholder: boolean };
  evaluate: {
    command: string;
    /** The command names a script to write: said in a comment. */
    placeholder: boolean;
    /** Installs dependencies in a fresh checkout (needs the network). */
    setup: string | null;
    /** The tests, written commented out. */
    check: string | null;
  };
  scope: { edit: string[]; protect: string[] };
  /** The tune proposer's file and ranges; null: a model writes the changes (`llm`, with `command` commented out). */
  tune: { file: string; params: Record<string, GuessedParam>; current: Record<string, number> } | null;
  instructions: string;
}

/** A YAML scalar: plain when it can be, quoted when it must be. */
function scalar(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const text = stringify(value).trimEnd();
  return text.includes('\n') ? JSON.stringify(value) : text;
}

/** A list of globs, one per line, under a key at `indent`. */
function list(items: readonly string[], indent: string): string[] {
  return items.length === 0 ? [] : items.map((item) => `${indent}- ${scalar(item)}`);
}

/** One tune parameter as a flow mapping: `{ min: 0.001, max: 0.1, scale: log }`. */
function paramText(param: GuessedParam): string {
  const parts = [`min: ${param.min}`, `max: ${param.max}`];
  if (param.scale) parts.push(`scale: ${param.scale}`);
  if (param.type) parts.push(`type: ${param.type}`);
  return `{ ${parts.join(', ')} }`;
}

/** Pads a line so that its comment starts in the same column as its neighbours'. */
function commented(line: string, comment: string, column = 34): string {
  return `${line.padEnd(Math.max(column, line.length + 2))}# ${comment}`;
}

/** `.github/autoloop.yml` as init writes it: every key with a comment saying what it does. It passes `parseConfig`. */
export function renderConfig(choices: InitChoices): string {
  const { metric, evaluate, scope, tune } = choices;
  const lines: string[] = [
    '# autoloop: what "better" means, how to measure it, and what may change.',
    '# Written by `autoloop init`: check it with `npx autoloop validate`, and see the noise of your evaluator with',
    '# `npx autoloop eval --aa`. Every key is in the README\'s config section and node_modules/@autoloop-dev/autoloop/schema/autoloop.schema.json.',
    '',
    '# The one number to improve, as the evaluator prints it on stdout: `METRIC name=value`.',
    'metric:',
    metric.placeholder ? commented(`  name: ${scalar(metric.name)}`, 'placeholder: the name your evaluator prints') : `  name: ${scalar(metric.name)}`,
    commented(`  goal: ${metric.goal}`, 'minimize or maximize'),
    '  # The smallest gain worth keeping: 1% of the baseline, or an absolute amount in the metric\'s unit. Set it',
    '  # above the noise `autoloop eval --aa` shows; the default 0 keeps any gain the measurement can tell from noise.',
    '  # min_effect: 1%',
    '  # suspicious_effect: 50%       # a larger gain in one step is flagged for a human, never kept silently',
    '',
    '# How a checkout is measured: autoloop runs the command in a sandbox (no network, only its worktree writable),',
    '# under a time budget, alternating the baseline and the candidate (B C B C) so that the machine\'s drift cancels.',
    'evaluate:',
    commented(`  command: ${scalar(evaluate.command)}`, evaluate.placeholder ? 'placeholder: write this script, commit it' : 'prints the metric; runs in a checkout of the commit measured'),
  ];
  if (evaluate.setup) {
    lines.push(commented(`  setup: ${scalar(evaluate.setup)}`, 'once per fresh checkout, before anything is measured'));
    lines.push(commented('  network: true', 'setup downloads the dependencies (the command gets the network too)'));
  } else {
    lines.push('  # setup: npm ci                # once per fresh checkout, before anything is measured (needs network: true)');
  }
  lines.push(
    evaluate.check ? commented(`  # check: ${evaluate.check}`, 'must pass before a checkout\'s runs count') : '  # check: …                    # your tests: they must pass before a checkout\'s runs count',
    commented('  timeout: 5m', 'hard budget of one run of the command'),
    '  # repeats: auto (the default): 3 runs per side, more only while the verdict is undecided, up to max_repeats (8).',
    '',
    `# What a proposal may change. ${ALWAYS_PROTECTED.join(', ')} (this file, the instructions, the workflows) is always protected.`,
    'scope:',
    '  edit:',
    ...list(scope.edit, '    '),
  );
  if (scope.protect.length > 0) {
    lines.push(commented('  protect:', 'the evaluator: no proposal may change what measures it'), ...list(scope.protect, '    '));
  } else {
    lines.push(commented('  protect: []', 'the evaluator and its data: no proposal may change what measures it'));
  }
  lines.push('', '# What writes candidate changes: tune (a built-in parameter search), llm (a model API) or command (an agent CLI).', 'proposer:');
  if (tune) {
    lines.push(
      commented('  kind: tune', 'the built-in search over the parameters below'),
      commented(`  instructions: ${scalar(choices.instructions)}`, 'read by llm and command proposers'),
      '  tune:',
      `    file: ${scalar(tune.file)}`,
      '    # Ranges guessed around the current values: narrow or widen them. scale: log searches orders of magnitude',
      '    # evenly; type: int rounds to whole numbers. A list of values to try is written { choices: [a, b] }.',
      '    params:',
      ...Object.entries(tune.params).map(([key, param]) => commented(`      ${scalar(key)}: ${paramText(param)}`, `now ${tune.current[key]}`, 60)),
      '  # Or a model writes the changes (kind: llm), or any agent CLI (kind: command):',
      '  # llm: { provider: openai, model: gpt-4.1-mini }',
      '  # command: { run: claude -p "$(cat "$AUTOLOOP_PROMPT_FILE")" }',
    );
  } else {
    lines.push(
      commented('  kind: llm', 'no parameter file to tune: a model writes the changes'),
      commented(`  instructions: ${scalar(choices.instructions)}`, 'what the model is told, besides the goal and the run so far'),
      '  llm:',
      commented('    provider: openai', 'or anthropic; the key is read from OPENAI_API_KEY (ANTHROPIC_API_KEY)'),
      '    model: gpt-4.1-mini',
      '  # Or any agent CLI, in the candidate\'s worktree (kind: command):',
      '  # command:',
      '  #   run: claude -p "$(cat "$AUTOLOOP_PROMPT_FILE")"',
      '  #   env: [ANTHROPIC_API_KEY]',
    );
  }
  lines.push(
    '',
    '# When a run stops.',
    'budget:',
    commented('  experiments: 20', 'experiments in one run'),
    commented('  max_failures: 5', 'stop after this many invalid experiments in a row'),
    commented('  # wall_time: 8h', 'stop starting experiments after this long'),
    '',
  );
  return lines.join('\n');
}

/** The proposer's instructions (`.github/autoloop.md`): a short template to fill in, always protected. */
export function renderInstructions(choices: InitChoices): string {
  const { metric, evaluate, scope } = choices;
  return [
    '# Instructions for autoloop\'s proposer',
    '',
    `Goal: ${metric.goal} \`${metric.name}\`, as \`${evaluate.command}\` prints it (\`METRIC ${metric.name}=<value>\`).`,
    '',
    `You may change only: ${scope.edit.map((glob) => `\`${glob}\``).join(', ')}.`,
    `Never change: ${[...scope.protect, ...ALWAYS_PROTECTED].map((glob) => `\`${glob}\``).join(', ')}: the evaluator and autoloop's own files.`,
    '',
    '- One idea per experiment, small enough to review; say in the hypothesis what you changed and why it should help.',
    '- Keep the code correct and readable: a faster or better result that breaks behaviour is not an improvement.',
    '- Do not change how the metric is measured, or special-case the benchmark\'s inputs.',
    '',
    '## About this repository',
    '',
    '<!-- Tell the proposer what a human expert would: what has been tried, what matters, what to leave alone. -->',
    '',
  ].join('\n');
}

// `uses: OWNER/autoloop@v1` lines, with whatever indentation and a trailing comment.
const USES_PLACEHOLDER = new RegExp(`(uses:\\s*)${ACTION_PLACEHOLDER.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?=\\s|$)`, 'g');

/**
 * The App workflow, copied from the bundled example with every `uses: OWNER/autoloop@v1` set to `action`; with
 * `action` null the placeholder stays for the user to replace.
 */
export function renderWorkflow(template: string, action: string | null): string {
  const header = action
    ? `# Written by \`autoloop init\` from autoloop's examples/workflows/autoloop.yml, with the action ${action}.\n`
    : `# Written by \`autoloop init\` from autoloop's examples/workflows/autoloop.yml: replace ${ACTION_PLACEHOLDER} below.\n`;
  return header + (action ? template.replace(USES_PLACEHOLDER, `$1${action}`) : template);
}

// owner/repo@ref, owner/repo/path@ref, or a local action ./path: what a workflow's `uses:` takes.
const ACTION_REF = /^(?:[A-Za-z0-9][A-Za-z0-9-]*\/[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._/-]+)?@[A-Za-z0-9._/-]+|\.\/[A-Za-z0-9._/-]+)$/;

/** Whether `ref` is something a workflow step's `uses:` accepts for an action: `owner/repo@ref` or `./path`. */
export function isActionReference(ref: string): boolean {
  return ACTION_REF.test(ref);
}

/**
 * The action reference of an autoloop package whose package.json names its GitHub repository:
 * `owner/repo@v<version>`; null when it names none (or not one on GitHub).
 */
export function actionReference(pkg: { repository?: unknown; version?: unknown }): string | null {
  const repository = typeof pkg.repository === 'string' ? pkg.repository : (pkg.repository as { url?: unknown } | undefined)?.url;
  if (typeof repository !== 'string' || typeof pkg.version !== 'string') return null;
  const match =
    /^(?:github:)?([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+?)(?:\.git)?$/.exec(repository)
    ?? /^(?:git\+)?(?:https?|ssh|git):\/\/(?:git@)?github\.com[/:]([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+?)(?:\.git)?\/?$/.exec(repository)
    ?? /^git@github\.com:([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+?)(?:\.git)?$/.exec(repository);
  return match ? `${match[1]}/${match[2]}@v${pkg.version}` : null;
}
