/**
 * `autoloop sentinel` on a real repository with real merges: a regression planted three merges back is detected in
 * the history, confirmed by a fresh paired measurement and bisected across the first-parent merges to its commit; a
 * new machine that shifts the numbers starts a new segment instead of raising an alarm.
 */
import { describe, expect, it } from 'vitest';
import { fingerprintOf, planReference, SENTINEL_BRANCH } from '../../../src/core/sentinel/history.js';
import { environmentFingerprint } from '../../../src/engine/fingerprint.js';
import { appendSentinelRecords, readSentinelHistory } from '../../../src/engine/sentinel/history-store.js';
import { measurement } from '../../core/sentinel/records.js';
import { runSentinel, type SentinelOptions } from '../../../src/engine/sentinel/sentinel.js';
import { runCli } from '../../fixtures/drivers/cli.js';
import { gitSync, makeRepo, writeFiles } from '../../fixtures/local/repo.js';

/**
 * A deterministic evaluator: the latency is the cost in cost.json, 30% more on the "new" machine when the code has the
 * feature (feature.txt), which the old machine runs at full speed.
 */
const EVAL = `import { existsSync, readFileSync } from 'node:fs';
const { cost } = JSON.parse(readFileSync('cost.json', 'utf8'));
const slow = process.env.SENTINEL_MACHINE === 'new' && existsSync('feature.txt') ? 1.3 : 1;
console.log('METRIC latency=' + cost * slow);
`;

const CONFIG = `metric: { name: latency, goal: minimize }
evaluate: { command: node eval.mjs, timeout: 20s, repeats: 2, env: [SENTINEL_MACHINE] }
scope: { edit: [cost.json], protect: [eval.mjs] }
proposer: { kind: tune, tune: { file: cost.json, params: { cost: { min: 1, max: 1000 } } } }
`;

function sentinelRepo(): string {
  return makeRepo({ 'eval.mjs': EVAL, 'cost.json': '{ "cost": 100 }\n', '.github/autoloop.yml': CONFIG });
}

/** Merges a feature branch that writes `files` into main with a merge commit, as a pull request would; returns main's head. */
function merge(repo: string, name: string, files: Record<string, string>): string {
  gitSync(repo, 'checkout', '--quiet', '-b', name, 'main');
  writeFiles(repo, files);
  gitSync(repo, 'add', '--all');
  gitSync(repo, 'commit', '--quiet', '-m', `${name}: change`);
  gitSync(repo, 'checkout', '--quiet', 'main');
  gitSync(repo, 'merge', '--quiet', '--no-ff', '-m', `Merge ${name}`, name);
  return gitSync(repo, 'rev-parse', 'HEAD');
}

let night = 0;
/** One nightly check, a day after the last. */
function nightly(repo: string, options: Partial<SentinelOptions> = {}) {
  const at = new Date(Date.UTC(2025, 4, 1) + ++night * 86_400_000);
  return runSentinel({ cwd: repo, now: () => at, ...options });
}

