/**
 * The App function (src/app/index.ts) serves `/healthz` wherever Probot gives it a server (`probot run`, `run`,
 * `createNodeMiddleware`), asks GitHub nothing until the endpoint is asked, and loads without a server too.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import nock from 'nock';
import { createNodeMiddleware, Probot, ProbotOctokit } from 'probot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appHealth } from '../../src/app/health.js';
import autoloopApp from '../../src/app/index.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const probot = () => new Probot({ appId: 7, privateKey, secret: 'index-test', logLevel: 'fatal', Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }) });

// No sweep timer: its first sweep would ask GET /app too.
process.env.AUTOLOOP_SWEEP_MINUTES = '0';

let server: Server;
let base: string;
let app: Probot;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  app = probot();
  const middleware = await createNodeMiddleware(autoloopApp, { probot: app });
  server = createServer((req, res) => {
    void middleware(req, res, () => res.writeHead(404).end());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server?.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('the App function', () => {
  it('serves /healthz: unknown at first, then what GET /app said, asked once', async () => {
    const github = nock('https://api.github.com').get('/app').once().reply(200, { id: 7, slug: 'autoloop-index' });
    const first = await fetch(`${base}/healthz`);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ status: 'ok', authenticated: null, app: null });
    await expect.poll(async () => (await (await fetch(`${base}/healthz`)).json()) as unknown).toMatchObject({ status: 'ok', authenticated: true, app: 'autoloop-index' });
    expect(appHealth(app).authentication).toEqual({ state: 'authenticated', slug: 'autoloop-index', id: 7 });
    github.done();
    expect(nock.pendingMocks()).toStrictEqual([]);
  });

  it('loads into a Probot without a server (no endpoint, no error, nothing asked of GitHub)', async () => {
    const asked: string[] = [];
    const record = (request: { path?: string }) => asked.push(request.path ?? '?');
    nock.emitter.on('no match', record);
    try {
      await expect(probot().load(autoloopApp)).resolves.toBeUndefined();
      await new Promise((r) => setTimeout(r, 50));
      expect(asked).toEqual([]);
    } finally {
      nock.emitter.removeListener('no match', record);
    }
  });
});
