/**
 * `npm start`: the App's own entry. It runs the App through Probot's `run` (probot's lib/run.js) once the
 * environment holds working credentials, and checks first what `probot run` does not:
 *
 * - Registration. Probot's setup mode builds the manifest from app.yml and lets app.yml's `hook_attributes`
 *   win over WEBHOOK_PROXY_URL (`...manifest` is spread last in probot's lib/manifest-creation.js), then writes
 *   the credentials to `.env` in the working directory (lib/helpers/update-env.js). Here the webhook URL comes
 *   from WEBHOOK_PROXY_URL or AUTOLOOP_PUBLIC_URL, registration is refused without one, and the credentials go
 *   to a file outside the checkout ({@link credentialsFile}).
 * - The private key. Probot reports a key it cannot read with a console line and then starts in setup mode
 *   (lib/bin/read-env-options.js); here a key that is not a PEM RSA private key stops the start, naming the
 *   variable.
 * - WEBHOOK_SECRET. Without it Probot checks signatures against "development" (lib/probot.js); here it is required.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { run, type Probot } from 'probot';
import { parse as parseYaml } from 'yaml';
import { AutoloopError } from '../core/errors.js';
import { packageVersion } from '../engine/fingerprint.js';
import { settled, sweepMinutes } from './handlers.js';
import { appHealth, healthHandler, HEALTH_PATH, type HealthReport } from './health.js';
import autoloopApp from './index.js';

/** The environment the server reads (process.env, or a test's). */
export type Env = Record<string, string | undefined>;

/** Probot's default port and webhook path (`defaultWebhookPath` in probot's lib/server/server.js). */
export const DEFAULT_PORT = 3000;
export const DEFAULT_WEBHOOK_PATH = '/api/github/webhooks';
/** The registration page, and where GitHub sends the browser back with the manifest's code (Probot's paths). */
export const REGISTER_PATH = '/probot';
export const REGISTER_CALLBACK_PATH = '/probot/setup';
/** The manifest app.yml, beside package.json (two levels above src/app and lib/app). */
export const APP_MANIFEST_FILE = fileURLToPath(new URL('../../app.yml', import.meta.url));
/** How long a SIGTERM waits for accepted work before the process exits (Docker's default stop timeout is 10 s). */
const SHUTDOWN_GRACE_MS = 8_000;

/** The server cannot start as configured; `variable` names the environment variable (or file) to fix. */
export class AppSetupError extends AutoloopError {
  constructor(
    readonly variable: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'AppSetupError';
  }
}

const present = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/**
 * Where registration writes the App's credentials and where `npm start` reads them: AUTOLOOP_ENV_FILE, else
 * `$XDG_CONFIG_HOME/autoloop/app.env` (`~/.config/autoloop/app.env`). Never in the checkout.
 */
export function credentialsFile(env: Env): string {
  if (present(env.AUTOLOOP_ENV_FILE)) return resolve(env.AUTOLOOP_ENV_FILE);
  const config = present(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(config, 'autoloop', 'app.env');
}

/**
 * Fills `env` from the credentials file, for each variable the environment does not set already (the shell
 * wins, unlike Probot's `.env`); a missing file sets nothing. Answers the names it filled.
 */
export function loadCredentials(file: string, env: Env): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new AppSetupError('AUTOLOOP_ENV_FILE', `the credentials file ${file} cannot be read (${code ?? String(error)}): fix its permissions or point AUTOLOOP_ENV_FILE at another file`, { cause: error });
  }
  const filled: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (value === undefined || env[name] !== undefined) continue;
    env[name] = value;
    filled.push(name);
  }
  return filled;
}

/** Refuses a `.env` in the working directory: Probot's `run` would load it over the shell's environment. */
export function refuseCheckoutDotEnv(cwd: string, file: string): void {
  const dotEnv = join(cwd, '.env');
  if (!existsSync(dotEnv)) return;
  throw new AppSetupError(
    '.env',
    `${dotEnv} exists. Probot loads it over this shell's environment (the App's tests too, when run from here), and a file of secrets in a checkout is one \`git add\` away from a commit. ` +
      `autoloop reads its credentials from ${file} instead: mkdir -p ${dirname(file)} && mv ${dotEnv} ${file} && chmod 600 ${file}, then start again.`,
  );
}

