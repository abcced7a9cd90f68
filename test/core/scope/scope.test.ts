import { describe, expect, it } from 'vitest';
import { checkScope, describeViolations, type ScopeRules } from '../../../src/core/scope/scope.js';

const rules: ScopeRules = {
  edit: ['src/model/**', 'params.json'],
  protect: ['src/model/eval.js'],
  alwaysProtect: ['.github/autoloop.yml', '.github/autoloop.md'],
};

describe('checkScope', () => {
  it('accepts changes inside edit', () => {
    expect(checkScope([{ change: 'modified', path: 'params.json' }, { change: 'added', path: 'src/model/layer.js' }], rules)).toEqual([]);
  });

  it('rejects an edit outside scope.edit', () => {
    expect(checkScope([{ change: 'modified', path: 'README.md' }], rules)).toEqual([
      { path: 'README.md', change: 'modified', rule: 'outside-edit', pattern: 'src/model/**, params.json' },
    ]);
  });

  it('rejects a protected file even inside edit', () => {
    expect(checkScope([{ change: 'modified', path: 'src/model/eval.js' }], rules)).toEqual([
      { path: 'src/model/eval.js', change: 'modified', rule: 'protected', pattern: 'src/model/eval.js' },
    ]);
  });

  it('always protects .github/**, the config and the instructions', () => {
    const open: ScopeRules = { edit: ['**'], protect: [], alwaysProtect: ['autoloop.yml'] };
    const violations = checkScope(
      [
        { change: 'modified', path: '.github/workflows/ci.yml' },
        { change: 'modified', path: 'autoloop.yml' },
      ],
      open,
    );
    expect(violations.map((v) => [v.path, v.rule, v.pattern])).toEqual([
      ['.github/workflows/ci.yml', 'protected', '.github/**'],
      ['autoloop.yml', 'protected', 'autoloop.yml'],
    ]);
  });

  it('rejects deleting a file outside scope', () => {
    expect(checkScope([{ change: 'deleted', path: 'lib/util.js' }], rules)[0]).toMatchObject({ path: 'lib/util.js', change: 'deleted', rule: 'outside-edit' });
  });

  it('checks both ends of a rename', () => {
    const into = checkScope([{ change: 'renamed', oldPath: 'src/model/a.js', path: 'lib/a.js' }], rules);
    expect(into.map((v) => v.path)).toEqual(['lib/a.js']);
    const outOf = checkScope([{ change: 'renamed', oldPath: 'src/model/eval.js', path: 'src/model/eval2.js' }], rules);
    expect(outOf).toEqual([{ path: 'src/model/eval.js', change: 'renamed', rule: 'protected', pattern: 'src/model/eval.js' }]);
  });

  it('describes violations with the path and the rule', () => {
    const text = describeViolations(checkScope([{ change: 'modified', path: 'README.md' }, { change: 'modified', path: '.github/x' }], rules));
    expect(text).toBe('README.md (modified) is outside scope.edit (src/model/**, params.json); .github/x (modified) is protected by .github/**');
  });
});
