import { describe, expect, it } from 'vitest';
import {
  COMMAND_HELP,
  MAX_COMMENT_LENGTH,
  parseCommand,
  type CommandParseResult,
  type OptimizeCommand,
} from '../../../src/core/app/command.js';

/** A start command with the defaults, overridden by `fields`. */
function start(fields: Partial<Extract<OptimizeCommand, { kind: 'start' }>> = {}): CommandParseResult {
  return { command: { kind: 'start', experiments: null, parallel: null, dryRun: false, goal: '', ...fields } };
}

/** The error message of a result, failing the test when the result is not an error. */
function errorOf(result: CommandParseResult): string {
  if (result === null || !('error' in result)) throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  return result.error;
}

describe('parseCommand: forms', () => {
  it('parses a bare /optimize', () => {
    expect(parseCommand('/optimize')).toEqual(start());
  });

  it('parses N and the goal text', () => {
    expect(parseCommand('/optimize 5 make it faster')).toEqual(start({ experiments: 5, goal: 'make it faster' }));
    expect(parseCommand('/optimize 1000')).toEqual(start({ experiments: 1000 }));
    expect(parseCommand('/optimize 007 x')).toEqual(start({ experiments: 7, goal: 'x' }));
  });

  it('reads a number only as the first argument', () => {
    expect(parseCommand('/optimize make 5 things faster')).toEqual(start({ goal: 'make 5 things faster' }));
    expect(parseCommand('/optimize 3x faster please')).toEqual(start({ goal: '3x faster please' }));
  });

  it('trims the goal and collapses its whitespace, control characters included', () => {
    expect(parseCommand('/optimize   10 \t reduce   p95\u00a0latency\u0007 now  ')).toEqual(
      start({ experiments: 10, goal: 'reduce p95 latency now' }),
    );
  });

  it('keeps unicode goal text', () => {
    expect(parseCommand('/optimize 2 réduire la latence 🚀')).toEqual(start({ experiments: 2, goal: 'réduire la latence 🚀' }));
  });

  it('parses stop, status and help', () => {
    expect(parseCommand('/optimize stop')).toEqual({ command: { kind: 'stop' } });
    expect(parseCommand('/optimize status')).toEqual({ command: { kind: 'status' } });
    expect(parseCommand('  /optimize help  ')).toEqual({ command: { kind: 'help' } });
  });

  it('parses doctor, which takes no arguments either', () => {
    expect(parseCommand('/optimize doctor')).toEqual({ command: { kind: 'doctor' } });
    expect(parseCommand('Please check:\n  /optimize doctor  ')).toEqual({ command: { kind: 'doctor' } });
    expect(errorOf(parseCommand('/optimize doctor now'))).toContain('`/optimize doctor` takes no arguments (got `now`)');
    expect(errorOf(parseCommand('/optimize --dry-run doctor'))).toContain('`/optimize doctor` takes no arguments');
    expect(errorOf(parseCommand('/optimize Doctor'))).toContain('Did you mean `/optimize doctor`?');
    expect(parseCommand('> /optimize doctor')).toBeNull();
  });

  it('rejects arguments after stop, status and help', () => {
    expect(errorOf(parseCommand('/optimize stop now'))).toContain('`/optimize stop` takes no arguments (got `now`)');
    expect(errorOf(parseCommand('/optimize status --dry-run'))).toContain('`/optimize status` takes no arguments');
    // A subcommand after a flag must not start a run whose goal is "stop".
    expect(errorOf(parseCommand('/optimize --dry-run stop'))).toContain('`/optimize stop` takes no arguments');
  });

  it('asks about a capitalised subcommand on its own instead of starting a run', () => {
    expect(errorOf(parseCommand('/optimize Stop'))).toContain('Did you mean `/optimize stop`?');
    expect(parseCommand('/optimize Help the parser')).toEqual(start({ goal: 'Help the parser' }));
  });

  it('returns null for a comment without the command', () => {
    expect(parseCommand('')).toBeNull();
    expect(parseCommand('looks good to me')).toBeNull();
    expect(parseCommand(null)).toBeNull();
    expect(parseCommand(undefined)).toBeNull();
  });
});

