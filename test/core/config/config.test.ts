import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_HINT, ConfigError, configHash, formatConfigIssue, parseConfig, type ConfigIssue } from '../../../src/core/config/config.js';
import { CONFIG_SCHEMA_FILE, configJsonSchema } from '../../../src/core/config/json-schema.js';
import { loadConfigFile } from '../../../src/engine/config-file.js';
import { MAX_PARALLEL } from '../../../src/core/config/config-schema.js';

const fixtureDir = fileURLToPath(new URL('../../fixtures/config/', import.meta.url));
const fixture = (name: string): string => readFileSync(join(fixtureDir, name), 'utf8');

/** Parses text that must be invalid and returns the error. */
function configError(text: string, file: string): ConfigError {
  try {
    parseConfig(text, file);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected ${file} to be rejected`);
}

/** The single issue of an invalid fixture. */
function onlyIssue(name: string): ConfigIssue {
  const error = configError(fixture(name), name);
  expect(error.issues).toHaveLength(1);
  return error.issues[0]!;
}

// Small inline configs: the rest of a valid file around the part under test.
const VALID_REST = 'evaluate: { command: node eval.js }\nscope: { edit: [params.json] }\nproposer: { tune: { file: params.json, params: { lr: { min: 0.001, max: 1 } } } }\n';

describe('parseConfig: valid files', () => {
  it('fills every default of a minimal config', () => {
    const config = parseConfig(fixture('valid-minimal.yml'), 'valid-minimal.yml');
    expect(config.metric).toEqual({
      name: 'val_loss',
      goal: 'minimize',
      min_effect: { kind: 'absolute', value: 0 },
      suspicious_effect: { kind: 'relative', value: 0.5 },
    });
    expect(config.guards).toEqual([]);
    // `repeats` left out: sequential, at most max_repeats runs per side.
    expect(config.evaluate).toEqual({ command: 'node eval.js', timeout: 300_000, repeats: 8, max_repeats: 8, sequential: true, report: 'stdout', baseline: 'paired', env: [], network: false, confirm: true });
    expect(config.scope).toEqual({ edit: ['params.json'], protect: [] });
    expect(config.proposer.kind).toBe('tune');
    expect(config.proposer.instructions).toBe('.github/autoloop.md');
    expect(config.proposer.tune?.params.lr).toEqual({ min: 0.0001, max: 1, scale: 'log', type: 'float' });
    expect(config.budget).toEqual({ experiments: 20, parallel: 1, max_failures: 5 });
    expect(config.review).toEqual({ reviewers: [], approve_each: false });
    expect(config.sandbox).toBe('auto');
  });

  it('reads durations as milliseconds and effects as {kind, value}', () => {
    const config = parseConfig(fixture('valid-full.yml'), 'valid-full.yml');
    expect(config.metric.min_effect).toEqual({ kind: 'relative', value: 0.01 });
    expect(config.guards).toEqual([{ name: 'peak_mem_mb', goal: 'minimize', max_regression: { kind: 'relative', value: 0.1 } }]);
    expect(config.evaluate).toEqual({ command: 'node eval.js', setup: 'npm ci', check: 'npm test', timeout: 300_000, repeats: 3, max_repeats: 8, sequential: false, report: 'stdout', baseline: 'paired', env: [], network: false, confirm: true });
    expect(config.scope).toEqual({ edit: ['src/model/**', 'params.json'], protect: ['eval/**'] });
    expect(config.budget).toEqual({ experiments: 20, parallel: 1, max_failures: 5, wall_time: 28_800_000 });
    expect(config.review).toEqual({ reviewers: ['octocat'], approve_each: true });
    expect(config.proposer.tune).toEqual({
      file: 'params.json',
      params: {
        lr: { min: 0.0001, max: 1, scale: 'log', type: 'float' },
        hidden: { min: 4, max: 64, scale: 'linear', type: 'int' },
        act: { choices: ['relu', 'tanh'] },
      },
      seed: 1,
      explore: 0.15,
    });
  });

  it('reads sandbox and evaluate.network, and rejects a sandbox it does not know', () => {
    const config = parseConfig(`metric: { name: acc, goal: maximize }\n${VALID_REST.replace('node eval.js', 'node eval.js, network: true')}sandbox: none\n`, 'x.yml');
    expect(config.sandbox).toBe('none');
    expect(config.evaluate.network).toBe(true);
    const issue = configError(`metric: { name: acc, goal: maximize }\n${VALID_REST}sandbox: docker\n`, 'y.yml').issues[0];
    expect(issue).toMatchObject({ file: 'y.yml', path: 'sandbox', line: 5 });
  });

  it('reads evaluate.report, stdout by default, and rejects a channel it does not know', () => {
    expect(parseConfig(`metric: { name: acc, goal: maximize }\n${VALID_REST}`, 'x.yml').evaluate.report).toBe('stdout');
    const byFile = parseConfig(`metric: { name: acc, goal: maximize }\n${VALID_REST.replace('node eval.js', 'node eval.js, report: file')}`, 'x.yml');
    expect(byFile.evaluate.report).toBe('file');
    const issue = configError(`metric: { name: acc, goal: maximize }\n${VALID_REST.replace('node eval.js', 'node eval.js, report: both')}`, 'y.yml').issues[0];
    expect(issue).toMatchObject({ file: 'y.yml', path: 'evaluate.report', line: 2, message: 'expected one of "stdout", "file", got "both"' });
  });

  it('accepts the metrics autoloop measures as the primary and as guards', () => {
    const config = parseConfig(
      `metric: { name: autoloop.wall_ms, goal: minimize }\nguards: [{ name: autoloop.cpu_ms, goal: minimize, max_regression: 10% }]\n${VALID_REST}`,
      'x.yml',
    );
    expect(config.metric.name).toBe('autoloop.wall_ms');
    expect(config.guards[0]!.name).toBe('autoloop.cpu_ms');
  });

  it('rejects an autoloop.* metric it does not measure, suggesting the closest and naming both', () => {
    const text = `metric: { name: autoloop.wall, goal: minimize }\nguards: [{ name: autoloop.cpu_time, goal: minimize }, { name: autoloop.memory, goal: minimize }]\n${VALID_REST}`;
    const issues = configError(text, 'x.yml').issues;
    expect(issues.map((issue) => [issue.path, issue.line])).toEqual([['metric.name', 1], ['guards[0].name', 2], ['guards[1].name', 2]]);
    const both = 'names autoloop.* are measured by autoloop, which measures only "autoloop.wall_ms" and "autoloop.cpu_ms"';
    expect(issues[0]!.message).toBe(`unknown autoloop metric "autoloop.wall": ${both}; did you mean "autoloop.wall_ms"?`);
    expect(issues[1]!.message).toBe(`unknown autoloop metric "autoloop.cpu_time": ${both}; did you mean "autoloop.cpu_ms"?`);
    expect(issues[2]!.message).toBe(`unknown autoloop metric "autoloop.memory": ${both}`);
  });

  it('takes an absolute effect and a number of seconds', () => {
    const config = parseConfig(`metric: { name: acc, goal: maximize, min_effect: 0.002 }\n${VALID_REST.replace('node eval.js', 'node eval.js, timeout: 90')}`, 'x.yml');
    expect(config.metric.min_effect).toEqual({ kind: 'absolute', value: 0.002 });
    expect(config.evaluate.timeout).toBe(90_000);
  });
});

describe('parseConfig: errors name the file, key and line', () => {
  it('rejects an unknown key at its own line and lists the allowed keys', () => {
    expect(onlyIssue('unknown-key.yml')).toEqual({
      file: 'unknown-key.yml',
      path: 'evaluate.colour',
      line: 6,
      message: 'unknown key "colour" (allowed: command, report, setup, check, score, timeout, repeats, max_repeats, baseline, env, network, load_sensitive, confirm)',
    });
  });

  it('suggests the key a misspelt one was meant to be', () => {
    const issue = onlyIssue('misspelt-key.yml');
    expect(issue).toMatchObject({ file: 'misspelt-key.yml', path: 'evaluate.tmeout', line: 7 });
    expect(issue.message).toBe('unknown key "tmeout"; did you mean "timeout"?');
  });

  it('says which type was expected and what it got', () => {
    expect(onlyIssue('wrong-type.yml')).toEqual({
      file: 'wrong-type.yml',
      path: 'evaluate.repeats',
      line: 6,
      message: 'expected auto or a whole number of runs per side from 1 to 100, got "abc"',
    });
  });

  it('caps budget.parallel where /optimize --parallel is capped', () => {
    const text = `metric: { name: loss, goal: minimize }\n${VALID_REST}budget: { parallel: ${MAX_PARALLEL + 1} }\n`;
    const issues = configError(text, 'p.yml').issues;
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'p.yml', path: 'budget.parallel', line: 5 });
    expect(parseConfig(text.replace(`parallel: ${MAX_PARALLEL + 1}`, `parallel: ${MAX_PARALLEL}`), 'p.yml').budget.parallel).toBe(MAX_PARALLEL);
  });

  it('rejects scope globs that can never match a repository path, or match more than they say, naming each', () => {
    const scope = (patterns: string) =>
      `metric: { name: loss, goal: minimize }\nevaluate: { command: node eval.js }\nscope: { edit: [params.json], protect: [${patterns}] }\nproposer: { tune: { file: params.json, params: { lr: { min: 0.001, max: 1 } } } }\n`;
    const messages = (patterns: string) => configError(scope(patterns), 's.yml').issues.map((issue) => `${issue.path}: ${issue.message}`);
    expect(messages('"src/[**"')).toEqual(['scope.protect[0]: "src/[**" has a "[" that is never closed (write \\[ for the character itself)']);
    expect(messages('"a/{b,c"')).toEqual(['scope.protect[0]: "a/{b,c" has a "{" that is never closed (write \\{ for the character itself)']);
    expect(messages('"../outside/**"')).toEqual(['scope.protect[0]: "../outside/**" leaves the repository: patterns are relative to its root, and ".." is not allowed']);
    expect(messages('"/etc/**"')).toEqual(['scope.protect[0]: "/etc/**" is absolute: patterns are relative to the repository root (write "etc/**")']);
    expect(messages('"./src/**"')).toEqual(['scope.protect[0]: "./src/**" never matches: paths have no leading "./" (write "src/**")']);
    expect(messages('"src/"')).toEqual(['scope.protect[0]: "src/" never matches a file: a folder and everything in it is "src/**"']);
    expect(messages('"src\\\\data.csv"')).toEqual(['scope.protect[0]: "src\\data.csv" has a backslash: paths use "/" (write "src/data.csv")']);
    expect(messages('"!data/**"')).toEqual(['scope.protect[0]: "!data/**" is a negation, which matches every other path: list the paths themselves']);
    expect(messages('"a", "b/../c"')).toEqual(['scope.protect[1]: "b/../c" leaves the repository: patterns are relative to its root, and ".." is not allowed']);
    // Escaped characters, a well-formed class and braces are fine.
    expect(parseConfig(scope('"data/\\\\[raw\\\\].csv", "src/[ab]/**", "lib/{x,y}.js"'), 's.yml').scope.protect).toEqual(['data/\\[raw\\].csv', 'src/[ab]/**', 'lib/{x,y}.js']);
  });

  it('refuses a tune file the scope does not let a proposal change, at the line of tune.file', () => {
    const config = (scope: string) =>
      `metric: { name: loss, goal: minimize }\nevaluate: { command: node eval.js }\nscope: ${scope}\nproposer:\n  tune:\n    file: conf/params.json\n    params: { lr: { min: 0.001, max: 1 } }\n`;
    expect(configError(config('{ edit: [src/**] }'), 't.yml').issues).toEqual([
      {
        file: 't.yml',
        path: 'proposer.tune.file',
        line: 6,
        message: 'conf/params.json is outside scope.edit (src/**): every experiment would be out of scope; add it to scope.edit',
      },
    ]);
    expect(configError(config('{ edit: [conf/**], protect: [conf/*.json] }'), 't.yml').issues).toMatchObject([
      { path: 'proposer.tune.file', line: 6, message: 'conf/params.json is protected (by conf/*.json): no proposal may change it; take it out of scope.protect' },
    ]);
    expect(configError(config('{ edit: ["**"] }').replace('conf/params.json', '.github/params.json'), 't.yml').issues).toMatchObject([
      { path: 'proposer.tune.file', message: '.github/params.json is protected (by .github/**): no proposal may change it; move it out of .github/' },
    ]);
    expect(configError(config('{ edit: ["**"] }').replace('conf/params.json', '../params.json'), 't.yml').issues).toMatchObject([
      { path: 'proposer.tune.file', message: '../params.json is outside the repository: give its path from the repository root' },
    ]);
    expect(parseConfig(config('{ edit: [conf/**] }'), 't.yml').proposer.tune!.file).toBe('conf/params.json');
  });

  it('reports a missing required key at the line of the mapping that lacks it', () => {
    const issue = onlyIssue('missing-metric-name.yml');
    expect(issue).toMatchObject({ file: 'missing-metric-name.yml', path: 'metric.name', line: 2 });
    expect(issue.message).toContain('missing required key "name"');
    expect(issue.message).toContain('expected a string');
  });

  it('lists the allowed values of an enum', () => {
    expect(onlyIssue('bad-goal.yml')).toEqual({
      file: 'bad-goal.yml',
      path: 'metric.goal',
      line: 3,
      message: 'expected one of "minimize", "maximize", got "minimise"',
    });
  });

  it('gives one plain message per bad duration, whatever its type', () => {
    const error = configError(fixture('bad-duration.yml'), 'bad-duration.yml');
    expect(error.issues).toEqual([
      { file: 'bad-duration.yml', path: 'evaluate.timeout', line: 6, message: 'expected a duration such as 90s, 5m or 8h, got "5 minutes"' },
      { file: 'bad-duration.yml', path: 'budget.wall_time', line: 15, message: 'expected a duration such as 90s, 5m or 8h, got a list' },
    ]);
  });

  it('reports a YAML syntax error at the line where the problem starts', () => {
    const issue = onlyIssue('yaml-syntax.yml');
    expect(issue).toMatchObject({ file: 'yaml-syntax.yml', path: '', line: 5 });
    expect(issue.message).toContain('invalid YAML');
    expect(issue.message).toContain('never closed');
  });

  it('reports a duplicated key as a YAML error', () => {
    const [issue, ...rest] = configError(`metric: { name: a, goal: minimize }\nmetric: { name: b, goal: minimize }\n${VALID_REST}`, 'dup.yml').issues;
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ path: '', line: 2 });
    expect(issue?.message).toContain('unique');
  });

  it('rejects an empty file with a clear message', () => {
    expect(onlyIssue('empty.yml')).toEqual({
      file: 'empty.yml',
      path: '',
      line: null,
      message: 'the file is empty; expected a mapping with at least metric, evaluate and scope',
    });
    expect(configError('', 'blank.yml').issues[0]?.message).toContain('the file is empty');
  });

  it('rejects a file that is not a mapping', () => {
    const issue = configError('- metric\n- evaluate\n', 'list.yml').issues[0];
    expect(issue).toEqual({ file: 'list.yml', path: '', line: 1, message: 'expected a mapping with at least metric, evaluate and scope, got a list' });
  });

  it('rejects an unknown top-level key without suggesting a key that is already there', () => {
    const error = configError(`metric: { name: a, goal: minimize }\nmetrics: { name: b }\n${VALID_REST}`, 'top.yml');
    expect(error.issues).toEqual([
      { file: 'top.yml', path: 'metrics', line: 2, message: 'unknown key "metrics" (allowed: metric, guards, evaluate, scope, proposer, budget, review, sandbox)' },
    ]);
  });

  it('lists every problem, top to bottom, with list indexes in the path', () => {
    const text = [
      'metric: { name: val_loss, goal: minimize, min_effect: abc }',
      'guards:',
      '  - name: mem',
      '    gaol: minimize',
      'evaluate: { command: node eval.js, repeats: 0 }',
      'scope: { edit: [] }',
      'proposer: { tune: { file: params.json, params: { lr: { min: 0.001, max: 1 } } } }',
    ].join('\n');
    const error = configError(text, '.github/autoloop.yml');
    expect(error.issues.map(({ path, line }) => [path, line])).toEqual([
      ['metric.min_effect', 1],
      ['guards[0].goal', 3],
      ['guards[0].gaol', 4],
      ['evaluate.repeats', 5],
      ['scope.edit', 6],
    ]);
    const messages = error.issues.map((issue) => issue.message);
    expect(messages[0]).toBe('expected an effect such as 1% or 0.002, got "abc"');
    expect(messages[1]).toBe('missing required key "goal" (expected "minimize" or "maximize")');
    expect(messages[2]).toBe('unknown key "gaol"; did you mean "goal"?');
    expect(messages[3]).toBe('expected a number >= 1, got number 0');
    expect(messages[4]).toBe('expected at least 1 entry, got an empty list');
  });

  it('gives one message for a tune parameter that matches neither a range nor choices', () => {
    const text = [
      'metric: { name: val_loss, goal: minimize }',
      'evaluate: { command: node eval.js }',
      'scope: { edit: [params.json] }',
      'proposer:',
      '  tune:',
      '    file: params.json',
      '    params:',
      '      lr: { min: 0.001 }',
      '      act: { choice: [relu, tanh] }',
      '      depth: 5',
      '      "model.width": { min: 0, max: 1, scale: log }',
    ].join('\n');
    expect(configError(text, 'tune.yml').issues).toEqual([
      { file: 'tune.yml', path: 'proposer.tune.params.lr.max', line: 8, message: 'missing required key "max" (expected a number)' },
      { file: 'tune.yml', path: 'proposer.tune.params.act.choice', line: 9, message: 'unknown key "choice"; did you mean "choices"?' },
      { file: 'tune.yml', path: 'proposer.tune.params.depth', line: 10, message: 'expected a mapping, got number 5' },
      { file: 'tune.yml', path: 'proposer.tune.params["model.width"].min', line: 11, message: 'expected min > 0 with scale: log' },
    ]);
  });

  it('formats the message as FILE:LINE: PATH: MESSAGE and ends with a hint', () => {
    const error = configError(fixture('bad-goal.yml'), '.github/autoloop.yml');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.file).toBe('.github/autoloop.yml');
    expect(error.message.split('\n')).toEqual([
      '.github/autoloop.yml:3: metric.goal: expected one of "minimize", "maximize", got "minimise"',
      CONFIG_HINT,
    ]);
    // The path is the user's: the package's schema in their node_modules, not this repository's schema/.
    expect(CONFIG_HINT).toContain('node_modules/@autoloop-dev/autoloop/schema/autoloop.schema.json');
  });

  it('leaves out the line when it is unknown and the path when it is empty', () => {
    expect(formatConfigIssue({ file: 'a.yml', path: '', line: null, message: 'm' })).toBe('a.yml: m');
    expect(formatConfigIssue({ file: 'a.yml', path: 'scope', line: null, message: 'm' })).toBe('a.yml: scope: m');
    expect(formatConfigIssue({ file: 'a.yml', path: '', line: 4, message: 'm' })).toBe('a.yml:4: m');
  });
});

describe('configHash', () => {
  it('is the sha256 of the text', () => {
    expect(configHash('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(configHash('metric: {}\n')).toMatch(/^[0-9a-f]{64}$/);
    expect(configHash('metric: {}\n')).not.toBe(configHash('metric: {} \n'));
  });
});

describe('loadConfigFile', () => {
  it('returns the config, the exact text and the display name', async () => {
    const path = join(fixtureDir, 'valid-full.yml');
    const loaded = await loadConfigFile(path, '.github/autoloop.yml');
    expect(loaded.file).toBe('.github/autoloop.yml');
    expect(loaded.text).toBe(fixture('valid-full.yml'));
    expect(loaded.config.evaluate.repeats).toBe(3);
  });

  it('names the file in validation errors', async () => {
    const error = await loadConfigFile(join(fixtureDir, 'bad-goal.yml')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatchObject({ file: join(fixtureDir, 'bad-goal.yml'), path: 'metric.goal', line: 3 });
  });

  it('says what to do when the file is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'autoloop-config-'));
    const error = await loadConfigFile(join(dir, 'autoloop.yml'), '.github/autoloop.yml').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message } = error as ConfigError;
    expect(issues).toEqual([{ file: '.github/autoloop.yml', path: '', line: null, message: expect.stringContaining('not found') }]);
    expect(message).toMatch(/^\.github\/autoloop\.yml: config file not found; create it/);
    expect(message).toContain('autoloop validate');
    expect(message).toContain('README');
  });
});

describe('JSON Schema', () => {
  it('is committed and up to date', () => {
    const committed: unknown = JSON.parse(readFileSync(fileURLToPath(new URL(`../../../${CONFIG_SCHEMA_FILE}`, import.meta.url)), 'utf8'));
    expect(committed, `${CONFIG_SCHEMA_FILE} is stale: run \`npm run schema\` and commit the result`).toEqual(configJsonSchema());
  });

  it('describes what a user writes, strictly', () => {
    const schema = configJsonSchema() as Record<string, unknown> & { properties: Record<string, { properties?: Record<string, unknown> }> };
    // No URL serves it: a config names it by its path in node_modules.
    expect(schema).not.toHaveProperty('$id');
    expect(schema.title).toContain('autoloop');
    expect(schema.required).toEqual(['metric', 'evaluate', 'scope']);
    expect(schema.additionalProperties).toBe(false);
    // Input side: a duration is the text the user writes, not the milliseconds it becomes.
    expect(schema.properties.evaluate?.properties?.timeout).toMatchObject({ default: '5m', type: ['string', 'number'] });
  });
});

describe('parseConfig: evaluate.confirm', () => {
  const withConfirm = (value: string) => `metric: { name: loss, goal: minimize }\nevaluate: { command: node eval.js, confirm: ${value} }\nscope: { edit: [params.json] }\nproposer: { tune: { file: params.json, params: { lr: { min: 0.001, max: 1 } } } }\n`;

  it('takes true, false or a number of runs per side', () => {
    expect(parseConfig(withConfirm('false'), 'a.yml').evaluate.confirm).toBe(false);
    expect(parseConfig(withConfirm('5'), 'a.yml').evaluate.confirm).toBe(5);
  });

  it('refuses zero runs or a word, naming the key', () => {
    for (const value of ['0', 'sometimes', '1.5']) {
      const error = configError(withConfirm(value), 'a.yml');
      expect(error.message).toContain('evaluate.confirm');
    }
  });
});

