import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/core/config/config-schema.js';
import { commandProgram, programFindings, scopeFindings, type ProgramLookup } from '../../../src/core/config/repository-checks.js';

const rules = (edit: string[], protect: string[] = []) => ({ edit, protect, alwaysProtect: ['.github/autoloop.yml', '.github/autoloop.md'] });

describe('scopeFindings', () => {
  const files = ['src/a.ts', 'src/b.ts', 'bench/run.mjs', 'params.json'];

  it('has nothing to say when a tracked file is editable', () => {
    expect(scopeFindings(files, rules(['src/**']))).toEqual([]);
  });

  it('refuses literal paths that match nothing, and warns of wildcards that match nothing yet', () => {
    expect(scopeFindings(files, rules(['param.json']))).toEqual([
      { level: 'error', key: 'scope.edit', message: 'no tracked file is editable (param.json): every proposal would be out of scope; list files that exist and are not protected' },
    ]);
    expect(scopeFindings(files, rules(['lib/**']))).toMatchObject([{ level: 'warning', message: expect.stringContaining('a proposal can only add new files there') }]);
  });

  it('warns of an edit pattern whose every match is protected', () => {
    expect(scopeFindings(files, rules(['bench/**', 'src/**'], ['bench/**']))).toEqual([
      { level: 'warning', key: 'scope.edit', message: 'bench/** matches only protected files (bench/run.mjs): it lets a proposal change nothing' },
    ]);
  });
});

describe('commandProgram', () => {
  it('finds the program after assignments and exec, and leaves shell-only words alone', () => {
    expect(commandProgram('node bench.mjs')).toBe('node');
    expect(commandProgram('NODE_ENV=production FOO=1 exec ./run.sh --fast')).toBe('./run.sh');
    expect(commandProgram('"python3" train.py')).toBe('python3');
    expect(commandProgram('cd sub && make')).toBeNull();
    expect(commandProgram('$RUNNER x')).toBeNull();
    expect(commandProgram('  ')).toBeNull();
  });
});

describe('programFindings', () => {
  const lookup: ProgramLookup = {
    fileExists: (path) => path === 'run.sh',
    onPath: (name) => ['node', 'python3', 'npm'].includes(name),
    pathNames: () => ['node', 'python3', 'npm'],
  };
  const config = (evaluate: Record<string, unknown>) =>
    configSchema.parse({ metric: { name: 'loss', goal: 'minimize' }, evaluate, scope: { edit: ['p.json'] }, proposer: { tune: { file: 'p.json', params: { x: { min: 0, max: 1 } } } } });

  it('names a program that is not on PATH, with the closest one, and a script that is not in the repository', () => {
    expect(programFindings(config({ command: 'nod bench.mjs', check: './missing.sh', setup: './run.sh' }), lookup)).toEqual([
      { level: 'error', key: 'evaluate.command', message: 'program "nod" is not on PATH; did you mean "node"?' },
      { level: 'error', key: 'evaluate.check', message: './missing.sh is not a file in the repository (the command runs from its root)' },
    ]);
    expect(programFindings(config({ command: 'zzqq' }), lookup)).toEqual([{ level: 'error', key: 'evaluate.command', message: 'program "zzqq" is not on PATH: install it, or give its path' }]);
    expect(programFindings(config({ command: 'npm run bench' }), lookup)).toEqual([]);
  });
});
