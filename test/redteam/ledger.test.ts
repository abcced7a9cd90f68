/**
 * Red team, the books: gains that add up past `suspicious_effect` one modest step at a time (local loop and
 * App), and a finished ledger altered and re-chained end to end (every `prev` recomputed), which the hash
 * chain alone cannot tell from the original. The steps are held for a human; the re-chained ledger fails
 * `autoloop verify` (exit 5) by the ledger heads the kept commits on the run branch recorded.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeState } from '../../src/core/app/state-codec.js';
import { ledgerTrailerOf } from '../../src/core/ledger/kept-commit.js';
import { ledgerEntries, serializeLedger, verifyLedger } from '../../src/core/ledger/ledger.js';
import type { UnchainedRecord } from '../../src/core/ledger/records.js';
import { LABELS } from '../../src/core/protocol/protocol.js';
import type { Proposer } from '../../src/core/propose/proposer.js';
import { runLoop, type RunResult } from '../../src/engine/loop.js';
import { createProposer } from '../../src/proposers/index.js';
import type { FakeGitHub } from '../fixtures/api/github/server.js';
import { runCli } from '../fixtures/drivers/cli.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { ISSUE } from '../fixtures/drivers/scenario.js';
import { gitSync, makeQuadraticRepo, makeRepo } from '../fixtures/local/repo.js';

describe('red team: suspicious_effect walked past in steps of −40%', () => {
  /** The metric is whatever value.json says: a proposer "improves" it by 40% a step, each step below the 50% limit. */
  const repo = () =>
    makeRepo({
      'eval.mjs': "import { readFileSync } from 'node:fs';\nconsole.log('METRIC loss=' + JSON.parse(readFileSync('value.json', 'utf8')).loss);\n",
      'value.json': '{ "loss": 1 }\n',
      '.github/autoloop.yml': `metric: { name: loss, goal: minimize, min_effect: 1%, suspicious_effect: 50% }
evaluate: { command: node eval.mjs, timeout: 20s }
scope: { edit: [value.json], protect: [eval.mjs] }
proposer: { kind: tune, tune: { file: value.json, params: { loss: { min: 0, max: 1 } } } }
budget: { experiments: 3 }
`,
    });
  const fortyPercentOff: Proposer = {
    kind: 'scripted',
    async propose({ worktree, experiment }) {
      const file = join(worktree, 'value.json');
      const loss = (JSON.parse(await readFile(file, 'utf8')) as { loss: number }).loss;
      await writeFile(file, `${JSON.stringify({ loss: Math.round(loss * 0.6 * 1e6) / 1e6 })}\n`);
      return { hypothesis: `step ${experiment}: 40% off`, notes: {} };
    },
  };

  it('keeps the first step, and holds every later one whose gain against the run base is beyond the limit', async () => {
    const result = await runLoop({ proposer: fortyPercentOff, cwd: repo(), tag: 'steps' });
    const [, first, second, third] = result.experiments;
    expect(first).toMatchObject({ status: 'keep', metric: 0.6 });
    expect(first!.judgement!.deltaRelative).toBeCloseTo(-0.4, 10);
    for (const held of [second!, third!]) {
      // Each one only −40% against its parent, the best so far (0.6) ...
      expect(held.judgement!.deltaRelative).toBeCloseTo(-0.4, 10);
      // ... but −64% against the run's base: not kept, and the reason says so.
      expect(held).toMatchObject({ status: 'discard', keptCommit: null, best: 0.6 });
      expect(held.judgement).toMatchObject({ verdict: 'improved', suspicious: true, keep: false });
      expect(held.reason).toContain("gain beyond suspicious_effect against the run's base (−64%: 1 → 0.36, more than 50%)");
    }
    expect(result.experiments.filter((e) => e.status === 'keep')).toHaveLength(2);
    expect(gitSync(result.paths.dir, 'rev-parse', result.run.branch)).toBe(first!.keptCommit);
    expect(readFileSync(result.paths.report, 'utf8')).toContain('⚠ suspicious');
  });

  it('keeps them all with --accept-suspicious, as for a suspicious step', async () => {
    const result = await runLoop({ proposer: fortyPercentOff, cwd: repo(), tag: 'accepted', acceptSuspicious: true });
    expect(result.experiments.map((e) => [e.status, e.metric])).toEqual([
      ['keep', 1],
      ['keep', 0.6],
      ['keep', 0.36],
      ['keep', 0.216],
    ]);
    // Still marked, so every output shows a human accepted it.
    expect(result.experiments[3]!.judgement!.suspicious).toBe(true);
    expect(result.experiments[3]!.reason).toContain("against the run's base (−78.4%: 1 → 0.216");
  });

  describe('in an App run', () => {
    let fake: FakeGitHub;
    let app: AppHarness;
    beforeEach(async () => {
      ({ fake, app } = await AppHarness.started());
    });
    afterEach(() => fake.stopChecked());

    it('merges the first −40% step and leaves the second for a human: gate neutral, labelled, not merged', async () => {
      await app.comment('/optimize lower the loss');
      await app.propose(1);
      await app.evaluateExperiment(1, { samples: { baseline: [1, 1.02, 0.98], candidate: [0.6, 0.61, 0.59] } });
      await app.flush();
      const runHead = fake.refs.get(`autoloop/${ISSUE}/run`)!;
      await app.propose(2);
      const exp2 = fake.pullByHead(`autoloop/${ISSUE}/exp-2`)!;
      await app.evaluateExperiment(2, { samples: { baseline: [0.6, 0.61, 0.59], candidate: [0.36, 0.37, 0.35] } });

      const state = decodeState(fake.pullByHead(`autoloop/${ISSUE}/run`)!.body)!;
      expect(state.experiments.map((e) => [e.k, e.state])).toEqual([
        [1, 'kept'],
        [2, 'needs-review'],
        [3, 'proposing'],
      ]);
      expect(state.experiments[1]!.reason).toContain("gain beyond suspicious_effect against the run's base (−64%: 1 → 0.36, more than 50%)");
      expect(fake.pull(exp2.number)).toMatchObject({ state: 'open', merged: false, labels: expect.arrayContaining([LABELS.review]) });
      expect(fake.refs.get(`autoloop/${ISSUE}/run`)).toBe(runHead);
      expect(fake.checkRunsFor(exp2.head.sha).map((c) => [c.conclusion, c.output.title])).toEqual([['neutral', expect.stringContaining('suspicious: needs review')]]);
    });
  });
});