/** What a valid key looks like, said by every private-key error. */
const VALID_KEY =
  'A valid key is the .pem file GitHub generates for the App (its settings page, "Private keys", "Generate a private key"): ' +
  'it begins with "-----BEGIN RSA PRIVATE KEY-----" and ends with "-----END RSA PRIVATE KEY-----". ' +
  'Set PRIVATE_KEY to its contents (newlines kept or written as \\n, or the whole file base64-encoded), or PRIVATE_KEY_PATH to the file.';

/** PRIVATE_KEY as platforms pass it: base64-encoded, with `\n` escapes, or a PEM whose newlines became spaces. */
function inlineKey(value: string): string {
  let text = value.trim();
  if (!text.includes('-----BEGIN') && /^[A-Za-z0-9+/=\s]+$/.test(text)) text = Buffer.from(text, 'base64').toString('utf8').trim();
  if (text.includes('\\n')) text = text.replace(/\\n/g, '\n');
  const oneLine = /^(-----BEGIN [A-Z ]+-----)\s*(\S.*?)\s*(-----END [A-Z ]+-----)$/.exec(text);
  if (oneLine && !text.includes('\n')) text = `${oneLine[1]}\n${oneLine[2]!.replace(/\s+/g, '\n')}\n${oneLine[3]}`;
  return text;
}

