import { readFile } from 'node:fs/promises';
import { ConfigError, parseConfig } from '../core/config/config.js';
import type { Config } from '../core/config/config-schema.js';
import { git } from './git.js';

/** A config read from disk: the validated config, the exact text (for {@link configHash}) and the name used in messages. */
export interface LoadedConfig {
  config: Config;
  text: string;
  file: string;
}

/**
 * Reads and validates a config file. `displayPath` is how the file is named in messages
 * (e.g. `.github/autoloop.yml` rather than an absolute path); it defaults to `path`.
 * Throws {@link ConfigError} when the file is missing or invalid; other I/O errors pass through.
 */
export async function loadConfigFile(path: string, displayPath?: string): Promise<LoadedConfig> {
  const file = displayPath ?? path;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(
        file,
        [{ file, path: '', line: null, message: 'config file not found; create it with at least metric, evaluate and scope' }],
        "See the README's config section (and node_modules/@autoloop-dev/autoloop/schema/autoloop.schema.json), then check the file with `autoloop validate`.",
      );
    }
    if (code === 'EISDIR') {
      throw new ConfigError(file, [{ file, path: '', line: null, message: 'is a directory; expected a YAML config file' }]);
    }
    throw error;
  }
  return { config: parseConfig(text, file), text, file };
}

/**
 * Reads and validates the config as committed in `commit` (how CI reads it: from the base, so that a
 * pull request cannot change its own rules). Throws {@link ConfigError} when the commit has no such file.
 */
export async function loadConfigAt(repo: string, commit: string, path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await git(repo, ['show', `${commit}:${path}`]);
  } catch {
    throw new ConfigError(
      path,
      [{ file: path, path: '', line: null, message: `config file not found in commit ${commit.slice(0, 12)}; commit it to the base branch first` }],
      "See the README's config section (and node_modules/@autoloop-dev/autoloop/schema/autoloop.schema.json), then check the file with `autoloop validate`.",
    );
  }
  return { config: parseConfig(text, path), text, file: path };
}
