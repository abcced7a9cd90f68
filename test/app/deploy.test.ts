/**
 * Installing and deploying the App, in process: the manifest registration posts (its webhook URL from the
 * environment, never app.yml's placeholder), the private-key check, where credentials live, the health
 * endpoint, and the Dockerfile read as text (docker cannot run here).
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AppHealth, HEALTH_PATH, HEALTH_RECHECK_MS, healthHandler } from '../../src/app/health.js';
import {
  AppSetupError,
  APP_MANIFEST_FILE,
  buildManifest,
  credentialsFile,
  loadCredentials,
  planStart,
  readPrivateKey,
  refuseCheckoutDotEnv,
  saveRegistration,
  webhookUrl,
  type Env,
} from '../../src/app/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP_YML = readFileSync(APP_MANIFEST_FILE, 'utf8');
const PROXY = 'https://smee.io/autoloop-test-channel';

const rsa = (type: 'pkcs1' | 'pkcs8') =>
  generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type, format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const PKCS1 = rsa('pkcs1');
const PKCS8 = rsa('pkcs8').privateKey;
const EC = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
/** A key whose body was mangled: it has the header GitHub's keys have, and must still be refused. */
const MANGLED = '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretbodythatmustnotbeprinted0123456789\n-----END RSA PRIVATE KEY-----\n';

const scratch = mkdtempSync(join(tmpdir(), 'autoloop-deploy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The error `action` throws, which must be an AppSetupError. */
function setupError(action: () => unknown): AppSetupError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(AppSetupError);
    return error as AppSetupError;
  }
  throw new Error('expected an AppSetupError');
}

describe('the manifest registration posts', () => {
  it('sends the webhooks to WEBHOOK_PROXY_URL when it is set, and keeps app.yml\'s permissions and events', () => {
    const manifest = buildManifest(APP_YML, { WEBHOOK_PROXY_URL: PROXY }, 'http://localhost:3000');
    expect(manifest.hook_attributes).toEqual({ url: PROXY, active: true });
    expect(manifest.redirect_url).toBe('http://localhost:3000/probot/setup');
    expect(manifest.public).toBe(false);
    expect(manifest.name).toBe('autoloop');
    expect(manifest.default_permissions).toEqual({ contents: 'write', pull_requests: 'write', issues: 'write', checks: 'write', actions: 'write', metadata: 'read' });
    expect(manifest.default_events).toEqual(['issue_comment', 'pull_request', 'workflow_run', 'check_run']);
    expect(JSON.stringify(manifest)).not.toContain('example.com');
  });

  it('sends them to AUTOLOOP_PUBLIC_URL + the webhook path otherwise (WEBHOOK_PATH, trailing slashes, a path prefix)', () => {
    expect(webhookUrl({ AUTOLOOP_PUBLIC_URL: 'https://bot.acme.dev' })).toEqual({ url: 'https://bot.acme.dev/api/github/webhooks', from: 'AUTOLOOP_PUBLIC_URL' });
    expect(webhookUrl({ AUTOLOOP_PUBLIC_URL: 'https://acme.dev/autoloop/' }).url).toBe('https://acme.dev/autoloop/api/github/webhooks');
    expect(webhookUrl({ AUTOLOOP_PUBLIC_URL: 'https://acme.dev/api/github/webhooks' }).url).toBe('https://acme.dev/api/github/webhooks');
    expect(webhookUrl({ AUTOLOOP_PUBLIC_URL: 'https://acme.dev', WEBHOOK_PATH: '/hooks' }).url).toBe('https://acme.dev/hooks');
    expect(webhookUrl({ AUTOLOOP_PUBLIC_URL: 'https://acme.dev', WEBHOOK_PROXY_URL: PROXY })).toEqual({ url: PROXY, from: 'WEBHOOK_PROXY_URL' });
  });

  it('refuses to register without a webhook URL, saying what to set', () => {
    for (const env of [{}, { WEBHOOK_PROXY_URL: '  ' }] as Env[]) {
      const error = setupError(() => buildManifest(APP_YML, env, 'http://localhost:3000'));
      expect(error.message).toContain('WEBHOOK_PROXY_URL');
      expect(error.message).toContain('AUTOLOOP_PUBLIC_URL');
      expect(error.message).toContain('https://smee.io/new');
    }
    expect(setupError(() => planStart({}, scratch)).variable).toBe('AUTOLOOP_PUBLIC_URL');
  });

  it('refuses a URL GitHub cannot deliver to: a placeholder, this machine, plain http, not a URL', () => {
    for (const [variable, value] of [
      ['AUTOLOOP_PUBLIC_URL', 'https://example.com'],
      ['AUTOLOOP_PUBLIC_URL', 'https://bot.example.org/'],
      ['AUTOLOOP_PUBLIC_URL', 'https://localhost:3000'],
      ['AUTOLOOP_PUBLIC_URL', 'https://127.0.0.1'],
      ['AUTOLOOP_PUBLIC_URL', 'https://[::1]:3000'],
      ['AUTOLOOP_PUBLIC_URL', 'http://bot.acme.dev'],
      ['WEBHOOK_PROXY_URL', 'smee.io/channel'],
      ['WEBHOOK_PROXY_URL', 'https://app.test/x'],
    ] as const) {
      const error = setupError(() => webhookUrl({ [variable]: value }));
      expect(error.variable).toBe(variable);
      expect(error.message).toContain(variable);
    }
  });

  it('ignores a webhook URL in app.yml: the placeholder never reaches GitHub', () => {
    const planted = `${APP_YML}\nhook_attributes:\n  url: https://example.com/api/github/webhooks\n  active: false\n`;
    expect(buildManifest(planted, { AUTOLOOP_PUBLIC_URL: 'https://bot.acme.dev' }, 'https://bot.acme.dev').hook_attributes).toEqual({
      url: 'https://bot.acme.dev/api/github/webhooks',
      active: true,
    });
    expect(parseYaml(APP_YML)).not.toHaveProperty('hook_attributes');
    expect(APP_YML).not.toContain('example.com');
  });

  it('names the App AUTOLOOP_APP_NAME when it is set (App names are unique on GitHub)', () => {
    expect(buildManifest(APP_YML, { WEBHOOK_PROXY_URL: PROXY, AUTOLOOP_APP_NAME: 'autoloop-acme' }, 'http://localhost:3000').name).toBe('autoloop-acme');
  });
});

