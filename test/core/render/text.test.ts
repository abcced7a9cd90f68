import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { experimentLine } from '../../../src/core/render/progress-line.js';
import { cell } from '../../../src/core/render/markdown.js';
import { renderResultSummary } from '../../../src/core/render/summary.js';
import { stripControl } from '../../../src/core/render/text.js';
import { makeExperiment } from '../../fixtures/records/ledger.js';
import { makeResultDocument } from '../../fixtures/records/result.js';

/** Any C0 control but tab and line feed, DEL, or any C1 control: none may survive. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

const RED = '\x1b[31m';
const RESET = '\x1b[0m';
const HYPERLINK = '\x1b]8;;http://evil.example\x1b\\click me\x1b]8;;\x1b\\';

describe('stripControl', () => {
  it('removes SGR colours and keeps the text', () => {
    expect(stripControl(`${RED}error${RESET}: boom`)).toBe('error: boom');
    expect(stripControl('\x1b[1;38;5;196mbold\x1b[m')).toBe('bold');
  });

  it('removes an OSC 8 hyperlink with its target, keeping the visible text', () => {
    expect(stripControl(HYPERLINK)).toBe('click me');
    // BEL-terminated OSC (window title) and C1 OSC/CSI bytes.
    expect(stripControl('a\x1b]0;pwned title\x07b')).toBe('ab');
    expect(stripControl('a\x9d8;;http://evil\x9cb\x9b31mc')).toBe('abc');
  });

  it('removes an unterminated OSC up to the end of its line', () => {
    expect(stripControl('ok\x1b]8;;http://evil\nnext')).toBe('ok\nnext');
  });

  it('removes cursor moves, erases, DCS, two-byte escapes and bare controls', () => {
    expect(stripControl('50%\x1b[2K\x1b[1G100%')).toBe('50%100%');
    expect(stripControl('a\x1bPq#0;2;0;0;0\x1b\\b')).toBe('ab');
    expect(stripControl('a\x1b(Bb\x1bcc\x1b7d')).toBe('abcd');
    expect(stripControl('bell\x07 back\x08 nul\x00 del\x7f c1\x85 end')).toBe('bell back nul del c1 end');
    expect(stripControl('progress\rdone')).toBe('progressdone');
  });

  it('keeps tabs, line feeds, CRLF as LF, and non-ASCII text', () => {
    expect(stripControl('a\tb\nc\r\nd')).toBe('a\tb\nc\nd');
    expect(stripControl('loss ↓ 0.5 — ünïcödé 漢字 🙂')).toBe('loss ↓ 0.5 — ünïcödé 漢字 🙂');
  });

  it('leaves no control character in any text, is idempotent, and never touches printable text', () => {
    const pieces = fc.oneof(
      fc.string(),
      fc.constantFrom(RED, RESET, HYPERLINK, '\x1b', '\x1b[', '\x1b]', '\x9b', '\x9d', '\x07', '\r', '\x1b\\', '\x00'),
      fc.integer({ min: 0, max: 0x9f }).map((code) => String.fromCharCode(code)),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 20 }).map((parts) => parts.join('')), (text) => {
        const out = stripControl(text);
        expect(out).not.toMatch(CONTROL);
        expect(stripControl(out)).toBe(out);
      }),
      { seed: 42, numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }).filter((text) => !CONTROL.test(text)), (text) => {
        expect(stripControl(text)).toBe(text);
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});

describe('evaluator text in rendered output', () => {
  const hostile = `${RED}FAIL${RESET} ${HYPERLINK}\x07\x9b2J`;

  it('the job summary shows reasons and failed runs without escapes', () => {
    const base = makeResultDocument();
    const runs = base.runs.map((run) =>
      run.side === 'candidate' && run.index === 0 ? { ...run, ok: false, exitCode: 1, metrics: {}, reason: `evaluate.command exited with code 1: ${hostile}` } : run,
    );
    const summary = renderResultSummary(makeResultDocument({ runs, reason: `candidate run 1: ${hostile}` }));
    expect(summary).not.toMatch(CONTROL);
    expect(summary).not.toContain('http://evil.example');
    expect(summary).toContain('**Reason:** candidate run 1: FAIL click me');
    expect(summary).toMatch(/^candidate 1 {2}failed: evaluate\.command exited with code 1: FAIL click me$/m);
  });

  it('a Markdown table cell has no escapes', () => {
    expect(cell(`a ${hostile}`)).toBe('a FAIL click me');
  });

  it('a terminal progress line has no escapes from the description or the reason', () => {
    const record = makeExperiment({ experiment: 1, status: 'crash', metric: null, description: `try ${RED}this${RESET}`, reason: `crashed: ${hostile}` });
    const line = experimentLine({ record, best: null, baseline: null, keepRate: 0, budget: 5 }, 'loss', null);
    expect(line).not.toMatch(CONTROL);
    expect(line).toContain('· try this');
    expect(line).toContain('loss not measured: crashed: FAIL click me');
  });

  it('removes bidirectional overrides that would make a reason read otherwise than it is', () => {
    expect(stripControl('access\u202e  ninetyday\u2066x\u2069')).toBe('access  ninetydayx');
  });
});
