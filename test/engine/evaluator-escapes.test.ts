import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/config-schema.js';
import { Evaluator } from '../../src/engine/evaluator.js';

/** Any C0 control but tab and line feed, DEL, or any C1 control. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/**
 * A shell script that prints colours, an OSC 8 hyperlink and a bell on both streams. Written to a file
 * and run with `sh`, so the escape bytes are produced by the evaluator itself, as a real one would.
 */
function evaluatorScript(dir: string, body: string): string {
  const script = join(dir, 'eval.sh');
  writeFileSync(script, body);
  return `sh ${script}`;
}

const HOSTILE = String.raw`printf '\033[31mFAIL\033[0m \033]8;;http://evil.example\033\\click\033]8;;\033\\ \007\n'`;

function setup(body: string, check?: string, report?: 'stdout' | 'file') {
  const dir = mkdtempSync(join(tmpdir(), 'autoloop-escapes-'));
  const config = configSchema.parse({
    metric: { name: 'loss', goal: 'minimize' },
    evaluate: { command: evaluatorScript(dir, body), repeats: 1, ...(check ? { check } : {}), ...(report ? { report } : {}) },
    scope: { edit: ['p.json'] },
    proposer: { kind: 'tune', tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } },
  });
  return { dir, evaluator: new Evaluator(config, { env: { PATH: process.env.PATH } }), trace: join(dir, 'trace') };
}

describe('an evaluator that prints escape sequences', () => {
  it('takes the metric from the harness file only, ignoring a forged METRIC line wrapped in colours', async () => {
    const { dir, evaluator, trace } = setup(
      [
        HOSTILE,
        String.raw`printf '\033[32mMETRIC loss=0\033[0m\n'`,
        'echo "METRIC loss=0"',
        `printf '{"loss": 0.5}' > "$AUTOLOOP_METRICS_FILE"`,
      ].join('\n'),
      undefined,
      'file',
    );
    const sample = await evaluator.measure({ side: 'candidate', worktree: dir, commit: 'c'.repeat(40) }, 0, trace);
    expect(sample.ok).toBe(true);
    expect(sample.metrics).toEqual({ loss: 0.5 });
  });

  it('quotes its stderr in the reason without any escape byte', async () => {
    const { dir, evaluator, trace } = setup([`${HOSTILE} >&2`, 'echo "METRIC loss=0"', 'exit 3'].join('\n'));
    const sample = await evaluator.measure({ side: 'candidate', worktree: dir, commit: 'c'.repeat(40) }, 0, trace);
    expect(sample.ok).toBe(false);
    expect(sample.metrics).toEqual({});
    expect(sample.reason).toBe(`evaluate.command exited with code 3: FAIL click (log: ${join(trace, 'candidate-1.log')})`);
    expect(sample.reason).not.toMatch(CONTROL);
    // The raw log keeps the bytes on purpose: it is the evidence of what the evaluator printed, kept in the
    // trace and the artifact as a file (never rendered as Markdown or written to a terminal by autoloop), and
    // stripping it would hide exactly the output someone investigating a hostile evaluator needs to see.
    const log = readFileSync(join(trace, 'candidate-1.log'), 'utf8');
    expect(log).toContain('\x1b[31mFAIL');
  });

  it('strips escapes a malformed METRIC line would carry into the reason', async () => {
    const { dir, evaluator, trace } = setup(String.raw`printf 'METRIC \033]8;;http://evil\033\\x\033[31m=\033[0m1\nMETRIC other=\033[31m2\n'`);
    const sample = await evaluator.measure({ side: 'candidate', worktree: dir, commit: 'c'.repeat(40) }, 0, trace);
    expect(sample.ok).toBe(false);
    expect(sample.reason).toMatch(/^no metric "loss" on stdout: /);
    expect(sample.reason).toContain('also ignored');
    expect(sample.reason).not.toMatch(CONTROL);
    expect(sample.reason).not.toContain('http://evil');
  });

  it('a failing check quotes its stderr without escapes', async () => {
    const { dir, evaluator, trace } = setup('echo "METRIC loss=1"', `${HOSTILE} >&2; exit 1`);
    const result = await evaluator.measureAlone({ side: 'baseline', worktree: dir, commit: 'b'.repeat(40) }, trace);
    expect(result.failure?.status).toBe('invalid');
    expect(result.failure?.reason).toMatch(/^evaluate\.check \(.*\) exited with code 1: FAIL click \(log: \S+\/check-baseline\.log\)$/);
    expect(result.failure?.reason).not.toMatch(CONTROL);
  });
});
