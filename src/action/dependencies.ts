import { Octokit } from '@octokit/rest';
import { githubArtifactStore, type ArtifactStore } from './artifacts.js';

/** What the modes reach outside the repository: swapped in tests. */
export interface ActionDependencies {
  env: NodeJS.ProcessEnv;
  artifacts: ArtifactStore;
  octokit(token: string, apiUrl: string): Octokit;
}

export function defaultDependencies(): ActionDependencies {
  return {
    env: process.env,
    artifacts: githubArtifactStore(),
    octokit: (token, apiUrl) => new Octokit({ auth: token, baseUrl: apiUrl, userAgent: 'autoloop-action' }),
  };
}