describe('autoloop sentinel', () => {
  it('names a regression merged three merges back, with its measured effect', async () => {
    const repo = sentinelRepo();
    const m1 = merge(repo, 'docs', { 'docs.md': 'docs\n' });
    const first = await nightly(repo);
    expect(first.newReference).toMatchObject({ reason: 'first', reference: m1 });
    expect(first.measurement).toMatchObject({ commit: m1, reference: m1, deltaRelative: 0, metric: 'latency', goal: 'minimize' });
    merge(repo, 'refactor', { 'lib.txt': 'refactored\n' });
    await nightly(repo);
    const m3 = merge(repo, 'tidy', { 'lib.txt': 'tidied\n' });
    await nightly(repo);
    // One day, three merges: the middle one makes everything 10% slower.
    const m4 = merge(repo, 'slow-path', { 'cost.json': '{ "cost": 110 }\n' });
    merge(repo, 'readme', { 'README.md': 'readme\n' });
    const m6 = merge(repo, 'lint', { 'lib.txt': 'linted\n' });
    const fourth = await nightly(repo);
    expect(fourth.measurement.deltaRelative).toBeCloseTo(0.1, 12);
    // One night after the change is not enough for a change point.
    expect(fourth.findings).toEqual([]);
    expect(fourth.detection.changePoints).toEqual([]);

    const status = gitSync(repo, 'status', '--porcelain');
    const cli = await runCli(['sentinel'], repo);
    expect(cli.code, cli.stderr).toBe(4);
    expect(cli.stdout).toMatch(/Change point at measurement 4 \(\w{7} → \w{7}\): regression \+10%/);
    expect(cli.stdout).toContain(`Culprit: ${m4.slice(0, 7)} "Merge slow-path": +10% against its parent ${m3.slice(0, 7)}`);
    expect(gitSync(repo, 'status', '--porcelain')).toBe(status);

    const history = await readSentinelHistory(repo);
    expect(history.records.map((r) => r.type)).toEqual(['reference', 'measurement', 'measurement', 'measurement', 'measurement', 'measurement', 'finding']);
    const finding = history.records.at(-1)!;
    if (finding.type !== 'finding') throw new Error('expected a finding');
    expect(finding.changePoint).toMatchObject({ index: 3, direction: 'regression', before: m3, after: m6 });
    expect(finding.confirmation).toMatchObject({ commit: m6, against: m1, answer: 'different', effect: 0.1 });
    // Bisected over the first-parent merges m1..m6 (feature branch commits are not stepped on), each against m1.
    expect(finding.steps.map((s) => [s.commit, s.against, s.answer])).toEqual([
      [m3, m1, 'same'],
      [m4, m1, 'different'],
    ]);
    expect(finding.culprit).toMatchObject({ commit: m4, subject: 'Merge slow-path', probe: { commit: m4, against: m3, answer: 'different', effect: 0.1 } });

    // The next night the same regression is known: no new alarm, nothing measured again.
    const after = await runCli(['sentinel'], repo);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain('No new change point (1 earlier one already investigated).');
  }, 60_000);

  it('starts a new segment when the machine changes, and raises no alarm however the numbers shift', async () => {
    const repo = sentinelRepo();
    const initial = gitSync(repo, 'rev-parse', 'HEAD');
    await nightly(repo);
    merge(repo, 'feature', { 'feature.txt': 'feature\n' });
    await nightly(repo);
    merge(repo, 'docs', { 'docs.md': 'docs\n' });
    const third = await nightly(repo);
    expect(third.measurement).toMatchObject({ reference: initial, deltaRelative: 0 });

    const machine = { ...environmentFingerprint(), cpuModel: 'Next-gen runner CPU' };
    process.env.SENTINEL_MACHINE = 'new';
    try {
      const fourth = await nightly(repo, { environment: machine });
      expect(fourth.newReference).toMatchObject({ type: 'reference', reason: 'environment', reference: initial, changed: ['cpuModel'] });
      expect(fourth.measurement.deltaRelative).toBeCloseTo(0.3, 12);
      const fifth = await nightly(repo, { environment: machine });
      expect(fifth.measurement.deltaRelative).toBeCloseTo(0.3, 12);
      expect(fifth.detection.segments.map((s) => [s.start, s.end, s.reason])).toEqual([
        [0, 3, 'first'],
        [3, 5, 'environment'],
      ]);
      expect(fifth.detection.changePoints).toEqual([]);
      expect(fifth.findings).toEqual([]);
    } finally {
      delete process.env.SENTINEL_MACHINE;
    }
    const history = await readSentinelHistory(repo);
    expect(history.records.filter((r) => r.type === 'reference').map((r) => r.type === 'reference' && r.reason)).toEqual(['first', 'environment']);
    expect(gitSync(repo, 'rev-list', '--count', SENTINEL_BRANCH)).toBe('5');
  }, 60_000);

  it('dismisses a change point the fresh measurement does not confirm, and one with no commit in between', async () => {
    const environment = environmentFingerprint();
    /** A history where the numbers jumped by 20% between measurements of `before` and of `after` (a noisy machine, say). */
    const seeded = async (repo: string, before: string, after: string) => {
      const on = (commit: string, delta: number, n: number) =>
        measurement(n, delta, { commit, reference: before, environment, fingerprint: fingerprintOf(environment), metric: 'latency' });
      await appendSentinelRecords(repo, [
        planReference([], environment, before, new Date(Date.UTC(2025, 4, 1)))!,
        ...[0, 0, 0, 0].map((delta, n) => on(before, delta, n)),
        ...[0.2, 0.2, 0.2, 0.2].map((delta, n) => on(after, delta, n + 4)),
      ]);
    };
    // A lenient detector, so that the jump back to 0 tonight leaves the earlier jump a change point.
    const detector = { maxPValue: 0.05 };

    const repo = sentinelRepo();
    const m1 = merge(repo, 'docs', { 'docs.md': 'docs\n' });
    const m2 = merge(repo, 'more-docs', { 'docs.md': 'more docs\n' });
    await seeded(repo, m1, m2);
    const checked = await nightly(repo, { detector });
    expect(checked.measurement).toMatchObject({ commit: m2, deltaRelative: 0 });
    expect(checked.findings).toHaveLength(1);
    expect(checked.findings[0]).toMatchObject({
      changePoint: { index: 4, direction: 'regression', before: m1, after: m2 },
      confirmation: { commit: m2, against: m1, answer: 'same', effect: 0 },
      steps: [],
      culprit: null,
      reason: 'measured afresh, the commits either side do not differ by the change the history showed',
    });
    // Not raised again (the lenient detector now also sees the drop back, an improvement, which is its own finding).
    const again = await nightly(repo, { detector });
    expect(again.detection.changePoints.filter((p) => p.direction === 'regression').map((p) => [p.index, p.handled])).toEqual([[4, true]]);
    expect(again.findings.filter((f) => f.changePoint.direction === 'regression')).toEqual([]);

    const still = sentinelRepo();
    const only = gitSync(still, 'rev-parse', 'HEAD');
    await seeded(still, only, only);
    const same = await nightly(still, { detector });
    expect(same.findings[0]).toMatchObject({ confirmation: { commit: only, against: only, answer: 'same', runsPerSide: 0 }, culprit: null });
    expect(same.findings[0]!.reason).toMatch(/^no commit changed between the measurements either side/);
  }, 60_000);

  it('prints its own help, refuses bad usage, and says what to do outside a repository', async () => {
    const repo = sentinelRepo();
    for (const args of [['sentinel', '--help'], ['help', 'sentinel']]) {
      const help = await runCli(args, repo);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: autoloop sentinel /);
      for (const option of ['--config PATH', '--head REF', '--reference REF', '--repeats N', '--json']) expect(help.stdout).toContain(option);
    }
    expect((await runCli(['--help'], repo)).stdout).toMatch(/^ {2}sentinel +\S/m);
    const bad = await runCli(['sentinel', '--repeats', '0'], repo);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('--repeats expects a whole number of at least 1, got "0"')]);
    expect((await runCli(['sentinel', '--frobnicate'], repo)).code).toBe(2);
    const missing = await runCli(['sentinel', '--reference', 'no-such-ref'], repo);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('--reference "no-such-ref" is not a commit in')]);
    const controller = new AbortController();
    controller.abort();
    const interrupted = await runCli(['sentinel'], repo, controller.signal);
    expect([interrupted.code, interrupted.stderr]).toEqual([130, expect.stringContaining('interrupted; the history holds what was recorded before')]);
    // Nothing was written by the refused or interrupted checks.
    expect(() => gitSync(repo, 'rev-parse', '--verify', '--quiet', `refs/heads/${SENTINEL_BRANCH}`)).toThrow();

    const first = await runCli(['sentinel', '--json'], repo);
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({
      head: gitSync(repo, 'rev-parse', 'HEAD'),
      newReference: { reason: 'first' },
      measurement: { deltaRelative: 0, verdict: 'no-change' },
      findings: [],
      detection: { changePoints: [], segments: [{ start: 0, end: 1, reason: 'first' }] },
      historyCommit: gitSync(repo, 'rev-parse', SENTINEL_BRANCH),
    });
  });
});
