import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArtifactUploadError, canUploadArtifacts, githubArtifactStore } from '../../src/action/artifacts.js';
import { readZip } from '../../src/core/protocol/zip.js';
import { startArtifactServer, type ArtifactServer } from '../fixtures/api/artifact-server.js';
import { writeFiles } from '../fixtures/local/repo.js';

const RUN_BACKEND_ID = 'ce7f54c7-61c7-4aae-887f-30da475f5f1a';
const JOB_BACKEND_ID = 'ca395085-040a-526b-2ce8-bdc85f692774';

/** An unsigned JWT shaped like the runner's: the client only decodes it, for the backend ids in `scp`. */
function fakeRuntimeToken(): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ scp: `Actions.ExampleScope Actions.Results:${RUN_BACKEND_ID}:${JOB_BACKEND_ID}` })}.`;
}

const FILES = {
  'result.json': '{"verdict":"keep","delta":-0.125}\n',
  'samples/raw.csv': 'side,value\nbase,1.5\nhead,1.375\n',
};

let root: string;
let server: ArtifactServer | undefined;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'autoloop-artifacts-'));
  writeFiles(root, FILES);
  // Whatever the machine running the tests has, the client must see only what each test sets.
  vi.stubEnv('ACTIONS_RUNTIME_TOKEN', undefined);
  vi.stubEnv('ACTIONS_RESULTS_URL', undefined);
  vi.stubEnv('GITHUB_SERVER_URL', undefined);
  vi.stubEnv('GITHUB_RETENTION_DAYS', undefined);
  vi.stubEnv('ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY', undefined);
  // Loopback only: a proxy from the environment could not reach this machine's 127.0.0.1.
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy']) vi.stubEnv(name, undefined);
  // @actions/core logs to stdout (workflow commands); keep the test output readable.
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
  rmSync(root, { recursive: true, force: true });
});

/** Starts the fake service and sets the two variables a runner gives JavaScript actions. */
async function onRunner(options?: Parameters<typeof startArtifactServer>[0]): Promise<ArtifactServer> {
  server = await startArtifactServer(options);
  vi.stubEnv('ACTIONS_RUNTIME_TOKEN', fakeRuntimeToken());
  vi.stubEnv('ACTIONS_RESULTS_URL', `${server.url}/`);
  return server;
}

const paths = (): string[] => Object.keys(FILES).map((name) => join(root, name));

describe('githubArtifactStore', () => {
  it('uploads the files as a zip through the real client: create, blob upload, finalize', async () => {
    const service = await onRunner({ artifactId: 987654 });

    const result = await githubArtifactStore().upload('autoloop-result', paths(), root);

    const zip = service.blob();
    expect(zip).toBeDefined();
    expect(result).toStrictEqual({ id: 987654, size: zip?.length });

    const entries = readZip(zip as Buffer);
    expect([...entries.keys()].sort()).toStrictEqual(['result.json', 'samples/raw.csv']);
    expect(entries.get('result.json')?.toString('utf8')).toBe(FILES['result.json']);
    expect(entries.get('samples/raw.csv')?.toString('utf8')).toBe(FILES['samples/raw.csv']);

    expect(service.twirpCalls.map((call) => call.method)).toStrictEqual(['CreateArtifact', 'FinalizeArtifact']);
    expect(service.twirpCalls.every((call) => call.authorization === `Bearer ${fakeRuntimeToken()}`)).toBe(true);
    expect(service.twirpCalls[0]?.body).toStrictEqual({
      workflow_run_backend_id: RUN_BACKEND_ID,
      workflow_job_run_backend_id: JOB_BACKEND_ID,
      name: 'autoloop-result',
      version: 7,
      mime_type: 'application/zip',
    });
    expect(service.twirpCalls[1]?.body).toStrictEqual({
      workflow_run_backend_id: RUN_BACKEND_ID,
      workflow_job_run_backend_id: JOB_BACKEND_ID,
      name: 'autoloop-result',
      size: String(zip?.length),
      hash: `sha256:${createHash('sha256').update(zip as Buffer).digest('hex')}`,
    });

    // The blob went up as staged blocks committed by one block list, the way the Azure SDK streams.
    expect(service.blobRequests.map((request) => request.comp)).toStrictEqual(['block', 'blocklist']);
    expect(service.blobRequests[1]?.headers['x-ms-blob-content-type']).toBe('application/zip');
  });

  it('asks for an expiry when given retention days', async () => {
    const service = await onRunner();

    await githubArtifactStore({ retentionDays: 3 }).upload('autoloop-trace', paths(), root);

    const expiresAt = service.twirpCalls[0]?.body.expires_at;
    expect(typeof expiresAt).toBe('string');
    const days = (Date.parse(expiresAt as string) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(2.9);
    expect(days).toBeLessThanOrEqual(3.05);
  });

  it('returns null off a runner, without touching the network', async () => {
    server = await startArtifactServer();
    vi.stubEnv('ACTIONS_RESULTS_URL', `${server.url}/`); // the token alone is missing

    expect(canUploadArtifacts()).toBe(false);
    await expect(githubArtifactStore().upload('autoloop-result', paths(), root)).resolves.toBeNull();
    expect(server.twirpCalls).toStrictEqual([]);
  });

  it('wraps a service error once, naming the artifact', async () => {
    // 400 is not retried by the client, so the test does not sit through its backoff.
    await onRunner({ fail: { method: 'FinalizeArtifact', status: 400, msg: 'artifact already finalized' } });

    const upload = githubArtifactStore().upload('autoloop-result', paths(), root);

    await expect(upload).rejects.toBeInstanceOf(ArtifactUploadError);
    await expect(upload).rejects.toMatchObject({
      name: 'ArtifactUploadError',
      artifact: 'autoloop-result',
      message: expect.stringMatching(/^artifact "autoloop-result": upload failed: .*artifact already finalized/),
      cause: expect.any(Error),
    });
    const error = (await upload.catch((e: unknown) => e)) as ArtifactUploadError;
    expect(error.cause).not.toBeInstanceOf(ArtifactUploadError);
  });
});
