/**
 * The answer format of the `llm` proposer: one `HYPOTHESIS:` line, then search/replace blocks that
 * apply exactly or not at all. Pure: parsing and applying work on strings and maps, never on disk.
 *
 * ```
 * HYPOTHESIS: raise the learning rate to 0.02
 *
 * train.py
 * <<<<<<< SEARCH
 * lr = 0.01
 * =======
 * lr = 0.02
 * >>>>>>> REPLACE
 * ```
 *
 * The line before `<<<<<<< SEARCH` (code fences and blank lines skipped) is the file's path, relative to
 * the repository root. The SEARCH text must occur exactly once in the file; an empty SEARCH creates a
 * new file holding the REPLACE text.
 */

/** One search/replace block. `search` is empty for a new file. */
export interface Edit {
  path: string;
  search: string;
  replace: string;
}

export const SEARCH_MARKER = '<<<<<<< SEARCH';
export const DIVIDER_MARKER = '=======';
export const REPLACE_MARKER = '>>>>>>> REPLACE';

/** The answer format as the model is told it (appended to the system prompt by `buildProposalPrompt`). */
export const ANSWER_FORMAT = `Answer in exactly this format and nothing else:

HYPOTHESIS: <one line: what you change and why you expect the metric to improve>

path/to/file
${SEARCH_MARKER}
exact lines copied from the current file
${DIVIDER_MARKER}
the lines that replace them
${REPLACE_MARKER}

Rules:
- The line before ${SEARCH_MARKER} is the file's path relative to the repository root.
- The SEARCH text must match the current file exactly (every character, space and indent) and exactly once: include enough surrounding lines to make it unique.
- Use one block per change; several blocks may edit the same file, applied in order.
- An empty SEARCH section creates a new file whose content is the REPLACE section.
- Edit only files the scope allows. Do not repeat an idea the history shows was discarded.`;

