/**
 * Red team: candidate code attacks its sandbox from inside `evaluate.command`, `evaluate.setup` and
 * `evaluate.check`, run by the real Evaluator of a real run (`openRun` on a temporary repository, its
 * worktrees where autoloop puts them, `.git/autoloop/<tag>/{baseline,candidate}`, its traces in
 * `.autoloop/<tag>/traces`). Each test performs one attack and asserts the safe outcome on the host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../src/core/config/config-schema.js';
import { EXIT } from '../../src/core/errors.js';
import type { Proposer } from '../../src/core/propose/proposer.js';
import { evalRefs } from '../../src/engine/eval-refs.js';
import { Evaluator, type Checkout } from '../../src/engine/evaluator.js';
import { prepareWorktree } from '../../src/engine/worktrees.js';
import { openRun } from '../../src/engine/open-run.js';
import { traceDir } from '../../src/engine/run-files.js';
import { SANDBOX_METRICS_FILE, SandboxUnavailableError } from '../../src/engine/sandbox.js';
import { createCommandProposer } from '../../src/proposers/command.js';
import { gitSync, makeQuadraticRepo } from '../fixtures/local/repo.js';

const linux = process.platform === 'linux';
const hex = (bytes = 8) => randomBytes(bytes).toString('hex');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A run that never proposes: the tests drive its evaluator themselves. */
const idle: Proposer = { kind: 'idle', propose: async () => null };
const TAG = 'redteam';

/**
 * Where a worktree of the run sees the rest of the repository, relative to itself: autoloop keeps its
 * worktrees at `<repo>/.git/autoloop/<tag>/<side>`. Attack scripts use these, since they are written
 * (and committed) before the repository's temporary path is known.
 */
const FROM_WORKTREE = {
  repo: '../../../..',
  gitDir: '../../..',
  otherSide: (side: 'baseline' | 'candidate') => `../${side === 'baseline' ? 'candidate' : 'baseline'}`,
};

interface Arena {
  repo: string;
  commonDir: string;
  evaluator: Evaluator;
  config: Config;
  baseline: Checkout;
  candidate: Checkout;
  /** The experiment's trace folder, where the baseline's logs and metrics files are. */
  trace: string;
  ledger: string;
}

/**
 * Opens a run the way `autoloop run` does (`openRun`) on a fresh quadratic repository whose base commit
 * holds `files` (the attack scripts) and a config with `evaluate` (YAML flow mapping) and `extra`
 * top-level lines; both worktrees hold the base where autoloop puts them.
 */
async function openArena(evaluate: string, files: Record<string, string> = {}, extra = ''): Promise<Arena> {
  const repo = makeQuadraticRepo(undefined, {
    ...files,
    '.github/autoloop.yml': `metric: { name: loss, goal: minimize, suspicious_effect: 100% }
evaluate: ${evaluate}
scope: { edit: [params.json], protect: [eval.mjs] }
proposer: { kind: tune, tune: { file: params.json, params: { x: { min: -10, max: 10 } } } }
${extra}`,
  });
  const base = gitSync(repo, 'rev-parse', 'HEAD');
  const worktrees = { baseline: join(repo, '.git', 'autoloop', TAG, 'baseline'), candidate: join(repo, '.git', 'autoloop', TAG, 'candidate') };
  // Before the run opens, as the loop has them when it measures: the run trusts the git directory as it then is.
  await prepareWorktree(repo, worktrees.baseline, base);
  await prepareWorktree(repo, worktrees.candidate, base);
  const { state } = await openRun({ cwd: repo, proposer: idle, tag: TAG });
  expect(state.measure.worktrees).toEqual(worktrees);
  const trace = traceDir(state.paths, 1);
  mkdirSync(trace, { recursive: true });
  return {
    repo,
    commonDir: join(repo, '.git'),
    evaluator: state.measure.evaluator,
    config: state.config,
    baseline: { side: 'baseline', worktree: worktrees.baseline, commit: base },
    candidate: { side: 'candidate', worktree: worktrees.candidate, commit: base },
    trace,
    ledger: state.paths.ledger,
  };
}

/** A key of the repository's git config, or '' when it is not set. */
function gitConfigValue(repo: string, key: string): string {
  try {
    return gitSync(repo, 'config', '--get-all', key);
  } catch {
    return '';
  }
}

