/**
 * The one Markdown toolkit of everything autoloop writes for people: comments, pull request bodies, check runs,
 * job summaries and reports. Pure.
 *
 * One escaping rule for text that people, proposers or evaluators wrote (goals, hypotheses, reasons, paths,
 * names): every helper removes terminal control sequences ({@link stripControl}) and HTML comment delimiters,
 * so no hidden marker of the App can be forged anywhere. Prose (a line, a table cell, a quote, a link label) is
 * also neutralised ({@link neutralize}): `<` as an entity, a zero-width space after `@`. Code (inline or fenced)
 * and check run titles are shown literally by GitHub: entities would show as typed there, so they keep `<`, `&`
 * and `@` as written.
 */
import type { Goal } from '../config/config-schema.js';
import { formatNumber, formatPercent } from '../config/units.js';
import { finite } from '../judge/figures.js';
import { SINGLE_RUN_NOTE } from '../judge/judge.js';
import type { Judgement } from '../ledger/records.js';
import { stripControl } from './text.js';

// ---------------------------------------------------------------------------------------------------
// Escaping

/** A run of the characters comment delimiters are made of. */
const DELIMITER_CHARACTERS = /[<!>-]+/g;
const DELIMITER = /<!--|-->/;

/**
 * `text` without HTML comment delimiters (`<!--`, `-->`), in one linear pass. Removing delimiters one by one
 * can join the halves of another (`<!<!---->--`), so every run of `<`, `!`, `-` and `>` that holds one is removed
 * whole: what is left around it cannot join into a new delimiter. Stripping again changes nothing.
 */
export function stripCommentDelimiters(text: string): string {
  return text.replace(DELIMITER_CHARACTERS, (run) => (DELIMITER.test(run) ? '' : run));
}

/** Text without terminal control sequences and comment delimiters: the part of the rule every helper applies. */
export function plainText(text: string): string {
  return stripCommentDelimiters(stripControl(text));
}

/** Joins nothing and shows nothing: put inside a word GitHub would act on, it breaks the word without changing how it reads. */
const ZWJ = '\u200d';
/** The keywords that close an issue when a pull request body or a commit on the default branch names it (`Fixes #1`). */
const CLOSING_KEYWORD = /\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b/gi;
/** Issue and pull request references: `#1`, `owner/repo#2`, `GH-3`. */
const REFERENCE = /#(?=\d)|\bGH(?=-\d)/gi;
/** What GitHub turns into a link by itself: `https://…`, `http://…`, `ftp://…`, `www.…`. */
const AUTOLINK = /\b(?:https?|ftp)(?=:\/\/)|\bwww(?=\.)/gi;

/** `text` with a zero-width joiner after the first character of `match`. */
const broken = (match: string): string => `${match.slice(0, 1)}${ZWJ}${match.slice(1)}`;

/**
 * Text that GitHub shows as plain text but still reads (a pull request title, a commit message, a check run
 * title), made inert: no control sequences, no comment delimiters, a zero-width space after every `@` (no
 * @mention), and a zero-width joiner inside every closing keyword (`F‍ixes`), issue reference (`#‍1`,
 * `G‍H-1`) and autolinked URL scheme (`h‍ttps://`, `w‍ww.`), so nothing is closed, cross-referenced or linked.
 * Reads the same. Linear in the length of `text`.
 */
export function inertText(text: string): string {
  return plainText(text)
    .replace(/@/g, '@\u200b')
    .replace(CLOSING_KEYWORD, broken)
    .replace(REFERENCE, (match) => (match === '#' ? `#${ZWJ}` : broken(match)))
    .replace(AUTOLINK, broken);
}

/**
 * Text people or proposers wrote, made inert for Markdown: everything {@link inertText} does (no control
 * sequences, no comment delimiters so no forged marker, no @mention, no closing keyword, issue reference or
 * autolink), plus `<` as an entity (so no HTML tag, comment or autolink can start), a `]` that would close a link or
 * an image (`](`, `][`, `]:`) as an entity (so no link, image or link definition: entities never form Markdown
 * structure), and `&` as `&amp;` where it would start an entity (so no
 * entity a proposer writes decodes into `@`, `#`, `[` or `<` after these checks). Line breaks are kept; `>` and
 * a bare `&` stay, so commands such as `a && b > log` stay readable. Linear in the length of `text`.
 */
