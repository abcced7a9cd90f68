import { describe, expect, it } from 'vitest';
import { GITHUB_BODY_LIMIT, TRUNCATION_MARGIN, truncateMarkdown } from '../../../src/core/render/truncate.js';

const MARKER = '<!-- autoloop:run:test -->';

/** `count` numbered lines of `width` characters each. */
function numberedLines(count: number, width = 40): string[] {
  return Array.from({ length: count }, (_, i) => `line ${i}`.padEnd(width, '.'));
}

/** Lines of the result before the truncation note, and the note. */
function split(result: string): { head: string; note: string } {
  const at = result.lastIndexOf('\n\n… truncated: ');
  return { head: result.slice(0, at), note: result.slice(at + 2).trimEnd() };
}

describe('truncateMarkdown', () => {
  it('returns a text that fits unchanged', () => {
    const text = `${MARKER}\n\nshort body\n`;
    expect(truncateMarkdown(text, 100)).toBe(text);
    expect(truncateMarkdown('x'.repeat(100), 100)).toBe('x'.repeat(100));
  });

  it('keeps whole lines from the top, the marker first, and says how much was dropped with the link', () => {
    const text = [MARKER, ...numberedLines(100)].join('\n');
    const result = truncateMarkdown(text, 1_000, { label: 'full report', url: 'https://example.com/a (b)' });
    expect(result.length).toBeLessThanOrEqual(1_000 - 100);
    expect(result.split('\n')[0]).toBe(MARKER);
    const { head, note } = split(result);
    expect(text.startsWith(`${head}\n`)).toBe(true);
    expect(head.split('\n').every((line) => line === MARKER || /^line \d+\.+$/.test(line))).toBe(true);
    const dropped = text.length - head.length;
    expect(note).toBe(`… truncated: ${dropped.toLocaleString('en-US')} more characters. [full report](https://example.com/a%20%28b%29)`);
    expect(result.endsWith('\n')).toBe(true);
  });

  it('stays below GitHub’s limit with the safety margin', () => {
    const text = [MARKER, ...numberedLines(3_000, 60)].join('\n');
    expect(text.length).toBeGreaterThan(GITHUB_BODY_LIMIT);
    const result = truncateMarkdown(text, GITHUB_BODY_LIMIT);
    expect(result.length).toBeLessThanOrEqual(GITHUB_BODY_LIMIT - TRUNCATION_MARGIN);
    expect(result.length).toBeGreaterThan(GITHUB_BODY_LIMIT - TRUNCATION_MARGIN - 200);
    expect(result).toMatch(/\n\n… truncated: [\d,]+ more characters\.\n$/);
  });

  it('closes a code fence open at the cut', () => {
    const text = ['intro', '````text', ...numberedLines(50), '````', 'after'].join('\n');
    const result = truncateMarkdown(text, 800);
    const fences = result.split('\n').filter((line) => line.startsWith('```'));
    expect(fences).toEqual(['````text', '````']);
    const { head } = split(result);
    expect(head.endsWith('\n````')).toBe(true);
    expect(result.length).toBeLessThanOrEqual(800);
  });

  it('does not count a shorter or differently-made fence as closing', () => {
    const text = ['~~~~', '```', '~~~', ...numberedLines(50)].join('\n');
    const { head } = split(truncateMarkdown(text, 800));
    expect(head.endsWith('\n~~~~')).toBe(true);
  });

  it('leaves a closed fence alone', () => {
    const text = ['```', 'code', '```', ...numberedLines(50)].join('\n');
    const fences = truncateMarkdown(text, 800).split('\n').filter((line) => line.startsWith('```'));
    expect(fences).toHaveLength(2);
  });

  it('drops a Mermaid block cut in the middle rather than leave half a diagram', () => {
    const text = [MARKER, 'intro', '```mermaid', 'xychart-beta', ...numberedLines(50), '```'].join('\n');
    const { head } = split(truncateMarkdown(text, 800));
    expect(head).toBe(`${MARKER}\nintro`);
  });

  it('closes an open <details> block so the note is not hidden in it', () => {
    const text = ['<details><summary>logs</summary>', '', ...numberedLines(50), '</details>'].join('\n');
    const { head } = split(truncateMarkdown(text, 800));
    expect(head.endsWith('\n</details>')).toBe(true);
    expect(head.match(/<details>/g)).toHaveLength(1);
  });

  it('separates the note from a table it cut with a blank line', () => {
    const text = ['| a | b |', '| --- | --- |', ...Array.from({ length: 100 }, (_, i) => `| ${i} | ${'x'.repeat(20)} |`)].join('\n');
    const result = truncateMarkdown(text, 600);
    expect(result).toMatch(/\|\n\n… truncated: /);
  });

  it('cuts one over-long line without splitting a surrogate pair', () => {
    const text = '😀'.repeat(500);
    const result = truncateMarkdown(text, 300);
    expect(result.length).toBeLessThanOrEqual(300);
    const { head } = split(result);
    expect(head.length).toBeGreaterThan(0);
    expect(head).toBe('😀'.repeat(head.length / 2));
  });

  it('returns the note alone when the limit leaves no room for text', () => {
    const result = truncateMarkdown('x'.repeat(500), 40);
    expect(result.length).toBeLessThanOrEqual(40);
    expect(result.startsWith('… truncated:')).toBe(true);
  });
});
