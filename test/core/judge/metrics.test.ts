import { describe, expect, it } from 'vitest';
import { MetricsFileError, parseMetricLines, parseMetricsFile, readMetrics } from '../../../src/core/judge/metrics.js';

const REQUIRED = { primary: 'val_loss', guards: [] as string[] };

describe('parseMetricLines', () => {
  it('reads METRIC lines among other output, with surrounding whitespace and spaces around =', () => {
    const parsed = parseMetricLines('epoch 1\n  METRIC val_loss=0.25  \r\nMETRIC  peak_mem_mb = 512\nnoise METRIC x=1\n');
    expect(parsed).toEqual({ values: { val_loss: 0.25, peak_mem_mb: 512 }, duplicates: [], invalid: [] });
  });

  it('accepts every JS float form, including scientific notation', () => {
    const text = ['a=1', 'b=-0.5', 'c=.5', 'd=5.', 'e=1e-3', 'f=+2.5E+10', 'g=-3.2e4'].map((l) => `METRIC ${l}`).join('\n');
    expect(parseMetricLines(text).values).toEqual({ a: 1, b: -0.5, c: 0.5, d: 5, e: 0.001, f: 2.5e10, g: -32000 });
  });

  it('accepts names with dots, dashes and slashes', () => {
    expect(parseMetricLines('METRIC eval/val-loss.mean=2').values).toEqual({ 'eval/val-loss.mean': 2 });
  });

  it('puts NaN, infinities, overflow and text into invalid, never into values', () => {
    const text = ['a=nan', 'b=NaN', 'c=inf', 'd=-Infinity', 'e=1e999', 'f=abc', 'g=', 'h=0.5 (epoch 3)'].map((l) => `METRIC ${l}`).join('\n');
    const parsed = parseMetricLines(text);
    expect(parsed.values).toEqual({});
    expect(parsed.invalid.map((entry) => entry.name)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(parsed.invalid[0]).toEqual({ name: 'a', raw: 'nan' });
    expect(parsed.invalid[7]).toEqual({ name: 'h', raw: '0.5 (epoch 3)' });
  });

  it('reports a name seen twice as a duplicate and keeps it out of values', () => {
    const parsed = parseMetricLines('METRIC val_loss=1\nMETRIC other=3\nMETRIC val_loss=2\nMETRIC val_loss=2\n');
    expect(parsed.duplicates).toEqual(['val_loss']);
    expect(parsed.values).toEqual({ other: 3 });
  });

  it('keeps malformed METRIC lines as invalid entries', () => {
    const parsed = parseMetricLines('METRIC 1x=2\nMETRIC val_loss: 3\nMETRICS are great\n');
    expect(parsed.values).toEqual({});
    expect(parsed.invalid).toEqual([{ name: '1x', raw: '2' }, { name: 'val_loss: 3', raw: '' }]);
  });

  it('keeps a metric called __proto__ as plain data', () => {
    const parsed = parseMetricLines('METRIC __proto__=1\n');
    expect(Object.getPrototypeOf(parsed.values)).toBe(Object.prototype);
    expect(Object.hasOwn(parsed.values, '__proto__')).toBe(true);
  });
});

describe('parseMetricsFile', () => {
  it('reads an object of numbers', () => {
    expect(parseMetricsFile('{"val_loss": 1.5e-2, "mem": 3}\n')).toEqual({ values: { val_loss: 0.015, mem: 3 }, duplicates: [], invalid: [] });
  });

  it('puts non-number values into invalid', () => {
    const parsed = parseMetricsFile('{"a": "0.5", "b": null, "c": {"mean": 1}, "d": [1], "e": true, "f": 2}');
    expect(parsed.values).toEqual({ f: 2 });
    expect(parsed.invalid).toEqual([
      { name: 'a', raw: '"0.5"' },
      { name: 'b', raw: 'null' },
      { name: 'c', raw: '{"mean":1}' },
      { name: 'd', raw: '[1]' },
      { name: 'e', raw: 'true' },
    ]);
  });

  it("reads Python's bare NaN and Infinity as invalid values, not as bad JSON", () => {
    const parsed = parseMetricsFile('{"val_loss": NaN, "b": -Infinity, "c": Infinity, "note": "NaN here", "d": 1}');
    expect(parsed.values).toEqual({ d: 1 });
    expect(parsed.invalid).toEqual([
      { name: 'val_loss', raw: 'NaN' },
      { name: 'b', raw: '-Infinity' },
      { name: 'c', raw: 'Infinity' },
      { name: 'note', raw: '"NaN here"' },
    ]);
  });

  it('finds a key written twice, which JSON.parse would silently collapse', () => {
    const parsed = parseMetricsFile('{"val_loss": 1, "nested": {"val_loss": 5}, "val_loss": 2}');
    expect(parsed.duplicates).toEqual(['val_loss']);
    expect(parsed.values).not.toHaveProperty('val_loss');
  });

  it('throws MetricsFileError for bad JSON and for non-objects', () => {
    expect(() => parseMetricsFile('{"val_loss": 0.1,')).toThrow(MetricsFileError);
    expect(() => parseMetricsFile('{"val_loss": 0.1,')).toThrow(/AUTOLOOP_METRICS_FILE is not valid JSON/);
    expect(() => parseMetricsFile('[1, 2]')).toThrow(/holds an array, not a JSON object/);
    expect(() => parseMetricsFile('0.5')).toThrow(/holds a number/);
    expect(() => parseMetricsFile('null')).toThrow(/holds null/);
  });
});

describe('readMetrics', () => {
  const stdoutRun = (stdout: string) => ({ report: 'stdout' as const, stdout, fileText: null });
  const fileRun = (fileText: string | null, stdout = '') => ({ report: 'file' as const, stdout, fileText });

  it('accepts a valid primary metric from stdout', () => {
    expect(readMetrics(stdoutRun('METRIC val_loss=0.5\n'), REQUIRED)).toEqual({ ok: true, values: { val_loss: 0.5 }, source: 'stdout' });
  });

  it('accepts scientific notation', () => {
    const result = readMetrics(stdoutRun('METRIC val_loss=3.2e-5\n'), REQUIRED);
    expect(result).toEqual({ ok: true, values: { val_loss: 3.2e-5 }, source: 'stdout' });
  });

  it('rejects a missing primary metric with a reason that says what to print, and that there is no file, never 0', () => {
    const result = readMetrics(stdoutRun('training done\n'), REQUIRED);
    expect(result.ok).toBe(false);
    expect(result.values).toEqual({});
    expect(result).toMatchObject({
      source: 'stdout',
      reason: 'no metric "val_loss" on stdout: print a line "METRIC val_loss=<number>" (evaluate.report is stdout, so there is no $AUTOLOOP_METRICS_FILE to write; to report through a file, set evaluate.report: file)',
    });
  });

  it('rejects a duplicated primary metric', () => {
    const result = readMetrics(stdoutRun('METRIC val_loss=1\nMETRIC val_loss=0.1\n'), REQUIRED);
    expect(result).toMatchObject({ ok: false, values: {} });
    expect(!result.ok && result.reason).toBe('metric "val_loss" reported more than once on stdout: report it exactly once');
  });

  it.each([
    ['nan', 'is NaN'],
    ['-nan', 'is NaN'],
    ['inf', 'is infinite (inf)'],
    ['-Infinity', 'is infinite (-Infinity)'],
    ['1e400', 'is infinite (1e400)'],
    ['0,5', 'is not a number ("0,5")'],
  ])('rejects a primary metric printed as %s', (raw, description) => {
    const result = readMetrics(stdoutRun(`METRIC val_loss=${raw}\n`), REQUIRED);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toBe(`metric "val_loss" ${description}: print a line "METRIC val_loss=<number>" with a finite number`);
  });

  it('with report: stdout, never reads a file, whatever it holds', () => {
    const result = readMetrics({ report: 'stdout', stdout: 'METRIC val_loss=2\n', fileText: '{"val_loss": 0.1}' }, REQUIRED);
    expect(result).toEqual({ ok: true, values: { val_loss: 2 }, source: 'stdout' });
    const missing = readMetrics({ report: 'stdout', stdout: '', fileText: '{"val_loss": 0.1}' }, REQUIRED);
    expect(missing).toMatchObject({ ok: false, source: 'stdout' });
  });

  it('with report: file, reads the file and ignores stdout entirely, including a forged METRIC line', () => {
    const result = readMetrics(fileRun('{"val_loss": 0.9}', 'METRIC val_loss=0.0001\nMETRIC mem=1\n'), { primary: 'val_loss', guards: [] });
    expect(result).toEqual({ ok: true, values: { val_loss: 0.9 }, source: 'file' });
  });

  it('with report: file, does not fall back to stdout when the file lacks the metric, and says where it went', () => {
    const result = readMetrics(fileRun('{"other": 1}', 'METRIC val_loss=0.0001\n'), REQUIRED);
    expect(result).toMatchObject({ ok: false, source: 'file' });
    expect(!result.ok && result.reason).toBe(
      'no metric "val_loss" in $AUTOLOOP_METRICS_FILE: write {"val_loss": <number>} to $AUTOLOOP_METRICS_FILE; '
        + 'stdout has "METRIC val_loss=…", but evaluate.report is file, so METRIC lines are not read: set evaluate.report: stdout or write the file',
    );
  });

  it('with report: file, an absent, empty or blank file is no metric, whatever stdout printed', () => {
    for (const fileText of [null, '', ' \n']) {
      const result = readMetrics(fileRun(fileText, 'METRIC val_loss=2\n'), REQUIRED);
      expect(result).toMatchObject({ ok: false, values: {}, source: 'file' });
      expect(!result.ok && result.reason).toMatch(/^no metric "val_loss": write \{"val_loss": <number>\} to \$AUTOLOOP_METRICS_FILE \(the command left it empty\); stdout has "METRIC val_loss=…".*set evaluate.report: stdout or write the file$/);
    }
    const quiet = readMetrics(fileRun(null), REQUIRED);
    expect(!quiet.ok && quiet.reason).toBe('no metric "val_loss": write {"val_loss": <number>} to $AUTOLOOP_METRICS_FILE (the command left it empty)');
  });

  it('turns a bad JSON file into an invalid run, not an exception and not stdout', () => {
    const result = readMetrics(fileRun('{val_loss: 1}', 'METRIC val_loss=1\n'), REQUIRED);
    expect(result).toMatchObject({ ok: false, values: {}, source: 'file' });
    expect(!result.ok && result.reason).toMatch(/^\$AUTOLOOP_METRICS_FILE is not valid JSON \(.+\): write one JSON object/);
  });

  it('rejects NaN and duplicates written to the file', () => {
    const nan = readMetrics(fileRun('{"val_loss": NaN}'), REQUIRED);
    expect(!nan.ok && nan.reason).toBe('metric "val_loss" is NaN: write {"val_loss": <number>} to $AUTOLOOP_METRICS_FILE with a finite number');
    const twice = readMetrics(fileRun('{"val_loss": 1, "val_loss": 1}'), REQUIRED);
    expect(!twice.ok && twice.reason).toBe('metric "val_loss" reported more than once in $AUTOLOOP_METRICS_FILE: report it exactly once');
  });

  it('rejects a missing or invalid guard metric by name, keeping the valid values', () => {
    const required = { primary: 'val_loss', guards: ['peak_mem_mb', 'latency_ms'] };
    const result = readMetrics(stdoutRun('METRIC val_loss=0.5\nMETRIC latency_ms=inf\n'), required);
    expect(result.ok).toBe(false);
    expect(result.values).toEqual({ val_loss: 0.5 });
    expect(!result.ok && result.reason).toMatch(
      /^no guard metric "peak_mem_mb" on stdout: print a line "METRIC peak_mem_mb=<number>" \(.*\); guard metric "latency_ms" is infinite \(inf\): print a line "METRIC latency_ms=<number>" with a finite number$/,
    );
  });

  it('accepts the primary and guards together', () => {
    const result = readMetrics(stdoutRun('METRIC val_loss=0.5\nMETRIC peak_mem_mb=100\nMETRIC extra=nan\n'), { primary: 'val_loss', guards: ['peak_mem_mb'] });
    expect(result).toEqual({ ok: true, values: { val_loss: 0.5, peak_mem_mb: 100 }, source: 'stdout' });
  });

  it('hints at malformed METRIC lines when the primary is missing', () => {
    const result = readMetrics(stdoutRun('METRIC val-loss: 0.5\n'), REQUIRED);
    expect(!result.ok && result.reason).toMatch(/; also ignored 1 invalid metric: "val-loss: 0.5"$/);
  });

  it('does not mistake inherited object keys for reported metrics', () => {
    const result = readMetrics(stdoutRun('METRIC val_loss=1\n'), { primary: 'toString', guards: ['constructor'] });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/^no metric "toString".*; no guard metric "constructor"/);
  });
});

