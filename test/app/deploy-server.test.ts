/**
 * `npm start`'s entry (src/app/server.ts) as a real process, over a fake GitHub (GHE_HOST points Probot and the
 * registration at it): it refuses a bad key and a registration without a webhook URL, registers through the
 * manifest flow into a credentials file outside the checkout, starts from that file, and answers /healthz.
 * Each process runs in an empty directory with its own credentials file: no `.env` and no user config reach it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../fixtures/local/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const ENTRY = join(ROOT, 'src/app/server.ts');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PROXY = 'https://smee.io/autoloop-test-channel';
const { privateKey: PEM } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

/** The fake GitHub: `GET /app` answers `appStatus`, the manifest conversion answers a new App; requests are recorded. */
let github: Server;
let githubHost: string;
let appStatus = 200;
const requests: string[] = [];

beforeAll(async () => {
  github = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === '/api/v3/app') {
      if (appStatus === 200) json(200, { id: 42, slug: 'autoloop-test', name: 'autoloop-test' });
      else json(appStatus, { message: 'A JSON web token could not be decoded' });
    } else if (req.method === 'POST' && req.url === '/api/v3/app-manifests/the-code/conversions') {
      json(201, { id: 42, slug: 'autoloop-test', html_url: 'https://github.com/apps/autoloop-test', pem: PEM, webhook_secret: 'from-registration', client_id: 'Iv1.test', client_secret: 'client-secret' });
    } else json(404, { message: 'Not Found' });
  });
  await new Promise<void>((done) => github.listen(0, '127.0.0.1', done));
  githubHost = `127.0.0.1:${(github.address() as { port: number }).port}`;
});

afterAll(() => github?.close());

/** One start of the server, in its own empty directory, with only the environment a test gives it. */
interface Started {
  process: ChildProcess;
  base: string;
  /** Holds `work` (the working directory) and `config/app.env` (the credentials file). */
  home: string;
  cwd: string;
  envFile: string;
  output: () => string;
  exited: Promise<number | null>;
}

const homes = new Set<string>();
const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
});
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

/** Starts the entry; `after` starts it again in the same directories (the credentials file it left included). */
async function start(env: Record<string, string>, after?: Started): Promise<Started> {
  const home = after?.home ?? mkdtempSync(join(tmpdir(), 'autoloop-start-'));
  homes.add(home);
  const cwd = join(home, 'work');
  mkdirSync(cwd, { recursive: true });
  const envFile = join(home, 'config', 'app.env');
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', TSX, ENTRY], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      AUTOLOOP_ENV_FILE: envFile,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      GHE_HOST: githubHost,
      GHE_PROTOCOL: 'http',
      AUTOLOOP_SWEEP_MINUTES: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { process: child, base: `http://127.0.0.1:${port}`, home, cwd, envFile, output: () => output, exited };
}

