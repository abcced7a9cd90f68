import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pushBranch } from '../../src/action/push.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

describe('pushBranch', () => {
  it('pushes with a token handed to that one push, and leaves no credential in the checkout', async () => {
    const repo = makeRepo({ 'a.txt': 'a\n' });
    const origin = join(mkdtempSync(join(tmpdir(), 'autoloop-origin-')), 'origin.git');
    execFileSync('git', ['init', '--quiet', '--bare', origin]);
    gitSync(repo, 'remote', 'add', 'origin', origin);
    const head = gitSync(repo, 'rev-parse', 'HEAD').trim();
    const token = 'ghs_' + 'x'.repeat(36);

    await pushBranch(repo, head, 'autoloop/7/exp-1', token);
    expect(gitSync(origin, 'rev-parse', 'refs/heads/autoloop/7/exp-1').trim()).toBe(head);
    expect(readFileSync(join(repo, '.git', 'config'), 'utf8')).not.toContain(token);
    expect(gitSync(repo, 'config', '--list')).not.toMatch(/extraheader/i);
  });
});
