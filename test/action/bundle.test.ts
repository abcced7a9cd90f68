import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readZip } from '../../src/core/protocol/zip.js';
import { startArtifactServer, type ArtifactServer } from '../fixtures/api/artifact-server.js';
import { gitSync, makeQuadraticRepo } from '../fixtures/local/repo.js';
import { pullRequestEvent } from '../fixtures/events/webhooks.js';

/** The committed bundle, as the runner starts it (`runs.main`); `.ci/run` checks it matches the sources. */
const BUNDLE = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

interface BundleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundle in a fresh Node process with only PATH, HOME and `env`, as a runner step would. */
function runBundle(env: Record<string, string>, cwd: string): Promise<BundleRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUNDLE], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** An unsigned JWT shaped like the runner's: the artifact client only decodes it, for the backend ids in `scp`. */
function fakeRuntimeToken(): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ scp: 'Actions.Results:ce7f54c7-61c7-4aae-887f-30da475f5f1a:ca395085-040a-526b-2ce8-bdc85f692774' })}.`;
}

let dirs: string[] = [];
let server: ArtifactServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('dist/index.js (the bundled action)', () => {
  it('fails the step with one error annotation when no mode is given', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'autoloop-bundle-'));
    dirs.push(cwd);
    const result = await runBundle({}, cwd);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^::error::input mode: expected one of evaluate, propose, loop, got ""$/m);
  });

  it('evaluates a pull request end to end: outputs, summary and the result artifact through the real client', async () => {
    const repo = makeQuadraticRepo();
    dirs.push(repo);
    const base = gitSync(repo, 'rev-parse', 'HEAD');
    writeFileSync(join(repo, 'params.json'), '{"x": 3, "y": 0}\n');
    gitSync(repo, 'commit', '--quiet', '-am', 'candidate');
    const head = gitSync(repo, 'rev-parse', 'HEAD');
    const files = mkdtempSync(join(tmpdir(), 'autoloop-bundle-runner-'));
    dirs.push(files);
    const event = join(files, 'event.json');
    writeFileSync(event, JSON.stringify(pullRequestEvent(base, head)));
    const output = join(files, 'output');
    const summary = join(files, 'summary.md');
    writeFileSync(output, '');
    writeFileSync(summary, '');
    server = await startArtifactServer({ artifactId: 31337 });

    const result = await runBundle(
      {
        INPUT_MODE: 'evaluate',
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: event,
        GITHUB_WORKSPACE: repo,
        GITHUB_REPOSITORY: 'octo-org/optimised',
        GITHUB_RUN_ID: '777',
        GITHUB_OUTPUT: output,
        GITHUB_STEP_SUMMARY: summary,
        ACTIONS_RUNTIME_TOKEN: fakeRuntimeToken(),
        ACTIONS_RESULTS_URL: `${server.url}/`,
      },
      repo,
    );

    expect(result.stdout).not.toMatch(/^::error/m);
    expect(result.code).toBe(0);
    const outputs = readFileSync(output, 'utf8');
    expect(outputs).toMatch(/^verdict<<(\S+)\nimproved\n\1$/m);
    expect(outputs).toMatch(/^delta<<(\S+)\n-9\n\1$/m);
    expect(readFileSync(summary, 'utf8')).toContain('https://github.com/octo-org/optimised/actions/runs/777/artifacts/31337');
    const zip = server.blob();
    expect(zip).toBeDefined();
    const entries = readZip(zip!);
    expect([...entries.keys()]).toEqual(['autoloop-result.json']);
    expect(JSON.parse(entries.get('autoloop-result.json')!.toString('utf8'))).toMatchObject({ kind: 'autoloop-result', base, head, verdict: 'improved' });
  });
});
