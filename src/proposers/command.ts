/**
 * The `command` proposer: runs any agent CLI (`claude -p`, `codex exec`, `aider --message-file`) in
 * the candidate worktree, with the prompt in the file named by `$AUTOLOOP_PROMPT_FILE`. Whatever the
 * agent changes inside the scope is the proposal; whatever it changes outside is reverted and
 * reported in the notes.
 *
 * The agent runs like the evaluator: `/bin/sh -c` in the sandbox `config.sandbox` asks for (only the
 * candidate worktree writable; the user's repository, its `.git`, the trace and the user's home out of
 * sight; its own PID namespace), its own process group, a hard time budget (`proposer.command.timeout`),
 * the environment by allowlist (PATH, LANG, LC_ALL, LC_CTYPE, TZ, TERM, what `proposer.command.env`
 * names, private HOME and TMPDIR, autoloop's AUTOLOOP_* variables), and bounded output that is
 * redacted before it reaches the trace (`agent.log`) or the hypothesis. Unlike the evaluator it keeps
 * the network ({@link AGENT_NETWORK}): an agent calls its model. Its git is a throw-away repository of
 * its own (`$GIT_DIR`, see agent-repository.ts), never the user's `.git`.
 */
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_PATH, type Config } from '../core/config/config-schema.js';
import { buildProposalPrompt } from '../core/propose/prompt.js';
import { checkScope, protectedPatterns, scopeRules, type FileChange, type ScopeRules } from '../core/scope/scope.js';
import { allowlistEnvironment, createRedactor, redactedNames } from '../core/env/secrets.js';
import { formatDuration } from '../core/config/units.js';
import { git } from '../engine/git.js';
import { runCommand, type CommandResult } from '../engine/process.js';
import { isolationLabel, linkedRepositoryPaths, privateDirectories, resolveSandbox, sandboxInvocation, SANDBOX_RUN_DIR, type ResolveSandboxOptions, type SandboxBind } from '../engine/sandbox.js';
import { ProposalError, ProposerConfigError, type Proposal, type ProposalContext, type Proposer } from '../core/propose/proposer.js';
import { headOf, restoreHead, revert, revertOutOfScope, splitNul, summarisePaths, worktreeChanges } from './agent-changes.js';
import { createAgentRepository } from './agent-repository.js';

/**
 * A file the agent may write in the worktree root: its first line is the hypothesis. autoloop reads
 * and deletes it before anything is committed (unless the repository tracks a file of that name).
 */
export const HYPOTHESIS_FILE = 'AUTOLOOP_HYPOTHESIS';
/** Token budget of the prompt file: the agent can read more of the repository itself. */
export const AGENT_PROMPT_TOKENS = 60_000;
/** Longest hypothesis taken from the agent, in characters. */
export const MAX_HYPOTHESIS_LENGTH = 120;
/** Largest editable file quoted in the prompt; bigger ones are left for the agent to read. */
const MAX_QUOTED_FILE_BYTES = 512 * 1024;
/**
 * The agent keeps the host's network inside its sandbox: it has to reach its model's API. Everything
 * else of the sandbox holds (files, processes, environment); `agent.log` says the network was allowed.
 */
export const AGENT_NETWORK = true;
/** `$AUTOLOOP_PROMPT_FILE` inside the sandbox: the prompt, bound read-only. */
export const SANDBOX_PROMPT_FILE = `${SANDBOX_RUN_DIR}/prompt.md`;
/** `$GIT_DIR` inside the sandbox: the agent's throw-away repository (see agent-repository.ts), writable. */
export const SANDBOX_AGENT_GIT_DIR = `${SANDBOX_RUN_DIR}/agent-git`;

const HYPOTHESIS_NOTE = `Instead of the final HYPOTHESIS line you may write that one line to a file named ${HYPOTHESIS_FILE} in the root of the working directory; autoloop reads it and removes it before committing.`;

export interface CommandProposerOptions {
  /** The config file's path in the repository, always protected. Default `.github/autoloop.yml`. */
  configFile?: string;
  /** The environment the agent's is made from (secrets withheld) and whose secrets are redacted. Default `process.env`, read at each proposal. */
  env?: NodeJS.ProcessEnv;
  /** Token budget of the prompt. Default {@link AGENT_PROMPT_TOKENS}. */
  budgetTokens?: number;
  /** Milliseconds between SIGTERM and SIGKILL at the timeout. Default 2000. */
  graceMs?: number;
  /** Directories the agent must not see, besides the worktree's repository (read from its `.git`), the trace and the user's home. */
  hide?: readonly string[];
  /** Further paths bound into the agent's sandbox (a test's scripts); nothing by default. */
  binds?: readonly SandboxBind[];
  /** Which bwrap to use and where to look for it; default `bwrap` on `env`'s PATH. */
  sandbox?: Omit<ResolveSandboxOptions, 'env'>;
}