/** `text` if it is a PEM RSA private key, else an error naming `variable` and saying why, never quoting the key. */
function rsaPrivateKey(text: string, variable: string, label: string): string {
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(text)) {
    throw new AppSetupError(variable, `${label} is not a PEM private key: it has no "-----BEGIN RSA PRIVATE KEY-----" line. ${VALID_KEY}`);
  }
  let key;
  try {
    key = createPrivateKey(text);
  } catch (error) {
    // OpenSSL's code ("ERR_OSSL_UNSUPPORTED") says why without quoting the key.
    const code = (error as { code?: unknown }).code;
    throw new AppSetupError(variable, `${label} does not parse as a PEM private key${typeof code === 'string' ? ` (${code})` : ''}: it is cut short, altered or not a key. ${VALID_KEY}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new AppSetupError(variable, `${label} is an ${key.asymmetricKeyType ?? 'unknown'} key, and GitHub Apps sign with RSA. ${VALID_KEY}`);
  }
  return `${text.trim()}\n`;
}

/**
 * The App's private key from PRIVATE_KEY (which wins, as in Probot) or the file PRIVATE_KEY_PATH names, checked
 * to be a PEM RSA private key; null when neither is set. An error names the variable and never prints the key.
 */
export function readPrivateKey(env: Env, cwd: string): string | null {
  if (present(env.PRIVATE_KEY)) return rsaPrivateKey(inlineKey(env.PRIVATE_KEY), 'PRIVATE_KEY', 'PRIVATE_KEY');
  if (!present(env.PRIVATE_KEY_PATH)) return null;
  const path = resolve(cwd, env.PRIVATE_KEY_PATH);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new AppSetupError('PRIVATE_KEY_PATH', `PRIVATE_KEY_PATH names ${path}, which cannot be read (${code}). ${VALID_KEY}`, { cause: error });
  }
  return rsaPrivateKey(text, 'PRIVATE_KEY_PATH', `PRIVATE_KEY_PATH (${path})`);
}

/** What to set so that registration has a webhook URL, said whenever it has none that works. */
const WEBHOOK_URL_HELP =
  'For local development, create a channel at https://smee.io/new and set WEBHOOK_PROXY_URL to it; ' +
  `for a server GitHub can reach, set AUTOLOOP_PUBLIC_URL to its https address (webhooks then go to AUTOLOOP_PUBLIC_URL${DEFAULT_WEBHOOK_PATH}).`;

/** Hosts GitHub cannot deliver to: the reserved example and test names (RFC 2606, RFC 6761) and this machine. */
const UNREACHABLE_HOST = /(^|\.)(example\.(com|net|org)|localhost)$|\.(example|test|invalid)$|^(127\.\d+\.\d+\.\d+|0\.0\.0\.0|::1?)$/;

function publicHttpsUrl(value: string, variable: string): URL {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch (error) {
    throw new AppSetupError(variable, `${variable} is not a URL (${JSON.stringify(value)}). ${WEBHOOK_URL_HELP}`, { cause: error });
  }
  if (url.protocol !== 'https:') throw new AppSetupError(variable, `${variable} must be an https URL, not ${url.protocol}//${url.host}. ${WEBHOOK_URL_HELP}`);
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (UNREACHABLE_HOST.test(host)) throw new AppSetupError(variable, `${variable} is ${url.origin}, where GitHub cannot deliver webhooks. ${WEBHOOK_URL_HELP}`);
  return url;
}

/** Where the registered App's webhooks go, and which variable said so. */
export interface WebhookTarget {
  url: string;
  from: 'WEBHOOK_PROXY_URL' | 'AUTOLOOP_PUBLIC_URL';
}

/**
 * The webhook URL registration puts in the manifest: WEBHOOK_PROXY_URL (a smee.io channel that `npm start` or
 * `npx smee-client` forwards to this server) when set, else AUTOLOOP_PUBLIC_URL followed by the webhook path
 * (WEBHOOK_PATH, default /api/github/webhooks). Neither: an error saying what to set. Never app.yml's.
 */
export function webhookUrl(env: Env): WebhookTarget {
  if (present(env.WEBHOOK_PROXY_URL)) return { url: publicHttpsUrl(env.WEBHOOK_PROXY_URL, 'WEBHOOK_PROXY_URL').href, from: 'WEBHOOK_PROXY_URL' };
  if (present(env.AUTOLOOP_PUBLIC_URL)) {
    const base = publicHttpsUrl(env.AUTOLOOP_PUBLIC_URL, 'AUTOLOOP_PUBLIC_URL');
    const path = present(env.WEBHOOK_PATH) ? env.WEBHOOK_PATH : DEFAULT_WEBHOOK_PATH;
    const prefix = base.pathname.replace(/\/+$/, '');
    return { url: `${base.origin}${prefix.endsWith(path) ? prefix : `${prefix}${path}`}`, from: 'AUTOLOOP_PUBLIC_URL' };
  }
  throw new AppSetupError('AUTOLOOP_PUBLIC_URL', `autoloop cannot register the App: GitHub needs a public URL to send its webhooks to, and none is set. ${WEBHOOK_URL_HELP} Then run npm start again.`);
}

/** A GitHub App manifest (https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest). */
export interface AppManifest {
  name?: string;
  url: string;
  description?: string;
  public: boolean;
  hook_attributes: { url: string; active: boolean };
  redirect_url: string;
  default_permissions?: Record<string, string>;
  default_events?: string[];
  [field: string]: unknown;
}

/**
 * The manifest registration posts to GitHub: app.yml's permissions, events and texts, the webhook URL from
 * {@link webhookUrl} (whatever app.yml says), GitHub sending the browser back to `baseUrl`, private unless app.yml
 * says `public: true` (Probot's setup makes it public when app.yml is silent), named AUTOLOOP_APP_NAME when set
 * (App names are unique on GitHub).
 */
export function buildManifest(appYml: string, env: Env, baseUrl: string): AppManifest {
  const declared: unknown = parseYaml(appYml);
  if (typeof declared !== 'object' || declared === null || Array.isArray(declared)) throw new AppSetupError('app.yml', 'app.yml is not a mapping of manifest fields');
  const fields = declared as Record<string, unknown>;
  if (typeof fields.url !== 'string') throw new AppSetupError('app.yml', 'app.yml has no `url` (the App\'s homepage), which GitHub requires');
  const hook = typeof fields.hook_attributes === 'object' && fields.hook_attributes !== null ? (fields.hook_attributes as Record<string, unknown>) : {};
  return {
    ...fields,
    ...(present(env.AUTOLOOP_APP_NAME) ? { name: env.AUTOLOOP_APP_NAME.trim() } : {}),
    url: fields.url,
    public: fields.public === true,
    hook_attributes: { ...hook, url: webhookUrl(env).url, active: true },
    redirect_url: `${baseUrl.replace(/\/+$/, '')}${REGISTER_CALLBACK_PATH}`,
  };
}

/** GitHub's web and API addresses: github.com, or GHE_HOST (with GHE_PROTOCOL) as Probot reads them. */
export function githubHosts(env: Env): { web: string; api: string } {
  const protocol = present(env.GHE_PROTOCOL) ? env.GHE_PROTOCOL : 'https';
  if (present(env.GHE_HOST)) return { web: `${protocol}://${env.GHE_HOST}`, api: `${protocol}://${env.GHE_HOST}/api/v3` };
  return { web: 'https://github.com', api: 'https://api.github.com' };
}

/** How the server starts: the App with its credentials, or the registration page. */
export type StartPlan = { mode: 'app'; appId: number; privateKey: string; secret: string } | { mode: 'register'; webhook: WebhookTarget };

/**
 * Decides how to start from the environment, or says what is wrong: no credentials at all means registration
 * (refused in production, and without a webhook URL); some credentials mean all of them, valid.
 */
export function planStart(env: Env, cwd: string): StartPlan {
  try {
    sweepMinutes(env.AUTOLOOP_SWEEP_MINUTES);
  } catch (error) {
    throw new AppSetupError('AUTOLOOP_SWEEP_MINUTES', (error as Error).message, { cause: error });
  }
  const keySet = present(env.PRIVATE_KEY) || present(env.PRIVATE_KEY_PATH);
  if (!present(env.APP_ID) && !keySet) {
    if (env.NODE_ENV === 'production') {
      throw new AppSetupError(
        'APP_ID',
        'APP_ID and PRIVATE_KEY are not set, and with NODE_ENV=production autoloop offers no registration: register the App on your machine first (README, "Deploy the App") and give this server APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET',
      );
    }
    return { mode: 'register', webhook: webhookUrl(env) };
  }
  if (!present(env.APP_ID)) throw new AppSetupError('APP_ID', 'a private key is set but APP_ID is not: set APP_ID to the "App ID" on the App\'s settings page (https://github.com/settings/apps/<slug>)');
  if (!/^\s*[1-9]\d*\s*$/.test(env.APP_ID)) throw new AppSetupError('APP_ID', `APP_ID must be the App's numeric "App ID" from its settings page, not ${JSON.stringify(env.APP_ID)}`);
  const privateKey = readPrivateKey(env, cwd);
  if (privateKey === null) throw new AppSetupError('PRIVATE_KEY', `APP_ID is set but neither PRIVATE_KEY nor PRIVATE_KEY_PATH is. ${VALID_KEY}`);
  if (!present(env.WEBHOOK_SECRET)) {
    throw new AppSetupError(
      'WEBHOOK_SECRET',
      'WEBHOOK_SECRET is not set: Probot would then accept any webhook signed with "development", and autoloop signs its run state with it. Set it to the App\'s webhook secret (its settings page, "Webhook secret")',
    );
  }
  return { mode: 'app', appId: Number(env.APP_ID), privateKey, secret: env.WEBHOOK_SECRET };
}

/** What `POST /app-manifests/{code}/conversions` answers (the fields registration keeps). */
export interface ManifestConversion {
  id: number;
  slug: string;
  html_url: string;
  pem: string;
  webhook_secret: string;
  client_id?: string;
  client_secret?: string;
}

function parseConversion(data: unknown): ManifestConversion {
  const fields = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  const { id, slug, html_url: htmlUrl, pem, webhook_secret: secret } = fields;
  if (typeof id !== 'number' || typeof slug !== 'string' || typeof htmlUrl !== 'string' || typeof pem !== 'string' || typeof secret !== 'string') {
    throw new AppSetupError('registration', 'GitHub answered the manifest conversion without the App\'s id, slug, html_url, pem and webhook_secret');
  }
  const optional = (name: string) => (typeof fields[name] === 'string' ? { [name]: fields[name] as string } : {});
  return { id, slug, html_url: htmlUrl, pem, webhook_secret: secret, ...optional('client_id'), ...optional('client_secret') };
}

/** An env file of `values`, each double-quoted for `util.parseEnv` (an unquoted `#` starts a comment). */
function formatEnv(values: Env): string {
  const lines = ['# The autoloop App\'s credentials, written by its registration. Keep this file private (mode 600), out of any checkout.'];
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (/["\r\n]|\\n/.test(value)) throw new AppSetupError(name, `${name} cannot be written to the credentials file: it contains a quote, a newline or "\\n"`);
    lines.push(`${name}="${value}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `text` to `path` readable by its owner only, replacing it whole (a crash leaves the old file or the new). */
function writePrivateFile(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, path);
}

/**
 * Saves a registration: the private key beside the credentials file (`<slug>.private-key.pem`, mode 600) and, in
 * the file, APP_ID, PRIVATE_KEY_PATH, WEBHOOK_SECRET and the OAuth client, over what it held, plus `extra`
 * (WEBHOOK_PROXY_URL, so that the next start forwards from the channel the App was registered with).
 */
export function saveRegistration(file: string, conversion: ManifestConversion, extra: Env = {}): { pemFile: string } {
  const pem = rsaPrivateKey(conversion.pem, 'registration', 'the private key GitHub returned');
  const directory = dirname(file);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const pemFile = join(directory, `${conversion.slug.replace(/[^\w.-]/g, '_')}.private-key.pem`);
  writePrivateFile(pemFile, pem);
  const kept: Env = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  delete kept.PRIVATE_KEY;
  writePrivateFile(
    file,
    formatEnv({
      ...kept,
      ...extra,
      APP_ID: String(conversion.id),
      PRIVATE_KEY_PATH: pemFile,
      WEBHOOK_SECRET: conversion.webhook_secret,
      GITHUB_CLIENT_ID: conversion.client_id,
      GITHUB_CLIENT_SECRET: conversion.client_secret,
    }),
  );
  return { pemFile };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:44em;margin:3em auto">${body}</body></html>\n`);
}

/** The browser's origin for this server: AUTOLOOP_PUBLIC_URL when set, else the request's Host (and X-Forwarded-Proto). */
function requestOrigin(req: IncomingMessage, env: Env): string {
  if (present(env.AUTOLOOP_PUBLIC_URL)) return new URL(env.AUTOLOOP_PUBLIC_URL).origin;
  const forwarded = req.headers['x-forwarded-proto'];
  const protocol = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() === 'https' ? 'https' : 'http';
  return `${protocol}://${req.headers.host ?? `localhost:${DEFAULT_PORT}`}`;
}

/** What registration needs; `fetch` reaches GitHub (GHE_HOST points it elsewhere). */
export interface RegistrationOptions {
  env: Env;
  appYml: string;
  credentialsFile: string;
  log: (line: string) => void;
  fetch?: typeof fetch;
}

/**
 * The registration pages (GitHub's manifest flow): `GET /probot` posts the manifest to GitHub's "new App" form
 * with a random `state`; GitHub sends the browser back to `GET /probot/setup?code&state`, whose code (valid once,
 * for an hour) this server converts into the App's credentials and saves with {@link saveRegistration}. A callback
 * whose state this server did not hand out is refused, and so is a second registration.
 */
export function registrationHandler(options: RegistrationOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const state = randomBytes(16).toString('hex');
  const hosts = githubHosts(options.env);
  const fetchImpl = options.fetch ?? fetch;
  let registered: ManifestConversion | null = null;
  return async (req, res) => {
    if (req.method !== 'GET') return false;
    const url = new URL(req.url ?? '/', 'http://server');
    if (url.pathname === '/') {
      res.writeHead(302, { location: REGISTER_PATH }).end();
      return true;
    }
    if (url.pathname === REGISTER_PATH) {
      const manifest = buildManifest(options.appYml, options.env, requestOrigin(req, options.env));
      const organization = present(options.env.GH_ORG) ? `/organizations/${encodeURIComponent(options.env.GH_ORG)}` : '';
      const action = `${hosts.web}${organization}/settings/apps/new?state=${state}`;
      page(
        res,
        200,
        'Register autoloop',
        `<h1>Register autoloop on GitHub</h1><p>GitHub will send the App's webhooks to <code>${escapeHtml(manifest.hook_attributes.url)}</code>. ` +
          `Its credentials will be saved to <code>${escapeHtml(options.credentialsFile)}</code>.</p>` +
          `<form action="${escapeHtml(action)}" method="post"><input type="hidden" name="manifest" value="${escapeHtml(JSON.stringify(manifest))}">` +
          `<button type="submit">Register the GitHub App${organization ? ` for ${escapeHtml(options.env.GH_ORG!)}` : ''}</button></form>`,
      );
      return true;
    }
    if (url.pathname !== REGISTER_CALLBACK_PATH) return false;
    if (registered) {
      page(res, 409, 'Already registered', `<p>This server registered ${escapeHtml(registered.slug)} already. Stop it and run <code>npm start</code> again.</p>`);
      return true;
    }
    const code = url.searchParams.get('code') ?? '';
    if (url.searchParams.get('state') !== state || !/^[\w-]{1,200}$/.test(code)) {
      page(res, 400, 'Not this registration', `<p>This callback does not belong to a registration this server started. Open <a href="${REGISTER_PATH}">${REGISTER_PATH}</a> and register again.</p>`);
      return true;
    }
    const response = await fetchImpl(`${hosts.api}/app-manifests/${code}/conversions`, {
      method: 'POST',
      headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': `autoloop/${packageVersion()}` },
    });
    const data: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      const said = typeof (data as { message?: unknown })?.message === 'string' ? (data as { message: string }).message : response.statusText;
      options.log(`autoloop: GitHub refused the manifest conversion (${response.status}): ${said}`);
      page(res, 502, 'Registration failed', `<p>GitHub refused to convert the registration (${response.status}: ${escapeHtml(said)}). A code works once, for an hour: open <a href="${REGISTER_PATH}">${REGISTER_PATH}</a> and register again.</p>`);
      return true;
    }
    const conversion = parseConversion(data);
    const webhook = webhookUrl(options.env);
    const { pemFile } = saveRegistration(options.credentialsFile, conversion, webhook.from === 'WEBHOOK_PROXY_URL' ? { WEBHOOK_PROXY_URL: webhook.url } : {});
    registered = conversion;
    options.log(`autoloop: registered the App ${conversion.slug} (App ID ${conversion.id}); its credentials are in ${options.credentialsFile}, its private key in ${pemFile}.`);
    options.log('autoloop: install it on a repository (the browser is on that page now), then stop this server and run npm start again.');
    res.writeHead(302, { location: `${conversion.html_url}/installations/new` }).end();
    return true;
  };
}

/** Serves registration until the App is registered; the process keeps running until it is stopped. */
async function startRegistration(env: Env, file: string, webhook: WebhookTarget): Promise<void> {
  const appYml = readFileSync(APP_MANIFEST_FILE, 'utf8');
  buildManifest(appYml, env, `http://localhost:${DEFAULT_PORT}`);
  const register = registrationHandler({ env, appYml, credentialsFile: file, log: (line) => console.log(line) });
  const unregistered = (): HealthReport => ({ status: 'unregistered', version: packageVersion(), authenticated: false, app: null, reason: `the App is not registered yet: open ${REGISTER_PATH}` });
  const health = healthHandler(unregistered);
  const server = createServer((req, res) => {
    if (health(req, res)) return;
    register(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      },
      (error: unknown) => {
        console.error(`autoloop: registration failed: ${(error as Error)?.message ?? String(error)}`);
        if (!res.headersSent) page(res, 500, 'Registration failed', `<p>${escapeHtml((error as Error)?.message ?? 'unexpected error')}</p>`);
      },
    );
  });
  const port = Number(env.PORT) || DEFAULT_PORT;
  const host = present(env.HOST) ? env.HOST : 'localhost';
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, done);
  });
  const { port: bound } = server.address() as { port: number };
  console.log(`autoloop ${packageVersion()}: the App is not registered yet (no APP_ID or PRIVATE_KEY).`);
  console.log(`autoloop: open http://${host.includes(':') ? `[${host}]` : host}:${bound}${REGISTER_PATH} to register it on GitHub.`);
  console.log(`autoloop: its webhooks will go to ${webhook.url} (${webhook.from}); its credentials will be written to ${file}.`);
}

