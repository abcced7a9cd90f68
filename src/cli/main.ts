import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { CONFIG_PATH, type Config } from '../core/config/config-schema.js';
import { AutoloopError, EXIT } from '../core/errors.js';
import { LEDGER_TRAILER } from '../core/ledger/kept-commit.js';
import { parseLedger, verifyLedger, type LedgerVerification } from '../core/ledger/ledger.js';
import { renderProgressChart } from '../core/render/chart.js';
import { configWarnings, inProcessNote, localParallel, metricSource, runsPerSideText } from '../core/render/config-summary.js';
import { DELTA_INTERVAL, formatInterval, shortSha } from '../core/render/markdown.js';
import { confirmationSentence, renderMarkdownReport, summarizeRun } from '../core/render/report.js';
import { plural } from '../core/render/markdown.js';
import { describeViolations } from '../core/scope/scope.js';
import { noiseLines } from '../core/render/noise.js';
import { formatDuration, formatEffect, formatNumber, formatPercent } from '../core/config/units.js';
import { loadConfigFile } from '../engine/config-file.js';
import { clean } from '../engine/clean.js';
import { DEMO_PREFIX, prepareDemoRepo } from '../engine/demo.js';
import { RunSetupError } from '../engine/errors.js';
import { evalRefs } from '../engine/eval-refs.js';
import { isGitRepo, repoRoot } from '../engine/git.js';
import { checkConfigInRepository } from '../engine/config-checks.js';
import { runLoop, type RunResult } from '../engine/loop.js';
import { uncommittedFiles, uncommittedWarning } from '../engine/open-run.js';
import { checkKeptCommits, type KeptCommitsCheck } from '../engine/kept-commits.js';
import { appendStopRecord, latestRunDir, readLedger, runPaths, RUNS_DIR } from '../engine/run-files.js';
import { apiKeyVariable } from '../proposers/llm.js';
import { createProposer } from '../proposers/index.js';
import { ProgressPrinter, type Output } from './progress.js';
import type { LoopEvent } from '../engine/run-options.js';
import { commandInit } from './init.js';
import { commandSentinel } from './sentinel.js';

/** Exit codes, documented in the README (defined with the errors that carry them). */
export { EXIT };

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIO {
  stdout: Output;
  stderr: Output;
  cwd: string;
  /** Aborted on Ctrl-C; the loop stops cleanly and `--resume` continues. */
  signal?: AbortSignal;
  /** True once the reader of stdout closed it (EPIPE: `autoloop run --json | head -n 1`); `signal` is aborted then too. */
  readerClosed?: () => boolean;
}

class UsageError extends AutoloopError {
  override readonly exitCode = EXIT.usage;
}

const USAGE = `autoloop — propose a change, measure it, keep it only if it is really better, repeat.

Usage:
  autoloop run [--config PATH] [--tag TAG] [--base REF] [--experiments N] [--goal TEXT] [--resume]
               [--accept-suspicious] [--json]
  autoloop eval [HEAD] [--base REF] [--config PATH] [--repeats N] [--json]
  autoloop eval --aa [REF] [--repeats N]      measure REF against itself: the benchmark's noise
  autoloop init [--yes] [--force] [--command CMD] [--metric NAME] [--goal G] [--edit GLOBS] [--action REF] [--no-measure]
  autoloop validate [--config PATH] [--json]
  autoloop report [RUN_DIR] [--tag TAG] [--chart FILE] [--verify] [--json]
  autoloop verify [RUN_DIR] [--tag TAG] [--json]
  autoloop demo [--dir DIR] [--experiments N] [--json]
  autoloop clean [--runs] [--dry-run] [--json]
  autoloop sentinel [--config PATH] [--head REF] [--reference REF] [--repeats N] [--json]

Commands:
  run       run the loop in this repository: kept experiments become commits on autoloop/<tag>/run
  eval      measure HEAD (default: the working tree) against --base (default: HEAD), as CI would
  init      look at this repository, write ${CONFIG_PATH}, its instructions and workflow, then measure once
  validate  check ${CONFIG_PATH} and print what it means
  report    print a run's Markdown report (default: the latest run) and write its SVG chart;
            --verify: refuse (exit 5) if its ledger was altered
  verify    check the hash chain of a run's ledger (default: the latest run), and the ledger heads its
            kept commits recorded (Autoloop-Ledger trailers): exit 5 and the first altered line if a
            record was edited, deleted, inserted or reordered, or the chain rebuilt after an edit
  demo      copy the bundled example to a temp repository and optimise it, offline
  clean     remove autoloop's worktrees (.git/autoloop/) and old demo repositories; --runs: runs' traces too
  sentinel  measure HEAD against the recorded reference, append it to the history (branch autoloop/sentinel),
            and confirm and bisect a new change point to its commit

Each command's own options: autoloop COMMAND --help (or autoloop help COMMAND).

Exit codes: 0 done, 1 unexpected error, 2 bad usage, 3 invalid config,
            4 measurement failed (baseline, too many failures, invalid eval),
            5 ledger altered (hash chain broken), 130 interrupted.
`;