/** What a measured run printed (its log in the trace). */
function runLog(arena: Arena, label: string): string {
  return readFileSync(join(arena.trace, `${label}.log`), 'utf8');
}

/** The host's processes whose command line contains `marker`, zombies left out. */
async function hostProcessesWith(marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (!cmdline.includes(marker)) continue;
    const state = await readFile(`/proc/${entry}/stat`, 'utf8').then((stat) => stat.replace(/^.*\) /s, '')[0], () => 'X');
    if (state !== 'Z' && state !== 'X') found.push(`${entry}: ${cmdline}`);
  }
  return found;
}

/** The host's processes with `marker` after the kernel had a moment (up to a second) to reap what it killed. */
async function survivors(marker: string): Promise<string[]> {
  let found = await hostProcessesWith(marker);
  for (let i = 0; i < 10 && found.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    found = await hostProcessesWith(marker);
  }
  return found;
}

/** A TCP server on 127.0.0.1 of the host, counting the connections it accepts. */
async function startServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.on('error', () => {});
    socket.end('hello from the host\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, connections: () => count };
}

/** A node script that connects to 127.0.0.1:port and prints `net: connected` or `net: <error code>`, then a metric. */
function connectScript(port: number): string {
  return `import net from 'node:net';
const done = (what) => { console.log('net: ' + what); finish(); };
const socket = net.connect(${port}, '127.0.0.1');
socket.setTimeout(3000, () => { socket.destroy(); done('timeout'); });
socket.on('connect', () => { socket.destroy(); done('connected'); });
socket.on('error', (error) => done(error.code ?? error.message));
function finish() { console.log('METRIC loss=1'); }
`;
}

const SECRETS = {
  GH_PAT: `ghp_${'a'.repeat(36)}`,
  DATABASE_URL: `postgres://app:${hex()}@db.internal:5432/prod`,
  SSH_AUTH_SOCK: '/tmp/ssh-redteam/agent.1234',
  GITHUB_TOKEN: `ghs_${'b'.repeat(36)}`,
  ACTIONS_RUNTIME_TOKEN: `runtime-${hex()}`,
  REDTEAM_ALLOWED_SETTING: 'named-in-evaluate-env',
};

