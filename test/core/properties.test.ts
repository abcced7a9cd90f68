/**
 * Property-based tests of the parsers that read untrusted text: comments (`parseCommand`), config files
 * (`parseConfig`) and evaluator output (the metric contract). Fixed seeds keep CI deterministic; a failure
 * prints the seed and the shrunk counterexample to reproduce it.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MAX_EXPERIMENTS, MAX_GOAL_LENGTH, parseCommand } from '../../src/core/app/command.js';
import { MAX_PARALLEL } from '../../src/core/config/config-schema.js';
import { ConfigError, parseConfig } from '../../src/core/config/config.js';
import { MetricsFileError, parseMetricLines, parseMetricsFile, readMetrics } from '../../src/core/judge/metrics.js';

const RUNS = { seed: 42, numRuns: 500 } as const;

/** Text biased towards what the parsers look for, mixed with arbitrary Unicode and controls. */
function textFrom(fragments: readonly string[]): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof(fc.constantFrom(...fragments), fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ maxLength: 12 })), { maxLength: 30 })
    .map((parts) => parts.join(''));
}

/** A goal word that is neither a number, a flag nor a subcommand. */
const word = fc.stringMatching(/^w[a-z]{0,8}$/);

describe('parseCommand', () => {
  const comment = textFrom([
    '/optimize', '/optimize ', '/optimizer', '\n', '\r\n', '\r', ' ', '\t', '> ', '```', '~~~', '<!--', '-->',
    'stop', 'status', 'help', '--parallel', '--parallel=', '--dry-run', '—dry-run', '5', '0', '1001', '1.5', '-3', '\u0000', '\u001b[31m', '@',
  ]);

  it('answers any comment with a command, an error message or null, and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(comment, fc.string(), fc.constant(null), fc.constant(undefined)), (body) => {
        const result = parseCommand(body);
        if (result === null) return;
        if ('error' in result) {
          expect(typeof result.error).toBe('string');
          expect(result.error.length).toBeGreaterThan(0);
          return;
        }
        const { command } = result;
        if (command.kind !== 'start') return;
        if (command.experiments !== null) {
          expect(Number.isInteger(command.experiments)).toBe(true);
          expect(command.experiments).toBeGreaterThanOrEqual(1);
          expect(command.experiments).toBeLessThanOrEqual(MAX_EXPERIMENTS);
        }
        if (command.parallel !== null) {
          expect(Number.isInteger(command.parallel)).toBe(true);
          expect(command.parallel).toBeGreaterThanOrEqual(1);
          expect(command.parallel).toBeLessThanOrEqual(MAX_PARALLEL);
        }
        expect([...command.goal].length).toBeLessThanOrEqual(MAX_GOAL_LENGTH);
        // Control characters separate arguments, so none reaches the goal; whitespace is collapsed.
        // eslint-disable-next-line no-control-regex
        expect(command.goal).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
        expect(command.goal).toBe(command.goal.trim());
        expect(command.goal).not.toMatch(/\s{2}/);
      }),
      RUNS,
    );
  });

  it('reads back every well-formed start command, wherever it sits in the comment', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 1, max: MAX_EXPERIMENTS })),
        fc.option(fc.integer({ min: 1, max: MAX_PARALLEL })),
        fc.boolean(),
        fc.array(word, { maxLength: 6 }),
        fc.array(word.map((w) => `${w} text`), { maxLength: 3 }),
        (experiments, parallel, dryRun, goal, before) => {
          const line = [
            '/optimize',
            ...(experiments === null ? [] : [String(experiments)]),
            ...goal,
            ...(parallel === null ? [] : ['--parallel', String(parallel)]),
            ...(dryRun ? ['--dry-run'] : []),
          ].join(' ');
          const result = parseCommand([...before, line, 'thanks!'].join('\n'));
          expect(result).toEqual({ command: { kind: 'start', experiments, parallel, dryRun, goal: goal.join(' ') } });
        },
      ),
      RUNS,
    );
  });

  it('never reads a command inside a fenced code block or a quote', () => {
    fc.assert(
      fc.property(fc.constantFrom('```', '~~~', '````'), fc.integer({ min: 1, max: 50 }), fc.array(word, { maxLength: 4 }), (fence, n, goal) => {
        const line = `/optimize ${n} ${goal.join(' ')}`;
        expect(parseCommand(`${fence}\n${line}\n${fence}`)).toBeNull();
        expect(parseCommand(`> ${line}`)).toBeNull();
      }),
      RUNS,
    );
  });
});

