import * as core from '@actions/core';
import type { Octokit } from '@octokit/rest';
import type { Config } from '../core/config/config-schema.js';
import type { Proposer } from '../core/propose/proposer.js';
import type { ArtifactStore } from './artifacts.js';
import type { ActionMode } from './inputs.js';

/** What the modes reach outside the repository: swapped in tests. */
export interface ActionDependencies {
  env: NodeJS.ProcessEnv;
  artifacts: ArtifactStore;
  octokit(token: string, apiUrl: string): Octokit;
  /** The proposer `propose` runs, the config's own unless given (a test's stand-in agent, friendly or hostile). */
  proposer?(config: Config): Proposer;
}

/** The modes that call GitHub's REST API: `loop` opens the run's pull request, `propose` reads the App run's. */
const API_MODES: readonly ActionMode[] = ['propose', 'loop'];

/** How many times a request refused by a rate limit is sent again, each time after the wait GitHub advises. */
export const RATE_LIMIT_RETRIES = 3;
/**
 * The longest advised wait (seconds) the action sits out. A spent primary limit can reset up to an hour later, past
 * the job's `timeout-minutes`: then the step fails at once, saying when the limit resets.
 */
export const RATE_LIMIT_MAX_WAIT_S = 600;

type OctokitFactory = ActionDependencies['octokit'];
let loaded: OctokitFactory | null = null;

/**
 * Loads what `mode` needs before it runs: Octokit (with its plugins) for the modes that call GitHub's API, so that
 * `octokit()` can stay synchronous while `evaluate` never parses it. Idempotent.
 */
export async function prepareDependencies(mode: ActionMode): Promise<void> {
  if (API_MODES.includes(mode)) loaded ??= await loadOctokit();
}

/**
 * The real dependencies. The artifact client (`@actions/artifact`, the largest part of the bundle after the model SDKs)
 * is loaded at the first upload; Octokit by {@link prepareDependencies}.
 */
export function defaultDependencies(): ActionDependencies {
  let artifacts: Promise<ArtifactStore> | null = null;
  return {
    env: process.env,
    artifacts: {
      async upload(name, files, rootDirectory) {
        artifacts ??= import('./artifacts.js').then(({ githubArtifactStore }) => githubArtifactStore());
        return (await artifacts).upload(name, files, rootDirectory);
      },
    },
    octokit(token, apiUrl) {
      if (!loaded) throw new Error('autoloop: internal error: Octokit is used before prepareDependencies() loaded it');
      return loaded(token, apiUrl);
    },
  };
}

/**
 * Loads Octokit with the retry and throttling plugins, as the App's (Probot's) Octokit has them, and returns a factory.
 * Requests are spaced as GitHub recommends; a 5xx or a network error is retried with backoff (plugin-retry); a request
 * refused by a rate limit (primary or secondary) is sent again after the wait GitHub advises, at most
 * {@link RATE_LIMIT_RETRIES} times and never after a wait longer than {@link RATE_LIMIT_MAX_WAIT_S}, and then fails
 * with a message that says so. `waitUnitMs` scales every wait (1000: seconds as advised; tests make it small).
 */
export async function loadOctokit(options: { waitUnitMs?: number } = {}): Promise<OctokitFactory> {
  const [{ Octokit }, { retry }, { throttling }, { RequestError }] = await Promise.all([
    import('@octokit/rest'),
    import('@octokit/plugin-retry'),
    import('@octokit/plugin-throttling'),
    import('@octokit/request-error'),
  ]);
  const waitUnitMs = options.waitUnitMs ?? 1000;
  const ActionOctokit = Octokit.plugin(throttling, retry);
  // How many times each request given up on was sent: the plugin hands its options to the handler and to the error hook.
  const sent = new WeakMap<object, number>();
  const retryRateLimit = (which: string) => (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number): boolean => {
    if (retryCount >= RATE_LIMIT_RETRIES || retryAfter > RATE_LIMIT_MAX_WAIT_S) {
      sent.set(request, retryCount + 1);
      return false;
    }
    core.info(`autoloop: GitHub's ${which} refused ${request.method} ${request.url}; retrying in ${retryAfter} s as it advises (${retryCount + 1} of ${RATE_LIMIT_RETRIES})`);
    return true;
  };
  return (token, apiUrl) => {
    const octokit = new ActionOctokit({
      auth: token,
      baseUrl: apiUrl,
      userAgent: 'autoloop-action',
      throttle: {
        onRateLimit: retryRateLimit('rate limit'),
        onSecondaryRateLimit: retryRateLimit('secondary rate limit'),
        retryAfterBaseValue: waitUnitMs,
      },
      // Rate limits (403 and 429) are the throttling plugin's to retry, after the advised wait: not this plugin's too.
      retry: { doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451], retryAfterBaseValue: waitUnitMs },
    });
    // Registered last, so it sees the error once both plugins have given up on the request.
    octokit.hook.error('request', (error, options) => {
      const limit = error instanceof RequestError ? rateLimitOf(error) : null;
      if (!limit || !(error instanceof RequestError)) throw error;
      const times = sent.get(options) ?? 1;
      throw new RequestError(
        `GitHub's ${limit.which} refused ${error.request.method} ${error.request.url}${times > 1 ? ` ${times} times` : ''}` +
          `${limit.resets ? ` (it resets at ${limit.resets})` : ''}: re-run the job once the limit has reset, or give the action a token with a limit of its own` +
          ` (GitHub: ${error.message})`,
        error.status,
        { request: error.request, ...(error.response ? { response: error.response } : {}) },
      );
    });
    return octokit;
  };
}

/** Whether GitHub refused a request for a rate limit (as the throttling plugin tells), and when a primary one resets. */
function rateLimitOf(error: { status: number; message: string; response?: { headers: Record<string, unknown> } }): { which: string; resets: string | null } | null {
  if (error.status !== 403 && error.status !== 429) return null;
  const headers = error.response?.headers ?? {};
  if (/\bsecondary rate\b/i.test(error.message) || headers['retry-after'] !== undefined) return { which: 'secondary rate limit', resets: null };
  if (headers['x-ratelimit-remaining'] !== '0') return null;
  const reset = Number(headers['x-ratelimit-reset']);
  return { which: 'rate limit', resets: Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : null };
}
