/**
 * Names the Action checks its inputs against before it loads anything else: this module imports nothing, so a bad
 * input fails before the config schema (zod) or a mode is parsed. Re-exported where they belong (protocol.ts,
 * config-schema.ts).
 */

/** Where the App and the CLI look for the config, relative to the repository root. */
export const CONFIG_PATH = '.github/autoloop.yml';

/** A run's name (an issue number, or a local `--tag`): it becomes part of branch and folder names. */
export const RUN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The result document's file name, inside the result artifact (and the Action's default `result-file`). */
export const RESULT_FILE = 'autoloop-result.json';
