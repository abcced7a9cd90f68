import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunSetupError } from './errors.js';
import { git } from './git.js';

/** The bundled example the demo optimises: a small MLP whose hyperparameters live in params.json. */
export const DEMO_EXAMPLE = fileURLToPath(new URL('../../examples/mlp', import.meta.url));

/** How the demo's temp repositories are named in the temp dir: what `autoloop clean` looks for, with the marker. */
export const DEMO_PREFIX = 'autoloop-demo-';

/** The file in a demo repository's `.git/` that says autoloop made it (out of `git status`, out of the run's sight). */
export const DEMO_MARKER = 'autoloop-demo';

/** The demo repository's one commit: how a demo made before the marker is told apart (its `.git/COMMIT_EDITMSG`). */
export const DEMO_COMMIT_MESSAGE = 'autoloop demo: the bundled MLP example';

/**
 * Copies the bundled example into a fresh git repository (a temp dir unless `dir` is given) with one
 * commit, so the demo never touches the user's own files. Returns its absolute path.
 */
export async function prepareDemoRepo(dir?: string): Promise<string> {
  if (!existsSync(DEMO_EXAMPLE)) throw new RunSetupError(`the bundled example is missing at ${DEMO_EXAMPLE}: reinstall autoloop`);
  const target = dir === undefined ? await mkdtemp(join(tmpdir(), DEMO_PREFIX)) : resolve(dir);
  if (existsSync(join(target, '.git'))) throw new RunSetupError(`${target} is already a git repository: give --dir a new or empty folder`);
  await cp(DEMO_EXAMPLE, target, { recursive: true });
  await git(target, ['init', '--quiet', '--initial-branch=main']);
  await writeFile(join(target, '.git', DEMO_MARKER), `made by autoloop demo; autoloop clean removes it from the temp dir\n`);
  await git(target, ['add', '--all']);
  await git(target, ['commit', '--quiet', '--no-verify', '-m', DEMO_COMMIT_MESSAGE]);
  return resolve(target);
}
