/**
 * Parses the App's `/optimize` command out of an issue or pull-request comment. Pure: the App's webhook handler
 * checks the commenter's permission and acts on the result; this module only decides what the comment asks for.
 */
import { MAX_PARALLEL } from '../config/config-schema.js';
import { plainText } from '../render/markdown.js';

/** What a comment asks the App to do. */
export type OptimizeCommand =
  | {
      kind: 'start';
      /** Experiments to run (`/optimize 5`); `null` means the config's default. */
      experiments: number | null;
      /** `--parallel N`; `null` means the config's default. */
      parallel: number | null;
      /** `--dry-run`: report what would be done, change nothing. */
      dryRun: boolean;
      /** The free text after the command, trimmed and with whitespace collapsed; may be empty. */
      goal: string;
    }
  | { kind: 'stop' }
  | { kind: 'status' }
  | { kind: 'doctor' }
  | { kind: 'help' };

/** A parsed command, a message for the commenter saying what is wrong with it, or `null` when there is no command. */
export type CommandParseResult = { command: OptimizeCommand } | { error: string } | null;

/** Longest comment scanned, in characters: GitHub's own limit on a comment body, so anything longer is not a real comment. */
export const MAX_COMMENT_LENGTH = 65_536;
/** Longest `/optimize` line, in characters. */
export const MAX_COMMAND_LINE_LENGTH = 1_000;
/** Longest goal text, in characters (code points). */
export const MAX_GOAL_LENGTH = 500;
/** Largest number of experiments one command may ask for. */
export const MAX_EXPERIMENTS = 1_000;

const COMMAND = '/optimize';
const SUBCOMMANDS = ['stop', 'status', 'doctor', 'help'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];
const KNOWN_FLAGS = ['--parallel N', '--dry-run'] as const;
/** Appended to every error, so the commenter knows where the syntax is. */
const HELP_HINT = ` See \`${COMMAND} help\`.`;

/** Markdown answer to `/optimize help`. */
export const COMMAND_HELP = [
  '**autoloop commands** (in a comment on an issue or pull request, at the start of a line, indented less than 4 spaces; users with write access only)',
  '',
  '| Command | What it does |',
  '| --- | --- |',
  `| \`/optimize [N] [goal]\` | Start a run of N experiments (1–${MAX_EXPERIMENTS}; default from \`.github/autoloop.yml\`). The rest of the line is a hint for the proposer, up to ${MAX_GOAL_LENGTH} characters. |`,
  '| `/optimize stop` | Stop the run after the experiment in progress; kept changes stay on the run pull request. |',
  '| `/optimize status` | Answer with the run\'s current state. |',
  '| `/optimize doctor` | Check the oversight of the default branch (the required `autoloop/gate` check bound to this App, a required approving review, no bypass for the App), the workflow and the config. |',
  '| `/optimize help` | Show this help. |',
  '',
  'Flags, anywhere after `/optimize`:',
  '',
  `- \`--parallel N\` — run up to N experiments at a time (1–${MAX_PARALLEL}).`,
  '- `--dry-run` — say what the run would do, without creating branches, pull requests or workflow runs.',
  '',
  'Only the first command in a comment counts; commands inside code blocks or quotes are ignored.',
  '',
  'Example: `/optimize 20 --parallel 2 make the parser faster`',
].join('\n');

