/**
 * Webhook acknowledgement under load: the autoloop App (`probot run src/app/index.ts`) and a bare Probot
 * app that does nothing (bench/bare-app.ts), each a real HTTP server in its own process on loopback, take
 * correctly signed deliveries from autocannon at a fixed rate. About 90% are events the App ignores (bot
 * comments, pull requests on other branches, other workflows' runs) and about 10% are `/optimize` comments
 * from a read-only user, which reach a local mock of the GitHub API (GHE_HOST/GHE_PROTOCOL point Probot's
 * Octokit at it) and end in a refusal comment. Then 10,000 deliveries at a high rate to the App, with its
 * RSS (/proc/<pid>/status VmRSS) before and after. No network beyond 127.0.0.1.
 *
 *   npx tsx bench/webhook-load.ts [rate] [seconds]       (default: 200 req/s for 15 s per server)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer as createHttpServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { webhookExample } from '../test/fixtures/events/webhooks.js';
import { printTable } from './simulate.js';
import { freePort } from '../test/fixtures/local/ports.js';

/** The part of autocannon's result this bench reads (autocannon ships no types, and @types/autocannon is not installed). */
interface LoadResult {
  duration: number;
  requests: { total: number; average: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (options: Record<string, unknown>) => Promise<LoadResult>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const PROBOT = join(ROOT, 'node_modules/probot/bin/probot.js');
const SECRET = 'bench-webhook-secret';

const RATE = Number(process.argv[2] ?? 200);
const SECONDS = Number(process.argv[3] ?? 15);
const MEMORY_DELIVERIES = 10_000;
const MEMORY_RATE = 1_000;
const WARMUP = 1_000;
const TARGET_P99_MS = 50;
const TARGET_RATIO = 1.5;
/** "Flat": the App's RSS grows by less than this over the 10,000 deliveries (a leak of ~1 KiB per delivery would show as ~10 MiB). */
const FLAT_MIB = 10;

// ------------------------------------------------------------------------------------------------
// Deliveries

interface Delivery {
  event: string;
  body: string;
  signature: string;
  command: boolean;
}

const sign = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

function delivery(event: string, payload: Record<string, unknown>, command = false): Delivery {
  const body = JSON.stringify({ ...payload, installation: { id: 1 } });
  return { event, body, signature: sign(body), command };
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function botComment(i: number): Delivery {
  const e = webhookExample<Json>('issue_comment', 'created');
  e.comment.user.type = 'Bot';
  e.sender.type = 'Bot';
  e.comment.body = `/optimize status (bot comment ${i})`;
  return delivery('issue_comment', e);
}

function pullRequest(action: 'synchronize' | 'closed' | 'opened', ref: string): Delivery {
  const e = webhookExample<Json>('pull_request', action);
  e.pull_request.head.ref = ref;
  return delivery('pull_request', e);
}

function otherWorkflow(): Delivery {
  const e = webhookExample<Json>('workflow_run', 'completed');
  e.workflow_run.path = '.github/workflows/ci.yml';
  return delivery('workflow_run', e);
}

function readerCommand(issue: number): Delivery {
  const e = webhookExample<Json>('issue_comment', 'created');
  e.comment.user = { ...e.comment.user, login: 'reader', type: 'User' };
  e.sender = { ...e.sender, login: 'reader', type: 'User' };
  e.comment.body = '/optimize';
  e.issue.number = issue;
  return delivery('issue_comment', e, true);
}

/** 20 deliveries, 2 of them commands (10%), interleaved; each request takes the next one in turn. */
const IGNORED = [
  botComment(1),
  pullRequest('synchronize', 'feature/speedup'),
  otherWorkflow(),
  pullRequest('closed', 'fix-typo'),
  botComment(2),
  pullRequest('opened', 'main-patch'),
  otherWorkflow(),
  pullRequest('synchronize', 'dependabot/npm/x'),
  botComment(3),
];
const MIX: Delivery[] = [
  ...IGNORED,
  readerCommand(1),
  ...IGNORED,
  readerCommand(2),
];
/** The same events without the commands: what the App does per delivery when it makes no API call. */
const IGNORED_ONLY: Delivery[] = [...IGNORED, pullRequest('synchronize', 'renovate/y')];

// ------------------------------------------------------------------------------------------------
// GitHub, mocked locally

interface MockGitHub {
  server: Server;
  port: number;
  counts: Map<string, number>;
}

async function startMockGitHub(): Promise<MockGitHub> {
  const counts = new Map<string, number>();
  let commentId = 1000;
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/\?.*$/, '');
      const json = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(data));
      };
      let route: string;
      if (req.method === 'POST' && /^\/api\/v3\/app\/installations\/\d+\/access_tokens$/.test(path)) {
        route = 'POST access_tokens';
        json(201, { token: 'ghs_bench', expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: { issues: 'write', metadata: 'read' }, repository_selection: 'all' });
      } else if (req.method === 'GET' && path === '/api/v3/app') {
        route = 'GET /app';
        json(200, { id: 1, slug: 'autoloop-bench', name: 'autoloop bench' });
      } else if (req.method === 'GET' && /^\/api\/v3\/repos\/[^/]+\/[^/]+\/collaborators\/[^/]+\/permission$/.test(path)) {
        route = 'GET permission';
        json(200, { permission: 'read', role_name: 'read', user: { login: path.split('/')[7], type: 'User' } });
      } else if (req.method === 'POST' && /^\/api\/v3\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/.test(path)) {
        route = 'POST comment';
        json(201, { id: ++commentId, body: JSON.parse(Buffer.concat(chunks).toString() || '{}').body });
      } else {
        route = `unmatched ${req.method} ${path}`;
        json(404, { message: 'Not Found (bench mock)' });
      }
      counts.set(route, (counts.get(route) ?? 0) + 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, counts };
}