describe('the private key', () => {
  it('accepts GitHub\'s PEM (PKCS#1), PKCS#8, with \\n escapes, base64-encoded, on one line, or in the file PRIVATE_KEY_PATH names', () => {
    const keyFile = join(scratch, 'app.pem');
    writeFileSync(keyFile, PKCS1.privateKey);
    const oneLine = PKCS1.privateKey.trim().replace(/\n/g, ' ');
    for (const env of [
      { PRIVATE_KEY: PKCS1.privateKey },
      { PRIVATE_KEY: PKCS1.privateKey.replace(/\n/g, '\\n') },
      { PRIVATE_KEY: Buffer.from(PKCS1.privateKey).toString('base64') },
      { PRIVATE_KEY: oneLine },
      { PRIVATE_KEY_PATH: keyFile },
    ]) {
      expect(readPrivateKey(env, scratch)).toBe(PKCS1.privateKey);
    }
    expect(readPrivateKey({ PRIVATE_KEY: PKCS8 }, scratch)).toBe(PKCS8);
    expect(readPrivateKey({}, scratch)).toBeNull();
  });

  it('refuses a PRIVATE_KEY that is not a PEM RSA private key, naming the variable, never printing the key', () => {
    for (const [value, why] of [
      [MANGLED, 'does not parse'],
      ['MIIEsecretbodythatmustnotbeprinted0123456789', 'no "-----BEGIN RSA PRIVATE KEY-----" line'],
      [PKCS1.publicKey, 'no "-----BEGIN RSA PRIVATE KEY-----" line'],
      [EC, 'GitHub Apps sign with RSA'],
    ] as const) {
      const error = setupError(() => readPrivateKey({ PRIVATE_KEY: value }, scratch));
      expect(error.variable).toBe('PRIVATE_KEY');
      expect(error.message).toMatch(/^PRIVATE_KEY /);
      expect(error.message).toContain(why);
      expect(error.message).toContain('-----BEGIN RSA PRIVATE KEY-----');
      expect(error.message).not.toContain('secretbody');
      expect(error.message).not.toContain(EC.split('\n')[1]);
    }
  });

  it('refuses a PRIVATE_KEY_PATH that cannot be read or holds no key, naming the variable and the path', () => {
    const missing = setupError(() => readPrivateKey({ PRIVATE_KEY_PATH: 'nowhere.pem' }, scratch));
    expect(missing.variable).toBe('PRIVATE_KEY_PATH');
    expect(missing.message).toContain(join(scratch, 'nowhere.pem'));
    expect(missing.message).toContain('ENOENT');
    const garbage = join(scratch, 'garbage.pem');
    writeFileSync(garbage, MANGLED);
    const bad = setupError(() => readPrivateKey({ PRIVATE_KEY_PATH: garbage }, scratch));
    expect(bad.variable).toBe('PRIVATE_KEY_PATH');
    expect(bad.message).toContain(garbage);
    expect(bad.message).not.toContain('secretbody');
  });

  it('is checked at start: a bad key, a missing one, a bad APP_ID or no WEBHOOK_SECRET stop it, naming the variable', () => {
    const good = { APP_ID: '12', PRIVATE_KEY: PKCS1.privateKey, WEBHOOK_SECRET: 's' };
    expect(planStart(good, scratch)).toEqual({ mode: 'app', appId: 12, privateKey: PKCS1.privateKey, secret: 's' });
    expect(setupError(() => planStart({ ...good, PRIVATE_KEY: MANGLED }, scratch)).variable).toBe('PRIVATE_KEY');
    expect(setupError(() => planStart({ ...good, PRIVATE_KEY: undefined }, scratch)).variable).toBe('PRIVATE_KEY');
    expect(setupError(() => planStart({ ...good, APP_ID: undefined }, scratch)).variable).toBe('APP_ID');
    expect(setupError(() => planStart({ ...good, APP_ID: 'my-app' }, scratch)).variable).toBe('APP_ID');
    expect(setupError(() => planStart({ ...good, WEBHOOK_SECRET: '' }, scratch)).variable).toBe('WEBHOOK_SECRET');
    expect(setupError(() => planStart({ ...good, AUTOLOOP_SWEEP_MINUTES: 'often' }, scratch)).variable).toBe('AUTOLOOP_SWEEP_MINUTES');
  });

  it('without credentials, registers, except in production', () => {
    expect(planStart({ WEBHOOK_PROXY_URL: PROXY }, scratch)).toEqual({ mode: 'register', webhook: { url: PROXY, from: 'WEBHOOK_PROXY_URL' } });
    const production = setupError(() => planStart({ NODE_ENV: 'production', WEBHOOK_PROXY_URL: PROXY }, scratch));
    expect(production.variable).toBe('APP_ID');
    expect(production.message).toContain('PRIVATE_KEY');
  });
});

