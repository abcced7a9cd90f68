import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SINGLE_RUN_NOTE } from '../../../src/core/judge/judge.js';
import {
  betterWord,
  cell,
  change,
  code,
  DELTA_INTERVAL,
  fenced,
  formatInterval,
  link,
  neutralize,
  oneLine,
  plural,
  quote,
  shortSha,
  signed,
  stripCommentDelimiters,
  title,
  value,
} from '../../../src/core/render/markdown.js';

describe('neutralize', () => {
  it('removes comment delimiters even when removing one joins another, escapes what could start HTML and defuses mentions', () => {
    // An entity the writer typed shows as typed: decoded, `&#64;` or `&#35;1` would be a mention or a reference.
    expect(neutralize('<!<!---->-- a --<!---->> @all && <b> &lt;')).toBe(' a  @\u200ball && &lt;b> &amp;lt;');
    expect(neutralize('line 1\nline 2')).toBe('line 1\nline 2');
  });
});

describe('stripCommentDelimiters', () => {
  it('removes delimiters whose halves join once another is removed, and stripping again changes nothing', () => {
    expect(stripCommentDelimiters('<!<!---->--')).toBe('');
    expect(stripCommentDelimiters('a <!-- b --> c')).toBe('a  b  c');
    expect(stripCommentDelimiters('a -> b <- c <!- d')).toBe('a -> b <- c <!- d');
  });

  it('takes one pass over nested halves that removing one delimiter at a time would take a pass each for', () => {
    const nested = `${'<!'.repeat(100_000)}${'--'.repeat(100_000)}>`;
    expect(stripCommentDelimiters(`x${nested}y`)).toBe('xy');
  });
});

describe('the escaping rule', () => {
  const pieces = fc.oneof(
    fc.constantFrom('<!--', '-->', '<!', '<', '!', '-', '--', '>', '@', '`', '|', '\\', '\n', ' ', '\x1b[31m', '\x1b]8;;http://evil\x07', '\x9b2J', '\x07'),
    fc.string({ maxLength: 3 }),
  );
  const helpers: [string, (text: string) => string][] = [
    ['neutralize', neutralize],
    ['oneLine', (text) => oneLine(text)],
    ['cell', cell],
    ['quote', (text) => quote(text)],
    ['code', code],
    ['fenced', (text) => fenced(text, 'text')],
    ['link', (text) => link(text, `https://example.com/${text}`)],
    ['title', (text) => title(text)],
  ];

  it.each(helpers)('%s leaves no comment delimiter and no control sequence in any text', (_name, helper) => {
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 24 }).map((parts) => parts.join('')), (text) => {
        const out = helper(text);
        expect(out).not.toMatch(/<!--|-->/);
        // eslint-disable-next-line no-control-regex
        expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('neutralises prose but shows code as written', () => {
    expect(oneLine('ping @team <b>\n a && b > log')).toBe('ping @\u200bteam &lt;b> a && b > log');
    expect(cell('a | b <i>')).toBe('a \\| b &lt;i>');
    expect(code('a && b <x> @me')).toBe('`a && b <x> @me`');
    expect(code('a `b` c')).toBe('`` a `b` c ``');
    expect(fenced('```\n<!-- x -->', 'text')).toBe('````text\n```\n x \n````');
    expect(link('[x] @all', 'https://example.com/a (b)|c')).toBe('[\\[x\\] @\u200ball](https://example.com/a%20%28b%29%7Cc)');
    expect(title(`${'x'.repeat(120)} <!-- y -->`)).toBe(`${'x'.repeat(99)}…`);
  });
});

describe('formatInterval', () => {
  const interval = { low: -0.12, high: -0.08, level: 0.9, method: 'paired t' };

  it('writes the interval of each renderer, or the single-run note without one', () => {
    expect(formatInterval(interval)).toBe('90% [−0.12, −0.08] (paired t)');
    expect(formatInterval(interval, { label: 'interval', method: false })).toBe('90% interval [−0.12, −0.08]');
    expect(formatInterval(interval, DELTA_INTERVAL)).toBe('90% interval of the delta: [-0.12, -0.08] (paired t)');
    expect(formatInterval({ ...interval, method: '' })).toBe('90% [−0.12, −0.08]');
    expect(formatInterval(null)).toBe(SINGLE_RUN_NOTE);
    expect(formatInterval(null, DELTA_INTERVAL)).toBe(SINGLE_RUN_NOTE);
  });
});

describe('numbers', () => {
  it('shows values, deltas, plurals and short SHAs', () => {
    expect([value(0.1234567), value(null), value(Number.NaN)]).toEqual(['0.123457', '—', '—']);
    expect([signed(0.1), signed(-0.02), signed(0)]).toEqual(['+0.1', '−0.02', '±0']);
    expect([change(-0.1, -0.2), change(-0.1, null), change(null, 0.5)]).toEqual(['−0.1 (−20%)', '−0.1', '—']);
    expect([plural(1, 'path'), plural(2, 'path'), plural(2, 'child', 'children')]).toEqual(['1 path', '2 paths', '2 children']);
    expect([betterWord('minimize'), betterWord('maximize')]).toEqual(['lower', 'higher']);
    expect([shortSha('0123456789abcdef'), shortSha(null)]).toEqual(['0123456', '']);
  });
});