/** Each command's own help (`autoloop COMMAND --help`, `autoloop help COMMAND`): its usage, what it does, its options. */
const COMMAND_HELP: Record<string, string> = {
  run: `Usage: autoloop run [options]

Runs the loop in this repository: measures the base commit, then proposes a change, measures it paired with
the best so far and keeps it only if it is really better, until the budget is spent. Kept experiments become
commits on autoloop/<tag>/run; the ledger, table, chart, report and traces go to .autoloop/<tag>/.
It measures commits: uncommitted changes are not part of the run (it warns of them), and the config is read as
committed in the base commit.

Options:
  --config PATH        the config file (default ${CONFIG_PATH}), as committed in the base commit
  --tag TAG            the run's name: branch autoloop/TAG/run, files in .autoloop/TAG/ (default: the UTC time)
  --base REF           the commit the run starts from (default HEAD)
  --experiments N      the experiment budget (default budget.experiments)
  --goal TEXT          a goal for the proposer, in words
  --accept-suspicious  also keep gains beyond metric.suspicious_effect (otherwise left for a human)
  --resume             continue a run (--tag, default the latest) from its ledger with the flags it started
                       with; a different --experiments, --goal, --accept-suspicious, --base or --config is refused
  --json               one JSON event per line on stdout instead of the progress lines
  -h, --help           this help
`,
  eval: `Usage: autoloop eval [HEAD] [options]
       autoloop eval --aa [REF] [--repeats N]

Measures HEAD (a commit; default: the working tree, uncommitted changes included) against --base, paired and
interleaved, scope checked and judged by the config's rules: the measurement CI makes for a pull request.

Options:
  --base REF      the commit measured against (default HEAD)
  --config PATH   the config file (default ${CONFIG_PATH})
  --repeats N     runs per side (default: evaluate.repeats)
  --aa            measure REF (default HEAD) against itself, 5 pairs (or --repeats): the benchmark's own noise, and the
                  smallest effect each way of measuring finds
  --json          the result document, as JSON
  -h, --help      this help
`,
  validate: `Usage: autoloop validate [options]

Checks the config and prints what it means: the metric and guards, the evaluator, the scope, the proposer, the
budget and the sandbox; warns of settings a user likely does not want.

Options:
  --config PATH   the config file (default ${CONFIG_PATH})
  --json          the result, the config and its warnings as JSON
  -h, --help      this help
`,
  report: `Usage: autoloop report [RUN_DIR] [options]

Prints a run's Markdown report (RUN_DIR, else the run --tag names, else the latest run) and writes its SVG chart.

Options:
  --tag TAG       the run named TAG
  --chart FILE    where the chart goes (default progress.svg in the run's folder)
  --verify        check the ledger first and refuse (exit 5) if it was altered
  --json          the run, its summary and how it stopped, as JSON
  -h, --help      this help
`,
  verify: `Usage: autoloop verify [RUN_DIR] [options]

Checks the hash chain of a run's ledger (RUN_DIR, else the run --tag names, else the latest run), and the ledger
heads its kept commits recorded (Autoloop-Ledger trailers): exit 5 and the first altered line if a record was
edited, deleted, inserted or reordered, or the chain rebuilt after an edit.

Options:
  --tag TAG       the run named TAG
  --json          the verification, as JSON
  -h, --help      this help
`,
  demo: `Usage: autoloop demo [options]

Copies the bundled example (examples/mlp) to a new git repository in the temp dir and optimises it, offline: your
files are not touched. Prints where everything is, by absolute path; autoloop clean removes old demo repositories.

Options:
  --dir DIR         make the repository in DIR (new or empty) instead of the temp dir
  --experiments N   the experiment budget (default: the example's, 15)
  --json            one JSON event per line, as autoloop run --json
  -h, --help        this help
`,
  clean: `Usage: autoloop clean [options]

Removes what autoloop leaves behind: the worktrees of runs and evals below the git directory (.git/autoloop/,
made again when a run resumes), and the demo repositories in the temp dir (${DEMO_PREFIX}*, marked as autoloop's).
A run still running keeps its own. Never touches your working tree, a branch or a ledger.

Options:
  --runs      also each run's traces, table, chart and report in .autoloop/, and autoloop eval's traces; the
              ledgers stay: they are the audit trail (verify checks the kept commits against them, report renders
              the run from them). Delete .autoloop/<tag>/ yourself to lose one.
  --dry-run   list what would go, remove nothing
  --json      what was removed and kept, as JSON
  -h, --help  this help
`,
};

