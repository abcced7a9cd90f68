import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateAction, validateWorkflow, type ValidationState } from '@action-validator/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ARTIFACTS,
  CONFIG_PATH,
  DISPATCH_INPUTS,
  parseProposalRunName,
  proposalRunName,
  RESULT_FILE,
  runBranch,
  WORKFLOW_FILE,
} from '../../src/core/protocol/protocol.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

const CI_WORKFLOW = '.github/workflows/ci.yml';
const APP_WORKFLOW = 'examples/workflows/autoloop.yml';
const LOOP_WORKFLOW = 'examples/workflows/autoloop-loop.yml';
const RELEASE_WORKFLOW = '.github/workflows/release.yml';
const WORKFLOWS = [CI_WORKFLOW, APP_WORKFLOW, LOOP_WORKFLOW, RELEASE_WORKFLOW];
/** How the README and the examples refer to the action until it is published. */
const ACTION_REF = 'OWNER/autoloop@v1';
/**
 * The actions the workflows use, pinned by commit SHA, each the release its comment names, on the node24 runtime
 * (their action.yml at that commit: `using: node24`): actions/checkout v7.0.1, actions/setup-node v7.0.0.
 */
const PINNED: Record<string, { sha: string; version: string }> = {
  'actions/checkout': { sha: '3d3c42e5aac5ba805825da76410c181273ba90b1', version: 'v7.0.1' },
  'actions/setup-node': { sha: '820762786026740c76f36085b0efc47a31fe5020', version: 'v7.0.0' },
};
const CHECKOUT = `actions/checkout@${PINNED['actions/checkout']!.sha}`;

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
  permissions?: Record<string, string>;
  'timeout-minutes'?: number;
  concurrency?: { group: string; 'cancel-in-progress': boolean | string };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean | string };
  jobs: Record<string, Job>;
}
interface ActionInput {
  description: string;
  required?: boolean;
  default?: string;
}
interface ActionMetadata {
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
}

const action = parse(read('action.yml')) as ActionMetadata;
const workflow = (path: string): Workflow => parse(read(path)) as Workflow;
const job = (path: string, name: string): Job => {
  const found = workflow(path).jobs[name];
  if (!found) throw new Error(`${path}: no job "${name}"`);
  return found;
};
const actionStep = (path: string, name: string): Step => {
  const step = job(path, name).steps.find((s) => s.uses === ACTION_REF);
  if (!step) throw new Error(`${path}: job "${name}" does not use ${ACTION_REF}`);
  return step;
};

/** The validator's errors as readable lines, so a failure says what is wrong where. */
function errorsOf(state: ValidationState): string[] {
  const lines: string[] = [];
  const walk = (errors: ValidationState['errors'], depth: number): void => {
    for (const error of errors) {
      const where = 'path' in error ? error.path : `line ${error.location?.line ?? '?'}`;
      lines.push(`${'  '.repeat(depth)}${where}: ${error.title}${error.detail ? ` (${error.detail})` : ''}`);
      if ('states' in error && error.states) for (const s of error.states) walk(s.errors, depth + 1);
    }
  };
  walk(state.errors, 0);
  return lines;
}