describe('parseCommand: flags', () => {
  it('accepts flags anywhere after /optimize', () => {
    const expected = start({ experiments: 5, parallel: 3, dryRun: true, goal: 'make it faster' });
    expect(parseCommand('/optimize --parallel 3 --dry-run 5 make it faster')).toEqual(expected);
    expect(parseCommand('/optimize 5 make --dry-run it --parallel 3 faster')).toEqual(expected);
    expect(parseCommand('/optimize 5 make it faster --parallel=3 --dry-run')).toEqual(expected);
  });

  it('parses flags alone', () => {
    expect(parseCommand('/optimize --dry-run')).toEqual(start({ dryRun: true }));
    expect(parseCommand('/optimize --parallel 10')).toEqual(start({ parallel: 10 }));
  });

  it('names an unknown flag and lists the known ones', () => {
    const error = errorOf(parseCommand('/optimize 5 --foo faster'));
    expect(error).toContain('Unknown flag `--foo`');
    expect(error).toContain('`--parallel N`');
    expect(error).toContain('`--dry-run`');
    expect(errorOf(parseCommand('/optimize --foo=bar'))).toContain('Unknown flag `--foo`');
  });

  it('treats a lone -- and single-dash words as goal text', () => {
    expect(parseCommand('/optimize faster -- not slower -O2')).toEqual(start({ goal: 'faster -- not slower -O2' }));
  });

  it('echoes the commenter\'s text shortened and without backticks, so it stays inside inline code', () => {
    const error = errorOf(parseCommand(`/optimize stop \`@org/team\` ${'z'.repeat(100)}`));
    expect(error).toContain("(got `'@org/team' zzz");
    expect(error).toContain('…`)');
    expect(error.match(/`/g)).toHaveLength(6);
  });

  it('rejects a known flag typed with a typographic dash', () => {
    expect(errorOf(parseCommand('/optimize —dry-run'))).toContain('`--dry-run`');
    expect(errorOf(parseCommand('/optimize –parallel 2'))).toContain('`--parallel`');
  });

  it('rejects --parallel without a valid value', () => {
    expect(errorOf(parseCommand('/optimize --parallel'))).toContain('(got no value)');
    expect(errorOf(parseCommand('/optimize --parallel='))).toContain('(got no value)');
    expect(errorOf(parseCommand('/optimize --parallel --dry-run'))).toContain('(got `--dry-run`)');
    for (const value of ['0', '11', '-1', '1.5', 'two']) {
      expect(errorOf(parseCommand(`/optimize --parallel ${value}`))).toContain('from 1 to 10');
    }
  });

  it('rejects a flag given twice or a value on --dry-run', () => {
    expect(errorOf(parseCommand('/optimize --parallel 2 --parallel 3'))).toContain('given twice');
    expect(errorOf(parseCommand('/optimize --dry-run --dry-run'))).toContain('given twice');
    expect(errorOf(parseCommand('/optimize --dry-run=yes'))).toContain('takes no value');
  });
});

describe('parseCommand: bad N', () => {
  it.each(['0', '-1', '1001', '1.5', '+3', '.5', '99999999999999999999999'])('rejects /optimize %s', (n) => {
    expect(errorOf(parseCommand(`/optimize ${n} faster`))).toContain('whole number from 1 to 1000');
  });
});

describe('parseCommand: where the command counts', () => {
  it('needs the command at the start of a line, indented less than 4 columns', () => {
    expect(parseCommand('please /optimize 5')).toBeNull();
    expect(parseCommand('Thanks!\n\n   /optimize 5 go')).toEqual(start({ experiments: 5, goal: 'go' }));
    expect(parseCommand('Thanks!\r\n /optimize stop\r\n')).toEqual({ command: { kind: 'stop' } });
  });

  it('ignores a command in an indented code block, or indented into the paragraph above (CommonMark 4.4)', () => {
    expect(parseCommand('text\n\n    /optimize 3')).toBeNull();
    expect(parseCommand('    /optimize 3')).toBeNull();
    // A tab reaches column 4, and so does a space and a tab.
    expect(parseCommand('Thanks!\r\n\t/optimize stop\r\n')).toBeNull();
    expect(parseCommand('Thanks!\n \t/optimize stop')).toBeNull();
    // A later visible command still counts.
    expect(parseCommand('example:\n\n    /optimize 3\n\n/optimize 7')).toEqual(start({ experiments: 7 }));
  });

  it('needs the whole word /optimize, case-sensitive', () => {
    expect(parseCommand('/optimizer 5')).toBeNull();
    expect(parseCommand('/optimize-foo 5')).toBeNull();
    expect(parseCommand('/optimize.')).toBeNull();
    expect(parseCommand('/Optimize 5')).toBeNull();
    expect(parseCommand('/OPTIMIZE')).toBeNull();
  });

  it('ignores commands in fenced code blocks', () => {
    expect(parseCommand('```\n/optimize 5\n```')).toBeNull();
    expect(parseCommand('~~~sh\n/optimize 5\n~~~')).toBeNull();
    expect(parseCommand('- item\n\n  ```\n  /optimize 5\n  ```\n')).toBeNull();
    // An unclosed fence runs to the end of the comment, as GitHub renders it.
    expect(parseCommand('```\n/optimize 5')).toBeNull();
    // A shorter or different fence does not close the block.
    expect(parseCommand('````\n```\n/optimize 5\n~~~~\n````')).toBeNull();
  });

  it('reads a command after a code block closes', () => {
    expect(parseCommand('```\n/optimize 5\n```\n/optimize 7')).toEqual(start({ experiments: 7 }));
    // A line with backticks after ``` is inline code, not a fence.
    expect(parseCommand('```a` b\n/optimize 2')).toEqual(start({ experiments: 2 }));
  });

  it('ignores quoted lines', () => {
    expect(parseCommand('> /optimize 5')).toBeNull();
    expect(parseCommand('  > > /optimize stop')).toBeNull();
    expect(parseCommand('> /optimize 5\n\n/optimize status')).toEqual({ command: { kind: 'status' } });
  });

  it('ignores commands inside HTML comments, which the reader does not see', () => {
    expect(parseCommand('<!--\n/optimize 5\n-->')).toBeNull();
    expect(parseCommand('<!-- a --> <!-- b\n/optimize 5\n-->\n/optimize 6')).toEqual(start({ experiments: 6 }));
    expect(parseCommand('```\n<!--\n```\n/optimize 3')).toEqual(start({ experiments: 3 }));
  });

  it('parses only the first command line', () => {
    expect(parseCommand('/optimize 5 first\n/optimize stop')).toEqual(start({ experiments: 5, goal: 'first' }));
    expect(errorOf(parseCommand('/optimize 0\n/optimize 5'))).toContain('whole number');
  });
});

describe('parseCommand: limits', () => {
  it('rejects a goal longer than 500 characters', () => {
    expect(parseCommand(`/optimize ${'é'.repeat(500)}`)).toEqual(start({ goal: 'é'.repeat(500) }));
    expect(errorOf(parseCommand(`/optimize ${'a'.repeat(501)}`))).toContain('goal text after `/optimize` is too long (501');
  });

  it('rejects a command line longer than 1,000 characters', () => {
    expect(errorOf(parseCommand(`/optimize 5 ${'a '.repeat(600)}`))).toContain('line is too long');
  });

  it('rejects a comment over the limit before scanning it', () => {
    const huge = `/optimize 5\n${'```\n> x /optimize\n'.repeat(60_000)}`.slice(0, 1_048_576);
    expect(errorOf(parseCommand(huge))).toContain('The comment is too long (1048576 characters');
    // A long comment that never mentions the command gets no answer at all.
    expect(parseCommand('x'.repeat(1_048_576))).toBeNull();
  });

  it('reads a comment of exactly the limit', () => {
    const body = `/optimize 5\n${'x'.repeat(MAX_COMMENT_LENGTH - 12)}`;
    expect(body).toHaveLength(MAX_COMMENT_LENGTH);
    expect(parseCommand(body)).toEqual(start({ experiments: 5 }));
    expect(errorOf(parseCommand(`${body}x`))).toContain('The comment is too long');
  });

  it('answers comments at the limit built to be slow (their speed is the parser\'s linear design, not timed here)', () => {
    const cases: [string, 'null' | 'error' | 'start'][] = [
      // Many short lines before the command.
      [`${'x\n'.repeat(30_000)}/optimize 1`, 'start'],
      // Fences opening and closing on every other line: the second /optimize is outside the first block.
      ['```\n/optimize 1\n'.repeat(4_000), 'start'],
      ['```\n/optimize 1\n```\n'.repeat(3_000), 'null'],
      // Lines that almost look like the command.
      ['/optimizer 1\n'.repeat(5_000), 'null'],
      // One long token of digits, the worst case for the number check; as goal text it is too long.
      [`/optimize ${'1'.repeat(988)}x`, 'error'],
      // HTML comment markers everywhere.
      [`${'<!-- '.repeat(13_000)}\n/optimize`, 'null'],
    ];
    for (const [body, kind] of cases) {
      expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH);
      const result = parseCommand(body);
      expect(result === null ? 'null' : 'error' in result ? 'error' : result.command.kind).toBe(kind);
    }
  });
});

describe('COMMAND_HELP', () => {
  it('lists every command and flag', () => {
    for (const text of ['/optimize [N] [goal]', '/optimize stop', '/optimize status', '/optimize doctor', '/optimize help', '--parallel N', '--dry-run']) {
      expect(COMMAND_HELP).toContain(text);
    }
  });
});

/** xorshift32: a tiny seeded PRNG, so a failing case can be reproduced from its index. */
function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
}

