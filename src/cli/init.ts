import { createInterface, type Interface } from 'node:readline/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_PATH, DEFAULT_INSTRUCTIONS_PATH } from '../core/config/config-schema.js';
import { ConfigError, parseConfig } from '../core/config/config.js';
import { AutoloopError, EXIT } from '../core/errors.js';
import {
  commandFiles,
  defaultCheck,
  defaultCommand,
  defaultEdit,
  defaultSetup,
  guessGoal,
  LANGUAGE_NAMES,
  metricNamesIn,
  PLACEHOLDER_METRIC,
  rankParamFiles,
  tuneParams,
} from '../core/init/defaults.js';
import { ACTION_PLACEHOLDER, actionReference, isActionReference, renderConfig, renderInstructions, renderWorkflow, type InitChoices } from '../core/init/render.js';
import { failureAdvice, noiseSummary } from '../core/init/report.js';
import { promptText, QUESTIONS, readCommand, readEdit, readGoal, readMetricName, type Answer, type QuestionKey } from '../core/init/questions.js';
import { configWarnings } from '../core/render/config-summary.js';
import { shortSha } from '../core/render/markdown.js';
import { WORKFLOW_PATH } from '../core/protocol/protocol.js';
import { pathMatcher } from '../core/scope/scope.js';
import { loadConfigFile } from '../engine/config-file.js';
import { evalRefs } from '../engine/eval-refs.js';
import { repoRoot } from '../engine/git.js';
import { gitState, inspectRepository, readScripts, type Inspection } from '../engine/init/inspect.js';
import { probeMetrics } from '../engine/init/probe.js';
import { readOwnPackage, readWorkflowTemplate, writePlannedFiles, type WriteOutcome } from '../engine/init/write.js';
import type { CliIO } from './main.js';

/** Asks one question and returns the answer as typed (empty: take the default). */
export interface Prompter {
  ask(question: string): Promise<string>;
  close(): void;
}

/** Pairs of the A/A measurement that proves the evaluator works: a first look at its noise, kept short. */
export const INIT_AA_PAIRS = 3;

const INIT_USAGE = `Usage: autoloop init [--yes] [--force] [--command CMD] [--metric NAME] [--goal minimize|maximize]
                     [--edit GLOBS] [--action REF] [--no-measure]

Looks at the repository (package.json scripts, language markers, parameter files), asks a few questions
(each with its default), writes ${CONFIG_PATH}, ${DEFAULT_INSTRUCTIONS_PATH} and ${WORKFLOW_PATH}, checks
the config as \`autoloop validate\` does, and measures HEAD against itself (${INIT_AA_PAIRS} pairs) to prove the evaluator works.

Options:
  --yes, -y      take every default without asking; a file that exists is kept (said so)
  --force        overwrite files that exist
  --command CMD  evaluate.command, the command that prints METRIC name=value
  --metric NAME  metric.name (default: the first METRIC the evaluator prints)
  --goal G       metric.goal: minimize or maximize (default: guessed from the name)
  --edit GLOBS   scope.edit, comma-separated (default: the parameter file, else src/**)
  --action REF   the action in the workflow, e.g. owner/autoloop@v1 (default: the package's repository,
                 else the placeholder ${ACTION_PLACEHOLDER})
  --no-measure   write and validate only; run nothing

Without a terminal, pass --yes or answer every question with its flag.
Exit codes: 0 the evaluator works (or --no-measure), 2 bad usage, 3 invalid config,
            4 the evaluator could not be measured (the files are kept), 130 interrupted.
`;

class InitUsageError extends AutoloopError {
  override readonly exitCode = EXIT.usage;
}

class InitInterrupted extends AutoloopError {
  override readonly exitCode = EXIT.interrupted;
}

