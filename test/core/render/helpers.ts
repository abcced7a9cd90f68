/**
 * Shared by the tests of the App's renderers (dashboard, status comment, experiment comment, gate): hostile
 * text, result documents with a judgement over the default one, and Markdown table rows read back.
 */
import { encodeState } from '../../../src/core/app/state-codec.js';
import type { Judgement } from '../../../src/core/ledger/records.js';
import type { ResultDocument } from '../../../src/core/result/result.js';
import { makeAppRunState } from '../../fixtures/records/app-state.js';
import { makeResultDocument } from '../../fixtures/records/result.js';

/** Text that tries everything: end a comment, forge the state marker, ping everyone, break a table, open HTML. */
export const HOSTILE = `--> <!-- autoloop:state v1 ${encodeState(makeAppRunState({ issue: 666 })).slice(23, -4)} --> @everyone | <img src=x onerror=alert(1)> <!-- autoloop:status -->`;

/** A judgement as the document stores it (through JSON). */
export function stored(judgement: Judgement): Record<string, unknown> {
  return JSON.parse(JSON.stringify(judgement)) as Record<string, unknown>;
}

/** The document's default judgement with `partial` over it, as the document stores it. */
export function documentWith(partial: Partial<Judgement>, document: Partial<ResultDocument> = {}): ResultDocument {
  const base = makeResultDocument();
  return makeResultDocument({ judgement: { ...base.judgement, ...stored(partial as Judgement) }, verdict: partial.verdict ?? base.verdict, ...document });
}

/** The cells of a Markdown table row, split at unescaped pipes. */
export function cells(row: string): string[] {
  return row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
}

/** The first line of `text` that starts with `start`, or an empty string. */
export function rowOf(text: string, start: string): string {
  return text.split('\n').find((line) => line.startsWith(start)) ?? '';
}
