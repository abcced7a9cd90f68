/**
 * Writes the files `autoloop init` made, never replacing one without leave: a file that exists is overwritten only
 * when `overwrite` says so (the user answered yes, or passed --force), and a new one is created exclusively, so a
 * file that appears meanwhile is not replaced either.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A file to write, relative to the repository root. */
export interface PlannedFile {
  path: string;
  text: string;
}

/** What happened to a planned file: written new, overwritten, kept as it was, or already identical. */
export type WriteAction = 'written' | 'overwritten' | 'kept' | 'unchanged';

export interface WriteOutcome {
  path: string;
  action: WriteAction;
}

/**
 * Writes each file below `root` in order. For one that exists with other content, `overwrite(path)` decides; when it
 * says no, the file is left as it is (`kept`).
 */
export async function writePlannedFiles(root: string, files: readonly PlannedFile[], overwrite: (path: string) => Promise<boolean>): Promise<WriteOutcome[]> {
  const outcomes: WriteOutcome[] = [];
  for (const file of files) {
    const target = join(root, file.path);
    if (existsSync(target)) {
      const current = await readFile(target, 'utf8').catch(() => null);
      if (current === file.text) outcomes.push({ path: file.path, action: 'unchanged' });
      else if (await overwrite(file.path)) {
        await writeFile(target, file.text);
        outcomes.push({ path: file.path, action: 'overwritten' });
      } else outcomes.push({ path: file.path, action: 'kept' });
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    try {
      await writeFile(target, file.text, { flag: 'wx' });
      outcomes.push({ path: file.path, action: 'written' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      outcomes.push({ path: file.path, action: 'kept' });
    }
  }
  return outcomes;
}

/** The bundled App workflow init copies (examples/workflows/autoloop.yml, shipped with the package). */
export const WORKFLOW_TEMPLATE = fileURLToPath(new URL('../../../examples/workflows/autoloop.yml', import.meta.url));

/** The bundled App workflow's text. */
export async function readWorkflowTemplate(): Promise<string> {
  return readFile(WORKFLOW_TEMPLATE, 'utf8');
}

/** autoloop's own package.json (its version, and the repository it is published from, if it names one). */
export async function readOwnPackage(): Promise<{ version?: unknown; repository?: unknown }> {
  const text = await readFile(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8');
  return JSON.parse(text) as { version?: unknown; repository?: unknown };
}