/** The `command` proposer never runs out of ideas: it proposes, or fails with a {@link ProposalError}. */
export interface CommandProposer extends Proposer {
  propose(context: ProposalContext): Promise<Proposal>;
}

/**
 * Creates the `command` proposer from a validated config (`proposer.command` must be present).
 *
 * Each proposal: builds the prompt (instructions file, goal, history, file tree, editable files) into a
 * temporary file outside the worktree, runs `proposer.command.run` in the worktree with
 * `AUTOLOOP_PROMPT_FILE`, `AUTOLOOP_EXPERIMENT` and `AUTOLOOP_HYPOTHESIS_FILE` set, undoes any commit
 * the agent made (its changes stay in the files), reverts every change outside the scope, and returns
 * the rest as the proposal. A timeout, a non-zero exit, no change inside the scope, or a changed file
 * holding the value of a secret-named variable is a {@link ProposalError}, with the worktree restored
 * to its commit; an agent command the shell cannot find (exit 127) is a {@link ProposerConfigError}.
 */
export function createCommandProposer(config: Config, options: CommandProposerOptions = {}): CommandProposer {
  const command = config.proposer.command;
  if (!command) throw new ProposerConfigError(`${options.configFile ?? CONFIG_PATH}: proposer.command is missing; add a \`command\` section with \`run\``);
  const rules = scopeRules(config, options.configFile ?? CONFIG_PATH);
  // Read from a worktree's `.git` the first time, before any agent ran there and could rewrite it.
  const repositories = new Map<string, string[]>();
  return {
    kind: 'command',
    async propose(context: ProposalContext): Promise<Proposal> {
      context.signal?.throwIfAborted();
      const baseEnv = options.env ?? process.env;
      const sandbox = await resolveSandbox(config.sandbox, { env: baseEnv, ...options.sandbox });
      const redact = createRedactor(baseEnv);
      const { worktree } = context;
      const head = await headOf(worktree);
      const tracked = new Set(splitNul(await git(worktree, ['ls-files', '-z'])));

      const prompt = await agentPrompt(context, rules, [...tracked], options.budgetTokens ?? AGENT_PROMPT_TOKENS);
      if (context.trace) await writeFile(path.join(context.trace, 'prompt.md'), redact(prompt.text));

      const promptDir = await mkdtemp(path.join(tmpdir(), 'autoloop-agent-'));
      const promptFile = path.join(promptDir, 'prompt.md');
      let result: CommandResult;
      const allowed = allowlistEnvironment(baseEnv, command.env);
      if (!repositories.has(worktree)) repositories.set(worktree, linkedRepositoryPaths(worktree));
      const dirs = await privateDirectories(sandbox !== null);
      const named = new Set(command.env);
      const agentRepository = await createAgentRepository(worktree, head.commit);
      try {
        await writeFile(promptFile, prompt.text, { mode: 0o600 });
        const invocation = sandbox
          ? sandboxInvocation(sandbox, {
            worktree,
            network: AGENT_NETWORK,
            hide: [...(options.hide ?? []), ...repositories.get(worktree)!, ...(context.trace ? [context.trace] : [])],
            binds: [
              { source: promptFile, target: SANDBOX_PROMPT_FILE, writable: false },
              { source: agentRepository.gitDir, target: SANDBOX_AGENT_GIT_DIR, writable: true },
              ...(options.binds ?? []),
            ],
          })
          : undefined;
        result = await runCommand({
          command: command.run,
          cwd: worktree,
          env: {
            ...allowed.env,
            ...((named.has('HOME') && !sandbox) ? {} : { HOME: dirs.env.HOME }),
            ...((named.has('TMPDIR') && !sandbox) ? {} : { TMPDIR: dirs.env.TMPDIR }),
            AUTOLOOP_PROMPT_FILE: invocation ? SANDBOX_PROMPT_FILE : promptFile,
            // The agent's git is its own repository, never the user's `.git` (which the sandbox hides anyway).
            GIT_DIR: invocation ? SANDBOX_AGENT_GIT_DIR : agentRepository.gitDir,
            AUTOLOOP_EXPERIMENT: String(context.experiment),
            AUTOLOOP_HYPOTHESIS_FILE: path.join(worktree, HYPOTHESIS_FILE),
          },
          timeoutMs: command.timeout,
          graceMs: options.graceMs,
          signal: context.signal,
          ...(invocation ? { sandbox: invocation } : {}),
        });
      } finally {
        await rm(promptDir, { recursive: true, force: true });
        await Promise.all([dirs.dispose(), agentRepository.dispose()]);
      }
      const stdout = redact(result.stdout);
      const stderr = redact(result.stderr);
      const isolation = sandbox ? `${isolationLabel(config.sandbox, AGENT_NETWORK)} (the agent calls its model)` : isolationLabel('none', false);
      if (context.trace) await writeFile(path.join(context.trace, 'agent.log'), agentLog(redact(command.run), result, stdout, stderr, allowed, command.env, isolation));

      await restoreHead(worktree, head);
      const fileHypothesis = tracked.has(HYPOTHESIS_FILE) ? null : await takeHypothesisFile(worktree);
      const changes = await worktreeChanges(worktree);
      const { outcome } = result;
      const base = {
        exitCode: outcome.exitCode,
        ...(outcome.signal ? { signal: outcome.signal } : {}),
        durationMs: Math.round(outcome.durationMs),
        timedOut: outcome.timedOut,
        promptTokens: prompt.tokens,
        ...(prompt.omitted.length > 0 ? { omitted: prompt.omitted } : {}),
      };

      const failure = failureOf(result, command.timeout, stderr || stdout);
      if (failure) {
        await revert(worktree, changes);
        if (result.aborted) throw context.signal?.reason ?? new Error('aborted');
        const notes = { ...base, changed: changes.map((change) => redact(change.path)), reverted: [] };
        if (failure.config) throw new ProposerConfigError(failure.message);
        throw new ProposalError(failure.message, notes);
      }

      const reverted = await revertOutOfScope(worktree, changes, rules);
      const inScope = await worktreeChanges(worktree);
      const changed = inScope.map((change) => change.path);
      // Paths are names the agent chose: they are redacted like everything else it wrote.
      const notes = { ...base, changed: changed.map(redact), reverted: reverted.map(({ path, change, rule, pattern }) => ({ path: redact(path), change, rule, pattern })) };
      const leaks = await secretsWritten(worktree, inScope, redact);
      if (leaks.length > 0) {
        await revert(worktree, inScope);
        const where = leaks.map((leak) => `${leak.names.join(', ')} in ${redact(leak.path)}`).join('; ');
        throw new ProposalError(`the agent wrote the value of a secret into the proposal (${where}); everything it changed was reverted`, { ...notes, secretsIn: leaks.map((leak) => redact(leak.path)) });
      }
      if (changed.length === 0) {
        const outside = reverted.length > 0 ? ` (it changed only paths outside the scope, all reverted: ${redact(summarisePaths(reverted.map((v) => v.path)))})` : '';
        throw new ProposalError(`the agent \`${redact(command.run)}\` changed nothing inside the scope${outside}`, notes);
      }
      const hypothesis = cleanHypothesis(fileHypothesis !== null ? redact(fileHypothesis) : null) ?? hypothesisFromOutput(stdout) ?? `agent edit of ${summarisePaths(changed)}`;
      return { hypothesis, notes };
    },
  };
}