describe('the credentials', () => {
  it('live outside the checkout: AUTOLOOP_ENV_FILE, else the user\'s config directory', () => {
    expect(credentialsFile({ AUTOLOOP_ENV_FILE: 'creds/app.env' })).toBe(resolve('creds/app.env'));
    expect(credentialsFile({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/autoloop/app.env');
    expect(credentialsFile({}).startsWith(ROOT)).toBe(false);
  });

  it('are read from that file under the shell\'s environment, which wins', () => {
    const file = join(scratch, 'load', 'app.env');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'APP_ID="7"\nWEBHOOK_SECRET="from-file"\nPRIVATE_KEY_PATH="/k.pem#x"\n');
    const env: Env = { WEBHOOK_SECRET: 'from-shell' };
    expect(loadCredentials(file, env)).toEqual(['APP_ID', 'PRIVATE_KEY_PATH']);
    expect(env).toEqual({ APP_ID: '7', WEBHOOK_SECRET: 'from-shell', PRIVATE_KEY_PATH: '/k.pem#x' });
    expect(loadCredentials(join(scratch, 'none.env'), env)).toEqual([]);
  });

  it('refuse a .env in the working directory, which Probot would load over the environment', () => {
    const checkout = join(scratch, 'checkout');
    mkdirSync(checkout, { recursive: true });
    refuseCheckoutDotEnv(checkout, '/home/u/.config/autoloop/app.env');
    writeFileSync(join(checkout, '.env'), 'APP_ID=1\n');
    const error = setupError(() => refuseCheckoutDotEnv(checkout, '/home/u/.config/autoloop/app.env'));
    expect(error.variable).toBe('.env');
    expect(error.message).toContain(`mv ${join(checkout, '.env')} /home/u/.config/autoloop/app.env`);
  });

  it('are saved by registration readable by their owner only, the key in its own file, and read back by the next start', () => {
    const file = join(scratch, 'saved', 'app.env');
    const { pemFile } = saveRegistration(
      file,
      { id: 42, slug: 'autoloop-acme', html_url: 'https://github.com/apps/autoloop-acme', pem: PKCS1.privateKey, webhook_secret: 'hook#secret', client_id: 'Iv1.x', client_secret: 'cs' },
      { WEBHOOK_PROXY_URL: PROXY },
    );
    expect(pemFile).toBe(join(scratch, 'saved', 'autoloop-acme.private-key.pem'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(pemFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(pemFile, 'utf8')).toBe(PKCS1.privateKey);
    expect(parseEnv(readFileSync(file, 'utf8'))).toEqual({
      WEBHOOK_PROXY_URL: PROXY,
      APP_ID: '42',
      PRIVATE_KEY_PATH: pemFile,
      WEBHOOK_SECRET: 'hook#secret',
      GITHUB_CLIENT_ID: 'Iv1.x',
      GITHUB_CLIENT_SECRET: 'cs',
    });
    const env: Env = {};
    loadCredentials(file, env);
    expect(planStart(env, scratch)).toMatchObject({ mode: 'app', appId: 42, secret: 'hook#secret', privateKey: PKCS1.privateKey });
  });
});

describe('the health endpoint', () => {
  /** A clock the test moves, and a GitHub that answers what the test says. */
  function subject(answers: (() => Promise<{ slug: string; id: number }>)[]) {
    let now = 1_000;
    let asked = 0;
    const health = new AppHealth(
      () => {
        const answer = answers[Math.min(asked, answers.length - 1)]!;
        asked += 1;
        return answer();
      },
      () => now,
    );
    return { health, asked: () => asked, advance: (ms: number) => (now += ms) };
  }
  const refused = () => Promise.reject(Object.assign(new Error('A JSON web token could not be decoded'), { status: 401 }));
  const unreachable = () => Promise.reject(new Error('connect ECONNREFUSED'));
  const accepted = () => Promise.resolve({ slug: 'autoloop-acme', id: 42 });
  const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  it('answers at once, and asks GitHub once in the background: authenticated, with the version and the App', async () => {
    const { health, asked } = subject([accepted]);
    expect(health.report()).toEqual({ status: 'ok', version: VERSION, authenticated: null, app: null });
    health.report();
    await health.check();
    expect(asked()).toBe(1);
    expect(health.report()).toEqual({ status: 'ok', version: VERSION, authenticated: true, app: 'autoloop-acme' });
  });

  it('reports refused credentials as unhealthy, for good', async () => {
    const { health, asked, advance } = subject([refused, accepted]);
    await health.check();
    const report = health.report();
    expect(report).toMatchObject({ status: 'refused', authenticated: false });
    expect(report.reason).toContain('401');
    advance(10 * HEALTH_RECHECK_MS);
    health.report();
    expect(asked()).toBe(1);
  });

  it('stays up while GitHub is unreachable, and asks again a minute later', async () => {
    const { health, asked, advance } = subject([unreachable, accepted]);
    await health.check();
    expect(health.report()).toMatchObject({ status: 'ok', authenticated: null });
    expect(asked()).toBe(1);
    advance(HEALTH_RECHECK_MS);
    health.report();
    await health.check();
    expect(asked()).toBe(2);
    expect(health.report().authenticated).toBe(true);
  });

  it('is served as JSON on GET and HEAD /healthz, 503 when the App cannot work, and leaves other requests alone', async () => {
    let status: 'ok' | 'refused' = 'ok';
    const handler = healthHandler(() => ({ status, version: '1.2.3', authenticated: status === 'ok', app: null }));
    const server: Server = createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const ok = await fetch(`${base}${HEALTH_PATH}?probe=1`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toContain('application/json');
      expect(await ok.json()).toEqual({ status: 'ok', version: '1.2.3', authenticated: true, app: null });
      expect((await fetch(`${base}${HEALTH_PATH}`, { method: 'HEAD' })).status).toBe(200);
      status = 'refused';
      expect((await fetch(`${base}${HEALTH_PATH}`)).status).toBe(503);
      expect((await fetch(`${base}/healthzz`)).status).toBe(404);
      expect((await fetch(`${base}${HEALTH_PATH}`, { method: 'POST' })).status).toBe(404);
    } finally {
      server.close();
    }
  });
});

/** A Dockerfile's instructions, continuation lines joined and comments dropped, grouped by stage. */
function dockerStages(text: string): { from: string; name: string | null; steps: { op: string; args: string }[] }[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const stages: { from: string; name: string | null; steps: { op: string; args: string }[] }[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      stages.push({ from: image, name: as?.toUpperCase() === 'AS' ? (name ?? null) : null, steps: [] });
    } else stages.at(-1)?.steps.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stages = dockerStages(dockerfile);
  const runtime = stages.at(-1)!;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string>; dependencies: Record<string, string> };
  const args = (stage: typeof runtime, op: string) => stage.steps.filter((step) => step.op === op).map((step) => step.args);

  it('builds on an LTS node:<major>-slim that package.json\'s engines allow', () => {
    const minimum = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      const major = Number(/^node:(\d+)-slim$/.exec(stage.from)?.[1]);
      expect(major, stage.from).toBeGreaterThanOrEqual(minimum);
      expect(major % 2, `${stage.from} is not an LTS line`).toBe(0);
    }
  });

  it('installs production dependencies only, without the prepare script (which would build with dev tools)', () => {
    expect(pkg.scripts.prepare).toBeDefined();
    const installs = args(runtime, 'RUN').filter((run) => run.includes('npm ci'));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toContain('--omit=dev');
    expect(installs[0]).toContain('--ignore-scripts');
    expect(args(runtime, 'COPY').some((copy) => /^--from=\S+\s+\S*lib\s+\S*lib\/?$/.test(copy))).toBe(true);
  });

  it('runs the App\'s own entry as a non-root user, in production mode, listening on all interfaces at PORT', () => {
    const users = args(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const env = args(runtime, 'ENV').join(' ');
    expect(env).toMatch(/NODE_ENV=production/);
    expect(env).toMatch(/HOST=0\.0\.0\.0/);
    expect(env).toMatch(/PORT=3000/);
    expect(args(runtime, 'EXPOSE')).toEqual(['3000']);
    expect(args(runtime, 'CMD')).toEqual(['["node", "lib/app/server.js"]']);
    expect(existsSync(join(ROOT, 'src/app/server.ts'))).toBe(true);
  });

  it('checks its health at /healthz, with node (the slim image has no curl)', () => {
    const [healthcheck] = args(runtime, 'HEALTHCHECK');
    expect(healthcheck).toMatch(/CMD \["node", "-e", /);
    expect(healthcheck).toContain(HEALTH_PATH);
    expect(healthcheck).toContain('process.env.PORT');
  });

  it('copies what the App reads at run time (package.json for its version, app.yml) and never a .env or a key', () => {
    const copies = stages.flatMap((stage) => args(stage, 'COPY').concat(args(stage, 'ADD')));
    for (const copy of copies) expect(copy).not.toMatch(/(^|[\s/])(\.env\S*|\S*\.pem)(\s|$)/);
    expect(args(runtime, 'COPY').some((copy) => /^package\.json package-lock\.json \.\/$/.test(copy))).toBe(true);
    expect(args(runtime, 'COPY').some((copy) => /^app\.yml \.\/$/.test(copy))).toBe(true);
    const sources = copies.filter((copy) => !copy.startsWith('--from')).flatMap((copy) => copy.split(/\s+/).slice(0, -1));
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
  });

  it('has a .dockerignore that keeps secrets, dependencies and git out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    for (const entry of ['.env', '.env.*', '*.pem', 'node_modules', '.git', '.autoloop', 'lib']) expect(ignored, entry).toContain(entry);
  });

  it('needs at run time only packages that `npm ci --omit=dev` installs', () => {
    const seen = new Set<string>();
    const external = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const [, typeOnly, specifier] of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)) {
        if (typeOnly || !specifier) continue;
        if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
        else if (!specifier.startsWith('node:')) external.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    };
    visit(join(ROOT, 'src/app/server.ts'));
    expect(seen.size).toBeGreaterThan(10);
    expect(external).toContain('probot');
    for (const name of external) expect(Object.keys(pkg.dependencies), name).toContain(name);
  });
});