async function canImport(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

/** The App in Probot's server, with the checked credentials; logs whether GitHub accepts them; stops cleanly on SIGTERM. */
async function startApp(plan: Extract<StartPlan, { mode: 'app' }>, env: Env): Promise<void> {
  const probotEnv: Env = { ...env, APP_ID: String(plan.appId), PRIVATE_KEY: plan.privateKey, WEBHOOK_SECRET: plan.secret };
  delete probotEnv.PRIVATE_KEY_PATH;
  let loaded: Probot | undefined;
  const server = await run(
    (app, options) => {
      loaded = app;
      autoloopApp(app, options);
    },
    { env: probotEnv },
  );
  const app = loaded!;
  const where = `http://${server.host}:${server.port}`;
  const webhookPath = present(env.WEBHOOK_PATH) ? env.WEBHOOK_PATH : DEFAULT_WEBHOOK_PATH;
  app.log.info(`autoloop ${packageVersion()}: webhooks at ${where}${webhookPath}, health at ${where}${HEALTH_PATH}`);
  if (present(env.WEBHOOK_PROXY_URL) && !(await canImport('smee-client'))) {
    app.log.warn(`autoloop: WEBHOOK_PROXY_URL is set but smee-client is not installed, so nothing is forwarded from it: run \`npx smee-client -u ${env.WEBHOOK_PROXY_URL} -t ${where}${webhookPath}\` beside this server`);
  }
  void appHealth(app)
    .check()
    .then((authentication) => {
      if (authentication.state === 'authenticated') app.log.info(`autoloop: authenticated with GitHub as ${authentication.slug ?? 'the App'} (App ID ${plan.appId})`);
      else if (authentication.state === 'refused') {
        app.log.error(`autoloop: GitHub refused the App's credentials (${authentication.status}: ${authentication.reason}): APP_ID ${plan.appId} and the private key do not belong to one App; ${HEALTH_PATH} answers 503 until they do`);
      } else if (authentication.state === 'unreachable') app.log.warn(`autoloop: could not ask GitHub whether the App's credentials work (${authentication.reason}); ${HEALTH_PATH} asks again`);
    });
  process.once('SIGTERM', () => {
    app.log.info('autoloop: SIGTERM: no new deliveries; finishing the work in flight');
    void server
      .stop()
      .catch(() => undefined)
      .then(() => Promise.race([settled(), new Promise((done) => setTimeout(done, SHUTDOWN_GRACE_MS).unref())]))
      .then(() => process.exit(0));
  });
}

/** `npm start`: load the credentials file, check the environment, then register or run the App. */
export async function main(env: Env = process.env, cwd: string = process.cwd()): Promise<void> {
  const file = credentialsFile(env);
  let plan: StartPlan;
  try {
    refuseCheckoutDotEnv(cwd, file);
    loadCredentials(file, env);
    plan = planStart(env, cwd);
  } catch (error) {
    if (!(error instanceof AppSetupError)) throw error;
    console.error(`autoloop: ${error.message}`);
    process.exitCode = 1;
    return;
  }
  if (plan.mode === 'register') await startRegistration(env, file, plan.webhook);
  else await startApp(plan, env);
}

function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main().catch((error: unknown) => {
    console.error(`autoloop: the App did not start: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  });
}
