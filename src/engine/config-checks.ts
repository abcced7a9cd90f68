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
import { git } from './git.js';

/** Every finding for `config` (read from `configFile`) in the repository at `repo`, its working tree as it is now. */
export async function checkConfigInRepository(repo: string, config: Config, configFile: string, env: NodeJS.ProcessEnv = process.env): Promise<RepositoryFinding[]> {
  const files = (await git(repo, ['ls-files', '-z'])).split('\0').filter(Boolean);
  return [...scopeFindings(files, scopeRules(config, configFile)), ...(await tuneFindings(repo, config)), ...programFindings(config, programLookup(repo, env))];
}

/** The tuned file must exist and hold every key, each value of the kind its range or choices need, inside the range. */
async function tuneFindings(repo: string, config: Config): Promise<RepositoryFinding[]> {
  const tune = config.proposer.kind === 'tune' ? config.proposer.tune : undefined;
  if (!tune) return [];
  const text = await readFile(resolve(repo, tune.file), 'utf8').catch(() => null);
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

/** Programs looked up as the sandbox will: relative paths from the repository root, names on the PATH the commands get. */
function programLookup(repo: string, env: NodeJS.ProcessEnv): ProgramLookup {
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
    fileExists: (path) => existsSync(join(repo, path)) && statSync(join(repo, path)).isFile(),
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
