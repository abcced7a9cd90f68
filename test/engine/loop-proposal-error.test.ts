import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLoop } from '../../src/engine/loop.js';
import { ProposalError, type Proposer } from '../../src/core/propose/proposer.js';
import { makeQuadraticRepo } from '../fixtures/local/repo.js';

describe('runLoop with a model proposer', () => {
  it('records a ProposalError as an invalid experiment and stops once budget.max_cost is spent', async () => {
    const repo = makeQuadraticRepo('{ experiments: 10, max_cost: 1 }');
    const proposer: Proposer = {
      kind: 'llm',
      async propose({ worktree, experiment, trace }) {
        expect(trace).toMatch(/experiment|\d/);
        if (experiment === 1) throw new ProposalError('no usable answer in 3 attempts: an edit does not apply', { cost_usd: 0.6, attempts: 3 });
        await writeFile(join(worktree, 'params.json'), '{"x": 1, "y": 0}\n');
        return { hypothesis: 'x 0 → 1', notes: { cost_usd: 0.6 } };
      },
    };
    const result = await runLoop({ cwd: repo, tag: 'cost', proposer });
    expect(result.outcome).toBe('completed');
    expect(result.stopReason).toBe('budget.max_cost of $1 spent');
    expect(result.experiments.map((e) => e.status)).toEqual(['keep', 'invalid', 'keep']);
    const failed = result.experiments[1]!;
    expect(failed).toMatchObject({
      status: 'invalid',
      reason: 'no usable answer in 3 attempts: an edit does not apply',
      candidateCommit: null,
      proposer: { kind: 'llm', notes: { cost_usd: 0.6, attempts: 3 } },
    });
  });
});
