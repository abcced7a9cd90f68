import * as core from '@actions/core';
import { AutoloopError } from '../core/errors.js';
import type { ConfigError } from '../core/config/config.js';
import { ActionFailure, readRunnerContext, type RunnerContext } from './context.js';
import { defaultDependencies, prepareDependencies, type ActionDependencies } from './dependencies.js';
import { InputError, readInputs, type ActionInputs, type ActionMode } from './inputs.js';

type Mode = (inputs: ActionInputs, context: RunnerContext, dependencies: ActionDependencies) => Promise<void>;

/**
 * Each mode, loaded when it runs: in the bundle every mode is a chunk of its own (scripts/build-action.ts), so a step
 * parses only its mode's code (`evaluate` never parses a model SDK or Octokit).
 */
const MODES: Record<ActionMode, () => Promise<Mode>> = {
  evaluate: async () => (await import('./evaluate.js')).runEvaluate,
  propose: async () => (await import('./propose.js')).runPropose,
  loop: async () => (await import('./loop.js')).runLoopMode,
};

/**
 * The action: reads and checks the inputs (a mistake fails here, before anything heavy is loaded), loads the mode and
 * runs it. Any error, and any failure a mode reports ({@link ActionFailure}), ends here, in one annotation and a failed
 * step (see {@link fail}). `dependencies` are the real ones unless a test swaps them.
 */
export async function run(dependencies?: ActionDependencies): Promise<void> {
  try {
    const inputs = readInputs((name) => core.getInput(name));
    const actual = dependencies ?? defaultDependencies();
    const [mode] = await Promise.all([MODES[inputs.mode](), prepareDependencies(inputs.mode)]);
    await mode(inputs, readRunnerContext(actual.env), actual);
  } catch (error) {
    await fail(error);
  }
}

/**
 * Ends the step as failed: the one place the action does. A config error's annotation sits on the file and line of its
 * first problem and lists every problem; anything else is the error's message (a mode's {@link ActionFailure}, an input
 * that {@link InputError} names, or an error of the engine, which says what to do).
 */
async function fail(error: unknown): Promise<void> {
  const config = await configErrorOf(error);
  if (config) {
    const line = config.issues.find((issue) => issue.line !== null)?.line;
    core.error(`invalid config: ${config.message}`, { title: 'autoloop: invalid config', file: config.file, ...(line ? { startLine: line } : {}) });
    process.exitCode = core.ExitCode.Failure;
    return;
  }
  core.setFailed(error instanceof Error ? error.message : String(error));
}

/**
 * `error` if it is the config's, else null. Only a mode reads the config, so its module is loaded whenever one can
 * have been thrown; an error before that (an input's) does not load it.
 */
async function configErrorOf(error: unknown): Promise<ConfigError | null> {
  if (!(error instanceof AutoloopError) || error instanceof InputError || error instanceof ActionFailure) return null;
  const config = await import('../core/config/config.js').catch(() => null);
  return config && error instanceof config.ConfigError ? error : null;
}
