/**
 * Faults between the App and GitHub, through Probot's real Octokit with its retry and throttling plugins
 * (made immediate): a 502, a reset connection and a secondary rate limit are retried a bounded number of
 * times and end in exactly one pull request; a 422 "already exists" after a retried POST that had in fact
 * succeeded surfaces as a GitHubError 422, which is what the run flow's fallback looks for.
 */
import Bottleneck from 'bottleneck';
import nock from 'nock';
import { ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitHubError } from '../../src/app/github-errors.js';
import { OctokitGateway, type GitHubClient } from '../../src/app/octokit-gateway.js';

const API = 'https://api.github.com';
const PULLS = '/repos/octo/repo/pulls';
const HEAD = 'autoloop/12/exp-1';
const BASE = 'autoloop/12/run';
const REQUEST = { head: HEAD, base: BASE, title: 'autoloop: experiment 1', body: 'hypothesis', draft: true };

/** Secondary rate limits seen, and retries granted: the throttling plugin asks before each retry. */
let secondaryLimits = 0;

/** Probot's Octokit as the App gets it, with the waits of both plugins brought down to (nearly) nothing. */
function probotOctokit(): GitHubClient {
  return new ProbotOctokit({
    auth: 'x',
    // plugin-retry: waits retryAfterBaseValue × n² ms before retry n; 3 retries at most (its default).
    retry: { retryAfterBaseValue: 1, retries: 3 },
    throttle: {
      // The shared limiters space writes 1 s apart and writes that notify (a new pull request) 3 s apart;
      // fresh ones without spacing keep the test fast without changing what is retried.
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 }),
      notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 }),
      retryAfterBaseValue: 1,
      fallbackSecondaryRateRetryAfter: 0,
      onSecondaryRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) => {
        secondaryLimits++;
        return retryCount < 2;
      },
      onRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 2,
    },
  }) as unknown as GitHubClient;
}

const gateway = () => new OctokitGateway(probotOctokit(), { owner: 'octo', repo: 'repo' }, { appSlug: 'autoloop' });

function pullPayload(number: number): Record<string, unknown> {
  return {
    number,
    html_url: `https://github.com/octo/repo/pull/${number}`,
    state: 'open',
    merged_at: null,
    draft: true,
    head: { ref: HEAD, sha: 'a'.repeat(40) },
    base: { ref: BASE, sha: 'b'.repeat(40) },
    body: 'hypothesis',
    labels: [],
  };
}

/** Every request that reached the fake API, in order. */
let requests: string[] = [];
const count = (label: string) => () => {
  requests.push(label);
};

beforeAll(() => {
  nock.disableNetConnect();
});

afterAll(() => {
  nock.enableNetConnect();
});

beforeEach(() => {
  requests = [];
  secondaryLimits = 0;
});

afterEach(() => {
  nock.cleanAll();
});

describe('GitHub faults through the retry and throttling plugins', () => {
  it('retries a 502, a reset connection and a secondary rate limit, then creates exactly one pull request', async () => {
    const created: unknown[] = [];
    let attempts = 0;
    const scope = nock(API)
      .post(PULLS).reply(function () {
        count('502')();
        return [502, { message: 'Bad Gateway' }];
      })
      .post(PULLS).replyWithError({ code: 'ECONNRESET', message: 'socket hang up' })
      .post(PULLS).reply(function () {
        count('403')();
        return [403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }, { 'retry-after': '0' }];
      })
      .post(PULLS).reply(function (_uri, body) {
        count('201')();
        created.push(body);
        return [201, pullPayload(7)];
      });
    // Counts every request the scope answered, the reset one included.
    scope.on('request', () => void attempts++);
    const pull = await gateway().createPullRequest(REQUEST);
    expect(pull).toMatchObject({ number: 7, url: 'https://github.com/octo/repo/pull/7', head: { ref: HEAD }, base: { ref: BASE } });
    // Exactly one pull request, after exactly four attempts: 502, reset, 403, 201.
    expect(created).toEqual([REQUEST]);
    expect(attempts).toBe(4);
    expect(requests).toEqual(['502', '403', '201']);
    expect(secondaryLimits).toBe(1);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('gives up after a bounded number of attempts when GitHub keeps failing', async () => {
    nock(API).post(PULLS).times(4).reply(function () {
      count('502')();
      return [502, { message: 'Bad Gateway' }];
    });
    const error = await gateway().createPullRequest(REQUEST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as GitHubError).status).toBe(502);
    // One attempt and three retries, never a fifth.
    expect(requests).toEqual(['502', '502', '502', '502']);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('stops retrying secondary rate limits when the handler says so', async () => {
    nock(API).post(PULLS).times(3).reply(function () {
      count('403')();
      return [403, { message: 'You have exceeded a secondary rate limit.' }, { 'retry-after': '0' }];
    });
    const error = await gateway().createPullRequest(REQUEST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect((error as GitHubError).status).toBe(403);
    expect(requests).toEqual(['403', '403', '403']);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('surfaces a 422 "already exists" after a retried POST as GitHubError 422, and the existing pull request is found', async () => {
    nock(API)
      // The first POST created the pull request, but its answer was lost (502 from a proxy).
      .post(PULLS).reply(function () {
        count('502')();
        return [502, { message: 'Bad Gateway' }];
      })
      .post(PULLS).reply(function () {
        count('422')();
        return [422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for octo:${HEAD}.` }] }];
      })
      .get(PULLS).query({ head: `octo:${HEAD}`, state: 'all', sort: 'created', direction: 'desc', per_page: '1' }).reply(function () {
        count('list')();
        return [200, [pullPayload(7)]];
      });
    const github = gateway();
    const error = await github.createPullRequest(REQUEST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubError);
    expect(error).toMatchObject({ operation: 'createPullRequest', status: 422 });
    expect((error as GitHubError).message).toContain('already exists');
    // 422 is never retried: exactly the two POSTs.
    expect(requests).toEqual(['502', '422']);
    // What run-flow's proposalCompleted does with it: the 422 means "find the pull request for the branch".
    const existing = error instanceof GitHubError && error.status === 422 ? await github.findPullRequest(HEAD) : null;
    expect(existing).toMatchObject({ number: 7, head: { ref: HEAD } });
    expect(requests).toEqual(['502', '422', 'list']);
    expect(nock.pendingMocks()).toEqual([]);
  });
});
