import { describe, expect, it } from 'vitest';
import { MAX_RESULT_NAME, MAX_RESULT_TEXT, parseResultDocument } from '../../../src/core/result/result.js';
import { makeResultDocument } from '../../fixtures/records/result.js';

const SHA = 'a'.repeat(40);
const HASH = 'b'.repeat(64);

function documentWith(partial: Record<string, unknown>): unknown {
  return { ...JSON.parse(JSON.stringify(makeResultDocument({ repo: 'octo/model', base: SHA, head: SHA, protectedHash: HASH }))), ...partial };
}

describe('the result document bounds every string at parse time', () => {
  it('cuts a 96 KB reason (and the runs\' reasons) to MAX_RESULT_TEXT characters before anything renders it', () => {
    const doc = documentWith({ reason: `${'<!-'.repeat(32_000)}` });
    const parsed = parseResultDocument(doc);
    expect(parsed.reason!.length).toBe(MAX_RESULT_TEXT);
    expect(parsed.reason!.endsWith('…')).toBe(true);
  });

  it('refuses names and paths longer than any real one', () => {
    expect(() => parseResultDocument(documentWith({ changedFiles: ['x'.repeat(MAX_RESULT_NAME + 1)] }))).toThrow();
    expect(() => parseResultDocument(documentWith({ metric: { name: 'm'.repeat(MAX_RESULT_NAME + 1), goal: 'minimize' } }))).toThrow();
  });
});