/** The prompt file's text: the shared prompt in its `agent` format, system part first. */
async function agentPrompt(context: ProposalContext, rules: ScopeRules, fileTree: string[], budgetTokens: number): Promise<{ text: string; tokens: number; omitted: string[] }> {
  const { worktree, config } = context;
  const editablePaths = fileTree.filter((file) => checkScope([{ change: 'modified', path: file }], rules).length === 0);
  const editable: { path: string; text: string }[] = [];
  for (const file of editablePaths) {
    const text = await readQuotable(path.join(worktree, file));
    if (text !== null) editable.push({ path: file, text });
  }
  const instructions = await readQuotable(path.join(worktree, config.proposer.instructions));
  const built = buildProposalPrompt({
    instructions,
    goal: context.goal ?? null,
    history: context.history,
    metric: { name: config.metric.name, goal: config.metric.goal },
    fileTree,
    editable,
    scopeSummary: `edit: ${rules.edit.join(', ')} — protected: ${protectedPatterns(rules).join(', ')}`,
    budgetTokens,
    format: 'agent',
  });
  const text = `${built.system}\n${HYPOTHESIS_NOTE}\n\n${built.user}\n`;
  return { text, tokens: built.tokens + Math.ceil(HYPOTHESIS_NOTE.length / 4), omitted: built.omitted };
}

/** A text file's content, or null when it is missing, binary, or too big to quote. */
async function readQuotable(file: string): Promise<string | null> {
  try {
    const stat = await lstat(file);
    if (!stat.isFile() || stat.size > MAX_QUOTED_FILE_BYTES) return null;
    const bytes = await readFile(file);
    return bytes.includes(0) ? null : bytes.toString('utf8');
  } catch {
    return null;
  }
}

/**
 * The changed files whose content or path now holds the value of a secret-named variable of autoloop's
 * environment, literally or encoded (base64, hex, percent-encoded: whatever the redactor finds), with
 * those names: such a proposal would put the secret in a commit.
 */
