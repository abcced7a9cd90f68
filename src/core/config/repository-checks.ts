/**
 * What `validate` can tell about a config only by looking at the repository, before anything is measured: a scope
 * that can never contain a change, and a command whose program does not exist. Pure: the caller lists the
 * repository's files and answers whether a program is on PATH.
 */
import picomatch from 'picomatch';
import type { Config } from './config-schema.js';
import { checkScope, pathMatcher, type ScopeRules } from '../scope/scope.js';
import { closestKey } from './suggest.js';

/** One finding, with the config key it is about: an error stops `validate` (exit 3), a warning is said. */
export interface RepositoryFinding {
  level: 'error' | 'warning';
  key: string;
  message: string;
}

/**
 * The scope against the repository's tracked files: no tracked file editable, when every `edit` pattern names a
 * literal path (nothing could ever be proposed: an error) or uses wildcards (only new files could: a warning);
 * an `edit` pattern whose every match is protected (a warning: it edits nothing).
 */
export function scopeFindings(files: readonly string[], rules: ScopeRules): RepositoryFinding[] {
  const findings: RepositoryFinding[] = [];
  const editable = (path: string) => checkScope([{ change: 'modified', path }], rules).length === 0;
  const anyEditable = files.some(editable);
  for (const pattern of rules.edit) {
    const matches = files.filter((file) => pathMatcher([pattern])(file));
    if (matches.length > 0 && !matches.some(editable)) {
      findings.push({ level: 'warning', key: 'scope.edit', message: `${pattern} matches only protected files (${summarise(matches)}): it lets a proposal change nothing` });
    }
  }
  if (!anyEditable) {
    const literal = rules.edit.every((pattern) => !picomatch.scan(pattern).isGlob);
    findings.push(
      literal
        ? { level: 'error', key: 'scope.edit', message: `no tracked file is editable (${rules.edit.join(', ')}): every proposal would be out of scope; list files that exist and are not protected` }
        : { level: 'warning', key: 'scope.edit', message: `no tracked file is editable yet (${rules.edit.join(', ')}): a proposal can only add new files there` },
    );
  }
  return findings;
}

function summarise(paths: readonly string[]): string {
  return paths.length <= 3 ? paths.join(', ') : `${paths.slice(0, 3).join(', ')} and ${paths.length - 3} more`;
}

/** Words a POSIX shell runs itself, not as a program on PATH. */
const SHELL_WORDS = new Set([
  '.', ':', '[', '[[', 'alias', 'break', 'cd', 'command', 'continue', 'echo', 'eval', 'exec', 'exit', 'export', 'false', 'for', 'if', 'printf',
  'pwd', 'read', 'return', 'set', 'shift', 'source', 'test', 'time', 'trap', 'true', 'ulimit', 'umask', 'unset', 'until', 'wait', 'while', 'case', '{', '(', '!',
]);

/**
 * The program a shell command line starts with: the first word after any `NAME=value` assignments and a leading
 * `exec`/`command`/`time`, unquoted; null when it starts with something only the shell knows (a builtin, a
 * keyword, a subshell, a variable) and so cannot be checked here.
 */
export function commandProgram(command: string): string | null {
  const words = command.trim().split(/\s+/);
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
  while (i < words.length && (words[i] === 'exec' || words[i] === 'command' || words[i] === 'time')) i++;
  const word = words[i];
  if (!word) return null;
  const unquoted = word.replace(/^(['"])(.*)\1$/, '$2').replace(/[;&|)]+$/, '');
  if (!unquoted || SHELL_WORDS.has(unquoted) || /[$`(){}<>*?]/.test(unquoted)) return null;
  return unquoted;
}

/** How to tell whether a program exists: a path relative to the repository, or a name on PATH. */
export interface ProgramLookup {
  /** Whether `path` (relative to the repository root) is a file there. */
  fileExists(path: string): boolean;
  /** Whether `name` is an executable on PATH. */
  onPath(name: string): boolean;
  /** Executables on PATH, for "did you mean". */
  pathNames(): readonly string[];
}

/** `evaluate.command`, `setup`, `check` and `score`, and the command proposer's `run`: each program must exist. */
export function programFindings(config: Config, lookup: ProgramLookup): RepositoryFinding[] {
  const commands: Array<[string, string | undefined]> = [
    ['evaluate.command', config.evaluate.command],
    ['evaluate.setup', config.evaluate.setup],
    ['evaluate.check', config.evaluate.check],
    ['evaluate.score', config.evaluate.score],
    ['proposer.command.run', config.proposer.kind === 'command' ? config.proposer.command?.run : undefined],
  ];
  const findings: RepositoryFinding[] = [];
  for (const [key, command] of commands) {
    const program = command ? commandProgram(command) : null;
    if (!program) continue;
    if (program.includes('/')) {
      if (!lookup.fileExists(program.replace(/^\.\//, ''))) findings.push({ level: 'error', key, message: `${program} is not a file in the repository (the command runs from its root)` });
      continue;
    }
    if (lookup.onPath(program)) continue;
    const close = closestKey(program, lookup.pathNames());
    findings.push({ level: 'error', key, message: `program "${program}" is not on PATH${close ? `; did you mean "${close}"?` : ': install it, or give its path'}` });
  }
  return findings;
}