describe('parseConfig', () => {
  /** A Config or a ConfigError, nothing else. */
  function parsesOrConfigError(text: string): void {
    try {
      const config = parseConfig(text, '.github/autoloop.yml');
      expect(typeof config.metric.name).toBe('string');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      expect(error.issues.length).toBeGreaterThan(0);
      expect(error.message).toContain('.github/autoloop.yml');
    }
  }

  it('reads any text as a Config or a ConfigError, never another exception', () => {
    const yamlish = textFrom([
      'metric:', 'evaluate:', 'scope:', 'proposer:', 'name: loss', 'goal: minimize', 'command: ./eval.sh', 'edit: [x]',
      '\n', '\n  ', '- ', ': ', '"', "'", '&a ', '*a', '<<: *a', '!!binary ', '!!js/function ', '{', '}', '[', ']', '#', '---\n', '...\n', '%YAML 1.2\n', '\t', '? ',
    ]);
    fc.assert(fc.property(fc.oneof(yamlish, fc.string(), fc.string({ unit: 'binary' })), parsesOrConfigError), RUNS);
  });

  it('reads any JSON-like value dumped as YAML as a Config or a ConfigError', () => {
    const keys = fc.constantFrom('metric', 'evaluate', 'scope', 'proposer', 'guards', 'name', 'goal', 'command', 'repeats', 'timeout', 'edit', 'kind', 'tune', '__proto__', 'constructor');
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.jsonValue({ maxDepth: 2 }),
        fc.dictionary(fc.oneof(keys, fc.string()), tie('value'), { maxKeys: 6 }),
        fc.array(tie('value'), { maxLength: 4 }),
      ),
    }));
    const config = fc.record(
      { metric: value, evaluate: value, scope: value, proposer: value, guards: value },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(value, config), (data) => {
        parsesOrConfigError(stringify(data));
      }),
      RUNS,
    );
  });
});

describe('the metric contract', () => {
  const output = textFrom([
    'METRIC ', 'METRIC loss=', 'METRIC loss = ', 'METRIC acc=', 'loss', '=', '0.5', '-1e-3', 'NaN', 'nan', 'inf', '-Infinity', '1e999',
    '\n', '\r\n', '\r', ' ', '\t', '{', '}', '"loss"', ':', ',', '[', ']', '"', '\\', 'null', 'true', '__proto__', '\u001b[31m',
  ]);
  const required = { primary: 'loss', guards: ['acc', 'loss'] };

  it('parses any stdout into values, duplicates and invalid entries, never throwing', () => {
    fc.assert(
      fc.property(fc.oneof(output, fc.string()), (text) => {
        const parsed = parseMetricLines(text);
        for (const value of Object.values(parsed.values)) expect(Number.isFinite(value)).toBe(true);
        for (const name of parsed.duplicates) expect(Object.hasOwn(parsed.values, name)).toBe(false);
      }),
      RUNS,
    );
  });

  it('parses any metrics file text or throws MetricsFileError, nothing else', () => {
    const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(fc.oneof(output, json, fc.string()), (text) => {
        try {
          const parsed = parseMetricsFile(text);
          for (const value of Object.values(parsed.values)) expect(Number.isFinite(value)).toBe(true);
        } catch (error) {
          if (!(error instanceof MetricsFileError)) throw error;
        }
      }),
      RUNS,
    );
  });

  it('reads any stdout and file text as metrics or a reason, never throwing and never inventing a value', () => {
    fc.assert(
      fc.property(fc.oneof(output, fc.string()), fc.option(fc.oneof(output, fc.string())), (stdout, fileText) => {
        for (const report of ['stdout', 'file'] as const) {
          const reading = readMetrics({ report, stdout, fileText }, required);
          if (reading.ok) {
            expect(Number.isFinite(reading.values.loss)).toBe(true);
            expect(Number.isFinite(reading.values.acc)).toBe(true);
          } else {
            expect(reading.reason.length).toBeGreaterThan(0);
          }
        }
      }),
      RUNS,
    );
  });

  /** Lines that are not metric lines at all, so they cannot add or duplicate one. */
  const noise = fc.array(fc.string().filter((line) => !/[\r\n]/.test(line) && !/^\s*METRIC\s/.test(line)), { maxLength: 5 });
  const finiteNumber = fc.double({ noNaN: true, noDefaultInfinity: true });

  it('a valid METRIC line for the primary metric with a finite number always yields that number', () => {
    fc.assert(
      fc.property(
        finiteNumber,
        noise,
        noise,
        fc.constantFrom('', ' ', '\t'),
        fc.constantFrom('', ' ', '  '),
        fc.constantFrom('\n', '\r\n', '\r'),
        (value, before, after, indent, around, newline) => {
          const line = `${indent}METRIC loss${around}=${around}${String(value)}${indent}`;
          const stdout = [...before, line, ...after].join(newline);
          const reading = readMetrics({ report: 'stdout', stdout, fileText: null }, { primary: 'loss', guards: [] });
          expect(reading.ok).toBe(true);
          expect(reading.source).toBe('stdout');
          expect(reading.values.loss === value).toBe(true);
          expect(parseMetricLines(stdout).values.loss === value).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('with report: file, a forged METRIC line on stdout never changes the value', () => {
    fc.assert(
      fc.property(finiteNumber, finiteNumber, noise, (fileValue, forged, before) => {
        const stdout = [...before, `METRIC loss=${String(forged)}`].join('\n');
        const reading = readMetrics({ report: 'file', stdout, fileText: JSON.stringify({ loss: fileValue }) }, { primary: 'loss', guards: [] });
        expect(reading).toMatchObject({ ok: true, source: 'file' });
        expect(reading.values.loss === fileValue).toBe(true);
      }),
      RUNS,
    );
  });
});
