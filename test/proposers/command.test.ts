import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/config-schema.js';
import type { ExperimentRecord } from '../../src/core/ledger/records.js';
import { HYPOTHESIS_FILE, createCommandProposer } from '../../src/proposers/command.js';
import { createProposer } from '../../src/proposers/index.js';
import { ProposalError, ProposerConfigError, type ProposalContext } from '../../src/core/propose/proposer.js';
import { makeExperiment } from '../fixtures/records/ledger.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

const CANARY_NAME = 'AUTOLOOP_CANARY_API_KEY';
const GOAL = 'make the greeting friendlier';

let worktree: string;
let scripts: string;
let trace: string;
let savedEnv: NodeJS.ProcessEnv;

beforeEach(async () => {
  savedEnv = { ...process.env };
  worktree = makeRepo({
    'src/greeting.txt': 'hello\n',
    'src/other.txt': 'other\n',
    'README.md': '# readme\n',
    'eval.mjs': 'console.log("METRIC score=1")\n',
    '.github/autoloop.md': 'Try a warmer greeting.\n',
    '.github/autoloop.yml': 'metric: { name: score, goal: maximize }\n',
  });
  scripts = await mkdtemp(path.join(os.tmpdir(), 'autoloop-agent-scripts-'));
  trace = await mkdtemp(path.join(os.tmpdir(), 'autoloop-agent-trace-'));
});

afterEach(async () => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
  await Promise.all([worktree, scripts, trace].map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A config whose proposer runs `node <script>` written from `source`. */
async function configFor(source: string, command: { timeout?: string; env?: string[] } = {}) {
  const script = path.join(scripts, `agent-${randomBytes(4).toString('hex')}.mjs`);
  await writeFile(script, source);
  return configSchema.parse({
    metric: { name: 'score', goal: 'maximize' },
    evaluate: { command: 'node eval.mjs' },
    scope: { edit: ['src/**'], protect: ['eval.mjs'] },
    proposer: { kind: 'command', command: { run: `"${process.execPath}" "${script}"`, ...command } },
  });
}

function context(config: ReturnType<typeof configSchema.parse>, extra: Partial<ProposalContext> = {}): ProposalContext {
  const history: ExperimentRecord[] = [makeExperiment({ experiment: 0, status: 'keep' })];
  return { worktree, config, experiment: 1, history, goal: GOAL, trace, ...extra };
}

/**
 * The agent scripts live in `scripts`, outside the worktree: bound into the agent's sandbox (read-write,
 * since some write what they saw there), as a user would make an agent installed outside the worktree visible.
 */
function agentOptions() {
  return { binds: [{ source: scripts, target: scripts, writable: true }] };
}

const realpathOf = (p: string) => realpath(p);

/** `git status --porcelain`, one trimmed line per path. */
function status(): string {
  return gitSync(worktree, 'status', '--porcelain=v1', '--untracked-files=all')
    .split('\n')
    .map((line) => line.trim())
    .join('\n');
}

/**
 * The host's processes whose command line names `marker`, zombies (killed, waiting for the sandbox's
 * init to reap them) left out. By command line, not by pid: inside the sandbox the agent sees only
 * its own PID namespace, so the pid it could report means nothing out here.
 */
async function runningWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(marker)) continue;
    const state = await readFile(`/proc/${entry}/stat`, 'utf8').then((stat) => stat.replace(/^.*\) /s, '')[0], () => 'X');
    if (state !== 'Z' && state !== 'X') pids.push(Number(entry));
  }
  return pids;
}

const HEADER = `import { appendFileSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';\nimport { execFileSync } from 'node:child_process';\n`;

