import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/config.js';
import { runInit, type Prompter } from '../../src/cli/init.js';
import type { CliIO } from '../../src/cli/main.js';
import { runCli } from '../fixtures/drivers/cli.js';
import { makeNodeRepo, makePythonRepo } from '../fixtures/init/repos.js';
import { gitSync, makeRepo } from '../fixtures/local/repo.js';

const CONFIG = '.github/autoloop.yml';
const INSTRUCTIONS = '.github/autoloop.md';
const WORKFLOW = '.github/workflows/autoloop.yml';

const read = (repo: string, path: string) => readFileSync(join(repo, path), 'utf8');

/** A prompter that answers from a list and records the questions. */
function scripted(answers: string[]): Prompter & { questions: string[] } {
  const questions: string[] = [];
  return {
    questions,
    ask: async (question) => {
      questions.push(question);
      return answers.shift() ?? '';
    },
    close: () => {},
  };
}

async function runInteractive(args: string[], cwd: string, prompter: Prompter) {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: { write: (t) => void (stdout += t), isTTY: true }, stderr: { write: (t) => void (stderr += t), isTTY: true }, cwd };
  const code = await runInit(args, io, { prompter });
  return { code, stdout, stderr };
}

describe('autoloop init', () => {
  it('--yes on a Node repository with params.json and a bench script writes three files that validate, measures, and prints the noise', async () => {
    const repo = makeNodeRepo();
    const result = await runCli(['init', '--yes'], repo);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const text = read(repo, CONFIG);
    const config = parseConfig(text, CONFIG);
    expect(config.metric).toMatchObject({ name: 'loss', goal: 'minimize' });
    expect(config.evaluate.command).toBe('node bench.mjs');
    expect(config.scope.edit).toEqual(['params.json']);
    expect(config.scope.protect).toEqual(['bench.mjs']);
    expect(config.proposer.kind).toBe('tune');
    expect(config.proposer.tune?.file).toBe('params.json');
    // Ranges around the current values: an integer stays an integer, a fraction below 1 stays below 1.
    expect(config.proposer.tune?.params).toEqual({
      learning_rate: { min: 0.001, max: 0.1, scale: 'log', type: 'float' },
      hidden_units: { min: 4, max: 64, scale: 'log', type: 'int' },
      momentum: { min: 0.09, max: 1, scale: 'log', type: 'float' },
    });
    // Every key is explained where it is written.
    expect(text).toMatch(/# The one number to improve/);
    expect(text).toContain('# now 0.01');

    expect(read(repo, INSTRUCTIONS)).toContain('minimize `loss`');
    const workflow = read(repo, WORKFLOW);
    expect(workflow).toContain('mode: propose');
    // The package names no repository, so the placeholder stays, and init says so.
    expect(workflow).toContain('uses: OWNER/autoloop@v1');
    expect(result.stdout).toContain('OWNER/autoloop@v1 is a placeholder');

    expect(result.stdout).toContain('evaluate.command: node bench.mjs (package.json script "bench", run without npm)');
    expect(result.stdout).toContain('metric:           loss, minimize (printed by bench.mjs)');
    expect(result.stdout).toContain(`Wrote ${CONFIG}`);
    expect(result.stdout).toContain(`${CONFIG} is valid.`);
    expect(result.stdout).toMatch(/Measuring HEAD \([0-9a-f]{7}\) against itself, 3 runs per side, to prove the evaluator works/);
    expect(result.stdout).toMatch(/loss = 1\.00\d+ \(mean of 6 runs; one run takes [\d.]+m?s\)/);
    expect(result.stdout).toMatch(/noise: CV [\d.]+% \(base\) and [\d.]+% \(head\) per run; paired differences vary by 0\.00\d+/);
    expect(result.stdout).toMatch(/smallest effect found 80% of the time with your settings, 3 to 8 runs per side \(sequential\): [\d.]+ \([\d.]+%\)/);
    expect(result.stdout).toContain('The evaluator works.');
    // The measurement leaves the user's working tree as it was, apart from the files written.
    expect(gitSync(repo, 'status', '--porcelain')).toBe('?? .github/');
  });

  it('never overwrites an existing config: --yes keeps it and says so, --force overwrites it', async () => {
    const repo = makeNodeRepo();
    const mine = 'metric: { name: loss, goal: minimize }\nevaluate: { command: node bench.mjs, repeats: 2 }\nscope: { edit: [params.json] }\nproposer: { kind: tune, tune: { file: params.json, params: { momentum: { min: 0, max: 1 } } } }\n';
    mkdirSync(join(repo, '.github'), { recursive: true });
    await writeFile(join(repo, CONFIG), mine);

    const kept = await runCli(['init', '--yes', '--no-measure'], repo);
    expect(kept.code).toBe(0);
    expect(read(repo, CONFIG)).toBe(mine);
    expect(kept.stdout).toContain(`Kept ${CONFIG}: it exists (--force overwrites it)`);
    expect(kept.stdout).toContain(`Wrote ${INSTRUCTIONS}`);
    // What is validated is the file on disk: the user's own.
    expect(kept.stdout).toContain(`${CONFIG} is valid.`);
    expect(kept.stdout).toContain('Not measured (--no-measure)');

    // A second run changes nothing at all.
    const again = await runCli(['init', '--yes', '--no-measure'], repo);
    expect(again.stdout).toContain(`${INSTRUCTIONS}: unchanged`);
    expect(again.stdout).toContain(`${WORKFLOW}: unchanged`);

    const forced = await runCli(['init', '--yes', '--force', '--no-measure'], repo);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`Overwrote ${CONFIG}`);
    expect(read(repo, CONFIG)).not.toBe(mine);
  });

  it('asks before overwriting on a terminal, and keeps the file unless told yes', async () => {
    const repo = makeNodeRepo({ [CONFIG]: 'metric: { name: loss, goal: minimize }\n' });
    // command, metric, goal, edit: the defaults; then "overwrite?": no.
    const prompter = scripted(['', '', '', '', 'n']);
    const result = await runInteractive(['--no-measure'], repo, prompter);
    expect(prompter.questions.slice(0, 4)).toEqual([
      'evaluate.command, the command that prints METRIC name=value [node bench.mjs]: ',
      'metric.name [loss]: ',
      'metric.goal, minimize or maximize [minimize]: ',
      'scope.edit, what a proposal may change (comma-separated globs) [params.json]: ',
    ]);
    expect(prompter.questions[4]).toBe(`${CONFIG} exists. Overwrite it? [y/N] `);
    expect(read(repo, CONFIG)).toBe('metric: { name: loss, goal: minimize }\n');
    expect(result.stdout).toContain(`Kept ${CONFIG}`);
    // The kept config is the one validated, and it is not valid: init says so, exit 3, the other files written.
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('evaluate');
    expect(existsSync(join(repo, INSTRUCTIONS))).toBe(true);
  });

  it('takes answers from the prompt, asking again after an invalid one', async () => {
    const repo = makeNodeRepo();
    const prompter = scripted(['node bench.mjs', 'loss', 'smaller', 'maximize', 'params.json, src/**']);
    const result = await runInteractive(['--no-measure'], repo, prompter);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('expected minimize or maximize');
    const config = parseConfig(read(repo, CONFIG), CONFIG);
    expect(config.evaluate.command).toBe('node bench.mjs');
    expect(config.metric.goal).toBe('maximize');
    expect(config.scope.edit).toEqual(['params.json', 'src/**']);
    expect(config.scope.protect).toEqual(['bench.mjs']);
  });

  it('refuses to guess on a non-terminal without --yes, naming --yes and the flags', async () => {
    const repo = makeNodeRepo();
    const result = await runCli(['init'], repo);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('not a terminal');
    expect(result.stderr).toContain('--yes');
    expect(result.stderr).toContain('--metric');
    expect(existsSync(join(repo, CONFIG))).toBe(false);
    // Every question answered by a flag: nothing left to ask.
    const flags = await runCli(['init', '--command', 'node bench.mjs', '--metric', 'loss', '--goal', 'minimize', '--edit', 'params.json', '--no-measure'], repo);
    expect(flags.code).toBe(0);
    expect(parseConfig(read(repo, CONFIG), CONFIG).evaluate.command).toBe('node bench.mjs');
  });

  it('leaves the parameter file alone when --edit does not include it: a model edits the code instead', async () => {
    const repo = makeNodeRepo();
    const result = await runCli(['init', '--yes', '--no-measure', '--edit', 'src/**'], repo);
    expect(result.code).toBe(0);
    const config = parseConfig(read(repo, CONFIG), CONFIG);
    expect(config.scope.edit).toEqual(['src/**']);
    expect(config.proposer.kind).toBe('llm');
    expect(result.stdout).toContain('proposer:         llm (params.json is outside scope.edit)');
    const bad = await runCli(['init', '--yes', '--edit', './src/**'], repo);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--edit: "./src/**" never matches');
  });

  it('warns when the evaluator is not committed, and the measurement says it is missing', async () => {
    const repo = makeNodeRepo();
    await writeFile(join(repo, 'bench2.mjs'), 'console.log("METRIC loss=1")\n');
    const result = await runCli(['init', '--yes', '--command', 'node bench2.mjs'], repo);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/Warning: bench2\.mjs is not committed: autoloop measures HEAD \([0-9a-f]{7}\), where it is missing; commit it first\./);
    expect(result.stderr).toContain('The evaluator does not work yet');
  });

  it('a Python-only repository gets a command placeholder and a clear message', async () => {
    const repo = makePythonRepo();
    const result = await runCli(['init', '--yes'], repo);
    // Nothing to measure yet: the files are written, and init says what to write before anything can be measured.
    expect(result.code).toBe(4);
    const config = parseConfig(read(repo, CONFIG), CONFIG);
    expect(config.evaluate.command).toBe('python3 eval.py');
    expect(config.scope.edit).toEqual(['src/**']);
    expect(config.scope.protect).toEqual(['eval.py']);
    expect(config.proposer.kind).toBe('llm');
    expect(read(repo, CONFIG)).toContain('# placeholder');
    expect(result.stdout).toContain('Python');
    expect(result.stderr).toContain('No evaluator found');
    expect(result.stderr).toContain('write eval.py so that it prints `METRIC score=<value>`');
    expect(result.stderr).toContain('autoloop eval --aa');
    expect(existsSync(join(repo, WORKFLOW))).toBe(true);
  });

  it('a Python evaluator is found and measured', async () => {
    const repo = makePythonRepo({ 'eval.py': 'import random\nprint("METRIC accuracy=0.75")\n' });
    const result = await runCli(['init', '--yes', '--no-measure'], repo);
    expect(result.code).toBe(0);
    const config = parseConfig(read(repo, CONFIG), CONFIG);
    expect(config.evaluate.command).toBe('python3 eval.py');
    expect(config.metric).toMatchObject({ name: 'accuracy', goal: 'maximize' });
  });

  it('a failing evaluator prints its error and what to fix; init exits 4 and keeps the files', async () => {
    const repo = makeNodeRepo({ 'bench.mjs': 'console.error("cannot open data/train.csv"); process.exit(2);\nconsole.log("METRIC loss=1");\n' });
    const result = await runCli(['init', '--yes'], repo);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('The evaluator does not work yet: baseline run 1: evaluate.command exited with code 2: cannot open data/train.csv');
    expect(result.stderr).toMatch(/\(log: \.autoloop\/eval\/[^/]+\/baseline-1\.log\)/);
    expect(result.stderr).toContain('Fix it so that `node bench.mjs` exits 0 and prints `METRIC loss=<value>`, commit, then run autoloop eval --aa');
    expect(existsSync(join(repo, CONFIG))).toBe(true);
    expect(existsSync(join(repo, WORKFLOW))).toBe(true);
  });

  it('runs the command once to find the metric when no METRIC line can be read from its files', async () => {
    const repo = makeRepo({
      'package.json': JSON.stringify({ name: 'x', scripts: { bench: 'node bench.mjs' } }),
      'bench.mjs': 'const name = ["through", "put"].join("");\nconsole.log(`METRIC ${name}=42`);\nconsole.log("METRIC " + "other=1");\n',
      'src/a.mjs': '',
    });
    const result = await runCli(['init', '--yes', '--no-measure'], repo);
    // --no-measure runs nothing: the metric is a placeholder.
    expect(parseConfig(read(repo, CONFIG), CONFIG).metric.name).toBe('score');
    await rm(join(repo, '.github'), { recursive: true });
    const probed = await runCli(['init', '--yes'], repo);
    expect(probed.stdout).toContain('Running `node bench.mjs` once to find its METRIC lines');
    expect(probed.stdout).toContain('metric:           throughput, maximize (printed by node bench.mjs, run once; also printed: other)');
    expect(probed.code).toBe(0);
    expect(result.code).toBe(0);
  });

  it('--action sets the action reference in the workflow, and a malformed one is refused', async () => {
    const repo = makeNodeRepo();
    const result = await runCli(['init', '--yes', '--no-measure', '--action', 'acme/autoloop@v2'], repo);
    expect(result.code).toBe(0);
    const workflow = read(repo, WORKFLOW);
    expect(workflow).not.toContain('uses: OWNER/autoloop@v1');
    expect(workflow.match(/uses: acme\/autoloop@v2/g)).toHaveLength(2);
    const bad = await runCli(['init', '--yes', '--action', 'not a ref'], makeNodeRepo());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--action expects owner/repo@ref');
  });

  it('is listed in the help', async () => {
    expect((await runCli(['--help'], makeNodeRepo())).stdout).toContain('autoloop init');
    const help = await runCli(['init', '--help'], makeNodeRepo());
    expect(help.stdout).toContain('--no-measure');
  });
});
