import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readZip } from '../../src/core/protocol/zip.js';
import { startArtifactServer, type ArtifactServer } from '../fixtures/api/artifact-server.js';
import { gitSync, makeQuadraticRepo, makeRepo, QUADRATIC_EVAL } from '../fixtures/local/repo.js';
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
let model: Server | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  await new Promise((resolve) => (model ? model.close(resolve) : resolve(undefined)));
  model = undefined;
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

  // The model SDKs are chunks of their own, loaded only when the llm proposer first asks (src/proposers/llm.ts):
  // this runs that path in the bundle, against a local server speaking the provider's API.
  it.each([
    { provider: 'openai', path: '/v1/chat/completions', baseUrl: (url: string) => `${url}/v1` },
    { provider: 'anthropic', path: '/v1/messages', baseUrl: (url: string) => url },
  ])('loads the $provider SDK when the llm proposer asks its model, in mode loop', async ({ provider, path, baseUrl }) => {
    const answer = 'HYPOTHESIS: move x to the optimum\n\nparams.json\n<<<<<<< SEARCH\n  "x": 0,\n=======\n  "x": 3,\n>>>>>>> REPLACE\n';
    const requests: string[] = [];
    model = createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      request.resume();
      request.on('end', () => {
        const usage = { prompt_tokens: 10, completion_tokens: 5, input_tokens: 10, output_tokens: 5 };
        const body =
          provider === 'openai'
            ? { id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }], usage }
            : { id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: answer }], stop_reason: 'end_turn', stop_sequence: null, usage };
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => model!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(model.address() as AddressInfo).port}`;
    const repo = makeRepo({
      'eval.mjs': QUADRATIC_EVAL,
      'params.json': '{\n  "x": 0,\n  "y": 0\n}\n',
      '.github/autoloop.yml': `metric: { name: loss, goal: minimize, min_effect: 0.001, suspicious_effect: 100% }
evaluate: { command: node eval.mjs, timeout: 20s, repeats: 1 }
scope: { edit: [params.json], protect: [eval.mjs] }
proposer: { kind: llm, llm: { provider: ${provider}, model: m, base_url: "${baseUrl(url)}", max_attempts: 1 } }
budget: { experiments: 1 }
`,
    });
    dirs.push(repo);
    const origin = join(mkdtempSync(join(tmpdir(), 'autoloop-bundle-origin-')), 'origin.git');
    dirs.push(dirname(origin));
    execFileSync('git', ['clone', '--quiet', '--bare', repo, origin]);
    gitSync(repo, 'remote', 'add', 'origin', origin);
    const files = mkdtempSync(join(tmpdir(), 'autoloop-bundle-runner-'));
    dirs.push(files);
    const output = join(files, 'output');
    writeFileSync(output, '');

    const result = await runBundle(
      { INPUT_MODE: 'loop', INPUT_TAG: 'llm', INPUT_UPLOAD: 'false', GITHUB_EVENT_NAME: 'workflow_dispatch', GITHUB_WORKSPACE: repo, GITHUB_OUTPUT: output },
      repo,
    );

    expect(result.stdout).not.toMatch(/^::error/m);
    expect(result.code).toBe(0);
    expect(requests).toEqual([`POST ${path}`]);
    // Kept and pushed; with no token the step says there is no pull request to open.
    const commit = /^commit<<(\S+)\n([0-9a-f]{40})\n\1$/m.exec(readFileSync(output, 'utf8'))?.[2];
    expect(gitSync(origin, 'rev-parse', 'refs/heads/autoloop/llm/run')).toBe(commit);
    expect(gitSync(origin, 'show', `${commit}:params.json`)).toContain('"x": 3,');
    expect(result.stdout).toMatch(/^::warning::autoloop: pushed the run branch, but no repository or token to open a pull request with$/m);
  });
});
