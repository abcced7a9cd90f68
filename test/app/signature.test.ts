/**
 * Webhook signatures, in process: the real App (src/app/index.ts) behind Probot's `createNodeMiddleware` on a
 * node:http server, plus a recorder app that sees every event Probot lets through. Only a delivery whose
 * `x-hub-signature-256` is the HMAC of the exact body reaches any handler; nothing else calls GitHub.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import nock from 'nock';
import { createNodeMiddleware, Probot, ProbotOctokit, type ApplicationFunction } from 'probot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import autoloopApp from '../../src/app/index.js';
import { settled } from '../../src/app/handlers.js';
import { webhookExample } from '../fixtures/events/webhooks.js';

const SECRET = 'signature-test-secret';

/** Every event a handler received, and every request that tried to leave for GitHub. */
const received: { name: string; id: string }[] = [];
const outbound: string[] = [];

const recorder: ApplicationFunction = (app) => {
  app.onAny(async (context) => {
    received.push({ name: context.name, id: context.id });
  });
};

let server: Server;
let url: string;

const onNoMatch = (request: { method?: string; href?: string; host?: string; path?: string; options?: { href?: string } }): void => {
  const target = `${request.method ?? ''} ${request.href ?? request.options?.href ?? `${request.host ?? ''}${request.path ?? ''}`}`;
  // Requests to the test server itself pass through (enableNetConnect) but still emit 'no match'.
  if (!target.includes('127.0.0.1')) outbound.push(target);
};

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  nock.emitter.on('no match', onNoMatch);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const probot = new Probot({
    appId: 1,
    privateKey,
    secret: SECRET,
    logLevel: 'fatal',
    // No retries: a GitHub call the App makes for a good delivery fails at once (nock refuses it).
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
  });
  const middleware = await createNodeMiddleware([autoloopApp, recorder] as unknown as ApplicationFunction, { probot });
  server = createServer((req, res) => {
    void middleware(req, res, () => {
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  url = `http://127.0.0.1:${port}/api/github/webhooks`;
});

afterAll(async () => {
  nock.emitter.removeListener('no match', onNoMatch);
  nock.cleanAll();
  nock.enableNetConnect();
  await new Promise((resolve) => server?.close(resolve));
});

beforeEach(() => {
  received.length = 0;
  outbound.length = 0;
  // Records (and refuses) anything sent to the API: a 4xx delivery must send nothing at all.
  const scope = nock('https://api.github.com').persist();
  for (const method of ['GET', 'POST', 'PATCH', 'PUT', 'DELETE']) {
    scope.intercept(/.*/, method).reply(function () {
      outbound.push(`${this.req.method} ${this.req.path}`);
      return [503, { message: 'no GitHub in this test' }];
    });
  }
});

afterEach(() => {
  nock.cleanAll();
});

/** An `/optimize` comment by a User, with an installation: exactly what the App acts on. */
function delivery(): string {
  const event = webhookExample<{ comment: { body: string; user: { type: string } }; sender: { type: string } }>('issue_comment', 'created');
  event.comment.body = '/optimize 3 make it faster';
  event.comment.user.type = 'User';
  event.sender.type = 'User';
  return JSON.stringify({ ...event, installation: { id: 1 } });
}

const hmac = (algorithm: 'sha1' | 'sha256', body: string, secret = SECRET) => `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;

function post(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'issue_comment', 'x-github-delivery': `delivery-${Math.random()}`, ...headers },
    body,
  });
}


describe('webhook signatures', () => {
  it('delivers a correctly signed /optimize comment to the handlers, and the App acts on it', async () => {
    const body = delivery();
    const response = await post(body, { 'x-hub-signature-256': hmac('sha256', body) });
    await response.text();
    // Acknowledged at once; the work (here: calls to GitHub, which nock refuses) happens after.
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    await settled();
    expect(received).toEqual([expect.objectContaining({ name: 'issue_comment' })]);
    expect(outbound.length).toBeGreaterThan(0);
  });

  it('acknowledges a correctly signed delivery with 2xx when the handlers succeed', async () => {
    const event = JSON.parse(delivery()) as { comment: { user: { type: string } }; sender: { type: string } };
    // A bot's comment: the App ignores it without calling GitHub, so nothing can fail.
    event.comment.user.type = 'Bot';
    event.sender.type = 'Bot';
    const body = JSON.stringify(event);
    const response = await post(body, { 'x-hub-signature-256': hmac('sha256', body) });
    await response.text();
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    expect(received).toEqual([expect.objectContaining({ name: 'issue_comment' })]);
    expect(outbound).toEqual([]);
  });

  const rejected: [string, (body: string) => { body: string; headers: Record<string, string> }][] = [
    ['no signature', (body) => ({ body, headers: {} })],
    ['a signature made with another secret', (body) => ({ body, headers: { 'x-hub-signature-256': hmac('sha256', body, 'not-the-secret') } })],
    ['a malformed signature', (body) => ({ body, headers: { 'x-hub-signature-256': 'sha256=zz' } })],
    ['only a SHA-1 x-hub-signature', (body) => ({ body, headers: { 'x-hub-signature': hmac('sha1', body) } })],
    ['a body changed after signing', (body) => ({ body: body.replace('/optimize 3', '/optimize 999'), headers: { 'x-hub-signature-256': hmac('sha256', body) } })],
    ['a body with whitespace added after signing', (body) => ({ body: `${body}\n`, headers: { 'x-hub-signature-256': hmac('sha256', body) } })],
  ];

  it.each(rejected)('rejects %s with 4xx, reaching no handler and calling no GitHub API', async (_, make) => {
    const { body, headers } = make(delivery());
    const response = await post(body, headers);
    await response.text();
    // Any work a handler had (wrongly) accepted would be awaited here.
    await settled();
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(received).toEqual([]);
    expect(outbound).toEqual([]);
  });
});