describe('action.yml', () => {
  it('is valid action metadata (validated as node20, which the validator knows; node24 is checked below)', () => {
    const text = read('action.yml');
    expect(text).toMatch(/^ {2}using: node24$/m);
    expect(errorsOf(validateAction(text.replace(/^( {2}using:) node24$/m, '$1 node20')))).toEqual([]);
  });

  it('runs the committed bundle on node24', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(existsSync(join(ROOT, 'dist/index.js'))).toBe(true);
    expect(JSON.parse(read('dist/package.json'))).toEqual({ type: 'module' });
    expect(read('dist/index.js').startsWith("import { createRequire as __autoloopCreateRequire } from 'node:module';")).toBe(true);
  });

  it('declares every input the action reads, and reads every input it declares', () => {
    const sources = readdirSync(join(ROOT, 'src/action')).filter((f) => f.endsWith('.ts'));
    const readNames = new Set<string>();
    for (const file of sources) {
      // core.getInput('x') and friends, and readInputs' `get('x')`.
      const text = read(`src/action/${file}`);
      for (const m of text.matchAll(/(?:(?<![.\w])get|\bget(?:Boolean|Multiline)?Input)\(\s*['"]([a-z][a-z-]*)['"]/g)) readNames.add(m[1]!);
    }
    expect([...readNames].filter((name) => !(name in action.inputs))).toEqual([]);
    // Before the action's runner exists there is nothing to compare.
    if (existsSync(join(ROOT, 'src/action/run.ts'))) {
      expect(Object.keys(action.inputs).filter((name) => !readNames.has(name))).toEqual([]);
    }
  });
});

describe.each(WORKFLOWS)('%s', (path) => {
  it('is a valid workflow', () => {
    expect(errorsOf(validateWorkflow(read(path)))).toEqual([]);
  });

  it('gives every job explicit permissions, and nothing at the top level beyond contents: read', () => {
    const w = workflow(path);
    expect(w.permissions === undefined || Object.keys(w.permissions).every((k) => k === 'contents')).toBe(true);
    for (const [name, j] of Object.entries(w.jobs)) {
      expect(j.permissions ?? w.permissions, `${path}: job ${name}`).toBeDefined();
    }
  });

  it('passes the action only inputs it declares, and always a mode', () => {
    for (const j of Object.values(workflow(path).jobs)) {
      // The published action, or this repository's own (`uses: ./…`, in CI).
      for (const step of j.steps.filter((s) => s.uses === ACTION_REF || s.uses?.startsWith('./'))) {
        const given = Object.keys(step.with ?? {});
        expect(given.filter((k) => !(k in action.inputs))).toEqual([]);
        expect(given).toContain('mode');
      }
    }
  });

  it('bounds every job with timeout-minutes, and pins the actions/ actions by commit SHA, the version in a comment', () => {
    const text = read(path);
    for (const [name, j] of Object.entries(workflow(path).jobs)) {
      expect(j['timeout-minutes'], `${path}: job ${name}`).toBeGreaterThan(0);
      expect(j['timeout-minutes'], `${path}: job ${name}`).toBeLessThanOrEqual(360);
      for (const step of j.steps.filter((s) => s.uses?.startsWith('actions/'))) {
        const [action, ref] = step.uses!.split('@') as [string, string];
        expect(PINNED[action], `${path}: job ${name}: ${step.uses} is not one of the pinned actions`).toBeDefined();
        expect(ref, `${path}: job ${name}`).toBe(PINNED[action]!.sha);
      }
    }
    for (const [action, { sha, version }] of Object.entries(PINNED)) {
      for (const line of text.split('\n').filter((l) => l.includes(`uses: ${action}@`))) expect(line.trim()).toBe(`- uses: ${action}@${sha} # ${version}`);
    }
  });
});

describe(CI_WORKFLOW, () => {
  it('runs .ci/run, which fails on a stale dist/, on Node 20 and 24', () => {
    const text = read(CI_WORKFLOW);
    expect(text).toMatch(/node: \[20, 24\]/);
    expect(job(CI_WORKFLOW, 'check').steps.map((s) => s.run)).toContain('bash .ci/run');
    expect(read('.ci/run')).toContain('git status --porcelain -- dist/');
  });

  it('runs the action itself with `uses: ./`: a bad input fails, mode loop runs the bundled example offline', () => {
    const action = job(CI_WORKFLOW, 'action');
    expect(action.permissions).toEqual({ contents: 'read' });
    expect(JSON.stringify(action)).not.toMatch(/secrets\./);
    expect(action.steps[0]).toMatchObject({ uses: CHECKOUT, with: { path: 'autoloop', 'persist-credentials': false } });
    const uses = action.steps.filter((s) => s.uses === './autoloop');
    expect(uses.map((s) => s.with)).toEqual([{ mode: 'bogus' }, { mode: 'loop', tag: 'ci-${{ github.run_id }}', experiments: 3, token: '' }]);
    const installs = action.steps.findIndex((s) => s.run?.includes('apt-get install -y -qq bubblewrap') && s.run.includes('kernel.apparmor_restrict_unprivileged_userns=0'));
    expect(installs).toBeGreaterThan(0);
    expect(installs).toBeLessThan(action.steps.indexOf(uses[1]!));
    expect(action.steps.some((s) => s.run?.includes('cp -R autoloop/examples/mlp/. .'))).toBe(true);
    // The last step checks what the action did, so that a step that did nothing still fails the job.
    expect(action.steps.at(-1)?.run).toContain('test "$BAD" = failure');
  });
});

describe(RELEASE_WORKFLOW, () => {
  it('releases from main outside forks: publishes the staged package with provenance, then moves the major tag', () => {
    const w = workflow(RELEASE_WORKFLOW);
    expect(w.on).toEqual({ push: { branches: ['main'] } });
    expect(job(RELEASE_WORKFLOW, 'release-please').if).toBe('${{ !github.event.repository.fork }}');
    const publish = job(RELEASE_WORKFLOW, 'publish');
    expect(publish.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    const runs = publish.steps.map((s) => s.run ?? '');
    const at = (text: string): number => runs.findIndex((r) => r.includes(text));
    expect(at('npm run check:install -- --tarball')).toBeGreaterThan(at('npm run release:pack'));
    expect(runs[at('npm publish')]).toMatch(/^npm publish "\$RUNNER_TEMP"\/package\/\*\.tgz --provenance --access public$/);
    expect(at('npm publish')).toBeGreaterThan(at('npm run check:install'));
    const tag = job(RELEASE_WORKFLOW, 'major-tag');
    expect(tag.permissions).toEqual({ contents: 'write' });
    expect(tag.steps.at(-1)?.run).toContain('git push -f origin "refs/tags/v$MAJOR"');
  });
});

describe(APP_WORKFLOW, () => {
  it('takes the inputs the App dispatches, and runs on pull requests', () => {
    const on = workflow(APP_WORKFLOW).on as {
      workflow_dispatch: { inputs: Record<string, { type: string; required: boolean }> };
      pull_request: unknown;
    };
    expect(Object.keys(on.workflow_dispatch.inputs).sort()).toEqual(['experiment', 'parent-sha', 'run']);
    for (const input of Object.values(on.workflow_dispatch.inputs)) expect(input).toMatchObject({ type: 'string', required: true });
    expect(on).toHaveProperty('pull_request');
  });

  it('proposes on dispatch from the run branch, with write access to contents and read access to the run pull request', () => {
    const propose = job(APP_WORKFLOW, 'propose');
    expect(propose.if).toBe("github.event_name == 'workflow_dispatch'");
    expect(propose.permissions).toEqual({ contents: 'write', 'pull-requests': 'read' });
    expect(propose.steps[0]).toMatchObject({
      uses: CHECKOUT,
      with: { ref: 'autoloop/${{ inputs.run }}/run', 'fetch-depth': 0 },
    });
    expect(actionStep(APP_WORKFLOW, 'propose').with).toEqual({
      mode: 'propose',
      run: '${{ inputs.run }}',
      experiment: '${{ inputs.experiment }}',
      'parent-sha': '${{ inputs.parent-sha }}',
    });
  });

  it('evaluates pull requests with a read-only token, no secrets and no stored credentials', () => {
    const evaluate = job(APP_WORKFLOW, 'evaluate');
    expect(evaluate.if).toMatch(/^github\.event_name == 'pull_request' && /);
    expect(evaluate.permissions).toEqual({ contents: 'read' });
    expect(JSON.stringify(evaluate)).not.toMatch(/secrets\./);
    expect(evaluate.steps[0]).toMatchObject({
      uses: CHECKOUT,
      with: { 'fetch-depth': 0, 'persist-credentials': false },
    });
    expect(actionStep(APP_WORKFLOW, 'evaluate').with).toEqual({ mode: 'evaluate' });
    expect(workflow(APP_WORKFLOW).permissions).toEqual({});
  });

  it('proposes each experiment once at a time, never cancelled, and experiments of one run side by side', () => {
    // Per experiment, not per run: the App proposes up to budget.parallel experiments at once, and a group keeps one
    // pending run only.
    expect(job(APP_WORKFLOW, 'propose').concurrency).toEqual({ group: 'autoloop-propose-${{ inputs.run }}-${{ inputs.experiment }}', 'cancel-in-progress': false });
    expect(workflow(APP_WORKFLOW).concurrency).toBeUndefined();
  });

  it("measures one head of a pull request at a time, and cancels only the run pull request's superseded measurement", () => {
    const { group, 'cancel-in-progress': cancel } = job(APP_WORKFLOW, 'evaluate').concurrency!;
    expect(group).toBe('autoloop-evaluate-${{ github.event.pull_request.number }}');
    // The App judges an experiment only from the run of the head it recorded: that run must never be cancelled. It
    // gates the run pull request's current head only, so there an older head's run is moot.
    const cancels = (baseRef: string): boolean => {
      const expression = /^\$\{\{ !startsWith\(github\.base_ref, '([^']+)'\) \}\}$/.exec(String(cancel));
      expect(expression, String(cancel)).not.toBeNull();
      return !baseRef.startsWith(expression![1]!);
    };
    expect(cancels(runBranch(12))).toBe(false);
    expect(cancels('main')).toBe(true);
  });
});

describe('the contract between the workflow, the action and the App (src/core/protocol)', () => {
  it('names the workflow file the App dispatches', () => {
    expect(APP_WORKFLOW.endsWith(`/${WORKFLOW_FILE}`)).toBe(true);
  });

  it('dispatches the inputs the App sends, and passes each to the action input of the same name', () => {
    const on = workflow(APP_WORKFLOW).on as { workflow_dispatch: { inputs: Record<string, unknown> } };
    expect(Object.keys(on.workflow_dispatch.inputs).sort()).toEqual(Object.values(DISPATCH_INPUTS).sort());
    const given = actionStep(APP_WORKFLOW, 'propose').with ?? {};
    for (const name of Object.values(DISPATCH_INPUTS)) {
      expect(action.inputs).toHaveProperty(name);
      expect(given[name]).toBe(`\${{ inputs.${name} }}`);
    }
  });

  it('titles a proposal run as the App parses it back', () => {
    const runName = (parse(read(APP_WORKFLOW)) as { 'run-name': string })['run-name'];
    // The workflow fills the template with the run and the experiment: the App must read the experiment back.
    const template = /format\('([^']*)', inputs\.run, inputs\.experiment\)/.exec(runName)?.[1];
    expect(template).toBe(proposalRunName('{0}', '{1}'));
    const title = template!.replace('{0}', '12').replace('{1}', '7');
    expect(parseProposalRunName(title)).toBe(7);
  });

  it('leaves no credential in any checkout where the repository\'s commands or an agent run, and sandboxes them', () => {
    // The action pushes with its own token for one `git push` (src/action/push.ts); a persisted credential in
    // .git/config would be readable by the agent and by setup/check/command.
    for (const [path, name] of [[APP_WORKFLOW, 'propose'], [APP_WORKFLOW, 'evaluate'], [LOOP_WORKFLOW, 'loop']] as const) {
      const steps = job(path, name).steps;
      expect(steps[0]?.with?.['persist-credentials'], `${path}: job ${name}`).toBe(false);
      const installs = steps.findIndex((s) => s.run?.includes('apt-get install -y -qq bubblewrap') && s.run.includes('kernel.apparmor_restrict_unprivileged_userns=0'));
      expect(installs, `${path}: job ${name} installs bubblewrap before the action`).toBeGreaterThan(0);
      expect(installs).toBeLessThan(steps.findIndex((s) => s.uses === ACTION_REF));
    }
  });

  it('checks the propose job out on the run branch the App creates', () => {
    expect(job(APP_WORKFLOW, 'propose').steps[0]?.with?.ref).toBe(runBranch('${{ inputs.run }}'));
  });

  it('defaults the action to the config path and result file the App reads', () => {
    expect(action.inputs.config?.default).toBe(CONFIG_PATH);
    expect(action.inputs['result-file']?.default).toBe(RESULT_FILE);
    for (const name of Object.values(ARTIFACTS)) expect(action.inputs.upload?.description).toContain(`\`${name}\``);
  });
});

describe(LOOP_WORKFLOW, () => {
  it('runs the loop with write access to contents and pull requests, and an optional token that starts CI', () => {
    const w = workflow(LOOP_WORKFLOW);
    expect(w.on).toHaveProperty('workflow_dispatch.inputs.experiments');
    expect(w.permissions).toEqual({});
    expect(job(LOOP_WORKFLOW, 'loop').permissions).toEqual({ contents: 'write', 'pull-requests': 'write' });
    expect(job(LOOP_WORKFLOW, 'loop').steps[0]).toMatchObject({ uses: CHECKOUT, with: { 'fetch-depth': 0 } });
    expect(actionStep(LOOP_WORKFLOW, 'loop').with).toMatchObject({
      mode: 'loop',
      token: '${{ secrets.AUTOLOOP_TOKEN || github.token }}',
    });
    expect(read(LOOP_WORKFLOW)).toMatch(/GITHUB_TOKEN does not start other workflows/);
  });

  it('runs one loop at a time and never cancels one', () => {
    expect(workflow(LOOP_WORKFLOW).concurrency).toEqual({ group: 'autoloop-loop', 'cancel-in-progress': false });
  });
});

describe('README', () => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('\n## GitHub Action\n'), readme.indexOf('\n## ', readme.indexOf('\n## GitHub Action\n') + 1));

  it('has a GitHub Action section listing every input and output of action.yml', () => {
    expect(section.length).toBeGreaterThan(100);
    for (const name of [...Object.keys(action.inputs), ...Object.keys(action.outputs)]) {
      expect(section, name).toContain(`| \`${name}\` |`);
    }
  });

  it('links both example workflows and shows the App one as it is in examples/workflows/autoloop.yml', () => {
    expect(section).toContain('(examples/workflows/autoloop.yml)');
    expect(section).toContain('(examples/workflows/autoloop-loop.yml)');
    const example = read(APP_WORKFLOW);
    expect(section).toContain(example.slice(example.indexOf('\nname: autoloop\n') + 1));
  });
});
