import { RequestError } from '@octokit/request-error';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultDependencies, loadOctokit, prepareDependencies, RATE_LIMIT_MAX_WAIT_S, RATE_LIMIT_RETRIES } from '../../src/action/dependencies.js';

const API = 'https://api.github.com';
/** Every wait in milliseconds instead of seconds: a retry after GitHub's advised `n` s waits `n` × this. */
const WAIT_UNIT_MS = 10;

beforeEach(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

const client = async () => (await loadOctokit({ waitUnitMs: WAIT_UNIT_MS }))('test-token', API);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const spent = (resetIn: number) => ({ 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(nowSeconds() + resetIn) });

describe("the action's Octokit", () => {
  // First in the file: the module loads Octokit once, for the modes that call GitHub.
  it('is loaded only for the modes that call GitHub: evaluate never loads it', async () => {
    const dependencies = defaultDependencies();
    await prepareDependencies('evaluate');
    expect(() => dependencies.octokit('test-token', API)).toThrow(/before prepareDependencies\(\) loaded it/);
    await prepareDependencies('loop');
    nock(API).get('/repos/octo-org/optimised').matchHeader('authorization', 'token test-token').reply(200, { default_branch: 'main' });
    const { data } = await dependencies.octokit('test-token', API).rest.repos.get({ owner: 'octo-org', repo: 'optimised' });
    expect(data.default_branch).toBe('main');
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('sends a request refused by a secondary rate limit again, after the wait GitHub advises', async () => {
    const octokit = await client();
    nock(API)
      .get('/repos/octo-org/optimised/pulls')
      .reply(403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }, { 'retry-after': '5' })
      .get('/repos/octo-org/optimised/pulls')
      .reply(200, []);
    const started = performance.now();
    const { data } = await octokit.rest.pulls.list({ owner: 'octo-org', repo: 'optimised' });
    expect(data).toEqual([]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(5 * WAIT_UNIT_MS);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it(`gives up on a spent rate limit after ${RATE_LIMIT_RETRIES} retries, with a message that says so`, async () => {
    const octokit = await client();
    const reset = nowSeconds() + 1;
    nock(API)
      .get('/repos/octo-org/optimised/pulls')
      .times(RATE_LIMIT_RETRIES + 1)
      .reply(403, { message: 'API rate limit exceeded for installation ID 1.' }, { ...spent(1), 'x-ratelimit-reset': String(reset) });
    const error = await octokit.rest.pulls.list({ owner: 'octo-org', repo: 'optimised' }).catch((e: unknown) => e);
    expect(nock.pendingMocks()).toStrictEqual([]);
    // Still a RequestError with GitHub's status: callers branch on those.
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).status).toBe(403);
    expect((error as Error).message).toBe(
      `GitHub's rate limit refused GET ${API}/repos/octo-org/optimised/pulls ${RATE_LIMIT_RETRIES + 1} times ` +
        `(it resets at ${new Date(reset * 1000).toISOString().replace('.000Z', 'Z')}): ` +
        're-run the job once the limit has reset, or give the action a token with a limit of its own (GitHub: API rate limit exceeded for installation ID 1.)',
    );
  });

  it('fails at once when the limit resets later than a job should wait', async () => {
    const octokit = await client();
    nock(API)
      .post('/repos/octo-org/optimised/pulls')
      .reply(403, { message: 'API rate limit exceeded for user ID 1.' }, spent(2 * RATE_LIMIT_MAX_WAIT_S));
    const started = performance.now();
    await expect(octokit.rest.pulls.create({ owner: 'octo-org', repo: 'optimised', head: 'autoloop/t1/run', base: 'main', title: 't' })).rejects.toThrow(
      /^GitHub's rate limit refused POST https:\/\/api\.github\.com\/repos\/octo-org\/optimised\/pulls \(it resets at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\): re-run the job .*\(GitHub: API rate limit exceeded for user ID 1\.\)$/,
    );
    expect(performance.now() - started).toBeLessThan(RATE_LIMIT_MAX_WAIT_S * WAIT_UNIT_MS);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('retries a server error with backoff, and leaves any other refusal as GitHub said it', async () => {
    const octokit = await client();
    nock(API).get('/repos/octo-org/optimised').reply(502, 'Bad Gateway').get('/repos/octo-org/optimised').reply(200, { default_branch: 'main' });
    expect((await octokit.rest.repos.get({ owner: 'octo-org', repo: 'optimised' })).data.default_branch).toBe('main');

    // A 403 that is not a rate limit (a token without the permission) is neither retried nor reworded.
    nock(API).get('/repos/octo-org/optimised/pulls').reply(403, { message: 'Resource not accessible by integration' });
    const error = await octokit.rest.pulls.list({ owner: 'octo-org', repo: 'optimised' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect((error as RequestError).status).toBe(403);
    expect((error as Error).message).toMatch(/^Resource not accessible by integration/);
    expect(nock.pendingMocks()).toStrictEqual([]);
  });
});