async function secretsWritten(worktree: string, changes: readonly FileChange[], redact: (text: string) => string): Promise<{ path: string; names: string[] }[]> {
  const leaks: { path: string; names: string[] }[] = [];
  for (const change of changes) {
    if (change.change === 'deleted') continue;
    let text = '';
    try {
      text = await readFile(path.join(worktree, change.path), 'utf8');
    } catch {
      // Unreadable (a directory, a dangling link): only its path is checked.
    }
    const before = new Set([...redactedNames(text), ...redactedNames(change.path)]);
    const names = [...new Set([...redactedNames(redact(text)), ...redactedNames(redact(change.path))])].filter((name) => !before.has(name));
    if (names.length > 0) leaks.push({ path: change.path, names });
  }
  return leaks;
}

/** Reads and deletes the hypothesis file the agent may have written; null when there is none. */
async function takeHypothesisFile(worktree: string): Promise<string | null> {
  const file = path.join(worktree, HYPOTHESIS_FILE);
  try {
    if (!(await lstat(file)).isFile()) return null;
    const text = await readFile(file, 'utf8');
    await rm(file, { force: true });
    return text;
  } catch {
    return null;
  }
}

/** Why the agent's run is a failure, or null when it succeeded. */
function failureOf(result: CommandResult, timeoutMs: number, output: string): { message: string; config?: boolean } | null {
  const { outcome } = result;
  const command = `the agent command`;
  const last = lastLine(output);
  const said = last ? `: ${truncate(last, 300)}` : '';
  if (result.aborted) return { message: `${command} was interrupted` };
  if (result.startError) return { message: `${command} could not be started: ${result.startError}` };
  if (outcome.timedOut) return { message: `${command} timed out after ${formatDuration(timeoutMs)} (proposer.command.timeout)${said}` };
  if (outcome.exitCode === 127) return { message: `${command} was not found (exit code 127)${said}; install the agent CLI or fix proposer.command.run`, config: true };
  if (outcome.exitCode !== 0) {
    const how = outcome.exitCode === null ? `was killed by ${outcome.signal ?? 'a signal'}` : `exited with code ${outcome.exitCode}`;
    return { message: `${command} ${how}${said}` };
  }
  return null;
}

/** One line, without control characters, at most {@link MAX_HYPOTHESIS_LENGTH} characters; null when empty. */
function cleanHypothesis(text: string | null): string | null {
  if (text === null) return null;
  const line = text
    .split('\n')
    .map((l) => l.replace(/^\s*HYPOTHESIS:\s*/i, '').replace(/[\p{Cc}\s]+/gu, ' ').trim())
    .find((l) => l !== '');
  return line ? truncate(line, MAX_HYPOTHESIS_LENGTH) : null;
}

/** The agent's last `HYPOTHESIS:` line, else its last non-empty output line. */
function hypothesisFromOutput(stdout: string): string | null {
  const lines = stdout.split(/\r?\n/);
  const marked = lines.findLast((line) => /^\W*HYPOTHESIS:/i.test(line));
  return cleanHypothesis(marked?.replace(/^\W*HYPOTHESIS:/i, '') ?? lastLine(stdout));
}

function lastLine(text: string): string | null {
  return text.split(/\r?\n/).findLast((line) => line.trim() !== '')?.trim() ?? null;
}

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function agentLog(
  run: string,
  result: CommandResult,
  stdout: string,
  stderr: string,
  environment: { withheld: readonly string[]; secretWithheld: readonly string[] },
  allowed: readonly string[],
  isolation: string,
): string {
  const { withheld, secretWithheld } = environment;
  const { outcome } = result;
  const ended = outcome.timedOut
    ? `timed out (${outcome.signal ?? 'killed'})`
    : outcome.exitCode !== null ? `exit code ${outcome.exitCode}` : `killed by ${outcome.signal ?? 'a signal'}`;
  return [
    `$ ${run}`,
    `${ended} after ${formatDuration(outcome.durationMs)}${outcome.droppedBytes > 0 ? `, ${outcome.droppedBytes} bytes of output dropped` : ''}`,
    `sandbox: ${isolation}`,
    `environment: by allowlist, ${withheld.length} variable(s) withheld, ${secretWithheld.length} of them secret-named${secretWithheld.length > 0 ? ` (${secretWithheld.join(', ')})` : ''}; passed by proposer.command.env: ${allowed.length > 0 ? allowed.join(', ') : 'none'}`,
    '',
    '--- stdout ---',
    stdout.trimEnd(),
    '',
    '--- stderr ---',
    stderr.trimEnd(),
    '',
  ].join('\n');
}