describe('createCommandProposer', () => {
  it('keeps an edit inside the scope and takes the hypothesis from AUTOLOOP_HYPOTHESIS, which it removes', async () => {
    const config = await configFor(`${HEADER}
writeFileSync('src/greeting.txt', 'hello there, friend\\n');
writeFileSync(process.env.AUTOLOOP_HYPOTHESIS_FILE, 'a warmer greeting wins\\nsecond line ignored\\n');
console.log('done editing');
`);
    const head = gitSync(worktree, 'rev-parse', 'HEAD');
    const proposal = await createCommandProposer(config, agentOptions()).propose(context(config));

    expect(proposal.hypothesis).toBe('a warmer greeting wins');
    expect(proposal.notes).toMatchObject({ exitCode: 0, timedOut: false, changed: ['src/greeting.txt'], reverted: [] });
    expect(status()).toBe('M src/greeting.txt');
    expect(existsSync(path.join(worktree, HYPOTHESIS_FILE))).toBe(false);
    expect(gitSync(worktree, 'rev-parse', 'HEAD')).toBe(head);
    const log = await readFile(path.join(trace, 'agent.log'), 'utf8');
    expect(log).toContain('exit code 0');
    expect(log).toContain('done editing');
  });

  it('reverts changes outside the scope (tracked, untracked, deleted, committed) and reports them', async () => {
    const config = await configFor(`${HEADER}
const git = (...args) => execFileSync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@example.com', ...args]);
writeFileSync('src/greeting.txt', 'hi!\\n');
writeFileSync('README.md', '# rewritten\\n');
git('commit', '--quiet', '-am', 'agent commit');
mkdirSync('notes/deep', { recursive: true });
writeFileSync('notes/deep/scratch.txt', 'scratch\\n');
writeFileSync('src/new.txt', 'new in scope\\n');
rmSync('eval.mjs');
appendFileSync('.github/autoloop.yml', 'budget: { experiments: 1000 }\\n');
git('add', 'notes');
console.log('HYPOTHESIS: shorter greeting');
console.log('all done');
`);
    const head = gitSync(worktree, 'rev-parse', 'HEAD');
    const proposal = await createCommandProposer(config, agentOptions()).propose(context(config));

    expect(proposal.hypothesis).toBe('shorter greeting');
    expect(gitSync(worktree, 'rev-parse', 'HEAD')).toBe(head);
    expect(gitSync(worktree, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(status().split('\n').sort()).toEqual(['?? src/new.txt', 'M src/greeting.txt']);
    expect(await readFile(path.join(worktree, 'src/greeting.txt'), 'utf8')).toBe('hi!\n');
    expect(await readFile(path.join(worktree, 'README.md'), 'utf8')).toBe('# readme\n');
    expect(await readFile(path.join(worktree, 'eval.mjs'), 'utf8')).toContain('METRIC');
    expect(existsSync(path.join(worktree, 'notes'))).toBe(false);
    expect((proposal.notes.changed as string[]).sort()).toEqual(['src/greeting.txt', 'src/new.txt']);
    const reverted = (proposal.notes.reverted as { path: string; rule: string; change: string }[]).map(({ path, rule, change }) => ({ path, rule, change }));
    expect(reverted.sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual([
      { path: '.github/autoloop.yml', rule: 'protected', change: 'modified' },
      { path: 'README.md', rule: 'outside-edit', change: 'modified' },
      { path: 'eval.mjs', rule: 'protected', change: 'deleted' },
      { path: 'notes/deep/scratch.txt', rule: 'outside-edit', change: 'added' },
    ]);
  });

  it("gives the agent a throw-away repository of its own: the parent as its one commit, never the user's .git", async () => {
    const seen = path.join(scripts, 'seen.json');
    const config = await configFor(`${HEADER}
const git = (...args) => execFileSync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@example.com', ...args], { encoding: 'utf8' }).trim();
const before = { head: git('rev-parse', 'HEAD'), commits: git('rev-list', '--count', 'HEAD'), status: git('status', '--porcelain'), top: git('rev-parse', '--show-toplevel'), branches: git('branch', '--list', '--all') };
writeFileSync('src/greeting.txt', 'hello, agent\\n');
const diff = git('diff', '--name-only');
// What an agent must not get to do to the user's repository: config that runs later, a commit, a moved branch.
git('config', 'core.fsmonitor', 'touch /tmp/fsmonitor-ran');
git('commit', '--quiet', '-am', 'agent commit');
writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ ...before, diff, gitDir: process.env.GIT_DIR }));
`);
    const head = gitSync(worktree, 'rev-parse', 'HEAD');
    const configBefore = await readFile(path.join(worktree, '.git/config'), 'utf8');
    const proposal = await createCommandProposer(config, agentOptions()).propose(context(config));

    const agent = JSON.parse(await readFile(seen, 'utf8')) as Record<string, string>;
    expect(agent).toMatchObject({ head, commits: '1', status: '', diff: 'src/greeting.txt', branches: '* autoloop-experiment' });
    expect(await realpathOf(agent.top!)).toBe(await realpathOf(worktree));
    expect(agent.gitDir).not.toContain(worktree);
    // The user's repository: the same HEAD, one commit as before, its config untouched; the change is the proposal.
    expect(proposal.notes.changed).toEqual(['src/greeting.txt']);
    expect(gitSync(worktree, 'rev-parse', 'HEAD')).toBe(head);
    expect(gitSync(worktree, 'rev-list', '--count', 'HEAD')).toBe('1');
    expect(await readFile(path.join(worktree, '.git/config'), 'utf8')).toBe(configBefore);
    expect(status()).toBe('M src/greeting.txt');
  });

  it('undoes a branch and a commit the agent made on a detached HEAD, keeping its files', async () => {
    gitSync(worktree, 'checkout', '--quiet', '--detach');
    const head = gitSync(worktree, 'rev-parse', 'HEAD');
    const config = await configFor(`${HEADER}
const git = (...args) => execFileSync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@example.com', ...args]);
git('checkout', '--quiet', '-b', 'agent-work');
writeFileSync('src/greeting.txt', 'committed by the agent\\n');
git('commit', '--quiet', '-am', 'agent commit');
`);
    const proposal = await createCommandProposer(config, agentOptions()).propose(context(config));
    expect(proposal.notes.changed).toEqual(['src/greeting.txt']);
    expect(gitSync(worktree, 'rev-parse', 'HEAD')).toBe(head);
    expect(() => gitSync(worktree, 'symbolic-ref', '--quiet', 'HEAD')).toThrow();
    expect(gitSync(worktree, 'rev-parse', 'main')).toBe(head);
    expect(status()).toBe('M src/greeting.txt');
  });

  it('falls back to the last output line, then to the changed files, for the hypothesis', async () => {
    const chatty = await configFor(`${HEADER}
writeFileSync('src/other.txt', 'changed\\n');
console.log('thinking...');
console.log('${'x'.repeat(200)}');
`);
    const first = await createCommandProposer(chatty, agentOptions()).propose(context(chatty));
    expect(first.hypothesis).toBe(`${'x'.repeat(119)}…`);

    gitSync(worktree, 'checkout', '--', '.');
    const silent = await configFor(`${HEADER}writeFileSync('src/other.txt', 'changed again\\n');\n`);
    const second = await createCommandProposer(silent, agentOptions()).propose(context(silent));
    expect(second.hypothesis).toBe('agent edit of src/other.txt');
  });

  it('fails with a ProposalError when nothing inside the scope changed', async () => {
    const idle = await configFor(`console.log('I looked and changed nothing');\n`);
    await expect(createCommandProposer(idle, agentOptions()).propose(context(idle))).rejects.toThrow(/changed nothing inside the scope/);

    const outside = await configFor(`${HEADER}writeFileSync('README.md', 'only outside\\n');\n`);
    const error = await createCommandProposer(outside, agentOptions()).propose(context(outside)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProposalError);
    expect((error as ProposalError).message).toContain('all reverted: README.md');
    expect((error as ProposalError).notes.reverted).toEqual([{ path: 'README.md', change: 'modified', rule: 'outside-edit', pattern: 'src/**' }]);
    expect(status()).toBe('');
  });

  it('fails with the exit code when the agent fails, and restores the worktree', async () => {
    const config = await configFor(`${HEADER}
writeFileSync('src/greeting.txt', 'half-done\\n');
console.error('rate limited, giving up');
process.exit(3);
`);
    const error = await createCommandProposer(config, agentOptions()).propose(context(config)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProposalError);
    expect((error as ProposalError).message).toBe('the agent command exited with code 3: rate limited, giving up');
    expect((error as ProposalError).notes).toMatchObject({ exitCode: 3, timedOut: false, changed: ['src/greeting.txt'] });
    expect(status()).toBe('');
  });

  it('kills the agent at its timeout and fails with "timed out"', async () => {
    const seenFile = path.join(scripts, 'seen-script');
    const config = await configFor(
      `${HEADER}
writeFileSync(${JSON.stringify(seenFile)}, process.argv[1]);
writeFileSync('src/greeting.txt', 'partial\\n');
process.on('SIGTERM', () => {});
setInterval(() => {}, 1000);
`,
      { timeout: '1s' },
    );
    const started = Date.now();
    const error = await createCommandProposer(config, { graceMs: 200, ...agentOptions() }).propose(context(config)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProposalError);
    expect((error as ProposalError).message).toMatch(/^the agent command timed out after 1\.0s \(proposer\.command\.timeout\)/);
    expect((error as ProposalError).notes).toMatchObject({ timedOut: true });
    expect(Date.now() - started).toBeLessThan(10_000);
    const script = await readFile(seenFile, 'utf8');
    expect(script).toContain('agent-');
    expect(await runningWith(script), `the agent ${script} still runs`).toEqual([]);
    expect(status()).toBe('');
  });

  it('says so when the agent CLI is not installed', async () => {
    const config = configSchema.parse({
      metric: { name: 'score', goal: 'maximize' },
      evaluate: { command: 'node eval.mjs' },
      scope: { edit: ['src/**'] },
      proposer: { kind: 'command', command: { run: 'autoloop-no-such-agent-cli --go' } },
    });
    await expect(createCommandProposer(config, agentOptions()).propose(context(config))).rejects.toThrow(ProposerConfigError);
  });

  it('withholds secrets from the agent unless proposer.command.env names them, and redacts them from the trace', async () => {
    const canary = `canary-${randomBytes(12).toString('hex')}`;
    process.env[CANARY_NAME] = canary;
    const promptCopy = path.join(scripts, 'prompt-copy.md');
    const received = path.join(scripts, 'received.txt');
    const source = `${HEADER}
writeFileSync(${JSON.stringify(promptCopy)}, readFileSync(process.env.AUTOLOOP_PROMPT_FILE, 'utf8'));
console.log('prompt file: ' + process.env.AUTOLOOP_PROMPT_FILE);
console.log('experiment: ' + process.env.AUTOLOOP_EXPERIMENT);
console.log('names: ' + Object.keys(process.env).sort().join(','));
writeFileSync(${JSON.stringify(received)}, process.env.${CANARY_NAME} ?? 'absent');
writeFileSync('src/greeting.txt', 'has the key: ' + (process.env.${CANARY_NAME} !== undefined) + '\\n');
console.error('value: ' + (process.env.${CANARY_NAME} ?? 'absent'));
console.log('my key is ' + (process.env.${CANARY_NAME} ?? 'absent'));
`;

    const withheld = await configFor(source);
    const proposal = await createCommandProposer(withheld, agentOptions()).propose(context(withheld));
    const log = await readFile(path.join(trace, 'agent.log'), 'utf8');
    const names = /^names: (.*)$/m.exec(log)![1]!.split(',');
    expect(names).toContain('AUTOLOOP_PROMPT_FILE');
    expect(names).not.toContain(CANARY_NAME);
    expect(log).toContain('value: absent');
    expect(log).toContain('experiment: 1');
    expect(log).toContain(CANARY_NAME); // named as withheld, never its value
    expect(proposal.hypothesis).toBe('my key is absent');
    for (const text of [log, await readFile(path.join(trace, 'prompt.md'), 'utf8'), JSON.stringify(proposal)]) expect(text).not.toContain(canary);

    // The prompt file lived outside the worktree, quoted the goal as data, and is gone.
    const promptFile = /^prompt file: (.*)$/m.exec(log)![1]!;
    expect(path.relative(worktree, promptFile).startsWith('..')).toBe(true);
    expect(existsSync(promptFile)).toBe(false);
    const prompt = await readFile(promptCopy, 'utf8');
    expect(prompt).toMatch(new RegExp(`<data source="goal">\\n${GOAL}\\n</data>`));
    expect(prompt).toContain('<data source="instructions">\nTry a warmer greeting.\n</data>');
    expect(prompt).toMatch(/<data source="file" path="src\/greeting.txt">\nhello\n<\/data>/);
    expect(prompt).not.toContain('path="README.md"');
    expect(prompt).toContain(HYPOTHESIS_FILE);

    gitSync(worktree, 'checkout', '--', '.');
    await rm(trace, { recursive: true, force: true });
    trace = await mkdtemp(path.join(os.tmpdir(), 'autoloop-agent-trace-'));
    const allowed = await configFor(source, { env: [CANARY_NAME] });
    const second = await createCommandProposer(allowed, agentOptions()).propose(context(allowed));
    const allowedLog = await readFile(path.join(trace, 'agent.log'), 'utf8');
    expect(/^names: (.*)$/m.exec(allowedLog)![1]!.split(',')).toContain(CANARY_NAME);
    expect(allowedLog).toContain(`value: [REDACTED:${CANARY_NAME}]`);
    expect(allowedLog).not.toContain(canary);
    expect(second.hypothesis).toBe(`my key is [REDACTED:${CANARY_NAME}]`);
    expect(JSON.stringify(second)).not.toContain(canary);
    expect(await readFile(received, 'utf8')).toBe(canary);
    expect(await readFile(path.join(worktree, 'src/greeting.txt'), 'utf8')).toBe('has the key: true\n');
    expect(status()).toBe('M src/greeting.txt');
  });

  it('refuses a proposal that writes a secret\'s value into a file, so it never reaches a commit', async () => {
    const canary = `canary-${randomBytes(12).toString('hex')}`;
    process.env[CANARY_NAME] = canary;
    const config = await configFor(`${HEADER}writeFileSync('src/greeting.txt', 'key=' + process.env.${CANARY_NAME} + '\\n');\n`, { env: [CANARY_NAME] });
    const error = await createCommandProposer(config, agentOptions()).propose(context(config)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProposalError);
    expect((error as ProposalError).message).toContain(`${CANARY_NAME} in src/greeting.txt`);
    expect(JSON.stringify({ message: (error as ProposalError).message, notes: (error as ProposalError).notes })).not.toContain(canary);
    expect(status()).toBe('');
  });

  it('is what createProposer builds for kind: command', async () => {
    const config = await configFor('');
    expect(createProposer(config).kind).toBe('command');
  });
});