/** A code fence line: backticks or tildes, 3 or more. Any indentation, so fences nested in list items count too. */
const FENCE = /^[ \t]*(`{3,}|~{3,})(.*)$/;
/** The command at the start of a line, as a whole word: `/optimizer` and `/optimize-x` are not it. */
const COMMAND_LINE = /^[ \t]*\/optimize(?=\s|$)/;
/** Separators between arguments; control characters count, so they never reach the goal text. */
const SEPARATORS = /[\s\p{Cc}]+/u;
/** A token that looks like an attempt at N, so `/optimize 1.5` is an error rather than a goal "1.5". */
const NUMBER_LIKE = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
/** A flag typed with a typographic dash (phones turn `--` into `—`), so `—dry-run` is not silently a real run. */
const DASHED_FLAG = /^[\u2012-\u2015\u2212]+([A-Za-z][A-Za-z-]*)(=.*)?$/;

/**
 * Finds the first `/optimize` command in a comment and parses it.
 *
 * The command must start a line (indented less than 4 columns); lines in fenced or indented code blocks, quoted
 * lines (`>`) and lines inside HTML comments never count, because the commenter does not see them as a command. Only the first command
 * line is parsed. Runs in time linear in the comment's length and never throws.
 */
export function parseCommand(body: string | null | undefined): CommandParseResult {
  // GitHub sends `null` for an empty issue or pull-request body.
  if (typeof body !== 'string') return null;
  // Cheap exit for the common comment without the command; also keeps the App from answering a long comment
  // that never addressed it.
  if (!body.includes(COMMAND)) return null;
  if (body.length > MAX_COMMENT_LENGTH) {
    return { error: `The comment is too long (${body.length} characters; at most ${MAX_COMMENT_LENGTH}): \`${COMMAND}\` was not read.` };
  }
  const line = findCommandLine(body);
  if (line === null) return null;
  if (line.length > MAX_COMMAND_LINE_LENGTH) {
    return { error: `The \`${COMMAND}\` line is too long (${line.length} characters; at most ${MAX_COMMAND_LINE_LENGTH}).` };
  }
  return parseArguments(line.replace(COMMAND_LINE, ''));
}

/** The first line that is a visible `/optimize` command, or `null`. */
function findCommandLine(body: string): string | null {
  let fence: string | null = null;
  let inHtmlComment = false;
  for (const line of body.split(/\r\n|\r|\n/)) {
    const fenceMatch = FENCE.exec(line);
    if (fence !== null) {
      // A closing fence: the same character, at least as many of them, nothing else (CommonMark).
      const marker = fenceMatch?.[1];
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && fenceMatch[2]!.trim() === '') fence = null;
      continue;
    }
    if (inHtmlComment) {
      inHtmlComment = htmlCommentOpenAfter(line, true);
      continue;
    }
    // A backtick fence's info string cannot contain a backtick; such a line is inline code, not a fence.
    if (fenceMatch && !(fenceMatch[1]![0] === '`' && fenceMatch[2]!.includes('`'))) {
      fence = fenceMatch[1]!;
      continue;
    }
    inHtmlComment = htmlCommentOpenAfter(line, false);
    if (/^\s*>/.test(line)) continue;
    if (COMMAND_LINE.test(line) && indentColumns(line) < CODE_INDENT) return line;
  }
  return null;
}

/**
 * Columns of indentation from which a line is an indented code block (after a blank line) or part of the
 * paragraph above it (CommonMark 4.4): either way not a command the commenter sees at the start of a line.
 */
const CODE_INDENT = 4;

/** The columns `line`'s leading spaces and tabs span, a tab reaching the next multiple of 4 (CommonMark 2.2). */
function indentColumns(line: string): number {
  let columns = 0;
  for (const char of line) {
    if (char === ' ') columns += 1;
    else if (char === '\t') columns += 4 - (columns % 4);
    else break;
  }
  return columns;
}

/** Whether an HTML comment (`<!-- … -->`) is still open at the end of `line`. */
function htmlCommentOpenAfter(line: string, open: boolean): boolean {
  let at = 0;
  for (;;) {
    const next = open ? line.indexOf('-->', at) : line.indexOf('<!--', at);
    if (next < 0) return open;
    at = next + (open ? 3 : 4);
    open = !open;
  }
}

