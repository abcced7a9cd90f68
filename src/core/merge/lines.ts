/**
 * A three-way merge of text, line by line: pure. It carries a stale winner's change onto a newer run head in the
 * local loop's parallel mode (../../engine/worktrees.ts), where what it makes is measured again before it counts.
 */

/** Base lines `[start, end)` replaced by `lines`: one change of a file's text. */
interface Hunk {
  start: number;
  end: number;
  lines: string[];
}

/** The most line pairs {@link lineHunks} aligns (its table's cells), past the lines both files share at their ends. */
const MAX_ALIGNED = 4_000_000;

/** The changes that turn `base` into `side`, along a longest common subsequence of their lines; null when the differing middles are too large to align here. */
function lineHunks(base: readonly string[], side: readonly string[]): Hunk[] | null {
  let head = 0;
  while (head < base.length && head < side.length && base[head] === side[head]) head++;
  let tail = 0;
  while (tail < base.length - head && tail < side.length - head && base[base.length - 1 - tail] === side[side.length - 1 - tail]) tail++;
  const b = base.slice(head, base.length - tail);
  const s = side.slice(head, side.length - tail);
  const width = s.length + 1;
  if ((b.length + 1) * width > MAX_ALIGNED) return null;
  // common[i * width + j]: the longest common subsequence of b[i..] and s[j..].
  const common = new Uint32Array((b.length + 1) * width);
  for (let i = b.length - 1; i >= 0; i--) {
    for (let j = s.length - 1; j >= 0; j--) {
      common[i * width + j] = b[i] === s[j] ? common[(i + 1) * width + j + 1]! + 1 : Math.max(common[(i + 1) * width + j]!, common[i * width + j + 1]!);
    }
  }
  const hunks: Hunk[] = [];
  let open: Hunk | null = null;
  for (let i = 0, j = 0; i < b.length || j < s.length; ) {
    if (i < b.length && j < s.length && b[i] === s[j]) {
      if (open) hunks.push(open);
      open = null;
      i++;
      j++;
      continue;
    }
    open ??= { start: head + i, end: head + i, lines: [] };
    if (j < s.length && (i === b.length || common[i * width + j + 1]! >= common[(i + 1) * width + j]!)) {
      open.lines.push(s[j++]!);
    } else {
      open.end = head + ++i;
    }
  }
  if (open) hunks.push(open);
  return hunks;
}

/**
 * The three-way merge of two edits of `base`, line by line: each side's changes applied where the other
 * side left the lines alone. Changes next to each other merge (two parameters on neighbouring lines, the
 * common case of a tuned file: unlike `git merge-file`, which calls that a conflict); changes to the same
 * lines, or two insertions at one place, do not, unless they are the same. Null when they do not merge.
 */
export function mergeLines(base: readonly string[], ours: readonly string[], theirs: readonly string[]): string[] | null {
  const [mine, other] = [lineHunks(base, ours), lineHunks(base, theirs)];
  if (!mine || !other) return null;
  const hunks = [...mine, ...other].sort((x, y) => x.start - y.start || x.end - y.end);
  const merged: string[] = [];
  let at = 0;
  let last: Hunk | null = null;
  for (const hunk of hunks) {
    if (last && (hunk.start < last.end || (hunk.start === last.start && (hunk.start === hunk.end || last.start === last.end)))) {
      const same = hunk.start === last.start && hunk.end === last.end && hunk.lines.length === last.lines.length && hunk.lines.every((line, i) => line === last!.lines[i]);
      if (same) continue;
      return null;
    }
    merged.push(...base.slice(at, hunk.start), ...hunk.lines);
    at = hunk.end;
    last = hunk;
  }
  merged.push(...base.slice(at));
  return merged;
}
