/**
 * Hostile input to the App, end to end (through Probot, against the fake GitHub): drive-by commands that would
 * hold up a real run, redeliveries that would answer twice, a result zip that inflates one blob once per entry,
 * and proposer text that would link, ping, close issues or outgrow GitHub's limits. Each attack, then the safe outcome.
 */
import { crc32, deflateRawSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeState } from '../../src/core/app/state-codec.js';
import { ARTIFACTS, RESULT_FILE } from '../../src/core/protocol/protocol.js';
import { readZip } from '../../src/core/protocol/zip.js';
import { APP_BOT } from '../fixtures/api/github/model.js';
import type { FakeGitHub } from '../fixtures/api/github/server.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { ISSUE, MAINTAINER, SAMPLES } from '../fixtures/drivers/scenario.js';
import { commentPayload } from '../fixtures/events/payloads.js';

const RUN_BRANCH = `autoloop/${ISSUE}/run`;

let fake: FakeGitHub;
let app: AppHarness;

beforeEach(async () => {
  ({ fake, app } = await AppHarness.started());
});

afterEach(() => fake.stopChecked());

const botComments = () => fake.commentsOn(ISSUE).filter((c) => c.user.login === APP_BOT);
const isGate = (r: { method: string; path: string }) => r.method !== 'GET' && /\/check-runs(\/\d+)?$/.test(r.path);

/** A comment's payload from `user` with the payload's `association`, the comment in the fake (not delivered). */
function drivenBy(user: string, association: string, body: string, id: number, isPrivate = false) {
  const payload = commentPayload(fake, body, { user, id });
  (payload.comment as Record<string, unknown>).author_association = association;
  (payload.repository as Record<string, unknown>).private = isPrivate;
  fake.addComment(ISSUE, body, { login: user, type: 'User' }, id);
  return payload;
}

/** The writes GitHub receives before the App's first gate write: the throttled work a real gate waits behind. */
function writesBeforeGate(): string[] {
  const requests = fake.requests();
  const gate = requests.findIndex(isGate);
  expect(gate).toBeGreaterThanOrEqual(0);
  return requests
    .slice(0, gate)
    .filter((r) => r.method !== 'GET' && !r.path.endsWith('/access_tokens'))
    .map((r) => `${r.method} ${r.path}`);
}

describe('a flood of drive-by /optimize comments', () => {
  it('does not queue ahead of a real evaluation: no refusal for non-collaborators of a public repository, nothing ahead of the gate', async () => {
    await app.comment('/optimize', { user: MAINTAINER });
    await app.propose(1);
    fake.clearRequests();
    const flood = Array.from({ length: 6 }, (_, i) => drivenBy(`drive-by-${i}`, 'NONE', `/optimize ${i + 1}`, 4_200_000 + i));
    // All at once, the comments first, as GitHub would deliver them while the evaluation completes.
    await Promise.all([...flood.map((payload) => app.receive('issue_comment', payload)), app.evaluateExperiment(1, { samples: SAMPLES.improved })]);

    // Nothing of the flood is ahead of the gate in GitHub's (throttled) write queue.
    expect(writesBeforeGate().filter((w) => w.endsWith(`/issues/${ISSUE}/comments`))).toStrictEqual([]);
    expect(botComments().filter((c) => /only people with write/.test(c.body))).toStrictEqual([]);
    // The drive-bys cost one permission read each, nothing else.
    const theirs = fake.requests().filter((r) => /\/collaborators\/drive-by-\d\/permission$/.test(r.path));
    expect(theirs).toHaveLength(6);
    expect(decodeState(fake.pullByHead(RUN_BRANCH)!.body)!.experiments[0]!.state).toBe('kept');
  });

  it('refuses a collaborator without write access once per issue, however often they ask', async () => {
    fake.permissions.set('reader', 'read');
    for (let i = 0; i < 5; i++) await app.receive('issue_comment', drivenBy('reader', 'COLLABORATOR', '/optimize', 4_300_000 + i, true));
    expect(botComments().map((c) => c.body)).toStrictEqual([expect.stringContaining('reader has `read` permission')]);
    expect(fake.refs.has(RUN_BRANCH)).toBe(false);
  });
});

describe('redelivered comments', () => {
  it('answers a redelivered /optimize status once', async () => {
    const payload = await app.comment('/optimize status', { user: MAINTAINER, id: 4_400_001 });
    const { id } = app.lastDelivery();
    await app.receive('issue_comment', payload, id);
    expect(botComments()).toHaveLength(1);
    expect(fake.reactions).toHaveLength(1);
  });

  it('refuses a redelivered command once', async () => {
    fake.permissions.set('reader', 'read');
    const payload = drivenBy('reader', 'COLLABORATOR', '/optimize', 4_400_002, true);
    await app.receive('issue_comment', payload, 'delivery-refused');
    await app.receive('issue_comment', payload, 'delivery-refused');
    expect(botComments()).toHaveLength(1);
  });
});

