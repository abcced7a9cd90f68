import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/config-schema.js';
import { Evaluator } from '../../src/engine/evaluator.js';

describe('Evaluator.measurePair', () => {
  it('interleaves baseline and candidate runs: B C B C B C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-order-'));
    const order = join(dir, 'order.txt');
    const config = configSchema.parse({
      metric: { name: 'loss', goal: 'minimize' },
      // Each run appends its side to one file, so the file is the order the runs happened in.
      evaluate: { command: `printf '%s ' "$AUTOLOOP_SIDE" >> ${order}; echo METRIC loss=1`, repeats: 3 },
      scope: { edit: ['x'] },
      proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
    });
    const evaluator = new Evaluator(config);
    const samples = await evaluator.measurePair(
      { side: 'baseline', worktree: dir, commit: 'a'.repeat(40) },
      { side: 'candidate', worktree: dir, commit: 'b'.repeat(40) },
      join(dir, 'trace'),
    );
    expect(readFileSync(order, 'utf8')).toBe('baseline candidate baseline candidate baseline candidate ');
    expect(samples.map((s) => `${s.side[0]}${s.index}`)).toEqual(['b0', 'c0', 'b1', 'c1', 'b2', 'c2']);
    expect(samples.every((s) => s.ok && s.metrics.loss === 1)).toBe(true);
  });
});
