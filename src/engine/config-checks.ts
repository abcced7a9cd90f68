/**
 * `validate`'s look at the repository (../core/config/repository-checks.ts holds the rules): the tracked files
 * against the scope, the tuned file and its keys, and the programs the commands start, before anything is measured.
 */
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import type { Config } from '../core/config/config-schema.js';
import { programFindings, scopeFindings, type ProgramLookup, type RepositoryFinding } from '../core/config/repository-checks.js';
import { scopeRules } from '../core/scope/scope.js';
import { readTunedPoint } from '../proposers/tune.js';
import { blobText, git } from './git.js';

/** Where to look: the working tree as it is now (`validate`), or a commit (a run, which measures that commit). */
export interface CheckOptions {
  /** The commit whose files are checked; the working tree (tracked files) when absent. */
  commit?: string;
  /** Whether the config's own proposer will run (its tuned file is then checked); false for a proposer given in code. */
  configProposer?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Every finding for `config` (read from `configFile`) in the repository at `repo`. */
export async function checkConfigInRepository(repo: string, config: Config, configFile: string, options: CheckOptions = {}): Promise<RepositoryFinding[]> {
  const { commit } = options;
  const listing = commit ? await git(repo, ['ls-tree', '-r', '-z', '--name-only', commit]) : await git(repo, ['ls-files', '-z']);
  const files = listing.split('\0').filter(Boolean);
  const read = (file: string) => (commit ? blobText(repo, `${commit}:${file}`) : readFile(resolve(repo, file), 'utf8')).catch(() => null);
  const tune = options.configProposer === false ? [] : await tuneFindings(config, read);
  return [...scopeFindings(files, scopeRules(config, configFile)), ...tune, ...programFindings(config, programLookup(repo, options.env ?? process.env, commit ? new Set(files) : null))];
}

/** The tuned file must exist and hold every key, each value of the kind its range or choices need, inside the range. */
async function tuneFindings(config: Config, read: (file: string) => Promise<string | null>): Promise<RepositoryFinding[]> {
  const tune = config.proposer.kind === 'tune' ? config.proposer.tune : undefined;
  if (!tune) return [];
  const text = await read(tune.file);
  if (text === null) return [{ level: 'error', key: 'proposer.tune.file', message: `${tune.file} is not in the repository: create it or fix proposer.tune.file` }];
  let point;
  try {
    point = readTunedPoint(text, tune);
  } catch (error) {
    return [{ level: 'error', key: 'proposer.tune.params', message: (error as Error).message }];
  }
  const findings: RepositoryFinding[] = [];
  for (const [key, spec] of Object.entries(tune.params)) {
    const value = point[key];
    if ('choices' in spec) {
      if (!spec.choices.includes(value as never)) findings.push({ level: 'warning', key: `proposer.tune.params.${key}`, message: `${tune.file} has ${JSON.stringify(value)}, not one of its choices: the search starts from it but never returns to it` });
    } else if (typeof value === 'number' && (value < spec.min || value > spec.max)) {
      findings.push({ level: 'warning', key: `proposer.tune.params.${key}`, message: `${tune.file} has ${value}, outside its range ${spec.min} to ${spec.max}: the search starts from it but never returns to it` });
    }
  }
  return findings;
}

/**
 * Programs looked up as the sandbox will: relative paths from the repository root (in `files`, a commit's, when
 * given), names on the PATH the commands get.
 */
function programLookup(repo: string, env: NodeJS.ProcessEnv, files: ReadonlySet<string> | null): ProgramLookup {
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  return {
    fileExists: (path) => (files ? files.has(path) : existsSync(join(repo, path)) && statSync(join(repo, path)).isFile()),
    onPath: (name) => dirs.some((dir) => executable(join(dir, name))),
    pathNames: () => dirs.flatMap((dir) => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    }),
  };
}
