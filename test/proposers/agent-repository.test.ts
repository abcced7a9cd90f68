import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_BRANCH, createAgentRepository } from '../../src/proposers/agent-repository.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

describe('createAgentRepository', () => {
  it("holds the worktree's commit alone, its index matching the files, outside the user's repository; dispose removes it", async () => {
    const repo = makeRepo({ 'a.txt': 'one\n' });
    writeFileSync(path.join(repo, 'a.txt'), 'two\n');
    gitSync(repo, 'commit', '--quiet', '-am', 'second');
    const head = gitSync(repo, 'rev-parse', 'HEAD');
    const agent = await createAgentRepository(repo, head);
    const inAgent = (...args: string[]) => gitSync(repo, `--git-dir=${agent.gitDir}`, ...args);

    expect(agent.gitDir.startsWith(repo)).toBe(false);
    expect(inAgent('rev-parse', 'HEAD')).toBe(head);
    expect(inAgent('symbolic-ref', 'HEAD')).toBe(`refs/heads/${AGENT_BRANCH}`);
    // Fetched with depth 1: the user's history (and any other branch) is not in it.
    expect(inAgent('rev-list', '--count', 'HEAD')).toBe('1');
    expect(inAgent('status', '--porcelain')).toBe('');
    writeFileSync(path.join(repo, 'a.txt'), 'three\n');
    expect(inAgent('status', '--porcelain')).toBe('M a.txt');

    await agent.dispose();
    expect(existsSync(agent.gitDir)).toBe(false);
  });
});
