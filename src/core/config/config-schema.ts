import { z } from 'zod';
import { globProblem, tuneFileProblem } from './globs.js';
import { isReservedMetric, MEASURED_METRICS, METRIC_REPORTS } from '../judge/metrics.js';
import { closestKey } from './suggest.js';
import { parseDuration, parseEffect, type Effect } from './units.js';

export { CONFIG_PATH } from '../protocol/names.js';
/** Default instructions file for proposers, always protected. */
export const DEFAULT_INSTRUCTIONS_PATH = '.github/autoloop.md';

/** How a value the user wrote reads in a message: `"abc"`, `12`, `a list`, `a mapping`, `an empty value`. */
function shown(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

// The union's own error replaces zod's "Invalid input" plus one sub-issue per branch (string, number).
const duration = z
  .union([z.string(), z.number()], { error: (issue) => `expected a duration such as 90s, 5m or 8h, got ${shown(issue.input)}` })
  .describe('A duration: `90s`, `5m`, `1h30m`, `250ms`, or a number of seconds.')
  .transform((value, ctx): number => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 90s, 5m or 8h, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  });

const effect = z
  .union([z.string(), z.number()], { error: (issue) => `expected an effect such as 1% or 0.002, got ${shown(issue.input)}` })
  .describe('An effect size: relative to the baseline (`1%`) or absolute in the metric\'s unit (`0.002`).')
  .transform((value, ctx): Effect => {
    const parsed = parseEffect(value);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: `expected an effect such as 1% or 0.002, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return parsed;
  });

const metricName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.\-/]*$/, 'expected a metric name of letters, digits, _ . - / (as printed in `METRIC name=value`)')
  .superRefine((name, ctx) => {
    // `autoloop.*` names are autoloop's own measurements: a misspelt one must not silently wait for the evaluator to report it.
    if (!isReservedMetric(name) || (MEASURED_METRICS as readonly string[]).includes(name)) return;
    const suggestion = closestKey(name, MEASURED_METRICS);
    const known = MEASURED_METRICS.map((known) => `"${known}"`).join(' and ');
    ctx.addIssue({
      code: 'custom',
      message: `unknown autoloop metric "${name}": names autoloop.* are measured by autoloop, which measures only ${known}`
        + (suggestion ? `; did you mean "${suggestion}"?` : ''),
    });
  });

const goal = z.enum(['minimize', 'maximize']).describe('Whether smaller (`minimize`) or larger (`maximize`) is better.');

const glob = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    const problem = globProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
const globList = z.array(glob).describe('Glob patterns relative to the repository root, e.g. `src/**` or `params.json`.');

export const metricSchema = z
  .strictObject({
    name: metricName.describe(
      'The metric to optimise, as the evaluator reports it (`METRIC name=value`), or one autoloop measures itself from outside the sandbox: '
      + '`autoloop.wall_ms` (wall-clock time of each run of `evaluate.command`) or `autoloop.cpu_ms` (its CPU time, user + system, children included).',
    ),
    goal,
    min_effect: effect
      .prefault(0)
      .describe('The smallest improvement worth keeping: `1%` of the baseline, or an absolute amount such as `0.002`.'),
    suspicious_effect: effect
      .prefault('50%')
      .describe('A gain larger than this is too good to be true: it is flagged for a human and never kept silently.'),
  })
  .describe('The one number that says what "better" means.');

export const guardSchema = z
  .strictObject({
    name: metricName.describe('A secondary metric the evaluator also reports, or `autoloop.wall_ms` / `autoloop.cpu_ms`, measured by autoloop.'),
    goal,
    max_regression: effect
      .prefault(0)
      .describe('How much worse than the baseline this guard may get before a candidate is rejected: `10%` or an absolute amount.'),
  })
  .describe('A metric that must not regress past its tolerance.');

/** The most runs per side a sequential measurement takes unless `evaluate.max_repeats` says otherwise. */
export const DEFAULT_MAX_REPEATS = 8;

export const evaluateSchema = z
  .strictObject({
    command: z.string().min(1).describe('The command that measures a checkout and reports the metrics (see `report`); autoloop times it (`autoloop.wall_ms`, `autoloop.cpu_ms`).'),
    report: z
      .enum(METRIC_REPORTS)
      .default('stdout')
      .describe(
        'How the reporting command (`command`, or `score` when set) reports: `stdout` (default), lines `METRIC name=value`; `file`, one JSON object written to $AUTOLOOP_METRICS_FILE. '
        + 'Only that channel is read, never the other: with `stdout` the command gets no $AUTOLOOP_METRICS_FILE, with `file` its METRIC lines are ignored. '
        + 'Not needed when every metric is an `autoloop.*` one.',
      ),
    setup: z.string().min(1).optional().describe('Runs once per checkout before anything is measured, e.g. `npm ci`.'),
    check: z.string().min(1).optional().describe('Must pass on a checkout before its timing counts, e.g. `npm test`.'),
    score: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A separate scorer: a protected command run after each run of `command`, in a sandbox of its own with the worktree read-only, that reads what `command` left (and its output, in $AUTOLOOP_COMMAND_OUTPUT) and reports the metrics. '
        + 'With it, only the scorer reports (on the channel `report` names): `command` gets no metrics file and its METRIC lines are not read, so code loaded by `command` cannot write its own score.',
      ),
    timeout: duration.prefault('5m').describe('Hard time budget for one run of `command` (and for `setup` and `check` each).'),
    repeats: z
      .union([z.literal('auto'), z.number().int().min(1).max(100)], {
        error: (issue) => `expected auto or a whole number of runs per side from 1 to 100, got ${JSON.stringify(issue.input)}`,
      })
      .default('auto')
      .describe(
        'Runs per side; baseline and candidate alternate B C B C. `auto` (the default) measures sequentially: 3 pairs, then more only while the verdict is undecided, '
        + 'up to `max_repeats`, each look at its share of the 5% error rate. A number measures exactly that many pairs.',
      ),
    max_repeats: z
      .number()
      .int()
      .min(3)
      .max(100)
      .default(DEFAULT_MAX_REPEATS)
      .describe('With `repeats: auto`, the most runs per side a measurement may take (looks after 3, 5, then every 3 more, and at this number).'),
    baseline: z
      .enum(['paired', 'cached'])
      .default('paired')
      .describe('`paired` re-measures the parent beside each candidate (B C B C); `cached` re-uses the best\'s last samples: twice the throughput, but unpaired.'),
    env: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'))
      .default([])
      .describe(
        'The variables of autoloop\'s environment passed to `setup`, `check` and `command`, besides PATH, LANG, LC_ALL, LC_CTYPE, TZ and TERM. '
        + 'Nothing else passes, whatever its name; HOME and TMPDIR point at private, empty directories (with `sandbox: none`, naming them passes yours), '
        + 'and autoloop sets its own AUTOLOOP_* variables.',
      ),
    network: z
      .boolean()
      .default(false)
      .describe('Let `setup`, `check` and `command` use the network (e.g. `npm ci`). Off by default: inside the sandbox they have no network at all.'),
    load_sensitive: z
      .boolean()
      .optional()
      .describe(
        'Whether a metric or guard depends on how busy the machine is: a time does; a loss, a size or a count does not. '
        + 'Unset (or `true`), `autoloop run` measures one experiment at a time whatever `budget.parallel` says, and says so at the start. '
        + '`false` declares that none does: `autoloop run` then runs up to `budget.parallel` experiments side by side on this machine, each in its own pair of worktrees. '
        + 'Side by side, runs share the cores: a time measured that way is slower and noisier (autoloop warns); say `false` for one only if you mean it.',
      ),
    confirm: z
      .union([z.boolean(), z.number().int().min(1).max(100)])
      .default(true)
      .describe(
        'At the end of a run that kept something, measure the run branch head against the base once more, paired, and make that the headline: '
        + '`true` with `repeats` runs per side, a number for more, `false` to skip it.',
      ),
  })
  .superRefine((evaluate, ctx) => {
    if (typeof evaluate.repeats === 'number' && evaluate.max_repeats !== DEFAULT_MAX_REPEATS) {
      ctx.addIssue({ code: 'custom', path: ['max_repeats'], message: `max_repeats applies only with repeats: auto; with repeats: ${evaluate.repeats} every measurement takes ${evaluate.repeats} runs per side` });
    }
  })
  // One number for "how many runs per side at most" everywhere (`repeats`), and whether measuring stops early (`sequential`).
  .transform(({ repeats, ...rest }) => ({ ...rest, repeats: repeats === 'auto' ? rest.max_repeats : repeats, sequential: repeats === 'auto' }))
  .describe('How a checkout is measured.');

export const scopeSchema = z
  .strictObject({
    edit: globList.min(1).describe('The only paths a proposal may add, change, delete or rename.'),
    protect: globList.default([]).describe('Paths a proposal may never touch (the evaluator, its data). `.github/**` is always protected.'),
  })
  .describe('What a proposal may change.');

const tuneNumberParam = z
  .strictObject({
    min: z.number().describe('Smallest value searched.'),
    max: z.number().describe('Largest value searched.'),
    scale: z.enum(['linear', 'log']).default('linear').describe('`log` searches orders of magnitude evenly (learning rates, weight decay).'),
    type: z.enum(['float', 'int']).default('float').describe('`int` rounds every proposal to a whole number.'),
  })
  .superRefine((param, ctx) => {
    if (param.min >= param.max) ctx.addIssue({ code: 'custom', path: ['max'], message: `expected max greater than min (${param.min})` });
    if (param.scale === 'log' && param.min <= 0) ctx.addIssue({ code: 'custom', path: ['min'], message: 'expected min > 0 with scale: log' });
  });

const tuneChoiceParam = z.strictObject({
  choices: z
    .array(z.union([z.string(), z.number(), z.boolean()]))
    .min(2)
    .describe('The values to choose from.'),
});

export const tuneParamSchema = z
  .union([tuneNumberParam, tuneChoiceParam])
  .describe('A numeric range (`min`, `max`, optional `scale`, `type`) or a list of `choices`.');

export const tuneSchema = z
  .strictObject({
    file: z.string().min(1).describe('The JSON or YAML file whose keys are tuned, relative to the repository root.'),
    params: z
      .record(z.string().min(1), tuneParamSchema)
      .refine((params) => Object.keys(params).length > 0, 'expected at least one parameter')
      .describe('Keys of `file` to tune (dotted paths reach nested keys), each with its search space.'),
    seed: z.number().int().default(1).describe('Seed of the search, so that a run can be reproduced.'),
    explore: z.number().min(0).max(1).default(0.15).describe('Share of proposals drawn at random from the whole space instead of near the best.'),
  })
  .describe('The built-in parameter search.');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

export const llmSchema = z
  .strictObject({
    provider: z.enum(['openai', 'anthropic']).describe('`openai`: any OpenAI-compatible chat API (OpenAI, Azure, OpenRouter, vLLM, Ollama, LM Studio); `anthropic`: Anthropic\'s API.'),
    model: z.string().min(1).describe('The model name, e.g. `gpt-4.1-mini` or `claude-sonnet-4-5`.'),
    base_url: z.string().url().optional().describe('The API\'s base URL, for OpenAI-compatible servers (e.g. `http://localhost:11434/v1` for Ollama).'),
    api_key_env: envName.optional().describe('The environment variable holding the API key (default OPENAI_API_KEY or ANTHROPIC_API_KEY). Only this one is read.'),
    max_attempts: z.number().int().min(1).max(10).default(3).describe('Answers that do not apply, leave the scope or fail `evaluate.check` go back to the model with the error, this many times in all.'),
    max_output_tokens: z.number().int().min(256).default(8192).describe('The most tokens one answer may use.'),
    context_tokens: z.number().int().min(2000).default(60000).describe('Budget of the prompt: instructions, goal, run history, file tree and editable files, disclosed in that order.'),
    temperature: z.number().min(0).max(2).optional().describe('Sampling temperature, when the model takes one.'),
    price: z
      .strictObject({
        input_per_million: z.number().min(0).describe('USD per million input tokens.'),
        output_per_million: z.number().min(0).describe('USD per million output tokens.'),
      })
      .optional()
      .describe('Prices, so that each experiment\'s cost is recorded and `budget.max_cost` can stop the run.'),
  })
  .describe('The `llm` proposer: a model API writes the change.');

export const commandProposerSchema = z
  .strictObject({
    run: z.string().min(1).describe('The agent CLI to run in the candidate worktree, e.g. `claude -p "$(cat $AUTOLOOP_PROMPT_FILE)"`. The prompt is in the file named by $AUTOLOOP_PROMPT_FILE.'),
    timeout: duration.prefault('10m').describe('Hard time budget of one run of the agent.'),
    env: z
      .array(envName)
      .default([])
      .describe('The variables of autoloop\'s environment passed to the agent (its model key, proxy settings), besides PATH, LANG, LC_ALL, LC_CTYPE, TZ and TERM; nothing else passes.'),
  })
  .describe('The `command` proposer: any agent CLI writes the change.');

export const proposerSchema = z
  .strictObject({
    kind: z.enum(['tune', 'llm', 'command']).default('tune').describe('`tune` searches parameters; `llm` asks a model; `command` runs an agent CLI.'),
    instructions: z.string().min(1).default(DEFAULT_INSTRUCTIONS_PATH).describe('Instructions for the proposer (always protected), like autoresearch\'s program.md.'),
    tune: tuneSchema.optional(),
    llm: llmSchema.optional(),
    command: commandProposerSchema.optional(),
  })
  .superRefine((proposer, ctx) => {
    if (!proposer[proposer.kind]) {
      ctx.addIssue({ code: 'custom', path: [proposer.kind], message: `expected a \`${proposer.kind}\` section with kind: ${proposer.kind}` });
    }
  })
  .describe('What writes candidate changes.');

/** The most experiments in flight at once, in the config and in `/optimize --parallel` alike. */
export const MAX_PARALLEL = 10;

export const budgetSchema = z
  .strictObject({
    experiments: z.number().int().min(1).default(20).describe('How many experiments a run makes.'),
    parallel: z
      .number()
      .int()
      .min(1)
      .max(MAX_PARALLEL)
      .default(1)
      .describe(
        `Experiments in flight at once, 1 to ${MAX_PARALLEL}. The App measures each in its own workflow run; \`autoloop run\` runs them side by side on this machine `
        + 'only when `evaluate.load_sensitive` is `false`, and one at a time otherwise.',
      ),
    max_failures: z.number().int().min(1).default(5).describe('Stop after this many invalid experiments in a row.'),
    wall_time: duration.optional().describe('Stop starting experiments after this much time, e.g. `8h`.'),
    max_cost: z.number().positive().optional().describe('Stop starting experiments once the proposer has cost this many USD (needs `proposer.llm.price`).'),
  })
  .describe('When a run stops.');

export const reviewSchema = z
  .strictObject({
    reviewers: z.array(z.string().min(1)).default([]).describe('GitHub users or teams asked to review the finished run.'),
    approve_each: z.boolean().default(false).describe('Ask a human before each kept experiment, not only at the end.'),
  })
  .describe('Who reviews what the run found.');

/** How the processes that run repository code or an agent are isolated. */
export const SANDBOX_KINDS = ['auto', 'bwrap', 'none'] as const;
export type SandboxKind = (typeof SANDBOX_KINDS)[number];

export const sandboxSchema = z
  .enum(SANDBOX_KINDS)
  .default('auto')
  .describe(
    'Where `setup`, `check`, `command` and the proposer\'s agent run. `auto` (default): the platform\'s sandbox, bubblewrap on Linux; '
    + '`bwrap`: bubblewrap, required. Either way autoloop stops with an error naming the fix when the sandbox cannot start. '
    + 'Inside it a command sees the host read-only, has its own processes, no network (unless `evaluate.network`), and can write only the worktree it runs in, '
    + 'a private /tmp and HOME. `none`: no sandbox; every output then says "unsandboxed".',
  );

/** The whole `.github/autoloop.yml`. The single source of truth for validation, types and the JSON Schema. */
export const configSchema = z
  .strictObject({
    metric: metricSchema,
    guards: z.array(guardSchema).default([]).describe('Secondary metrics that must not regress.'),
    evaluate: evaluateSchema,
    scope: scopeSchema,
    proposer: proposerSchema.prefault({}),
    budget: budgetSchema.prefault({}),
    review: reviewSchema.prefault({}),
    sandbox: sandboxSchema,
  })
  .superRefine((config, ctx) => {
    config.guards.forEach((guard, index) => {
      if (guard.name === config.metric.name) {
        ctx.addIssue({ code: 'custom', path: ['guards', index, 'name'], message: `guard "${guard.name}" is the primary metric; pick another metric` });
      }
    });
    // A tune file the scope does not let a proposal change makes every experiment invalid: said before any measurement.
    const tune = config.proposer.kind === 'tune' ? config.proposer.tune : undefined;
    const globsHold = [...config.scope.edit, ...config.scope.protect].every((pattern) => globProblem(pattern) === null);
    if (tune && globsHold) {
      const problem = tuneFileProblem(tune.file, config.scope);
      if (problem) ctx.addIssue({ code: 'custom', path: ['proposer', 'tune', 'file'], message: problem });
    }
  })
  .describe('autoloop: what "better" means, how to measure it and what may change.');

/** A validated config, with durations in milliseconds and effects parsed. */
export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type TuneParam = z.output<typeof tuneParamSchema>;
export type TuneConfig = z.output<typeof tuneSchema>;
export type LlmConfig = z.output<typeof llmSchema>;
export type CommandProposerConfig = z.output<typeof commandProposerSchema>;
export type Goal = z.output<typeof goal>;
export type Guard = z.output<typeof guardSchema>;
