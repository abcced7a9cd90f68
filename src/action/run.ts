import * as core from '@actions/core';
import { ConfigError } from '../core/config/config.js';
import { defaultDependencies, type ActionDependencies } from './dependencies.js';
import { readRunnerContext } from './context.js';
import { runEvaluate } from './evaluate.js';
import { readInputs } from './inputs.js';
import { runLoopMode } from './loop.js';
import { runPropose } from './propose.js';

/**
 * The action: reads the inputs, runs the mode, and turns any error into one annotation and a
 * failed step (a config error's annotation sits on the file and line of its first problem).
 */
export async function run(dependencies: ActionDependencies = defaultDependencies()): Promise<void> {
  try {
    const inputs = readInputs((name) => core.getInput(name));
    const context = readRunnerContext(dependencies.env);
    switch (inputs.mode) {
      case 'evaluate':
        return await runEvaluate(inputs, context, dependencies);
      case 'propose':
        return await runPropose(inputs, context, dependencies);
      case 'loop':
        return await runLoopMode(inputs, context, dependencies);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      // One annotation, on the file and the first problem's line, listing every problem.
      const line = error.issues.find((issue) => issue.line !== null)?.line;
      core.error(`invalid config: ${error.message}`, { title: 'autoloop: invalid config', file: error.file, ...(line ? { startLine: line } : {}) });
      process.exitCode = core.ExitCode.Failure;
      return;
    }
    core.setFailed(error instanceof Error ? error.message : String(error));
  }
}
