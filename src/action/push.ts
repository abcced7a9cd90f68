import { git } from '../engine/git.js';

/**
 * Pushes `commit` to `branch` on `origin`, replacing it (autoloop's branches are its own). With a token, the
 * credential is handed to this one `git push` through git's environment (`GIT_CONFIG_*`), so the checkout
 * can keep no credential (`persist-credentials: false`) while sandboxed setup, check, evaluator or agent
 * commands run: none of them ever sees it. Without one, git uses whatever the checkout has.
 */
export async function pushBranch(repo: string, commit: string, branch: string, token: string | undefined): Promise<void> {
  const env = token
    ? {
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.extraheader',
        GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
      }
    : undefined;
  await git(repo, ['push', '--force', 'origin', `${commit}:refs/heads/${branch}`], env ? { env } : {});
}