const COMMON = { config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals = 0) {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`);
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} expects a whole number of at least 1, got ${JSON.stringify(value)}`);
  return n;
}

function json(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

/** How a run's files are named: relative to the repository (`autoloop run`), or absolute (the demo's temp repository, far from the user). */
type PathStyle = 'relative' | 'absolute';

function summaryLines(result: RunResult, repo: string, style: PathStyle): string {
  const summary = summarizeRun(result.run, result.experiments, result.confirmation);
  const { paths } = result;
  const show = (p: string) => (style === 'absolute' ? p : relative(repo, p) || p);
  const lines = [''];
  if (summary.confirmation) lines.push(confirmationSentence(result.run.metric.name, summary.confirmation));
  if (summary.baseline !== null && summary.best !== null) {
    const steps = `baseline ${formatNumber(summary.baseline, 6)} → best ${formatNumber(summary.best, 6)} (${formatPercent(summary.improvementRelative ?? 0)}, experiment ${summary.bestExperiment})`;
    // With a confirmation, the chain of steps (each judged against its parent) is the detail, not the headline.
    lines.push(summary.confirmation ? `  during the run: ${steps}, each step against its parent` : `${result.run.metric.name}: ${steps}`);
  }
  lines.push(
    `${summary.counts.keep} kept, ${summary.counts.discard} discarded, ${summary.counts.invalid + summary.counts.crash} invalid of ${plural(result.experiments.length - 1, 'experiment')}`,
    `Run branch: ${result.run.branch}`,
    `Ledger:  ${show(paths.ledger)}`,
    `Table:   ${show(paths.results)}`,
    `Chart:   ${show(paths.chart)}`,
    `Report:  ${show(paths.report)}`,
    `Traces:  ${show(paths.traces)}/`,
  );
  return `${lines.join('\n')}\n`;
}

function exitFor(result: RunResult): number {
  return result.outcome === 'interrupted' ? EXIT.interrupted : result.outcome === 'failed' ? EXIT.failed : EXIT.ok;
}

/** The stop record's reason when the reader of the output left: the run stops as `head -n 1` expects, and says why. */
const READER_CLOSED = "the reader of autoloop's output closed it (EPIPE); autoloop run --resume continues";

async function commandRun(args: string[], io: CliIO, style: PathStyle = 'relative'): Promise<number> {
  const { values } = parse(args, {
    ...COMMON,
    tag: { type: 'string' },
    base: { type: 'string' },
    experiments: { type: 'string' },
    goal: { type: 'string' },
    resume: { type: 'boolean' },
    'accept-suspicious': { type: 'boolean' },
  });
  if (values.help) return help(io);
  const printer = new ProgressPrinter(io.stderr);
  // Uncommitted changes are not measured: the start says so (outside a repository, runLoop says what to do).
  const root = await repoRoot(io.cwd).catch(() => null);
  const uncommitted = root ? await uncommittedFiles(root).catch(() => []) : [];
  const withWarnings = (event: LoopEvent): LoopEvent =>
    event.type === 'start' && uncommitted.length > 0 ? { ...event, warnings: [uncommittedWarning(uncommitted, event.run), ...(event.warnings ?? [])] } : event;
  const result = await runLoop({
    cwd: io.cwd,
    configPath: values.config,
    tag: values.tag,
    base: values.base,
    resume: values.resume,
    experiments: positiveInt(values.experiments, '--experiments'),
    goal: values.goal,
    acceptSuspicious: values['accept-suspicious'],
    proposer: createProposer,
    signal: io.signal,
    onEvent: (raw) => {
      const event = withWarnings(raw);
      if (!values.json) return printer.handle(event);
      if (event.type !== 'start') return json(io, event);
      const { run, paths, resumed, nextExperiment, budget, budgetWas, warnings, parallel } = event;
      json(io, { type: 'start', run, dir: paths.dir, resumed, nextExperiment, budget, ...(budgetWas !== undefined ? { budgetWas } : {}), warnings: warnings ?? [], parallel: parallel ?? 1 });
    },
  });
  if (result.outcome === 'interrupted' && io.readerClosed?.()) {
    // Stopped because nobody reads on: a finished stop, recorded as one (a Ctrl-C leaves none, and exits 130).
    await appendStopRecord(result.paths.ledger, READER_CLOSED);
    return EXIT.ok;
  }
  if (!values.json) {
    const repo = await repoRoot(io.cwd);
    io.stdout.write(summaryLines(result, repo, style));
    const cd = style === 'absolute' ? `cd ${repo} && ` : '';
    if (result.outcome === 'interrupted') io.stderr.write(`Interrupted. Continue with: ${cd}autoloop run --resume --tag ${result.run.tag}\n`);
  }
  return exitFor(result);
}

/** Pairs an A/A measurement (`autoloop eval --aa`) takes unless `--repeats` says otherwise: enough for a first noise estimate. */
const AA_REPEATS = 5;

async function commandEval(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, base: { type: 'string' }, repeats: { type: 'string' }, aa: { type: 'boolean' } }, 1);
  if (values.help) return help(io);
  if (values.aa && values.base !== undefined) throw new UsageError('--aa measures one commit against itself: give the commit (autoloop eval --aa REF), not --base');
  // A/A: the commit against itself, a fixed number of pairs (a sequential measurement would stop before the noise shows).
  const aaRef = values.aa ? (positionals[0] ?? 'HEAD') : undefined;
  const result = await evalRefs({
    cwd: io.cwd,
    configPath: values.config,
    base: aaRef ?? values.base,
    head: aaRef ?? positionals[0],
    repeats: positiveInt(values.repeats, '--repeats') ?? (values.aa ? AA_REPEATS : undefined),
    signal: io.signal,
  });
  const { measurement: m, config } = result;
  const valid = m.status !== 'invalid' && m.status !== 'crash';
  if (values.json) {
    json(io, result.document);
    return io.signal?.aborted ? EXIT.interrupted : valid ? EXIT.ok : EXIT.failed;
  }
  const out: string[] = [`${result.headLabel} (${shortSha(result.headCommit)}) against ${values.base ?? 'HEAD'} (${shortSha(result.baseCommit)}), ${runsPerSideText(config)}, interleaved`];
  if (result.sameTree) out.push('A/A: head and base hold the same files, so the delta is your benchmark\'s own noise; a verdict other than no-change here is a false one');
  const j = m.judgement;
  if (j) {
    out.push(
      `${config.metric.name} (${config.metric.goal}): baseline ${formatNumber(j.baseline.mean, 6)} → candidate ${formatNumber(j.candidate.mean, 6)}`,
      `delta ${formatNumber(j.delta, 4)} (${formatPercent(j.deltaRelative)}); min_effect ${formatEffect(config.metric.min_effect)}`,
      formatInterval(j.interval, DELTA_INTERVAL),
    );
    for (const guard of j.guards) {
      out.push(`guard ${guard.name}: ${formatNumber(guard.baseline)} → ${formatNumber(guard.candidate)} (${guard.held ? 'held' : 'REGRESSED'})`);
    }
    out.push(`verdict: ${j.verdict}${j.suspicious ? ' (suspicious: needs a human)' : ''}`, ...j.reasons.map((r) => `  ${r}`));
    if (result.sameTree) out.push(...noiseLines(result.configured, j.baseline.samples, j.candidate.samples));
  } else {
    out.push(`verdict: invalid — ${m.scopeViolations.length ? describeViolations(m.scopeViolations) : m.reason}`);
  }
  out.push(`traces: ${relative(result.repo, result.traceDir)}/`);
  io.stdout.write(`${out.join('\n')}\n`);
  return io.signal?.aborted ? EXIT.interrupted : valid ? EXIT.ok : EXIT.failed;
}

