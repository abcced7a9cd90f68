import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResultDocument } from '../../src/core/result/result.js';
import { gitSync, makeQuadraticRepo } from '../fixtures/local/repo.js';
import { recordingArtifacts, runAction } from '../fixtures/drivers/runner.js';
import { pullRequestEvent } from '../fixtures/events/webhooks.js';

/** A repository with a base commit and a pull request head that changes `files`. */
async function pullRequest(files: Record<string, string>, budget?: string): Promise<{ repo: string; base: string; head: string }> {
  const repo = makeQuadraticRepo(budget);
  const base = gitSync(repo, 'rev-parse', 'HEAD');
  gitSync(repo, 'checkout', '--quiet', '-b', 'feature');
  for (const [path, content] of Object.entries(files)) await writeFile(join(repo, path), content);
  gitSync(repo, 'commit', '--quiet', '-am', 'candidate');
  return { repo, base, head: gitSync(repo, 'rev-parse', 'HEAD') };
}

describe('action, mode: evaluate', () => {
  it('measures the pull request head against its base and reports outputs, the result document and a summary', async () => {
    const { repo, base, head } = await pullRequest({ 'params.json': '{"x": 3, "y": 0}\n' });
    const artifacts = recordingArtifacts();
    const result = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, event: pullRequestEvent(base, head), dependencies: { artifacts } });

    expect(result.exitCode).toBe(0);
    expect(result.outputs).toMatchObject({ verdict: 'improved', metric: 'loss', baseline: '10.5', candidate: '1.5', delta: '-9', 'delta-percent': '-85.7143' });
    const document = parseResultDocument(JSON.parse(readFileSync(result.outputs['result-file']!, 'utf8')));
    expect(document).toMatchObject({ base, head, verdict: 'improved', status: 'keep', samples: { baseline: { loss: [10.5] }, candidate: { loss: [1.5] } } });
    expect(artifacts.uploads).toEqual([{ name: 'autoloop-result', files: [join(repo, 'autoloop-result.json')], root: repo }]);
    expect(result.summary).toContain('improved');
    expect(result.summary).toContain('https://github.com/octo-org/optimised/actions/runs/777/artifacts/4201');
    expect(result.commands.filter((c) => c.startsWith('::error'))).toEqual([]);
  });

  it('reads the config from the base commit, not from the checked-out tree', async () => {
    const repo = makeQuadraticRepo();
    const config = join(repo, '.github/autoloop.yml');
    const committed = readFileSync(config, 'utf8');
    // The base asks for a 50% gain.
    await writeFile(config, committed.replace('min_effect: 0.001', 'min_effect: 50%'));
    gitSync(repo, 'commit', '--quiet', '-am', 'strict base');
    const base = gitSync(repo, 'rev-parse', 'HEAD');
    await writeFile(join(repo, 'params.json'), '{"x": 0.5, "y": 0}\n');
    gitSync(repo, 'commit', '--quiet', '-am', 'candidate');
    const head = gitSync(repo, 'rev-parse', 'HEAD');
    // The checked-out tree says 0.001, as a pull request's own config would.
    await writeFile(config, committed);
    const result = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, event: pullRequestEvent(base, head), dependencies: { artifacts: recordingArtifacts() } });
    expect(result.outputs).toMatchObject({ baseline: '10.5', candidate: '7.75' });
    // −26% does not reach the base's 50%; the checked-out 0.001 would have called it improved.
    expect(result.outputs.verdict).toBe('no-change');
  });

  it('ends a pull request touching a protected path with one error and no verdict', async () => {
    const { repo, base, head } = await pullRequest({ 'eval.mjs': 'console.log("METRIC loss=0")\n' });
    const result = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, event: pullRequestEvent(base, head), dependencies: { artifacts: recordingArtifacts() } });
    expect(result.exitCode).toBe(1);
    const errors = result.commands.filter((c) => c.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('eval.mjs (modified) is protected by eval.mjs');
    expect(result.outputs.verdict).toBe('invalid');
    expect(result.outputs.baseline).toBeUndefined();
    const document = parseResultDocument(JSON.parse(readFileSync(result.outputs['result-file']!, 'utf8')));
    expect(document.samples.candidate.loss).toEqual([]);
    expect(document.runs).toEqual([]);
  });

  it('ends a broken config with one error annotation on its file and line, and writes no result', async () => {
    const { repo, base, head } = await pullRequest({ 'params.json': '{"x": 1, "y": 0}\n' });
    // Break the base's config: the base is what evaluate reads.
    gitSync(repo, 'checkout', '--quiet', base);
    await writeFile(join(repo, '.github/autoloop.yml'), 'metric: { name: loss, goal: minimise }\nevaluate: { command: node eval.mjs }\nscope: { edit: [params.json] }\n');
    gitSync(repo, 'commit', '--quiet', '-am', 'broken config');
    const brokenBase = gitSync(repo, 'rev-parse', 'HEAD');
    const result = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, event: pullRequestEvent(brokenBase, head), dependencies: { artifacts: recordingArtifacts() } });
    expect(result.exitCode).toBe(1);
    const errors = result.commands.filter((c) => c.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error title=autoloop%3A invalid config,file=.github\/autoloop.yml,line=1::invalid config: .*metric.goal/);
    expect(existsSync(join(repo, 'autoloop-result.json'))).toBe(false);
    expect(result.outputs).toEqual({});
  });

  it('says what to do when the base commit is not in the checkout', async () => {
    const { repo, head } = await pullRequest({ 'params.json': '{"x": 1, "y": 0}\n' });
    const result = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, event: pullRequestEvent('0123456789abcdef0123456789abcdef01234567', head), dependencies: { artifacts: recordingArtifacts() } });
    expect(result.exitCode).toBe(1);
    const errors = result.commands.filter((c) => c.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('is not a commit');
    expect(errors[0]).toContain('fetch-depth: 0');
    expect(existsSync(join(repo, 'autoloop-result.json'))).toBe(false);
  });

  it('reports an evaluator that times out on both sides as invalid, with one error and no verdict', async () => {
    const { repo, base } = await pullRequest({ 'params.json': '{"x": 1, "y": 0}\n' });
    gitSync(repo, 'checkout', '--quiet', base);
    const slow = readFileSync(join(repo, '.github/autoloop.yml'), 'utf8').replace('command: node eval.mjs, timeout: 20s', 'command: sleep 30, timeout: 300ms');
    await writeFile(join(repo, '.github/autoloop.yml'), slow);
    gitSync(repo, 'commit', '--quiet', '-am', 'slow evaluator');
    const slowBase = gitSync(repo, 'rev-parse', 'HEAD');
    gitSync(repo, 'checkout', '--quiet', 'feature');
    gitSync(repo, 'rebase', '--quiet', slowBase);
    const rebasedHead = gitSync(repo, 'rev-parse', 'HEAD');
    const result = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, event: pullRequestEvent(slowBase, rebasedHead), dependencies: { artifacts: recordingArtifacts() } });
    expect(result.exitCode).toBe(1);
    const errors = result.commands.filter((c) => c.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/baseline run 1: evaluate.command timed out/);
    expect(result.outputs.verdict).toBe('invalid');
    expect(result.outputs.delta).toBeUndefined();
  });

  it('fails on a regression only when asked', async () => {
    const { repo, base, head } = await pullRequest({ 'params.json': '{"x": -3, "y": 0}\n' });
    const event = pullRequestEvent(base, head);
    const lenient = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, event, dependencies: { artifacts: recordingArtifacts() } });
    expect(lenient.outputs.verdict).toBe('regressed');
    expect(lenient.exitCode).toBe(0);
    const strict = await runAction({ workspace: repo, inputs: { mode: 'evaluate', 'fail-on': 'regressed' }, event, dependencies: { artifacts: recordingArtifacts() } });
    expect(strict.exitCode).toBe(1);
    expect(strict.commands.filter((c) => c.startsWith('::error'))[0]).toContain('loss regressed');
  });

  it('refuses events other than pull_request, and bad inputs, naming them', async () => {
    const repo = makeQuadraticRepo();
    const target = await runAction({ workspace: repo, inputs: { mode: 'evaluate' }, eventName: 'pull_request_target', event: {}, dependencies: { artifacts: recordingArtifacts() } });
    expect(target.commands[0]).toContain('pull_request_target is refused on purpose');
    const mode = await runAction({ workspace: repo, inputs: { mode: 'evalute' }, dependencies: { artifacts: recordingArtifacts() } });
    expect(mode.commands[0]).toContain('input mode: expected one of evaluate, propose, loop, got \\"evalute\\"'.replace(/\\"/g, '"'));
    expect(mode.exitCode).toBe(1);
  });
});
