import { cp, mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunSetupError } from './errors.js';
import { git } from './git.js';

/** The bundled example the demo optimises: a small MLP whose hyperparameters live in params.json. */
export const DEMO_EXAMPLE = fileURLToPath(new URL('../../examples/mlp', import.meta.url));

/**
 * Copies the bundled example into a fresh git repository (a temp dir unless `dir` is given) with one
 * commit, so the demo never touches the user's own files.
 */
export async function prepareDemoRepo(dir?: string): Promise<string> {
  if (!existsSync(DEMO_EXAMPLE)) throw new RunSetupError(`the bundled example is missing at ${DEMO_EXAMPLE}: reinstall autoloop`);
  const target = dir ?? (await mkdtemp(join(tmpdir(), 'autoloop-demo-')));
  if (dir && existsSync(join(dir, '.git'))) throw new RunSetupError(`${dir} is already a git repository: give --dir a new or empty folder`);
  await cp(DEMO_EXAMPLE, target, { recursive: true });
  await git(target, ['init', '--quiet', '--initial-branch=main']);
  await git(target, ['add', '--all']);
  await git(target, ['commit', '--quiet', '--no-verify', '-m', 'autoloop demo: the bundled MLP example']);
  return target;
}