/** What an A/A measurement says about the benchmark's noise, and the smallest effect each way of measuring finds. */
function describeProposer(config: Config): string {
  const { kind, tune, llm, command } = config.proposer;
  if (kind === 'tune' && tune) return `tune over ${Object.keys(tune.params).join(', ')} in ${tune.file}`;
  if (kind === 'llm' && llm) return `llm (${llm.provider} ${llm.model}, up to ${plural(llm.max_attempts, 'attempt')}, key from $${apiKeyVariable(llm)})`;
  if (kind === 'command' && command) return `command (${command.run}, timeout ${formatDuration(command.timeout)})`;
  return kind;
}

function describeSandbox(config: Config): string {
  if (config.sandbox === 'none') return 'none: setup, check and command run unsandboxed, and every output says so';
  const network = config.evaluate.network ? 'network allowed' : 'no network';
  return `${config.sandbox} (bubblewrap on Linux): setup, check and command see the host read-only and write only their worktree; ${network}; environment: PATH, LANG, TZ, … ${config.evaluate.env.length ? `and ${config.evaluate.env.join(', ')}` : 'only'}`;
}

async function commandValidate(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, COMMON);
  if (values.help) return help(io);
  const root = await repoRoot(io.cwd).catch(() => io.cwd);
  const path = resolve(root, values.config ?? CONFIG_PATH);
  const { config, file } = await loadConfigFile(path, relative(root, path) || path);
  // What only the repository can tell (files, the tuned keys, the programs), before anything is measured.
  const findings = (await isGitRepo(root)) ? await checkConfigInRepository(root, config, file) : [];
  const errors = findings.filter((finding) => finding.level === 'error').map((finding) => `${file}: ${finding.key}: ${finding.message}`);
  const warnings = [...configWarnings(config), ...findings.filter((finding) => finding.level === 'warning').map((finding) => `${finding.key}: ${finding.message}`)];
  if (values.json) {
    json(io, { valid: errors.length === 0, file, config, warnings, errors });
    return errors.length === 0 ? EXIT.ok : EXIT.config;
  }
  for (const warning of warnings) io.stderr.write(`Warning: ${warning}\n`);
  if (errors.length > 0) {
    io.stderr.write(`autoloop validate: ${file} cannot run in this repository:\n${errors.map((error) => `  ${error}`).join('\n')}\n`);
    return EXIT.config;
  }
  io.stdout.write(
    [
      `${file} is valid.`,
      `  metric:   ${config.metric.name}, ${config.metric.goal}, keep when better by more than ${formatEffect(config.metric.min_effect)} (suspicious beyond ${formatEffect(config.metric.suspicious_effect)})`,
      ...config.guards.map((g) => `  guard:    ${g.name}, ${g.goal}, may regress at most ${formatEffect(g.max_regression)}`),
      `  evaluate: ${config.evaluate.command} (timeout ${formatDuration(config.evaluate.timeout)}, ${runsPerSideText(config)})`,
      `  scope:    edit ${config.scope.edit.join(', ')}; protect ${['.github/**', ...config.scope.protect].join(', ')}`,
      `  proposer: ${describeProposer(config)}`,
      `  budget:   ${plural(config.budget.experiments, 'experiment')}${config.budget.parallel > 1 ? `, ${config.budget.parallel} at a time (the App; here ${localParallel(config) > 1 ? 'too' : 'one at a time: evaluate.load_sensitive is not false'})` : ''}, stop after ${plural(config.budget.max_failures, 'failure')} in a row${config.budget.wall_time ? `, wall time ${formatDuration(config.budget.wall_time)}` : ''}`,
      `  sandbox:  ${describeSandbox(config)}`,
      `  metric source: ${metricSource(config)}`,
      ...(config.evaluate.score
        ? [`  score:    ${config.evaluate.score} reports the metrics, run after each command apart from it with the worktree read-only; command's own METRIC lines are not read`]
        : []),
      ...inProcessNote(config).map((note) => `  note:     ${note}`),
    ].join('\n') + '\n',
  );
  return EXIT.ok;
}