// ------------------------------------------------------------------------------------------------
// The servers

interface AppServer {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  logs: () => string;
}

const children: ChildProcess[] = [];
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

async function startApp(name: string, appFile: string, githubPort: number): Promise<AppServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', TSX, PROBOT, 'run', join(ROOT, appFile)], {
    cwd: ROOT,
    env: {
      ...process.env,
      APP_ID: '1',
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      GHE_HOST: `127.0.0.1:${githubPort}`,
      GHE_PROTOCOL: 'http',
      WEBHOOK_PROXY_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let logs = '';
  const keep = (d: Buffer) => {
    logs += d.toString();
    if (logs.length > 200_000) logs = logs.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${name} did not start:\n${logs}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, child, port, url: `http://127.0.0.1:${port}/api/github/webhooks`, logs: () => logs };
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kb / 1024;
}

// ------------------------------------------------------------------------------------------------
// Load

let deliveryCounter = 0;

function load(server: AppServer, options: { rate: number; seconds?: number; amount?: number; connections?: number; mix?: Delivery[] }): Promise<LoadResult> {
  let next = 0;
  const mix = options.mix ?? MIX;
  return autocannon({
    url: server.url,
    connections: options.connections ?? 20,
    overallRate: options.rate,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.seconds ?? SECONDS }),
    timeout: 20,
    requests: [
      {
        method: 'POST',
        setupRequest: (request: Json) => {
          const d = mix[next++ % mix.length]!;
          return {
            ...request,
            method: 'POST',
            path: '/api/github/webhooks',
            headers: {
              'content-type': 'application/json',
              'x-github-event': d.event,
              'x-github-delivery': `bench-${process.pid}-${++deliveryCounter}`,
              'x-hub-signature-256': d.signature,
            },
            body: d.body,
          };
        },
      },
    ],
  });
}

interface Row {
  name: string;
  result: LoadResult;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '-');
const mib = (v: number) => `${v.toFixed(1)} MiB`;

// ------------------------------------------------------------------------------------------------