/** Resolves once `/healthz` answers `until` (or the process exits: then it fails with the output). */
async function health(run: Started, until: (body: { authenticated: boolean | null }, status: number) => boolean) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answer = await fetch(`${run.base}/healthz`).then(async (r) => ({ status: r.status, body: (await r.json()) as { authenticated: boolean | null; status: string; version: string; app: string | null } }), () => null);
    if (answer && until(answer.body, answer.status)) return answer;
    if (Date.now() > deadline || run.process.exitCode !== null) throw new Error(`no such health:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm start', () => {
  it('stops at once on a PRIVATE_KEY that is not a PEM RSA key, naming it and not printing it', async () => {
    const run = await start({ APP_ID: '42', WEBHOOK_SECRET: 's', PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\\nMIIEsecretbodythatmustnotbeprinted\\n-----END RSA PRIVATE KEY-----' });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('autoloop: PRIVATE_KEY does not parse as a PEM private key');
    expect(run.output()).not.toContain('secretbody');
  });

  it('refuses to register without WEBHOOK_PROXY_URL or AUTOLOOP_PUBLIC_URL, saying what to set', async () => {
    const run = await start({});
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('autoloop cannot register the App');
    expect(run.output()).toContain('WEBHOOK_PROXY_URL');
    expect(run.output()).toContain('AUTOLOOP_PUBLIC_URL');
  });

  it('refuses a .env in its working directory', async () => {
    const home = mkdtempSync(join(tmpdir(), 'autoloop-dotenv-'));
    mkdirSync(join(home, 'work'));
    writeFileSync(join(home, 'work', '.env'), 'APP_ID=1\n');
    const run = await start({ WEBHOOK_PROXY_URL: PROXY }, { home } as Started);
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain(`${join(home, 'work', '.env')} exists`);
  });

  it('registers from the manifest with the proxy as webhook URL, saves the credentials outside the checkout, then starts from them', async () => {
    const register = await start({ WEBHOOK_PROXY_URL: PROXY });
    const unregistered = await health(register, (_, status) => status === 503);
    expect(unregistered.body).toMatchObject({ status: 'unregistered', authenticated: false, version: VERSION });

    const form = await (await fetch(`${register.base}/probot`)).text();
    const manifest = JSON.parse((/name="manifest" value="([^"]*)"/.exec(form)?.[1] ?? '').replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)))) as Record<string, unknown>;
    expect(manifest.hook_attributes).toEqual({ url: PROXY, active: true });
    expect(manifest.redirect_url).toBe(`${register.base}/probot/setup`);
    const state = /settings\/apps\/new\?state=([0-9a-f]+)"/.exec(form)?.[1];
    expect(form).toContain(`action="http://${githubHost}/settings/apps/new?state=`);

    const forged = await fetch(`${register.base}/probot/setup?code=the-code&state=not-${state}`, { redirect: 'manual' });
    expect(forged.status).toBe(400);
    expect(requests.filter((r) => r.includes('conversions'))).toEqual([]);

    const done = await fetch(`${register.base}/probot/setup?code=the-code&state=${state}`, { redirect: 'manual' });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('https://github.com/apps/autoloop-test/installations/new');
    expect(statSync(register.envFile).mode & 0o777).toBe(0o600);
    const saved = parseEnv(readFileSync(register.envFile, 'utf8'));
    expect(saved).toMatchObject({ APP_ID: '42', WEBHOOK_SECRET: 'from-registration', WEBHOOK_PROXY_URL: PROXY, GITHUB_CLIENT_SECRET: 'client-secret' });
    expect(readFileSync(saved.PRIVATE_KEY_PATH!, 'utf8')).toBe(PEM);
    expect(readdirSync(register.cwd)).toEqual([]);
    expect((await fetch(`${register.base}/probot/setup?code=the-code&state=${state}`, { redirect: 'manual' })).status).toBe(409);
    register.process.kill('SIGTERM');
    await register.exited;

    // The next start reads only the credentials file: no APP_ID, key or secret in its environment.
    appStatus = 200;
    const app = await start({}, register);
    const healthy = await health(app, (body) => body.authenticated !== null);
    expect(healthy).toEqual({ status: 200, body: { status: 'ok', version: VERSION, authenticated: true, app: 'autoloop-test' } });
    expect(app.output()).toContain('authenticated with GitHub as autoloop-test');
    // Probot's webhook endpoint checks signatures with the saved secret.
    const unsigned = await fetch(`${app.base}/api/github/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': 'd1' }, body: '{}' });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
    expect(unsigned.status).toBeLessThan(500);
  });

  it('answers /healthz with 503 when GitHub refuses the credentials', async () => {
    appStatus = 401;
    try {
      const run = await start({ APP_ID: '42', WEBHOOK_SECRET: 's', PRIVATE_KEY: Buffer.from(PEM).toString('base64') });
      const refused = await health(run, (body) => body.authenticated !== null);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ status: 'refused', authenticated: false, version: VERSION });
      expect(run.output()).toContain("GitHub refused the App's credentials (401");
    } finally {
      appStatus = 200;
    }
  });
});
