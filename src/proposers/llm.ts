/**
 * The `llm` proposer: a model API writes the change. It is shown the instructions file, the goal, the
 * run's ledger, the file tree and the editable files (see core/prompt.ts), answers with a hypothesis and
 * search/replace blocks (see core/edits.ts), and gets the error back when its edits do not apply, leave
 * the scope or fail `evaluate.check`, up to `max_attempts` answers.
 *
 * Providers are reached only through their SDKs (`openai` for any OpenAI-compatible chat API,
 * `@anthropic-ai/sdk`), which retry 429 and 5xx answers with backoff. The API key is read from the one
 * variable `api_key_env` names and is handed to the SDK only: it is never written, and everything this
 * proposer writes (prompt, answers, errors) goes through the redactor first. The provider's SDK is imported at the
 * first request, so that nothing else parses it (the Action's bundle keeps each SDK in a chunk of its own).
 */
import { lstat, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import type Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { CONFIG_PATH, type Config, type LlmConfig } from '../core/config/config-schema.js';
import { applyEdits, parseAnswer } from '../core/propose/edits.js';
import { buildProposalPrompt, dataBlock } from '../core/propose/prompt.js';
import { checkScope, describeViolations, protectedPatterns, scopeRules, type FileChange, type ScopeRules } from '../core/scope/scope.js';
import { createRedactor, leakedSecretNames } from '../core/env/secrets.js';
import { Evaluator } from '../engine/evaluator.js';
import { git } from '../engine/git.js';
import { ProposalError, ProposerConfigError, type Proposal, type ProposalContext, type Proposer } from '../core/propose/proposer.js';

/** Editable files larger than this are not read into the prompt (nor editable by search/replace). */
export const MAX_EDITABLE_BYTES = 512 * 1024;
/** Characters of `evaluate.check` output sent back to the model after a failed check. */
export const CHECK_OUTPUT_CHARS = 4_000;

export interface LlmProposerOptions {
  /** Where the API key is read from (only the variable `api_key_env` names) and what `evaluate.check` starts from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds, for `latency_ms` in the notes (time spent waiting for the model); default `performance.now`. */
  clock?: () => number;
  /** SDK retries of 429, 5xx and connection errors, with the SDK's backoff (it honours `retry-after`); default 4. */
  maxRetries?: number;
  /** Time limit of one API request; default 10 minutes. */
  timeoutMs?: number;
  /** The config file, protected like the instructions; default `.github/autoloop.yml`. */
  configFile?: string;
}

interface Turn {
  role: 'user' | 'assistant';
  content: string;
}

interface Completion {
  text: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

type Complete = (system: string, turns: readonly Turn[], signal?: AbortSignal) => Promise<Completion>;

/** The variable holding the key: `api_key_env`, else the provider's usual one. */
export function apiKeyVariable(llm: LlmConfig): string {
  return llm.api_key_env ?? (llm.provider === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY');
}

/** The provider's SDK module, imported at the first request (and its error classes with it). */
function providerSdk(provider: LlmConfig['provider']): Promise<typeof import('openai') | typeof import('@anthropic-ai/sdk')> {
  return provider === 'openai' ? import('openai') : import('@anthropic-ai/sdk');
}

function openAiComplete(llm: LlmConfig, apiKey: string, options: Required<Pick<LlmProposerOptions, 'maxRetries' | 'timeoutMs'>>): Complete {
  let client: OpenAI | null = null;
  return async (system, turns, signal) => {
    client ??= new (await import('openai')).default({ apiKey, baseURL: llm.base_url, maxRetries: options.maxRetries, timeout: options.timeoutMs });
    const response = await client.chat.completions.create(
      {
        model: llm.model,
        messages: [{ role: 'system', content: system }, ...turns],
        // OpenAI's own API wants max_completion_tokens (its reasoning models refuse max_tokens); compatible servers know max_tokens.
        ...(llm.base_url ? { max_tokens: llm.max_output_tokens } : { max_completion_tokens: llm.max_output_tokens }),
        ...(llm.temperature !== undefined ? { temperature: llm.temperature } : {}),
      },
      { signal },
    );
    return {
      text: response.choices[0]?.message.content ?? '',
      model: response.model || llm.model,
      inputTokens: response.usage?.prompt_tokens ?? 0,
      outputTokens: response.usage?.completion_tokens ?? 0,
    };
  };
}

function anthropicComplete(llm: LlmConfig, apiKey: string, options: Required<Pick<LlmProposerOptions, 'maxRetries' | 'timeoutMs'>>): Complete {
  let client: Anthropic | null = null;
  return async (system, turns, signal) => {
    client ??= new (await import('@anthropic-ai/sdk')).default({ apiKey, maxRetries: options.maxRetries, timeout: options.timeoutMs, ...(llm.base_url ? { baseURL: llm.base_url } : {}) });
    const response = await client.messages.create(
      {
        model: llm.model,
        system,
        max_tokens: llm.max_output_tokens,
        messages: turns.map((turn) => ({ role: turn.role, content: turn.content })),
        ...(llm.temperature !== undefined ? { temperature: Math.min(1, llm.temperature) } : {}),
      },
      { signal },
    );
    const text = response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    return { text, model: response.model || llm.model, inputTokens: response.usage.input_tokens, outputTokens: response.usage.output_tokens };
  };
}

/** The tracked files of a worktree (and untracked, not ignored ones), sorted. */
async function listFiles(worktree: string): Promise<string[]> {
  const out = await git(worktree, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  return [...new Set(out.split('\0').filter((path) => path !== ''))].sort();
}

/** `path` inside `root`, or an error: a path from a model never escapes the worktree. */
function inside(root: string, path: string): string {
  const full = resolve(root, path);
  if (!full.startsWith(resolve(root) + sep)) throw new ProposalError(`${path} is outside the worktree`);
  return full;
}

/** A regular file's bytes (not through a symlink, which could point out of the worktree), or null. */
async function readRegular(root: string, path: string, maxBytes = Infinity): Promise<Buffer | null> {
  const full = inside(root, path);
  const stat = await lstat(full).catch(() => null);
  if (!stat?.isFile() || stat.size > maxBytes) return null;
  const [real, base] = await Promise.all([realpath(full), realpath(root)]);
  return real.startsWith(base + sep) ? readFile(full) : null;
}

/** Where an edit of `path` is written: refused when it or a folder above it is a symlink leaving the worktree. */
async function writeTarget(root: string, path: string): Promise<string> {
  const full = inside(root, path);
  if ((await lstat(full).catch(() => null))?.isSymbolicLink()) throw new ProposalError(`${path} is a symbolic link; autoloop does not edit through links`);
  await mkdir(dirname(full), { recursive: true });
  const [parent, base] = await Promise.all([realpath(dirname(full)), realpath(root)]);
  if (parent !== base && !parent.startsWith(base + sep)) throw new ProposalError(`${path} is outside the worktree (through a symbolic link)`);
  return full;
}

function isEditable(path: string, rules: ScopeRules): boolean {
  return checkScope([{ change: 'modified', path }], rules).length === 0;
}

/** Changes made in the worktree that are not the proposal's (build output of `evaluate.check`): undone. */
async function undoOthers(worktree: string, keep: ReadonlySet<string>): Promise<void> {
  const out = await git(worktree, ['status', '--porcelain', '-z', '--untracked-files=all']);
  const tracked: string[] = [];
  for (const entry of out.split('\0').filter((field) => field !== '')) {
    const status = entry.slice(0, 2);
    const path = entry.slice(3);
    if (keep.has(path)) continue;
    if (status === '??') await rm(inside(worktree, path), { force: true, recursive: true });
    else tracked.push(path);
  }
  if (tracked.length > 0) await git(worktree, ['checkout', 'HEAD', '--', ...tracked]);
}

/**
 * Creates the `llm` proposer from a validated config (`proposer.llm` must be present). Throws a
 * ProposerConfigError when the API key variable is not set (unless `base_url` names a server that may not need one).
 */
export function createLlmProposer(config: Config, options: LlmProposerOptions = {}): Proposer {
  const llm = config.proposer.llm;
  if (!llm) throw new ProposerConfigError('proposer.llm is missing: add an `llm` section with `provider` and `model`');
  const env = options.env ?? process.env;
  const clock = options.clock ?? (() => performance.now());
  const keyName = apiKeyVariable(llm);
  const key = env[keyName];
  if (!key && !llm.base_url) {
    throw new ProposerConfigError(`the ${llm.provider} API key is not set: put it in $${keyName} (or name another variable in proposer.llm.api_key_env)`);
  }
  const sdkOptions = { maxRetries: options.maxRetries ?? 4, timeoutMs: options.timeoutMs ?? 600_000 };
  // Local OpenAI-compatible servers (Ollama, vLLM) take any key; the SDK insists on one.
  const complete = llm.provider === 'openai' ? openAiComplete(llm, key || 'none', sdkOptions) : anthropicComplete(llm, key || 'none', sdkOptions);
  const redact = createRedactor({ ...process.env, ...env });
  const rules = scopeRules(config, options.configFile ?? CONFIG_PATH);
  const setUp = new Set<string>();
  const where = llm.base_url ?? (llm.provider === 'openai' ? 'api.openai.com' : 'api.anthropic.com');

  /** The provider's failure as the error the loop acts on: a config problem stops the run, anything else fails this experiment. */
  const providerError = (error: unknown, notes: Record<string, unknown>, sdk: Awaited<ReturnType<typeof providerSdk>>): Error => {
    if (error instanceof sdk.APIError) {
      const status = error.status;
      if (status === 401 || status === 403) {
        // The provider's message may quote part of the key: it is not repeated.
        return new ProposerConfigError(`${llm.provider} (${where}): the API key in $${keyName} was refused (${status}): check the key and its access to model "${llm.model}"`);
      }
      if (status === 404) {
        return new ProposerConfigError(
          `${llm.provider} (${where}): model "${llm.model}" was not found (404): check proposer.llm.model${llm.base_url ? ' and proposer.llm.base_url' : ''}`,
        );
      }
      return new ProposalError(`${llm.provider} API error${status ? ` ${status}` : ''} (after retries): ${redact(error.message)}`, notes);
    }
    return error instanceof Error ? error : new Error(String(error));
  };

  return {
    kind: 'llm',
    async propose(context: ProposalContext): Promise<Proposal | null> {
      const { worktree, signal } = context;
      const traceDir = context.trace;
      const trace = async (name: string, text: string): Promise<void> => {
        if (traceDir) await writeFile(join(traceDir, name), redact(text));
      };

      const tree = await listFiles(worktree);
      const files = new Map<string, string>();
      for (const path of tree.filter((p) => isEditable(p, rules))) {
        const buffer = await readRegular(worktree, path, MAX_EDITABLE_BYTES).catch(() => null);
        if (!buffer || buffer.includes(0)) continue;
        files.set(path, buffer.toString('utf8'));
      }
      const instructions = (await readRegular(worktree, config.proposer.instructions).catch(() => null))?.toString('utf8') ?? null;
      const prompt = buildProposalPrompt({
        instructions,
        goal: context.goal ?? null,
        history: context.history,
        metric: { name: config.metric.name, goal: config.metric.goal },
        fileTree: tree,
        editable: [...files].map(([path, text]) => ({ path, text })),
        scopeSummary: `edit ${config.scope.edit.join(', ')}; never ${protectedPatterns(rules).join(', ')}`,
        budgetTokens: llm.context_tokens,
        format: 'search-replace',
      });
      await trace('prompt.md', `# System\n\n${prompt.system}\n\n# User\n\n${prompt.user}\n`);

      const usage = { input_tokens: 0, output_tokens: 0 };
      const errors: string[] = [];
      let model = llm.model;
      let attempts = 0;
      let latencyMs = 0;
      const notes = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
        provider: llm.provider,
        model,
        attempts,
        usage: { ...usage },
        ...(llm.price
          ? { cost_usd: (usage.input_tokens * llm.price.input_per_million + usage.output_tokens * llm.price.output_per_million) / 1_000_000 }
          : {}),
        latency_ms: Math.round(latencyMs),
        prompt_tokens_estimate: prompt.tokens,
        ...(prompt.omitted.length > 0 ? { omitted: prompt.omitted } : {}),
        errors: [...errors],
        ...extra,
      });

      const evaluator = config.evaluate.check ? new Evaluator(config, { env, signal }) : null;
      const checkDir = evaluator ? (traceDir ?? (await mkdtemp(join(tmpdir(), 'autoloop-llm-')))) : null;
      if (evaluator && config.evaluate.setup && !setUp.has(worktree)) {
        const setup = await evaluator.setup(worktree, checkDir!, 'proposal');
        if (setup?.ok) setUp.add(worktree);
      }

      /** Applies one answer in the worktree; null when it is good, else what to tell the model (the worktree is back as it was). */
      const tryAnswer = async (parsed: Exclude<ReturnType<typeof parseAnswer>, { error: string }>): Promise<string | null> => {
        const paths = [...new Set(parsed.edits.map((edit) => edit.path))];
        const changes: FileChange[] = paths.map((path) => ({ change: tree.includes(path) ? 'modified' : 'added', path }));
        const violations = checkScope(changes, rules);
        if (violations.length > 0) return `these edits are outside the scope, so nothing was applied: ${describeViolations(violations)}`;
        for (const path of paths) {
          if (tree.includes(path) && !files.has(path)) return `${path} is too large or not text, so it cannot be edited with search/replace; nothing was applied`;
        }
        const applied = applyEdits(files, parsed.edits);
        if ('error' in applied) return `an edit does not apply, so nothing was applied: ${applied.error}`;
        if (applied.changed.length === 0) return 'the edits change nothing; propose an actual change';
        // A secret of autoloop's environment, as it is or encoded, never goes into a commit.
        const leaks = applied.changed.flatMap((path) => leakedSecretNames(files.get(path) ?? null, applied.files.get(path)!, redact).map((name) => `${name} in ${path}`));
        if (leaks.length > 0) return `the edits would write the value of a secret into the repository (${leaks.join('; ')}), so nothing was applied`;
        const restore = async (): Promise<void> => {
          for (const path of applied.changed) {
            const original = files.get(path);
            if (original === undefined) await rm(inside(worktree, path), { force: true });
            else await writeFile(inside(worktree, path), original);
          }
        };
        for (const path of applied.changed) {
          let full: string;
          try {
            full = await writeTarget(worktree, path);
          } catch (error) {
            await restore();
            if (error instanceof ProposalError) return `${error.message}; nothing was applied`;
            throw error;
          }
          await writeFile(full, applied.files.get(path)!);
        }
        if (!evaluator) return null;
        const check = await evaluator.check(worktree, checkDir!, `proposal-${attempts}`);
        await undoOthers(worktree, new Set(applied.changed));
        if (!check || check.ok) return null;
        await restore();
        const log = await readFile(join(checkDir!, `check-proposal-${attempts}.log`), 'utf8').catch(() => '');
        const tail = log.length > CHECK_OUTPUT_CHARS ? log.slice(-CHECK_OUTPUT_CHARS) : log;
        return `the edits applied but ${check.reason ?? 'evaluate.check failed'}; they were undone. The end of its output:\n${dataBlock('check-output', tail)}`;
      };

      const turns: Turn[] = [{ role: 'user', content: prompt.user }];
      while (attempts < llm.max_attempts) {
        signal?.throwIfAborted();
        attempts += 1;
        let completion: Completion;
        const asked = clock();
        try {
          completion = await complete(prompt.system, turns, signal);
        } catch (error) {
          latencyMs += clock() - asked;
          // The SDK is loaded by now (the request was made through it): its error classes tell what failed.
          const sdk = await providerSdk(llm.provider);
          if (signal?.aborted || error instanceof sdk.APIUserAbortError) throw error;
          throw providerError(error, notes(), sdk);
        }
        latencyMs += clock() - asked;
        usage.input_tokens += completion.inputTokens;
        usage.output_tokens += completion.outputTokens;
        model = completion.model;
        await trace(`answer-${attempts}.md`, completion.text);
        const parsed = parseAnswer(completion.text);
        const problem = 'error' in parsed ? `your answer could not be read: ${parsed.error}` : await tryAnswer(parsed);
        if (problem === null && !('error' in parsed)) {
          return { hypothesis: redact(parsed.hypothesis).slice(0, 300), notes: notes() };
        }
        errors.push(redact(`attempt ${attempts}: ${problem}`));
        const feedback =
          `Your previous answer was not used: ${problem}\n\n` +
          'The files are as shown in the first message. Answer again in the same format: one HYPOTHESIS line and the complete set of search/replace blocks.';
        await trace(`feedback-${attempts}.md`, feedback);
        turns.push({ role: 'assistant', content: completion.text }, { role: 'user', content: feedback });
      }
      throw new ProposalError(
        `no usable answer from ${llm.provider} model ${model} in ${attempts} attempt${attempts === 1 ? '' : 's'}: ${errors.at(-1)?.replace(/^attempt \d+: /, '') ?? 'no answer'}`,
        notes(),
      );
    },
  };
}
