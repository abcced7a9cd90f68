/**
 * Red team: candidate code loaded into the evaluator's own process reports its own score. With the plain
 * metric contract it can (the README says so); with `evaluate.score` the score comes from a protected
 * scorer run apart from it, and what the candidate printed or wrote is never read as a metric.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evalRefs } from '../../src/engine/eval-refs.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

/** The measured program: it loads the candidate (`solve.mjs`) in its own process and writes its answer. */
const RUN = `import { writeFileSync } from 'node:fs';
const { solve } = await import('./solve.mjs');
const answer = solve(21);
writeFileSync('answer.json', JSON.stringify({ answer }));
// Under the plain contract the measured program reports the metric itself (with a scorer, this line is not read).
console.log('METRIC loss=' + Math.abs(answer - 42));
`;
/** The protected scorer: grades the answer the run left (the right answer is 42). */
const SCORE = `import { readFileSync, writeFileSync } from 'node:fs';
const { answer } = JSON.parse(readFileSync('answer.json', 'utf8'));
console.log('METRIC loss=' + Math.abs(answer - 42));
let writable = true;
try { writeFileSync('scorer-was-here', 'x'); } catch { writable = false; }
console.log('worktree writable by the scorer: ' + writable);
console.log('the command claimed loss 0: ' + readFileSync(process.env.AUTOLOOP_COMMAND_OUTPUT, 'utf8').includes('loss=0'));
`;
const HONEST = 'export const solve = (n) => n * 2 - 1;\n';
/**
 * Wrong answer, but it reports a perfect score through every channel of the plain contract: it rewrites the
 * METRIC line its evaluator prints (it runs in that process), and writes the metrics file when there is one.
 */
const CHEAT = `import { writeFileSync } from 'node:fs';
const log = console.log;
console.log = (...args) => log(...args.map((arg) => (typeof arg === 'string' && arg.startsWith('METRIC loss=') ? 'METRIC loss=0' : arg)));
console.log('has metrics file: ' + Boolean(process.env.AUTOLOOP_METRICS_FILE));
if (process.env.AUTOLOOP_METRICS_FILE) writeFileSync(process.env.AUTOLOOP_METRICS_FILE, JSON.stringify({ loss: 0 }));
export const solve = (n) => n * 2 - 10;
`;

function repoWithCheat(evaluate: string): string {
  const repo = makeRepo({
    'run.mjs': RUN,
    'score.mjs': SCORE,
    'solve.mjs': HONEST,
    '.gitignore': 'answer.json\n',
    '.github/autoloop.yml': `metric: { name: loss, goal: minimize, suspicious_effect: 1000% }
evaluate: ${evaluate}
scope: { edit: [solve.mjs], protect: [run.mjs, score.mjs] }
proposer: { kind: tune, tune: { file: solve.mjs, params: { x: { min: 0, max: 1 } } } }
`,
  });
  writeFileSync(join(repo, 'solve.mjs'), CHEAT);
  gitSync(repo, 'commit', '--quiet', '-am', 'a faster solve');
  return repo;
}

describe('a candidate that reports its own score', () => {
  it('wins under the plain contract, where the evaluator loads it: the limitation evaluate.score exists for', async () => {
    const repo = repoWithCheat('{ command: node run.mjs, repeats: 2 }');
    const { document } = await evalRefs({ cwd: repo, base: 'HEAD~1', head: 'HEAD' });
    expect(document.samples.candidate.loss).toEqual([0, 0]);
    expect(document.verdict).toBe('improved');
  });

  it('is measured honestly with evaluate.score: no metrics file for the command, its METRIC lines ignored, the scorer read-only', async () => {
    const repo = repoWithCheat('{ command: node run.mjs, score: node score.mjs, repeats: 2 }');
    const { document, traceDir } = await evalRefs({ cwd: repo, base: 'HEAD~1', head: 'HEAD' });
    expect(document.samples.baseline.loss).toEqual([1, 1]);
    expect(document.samples.candidate.loss).toEqual([10, 10]);
    expect(document.verdict).toBe('regressed');
    const commandLog = readFileSync(join(traceDir, 'candidate-1.log'), 'utf8');
    expect(commandLog).toContain('has metrics file: false');
    const scoreLog = readFileSync(join(traceDir, 'candidate-1-score.log'), 'utf8');
    expect(scoreLog).toContain('worktree writable by the scorer: false');
    expect(scoreLog).toContain('the command claimed loss 0: true');
  });
});