function table(title: string, rows: Row[]): void {
  console.log(`\n${title}\n`);
  printTable(
    ['server', 'requests', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', '2xx', 'non-2xx', 'errors', 'timeouts'],
    rows.map(({ name, result: r }) => [
      name,
      String(r.requests.total),
      r.requests.average.toFixed(1),
      ms(r.latency.p50),
      ms(r.latency.p90),
      ms(r.latency.p99),
      ms(r.latency.max),
      String(r['2xx']),
      String(r.non2xx),
      String(r.errors),
      String(r.timeouts),
    ]),
  );
  const ratio = rows[1]!.result.latency.p99 / Math.max(rows[0]!.result.latency.p99, 1e-9);
  console.log(`p99 autoloop/bare: ${ratio.toFixed(2)}×`);
}

const started = Date.now();
let mock: MockGitHub | null = null;
let failed = false;
try {
  mock = await startMockGitHub();
  const [app, bare, appMem, bareMem] = await Promise.all([
    startApp('autoloop App', 'src/app/index.ts', mock.port),
    startApp('bare Probot app', 'bench/bare-app.ts', mock.port),
    startApp('autoloop App (memory run)', 'src/app/index.ts', mock.port),
    startApp('bare Probot app (memory run)', 'bench/bare-app.ts', mock.port),
  ]);
  console.log(`autoloop App pid ${app.child.pid} on :${app.port}, bare Probot app pid ${bare.child.pid} on :${bare.port}, fresh App and bare app for the memory runs pids ${appMem.child.pid}, ${bareMem.child.pid}, GitHub mock on :${mock.port}`);
  console.log(`mix: ${MIX.length} deliveries in turn, ${MIX.filter((d) => d.command).length} of them /optimize from a read-only user; bodies ${Math.min(...MIX.map((d) => d.body.length))}-${Math.max(...MIX.map((d) => d.body.length))} bytes; autocannon records whole milliseconds`);

  // Warm up (JIT; the App's installation token and slug, through one command), then measure one after the other:
  // ignored events only first, then the mix with commands (which leaves the App with a backlog of comments to post).
  for (const s of [app, bare, appMem, bareMem]) await load(s, { rate: 500, amount: 300, mix: IGNORED_ONLY });
  for (const s of [app, appMem]) await load(s, { rate: 10, amount: 1, connections: 1, mix: [readerCommand(9)] });

  const ignored: Row[] = [];
  for (const s of [bare, app]) ignored.push({ name: s.name, result: await load(s, { rate: RATE, seconds: SECONDS / 2, mix: IGNORED_ONLY }) });
  table(`1. Ignored events only (no API call) at ${RATE} deliveries/s, ${SECONDS / 2} s per server`, ignored);

  mock.counts.clear();
  const mixed: Row[] = [];
  for (const s of [bare, app]) mixed.push({ name: s.name, result: await load(s, { rate: RATE, seconds: SECONDS }) });
  const apiCalls = [...mock.counts].map(([route, n]) => `${route} ×${n}`).join(', ');
  table(`2. The mix (~90% ignored, 10% /optimize from a read-only user) at ${RATE} deliveries/s, ${SECONDS} s per server`, mixed);
  console.log(`GitHub mock calls during the mixed runs: ${apiCalls || 'none'}`);

  // Memory: 10,000 deliveries at a high rate to a fresh App (no backlog from run 2) and, for scale, to a fresh bare
  // app; RSS after warmup and at the end. Ignored events only: with 10% commands the App would acknowledge at most
  // one command per comment Probot lets it post (see run 2), and 10,000 deliveries would take hours.
  console.log(`\n3. Memory: ${WARMUP} warmup deliveries, then ${MEMORY_DELIVERIES} ignored deliveries at ${MEMORY_RATE}/s, each to a fresh server`);
  const memory = async (server: AppServer) => {
    await load(server, { rate: MEMORY_RATE, amount: WARMUP, mix: IGNORED_ONLY });
    await new Promise((r) => setTimeout(r, 500));
    const start = rssMiB(server.child.pid!);
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMiB(server.child.pid!)), 1000);
    const run = await load(server, { rate: MEMORY_RATE, amount: MEMORY_DELIVERIES, mix: IGNORED_ONLY });
    clearInterval(sampler);
    await new Promise((r) => setTimeout(r, 500));
    const end = rssMiB(server.child.pid!);
    const growth = end - start;
    console.log(`  ${server.name}:`);
    console.log(
      `    ${run.requests.total} deliveries in ${run.duration.toFixed(1)} s (${run.requests.average.toFixed(0)} req/s), ` +
        `2xx ${run['2xx']}, non-2xx ${run.non2xx}, errors ${run.errors}; p50 ${ms(run.latency.p50)} ms, p99 ${ms(run.latency.p99)} ms`,
    );
    console.log(`    RSS: start ${mib(start)}, end ${mib(end)}, growth ${growth >= 0 ? '+' : ''}${mib(growth)} (${((growth * 1024 * 1024) / MEMORY_DELIVERIES).toFixed(0)} B/delivery)`);
    const half = samples.length >= 4 ? samples[samples.length - 1]! - samples[Math.floor(samples.length / 2)]! : NaN;
    console.log(`    RSS each second: ${samples.map((v) => v.toFixed(0)).join(' ')} MiB (second half: ${half >= 0 ? '+' : ''}${half.toFixed(1)} MiB)`);
    return growth;
  };
  const growth = await memory(appMem);
  const bareGrowth = await memory(bareMem);
  const unmatched = [...mock.counts.keys()].filter((k) => k.startsWith('unmatched'));
  if (unmatched.length) console.log(`  GitHub mock: unmatched requests: ${unmatched.join('; ')}`);

  console.log('\nTargets (the issue\'s: p99 acknowledgement < 50 ms at 200 deliveries/s, within 1.5× of the bare app; RSS flat over 10,000 deliveries)');
  for (const [label, rows] of [['ignored only', ignored], ['mix with /optimize', mixed]] as const) {
    const bareRes = rows[0]!.result;
    const appRes = rows[1]!.result;
    const ratio = appRes.latency.p99 / Math.max(bareRes.latency.p99, 1e-9);
    const check = (ok: boolean, text: string) => console.log(`  ${ok ? 'met   ' : 'MISSED'}  [${label}] ${text}`);
    check(appRes.requests.average >= RATE * 0.95, `App sustained ${RATE} deliveries/s (${appRes.requests.average.toFixed(1)} req/s)`);
    check(appRes.non2xx === 0 && appRes.errors === 0 && appRes.timeouts === 0, `every App delivery acknowledged 2xx (non-2xx ${appRes.non2xx}, errors ${appRes.errors}, timeouts ${appRes.timeouts})`);
    check(appRes.latency.p99 < TARGET_P99_MS, `App p99 < ${TARGET_P99_MS} ms (${ms(appRes.latency.p99)} ms)`);
    check(ratio <= TARGET_RATIO, `App p99 within ${TARGET_RATIO}× of the bare app (${ratio.toFixed(2)}×: ${ms(appRes.latency.p99)} vs ${ms(bareRes.latency.p99)} ms)`);
  }
  console.log(`  ${growth < FLAT_MIB ? 'met   ' : 'MISSED'}  App RSS flat over ${MEMORY_DELIVERIES} deliveries (growth ${mib(growth)} < ${FLAT_MIB} MiB; bare app: ${mib(bareGrowth)})`);
  const appWarnings = app.logs().trim();
  if (appWarnings) console.log(`\nApp log (warn and above), last lines:\n${appWarnings.split('\n').slice(-4).map((l) => l.slice(0, 300)).join('\n')}`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  mock?.server.close();
  mock?.server.closeAllConnections();
  console.log(`\n(total ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
process.exit(failed ? 1 : 0);
