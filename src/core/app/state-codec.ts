/**
 * The App's run state as a hidden HTML comment at the end of the run pull request's body, so the App
 * keeps no database: `<!-- autoloop:state v1 <payload> -->`. The payload is base64url, which has no
 * character that could end the comment or be read as Markdown, whatever the state's texts hold.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { appRunStateSchema, STATE_VERSION, type AppRunState } from './state.js';
import { STATE_MARKER_PREFIX } from '../protocol/protocol.js';
import { AutoloopError } from '../errors.js';

/** The state could not be read although its marker is there: the App says so rather than start over. */
export class StateError extends AutoloopError {
  override readonly name = 'StateError';
}

/**
 * The hidden marker holding `state`: `<!-- autoloop:state v1 <payload> -->`, one line. The payload is the
 * state's JSON, deflated (the JSON repeats its keys and URLs, so it shrinks several-fold, which matters
 * under GitHub's 65,536-character body limit) and base64url-encoded. Deterministic for a given state.
 */
export function encodeState(state: AppRunState): string {
  const payload = deflateRawSync(Buffer.from(JSON.stringify(state), 'utf8'), { level: 9 }).toString('base64url');
  return `${STATE_MARKER_PREFIX} v${STATE_VERSION} ${payload} -->`;
}

/** Inflating stops here: a hand-made marker must not expand into gigabytes (a body holds 65,536 characters). */
const MAX_STATE_BYTES = 16 * 2 ** 20;

/** The opening of a state marker, however spaced; global so the last one can be found. */
const OPENING = /<!--\s*autoloop:state\b/g;
const CONTENT = /^\s+v(\d+)\s+([A-Za-z0-9_-]+)\s*$/;

/**
 * The state in a pull request body: from the LAST state marker, since the App appends the real one at
 * the end and text people or proposers wrote can only come before it. Null when the body has no
 * marker (not a run, or the state was removed). Throws {@link StateError} when a marker is there but
 * cannot be read: not closed, another version, not base64url, not deflated JSON, or not a valid state.
 */
export function decodeState(body: string): AppRunState | null {
  let start = -1;
  for (const match of body.matchAll(OPENING)) start = match.index;
  if (start === -1) return null;
  const opening = body.slice(start).match(/^<!--\s*autoloop:state/)![0];
  const end = body.indexOf('-->', start + opening.length);
  if (end === -1) throw new StateError('the autoloop state marker is not closed (the pull request body was cut or edited)');
  const content = CONTENT.exec(body.slice(start + opening.length, end));
  if (!content) throw new StateError('the autoloop state marker is malformed: expected `v<version> <base64url>`');
  if (Number(content[1]) !== STATE_VERSION) {
    throw new StateError(`the autoloop state is version ${content[1]}, this App reads version ${STATE_VERSION}`);
  }
  let json: unknown;
  try {
    // base64url decoding never throws (it skips what it cannot read); the checks above ensured there is none.
    json = JSON.parse(inflateRawSync(Buffer.from(content[2]!, 'base64url'), { maxOutputLength: MAX_STATE_BYTES }).toString('utf8'));
  } catch (error) {
    throw new StateError(`the autoloop state cannot be decoded: ${(error as Error).message}`);
  }
  const parsed = appRunStateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the state';
    throw new StateError(`the autoloop state is invalid: ${where}: ${issue.message}`);
  }
  return parsed.data;
}
