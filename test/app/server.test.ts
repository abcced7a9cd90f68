import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookExample } from '../fixtures/events/webhooks.js';
import { freePort } from '../fixtures/local/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const SECRET = 'test-webhook-secret';

let app: ChildProcess;
let url: string;
let logs = '';

/** The App under Probot's own runner (`probot run`, which `npm start`'s src/app/server.ts also uses underneath), with throwaway credentials. */
beforeAll(async () => {
  const port = await freePort();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  app = spawn(process.execPath, ['--import', TSX, join(ROOT, 'node_modules/probot/bin/probot.js'), 'run', join(ROOT, 'src/app/index.ts')], {
    cwd: ROOT,
    env: { ...process.env, APP_ID: '1', PRIVATE_KEY: privateKey, WEBHOOK_SECRET: SECRET, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  app.stdout!.on('data', (d) => (logs += d));
  app.stderr!.on('data', (d) => (logs += d));
  url = `http://127.0.0.1:${port}/api/github/webhooks`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline || app.exitCode !== null) throw new Error(`the app did not start:\n${logs}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

afterAll(() => {
  app?.kill('SIGTERM');
});

/** A comment by a bot: a valid delivery the App must acknowledge and then ignore (no API call to fail on). */
function delivery(): string {
  const event = webhookExample<{ comment: { user: { type: string } }; sender: { type: string } }>('issue_comment', 'created');
  const payload = { ...event, installation: { id: 1 } };
  payload.comment.user.type = 'Bot';
  payload.sender.type = 'Bot';
  return JSON.stringify(payload);
}

function post(body: string, signature: string | null) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'issue_comment',
      'x-github-delivery': `delivery-${Math.random()}`,
      ...(signature ? { 'x-hub-signature-256': signature } : {}),
    },
    body,
  });
}

const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

describe('the App as a real HTTP server', () => {
  it('acknowledges a correctly signed delivery with 2xx', async () => {
    const body = delivery();
    const response = await post(body, sign(body));
    expect(response.status, logs).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
  });

  it('rejects a badly signed, unsigned or altered delivery with 4xx', async () => {
    const body = delivery();
    for (const response of [await post(body, sign('something else')), await post(body, null), await post(`${body} `, sign(body))]) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
  });
});
