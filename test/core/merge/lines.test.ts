import { describe, expect, it } from 'vitest';
import { mergeLines } from '../../../src/core/merge/lines.js';

describe('mergeLines', () => {
  const lines = (text: string) => text.split(/(?<=\n)/);
  const merge = (base: string, ours: string, theirs: string) => mergeLines(lines(base), lines(ours), lines(theirs))?.join('') ?? null;

  it('merges changes to neighbouring lines (two tuned parameters), which git merge-file calls a conflict', () => {
    expect(merge('{\n  "x": 0,\n  "y": 0\n}\n', '{\n  "x": 3,\n  "y": 0\n}\n', '{\n  "x": 0,\n  "y": -1\n}\n')).toBe('{\n  "x": 3,\n  "y": -1\n}\n');
    expect(merge('a\nb\nc', 'a\nb\nC', 'A\nb\nc')).toBe('A\nb\nC');
    expect(merge('a\nb\n', 'a\nb\nc\n', 'z\na\nb\n')).toBe('z\na\nb\nc\n');
    expect(merge('a\nb\nc\n', 'a\nc\n', 'a\nb\nc\nd\n')).toBe('a\nc\nd\n');
  });

  it('takes the same change made on both sides once, and refuses changes to the same lines or insertions at one place', () => {
    expect(merge('a\nb\n', 'a\nB\n', 'a\nB\n')).toBe('a\nB\n');
    expect(merge('a\nb\n', 'a\nB\n', 'a\nβ\n')).toBeNull();
    expect(merge('a\nb\n', 'a\nx\nb\n', 'a\ny\nb\n')).toBeNull();
    expect(merge('a\nb\nc\n', 'a\nc\n', 'a\nB\nc\n')).toBeNull();
  });
});