/** Parses what follows `/optimize` on its line. */
function parseArguments(rest: string): CommandParseResult {
  const tokens = rest.split(SEPARATORS).filter((token) => token !== '');
  const first = tokens[0];
  if (first !== undefined && isSubcommand(first)) {
    if (tokens.length > 1) return { error: `\`${COMMAND} ${first}\` takes no arguments (got ${echo(tokens.slice(1).join(' '))}).${HELP_HINT}` };
    return { command: { kind: first } };
  }

  let parallel: number | null = null;
  let dryRun = false;
  const words: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const dashed = DASHED_FLAG.exec(token);
    if (dashed && isKnownFlagName(dashed[1]!)) {
      return { error: `${echo(token)}: write the flag with two plain hyphens, \`--${dashed[1]}\`.${HELP_HINT}` };
    }
    // `--` followed by a letter is a flag; a lone `--` or `--5` is text.
    if (!/^--[A-Za-z]/.test(token)) {
      words.push(token);
      continue;
    }
    const equals = token.indexOf('=');
    const name = equals < 0 ? token : token.slice(0, equals);
    if (name === '--dry-run') {
      if (equals >= 0) return { error: `\`--dry-run\` takes no value (got ${echo(token)}).${HELP_HINT}` };
      if (dryRun) return { error: `\`--dry-run\` is given twice.${HELP_HINT}` };
      dryRun = true;
    } else if (name === '--parallel') {
      if (parallel !== null) return { error: `\`--parallel\` is given twice.${HELP_HINT}` };
      let value: string | undefined;
      if (equals >= 0) value = token.slice(equals + 1);
      else value = tokens[++i];
      const parsed = value === undefined ? null : boundedInteger(value, MAX_PARALLEL);
      if (parsed === null) {
        const got = value === undefined || value === '' ? 'no value' : echo(value);
        return { error: `\`--parallel\` needs a whole number from 1 to ${MAX_PARALLEL} (got ${got}), e.g. \`--parallel 2\`.${HELP_HINT}` };
      }
      parallel = parsed;
    } else {
      return { error: `Unknown flag ${echo(name)} in \`${COMMAND}\`; the known flags are ${KNOWN_FLAGS.map((flag) => `\`${flag}\``).join(' and ')}.${HELP_HINT}` };
    }
  }

  // A subcommand after flags (`/optimize --dry-run stop`) must not quietly start a run with the goal "stop".
  const firstWord = words[0];
  if (firstWord !== undefined && isSubcommand(firstWord)) {
    return { error: `\`${COMMAND} ${firstWord}\` takes no arguments; write it alone on its line.${HELP_HINT}` };
  }
  // `/optimize Stop` alone most likely means stop; starting a run on a typo would be the costly reading.
  if (words.length === 1 && firstWord !== undefined && isSubcommand(firstWord.toLowerCase())) {
    return { error: `Did you mean \`${COMMAND} ${firstWord.toLowerCase()}\`? Subcommands are lowercase.${HELP_HINT}` };
  }

  let experiments: number | null = null;
  if (firstWord !== undefined && NUMBER_LIKE.test(firstWord)) {
    experiments = boundedInteger(firstWord, MAX_EXPERIMENTS);
    if (experiments === null) {
      return { error: `${echo(`${COMMAND} ${firstWord}`)}: the number of experiments must be a whole number from 1 to ${MAX_EXPERIMENTS}.${HELP_HINT}` };
    }
    words.shift();
  }

  const goal = words.join(' ');
  const goalLength = [...goal].length;
  if (goalLength > MAX_GOAL_LENGTH) {
    return { error: `The goal text after \`${COMMAND}\` is too long (${goalLength} characters; at most ${MAX_GOAL_LENGTH}). Put details in the issue and keep the command short.` };
  }
  return { command: { kind: 'start', experiments, parallel, dryRun, goal } };
}

/**
 * Echoes the commenter's text inside inline code in a reply: shortened, plain (no control sequences, no comment
 * delimiters that could forge a marker), and without backticks so it cannot close the code span and turn into
 * live Markdown (mentions, links) in the App's own comment.
 */
function echo(text: string): string {
  const chars = [...plainText(text).replace(/`/g, "'")];
  return `\`${chars.length > 40 ? `${chars.slice(0, 39).join('')}…` : chars.join('')}\``;
}

function isSubcommand(word: string): word is Subcommand {
  return (SUBCOMMANDS as readonly string[]).includes(word);
}

function isKnownFlagName(name: string): boolean {
  return name === 'dry-run' || name === 'parallel';
}

/** `text` as an integer in 1..max, or `null`; digits only, so `1.5`, `-1`, `1e3` and `0x10` are rejected. */
function boundedInteger(text: string, max: number): number | null {
  if (!/^\d+$/.test(text)) return null;
  const value = Number(text);
  return value >= 1 && value <= max ? value : null;
}