/** The records of a ledger, without their links. */
function recordsOf(text: string): UnchainedRecord[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const { prev: _prev, ...record } = JSON.parse(line) as UnchainedRecord & { prev: string };
      return record as UnchainedRecord;
    });
}

/** What an attacker with the ledger file in reach does: change records, then recompute every `prev`. The chain then holds. */
function rechain(result: RunResult, change: (records: UnchainedRecord[]) => UnchainedRecord[]): void {
  const text = serializeLedger(change(recordsOf(readFileSync(result.paths.ledger, 'utf8'))));
  expect(verifyLedger(text, 'ledger.jsonl').ok).toBe(true);
  writeFileSync(result.paths.ledger, text);
}

const experiment = (k: number, edit: (r: Extract<UnchainedRecord, { type: 'experiment' }>) => UnchainedRecord) => (records: UnchainedRecord[]) =>
  records.map((r) => (r.type === 'experiment' && r.experiment === k ? edit(r) : r));

describe('red team: a finished ledger re-chained end to end', () => {
  let repo: string;
  let result: RunResult;
  let kept: number[];
  let finished: string;
  // One run for all the attacks: each test alters only the ledger file, which is put back as the run left it.
  beforeAll(async () => {
    repo = makeQuadraticRepo('{ experiments: 6 }', {}, 6);
    result = await runLoop({ proposer: createProposer, cwd: repo, tag: 'books' });
    kept = result.experiments.filter((e) => e.experiment > 0 && e.status === 'keep').map((e) => e.experiment);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    finished = readFileSync(result.paths.ledger, 'utf8');
  });
  afterEach(() => writeFileSync(result.paths.ledger, finished));

  it('writes each kept commit with the ledger head before its record, and verify says the commits match', async () => {
    const entries = ledgerEntries(readFileSync(result.paths.ledger, 'utf8'));
    for (const k of kept) {
      const record = result.experiments[k]!;
      const entry = entries.find((e) => e.record?.type === 'experiment' && e.record.experiment === k)!;
      expect(ledgerTrailerOf(gitSync(repo, 'log', '-1', '--format=%B', record.keptCommit!))).toBe(entry.prev);
    }
    const verify = await runCli(['verify', '--tag', 'books'], repo);
    expect(verify.code, verify.stdout).toBe(0);
    // The run record, experiments 0–6, the confirmation and the stop record.
    expect(verify.stdout).toMatch(/^\.autoloop\/books\/ledger\.jsonl: hash chain intact, 10 records, head [0-9a-f]{64}\n/);
    expect(verify.stdout).toContain(`Kept commits: ${kept.length} on autoloop/books/run recorded the ledger's head (Autoloop-Ledger trailer), and it matches.`);
  });

  it('fails a better-looking baseline (experiment 0 edited), naming the first kept experiment', async () => {
    rechain(result, experiment(0, (r) => ({ ...r, metric: 20, best: 20 })));
    const verify = await runCli(['verify', '--tag', 'books'], repo);
    expect(verify.code).toBe(5);
    expect(verify.stdout).toContain(`experiment ${kept[0]}'s kept commit`);
    expect(verify.stdout).toMatch(/recorded the ledger's head as [0-9a-f]{12}…, but the ledger before line \d+ \(experiment \d+\) now hashes to [0-9a-f]{12}…: lines 1–\d+ changed and the hash chain was rebuilt/);
    expect(verify.stdout).toContain('(rechained)');
    const json = await runCli(['verify', '--tag', 'books', '--json'], repo);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, kind: 'rechained', experiment: kept[0] });
  });

  it('fails an experiment between two kept ones rewritten, naming the later kept one', async () => {
    const between = result.experiments.find((e) => e.experiment > kept[0]! && e.experiment < kept.at(-1)! && e.status !== 'keep');
    expect(between, 'the run has an experiment that was not kept between two kept ones').toBeDefined();
    const target = between!.experiment;
    rechain(result, experiment(target, (r) => ({ ...r, description: 'nothing to see here', reason: null })));
    const verify = await runCli(['verify', '--tag', 'books', '--json'], repo);
    expect(verify.code).toBe(5);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: false, kind: 'rechained', experiment: kept.find((k) => k > target) });
  });

  it("fails the last kept experiment's figures improved, which no later trailer covers", async () => {
    const last = kept.at(-1)!;
    rechain(result, experiment(last, (r) => ({ ...r, metric: 0.5, best: 0.5, judgement: { ...r.judgement!, candidate: { mean: 0.5, samples: [0.5] } } })));
    const verify = await runCli(['verify', '--tag', 'books'], repo);
    expect(verify.code).toBe(5);
    expect(verify.stdout).toContain(`(experiment ${last}) no longer says what its kept commit`);
    // report --verify refuses it too; report alone warns.
    expect((await runCli(['report', '--tag', 'books', '--verify'], repo)).code).toBe(5);
    expect((await runCli(['report', '--tag', 'books'], repo)).stderr).toContain('Warning:');
  });

  it('fails the last kept experiment cut off with everything after it', async () => {
    const last = kept.at(-1)!;
    rechain(result, (records) => records.filter((r) => r.type === 'run' || (r.type === 'experiment' && r.experiment < last)));
    const verify = await runCli(['verify', '--tag', 'books', '--json'], repo);
    expect(verify.code).toBe(5);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: false, kind: 'rechained', problem: expect.stringContaining(`the kept commit of experiment ${last}, but no record of the ledger names it`) });
  });

  it('fails a discarded experiment turned into a kept one, pointed at its measured candidate commit', async () => {
    const discarded = result.experiments.find((e) => e.status === 'discard')!;
    rechain(result, experiment(discarded.experiment, (r) => ({ ...r, status: 'keep', keptCommit: r.candidateCommit, bestCommit: r.candidateCommit!, best: r.metric })));
    const verify = await runCli(['verify', '--tag', 'books', '--json'], repo);
    expect(verify.code).toBe(5);
    // The candidate commit exists, but autoloop never put it on the run branch.
    expect(JSON.parse(verify.stdout)).toMatchObject({
      ok: false,
      kind: 'rechained',
      experiment: discarded.experiment,
      problem: expect.stringContaining('a commit that is not on autoloop/books/run'),
    });
  });

  it('refuses to resume on a re-chained ledger: the kept commits say otherwise, and nothing is appended', async () => {
    rechain(result, experiment(0, (r) => ({ ...r, metric: 20, best: 20 })));
    const before = readFileSync(result.paths.ledger, 'utf8');
    await expect(runLoop({ proposer: createProposer, cwd: repo, tag: 'books', resume: true, experiments: 8 })).rejects.toMatchObject({
      name: 'LedgerTamperedError',
      exitCode: 5,
      message: expect.stringContaining(`experiment ${kept[0]}'s kept commit`),
    });
    const cli = await runCli(['run', '--resume', '--tag', 'books', '--experiments', '8'], repo);
    expect(cli.code).toBe(5);
    expect(readFileSync(result.paths.ledger, 'utf8')).toBe(before);
  });
});