/** A prompter on the process's terminal; Ctrl-C (or the end of input) interrupts init. */
function terminalPrompter(signal?: AbortSignal): Prompter {
  let rl: Interface | null = null;
  const stop = new AbortController();
  return {
    ask: async (question) => {
      if (!rl) {
        rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
        rl.on('SIGINT', () => stop.abort());
        rl.on('close', () => stop.abort());
      }
      const aborted = signal ? AbortSignal.any([stop.signal, signal]) : stop.signal;
      try {
        return await rl.question(question, { signal: aborted });
      } catch (error) {
        if (aborted.aborted) throw new InitInterrupted('interrupted');
        throw error;
      }
    },
    close: () => rl?.close(),
  };
}

/** `autoloop init`: asks on a terminal, refuses to guess anywhere else unless told (--yes, or every flag). */
export async function commandInit(args: string[], io: CliIO): Promise<number> {
  const prompter = process.stdin.isTTY && io.stdout.isTTY ? terminalPrompter(io.signal) : null;
  try {
    return await runInit(args, io, { prompter });
  } finally {
    prompter?.close();
  }
}

function readFlag<T>(answer: Answer<T>, flag: string): T {
  if (!answer.ok) throw new InitUsageError(`${flag}: ${answer.message}`);
  return answer.value;
}

/** How the inspection reads for people: `Node (npm); package.json scripts: bench, test; parameters: params.json (3 numbers)`. */
function inspectionLine(facts: Inspection): string {
  const parts: string[] = [];
  const languages = facts.languages.map((language) => (language === 'node' && facts.packageManager ? `Node (${facts.packageManager})` : LANGUAGE_NAMES[language]));
  parts.push(languages.length ? languages.join(', ') : 'no language marker (package.json, pyproject.toml, Cargo.toml, go.mod, Makefile)');
  const scripts = Object.keys(facts.scripts);
  if (scripts.length) parts.push(`package.json scripts: ${scripts.join(', ')}`);
  const targets = Object.keys(facts.makeTargets);
  if (targets.length) parts.push(`Makefile targets: ${targets.slice(0, 8).join(', ')}${targets.length > 8 ? ', …' : ''}`);
  if (facts.evaluatorFiles.length) parts.push(`evaluator scripts: ${facts.evaluatorFiles.join(', ')}`);
  const params = rankParamFiles(facts.paramFiles);
  if (params.length) parts.push(`parameters: ${params.map((file) => `${file.path} (${file.numbers.length} ${file.numbers.length === 1 ? 'number' : 'numbers'})`).join(', ')}`);
  return parts.join('; ');
}

function outcomeLine(outcome: WriteOutcome, placeholderAction: boolean): string {
  const note = outcome.path === WORKFLOW_PATH && placeholderAction && outcome.action !== 'kept'
    ? ` (${ACTION_PLACEHOLDER} is a placeholder: pass --action owner/repo@ref, or replace it in the file's uses: lines)`
    : '';
  switch (outcome.action) {
    case 'written':
      return `Wrote ${outcome.path}${note}`;
    case 'overwritten':
      return `Overwrote ${outcome.path}${note}`;
    case 'unchanged':
      return `${outcome.path}: unchanged (already as init writes it)`;
    case 'kept':
      return `Kept ${outcome.path}: it exists (--force overwrites it)`;
  }
}

/**
 * `autoloop init` with its prompter given (null: no terminal). Inspects, asks (or takes flags and defaults), writes the
 * three files without overwriting any unasked, validates the config on disk, and measures HEAD against itself.
 */