describe('readMetrics with the metrics autoloop measures', () => {
  const measured = { wallMs: 1234.5, cpuMs: 980 };

  it('takes autoloop.wall_ms and autoloop.cpu_ms from what autoloop measured, and needs no report at all', () => {
    const result = readMetrics({ report: 'stdout', stdout: 'nothing to say\n', fileText: null, measured }, { primary: 'autoloop.wall_ms', guards: ['autoloop.cpu_ms'] });
    expect(result).toEqual({ ok: true, values: { 'autoloop.wall_ms': 1234.5, 'autoloop.cpu_ms': 980 }, source: 'stdout' });
    const byFile = readMetrics({ report: 'file', stdout: '', fileText: null, measured }, { primary: 'autoloop.cpu_ms', guards: [] });
    expect(byFile).toEqual({ ok: true, values: { 'autoloop.cpu_ms': 980 }, source: 'file' });
  });

  it('mixes measured and reported metrics, adding only the measured ones the config names', () => {
    const result = readMetrics({ report: 'stdout', stdout: 'METRIC accuracy=0.9\n', fileText: null, measured }, { primary: 'autoloop.wall_ms', guards: ['accuracy'] });
    expect(result).toEqual({ ok: true, values: { accuracy: 0.9, 'autoloop.wall_ms': 1234.5 }, source: 'stdout' });
    const plain = readMetrics({ report: 'stdout', stdout: 'METRIC accuracy=0.9\n', fileText: null, measured }, { primary: 'accuracy', guards: [] });
    expect(plain.values).toEqual({ accuracy: 0.9 });
  });

  it.each([
    ['a METRIC line', { report: 'stdout' as const, stdout: 'METRIC autoloop.wall_ms=1\n', fileText: null }, 'on stdout'],
    ['a malformed METRIC line', { report: 'stdout' as const, stdout: 'METRIC autoloop.cpu_ms=fast\n', fileText: null }, 'on stdout'],
    ['the metrics file', { report: 'file' as const, stdout: '', fileText: '{"autoloop.wall_ms": 1}' }, 'in $AUTOLOOP_METRICS_FILE'],
  ])('refuses an evaluator that reports an autoloop.* metric itself, through %s', (_, input, where) => {
    const result = readMetrics({ ...input, measured }, { primary: 'autoloop.wall_ms', guards: [] });
    expect(result.ok).toBe(false);
    expect(result.values).not.toHaveProperty('autoloop.wall_ms');
    expect(!result.ok && result.reason).toMatch(new RegExp(`^the evaluator reported "autoloop\\.(wall|cpu)_ms" ${where.replace('$', '\\$')}: names autoloop\\.\\* are reserved, measured by autoloop itself`));
  });

  it('refuses a reserved name even when the config does not use it', () => {
    const result = readMetrics({ report: 'stdout', stdout: 'METRIC loss=1\nMETRIC autoloop.anything=2\n', fileText: null, measured }, { primary: 'loss', guards: [] });
    expect(!result.ok && result.reason).toMatch(/^the evaluator reported "autoloop.anything" on stdout/);
  });

  it('makes a run invalid when a measured metric it needs was not measured, never 0', () => {
    const noCpu = readMetrics({ report: 'stdout', stdout: '', fileText: null, measured: { wallMs: 10 } }, { primary: 'autoloop.cpu_ms', guards: [] });
    expect(noCpu).toMatchObject({ ok: false, values: {} });
    expect(!noCpu.ok && noCpu.reason).toMatch(/^metric "autoloop.cpu_ms" was not measured for this run: /);
    const nothing = readMetrics({ report: 'stdout', stdout: '', fileText: null }, { primary: 'autoloop.wall_ms', guards: [] });
    expect(nothing.ok).toBe(false);
  });
});