describe.skipIf(!linux)('red team: candidate code inside the sandbox', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const [name, value] of Object.entries(SECRETS)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('kills a setsid daemon, a double-forked child and a nohup child when the command ends', async () => {
    const marker = `redteam-daemon-${hex()}`;
    const arena = await openArena('{ command: sh attack.sh, timeout: 20s, repeats: 1 }', {
      'attack.sh': `setsid sh -c 'sleep 1; echo late > late-setsid.txt; sleep 30; :' ${marker}-setsid </dev/null >/dev/null 2>&1 &
( sh -c 'sleep 1; echo late > late-fork.txt; sleep 30; :' ${marker}-fork </dev/null >/dev/null 2>&1 & ) &
nohup sh -c 'trap "" TERM HUP; sleep 1; echo late > late-nohup.txt; sleep 30; :' ${marker}-nohup </dev/null >/dev/null 2>&1 &
echo METRIC loss=1
`,
    });
    const started = Date.now();
    const sample = await arena.evaluator.measure(arena.candidate, 0, arena.trace);
    expect(sample.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await survivors(marker)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const late of ['late-setsid.txt', 'late-fork.txt', 'late-nohup.txt']) expect(existsSync(join(arena.candidate.worktree, late)), late).toBe(false);
  });

  it('ends a command that ignores SIGTERM and forks, at its budget, with everything it started', async () => {
    const marker = `redteam-budget-${hex()}`;
    const arena = await openArena('{ command: sh attack.sh, timeout: 1s, repeats: 1 }', {
      'attack.sh': `trap '' TERM
sh -c 'trap "" TERM; sleep 60; :' ${marker} &
setsid sh -c 'trap "" TERM; sleep 60; :' ${marker} &
sleep 60
`,
    });
    const started = Date.now();
    const sample = await arena.evaluator.measure(arena.candidate, 0, arena.trace);
    expect(sample.ok).toBe(false);
    expect(sample.outcome.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(await survivors(marker)).toEqual([]);
  });

  describe('with a stand-in for autoloop\'s process holding a secret in its environment', () => {
    let standIn: ChildProcess;
    const canary = `canary-${hex(16)}`;
    beforeAll(async () => {
      // What the issue's attack read: the environment of autoloop's own process, from /proc/<pid>/environ.
      standIn = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: { ...process.env, AUTOLOOP_REDTEAM_CANARY: canary }, stdio: 'ignore' });
      await new Promise((resolve) => standIn.once('spawn', resolve));
      // The attack works outside the sandbox: the test is not vacuous.
      expect(readFileSync(`/proc/${standIn.pid}/environ`, 'utf8')).toContain(canary);
    });
    afterAll(() => {
      standIn.kill('SIGKILL');
    });

    it('sees neither autoloop\'s processes nor their /proc/<pid>/environ', async () => {
      const arena = await openArena('{ command: sh attack.sh, timeout: 20s, repeats: 1 }', {
        'attack.sh': `for pid in ${process.pid} ${standIn.pid}; do
  if cat /proc/$pid/environ >/dev/null 2>&1; then echo "environ $pid: readable"; else echo "environ $pid: unreadable"; fi
  if kill -0 $pid 2>/dev/null; then echo "kill $pid: reachable"; else echo "kill $pid: unreachable"; fi
done
echo "canary hits: $(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c ${canary})"
echo "processes: $(ls /proc | grep -cE '^[0-9]+$')"
for f in /proc/[0-9]*/cmdline; do echo "cmd: $(tr '\\0' ' ' < $f)"; done
echo METRIC loss=1
`,
      });
      const sample = await arena.evaluator.measure(arena.candidate, 0, arena.trace);
      expect(sample.ok).toBe(true);
      const log = runLog(arena, 'candidate-1');
      for (const pid of [process.pid, standIn.pid]) {
        expect(log).toContain(`environ ${pid}: unreadable`);
        expect(log).toContain(`kill ${pid}: unreachable`);
      }
      expect(log).toContain('canary hits: 0');
      expect(Number(/processes: (\d+)/.exec(log)![1])).toBeLessThanOrEqual(6);
      expect(log).not.toMatch(/cmd: .*(vitest|setInterval)/);
    });

    it('sandbox: none still measures, says "unsandboxed", keeps the allowlist, and shows what the sandbox stops', async () => {
      const arena = await openArena('{ command: sh attack.sh, timeout: 20s, repeats: 1 }', {
        'attack.sh': `if cat /proc/${standIn.pid}/environ >/dev/null 2>&1; then echo "environ: readable"; else echo "environ: unreadable"; fi
echo "home: $HOME"
echo "GH_PAT=\${GH_PAT:-absent}"
echo METRIC loss=2
`,
      }, 'sandbox: none\n');
      expect(arena.evaluator.sandboxed).toBe(false);
      expect(arena.evaluator.isolation).toBe('unsandboxed');
      const sample = await arena.evaluator.measure(arena.candidate, 0, arena.trace);
      expect(sample).toMatchObject({ ok: true, metrics: { loss: 2 } });
      const log = runLog(arena, 'candidate-1');
      expect(log).toContain('unsandboxed ---');
      // Without a sandbox, the host's processes are in reach: exactly why `none` must be chosen knowingly.
      expect(log).toContain('environ: readable');
      expect(log).toContain('GH_PAT=absent');
      const home = /^home: (.*)$/m.exec(log)![1]!;
      expect(home).not.toBe(homedir());
      expect(existsSync(home)).toBe(false); // a private directory, removed after the command
    });
  });

  it('passes only the allowlisted environment: no GH_PAT, DATABASE_URL, SSH_AUTH_SOCK or tokens', async () => {
    const arena = await openArena('{ command: node env.mjs, setup: node env.mjs, timeout: 20s, env: [REDTEAM_ALLOWED_SETTING], repeats: 1 }', {
      'env.mjs': `import { readdirSync, writeFileSync } from 'node:fs';
console.log('names: ' + Object.keys(process.env).sort().join(','));
console.log('values: ' + JSON.stringify(process.env));
writeFileSync(process.env.HOME + '/probe', 'x');
console.log('home entries: ' + readdirSync(process.env.HOME).join(','));
console.log('METRIC loss=1');
`,
    });
    expect(arena.evaluator.sandboxed).toBe(true);
    const setup = await arena.evaluator.setup(arena.candidate.worktree, arena.trace, 'candidate');
    expect(setup?.ok).toBe(true);
    const sample = await arena.evaluator.measure(arena.candidate, 0, arena.trace);
    expect(sample.ok).toBe(true);
    const allowed = new Set(['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TERM', 'HOME', 'TMPDIR', 'REDTEAM_ALLOWED_SETTING', 'AUTOLOOP_METRICS_FILE', 'AUTOLOOP_SIDE', 'AUTOLOOP_RUN',
      // Set by /bin/sh itself.
      'PWD', 'OLDPWD', 'SHLVL', '_']);
    for (const log of [readFileSync(join(arena.trace, 'setup-candidate.log'), 'utf8'), runLog(arena, 'candidate-1')]) {
      const names = /^names: (.*)$/m.exec(log)![1]!.split(',');
      expect(names.filter((name) => !allowed.has(name))).toEqual([]);
      expect(names).toContain('REDTEAM_ALLOWED_SETTING');
      // With report: stdout (the default) there is no metrics file to name.
      expect(names).not.toContain('AUTOLOOP_METRICS_FILE');
      for (const [name, value] of Object.entries(SECRETS)) {
        if (name === 'REDTEAM_ALLOWED_SETTING') continue;
        expect(names).not.toContain(name);
        expect(log).not.toContain(value);
      }
      const values = JSON.parse(/^values: (.*)$/m.exec(log)![1]!) as Record<string, string>;
      expect(values.HOME).toBe('/tmp/home');
      expect(values.TMPDIR).toBe('/tmp');
      // A fresh HOME each time: what the setup left there is gone for the measured run.
      expect(/^home entries: (.*)$/m.exec(log)![1]).toBe('probe');
    }
  });

  describe('network', () => {
    let host: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => {
      host = await startServer();
    });
    afterAll(() => {
      host.server.close();
    });

    it('is refused to the command unless evaluate.network allows it, and then it works', async () => {
      const closed = await openArena('{ command: node connect.mjs, check: node connect.mjs, timeout: 20s, repeats: 1 }', { 'connect.mjs': connectScript(host.port) });
      expect(closed.evaluator.network).toBe(false);
      const check = await closed.evaluator.check(closed.candidate.worktree, closed.trace, 'candidate');
      expect(check?.ok).toBe(true);
      const sample = await closed.evaluator.measure(closed.candidate, 0, closed.trace);
      expect(sample.ok).toBe(true);
      expect(readFileSync(join(closed.trace, 'check-candidate.log'), 'utf8')).toMatch(/net: (ECONNREFUSED|ENETUNREACH)/);
      expect(runLog(closed, 'candidate-1')).toMatch(/net: (ECONNREFUSED|ENETUNREACH)/);
      expect(runLog(closed, 'candidate-1')).toContain('sandboxed (bwrap), no network ---');
      expect(host.connections()).toBe(0);

      const open = await openArena('{ command: node connect.mjs, timeout: 20s, network: true, repeats: 1 }', { 'connect.mjs': connectScript(host.port) });
      expect(open.evaluator.isolation).toBe('sandboxed (bwrap), network allowed');
      const opened = await open.evaluator.measure(open.candidate, 0, open.trace);
      expect(opened.ok, runLog(open, 'candidate-1')).toBe(true);
      expect(runLog(open, 'candidate-1')).toContain('net: connected');
      expect(host.connections()).toBe(1);
    });

    it('is the agent\'s (it calls its model), in a sandbox that still hides the user\'s .git and the trace, and the trace says so', async () => {
      const agentTraceFile = `${FROM_WORKTREE.repo}/.autoloop/${TAG}/traces/exp-0002/secret-of-the-trace.txt`;
      const arena = await openArena('{ command: node eval.mjs, timeout: 20s, repeats: 1 }', {
        'agent.mjs': `import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
${connectScript(host.port).replace("function finish() { console.log('METRIC loss=1'); }", '')}
function finish() {
  let wrote = 'refused';
  try { appendFileSync('${FROM_WORKTREE.gitDir}/config', '[core]\\n\\tfsmonitor = /tmp/evil\\n'); wrote = 'written'; } catch {}
  console.log('git config: ' + wrote);
  console.log('git dir visible: ' + existsSync('${FROM_WORKTREE.gitDir}/HEAD'));
  console.log('trace visible: ' + existsSync('${agentTraceFile}'));
  console.log('gh_pat: ' + (process.env.GH_PAT ?? 'absent'));
  writeFileSync('params.json', '{ "x": 1, "y": 0 }\\n');
}
`,
      });
      const agentTrace = join(dirname(arena.trace), 'exp-0002');
      mkdirSync(agentTrace, { recursive: true });
      writeFileSync(resolve(arena.candidate.worktree, agentTraceFile), 'trace data\n');
      const gitConfig = join(arena.commonDir, 'config');
      const before = sha256(gitConfig);
      const config = configSchema.parse({
        metric: { name: 'loss', goal: 'minimize' },
        evaluate: { command: 'node eval.mjs' },
        scope: { edit: ['params.json'] },
        proposer: { kind: 'command', command: { run: 'node agent.mjs' } },
      });
      const proposal = await createCommandProposer(config).propose({ worktree: arena.candidate.worktree, config, experiment: 2, history: [], trace: agentTrace });
      const log = readFileSync(join(agentTrace, 'agent.log'), 'utf8');
      expect(proposal.notes.changed, log).toEqual(['params.json']);
      expect(log).toContain('sandbox: sandboxed (bwrap), network allowed (the agent calls its model)');
      expect(log).toContain('net: connected');
      expect(log).toContain('git config: refused');
      expect(log).toContain('git dir visible: false');
      expect(log).toContain('trace visible: false');
      expect(log).toContain('gh_pat: absent');
      expect(sha256(gitConfig)).toBe(before);
    });
  });

  it('cannot write (or even see) the user\'s checkout, its .git, .autoloop/ or the other side\'s worktree; only its own worktree', async () => {
    const targets = {
      checkout: `${FROM_WORKTREE.repo}/eval.mjs`,
      gitConfig: `${FROM_WORKTREE.gitDir}/config`,
      gitHook: `${FROM_WORKTREE.gitDir}/hooks/post-checkout`,
      gitAttributes: `${FROM_WORKTREE.gitDir}/info/attributes`,
      ownGitDir: `${FROM_WORKTREE.gitDir}/worktrees/candidate/HEAD`,
      ledger: `${FROM_WORKTREE.repo}/.autoloop/${TAG}/ledger.jsonl`,
      baseline: `${FROM_WORKTREE.otherSide('candidate')}/eval.mjs`,
      hostRoot: `/etc/autoloop-redteam-${hex()}`,
      hostHome: join(homedir(), `autoloop-redteam-${hex()}`),
    };
    const attack = `${Object.entries(targets).map(([name, file]) => `if [ -e '${file}' ]; then echo "${name}: visible"; else echo "${name}: invisible"; fi
if echo pwned >> '${file}' 2>/dev/null; then echo "${name}: written"; else echo "${name}: refused"; fi`).join('\n')}
if git rev-parse HEAD >/dev/null 2>&1; then echo "git: works"; else echo "git: no repository"; fi
git config core.fsmonitor /tmp/evil 2>/dev/null
echo mine > inside.txt && echo "worktree: written"
`;
    const arena = await openArena('{ command: node eval.mjs, check: sh attack.sh, timeout: 20s, repeats: 1 }', { 'attack.sh': attack });
    const onHost = (file: string) => resolve(arena.candidate.worktree, file);
    const existing = Object.fromEntries(Object.entries(targets).filter(([, file]) => existsSync(onHost(file))).map(([name, file]) => [name, sha256(onHost(file))]));
    // The attack is real: these are the host's files, and they are there.
    expect(Object.keys(existing).sort()).toEqual(['baseline', 'checkout', 'gitConfig', 'ledger', 'ownGitDir']);

    const check = await arena.evaluator.check(arena.candidate.worktree, arena.trace, 'candidate');
    expect(check?.ok).toBe(true);
    const log = readFileSync(join(arena.trace, 'check-candidate.log'), 'utf8');
    for (const name of ['checkout', 'gitConfig', 'gitHook', 'gitAttributes', 'ownGitDir', 'ledger', 'baseline']) expect(log).toContain(`${name}: invisible`);
    for (const [name, file] of Object.entries(targets)) {
      expect(log).toContain(`${name}: refused`);
      if (existing[name]) expect(sha256(onHost(file)), name).toBe(existing[name]);
      else expect(existsSync(onHost(file)), name).toBe(false);
    }
    expect(log).toContain('git: no repository');
    expect(gitConfigValue(arena.repo, 'core.fsmonitor')).toBe('');
    expect(log).toContain('worktree: written');
    expect(readFileSync(join(arena.candidate.worktree, 'inside.txt'), 'utf8')).toBe('mine\n');
  });
});