export function neutralize(text: string): string {
  return inertText(text.replace(/&(?=#?[0-9a-z]+;)/gi, '&amp;'))
    .replace(/</g, '&lt;')
    .replace(LINK_BRACKET, '&#93;');
}

/** A `]` that would close a link's or an image's text (`](url)`, `][ref]`) or a link definition (`[ref]: url`). */
const LINK_BRACKET = /\](?=[([:])/g;

/** A link label: no control sequences, delimiters, tags or mentions; brackets and backslashes escaped. */
function label(text: string): string {
  return plainText(text)
    .replace(/&(?=#?[0-9a-z]+;)/gi, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/@/g, '@\u200b')
    .replace(/[[\]\\]/g, '\\$&');
}

/** `text` cut to at most `max` characters, the last one an ellipsis when cut; a surrogate pair is never split. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** The length of the longest run of backticks in `text`, at least `least`. */
function longestBackticks(text: string, least: number): number {
  let longest = least;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

/** Text on one line, at most `max` characters (no limit with `Infinity`), neutralised. */
export function oneLine(text: string, max = 500): string {
  return neutralize(clip(stripControl(text).replace(/\s+/g, ' ').trim(), max));
}

/** The most characters of a table cell. */
const MAX_CELL = 120;

/** Text for a Markdown table cell: one line, at most 120 characters, backslashes and pipes escaped, neutralised. */
export function cell(text: string): string {
  return wideCell(text, MAX_CELL);
}

/** {@link cell} with room for `max` characters: for a reason that quotes an evaluator's error and names its log. */
export function wideCell(text: string, max: number): string {
  const line = clip(stripControl(text).replace(/[\t\r\n]+/g, ' ').trim(), max);
  return neutralize(line.replace(/\\/g, '\\\\').replace(/\|/g, '\\|'));
}

/** Text as a blockquote, at most `max` characters, neutralised; empty lines stay inside the quote. */
export function quote(text: string, max = 2_000): string {
  return neutralize(clip(text.trim(), max))
    .split(/\r?\n/)
    .map((line) => (line.trim() ? `> ${line}` : '>'))
    .join('\n');
}

/** Inline code on one line, shown literally; a text with backticks gets a longer fence. */
export function code(text: string): string {
  const line = plainText(text).replace(/\s+/g, ' ');
  const longest = longestBackticks(line, 0);
  if (longest === 0) return `\`${line}\``;
  const fence = '`'.repeat(longest + 1);
  return `${fence} ${line} ${fence}`;
}

/** A fenced block shown literally, its fence longer than any backtick run inside; `info` names the language. */
export function fenced(content: string, info = ''): string {
  const text = plainText(content);
  const fence = '`'.repeat(longestBackticks(text, 2) + 1);
  return `${fence}${info}\n${text}\n${fence}`;
}

/** A Markdown link: the label neutralised with its brackets escaped, the URL percent-encoded where it could end the link or a table cell. */
export function link(text: string, url: string): string {
  return `[${label(text)}](${markdownUrl(stripControl(url)).replace(/\|/g, '%7C')})`;
}

/**
 * A title GitHub shows as plain text (a check run's, a pull request's): one line, at most `max` characters (cut
 * first, so the escaping only ever sees `max` characters), made inert ({@link inertText}).
 */
export function title(text: string, max = 100): string {
  // Cut again after: the joiners it inserts must not take a title past GitHub's limit (256 for a pull request's).
  return clip(inertText(clip(stripControl(text).replace(/\s+/g, ' ').trim(), max)), max);
}

/** Percent-encodes the characters that would end a Markdown link target early. */
export function markdownUrl(path: string): string {
  return path.replace(/[()\s<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

// ---------------------------------------------------------------------------------------------------
// Numbers

/** A measured value to 6 significant digits, or `—` when there is none (null, NaN, a value gone through JSON). */
export function value(number: number | null | undefined): string {
  const n = finite(number);
  return n === null ? '—' : formatNumber(n, 6);
}

/** A signed number with a real minus sign (`+0.1`, `−0.02`, `±0`), for deltas. */
export function signed(number: number, digits = 4): string {
  if (number === 0) return '±0';
  return `${number > 0 ? '+' : '−'}${formatNumber(Math.abs(number), digits)}`;
}

/** A delta with its relative change: `−0.1 (−20%)`, or `−0.1` without a relative change, or `—` without a delta. */
export function change(delta: number | null | undefined, relative: number | null | undefined): string {
  const d = finite(delta);
  if (d === null) return '—';
  const r = finite(relative);
  return r === null ? signed(d) : `${signed(d)} (${formatPercent(r)})`;
}

/** `1 experiment`, `3 experiments`; `many` for an irregular plural. */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/** Which way the metric gets better: `lower` or `higher`. */
export function betterWord(goal: Goal): string {
  return goal === 'minimize' ? 'lower' : 'higher';
}

/** The 7-character short form of a commit SHA, or empty. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '';
}

/** How {@link formatInterval} writes a confidence interval. */
export interface IntervalFormat {
  /** Words between the level and the bounds, e.g. `interval` for `90% interval [−0.12, −0.08]`; none by default. */
  label?: string;
  /** Names the interval's method after the bounds, when it has one: `… (paired t)`. True by default. */
  method?: boolean;
  /**
   * `markdown` (the default): the level to 3 significant digits and signed bounds with a real minus
   * (`90% [−0.12, +0.08]`). `text`: the level rounded and bare bounds (`90% [-0.12, 0.08]`), for a terminal
   * line or a commit message.
   */
  numbers?: 'markdown' | 'text';
}

/** The CLI's and the commit message's interval: `90% interval of the delta: [-0.12, -0.08] (paired t; …)`. */
export const DELTA_INTERVAL: IntervalFormat = { label: 'interval of the delta:', numbers: 'text' };

/**
 * The confidence interval of a delta: `90% [−0.12, −0.08] (paired t; each end a one-sided 95% bound)` by
 * default (see {@link IntervalFormat} and {@link DELTA_INTERVAL} for the others), or SINGLE_RUN_NOTE when there
 * is none (one run per side).
 */
export function formatInterval(interval: Judgement['interval'] | undefined, format: IntervalFormat = {}): string {
  if (!interval) return SINGLE_RUN_NOTE;
  const text = format.numbers === 'text';
  const level = text ? String(Math.round(interval.level * 100)) : formatNumber(interval.level * 100, 3);
  const bound = (n: number) => (text ? formatNumber(n) : signed(n));
  const label = format.label ? ` ${format.label}` : '';
  const method = format.method !== false && interval.method ? ` (${interval.method})` : '';
  return `${level}%${label} [${bound(interval.low)}, ${bound(interval.high)}]${method}`;
}

/**
 * The confidence interval of a delta as percentages of `reference` (the parent's mean the delta is taken from), to stand
 * next to a relative change: `90% interval −61% to +4%`. With no usable reference (zero, or not a number) the bounds
 * in the metric's unit, as {@link formatInterval} writes them (`90% interval [−0.12, +0.08]`); SINGLE_RUN_NOTE when
 * there is no interval (one run per side).
 */
export function formatRelativeInterval(interval: Judgement['interval'] | undefined, reference: number | null | undefined): string {
  const r = finite(reference);
  if (!interval || r === null || r === 0) return formatInterval(interval, { label: 'interval', method: false });
  const bound = (n: number) => formatPercent(n / Math.abs(r), 2);
  return `${formatNumber(interval.level * 100, 3)}% interval ${bound(interval.low)} to ${bound(interval.high)}`;
}
