import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/config.js';
import { Evaluator } from '../../src/engine/evaluator.js';
import { runLoop } from '../../src/engine/loop.js';
import { makeQuadraticRepo, QUADRATIC_EVAL, quadraticConfig } from '../fixtures/local/repo.js';
import { createProposer } from '../../src/proposers/index.js';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const randomBase62 = (n: number) => Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join('');
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A token the evaluator prints literally: it is in no environment, only its shape gives it away. */
const LITERAL_TOKEN = `ghp_${randomBase62(36)}`;

/**
 * Prints its whole environment on both streams, a GitHub token, and a digest of the canary it
 * received (proof that it got the real value, without printing it), then the quadratic's metric.
 */
const LEAKY_EVAL = `import { createHash } from 'node:crypto';
for (const [k, v] of Object.entries(process.env)) console.error(k + '=' + v);
console.log('token in the code: ${LITERAL_TOKEN}');
const canary = process.env.AUTOLOOP_CANARY_TOKEN;
console.log('canary sha256: ' + (canary === undefined ? 'unset' : createHash('sha256').update(canary).digest('hex')));
${QUADRATIC_EVAL}`;

function leakyRepo(extraEvaluate = ''): string {
  const config = quadraticConfig('{ experiments: 2 }').replace(
    'evaluate: { command: node eval.mjs, timeout: 20s, repeats: 1 }',
    `evaluate: { command: env && node eval.mjs, setup: env, timeout: 20s, repeats: 1${extraEvaluate} }`,
  );
  return makeQuadraticRepo(undefined, { 'eval.mjs': LEAKY_EVAL, '.github/autoloop.yml': config });
}

/** Every file below `dir`, path -> content. */
function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.set(join(entry.parentPath, entry.name), readFileSync(join(entry.parentPath, entry.name), 'utf8'));
  }
  return files;
}

function expectNowhere(files: Map<string, string>, secrets: string[]): void {
  for (const [path, content] of files) {
    for (const secret of secrets) expect(content.includes(secret), `${secret.slice(0, 8)}… found in ${path}`).toBe(false);
  }
}

describe('secrets stay out of the evaluator and the run files', () => {
  const saved = { AUTOLOOP_CANARY_TOKEN: process.env.AUTOLOOP_CANARY_TOKEN, GITHUB_TOKEN: process.env.GITHUB_TOKEN };
  let canary = '';
  let githubToken = '';

  beforeEach(() => {
    canary = `canary-${randomBase62(24)}`;
    githubToken = `ghs_${randomBase62(36)}`;
    process.env.AUTOLOOP_CANARY_TOKEN = canary;
    process.env.GITHUB_TOKEN = githubToken;
  });

  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('withholds secret-named variables from the evaluator and redacts token shapes in every trace', async () => {
    const repo = leakyRepo();
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'withheld' });
    expect(result.experiments[0]!.metric).toBe(10.5);

    const files = readTree(result.paths.dir);
    expectNowhere(files, [canary, githubToken, LITERAL_TOKEN]);
    const log = readFileSync(join(result.paths.dir, result.experiments[0]!.traceDir, 'baseline-1.log'), 'utf8');
    // The environment was printed (PATH is there), without the secrets.
    expect(log).toMatch(/^PATH=/m);
    expect(log).not.toMatch(/AUTOLOOP_CANARY_TOKEN|GITHUB_TOKEN/);
    expect(log).toContain('canary sha256: unset');
    expect(log).toContain('token in the code: [REDACTED]');
    const setupLog = [...files].find(([path]) => path.endsWith('setup-baseline.log'))?.[1];
    expect(setupLog).toMatch(/^PATH=/m);
    expect(setupLog).not.toContain('AUTOLOOP_CANARY_TOKEN');
  });

  it('passes a variable named in evaluate.env, and still keeps its value out of the traces', async () => {
    const repo = leakyRepo(', env: [AUTOLOOP_CANARY_TOKEN]');
    const result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'allowed' });
    expect(result.experiments[0]!.metric).toBe(10.5);

    expectNowhere(readTree(result.paths.dir), [canary, githubToken, LITERAL_TOKEN]);
    const log = readFileSync(join(result.paths.dir, result.experiments[0]!.traceDir, 'baseline-1.log'), 'utf8');
    expect(log).toContain(`canary sha256: ${sha256(canary)}`);
    expect(log).toContain('AUTOLOOP_CANARY_TOKEN=[REDACTED:AUTOLOOP_CANARY_TOKEN]');
    expect(log).not.toContain('GITHUB_TOKEN');
  });

  it('redacts the failure reasons quoting stderr and a metrics file the evaluator wrote a secret to', async () => {
    const config = parseConfig(
      `metric: { name: loss, goal: minimize }
evaluate:
  command: 'printf "{\\"loss\\": 1, \\"note\\": \\"%s\\"}" "$AUTOLOOP_CANARY_TOKEN" > "$AUTOLOOP_METRICS_FILE"'
  report: file
  check: 'echo "bad: $AUTOLOOP_CANARY_TOKEN" >&2; exit 1'
  timeout: 10s
  env: [AUTOLOOP_CANARY_TOKEN]
scope: { edit: [p.json] }
proposer: { kind: tune, tune: { file: p.json, params: { x: { min: 0, max: 1 } } } }
`,
      'autoloop.yml',
    );
    const worktree = mkdtempSync(join(tmpdir(), 'autoloop-secrets-'));
    writeFileSync(join(worktree, 'p.json'), '{}');
    const traceDir = join(worktree, '.trace');
    const evaluator = new Evaluator(config, { env: { ...process.env } });

    const check = await evaluator.check(worktree, traceDir, 'baseline');
    expect(check?.ok).toBe(false);
    expect(check?.reason).toBe(`evaluate.check (echo "bad: $AUTOLOOP_CANARY_TOKEN" >&2; exit 1) exited with code 1: bad: [REDACTED:AUTOLOOP_CANARY_TOKEN] (log: ${join(traceDir, 'check-baseline.log')})`);

    const sample = await evaluator.measure({ side: 'baseline', worktree, commit: 'c0ffee' }, 0, traceDir);
    expect(sample.ok).toBe(true);
    expect(sample.metrics).toEqual({ loss: 1 });
    expect(readFileSync(join(traceDir, 'metrics-baseline-1.json'), 'utf8')).toContain('[REDACTED:AUTOLOOP_CANARY_TOKEN]');
    expectNowhere(readTree(traceDir), [canary]);
  });
});