export async function runInit(args: string[], io: CliIO, options: { prompter: Prompter | null }): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        yes: { type: 'boolean', short: 'y' },
        force: { type: 'boolean' },
        command: { type: 'string' },
        metric: { type: 'string' },
        goal: { type: 'string' },
        edit: { type: 'string', multiple: true },
        action: { type: 'string' },
        'no-measure': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new InitUsageError(`${(error as Error).message}\nRun autoloop init --help for usage.`);
  }
  if (values.help) {
    io.stdout.write(INIT_USAGE);
    return EXIT.ok;
  }
  const flags = {
    command: values.command === undefined ? undefined : readFlag(readCommand(values.command), QUESTIONS.command.flag),
    metric: values.metric === undefined ? undefined : readFlag(readMetricName(values.metric), QUESTIONS.metric.flag),
    goal: values.goal === undefined ? undefined : readFlag(readGoal(values.goal), QUESTIONS.goal.flag),
    edit: values.edit === undefined ? undefined : readFlag(readEdit(values.edit), QUESTIONS.edit.flag),
  };
  if (values.action !== undefined && !isActionReference(values.action)) {
    throw new InitUsageError(`--action expects owner/repo@ref (e.g. owner/autoloop@v1, or a commit SHA after the @) or ./path, got ${JSON.stringify(values.action)}`);
  }
  const unanswered = (Object.keys(QUESTIONS) as QuestionKey[]).filter((key) => flags[key] === undefined);
  if (!options.prompter && !values.yes && unanswered.length > 0) {
    throw new InitUsageError(
      `input is not a terminal, so init cannot ask its questions: pass --yes to take the defaults it shows, or answer them with flags (${unanswered.map((key) => QUESTIONS[key].flag).join(', ')})`,
    );
  }
  const prompter = values.yes ? null : options.prompter;
  const force = Boolean(values.force);
  const measure = !values['no-measure'];
  const out = (line = '') => io.stdout.write(`${line}\n`);
  const warn = (line: string) => io.stderr.write(`${line}\n`);

  const root = await repoRoot(io.cwd).catch(() => io.cwd);
  const [facts, git] = await Promise.all([inspectRepository(root), gitState(root)]);
  // A config that exists and will not be replaced unasked: nothing is run to choose what goes into a new one.
  const keepsConfig = facts.existing.config && !force && !prompter;
  out(`Looking at ${root}: ${inspectionLine(facts)}`);
  for (const problem of facts.problems) warn(`Warning: ${problem}`);
  for (const workflow of facts.autoloopWorkflows) out(`  ${workflow} already uses an autoloop action`);

  /** Asks a question until the answer reads, or takes the default (no prompter: the default at once). */
  const ask = async <T>(key: QuestionKey, flag: T | undefined, fallback: T, shown: string, read: (text: string) => Answer<T>): Promise<{ value: T; asked: boolean }> => {
    if (flag !== undefined) return { value: flag, asked: false };
    if (!prompter) return { value: fallback, asked: false };
    for (;;) {
      const text = (await prompter.ask(promptText(key, shown))).trim();
      if (text === '') return { value: fallback, asked: false };
      const answer = read(text);
      if (answer.ok) return { value: answer.value, asked: true };
      out(`  ${answer.message}`);
    }
  };

  // The command first: the metric's default is what it prints.
  const suggested = defaultCommand(facts);
  const command = await ask('command', flags.command, suggested.command, suggested.command, readCommand);
  const placeholderCommand = command.value === suggested.command && suggested.placeholder;
  const commandSource = flags.command !== undefined ? '--command' : command.asked ? 'your answer' : suggested.source;
  const named = commandFiles(command.value, facts);
  const scripts = await readScripts(root, named.files);
  const setup = defaultSetup(facts);

  let metricDefault = { name: PLACEHOLDER_METRIC, source: 'a placeholder: nothing printed a METRIC line', others: [] as string[], placeholder: true };
  // The METRIC names the evaluator's own files print as literals, each with the first file that prints it.
  const literal = new Map<string, string>();
  for (const script of scripts) for (const name of metricNamesIn(script.text)) if (!literal.has(name)) literal.set(name, script.path);
  const [first, ...rest] = literal;
  if (flags.metric === undefined && first) {
    metricDefault = { name: first[0], source: `printed by ${first[1]}`, others: rest.map(([name]) => name), placeholder: false };
  } else if (flags.metric === undefined && !placeholderCommand && measure && git.head && !keepsConfig) {
    out(`Running \`${command.value}\` once to find its METRIC lines…`);
    const probe = await probeMetrics(root, command.value, { setup, signal: io.signal });
    if (io.signal?.aborted) return EXIT.interrupted;
    if (probe.ok && probe.metrics.length > 0) {
      metricDefault = { name: probe.metrics[0]!, source: `printed by ${command.value}, run once`, others: probe.metrics.slice(1), placeholder: false };
    } else if (probe.ok) {
      out(`  it printed no METRIC line: metric.name is a placeholder, ${PLACEHOLDER_METRIC}`);
    } else {
      out(`  it did not run to the end: ${probe.reason} (logs: ${relative(root, probe.traceDir)}/)`);
    }
  }
  const metric = await ask('metric', flags.metric, metricDefault.name, metricDefault.name, readMetricName);
  const metricPlaceholder = metric.value === metricDefault.name && metricDefault.placeholder;
  const suggestedGoal = guessGoal(metric.value);
  const goal = await ask('goal', flags.goal, suggestedGoal, suggestedGoal, readGoal);

  const paramFile = rankParamFiles(facts.paramFiles)[0] ?? null;
  const suggestedEdit = defaultEdit(facts, paramFile?.path ?? null);
  const edit = await ask('edit', flags.edit, suggestedEdit, suggestedEdit.join(', '), readEdit);
  const tuned = paramFile && pathMatcher(edit.value)(paramFile.path) ? paramFile : null;
  const protect = [...new Set([...named.files, ...named.definedIn])].filter((path) => path !== tuned?.path);

  const choices: InitChoices = {
    metric: { name: metric.value, goal: goal.value, placeholder: metricPlaceholder },
    evaluate: { command: command.value, placeholder: placeholderCommand, setup, check: defaultCheck(facts) },
    scope: { edit: edit.value, protect },
    tune: tuned ? { file: tuned.path, params: tuneParams(tuned), current: Object.fromEntries(tuned.numbers.map((leaf) => [leaf.key, leaf.value])) } : null,
    instructions: DEFAULT_INSTRUCTIONS_PATH,
  };
  const configText = renderConfig(choices);
  // What init writes must read back: a config it cannot parse is never written.
  parseConfig(configText, CONFIG_PATH);

  const metricSource = flags.metric !== undefined ? '--metric' : metric.asked ? 'your answer' : metricDefault.source;
  const also = !metric.asked && flags.metric === undefined && metricDefault.others.length ? `; also printed: ${metricDefault.others.join(', ')}` : '';
  out(`  evaluate.command: ${command.value} (${commandSource})`);
  out(`  metric:           ${metric.value}, ${goal.value} (${metricSource}${also})`);
  out(`  scope.edit:       ${edit.value.join(', ')}; protect ${[...protect, '.github/**'].join(', ')}`);
  out(
    choices.tune
      ? `  proposer:         tune over ${Object.keys(choices.tune.params).join(', ')} in ${choices.tune.file} (ranges guessed around the current values)`
      : `  proposer:         llm (${paramFile ? `${paramFile.path} is outside scope.edit` : 'no parameter file to tune'}): a model writes the changes; the key is read from OPENAI_API_KEY`,
  );

  const action = values.action ?? actionReference(await readOwnPackage());
  const outcomes = await writePlannedFiles(
    root,
    [
      { path: CONFIG_PATH, text: configText },
      { path: DEFAULT_INSTRUCTIONS_PATH, text: renderInstructions(choices) },
      { path: WORKFLOW_PATH, text: renderWorkflow(await readWorkflowTemplate(), action) },
    ],
    async (path) => {
      if (force) return true;
      if (!prompter) return false;
      return /^y(?:es)?$/i.test((await prompter.ask(`${path} exists. Overwrite it? [y/N] `)).trim());
    },
  );
  for (const outcome of outcomes) out(outcomeLine(outcome, action === null));
  const configOutcome = outcomes.find((outcome) => outcome.path === CONFIG_PATH)!;
  const ours = configOutcome.action !== 'kept';

  // The config on disk (init's, or the user's own it kept), read as `autoloop validate` reads it.
  let loaded;
  try {
    loaded = await loadConfigFile(join(root, CONFIG_PATH), CONFIG_PATH);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    warn(`autoloop init: ${CONFIG_PATH} is not valid:\n${error.message}\nThe other files are written; fix the config, then run autoloop validate.`);
    return EXIT.config;
  }
  out(`${loaded.file} is valid.`);
  for (const warning of configWarnings(loaded.config)) warn(`Warning: ${warning}`);

  if (!measure) {
    out('Not measured (--no-measure): autoloop eval --aa measures HEAD against itself and shows the noise.');
    return EXIT.ok;
  }
  const measured = loaded.config.evaluate.command;
  if (ours && placeholderCommand) {
    const script = named.files[0] ?? 'the evaluator';
    warn(
      `No evaluator found (no bench or eval script in package.json or a Makefile, no eval.py or bench.mjs): evaluate.command is a placeholder, \`${command.value}\`.\n`
      + `Next: write ${script} so that it prints \`METRIC ${metric.value}=<value>\` (the number to improve), commit it, set metric.name and metric.goal in ${CONFIG_PATH}, `
      + 'then run autoloop eval --aa to prove it works.',
    );
    return EXIT.failed;
  }
  if (!git.head) {
    warn(`Not measured: ${root} is ${git.repo ? 'a git repository without a commit' : 'not a git repository'}, and autoloop measures commits. Commit the evaluator, then run autoloop eval --aa.`);
    return EXIT.failed;
  }
  const uncommitted = ours ? [...scripts.map((script) => script.path), ...(choices.tune ? [choices.tune.file] : [])].filter((path) => !git.tracked.has(path)) : [];
  for (const path of uncommitted) warn(`Warning: ${path} is not committed: autoloop measures HEAD (${shortSha(git.head)}), where it is missing; commit it first.`);

  out(`Measuring HEAD (${shortSha(git.head)}) against itself, ${INIT_AA_PAIRS} runs per side, to prove the evaluator works…`);
  let result;
  try {
    result = await evalRefs({ cwd: root, base: 'HEAD', head: 'HEAD', repeats: INIT_AA_PAIRS, signal: io.signal });
  } catch (error) {
    if (!(error instanceof AutoloopError)) throw error;
    warn(`Not measured: ${error.message}\nThe files init wrote are kept; once that is fixed, run autoloop eval --aa.`);
    return error.exitCode === EXIT.ok ? EXIT.failed : error.exitCode;
  }
  if (io.signal?.aborted) return EXIT.interrupted;
  const { measurement } = result;
  const { judgement } = measurement;
  if (!judgement || measurement.status === 'invalid' || measurement.status === 'crash') {
    // The reason names the run's log.
    warn(`The evaluator does not work yet: ${measurement.reason ?? `no valid comparison (logs: ${relative(root, result.traceDir)}/)`}`);
    warn(failureAdvice(measured, loaded.config.metric.name));
    return EXIT.failed;
  }
  const runMs = measurement.samples.filter((sample) => sample.ok).map((sample) => sample.outcome.durationMs);
  for (const line of noiseSummary(result.configured, { baseline: judgement.baseline.samples, candidate: judgement.candidate.samples, runMs, verdict: judgement.verdict })) out(`  ${line}`);
  out(`  logs: ${relative(root, result.traceDir)}/`);
  out();
  out('The evaluator works. Next: commit .github/ (git add .github && git commit -m "autoloop"), then run npx autoloop run;');
  out(`with the App, comment /optimize on an issue.${choices.tune || !ours ? '' : ' The llm proposer reads its key from OPENAI_API_KEY (in CI: the propose job\'s env, see the workflow).'}`);
  return EXIT.ok;
}
