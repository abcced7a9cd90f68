import { readFileSync } from 'node:fs';
import { validateWorkflow } from '@action-validator/core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/core/config/config.js';
import { guessParamRange } from '../../../src/core/init/defaults.js';
import {
  ACTION_PLACEHOLDER,
  actionReference,
  isActionReference,
  renderConfig,
  renderInstructions,
  renderWorkflow,
  type InitChoices,
} from '../../../src/core/init/render.js';
import { failureAdvice, noiseSummary } from '../../../src/core/init/report.js';
import { readEdit, readGoal, readMetricName } from '../../../src/core/init/questions.js';

const TEMPLATE = readFileSync(fileURLToPath(new URL('../../../examples/workflows/autoloop.yml', import.meta.url)), 'utf8');

function choices(overrides: Partial<InitChoices> = {}): InitChoices {
  return {
    metric: { name: 'loss', goal: 'minimize', placeholder: false },
    evaluate: { command: 'node bench.mjs', placeholder: false, setup: null, check: null },
    scope: { edit: ['params.json'], protect: ['bench.mjs'] },
    tune: {
      file: 'params.json',
      params: { lr: guessParamRange(0.01), 'model.layers': guessParamRange(4), bias: guessParamRange(-0.2) },
      current: { lr: 0.01, 'model.layers': 4, bias: -0.2 },
    },
    instructions: '.github/autoloop.md',
    ...overrides,
  };
}