describe('red team: the candidate cannot read the baseline\'s metrics or trace', () => {
  it.skipIf(!linux)('keeps the trace folder hidden and gives each run a fresh metrics file', async () => {
    const trace = `${FROM_WORKTREE.repo}/.autoloop/${TAG}/traces/exp-0001`;
    const arena = await openArena('{ command: sh attack.sh, setup: sh setup.sh, timeout: 20s, report: file, repeats: 1 }', {
      // The baseline's secret is made when it runs, so that it is in no file the candidate could read but the trace.
      'attack.sh': `if [ "$AUTOLOOP_SIDE" = baseline ]; then
  secret="baseline-only-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')"
  echo "baseline says $secret"
  printf '{"loss": 1.25, "note": "%s"}' "$secret" > "$AUTOLOOP_METRICS_FILE"
  exit 0
fi
echo "metrics file: $AUTOLOOP_METRICS_FILE"
if [ -e "$AUTOLOOP_METRICS_FILE" ]; then echo "pre-filled: yes"; else echo "pre-filled: no"; fi
echo "run dir: [$(ls -A /run/autoloop | tr '\\n' ' ')]"
cat '${trace}/metrics-baseline-1.json' 2>/dev/null
cat '${trace}/baseline-1.log' 2>/dev/null
if [ -e '${trace}/baseline-1.log' ]; then echo "trace: visible"; else echo "trace: invisible"; fi
grep -rshoE 'baseline-only-[0-9a-f]{16}' /tmp /run 2>/dev/null | head -1
printf '{"loss": 3}' > "$AUTOLOOP_METRICS_FILE"
`,
      'setup.sh': `mkdir -p /run/autoloop 2>/dev/null; echo '{"loss": 0}' > ${SANDBOX_METRICS_FILE} 2>/dev/null
echo '{"loss": 0}' > /tmp/metrics.json
echo "setup's metrics file: \${AUTOLOOP_METRICS_FILE:-unset}"
`,
    });
    for (const checkout of [arena.baseline, arena.candidate]) expect((await arena.evaluator.setup(checkout.worktree, arena.trace, checkout.side))?.ok).toBe(true);
    const samples = await arena.evaluator.measurePair(arena.baseline, arena.candidate, arena.trace);
    expect(samples.map((s) => [s.side, s.ok, s.metrics.loss])).toEqual([['baseline', true, 1.25], ['candidate', true, 3]]);
    // The baseline's file is there, in the trace, on the host.
    const baselineSecret = /baseline-only-[0-9a-f]{16}/.exec(readFileSync(resolve(arena.candidate.worktree, trace, 'metrics-baseline-1.json'), 'utf8'))![0];
    expect(runLog(arena, 'baseline-1')).toContain(baselineSecret);
    const log = runLog(arena, 'candidate-1');
    expect(log).not.toContain(baselineSecret);
    expect(log).toContain(`metrics file: ${SANDBOX_METRICS_FILE}`);
    expect(log).toContain('pre-filled: no');
    expect(log).toContain('run dir: []');
    expect(log).toContain('trace: invisible');
    expect(readFileSync(join(arena.trace, 'setup-candidate.log'), 'utf8')).toContain("setup's metrics file: unset");
  });

  it.skipIf(!linux)('does not follow a metrics file the candidate made a symlink to a host file, nor hang on a FIFO', async () => {
    const secretDir = mkdtempSync(join(tmpdir(), 'autoloop-redteam-secret-'));
    const secretFile = join(secretDir, 'id_rsa');
    const secret = `-----BEGIN REDTEAM KEY ${hex()}-----`;
    writeFileSync(secretFile, `{"loss": 0.001, "key": "${secret}"}`);
    try {
      const arena = await openArena('{ command: sh attack.sh, timeout: 5s, report: file, repeats: 1 }', {
        'attack.sh': `if [ "$AUTOLOOP_SIDE" = candidate ]; then
  ln -s '${secretFile}' "$AUTOLOOP_METRICS_FILE" && echo linked
  echo METRIC loss=4
else
  mkfifo "$AUTOLOOP_METRICS_FILE" && echo fifo
  echo METRIC loss=5
fi
`,
      });
      const candidate = await arena.evaluator.measure(arena.candidate, 0, arena.trace);
      expect(runLog(arena, 'candidate-1')).toContain('linked');
      // autoloop read no file through the link: no metric (the METRIC line is not read with report: file), and the key is nowhere.
      expect(candidate).toMatchObject({ ok: false, metrics: {} });
      expect(candidate.reason).toMatch(/^no metric "loss": write \{"loss": <number>\} to \$AUTOLOOP_METRICS_FILE \(the command left it empty\); stdout has "METRIC loss=…"/);
      for (const file of readdirSync(arena.trace)) expect(readFileSync(join(arena.trace, file), 'utf8')).not.toContain(secret);
      const started = Date.now();
      const baseline = await arena.evaluator.measure(arena.baseline, 0, arena.trace);
      expect(runLog(arena, 'baseline-1')).toContain('fifo');
      expect(baseline).toMatchObject({ ok: false, metrics: {} });
      expect(baseline.reason).toMatch(/^no metric "loss": .*set evaluate.report: stdout or write the file$/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      rmSync(secretDir, { recursive: true, force: true });
    }
  });

  it.skipIf(!linux)('autoloop eval, the path CI runs, measures a candidate whose setup attacks .git and the baseline', async () => {
    const repo = makeQuadraticRepo(undefined, {
      'setup.sh': `echo '[core]' >> ${FROM_WORKTREE.gitDir}/config 2>/dev/null
for f in '${FROM_WORKTREE.otherSide('candidate')}/params.json' '${FROM_WORKTREE.repo}/params.json'; do echo '{"x": 3, "y": -1}' > "$f" 2>/dev/null && echo "wrote $f"; done
echo "setup done"
`,
    });
    writeFileSync(join(repo, '.github/autoloop.yml'), readFileSync(join(repo, '.github/autoloop.yml'), 'utf8').replace('evaluate: { command: node eval.mjs, timeout: 20s, repeats: 1 }', 'evaluate: { command: node eval.mjs, setup: sh setup.sh, timeout: 20s, repeats: 1 }'));
    gitSync(repo, 'commit', '--quiet', '-am', 'setup that attacks');
    const base = gitSync(repo, 'rev-parse', 'HEAD');
    writeFileSync(join(repo, 'params.json'), '{\n  "x": 1,\n  "y": 0\n}\n');
    gitSync(repo, 'commit', '--quiet', '-am', 'candidate');
    const head = gitSync(repo, 'rev-parse', 'HEAD');
    const gitConfig = sha256(join(repo, '.git', 'config'));
    const result = await evalRefs({ cwd: repo, base, head, configFromBase: true });
    expect(result.measurement.reason).toBeNull();
    // Measured honestly: the baseline's loss is the base's 10.5, not the optimum the candidate's setup tried to plant.
    const loss = (side: string) => result.measurement.samples.find((s) => s.side === side)?.metrics.loss;
    expect(loss('baseline')).toBe(10.5);
    expect(loss('candidate')).toBe(5.5);
    expect(sha256(join(repo, '.git', 'config'))).toBe(gitConfig);
    expect(gitSync(repo, 'status', '--porcelain')).toBe('');
    expect(result.document.sandbox).toBe('bwrap');
    const setupLog = readFileSync(join(result.traceDir, 'setup-candidate.log'), 'utf8');
    expect(setupLog).toContain('setup done');
    expect(setupLog).not.toContain('wrote');
    expect(JSON.parse(readFileSync(join(repo, 'params.json'), 'utf8'))).toEqual({ x: 1, y: 0 });
  });
});

describe('red team: no sandbox, no run', () => {
  const config = configSchema.parse({
    metric: { name: 'loss', goal: 'minimize' },
    evaluate: { command: 'echo METRIC loss=1' },
    scope: { edit: ['p.json'] },
    proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
  });
  let worktree: string;
  beforeAll(() => {
    worktree = mkdtempSync(join(tmpdir(), 'autoloop-redteam-nobwrap-'));
  });
  afterAll(() => rmSync(worktree, { recursive: true, force: true }));

  async function failure(evaluator: Evaluator): Promise<SandboxUnavailableError> {
    const error = await evaluator.measure({ side: 'candidate', worktree, commit: 'c0ffee' }, 0, join(worktree, 'trace')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxUnavailableError);
    expect((error as SandboxUnavailableError).exitCode).toBe(EXIT.config);
    expect((error as SandboxUnavailableError).message).toContain('sandbox: none');
    return error as SandboxUnavailableError;
  }

  it.skipIf(!linux)('stops with the cause and the fix when bwrap is not installed (missing binary, PATH without it)', async () => {
    const missing = await failure(new Evaluator(config, { sandbox: { executable: '/nonexistent/bwrap' } }));
    expect(missing.reason).toBe('missing');
    expect(missing.message).toContain('/nonexistent/bwrap does not exist');
    expect(missing.message).toContain('apt-get install bubblewrap');

    const noPath = await failure(new Evaluator({ ...config, sandbox: 'bwrap' }, { env: { PATH: worktree } }));
    expect(noPath.reason).toBe('missing');
    expect(noPath.message).toMatch(/^sandbox: bwrap: bubblewrap is not installed: bwrap was not found on PATH/);
    expect(existsSync(join(worktree, 'trace', 'metrics-candidate-1.json'))).toBe(false);
  });

  it.skipIf(!linux)('stops with bwrap\'s own words and the AppArmor fix when user namespaces are refused', async () => {
    const fake = join(worktree, 'bwrap');
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = --version ]; then echo "bubblewrap 0.9.0"; exit 0; fi\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const refused = await failure(new Evaluator(config, { sandbox: { executable: fake } }));
    expect(refused.reason).toBe('refused');
    expect(refused.message).toContain('bwrap said: bwrap: setting up uid map: Permission denied');
    expect(refused.message).toContain('sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0');
  });

  it('stops on a platform without bubblewrap, and runs with sandbox: none', async () => {
    const other = await failure(new Evaluator(config, { sandbox: { platform: 'darwin', executable: '/nonexistent/bwrap' } }));
    expect(other.reason).toBe('platform');
    expect(other.message).toContain('this is darwin');

    const unsandboxed = new Evaluator({ ...config, sandbox: 'none' }, { sandbox: { platform: 'darwin', executable: '/nonexistent/bwrap' } });
    const sample = await unsandboxed.measure({ side: 'candidate', worktree, commit: 'c0ffee' }, 0, join(worktree, 'trace'));
    expect(sample).toMatchObject({ ok: true, metrics: { loss: 1 } });
    expect(unsandboxed.sandboxed).toBe(false);
  });

  it.skipIf(!linux)('is checked before a run writes anything: openRun fails on the config, not halfway through', async () => {
    const repo = makeQuadraticRepo();
    writeFileSync(join(repo, '.github/autoloop.yml'), `${readFileSync(join(repo, '.github/autoloop.yml'), 'utf8')}sandbox: bwrap\n`);
    gitSync(repo, 'commit', '-qam', 'sandbox: bwrap');
    const path = process.env.PATH;
    // autoloop's own git keeps the PATH it started with; only the search for bwrap sees this one.
    process.env.PATH = worktree;
    let error: unknown;
    try {
      error = await openRun({ cwd: repo, proposer: idle, tag: 'nobwrap' }).catch((e: unknown) => e);
    } finally {
      process.env.PATH = path;
    }
    expect(error).toBeInstanceOf(SandboxUnavailableError);
    expect(existsSync(join(repo, '.autoloop', 'nobwrap'))).toBe(false);
    expect(gitSync(repo, 'branch', '--list', 'autoloop/*')).toBe('');
  });
});
