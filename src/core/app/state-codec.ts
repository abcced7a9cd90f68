/**
 * The App's run state as a hidden HTML comment at the end of the run pull request's body, so the App
 * keeps no database: `<!-- autoloop:state v1 <payload> <mac> -->`. The payload is base64url, which has no
 * character that could end the comment or be read as Markdown, whatever the state's texts hold. Anyone who
 * may edit the pull request may edit the body, so the App signs the marker ({@link sealState}) and acts
 * only on a state whose signature it can verify ({@link openState}).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { appRunStateSchema, clampBudget, STATE_VERSION, type AppRunState } from './state.js';
import { STATE_MARKER_PREFIX } from '../protocol/protocol.js';
import { AutoloopError } from '../errors.js';

/** The state could not be read although its marker is there: the App says so rather than start over. */
export class StateError extends AutoloopError {
  override readonly name: string = 'StateError';
}

/**
 * The App's state was altered: its marker carries no signature, or one that does not verify for this repository and
 * pull request. The App refuses to act on it.
 */
export class TamperedStateError extends StateError {
  override readonly name: string = 'TamperedStateError';
}

/** The key the App signs run states with: {@link deriveStateKey} of its secret. */
export type StateKey = Buffer & { readonly __stateKey: unique symbol };

/** Where a signed state belongs: the repository (`owner/name`) and the run pull request it is written into. */
export interface StateSeal {
  key: StateKey;
  repository: string;
  /** The run pull request's number; 0 for the first body, written before GitHub gave the pull request a number. */
  pullRequest: number;
}

/** What {@link deriveStateKey} derives with: a label of its own, so the key is used for nothing else. */
export const STATE_KEY_LABEL = 'autoloop:state-key:v1';

/**
 * The state-signing key from the App's webhook secret: HMAC-SHA256(secret, {@link STATE_KEY_LABEL}). The same value as
 * Probot's `app.webhooks.sign(STATE_KEY_LABEL)` (without its `sha256=` prefix), for a caller that holds no secret.
 */
export function deriveStateKey(secret: string): StateKey {
  if (secret.length === 0) throw new StateError('no secret to derive the state key from');
  return createHmac('sha256', secret).update(STATE_KEY_LABEL).digest() as StateKey;
}

/** The marker's signature: HMAC-SHA256 under the key of the version, the repository, the pull request and the payload. */
function mac(seal: StateSeal, version: string, payload: string): Buffer {
  return createHmac('sha256', seal.key).update(`autoloop:state\n${version}\n${seal.repository.toLowerCase()}\n${seal.pullRequest}\n${payload}`).digest();
}

function payloadOf(state: AppRunState): string {
  return deflateRawSync(Buffer.from(JSON.stringify(state), 'utf8'), { level: 9 }).toString('base64url');
}

/**
 * The hidden marker holding `state`, unsigned: `<!-- autoloop:state v1 <payload> -->`, one line. The payload is the
 * state's JSON, deflated (the JSON repeats its keys and URLs, so it shrinks several-fold, which matters
 * under GitHub's 65,536-character body limit) and base64url-encoded. Deterministic for a given state.
 * The App writes {@link sealState}: an unsigned marker is refused by {@link openState}.
 */
export function encodeState(state: AppRunState): string {
  return `${STATE_MARKER_PREFIX} v${STATE_VERSION} ${payloadOf(state)} -->`;
}

/** The marker of {@link encodeState} with its signature: `<!-- autoloop:state v1 <payload> <mac> -->` (43 more characters and a space). */
export function sealState(state: AppRunState, seal: StateSeal): string {
  const payload = payloadOf(state);
  return `${STATE_MARKER_PREFIX} v${STATE_VERSION} ${payload} ${mac(seal, String(STATE_VERSION), payload).toString('base64url')} -->`;
}

/** Inflating stops here: a hand-made marker must not expand into gigabytes (a body holds 65,536 characters). */
const MAX_STATE_BYTES = 16 * 2 ** 20;

/** The opening of a state marker, however spaced; global so the last one can be found. */
const OPENING = /<!--\s*autoloop:state\b/g;
const CONTENT = /^\s+v(\d+)\s+([A-Za-z0-9_-]+)(?:\s+([A-Za-z0-9_-]{43}))?\s*$/;

/** The last marker's parts: its version, payload and signature (null when it has none); null when there is no marker. */
function markerOf(body: string): { version: string; payload: string; signature: string | null } | null {
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
  return { version: content[1]!, payload: content[2]!, signature: content[3] ?? null };
}

/**
 * The state in a pull request body, UNVERIFIED (for tests and tools that read what the App wrote; the App itself reads
 * with {@link openState}): from the LAST state marker, since the App appends the real one at the end and text people
 * or proposers wrote can only come before it. Null when the body has no marker (not a run, or the state was removed).
 * Throws {@link StateError} when a marker is there but cannot be read: not closed, another version, not base64url, not
 * deflated JSON, or not a valid state.
 */
export function decodeState(body: string): AppRunState | null {
  const marker = markerOf(body);
  return marker === null ? null : decodePayload(marker.payload);
}

/**
 * The state in the body of run pull request `seal.pullRequest`, verified: its marker must carry the signature
 * {@link sealState} gives it for this repository and this pull request (or, for a state that names no pull request
 * yet, for the first body: pull request 0). Null when the body has no marker. Throws {@link TamperedStateError} when
 * the signature is missing or wrong (an edit, a state copied from another pull request or repository, or one written
 * before states were signed), {@link StateError} when it verifies but cannot be read. Budgets are re-clamped
 * ({@link clampBudget}).
 */
export function openState(body: string, seal: StateSeal): AppRunState | null {
  const marker = markerOf(body);
  if (marker === null) return null;
  if (marker.signature === null) throw new TamperedStateError('the autoloop state carries no signature: it was altered, or written before states were signed');
  const given = Buffer.from(marker.signature, 'base64url');
  const verifies = (pullRequest: number) => {
    const expected = mac({ ...seal, pullRequest }, marker.version, marker.payload);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const own = verifies(seal.pullRequest);
  if (!own && !verifies(0)) throw new TamperedStateError(`the autoloop state's signature does not verify for ${seal.repository}#${seal.pullRequest}: it was altered`);
  const state = decodePayload(marker.payload);
  // Signed before the pull request had a number: only a state that names none (the first body) may be read so.
  if (!own && state.pullRequest !== null) throw new TamperedStateError(`the autoloop state was signed for another pull request than ${seal.repository}#${seal.pullRequest}`);
  if (state.pullRequest !== null && state.pullRequest !== seal.pullRequest) throw new TamperedStateError(`the autoloop state names pull request #${state.pullRequest}, not #${seal.pullRequest}`);
  return clampBudget(state);
}

function decodePayload(payload: string): AppRunState {
  let json: unknown;
  try {
    // base64url decoding never throws (it skips what it cannot read); the checks above ensured there is none.
    json = JSON.parse(inflateRawSync(Buffer.from(payload, 'base64url'), { maxOutputLength: MAX_STATE_BYTES }).toString('utf8'));
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