describe('renderConfig', () => {
  it('writes a config parseConfig accepts, with the tune ranges as chosen', () => {
    const config = parseConfig(renderConfig(choices()), '.github/autoloop.yml');
    expect(config.metric).toMatchObject({ name: 'loss', goal: 'minimize' });
    expect(config.evaluate).toMatchObject({ command: 'node bench.mjs', sequential: true, timeout: 300_000 });
    expect(config.scope).toEqual({ edit: ['params.json'], protect: ['bench.mjs'] });
    expect(config.proposer.tune?.params).toEqual({
      lr: { min: 0.001, max: 0.1, scale: 'log', type: 'float' },
      'model.layers': { min: 1, max: 16, scale: 'log', type: 'int' },
      bias: { min: -2, max: 2, scale: 'linear', type: 'float' },
    });
    expect(config.budget).toMatchObject({ experiments: 20, max_failures: 5 });
  });

  it('explains every key it writes in a comment', () => {
    const text = renderConfig(choices());
    for (const line of text.split('\n').filter((l) => /^\s*[a-z_]+:/.test(l) && !/^\s*(?:metric|evaluate|scope|proposer|budget|tune|params|edit|name|file):/.test(l))) {
      expect(line, line).toContain('#');
    }
    expect(text).toContain('# now 0.01');
  });

  it('without a parameter file asks a model, with the agent CLI commented out; a placeholder says so', () => {
    const text = renderConfig(choices({
      tune: null,
      metric: { name: 'score', goal: 'maximize', placeholder: true },
      evaluate: { command: 'python3 eval.py', placeholder: true, setup: null, check: 'python3 -m pytest -q' },
      scope: { edit: ['src/**'], protect: ['eval.py'] },
    }));
    const config = parseConfig(text, 'x.yml');
    expect(config.proposer).toMatchObject({ kind: 'llm', llm: { provider: 'openai', model: 'gpt-4.1-mini' } });
    expect(config.proposer.command).toBeUndefined();
    expect(text).toContain('#   run: claude -p');
    expect(text).toMatch(/command: python3 eval\.py +# placeholder/);
    expect(text).toMatch(/name: score +# placeholder/);
    expect(text).toContain('# check: python3 -m pytest -q');
    expect(config.evaluate.check).toBeUndefined();
  });

  it('with dependencies installs them in setup with the network on, and quotes what YAML would misread', () => {
    const text = renderConfig(choices({
      evaluate: { command: 'node bench.mjs --label "a: b" # not a comment', placeholder: false, setup: 'npm ci', check: null },
      scope: { edit: ['params.json', '*.config.js'], protect: [] },
      tune: { file: 'params.json', params: { 'yes': guessParamRange(3), '#x': guessParamRange(0.5) }, current: { yes: 3, '#x': 0.5 } },
    }));
    const config = parseConfig(text, 'x.yml');
    expect(config.evaluate).toMatchObject({ command: 'node bench.mjs --label "a: b" # not a comment', setup: 'npm ci', network: true });
    expect(config.scope).toEqual({ edit: ['params.json', '*.config.js'], protect: [] });
    expect(Object.keys(config.proposer.tune!.params)).toEqual(['yes', '#x']);
  });
});

describe('renderInstructions', () => {
  it('states the goal, what may change and what may not', () => {
    const text = renderInstructions(choices());
    expect(text).toContain('Goal: minimize `loss`, as `node bench.mjs` prints it (`METRIC loss=<value>`).');
    expect(text).toContain('You may change only: `params.json`.');
    expect(text).toContain('Never change: `bench.mjs`, `.github/**`');
  });
});

describe('renderWorkflow', () => {
  it('sets every `uses:` of the placeholder to the action and keeps the rest of the example as it is', () => {
    const text = renderWorkflow(TEMPLATE, 'acme/autoloop@0123456789abcdef0123456789abcdef01234567');
    expect(text).not.toMatch(/uses: OWNER\/autoloop@v1/);
    expect(text.match(/uses: acme\/autoloop@0123456789abcdef0123456789abcdef01234567/g)).toHaveLength(TEMPLATE.match(/uses: OWNER\/autoloop@v1/g)!.length);
    // Still a workflow GitHub accepts.
    expect(validateWorkflow(text).errors).toEqual([]);
    const workflow = parse(text) as { jobs: Record<string, unknown> };
    expect(Object.keys(workflow.jobs)).toEqual(['propose', 'evaluate']);
    expect(text.split('\n').slice(1).join('\n').replaceAll('acme/autoloop@0123456789abcdef0123456789abcdef01234567', ACTION_PLACEHOLDER)).toBe(TEMPLATE);
  });

  it('without an action keeps the placeholder and says to replace it', () => {
    const text = renderWorkflow(TEMPLATE, null);
    expect(text.split('\n')[0]).toContain(`replace ${ACTION_PLACEHOLDER} below`);
    expect(text).toContain(`uses: ${ACTION_PLACEHOLDER}`);
  });
});

describe('action references', () => {
  it('reads the repository package.json names, in npm\'s forms, as owner/repo@v<version>', () => {
    expect(actionReference({ version: '1.2.0', repository: 'github:acme/autoloop' })).toBe('acme/autoloop@v1.2.0');
    expect(actionReference({ version: '1.2.0', repository: 'acme/autoloop' })).toBe('acme/autoloop@v1.2.0');
    expect(actionReference({ version: '1.2.0', repository: { type: 'git', url: 'git+https://github.com/acme/autoloop.git' } })).toBe('acme/autoloop@v1.2.0');
    expect(actionReference({ version: '1.2.0', repository: 'git@github.com:acme/autoloop.git' })).toBe('acme/autoloop@v1.2.0');
    expect(actionReference({ version: '1.2.0', repository: 'https://gitlab.com/acme/autoloop' })).toBeNull();
    expect(actionReference({ version: '1.2.0' })).toBeNull();
  });

  it('accepts what `uses:` takes and refuses the rest', () => {
    expect(['acme/autoloop@v1', 'acme/autoloop@0123abc', 'acme/mono/actions/autoloop@main', './actions/autoloop'].every(isActionReference)).toBe(true);
    expect(['acme/autoloop', 'not a ref', 'acme/autoloop@v1; rm -rf /', '@v1'].some(isActionReference)).toBe(false);
  });
});

describe('questions', () => {
  it('reads goals, metric names and globs, and says what is wrong with a bad one', () => {
    expect(readGoal(' Max ')).toEqual({ ok: true, value: 'maximize' });
    expect(readGoal('lower')).toEqual({ ok: false, message: 'expected minimize or maximize, got "lower"' });
    expect(readMetricName('autoloop.wall_ms')).toEqual({ ok: true, value: 'autoloop.wall_ms' });
    expect(readMetricName('autoloop.wall')).toMatchObject({ ok: false });
    expect(readMetricName('val loss')).toMatchObject({ ok: false });
    expect(readEdit(['src/**, params.json', 'src/**'])).toEqual({ ok: true, value: ['src/**', 'params.json'] });
    expect(readEdit('./src/**')).toEqual({ ok: false, message: '"./src/**" never matches: paths have no leading "./" (write "src/**")' });
  });
});

describe('noiseSummary', () => {
  const config = parseConfig(renderConfig(choices()), 'x.yml');

  it('gives the value, each side\'s CV and the smallest effect the config\'s settings find', () => {
    const lines = noiseSummary(config, { baseline: [10, 10.2, 9.8], candidate: [10.1, 9.9, 10], runMs: [120, 100, 140, 110, 130, 90], verdict: 'no-change' });
    expect(lines[0]).toBe('loss = 10 (mean of 6 runs; one run takes 115ms)');
    expect(lines[1]).toMatch(/^noise: CV 2\.00% \(base\) and 1\.00% \(head\) per run; paired differences vary by 0\.2\d*$/);
    expect(lines[2]).toMatch(/^smallest effect found 80% of the time with your settings, 3 to 8 runs per side \(sequential\): [\d.]+ \([\d.]+%\); smaller gains are mostly missed$/);
    expect(lines).toHaveLength(3);
  });

  it('says a metric that did not vary is deterministic, and a false A/A verdict is one', () => {
    expect(noiseSummary(config, { baseline: [3, 3], candidate: [3, 3], runMs: [], verdict: 'no-change' })[2]).toContain('it is deterministic');
    expect(noiseSummary(config, { baseline: [1, 2, 3], candidate: [3, 4, 5], runMs: [], verdict: 'regressed' }).at(-1)).toContain('the A/A verdict was regressed, a false one');
    expect(noiseSummary(config, { baseline: [3], candidate: [3], runMs: [], verdict: 'no-change' })[1]).toContain('not estimated');
  });

  it('tells a failing evaluator what to print', () => {
    expect(failureAdvice('python3 eval.py', 'acc')).toBe('Fix it so that `python3 eval.py` exits 0 and prints `METRIC acc=<value>`, commit, then run autoloop eval --aa. The files init wrote are kept.');
    expect(failureAdvice('make', 'autoloop.wall_ms')).toContain('`make` exits 0, commit');
  });
});
