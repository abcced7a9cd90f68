import { Octokit } from '@octokit/rest';
import nock from 'nock';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { OctokitGateway } from '../../src/app/octokit-gateway.js';
import { MAX_ARTIFACT_BYTES } from '../../src/core/protocol/zip.js';

beforeEach(() => nock.disableNetConnect());
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

it('leaves out an artifact larger than any result document, by its listed size, before downloading anything', async () => {
  nock('https://api.github.com')
    .get('/repos/octo/repo/actions/runs/99/artifacts')
    .query({ per_page: '100' })
    .reply(200, {
      total_count: 2,
      artifacts: [
        { id: 1, name: 'autoloop-result', expired: false, size_in_bytes: MAX_ARTIFACT_BYTES + 1 },
        { id: 2, name: 'autoloop-trace', expired: false, size_in_bytes: 1_000 },
      ],
    });
  const gateway = new OctokitGateway(new Octokit({ auth: 'test', retry: { enabled: false }, throttle: { enabled: false } }), { owner: 'octo', repo: 'repo' }, { appSlug: 'autoloop' });
  expect((await gateway.listArtifacts(99)).map((a) => a.name)).toStrictEqual(['autoloop-trace']);
  expect(nock.pendingMocks()).toStrictEqual([]);
});