/** The run directory named by RUN_DIR or `--tag`, else the latest run's. */
async function findRunDir(positional: string | undefined, tag: string | undefined, io: CliIO): Promise<string> {
  let dir = positional ? resolve(io.cwd, positional) : null;
  if (!dir) {
    const root = await repoRoot(io.cwd).catch(() => io.cwd);
    dir = tag ? join(root, RUNS_DIR, tag) : await latestRunDir(join(root, RUNS_DIR));
  }
  if (!dir || !existsSync(join(dir, 'ledger.jsonl'))) {
    throw new RunSetupError(`no ledger found${dir ? ` in ${dir}` : ` under ${RUNS_DIR}/`}: pass a run directory, or run autoloop run first`);
  }
  return dir;
}

/** A ledger's verification: its hash chain, then (when that holds) the kept commits in the run's repository against it. */
interface RunVerification {
  verification: LedgerVerification;
  /** Null when the chain is broken (nothing more to learn). */
  kept: KeptCommitsCheck | null;
}

async function verifyRun(dir: string, text: string, file: string): Promise<RunVerification> {
  const chain = verifyLedger(text, file);
  if (!chain.ok) return { verification: chain, kept: null };
  const kept = await checkKeptCommits(dir, text, file);
  return { verification: kept.checked && !kept.verification.ok ? kept.verification : chain, kept };
}

