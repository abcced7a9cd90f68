/**
 * The checks a scope glob gets before any run: a pattern that can never match a repository path (picomatch
 * takes `src/[**` or `./src/**` without complaint and then matches nothing), or that matches more than it says
 * (a leading `!` negates it), is refused with what to write instead. Paths are the repository's own: relative to
 * its root, separated by `/`, with no `.` or `..` segments.
 */
import { ALWAYS_PROTECTED, pathMatcher } from '../scope/scope.js';

/** Characters a backslash may escape in a glob; before anything else a backslash is taken for a Windows path separator. */
const ESCAPABLE = new Set([...'*?[]{}()!+@,\\']);

/** What is wrong with a scope pattern, said with the fix, or null when it is well formed. */
export function globProblem(pattern: string): string | null {
  const quoted = quote(pattern);
  if (pattern.startsWith('!')) return `${quoted} is a negation, which matches every other path: list the paths themselves`;
  if (pattern.startsWith('/')) return `${quoted} is absolute: patterns are relative to the repository root (write ${quote(pattern.replace(/^\/+/, ''))})`;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '\\') continue;
    if (!ESCAPABLE.has(pattern[i + 1] ?? '')) return `${quoted} has a backslash: paths use "/" (write ${quote(pattern.replaceAll('\\', '/'))})`;
    i++;
  }
  const segments = pattern.split('/');
  if (segments.includes('..')) return `${quoted} leaves the repository: patterns are relative to its root, and ".." is not allowed`;
  if (segments[0] === '.') return `${quoted} never matches: paths have no leading "./" (write ${quote(segments.slice(1).join('/'))})`;
  if (segments.includes('.')) return `${quoted} never matches: paths have no "." segments (write ${quote(segments.filter((s) => s !== '.').join('/'))})`;
  if (pattern.endsWith('/')) return `${quoted} never matches a file: a folder and everything in it is ${quote(`${pattern}**`)}`;
  if (segments.slice(0, -1).includes('')) return `${quoted} never matches: paths have no empty segments ("//")`;
  const unclosed = unclosedBracket(pattern);
  if (unclosed) return `${quoted} has a "${unclosed}" that is never closed (write \\${unclosed} for the character itself)`;
  return null;
}

/** A pattern in quotes, as written (no JSON escaping: a backslash shows as one). */
function quote(pattern: string): string {
  return `"${pattern}"`;
}

/** The first `[` or `{` of a pattern that is never closed, escapes skipped, or null. */
function unclosedBracket(pattern: string): '[' | '{' | null {
  let braces = 0;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\') {
      i++;
    } else if (char === '[') {
      // A class runs to the next unescaped `]`; a `]` right after `[` or `[!` is a member, as in POSIX.
      let j = i + 1;
      if (pattern[j] === '!' || pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      if (j >= pattern.length) return '[';
      i = j;
    } else if (char === '{') {
      braces++;
    } else if (char === '}' && braces > 0) {
      braces--;
    }
  }
  return braces > 0 ? '{' : null;
}

/** Why a proposal could never change the tuned file under `scope`, or null: outside the repository, outside `edit`, or protected. */
export function tuneFileProblem(file: string, scope: { edit: readonly string[]; protect: readonly string[] }): string | null {
  if (file.startsWith('/') || file.split(/[\\/]/).includes('..')) return `${file} is outside the repository: give its path from the repository root`;
  const path = file.replace(/^\.\//, '');
  const protectedBy = pathMatcher([...ALWAYS_PROTECTED, ...scope.protect])(path);
  if (protectedBy) {
    const fix = ALWAYS_PROTECTED.includes(protectedBy) ? `move it out of ${protectedBy.replace(/\*\*$/, '')}` : 'take it out of scope.protect';
    return `${file} is protected (by ${protectedBy}): no proposal may change it; ${fix}`;
  }
  if (!pathMatcher(scope.edit)(path)) return `${file} is outside scope.edit (${scope.edit.join(', ')}): every experiment would be out of scope; add it to scope.edit`;
  return null;
}