const PIECES = [
  '/optimize', '/optimize ', '/optimizer', ' /optimize', '/optimize stop', 'stop', 'status', 'help', 'Stop',
  '--parallel', '--parallel=', '--dry-run', '--foo', '—dry-run', '--', '-', '5', '0', '-1', '1001', '1.5', '10',
  ' ', '  ', '\t', '\n', '\r\n', '\r', '>', '> ', '```', '~~~', '`', '````', '<!--', '-->', 'é', '🚀', '\u0000',
  '\u200b', '\u2028', 'make it faster', 'x', '=',
];

/** A random comment of up to 60 pieces drawn from `PIECES`, sometimes with a long run of one character. */
function randomComment(next: () => number): string {
  const parts: string[] = [];
  const count = Math.floor(next() * 60);
  for (let i = 0; i < count; i++) {
    const piece = PIECES[Math.floor(next() * PIECES.length)]!;
    parts.push(next() < 0.02 ? piece.repeat(1 + Math.floor(next() * 400)) : piece);
  }
  return parts.join('');
}

describe('parseCommand: random comments', () => {
  it('never throws and always returns null, a valid command or an error', () => {
    const next = xorshift32(20_240_601);
    const kinds = new Map<string, number>();
    for (let i = 0; i < 2_000; i++) {
      const body = randomComment(next);
      let result: CommandParseResult;
      try {
        result = parseCommand(body);
      } catch (error) {
        throw new Error(`case ${i} threw on ${JSON.stringify(body)}: ${String(error)}`, { cause: error });
      }
      const kind = result === null ? 'null' : 'error' in result ? 'error' : result.command.kind;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      if (result === null) continue;
      if ('error' in result) {
        expect(typeof result.error, `case ${i}`).toBe('string');
        expect(result.error.length, `case ${i}`).toBeGreaterThan(0);
        continue;
      }
      const command = result.command;
      expect(['start', 'stop', 'status', 'doctor', 'help'], `case ${i}`).toContain(command.kind);
      if (command.kind !== 'start') continue;
      if (command.experiments !== null) expect(Number.isInteger(command.experiments) && command.experiments >= 1 && command.experiments <= 1000, `case ${i}`).toBe(true);
      if (command.parallel !== null) expect(Number.isInteger(command.parallel) && command.parallel >= 1 && command.parallel <= 10, `case ${i}`).toBe(true);
      expect(command.goal, `case ${i}`).toBe(command.goal.trim());
      expect(command.goal, `case ${i}`).not.toMatch(/\s{2}|[\n\r]/);
      expect(command.goal, `case ${i}`).not.toContain('\u0000');
      expect([...command.goal].length, `case ${i}`).toBeLessThanOrEqual(500);
    }
    // The generator must actually reach every outcome, or the property says little.
    for (const kind of ['null', 'error', 'start', 'stop']) expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(0);
  });
});