/** What `verify` prints: the count and head hash (and what the kept commits say), or the first altered line as `file:line: problem`. */
function verificationLines({ verification: v, kept }: RunVerification): string {
  if (!v.ok) {
    if (v.kind === 'rechained') {
      return `${v.file}:${v.line}: ${v.problem}\nThe ledger was altered after it was written and its hash chain rebuilt (rechained): the kept commits autoloop wrote on the run branch say otherwise.\n`;
    }
    return `${v.file}:${v.line}: ${v.problem}\nThe ledger was altered after it was written (${v.kind}); the records before line ${v.line} are as written.\n`;
  }
  const lines = [`${v.file}: hash chain intact, ${plural(v.records, 'record')}, head ${v.head}`];
  if (v.truncatedTail) lines.push('Its last line was cut short by a crash mid-write (not tampering): autoloop run --resume removes it.');
  // Outside any repository (a copy of a ledger) the chain is all there is, and nothing more is said.
  if (kept && !kept.checked && !kept.outside) lines.push(`Kept commits not checked: ${kept.reason}.`);
  if (kept?.checked && kept.verification.ok) {
    const { checked, withoutTrailer } = kept.verification;
    const where = kept.present ? `on ${kept.branch}` : `(found by id: branch ${kept.branch} is gone)`;
    if (checked > 0) lines.push(`Kept commits: ${checked} ${where} recorded the ledger's head (${LEDGER_TRAILER} trailer), and it matches.`);
    if (withoutTrailer > 0) lines.push(`Kept commits: ${withoutTrailer} without a ${LEDGER_TRAILER} trailer (an older autoloop): the hash chain alone covers their records.`);
  }
  return `${lines.join('\n')}\n`;
}

