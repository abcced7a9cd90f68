import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/config-schema.js';
import { protectedFilesHash } from '../../src/core/scope/protected.js';
import { scopeRules } from '../../src/core/scope/scope.js';
import { protectedHashOfTree } from '../../src/core/result/verify.js';
import { resolveCommit } from '../../src/engine/git.js';
import { prepareWorktree } from '../../src/engine/worktrees.js';
import { runLoop } from '../../src/engine/loop.js';
import { ProtectedFiles } from '../../src/engine/pin.js';
import { gitSync, makeRepo, QUADRATIC_EVAL } from '../fixtures/local/repo.js';

describe('ProtectedFiles', () => {
  it('lists the base files under protected patterns and hashes them by path and blob', async () => {
    const repo = makeRepo({ 'eval/run.mjs': 'a', 'eval/data.csv': 'b', 'src/x.js': 'c', '.github/autoloop.yml': 'd' });
    const base = await resolveCommit(repo, 'HEAD');
    const files = await ProtectedFiles.load(repo, base, { edit: ['src/**'], protect: ['eval/**'], alwaysProtect: ['.github/autoloop.yml'] });
    expect(files.entries.map((e) => e.path)).toEqual(['.github/autoloop.yml', 'eval/data.csv', 'eval/run.mjs']);
    const blob = gitSync(repo, 'rev-parse', `${base}:eval/run.mjs`);
    expect(files.entries.find((e) => e.path === 'eval/run.mjs')?.object).toBe(blob);
    expect(files.hash).toBe(protectedFilesHash(files.entries));
    expect(files.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes like the App does from GitHub\'s tree API, so the two can be compared', async () => {
    const repo = makeRepo({ 'eval/run.mjs': 'a', 'params.json': '{}', '.github/autoloop.yml': 'x' });
    const base = await resolveCommit(repo, 'HEAD');
    const config = configSchema.parse({
      metric: { name: 'loss', goal: 'minimize' },
      evaluate: { command: 'node eval/run.mjs' },
      scope: { edit: ['params.json'], protect: ['eval/**'] },
      proposer: { kind: 'tune', tune: { file: 'params.json', params: { x: { min: 0, max: 1 } } } },
    });
    const files = await ProtectedFiles.load(repo, base, scopeRules(config, '.github/autoloop.yml'));
    const tree = new Map(
      gitSync(repo, 'ls-tree', '-r', base)
        .split('\n')
        .map((line) => [line.split('\t')[1]!, line.split(' ')[2]!.split('\t')[0]!] as [string, string]),
    );
    expect(protectedHashOfTree(tree, config, '.github/autoloop.yml')).toBe(files.hash);
  });

  it('restores edited and deleted protected files from the base commit', async () => {
    const repo = makeRepo({ 'eval/run.mjs': 'original\n', 'eval/data.csv': '1,2\n', 'src/x.js': 'c\n' });
    const base = await resolveCommit(repo, 'HEAD');
    const worktree = join(repo, '.git', 'autoloop', 'pin');
    await prepareWorktree(repo, worktree, base);
    await writeFile(join(worktree, 'eval/run.mjs'), 'tampered\n');
    await rm(join(worktree, 'eval/data.csv'));
    await writeFile(join(worktree, 'src/x.js'), 'candidate edit\n');
    const files = await ProtectedFiles.load(repo, base, { edit: ['src/**'], protect: ['eval/**'], alwaysProtect: [] });
    await files.pin(worktree);
    expect(readFileSync(join(worktree, 'eval/run.mjs'), 'utf8')).toBe('original\n');
    expect(readFileSync(join(worktree, 'eval/data.csv'), 'utf8')).toBe('1,2\n');
    expect(readFileSync(join(worktree, 'src/x.js'), 'utf8')).toBe('candidate edit\n');
  });
});

describe('the evaluator is pinned', () => {
  it('measures a candidate whose check rewrites the evaluator with the base evaluator', async () => {
    // lib/check.mjs is editable; the candidate turns it into code that overwrites the protected
    // evaluator with one that reports a perfect score. Pinning puts the real evaluator back.
    const cheat = `import { writeFileSync } from 'node:fs';
writeFileSync('eval.mjs', 'console.log("METRIC loss=0")\\n');
`;
    const repo = makeRepo({
      'eval.mjs': QUADRATIC_EVAL,
      'lib/check.mjs': 'process.exit(0)\n',
      'params.json': '{\n  "x": 0,\n  "y": 0\n}\n',
      '.github/autoloop.yml': `metric: { name: loss, goal: minimize, suspicious_effect: 100% }
evaluate: { command: node eval.mjs, check: node lib/check.mjs, timeout: 20s }
scope: { edit: [params.json, lib/**], protect: [eval.mjs] }
proposer: { kind: tune, tune: { file: params.json, params: { x: { min: -10, max: 10 } } } }
`,
    });
    const result = await runLoop({
      cwd: repo,
      tag: 'pin',
      experiments: 1,
      proposer: {
        kind: 'scripted',
        async propose({ worktree }) {
          await writeFile(join(worktree, 'lib/check.mjs'), cheat);
          await writeFile(join(worktree, 'params.json'), '{"x": 1, "y": 0}\n');
          return { hypothesis: 'cheat', notes: {} };
        },
      },
    });
    const experiment = result.experiments[1]!;
    expect(experiment.scopeViolations).toEqual([]);
    // The real loss of x = 1, y = 0 is 4 + 1 + 0.5; the forged evaluator would have said 0.
    expect(experiment.metric).toBe(5.5);
    expect(experiment.status).toBe('keep');
  });
});