const FENCE = /^\s*(`{3,}|~{3,})/;

/** The first line of a search text, for error messages. */
function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/** A path as the model wrote it, cleaned of decoration (`**`, backticks, a trailing colon), or an error. */
function cleanPath(raw: string): string | { error: string } {
  let path = raw.trim().replace(/^#+\s*/, '');
  for (let before = ''; before !== path; ) {
    before = path;
    path = path.replace(/^(\*\*|`)|(\*\*|`|:)$/g, '').trim();
  }
  path = path.replace(/^\.\//, '');
  if (path === '') return { error: `an edit block has no file path on the line before "${SEARCH_MARKER}"` };
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) || path.includes('\\')) {
    return { error: `the path "${path}" is not relative to the repository root with / separators` };
  }
  if (path.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    return { error: `the path "${path}" has empty, "." or ".." segments` };
  }
  if (/\s{2,}|[\0<>]/.test(path)) return { error: `"${path}" does not look like a file path` };
  return path;
}

/**
 * The hypothesis and the edit blocks of a model's answer, or an error saying what is wrong with it
 * in words the model can act on.
 */
export function parseAnswer(text: string): { hypothesis: string; edits: Edit[] } | { error: string } {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const hypothesisLine = lines.find((line) => /^\s*\**HYPOTHESIS\**\s*:/i.test(line));
  const hypothesis = hypothesisLine?.replace(/^\s*\**HYPOTHESIS\**\s*:\s*/i, '').replace(/\*+$/, '').trim() ?? '';
  if (!hypothesis) return { error: 'the answer has no "HYPOTHESIS: <one line>" line' };

  const edits: Edit[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trimEnd() !== SEARCH_MARKER) {
      if (lines[i]!.trimEnd() === DIVIDER_MARKER || lines[i]!.trimEnd() === REPLACE_MARKER) {
        return { error: `line ${i + 1} has "${lines[i]!.trimEnd()}" outside an edit block (each block starts with "${SEARCH_MARKER}")` };
      }
      continue;
    }
    let back = i - 1;
    while (back >= 0 && (lines[back]!.trim() === '' || FENCE.test(lines[back]!))) back -= 1;
    // The hypothesis or the end of the previous block is not a path.
    const pathLine = back >= 0 && lines[back] !== hypothesisLine && lines[back]!.trimEnd() !== REPLACE_MARKER ? lines[back]! : '';
    const path = cleanPath(pathLine);
    if (typeof path !== 'string') return path;

    const search: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j]!.trimEnd() !== DIVIDER_MARKER) {
      if (lines[j]!.trimEnd() === SEARCH_MARKER || lines[j]!.trimEnd() === REPLACE_MARKER) break;
      search.push(lines[j++]!);
    }
    if (j >= lines.length || lines[j]!.trimEnd() !== DIVIDER_MARKER) {
      return { error: `the edit block for ${path} (line ${i + 1}) has no "${DIVIDER_MARKER}" line after its SEARCH text` };
    }
    const replace: string[] = [];
    j += 1;
    while (j < lines.length && lines[j]!.trimEnd() !== REPLACE_MARKER) {
      if (lines[j]!.trimEnd() === SEARCH_MARKER || lines[j]!.trimEnd() === DIVIDER_MARKER) break;
      replace.push(lines[j++]!);
    }
    if (j >= lines.length || lines[j]!.trimEnd() !== REPLACE_MARKER) {
      return { error: `the edit block for ${path} (line ${i + 1}) does not end with "${REPLACE_MARKER}"` };
    }
    edits.push({ path, search: search.join('\n'), replace: replace.join('\n') });
    i = j;
  }
  if (edits.length === 0) return { error: `the answer has no edit blocks ("path", "${SEARCH_MARKER}", "${DIVIDER_MARKER}", "${REPLACE_MARKER}")` };
  return { hypothesis, edits };
}

/** Start offsets of every occurrence of `needle` in `haystack`, overlapping ones included. */
function occurrences(haystack: string, needle: string): number[] {
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) found.push(at);
  return found;
}

/**
 * `files` (path -> text) with the edits applied in order, and the paths whose text changed. Nothing is
 * applied when one edit fails: the error names the path and the first line of the SEARCH text.
 * `files` itself is not changed.
 */
export function applyEdits(
  files: ReadonlyMap<string, string>,
  edits: readonly Edit[],
): { files: Map<string, string>; changed: string[] } | { error: string } {
  const result = new Map(files);
  for (const [index, edit] of edits.entries()) {
    const where = `edit ${index + 1} (${edit.path})`;
    const current = result.get(edit.path);
    if (edit.search === '') {
      if (current !== undefined && current !== '') {
        return { error: `${where}: an empty SEARCH creates a new file, but ${edit.path} already exists; SEARCH for the text to change instead` };
      }
      result.set(edit.path, edit.replace === '' || edit.replace.endsWith('\n') ? edit.replace : `${edit.replace}\n`);
      continue;
    }
    if (current === undefined) {
      return { error: `${where}: ${edit.path} does not exist; to create it, leave the SEARCH section empty` };
    }
    const text = current;
    const matches = occurrences(text, edit.search);
    if (matches.length === 0) {
      const hint = occurrences(text.replace(/[ \t]+/g, ' '), edit.search.replace(/[ \t]+/g, ' ')).length > 0 ? ' (it matches only with different spaces or indentation: copy the lines exactly)' : '';
      return { error: `${where}: the SEARCH text starting "${firstLine(edit.search)}" was not found in ${edit.path}${hint}` };
    }
    if (matches.length > 1) {
      return {
        error: `${where}: the SEARCH text starting "${firstLine(edit.search)}" matches ${matches.length} times in ${edit.path}; include more surrounding lines so it matches exactly once`,
      };
    }
    const at = matches[0]!;
    result.set(edit.path, text.slice(0, at) + edit.replace + text.slice(at + edit.search.length));
  }
  const changed = [...new Set(edits.map((edit) => edit.path))].filter((path) => result.get(path) !== files.get(path));
  return { files: result, changed };
}