async function commandVerify(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { json: COMMON.json, help: COMMON.help, tag: { type: 'string' } }, 1);
  if (values.help) return help(io);
  const dir = await findRunDir(positionals[0], values.tag, io);
  const { ledger } = runPaths(dir);
  const checked = await verifyRun(dir, await readFile(ledger, 'utf8'), values.json ? ledger : relative(io.cwd, ledger) || ledger);
  const { verification } = checked;
  if (values.json) json(io, verification.ok && checked.kept ? { ...verification, keptCommits: checked.kept } : verification);
  else io.stdout.write(verificationLines(checked));
  return verification.ok ? EXIT.ok : EXIT.tampered;
}

async function commandReport(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, tag: { type: 'string' }, chart: { type: 'string' }, verify: { type: 'boolean' } }, 1);
  if (values.help) return help(io);
  const dir = await findRunDir(positionals[0], values.tag, io);
  const paths = runPaths(dir);
  const text = await readFile(paths.ledger, 'utf8');
  const checked = await verifyRun(dir, text, relative(io.cwd, paths.ledger) || paths.ledger);
  const { verification } = checked;
  if (!verification.ok) {
    if (values.verify) {
      if (values.json) json(io, { verify: verification });
      else io.stderr.write(verificationLines(checked));
      return EXIT.tampered;
    }
    // Without --verify the report still shows what the ledger says now, but never silently.
    io.stderr.write(`Warning: ${verification.file}:${verification.line}: ${verification.problem} (autoloop verify for details)\n`);
  } else if (values.verify && !values.json) {
    io.stderr.write(verificationLines(checked));
  }
  const ledger = parseLedger(text, paths.ledger, { verify: false });
  const chartFile = values.chart ? resolve(io.cwd, values.chart) : paths.chart;
  await writeFile(chartFile, renderProgressChart(ledger.run, ledger.experiments));
  if (values.json) {
    json(io, { run: ledger.run, summary: summarizeRun(ledger.run, ledger.experiments, ledger.confirmation), stop: ledger.stop, chart: chartFile, ...(values.verify ? { verify: verification } : {}) });
  } else {
    io.stdout.write(renderMarkdownReport(ledger.run, ledger.experiments, { chartPath: relative(dir, chartFile), confirmation: ledger.confirmation }));
    io.stderr.write(`Chart written to ${chartFile}\n`);
  }
  return EXIT.ok;
}

async function commandDemo(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, { json: COMMON.json, help: COMMON.help, dir: { type: 'string' }, experiments: { type: 'string' } });
  if (values.help) return help(io);
  const dir = await prepareDemoRepo(values.dir ? resolve(io.cwd, values.dir) : undefined);
  if (!values.json) io.stderr.write(`Demo repository: ${dir} (a copy of examples/mlp; your files are not touched)\n`);
  const code = await commandRun(['--tag', 'demo', ...(values.experiments ? ['--experiments', values.experiments] : []), ...(values.json ? ['--json'] : [])], { ...io, cwd: dir }, 'absolute');
  if (!values.json) {
    const paths = runPaths(join(dir, RUNS_DIR, 'demo'));
    const ledger = await readLedger(paths.ledger);
    io.stdout.write(`\n${renderMarkdownReport(ledger.run, ledger.experiments, { confirmation: ledger.confirmation })}\nFiles of the run are in ${paths.dir}\n`);
  }
  return code;
}

