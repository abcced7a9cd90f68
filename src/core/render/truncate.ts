/**
 * Keeps Markdown bodies under GitHub's size limits: cut at a line boundary, never leave a code fence
 * or a `<details>` block open, and say how much was dropped with a link to the full text.
 */
import { link } from './markdown.js';

/** GitHub's limit on an issue or pull-request comment and a pull-request body, in characters. */
export const GITHUB_BODY_LIMIT = 65_536;

/**
 * GitHub's limit on a check run's `output.summary`, one less than a comment's: "Maximum length: 65535
 * characters" (REST description, `checks/create` and `checks/update`, `output.summary`).
 */
export const CHECK_RUN_SUMMARY_LIMIT = 65_535;

/** Room kept below the limit, so that a caller's small additions and GitHub's own counting never tip a body over. */
export const TRUNCATION_MARGIN = 1_000;

/** A code fence opening or closing line: up to 3 spaces, then 3 or more backticks or tildes (CommonMark). */
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
/** Fenced blocks GitHub renders as diagrams or maps: a cut one renders as an error, so it is dropped whole. */
const RENDERED_FENCES = new Set(['mermaid', 'geojson', 'topojson', 'stl']);

interface OpenFence {
  /** Index of the line that opened the fence. */
  line: number;
  /** The fence characters, e.g. ```` ``` ```` or `~~~~`. */
  marker: string;
  info: string;
}

/** The state at the end of `lines`: the fence still open (if any) and the `<details>` blocks not closed. */
function openBlocks(lines: readonly string[]): { fence: OpenFence | null; details: number } {
  let fence: OpenFence | null = null;
  let details = 0;
  lines.forEach((line, index) => {
    const match = FENCE.exec(line);
    if (fence) {
      // A closing fence uses the same character, at least as many of them, and nothing else.
      if (match && match[1]![0] === fence.marker[0] && match[1]!.length >= fence.marker.length && match[2]!.trim() === '') fence = null;
      return;
    }
    if (match && !(match[1]![0] === '`' && match[2]!.includes('`'))) {
      fence = { line: index, marker: match[1]!, info: match[2]!.trim().split(/\s+/)[0]!.toLowerCase() };
      return;
    }
    details += (line.match(/<details\b/gi) ?? []).length - (line.match(/<\/details\s*>/gi) ?? []).length;
    details = Math.max(0, details);
  });
  return { fence, details };
}

/** `text` cut to at most `length` UTF-16 units, without splitting a surrogate pair. */
function sliceUnits(text: string, length: number): string {
  let end = Math.max(0, Math.min(text.length, length));
  const code = text.charCodeAt(end - 1);
  if (end < text.length && code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/**
 * `text` unchanged when it fits in `limit` characters (UTF-16 units, as GitHub counts); otherwise its
 * first lines, at most `limit` minus a margin (TRUNCATION_MARGIN, or a tenth of small limits), then a
 * line `… truncated: N more characters. [label](url)`. The cut is at a line boundary (mid-line only when
 * the first line alone is too long); a code fence open at the cut is closed, except a diagram fence
 * (`mermaid`), which is dropped whole since half a diagram does not render; open `<details>` blocks are
 * closed so the note is not hidden. The top of the text, where hidden markers live, is always kept.
 */
export function truncateMarkdown(text: string, limit: number, moreLink?: { label: string; url: string }): string {
  if (text.length <= limit) return text;
  const budget = limit - Math.min(TRUNCATION_MARGIN, Math.floor(limit / 10));
  const more = moreLink ? ` ${link(moreLink.label, moreLink.url)}` : '';
  // The number of dropped characters can only shrink as we keep more, so size the note for the worst case.
  const noteFor = (dropped: number) => `… truncated: ${dropped.toLocaleString('en-US')} more characters.${more}`;
  // The most the kept text may take: the note, the blank line before it and the final newline take the rest.
  const room = budget - noteFor(text.length).length - 3;
  if (room <= 0) return sliceUnits(noteFor(text.length), limit);

  const lines = text.split('\n');
  // Whole lines that fit in the room, joined by newlines.
  let count = 0;
  let used = -1;
  while (count < lines.length && used + 1 + lines[count]!.length <= room) used += 1 + lines[count++]!.length;
  let kept = lines.slice(0, count);
  if (count === 0) kept = [sliceUnits(lines[0]!, room)];

  // Close what is open at the cut; drop lines until the closing lines fit too.
  for (;;) {
    const { fence, details } = openBlocks(kept);
    if (fence && RENDERED_FENCES.has(fence.info)) {
      kept = kept.slice(0, fence.line);
      continue;
    }
    const closing = [...(fence ? [fence.marker] : []), ...Array<string>(details).fill('</details>')];
    const body = [...kept, ...closing].join('\n');
    if (body.length <= room || kept.length === 0) {
      while (kept.length > 0 && kept[kept.length - 1]!.trim() === '' && closing.length === 0) kept.pop();
      const head = [...kept, ...closing].join('\n');
      const dropped = text.length - kept.join('\n').length;
      // A blank line first, so the note is not read as one more row of a table that was cut.
      return `${head}${head ? '\n\n' : ''}${noteFor(dropped)}\n`;
    }
    kept = kept.slice(0, -1);
  }
}