/** A zip of one deflated blob of `size` zero bytes, with `entries` central-directory entries all pointing at it. */
function sharedEntryZip(entries: number, size: number, wanted: string): Buffer {
  const content = Buffer.alloc(size);
  const data = deflateRawSync(content, { level: 9 });
  const crc = crc32(content);
  const local = Buffer.alloc(30 + 1);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(1, 26);
  local.write('x', 30);
  const central = Array.from({ length: entries }, (_, i) => {
    const name = Buffer.from(i === entries - 1 ? wanted : `log-${i}.txt`);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(8, 10);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(data.length, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(0, 42);
    return Buffer.concat([header, name]);
  });
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries, 8);
  end.writeUInt16LE(entries, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(local.length + data.length, 16);
  return Buffer.concat([local, data, directory, end]);
}

describe('a result zip whose entries share one deflated blob', () => {
  it('is refused without inflating the blob once per entry', () => {
    const bomb = sharedEntryZip(18, 32 * 1024 * 1024, RESULT_FILE);
    expect(bomb.length).toBeLessThan(40 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => readZip(bomb).get(RESULT_FILE)).toThrow(/overlaps/);
    // Nothing was inflated: far less than one 32 MiB entry, let alone 18 of them.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('leaves the experiment invalid, not the App stalled', async () => {
    await app.comment('/optimize', { user: MAINTAINER });
    await app.propose(1);
    const addArtifact = fake.addArtifact.bind(fake);
    fake.addArtifact = (runId, name, files) => {
      const id = addArtifact(runId, name, files);
      // The evaluation uploads the bomb as its result artifact (the fake's own zip, written later, is ignored).
      const bomb = sharedEntryZip(18, 32 * 1024 * 1024, RESULT_FILE);
      if (name === ARTIFACTS.result) Object.defineProperty(fake.artifacts.get(runId)!.find((a) => a.id === id)!, 'zip', { get: () => bomb, set: () => undefined });
      return id;
    };
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    const experiment = decodeState(fake.pullByHead(RUN_BRANCH)!.body)!.experiments[0]!;
    expect(experiment.state).toBe('invalid');
    expect(experiment.reason).toMatch(/the result artifact is unreadable/);
  });
});

describe('proposer text', () => {
  const HOSTILE = 'Fixes #1, closes octo/model#2 and resolves GH-3: see [docs](https://evil.example) ![x](https://evil.example/p.png) www.evil.example @mona <b>hi</b> &#64;team';

  /** Proposer text still live in `markdown`: a closing keyword with a reference, a link, an image, a mention, a tag. */
  function live(markdown: string): string[] {
    return [
      ...(markdown.match(/\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+(?:[\w.-]+\/[\w.-]+)?(?:#\d|GH-\d)/gi) ?? []),
      ...(markdown.match(/\]\((?:https?:)?\/\/evil/g) ?? []),
      ...(markdown.match(/(?<![\w.])(?:https?:\/\/|www\.)evil/g) ?? []),
      ...(markdown.match(/@mona|@team|&#64;team/g) ?? []),
      ...(markdown.match(/<b>/g) ?? []),
    ];
  }

  it('is inert in the experiment pull request, the dashboard and the proposal commit', async () => {
    await app.comment('/optimize', { user: MAINTAINER });
    await app.propose(1, { hypothesis: HOSTILE });
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`)!;
    // A title is plain text (a tag shows as typed), but references, mentions and keywords are read there too.
    expect(live(exp1.title).filter((match) => match !== '<b>')).toStrictEqual([]);
    expect(live(exp1.body)).toStrictEqual([]);
    expect(exp1.body).toContain('docs');
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    expect(live(fake.pullByHead(RUN_BRANCH)!.body)).toStrictEqual([]);
    for (const comment of botComments()) expect(live(comment.body)).toStrictEqual([]);
    for (const comment of fake.commentsOn(exp1.number)) expect(live(comment.body)).toStrictEqual([]);
  });

  it('of 52 KB does not wedge the run: the experiment is opened within GitHub\'s limits and judged', async () => {
    await app.comment('/optimize', { user: MAINTAINER });
    // Pushed by hand (or by a hostile workflow) to exp-1: the commit message is not the action's.
    const commit = fake.commit.bind(fake);
    fake.commit = (parent, files, message = 'commit') => commit(parent, files, message.includes('autoloop experiment 1') ? `try ${'x'.repeat(52_000)}\n\nFixes #1` : message);
    await app.propose(1);
    const exp1 = fake.pullByHead(`autoloop/${ISSUE}/exp-1`);
    expect(exp1).toBeDefined();
    expect(exp1!.title.length).toBeLessThanOrEqual(256);
    expect(exp1!.body.length).toBeLessThan(4_000);
    expect(decodeState(fake.pullByHead(RUN_BRANCH)!.body)!.experiments[0]).toMatchObject({ state: 'evaluating' });
    await app.evaluateExperiment(1, { samples: SAMPLES.improved });
    const run = fake.pullByHead(RUN_BRANCH)!;
    expect(run.body.length).toBeLessThanOrEqual(65_536);
    expect(decodeState(run.body)!.experiments.map((e) => e.state)).toStrictEqual(['kept', 'proposing']);
  });
});