async function commandClean(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, { json: COMMON.json, help: COMMON.help, runs: { type: 'boolean' }, 'dry-run': { type: 'boolean' } });
  if (values.help) return help(io, 'clean');
  const result = await clean({ cwd: io.cwd, runs: values.runs, dryRun: values['dry-run'] });
  if (values.json) {
    json(io, result);
    return EXIT.ok;
  }
  const verb = result.dryRun ? 'Would remove' : 'Removed';
  const lines = result.removed.length === 0 ? ['Nothing to remove.'] : result.removed.map((e) => `${verb} ${e.path} (${e.detail})`);
  lines.push(...result.kept.map((e) => `Kept ${e.path}: ${e.detail}`));
  if (result.repo) {
    lines.push(`Ledgers are kept (the audit trail), and so are the run branches${values.runs ? '' : '; --runs also removes the runs\' traces'}.`);
  }
  io.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

/** The global usage, or `command`'s own help. */
function help(io: CliIO, command?: string): number {
  io.stdout.write((command && COMMAND_HELP[command]) || USAGE);
  return EXIT.ok;
}

/** True when `args` ask for help (`--help`, `-h`) before any `--`. */
function asksHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

async function version(io: CliIO): Promise<number> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  io.stdout.write(`${pkg.version}\n`);
  return EXIT.ok;
}

const COMMANDS: Record<string, (args: string[], io: CliIO) => Promise<number>> = {
  run: commandRun,
  eval: commandEval,
  init: commandInit,
  validate: commandValidate,
  report: commandReport,
  verify: commandVerify,
  demo: commandDemo,
  clean: commandClean,
  sentinel: commandSentinel,
};

function defaultIO(): CliIO {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    // First Ctrl-C stops cleanly (the ledger stays consistent); a second one leaves at once.
    if (++interrupts > 1) process.exit(EXIT.interrupted);
    process.stderr.write('\nStopping after killing the running command (Ctrl-C again to quit at once)…\n');
    controller.abort();
  });
  process.on('SIGTERM', () => controller.abort());
  // A reader that leaves (`| head -n 1`) is not an error: stdout's stops the command cleanly (see commandRun), stderr's only its lines.
  const closed = { stdout: false, stderr: false };
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      if (closed[name]) return;
      closed[name] = true;
      if (name === 'stdout') controller.abort();
    });
  }
  const wrap = (name: 'stdout' | 'stderr'): Output => ({
    write: (text) => void (closed[name] || process[name].write(text)),
    isTTY: Boolean(process[name].isTTY),
    // Read at each use: a resized terminal gets lines of its new width.
    get columns() {
      return process[name].columns;
    },
  });
  return { stdout: wrap('stdout'), stderr: wrap('stderr'), cwd: process.cwd(), signal: controller.signal, readerClosed: () => closed.stdout };
}

/** The `autoloop` command. Returns the exit code. */
export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h') return help(io);
  if (command === 'help') {
    const [topic] = args;
    if (topic === undefined || COMMAND_HELP[topic]) return help(io, topic);
    // A command without help of its own here answers --help itself.
    if (!COMMANDS[topic]) {
      io.stderr.write(`autoloop: unknown command ${JSON.stringify(topic)}\n\n${USAGE}`);
      return EXIT.usage;
    }
    return main([topic, '--help'], io);
  }
  if (command === '--version' || command === '-v') return version(io);
  if (COMMAND_HELP[command] && asksHelp(args)) return help(io, command);
  const handler = COMMANDS[command];
  if (!handler) {
    io.stderr.write(`autoloop: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await handler(args, io);
  } catch (error) {
    if (!(error instanceof AutoloopError)) {
      io.stderr.write(`autoloop ${command}: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
      return EXIT.error;
    }
    const detail =
      error instanceof UsageError
        ? `${error.message}\nRun autoloop ${command} --help for usage.`
        : error.exitCode === EXIT.config
          ? `invalid config\n${error.message}`
          : error.message;
    io.stderr.write(`autoloop ${command}: ${detail}\n`);
    return error.exitCode;
  }
}
