import { appendFile, readFile } from 'node:fs/promises';
import { AutoloopError } from '../core/errors.js';

/** What the runner tells a step through its environment. */
export interface RunnerContext {
  workspace: string;
  eventName: string;
  eventPath: string | null;
  /** `owner/name`. */
  repository: string | null;
  serverUrl: string;
  apiUrl: string;
  runId: string | null;
  /** The branch or tag the workflow runs on. */
  refName: string | null;
}

/** Reads the runner's `GITHUB_*` variables (never the `@actions/github` singleton, which reads them once at import). */
export function readRunnerContext(env: NodeJS.ProcessEnv): RunnerContext {
  return {
    workspace: env.GITHUB_WORKSPACE || process.cwd(),
    eventName: env.GITHUB_EVENT_NAME ?? '',
    eventPath: env.GITHUB_EVENT_PATH || null,
    repository: env.GITHUB_REPOSITORY || null,
    serverUrl: env.GITHUB_SERVER_URL || 'https://github.com',
    apiUrl: env.GITHUB_API_URL || 'https://api.github.com',
    runId: env.GITHUB_RUN_ID || null,
    refName: env.GITHUB_REF_NAME || null,
  };
}

/** Link to this workflow run, when the runner said which it is. */
export function workflowRunUrl(context: RunnerContext): string | null {
  return context.repository && context.runId ? `${context.serverUrl}/${context.repository}/actions/runs/${context.runId}` : null;
}

/** Link to an uploaded artifact of this run. */
export function artifactUrl(context: RunnerContext, id: number): string | null {
  const run = workflowRunUrl(context);
  return run ? `${run}/artifacts/${id}` : null;
}

/** The base and head SHAs of the pull request this event is about. */
export async function pullRequestShas(context: RunnerContext): Promise<{ base: string; head: string; number: number }> {
  if (context.eventName === 'pull_request' && !context.eventPath) {
    throw new Error('GITHUB_EVENT_PATH is not set: mode: evaluate reads the pull request from the event file the runner provides');
  }
  if (context.eventName !== 'pull_request' || !context.eventPath) {
    throw new Error(
      `mode: evaluate runs on pull_request events (this is ${JSON.stringify(context.eventName || 'no event')}); ` +
        'pull_request_target is refused on purpose: it would run untrusted code with secrets',
    );
  }
  const event = JSON.parse(await readFile(context.eventPath, 'utf8')) as {
    pull_request?: { number: number; base?: { sha?: string }; head?: { sha?: string } };
  };
  const pr = event.pull_request;
  if (!pr?.base?.sha || !pr.head?.sha) throw new Error(`the event at ${context.eventPath} has no pull_request base and head SHAs`);
  return { base: pr.base.sha, head: pr.head.sha, number: pr.number };
}

/**
 * Appends Markdown to the job summary. Written directly rather than through `core.summary`, which
 * remembers the first file it was given for the life of the process.
 */
export async function writeJobSummary(env: NodeJS.ProcessEnv, markdown: string): Promise<void> {
  if (env.GITHUB_STEP_SUMMARY) await appendFile(env.GITHUB_STEP_SUMMARY, `${markdown.trimEnd()}\n`);
}

/**
 * The step ends as a failure: the measurement could not be made, `fail-on` refuses the verdict, the proposal cannot be
 * pushed, the loop failed. A mode throws it once its outputs, summary and artifacts are written, and the entry
 * (./run.ts) fails the step with its message, which says what happened: the one place a step is failed.
 */
export class ActionFailure extends AutoloopError {
  constructor(message: string) {
    super(message);
    this.name = 'ActionFailure';
  }
}
